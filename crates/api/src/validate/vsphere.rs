//! vSphere: VSphereDatacenterConfig, VSphereMachineConfig and the static checks of the vSphere
//! provider that look at several objects (those that need vCenter are the provider's).

use super::host_os::host_os_configuration;
use super::syntax::is_ip;
use super::*;

/// `/<datacenter>/network` as Go's `filepath.Join` writes it.
fn network_prefix(datacenter: &str) -> String {
    let joined = format!("/{datacenter}/network");
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A VSphereDatacenterConfig: server, datacenter and network set, the network (and each failure
/// domain's) under `/<datacenter>/network`, failure domains complete. Run the defaults first:
/// they turn a relative network name into that path.
pub fn vsphere_datacenter(d: &VSphereDatacenterConfig) -> Vec<Violation> {
    let id = object_id(d);
    let mut out = Vec::new();
    let default_spec = VSphereDatacenterConfigSpec::default();
    let spec = d.spec.as_ref().unwrap_or(&default_spec);
    let datacenter = s(&spec.datacenter);
    if s(&spec.server).is_empty() {
        out.push(
            Violation::new(
                &id,
                "spec.server",
                "VSphereDatacenterConfig server is not set or is empty",
            )
            .with_hint("set the vCenter host name or IP"),
        );
    }
    if datacenter.is_empty() {
        out.push(Violation::new(
            &id,
            "spec.datacenter",
            "VSphereDatacenterConfig datacenter is not set or is empty",
        ));
    }
    let network = s(&spec.network);
    let prefix = network_prefix(datacenter);
    if network.is_empty() {
        out.push(Violation::new(
            &id,
            "spec.network",
            "VSphereDatacenterConfig VM network is not set or is empty",
        ));
    } else if !network.starts_with(&prefix) {
        out.push(
            Violation::new(
                &id,
                "spec.network",
                format!("invalid path, expected path [{network}] to be under [{prefix}]"),
            )
            .with_hint(format!("write the network as {prefix}/<name>")),
        );
    }
    for (i, fd) in list(&spec.failure_domains).iter().enumerate() {
        let path = format!("spec.failureDomains[{i}]");
        let name = s(&fd.name);
        let fields = [
            ("name", s(&fd.name)),
            ("computeCluster", s(&fd.compute_cluster)),
            ("resourcePool", s(&fd.resource_pool)),
            ("datastore", s(&fd.datastore)),
            ("folder", s(&fd.folder)),
            ("network", s(&fd.network)),
        ];
        for (field, value) in fields {
            if value.is_empty() {
                let message = if field == "name" {
                    "name is not set or is empty in FailureDomain".to_string()
                } else {
                    format!("{field} is not set or is empty in the FailureDomain: {name}")
                };
                out.push(Violation::new(&id, format!("{path}.{field}"), message));
            }
        }
        let fd_network = s(&fd.network);
        if !fd_network.is_empty() && !fd_network.starts_with(&prefix) {
            out.push(Violation::new(
                &id,
                format!("{path}.network"),
                format!("invalid path, expected path [{fd_network}] to be under [{prefix}]"),
            ));
        }
    }
    out
}

/// A VSphereMachineConfig: datastore and resource pool set, a supported `osFamily`, the
/// Bottlerocket user `ec2-user`, a valid `hostOSConfiguration`, and (an anywhere rule) a known
/// `cloneMode`. Run the defaults first (they set the OS family and users).
pub fn vsphere_machine(m: &VSphereMachineConfig) -> Vec<Violation> {
    let id = object_id(m);
    let name = m.name();
    let mut out = Vec::new();
    let default_spec = VSphereMachineConfigSpec::default();
    let spec = m.spec.as_ref().unwrap_or(&default_spec);
    if s(&spec.datastore).is_empty() {
        out.push(Violation::new(
            &id,
            "spec.datastore",
            format!("VSphereMachineConfig {name} datastore is not set or is empty"),
        ));
    }
    if s(&spec.resource_pool).is_empty() {
        out.push(Violation::new(
            &id,
            "spec.resourcePool",
            format!("VSphereMachineConfig {name} VM resourcePool is not set or is empty"),
        ));
    }
    let os = s(&spec.os_family);
    if !matches!(os, "bottlerocket" | "ubuntu" | "redhat") {
        out.push(
            Violation::new(
                &id,
                "spec.osFamily",
                format!(
                    "VSphereMachineConfig {name} osFamily: {os} is not supported, please use one of the following: \
                     bottlerocket, ubuntu, redhat"
                ),
            )
            .with_hint("use bottlerocket, ubuntu or redhat"),
        );
    }
    if os == "bottlerocket"
        && let Some(user) = list(&spec.users).first()
        && s(&user.name) != "ec2-user"
    {
        out.push(
            Violation::new(
                &id,
                "spec.users[0].name",
                format!(
                    "users[0].name {} is invalid. Please use 'ec2-user' for Bottlerocket",
                    s(&user.name)
                ),
            )
            .with_hint("Bottlerocket only has the ec2-user login"),
        );
    }
    if let Some(h) = &spec.host_os_configuration {
        out.extend(host_os_configuration(
            h,
            os,
            &id,
            "spec.hostOSConfiguration",
            &format!("HostOSConfiguration is invalid for VSphereMachineConfig {name}: "),
        ));
    }
    let clone_mode = s(&spec.clone_mode);
    if !matches!(clone_mode, "" | "linkedClone" | "fullClone") {
        out.push(
            Violation::new(
                &id,
                "spec.cloneMode",
                format!(
                    "cloneMode {clone_mode} is not supported for VSphereMachineConfig {name}. Supported clone modes: \
                     [linkedClone, fullClone]"
                ),
            )
            .with_hint("use linkedClone or fullClone, or leave it out"),
        );
    }
    out
}

/// The vSphere provider's static cluster checks: the endpoint is an IP, the control plane and
/// etcd machine configs have no `networks`, all machine configs share the OS family (with
/// external etcd), and each worker group names at most one of the datacenter's failure domains.
pub fn vsphere_cluster(set: &ConfigSet) -> Vec<Violation> {
    let c = &set.cluster;
    let id = object_id(c);
    let mut out = Vec::new();
    let host = control_plane(c)
        .and_then(|cp| cp.endpoint.as_ref())
        .map(|e| s(&e.host))
        .unwrap_or("");
    if !host.is_empty() && !is_ip(host) {
        out.push(
            Violation::new(
                &id,
                "spec.controlPlaneConfiguration.endpoint.host",
                format!("cluster controlPlaneConfiguration.Endpoint.Host is invalid: {host}"),
            )
            .with_hint("on vSphere the endpoint is a free IP address kube-vip will claim"),
        );
    }
    let machine = |r: Option<&Ref>| r.and_then(|r| set.get::<VSphereMachineConfig>(s(&r.name)));
    let cp_machine = machine(control_plane(c).and_then(|cp| cp.machine_group_ref.as_ref()));
    let etcd = spec(c).and_then(|s| s.external_etcd_configuration.as_ref());
    let etcd_machine = machine(etcd.and_then(|e| e.machine_group_ref.as_ref()));
    for (m, role) in [(cp_machine, "control plane"), (etcd_machine, "etcd")] {
        let Some(m) = m else { continue };
        if m.spec.as_ref().is_some_and(|s| !list(&s.networks).is_empty()) {
            let who = if role == "etcd" { "Etcd" } else { "Control plane" };
            out.push(
                Violation::new(
                    object_id(m),
                    "spec.networks",
                    format!(
                        "networks field is not supported for {role} machine config '{}'. {who} uses the datacenter \
                         network configuration",
                        m.name()
                    ),
                )
                .with_hint("networks only applies to worker machine configs"),
            );
        }
    }
    if etcd.is_some() {
        let families: Vec<&str> = machine_refs(c)
            .into_iter()
            .filter_map(|r| set.get::<VSphereMachineConfig>(s(&r.name)))
            .map(|m| {
                m.spec
                    .as_ref()
                    .map(|s| s.os_family.as_deref().unwrap_or(""))
                    .unwrap_or("")
            })
            .collect();
        if families.windows(2).any(|w| w[0] != w[1]) {
            out.push(
                Violation::new(
                    &id,
                    "spec",
                    "all VSphereMachineConfigs must have the same osFamily specified",
                )
                .with_hint("use one osFamily for control plane, etcd and workers"),
            );
        }
    }
    let dc = spec(c)
        .and_then(|s| s.datacenter_ref.as_ref())
        .and_then(|r| set.get::<VSphereDatacenterConfig>(s(&r.name)));
    let domains: Vec<&str> = dc
        .and_then(|d| d.spec.as_ref())
        .map(|sp| list(&sp.failure_domains).iter().map(|f| s(&f.name)).collect())
        .unwrap_or_default();
    if !domains.is_empty() {
        for (i, w) in workers(c).iter().enumerate() {
            let assigned = list(&w.failure_domains);
            let path = format!("spec.workerNodeGroupConfigurations[{i}].failureDomains");
            let name = s(&w.name);
            if assigned.len() > 1 {
                out.push(Violation::new(
                    &id,
                    &path,
                    format!(
                        "multiple failure domains provided in the worker node group: {name}. Please provide only one \
                         failure domain"
                    ),
                ));
            } else if let Some(fd) = assigned.first()
                && !domains.contains(&fd.as_str())
            {
                out.push(
                    Violation::new(
                        &id,
                        &path,
                        format!("provided invalid failure domain {fd} in the worker node group {name}"),
                    )
                    .with_hint(format!("use one of: {}", domains.join(", "))),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::messages;
    use crate::{Reading, parse_config_set};

    fn dc(spec: &str) -> VSphereDatacenterConfig {
        let text = format!("kind: VSphereDatacenterConfig\nmetadata: {{name: dc}}\nspec: {spec}\n");
        crate::document::decode(
            &crate::document::parse_value(&text, 1).expect("yaml"),
            crate::document::Fields::Strict,
        )
        .expect("decode")
    }

    fn machine(spec: &str) -> VSphereMachineConfig {
        let text = format!("kind: VSphereMachineConfig\nmetadata: {{name: m}}\nspec: {spec}\n");
        crate::document::decode(
            &crate::document::parse_value(&text, 1).expect("yaml"),
            crate::document::Fields::Strict,
        )
        .expect("decode")
    }

    #[test]
    fn datacenter_needs_server_datacenter_and_network_under_it() {
        assert!(
            vsphere_datacenter(&dc("{server: vc, datacenter: SDDC, network: /SDDC/network/vm}")).is_empty()
        );
        assert_eq!(
            messages(&vsphere_datacenter(&dc(
                "{datacenter: SDDC, network: /other/network/vm}"
            ))),
            [
                "VSphereDatacenterConfig server is not set or is empty",
                "invalid path, expected path [/other/network/vm] to be under [/SDDC/network]"
            ]
        );
        assert_eq!(
            messages(&vsphere_datacenter(&dc(
                "{server: vc, datacenter: d, network: /d/network/n, failureDomains: [{name: fd1, computeCluster: c, resourcePool: r, datastore: ds, folder: f}]}"
            ))),
            ["network is not set or is empty in the FailureDomain: fd1"]
        );
    }

    #[test]
    fn machine_checks_storage_os_family_user_and_clone_mode() {
        let ok = "{datastore: ds, resourcePool: rp, osFamily: bottlerocket, users: [{name: ec2-user}]}";
        assert!(vsphere_machine(&machine(ok)).is_empty());
        assert_eq!(
            messages(&vsphere_machine(&machine(
                "{osFamily: windows, cloneMode: instant}"
            ))),
            [
                "VSphereMachineConfig m datastore is not set or is empty",
                "VSphereMachineConfig m VM resourcePool is not set or is empty",
                "VSphereMachineConfig m osFamily: windows is not supported, please use one of the following: bottlerocket, ubuntu, redhat",
                "cloneMode instant is not supported for VSphereMachineConfig m. Supported clone modes: [linkedClone, fullClone]",
            ]
        );
        assert_eq!(
            messages(&vsphere_machine(&machine(
                "{datastore: ds, resourcePool: rp, osFamily: bottlerocket, users: [{name: capv}]}"
            ))),
            ["users[0].name capv is invalid. Please use 'ec2-user' for Bottlerocket"]
        );
    }

    #[test]
    fn cluster_checks_endpoint_networks_and_failure_domains() {
        let text = "apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata: {name: c}
spec:
  controlPlaneConfiguration:
    count: 1
    endpoint: {host: cp.example.com}
    machineGroupRef: {kind: VSphereMachineConfig, name: cp}
  datacenterRef: {kind: VSphereDatacenterConfig, name: dc}
  workerNodeGroupConfigurations:
  - {name: md-0, count: 1, machineGroupRef: {kind: VSphereMachineConfig, name: cp}, failureDomains: [nope]}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: VSphereDatacenterConfig
metadata: {name: dc}
spec: {failureDomains: [{name: fd1}]}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: VSphereMachineConfig
metadata: {name: cp}
spec: {networks: [/d/network/x]}
";
        let set = parse_config_set(text, Reading::Strict).expect("parse");
        assert_eq!(
            messages(&vsphere_cluster(&set)),
            [
                "cluster controlPlaneConfiguration.Endpoint.Host is invalid: cp.example.com",
                "networks field is not supported for control plane machine config 'cp'. Control plane uses the datacenter network configuration",
                "provided invalid failure domain nope in the worker node group md-0",
            ]
        );
    }
}

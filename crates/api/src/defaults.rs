//! Defaults, applied as EKS Anywhere applies them.
//!
//! Each defaulter is a named function that fills in one object; the `apply_*` functions run
//! them over a [`ConfigSet`] in the reference's order:
//! 1. [`apply_parse_time`]: what EKS Anywhere does right after reading a spec file (the Cluster,
//!    then the vSphere, CloudStack, AWSIamConfig and GitOps objects the Cluster uses);
//! 2. [`apply_providers`]: the Snow defaulters of the CLI's config manager and the Nutanix
//!    provider's;
//! 3. [`apply_cli`]: the create/upgrade command defaulters (skip-ip-check annotation,
//!    machine health checks) and namespaces.
//!
//! EKS Anywhere validates the whole file between steps 2 and 3, so a caller that wants its exact
//! verdicts runs `apply_parse_time`, `apply_providers`, `validate::config_set`, `apply_cli`;
//! [`apply_all`] runs the three steps in a row.
//!
//! Nothing here reads the environment or files: values EKS Anywhere reads from them (the
//! registry-mirror CA named by `EKSA_REGISTRY_MIRROR_CA`, the CLI flags) come in
//! [`DefaultsOptions`]. Only objects the Cluster uses are defaulted, as the reference drops the
//! others; namespaces are the exception and are set on every object.

use std::time::Duration;

use crate::config_set::ConfigSet;
use crate::generated::*;
use crate::meta::{IntOrString, Resource};

/// Default port of a registry mirror.
pub const REGISTRY_MIRROR_PORT: &str = "443";
/// Name given to the first worker group when it has none.
pub const FIRST_WORKER_GROUP_NAME: &str = "md-0";
/// Default KMS plugin cache size.
pub const KMS_CACHE_SIZE: i64 = 1000;
/// Default KMS plugin timeout.
pub const KMS_TIMEOUT: &str = "3s";
/// Namespace of objects that have none.
pub const NAMESPACE: &str = "default";
/// Annotation that skips the control-plane IP check.
pub const SKIP_IP_CHECK_ANNOTATION: &str = "anywhere.eks.amazonaws.com/skip-ip-check";

/// Machine-health-check values the CLI fills in where the spec has none (its
/// `--node-startup-timeout`, `--unhealthy-machine-timeout`, `--max-unhealthy` and
/// `--worker-max-unhealthy` flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineHealthCheckDefaults {
    /// How long a machine may take to join; 10m (20m on Tinkerbell when left at 10m).
    pub node_startup_timeout: Duration,
    /// How long a node may be unhealthy before it is replaced; 5m.
    pub unhealthy_machine_timeout: Duration,
    /// Top-level and control-plane `maxUnhealthy`; 100%.
    pub max_unhealthy: IntOrString,
    /// Worker `maxUnhealthy`; 40%.
    pub worker_max_unhealthy: IntOrString,
}

/// The node startup timeout the CLI uses unless told otherwise.
pub const NODE_STARTUP_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The node startup timeout on Tinkerbell, where machines boot over the network.
pub const TINKERBELL_NODE_STARTUP_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// The unhealthy machine timeout the CLI uses unless told otherwise.
pub const UNHEALTHY_MACHINE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

impl Default for MachineHealthCheckDefaults {
    fn default() -> Self {
        MachineHealthCheckDefaults {
            node_startup_timeout: NODE_STARTUP_TIMEOUT,
            unhealthy_machine_timeout: UNHEALTHY_MACHINE_TIMEOUT,
            max_unhealthy: IntOrString::String("100%".into()),
            worker_max_unhealthy: IntOrString::String("40%".into()),
        }
    }
}

/// Whether the CLI checks that the control-plane IP is free (its `--skip-ip-check` flag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ControlPlaneIpCheck {
    /// Check it (the default).
    #[default]
    Run,
    /// Skip it: the Cluster gets the skip-ip-check annotation.
    Skip,
}

/// What the defaulters need from outside the spec file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefaultsOptions {
    /// Content of the CA file named by `EKSA_REGISTRY_MIRROR_CA`, when that variable is set;
    /// used when `registryMirrorConfiguration.caCertContent` is empty.
    pub registry_mirror_ca: Option<String>,
    /// Machine-health-check values.
    pub machine_health_check: MachineHealthCheckDefaults,
    /// The control-plane IP check.
    pub control_plane_ip_check: ControlPlaneIpCheck,
}

/// Every defaulter the CLI runs, in the reference's order (see the module documentation).
pub fn apply_all(set: &mut ConfigSet, opts: &DefaultsOptions) {
    apply_parse_time(set, opts);
    apply_providers(set);
    apply_cli(set, opts);
}

/// The parse-time defaults (the reference's config-manager defaulters): the Cluster, then the
/// AWSIamConfig, GitOpsConfig, FluxConfig, vSphere and CloudStack objects the Cluster uses.
pub fn apply_parse_time(set: &mut ConfigSet, opts: &DefaultsOptions) {
    cluster(&mut set.cluster, opts);
    let c = set.cluster.clone();
    for name in used_names(&c, "AWSIamConfig") {
        if let Some(o) = set.get_mut::<AWSIamConfig>(&name) {
            aws_iam_config(o);
        }
    }
    for name in used_names(&c, "GitOpsConfig") {
        if let Some(o) = set.get_mut::<GitOpsConfig>(&name) {
            gitops_config(o);
            gitops_config_path(o, &c);
        }
    }
    for name in used_names(&c, "FluxConfig") {
        if let Some(o) = set.get_mut::<FluxConfig>(&name) {
            flux_config(o);
            flux_config_path(o, &c);
        }
    }
    for name in used_names(&c, "VSphereDatacenterConfig") {
        if let Some(o) = set.get_mut::<VSphereDatacenterConfig>(&name) {
            vsphere_datacenter(o);
        }
    }
    for name in used_names(&c, "VSphereMachineConfig") {
        if let Some(o) = set.get_mut::<VSphereMachineConfig>(&name) {
            vsphere_machine(o);
            vsphere_machine_users(o);
        }
    }
    for name in used_names(&c, "CloudStackDatacenterConfig") {
        if let Some(o) = set.get_mut::<CloudStackDatacenterConfig>(&name) {
            cloudstack_datacenter(o);
        }
    }
    for name in used_names(&c, "CloudStackMachineConfig") {
        if let Some(o) = set.get_mut::<CloudStackMachineConfig>(&name) {
            cloudstack_machine_users(o);
        }
    }
}

/// The provider defaulters that need no infrastructure: Snow (in the reference's config
/// manager) and Nutanix (in its provider) objects the Cluster uses.
pub fn apply_providers(set: &mut ConfigSet) {
    let c = set.cluster.clone();
    for name in used_names(&c, "SnowDatacenterConfig") {
        if let Some(o) = set.get_mut::<SnowDatacenterConfig>(&name) {
            snow_datacenter(o);
        }
    }
    for name in used_names(&c, "SnowMachineConfig") {
        if let Some(o) = set.get_mut::<SnowMachineConfig>(&name) {
            snow_machine(o);
        }
    }
    for name in used_names(&c, "NutanixDatacenterConfig") {
        if let Some(o) = set.get_mut::<NutanixDatacenterConfig>(&name) {
            nutanix_datacenter(o);
        }
    }
    for name in used_names(&c, "NutanixMachineConfig") {
        if let Some(o) = set.get_mut::<NutanixMachineConfig>(&name) {
            nutanix_machine(o);
        }
    }
}

/// The create/upgrade command defaulters: the skip-ip-check annotation, machine health checks,
/// then the `default` namespace on every object without one.
pub fn apply_cli(set: &mut ConfigSet, opts: &DefaultsOptions) {
    control_plane_ip_check(&mut set.cluster, opts.control_plane_ip_check);
    machine_health_checks(&mut set.cluster, &opts.machine_health_check);
    namespaces(set);
}

/// The names of the objects of `kind` the Cluster refers to directly, without repeats.
fn used_names(c: &Cluster, kind: &str) -> Vec<String> {
    let Some(spec) = &c.spec else { return Vec::new() };
    let mut refs: Vec<&Ref> = Vec::new();
    refs.extend(spec.datacenter_ref.as_ref());
    refs.extend(
        spec.control_plane_configuration
            .as_ref()
            .and_then(|cp| cp.machine_group_ref.as_ref()),
    );
    for w in spec.worker_node_group_configurations.iter().flatten() {
        refs.extend(w.machine_group_ref.as_ref());
    }
    refs.extend(
        spec.external_etcd_configuration
            .as_ref()
            .and_then(|e| e.machine_group_ref.as_ref()),
    );
    refs.extend(spec.git_ops_ref.as_ref());
    refs.extend(spec.identity_provider_refs.iter().flatten());
    let mut names: Vec<String> = Vec::new();
    for r in refs {
        if r.kind.as_deref() == Some(kind) {
            let name = r.name.clone().unwrap_or_default();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

fn is_empty(o: &Option<String>) -> bool {
    o.as_deref().unwrap_or("").is_empty()
}

// ---- Cluster ------------------------------------------------------------------------------

/// The Cluster's parse-time defaults, in the reference's order: registry mirror, worker groups,
/// CNI configuration, etcd encryption.
pub fn cluster(c: &mut Cluster, opts: &DefaultsOptions) {
    registry_mirror(c, opts.registry_mirror_ca.as_deref());
    worker_node_groups(c);
    cni_config(c);
    etcd_encryption(c);
}

/// A registry mirror without a port gets 443, and without CA content gets `ca` (the content of
/// the file named by `EKSA_REGISTRY_MIRROR_CA`) when it is non-empty.
pub fn registry_mirror(c: &mut Cluster, ca: Option<&str>) {
    let Some(m) = c
        .spec
        .as_mut()
        .and_then(|s| s.registry_mirror_configuration.as_mut())
    else {
        return;
    };
    if is_empty(&m.port) {
        m.port = Some(REGISTRY_MIRROR_PORT.into());
    }
    if let Some(ca) = ca.filter(|ca| !ca.is_empty())
        && is_empty(&m.ca_cert_content)
    {
        m.ca_cert_content = Some(ca.into());
    }
}

/// The first worker group, when unnamed, becomes `md-0` (only the first); a group without a
/// count gets its autoscaling `minCount`, or 1.
pub fn worker_node_groups(c: &mut Cluster) {
    let Some(groups) = c
        .spec
        .as_mut()
        .and_then(|s| s.worker_node_group_configurations.as_mut())
    else {
        return;
    };
    if let Some(first) = groups.first_mut()
        && is_empty(&first.name)
    {
        first.name = Some(FIRST_WORKER_GROUP_NAME.into());
    }
    for w in groups.iter_mut() {
        if w.count.is_none() {
            w.count = Some(match &w.autoscaling_configuration {
                Some(a) => a.min_count.unwrap_or(0),
                None => 1,
            });
        }
    }
}

/// Without `cniConfig`, one is built from the legacy `cni` string (`cilium` and
/// `cilium-enterprise` give Cilium, `kindnetd` gives kindnetd, anything else nothing), and
/// `cni` is cleared.
pub fn cni_config(c: &mut Cluster) {
    let net = c
        .spec
        .get_or_insert_with(Default::default)
        .cluster_network
        .get_or_insert_with(Default::default);
    if net.cni_config.is_some() {
        return;
    }
    let mut config = CniConfig::default();
    match net.cni.as_deref().unwrap_or("") {
        "cilium" | "cilium-enterprise" => config.cilium = Some(Cilium::default()),
        "kindnetd" => config.kindnetd = Some(Kindnetd::default()),
        _ => {}
    }
    net.cni_config = Some(config);
    net.cni = None;
}

/// Every KMS provider of `etcdEncryption` gets cache size 1000 and timeout 3s when unset.
pub fn etcd_encryption(c: &mut Cluster) {
    let Some(configs) = c.spec.as_mut().and_then(|s| s.etcd_encryption.as_mut()) else {
        return;
    };
    for config in configs.iter_mut() {
        for p in config.providers.iter_mut().flatten() {
            if let Some(kms) = p.kms.as_mut() {
                kms.cachesize.get_or_insert(KMS_CACHE_SIZE);
                kms.timeout.get_or_insert_with(|| KMS_TIMEOUT.into());
            }
        }
    }
}

/// With [`ControlPlaneIpCheck::Skip`], the Cluster gets the skip-ip-check annotation.
pub fn control_plane_ip_check(c: &mut Cluster, check: ControlPlaneIpCheck) {
    if check == ControlPlaneIpCheck::Skip {
        c.metadata_mut()
            .annotations
            .get_or_insert_with(Default::default)
            .insert(SKIP_IP_CHECK_ANNOTATION.into(), "true".into());
    }
}

/// Machine-health-check defaults, as the reference sets them.
///
/// Timeouts: unless both top-level timeouts are set, the missing ones get the given values,
/// the node startup timeout becoming 20m on Tinkerbell when left at the 10m default.
/// `maxUnhealthy`: unless the top-level value is set, it gets `max_unhealthy`, the control
/// plane (when unset) the same, and each worker group (when unset) `worker_max_unhealthy`.
/// When the top-level value is set nothing else is filled in: the manifests then use the
/// top-level value for the control plane and the workers.
pub fn machine_health_checks(c: &mut Cluster, d: &MachineHealthCheckDefaults) {
    let tinkerbell = c
        .spec
        .as_ref()
        .and_then(|s| s.datacenter_ref.as_ref())
        .is_some_and(|r| r.kind.as_deref() == Some("TinkerbellDatacenterConfig"));
    let spec = c.spec.get_or_insert_with(Default::default);
    let top = spec.machine_health_check.get_or_insert_with(Default::default);
    if top.node_startup_timeout.is_none() || top.unhealthy_machine_timeout.is_none() {
        let startup = if tinkerbell && d.node_startup_timeout == NODE_STARTUP_TIMEOUT {
            TINKERBELL_NODE_STARTUP_TIMEOUT
        } else {
            d.node_startup_timeout
        };
        top.node_startup_timeout
            .get_or_insert_with(|| go_duration(startup));
        top.unhealthy_machine_timeout
            .get_or_insert_with(|| go_duration(d.unhealthy_machine_timeout));
    }
    if top.max_unhealthy.is_some() {
        return;
    }
    top.max_unhealthy = Some(d.max_unhealthy.clone());
    let cp = spec
        .control_plane_configuration
        .get_or_insert_with(Default::default);
    cp.machine_health_check
        .get_or_insert_with(Default::default)
        .max_unhealthy
        .get_or_insert_with(|| d.max_unhealthy.clone());
    for w in spec.worker_node_group_configurations.iter_mut().flatten() {
        w.machine_health_check
            .get_or_insert_with(Default::default)
            .max_unhealthy
            .get_or_insert_with(|| d.worker_max_unhealthy.clone());
    }
}

/// A duration as Go's `time.Duration.String` writes it (`10m0s`, `3s`, `1h0m0s`, `1.5s`), the
/// form a `metav1.Duration` takes in YAML.
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    let fraction = |value: u128, unit: u128, suffix: &str| {
        let whole = value / unit;
        let rest = value % unit;
        if rest == 0 {
            return format!("{whole}{suffix}");
        }
        let digits = unit.to_string().len() - 1;
        let frac = format!("{rest:0digits$}");
        format!("{whole}.{}{suffix}", frac.trim_end_matches('0'))
    };
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return fraction(nanos, 1_000, "µs");
    }
    if nanos < 1_000_000_000 {
        return fraction(nanos, 1_000_000, "ms");
    }
    let secs = d.as_secs();
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    let seconds = fraction(
        u128::from(secs % 60) * 1_000_000_000 + u128::from(d.subsec_nanos()),
        1_000_000_000,
        "s",
    );
    match (h, m) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

/// Every object without a namespace, the Cluster included, gets `default`.
pub fn namespaces(set: &mut ConfigSet) {
    let set_default = |ns: &mut Option<String>| {
        if is_empty(ns) {
            *ns = Some(NAMESPACE.into());
        }
    };
    set_default(&mut set.cluster.metadata_mut().namespace);
    for (o, _) in set.objects.iter_mut() {
        set_default(&mut o.metadata_mut().namespace);
    }
}

// ---- Providers ----------------------------------------------------------------------------

/// A vSphere network given as a bare name becomes `/<datacenter>/network/<name>`; `insecure:
/// true` clears the thumbprint.
pub fn vsphere_datacenter(d: &mut VSphereDatacenterConfig) {
    let spec = d.spec.get_or_insert_with(Default::default);
    let datacenter = spec.datacenter.clone().unwrap_or_default();
    if let Some(network) = spec.network.as_mut().filter(|n| !n.is_empty())
        && !network.starts_with(&format!("/{datacenter}"))
    {
        *network = format!("/{datacenter}/network/{network}");
    }
    if spec.insecure == Some(true) {
        spec.thumbprint = None;
    }
}

/// vSphere machine sizes and OS: `memoryMiB` unset or ≤ 0 becomes 8192 and below 2048 becomes
/// 2048, `numCPUs` ≤ 0 becomes 2, `osFamily` defaults to bottlerocket.
pub fn vsphere_machine(m: &mut VSphereMachineConfig) {
    let spec = m.spec.get_or_insert_with(Default::default);
    if spec.memory_mi_b.unwrap_or(0) <= 0 {
        spec.memory_mi_b = Some(8192);
    }
    if spec.memory_mi_b.unwrap_or(0) < 2048 {
        spec.memory_mi_b = Some(2048);
    }
    if spec.num_cp_us.unwrap_or(0) <= 0 {
        spec.num_cp_us = Some(2);
    }
    if is_empty(&spec.os_family) {
        spec.os_family = Some("bottlerocket".into());
    }
}

/// The reference's `defaultMachineConfigUsers`: at least one user, the first with at least one
/// (possibly empty) SSH key, and a name (`name` when it has none).
fn machine_users(users: &mut Option<Vec<User>>, name: &str) {
    let users = users.get_or_insert_with(Vec::new);
    if users.is_empty() {
        users.push(User::default());
    }
    let first = &mut users[0];
    if first.ssh_authorized_keys.as_ref().is_none_or(Vec::is_empty) {
        first.ssh_authorized_keys = Some(vec![String::new()]);
    }
    if is_empty(&first.name) {
        first.name = Some(name.into());
    }
}

/// vSphere users: `ec2-user` on Bottlerocket, `capv` otherwise (run after [`vsphere_machine`],
/// which sets the OS family).
pub fn vsphere_machine_users(m: &mut VSphereMachineConfig) {
    let spec = m.spec.get_or_insert_with(Default::default);
    let name = if spec.os_family.as_deref() == Some("bottlerocket") {
        "ec2-user"
    } else {
        "capv"
    };
    machine_users(&mut spec.users, name);
}

/// Without availability zones, one is made per legacy zone (`default-az-<i>`, the legacy
/// account, domain and endpoint, credentials `global`); the legacy fields are then cleared.
pub fn cloudstack_datacenter(d: &mut CloudStackDatacenterConfig) {
    let spec = d.spec.get_or_insert_with(Default::default);
    if spec.availability_zones.as_ref().is_none_or(Vec::is_empty) {
        let zones: Vec<AvailabilityZone> = spec
            .zones
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, z)| AvailabilityZone {
                name: Some(format!("default-az-{i}")),
                zone: Some(z.clone()),
                account: spec.account.clone().filter(|s| !s.is_empty()),
                domain: spec.domain.clone().filter(|s| !s.is_empty()),
                management_api_endpoint: spec.management_api_endpoint.clone().filter(|s| !s.is_empty()),
                credentials_ref: Some("global".into()),
            })
            .collect();
        spec.availability_zones = (!zones.is_empty()).then_some(zones);
    }
    spec.zones = None;
    spec.domain = None;
    spec.account = None;
    spec.management_api_endpoint = None;
}

/// CloudStack users: `capc`.
pub fn cloudstack_machine_users(m: &mut CloudStackMachineConfig) {
    machine_users(&mut m.spec.get_or_insert_with(Default::default).users, "capc");
}

/// AWSIamConfig `partition` defaults to `aws`.
pub fn aws_iam_config(o: &mut AWSIamConfig) {
    let spec = o.spec.get_or_insert_with(Default::default);
    if is_empty(&spec.partition) {
        spec.partition = Some("aws".into());
    }
}

/// Where a cluster's configuration goes in its GitOps repository: `clusters/<cluster>` for a
/// management cluster, `clusters/<management cluster>` for a workload cluster.
fn cluster_config_path(c: &Cluster) -> String {
    let mgmt = c
        .spec
        .as_ref()
        .and_then(|s| s.management_cluster.as_ref())
        .and_then(|m| m.name.as_deref())
        .unwrap_or("");
    let owner = if mgmt.is_empty() || mgmt == c.name() {
        c.name()
    } else {
        mgmt
    };
    if owner.is_empty() {
        "clusters".into()
    } else {
        format!("clusters/{owner}")
    }
}

/// FluxConfig `systemNamespace` defaults to `flux-system` and `branch` to `main`.
pub fn flux_config(f: &mut FluxConfig) {
    let spec = f.spec.get_or_insert_with(Default::default);
    if is_empty(&spec.system_namespace) {
        spec.system_namespace = Some("flux-system".into());
    }
    if is_empty(&spec.branch) {
        spec.branch = Some("main".into());
    }
}

/// FluxConfig `clusterConfigPath` defaults to the path for `c` (see the module docs).
pub fn flux_config_path(f: &mut FluxConfig, c: &Cluster) {
    let spec = f.spec.get_or_insert_with(Default::default);
    if is_empty(&spec.cluster_config_path) {
        spec.cluster_config_path = Some(cluster_config_path(c));
    }
}

fn gitops_github(g: &mut GitOpsConfig) -> &mut Github {
    g.spec
        .get_or_insert_with(Default::default)
        .flux
        .get_or_insert_with(Default::default)
        .github
        .get_or_insert_with(Default::default)
}

/// GitOpsConfig `flux.github.fluxSystemNamespace` defaults to `flux-system` and `branch` to
/// `main`.
pub fn gitops_config(g: &mut GitOpsConfig) {
    let gh = gitops_github(g);
    if is_empty(&gh.flux_system_namespace) {
        gh.flux_system_namespace = Some("flux-system".into());
    }
    if is_empty(&gh.branch) {
        gh.branch = Some("main".into());
    }
}

/// GitOpsConfig `flux.github.clusterConfigPath` defaults like the FluxConfig one.
pub fn gitops_config_path(g: &mut GitOpsConfig, c: &Cluster) {
    let gh = gitops_github(g);
    if is_empty(&gh.cluster_config_path) {
        gh.cluster_config_path = Some(cluster_config_path(c));
    }
}

/// A SnowDatacenterConfig without `identityRef` points at the Secret
/// `<name>-snow-credentials`.
pub fn snow_datacenter(d: &mut SnowDatacenterConfig) {
    let name = d.name().to_string();
    let spec = d.spec.get_or_insert_with(Default::default);
    let r = spec.identity_ref.get_or_insert_with(Default::default);
    if is_empty(&r.kind) && is_empty(&r.name) {
        r.kind = Some("Secret".into());
        r.name = Some(format!("{name}-snow-credentials"));
    }
}

/// SnowMachineConfig `instanceType` defaults to `sbe-c.large` and `physicalNetworkConnector`
/// to `SFP_PLUS`.
pub fn snow_machine(m: &mut SnowMachineConfig) {
    let spec = m.spec.get_or_insert_with(Default::default);
    if is_empty(&spec.instance_type) {
        spec.instance_type = Some("sbe-c.large".into());
    }
    if is_empty(&spec.physical_network_connector) {
        spec.physical_network_connector = Some("SFP_PLUS".into());
    }
}

/// A NutanixDatacenterConfig without `credentialRef` uses the Secret `nutanix-credentials`.
pub fn nutanix_datacenter(d: &mut NutanixDatacenterConfig) {
    let spec = d.spec.get_or_insert_with(Default::default);
    if spec.credential_ref.is_none() {
        spec.credential_ref = Some(Ref {
            kind: Some("Secret".into()),
            name: Some("nutanix-credentials".into()),
        });
    }
}

/// NutanixMachineConfig users default to `[{name: eksa, sshAuthorizedKeys: [""]}]` (an empty
/// first name becomes `eksa`, an empty key list `[""]`), and `osFamily` to ubuntu.
pub fn nutanix_machine(m: &mut NutanixMachineConfig) {
    let spec = m.spec.get_or_insert_with(Default::default);
    machine_users(&mut spec.users, "eksa");
    if is_empty(&spec.os_family) {
        spec.os_family = Some("ubuntu".into());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::{Reading, parse_config_set};

    fn decode<T: serde::de::DeserializeOwned>(v: Value) -> T {
        crate::document::decode(&v, crate::document::Fields::Strict).expect("decode")
    }

    fn to_value<T: serde::Serialize>(t: &T) -> Value {
        serde_json::to_value(t).expect("serialize")
    }

    /// Applies `f` to the object decoded from `input` and compares the result with `expect`.
    fn check<T, F>(input: Value, f: F, expect: Value)
    where
        T: serde::de::DeserializeOwned + serde::Serialize,
        F: FnOnce(&mut T),
    {
        let mut o: T = decode(input.clone());
        f(&mut o);
        assert_eq!(to_value(&o), expect, "input {input}");
    }

    fn cluster_spec(spec: Value) -> Value {
        json!({"metadata": {"name": "c"}, "spec": spec})
    }

    #[test]
    fn registry_mirror_gets_port_443_and_the_ca_passed_in() {
        let opts = DefaultsOptions {
            registry_mirror_ca: Some("PEM".into()),
            ..Default::default()
        };
        check::<Cluster, _>(
            cluster_spec(json!({"registryMirrorConfiguration": {"endpoint": "h"}})),
            |c| registry_mirror(c, opts.registry_mirror_ca.as_deref()),
            cluster_spec(
                json!({"registryMirrorConfiguration": {"endpoint": "h", "port": "443", "caCertContent": "PEM"}}),
            ),
        );
        check::<Cluster, _>(
            cluster_spec(
                json!({"registryMirrorConfiguration": {"endpoint": "h", "port": "5000", "caCertContent": "mine"}}),
            ),
            |c| registry_mirror(c, Some("PEM")),
            cluster_spec(
                json!({"registryMirrorConfiguration": {"endpoint": "h", "port": "5000", "caCertContent": "mine"}}),
            ),
        );
    }

    #[test]
    fn only_the_first_unnamed_worker_group_is_named_and_counts_default() {
        check::<Cluster, _>(
            cluster_spec(json!({"workerNodeGroupConfigurations": [
                {}, {"autoscalingConfiguration": {"minCount": 2, "maxCount": 4}}, {"name": "x", "count": 0}
            ]})),
            worker_node_groups,
            cluster_spec(json!({"workerNodeGroupConfigurations": [
                {"name": "md-0", "count": 1},
                {"count": 2, "autoscalingConfiguration": {"minCount": 2, "maxCount": 4}},
                {"name": "x", "count": 0}
            ]})),
        );
    }

    #[test]
    fn legacy_cni_becomes_cni_config() {
        for (cni, config) in [
            (json!("cilium"), json!({"cilium": {}})),
            (json!("cilium-enterprise"), json!({"cilium": {}})),
            (json!("kindnetd"), json!({"kindnetd": {}})),
            (json!("calico"), json!({})),
        ] {
            check::<Cluster, _>(
                cluster_spec(json!({"clusterNetwork": {"cni": cni}})),
                cni_config,
                cluster_spec(json!({"clusterNetwork": {"cniConfig": config}})),
            );
        }
        check::<Cluster, _>(
            cluster_spec(json!({})),
            cni_config,
            cluster_spec(json!({"clusterNetwork": {"cniConfig": {}}})),
        );
        // An existing cniConfig wins and the legacy field stays for validation to reject.
        let both = cluster_spec(json!({"clusterNetwork": {"cni": "cilium", "cniConfig": {"kindnetd": {}}}}));
        check::<Cluster, _>(both.clone(), cni_config, both);
    }

    #[test]
    fn kms_providers_get_cache_size_and_timeout() {
        check::<Cluster, _>(
            cluster_spec(
                json!({"etcdEncryption": [{"providers": [{"kms": {"name": "k"}}, {"kms": {"name": "l", "cachesize": 5, "timeout": "1s"}}]}]}),
            ),
            etcd_encryption,
            cluster_spec(json!({"etcdEncryption": [{"providers": [
                {"kms": {"name": "k", "cachesize": 1000, "timeout": "3s"}},
                {"kms": {"name": "l", "cachesize": 5, "timeout": "1s"}}
            ]}]})),
        );
    }

    #[test]
    fn vsphere_datacenter_network_path_and_insecure() {
        check::<VSphereDatacenterConfig, _>(
            json!({"spec": {"datacenter": "SDDC", "network": "vm-net", "insecure": true, "thumbprint": "AB:CD"}}),
            vsphere_datacenter,
            json!({"spec": {"datacenter": "SDDC", "network": "/SDDC/network/vm-net", "insecure": true}}),
        );
        check::<VSphereDatacenterConfig, _>(
            json!({"spec": {"datacenter": "SDDC", "network": "/SDDC/network/vm-net", "thumbprint": "AB"}}),
            vsphere_datacenter,
            json!({"spec": {"datacenter": "SDDC", "network": "/SDDC/network/vm-net", "thumbprint": "AB"}}),
        );
    }

    #[test]
    fn vsphere_machine_sizes_os_and_users() {
        check::<VSphereMachineConfig, _>(
            json!({"spec": {}}),
            |m| {
                vsphere_machine(m);
                vsphere_machine_users(m);
            },
            json!({"spec": {"memoryMiB": 8192, "numCPUs": 2, "osFamily": "bottlerocket", "users": [{"name": "ec2-user", "sshAuthorizedKeys": [""]}]}}),
        );
        check::<VSphereMachineConfig, _>(
            json!({"spec": {"memoryMiB": 1024, "numCPUs": 4, "osFamily": "ubuntu", "users": [{"sshAuthorizedKeys": ["k"]}]}}),
            |m| {
                vsphere_machine(m);
                vsphere_machine_users(m);
            },
            json!({"spec": {"memoryMiB": 2048, "numCPUs": 4, "osFamily": "ubuntu", "users": [{"name": "capv", "sshAuthorizedKeys": ["k"]}]}}),
        );
    }

    #[test]
    fn cloudstack_datacenter_moves_legacy_zones_into_availability_zones() {
        check::<CloudStackDatacenterConfig, _>(
            json!({"spec": {"account": "a", "domain": "d", "managementApiEndpoint": "https://cs", "zones": [{"name": "z1", "network": {"name": "n"}}, {"id": "z2"}]}}),
            cloudstack_datacenter,
            json!({"spec": {"availabilityZones": [
                {"account": "a", "credentialsRef": "global", "domain": "d", "managementApiEndpoint": "https://cs", "name": "default-az-0", "zone": {"name": "z1", "network": {"name": "n"}}},
                {"account": "a", "credentialsRef": "global", "domain": "d", "managementApiEndpoint": "https://cs", "name": "default-az-1", "zone": {"id": "z2"}}
            ]}}),
        );
        check::<CloudStackMachineConfig, _>(
            json!({"spec": {}}),
            cloudstack_machine_users,
            json!({"spec": {"users": [{"name": "capc", "sshAuthorizedKeys": [""]}]}}),
        );
    }

    #[test]
    fn identity_gitops_snow_and_nutanix_defaults() {
        check::<AWSIamConfig, _>(
            json!({"spec": {}}),
            aws_iam_config,
            json!({"spec": {"partition": "aws"}}),
        );
        check::<SnowDatacenterConfig, _>(
            json!({"metadata": {"name": "s"}, "spec": {}}),
            snow_datacenter,
            json!({"metadata": {"name": "s"}, "spec": {"identityRef": {"kind": "Secret", "name": "s-snow-credentials"}}}),
        );
        check::<SnowMachineConfig, _>(
            json!({"spec": {}}),
            snow_machine,
            json!({"spec": {"instanceType": "sbe-c.large", "physicalNetworkConnector": "SFP_PLUS"}}),
        );
        check::<NutanixDatacenterConfig, _>(
            json!({"spec": {}}),
            nutanix_datacenter,
            json!({"spec": {"credentialRef": {"kind": "Secret", "name": "nutanix-credentials"}}}),
        );
        check::<NutanixMachineConfig, _>(
            json!({"spec": {"users": [{"name": null}]}}),
            nutanix_machine,
            json!({"spec": {"osFamily": "ubuntu", "users": [{"name": "eksa", "sshAuthorizedKeys": [""]}]}}),
        );
    }

    #[test]
    fn gitops_paths_follow_the_management_cluster() {
        let mgmt: Cluster = decode(cluster_spec(json!({})));
        let workload: Cluster = decode(cluster_spec(json!({"managementCluster": {"name": "m"}})));
        check::<FluxConfig, _>(
            json!({"spec": {}}),
            |f| {
                flux_config(f);
                flux_config_path(f, &mgmt);
            },
            json!({"spec": {"branch": "main", "clusterConfigPath": "clusters/c", "systemNamespace": "flux-system"}}),
        );
        check::<GitOpsConfig, _>(
            json!({"spec": {"flux": {"github": {"owner": "o"}}}}),
            |g| {
                gitops_config(g);
                gitops_config_path(g, &workload);
            },
            json!({"spec": {"flux": {"github": {"branch": "main", "clusterConfigPath": "clusters/m", "fluxSystemNamespace": "flux-system", "owner": "o"}}}}),
        );
    }

    #[test]
    fn machine_health_checks_fill_timeouts_and_max_unhealthy() {
        let d = MachineHealthCheckDefaults::default();
        check::<Cluster, _>(
            cluster_spec(json!({"workerNodeGroupConfigurations": [{"name": "a"}]})),
            |c| machine_health_checks(c, &d),
            cluster_spec(json!({
                "controlPlaneConfiguration": {"machineHealthCheck": {"maxUnhealthy": "100%"}},
                "machineHealthCheck": {"maxUnhealthy": "100%", "nodeStartupTimeout": "10m0s", "unhealthyMachineTimeout": "5m0s"},
                "workerNodeGroupConfigurations": [{"name": "a", "machineHealthCheck": {"maxUnhealthy": "40%"}}]
            })),
        );
        check::<Cluster, _>(
            cluster_spec(
                json!({"datacenterRef": {"kind": "TinkerbellDatacenterConfig"}, "machineHealthCheck": {"maxUnhealthy": 2, "unhealthyMachineTimeout": "1m"}}),
            ),
            |c| machine_health_checks(c, &d),
            cluster_spec(json!({
                "datacenterRef": {"kind": "TinkerbellDatacenterConfig"},
                "machineHealthCheck": {"maxUnhealthy": 2, "nodeStartupTimeout": "20m0s", "unhealthyMachineTimeout": "1m"}
            })),
        );
    }

    #[test]
    fn go_durations_print_like_go() {
        for (d, s) in [
            (Duration::from_secs(600), "10m0s"),
            (Duration::from_secs(3), "3s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(20), "20ms"),
            (Duration::ZERO, "0s"),
        ] {
            assert_eq!(go_duration(d), s);
        }
    }

    #[test]
    fn apply_all_defaults_used_objects_and_namespaces() {
        let text = "apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata: {name: c}
spec:
  datacenterRef: {kind: VSphereDatacenterConfig, name: dc}
  controlPlaneConfiguration: {count: 1, machineGroupRef: {kind: VSphereMachineConfig, name: cp}}
  workerNodeGroupConfigurations: [{machineGroupRef: {kind: VSphereMachineConfig, name: cp}}]
  clusterNetwork: {cni: cilium}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: VSphereDatacenterConfig
metadata: {name: dc}
spec: {datacenter: d, network: n}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: VSphereMachineConfig
metadata: {name: cp}
spec: {}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: VSphereMachineConfig
metadata: {name: unused, namespace: other}
spec: {}
";
        let mut set = parse_config_set(text, Reading::Strict).expect("parse");
        let opts = DefaultsOptions {
            control_plane_ip_check: ControlPlaneIpCheck::Skip,
            ..Default::default()
        };
        apply_all(&mut set, &opts);
        assert_eq!(set.cluster.namespace(), "default");
        let annotations = set
            .cluster
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.clone())
            .unwrap_or_default();
        assert_eq!(
            annotations.get(SKIP_IP_CHECK_ANNOTATION).map(String::as_str),
            Some("true")
        );
        let dc = set.get::<VSphereDatacenterConfig>("dc").expect("dc");
        assert_eq!(
            dc.spec.as_ref().and_then(|s| s.network.as_deref()),
            Some("/d/network/n")
        );
        let cp = set.get::<VSphereMachineConfig>("cp").expect("cp");
        assert_eq!(
            cp.spec.as_ref().and_then(|s| s.os_family.as_deref()),
            Some("bottlerocket")
        );
        assert_eq!(cp.namespace(), "default");
        let unused = set.get::<VSphereMachineConfig>("unused").expect("unused");
        assert_eq!(
            unused.spec.as_ref().and_then(|s| s.os_family.as_deref()),
            None,
            "unused objects are not defaulted"
        );
        assert_eq!(unused.namespace(), "other");
        let w = &set
            .cluster
            .spec
            .as_ref()
            .and_then(|s| s.worker_node_group_configurations.clone())
            .unwrap_or_default()[0];
        assert_eq!((w.name.as_deref(), w.count), (Some("md-0"), Some(1)));
    }
}

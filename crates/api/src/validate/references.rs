//! Whole-file reference rules: every reference resolves, kinds fit, namespaces match.

use super::*;

/// The machine-config kind each datacenter kind uses; `None` for providers without machine
/// configs (Docker, the legacy AWS kind).
fn machine_kind(datacenter_kind: &str) -> Option<&'static str> {
    match datacenter_kind {
        "VSphereDatacenterConfig" => Some("VSphereMachineConfig"),
        "TinkerbellDatacenterConfig" => Some("TinkerbellMachineConfig"),
        "CloudStackDatacenterConfig" => Some("CloudStackMachineConfig"),
        "NutanixDatacenterConfig" => Some("NutanixMachineConfig"),
        "SnowDatacenterConfig" => Some("SnowMachineConfig"),
        _ => None,
    }
}

const DATACENTER_KINDS: &[&str] = &[
    "VSphereDatacenterConfig",
    "TinkerbellDatacenterConfig",
    "CloudStackDatacenterConfig",
    "NutanixDatacenterConfig",
    "SnowDatacenterConfig",
    "DockerDatacenterConfig",
    "AWSDatacenterConfig",
];

fn not_found(id: &str, path: &str, kind: &str, name: &str) -> Violation {
    Violation::new(id, path, format!("{kind} {name} not found")).with_hint(format!(
        "add a {kind} named {name} to the file, or fix the reference"
    ))
}

/// Every reference of the Cluster resolves to an object of the file: `datacenterRef`, the
/// control-plane, worker and external-etcd `machineGroupRef`s (whose kind must fit the
/// datacenter), `gitOpsRef`, `identityProviderRefs`, the TinkerbellMachineConfig `templateRef`s
/// and the SnowMachineConfig `ipPoolRef`s. Then every object so reached is in the Cluster's
/// namespace (compared as written: absent is `""`).
///
/// Kinds the Cluster rules already reject (an unknown identity-provider kind...) are left to
/// them.
pub fn references(set: &ConfigSet) -> Vec<Violation> {
    let c = &set.cluster;
    let id = object_id(c);
    let mut out = Vec::new();
    let mut used: Vec<&Object> = Vec::new();
    let mut resolve =
        |out: &mut Vec<Violation>, path: &str, kind: &str, name: &str| match set.find(kind, name) {
            Some(o) => {
                if !used.iter().any(|u| u.kind() == o.kind() && u.name() == o.name()) {
                    used.push(o);
                }
            }
            None => out.push(not_found(&id, path, kind, name)),
        };

    let dc_ref = spec(c).and_then(|s| s.datacenter_ref.as_ref());
    let dc_kind = dc_ref.map(|r| s(&r.kind)).unwrap_or("");
    let dc_name = dc_ref.map(|r| s(&r.name)).unwrap_or("");
    if dc_kind.is_empty() || dc_name.is_empty() {
        out.push(
            Violation::new(
                &id,
                "spec.datacenterRef",
                "datacenterRef is not set: the cluster needs a datacenter config",
            )
            .with_hint("set datacenterRef: {kind: <Provider>DatacenterConfig, name: ...}"),
        );
    } else if !DATACENTER_KINDS.contains(&dc_kind) {
        out.push(
            Violation::new(
                &id,
                "spec.datacenterRef.kind",
                format!("datacenterRef kind {dc_kind} is not supported"),
            )
            .with_hint(format!("use one of {}", DATACENTER_KINDS.join(", "))),
        );
    } else {
        resolve(&mut out, "spec.datacenterRef", dc_kind, dc_name);
    }

    if let Some(expected) = machine_kind(dc_kind) {
        let cp = control_plane(c).and_then(|cp| cp.machine_group_ref.as_ref());
        let mut refs: Vec<(String, &Ref)> = Vec::new();
        refs.extend(cp.map(|r| ("spec.controlPlaneConfiguration.machineGroupRef".to_string(), r)));
        for (i, w) in workers(c).iter().enumerate() {
            if let Some(r) = &w.machine_group_ref {
                refs.push((
                    format!("spec.workerNodeGroupConfigurations[{i}].machineGroupRef"),
                    r,
                ));
            }
        }
        let etcd = spec(c)
            .and_then(|s| s.external_etcd_configuration.as_ref())
            .and_then(|e| e.machine_group_ref.as_ref());
        refs.extend(etcd.map(|r| ("spec.externalEtcdConfiguration.machineGroupRef".to_string(), r)));
        for (path, r) in refs {
            let kind = s(&r.kind);
            if kind != expected {
                out.push(
                    Violation::new(
                        &id,
                        format!("{path}.kind"),
                        format!("machineGroupRef kind {kind} does not fit datacenterRef kind {dc_kind}"),
                    )
                    .with_hint(format!("use kind: {expected}")),
                );
                continue;
            }
            resolve(&mut out, &path, kind, s(&r.name));
        }
    }

    if let Some(r) = spec(c).and_then(|s| s.git_ops_ref.as_ref()) {
        let kind = s(&r.kind);
        if matches!(kind, "GitOpsConfig" | "FluxConfig") && !s(&r.name).is_empty() {
            resolve(&mut out, "spec.gitOpsRef", kind, s(&r.name));
        }
    }
    for (i, r) in identity_provider_refs(c).iter().enumerate() {
        let kind = s(&r.kind);
        if matches!(kind, "OIDCConfig" | "AWSIamConfig") && !s(&r.name).is_empty() {
            resolve(
                &mut out,
                &format!("spec.identityProviderRefs[{i}]"),
                kind,
                s(&r.name),
            );
        }
    }

    // References from the machine configs.
    let machines: Vec<&Object> = used
        .iter()
        .copied()
        .filter(|o| o.kind().ends_with("MachineConfig"))
        .collect();
    for m in machines {
        match m {
            Object::TinkerbellMachineConfig(t) => {
                let Some(r) = t.spec.as_ref().and_then(|s| s.template_ref.as_ref()) else {
                    continue;
                };
                let (kind, name) = (s(&r.kind), s(&r.name));
                if kind.is_empty() && name.is_empty() {
                    continue;
                }
                if kind != "TinkerbellTemplateConfig" {
                    out.push(
                        Violation::new(
                            object_id(t),
                            "spec.templateRef.kind",
                            format!("templateRef kind {kind} is not supported"),
                        )
                        .with_hint("use kind: TinkerbellTemplateConfig"),
                    );
                    continue;
                }
                match set.find(kind, name) {
                    Some(o) => {
                        if !used.iter().any(|u| u.kind() == o.kind() && u.name() == o.name()) {
                            used.push(o);
                        }
                    }
                    None => out.push(not_found(&object_id(t), "spec.templateRef", kind, name)),
                }
            }
            Object::SnowMachineConfig(sm) => {
                for (i, dni) in snow::direct_network_interfaces(sm).iter().enumerate() {
                    let Some(r) = &dni.ip_pool_ref else { continue };
                    let (kind, name) = (s(&r.kind), s(&r.name));
                    let path = format!("spec.network.directNetworkInterfaces[{i}].ipPoolRef");
                    if kind != "SnowIPPool" {
                        out.push(
                            Violation::new(
                                object_id(sm),
                                format!("{path}.kind"),
                                format!("ipPoolRef kind {kind} is not supported"),
                            )
                            .with_hint("use kind: SnowIPPool"),
                        );
                        continue;
                    }
                    match set.find(kind, name) {
                        Some(o) => {
                            if !used.iter().any(|u| u.kind() == o.kind() && u.name() == o.name()) {
                                used.push(o);
                            }
                        }
                        None => out.push(not_found(&object_id(sm), &path, kind, name)),
                    }
                }
            }
            _ => {}
        }
    }

    let namespace = c.namespace();
    for o in used {
        if o.namespace() != namespace {
            out.push(
                Violation::new(
                    format!("{}/{}", o.kind(), o.name()),
                    "metadata.namespace",
                    format!(
                        "{} and Cluster objects must have the same namespace specified",
                        o.kind()
                    ),
                )
                .with_hint(if namespace.is_empty() {
                    "remove metadata.namespace here, or set the same namespace on the Cluster".to_string()
                } else {
                    format!("set metadata.namespace: {namespace}")
                }),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Reading, parse_config_set};

    const HEAD: &str = "apiVersion: anywhere.eks.amazonaws.com/v1alpha1\n";

    fn check(docs: &[&str], expect: &[(&str, &str)]) {
        let text: Vec<String> = docs.iter().map(|d| format!("{HEAD}{d}")).collect();
        let set = parse_config_set(&text.join("---\n"), Reading::Strict).expect("parse");
        let got = references(&set);
        let got: Vec<(&str, &str)> = got
            .iter()
            .map(|v| (v.object.as_str(), v.message.as_str()))
            .collect();
        assert_eq!(got, expect);
    }

    const CLUSTER: &str = "kind: Cluster
metadata: {name: c}
spec:
  datacenterRef: {kind: TinkerbellDatacenterConfig, name: dc}
  controlPlaneConfiguration: {machineGroupRef: {kind: TinkerbellMachineConfig, name: cp}}
  workerNodeGroupConfigurations:
  - {name: md-0, machineGroupRef: {kind: TinkerbellMachineConfig, name: md}}
  gitOpsRef: {kind: FluxConfig, name: flux}
  identityProviderRefs: [{kind: OIDCConfig, name: oidc}]
";

    #[test]
    fn complete_file_resolves() {
        check(
            &[
                CLUSTER,
                "kind: TinkerbellDatacenterConfig\nmetadata: {name: dc}\n",
                "kind: TinkerbellMachineConfig\nmetadata: {name: cp}\nspec: {templateRef: {kind: TinkerbellTemplateConfig, name: t}}\n",
                "kind: TinkerbellMachineConfig\nmetadata: {name: md}\n",
                "kind: TinkerbellTemplateConfig\nmetadata: {name: t}\n",
                "kind: FluxConfig\nmetadata: {name: flux}\n",
                "kind: OIDCConfig\nmetadata: {name: oidc}\n",
            ],
            &[],
        );
    }

    #[test]
    fn every_dangling_reference_is_named() {
        check(
            &[
                CLUSTER,
                "kind: TinkerbellMachineConfig\nmetadata: {name: cp}\nspec: {templateRef: {kind: TinkerbellTemplateConfig, name: t}}\n",
            ],
            &[
                ("Cluster/c", "TinkerbellDatacenterConfig dc not found"),
                ("Cluster/c", "TinkerbellMachineConfig md not found"),
                ("Cluster/c", "FluxConfig flux not found"),
                ("Cluster/c", "OIDCConfig oidc not found"),
                (
                    "TinkerbellMachineConfig/cp",
                    "TinkerbellTemplateConfig t not found",
                ),
            ],
        );
    }

    #[test]
    fn machine_kind_must_fit_the_datacenter_and_namespaces_must_match() {
        check(
            &[
                "kind: Cluster
metadata: {name: c, namespace: ns}
spec:
  datacenterRef: {kind: VSphereDatacenterConfig, name: dc}
  controlPlaneConfiguration: {machineGroupRef: {kind: CloudStackMachineConfig, name: cp}}
",
                "kind: VSphereDatacenterConfig\nmetadata: {name: dc}\n",
            ],
            &[
                (
                    "Cluster/c",
                    "machineGroupRef kind CloudStackMachineConfig does not fit datacenterRef kind VSphereDatacenterConfig",
                ),
                (
                    "VSphereDatacenterConfig/dc",
                    "VSphereDatacenterConfig and Cluster objects must have the same namespace specified",
                ),
            ],
        );
    }

    #[test]
    fn missing_datacenter_ref_is_reported() {
        check(
            &["kind: Cluster\nmetadata: {name: c}\nspec: {}\n"],
            &[(
                "Cluster/c",
                "datacenterRef is not set: the cluster needs a datacenter config",
            )],
        );
    }

    #[test]
    fn snow_ip_pool_refs_resolve() {
        check(
            &[
                "kind: Cluster
metadata: {name: c}
spec:
  datacenterRef: {kind: SnowDatacenterConfig, name: dc}
  controlPlaneConfiguration: {machineGroupRef: {kind: SnowMachineConfig, name: cp}}
",
                "kind: SnowDatacenterConfig\nmetadata: {name: dc}\n",
                "kind: SnowMachineConfig\nmetadata: {name: cp}\nspec: {network: {directNetworkInterfaces: [{ipPoolRef: {kind: SnowIPPool, name: pool}}, {ipPoolRef: {kind: Pool, name: x}}]}}\n",
            ],
            &[
                ("SnowMachineConfig/cp", "SnowIPPool pool not found"),
                ("SnowMachineConfig/cp", "ipPoolRef kind Pool is not supported"),
            ],
        );
    }
}

//! The Cluster API kinds the simulator knows: their group, plural, served versions and role,
//! and [`crds`], permissive stand-in CustomResourceDefinitions generated from that table.

use serde_json::{Value, json};

/// What the simulator does with objects of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `cluster.x-k8s.io` Cluster.
    Cluster,
    /// KubeadmControlPlane.
    ControlPlane,
    /// MachineDeployment.
    MachineDeployment,
    /// MachineSet.
    MachineSet,
    /// Machine.
    Machine,
    /// MachineHealthCheck.
    MachineHealthCheck,
    /// EtcdadmCluster.
    EtcdCluster,
    /// KubeadmConfig / EtcdadmConfig (per-machine bootstrap configuration).
    BootstrapConfig,
    /// KubeadmConfigTemplate.
    BootstrapTemplate,
    /// A provider's cluster kind (DockerCluster, VSphereCluster, ...).
    InfraCluster,
    /// A provider's machine kind (DockerMachine, VSphereMachine, ...).
    InfraMachine,
    /// A provider's machine template kind.
    InfraMachineTemplate,
    /// Registered (so the generator's output applies) but not reconciled.
    Passive,
}

/// One kind of the table.
#[derive(Debug, Clone, Copy)]
pub struct KindDef {
    /// API group.
    pub group: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Plural resource name.
    pub plural: &'static str,
    /// Served versions, oldest first.
    pub versions: &'static [&'static str],
    /// Storage version.
    pub storage: &'static str,
    /// Namespaced (true) or cluster-scoped.
    pub namespaced: bool,
    /// What the simulator does with it.
    pub role: Role,
}

const CAPI: &[&str] = &["v1beta1", "v1beta2"];
const V1B1: &[&str] = &["v1beta1"];
const ETCDADM: &[&str] = &["v1alpha3", "v1beta1"];
const CLOUDSTACK: &[&str] = &["v1beta1", "v1beta2", "v1beta3"];

const fn k(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    versions: &'static [&'static str],
    storage: &'static str,
    role: Role,
) -> KindDef {
    KindDef {
        group,
        kind,
        plural,
        versions,
        storage,
        namespaced: true,
        role,
    }
}

const fn cluster_scoped(mut d: KindDef) -> KindDef {
    d.namespaced = false;
    d
}

const CORE: &str = "cluster.x-k8s.io";
const BOOT: &str = "bootstrap.cluster.x-k8s.io";
const CP: &str = "controlplane.cluster.x-k8s.io";
const INFRA: &str = "infrastructure.cluster.x-k8s.io";

/// Every kind the simulator registers, reconciles or creates.
pub const KINDS: &[KindDef] = &[
    k(CORE, "Cluster", "clusters", CAPI, "v1beta2", Role::Cluster),
    k(
        CORE,
        "MachineDeployment",
        "machinedeployments",
        CAPI,
        "v1beta2",
        Role::MachineDeployment,
    ),
    k(
        CORE,
        "MachineSet",
        "machinesets",
        CAPI,
        "v1beta2",
        Role::MachineSet,
    ),
    k(CORE, "Machine", "machines", CAPI, "v1beta2", Role::Machine),
    k(
        CORE,
        "MachineHealthCheck",
        "machinehealthchecks",
        CAPI,
        "v1beta2",
        Role::MachineHealthCheck,
    ),
    k(
        CORE,
        "MachinePool",
        "machinepools",
        CAPI,
        "v1beta2",
        Role::Passive,
    ),
    k(
        CORE,
        "ClusterClass",
        "clusterclasses",
        CAPI,
        "v1beta2",
        Role::Passive,
    ),
    k(
        CORE,
        "MachineDrainRule",
        "machinedrainrules",
        CAPI,
        "v1beta2",
        Role::Passive,
    ),
    k(
        "addons.cluster.x-k8s.io",
        "ClusterResourceSet",
        "clusterresourcesets",
        CAPI,
        "v1beta2",
        Role::Passive,
    ),
    k(
        "addons.cluster.x-k8s.io",
        "ClusterResourceSetBinding",
        "clusterresourcesetbindings",
        CAPI,
        "v1beta2",
        Role::Passive,
    ),
    k(
        BOOT,
        "KubeadmConfig",
        "kubeadmconfigs",
        CAPI,
        "v1beta2",
        Role::BootstrapConfig,
    ),
    k(
        BOOT,
        "KubeadmConfigTemplate",
        "kubeadmconfigtemplates",
        CAPI,
        "v1beta2",
        Role::BootstrapTemplate,
    ),
    k(
        BOOT,
        "EtcdadmConfig",
        "etcdadmconfigs",
        ETCDADM,
        "v1beta1",
        Role::BootstrapConfig,
    ),
    k(
        CP,
        "KubeadmControlPlane",
        "kubeadmcontrolplanes",
        CAPI,
        "v1beta2",
        Role::ControlPlane,
    ),
    k(
        CP,
        "KubeadmControlPlaneTemplate",
        "kubeadmcontrolplanetemplates",
        CAPI,
        "v1beta2",
        Role::Passive,
    ),
    k(
        "etcdcluster.cluster.x-k8s.io",
        "EtcdadmCluster",
        "etcdadmclusters",
        ETCDADM,
        "v1beta1",
        Role::EtcdCluster,
    ),
    // Docker (CAPD)
    k(
        INFRA,
        "DockerCluster",
        "dockerclusters",
        CAPI,
        "v1beta2",
        Role::InfraCluster,
    ),
    k(
        INFRA,
        "DockerMachine",
        "dockermachines",
        CAPI,
        "v1beta2",
        Role::InfraMachine,
    ),
    k(
        INFRA,
        "DockerMachineTemplate",
        "dockermachinetemplates",
        CAPI,
        "v1beta2",
        Role::InfraMachineTemplate,
    ),
    k(
        INFRA,
        "DockerClusterTemplate",
        "dockerclustertemplates",
        CAPI,
        "v1beta2",
        Role::Passive,
    ),
    // vSphere (CAPV)
    k(
        INFRA,
        "VSphereCluster",
        "vsphereclusters",
        CAPI,
        "v1beta2",
        Role::InfraCluster,
    ),
    k(
        INFRA,
        "VSphereMachine",
        "vspheremachines",
        CAPI,
        "v1beta2",
        Role::InfraMachine,
    ),
    k(
        INFRA,
        "VSphereMachineTemplate",
        "vspheremachinetemplates",
        CAPI,
        "v1beta2",
        Role::InfraMachineTemplate,
    ),
    k(INFRA, "VSphereVM", "vspherevms", CAPI, "v1beta2", Role::Passive),
    cluster_scoped(k(
        INFRA,
        "VSphereFailureDomain",
        "vspherefailuredomains",
        CAPI,
        "v1beta2",
        Role::Passive,
    )),
    cluster_scoped(k(
        INFRA,
        "VSphereDeploymentZone",
        "vspheredeploymentzones",
        CAPI,
        "v1beta2",
        Role::Passive,
    )),
    cluster_scoped(k(
        INFRA,
        "VSphereClusterIdentity",
        "vsphereclusteridentities",
        CAPI,
        "v1beta2",
        Role::Passive,
    )),
    // Tinkerbell (CAPT)
    k(
        INFRA,
        "TinkerbellCluster",
        "tinkerbellclusters",
        V1B1,
        "v1beta1",
        Role::InfraCluster,
    ),
    k(
        INFRA,
        "TinkerbellMachine",
        "tinkerbellmachines",
        V1B1,
        "v1beta1",
        Role::InfraMachine,
    ),
    k(
        INFRA,
        "TinkerbellMachineTemplate",
        "tinkerbellmachinetemplates",
        V1B1,
        "v1beta1",
        Role::InfraMachineTemplate,
    ),
    // Nutanix (CAPX)
    k(
        INFRA,
        "NutanixCluster",
        "nutanixclusters",
        V1B1,
        "v1beta1",
        Role::InfraCluster,
    ),
    k(
        INFRA,
        "NutanixMachine",
        "nutanixmachines",
        V1B1,
        "v1beta1",
        Role::InfraMachine,
    ),
    k(
        INFRA,
        "NutanixMachineTemplate",
        "nutanixmachinetemplates",
        V1B1,
        "v1beta1",
        Role::InfraMachineTemplate,
    ),
    k(
        INFRA,
        "NutanixFailureDomain",
        "nutanixfailuredomains",
        V1B1,
        "v1beta1",
        Role::Passive,
    ),
    // CloudStack (CAPC)
    k(
        INFRA,
        "CloudStackCluster",
        "cloudstackclusters",
        CLOUDSTACK,
        "v1beta3",
        Role::InfraCluster,
    ),
    k(
        INFRA,
        "CloudStackMachine",
        "cloudstackmachines",
        CLOUDSTACK,
        "v1beta3",
        Role::InfraMachine,
    ),
    k(
        INFRA,
        "CloudStackMachineTemplate",
        "cloudstackmachinetemplates",
        CLOUDSTACK,
        "v1beta3",
        Role::InfraMachineTemplate,
    ),
    k(
        INFRA,
        "CloudStackFailureDomain",
        "cloudstackfailuredomains",
        &["v1beta2", "v1beta3"],
        "v1beta3",
        Role::Passive,
    ),
    k(
        INFRA,
        "CloudStackAffinityGroup",
        "cloudstackaffinitygroups",
        CLOUDSTACK,
        "v1beta3",
        Role::Passive,
    ),
    k(
        INFRA,
        "CloudStackIsolatedNetwork",
        "cloudstackisolatednetworks",
        CLOUDSTACK,
        "v1beta3",
        Role::Passive,
    ),
    k(
        INFRA,
        "CloudStackMachineStateChecker",
        "cloudstackmachinestatecheckers",
        CLOUDSTACK,
        "v1beta3",
        Role::Passive,
    ),
    k(
        INFRA,
        "CloudStackZone",
        "cloudstackzones",
        V1B1,
        "v1beta1",
        Role::Passive,
    ),
    // Snow (CAPAS)
    k(
        INFRA,
        "AWSSnowCluster",
        "awssnowclusters",
        V1B1,
        "v1beta1",
        Role::InfraCluster,
    ),
    k(
        INFRA,
        "AWSSnowMachine",
        "awssnowmachines",
        V1B1,
        "v1beta1",
        Role::InfraMachine,
    ),
    k(
        INFRA,
        "AWSSnowMachineTemplate",
        "awssnowmachinetemplates",
        V1B1,
        "v1beta1",
        Role::InfraMachineTemplate,
    ),
    k(
        INFRA,
        "AWSSnowIPPool",
        "awssnowippools",
        V1B1,
        "v1beta1",
        Role::Passive,
    ),
];

/// The table entry of a group and kind.
pub fn find(group: &str, kind: &str) -> Option<&'static KindDef> {
    KINDS.iter().find(|d| d.group == group && d.kind == kind)
}

/// The entry of a kind by name alone (kinds are unique across the table).
pub fn by_kind(kind: &str) -> Option<&'static KindDef> {
    KINDS.iter().find(|d| d.kind == kind)
}

/// The instance kind of an infrastructure template kind (`DockerMachineTemplate` ->
/// `DockerMachine`).
pub fn machine_kind_of_template(template_kind: &str) -> Option<&'static KindDef> {
    let base = template_kind.strip_suffix("Template")?;
    by_kind(base).filter(|d| d.role == Role::InfraMachine)
}

/// The provider prefix used in `spec.providerID` for an infrastructure machine kind.
pub fn provider_id_scheme(machine_kind: &str) -> &'static str {
    match machine_kind {
        "DockerMachine" => "docker",
        "VSphereMachine" => "vsphere",
        "TinkerbellMachine" => "tinkerbell",
        "NutanixMachine" => "nutanix",
        "CloudStackMachine" => "cloudstack",
        "AWSSnowMachine" => "aws-snow",
        _ => "sim",
    }
}

/// Permissive stand-ins for the Cluster API, bootstrap, control-plane, etcdadm and
/// infrastructure CRDs of every provider the manifest generator emits, plus the kinds the
/// simulator creates (Machine, MachineSet, KubeadmConfig, EtcdadmConfig, DockerMachine, ...).
///
/// Each CRD has the real group, kind, plural, scope, served versions and storage version, and a
/// status subresource, but its schema is `x-kubernetes-preserve-unknown-fields: true`: the
/// server neither prunes nor validates fields. They are generated in code so a user's clone
/// needs no CRD files at run time; tests that want the real schemas can register the upstream
/// CRDs instead.
pub fn crds() -> Vec<Value> {
    KINDS.iter().map(crd).collect()
}

fn crd(d: &KindDef) -> Value {
    let schema = json!({"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}});
    let versions: Vec<Value> = d
        .versions
        .iter()
        .map(|v| {
            json!({
                "name": v,
                "served": true,
                "storage": *v == d.storage,
                "schema": schema,
                "subresources": {"status": {}},
            })
        })
        .collect();
    let mut names = json!({
        "kind": d.kind,
        "listKind": format!("{}List", d.kind),
        "plural": d.plural,
        "singular": d.kind.to_lowercase(),
    });
    if d.group.ends_with("cluster.x-k8s.io") {
        names["categories"] = json!(["cluster-api"]);
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{}.{}", d.plural, d.group),
            "labels": {"cluster.x-k8s.io/provider": provider_label(d)},
        },
        "spec": {
            "group": d.group,
            "names": names,
            "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
            "versions": versions,
        },
    })
}

fn provider_label(d: &KindDef) -> &'static str {
    match d.group {
        CORE | "addons.cluster.x-k8s.io" => "cluster-api",
        BOOT if d.kind.starts_with("Etcdadm") => "bootstrap-etcdadm-bootstrap",
        BOOT => "bootstrap-kubeadm",
        CP => "control-plane-kubeadm",
        "etcdcluster.cluster.x-k8s.io" => "etcdadm-controller",
        _ => match d.kind {
            k if k.starts_with("Docker") => "infrastructure-docker",
            k if k.starts_with("VSphere") => "infrastructure-vsphere",
            k if k.starts_with("Tinkerbell") => "infrastructure-tinkerbell",
            k if k.starts_with("Nutanix") => "infrastructure-nutanix",
            k if k.starts_with("CloudStack") => "infrastructure-cloudstack",
            _ => "infrastructure-snow",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_storage_version() {
        for d in KINDS {
            assert!(d.versions.contains(&d.storage), "{}", d.kind);
        }
        for c in crds() {
            let n = c["spec"]["versions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["storage"] == true)
                .count();
            assert_eq!(n, 1);
        }
    }

    #[test]
    fn templates_map_to_their_machine_kind() {
        for d in KINDS.iter().filter(|d| d.role == Role::InfraMachineTemplate) {
            assert!(machine_kind_of_template(d.kind).is_some(), "{}", d.kind);
        }
    }
}

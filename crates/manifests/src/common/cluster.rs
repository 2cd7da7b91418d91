//! The Cluster API `Cluster` object.

use std::collections::BTreeMap;

use serde::Serialize;

use anywhere_api::ClusterSpec;

use super::{
    CLUSTER_NAME_LABEL, CONTROL_PLANE_GROUP, ETCD_CLUSTER_GROUP, INFRASTRUCTURE_GROUP, names, system_meta,
};
use crate::Manifest;
use crate::types::cluster_v1beta2::{
    Cidrs, Cluster, ClusterNetwork, ClusterSpec as CapiClusterSpec, ControlPlaneEndpoint, ControlPlaneRef,
};

/// Whether the Cluster carries the `cluster.x-k8s.io/cluster-name` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterLabels {
    /// `cluster.x-k8s.io/cluster-name: <cluster>` (vSphere, Tinkerbell, Nutanix, CloudStack).
    ClusterName,
    /// No labels (Docker).
    None,
}

/// What differs between providers' CAPI Cluster objects.
#[derive(Clone, Debug)]
pub struct ClusterOptions<'a> {
    /// The cluster name.
    pub name: &'a str,
    /// The provider cluster kind, e.g. `VSphereCluster`.
    pub infrastructure_kind: &'a str,
    /// Labels on the Cluster.
    pub labels: ClusterLabels,
    /// `clusterNetwork.serviceDomain` (Docker: `cluster.local`).
    pub service_domain: Option<&'a str>,
    /// `controlPlaneEndpoint` {host, port} (Tinkerbell).
    pub control_plane_endpoint: Option<(&'a str, i64)>,
    /// Whether the cluster has external etcd (adds `managedExternalEtcdRef`).
    pub external_etcd: bool,
}

/// `managedExternalEtcdRef`, a field of EKS Anywhere's CAPI fork.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalEtcdRef {
    managed_external_etcd_ref: ControlPlaneRef,
}

/// The pod and service CIDR blocks of a spec.
pub fn cidr_blocks(spec: &ClusterSpec) -> (Vec<String>, Vec<String>) {
    let network = spec.cluster_network.clone().unwrap_or_default();
    let pods = network.pods.and_then(|p| p.cidr_blocks).unwrap_or_default();
    let services = network.services.and_then(|s| s.cidr_blocks).unwrap_or_default();
    (pods, services)
}

/// Builds the CAPI Cluster: network, control-plane and infrastructure references and, with
/// external etcd, the `managedExternalEtcdRef` to `<cluster>-etcd`.
pub fn capi_cluster(spec: &ClusterSpec, options: &ClusterOptions<'_>) -> Manifest {
    let (pods, services) = cidr_blocks(spec);
    let mut meta = system_meta(options.name);
    if options.labels == ClusterLabels::ClusterName {
        meta.labels = Some(BTreeMap::from([(
            CLUSTER_NAME_LABEL.to_string(),
            options.name.to_string(),
        )]));
    }
    let cluster = Cluster {
        api_version: Some("cluster.x-k8s.io/v1beta2".into()),
        kind: Some("Cluster".into()),
        metadata: Some(meta),
        spec: Some(CapiClusterSpec {
            cluster_network: Some(ClusterNetwork {
                pods: Some(Cidrs {
                    cidr_blocks: Some(pods),
                }),
                services: Some(Cidrs {
                    cidr_blocks: Some(services),
                }),
                service_domain: options.service_domain.map(str::to_string),
                ..Default::default()
            }),
            control_plane_endpoint: options
                .control_plane_endpoint
                .map(|(host, port)| ControlPlaneEndpoint {
                    host: Some(host.to_string()),
                    port: Some(port),
                }),
            control_plane_ref: Some(ControlPlaneRef {
                api_group: Some(CONTROL_PLANE_GROUP.into()),
                kind: Some("KubeadmControlPlane".into()),
                name: Some(names::control_plane_name(options.name)),
            }),
            infrastructure_ref: Some(ControlPlaneRef {
                api_group: Some(INFRASTRUCTURE_GROUP.into()),
                kind: Some(options.infrastructure_kind.to_string()),
                name: Some(options.name.to_string()),
            }),
            ..Default::default()
        }),
        status: None,
    };
    let mut manifest = Manifest::new(&cluster);
    if options.external_etcd {
        let ext = ExternalEtcdRef {
            managed_external_etcd_ref: ControlPlaneRef {
                api_group: Some(ETCD_CLUSTER_GROUP.into()),
                kind: Some("EtcdadmCluster".into()),
                name: Some(names::etcd_cluster_name(options.name)),
            },
        };
        super::merge_into(&mut manifest, "/spec", &ext);
    }
    manifest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> ClusterSpec {
        serde_json::from_value(json!({
            "clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}, "services": {"cidrBlocks": ["10.96.0.0/12"]}}
        }))
        .unwrap()
    }

    fn options() -> ClusterOptions<'static> {
        ClusterOptions {
            name: "test",
            infrastructure_kind: "VSphereCluster",
            labels: ClusterLabels::ClusterName,
            service_domain: None,
            control_plane_endpoint: None,
            external_etcd: false,
        }
    }

    #[test]
    fn cluster_references_control_plane_and_infrastructure_by_cluster_name() {
        let m = capi_cluster(&spec(), &options());
        assert_eq!(m.0["spec"]["controlPlaneRef"]["name"], "test");
        assert_eq!(m.0["spec"]["infrastructureRef"]["kind"], "VSphereCluster");
        assert_eq!(m.0["metadata"]["labels"][CLUSTER_NAME_LABEL], "test");
        assert_eq!(
            m.0["spec"]["clusterNetwork"]["pods"]["cidrBlocks"],
            json!(["192.168.0.0/16"])
        );
        assert!(m.0["spec"].get("managedExternalEtcdRef").is_none());
    }

    #[test]
    fn external_etcd_adds_managed_external_etcd_ref() {
        let m = capi_cluster(
            &spec(),
            &ClusterOptions {
                external_etcd: true,
                ..options()
            },
        );
        assert_eq!(m.0["spec"]["managedExternalEtcdRef"]["name"], "test-etcd");
        assert_eq!(
            m.0["spec"]["managedExternalEtcdRef"]["apiGroup"],
            ETCD_CLUSTER_GROUP
        );
    }

    #[test]
    fn docker_style_cluster_has_service_domain_and_no_labels() {
        let m = capi_cluster(
            &spec(),
            &ClusterOptions {
                labels: ClusterLabels::None,
                service_domain: Some("cluster.local"),
                ..options()
            },
        );
        assert!(m.0["metadata"].get("labels").is_none());
        assert_eq!(m.0["spec"]["clusterNetwork"]["serviceDomain"], "cluster.local");
    }
}

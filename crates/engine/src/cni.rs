//! The default CNI of a workload cluster (Cilium, at the version of the cluster's release).
//!
//! What is applied is a stand-in for Cilium's full manifest: the ServiceAccount, the
//! `cilium-config` ConfigMap (pod CIDR, routing mode), the agent DaemonSet and the operator
//! Deployment, with the images and version of the release catalog. It carries everything the
//! engine's ordering and upgrade logic depends on (version changes roll the DaemonSet), and it is
//! what the simulated infrastructure checks; a real cluster needs Cilium's complete manifest
//! (RBAC, CRDs, agent arguments), which EKS Anywhere renders from the Cilium chart. Rendering
//! that chart is not done yet.

use anywhere_api::ConfigSet;
use anywhere_catalog::Catalog;
use serde_json::{Value, json};

use crate::kube_ops::Kube;

/// Version annotation on the CNI objects.
pub const VERSION_ANNOTATION: &str = "anywhere.eks.amazonaws.com/cilium-version";

/// The CNI objects for the cluster of `set`.
///
/// # Errors
/// The cluster's Kubernetes version is not in the catalog.
pub fn objects(set: &ConfigSet, catalog: &Catalog) -> Result<Vec<Value>, String> {
    let spec = set.cluster.spec.clone().unwrap_or_default();
    let version = spec.kubernetes_version.clone().unwrap_or_default();
    let kube_version = catalog
        .check_kubernetes_version(&version)
        .map_err(|e| e.to_string())?;
    let bundle = catalog.versions_bundle(kube_version).map_err(|e| e.to_string())?;
    let cilium = bundle.cilium.clone().unwrap_or_default();
    let image = |c: &Option<anywhere_catalog::generated::Controller>| {
        c.as_ref().and_then(|c| c.uri.clone()).unwrap_or_default()
    };
    let cilium_version = cilium.version.clone().unwrap_or_default();
    let pods = spec
        .cluster_network
        .as_ref()
        .and_then(|n| n.pods.as_ref())
        .and_then(|p| p.cidr_blocks.as_ref())
        .and_then(|c| c.first().cloned())
        .unwrap_or_default();
    let meta = |kind_name: &str| {
        json!({"name": kind_name, "namespace": "kube-system",
            "labels": {"k8s-app": kind_name, "app.kubernetes.io/part-of": "cilium"},
            "annotations": {VERSION_ANNOTATION: cilium_version}})
    };
    let pod = |app: &str, image: String| {
        json!({"metadata": {"labels": {"k8s-app": app}},
            "spec": {"serviceAccountName": "cilium", "hostNetwork": true,
                "containers": [{"name": app, "image": image}]}})
    };
    Ok(vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("cilium")}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cilium-config"),
            "data": {"cluster-pool-ipv4-cidr": pods, "routing-mode": "tunnel", "tunnel-protocol": "geneve",
                "ipam": "cluster-pool", "kube-proxy-replacement": "false"}}),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta("cilium"),
            "spec": {"selector": {"matchLabels": {"k8s-app": "cilium"}},
                "template": pod("cilium", image(&cilium.cilium))}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("cilium-operator"),
            "spec": {"replicas": 1, "selector": {"matchLabels": {"k8s-app": "cilium-operator"}},
                "template": pod("cilium-operator", image(&cilium.operator))}}),
    ])
}

/// Applies the CNI objects to the workload cluster (`workload`: its client, or why there is
/// none yet).
///
/// # Errors
/// Why the CNI is not configured (unreachable cluster, refused object).
pub async fn apply(workload: Result<Kube, String>, set: &ConfigSet, catalog: &Catalog) -> Result<(), String> {
    let workload = workload?;
    for object in objects(set, catalog)? {
        workload
            .apply(&object)
            .await
            .map_err(|e| format!("workload cluster: {e}"))?;
    }
    Ok(())
}

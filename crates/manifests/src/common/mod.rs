//! Pieces every provider shares: names, the CAPI Cluster, KubeadmControlPlane and
//! KubeadmConfigTemplate skeletons, kubelet and API-server settings, proxy and registry-mirror
//! configuration, audit policy, external etcd.
//!
//! Each piece is a small pure function or an options struct plus a builder. Providers build the
//! typed objects here, adjust what is theirs (machine templates, kube-vip, CPI/CCM) and wrap the
//! result in [`crate::Manifest`]. Differences between providers are parameters of the options
//! structs, never copies of the skeleton.
//!
//! Code map:
//! - [`names`], [`args`] (`extraArgs` lists: literal head, sorted computed args, `node-labels`);
//! - [`cluster`] (CAPI Cluster), [`control_plane`] (KubeadmControlPlane and its
//!   `clusterConfiguration`), [`workers`] (KubeadmConfigTemplate, MachineDeployment), [`etcd`]
//!   (EtcdadmCluster), [`machine_health_check`];
//! - node settings: [`kubelet`], [`taints`], [`users`], [`kube_vip`], [`audit`], [`admission`],
//!   [`encryption`], [`aws_iam`], [`proxy`], [`registry_mirror`], [`bottlerocket`].
//!
//! The Cluster API CRDs our types are generated from are upstream's; EKS Anywhere's forks add a
//! few fields (Bottlerocket settings, `certBundles`, `managedExternalEtcdRef`). Those are typed
//! in [`bottlerocket`] and [`cluster`] and merged into the serialised object with
//! [`merge_into`].

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use anywhere_api::meta::ObjectMeta;

use crate::{Error, Manifest, Result, SYSTEM_NAMESPACE};

pub mod admission;
pub mod args;
pub mod audit;
pub mod aws_iam;
pub mod bottlerocket;
pub mod cluster;
pub mod control_plane;
pub mod egress;
pub mod encryption;
pub mod etcd;
pub mod kube_vip;
pub mod kubelet;
pub mod machine_health_check;
pub mod names;
pub mod proxy;
pub mod registry_mirror;
pub mod taints;
pub mod users;
pub mod workers;

/// The one TLS cipher suite EKS Anywhere pins for etcd, the API server, controller manager,
/// scheduler and kubelet.
pub const TLS_CIPHER_SUITES: &str = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";

/// The cloud-init placeholder for the machine's hostname; literal output, not a template of ours.
pub const HOSTNAME_PLACEHOLDER: &str = "{{ ds.meta_data.hostname }}";

/// containerd's CRI socket, set as `nodeRegistration.criSocket`.
pub const CONTAINERD_SOCKET: &str = "/var/run/containerd/containerd.sock";

/// The API group of every infrastructure provider's kinds.
pub const INFRASTRUCTURE_GROUP: &str = "infrastructure.cluster.x-k8s.io";
/// The API group of KubeadmControlPlane.
pub const CONTROL_PLANE_GROUP: &str = "controlplane.cluster.x-k8s.io";
/// The API group of KubeadmConfigTemplate.
pub const BOOTSTRAP_GROUP: &str = "bootstrap.cluster.x-k8s.io";
/// The API group of EtcdadmCluster.
pub const ETCD_CLUSTER_GROUP: &str = "etcdcluster.cluster.x-k8s.io";
/// The label every cluster-scoped object carries: `cluster.x-k8s.io/cluster-name`.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";

/// `{name, namespace: eksa-system}` metadata.
pub fn system_meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(SYSTEM_NAMESPACE.to_string()),
        ..Default::default()
    }
}

/// The minor version of an EKS Distro Kubernetes tag (`v1.21.2-eks-1-21-4` → 21).
///
/// # Errors
/// [`Error::Invalid`] when the tag has no numeric second field.
pub fn kube_minor(tag: &str) -> Result<u32> {
    tag.trim_start_matches('v')
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| Error::Invalid {
            what: "Kubernetes version tag".into(),
            why: format!("{tag:?} has no minor version"),
        })
}

/// The cloud-init commands that set the hostname and `/etc/hosts` (vSphere, CloudStack,
/// external etcd).
pub fn hostname_commands() -> Vec<String> {
    let h = HOSTNAME_PLACEHOLDER;
    vec![
        format!("hostname \"{h}\""),
        "echo \"::1         ipv6-localhost ipv6-loopback\" >/etc/hosts".to_string(),
        "echo \"127.0.0.1   localhost\" >>/etc/hosts".to_string(),
        format!("echo \"127.0.0.1   {h}\" >>/etc/hosts"),
        format!("echo \"{h}\" >/etc/hostname"),
    ]
}

/// Converts between two generated types with the same wire form (the kubeadm structs exist once
/// per API group: `controlplane_v1beta2::File` and `bootstrap_v1beta2::File` are one schema).
///
/// Panics only if the two schemas differ, which is a bug in the caller's choice of types.
pub fn retype<A: Serialize, B: DeserializeOwned>(value: &A) -> B {
    let json = serde_json::to_value(value).expect("generated types serialise to JSON");
    serde_json::from_value(json).expect("retype between types of one wire schema")
}

/// Merges the fields of a typed extension into the object at `pointer` (a JSON pointer such as
/// `/spec/kubeadmConfigSpec/clusterConfiguration`) of a serialised manifest, creating the path if
/// needed. Used for fields EKS Anywhere's CAPI forks add to upstream schemas.
pub fn merge_into<T: Serialize>(manifest: &mut Manifest, pointer: &str, extension: &T) {
    let Value::Object(fields) = serde_json::to_value(extension).expect("extensions serialise to JSON") else {
        return;
    };
    if fields.is_empty() {
        return;
    }
    let mut target = &mut manifest.0;
    for segment in pointer.split('/').filter(|s| !s.is_empty()) {
        if !target.is_object() {
            *target = Value::Object(Default::default());
        }
        target = target
            .as_object_mut()
            .expect("just made an object")
            .entry(segment.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let map = target.as_object_mut().expect("just made an object");
    for (k, v) in fields {
        map.insert(k, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_into_creates_missing_path_and_keeps_siblings() {
        let mut m = Manifest(json!({"spec": {"a": 1}}));
        merge_into(&mut m, "/spec/b", &json!({"c": 2}));
        assert_eq!(m.0, json!({"spec": {"a": 1, "b": {"c": 2}}}));
    }

    #[test]
    fn merge_into_ignores_empty_extensions() {
        let mut m = Manifest(json!({"spec": {}}));
        merge_into(&mut m, "/spec/x", &json!({}));
        assert_eq!(m.0, json!({"spec": {}}));
    }

    #[test]
    fn kube_minor_reads_the_second_field_of_the_tag() {
        assert_eq!(kube_minor("v1.21.2-eks-1-21-4").unwrap(), 21);
        assert_eq!(kube_minor("v1.29.0-eks-1-29-4").unwrap(), 29);
        assert!(matches!(kube_minor("latest"), Err(Error::Invalid { .. })));
        assert!(kube_minor("garbage").is_err());
    }

    #[test]
    fn hostname_commands_write_hosts_and_hostname() {
        let c = hostname_commands();
        assert_eq!(c.len(), 5);
        assert_eq!(c[0], "hostname \"{{ ds.meta_data.hostname }}\"");
        assert_eq!(c[4], "echo \"{{ ds.meta_data.hostname }}\" >/etc/hostname");
    }
}

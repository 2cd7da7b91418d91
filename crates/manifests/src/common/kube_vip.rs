//! The kube-vip static pod that holds the control-plane endpoint address (vSphere, Tinkerbell,
//! Nutanix, CloudStack), built as a typed Pod and printed as the content of a kubeadm file.

use serde::Serialize;

use crate::types::controlplane_v1beta2::File;

/// Where kubeadm picks the static pod up.
pub const MANIFEST_PATH: &str = "/etc/kubernetes/manifests/kube-vip.yaml";
/// The kubeconfig kube-vip mounts on cloud-init nodes.
pub const ADMIN_KUBECONFIG: &str = "/etc/kubernetes/admin.conf";
/// The kubeconfig kube-vip mounts on Bottlerocket nodes.
pub const BOTTLEROCKET_ADMIN_KUBECONFIG: &str = "/var/lib/kubeadm/admin.conf";

/// The pre-kubeadm command that points kube-vip at `super-admin.conf` on the first control-plane
/// node (Kubernetes ≥ 1.29).
pub const SUPER_ADMIN_COMMAND: &str = "if [ -f /run/kubeadm/kubeadm.yaml ]; then sed -i 's#path: /etc/kubernetes/admin.conf#path: /etc/kubernetes/super-admin.conf#' /etc/kubernetes/manifests/kube-vip.yaml; fi";

/// What differs between providers' kube-vip pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeVipOptions {
    /// Environment variables, in order (see [`standard_env`]).
    pub env: Vec<(String, String)>,
    /// The kube-vip image.
    pub image: String,
    /// The host path of the kubeconfig kube-vip mounts at `/etc/kubernetes/admin.conf`.
    pub kubeconfig_host_path: String,
    /// `hostPath.type` of the kubeconfig volume (Nutanix: `FileOrCreate`).
    pub host_path_type: Option<String>,
    /// Added capabilities, in order.
    pub capabilities: Vec<String>,
}

/// The environment of vSphere's and Tinkerbell's kube-vip: ARP mode, leader election and the
/// endpoint `address` last.
pub fn standard_env(address: &str) -> Vec<(String, String)> {
    [
        ("vip_arp", "true"),
        ("port", "6443"),
        ("vip_cidr", "32"),
        ("cp_enable", "true"),
        ("cp_namespace", "kube-system"),
        ("vip_ddns", "false"),
        ("vip_leaderelection", "true"),
        ("vip_leaseduration", "15"),
        ("vip_renewdeadline", "10"),
        ("vip_retryperiod", "2"),
        ("address", address),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// vSphere's and Tinkerbell's options: [`standard_env`], `NET_ADMIN` and `NET_RAW`.
pub fn standard_options(address: &str, image: &str, kubeconfig_host_path: &str) -> KubeVipOptions {
    KubeVipOptions {
        env: standard_env(address),
        image: image.to_string(),
        kubeconfig_host_path: kubeconfig_host_path.to_string(),
        host_path_type: None,
        capabilities: vec!["NET_ADMIN".into(), "NET_RAW".into()],
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pod {
    api_version: &'static str,
    kind: &'static str,
    metadata: PodMeta,
    spec: PodSpec,
    status: Empty,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodMeta {
    creation_timestamp: Option<String>,
    name: &'static str,
    namespace: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    containers: Vec<Container>,
    host_network: bool,
    volumes: Vec<Volume>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    args: Vec<&'static str>,
    env: Vec<EnvVar>,
    image: String,
    image_pull_policy: &'static str,
    name: &'static str,
    resources: Empty,
    security_context: SecurityContext,
    volume_mounts: Vec<VolumeMount>,
}

#[derive(Serialize)]
struct EnvVar {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct SecurityContext {
    capabilities: Capabilities,
}

#[derive(Serialize)]
struct Capabilities {
    add: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeMount {
    mount_path: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Volume {
    host_path: HostPath,
    name: &'static str,
}

#[derive(Serialize)]
struct HostPath {
    path: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
}

/// The kube-vip manifest text.
pub fn manifest(options: &KubeVipOptions) -> String {
    print(&pod_value(options))
}

/// The kube-vip manifest as EKS Anywhere's typed Go builders print it (Snow): the same pod
/// without `metadata.creationTimestamp`, which the templates print as `null` and the Go
/// serialiser omits.
pub fn manifest_without_creation_timestamp(options: &KubeVipOptions) -> String {
    let mut pod = pod_value(options);
    if let Some(meta) = pod.get_mut("metadata").and_then(serde_json::Value::as_object_mut) {
        meta.shift_remove("creationTimestamp");
    }
    print(&pod)
}

fn print(pod: &serde_json::Value) -> String {
    anywhere_api::yaml::to_string(pod, anywhere_api::yaml::KeyOrder::AsIs)
}

fn pod_value(options: &KubeVipOptions) -> serde_json::Value {
    let pod = Pod {
        api_version: "v1",
        kind: "Pod",
        metadata: PodMeta {
            creation_timestamp: None,
            name: "kube-vip",
            namespace: "kube-system",
        },
        spec: PodSpec {
            containers: vec![Container {
                args: vec!["manager"],
                env: options
                    .env
                    .iter()
                    .map(|(k, v)| EnvVar {
                        name: k.clone(),
                        value: v.clone(),
                    })
                    .collect(),
                image: options.image.clone(),
                image_pull_policy: "IfNotPresent",
                name: "kube-vip",
                resources: Empty {},
                security_context: SecurityContext {
                    capabilities: Capabilities {
                        add: options.capabilities.clone(),
                    },
                },
                volume_mounts: vec![VolumeMount {
                    mount_path: ADMIN_KUBECONFIG,
                    name: "kubeconfig",
                }],
            }],
            host_network: true,
            volumes: vec![Volume {
                host_path: HostPath {
                    path: options.kubeconfig_host_path.clone(),
                    kind: options.host_path_type.clone(),
                },
                name: "kubeconfig",
            }],
        },
        status: Empty {},
    };
    serde_json::to_value(pod).expect("kube-vip pod serialises")
}

/// The kube-vip static pod as a kubeadm file.
pub fn file(options: &KubeVipOptions) -> File {
    File {
        content: Some(manifest(options)),
        owner: Some("root:root".into()),
        path: Some(MANIFEST_PATH.into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_pod_puts_address_last_and_mounts_the_kubeconfig() {
        let text = manifest(&standard_options("1.2.3.4", "kv:1", ADMIN_KUBECONFIG));
        assert!(text.starts_with(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  creationTimestamp: null\n  name: kube-vip\n"
        ));
        assert!(text.contains("    - name: address\n      value: 1.2.3.4\n    image: kv:1\n"));
        assert!(text.contains("  volumes:\n  - hostPath:\n      path: /etc/kubernetes/admin.conf\n    name: kubeconfig\nstatus: {}\n"));
    }

    #[test]
    fn go_builder_form_has_no_creation_timestamp() {
        let o = standard_options("a", "i", ADMIN_KUBECONFIG);
        let text = manifest_without_creation_timestamp(&o);
        assert!(!text.contains("creationTimestamp"));
        assert_eq!(text, manifest(&o).replace("  creationTimestamp: null\n", ""));
    }

    #[test]
    fn host_path_type_is_written_when_set() {
        let mut o = standard_options("a", "i", ADMIN_KUBECONFIG);
        o.host_path_type = Some("FileOrCreate".into());
        assert!(manifest(&o).contains("type: FileOrCreate"));
    }
}

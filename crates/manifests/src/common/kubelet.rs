//! Kubelet settings: computed extra args, or a kubelet configuration patch file when the spec
//! has a `kubeletConfiguration` (README 5 "Kubelet configuration", A.2).

use std::collections::BTreeMap;

use serde_json::Value;

use super::TLS_CIPHER_SUITES;
use super::args::Args;
use crate::types::controlplane_v1beta2::{File, Patches};

/// The kubeadm patches directory.
pub const PATCHES_DIRECTORY: &str = "/etc/kubernetes/patches";
/// The kubelet configuration patch file.
pub const KUBELET_CONFIGURATION_PATCH_PATH: &str =
    "/etc/kubernetes/patches/kubeletconfiguration0+strategic.yaml";

/// `eviction-hard` thresholds that turn disk-pressure eviction off (Docker and Nutanix nodes).
pub const EVICTION_HARD_DISABLED: &str = "nodefs.available<0%,nodefs.inodesFree<0%,imagefs.available<0%";

/// Where a node's kubelet takes its settings from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KubeletSettings {
    /// The kubelet configuration patch file ([`configuration_file`]); the args carry no
    /// settings.
    ConfigurationFile,
    /// Command-line flags.
    Flags,
}

impl KubeletSettings {
    /// [`KubeletSettings::ConfigurationFile`] when the node has a kubelet configuration to
    /// write, else [`KubeletSettings::Flags`].
    pub fn of(configuration: Option<&Value>) -> KubeletSettings {
        match configuration {
            Some(_) => KubeletSettings::ConfigurationFile,
            None => KubeletSettings::Flags,
        }
    }
}

/// The kubelet args of a node: the provider's literal `head` (`provider-id` or
/// `cloud-provider`); with [`KubeletSettings::Flags`] then `read-only-port=0`,
/// `anonymous-auth=false` and the [`computed_args`]; `node-labels` last.
pub fn node_args(
    head: Args,
    settings: KubeletSettings,
    resolv_conf: Option<&str>,
    labels: Option<&BTreeMap<String, String>>,
) -> Args {
    let args = match settings {
        KubeletSettings::ConfigurationFile => head,
        KubeletSettings::Flags => head
            .with("read-only-port", "0")
            .with("anonymous-auth", "false")
            .with_sorted(&computed_args(resolv_conf)),
    };
    args.with_node_labels(labels)
}

/// The computed kubelet args (merged after a provider's literal head, sorted): `resolv-conf`
/// when the cluster sets one, and `tls-cipher-suites`.
pub fn computed_args(resolv_conf: Option<&str>) -> BTreeMap<String, String> {
    let mut args = BTreeMap::from([("tls-cipher-suites".to_string(), TLS_CIPHER_SUITES.to_string())]);
    if let Some(path) = resolv_conf.filter(|p| !p.is_empty()) {
        args.insert("resolv-conf".into(), path.into());
    }
    args
}

/// The user's kubelet configuration completed the way EKS Anywhere writes it to the patch file:
/// `tlsCipherSuites` and `resolvConf` added when absent, plus the given provider `defaults`
/// (e.g. Docker's `failCgroupV1: false`) when absent.
pub fn completed_configuration(
    config: &Value,
    resolv_conf: Option<&str>,
    defaults: &[(&str, Value)],
) -> Value {
    let mut map = config.as_object().cloned().unwrap_or_default();
    map.entry("tlsCipherSuites")
        .or_insert_with(|| Value::from(vec![TLS_CIPHER_SUITES]));
    if let Some(path) = resolv_conf.filter(|p| !p.is_empty()) {
        map.entry("resolvConf").or_insert_with(|| Value::from(path));
    }
    for (k, v) in defaults {
        map.entry(k.to_string()).or_insert_with(|| v.clone());
    }
    Value::Object(map)
}

/// The kubelet configuration patch file (YAML, sorted keys, mode `0644`).
pub fn configuration_file(config: &Value, resolv_conf: Option<&str>, defaults: &[(&str, Value)]) -> File {
    let completed = completed_configuration(config, resolv_conf, defaults);
    File {
        content: Some(anywhere_api::yaml::to_string(
            &completed,
            anywhere_api::yaml::KeyOrder::Sorted,
        )),
        owner: Some("root:root".into()),
        permissions: Some("0644".into()),
        path: Some(KUBELET_CONFIGURATION_PATCH_PATH.into()),
        ..Default::default()
    }
}

/// `patches: {directory: /etc/kubernetes/patches}` for init and join configurations.
pub fn patches() -> Patches {
    Patches {
        directory: Some(PATCHES_DIRECTORY.into()),
    }
}

/// A kubelet configuration as Bottlerocket kubernetes settings: the object minus `kind` and
/// `apiVersion`, nothing injected.
pub fn bottlerocket_settings(config: &Value) -> Value {
    let mut map = config.as_object().cloned().unwrap_or_default();
    map.remove("kind");
    map.remove("apiVersion");
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn file_content_adds_cipher_suites_and_resolv_conf_sorted() {
        let f = configuration_file(&json!({"maxPods": 20}), Some("test-path"), &[]);
        assert_eq!(
            f.content.as_deref(),
            Some(
                "maxPods: 20\nresolvConf: test-path\ntlsCipherSuites:\n- TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
            )
        );
        assert_eq!(f.permissions.as_deref(), Some("0644"));
    }

    #[test]
    fn user_values_are_not_overridden() {
        let c = completed_configuration(
            &json!({"tlsCipherSuites": ["X"], "resolvConf": "mine"}),
            Some("p"),
            &[],
        );
        assert_eq!(c, json!({"tlsCipherSuites": ["X"], "resolvConf": "mine"}));
    }

    #[test]
    fn computed_args_include_resolv_conf_only_when_set() {
        assert_eq!(computed_args(None).len(), 1);
        assert_eq!(
            computed_args(Some("p")).get("resolv-conf").map(String::as_str),
            Some("p")
        );
    }

    fn names(args: &Args) -> Vec<&str> {
        args.pairs().iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn flags_follow_the_head_and_node_labels_come_last() {
        let labels = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let args = node_args(
            Args::literal(&[("provider-id", "p")]),
            KubeletSettings::Flags,
            Some("/r"),
            Some(&labels),
        );
        assert_eq!(
            names(&args),
            [
                "provider-id",
                "read-only-port",
                "anonymous-auth",
                "resolv-conf",
                "tls-cipher-suites",
                "node-labels"
            ]
        );
        assert_eq!(args.pairs()[1].1, "0");
        assert_eq!(args.pairs()[2].1, "false");
    }

    #[test]
    fn a_configuration_file_leaves_only_head_and_labels() {
        let labels = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let head = || Args::literal(&[("cloud-provider", "external")]);
        let settings = KubeletSettings::of(Some(&json!({"maxPods": 20})));
        assert_eq!(settings, KubeletSettings::ConfigurationFile);
        assert_eq!(
            names(&node_args(head(), settings, Some("/r"), Some(&labels))),
            ["cloud-provider", "node-labels"]
        );
        assert_eq!(
            names(&node_args(head(), settings, None, None)),
            ["cloud-provider"]
        );
        assert_eq!(KubeletSettings::of(None), KubeletSettings::Flags);
    }

    #[test]
    fn bottlerocket_settings_drop_kind_and_api_version() {
        let s =
            bottlerocket_settings(&json!({"kind": "KubeletConfiguration", "apiVersion": "x", "maxPods": 20}));
        assert_eq!(s, json!({"maxPods": 20}));
    }
}

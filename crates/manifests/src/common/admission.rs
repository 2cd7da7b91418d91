//! Admission exclusion for system resources (`skipAdmissionForSystemResources`, README 5).

use serde::Serialize;

use crate::types::controlplane_v1beta2::{ExtraEnv, ExtraVolume, File};

/// The rules file on the node.
pub const EXCLUSION_RULES_PATH: &str = "/etc/kubernetes/admission-plugin-exclusion-rules.json";
/// Where Bottlerocket keeps the rules file on the host.
pub const BOTTLEROCKET_EXCLUSION_RULES_HOST_PATH: &str =
    "/var/lib/kubeadm/admission-plugin-exclusion-rules.json";

/// One entry of the EKS Distro API server's admission exclusion list: requests by `username`
/// on the named objects skip the admission plugins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExclusionRule {
    api_group: &'static str,
    /// A version, or `*` for all.
    api_version: &'static str,
    kind: &'static str,
    #[serde(flatten)]
    scope: Scope,
    /// Object names, or `["*"]` for all.
    name: Vec<&'static str>,
    /// A user name, or `*` for all.
    username: &'static str,
}

/// Where the excluded objects live; a namespaced rule always names its namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "scope")]
enum Scope {
    /// `scope: Namespaced` with `namespace`.
    Namespaced { namespace: &'static str },
    /// `scope: Cluster`, no namespace.
    Cluster,
}

const ALL: &str = "*";
const API_SERVER: &str = "system:apiserver";
const CONTROLLER_MANAGER: &str = "system:kube-controller-manager";
const KUBE_SYSTEM: Scope = Scope::Namespaced {
    namespace: "kube-system",
};
const KUBE_PUBLIC: Scope = Scope::Namespaced {
    namespace: "kube-public",
};

/// The aggregated API services the API server itself keeps registered (as EKS Anywhere lists
/// them, `v1alpha3.resource.k8s.io` twice).
const SYSTEM_API_SERVICES: [&str; 50] = [
    "v1.apps",
    "v1.autoscaling",
    "v2.autoscaling",
    "v2beta1.autoscaling",
    "v2beta2.autoscaling",
    "v1.batch",
    "v1beta1.batch",
    "v2alpha1.batch",
    "v1.networking.k8s.io",
    "v1beta1.networking.k8s.io",
    "v1alpha1.networking.k8s.io",
    "v1.policy",
    "v1beta1.policy",
    "v1.storage.k8s.io",
    "v1beta1.storage.k8s.io",
    "v1alpha1.storage.k8s.io",
    "v1beta2.resource.k8s.io",
    "v1beta1.coordination.k8s.io",
    "v1beta1.certificates.k8s.io",
    "v1.scheduling.k8s.io",
    "v1.node.k8s.io",
    "v1alpha1.node.k8s.io",
    "v1beta1.node.k8s.io",
    "v1beta1.resource.k8s.io",
    "v1alpha3.resource.k8s.io",
    "v1.events.k8s.io",
    "v1beta1.events.k8s.io",
    "v1.authentication.k8s.io",
    "v1beta1.authentication.k8s.io",
    "v1alpha1.authentication.k8s.io",
    "v1.authorization.k8s.io",
    "v1.certificates.k8s.io",
    "v1alpha1.certificates.k8s.io",
    "v1.rbac.authorization.k8s.io",
    "v1.apiextensions.k8s.io",
    "v1.admissionregistration.k8s.io",
    "v1beta1.admissionregistration.k8s.io",
    "v1alpha1.admissionregistration.k8s.io",
    "v1.coordination.k8s.io",
    "v1alpha2.coordination.k8s.io",
    "v1.discovery.k8s.io",
    "v1beta1.discovery.k8s.io",
    "v1.flowcontrol.apiserver.k8s.io",
    "v1beta3.flowcontrol.apiserver.k8s.io",
    "v1beta2.flowcontrol.apiserver.k8s.io",
    "v1beta1.flowcontrol.apiserver.k8s.io",
    "v1alpha1.flowcontrol.apiserver.k8s.io",
    "v1alpha1.internal.apiserver.k8s.io",
    "v1alpha3.resource.k8s.io",
    "v1alpha1.storagemigration.k8s.io",
];

/// The exclusion list EKS Anywhere writes: the objects that controllers of the control plane,
/// the API server and the cluster's own add-ons (Cilium, kube-proxy, CoreDNS, cert-manager)
/// must be able to change even when an admission webhook is down.
fn exclusion_rules() -> Vec<ExclusionRule> {
    let rule = |api_group, api_version, kind, scope, name: &[&'static str], username| ExclusionRule {
        api_group,
        api_version,
        kind,
        scope,
        name: name.to_vec(),
        username,
    };
    vec![
        rule("", "v1", "TokenRequest", KUBE_SYSTEM, &[ALL], CONTROLLER_MANAGER),
        rule(
            "",
            "v1",
            "ServiceAccount",
            KUBE_SYSTEM,
            &[ALL],
            CONTROLLER_MANAGER,
        ),
        rule(
            "coordination.k8s.io",
            "v1",
            "Lease",
            KUBE_SYSTEM,
            &[
                "kube-controller-manager",
                "kube-scheduler",
                "cilium-operator-resource-lock",
                "cert-manager-controller",
                "cert-manager-cainjector-leader-election",
            ],
            ALL,
        ),
        rule(
            "coordination.k8s.io",
            "v1",
            "Lease",
            Scope::Namespaced {
                namespace: "kube-node-lease",
            },
            &[ALL],
            ALL,
        ),
        rule(
            "flowcontrol.apiserver.k8s.io",
            ALL,
            "FlowSchema",
            Scope::Cluster,
            &[ALL],
            API_SERVER,
        ),
        rule(
            "flowcontrol.apiserver.k8s.io",
            ALL,
            "PriorityLevelConfiguration",
            Scope::Cluster,
            &[ALL],
            API_SERVER,
        ),
        rule(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            Scope::Cluster,
            &[ALL],
            API_SERVER,
        ),
        rule(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            Scope::Cluster,
            &[ALL],
            API_SERVER,
        ),
        rule(
            "rbac.authorization.k8s.io",
            "v1",
            "Role",
            KUBE_SYSTEM,
            &[ALL],
            API_SERVER,
        ),
        rule(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            KUBE_SYSTEM,
            &[ALL],
            API_SERVER,
        ),
        rule(
            "rbac.authorization.k8s.io",
            "v1",
            "Role",
            KUBE_PUBLIC,
            &[ALL],
            API_SERVER,
        ),
        rule(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            KUBE_PUBLIC,
            &[ALL],
            API_SERVER,
        ),
        rule(
            "apiregistration.k8s.io",
            "v1",
            "APIService",
            Scope::Cluster,
            &SYSTEM_API_SERVICES,
            API_SERVER,
        ),
        rule(
            "",
            "v1",
            "Pod",
            KUBE_SYSTEM,
            &[ALL],
            "system:serviceaccount:kube-system:daemon-set-controller",
        ),
        rule(
            "",
            "v1",
            "Pod",
            KUBE_SYSTEM,
            &[ALL],
            "system:serviceaccount:kube-system:replicaset-controller",
        ),
        rule(
            "apps",
            "v1",
            "DaemonSet",
            KUBE_SYSTEM,
            &["cilium", "kube-proxy"],
            ALL,
        ),
        rule(
            "apps",
            "v1",
            "Deployment",
            KUBE_SYSTEM,
            &["cilium-operator", "coredns"],
            ALL,
        ),
    ]
}

/// The rules file (pretty JSON) as a kubeadm file.
pub fn exclusion_rules_file() -> File {
    let json = serde_json::to_string_pretty(&exclusion_rules()).expect("exclusion rules serialise to JSON");
    File {
        content: Some(format!("{json}\n")),
        owner: Some("root:root".into()),
        path: Some(EXCLUSION_RULES_PATH.into()),
        ..Default::default()
    }
}

/// The API-server environment variable naming the rules file.
pub fn exclusion_rules_env() -> ExtraEnv {
    ExtraEnv {
        name: Some("EKS_PATCH_EXCLUSION_RULES_FILE".into()),
        value: Some(EXCLUSION_RULES_PATH.into()),
        value_from: None,
    }
}

/// The API-server volume mounting the rules file; `host_path` is [`EXCLUSION_RULES_PATH`] or, on
/// Bottlerocket, [`BOTTLEROCKET_EXCLUSION_RULES_HOST_PATH`].
pub fn exclusion_rules_volume(host_path: &str) -> ExtraVolume {
    ExtraVolume {
        host_path: Some(host_path.into()),
        mount_path: Some(EXCLUSION_RULES_PATH.into()),
        name: Some("admission-exclusion-rules".into()),
        path_type: Some("File".into()),
        read_only: Some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rules_json() -> Value {
        let content = exclusion_rules_file().content.unwrap();
        assert!(content.ends_with("]\n"));
        serde_json::from_str(&content).unwrap()
    }

    #[test]
    fn rules_file_lists_seventeen_rules() {
        let rules = rules_json();
        let rules = rules.as_array().unwrap();
        assert_eq!(rules.len(), 17);
        assert_eq!(
            rules[0],
            json!({
                "apiGroup": "", "apiVersion": "v1", "kind": "TokenRequest", "scope": "Namespaced",
                "namespace": "kube-system", "name": ["*"], "username": "system:kube-controller-manager"
            })
        );
        assert_eq!(
            rules[16],
            json!({
                "apiGroup": "apps", "apiVersion": "v1", "kind": "Deployment", "scope": "Namespaced",
                "namespace": "kube-system", "name": ["cilium-operator", "coredns"], "username": "*"
            })
        );
    }

    #[test]
    fn cluster_scoped_rules_have_no_namespace() {
        let rules = rules_json();
        let flow_schema = &rules[4];
        assert_eq!(flow_schema["kind"], "FlowSchema");
        assert_eq!(flow_schema["scope"], "Cluster");
        assert_eq!(flow_schema["apiVersion"], "*");
        assert!(flow_schema.get("namespace").is_none());
        for rule in rules.as_array().unwrap() {
            assert_eq!(
                rule.get("namespace").is_some(),
                rule["scope"] == "Namespaced",
                "{rule}"
            );
        }
    }

    #[test]
    fn api_services_rule_lists_the_system_api_services() {
        let rules = rules_json();
        let api_services = &rules[12];
        assert_eq!(api_services["kind"], "APIService");
        let names = api_services["name"].as_array().unwrap();
        assert_eq!(names.len(), 50);
        assert_eq!(names[0], "v1.apps");
        assert_eq!(names[49], "v1alpha1.storagemigration.k8s.io");
    }

    #[test]
    fn volume_mounts_the_rules_file_read_only() {
        let v = exclusion_rules_volume(BOTTLEROCKET_EXCLUSION_RULES_HOST_PATH);
        assert_eq!(v.mount_path.as_deref(), Some(EXCLUSION_RULES_PATH));
        assert_eq!(v.read_only, Some(true));
    }
}

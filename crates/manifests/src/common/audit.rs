//! The API server's audit policy file, arguments and volumes (README 5 "Audit policy").

use serde::Serialize;

use anywhere_api::ClusterSpec;

use super::args::Args;
use crate::types::controlplane_v1beta2::{ExtraVolume, File};

/// The audit policy file on the node.
pub const AUDIT_POLICY_PATH: &str = "/etc/kubernetes/audit-policy.yaml";
/// Where Bottlerocket keeps the audit policy on the host.
pub const BOTTLEROCKET_AUDIT_POLICY_HOST_PATH: &str = "/var/lib/kubeadm/audit-policy.yaml";

/// The audit policy text: the user's `auditPolicyContent` (trimmed) when set, else EKS
/// Anywhere's default policy, `audit.k8s.io/v1beta1` below Kubernetes 1.24 and `v1` from 1.24 on,
/// serialised with sorted keys.
pub fn audit_policy(minor: u32, user_content: Option<&str>) -> String {
    if let Some(content) = user_content.map(str::trim).filter(|c| !c.is_empty()) {
        return format!("{content}\n");
    }
    anywhere_api::yaml::to_string(
        &serde_json::to_value(default_policy(PolicyVersion::for_minor(minor)))
            .expect("audit policy serialises"),
        anywhere_api::yaml::KeyOrder::Sorted,
    )
}

/// The user's audit policy (`controlPlaneConfiguration.auditPolicyContent`), if any.
pub fn user_policy_content(spec: &ClusterSpec) -> Option<&str> {
    spec.control_plane_configuration
        .as_ref()
        .and_then(|c| c.audit_policy_content.as_deref())
}

/// The audit policy as a kubeadm file.
pub fn audit_policy_file(minor: u32, user_content: Option<&str>) -> File {
    File {
        content: Some(audit_policy(minor, user_content)),
        owner: Some("root:root".into()),
        path: Some(AUDIT_POLICY_PATH.into()),
        ..Default::default()
    }
}

/// The five audit arguments of the API server, in their literal order.
pub fn audit_args() -> Args {
    Args::literal(&[
        ("audit-policy-file", AUDIT_POLICY_PATH),
        ("audit-log-path", "/var/log/kubernetes/api-audit.log"),
        ("audit-log-maxage", "30"),
        ("audit-log-maxbackup", "10"),
        ("audit-log-maxsize", "512"),
    ])
}

/// The audit-policy and audit-log volumes of the API server; `policy_host_path` is
/// [`AUDIT_POLICY_PATH`] or, on Bottlerocket, [`BOTTLEROCKET_AUDIT_POLICY_HOST_PATH`].
pub fn audit_volumes(policy_host_path: &str) -> Vec<ExtraVolume> {
    vec![
        ExtraVolume {
            host_path: Some(policy_host_path.into()),
            mount_path: Some(AUDIT_POLICY_PATH.into()),
            name: Some("audit-policy".into()),
            path_type: Some("File".into()),
            read_only: Some(true),
        },
        ExtraVolume {
            host_path: Some("/var/log/kubernetes".into()),
            mount_path: Some("/var/log/kubernetes".into()),
            name: Some("audit-log-dir".into()),
            path_type: Some("DirectoryOrCreate".into()),
            read_only: Some(false),
        },
    ]
}

/// The API version of the default audit policy: the API server of Kubernetes 1.24 dropped
/// `audit.k8s.io/v1beta1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PolicyVersion {
    /// `audit.k8s.io/v1beta1`, below Kubernetes 1.24.
    V1Beta1,
    /// `audit.k8s.io/v1`, from Kubernetes 1.24 on.
    V1,
}

impl PolicyVersion {
    fn for_minor(minor: u32) -> PolicyVersion {
        if minor < 24 {
            PolicyVersion::V1Beta1
        } else {
            PolicyVersion::V1
        }
    }

    fn api_version(self) -> &'static str {
        match self {
            PolicyVersion::V1Beta1 => "audit.k8s.io/v1beta1",
            PolicyVersion::V1 => "audit.k8s.io/v1",
        }
    }
}

/// An `audit.k8s.io` Policy.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Policy {
    api_version: &'static str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Empty>,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Rule {
    level: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    users: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    user_groups: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    verbs: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<GroupResources>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    namespaces: Vec<&'static str>,
    #[serde(rename = "nonResourceURLs", skip_serializing_if = "Vec::is_empty")]
    non_resource_urls: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    omit_stages: Vec<&'static str>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct GroupResources {
    /// `None` leaves the key out; the core group is `Some("")` in the v1beta1 policy and
    /// `None` in the v1 policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resource_names: Vec<&'static str>,
}

/// The API groups the policy logs by default ("known APIs"), the core group first.
const KNOWN_GROUPS: [&str; 18] = [
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "extensions",
    "metrics.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "scheduling.k8s.io",
    "settings.k8s.io",
    "storage.k8s.io",
];

/// The default policy EKS Anywhere writes (the v1beta1 text is a data file of the reference, the
/// v1 text is in its Nutanix 1.29 golden). The two versions have the same rules but for the
/// core group, written as `group: ""` in v1beta1 and left out in v1, and the `system:nodes`
/// user group of the rule on reading nodes, which the v1 form drops.
fn default_policy(version: PolicyVersion) -> Policy {
    const RECEIVED: &str = "RequestReceived";
    let group = |name: &'static str| GroupResources {
        group: match (name, version) {
            ("", PolicyVersion::V1) => None,
            _ => Some(name),
        },
        ..Default::default()
    };
    let core = |resources: &[&'static str]| GroupResources {
        resources: resources.to_vec(),
        ..group("")
    };
    let known = || KNOWN_GROUPS.iter().map(|g| group(g)).collect::<Vec<_>>();
    let rules = vec![
        Rule {
            level: "RequestResponse",
            namespaces: vec!["kube-system"],
            verbs: vec!["update", "patch", "delete"],
            resources: vec![GroupResources {
                resource_names: vec!["aws-auth"],
                ..core(&["configmaps"])
            }],
            omit_stages: vec![RECEIVED],
            ..Default::default()
        },
        Rule {
            level: "None",
            users: vec!["system:kube-proxy"],
            verbs: vec!["watch"],
            resources: vec![core(&["endpoints", "services", "services/status"])],
            ..Default::default()
        },
        Rule {
            level: "None",
            users: vec!["kubelet"],
            verbs: vec!["get"],
            resources: vec![core(&["nodes", "nodes/status"])],
            ..Default::default()
        },
        Rule {
            level: "None",
            user_groups: match version {
                PolicyVersion::V1Beta1 => vec!["system:nodes"],
                PolicyVersion::V1 => vec![],
            },
            verbs: vec!["get"],
            resources: vec![core(&["nodes", "nodes/status"])],
            ..Default::default()
        },
        Rule {
            level: "None",
            users: vec![
                "system:kube-controller-manager",
                "system:kube-scheduler",
                "system:serviceaccount:kube-system:endpoint-controller",
            ],
            verbs: vec!["get", "update"],
            namespaces: vec!["kube-system"],
            resources: vec![core(&["endpoints"])],
            ..Default::default()
        },
        Rule {
            level: "None",
            users: vec!["system:apiserver"],
            verbs: vec!["get"],
            resources: vec![core(&["namespaces", "namespaces/status", "namespaces/finalize"])],
            ..Default::default()
        },
        Rule {
            level: "None",
            users: vec!["system:kube-controller-manager"],
            verbs: vec!["get", "list"],
            resources: vec![group("metrics.k8s.io")],
            ..Default::default()
        },
        Rule {
            level: "None",
            non_resource_urls: vec!["/healthz*", "/version", "/swagger*"],
            ..Default::default()
        },
        Rule {
            level: "None",
            resources: vec![core(&["events"])],
            ..Default::default()
        },
        Rule {
            level: "Request",
            users: vec![
                "kubelet",
                "system:node-problem-detector",
                "system:serviceaccount:kube-system:node-problem-detector",
            ],
            verbs: vec!["update", "patch"],
            resources: vec![core(&["nodes/status", "pods/status"])],
            omit_stages: vec![RECEIVED],
            ..Default::default()
        },
        Rule {
            level: "Request",
            user_groups: vec!["system:nodes"],
            verbs: vec!["update", "patch"],
            resources: vec![core(&["nodes/status", "pods/status"])],
            omit_stages: vec![RECEIVED],
            ..Default::default()
        },
        Rule {
            level: "Request",
            users: vec!["system:serviceaccount:kube-system:namespace-controller"],
            verbs: vec!["deletecollection"],
            omit_stages: vec![RECEIVED],
            ..Default::default()
        },
        Rule {
            level: "Metadata",
            resources: vec![
                core(&["secrets", "configmaps"]),
                GroupResources {
                    resources: vec!["tokenreviews"],
                    ..group("authentication.k8s.io")
                },
            ],
            omit_stages: vec![RECEIVED],
            ..Default::default()
        },
        Rule {
            level: "Request",
            resources: vec![core(&["serviceaccounts/token"])],
            ..Default::default()
        },
        Rule {
            level: "Request",
            verbs: vec!["get", "list", "watch"],
            resources: known(),
            omit_stages: vec![RECEIVED],
            ..Default::default()
        },
        Rule {
            level: "RequestResponse",
            resources: known(),
            omit_stages: vec![RECEIVED],
            ..Default::default()
        },
        Rule {
            level: "Metadata",
            omit_stages: vec![RECEIVED],
            ..Default::default()
        },
    ];
    Policy {
        api_version: version.api_version(),
        kind: "Policy",
        metadata: (version == PolicyVersion::V1).then_some(Empty {}),
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(version: PolicyVersion) -> Vec<serde_json::Value> {
        let policy = serde_json::to_value(default_policy(version)).unwrap();
        policy["rules"].as_array().unwrap().clone()
    }

    #[test]
    fn below_1_24_a_v1beta1_policy_without_metadata_is_serialised() {
        let p = audit_policy(19, None);
        assert!(p.starts_with(
            "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: RequestResponse\n"
        ));
        assert!(p.ends_with("- level: Metadata\n  omitStages:\n  - RequestReceived\n"));
        assert_eq!(PolicyVersion::for_minor(23), PolicyVersion::V1Beta1);
        assert_eq!(PolicyVersion::for_minor(24), PolicyVersion::V1);
    }

    #[test]
    fn both_versions_have_the_same_seventeen_rules() {
        let (beta, v1) = (rules(PolicyVersion::V1Beta1), rules(PolicyVersion::V1));
        assert_eq!(beta.len(), 17);
        assert_eq!(v1.len(), 17);
        let levels =
            |rules: &[serde_json::Value]| rules.iter().map(|r| r["level"].clone()).collect::<Vec<_>>();
        assert_eq!(levels(&beta), levels(&v1));
        assert_eq!(
            beta[7]["nonResourceURLs"],
            serde_json::json!(["/healthz*", "/version", "/swagger*"])
        );
        assert_eq!(
            beta[16],
            serde_json::json!({"level": "Metadata", "omitStages": ["RequestReceived"]})
        );
    }

    #[test]
    fn v1beta1_names_the_core_group_and_keeps_the_system_nodes_group() {
        let (beta, v1) = (rules(PolicyVersion::V1Beta1), rules(PolicyVersion::V1));
        assert_eq!(beta[1]["resources"][0]["group"], "");
        assert!(v1[1]["resources"][0].get("group").is_none());
        assert_eq!(beta[3]["userGroups"], serde_json::json!(["system:nodes"]));
        assert!(v1[3].get("userGroups").is_none());
        assert_eq!(
            beta[14]["resources"].as_array().unwrap().len(),
            KNOWN_GROUPS.len()
        );
        assert_eq!(beta[14]["resources"][0], serde_json::json!({"group": ""}));
        assert_eq!(v1[14]["resources"][0], serde_json::json!({}));
    }

    #[test]
    fn from_1_24_a_v1_policy_is_serialised_with_sorted_keys() {
        let p = audit_policy(29, None);
        assert!(p.starts_with(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nmetadata: {}\nrules:\n- level: RequestResponse\n"
        ));
        assert!(p.contains("  resources:\n  - {}\n  - group: admissionregistration.k8s.io\n"));
        assert!(p.contains("nonResourceURLs:"));
    }

    #[test]
    fn user_content_is_trimmed_and_wins() {
        assert_eq!(
            audit_policy(19, Some("  custom: policy \n\n")),
            "custom: policy\n"
        );
    }

    #[test]
    fn audit_args_keep_literal_order() {
        let names: Vec<_> = audit_args().pairs().iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(
            names,
            [
                "audit-policy-file",
                "audit-log-path",
                "audit-log-maxage",
                "audit-log-maxbackup",
                "audit-log-maxsize"
            ]
        );
    }
}

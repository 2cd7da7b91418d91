//! The API server's audit policy file, arguments and volumes (README 5 "Audit policy").

use serde::Serialize;

use super::args::Args;
use crate::types::controlplane_v1beta2::{ExtraVolume, File};

/// The audit policy file on the node.
pub const AUDIT_POLICY_PATH: &str = "/etc/kubernetes/audit-policy.yaml";
/// Where Bottlerocket keeps the audit policy on the host.
pub const BOTTLEROCKET_AUDIT_POLICY_HOST_PATH: &str = "/var/lib/kubeadm/audit-policy.yaml";

/// The `audit.k8s.io/v1beta1` policy used below Kubernetes 1.24 (data file of the pack).
const AUDIT_POLICY_V1BETA1: &str = include_str!("config/audit-policy.yaml");

/// The audit policy text: the user's `auditPolicyContent` (trimmed) when set, else the v1beta1
/// file below 1.24 and the serialised v1 policy from 1.24 on.
pub fn audit_policy(minor: u32, user_content: Option<&str>) -> String {
    if let Some(content) = user_content.map(str::trim).filter(|c| !c.is_empty()) {
        return format!("{content}\n");
    }
    if minor < 24 {
        AUDIT_POLICY_V1BETA1.trim_end().to_string() + "\n"
    } else {
        anywhere_api::yaml::to_string(
            &serde_json::to_value(policy_v1()).expect("audit policy serialises"),
            anywhere_api::yaml::KeyOrder::Sorted,
        )
    }
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

/// `audit.k8s.io/v1` Policy.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Policy {
    api_version: &'static str,
    kind: &'static str,
    metadata: Empty,
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
    #[serde(skip_serializing_if = "str::is_empty")]
    group: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resource_names: Vec<&'static str>,
}

fn core(resources: &[&'static str]) -> GroupResources {
    GroupResources {
        resources: resources.to_vec(),
        ..Default::default()
    }
}

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

/// The v1 policy EKS Anywhere builds from 1.24 on (text in the Nutanix 1.29 golden).
fn policy_v1() -> Policy {
    const RECEIVED: &str = "RequestReceived";
    let known = || {
        KNOWN_GROUPS
            .iter()
            .map(|g| GroupResources {
                group: g,
                ..Default::default()
            })
            .collect::<Vec<_>>()
    };
    let rules = vec![
        Rule {
            level: "RequestResponse",
            namespaces: vec!["kube-system"],
            verbs: vec!["update", "patch", "delete"],
            resources: vec![GroupResources {
                resources: vec!["configmaps"],
                resource_names: vec!["aws-auth"],
                ..Default::default()
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
        // The reference drops the `system:nodes` user group of this rule in its v1 form.
        Rule {
            level: "None",
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
            resources: vec![GroupResources {
                group: "metrics.k8s.io",
                ..Default::default()
            }],
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
                    group: "authentication.k8s.io",
                    resources: vec!["tokenreviews"],
                    ..Default::default()
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
        api_version: "audit.k8s.io/v1",
        kind: "Policy",
        metadata: Empty {},
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_1_24_the_v1beta1_file_is_used() {
        let p = audit_policy(19, None);
        assert!(p.starts_with("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\n"));
        assert!(p.ends_with("\"RequestReceived\"\n"));
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

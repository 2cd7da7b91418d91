//! Identity providers on the control plane: the AWS IAM authenticator's webhook argument, files
//! and volumes.

use std::collections::BTreeMap;

use anywhere_api::ClusterSpec;

use crate::types::controlplane_v1beta2::{ContentFrom, ExtraVolume, File, Secret as SecretRef};

/// Whether the cluster names an identity provider of this kind.
pub fn has_identity_provider(spec: &ClusterSpec, kind: &str) -> bool {
    spec.identity_provider_refs
        .iter()
        .flatten()
        .any(|r| r.kind.as_deref() == Some(kind))
}

/// The API-server `oidc-*` flags of an OIDCConfig (empty values left out; only the first
/// required claim, as `claim=value`, as EKS Anywhere does).
pub fn oidc_args(oidc: Option<&anywhere_api::OIDCConfig>) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    if let Some(o) = oidc.and_then(|o| o.spec.as_ref()) {
        let mut put = |k: &str, v: Option<&String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                map.insert(k.to_string(), v.clone());
            }
        };
        put("oidc-client-id", o.client_id.as_ref());
        put("oidc-groups-claim", o.groups_claim.as_ref());
        put("oidc-groups-prefix", o.groups_prefix.as_ref());
        put("oidc-issuer-url", o.issuer_url.as_ref());
        let claim = o.required_claims.as_ref().and_then(|c| c.first()).map(|c| {
            format!(
                "{}={}",
                c.claim.as_deref().unwrap_or(""),
                c.value.as_deref().unwrap_or("")
            )
        });
        put("oidc-required-claim", claim.as_ref());
        put("oidc-username-claim", o.username_claim.as_ref());
        put("oidc-username-prefix", o.username_prefix.as_ref());
    }
    map
}

/// The API-server arguments of identity providers (sorted when merged): the AWS IAM
/// authenticator webhook when the cluster references an AWSIamConfig, and the `oidc-*` flags of
/// the referenced OIDCConfig (empty values left out; only the first required claim, as
/// `claim=value`, as EKS Anywhere does).
pub fn identity_provider_args(
    spec: &ClusterSpec,
    oidc: Option<&anywhere_api::OIDCConfig>,
) -> BTreeMap<String, String> {
    let mut map = oidc_args(oidc);
    if has_identity_provider(spec, "AWSIamConfig") {
        map.insert(
            "authentication-token-webhook-config-file".to_string(),
            super::control_plane::AWS_IAM_AUTHENTICATOR_WEBHOOK_CONFIG.to_string(),
        );
    }
    map
}

/// The API-server volumes of the AWS IAM authenticator (its kubeconfig and certificates).
pub fn aws_iam_volumes() -> Vec<ExtraVolume> {
    vec![
        ExtraVolume {
            host_path: Some("/var/lib/kubeadm/aws-iam-authenticator/".into()),
            mount_path: Some("/etc/kubernetes/aws-iam-authenticator/".into()),
            name: Some("authconfig".into()),
            path_type: None,
            read_only: Some(false),
        },
        ExtraVolume {
            host_path: Some("/var/lib/kubeadm/aws-iam-authenticator/pki/".into()),
            mount_path: Some("/var/aws-iam-authenticator/".into()),
            name: Some("awsiamcert".into()),
            path_type: None,
            read_only: Some(false),
        },
    ]
}

/// The authenticator's webhook kubeconfig, literal in every EKS Anywhere template.
const AWS_IAM_KUBECONFIG: &str = "# clusters refers to the remote service.
clusters:
  - name: aws-iam-authenticator
    cluster:
      certificate-authority: /var/aws-iam-authenticator/cert.pem
      server: https://localhost:21362/authenticate
# users refers to the API Server's webhook configuration
# (we don't need to authenticate the API server).
users:
  - name: apiserver
# kubeconfig files require a context. Provide one for the API Server.
current-context: webhook
contexts:
- name: webhook
  context:
    cluster: aws-iam-authenticator
    user: apiserver
";

/// The three AWS IAM authenticator files: the webhook kubeconfig and the CA certificate and
/// key from the `<cluster>-aws-iam-authenticator-ca` Secret, all mode `0640`.
pub fn aws_iam_files(cluster: &str) -> Vec<File> {
    let from_secret = |key: &str| File {
        content_from: Some(ContentFrom {
            secret: Some(SecretRef {
                name: Some(super::names::aws_iam_authenticator_ca_secret(cluster)),
                key: Some(key.into()),
            }),
        }),
        permissions: Some("0640".into()),
        owner: Some("root:root".into()),
        path: Some(format!("/var/lib/kubeadm/aws-iam-authenticator/pki/{key}")),
        ..Default::default()
    };
    vec![
        File {
            content: Some(AWS_IAM_KUBECONFIG.into()),
            permissions: Some("0640".into()),
            owner: Some("root:root".into()),
            path: Some("/var/lib/kubeadm/aws-iam-authenticator/kubeconfig.yaml".into()),
            ..Default::default()
        },
        from_secret("cert.pem"),
        from_secret("key.pem"),
    ]
}

#[cfg(test)]
mod oidc_tests {
    use super::*;

    #[test]
    fn oidc_config_becomes_api_server_flags() {
        let o: anywhere_api::OIDCConfig = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "o"},
            "spec": {"clientId": "id", "issuerUrl": "https://issuer", "usernameClaim": "email",
                     "groupsPrefix": "", "requiredClaims": [{"claim": "aud", "value": "k8s"}]}
        }))
        .unwrap();
        let args = identity_provider_args(&ClusterSpec::default(), Some(&o));
        assert_eq!(
            args.into_iter().collect::<Vec<_>>(),
            vec![
                ("oidc-client-id".to_string(), "id".to_string()),
                ("oidc-issuer-url".to_string(), "https://issuer".to_string()),
                ("oidc-required-claim".to_string(), "aud=k8s".to_string()),
                ("oidc-username-claim".to_string(), "email".to_string()),
            ]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aws_iam_reference_adds_the_webhook_arg() {
        let spec: ClusterSpec =
            serde_json::from_value(json!({"identityProviderRefs": [{"kind": "AWSIamConfig", "name": "x"}]}))
                .unwrap();
        assert!(identity_provider_args(&spec, None).contains_key("authentication-token-webhook-config-file"));
        assert!(identity_provider_args(&ClusterSpec::default(), None).is_empty());
    }

    #[test]
    fn aws_iam_files_read_the_ca_secret() {
        let files = aws_iam_files("test");
        assert_eq!(files.len(), 3);
        let v = serde_json::to_value(&files[1]).unwrap();
        assert_eq!(
            v["contentFrom"]["secret"]["name"],
            "test-aws-iam-authenticator-ca"
        );
        assert_eq!(v["permissions"], "0640");
    }
}

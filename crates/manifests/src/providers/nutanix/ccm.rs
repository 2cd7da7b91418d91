//! The Nutanix cloud controller manager (CCM), installed through a ClusterResourceSet, and the
//! Prism Central credential Secrets.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use anywhere_api::NutanixDatacenterConfigSpec;
use anywhere_api::yaml::{KeyOrder, to_string as yaml_string};

use super::deployment::{
    Affinity, ConfigMapVolume, Container, Deployment, DeploymentSpec, DeploymentStrategy, EnvVar,
    EnvVarSource, FieldRef, LabelSelector, PodAffinityTerm, PodAntiAffinity, PodSpec, PodTemplate, Resources,
    Toleration, Volume, VolumeMount, labels, meta,
};
use crate::common::CLUSTER_NAME_LABEL;
use crate::types::addons_v1beta2::{
    ClusterResourceSet, ClusterResourceSetSpec, ClusterResourceSetSpecResource, ClusterSelector,
};
use crate::types::core::{ConfigMap, Secret};
use crate::{Error, Manifest, Result, SYSTEM_NAMESPACE};
use base64::Engine;

/// The Secret type ClusterResourceSets apply.
const RESOURCE_SET_SECRET_TYPE: &str = "addons.cluster.x-k8s.io/resource-set";
/// The in-cluster ConfigMap holding the Prism Central trust bundle.
const USER_CA_BUNDLE: &str = "user-ca-bundle";

/// Prism Central username and password as the generators embed them (absent = empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct PrismCredentials {
    pub username: String,
    pub password: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Credential<'a> {
    #[serde(rename = "type")]
    type_: &'static str,
    data: BasicAuthCredential<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BasicAuthCredential<'a> {
    prism_central: BasicAuth<'a>,
    prism_elements: Option<Vec<BasicAuth<'a>>>,
}

#[derive(Serialize)]
struct BasicAuth<'a> {
    username: &'a str,
    password: &'a str,
}

fn credential_list(creds: &PrismCredentials) -> [Credential<'_>; 1] {
    [Credential {
        type_: "basic_auth",
        data: BasicAuthCredential {
            prism_central: BasicAuth {
                username: &creds.username,
                password: &creds.password,
            },
            prism_elements: None,
        },
    }]
}

/// The credential list as compact JSON, escaped like Go's `encoding/json` (`<`, `>`, `&`,
/// U+2028 and U+2029 as `\uXXXX`), so the base64 matches EKS Anywhere's byte for byte.
pub(super) fn credentials_json(creds: &PrismCredentials) -> String {
    let json = serde_json::to_string(&credential_list(creds)).expect("credential structs serialise to JSON");
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// A Secret holding the base64 of [`credentials_json`] under `credentials`, in `eksa-system`.
pub(super) fn credentials_secret(name: &str, creds: &PrismCredentials) -> Manifest {
    let mut secret = Secret::new(name, SYSTEM_NAMESPACE);
    secret.data = Some(BTreeMap::from([(
        "credentials".to_string(),
        base64::engine::general_purpose::STANDARD.encode(credentials_json(creds)),
    )]));
    Manifest::new(&secret)
}

/// `<cluster>-nutanix-ccm-secret`: a resource-set Secret carrying the in-cluster
/// `kube-system/nutanix-creds` Secret with the pretty-printed credential list.
pub(super) fn ccm_secret(cluster: &str, creds: &PrismCredentials) -> Manifest {
    let pretty =
        serde_json::to_string_pretty(&credential_list(creds)).expect("credential structs serialise to JSON");
    let mut inner = Secret::new("nutanix-creds", "kube-system");
    inner.string_data = Some(BTreeMap::from([("credentials".to_string(), pretty)]));
    let mut secret = Secret::new(&format!("{cluster}-nutanix-ccm-secret"), SYSTEM_NAMESPACE);
    secret.string_data = Some(BTreeMap::from([(
        "nutanix-ccm-secret.yaml".to_string(),
        yaml_string(&Manifest::new(&inner).0, KeyOrder::AsIs),
    )]));
    secret.type_ = Some(RESOURCE_SET_SECRET_TYPE.into());
    Manifest::new(&secret)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NutanixConfig {
    prism_central: PrismCentralConfig,
    enable_custom_labeling: bool,
    topology_discovery: TopologyDiscovery,
    #[serde(rename = "ignoredNodeIPs")]
    ignored_node_ips: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrismCentralConfig {
    address: String,
    port: i64,
    insecure: bool,
    credential_ref: ObjectRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_trust_bundle: Option<ObjectRef>,
}

#[derive(Serialize)]
struct ObjectRef {
    kind: &'static str,
    name: &'static str,
    namespace: &'static str,
}

#[derive(Serialize)]
struct TopologyDiscovery {
    #[serde(rename = "type")]
    type_: &'static str,
}

/// What the CCM ConfigMap needs besides the datacenter.
pub(super) struct CcmOptions<'a> {
    /// The cluster name.
    pub cluster: &'a str,
    /// The control-plane endpoint host (always ignored by the CCM: it is kube-vip's address).
    pub endpoint_host: &'a str,
    /// The `nutanix.cloudProvider` image of the versions bundle.
    pub image: &'a str,
}

/// The fixed RBAC and ServiceAccount documents of the CCM manifest.
const CCM_SERVICE_ACCOUNT: &str = "apiVersion: v1
kind: ServiceAccount
metadata:
  name: cloud-controller-manager
  namespace: kube-system
";

const CCM_RBAC: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  annotations:
    rbac.authorization.kubernetes.io/autoupdate: "true"
  name: system:cloud-controller-manager
rules:
  - apiGroups:
      - ""
    resources:
      - secrets
    verbs:
      - get
      - list
      - watch
  - apiGroups:
      - ""
    resources:
      - configmaps
    verbs:
      - get
      - list
      - watch
  - apiGroups:
      - ""
    resources:
      - events
    verbs:
      - create
      - patch
      - update
  - apiGroups:
      - ""
    resources:
      - nodes
    verbs:
      - "*"
  - apiGroups:
      - ""
    resources:
      - nodes/status
    verbs:
      - patch
  - apiGroups:
      - ""
    resources:
      - serviceaccounts
    verbs:
      - create
  - apiGroups:
      - ""
    resources:
      - endpoints
    verbs:
      - create
      - get
      - list
      - watch
      - update
  - apiGroups:
      - coordination.k8s.io
    resources:
      - leases
    verbs:
      - get
      - list
      - watch
      - create
      - update
      - patch
      - delete
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata:
  name: system:cloud-controller-manager
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:cloud-controller-manager
subjects:
  - kind: ServiceAccount
    name: cloud-controller-manager
    namespace: kube-system
"#;

/// `<cluster>-nutanix-ccm`: the ConfigMap whose `nutanix-ccm.yaml` holds the CCM manifests
/// ([user-ca-bundle], ServiceAccount, `nutanix-config`, RBAC, Deployment).
///
/// # Errors
/// [`Error::Invalid`] when a `ccmExcludeNodeIPs` range or CIDR cannot be expanded.
pub(super) fn ccm_config_map(dc: &NutanixDatacenterConfigSpec, opts: &CcmOptions<'_>) -> Result<Manifest> {
    let trust_bundle = dc.additional_trust_bundle.as_deref().filter(|t| !t.is_empty());
    let mut docs: Vec<String> = Vec::new();
    if let Some(bundle) = trust_bundle {
        let mut cm = ConfigMap::new(USER_CA_BUNDLE, "kube-system");
        cm.data = Some(BTreeMap::from([("ca.crt".to_string(), block(bundle))]));
        docs.push(yaml_string(&Manifest::new(&cm).0, KeyOrder::AsIs));
    }
    docs.push(CCM_SERVICE_ACCOUNT.to_string());

    let config = NutanixConfig {
        prism_central: PrismCentralConfig {
            address: dc.endpoint.clone().unwrap_or_default(),
            port: dc.port.unwrap_or(0),
            insecure: dc.insecure.unwrap_or(false),
            credential_ref: ObjectRef {
                kind: "secret",
                name: "nutanix-creds",
                namespace: "kube-system",
            },
            additional_trust_bundle: trust_bundle.map(|_| ObjectRef {
                kind: "ConfigMap",
                name: USER_CA_BUNDLE,
                namespace: "kube-system",
            }),
        },
        enable_custom_labeling: false,
        topology_discovery: TopologyDiscovery { type_: "Prism" },
        ignored_node_ips: ignored_node_ips(
            opts.endpoint_host,
            dc.ccm_exclude_node_i_ps.as_deref().unwrap_or_default(),
        )?,
    };
    let mut nutanix_config = ConfigMap::new("nutanix-config", "kube-system");
    nutanix_config.data = Some(BTreeMap::from([(
        "nutanix_config.json".to_string(),
        serde_json::to_string_pretty(&config).expect("CCM config structs serialise to JSON"),
    )]));
    docs.push(yaml_string(&Manifest::new(&nutanix_config).0, KeyOrder::AsIs));
    docs.push(CCM_RBAC.to_string());
    docs.push(yaml_string(
        &Manifest::new(&ccm_deployment(opts.image)).0,
        KeyOrder::AsIs,
    ));

    let text: String = docs.iter().map(|d| format!("---\n{d}")).collect();
    let mut cm = ConfigMap::new(&format!("{}-nutanix-ccm", opts.cluster), SYSTEM_NAMESPACE);
    cm.data = Some(BTreeMap::from([("nutanix-ccm.yaml".to_string(), text)]));
    Ok(Manifest::new(&cm))
}

/// Text as a block scalar's value: ends in exactly one newline.
fn block(text: &str) -> String {
    let mut s = text.trim_end_matches('\n').to_string();
    s.push('\n');
    s
}

fn ccm_deployment(image: &str) -> Deployment {
    let app = [("k8s-app", "nutanix-cloud-controller-manager")];
    let toleration = |effect: &str, key: &str, seconds: Option<i64>| Toleration {
        effect: effect.into(),
        key: key.into(),
        operator: "Exists".into(),
        toleration_seconds: seconds,
    };
    let mut metadata = meta("nutanix-cloud-controller-manager", "kube-system");
    metadata.labels = Some(labels(&app));
    Deployment {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        metadata,
        spec: DeploymentSpec {
            replicas: 1,
            selector: LabelSelector {
                match_labels: labels(&app),
            },
            strategy: DeploymentStrategy {
                type_: "Recreate".into(),
            },
            template: PodTemplate {
                metadata: anywhere_api::meta::ObjectMeta {
                    labels: Some(labels(&app)),
                    ..Default::default()
                },
                spec: PodSpec {
                    host_network: Some(true),
                    priority_class_name: Some("system-cluster-critical".into()),
                    node_selector: Some(labels(&[("node-role.kubernetes.io/control-plane", "")])),
                    service_account_name: Some("cloud-controller-manager".into()),
                    affinity: Some(Affinity {
                        pod_anti_affinity: PodAntiAffinity {
                            required_during_scheduling_ignored_during_execution: vec![PodAffinityTerm {
                                label_selector: LabelSelector {
                                    match_labels: labels(&app),
                                },
                                topology_key: "kubernetes.io/hostname".into(),
                            }],
                        },
                    }),
                    dns_policy: Some("Default".into()),
                    tolerations: vec![
                        toleration("NoSchedule", "node-role.kubernetes.io/master", None),
                        toleration("NoSchedule", "node-role.kubernetes.io/control-plane", None),
                        toleration("NoExecute", "node.kubernetes.io/unreachable", Some(120)),
                        toleration("NoExecute", "node.kubernetes.io/not-ready", Some(120)),
                        toleration(
                            "NoSchedule",
                            "node.cloudprovider.kubernetes.io/uninitialized",
                            None,
                        ),
                        toleration("NoSchedule", "node.kubernetes.io/not-ready", None),
                    ],
                    containers: vec![Container {
                        name: "nutanix-cloud-controller-manager".into(),
                        image: image.into(),
                        image_pull_policy: "IfNotPresent".into(),
                        args: vec![
                            "--leader-elect=true".into(),
                            "--cloud-config=/etc/cloud/nutanix_config.json".into(),
                        ],
                        env: vec![EnvVar {
                            name: "POD_NAMESPACE".into(),
                            value: None,
                            value_from: Some(EnvVarSource {
                                field_ref: FieldRef {
                                    field_path: "metadata.namespace".into(),
                                },
                            }),
                        }],
                        resources: Resources {
                            requests: Some(labels(&[("cpu", "100m"), ("memory", "50Mi")])),
                        },
                        volume_mounts: vec![VolumeMount {
                            mount_path: "/etc/cloud".into(),
                            name: "nutanix-config-volume".into(),
                            read_only: Some(true),
                        }],
                    }],
                    volumes: vec![Volume {
                        name: "nutanix-config-volume".into(),
                        config_map: ConfigMapVolume {
                            name: "nutanix-config".into(),
                        },
                    }],
                },
            },
        },
    }
}

/// `<cluster>-nutanix-ccm-crs`: applies the CCM ConfigMap and Secret (and the trust bundle
/// ConfigMap, when set) to the cluster.
pub(super) fn ccm_resource_set(cluster: &str, has_trust_bundle: bool) -> Manifest {
    let resource = |kind: &str, name: String| ClusterResourceSetSpecResource {
        kind: Some(kind.into()),
        name: Some(name),
    };
    let mut resources = vec![
        resource("ConfigMap", format!("{cluster}-nutanix-ccm")),
        resource("Secret", format!("{cluster}-nutanix-ccm-secret")),
    ];
    if has_trust_bundle {
        resources.push(resource("ConfigMap", USER_CA_BUNDLE.to_string()));
    }
    let crs = ClusterResourceSet {
        api_version: Some("addons.cluster.x-k8s.io/v1beta2".into()),
        kind: Some("ClusterResourceSet".into()),
        metadata: Some(meta(&format!("{cluster}-nutanix-ccm-crs"), SYSTEM_NAMESPACE)),
        spec: Some(ClusterResourceSetSpec {
            cluster_selector: Some(ClusterSelector {
                match_labels: Some(BTreeMap::from([(
                    CLUSTER_NAME_LABEL.to_string(),
                    cluster.to_string(),
                )])),
                ..Default::default()
            }),
            resources: Some(resources),
            strategy: Some("Reconcile".into()),
        }),
        status: None,
    };
    Manifest::new(&crs)
}

/// The node IPs the CCM ignores: the control-plane endpoint host, then every
/// `ccmExcludeNodeIPs` entry expanded (single addresses as written, `a-b` ranges and CIDRs to
/// every address they hold, network and broadcast included).
///
/// # Errors
/// [`Error::Invalid`] for a range or CIDR that does not parse, or that holds more than
/// 65536 addresses.
pub(super) fn ignored_node_ips(endpoint_host: &str, excluded: &[String]) -> Result<Vec<String>> {
    const MAX_ADDRESSES: u128 = 1 << 16;
    let invalid = |entry: &str, why: &str| Error::Invalid {
        what: format!("ccmExcludeNodeIPs entry {entry:?}"),
        why: why.into(),
    };
    let mut out = vec![endpoint_host.to_string()];
    for entry in excluded {
        let entry = entry.trim();
        let (first, last) = if let Some((ip, prefix)) = entry.split_once('/') {
            let ip: IpAddr = ip.parse().map_err(|_| invalid(entry, "not an IP address"))?;
            let bits: u32 = if ip.is_ipv4() { 32 } else { 128 };
            let prefix: u32 = prefix
                .parse()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| invalid(entry, "bad prefix length"))?;
            let host_bits = bits - prefix;
            let value = ip_value(ip);
            let mask = if host_bits >= 128 {
                u128::MAX
            } else {
                (1u128 << host_bits) - 1
            };
            (value & !mask, value | mask)
        } else if let Some((a, b)) = entry.split_once('-') {
            let a: IpAddr = a
                .trim()
                .parse()
                .map_err(|_| invalid(entry, "not an IP address range"))?;
            let b: IpAddr = b
                .trim()
                .parse()
                .map_err(|_| invalid(entry, "not an IP address range"))?;
            if a.is_ipv4() != b.is_ipv4() {
                return Err(invalid(entry, "range mixes IPv4 and IPv6"));
            }
            let (a, b) = (ip_value(a), ip_value(b));
            (a.min(b), a.max(b))
        } else {
            out.push(entry.to_string());
            continue;
        };
        if last - first >= MAX_ADDRESSES {
            return Err(invalid(entry, "holds too many addresses"));
        }
        let v4 = !entry.contains(':');
        out.extend((first..=last).map(|v| ip_string(v, v4)));
    }
    Ok(out)
}

fn ip_value(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn ip_string(value: u128, v4: bool) -> String {
    if v4 {
        std::net::Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX)).to_string()
    } else {
        std::net::Ipv6Addr::from(value).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> PrismCredentials {
        PrismCredentials {
            username: "admin".into(),
            password: "password".into(),
        }
    }

    #[test]
    fn credential_json_is_compact_in_eksa_key_order() {
        assert_eq!(
            credentials_json(&creds()),
            r#"[{"type":"basic_auth","data":{"prismCentral":{"username":"admin","password":"password"},"prismElements":null}}]"#
        );
    }

    #[test]
    fn credential_json_escapes_html_characters_like_go() {
        let c = PrismCredentials {
            username: "a<b".into(),
            password: "c&d".into(),
        };
        assert!(credentials_json(&c).contains(r#""username":"a\u003cb","password":"c\u0026d""#));
    }

    #[test]
    fn capx_secret_holds_base64_of_the_credentials() {
        let m = credentials_secret("capx-eksa-unit-test", &creds());
        assert_eq!(
            m.0.pointer("/data/credentials").and_then(|v| v.as_str()),
            Some(
                "W3sidHlwZSI6ImJhc2ljX2F1dGgiLCJkYXRhIjp7InByaXNtQ2VudHJhbCI6eyJ1c2VybmFtZSI6ImFkbWluIiwicGFzc3dvcmQiOiJwYXNzd29yZCJ9LCJwcmlzbUVsZW1lbnRzIjpudWxsfX1d"
            )
        );
    }

    #[test]
    fn ignored_ips_expand_ranges_and_cidrs_after_the_endpoint() {
        let excluded = ["127.100.200.101", "10.10.10.10-10.10.10.13", "10.123.0.0/29"].map(String::from);
        let got = ignored_node_ips("10.199.199.1", &excluded).unwrap();
        assert_eq!(got.len(), 1 + 1 + 4 + 8);
        assert_eq!(got[0], "10.199.199.1");
        assert_eq!(
            &got[2..6],
            ["10.10.10.10", "10.10.10.11", "10.10.10.12", "10.10.10.13"]
        );
        assert_eq!(got[6], "10.123.0.0");
        assert_eq!(got[13], "10.123.0.7");
    }

    #[test]
    fn reversed_ranges_are_swapped() {
        let got = ignored_node_ips("h", &["10.0.0.2-10.0.0.1".to_string()]).unwrap();
        assert_eq!(got, ["h", "10.0.0.1", "10.0.0.2"]);
    }

    #[test]
    fn huge_cidrs_are_rejected() {
        assert!(ignored_node_ips("h", &["10.0.0.0/8".to_string()]).is_err());
    }
}

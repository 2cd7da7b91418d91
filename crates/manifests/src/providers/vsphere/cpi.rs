//! The vSphere cloud provider interface (CPI): the manifests the `<cluster>-cpi`
//! ClusterResourceSet applies to the workload cluster, as typed objects.

use std::collections::BTreeMap;

use serde::Serialize;

use anywhere_api::meta::ObjectMeta;

use crate::types::core::{ConfigMap, Secret};

const KUBE_SYSTEM: &str = "kube-system";
const CCM: &str = "cloud-controller-manager";
const CREDENTIALS_SECRET: &str = "cloud-provider-vsphere-credentials";
const CLOUD_CONFIG: &str = "vsphere-cloud-config";
const DAEMON_SET: &str = "vsphere-cloud-controller-manager";

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(str::to_string),
        ..Default::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn print<T: Serialize>(value: &T) -> String {
    anywhere_api::yaml::to_string(
        &serde_json::to_value(value).expect("CPI objects serialise"),
        anywhere_api::yaml::KeyOrder::AsIs,
    )
}

/// A `v1` ServiceAccount.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAccount {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
}

/// The ServiceAccount the cloud controller manager runs as.
pub fn service_account_manifest() -> String {
    print(&ServiceAccount {
        api_version: "v1",
        kind: "ServiceAccount",
        metadata: meta(CCM, Some(KUBE_SYSTEM)),
    })
}

/// The `cloud-provider-vsphere-credentials` Secret in kube-system: base64 `<server>.username`
/// and `<server>.password`.
pub fn credentials_manifest(server: &str, username_b64: &str, password_b64: &str) -> String {
    let mut secret = Secret::new(CREDENTIALS_SECRET, KUBE_SYSTEM);
    secret.data = Some(BTreeMap::from([
        (format!("{server}.password"), password_b64.to_string()),
        (format!("{server}.username"), username_b64.to_string()),
    ]));
    secret.type_ = Some("Opaque".into());
    print(&secret)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyRule {
    api_groups: Vec<&'static str>,
    resources: Vec<&'static str>,
    verbs: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterRole {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    rules: Vec<PolicyRule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleRef {
    api_group: &'static str,
    kind: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
struct Subject {
    kind: &'static str,
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Binding {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

fn ccm_subjects() -> Vec<Subject> {
    vec![
        Subject {
            kind: "ServiceAccount",
            name: CCM,
            namespace: Some(KUBE_SYSTEM),
        },
        Subject {
            kind: "User",
            name: CCM,
            namespace: None,
        },
    ]
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicePort {
    port: i64,
    protocol: &'static str,
    target_port: i64,
}

#[derive(Serialize)]
struct ServiceSpec {
    ports: Vec<ServicePort>,
    selector: BTreeMap<String, String>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Service {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: ServiceSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LabelSelector {
    match_labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Requests {
    cpu: &'static str,
}

#[derive(Serialize)]
struct ResourceRequirements {
    requests: Requests,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeMount {
    mount_path: &'static str,
    name: &'static str,
    read_only: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    args: Vec<&'static str>,
    image: String,
    name: &'static str,
    resources: ResourceRequirements,
    volume_mounts: Vec<VolumeMount>,
}

/// A pod toleration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    /// The taint key.
    pub key: String,
    /// The taint value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The taint effect.
    pub effect: String,
    /// When the taint was added (copied from a control-plane taint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_added: Option<String>,
}

#[derive(Serialize)]
struct ConfigMapVolumeSource {
    name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Volume {
    config_map: ConfigMapVolumeSource,
    name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    containers: Vec<Container>,
    host_network: bool,
    service_account_name: &'static str,
    tolerations: Vec<Toleration>,
    volumes: Vec<Volume>,
}

#[derive(Serialize)]
struct PodTemplateMeta {
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct PodTemplate {
    metadata: PodTemplateMeta,
    spec: PodSpec,
}

#[derive(Serialize)]
struct UpdateStrategy {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DaemonSetSpec {
    selector: LabelSelector,
    template: PodTemplate,
    update_strategy: UpdateStrategy,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DaemonSet {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: DaemonSetSpec,
}

/// The `vsphere.conf` of the cloud provider.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CloudConfig {
    global: GlobalConfig,
    vcenter: BTreeMap<String, VCenterConfig>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GlobalConfig {
    secret_name: &'static str,
    secret_namespace: &'static str,
    thumbprint: String,
    insecure_flag: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VCenterConfig {
    datacenters: Vec<String>,
    secret_name: &'static str,
    secret_namespace: &'static str,
    server: String,
    thumbprint: String,
}

/// What the CPI manifests take from the datacenter, bundle and spec.
#[derive(Clone, Debug)]
pub struct CpiOptions<'a> {
    /// The vCenter server.
    pub server: &'a str,
    /// The datacenter.
    pub datacenter: &'a str,
    /// The vCenter thumbprint.
    pub thumbprint: &'a str,
    /// `insecure`.
    pub insecure: bool,
    /// The cloud controller manager image (`vSphere.manager`).
    pub manager_image: &'a str,
    /// Tolerations for the control-plane taints, appended to the fixed ones.
    pub extra_tolerations: Vec<Toleration>,
}

fn cloud_config_text(o: &CpiOptions<'_>) -> String {
    let config = CloudConfig {
        global: GlobalConfig {
            secret_name: CREDENTIALS_SECRET,
            secret_namespace: KUBE_SYSTEM,
            thumbprint: o.thumbprint.to_string(),
            insecure_flag: o.insecure,
        },
        vcenter: BTreeMap::from([(
            o.server.to_string(),
            VCenterConfig {
                datacenters: vec![o.datacenter.to_string()],
                secret_name: CREDENTIALS_SECRET,
                secret_namespace: KUBE_SYSTEM,
                server: o.server.to_string(),
                thumbprint: o.thumbprint.to_string(),
            },
        )]),
    };
    print(&config)
}

fn rule(api_group: &'static str, resource: &'static str, verbs: &[&'static str]) -> PolicyRule {
    PolicyRule {
        api_groups: vec![api_group],
        resources: vec![resource],
        verbs: verbs.to_vec(),
    }
}

/// The CPI manifests (RBAC, cloud config, Service, DaemonSet) as one multi-document text, each
/// document introduced by `---`.
pub fn manifests(o: &CpiOptions<'_>) -> String {
    let role = ClusterRole {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: meta("system:cloud-controller-manager", None),
        rules: vec![
            rule("", "events", &["create", "patch", "update"]),
            rule("", "nodes", &["*"]),
            rule("", "nodes/status", &["patch"]),
            rule("", "services", &["list", "patch", "update", "watch"]),
            rule(
                "",
                "serviceaccounts",
                &["create", "get", "list", "watch", "update"],
            ),
            rule("", "persistentvolumes", &["get", "list", "watch", "update"]),
            rule("", "endpoints", &["create", "get", "list", "watch", "update"]),
            rule("", "secrets", &["get", "list", "watch"]),
            rule(
                "coordination.k8s.io",
                "leases",
                &["get", "watch", "list", "delete", "update", "create"],
            ),
        ],
    };
    let role_binding = Binding {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: meta("system:cloud-controller-manager", None),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io",
            kind: "ClusterRole",
            name: "system:cloud-controller-manager",
        },
        subjects: ccm_subjects(),
    };
    let mut cloud_config = ConfigMap::new(CLOUD_CONFIG, KUBE_SYSTEM);
    cloud_config.data = Some(BTreeMap::from([(
        "vsphere.conf".to_string(),
        cloud_config_text(o),
    )]));
    let auth_reader = Binding {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: meta(
            "servicecatalog.k8s.io:apiserver-authentication-reader",
            Some(KUBE_SYSTEM),
        ),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io",
            kind: "Role",
            name: "extension-apiserver-authentication-reader",
        },
        subjects: ccm_subjects(),
    };
    let component = labels(&[("component", CCM)]);
    let mut service_meta = meta(CCM, Some(KUBE_SYSTEM));
    service_meta.labels = Some(component.clone());
    let service = Service {
        api_version: "v1",
        kind: "Service",
        metadata: service_meta,
        spec: ServiceSpec {
            ports: vec![ServicePort {
                port: 443,
                protocol: "TCP",
                target_port: 43001,
            }],
            selector: component,
            kind: "NodePort",
        },
    };
    let app = labels(&[("k8s-app", DAEMON_SET)]);
    let mut ds_meta = meta(DAEMON_SET, Some(KUBE_SYSTEM));
    ds_meta.labels = Some(app.clone());
    let toleration = |key: &str, value: Option<&str>| Toleration {
        key: key.into(),
        value: value.map(str::to_string),
        effect: "NoSchedule".into(),
        time_added: None,
    };
    let mut tolerations = vec![
        toleration("node.cloudprovider.kubernetes.io/uninitialized", Some("true")),
        toleration("node-role.kubernetes.io/master", None),
        toleration("node-role.kubernetes.io/control-plane", None),
        toleration("node.kubernetes.io/not-ready", None),
    ];
    tolerations.extend(o.extra_tolerations.iter().cloned());
    let daemon_set = DaemonSet {
        api_version: "apps/v1",
        kind: "DaemonSet",
        metadata: ds_meta,
        spec: DaemonSetSpec {
            selector: LabelSelector {
                match_labels: app.clone(),
            },
            template: PodTemplate {
                metadata: PodTemplateMeta { labels: app },
                spec: PodSpec {
                    containers: vec![Container {
                        args: vec![
                            "--v=2",
                            "--cloud-provider=vsphere",
                            "--cloud-config=/etc/cloud/vsphere.conf",
                        ],
                        image: o.manager_image.to_string(),
                        name: DAEMON_SET,
                        resources: ResourceRequirements {
                            requests: Requests { cpu: "200m" },
                        },
                        volume_mounts: vec![VolumeMount {
                            mount_path: "/etc/cloud",
                            name: "vsphere-config-volume",
                            read_only: true,
                        }],
                    }],
                    host_network: true,
                    service_account_name: CCM,
                    tolerations,
                    volumes: vec![Volume {
                        config_map: ConfigMapVolumeSource { name: CLOUD_CONFIG },
                        name: "vsphere-config-volume",
                    }],
                },
            },
            update_strategy: UpdateStrategy {
                kind: "RollingUpdate",
            },
        },
    };
    [
        print(&role),
        print(&role_binding),
        print(&cloud_config),
        print(&auth_reader),
        print(&service),
        print(&daemon_set),
    ]
    .iter()
    .map(|doc| format!("---\n{doc}"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> CpiOptions<'static> {
        CpiOptions {
            server: "vc",
            datacenter: "dc",
            thumbprint: "T",
            insecure: false,
            manager_image: "img:1",
            extra_tolerations: vec![],
        }
    }

    #[test]
    fn manifests_hold_six_documents_with_the_manager_image() {
        let text = manifests(&options());
        assert_eq!(text.matches("---\n").count(), 6);
        assert!(text.contains("image: img:1"));
        assert!(text.contains("kind: DaemonSet"));
    }

    #[test]
    fn cloud_config_keys_the_vcenter_by_server() {
        let text = cloud_config_text(&options());
        assert!(text.contains("vcenter:\n  vc:\n    datacenters:\n    - dc\n"));
        assert!(text.contains("insecureFlag: false"));
    }

    #[test]
    fn credentials_are_keyed_by_server() {
        let text = credentials_manifest("vc", "dQ==", "cA==");
        assert!(text.contains("vc.password: cA=="));
        assert!(text.contains("type: Opaque"));
    }
}

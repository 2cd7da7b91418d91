//! The apps/v1 Deployment shape of the Nutanix cloud controller manager, embedded as text in
//! the CCM ConfigMap, as typed serde values.
//!
//! TODO(common): `types::core` has only Secret and ConfigMap; workload structs (or generated
//! ones) belong in `types` once a second provider needs them.

use std::collections::BTreeMap;

use serde::Serialize;

use anywhere_api::meta::ObjectMeta;

/// A Pod's spec, with the fields the embedded manifests use.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PodSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_network: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_policy: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    pub containers: Vec<Container>,
    pub volumes: Vec<Volume>,
}

/// A container.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Container {
    pub name: String,
    pub image: String,
    pub image_pull_policy: String,
    pub args: Vec<String>,
    pub env: Vec<EnvVar>,
    pub resources: Resources,
    pub volume_mounts: Vec<VolumeMount>,
}

/// An environment variable, literal or from a field.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EnvVar {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

/// `valueFrom`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EnvVarSource {
    pub field_ref: FieldRef,
}

/// `fieldRef`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FieldRef {
    pub field_path: String,
}

/// Resource requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(super) struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<BTreeMap<String, String>>,
}

/// A volume mount.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VolumeMount {
    pub mount_path: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// A ConfigMap volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Volume {
    pub name: String,
    pub config_map: ConfigMapVolume,
}

/// `configMap` volume source.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(super) struct ConfigMapVolume {
    pub name: String,
}

/// A toleration.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Toleration {
    pub effect: String,
    pub key: String,
    pub operator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

/// Pod anti-affinity only.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Affinity {
    pub pod_anti_affinity: PodAntiAffinity,
}

/// Required anti-affinity terms.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PodAntiAffinity {
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
}

/// One affinity term.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PodAffinityTerm {
    pub label_selector: LabelSelector,
    pub topology_key: String,
}

/// `matchLabels` selector.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
}

/// An `apps/v1` Deployment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Deployment {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: DeploymentSpec,
}

/// A Deployment's spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(super) struct DeploymentSpec {
    pub replicas: i64,
    pub selector: LabelSelector,
    pub strategy: DeploymentStrategy,
    pub template: PodTemplate,
}

/// `strategy.type`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(super) struct DeploymentStrategy {
    #[serde(rename = "type")]
    pub type_: String,
}

/// A pod template.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(super) struct PodTemplate {
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
}

/// Metadata with only a name and namespace.
pub(super) fn meta(name: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        ..Default::default()
    }
}

/// Labels from pairs.
pub(super) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

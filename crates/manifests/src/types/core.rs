//! The core Kubernetes kinds anywhere emits (`v1` Secret and ConfigMap), hand-written: they are
//! small and stable, and a dependency on k8s-openapi for two structs would cost more than it
//! saves.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use anywhere_api::meta::{ObjectMeta, Resource};

/// A `v1` Secret.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// Always `v1`.
    pub api_version: String,
    /// Always `Secret`.
    pub kind: String,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Secret type, e.g. `Opaque` or `addons.cluster.x-k8s.io/resource-set`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Base64-encoded values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<BTreeMap<String, String>>,
    /// Plain-text values (the API server encodes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_data: Option<BTreeMap<String, String>>,
}

impl Secret {
    /// An empty Secret named `name` in `namespace`.
    pub fn new(name: &str, namespace: &str) -> Self {
        Secret {
            api_version: "v1".into(),
            kind: "Secret".into(),
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

impl Resource for Secret {
    const KIND: &'static str = "Secret";
    const API_VERSION: &'static str = "v1";
    fn metadata(&self) -> Option<&ObjectMeta> {
        Some(&self.metadata)
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A `v1` ConfigMap.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    /// Always `v1`.
    pub api_version: String,
    /// Always `ConfigMap`.
    pub kind: String,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<BTreeMap<String, String>>,
}

impl ConfigMap {
    /// An empty ConfigMap named `name` in `namespace`.
    pub fn new(name: &str, namespace: &str) -> Self {
        ConfigMap {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

impl Resource for ConfigMap {
    const KIND: &'static str = "ConfigMap";
    const API_VERSION: &'static str = "v1";
    fn metadata(&self) -> Option<&ObjectMeta> {
        Some(&self.metadata)
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

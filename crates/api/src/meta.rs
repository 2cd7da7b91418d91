//! Object metadata and the small Kubernetes value types the generated kinds use.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Kubernetes object metadata (`metav1.ObjectMeta`), as a user may write it in a spec file.
///
/// Every field a real API server returns is accepted so that a file saved with
/// `kubectl get -o yaml` still parses; only `name`, `namespace`, `labels` and `annotations`
/// carry meaning for anywhere.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Object name, unique within its namespace and kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Prefix the server uses to generate a name when `name` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    /// Namespace; the CLI defaults it to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Server-assigned unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Server-assigned version for optimistic concurrency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Generation of the desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// Creation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    /// Deletion time (RFC 3339), set when deletion was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    /// Grace period for deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    /// Finalizers that must be removed before the object is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalizers: Option<Vec<String>>,
    /// Owner references (kept as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_references: Option<Vec<serde_json::Value>>,
    /// Managed fields of server-side apply (kept as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_fields: Option<Vec<serde_json::Value>>,
    /// Deprecated self link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
}

/// A value that is either an integer or a string (`x-kubernetes-int-or-string`), such as
/// `maxUnhealthy: 40%` or `maxUnhealthy: 2`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// An integer.
    Int(i64),
    /// A string, often a percentage such as `40%`.
    String(String),
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

/// What every top-level kind has: its kind and group/version, and its metadata.
pub trait Resource {
    /// The `kind`, e.g. `Cluster`.
    const KIND: &'static str;
    /// The `apiVersion`, e.g. `anywhere.eks.amazonaws.com/v1alpha1`.
    const API_VERSION: &'static str;
    /// The metadata, if the document had any.
    fn metadata(&self) -> Option<&ObjectMeta>;
    /// The metadata, created empty if absent.
    fn metadata_mut(&mut self) -> &mut ObjectMeta;

    /// `metadata.name`, or `""` when absent.
    fn name(&self) -> &str {
        self.metadata().and_then(|m| m.name.as_deref()).unwrap_or("")
    }
    /// `metadata.namespace`, or `""` when absent.
    fn namespace(&self) -> &str {
        self.metadata().and_then(|m| m.namespace.as_deref()).unwrap_or("")
    }
}

//! Which lists merge by key: strategic merge patch and server-side apply both need to know.
//!
//! Built-in kinds use the merge keys of their Go types (a name-based table covering the lists a
//! management plane touches); custom resources use their CRD schema's `x-kubernetes-list-type`
//! / `x-kubernetes-list-map-keys`. Every other list is atomic.

use std::collections::HashMap;

use serde_json::Value;

/// How a list merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced and owned as a whole.
    Atomic,
    /// Elements are objects identified by these key fields.
    Map(Vec<String>),
    /// Elements are scalars, merged as a set.
    Set,
}

/// List rules of one resource type.
#[derive(Debug, Clone, Default)]
pub struct ListRules {
    /// Paths (field names from the root joined with `.`, array levels skipped) -> kind.
    by_path: HashMap<String, ListKind>,
    /// Use the built-in name table when a path has no explicit rule.
    builtin: bool,
}

impl ListRules {
    /// Rules for built-in kinds.
    pub fn builtin() -> Self {
        Self {
            by_path: HashMap::new(),
            builtin: true,
        }
    }

    /// Rules compiled from a CRD version's `openAPIV3Schema`.
    pub fn from_schema(schema: Option<&Value>) -> Self {
        let mut by_path = HashMap::new();
        if let Some(s) = schema {
            walk_schema(s, &mut Vec::new(), &mut by_path);
        }
        Self {
            by_path,
            builtin: false,
        }
    }

    /// The kind of the list at `path` (field names from the object root).
    pub fn kind(&self, path: &[&str]) -> ListKind {
        match path {
            ["metadata", "finalizers"] => return ListKind::Set,
            ["metadata", "ownerReferences"] => return ListKind::Map(vec!["uid".into()]),
            _ => {}
        }
        if let Some(k) = self.by_path.get(&path.join(".")) {
            return k.clone();
        }
        if !self.builtin {
            return ListKind::Atomic;
        }
        let last = path.last().copied().unwrap_or("");
        let keys: &[&str] = match last {
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "volumes"
            | "env"
            | "volumeMounts"
            | "imagePullSecrets"
            | "volumeDevices"
            | "secrets" => &["name"],
            "conditions" => &["type"],
            "ports" if path.contains(&"containers") || path.contains(&"initContainers") => &["containerPort"],
            "ports" => &["port"],
            "taints" => &["key", "effect"],
            "addresses" if path.first() == Some(&"status") => &["type"],
            _ => return ListKind::Atomic,
        };
        ListKind::Map(keys.iter().map(|k| (*k).to_string()).collect())
    }
}

fn walk_schema(s: &Value, path: &mut Vec<String>, out: &mut HashMap<String, ListKind>) {
    if s.get("type").and_then(Value::as_str) == Some("array") {
        let kind = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("map") => ListKind::Map(
                s.get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|k| k.as_str().map(String::from)).collect())
                    .unwrap_or_default(),
            ),
            Some("set") => ListKind::Set,
            _ => ListKind::Atomic,
        };
        if kind != ListKind::Atomic {
            out.insert(path.join("."), kind);
        }
        if let Some(items) = s.get("items") {
            walk_schema(items, path, out);
        }
        return;
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            path.push(k.clone());
            walk_schema(v, path, out);
            path.pop();
        }
    }
}

/// The identity of a keyed-list element: the key fields' values, as an object.
pub fn element_key(elem: &Value, keys: &[String]) -> Option<Value> {
    let obj = elem.as_object()?;
    let mut k = serde_json::Map::new();
    for key in keys {
        // A missing key field is allowed for some kinds (e.g. protocol defaults); only the
        // present ones identify the element.
        if let Some(v) = obj.get(key) {
            k.insert(key.clone(), v.clone());
        }
    }
    if k.is_empty() {
        None
    } else {
        Some(Value::Object(k))
    }
}

//! Validating generated objects against the real CRD schemas of Cluster API, its providers,
//! Tinkerbell and Rufio (`conformance/crds/`).
//!
//! Kubernetes structural schemas are OpenAPI, not JSON Schema: `nullable: true` is rewritten to
//! allow `null`; `x-kubernetes-*` keywords and CEL rules are not evaluated (see
//! DEPENDENCIES.md); `metadata` is not described by CRDs and is not checked here.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// Compiled schemas by `(apiVersion, kind)`.
pub struct SchemaSet {
    validators: BTreeMap<(String, String), jsonschema::Validator>,
}

impl SchemaSet {
    /// Loads every CRD below `dir` (recursively), one schema per served version.
    pub fn load(dir: &Path) -> Result<SchemaSet, String> {
        let mut validators = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "yaml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let docs =
                    anywhere_api::document::split_documents(&text, anywhere_api::document::Split::Lenient)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                for doc in docs {
                    let crd = anywhere_api::document::parse_value(&doc.text, doc.line)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    if crd.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
                        continue;
                    }
                    let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or("");
                    let kind = crd
                        .pointer("/spec/names/kind")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    for version in crd
                        .pointer("/spec/versions")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let name = version.get("name").and_then(Value::as_str).unwrap_or("");
                        let Some(schema) = version.pointer("/schema/openAPIV3Schema") else {
                            continue;
                        };
                        let mut schema = schema.clone();
                        prepare(&mut schema, true);
                        let validator = jsonschema::validator_for(&schema)
                            .map_err(|e| format!("{}: {kind} {name}: {e}", path.display()))?;
                        validators.insert((format!("{group}/{name}"), kind.to_string()), validator);
                    }
                }
            }
        }
        Ok(SchemaSet { validators })
    }

    /// Whether a schema for this apiVersion and kind is known.
    pub fn has(&self, api_version: &str, kind: &str) -> bool {
        self.validators
            .contains_key(&(api_version.to_string(), kind.to_string()))
    }

    /// Validates one object. `None` when no CRD describes its kind (core kinds); otherwise the
    /// list of violations, each with its JSON path (empty when valid).
    pub fn validate(&self, object: &Value) -> Option<Vec<String>> {
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let validator = self
            .validators
            .get(&(api_version.to_string(), kind.to_string()))?;
        Some(
            validator
                .iter_errors(object)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect(),
        )
    }
}

/// Rewrites OpenAPI-only keywords into JSON Schema: `nullable: true` → the type also allows
/// `null`; the root's `metadata` is left unchecked.
fn prepare(schema: &mut Value, root: bool) {
    let Value::Object(map) = schema else { return };
    if map.get("nullable").and_then(Value::as_bool) == Some(true)
        && let Some(Value::String(t)) = map.get("type").cloned()
    {
        map.insert(
            "type".into(),
            Value::Array(vec![Value::String(t), Value::from("null")]),
        );
    }
    if root && let Some(Value::Object(props)) = map.get_mut("properties") {
        props.insert("metadata".into(), serde_json::json!({}));
    }
    for (k, v) in map.iter_mut() {
        match k.as_str() {
            "properties" | "patternProperties" | "definitions" => {
                if let Value::Object(props) = v {
                    for p in props.values_mut() {
                        prepare(p, false);
                    }
                }
            }
            "items" | "additionalProperties" | "not" => prepare(v, false),
            "allOf" | "anyOf" | "oneOf" => {
                if let Value::Array(a) = v {
                    for s in a {
                        prepare(s, false);
                    }
                }
            }
            _ => {}
        }
    }
}

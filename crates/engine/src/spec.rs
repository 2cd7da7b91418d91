//! From objects in a management cluster back to a cluster spec: the anywhere Cluster and the
//! objects it refers to, read as one spec file is read, defaulted and validated. The controller
//! works from this, so a spec applied by `kubectl`, Terraform or GitOps gets the same checks as
//! one given to the CLI.

use anywhere_api::{ConfigSet, Reading, defaults, validate};
use serde_json::Value;

/// Why a spec could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The objects could not be read as a spec.
    #[error("{0}")]
    Parse(String),
    /// The spec breaks validation rules (every violation, one per line).
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// Strips what the API server adds (`status`, `managedFields`, uid, resourceVersion…) so the
/// object reads as the user wrote it.
pub fn as_written(object: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["apiVersion", "kind", "spec"] {
        if let Some(v) = object.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let mut meta = serde_json::Map::new();
    if let Some(m) = object.get("metadata").and_then(Value::as_object) {
        for key in ["name", "namespace", "labels", "annotations"] {
            if let Some(v) = m.get(key) {
                meta.insert(key.into(), v.clone());
            }
        }
    }
    out.insert("metadata".into(), Value::Object(meta));
    Value::Object(out)
}

/// Reads `objects` (the Cluster first, then what it refers to) as a spec file, applies EKS
/// Anywhere's defaults and runs every validation rule. Proxy host names are not looked up (the
/// CLI does that before applying).
///
/// # Errors
/// [`SpecError`] with every problem found.
pub fn config_set(objects: &[Value]) -> Result<ConfigSet, SpecError> {
    let docs: Vec<String> = objects
        .iter()
        .map(|o| serde_json::to_string(&as_written(o)).unwrap_or_default())
        .collect();
    let text = docs.join("\n---\n");
    let mut set = anywhere_api::parse_config_set(&text, Reading::Lenient)
        .map_err(|e| SpecError::Parse(e.to_string()))?;
    let options = defaults::DefaultsOptions::default();
    defaults::apply_parse_time(&mut set, &options);
    defaults::apply_providers(&mut set);
    let resolver = |_: &str| true;
    let violations = validate::config_set(&set, &validate::ClusterContext::new(&resolver));
    if !violations.is_empty() {
        return Err(SpecError::Invalid(
            violations
                .iter()
                .map(|v| format!("{} {}: {}", v.object, v.path, v.message))
                .collect(),
        ));
    }
    defaults::apply_cli(&mut set, &options);
    Ok(set)
}

/// The kinds and names a Cluster refers to (datacenter, machine configs, GitOps, identity
/// providers), de-duplicated, in that order.
pub fn references(cluster: &Value) -> Vec<(String, String)> {
    let spec = &cluster["spec"];
    let mut refs: Vec<(String, String)> = Vec::new();
    let mut push = |r: &Value| {
        if let (Some(kind), Some(name)) = (r["kind"].as_str(), r["name"].as_str()) {
            let entry = (kind.to_string(), name.to_string());
            if !refs.contains(&entry) {
                refs.push(entry);
            }
        }
    };
    push(&spec["datacenterRef"]);
    push(&spec["controlPlaneConfiguration"]["machineGroupRef"]);
    push(&spec["externalEtcdConfiguration"]["machineGroupRef"]);
    for w in spec["workerNodeGroupConfigurations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        push(&w["machineGroupRef"]);
    }
    push(&spec["gitOpsRef"]);
    for r in spec["identityProviderRefs"].as_array().into_iter().flatten() {
        push(r);
    }
    refs
}

/// References inside a referenced object (`templateRef` of a TinkerbellMachineConfig, `ipPoolRef`
/// of a Snow machine config's interfaces…): every `…Ref` mapping with a `name`, its kind given or
/// implied by the key.
pub fn nested_references(object: &Value, out: &mut std::collections::BTreeSet<(String, String)>) {
    match object {
        Value::Object(map) => {
            for (key, value) in map {
                if key.ends_with("Ref")
                    && let Some(name) = value.get("name").and_then(Value::as_str)
                {
                    let kind = value.get("kind").and_then(Value::as_str).or(match key.as_str() {
                        "templateRef" => Some("TinkerbellTemplateConfig"),
                        "ipPoolRef" => Some("SnowIPPool"),
                        _ => None,
                    });
                    if let Some(kind) = kind
                        && anywhere_api::config_set::OBJECT_KINDS.contains(&kind)
                    {
                        out.insert((kind.to_string(), name.to_string()));
                    }
                    continue;
                }
                nested_references(value, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| nested_references(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_fields_are_dropped() {
        let o = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n", "uid": "u",
            "resourceVersion": "3", "managedFields": []}, "spec": {"x": 1}, "status": {"y": 2}});
        assert_eq!(
            as_written(&o),
            json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {"x": 1}})
        );
    }

    #[test]
    fn references_are_listed_once_in_order() {
        let c = json!({"spec": {
            "datacenterRef": {"kind": "VSphereDatacenterConfig", "name": "dc"},
            "controlPlaneConfiguration": {"machineGroupRef": {"kind": "VSphereMachineConfig", "name": "m"}},
            "workerNodeGroupConfigurations": [
                {"machineGroupRef": {"kind": "VSphereMachineConfig", "name": "m"}},
                {"machineGroupRef": {"kind": "VSphereMachineConfig", "name": "w"}}]}});
        assert_eq!(
            references(&c),
            vec![
                ("VSphereDatacenterConfig".into(), "dc".into()),
                ("VSphereMachineConfig".into(), "m".into()),
                ("VSphereMachineConfig".into(), "w".into()),
            ]
        );
    }
}

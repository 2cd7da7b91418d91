//! Patch application: JSON merge patch (RFC 7386), JSON patch (RFC 6902 with the Go
//! apiserver's quirks) and a strategic-merge subset for built-in kinds.

use serde_json::Value;

use crate::error::ApiError;
use crate::lists::{ListKind, ListRules, element_key};

/// Applies an RFC 7386 merge patch in place.
pub fn merge_patch(doc: &mut Value, patch: &Value) {
    json_patch::merge(doc, patch);
}

/// Largest JSON patch accepted (the real server's limit).
pub const MAX_JSON_PATCH_OPS: usize = 10_000;

/// Applies an RFC 6902 JSON patch in place.
///
/// Like the Go implementation the API server uses, a `test` of `null` against a missing path
/// succeeds (kube-runtime's finalizer helper relies on it).
///
/// # Errors
/// 400 if the patch does not decode, 413 beyond [`MAX_JSON_PATCH_OPS`], 422 when an operation
/// fails (including a failed `test`).
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| ApiError::bad_request("json patch must be an array"))?;
    if ops.len() > MAX_JSON_PATCH_OPS {
        return Err(ApiError::too_large(format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPS}, got {}",
            ops.len()
        )));
    }
    let parsed: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    for op in &parsed.0 {
        if let json_patch::PatchOperation::Test(t) = op
            && t.value.is_null()
            && doc.pointer(t.path.as_str()).is_none_or(Value::is_null)
        {
            continue;
        }
        json_patch::patch(doc, std::slice::from_ref(op)).map_err(|e| {
            ApiError::invalid_msg(format!(
                "the server rejected our request due to an error in our request: {e}"
            ))
        })?;
    }
    Ok(())
}

/// Applies a strategic merge patch (subset): merge-patch semantics, plus keyed lists merged by
/// their merge key (see [`ListRules`]), set lists unioned, `$patch: delete|replace` on list
/// elements and maps, `$deleteFromPrimitiveList/<field>` and other `$` directives ignored.
pub fn strategic_merge_patch(doc: &mut Value, patch: &Value, rules: &ListRules) {
    smp(doc, patch, rules, &mut Vec::new());
}

fn smp(doc: &mut Value, patch: &Value, rules: &ListRules, path: &mut Vec<String>) {
    let Value::Object(p) = patch else {
        *doc = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut clean = patch.clone();
        strip_directives(&mut clean);
        *doc = clean;
        return;
    }
    if !doc.is_object() {
        *doc = Value::Object(serde_json::Map::new());
    }
    let Value::Object(d) = doc else { return };
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Value::Array(del)) = (d.get_mut(field), v) {
                cur.retain(|x| !del.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            d.remove(k);
            continue;
        }
        path.push(k.clone());
        match v {
            Value::Array(items) => {
                let refs: Vec<&str> = path.iter().map(String::as_str).collect();
                match rules.kind(&refs) {
                    ListKind::Atomic => {
                        d.insert(k.clone(), v.clone());
                    }
                    ListKind::Set => {
                        let cur = d.entry(k.clone()).or_insert_with(|| Value::Array(Vec::new()));
                        if let Value::Array(cur) = cur {
                            for item in items {
                                if !cur.contains(item) {
                                    cur.push(item.clone());
                                }
                            }
                        }
                    }
                    ListKind::Map(keys) => {
                        let cur = d.entry(k.clone()).or_insert_with(|| Value::Array(Vec::new()));
                        if !cur.is_array() {
                            *cur = Value::Array(Vec::new());
                        }
                        if let Value::Array(cur) = cur {
                            merge_keyed(cur, items, &keys, rules, path);
                        }
                    }
                }
            }
            Value::Object(_) => {
                let entry = d.entry(k.clone()).or_insert(Value::Null);
                if v.get("$patch").and_then(Value::as_str) == Some("delete") {
                    d.remove(k);
                } else {
                    smp(entry, v, rules, path);
                }
            }
            _ => {
                d.insert(k.clone(), v.clone());
            }
        }
        path.pop();
    }
}

fn merge_keyed(
    cur: &mut Vec<Value>,
    items: &[Value],
    keys: &[String],
    rules: &ListRules,
    path: &mut Vec<String>,
) {
    for item in items {
        let Some(key) = element_key(item, keys) else {
            cur.push(item.clone());
            continue;
        };
        let pos = cur
            .iter()
            .position(|e| element_key(e, keys).as_ref() == Some(&key));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                cur.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => smp(&mut cur[i], item, rules, path),
            (None, false) => {
                let mut clean = item.clone();
                strip_directives(&mut clean);
                cur.push(clean);
            }
        }
    }
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_deletes_with_null_and_replaces_arrays() {
        let mut d = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge_patch(&mut d, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(d, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn json_patch_null_test_on_missing_path_succeeds() {
        let mut d = json!({"metadata": {"name": "x"}});
        json_patch(
            &mut d,
            &json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}
            ]),
        )
        .unwrap();
        assert_eq!(d["metadata"]["finalizers"], json!(["f"]));
    }

    #[test]
    fn json_patch_failed_test_is_invalid() {
        let mut d = json!({"metadata": {"finalizers": ["a"]}});
        let e = json_patch(
            &mut d,
            &json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "b"}]),
        )
        .unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
        let e = json_patch(&mut d, &json!({"op": "add"})).unwrap_err();
        assert_eq!(e.code, 400);
    }

    #[test]
    fn strategic_merge_keys_containers_by_name() {
        let mut d = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
                           "metadata": {"finalizers": ["f1"]}});
        strategic_merge_patch(
            &mut d,
            &json!({"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "a", "$patch": "delete"}]},
                    "metadata": {"finalizers": ["f2"]}}),
            &ListRules::builtin(),
        );
        assert_eq!(d["spec"]["containers"], json!([{"name": "b", "image": "z"}]));
        assert_eq!(d["metadata"]["finalizers"], json!(["f1", "f2"]));
    }
}

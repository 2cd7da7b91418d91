//! Semantic comparison of objects.

use serde_json::Value;

/// Drops Go's zero values (`false`, `0`, `""`, empty lists and maps, null) recursively, as the
/// case catalogue does for `expected_object`.
pub fn prune_zero(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Bool(false) => None,
        Value::Bool(true) => Some(v.clone()),
        Value::Number(n) => (n.as_f64() != Some(0.0)).then(|| v.clone()),
        Value::String(s) => (!s.is_empty()).then(|| v.clone()),
        Value::Array(a) => {
            // Items keep their position, so an all-zero item becomes an empty map, not a gap.
            if a.is_empty() {
                None
            } else {
                Some(Value::Array(
                    a.iter()
                        .map(|x| prune_zero(x).unwrap_or(Value::Object(Default::default())))
                        .collect(),
                ))
            }
        }
        Value::Object(m) => {
            let out: serde_json::Map<String, Value> = m
                .iter()
                .filter_map(|(k, x)| prune_zero(x).map(|x| (k.clone(), x)))
                .collect();
            (!out.is_empty()).then_some(Value::Object(out))
        }
    }
}

/// The path and the two values of the first difference between `want` and `got`, if any.
pub fn first_difference(want: &Value, got: &Value) -> Option<String> {
    diff(want, got, String::new())
}

fn diff(want: &Value, got: &Value, path: String) -> Option<String> {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, av) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    None => return Some(format!("{p}: want {}, got nothing", short(av))),
                    Some(bv) => {
                        if let Some(d) = diff(av, bv, p) {
                            return Some(d);
                        }
                    }
                }
            }
            for (k, bv) in b {
                if !a.contains_key(k) {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    return Some(format!("{p}: want nothing, got {}", short(bv)));
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (av, bv)) in a.iter().zip(b).enumerate() {
                if let Some(d) = diff(av, bv, format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (a.len() != b.len()).then(|| format!("{path}: want {} items, got {}", a.len(), b.len()))
        }
        (a, b) if scalar_eq(a, b) => None,
        (a, b) => Some(format!(
            "{}: want {}, got {}",
            if path.is_empty() { "." } else { &path },
            short(a),
            short(b)
        )),
    }
}

/// Scalars compare as Go prints them: `"1.20"` and `1.2` differ, `40` and `"40"` do not.
fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => s == &n.to_string(),
        _ => a == b,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}...", &s[..s.floor_char_boundary(77)])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zero_values_are_dropped() {
        let v = json!({"a": "", "b": 0, "c": false, "d": [], "e": {"f": null}, "g": [{"h": ""}], "i": 1});
        assert_eq!(prune_zero(&v), Some(json!({"g": [{}], "i": 1})));
    }

    #[test]
    fn difference_names_the_path() {
        let d = first_difference(&json!({"spec": {"a": [1, 2]}}), &json!({"spec": {"a": [1, 3]}}));
        assert_eq!(d.as_deref(), Some("spec.a[1]: want 2, got 3"));
        assert_eq!(first_difference(&json!({"a": "40"}), &json!({"a": 40})), None);
    }
}

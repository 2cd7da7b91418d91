//! Label and field selectors as the API server parses them (`k=v`, `k==v`, `k!=v`,
//! `k in (a,b)`, `k notin (a,b)`, `k`, `!k`; comma means AND).

use serde_json::Value;

use crate::error::ApiError;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `k=v` or `k==v`.
    Equals(String, String),
    /// `k!=v` (also true when the label is absent).
    NotEquals(String, String),
    /// `k in (a,b)`.
    In(String, Vec<String>),
    /// `k notin (a,b)` (also true when the label is absent).
    NotIn(String, Vec<String>),
    /// `k`.
    Exists(String),
    /// `!k`.
    DoesNotExist(String),
}

/// A parsed label selector: all requirements must hold. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<Requirement>);

impl LabelSelector {
    /// Parses the query-string form.
    ///
    /// # Errors
    /// 400 BadRequest on a malformed selector, as the real server answers.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let bad = |why: &str| ApiError::bad_request(format!("unable to parse requirement: {why} in \"{s}\""));
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            if let Some(k) = part.strip_prefix('!') {
                let k = k.trim();
                check_key(k).map_err(|e| bad(&e))?;
                reqs.push(Requirement::DoesNotExist(k.to_string()));
            } else if let Some((k, v)) = part.split_once("!=") {
                let k = k.trim();
                check_key(k).map_err(|e| bad(&e))?;
                reqs.push(Requirement::NotEquals(
                    k.to_string(),
                    check_value(v.trim()).map_err(|e| bad(&e))?,
                ));
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                let k = k.trim();
                check_key(k).map_err(|e| bad(&e))?;
                reqs.push(Requirement::Equals(
                    k.to_string(),
                    check_value(v.trim()).map_err(|e| bad(&e))?,
                ));
            } else if let Some((k, set, negated)) = set_requirement(part) {
                check_key(k).map_err(|e| bad(&e))?;
                let values = set
                    .split(',')
                    .map(|v| check_value(v.trim()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad(&e))?;
                reqs.push(if negated {
                    Requirement::NotIn(k.to_string(), values)
                } else {
                    Requirement::In(k.to_string(), values)
                });
            } else {
                check_key(part).map_err(|e| bad(&e))?;
                reqs.push(Requirement::Exists(part.to_string()));
            }
        }
        Ok(Self(reqs))
    }

    /// Whether the labels (a JSON object, or absent) satisfy every requirement.
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }

    /// Whether the selector has no requirement.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// `k in (a,b)` / `k notin (a,b)` -> (k, "a,b", negated).
fn set_requirement(part: &str) -> Option<(&str, &str, bool)> {
    let open = part.find('(')?;
    let close = part.rfind(')')?;
    if close != part.len() - 1 || close < open {
        return None;
    }
    let head = part[..open].trim();
    let set = &part[open + 1..close];
    let (k, op) = head.rsplit_once(char::is_whitespace)?;
    match op {
        "in" => Some((k.trim(), set, false)),
        "notin" => Some((k.trim(), set, true)),
        _ => None,
    }
}

fn check_key(k: &str) -> Result<(), String> {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix
        && (p.is_empty()
            || p.len() > 253
            || !p
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'))
    {
        return Err(format!("invalid label key prefix \"{p}\""));
    }
    if name.is_empty() || name.len() > 63 || !is_label_chars(name) {
        return Err(format!("invalid label key \"{k}\""));
    }
    Ok(())
}

fn check_value(v: &str) -> Result<String, String> {
    if v.len() > 63 || (!v.is_empty() && !is_label_chars(v)) {
        return Err(format!("invalid label value: \"{v}\""));
    }
    Ok(v.to_string())
}

fn is_label_chars(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// One `field=value` / `field!=value` term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// Dotted field path, e.g. `metadata.name`.
    pub field: String,
    /// The value compared against.
    pub value: String,
    /// `!=` instead of `=`.
    pub negated: bool,
}

/// A parsed field selector (AND of terms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<FieldRequirement>);

impl FieldSelector {
    /// Parses the query-string form; `allowed` says which field paths this resource supports.
    ///
    /// # Errors
    /// 400 BadRequest on syntax errors and on unsupported fields ("field label not supported").
    pub fn parse(s: &str, allowed: &dyn Fn(&str) -> bool) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, value, negated) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, v, false)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector: \"{part}\""
                )));
            };
            let field = field.trim();
            if !allowed(field) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            reqs.push(FieldRequirement {
                field: field.to_string(),
                value: value.trim().to_string(),
                negated,
            });
        }
        Ok(Self(reqs))
    }

    /// Whether the object satisfies every term (values are compared as strings; absent = "").
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|r| {
            let mut cur = Some(obj);
            for seg in r.field.split('.') {
                cur = cur.and_then(|c| c.get(seg));
            }
            let actual = match cur {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            (actual == r.value) != r.negated
        })
    }

    /// Whether the selector has no term.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(sel: &str, labels: Value, expect: bool) {
        let s = LabelSelector::parse(sel).unwrap();
        assert_eq!(s.matches(Some(&labels)), expect, "{sel} on {labels}");
    }

    #[test]
    fn label_selector_forms() {
        let l = json!({"app": "web", "tier": "fe", "example.com/x": "1"});
        check("app=web", l.clone(), true);
        check("app==web", l.clone(), true);
        check("app!=web", l.clone(), false);
        check("missing!=web", l.clone(), true);
        check("app in (web, db)", l.clone(), true);
        check("app notin (web,db)", l.clone(), false);
        check("missing notin (web)", l.clone(), true);
        check("tier", l.clone(), true);
        check("!tier", l.clone(), false);
        check("!nope", l.clone(), true);
        check("app=web,tier=fe,example.com/x=1", l.clone(), true);
        check("app=web,tier=be", l.clone(), false);
        check("", l, true);
    }

    #[test]
    fn label_selector_parse_errors() {
        for bad in ["app=we b", "-x=1", "app in (a", "/x=1", "a=b=c"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(
            LabelSelector::parse("a in (x,y)").unwrap().0,
            vec![Requirement::In("a".into(), vec!["x".into(), "y".into()])]
        );
    }

    #[test]
    fn field_selector_metadata_name() {
        let allow = |f: &str| f == "metadata.name" || f == "metadata.namespace";
        let s = FieldSelector::parse("metadata.name=a,metadata.namespace!=kube-system", &allow).unwrap();
        assert!(s.matches(&json!({"metadata": {"name": "a", "namespace": "default"}})));
        assert!(!s.matches(&json!({"metadata": {"name": "b", "namespace": "default"}})));
        let e = FieldSelector::parse("spec.x=1", &allow).unwrap_err();
        assert_eq!(e.code, 400);
    }
}

//! A small, deterministic YAML writer in the style Kubernetes tooling prints (the style of
//! sigs.k8s.io/yaml, which EKS Anywhere uses): two-space indents, list items at the indent of
//! their key, strings quoted only when they would otherwise read as another type.
//!
//! Writing our own keeps the output byte-stable across dependency upgrades, which the golden
//! tests and users' diffs of generated files rely on.

use serde_json::Value;

/// Key order in mappings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrder {
    /// As the value holds them (struct field order for typed values).
    AsIs,
    /// Sorted bytewise, as Go prints a `map` (and so every object sigs.k8s.io/yaml prints).
    Sorted,
}

/// Writes one value as a YAML document (no leading `---`), ending with a newline.
pub fn to_string(value: &Value, order: KeyOrder) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0, order),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0, order),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    out
}

/// Writes several documents separated by `---` lines.
pub fn to_string_multi<'a>(values: impl IntoIterator<Item = &'a Value>, order: KeyOrder) -> String {
    values
        .into_iter()
        .map(|v| to_string(v, order))
        .collect::<Vec<_>>()
        .join("---\n")
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, level: usize, order: KeyOrder) {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    if order == KeyOrder::Sorted {
        entries.sort_by(|a, b| a.0.cmp(b.0));
    }
    for (k, v) in entries {
        indent(out, level);
        out.push_str(&scalar_string(k));
        out.push(':');
        write_value_after_key(out, v, level, order);
    }
}

fn write_value_after_key(out: &mut String, v: &Value, level: usize, order: KeyOrder) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, level + 2, order);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, level, order);
        }
        Value::String(s) if s.contains('\n') => {
            write_block(out, s, level + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], level: usize, order: KeyOrder) {
    for v in a {
        indent(out, level);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // The first key goes on the dash line, the rest under it.
                let mut first = String::new();
                write_map(&mut first, m, level + 2, order);
                out.push(' ');
                out.push_str(&first[level + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, level + 2, order);
            }
            Value::String(s) if s.contains('\n') => write_block(out, s, level + 2),
            other => {
                out.push(' ');
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

fn write_block(out: &mut String, s: &str, level: usize) {
    let keep = if s.ends_with('\n') {
        if s.ends_with("\n\n") { "+" } else { "" }
    } else {
        "-"
    };
    let lead = if s.starts_with(' ') { "2" } else { "" };
    out.push_str(&format!(" |{lead}{keep}\n"));
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            indent(out, level);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string as a plain scalar when that reads back as the same string, else double-quoted.
fn scalar_string(s: &str) -> String {
    if needs_quotes(s) { quote(s) } else { s.to_string() }
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || s != s.trim() {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    // YAML 1.1 and 1.2 words that read as booleans or null.
    if matches!(
        lower.as_str(),
        "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | "null"
            | "~"
            | ".nan"
            | ".inf"
            | "-.inf"
            | "+.inf"
    ) {
        return true;
    }
    if looks_numeric(s) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-`, `?` and `:` are fine when followed by a non-space, except at the very start of
        // a scalar where readers disagree; quote to be safe.
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return true;
    }
    s.chars().any(|c| c.is_control() || c == '\u{feff}')
}

fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    if t.starts_with("0x") || t.starts_with("0o") || t.starts_with("0b") {
        return true;
    }
    // Digits with at most one dot and an optional exponent; also 1_000 and sexagesimal 1:30.
    let mut seen_digit = false;
    for c in t.chars() {
        match c {
            '0'..='9' => seen_digit = true,
            '.' | '_' | 'e' | 'E' | '-' | '+' | ':' => {}
            _ => return false,
        }
    }
    seen_digit
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_go_style_lists_and_quotes_numbers() {
        let v = json!({"spec": {"kubernetesVersion": "1.36", "pods": {"cidrBlocks": ["192.168.0.0/16"]},
            "dns": {}, "workers": [{"count": 1, "name": "md-0"}], "flag": true, "empty": ""}});
        let want = "spec:\n  dns: {}\n  empty: \"\"\n  flag: true\n  kubernetesVersion: \"1.36\"\n  pods:\n    cidrBlocks:\n    - 192.168.0.0/16\n  workers:\n  - count: 1\n    name: md-0\n";
        assert_eq!(to_string(&v, KeyOrder::Sorted), want);
    }

    #[test]
    fn strings_that_read_as_other_types_are_quoted() {
        for s in [
            "true", "no", "1.30", "443", "1e3", "null", "", " x", "a: b", "#x", "*x", "0x1f",
        ] {
            assert!(to_string(&json!({ "k": s }), KeyOrder::AsIs).contains('"'), "{s}");
        }
        for s in [
            "abc",
            "192.168.0.0/16",
            "public.ecr.aws/x:v1.2",
            "md-0",
            "http://x:3128",
        ] {
            assert!(
                !to_string(&json!({ "k": s }), KeyOrder::AsIs).contains('"'),
                "{s}"
            );
        }
    }

    #[test]
    fn multi_line_strings_are_blocks_that_read_back() {
        let v = json!({"k": "line one\n  two\n", "l": ["a\nb"]});
        let text = to_string(&v, KeyOrder::AsIs);
        let back = crate::document::parse_value(&text, 1).unwrap();
        assert_eq!(back, v, "{text}");
    }
}

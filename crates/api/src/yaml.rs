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
    let mut out = String::with_capacity(256);
    write_document(&mut out, value, order);
    out
}

/// Writes several documents separated by `---` lines.
pub fn to_string_multi<'a>(values: impl IntoIterator<Item = &'a Value>, order: KeyOrder) -> String {
    let mut out = String::with_capacity(4096);
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        write_document(&mut out, v, order);
    }
    out
}

fn write_document(out: &mut String, value: &Value, order: KeyOrder) {
    match value {
        Value::Object(m) if !m.is_empty() => write_map(out, m, 0, order, false),
        Value::Array(a) if !a.is_empty() => write_seq(out, a, 0, order),
        other => {
            write_inline(out, other);
            out.push('\n');
        }
    }
}

fn indent(out: &mut String, mut n: usize) {
    const SPACES: &str = "                                                                ";
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

/// Writes a mapping at `level`; with `continues_dash`, the first key goes right after a `- `
/// already written (a mapping inside a list).
fn write_map(
    out: &mut String,
    m: &serde_json::Map<String, Value>,
    level: usize,
    order: KeyOrder,
    continues_dash: bool,
) {
    let mut entry = |i: usize, k: &str, v: &Value| {
        if i > 0 || !continues_dash {
            indent(out, level);
        }
        write_scalar(out, k);
        out.push(':');
        write_value_after_key(out, v, level, order);
    };
    match order {
        KeyOrder::AsIs => {
            for (i, (k, v)) in m.iter().enumerate() {
                entry(i, k, v);
            }
        }
        KeyOrder::Sorted => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (k, v)) in entries.into_iter().enumerate() {
                entry(i, k, v);
            }
        }
    }
}

fn write_value_after_key(out: &mut String, v: &Value, level: usize, order: KeyOrder) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, level + 2, order, false);
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
            write_inline(out, other);
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
                out.push(' ');
                write_map(out, m, level + 2, order, true);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, level + 2, order);
            }
            Value::String(s) if s.contains('\n') => write_block(out, s, level + 2),
            other => {
                out.push(' ');
                write_inline(out, other);
                out.push('\n');
            }
        }
    }
}

fn write_block(out: &mut String, s: &str, level: usize) {
    out.push_str(" |");
    if s.starts_with(' ') {
        out.push('2');
    }
    if !s.ends_with('\n') {
        out.push('-');
    } else if s.ends_with("\n\n") {
        out.push('+');
    }
    out.push('\n');
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            indent(out, level);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn write_inline(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            use std::fmt::Write;
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_scalar(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// A string as a plain scalar when that reads back as the same string, else double-quoted.
fn write_scalar(out: &mut String, s: &str) {
    if needs_quotes(s) {
        quote(out, s);
    } else {
        out.push_str(s);
    }
}

fn quote(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                use std::fmt::Write;
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn needs_quotes(s: &str) -> bool {
    let (Some(first), Some(last)) = (s.chars().next(), s.chars().next_back()) else {
        return true; // empty
    };
    if first.is_whitespace() || last.is_whitespace() {
        return true;
    }
    // YAML 1.1 and 1.2 words that read as booleans or null.
    const WORDS: [&str; 14] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".nan", ".inf", "-.inf", "+.inf",
    ];
    if s.len() <= 5 && WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        return true;
    }
    if looks_numeric(s) {
        return true;
    }
    let first = s.as_bytes()[0];
    if b"-?:,[]{}#&*!|>'\"%@`".contains(&first) {
        // `-`, `?` and `:` are fine when followed by a non-space, except at the very start of
        // a scalar where readers disagree; quote to be safe.
        return true;
    }
    if s.ends_with(':') {
        return true;
    }
    // One pass: `: ` and ` #` sequences, control characters and a byte-order mark.
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b':' if bytes.get(i + 1) == Some(&b' ') => return true,
            b' ' if bytes.get(i + 1) == Some(&b'#') => return true,
            0..=0x1f | 0x7f => return true,
            _ => {}
        }
    }
    !s.is_ascii() && (s.contains('\u{feff}') || s.chars().any(char::is_control))
}

/// Whether a YAML 1.1 or 1.2 reader could take `s` for a number: integers (also `0x`, `0o`,
/// `0b`, `1_000`), floats with at most one dot and an exponent, and YAML 1.1 sexagesimals
/// (`1:30`). Dotted quads such as `192.0.2.1` are strings to every reader and stay unquoted.
fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    if t.starts_with("0x") || t.starts_with("0o") || t.starts_with("0b") {
        return true;
    }
    if t.contains(':') {
        // Sexagesimal: digit groups separated by colons, the last may have a fraction.
        return t.split(':').all(|g| {
            let g = g.split_once('.').map_or(g, |(whole, _)| whole);
            !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        });
    }
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits_ok = |m: &str| {
        m.bytes().any(|b| b.is_ascii_digit())
            && m.bytes().all(|b| b.is_ascii_digit() || b == b'_' || b == b'.')
            && m.bytes().filter(|&b| b == b'.').count() <= 1
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    digits_ok(mantissa) && exponent_ok
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

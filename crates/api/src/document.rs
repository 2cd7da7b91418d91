//! From text to typed objects, the way EKS Anywhere reads a spec file.
//!
//! Three steps, each a pure function:
//! 1. [`split_documents`] cuts a multi-document file at `---` lines (with the reference's rule that
//!    anything but a comment after `---` is an error) and quotes unquoted `kubernetesVersion`
//!    values so `1.30` stays `"1.30"`;
//! 2. [`parse_value`] turns one document into a JSON value under hard budgets (size, depth,
//!    aliases, nodes), so a hostile file fails fast instead of eating the machine;
//! 3. [`decode`] turns a value into a typed object with Go's decoding rules (a YAML null is the
//!    zero value, a scalar is accepted where a string is expected) and reports the exact field
//!    path of the first mismatch or unknown field.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Largest spec file accepted, in bytes. A cluster spec with every kind is a few kilobytes; the
/// largest real TinkerbellTemplateConfig files are tens of kilobytes.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting accepted (mappings and sequences).
pub const MAX_DEPTH: usize = 64;
/// Most YAML nodes accepted in one document.
pub const MAX_NODES: usize = 200_000;
/// Most documents accepted in one file.
pub const MAX_DOCUMENTS: usize = 1_000;

/// A failure to read a document. Locations are 1-based lines of the whole file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("file is {size_bytes} bytes, more than the {limit_bytes} bytes a spec file may have")]
    TooLarge {
        /// Size of the input.
        size_bytes: usize,
        /// The limit.
        limit_bytes: usize,
    },
    /// The input is not UTF-8 text.
    #[error("file is not UTF-8 text (invalid byte at offset {offset})")]
    NotText {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A line starting with `---` has more than a comment after it.
    #[error("line {line}: invalid YAML document separator: {rest}")]
    Separator {
        /// Line of the separator.
        line: usize,
        /// What followed `---`.
        rest: String,
    },
    /// More than [`MAX_DOCUMENTS`] documents.
    #[error("file has more than {limit} YAML documents")]
    TooManyDocuments {
        /// The limit.
        limit: usize,
    },
    /// YAML syntax error or a budget (depth, aliases, nodes) exceeded.
    #[error("{}invalid YAML: {message}", location(*line, *column))]
    Yaml {
        /// Line of the problem in the file, when known.
        line: Option<usize>,
        /// Column of the problem, when known.
        column: Option<usize>,
        /// What the YAML reader said.
        message: String,
    },
    /// The top of a document is not a mapping.
    #[error("line {line}: a document must be a mapping of fields, found {found}")]
    NotAMapping {
        /// First line of the document.
        line: usize,
        /// What was found instead.
        found: &'static str,
    },
    /// The value does not fit the type at `path`.
    #[error("{path}: {message}")]
    Decode {
        /// Field path, e.g. `spec.workerNodeGroupConfigurations[0].count`.
        path: String,
        /// What does not fit.
        message: String,
        /// A suggestion (for unknown fields: the field names allowed there).
        hint: Option<String>,
    },
}

impl Error {
    /// The field path this error is about, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::Decode { path, .. } => Some(path),
            _ => None,
        }
    }

    /// A suggestion for the user, if there is one.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Decode { hint, .. } => hint.as_deref(),
            Error::TooLarge { .. } => Some("split the file, or check that this is the file you meant"),
            _ => None,
        }
    }
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: "),
        (Some(l), None) => format!("line {l}: "),
        _ => String::new(),
    }
}

/// One document of a multi-document file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document<'a> {
    /// 1-based line of the file where the document's text starts.
    pub line: usize,
    /// The document's text, with `kubernetesVersion` values quoted.
    pub text: Cow<'a, str>,
}

/// Checks size and encoding of raw file bytes and returns the text.
pub fn text_of(bytes: &[u8]) -> Result<&str, Error> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Error::TooLarge {
            size_bytes: bytes.len(),
            limit_bytes: MAX_FILE_BYTES,
        });
    }
    std::str::from_utf8(bytes).map_err(|e| Error::NotText {
        offset: e.valid_up_to(),
    })
}

/// How to cut a file into documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The strict reading (`parse_cluster`, the CLI): a line starting with `---` separates
    /// documents when the rest of it is blank or a `#` comment; anything else is an error.
    Strict,
    /// The lenient whole-config-set reading: only lines exactly `---` separate documents.
    Lenient,
}

/// Splits a file into its non-empty documents and quotes `kubernetesVersion` values.
pub fn split_documents(text: &str, mode: Split) -> Result<Vec<Document<'_>>, Error> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Error::TooLarge {
            size_bytes: text.len(),
            limit_bytes: MAX_FILE_BYTES,
        });
    }
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (idx, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_sep = match mode {
            Split::Lenient => bare == "---",
            Split::Strict => match bare.strip_prefix("---") {
                None => false,
                Some(rest) => {
                    let rest = rest.trim();
                    if rest.is_empty() || rest.starts_with('#') {
                        true
                    } else {
                        return Err(Error::Separator {
                            line: idx + 1,
                            rest: rest.to_string(),
                        });
                    }
                }
            },
        };
        if is_sep {
            push_document(&mut docs, &text[start..offset], start_line)?;
            start = offset + line.len();
            start_line = idx + 2;
        }
        offset += line.len();
    }
    push_document(&mut docs, &text[start..], start_line)?;
    Ok(docs)
}

fn push_document<'a>(docs: &mut Vec<Document<'a>>, text: &'a str, line: usize) -> Result<(), Error> {
    if is_blank_document(text) {
        return Ok(());
    }
    if docs.len() >= MAX_DOCUMENTS {
        return Err(Error::TooManyDocuments { limit: MAX_DOCUMENTS });
    }
    docs.push(Document {
        line,
        text: quote_kubernetes_version(text),
    });
    Ok(())
}

fn is_blank_document(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "..."
    })
}

/// Quotes the value of every `kubernetesVersion: 1.NN` line, as EKS Anywhere does before
/// decoding, so that `1.30` means the string "1.30" and not the number 1.3.
pub fn quote_kubernetes_version(text: &str) -> Cow<'_, str> {
    const KEY: &str = "kubernetesVersion:";
    if !text.contains(KEY) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        match quote_line(line, KEY) {
            Some(q) => {
                out.push_str(&q);
                changed = true;
            }
            None => out.push_str(line),
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// The reference's rule: `(.*kubernetesVersion:\s*)['"]?(1\.[0-9]{2,})['"]?(.*)$`.
fn quote_line(line: &str, key: &str) -> Option<String> {
    let at = line.rfind(key)?;
    let after_key = &line[at + key.len()..];
    let ws = after_key.len() - after_key.trim_start_matches([' ', '\t']).len();
    let mut rest = &after_key[ws..];
    rest = rest.strip_prefix(['\'', '"']).unwrap_or(rest);
    let digits = rest.strip_prefix("1.")?;
    let n = digits.bytes().take_while(u8::is_ascii_digit).count();
    if n < 2 {
        return None;
    }
    let version = &rest[..2 + n];
    let mut tail = &rest[2 + n..];
    tail = tail.strip_prefix(['\'', '"']).unwrap_or(tail);
    Some(format!("{}\"{}\"{}", &line[..at + key.len() + ws], version, tail))
}

/// Parses one YAML document into a JSON value, within the budgets of this module.
///
/// Duplicate mapping keys keep the last value (as the reference's YAML reader does). YAML 1.2
/// booleans: only `true` and `false` are booleans, so `name: yes` is the string "yes".
/// `first_line` is the document's first line in the file, used to report file lines.
pub fn parse_value(text: &str, first_line: usize) -> Result<Value, Error> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_nodes: MAX_NODES,
            max_aliases: 10_000,
            max_anchors: 10_000,
            max_documents: 1,
            max_total_scalar_bytes: MAX_FILE_BYTES,
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
        strict_booleans: true,
    };
    let value: Value = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let location = e.location();
        let line = location.map(|l| l.line() as usize + first_line - 1);
        let column = location.map(|l| l.column() as usize);
        let mut message = first_line_of(&e.without_snippet().to_string());
        // The reader's own "at line N, column M" counts from the document, not the file.
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        Error::Yaml {
            line,
            column,
            message,
        }
    })?;
    Ok(value)
}

/// Checks that a parsed document is a mapping (or empty) and returns its object.
pub fn as_mapping(value: Value, line: usize) -> Result<serde_json::Map<String, Value>, Error> {
    match value {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(serde_json::Map::new()),
        other => Err(Error::NotAMapping {
            line,
            found: type_name(&other),
        }),
    }
}

fn first_line_of(s: &str) -> String {
    let s = s.lines().next().unwrap_or("").trim();
    // serde-saphyr prefixes "error: " in some messages; the reporter adds its own context.
    s.strip_prefix("error: ").unwrap_or(s).to_string()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// How to treat fields the type does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fields {
    /// An unknown field is an error naming its path (the CLI, `validate`, `parse_cluster`).
    Strict,
    /// Unknown fields are dropped (the reference's whole-config-set reading for manifests).
    Lenient,
}

/// Decodes a value into `T` with Go's rules, reporting the field path of any mismatch.
///
/// `prefix` is prepended to paths (use `""` for a whole object).
pub fn decode<T: DeserializeOwned>(value: &Value, fields: Fields) -> Result<T, Error> {
    match fields {
        Fields::Strict => decode_strict(value),
        Fields::Lenient => {
            let mut owned: Option<Value> = None;
            // Each round removes one unknown field; a document has finitely many keys.
            for _ in 0..10_000 {
                let current = owned.as_ref().unwrap_or(value);
                match decode_strict::<T>(current) {
                    Err(Error::Decode { path, message, .. }) if message.starts_with("unknown field") => {
                        let mut v = current.clone();
                        if !remove_path(&mut v, &path) {
                            return Err(Error::Decode {
                                path,
                                message,
                                hint: None,
                            });
                        }
                        owned = Some(v);
                    }
                    other => return other,
                }
            }
            decode_strict(owned.as_ref().unwrap_or(value))
        }
    }
}

fn decode_strict<T: DeserializeOwned>(value: &Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(GoValue(value)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().0;
        shape_decode_error(path, inner)
    })
}

fn shape_decode_error(path: String, raw: String) -> Error {
    // serde's derive says: unknown field `foo`, expected one of `a`, `b`
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let allowed: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        // serde_path_to_error's path already ends with the unknown key.
        let full = if path.is_empty() || path == "." {
            field.to_string()
        } else {
            path
        };
        let hint = if allowed.is_empty() {
            Some("this object takes no fields".to_string())
        } else {
            match closest(field, &allowed) {
                Some(best) => Some(format!(
                    "did you mean \"{best}\"? fields allowed here: {}",
                    allowed.join(", ")
                )),
                None => Some(format!("fields allowed here: {}", allowed.join(", "))),
            }
        };
        return Error::Decode {
            path: full,
            message: format!("unknown field \"{field}\""),
            hint,
        };
    }
    let path = if path.is_empty() || path == "." {
        "(document)".to_string()
    } else {
        path
    };
    Error::Decode {
        path,
        message: plain_type_words(&raw.replace('`', "\"")),
        hint: None,
    }
}

/// serde's type names as a user would say them: `expected i64` becomes `expected an integer`.
fn plain_type_words(msg: &str) -> String {
    let Some((head, expected)) = msg.split_once(", expected ") else {
        return msg.to_string();
    };
    let plain = match expected {
        "i64" | "i32" | "u64" | "u32" | "i16" | "u16" | "i8" | "u8" => "an integer",
        "f64" | "f32" => "a number",
        "a boolean" | "bool" => "true or false",
        "a sequence" => "a list",
        "a map" => "a mapping",
        "a string" => "a string",
        e if e.starts_with("struct ") => "a mapping",
        e => e,
    };
    format!("{head}, expected {plain}")
}

/// Removes the key at a dotted path such as `spec.foo[1].bar`; returns whether it was there.
fn remove_path(v: &mut Value, path: &str) -> bool {
    let mut segs: Vec<String> = Vec::new();
    for part in path.split('.') {
        let mut p = part;
        if let Some(i) = p.find('[') {
            segs.push(p[..i].to_string());
            p = &p[i..];
            while let Some(end) = p.find(']') {
                segs.push(p[..=end].to_string());
                p = &p[end + 1..];
            }
        } else {
            segs.push(p.to_string());
        }
    }
    let Some((last, parents)) = segs.split_last() else {
        return false;
    };
    let mut cur = v;
    for s in parents {
        let next = if let Some(idx) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            idx.parse::<usize>().ok().and_then(|i| cur.get_mut(i))
        } else {
            cur.get_mut(s.as_str())
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    cur.as_object_mut()
        .map(|m| m.remove(last.as_str()).is_some())
        .unwrap_or(false)
}

/// Levenshtein distance, for "did you mean".
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lw = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (distance(&lw, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Error type of the Go-rules deserializer; the path is added by `serde_path_to_error`.
#[derive(Debug)]
struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DeError {}
impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

/// A JSON value read with Go's `encoding/json` rules as sigs.k8s.io/yaml applies them.
#[derive(Clone, Copy)]
struct GoValue<'a>(&'a Value);

impl<'a> GoValue<'a> {
    fn invalid(&self, exp: &dyn de::Expected) -> DeError {
        let unexp = match self.0 {
            Value::Null => de::Unexpected::Unit,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    de::Unexpected::Signed(i)
                } else if let Some(u) = n.as_u64() {
                    de::Unexpected::Unsigned(u)
                } else {
                    de::Unexpected::Float(n.as_f64().unwrap_or(0.0))
                }
            }
            Value::String(s) => de::Unexpected::Str(s),
            Value::Array(_) => de::Unexpected::Seq,
            Value::Object(_) => de::Unexpected::Map,
        };
        de::Error::invalid_type(unexp, exp)
    }
}

struct Seq<'a>(std::slice::Iter<'a, Value>);
impl<'de, 'a> SeqAccess<'de> for Seq<'a> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.0.next() {
            Some(v) => seed.deserialize(GoValue(v)).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map<'a> {
    iter: serde_json::map::Iter<'a>,
    value: Option<&'a Value>,
    /// A struct's field names: keys match them case-insensitively, as Go's `encoding/json`
    /// does (an exact match wins), so `certSANs` fills `certSans`. Empty for plain maps.
    fields: &'static [&'static str],
}
impl<'de, 'a> MapAccess<'de> for Map<'a> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                let key = if self.fields.is_empty() || self.fields.contains(&k.as_str()) {
                    k.as_str()
                } else {
                    self.fields
                        .iter()
                        .copied()
                        .find(|f| f.eq_ignore_ascii_case(k))
                        .unwrap_or(k.as_str())
                };
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(v) => seed.deserialize(GoValue(v)),
            None => Err(de::Error::custom("value requested before key")),
        }
    }
}

static EMPTY_MAP: std::sync::LazyLock<serde_json::Map<String, Value>> =
    std::sync::LazyLock::new(serde_json::Map::new);

impl<'de, 'a> de::Deserializer<'de> for GoValue<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    v.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    v.visit_i64(i)
                } else {
                    v.visit_f64(n.as_f64().unwrap_or(0.0))
                }
            }
            Value::String(s) => v.visit_str(s),
            Value::Array(a) => v.visit_seq(Seq(a.iter())),
            Value::Object(m) => v.visit_map(Map {
                iter: m.iter(),
                value: None,
                fields: &[],
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_bool(false),
            Value::Bool(b) => v.visit_bool(*b),
            _ => Err(self.invalid(&v)),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_i64(0),
            Value::Number(n) => match n.as_i64() {
                Some(i) => v.visit_i64(i),
                None => Err(self.invalid(&v)),
            },
            _ => Err(self.invalid(&v)),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_u64(0),
            Value::Number(n) => match n.as_u64() {
                Some(u) => v.visit_u64(u),
                None => Err(self.invalid(&v)),
            },
            _ => Err(self.invalid(&v)),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_f64(0.0),
            Value::Number(n) => v.visit_f64(n.as_f64().unwrap_or(0.0)),
            _ => Err(self.invalid(&v)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_str(""),
            Value::String(s) => v.visit_str(s),
            // sigs.k8s.io/yaml turns a YAML scalar into a string when the field is a string.
            Value::Number(n) => v.visit_string(n.to_string()),
            Value::Bool(b) => v.visit_string(b.to_string()),
            _ => Err(self.invalid(&v)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_seq(Seq([].iter())),
            Value::Array(a) => v.visit_seq(Seq(a.iter())),
            _ => Err(self.invalid(&v)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_map(Map {
                iter: EMPTY_MAP.iter(),
                value: None,
                fields: &[],
            }),
            Value::Object(m) => v.visit_map(Map {
                iter: m.iter(),
                value: None,
                fields: &[],
            }),
            _ => Err(self.invalid(&v)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_map(Map {
                iter: EMPTY_MAP.iter(),
                value: None,
                fields,
            }),
            Value::Object(m) => v.visit_map(Map {
                iter: m.iter(),
                value: None,
                fields,
            }),
            _ => Err(self.invalid(&v)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _n: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(s) => v.visit_enum(s.as_str().into_deserializer()),
            _ => Err(self.invalid(&v)),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(v)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(v)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(v)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_u64(v)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_u64(v)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_u64(v)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(v)
    }

    serde::forward_to_deserialize_any! {
        char bytes byte_buf unit_struct tuple tuple_struct identifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_split_rejects_text_after_separator() {
        let err = split_documents("a: 1\n--- nope\nb: 2\n", Split::Strict).unwrap_err();
        assert_eq!(
            err,
            Error::Separator {
                line: 2,
                rest: "nope".into()
            }
        );
    }

    #[test]
    fn strict_split_accepts_comments_and_extra_separators() {
        let docs = split_documents("---\n---\na: 1\n--- # two\nb: 2\n---\n", Split::Strict).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].line, 3);
        assert_eq!(docs[1].line, 5);
    }

    #[test]
    fn lenient_split_only_on_exact_separator() {
        let docs = split_documents("a: 1\n--- # x\nb: 2\n---\nc: 3\n", Split::Lenient).unwrap();
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn kubernetes_version_is_quoted() {
        for (input, want) in [
            ("  kubernetesVersion: 1.30\n", "  kubernetesVersion: \"1.30\"\n"),
            ("kubernetesVersion: '1.20'", "kubernetesVersion: \"1.20\""),
            (
                "kubernetesVersion: \"1.21\" # c\n",
                "kubernetesVersion: \"1.21\" # c\n",
            ),
            ("kubernetesVersion: 1.9\n", "kubernetesVersion: 1.9\n"),
        ] {
            assert_eq!(quote_kubernetes_version(input), want, "{input}");
        }
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        count: Option<i64>,
    }
    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[serde(default)]
        items: Option<Vec<Inner>>,
        #[serde(default)]
        port: Option<String>,
    }

    fn value(s: &str) -> Value {
        parse_value(s, 1).unwrap()
    }

    #[test]
    fn unknown_field_reports_full_path_and_hint() {
        let err = decode::<Outer>(&value("items:\n- name: a\n  cuont: 2\n"), Fields::Strict).unwrap_err();
        assert_eq!(err.path(), Some("items[0].cuont"));
        assert!(err.to_string().contains("unknown field \"cuont\""), "{err}");
        assert!(err.hint().unwrap().contains("did you mean \"count\""), "{err:?}");
    }

    #[test]
    fn field_names_match_case_insensitively_like_go() {
        let o: Outer = decode(&value("PORT: 443\nItems:\n- NAME: a\n"), Fields::Strict).unwrap();
        assert_eq!(o.port.as_deref(), Some("443"));
        assert_eq!(o.items.unwrap()[0].name.as_deref(), Some("a"));
    }

    #[test]
    fn lenient_drops_unknown_fields() {
        let v = value("items:\n- name: a\n  extra: 2\nother: x\n");
        let o: Outer = decode(&v, Fields::Lenient).unwrap();
        assert_eq!(o.items.unwrap()[0].name.as_deref(), Some("a"));
    }

    #[test]
    fn wrong_type_names_path() {
        let err = decode::<Outer>(&value("items:\n- count: four\n"), Fields::Strict).unwrap_err();
        assert_eq!(err.path(), Some("items[0].count"));
    }

    #[test]
    fn null_is_zero_value_and_scalars_become_strings() {
        let o: Outer = decode(&value("items:\n-\nport: 443\n"), Fields::Strict).unwrap();
        assert_eq!(
            o.items.unwrap(),
            vec![Inner {
                name: None,
                count: None
            }]
        );
        assert_eq!(o.port.as_deref(), Some("443"));
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut s = String::from("a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            s.push_str(&format!(
                "l{i}: &l{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
        }
        assert!(matches!(parse_value(&s, 1), Err(Error::Yaml { .. })));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let s = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(matches!(parse_value(&s, 1), Err(Error::Yaml { .. })));
    }

    #[test]
    fn duplicate_keys_keep_last() {
        assert_eq!(value("a: 1\na: 2\n")["a"], 2);
    }
}

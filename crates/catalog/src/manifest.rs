//! Reading one manifest document from bytes: size and encoding checks, YAML with budgets, the
//! `apiVersion`/`kind` check, then Go-style decoding. Built on `anywhere_api::document`.

use serde::de::DeserializeOwned;
use serde_json::Value;

use anywhere_api::document::{self, Fields, Split};

use crate::error::{Error, ManifestKind, Result};

/// Parses the single document of a manifest file into a JSON value and checks its kind.
pub(crate) fn parse_value(bytes: &[u8], manifest: ManifestKind, origin: Option<&str>) -> Result<Value> {
    let parse_error = |source| Error::Parse {
        manifest,
        origin: origin.map(str::to_string),
        source,
    };
    let text = document::text_of(bytes).map_err(parse_error)?;
    let docs = document::split_documents(text, Split::Lenient).map_err(parse_error)?;
    let [doc] = docs.as_slice() else {
        return Err(Error::DocumentCount {
            manifest,
            origin: origin.map(str::to_string),
            found: docs.len(),
        });
    };
    let value = document::parse_value(&doc.text, doc.line).map_err(parse_error)?;
    let object = document::as_mapping(value, doc.line).map_err(parse_error)?;
    let field = |name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    if api_version != manifest.api_version() || kind != manifest.kind() {
        return Err(Error::UnexpectedKind {
            manifest,
            origin: origin.map(str::to_string),
            api_version,
            kind,
        });
    }
    Ok(Value::Object(object))
}

/// Decodes a parsed manifest into `T`.
pub(crate) fn decode<T: DeserializeOwned>(
    value: &Value,
    fields: Fields,
    manifest: ManifestKind,
    origin: Option<&str>,
) -> Result<T> {
    document::decode(value, fields).map_err(|source| Error::Parse {
        manifest,
        origin: origin.map(str::to_string),
        source,
    })
}

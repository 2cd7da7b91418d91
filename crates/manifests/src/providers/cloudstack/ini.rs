//! The CloudStack credentials file (`EKSA_CLOUDSTACK_B64ENCODED_SECRET`): an INI file with one
//! section per profile (availability-zone credentials), keys `api-key`, `secret-key`, `api-url`
//! and optional `verify-ssl`.

use base64::Engine;

use crate::{Error, Result};

/// The default `verify-ssl` when a profile does not set it.
pub const DEFAULT_VERIFY_SSL: &str = "true";

/// One profile of the credentials file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The section name; also the Secret name.
    pub name: String,
    /// `api-key`.
    pub api_key: String,
    /// `secret-key`.
    pub secret_key: String,
    /// `api-url`.
    pub api_url: String,
    /// `verify-ssl` as written (a Go boolean string), or `true`.
    pub verify_ssl: String,
}

fn invalid(why: String) -> Error {
    Error::Invalid {
        what: "CloudStack credentials (EKSA_CLOUDSTACK_B64ENCODED_SECRET)".into(),
        why,
    }
}

/// Decodes the base64 text and parses its profiles in file order.
///
/// # Errors
/// [`Error::Invalid`] when the text is not base64 or UTF-8, a line is not `key = value` or a
/// section header, a profile lacks a required key, `verify-ssl` is not a boolean, or there is no
/// profile at all.
pub fn profiles_from_base64(b64: &str) -> Result<Vec<Profile>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| invalid(format!("not base64: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| invalid("not UTF-8".into()))?;
    parse_profiles(&text)
}

/// Parses the INI text into profiles, in file order. Keys before the first section (INI's
/// `DEFAULT` section) are ignored.
///
/// # Errors
/// As [`profiles_from_base64`].
pub fn parse_profiles(text: &str) -> Result<Vec<Profile>> {
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_string();
            match sections.iter().position(|(s, _)| *s == name) {
                // A repeated section continues the first one, as go-ini does.
                Some(i) => {
                    let section = sections.remove(i);
                    sections.push(section);
                }
                None => sections.push((name, Vec::new())),
            }
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .or_else(|| line.split_once(':'))
            .ok_or_else(|| invalid(format!("line {}: expected `key = value`", n + 1)))?;
        let value = unquote(value.trim());
        if let Some((_, keys)) = sections.last_mut() {
            keys.push((key.trim().to_string(), value));
        }
    }
    let mut profiles = Vec::new();
    for (name, keys) in sections.into_iter().filter(|(n, _)| n != "DEFAULT") {
        let get = |k: &str| {
            keys.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let required = |k: &str| get(k).ok_or_else(|| invalid(format!("profile {name:?} has no {k:?}")));
        let verify_ssl = get("verify-ssl").unwrap_or_else(|| DEFAULT_VERIFY_SSL.into());
        if parse_go_bool(&verify_ssl).is_none() {
            return Err(invalid(format!(
                "profile {name:?}: 'verify-ssl' has invalid boolean string {verify_ssl}"
            )));
        }
        profiles.push(Profile {
            api_key: required("api-key")?,
            secret_key: required("secret-key")?,
            api_url: required("api-url")?,
            verify_ssl,
            name,
        });
    }
    if profiles.is_empty() {
        return Err(invalid("no profile found".into()));
    }
    Ok(profiles)
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "[global]\nverify-ssl = false\napi-key = k1\nsecret-key = s1\napi-url = http://a/client/api\n\n\
                       [instance2]\napi-key = k2\nsecret-key = s2\napi-url = http://b/client/api\n";

    #[test]
    fn profiles_in_file_order_with_default_verify_ssl() {
        let p = parse_profiles(TWO).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "global");
        assert_eq!(p[0].verify_ssl, "false");
        assert_eq!(p[1].name, "instance2");
        assert_eq!(p[1].verify_ssl, "true");
        assert_eq!(p[1].api_url, "http://b/client/api");
    }

    #[test]
    fn base64_round_trip() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(TWO);
        assert_eq!(profiles_from_base64(&b64).unwrap(), parse_profiles(TWO).unwrap());
        assert!(profiles_from_base64("%%%").is_err());
    }

    #[test]
    fn missing_keys_and_bad_booleans_are_errors() {
        assert!(parse_profiles("[a]\napi-key = k\n").is_err());
        assert!(parse_profiles("[a]\napi-key=k\nsecret-key=s\napi-url=u\nverify-ssl=maybe\n").is_err());
        assert!(parse_profiles("").is_err());
    }
}

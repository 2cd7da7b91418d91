//! Syntax checks the rules share, each with the semantics of the Go function EKS Anywhere calls
//! (named in each doc comment), because a spec valid there must stay valid here.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::LazyLock;

use regex::Regex;

/// Whether `s` is an IP literal (`net.ParseIP`: dotted IPv4 or IPv6, no zone, no brackets).
pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

const LABEL_NAME_FMT: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end \
     with an alphanumeric character";

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, the name part of a qualified name.
fn is_qualified_name_part(s: &str) -> bool {
    let (Some(first), Some(last)) = (s.chars().next(), s.chars().last()) else {
        return false;
    };
    is_alnum(first) && is_alnum(last) && s.chars().all(|c| is_alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// `validation.IsDNS1123Subdomain`: lowercase RFC 1123 labels joined by dots, at most 253
/// characters. Returns the problems, empty when valid.
pub(crate) fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    let label_ok = |l: &str| {
        let (Some(first), Some(last)) = (l.chars().next(), l.chars().last()) else {
            return false;
        };
        let lower_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        lower_alnum(first) && lower_alnum(last) && l.chars().all(|c| lower_alnum(c) || c == '-')
    };
    if !s.split('.').all(label_ok) {
        errs.push(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and \
             must start and end with an alphanumeric character"
                .to_string(),
        );
    }
    errs
}

/// `validation.IsQualifiedName` (a label key): `[prefix/]name`, the prefix a DNS subdomain, the
/// name at most 63 characters.
pub(crate) fn qualified_name_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain_errors(prefix)
                        .into_iter()
                        .map(|e| format!("prefix part {e}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {LABEL_NAME_FMT} with an optional DNS subdomain prefix and '/' (e.g. \
                 'example.com/MyName')"
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !name.is_empty() && !is_qualified_name_part(name) {
        errs.push(format!("name part {LABEL_NAME_FMT}"));
    }
    errs
}

/// `validation.IsValidLabelValue`: empty, or at most 63 characters of the name-part alphabet.
pub(crate) fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errs.push(format!("a valid label {LABEL_NAME_FMT}"));
    }
    errs
}

/// `validation.ValidateLabels`: every problem of a label map, each as `path: Invalid value:
/// "x": why`, keys in order.
pub(crate) fn label_errors(labels: &BTreeMap<String, String>, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in labels {
        for e in qualified_name_errors(k) {
            out.push(format!("{path}: Invalid value: {k:?}: {e}"));
        }
        for e in label_value_errors(v) {
            out.push(format!("{path}: Invalid value: {v:?}: {e}"));
        }
    }
    out
}

/// A semantic version as EKS Anywhere's `pkg/semver` reads it (leading `v` allowed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Semver {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Semver {
    /// Parses with the reference's regex; `None` when it is not a semantic version.
    pub(crate) fn parse(s: &str) -> Option<Semver> {
        static RE: LazyLock<Regex> = LazyLock::new(|| {
            let ident = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)";
            let pattern = format!(
                r"^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-{ident}(?:\.{ident})*)?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$"
            );
            Regex::new(&pattern).expect("the semver pattern is a valid regex")
        });
        let caps = RE.captures(s)?;
        let num = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u64>().ok());
        Some(Semver {
            major: num(1)?,
            minor: num(2)?,
            patch: num(3)?,
        })
    }
}

impl std::fmt::Display for Semver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A Kubernetes version as `k8s.io/apimachinery/pkg/util/version.ParseGeneric` reads it: at
/// least `major.minor`, an optional leading `v`, anything after the numbers ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KubeVersion {
    components: Vec<u64>,
}

impl KubeVersion {
    /// Parses a version; the error says why not.
    pub(crate) fn parse(s: &str) -> Result<KubeVersion, String> {
        let t = s.trim_start();
        let t = t.strip_prefix('v').unwrap_or(t);
        let numeric_len = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let mut numbers = &t[..numeric_len];
        // The regex takes `N(.N)*`; a trailing dot belongs to the ignored rest.
        while numbers.ends_with('.') {
            numbers = &numbers[..numbers.len() - 1];
        }
        if numbers.is_empty() || numbers.contains("..") {
            return Err(format!("could not parse {s:?} as version"));
        }
        let parts: Vec<&str> = numbers.split('.').collect();
        if parts.len() < 2 {
            return Err(format!("illegal version string {s:?}"));
        }
        let mut components = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            if i == 0 && p.starts_with('0') && *p != "0" {
                return Err(format!("illegal zero-prefixed version component {p:?} in {s:?}"));
            }
            components.push(
                p.parse::<u64>()
                    .map_err(|e| format!("illegal version string {s:?}: {e}"))?,
            );
        }
        Ok(KubeVersion { components })
    }

    /// The major version.
    pub(crate) fn major(&self) -> u64 {
        self.components.first().copied().unwrap_or(0)
    }

    /// The minor version.
    pub(crate) fn minor(&self) -> u64 {
        self.components.get(1).copied().unwrap_or(0)
    }

    /// Compares component by component, a missing component counting as 0.
    pub(crate) fn compare(&self, other: &KubeVersion) -> Ordering {
        let n = self.components.len().max(other.components.len());
        for i in 0..n {
            let a = self.components.get(i).copied().unwrap_or(0);
            let b = other.components.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    }
}

impl std::fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.components.iter().map(u64::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

/// `net.SplitHostPort`: `host:port` or `[v6]:port`. The error is Go's wording.
pub(crate) fn split_host_port(hostport: &str) -> Result<(&str, &str), &'static str> {
    const MISSING_PORT: &str = "missing port in address";
    const TOO_MANY_COLONS: &str = "too many colons in address";
    let Some(i) = hostport.rfind(':') else {
        return Err(MISSING_PORT);
    };
    let (host, j, k) = if let Some(rest) = hostport.strip_prefix('[') {
        let Some(end) = rest.find(']').map(|e| e + 1) else {
            return Err("missing ']' in address");
        };
        if end + 1 == hostport.len() {
            return Err(MISSING_PORT);
        }
        if end + 1 != i {
            return Err(if hostport.as_bytes()[end + 1] == b':' {
                TOO_MANY_COLONS
            } else {
                MISSING_PORT
            });
        }
        (&hostport[1..end], 1, end + 1)
    } else {
        let host = &hostport[..i];
        if host.contains(':') {
            return Err(TOO_MANY_COLONS);
        }
        (host, 0, 0)
    };
    if hostport[j..].contains('[') {
        return Err("unexpected '[' in address");
    }
    if hostport[k..].contains(']') {
        return Err("unexpected ']' in address");
    }
    Ok((host, &hostport[i + 1..]))
}

/// What `url.ParseRequestURI` keeps of a URL that the rules look at.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RequestUri<'a> {
    /// The scheme, lowercased; empty for an absolute path.
    pub scheme: String,
    /// The authority's `host[:port]`, empty when there is none.
    pub host: &'a str,
}

/// `url.ParseRequestURI`: an absolute URL or an absolute path; the error is Go's reason.
pub(crate) fn parse_request_uri(raw: &str) -> Result<RequestUri<'_>, &'static str> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL");
    }
    if raw.is_empty() {
        return Err("empty url");
    }
    if raw == "*" {
        return Ok(RequestUri {
            scheme: String::new(),
            host: "",
        });
    }
    let (scheme, rest) = split_scheme(raw)?;
    let rest = match rest.split_once('?') {
        Some((before, _)) => before,
        None => rest,
    };
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            return Ok(RequestUri { scheme, host: "" });
        }
        return Err("invalid URI for request");
    }
    let mut host = "";
    if !scheme.is_empty()
        && let Some(after) = rest.strip_prefix("//")
    {
        let authority = &after[..after.find('/').unwrap_or(after.len())];
        host = match authority.rfind('@') {
            Some(at) => &authority[at + 1..],
            None => authority,
        };
        if host.contains(' ') {
            return Err("invalid character in host name");
        }
    }
    Ok(RequestUri { scheme, host })
}

/// Go's `getScheme`: the scheme (lowercased) and what follows its colon, or no scheme.
fn split_scheme(raw: &str) -> Result<(String, &str), &'static str> {
    for (i, c) in raw.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            '0'..='9' | '+' | '-' | '.' => return Ok((String::new(), raw)),
            ':' if i == 0 => return Err("missing protocol scheme"),
            ':' => return Ok((raw[..i].to_ascii_lowercase(), &raw[i + 1..])),
            _ => return Ok((String::new(), raw)),
        }
    }
    Ok((String::new(), raw))
}

/// A Kubernetes quantity (`resource.Quantity`) in base units, e.g. `4Gi` → 4294967296.
/// `None` when the text is not a quantity.
pub(crate) fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let number_len = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && matches!(c, '+' | '-'))));
    let (number, suffix) = match number_len {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let digits = number.trim_start_matches(['+', '-']);
    if digits.is_empty() || digits == "." || digits.matches('.').count() > 1 {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let multiplier = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        other => {
            let exp = other.strip_prefix(['e', 'E'])?;
            let exp: i32 = exp.parse().ok()?;
            10f64.powi(exp)
        }
    };
    Some(value * multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_follow_qualified_name_rules() {
        let cases = [
            ("app", true),
            ("example.com/app", true),
            ("node-role.kubernetes.io/control-plane", true),
            ("-app", false),
            ("a/b/c", false),
            ("/app", false),
            ("Example.com/app", false),
            (&"x".repeat(64), false),
            ("", false),
        ];
        for (key, valid) in cases {
            assert_eq!(qualified_name_errors(key).is_empty(), valid, "{key}");
        }
    }

    #[test]
    fn label_values_may_be_empty_but_not_odd() {
        for (v, valid) in [("", true), ("v1.2_x", true), ("bad value", false), ("-x", false)] {
            assert_eq!(label_value_errors(v).is_empty(), valid, "{v}");
        }
    }

    #[test]
    fn semver_accepts_the_reference_forms() {
        for (v, ok) in [
            ("v0.19.0", true),
            ("0.19.0", true),
            ("v0.19.0-dev+latest", true),
            ("v1.2", false),
            ("v01.2.3", false),
            ("latest", false),
            ("", false),
        ] {
            assert_eq!(Semver::parse(v).is_some(), ok, "{v}");
        }
    }

    #[test]
    fn kube_versions_parse_generically() {
        assert_eq!(
            KubeVersion::parse("1.28").map(|v| (v.major(), v.minor())),
            Ok((1, 28))
        );
        assert_eq!(
            KubeVersion::parse("v1.28.3").map(|v| (v.major(), v.minor())),
            Ok((1, 28))
        );
        assert!(KubeVersion::parse("1").is_err());
        assert!(KubeVersion::parse("abc").is_err());
        assert!(KubeVersion::parse("01.2").is_err());
    }

    #[test]
    fn split_host_port_matches_go() {
        assert_eq!(split_host_port("proxy:3128"), Ok(("proxy", "3128")));
        assert_eq!(split_host_port("[::1]:80"), Ok(("::1", "80")));
        assert_eq!(split_host_port("proxy"), Err("missing port in address"));
        assert_eq!(split_host_port("::1:80"), Err("too many colons in address"));
        assert_eq!(split_host_port("host:"), Ok(("host", "")));
    }

    #[test]
    fn request_uri_needs_scheme_or_absolute_path() {
        assert_eq!(
            parse_request_uri("https://a.b/c").map(|u| (u.scheme, u.host)),
            Ok(("https".into(), "a.b"))
        );
        assert_eq!(parse_request_uri("http://u:p@h:1/x").map(|u| u.host), Ok("h:1"));
        assert_eq!(parse_request_uri("/issuer").map(|u| u.scheme), Ok(String::new()));
        assert_eq!(
            parse_request_uri("mydomain./issuer"),
            Err("invalid URI for request")
        );
        assert_eq!(parse_request_uri(""), Err("empty url"));
        assert_eq!(parse_request_uri(":x"), Err("missing protocol scheme"));
    }

    #[test]
    fn quantities_use_binary_and_decimal_suffixes() {
        assert_eq!(parse_quantity("4Gi"), Some(4.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("4096Mi"), parse_quantity("4Gi"));
        assert_eq!(parse_quantity("1k"), Some(1000.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("12"), Some(12.0));
        assert_eq!(parse_quantity("4GB"), None);
        assert_eq!(parse_quantity(""), None);
    }
}

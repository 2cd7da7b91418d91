//! Kubernetes minor versions (`1.31`), the key of the catalog.

use std::fmt;
use std::str::FromStr;

/// A Kubernetes `MAJOR.MINOR` version such as `1.31`, as a cluster spec's `kubernetesVersion` and
/// a versions bundle's `kubeVersion` write it.
///
/// Only the canonical spelling parses (no leading zeros, no `v`, no patch), so two versions are
/// equal exactly when their strings are, which is how the reference matches them. Ordered
/// numerically: `1.9 < 1.10`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    major: u32,
    minor: u32,
}

/// A string that is not a canonical `MAJOR.MINOR` Kubernetes version.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a kubernetes version such as \"1.31\"")]
pub struct ParseKubeVersionError {
    /// The rejected text.
    pub value: String,
}

impl KubeVersion {
    /// The version `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        KubeVersion { major, minor }
    }

    /// The major version (1 for every Kubernetes release so far).
    pub const fn major(self) -> u32 {
        self.major
    }

    /// The minor version.
    pub const fn minor(self) -> u32 {
        self.minor
    }

    /// The EKS Distro release channel of this version: `1-31` for `1.31`.
    pub fn channel(self) -> String {
        format!("{}-{}", self.major, self.minor)
    }

    /// Reads an EKS Distro channel (`1-31`) the way the reference does: the first `-` becomes `.`
    /// and the result must be a version.
    pub fn from_channel(channel: &str) -> Result<Self, ParseKubeVersionError> {
        KubeVersion::try_from(channel.replacen('-', ".", 1).as_str()).map_err(|_| ParseKubeVersionError {
            value: channel.to_string(),
        })
    }
}

fn parse_component(s: &str) -> Option<u32> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

impl TryFrom<&str> for KubeVersion {
    type Error = ParseKubeVersionError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        let error = || ParseKubeVersionError {
            value: value.to_string(),
        };
        let (major, minor) = value.split_once('.').ok_or_else(error)?;
        let major = parse_component(major).ok_or_else(error)?;
        let minor = parse_component(minor).ok_or_else(error)?;
        Ok(KubeVersion { major, minor })
    }
}

impl FromStr for KubeVersion {
    type Err = ParseKubeVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KubeVersion::try_from(s)
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_major_minor_parses() {
        for (input, want) in [
            ("1.31", Some((1, 31))),
            ("1.9", Some((1, 9))),
            ("2.0", Some((2, 0))),
            ("1.031", None),
            ("01.31", None),
            ("v1.31", None),
            ("1.31.2", None),
            ("1", None),
            ("1.", None),
            (".31", None),
            ("1.3a", None),
            ("+1.31", None),
            (" 1.31", None),
            ("", None),
            ("1.99999999999", None),
        ] {
            let got = KubeVersion::try_from(input).ok().map(|v| (v.major(), v.minor()));
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["1.18", "1.30", "1.9", "2.0"] {
            assert_eq!(s.parse::<KubeVersion>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn orders_numerically() {
        let mut versions: Vec<KubeVersion> =
            ["1.10", "1.9", "1.36", "1.30"].map(|s| s.parse().unwrap()).into();
        versions.sort();
        assert_eq!(
            versions.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["1.9", "1.10", "1.30", "1.36"]
        );
    }

    #[test]
    fn channel_conversions() {
        assert_eq!(
            KubeVersion::from_channel("1-19").unwrap(),
            KubeVersion::new(1, 19)
        );
        assert_eq!(KubeVersion::new(1, 31).channel(), "1-31");
        assert!(KubeVersion::from_channel("1-19-4").is_err());
        assert!(KubeVersion::from_channel("").is_err());
    }
}

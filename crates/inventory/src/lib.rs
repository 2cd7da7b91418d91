//! Bare-metal hardware inventory: EKS Anywhere's hardware CSV as typed records, with validation
//! and hardware-selector matching.
//!
//! Boundary: pure. It never reads files or the network; callers pass the CSV text. It knows
//! nothing about Kubernetes (an adapter in the manifests crate turns records into Tinkerbell
//! Hardware and Rufio Machine objects).
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod csv;
mod validate;

use std::collections::BTreeMap;

use serde::Serialize;

pub use csv::{BMC_COLUMNS, REQUIRED_COLUMNS, parse_csv, read_csv};
pub use validate::validate;

/// A failure to read or validate a hardware catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The CSV has no header line.
    #[error("hardware csv is empty")]
    Empty,
    /// Required columns are absent from the header.
    #[error("missing required columns in csv: {}", .0.join(", "))]
    MissingColumns(Vec<String>),
    /// Some but not all of `bmc_ip`, `bmc_username`, `bmc_password` are in the header.
    #[error("bmc columns must all be present or all absent; missing: {}", .0.join(", "))]
    PartialBmcColumns(Vec<String>),
    /// A header names the same column twice.
    #[error("duplicate column {0:?} in csv header")]
    DuplicateColumn(String),
    /// A row is malformed (wrong field count, unbalanced quotes).
    #[error("row {row}: {reason}")]
    BadRow {
        /// 1-based data row number (the header is row 0).
        row: usize,
        /// What is wrong.
        reason: String,
    },
    /// A field's value is invalid.
    #[error("row {row}, column {column}: {reason}")]
    Field {
        /// 1-based data row number (the header is row 0).
        row: usize,
        /// The CSV column name.
        column: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// `Result` with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One machine of the hardware CSV, as EKS Anywhere reads it (`hardware.Machine`). Field
/// names serialise as the CSV column names; absent optional columns are empty strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Hardware {
    /// `hostname`.
    pub hostname: String,
    /// `ip_address`.
    pub ip_address: String,
    /// `netmask`, dotted quad.
    pub netmask: String,
    /// `gateway`.
    pub gateway: String,
    /// `nameservers`, `|`-separated in the CSV.
    pub nameservers: Vec<String>,
    /// `mac`.
    pub mac: String,
    /// `disk`, e.g. `/dev/sda`.
    pub disk: String,
    /// `labels`, `k=v` pairs `|`-separated in the CSV.
    pub labels: BTreeMap<String, String>,
    /// `bmc_ip` (empty when the machine has no BMC).
    pub bmc_ip: String,
    /// `bmc_username`.
    pub bmc_username: String,
    /// `bmc_password`.
    pub bmc_password: String,
    /// `vlan_id` (empty when not given).
    pub vlan_id: String,
}

impl Hardware {
    /// Whether any BMC field is set.
    pub fn has_bmc(&self) -> bool {
        !self.bmc_ip.is_empty() || !self.bmc_username.is_empty() || !self.bmc_password.is_empty()
    }

    /// Whether the record's labels contain every `selector` label with the same value (an
    /// empty selector matches everything).
    pub fn matches(&self, selector: &BTreeMap<String, String>) -> bool {
        selector.iter().all(|(k, v)| self.labels.get(k) == Some(v))
    }
}

/// The records matching a hardware selector, in catalogue order.
pub fn select<'a>(hardware: &'a [Hardware], selector: &BTreeMap<String, String>) -> Vec<&'a Hardware> {
    hardware.iter().filter(|h| h.matches(selector)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selector_is_a_subset_of_labels() {
        let h = Hardware {
            labels: labels(&[("type", "cp"), ("rack", "1")]),
            ..Default::default()
        };
        assert!(h.matches(&labels(&[("type", "cp")])));
        assert!(h.matches(&labels(&[])));
        assert!(!h.matches(&labels(&[("type", "worker")])));
        assert!(!h.matches(&labels(&[("zone", "a")])));
    }

    #[test]
    fn select_keeps_catalogue_order() {
        let a = Hardware {
            hostname: "a".into(),
            labels: labels(&[("type", "cp")]),
            ..Default::default()
        };
        let b = Hardware {
            hostname: "b".into(),
            labels: labels(&[("type", "worker")]),
            ..Default::default()
        };
        let c = Hardware {
            hostname: "c".into(),
            labels: labels(&[("type", "cp")]),
            ..Default::default()
        };
        let all = [a, b, c];
        let got: Vec<_> = select(&all, &labels(&[("type", "cp")]))
            .iter()
            .map(|h| h.hostname.as_str())
            .collect();
        assert_eq!(got, ["a", "c"]);
    }
}

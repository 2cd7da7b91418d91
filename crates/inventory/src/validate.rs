//! Validation of hardware records (EKS Anywhere's `DefaultMachineValidator`): per-record field
//! rules plus uniqueness of IP, MAC, hostname and BMC IP across the catalogue. Every violation is
//! reported with its row (1-based, the header is row 0) and CSV column.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::{Error, Hardware};

/// Every violation in the catalogue, in row order; empty when the catalogue is valid.
pub fn validate(hardware: &[Hardware]) -> Vec<Error> {
    let mut errors = Vec::new();
    let mut seen: BTreeMap<(&'static str, String), usize> = BTreeMap::new();
    for (i, h) in hardware.iter().enumerate() {
        let row = i + 1;
        let mut fail =
            |column: &'static str, reason: String| errors.push(Error::Field { row, column, reason });
        for (column, reason) in check_record(h) {
            fail(column, reason);
        }
        let mut unique = |column: &'static str, value: &str| {
            if value.is_empty() {
                return;
            }
            if let Some(first) = seen.insert((column, value.to_string()), row) {
                fail(
                    column,
                    format!("duplicate {column} {value} (first in row {first})"),
                );
            }
        };
        unique("ip_address", &h.ip_address);
        unique("mac", &h.mac.to_ascii_lowercase());
        unique("hostname", &h.hostname);
        if h.has_bmc() {
            unique("bmc_ip", &h.bmc_ip);
        }
    }
    errors
}

/// The field rules of one record: `(column, reason)` per violation.
fn check_record(h: &Hardware) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    let mut ip = |column: &'static str, value: &str| {
        if value.is_empty() {
            v.push((column, "must not be empty".to_string()));
        } else if value.parse::<Ipv4Addr>().is_err() && value.parse::<std::net::Ipv6Addr>().is_err() {
            v.push((column, format!("invalid IP address {value:?}")));
        }
    };
    ip("ip_address", &h.ip_address);
    ip("gateway", &h.gateway);
    if h.has_bmc() {
        ip("bmc_ip", &h.bmc_ip);
    }
    if h.nameservers.iter().any(String::is_empty) || h.nameservers.is_empty() {
        v.push((
            "nameservers",
            "must not be empty or contain an empty entry".into(),
        ));
    }
    if let Err(reason) = check_netmask(&h.netmask) {
        v.push(("netmask", reason));
    }
    if h.mac.is_empty() {
        v.push(("mac", "must not be empty".into()));
    } else if !is_mac(&h.mac) {
        v.push(("mac", format!("invalid MAC address {:?}", h.mac)));
    }
    if h.hostname.is_empty() {
        v.push(("hostname", "must not be empty".into()));
    } else if !is_dns1123_subdomain(&h.hostname) {
        v.push((
            "hostname",
            format!("invalid hostname {:?}: must be a DNS-1123 subdomain", h.hostname),
        ));
    }
    if h.disk.is_empty() {
        v.push(("disk", "must not be empty".into()));
    } else if !is_linux_device_path(&h.disk) {
        v.push((
            "disk",
            format!("disk {:?} must be a valid linux path (/dev/...)", h.disk),
        ));
    }
    for (k, value) in &h.labels {
        if !is_label_key(k) {
            v.push(("labels", format!("invalid label key {k:?}")));
        }
        if !is_label_value(value) {
            v.push(("labels", format!("invalid label value {value:?}")));
        }
    }
    if h.has_bmc() {
        if h.bmc_username.is_empty() {
            v.push(("bmc_username", "must not be empty when a BMC is given".into()));
        }
        if h.bmc_password.is_empty() {
            v.push(("bmc_password", "must not be empty when a BMC is given".into()));
        }
    }
    if !h.vlan_id.is_empty() {
        match h.vlan_id.parse::<u32>() {
            Ok(1..=4094) => {}
            Ok(_) => v.push(("vlan_id", "must be between 1 and 4094".into())),
            Err(_) => v.push(("vlan_id", "must be an integer".into())),
        }
    }
    v
}

/// A dotted-quad netmask with contiguous one bits.
fn check_netmask(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    let mask: Ipv4Addr = s.parse().map_err(|_| format!("invalid netmask {s:?}"))?;
    let bits = u32::from(mask);
    if bits.leading_ones() + bits.trailing_zeros() != 32 {
        return Err(format!("invalid netmask {s:?}: one bits are not contiguous"));
    }
    Ok(())
}

/// Six or eight `:`/`-`-separated hex octets (Go `net.ParseMAC` forms without dots).
fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    matches!(parts.len(), 6 | 8 | 20)
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// `^(/dev/[\w-]+)+$`.
fn is_linux_device_path(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("/dev/") else {
        return false;
    };
    rest.split("/dev/")
        .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
}

fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A Kubernetes label key: `[prefix/]name`.
fn is_label_key(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_label_name(name),
        None => is_label_name(s),
    }
}

fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_label_name(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good(n: u8) -> Hardware {
        Hardware {
            hostname: format!("worker{n}"),
            ip_address: format!("10.10.10.{n}"),
            netmask: "255.255.255.0".into(),
            gateway: "10.10.10.1".into(),
            nameservers: vec!["1.1.1.1".into()],
            mac: format!("00:00:00:00:00:{n:02x}"),
            disk: "/dev/sda".into(),
            labels: [("type".to_string(), "cp".to_string())].into(),
            ..Default::default()
        }
    }

    fn columns(errors: &[Error]) -> Vec<(usize, &'static str)> {
        errors
            .iter()
            .filter_map(|e| match e {
                Error::Field { row, column, .. } => Some((*row, *column)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn valid_catalogue_has_no_violations() {
        assert!(validate(&[good(1), good(2)]).is_empty());
    }

    #[test]
    fn duplicates_name_row_and_column() {
        let mut b = good(2);
        b.mac = good(1).mac.to_uppercase();
        b.ip_address = good(1).ip_address;
        b.hostname = good(1).hostname;
        assert_eq!(
            columns(&validate(&[good(1), b])),
            [(2, "ip_address"), (2, "mac"), (2, "hostname")]
        );
    }

    #[test]
    fn bad_netmask_missing_disk_and_partial_bmc() {
        let mut h = good(1);
        h.netmask = "255.0.255.0".into();
        h.disk = String::new();
        h.bmc_ip = "192.168.0.10".into();
        assert_eq!(
            columns(&validate(&[h])),
            [
                (1, "netmask"),
                (1, "disk"),
                (1, "bmc_username"),
                (1, "bmc_password")
            ]
        );
    }

    #[test]
    fn field_rules() {
        let mut h = good(1);
        h.mac = "zz".into();
        h.hostname = "Bad_Host".into();
        h.vlan_id = "5000".into();
        h.nameservers = vec![String::new()];
        h.disk = "/tmp/x".into();
        assert_eq!(
            columns(&validate(&[h])),
            [
                (1, "nameservers"),
                (1, "mac"),
                (1, "hostname"),
                (1, "disk"),
                (1, "vlan_id")
            ]
        );
    }
}

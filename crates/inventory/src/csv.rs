//! Reading the hardware CSV: a small RFC 4180 record splitter plus the column rules of EKS
//! Anywhere's `hardware.CSVReader` (header in any order, required columns, BMC columns all or
//! none, `|`-separated nameservers and labels).

use std::collections::BTreeMap;

use crate::{Error, Hardware, Result};

/// Columns every hardware CSV must have.
pub const REQUIRED_COLUMNS: &[&str] = &[
    "hostname",
    "ip_address",
    "netmask",
    "gateway",
    "nameservers",
    "mac",
    "disk",
    "labels",
];

/// The BMC columns: all present or all absent.
pub const BMC_COLUMNS: &[&str] = &["bmc_ip", "bmc_username", "bmc_password"];

/// Separator of `nameservers` and `labels` entries.
const LIST_SEPARATOR: char = '|';

/// Parses the CSV text into records without validating their values (EKS-A's `CSVReader`:
/// only the header is checked). Unknown columns are ignored.
///
/// # Errors
/// [`Error::Empty`], [`Error::MissingColumns`], [`Error::PartialBmcColumns`],
/// [`Error::DuplicateColumn`], [`Error::BadRow`] for a row with the wrong number of fields, and
/// [`Error::Field`] for a badly formatted label.
pub fn parse_csv(text: &str) -> Result<Vec<Hardware>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = split_records(text)?.into_iter();
    let header = records.next().ok_or(Error::Empty)?;
    let columns = Columns::from_header(&header)?;
    records
        .enumerate()
        .filter(|(_, fields)| !(fields.len() == 1 && fields[0].is_empty()))
        .map(|(i, fields)| columns.record(i + 1, &fields))
        .collect()
}

/// Parses and validates the CSV text: [`parse_csv`], then [`crate::validate`].
///
/// # Errors
/// The parse error, or every validation violation.
pub fn read_csv(text: &str) -> Result<Vec<Hardware>, Vec<Error>> {
    let hardware = parse_csv(text).map_err(|e| vec![e])?;
    let violations = crate::validate(&hardware);
    if violations.is_empty() {
        Ok(hardware)
    } else {
        Err(violations)
    }
}

/// Column name → field index.
struct Columns(BTreeMap<String, usize>);

impl Columns {
    fn from_header(header: &[String]) -> Result<Columns> {
        let mut map = BTreeMap::new();
        for (i, name) in header.iter().enumerate() {
            let name = name.trim().to_string();
            if map.insert(name.clone(), i).is_some() {
                return Err(Error::DuplicateColumn(name));
            }
        }
        let missing: Vec<String> = REQUIRED_COLUMNS
            .iter()
            .filter(|c| !map.contains_key(**c))
            .map(|c| c.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(Error::MissingColumns(missing));
        }
        let bmc_missing: Vec<String> = BMC_COLUMNS
            .iter()
            .filter(|c| !map.contains_key(**c))
            .map(|c| c.to_string())
            .collect();
        if !bmc_missing.is_empty() && bmc_missing.len() != BMC_COLUMNS.len() {
            return Err(Error::PartialBmcColumns(bmc_missing));
        }
        Ok(Columns(map))
    }

    fn record(&self, row: usize, fields: &[String]) -> Result<Hardware> {
        let width = self.0.values().max().map_or(0, |m| m + 1);
        // Exactly as many fields as the header (Go's CSV reader, which EKS-A uses, insists too):
        // an unquoted comma inside a value, a BMC password say, would otherwise shift or cut
        // values silently.
        if fields.len() != width {
            return Err(Error::BadRow {
                row,
                reason: format!(
                    "expected {width} fields like the header, got {}; a value that contains a comma must be \
                     in double quotes",
                    fields.len()
                ),
            });
        }
        let get = |c: &str| self.0.get(c).map(|&i| fields[i].clone()).unwrap_or_default();
        Ok(Hardware {
            hostname: get("hostname"),
            ip_address: get("ip_address"),
            netmask: get("netmask"),
            gateway: get("gateway"),
            nameservers: get("nameservers")
                .split(LIST_SEPARATOR)
                .map(str::to_string)
                .collect(),
            mac: get("mac"),
            disk: get("disk"),
            labels: parse_labels(&get("labels")).map_err(|reason| Error::Field {
                row,
                column: "labels",
                reason,
            })?,
            bmc_ip: get("bmc_ip"),
            bmc_username: get("bmc_username"),
            bmc_password: get("bmc_password"),
            vlan_id: get("vlan_id"),
        })
    }
}

/// `k=v|k2=v2` → map; an empty string is no labels.
fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    if s.is_empty() {
        return Ok(labels);
    }
    for pair in s.split(LIST_SEPARATOR) {
        let kv: Vec<&str> = pair.trim().split('=').collect();
        let [k, v] = kv.as_slice() else {
            return Err(format!("badly formatted key-value pair: {pair}"));
        };
        labels.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(labels)
}

/// Splits CSV text into records of fields (RFC 4180: `"` quotes, `""` escapes, CRLF or LF).
fn split_records(text: &str) -> Result<Vec<Vec<String>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_quotes = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(Error::BadRow {
            row: records.len(),
            reason: "unterminated quoted field".into(),
        });
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_BMC: &str = "hostname,bmc_ip,bmc_username,bmc_password,mac,ip_address,netmask,gateway,nameservers,labels,disk\n\
        worker1,192.168.0.10,Admin,admin,00:00:00:00:00:01,10.10.10.10,255.255.255.0,10.10.10.1,1.1.1.1,type=cp,/dev/sda\n";

    #[test]
    fn reads_columns_in_any_order() {
        let hw = parse_csv(WITH_BMC).unwrap();
        assert_eq!(hw.len(), 1);
        let h = &hw[0];
        assert_eq!(h.hostname, "worker1");
        assert_eq!(h.ip_address, "10.10.10.10");
        assert_eq!(h.mac, "00:00:00:00:00:01");
        assert_eq!(h.bmc_ip, "192.168.0.10");
        assert_eq!(h.bmc_username, "Admin");
        assert_eq!(h.nameservers, ["1.1.1.1"]);
        assert_eq!(h.labels.get("type").map(String::as_str), Some("cp"));
        assert_eq!(h.vlan_id, "");
    }

    #[test]
    fn bmc_columns_may_be_absent_together() {
        let csv = "hostname,mac,ip_address,netmask,gateway,nameservers,labels,disk\r\n\
            worker1,00:00:00:00:00:01,10.10.10.10,255.255.255.0,10.10.10.1,1.1.1.1|8.8.8.8,type=cp|rack=1,/dev/sda";
        let h = &parse_csv(csv).unwrap()[0];
        assert!(!h.has_bmc());
        assert_eq!(h.nameservers, ["1.1.1.1", "8.8.8.8"]);
        assert_eq!(h.labels.len(), 2);
        assert_eq!(h.disk, "/dev/sda");
    }

    #[test]
    fn partial_bmc_columns_are_rejected() {
        let csv = "hostname,bmc_ip,mac,ip_address,netmask,gateway,nameservers,labels,disk\n";
        assert_eq!(
            parse_csv(csv),
            Err(Error::PartialBmcColumns(vec![
                "bmc_username".into(),
                "bmc_password".into()
            ]))
        );
    }

    #[test]
    fn missing_required_columns_are_named() {
        let csv = "hostname,mac,ip_address,gateway,nameservers,labels\n";
        assert_eq!(
            parse_csv(csv),
            Err(Error::MissingColumns(vec!["netmask".into(), "disk".into()]))
        );
    }

    #[test]
    fn a_row_with_extra_fields_is_an_error_without_its_values() {
        let csv = "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,bmc_ip,bmc_username,bmc_password\n\
                   w1,10.0.0.1,255.255.255.0,10.0.0.254,1.1.1.1,00:00:00:00:00:01,/dev/sda,type=cp,10.0.1.1,admin,se,cret\n";
        let err = parse_csv(csv).unwrap_err().to_string();
        assert!(err.contains("expected 11 fields"), "{err}");
        assert!(!err.contains("cret"), "{err}");
    }

    #[test]
    fn quoted_fields_and_bad_labels() {
        let csv = "hostname,mac,ip_address,netmask,gateway,nameservers,labels,disk\n\
            \"w,1\",m,i,n,g,ns,\"a=b=c\",/dev/sda\n";
        assert_eq!(
            parse_csv(csv),
            Err(Error::Field {
                row: 1,
                column: "labels",
                reason: "badly formatted key-value pair: a=b=c".into()
            })
        );
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_eq!(parse_csv(""), Err(Error::Empty));
    }
}

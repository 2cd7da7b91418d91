//! Instance metadata for one machine: EC2 style (`/2009-04-04/...`, what cloud-init's Ec2
//! datasource and Tinkerbell's hegel speak) and cloud-init NoCloud (`meta-data`, `user-data`,
//! `network-config`). Pure: the HTTP shell decides which machine is asking.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::machine::Machine;
use crate::{Error, Result};

/// EC2 metadata API version served.
pub const EC2_VERSION: &str = "2009-04-04";

/// The EC2 metadata answer for `path`, relative to `/2009-04-04/` (`meta-data`,
/// `meta-data/local-ipv4`, `user-data`...), or `None` when there is no such entry.
/// Directory listings name one entry a line, sub-directories with a trailing `/`.
pub fn ec2_metadata(machine: &Machine, path: &str) -> Option<String> {
    let path = path.trim_matches('/');
    let keys = &machine.ssh_keys;
    match path {
        "" => Some("meta-data\nuser-data".into()),
        "user-data" => machine.user_data.clone(),
        "meta-data" => {
            let mut entries = vec!["hostname", "instance-id", "local-hostname", "local-ipv4", "mac"];
            if !keys.is_empty() {
                entries.push("public-keys/");
            }
            Some(entries.join("\n"))
        }
        "meta-data/hostname" | "meta-data/local-hostname" => Some(machine.hostname().to_string()),
        "meta-data/instance-id" => Some(machine.instance_id.clone()),
        "meta-data/local-ipv4" => Some(machine.ip().to_string()),
        "meta-data/mac" => Some(machine.mac().to_string()),
        "meta-data/public-keys" if !keys.is_empty() => Some(
            (0..keys.len())
                .map(|i| format!("{i}=key-{i}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        other => {
            let rest = other.strip_prefix("meta-data/public-keys/")?;
            let (index, leaf) = match rest.split_once('/') {
                Some((index, leaf)) => (index, Some(leaf)),
                None => (rest, None),
            };
            let key = keys.get(index.parse::<usize>().ok()?)?;
            match leaf {
                None => Some("openssh-key".into()),
                Some("openssh-key") => Some(key.clone()),
                Some(_) => None,
            }
        }
    }
}

#[derive(Serialize)]
struct NoCloudMetaData<'a> {
    #[serde(rename = "instance-id")]
    instance_id: &'a str,
    #[serde(rename = "local-hostname")]
    local_hostname: &'a str,
    #[serde(rename = "public-keys", skip_serializing_if = "<[_]>::is_empty")]
    public_keys: &'a [String],
}

/// NoCloud `meta-data` YAML: `instance-id`, `local-hostname` and `public-keys` when any.
///
/// # Errors
/// [`Error::Render`] if serialisation fails (it does not for these types).
pub fn nocloud_meta_data(machine: &Machine) -> Result<String> {
    yaml(&NoCloudMetaData {
        instance_id: &machine.instance_id,
        local_hostname: machine.hostname(),
        public_keys: &machine.ssh_keys,
    })
}

/// NoCloud `user-data`: the machine's own, or an empty `#cloud-config` (cloud-init needs the
/// file to exist).
pub fn nocloud_user_data(machine: &Machine) -> String {
    machine
        .user_data
        .clone()
        .unwrap_or_else(|| "#cloud-config\n{}\n".into())
}

#[derive(Serialize)]
struct NetworkConfig {
    version: u8,
    ethernets: BTreeMap<String, Ethernet>,
}

#[derive(Serialize)]
struct Ethernet {
    #[serde(rename = "match")]
    match_: MatchMac,
    addresses: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    routes: Vec<Route>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nameservers: Option<Nameservers>,
}

#[derive(Serialize)]
struct MatchMac {
    macaddress: String,
}

#[derive(Serialize)]
struct Route {
    to: &'static str,
    via: String,
}

#[derive(Serialize)]
struct Nameservers {
    addresses: Vec<String>,
}

/// NoCloud `network-config`, version 2: the boot interface matched by MAC with the machine's
/// fixed address, default route and IPv4 nameservers.
///
/// # Errors
/// [`Error::Render`] if serialisation fails (it does not for these types).
pub fn nocloud_network_config(machine: &Machine) -> Result<String> {
    let r = &machine.reservation;
    let ethernet = Ethernet {
        match_: MatchMac {
            macaddress: r.mac.to_string(),
        },
        addresses: vec![format!("{}/{}", r.ip, prefix_len(r.netmask))],
        routes: r
            .gateway
            .iter()
            .map(|gw| Route {
                to: "default",
                via: gw.to_string(),
            })
            .collect(),
        nameservers: (!r.nameservers.is_empty()).then(|| Nameservers {
            addresses: r.nameservers.iter().map(ToString::to_string).collect(),
        }),
    };
    yaml(&NetworkConfig {
        version: 2,
        ethernets: BTreeMap::from([("boot0".to_string(), ethernet)]),
    })
}

fn prefix_len(netmask: Ipv4Addr) -> u32 {
    u32::from(netmask).leading_ones()
}

fn yaml<T: Serialize>(value: &T) -> Result<String> {
    serde_saphyr::to_string(value).map_err(|e| Error::Render(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::tests::machine;

    fn node() -> Machine {
        let mut m = machine("52:54:00:00:00:01", "10.0.0.11", "node-1");
        m.ssh_keys = vec!["ssh-ed25519 AAAA one".into(), "ssh-ed25519 BBBB two".into()];
        m.user_data = Some("#cloud-config\nruncmd: [echo hi]\n".into());
        m
    }

    fn check(path: &str, expect: Option<&str>) {
        assert_eq!(ec2_metadata(&node(), path).as_deref(), expect, "{path}");
    }

    #[test]
    fn ec2_metadata_table() {
        check("", Some("meta-data\nuser-data"));
        check(
            "meta-data",
            Some("hostname\ninstance-id\nlocal-hostname\nlocal-ipv4\nmac\npublic-keys/"),
        );
        check(
            "meta-data/",
            Some("hostname\ninstance-id\nlocal-hostname\nlocal-ipv4\nmac\npublic-keys/"),
        );
        check("meta-data/instance-id", Some("i-525400000001"));
        check("meta-data/hostname", Some("node-1"));
        check("meta-data/local-hostname", Some("node-1"));
        check("meta-data/local-ipv4", Some("10.0.0.11"));
        check("meta-data/mac", Some("52:54:00:00:00:01"));
        check("meta-data/public-keys", Some("0=key-0\n1=key-1"));
        check("meta-data/public-keys/1", Some("openssh-key"));
        check(
            "meta-data/public-keys/1/openssh-key",
            Some("ssh-ed25519 BBBB two"),
        );
        check("meta-data/public-keys/2/openssh-key", None);
        check("meta-data/public-keys/x", None);
        check("meta-data/nope", None);
        check("user-data", Some("#cloud-config\nruncmd: [echo hi]\n"));
    }

    #[test]
    fn ec2_without_keys_or_user_data_hides_them() {
        let m = machine("52:54:00:00:00:01", "10.0.0.11", "node-1");
        assert!(!ec2_metadata(&m, "meta-data").unwrap().contains("public-keys"));
        assert_eq!(ec2_metadata(&m, "meta-data/public-keys"), None);
        assert_eq!(ec2_metadata(&m, "user-data"), None);
    }

    #[test]
    fn nocloud_meta_data_shape() {
        let yaml = nocloud_meta_data(&node()).unwrap();
        let back: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(
            back,
            serde_json::json!({
                "instance-id": "i-525400000001",
                "local-hostname": "node-1",
                "public-keys": ["ssh-ed25519 AAAA one", "ssh-ed25519 BBBB two"],
            }),
            "{yaml}"
        );
    }

    #[test]
    fn nocloud_user_data_defaults_to_empty_cloud_config() {
        let m = machine("52:54:00:00:00:01", "10.0.0.11", "node-1");
        assert_eq!(nocloud_user_data(&m), "#cloud-config\n{}\n");
        assert_eq!(nocloud_user_data(&node()), "#cloud-config\nruncmd: [echo hi]\n");
    }

    #[test]
    fn nocloud_network_config_shape() {
        let yaml = nocloud_network_config(&node()).unwrap();
        let back: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(
            back,
            serde_json::json!({
                "version": 2,
                "ethernets": {"boot0": {
                    "match": {"macaddress": "52:54:00:00:00:01"},
                    "addresses": ["10.0.0.11/24"],
                    "routes": [{"to": "default", "via": "10.0.0.1"}],
                    "nameservers": {"addresses": ["10.0.0.53"]},
                }},
            }),
            "{yaml}"
        );
    }
}

//! The configuration of `anywhere metal serve`, one YAML document:
//!
//! ```yaml
//! serverIp: 10.0.0.2            # this host, as machines reach it
//! interface: eth0               # optional: bind DHCP to this device (needs CAP_NET_RAW)
//! dhcpMode: authoritative       # or proxy
//! listen:                       # optional; these are the defaults (port 0: ephemeral)
//!   dhcp: 0.0.0.0:67
//!   tftp: 0.0.0.0:69
//!   http: 0.0.0.0:80
//! hardwareCsv: hardware.csv
//! artifacts: artifacts          # served under /artifacts/
//! netboot:
//!   kernel: vmlinuz             # an artifact name or an http(s) URL
//!   initrds: [initramfs]
//!   cmdline: console=ttyS0
//! leaseStore: leases.redb
//! timelineStore: timeline.redb
//! ```
//!
//! Relative paths are relative to the configuration file ([`ServeConfig::load`]).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use anywhere_api::document::{self, Fields};
use anywhere_boot::{BootSettings, LocalBoot, Netboot, Source};
use serde::Deserialize;

use crate::{Error, Result};

/// How the DHCP service takes part in the network's DHCP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DhcpMode {
    /// The only DHCP server for the inventoried machines.
    #[default]
    Authoritative,
    /// proxyDHCP: another server hands out addresses; this one only sends boot options.
    Proxy,
}

impl From<DhcpMode> for anywhere_dhcp::Mode {
    fn from(mode: DhcpMode) -> Self {
        match mode {
            DhcpMode::Authoritative => anywhere_dhcp::Mode::Authoritative,
            DhcpMode::Proxy => anywhere_dhcp::Mode::Proxy,
        }
    }
}

/// Where each service listens. Port 0 picks an ephemeral port (tests, unprivileged runs).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    /// DHCP (UDP), normally `0.0.0.0:67`.
    pub dhcp: SocketAddrV4,
    /// TFTP (UDP), normally `0.0.0.0:69`.
    pub tftp: SocketAddrV4,
    /// HTTP boot and metadata (TCP), normally `0.0.0.0:80`.
    pub http: SocketAddrV4,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            dhcp: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67),
            tftp: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 69),
            http: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80),
        }
    }
}

/// What every inventoried machine network-boots.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetbootConfig {
    /// The kernel: a file of the artifact directory or an `http(s)://` URL.
    pub kernel: String,
    /// Initial ramdisks, in load order, named like the kernel.
    #[serde(default)]
    pub initrds: Vec<String>,
    /// Kernel command line.
    #[serde(default)]
    pub cmdline: String,
}

impl NetbootConfig {
    /// The boot settings of the HTTP boot service (netboot allowed, `exit` otherwise).
    pub fn boot_settings(&self) -> BootSettings {
        BootSettings {
            kernel: source(&self.kernel),
            initrds: self.initrds.iter().map(|i| source(i)).collect(),
            cmdline: self.cmdline.clone(),
            netboot: Netboot::Allowed,
            local_boot: LocalBoot::Exit,
        }
    }
}

fn source(name: &str) -> Source {
    if name.starts_with("http://") || name.starts_with("https://") {
        Source::Url(name.to_string())
    } else {
        Source::Artifact(name.to_string())
    }
}

/// The whole stack's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServeConfig {
    /// This host's address as machines reach it (DHCP server identifier, TFTP and HTTP server).
    pub server_ip: Ipv4Addr,
    /// Bind DHCP to this network device.
    #[serde(default)]
    pub interface: Option<String>,
    /// Authoritative DHCP or proxyDHCP.
    #[serde(default)]
    pub dhcp_mode: DhcpMode,
    /// Listening addresses.
    #[serde(default)]
    pub listen: Listen,
    /// The hardware inventory CSV.
    pub hardware_csv: PathBuf,
    /// Directory served under `/artifacts/` over HTTP.
    pub artifacts: PathBuf,
    /// Kernel, initrds and command line.
    pub netboot: NetbootConfig,
    /// The DHCP lease database (redb).
    pub lease_store: PathBuf,
    /// The boot timeline database (redb).
    pub timeline_store: PathBuf,
}

impl ServeConfig {
    /// Decodes a configuration document strictly: an unknown or mistyped field is an error
    /// naming its path (e.g. `listen.dhcp`).
    ///
    /// # Errors
    /// The document error, with the field path for decode failures.
    pub fn parse(text: &str) -> Result<ServeConfig, document::Error> {
        let value = document::parse_value(text, 1)?;
        let value = serde_json::Value::Object(document::as_mapping(value, 1)?);
        document::decode(&value, Fields::Strict)
    }

    /// This configuration with relative paths made relative to `base` (the config's directory).
    pub fn relative_to(mut self, base: &Path) -> ServeConfig {
        for path in [
            &mut self.hardware_csv,
            &mut self.artifacts,
            &mut self.lease_store,
            &mut self.timeline_store,
        ] {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
        self
    }

    /// Reads and decodes the configuration file at `path`, paths resolved against its directory.
    ///
    /// # Errors
    /// [`Error::Read`] or [`Error::Config`].
    pub fn load(path: &Path) -> Result<ServeConfig> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config_err = |source| Error::Config {
            path: path.to_path_buf(),
            source,
        };
        let text = document::text_of(&bytes).map_err(config_err)?;
        let config = ServeConfig::parse(text).map_err(config_err)?;
        let base = path.parent().unwrap_or(Path::new(""));
        Ok(config.relative_to(base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "serverIp: 10.0.0.2\n\
        hardwareCsv: hardware.csv\n\
        artifacts: art\n\
        netboot:\n  kernel: vmlinuz\n  initrds: [initrd.img]\n  cmdline: console=ttyS0\n\
        leaseStore: leases.redb\n\
        timelineStore: timeline.redb\n";

    #[test]
    fn minimal_config_gets_default_ports_and_authoritative_mode() {
        let config = ServeConfig::parse(MINIMAL).unwrap();
        assert_eq!(config.server_ip, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(config.dhcp_mode, DhcpMode::Authoritative);
        assert_eq!(config.listen, Listen::default());
        assert_eq!(config.listen.dhcp.to_string(), "0.0.0.0:67");
        assert_eq!(config.interface, None);
        assert_eq!(config.netboot.initrds, ["initrd.img"]);
    }

    #[test]
    fn listen_ports_and_proxy_mode_are_read() {
        let text = format!(
            "{MINIMAL}dhcpMode: proxy\ninterface: eth1\nlisten:\n  dhcp: 127.0.0.1:0\n  http: 127.0.0.1:8080\n"
        );
        let config = ServeConfig::parse(&text).unwrap();
        assert_eq!(config.dhcp_mode, DhcpMode::Proxy);
        assert_eq!(config.interface.as_deref(), Some("eth1"));
        assert_eq!(config.listen.dhcp.to_string(), "127.0.0.1:0");
        assert_eq!(config.listen.tftp.to_string(), "0.0.0.0:69");
        assert_eq!(config.listen.http.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn bad_fields_are_errors_with_their_path() {
        let table: &[(&str, &str)] = &[
            ("listen:\n  dhcp: not-an-address\n", "listen.dhcp"),
            ("listen:\n  dhcpp: 0.0.0.0:67\n", "listen.dhcpp"),
            ("dhcpMode: sometimes\n", "dhcpMode"),
            ("serverAddress: 10.0.0.2\n", "serverAddress"),
            ("netboot:\n  kernel: [a]\n", "netboot.kernel"),
        ];
        for (extra, path) in table {
            // Later duplicate keys win, so an appended field replaces the minimal one.
            let text = format!("{MINIMAL}{extra}");
            let err = ServeConfig::parse(&text).unwrap_err();
            assert_eq!(err.path(), Some(*path), "{extra:?}: {err}");
        }
    }

    #[test]
    fn missing_required_field_is_an_error() {
        let err = ServeConfig::parse("serverIp: 10.0.0.2\n").unwrap_err();
        assert!(err.to_string().contains("hardwareCsv"), "{err}");
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let config = ServeConfig::parse(MINIMAL)
            .unwrap()
            .relative_to(Path::new("/etc/anywhere"));
        assert_eq!(config.hardware_csv, Path::new("/etc/anywhere/hardware.csv"));
        assert_eq!(config.timeline_store, Path::new("/etc/anywhere/timeline.redb"));
    }

    #[test]
    fn urls_and_artifact_names_become_boot_sources() {
        let netboot = NetbootConfig {
            kernel: "https://example.com/vmlinuz".into(),
            initrds: vec!["initrd.img".into()],
            cmdline: String::new(),
        };
        let boot = netboot.boot_settings();
        assert_eq!(boot.kernel, Source::Url("https://example.com/vmlinuz".into()));
        assert_eq!(boot.initrds, [Source::Artifact("initrd.img".into())]);
    }
}

//! Server configuration: mode, reservations (from inventory records), boot options, the
//! optional dynamic pool and the unknown-client policy.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

use anywhere_inventory::Hardware;

use crate::{Error, Result};

/// An Ethernet MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac([u8; 6]);

impl Mac {
    /// The address from its six octets.
    pub const fn new(octets: [u8; 6]) -> Mac {
        Mac(octets)
    }

    /// The six octets.
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for Mac {
    type Err = Error;

    /// Parses `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`, any case.
    fn from_str(s: &str) -> Result<Mac> {
        let bad = || Error::InvalidMac(s.to_string());
        let mut octets = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for octet in &mut octets {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 {
                return Err(bad());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(octets))
    }
}

/// How the server takes part in the network's DHCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The only DHCP server for its clients: hands out addresses, ACKs and NAKs.
    Authoritative,
    /// proxyDHCP (PXE spec): another server hands out addresses; this one only answers PXE
    /// clients with boot options (no `yiaddr`), and never NAKs.
    Proxy,
}

/// Whether a machine may network-boot (Tinkerbell's `allowPXE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Netboot {
    /// Boot options are offered to the machine's PXE/iPXE firmware.
    Allowed,
    /// The machine gets its lease but no boot file, so the firmware falls through to disk.
    Refused,
}

/// What happens to a MAC address that is not reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownClients {
    /// No reply; an event the first time the MAC is seen.
    Ignore,
    /// Leased from the dynamic pool (when there is one), with no boot options.
    Serve,
}

/// A fixed lease for one inventoried machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The machine's boot interface.
    pub mac: Mac,
    /// Its fixed address.
    pub ip: Ipv4Addr,
    /// Subnet mask (option 1).
    pub netmask: Ipv4Addr,
    /// Default gateway (option 3).
    pub gateway: Option<Ipv4Addr>,
    /// DNS servers (option 6).
    pub nameservers: Vec<Ipv4Addr>,
    /// Host name (option 12).
    pub hostname: Option<String>,
    /// Whether the machine may network-boot.
    pub netboot: Netboot,
}

impl Reservation {
    /// The reservation of an inventory record. Network boot is allowed; nameservers that are not
    /// IPv4 addresses (the CSV also accepts IPv6) are left out, since DHCPv4 cannot carry them.
    ///
    /// # Errors
    /// [`Error::InvalidMac`] or [`Error::InvalidHardware`] when the MAC, IPv4 address, netmask or
    /// gateway do not parse.
    pub fn from_hardware(hw: &Hardware) -> Result<Reservation> {
        let field = |field: &'static str, value: &str| Error::InvalidHardware {
            mac: hw.mac.clone(),
            field,
            value: value.to_string(),
        };
        let ipv4 = |name: &'static str, value: &str| {
            value.trim().parse::<Ipv4Addr>().map_err(|_| field(name, value))
        };
        let mac: Mac = hw.mac.trim().parse()?;
        let ip = ipv4("ip_address", &hw.ip_address)?;
        let netmask = ipv4("netmask", &hw.netmask)?;
        if !is_contiguous_netmask(netmask) {
            return Err(field("netmask", &hw.netmask));
        }
        let gateway = match hw.gateway.trim() {
            "" => None,
            g => Some(ipv4("gateway", g)?),
        };
        let nameservers = hw
            .nameservers
            .iter()
            .filter_map(|n| n.trim().parse::<Ipv4Addr>().ok())
            .collect();
        let hostname = Some(hw.hostname.trim().to_string()).filter(|h| !h.is_empty());
        Ok(Reservation {
            mac,
            ip,
            netmask,
            gateway,
            nameservers,
            hostname,
            netboot: Netboot::Allowed,
        })
    }
}

/// Whether the mask is a run of ones followed by zeros.
fn is_contiguous_netmask(mask: Ipv4Addr) -> bool {
    let bits = u32::from(mask);
    bits.leading_ones() + bits.trailing_zeros() == 32
}

/// A dynamic range for clients without a reservation (only used with
/// [`UnknownClients::Serve`]). Addresses that are reserved, leased, declined or the server's
/// own are never handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool {
    /// First address of the range.
    pub start: Ipv4Addr,
    /// Last address of the range (inclusive).
    pub end: Ipv4Addr,
    /// Subnet mask for pool leases.
    pub netmask: Ipv4Addr,
    /// Default gateway for pool leases.
    pub gateway: Option<Ipv4Addr>,
    /// DNS servers for pool leases.
    pub nameservers: Vec<Ipv4Addr>,
}

impl Pool {
    /// Whether `ip` is inside the range.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (self.start..=self.end).contains(&ip)
    }
}

/// iPXE binary names per firmware, as served by the TFTP server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpxeBinaries {
    /// Legacy BIOS (option 93 = 0).
    pub bios: String,
    /// UEFI x86-64 (option 93 = 7 or 9).
    pub uefi_x86_64: String,
    /// UEFI arm64 (option 93 = 11).
    pub uefi_arm64: String,
}

impl Default for IpxeBinaries {
    fn default() -> Self {
        IpxeBinaries {
            bios: "undionly.kpxe".into(),
            uefi_x86_64: "ipxe.efi".into(),
            uefi_arm64: "snp.efi".into(),
        }
    }
}

/// Where network-booting clients are sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootOptions {
    /// TFTP server holding the iPXE binaries (`siaddr`, option 66).
    pub tftp_server: Ipv4Addr,
    /// Authority (`host[:port]`) of the HTTP boot server; the script is `http://<it>/<script>`.
    pub http_authority: String,
    /// Path of the iPXE script on the HTTP server, without a leading slash.
    pub script_path: String,
    /// iPXE binary names.
    pub binaries: IpxeBinaries,
}

impl BootOptions {
    /// Boot options with every service on `server` (HTTP on port 80), the script at
    /// `auto.ipxe` and the default binary names.
    pub fn on(server: Ipv4Addr) -> BootOptions {
        BootOptions {
            tftp_server: server,
            http_authority: server.to_string(),
            script_path: "auto.ipxe".into(),
            binaries: IpxeBinaries::default(),
        }
    }

    /// The URL iPXE clients are sent to.
    pub fn script_url(&self) -> String {
        format!("http://{}/{}", self.http_authority, self.script_path)
    }
}

/// Everything the protocol core needs to decide.
#[derive(Clone, Debug)]
pub struct Config {
    /// Authoritative or proxyDHCP.
    pub mode: Mode,
    /// This server's address (server identifier, option 54).
    pub server_ip: Ipv4Addr,
    /// Fixed leases by MAC.
    pub reservations: BTreeMap<Mac, Reservation>,
    /// Where PXE and iPXE clients are sent.
    pub boot: BootOptions,
    /// Lease time (option 51); T1 and T2 are 1/2 and 7/8 of it.
    pub lease_time: Duration,
    /// How long an offered pool address is held for the client's REQUEST.
    pub offer_hold: Duration,
    /// Policy for MACs without a reservation.
    pub unknown_clients: UnknownClients,
    /// Optional dynamic range for unknown clients.
    pub pool: Option<Pool>,
}

impl Config {
    /// An authoritative configuration serving only `reservations`, with boot services on
    /// `server_ip`, a one-hour lease and no pool.
    ///
    /// # Errors
    /// [`Error::DuplicateReservation`] when two reservations share a MAC or an IP.
    pub fn new(server_ip: Ipv4Addr, reservations: Vec<Reservation>) -> Result<Config> {
        let mut by_mac = BTreeMap::new();
        let mut ips = BTreeMap::new();
        for r in reservations {
            if ips.insert(r.ip, r.mac).is_some() {
                return Err(Error::DuplicateReservation {
                    what: "ip",
                    value: r.ip.to_string(),
                });
            }
            let mac = r.mac;
            if by_mac.insert(mac, r).is_some() {
                return Err(Error::DuplicateReservation {
                    what: "mac",
                    value: mac.to_string(),
                });
            }
        }
        Ok(Config {
            mode: Mode::Authoritative,
            server_ip,
            reservations: by_mac,
            boot: BootOptions::on(server_ip),
            lease_time: Duration::from_secs(3600),
            offer_hold: Duration::from_secs(60),
            unknown_clients: UnknownClients::Ignore,
            pool: None,
        })
    }

    /// An authoritative configuration (as [`Config::new`]) reserving every inventory record.
    ///
    /// # Errors
    /// The first record that cannot become a [`Reservation`], or a duplicate MAC or IP.
    pub fn from_inventory(server_ip: Ipv4Addr, hardware: &[Hardware]) -> Result<Config> {
        let reservations = hardware
            .iter()
            .map(Reservation::from_hardware)
            .collect::<Result<Vec<_>>>()?;
        Config::new(server_ip, reservations)
    }

    /// Checks what [`Config::new`] cannot: the pool is not reversed and no two reservations
    /// (which are public fields) share an IP.
    ///
    /// # Errors
    /// [`Error::InvalidPool`] or [`Error::DuplicateReservation`].
    pub fn validate(&self) -> Result<()> {
        if let Some(pool) = &self.pool
            && pool.start > pool.end
        {
            return Err(Error::InvalidPool {
                start: pool.start,
                end: pool.end,
            });
        }
        let mut ips = std::collections::BTreeSet::new();
        for r in self.reservations.values() {
            if !ips.insert(r.ip) {
                return Err(Error::DuplicateReservation {
                    what: "ip",
                    value: r.ip.to_string(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hardware() -> Hardware {
        Hardware {
            hostname: "cp-1".into(),
            ip_address: "10.0.0.10".into(),
            netmask: "255.255.255.0".into(),
            gateway: "10.0.0.1".into(),
            nameservers: vec!["1.1.1.1".into(), "fd00::1".into()],
            mac: "AA:BB:CC:00:11:22".into(),
            disk: "/dev/sda".into(),
            ..Default::default()
        }
    }

    #[test]
    fn mac_parses_colons_and_dashes_in_any_case_and_prints_lowercase() {
        let a: Mac = "AA:bb:CC:00:11:22".parse().unwrap();
        let b: Mac = "aa-bb-cc-00-11-22".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "aa:bb:cc:00:11:22");
    }

    #[test]
    fn mac_rejects_wrong_lengths_and_digits() {
        for bad in [
            "",
            "aa:bb:cc:00:11",
            "aa:bb:cc:00:11:22:33",
            "aa:bb:cc:00:11:2",
            "gg:bb:cc:00:11:22",
            "aabb:cc:00:11:22:",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }

    #[test]
    fn reservation_from_hardware_keeps_ipv4_nameservers_and_allows_netboot() {
        let r = Reservation::from_hardware(&hardware()).unwrap();
        assert_eq!(r.mac, "aa:bb:cc:00:11:22".parse().unwrap());
        assert_eq!(r.ip, Ipv4Addr::new(10, 0, 0, 10));
        assert_eq!(r.netmask, Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(r.gateway, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(r.nameservers, [Ipv4Addr::new(1, 1, 1, 1)]);
        assert_eq!(r.hostname.as_deref(), Some("cp-1"));
        assert_eq!(r.netboot, Netboot::Allowed);
    }

    #[test]
    fn reservation_from_hardware_rejects_ipv6_address_and_holey_netmask() {
        let mut hw = hardware();
        hw.ip_address = "fd00::10".into();
        assert!(matches!(
            Reservation::from_hardware(&hw),
            Err(Error::InvalidHardware {
                field: "ip_address",
                ..
            })
        ));
        let mut hw = hardware();
        hw.netmask = "255.0.255.0".into();
        assert!(matches!(
            Reservation::from_hardware(&hw),
            Err(Error::InvalidHardware { field: "netmask", .. })
        ));
    }

    #[test]
    fn config_rejects_duplicate_reservation_ip() {
        let a = Reservation::from_hardware(&hardware()).unwrap();
        let mut b = a.clone();
        b.mac = "aa:bb:cc:00:11:23".parse().unwrap();
        assert!(matches!(
            Config::new(Ipv4Addr::new(10, 0, 0, 2), vec![a, b]),
            Err(Error::DuplicateReservation { what: "ip", .. })
        ));
    }

    #[test]
    fn config_from_inventory_csv_reserves_every_machine() {
        let csv = "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels\n\
                   cp-1,10.0.0.10,255.255.255.0,10.0.0.1,1.1.1.1|8.8.8.8,52:54:00:00:00:01,/dev/sda,type=cp\n\
                   w-1,10.0.0.20,255.255.255.0,10.0.0.1,1.1.1.1,52:54:00:00:00:02,/dev/sda,type=worker\n";
        let hardware = anywhere_inventory::read_csv(csv).unwrap();
        let config = Config::from_inventory(Ipv4Addr::new(10, 0, 0, 2), &hardware).unwrap();
        let ips: Vec<(String, Ipv4Addr)> = config
            .reservations
            .values()
            .map(|r| (r.mac.to_string(), r.ip))
            .collect();
        assert_eq!(
            ips,
            [
                ("52:54:00:00:00:01".to_string(), Ipv4Addr::new(10, 0, 0, 10)),
                ("52:54:00:00:00:02".to_string(), Ipv4Addr::new(10, 0, 0, 20)),
            ]
        );
        assert_eq!(config.mode, Mode::Authoritative);
        assert_eq!(config.unknown_clients, UnknownClients::Ignore);
    }

    #[test]
    fn script_url_uses_http_authority_and_path() {
        let mut boot = BootOptions::on(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(boot.script_url(), "http://10.0.0.2/auto.ipxe");
        boot.http_authority = "10.0.0.2:7080".into();
        assert_eq!(boot.script_url(), "http://10.0.0.2:7080/auto.ipxe");
    }
}

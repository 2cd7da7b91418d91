//! The machine catalogue (inventory records plus per-machine boot settings) and the per-machine
//! iPXE script. Pure.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use anywhere_dhcp::{Mac, Netboot, Reservation};
use anywhere_inventory::Hardware;

use crate::script::{Command, Script};
use crate::{Error, Result};

/// Where a boot file comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A file of this server's artifact directory, fetched as `http://<server>/artifacts/<name>`.
    Artifact(String),
    /// An absolute URL elsewhere.
    Url(String),
}

impl Source {
    /// The URL a machine fetches, `server` being this server's `host[:port]`.
    pub fn url(&self, server: &str) -> String {
        match self {
            Source::Artifact(name) => format!("http://{server}/artifacts/{name}"),
            Source::Url(url) => url.clone(),
        }
    }

    /// The last path segment (what iPXE names the downloaded image).
    fn file_name(&self) -> &str {
        let path = match self {
            Source::Artifact(name) => name.as_str(),
            Source::Url(url) => url.split(['?', '#']).next().unwrap_or(url),
        };
        path.rsplit('/').next().unwrap_or(path)
    }
}

/// What a machine whose netboot is refused does instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalBoot {
    /// iPXE `exit`: the firmware tries its next boot device. Fine on BIOS (SeaBIOS); 2019-era
    /// iPXE-EFI busy-loops instead of returning to OVMF, so refuse those at DHCP level too.
    Exit,
    /// `sanboot` the first BIOS disk (drive `0x80`), then `exit` if that fails.
    FirstDisk,
}

/// How one machine network-boots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootSettings {
    /// The kernel.
    pub kernel: Source,
    /// Initial ramdisks, in load order.
    pub initrds: Vec<Source>,
    /// Kernel command line. `initrd=<name>` is appended for each initrd it does not already
    /// name, since 2019-era iPXE-EFI needs it to hand the initrd over.
    pub cmdline: String,
    /// Whether the machine may network-boot (Tinkerbell's `allowPXE`).
    pub netboot: Netboot,
    /// What a refused machine does instead.
    pub local_boot: LocalBoot,
}

/// One machine the server knows: its inventory record (as a DHCP reservation), boot settings
/// and instance metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// MAC, IP, netmask, gateway, nameservers and hostname.
    pub reservation: Reservation,
    /// How it network-boots.
    pub boot: BootSettings,
    /// EC2 `instance-id`; [`Machine::from_hardware`] derives `i-<mac hex>`.
    pub instance_id: String,
    /// cloud-init user data, served verbatim (EC2 `user-data`, NoCloud `user-data`).
    pub user_data: Option<String>,
    /// SSH public keys (EC2 `public-keys`, NoCloud `public-keys`).
    pub ssh_keys: Vec<String>,
}

impl Machine {
    /// The machine of an inventory record, with `boot` settings and no user data or keys.
    ///
    /// # Errors
    /// [`Error::Hardware`] when the record's MAC, IPv4 address, netmask or gateway do not parse.
    pub fn from_hardware(hw: &Hardware, boot: BootSettings) -> Result<Machine> {
        let reservation = Reservation::from_hardware(hw)?;
        let hex: String = reservation
            .mac
            .octets()
            .iter()
            .map(|o| format!("{o:02x}"))
            .collect();
        Ok(Machine {
            reservation,
            boot,
            instance_id: format!("i-{hex}"),
            user_data: None,
            ssh_keys: Vec::new(),
        })
    }

    /// The boot MAC.
    pub fn mac(&self) -> Mac {
        self.reservation.mac
    }

    /// The fixed IPv4 address.
    pub fn ip(&self) -> Ipv4Addr {
        self.reservation.ip
    }

    /// The host name, or `<instance-id>` when the record has none.
    pub fn hostname(&self) -> &str {
        self.reservation.hostname.as_deref().unwrap_or(&self.instance_id)
    }
}

/// All machines, looked up by MAC or by IP. Neither may repeat.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    by_mac: BTreeMap<Mac, Machine>,
    by_ip: BTreeMap<Ipv4Addr, Mac>,
}

impl Catalogue {
    /// The catalogue of `machines`.
    ///
    /// # Errors
    /// [`Error::DuplicateMachine`] when two machines share a MAC or an IP.
    pub fn new(machines: impl IntoIterator<Item = Machine>) -> Result<Catalogue> {
        let mut catalogue = Catalogue::default();
        for machine in machines {
            let (mac, ip) = (machine.mac(), machine.ip());
            if catalogue.by_mac.contains_key(&mac) {
                return Err(Error::DuplicateMachine {
                    what: "mac",
                    value: mac.to_string(),
                });
            }
            if catalogue.by_ip.contains_key(&ip) {
                return Err(Error::DuplicateMachine {
                    what: "ip",
                    value: ip.to_string(),
                });
            }
            catalogue.by_ip.insert(ip, mac);
            catalogue.by_mac.insert(mac, machine);
        }
        Ok(catalogue)
    }

    /// The catalogue of inventory records, every machine with the same `boot` settings.
    ///
    /// # Errors
    /// As [`Machine::from_hardware`] and [`Catalogue::new`].
    pub fn from_inventory(hardware: &[Hardware], boot: &BootSettings) -> Result<Catalogue> {
        let machines = hardware
            .iter()
            .map(|hw| Machine::from_hardware(hw, boot.clone()))
            .collect::<Result<Vec<_>>>()?;
        Catalogue::new(machines)
    }

    /// The machine with this boot MAC.
    pub fn by_mac(&self, mac: Mac) -> Option<&Machine> {
        self.by_mac.get(&mac)
    }

    /// The machine with this fixed address.
    pub fn by_ip(&self, ip: Ipv4Addr) -> Option<&Machine> {
        self.by_ip.get(&ip).and_then(|mac| self.by_mac.get(mac))
    }

    /// The machine asking for its script: the one named by `mac` (iPXE's `${net0/mac}`) when
    /// known, else the one at the source address. MAC first because under proxyDHCP the
    /// address comes from another server and matches no record.
    pub fn identify(&self, source: Ipv4Addr, mac: Option<Mac>) -> Option<&Machine> {
        mac.and_then(|m| self.by_mac(m)).or_else(|| self.by_ip(source))
    }

    /// Number of machines.
    pub fn len(&self) -> usize {
        self.by_mac.len()
    }

    /// Whether there are no machines.
    pub fn is_empty(&self) -> bool {
        self.by_mac.is_empty()
    }
}

/// The iPXE script for `machine`, `server` being this server's `host[:port]`.
///
/// Allowed: `kernel <url> <cmdline> initrd=<name>...`, one `initrd` per ramdisk, `boot`.
/// Refused: an `echo` saying why, then the configured [`LocalBoot`].
pub fn ipxe_script(machine: &Machine, server: &str) -> String {
    let boot = &machine.boot;
    let mut script = Script::new();
    match boot.netboot {
        Netboot::Allowed => {
            let mut args = boot.cmdline.trim().to_string();
            for initrd in &boot.initrds {
                let arg = format!("initrd={}", initrd.file_name());
                if !args.split_whitespace().any(|a| a == arg) {
                    if !args.is_empty() {
                        args.push(' ');
                    }
                    args.push_str(&arg);
                }
            }
            script = script.push(Command::Kernel {
                url: boot.kernel.url(server),
                args,
            });
            for initrd in &boot.initrds {
                script = script.push(Command::Initrd(initrd.url(server)));
            }
            script = script.push(Command::Boot);
        }
        Netboot::Refused => {
            script = script.push(Command::Echo(format!(
                "anywhere: netboot not allowed for {} ({}), booting from local disk",
                machine.hostname(),
                machine.mac()
            )));
            if boot.local_boot == LocalBoot::FirstDisk {
                script = script.push(Command::SanbootDrive(0x80));
            }
            script = script.push(Command::Exit);
        }
    }
    script.render()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn hardware(mac: &str, ip: &str, hostname: &str) -> Hardware {
        Hardware {
            hostname: hostname.into(),
            ip_address: ip.into(),
            netmask: "255.255.255.0".into(),
            gateway: "10.0.0.1".into(),
            nameservers: vec!["10.0.0.53".into(), "2001:db8::53".into()],
            mac: mac.into(),
            disk: "/dev/sda".into(),
            ..Default::default()
        }
    }

    pub(crate) fn boot() -> BootSettings {
        BootSettings {
            kernel: Source::Artifact("vmlinuz".into()),
            initrds: vec![Source::Artifact("initramfs.img".into())],
            cmdline: "console=ttyS0 quiet".into(),
            netboot: Netboot::Allowed,
            local_boot: LocalBoot::Exit,
        }
    }

    pub(crate) fn machine(mac: &str, ip: &str, hostname: &str) -> Machine {
        Machine::from_hardware(&hardware(mac, ip, hostname), boot()).unwrap()
    }

    #[test]
    fn allowed_machine_gets_kernel_initrd_and_boot() {
        let m = machine("52:54:00:00:00:01", "10.0.0.11", "node-1");
        assert_eq!(
            ipxe_script(&m, "10.0.0.2:8080"),
            "#!ipxe\n\
             kernel http://10.0.0.2:8080/artifacts/vmlinuz console=ttyS0 quiet initrd=initramfs.img\n\
             initrd http://10.0.0.2:8080/artifacts/initramfs.img\n\
             boot\n"
        );
    }

    #[test]
    fn external_urls_are_used_verbatim_and_initrd_arg_not_repeated() {
        let mut m = machine("52:54:00:00:00:01", "10.0.0.11", "node-1");
        m.boot.kernel = Source::Url("http://mirror/hook/vmlinuz-x86_64".into());
        m.boot.initrds = vec![Source::Url("http://mirror/hook/initramfs-x86_64?v=2".into())];
        m.boot.cmdline = "initrd=initramfs-x86_64 tink_worker_image=x".into();
        assert_eq!(
            ipxe_script(&m, "s"),
            "#!ipxe\n\
             kernel http://mirror/hook/vmlinuz-x86_64 initrd=initramfs-x86_64 tink_worker_image=x\n\
             initrd http://mirror/hook/initramfs-x86_64?v=2\n\
             boot\n"
        );
    }

    #[test]
    fn refused_machine_echoes_why_and_exits() {
        let mut m = machine("52:54:00:00:00:01", "10.0.0.11", "node-1");
        m.boot.netboot = Netboot::Refused;
        assert_eq!(
            ipxe_script(&m, "s"),
            "#!ipxe\n\
             echo anywhere: netboot not allowed for node-1 (52:54:00:00:00:01), booting from local disk\n\
             exit\n"
        );
    }

    #[test]
    fn refused_machine_can_sanboot_the_first_disk() {
        let mut m = machine("52:54:00:00:00:01", "10.0.0.11", "node-1");
        m.boot.netboot = Netboot::Refused;
        m.boot.local_boot = LocalBoot::FirstDisk;
        let script = ipxe_script(&m, "s");
        assert!(
            script.ends_with("sanboot --no-describe --drive 0x80\nexit\n"),
            "{script}"
        );
        assert!(!script.contains("kernel"));
    }

    #[test]
    fn catalogue_finds_by_mac_and_ip_and_prefers_mac() {
        let a = machine("52:54:00:00:00:01", "10.0.0.11", "a");
        let b = machine("52:54:00:00:00:02", "10.0.0.12", "b");
        let c = Catalogue::new([a.clone(), b.clone()]).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.by_ip("10.0.0.12".parse().unwrap()), Some(&b));
        assert_eq!(c.by_mac(a.mac()), Some(&a));
        assert_eq!(c.by_ip("10.0.0.99".parse().unwrap()), None);
        let ip_a = "10.0.0.11".parse().unwrap();
        assert_eq!(c.identify(ip_a, Some(b.mac())), Some(&b));
        assert_eq!(c.identify(ip_a, None), Some(&a));
        let unknown_mac = "52:54:00:00:00:99".parse().ok();
        assert_eq!(c.identify(ip_a, unknown_mac), Some(&a));
    }

    #[test]
    fn catalogue_rejects_duplicate_mac_or_ip() {
        let a = machine("52:54:00:00:00:01", "10.0.0.11", "a");
        let same_mac = machine("52:54:00:00:00:01", "10.0.0.12", "b");
        let same_ip = machine("52:54:00:00:00:02", "10.0.0.11", "c");
        assert!(matches!(
            Catalogue::new([a.clone(), same_mac]),
            Err(Error::DuplicateMachine { what: "mac", .. })
        ));
        assert!(matches!(
            Catalogue::new([a, same_ip]),
            Err(Error::DuplicateMachine { what: "ip", .. })
        ));
    }

    #[test]
    fn from_inventory_reports_bad_records() {
        let bad = hardware("not-a-mac", "10.0.0.11", "a");
        assert!(matches!(
            Catalogue::from_inventory(&[bad], &boot()),
            Err(Error::Hardware(_))
        ));
        let ok =
            Catalogue::from_inventory(&[hardware("52:54:00:00:00:01", "10.0.0.11", "a")], &boot()).unwrap();
        let m = ok.by_ip("10.0.0.11".parse().unwrap()).unwrap();
        assert_eq!(m.instance_id, "i-525400000001");
        assert_eq!(m.hostname(), "a");
    }
}

//! PXE client detection and boot file choice.
//!
//! A firmware PXE client announces itself with vendor class (option 60) `PXEClient...` and its
//! architecture in option 93 (RFC 4578). It is sent the iPXE binary for that firmware over
//! TFTP. iPXE then DHCPs again with user class (option 77) `iPXE` (or smee's custom build,
//! `Tinkerbell`), and is sent the HTTP URL of its iPXE script: this two-step chain is what
//! Tinkerbell does and what the QEMU machines of the end-to-end harness expect.

use dhcproto::v4::{Architecture, DhcpOption, Message, OptionCode};

use crate::config::BootOptions;

/// The firmware family of a PXE client (option 93, first entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    /// Legacy BIOS (arch 0, or option 93 absent).
    Bios,
    /// UEFI on x86-64 (arch 7 or 9; 6, 32-bit UEFI, is served the same binary).
    UefiX86_64,
    /// UEFI on arm64 (arch 11).
    UefiArm64,
    /// UEFI HTTP boot on x86-64 (arch 16): fetches the binary over HTTP.
    UefiHttpX86_64,
    /// UEFI HTTP boot on arm64 (arch 19).
    UefiHttpArm64,
    /// Any other architecture code: no boot file is offered.
    Other(u16),
}

impl Firmware {
    fn from_arch(arch: Architecture) -> Firmware {
        match arch {
            Architecture::X86_Bios => Firmware::Bios,
            Architecture::X86 | Architecture::X64 | Architecture::BC => Firmware::UefiX86_64,
            Architecture::Arm64 => Firmware::UefiArm64,
            Architecture::X64_Http => Firmware::UefiHttpX86_64,
            Architecture::Arm64_Http => Firmware::UefiHttpArm64,
            Architecture(code) => Firmware::Other(code),
        }
    }

    fn is_http_boot(self) -> bool {
        matches!(self, Firmware::UefiHttpX86_64 | Firmware::UefiHttpArm64)
    }
}

/// What a client told us about its boot firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// No PXE vendor class and no iPXE user class: an OS DHCP client.
    Plain,
    /// Firmware PXE (or UEFI HTTP boot) client.
    Pxe(Firmware),
    /// iPXE, ready to fetch its script.
    Ipxe(Firmware),
}

impl ClientKind {
    /// Classifies a request by options 60, 77, 93 and 175 (iPXE's encapsulated options).
    pub fn of(msg: &Message) -> ClientKind {
        let opts = msg.opts();
        let vendor = match opts.get(OptionCode::ClassIdentifier) {
            Some(DhcpOption::ClassIdentifier(v)) => v.as_slice(),
            _ => &[],
        };
        let is_pxe_vendor = vendor.starts_with(b"PXEClient") || vendor.starts_with(b"HTTPClient");
        let firmware = match opts.get(OptionCode::ClientSystemArchitecture) {
            Some(DhcpOption::ClientSystemArchitecture(arch)) => Firmware::from_arch(*arch),
            _ => Firmware::Bios,
        };
        let is_ipxe = match opts.get(OptionCode::UserClass) {
            Some(DhcpOption::UserClass(uc)) => is_ipxe_user_class(uc),
            _ => false,
        } || opts.get(OptionCode::Unknown(175)).is_some();
        if is_ipxe {
            ClientKind::Ipxe(firmware)
        } else if is_pxe_vendor {
            ClientKind::Pxe(firmware)
        } else {
            ClientKind::Plain
        }
    }

    /// Whether the client network-boots at all.
    pub fn is_netboot(self) -> bool {
        !matches!(self, ClientKind::Plain)
    }
}

/// iPXE sends option 77 as the bare string `iPXE`; RFC 3004 clients prefix each class with its
/// length. Either form of `iPXE` or `Tinkerbell` counts.
fn is_ipxe_user_class(uc: &[u8]) -> bool {
    const NAMES: [&[u8]; 2] = [b"iPXE", b"Tinkerbell"];
    let bare = NAMES.contains(&uc);
    let rfc3004 = uc.split_first().is_some_and(|(len, rest)| {
        usize::from(*len) <= rest.len() && NAMES.contains(&&rest[..usize::from(*len)])
    });
    bare || rfc3004
}

/// The boot file offered to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootFile {
    /// A file on the TFTP server (`siaddr` + `file`/option 67).
    Tftp(String),
    /// An HTTP URL (iPXE script, or a binary for UEFI HTTP boot).
    Http(String),
}

impl BootFile {
    /// The option 67 / `file` value.
    pub fn name(&self) -> &str {
        match self {
            BootFile::Tftp(name) | BootFile::Http(name) => name,
        }
    }

    /// The boot file for a client of `kind`, or `None` when it does not network-boot or its
    /// architecture has no binary.
    pub fn choose(kind: ClientKind, boot: &BootOptions) -> Option<BootFile> {
        match kind {
            ClientKind::Plain => None,
            ClientKind::Ipxe(_) => Some(BootFile::Http(boot.script_url())),
            ClientKind::Pxe(firmware) => {
                let binary = match firmware {
                    Firmware::Bios => &boot.binaries.bios,
                    Firmware::UefiX86_64 | Firmware::UefiHttpX86_64 => &boot.binaries.uefi_x86_64,
                    Firmware::UefiArm64 | Firmware::UefiHttpArm64 => &boot.binaries.uefi_arm64,
                    Firmware::Other(_) => return None,
                };
                Some(if firmware.is_http_boot() {
                    BootFile::Http(format!("http://{}/{binary}", boot.http_authority))
                } else {
                    BootFile::Tftp(binary.clone())
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn request(opts: Vec<DhcpOption>) -> Message {
        let mut m = Message::default();
        for o in opts {
            m.opts_mut().insert(o);
        }
        m
    }

    fn pxe(arch: u16) -> Vec<DhcpOption> {
        vec![
            DhcpOption::ClassIdentifier(b"PXEClient:Arch:00007:UNDI:003016".to_vec()),
            DhcpOption::ClientSystemArchitecture(Architecture(arch)),
        ]
    }

    fn check(opts: Vec<DhcpOption>, expect: Option<BootFile>) {
        let boot = BootOptions::on(Ipv4Addr::new(10, 0, 0, 2));
        let kind = ClientKind::of(&request(opts));
        assert_eq!(BootFile::choose(kind, &boot), expect, "{kind:?}");
    }

    #[test]
    fn bios_pxe_client_gets_undionly_over_tftp() {
        check(pxe(0), Some(BootFile::Tftp("undionly.kpxe".into())));
    }

    #[test]
    fn pxe_client_without_option_93_is_treated_as_bios() {
        check(
            vec![DhcpOption::ClassIdentifier(b"PXEClient".to_vec())],
            Some(BootFile::Tftp("undionly.kpxe".into())),
        );
    }

    #[test]
    fn uefi_x86_64_pxe_client_gets_ipxe_efi() {
        check(pxe(7), Some(BootFile::Tftp("ipxe.efi".into())));
        check(pxe(9), Some(BootFile::Tftp("ipxe.efi".into())));
    }

    #[test]
    fn uefi_arm64_pxe_client_gets_snp_efi() {
        check(pxe(11), Some(BootFile::Tftp("snp.efi".into())));
    }

    #[test]
    fn uefi_http_boot_client_gets_binary_url() {
        check(pxe(16), Some(BootFile::Http("http://10.0.0.2/ipxe.efi".into())));
    }

    #[test]
    fn unknown_architecture_gets_no_boot_file() {
        check(pxe(0x1b), None);
    }

    #[test]
    fn ipxe_user_class_gets_script_url_whatever_the_arch() {
        for arch in [0, 7, 11] {
            let mut opts = pxe(arch);
            opts.push(DhcpOption::UserClass(b"iPXE".to_vec()));
            check(opts, Some(BootFile::Http("http://10.0.0.2/auto.ipxe".into())));
        }
    }

    #[test]
    fn rfc3004_and_tinkerbell_user_classes_are_ipxe() {
        let mut opts = pxe(0);
        opts.push(DhcpOption::UserClass(b"\x04iPXE".to_vec()));
        check(opts, Some(BootFile::Http("http://10.0.0.2/auto.ipxe".into())));
        let mut opts = pxe(0);
        opts.push(DhcpOption::UserClass(b"Tinkerbell".to_vec()));
        check(opts, Some(BootFile::Http("http://10.0.0.2/auto.ipxe".into())));
    }

    #[test]
    fn option_175_marks_ipxe() {
        let mut opts = pxe(0);
        opts.push(DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(
            OptionCode::Unknown(175),
            vec![0x13, 1, 1],
        )));
        check(opts, Some(BootFile::Http("http://10.0.0.2/auto.ipxe".into())));
    }

    #[test]
    fn os_client_without_pxe_vendor_class_gets_no_boot_file() {
        check(vec![DhcpOption::ClassIdentifier(b"udhcp 1.35".to_vec())], None);
        check(vec![], None);
    }

    #[test]
    fn truncated_rfc3004_user_class_does_not_panic() {
        assert!(!is_ipxe_user_class(b"\x09iPXE"));
        assert!(!is_ipxe_user_class(b""));
    }
}

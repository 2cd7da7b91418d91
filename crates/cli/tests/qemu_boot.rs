//! The bare-metal boot stack end to end with real firmware: four QEMU machines (three SeaBIOS
//! with iPXE NIC ROMs, one OVMF using the firmware's own PXE and TFTP for `ipxe.efi`) boot from
//! `anywhere metal serve` (our DHCP, TFTP and HTTP boot servers) inside a network namespace,
//! into a busybox initramfs that prints a marker, gets an address by DHCP and reads its own
//! hostname and address from our metadata service. Each machine's `anywhere metal timeline`
//! must show the boot in order.
//!
//! The harness is `tests/qemu/boot-e2e.sh`. Needs root, QEMU, OVMF, busybox, radvd and a
//! Debian kernel: `.ci/install-metal-e2e.sh` installs them. Without them the test skips with a
//! message, except under `CI=true`, where it fails. Takes about a minute under TCG on 2 cores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

const KERNEL_DIR: &str = "/var/cache/anywhere-e2e/kernel";

fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !is_root {
        missing.push("root".to_string());
    }
    for tool in [
        "qemu-system-x86_64",
        "busybox",
        "radvd",
        "modprobe",
        "depmod",
        "cpio",
        "ip",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            missing.push(tool.to_string());
        }
    }
    for file in [
        "/usr/share/ovmf/OVMF.fd",
        "/usr/lib/ipxe/ipxe.efi",
        "/usr/lib/ipxe/qemu",
    ] {
        if !Path::new(file).exists() {
            missing.push(file.to_string());
        }
    }
    if !Path::new(KERNEL_DIR).join("boot").is_dir() {
        missing.push(format!("a kernel in {KERNEL_DIR}"));
    }
    missing
}

/// The lines of one machine's timeline in the harness output.
fn timeline<'a>(output: &'a str, mac: &str) -> Vec<&'a str> {
    let start = format!("TIMELINE {mac}");
    output
        .lines()
        .skip_while(|l| *l != start)
        .skip(1)
        .take_while(|l| *l != "END TIMELINE")
        .collect()
}

/// The index of the first line containing `needle`, after `from`.
fn position(lines: &[&str], needle: &str, from: usize) -> Option<usize> {
    lines
        .iter()
        .skip(from)
        .position(|l| l.contains(needle))
        .map(|i| i + from)
}

#[test]
fn qemu_machines_network_boot_through_metal_serve_and_read_their_metadata() {
    let missing = missing_prerequisites();
    if !missing.is_empty() {
        let why = format!(
            "needs {} (run .ci/install-metal-e2e.sh as root)",
            missing.join(", ")
        );
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{why}: CI must run this test"
        );
        eprintln!("skipping: {why}");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qemu/boot-e2e.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_anywhere"))
        .arg(work.path())
        .output()
        .expect("run the harness");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown with --nocapture: per-machine times and timelines.
    println!("{stdout}");
    assert!(out.status.success(), "harness failed:\n{stdout}\n{stderr}");

    let machines = [
        ("m1", "52:54:00:e2:e0:01", "bios"),
        ("m2", "52:54:00:e2:e0:02", "bios"),
        ("m3", "52:54:00:e2:e0:03", "bios"),
        ("m4", "52:54:00:e2:e0:04", "uefi"),
    ];
    for (name, mac, firmware) in machines {
        let ip = format!("10.213.0.1{}", &name[1..]);
        let verdict = format!("MACHINE {name} {mac} ok firmware={firmware}");
        assert!(stdout.contains(&verdict), "{name} did not boot:\n{stdout}");
        assert!(
            stdout.contains(&format!("hostname={name} local-ipv4={ip}")),
            "{name} did not read its own metadata:\n{stdout}"
        );
        // The timeline tells the boot in order.
        let lines = timeline(&stdout, mac);
        let mut at = 0;
        let ack = format!("dhcp ack {ip}");
        let mut steps = vec!["dhcp discover", ack.as_str()];
        if firmware == "uefi" {
            // OVMF's PXE loads iPXE over TFTP, and iPXE asks DHCP again as iPXE.
            steps.extend(["tftp done ipxe.efi", "dhcp discover (iPXE"]);
        }
        steps.extend([
            "http script",
            "http kernel",
            "http initrd",
            "dhcp discover (os client)",
            "metadata /2009-04-04/meta-data/hostname",
        ]);
        for step in steps {
            at = position(&lines, step, at).unwrap_or_else(|| {
                panic!(
                    "{name}: no `{step}` after line {at} in its timeline:\n{}",
                    lines.join("\n")
                )
            });
        }
    }
}

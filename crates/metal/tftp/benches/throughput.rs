//! Throughput of a 30 MB download over loopback: our server vs tftpd-hpa, same Rust client, same
//! requested blksize/windowsize. Run with `cargo bench -p anywhere-tftp --bench throughput`.
//!
//! tftpd-hpa (Debian `tftpd-hpa`, `in.tftpd`) is started in the foreground on an ephemeral port
//! when installed; otherwise only our figures are printed. tftpd-hpa does not implement RFC 7440,
//! so it leaves `windowsize` out of its OACK and the client falls back to a window of 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/client.rs"]
mod client;

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anywhere_tftp::{DirSource, Limits, serve};
use client::GetOptions;

const FILE: &str = "bench.bin";
const SIZE: usize = 30 * 1_000_000;
const RUNS: usize = 3;

/// Kills the tftpd-hpa child (by its own handle) when the bench ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn in_tftpd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join("in.tftpd"))
        .find(|p| p.is_file())
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_tftpd_hpa(binary: &Path, dir: &Path) -> (Daemon, SocketAddr) {
    let port = free_udp_port();
    let child = Command::new(binary)
        .args(["-L", "-s"])
        .arg(dir)
        .args(["-a", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .spawn()
        .expect("failed to start in.tftpd");
    let daemon = Daemon(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    // Wait until it answers (the client retries its RRQ every 500 ms).
    client::get(addr, "probe.bin", GetOptions::default()).expect("in.tftpd does not answer");
    (daemon, addr)
}

/// Best of `RUNS` downloads, in MB/s (10^6 bytes per second).
fn measure(addr: SocketAddr, options: GetOptions) -> (f64, Vec<(String, String)>) {
    let mut best = f64::MAX;
    let mut oack = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let download = client::get(addr, FILE, options).expect("download failed");
        let elapsed = started.elapsed();
        assert_eq!(download.data.len(), SIZE, "short download");
        best = best.min(elapsed.as_secs_f64());
        oack = download.oack;
    }
    (SIZE as f64 / best / 1e6, oack)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    // tftpd-hpa drops to user `tftp`: the directory and files must be world-readable.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    for (name, bytes) in [(FILE, &data[..]), ("probe.bin", &b"x"[..])] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let socket = runtime
        .block_on(tokio::net::UdpSocket::bind("127.0.0.1:0"))
        .unwrap();
    let ours = socket.local_addr().unwrap();
    let source = DirSource::new(dir.path()).unwrap();
    let server = runtime.spawn(serve(socket, source, Limits::default()));

    let theirs = match in_tftpd() {
        Some(binary) => Some(start_tftpd_hpa(&binary, dir.path())),
        None => {
            println!("tftpd-hpa not installed (apt-get install -y tftpd-hpa): reporting our server only");
            None
        }
    };

    let cases = [
        ("blksize 512, window 1 (no options)", GetOptions::default()),
        (
            "blksize 1468, window 1",
            GetOptions {
                blksize: Some(1468),
                windowsize: None,
                tsize: true,
            },
        ),
        (
            "blksize 1468, window 16",
            GetOptions {
                blksize: Some(1468),
                windowsize: Some(16),
                tsize: true,
            },
        ),
        (
            "blksize 8192, window 1",
            GetOptions {
                blksize: Some(8192),
                windowsize: None,
                tsize: true,
            },
        ),
        (
            "blksize 8192, window 16",
            GetOptions {
                blksize: Some(8192),
                windowsize: Some(16),
                tsize: true,
            },
        ),
    ];
    println!("30 MB file over 127.0.0.1, best of {RUNS}, MB/s (10^6 B/s)");
    println!("{:<40} {:>14} {:>14}", "requested", "anywhere-tftp", "tftpd-hpa");
    for (label, options) in cases {
        let (ours_mbs, _) = measure(ours, options);
        let theirs_text = match &theirs {
            Some((_, addr)) => {
                let (mbs, oack) = measure(*addr, options);
                let window = if oack.iter().any(|(k, _)| k == "windowsize") {
                    ""
                } else {
                    "*"
                };
                format!(
                    "{mbs:.1}{}",
                    if options.windowsize.is_some() { window } else { "" }
                )
            }
            None => "-".to_owned(),
        };
        println!("{label:<40} {ours_mbs:>14.1} {theirs_text:>14}");
    }
    if theirs.is_some() {
        println!("* tftpd-hpa did not acknowledge windowsize: it ran with a window of 1");
    }
    server.abort();
    drop(theirs);
}

//! Loopback tests of the tokio shell with a Rust client and, when installed, the real tftp-hpa
//! client.
//!
//! Debian packages (CI: `apt-get install -y tftp-hpa ipxe`; the bench also uses `tftpd-hpa`):
//! - `tftp-hpa`: the `tftp` client for `real_tftp_hpa_client_downloads_files` (skipped if absent).
//! - `ipxe`: the binaries for the unit test `debian_ipxe_package_is_found_when_installed`
//!   (skipped if absent).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/client.rs"]
mod client;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anywhere_tftp::{DirSource, FileSource, Limits, serve};
use client::{ClientError, GetOptions};
use tokio::net::UdpSocket;

const MIB: usize = 1_048_576;

fn contents(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 253) as u8 ^ seed).collect()
}

/// The files every download test fetches: 1 MiB, empty, and 32 KiB (a multiple of 512 and 1024).
fn fixture_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("big.bin", contents(MIB, 1)),
        ("empty.bin", Vec::new()),
        ("multiple.bin", contents(32 * 1024, 2)),
    ]
}

fn fixture_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in fixture_files() {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

async fn start_server(source: impl FileSource) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        serve(socket, source, Limits::default()).await.unwrap();
    });
    (addr, handle)
}

async fn get(addr: SocketAddr, file: &str, options: GetOptions) -> Result<client::Download, ClientError> {
    let file = file.to_owned();
    let download = tokio::task::spawn_blocking(move || client::get(addr, &file, options));
    tokio::time::timeout(Duration::from_secs(60), download)
        .await
        .expect("download timed out")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_downloads_1mib_empty_and_blksize_multiple_files() {
    let dir = fixture_dir();
    let (addr, server) = start_server(DirSource::new(dir.path()).unwrap()).await;
    let variants = [
        GetOptions::default(),
        GetOptions {
            blksize: Some(1024),
            windowsize: Some(8),
            tsize: true,
        },
        GetOptions {
            blksize: Some(1468),
            windowsize: Some(16),
            tsize: false,
        },
    ];
    for options in variants {
        for (name, expected) in fixture_files() {
            let download = get(addr, name, options).await.unwrap();
            assert!(
                download.data == expected,
                "{name} with {options:?}: content differs"
            );
            if options.tsize {
                let tsize = download
                    .oack
                    .iter()
                    .find(|(k, _)| k == "tsize")
                    .map(|(_, v)| v.clone());
                assert_eq!(tsize, Some(expected.len().to_string()), "{name}");
            }
        }
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_downloads_each_get_their_own_transfer() {
    let dir = fixture_dir();
    let (addr, server) = start_server(DirSource::new(dir.path()).unwrap()).await;
    let options = GetOptions {
        blksize: Some(1468),
        windowsize: Some(4),
        tsize: false,
    };
    let downloads: Vec<_> = (0..4)
        .map(|_| tokio::spawn(get(addr, "big.bin", options)))
        .collect();
    for download in downloads {
        assert!(download.await.unwrap().unwrap().data == contents(MIB, 1));
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_file_and_traversal_get_tftp_errors_over_the_wire() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(outer.path().join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(outer.path().join("secret"), root.join("link")).unwrap();
    let (addr, server) = start_server(DirSource::new(&root).unwrap()).await;
    let code = |result: Result<client::Download, ClientError>| match result {
        Err(ClientError::Server { code, .. }) => code,
        other => panic!("expected a tftp error, got {other:?}"),
    };
    assert_eq!(code(get(addr, "nope.bin", GetOptions::default()).await), 1);
    assert_eq!(code(get(addr, "../secret", GetOptions::default()).await), 2);
    assert_eq!(code(get(addr, "/etc/passwd", GetOptions::default()).await), 2);
    assert_eq!(code(get(addr, "link", GetOptions::default()).await), 2);
    server.abort();
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_tftp_hpa_client_downloads_files() {
    let Some(tftp) = find_in_path("tftp") else {
        println!("skipping: no `tftp` client on PATH (apt-get install -y tftp-hpa)");
        return;
    };
    let dir = fixture_dir();
    let out = tempfile::tempdir().unwrap();
    let (addr, server) = start_server(DirSource::new(dir.path()).unwrap()).await;
    for (name, expected) in fixture_files() {
        let local: PathBuf = out.path().join(name);
        let run = tokio::process::Command::new(&tftp)
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .args(["-m", "binary", "-c", "get", name])
            .arg(&local)
            .current_dir(out.path())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("tftp hung")
            .unwrap();
        assert!(output.status.success(), "tftp get {name}: {output:?}");
        let got = std::fs::read(Path::new(&local)).unwrap();
        assert!(
            got == expected,
            "tftp get {name}: {} bytes, want {}",
            got.len(),
            expected.len()
        );
    }
    server.abort();
}

/// Receives datagrams until `virtual_timeout` of (paused) time passes without one.
async fn collect(socket: &UdpSocket, virtual_timeout: Duration) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Ok(Ok((len, from))) = tokio::time::timeout(virtual_timeout, socket.recv_from(&mut buf)).await {
        got.push((from, buf[..len].to_vec()));
    }
    got
}

#[tokio::test(start_paused = true)]
async fn unanswered_transfer_retransmits_then_sends_timeout_error() {
    let limits = Limits::default();
    let retries = limits.transfer.max_retries as usize;
    let source = anywhere_tftp::MemorySource::new().with("f", vec![1u8; 2000]);
    let listen = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = listen.local_addr().unwrap();
    let server = tokio::spawn(serve(listen, source, limits));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let rrq = anywhere_tftp::Packet::Request(anywhere_tftp::Request::read("f", &[])).encode();
    client.send_to(&rrq, addr).await.unwrap();
    let got = collect(&client, Duration::from_secs(30)).await;
    let (data, rest) = got.split_at(got.len() - 1);
    assert_eq!(data.len(), 1 + retries, "block 1 plus one resend per retry");
    assert!(data.iter().all(|(_, d)| d[..4] == [0, 3, 0, 1]));
    assert_eq!(rest[0].1[..4], [0, 5, 0, 0], "timeout ends with an ERROR");
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn duplicate_request_from_same_client_port_starts_one_transfer() {
    let source = anywhere_tftp::MemorySource::new().with("f", vec![1u8; 100]);
    let listen = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = listen.local_addr().unwrap();
    let server = tokio::spawn(serve(listen, source, Limits::default()));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let rrq = anywhere_tftp::Packet::Request(anywhere_tftp::Request::read("f", &[])).encode();
    client.send_to(&rrq, addr).await.unwrap();
    client.send_to(&rrq, addr).await.unwrap();
    let got = collect(&client, Duration::from_secs(2)).await;
    let first = got[0].0;
    assert_ne!(first, addr, "replies come from an ephemeral transfer port");
    assert!(
        got.iter().all(|(from, _)| *from == first),
        "one transfer ID: {got:?}"
    );
    // Acknowledging block 1 (the whole 100-byte file) ends the transfer.
    client
        .send_to(&anywhere_tftp::packet::ack(1), first)
        .await
        .unwrap();
    assert!(
        collect(&client, Duration::from_secs(10)).await.is_empty(),
        "no retransmission after the final ACK"
    );
    server.abort();
}

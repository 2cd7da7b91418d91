//! The HTTP shell on loopback, through real TCP connections from chosen source addresses
//! (Linux routes all of 127.0.0.0/8 to `lo`, so a client can bind 127.0.0.11 to play a machine).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anywhere_boot::server::Event;
use anywhere_boot::{BootSettings, Catalogue, LocalBoot, Machine, Netboot, Options, Source, serve};
use anywhere_inventory::Hardware;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, oneshot, watch};

const A: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
const B: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 12);
const STRANGER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 99);
const MAC_A: &str = "52:54:00:e2:e0:01";
const MAC_B: &str = "52:54:00:e2:e0:02";
const SIZE: usize = 3 * 1024 * 1024;
const BIG: u64 = 256 * 1024 * 1024;

fn machine(mac: &str, ip: Ipv4Addr, hostname: &str) -> Machine {
    let hw = Hardware {
        hostname: hostname.into(),
        ip_address: ip.to_string(),
        netmask: "255.0.0.0".into(),
        gateway: "127.0.0.1".into(),
        nameservers: vec!["127.0.0.53".into()],
        mac: mac.into(),
        ..Default::default()
    };
    let boot = BootSettings {
        kernel: Source::Artifact("vmlinuz".into()),
        initrds: vec![Source::Artifact("initrd.img".into())],
        cmdline: "console=ttyS0".into(),
        netboot: Netboot::Allowed,
        local_boot: LocalBoot::Exit,
    };
    let mut m = Machine::from_hardware(&hw, boot).unwrap();
    m.user_data = Some(format!("#cloud-config\nhostname: {hostname}\n"));
    m
}

fn catalogue() -> Catalogue {
    Catalogue::new([machine(MAC_A, A, "node-a"), machine(MAC_B, B, "node-b")]).unwrap()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

struct Harness {
    addr: SocketAddr,
    events: mpsc::Receiver<Event>,
    catalogue: watch::Sender<Arc<Catalogue>>,
    _base: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

async fn start() -> Harness {
    // base/art is served; base/anywhere-boot-secret sits just outside it.
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("art");
    std::fs::create_dir_all(root.join("hook")).unwrap();
    std::fs::write(root.join("os.img"), pattern(SIZE)).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    // Sparse, so cheap: far more than socket buffers can absorb.
    std::fs::File::create(root.join("big.img"))
        .unwrap()
        .set_len(BIG)
        .unwrap();
    std::fs::write(root.join("hook/vmlinuz"), b"kernel").unwrap();
    let secret = base.path().join("anywhere-boot-secret");
    std::fs::write(&secret, b"secret").unwrap();
    std::os::unix::fs::symlink(&secret, root.join("link")).unwrap();

    let (catalogue_tx, catalogue_rx) = watch::channel(Arc::new(catalogue()));
    let (events_tx, events) = mpsc::channel(64);
    let options = Options {
        catalogue: catalogue_rx,
        server: "10.0.0.2:8080".into(),
        artifacts: Some(root),
        events: Some(events_tx),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, options, async {
        let _ = stopped.await;
    }));
    Harness {
        addr,
        events,
        catalogue: catalogue_tx,
        _base: base,
        _stop: stop,
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// One HTTP/1.1 request from `source`, `Connection: close`, read to EOF.
async fn request(h: &Harness, source: Ipv4Addr, method: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    let mut stream = socket.connect(h.addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: boot\r\nConnection: close\r\n");
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

async fn get(h: &Harness, source: Ipv4Addr, path: &str) -> Reply {
    request(h, source, "GET", path, &[]).await
}

const SCRIPT_A: &str = "#!ipxe\n\
    kernel http://10.0.0.2:8080/artifacts/vmlinuz console=ttyS0 initrd=initrd.img\n\
    initrd http://10.0.0.2:8080/artifacts/initrd.img\n\
    boot\n";

#[tokio::test]
async fn script_is_chosen_by_source_ip() {
    let h = start().await;
    let reply = get(&h, A, "/auto.ipxe").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), SCRIPT_A);
    assert!(reply.header("content-type").unwrap().starts_with("text/plain"));
}

#[tokio::test]
async fn unknown_source_ip_gets_404() {
    let h = start().await;
    assert_eq!(get(&h, STRANGER, "/auto.ipxe").await.status, 404);
    assert_eq!(get(&h, STRANGER, "/auto.ipxe?mac=garbage").await.status, 404);
}

#[tokio::test]
async fn mac_query_or_path_names_the_machine() {
    let h = start().await;
    let by_query = get(&h, STRANGER, &format!("/auto.ipxe?mac={MAC_A}")).await;
    assert_eq!((by_query.status, by_query.text()), (200, SCRIPT_A));
    let by_path = get(&h, STRANGER, &format!("/ipxe/{}", MAC_A.to_uppercase())).await;
    assert_eq!((by_path.status, by_path.text()), (200, SCRIPT_A));
    assert_eq!(get(&h, A, "/ipxe/52:54:00:00:00:99").await.status, 404);
    assert_eq!(get(&h, A, "/ipxe/not-a-mac").await.status, 400);
}

#[tokio::test]
async fn swapped_catalogue_refuses_netboot_on_the_next_request() {
    let h = start().await;
    let mut a = machine(MAC_A, A, "node-a");
    a.boot.netboot = Netboot::Refused;
    let refused = Catalogue::new([a, machine(MAC_B, B, "node-b")]).unwrap();
    h.catalogue.send(Arc::new(refused)).unwrap();
    let reply = get(&h, A, "/auto.ipxe").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.text(),
        "#!ipxe\necho anywhere: netboot not allowed for node-a (52:54:00:e2:e0:01), booting from local disk\nexit\n"
    );
}

#[tokio::test]
async fn metadata_answers_only_the_machine_at_the_source_address() {
    let h = start().await;
    for (source, ip, name) in [(A, "127.0.0.11", "node-a"), (B, "127.0.0.12", "node-b")] {
        let reply = get(&h, source, "/2009-04-04/meta-data/local-ipv4").await;
        assert_eq!((reply.status, reply.text()), (200, ip));
        let reply = get(&h, source, "/2009-04-04/meta-data/hostname").await;
        assert_eq!((reply.status, reply.text()), (200, name));
        let reply = get(&h, source, "/2009-04-04/user-data").await;
        assert_eq!(reply.text(), format!("#cloud-config\nhostname: {name}\n"));
        let reply = get(&h, source, "/nocloud/meta-data").await;
        assert!(reply.text().contains(name), "{}", reply.text());
        let reply = get(&h, source, "/nocloud/network-config").await;
        assert!(reply.text().contains(&format!("{ip}/8")), "{}", reply.text());
    }
    let listing = get(&h, A, "/2009-04-04/meta-data").await;
    assert_eq!(listing.status, 200);
    assert!(listing.text().contains("local-ipv4"));
    // A stranger gets nothing, whatever it asks for; a forwarded-for header does not help.
    for path in [
        "/2009-04-04",
        "/2009-04-04/",
        "/2009-04-04/meta-data",
        "/2009-04-04/meta-data/local-ipv4",
        "/2009-04-04/user-data",
        "/nocloud/meta-data",
        "/nocloud/user-data",
        "/nocloud/network-config",
    ] {
        let reply = get(&h, STRANGER, path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(!reply.text().contains("node-"), "{path}: {}", reply.text());
        let forwarded = request(&h, STRANGER, "GET", path, &[("X-Forwarded-For", "127.0.0.11")]).await;
        assert_eq!(forwarded.status, 404, "{path} with X-Forwarded-For");
    }
    assert_eq!(get(&h, A, "/2009-04-04/meta-data/nope").await.status, 404);
    assert_eq!(get(&h, A, "/nocloud/vendor-data").await.status, 404);
}

#[tokio::test]
async fn artifact_is_streamed_whole_and_by_range() {
    let h = start().await;
    let want = pattern(SIZE);

    let full = get(&h, A, "/artifacts/os.img").await;
    assert_eq!(full.status, 200);
    assert_eq!(full.header("content-length"), Some(SIZE.to_string().as_str()));
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert!(full.body == want, "full body differs");

    let cases = [
        ("bytes=1000000-1999999", 1_000_000, 1_999_999),
        ("bytes=3000000-", 3_000_000, SIZE - 1),
        ("bytes=-10", SIZE - 10, SIZE - 1),
        ("bytes=5-5", 5, 5),
        ("bytes=100-99999999", 100, SIZE - 1),
    ];
    for (range, start, end) in cases {
        let part = request(&h, A, "GET", "/artifacts/os.img", &[("Range", range)]).await;
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes {start}-{end}/{SIZE}").as_str()),
            "{range}"
        );
        assert_eq!(
            part.header("content-length"),
            Some((end - start + 1).to_string().as_str())
        );
        assert!(part.body == want[start..=end], "{range}: body differs");
    }

    let nested = get(&h, A, "/artifacts/hook/vmlinuz").await;
    assert_eq!((nested.status, nested.text()), (200, "kernel"));
}

#[tokio::test]
async fn head_reports_length_without_body() {
    let h = start().await;
    let head = request(&h, A, "HEAD", "/artifacts/os.img", &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(SIZE.to_string().as_str()));
    assert_eq!(head.header("accept-ranges"), Some("bytes"));
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn unsatisfiable_range_gets_416() {
    let h = start().await;
    for range in [
        format!("bytes={SIZE}-"),
        "bytes=9-3".into(),
        "bytes=x-y".into(),
        "bytes=-0".into(),
    ] {
        let reply = request(&h, A, "GET", "/artifacts/os.img", &[("Range", &range)]).await;
        assert_eq!(reply.status, 416, "{range}");
        assert_eq!(
            reply.header("content-range"),
            Some(format!("bytes */{SIZE}").as_str())
        );
        assert!(reply.body.is_empty());
    }
    let empty = request(&h, A, "GET", "/artifacts/empty", &[("Range", "bytes=0-")]).await;
    assert_eq!(empty.status, 416);
    let whole_empty = get(&h, A, "/artifacts/empty").await;
    assert_eq!((whole_empty.status, whole_empty.body.len()), (200, 0));
}

#[tokio::test]
async fn traversal_and_symlink_escape_are_refused() {
    let h = start().await;
    for path in [
        "/artifacts/../anywhere-boot-secret",
        "/artifacts/%2e%2e/anywhere-boot-secret",
        "/artifacts/hook/../../anywhere-boot-secret",
        "/artifacts/..%2fanywhere-boot-secret",
        "/artifacts//etc/passwd",
        "/artifacts/link",
        "/artifacts/hook",
        "/artifacts/missing",
    ] {
        let reply = get(&h, A, path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(!reply.text().contains("secret"), "{path}");
    }
}

/// The next event; bounded so a missing event fails the test instead of hanging it.
async fn next_event(h: &mut Harness) -> Event {
    tokio::time::timeout(std::time::Duration::from_secs(10), h.events.recv())
        .await
        .expect("an event within 10 s")
        .expect("events channel open")
}

#[tokio::test]
async fn every_request_produces_an_event() {
    let mut h = start().await;
    get(&h, A, "/auto.ipxe").await;
    let event = next_event(&mut h).await;
    assert_eq!(event.mac, Some(MAC_A.parse().unwrap()));
    assert_eq!(event.path, "/auto.ipxe");
    assert_eq!(event.status, 200);
    assert_eq!((event.bytes, event.complete), (SCRIPT_A.len() as u64, true));
    assert_eq!(event.client, A);

    get(&h, A, "/artifacts/os.img").await;
    let event = next_event(&mut h).await;
    assert_eq!(
        (event.status.as_u16(), event.bytes, event.complete),
        (200, SIZE as u64, true)
    );
    assert_eq!(event.mac, Some(MAC_A.parse().unwrap()));

    request(&h, A, "GET", "/artifacts/os.img", &[("Range", "bytes=0-99")]).await;
    let event = next_event(&mut h).await;
    assert_eq!(
        (event.status.as_u16(), event.bytes, event.complete),
        (206, 100, true)
    );

    request(&h, A, "HEAD", "/artifacts/os.img", &[]).await;
    let event = next_event(&mut h).await;
    assert_eq!(
        (event.method.as_str(), event.bytes, event.complete),
        ("HEAD", 0, true)
    );

    get(&h, STRANGER, &format!("/ipxe/{MAC_B}")).await;
    let event = next_event(&mut h).await;
    assert_eq!(event.mac, Some(MAC_B.parse().unwrap()));
    assert_eq!(event.client, STRANGER);

    get(&h, STRANGER, "/2009-04-04/meta-data").await;
    let event = next_event(&mut h).await;
    assert_eq!((event.mac, event.status.as_u16()), (None, 404));
    assert_eq!(event.path, "/2009-04-04/meta-data");

    // Unrouted paths (cloud-init's IMDSv2 token probe) are recorded too.
    let reply = request(&h, A, "PUT", "/latest/api/token", &[("Content-Length", "0")]).await;
    assert_eq!(reply.status, 404);
    let event = next_event(&mut h).await;
    assert_eq!(
        (event.path.as_str(), event.status.as_u16()),
        ("/latest/api/token", 404)
    );
    assert_eq!(event.mac, Some(MAC_A.parse().unwrap()));
}

#[tokio::test]
async fn abandoned_download_is_reported_incomplete() {
    let mut h = start().await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((A, 0))).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(h.addr).await.unwrap();
    stream
        .write_all(b"GET /artifacts/big.img HTTP/1.1\r\nHost: boot\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 1024];
    let n = stream.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    drop(stream);
    let event = next_event(&mut h).await;
    assert_eq!(event.status, 200);
    assert!(!event.complete);
    assert!(event.bytes < BIG, "{}", event.bytes);
}

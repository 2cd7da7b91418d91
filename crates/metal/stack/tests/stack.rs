//! The whole stack on loopback with ephemeral ports (no root): a DHCP DISCOVER crafted with
//! dhcproto for an inventoried MAC, a TFTP read request, then `/auto.ipxe` fetched from the machine's own address
//! (Linux routes all of 127.0.0.0/8 to `lo`), then the machine's timeline read back from the
//! store. No sleeps: every wait is bounded by a timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anywhere_dhcp::dhcproto::Encodable;
use anywhere_dhcp::dhcproto::v4::{DhcpOption, Message, MessageType};
use anywhere_metal::stack::Recorded;
use anywhere_metal::{Mac, ServeConfig, TimelineStore, bind, format_timeline};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

const MAC: Mac = Mac::new([0x52, 0x54, 0x00, 0x00, 0x00, 0x01]);
const MACHINE_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
const WAIT: Duration = Duration::from_secs(10);

fn write_config(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::write(
        dir.join("hardware.csv"),
        "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels\n\
         node-1,127.0.0.11,255.0.0.0,127.0.0.1,127.0.0.53,52:54:00:00:00:01,/dev/sda,type=cp\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    std::fs::write(dir.join("artifacts/vmlinuz"), b"kernel").unwrap();
    let path = dir.join("serve.yaml");
    std::fs::write(
        &path,
        "serverIp: 127.0.0.1\n\
         listen:\n  dhcp: 127.0.0.1:0\n  tftp: 127.0.0.1:0\n  http: 127.0.0.1:0\n\
         hardwareCsv: hardware.csv\n\
         artifacts: artifacts\n\
         netboot:\n  kernel: vmlinuz\n  initrds: [initrd.img]\n  cmdline: console=ttyS0\n\
         leaseStore: leases.redb\n\
         timelineStore: timeline.redb\n",
    )
    .unwrap();
    path
}

fn discover(mac: Mac) -> Vec<u8> {
    let mut m = Message::new_with_id(
        0xabcd,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &mac.octets(),
    );
    m.opts_mut()
        .insert(DhcpOption::MessageType(MessageType::Discover));
    m.opts_mut().insert(DhcpOption::ClassIdentifier(
        b"PXEClient:Arch:00000:UNDI:002001".to_vec(),
    ));
    m.to_vec().unwrap()
}

/// `GET path` from `source`, `Connection: close`; the status line and body.
async fn get(server: SocketAddr, source: Ipv4Addr, path: &str) -> (String, String) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: boot\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

async fn next(observed: &mut mpsc::UnboundedReceiver<Recorded>) -> Recorded {
    timeout(WAIT, observed.recv())
        .await
        .expect("a timeline entry within the timeout")
        .expect("observer open")
}

#[tokio::test]
async fn dhcp_and_http_boot_events_land_in_the_machines_timeline_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig::load(&write_config(dir.path())).unwrap();
    let bound = bind(&config).await.unwrap();
    let addrs = bound.addresses();
    assert_ne!(addrs.dhcp.port(), 0);
    assert_ne!(addrs.http.port(), 0);
    let (observer, mut observed) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let stack = tokio::spawn(bound.serve(
        async {
            let _ = stopped.await;
        },
        Some(observer),
    ));

    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(&discover(MAC), addrs.dhcp).await.unwrap();
    let (mac, received) = next(&mut observed).await;
    assert_eq!((mac, received.kind.as_str()), (MAC, "dhcp discover (PXE Bios)"));
    let (mac, offer) = next(&mut observed).await;
    assert_eq!((mac, offer.kind.as_str()), (MAC, "dhcp offer 127.0.0.11"));

    // A TFTP read request from the machine's address for a file nobody serves: refused.
    let tftp = UdpSocket::bind((MACHINE_IP, 0)).await.unwrap();
    tftp.send_to(b"\x00\x01nothing.kpxe\x00octet\x00", addrs.tftp)
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let (len, _) = timeout(WAIT, tftp.recv_from(&mut buf))
        .await
        .expect("a tftp answer within the timeout")
        .unwrap();
    assert_eq!(&buf[..2], b"\x00\x05", "an ERROR packet: {:?}", &buf[..len]);
    assert_eq!(next(&mut observed).await.1.kind, "tftp start nothing.kpxe");
    assert_eq!(next(&mut observed).await.1.kind, "tftp refused nothing.kpxe");

    let (status, script) = get(addrs.http, MACHINE_IP, "/auto.ipxe").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let authority = format!("127.0.0.1:{}", addrs.http.port());
    assert!(
        script.contains(&format!("kernel http://{authority}/artifacts/vmlinuz")),
        "{script}"
    );
    let (mac, entry) = next(&mut observed).await;
    assert_eq!((mac, entry.kind.as_str()), (MAC, "http script"));

    let (status, _) = get(addrs.http, MACHINE_IP, "/artifacts/vmlinuz").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(next(&mut observed).await.1.kind, "http kernel");

    stop.send(()).unwrap();
    timeout(WAIT, stack)
        .await
        .expect("the stack stops")
        .unwrap()
        .unwrap();

    // The stack closed the store on its way out, so it can be opened again.
    let store = TimelineStore::open_existing(&config.timeline_store).unwrap();
    let timeline = store.timeline(MAC).unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "dhcp discover (PXE Bios)",
            "dhcp offer 127.0.0.11",
            "tftp start nothing.kpxe",
            "tftp refused nothing.kpxe",
            "http script",
            "http kernel"
        ]
    );
    assert!(timeline.windows(2).all(|w| w[0].at <= w[1].at));
    let printed = format_timeline(&timeline);
    assert!(
        printed.starts_with("+0.000s dhcp discover (PXE Bios)\n+0.000s dhcp offer 127.0.0.11\n"),
        "{printed}"
    );
    assert_eq!(printed.lines().count(), 6);
}

#[tokio::test]
async fn shutdown_stops_every_service_and_frees_the_ports() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig::load(&write_config(dir.path())).unwrap();
    let bound = bind(&config).await.unwrap();
    let addrs = bound.addresses();
    timeout(WAIT, bound.serve(async {}, None))
        .await
        .expect("the stack stops")
        .unwrap();
    // Every socket was closed: the same addresses can be bound again.
    UdpSocket::bind(addrs.dhcp).await.unwrap();
    UdpSocket::bind(addrs.tftp).await.unwrap();
    tokio::net::TcpListener::bind(addrs.http).await.unwrap();
}

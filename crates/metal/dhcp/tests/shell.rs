//! The tokio shell on loopback: a real UDP socket on an ephemeral port, a test client crafting
//! packets with dhcproto. Replies that would be broadcast go to 127.0.0.1 and the client's port
//! (`Options`), so no real network and no privileged port are needed. No sleeps: every wait is
//! bounded by a timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use anywhere_dhcp::dhcproto::v4::{DhcpOption, Message, MessageType, OptionCode};
use anywhere_dhcp::dhcproto::{Decodable, Encodable};
use anywhere_dhcp::server::{Options, Record, bind, serve};
use anywhere_dhcp::{Config, Event, Mac, MemoryLeaseStore, Netboot, Reservation, Server};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

const KNOWN: Mac = Mac::new([0x52, 0x54, 0x00, 0x00, 0x00, 0x01]);
const KNOWN_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);
const WAIT: Duration = Duration::from_secs(10);

struct Running {
    server_addr: SocketAddr,
    client: UdpSocket,
    events: UnboundedReceiver<Record>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anywhere_dhcp::Result<Server<MemoryLeaseStore>>>,
}

async fn start() -> Running {
    let reservation = Reservation {
        mac: KNOWN,
        ip: KNOWN_IP,
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
        nameservers: vec![Ipv4Addr::new(1, 1, 1, 1)],
        hostname: Some("m1".into()),
        netboot: Netboot::Allowed,
    };
    let config = Config::new(Ipv4Addr::new(10, 0, 0, 2), vec![reservation]).unwrap();
    let server = Server::new(config, MemoryLeaseStore::new()).unwrap();
    let socket = bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0), None).unwrap();
    let server_addr = socket.local_addr().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client_port = client.local_addr().unwrap().port();
    let (tx, events) = unbounded_channel();
    let options = Options {
        client_port,
        relay_port: client_port,
        broadcast: Ipv4Addr::LOCALHOST,
        events: Some(tx),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(server, &socket, &options, async {
            let _ = stopped.await;
        })
        .await
    });
    Running {
        server_addr,
        client,
        events,
        stop,
        task,
    }
}

fn discover(mac: Mac) -> Message {
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
    m
}

impl Running {
    async fn send(&self, m: &Message) {
        self.client
            .send_to(&m.to_vec().unwrap(), self.server_addr)
            .await
            .unwrap();
    }

    async fn recv(&self) -> Message {
        let mut buf = vec![0u8; 2048];
        let (len, from) = timeout(WAIT, self.client.recv_from(&mut buf))
            .await
            .expect("a reply within the timeout")
            .unwrap();
        assert_eq!(from, self.server_addr);
        Message::from_bytes(&buf[..len]).unwrap()
    }

    async fn next_event(&mut self) -> Event {
        timeout(WAIT, self.events.recv())
            .await
            .expect("an event within the timeout")
            .expect("event channel open")
            .event
    }

    async fn stop(self) -> Server<MemoryLeaseStore> {
        self.stop.send(()).unwrap();
        timeout(WAIT, self.task).await.unwrap().unwrap().unwrap()
    }
}

fn message_type(m: &Message) -> Option<MessageType> {
    match m.opts().get(OptionCode::MessageType) {
        Some(DhcpOption::MessageType(k)) => Some(*k),
        _ => None,
    }
}

#[tokio::test]
async fn discover_over_udp_gets_offer_and_event_is_recorded() {
    let mut run = start().await;
    run.send(&discover(KNOWN)).await;
    let offer = run.recv().await;
    assert_eq!(message_type(&offer), Some(MessageType::Offer));
    assert_eq!(offer.xid(), 0xabcd);
    assert_eq!(offer.yiaddr(), KNOWN_IP);
    assert!(matches!(
        run.next_event().await,
        Event::Offered {
            mac: KNOWN,
            ip: KNOWN_IP,
            ..
        }
    ));
    run.stop().await;
}

#[tokio::test]
async fn malformed_datagram_does_not_stop_the_server() {
    let mut run = start().await;
    run.client
        .send_to(b"\x01\x01\x11garbage", run.server_addr)
        .await
        .unwrap();
    run.send(&discover(KNOWN)).await;
    assert_eq!(message_type(&run.recv().await), Some(MessageType::Offer));
    assert!(matches!(run.next_event().await, Event::Malformed { .. }));
    run.stop().await;
}

#[tokio::test]
async fn unknown_mac_gets_no_reply_while_known_mac_does() {
    let mut run = start().await;
    let stranger = Mac::new([0x52, 0x54, 0x00, 0xff, 0xff, 0xff]);
    run.send(&discover(stranger)).await;
    run.send(&discover(KNOWN)).await;
    // The first datagram to arrive answers the second request: the first got none.
    let offer = run.recv().await;
    assert_eq!(offer.chaddr(), KNOWN.octets());
    assert_eq!(
        run.next_event().await,
        Event::UnknownClientIgnored { mac: stranger }
    );
    run.stop().await;
}

#[tokio::test]
async fn relayed_request_is_answered_to_the_relay_port_and_lease_is_bound() {
    let run = start().await;
    let mut m = discover(KNOWN);
    m.opts_mut().insert(DhcpOption::MessageType(MessageType::Request));
    m.opts_mut().insert(DhcpOption::RequestedIpAddress(KNOWN_IP));
    m.set_giaddr(Ipv4Addr::LOCALHOST);
    run.send(&m).await;
    let ack = run.recv().await;
    assert_eq!(message_type(&ack), Some(MessageType::Ack));
    assert_eq!(ack.giaddr(), Ipv4Addr::LOCALHOST);
    let server = run.stop().await;
    assert_eq!(server.leases().len(), 1);
    assert_eq!(server.leases()[0].ip, KNOWN_IP);
}

#[tokio::test]
async fn bound_socket_has_broadcast_and_reuseaddr() {
    let socket = bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0), None).unwrap();
    let sock = socket2::SockRef::from(&socket);
    assert!(sock.broadcast().unwrap());
    assert!(sock.reuse_address().unwrap());
}

#[tokio::test]
async fn socket_can_be_bound_to_a_device_when_permitted() {
    match bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0), Some("lo")) {
        Ok(socket) => {
            let sock = socket2::SockRef::from(&socket);
            assert_eq!(sock.device().unwrap().as_deref(), Some(&b"lo"[..]));
        }
        // Without CAP_NET_RAW the kernel refuses; that is the caller's deployment problem.
        Err(anywhere_dhcp::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied => {}
        Err(e) => panic!("{e}"),
    }
}

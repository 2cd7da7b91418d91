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

    /// The next event other than [`Event::Received`].
    async fn next_event(&mut self) -> Event {
        loop {
            let event = timeout(WAIT, self.events.recv())
                .await
                .expect("an event within the timeout")
                .expect("event channel open")
                .event;
            if !matches!(event, Event::Received { .. }) {
                return event;
            }
        }
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

/// A store that defers writes like redb's group commit and shares what is "durable" with the
/// test, which checks it the moment a reply arrives. `fail_flushes` makes the next flushes fail.
#[derive(Clone, Default)]
struct WatchedStore {
    pending: Vec<anywhere_dhcp::Lease>,
    durable: std::sync::Arc<std::sync::Mutex<Vec<anywhere_dhcp::Lease>>>,
    fail_flushes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl anywhere_dhcp::LeaseStore for WatchedStore {
    fn load(&self) -> anywhere_dhcp::Result<Vec<anywhere_dhcp::Lease>> {
        Ok(Vec::new())
    }
    fn put(&mut self, lease: &anywhere_dhcp::Lease) -> anywhere_dhcp::Result<()> {
        self.pending.push(lease.clone());
        Ok(())
    }
    fn remove(&mut self, _mac: Mac) -> anywhere_dhcp::Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> anywhere_dhcp::Result<()> {
        use std::sync::atomic::Ordering;
        if self
            .fail_flushes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(anywhere_dhcp::Error::Io {
                operation: "flush (injected)",
                source: std::io::Error::other("disk full"),
            });
        }
        self.durable.lock().unwrap().append(&mut self.pending);
        Ok(())
    }
}

#[tokio::test]
async fn every_ack_is_durable_before_it_is_sent_and_a_failed_flush_sends_nothing() {
    use anywhere_dhcp::{Pool, UnknownClients};
    let mut config = Config::new(Ipv4Addr::new(10, 0, 0, 2), vec![]).unwrap();
    config.unknown_clients = UnknownClients::Serve;
    config.pool = Some(Pool {
        start: Ipv4Addr::new(10, 0, 1, 1),
        end: Ipv4Addr::new(10, 0, 1, 250),
        netmask: Ipv4Addr::new(255, 255, 0, 0),
        gateway: None,
        nameservers: vec![],
    });
    let store = WatchedStore::default();
    let durable = store.durable.clone();
    let fail_flushes = store.fail_flushes.clone();
    let server = Server::new(config, store).unwrap();
    let socket = bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0), None).unwrap();
    let server_addr = socket.local_addr().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client_port = client.local_addr().unwrap().port();
    let (tx, mut events) = unbounded_channel();
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
    let request = |i: u8| {
        let mut m = discover(Mac::new([2, 0, 0, 0, 1, i]));
        m.opts_mut().insert(DhcpOption::MessageType(MessageType::Request));
        m.opts_mut()
            .insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(10, 0, 1, i)));
        m.to_vec().unwrap()
    };
    // A burst of 40 REQUESTs sent back to back: every ACK's lease is durable when it arrives.
    for i in 1..=40 {
        client.send_to(&request(i), server_addr).await.unwrap();
    }
    let mut buf = vec![0u8; 2048];
    for _ in 1..=40 {
        let (len, _) = timeout(WAIT, client.recv_from(&mut buf)).await.unwrap().unwrap();
        let ack = Message::from_bytes(&buf[..len]).unwrap();
        assert_eq!(message_type(&ack), Some(MessageType::Ack));
        let durable = durable.lock().unwrap();
        assert!(
            durable.iter().any(|l| l.ip == ack.yiaddr()),
            "ACK for {} arrived before its lease was durable",
            ack.yiaddr()
        );
    }
    // The next flush fails: no reply at all, and the ACK becomes a StoreFailed event.
    fail_flushes.store(1, std::sync::atomic::Ordering::SeqCst);
    client.send_to(&request(41), server_addr).await.unwrap();
    loop {
        let record = timeout(WAIT, events.recv()).await.unwrap().unwrap();
        if let Event::StoreFailed { error, .. } = record.event {
            assert!(error.contains("disk full"), "{error}");
            break;
        }
    }
    assert!(
        timeout(Duration::from_millis(300), client.recv_from(&mut buf))
            .await
            .is_err(),
        "a reply was sent although its lease could not be made durable"
    );
    // The client retries; the flush works again and the lease (kept pending) lands with it.
    client.send_to(&request(41), server_addr).await.unwrap();
    let (len, _) = timeout(WAIT, client.recv_from(&mut buf)).await.unwrap().unwrap();
    let ack = Message::from_bytes(&buf[..len]).unwrap();
    assert_eq!(message_type(&ack), Some(MessageType::Ack));
    assert_eq!(
        durable
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.ip == Ipv4Addr::new(10, 0, 1, 41))
            .count(),
        2,
        "the failed write stays pending and is written with the retry"
    );
    stop.send(()).unwrap();
    timeout(WAIT, task).await.unwrap().unwrap().unwrap();
}

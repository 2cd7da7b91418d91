//! Behaviour of the protocol core, one test per rule. Replies are decoded and checked as
//! structures; one OFFER is pinned byte for byte as hex.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use dhcproto::v4::{Architecture, DhcpOption, Flags, HType, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Encodable};

use super::*;
use crate::config::{Config, Mac, Mode, Netboot, Pool, Reservation, UnknownClients};
use crate::lease::{LeaseState, MemoryLeaseStore};
use crate::{BootFile, RedbLeaseStore};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const KNOWN_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);
const KNOWN: Mac = Mac::new([0x52, 0x54, 0x00, 0x00, 0x00, 0x01]);
const OTHER_KNOWN: Mac = Mac::new([0x52, 0x54, 0x00, 0x00, 0x00, 0x02]);
const STRANGER: Mac = Mac::new([0x52, 0x54, 0x00, 0xff, 0xff, 0x01]);
const STRANGER_2: Mac = Mac::new([0x52, 0x54, 0x00, 0xff, 0xff, 0x02]);

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn reservation(mac: Mac, ip: Ipv4Addr, hostname: &str) -> Reservation {
    Reservation {
        mac,
        ip,
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
        nameservers: vec![Ipv4Addr::new(1, 1, 1, 1)],
        hostname: Some(hostname.into()),
        netboot: Netboot::Allowed,
    }
}

fn config() -> Config {
    Config::new(
        SERVER,
        vec![
            reservation(KNOWN, KNOWN_IP, "m1"),
            reservation(OTHER_KNOWN, Ipv4Addr::new(10, 0, 0, 11), "m2"),
        ],
    )
    .unwrap()
}

fn pool_config(end_host: u8) -> Config {
    let mut c = config();
    c.unknown_clients = UnknownClients::Serve;
    c.pool = Some(Pool {
        start: Ipv4Addr::new(10, 0, 0, 100),
        end: Ipv4Addr::new(10, 0, 0, end_host),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
        nameservers: vec![],
    });
    c
}

fn server(config: Config) -> Server<MemoryLeaseStore> {
    Server::new(config, MemoryLeaseStore::new()).unwrap()
}

/// A client message builder.
fn msg(mac: Mac, kind: MessageType) -> Message {
    let mut m = Message::new_with_id(
        0x1234_5678,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &mac.octets(),
    );
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    m
}

fn pxe(mut m: Message, arch: u16) -> Message {
    m.opts_mut().insert(DhcpOption::ClassIdentifier(
        format!("PXEClient:Arch:{arch:05}:UNDI:002001").into_bytes(),
    ));
    m.opts_mut()
        .insert(DhcpOption::ClientSystemArchitecture(Architecture(arch)));
    m
}

fn ipxe(m: Message) -> Message {
    let mut m = pxe(m, 0);
    m.opts_mut().insert(DhcpOption::UserClass(b"iPXE".to_vec()));
    m
}

fn with(mut m: Message, opt: DhcpOption) -> Message {
    m.opts_mut().insert(opt);
    m
}

fn request(mac: Mac, ip: Ipv4Addr) -> Message {
    let m = with(msg(mac, MessageType::Request), DhcpOption::RequestedIpAddress(ip));
    with(m, DhcpOption::ServerIdentifier(SERVER))
}

fn client_addr() -> SocketAddr {
    "0.0.0.0:68".parse().unwrap()
}

struct Handled {
    replies: Vec<(Destination, Message)>,
    /// Every event but [`Event::Received`] (checked on its own in `every_served_packet_is_recorded_as_received`).
    events: Vec<Event>,
    received: Vec<Event>,
}

impl Handled {
    fn only_reply(&self) -> (Destination, &Message) {
        assert_eq!(self.replies.len(), 1, "events: {:?}", self.events);
        (self.replies[0].0, &self.replies[0].1)
    }
}

fn send_bytes<S: LeaseStore>(server: &mut Server<S>, now: SystemTime, packet: &[u8]) -> Handled {
    let mut replies = Vec::new();
    let mut events = Vec::new();
    let mut received = Vec::new();
    let input = Input {
        packet,
        source: client_addr(),
        interface: Some(2),
    };
    for o in server.handle(now, input) {
        match o {
            Output::Reply(r) => replies.push((r.destination, Message::from_bytes(&r.packet).unwrap())),
            Output::Event(e @ Event::Received { .. }) => received.push(e),
            Output::Event(e) => events.push(e),
        }
    }
    Handled {
        replies,
        events,
        received,
    }
}

fn send<S: LeaseStore>(server: &mut Server<S>, now: SystemTime, m: &Message) -> Handled {
    send_bytes(server, now, &m.to_vec().unwrap())
}

fn opt(m: &Message, code: OptionCode) -> Option<&DhcpOption> {
    m.opts().get(code)
}

fn kind(m: &Message) -> MessageType {
    match opt(m, OptionCode::MessageType) {
        Some(DhcpOption::MessageType(k)) => *k,
        other => panic!("no message type: {other:?}"),
    }
}

/// The `file` field without its NUL padding.
fn fname(m: &Message) -> Option<String> {
    let bytes = m.fname()?;
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    Some(String::from_utf8(bytes[..end].to_vec()).unwrap()).filter(|s| !s.is_empty())
}

fn bootfile(m: &Message) -> Option<String> {
    match opt(m, OptionCode::BootfileName) {
        Some(DhcpOption::BootfileName(b)) => Some(String::from_utf8(b.clone()).unwrap()),
        _ => None,
    }
}

#[test]
fn every_served_packet_is_recorded_as_received_and_strangers_are_not() {
    let mut s = server(config());
    let h = send(&mut s, t(0), &pxe(msg(KNOWN, MessageType::Discover), 0));
    assert_eq!(
        h.received,
        [Event::Received {
            mac: KNOWN,
            message: "discover",
            client: crate::ClientKind::Pxe(crate::Firmware::Bios),
        }]
    );
    let h = send(&mut s, t(1), &msg(KNOWN, MessageType::Request));
    assert!(matches!(
        h.received.as_slice(),
        [Event::Received {
            message: "request",
            client: crate::ClientKind::Plain,
            ..
        }]
    ));
    let h = send(&mut s, t(2), &msg(STRANGER, MessageType::Discover));
    assert!(h.received.is_empty(), "{:?}", h.received);
}

#[test]
fn known_bios_pxe_discover_gets_offer_of_reserved_ip_with_undionly_over_tftp() {
    let mut s = server(config());
    let h = send(&mut s, t(0), &pxe(msg(KNOWN, MessageType::Discover), 0));
    let (dest, offer) = h.only_reply();
    assert_eq!(dest, Destination::Broadcast);
    assert_eq!(offer.opcode(), Opcode::BootReply);
    assert_eq!(kind(offer), MessageType::Offer);
    assert_eq!(offer.xid(), 0x1234_5678);
    assert_eq!(offer.chaddr(), KNOWN.octets());
    assert_eq!(offer.yiaddr(), KNOWN_IP);
    assert_eq!(offer.siaddr(), SERVER);
    assert_eq!(fname(offer).as_deref(), Some("undionly.kpxe"));
    assert_eq!(bootfile(offer).as_deref(), Some("undionly.kpxe"));
    assert_eq!(
        opt(offer, OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(SERVER))
    );
    assert_eq!(
        opt(offer, OptionCode::SubnetMask),
        Some(&DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)))
    );
    assert_eq!(
        opt(offer, OptionCode::Router),
        Some(&DhcpOption::Router(vec![Ipv4Addr::new(10, 0, 0, 1)]))
    );
    assert_eq!(
        opt(offer, OptionCode::DomainNameServer),
        Some(&DhcpOption::DomainNameServer(vec![Ipv4Addr::new(1, 1, 1, 1)]))
    );
    assert_eq!(
        opt(offer, OptionCode::Hostname),
        Some(&DhcpOption::Hostname("m1".into()))
    );
    assert_eq!(
        opt(offer, OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(3600))
    );
    assert_eq!(opt(offer, OptionCode::Renewal), Some(&DhcpOption::Renewal(1800)));
    assert_eq!(
        opt(offer, OptionCode::Rebinding),
        Some(&DhcpOption::Rebinding(3150))
    );
    assert_eq!(
        opt(offer, OptionCode::ClassIdentifier),
        Some(&DhcpOption::ClassIdentifier(b"PXEClient".to_vec()))
    );
    // Discovery control 8: take the boot file of this offer (UEFI firmware otherwise treats a
    // PXEClient offer without option 43 as BINL and asks port 4011).
    assert_eq!(
        opt(offer, OptionCode::VendorExtensions),
        Some(&DhcpOption::VendorExtensions(vec![6, 1, 8, 255]))
    );
    assert_eq!(
        h.events,
        [Event::Offered {
            mac: KNOWN,
            ip: KNOWN_IP,
            boot_file: Some(BootFile::Tftp("undionly.kpxe".into()))
        }]
    );
}

/// The bytes of one OFFER, pinned: a change here is a wire change to review.
#[test]
fn offer_to_uefi_pxe_client_matches_golden_hex() {
    let mut s = server(config());
    let m = with(
        pxe(msg(KNOWN, MessageType::Discover), 7),
        DhcpOption::ClientMachineIdentifier(vec![0; 17]),
    );
    let input = m.to_vec().unwrap();
    let out = s.handle(
        t(0),
        Input {
            packet: &input,
            source: client_addr(),
            interface: None,
        },
    );
    let Some(Output::Reply(reply)) = out.into_iter().find(|o| matches!(o, Output::Reply(_))) else {
        panic!("no reply");
    };
    let hex: String = reply.packet.iter().map(|b| format!("{b:02x}")).collect();
    let golden = concat!(
        "020106001234567800000000000000000a00000a0a0000020000000052540000",
        "0001000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000000697078652e656669000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000000638253630104ffffff0003040a00000106040101",
        "01010c026d312b04060108ff330400000e1035010236040a0000023a04000007",
        "083b0400000c4e3c09505845436c69656e74420831302e302e302e3243086970",
        "78652e65666961110000000000000000000000000000000000ff",
    );
    assert_eq!(hex, golden);
}

#[test]
fn ipxe_client_gets_script_url_as_boot_file() {
    let mut s = server(config());
    let h = send(&mut s, t(0), &ipxe(msg(KNOWN, MessageType::Discover)));
    let (_, offer) = h.only_reply();
    assert_eq!(bootfile(offer).as_deref(), Some("http://10.0.0.2/auto.ipxe"));
    assert_eq!(fname(offer).as_deref(), Some("http://10.0.0.2/auto.ipxe"));
}

#[test]
fn uefi_arm64_client_gets_snp_efi() {
    let mut s = server(config());
    let h = send(&mut s, t(0), &pxe(msg(KNOWN, MessageType::Discover), 11));
    assert_eq!(bootfile(h.only_reply().1).as_deref(), Some("snp.efi"));
}

#[test]
fn os_client_gets_lease_without_boot_options() {
    let mut s = server(config());
    let h = send(&mut s, t(0), &msg(KNOWN, MessageType::Discover));
    let (_, offer) = h.only_reply();
    assert_eq!(offer.yiaddr(), KNOWN_IP);
    assert_eq!(bootfile(offer), None);
    assert_eq!(fname(offer), None);
    assert_eq!(offer.siaddr(), Ipv4Addr::UNSPECIFIED);
}

#[test]
fn netboot_refused_machine_gets_lease_but_no_boot_file() {
    let mut s = server(config());
    assert!(s.set_netboot(KNOWN, Netboot::Refused));
    let h = send(&mut s, t(0), &pxe(msg(KNOWN, MessageType::Discover), 7));
    let (_, offer) = h.only_reply();
    assert_eq!(offer.yiaddr(), KNOWN_IP);
    assert_eq!(bootfile(offer), None);
    assert!(h.events.contains(&Event::NetbootRefused { mac: KNOWN }));
    assert!(s.set_netboot(KNOWN, Netboot::Allowed));
    let h = send(&mut s, t(1), &pxe(msg(KNOWN, MessageType::Discover), 7));
    assert_eq!(bootfile(h.only_reply().1).as_deref(), Some("ipxe.efi"));
    assert!(!s.set_netboot(STRANGER, Netboot::Allowed));
}

#[test]
fn request_for_reserved_ip_is_acked_and_lease_is_persisted() {
    let mut s = server(config());
    let h = send(&mut s, t(0), &ipxe(request(KNOWN, KNOWN_IP)));
    let (dest, ack) = h.only_reply();
    assert_eq!(dest, Destination::Broadcast);
    assert_eq!(kind(ack), MessageType::Ack);
    assert_eq!(ack.yiaddr(), KNOWN_IP);
    assert_eq!(bootfile(ack).as_deref(), Some("http://10.0.0.2/auto.ipxe"));
    let expect = Lease {
        mac: KNOWN,
        ip: KNOWN_IP,
        expires: t(3600),
        state: LeaseState::Bound,
    };
    assert_eq!(s.leases(), std::slice::from_ref(&expect));
    assert_eq!(s.into_store().load().unwrap(), [expect]);
}

#[test]
fn duplicate_requests_in_a_burst_get_identical_acks() {
    let mut s = server(config());
    let first = send(&mut s, t(0), &request(KNOWN, KNOWN_IP));
    let second = send(&mut s, t(0), &request(KNOWN, KNOWN_IP));
    assert_eq!(first.replies, second.replies);
    assert_eq!(s.leases().len(), 1);
}

/// Counts writes, to check which ACKs are persisted.
#[derive(Default)]
struct CountingStore {
    inner: MemoryLeaseStore,
    puts: usize,
}

impl LeaseStore for CountingStore {
    fn load(&self) -> crate::Result<Vec<Lease>> {
        self.inner.load()
    }
    fn put(&mut self, lease: &Lease) -> crate::Result<()> {
        self.puts += 1;
        self.inner.put(lease)
    }
    fn remove(&mut self, mac: Mac) -> crate::Result<()> {
        self.inner.remove(mac)
    }
}

#[test]
fn reserved_lease_is_written_once_per_half_lease_not_per_duplicate_request() {
    let mut s = Server::new(config(), CountingStore::default()).unwrap();
    for secs in [0, 0, 1, 600, 1799] {
        let h = send(&mut s, t(secs), &request(KNOWN, KNOWN_IP));
        assert_eq!(kind(h.only_reply().1), MessageType::Ack);
    }
    assert_eq!(s.leases()[0].expires, t(1799 + 3600));
    // Past half of the held lease (held until 1799 + 3600), the next bind is written again.
    send(&mut s, t(1799 + 1801), &request(KNOWN, KNOWN_IP));
    assert_eq!(s.into_store().puts, 2);
}

#[test]
fn every_pool_lease_bind_is_written() {
    let mut s = Server::new(pool_config(110), CountingStore::default()).unwrap();
    let ip = Ipv4Addr::new(10, 0, 0, 100);
    send(&mut s, t(0), &msg(STRANGER, MessageType::Discover));
    send(&mut s, t(0), &request(STRANGER, ip));
    send(&mut s, t(1), &request(STRANGER, ip));
    assert_eq!(s.into_store().puts, 2);
}

#[test]
fn request_for_another_address_is_naked() {
    let mut s = server(config());
    let m = with(
        msg(KNOWN, MessageType::Request),
        DhcpOption::RequestedIpAddress(Ipv4Addr::new(192, 168, 1, 50)),
    );
    let h = send(&mut s, t(0), &m);
    let (dest, nak) = h.only_reply();
    assert_eq!(dest, Destination::Broadcast);
    assert_eq!(kind(nak), MessageType::Nak);
    assert_eq!(nak.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(s.leases().is_empty());
}

#[test]
fn request_selecting_another_server_gets_no_reply_and_frees_the_offer() {
    let mut s = server(pool_config(110));
    send(&mut s, t(0), &msg(STRANGER, MessageType::Discover));
    assert_eq!(s.leases().len(), 1);
    let m = with(
        with(
            msg(STRANGER, MessageType::Request),
            DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 0, 0, 3)),
        ),
        DhcpOption::RequestedIpAddress(Ipv4Addr::new(10, 0, 0, 200)),
    );
    let h = send(&mut s, t(1), &m);
    assert!(h.replies.is_empty());
    assert!(s.leases().is_empty());
}

#[test]
fn renewal_is_acked_by_unicast_to_ciaddr() {
    let mut s = server(config());
    let mut m = msg(KNOWN, MessageType::Request);
    m.set_ciaddr(KNOWN_IP);
    let h = send(&mut s, t(0), &m);
    let (dest, ack) = h.only_reply();
    assert_eq!(dest, Destination::Client(KNOWN_IP));
    assert_eq!(kind(ack), MessageType::Ack);
    assert_eq!(ack.ciaddr(), KNOWN_IP);
}

#[test]
fn relayed_discover_is_answered_to_the_relay_agent() {
    let mut s = server(config());
    let relay = Ipv4Addr::new(10, 1, 0, 1);
    let mut m = pxe(msg(KNOWN, MessageType::Discover), 0);
    m.set_giaddr(relay).set_hops(1);
    let h = send(&mut s, t(0), &m);
    let (dest, offer) = h.only_reply();
    assert_eq!(dest, Destination::Relay(relay));
    assert_eq!(offer.giaddr(), relay);
    assert_eq!(offer.yiaddr(), KNOWN_IP);
}

#[test]
fn relayed_nak_goes_to_relay_with_broadcast_flag() {
    let mut s = server(config());
    let relay = Ipv4Addr::new(10, 1, 0, 1);
    let mut m = request(KNOWN, Ipv4Addr::new(10, 1, 0, 77));
    m.set_giaddr(relay);
    let h = send(&mut s, t(0), &m);
    let (dest, nak) = h.only_reply();
    assert_eq!(dest, Destination::Relay(relay));
    assert_eq!(kind(nak), MessageType::Nak);
    assert!(nak.flags().broadcast());
}

#[test]
fn unknown_mac_is_ignored_and_logged_once() {
    let mut s = server(config());
    let first = send(&mut s, t(0), &pxe(msg(STRANGER, MessageType::Discover), 0));
    assert!(first.replies.is_empty());
    assert_eq!(first.events, [Event::UnknownClientIgnored { mac: STRANGER }]);
    let again = send(&mut s, t(1), &request(STRANGER, Ipv4Addr::new(10, 0, 0, 50)));
    assert!(again.replies.is_empty());
    assert!(again.events.is_empty());
    let other = send(&mut s, t(1), &msg(STRANGER_2, MessageType::Discover));
    assert_eq!(other.events, [Event::UnknownClientIgnored { mac: STRANGER_2 }]);
    assert!(s.leases().is_empty());
}

#[test]
fn unknown_mac_is_served_from_pool_without_netboot_when_configured() {
    let mut s = server(pool_config(110));
    let h = send(&mut s, t(0), &pxe(msg(STRANGER, MessageType::Discover), 0));
    let (_, offer) = h.only_reply();
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(10, 0, 0, 100));
    assert_eq!(bootfile(offer), None);
    assert!(h.events.contains(&Event::NetbootRefused { mac: STRANGER }));
    let h = send(&mut s, t(1), &request(STRANGER, Ipv4Addr::new(10, 0, 0, 100)));
    assert_eq!(kind(h.only_reply().1), MessageType::Ack);
    assert_eq!(s.leases()[0].state, LeaseState::Bound);
}

#[test]
fn pool_exhaustion_is_an_event_not_a_reply() {
    let mut s = server(pool_config(100));
    send(&mut s, t(0), &msg(STRANGER, MessageType::Discover));
    let h = send(&mut s, t(1), &msg(STRANGER_2, MessageType::Discover));
    assert!(h.replies.is_empty());
    assert_eq!(h.events, [Event::PoolExhausted { mac: STRANGER_2 }]);
}

#[test]
fn unacknowledged_offer_is_released_after_offer_hold() {
    let mut s = server(pool_config(100));
    send(&mut s, t(0), &msg(STRANGER, MessageType::Discover));
    let h = send(&mut s, t(61), &msg(STRANGER_2, MessageType::Discover));
    assert_eq!(h.only_reply().1.yiaddr(), Ipv4Addr::new(10, 0, 0, 100));
}

#[test]
fn released_pool_address_can_go_to_another_client() {
    let mut s = server(pool_config(100));
    let ip = Ipv4Addr::new(10, 0, 0, 100);
    send(&mut s, t(0), &msg(STRANGER, MessageType::Discover));
    send(&mut s, t(0), &request(STRANGER, ip));
    let mut release = with(
        msg(STRANGER, MessageType::Release),
        DhcpOption::ServerIdentifier(SERVER),
    );
    release.set_ciaddr(ip);
    let h = send(&mut s, t(5), &release);
    assert!(h.replies.is_empty());
    assert_eq!(h.events, [Event::Released { mac: STRANGER, ip }]);
    let h = send(&mut s, t(6), &msg(STRANGER_2, MessageType::Discover));
    assert_eq!(h.only_reply().1.yiaddr(), ip);
}

#[test]
fn declined_pool_address_is_not_offered_again() {
    let mut s = server(pool_config(101));
    let first = Ipv4Addr::new(10, 0, 0, 100);
    send(&mut s, t(0), &msg(STRANGER, MessageType::Discover));
    send(&mut s, t(0), &request(STRANGER, first));
    let decline = with(
        msg(STRANGER, MessageType::Decline),
        DhcpOption::RequestedIpAddress(first),
    );
    let h = send(&mut s, t(1), &decline);
    assert_eq!(
        h.events,
        [Event::Declined {
            mac: STRANGER,
            ip: first
        }]
    );
    let h = send(&mut s, t(2), &msg(STRANGER, MessageType::Discover));
    assert_eq!(h.only_reply().1.yiaddr(), Ipv4Addr::new(10, 0, 0, 101));
}

#[test]
fn inform_gets_ack_with_options_but_no_lease_time() {
    let mut s = server(config());
    let mut m = ipxe(msg(KNOWN, MessageType::Inform));
    m.set_ciaddr(KNOWN_IP);
    let h = send(&mut s, t(0), &m);
    let (dest, ack) = h.only_reply();
    assert_eq!(dest, Destination::Client(KNOWN_IP));
    assert_eq!(kind(ack), MessageType::Ack);
    assert_eq!(ack.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(opt(ack, OptionCode::AddressLeaseTime), None);
    assert_eq!(bootfile(ack).as_deref(), Some("http://10.0.0.2/auto.ipxe"));
    assert!(s.leases().is_empty());
}

fn proxy() -> Server<MemoryLeaseStore> {
    let mut c = config();
    c.mode = Mode::Proxy;
    server(c)
}

#[test]
fn proxy_offer_carries_boot_options_only() {
    let mut s = proxy();
    let h = send(&mut s, t(0), &pxe(msg(KNOWN, MessageType::Discover), 7));
    let (dest, offer) = h.only_reply();
    assert_eq!(dest, Destination::Broadcast);
    assert_eq!(kind(offer), MessageType::Offer);
    assert_eq!(offer.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(offer.siaddr(), SERVER);
    assert_eq!(bootfile(offer).as_deref(), Some("ipxe.efi"));
    assert_eq!(
        opt(offer, OptionCode::ClassIdentifier),
        Some(&DhcpOption::ClassIdentifier(b"PXEClient".to_vec()))
    );
    assert_eq!(
        opt(offer, OptionCode::VendorExtensions),
        Some(&DhcpOption::VendorExtensions(vec![6, 1, 8, 255]))
    );
    for absent in [
        OptionCode::SubnetMask,
        OptionCode::Router,
        OptionCode::AddressLeaseTime,
        OptionCode::DomainNameServer,
    ] {
        assert_eq!(opt(offer, absent), None, "{absent:?}");
    }
    assert!(s.leases().is_empty());
}

#[test]
fn proxy_answers_ipxe_request_with_script_url() {
    let mut s = proxy();
    let h = send(&mut s, t(0), &ipxe(msg(KNOWN, MessageType::Request)));
    let (_, ack) = h.only_reply();
    assert_eq!(kind(ack), MessageType::Ack);
    assert_eq!(bootfile(ack).as_deref(), Some("http://10.0.0.2/auto.ipxe"));
    assert_eq!(opt(ack, OptionCode::VendorExtensions), None);
}

#[test]
fn proxy_ignores_requests_to_the_real_dhcp_server() {
    let mut s = proxy();
    let m = with(
        pxe(msg(KNOWN, MessageType::Request), 0),
        DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 0, 0, 254)),
    );
    assert!(send(&mut s, t(0), &m).replies.is_empty());
}

#[test]
fn proxy_ignores_non_pxe_clients() {
    let mut s = proxy();
    let h = send(&mut s, t(0), &msg(KNOWN, MessageType::Discover));
    assert!(h.replies.is_empty());
}

#[test]
fn proxy_sends_nothing_to_machine_with_netboot_refused() {
    let mut s = proxy();
    s.set_netboot(KNOWN, Netboot::Refused);
    let h = send(&mut s, t(0), &pxe(msg(KNOWN, MessageType::Discover), 0));
    assert!(h.replies.is_empty());
    assert_eq!(h.events, [Event::NetbootRefused { mac: KNOWN }]);
}

#[test]
fn proxy_ignores_unknown_mac_even_when_unknown_clients_are_served() {
    let mut c = pool_config(110);
    c.mode = Mode::Proxy;
    let mut s = server(c);
    let h = send(&mut s, t(0), &pxe(msg(STRANGER, MessageType::Discover), 0));
    assert!(h.replies.is_empty());
}

fn assert_malformed(h: &Handled) {
    assert!(h.replies.is_empty());
    assert!(
        matches!(h.events.as_slice(), [Event::Malformed { .. }]),
        "{:?}",
        h.events
    );
}

#[test]
fn malformed_packets_yield_an_event_and_change_nothing() {
    let mut s = server(pool_config(110));
    send(&mut s, t(0), &request(KNOWN, KNOWN_IP));
    let before = s.leases();
    let valid = msg(STRANGER, MessageType::Discover).to_vec().unwrap();
    // Truncated at every length of the fixed header.
    for len in [0, 1, 10, 100, 235, 239] {
        assert_malformed(&send_bytes(&mut s, t(1), &valid[..len]));
    }
    // A BOOTREPLY (another server's offer seen on the wire).
    let mut reply = msg(STRANGER, MessageType::Offer);
    reply.set_opcode(Opcode::BootReply);
    assert_malformed(&send(&mut s, t(1), &reply));
    // hlen beyond chaddr: dhcproto's `chaddr()` would panic on it.
    let mut long_hlen = valid.clone();
    long_hlen[2] = 17;
    assert_malformed(&send_bytes(&mut s, t(1), &long_hlen));
    // Not Ethernet.
    let mut token_ring = msg(KNOWN, MessageType::Discover);
    token_ring.set_htype(HType::from(6));
    assert_malformed(&send(&mut s, t(1), &token_ring));
    // No magic cookie.
    let mut no_cookie = valid.clone();
    no_cookie[236] = 0;
    assert_malformed(&send_bytes(&mut s, t(1), &no_cookie));
    // BOOTP: no option 53.
    let mut bootp = msg(KNOWN, MessageType::Discover);
    bootp.opts_mut().remove(OptionCode::MessageType);
    assert_malformed(&send(&mut s, t(1), &bootp));
    assert_eq!(s.leases(), before);
    // Other clients are still served.
    let h = send(&mut s, t(2), &pxe(msg(KNOWN, MessageType::Discover), 0));
    assert_eq!(h.only_reply().1.yiaddr(), KNOWN_IP);
}

#[test]
fn garbage_options_after_a_valid_header_do_not_break_the_server() {
    let mut s = server(config());
    let mut bytes = pxe(msg(KNOWN, MessageType::Discover), 0).to_vec().unwrap();
    bytes.truncate(240);
    // Message type, then an option claiming more bytes than remain.
    bytes.extend_from_slice(&[53, 1, 1, 93, 200, 0]);
    let h = send_bytes(&mut s, t(0), &bytes);
    assert_eq!(h.replies.len(), 1);
    // Arch option with the wrong length.
    bytes.truncate(240);
    bytes.extend_from_slice(&[
        53, 1, 1, 93, 1, 7, 60, 9, b'P', b'X', b'E', b'C', b'l', b'i', b'e', b'n', b't', 255,
    ]);
    let h = send_bytes(&mut s, t(0), &bytes);
    assert!(h.replies.len() <= 1);
}

/// Regression: found by the `dhcp_packet` fuzz target. dhcproto 0.15 `debug_assert!`s the
/// lengths of options 80, 81, 94, 152-155 and underflows on a short 151; each is refused as
/// malformed before decoding, alone or as a long option split in two.
#[test]
fn options_with_lengths_the_codec_cannot_take_are_malformed_not_a_panic() {
    let mut s = server(config());
    let header = {
        let mut b = msg(KNOWN, MessageType::Discover).to_vec().unwrap();
        b.truncate(240);
        b
    };
    let check = |s: &mut Server<MemoryLeaseStore>, options: &[u8], code: u8, len: usize| {
        let mut bytes = header.clone();
        bytes.extend_from_slice(&[53, 1, 1]);
        bytes.extend_from_slice(options);
        bytes.push(255);
        let h = send_bytes(s, t(0), &bytes);
        assert_malformed(&h);
        assert_eq!(
            h.events[0],
            Event::Malformed {
                source: client_addr(),
                interface: Some(2),
                reason: MalformedReason::BadOptionLength { code, len },
            },
            "{options:?}"
        );
    };
    check(&mut s, &[0, 80, 2, 7, 7], 80, 2);
    check(&mut s, &[81, 2, 0, 0], 81, 2);
    check(&mut s, &[81, 0], 81, 0);
    check(&mut s, &[94, 2, 1, 2], 94, 2);
    check(&mut s, &[94, 3, 1, 2, 3, 94, 3, 1, 2, 3], 94, 6);
    check(&mut s, &[151, 0], 151, 0);
    check(&mut s, &[152, 3, 0, 0, 0], 152, 3);
    check(&mut s, &[155, 8, 0, 0, 0, 0, 0, 0, 0, 0], 155, 8);
    // Valid lengths pass, and Rapid Commit alone is accepted (but no two-message exchange).
    let mut bytes = header.clone();
    bytes.extend_from_slice(&[53, 1, 1, 80, 0, 94, 3, 1, 2, 1, 255]);
    assert_eq!(send_bytes(&mut s, t(0), &bytes).replies.len(), 1);
}

#[test]
fn stored_lease_on_a_now_reserved_address_is_dropped_at_start() {
    let mut store = MemoryLeaseStore::new();
    store
        .put(&Lease {
            mac: STRANGER,
            ip: KNOWN_IP,
            expires: t(100),
            state: LeaseState::Bound,
        })
        .unwrap();
    let s = Server::new(config(), store).unwrap();
    assert!(s.leases().is_empty());
    assert!(s.into_store().load().unwrap().is_empty());
}

#[test]
fn restart_with_redb_store_keeps_leases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leases.redb");
    let ip = Ipv4Addr::new(10, 0, 0, 100);
    {
        let mut s = Server::new(pool_config(101), RedbLeaseStore::open(&path).unwrap()).unwrap();
        send(&mut s, t(0), &msg(STRANGER, MessageType::Discover));
        let h = send(&mut s, t(0), &request(STRANGER, ip));
        assert_eq!(kind(h.only_reply().1), MessageType::Ack);
        send(&mut s, t(0), &request(KNOWN, KNOWN_IP));
    }
    let mut s = Server::new(pool_config(101), RedbLeaseStore::open(&path).unwrap()).unwrap();
    assert_eq!(s.leases().len(), 2);
    // Another client does not get the address held before the restart...
    let h = send(&mut s, t(10), &msg(STRANGER_2, MessageType::Discover));
    assert_eq!(h.only_reply().1.yiaddr(), Ipv4Addr::new(10, 0, 0, 101));
    // ...and its holder renews it.
    let mut renew = msg(STRANGER, MessageType::Request);
    renew.set_ciaddr(ip);
    let h = send(&mut s, t(20), &renew);
    let (_, ack) = h.only_reply();
    assert_eq!((kind(ack), ack.yiaddr()), (MessageType::Ack, ip));
}

#[test]
fn broadcast_flag_is_echoed_in_replies() {
    let mut s = server(config());
    let mut m = msg(KNOWN, MessageType::Discover);
    m.set_flags(Flags::default().set_broadcast());
    let h = send(&mut s, t(0), &m);
    assert!(h.only_reply().1.flags().broadcast());
}

mod properties {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Step {
        Discover(usize),
        Request(usize, u8),
        Renew(usize),
        Release(usize),
        Decline(usize),
        Tick(u64),
    }

    const MACS: [Mac; 6] = [
        KNOWN,
        OTHER_KNOWN,
        STRANGER,
        STRANGER_2,
        Mac::new([2, 0, 0, 0, 0, 5]),
        Mac::new([2, 0, 0, 0, 0, 6]),
    ];

    fn step() -> impl Strategy<Value = Step> {
        let mac = 0..MACS.len();
        prop_oneof![
            3 => mac.clone().prop_map(Step::Discover),
            3 => (mac.clone(), 98u8..106).prop_map(|(m, h)| Step::Request(m, h)),
            1 => mac.clone().prop_map(Step::Renew),
            1 => mac.clone().prop_map(Step::Release),
            1 => mac.prop_map(Step::Decline),
            1 => (1u64..120).prop_map(Step::Tick),
        ]
    }

    proptest! {
        /// Through the whole protocol: an ACKed address is never another client's active
        /// lease, never a reserved address unless it is the client's own reservation, and
        /// reserved machines always get their reserved address.
        #[test]
        fn server_never_acks_a_duplicate_or_foreign_reserved_address(
            steps in proptest::collection::vec(step(), 1..120),
        ) {
            let mut c = pool_config(104);
            // Reserve one address inside the pool to make the rule bite.
            c.reservations.get_mut(&OTHER_KNOWN).unwrap().ip = Ipv4Addr::new(10, 0, 0, 101);
            let reserved: BTreeMap<Ipv4Addr, Mac> =
                c.reservations.values().map(|r| (r.ip, r.mac)).collect();
            let mut s = server(c);
            let mut now = t(0);
            // The address each client was last ACKed and until when.
            let mut bound: BTreeMap<Mac, (Ipv4Addr, SystemTime)> = BTreeMap::new();
            for st in steps {
                let m = match st {
                    Step::Tick(secs) => { now += Duration::from_secs(secs); continue; }
                    Step::Discover(i) => msg(MACS[i], MessageType::Discover),
                    Step::Request(i, host) => request(MACS[i], Ipv4Addr::new(10, 0, 0, host)),
                    Step::Renew(i) => {
                        let mut m = msg(MACS[i], MessageType::Request);
                        m.set_ciaddr(bound.get(&MACS[i]).map_or(Ipv4Addr::new(10, 0, 0, 100), |b| b.0));
                        m
                    }
                    Step::Release(i) => {
                        let mut m = msg(MACS[i], MessageType::Release);
                        if let Some((ip, _)) = bound.get(&MACS[i]) { m.set_ciaddr(*ip); }
                        m
                    }
                    Step::Decline(i) => {
                        let ip = bound.get(&MACS[i]).map_or(Ipv4Addr::new(10, 0, 0, 100), |b| b.0);
                        with(msg(MACS[i], MessageType::Decline), DhcpOption::RequestedIpAddress(ip))
                    }
                };
                let mac = Mac::new(m.chaddr().try_into().unwrap());
                let h = send(&mut s, now, &m);
                if matches!(st, Step::Release(_) | Step::Decline(_))
                    && h.events.iter().any(|e| matches!(e, Event::Released { .. } | Event::Declined { .. }))
                {
                    bound.remove(&mac);
                }
                for (_, reply) in &h.replies {
                    let k = kind(reply);
                    if !matches!(k, MessageType::Offer | MessageType::Ack) { continue; }
                    let ip = reply.yiaddr();
                    if let Some(owner) = reserved.get(&ip) {
                        prop_assert_eq!(*owner, mac, "reserved {} given to {}", ip, mac);
                    }
                    if let Some(r) = s.config().reservations.get(&mac) {
                        prop_assert_eq!(ip, r.ip);
                    }
                    for (other, (other_ip, until)) in &bound {
                        if *other != mac && *until > now {
                            prop_assert_ne!(*other_ip, ip, "{} already leased to {}", ip, other);
                        }
                    }
                    if k == MessageType::Ack {
                        bound.insert(mac, (ip, now + s.config().lease_time));
                    }
                }
            }
        }
    }
}

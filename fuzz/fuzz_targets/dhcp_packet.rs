//! Feeds arbitrary bytes to the DHCP protocol core, raw or as the options of a valid request
//! header (to reach option handling), in authoritative, pool-serving and proxy modes. It must
//! never panic, and a valid DISCOVER from a known MAC that follows must still get its OFFER:
//! a malformed packet may not affect other clients.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use anywhere_dhcp::dhcproto::v4::{DhcpOption, Message, MessageType, OptionCode};
use anywhere_dhcp::dhcproto::{Decodable, Encodable};
use anywhere_dhcp::{
    Config, Input, Mac, MemoryLeaseStore, Mode, Netboot, Output, Pool, Reservation, Server, UnknownClients,
};
use libfuzzer_sys::fuzz_target;

const KNOWN: Mac = Mac::new([0x52, 0x54, 0x00, 0x00, 0x00, 0x01]);
const KNOWN_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);

fn server(selector: u8) -> Server<MemoryLeaseStore> {
    let reservation = Reservation {
        mac: KNOWN,
        ip: KNOWN_IP,
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
        nameservers: vec![Ipv4Addr::new(1, 1, 1, 1)],
        hostname: Some("m1".into()),
        netboot: Netboot::Allowed,
    };
    let mut config = Config::new(Ipv4Addr::new(10, 0, 0, 2), vec![reservation]).expect("one reservation");
    if selector & 2 != 0 {
        config.unknown_clients = UnknownClients::Serve;
        config.pool = Some(Pool {
            start: Ipv4Addr::new(10, 0, 0, 8),
            end: Ipv4Addr::new(10, 0, 0, 12),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            gateway: None,
            nameservers: vec![],
        });
    }
    if selector & 4 != 0 {
        config.mode = Mode::Proxy;
    }
    Server::new(config, MemoryLeaseStore::new()).expect("valid config")
}

fn header() -> Vec<u8> {
    let mut m = Message::new_with_id(
        7,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &KNOWN.octets(),
    );
    m.opts_mut()
        .insert(DhcpOption::MessageType(MessageType::Discover));
    let mut bytes = m.to_vec().expect("encodes");
    bytes.truncate(240); // fixed header and magic cookie, no options
    bytes
}

fn known_pxe_discover() -> Vec<u8> {
    let mut m = Message::new_with_id(
        42,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &KNOWN.octets(),
    );
    m.opts_mut()
        .insert(DhcpOption::MessageType(MessageType::Discover));
    m.opts_mut().insert(DhcpOption::ClassIdentifier(
        b"PXEClient:Arch:00000:UNDI:002001".to_vec(),
    ));
    m.to_vec().expect("encodes")
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut server = server(selector);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let source: SocketAddr = "10.0.0.77:68".parse().expect("address");
    let packet = if selector & 1 != 0 {
        let mut p = header();
        p.extend_from_slice(rest);
        p
    } else {
        rest.to_vec()
    };
    // Twice: the same packet again must not panic on the state the first one left.
    for _ in 0..2 {
        let input = Input {
            packet: &packet,
            source,
            interface: Some(1),
        };
        for output in server.handle(now, input) {
            if let Output::Reply(reply) = output {
                Message::from_bytes(&reply.packet).expect("our replies decode");
            }
        }
    }
    let discover = known_pxe_discover();
    let outputs = server.handle(
        now + Duration::from_secs(1),
        Input {
            packet: &discover,
            source,
            interface: Some(1),
        },
    );
    let offer = outputs
        .iter()
        .find_map(|o| match o {
            Output::Reply(r) => Some(Message::from_bytes(&r.packet).expect("decodes")),
            Output::Event(_) => None,
        })
        .expect("a known PXE client still gets a reply");
    assert_eq!(
        offer.opts().get(OptionCode::MessageType),
        Some(&DhcpOption::MessageType(MessageType::Offer))
    );
    if selector & 4 == 0 {
        assert_eq!(offer.yiaddr(), KNOWN_IP);
    }
});

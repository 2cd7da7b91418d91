//! Throughput of the sans-IO core: DISCOVER + REQUEST per client, no sockets, for fixed
//! reservations and for the dynamic pool, with the in-memory store and with redb (one durable
//! commit per new lease). A quick check before the perfdhcp benchmark, not a replacement:
//! `cargo run --release -p anywhere-dhcp --example core_throughput`.
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Instant, SystemTime};

use anywhere_dhcp::dhcproto::Encodable;
use anywhere_dhcp::dhcproto::v4::{DhcpOption, Message, MessageType};
use anywhere_dhcp::{
    Config, Event, Input, LeaseStore, Mac, MemoryLeaseStore, Netboot, Output, Pool, RedbLeaseStore,
    Reservation, Server, UnknownClients,
};

fn msg(mac: Mac, kind: MessageType, req: Option<Ipv4Addr>) -> Vec<u8> {
    let z = Ipv4Addr::UNSPECIFIED;
    let mut m = Message::new_with_id(1, z, z, z, z, &mac.octets());
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    m.opts_mut().insert(DhcpOption::ClassIdentifier(
        b"PXEClient:Arch:00000:UNDI:002001".to_vec(),
    ));
    if let Some(ip) = req {
        m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
        m.opts_mut()
            .insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 0, 0, 2)));
    }
    m.to_vec().unwrap()
}

fn mac(i: u32) -> Mac {
    let o = i.to_be_bytes();
    Mac::new([2, 0, o[0], o[1], o[2], o[3]])
}

fn run<S: LeaseStore>(name: &str, store: S, n: u32, reserved: bool) {
    let res: Vec<Reservation> = if reserved {
        (0..n)
            .map(|i| Reservation {
                mac: mac(i),
                ip: Ipv4Addr::from(0x0a01_0000 + i),
                netmask: Ipv4Addr::new(255, 0, 0, 0),
                gateway: None,
                nameservers: vec![],
                hostname: None,
                netboot: Netboot::Allowed,
            })
            .collect()
    } else {
        vec![]
    };
    let mut c = Config::new(Ipv4Addr::new(10, 0, 0, 2), res).unwrap();
    if !reserved {
        c.unknown_clients = UnknownClients::Serve;
        c.pool = Some(Pool {
            start: Ipv4Addr::from(0x0a02_0001),
            end: Ipv4Addr::from(0x0a02_0001 + n),
            netmask: Ipv4Addr::new(255, 0, 0, 0),
            gateway: None,
            nameservers: vec![],
        });
    }
    let mut s = Server::new(c, store).unwrap();
    let src: SocketAddr = "0.0.0.0:68".parse().unwrap();
    let now = SystemTime::now();
    let start = Instant::now();
    let mut acks = 0;
    for i in 0..n {
        let d = msg(mac(i), MessageType::Discover, None);
        let out = s.handle(
            now,
            Input {
                packet: &d,
                source: src,
                interface: None,
            },
        );
        let ip = out.iter().find_map(|o| match o {
            Output::Event(Event::Offered { ip, .. }) => Some(*ip),
            _ => None,
        });
        let Some(ip) = ip else { continue };
        let r = msg(mac(i), MessageType::Request, Some(ip));
        let out = s.handle(
            now,
            Input {
                packet: &r,
                source: src,
                interface: None,
            },
        );
        if out
            .iter()
            .any(|o| matches!(o, Output::Event(Event::Acked { .. })))
        {
            acks += 1;
        }
    }
    let el = start.elapsed();
    println!(
        "{name}: {acks}/{n} DORA in {:.3}s = {:.0} leases/s ({:.1} us/lease)",
        el.as_secs_f64(),
        acks as f64 / el.as_secs_f64(),
        el.as_secs_f64() * 1e6 / acks.max(1) as f64
    );
}

fn main() {
    run("memory, reservations", MemoryLeaseStore::new(), 20_000, true);
    run("memory, pool", MemoryLeaseStore::new(), 5_000, false);
    run("memory, pool", MemoryLeaseStore::new(), 20_000, false);
    let dir = tempfile::tempdir().unwrap();
    run(
        "redb, reservations",
        RedbLeaseStore::open(&dir.path().join("a.redb")).unwrap(),
        2_000,
        true,
    );
}

//! The DHCP server as the perfdhcp benchmark runs it: the real tokio shell with group commit,
//! leases in redb (or in memory with `--memory`), a dynamic pool for perfdhcp's random MACs.
//! Started by `benches/perfdhcp.sh` inside a network namespace:
//!
//! `perfdhcp_server --interface veth-s --server-ip 198.18.0.1 --pool 198.18.1.0-198.19.255.254
//!  --netmask 255.254.0.0 --leases /tmp/x/leases.redb [--memory]`
//!
//! Prints `listening` once bound and the number of leases held when stopped (SIGTERM/SIGINT).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use anywhere_dhcp::server::{Options, bind, serve};
use anywhere_dhcp::{Config, LeaseStore, MemoryLeaseStore, Pool, RedbLeaseStore, Server, UnknownClients};

struct Args {
    interface: Option<String>,
    server_ip: Ipv4Addr,
    pool: (Ipv4Addr, Ipv4Addr),
    netmask: Ipv4Addr,
    leases: Option<PathBuf>,
    memory: bool,
}

fn args() -> Args {
    let mut a = Args {
        interface: None,
        server_ip: Ipv4Addr::new(198, 18, 0, 1),
        pool: (Ipv4Addr::new(198, 18, 1, 0), Ipv4Addr::new(198, 19, 255, 254)),
        netmask: Ipv4Addr::new(255, 254, 0, 0),
        leases: None,
        memory: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--interface" => a.interface = Some(value()),
            "--server-ip" => a.server_ip = value().parse().expect("--server-ip: an IPv4 address"),
            "--pool" => {
                let v = value();
                let (s, e) = v.split_once('-').expect("--pool START-END");
                a.pool = (s.parse().expect("pool start"), e.parse().expect("pool end"));
            }
            "--netmask" => a.netmask = value().parse().expect("--netmask: an IPv4 mask"),
            "--leases" => a.leases = Some(PathBuf::from(value())),
            "--memory" => a.memory = true,
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

async fn run<S: LeaseStore>(a: &Args, store: S) {
    let mut config = Config::new(a.server_ip, vec![]).unwrap();
    config.unknown_clients = UnknownClients::Serve;
    config.pool = Some(Pool {
        start: a.pool.0,
        end: a.pool.1,
        netmask: a.netmask,
        gateway: Some(a.server_ip),
        nameservers: vec![],
    });
    let server = Server::new(config, store).unwrap();
    let socket = bind(
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67),
        a.interface.as_deref(),
    )
    .unwrap();
    println!("listening");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    let stop = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    let mut options = Options::default();
    if std::env::var_os("PERFDHCP_SERVER_EVENTS").is_some() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        options.events = Some(tx);
        tokio::spawn(async move {
            while let Some(record) = rx.recv().await {
                eprintln!("{:?}", record.event);
            }
        });
    }
    let server = serve(server, &socket, &options, stop).await.unwrap();
    println!("leases held: {}", server.leases().len());
}

fn main() {
    let a = args();
    // One thread, like Kea's default single-threaded mode.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if a.memory {
        rt.block_on(run(&a, MemoryLeaseStore::new()));
    } else {
        let path = a.leases.clone().expect("--leases PATH (or --memory)");
        let store = RedbLeaseStore::open(&path).unwrap().group_commit();
        rt.block_on(run(&a, store));
    }
}

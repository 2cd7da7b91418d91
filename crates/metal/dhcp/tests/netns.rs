//! A real DHCP client against the real shell: busybox `udhcpc` in a network namespace, joined to
//! the server by a veth pair. Needs root, `ip` and `busybox` (Debian `busybox-static`); without
//! them the tests skip with a message, except under `CI=true`, where they fail (CI installs
//! them, see `.ci/install-dhcp-peers.sh`, and runs as root). The perfdhcp test also needs
//! `perfdhcp` (Debian `kea-admin`).
//! The namespace and links carry the process id, are removed before use and in `Drop`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;
use std::time::Duration;

use anywhere_dhcp::server::{Options, bind, serve};
use anywhere_dhcp::{Config, Event, Mac, MemoryLeaseStore, Netboot, Reservation, Server};
use tokio::sync::mpsc::unbounded_channel;
use tokio::sync::oneshot;
use tokio::time::timeout;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 213, 99, 2);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 213, 99, 10);

/// `ip` with arguments; panics with its stderr when it fails.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A namespace with one end of a veth pair; the other end stays here with `SERVER_IP`.
struct Net {
    ns: String,
    server_if: String,
    client_if: String,
}

impl Net {
    /// `tag` (one letter) tells apart the tests of one process, which run in parallel.
    fn create(tag: char) -> Net {
        let id = std::process::id() % 100_000;
        let net = Net {
            ns: format!("anyw-dhcp-{id}{tag}"),
            server_if: format!("adhs{id}{tag}"),
            client_if: format!("adhc{id}{tag}"),
        };
        net.clean();
        ip(&["netns", "add", &net.ns]);
        ip(&[
            "link",
            "add",
            &net.server_if,
            "type",
            "veth",
            "peer",
            "name",
            &net.client_if,
        ]);
        ip(&["link", "set", &net.client_if, "netns", &net.ns]);
        ip(&["addr", "add", &format!("{SERVER_IP}/24"), "dev", &net.server_if]);
        ip(&["link", "set", &net.server_if, "up"]);
        ip(&["-n", &net.ns, "link", "set", "lo", "up"]);
        ip(&["-n", &net.ns, "link", "set", &net.client_if, "up"]);
        net
    }

    fn client_mac(&self) -> Mac {
        let out = ip(&["-n", &self.ns, "-br", "link", "show", &self.client_if]);
        out.split_whitespace()
            .find_map(|w| w.parse::<Mac>().ok())
            .expect("client MAC in `ip -br link`")
    }

    /// Best effort: leftovers of an earlier run with the same id.
    fn clean(&self) {
        let _ = Command::new("ip").args(["link", "del", &self.server_if]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.clean();
    }
}

fn runs(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Whether the test can run: root and the named tools. When not, prints why and returns
/// false, or panics under `CI=true` (CI must prove these tests ran).
fn prerequisites(tools: &[(&str, &str)]) -> bool {
    let mut missing: Vec<String> = tools
        .iter()
        .filter(|(cmd, arg)| !runs(cmd, arg))
        .map(|(cmd, _)| (*cmd).to_string())
        .collect();
    if !is_root() {
        missing.push("root".into());
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!("needs {} (network namespaces)", missing.join(", "));
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why}: CI must run this test"
    );
    eprintln!("skipping: {why}");
    false
}

fn tools_available() -> bool {
    prerequisites(&[("ip", "-V"), ("busybox", "--help")])
}

/// Serves `reservation` on the veth and runs udhcpc (as a BIOS PXE client) in the namespace
/// until it is bound or gives up. Returns udhcpc's success, its script output, the server's
/// leases and events.
async fn run_udhcpc(net: &Net, netboot: Netboot) -> (bool, String, Vec<anywhere_dhcp::Lease>, Vec<Event>) {
    let reservation = Reservation {
        mac: net.client_mac(),
        ip: CLIENT_IP,
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gateway: Some(SERVER_IP),
        nameservers: vec![SERVER_IP],
        hostname: Some("m1".into()),
        netboot,
    };
    let config = Config::new(SERVER_IP, vec![reservation]).unwrap();
    let server = Server::new(config, MemoryLeaseStore::new()).unwrap();
    let socket = bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67), Some(&net.server_if)).unwrap();
    let (tx, mut events) = unbounded_channel();
    let options = Options {
        events: Some(tx),
        ..Options::default()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(server, &socket, &options, async {
            let _ = stopped.await;
        })
        .await
    });

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("udhcpc.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"event=$1 ip=$ip boot_file=$boot_file siaddr=$siaddr hostname=$hostname\"\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    let script = script.to_str().unwrap().to_string();
    let client = tokio::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.ns,
            "busybox",
            "udhcpc",
            "-i",
            &net.client_if,
        ])
        .args(["-f", "-q", "-n", "-t", "5", "-T", "1", "-s", &script])
        .args(["-V", "PXEClient:Arch:00000:UNDI:002001"])
        .kill_on_drop(true)
        .output();
    let out = timeout(Duration::from_secs(30), client)
        .await
        .expect("udhcpc finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();

    stop.send(()).unwrap();
    let server = timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let mut seen = Vec::new();
    while let Ok(record) = events.try_recv() {
        seen.push(record.event);
    }
    (out.status.success(), stdout, server.leases(), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udhcpc_in_a_netns_gets_its_reserved_lease_and_boot_file() {
    if !tools_available() {
        return;
    }
    let net = Net::create('a');
    let (ok, stdout, leases, events) = run_udhcpc(&net, Netboot::Allowed).await;
    assert!(ok, "udhcpc failed: {stdout} {events:?}");
    let expect = format!("event=bound ip={CLIENT_IP} boot_file=undionly.kpxe siaddr={SERVER_IP} hostname=m1");
    assert!(stdout.contains(&expect), "{stdout}");
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].ip, CLIENT_IP);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Offered { ip, .. } if *ip == CLIENT_IP)),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Acked { ip, .. } if *ip == CLIENT_IP)),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udhcpc_of_a_machine_with_netboot_refused_gets_lease_without_boot_file() {
    if !tools_available() {
        return;
    }
    let net = Net::create('r');
    let (ok, stdout, _, events) = run_udhcpc(&net, Netboot::Refused).await;
    assert!(ok, "udhcpc failed: {stdout} {events:?}");
    // udhcpc leaves `siaddr` unset when the server sent 0.0.0.0.
    let expect = format!("event=bound ip={CLIENT_IP} boot_file= siaddr= hostname=m1");
    assert!(stdout.contains(&expect), "{stdout}");
}

/// perfdhcp (Kea's load generator, acting as a relay agent) against the shell with leases in
/// redb (group commit): every exchange completes, nothing is NAKed, and every ACKed lease is in
/// the database after the server stops. A functional check; the throughput benchmark is
/// `benches/perfdhcp.sh`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perfdhcp_as_a_relay_gets_every_lease_and_they_are_all_stored() {
    use anywhere_dhcp::{LeaseStore, Pool, RedbLeaseStore, UnknownClients};
    if !prerequisites(&[("ip", "-V"), ("perfdhcp", "-v")]) {
        return;
    }
    let net = Net::create('p');
    let relay = "10.213.99.3";
    ip(&[
        "-n",
        &net.ns,
        "addr",
        "add",
        &format!("{relay}/24"),
        "dev",
        &net.client_if,
    ]);
    let mut config = Config::new(SERVER_IP, vec![]).unwrap();
    config.unknown_clients = UnknownClients::Serve;
    config.pool = Some(Pool {
        start: Ipv4Addr::new(10, 213, 99, 100),
        end: Ipv4Addr::new(10, 213, 99, 250),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gateway: Some(SERVER_IP),
        nameservers: vec![],
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("leases.redb");
    let store = RedbLeaseStore::open(&db).unwrap().group_commit();
    let server = Server::new(config, store).unwrap();
    let socket = bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67), Some(&net.server_if)).unwrap();
    let (tx, mut events) = unbounded_channel();
    let options = Options {
        events: Some(tx),
        ..Options::default()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(server, &socket, &options, async {
            let _ = stopped.await;
        })
        .await
    });
    // 100 clients (distinct MACs), 200 exchanges/s for 2 s.
    let out = timeout(
        Duration::from_secs(30),
        tokio::process::Command::new("ip")
            .args(["netns", "exec", &net.ns, "perfdhcp", "-4", "-l", &net.client_if])
            .args(["-r", "200", "-R", "100", "-p", "2", "-W", "500000"])
            .arg(SERVER_IP.to_string())
            .output(),
    )
    .await
    .expect("perfdhcp finishes")
    .expect("perfdhcp runs");
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    stop.send(()).unwrap();
    let server = timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let stat = |section: &str, key: &str| -> u64 {
        let start = report
            .find(&format!("Statistics for: {section}"))
            .unwrap_or_else(|| panic!("no {section} statistics in:\n{report}"));
        let line = report[start..]
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in:\n{report}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (sent, acked) = (
        stat("REQUEST-ACK", "sent packets:"),
        stat("REQUEST-ACK", "received packets:"),
    );
    assert!(sent >= 100, "perfdhcp sent only {sent} REQUESTs:\n{report}");
    // Loopback-class veth at 200/s: nothing is lost unless the server misbehaves (a handful of
    // exchanges may still be in flight when perfdhcp stops).
    assert!(acked + 5 >= sent, "{acked} ACKs for {sent} REQUESTs:\n{report}");
    let mut acked_macs = std::collections::BTreeSet::new();
    while let Ok(record) = events.try_recv() {
        match record.event {
            Event::Acked { mac, .. } => {
                acked_macs.insert(mac);
            }
            Event::Naked { .. } | Event::StoreFailed { .. } | Event::PoolExhausted { .. } => {
                panic!("unexpected {:?}", record.event)
            }
            _ => {}
        }
    }
    assert!(!acked_macs.is_empty());
    drop(server);
    let stored: Vec<Mac> = RedbLeaseStore::open(&db)
        .unwrap()
        .load()
        .unwrap()
        .into_iter()
        .filter(|l| l.state == anywhere_dhcp::LeaseState::Bound)
        .map(|l| l.mac)
        .collect();
    for mac in &acked_macs {
        assert!(stored.contains(mac), "ACKed {mac} is not in the lease database");
    }
}

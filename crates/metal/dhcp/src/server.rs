//! The tokio shell: owns the UDP socket, stamps each datagram with the wall clock, feeds the
//! sans-IO [`Server`] and sends its replies. Events are logged with `tracing` and, when asked,
//! forwarded with their time (for per-machine boot timelines).

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::SystemTime;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::UnboundedSender;

use crate::lease::LeaseStore;
use crate::protocol::{Destination, Event, Input, Output, Server};
use crate::{Error, Result};

/// Where replies go on the wire.
#[derive(Clone, Debug)]
pub struct Options {
    /// The clients' port (68). Tests on loopback use the test client's ephemeral port.
    pub client_port: u16,
    /// The relay agents' port (67).
    pub relay_port: u16,
    /// The broadcast address for [`Destination::Broadcast`] (255.255.255.255, or a subnet
    /// broadcast; tests on loopback use 127.0.0.1).
    pub broadcast: Ipv4Addr,
    /// Receives every event with the time it happened.
    pub events: Option<UnboundedSender<Record>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            client_port: 68,
            relay_port: 67,
            broadcast: Ipv4Addr::BROADCAST,
            events: None,
        }
    }
}

/// An event and when it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Wall-clock time of the packet that caused it.
    pub at: SystemTime,
    /// What happened.
    pub event: Event,
}

fn io_err(operation: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { operation, source }
}

/// Binds a DHCP server socket on `addr` (normally `0.0.0.0:67`) with `SO_BROADCAST` and
/// `SO_REUSEADDR`, and `SO_BINDTODEVICE` to `interface` when given (needs `CAP_NET_RAW`).
/// Must be called inside a tokio runtime.
///
/// # Errors
/// [`Error::Io`] when a socket call fails.
pub fn bind(addr: SocketAddrV4, interface: Option<&str>) -> Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(io_err("socket"))?;
    socket.set_broadcast(true).map_err(io_err("set SO_BROADCAST"))?;
    socket
        .set_reuse_address(true)
        .map_err(io_err("set SO_REUSEADDR"))?;
    if let Some(name) = interface {
        socket
            .bind_device(Some(name.as_bytes()))
            .map_err(io_err("set SO_BINDTODEVICE"))?;
    }
    socket.set_nonblocking(true).map_err(io_err("set O_NONBLOCK"))?;
    socket
        .bind(&SocketAddr::V4(addr).into())
        .map_err(io_err("bind"))?;
    UdpSocket::from_std(socket.into()).map_err(io_err("register"))
}

/// Most datagrams handled between two lease-store flushes.
pub const BURST: usize = 64;

/// Serves DHCP on `socket` until `shutdown` completes, then returns the server (its leases and
/// store). A failed receive or send is logged and skipped: one client's trouble must not stop
/// the server.
///
/// Group commit: the shell takes every datagram already queued (up to [`BURST`]), handles them,
/// then calls [`LeaseStore::flush`] once and only then sends their replies. An ACK therefore
/// never leaves before its lease is durable, and one disk sync covers a whole burst. When the
/// flush fails, the burst's replies are dropped (the clients retry) and each ACK becomes an
/// [`Event::StoreFailed`]; the store keeps the writes pending for the next flush.
///
/// # Errors
/// None today; the `Result` leaves room for fatal socket failures.
pub async fn serve<S: LeaseStore>(
    mut server: Server<S>,
    socket: &UdpSocket,
    options: &Options,
    shutdown: impl Future<Output = ()>,
) -> Result<Server<S>> {
    // 64 KiB per slot: a datagram is never truncated, whatever a client sends.
    let mut buffers: Vec<Vec<u8>> = (0..BURST).map(|_| vec![0u8; 65_536]).collect();
    let mut received: Vec<(usize, SocketAddr)> = Vec::with_capacity(BURST);
    let mut replies: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(BURST);
    let mut events: Vec<Event> = Vec::with_capacity(BURST * 2);
    tokio::pin!(shutdown);
    loop {
        received.clear();
        let first = tokio::select! {
            () = &mut shutdown => {
                flush_on_exit(&mut server);
                return Ok(server);
            }
            r = socket.recv_from(&mut buffers[0]) => r,
        };
        match first {
            Ok(r) => received.push(r),
            Err(e) => {
                // e.g. ECONNREFUSED from an earlier ICMP port-unreachable.
                tracing::debug!(error = %e, "dhcp receive failed");
                continue;
            }
        }
        while received.len() < BURST {
            match socket.try_recv_from(&mut buffers[received.len()]) {
                Ok(r) => received.push(r),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(error = %e, "dhcp receive failed");
                    break;
                }
            }
        }
        let now = SystemTime::now();
        for (slot, &(len, source)) in received.iter().enumerate() {
            let input = Input {
                packet: &buffers[slot][..len],
                source,
                interface: None,
            };
            for output in server.handle(now, input) {
                match output {
                    Output::Reply(reply) => {
                        replies.push((reply.packet, target(reply.destination, options)));
                    }
                    Output::Event(event) => events.push(event),
                }
            }
        }
        match server.store_mut().flush() {
            Ok(()) => {
                for (packet, to) in replies.drain(..) {
                    if let Err(e) = socket.send_to(&packet, to).await {
                        tracing::warn!(error = %e, %to, "dhcp send failed");
                    }
                }
                for event in events.drain(..) {
                    record(now, event, options);
                }
            }
            Err(e) => {
                let error = crate::protocol::error_chain(&e);
                tracing::warn!(%error, replies = replies.len(), "dhcp lease store flush failed; replies dropped");
                replies.clear();
                for event in events.drain(..) {
                    let event = match event {
                        Event::Acked { mac, .. } => Event::StoreFailed {
                            mac,
                            error: error.clone(),
                        },
                        other => other,
                    };
                    record(now, event, options);
                }
            }
        }
    }
}

/// A last flush at shutdown; only logged on failure (no reply depends on it).
fn flush_on_exit<S: LeaseStore>(server: &mut Server<S>) {
    if let Err(e) = server.store_mut().flush() {
        tracing::warn!(error = %crate::protocol::error_chain(&e), "dhcp lease store flush at shutdown failed");
    }
}

/// The socket address of a destination.
fn target(destination: Destination, options: &Options) -> SocketAddr {
    let (ip, port) = match destination {
        Destination::Broadcast => (options.broadcast, options.client_port),
        Destination::Client(ip) => (ip, options.client_port),
        Destination::Relay(ip) => (ip, options.relay_port),
    };
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

fn record(at: SystemTime, event: Event, options: &Options) {
    match &event {
        Event::Malformed { .. } | Event::Ignored { .. } | Event::Received { .. } => {
            tracing::debug!(?event, "dhcp")
        }
        Event::StoreFailed { .. } | Event::EncodeFailed { .. } | Event::PoolExhausted { .. } => {
            tracing::warn!(?event, "dhcp")
        }
        _ => tracing::info!(?event, "dhcp"),
    }
    if let Some(events) = &options.events {
        // A closed receiver only means nobody records timelines any more.
        let _ = events.send(Record { at, event });
    }
}

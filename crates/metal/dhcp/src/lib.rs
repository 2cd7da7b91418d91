//! DHCPv4 server for network boot: the first thing a bare-metal machine meets when it powers on
//! (the equivalent of Tinkerbell smee's DHCP service).
//!
//! It hands out leases to inventoried machines from their hardware records (fixed reservations),
//! optionally from a dynamic pool to unknown clients, answers as a proxyDHCP server on networks
//! that already run DHCP, serves clients behind relay agents (`giaddr`), and tells PXE clients
//! which boot file to load: the iPXE binary for their firmware (option 93) or, once the client
//! is iPXE (user class option 77), the URL of the per-machine iPXE script.
//!
//! Boundary:
//! - The protocol core ([`Server`]) is sans-IO: `handle(now, input) -> Vec<Output>`. It opens no
//!   socket and reads no clock (time is passed in). Every decision and every reply byte is a
//!   function of the configuration, the lease table, `now` and the packet (dhcproto draws a
//!   random `xid` for a new message; replies overwrite it with the client's).
//! - Leases persist through the small [`LeaseStore`] port: [`MemoryLeaseStore`] for tests,
//!   [`RedbLeaseStore`] for a restart-proof file.
//! - The tokio shell ([`server`]) owns the UDP socket (socket2: `SO_BROADCAST`, `SO_REUSEADDR`,
//!   optionally `SO_BINDTODEVICE`), stamps each packet with the wall clock and sends the outputs.
//!
//! Performance: leases live in an in-memory table written through to the store; the store is
//! read once, at start. The shell group-commits: it handles every datagram already queued (up
//! to [`server::BURST`]), flushes the store once ([`LeaseStore::flush`]; redb in
//! [`RedbLeaseStore::group_commit`] mode) and only then sends the replies, so an ACK never
//! precedes its durable lease. perfdhcp over a veth pair: ~15,900 durable DORA/s vs Kea's ~5,800
//! in the same run (`benches/perfdhcp.sh`, docs/benchmarks.md).
//!
//! It must not: know about Kubernetes (callers turn inventory or Hardware objects into
//! [`Reservation`]s), serve an unknown MAC unless configured to, or let one client's packet
//! (however malformed) panic the server or change another client's lease.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod boot;
mod config;
mod lease;
mod protocol;
mod redb_store;
pub mod server;

pub use boot::{BootFile, ClientKind, Firmware};
pub use config::{BootOptions, Config, IpxeBinaries, Mac, Mode, Netboot, Pool, Reservation, UnknownClients};
pub use lease::{Lease, LeaseState, LeaseStore, MemoryLeaseStore};
pub use protocol::{Destination, Event, Input, MalformedReason, Output, Reply, Server};
pub use redb_store::RedbLeaseStore;

/// Re-exported so callers and tests build packets with the same codec version.
pub use dhcproto;

/// A failure to configure the server or to use its lease store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A MAC address does not parse.
    #[error("invalid MAC address {0:?}")]
    InvalidMac(String),
    /// A hardware record field cannot become part of a reservation.
    #[error("hardware {mac}: invalid {field} {value:?}")]
    InvalidHardware {
        /// The record's MAC column as written.
        mac: String,
        /// The CSV column.
        field: &'static str,
        /// The offending value.
        value: String,
    },
    /// Two reservations share a MAC or an IP address.
    #[error("duplicate reservation {what} {value}")]
    DuplicateReservation {
        /// `mac` or `ip`.
        what: &'static str,
        /// The duplicated value.
        value: String,
    },
    /// The dynamic pool is empty or reversed.
    #[error("invalid pool {start}-{end}")]
    InvalidPool {
        /// First address.
        start: std::net::Ipv4Addr,
        /// Last address.
        end: std::net::Ipv4Addr,
    },
    /// The lease database failed.
    #[error("lease store {operation} failed")]
    Store {
        /// What was being done (`open`, `load`, `put`, `remove`).
        operation: &'static str,
        /// The underlying failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored lease record is corrupt.
    #[error("corrupt lease record for {mac}")]
    CorruptLease {
        /// The record's key.
        mac: Mac,
    },
    /// A socket operation of the shell failed.
    #[error("socket {operation} failed")]
    Io {
        /// What was being done (`bind`, `recv`, `send`...).
        operation: &'static str,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

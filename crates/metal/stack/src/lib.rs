//! The bare-metal boot stack as one service: DHCP ([`anywhere_dhcp`]), TFTP ([`anywhere_tftp`])
//! and HTTP boot plus metadata ([`anywhere_boot`]) started together from one [`ServeConfig`],
//! with every event they report recorded per machine in a [`TimelineStore`].
//!
//! Layout (functional core, imperative shell):
//! - [`config`]: the YAML configuration, decoded strictly with field-path errors. Pure.
//! - [`timeline`]: timeline entries, the mapping of service events to short kinds and
//!   [`format_timeline`] (pure), plus the redb [`TimelineStore`].
//! - [`stack`]: the tokio shell: binds the three sockets, serves, pumps events into the store,
//!   stops everything on shutdown.
//!
//! Boundary: only [`stack`], [`ServeConfig::load`] and [`TimelineStore`] do I/O; the wall clock
//! is read in the service shells, never in the pure code. The crate knows nothing about
//! Kubernetes.
//!
//! It must not: let a failing timeline write stop a boot (it is logged and dropped), or serve a
//! machine that is not in the hardware inventory.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod stack;
pub mod timeline;

use std::path::PathBuf;

pub use anywhere_dhcp::Mac;
pub use config::{DhcpMode, Listen, NetbootConfig, ServeConfig};
pub use stack::{Addresses, Bound, Recorded, bind, run};
pub use timeline::{Entry, TimelineStore, dhcp_kind, format_timeline, http_kind, tftp_kind};

/// A failure to configure, start or record the stack.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("failed to read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The serve configuration does not decode.
    #[error("invalid serve config {path}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong, with its field path.
        #[source]
        source: anywhere_api::document::Error,
    },
    /// The hardware CSV has problems.
    #[error("invalid hardware csv {path}: {}", problems.join("; "))]
    Inventory {
        /// The CSV file.
        path: PathBuf,
        /// Every problem, one per entry.
        problems: Vec<String>,
    },
    /// The DHCP service could not be configured or started.
    #[error("dhcp service failed")]
    Dhcp(#[from] anywhere_dhcp::Error),
    /// The HTTP boot catalogue could not be built.
    #[error("http boot service failed")]
    Boot(#[from] anywhere_boot::Error),
    /// A socket could not be bound or served.
    #[error("{service} socket {operation} failed on {addr}")]
    Socket {
        /// `tftp` or `http`.
        service: &'static str,
        /// `bind`, `serve`...
        operation: &'static str,
        /// The address.
        addr: String,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The TFTP service stopped with an error.
    #[error("tftp service failed")]
    Tftp(#[from] anywhere_tftp::server::Error),
    /// The timeline store has no file at this path.
    #[error("no timeline store at {0}")]
    NoTimelineStore(PathBuf),
    /// The timeline database failed.
    #[error("timeline store {operation} failed")]
    Timeline {
        /// What was being done (`open`, `record`, `read`).
        operation: &'static str,
        /// The underlying failure.
        #[source]
        source: Box<redb::Error>,
    },
    /// A service task panicked or was cancelled.
    #[error("{0} task ended abnormally")]
    Task(&'static str),
}

/// `Result` with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

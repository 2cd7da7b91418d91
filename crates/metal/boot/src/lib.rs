//! HTTP boot server for bare-metal machines (the HTTP half of Tinkerbell smee plus hegel's
//! instance metadata): what a machine fetches after DHCP sent its iPXE to
//! `http://<server>/auto.ipxe`.
//!
//! Layout (functional core, imperative shell):
//! - [`machine`]: the [`Catalogue`] of machines (inventory records plus [`BootSettings`]) keyed
//!   by MAC and IP, and [`ipxe_script`], built with the typed [`script`] builder.
//! - [`metadata`]: EC2-style (`/2009-04-04/...`) and cloud-init NoCloud documents for one machine.
//! - [`range`]: `Range` header decisions.
//! - [`server`]: the axum shell: scripts, artifact streaming, metadata, request [`Event`]s.
//!
//! Boundary: everything but [`server`] is pure (no sockets, files or clock). The crate knows
//! nothing about Kubernetes or DHCP leases; callers build the catalogue and may swap it at run
//! time (for example to refuse netboot once a machine is provisioned).
//!
//! It must not: serve one machine's metadata to another address, serve a file outside the
//! artifact directory, or buffer a whole artifact in memory.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod machine;
pub mod metadata;
pub mod range;
pub mod script;
pub mod server;

pub use anywhere_dhcp::{Mac, Netboot};
pub use machine::{BootSettings, Catalogue, LocalBoot, Machine, Source, ipxe_script};
pub use metadata::{ec2_metadata, nocloud_meta_data, nocloud_network_config, nocloud_user_data};
pub use range::{RangeDecision, decide_range};
pub use server::{Event, Options, router, serve};

/// A failure to build the catalogue or render a document.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An inventory record cannot become a machine.
    #[error("invalid hardware record")]
    Hardware(#[from] anywhere_dhcp::Error),
    /// Two machines share a MAC or an IP address.
    #[error("duplicate machine {what} {value}")]
    DuplicateMachine {
        /// `mac` or `ip`.
        what: &'static str,
        /// The duplicated value.
        value: String,
    },
    /// A YAML document failed to serialise.
    #[error("failed to render yaml: {0}")]
    Render(String),
}

/// `Result` with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

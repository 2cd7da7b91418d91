//! TFTP server for network boot: serves iPXE binaries and generated files to PXE firmware.
//!
//! Protocol: RFC 1350 read requests, RFC 2347 option negotiation (OACK), RFC 2348 `blksize`
//! (8-65464), RFC 2349 `tsize` and `timeout`, RFC 7440 `windowsize`. Write requests are refused.
//!
//! Layout (functional core, imperative shell):
//! - [`packet`]: the wire format, pure.
//! - [`transfer`]: the sans-IO state machine of one transfer,
//!   `Transfer::handle(&mut self, now, event) -> Vec<Action>`.
//! - [`source`]: the [`FileSource`] port with a root-confined [`DirSource`], a [`MemorySource`]
//!   and [`Layered`] to put one in front of the other.
//! - [`server`]: the tokio shell, [`serve`], one task and one ephemeral socket per transfer.
//! - [`ipxe`]: finds Debian's `ipxe` package binaries at run time.
//!
//! Boundary: [`packet`] and [`transfer`] open no sockets, read no clock and touch no file system;
//! files come only through [`FileSource`] and time only through the `now` argument. Only
//! [`server`] does network I/O and only [`source::DirSource`] and [`ipxe`] read files. The crate
//! knows nothing about Kubernetes, DHCP or which machine gets which file: callers decide what a
//! source contains.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod ipxe;
pub mod packet;
pub mod server;
pub mod source;
pub mod transfer;

pub use ipxe::IpxeBinaries;
pub use packet::{ErrorCode, Packet, Request, RequestKind};
pub use server::{Limits, TransferEvent, TransferEventKind, serve, serve_with_events};
pub use source::{DirSource, FileSource, Layered, MemorySource, OpenFile};
pub use transfer::{Action, Config, Event, Negotiated, Outcome, Transfer};

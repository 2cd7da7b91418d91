//! OCI distribution client for air-gapped installs: reads and writes manifests and blobs of any
//! OCI / Docker v2 registry, and copies images between registries with their digests preserved
//! (`anywhere copy images`).
//!
//! Copying streams every blob from the source to the destination without holding it in memory,
//! hashes it on the way (a blob whose bytes do not match its digest is refused), skips blobs the
//! destination already has, mounts a blob from another repository of the destination instead of
//! sending it again (a release's images share base layers), and runs transfers in parallel.
//! Manifests are copied byte for byte, so digests are preserved; an image index is copied with
//! every image it lists.
//!
//! Authentication: HTTP basic (what Harbor, distribution and most on-site mirrors accept). TLS
//! with the system roots plus an optional CA file; `insecure` accepts any certificate and falls
//! back to plain HTTP, for lab registries only. Passwords never appear in `Debug` output, logs
//! or errors.
//!
//! Archives (`anywhere download images`, `anywhere import images`): an OCI image layout in one
//! tar file; a download fills a staging layout directory and packs it, an import streams blobs
//! out of the tar without unpacking it. See [`Archive`].
//!
//! It must not: know the cluster spec or the release catalog (callers turn them into image
//! lists), or touch the local filesystem except to read a CA file and the archive and staging
//! directory it is given.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod archive;
mod client;
mod copy;
mod endpoint;
mod reference;

pub use archive::{Archive, ArchivedImage, Contents, IMAGE_NAME, LayoutDir, REF_NAME, pack};
pub use client::{ClientConfig, Manifest, Registry};
pub use copy::{Copier, CopyReport, ImageCopy};
pub use endpoint::{BlobStream, BoxError, Destination, Source};
pub use reference::{ImageRef, parse_list};

/// Errors of registry operations. None carries a password.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An image reference or list line that cannot be parsed.
    #[error("{origin}: {message}")]
    Reference {
        /// Where it came from (`FILE:LINE` or the text).
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The registry refused the credentials (or asked for some and none were given).
    #[error("{registry}: authentication failed (HTTP {status}); check the username and password")]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// 401 or 403.
        status: u16,
    },
    /// A request failed at the HTTP or TLS level.
    #[error("{registry}: {operation}: {message}")]
    Transport {
        /// Registry host.
        registry: String,
        /// What was being done.
        operation: String,
        /// The error chain (no credentials: they travel in headers, never in URLs).
        message: String,
    },
    /// The registry answered with an unexpected status.
    #[error("{registry}: {operation}: HTTP {status}: {body}")]
    Status {
        /// Registry host.
        registry: String,
        /// What was being done.
        operation: String,
        /// HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// Something does not exist.
    #[error("{registry}: {what} not found")]
    NotFound {
        /// Registry host.
        registry: String,
        /// e.g. `manifest eks-distro/pause:v1`.
        what: String,
    },
    /// Content whose bytes do not match its digest.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The blob or manifest.
        what: String,
        /// The digest it was named by.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// A manifest that cannot be read.
    #[error("{what}: {message}")]
    BadManifest {
        /// Which manifest.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// An image archive (or its staging directory) cannot be read or written.
    #[error("{what}: {message}")]
    Archive {
        /// The file.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The CA file cannot be read or holds no certificate.
    #[error("CA file {path}: {message}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Installs ring as the process's rustls crypto provider (once; later calls do nothing). Call it
/// before building a [`Registry`] (the CLI does at start; [`Registry::new`] calls it too).
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only when another provider is already installed, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex(&sha2::Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

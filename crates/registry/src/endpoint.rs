//! The two ends of a copy: where images are read from ([`Source`]) and where they are written
//! ([`Destination`]). A registry is both; an image archive is a source; an OCI layout directory
//! being filled by a download is a destination. One [`Copier`](crate::Copier) walks manifests and
//! moves blobs between any pair, so copy, download and import share the dedup, skip and digest
//! logic.

use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};

use crate::Result;
use crate::client::{Manifest, Registry};

/// An error inside a blob stream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A blob's bytes, streamed.
pub type BlobStream = Pin<Box<dyn Stream<Item = std::result::Result<Bytes, BoxError>> + Send>>;

/// Where images are read from.
#[allow(async_fn_in_trait)]
pub trait Source {
    /// A name for messages (registry host, archive path).
    fn name(&self) -> &str;
    /// The manifest `repository:reference` (tag or digest), bytes unchanged.
    ///
    /// # Errors
    /// Not found, unreadable, or a digest mismatch.
    async fn manifest(&self, repository: &str, reference: &str) -> Result<Manifest>;
    /// The blob `digest` of `repository`, streamed.
    ///
    /// # Errors
    /// Not found or unreadable.
    async fn blob(&self, repository: &str, digest: &str) -> Result<BlobStream>;
}

/// Where images are written.
#[allow(async_fn_in_trait)]
pub trait Destination {
    /// A name for messages.
    fn name(&self) -> &str;
    /// Whether `repository` can already serve the blob `digest`.
    ///
    /// # Errors
    /// The destination cannot be asked.
    async fn has_blob(&self, repository: &str, digest: &str) -> Result<bool>;
    /// Links the blob from another repository of the destination; `false` when it would not.
    ///
    /// # Errors
    /// The destination cannot be asked.
    async fn mount_blob(&self, repository: &str, digest: &str, from: &str) -> Result<bool>;
    /// Stores a blob. The destination must refuse bytes that do not match `digest`.
    ///
    /// # Errors
    /// Write failures, or a digest mismatch.
    async fn put_blob(
        &self,
        repository: &str,
        digest: &str,
        size: Option<u64>,
        body: BlobStream,
    ) -> Result<()>;
    /// Stores a manifest under `reference` (a tag, or its digest).
    ///
    /// # Errors
    /// Write failures, or a blob it names is missing.
    async fn put_manifest(&self, repository: &str, reference: &str, manifest: &Manifest) -> Result<()>;
}

impl Source for Registry {
    fn name(&self) -> &str {
        self.host()
    }

    async fn manifest(&self, repository: &str, reference: &str) -> Result<Manifest> {
        Registry::manifest(self, repository, reference).await
    }

    async fn blob(&self, repository: &str, digest: &str) -> Result<BlobStream> {
        let stream = Registry::blob(self, repository, digest).await?;
        Ok(Box::pin(stream.map_err(|e| Box::new(e) as BoxError)))
    }
}

impl Destination for Registry {
    fn name(&self) -> &str {
        self.host()
    }

    async fn has_blob(&self, repository: &str, digest: &str) -> Result<bool> {
        Registry::has_blob(self, repository, digest).await
    }

    async fn mount_blob(&self, repository: &str, digest: &str, from: &str) -> Result<bool> {
        Registry::mount_blob(self, repository, digest, from).await
    }

    async fn put_blob(
        &self,
        repository: &str,
        digest: &str,
        size: Option<u64>,
        body: BlobStream,
    ) -> Result<()> {
        self.upload_blob(repository, digest, size, reqwest::Body::wrap_stream(body))
            .await
    }

    async fn put_manifest(&self, repository: &str, reference: &str, manifest: &Manifest) -> Result<()> {
        Registry::put_manifest(self, repository, reference, manifest).await
    }
}

impl<T: Source> Source for &T {
    fn name(&self) -> &str {
        T::name(self)
    }

    async fn manifest(&self, repository: &str, reference: &str) -> Result<Manifest> {
        T::manifest(self, repository, reference).await
    }

    async fn blob(&self, repository: &str, digest: &str) -> Result<BlobStream> {
        T::blob(self, repository, digest).await
    }
}

impl<T: Destination> Destination for &T {
    fn name(&self) -> &str {
        T::name(self)
    }

    async fn has_blob(&self, repository: &str, digest: &str) -> Result<bool> {
        T::has_blob(self, repository, digest).await
    }

    async fn mount_blob(&self, repository: &str, digest: &str, from: &str) -> Result<bool> {
        T::mount_blob(self, repository, digest, from).await
    }

    async fn put_blob(
        &self,
        repository: &str,
        digest: &str,
        size: Option<u64>,
        body: BlobStream,
    ) -> Result<()> {
        T::put_blob(self, repository, digest, size, body).await
    }

    async fn put_manifest(&self, repository: &str, reference: &str, manifest: &Manifest) -> Result<()> {
        T::put_manifest(self, repository, reference, manifest).await
    }
}

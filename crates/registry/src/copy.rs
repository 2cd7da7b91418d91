//! Copying images from a [`Source`] to a [`Destination`] (registry to registry, registry to
//! archive, archive to registry), digests preserved.
//!
//! Every blob is streamed from the source to the destination and hashed on the way. A blob is
//! sent to the destination at most once per run: a second image needing it in the same
//! repository finds it there, one in another repository gets it by a cross-repository mount.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use tokio::sync::{OnceCell, Semaphore};

use crate::client::{Manifest, Registry};
use crate::endpoint::{BoxError, Destination, Source};
use crate::reference::ImageRef;
use crate::{Error, Result};

/// What copying one image did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageCopy {
    /// The image as listed.
    pub image: String,
    /// Digest of its top manifest (the same in both registries).
    pub digest: String,
    /// Media type of its top manifest.
    pub media_type: String,
    /// Size of its top manifest in bytes.
    pub size: u64,
    /// Manifests written (more than one for an index).
    pub manifests: usize,
    /// Blobs sent over the wire.
    pub blobs_copied: usize,
    /// Bytes of those blobs.
    pub bytes_copied: u64,
    /// Blobs the destination repository already had.
    pub blobs_present: usize,
    /// Blobs linked from another repository of the destination.
    pub blobs_mounted: usize,
}

/// The outcome of a whole copy: what was copied and what failed (every image is tried).
#[derive(Debug, Default)]
pub struct CopyReport {
    /// Copied images, in list order.
    pub copied: Vec<ImageCopy>,
    /// Images that could not be copied, with why.
    pub failed: Vec<(String, Error)>,
}

/// Copies images from a source to a destination (by default registry to registry).
#[derive(Debug)]
pub struct Copier<S = Registry, D = Registry> {
    source: S,
    destination: D,
    transfers: Arc<Semaphore>,
    parallel: usize,
    /// Per blob digest: the first destination repository it was made present in this run.
    blobs: Mutex<HashMap<String, Arc<OnceCell<String>>>>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
    #[serde(default)]
    size: Option<u64>,
}

#[derive(Deserialize)]
struct ManifestBody {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

/// The repository a blob is read from and the one it is written to.
#[derive(Clone, Copy)]
struct Repos<'a> {
    from: &'a str,
    to: &'a str,
}

enum BlobOutcome {
    Copied(u64),
    Present,
    Mounted,
}

impl<S: Source, D: Destination> Copier<S, D> {
    /// A copier from `source` to `destination`, running at most `parallel` blob transfers and
    /// images at once.
    pub fn new(source: S, destination: D, parallel: usize) -> Copier<S, D> {
        let parallel = parallel.max(1);
        Copier {
            source,
            destination,
            transfers: Arc::new(Semaphore::new(parallel)),
            parallel,
            blobs: Mutex::new(HashMap::new()),
        }
    }

    /// The destination (e.g. to finish a download's layout).
    pub fn destination(&self) -> &D {
        &self.destination
    }

    /// Copies every image (in parallel); a failed image does not stop the others.
    pub async fn copy_all(&self, images: &[ImageRef]) -> CopyReport {
        let results: Vec<(String, Result<ImageCopy>)> = self.copy_stream(images).collect().await;
        let mut report = CopyReport::default();
        for (image, result) in results {
            match result {
                Ok(copy) => report.copied.push(copy),
                Err(e) => report.failed.push((image, e)),
            }
        }
        report
    }

    /// Copies every image (in parallel), yielding each outcome in list order as it completes,
    /// for progress output.
    pub fn copy_stream<'a>(
        &'a self,
        images: &'a [ImageRef],
    ) -> impl futures::Stream<Item = (String, Result<ImageCopy>)> + 'a {
        futures::stream::iter(images)
            .map(move |image| async move { (image.to_string(), self.copy(image).await) })
            .buffered(self.parallel)
    }

    /// [`Copier::copy_stream`] for images written under another name: each pair is (source
    /// image, destination image), e.g. to push into a namespace of the destination.
    pub fn copy_stream_as<'a>(
        &'a self,
        images: &'a [(ImageRef, ImageRef)],
    ) -> impl futures::Stream<Item = (String, Result<ImageCopy>)> + 'a {
        futures::stream::iter(images)
            .map(move |(from, to)| async move { (to.to_string(), self.copy_as(from, to).await) })
            .buffered(self.parallel)
    }

    /// Copies one image (with every image of an index) and tags it as listed.
    ///
    /// # Errors
    /// The first error of a manifest or blob of the image; the listed tag is written last, so a
    /// failed copy never leaves a tag pointing at incomplete content.
    pub async fn copy(&self, image: &ImageRef) -> Result<ImageCopy> {
        self.copy_as(image, image).await
    }

    /// Copies the image `from` of the source to `to` of the destination (same reference kind:
    /// a tag is written as `to`'s tag).
    ///
    /// # Errors
    /// As [`Copier::copy`].
    pub async fn copy_as(&self, from: &ImageRef, to: &ImageRef) -> Result<ImageCopy> {
        let image = to;
        let repos = Repos {
            from: &from.repository,
            to: &to.repository,
        };
        let repository = &to.repository;
        let top = self.source.manifest(repos.from, &from.reference).await?;
        let mut report = ImageCopy {
            image: image.to_string(),
            digest: top.digest.clone(),
            media_type: top.media_type.clone(),
            size: top.bytes.len() as u64,
            ..ImageCopy::default()
        };
        let what = format!("{}/{from}", self.source.name());
        let body = parse(&top, &what)?;
        if let Some(children) = &body.manifests {
            for child in children {
                let manifest = self.source.manifest(repos.from, &child.digest).await?;
                let child_body = parse(&manifest, &format!("{what} ({})", child.digest))?;
                self.copy_blobs(repos, &child_body, &mut report).await?;
                self.destination
                    .put_manifest(repository, &child.digest, &manifest)
                    .await?;
                report.manifests += 1;
            }
        } else {
            self.copy_blobs(repos, &body, &mut report).await?;
        }
        if !image.is_digest() {
            // By digest first, so the content is addressable even if tagging is refused.
            self.destination
                .put_manifest(repository, &top.digest, &top)
                .await?;
        }
        self.destination
            .put_manifest(repository, &image.reference, &top)
            .await?;
        report.manifests += 1;
        Ok(report)
    }

    async fn copy_blobs(&self, repos: Repos<'_>, body: &ManifestBody, report: &mut ImageCopy) -> Result<()> {
        let blobs: Vec<&Descriptor> = body.config.iter().chain(body.layers.iter().flatten()).collect();
        let outcomes: Vec<BlobOutcome> = futures::stream::iter(blobs)
            .map(|blob| self.copy_blob(repos, &blob.digest, blob.size))
            .buffer_unordered(self.parallel)
            .try_collect()
            .await?;
        for outcome in outcomes {
            match outcome {
                BlobOutcome::Copied(bytes) => {
                    report.blobs_copied += 1;
                    report.bytes_copied += bytes;
                }
                BlobOutcome::Present => report.blobs_present += 1,
                BlobOutcome::Mounted => report.blobs_mounted += 1,
            }
        }
        Ok(())
    }

    async fn copy_blob(&self, repos: Repos<'_>, digest: &str, size: Option<u64>) -> Result<BlobOutcome> {
        let repository = repos.to;
        let cell = {
            let mut blobs = self.blobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            blobs.entry(digest.to_string()).or_default().clone()
        };
        let mut outcome = None;
        let home = cell
            .get_or_try_init(|| async {
                outcome = Some(self.make_present(repos, digest, size).await?);
                Ok::<_, Error>(repository.to_string())
            })
            .await?;
        if let Some(outcome) = outcome {
            return Ok(outcome);
        }
        if home == repository || self.destination.has_blob(repository, digest).await? {
            return Ok(BlobOutcome::Present);
        }
        if self.destination.mount_blob(repository, digest, home).await? {
            return Ok(BlobOutcome::Mounted);
        }
        self.transfer(repos, digest, size).await.map(BlobOutcome::Copied)
    }

    /// The first time a run needs `digest`: skip it when present, else send it.
    async fn make_present(&self, repos: Repos<'_>, digest: &str, size: Option<u64>) -> Result<BlobOutcome> {
        if self.destination.has_blob(repos.to, digest).await? {
            return Ok(BlobOutcome::Present);
        }
        self.transfer(repos, digest, size).await.map(BlobOutcome::Copied)
    }

    /// Streams one blob from the source into the destination, hashing it on the way.
    async fn transfer(&self, repos: Repos<'_>, digest: &str, size: Option<u64>) -> Result<u64> {
        let repository = repos.from;
        let _permit = self.transfers.acquire().await.map_err(|_| Error::Transport {
            registry: self.destination.name().to_string(),
            operation: "copy".into(),
            message: "copy cancelled".into(),
        })?;
        let stream = self.source.blob(repos.from, digest).await?;
        let hasher = Arc::new(Mutex::new(<sha2::Sha256 as sha2::Digest>::new()));
        let counted = Arc::new(AtomicU64::new(0));
        let (h, c) = (hasher.clone(), counted.clone());
        let hashed = stream.inspect_ok(move |chunk| {
            use sha2::Digest;
            h.lock().unwrap_or_else(|p| p.into_inner()).update(chunk);
            c.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        });
        let hashed: crate::endpoint::BlobStream = Box::pin(hashed.map_err(|e: BoxError| e));
        let result = self.destination.put_blob(repos.to, digest, size, hashed).await;
        let actual = {
            use sha2::Digest;
            let hasher = std::mem::take(&mut *hasher.lock().unwrap_or_else(|p| p.into_inner()));
            format!("sha256:{}", crate::hex(&hasher.finalize()))
        };
        if actual != digest && counted.load(Ordering::Relaxed) == size.unwrap_or(u64::MAX) {
            return Err(Error::DigestMismatch {
                what: format!("{}/{repository} blob", self.source.name()),
                expected: digest.to_string(),
                actual,
            });
        }
        result?;
        if actual != digest {
            return Err(Error::DigestMismatch {
                what: format!("{}/{repository} blob", self.source.name()),
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(counted.load(Ordering::Relaxed))
    }
}

fn parse(manifest: &Manifest, what: &str) -> Result<ManifestBody> {
    let body: ManifestBody = serde_json::from_slice(&manifest.bytes).map_err(|e| Error::BadManifest {
        what: what.to_string(),
        message: e.to_string(),
    })?;
    let is_index = body.manifests.is_some()
        || body
            .media_type
            .as_deref()
            .is_some_and(|m| m.contains("index") || m.contains("manifest.list"));
    if !is_index && body.config.is_none() {
        return Err(Error::BadManifest {
            what: what.to_string(),
            message: format!(
                "neither an image manifest nor an index (media type {})",
                manifest.media_type
            ),
        });
    }
    Ok(body)
}

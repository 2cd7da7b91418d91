//! Image archives: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) packed
//! into one tar file, plus `anywhere-contents.json` listing every image with its digest.
//!
//! A download fills a [`LayoutDir`] (a staging directory beside the archive; a re-run after an
//! interruption finds the blobs already there) and [`pack`]s it. An import opens the tar as an
//! [`Archive`]: one pass over the tar headers records where each blob lies, then blobs are
//! streamed straight out of the file, in parallel, without unpacking.
//!
//! The layout is the one `skopeo copy … oci-archive:` reads and writes: each image of the index
//! carries `org.opencontainers.image.ref.name` = `repository:tag` (the path it is pushed to in a
//! mirror) and `io.containerd.image.name` = the full upstream name.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::client::Manifest;
use crate::endpoint::{BlobStream, BoxError, Destination, Source};
use crate::{Error, Result};

/// The annotation naming an image of the index (`repository:tag`).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation with the full upstream image name (containerd's).
pub const IMAGE_NAME: &str = "io.containerd.image.name";
/// The contents file of an archive.
pub const CONTENTS: &str = "anywhere-contents.json";

/// One image of an archive, as its contents file and index list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedImage {
    /// Full upstream name, e.g. `public.ecr.aws/eks-distro/kubernetes/pause:v1.31.0`.
    pub name: String,
    /// `repository:tag` (or `repository@digest`): where an import pushes it.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Digest of its top manifest.
    pub digest: String,
    /// Media type of its top manifest.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Size of its top manifest.
    pub size: u64,
}

/// `anywhere-contents.json`: what an archive holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Contents {
    /// The anywhere version that wrote it.
    pub anywhere: String,
    /// Every image, in list order.
    pub images: Vec<ArchivedImage>,
    /// Number of distinct blobs (layers, configs and manifests).
    pub blobs: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

fn io_error(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.to_string();
    move |e| Error::Archive {
        what,
        message: e.to_string(),
    }
}

fn hex_of(digest: &str) -> Result<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| Error::Reference {
            origin: digest.to_string(),
            message: "not a sha256 digest".into(),
        })
}

/// An OCI image layout directory being filled by a download. Blobs are written to a temporary
/// file, verified against their digest, then renamed into place, so a blob file that exists is
/// complete: a re-run skips it.
#[derive(Debug)]
pub struct LayoutDir {
    root: PathBuf,
    /// Digests (and sizes) used by this run: what [`pack`] puts in the archive.
    used: Mutex<BTreeMap<String, u64>>,
}

impl LayoutDir {
    /// Opens (creating if needed) the layout directory `root`.
    ///
    /// # Errors
    /// [`Error::Archive`] when it cannot be created.
    pub fn create(root: &Path) -> Result<LayoutDir> {
        let blobs = root.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(io_error(blobs.display()))?;
        let marker = root.join("oci-layout");
        std::fs::write(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io_error(marker.display()))?;
        Ok(LayoutDir {
            root: root.to_path_buf(),
            used: Mutex::new(BTreeMap::new()),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.root.join("blobs").join("sha256").join(hex_of(digest)?))
    }

    fn record(&self, digest: &str, size: u64) {
        self.used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest.to_string(), size);
    }

    /// The blobs this run used, with sizes.
    pub fn used(&self) -> BTreeMap<String, u64> {
        self.used.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn write_verified(&self, digest: &str, mut body: BlobStream) -> Result<u64> {
        use sha2::Digest;
        let path = self.path(digest)?;
        let temp = path.with_extension(format!("partial-{}", std::process::id()));
        let mut file = tokio::fs::File::create(&temp)
            .await
            .map_err(io_error(temp.display()))?;
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        let result: Result<()> = async {
            use tokio::io::AsyncWriteExt;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| Error::Archive {
                    what: format!("blob {digest}"),
                    message: format!("reading it failed: {e}"),
                })?;
                hasher.update(&chunk);
                size += chunk.len() as u64;
                file.write_all(&chunk).await.map_err(io_error(temp.display()))?;
            }
            file.flush().await.map_err(io_error(temp.display()))?;
            Ok(())
        }
        .await;
        drop(file);
        let actual = format!("sha256:{}", crate::hex(&hasher.finalize()));
        if result.is_err() || actual != digest {
            let _ = tokio::fs::remove_file(&temp).await;
            result?;
            return Err(Error::DigestMismatch {
                what: format!("blob {digest}"),
                expected: digest.to_string(),
                actual,
            });
        }
        tokio::fs::rename(&temp, &path)
            .await
            .map_err(io_error(path.display()))?;
        Ok(size)
    }
}

impl Destination for LayoutDir {
    fn name(&self) -> &str {
        self.root.to_str().unwrap_or("archive")
    }

    async fn has_blob(&self, _repository: &str, digest: &str) -> Result<bool> {
        match tokio::fs::metadata(self.path(digest)?).await {
            Ok(meta) => {
                self.record(digest, meta.len());
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }

    async fn mount_blob(&self, repository: &str, digest: &str, _from: &str) -> Result<bool> {
        // Blobs of a layout are not per repository.
        self.has_blob(repository, digest).await
    }

    async fn put_blob(
        &self,
        _repository: &str,
        digest: &str,
        _size: Option<u64>,
        body: BlobStream,
    ) -> Result<()> {
        let size = self.write_verified(digest, body).await?;
        self.record(digest, size);
        Ok(())
    }

    async fn put_manifest(&self, _repository: &str, _reference: &str, manifest: &Manifest) -> Result<()> {
        // Tags live in index.json, written by `pack`.
        let path = self.path(&manifest.digest)?;
        if tokio::fs::metadata(&path).await.is_err() {
            let body: BlobStream = Box::pin(futures::stream::once({
                let bytes = manifest.bytes.clone();
                async move { Ok::<_, BoxError>(bytes) }
            }));
            self.write_verified(&manifest.digest, body).await?;
        }
        self.record(&manifest.digest, manifest.bytes.len() as u64);
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct Index {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(Serialize, Deserialize)]
struct IndexEntry {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

/// Packs the blobs `layout` used in this run and an index of `images` into the tar `out`
/// (written to `out.partial`, synced, then renamed: a crash never leaves a truncated archive
/// under the final name). Returns the contents written.
///
/// # Errors
/// [`Error::Archive`] for any write failure.
pub fn pack(layout: &LayoutDir, images: &[ArchivedImage], out: &Path) -> Result<Contents> {
    let used = layout.used();
    let index = Index {
        schema_version: 2,
        media_type: Some("application/vnd.oci.image.index.v1+json".into()),
        manifests: images
            .iter()
            .map(|image| IndexEntry {
                media_type: image.media_type.clone(),
                digest: image.digest.clone(),
                size: image.size,
                annotations: BTreeMap::from([
                    (REF_NAME.to_string(), image.reference.clone()),
                    (IMAGE_NAME.to_string(), image.name.clone()),
                ]),
            })
            .collect(),
    };
    let contents = Contents {
        anywhere: env!("CARGO_PKG_VERSION").to_string(),
        images: images.to_vec(),
        blobs: used.len(),
        bytes: used.values().sum(),
    };
    let partial = out.with_extension("tar.partial");
    let shown = partial.display().to_string();
    let file = std::fs::File::create(&partial).map_err(io_error(&shown))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, file));
    let mut add = |path: &str, size: u64, data: &mut dyn Read| -> Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, data).map_err(io_error(&shown))
    };
    for (path, bytes) in [
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ("index.json", to_json(&index)),
        (CONTENTS, to_json(&contents)),
    ] {
        add(path, bytes.len() as u64, &mut bytes.as_slice())?;
    }
    for (digest, size) in &used {
        let source = layout.path(digest)?;
        let mut file = std::fs::File::open(&source).map_err(io_error(source.display()))?;
        add(&format!("blobs/sha256/{}", hex_of(digest)?), *size, &mut file)?;
    }
    let writer = tar.into_inner().map_err(io_error(&shown))?;
    let file = writer.into_inner().map_err(|e| Error::Archive {
        what: shown.clone(),
        message: e.to_string(),
    })?;
    file.sync_all().map_err(io_error(&shown))?;
    drop(file);
    std::fs::rename(&partial, out).map_err(io_error(out.display()))?;
    Ok(contents)
}

/// Plain structs of strings and numbers always serialise.
fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

/// An image archive opened for reading.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    name: String,
    /// Entry path → (data offset, size).
    entries: HashMap<String, (u64, u64)>,
    images: Vec<ArchivedImage>,
    contents: Option<Contents>,
}

impl Archive {
    /// Opens the tar `path` and reads its index: one pass over the tar headers, no unpacking.
    ///
    /// # Errors
    /// [`Error::Archive`] naming the file when it is not a tar, lacks `index.json`, or an image
    /// of the index has no name.
    pub fn open(path: &Path) -> Result<Archive> {
        let name = path.display().to_string();
        let bad = |message: String| Error::Archive {
            what: name.clone(),
            message,
        };
        let file = std::fs::File::open(path).map_err(io_error(&name))?;
        let mut tar = tar::Archive::new(file);
        let mut entries = HashMap::new();
        for entry in tar
            .entries_with_seek()
            .map_err(|e| bad(format!("not a tar archive: {e}")))?
        {
            let entry = entry.map_err(|e| bad(format!("damaged tar archive: {e}")))?;
            let entry_path = entry
                .path()
                .map_err(|e| bad(format!("bad entry name: {e}")))?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            entries.insert(entry_path, (entry.raw_file_position(), entry.size()));
        }
        let mut archive = Archive {
            path: path.to_path_buf(),
            name: name.clone(),
            entries,
            images: Vec::new(),
            contents: None,
        };
        if !archive.entries.contains_key("oci-layout") || !archive.entries.contains_key("index.json") {
            return Err(bad(
                "not an OCI image archive (no oci-layout or index.json); make one with \
                 `anywhere download images -o FILE`"
                    .into(),
            ));
        }
        let index: Index = serde_json::from_slice(&archive.read_entry("index.json")?)
            .map_err(|e| bad(format!("index.json: {e}")))?;
        for (n, entry) in index.manifests.into_iter().enumerate() {
            let reference = entry
                .annotations
                .get(REF_NAME)
                .filter(|r| r.contains('/') || r.contains(':') || r.contains('@'))
                .or_else(|| entry.annotations.get(IMAGE_NAME))
                .ok_or_else(|| {
                    bad(format!(
                        "index.json: manifests[{n}] has no image name (annotation {REF_NAME} as \
                         repository:tag, or {IMAGE_NAME})"
                    ))
                })?;
            let image = crate::ImageRef::parse(reference, &format!("{name}: index.json manifests[{n}]"))?;
            archive.images.push(ArchivedImage {
                name: entry
                    .annotations
                    .get(IMAGE_NAME)
                    .cloned()
                    .unwrap_or_else(|| reference.clone()),
                reference: image.to_string(),
                digest: entry.digest,
                media_type: entry.media_type,
                size: entry.size,
            });
        }
        if archive.entries.contains_key(CONTENTS) {
            let contents: Contents = serde_json::from_slice(&archive.read_entry(CONTENTS)?)
                .map_err(|e| bad(format!("{CONTENTS}: {e}")))?;
            archive.contents = Some(contents);
        }
        Ok(archive)
    }

    /// The images of the index.
    pub fn images(&self) -> &[ArchivedImage] {
        &self.images
    }

    /// The contents file, when the archive has one (archives of other tools may not).
    pub fn contents(&self) -> Option<&Contents> {
        self.contents.as_ref()
    }

    fn read_entry(&self, entry: &str) -> Result<Vec<u8>> {
        let (offset, size) = self.entries.get(entry).copied().ok_or_else(|| Error::Archive {
            what: self.name.clone(),
            message: format!("{entry} is missing"),
        })?;
        let mut file = std::fs::File::open(&self.path).map_err(io_error(&self.name))?;
        file.seek(SeekFrom::Start(offset)).map_err(io_error(&self.name))?;
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(size)
            .read_to_end(&mut bytes)
            .map_err(io_error(&self.name))?;
        if bytes.len() as u64 != size {
            return Err(Error::Archive {
                what: self.name.clone(),
                message: format!("{entry} is truncated"),
            });
        }
        Ok(bytes)
    }

    fn blob_entry(&self, digest: &str) -> Result<(u64, u64)> {
        let entry = format!("blobs/sha256/{}", hex_of(digest)?);
        self.entries.get(&entry).copied().ok_or_else(|| Error::NotFound {
            registry: self.name.clone(),
            what: format!("blob {digest}"),
        })
    }

    /// Every blob the archive's images need is present with the size their manifests give;
    /// returns how many blobs that is. Cheap (no hashing): the digests are checked while
    /// importing.
    ///
    /// # Errors
    /// The first missing or mis-sized blob.
    pub fn check_complete(&self) -> Result<usize> {
        let mut seen = BTreeSet::new();
        let mut pending: Vec<(String, u64)> =
            self.images.iter().map(|i| (i.digest.clone(), i.size)).collect();
        while let Some((digest, size)) = pending.pop() {
            if !seen.insert(digest.clone()) {
                continue;
            }
            let (_, actual) = self.blob_entry(&digest)?;
            if actual != size {
                return Err(Error::Archive {
                    what: self.name.clone(),
                    message: format!("blob {digest} has {actual} bytes, its descriptor says {size}"),
                });
            }
            if actual > 4 << 20 {
                continue;
            }
            let bytes = self.read_entry(&format!("blobs/sha256/{}", hex_of(&digest)?))?;
            if let Ok(body) = serde_json::from_slice::<ManifestLinks>(&bytes) {
                for d in body
                    .manifests
                    .into_iter()
                    .flatten()
                    .chain(body.config)
                    .chain(body.layers.into_iter().flatten())
                {
                    pending.push((d.digest, d.size));
                }
            }
        }
        Ok(seen.len())
    }
}

#[derive(Deserialize)]
struct Link {
    digest: String,
    size: u64,
}

#[derive(Deserialize)]
struct ManifestLinks {
    #[serde(default)]
    manifests: Option<Vec<Link>>,
    #[serde(default)]
    config: Option<Link>,
    #[serde(default)]
    layers: Option<Vec<Link>>,
}

impl Source for Archive {
    fn name(&self) -> &str {
        &self.name
    }

    async fn manifest(&self, repository: &str, reference: &str) -> Result<Manifest> {
        let (digest, media_type) = if reference.starts_with("sha256:") {
            (reference.to_string(), None)
        } else {
            let wanted = format!("{repository}:{reference}");
            let image = self
                .images
                .iter()
                .find(|i| i.reference == wanted)
                .ok_or_else(|| Error::NotFound {
                    registry: self.name.clone(),
                    what: format!("image {wanted}"),
                })?;
            (image.digest.clone(), Some(image.media_type.clone()))
        };
        self.blob_entry(&digest)?;
        let bytes = Bytes::from(self.read_entry(&format!("blobs/sha256/{}", hex_of(&digest)?))?);
        let actual = crate::digest_of(&bytes);
        if actual != digest {
            return Err(Error::DigestMismatch {
                what: format!("{}: manifest {repository}@{digest}", self.name),
                expected: digest,
                actual,
            });
        }
        let media_type = media_type.unwrap_or_else(|| {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_string))
                .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into())
        });
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    async fn blob(&self, _repository: &str, digest: &str) -> Result<BlobStream> {
        let (offset, size) = self.blob_entry(digest)?;
        let mut file = tokio::fs::File::open(&self.path)
            .await
            .map_err(io_error(&self.name))?;
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(io_error(&self.name))?;
        let reader = file.take(size);
        let stream = tokio_util::io::ReaderStream::with_capacity(reader, 256 << 10);
        Ok(Box::pin(stream.map(|r| r.map_err(|e| Box::new(e) as BoxError))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Copier, ImageRef, digest_of};

    fn stream(bytes: &[u8]) -> BlobStream {
        let bytes = Bytes::copy_from_slice(bytes);
        Box::pin(futures::stream::once(async move { Ok::<_, BoxError>(bytes) }))
    }

    /// A layout holding one image (`a layer`, a config, a manifest), packed into `images.tar`.
    async fn packed(dir: &Path) -> (PathBuf, ArchivedImage, String) {
        let layout = LayoutDir::create(&dir.join("staging")).unwrap();
        let layer = b"a layer".repeat(1000);
        let config = br#"{"os":"linux"}"#;
        for blob in [&layer[..], &config[..]] {
            layout
                .put_blob("r", &digest_of(blob), None, stream(blob))
                .await
                .unwrap();
        }
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
            digest_of(config),
            config.len(),
            digest_of(&layer),
            layer.len()
        );
        let manifest = Manifest {
            digest: digest_of(body.as_bytes()),
            bytes: Bytes::from(body),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        };
        layout.put_manifest("r", "v1", &manifest).await.unwrap();
        let image = ArchivedImage {
            name: "public.ecr.aws/eks-anywhere/r:v1".into(),
            reference: "eks-anywhere/r:v1".into(),
            digest: manifest.digest.clone(),
            media_type: manifest.media_type.clone(),
            size: manifest.bytes.len() as u64,
        };
        let out = dir.join("images.tar");
        let contents = pack(&layout, std::slice::from_ref(&image), &out).unwrap();
        assert_eq!(contents.blobs, 3);
        (out, image, digest_of(&layer))
    }

    #[tokio::test]
    async fn a_packed_layout_reads_back_and_copies_with_digests_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (out, image, _) = packed(dir.path()).await;
        let archive = Archive::open(&out).unwrap();
        assert_eq!(archive.images(), std::slice::from_ref(&image));
        assert_eq!(archive.contents().unwrap().images.len(), 1);
        assert_eq!(archive.check_complete().unwrap(), 3);
        // Copy it out of the archive into a second layout: every blob arrives, verified.
        let second = LayoutDir::create(&dir.path().join("second")).unwrap();
        let copier = Copier::new(&archive, &second, 4);
        let report = copier
            .copy_all(&[ImageRef::parse("eks-anywhere/r:v1", "test").unwrap()])
            .await;
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert_eq!(report.copied[0].digest, image.digest);
        assert_eq!(report.copied[0].blobs_copied, 2);
        assert_eq!(second.used().len(), 3);
    }

    #[tokio::test]
    async fn a_damaged_blob_is_refused_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (out, _, layer) = packed(dir.path()).await;
        // Flip one byte of the layer inside the tar.
        let archive = Archive::open(&out).unwrap();
        let (offset, _) = archive.blob_entry(&layer).unwrap();
        let mut bytes = std::fs::read(&out).unwrap();
        bytes[offset as usize + 3] ^= 0xff;
        std::fs::write(&out, &bytes).unwrap();
        let archive = Archive::open(&out).unwrap();
        let second = LayoutDir::create(&dir.path().join("second")).unwrap();
        let report = Copier::new(&archive, &second, 1)
            .copy_all(&[ImageRef::parse("eks-anywhere/r:v1", "test").unwrap()])
            .await;
        assert!(
            matches!(&report.failed[0].1, Error::DigestMismatch { expected, .. } if *expected == layer),
            "{:?}",
            report.failed
        );
        // The destination kept nothing of it.
        assert!(!second.path(&layer).unwrap().exists());

        // An archive without the layer: the check names it.
        let mut archive = Archive::open(&out).unwrap();
        archive.entries.retain(|path, _| !path.ends_with(&layer[7..]));
        let error = archive.check_complete().unwrap_err().to_string();
        assert!(error.contains(&layer) && error.contains("not found"), "{error}");
    }

    #[tokio::test]
    async fn a_layout_refuses_bytes_that_do_not_match_their_digest() {
        let dir = tempfile::tempdir().unwrap();
        let layout = LayoutDir::create(dir.path()).unwrap();
        let wrong = digest_of(b"something else");
        let error = layout
            .put_blob("r", &wrong, None, stream(b"these bytes"))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::DigestMismatch { .. }), "{error}");
        assert!(!layout.has_blob("r", &wrong).await.unwrap());
        assert_eq!(
            std::fs::read_dir(dir.path().join("blobs/sha256"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn junk_is_not_an_archive() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.tar");
        std::fs::write(&junk, b"just words").unwrap();
        let error = Archive::open(&junk).unwrap_err().to_string();
        assert!(error.starts_with(&junk.display().to_string()), "{error}");
    }
}

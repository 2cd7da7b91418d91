//! Where served files come from: the [`FileSource`] port, a directory implementation that refuses
//! to leave its root, and an in-memory implementation for generated files and iPXE binaries.
//!
//! This module is an edge: [`DirSource`] touches the file system. The transfer state machine only
//! sees the trait.

use std::collections::HashMap;
use std::io::{Cursor, Read, Seek};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Why a file cannot be served; each variant maps to one TFTP error code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such file (TFTP error 1).
    #[error("file {name} not found")]
    NotFound {
        /// The requested name.
        name: String,
    },
    /// The name escapes the root, is absolute, or is not a regular file (TFTP error 2).
    #[error("access to {name} refused: {reason}")]
    AccessDenied {
        /// The requested name.
        name: String,
        /// Which rule refused it.
        reason: &'static str,
    },
    /// Opening or inspecting the file failed (TFTP error 0).
    #[error("failed to open {name}")]
    Io {
        /// The requested name.
        name: String,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
}

/// An opened file and its size, as the transfer needs them.
#[derive(Debug)]
pub struct OpenFile<F> {
    /// The file contents.
    pub reader: F,
    /// The size in bytes, reported to clients asking for `tsize`.
    pub size_bytes: u64,
}

/// The files a server offers. Implementations decide which names exist; the server never joins
/// paths itself.
pub trait FileSource: Send + Sync + 'static {
    /// The reader handed to a transfer.
    type File: Read + Seek + Send + 'static;

    /// Opens `name` as requested by a client.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::AccessDenied`] or [`Error::Io`].
    fn open(&self, name: &str) -> Result<OpenFile<Self::File>, Error>;
}

/// Checks a client-supplied name before it goes near a path: relative, no `..`, no NUL, no
/// backslash (which some firmware uses as a separator), not empty.
fn check_name(name: &str) -> Result<&Path, Error> {
    let refuse = |reason| {
        Err(Error::AccessDenied {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("empty file name");
    }
    if name.contains('\0') || name.contains('\\') {
        return refuse("file name contains NUL or backslash");
    }
    let path = Path::new(name);
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return refuse("file name contains `..`"),
            Component::RootDir | Component::Prefix(_) => return refuse("absolute file name"),
        }
    }
    Ok(path)
}

/// Serves regular files below a root directory.
///
/// Guarantees: absolute names, `..` components and names that resolve (through symlinks) to a
/// path outside the root are refused with [`Error::AccessDenied`]. Assumption: nobody hostile can
/// rename files inside the root while it is served (the check and the open are two steps).
#[derive(Debug, Clone)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// Serves files below `root`.
    ///
    /// # Errors
    /// [`Error::Io`] when `root` cannot be resolved.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, Error> {
        let root = root.as_ref();
        let root = root.canonicalize().map_err(|source| Error::Io {
            name: root.display().to_string(),
            source,
        })?;
        Ok(DirSource { root })
    }

    /// The resolved root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl FileSource for DirSource {
    type File = std::fs::File;

    fn open(&self, name: &str) -> Result<OpenFile<Self::File>, Error> {
        let relative = check_name(name)?;
        let io = |source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound {
                    name: name.to_owned(),
                }
            } else {
                Error::Io {
                    name: name.to_owned(),
                    source,
                }
            }
        };
        let resolved = self.root.join(relative).canonicalize().map_err(io)?;
        if !resolved.starts_with(&self.root) {
            return Err(Error::AccessDenied {
                name: name.to_owned(),
                reason: "path resolves outside the root",
            });
        }
        // Open the resolved path so the file served is the one that was checked.
        let file = std::fs::File::open(&resolved).map_err(io)?;
        let metadata = file.metadata().map_err(io)?;
        if !metadata.is_file() {
            return Err(Error::AccessDenied {
                name: name.to_owned(),
                reason: "not a regular file",
            });
        }
        Ok(OpenFile {
            reader: file,
            size_bytes: metadata.len(),
        })
    }
}

/// Serves byte buffers by exact name: generated files (iPXE scripts) and loaded binaries.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    files: HashMap<String, Arc<[u8]>>,
}

impl MemorySource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces `name`.
    pub fn insert(&mut self, name: impl Into<String>, contents: impl Into<Arc<[u8]>>) {
        self.files.insert(name.into(), contents.into());
    }

    /// Adds `name` and returns the source, for building in one expression.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, contents: impl Into<Arc<[u8]>>) -> Self {
        self.insert(name, contents);
        self
    }

    /// Whether `name` is served.
    pub fn contains(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }
}

impl FileSource for MemorySource {
    type File = Cursor<Arc<[u8]>>;

    fn open(&self, name: &str) -> Result<OpenFile<Self::File>, Error> {
        let contents = self.files.get(name).ok_or_else(|| Error::NotFound {
            name: name.to_owned(),
        })?;
        Ok(OpenFile {
            reader: Cursor::new(Arc::clone(contents)),
            size_bytes: contents.len() as u64,
        })
    }
}

/// Tries `first`, then `second` when `first` has no such file: for example iPXE binaries in a
/// [`MemorySource`] in front of a [`DirSource`] of kernels and scripts. Refusals (access
/// denied, I/O) from `first` are final, so a name `first` refuses is never looked up in `second`.
#[derive(Debug, Clone)]
pub struct Layered<A, B> {
    /// Consulted first.
    pub first: A,
    /// Consulted when `first` reports [`Error::NotFound`].
    pub second: B,
}

/// The reader of a [`Layered`] source: whichever layer had the file.
#[derive(Debug)]
pub enum LayeredFile<A, B> {
    /// From [`Layered::first`].
    First(A),
    /// From [`Layered::second`].
    Second(B),
}

impl<A: Read, B: Read> Read for LayeredFile<A, B> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            LayeredFile::First(a) => a.read(buf),
            LayeredFile::Second(b) => b.read(buf),
        }
    }
}

impl<A: Seek, B: Seek> Seek for LayeredFile<A, B> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        match self {
            LayeredFile::First(a) => a.seek(pos),
            LayeredFile::Second(b) => b.seek(pos),
        }
    }
}

impl<A: FileSource, B: FileSource> FileSource for Layered<A, B> {
    type File = LayeredFile<A::File, B::File>;

    fn open(&self, name: &str) -> Result<OpenFile<Self::File>, Error> {
        match self.first.open(name) {
            Ok(OpenFile { reader, size_bytes }) => Ok(OpenFile {
                reader: LayeredFile::First(reader),
                size_bytes,
            }),
            Err(Error::NotFound { .. }) => {
                let OpenFile { reader, size_bytes } = self.second.open(name)?;
                Ok(OpenFile {
                    reader: LayeredFile::Second(reader),
                    size_bytes,
                })
            }
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with_file() -> (tempfile::TempDir, DirSource) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/boot.ipxe"), b"#!ipxe\n").unwrap();
        let source = DirSource::new(dir.path()).unwrap();
        (dir, source)
    }

    fn is_denied(result: Result<OpenFile<std::fs::File>, Error>) -> bool {
        matches!(result, Err(Error::AccessDenied { .. }))
    }

    #[test]
    fn dir_source_serves_file_in_subdirectory_with_size() {
        let (_dir, source) = root_with_file();
        let opened = source.open("sub/boot.ipxe").unwrap();
        assert_eq!(opened.size_bytes, 7);
        assert_eq!(source.open("./sub/boot.ipxe").unwrap().size_bytes, 7);
    }

    #[test]
    fn dir_source_refuses_parent_traversal() {
        let (_dir, source) = root_with_file();
        assert!(is_denied(source.open("../etc/passwd")));
        assert!(is_denied(source.open("sub/../../etc/passwd")));
        assert!(is_denied(source.open("sub/../sub/boot.ipxe")));
    }

    #[test]
    fn dir_source_refuses_absolute_and_odd_names() {
        let (_dir, source) = root_with_file();
        assert!(is_denied(source.open("/etc/passwd")));
        assert!(is_denied(source.open("")));
        assert!(is_denied(source.open("sub\\boot.ipxe")));
        assert!(is_denied(source.open("a\0b")));
    }

    #[test]
    fn dir_source_refuses_symlink_out_of_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"x").unwrap();
        let (dir, source) = root_with_file();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linkdir")).unwrap();
        assert!(is_denied(source.open("link")));
        assert!(is_denied(source.open("linkdir/secret")));
    }

    #[test]
    fn dir_source_follows_symlink_inside_root() {
        let (dir, source) = root_with_file();
        std::os::unix::fs::symlink(dir.path().join("sub/boot.ipxe"), dir.path().join("alias")).unwrap();
        assert_eq!(source.open("alias").unwrap().size_bytes, 7);
    }

    #[test]
    fn dir_source_reports_missing_file_and_refuses_directories() {
        let (_dir, source) = root_with_file();
        assert!(matches!(source.open("nope"), Err(Error::NotFound { .. })));
        assert!(is_denied(source.open("sub")));
    }

    #[test]
    fn layered_source_falls_back_only_when_first_has_no_such_file() {
        let (_dir, dir_source) = root_with_file();
        let memory = MemorySource::new()
            .with("ipxe.efi", b"efi".to_vec())
            .with("sub/boot.ipxe", b"mem".to_vec());
        let layered = Layered {
            first: memory,
            second: dir_source,
        };
        let mut text = String::new();
        layered
            .open("sub/boot.ipxe")
            .unwrap()
            .reader
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "mem", "first layer wins");
        assert_eq!(layered.open("ipxe.efi").unwrap().size_bytes, 3);
        let swapped = Layered {
            first: layered.second.clone(),
            second: layered.first.clone(),
        };
        assert!(
            matches!(swapped.open("../x"), Err(Error::AccessDenied { .. })),
            "refusal is final"
        );
        assert!(matches!(
            swapped.open("ipxe.efi"),
            Ok(OpenFile { size_bytes: 3, .. })
        ));
        assert!(matches!(swapped.open("nope"), Err(Error::NotFound { .. })));
    }

    #[test]
    fn memory_source_serves_exact_names_only() {
        let source = MemorySource::new().with("auto.ipxe", b"#!ipxe\n".to_vec());
        assert_eq!(source.open("auto.ipxe").unwrap().size_bytes, 7);
        assert!(matches!(source.open("/auto.ipxe"), Err(Error::NotFound { .. })));
    }
}

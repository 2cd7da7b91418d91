//! The one port of this crate: how the loader gets the bytes behind a URL.
//!
//! The catalog never opens files or sockets. The CLI implements [`Fetch`] over the file system
//! (and, later, HTTPS); tests implement it with a closure over a map.

use std::error::Error as StdError;
use std::io;
use std::path::{Component, Path};
use std::sync::Arc;

/// Returns the bytes a manifest URL names.
///
/// Implemented for every `Fn(&str) -> Result<Vec<u8>, FetchError>`, so a closure is a fetcher.
pub trait Fetch {
    /// Fetches `url`.
    ///
    /// # Errors
    /// [`FetchError::NotFound`] when nothing is there, [`FetchError::Unsupported`] when this
    /// fetcher does not handle the URL's scheme, [`FetchError::Failed`] otherwise.
    fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError>;
}

impl<F> Fetch for F
where
    F: Fn(&str) -> Result<Vec<u8>, FetchError>,
{
    fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self(url)
    }
}

/// Why a [`Fetch`] failed. Cheap to clone, so a catalog can keep it per version.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FetchError {
    /// Nothing is at that URL (a missing file, an HTTP 404).
    #[error("not found")]
    NotFound,
    /// The fetcher does not handle this kind of URL (e.g. `https://` when offline).
    #[error("this fetcher does not handle the url")]
    Unsupported,
    /// Any other failure (permissions, I/O, network).
    #[error(transparent)]
    Failed(Arc<dyn StdError + Send + Sync>),
}

impl FetchError {
    /// Wraps any error as [`FetchError::Failed`].
    pub fn failed(error: impl StdError + Send + Sync + 'static) -> Self {
        FetchError::Failed(Arc::new(error))
    }

    /// Whether nothing was found at the URL.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FetchError::NotFound)
    }
}

impl From<io::Error> for FetchError {
    /// A missing file becomes [`FetchError::NotFound`]; every other I/O error is kept as
    /// [`FetchError::Failed`].
    fn from(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::NotFound {
            FetchError::NotFound
        } else {
            FetchError::failed(error)
        }
    }
}

/// The URL prefix EKS Anywhere uses for files embedded in its binary (and in its test fixtures).
pub const EMBED_PREFIX: &str = "embed:///";

/// Maps an `embed:///<path>` URL to `<path>`, relative to the embedded file system's root.
///
/// In the reference the root is the directory `internal/test/` of its repository, so
/// `embed:///testdata/bundles.yaml` names `internal/test/testdata/bundles.yaml`; a fetcher over
/// the conformance pack joins the result to `…/testdata/internal/test/`.
///
/// Returns `None` for any other URL and for paths that are empty, absolute after the prefix, or
/// that contain `.`/`..` segments or backslashes, so the result can never leave the root.
pub fn embed_relative_path(url: &str) -> Option<&Path> {
    let rest = url.strip_prefix(EMBED_PREFIX)?;
    if rest.is_empty()
        || rest.contains('\\')
        || rest.split('/').any(|s| s.is_empty() || s == "." || s == "..")
    {
        return None;
    }
    let path = Path::new(rest);
    path.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_urls_map_to_relative_paths() {
        for (url, want) in [
            ("embed:///testdata/bundles.yaml", Some("testdata/bundles.yaml")),
            (
                "embed:///config/eksa-components.yaml",
                Some("config/eksa-components.yaml"),
            ),
            ("embed:///x", Some("x")),
            ("embed:///", None),
            ("embed:////etc/passwd", None),
            ("embed:///testdata/../../etc/passwd", None),
            ("embed:///./testdata/bundles.yaml", None),
            ("embed:///testdata//bundles.yaml", None),
            ("embed:///testdata\\bundles.yaml", None),
            (
                "https://distro.eks.amazonaws.com/kubernetes-1-29/kubernetes-1-29-eks-4.yaml",
                None,
            ),
            ("testdata/bundles.yaml", None),
        ] {
            assert_eq!(embed_relative_path(url), want.map(Path::new), "{url}");
        }
    }

    #[test]
    fn missing_file_is_not_found_and_other_io_errors_are_kept() {
        assert!(FetchError::from(io::Error::from(io::ErrorKind::NotFound)).is_not_found());
        let denied = FetchError::from(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(matches!(denied, FetchError::Failed(_)));
        assert_eq!(
            denied.to_string(),
            io::Error::from(io::ErrorKind::PermissionDenied).to_string()
        );
    }

    #[test]
    fn closures_are_fetchers() {
        let fetch = |url: &str| {
            if url == "a" {
                Ok(b"x".to_vec())
            } else {
                Err(FetchError::NotFound)
            }
        };
        assert_eq!(fetch.fetch("a").unwrap(), b"x");
        assert!(fetch.fetch("b").unwrap_err().is_not_found());
    }
}

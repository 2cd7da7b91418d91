//! The crate's one error type.

use std::fmt;

use anywhere_api::document;

use crate::fetch::FetchError;
use crate::kube_version::KubeVersion;

/// Which manifest of the release chain a failure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ManifestKind {
    /// The EKS Anywhere release list (`anywhere.eks.amazonaws.com/v1alpha1`, kind `Release`).
    ReleaseList,
    /// The component catalog (`anywhere.eks.amazonaws.com/v1alpha1`, kind `Bundles`).
    Bundles,
    /// An EKS Distro release (`distro.eks.amazonaws.com/v1alpha1`, kind `Release`).
    EksdRelease,
}

impl ManifestKind {
    /// The `apiVersion` a document of this kind carries.
    pub fn api_version(self) -> &'static str {
        match self {
            ManifestKind::ReleaseList | ManifestKind::Bundles => "anywhere.eks.amazonaws.com/v1alpha1",
            ManifestKind::EksdRelease => crate::eksd::API_VERSION,
        }
    }

    /// The `kind` a document of this kind carries.
    pub fn kind(self) -> &'static str {
        match self {
            ManifestKind::ReleaseList | ManifestKind::EksdRelease => "Release",
            ManifestKind::Bundles => "Bundles",
        }
    }
}

impl fmt::Display for ManifestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ManifestKind::ReleaseList => "release list",
            ManifestKind::Bundles => "bundles",
            ManifestKind::EksdRelease => "eks-d release",
        })
    }
}

/// Formats the optional origin (URL) of a manifest for a message: `" <url>"` or nothing.
fn at(origin: &Option<String>) -> String {
    origin.as_ref().map(|o| format!(" {o}")).unwrap_or_default()
}

/// Everything that can go wrong while loading or querying the catalog.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manifest the chain needs could not be fetched.
    #[error("failed to fetch {url}")]
    Fetch {
        /// The URL handed to [`Fetch`](crate::Fetch).
        url: String,
        /// Why the fetch failed.
        #[source]
        source: FetchError,
    },

    /// A manifest is not valid YAML, is too large, or does not decode (the source names the field
    /// path of the first problem).
    #[error("invalid {manifest} manifest{}", at(origin))]
    Parse {
        /// Which manifest.
        manifest: ManifestKind,
        /// Where it came from, when known.
        origin: Option<String>,
        /// The reading failure, with line or field path.
        #[source]
        source: document::Error,
    },

    /// A manifest file holds no document or more than one.
    #[error("expected one {manifest} document{}, found {found}", at(origin))]
    DocumentCount {
        /// Which manifest.
        manifest: ManifestKind,
        /// Where it came from, when known.
        origin: Option<String>,
        /// How many non-empty documents the file has.
        found: usize,
    },

    /// A document is of another kind than the chain step expects.
    #[error(
        "expected a {manifest} manifest{} ({} {}), found apiVersion {api_version:?} kind {kind:?}",
        at(origin), manifest.api_version(), manifest.kind()
    )]
    UnexpectedKind {
        /// What was expected.
        manifest: ManifestKind,
        /// Where it came from, when known.
        origin: Option<String>,
        /// The document's `apiVersion` (empty when absent).
        api_version: String,
        /// The document's `kind` (empty when absent).
        kind: String,
    },

    /// A field the chain needs is absent or empty.
    #[error("{manifest} manifest{} has no {field}", at(origin))]
    MissingField {
        /// Which manifest.
        manifest: ManifestKind,
        /// Where it came from, when known.
        origin: Option<String>,
        /// Field path, e.g. `spec.versionsBundles[2].kubeVersion`.
        field: String,
    },

    /// The release list has no entry for the CLI version.
    #[error("the release list has no release {version}{}", if available.is_empty() {
        String::new()
    } else {
        format!(" (it has {})", available.join(", "))
    })]
    ReleaseNotFound {
        /// The CLI version looked up.
        version: String,
        /// The versions the release list does have.
        available: Vec<String>,
    },

    /// A versions bundle's `kubeVersion` is not a `MAJOR.MINOR` version.
    #[error("bundles manifest: {field} is {value:?}, not a kubernetes version such as \"1.31\"")]
    InvalidBundleKubeVersion {
        /// Field path, e.g. `spec.versionsBundles[0].kubeVersion`.
        field: String,
        /// The value found.
        value: String,
    },

    /// A versions bundle's `kubeVersion` is an unquoted number, which YAML reads as a float
    /// (`1.30` is `1.3`).
    #[error("bundles manifest: {field} is the number {value}, not a quoted string")]
    UnquotedKubeVersion {
        /// Field path, e.g. `spec.versionsBundles[0].kubeVersion`.
        field: String,
        /// The number as YAML read it.
        value: String,
    },

    /// Two versions bundles have the same `kubeVersion`.
    #[error("bundles manifest lists kubernetes version {version} more than once")]
    DuplicateKubeVersion {
        /// The repeated version.
        version: KubeVersion,
    },

    /// The catalog has no versions bundle for this Kubernetes version.
    #[error("unsupported kubernetes version {version:?}; supported versions are {}", supported.join(", "))]
    UnsupportedKubernetesVersion {
        /// The version asked for, as written.
        version: String,
        /// The versions the catalog has, ascending.
        supported: Vec<String>,
    },

    /// The versions bundle exists but its EKS Distro release manifest could not be loaded.
    #[error("the eks-d release manifest for kubernetes {version} is not available{}", match url {
        Some(url) => format!(" ({url})"),
        None => " (the versions bundle has no eksD.manifestUrl)".to_string(),
    })]
    EksdUnavailable {
        /// The Kubernetes version.
        version: KubeVersion,
        /// The bundle's `eksD.manifestUrl`, if it has one.
        url: Option<String>,
        /// Why fetching it failed, if it was tried.
        #[source]
        reason: Option<FetchError>,
    },

    /// An EKS Distro release's channel does not belong to the versions bundle that names it.
    #[error("eks-d release {url} has channel {channel:?}, which is not kubernetes {version}")]
    EksdChannelMismatch {
        /// The versions bundle's Kubernetes version.
        version: KubeVersion,
        /// The release's `spec.channel`.
        channel: String,
        /// Where the release came from.
        url: String,
    },

    /// An EKS Distro release lacks image assets that a cluster needs.
    #[error("eks-d release {channel:?} has no image asset {}", assets.join(", "))]
    MissingEksdAssets {
        /// The release's `spec.channel`.
        channel: String,
        /// The missing asset names, in the order of [`REQUIRED_IMAGE_ASSETS`](crate::REQUIRED_IMAGE_ASSETS).
        assets: Vec<&'static str>,
    },
}

impl Error {
    /// A suggestion for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Parse { source, .. } => source.hint().map(str::to_string),
            Error::UnquotedKubeVersion { .. } => {
                Some("quote the version, e.g. kubeVersion: \"1.30\"".to_string())
            }
            Error::UnsupportedKubernetesVersion { supported, .. } => supported
                .last()
                .map(|latest| format!("set kubernetesVersion to a supported version, e.g. \"{latest}\"")),
            Error::EksdUnavailable { .. } => Some(
                "check the versions bundle's eksD.manifestUrl, or provide that manifest to the fetcher"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The release catalog: for each supported Kubernetes version, which EKS Distro (EKS-D) release
//! and which component images (Cluster API providers, CNI, etcdadm, Tinkerbell, ...) a cluster
//! uses.
//!
//! Purpose: answer "what does a 1.31 cluster run?" for manifest generation, for the air-gapped
//! image download and for `anywhere validate`. The answer is a [`Catalog`]: an EKS Anywhere
//! `Bundles` object (its `versionsBundles`, one per Kubernetes version) plus the EKS-D release
//! manifest each versions bundle names, from which [`KubeDistro`] derives the Kubernetes, etcd,
//! CoreDNS and pause images the reference's `buildKubeDistro` would.
//!
//! Where a catalog comes from:
//! - [`Catalog::embedded`]: data compiled into the binary (`data/`, Kubernetes 1.30 to 1.36);
//! - [`Catalog::from_bundles_yaml`]: a user's Bundles file (`--bundles-override`, air-gapped
//!   installs), decoded strictly;
//! - [`Catalog::from_release_manifest`]: the reference's chain release list -> Bundles -> EKS-D,
//!   as the conformance fixtures use it, decoded leniently.
//!
//! Boundary: this crate is pure. It never reads files, environment variables or the network;
//! callers pass bytes, and where the chain names another manifest by URL they pass a [`Fetch`]
//! implementation (the CLI's reads files; `embed:///` URLs map to paths with
//! [`embed_relative_path`]). A manifest that cannot be fetched for one Kubernetes version is
//! recorded for that version ([`EksdManifest::Unavailable`]) and does not stop the others.
//!
//! It must not: depend on tokio, an HTTP client, kube or `std::fs`; render manifests (that is
//! `manifests`); copy images (that is `registry`); verify bundle signatures or digests (digests
//! are not pinned in the embedded data).
//!
//! ```
//! use anywhere_catalog::{Catalog, FetchError};
//!
//! let catalog = Catalog::embedded();
//! let version = catalog.check_kubernetes_version("1.31")?;
//! let distro = catalog.kube_distro(version)?;
//! assert_eq!(distro.kubernetes.repository, "public.ecr.aws/eks-distro/kubernetes");
//! assert!(catalog.check_kubernetes_version("1.29").unwrap_err().to_string().contains("1.30, 1.31"));
//!
//! // A `--bundles-override` file: EKS-D manifests come through a fetcher the caller owns.
//! let offline = |_url: &str| -> Result<Vec<u8>, FetchError> { Err(FetchError::Unsupported) };
//! let text = "apiVersion: anywhere.eks.amazonaws.com/v1alpha1\nkind: Bundles\nspec:\n  versionsBundles:\n  - kubeVersion: \"1.31\"\n";
//! let custom = Catalog::from_bundles_yaml(text.as_bytes(), &offline)?;
//! assert!(custom.versions_bundle(version).is_ok());
//! assert!(custom.kube_distro(version).is_err()); // no eksD.manifestUrl
//! # Ok::<(), anywhere_catalog::Error>(())
//! ```
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod catalog;
pub mod eksd;
mod embedded;
mod error;
mod fetch;
pub mod generated;
mod image;
mod images;
mod kube_distro;
mod kube_version;
mod manifest;

pub use catalog::{BUNDLES_NAMESPACE, Catalog, EksdManifest};
pub use error::{Error, ManifestKind, Result};
pub use fetch::{EMBED_PREFIX, Fetch, FetchError, embed_relative_path};
pub use image::{Image, VersionedRepository};
pub use images::{CatalogImage, ImageSource};
pub use kube_distro::{
    AWS_IAM_AUTHENTICATOR_IMAGE, COREDNS_IMAGE, ETCD_IMAGE, EksdRef, KUBE_APISERVER_IMAGE, KUBE_PROXY_IMAGE,
    KubeDistro, PAUSE_IMAGE, REQUIRED_IMAGE_ASSETS,
};
pub use kube_version::{KubeVersion, ParseKubeVersionError};

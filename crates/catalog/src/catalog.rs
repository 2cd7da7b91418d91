//! The catalog: a Bundles object plus the EKS Distro release of each of its versions bundles, and
//! the three ways to build one (embedded data, a `--bundles-override` file, the reference's
//! release chain).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use anywhere_api::document::Fields;
use anywhere_api::meta::Resource;

use crate::eksd;
use crate::error::{Error, ManifestKind, Result};
use crate::fetch::{Fetch, FetchError};
use crate::generated::{Bundles, Release, VersionsBundle};
use crate::images::{CatalogImage, ImageSource, visit_bundle_images};
use crate::kube_distro::KubeDistro;
use crate::kube_version::KubeVersion;
use crate::manifest;

/// The namespace EKS Anywhere keeps its Bundles object in.
pub const BUNDLES_NAMESPACE: &str = "eksa-system";

/// The EKS Distro release of one versions bundle, or why there is none.
///
/// A missing manifest is data, not a failure of the whole catalog: the reference's fixtures name
/// an EKS-D 1.29 manifest they do not ship, and the other versions must still work.
#[derive(Clone, Debug)]
pub enum EksdManifest {
    /// Fetched and decoded.
    Loaded(Box<eksd::Release>),
    /// The versions bundle has no `eksD.manifestUrl`.
    NoUrl,
    /// Fetching `eksD.manifestUrl` failed.
    Unavailable {
        /// The URL that was tried.
        url: String,
        /// Why it failed.
        reason: FetchError,
    },
}

impl EksdManifest {
    /// The release, when it was loaded.
    pub fn release(&self) -> Option<&eksd::Release> {
        match self {
            EksdManifest::Loaded(r) => Some(r),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    /// Index into `bundles.spec.versionsBundles`.
    index: usize,
    eksd: EksdManifest,
}

/// The release catalog: for each supported Kubernetes version, its versions bundle (component
/// images and manifests) and its EKS Distro release.
///
/// Guarantees: every versions bundle has a distinct, canonical `kubeVersion`; every loaded EKS-D
/// release's channel matches its bundle's version.
#[derive(Clone, Debug)]
pub struct Catalog {
    bundles: Bundles,
    versions: BTreeMap<KubeVersion, Entry>,
}

impl Catalog {
    /// The catalog compiled into this binary (Kubernetes 1.30 to 1.36).
    ///
    /// Parsed once, on first use. Panics only if the embedded data is broken, which the crate's
    /// tests rule out.
    pub fn embedded() -> &'static Catalog {
        &crate::embedded::CATALOG
    }

    /// Reads a Bundles manifest, e.g. the file of `--bundles-override`, and fetches the EKS-D
    /// release each versions bundle names in `eksD.manifestUrl` through `fetch`.
    ///
    /// The Bundles document is decoded strictly: an unknown field or a wrong type is an error whose
    /// source names the field path.
    ///
    /// # Errors
    /// [`Error::Parse`], [`Error::DocumentCount`], [`Error::UnexpectedKind`] for a bad document;
    /// the errors of [`Catalog::from_bundles`]. A failed EKS-D fetch is not an error (see
    /// [`EksdManifest::Unavailable`]); an EKS-D manifest that was fetched but does not decode is.
    pub fn from_bundles_yaml(bytes: &[u8], fetch: &(impl Fetch + ?Sized)) -> Result<Catalog> {
        let bundles = parse_bundles(bytes, Fields::Strict, None)?;
        Catalog::from_bundles(bundles, fetch)
    }

    /// Loads the reference's release chain (conformance `cases/README.md`, section 2): the release
    /// list `releases_yaml`, then the Bundles named by the entry whose `version` equals
    /// `cli_version`, then each versions bundle's EKS-D release, all through `fetch`.
    ///
    /// Every manifest is decoded leniently, as the reference does (the fixture Bundles has fields
    /// its own schema lacks), and the Bundles object is placed in [`BUNDLES_NAMESPACE`]. Mapping
    /// `embed:///` URLs to files is the fetcher's job (see
    /// [`embed_relative_path`](crate::embed_relative_path)).
    ///
    /// # Errors
    /// [`Error::ReleaseNotFound`] when no entry has `cli_version`; [`Error::MissingField`] when it
    /// has no `bundleManifestUrl`; [`Error::Fetch`] when the Bundles cannot be fetched; the
    /// errors of [`Catalog::from_bundles_yaml`] otherwise.
    pub fn from_release_manifest(
        releases_yaml: &[u8],
        cli_version: &str,
        fetch: &(impl Fetch + ?Sized),
    ) -> Result<Catalog> {
        let value = manifest::parse_value(releases_yaml, ManifestKind::ReleaseList, None)?;
        let list: Release = manifest::decode(&value, Fields::Lenient, ManifestKind::ReleaseList, None)?;
        let releases = list.spec.and_then(|s| s.releases).unwrap_or_default();
        let Some((index, entry)) = releases
            .iter()
            .enumerate()
            .find(|(_, r)| r.version.as_deref() == Some(cli_version))
        else {
            return Err(Error::ReleaseNotFound {
                version: cli_version.to_string(),
                available: releases.iter().filter_map(|r| r.version.clone()).collect(),
            });
        };
        let url = entry
            .bundle_manifest_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Error::MissingField {
                manifest: ManifestKind::ReleaseList,
                origin: None,
                field: format!("spec.releases[{index}].bundleManifestUrl"),
            })?;
        let bytes = fetch.fetch(url).map_err(|source| Error::Fetch {
            url: url.to_string(),
            source,
        })?;
        let mut bundles = parse_bundles(&bytes, Fields::Lenient, Some(url))?;
        bundles.metadata_mut().namespace = Some(BUNDLES_NAMESPACE.to_string());
        Catalog::from_bundles(bundles, fetch)
    }

    /// Builds a catalog from a decoded Bundles object, fetching each versions bundle's EKS-D
    /// release through `fetch`.
    ///
    /// # Errors
    /// [`Error::MissingField`] when there are no versions bundles or one has no `kubeVersion`;
    /// [`Error::InvalidBundleKubeVersion`]; [`Error::DuplicateKubeVersion`]; for a fetched EKS-D
    /// manifest, the errors of [`eksd::parse_release`] and [`Error::EksdChannelMismatch`].
    pub fn from_bundles(bundles: Bundles, fetch: &(impl Fetch + ?Sized)) -> Result<Catalog> {
        let missing = |field: String| Error::MissingField {
            manifest: ManifestKind::Bundles,
            origin: None,
            field,
        };
        let list = bundles
            .spec
            .as_ref()
            .and_then(|s| s.versions_bundles.as_deref())
            .filter(|l| !l.is_empty())
            .ok_or_else(|| missing("spec.versionsBundles".to_string()))?;
        let mut versions = BTreeMap::new();
        for (index, vb) in list.iter().enumerate() {
            let field = format!("spec.versionsBundles[{index}].kubeVersion");
            let text = vb
                .kube_version
                .as_deref()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| missing(field.clone()))?;
            let version = KubeVersion::try_from(text).map_err(|_| Error::InvalidBundleKubeVersion {
                field,
                value: text.to_string(),
            })?;
            if versions.contains_key(&version) {
                return Err(Error::DuplicateKubeVersion { version });
            }
            let eksd = load_eksd(version, vb, fetch)?;
            versions.insert(version, Entry { index, eksd });
        }
        Ok(Catalog { bundles, versions })
    }

    /// The Bundles object as loaded.
    pub fn bundles(&self) -> &Bundles {
        &self.bundles
    }

    /// The Kubernetes versions the catalog has a versions bundle for, ascending. A version is
    /// listed even when its EKS-D release is not available.
    pub fn supported_versions(&self) -> Vec<KubeVersion> {
        self.versions.keys().copied().collect()
    }

    /// Checks that a spec's `kubernetesVersion` is one the catalog supports and returns it parsed.
    ///
    /// # Errors
    /// [`Error::UnsupportedKubernetesVersion`], whose message lists the supported versions, when
    /// `version` is not a canonical `MAJOR.MINOR` version or the catalog has no bundle for it.
    pub fn check_kubernetes_version(&self, version: &str) -> Result<KubeVersion> {
        match KubeVersion::try_from(version) {
            Ok(v) if self.versions.contains_key(&v) => Ok(v),
            _ => Err(self.unsupported(version.to_string())),
        }
    }

    fn unsupported(&self, version: String) -> Error {
        Error::UnsupportedKubernetesVersion {
            version,
            supported: self.versions.keys().map(ToString::to_string).collect(),
        }
    }

    fn entry(&self, version: KubeVersion) -> Result<&Entry> {
        self.versions
            .get(&version)
            .ok_or_else(|| self.unsupported(version.to_string()))
    }

    fn bundle_at(&self, index: usize) -> &VersionsBundle {
        self.bundles
            .spec
            .as_ref()
            .and_then(|s| s.versions_bundles.as_ref())
            .and_then(|l| l.get(index))
            .expect("entry indexes are taken from the versions bundles when the catalog is built")
    }

    /// The versions bundle of a Kubernetes version.
    ///
    /// # Errors
    /// [`Error::UnsupportedKubernetesVersion`] when the catalog has none.
    pub fn versions_bundle(&self, version: KubeVersion) -> Result<&VersionsBundle> {
        Ok(self.bundle_at(self.entry(version)?.index))
    }

    /// The EKS-D release state of a Kubernetes version, loaded or not.
    ///
    /// # Errors
    /// [`Error::UnsupportedKubernetesVersion`] when the catalog has no such version.
    pub fn eksd(&self, version: KubeVersion) -> Result<&EksdManifest> {
        Ok(&self.entry(version)?.eksd)
    }

    /// The EKS-D release of a Kubernetes version.
    ///
    /// # Errors
    /// [`Error::UnsupportedKubernetesVersion`]; [`Error::EksdUnavailable`] when its manifest
    /// could not be loaded.
    pub fn eksd_release(&self, version: KubeVersion) -> Result<&eksd::Release> {
        match self.eksd(version)? {
            EksdManifest::Loaded(r) => Ok(r),
            EksdManifest::NoUrl => Err(Error::EksdUnavailable {
                version,
                url: None,
                reason: None,
            }),
            EksdManifest::Unavailable { url, reason } => Err(Error::EksdUnavailable {
                version,
                url: Some(url.clone()),
                reason: Some(reason.clone()),
            }),
        }
    }

    /// The Kubernetes distribution (images and versions from EKS-D) of a Kubernetes version.
    ///
    /// # Errors
    /// The errors of [`Catalog::eksd_release`] and of [`KubeDistro::from_eksd`].
    pub fn kube_distro(&self, version: KubeVersion) -> Result<KubeDistro> {
        KubeDistro::from_eksd(self.eksd_release(version)?)
    }

    /// Every image the catalog names: for each version (ascending), the image fields of its
    /// versions bundle in a fixed order, then the image assets of its EKS-D release (when loaded)
    /// in manifest order. The same URI appears once per place that names it; see
    /// [`Catalog::image_uris`] for the distinct set.
    pub fn images(&self) -> impl Iterator<Item = CatalogImage<'_>> + '_ {
        self.versions.iter().flat_map(move |(&kube_version, entry)| {
            let mut out = Vec::new();
            visit_bundle_images(self.bundle_at(entry.index), &mut |field, c| {
                out.push(CatalogImage {
                    kube_version,
                    source: ImageSource::Bundle { field },
                    uri: c.uri.as_deref().unwrap_or_default(),
                });
            });
            if let Some(release) = entry.eksd.release() {
                out.extend(release.image_assets().map(|(asset, uri)| CatalogImage {
                    kube_version,
                    source: ImageSource::EksDistro { asset },
                    uri,
                }));
            }
            out
        })
    }

    /// The distinct, non-empty image URIs of [`Catalog::images`], sorted.
    pub fn image_uris(&self) -> BTreeSet<&str> {
        self.images().map(|i| i.uri).filter(|u| !u.is_empty()).collect()
    }
}

/// Reads a Bundles manifest; refuses an unquoted numeric `kubeVersion` before decoding, because
/// the decoder would otherwise turn `1.30` into the string "1.3".
fn parse_bundles(bytes: &[u8], fields: Fields, origin: Option<&str>) -> Result<Bundles> {
    let value = manifest::parse_value(bytes, ManifestKind::Bundles, origin)?;
    let list = value.pointer("/spec/versionsBundles").and_then(Value::as_array);
    for (index, vb) in list.into_iter().flatten().enumerate() {
        if let Some(Value::Number(n)) = vb.get("kubeVersion") {
            return Err(Error::UnquotedKubeVersion {
                field: format!("spec.versionsBundles[{index}].kubeVersion"),
                value: n.to_string(),
            });
        }
    }
    manifest::decode(&value, fields, ManifestKind::Bundles, origin)
}

fn load_eksd(
    version: KubeVersion,
    vb: &VersionsBundle,
    fetch: &(impl Fetch + ?Sized),
) -> Result<EksdManifest> {
    let Some(url) = vb
        .eks_d
        .as_ref()
        .and_then(|e| e.manifest_url.as_deref())
        .filter(|u| !u.is_empty())
    else {
        return Ok(EksdManifest::NoUrl);
    };
    let bytes = match fetch.fetch(url) {
        Ok(bytes) => bytes,
        Err(reason) => {
            return Ok(EksdManifest::Unavailable {
                url: url.to_string(),
                reason,
            });
        }
    };
    let release = eksd::parse_release_from(&bytes, Some(url))?;
    if release.kube_version().ok() != Some(version) {
        return Err(Error::EksdChannelMismatch {
            version,
            channel: release.spec.channel.clone(),
            url: url.to_string(),
        });
    }
    Ok(EksdManifest::Loaded(Box::new(release)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const EKSD_URL: &str = "https://distro.example/kubernetes-1-31-eks-1.yaml";

    fn eksd_manifest(channel: &str) -> String {
        let mut s = format!(
            "apiVersion: distro.eks.amazonaws.com/v1alpha1\nkind: Release\nspec:\n  channel: {channel}\n  number: 1\n\
             status:\n  components:\n  - name: etcd\n    gitTag: v3.5.21\n    assets:\n"
        );
        for asset in crate::REQUIRED_IMAGE_ASSETS {
            s.push_str(&format!(
                "    - name: {asset}\n      image:\n        uri: r.example/{asset}:v1\n"
            ));
        }
        s
    }

    fn bundles(versions: &[&str]) -> String {
        let mut s = String::from(
            "apiVersion: anywhere.eks.amazonaws.com/v1alpha1\nkind: Bundles\nspec:\n  versionsBundles:\n",
        );
        for v in versions {
            s.push_str(&format!(
                "  - kubeVersion: {v}\n    eksD:\n      manifestUrl: https://distro.example/kubernetes-{}-eks-1.yaml\n    \
                 vSphere:\n      kubeVip:\n        uri: r.example/kube-vip:v0.9.2\n",
                v.trim_matches('"').replace('.', "-")
            ));
        }
        s
    }

    fn files(entries: &[(&str, String)]) -> impl Fn(&str) -> Result<Vec<u8>, FetchError> + use<> {
        let map: BTreeMap<String, Vec<u8>> = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone().into_bytes()))
            .collect();
        move |url: &str| map.get(url).cloned().ok_or(FetchError::NotFound)
    }

    #[test]
    fn unsupported_version_message_names_supported_versions() {
        let fetch = files(&[(EKSD_URL, eksd_manifest("1-31"))]);
        let catalog =
            Catalog::from_bundles_yaml(bundles(&["\"1.31\"", "\"1.30\""]).as_bytes(), &fetch).unwrap();
        let err = catalog.check_kubernetes_version("1.29").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported kubernetes version \"1.29\"; supported versions are 1.30, 1.31"
        );
        let Error::UnsupportedKubernetesVersion { version, supported } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (version.as_str(), supported.as_slice()),
            ("1.29", ["1.30".to_string(), "1.31".to_string()].as_slice())
        );
        assert_eq!(
            err.hint().as_deref(),
            Some("set kubernetesVersion to a supported version, e.g. \"1.31\"")
        );
        for bad in ["1.031", "v1.31", "1.31.0", ""] {
            assert!(
                matches!(
                    catalog.check_kubernetes_version(bad),
                    Err(Error::UnsupportedKubernetesVersion { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            catalog.check_kubernetes_version("1.31").unwrap(),
            KubeVersion::new(1, 31)
        );
    }

    #[test]
    fn missing_eksd_is_per_version() {
        let fetch = files(&[(EKSD_URL, eksd_manifest("1-31"))]);
        let catalog =
            Catalog::from_bundles_yaml(bundles(&["\"1.30\"", "\"1.31\""]).as_bytes(), &fetch).unwrap();
        let v130 = KubeVersion::new(1, 30);
        let v131 = KubeVersion::new(1, 31);
        assert!(catalog.kube_distro(v131).is_ok());
        assert!(catalog.versions_bundle(v130).is_ok());
        assert!(matches!(
            catalog.eksd(v130).unwrap(),
            EksdManifest::Unavailable {
                reason: FetchError::NotFound,
                ..
            }
        ));
        let err = catalog.kube_distro(v130).unwrap_err();
        assert!(
            matches!(err, Error::EksdUnavailable { version, .. } if version == v130),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the eks-d release manifest for kubernetes 1.30 is not available (https://distro.example/kubernetes-1-30-eks-1.yaml)"
        );
        assert_eq!(catalog.supported_versions(), [v130, v131]);
    }

    #[test]
    fn strict_bundles_errors_name_the_field() {
        let fetch = files(&[]);
        let text = bundles(&["\"1.31\""]).replace("kubeVip:", "kubeVipp:");
        let err = Catalog::from_bundles_yaml(text.as_bytes(), &fetch).unwrap_err();
        let Error::Parse {
            manifest: ManifestKind::Bundles,
            source,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(source.path(), Some("spec.versionsBundles[0].vSphere.kubeVipp"));
        assert!(
            err.hint().unwrap().contains("did you mean \"kubeVip\""),
            "{:?}",
            err.hint()
        );
    }

    #[test]
    fn bundle_versions_are_validated() {
        let fetch = files(&[]);
        let load =
            |versions: &[&str]| Catalog::from_bundles_yaml(bundles(versions).as_bytes(), &fetch).unwrap_err();
        assert!(matches!(load(&["1.30"]), Error::UnquotedKubeVersion { value, .. } if value == "1.3"));
        assert!(matches!(
            load(&["\"1.31\"", "\"1.31\""]),
            Error::DuplicateKubeVersion { .. }
        ));
        assert!(
            matches!(load(&["\"v1.31\""]), Error::InvalidBundleKubeVersion { value, .. } if value == "v1.31")
        );
        assert!(
            matches!(load(&["\"\""]), Error::MissingField { field, .. } if field == "spec.versionsBundles[0].kubeVersion")
        );
        assert!(matches!(load(&[]), Error::MissingField { field, .. } if field == "spec.versionsBundles"));
    }

    #[test]
    fn eksd_channel_must_match_the_bundle() {
        let fetch = files(&[(EKSD_URL, eksd_manifest("1-30"))]);
        let err = Catalog::from_bundles_yaml(bundles(&["\"1.31\""]).as_bytes(), &fetch).unwrap_err();
        assert!(
            matches!(err, Error::EksdChannelMismatch { ref channel, .. } if channel == "1-30"),
            "{err:?}"
        );
    }

    #[test]
    fn a_fetched_but_broken_eksd_manifest_is_an_error() {
        let fetch = files(&[(EKSD_URL, "kind: [".to_string())]);
        let err = Catalog::from_bundles_yaml(bundles(&["\"1.31\""]).as_bytes(), &fetch).unwrap_err();
        assert!(
            matches!(err, Error::Parse { manifest: ManifestKind::EksdRelease, origin: Some(ref o), .. } if o == EKSD_URL),
            "{err:?}"
        );
    }

    #[test]
    fn release_chain_selects_the_cli_version() {
        let releases = "apiVersion: anywhere.eks.amazonaws.com/v1alpha1\nkind: Release\nspec:\n  releases:\n  \
                        - version: v0.1.0\n    bundleManifestUrl: embed:///old.yaml\n  \
                        - version: v0.2.0\n    bundleManifestUrl: embed:///new.yaml\n    unknownField: 1\n";
        let fetch = files(&[
            ("embed:///new.yaml", bundles(&["\"1.31\""])),
            (EKSD_URL, eksd_manifest("1-31")),
        ]);
        let catalog = Catalog::from_release_manifest(releases.as_bytes(), "v0.2.0", &fetch).unwrap();
        assert_eq!(
            catalog.bundles().metadata.as_ref().unwrap().namespace.as_deref(),
            Some(BUNDLES_NAMESPACE)
        );
        assert_eq!(catalog.supported_versions(), [KubeVersion::new(1, 31)]);

        let err = Catalog::from_release_manifest(releases.as_bytes(), "v0.3.0", &fetch).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the release list has no release v0.3.0 (it has v0.1.0, v0.2.0)"
        );
        let err = Catalog::from_release_manifest(releases.as_bytes(), "v0.1.0", &fetch).unwrap_err();
        assert!(
            matches!(err, Error::Fetch { ref url, source: FetchError::NotFound } if url == "embed:///old.yaml"),
            "{err:?}"
        );
    }

    #[test]
    fn images_lists_bundle_fields_then_eksd_assets() {
        let fetch = files(&[(EKSD_URL, eksd_manifest("1-31"))]);
        let catalog = Catalog::from_bundles_yaml(bundles(&["\"1.31\""]).as_bytes(), &fetch).unwrap();
        let images: Vec<String> = catalog
            .images()
            .map(|i| format!("{} {} {}", i.kube_version, i.source, i.uri))
            .collect();
        assert_eq!(images[0], "1.31 vSphere.kubeVip r.example/kube-vip:v0.9.2");
        assert_eq!(
            images[1],
            "1.31 eks-d kube-apiserver-image r.example/kube-apiserver-image:v1"
        );
        assert_eq!(images.len(), 1 + crate::REQUIRED_IMAGE_ASSETS.len());
        assert_eq!(catalog.image_uris().len(), images.len());
    }
}

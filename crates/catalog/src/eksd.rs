//! The EKS Distro release manifest (`distro.eks.amazonaws.com/v1alpha1`, kind `Release`): which
//! Kubernetes build, etcd, CoreDNS, pause and aws-iam-authenticator images and archives make up
//! one EKS-D release, e.g. `kubernetes-1-31-eks-39`.
//!
//! Only the fields the catalog reads are modelled. Decoding is lenient, as in the reference:
//! unknown fields are dropped and a YAML null is the zero value.

use serde::Deserialize;

use anywhere_api::document::Fields;
use anywhere_api::meta::ObjectMeta;

use crate::error::{ManifestKind, Result};
use crate::kube_version::{KubeVersion, ParseKubeVersionError};
use crate::manifest;

/// The `apiVersion` of an EKS Distro release.
pub const API_VERSION: &str = "distro.eks.amazonaws.com/v1alpha1";

/// An EKS Distro release manifest.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Release {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// Always `Release`.
    pub kind: String,
    /// Object metadata; the name is the release, e.g. `kubernetes-1-19-eks-4`.
    pub metadata: ObjectMeta,
    /// Channel and number.
    pub spec: ReleaseSpec,
    /// The components of the release.
    pub status: ReleaseStatus,
}

/// `spec` of an EKS Distro release.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReleaseSpec {
    /// The release branch, `1-19` for Kubernetes 1.19.
    pub channel: String,
    /// The release number within the channel, `4` in `kubernetes-1-19-eks-4`.
    pub number: i64,
}

/// `status` of an EKS Distro release.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReleaseStatus {
    /// When the release was published (RFC 3339), when given.
    pub date: String,
    /// The projects built for the release.
    pub components: Vec<Component>,
}

/// One project of an EKS Distro release, e.g. `kubernetes` or `etcd`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Component {
    /// Project name: `kubernetes`, `etcd`, `coredns`, `aws-iam-authenticator`...
    pub name: String,
    /// Upstream git tag, e.g. `v3.4.14`.
    pub git_tag: String,
    /// Upstream git commit, when given.
    pub git_commit: String,
    /// Images and archives built from the project.
    pub assets: Vec<Asset>,
}

/// An image or archive of a component.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Asset {
    /// Asset name, e.g. `kube-apiserver-image` or `etcd-linux-amd64-v3.4.14.tar.gz`.
    pub name: String,
    /// `Image` or `Archive` as written; the reference decides by which of `image`/`archive` is
    /// present, and so does this crate.
    #[serde(rename = "type")]
    pub asset_type: String,
    /// Human description.
    pub description: String,
    /// Operating system (`linux`, `windows`, `darwin`).
    pub os: String,
    /// Architectures, e.g. `[amd64, arm64]`; the first one matters for archives.
    pub arch: Vec<String>,
    /// The container image, for image assets.
    pub image: Option<AssetImage>,
    /// The file, for archive assets.
    pub archive: Option<AssetArchive>,
}

/// The image of an image asset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AssetImage {
    /// Image URI with tag.
    pub uri: String,
}

/// The file of an archive asset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AssetArchive {
    /// Download URL.
    pub uri: String,
    /// Hex SHA-256 of the file, when given.
    pub sha256: String,
    /// Hex SHA-512 of the file, when given.
    pub sha512: String,
}

impl Release {
    /// The Kubernetes version of the release's channel (`1-19` is `1.19`).
    pub fn kube_version(&self) -> Result<KubeVersion, ParseKubeVersionError> {
        KubeVersion::from_channel(&self.spec.channel)
    }

    /// Every image asset of every component, in manifest order, as (asset name, image URI).
    pub fn image_assets(&self) -> impl Iterator<Item = (&str, &str)> {
        self.status
            .components
            .iter()
            .flat_map(|c| &c.assets)
            .filter_map(|a| a.image.as_ref().map(|i| (a.name.as_str(), i.uri.as_str())))
    }
}

/// Reads an EKS Distro release manifest.
///
/// # Errors
/// [`Error::Parse`](crate::Error::Parse) for unreadable YAML or a field of the wrong type,
/// [`Error::UnexpectedKind`](crate::Error::UnexpectedKind) when the document is not an EKS-D
/// `Release`, [`Error::DocumentCount`](crate::Error::DocumentCount) unless there is exactly one
/// document.
pub fn parse_release(bytes: &[u8]) -> Result<Release> {
    parse_release_from(bytes, None)
}

/// [`parse_release`] with the URL the bytes came from, for messages.
pub(crate) fn parse_release_from(bytes: &[u8], origin: Option<&str>) -> Result<Release> {
    let value = manifest::parse_value(bytes, ManifestKind::EksdRelease, origin)?;
    manifest::decode(&value, Fields::Lenient, ManifestKind::EksdRelease, origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    const SMALL: &str = "\
apiVersion: distro.eks.amazonaws.com/v1alpha1
kind: Release
metadata:
  creationTimestamp: null
  name: kubernetes-1-19-eks-4
  somethingNew: true
spec:
  channel: 1-19
  number: 4
status:
  components:
  - name: etcd
    gitTag: v3.4.14
    newField: [1, 2]
    assets:
    - name: etcd-image
      type: Image
      arch: [amd64, arm64]
      image:
        uri: public.ecr.aws/eks-distro/etcd-io/etcd:v3.4.14-eks-1-19-4
    - name: etcd-linux-amd64-v3.4.14.tar.gz
      type: Archive
      arch: [amd64]
      archive:
        uri: https://example.invalid/etcd.tar.gz
        sha256: abc
  date: \"2021-05-05T18:43:56Z\"
";

    #[test]
    fn decodes_leniently() {
        let r = parse_release(SMALL.as_bytes()).unwrap();
        assert_eq!(r.metadata.name.as_deref(), Some("kubernetes-1-19-eks-4"));
        assert_eq!(
            r.spec,
            ReleaseSpec {
                channel: "1-19".into(),
                number: 4
            }
        );
        assert_eq!(r.status.date, "2021-05-05T18:43:56Z");
        assert_eq!(r.kube_version().unwrap(), KubeVersion::new(1, 19));
        let etcd = &r.status.components[0];
        assert_eq!(etcd.git_tag, "v3.4.14");
        assert_eq!(etcd.assets[1].archive.as_ref().unwrap().sha256, "abc");
        assert!(etcd.assets[1].image.is_none());
        assert_eq!(
            r.image_assets().collect::<Vec<_>>(),
            [(
                "etcd-image",
                "public.ecr.aws/eks-distro/etcd-io/etcd:v3.4.14-eks-1-19-4"
            )]
        );
    }

    #[test]
    fn rejects_other_kinds() {
        let err =
            parse_release(b"apiVersion: anywhere.eks.amazonaws.com/v1alpha1\nkind: Release\n").unwrap_err();
        assert!(
            matches!(
                err,
                Error::UnexpectedKind {
                    manifest: ManifestKind::EksdRelease,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("distro.eks.amazonaws.com/v1alpha1 Release"),
            "{err}"
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let text = SMALL.replace("number: 4", "number: four");
        let err = parse_release(text.as_bytes()).unwrap_err();
        let Error::Parse { source, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(source.path(), Some("spec.number"));
    }

    #[test]
    fn needs_exactly_one_document() {
        let two = format!("{SMALL}---\n{SMALL}");
        assert!(matches!(
            parse_release(two.as_bytes()),
            Err(Error::DocumentCount { found: 2, .. })
        ));
        assert!(matches!(
            parse_release(b"# nothing\n"),
            Err(Error::DocumentCount { found: 0, .. })
        ));
    }
}

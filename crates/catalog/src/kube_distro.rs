//! The Kubernetes distribution of one versions bundle, derived from its EKS Distro release: the
//! images and versions kubeadm, etcdadm and the templates need.

use std::collections::BTreeMap;

use crate::eksd;
use crate::error::{Error, Result};
use crate::image::{Image, VersionedRepository};

/// EKS-D asset of the API server image; also gives the Kubernetes repository and version tag.
pub const KUBE_APISERVER_IMAGE: &str = "kube-apiserver-image";
/// EKS-D asset of the CoreDNS image.
pub const COREDNS_IMAGE: &str = "coredns-image";
/// EKS-D asset of the etcd image.
pub const ETCD_IMAGE: &str = "etcd-image";
/// EKS-D asset of the pause image.
pub const PAUSE_IMAGE: &str = "pause-image";
/// EKS-D asset of the aws-iam-authenticator image.
pub const AWS_IAM_AUTHENTICATOR_IMAGE: &str = "aws-iam-authenticator-image";
/// EKS-D asset of the kube-proxy image.
pub const KUBE_PROXY_IMAGE: &str = "kube-proxy-image";

/// The image assets every EKS Distro release must have for [`KubeDistro::from_eksd`].
pub const REQUIRED_IMAGE_ASSETS: [&str; 6] = [
    KUBE_APISERVER_IMAGE,
    COREDNS_IMAGE,
    ETCD_IMAGE,
    PAUSE_IMAGE,
    AWS_IAM_AUTHENTICATOR_IMAGE,
    KUBE_PROXY_IMAGE,
];

/// The EKS Distro component whose git tag and archives give the etcd version and download URL.
const ETCD_COMPONENT: &str = "etcd";

/// Which EKS Distro release a distribution comes from.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EksdRef {
    /// `spec.channel`, e.g. `1-19`.
    pub channel: String,
    /// `spec.number`, e.g. `4`.
    pub number: i64,
}

/// The reference's `KubeDistro`: what a cluster of one Kubernetes version runs, from EKS-D.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KubeDistro {
    /// Channel and number of the EKS-D release.
    pub eksd: EksdRef,
    /// From `kube-apiserver-image`: kubeadm's `imageRepository` and the Kubernetes version tag
    /// (`v1.19.8-eks-1-19-4`), which is also the rendered `kubernetesVersion`.
    pub kubernetes: VersionedRepository,
    /// From `coredns-image`.
    pub core_dns: VersionedRepository,
    /// From `etcd-image`.
    pub etcd: VersionedRepository,
    /// `etcd-image`, whole.
    pub etcd_image: Image,
    /// `pause-image`, whole.
    pub pause: Image,
    /// `aws-iam-authenticator-image`, whole.
    pub aws_iam_auth_image: Image,
    /// `kube-proxy-image`, whole.
    pub kube_proxy: Image,
    /// The `gitTag` of the `etcd` component without its leading `v` (`3.4.14`); `None` when the
    /// release has no `etcd` component with assets.
    pub etcd_version: Option<String>,
    /// The archive URL of the `etcd` component's last asset whose first architecture is `amd64`;
    /// `None` when there is no such asset.
    pub etcd_url: Option<String>,
}

impl KubeDistro {
    /// Derives the distribution from an EKS Distro release with the reference's rules
    /// (`buildKubeDistro`): image assets are collected by name across all components (a later one
    /// with the same name wins), repositories are [`VersionedRepository::from_image`], and the etcd
    /// version and URL come from the `etcd` component.
    ///
    /// # Errors
    /// [`Error::MissingEksdAssets`] naming every asset of [`REQUIRED_IMAGE_ASSETS`] the release
    /// lacks.
    pub fn from_eksd(release: &eksd::Release) -> Result<Self> {
        let assets: BTreeMap<&str, &str> = release.image_assets().collect();
        let missing: Vec<&'static str> = REQUIRED_IMAGE_ASSETS
            .into_iter()
            .filter(|name| !assets.contains_key(name))
            .collect();
        if !missing.is_empty() {
            return Err(Error::MissingEksdAssets {
                channel: release.spec.channel.clone(),
                assets: missing,
            });
        }
        let image = |name: &str| Image::new(assets.get(name).copied().unwrap_or_default());

        let (etcd_version, etcd_url) = etcd_version_and_url(release);
        Ok(KubeDistro {
            eksd: EksdRef {
                channel: release.spec.channel.clone(),
                number: release.spec.number,
            },
            kubernetes: VersionedRepository::from_image(&image(KUBE_APISERVER_IMAGE)),
            core_dns: VersionedRepository::from_image(&image(COREDNS_IMAGE)),
            etcd: VersionedRepository::from_image(&image(ETCD_IMAGE)),
            etcd_image: image(ETCD_IMAGE),
            pause: image(PAUSE_IMAGE),
            aws_iam_auth_image: image(AWS_IAM_AUTHENTICATOR_IMAGE),
            kube_proxy: image(KUBE_PROXY_IMAGE),
            etcd_version,
            etcd_url,
        })
    }
}

/// The reference's loop, kept literally: for every asset of a component named `etcd` the version
/// is (re)set from the component's tag, and every archive asset whose first architecture is
/// `amd64` (re)sets the URL, so the last one wins.
fn etcd_version_and_url(release: &eksd::Release) -> (Option<String>, Option<String>) {
    let mut version = None;
    let mut url = None;
    for component in release
        .status
        .components
        .iter()
        .filter(|c| c.name == ETCD_COMPONENT)
    {
        for asset in &component.assets {
            version = Some(
                component
                    .git_tag
                    .strip_prefix('v')
                    .unwrap_or(&component.git_tag)
                    .to_string(),
            );
            if let Some(archive) = &asset.archive
                && asset.arch.first().is_some_and(|a| a == "amd64")
            {
                url = Some(archive.uri.clone());
            }
        }
    }
    (version, url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eksd::{Asset, AssetArchive, AssetImage, Component, Release, ReleaseSpec};

    fn image_asset(name: &str, uri: &str) -> Asset {
        Asset {
            name: name.into(),
            asset_type: "Image".into(),
            arch: vec!["amd64".into(), "arm64".into()],
            image: Some(AssetImage { uri: uri.into() }),
            ..Asset::default()
        }
    }

    fn archive_asset(name: &str, arch: &[&str], uri: &str) -> Asset {
        Asset {
            name: name.into(),
            asset_type: "Archive".into(),
            arch: arch.iter().map(|a| a.to_string()).collect(),
            archive: Some(AssetArchive {
                uri: uri.into(),
                ..AssetArchive::default()
            }),
            ..Asset::default()
        }
    }

    fn component(name: &str, git_tag: &str, assets: Vec<Asset>) -> Component {
        Component {
            name: name.into(),
            git_tag: git_tag.into(),
            assets,
            ..Component::default()
        }
    }

    const R: &str = "public.ecr.aws/eks-distro";

    /// A 1.19-like release, built in code so each test can change one thing.
    fn release() -> Release {
        let tag = "eks-1-19-4";
        Release {
            spec: ReleaseSpec {
                channel: "1-19".into(),
                number: 4,
            },
            status: crate::eksd::ReleaseStatus {
                components: vec![
                    component(
                        "coredns",
                        "v1.8.0",
                        vec![image_asset(
                            COREDNS_IMAGE,
                            &format!("{R}/coredns/coredns:v1.8.0-{tag}"),
                        )],
                    ),
                    component(
                        "kubernetes",
                        "v1.19.8",
                        ["kube-apiserver", "kube-proxy", "pause"]
                            .map(|n| {
                                image_asset(
                                    &format!("{n}-image"),
                                    &format!("{R}/kubernetes/{n}:v1.19.8-{tag}"),
                                )
                            })
                            .into(),
                    ),
                    component(
                        "aws-iam-authenticator",
                        "v0.5.2",
                        vec![image_asset(
                            AWS_IAM_AUTHENTICATOR_IMAGE,
                            &format!("{R}/kubernetes-sigs/aws-iam-authenticator:v0.5.2-{tag}"),
                        )],
                    ),
                    component(
                        "etcd",
                        "v3.4.14",
                        vec![
                            archive_asset(
                                "etcd-linux-arm64",
                                &["arm64"],
                                "https://x/etcd-linux-arm64.tar.gz",
                            ),
                            archive_asset(
                                "etcd-linux-amd64",
                                &["amd64"],
                                "https://x/etcd-linux-amd64.tar.gz",
                            ),
                            image_asset(ETCD_IMAGE, &format!("{R}/etcd-io/etcd:v3.4.14-{tag}")),
                        ],
                    ),
                ],
                ..Default::default()
            },
            ..Release::default()
        }
    }

    #[test]
    fn derives_every_field() {
        let d = KubeDistro::from_eksd(&release()).unwrap();
        let repo = |repository: &str, tag: &str| VersionedRepository {
            repository: repository.into(),
            tag: tag.into(),
        };
        assert_eq!(
            d.eksd,
            EksdRef {
                channel: "1-19".into(),
                number: 4
            }
        );
        assert_eq!(
            d.kubernetes,
            repo("public.ecr.aws/eks-distro/kubernetes", "v1.19.8-eks-1-19-4")
        );
        assert_eq!(
            d.core_dns,
            repo("public.ecr.aws/eks-distro/coredns", "v1.8.0-eks-1-19-4")
        );
        assert_eq!(
            d.etcd,
            repo("public.ecr.aws/eks-distro/etcd-io", "v3.4.14-eks-1-19-4")
        );
        assert_eq!(
            d.etcd_image.uri(),
            "public.ecr.aws/eks-distro/etcd-io/etcd:v3.4.14-eks-1-19-4"
        );
        assert_eq!(
            d.pause.uri(),
            "public.ecr.aws/eks-distro/kubernetes/pause:v1.19.8-eks-1-19-4"
        );
        assert_eq!(
            d.kube_proxy.uri(),
            "public.ecr.aws/eks-distro/kubernetes/kube-proxy:v1.19.8-eks-1-19-4"
        );
        assert_eq!(
            d.aws_iam_auth_image.uri(),
            "public.ecr.aws/eks-distro/kubernetes-sigs/aws-iam-authenticator:v0.5.2-eks-1-19-4"
        );
        assert_eq!(d.etcd_version.as_deref(), Some("3.4.14"));
        assert_eq!(d.etcd_url.as_deref(), Some("https://x/etcd-linux-amd64.tar.gz"));
    }

    /// One row per rule variation: a change to the release and what must come out.
    #[test]
    fn derivation_rules() {
        type Edit = fn(&mut Release);
        type Check = fn(Result<KubeDistro>);
        let cases: [(&str, Edit, Check); 8] = [
            (
                "missing assets are all named, in table order",
                |r| {
                    for c in &mut r.status.components {
                        c.assets
                            .retain(|a| a.name != PAUSE_IMAGE && a.name != COREDNS_IMAGE);
                    }
                },
                |got| match got {
                    Err(Error::MissingEksdAssets { channel, assets }) => {
                        assert_eq!(channel, "1-19");
                        assert_eq!(assets, [COREDNS_IMAGE, PAUSE_IMAGE]);
                    }
                    other => panic!("{other:?}"),
                },
            ),
            (
                "an asset named like an image but without image is missing",
                |r| r.status.components[0].assets[0].image = None,
                |got| {
                    assert!(
                        matches!(got, Err(Error::MissingEksdAssets { assets, .. }) if assets == [COREDNS_IMAGE])
                    )
                },
            ),
            (
                "a later asset with the same name wins",
                |r| {
                    r.status.components.push(component(
                        "extra",
                        "v0",
                        vec![image_asset(PAUSE_IMAGE, "other/pause:3.10")],
                    ))
                },
                |got| assert_eq!(got.unwrap().pause.uri(), "other/pause:3.10"),
            ),
            (
                "images are found in any component",
                |r| {
                    let etcd = r.status.components[3].assets.remove(2);
                    r.status.components[0].assets.push(etcd);
                },
                |got| assert_eq!(got.unwrap().etcd.tag, "v3.4.14-eks-1-19-4"),
            ),
            (
                "no etcd component: no version and no url, not an error",
                |r| r.status.components[3].name = "etcd-renamed".into(),
                |got| {
                    let d = got.unwrap();
                    assert_eq!((d.etcd_version, d.etcd_url), (None, None));
                },
            ),
            (
                "the etcd url is the last archive whose first arch is amd64",
                |r| {
                    let assets = &mut r.status.components[3].assets;
                    assets.push(archive_asset(
                        "multi",
                        &["amd64", "arm64"],
                        "https://x/last.tar.gz",
                    ));
                    assets.push(archive_asset(
                        "arm-first",
                        &["arm64", "amd64"],
                        "https://x/arm-first.tar.gz",
                    ));
                },
                |got| assert_eq!(got.unwrap().etcd_url.as_deref(), Some("https://x/last.tar.gz")),
            ),
            (
                "archives without arch are skipped and a tag without v is kept",
                |r| {
                    let etcd = &mut r.status.components[3];
                    etcd.git_tag = "3.5.0".into();
                    etcd.assets.retain(|a| a.archive.is_none());
                    etcd.assets
                        .push(archive_asset("no-arch", &[], "https://x/no-arch.tar.gz"));
                },
                |got| {
                    let d = got.unwrap();
                    assert_eq!(d.etcd_version.as_deref(), Some("3.5.0"));
                    assert_eq!(d.etcd_url, None);
                },
            ),
            (
                "an image without a slash keeps the whole name as repository",
                |r| {
                    r.status.components[0].assets[0].image = Some(AssetImage {
                        uri: "coredns:v1".into(),
                    })
                },
                |got| {
                    let d = got.unwrap();
                    assert_eq!(
                        (d.core_dns.repository.as_str(), d.core_dns.tag.as_str()),
                        ("coredns", "v1")
                    );
                },
            ),
        ];
        for (name, edit, check) in cases {
            let mut r = release();
            edit(&mut r);
            eprintln!("case: {name}");
            check(KubeDistro::from_eksd(&r));
        }
    }
}

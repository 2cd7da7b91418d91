//! The catalog compiled into the binary: `data/bundles.yaml` and one EKS-D release per version
//! under `data/eks-d/` (written by `data/generate.py`).

use std::sync::LazyLock;

use crate::catalog::Catalog;
use crate::error::Result;
use crate::fetch::FetchError;

/// The embedded Bundles manifest.
pub(crate) const BUNDLES: &str = include_str!("../data/bundles.yaml");

/// Where the embedded Bundles point their `eksD.manifestUrl`s.
pub(crate) const EKSD_URL_PREFIX: &str = "https://distro.eks.amazonaws.com/";

/// The embedded EKS-D releases, by file name (the last segment of their manifest URL).
pub(crate) const EKSD_RELEASES: [(&str, &str); 7] = [
    (
        "kubernetes-1-30-eks-51.yaml",
        include_str!("../data/eks-d/kubernetes-1-30-eks-51.yaml"),
    ),
    (
        "kubernetes-1-31-eks-39.yaml",
        include_str!("../data/eks-d/kubernetes-1-31-eks-39.yaml"),
    ),
    (
        "kubernetes-1-32-eks-32.yaml",
        include_str!("../data/eks-d/kubernetes-1-32-eks-32.yaml"),
    ),
    (
        "kubernetes-1-33-eks-23.yaml",
        include_str!("../data/eks-d/kubernetes-1-33-eks-23.yaml"),
    ),
    (
        "kubernetes-1-34-eks-14.yaml",
        include_str!("../data/eks-d/kubernetes-1-34-eks-14.yaml"),
    ),
    (
        "kubernetes-1-35-eks-4.yaml",
        include_str!("../data/eks-d/kubernetes-1-35-eks-4.yaml"),
    ),
    (
        "kubernetes-1-36-eks-2.yaml",
        include_str!("../data/eks-d/kubernetes-1-36-eks-2.yaml"),
    ),
];

/// Serves the embedded EKS-D releases for their real `distro.eks.amazonaws.com` URLs.
fn fetch_embedded(url: &str) -> Result<Vec<u8>, FetchError> {
    let name = url
        .strip_prefix(EKSD_URL_PREFIX)
        .and_then(|path| path.rsplit('/').next())
        .ok_or(FetchError::Unsupported)?;
    EKSD_RELEASES
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, text)| text.as_bytes().to_vec())
        .ok_or(FetchError::NotFound)
}

/// Builds the embedded catalog; the tests call this to see errors instead of a panic.
pub(crate) fn load() -> Result<Catalog> {
    Catalog::from_bundles_yaml(BUNDLES.as_bytes(), &fetch_embedded)
}

pub(crate) static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| load().expect("the embedded catalog is valid: the crate's tests load it"));

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use anywhere_api::document::{self, Fields};
    use serde_json::Value;

    use super::*;
    use crate::generated::VersionsBundle;
    use crate::images::ImageSource;
    use crate::{EksdManifest, KubeVersion};

    fn catalog() -> Catalog {
        load().unwrap_or_else(|e| panic!("embedded catalog: {e}: {:?}", e.hint()))
    }

    fn versions() -> Vec<KubeVersion> {
        (30..=36).map(|minor| KubeVersion::new(1, minor)).collect()
    }

    /// Image fields every embedded versions bundle must fill (the non-deprecated ones).
    const REQUIRED_FIELDS: &[&str] = &[
        "bootstrap.controller",
        "bootstrap.kubeProxy",
        "bottlerocketBootstrapContainers.multiNetworkBootstrap",
        "bottlerocketHostContainers.admin",
        "bottlerocketHostContainers.control",
        "bottlerocketHostContainers.kubeadmBootstrap",
        "certManager.acmesolver",
        "certManager.cainjector",
        "certManager.controller",
        "certManager.startupapicheck",
        "certManager.webhook",
        "cilium.cilium",
        "cilium.helmChart",
        "cilium.operator",
        "cloudStack.clusterAPIController",
        "cloudStack.kubeRbacProxy",
        "cloudStack.kubeVip",
        "clusterAPI.controller",
        "clusterAPI.kubeProxy",
        "controlPlane.controller",
        "controlPlane.kubeProxy",
        "docker.kubeProxy",
        "docker.manager",
        "eksD.kindNode",
        "eksa.cliTools",
        "eksa.clusterController",
        "eksa.diagnosticCollector",
        "etcdadmBootstrap.controller",
        "etcdadmBootstrap.kubeProxy",
        "etcdadmController.controller",
        "etcdadmController.kubeProxy",
        "flux.helmController",
        "flux.kustomizeController",
        "flux.notificationController",
        "flux.sourceController",
        "haproxy.image",
        "nutanix.cloudProvider",
        "nutanix.clusterAPIController",
        "nutanix.kubeVip",
        "packageController.credentialProviderPackage",
        "packageController.helmChart",
        "packageController.packageController",
        "packageController.tokenRefresher",
        "snow.bottlerocketBootstrapSnow",
        "snow.kubeVip",
        "snow.manager",
        "tinkerbell.clusterAPIController",
        "tinkerbell.envoy",
        "tinkerbell.kubeVip",
        "tinkerbell.tinkerbellStack.actions.cexec",
        "tinkerbell.tinkerbellStack.actions.imageToDisk",
        "tinkerbell.tinkerbellStack.actions.kexec",
        "tinkerbell.tinkerbellStack.actions.ociToDisk",
        "tinkerbell.tinkerbellStack.actions.reboot",
        "tinkerbell.tinkerbellStack.actions.writeFile",
        "tinkerbell.tinkerbellStack.boots",
        "tinkerbell.tinkerbellStack.hook.bootkit",
        "tinkerbell.tinkerbellStack.hook.docker",
        "tinkerbell.tinkerbellStack.hook.kernel",
        "tinkerbell.tinkerbellStack.stack",
        "tinkerbell.tinkerbellStack.tink.tinkRelayInit",
        "tinkerbell.tinkerbellStack.tinkerbellChart",
        "tinkerbell.tinkerbellStack.tinkerbellCrds",
        "upgrader.upgrader",
        "vSphere.clusterAPIController",
        "vSphere.kubeProxy",
        "vSphere.kubeVip",
        "vSphere.manager",
    ];

    #[test]
    fn has_all_supported_versions() {
        assert_eq!(catalog().supported_versions(), versions());
        assert_eq!(Catalog::embedded().supported_versions(), versions());
    }

    #[test]
    fn every_versions_bundle_decodes_strictly() {
        let value = document::parse_value(BUNDLES, 1).unwrap();
        let list = value
            .pointer("/spec/versionsBundles")
            .and_then(Value::as_array)
            .unwrap();
        assert_eq!(list.len(), versions().len());
        for (i, vb) in list.iter().enumerate() {
            if let Err(e) = document::decode::<VersionsBundle>(vb, Fields::Strict) {
                panic!("versionsBundles[{i}]: {e} ({:?})", e.hint());
            }
        }
    }

    #[test]
    fn every_image_field_is_filled() {
        let catalog = catalog();
        for version in versions() {
            let fields: BTreeSet<&str> = catalog
                .images()
                .filter(|i| i.kube_version == version)
                .filter_map(|i| match i.source {
                    ImageSource::Bundle { field } => {
                        assert!(!i.uri.is_empty(), "{version} {field} has no uri");
                        assert!(
                            i.uri.contains(':') && !i.uri.contains('@'),
                            "{version} {field}: {}",
                            i.uri
                        );
                        Some(field)
                    }
                    ImageSource::EksDistro { .. } => None,
                })
                .collect();
            let missing: Vec<_> = REQUIRED_FIELDS.iter().filter(|f| !fields.contains(*f)).collect();
            assert!(missing.is_empty(), "{version} lacks {missing:?}");
        }
    }

    /// Guards `visit_bundle_images`: every object with an image-like `uri` (not an https manifest or
    /// archive) in the embedded data must be visited.
    #[test]
    fn image_visitor_sees_every_image_in_the_data() {
        fn walk(value: &Value, path: &str, out: &mut BTreeSet<String>) {
            let Value::Object(map) = value else { return };
            if let Some(Value::String(uri)) = map.get("uri")
                && !uri.starts_with("https://")
            {
                out.insert(path.to_string());
            }
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(child, &child_path, out);
            }
        }
        let value = document::parse_value(BUNDLES, 1).unwrap();
        let catalog = catalog();
        for (i, vb) in value
            .pointer("/spec/versionsBundles")
            .and_then(Value::as_array)
            .unwrap()
            .iter()
            .enumerate()
        {
            let mut in_data = BTreeSet::new();
            walk(vb, "", &mut in_data);
            let version = versions()[i];
            let visited: BTreeSet<String> = catalog
                .images()
                .filter(|img| img.kube_version == version)
                .filter_map(|img| match img.source {
                    ImageSource::Bundle { field } => Some(field.to_string()),
                    ImageSource::EksDistro { .. } => None,
                })
                .collect();
            assert_eq!(visited, in_data, "{version}");
        }
    }

    #[test]
    fn every_version_has_its_eksd_release_and_kube_distro() {
        let catalog = catalog();
        let mut used = BTreeSet::new();
        for version in versions() {
            let vb = catalog.versions_bundle(version).unwrap();
            let eks_d = vb.eks_d.as_ref().unwrap();
            assert_eq!(eks_d.channel.as_deref(), Some(version.channel().as_str()));
            let url = eks_d.manifest_url.as_deref().unwrap();
            used.insert(url.rsplit('/').next().unwrap().to_string());
            let EksdManifest::Loaded(release) = catalog.eksd(version).unwrap() else {
                panic!("{version}: {:?}", catalog.eksd(version))
            };
            assert_eq!(
                release.metadata.name.as_deref(),
                eks_d.name.as_deref(),
                "{version}"
            );

            let distro = catalog
                .kube_distro(version)
                .unwrap_or_else(|e| panic!("{version}: {e}"));
            let kube = eks_d.kube_version.as_deref().unwrap();
            let tag = format!("{kube}-eks-{}-{}", version.channel(), release.spec.number);
            assert_eq!(
                distro.kubernetes.repository, "public.ecr.aws/eks-distro/kubernetes",
                "{version}"
            );
            assert_eq!(distro.kubernetes.tag, tag, "{version}");
            assert_eq!(
                distro.pause.uri(),
                format!("public.ecr.aws/eks-distro/kubernetes/pause:{tag}")
            );
            assert_eq!(distro.etcd.repository, "public.ecr.aws/eks-distro/etcd-io");
            assert_eq!(distro.core_dns.repository, "public.ecr.aws/eks-distro/coredns");
            let etcd = distro.etcd_version.as_deref().unwrap();
            assert_eq!(
                distro.etcd.tag,
                format!("v{etcd}-eks-{}-{}", version.channel(), release.spec.number)
            );
            let url = distro.etcd_url.as_deref().unwrap();
            assert!(
                url.ends_with(&format!("/etcd-linux-amd64-v{etcd}.tar.gz")),
                "{version}: {url}"
            );
            assert_eq!(distro.eksd.channel, version.channel());
            let kind_node = vb
                .eks_d
                .as_ref()
                .and_then(|e| e.kind_node.as_ref())
                .and_then(|k| k.uri.as_deref());
            assert!(
                kind_node
                    .unwrap()
                    .contains(&format!(":{kube}-eks-d-{}-", version.channel())),
                "{version}"
            );
        }
        let files: BTreeSet<String> = EKSD_RELEASES.iter().map(|(f, _)| f.to_string()).collect();
        assert_eq!(
            used, files,
            "every embedded eks-d file is used by exactly the bundles"
        );
    }

    #[test]
    fn embedded_fetcher_serves_only_its_files() {
        assert!(
            fetch_embedded("https://distro.eks.amazonaws.com/kubernetes-1-31/kubernetes-1-31-eks-39.yaml")
                .is_ok()
        );
        assert!(
            fetch_embedded("https://distro.eks.amazonaws.com/kubernetes-1-29/kubernetes-1-29-eks-4.yaml")
                .unwrap_err()
                .is_not_found()
        );
        assert!(matches!(
            fetch_embedded("embed:///x.yaml"),
            Err(FetchError::Unsupported)
        ));
    }

    #[test]
    fn image_uris_are_deduplicated() {
        let catalog = catalog();
        let uris = catalog.image_uris();
        assert!(
            uris.len() < catalog.images().count(),
            "shared components appear once"
        );
        assert!(uris.contains("public.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.31.14-eks-1-31-39"));
    }
}

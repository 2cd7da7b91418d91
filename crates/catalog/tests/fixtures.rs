//! The reference's fixture chain (conformance `cases/README.md`, sections 2 and 4): release list
//! -> Bundles -> EKS-D releases, read from the conformance pack through a file-backed `Fetch`.
//!
//! The pack lives outside the repository (`../shared` next to the checkout, or `$ANYWHERE_SHARED`);
//! when it is absent every test here prints why and passes, so a fresh clone still tests green.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use anywhere_catalog::{
    BUNDLES_NAMESPACE, Catalog, EksdManifest, Error, FetchError, ImageSource, KubeVersion, ManifestKind,
    embed_relative_path,
};

const CLI_VERSION: &str = "v0.19.0-dev+latest";
const MISSING_1_29: &str = "https://distro.eks.amazonaws.com/kubernetes-1-29/kubernetes-1-29-eks-4.yaml";

/// `…/conformance/eksa/testdata/internal/test/testdata`, when present.
fn testdata() -> Option<PathBuf> {
    let shared = match std::env::var_os("ANYWHERE_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let dir = shared.join("conformance/eksa/testdata/internal/test/testdata");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "skipping: conformance fixtures not found at {} (set ANYWHERE_SHARED to the shared directory)",
            dir.display()
        );
        None
    }
}

/// The fetcher a CLI would write: `embed:///X` is `X` under the embed root (`internal/test/`),
/// nothing else is reachable offline.
fn file_fetcher(testdata: &Path) -> impl Fn(&str) -> Result<Vec<u8>, FetchError> + use<> {
    let embed_root = testdata.parent().map(Path::to_path_buf).unwrap_or_default();
    move |url: &str| {
        let relative = embed_relative_path(url).ok_or(FetchError::Unsupported)?;
        Ok(std::fs::read(embed_root.join(relative))?)
    }
}

fn load(testdata: &Path) -> anyhow::Result<Catalog> {
    let releases = std::fs::read(testdata.join("releases.yaml"))?;
    Ok(Catalog::from_release_manifest(
        &releases,
        CLI_VERSION,
        &file_fetcher(testdata),
    )?)
}

fn v(s: &str) -> KubeVersion {
    s.parse().expect("test version")
}

#[test]
fn loads_every_version_and_keeps_1_29_as_not_available() -> anyhow::Result<()> {
    let Some(dir) = testdata() else { return Ok(()) };
    let catalog = load(&dir)?;
    assert_eq!(
        catalog.supported_versions(),
        ["1.18", "1.19", "1.20", "1.21", "1.29"].map(v)
    );
    let meta = catalog.bundles().metadata.as_ref().expect("namespace is set");
    assert_eq!(meta.namespace.as_deref(), Some(BUNDLES_NAMESPACE));

    for version in ["1.18", "1.19", "1.20", "1.21"].map(v) {
        assert!(
            matches!(catalog.eksd(version)?, EksdManifest::Loaded(_)),
            "{version}"
        );
        catalog.kube_distro(version)?;
    }
    match catalog.eksd(v("1.29"))? {
        EksdManifest::Unavailable {
            url,
            reason: FetchError::Unsupported,
        } => assert_eq!(url, MISSING_1_29),
        other => panic!("1.29: {other:?}"),
    }
    assert!(catalog.versions_bundle(v("1.29")).is_ok());
    let err = catalog.kube_distro(v("1.29")).unwrap_err();
    assert!(
        matches!(&err, Error::EksdUnavailable { url: Some(url), .. } if url == MISSING_1_29),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn kube_distro_1_19_matches_the_worked_example() -> anyhow::Result<()> {
    let Some(dir) = testdata() else { return Ok(()) };
    let d = load(&dir)?.kube_distro(v("1.19"))?;
    assert_eq!(d.kubernetes.repository, "public.ecr.aws/eks-distro/kubernetes");
    assert_eq!(d.kubernetes.tag, "v1.19.8-eks-1-19-4");
    assert_eq!(
        d.etcd_image.uri(),
        "public.ecr.aws/eks-distro/etcd-io/etcd:v3.4.14-eks-1-19-4"
    );
    assert_eq!(d.etcd.repository, "public.ecr.aws/eks-distro/etcd-io");
    assert_eq!(d.etcd.tag, "v3.4.14-eks-1-19-4");
    assert_eq!(d.core_dns.repository, "public.ecr.aws/eks-distro/coredns");
    assert_eq!(d.core_dns.tag, "v1.8.0-eks-1-19-4");
    assert_eq!(d.etcd_version.as_deref(), Some("3.4.14"));
    assert_eq!(
        d.etcd_url.as_deref(),
        Some(
            "https://distro.eks.amazonaws.com/kubernetes-1-19/releases/4/artifacts/etcd/v3.4.14/etcd-linux-amd64-v3.4.14.tar.gz"
        )
    );
    assert_eq!(
        d.pause.uri(),
        "public.ecr.aws/eks-distro/kubernetes/pause:v1.19.8-eks-1-19-4"
    );
    assert_eq!(d.pause.image(), "public.ecr.aws/eks-distro/kubernetes/pause");
    assert_eq!(d.pause.tag(), "v1.19.8-eks-1-19-4");
    assert_eq!(
        d.kube_proxy.uri(),
        "public.ecr.aws/eks-distro/kubernetes/kube-proxy:v1.19.8-eks-1-19-4"
    );
    assert_eq!(
        d.aws_iam_auth_image.uri(),
        "public.ecr.aws/eks-distro/kubernetes-sigs/aws-iam-authenticator:v0.5.2-eks-1-19-4"
    );
    assert_eq!((d.eksd.channel.as_str(), d.eksd.number), ("1-19", 4));
    Ok(())
}

#[test]
fn bundle_values_follow_the_reference_reading() -> anyhow::Result<()> {
    let Some(dir) = testdata() else { return Ok(()) };
    let catalog = load(&dir)?;
    let vb = catalog.versions_bundle(v("1.19"))?;
    // `cloudStack` is written twice; the last copy wins and renders as `<placeholder>`.
    let cloud_stack = vb.cloud_stack.as_ref().expect("cloudStack");
    assert_eq!(
        cloud_stack.kube_vip.as_ref().and_then(|k| k.uri.as_deref()),
        Some("<placeholder>")
    );
    // The 1.19 `nutanix` block is indented under `cloudStack`, so it is dropped: the Nutanix
    // kube-vip image renders empty in the 1.19 goldens.
    assert!(vb.nutanix.is_none());
    let v_sphere = vb.v_sphere.as_ref().expect("vSphere");
    assert_eq!(
        v_sphere.kube_vip.as_ref().and_then(|k| k.uri.as_deref()),
        Some("public.ecr.aws/l0g8r8j6/kube-vip/kube-vip:v0.3.2-2093eaeda5a4567f0e516d652e0b25b1d7abc774")
    );
    let haproxy = catalog
        .versions_bundle(v("1.29"))?
        .haproxy
        .as_ref()
        .and_then(|h| h.image.as_ref());
    assert_eq!(
        haproxy.and_then(|h| h.uri.as_deref()),
        Some("public.ecr.aws/l0g8r8j6/kubernetes-sigs/kind/haproxy:v0.22.0-eks-a-v0.19.0-dev-build.158")
    );

    // Images: bundle fields for every version, EKS-D assets only where the release loaded.
    let eksd_versions: std::collections::BTreeSet<KubeVersion> = catalog
        .images()
        .filter(|i| matches!(i.source, ImageSource::EksDistro { .. }))
        .map(|i| i.kube_version)
        .collect();
    assert_eq!(
        eksd_versions,
        ["1.18", "1.19", "1.20", "1.21"].map(v).into_iter().collect()
    );
    assert!(catalog.images().any(|i| i.kube_version == v("1.29")
        && i.source
            == ImageSource::Bundle {
                field: "vSphere.kubeVip"
            }));
    Ok(())
}

#[test]
fn the_fixture_bundles_are_not_strictly_valid() -> anyhow::Result<()> {
    let Some(dir) = testdata() else { return Ok(()) };
    // As a `--bundles-override` file the fixture is rejected, with the path of the first field
    // its own schema lacks.
    let bytes = std::fs::read(dir.join("bundles.yaml"))?;
    let err = Catalog::from_bundles_yaml(&bytes, &file_fetcher(&dir)).unwrap_err();
    let Error::Parse {
        manifest: ManifestKind::Bundles,
        source,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(source.path(), Some("spec.versionsBundles[0].eksD.ova.ubuntu"));
    assert!(
        err.hint().is_some_and(|h| h.contains("bottlerocket")),
        "{:?}",
        err.hint()
    );
    Ok(())
}

#[test]
fn other_cli_versions_are_not_in_the_release_list() -> anyhow::Result<()> {
    let Some(dir) = testdata() else { return Ok(()) };
    let releases = std::fs::read(dir.join("releases.yaml"))?;
    let err = Catalog::from_release_manifest(&releases, "v0.19.0", &file_fetcher(&dir)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the release list has no release v0.19.0 (it has v0.19.0-dev+latest)"
    );
    Ok(())
}

//! `anywhere check-images -f cluster.yaml`: before a create or upgrade, checks that every image
//! the cluster's nodes will pull is in its registry mirror, and lists the ones that are not.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use futures::StreamExt;

use anywhere_catalog::KubeVersion;
use anywhere_manifests::common::registry_mirror::{MirroredImage, mirrored_image, registry_mirror};
use anywhere_registry::{ClientConfig, Registry};

use super::validate::{CheckedSpec, SpecCheckArgs, read_checked_spec};

/// Arguments of `anywhere check-images`.
pub type Args = SpecCheckArgs;

/// Checks the mirror: exit 0 when every image is there, 1 when some are missing (each listed,
/// with where it would be pulled from), 2 for a bad spec or an unreachable mirror.
///
/// # Errors
/// A spec without a registry mirror, missing mirror credentials, or an unreachable mirror.
pub fn run(args: Args) -> Result<ExitCode> {
    let CheckedSpec { input, catalog, set } = match read_checked_spec(&args)? {
        Ok(checked) => checked,
        Err(code) => return Ok(code),
    };
    let Some(report) = check(&set, &catalog, &input.name)? else {
        bail!(
            "{}: spec.registryMirrorConfiguration is not set: check-images verifies the images in the \
             cluster's registry mirror; add registryMirrorConfiguration (endpoint, port) to the Cluster",
            input.name
        );
    };
    for line in &report.lines {
        println!("{line}");
    }
    eprintln!("{}", report.summary);
    if report.missing > 0 {
        eprintln!("{}", report.hint);
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// What [`check`] found.
pub(crate) struct Report {
    /// One line per missing or unmirrored image.
    pub lines: Vec<String>,
    /// How many images are missing.
    pub missing: usize,
    /// `N of M images ... are in the mirror ...`.
    pub summary: String,
    /// How to fix it.
    pub hint: String,
}

/// Checks the mirror of a validated spec; `None` when it has no registry mirror. Also the
/// create and upgrade preflight.
///
/// # Errors
/// Missing mirror credentials or an unreachable mirror.
pub(crate) fn check(
    set: &anywhere_api::ConfigSet,
    catalog: &anywhere_catalog::Catalog,
    file: &str,
) -> Result<Option<Report>> {
    let spec = set.cluster.spec.as_ref().context("the Cluster has no spec")?;
    let credentials = super::manifests::credentials_from_env()?;
    let Some(mirror) = registry_mirror(spec, &credentials)? else {
        return Ok(None);
    };
    let versions = cluster_versions(spec, catalog, file)?;
    let uris: BTreeSet<&str> = catalog
        .images()
        .filter(|i| versions.contains(&i.kube_version) && !i.uri.is_empty())
        .map(|i| i.uri)
        .collect();
    let mut unmirrored = Vec::new();
    let mut wanted: Vec<(&str, MirroredImage)> = Vec::new();
    for uri in &uris {
        match mirrored_image(&mirror, uri) {
            Some(m) => wanted.push((uri, m)),
            None => unmirrored.push(*uri),
        }
    }
    let config = ClientConfig {
        insecure: mirror.skip_verify,
        ca_pem: mirror.ca_cert.clone(),
        username: mirror.auth.as_ref().map(|(u, _)| u.clone()),
        password: mirror.auth.as_ref().map(|(_, p)| p.clone()),
        ..ClientConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let results = runtime.block_on(async {
        let registry = Registry::new(&mirror.address, &config).await.with_context(|| {
            format!(
                "registry mirror {} (spec.registryMirrorConfiguration)",
                mirror.address
            )
        })?;
        let results: Vec<(&str, &MirroredImage, anywhere_registry::Result<bool>)> =
            futures::stream::iter(&wanted)
                .map(|(uri, m)| {
                    let registry = registry.clone();
                    async move { (*uri, m, registry.has_manifest(&m.repository, &m.reference).await) }
                })
                .buffered(16)
                .collect()
                .await;
        anyhow::Ok(results)
    })?;
    let mut missing = 0;
    let mut lines = Vec::new();
    for (uri, m, result) in &results {
        let location =
            format!("{}/{}:{}", m.address, m.repository, m.reference).replace(":sha256:", "@sha256:");
        match result {
            Ok(true) => {}
            Ok(false) => {
                missing += 1;
                lines.push(format!("missing  {location}  (for {uri})"));
            }
            Err(e) => bail!("registry mirror {}: checking {location}: {e}", mirror.address),
        }
    }
    for uri in &unmirrored {
        missing += 1;
        lines.push(format!(
            "not mirrored  {uri}  (its registry has no ociNamespaces entry: nodes would pull it from the internet)"
        ));
    }
    let shown: Vec<String> = versions.iter().map(ToString::to_string).collect();
    let summary = format!(
        "{} of {} images for Kubernetes {} are in the mirror {}",
        results.len() - (missing - unmirrored.len()),
        uris.len(),
        shown.join(", "),
        mirror.address
    );
    let hint = format!(
        "copy them with `anywhere copy images --from <source> --to {}` before creating or upgrading",
        mirror.address
    );
    Ok(Some(Report {
        lines,
        missing,
        summary,
        hint,
    }))
}

/// The Kubernetes versions the cluster's nodes run: the control plane's and each worker
/// group's, each checked against the catalog.
pub(crate) fn cluster_versions(
    spec: &anywhere_api::ClusterSpec,
    catalog: &anywhere_catalog::Catalog,
    file: &str,
) -> Result<BTreeSet<KubeVersion>> {
    let mut versions = BTreeSet::new();
    let mut add = |v: &str, path: String| -> Result<()> {
        let version: KubeVersion = catalog
            .check_kubernetes_version(v)
            .with_context(|| format!("{file}: {path}"))?;
        versions.insert(version);
        Ok(())
    };
    add(
        spec.kubernetes_version.as_deref().unwrap_or_default(),
        "spec.kubernetesVersion".into(),
    )?;
    for (i, group) in spec.worker_node_group_configurations.iter().flatten().enumerate() {
        if let Some(v) = &group.kubernetes_version {
            add(
                v,
                format!("spec.workerNodeGroupConfigurations[{i}].kubernetesVersion"),
            )?;
        }
    }
    Ok(versions)
}

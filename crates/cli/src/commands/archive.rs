//! `anywhere download images -o images.tar` and `anywhere import images -i images.tar -r HOST`:
//! carrying a release's images into an air-gapped site in one file.
//!
//! Download fills a staging OCI layout beside the output (`images.tar.parts/`), so a re-run
//! after an interruption fetches only what is missing, then packs it into the tar. Import
//! streams every blob out of the tar into the registry: blobs the registry already has are
//! skipped (so a re-run after a kill sends only what did not arrive), every blob and manifest is
//! verified against its digest, and each tag is written last.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use anywhere_registry::{Archive, ArchivedImage, ClientConfig, Copier, ImageRef, LayoutDir, Registry};

/// Arguments of `anywhere download images`.
#[derive(Debug, clap::Args)]
pub struct DownloadArgs {
    /// The archive to write (a tar of an OCI image layout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Read every image from this registry instead of its upstream host (a mirror, or a lab
    /// registry); `host[:port]`.
    #[arg(long = "from", value_name = "HOST:PORT")]
    from: Option<String>,
    /// Images to download, one `[host/]repository:tag` or `…@sha256:…` per line. Without it:
    /// every image and chart of the release catalog.
    #[arg(long = "list", value_name = "FILE")]
    list: Option<PathBuf>,
    /// Only the images of these Kubernetes versions (repeatable), e.g. `1.31`.
    #[arg(long = "kubernetes-version", value_name = "VERSION", conflicts_with = "list")]
    kubernetes_versions: Vec<String>,
    /// Release catalog override (EKS-A Bundles YAML).
    #[arg(long = "bundles-override", value_name = "FILE", conflicts_with = "list")]
    bundles_override: Option<PathBuf>,
    /// Allow plain HTTP and unverified TLS (lab registries only).
    #[arg(long = "insecure")]
    insecure: bool,
    /// CA certificate (PEM) of the source registry.
    #[arg(long = "from-ca-file", value_name = "FILE")]
    from_ca_file: Option<PathBuf>,
    /// Source user; the password is read from ANYWHERE_SOURCE_REGISTRY_PASSWORD.
    #[arg(long = "from-username", value_name = "USER")]
    from_username: Option<String>,
    /// Parallel transfers.
    #[arg(long = "parallel", default_value_t = 8, value_name = "N")]
    parallel: usize,
}

/// Arguments of `anywhere import images`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The archive made by `anywhere download images` (or any OCI archive whose index names
    /// its images `repository:tag`).
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    input: PathBuf,
    /// The registry to push to, `host[:port][/namespace]`; images keep their repository path,
    /// under the namespace when one is given (as for a mirror's `ociNamespaces`).
    #[arg(short = 'r', long = "registry", value_name = "HOST:PORT[/NAMESPACE]")]
    registry: String,
    /// Allow plain HTTP and unverified TLS (lab registries only).
    #[arg(long = "insecure")]
    insecure: bool,
    /// CA certificate (PEM) of the registry.
    #[arg(long = "ca-file", value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Registry user; the password is read from ANYWHERE_REGISTRY_PASSWORD.
    #[arg(long = "username", value_name = "USER")]
    username: Option<String>,
    /// Parallel blob uploads.
    #[arg(long = "parallel", default_value_t = 8, value_name = "N")]
    parallel: usize,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// An image to download: where to read it and how to name it in the archive.
struct Wanted {
    /// Upstream host (`None`: the `--from` registry).
    host: Option<String>,
    image: ImageRef,
    /// Full name as listed.
    name: String,
}

fn host_of(text: &str) -> Option<String> {
    let first = text.split('/').next()?;
    (text.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost"))
        .then(|| first.to_string())
}

fn wanted(args: &DownloadArgs) -> Result<Vec<Wanted>> {
    let names: Vec<(String, String)> = match &args.list {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            // Parse for errors (all bad lines at once), keep the lines for the upstream hosts.
            anywhere_registry::parse_list(&text, &path.display().to_string())?;
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .enumerate()
                .map(|(n, l)| (l.to_string(), format!("{}:{}", path.display(), n + 1)))
                .collect()
        }
        None => {
            let catalog = crate::commands::validate::load_catalog(args.bundles_override.as_deref())?;
            let versions = args
                .kubernetes_versions
                .iter()
                .map(|v| catalog.check_kubernetes_version(v))
                .collect::<Result<Vec<_>, _>>()?;
            let mut uris: Vec<&str> = catalog
                .images()
                .filter(|i| !i.uri.is_empty())
                .filter(|i| versions.is_empty() || versions.contains(&i.kube_version))
                .map(|i| i.uri)
                .collect();
            uris.sort_unstable();
            uris.dedup();
            uris.into_iter()
                .map(|u| (u.to_string(), "release catalog".to_string()))
                .collect()
        }
    };
    let mut out: Vec<Wanted> = Vec::new();
    for (name, origin) in names {
        let image = ImageRef::parse(&name, &origin)?;
        if out.iter().any(|w| w.image == image) {
            continue;
        }
        let host = if args.from.is_some() { None } else { host_of(&name) };
        if args.from.is_none() && host.is_none() {
            bail!(
                "{origin}: `{name}` names no registry host; give one, or read every image from --from HOST"
            );
        }
        out.push(Wanted { host, image, name });
    }
    Ok(out)
}

/// Runs `anywhere download images`: 0 when every image is in the archive, 1 when some could not
/// be downloaded (no archive is written then; a re-run resumes), 2 for bad input.
///
/// # Errors
/// A list or catalog that cannot be read, an unreachable registry, or a write failure.
pub fn download(args: DownloadArgs) -> Result<ExitCode> {
    let images = wanted(&args)?;
    if images.is_empty() {
        bail!("no images to download");
    }
    let staging = staging_dir(&args.output);
    let resumed = staging.exists();
    let layout = LayoutDir::create(&staging)?;
    if resumed {
        eprintln!("resuming the download in {}", staging.display());
    }
    let config = ClientConfig {
        insecure: args.insecure,
        ca_file: args.from_ca_file.clone(),
        ca_pem: None,
        username: args.from_username.clone(),
        password: args
            .from_username
            .as_ref()
            .and_then(|_| std::env::var("ANYWHERE_SOURCE_REGISTRY_PASSWORD").ok()),
    };
    let mut by_host: BTreeMap<String, Vec<&Wanted>> = BTreeMap::new();
    for w in &images {
        let host = w.host.clone().or_else(|| args.from.clone()).unwrap_or_default();
        by_host.entry(host).or_default().push(w);
    }
    let started = Instant::now();
    let mut archived: BTreeMap<String, ArchivedImage> = BTreeMap::new();
    let mut failed = 0usize;
    let mut fetched_bytes = 0u64;
    runtime()?.block_on(async {
        for (host, wanted) in &by_host {
            let source = Registry::new(host, &config)
                .await
                .with_context(|| format!("source registry {host}"))?;
            let copier = Copier::new(source, &layout, args.parallel);
            let refs: Vec<ImageRef> = wanted.iter().map(|w| w.image.clone()).collect();
            let report = copier.copy_all(&refs).await;
            for copy in report.copied {
                fetched_bytes += copy.bytes_copied;
                let w = wanted.iter().find(|w| w.image.to_string() == copy.image);
                let name = w.map_or_else(|| copy.image.clone(), |w| w.name.clone());
                println!("downloaded {name} {}", copy.digest);
                archived.insert(
                    copy.image.clone(),
                    ArchivedImage {
                        name,
                        reference: copy.image,
                        digest: copy.digest,
                        media_type: copy.media_type,
                        size: copy.size,
                    },
                );
            }
            for (image, error) in report.failed {
                eprintln!("error: {host}/{image}: {error}");
                failed += 1;
            }
        }
        anyhow::Ok(())
    })?;
    if failed > 0 {
        eprintln!(
            "{failed} of {} images could not be downloaded; nothing written to {} (re-run to resume: \
             {} keeps what arrived)",
            images.len(),
            args.output.display(),
            staging.display()
        );
        return Ok(ExitCode::from(1));
    }
    let ordered: Vec<ArchivedImage> = images
        .iter()
        .filter_map(|w| archived.remove(&w.image.to_string()))
        .collect();
    let contents = anywhere_registry::pack(&layout, &ordered, &args.output)?;
    std::fs::remove_dir_all(&staging).with_context(|| format!("cannot remove {}", staging.display()))?;
    eprintln!(
        "{} images ({} blobs, {} MB) written to {} in {:.2}s ({} MB fetched)",
        contents.images.len(),
        contents.blobs,
        contents.bytes / 1_000_000,
        args.output.display(),
        started.elapsed().as_secs_f64(),
        fetched_bytes / 1_000_000
    );
    Ok(ExitCode::SUCCESS)
}

fn staging_dir(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".parts");
    output.with_file_name(name)
}

/// Runs `anywhere import images`: 0 when every image is in the registry, 1 when some failed
/// (re-run to resume), 2 for a bad archive or an unreachable registry.
///
/// # Errors
/// An unreadable or incomplete archive, or a registry that cannot be reached.
pub fn import(args: ImportArgs) -> Result<ExitCode> {
    let archive = Archive::open(&args.input)?;
    let blobs = archive
        .check_complete()
        .with_context(|| format!("{} is incomplete; download it again", args.input.display()))?;
    let config = ClientConfig {
        insecure: args.insecure,
        ca_file: args.ca_file.clone(),
        ca_pem: None,
        username: args.username.clone(),
        password: args
            .username
            .as_ref()
            .and_then(|_| std::env::var("ANYWHERE_REGISTRY_PASSWORD").ok()),
    };
    let (host, namespace) = match args.registry.split_once('/') {
        Some((host, ns)) => (host.to_string(), Some(ns.trim_matches('/').to_string())),
        None => (args.registry.clone(), None),
    };
    let images: Vec<ImageRef> = archive
        .images()
        .iter()
        .map(|i| ImageRef::parse(&i.reference, &args.input.display().to_string()))
        .collect::<Result<_, _>>()?;
    let images: Vec<(ImageRef, ImageRef)> = images
        .into_iter()
        .map(|image| {
            let target = match &namespace {
                Some(ns) => ImageRef {
                    repository: format!("{ns}/{}", image.repository),
                    ..image.clone()
                },
                None => image.clone(),
            };
            (image, target)
        })
        .collect();
    let started = Instant::now();
    let (mut sent, mut present, mut bytes) = (0, 0, 0);
    let mut report = anywhere_registry::CopyReport::default();
    runtime()?.block_on(async {
        use futures::StreamExt;
        let destination = Registry::new(&host, &config)
            .await
            .with_context(|| format!("registry {host}"))?;
        let copier = Copier::new(&archive, destination, args.parallel);
        let mut outcomes = std::pin::pin!(copier.copy_stream_as(&images));
        while let Some((image, outcome)) = outcomes.next().await {
            match outcome {
                Ok(copy) => {
                    sent += copy.blobs_copied;
                    present += copy.blobs_present + copy.blobs_mounted;
                    bytes += copy.bytes_copied;
                    println!(
                        "imported {host}/{} {} ({} blobs sent, {} already there)",
                        copy.image,
                        copy.digest,
                        copy.blobs_copied,
                        copy.blobs_present + copy.blobs_mounted
                    );
                    report.copied.push(copy);
                }
                Err(e) => report.failed.push((image, e)),
            }
        }
        anyhow::Ok(())
    })?;
    for (image, error) in &report.failed {
        eprintln!("error: {image}: {error}");
    }
    eprintln!(
        "{} of {} images imported into {} in {:.2}s: {sent} blobs sent ({} MB), {present} already \
         there, {blobs} in the archive",
        report.copied.len(),
        images.len(),
        args.registry,
        started.elapsed().as_secs_f64(),
        bytes / 1_000_000
    );
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

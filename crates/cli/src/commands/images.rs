//! `anywhere copy images --from HOST --to HOST [--list FILE] [--insecure]`: copies images
//! between registries with their digests preserved (registry-to-registry mirroring for
//! air-gapped sites). Without `--list`, the images of the release catalog.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use anywhere_registry::{ClientConfig, Copier, ImageRef, Registry};

/// Arguments of `anywhere copy images`.
#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// Source registry, `host[:port]`.
    #[arg(long = "from", value_name = "HOST:PORT")]
    from: String,
    /// Destination registry, `host[:port]`.
    #[arg(long = "to", value_name = "HOST:PORT")]
    to: String,
    /// Images to copy, one `repository:tag` or `repository@sha256:...` per line (`#` comments).
    /// Without it: every image of the release catalog, at its path in the source registry.
    #[arg(long = "list", value_name = "FILE")]
    list: Option<PathBuf>,
    /// Release catalog override (EKS-A Bundles YAML) when copying the catalog's images.
    #[arg(long = "bundles-override", value_name = "FILE", conflicts_with = "list")]
    bundles_override: Option<PathBuf>,
    /// Allow plain HTTP and unverified TLS on both registries (lab registries only).
    #[arg(long = "insecure")]
    insecure: bool,
    /// CA certificate (PEM) of the destination registry.
    #[arg(long = "to-ca-file", value_name = "FILE")]
    to_ca_file: Option<PathBuf>,
    /// Destination user; the password is read from ANYWHERE_REGISTRY_PASSWORD.
    #[arg(long = "to-username", value_name = "USER")]
    to_username: Option<String>,
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

/// Runs `anywhere copy images`: 0 when every image was copied, 1 when some failed, 2 for bad
/// input or an unreachable registry.
///
/// # Errors
/// A list that cannot be read or parsed, or a registry that cannot be reached.
pub fn copy(args: CopyArgs) -> Result<ExitCode> {
    let images = match &args.list {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            anywhere_registry::parse_list(&text, &path.display().to_string())?
        }
        None => catalog_images(args.bundles_override.as_deref())?,
    };
    let config = |insecure, ca_file: &Option<PathBuf>, username: &Option<String>, env: &str| ClientConfig {
        insecure,
        ca_file: ca_file.clone(),
        username: username.clone(),
        password: username.as_ref().and_then(|_| std::env::var(env).ok()),
        ca_pem: None,
    };
    let from = config(
        args.insecure,
        &args.from_ca_file,
        &args.from_username,
        "ANYWHERE_SOURCE_REGISTRY_PASSWORD",
    );
    let to = config(
        args.insecure,
        &args.to_ca_file,
        &args.to_username,
        "ANYWHERE_REGISTRY_PASSWORD",
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started = Instant::now();
    let report = runtime.block_on(async {
        let source = Registry::new(&args.from, &from)
            .await
            .with_context(|| format!("source registry {}", args.from))?;
        let destination = Registry::new(&args.to, &to)
            .await
            .with_context(|| format!("destination registry {}", args.to))?;
        let copier = Copier::new(source, destination, args.parallel);
        anyhow::Ok(copier.copy_all(&images).await)
    })?;
    for copy in &report.copied {
        println!(
            "copied {} {} ({} blobs sent, {} bytes; {} already there, {} mounted)",
            copy.image,
            copy.digest,
            copy.blobs_copied,
            copy.bytes_copied,
            copy.blobs_present,
            copy.blobs_mounted
        );
    }
    for (image, error) in &report.failed {
        eprintln!("error: {image}: {error}");
    }
    let bytes: u64 = report.copied.iter().map(|c| c.bytes_copied).sum();
    eprintln!(
        "{} of {} images copied from {} to {} in {:.2}s ({} MB sent)",
        report.copied.len(),
        images.len(),
        args.from,
        args.to,
        started.elapsed().as_secs_f64(),
        bytes / 1_000_000
    );
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The catalog's images as repository paths (their upstream host dropped: the copy reads them
/// from `--from`).
fn catalog_images(bundles_override: Option<&std::path::Path>) -> Result<Vec<ImageRef>> {
    let catalog = crate::commands::validate::load_catalog(bundles_override)?;
    let mut images = Vec::new();
    for uri in catalog.image_uris() {
        if uri.is_empty() {
            continue;
        }
        let image = ImageRef::parse(uri, "release catalog")?;
        if !images.contains(&image) {
            images.push(image);
        }
    }
    Ok(images)
}

//! `anywhere download artifacts`: every manifest the release catalog references (Cluster API and
//! provider components and metadata, cert-manager, Cilium, EKS-D release manifests…) fetched
//! into `eks-anywhere-downloads/<kubeVersion>/<field path>/<file>`, the catalog rewritten to
//! point at those files (`bundle-release.yaml`), and the directory packed as
//! `eks-anywhere-downloads.tar.gz` — EKS Anywhere's layout, so `--bundles-override
//! eks-anywhere-downloads/bundle-release.yaml` works at an air-gapped site.
//!
//! A manifest is any string of the Bundles that is an `http(s)://` URL of a `.yaml`/`.yml`/
//! `.json` file (`uri`, `eksD.manifestUrl`, `eksD.components`…); images are named by registry
//! paths, never URLs, and archives (OS images, tool tarballs) stay URLs, as in EKS-A. Every download is checked to parse as YAML or JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Arguments of `anywhere download artifacts`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to download into; packed into `<DIR>.tar.gz` beside it.
    #[arg(
        short = 'd',
        long = "download-dir",
        default_value = "eks-anywhere-downloads",
        value_name = "DIR"
    )]
    download_dir: PathBuf,
    /// Keep the directory after packing it.
    #[arg(short = 'r', long = "retain-dir")]
    retain_dir: bool,
    /// List what would be downloaded, download nothing.
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// Release catalog override (EKS-A Bundles YAML).
    #[arg(long = "bundles-override", value_name = "FILE")]
    bundles_override: Option<PathBuf>,
}

/// One manifest of the catalog.
#[derive(Debug)]
struct Artifact {
    /// JSON pointer of its URL in the Bundles.
    pointer: String,
    url: String,
    /// Path under the download directory.
    local: PathBuf,
}

fn is_manifest_url(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or("");
    (url.starts_with("https://") || url.starts_with("http://"))
        && [".yaml", ".yml", ".json"].iter().any(|e| path.ends_with(e))
}

/// Every manifest URL of the Bundles, with the local path EKS-A gives it.
fn artifacts(bundles: &Value) -> Vec<Artifact> {
    let mut out = Vec::new();
    let Some(list) = bundles.pointer("/spec/versionsBundles").and_then(Value::as_array) else {
        return out;
    };
    for (i, vb) in list.iter().enumerate() {
        let version = vb.get("kubeVersion").and_then(Value::as_str).unwrap_or("unknown");
        walk(
            vb,
            &format!("/spec/versionsBundles/{i}"),
            &mut Vec::new(),
            &mut |pointer, path, url| {
                let file = url
                    .split(['?', '#'])
                    .next()
                    .and_then(|p| p.rsplit('/').next())
                    .unwrap_or("manifest.yaml");
                let mut local = PathBuf::from(version);
                local.extend(path);
                local.push(file);
                out.push(Artifact {
                    pointer: pointer.to_string(),
                    url: url.to_string(),
                    local,
                });
            },
        );
    }
    // Two different URLs with one local path (same file name in one component): the later one
    // goes under a directory named by its key.
    let mut seen: std::collections::HashMap<PathBuf, String> = std::collections::HashMap::new();
    for a in &mut out {
        if seen.get(&a.local).is_some_and(|url| *url != a.url) {
            let key = a.pointer.rsplit('/').next().unwrap_or("other").to_string();
            let file = a.local.file_name().map(|f| f.to_os_string()).unwrap_or_default();
            a.local.set_file_name(key);
            a.local.push(file);
        }
        seen.entry(a.local.clone()).or_insert_with(|| a.url.clone());
    }
    out
}

fn walk(value: &Value, pointer: &str, path: &mut Vec<String>, found: &mut dyn FnMut(&str, &[String], &str)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_pointer = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                match child {
                    Value::String(url) if is_manifest_url(url) => found(&child_pointer, path, url),
                    _ => {
                        path.push(key.clone());
                        walk(child, &child_pointer, path, found);
                        path.pop();
                    }
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(i.to_string());
                walk(child, &format!("{pointer}/{i}"), path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Runs `anywhere download artifacts`: 0 when every manifest was downloaded and packed, 1 when
/// some could not be (the directory is kept; a re-run fetches only what is missing), 2 for bad
/// input.
///
/// # Errors
/// A catalog that cannot be loaded or a directory that cannot be written.
pub fn run(args: Args) -> Result<ExitCode> {
    let catalog = crate::commands::validate::load_catalog(args.bundles_override.as_deref())?;
    let mut bundles = serde_json::to_value(catalog.bundles()).context("cannot serialise the catalog")?;
    let list = artifacts(&bundles);
    if list.is_empty() {
        bail!("the release catalog references no manifest URL");
    }
    if args.dry_run {
        for a in &list {
            println!("{}  ->  {}", a.url, args.download_dir.join(&a.local).display());
        }
        eprintln!("{} manifests would be downloaded", list.len());
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    let http = http_client()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut failed = 0;
    let mut fetched = 0;
    for a in &list {
        let target = args.download_dir.join(&a.local);
        if !target.exists() {
            match runtime.block_on(fetch(&http, &a.url)) {
                Ok(bytes) => {
                    write_atomic(&target, &bytes)?;
                    fetched += 1;
                }
                Err(e) => {
                    eprintln!("error: {} ({}): {e:#}", a.url, a.pointer);
                    failed += 1;
                    continue;
                }
            }
        }
        if let Some(slot) = bundles.pointer_mut(&a.pointer) {
            *slot = Value::String(a.local.to_string_lossy().into_owned());
        }
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {} manifests could not be downloaded; {} keeps the others (re-run to resume)",
            list.len(),
            args.download_dir.display()
        );
        return Ok(ExitCode::from(1));
    }
    let yaml = serde_saphyr::to_string(&bundles).context("cannot write bundle-release.yaml")?;
    write_atomic(&args.download_dir.join("bundle-release.yaml"), yaml.as_bytes())?;
    let archive = pack(&args.download_dir)?;
    if !args.retain_dir {
        std::fs::remove_dir_all(&args.download_dir)
            .with_context(|| format!("cannot remove {}", args.download_dir.display()))?;
    }
    eprintln!(
        "{} manifests ({fetched} fetched) and bundle-release.yaml packed into {} in {:.2}s",
        list.len(),
        archive.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The HTTP client for manifest downloads (rustls with the process's ring provider).
fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("anywhere/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(120))
        .build()
        .context("cannot build the HTTP client")
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>> {
    let mut last = None;
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
        }
        match http.get(url).send().await.and_then(|r| r.error_for_status()) {
            Ok(response) => {
                let bytes = response.bytes().await?.to_vec();
                // A manifest must parse: an HTML error page served with 200 is refused.
                let text = std::str::from_utf8(&bytes).context("not UTF-8 text")?;
                serde_saphyr::from_multiple::<serde_json::Value>(text)
                    .map_err(|e| anyhow::anyhow!("not YAML or JSON: {e}"))?;
                return Ok(bytes);
            }
            Err(e) if e.status().is_some_and(|s| s.is_client_error()) => return Err(e.into()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(|| anyhow::anyhow!("no attempt made"), Into::into))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let temp = path.with_extension("partial");
    std::fs::write(&temp, bytes).with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Packs `dir` into `<dir>.tar.gz` (entries under `<dir name>/`, as EKS-A's archive).
fn pack(dir: &Path) -> Result<PathBuf> {
    let name = dir.file_name().context("the download directory has no name")?;
    let mut file_name = name.to_os_string();
    file_name.push(".tar.gz");
    let out = dir.with_file_name(file_name);
    let temp = out.with_extension("partial");
    let file = std::fs::File::create(&temp).with_context(|| format!("cannot write {}", temp.display()))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.append_dir_all(name, dir)
        .with_context(|| format!("cannot pack {}", dir.display()))?;
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, &out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(out)
}

//! `anywhere validate -f FILE|-`: parse, default and validate a spec file, offline.
//!
//! Exit codes: 0 valid, 1 invalid (every problem listed), 2 the command itself failed (file not
//! readable, bad flags).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use anywhere_api::document;
use anywhere_api::meta::Resource;
use anywhere_api::{ConfigSet, Reading, defaults, validate};
use anywhere_catalog::Catalog;

use crate::input;

/// Arguments of `anywhere validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The cluster spec file; `-` reads standard input.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    filename: String,
    /// A Bundles manifest to use instead of the embedded release catalog (air-gapped sites).
    #[arg(long = "bundles-override", value_name = "FILE")]
    bundles_override: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    output: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// One problem, ready to print.
#[derive(Debug, Serialize)]
struct Problem {
    /// `Kind/name` of the object, when the problem is inside one.
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<String>,
    /// 1-based line where the object (or the problem) starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    /// Field path inside the object.
    path: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

/// The result of checking one spec file.
#[derive(Debug, Serialize)]
pub struct Outcome {
    file: String,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<String>,
    errors: Vec<Problem>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let input = input::read(&args.filename)?;
    tracing::info!(file = %input.name, size_bytes = input.size_bytes, "read spec");
    let catalog = load_catalog(args.bundles_override.as_deref())?;
    tracing::info!(
        source = if args.bundles_override.is_some() { "bundles override" } else { "embedded" },
        versions = %catalog.supported_versions().iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","),
        "loaded release catalog"
    );
    let options = Options::from_env()?;
    let outcome = check(&input, &catalog, &options);
    match args.output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
        Format::Text => print_text(&outcome),
    }
    Ok(if outcome.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What the environment contributes to defaulting and validation. Read here, at the edge, and
/// passed down as plain values.
#[derive(Debug, Default)]
pub struct Options {
    registry_mirror_ca: Option<String>,
    api_server_extra_args_enabled: bool,
    vsphere_in_place_upgrade: bool,
}

impl Options {
    /// Reads the variables EKS Anywhere reads.
    pub fn from_env() -> Result<Self> {
        let registry_mirror_ca = match std::env::var_os("EKSA_REGISTRY_MIRROR_CA") {
            Some(p) if !p.is_empty() => Some(std::fs::read_to_string(&p).with_context(|| {
                format!(
                    "failed to read EKSA_REGISTRY_MIRROR_CA file {}",
                    p.to_string_lossy()
                )
            })?),
            _ => None,
        };
        let flag = |name: &str| std::env::var(name).map(|v| v == "true").unwrap_or(false);
        Ok(Options {
            registry_mirror_ca,
            api_server_extra_args_enabled: flag("API_SERVER_EXTRA_ARGS_ENABLED"),
            vsphere_in_place_upgrade: flag("VSPHERE_IN_PLACE_UPGRADE"),
        })
    }
}

/// Arguments of the commands that check a cluster spec against something outside it
/// (`check-images`, `check-egress`).
#[derive(Debug, clap::Args)]
pub struct SpecCheckArgs {
    /// The cluster spec file; `-` reads standard input.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filename: String,
    /// A Bundles manifest to use instead of the embedded release catalog.
    #[arg(long = "bundles-override", value_name = "FILE")]
    pub bundles_override: Option<PathBuf>,
}

/// A spec that passed validation, with the catalog it was checked against.
pub struct CheckedSpec {
    /// The file as read.
    pub input: input::Input,
    /// The release catalog (embedded or `--bundles-override`).
    pub catalog: Catalog,
    /// The defaulted, valid spec.
    pub set: ConfigSet,
}

/// Reads, defaults and validates the spec of `args`: the checked spec, or — after printing
/// what is wrong — `Err(exit code 2)`.
///
/// # Errors
/// The file or the catalog cannot be read, or required environment is missing.
pub fn read_checked_spec(args: &SpecCheckArgs) -> Result<Result<CheckedSpec, ExitCode>> {
    let input = input::read(&args.filename)?;
    let catalog = load_catalog(args.bundles_override.as_deref())?;
    let options = Options::from_env()?;
    let (outcome, set) = check_spec(&input, &catalog, &options);
    Ok(match set {
        Some(set) => Ok(CheckedSpec { input, catalog, set }),
        None => {
            print_text(&outcome);
            Err(ExitCode::from(2))
        }
    })
}

/// Loads the embedded catalog or the `--bundles-override` file.
pub fn load_catalog(bundles_override: Option<&Path>) -> Result<Catalog> {
    match bundles_override {
        None => Ok(Catalog::embedded().clone()),
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("failed to read bundles override {}", path.display()))?;
            let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
            let fetch = FileFetch { base };
            Catalog::from_bundles_yaml(&bytes, &fetch)
                .with_context(|| format!("failed to load bundles override {}", path.display()))
        }
    }
}

/// Fetches catalog manifests from local files: absolute paths, paths relative to the bundles
/// file, and `file://` URLs. Network URLs are not fetched (the catalog then reports that
/// version's EKS Distro manifest as unavailable), because air-gapped sites are what
/// `--bundles-override` is for.
pub struct FileFetch {
    /// Directory relative paths are resolved against.
    pub base: PathBuf,
}

impl anywhere_catalog::Fetch for FileFetch {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, anywhere_catalog::FetchError> {
        let path = if let Some(p) = url.strip_prefix("file://") {
            PathBuf::from(p)
        } else if url.contains("://") {
            return Err(anywhere_catalog::FetchError::Unsupported);
        } else if Path::new(url).is_absolute() {
            PathBuf::from(url)
        } else {
            self.base.join(url)
        };
        Ok(std::fs::read(&path)?)
    }
}

fn check(input: &input::Input, catalog: &Catalog, options: &Options) -> Outcome {
    check_spec(input, catalog, options).0
}

/// Parses, defaults and validates a spec file: the outcome to report and, when valid, the
/// defaulted spec (for commands that go on to use it).
pub fn check_spec(
    input: &input::Input,
    catalog: &Catalog,
    options: &Options,
) -> (Outcome, Option<ConfigSet>) {
    let mut outcome = Outcome {
        file: input.name.clone(),
        valid: false,
        cluster: None,
        errors: Vec::new(),
    };
    if input.size_bytes > document::MAX_FILE_BYTES as u64 {
        let e = document::Error::TooLarge {
            size_bytes: input.size_bytes as usize,
            limit_bytes: document::MAX_FILE_BYTES,
        };
        outcome.errors.push(Problem {
            object: None,
            line: None,
            path: "(file)".into(),
            message: e.to_string(),
            hint: e.hint().map(str::to_string),
        });
        return (outcome, None);
    }
    let parsed = match document::text_of(&input.bytes) {
        Ok(text) => anywhere_api::parse_config_set_all(text, Reading::Strict),
        Err(e) => Err(vec![anywhere_api::ParseError::from(e)]),
    };
    let set = match parsed {
        Ok(set) => set,
        Err(errors) => {
            outcome.errors.extend(errors.iter().map(parse_problem));
            return (outcome, None);
        }
    };
    outcome.cluster = Some(set.cluster.name().to_string());
    tracing::info!(
        cluster = set.cluster.name(),
        objects = set.objects.len() + 1,
        "parsed spec"
    );
    for (object, origin) in &set.objects {
        tracing::debug!(
            kind = object.kind(),
            name = object.name(),
            line = origin.line,
            "object"
        );
    }
    let mut set = set;
    let defaults_options = defaults::DefaultsOptions {
        registry_mirror_ca: options.registry_mirror_ca.clone(),
        ..Default::default()
    };
    // The reference's order: parse-time and provider defaults, validation, then the CLI's own
    // defaults (namespaces, machine health checks), which no rule depends on.
    defaults::apply_parse_time(&mut set, &defaults_options);
    defaults::apply_providers(&mut set);
    let resolver = SystemResolver::default();
    let ctx = validate::ClusterContext::new(&resolver).with_features(validate::FeatureFlags {
        api_server_extra_args: options.api_server_extra_args_enabled,
        vsphere_in_place_upgrade: options.vsphere_in_place_upgrade,
    });
    let violations = validate::config_set(&set, &ctx);
    tracing::info!(violations = violations.len(), "validated spec");
    for v in violations {
        outcome.errors.push(violation_problem(&set, v));
    }
    for (path, version) in kubernetes_versions(&set) {
        if let Err(e) = catalog.check_kubernetes_version(&version) {
            outcome.errors.push(Problem {
                object: Some(format!("Cluster/{}", set.cluster.name())),
                line: Some(set.cluster_origin.line),
                path,
                message: e.to_string(),
                hint: Some(
                    "use a supported version, or pass --bundles-override with a catalog that has this one"
                        .into(),
                ),
            });
        }
    }
    outcome.valid = outcome.errors.is_empty();
    let set = outcome.valid.then_some(set);
    (outcome, set)
}

/// Every Kubernetes version the spec asks for, with its field path.
fn kubernetes_versions(set: &ConfigSet) -> Vec<(String, String)> {
    let Some(spec) = set.cluster.spec.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(v) = spec.kubernetes_version.as_deref() {
        out.push(("spec.kubernetesVersion".to_string(), v.to_string()));
    }
    for (i, w) in spec.worker_node_group_configurations.iter().flatten().enumerate() {
        if let Some(v) = w.kubernetes_version.as_deref() {
            out.push((
                format!("spec.workerNodeGroupConfigurations[{i}].kubernetesVersion"),
                v.to_string(),
            ));
        }
    }
    out
}

fn parse_problem(e: &anywhere_api::ParseError) -> Problem {
    use anywhere_api::ParseError as P;
    let (object, line) = match e {
        P::Object { line, kind, name, .. } => (Some(format!("{kind}/{name}")), Some(*line)),
        P::NoApiVersion { line, .. } | P::NoKind { line } => (None, Some(*line)),
        P::SecondCluster { line, .. } | P::Duplicate { line, .. } => (None, Some(*line)),
        P::Document(d) => (None, document_line(d)),
        P::NoCluster { .. } => (None, None),
    };
    let (path, message) = match e {
        P::Object { source, .. } => match source {
            document::Error::Decode { path, message, .. } => (path.clone(), message.clone()),
            other => ("(document)".to_string(), other.to_string()),
        },
        other => ("(file)".to_string(), strip_line_prefix(&other.to_string())),
    };
    Problem {
        object,
        line,
        path,
        message: redact(&message),
        hint: e.hint(),
    }
}

fn document_line(e: &document::Error) -> Option<usize> {
    match e {
        document::Error::Yaml { line, .. } => *line,
        document::Error::Separator { line, .. } | document::Error::NotAMapping { line, .. } => Some(*line),
        _ => None,
    }
}

fn strip_line_prefix(s: &str) -> String {
    match s.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) => rest.to_string(),
        _ => s.to_string(),
    }
}

fn violation_problem(set: &ConfigSet, v: validate::Violation) -> Problem {
    let line = v
        .object
        .split_once('/')
        .and_then(|(kind, name)| set.origin(kind, name))
        .map(|o| o.line);
    Problem {
        object: (!v.object.is_empty()).then(|| v.object.clone()),
        line,
        path: v.path,
        message: redact(&v.message),
        hint: v.hint.map(|h| redact(&h)),
    }
}

/// Prints an outcome for people (used by every command that checks a spec first).
pub fn print_text(outcome: &Outcome) {
    if outcome.valid {
        println!(
            "{}: valid (Cluster {})",
            outcome.file,
            outcome.cluster.as_deref().unwrap_or("")
        );
        return;
    }
    for p in &outcome.errors {
        let location = match (&p.object, p.line) {
            (Some(o), Some(l)) => format!(" ({o}, line {l})"),
            (Some(o), None) => format!(" ({o})"),
            (None, Some(l)) => format!(" (line {l})"),
            (None, None) => String::new(),
        };
        println!("{}: {}: {}{}", outcome.file, p.path, p.message, location);
        if let Some(h) = &p.hint {
            println!("  hint: {h}");
        }
    }
    eprintln!(
        "{}: {} problem{} found",
        outcome.file,
        outcome.errors.len(),
        if outcome.errors.len() == 1 { "" } else { "s" }
    );
}

/// Hides the password of any `scheme://user:password@host` in a message.
fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '/')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Resolves proxy host names with the system resolver, giving up after `timeout`.
pub struct SystemResolver {
    timeout: Duration,
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver {
            timeout: Duration::from_secs(5),
        }
    }
}

impl validate::Resolver for SystemResolver {
    fn resolves(&self, host: &str) -> bool {
        use std::net::ToSocketAddrs;
        let host = host.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let ok = (host.as_str(), 0u16)
                .to_socket_addrs()
                .map(|mut a| a.next().is_some())
                .unwrap_or(false);
            let _ = tx.send(ok);
        });
        rx.recv_timeout(self.timeout).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            redact("proxy http://bob:s3cret@proxy:3128 is invalid"),
            "proxy http://bob:***@proxy:3128 is invalid"
        );
        assert_eq!(redact("http://proxy:3128/x"), "http://proxy:3128/x");
    }
}

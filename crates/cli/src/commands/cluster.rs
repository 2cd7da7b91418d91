//! `anywhere create cluster`, `upgrade cluster`, `upgrade plan cluster`, `delete cluster`,
//! `pause cluster` and `resume cluster`: the cluster lifecycle over a management plane.
//!
//! State lives in the cluster folder `./<cluster>/` as with EKS Anywhere: the kubeconfig
//! (`<cluster>-eks-a-cluster.kubeconfig`, mode 0600) and `generated/` (the checkpoint of the
//! running operation; with `--simulate`, the simulated management plane). A command killed at
//! any point resumes when re-run with the same spec.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use anywhere_engine::workflow::{self, Reporter, Workflow};
use serde_json::Value;

use super::validate::{Options, check_spec, load_catalog, print_text};
use crate::input;
use crate::management::{self, Management};

/// Where the management plane is.
#[derive(Debug, Clone, clap::Args)]
pub struct PlaneArgs {
    /// Run against simulated infrastructure: an in-memory management plane and Cluster API
    /// simulator whose state is kept in `<cluster>/generated/simulate/` (nothing real is
    /// created).
    #[arg(long = "simulate", conflicts_with = "kubeconfig")]
    simulate: bool,
    /// The management cluster's kubeconfig (for workload clusters, or when the management
    /// cluster already exists).
    #[arg(long = "kubeconfig", value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// A Bundles manifest to use instead of the embedded release catalog.
    #[arg(long = "bundles-override", value_name = "FILE")]
    bundles_override: Option<PathBuf>,
    /// Give up waiting for a step after this many seconds (re-running resumes).
    #[arg(long = "timeout", default_value_t = 3600, value_name = "SECONDS")]
    timeout: u64,
}

/// Arguments of `create cluster` and `upgrade cluster`.
#[derive(Debug, clap::Args)]
pub struct SpecArgs {
    /// The cluster spec file.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    filename: String,
    #[command(flatten)]
    plane: PlaneArgs,
    /// Preflight checks to skip (comma-separated): `check-images` (every image in the registry
    /// mirror), `check-egress` (nothing outside the mirror, proxy and noProxy). Both run only
    /// when the spec has a registry mirror.
    #[arg(long = "skip-validations", value_delimiter = ',', value_name = "CHECKS", value_parser = ["check-images", "check-egress"])]
    skip_validations: Vec<String>,
}

/// Arguments of `delete cluster`.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The cluster's name (its folder `./<name>/` holds what the delete needs).
    #[arg(value_name = "NAME", required_unless_present = "filename")]
    name: Option<String>,
    /// The cluster spec file, instead of NAME.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    filename: Option<String>,
    #[command(flatten)]
    plane: PlaneArgs,
}

/// Arguments of `pause cluster` and `resume cluster`.
#[derive(Debug, clap::Args)]
pub struct NameArgs {
    /// The cluster's name.
    #[arg(value_name = "NAME")]
    name: String,
    /// The cluster's namespace in the management cluster.
    #[arg(short = 'n', long = "namespace", default_value = "default")]
    namespace: String,
    #[command(flatten)]
    plane: PlaneArgs,
}

/// A spec ready to apply.
struct Spec {
    name: String,
    /// The anywhere objects as written, the Cluster first.
    objects: Vec<Value>,
    set: anywhere_api::ConfigSet,
}

fn read_spec(filename: &str, catalog: &anywhere_catalog::Catalog) -> Result<Option<Spec>> {
    let input = input::read(filename)?;
    let options = Options::from_env()?;
    let (outcome, set) = check_spec(&input, catalog, &options);
    let Some(set) = set else {
        print_text(&outcome);
        return Ok(None);
    };
    let text = std::str::from_utf8(&input.bytes).with_context(|| format!("{} is not UTF-8", input.name))?;
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).with_context(|| format!("cannot read {}", input.name))?;
    let mut objects: Vec<Value> = docs
        .into_iter()
        .filter(|d| {
            d["apiVersion"]
                .as_str()
                .is_some_and(|a| a.starts_with("anywhere.eks.amazonaws.com/"))
        })
        .collect();
    objects.sort_by_key(|o| o["kind"] != "Cluster");
    let name = anywhere_api::meta::Resource::name(&set.cluster).to_string();
    Ok(Some(Spec { name, objects, set }))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Prints steps to stderr: a progress bar on a terminal, one line per event otherwise.
struct Printer {
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
}

impl Printer {
    fn new(total: usize) -> Printer {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} [{pos}/{len}] {wide_msg} {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Printer {
            started: Instant::now(),
            bar,
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Reporter for Printer {
    fn start(&mut self, index: usize, total: usize, step: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(index as u64 - 1);
                bar.set_message(step.to_string());
            }
            None => eprintln!("[{index}/{total}] {step} ..."),
        }
    }
    fn skipped(&mut self, index: usize, total: usize, step: &str) {
        self.line(format!(
            "[{index}/{total}] {step}: done by an earlier run (checkpoint)"
        ));
        if let Some(bar) = &self.bar {
            bar.set_position(index as u64);
        }
    }
    fn waiting(&mut self, step: &str, message: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("{step}: {message}")),
            None => eprintln!("      {:>6.1}s  {message}", self.started.elapsed().as_secs_f64()),
        }
    }
    fn done(&mut self, index: usize, total: usize, step: &str, took: Duration) {
        // Machine-readable progress on stdout (tests and scripts follow it).
        println!("step {index}/{total} {step} done");
        self.line(format!(
            "[{index}/{total}] {step}: done in {:.1}s",
            took.as_secs_f64()
        ));
        if let Some(bar) = &self.bar {
            bar.set_position(index as u64);
        }
    }
}

async fn plane(
    args: &PlaneArgs,
    dir: &Path,
    catalog: Arc<anywhere_catalog::Catalog>,
    create: bool,
) -> Result<Management> {
    if let Some(kubeconfig) = &args.kubeconfig {
        return Management::connect(kubeconfig).await;
    }
    let credentials = super::manifests::credentials_from_env()?;
    if args.simulate || (!create && management::simulate_dir(dir).exists()) {
        return Management::simulated(dir, management::controller_options(catalog, credentials)).await;
    }
    if create {
        bail!(
            "creating a management cluster needs a bootstrap cluster, and anywhere's Docker-free bootstrap \
             (docs/design/0009) is not built yet; pass --kubeconfig of an existing management cluster, or \
             --simulate to run the whole workflow against simulated infrastructure"
        );
    }
    bail!(
        "no management plane for {}: pass --kubeconfig of its management cluster (no simulated state in {})",
        dir.display(),
        management::simulate_dir(dir).display()
    )
}

fn run_workflow(
    spec: Spec,
    args: &PlaneArgs,
    catalog: Arc<anywhere_catalog::Catalog>,
    operation: &'static str,
) -> Result<ExitCode> {
    let dir = PathBuf::from(&spec.name);
    let runtime = runtime()?;
    runtime.block_on(async {
        let management = plane(args, &dir, catalog, operation == "create").await?;
        if management.is_simulated() {
            eprintln!(
                "{operation} cluster {} on simulated infrastructure (state in {})",
                spec.name,
                management::simulate_dir(&dir).display()
            );
        }
        if operation == "upgrade" {
            // EKS-A's upgrade rules (immutable fields, version skew...) against what is running.
            let name = spec.name.clone();
            let current = spec_objects(&management, &name, &namespace_of(&spec.objects)).await;
            let current = match current {
                Ok(objects) => objects,
                Err(e) => {
                    management.stop().await;
                    return Err(e);
                }
            };
            if let Ok(old) = anywhere_engine::spec::config_set(&current) {
                let violations = anywhere_api::validate::update(&old, &spec.set);
                if !violations.is_empty() {
                    management.stop().await;
                    for v in &violations {
                        eprintln!("{}: {} (Cluster/{name})", v.path, v.message);
                        if let Some(hint) = &v.hint {
                            eprintln!("  hint: {hint}");
                        }
                    }
                    eprintln!(
                        "upgrade refused: {} problem(s); nothing was changed",
                        violations.len()
                    );
                    return Ok(ExitCode::from(1));
                }
            }
        }
        let mut printer = Printer::new(match operation {
            "create" => workflow::CREATE_STEPS.len(),
            "upgrade" => workflow::UPGRADE_STEPS.len(),
            _ => workflow::DELETE_STEPS.len(),
        });
        let digest = workflow::spec_digest(&spec.objects);
        let mut flow = Workflow {
            kube: &management.kube,
            dir: dir.clone(),
            objects: spec.objects.clone(),
            spec_digest: digest,
            poll: Duration::from_millis(200),
            timeout: Duration::from_secs(args.timeout),
            reporter: &mut printer,
        };
        let result = tokio::select! {
            r = async {
                match operation {
                    "create" => flow.create().await,
                    "upgrade" => flow.upgrade().await,
                    _ => flow.delete().await,
                }
            } => r,
            _ = tokio::signal::ctrl_c() => {
                drop(flow);
                management.stop().await;
                eprintln!("interrupted; re-run the same command to resume");
                return Ok(ExitCode::from(130));
            }
        };
        drop(flow);
        management.stop().await;
        result?;
        match operation {
            "create" => eprintln!(
                "cluster {} created; kubeconfig: {}",
                spec.name,
                workflow::kubeconfig_path(&dir, &spec.name).display()
            ),
            "upgrade" => eprintln!("cluster {} upgraded", spec.name),
            _ => {
                std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
                eprintln!("cluster {} deleted", spec.name);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The air-gap preflights of a spec with a registry mirror: every image the cluster pulls is in
/// the mirror, and nothing else would be fetched from outside the site. Returns false (after
/// printing what is wrong) when one fails.
fn preflight(spec: &Spec, catalog: &anywhere_catalog::Catalog, file: &str, skip: &[String]) -> Result<bool> {
    let mirrored = spec
        .set
        .cluster
        .spec
        .as_ref()
        .is_some_and(|s| s.registry_mirror_configuration.is_some());
    if !mirrored {
        return Ok(true);
    }
    let mut ok = true;
    if !skip.iter().any(|s| s == "check-images") {
        eprintln!("preflight: check-images");
        if let Some(report) = super::check_images::check(&spec.set, catalog, file)?
            && report.missing > 0
        {
            for line in &report.lines {
                eprintln!("  {line}");
            }
            eprintln!("{}\n{}", report.summary, report.hint);
            ok = false;
        }
    }
    if !skip.iter().any(|s| s == "check-egress") {
        eprintln!("preflight: check-egress");
        let report = super::check_egress::check(&spec.set, catalog, file)?;
        if report.leaving > 0 {
            for line in report.lines.iter().filter(|l| l.starts_with("LEAVES")) {
                eprintln!("  {line}");
            }
            eprintln!("{}", report.summary);
            ok = false;
        }
    }
    if !ok {
        eprintln!(
            "preflight failed: nothing was applied (skip a check with --skip-validations=check-images,check-egress)"
        );
    }
    Ok(ok)
}

/// `anywhere create cluster -f FILE`.
///
/// # Errors
/// Bad input, an unreachable management plane, or the step that failed.
pub fn create(args: SpecArgs) -> Result<ExitCode> {
    let catalog = Arc::new(load_catalog(args.plane.bundles_override.as_deref())?);
    let Some(spec) = read_spec(&args.filename, &catalog)? else {
        return Ok(ExitCode::from(1));
    };
    if !preflight(&spec, &catalog, &args.filename, &args.skip_validations)? {
        return Ok(ExitCode::from(1));
    }
    run_workflow(spec, &args.plane, catalog, "create")
}

/// `anywhere upgrade cluster -f FILE`.
///
/// # Errors
/// Bad input, an unreachable management plane, or the step that failed.
pub fn upgrade(args: SpecArgs) -> Result<ExitCode> {
    let catalog = Arc::new(load_catalog(args.plane.bundles_override.as_deref())?);
    let Some(spec) = read_spec(&args.filename, &catalog)? else {
        return Ok(ExitCode::from(1));
    };
    if !preflight(&spec, &catalog, &args.filename, &args.skip_validations)? {
        return Ok(ExitCode::from(1));
    }
    run_workflow(spec, &args.plane, catalog, "upgrade")
}

/// `anywhere delete cluster NAME | -f FILE`.
///
/// # Errors
/// An unknown cluster, an unreachable management plane, or the step that failed.
pub fn delete(args: DeleteArgs) -> Result<ExitCode> {
    let catalog = Arc::new(load_catalog(args.plane.bundles_override.as_deref())?);
    let spec = match (&args.filename, &args.name) {
        (Some(f), _) => match read_spec(f, &catalog)? {
            Some(s) => s,
            None => return Ok(ExitCode::from(1)),
        },
        (None, Some(name)) => {
            // The objects come from the management plane.
            let dir = PathBuf::from(name);
            let runtime = runtime()?;
            let objects = runtime.block_on(async {
                let management = plane(&args.plane, &dir, catalog.clone(), false).await?;
                let found = spec_objects(&management, name, "default").await;
                management.stop().await;
                found
            })?;
            let set = anywhere_engine::spec::config_set(&objects)
                .map_err(|e| anyhow::anyhow!("cluster {name}: {e}"))?;
            Spec {
                name: name.clone(),
                objects,
                set,
            }
        }
        (None, None) => bail!("name the cluster, or give its spec with -f"),
    };
    run_workflow(spec, &args.plane, catalog, "delete")
}

fn namespace_of(objects: &[Value]) -> String {
    objects
        .first()
        .and_then(|c| c["metadata"]["namespace"].as_str())
        .unwrap_or("default")
        .to_string()
}

/// The anywhere Cluster `name` and the objects it refers to, from the management plane.
async fn spec_objects(management: &Management, name: &str, namespace: &str) -> Result<Vec<Value>> {
    let kube = &management.kube;
    let api_version = anywhere_engine::controller::API_VERSION;
    let cluster = kube
        .get(api_version, "Cluster", Some(namespace), name)
        .await?
        .with_context(|| format!("no cluster {name} in namespace {namespace} of the management plane"))?;
    let cluster = anywhere_engine::kube_ops::to_value(&cluster);
    let mut objects = vec![anywhere_engine::spec::as_written(&cluster)];
    for (kind, r) in anywhere_engine::spec::references(&cluster) {
        if let Some(o) = kube.get(api_version, &kind, Some(namespace), &r).await? {
            objects.push(anywhere_engine::spec::as_written(
                &anywhere_engine::kube_ops::to_value(&o),
            ));
        }
    }
    let mut nested = std::collections::BTreeSet::new();
    for o in &objects[1..] {
        anywhere_engine::spec::nested_references(o, &mut nested);
    }
    for (kind, r) in nested {
        if let Some(o) = kube.get(api_version, &kind, Some(namespace), &r).await? {
            objects.push(anywhere_engine::spec::as_written(
                &anywhere_engine::kube_ops::to_value(&o),
            ));
        }
    }
    Ok(objects)
}

/// `anywhere pause cluster NAME` / `anywhere resume cluster NAME`: sets or removes the paused
/// annotation; a paused cluster's controller and Cluster API objects stop changing, and an
/// upgrade in progress waits.
///
/// # Errors
/// An unknown cluster or an unreachable management plane.
pub fn pause(args: NameArgs, paused: bool) -> Result<ExitCode> {
    let catalog = Arc::new(load_catalog(args.plane.bundles_override.as_deref())?);
    let dir = PathBuf::from(&args.name);
    runtime()?.block_on(async {
        let management = plane(&args.plane, &dir, catalog, false).await?;
        let value = if paused {
            Value::String("true".into())
        } else {
            Value::Null
        };
        let result = set_paused(&management, &args.name, &args.namespace, value).await;
        management.stop().await;
        result?;
        eprintln!(
            "cluster {} {}",
            args.name,
            if paused { "paused" } else { "resumed" }
        );
        Ok(ExitCode::SUCCESS)
    })
}

async fn set_paused(management: &Management, name: &str, namespace: &str, value: Value) -> Result<()> {
    let kube = &management.kube;
    let api_version = anywhere_engine::controller::API_VERSION;
    kube.patch_merge(
        api_version,
        "Cluster",
        Some(namespace),
        name,
        &serde_json::json!({"metadata": {"annotations": {anywhere_engine::controller::PAUSED: value}}}),
    )
    .await?;
    // Cluster API's own pause, so the machines stop changing too.
    let capi_value = if value.is_null() {
        Value::Null
    } else {
        Value::String(String::new())
    };
    if kube
        .get(
            "cluster.x-k8s.io/v1beta2",
            "Cluster",
            Some(anywhere_engine::render::CAPI_NAMESPACE),
            name,
        )
        .await?
        .is_some()
    {
        kube.patch_merge(
            "cluster.x-k8s.io/v1beta2",
            "Cluster",
            Some(anywhere_engine::render::CAPI_NAMESPACE),
            name,
            &serde_json::json!({"metadata": {"annotations": {"cluster.x-k8s.io/paused": capi_value}}}),
        )
        .await?;
    }
    Ok(())
}

/// `anywhere upgrade plan cluster -f FILE`: what an upgrade to the spec would change.
///
/// # Errors
/// Bad input or an unreachable management plane.
pub fn plan(args: SpecArgs, json: bool) -> Result<ExitCode> {
    let catalog = Arc::new(load_catalog(args.plane.bundles_override.as_deref())?);
    let Some(spec) = read_spec(&args.filename, &catalog)? else {
        return Ok(ExitCode::from(1));
    };
    let dir = PathBuf::from(&spec.name);
    let credentials = super::manifests::credentials_from_env()?;
    runtime()?.block_on(async {
        let management = plane(&args.plane, &dir, catalog.clone(), false).await?;
        let result = anywhere_engine::plan::plan(&management.kube, &spec.set, &catalog, &credentials).await;
        management.stop().await;
        let plan = result?;
        if json {
            println!("{}", serde_json::to_string_pretty(&plan).unwrap_or_default());
        } else {
            print!("{}", plan.to_text());
        }
        Ok(ExitCode::SUCCESS)
    })
}

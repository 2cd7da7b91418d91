//! `anywhere controller`: the cluster controller as a long-running process against a
//! management cluster (in production it runs as a Deployment in that cluster; `--kubeconfig`
//! points it at one from outside). Stops on Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use anywhere_engine::controller;

/// Arguments of `anywhere controller`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The management cluster's kubeconfig (default: the in-cluster service account, then
    /// $KUBECONFIG).
    #[arg(long = "kubeconfig", value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Register the anywhere CRDs first (for a management cluster that lacks them).
    #[arg(long = "install-crds")]
    install_crds: bool,
    /// A Bundles manifest to use instead of the embedded release catalog.
    #[arg(long = "bundles-override", value_name = "FILE")]
    bundles_override: Option<PathBuf>,
    /// Clusters reconciled at once.
    #[arg(long = "concurrency", default_value_t = 16)]
    concurrency: u16,
}

/// Runs the controller until Ctrl-C or SIGTERM.
///
/// # Errors
/// An unreachable management cluster.
pub fn run(args: Args) -> Result<ExitCode> {
    let catalog = Arc::new(super::validate::load_catalog(args.bundles_override.as_deref())?);
    let credentials = super::manifests::credentials_from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let client = match &args.kubeconfig {
            Some(path) => {
                let yaml = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                anywhere_engine::workload::client_from_yaml(&yaml)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                    .client()
                    .clone()
            }
            None => kube::Client::try_default()
                .await
                .context("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster")?,
        };
        let kube = anywhere_engine::Kube::new(client, controller::FIELD_MANAGER);
        if args.install_crds {
            for crd in anywhere_engine::crds::all() {
                kube.apply(&crd)
                    .await
                    .context("cannot install the anywhere CRDs")?;
            }
        }
        let options = controller::Options {
            catalog,
            credentials,
            poll: Duration::from_secs(5),
            concurrency: args.concurrency,
        };
        eprintln!("anywhere controller running; Ctrl-C or SIGTERM stops it");
        controller::run(
            kube,
            options,
            async {
                let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                        return;
                    }
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            },
            None,
        )
        .await;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

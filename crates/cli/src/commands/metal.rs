//! `anywhere metal serve -f CONFIG` and `anywhere metal timeline MAC [--store PATH | -f CONFIG]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use anywhere_metal::{Mac, ServeConfig, TimelineStore, format_timeline};

/// Arguments of `anywhere metal serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The serve configuration (YAML): server IP, listen addresses, hardware CSV, artifacts,
    /// netboot kernel/initrds/cmdline, lease and timeline stores.
    #[arg(short = 'f', long = "config", value_name = "FILE")]
    config: PathBuf,
}

/// Arguments of `anywhere metal timeline`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["store", "config"])))]
pub struct TimelineArgs {
    /// The machine's boot MAC address (`aa:bb:cc:dd:ee:ff`).
    mac: String,
    /// The timeline store (redb file).
    #[arg(long = "store", value_name = "PATH")]
    store: Option<PathBuf>,
    /// Read the timeline store path from this serve configuration.
    #[arg(short = 'f', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Serves DHCP, TFTP and HTTP boot until Ctrl-C or SIGTERM, recording boot timelines.
pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    let config = ServeConfig::load(&args.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async {
        let bound = anywhere_metal::bind(&config).await?;
        let addrs = bound.addresses();
        eprintln!(
            "serving dhcp on {}, tftp on {}, http on {} (Ctrl-C to stop)",
            addrs.dhcp, addrs.tftp, addrs.http
        );
        bound.serve(shutdown_signal(), None).await?;
        eprintln!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on Ctrl-C or SIGTERM (or at once if the handlers cannot be installed, so a
/// broken signal setup stops the services instead of leaving them unstoppable).
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(error) => {
            tracing::error!(%error, "failed to install the SIGTERM handler");
            return;
        }
    };
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            if let Err(error) = result {
                tracing::error!(%error, "failed to wait for Ctrl-C");
            }
        }
        _ = term.recv() => {}
    }
}

/// Prints one machine's boot timeline; exits 1 when nothing is recorded for it.
pub fn timeline(args: TimelineArgs) -> Result<ExitCode> {
    let mac: Mac = args
        .mac
        .parse()
        .with_context(|| format!("invalid MAC address {:?}", args.mac))?;
    let path = match (args.store, args.config) {
        (Some(store), _) => store,
        (None, Some(config)) => ServeConfig::load(&config)?.timeline_store,
        (None, None) => anyhow::bail!("give --store PATH or -f CONFIG"),
    };
    let store = match TimelineStore::open_existing(&path) {
        Ok(store) => store,
        Err(anywhere_metal::Error::NoTimelineStore(path)) => {
            eprintln!(
                "no timeline store at {}: nothing recorded yet (has `anywhere metal serve` run?)",
                path.display()
            );
            return Ok(ExitCode::from(1));
        }
        Err(error) => {
            return Err(anyhow::Error::new(error).context(format!(
                "failed to open timeline store {} (it cannot be read while `anywhere metal serve` runs)",
                path.display()
            )));
        }
    };
    let entries = store.timeline(mac)?;
    if entries.is_empty() {
        eprintln!("no events recorded for {mac} in {}", path.display());
        return Ok(ExitCode::from(1));
    }
    print!("{}", format_timeline(&entries));
    Ok(ExitCode::SUCCESS)
}

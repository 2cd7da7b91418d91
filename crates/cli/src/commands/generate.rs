//! `anywhere generate clusterconfig NAME -p PROVIDER`.

use std::process::ExitCode;

use anyhow::Result;

use anywhere_api::generate::{self, Provider};

/// Arguments of `anywhere generate clusterconfig`.
#[derive(Debug, clap::Args)]
pub struct ClusterConfigArgs {
    /// The cluster's name.
    name: String,
    /// The infrastructure provider.
    #[arg(short = 'p', long = "provider", value_parser = parse_provider)]
    provider: Provider,
}

fn parse_provider(s: &str) -> Result<Provider, String> {
    s.parse::<Provider>().map_err(|e| e.to_string())
}

/// Prints a sample spec that passes `anywhere validate`, for the newest supported version.
pub fn cluster_config(args: ClusterConfigArgs) -> Result<ExitCode> {
    let catalog = anywhere_catalog::Catalog::embedded();
    let newest = catalog
        .supported_versions()
        .into_iter()
        .max()
        .map(|v| v.to_string())
        .unwrap_or_else(|| generate::DEFAULT_KUBERNETES_VERSION.to_string());
    let set = generate::sample(&args.name, args.provider, &newest);
    print!("{}", set.to_yaml());
    Ok(ExitCode::SUCCESS)
}

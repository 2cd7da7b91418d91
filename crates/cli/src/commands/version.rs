//! `anywhere version`.

use std::process::ExitCode;

use anyhow::Result;

/// Arguments of `anywhere version`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    output: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Prints the version and the Kubernetes versions of the embedded release catalog.
pub fn run(args: Args) -> Result<ExitCode> {
    let catalog = anywhere_catalog::Catalog::embedded();
    let versions: Vec<String> = catalog
        .supported_versions()
        .into_iter()
        .map(|v| v.to_string())
        .collect();
    match args.output {
        Format::Text => {
            println!("Version: v{}", env!("CARGO_PKG_VERSION"));
            println!("Kubernetes versions: {}", versions.join(", "));
        }
        Format::Json => {
            let v = serde_json::json!({"version": format!("v{}", env!("CARGO_PKG_VERSION")), "kubernetesVersions": versions});
            println!("{v}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `anywhere generate hardware -z hardware.csv [-o PATH]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use anywhere_manifests::providers::tinkerbell::hardware::hardware_objects;

/// Arguments of `anywhere generate hardware`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The hardware CSV: one machine per row (hostname, ip_address, netmask, gateway,
    /// nameservers, mac, disk, labels; optionally bmc_ip, bmc_username, bmc_password, vlan_id).
    #[arg(short = 'z', long = "hardware-csv", value_name = "FILE")]
    hardware_csv: PathBuf,
    /// Write the objects to this file (parent directories are created) instead of printing them.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    output: Option<PathBuf>,
}

/// Reads and validates the CSV, then prints (or writes) per machine its Tinkerbell Hardware and,
/// when it has a BMC, its Rufio Machine and BMC credentials Secret.
///
/// An invalid CSV prints every problem on its own line (file, row, column) to stderr and exits
/// 1; nothing is written. Problems never quote a `bmc_password` value: the inventory's messages
/// name that column without its value.
pub fn run(args: Args) -> Result<ExitCode> {
    let file = args.hardware_csv.display().to_string();
    let text = read_csv(&args.hardware_csv)?;
    let records = match anywhere_inventory::read_csv(&text) {
        Ok(records) => records,
        Err(problems) => {
            for p in &problems {
                eprintln!("{file}: {p}");
            }
            let n = problems.len();
            eprintln!("{file}: {n} problem{} found", if n == 1 { "" } else { "s" });
            return Ok(ExitCode::from(1));
        }
    };
    let objects = hardware_objects(&records);
    tracing::info!(
        machines = records.len(),
        objects = objects.len(),
        "generated hardware objects"
    );
    let yaml = anywhere_manifests::to_yaml(&objects);
    match args.output {
        None => print!("{yaml}"),
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("failed to create {}", dir.display()))?;
            }
            std::fs::write(&path, yaml).with_context(|| format!("failed to write {}", path.display()))?;
            eprintln!("wrote {} objects to {}", objects.len(), path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The CSV's text; a missing, unreadable or non-UTF-8 file is an error naming the path.
fn read_csv(path: &Path) -> Result<String> {
    if path.is_dir() {
        anyhow::bail!("{} is a directory, not a hardware CSV", path.display());
    }
    std::fs::read_to_string(path).with_context(|| format!("failed to read hardware csv {}", path.display()))
}

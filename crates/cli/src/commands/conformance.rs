//! `anywhere conformance api --cases FILE --data DIR [--data DIR...]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use anywhere_conformance::DataDirs;

/// Arguments of `anywhere conformance api`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The case catalogue (the format of conformance/eksa/cases/api.yaml).
    #[arg(long = "cases", value_name = "FILE")]
    cases: PathBuf,
    /// A directory case inputs are looked up in; repeat to search several, in order.
    #[arg(long = "data", value_name = "DIR", required = true)]
    data: Vec<PathBuf>,
    /// List every case with the error anywhere returned, not only failures.
    #[arg(long = "all")]
    all: bool,
}

/// Runs every case; exits 1 when any case failed.
pub fn api(args: Args) -> Result<ExitCode> {
    let resolver = super::validate::SystemResolver::default();
    let report = anywhere_conformance::api::run(&args.cases, &DataDirs(args.data), &resolver)?;
    if args.all {
        print!("{}", report.detailed());
    }
    print!("{report}");
    Ok(if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Arguments of `anywhere conformance manifests`.
#[derive(Debug, clap::Args)]
pub struct ManifestArgs {
    /// The case catalogue (the format of conformance/eksa/cases/manifests.yaml).
    #[arg(long = "cases", value_name = "FILE")]
    cases: PathBuf,
    /// A directory case inputs, goldens and the fixture chain are looked up in; repeatable.
    #[arg(long = "data", value_name = "DIR", required = true)]
    data: Vec<PathBuf>,
    /// Run only the cases whose id starts with this.
    #[arg(long = "only", value_name = "PREFIX")]
    only: Option<String>,
}

/// Runs every manifest case; exits 1 when any case failed.
pub fn manifests(args: ManifestArgs) -> Result<ExitCode> {
    let report =
        anywhere_conformance::manifests::run(&args.cases, &DataDirs(args.data), args.only.as_deref())?;
    print!("{report}");
    Ok(if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

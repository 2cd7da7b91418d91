//! `anywhere`: run and manage Kubernetes clusters on your own hardware and at the edge.
//!
//! The binary owns what only a binary may: argument parsing, environment variables, the tracing
//! subscriber and exit codes. Each command maps its arguments to an options struct and calls one
//! library function (see `commands/`).

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod commands;
mod input;
mod management;

/// Run and manage Kubernetes clusters on your own hardware and at the edge.
///
/// Spec files are EKS Anywhere's (`anywhere.eks.amazonaws.com/v1alpha1`); command names follow
/// `eksctl anywhere`.
#[derive(Debug, Parser)]
#[command(name = "anywhere", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    /// Log verbosity: 0 warnings only, 1 progress, 2 debug, 3 and more trace. Logs go to stderr.
    #[arg(
        short = 'v',
        long = "verbosity",
        global = true,
        default_value_t = 0,
        value_name = "LEVEL"
    )]
    verbosity: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a cluster spec file without touching any infrastructure.
    Validate(commands::validate::Args),
    /// Generate a spec or other configuration.
    #[command(subcommand)]
    Generate(Generate),
    /// Print the version of anywhere and of its release catalog.
    Version(commands::version::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completion(CompletionArgs),
    /// Replay EKS Anywhere's own test cases against anywhere.
    #[command(subcommand)]
    Conformance(Conformance),
    /// Serve bare-metal network boot (DHCP, TFTP, HTTP) and read boot timelines.
    #[command(subcommand)]
    Metal(Metal),
    /// Check that every image the cluster will pull is in its registry mirror.
    #[command(name = "check-images")]
    CheckImages(commands::check_images::Args),
    /// List every endpoint the cluster will contact and flag those outside the mirror, proxy and noProxy.
    #[command(name = "check-egress")]
    CheckEgress(commands::check_egress::Args),
    /// Copy images between registries (air-gapped mirrors), digests preserved.
    #[command(subcommand)]
    Copy(Copy),
    /// Create a cluster (a management cluster, or a workload cluster with --kubeconfig).
    #[command(subcommand)]
    Create(Create),
    /// Upgrade a cluster to a new spec, or show what an upgrade would do.
    #[command(subcommand)]
    Upgrade(Upgrade),
    /// Delete a cluster.
    #[command(subcommand)]
    Delete(Delete),
    /// Run the cluster controller against a management cluster until stopped.
    Controller(commands::controller::Args),
    /// Pause reconciliation of a cluster (an upgrade in progress waits).
    #[command(subcommand)]
    Pause(Pause),
    /// Resume reconciliation of a paused cluster.
    #[command(subcommand)]
    Resume(Resume),
    /// Download a release's images into one archive to carry into an air-gapped site.
    #[command(subcommand)]
    Download(Download),
    /// Push an archive's images into a registry (resumable).
    #[command(subcommand)]
    Import(Import),
}

#[derive(Debug, Subcommand)]
enum Create {
    /// Create a cluster from a spec file; re-running after an interruption resumes.
    Cluster(commands::cluster::SpecArgs),
}

#[derive(Debug, Subcommand)]
enum Upgrade {
    /// Upgrade a cluster to the spec file; re-running after an interruption resumes.
    Cluster(commands::cluster::SpecArgs),
    /// Show what an upgrade would change.
    #[command(subcommand)]
    Plan(UpgradePlan),
}

#[derive(Debug, Subcommand)]
enum UpgradePlan {
    /// Which objects change, which machines roll in which order, and how long it should take.
    Cluster(PlanArgs),
}

#[derive(Debug, Args)]
struct PlanArgs {
    #[command(flatten)]
    spec: commands::cluster::SpecArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", default_value = "text", value_parser = ["text", "json"])]
    output: String,
}

#[derive(Debug, Subcommand)]
enum Delete {
    /// Delete a cluster by name (its folder ./NAME) or by spec file.
    Cluster(commands::cluster::DeleteArgs),
}

#[derive(Debug, Subcommand)]
enum Pause {
    /// Pause a cluster's reconciliation.
    Cluster(commands::cluster::NameArgs),
}

#[derive(Debug, Subcommand)]
enum Resume {
    /// Resume a paused cluster's reconciliation.
    Cluster(commands::cluster::NameArgs),
}

#[derive(Debug, Subcommand)]
enum Download {
    /// Download every manifest of the release catalog into a tar.gz with a rewritten catalog.
    Artifacts(commands::artifacts::Args),
    /// Download images (the release catalog's, or a list) into a tar of an OCI image layout.
    Images(commands::archive::DownloadArgs),
}

#[derive(Debug, Subcommand)]
enum Import {
    /// Push every image of an archive made by `download images` into a registry.
    Images(commands::archive::ImportArgs),
}

#[derive(Debug, Subcommand)]
enum Copy {
    /// Copy a list of images (or the release catalog's) from one registry to another.
    Images(commands::images::CopyArgs),
}

#[derive(Debug, Subcommand)]
enum Generate {
    /// Print a sample cluster spec for a provider.
    #[command(name = "clusterconfig")]
    ClusterConfig(commands::generate::ClusterConfigArgs),
    /// Print every Cluster API object of a cluster spec (validates the spec first).
    Manifests(commands::manifests::Args),
    /// Print the Tinkerbell Hardware, Rufio BMC Machines and BMC Secrets of a hardware CSV.
    Hardware(commands::hardware::Args),
}

#[derive(Debug, Subcommand)]
enum Conformance {
    /// Run API parse/validate cases (the format of conformance/eksa/cases/api.yaml).
    Api(commands::conformance::Args),
    /// Run manifest generation cases (the format of conformance/eksa/cases/manifests.yaml).
    Manifests(commands::conformance::ManifestArgs),
}

#[derive(Debug, Subcommand)]
enum Metal {
    /// Serve DHCP, TFTP and HTTP boot for the inventoried machines until Ctrl-C or SIGTERM.
    Serve(commands::metal::ServeArgs),
    /// Print one machine's boot timeline (DHCP and HTTP events, time since the first).
    Timeline(commands::metal::TimelineArgs),
}

#[derive(Debug, Args)]
struct CompletionArgs {
    /// The shell.
    shell: clap_complete::Shell,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbosity);
    // One rustls crypto provider (ring) for every TLS client of the process.
    anywhere_registry::install_crypto_provider();
    let result = match cli.command {
        Command::Validate(args) => commands::validate::run(args),
        Command::Generate(Generate::ClusterConfig(args)) => commands::generate::cluster_config(args),
        Command::Generate(Generate::Manifests(args)) => commands::manifests::run(args),
        Command::Generate(Generate::Hardware(args)) => commands::hardware::run(args),
        Command::Version(args) => commands::version::run(args),
        Command::Completion(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "anywhere", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Conformance(Conformance::Api(args)) => commands::conformance::api(args),
        Command::Conformance(Conformance::Manifests(args)) => commands::conformance::manifests(args),
        Command::Metal(Metal::Serve(args)) => commands::metal::serve(args),
        Command::Metal(Metal::Timeline(args)) => commands::metal::timeline(args),
        Command::Copy(Copy::Images(args)) => commands::images::copy(args),
        Command::Create(Create::Cluster(args)) => commands::cluster::create(args),
        Command::Upgrade(Upgrade::Cluster(args)) => commands::cluster::upgrade(args),
        Command::Upgrade(Upgrade::Plan(UpgradePlan::Cluster(args))) => {
            commands::cluster::plan(args.spec, args.output == "json")
        }
        Command::Delete(Delete::Cluster(args)) => commands::cluster::delete(args),
        Command::Controller(args) => commands::controller::run(args),
        Command::Pause(Pause::Cluster(args)) => commands::cluster::pause(args, true),
        Command::Resume(Resume::Cluster(args)) => commands::cluster::pause(args, false),
        Command::Download(Download::Images(args)) => commands::archive::download(args),
        Command::Download(Download::Artifacts(args)) => commands::artifacts::run(args),
        Command::Import(Import::Images(args)) => commands::archive::import(args),
        Command::CheckImages(args) => commands::check_images::run(args),
        Command::CheckEgress(args) => commands::check_egress::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            commands::print_error(&err);
            ExitCode::from(2)
        }
    }
}

fn init_tracing(verbosity: u8) {
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ANYWHERE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

//! `anywhere generate manifests -f cluster.yaml [--bundles-override F] [-o DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use anywhere_manifests::{Credentials, Features, Inputs, ProviderObjects, TemplateNames};

use super::validate::{Options, check_spec, load_catalog, print_text};
use crate::input;

/// Arguments of `anywhere generate manifests`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The cluster spec file; `-` reads standard input.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    filename: String,
    /// A Bundles manifest to use instead of the embedded release catalog.
    #[arg(long = "bundles-override", value_name = "FILE")]
    bundles_override: Option<PathBuf>,
    /// Write `<cluster>-manifests.yaml` into this directory instead of printing.
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    output_dir: Option<PathBuf>,
}

/// Validates the spec, then prints (or writes) every Cluster API object of the cluster as it
/// would be created: control plane first, then workers, with the first template names.
pub fn run(args: Args) -> Result<ExitCode> {
    let input = input::read(&args.filename)?;
    let catalog = load_catalog(args.bundles_override.as_deref())?;
    let options = Options::from_env()?;
    let (outcome, set) = check_spec(&input, &catalog, &options);
    let Some(set) = set else {
        print_text(&outcome);
        return Ok(ExitCode::from(1));
    };
    let provider = ProviderObjects::from_config_set(&set)?;
    let groups: Vec<String> = set
        .cluster
        .spec
        .iter()
        .flat_map(|s| s.worker_node_group_configurations.iter().flatten())
        .filter_map(|w| w.name.clone())
        .collect();
    let names = TemplateNames::initial(&set.cluster, &groups);
    let credentials = credentials_from_env()?;
    let features = Features {
        cloudstack_kube_vip_disabled: std::env::var("CLOUDSTACK_KUBE_VIP_DISABLED")
            .is_ok_and(|v| v == "true"),
    };
    let bootstrap_ip = set
        .cluster
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get("anywhere.eks.amazonaws.com/tinkerbell-bootstrap-ip"))
        .cloned();
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog: &catalog,
        credentials: &credentials,
        features,
        names: &names,
        tinkerbell_bootstrap_ip: bootstrap_ip.as_deref(),
    };
    let manifests = anywhere_manifests::cluster(&inputs)
        .with_context(|| format!("failed to generate manifests for {}", input.name))?;
    let yaml = anywhere_manifests::to_yaml(&manifests);
    match args.output_dir {
        None => print!("{yaml}"),
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
            let cluster = anywhere_api::meta::Resource::name(&set.cluster);
            let path = dir.join(format!("{cluster}-manifests.yaml"));
            std::fs::write(&path, yaml).with_context(|| format!("failed to write {}", path.display()))?;
            eprintln!("wrote {} objects to {}", manifests.len(), path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The credentials EKS Anywhere reads from the environment at render time. For Snow, the
/// variables name files whose content is embedded base64-encoded.
pub(crate) fn credentials_from_env() -> Result<Credentials> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let file_b64 = |k: &str| -> Result<Option<String>> {
        match var(k) {
            None => Ok(None),
            Some(path) => {
                let bytes =
                    std::fs::read(&path).with_context(|| format!("failed to read {k} file {path}"))?;
                Ok(Some(base64_encode(&bytes)))
            }
        }
    };
    Ok(Credentials {
        vsphere_username: var("EKSA_VSPHERE_USERNAME"),
        vsphere_password: var("EKSA_VSPHERE_PASSWORD"),
        vsphere_cp_username: var("EKSA_VSPHERE_CP_USERNAME"),
        vsphere_cp_password: var("EKSA_VSPHERE_CP_PASSWORD"),
        nutanix_username: var("EKSA_NUTANIX_USERNAME"),
        nutanix_password: var("EKSA_NUTANIX_PASSWORD"),
        registry_username: var("REGISTRY_USERNAME"),
        registry_password: var("REGISTRY_PASSWORD"),
        cloudstack_b64_secret: var("EKSA_CLOUDSTACK_B64ENCODED_SECRET"),
        snow_credentials_b64: file_b64("EKSA_AWS_CREDENTIALS_FILE")?,
        snow_ca_bundles_b64: file_b64("EKSA_AWS_CA_BUNDLES_FILE")?,
    })
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

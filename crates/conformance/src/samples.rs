//! The `generate clusterconfig` sample of each provider, rendered to manifests with the embedded
//! release catalog — what a new user's first `generate manifests` prints.

use anywhere_api::defaults;
use anywhere_api::generate::{DEFAULT_KUBERNETES_VERSION, Provider, sample};
use anywhere_catalog::Catalog;
use anywhere_manifests::{Credentials, Features, Inputs, Manifest, ProviderObjects, TemplateNames};

/// Renders the sample spec of `provider` (named `sample`) with fixed fake credentials.
pub fn render(provider: Provider) -> Result<Vec<Manifest>, String> {
    let mut set = sample("sample", provider, DEFAULT_KUBERNETES_VERSION);
    let opts = defaults::DefaultsOptions::default();
    defaults::apply_parse_time(&mut set, &opts);
    defaults::apply_providers(&mut set);
    let objects = ProviderObjects::from_config_set(&set).map_err(|e| e.to_string())?;
    let groups: Vec<String> = set
        .cluster
        .spec
        .iter()
        .flat_map(|s| s.worker_node_group_configurations.iter().flatten())
        .filter_map(|w| w.name.clone())
        .collect();
    let names = TemplateNames::initial(&set.cluster, &groups);
    let credentials = Credentials {
        vsphere_username: Some("vsphere-user".into()),
        vsphere_password: Some("vsphere-password".into()),
        nutanix_username: Some("nutanix-user".into()),
        nutanix_password: Some("nutanix-password".into()),
        // [Global] api-key = k, secret-key = s, api-url = https://cloudstack.example.com:8080/client/api
        cloudstack_b64_secret: Some(
            "W0dsb2JhbF0KYXBpLWtleSA9IGsKc2VjcmV0LWtleSA9IHMKYXBpLXVybCA9IGh0dHBzOi8vY2xvdWRzdGFjay5leGFtcGxlLmNvbTo4MDgwL2NsaWVudC9hcGkK"
                .into(),
        ),
        ..Default::default()
    };
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &objects,
        catalog: Catalog::embedded(),
        credentials: &credentials,
        features: Features::default(),
        names: &names,
        tinkerbell_bootstrap_ip: Some("192.0.2.5"),
    };
    anywhere_manifests::cluster(&inputs).map_err(|e| e.to_string())
}

/// The providers that have a manifest generator.
pub const RENDERED: [Provider; 6] = [
    Provider::VSphere,
    Provider::Tinkerbell,
    Provider::CloudStack,
    Provider::Nutanix,
    Provider::Docker,
    Provider::Snow,
];

//! Docker scenarios the reference's goldens do not cover (worker groups, external etcd, an
//! authenticated registry mirror), rendered from the pack's Docker cluster file with the fixture
//! catalog and checked against the reference template's rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use anywhere_api::defaults::{self, DefaultsOptions};
use anywhere_api::{ConfigSet, Reading, parse_config_set};
use anywhere_catalog::{Catalog, FetchError};
use anywhere_manifests::{Credentials, Features, Inputs, ProviderObjects, TemplateNames};

const PACK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/eksa/testdata"
);

fn fixture_catalog() -> Catalog {
    let dir = PathBuf::from(PACK).join("internal/test/testdata");
    let bytes = std::fs::read(dir.join("releases.yaml")).unwrap();
    let fetch = |url: &str| -> Result<Vec<u8>, FetchError> {
        let rel = anywhere_catalog::embed_relative_path(url).ok_or(FetchError::NotFound)?;
        let rel = rel.strip_prefix("testdata").unwrap_or(rel);
        std::fs::read(dir.join(rel)).map_err(|_| FetchError::NotFound)
    };
    Catalog::from_release_manifest(&bytes, "v0.19.0-dev+latest", &fetch).unwrap()
}

fn config_set(mutate: impl FnOnce(&mut Value)) -> ConfigSet {
    let path = Path::new(PACK).join("pkg/providers/docker/testdata/cluster_api_server_cert_san_ip.yaml");
    let mut set = parse_config_set(&std::fs::read_to_string(path).unwrap(), Reading::Lenient).unwrap();
    defaults::apply_parse_time(&mut set, &DefaultsOptions::default());
    let mut cluster = serde_json::to_value(&set.cluster).unwrap();
    cluster["spec"]["eksaVersion"] = json!("v0.19.0-dev+latest");
    mutate(&mut cluster);
    set.cluster = serde_json::from_value(cluster).unwrap();
    set
}

type Entry = fn(&Inputs<'_>) -> anywhere_manifests::Result<Vec<anywhere_manifests::Manifest>>;

fn render(set: &ConfigSet, credentials: &Credentials, entry: Entry) -> Vec<Value> {
    let catalog = fixture_catalog();
    let provider = ProviderObjects::from_config_set(set).unwrap();
    let names = TemplateNames::initial(&set.cluster, &["md-0".to_string()]);
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog: &catalog,
        credentials,
        features: Features::default(),
        names: &names,
        tinkerbell_bootstrap_ip: None,
    };
    entry(&inputs).unwrap().into_iter().map(|m| m.0).collect()
}

fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn workers_get_eviction_and_cgroup_args_and_unlabelled_machine_deployments() {
    if !Path::new(PACK).exists() {
        return;
    }
    let set = config_set(|c| {
        c["spec"]["workerNodeGroupConfigurations"] = json!([{"name": "md-0", "count": 2, "labels": {"k": "v"}, "taints": [{"key": "a", "effect": "NoSchedule"}]}]);
    });
    let out = render(
        &set,
        &Credentials::default(),
        anywhere_manifests::providers::docker::workers,
    );
    assert_eq!(out.len(), 3);
    let join = &find(&out, "KubeadmConfigTemplate")["spec"]["template"]["spec"]["joinConfiguration"];
    let args: Vec<&str> = join["nodeRegistration"]["kubeletExtraArgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "eviction-hard",
            "cgroup-driver",
            "tls-cipher-suites",
            "node-labels"
        ]
    );
    assert_eq!(join["nodeRegistration"]["taints"][0]["key"], "a");
    let md = find(&out, "MachineDeployment");
    assert_eq!(md["metadata"]["name"], "test-md-0");
    assert!(md["metadata"].get("labels").is_none());
    assert_eq!(md["spec"]["replicas"], 2);
    assert_eq!(
        md["spec"]["template"]["spec"]["infrastructureRef"]["name"],
        "test-md-0-1"
    );
    let machine = find(&out, "DockerMachineTemplate");
    assert_eq!(
        machine["spec"]["template"]["spec"]["extraMounts"][0]["hostPath"],
        "/var/run/docker.sock"
    );
}

#[test]
fn external_etcd_and_an_authenticated_mirror_add_etcd_objects_and_the_credentials_secret() {
    if !Path::new(PACK).exists() {
        return;
    }
    let set = config_set(|c| {
        c["spec"]["externalEtcdConfiguration"] = json!({"count": 3});
        c["spec"]["registryMirrorConfiguration"] =
            json!({"endpoint": "1.2.3.4", "port": "443", "authenticate": true});
    });
    let credentials = Credentials {
        registry_username: Some("u".into()),
        registry_password: Some("p".into()),
        ..Default::default()
    };
    let out = render(
        &set,
        &credentials,
        anywhere_manifests::providers::docker::control_plane,
    );
    let kinds: Vec<&str> = out.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "Cluster",
            "DockerCluster",
            "DockerMachineTemplate",
            "KubeadmControlPlane",
            "EtcdadmCluster",
            "DockerMachineTemplate",
            "Secret"
        ]
    );
    assert_eq!(
        find(&out, "Cluster")["spec"]["managedExternalEtcdRef"]["name"],
        "test-etcd"
    );
    let etcd = &find(&out, "EtcdadmCluster")["spec"];
    assert!(etcd["etcdadmConfigSpec"].get("format").is_none());
    assert_eq!(
        etcd["etcdadmConfigSpec"]["registryMirror"]["endpoint"],
        "1.2.3.4:443/v2"
    );
    assert_eq!(etcd["infrastructureTemplate"]["namespace"], "eksa-system");
    let kcp = &find(&out, "KubeadmControlPlane")["spec"]["kubeadmConfigSpec"];
    assert_eq!(
        kcp["clusterConfiguration"]["etcd"]["external"]["endpoints"],
        json!(["https://placeholder:2379"])
    );
    assert_eq!(kcp["preKubeadmCommands"][1], "systemctl daemon-reload");
    let secret = find(&out, "Secret");
    assert_eq!(secret["metadata"]["name"], "registry-credentials");
    assert_eq!(secret["data"]["username"], "dQ==");
}

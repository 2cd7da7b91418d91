//! vSphere scenarios the reference's goldens do not cover (proxy, registry mirror, multiple
//! networks, etcd encryption), rendered from the pack's `cluster_main*.yaml` with the fixture
//! catalog, checked field by field against the reference templates' rules.
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

fn config_set(file: &str, mutate: impl FnOnce(&mut Value)) -> ConfigSet {
    let text =
        std::fs::read_to_string(Path::new(PACK).join("pkg/providers/vsphere/testdata").join(file)).unwrap();
    let mut set = parse_config_set(&text, Reading::Lenient).unwrap();
    defaults::apply_parse_time(&mut set, &DefaultsOptions::default());
    let mut cluster = serde_json::to_value(&set.cluster).unwrap();
    cluster["spec"]["eksaVersion"] = json!("v0.19.0-dev+latest");
    mutate(&mut cluster);
    set.cluster = serde_json::from_value(cluster).unwrap();
    set
}

fn render(
    set: &ConfigSet,
    entry: fn(&Inputs<'_>) -> anywhere_manifests::Result<Vec<anywhere_manifests::Manifest>>,
) -> Vec<Value> {
    let catalog = fixture_catalog();
    let provider = ProviderObjects::from_config_set(set).unwrap();
    let names = TemplateNames::initial(&set.cluster, &["md-0".to_string()]);
    let credentials = Credentials::default();
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog: &catalog,
        credentials: &credentials,
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

fn file<'a>(files: &'a Value, path: &str) -> Option<&'a Value> {
    files.as_array().unwrap().iter().find(|f| f["path"] == path)
}

fn available() -> bool {
    Path::new(PACK).exists()
}

#[test]
fn proxy_and_registry_mirror_write_containerd_files_and_restart_containerd() {
    if !available() {
        return;
    }
    let set = config_set("cluster_main.yaml", |c| {
        c["spec"]["proxyConfiguration"] =
            json!({"httpProxy": "proxy:3128", "httpsProxy": "proxy:3128", "noProxy": ["internal"]});
        c["spec"]["registryMirrorConfiguration"] =
            json!({"endpoint": "1.2.3.4", "port": "443", "caCertContent": "CERT"});
    });
    let out = render(&set, anywhere_manifests::providers::vsphere::control_plane);
    let spec = &find(&out, "KubeadmControlPlane")["spec"]["kubeadmConfigSpec"];
    let conf = file(
        &spec["files"],
        "/etc/systemd/system/containerd.service.d/http-proxy.conf",
    )
    .unwrap();
    assert!(conf["content"].as_str().unwrap().contains(
        "NO_PROXY=192.168.0.0/16,10.96.0.0/12,internal,localhost,127.0.0.1,.svc,vsphere_server,1.2.3.4\""
    ));
    assert!(file(&spec["files"], "/etc/containerd/certs.d/1.2.3.4:443/ca.crt").is_some());
    let hosts = file(
        &spec["files"],
        "/etc/containerd/certs.d/public.ecr.aws/hosts.toml",
    )
    .unwrap();
    assert!(
        hosts["content"]
            .as_str()
            .unwrap()
            .contains("[host.\"https://1.2.3.4:443/v2\"]")
    );
    assert_eq!(
        spec["preKubeadmCommands"][0],
        "cat /etc/containerd/config_append.toml >> /etc/containerd/config.toml"
    );
    assert_eq!(spec["preKubeadmCommands"][2], "sudo systemctl restart containerd");
    let etcd = &find(&out, "EtcdadmCluster")["spec"]["etcdadmConfigSpec"];
    assert_eq!(etcd["registryMirror"]["endpoint"], "1.2.3.4:443/v2");
    assert_eq!(etcd["proxy"]["httpProxy"], "proxy:3128");
}

#[test]
fn bottlerocket_takes_mirror_and_proxy_as_settings_not_files() {
    if !available() {
        return;
    }
    let set = config_set("cluster_main_br.yaml", |c| {
        c["spec"]["proxyConfiguration"] = json!({"httpProxy": "proxy:3128", "httpsProxy": "proxy:3129"});
        c["spec"]["registryMirrorConfiguration"] = json!({"endpoint": "1.2.3.4", "port": "443"});
    });
    let out = render(&set, anywhere_manifests::providers::vsphere::control_plane);
    let spec = &find(&out, "KubeadmControlPlane")["spec"]["kubeadmConfigSpec"];
    for config in ["clusterConfiguration", "joinConfiguration"] {
        assert_eq!(spec[config]["registryMirror"]["endpoint"], "1.2.3.4:443/v2");
        assert_eq!(spec[config]["proxy"]["httpsProxy"], "proxy:3129");
    }
    assert!(file(&spec["files"], "/etc/containerd/config_append.toml").is_none());
    assert_eq!(spec["preKubeadmCommands"].as_array().unwrap().len(), 5);
    assert!(
        find(&out, "EtcdadmCluster")["spec"]["etcdadmConfigSpec"]
            .get("cloudInitConfig")
            .is_none()
    );
}

#[test]
fn etcd_encryption_writes_the_config_under_var_lib_kubeadm() {
    if !available() {
        return;
    }
    let set = config_set("cluster_main.yaml", |c| {
        c["spec"]["etcdEncryption"] = json!([{
            "providers": [{"kms": {"name": "k", "socketListenAddress": "unix:///var/run/kmsplugin/socket.sock"}}],
            "resources": ["secrets"]
        }]);
    });
    let out = render(&set, anywhere_manifests::providers::vsphere::control_plane);
    let spec = &find(&out, "KubeadmControlPlane")["spec"]["kubeadmConfigSpec"];
    assert!(file(&spec["files"], "/var/lib/kubeadm/encryption-config.yaml").is_some());
    let volumes = spec["clusterConfiguration"]["apiServer"]["extraVolumes"]
        .as_array()
        .unwrap();
    let v = volumes.iter().find(|v| v["name"] == "encryption-config").unwrap();
    assert_eq!(v["readOnly"], true);
    let args = spec["clusterConfiguration"]["apiServer"]["extraArgs"]
        .as_array()
        .unwrap();
    assert!(args.iter().any(|a| a["name"] == "encryption-provider-config"));
}

#[test]
fn bottlerocket_workers_with_two_networks_get_the_multi_network_bootstrap_container() {
    if !available() {
        return;
    }
    let mut set = config_set("cluster_main_br.yaml", |_| {});
    for (object, _) in set.objects.iter_mut() {
        if object.name() == "test-wn"
            && let anywhere_api::Object::VSphereMachineConfig(m) = object
        {
            m.spec.as_mut().unwrap().networks = Some(vec!["/dc/network/a".into(), "/dc/network/b".into()]);
        }
    }
    let out = render(&set, anywhere_manifests::providers::vsphere::workers);
    let join = &find(&out, "KubeadmConfigTemplate")["spec"]["template"]["spec"]["joinConfiguration"];
    assert_eq!(join["bottlerocketCustomBootstrapContainers"][0]["mode"], "once");
    let devices = &find(&out, "VSphereMachineTemplate")["spec"]["template"]["spec"]["network"]["devices"];
    assert_eq!(devices.as_array().unwrap().len(), 2);
    assert_eq!(devices[1]["networkName"], "/dc/network/b");
}

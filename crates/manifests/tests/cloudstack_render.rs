//! CloudStack generators end to end on the embedded release catalog (Kubernetes ≥ 1.30): external
//! etcd, availability zones, proxy `NO_PROXY` tail, symlinks and data disks, the credentials
//! Secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use anywhere_api::{Reading, parse_config_set};
use anywhere_catalog::Catalog;
use anywhere_manifests::providers::cloudstack;
use anywhere_manifests::{Credentials, Features, Inputs, Manifest, ProviderObjects, TemplateNames};
use base64::Engine;
use serde_json::{Value, json};

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG7ZZw6vSGZwHpcgXaWv7F1bP8r+s1f4R8cHhRTs0W5Z";

fn spec_file(extra_cluster: &str) -> String {
    format!(
        r#"apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata:
  name: cs
spec:
  kubernetesVersion: "1.31"
  controlPlaneConfiguration:
    count: 3
    endpoint:
      host: 10.0.0.10
    machineGroupRef: {{kind: CloudStackMachineConfig, name: cp}}
  externalEtcdConfiguration:
    count: 3
    machineGroupRef: {{kind: CloudStackMachineConfig, name: etcd}}
  workerNodeGroupConfigurations:
    - name: md-0
      count: 2
      machineGroupRef: {{kind: CloudStackMachineConfig, name: cp}}
  datacenterRef:
    kind: CloudStackDatacenterConfig
    name: dc
  clusterNetwork:
    pods:
      cidrBlocks: [192.168.0.0/16]
    services:
      cidrBlocks: [10.96.0.0/12]
{extra_cluster}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: CloudStackDatacenterConfig
metadata:
  name: dc
spec:
  availabilityZones:
    - name: az-1
      credentialsRef: global
      domain: d1
      account: admin
      managementApiEndpoint: http://cloud.example.com:8080/client/api
      zone: {{name: zone1, network: {{name: net1}}}}
    - name: az-2
      credentialsRef: other
      domain: d1
      account: admin
      managementApiEndpoint: http://10.1.1.1:8080/client/api
      zone: {{id: z2, network: {{id: n2}}}}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: CloudStackMachineConfig
metadata:
  name: cp
spec:
  computeOffering: {{name: large}}
  template: {{name: ubuntu}}
  users: [{{name: capc, sshAuthorizedKeys: ["{KEY} me@example.com"]}}]
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: CloudStackMachineConfig
metadata:
  name: etcd
spec:
  computeOffering: {{id: off-1}}
  template: {{name: ubuntu}}
  diskOffering: {{name: Small, mountPath: /data, device: /dev/vdb, filesystem: ext4, label: data}}
  symlinks: {{/var/lib: /data/var/lib}}
  users: [{{name: capc, sshAuthorizedKeys: ["{KEY}"]}}]
"#
    )
}

fn inputs_for<T>(extra: &str, credentials: Credentials, f: impl FnOnce(&Inputs<'_>) -> T) -> T {
    let set = parse_config_set(&spec_file(extra), Reading::Lenient).unwrap();
    let provider = ProviderObjects::from_config_set(&set).unwrap();
    let names = TemplateNames::initial(&set.cluster, &["md-0".to_string()]);
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog: Catalog::embedded(),
        credentials: &credentials,
        features: Features::default(),
        names: &names,
        tinkerbell_bootstrap_ip: None,
    };
    f(&inputs)
}

fn values(m: Vec<Manifest>) -> Vec<Value> {
    m.into_iter().map(|m| m.0).collect()
}

fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn control_plane_with_external_etcd_and_zones() {
    let cp = inputs_for("", Credentials::default(), |i| {
        values(cloudstack::control_plane(i).unwrap())
    });
    let kinds: Vec<&str> = cp.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "Cluster",
            "CloudStackCluster",
            "KubeadmControlPlane",
            "EtcdadmCluster",
            "CloudStackMachineTemplate",
            "CloudStackMachineTemplate"
        ]
    );
    let csc = find(&cp, "CloudStackCluster");
    assert_eq!(csc["spec"]["failureDomains"][1]["zone"]["id"], "z2");
    assert_eq!(
        csc["spec"]["failureDomains"][1]["acsEndpoint"],
        json!({"name": "other", "namespace": "eksa-system"})
    );
    let spec = &find(&cp, "KubeadmControlPlane")["spec"]["kubeadmConfigSpec"];
    assert_eq!(spec["users"][0]["sshAuthorizedKeys"][0], KEY);
    assert!(
        spec["preKubeadmCommands"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .contains("super-admin.conf")
    );
    assert!(spec.get("diskSetup").is_none());
    assert!(spec["clusterConfiguration"]["etcd"]["external"].is_object());
    let etcd = &find(&cp, "EtcdadmCluster")["spec"]["etcdadmConfigSpec"];
    assert_eq!(etcd["etcdadmBuiltin"], false);
    assert_eq!(etcd["cloudInitConfig"]["installDir"], "/usr/bin");
    let pre: Vec<&str> = etcd["preEtcdadmCommands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(pre[0], "swapoff -a");
    assert_eq!(
        pre[6],
        "echo \"type=83\" | sfdisk /dev/vdb && mkfs -t ext4 /dev/vdb1 && mkdir -p /data && echo /dev/vdb1 /data ext4 defaults 0 2 >> /etc/fstab && mount /data"
    );
    assert!(pre[7].starts_with("if [ ! -L /var/lib ] ;"));
    let etcd_template = cp
        .iter()
        .rfind(|o| o["kind"] == "CloudStackMachineTemplate")
        .unwrap();
    assert_eq!(etcd_template["metadata"]["name"], "cs-etcd-1");
    assert_eq!(
        etcd_template["spec"]["template"]["spec"]["offering"],
        json!({"id": "off-1"})
    );
}

#[test]
fn proxy_no_proxy_ends_with_zone_hosts_and_endpoint() {
    let extra = "  proxyConfiguration:\n    httpProxy: http://p:3128\n    httpsProxy: http://p:3128";
    let w = inputs_for(extra, Credentials::default(), |i| {
        values(cloudstack::workers(i).unwrap())
    });
    let kct = find(&w, "KubeadmConfigTemplate");
    let files = kct["spec"]["template"]["spec"]["files"].as_array().unwrap();
    let content = files[0]["content"].as_str().unwrap();
    assert!(content.ends_with("NO_PROXY=192.168.0.0/16,10.96.0.0/12,localhost,127.0.0.1,.svc,cloud.example.com,10.1.1.1,10.0.0.10:6443\"\n"));
    assert_eq!(
        kct["spec"]["template"]["spec"]["joinConfiguration"]["nodeRegistration"]["taints"],
        json!([])
    );
    let md = find(&w, "MachineDeployment");
    assert_eq!(md["metadata"]["name"], "cs-md-0");
    assert!(md["metadata"]["labels"].get("pool").is_none());
}

#[test]
fn credential_secrets_one_per_profile_skipping_existing() {
    let ini = "[global]\napi-key = k1\nsecret-key = s1\napi-url = http://a/client/api\n[other]\nverify-ssl = false\napi-key = k2\nsecret-key = s2\napi-url = http://b/client/api\n";
    let credentials = Credentials {
        cloudstack_b64_secret: Some(base64::engine::general_purpose::STANDARD.encode(ini)),
        ..Default::default()
    };
    let secrets = inputs_for("", credentials.clone(), |i| {
        values(cloudstack::credential_secrets(i, &[]).unwrap())
    });
    assert_eq!(secrets.len(), 2);
    assert_eq!(
        secrets[0],
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "global", "namespace": "eksa-system"},
            "stringData": {"api-key": "k1", "api-url": "http://a/client/api", "secret-key": "s1", "verify-ssl": "true"}
        })
    );
    let remaining = inputs_for("", credentials, |i| {
        values(cloudstack::credential_secrets(i, &["global".to_string()]).unwrap())
    });
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0]["metadata"]["name"], "other");
    assert!(inputs_for("", Credentials::default(), |i| {
        cloudstack::credential_secrets(i, &[]).is_err()
    }));
}

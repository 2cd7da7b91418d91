//! Nutanix generators end to end on the embedded release catalog (Kubernetes ≥ 1.30), covering
//! the version-dependent parts the EKS-A 1.19 goldens cannot: the v1 audit policy, the kube-vip
//! `super-admin.conf` switch, `KMSv1`, and the API server's `cloud-provider` from 1.33.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use anywhere_api::{Reading, parse_config_set};
use anywhere_catalog::Catalog;
use anywhere_manifests::providers::nutanix;
use anywhere_manifests::{Credentials, Features, Inputs, Manifest, ProviderObjects, TemplateNames};
use serde_json::{Value, json};

fn spec_file(kube: &str, extra_cluster: &str) -> String {
    format!(
        r#"apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata:
  name: prod
spec:
  kubernetesVersion: "{kube}"
  controlPlaneConfiguration:
    count: 3
    endpoint:
      host: 10.0.0.10
    machineGroupRef:
      kind: NutanixMachineConfig
      name: cp
  workerNodeGroupConfigurations:
    - name: md-0
      count: 5
      labels:
        tier: web
      taints:
        - key: dedicated
          value: web
          effect: NoSchedule
      machineGroupRef:
        kind: NutanixMachineConfig
        name: wk
  datacenterRef:
    kind: NutanixDatacenterConfig
    name: dc
  clusterNetwork:
    pods:
      cidrBlocks: [192.168.0.0/16]
    services:
      cidrBlocks: [10.96.0.0/12]
{extra_cluster}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: NutanixDatacenterConfig
metadata:
  name: dc
spec:
  endpoint: pc.example.com
  port: 9440
  insecure: true
  failureDomains:
    - name: pe1
      workerMachineGroups: [md-0]
      cluster: {{type: name, name: pe-a}}
      subnets: [{{type: name, name: net-a}}]
    - name: pe2
      workerMachineGroups: [md-0]
      cluster: {{type: uuid, uuid: 1111}}
      subnets: [{{type: uuid, uuid: 2222}}]
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: NutanixMachineConfig
metadata:
  name: cp
spec:
  vcpusPerSocket: 2
  vcpuSockets: 2
  memorySize: 4096Mi
  systemDiskSize: 40Gi
  image: {{type: uuid, uuid: img-uuid}}
  cluster: {{type: name, name: pe-a}}
  subnet: {{type: name, name: net-a}}
  bootType: uefi
  gpus: [{{type: name, name: A100}}]
  users: [{{name: admin, sshAuthorizedKeys: ["ssh-ed25519 AAAA me@example.com"]}}]
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: NutanixMachineConfig
metadata:
  name: wk
spec:
  vcpusPerSocket: 1
  vcpuSockets: 4
  memorySize: 8Gi
  systemDiskSize: 100Gi
  image: {{type: name, name: ubuntu}}
  cluster: {{type: name, name: pe-a}}
  subnet: {{type: name, name: net-a}}
  gpus: [{{type: deviceID, deviceID: 42}}]
  users: [{{name: capx, sshAuthorizedKeys: ["ssh-rsa BBBB"]}}]
"#
    )
}

struct Rendered {
    control_plane: Vec<Value>,
    workers: Vec<Value>,
}

fn render(kube: &str, extra_cluster: &str) -> Rendered {
    let set = parse_config_set(&spec_file(kube, extra_cluster), Reading::Lenient).unwrap();
    let provider = ProviderObjects::from_config_set(&set).unwrap();
    let credentials = Credentials {
        nutanix_username: Some("admin".into()),
        nutanix_password: Some("secret".into()),
        ..Default::default()
    };
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
    let values = |m: Vec<Manifest>| m.into_iter().map(|m| m.0).collect();
    Rendered {
        control_plane: values(nutanix::control_plane(&inputs).unwrap()),
        workers: values(nutanix::workers(&inputs).unwrap()),
    }
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn arg_names(args: &Value) -> Vec<String> {
    args.as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn control_plane_objects_come_in_reference_order() {
    let r = render("1.31", "");
    let kinds: Vec<(&str, &str)> = r
        .control_plane
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("NutanixCluster", "prod"),
            ("Cluster", "prod"),
            ("KubeadmControlPlane", "prod"),
            ("NutanixMachineTemplate", "prod-control-plane-1"),
            ("ConfigMap", "prod-nutanix-ccm"),
            ("ClusterResourceSet", "prod-nutanix-ccm-crs"),
            ("Secret", "prod-nutanix-ccm-secret"),
        ]
    );
}

#[test]
fn from_1_29_kube_vip_uses_super_admin_during_init_and_audit_policy_is_v1() {
    let r = render("1.31", "");
    let spec = &find(&r.control_plane, "KubeadmControlPlane", "prod")["spec"]["kubeadmConfigSpec"];
    let pre = spec["preKubeadmCommands"].as_array().unwrap();
    assert!(pre.last().unwrap().as_str().unwrap().contains("super-admin.conf"));
    let audit = spec["files"].as_array().unwrap().last().unwrap();
    assert_eq!(audit["path"], "/etc/kubernetes/audit-policy.yaml");
    assert!(
        audit["content"]
            .as_str()
            .unwrap()
            .starts_with("apiVersion: audit.k8s.io/v1\n")
    );
    let api = arg_names(&spec["clusterConfiguration"]["apiServer"]["extraArgs"]);
    assert_eq!(api[0], "cloud-provider");
}

#[test]
fn from_1_33_the_api_server_has_no_cloud_provider_arg() {
    let r = render("1.33", "");
    let spec = &find(&r.control_plane, "KubeadmControlPlane", "prod")["spec"]["kubeadmConfigSpec"];
    let api = arg_names(&spec["clusterConfiguration"]["apiServer"]["extraArgs"]);
    assert_eq!(api[0], "audit-policy-file");
    let cm = arg_names(&spec["clusterConfiguration"]["controllerManager"]["extraArgs"]);
    assert_eq!(cm, ["cloud-provider", "enable-hostpath-provisioner"]);
}

#[test]
fn etcd_encryption_from_1_29_enables_kms_v1() {
    let extra = r#"  etcdEncryption:
  - providers:
    - kms: {name: k1, socketListenAddress: "unix:///var/run/kmsplugin/k1.sock", cachesize: 1000, timeout: 3s}
    resources: [secrets]"#;
    let r = render("1.31", extra);
    let spec = &find(&r.control_plane, "KubeadmControlPlane", "prod")["spec"]["kubeadmConfigSpec"];
    let api = arg_names(&spec["clusterConfiguration"]["apiServer"]["extraArgs"]);
    assert!(api.contains(&"feature-gates".to_string()));
    assert!(api.contains(&"encryption-provider-config".to_string()));
    let paths: Vec<&str> = spec["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths[0], "/etc/kubernetes/enc/encryption-config.yaml");
    assert_eq!(paths[1], "/etc/kubernetes/manifests/kube-vip.yaml");
}

#[test]
fn control_plane_machine_template_has_no_gpus_and_canonical_sizes() {
    let r = render("1.31", "");
    let spec =
        &find(&r.control_plane, "NutanixMachineTemplate", "prod-control-plane-1")["spec"]["template"]["spec"];
    assert_eq!(spec["memorySize"], "4Gi");
    assert_eq!(spec["bootType"], "uefi");
    assert_eq!(spec["image"], json!({"type": "uuid", "uuid": "img-uuid"}));
    assert!(spec.get("gpus").is_none());
    assert_eq!(spec["providerID"], "nutanix://prod-m1");
}

#[test]
fn nutanix_cluster_lists_failure_domains_for_the_control_plane() {
    let r = render("1.31", "");
    let spec = &find(&r.control_plane, "NutanixCluster", "prod")["spec"];
    assert_eq!(spec["prismCentral"]["insecure"], true);
    assert_eq!(
        spec["failureDomains"][1]["cluster"],
        json!({"type": "uuid", "uuid": "1111"})
    );
    assert_eq!(spec["failureDomains"][1]["controlPlane"], true);
}

#[test]
fn workers_spread_over_failure_domains_with_labels_and_taints() {
    let r = render("1.31", "");
    let md1 = find(&r.workers, "MachineDeployment", "prod-md-0-pe1");
    let md2 = find(&r.workers, "MachineDeployment", "prod-md-0-pe2");
    assert_eq!(md1["spec"]["replicas"], 3);
    assert_eq!(md2["spec"]["replicas"], 2);
    assert_eq!(md2["spec"]["template"]["spec"]["failureDomain"], "pe2");
    assert_eq!(
        md2["spec"]["template"]["spec"]["infrastructureRef"]["name"],
        "prod-md-0-1-pe2"
    );
    let t2 = find(&r.workers, "NutanixMachineTemplate", "prod-md-0-1-pe2");
    assert_eq!(
        t2["spec"]["template"]["spec"]["subnet"],
        json!([{"type": "uuid", "uuid": "2222"}])
    );
    assert!(t2["spec"]["template"]["spec"].get("gpus").is_none());
    let kct = find(&r.workers, "KubeadmConfigTemplate", "prod-md-0-1");
    let reg = &kct["spec"]["template"]["spec"]["joinConfiguration"]["nodeRegistration"];
    assert_eq!(arg_names(&reg["kubeletExtraArgs"]).last().unwrap(), "node-labels");
    assert_eq!(
        reg["taints"],
        json!([{"key": "dedicated", "value": "web", "effect": "NoSchedule"}])
    );
    assert_eq!(kct["spec"]["template"]["spec"]["users"][0]["lockPassword"], false);
}

#[test]
fn secrets_carry_the_prism_credentials() {
    let set = parse_config_set(&spec_file("1.31", ""), Reading::Lenient).unwrap();
    let provider = ProviderObjects::from_config_set(&set).unwrap();
    let credentials = Credentials {
        nutanix_username: Some("u".into()),
        nutanix_password: Some("p".into()),
        ..Default::default()
    };
    let names = TemplateNames::default();
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog: Catalog::embedded(),
        credentials: &credentials,
        features: Features::default(),
        names: &names,
        tinkerbell_bootstrap_ip: None,
    };
    let capx = nutanix::capx_secret(&inputs).unwrap();
    assert_eq!(capx[0].name(), "capx-prod");
    assert_eq!(capx[1].name(), "prod-nutanix-ccm-secret");
    let eksa = nutanix::eksa_secret(&inputs).unwrap();
    assert_eq!(eksa[0].name(), "nutanix-credentials");
    let inner = eksa[1].0["stringData"]["nutanix-ccm-secret.yaml"]
        .as_str()
        .unwrap();
    assert!(inner.contains("\"username\": \"u\""));
}

#[test]
fn a_user_rollout_strategy_sets_max_surge_without_a_type() {
    let text = spec_file("1.31", "").replace(
        "    count: 3\n",
        "    count: 3\n    upgradeRolloutStrategy:\n      rollingUpdate:\n        maxSurge: 2\n",
    );
    let set = parse_config_set(&text, Reading::Lenient).unwrap();
    let provider = ProviderObjects::from_config_set(&set).unwrap();
    let credentials = Credentials::default();
    let names = TemplateNames::default();
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog: Catalog::embedded(),
        credentials: &credentials,
        features: Features::default(),
        names: &names,
        tinkerbell_bootstrap_ip: None,
    };
    let cp: Vec<Value> = nutanix::control_plane(&inputs)
        .unwrap()
        .into_iter()
        .map(|m| m.0)
        .collect();
    let kcp = find(&cp, "KubeadmControlPlane", "prod");
    assert_eq!(
        kcp["spec"]["rollout"]["strategy"],
        json!({"rollingUpdate": {"maxSurge": 2}})
    );
    assert_eq!(
        kcp["spec"]["machineTemplate"]["spec"]["infrastructureRef"]["name"],
        "<no value>"
    );
}

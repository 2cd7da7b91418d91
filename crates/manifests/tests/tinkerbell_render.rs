//! Tinkerbell generators end to end on the embedded release catalog (Kubernetes ≥ 1.30):
//! version-dependent parts the 1.21 goldens cannot cover (EtcdLearnerMode, the kube-vip
//! `super-admin.conf` switch, the v1 audit policy), Bottlerocket, external etcd, proxy and
//! registry mirror, user workflows and hardware affinity.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use anywhere_api::{Reading, parse_config_set};
use anywhere_catalog::Catalog;
use anywhere_manifests::providers::tinkerbell::{self, template_configs};
use anywhere_manifests::{Credentials, Features, Inputs, Manifest, ProviderObjects, TemplateNames};
use serde_json::{Value, json};

fn spec_file(kube: &str, cp_os: &str, extra_cluster: &str) -> String {
    format!(
        r#"apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata:
  name: metal
spec:
  kubernetesVersion: "{kube}"
  controlPlaneConfiguration:
    count: 3
    endpoint:
      host: 10.0.0.10
    machineGroupRef:
      kind: TinkerbellMachineConfig
      name: cp
  workerNodeGroupConfigurations:
    - name: md-0
      count: 2
      labels:
        tier: web
      machineGroupRef:
        kind: TinkerbellMachineConfig
        name: wk
  datacenterRef:
    kind: TinkerbellDatacenterConfig
    name: dc
  clusterNetwork:
    pods:
      cidrBlocks: [192.168.0.0/16]
    services:
      cidrBlocks: [10.96.0.0/12]
{extra_cluster}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: TinkerbellDatacenterConfig
metadata:
  name: dc
spec:
  tinkerbellIP: 10.0.0.20
  osImageURL: http://images/ubuntu.gz
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: TinkerbellMachineConfig
metadata:
  name: cp
spec:
  osFamily: {cp_os}
  hardwareSelector: {{type: cp}}
  users: [{{name: ec2-user, sshAuthorizedKeys: ["ssh-ed25519 AAAA me@example.com"]}}]
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: TinkerbellMachineConfig
metadata:
  name: wk
spec:
  osFamily: ubuntu
  templateRef: {{kind: TinkerbellTemplateConfig, name: custom}}
  hardwareAffinity:
    required:
      - labelSelector:
          matchLabels: {{type: worker}}
          matchExpressions: [{{key: rack, operator: In, values: ["1", "2"]}}]
    preferred:
      - weight: 50
        hardwareAffinityTerm:
          labelSelector:
            matchLabels: {{disk: ssd}}
  users: [{{name: ec2-user, sshAuthorizedKeys: ["ssh-rsa BBBB"]}}]
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: TinkerbellTemplateConfig
metadata:
  name: custom
spec:
  template:
    name: custom
    version: "0.1"
    global_timeout: 1800
    tasks:
      - name: custom
        worker: "{{{{.device_1}}}}"
        actions:
          - name: stream
            image: public.ecr.aws/eks-anywhere/image2disk:v1
            timeout: 600
"#
    )
}

struct Rendered {
    control_plane: Vec<Value>,
    workers: Vec<Value>,
}

fn render(kube: &str, cp_os: &str, extra_cluster: &str) -> Rendered {
    render_text(&spec_file(kube, cp_os, extra_cluster))
}

fn render_text(text: &str) -> Rendered {
    let set = parse_config_set(text, Reading::Lenient).unwrap();
    let provider = ProviderObjects::from_config_set(&set).unwrap();
    let templates = template_configs(set.objects.iter().map(|(o, _)| o));
    let credentials = Credentials::default();
    let names = TemplateNames::initial(&set.cluster, &["md-0".to_string()]);
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog: Catalog::embedded(),
        credentials: &credentials,
        features: Features::default(),
        names: &names,
        tinkerbell_bootstrap_ip: Some("10.0.0.5"),
    };
    let values = |m: Vec<Manifest>| m.into_iter().map(|m| m.0).collect();
    Rendered {
        control_plane: values(tinkerbell::control_plane_with_templates(&inputs, &templates).unwrap()),
        workers: values(tinkerbell::workers_with_templates(&inputs, &templates).unwrap()),
    }
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn kinds(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn control_plane_objects_and_1_31_specifics() {
    let r = render("1.31", "ubuntu", "");
    assert_eq!(
        kinds(&r.control_plane),
        [
            "Cluster",
            "KubeadmControlPlane",
            "TinkerbellMachineTemplate",
            "TinkerbellCluster"
        ]
    );
    let kcp = find(&r.control_plane, "KubeadmControlPlane", "metal");
    let spec = &kcp["spec"]["kubeadmConfigSpec"];
    assert_eq!(
        spec["clusterConfiguration"]["featureGates"],
        json!({"EtcdLearnerMode": false})
    );
    let pre = spec["preKubeadmCommands"].as_array().unwrap();
    assert_eq!(pre.len(), 1);
    assert!(pre[0].as_str().unwrap().contains("super-admin.conf"));
    let audit = spec["files"].as_array().unwrap().last().unwrap();
    assert!(
        audit["content"]
            .as_str()
            .unwrap()
            .starts_with("apiVersion: audit.k8s.io/v1\n")
    );
    // With workers: no svc_enable on kube-vip and no taints key.
    let kube_vip = &spec["files"][0]["content"];
    assert!(!kube_vip.as_str().unwrap().contains("svc_enable"));
    assert!(
        spec["initConfiguration"]["nodeRegistration"]
            .get("taints")
            .is_none()
    );
    assert_eq!(
        kcp["spec"]["machineTemplate"]["spec"]["deletion"]["nodeDeletionTimeoutSeconds"],
        30
    );
    let tmt = find(
        &r.control_plane,
        "TinkerbellMachineTemplate",
        "metal-control-plane-1",
    );
    let override_text = tmt["spec"]["template"]["spec"]["templateOverride"]
        .as_str()
        .unwrap();
    assert!(override_text.contains("http://10.0.0.5:7172,http://10.0.0.20:7172"));
    assert!(override_text.contains("IMG_URL: http://images/ubuntu.gz"));
    let cluster = find(&r.control_plane, "Cluster", "metal");
    assert_eq!(
        cluster["spec"]["controlPlaneEndpoint"],
        json!({"host": "10.0.0.10", "port": 6443})
    );
}

#[test]
fn workers_use_the_template_config_and_hardware_affinity() {
    let r = render("1.31", "ubuntu", "");
    assert_eq!(
        kinds(&r.workers),
        [
            "MachineDeployment",
            "TinkerbellMachineTemplate",
            "KubeadmConfigTemplate"
        ]
    );
    let md = find(&r.workers, "MachineDeployment", "metal-md-0");
    assert_eq!(md["metadata"]["labels"]["pool"], "md-0");
    assert_eq!(
        md["spec"]["template"]["spec"]["deletion"]["nodeDeletionTimeoutSeconds"],
        30
    );
    let tmt = find(&r.workers, "TinkerbellMachineTemplate", "metal-md-0-1");
    let spec = &tmt["spec"]["template"]["spec"];
    assert_eq!(
        spec["hardwareAffinity"],
        json!({
            "required": [{"labelSelector": {
                "matchExpressions": [{"key": "rack", "operator": "In", "values": ["1", "2"]}],
                "matchLabels": {"type": "worker"}
            }}],
            "preferred": [{"hardwareAffinityTerm": {"labelSelector": {"matchLabels": {"disk": "ssd"}}}, "weight": 50}]
        })
    );
    let text = spec["templateOverride"].as_str().unwrap();
    assert!(text.starts_with("global_timeout: 1800\nid: \"\"\nname: custom\n"));
    let kct = find(&r.workers, "KubeadmConfigTemplate", "metal-md-0-1");
    let args = &kct["spec"]["template"]["spec"]["joinConfiguration"]["nodeRegistration"]["kubeletExtraArgs"];
    assert_eq!(
        args.as_array().unwrap().last().unwrap(),
        &json!({"name": "node-labels", "value": "tier=web"})
    );
}

#[test]
fn bottlerocket_external_etcd() {
    let extra = "  externalEtcdConfiguration:\n    count: 3\n    machineGroupRef: {kind: TinkerbellMachineConfig, name: cp}";
    let r = render("1.31", "bottlerocket", extra);
    assert_eq!(
        kinds(&r.control_plane),
        [
            "Cluster",
            "KubeadmControlPlane",
            "EtcdadmCluster",
            "TinkerbellMachineTemplate",
            "TinkerbellMachineTemplate",
            "TinkerbellCluster"
        ]
    );
    let spec = &find(&r.control_plane, "KubeadmControlPlane", "metal")["spec"]["kubeadmConfigSpec"];
    assert_eq!(spec["format"], "bottlerocket");
    assert!(spec.get("preKubeadmCommands").is_none());
    assert!(spec["clusterConfiguration"]["pause"]["imageRepository"].is_string());
    assert!(spec["joinConfiguration"]["bottlerocketBootstrap"]["imageTag"].is_string());
    assert_eq!(
        spec["clusterConfiguration"]["etcd"]["external"]["certFile"],
        "/var/lib/kubeadm/pki/server-etcd-client.crt"
    );
    let etcd = find(&r.control_plane, "EtcdadmCluster", "metal-etcd");
    assert!(etcd["spec"]["etcdadmConfigSpec"]["bottlerocketConfig"]["etcdImage"].is_string());
    assert_eq!(etcd["spec"]["infrastructureTemplate"]["name"], "metal-etcd-1");
    let cluster = find(&r.control_plane, "Cluster", "metal");
    assert_eq!(cluster["spec"]["managedExternalEtcdRef"]["name"], "metal-etcd");
}

#[test]
fn proxy_and_registry_mirror() {
    let extra = "  proxyConfiguration:\n    httpProxy: http://proxy:3128\n    httpsProxy: http://proxy:3128\n    noProxy: [internal]\n  registryMirrorConfiguration:\n    endpoint: mirror.local\n    port: \"5000\"";
    let r = render("1.30", "ubuntu", extra);
    let spec = &find(&r.control_plane, "KubeadmControlPlane", "metal")["spec"]["kubeadmConfigSpec"];
    let pre: Vec<&str> = spec["preKubeadmCommands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        pre[0],
        "cat /etc/containerd/config_append.toml >> /etc/containerd/config.toml"
    );
    assert_eq!(
        pre[1..3],
        [
            "sudo systemctl daemon-reload",
            "sudo systemctl restart containerd"
        ]
    );
    let paths: Vec<&str> = spec["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/etc/systemd/system/containerd.service.d/http-proxy.conf"));
    let proxy = spec["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/etc/systemd/system/containerd.service.d/http-proxy.conf")
        .unwrap();
    assert!(proxy["content"].as_str().unwrap().contains(
        "NO_PROXY=192.168.0.0/16,10.96.0.0/12,internal,localhost,127.0.0.1,.svc,10.0.0.10,10.0.0.20"
    ));
    // The default workflow pulls through the mirror and streams the image through the proxy.
    let cp_tmt = find(
        &r.control_plane,
        "TinkerbellMachineTemplate",
        "metal-control-plane-1",
    );
    let text = cp_tmt["spec"]["template"]["spec"]["templateOverride"]
        .as_str()
        .unwrap();
    assert!(text.contains("NO_PROXY: internal,192.168.0.0/16,10.96.0.0/12,10.0.0.10,10.0.0.5,10.0.0.20"));
    let wk_tmt = find(&r.workers, "TinkerbellMachineTemplate", "metal-md-0-1");
    let text = wk_tmt["spec"]["template"]["spec"]["templateOverride"]
        .as_str()
        .unwrap();
    assert!(text.contains("image: mirror.local:5000/eks-anywhere/image2disk:v1"));
}

#[test]
fn host_os_ntp_and_cert_bundles() {
    let text = spec_file("1.31", "ubuntu", "").replace(
        "  hardwareSelector: {type: cp}\n",
        "  hardwareSelector: {type: cp}\n  hostOSConfiguration:\n    ntpConfiguration: {servers: [time.local]}\n    certBundles: [{name: corp, data: PEM}]\n",
    );
    let r = render_text(&text);
    let spec = &find(&r.control_plane, "KubeadmControlPlane", "metal")["spec"]["kubeadmConfigSpec"];
    assert_eq!(spec["ntp"], json!({"enabled": true, "servers": ["time.local"]}));
    let bundles = json!([{"name": "corp", "data": "PEM\n"}]);
    assert_eq!(spec["clusterConfiguration"]["certBundles"], bundles);
    assert_eq!(spec["joinConfiguration"]["certBundles"], bundles);
}

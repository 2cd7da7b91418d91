//! Snow generators end to end on the embedded release catalog, checked against the facts of the
//! reference's own tests (`pkg/providers/snow/apibuilder_test.go`): object set and order, names,
//! replica counts, machine template fields, IP pools, the Ubuntu and Bottlerocket bootstrap,
//! proxy and registry mirror, host OS settings, external etcd and the credentials Secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use anywhere_api::defaults;
use anywhere_api::generate::{Provider, sample};
use anywhere_api::{ConfigSet, Reading, parse_config_set};
use anywhere_catalog::Catalog;
use anywhere_manifests::providers::snow;
use anywhere_manifests::{Credentials, Features, Inputs, Manifest, ProviderObjects, TemplateNames};
use serde_json::{Value, json};

const PROVIDER_ID: &str = "aws-snow:////'{{ ds.meta_data.instance_id }}'";
const CIPHERS: &str = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
const SUPER_ADMIN: &str = "if [ -f /run/kubeadm/kubeadm.yaml ]; then sed -i 's#path: /etc/kubernetes/admin.conf#path: /etc/kubernetes/super-admin.conf#' /etc/kubernetes/manifests/kube-vip.yaml; fi";

/// The `anywhere generate clusterconfig` Snow sample, defaulted as the CLI does.
fn sample_set(version: &str) -> ConfigSet {
    let mut set = sample("snow-test", Provider::Snow, version);
    defaults::apply_parse_time(&mut set, &defaults::DefaultsOptions::default());
    defaults::apply_providers(&mut set);
    set
}

/// A cluster like the reference test's `givenClusterSpec`: Ubuntu machines with DHCP, three
/// control-plane nodes, stacked etcd, rollout strategies, plus `extra` under `spec`.
fn reference_set(version: &str, os: &str, extra: &str) -> ConfigSet {
    let text = format!(
        r#"apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata:
  name: snow-test
  namespace: test-namespace
spec:
  kubernetesVersion: "{version}"
  clusterNetwork:
    cniConfig: {{cilium: {{}}}}
    pods: {{cidrBlocks: [10.1.0.0/16]}}
    services: {{cidrBlocks: [10.96.0.0/12]}}
  controlPlaneConfiguration:
    count: 3
    endpoint: {{host: 1.2.3.4}}
    machineGroupRef: {{kind: SnowMachineConfig, name: test-cp}}
    upgradeRolloutStrategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: 1}}}}
  workerNodeGroupConfigurations:
  - name: md-0
    count: 3
    machineGroupRef: {{kind: SnowMachineConfig, name: test-wn}}
    upgradeRolloutStrategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}}}
  datacenterRef: {{kind: SnowDatacenterConfig, name: test}}
{extra}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: SnowDatacenterConfig
metadata: {{name: test, namespace: test-namespace}}
spec:
  identityRef: {{kind: Secret, name: test-snow-credentials}}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: SnowMachineConfig
metadata: {{name: test-cp, namespace: test-namespace}}
spec:
  amiID: eks-d-v1-21-5-ubuntu-ami-02833ca9a8f29c2ea
  instanceType: sbe-c.large
  sshKeyName: default
  physicalNetworkConnector: SFP_PLUS
  devices: [1.2.3.4, 1.2.3.5]
  osFamily: {os}
  network:
    directNetworkInterfaces: [{{index: 1, dhcp: true, primary: true}}]
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: SnowMachineConfig
metadata: {{name: test-wn, namespace: test-namespace}}
spec:
  amiID: eks-d-v1-21-5-ubuntu-ami-02833ca9a8f29c2ea
  instanceType: sbe-c.xlarge
  sshKeyName: default
  physicalNetworkConnector: SFP_PLUS
  devices: [1.2.3.4, 1.2.3.5]
  osFamily: {os}
  containersVolume: {{size: 8}}
  network:
    directNetworkInterfaces: [{{index: 1, dhcp: true, primary: true}}]
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: SnowMachineConfig
metadata: {{name: test-etcd, namespace: test-namespace}}
spec:
  amiID: ami-etcd
  sshKeyName: default
  osFamily: {os}
  network:
    directNetworkInterfaces: [{{index: 1, primary: true, ipPoolRef: {{kind: SnowIPPool, name: ip-pool-1}}}}]
  hostOSConfiguration:
    bottlerocketConfiguration:
      kernel: {{sysctlSettings: {{foo: bar}}}}
      boot: {{bootKernelParameters: {{foo: [abc, def]}}}}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: SnowIPPool
metadata: {{name: ip-pool-1, namespace: test-namespace}}
spec:
  pools: [{{ipStart: start, ipEnd: end, gateway: gateway, subnet: subnet}}]
"#
    );
    parse_config_set(&text, Reading::Lenient).unwrap()
}

enum Pools {
    /// The generic entry points (`anywhere_manifests::cluster`), which do not see the pools yet.
    Generic,
    /// The pools read from the spec file.
    FromSpec,
}

fn render(set: &ConfigSet, pools: Pools) -> (Vec<Value>, Vec<Value>) {
    let provider = ProviderObjects::from_config_set(set).unwrap();
    let names = TemplateNames::initial(&set.cluster, &["md-0".to_string()]);
    let credentials = Credentials::default();
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog: Catalog::embedded(),
        credentials: &credentials,
        features: Features::default(),
        names: &names,
        tinkerbell_bootstrap_ip: None,
    };
    let values = |m: Vec<Manifest>| m.into_iter().map(|m| m.0).collect::<Vec<_>>();
    match pools {
        Pools::Generic => (
            values(anywhere_manifests::control_plane(&inputs).unwrap()),
            values(anywhere_manifests::workers(&inputs).unwrap()),
        ),
        Pools::FromSpec => {
            let pools = snow::ip_pools(set);
            (
                values(snow::control_plane_with_ip_pools(&inputs, &pools).unwrap()),
                values(snow::workers_with_ip_pools(&inputs, &pools).unwrap()),
            )
        }
    }
}

fn kinds_and_names(objects: &[Value]) -> Vec<(String, String)> {
    objects
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap().to_string(),
                o["metadata"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn arg_list(pairs: &[(&str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn sample_renders_the_reference_object_set_in_order() {
    let (cp, workers) = render(&sample_set("1.33"), Pools::Generic);
    assert_eq!(
        kinds_and_names(&cp),
        owned(&[
            ("Cluster", "snow-test"),
            ("KubeadmControlPlane", "snow-test"),
            ("AWSSnowCluster", "snow-test"),
            ("AWSSnowMachineTemplate", "snow-test-control-plane-1"),
            ("EtcdadmCluster", "snow-test-etcd"),
            ("AWSSnowMachineTemplate", "snow-test-etcd-1"),
            ("Secret", "snow-test-snow-credentials"),
            ("AWSSnowIPPool", "snow-pool"),
        ])
    );
    assert_eq!(
        kinds_and_names(&workers),
        owned(&[
            ("KubeadmConfigTemplate", "snow-test-md-0-1"),
            ("MachineDeployment", "snow-test-md-0"),
            ("AWSSnowMachineTemplate", "snow-test-md-0-1"),
            ("AWSSnowIPPool", "snow-pool"),
        ])
    );
    for o in cp.iter().chain(&workers) {
        assert_eq!(o["metadata"]["namespace"], "eksa-system", "{}", o["kind"]);
    }
    // Replica counts: control plane 2, external etcd 3, workers 2.
    assert_eq!(
        find(&cp, "KubeadmControlPlane", "snow-test")["spec"]["replicas"],
        2
    );
    assert_eq!(
        find(&cp, "EtcdadmCluster", "snow-test-etcd")["spec"]["replicas"],
        3
    );
    assert_eq!(
        find(&workers, "MachineDeployment", "snow-test-md-0")["spec"]["replicas"],
        2
    );
}

#[test]
fn sample_cluster_objects_match_the_reference() {
    let (cp, _) = render(&sample_set("1.33"), Pools::Generic);
    let cluster = find(&cp, "Cluster", "snow-test");
    assert_eq!(
        cluster["metadata"]["labels"],
        json!({
            "cluster.anywhere.eks.amazonaws.com/cluster-name": "snow-test",
            "cluster.anywhere.eks.amazonaws.com/cluster-namespace": "",
            "cluster.x-k8s.io/cluster-name": "snow-test",
        })
    );
    assert_eq!(
        cluster["spec"]["infrastructureRef"],
        json!({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "AWSSnowCluster", "name": "snow-test"})
    );
    assert_eq!(
        cluster["spec"]["managedExternalEtcdRef"],
        json!({"apiGroup": "etcdcluster.cluster.x-k8s.io", "kind": "EtcdadmCluster", "name": "snow-test-etcd"})
    );
    assert_eq!(
        find(&cp, "AWSSnowCluster", "snow-test")["spec"],
        json!({
            "controlPlaneEndpoint": {"host": "192.0.2.10", "port": 6443},
            "identityRef": {"kind": "Secret", "name": "snow-test-snow-credentials"},
            "region": "snow",
        })
    );
    let secret = find(&cp, "Secret", "snow-test-snow-credentials");
    assert_eq!(
        secret["metadata"]["labels"],
        json!({"clusterctl.cluster.x-k8s.io/move": "true"})
    );
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"], json!({"ca-bundle": "", "credentials": ""}));
}

#[test]
fn sample_machine_templates_carry_the_machine_config() {
    let (cp, workers) = render(&sample_set("1.33"), Pools::Generic);
    let expected = json!({
        "ami": {"id": "ami-0123456789abcdef0"},
        "cloudInit": {"insecureSkipSecretsManager": true},
        "containersVolume": {"size": 25},
        "devices": ["192.0.2.40"],
        "iamInstanceProfile": "control-plane.cluster-api-provider-aws.sigs.k8s.io",
        "imageLookupBaseOS": "bottlerocket",
        "instanceType": "sbe-c.large",
        "network": {"directNetworkInterfaces": [
            {"index": 1, "ipPool": {"kind": "AWSSnowIPPool", "name": "snow-pool"}, "primary": true}
        ]},
        "osFamily": "bottlerocket",
        "physicalNetworkConnectorType": "SFP_PLUS",
        "sshKeyName": "default",
    });
    for name in ["snow-test-control-plane-1", "snow-test-etcd-1"] {
        assert_eq!(
            find(&cp, "AWSSnowMachineTemplate", name)["spec"]["template"]["spec"],
            expected
        );
    }
    assert_eq!(
        find(&workers, "AWSSnowMachineTemplate", "snow-test-md-0-1")["spec"]["template"]["spec"],
        expected
    );
}

#[test]
fn ip_pools_from_the_spec_file_carry_their_ranges() {
    let (cp, workers) = render(&sample_set("1.33"), Pools::FromSpec);
    let want = json!({"pools": [{
        "gateway": "192.0.2.1", "ipEnd": "192.0.2.150", "ipStart": "192.0.2.100", "subnet": "192.0.2.0/24"
    }]});
    assert_eq!(find(&cp, "AWSSnowIPPool", "snow-pool")["spec"], want);
    assert_eq!(find(&workers, "AWSSnowIPPool", "snow-pool")["spec"], want);
    // The generic path gets the same ranges from `ProviderObjects`.
    let (cp, _) = render(&sample_set("1.33"), Pools::Generic);
    assert_eq!(find(&cp, "AWSSnowIPPool", "snow-pool")["spec"], want);
}

#[test]
fn sample_bottlerocket_control_plane_has_snow_containers_and_external_etcd() {
    let (cp, _) = render(&sample_set("1.33"), Pools::Generic);
    let kcp = find(&cp, "KubeadmControlPlane", "snow-test");
    let spec = &kcp["spec"]["kubeadmConfigSpec"];
    assert_eq!(spec["format"], "bottlerocket");
    assert!(spec.get("preKubeadmCommands").is_none());
    let cc = &spec["clusterConfiguration"];
    assert_eq!(cc["certificatesDir"], "/var/lib/kubeadm/pki");
    assert_eq!(
        cc["etcd"]["external"],
        json!({
            "caFile": "/var/lib/kubeadm/pki/etcd/ca.crt",
            "certFile": "/var/lib/kubeadm/pki/server-etcd-client.crt",
            "endpoints": ["https://placeholder:2379"],
            "keyFile": "/var/lib/kubeadm/pki/apiserver-etcd-client.key",
        })
    );
    assert_eq!(
        cc["controllerManager"]["extraArgs"],
        arg_list(&[("tls-cipher-suites", CIPHERS)])
    );
    assert_eq!(
        cc["scheduler"]["extraVolumes"][0]["hostPath"],
        "/var/lib/kubeadm/scheduler.conf"
    );
    // No audit policy, no API-server args on Snow; 1.33 has no etcd learner-mode gate.
    assert!(cc.get("apiServer").is_none());
    assert!(cc.get("featureGates").is_none());
    for section in [cc, &spec["joinConfiguration"]] {
        assert_eq!(
            section["pause"]["imageRepository"],
            "public.ecr.aws/eks-distro/kubernetes/pause"
        );
        assert!(
            section["bottlerocketBootstrap"]["imageRepository"]
                .as_str()
                .unwrap()
                .ends_with("/bottlerocket-bootstrap")
        );
        assert!(
            section["bottlerocketAdmin"]["imageRepository"]
                .as_str()
                .unwrap()
                .ends_with("/bottlerocket-admin")
        );
        assert!(
            section["bottlerocketControl"]["imageRepository"]
                .as_str()
                .unwrap()
                .ends_with("/bottlerocket-control")
        );
        let custom = &section["bottlerocketCustomBootstrapContainers"];
        assert_eq!(custom.as_array().unwrap().len(), 1);
        assert_eq!(custom[0]["name"], "bottlerocket-bootstrap-snow");
        assert_eq!(custom[0]["mode"], "always");
        assert!(
            custom[0]["imageRepository"]
                .as_str()
                .unwrap()
                .ends_with("/bottlerocket-bootstrap-snow")
        );
    }
    let kubelet = arg_list(&[("tls-cipher-suites", CIPHERS), ("provider-id", PROVIDER_ID)]);
    let taints = json!([{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]);
    for registration in [
        &spec["initConfiguration"]["nodeRegistration"],
        &spec["joinConfiguration"]["nodeRegistration"],
    ] {
        assert_eq!(registration["kubeletExtraArgs"], kubelet);
        assert_eq!(registration["taints"], taints);
        assert!(registration.get("ignorePreflightErrors").is_none());
    }
    // kube-vip: the Snow bundle image, the endpoint, admin.conf even on Bottlerocket.
    let files = spec["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["path"], "/etc/kubernetes/manifests/kube-vip.yaml");
    let content = files[0]["content"].as_str().unwrap();
    assert!(content.contains("value: \"192.0.2.10\"") || content.contains("value: 192.0.2.10"));
    assert!(content.contains("/kube-vip/kube-vip:"));
    assert!(content.contains("path: /etc/kubernetes/admin.conf"));
    assert!(!content.contains("creationTimestamp"));
    // Without upgradeRolloutStrategy the reference sets no rollout.
    assert!(kcp["spec"].get("rollout").is_none());
    assert_eq!(
        kcp["spec"]["machineTemplate"]["spec"]["infrastructureRef"]["name"],
        "snow-test-control-plane-1"
    );
}

#[test]
fn sample_bottlerocket_etcd_has_admin_control_and_snow_bootstrap_images() {
    let (cp, _) = render(&sample_set("1.33"), Pools::Generic);
    let config = &find(&cp, "EtcdadmCluster", "snow-test-etcd")["spec"]["etcdadmConfigSpec"];
    assert_eq!(config["format"], "bottlerocket");
    assert_eq!(config["cipherSuites"], CIPHERS);
    assert!(config.get("cloudInitConfig").is_none());
    assert!(config.get("preEtcdadmCommands").is_none());
    let br = &config["bottlerocketConfig"];
    for key in [
        "etcdImage",
        "bootstrapImage",
        "pauseImage",
        "adminImage",
        "controlImage",
    ] {
        assert!(br[key].as_str().unwrap().contains(':'), "{key}");
    }
    assert!(
        br["adminImage"]
            .as_str()
            .unwrap()
            .contains("/bottlerocket-admin:")
    );
    assert!(
        br["controlImage"]
            .as_str()
            .unwrap()
            .contains("/bottlerocket-control:")
    );
    assert_eq!(
        br["customBootstrapContainers"][0]["name"],
        "bottlerocket-bootstrap-snow"
    );
    assert_eq!(br["customBootstrapContainers"][0]["mode"], "always");
    assert!(
        br["customBootstrapContainers"][0]["image"]
            .as_str()
            .unwrap()
            .contains("/bottlerocket-bootstrap-snow:")
    );
    assert_eq!(
        find(&cp, "EtcdadmCluster", "snow-test-etcd")["spec"]["infrastructureTemplate"],
        json!({
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
            "kind": "AWSSnowMachineTemplate",
            "name": "snow-test-etcd-1",
        })
    );
}

#[test]
fn sample_bottlerocket_workers_join_with_provider_id_only() {
    let (_, workers) = render(&sample_set("1.33"), Pools::Generic);
    let spec = &find(&workers, "KubeadmConfigTemplate", "snow-test-md-0-1")["spec"]["template"]["spec"];
    assert_eq!(spec["format"], "bottlerocket");
    assert!(spec.get("preKubeadmCommands").is_none());
    let join = &spec["joinConfiguration"];
    assert_eq!(
        join["nodeRegistration"],
        json!({"kubeletExtraArgs": arg_list(&[("provider-id", PROVIDER_ID)])})
    );
    assert_eq!(
        join["bottlerocketCustomBootstrapContainers"][0]["name"],
        "bottlerocket-bootstrap-snow"
    );
    assert!(join["bottlerocketAdmin"].is_object());
    assert!(join["bottlerocketControl"].is_object());
    let md = find(&workers, "MachineDeployment", "snow-test-md-0");
    assert_eq!(
        md["metadata"]["labels"]["cluster.anywhere.eks.amazonaws.com/cluster-name"],
        "snow-test"
    );
    assert_eq!(
        md["spec"]["template"]["spec"]["infrastructureRef"]["kind"],
        "AWSSnowMachineTemplate"
    );
    assert_eq!(
        md["spec"]["template"]["spec"]["bootstrap"]["configRef"]["name"],
        "snow-test-md-0-1"
    );
}

#[test]
fn ubuntu_control_plane_matches_the_reference_want_kubeadm_control_plane() {
    let (cp, _) = render(&reference_set("1.33", "ubuntu", ""), Pools::Generic);
    let kcp = find(&cp, "KubeadmControlPlane", "snow-test");
    assert_eq!(kcp["spec"]["replicas"], 3);
    assert_eq!(
        kcp["spec"]["rollout"],
        json!({"strategy": {"rollingUpdate": {"maxSurge": 1}, "type": "RollingUpdate"}})
    );
    let spec = &kcp["spec"]["kubeadmConfigSpec"];
    assert!(spec.get("format").is_none());
    let cc = &spec["clusterConfiguration"];
    assert_eq!(
        cc["etcd"]["local"]["extraArgs"],
        arg_list(&[
            ("cipher-suites", CIPHERS),
            ("listen-peer-urls", "https://0.0.0.0:2380"),
            ("listen-client-urls", "https://0.0.0.0:2379"),
        ])
    );
    assert!(cc.get("scheduler").is_none());
    assert!(cc.get("certificatesDir").is_none());
    assert!(cc.get("featureGates").is_none());
    assert!(cc["controllerManager"].get("extraVolumes").is_none());
    assert_eq!(
        spec["preKubeadmCommands"],
        json!(["/etc/eks/bootstrap.sh", SUPER_ADMIN])
    );
    assert_eq!(
        spec["joinConfiguration"]["nodeRegistration"]["ignorePreflightErrors"],
        json!(["DirAvailable--etc-kubernetes-manifests"])
    );
    assert!(
        spec["initConfiguration"]["nodeRegistration"]
            .get("ignorePreflightErrors")
            .is_none()
    );
    assert_eq!(spec["files"].as_array().unwrap().len(), 1);
    // Worker machine template: the worker machine config's instance type and containers volume.
    let (_, workers) = render(&reference_set("1.33", "ubuntu", ""), Pools::Generic);
    let mt = &find(&workers, "AWSSnowMachineTemplate", "snow-test-md-0-1")["spec"]["template"]["spec"];
    assert_eq!(mt["instanceType"], "sbe-c.xlarge");
    assert_eq!(mt["osFamily"], "ubuntu");
    assert_eq!(mt["devices"], json!(["1.2.3.4", "1.2.3.5"]));
    assert_eq!(mt["containersVolume"], json!({"size": 8}));
    assert_eq!(
        mt["network"],
        json!({"directNetworkInterfaces": [{"dhcp": true, "index": 1, "primary": true}]})
    );
    assert!(mt.get("imageLookupBaseOS").is_none());
}

#[test]
fn ubuntu_from_1_29_points_kube_vip_at_super_admin_and_disables_learner_mode() {
    let (cp, _) = render(&reference_set("1.30", "ubuntu", ""), Pools::Generic);
    let spec = &find(&cp, "KubeadmControlPlane", "snow-test")["spec"]["kubeadmConfigSpec"];
    assert_eq!(spec["preKubeadmCommands"][0], "/etc/eks/bootstrap.sh");
    assert!(
        spec["preKubeadmCommands"][1]
            .as_str()
            .unwrap()
            .contains("super-admin.conf")
    );
    assert_eq!(
        spec["clusterConfiguration"]["featureGates"],
        json!({"EtcdLearnerMode": false})
    );
    let (cp, _) = render(&reference_set("1.33", "bottlerocket", ""), Pools::Generic);
    let spec = &find(&cp, "KubeadmControlPlane", "snow-test")["spec"]["kubeadmConfigSpec"];
    assert!(spec["clusterConfiguration"].get("featureGates").is_none());
}

#[test]
fn ubuntu_workers_match_the_reference_want_kubeadm_config_template_and_machine_deployment() {
    let (_, workers) = render(&reference_set("1.33", "ubuntu", ""), Pools::Generic);
    let kct = find(&workers, "KubeadmConfigTemplate", "snow-test-md-0-1");
    assert_eq!(
        kct["spec"]["template"]["spec"],
        json!({
            "joinConfiguration": {"nodeRegistration": {"kubeletExtraArgs": arg_list(&[("provider-id", PROVIDER_ID)])}},
            "preKubeadmCommands": ["/etc/eks/bootstrap.sh"],
        })
    );
    let md = find(&workers, "MachineDeployment", "snow-test-md-0");
    assert_eq!(
        md["metadata"]["labels"],
        json!({
            "cluster.anywhere.eks.amazonaws.com/cluster-name": "snow-test",
            "cluster.anywhere.eks.amazonaws.com/cluster-namespace": "test-namespace",
            "cluster.x-k8s.io/cluster-name": "snow-test",
        })
    );
    assert_eq!(md["spec"]["replicas"], 3);
    assert_eq!(
        md["spec"]["rollout"]["strategy"],
        json!({"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}, "type": "RollingUpdate"})
    );
    assert_eq!(
        md["spec"]["template"]["metadata"]["labels"],
        json!({"cluster.x-k8s.io/cluster-name": "snow-test"})
    );
}

const PROXY: &str = "  proxyConfiguration:
    httpProxy: 1.2.3.4:8888
    httpsProxy: 1.2.3.4:8888
    noProxy: [1.2.3.4/0, 1.2.3.5/0]";

const NO_PROXY: [&str; 8] = [
    "10.1.0.0/16",
    "10.96.0.0/12",
    "1.2.3.4/0",
    "1.2.3.5/0",
    "localhost",
    "127.0.0.1",
    ".svc",
    "1.2.3.4",
];

#[test]
fn ubuntu_proxy_writes_the_containerd_drop_in_and_restarts_containerd() {
    let (cp, workers) = render(&reference_set("1.33", "ubuntu", PROXY), Pools::Generic);
    let spec = &find(&cp, "KubeadmControlPlane", "snow-test")["spec"]["kubeadmConfigSpec"];
    let proxy_file = json!({
        "content": format!(
            "[Service]\nEnvironment=\"HTTP_PROXY=1.2.3.4:8888\"\nEnvironment=\"HTTPS_PROXY=1.2.3.4:8888\"\nEnvironment=\"NO_PROXY={}\"",
            NO_PROXY.join(",")
        ),
        "owner": "root:root",
        "path": "/etc/systemd/system/containerd.service.d/http-proxy.conf",
    });
    assert_eq!(spec["files"][1], proxy_file);
    assert_eq!(
        spec["preKubeadmCommands"],
        json!([
            "/etc/eks/bootstrap.sh",
            SUPER_ADMIN,
            "sudo systemctl daemon-reload",
            "sudo systemctl restart containerd"
        ])
    );
    let kct = &find(&workers, "KubeadmConfigTemplate", "snow-test-md-0-1")["spec"]["template"]["spec"];
    assert_eq!(kct["files"][0], proxy_file);
}

#[test]
fn bottlerocket_proxy_becomes_kubeadm_proxy_settings() {
    let (cp, workers) = render(&reference_set("1.33", "bottlerocket", PROXY), Pools::Generic);
    let spec = &find(&cp, "KubeadmControlPlane", "snow-test")["spec"]["kubeadmConfigSpec"];
    let want = json!({"httpsProxy": "1.2.3.4:8888", "noProxy": NO_PROXY});
    assert_eq!(spec["clusterConfiguration"]["proxy"], want);
    assert_eq!(spec["joinConfiguration"]["proxy"], want);
    assert_eq!(spec["files"].as_array().unwrap().len(), 1);
    let kct = &find(&workers, "KubeadmConfigTemplate", "snow-test-md-0-1")["spec"]["template"]["spec"];
    assert_eq!(kct["joinConfiguration"]["proxy"], want);
}

const MIRROR: &str = "  registryMirrorConfiguration:
    endpoint: 1.2.3.4
    port: \"443\"
    caCertContent: xyz
    ociNamespaces:
    - {registry: public.ecr.aws, namespace: eks-anywhere}
    - {registry: 783794618700.dkr.ecr.us-west-2.amazonaws.com, namespace: curated-packages}";

#[test]
fn ubuntu_registry_mirror_writes_the_reference_files() {
    let (cp, _) = render(&reference_set("1.33", "ubuntu", MIRROR), Pools::Generic);
    let spec = &find(&cp, "KubeadmControlPlane", "snow-test")["spec"]["kubeadmConfigSpec"];
    let hosts = |server: &str, host: &str| {
        format!(
            "server = \"https://{server}\"\n\n[host.\"https://{host}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n  ca = \"/etc/containerd/certs.d/1.2.3.4:443/ca.crt\"\n"
        )
    };
    let file = |path: &str, content: String| json!({"content": content, "owner": "root:root", "path": path});
    assert_eq!(
        spec["files"].as_array().unwrap()[1..],
        [
            file(
                "/etc/containerd/config_append.toml",
                "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n".into()
            ),
            file("/etc/containerd/certs.d/1.2.3.4:443/ca.crt", "xyz".into()),
            file("/etc/containerd/certs.d/1.2.3.4:443/hosts.toml", hosts("1.2.3.4:443", "1.2.3.4:443/v2")),
            file(
                "/etc/containerd/certs.d/783794618700.dkr.ecr.us-west-2.amazonaws.com/hosts.toml",
                hosts("783794618700.dkr.ecr.us-west-2.amazonaws.com", "1.2.3.4:443/v2/curated-packages")
            ),
            file(
                "/etc/containerd/certs.d/public.ecr.aws/hosts.toml",
                hosts("public.ecr.aws", "1.2.3.4:443/v2/eks-anywhere")
            ),
        ]
    );
    assert_eq!(
        spec["preKubeadmCommands"],
        json!([
            "/etc/eks/bootstrap.sh",
            SUPER_ADMIN,
            "cat /etc/containerd/config_append.toml >> /etc/containerd/config.toml",
            "sudo systemctl daemon-reload",
            "sudo systemctl restart containerd",
        ])
    );
}

#[test]
fn bottlerocket_registry_mirror_points_at_the_public_ecr_mirror() {
    let (cp, workers) = render(&reference_set("1.33", "bottlerocket", MIRROR), Pools::Generic);
    let spec = &find(&cp, "KubeadmControlPlane", "snow-test")["spec"]["kubeadmConfigSpec"];
    let want = json!({"endpoint": "1.2.3.4:443/v2/eks-anywhere", "caCert": "xyz"});
    assert_eq!(spec["clusterConfiguration"]["registryMirror"], want);
    assert_eq!(spec["joinConfiguration"]["registryMirror"], want);
    let kct = &find(&workers, "KubeadmConfigTemplate", "snow-test-md-0-1")["spec"]["template"]["spec"];
    assert_eq!(kct["joinConfiguration"]["registryMirror"], want);
}

const EXTERNAL_ETCD: &str = "  eksaVersion: v0.19.0
  externalEtcdConfiguration:
    count: 3
    machineGroupRef: {kind: SnowMachineConfig, name: test-etcd}";

#[test]
fn ubuntu_external_etcd_matches_the_reference_want_etcd_cluster_ubuntu() {
    let (cp, _) = render(&reference_set("1.33", "ubuntu", EXTERNAL_ETCD), Pools::FromSpec);
    let etcd = find(&cp, "EtcdadmCluster", "snow-test-etcd");
    let config = &etcd["spec"]["etcdadmConfigSpec"];
    assert_eq!(config["format"], "cloud-config");
    assert_eq!(config["preEtcdadmCommands"], json!(["/etc/eks/bootstrap.sh"]));
    assert_eq!(config["cloudInitConfig"]["installDir"], "/usr/bin");
    let version = config["cloudInitConfig"]["version"].as_str().unwrap();
    assert!(
        config["cloudInitConfig"]["etcdReleaseURL"]
            .as_str()
            .unwrap()
            .ends_with(&format!("etcd-linux-amd64-v{version}.tar.gz"))
    );
    assert!(config.get("bottlerocketConfig").is_none());
    let kcp = find(&cp, "KubeadmControlPlane", "snow-test");
    assert_eq!(
        kcp["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]["etcd"],
        json!({"external": {
            "caFile": "/etc/kubernetes/pki/etcd/ca.crt",
            "certFile": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
            "endpoints": ["https://placeholder:2379"],
            "keyFile": "/etc/kubernetes/pki/apiserver-etcd-client.key",
        }})
    );
    // The etcd machine config's pool is rendered, with its ranges.
    assert_eq!(
        find(&cp, "AWSSnowIPPool", "ip-pool-1")["spec"],
        json!({"pools": [{"gateway": "gateway", "ipEnd": "end", "ipStart": "start", "subnet": "subnet"}]})
    );
    assert_eq!(
        find(&cp, "AWSSnowMachineTemplate", "snow-test-etcd-1")["spec"]["template"]["spec"]["network"],
        json!({"directNetworkInterfaces": [{"index": 1, "ipPool": {"kind": "AWSSnowIPPool", "name": "ip-pool-1"}, "primary": true}]})
    );
}

#[test]
fn bottlerocket_host_settings_reach_control_plane_workers_and_etcd() {
    let mut set = reference_set("1.33", "bottlerocket", EXTERNAL_ETCD);
    // Give the control-plane and worker machine configs the etcd machine's host settings.
    let etcd_host = match set
        .objects
        .iter()
        .find(|(o, _)| o.name() == "test-etcd")
        .unwrap()
        .0
        .clone()
    {
        anywhere_api::Object::SnowMachineConfig(m) => m.spec.unwrap().host_os_configuration,
        _ => unreachable!(),
    };
    for (o, _) in set.objects.iter_mut() {
        if let anywhere_api::Object::SnowMachineConfig(m) = o {
            m.spec.as_mut().unwrap().host_os_configuration = etcd_host.clone();
        }
    }
    let (cp, workers) = render(&set, Pools::FromSpec);
    let want = json!({"kernel": {"sysctlSettings": {"foo": "bar"}}, "boot": {"bootKernelParameters": {"foo": ["abc", "def"]}}});
    let spec = &find(&cp, "KubeadmControlPlane", "snow-test")["spec"]["kubeadmConfigSpec"];
    assert_eq!(spec["clusterConfiguration"]["bottlerocket"], want);
    assert_eq!(spec["joinConfiguration"]["bottlerocket"], want);
    assert!(spec["initConfiguration"].get("bottlerocket").is_none());
    let kct = &find(&workers, "KubeadmConfigTemplate", "snow-test-md-0-1")["spec"]["template"]["spec"];
    assert_eq!(kct["joinConfiguration"]["bottlerocket"], want);
    let br =
        &find(&cp, "EtcdadmCluster", "snow-test-etcd")["spec"]["etcdadmConfigSpec"]["bottlerocketConfig"];
    assert_eq!(br["kernel"], want["kernel"]);
    assert_eq!(br["boot"], want["boot"]);
    // Snow takes no NTP or certificate bundles from the host OS configuration.
    assert!(
        find(&cp, "EtcdadmCluster", "snow-test-etcd")["spec"]["etcdadmConfigSpec"]
            .get("ntp")
            .is_none()
    );
}

#[test]
fn etcd_and_bottlerocket_mirror_fall_back_to_the_mirror_base_without_a_public_ecr_namespace() {
    let mirror = "  registryMirrorConfiguration:
    endpoint: 1.2.3.4
    port: \"443\"
    ociNamespaces:
    - {registry: 783794618700.dkr.ecr.us-west-2.amazonaws.com, namespace: curated-packages}";
    let extra = format!("{mirror}\n{EXTERNAL_ETCD}");
    let (cp, _) = render(&reference_set("1.33", "bottlerocket", &extra), Pools::FromSpec);
    let etcd = &find(&cp, "EtcdadmCluster", "snow-test-etcd")["spec"]["etcdadmConfigSpec"];
    assert_eq!(etcd["registryMirror"], json!({"endpoint": "1.2.3.4:443/v2"}));
    let spec = &find(&cp, "KubeadmControlPlane", "snow-test")["spec"]["kubeadmConfigSpec"];
    assert_eq!(
        spec["clusterConfiguration"]["registryMirror"],
        json!({"endpoint": "1.2.3.4:443/v2"})
    );
}

#[test]
fn api_server_args_and_cert_sans_follow_the_reference_builder() {
    let mut set = reference_set("1.33", "ubuntu", "");
    let mut cluster = serde_json::to_value(&set.cluster).unwrap();
    cluster["spec"]["controlPlaneConfiguration"]["certSans"] = json!(["a.example.com"]);
    cluster["spec"]["controlPlaneConfiguration"]["apiServerExtraArgs"] =
        json!({"service-account-issuer": "https://user", "audit-log-maxage": "30"});
    cluster["spec"]["podIamConfig"] = json!({"serviceAccountIssuer": "https://pod-iam"});
    set.cluster = serde_json::from_value(cluster).unwrap();
    let (cp, workers) = render(&set, Pools::Generic);
    let api = &find(&cp, "KubeadmControlPlane", "snow-test")["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]
        ["apiServer"];
    assert_eq!(api["certSANs"], json!(["a.example.com"]));
    assert_eq!(
        api["extraArgs"],
        arg_list(&[
            ("audit-log-maxage", "30"),
            ("service-account-issuer", "https://user,https://pod-iam"),
        ])
    );
    // The reference copies the certSANs into every worker template.
    let kct = &find(&workers, "KubeadmConfigTemplate", "snow-test-md-0-1")["spec"]["template"]["spec"];
    assert_eq!(
        kct["clusterConfiguration"],
        json!({"apiServer": {"certSANs": ["a.example.com"]}})
    );
}

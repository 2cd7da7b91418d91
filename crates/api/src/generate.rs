//! Sample specs: what `anywhere generate clusterconfig NAME -p PROVIDER` prints.
//!
//! The shape follows EKS Anywhere's generator (control plane, external etcd where the provider
//! has it, one worker group `md-0`, machine configs named `NAME-cp`, `NAME`, `NAME-etcd`), with
//! one difference: every field EKS Anywhere leaves empty for the user to fill in (endpoint host,
//! vCenter server, images...) gets a clearly fake placeholder from the documentation ranges
//! (192.0.2.0/24, `example.com`), so the sample passes `anywhere validate` as printed and the
//! user only has to replace values, not discover missing ones.

use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

use crate::config_set::{API_VERSION, ConfigSet, Object, Origin};
use crate::document::{self, Fields};
use crate::generated::Cluster;

/// An infrastructure provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// VMware vSphere.
    VSphere,
    /// Bare metal through Tinkerbell.
    Tinkerbell,
    /// Apache CloudStack.
    CloudStack,
    /// Nutanix AHV.
    Nutanix,
    /// AWS Snow devices.
    Snow,
    /// Docker, for development.
    Docker,
}

impl Provider {
    /// Every provider, in the order the CLI lists them.
    pub const ALL: [Provider; 6] = [
        Provider::VSphere,
        Provider::Tinkerbell,
        Provider::CloudStack,
        Provider::Nutanix,
        Provider::Snow,
        Provider::Docker,
    ];

    /// The name used on the command line (`-p vsphere`).
    pub fn name(self) -> &'static str {
        match self {
            Provider::VSphere => "vsphere",
            Provider::Tinkerbell => "tinkerbell",
            Provider::CloudStack => "cloudstack",
            Provider::Nutanix => "nutanix",
            Provider::Snow => "snow",
            Provider::Docker => "docker",
        }
    }

    /// The datacenter kind of this provider.
    pub fn datacenter_kind(self) -> &'static str {
        match self {
            Provider::VSphere => "VSphereDatacenterConfig",
            Provider::Tinkerbell => "TinkerbellDatacenterConfig",
            Provider::CloudStack => "CloudStackDatacenterConfig",
            Provider::Nutanix => "NutanixDatacenterConfig",
            Provider::Snow => "SnowDatacenterConfig",
            Provider::Docker => "DockerDatacenterConfig",
        }
    }

    /// The machine config kind of this provider (`None` for Docker, which has none).
    pub fn machine_kind(self) -> Option<&'static str> {
        match self {
            Provider::VSphere => Some("VSphereMachineConfig"),
            Provider::Tinkerbell => Some("TinkerbellMachineConfig"),
            Provider::CloudStack => Some("CloudStackMachineConfig"),
            Provider::Nutanix => Some("NutanixMachineConfig"),
            Provider::Snow => Some("SnowMachineConfig"),
            Provider::Docker => None,
        }
    }

    /// The provider whose datacenter kind is `kind`.
    pub fn from_datacenter_kind(kind: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.datacenter_kind() == kind)
    }

    /// Whether this provider can run external etcd machines.
    pub fn has_external_etcd(self) -> bool {
        !matches!(self, Provider::Tinkerbell)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A provider name that is not one of [`Provider::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}: expected one of vsphere, tinkerbell, cloudstack, nutanix, snow, docker")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProvider(s.to_string()))
    }
}

/// The Kubernetes version a generated Cluster gets when none is asked for: the newest the
/// default release catalog supports.
pub const DEFAULT_KUBERNETES_VERSION: &str = "1.36";

/// The default Cluster EKS Anywhere generates before any provider is applied: the newest
/// Kubernetes version, the default pod and service CIDRs, Cilium, and self-managed.
pub fn default_cluster(name: &str, kubernetes_version: &str) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "clusterNetwork": {
                "cniConfig": {"cilium": {}},
                "pods": {"cidrBlocks": ["192.168.0.0/16"]},
                "services": {"cidrBlocks": ["10.96.0.0/12"]},
            },
            "controlPlaneConfiguration": {},
            "datacenterRef": {},
            "kubernetesVersion": kubernetes_version,
            "managementCluster": {"name": name},
            "workerNodeGroupConfigurations": [],
        }
    })
}

/// A complete sample spec for `provider` that passes validation as printed.
pub fn sample(name: &str, provider: Provider, kubernetes_version: &str) -> ConfigSet {
    let mut cluster = default_cluster(name, kubernetes_version);
    let spec = &mut cluster["spec"];
    let cp_machine = format!("{name}-cp");
    let etcd_machine = format!("{name}-etcd");
    let (cp_count, etcd_count) = match provider {
        Provider::Docker => (1, Some(1)),
        Provider::Tinkerbell => (1, None),
        _ => (2, Some(3)),
    };
    spec["datacenterRef"] = json!({"kind": provider.datacenter_kind(), "name": name});
    spec["controlPlaneConfiguration"] = json!({"count": cp_count});
    let mut worker = json!({"count": if provider == Provider::Tinkerbell { 1 } else { 2 }, "name": "md-0"});
    if provider == Provider::Docker {
        worker["count"] = json!(1);
    }
    if let Some(kind) = provider.machine_kind() {
        spec["controlPlaneConfiguration"]["endpoint"] = json!({"host": "192.0.2.10"});
        spec["controlPlaneConfiguration"]["machineGroupRef"] = json!({"kind": kind, "name": cp_machine});
        worker["machineGroupRef"] = json!({"kind": kind, "name": name});
    }
    spec["workerNodeGroupConfigurations"] = json!([worker]);
    if let Some(count) = etcd_count {
        let mut etcd = json!({"count": count});
        if let Some(kind) = provider.machine_kind() {
            etcd["machineGroupRef"] = json!({"kind": kind, "name": etcd_machine});
        }
        spec["externalEtcdConfiguration"] = etcd;
    }

    let mut objects = vec![datacenter(name, provider, kubernetes_version)];
    if provider.machine_kind().is_some() {
        objects.push(machine(&cp_machine, provider));
        objects.push(machine(name, provider));
        if etcd_count.is_some() {
            objects.push(machine(&etcd_machine, provider));
        }
    }
    if provider == Provider::Snow {
        // Static addresses: external etcd machines on Snow cannot use DHCP.
        objects.push(object(
            "SnowIPPool",
            "snow-pool",
            json!({"pools": [{
                "ipStart": "192.0.2.100",
                "ipEnd": "192.0.2.150",
                "subnet": "192.0.2.0/24",
                "gateway": "192.0.2.1",
            }]}),
        ));
    }
    if provider == Provider::Tinkerbell {
        // Control-plane and worker machines are told apart by hardware labels.
        objects[1]["spec"]["hardwareSelector"] = json!({"type": "cp"});
        objects[2]["spec"]["hardwareSelector"] = json!({"type": "worker"});
    }
    let cluster: Cluster =
        document::decode(&cluster, Fields::Strict).expect("the sample Cluster fits its type");
    let objects = objects
        .iter()
        .map(|v| {
            let kind = v["kind"].as_str().unwrap_or_default();
            let object = Object::decode(kind, v, Fields::Strict)
                .expect("sample kinds are known")
                .expect("sample objects fit their types");
            (object, Origin::default())
        })
        .collect();
    ConfigSet {
        cluster,
        cluster_origin: Origin::default(),
        objects,
    }
}

fn object(kind: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec})
}

/// A syntactically valid but all-zero ed25519 key: the sample validates, and no machine accepts
/// it until the user puts their own key in.
const SSH_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA replace-with-your-public-key";

fn datacenter(name: &str, provider: Provider, kubernetes_version: &str) -> Value {
    let spec = match provider {
        Provider::VSphere => json!({
            "datacenter": "Datacenter",
            "network": "/Datacenter/network/VM Network",
            "server": "vcenter.example.com",
            "thumbprint": "",
            "insecure": false,
        }),
        Provider::Tinkerbell => json!({
            "tinkerbellIP": "192.0.2.20",
            "osImageURL": format!("http://192.0.2.30/ubuntu-2204-kube-{}.gz", kubernetes_version.replace('.', "-")),
        }),
        Provider::CloudStack => json!({
            "availabilityZones": [{
                "name": "az-1",
                "credentialsRef": "global",
                "zone": {"name": "zone1", "network": {"name": "net1"}},
                "domain": "domain1",
                "account": "admin",
                "managementApiEndpoint": "https://cloudstack.example.com:8080/client/api",
            }],
        }),
        Provider::Nutanix => json!({
            "endpoint": "prism.example.com",
            "port": 9440,
            "credentialRef": {"kind": "Secret", "name": "nutanix-credentials"},
        }),
        Provider::Snow => {
            json!({"identityRef": {"kind": "Secret", "name": format!("{name}-snow-credentials")}})
        }
        Provider::Docker => json!({}),
    };
    object(provider.datacenter_kind(), name, spec)
}

fn machine(name: &str, provider: Provider) -> Value {
    let kind = provider
        .machine_kind()
        .expect("only called for providers with machine configs");
    let spec = match provider {
        Provider::VSphere => json!({
            "datastore": "Datastore",
            "diskGiB": 25,
            "folder": "Folder",
            "memoryMiB": 8192,
            "numCPUs": 2,
            "osFamily": "bottlerocket",
            "resourcePool": "*/Resources",
            "template": "/Datacenter/vm/Templates/bottlerocket-kube-v1",
            "users": [{"name": "ec2-user", "sshAuthorizedKeys": [SSH_KEY]}],
        }),
        Provider::Tinkerbell => json!({
            "hardwareSelector": {},
            "osFamily": "ubuntu",
            "templateRef": {},
            "users": [{"name": "ec2-user", "sshAuthorizedKeys": [SSH_KEY]}],
        }),
        Provider::CloudStack => json!({
            "computeOffering": {"name": "m4-large"},
            "template": {"name": "rhel8-kube-1.30"},
            "users": [{"name": "capc", "sshAuthorizedKeys": [SSH_KEY]}],
        }),
        Provider::Nutanix => json!({
            "osFamily": "ubuntu",
            "vcpusPerSocket": 1,
            "vcpuSockets": 2,
            "memorySize": "8Gi",
            "systemDiskSize": "40Gi",
            "image": {"type": "name", "name": "ubuntu-kube-1.30"},
            "cluster": {"type": "name", "name": "prism-element"},
            "subnet": {"type": "name", "name": "vm-network"},
            "users": [{"name": "eksa", "sshAuthorizedKeys": [SSH_KEY]}],
        }),
        Provider::Snow => json!({
            "amiID": "ami-0123456789abcdef0",
            "instanceType": "sbe-c.large",
            "physicalNetworkConnector": "SFP_PLUS",
            "sshKeyName": "default",
            "devices": ["192.0.2.40"],
            "containersVolume": {"size": 25},
            "osFamily": "bottlerocket",
            "network": {"directNetworkInterfaces": [{
                "index": 1,
                "primary": true,
                "ipPoolRef": {"kind": "SnowIPPool", "name": "snow-pool"},
            }]},
        }),
        Provider::Docker => unreachable!("docker has no machine configs"),
    };
    let mut o = object(kind, name, spec);
    if provider == Provider::Tinkerbell {
        o["spec"].as_object_mut().map(|m| m.remove("templateRef"));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_sample_builds_and_round_trips() {
        for p in Provider::ALL {
            let set = sample("demo", p, "1.31");
            assert_eq!(set.datacenter_kind(), p.datacenter_kind());
            let text = set.to_yaml();
            let back = crate::parse_config_set(&text, crate::Reading::Strict).unwrap();
            assert_eq!(back.cluster, set.cluster, "{p}");
            assert_eq!(back.objects.len(), set.objects.len(), "{p}");
        }
    }

    #[test]
    fn provider_names_parse() {
        assert_eq!("vSphere".parse::<Provider>().unwrap(), Provider::VSphere);
        assert!("aws".parse::<Provider>().is_err());
    }
}

use serde_json::{Value, json};

use super::*;
use crate::config_set::Origin;

fn base() -> Value {
    json!({
        "metadata": {"name": "c"},
        "spec": {
            "kubernetesVersion": "1.29",
            "eksaVersion": "v0.21.0",
            "controlPlaneConfiguration": {"count": 3, "endpoint": {"host": "10.0.0.10"}},
            "workerNodeGroupConfigurations": [{"name": "md-0", "count": 2}],
            "datacenterRef": {"kind": "VSphereDatacenterConfig", "name": "dc"},
            "clusterNetwork": {
                "pods": {"cidrBlocks": ["192.168.0.0/16"]},
                "services": {"cidrBlocks": ["10.96.0.0/12"]},
                "cniConfig": {"cilium": {}}
            }
        }
    })
}

fn patched(patches: &[(&str, Value)]) -> ConfigSet {
    let mut v = base();
    for (pointer, value) in patches {
        let (parent, key) = pointer.rsplit_once('/').expect("pointer");
        let target = v.pointer_mut(parent).expect("parent exists");
        match (target, value.is_null()) {
            (Value::Object(m), true) => {
                m.remove(key);
            }
            (Value::Object(m), false) => {
                m.insert(key.to_string(), value.clone());
            }
            (Value::Array(a), _) => {
                let i: usize = key.parse().expect("index");
                if i == a.len() {
                    a.push(value.clone());
                } else {
                    a[i] = value.clone();
                }
            }
            _ => panic!("cannot patch {pointer}"),
        }
    }
    let cluster: Cluster = crate::document::decode(&v, crate::document::Fields::Strict).expect("decode");
    ConfigSet {
        cluster,
        cluster_origin: Origin::default(),
        objects: Vec::new(),
    }
}

fn check(old: &[(&str, Value)], new: &[(&str, Value)], expect: &[&str]) {
    let got = update(&patched(old), &patched(new));
    let got: Vec<&str> = got.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(got, expect, "old {old:?} new {new:?}");
}

#[test]
fn unchanged_cluster_passes() {
    check(&[], &[], &[]);
}

#[test]
fn identity_and_network_fields_are_immutable() {
    check(
        &[],
        &[("/metadata/name", json!("d"))],
        &["cluster name is immutable. previous name c, new name d"],
    );
    check(&[("/metadata/namespace", json!("default"))], &[], &[]);
    check(
        &[],
        &[("/metadata/namespace", json!("other"))],
        &["cluster namespace is immutable"],
    );
    check(
        &[],
        &[("/spec/datacenterRef/name", json!("dc2"))],
        &["datacenterRef VSphereDatacenterConfig/dc -> VSphereDatacenterConfig/dc2: field is immutable"],
    );
    check(
        &[],
        &[("/spec/clusterNetwork/pods/cidrBlocks", json!(["10.10.0.0/16"]))],
        &["clusterNetwork.pods: field is immutable"],
    );
    check(
        &[],
        &[("/spec/clusterNetwork/nodes", json!({"cidrMaskSize": 25}))],
        &["clusterNetwork.nodes: field is immutable"],
    );
    check(
        &[],
        &[(
            "/spec/proxyConfiguration",
            json!({"httpProxy": "p:1", "httpsProxy": "p:1"}),
        )],
        &["proxyConfiguration: field is immutable"],
    );
    check(
        &[],
        &[("/spec/clusterNetwork/cniConfig", json!({"kindnetd": {}}))],
        &["spec.clusterNetwork.CNI/CNIConfig is immutable"],
    );
    // Changing cilium settings keeps the plugin.
    check(
        &[],
        &[(
            "/spec/clusterNetwork/cniConfig",
            json!({"cilium": {"policyEnforcementMode": "always"}}),
        )],
        &[],
    );
}

#[test]
fn endpoint_is_immutable_but_cloudstack_accepts_the_default_port() {
    check(
        &[],
        &[(
            "/spec/controlPlaneConfiguration/endpoint/host",
            json!("10.0.0.11"),
        )],
        &["endpoint 10.0.0.10 -> 10.0.0.11: field is immutable"],
    );
    let cloudstack = ("/spec/datacenterRef/kind", json!("CloudStackDatacenterConfig"));
    check(
        &[
            cloudstack.clone(),
            (
                "/spec/controlPlaneConfiguration/endpoint/host",
                json!("10.0.0.10:6443"),
            ),
        ],
        std::slice::from_ref(&cloudstack),
        &[],
    );
    check(
        std::slice::from_ref(&cloudstack),
        &[
            cloudstack.clone(),
            (
                "/spec/controlPlaneConfiguration/endpoint/host",
                json!("10.0.0.10:6443"),
            ),
        ],
        &[],
    );
    check(
        std::slice::from_ref(&cloudstack),
        &[
            cloudstack.clone(),
            (
                "/spec/controlPlaneConfiguration/endpoint/host",
                json!("10.0.0.10:443"),
            ),
        ],
        &["endpoint 10.0.0.10 -> 10.0.0.10:443: field is immutable"],
    );
}

#[test]
fn management_cluster_and_etcd_topology_are_immutable() {
    check(&[], &[("/spec/managementCluster", json!({"name": "c"}))], &[]);
    check(
        &[],
        &[("/spec/managementCluster", json!({"name": "mgmt"}))],
        &["managementCluster \"\" -> \"mgmt\": field is immutable"],
    );
    check(
        &[],
        &[("/spec/externalEtcdConfiguration", json!({"count": 3}))],
        &["cannot switch from stacked to external etcd topology"],
    );
}

#[test]
fn gitops_ref_is_immutable_for_workload_clusters_only() {
    let workload = ("/spec/managementCluster", json!({"name": "mgmt"}));
    check(
        &[],
        &[("/spec/gitOpsRef", json!({"kind": "FluxConfig", "name": "f"}))],
        &[],
    );
    check(
        std::slice::from_ref(&workload),
        &[
            workload.clone(),
            ("/spec/gitOpsRef", json!({"kind": "FluxConfig", "name": "f"})),
        ],
        &["gitOpsRef: field is immutable"],
    );
}

#[test]
fn kubernetes_version_moves_up_one_minor_at_a_time() {
    check(&[], &[("/spec/kubernetesVersion", json!("1.30"))], &[]);
    check(
        &[],
        &[("/spec/kubernetesVersion", json!("1.31"))],
        &["only +1 minor version skew is supported, minor version skew detected 2"],
    );
    check(
        &[],
        &[("/spec/kubernetesVersion", json!("1.28"))],
        &["kubernetes version downgrade is not supported (1.29) -> (1.28)"],
    );
}

#[test]
fn worker_versions_follow_their_own_skew_rules() {
    let pin = |v: &str| {
        (
            "/spec/workerNodeGroupConfigurations/0/kubernetesVersion",
            json!(v),
        )
    };
    check(
        &[pin("1.28")],
        &[("/spec/kubernetesVersion", json!("1.30")), pin("1.28")],
        &[],
    );
    check(
        &[pin("1.28")],
        &[("/spec/kubernetesVersion", json!("1.30")), pin("1.27")],
        &[
            "kubernetes version downgrade is not supported (1.28) -> (1.27)",
            "cluster level minor version must be within 2 versions greater than worker node group version: 1.27",
        ],
    );
    check(
        &[pin("1.28")],
        &[("/spec/kubernetesVersion", json!("1.30"))],
        &[
            "can't simultaneously remove worker kubernetesVersion and upgrade cluster level kubernetesVersion: 1.30",
        ],
    );
    check(&[pin("1.28")], &[], &[]);
    check(
        &[],
        &[(
            "/spec/workerNodeGroupConfigurations/1",
            json!({"name": "md-1", "count": 1, "kubernetesVersion": "1.26"}),
        )],
        &[
            "cluster level minor version must be within 2 versions greater than worker node group version: 1.26",
        ],
    );
}

#[test]
fn eksa_version_cannot_be_removed_or_skip_minors() {
    check(
        &[],
        &[("/spec/eksaVersion", Value::Null)],
        &["field cannot be removed after setting. Previous value v0.21.0"],
    );
    check(&[], &[("/spec/eksaVersion", json!("v0.22.3"))], &[]);
    check(
        &[],
        &[("/spec/eksaVersion", json!("v0.23.0"))],
        &["cannot upgrade to v0.23.0 from v0.21.0: EksaVersion upgrades must have a skew of 1 minor version"],
    );
    check(
        &[],
        &[("/spec/eksaVersion", json!("v0.20.0"))],
        &["cannot downgrade from v0.21.0 to v0.20.0: EksaVersion upgrades must be incremental"],
    );
    check(&[], &[("/spec/eksaVersion", json!("v0.19.0-dev+latest"))], &[]);
    check(
        &[("/status", json!({"failureReason": "EksaVersionInvalid"}))],
        &[("/spec/eksaVersion", json!("v0.20.0"))],
        &[],
    );
    check(
        &[],
        &[
            ("/spec/eksaVersion", json!("v0.25.0")),
            (
                "/metadata/annotations",
                json!({"anywhere.eks.amazonaws.com/skip-eksa-version-skew-check": "true"}),
            ),
        ],
        &[],
    );
}

#[test]
fn bundles_ref_can_only_be_replaced_by_eksa_version() {
    let bundles = (
        "/spec/bundlesRef",
        json!({"name": "b", "namespace": "ns", "apiVersion": "v1"}),
    );
    check(
        &[bundles.clone(), ("/spec/eksaVersion", Value::Null)],
        &[("/spec/eksaVersion", Value::Null)],
        &["field cannot be removed after setting. Previous value {b ns v1}"],
    );
    check(&[bundles, ("/spec/eksaVersion", Value::Null)], &[], &[]);
}

#[test]
fn tinkerbell_version_upgrade_cannot_scale_or_relabel() {
    let tink = ("/spec/datacenterRef/kind", json!("TinkerbellDatacenterConfig"));
    check(
        std::slice::from_ref(&tink),
        &[
            tink.clone(),
            ("/spec/kubernetesVersion", json!("1.30")),
            ("/spec/controlPlaneConfiguration/count", json!(5)),
            ("/spec/workerNodeGroupConfigurations/0/count", json!(3)),
            (
                "/spec/workerNodeGroupConfigurations/1",
                json!({"name": "md-1", "count": 1}),
            ),
        ],
        &[
            "cannot perform scale up or down during rolling upgrades. Previous control plane node count 3",
            "cannot perform scale up or down during rolling upgrades. Please revert to the previous worker node groups.",
            "cannot perform scale up or down during rolling upgrades. Previous worker node count 2",
            "cannot perform scale up or down during rolling upgrades. Please remove the new worker node group md-1",
        ],
    );
    check(
        std::slice::from_ref(&tink),
        &[
            tink.clone(),
            ("/spec/workerNodeGroupConfigurations/0/labels", json!({"a": "b"})),
        ],
        &["workerNodeGroupConfigurations.labels: field is immutable"],
    );
}

#[test]
fn etcd_encryption_needs_a_supporting_provider_and_one_kms() {
    let kms = json!([{"providers": [{"kms": {"name": "k", "socketListenAddress": "unix:///kms.sock"}}], "resources": ["secrets"]}]);
    check(&[], &[("/spec/etcdEncryption", kms.clone())], &[]);
    check(
        &[],
        &[
            ("/spec/datacenterRef/kind", json!("DockerDatacenterConfig")),
            ("/spec/etcdEncryption", kms),
        ],
        &[
            "datacenterRef VSphereDatacenterConfig/dc -> DockerDatacenterConfig/dc: field is immutable",
            "etcdEncryption is currently not supported for the provider: DockerDatacenterConfig",
        ],
    );
    check(
        &[],
        &[(
            "/spec/etcdEncryption",
            json!([{"providers": [{"kms": {"name": "k", "socketListenAddress": "tcp://x"}}], "resources": ["s"]}]),
        )],
        &["etcdEncryption[0].providers[0] is invalid: kms.socketListenAddress has unsupported scheme: tcp"],
    );
}

#[test]
fn create_refuses_etcd_encryption() {
    let set = patched(&[("/spec/etcdEncryption", json!([]))]);
    let got = create(&set);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].message,
        "etcdEncryption is not supported during cluster creation"
    );
    assert!(create(&patched(&[])).is_empty());
}

//! Whole-file validation (`validate::config_set`) after the CLI's defaults, as
//! `anywhere validate` runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use anywhere_api::defaults::{self, DefaultsOptions};
use anywhere_api::validate::{self, ClusterContext, Violation};
use anywhere_api::{ConfigSet, Reading, parse_config_set};

fn defaulted(text: &str) -> ConfigSet {
    let mut set = parse_config_set(text, Reading::Strict).expect("parse");
    defaults::apply_parse_time(&mut set, &DefaultsOptions::default());
    defaults::apply_providers(&mut set);
    set
}

fn violations(text: &str) -> Vec<Violation> {
    let resolver = |_: &str| false;
    validate::config_set(&defaulted(text), &ClusterContext::new(&resolver))
}

/// `object: message` for each violation.
fn check(text: &str, expect: &[&str]) {
    let got: Vec<String> = violations(text)
        .iter()
        .map(|v| format!("{}: {}", v.object, v.message))
        .collect();
    assert_eq!(got, expect);
}

const VSPHERE: &str = "apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata:
  name: mgmt
spec:
  kubernetesVersion: 1.30
  controlPlaneConfiguration:
    count: 3
    endpoint: {host: 10.0.0.10}
    machineGroupRef: {kind: VSphereMachineConfig, name: cp}
  workerNodeGroupConfigurations:
  - count: 2
    machineGroupRef: {kind: VSphereMachineConfig, name: md}
  datacenterRef: {kind: VSphereDatacenterConfig, name: dc}
  gitOpsRef: {kind: FluxConfig, name: flux}
  identityProviderRefs:
  - {kind: OIDCConfig, name: oidc}
  clusterNetwork:
    pods: {cidrBlocks: [192.168.0.0/16]}
    services: {cidrBlocks: [10.96.0.0/12]}
    cniConfig: {cilium: {}}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: VSphereDatacenterConfig
metadata: {name: dc}
spec: {server: vcenter.local, datacenter: SDDC, network: VM-Network, insecure: true}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: VSphereMachineConfig
metadata: {name: cp}
spec: {datastore: ds, resourcePool: /SDDC/host/Cluster/Resources, template: /SDDC/vm/br}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: VSphereMachineConfig
metadata: {name: md}
spec: {datastore: ds, resourcePool: /SDDC/host/Cluster/Resources, osFamily: bottlerocket}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: FluxConfig
metadata: {name: flux}
spec: {github: {owner: me, repository: fleet}}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: OIDCConfig
metadata: {name: oidc}
spec: {clientId: kube, issuerUrl: 'https://idp.example.com'}
";

#[test]
fn complete_vsphere_file_is_valid_after_defaults() {
    check(VSPHERE, &[]);
}

#[test]
fn each_violation_names_its_object() {
    let text = VSPHERE
        .replace("count: 3", "count: 2")
        .replace(
            "spec: {datastore: ds, resourcePool: /SDDC/host/Cluster/Resources, osFamily: bottlerocket}",
            "spec: {osFamily: windows}",
        )
        .replace("spec: {github: {owner: me, repository: fleet}}", "spec: {}")
        .replace(
            "issuerUrl: 'https://idp.example.com'",
            "issuerUrl: 'http://idp.example.com'",
        )
        .replace(
            "kind: OIDCConfig\nmetadata: {name: oidc}",
            "kind: OIDCConfig\nmetadata: {name: oidc, namespace: other}",
        );
    check(
        &text,
        &[
            "Cluster/mgmt: control plane node count cannot be an even number when using stacked etcd topology",
            "OIDCConfig/oidc: OIDCConfig and Cluster objects must have the same namespace specified",
            "OIDCConfig/oidc: OIDCConfig issuerUrl should have HTTPS scheme",
            "FluxConfig/flux: must specify a provider. Valid options are git and github",
            "VSphereMachineConfig/md: VSphereMachineConfig md datastore is not set or is empty",
            "VSphereMachineConfig/md: VSphereMachineConfig md VM resourcePool is not set or is empty",
            "VSphereMachineConfig/md: VSphereMachineConfig md osFamily: windows is not supported, please use one of the following: bottlerocket, ubuntu, redhat",
        ],
    );
}

#[test]
fn dangling_references_are_reported_with_the_cluster_rules() {
    let text = VSPHERE.split("---").take(2).collect::<Vec<_>>().join("---");
    check(
        &text,
        &[
            "Cluster/mgmt: VSphereMachineConfig cp not found",
            "Cluster/mgmt: VSphereMachineConfig md not found",
            "Cluster/mgmt: FluxConfig flux not found",
            "Cluster/mgmt: OIDCConfig oidc not found",
        ],
    );
}

#[test]
fn docker_cluster_needs_no_endpoint_or_machine_configs() {
    check(
        "apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata: {name: dev}
spec:
  kubernetesVersion: '1.31'
  controlPlaneConfiguration: {count: 1}
  workerNodeGroupConfigurations: [{count: 1}]
  datacenterRef: {kind: DockerDatacenterConfig, name: dev}
  clusterNetwork:
    pods: {cidrBlocks: [192.168.0.0/16]}
    services: {cidrBlocks: [10.96.0.0/12]}
    cniConfig: {kindnetd: {}}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: DockerDatacenterConfig
metadata: {name: dev}
spec: {}
",
        &[],
    );
}

#[test]
fn nutanix_machine_without_ssh_key_is_fine_because_the_cli_generates_one() {
    check(
        "apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata: {name: ntx}
spec:
  kubernetesVersion: '1.31'
  controlPlaneConfiguration:
    count: 1
    endpoint: {host: 10.0.0.10}
    machineGroupRef: {kind: NutanixMachineConfig, name: m}
  workerNodeGroupConfigurations: [{count: 1, machineGroupRef: {kind: NutanixMachineConfig, name: m}}]
  datacenterRef: {kind: NutanixDatacenterConfig, name: dc}
  clusterNetwork:
    pods: {cidrBlocks: [192.168.0.0/16]}
    services: {cidrBlocks: [10.96.0.0/12]}
    cniConfig: {cilium: {}}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: NutanixDatacenterConfig
metadata: {name: dc}
spec: {endpoint: pc.local, port: 9440}
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: NutanixMachineConfig
metadata: {name: m}
spec:
  vcpuSockets: 2
  vcpusPerSocket: 1
  memorySize: 8Gi
  systemDiskSize: 40Gi
  image: {type: name, name: ubuntu-2204}
  cluster: {type: name, name: pe}
  subnet: {type: name, name: vlan0}
",
        &[],
    );
}

#[test]
fn create_and_update_compare_requests() {
    let old = defaulted(VSPHERE);
    assert!(validate::create(&old).is_empty());
    assert!(validate::update(&old, &old).is_empty());
    let new = defaulted(&VSPHERE.replace("kubernetesVersion: 1.30", "kubernetesVersion: 1.32"));
    let got: Vec<String> = validate::update(&old, &new)
        .into_iter()
        .map(|v| v.message)
        .collect();
    assert_eq!(
        got,
        ["only +1 minor version skew is supported, minor version skew detected 2"]
    );
    let new = defaulted(&VSPHERE.replace("repository: fleet", "repository: other"));
    let got: Vec<String> = validate::update(&old, &new)
        .into_iter()
        .map(|v| format!("{}: {}", v.object, v.message))
        .collect();
    assert_eq!(
        got,
        ["FluxConfig/flux: FluxConfig spec.github.repository is immutable"]
    );
}

use super::*;
use crate::validate::test_support::{decode, messages};
use crate::{Reading, parse_config_set};

fn check_dc(spec: &str, expect: &[&str]) {
    let d: TinkerbellDatacenterConfig = decode(&format!("metadata: {{name: dc}}\nspec: {spec}\n"));
    assert_eq!(messages(&tinkerbell_datacenter(&d)), expect, "{spec}");
}

fn check_machine(spec: &str, expect: &[&str]) {
    let m: TinkerbellMachineConfig = decode(&format!("metadata: {{name: m}}\nspec: {spec}\n"));
    assert_eq!(messages(&tinkerbell_machine(&m)), expect, "{spec}");
}

#[test]
fn datacenter_needs_an_ip_and_valid_urls() {
    check_dc("{tinkerbellIP: 10.0.0.5}", &[]);
    check_dc(
        "{}",
        &["TinkerbellDatacenterConfig: missing spec.tinkerbellIP field"],
    );
    check_dc(
        "{tinkerbellIP: tink.local}",
        &["TinkerbellDatacenterConfig: invalid tinkerbell ip: is invalid: tink.local"],
    );
    check_dc(
        "{tinkerbellIP: 10.0.0.5, osImageURL: 'images/ubuntu.gz'}",
        &["parsing osImageOverride: parse \"images/ubuntu.gz\": invalid URI for request"],
    );
    check_dc(
        "{tinkerbellIP: 10.0.0.5, hookIsoURL: 'http://x/hook.iso'}",
        &["isoURL can be set, only when isoBoot is set to true"],
    );
    check_dc(
        "{tinkerbellIP: 10.0.0.5, isoBoot: true, hookIsoURL: 'http://x/hook.iso'}",
        &[],
    );
}

const USERS: &str = "users: [{name: ec2-user, sshAuthorizedKeys: [ssh-ed25519 AAAA]}]";

#[test]
fn machine_needs_exactly_one_hardware_selection() {
    check_machine(
        &format!("{{hardwareSelector: {{type: cp}}, osFamily: ubuntu, {USERS}}}"),
        &[],
    );
    check_machine(
        &format!("{{osFamily: ubuntu, {USERS}}}"),
        &["TinkerbellMachineConfig: either hardwareSelector or hardwareAffinity must be specified: m"],
    );
    check_machine(
        &format!("{{hardwareSelector: {{a: b, c: d}}, osFamily: ubuntu, {USERS}}}"),
        &["TinkerbellMachineConfig: spec.hardwareSelector must contain only 1 key-value pair: m"],
    );
    check_machine(
        &format!(
            "{{hardwareSelector: {{a: b}}, hardwareAffinity: {{required: []}}, osFamily: ubuntu, {USERS}}}"
        ),
        &["TinkerbellMachineConfig: hardwareSelector and hardwareAffinity are mutually exclusive: m"],
    );
}

#[test]
fn machine_hardware_affinity_terms_are_checked() {
    check_machine(
        &format!(
            "{{hardwareAffinity: {{required: [{{labelSelector: {{matchExpressions: [{{key: k, operator: In, values: [a]}}]}}}}]}}, osFamily: ubuntu, {USERS}}}"
        ),
        &[],
    );
    check_machine(
        &format!(
            "{{hardwareAffinity: {{required: [{{labelSelector: {{matchExpressions: [{{key: k, operator: In}}, {{key: k, operator: Near}}]}}}}], preferred: [{{weight: 0}}]}}, osFamily: ubuntu, {USERS}}}"
        ),
        &[
            "TinkerbellMachineConfig: matchExpression with operator In must have non-empty values in required[0].labelSelector.matchExpressions[0]: m",
            "TinkerbellMachineConfig: invalid matchExpression operator 'Near' in required[0].labelSelector.matchExpressions[1], must be one of: In, NotIn, Exists, DoesNotExist: m",
            "TinkerbellMachineConfig: preferred term weight must be in range [1, 100], got 0: m",
        ],
    );
    check_machine(
        &format!("{{hardwareAffinity: {{}}, osFamily: ubuntu, {USERS}}}"),
        &["TinkerbellMachineConfig: hardwareAffinity.required must have at least one term: m"],
    );
}

#[test]
fn machine_needs_os_family_and_users() {
    check_machine(
        "{hardwareSelector: {type: cp}}",
        &[
            "TinkerbellMachineConfig: missing spec.osFamily: m",
            "TinkerbellMachineConfig: missing spec.Users: m",
        ],
    );
    check_machine(
        &format!("{{hardwareSelector: {{type: cp}}, osFamily: windows, {USERS}}}"),
        &[
            "TinkerbellMachineConfig: unsupported spec.osFamily (windows); Please use one of the following: ubuntu, redhat, bottlerocket",
        ],
    );
}

fn set_of(cluster_spec: &str, dc_spec: &str, machines: &[(&str, &str)]) -> ConfigSet {
    let head = "apiVersion: anywhere.eks.amazonaws.com/v1alpha1\n";
    let mut docs = vec![
        format!(
            "{head}kind: Cluster\nmetadata: {{name: c}}\nspec:\n  datacenterRef: {{kind: TinkerbellDatacenterConfig, name: dc}}\n{cluster_spec}"
        ),
        format!("{head}kind: TinkerbellDatacenterConfig\nmetadata: {{name: dc}}\nspec: {dc_spec}\n"),
    ];
    for (name, spec) in machines {
        docs.push(format!(
            "{head}kind: TinkerbellMachineConfig\nmetadata: {{name: {name}}}\nspec: {spec}\n"
        ));
    }
    parse_config_set(&docs.join("---\n"), Reading::Strict).expect("parse")
}

const CLUSTER: &str = "  kubernetesVersion: '1.30'
  controlPlaneConfiguration:
    count: 1
    endpoint: {host: 10.0.0.10}
    machineGroupRef: {kind: TinkerbellMachineConfig, name: cp}
  workerNodeGroupConfigurations:
  - {name: md-0, count: 1, machineGroupRef: {kind: TinkerbellMachineConfig, name: md}}
";

#[test]
fn cluster_with_matching_images_passes() {
    let set = set_of(
        CLUSTER,
        "{tinkerbellIP: 10.0.0.5, osImageURL: 'http://x/ubuntu-1-30.gz'}",
        &[("cp", "{osFamily: ubuntu}"), ("md", "{osFamily: ubuntu}")],
    );
    assert!(
        tinkerbell_cluster(&set).is_empty(),
        "{:#?}",
        tinkerbell_cluster(&set)
    );
}

#[test]
fn cluster_os_families_and_images_must_agree() {
    let set = set_of(
        CLUSTER,
        "{tinkerbellIP: 10.0.0.10, osImageURL: 'http://x/ubuntu-1-29.gz'}",
        &[
            ("cp", "{osFamily: ubuntu}"),
            ("md", "{osFamily: redhat, osImageURL: 'http://x/rhel-1-30.gz'}"),
        ],
    );
    assert_eq!(
        messages(&tinkerbell_cluster(&set)),
        [
            "worker node group osFamily cannot be different from control plane osFamily",
            "cannot specify OSImageURL on both TinkerbellMachineConfig's and TinkerbellDatacenterConfig",
            "missing kube version from OSImageURL: url=http://x/ubuntu-1-29.gz, version=1.30",
            "controlPlaneConfiguration.endpoint.host and tinkerbellIP are the same (10.0.0.10), please provide two unique IPs",
        ]
    );
}

#[test]
fn cluster_bottlerocket_stops_at_1_28_and_needs_no_image() {
    let set = set_of(
        CLUSTER,
        "{tinkerbellIP: 10.0.0.5}",
        &[
            ("cp", "{osFamily: bottlerocket}"),
            ("md", "{osFamily: bottlerocket}"),
        ],
    );
    assert_eq!(
        messages(&tinkerbell_cluster(&set)),
        ["machineGroupRef cp: tinkerbell provider does not support K8s version 1.29+ for BottleRocket OS"]
    );
    let set = set_of(
        &CLUSTER.replace("'1.30'", "'1.28'"),
        "{tinkerbellIP: 10.0.0.5}",
        &[
            ("cp", "{osFamily: bottlerocket}"),
            ("md", "{osFamily: bottlerocket}"),
        ],
    );
    assert!(tinkerbell_cluster(&set).is_empty());
}

#[test]
fn cluster_rollout_strategies_match_and_exclude_autoscaling_in_place() {
    let cluster = CLUSTER
        .replace(
            "    count: 1\n",
            "    count: 1\n    upgradeRolloutStrategy: {type: InPlace}\n",
        )
        .replace(
            "count: 1, machineGroupRef",
            "count: 1, autoscalingConfiguration: {minCount: 1, maxCount: 2}, machineGroupRef",
        );
    let set = set_of(
        &cluster,
        "{tinkerbellIP: 10.0.0.5, osImageURL: 'http://x/u-1.30.gz'}",
        &[("cp", "{osFamily: ubuntu}"), ("md", "{osFamily: ubuntu}")],
    );
    assert_eq!(
        messages(&tinkerbell_cluster(&set)),
        [
            "cannot specify different upgrade rollout strategy types for control plane and worker node group configurations",
            "austoscaler configuration not supported with InPlace upgrades",
        ]
    );
}

use std::cell::RefCell;

use serde_json::{Value, json};

use super::*;
use crate::defaults::{self, DefaultsOptions};

/// A valid vSphere cluster, as written by a user (defaults not yet applied).
fn base() -> Value {
    json!({
        "apiVersion": "anywhere.eks.amazonaws.com/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "eksa-unit-test"},
        "spec": {
            "kubernetesVersion": "1.30",
            "controlPlaneConfiguration": {
                "count": 3,
                "endpoint": {"host": "10.0.0.10"},
                "machineGroupRef": {"kind": "VSphereMachineConfig", "name": "cp"}
            },
            "workerNodeGroupConfigurations": [
                {"count": 3, "machineGroupRef": {"kind": "VSphereMachineConfig", "name": "md"}}
            ],
            "datacenterRef": {"kind": "VSphereDatacenterConfig", "name": "dc"},
            "clusterNetwork": {
                "pods": {"cidrBlocks": ["192.168.0.0/16"]},
                "services": {"cidrBlocks": ["10.96.0.0/12"]},
                "cni": "cilium"
            }
        }
    })
}

/// Sets (or with `null`, removes) the value at a `/`-separated path, creating objects on the way.
fn set(v: &mut Value, path: &str, new: Value) {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let Some((last, parents)) = parts.split_last() else {
        return;
    };
    let mut cur = v;
    for p in parents {
        cur = match p.parse::<usize>() {
            Ok(i) => &mut cur[i],
            Err(_) => {
                if cur.get(*p).is_none() {
                    cur[*p] = json!({});
                }
                &mut cur[*p]
            }
        };
    }
    match (last.parse::<usize>(), new.is_null()) {
        (Ok(i), _) => match cur.as_array_mut() {
            Some(a) if a.len() == i => a.push(new),
            _ => cur[i] = new,
        },
        (Err(_), true) => {
            cur.as_object_mut().map(|m| m.remove(*last));
        }
        (Err(_), false) => cur[*last] = new,
    }
}

fn cluster_from(patches: &[(&str, Value)]) -> Cluster {
    let mut v = base();
    for (path, value) in patches {
        set(&mut v, path, value.clone());
    }
    let mut c: Cluster = crate::document::decode(&v, crate::document::Fields::Strict).expect("decode");
    defaults::cluster(&mut c, &DefaultsOptions::default());
    c
}

fn resolves(host: &str) -> bool {
    matches!(host, "proxy.example.com" | "google.com")
}

fn run(patches: &[(&str, Value)], features: FeatureFlags) -> Vec<Violation> {
    let c = cluster_from(patches);
    let resolver = resolves;
    cluster(&c, &ClusterContext::new(&resolver).with_features(features))
}

/// The messages of every violation, in order.
fn check(patches: &[(&str, Value)], expect: &[&str]) {
    let got = run(patches, FeatureFlags::default());
    let got: Vec<&str> = got.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(got, expect, "{patches:?}");
}

/// Only the first violation (what the reference would have returned).
fn check_first(patches: &[(&str, Value)], expect: &str) {
    let got = run(patches, FeatureFlags::default());
    let first = got.first().map(|v| v.message.as_str()).unwrap_or("");
    assert!(
        first.contains(expect),
        "{patches:?}: first is {first:?}, all: {got:#?}"
    );
}

#[test]
fn valid_cluster_has_no_violations() {
    check(&[], &[]);
}

#[test]
fn name_must_start_with_a_letter_and_use_only_letters_digits_dashes() {
    check_first(
        &[("metadata/name", json!("eksa-unit-test1.20"))],
        "failed to validate cluster config name: eksa-unit-test1.20 is not a valid cluster name",
    );
    check_first(&[("metadata/name", json!("1abc"))], "is not a valid cluster name");
    check_first(&[("metadata/name", json!("a"))], "is not a valid cluster name");
    check_first(
        &[("metadata/name", json!("a".repeat(36)))],
        "should be less than 36",
    );
    check(&[("metadata/name", json!("a".repeat(35)))], &[]);
}

#[test]
fn endpoint_is_required_except_on_docker() {
    check(
        &[("spec/controlPlaneConfiguration/endpoint", Value::Null)],
        &["cluster controlPlaneConfiguration.Endpoint.Host is not set or is empty"],
    );
    check(
        &[
            ("spec/controlPlaneConfiguration/endpoint", Value::Null),
            ("spec/datacenterRef/kind", json!("DockerDatacenterConfig")),
        ],
        &[],
    );
}

#[test]
fn external_etcd_is_refused_on_tinkerbell() {
    check_first(
        &[
            ("spec/datacenterRef/kind", json!("TinkerbellDatacenterConfig")),
            (
                "spec/externalEtcdConfiguration",
                json!({"count": 3, "machineGroupRef": {"kind": "K", "name": "e"}}),
            ),
        ],
        "tinkerbell external etcd configuration is unsupported",
    );
}

#[test]
fn machine_group_refs_are_required_except_on_docker() {
    check(
        &[
            ("spec/controlPlaneConfiguration/machineGroupRef", Value::Null),
            (
                "spec/workerNodeGroupConfigurations/0/machineGroupRef",
                Value::Null,
            ),
            ("spec/externalEtcdConfiguration", json!({"count": 3})),
        ],
        &[
            "must specify machineGroupRef control plane machines",
            "must specify machineGroupRef for worker nodes",
            "must specify machineGroupRef for etcd machines",
        ],
    );
    check(
        &[
            ("spec/datacenterRef/kind", json!("DockerDatacenterConfig")),
            ("spec/controlPlaneConfiguration/machineGroupRef", Value::Null),
        ],
        &[],
    );
}

#[test]
fn control_plane_count_is_positive_and_odd_with_stacked_etcd() {
    check(
        &[("spec/controlPlaneConfiguration/count", json!(0))],
        &["control plane node count must be positive"],
    );
    check(
        &[("spec/controlPlaneConfiguration/count", json!(4))],
        &["control plane node count cannot be an even number when using stacked etcd topology"],
    );
    check(&[("spec/controlPlaneConfiguration/count", json!(1))], &[]);
    check(
        &[
            ("spec/controlPlaneConfiguration/count", json!(2)),
            (
                "spec/externalEtcdConfiguration",
                json!({"count": 3, "machineGroupRef": {"kind": "K", "name": "e"}}),
            ),
        ],
        &[],
    );
}

#[test]
fn worker_groups_are_required_except_on_tinkerbell() {
    check(
        &[("spec/workerNodeGroupConfigurations", Value::Null)],
        &["WorkerNodeGroupConfigs cannot be empty for VSphereDatacenterConfig"],
    );
    check(
        &[("spec/workerNodeGroupConfigurations", json!([]))],
        &["WorkerNodeGroupConfigs cannot be empty for VSphereDatacenterConfig"],
    );
    let tinkerbell = ("spec/datacenterRef/kind", json!("TinkerbellDatacenterConfig"));
    check(
        &[
            tinkerbell.clone(),
            ("spec/workerNodeGroupConfigurations", Value::Null),
        ],
        &[],
    );
    check(
        &[
            tinkerbell.clone(),
            ("spec/workerNodeGroupConfigurations", Value::Null),
            ("spec/kubernetesVersion", json!("1.21")),
        ],
        &["Empty workerNodeGroupConfigs is not supported for kube version <= 1.21"],
    );
    check(
        &[
            tinkerbell,
            ("spec/workerNodeGroupConfigurations", Value::Null),
            (
                "spec/controlPlaneConfiguration/taints",
                json!([{"key": "k", "effect": "NoSchedule"}]),
            ),
        ],
        &["cannot taint control plane when there is no worker node"],
    );
}

#[test]
fn only_the_first_worker_group_defaults_its_name() {
    check(
        &[(
            "spec/workerNodeGroupConfigurations/1",
            json!({"count": 1, "machineGroupRef": {"kind": "K", "name": "m"}}),
        )],
        &["must specify name for worker nodes"],
    );
}

#[test]
fn worker_group_names_are_unique() {
    check(
        &[
            ("spec/workerNodeGroupConfigurations/0/name", json!("a")),
            (
                "spec/workerNodeGroupConfigurations/1",
                json!({"name": "a", "machineGroupRef": {"kind": "K", "name": "m"}}),
            ),
        ],
        &["worker node group names must be unique"],
    );
}

#[test]
fn worker_autoscaling_keeps_min_count_max_in_order() {
    let w = "spec/workerNodeGroupConfigurations/0";
    check(
        &[(
            &format!("{w}/autoscalingConfiguration"),
            json!({"minCount": 5, "maxCount": 3}),
        )],
        &["validating autoscaling configuration: min count must be no greater than max count"],
    );
    check(
        &[(
            &format!("{w}/autoscalingConfiguration"),
            json!({"minCount": 1, "maxCount": 2}),
        )],
        &["validating autoscaling configuration: max count must be greater than or equal to count"],
    );
    check(
        &[(&format!("{w}/count"), json!(-1))],
        &[
            "validating autoscaling configuration: worker node count must be zero or greater if autoscaling is not enabled",
        ],
    );
    // A missing count takes minCount.
    check(
        &[
            (&format!("{w}/count"), Value::Null),
            (
                &format!("{w}/autoscalingConfiguration"),
                json!({"minCount": 1, "maxCount": 2}),
            ),
        ],
        &[],
    );
}

#[test]
fn worker_rollout_strategy_rules() {
    let r = "spec/workerNodeGroupConfigurations/0/upgradeRolloutStrategy";
    check_first(
        &[(r, json!({"type": "RollingUpdate"}))],
        "rollingUpdate field is required",
    );
    check_first(
        &[(
            r,
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
        )],
        "maxSurge and maxUnavailable cannot both be 0",
    );
    check(
        &[(
            r,
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}),
        )],
        &[],
    );
    check_first(
        &[(r, json!({"type": "InPlace"}))],
        "in place upgrades are not supported on vSphere",
    );
    check_first(
        &[(r, json!({"type": "Blue"}))],
        "only 'RollingUpdate' and 'InPlace' are supported",
    );
    let flags = FeatureFlags {
        vsphere_in_place_upgrade: true,
        ..FeatureFlags::default()
    };
    assert!(run(&[(r, json!({"type": "InPlace"}))], flags).is_empty());
}

#[test]
fn self_managed_cluster_needs_an_untainted_worker_group() {
    let taint = (
        "spec/workerNodeGroupConfigurations/0/taints",
        json!([{"key": "k", "effect": "NoSchedule"}]),
    );
    check(
        std::slice::from_ref(&taint),
        &["at least one WorkerNodeGroupConfiguration must not have NoExecute and/or NoSchedule taints"],
    );
    check(
        &[(
            "spec/workerNodeGroupConfigurations/0/taints",
            json!([{"key": "k", "effect": "PreferNoSchedule"}]),
        )],
        &[],
    );
    check(&[taint, ("spec/managementCluster/name", json!("mgmt"))], &[]);
}

#[test]
fn worker_and_control_plane_labels_must_be_valid() {
    check_first(
        &[(
            "spec/workerNodeGroupConfigurations/0/labels",
            json!({"bad key": "v"}),
        )],
        "labels for worker node group md-0 not valid",
    );
    check_first(
        &[("spec/controlPlaneConfiguration/labels", json!({"k": "bad value"}))],
        "labels for control plane not valid",
    );
    check(
        &[(
            "spec/controlPlaneConfiguration/labels",
            json!({"example.com/role": "cp"}),
        )],
        &[],
    );
}

#[test]
fn networking_needs_one_valid_pod_and_service_cidr() {
    check(
        &[("spec/clusterNetwork/pods/cidrBlocks", json!([]))],
        &["pods CIDR block not specified or empty"],
    );
    check(
        &[(
            "spec/clusterNetwork/services/cidrBlocks",
            json!(["10.96.0.0/12", "10.100.0.0/16"]),
        )],
        &["multiple CIDR blocks for Services are not yet supported"],
    );
    check_first(
        &[("spec/clusterNetwork/pods/cidrBlocks", json!(["192.168.0.0"]))],
        "invalid CIDR block format for Pods",
    );
    check(
        &[("spec/clusterNetwork/pods/cidrBlocks", json!(["10.96.0.0/16"]))],
        &["services CIDR block 10.96.0.0/12 overlaps pods CIDR block 10.96.0.0/16"],
    );
}

#[test]
fn node_mask_must_fit_the_pod_cidr() {
    check(
        &[("spec/clusterNetwork/pods/cidrBlocks", json!(["192.168.0.0/24"]))],
        &[
            "the size of pod subnet with mask 24 is smaller than or equal to the size of node subnet with mask 24",
        ],
    );
    check(
        &[
            ("spec/clusterNetwork/nodes/cidrMaskSize", json!(30)),
            ("spec/clusterNetwork/pods/cidrBlocks", json!(["11.0.0.0/8"])),
        ],
        &["pod subnet mask (8) and node-mask (30) difference is greater than 16"],
    );
}

#[test]
fn exactly_one_cni_and_kindnetd_only_on_docker() {
    check(
        &[("spec/clusterNetwork/cni", Value::Null)],
        &["validating cniConfig: no cni plugin specified"],
    );
    check(
        &[("spec/clusterNetwork/cni", json!("calico"))],
        &["validating cniConfig: no cni plugin specified"],
    );
    check(
        &[("spec/clusterNetwork/cni", json!("kindnetd"))],
        &[
            "kindnetd is only supported on Docker provider for development and testing. For all other providers please use Cilium CNI",
        ],
    );
    check(
        &[
            ("spec/clusterNetwork/cni", Value::Null),
            (
                "spec/clusterNetwork/cniConfig",
                json!({"cilium": {}, "kindnetd": {}}),
            ),
        ],
        &[
            "kindnetd is only supported on Docker provider for development and testing. For all other providers please use Cilium CNI",
            "validating cniConfig: cannot specify more than one cni plugins",
        ],
    );
    check(
        &[("spec/clusterNetwork/cniConfig", json!({"cilium": {}}))],
        &["invalid format for cni plugin: both old and new formats used, use only the CNIConfig field"],
    );
}

#[test]
fn cilium_policy_and_routing_modes() {
    let cilium = |v: Value| {
        vec![
            ("spec/clusterNetwork/cni", Value::Null),
            ("spec/clusterNetwork/cniConfig/cilium", v),
        ]
    };
    check(
        &cilium(json!({"policyEnforcementMode": "always", "routingMode": "overlay"})),
        &[],
    );
    check(
        &cilium(json!({"policyEnforcementMode": "sometimes"})),
        &["validating cniConfig: cilium policyEnforcementMode \"sometimes\" not supported"],
    );
    check(
        &cilium(json!({"routingMode": "direct"})),
        &["validating cniConfig: direct routing mode requires IPv4NativeRoutingCIDR to be set"],
    );
    check(
        &cilium(json!({"skipUpgrade": true, "policyEnforcementMode": "always"})),
        &["validating cniConfig: when using skipUpgrades for cilium all other fields must be empty"],
    );
}

#[test]
fn snow_endpoint_is_an_ip_outside_the_cidrs() {
    let snow = ("spec/datacenterRef/kind", json!("SnowDatacenterConfig"));
    check(
        &[
            snow.clone(),
            (
                "spec/controlPlaneConfiguration/endpoint/host",
                json!("192.168.1.1"),
            ),
        ],
        &["control plane endpoint 192.168.1.1 conflicts with pods CIDR block 192.168.0.0/16"],
    );
    check(
        &[
            snow,
            ("spec/controlPlaneConfiguration/endpoint/host", json!("cp.local")),
        ],
        &["control plane endpoint cp.local is invalid"],
    );
}

#[test]
fn gitops_ref_names_a_flux_or_gitops_config() {
    check(
        &[("spec/gitOpsRef", json!({"kind": "FluxConfig", "name": "f"}))],
        &[],
    );
    check(
        &[("spec/gitOpsRef", json!({"kind": "Argo", "name": "f"}))],
        &["only GitOpsConfig or FluxConfig Kind are supported at this time"],
    );
    check(
        &[("spec/gitOpsRef", json!({"kind": "GitOpsConfig"}))],
        &["GitOpsRef name can't be empty; specify a valid GitOpsConfig name"],
    );
}

#[test]
fn external_etcd_count_is_positive_and_odd() {
    let etcd = |count: Value| {
        (
            "spec/externalEtcdConfiguration",
            json!({"count": count, "machineGroupRef": {"kind": "K", "name": "e"}}),
        )
    };
    check(&[etcd(json!(0))], &["no value set for etcd replicas"]);
    check(&[etcd(json!(-1))], &["etcd replicas cannot be a negative number"]);
    check(
        &[etcd(json!(2))],
        &["external etcd count cannot be an even number"],
    );
    check(&[etcd(json!(5))], &[]);
}

#[test]
fn identity_provider_refs_are_oidc_or_aws_iam_with_names() {
    check(
        &[("spec/identityProviderRefs", json!([null]))],
        &["kind:  for identityProviderRef is not supported"],
    );
    check(
        &[(
            "spec/identityProviderRefs",
            json!([{"kind": "OIDCConfig", "name": "o"}, {"kind": "AnotherOne", "name": "x"}]),
        )],
        &["kind: AnotherOne for identityProviderRef is not supported"],
    );
    check(
        &[("spec/identityProviderRefs", json!([{"kind": "AWSIamConfig"}]))],
        &["specify a valid name for identityProviderRef"],
    );
}

#[test]
fn proxy_needs_both_values_then_resolvable_hosts_and_ports() {
    let proxy = |http: Value, https: Value| {
        (
            "spec/proxyConfiguration",
            json!({"httpProxy": http, "httpsProxy": https}),
        )
    };
    check(
        &[proxy(Value::Null, json!("1.2.3.4:3128"))],
        &["no value set for httpProxy"],
    );
    check(
        &[proxy(json!("1.2.3.4:3128"), Value::Null)],
        &["no value set for httpsProxy"],
    );
    check(&[proxy(json!("http://google.com:1"), json!("google.com:1"))], &[]);
    check(&[proxy(json!("[::1]:3128"), json!("https://1.2.3.4:443"))], &[]);
    check(
        &[proxy(json!("0.0.0.1234:3128"), json!("1.2.3.4:3128"))],
        &[
            "proxy endpoint 0.0.0.1234 is invalid, please provide a valid proxy domain name or ip: lookup 0.0.0.1234: no such host",
        ],
    );
    check(
        &[proxy(json!("proxy.example.com"), json!("1.2.3.4:70000"))],
        &[
            "proxy endpoint proxy.example.com is invalid (missing port in address), please provide a valid proxy address",
            "proxy port 70000 is invalid, please provide a valid proxy port",
        ],
    );
}

#[test]
fn proxy_hosts_that_are_not_ip_literals_go_to_the_resolver() {
    let asked = RefCell::new(Vec::new());
    let resolver = |h: &str| {
        asked.borrow_mut().push(h.to_string());
        true
    };
    let c = cluster_from(&[(
        "spec/proxyConfiguration",
        json!({"httpProxy": "0.0.0.1234:3128", "httpsProxy": "10.0.0.1:3128"}),
    )]);
    assert!(cluster(&c, &ClusterContext::new(&resolver)).is_empty());
    assert_eq!(*asked.borrow(), ["0.0.0.1234"]);
}

#[test]
fn registry_mirror_rules() {
    let mirror = |v: Value| ("spec/registryMirrorConfiguration", v);
    check(&[mirror(json!({"endpoint": "harbor.local"}))], &[]);
    check(
        &[mirror(json!({"port": "0"}))],
        &[
            "no value set for RegistryMirrorConfiguration.Endpoint",
            "registry mirror port 0 is invalid, please provide a valid port",
        ],
    );
    check(
        &[mirror(
            json!({"endpoint": "h", "ociNamespaces": [{"registry": "", "namespace": "x"}]}),
        )],
        &["registry can't be set to empty in OCINamespaces"],
    );
    check(
        &[mirror(json!({"endpoint": "h", "ociNamespaces": [
            {"registry": "783794618700.dkr.ecr.us-west-2.amazonaws.com", "namespace": "a"},
            {"registry": "783794618700.dkr.ecr.us-east-1.amazonaws.com", "namespace": "b"}
        ]}))],
        &["only one registry mirror for curated packages is suppported"],
    );
}

#[test]
fn pod_iam_config_needs_an_issuer() {
    check(
        &[("spec/podIamConfig", json!({}))],
        &["ServiceAccount Issuer can't be empty while configuring IAM roles for pods"],
    );
}

#[test]
fn control_plane_rollout_strategy_rules() {
    let r = "spec/controlPlaneConfiguration/upgradeRolloutStrategy";
    check(
        &[(
            r,
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2}}),
        )],
        &["ControlPlaneConfiguration: maxSurge for control plane must be 0 or 1"],
    );
    check(
        &[(r, json!({"type": "InPlace"}))],
        &["in place upgrades are not supported on vSphere"],
    );
    check(
        &[
            ("spec/datacenterRef/kind", json!("CloudStackDatacenterConfig")),
            (r, json!({"type": "InPlace"})),
        ],
        &[
            "ControlPlaneConfiguration: 'InPlace' upgrade rollout strategy type is only supported on Bare Metal",
        ],
    );
    check(
        &[
            ("spec/datacenterRef/kind", json!("TinkerbellDatacenterConfig")),
            (r, json!({"type": "InPlace", "rollingUpdate": {}})),
        ],
        &[
            "ControlPlaneConfiguration: RollingUpdate field must be empty for 'InPlace' upgrade rollout strategy type",
        ],
    );
    let flags = FeatureFlags {
        vsphere_in_place_upgrade: true,
        ..FeatureFlags::default()
    };
    let got = run(
        &[
            (r, json!({"type": "InPlace"})),
            (
                "spec/externalEtcdConfiguration",
                json!({"count": 3, "machineGroupRef": {"kind": "K", "name": "e"}}),
            ),
        ],
        flags,
    );
    assert_eq!(
        got.iter().map(|v| v.message.as_str()).collect::<Vec<_>>(),
        ["stacked etcd must be configured when performing in place upgrades"]
    );
}

#[test]
fn workload_cluster_cannot_configure_the_package_controller() {
    let workload = ("spec/managementCluster/name", json!("billy"));
    check(
        &[
            workload.clone(),
            ("spec/packages", json!({"controller": {"tag": "v1"}})),
        ],
        &["packages: controller should not be specified for a workload cluster"],
    );
    check(
        &[workload, ("spec/packages", json!({"cronjob": {"disable": true}}))],
        &["packages: cronjob should not be specified for a workload cluster"],
    );
    check(
        &[(
            "spec/packages",
            json!({"controller": {"tag": "v1"}, "cronjob": {}}),
        )],
        &[],
    );
}

#[test]
fn eksa_version_is_semver_and_exclusive_with_bundles_ref() {
    check(&[("spec/eksaVersion", json!("v0.22.0"))], &[]);
    check(
        &[("spec/eksaVersion", json!("latest"))],
        &["eksaVersion is not a valid semver"],
    );
    check(
        &[
            ("spec/eksaVersion", json!("v0.22.0")),
            ("spec/bundlesRef", json!({"name": "b"})),
        ],
        &[
            "cannot pass both bundlesRef and eksaVersion. New clusters should use eksaVersion instead of bundlesRef",
        ],
    );
}

#[test]
fn cert_sans_are_ips_or_domain_names() {
    check(
        &[(
            "spec/controlPlaneConfiguration/certSans",
            json!(["api.example.com", "10.0.0.1", "::1"]),
        )],
        &[],
    );
    check(
        &[(
            "spec/controlPlaneConfiguration/certSans",
            json!(["localhost", "ok.example.com", "bad_name"]),
        )],
        &[
            "invalid ControlPlaneConfiguration.CertSANs; must be an IP or domain name: [localhost]",
            "invalid ControlPlaneConfiguration.CertSANs; must be an IP or domain name: [bad_name]",
        ],
    );
}

#[test]
fn api_server_extra_args_need_the_feature_flag_and_no_oidc_flags_with_oidc() {
    let args = (
        "spec/controlPlaneConfiguration/apiServerExtraArgs",
        json!({"oidc-client-id": "x"}),
    );
    check(
        std::slice::from_ref(&args),
        &[
            "configuring APIServerExtraArgs is not supported. Set env var API_SERVER_EXTRA_ARGS_ENABLED to enable",
        ],
    );
    let flags = FeatureFlags {
        api_server_extra_args: true,
        ..FeatureFlags::default()
    };
    assert!(run(std::slice::from_ref(&args), flags).is_empty());
    let got = run(
        &[
            args,
            (
                "spec/identityProviderRefs",
                json!([{"kind": "OIDCConfig", "name": "o"}]),
            ),
        ],
        flags,
    );
    assert_eq!(got.len(), 1);
    assert!(
        got[0]
            .message
            .starts_with("the following flags cannot be configured if OIDCConfig is configured")
    );
}

#[test]
fn kubelet_configuration_is_strict_and_keeps_provider_id() {
    check(
        &[(
            "spec/controlPlaneConfiguration/kubeletConfiguration",
            json!({"maxPods": 50, "kind": "KubeletConfiguration"}),
        )],
        &[],
    );
    check(
        &[(
            "spec/workerNodeGroupConfigurations/0/kubeletConfiguration",
            json!({"maxPod": 50}),
        )],
        &["unmarshaling KubeletConfiguration: unknown field \"maxPod\""],
    );
    check(
        &[(
            "spec/controlPlaneConfiguration/kubeletConfiguration",
            json!({"providerID": "x"}),
        )],
        &["can not override providerID or cloudProvider (set by EKS Anywhere)"],
    );
}

#[test]
fn audit_policy_content_must_be_yaml() {
    check(
        &[(
            "spec/controlPlaneConfiguration/auditPolicyContent",
            json!("apiVersion: audit.k8s.io/v1\nkind: Policy\n"),
        )],
        &[],
    );
    check_first(
        &[(
            "spec/controlPlaneConfiguration/auditPolicyContent",
            json!("a: [b"),
        )],
        "invalid YAML in auditPolicyContent",
    );
}

#[test]
fn violations_follow_the_reference_rule_order() {
    let got = run(
        &[
            ("metadata/name", json!("bad.name")),
            ("spec/controlPlaneConfiguration/count", json!(2)),
            ("spec/proxyConfiguration", json!({})),
        ],
        FeatureFlags::default(),
    );
    let paths: Vec<&str> = got.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "metadata.name",
            "spec.controlPlaneConfiguration.count",
            "spec.proxyConfiguration.httpProxy",
            "spec.proxyConfiguration.httpsProxy"
        ]
    );
    assert!(got.iter().all(|v| v.object == "Cluster/bad.name"));
}

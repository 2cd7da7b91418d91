//! The single-Cluster rules (EKS Anywhere `clusterConfigValidations`), in the reference's order.

use std::sync::LazyLock;

use regex::Regex;

use super::network::{validate_networking, validate_proxy, validate_registry_mirror};
use super::syntax::{Semver, is_ip, label_errors};
use super::*;

const CP: &str = "spec.controlPlaneConfiguration";

fn worker_path(i: usize) -> String {
    format!("spec.workerNodeGroupConfigurations[{i}]")
}

/// Every single-Cluster rule, in the order EKS Anywhere runs them, so the first violation is the
/// error the reference would have returned: name, control-plane endpoint, external etcd support,
/// machineGroupRefs, control-plane count, worker groups, networking and CNI, gitOpsRef, external
/// etcd count, identityProviderRefs, proxy, registry mirror, podIamConfig, control-plane rollout
/// strategy, control-plane labels, packages, eksaVersion, certSANs, apiServerExtraArgs, OIDC
/// flags, kubelet configurations, auditPolicyContent.
///
/// Assumes the Cluster defaults have run (`defaults::cluster`): worker names and counts, the
/// CNI configuration and the registry-mirror port. References are not resolved here.
pub fn cluster(c: &Cluster, ctx: &ClusterContext<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    out.extend(validate_name(c));
    out.extend(validate_control_plane_endpoint(c));
    out.extend(validate_external_etcd_support(c));
    out.extend(validate_machine_group_refs(c));
    out.extend(validate_control_plane_count(c));
    out.extend(validate_worker_node_groups(c, ctx.features));
    out.extend(validate_networking(c));
    out.extend(validate_gitops_ref(c));
    out.extend(validate_external_etcd_count(c));
    out.extend(validate_identity_provider_refs(c));
    out.extend(validate_proxy(c, ctx.resolver));
    out.extend(validate_registry_mirror(c));
    out.extend(validate_pod_iam_config(c));
    out.extend(validate_control_plane_rollout_strategy(c, ctx.features));
    out.extend(validate_control_plane_labels(c));
    out.extend(validate_packages(c));
    out.extend(validate_eksa_version(c));
    out.extend(validate_cert_sans(c));
    out.extend(validate_api_server_extra_args(c, ctx.features));
    out.extend(validate_oidc_extra_args(c));
    out.extend(validate_kubelet_configurations(c));
    out.extend(validate_audit_policy_content(c));
    out
}

/// `metadata.name` matches `^[a-zA-Z][a-zA-Z0-9-]+$` and has at most 35 characters (kind appends
/// `-eks-a-cluster-control-plane` to it for a 64-character host name).
pub fn validate_name(c: &Cluster) -> Vec<Violation> {
    let name = c.name();
    let valid_start = name.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic());
    let valid_rest = name
        .chars()
        .skip(1)
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
    if !(valid_start && valid_rest && name.chars().count() >= 2) {
        return vec![
            Violation::new(
                object_id(c),
                "metadata.name",
                format!(
                    "failed to validate cluster config name: {name} is not a valid cluster name, cluster names \
                     must start with lowercase/uppercase letters and can include numbers and dashes. For instance \
                     'testCluster-123' is a valid name but '123testCluster' is not."
                ),
            )
            .with_hint("use letters, digits and dashes only, starting with a letter (no dots or underscores)"),
        ];
    }
    if name.len() > 35 {
        return vec![
            Violation::new(
                object_id(c),
                "metadata.name",
                format!("failed to validate cluster config name: number of characters in {name} should be less than 36"),
            )
            .with_hint("shorten the name to 35 characters or fewer"),
        ];
    }
    Vec::new()
}

/// `controlPlaneConfiguration.endpoint.host` is set, except on Docker.
pub fn validate_control_plane_endpoint(c: &Cluster) -> Vec<Violation> {
    let host = control_plane(c)
        .and_then(|cp| cp.endpoint.as_ref())
        .map(|e| s(&e.host))
        .unwrap_or("");
    if host.is_empty() && datacenter_kind(c) != "DockerDatacenterConfig" {
        return vec![
            Violation::new(
                object_id(c),
                format!("{CP}.endpoint.host"),
                "cluster controlPlaneConfiguration.Endpoint.Host is not set or is empty",
            )
            .with_hint("set the IP address the control plane will be reachable at"),
        ];
    }
    Vec::new()
}

/// No `externalEtcdConfiguration` on Tinkerbell.
pub fn validate_external_etcd_support(c: &Cluster) -> Vec<Violation> {
    let has_external = spec(c).is_some_and(|s| s.external_etcd_configuration.is_some());
    if has_external && datacenter_kind(c) == "TinkerbellDatacenterConfig" {
        return vec![
            Violation::new(
                object_id(c),
                "spec.externalEtcdConfiguration",
                "tinkerbell external etcd configuration is unsupported",
            )
            .with_hint("remove externalEtcdConfiguration; bare-metal clusters run etcd on the control plane"),
        ];
    }
    Vec::new()
}

/// The control plane, every worker group and external etcd name a machine config, except on
/// Docker.
pub fn validate_machine_group_refs(c: &Cluster) -> Vec<Violation> {
    let mut out = Vec::new();
    if datacenter_kind(c) == "DockerDatacenterConfig" {
        return out;
    }
    let hint = "add machineGroupRef {kind, name} naming the machine config these machines use";
    if control_plane(c)
        .and_then(|cp| cp.machine_group_ref.as_ref())
        .is_none()
    {
        out.push(
            Violation::new(
                object_id(c),
                format!("{CP}.machineGroupRef"),
                "must specify machineGroupRef control plane machines",
            )
            .with_hint(hint),
        );
    }
    for (i, w) in workers(c).iter().enumerate() {
        if w.machine_group_ref.is_none() {
            out.push(
                Violation::new(
                    object_id(c),
                    format!("{}.machineGroupRef", worker_path(i)),
                    "must specify machineGroupRef for worker nodes",
                )
                .with_hint(hint),
            );
        }
    }
    if let Some(etcd) = spec(c).and_then(|s| s.external_etcd_configuration.as_ref())
        && etcd.machine_group_ref.is_none()
    {
        out.push(
            Violation::new(
                object_id(c),
                "spec.externalEtcdConfiguration.machineGroupRef",
                "must specify machineGroupRef for etcd machines",
            )
            .with_hint(hint),
        );
    }
    out
}

/// The control-plane count is positive, and odd with stacked etcd (3 or 5 recommended).
pub fn validate_control_plane_count(c: &Cluster) -> Vec<Violation> {
    let count = control_plane(c).and_then(|cp| cp.count).unwrap_or(0);
    let path = format!("{CP}.count");
    if count <= 0 {
        return vec![
            Violation::new(object_id(c), path, "control plane node count must be positive")
                .with_hint("use 1 for a test cluster, 3 or 5 for production"),
        ];
    }
    let stacked = spec(c).is_none_or(|s| s.external_etcd_configuration.is_none());
    if stacked && count % 2 == 0 {
        return vec![
            Violation::new(
                object_id(c),
                path,
                "control plane node count cannot be an even number when using stacked etcd topology",
            )
            .with_hint("use an odd count (3 or 5), or configure externalEtcdConfiguration"),
        ];
    }
    Vec::new()
}

/// The worker node groups, in the reference's order: at least one (except on Tinkerbell), then
/// per group its name, count and autoscaling, rollout strategy, unique name and labels; then a
/// self-managed cluster needs an untainted group, and a workerless cluster may not taint its
/// control plane nor run Kubernetes 1.21 or older.
pub fn validate_worker_node_groups(c: &Cluster, features: FeatureFlags) -> Vec<Violation> {
    let mut out = Vec::new();
    let id = object_id(c);
    let groups = workers(c);
    let dc_kind = datacenter_kind(c);
    if groups.is_empty() && dc_kind != "TinkerbellDatacenterConfig" {
        out.push(
            Violation::new(
                &id,
                "spec.workerNodeGroupConfigurations",
                format!("WorkerNodeGroupConfigs cannot be empty for {dc_kind}"),
            )
            .with_hint(
                "add at least one workerNodeGroupConfigurations entry; only bare metal runs without workers",
            ),
        );
        return out;
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut tainted: Vec<&str> = Vec::new();
    for (i, w) in groups.iter().enumerate() {
        let path = worker_path(i);
        let name = s(&w.name);
        if name.is_empty() {
            out.push(
                Violation::new(&id, format!("{path}.name"), "must specify name for worker nodes")
                    .with_hint("give every worker group a name; only the first one defaults to md-0"),
            );
        }
        match w.count {
            None => out.push(
                Violation::new(&id, format!("{path}.count"), "worker node count must be >= 0")
                    .with_hint("set count"),
            ),
            Some(count) => {
                if let Some(v) = autoscaling_violation(w, count, &id, &path) {
                    out.push(v);
                }
            }
        }
        out.extend(worker_rollout_strategy(w, dc_kind, features, &id, &path));
        if !name.is_empty() {
            if seen.contains(&name) {
                out.push(
                    Violation::new(
                        &id,
                        format!("{path}.name"),
                        "worker node group names must be unique",
                    )
                    .with_hint(format!("rename one of the groups called {name}")),
                );
            }
            seen.push(name);
        }
        if list(&w.taints)
            .iter()
            .any(|t| matches!(s(&t.effect), "NoExecute" | "NoSchedule"))
            && !tainted.contains(&name)
        {
            tainted.push(name);
        }
        if let Some(labels) = &w.labels {
            let errs = label_errors(labels, &format!("spec.{}.labels", worker_field(i)));
            if !errs.is_empty() {
                out.push(
                    Violation::new(
                        &id,
                        format!("{path}.labels"),
                        format!(
                            "labels for worker node group {name} not valid: found following errors with labels: [{}]",
                            errs.join(", ")
                        ),
                    )
                    .with_hint("label keys are [prefix/]name, values at most 63 letters, digits, '-', '_' or '.'"),
                );
            }
        }
    }
    // As the reference: tainted groups are counted by name, so repeated names never trigger this.
    if !groups.is_empty() && tainted.len() == groups.len() && is_self_managed(c) {
        out.push(
            Violation::new(
                &id,
                "spec.workerNodeGroupConfigurations",
                "at least one WorkerNodeGroupConfiguration must not have NoExecute and/or NoSchedule taints",
            )
            .with_hint(
                "a management cluster runs its controllers on workers: leave one group without such taints",
            ),
        );
    }
    let cp_taints = control_plane(c).map(|cp| list(&cp.taints).len()).unwrap_or(0);
    if groups.is_empty() && cp_taints != 0 {
        out.push(
            Violation::new(
                &id,
                format!("{CP}.taints"),
                "cannot taint control plane when there is no worker node",
            )
            .with_hint("remove the control-plane taints, or add a worker group"),
        );
    }
    let version = spec(c)
        .map(|s| s.kubernetes_version.as_deref().unwrap_or(""))
        .unwrap_or("");
    // The reference compares the version strings, not the versions.
    if groups.is_empty() && version <= "1.21" {
        out.push(
            Violation::new(
                &id,
                "spec.workerNodeGroupConfigurations",
                "Empty workerNodeGroupConfigs is not supported for kube version <= 1.21",
            )
            .with_hint("add a worker group, or use Kubernetes 1.22 or later"),
        );
    }
    out
}

/// The field name the reference's label errors use (`workerNodeGroupConfigurations[i]`).
fn worker_field(i: usize) -> String {
    format!("workerNodeGroupConfigurations[{i}]")
}

fn autoscaling_violation(
    w: &WorkerNodeGroupConfiguration,
    count: i64,
    id: &str,
    path: &str,
) -> Option<Violation> {
    let prefix = "validating autoscaling configuration: ";
    let Some(a) = &w.autoscaling_configuration else {
        return (count < 0).then(|| {
            Violation::new(
                id,
                format!("{path}.count"),
                format!("{prefix}worker node count must be zero or greater if autoscaling is not enabled"),
            )
        });
    };
    let (min, max) = (a.min_count.unwrap_or(0), a.max_count.unwrap_or(0));
    let apath = format!("{path}.autoscalingConfiguration");
    let (field, message) = if min < 0 {
        ("minCount", "min count must be non negative")
    } else if min > max {
        ("minCount", "min count must be no greater than max count")
    } else if min > count {
        ("minCount", "min count must be less than or equal to count")
    } else if max < count {
        ("maxCount", "max count must be greater than or equal to count")
    } else {
        return None;
    };
    Some(
        Violation::new(id, format!("{apath}.{field}"), format!("{prefix}{message}"))
            .with_hint("keep 0 <= minCount <= count <= maxCount"),
    )
}

fn worker_rollout_strategy(
    w: &WorkerNodeGroupConfiguration,
    dc_kind: &str,
    features: FeatureFlags,
    id: &str,
    path: &str,
) -> Vec<Violation> {
    let Some(strategy) = &w.upgrade_rollout_strategy else {
        return Vec::new();
    };
    let prefix = "validating upgrade rollout strategy configuration: ";
    let spath = format!("{path}.upgradeRolloutStrategy");
    let v = |field: &str, message: &str| {
        Violation::new(id, format!("{spath}{field}"), format!("{prefix}{message}"))
    };
    let mut out = Vec::new();
    match s(&strategy.r#type) {
        "RollingUpdate" => match &strategy.rolling_update {
            None => out.push(v(
                ".rollingUpdate",
                "WorkerNodeGroupConfiguration: upgradeRolloutStrategy.rollingUpdate field is required for \
                 upgradeRolloutStrategy.type RollingUpdate",
            )),
            Some(r) => {
                let (surge, unavailable) = (r.max_surge.unwrap_or(0), r.max_unavailable.unwrap_or(0));
                if surge < 0 || unavailable < 0 {
                    out.push(v(
                        ".rollingUpdate",
                        "WorkerNodeGroupConfiguration: maxSurge and maxUnavailable values cannot be negative",
                    ));
                } else if surge == 0 && unavailable == 0 {
                    out.push(
                        v(
                            ".rollingUpdate",
                            "WorkerNodeGroupConfiguration: maxSurge and maxUnavailable not specified or are 0. \
                             maxSurge and maxUnavailable cannot both be 0",
                        )
                        .with_hint("set maxSurge: 1 to add a machine before removing one"),
                    );
                }
            }
        },
        "InPlace" => {
            if strategy.rolling_update.is_some() {
                out.push(v(
                    ".rollingUpdate",
                    "WorkerNodeGroupConfiguration: RollingUpdate field must be empty for 'InPlace' upgrade rollout \
                     strategy type",
                ));
            } else if dc_kind == "VSphereDatacenterConfig" {
                if !features.vsphere_in_place_upgrade {
                    out.push(
                        v(".type", "in place upgrades are not supported on vSphere")
                            .with_hint("enable the VSPHERE_IN_PLACE_UPGRADE feature flag, or use RollingUpdate"),
                    );
                }
            } else if dc_kind != "TinkerbellDatacenterConfig" {
                out.push(v(
                    ".type",
                    "WorkerNodeGroupConfiguration: 'InPlace' upgrade rollout strategy type is only supported on Bare \
                     Metal",
                ));
            }
        }
        _ => out.push(
            v(
                ".type",
                "WorkerNodeGroupConfiguration: only 'RollingUpdate' and 'InPlace' are supported for upgrade rollout \
                 strategy type",
            )
            .with_hint("set type: RollingUpdate or type: InPlace"),
        ),
    }
    out
}

/// `gitOpsRef`, when present, names a GitOpsConfig or FluxConfig.
pub fn validate_gitops_ref(c: &Cluster) -> Vec<Violation> {
    let Some(r) = spec(c).and_then(|s| s.git_ops_ref.as_ref()) else {
        return Vec::new();
    };
    if !matches!(s(&r.kind), "GitOpsConfig" | "FluxConfig") {
        return vec![
            Violation::new(
                object_id(c),
                "spec.gitOpsRef.kind",
                "only GitOpsConfig or FluxConfig Kind are supported at this time",
            )
            .with_hint("set kind: FluxConfig"),
        ];
    }
    if s(&r.name).is_empty() {
        return vec![Violation::new(
            object_id(c),
            "spec.gitOpsRef.name",
            "GitOpsRef name can't be empty; specify a valid GitOpsConfig name",
        )];
    }
    Vec::new()
}

/// `externalEtcdConfiguration.count`, when present, is positive and odd (3 or 5 recommended).
pub fn validate_external_etcd_count(c: &Cluster) -> Vec<Violation> {
    let Some(etcd) = spec(c).and_then(|s| s.external_etcd_configuration.as_ref()) else {
        return Vec::new();
    };
    let count = etcd.count.unwrap_or(0);
    let message = if count == 0 {
        "no value set for etcd replicas"
    } else if count < 0 {
        "etcd replicas cannot be a negative number"
    } else if count % 2 == 0 {
        "external etcd count cannot be an even number"
    } else {
        return Vec::new();
    };
    vec![
        Violation::new(object_id(c), "spec.externalEtcdConfiguration.count", message)
            .with_hint("use an odd number of etcd machines, 3 or 5"),
    ]
}

/// Each `identityProviderRefs` entry is an OIDCConfig or AWSIamConfig with a name.
pub fn validate_identity_provider_refs(c: &Cluster) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, r) in identity_provider_refs(c).iter().enumerate() {
        let kind = s(&r.kind);
        if kind != "OIDCConfig" && kind != "AWSIamConfig" {
            out.push(
                Violation::new(
                    object_id(c),
                    format!("spec.identityProviderRefs[{i}].kind"),
                    format!("kind: {kind} for identityProviderRef is not supported"),
                )
                .with_hint("use kind: OIDCConfig or kind: AWSIamConfig"),
            );
        } else if s(&r.name).is_empty() {
            out.push(Violation::new(
                object_id(c),
                format!("spec.identityProviderRefs[{i}].name"),
                "specify a valid name for identityProviderRef",
            ));
        }
    }
    out
}

/// `podIamConfig`, when present, has a `serviceAccountIssuer`.
pub fn validate_pod_iam_config(c: &Cluster) -> Vec<Violation> {
    let Some(p) = spec(c).and_then(|s| s.pod_iam_config.as_ref()) else {
        return Vec::new();
    };
    if s(&p.service_account_issuer).is_empty() {
        return vec![
            Violation::new(
                object_id(c),
                "spec.podIamConfig.serviceAccountIssuer",
                "ServiceAccount Issuer can't be empty while configuring IAM roles for pods",
            )
            .with_hint("set the issuer URL of the service-account tokens"),
        ];
    }
    Vec::new()
}

/// The control-plane `upgradeRolloutStrategy`: RollingUpdate with maxSurge 0 or 1, or InPlace
/// (no rollingUpdate) on Tinkerbell, or on vSphere with the feature flag and stacked etcd.
pub fn validate_control_plane_rollout_strategy(c: &Cluster, features: FeatureFlags) -> Vec<Violation> {
    let Some(strategy) = control_plane(c).and_then(|cp| cp.upgrade_rollout_strategy.as_ref()) else {
        return Vec::new();
    };
    let path = format!("{CP}.upgradeRolloutStrategy");
    let v = |field: &str, message: &str| Violation::new(object_id(c), format!("{path}{field}"), message);
    let mut out = Vec::new();
    match s(&strategy.r#type) {
        "RollingUpdate" => {
            let surge = strategy.rolling_update.as_ref().and_then(|r| r.max_surge).unwrap_or(0);
            if surge < 0 {
                out.push(v(
                    ".rollingUpdate.maxSurge",
                    "ControlPlaneConfiguration: maxSurge for control plane cannot be a negative value",
                ));
            } else if surge > 1 {
                out.push(
                    v(".rollingUpdate.maxSurge", "ControlPlaneConfiguration: maxSurge for control plane must be 0 or 1")
                        .with_hint("the control plane replaces one machine at a time"),
                );
            }
        }
        "InPlace" => {
            let kind = datacenter_kind(c);
            if strategy.rolling_update.is_some() {
                out.push(v(
                    ".rollingUpdate",
                    "ControlPlaneConfiguration: RollingUpdate field must be empty for 'InPlace' upgrade rollout \
                     strategy type",
                ));
            } else if kind == "VSphereDatacenterConfig" {
                if !features.vsphere_in_place_upgrade {
                    out.push(
                        v(".type", "in place upgrades are not supported on vSphere")
                            .with_hint("enable the VSPHERE_IN_PLACE_UPGRADE feature flag, or use RollingUpdate"),
                    );
                } else if spec(c).is_some_and(|s| s.external_etcd_configuration.is_some()) {
                    out.push(v(".type", "stacked etcd must be configured when performing in place upgrades"));
                }
            } else if kind != "TinkerbellDatacenterConfig" {
                out.push(v(
                    ".type",
                    "ControlPlaneConfiguration: 'InPlace' upgrade rollout strategy type is only supported on Bare Metal",
                ));
            }
        }
        _ => out.push(
            v(
                ".type",
                "ControlPlaneConfiguration: only 'RollingUpdate' and 'InPlace' are supported for upgrade rollout \
                 strategy type",
            )
            .with_hint("set type: RollingUpdate or type: InPlace"),
        ),
    }
    out
}

/// The control-plane labels are valid Kubernetes labels.
pub fn validate_control_plane_labels(c: &Cluster) -> Vec<Violation> {
    let Some(labels) = control_plane(c).and_then(|cp| cp.labels.as_ref()) else {
        return Vec::new();
    };
    let errs = label_errors(labels, "spec.controlPlaneConfiguration.labels");
    if errs.is_empty() {
        return Vec::new();
    }
    vec![
        Violation::new(
            object_id(c),
            format!("{CP}.labels"),
            format!(
                "labels for control plane not valid: found following errors with labels: [{}]",
                errs.join(", ")
            ),
        )
        .with_hint("label keys are [prefix/]name, values at most 63 letters, digits, '-', '_' or '.'"),
    ]
}

/// A workload cluster sets neither `packages.controller` nor `packages.cronjob`: the
/// management cluster runs the package controller.
pub fn validate_packages(c: &Cluster) -> Vec<Violation> {
    let mut out = Vec::new();
    if is_self_managed(c) {
        return out;
    }
    let Some(p) = spec(c).and_then(|s| s.packages.as_ref()) else {
        return out;
    };
    let hint = "configure the package controller on the management cluster";
    if p.controller.is_some() {
        out.push(
            Violation::new(
                object_id(c),
                "spec.packages.controller",
                "packages: controller should not be specified for a workload cluster",
            )
            .with_hint(hint),
        );
    }
    if p.cronjob.is_some() {
        out.push(
            Violation::new(
                object_id(c),
                "spec.packages.cronjob",
                "packages: cronjob should not be specified for a workload cluster",
            )
            .with_hint(hint),
        );
    }
    out
}

/// `bundlesRef` and `eksaVersion` are exclusive, and `eksaVersion` is a semantic version.
pub fn validate_eksa_version(c: &Cluster) -> Vec<Violation> {
    let mut out = Vec::new();
    let Some(sp) = spec(c) else { return out };
    if sp.bundles_ref.is_some() && sp.eksa_version.is_some() {
        out.push(
            Violation::new(
                object_id(c),
                "spec.bundlesRef",
                "cannot pass both bundlesRef and eksaVersion. New clusters should use eksaVersion instead of bundlesRef",
            )
            .with_hint("remove bundlesRef"),
        );
    }
    if let Some(v) = &sp.eksa_version
        && Semver::parse(v).is_none()
    {
        out.push(
            Violation::new(
                object_id(c),
                "spec.eksaVersion",
                "eksaVersion is not a valid semver",
            )
            .with_hint("use a release version such as v0.22.0"),
        );
    }
    out
}

/// Each control-plane `certSans` entry is an IP or a domain name.
pub fn validate_cert_sans(c: &Cluster) -> Vec<Violation> {
    // The reference's pattern, unanchored as it uses it.
    static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9][a-z0-9-]{0,61}[a-z0-9]")
            .expect("the domain pattern is a valid regex")
    });
    let Some(cp) = control_plane(c) else {
        return Vec::new();
    };
    list(&cp.cert_sans)
        .iter()
        .enumerate()
        .filter(|(_, san)| !DOMAIN.is_match(san) && !is_ip(san))
        .map(|(i, san)| {
            Violation::new(
                object_id(c),
                format!("{CP}.certSans[{i}]"),
                format!("invalid ControlPlaneConfiguration.CertSANs; must be an IP or domain name: [{san}]"),
            )
            .with_hint("use an IP address or a lowercase DNS name such as api.example.com")
        })
        .collect()
}

/// `apiServerExtraArgs` needs the `API_SERVER_EXTRA_ARGS_ENABLED` feature flag.
pub fn validate_api_server_extra_args(c: &Cluster, features: FeatureFlags) -> Vec<Violation> {
    let set = control_plane(c).is_some_and(|cp| cp.api_server_extra_args.is_some());
    if set && !features.api_server_extra_args {
        return vec![
            Violation::new(
                object_id(c),
                format!("{CP}.apiServerExtraArgs"),
                "configuring APIServerExtraArgs is not supported. Set env var API_SERVER_EXTRA_ARGS_ENABLED to enable",
            )
            .with_hint("export API_SERVER_EXTRA_ARGS_ENABLED=true, or remove apiServerExtraArgs"),
        ];
    }
    Vec::new()
}

/// The `oidc-*` API server flags EKS Anywhere sets itself from an OIDCConfig.
const OIDC_FLAGS: [&str; 7] = [
    "oidc-issuer-url",
    "oidc-client-id",
    "oidc-groups-claim",
    "oidc-groups-prefix",
    "oidc-required-claim",
    "oidc-username-claim",
    "oidc-username-prefix",
];

/// No `oidc-*` key in `apiServerExtraArgs` when an OIDCConfig is used.
pub fn validate_oidc_extra_args(c: &Cluster) -> Vec<Violation> {
    let uses_oidc = identity_provider_refs(c)
        .iter()
        .any(|r| s(&r.kind) == "OIDCConfig");
    let Some(args) = control_plane(c).and_then(|cp| cp.api_server_extra_args.as_ref()) else {
        return Vec::new();
    };
    if !uses_oidc || !OIDC_FLAGS.iter().any(|f| args.contains_key(*f)) {
        return Vec::new();
    }
    vec![
        Violation::new(
            object_id(c),
            format!("{CP}.apiServerExtraArgs"),
            format!(
                "the following flags cannot be configured if OIDCConfig is configured for \
                 cluster.spec.identityProviderRefs: [{}]. Remove from apiServerExtraArgs",
                OIDC_FLAGS.join(" ")
            ),
        )
        .with_hint("configure OIDC through the OIDCConfig object only"),
    ]
}

/// The top-level fields of `KubeletConfiguration` (`kubelet.config.k8s.io/v1beta1`, as of the
/// k8s.io/kubelet version EKS Anywhere builds with), plus `kind` and `apiVersion`.
const KUBELET_FIELDS: &[&str] = &[
    "kind",
    "apiVersion",
    "enableServer",
    "staticPodPath",
    "syncFrequency",
    "fileCheckFrequency",
    "httpCheckFrequency",
    "staticPodURL",
    "staticPodURLHeader",
    "address",
    "port",
    "readOnlyPort",
    "tlsCertFile",
    "tlsPrivateKeyFile",
    "tlsCipherSuites",
    "tlsMinVersion",
    "rotateCertificates",
    "serverTLSBootstrap",
    "authentication",
    "authorization",
    "registryPullQPS",
    "registryBurst",
    "eventRecordQPS",
    "eventBurst",
    "enableDebuggingHandlers",
    "enableContentionProfiling",
    "healthzPort",
    "healthzBindAddress",
    "oomScoreAdj",
    "clusterDomain",
    "clusterDNS",
    "streamingConnectionIdleTimeout",
    "nodeStatusUpdateFrequency",
    "nodeStatusReportFrequency",
    "nodeLeaseDurationSeconds",
    "imageMinimumGCAge",
    "imageMaximumGCAge",
    "imageGCHighThresholdPercent",
    "imageGCLowThresholdPercent",
    "volumeStatsAggPeriod",
    "kubeletCgroups",
    "systemCgroups",
    "cgroupRoot",
    "cgroupsPerQOS",
    "cgroupDriver",
    "cpuManagerPolicy",
    "cpuManagerPolicyOptions",
    "cpuManagerReconcilePeriod",
    "memoryManagerPolicy",
    "topologyManagerPolicy",
    "topologyManagerScope",
    "topologyManagerPolicyOptions",
    "qosReserved",
    "runtimeRequestTimeout",
    "hairpinMode",
    "maxPods",
    "podCIDR",
    "podPidsLimit",
    "resolvConf",
    "runOnce",
    "cpuCFSQuota",
    "cpuCFSQuotaPeriod",
    "nodeStatusMaxImages",
    "maxOpenFiles",
    "contentType",
    "kubeAPIQPS",
    "kubeAPIBurst",
    "serializeImagePulls",
    "maxParallelImagePulls",
    "evictionHard",
    "evictionSoft",
    "evictionSoftGracePeriod",
    "evictionPressureTransitionPeriod",
    "evictionMaxPodGracePeriod",
    "evictionMinimumReclaim",
    "podsPerCore",
    "enableControllerAttachDetach",
    "protectKernelDefaults",
    "makeIPTablesUtilChains",
    "iptablesMasqueradeBit",
    "iptablesDropBit",
    "featureGates",
    "failSwapOn",
    "memorySwap",
    "containerLogMaxSize",
    "containerLogMaxFiles",
    "configMapAndSecretChangeDetectionStrategy",
    "systemReserved",
    "kubeReserved",
    "reservedSystemCPUs",
    "showHiddenMetricsForVersion",
    "systemReservedCgroup",
    "kubeReservedCgroup",
    "enforceNodeAllocatable",
    "allowedUnsafeSysctls",
    "volumePluginDir",
    "providerID",
    "kernelMemcgNotification",
    "logging",
    "enableSystemLogHandler",
    "enableSystemLogQuery",
    "shutdownGracePeriod",
    "shutdownGracePeriodCriticalPods",
    "shutdownGracePeriodByPodPriority",
    "reservedMemory",
    "enableProfilingHandler",
    "enableDebugFlagsHandler",
    "seccompDefault",
    "memoryThrottlingFactor",
    "registerWithTaints",
    "registerNode",
    "tracing",
    "localStorageCapacityIsolation",
    "containerRuntimeEndpoint",
    "imageServiceEndpoint",
];

/// The control-plane and then each worker group's `kubeletConfiguration` is a
/// KubeletConfiguration (known top-level fields only) without `providerID`.
///
/// Field types inside a known field are not checked.
pub fn validate_kubelet_configurations(c: &Cluster) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(k) = control_plane(c).and_then(|cp| cp.kubelet_configuration.as_ref()) {
        out.extend(kubelet_configuration(c, k, &format!("{CP}.kubeletConfiguration")));
    }
    for (i, w) in workers(c).iter().enumerate() {
        if let Some(k) = &w.kubelet_configuration {
            out.extend(kubelet_configuration(
                c,
                k,
                &format!("{}.kubeletConfiguration", worker_path(i)),
            ));
        }
    }
    out
}

fn kubelet_configuration(c: &Cluster, value: &serde_json::Value, path: &str) -> Vec<Violation> {
    let Some(map) = value.as_object() else {
        return vec![Violation::new(
            object_id(c),
            path,
            "unmarshaling KubeletConfiguration: expected a mapping of KubeletConfiguration fields",
        )];
    };
    let mut out: Vec<Violation> = map
        .keys()
        .filter(|k| !KUBELET_FIELDS.contains(&k.as_str()))
        .map(|k| {
            Violation::new(
                object_id(c),
                format!("{path}.{k}"),
                format!("unmarshaling KubeletConfiguration: unknown field {k:?}"),
            )
            .with_hint("use the field names of kubelet.config.k8s.io/v1beta1 KubeletConfiguration")
        })
        .collect();
    if out.is_empty() && map.contains_key("providerID") {
        out.push(
            Violation::new(
                object_id(c),
                format!("{path}.providerID"),
                "can not override providerID or cloudProvider (set by EKS Anywhere)",
            )
            .with_hint("remove providerID"),
        );
    }
    out
}

/// A non-empty `auditPolicyContent` is YAML.
pub fn validate_audit_policy_content(c: &Cluster) -> Vec<Violation> {
    let content = control_plane(c)
        .map(|cp| s(&cp.audit_policy_content))
        .unwrap_or("");
    if content.is_empty() {
        return Vec::new();
    }
    match crate::document::parse_value(content, 1) {
        Ok(_) => Vec::new(),
        Err(e) => vec![
            Violation::new(
                object_id(c),
                format!("{CP}.auditPolicyContent"),
                format!("invalid YAML in auditPolicyContent: {e}"),
            )
            .with_hint("auditPolicyContent holds an audit.k8s.io Policy as YAML text (use a `|` block)"),
        ],
    }
}

#[cfg(test)]
mod tests;

//! Validation: each rule is a named function that returns the violations it finds, with the
//! field path of each. Nothing here performs I/O except where a rule is documented to need a
//! resolver passed in (DNS for proxy hosts).
//!
//! Entry points:
//! - [`cluster`]: the single-Cluster rules of EKS Anywhere's `clusterConfigValidations`, in the
//!   reference's order, so the first violation is the error the reference would have returned;
//! - [`oidc_config`], [`aws_iam_config`], [`nutanix_datacenter`], [`nutanix_machine`] and the
//!   other per-object rules ([`vsphere_datacenter`], [`tinkerbell_machine`], [`flux_config`]...);
//! - [`references`]: every reference of the Cluster resolves, kinds fit, namespaces match;
//! - [`config_set`]: all of the above for a whole file (what `anywhere validate` runs);
//! - [`create`] and [`update`]: the rules that compare a request with what exists.
//!
//! Guarantees: no function stops at the first problem; within one rule function the violations
//! come in the order the reference would have met them. Messages keep EKS Anywhere's wording
//! where users know it (so old search results still help); `hint` says what to do.

use std::fmt;

use serde::Serialize;

use crate::config_set::{ConfigSet, Object};
use crate::generated::*;
use crate::meta::Resource;

mod cloudstack;
mod cluster;
mod gitops;
mod host_os;
mod identity;
mod network;
mod nutanix;
mod references;
mod snow;
mod syntax;
mod tinkerbell;
mod update;
mod vsphere;

pub use cloudstack::{cloudstack_datacenter, cloudstack_machine};
pub use cluster::{
    cluster, validate_api_server_extra_args, validate_audit_policy_content, validate_cert_sans,
    validate_control_plane_count, validate_control_plane_endpoint, validate_control_plane_labels,
    validate_control_plane_rollout_strategy, validate_eksa_version, validate_external_etcd_count,
    validate_external_etcd_support, validate_gitops_ref, validate_identity_provider_refs,
    validate_kubelet_configurations, validate_machine_group_refs, validate_name, validate_oidc_extra_args,
    validate_packages, validate_pod_iam_config, validate_worker_node_groups,
};
pub use gitops::{flux_config, gitops_config};
pub use identity::{aws_iam_config, oidc_config};
pub use network::{validate_networking, validate_proxy, validate_registry_mirror};
pub use nutanix::{nutanix_datacenter, nutanix_machine};
pub use references::references;
pub use snow::{snow_datacenter, snow_ip_pool, snow_machine, snow_unstacked_etcd};
pub use tinkerbell::{tinkerbell_cluster, tinkerbell_datacenter, tinkerbell_machine};
pub use update::{
    create, update, validate_bundles_ref_update, validate_eksa_version_skew, validate_eksa_version_update,
    validate_etcd_encryption_update, validate_immutable_fields, validate_kubernetes_version_skew,
    validate_tinkerbell_upgrade, validate_worker_kubernetes_version_skew,
};
pub use vsphere::{vsphere_cluster, vsphere_datacenter, vsphere_machine};

/// One broken rule, located by its field path inside one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which object: `Cluster/my-cluster`, `VSphereMachineConfig/cp`.
    pub object: String,
    /// Field path inside that object, e.g. `spec.workerNodeGroupConfigurations[1].name`.
    pub path: String,
    /// What is wrong, lowercase, no final period.
    pub message: String,
    /// What the user can do about it, when there is something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Violation {
    /// A violation at `path` of `object`.
    pub fn new(object: impl Into<String>, path: impl Into<String>, message: impl Into<String>) -> Self {
        Violation {
            object: object.into(),
            path: path.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// The same violation with a hint for the user.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Answers whether a host name resolves, for the proxy rule (EKS Anywhere looks proxy hosts up
/// in DNS). IP literals never reach the resolver.
///
/// The CLI passes a real resolver; tests and offline callers pass a closure.
pub trait Resolver {
    /// Whether `host` (a DNS name, never an IP literal) resolves to at least one address.
    fn resolves(&self, host: &str) -> bool;
}

impl<F: Fn(&str) -> bool> Resolver for F {
    fn resolves(&self, host: &str) -> bool {
        self(host)
    }
}

/// Feature flags that change what the Cluster rules accept. The CLI reads them from the
/// environment variables EKS Anywhere uses (named on each field); this crate never does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeatureFlags {
    /// `API_SERVER_EXTRA_ARGS_ENABLED`: allows `controlPlaneConfiguration.apiServerExtraArgs`.
    pub api_server_extra_args: bool,
    /// `VSPHERE_IN_PLACE_UPGRADE`: allows the `InPlace` rollout strategy on vSphere.
    pub vsphere_in_place_upgrade: bool,
}

/// What the Cluster rules need from the outside world.
#[derive(Clone, Copy)]
pub struct ClusterContext<'a> {
    /// DNS lookups for proxy hosts.
    pub resolver: &'a dyn Resolver,
    /// Enabled feature flags.
    pub features: FeatureFlags,
}

impl<'a> ClusterContext<'a> {
    /// A context with the given resolver and no feature flag enabled.
    pub fn new(resolver: &'a dyn Resolver) -> Self {
        ClusterContext {
            resolver,
            features: FeatureFlags::default(),
        }
    }

    /// The same context with these feature flags.
    pub fn with_features(mut self, features: FeatureFlags) -> Self {
        self.features = features;
        self
    }
}

impl fmt::Debug for ClusterContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterContext")
            .field("features", &self.features)
            .finish_non_exhaustive()
    }
}

/// Everything `anywhere validate` checks on a whole spec file: the Cluster rules, reference
/// resolution and namespaces, then the rules of every object the Cluster uses, then the
/// provider rules that look at several objects at once.
///
/// Each object's violations name that object. Objects the Cluster does not use are ignored, as
/// EKS Anywhere drops them. Run the parse-time and provider defaults first
/// (`defaults::apply_parse_time`, `defaults::apply_providers`), as the CLI does. A missing
/// Nutanix SSH key is not a violation here: the CLI generates one.
pub fn config_set(set: &ConfigSet, ctx: &ClusterContext<'_>) -> Vec<Violation> {
    let mut out = cluster(&set.cluster, ctx);
    out.extend(references(set));
    let c = &set.cluster;
    // Name and namespace of these objects are covered by `references`.
    for r in identity_provider_refs(c) {
        match set.find(s(&r.kind), s(&r.name)) {
            Some(Object::OIDCConfig(o)) => out.extend(identity::oidc_config_fields(o)),
            Some(Object::AWSIamConfig(o)) => out.extend(identity::aws_iam_config_fields(o)),
            _ => {}
        }
    }
    if let Some(r) = spec(c).and_then(|s| s.git_ops_ref.as_ref()) {
        match set.find(s(&r.kind), s(&r.name)) {
            Some(Object::GitOpsConfig(o)) => out.extend(gitops_config(o)),
            Some(Object::FluxConfig(o)) => out.extend(flux_config(o)),
            _ => {}
        }
    }
    let dc_ref = spec(c).and_then(|s| s.datacenter_ref.as_ref());
    let dc = dc_ref.and_then(|r| set.find(s(&r.kind), s(&r.name)));
    match dc {
        Some(Object::VSphereDatacenterConfig(d)) => out.extend(vsphere_datacenter(d)),
        Some(Object::CloudStackDatacenterConfig(d)) => out.extend(cloudstack_datacenter(d)),
        Some(Object::SnowDatacenterConfig(d)) => out.extend(snow_datacenter(d)),
        Some(Object::TinkerbellDatacenterConfig(d)) => out.extend(tinkerbell_datacenter(d)),
        Some(Object::NutanixDatacenterConfig(d)) => out.extend(nutanix_datacenter(d)),
        _ => {}
    }
    for r in machine_refs(c) {
        match set.find(s(&r.kind), s(&r.name)) {
            Some(Object::VSphereMachineConfig(m)) => out.extend(vsphere_machine(m)),
            Some(Object::CloudStackMachineConfig(m)) => out.extend(cloudstack_machine(m)),
            Some(Object::SnowMachineConfig(m)) => out.extend(snow_machine(m)),
            Some(Object::TinkerbellMachineConfig(m)) => out.extend(tinkerbell_machine(m)),
            Some(Object::NutanixMachineConfig(m)) => {
                out.extend(nutanix::nutanix_machine_rules(m, nutanix::SshKeys::Generated));
            }
            _ => {}
        }
    }
    for pool in snow_ip_pools(set) {
        out.extend(snow_ip_pool(pool));
    }
    match dc {
        Some(Object::VSphereDatacenterConfig(_)) => out.extend(vsphere_cluster(set)),
        Some(Object::SnowDatacenterConfig(_)) => out.extend(snow_unstacked_etcd(set)),
        Some(Object::TinkerbellDatacenterConfig(_)) => out.extend(tinkerbell_cluster(set)),
        _ => {}
    }
    out
}

// ---- small accessors shared by the rule modules -------------------------------------------

/// `Kind/name`, the `object` of a violation.
pub(crate) fn object_id<R: Resource>(o: &R) -> String {
    format!("{}/{}", R::KIND, o.name())
}

/// The string of an optional field, `""` when absent (Go's zero value).
pub(crate) fn s(o: &Option<String>) -> &str {
    o.as_deref().unwrap_or("")
}

/// The list of an optional field, empty when absent.
pub(crate) fn list<T>(o: &Option<Vec<T>>) -> &[T] {
    o.as_deref().unwrap_or(&[])
}

/// The Cluster's spec, if any.
pub(crate) fn spec(c: &Cluster) -> Option<&ClusterSpec> {
    c.spec.as_ref()
}

/// `spec.datacenterRef.kind`, or `""`.
pub(crate) fn datacenter_kind(c: &Cluster) -> &str {
    spec(c)
        .and_then(|s| s.datacenter_ref.as_ref())
        .map(|r| s(&r.kind))
        .unwrap_or("")
}

/// The control-plane configuration, if any.
pub(crate) fn control_plane(c: &Cluster) -> Option<&ControlPlaneConfiguration> {
    spec(c).and_then(|s| s.control_plane_configuration.as_ref())
}

/// The worker node groups, empty when absent.
pub(crate) fn workers(c: &Cluster) -> &[WorkerNodeGroupConfiguration] {
    spec(c)
        .map(|s| list(&s.worker_node_group_configurations))
        .unwrap_or(&[])
}

/// `spec.identityProviderRefs`, empty when absent.
pub(crate) fn identity_provider_refs(c: &Cluster) -> &[Ref] {
    spec(c).map(|s| list(&s.identity_provider_refs)).unwrap_or(&[])
}

/// Whether the Cluster manages itself: `managementCluster.name` is empty or its own name.
pub(crate) fn is_self_managed(c: &Cluster) -> bool {
    let m = spec(c)
        .and_then(|s| s.management_cluster.as_ref())
        .map(|m| s(&m.name))
        .unwrap_or("");
    m.is_empty() || m == c.name()
}

/// The machine references of the control plane, the worker groups and external etcd, in that
/// order, without repeats.
pub(crate) fn machine_refs(c: &Cluster) -> Vec<&Ref> {
    let mut all: Vec<&Ref> = Vec::new();
    all.extend(control_plane(c).and_then(|cp| cp.machine_group_ref.as_ref()));
    all.extend(workers(c).iter().filter_map(|w| w.machine_group_ref.as_ref()));
    all.extend(
        spec(c)
            .and_then(|s| s.external_etcd_configuration.as_ref())
            .and_then(|e| e.machine_group_ref.as_ref()),
    );
    let mut refs: Vec<&Ref> = Vec::new();
    for r in all {
        if !refs.iter().any(|x| x.kind == r.kind && x.name == r.name) {
            refs.push(r);
        }
    }
    refs
}

/// The SnowIPPools the used SnowMachineConfigs point at, without repeats.
fn snow_ip_pools(set: &ConfigSet) -> Vec<&SnowIPPool> {
    let mut pools: Vec<&SnowIPPool> = Vec::new();
    for r in machine_refs(&set.cluster) {
        let Some(Object::SnowMachineConfig(m)) = set.find(s(&r.kind), s(&r.name)) else {
            continue;
        };
        for dni in snow::direct_network_interfaces(m) {
            let Some(p) = dni.ip_pool_ref.as_ref() else {
                continue;
            };
            if s(&p.kind) != "SnowIPPool" {
                continue;
            }
            if let Some(pool) = set.get::<SnowIPPool>(s(&p.name))
                && !pools.iter().any(|x| x.name() == pool.name())
            {
                pools.push(pool);
            }
        }
    }
    pools
}

/// Helpers shared by the rule tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::Violation;

    /// Decodes a YAML snippet strictly into `T`, panicking with the error on failure.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(text: &str) -> T {
        crate::document::decode(
            &crate::document::parse_value(text, 1).expect("yaml"),
            crate::document::Fields::Strict,
        )
        .expect("decode")
    }

    /// The messages of a list of violations, in order.
    pub(crate) fn messages(v: &[Violation]) -> Vec<String> {
        v.iter().map(|v| v.message.clone()).collect()
    }
}

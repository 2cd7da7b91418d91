//! Rules that compare a request with what exists: creating a cluster, and changing one (the
//! webhook's `ValidateUpdate` plus the CLI's upgrade preflights). Whether a Kubernetes version
//! can be built is the release catalog's question, not this module's.

use std::cmp::Ordering;

use super::syntax::{KubeVersion, Semver, split_host_port};
use super::*;

/// EKS Anywhere's development build, exempt from the eksaVersion skew rules (with any
/// prerelease or build suffix of v0.19.0).
const DEV_BUILD_VERSION: Semver = Semver {
    major: 0,
    minor: 19,
    patch: 0,
};
/// The annotation that turns the eksaVersion skew check off.
const SKIP_EKSA_VERSION_SKEW_CHECK: &str = "anywhere.eks.amazonaws.com/skip-eksa-version-skew-check";
/// The Cluster failure reason that allows an eksaVersion downgrade.
const EKSA_VERSION_INVALID_REASON: &str = "EksaVersionInvalid";

/// The rules for creating a cluster from a spec file: no `etcdEncryption` (it can only be
/// turned on by an upgrade).
pub fn create(set: &ConfigSet) -> Vec<Violation> {
    let c = &set.cluster;
    if spec(c).is_some_and(|s| s.etcd_encryption.is_some()) {
        return vec![
            Violation::new(
                object_id(c),
                "spec.etcdEncryption",
                "etcdEncryption is not supported during cluster creation",
            )
            .with_hint("create the cluster without etcdEncryption, then add it with an upgrade"),
        ];
    }
    Vec::new()
}

/// The rules for changing cluster `old` into `new`, in the webhook's order: Tinkerbell
/// rolling-upgrade limits, immutable fields, `bundlesRef` removal, the Kubernetes version skew,
/// `eksaVersion` removal and skew (unless the skip annotation is set on `new`), the worker
/// Kubernetes version skew, and `etcdEncryption` support.
///
/// Both sets should have had the same defaults applied.
pub fn update(old: &ConfigSet, new: &ConfigSet) -> Vec<Violation> {
    let (o, n) = (&old.cluster, &new.cluster);
    let mut out = Vec::new();
    if datacenter_kind(n) == "TinkerbellDatacenterConfig" {
        out.extend(validate_tinkerbell_upgrade(o, n));
    }
    out.extend(validate_immutable_fields(old, new));
    out.extend(validate_bundles_ref_update(o, n));
    out.extend(validate_kubernetes_version_skew(o, n));
    out.extend(validate_eksa_version_update(o, n));
    let skip = n
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(SKIP_EKSA_VERSION_SKEW_CHECK));
    if skip.map(String::as_str) != Some("true") {
        out.extend(validate_eksa_version_skew(o, n));
    }
    out.extend(validate_worker_kubernetes_version_skew(o, n));
    out.extend(validate_etcd_encryption_update(n));
    out
}

fn kubernetes_version(c: &Cluster) -> &str {
    spec(c)
        .map(|s| s.kubernetes_version.as_deref().unwrap_or(""))
        .unwrap_or("")
}

/// On Tinkerbell, a Kubernetes version change cannot be combined with a change of the
/// control-plane count, of any worker count, or of the set of worker groups.
pub fn validate_tinkerbell_upgrade(old: &Cluster, new: &Cluster) -> Vec<Violation> {
    let mut out = Vec::new();
    if kubernetes_version(old) == kubernetes_version(new) {
        return out;
    }
    let id = object_id(new);
    let hint = "upgrade Kubernetes first, then scale in a separate change";
    let old_count = control_plane(old).and_then(|cp| cp.count).unwrap_or(0);
    if old_count != control_plane(new).and_then(|cp| cp.count).unwrap_or(0) {
        out.push(
            Violation::new(
                &id,
                "spec.controlPlaneConfiguration.count",
                format!(
                    "cannot perform scale up or down during rolling upgrades. Previous control plane node count {old_count}"
                ),
            )
            .with_hint(hint),
        );
    }
    if workers(old).len() != workers(new).len() {
        out.push(
            Violation::new(
                &id,
                "spec.workerNodeGroupConfigurations",
                "cannot perform scale up or down during rolling upgrades. Please revert to the previous worker node groups.",
            )
            .with_hint(hint),
        );
    }
    for (i, w) in workers(new).iter().enumerate() {
        let path = format!("spec.workerNodeGroupConfigurations[{i}]");
        match workers(old).iter().find(|o| o.name == w.name) {
            Some(o) if o.count.unwrap_or(0) != w.count.unwrap_or(0) => out.push(
                Violation::new(
                    &id,
                    format!("{path}.count"),
                    format!(
                        "cannot perform scale up or down during rolling upgrades. Previous worker node count {}",
                        o.count.unwrap_or(0)
                    ),
                )
                .with_hint(hint),
            ),
            Some(_) => {}
            None => out.push(
                Violation::new(
                    &id,
                    format!("{path}.name"),
                    format!(
                        "cannot perform scale up or down during rolling upgrades. Please remove the new worker node group {}",
                        s(&w.name)
                    ),
                )
                .with_hint(hint),
            ),
        }
    }
    out
}

/// Go's `SliceEqual`: the same strings the same number of times, in any order.
fn same_multiset(a: &[String], b: &[String]) -> bool {
    let mut a: Vec<&String> = a.iter().collect();
    let mut b: Vec<&String> = b.iter().collect();
    a.sort();
    b.sort();
    a == b
}

/// `GetControlPlaneHostPort`: host and port, a missing port being `""`.
fn host_port(h: &str) -> Option<(&str, &str)> {
    match split_host_port(h) {
        Ok(hp) => Some(hp),
        Err(e) if e.contains("missing port") => Some((h, "")),
        Err(_) => None,
    }
}

/// Whether two endpoints are the same; CloudStack treats `host` and `host:6443` as equal.
fn endpoint_equal(new: Option<&Endpoint>, old: Option<&Endpoint>, datacenter_kind: &str) -> bool {
    let (n, o) = match (new, old) {
        (None, None) => return true,
        (Some(n), Some(o)) => (s(&n.host), s(&o.host)),
        _ => return false,
    };
    if n == o {
        return true;
    }
    if datacenter_kind != "CloudStackDatacenterConfig" {
        return false;
    }
    let Some((nhost, nport)) = host_port(n) else {
        return false;
    };
    let (ohost, oport) = host_port(o).unwrap_or(("", ""));
    if oport == "6443" {
        return matches!(nport, "6443" | "") && nhost == ohost;
    }
    if nport == "6443" && oport.is_empty() {
        return nhost == ohost;
    }
    false
}

/// Whether the CNI plugin stays the same (the CLI's `CNIPluginSame`), legacy field included.
fn cni_plugin_same(new: Option<&ClusterNetwork>, old: Option<&ClusterNetwork>) -> bool {
    let legacy = |n: Option<&ClusterNetwork>| n.map(|n| s(&n.cni).to_string()).unwrap_or_default();
    let config = |n: Option<&ClusterNetwork>| n.and_then(|n| n.cni_config.clone());
    let (n_cni, o_cni) = (legacy(new), legacy(old));
    if !n_cni.is_empty() {
        return n_cni == o_cni;
    }
    let Some(n_cfg) = config(new) else { return true };
    if !o_cni.is_empty() {
        return match o_cni.as_str() {
            "cilium" | "cilium-enterprise" => n_cfg.cilium.is_some(),
            "kindnetd" => n_cfg.kindnetd.is_some(),
            _ => false,
        };
    }
    match config(old) {
        Some(o_cfg) => {
            n_cfg.cilium.is_some() == o_cfg.cilium.is_some()
                && n_cfg.kindnetd.is_some() == o_cfg.kindnetd.is_some()
        }
        None => true,
    }
}

/// Fields that cannot change: the cluster's name and namespace, `managementCluster` (both
/// self-managed counts as equal), `datacenterRef`, the control-plane endpoint, the pod, service,
/// DNS and node network settings, the CNI plugin, the proxy, the etcd topology, `gitOpsRef`
/// (unless the old cluster is self-managed) and the repository settings of its GitOps object,
/// the AWSIamConfig reference and its region, partition and backends, and on Tinkerbell the
/// control-plane and worker labels and taints.
pub fn validate_immutable_fields(old: &ConfigSet, new: &ConfigSet) -> Vec<Violation> {
    let (o, n) = (&old.cluster, &new.cluster);
    let id = object_id(n);
    let mut out = Vec::new();
    let immutable = |path: &str, what: String| {
        Violation::new(&id, path, format!("{what}: field is immutable"))
            .with_hint("keep the value the cluster was created with")
    };
    if o.name() != n.name() {
        out.push(
            Violation::new(
                &id,
                "metadata.name",
                format!(
                    "cluster name is immutable. previous name {}, new name {}",
                    o.name(),
                    n.name()
                ),
            )
            .with_hint("to get a cluster with another name, create a new cluster"),
        );
    }
    if o.namespace() != n.namespace() && !(o.namespace() == "default" && n.namespace().is_empty()) {
        out.push(Violation::new(
            &id,
            "metadata.namespace",
            "cluster namespace is immutable",
        ));
    }
    let mgmt = |c: &Cluster| {
        spec(c)
            .and_then(|s| s.management_cluster.as_ref())
            .map(|m| s(&m.name).to_string())
            .unwrap_or_default()
    };
    if !(is_self_managed(o) && is_self_managed(n) || mgmt(o) == mgmt(n)) {
        out.push(immutable(
            "spec.managementCluster",
            format!("managementCluster {:?} -> {:?}", mgmt(o), mgmt(n)),
        ));
    }
    let dc_ref = |c: &Cluster| {
        spec(c)
            .and_then(|s| s.datacenter_ref.as_ref())
            .map(|r| (s(&r.kind).to_string(), s(&r.name).to_string()))
            .unwrap_or_default()
    };
    if dc_ref(o) != dc_ref(n) {
        out.push(immutable(
            "spec.datacenterRef",
            format!(
                "datacenterRef {}/{} -> {}/{}",
                dc_ref(o).0,
                dc_ref(o).1,
                dc_ref(n).0,
                dc_ref(n).1
            ),
        ));
    }
    fn endpoint(c: &Cluster) -> Option<&Endpoint> {
        control_plane(c).and_then(|cp| cp.endpoint.as_ref())
    }
    if !endpoint_equal(endpoint(n), endpoint(o), datacenter_kind(n)) {
        let host = |c: &Cluster| endpoint(c).map(|e| s(&e.host).to_string()).unwrap_or_default();
        out.push(immutable(
            "spec.controlPlaneConfiguration.endpoint",
            format!("endpoint {} -> {}", host(o), host(n)),
        ));
    }
    fn net(c: &Cluster) -> Option<&ClusterNetwork> {
        spec(c).and_then(|s| s.cluster_network.as_ref())
    }
    let cidrs = |c: &Cluster, pods: bool| {
        let b = net(c).and_then(|n| {
            if pods {
                n.pods.as_ref()
            } else {
                n.services.as_ref()
            }
        });
        b.map(|b| list(&b.cidr_blocks).to_vec()).unwrap_or_default()
    };
    if !same_multiset(&cidrs(o, true), &cidrs(n, true)) {
        out.push(immutable(
            "spec.clusterNetwork.pods",
            "clusterNetwork.pods".into(),
        ));
    }
    if !same_multiset(&cidrs(o, false), &cidrs(n, false)) {
        out.push(immutable(
            "spec.clusterNetwork.services",
            "clusterNetwork.services".into(),
        ));
    }
    let resolv = |c: &Cluster| {
        net(c)
            .and_then(|n| n.dns.as_ref())
            .and_then(|d| d.resolv_conf.as_ref())
            .map(|r| s(&r.path).to_string())
    };
    if resolv(o) != resolv(n) {
        out.push(immutable("spec.clusterNetwork.dns", "clusterNetwork.dns".into()));
    }
    let nodes = |c: &Cluster| net(c).and_then(|n| n.nodes.as_ref()).map(|n| n.cidr_mask_size);
    if nodes(o) != nodes(n) {
        out.push(immutable(
            "spec.clusterNetwork.nodes",
            "clusterNetwork.nodes".into(),
        ));
    }
    if !cni_plugin_same(net(n), net(o)) {
        out.push(
            Violation::new(
                &id,
                "spec.clusterNetwork.cniConfig",
                "spec.clusterNetwork.CNI/CNIConfig is immutable",
            )
            .with_hint("the CNI plugin cannot be swapped on a running cluster"),
        );
    }
    fn proxy(c: &Cluster) -> Option<&ProxyConfiguration> {
        spec(c).and_then(|s| s.proxy_configuration.as_ref())
    }
    let proxy_equal = match (proxy(o), proxy(n)) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.http_proxy.as_deref().unwrap_or("") == b.http_proxy.as_deref().unwrap_or("")
                && a.https_proxy.as_deref().unwrap_or("") == b.https_proxy.as_deref().unwrap_or("")
                && same_multiset(list(&a.no_proxy), list(&b.no_proxy))
        }
        _ => false,
    };
    if !proxy_equal {
        out.push(immutable("spec.proxyConfiguration", "proxyConfiguration".into()));
    }
    let external = |c: &Cluster| spec(c).is_some_and(|s| s.external_etcd_configuration.is_some());
    match (external(o), external(n)) {
        (false, true) => out.push(Violation::new(
            &id,
            "spec.externalEtcdConfiguration",
            "cannot switch from stacked to external etcd topology",
        )),
        (true, false) => out.push(Violation::new(
            &id,
            "spec.externalEtcdConfiguration",
            "cannot switch from external to stacked etcd topology",
        )),
        _ => {}
    }
    out.extend(gitops_immutable(old, new, &id));
    if datacenter_kind(n) == "TinkerbellDatacenterConfig" {
        out.extend(tinkerbell_labels_and_taints(o, n, &id));
    }
    out.extend(aws_iam_immutable(old, new, &id));
    out
}

fn gitops_immutable(old: &ConfigSet, new: &ConfigSet, id: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    let gref = |c: &Cluster| {
        spec(c)
            .and_then(|s| s.git_ops_ref.as_ref())
            .map(|r| (s(&r.kind).to_string(), s(&r.name).to_string()))
    };
    let (o, n) = (gref(&old.cluster), gref(&new.cluster));
    if o != n {
        if !is_self_managed(&old.cluster) {
            out.push(
                Violation::new(id, "spec.gitOpsRef", "gitOpsRef: field is immutable")
                    .with_hint("a workload cluster keeps the GitOps configuration it was created with"),
            );
        }
        return out;
    }
    let Some((kind, name)) = o else { return out };
    let field = |path: &str, a: String, b: String, out: &mut Vec<Violation>| {
        if a != b {
            out.push(
                Violation::new(
                    format!("{kind}/{name}"),
                    path,
                    format!("{kind} {path} is immutable"),
                )
                .with_hint(format!("keep {a:?}")),
            );
        }
    };
    match (old.find(&kind, &name), new.find(&kind, &name)) {
        (Some(Object::FluxConfig(a)), Some(Object::FluxConfig(b))) => {
            let (a, b) = (
                a.spec.clone().unwrap_or_default(),
                b.spec.clone().unwrap_or_default(),
            );
            if let Some(ag) = &a.git {
                let bg = b.git.clone().unwrap_or_default();
                field(
                    "spec.git.repositoryUrl",
                    s(&ag.repository_url).into(),
                    s(&bg.repository_url).into(),
                    &mut out,
                );
                field(
                    "spec.git.sshKeyAlgorithm",
                    s(&ag.ssh_key_algorithm).into(),
                    s(&bg.ssh_key_algorithm).into(),
                    &mut out,
                );
            }
            if let Some(ag) = &a.github {
                let bg = b.github.clone().unwrap_or_default();
                field(
                    "spec.github.repository",
                    s(&ag.repository).into(),
                    s(&bg.repository).into(),
                    &mut out,
                );
                field(
                    "spec.github.owner",
                    s(&ag.owner).into(),
                    s(&bg.owner).into(),
                    &mut out,
                );
                field(
                    "spec.github.personal",
                    ag.personal.unwrap_or(false).to_string(),
                    bg.personal.unwrap_or(false).to_string(),
                    &mut out,
                );
            }
            field("spec.branch", s(&a.branch).into(), s(&b.branch).into(), &mut out);
            field(
                "spec.clusterConfigPath",
                s(&a.cluster_config_path).into(),
                s(&b.cluster_config_path).into(),
                &mut out,
            );
            field(
                "spec.systemNamespace",
                s(&a.system_namespace).into(),
                s(&b.system_namespace).into(),
                &mut out,
            );
        }
        (Some(Object::GitOpsConfig(a)), Some(Object::GitOpsConfig(b))) => {
            let gh = |g: &GitOpsConfig| {
                g.spec
                    .as_ref()
                    .and_then(|s| s.flux.as_ref())
                    .and_then(|f| f.github.clone())
                    .unwrap_or_default()
            };
            let (a, b) = (gh(a), gh(b));
            let p = "spec.flux.github";
            field(
                &format!("{p}.owner"),
                s(&a.owner).into(),
                s(&b.owner).into(),
                &mut out,
            );
            field(
                &format!("{p}.repository"),
                s(&a.repository).into(),
                s(&b.repository).into(),
                &mut out,
            );
            field(
                &format!("{p}.personal"),
                a.personal.unwrap_or(false).to_string(),
                b.personal.unwrap_or(false).to_string(),
                &mut out,
            );
            field(
                &format!("{p}.fluxSystemNamespace"),
                s(&a.flux_system_namespace).into(),
                s(&b.flux_system_namespace).into(),
                &mut out,
            );
            field(
                &format!("{p}.branch"),
                s(&a.branch).into(),
                s(&b.branch).into(),
                &mut out,
            );
            field(
                &format!("{p}.clusterConfigPath"),
                s(&a.cluster_config_path).into(),
                s(&b.cluster_config_path).into(),
                &mut out,
            );
        }
        _ => {}
    }
    out
}

fn tinkerbell_labels_and_taints(o: &Cluster, n: &Cluster, id: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    let hint = "bare-metal node labels and taints are set at provisioning; they cannot change in place";
    fn labels(c: &Cluster) -> Option<&std::collections::BTreeMap<String, String>> {
        control_plane(c).and_then(|cp| cp.labels.as_ref())
    }
    fn taints(c: &Cluster) -> Option<&Vec<Taint>> {
        control_plane(c).and_then(|cp| cp.taints.as_ref())
    }
    if labels(o) != labels(n) {
        out.push(
            Violation::new(
                id,
                "spec.controlPlaneConfiguration.labels",
                "controlPlaneConfiguration.labels: field is immutable",
            )
            .with_hint(hint),
        );
    }
    if taints(o) != taints(n) {
        out.push(
            Violation::new(
                id,
                "spec.controlPlaneConfiguration.taints",
                "controlPlaneConfiguration.taints: field is immutable",
            )
            .with_hint(hint),
        );
    }
    for (i, w) in workers(n).iter().enumerate() {
        let Some(ow) = workers(o).iter().find(|x| x.name == w.name) else {
            continue;
        };
        let path = format!("spec.workerNodeGroupConfigurations[{i}]");
        if ow.labels != w.labels {
            out.push(
                Violation::new(
                    id,
                    format!("{path}.labels"),
                    "workerNodeGroupConfigurations.labels: field is immutable",
                )
                .with_hint(hint),
            );
        }
        if ow.taints != w.taints {
            out.push(
                Violation::new(
                    id,
                    format!("{path}.taints"),
                    "workerNodeGroupConfigurations.taints: field is immutable",
                )
                .with_hint(hint),
            );
        }
    }
    out
}

fn aws_iam_immutable(old: &ConfigSet, new: &ConfigSet, id: &str) -> Vec<Violation> {
    let first = |c: &Cluster| {
        identity_provider_refs(c)
            .iter()
            .find(|r| s(&r.kind) == "AWSIamConfig")
            .map(|r| s(&r.name).to_string())
    };
    let (Some(o), Some(n)) = (first(&old.cluster), first(&new.cluster)) else {
        return Vec::new();
    };
    if o != n {
        return vec![
            Violation::new(
                id,
                "spec.identityProviderRefs",
                "identityProviderRefs AWSIamConfig: field is immutable",
            )
            .with_hint(format!("keep the reference to AWSIamConfig {o}")),
        ];
    }
    let (Some(a), Some(b)) = (old.get::<AWSIamConfig>(&o), new.get::<AWSIamConfig>(&n)) else {
        return Vec::new();
    };
    let (a, b) = (
        a.spec.clone().unwrap_or_default(),
        b.spec.clone().unwrap_or_default(),
    );
    let same = s(&a.aws_region) == s(&b.aws_region)
        && s(&a.partition) == s(&b.partition)
        && same_multiset(list(&a.backend_mode), list(&b.backend_mode));
    if same {
        return Vec::new();
    }
    vec![
        Violation::new(
            format!("AWSIamConfig/{n}"),
            "spec",
            "aws iam identity provider is immutable",
        )
        .with_hint("awsRegion, partition and backendMode cannot change; mapRoles and mapUsers can"),
    ]
}

/// `bundlesRef` cannot be removed unless `eksaVersion` replaces it.
pub fn validate_bundles_ref_update(old: &Cluster, new: &Cluster) -> Vec<Violation> {
    let had = spec(old).and_then(|s| s.bundles_ref.as_ref());
    let (has, eksa) = (
        spec(new).is_some_and(|s| s.bundles_ref.is_some()),
        spec(new).is_some_and(|s| s.eksa_version.is_some()),
    );
    match had {
        Some(b) if !has && !eksa => vec![
            Violation::new(
                object_id(new),
                "spec.bundlesRef",
                format!(
                    "field cannot be removed after setting. Previous value {{{} {} {}}}",
                    s(&b.name),
                    s(&b.namespace),
                    s(&b.api_version)
                ),
            )
            .with_hint("keep bundlesRef, or replace it with eksaVersion"),
        ],
        _ => Vec::new(),
    }
}

/// The version skew rule (`ValidateVersionSkew`): no downgrade, at most one minor version up.
fn version_skew(old: &KubeVersion, new: &KubeVersion) -> Option<String> {
    if new.compare(old) == Ordering::Less {
        return Some(format!(
            "kubernetes version downgrade is not supported ({old}) -> ({new})"
        ));
    }
    let diff = new.minor() as i64 - old.minor() as i64;
    (!(0..=1).contains(&diff))
        .then(|| format!("only +1 minor version skew is supported, minor version skew detected {diff}"))
}

/// `validateKubeVersionSkew`: the same minor is always fine, otherwise [`version_skew`].
fn kube_version_skew(old: &str, new: &str) -> Option<String> {
    let o = match KubeVersion::parse(old) {
        Ok(v) => v,
        Err(e) => return Some(format!("parsing cluster version: {e}")),
    };
    let n = match KubeVersion::parse(new) {
        Ok(v) => v,
        Err(e) => return Some(format!("parsing comparison version: {e}")),
    };
    if o.major() == n.major() && o.minor() == n.minor() {
        return None;
    }
    version_skew(&o, &n)
}

/// `kubernetesVersion`: no downgrade and at most one minor version per upgrade.
pub fn validate_kubernetes_version_skew(old: &Cluster, new: &Cluster) -> Vec<Violation> {
    match kube_version_skew(kubernetes_version(old), kubernetes_version(new)) {
        Some(m) => vec![
            Violation::new(object_id(new), "spec.kubernetesVersion", m).with_hint(format!(
                "upgrade one minor version at a time from {}",
                kubernetes_version(old)
            )),
        ],
        None => Vec::new(),
    }
}

/// `eksaVersion` cannot be removed once set.
pub fn validate_eksa_version_update(old: &Cluster, new: &Cluster) -> Vec<Violation> {
    let had = spec(old).and_then(|s| s.eksa_version.as_deref());
    match had {
        Some(v) if spec(new).is_none_or(|s| s.eksa_version.is_none()) => vec![
            Violation::new(
                object_id(new),
                "spec.eksaVersion",
                format!("field cannot be removed after setting. Previous value {v}"),
            )
            .with_hint("keep eksaVersion"),
        ],
        _ => Vec::new(),
    }
}

/// `eksaVersion` upgrades keep the major version and go up at most one minor version, never
/// down (a patch downgrade is allowed), unless the old cluster failed with
/// `EksaVersionInvalid` or the new version is the development build v0.19.0. An old version
/// that is not semver allows anything.
pub fn validate_eksa_version_skew(old: &Cluster, new: &Cluster) -> Vec<Violation> {
    let (Some(ov), Some(nv)) = (
        spec(old).and_then(|s| s.eksa_version.as_deref()),
        spec(new).and_then(|s| s.eksa_version.as_deref()),
    ) else {
        return Vec::new();
    };
    let Some(o) = Semver::parse(ov) else {
        return Vec::new();
    };
    let v = |m: String| vec![Violation::new(object_id(new), "spec.eksaVersion", m)];
    let Some(n) = Semver::parse(nv) else {
        return v("EksaVersion is not a valid semver".into());
    };
    if n == DEV_BUILD_VERSION {
        return Vec::new();
    }
    let minor_diff = n.minor as i64 - o.minor as i64;
    if n.major != o.major || minor_diff > 1 {
        let mut out = v(format!(
            "cannot upgrade to {n} from {o}: EksaVersion upgrades must have a skew of 1 minor version"
        ));
        out[0].hint = Some("upgrade through each minor release in turn".into());
        return out;
    }
    let failure = old.status.as_ref().and_then(|s| s.failure_reason.as_deref());
    if failure == Some(EKSA_VERSION_INVALID_REASON) {
        return Vec::new();
    }
    if minor_diff < 0 {
        return v(format!(
            "cannot downgrade from {o} to {n}: EksaVersion upgrades must be incremental"
        ));
    }
    Vec::new()
}

/// Worker `kubernetesVersion`s: each moves at most one minor version per upgrade (from its old
/// value, or the old cluster version when it had none), cannot be removed while the cluster
/// version goes up, and stays within two minor versions below the cluster version.
pub fn validate_worker_kubernetes_version_skew(old: &Cluster, new: &Cluster) -> Vec<Violation> {
    let id = object_id(new);
    let (old_cp, new_cp) = (kubernetes_version(old), kubernetes_version(new));
    let mut out = Vec::new();
    for (i, w) in workers(new).iter().enumerate() {
        let path = format!("spec.workerNodeGroupConfigurations[{i}].kubernetesVersion");
        let new_v = w.kubernetes_version.as_deref();
        let v = |m: String| Violation::new(&id, &path, m);
        if let Some(ow) = workers(old).iter().find(|o| o.name == w.name) {
            let old_v = ow.kubernetes_version.as_deref();
            match (old_v, new_v) {
                (Some(ov), None) => out.extend(remove_worker_version(ov, old_cp, new_cp).map(v)),
                (Some(ov), Some(nv)) => out.extend(kube_version_skew(ov, nv).map(v)),
                (None, Some(nv)) => out.extend(kube_version_skew(old_cp, nv).map(v)),
                (None, None) => {}
            }
        }
        if let Some(nv) = new_v
            && let Some(m) = control_plane_worker_skew(new_cp, nv)
        {
            out.push(
                Violation::new(&id, "spec.kubernetesVersion", m)
                    .with_hint("upgrade the worker groups before moving the control plane further"),
            );
        }
    }
    out
}

fn remove_worker_version(worker: &str, old_cp: &str, new_cp: &str) -> Option<String> {
    let parse = |t: &str| KubeVersion::parse(t).map_err(|e| format!("could not parse version: {e}"));
    let (w, o, n) = match (parse(worker), parse(old_cp), parse(new_cp)) {
        (Ok(w), Ok(o), Ok(n)) => (w, o, n),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Some(e),
    };
    if o.compare(&n) == Ordering::Less {
        return Some(format!(
            "can't simultaneously remove worker kubernetesVersion and upgrade cluster level kubernetesVersion: {new_cp}"
        ));
    }
    version_skew(&w, &n)
}

/// The control plane is at the worker's version or at most two minor versions ahead.
fn control_plane_worker_skew(cp: &str, worker: &str) -> Option<String> {
    let (w, c) = match (KubeVersion::parse(worker), KubeVersion::parse(cp)) {
        (Ok(w), Ok(c)) => (w, c),
        (Err(e), _) | (_, Err(e)) => {
            return Some(format!(
                "could not determine minor version difference: could not parse version: {e}"
            ));
        }
    };
    if w.major() != c.major() {
        return Some(format!(
            "could not determine minor version difference: major versions are not the same: {w} and {c}"
        ));
    }
    let diff = c.minor() as i64 - w.minor() as i64;
    (!(0..=2).contains(&diff))
        .then(|| format!("cluster level minor version must be within 2 versions greater than worker node group version: {worker}"))
}

/// `etcdEncryption`: only on vSphere, CloudStack and Nutanix, and then exactly one
/// configuration with one KMS provider (name, `unix://` socket) and some resources.
pub fn validate_etcd_encryption_update(new: &Cluster) -> Vec<Violation> {
    let Some(configs) = spec(new).and_then(|s| s.etcd_encryption.as_ref()) else {
        return Vec::new();
    };
    let id = object_id(new);
    let path = "spec.etcdEncryption";
    let mut out = Vec::new();
    let kind = datacenter_kind(new);
    if !matches!(
        kind,
        "VSphereDatacenterConfig" | "CloudStackDatacenterConfig" | "NutanixDatacenterConfig"
    ) {
        out.push(
            Violation::new(
                &id,
                path,
                format!("etcdEncryption is currently not supported for the provider: {kind}"),
            )
            .with_hint("etcd encryption is available on vSphere, CloudStack and Nutanix"),
        );
    }
    if let Some(m) = etcd_encryption_problem(configs) {
        out.push(Violation::new(&id, path, m));
    }
    out
}

fn etcd_encryption_problem(configs: &[EtcdEncryption]) -> Option<String> {
    if configs.is_empty() {
        return Some("etcdEncryption cannot be empty".into());
    }
    if configs.len() != 1 {
        return Some(
            "etcdEncryption config is invalid, only 1 encryption config is supported currently".into(),
        );
    }
    for (i, c) in configs.iter().enumerate() {
        let providers = list(&c.providers);
        if providers.is_empty() {
            return Some(format!("etcdEncryption[{i}].providers cannot be empty"));
        }
        if providers.len() != 1 {
            return Some(format!(
                "etcdEncryption[{i}].providers in invalid, only 1 encryption provider is currently supported"
            ));
        }
        for (j, p) in providers.iter().enumerate() {
            let problem = match &p.kms {
                None => Some("kms cannot be nil".to_string()),
                Some(k) if s(&k.name).is_empty() => Some("kms.name cannot be empty".into()),
                Some(k) if s(&k.socket_listen_address).is_empty() => {
                    Some("kms.socketListenAddress cannot be empty".into())
                }
                Some(k) => {
                    let addr = s(&k.socket_listen_address);
                    let scheme = addr
                        .split_once(':')
                        .map(|(sch, _)| sch)
                        .filter(|sch| {
                            sch.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                                && sch
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                        })
                        .unwrap_or("");
                    (!scheme.eq_ignore_ascii_case("unix"))
                        .then(|| format!("kms.socketListenAddress has unsupported scheme: {scheme}"))
                }
            };
            if let Some(m) = problem {
                return Some(format!("etcdEncryption[{i}].providers[{j}] is invalid: {m}"));
            }
        }
        if list(&c.resources).is_empty() {
            return Some(format!("etcdEncryption[{i}].resources cannot be empty"));
        }
    }
    None
}

#[cfg(test)]
mod tests;

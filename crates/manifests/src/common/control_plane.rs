//! The `KubeadmControlPlane` skeleton and its cluster configuration (README 5, A.2–A.5).
//!
//! A provider computes the parts that are its own (argument heads, volumes, files, commands) with
//! the helpers here and in the sibling modules, puts them in [`ControlPlaneParts`] and calls
//! [`kubeadm_control_plane`].

use std::collections::BTreeMap;

use anywhere_api::ClusterSpec;
use anywhere_api::meta::IntOrString;
use anywhere_catalog::KubeDistro;

use super::args::Args;
use super::{
    CONTAINERD_SOCKET, HOSTNAME_PLACEHOLDER, INFRASTRUCTURE_GROUP, TLS_CIPHER_SUITES, names, system_meta,
};
use crate::types::controlplane_v1beta2::{
    ApiServer, ClusterConfiguration, ControllerManager, Dns, Etcd, External, ExtraEnv, ExtraVolume, File,
    InfrastructureRef, InitConfiguration, JoinConfiguration, KubeadmConfigSpec, KubeadmConfigSpecUser,
    KubeadmControlPlane, KubeadmControlPlaneSpec, Local, MachineTemplate, Metadata, NodeRegistration,
    Patches, RollingUpdate, Rollout, Spec, Strategy, Taint,
};

/// The label on every control-plane machine.
pub const CONTROL_PLANE_NODE_ROLE_LABEL: &str = "node-role.kubernetes.io/control-plane";
/// The placeholder endpoint of external etcd until etcdadm fills it in.
pub const EXTERNAL_ETCD_PLACEHOLDER_ENDPOINT: &str = "https://placeholder:2379";
/// The encryption provider config path (etcd encryption).
pub const ENCRYPTION_PROVIDER_CONFIG_PATH: &str = "/etc/kubernetes/enc/encryption-config.yaml";
/// The AWS IAM authenticator webhook kubeconfig.
pub const AWS_IAM_AUTHENTICATOR_WEBHOOK_CONFIG: &str =
    "/etc/kubernetes/aws-iam-authenticator/kubeconfig.yaml";

/// Where the API server finds its etcd client certificates with external etcd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EtcdClientPaths {
    /// `caFile`.
    pub ca_file: &'static str,
    /// `certFile`.
    pub cert_file: &'static str,
    /// `keyFile`.
    pub key_file: &'static str,
}

impl EtcdClientPaths {
    /// kubeadm's default paths (cloud-init nodes).
    pub const KUBEADM: EtcdClientPaths = EtcdClientPaths {
        ca_file: "/etc/kubernetes/pki/etcd/ca.crt",
        cert_file: "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        key_file: "/etc/kubernetes/pki/apiserver-etcd-client.key",
    };
    /// Bottlerocket's paths.
    pub const BOTTLEROCKET: EtcdClientPaths = EtcdClientPaths {
        ca_file: "/var/lib/kubeadm/pki/etcd/ca.crt",
        cert_file: "/var/lib/kubeadm/pki/server-etcd-client.crt",
        key_file: "/var/lib/kubeadm/pki/apiserver-etcd-client.key",
    };
}

/// The etcd topology of the control plane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EtcdTopology {
    /// Stacked etcd with these `extraArgs` (no key when empty).
    Local(Args),
    /// External etcd (EtcdadmCluster) reached with these client certificates.
    External(EtcdClientPaths),
}

/// The local etcd `extraArgs` of providers that pin the cipher suite (Docker, vSphere,
/// CloudStack).
pub fn etcd_cipher_suite_args() -> Args {
    Args::literal(&[("cipher-suites", TLS_CIPHER_SUITES)])
}

/// The etcd section of the cluster configuration.
pub fn etcd(distro: &KubeDistro, topology: &EtcdTopology) -> Etcd {
    match topology {
        EtcdTopology::Local(args) => Etcd {
            local: Some(Local {
                image_repository: Some(distro.etcd.repository.clone()),
                image_tag: Some(distro.etcd.tag.clone()),
                extra_args: (!args.is_empty()).then(|| args.to_control_plane()),
                ..Default::default()
            }),
            external: None,
        },
        EtcdTopology::External(paths) => Etcd {
            external: Some(External {
                endpoints: Some(vec![EXTERNAL_ETCD_PLACEHOLDER_ENDPOINT.to_string()]),
                ca_file: Some(paths.ca_file.into()),
                cert_file: Some(paths.cert_file.into()),
                key_file: Some(paths.key_file.into()),
            }),
            local: None,
        },
    }
}

/// Which computed API-server arguments a provider adds (README A.2, A.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiServerArgOptions {
    /// Add `tls-cipher-suites` (Docker, vSphere, CloudStack).
    pub tls_cipher_suites: bool,
    /// Add `encryption-provider-config` when `etcdEncryption` is set (vSphere, Nutanix).
    pub encryption_provider_config: bool,
}

/// The computed API-server arguments (sorted when merged into a list): the user's
/// `apiServerExtraArgs`, `encryption-provider-config`, `tls-cipher-suites` and
/// `service-account-issuer` (podIamConfig, comma-appended to a user-given value). Identity
/// provider arguments (`oidc-*`, the AWS IAM webhook) are the caller's to add.
pub fn api_server_computed_args(
    spec: &ClusterSpec,
    options: ApiServerArgOptions,
) -> BTreeMap<String, String> {
    let mut args: BTreeMap<String, String> = spec
        .control_plane_configuration
        .as_ref()
        .and_then(|c| c.api_server_extra_args.clone())
        .unwrap_or_default();
    if options.encryption_provider_config && spec.etcd_encryption.as_ref().is_some_and(|e| !e.is_empty()) {
        args.insert(
            "encryption-provider-config".into(),
            ENCRYPTION_PROVIDER_CONFIG_PATH.into(),
        );
    }
    if options.tls_cipher_suites {
        args.insert("tls-cipher-suites".into(), TLS_CIPHER_SUITES.into());
    }
    if let Some(issuer) = spec
        .pod_iam_config
        .as_ref()
        .and_then(|p| p.service_account_issuer.clone())
        .filter(|i| !i.is_empty())
    {
        let value = match args.get("service-account-issuer") {
            Some(existing) if !existing.is_empty() => format!("{existing},{issuer}"),
            _ => issuer,
        };
        args.insert("service-account-issuer".into(), value);
    }
    args
}

/// A control-plane component configured beside the API server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComponentKind {
    /// `controllerManager`.
    ControllerManager,
    /// `scheduler`.
    Scheduler,
}

impl ComponentKind {
    /// The component's name in its kubeconfig file name: `controller-manager`, `scheduler`.
    pub fn file_stem(self) -> &'static str {
        match self {
            ComponentKind::ControllerManager => "controller-manager",
            ComponentKind::Scheduler => "scheduler",
        }
    }
}

/// How the API server of a provider running an external cloud provider is hardened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiServerHardening {
    /// `profiling=false` after the audit args and `tls-cipher-suites` among the computed args
    /// (vSphere, CloudStack).
    ProfilingOffAndCipherSuites,
    /// Neither (Nutanix).
    None,
}

/// The API-server args of the providers running an external cloud provider (vSphere,
/// CloudStack, Nutanix): the literal head `cloud-provider=external` (below Kubernetes 1.33), the
/// audit args, `profiling=false` per `hardening`, `feature-gates=KMSv1=true` with etcd
/// encryption from 1.29; then, sorted, [`api_server_computed_args`] (with
/// `encryption-provider-config`) and the identity-provider args.
pub fn external_cloud_api_server_args(
    spec: &ClusterSpec,
    oidc: Option<&anywhere_api::OIDCConfig>,
    minor: u32,
    hardening: ApiServerHardening,
) -> Args {
    let hardened = hardening == ApiServerHardening::ProfilingOffAndCipherSuites;
    let mut head = Args::default();
    if minor < 33 {
        head = head.with("cloud-provider", "external");
    }
    for (k, v) in super::audit::audit_args().pairs() {
        head = head.with(k, v);
    }
    if hardened {
        head = head.with("profiling", "false");
    }
    if super::encryption::has_etcd_encryption(spec) && minor >= 29 {
        head = head.with("feature-gates", "KMSv1=true");
    }
    let mut computed = api_server_computed_args(
        spec,
        ApiServerArgOptions {
            tls_cipher_suites: hardened,
            encryption_provider_config: true,
        },
    );
    computed.extend(super::aws_iam::identity_provider_args(spec, oidc));
    head.with_sorted(&computed)
}

/// The controller-manager or scheduler computed args: `tls-cipher-suites` and, for the
/// controller manager, `node-cidr-mask-size` when `clusterNetwork.nodes.cidrMaskSize` is set.
pub fn component_computed_args(spec: &ClusterSpec, component: ComponentKind) -> BTreeMap<String, String> {
    let mut args = BTreeMap::from([("tls-cipher-suites".to_string(), TLS_CIPHER_SUITES.to_string())]);
    if component == ComponentKind::ControllerManager
        && let Some(size) = spec
            .cluster_network
            .as_ref()
            .and_then(|n| n.nodes.as_ref())
            .and_then(|n| n.cidr_mask_size)
    {
        args.insert("node-cidr-mask-size".into(), size.to_string());
    }
    args
}

/// A control-plane component's settings (`controllerManager`, `scheduler`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Component {
    /// `extraArgs` (no key when empty).
    pub args: Args,
    /// `extraVolumes` (no key when empty).
    pub volumes: Vec<ExtraVolume>,
}

impl Component {
    fn to_typed(&self) -> ControllerManager {
        ControllerManager {
            extra_args: (!self.args.is_empty()).then(|| self.args.to_control_plane()),
            extra_envs: None,
            extra_volumes: (!self.volumes.is_empty()).then(|| self.volumes.clone()),
        }
    }
}

/// A Bottlerocket `kubeconfig` volume for the controller manager or scheduler
/// (`/var/lib/kubeadm/<component>.conf` mounted at `/etc/kubernetes/<component>.conf`).
pub fn bottlerocket_kubeconfig_volume(component: ComponentKind) -> ExtraVolume {
    let component = component.file_stem();
    ExtraVolume {
        host_path: Some(format!("/var/lib/kubeadm/{component}.conf")),
        mount_path: Some(format!("/etc/kubernetes/{component}.conf")),
        name: Some("kubeconfig".into()),
        path_type: Some("File".into()),
        read_only: Some(true),
    }
}

/// What goes into `clusterConfiguration`.
#[derive(Clone, Debug)]
pub struct ClusterConfigurationParts<'a> {
    /// The EKS Distro images.
    pub distro: &'a KubeDistro,
    /// Local or external etcd.
    pub etcd: EtcdTopology,
    /// `apiServer.certSANs` (no key when empty).
    pub cert_sans: Vec<String>,
    /// `apiServer.extraArgs`.
    pub api_server_args: Args,
    /// `apiServer.extraEnvs` (no key when empty).
    pub api_server_envs: Vec<ExtraEnv>,
    /// `apiServer.extraVolumes` (no key when empty).
    pub api_server_volumes: Vec<ExtraVolume>,
    /// `controllerManager` (no key when `None`).
    pub controller_manager: Option<Component>,
    /// `scheduler` (no key when `None`).
    pub scheduler: Option<Component>,
    /// `certificatesDir` (Bottlerocket: `/var/lib/kubeadm/pki`).
    pub certificates_dir: Option<String>,
    /// `featureGates`.
    pub feature_gates: Option<BTreeMap<String, bool>>,
}

/// Builds `clusterConfiguration`: image repository, etcd, DNS, API server, controller manager,
/// scheduler.
pub fn cluster_configuration(parts: &ClusterConfigurationParts<'_>) -> ClusterConfiguration {
    ClusterConfiguration {
        image_repository: Some(parts.distro.kubernetes.repository.clone()),
        etcd: Some(etcd(parts.distro, &parts.etcd)),
        dns: Some(Dns {
            image_repository: Some(parts.distro.core_dns.repository.clone()),
            image_tag: Some(parts.distro.core_dns.tag.clone()),
        }),
        api_server: Some(ApiServer {
            cert_sa_ns: (!parts.cert_sans.is_empty()).then(|| parts.cert_sans.clone()),
            extra_args: (!parts.api_server_args.is_empty()).then(|| parts.api_server_args.to_control_plane()),
            extra_envs: (!parts.api_server_envs.is_empty()).then(|| parts.api_server_envs.clone()),
            extra_volumes: (!parts.api_server_volumes.is_empty()).then(|| parts.api_server_volumes.clone()),
        }),
        controller_manager: parts.controller_manager.as_ref().map(Component::to_typed),
        scheduler: parts.scheduler.as_ref().map(Component::to_typed),
        certificates_dir: parts.certificates_dir.clone(),
        feature_gates: parts.feature_gates.clone(),
        ..Default::default()
    }
}

/// `featureGates: {EtcdLearnerMode: false}` for 29 ≤ minor < 33 (vSphere, Tinkerbell,
/// CloudStack).
pub fn etcd_learner_mode_gate(minor: u32) -> Option<BTreeMap<String, bool>> {
    (29..33)
        .contains(&minor)
        .then(|| BTreeMap::from([("EtcdLearnerMode".to_string(), false)]))
}

/// The `nodeRegistration` of an init or join configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeRegistrationParts {
    /// `criSocket` (containerd's socket, or none).
    pub cri_socket: Option<String>,
    /// `kubeletExtraArgs` (no key when `None`).
    pub kubelet_args: Option<Args>,
    /// `name` (cloud-init's hostname placeholder, or none).
    pub name: Option<String>,
    /// `taints` (no key when `None`).
    pub taints: Option<Vec<Taint>>,
    /// `ignorePreflightErrors`.
    pub ignore_preflight_errors: Option<Vec<String>>,
}

impl NodeRegistrationParts {
    /// containerd socket and cloud-init hostname, as vSphere, CloudStack and Docker's socket.
    pub fn cloud_init(kubelet_args: Args, taints: Option<Vec<Taint>>) -> NodeRegistrationParts {
        NodeRegistrationParts {
            cri_socket: Some(CONTAINERD_SOCKET.into()),
            kubelet_args: Some(kubelet_args),
            name: Some(HOSTNAME_PLACEHOLDER.into()),
            taints,
            ignore_preflight_errors: None,
        }
    }

    /// The typed node registration.
    pub fn to_typed(&self) -> NodeRegistration {
        NodeRegistration {
            cri_socket: self.cri_socket.clone(),
            kubelet_extra_args: self.kubelet_args.as_ref().map(Args::to_control_plane),
            name: self.name.clone(),
            taints: self.taints.clone(),
            ignore_preflight_errors: self.ignore_preflight_errors.clone(),
            ..Default::default()
        }
    }
}

/// Everything the KubeadmControlPlane skeleton takes.
#[derive(Clone, Debug)]
pub struct ControlPlaneParts {
    /// The cluster name (also the KCP name).
    pub cluster_name: String,
    /// `version`: the EKS Distro Kubernetes tag.
    pub version: String,
    /// `replicas`.
    pub replicas: i64,
    /// `rollout.strategy.rollingUpdate.maxSurge`.
    pub max_surge: i64,
    /// The machine template kind, e.g. `VSphereMachineTemplate`.
    pub machine_template_kind: String,
    /// The machine template name (`<no value>` when not supplied).
    pub machine_template_name: String,
    /// `machineTemplate.spec.deletion.nodeDeletionTimeoutSeconds` (Tinkerbell: 30).
    pub node_deletion_timeout_seconds: Option<i64>,
    /// `clusterConfiguration`.
    pub cluster_configuration: ClusterConfiguration,
    /// `files` (no key when empty).
    pub files: Vec<File>,
    /// `initConfiguration.nodeRegistration`.
    pub init_registration: NodeRegistrationParts,
    /// `joinConfiguration.nodeRegistration`.
    pub join_registration: NodeRegistrationParts,
    /// `patches` of init and join (a kubelet configuration file is used).
    pub patches: Option<Patches>,
    /// `preKubeadmCommands` (no key when empty).
    pub pre_kubeadm_commands: Vec<String>,
    /// `postKubeadmCommands` (no key when empty).
    pub post_kubeadm_commands: Vec<String>,
    /// `users` (no key when empty).
    pub users: Vec<KubeadmConfigSpecUser>,
    /// `format` (`cloud-config`, `bottlerocket`, or no key).
    pub format: Option<String>,
}

/// The control-plane replica count of a spec (`controlPlaneConfiguration.count`, default 1).
pub fn replicas(spec: &ClusterSpec) -> i64 {
    spec.control_plane_configuration
        .as_ref()
        .and_then(|c| c.count)
        .unwrap_or(1)
}

/// The control-plane rollout `maxSurge` (`upgradeRolloutStrategy.rollingUpdate.maxSurge`,
/// default 1).
pub fn max_surge(spec: &ClusterSpec) -> i64 {
    spec.control_plane_configuration
        .as_ref()
        .and_then(|c| c.upgrade_rollout_strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.max_surge)
        .unwrap_or(1)
}

/// Applies the reference's rollout rule to a built KubeadmControlPlane: without an
/// `upgradeRolloutStrategy` the strategy is `{rollingUpdate: {maxSurge: 1}, type: RollingUpdate}`
/// (what [`kubeadm_control_plane`] builds); with one, only `rollingUpdate.maxSurge` is written,
/// with no `type`.
pub fn apply_rollout_strategy(kcp: &mut KubeadmControlPlane, spec: &ClusterSpec) {
    let has_strategy = spec
        .control_plane_configuration
        .as_ref()
        .is_some_and(|c| c.upgrade_rollout_strategy.is_some());
    if !has_strategy {
        return;
    }
    if let Some(strategy) = kcp
        .spec
        .as_mut()
        .and_then(|s| s.rollout.as_mut())
        .and_then(|r| r.strategy.as_mut())
    {
        strategy.r#type = None;
    }
}

/// The control plane's user-given kubelet configuration, if any.
pub fn kubelet_configuration(spec: &ClusterSpec) -> Option<&serde_json::Value> {
    spec.control_plane_configuration
        .as_ref()
        .and_then(|c| c.kubelet_configuration.as_ref())
        .filter(|v| !v.is_null())
}

/// The control plane's node labels, if any.
pub fn labels(spec: &ClusterSpec) -> Option<&BTreeMap<String, String>> {
    spec.control_plane_configuration
        .as_ref()
        .and_then(|c| c.labels.as_ref())
}

/// The cluster's `clusterNetwork.dns.resolvConf.path`, if set.
pub fn resolv_conf(spec: &ClusterSpec) -> Option<&str> {
    spec.cluster_network
        .as_ref()
        .and_then(|n| n.dns.as_ref())
        .and_then(|d| d.resolv_conf.as_ref())
        .and_then(|r| r.path.as_deref())
        .filter(|p| !p.is_empty())
}

/// The user's `certSANs`.
pub fn cert_sans(spec: &ClusterSpec) -> Vec<String> {
    spec.control_plane_configuration
        .as_ref()
        .and_then(|c| c.cert_sans.clone())
        .unwrap_or_default()
}

/// Whether the control plane skips admission for system resources.
pub fn skips_admission_for_system_resources(spec: &ClusterSpec) -> bool {
    spec.control_plane_configuration
        .as_ref()
        .and_then(|c| c.skip_admission_for_system_resources)
        == Some(true)
}

/// Builds the KubeadmControlPlane in `eksa-system`.
pub fn kubeadm_control_plane(parts: ControlPlaneParts) -> KubeadmControlPlane {
    let non_empty = |v: Vec<String>| (!v.is_empty()).then_some(v);
    KubeadmControlPlane {
        api_version: Some("controlplane.cluster.x-k8s.io/v1beta2".into()),
        kind: Some("KubeadmControlPlane".into()),
        metadata: Some(system_meta(&names::control_plane_name(&parts.cluster_name))),
        spec: Some(KubeadmControlPlaneSpec {
            machine_template: Some(MachineTemplate {
                metadata: Some(Metadata {
                    labels: Some(BTreeMap::from([(
                        CONTROL_PLANE_NODE_ROLE_LABEL.to_string(),
                        String::new(),
                    )])),
                    annotations: None,
                }),
                spec: Some(Spec {
                    infrastructure_ref: Some(InfrastructureRef {
                        api_group: Some(INFRASTRUCTURE_GROUP.into()),
                        kind: Some(parts.machine_template_kind),
                        name: Some(parts.machine_template_name),
                    }),
                    deletion: parts.node_deletion_timeout_seconds.map(|s| {
                        crate::types::controlplane_v1beta2::Deletion {
                            node_deletion_timeout_seconds: Some(s),
                            ..Default::default()
                        }
                    }),
                    ..Default::default()
                }),
            }),
            kubeadm_config_spec: Some(KubeadmConfigSpec {
                cluster_configuration: Some(parts.cluster_configuration),
                files: (!parts.files.is_empty()).then_some(parts.files),
                init_configuration: Some(InitConfiguration {
                    node_registration: Some(parts.init_registration.to_typed()),
                    patches: parts.patches.clone(),
                    ..Default::default()
                }),
                join_configuration: Some(JoinConfiguration {
                    node_registration: Some(parts.join_registration.to_typed()),
                    patches: parts.patches,
                    ..Default::default()
                }),
                pre_kubeadm_commands: non_empty(parts.pre_kubeadm_commands),
                post_kubeadm_commands: non_empty(parts.post_kubeadm_commands),
                users: (!parts.users.is_empty()).then_some(parts.users),
                format: parts.format,
                ..Default::default()
            }),
            replicas: Some(parts.replicas),
            rollout: Some(Rollout {
                strategy: Some(Strategy {
                    rolling_update: Some(RollingUpdate {
                        max_surge: Some(IntOrString::Int(parts.max_surge)),
                    }),
                    r#type: Some("RollingUpdate".into()),
                }),
                ..Default::default()
            }),
            version: Some(parts.version),
            ..Default::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn distro() -> KubeDistro {
        let mut d = KubeDistro::default();
        d.kubernetes.repository = "k8s".into();
        d.etcd.repository = "etcd-repo".into();
        d.etcd.tag = "v3".into();
        d.core_dns.repository = "dns".into();
        d.core_dns.tag = "v1".into();
        d
    }

    fn spec(v: serde_json::Value) -> ClusterSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn external_etcd_points_at_the_placeholder_endpoint() {
        let e = etcd(&distro(), &EtcdTopology::External(EtcdClientPaths::BOTTLEROCKET));
        let v = serde_json::to_value(e).unwrap();
        assert_eq!(v["external"]["endpoints"], json!(["https://placeholder:2379"]));
        assert_eq!(
            v["external"]["certFile"],
            "/var/lib/kubeadm/pki/server-etcd-client.crt"
        );
    }

    #[test]
    fn local_etcd_without_args_has_no_extra_args_key() {
        let v = serde_json::to_value(etcd(&distro(), &EtcdTopology::Local(Args::default()))).unwrap();
        assert_eq!(
            v,
            json!({"local": {"imageRepository": "etcd-repo", "imageTag": "v3"}})
        );
    }

    #[test]
    fn api_server_computed_args_merge_user_args_and_append_issuer() {
        let s = spec(json!({
            "controlPlaneConfiguration": {"apiServerExtraArgs": {"service-account-issuer": "a", "x": "y"}},
            "podIamConfig": {"serviceAccountIssuer": "b"},
            "etcdEncryption": [{"resources": ["secrets"]}]
        }));
        let args = api_server_computed_args(
            &s,
            ApiServerArgOptions {
                tls_cipher_suites: true,
                encryption_provider_config: true,
            },
        );
        assert_eq!(args["service-account-issuer"], "a,b");
        assert_eq!(args["x"], "y");
        assert_eq!(args["tls-cipher-suites"], TLS_CIPHER_SUITES);
        assert_eq!(
            args["encryption-provider-config"],
            ENCRYPTION_PROVIDER_CONFIG_PATH
        );
    }

    fn arg_names(args: &Args) -> Vec<&str> {
        args.pairs().iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn external_cloud_api_server_args_follow_the_literal_head() {
        let s = spec(json!({
            "etcdEncryption": [{"providers": [], "resources": ["secrets"]}],
            "controlPlaneConfiguration": {"apiServerExtraArgs": {"a-user-arg": "x"}},
        }));
        let audit = [
            "audit-policy-file",
            "audit-log-path",
            "audit-log-maxage",
            "audit-log-maxbackup",
            "audit-log-maxsize",
        ];
        let hardened =
            external_cloud_api_server_args(&s, None, 29, ApiServerHardening::ProfilingOffAndCipherSuites);
        let mut want = vec!["cloud-provider"];
        want.extend(audit);
        want.extend([
            "profiling",
            "feature-gates",
            "a-user-arg",
            "encryption-provider-config",
            "tls-cipher-suites",
        ]);
        assert_eq!(arg_names(&hardened), want);
        let plain = external_cloud_api_server_args(&s, None, 33, ApiServerHardening::None);
        let mut want = audit.to_vec();
        want.extend(["feature-gates", "a-user-arg", "encryption-provider-config"]);
        assert_eq!(arg_names(&plain), want);
        let old = external_cloud_api_server_args(&ClusterSpec::default(), None, 28, ApiServerHardening::None);
        assert_eq!(arg_names(&old)[0], "cloud-provider");
        assert!(!arg_names(&old).contains(&"feature-gates"));
    }

    #[test]
    fn only_the_controller_manager_gets_the_node_cidr_mask_size() {
        let s = spec(json!({"clusterNetwork": {"nodes": {"cidrMaskSize": 28}}}));
        let cm = component_computed_args(&s, ComponentKind::ControllerManager);
        assert_eq!(cm.get("node-cidr-mask-size").map(String::as_str), Some("28"));
        assert!(cm.contains_key("tls-cipher-suites"));
        let scheduler = component_computed_args(&s, ComponentKind::Scheduler);
        assert_eq!(scheduler.keys().collect::<Vec<_>>(), ["tls-cipher-suites"]);
        assert_eq!(
            bottlerocket_kubeconfig_volume(ComponentKind::Scheduler)
                .host_path
                .as_deref(),
            Some("/var/lib/kubeadm/scheduler.conf")
        );
    }

    #[test]
    fn etcd_learner_mode_is_disabled_only_from_1_29_to_1_32() {
        assert!(etcd_learner_mode_gate(28).is_none());
        assert!(etcd_learner_mode_gate(29).is_some());
        assert!(etcd_learner_mode_gate(33).is_none());
    }

    #[test]
    fn control_plane_skeleton_has_rollout_label_and_infrastructure_ref() {
        let kcp = kubeadm_control_plane(ControlPlaneParts {
            cluster_name: "test".into(),
            version: "v1.19.8".into(),
            replicas: 3,
            max_surge: 1,
            machine_template_kind: "VSphereMachineTemplate".into(),
            machine_template_name: "<no value>".into(),
            node_deletion_timeout_seconds: None,
            cluster_configuration: ClusterConfiguration::default(),
            files: vec![],
            init_registration: NodeRegistrationParts::default(),
            join_registration: NodeRegistrationParts::default(),
            patches: None,
            pre_kubeadm_commands: vec![],
            post_kubeadm_commands: vec![],
            users: vec![],
            format: None,
        });
        let v = serde_json::to_value(kcp).unwrap();
        assert_eq!(
            v["spec"]["rollout"]["strategy"],
            json!({"rollingUpdate": {"maxSurge": 1}, "type": "RollingUpdate"})
        );
        assert_eq!(
            v["spec"]["machineTemplate"]["metadata"]["labels"][CONTROL_PLANE_NODE_ROLE_LABEL],
            ""
        );
        assert_eq!(
            v["spec"]["machineTemplate"]["spec"]["infrastructureRef"]["name"],
            "<no value>"
        );
        assert!(v["spec"]["kubeadmConfigSpec"].get("files").is_none());
    }

    #[test]
    fn an_upgrade_rollout_strategy_drops_the_strategy_type() {
        let mut kcp = KubeadmControlPlane {
            spec: Some(KubeadmControlPlaneSpec {
                rollout: Some(Rollout {
                    strategy: Some(Strategy {
                        rolling_update: None,
                        r#type: Some("RollingUpdate".into()),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        apply_rollout_strategy(&mut kcp, &ClusterSpec::default());
        assert!(
            kcp.spec
                .as_ref()
                .unwrap()
                .rollout
                .as_ref()
                .unwrap()
                .strategy
                .as_ref()
                .unwrap()
                .r#type
                .is_some()
        );
        let s = spec(
            json!({"controlPlaneConfiguration": {"upgradeRolloutStrategy": {"rollingUpdate": {"maxSurge": 2}}}}),
        );
        apply_rollout_strategy(&mut kcp, &s);
        assert!(
            kcp.spec
                .unwrap()
                .rollout
                .unwrap()
                .strategy
                .unwrap()
                .r#type
                .is_none()
        );
    }

    #[test]
    fn spec_accessors_default_sensibly() {
        let s = ClusterSpec::default();
        assert_eq!(replicas(&s), 1);
        assert_eq!(max_surge(&s), 1);
        assert_eq!(resolv_conf(&s), None);
        assert!(!skips_admission_for_system_resources(&s));
    }
}

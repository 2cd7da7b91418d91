//! The kubeadm objects of a Nutanix cluster: the `KubeadmControlPlane` (with kube-vip), the
//! external-etcd `EtcdadmCluster` and the workers' `KubeadmConfigTemplate`s, built on the
//! shared skeletons of `crate::common`.

use std::collections::BTreeMap;

use anywhere_api::{ClusterSpec, NutanixMachineConfigSpec, WorkerNodeGroupConfiguration};
use anywhere_catalog::KubeDistro;

use super::{CAPX_API_VERSION, MACHINE_TEMPLATE_KIND, first_user, kubeadm_user};
use crate::common::args::Args;
use crate::common::control_plane::{
    self as cp_common, ApiServerHardening, ClusterConfigurationParts, Component, ControlPlaneParts,
    EtcdClientPaths, EtcdTopology, NodeRegistrationParts,
};
use crate::common::etcd::{self as etcd_common, EtcdBootstrap, EtcdOptions};
use crate::common::kube_vip::{self, KubeVipOptions};
use crate::common::kubelet::KubeletSettings;
use crate::common::proxy::{self as proxy_common, Proxy};
use crate::common::registry_mirror::{self as mirror_common, RegistryMirror};
use crate::common::workers::{self as workers_common, ConfigTemplateParts};
use crate::common::{
    CONTAINERD_SOCKET, HOSTNAME_PLACEHOLDER, admission, audit, aws_iam, encryption, kubelet, taints,
};
use crate::types::bootstrap_v1beta2::KubeadmConfigTemplate;
use crate::types::controlplane_v1beta2::{File, KubeadmControlPlane};
use crate::{Manifest, Result};

/// What the KubeadmControlPlane is built from.
pub(super) struct KcpInputs<'a> {
    pub(super) spec: &'a ClusterSpec,
    pub(super) name: &'a str,
    pub(super) distro: &'a KubeDistro,
    pub(super) minor: u32,
    pub(super) machine: &'a NutanixMachineConfigSpec,
    pub(super) endpoint: &'a str,
    pub(super) kube_vip_image: &'a str,
    pub(super) mirror: Option<&'a RegistryMirror>,
    pub(super) proxy: Option<&'a Proxy>,
    pub(super) template_name: &'a str,
    pub(super) oidc: Option<&'a anywhere_api::OIDCConfig>,
}

pub(super) fn kubeadm_control_plane(k: &KcpInputs<'_>) -> Result<KubeadmControlPlane> {
    let spec = k.spec;
    let kubelet_config = cp_common::kubelet_configuration(spec);
    let encryption = encryption::has_etcd_encryption(spec);
    let aws_iam = aws_iam::has_identity_provider(spec, "AWSIamConfig");
    let admission = cp_common::skips_admission_for_system_resources(spec);

    // API server.
    let api_args = cp_common::external_cloud_api_server_args(spec, k.oidc, k.minor, ApiServerHardening::None);
    let mut volumes = audit::audit_volumes(audit::AUDIT_POLICY_PATH);
    if admission {
        volumes.push(admission::exclusion_rules_volume(admission::EXCLUSION_RULES_PATH));
    }
    if aws_iam {
        volumes.extend(aws_iam::aws_iam_volumes());
    }
    if encryption {
        volumes.extend(encryption::encryption_volumes(
            encryption::ConfigLocation::KubernetesDirectory,
        ));
    }
    let mut cert_sans: Vec<String> = ["localhost", "127.0.0.1", "0.0.0.0"].map(String::from).to_vec();
    cert_sans.extend(cp_common::cert_sans(spec));
    let cluster_configuration = cp_common::cluster_configuration(&ClusterConfigurationParts {
        distro: k.distro,
        etcd: if spec.external_etcd_configuration.is_some() {
            EtcdTopology::External(EtcdClientPaths::KUBEADM)
        } else {
            EtcdTopology::Local(Args::default())
        },
        cert_sans,
        api_server_args: api_args,
        api_server_envs: if admission {
            vec![admission::exclusion_rules_env()]
        } else {
            vec![]
        },
        api_server_volumes: volumes,
        controller_manager: Some(Component {
            args: Args::literal(&[
                ("cloud-provider", "external"),
                ("enable-hostpath-provisioner", "true"),
            ]),
            volumes: vec![],
        }),
        scheduler: None,
        certificates_dir: None,
        feature_gates: None,
    });

    // Files.
    let resolv_conf = cp_common::resolv_conf(spec);
    let mut files: Vec<File> = Vec::new();
    if let Some(config) = kubelet_config {
        files.push(kubelet::configuration_file(config, resolv_conf, &[]));
    }
    files.extend(encryption::encryption_configuration_file(
        spec,
        encryption::ConfigLocation::KubernetesDirectory,
    ));
    files.push(kube_vip_file(k.kube_vip_image, k.endpoint));
    files.extend(k.mirror.and_then(mirror_common::ca_file));
    files.extend(k.proxy.map(proxy_common::containerd_proxy_file));
    files.extend(k.mirror.map(mirror_common::containerd_files).unwrap_or_default());
    if aws_iam {
        files.extend(aws_iam::aws_iam_files(k.name));
    }
    if admission {
        files.push(admission::exclusion_rules_file());
    }
    files.push(audit::audit_policy_file(
        k.minor,
        audit::user_policy_content(spec),
    ));

    // Node registration.
    let settings = KubeletSettings::of(kubelet_config);
    let labels = cp_common::labels(spec);
    let init_args = eviction_kubelet_args(settings, resolv_conf, labels);
    let join_args = kubelet::node_args(cloud_provider_external(), settings, resolv_conf, labels);
    let taints = taints::control_plane_kubeadm_taints(spec, taints::ControlPlaneTaintPolicy::ListIfAny);

    let mut pre = mirror_common::containerd_commands(k.mirror, k.proxy);
    pre.extend(hostnamectl_commands());
    if k.minor >= 29 {
        pre.push(kube_vip::SUPER_ADMIN_COMMAND.to_string());
    }

    let mut kcp = cp_common::kubeadm_control_plane(ControlPlaneParts {
        cluster_name: k.name.to_string(),
        version: k.distro.kubernetes.tag.clone(),
        replicas: cp_common::replicas(spec),
        max_surge: cp_common::max_surge(spec),
        machine_template_kind: MACHINE_TEMPLATE_KIND.into(),
        machine_template_name: k.template_name.to_string(),
        node_deletion_timeout_seconds: None,
        cluster_configuration,
        files,
        init_registration: NodeRegistrationParts {
            cri_socket: None,
            kubelet_args: Some(init_args),
            name: None,
            taints: taints.clone(),
            ignore_preflight_errors: None,
        },
        join_registration: NodeRegistrationParts {
            cri_socket: Some(CONTAINERD_SOCKET.into()),
            kubelet_args: Some(join_args),
            name: Some(HOSTNAME_PLACEHOLDER.into()),
            taints,
            ignore_preflight_errors: None,
        },
        patches: kubelet_config.map(|_| kubelet::patches()),
        pre_kubeadm_commands: pre,
        post_kubeadm_commands: vec![
            "echo export KUBECONFIG=/etc/kubernetes/admin.conf >> /root/.bashrc".into(),
        ],
        users: vec![kubeadm_user(k.machine)?],
        format: None,
    });
    // With a user rollout strategy the Nutanix template writes only `maxSurge`, no `type`.
    let user_strategy = spec
        .control_plane_configuration
        .as_ref()
        .is_some_and(|c| c.upgrade_rollout_strategy.is_some());
    if user_strategy
        && let Some(strategy) = kcp
            .spec
            .as_mut()
            .and_then(|s| s.rollout.as_mut())
            .and_then(|r| r.strategy.as_mut())
    {
        strategy.r#type = None;
    }
    Ok(kcp)
}

/// `cloud-provider=external`, the head of every Nutanix kubelet's args.
fn cloud_provider_external() -> Args {
    Args::literal(&[("cloud-provider", "external")])
}

/// The kubelet args of the first control-plane node and of workers: `cloud-provider`, then
/// with flags disk-pressure eviction off and the computed args (no `read-only-port` or
/// `anonymous-auth`, unlike joining control-plane nodes); `node-labels` last.
fn eviction_kubelet_args(
    settings: KubeletSettings,
    resolv_conf: Option<&str>,
    labels: Option<&BTreeMap<String, String>>,
) -> Args {
    let args = match settings {
        KubeletSettings::ConfigurationFile => cloud_provider_external(),
        KubeletSettings::Flags => cloud_provider_external()
            .with("eviction-hard", kubelet::EVICTION_HARD_DISABLED)
            .with_sorted(&kubelet::computed_args(resolv_conf)),
    };
    args.with_node_labels(labels)
}

/// The Nutanix control-plane hostname commands: `hostnamectl` and `/etc/hosts`.
fn hostnamectl_commands() -> Vec<String> {
    let h = HOSTNAME_PLACEHOLDER;
    vec![
        format!("hostnamectl set-hostname \"{h}\""),
        "echo \"::1         ipv6-localhost ipv6-loopback\" >/etc/hosts".to_string(),
        "echo \"127.0.0.1   localhost\" >>/etc/hosts".to_string(),
        format!("echo \"127.0.0.1   {h}\" >> /etc/hosts"),
    ]
}

/// kube-vip's static Pod as a kubeadm file. Nutanix differs from vSphere and Tinkerbell:
/// `address` comes second, services and load balancing are off, `SYS_TIME` is added and the
/// kubeconfig host path is `FileOrCreate`.
fn kube_vip_file(image: &str, address: &str) -> File {
    let env = [
        ("vip_arp", "true"),
        ("address", address),
        ("port", "6443"),
        ("vip_cidr", "32"),
        ("cp_enable", "true"),
        ("cp_namespace", "kube-system"),
        ("vip_ddns", "false"),
        ("vip_leaderelection", "true"),
        ("vip_leaseduration", "15"),
        ("vip_renewdeadline", "10"),
        ("vip_retryperiod", "2"),
        ("svc_enable", "false"),
        ("lb_enable", "false"),
    ];
    kube_vip::file(&KubeVipOptions {
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        image: image.to_string(),
        kubeconfig_host_path: kube_vip::ADMIN_KUBECONFIG.to_string(),
        host_path_type: Some("FileOrCreate".into()),
        capabilities: ["NET_ADMIN", "SYS_TIME", "NET_RAW"].map(String::from).to_vec(),
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn etcdadm_cluster(
    spec: &ClusterSpec,
    name: &str,
    replicas: i64,
    distro: &KubeDistro,
    machine: &NutanixMachineConfigSpec,
    template_name: &str,
    proxy: Option<&Proxy>,
    mirror: Option<&RegistryMirror>,
) -> Result<Manifest> {
    let mut cluster = etcd_common::etcdadm_cluster(&EtcdOptions {
        cluster_name: name,
        replicas,
        distro,
        format: Some("cloud-config"),
        bootstrap: EtcdBootstrap::CloudInit {
            install_dir: Some("/usr/bin".into()),
            pre_commands: crate::common::hostname_commands(),
            release_url: etcd_common::release_url_for(spec.eksa_version.as_deref()),
        },
        user: Some(first_user(machine)?),
        infrastructure: (CAPX_API_VERSION, MACHINE_TEMPLATE_KIND, template_name),
        proxy,
        registry_mirror: mirror,
    });
    // Nutanix points etcd at the public.ecr.aws mirror's API endpoint, not at the bare mirror.
    if let (Some(m), Some(config)) = (
        mirror,
        cluster.spec.as_mut().and_then(|s| s.etcdadm_config_spec.as_mut()),
    ) && let Some(rm) = config.registry_mirror.as_mut()
    {
        // EKS-A's `publicMirror`, printed as `v2` when nothing mirrors public.ecr.aws.
        rm.endpoint = Some(m.public_mirror_endpoint().unwrap_or_else(|| "v2".to_string()));
    }
    Ok(Manifest::new(&cluster))
}

pub(super) fn kubeadm_config_template(
    spec: &ClusterSpec,
    group: &WorkerNodeGroupConfiguration,
    machine: &NutanixMachineConfigSpec,
    name: &str,
    mirror: Option<&RegistryMirror>,
    proxy: Option<&Proxy>,
) -> Result<KubeadmConfigTemplate> {
    let kubelet_config = workers_common::kubelet_configuration(group);
    let resolv_conf = cp_common::resolv_conf(spec);
    let args = eviction_kubelet_args(
        KubeletSettings::of(kubelet_config),
        resolv_conf,
        group.labels.as_ref(),
    );
    let group_taints = workers_common::taints(group);
    let mut files: Vec<File> = Vec::new();
    if let Some(config) = kubelet_config {
        files.push(kubelet::configuration_file(config, resolv_conf, &[]));
    }
    files.extend(mirror_common::proxy_and_mirror_files(proxy, mirror));
    let mut pre = mirror_common::containerd_commands(mirror, proxy);
    pre.push(format!("hostnamectl set-hostname \"{HOSTNAME_PLACEHOLDER}\""));
    Ok(workers_common::kubeadm_config_template(ConfigTemplateParts {
        name: name.to_string(),
        join_registration: NodeRegistrationParts {
            cri_socket: None,
            kubelet_args: Some(args),
            name: Some(HOSTNAME_PLACEHOLDER.into()),
            taints: (!group_taints.is_empty()).then_some(group_taints),
            ignore_preflight_errors: None,
        },
        patches: kubelet_config.map(|_| kubelet::patches()),
        files,
        pre_kubeadm_commands: pre,
        post_kubeadm_commands: vec![],
        users: vec![kubeadm_user(machine)?],
        format: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(args: &Args) -> Vec<&str> {
        args.pairs().iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn first_node_and_workers_turn_eviction_off_instead_of_hardening() {
        let labels = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let args = eviction_kubelet_args(KubeletSettings::Flags, None, Some(&labels));
        assert_eq!(
            names(&args),
            [
                "cloud-provider",
                "eviction-hard",
                "tls-cipher-suites",
                "node-labels"
            ]
        );
        assert_eq!(args.pairs()[1].1, kubelet::EVICTION_HARD_DISABLED);
        assert_eq!(
            names(&eviction_kubelet_args(
                KubeletSettings::ConfigurationFile,
                Some("/r"),
                None
            )),
            ["cloud-provider"]
        );
    }
}

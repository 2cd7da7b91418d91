//! The CloudStack provider: `CloudStackCluster` with one failure domain per availability zone,
//! `CloudStackMachineTemplate`s, the kubeadm objects with cloud-init hostname handling, data-disk
//! setup and symlinks, kube-vip on the control plane, and one credentials Secret per profile of
//! the CloudStack INI file ([`credential_secrets`]).

pub mod ini;

use std::collections::BTreeMap;

use anywhere_api::{AvailabilityZone, CloudStackMachineConfigSpec, ClusterSpec, Object};

use crate::common::args::Args;
use crate::common::cluster::{ClusterLabels, ClusterOptions, capi_cluster};
use crate::common::control_plane::{
    self as cp, ApiServerHardening, ClusterConfigurationParts, Component, ComponentKind, ControlPlaneParts,
    EtcdClientPaths, EtcdTopology, NodeRegistrationParts,
};
use crate::common::encryption::ConfigLocation;
use crate::common::etcd::{self, EtcdBootstrap, EtcdOptions, ReleaseUrl};
use crate::common::kube_vip::{self, ADMIN_KUBECONFIG, SUPER_ADMIN_COMMAND};
use crate::common::kubelet::KubeletSettings;
use crate::common::proxy::{self, Proxy};
use crate::common::registry_mirror::{self, RegistryMirror};
use crate::common::taints::{self, ControlPlaneTaintPolicy};
use crate::common::workers::{self, ConfigTemplateParts, MachineDeploymentOptions};
use crate::common::{
    admission, audit, aws_iam, encryption, hostname_commands, kube_minor, kubelet, retype, users,
};
use crate::types::cloudstack_v1beta3 as capc;
use crate::types::controlplane_v1beta2::{DiskSetup, Filesystem, Partition};
use crate::types::core::Secret;
use crate::{Error, Inputs, Manifest, Result, SYSTEM_NAMESPACE};

/// `CloudStackMachineTemplate`.
pub const MACHINE_TEMPLATE_KIND: &str = "CloudStackMachineTemplate";
/// The API version of CAPC's kinds.
pub const CAPC_API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta3";
/// The suffix of CloudStack annotations on machine templates.
pub const ANNOTATION_SUFFIX: &str = "cloudstack.anywhere.eks.amazonaws.com/v1alpha1";
/// The default API server port.
const DEFAULT_PORT: &str = "6443";
/// CAPC's provider-id with the cloud-init instance-id placeholder.
const PROVIDER_ID: &str = "cloudstack:///'{{ ds.meta_data.instance_id }}'";

/// The provider-level facts every object of a cluster shares.
struct Context<'a> {
    inputs: &'a Inputs<'a>,
    spec: ClusterSpec,
    zones: Vec<AvailabilityZone>,
    host: String,
    port: String,
    proxy: Option<Proxy>,
    mirror: Option<RegistryMirror>,
}

impl<'a> Context<'a> {
    fn new(inputs: &'a Inputs<'a>) -> Result<Context<'a>> {
        let spec = inputs.spec().into_owned();
        let zones = match &inputs.provider.datacenter {
            Object::CloudStackDatacenterConfig(d) => d
                .spec
                .as_ref()
                .and_then(|s| s.availability_zones.clone())
                .unwrap_or_default(),
            other => return Err(Error::UnsupportedProvider(other.kind().to_string())),
        };
        let (host, port) = split_host_port(&proxy::endpoint_host(&spec))?;
        let mut tail: Vec<String> = zones
            .iter()
            .filter_map(|az| az.management_api_endpoint.as_deref().and_then(url_host))
            .collect();
        tail.push(join_host_port(&host, &port));
        let proxy = proxy::proxy(&spec, &tail);
        let mirror = registry_mirror::registry_mirror(&spec, inputs.credentials)?;
        Ok(Context {
            inputs,
            spec,
            zones,
            host,
            port,
            proxy,
            mirror,
        })
    }

    fn cluster_name(&self) -> &str {
        self.inputs.cluster_name()
    }

    /// `swapoff`, the containerd reload, the hostname commands.
    fn base_commands(&self) -> Vec<String> {
        let mut commands = vec!["swapoff -a".to_string()];
        commands.extend(registry_mirror::containerd_commands(
            self.mirror.as_ref(),
            self.proxy.as_ref(),
        ));
        commands.extend(hostname_commands());
        commands
    }
}

/// `host[:port]` → (host, port), the port defaulting to 6443.
fn split_host_port(endpoint: &str) -> Result<(String, String)> {
    let invalid = |why: &str| Error::Invalid {
        what: format!("control plane endpoint {endpoint:?}"),
        why: why.into(),
    };
    let (host, port) = if let Some(rest) = endpoint.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, p)) => (h.to_string(), p.strip_prefix(':').unwrap_or("").to_string()),
            None => return Err(invalid("unbalanced brackets")),
        }
    } else {
        match endpoint.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h.to_string(), p.to_string()),
            _ => (endpoint.to_string(), String::new()),
        }
    };
    let port = if port.is_empty() {
        DEFAULT_PORT.to_string()
    } else {
        port
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((host, port)),
        _ => Err(invalid("invalid port")),
    }
}

fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The host name of a URL (`http://10.0.0.1:8080/client/api` → `10.0.0.1`).
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']')?.0,
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_string())
}

fn machine_spec(object: Option<&Object>, role: &str) -> Result<CloudStackMachineConfigSpec> {
    match object {
        Some(Object::CloudStackMachineConfig(m)) => Ok(m.spec.clone().unwrap_or_default()),
        Some(other) => Err(Error::Invalid {
            what: format!("{role} machine config"),
            why: format!("expected a CloudStackMachineConfig, got a {}", other.kind()),
        }),
        None => Err(Error::Missing(format!("the {role} CloudStackMachineConfig"))),
    }
}

/// The first user with its key re-serialised without comment.
fn user(machine: &CloudStackMachineConfigSpec) -> Result<(String, String)> {
    let (name, key) = users::first_user(machine.users.as_ref());
    Ok((name, users::normalize_ssh_key(&key)?))
}

/// Whether the machine has a data disk (a disk offering with an id or name).
fn disk_offering(machine: &CloudStackMachineConfigSpec) -> Option<&anywhere_api::DiskOffering> {
    machine.disk_offering.as_ref().filter(|d| {
        d.id.as_deref().is_some_and(|s| !s.is_empty()) || d.name.as_deref().is_some_and(|s| !s.is_empty())
    })
}

/// The data disk's partition, filesystem and mount.
fn disk_setup(machine: &CloudStackMachineConfigSpec) -> Option<(DiskSetup, Vec<Vec<String>>)> {
    let d = disk_offering(machine)?;
    let device = d.device.clone().unwrap_or_default();
    let label = d.label.clone().unwrap_or_default();
    let setup = DiskSetup {
        filesystems: Some(vec![Filesystem {
            device: Some(format!("{device}1")),
            overwrite: Some(false),
            extra_opts: Some(vec!["-E".into(), "lazy_itable_init=1,lazy_journal_init=1".into()]),
            filesystem: d.filesystem.clone(),
            label: Some(label.clone()),
            ..Default::default()
        }]),
        partitions: Some(vec![Partition {
            device: Some(device),
            layout: Some(true),
            overwrite: Some(false),
            table_type: Some("gpt".into()),
            ..Default::default()
        }]),
    };
    let mounts = vec![vec![
        format!("LABEL={label}"),
        d.mount_path.clone().unwrap_or_default(),
    ]];
    Some((setup, mounts))
}

/// How a symlink command ends its `else` branch (the templates differ in spacing).
#[derive(Clone, Copy)]
enum SymlinkStyle {
    ControlPlane,
    Worker,
    Etcd,
}

/// The commands that move each symlinked directory to the data disk, sorted by directory.
fn symlink_commands(machine: &CloudStackMachineConfigSpec, style: SymlinkStyle) -> Vec<String> {
    machine
        .symlinks
        .iter()
        .flatten()
        .map(|(dir, target)| {
            let head = format!(
                "if [ ! -L {dir} ] ;\n  then\n    mv {dir} {dir}-$(tr -dc A-Za-z0-9 < /dev/urandom | head -c 10) ;\n    mkdir -p {target} && ln -s {target} {dir} ;\n"
            );
            let tail = match style {
                SymlinkStyle::ControlPlane => format!("  else echo \"{dir} already symlnk\";\nfi"),
                SymlinkStyle::Worker => format!("  else echo \"{dir} already symlnk\" ;\nfi"),
                SymlinkStyle::Etcd => format!("  else\n    echo \"{dir} already symlnk\" ;\nfi"),
            };
            head + &tail
        })
        .collect()
}

/// A CAPC machine template from a machine config; without a name the `name` key is left out.
pub fn machine_template(
    name: &str,
    machine: &CloudStackMachineConfigSpec,
) -> capc::CloudStackMachineTemplate {
    let mut annotations = BTreeMap::new();
    if let Some(d) = machine.disk_offering.as_ref() {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        annotations.insert(
            format!("mountpath.diskoffering.{ANNOTATION_SUFFIX}"),
            s(&d.mount_path),
        );
        annotations.insert(format!("device.diskoffering.{ANNOTATION_SUFFIX}"), s(&d.device));
        annotations.insert(
            format!("filesystem.diskoffering.{ANNOTATION_SUFFIX}"),
            s(&d.filesystem),
        );
        annotations.insert(format!("label.diskoffering.{ANNOTATION_SUFFIX}"), s(&d.label));
    }
    if let Some(links) = machine.symlinks.as_ref() {
        let joined = links
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(",");
        annotations.insert(format!("symlinks.{ANNOTATION_SUFFIX}"), joined);
    }
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let identifier = |n: Option<&anywhere_api::Network>| capc::Offering {
        id: n.and_then(|n| non_empty(&n.id)),
        name: n.and_then(|n| non_empty(&n.name)),
    };
    let d = machine.disk_offering.clone().unwrap_or_default();
    let mut meta = crate::common::system_meta(name);
    if name.is_empty() {
        meta.name = None;
    }
    meta.annotations = (!annotations.is_empty()).then_some(annotations);
    capc::CloudStackMachineTemplate {
        api_version: Some(CAPC_API_VERSION.into()),
        kind: Some(MACHINE_TEMPLATE_KIND.into()),
        metadata: Some(meta),
        spec: Some(capc::CloudStackMachineTemplateSpec {
            template: Some(capc::Template {
                metadata: None,
                spec: Some(capc::Spec {
                    affinity: non_empty(&machine.affinity),
                    affinity_group_i_ds: machine.affinity_group_ids.clone().filter(|a| !a.is_empty()),
                    details: machine.user_custom_details.clone().filter(|d| !d.is_empty()),
                    disk_offering: Some(capc::DiskOffering {
                        custom_size_in_gb: Some(d.custom_size_in_gb.unwrap_or(0)),
                        device: Some(d.device.clone().unwrap_or_default()),
                        filesystem: Some(d.filesystem.clone().unwrap_or_default()),
                        id: non_empty(&d.id),
                        label: Some(d.label.clone().unwrap_or_default()),
                        mount_path: Some(d.mount_path.clone().unwrap_or_default()),
                        name: non_empty(&d.name),
                    }),
                    offering: Some(identifier(machine.compute_offering.as_ref())),
                    ssh_key: Some(String::new()),
                    template: Some(identifier(machine.template.as_ref())),
                    ..Default::default()
                }),
            }),
        }),
    }
}

/// Cluster-level and control-plane objects: the CAPI `Cluster`, the `CloudStackCluster`, the
/// `KubeadmControlPlane`, the external etcd `EtcdadmCluster` when configured, and the control
/// plane's (and etcd's) `CloudStackMachineTemplate`.
///
/// # Errors
/// A missing machine config or catalog entry, an unparsable endpoint or SSH key, incomplete
/// registry credentials.
pub fn control_plane(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let ctx = Context::new(inputs)?;
    let spec = &ctx.spec;
    let name = ctx.cluster_name().to_string();
    let version = inputs.kubernetes_version()?;
    let bundle = inputs.bundle(version)?;
    let distro = inputs.kube_distro(version)?;
    let tag = distro.kubernetes.tag.clone();
    let minor = kube_minor(&tag)?;
    let machine = machine_spec(inputs.provider.control_plane_machine.as_ref(), "control-plane")?;
    let external_etcd = spec.external_etcd_configuration.is_some();
    let cp_config = spec.control_plane_configuration.clone().unwrap_or_default();
    let port: i64 = ctx.port.parse().unwrap_or(6443);

    let mut out = vec![capi_cluster(
        spec,
        &ClusterOptions {
            name: &name,
            infrastructure_kind: "CloudStackCluster",
            labels: ClusterLabels::ClusterName,
            service_domain: None,
            control_plane_endpoint: Some((&ctx.host, port)),
            external_etcd,
        },
    )];

    out.push(Manifest::new(&capc::CloudStackCluster {
        api_version: Some(CAPC_API_VERSION.into()),
        kind: Some("CloudStackCluster".into()),
        metadata: Some(crate::common::system_meta(&name)),
        spec: Some(capc::CloudStackClusterSpec {
            control_plane_endpoint: Some(capc::ControlPlaneEndpoint {
                host: Some(ctx.host.clone()),
                port: Some(port),
            }),
            failure_domains: Some(ctx.zones.iter().map(failure_domain).collect()),
            sync_with_acs: None,
        }),
        status: None,
    }));

    // clusterConfiguration
    let skip_admission = cp::skips_admission_for_system_resources(spec);
    let has_encryption = encryption::has_etcd_encryption(spec);
    let api_server_args = cp::external_cloud_api_server_args(
        spec,
        inputs.provider.oidc.as_ref(),
        minor,
        ApiServerHardening::ProfilingOffAndCipherSuites,
    );
    let aws_iam = aws_iam::has_identity_provider(spec, "AWSIamConfig");
    let mut api_server_volumes = audit::audit_volumes(audit::AUDIT_POLICY_PATH);
    if skip_admission {
        api_server_volumes.push(admission::exclusion_rules_volume(admission::EXCLUSION_RULES_PATH));
    }
    if aws_iam {
        api_server_volumes.extend(aws_iam::aws_iam_volumes());
    }
    if has_encryption {
        api_server_volumes.extend(encryption::encryption_volumes(ConfigLocation::KubeadmDirectory));
    }
    let cluster_configuration = cp::cluster_configuration(&ClusterConfigurationParts {
        distro: &distro,
        etcd: if external_etcd {
            EtcdTopology::External(EtcdClientPaths::KUBEADM)
        } else {
            EtcdTopology::Local(cp::etcd_cipher_suite_args())
        },
        cert_sans: cp::cert_sans(spec),
        api_server_args,
        api_server_envs: if skip_admission {
            vec![admission::exclusion_rules_env()]
        } else {
            vec![]
        },
        api_server_volumes,
        controller_manager: Some(Component {
            args: Args::literal(&[("cloud-provider", "external"), ("profiling", "false")]).with_sorted(
                &cp::component_computed_args(spec, ComponentKind::ControllerManager),
            ),
            volumes: vec![],
        }),
        scheduler: Some(Component {
            args: Args::literal(&[("profiling", "false")])
                .with_sorted(&cp::component_computed_args(spec, ComponentKind::Scheduler)),
            volumes: vec![],
        }),
        certificates_dir: None,
        feature_gates: cp::etcd_learner_mode_gate(minor),
    });

    // files
    let resolv_conf = cp::resolv_conf(spec);
    let kubelet_config = cp::kubelet_configuration(spec);
    let mut files = Vec::new();
    if let Some(config) = kubelet_config {
        files.push(kubelet::configuration_file(config, resolv_conf, &[]));
    }
    files.extend(encryption::encryption_configuration_file(
        spec,
        ConfigLocation::KubeadmDirectory,
    ));
    if !inputs.features.cloudstack_kube_vip_disabled {
        let image = bundle
            .cloud_stack
            .as_ref()
            .and_then(|c| c.kube_vip.as_ref())
            .and_then(|k| k.uri.clone());
        files.push(kube_vip::file(&kube_vip::standard_options(
            &ctx.host,
            image.as_deref().unwrap_or(""),
            ADMIN_KUBECONFIG,
        )));
    }
    if skip_admission {
        files.push(admission::exclusion_rules_file());
    }
    files.push(audit::audit_policy_file(minor, audit::user_policy_content(spec)));
    files.extend(registry_mirror::proxy_and_mirror_files(
        ctx.proxy.as_ref(),
        ctx.mirror.as_ref(),
    ));
    if aws_iam {
        files.extend(aws_iam::aws_iam_files(&name));
    }

    let taints = taints::control_plane_kubeadm_taints(spec, ControlPlaneTaintPolicy::ListIfAny);
    let registration = NodeRegistrationParts::cloud_init(
        kubelet::node_args(
            Args::literal(&[("provider-id", PROVIDER_ID)]),
            KubeletSettings::of(kubelet_config),
            resolv_conf,
            cp::labels(spec),
        ),
        taints,
    );
    let mut pre_kubeadm_commands = ctx.base_commands();
    pre_kubeadm_commands.extend(symlink_commands(&machine, SymlinkStyle::ControlPlane));
    if minor >= 29 {
        pre_kubeadm_commands.push(SUPER_ADMIN_COMMAND.into());
    }
    let (user_name, key) = user(&machine)?;
    let mut kcp = cp::kubeadm_control_plane(ControlPlaneParts {
        cluster_name: name.clone(),
        version: tag.clone(),
        replicas: cp::replicas(spec),
        max_surge: cp::max_surge(spec),
        machine_template_kind: MACHINE_TEMPLATE_KIND.into(),
        machine_template_name: inputs.names.control_plane().to_string(),
        node_deletion_timeout_seconds: None,
        cluster_configuration,
        files,
        init_registration: registration.clone(),
        join_registration: registration,
        patches: kubelet_config.map(|_| kubelet::patches()),
        pre_kubeadm_commands,
        post_kubeadm_commands: vec![],
        users: vec![users::kubeadm_user(&user_name, &key)],
        format: Some("cloud-config".into()),
    });
    if let Some(s) = kcp.spec.as_mut() {
        if let Some(config_spec) = s.kubeadm_config_spec.as_mut()
            && let Some((setup, mounts)) = disk_setup(&machine)
        {
            config_spec.disk_setup = Some(setup);
            config_spec.mounts = Some(mounts);
        }
        if cp_config.upgrade_rollout_strategy.is_some()
            && let Some(strategy) = s.rollout.as_mut().and_then(|r| r.strategy.as_mut())
        {
            strategy.r#type = None;
        }
    }
    out.push(Manifest::new(&kcp));

    if external_etcd {
        let etcd_machine = machine_spec(inputs.provider.etcd_machine.as_ref(), "etcd")?;
        let mut pre_commands = vec!["swapoff -a".to_string()];
        pre_commands.extend(hostname_commands());
        if let Some(d) = disk_offering(&etcd_machine) {
            let device = d.device.clone().unwrap_or_default();
            let fs = d.filesystem.clone().unwrap_or_default();
            let path = d.mount_path.clone().unwrap_or_default();
            pre_commands.push(format!(
                "echo \"type=83\" | sfdisk {device} && mkfs -t {fs} {device}1 && mkdir -p {path} && echo {device}1 {path} {fs} defaults 0 2 >> /etc/fstab && mount {path}"
            ));
        }
        pre_commands.extend(symlink_commands(&etcd_machine, SymlinkStyle::Etcd));
        let mut etcdadm = etcd::etcdadm_cluster(&EtcdOptions {
            cluster_name: &name,
            replicas: etcd::external_etcd_replicas(spec).unwrap_or(1),
            distro: &distro,
            format: Some("cloud-config"),
            // CloudStack always writes the EKS Distro etcd URL.
            bootstrap: EtcdBootstrap::CloudInit {
                install_dir: Some("/usr/bin".into()),
                pre_commands,
                release_url: ReleaseUrl::Emit,
            },
            user: Some(user(&etcd_machine)?),
            infrastructure: (CAPC_API_VERSION, MACHINE_TEMPLATE_KIND, inputs.names.etcd()),
            proxy: ctx.proxy.as_ref(),
            registry_mirror: ctx.mirror.as_ref(),
        });
        if let Some(config) = etcdadm.spec.as_mut().and_then(|s| s.etcdadm_config_spec.as_mut()) {
            // etcdadm's bootstrap provider runs preEtcdadmCommands only when not built in.
            config.etcdadm_builtin = Some(false);
            config.etcdadm_install_commands = Some(vec![
                "echo this line exists so that etcdadmInstallCommands is not empty".into(),
                "echo etcdadmInstallCommands can be removed once etcdadm bootstrap and controller fix the bug".into(),
                "echo that preEtcdadmCommands not run unless etcdadmBuiltin is false".into(),
                "echo https://github.com/mrajashree/etcdadm-bootstrap-provider/issues/13".into(),
            ]);
        }
        out.push(Manifest::new(&etcdadm));
        out.push(Manifest::new(&machine_template(
            inputs.names.control_plane(),
            &machine,
        )));
        out.push(Manifest::new(&machine_template(
            inputs.names.etcd(),
            &etcd_machine,
        )));
    } else {
        out.push(Manifest::new(&machine_template(
            inputs.names.control_plane(),
            &machine,
        )));
    }
    Ok(out)
}

fn failure_domain(az: &AvailabilityZone) -> capc::FailureDomain {
    let zone = az.zone.clone().unwrap_or_default();
    let network = zone.network.clone().unwrap_or_default();
    capc::FailureDomain {
        name: az.name.clone(),
        zone: Some(capc::Zone {
            id: Some(zone.id.unwrap_or_default()),
            name: Some(zone.name.unwrap_or_default()),
            network: Some(capc::Network {
                id: Some(network.id.unwrap_or_default()),
                name: Some(network.name.unwrap_or_default()),
                ..Default::default()
            }),
        }),
        domain: Some(az.domain.clone().unwrap_or_default()),
        account: Some(az.account.clone().unwrap_or_default()),
        acs_endpoint: Some(capc::AcsEndpoint {
            name: Some(az.credentials_ref.clone().unwrap_or_default()),
            namespace: Some(SYSTEM_NAMESPACE.into()),
        }),
        project: None,
    }
}

/// Per worker group, in spec order: `KubeadmConfigTemplate`, `MachineDeployment`,
/// `CloudStackMachineTemplate`.
///
/// # Errors
/// A group without a machine config or catalog entry, an unparsable SSH key, incomplete
/// registry credentials.
pub fn workers(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let ctx = Context::new(inputs)?;
    let spec = &ctx.spec;
    let name = ctx.cluster_name().to_string();
    let resolv_conf = cp::resolv_conf(spec);
    let mut out = Vec::new();
    for group in spec.worker_node_group_configurations.iter().flatten() {
        let group_name = workers::group_name(group);
        let machine = machine_spec(
            workers::machine_config(inputs, group),
            &format!("worker group {group_name:?}"),
        )?;
        let version = workers::kubernetes_version(inputs, group)?;
        let distro = inputs.kube_distro(version)?;
        let machine_template_name = inputs.names.worker_machine(group_name);
        let config_template_name = inputs.names.worker_kubeadm_config(group_name);

        let kubelet_config = workers::kubelet_configuration(group);
        let mut files = Vec::new();
        if let Some(config) = kubelet_config {
            files.push(kubelet::configuration_file(config, resolv_conf, &[]));
        }
        files.extend(registry_mirror::proxy_and_mirror_files(
            ctx.proxy.as_ref(),
            ctx.mirror.as_ref(),
        ));
        let mut pre_kubeadm_commands = ctx.base_commands();
        pre_kubeadm_commands.extend(symlink_commands(&machine, SymlinkStyle::Worker));
        let (user_name, key) = user(&machine)?;
        let mut kct = workers::kubeadm_config_template(ConfigTemplateParts {
            name: config_template_name.to_string(),
            join_registration: NodeRegistrationParts::cloud_init(
                kubelet::node_args(
                    Args::literal(&[("provider-id", PROVIDER_ID)]),
                    KubeletSettings::of(kubelet_config),
                    resolv_conf,
                    group.labels.as_ref(),
                ),
                Some(workers::taints(group)),
            ),
            patches: kubelet_config.map(|_| kubelet::patches()),
            files,
            pre_kubeadm_commands,
            post_kubeadm_commands: vec![],
            users: vec![users::kubeadm_user(&user_name, &key)],
            format: Some("cloud-config".into()),
        });
        if let Some(s) = kct
            .spec
            .as_mut()
            .and_then(|s| s.template.as_mut())
            .and_then(|t| t.spec.as_mut())
            && let Some((setup, mounts)) = disk_setup(&machine)
        {
            s.disk_setup = Some(retype(&setup));
            s.mounts = Some(mounts);
        }
        out.push(Manifest::new(&kct));
        out.push(Manifest::new(&workers::machine_deployment(
            &MachineDeploymentOptions {
                cluster_name: &name,
                group,
                version: &distro.kubernetes.tag,
                machine_template_kind: MACHINE_TEMPLATE_KIND,
                machine_template_name,
                config_template_name,
                failure_domain: None,
            },
        )));
        out.push(Manifest::new(&machine_template(machine_template_name, &machine)));
    }
    Ok(out)
}

/// One `v1` Secret per profile of the CloudStack credentials INI
/// (`inputs.credentials.cloudstack_b64_secret`), in file order, in `eksa-system`, with
/// `stringData` `api-key`, `api-url`, `secret-key`, `verify-ssl`. Profiles whose Secret already
/// exists (`existing_secret_names`) are skipped.
///
/// # Errors
/// [`Error::Missing`] without the credentials; [`Error::Invalid`] when they do not decode or
/// parse.
pub fn credential_secrets(inputs: &Inputs<'_>, existing_secret_names: &[String]) -> Result<Vec<Manifest>> {
    let b64 = inputs
        .credentials
        .cloudstack_b64_secret
        .as_deref()
        .ok_or_else(|| Error::Missing("EKSA_CLOUDSTACK_B64ENCODED_SECRET".into()))?;
    let profiles = ini::profiles_from_base64(b64)?;
    Ok(profiles
        .into_iter()
        .filter(|p| !existing_secret_names.contains(&p.name))
        .map(|p| {
            let mut secret = Secret::new(&p.name, SYSTEM_NAMESPACE);
            secret.string_data = Some(BTreeMap::from([
                ("api-key".to_string(), p.api_key),
                ("api-url".to_string(), p.api_url),
                ("secret-key".to_string(), p.secret_key),
                ("verify-ssl".to_string(), p.verify_ssl),
            ]));
            Manifest::new(&secret)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_port_defaults_to_6443() {
        assert_eq!(
            split_host_port("1.2.3.4").unwrap(),
            ("1.2.3.4".into(), "6443".into())
        );
        assert_eq!(
            split_host_port("1.2.3.4:443").unwrap(),
            ("1.2.3.4".into(), "443".into())
        );
        assert!(split_host_port("1.2.3.4:0").is_err());
        assert_eq!(join_host_port("::1", "6443"), "[::1]:6443");
    }

    #[test]
    fn management_endpoint_host() {
        assert_eq!(
            url_host("http://127.16.0.1:8080/client/api").as_deref(),
            Some("127.16.0.1")
        );
        assert_eq!(
            url_host("https://cloud.example.com/client").as_deref(),
            Some("cloud.example.com")
        );
        assert_eq!(url_host("nope"), None);
    }

    #[test]
    fn symlink_commands_are_sorted_and_styled() {
        let m = CloudStackMachineConfigSpec {
            symlinks: Some(BTreeMap::from([
                ("/b".into(), "/d/b".into()),
                ("/a".into(), "/d/a".into()),
            ])),
            ..Default::default()
        };
        let c = symlink_commands(&m, SymlinkStyle::Worker);
        assert!(c[0].starts_with("if [ ! -L /a ] ;\n  then\n"));
        assert!(c[1].ends_with("  else echo \"/b already symlnk\" ;\nfi"));
        assert!(
            symlink_commands(&m, SymlinkStyle::Etcd)[0]
                .contains("  else\n    echo \"/a already symlnk\" ;\nfi")
        );
    }

    #[test]
    fn machine_template_without_name_has_no_name_key() {
        let t = machine_template("", &CloudStackMachineConfigSpec::default());
        let v = serde_json::to_value(t).unwrap();
        assert!(v["metadata"].get("name").is_none());
        assert_eq!(v["spec"]["template"]["spec"]["sshKey"], "");
        assert_eq!(v["spec"]["template"]["spec"]["diskOffering"]["customSizeInGB"], 0);
    }
}

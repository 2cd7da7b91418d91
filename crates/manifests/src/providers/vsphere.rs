//! The vSphere provider: CAPV objects, the kubeadm control plane and workers on cloud-init
//! (Ubuntu, RHEL) or Bottlerocket nodes, the CPI ClusterResourceSet, credentials and failure
//! domains.

use std::collections::BTreeMap;

use base64::Engine;

use anywhere_api::{
    ClusterSpec, Object, VSphereDatacenterConfigSpec, VSphereMachineConfigSpec, WorkerNodeGroupConfiguration,
};
use anywhere_catalog::KubeDistro;
use anywhere_catalog::generated::VersionsBundle;

use crate::common::args::Args;
use crate::common::bottlerocket::{self, ImageRef, KubeadmExtensions};
use crate::common::cluster::{self, ClusterLabels, ClusterOptions};
use crate::common::control_plane::{
    self as cp, ApiServerHardening, ClusterConfigurationParts, Component, ComponentKind, ControlPlaneParts,
    EtcdClientPaths, EtcdTopology, NodeRegistrationParts,
};
use crate::common::etcd::{self, EtcdBootstrap, EtcdOptions};
use crate::common::proxy::{self, Proxy};
use crate::common::registry_mirror::{self, RegistryMirror};
use crate::common::taints::{self, ControlPlaneTaintPolicy};
use crate::common::workers::{self, ConfigTemplateParts, MachineDeploymentOptions};
use crate::common::{
    CLUSTER_NAME_LABEL, admission, audit, aws_iam, encryption, hostname_commands, kube_vip, kubelet,
    system_meta, users,
};
use crate::types::addons_v1beta2::{
    ClusterResourceSet, ClusterResourceSetSpec, ClusterResourceSetSpecResource, ClusterSelector,
};
use crate::types::controlplane_v1beta2::{File, Taint};
use crate::types::core::{ConfigMap, Secret};
use crate::types::vsphere_v1beta1::{
    Device, IdentityRef, Network, PlacementConstraint, Region, Spec as MachineSpec, Template, Topology,
    VSphereCluster, VSphereClusterSpec, VSphereDeploymentZone, VSphereDeploymentZoneSpec,
    VSphereFailureDomain, VSphereFailureDomainSpec, VSphereMachineTemplate, VSphereMachineTemplateSpec,
};
use crate::{Error, Inputs, Manifest, Result, SYSTEM_NAMESPACE};

mod cpi;

/// The CAPV API version.
const CAPV_API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta1";
/// The machine template kind.
const MACHINE_TEMPLATE_KIND: &str = "VSphereMachineTemplate";
/// The resource-set Secret type.
const RESOURCE_SET_TYPE: &str = "addons.cluster.x-k8s.io/resource-set";

/// The OS family of a machine config, which decides the bootstrap format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Os {
    CloudInit,
    Bottlerocket,
}

impl Os {
    fn of(machine: &VSphereMachineConfigSpec) -> Os {
        match machine.os_family.as_deref() {
            Some("bottlerocket") | None | Some("") => Os::Bottlerocket,
            _ => Os::CloudInit,
        }
    }
    fn format(self) -> &'static str {
        match self {
            Os::CloudInit => bottlerocket::CLOUD_CONFIG_FORMAT,
            Os::Bottlerocket => bottlerocket::FORMAT,
        }
    }
}

/// What every vSphere generator reads from its inputs.
struct Context<'a> {
    inputs: &'a Inputs<'a>,
    spec: ClusterSpec,
    name: &'a str,
    datacenter: VSphereDatacenterConfigSpec,
    proxy: Option<Proxy>,
    mirror: Option<RegistryMirror>,
}

impl<'a> Context<'a> {
    fn new(inputs: &'a Inputs<'a>) -> Result<Context<'a>> {
        let Object::VSphereDatacenterConfig(dc) = &inputs.provider.datacenter else {
            return Err(Error::Missing("a VSphereDatacenterConfig".into()));
        };
        let datacenter = dc.spec.clone().unwrap_or_default();
        let spec = inputs.spec().into_owned();
        let tail = [
            datacenter.server.clone().unwrap_or_default(),
            proxy::endpoint_host(&spec),
        ];
        let proxy = proxy::proxy(&spec, &tail);
        let mirror = registry_mirror::registry_mirror(&spec, inputs.credentials)?;
        Ok(Context {
            inputs,
            name: inputs.cluster_name(),
            spec,
            datacenter,
            proxy,
            mirror,
        })
    }

    fn server(&self) -> &str {
        self.datacenter.server.as_deref().unwrap_or("")
    }

    fn thumbprint(&self) -> &str {
        self.datacenter.thumbprint.as_deref().unwrap_or("")
    }

    fn datacenter_name(&self) -> &str {
        self.datacenter.datacenter.as_deref().unwrap_or("")
    }
}

fn machine_spec(object: Option<&Object>, role: &str) -> Result<VSphereMachineConfigSpec> {
    match object {
        Some(Object::VSphereMachineConfig(m)) => Ok(m.spec.clone().unwrap_or_default()),
        _ => Err(Error::Missing(format!("the VSphereMachineConfig of the {role}"))),
    }
}

fn b64(value: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(value)
}

/// The first user of a machine config with its key re-serialised as vSphere does.
fn node_user(machine: &VSphereMachineConfigSpec) -> Result<(String, String)> {
    let (name, key) = users::first_user(machine.users.as_ref());
    Ok((name, users::normalize_ssh_key(&key)?))
}

/// Which networks a machine template attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Networks {
    /// The datacenter's network (control plane, etcd).
    Datacenter,
    /// The machine config's `networks` when set, else the datacenter's (workers).
    MachineConfig,
}

/// The `VSphereMachineTemplate` of a machine config.
fn machine_template(
    ctx: &Context<'_>,
    name: &str,
    machine: &VSphereMachineConfigSpec,
    networks: Networks,
) -> VSphereMachineTemplate {
    let names: Vec<String> = match (networks, machine.networks.as_ref().filter(|n| !n.is_empty())) {
        (Networks::MachineConfig, Some(list)) => list.clone(),
        _ => vec![ctx.datacenter.network.clone().unwrap_or_default()],
    };
    let devices = names
        .into_iter()
        .map(|n| Device {
            dhcp4: Some(true),
            network_name: Some(n),
            ..Default::default()
        })
        .collect();
    let non_empty = |s: &Option<String>| s.clone().filter(|v| !v.is_empty());
    VSphereMachineTemplate {
        api_version: Some(CAPV_API_VERSION.into()),
        kind: Some(MACHINE_TEMPLATE_KIND.into()),
        metadata: Some(system_meta(name)),
        spec: Some(VSphereMachineTemplateSpec {
            template: Some(Template {
                metadata: None,
                spec: Some(MachineSpec {
                    clone_mode: machine.clone_mode.clone(),
                    datacenter: Some(ctx.datacenter_name().to_string()),
                    datastore: machine.datastore.clone(),
                    disk_gi_b: machine.disk_gi_b,
                    folder: machine.folder.clone(),
                    memory_mi_b: machine.memory_mi_b,
                    network: Some(Network {
                        devices: Some(devices),
                        ..Default::default()
                    }),
                    num_cp_us: machine.num_cp_us,
                    resource_pool: machine.resource_pool.clone(),
                    server: Some(ctx.server().to_string()),
                    storage_policy_name: non_empty(&machine.storage_policy_name),
                    template: Some(machine.template.clone().unwrap_or_default()),
                    thumbprint: Some(ctx.thumbprint().to_string()),
                    tag_i_ds: machine.tags.clone().filter(|t| !t.is_empty()),
                    ..Default::default()
                }),
            }),
        }),
    }
}

/// The kubelet literal head of vSphere nodes.
fn kubelet_head() -> Args {
    Args::literal(&[
        ("cloud-provider", "external"),
        ("read-only-port", "0"),
        ("anonymous-auth", "false"),
    ])
}

/// Whether worker kubelets pin `cgroup-driver=systemd` (the reference does for Kubernetes 1.21).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CgroupDriver {
    Default,
    Systemd,
}

/// Kubelet args and, on cloud-init nodes with a kubelet configuration, the patch file.
fn kubelet(
    os: Os,
    configuration: Option<&serde_json::Value>,
    resolv_conf: Option<&str>,
    labels: Option<&BTreeMap<String, String>>,
    cgroup_driver: CgroupDriver,
) -> (Args, Option<File>) {
    match (os, configuration) {
        (Os::CloudInit, Some(config)) => (
            Args::literal(&[("cloud-provider", "external")]).with_node_labels(labels),
            Some(kubelet::configuration_file(config, resolv_conf, &[])),
        ),
        _ => {
            let mut head = kubelet_head();
            if cgroup_driver == CgroupDriver::Systemd {
                head = head.with("cgroup-driver", "systemd");
            }
            (
                head.with_sorted(&kubelet::computed_args(resolv_conf))
                    .with_node_labels(labels),
                None,
            )
        }
    }
}

/// Bottlerocket's kubeadm extensions for a node group.
/// The kubeadm fork's extra fields for a node group: on Bottlerocket the pause and bootstrap
/// images, proxy, registry mirror and settings (the kubelet configuration becomes kubernetes
/// settings); on cloud-init only settings from the host OS configuration, if any.
fn kubeadm_extensions(
    ctx: &Context<'_>,
    os: Os,
    bundle: &VersionsBundle,
    distro: &KubeDistro,
    machine: &VSphereMachineConfigSpec,
    kubelet_configuration: Option<&serde_json::Value>,
) -> KubeadmExtensions {
    let host_os = machine.host_os_configuration.as_ref();
    match os {
        Os::Bottlerocket => KubeadmExtensions {
            pause: Some(ImageRef::from_image(&distro.pause)),
            bottlerocket_bootstrap: Some(ImageRef::from_image(&bottlerocket::bootstrap_image(bundle))),
            proxy: ctx.proxy.as_ref().map(bottlerocket::proxy_settings),
            registry_mirror: ctx.mirror.as_ref().map(bottlerocket::registry_mirror_settings),
            bottlerocket: bottlerocket::settings(host_os, kubelet_configuration),
        },
        Os::CloudInit => KubeadmExtensions {
            bottlerocket: bottlerocket::settings(host_os, None),
            ..Default::default()
        },
    }
}

/// `ntp` {enabled, servers} from a machine config's host OS configuration.
fn ntp(machine: &VSphereMachineConfigSpec) -> Option<crate::types::controlplane_v1beta2::Ntp> {
    let servers = machine
        .host_os_configuration
        .as_ref()?
        .ntp_configuration
        .as_ref()?
        .servers
        .clone()?;
    Some(crate::types::controlplane_v1beta2::Ntp {
        enabled: Some(true),
        servers: Some(servers),
    })
}

/// Cluster-level and control-plane objects.
pub fn control_plane(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let ctx = Context::new(inputs)?;
    let spec = &ctx.spec;
    let version = inputs.kubernetes_version()?;
    let minor = version.minor();
    let bundle = inputs.bundle(version)?;
    let distro = inputs.kube_distro(version)?;
    let cp_machine = machine_spec(inputs.provider.control_plane_machine.as_ref(), "control plane")?;
    let os = Os::of(&cp_machine);
    let external_etcd = etcd::external_etcd_replicas(spec);
    let endpoint = proxy::endpoint_host(spec);

    let mut out = vec![cluster::capi_cluster(
        spec,
        &ClusterOptions {
            name: ctx.name,
            infrastructure_kind: "VSphereCluster",
            labels: ClusterLabels::ClusterName,
            service_domain: None,
            control_plane_endpoint: None,
            external_etcd: external_etcd.is_some(),
        },
    )];
    out.push(Manifest::new(&VSphereCluster {
        api_version: Some(CAPV_API_VERSION.into()),
        kind: Some("VSphereCluster".into()),
        metadata: Some(system_meta(ctx.name)),
        spec: Some(VSphereClusterSpec {
            control_plane_endpoint: Some(crate::types::vsphere_v1beta1::ControlPlaneEndpoint {
                host: Some(endpoint.clone()),
                port: Some(6443),
            }),
            identity_ref: Some(IdentityRef {
                kind: Some("Secret".into()),
                name: Some(format!("{}-vsphere-credentials", ctx.name)),
            }),
            server: Some(ctx.server().to_string()),
            thumbprint: Some(ctx.thumbprint().to_string()),
            ..Default::default()
        }),
        status: None,
    }));
    out.push(Manifest::new(&machine_template(
        &ctx,
        inputs.names.control_plane(),
        &cp_machine,
        Networks::Datacenter,
    )));

    let cp_taints = taints::control_plane_taints(spec, ControlPlaneTaintPolicy::DefaultWhenAbsent);
    let mut typed_kcp = cp::kubeadm_control_plane(control_plane_parts(
        &ctx,
        &distro,
        minor,
        os,
        &cp_machine,
        external_etcd,
        cp_taints.as_ref(),
        bundle,
    )?);
    cp::apply_rollout_strategy(&mut typed_kcp, spec);
    if let Some(config) = typed_kcp
        .spec
        .as_mut()
        .and_then(|s| s.kubeadm_config_spec.as_mut())
    {
        config.ntp = ntp(&cp_machine);
    }
    let mut kcp = Manifest::new(&typed_kcp);
    let kubelet_for_settings = (os == Os::Bottlerocket)
        .then(|| cp::kubelet_configuration(spec))
        .flatten();
    let ext = kubeadm_extensions(&ctx, os, bundle, &distro, &cp_machine, kubelet_for_settings);
    bottlerocket::apply_to_control_plane(&mut kcp, &ext);
    if let Some(bundles) = bottlerocket::cert_bundles(cp_machine.host_os_configuration.as_ref()) {
        bottlerocket::apply_to_control_plane(&mut kcp, &bundles);
    }
    out.push(kcp);
    out.push(Manifest::new(&cpi_resource_set(ctx.name)));

    if let Some(replicas) = external_etcd {
        let etcd_machine = machine_spec(inputs.provider.etcd_machine.as_ref(), "external etcd")?;
        let bootstrap = match os {
            Os::Bottlerocket => etcd::bottlerocket_bootstrap(bundle, &distro),
            Os::CloudInit => EtcdBootstrap::CloudInit {
                install_dir: Some("/usr/bin".into()),
                pre_commands: hostname_commands(),
                release_url: etcd::release_url_for(spec.eksa_version.as_deref()),
            },
        };
        let mut etcd_cluster = etcd::etcdadm_cluster(&EtcdOptions {
            cluster_name: ctx.name,
            replicas,
            distro: &distro,
            format: Some(os.format()),
            bootstrap,
            user: Some(node_user(&etcd_machine)?),
            infrastructure: (CAPV_API_VERSION, MACHINE_TEMPLATE_KIND, inputs.names.etcd()),
            proxy: ctx.proxy.as_ref(),
            registry_mirror: ctx.mirror.as_ref(),
        });
        etcd::apply_host_os(&mut etcd_cluster, etcd_machine.host_os_configuration.as_ref());
        out.push(Manifest::new(&etcd_cluster));
        out.push(Manifest::new(&machine_template(
            &ctx,
            inputs.names.etcd(),
            &etcd_machine,
            Networks::Datacenter,
        )));
    }

    out.extend(credential_objects(
        &ctx,
        bundle,
        cp_taints.as_deref().unwrap_or_default(),
    ));
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn control_plane_parts(
    ctx: &Context<'_>,
    distro: &KubeDistro,
    minor: u32,
    os: Os,
    machine: &VSphereMachineConfigSpec,
    external_etcd: Option<i64>,
    taints: Option<&Vec<anywhere_api::Taint>>,
    bundle: &VersionsBundle,
) -> Result<ControlPlaneParts> {
    let spec = &ctx.spec;
    let bottlerocket = os == Os::Bottlerocket;
    let admission = cp::skips_admission_for_system_resources(spec);
    let has_encryption = encryption::has_etcd_encryption(spec);

    let api_args = cp::external_cloud_api_server_args(
        spec,
        ctx.inputs.provider.oidc.as_ref(),
        minor,
        ApiServerHardening::ProfilingOffAndCipherSuites,
    );
    let has_aws_iam = aws_iam::has_identity_provider(spec, "AWSIamConfig");
    let mut api_volumes = audit::audit_volumes(if bottlerocket {
        audit::BOTTLEROCKET_AUDIT_POLICY_HOST_PATH
    } else {
        audit::AUDIT_POLICY_PATH
    });
    if has_aws_iam {
        api_volumes.extend(aws_iam::aws_iam_volumes());
    }
    if has_encryption {
        api_volumes.extend(encryption::encryption_volumes(
            encryption::ConfigLocation::KubeadmDirectory,
        ));
    }
    let mut api_envs = Vec::new();
    if admission {
        api_volumes.push(admission::exclusion_rules_volume(if bottlerocket {
            admission::BOTTLEROCKET_EXCLUSION_RULES_HOST_PATH
        } else {
            admission::EXCLUSION_RULES_PATH
        }));
        api_envs.push(admission::exclusion_rules_env());
    }
    let component = |head: Args, kind: ComponentKind| Component {
        args: head.with_sorted(&cp::component_computed_args(spec, kind)),
        volumes: if bottlerocket {
            vec![cp::bottlerocket_kubeconfig_volume(kind)]
        } else {
            vec![]
        },
    };
    let cluster_configuration = cp::cluster_configuration(&ClusterConfigurationParts {
        distro,
        etcd: match external_etcd {
            Some(_) => EtcdTopology::External(if bottlerocket {
                EtcdClientPaths::BOTTLEROCKET
            } else {
                EtcdClientPaths::KUBEADM
            }),
            None => EtcdTopology::Local(cp::etcd_cipher_suite_args()),
        },
        cert_sans: cp::cert_sans(spec),
        api_server_args: api_args,
        api_server_envs: api_envs,
        api_server_volumes: api_volumes,
        controller_manager: Some(component(
            Args::literal(&[("cloud-provider", "external"), ("profiling", "false")]),
            ComponentKind::ControllerManager,
        )),
        scheduler: Some(component(
            Args::literal(&[("profiling", "false")]),
            ComponentKind::Scheduler,
        )),
        certificates_dir: bottlerocket.then(|| "/var/lib/kubeadm/pki".to_string()),
        feature_gates: cp::etcd_learner_mode_gate(minor),
    });

    let (kubelet_args, kubelet_file) = kubelet(
        os,
        cp::kubelet_configuration(spec),
        cp::resolv_conf(spec),
        cp::labels(spec),
        CgroupDriver::Default,
    );
    let kube_vip_image = bundle
        .v_sphere
        .as_ref()
        .and_then(|v| v.kube_vip.as_ref())
        .and_then(|k| k.uri.clone())
        .unwrap_or_default();
    let mut files: Vec<File> = kubelet_file.into_iter().collect();
    files.extend(encryption::encryption_configuration_file(
        spec,
        encryption::ConfigLocation::KubeadmDirectory,
    ));
    files.push(kube_vip::file(&kube_vip::standard_options(
        &proxy::endpoint_host(spec),
        &kube_vip_image,
        if bottlerocket {
            kube_vip::BOTTLEROCKET_ADMIN_KUBECONFIG
        } else {
            kube_vip::ADMIN_KUBECONFIG
        },
    )));
    if admission {
        files.push(admission::exclusion_rules_file());
    }
    files.push(audit::audit_policy_file(minor, audit::user_policy_content(spec)));
    if !bottlerocket {
        files.extend(registry_mirror::proxy_and_mirror_files(
            ctx.proxy.as_ref(),
            ctx.mirror.as_ref(),
        ));
    }
    if has_aws_iam {
        files.extend(aws_iam::aws_iam_files(ctx.name));
    }

    let pre_kubeadm_commands = if bottlerocket {
        hostname_commands()
    } else {
        let mut c = registry_mirror::containerd_commands(ctx.mirror.as_ref(), ctx.proxy.as_ref());
        c.extend(hostname_commands());
        if minor >= 29 {
            c.push(kube_vip::SUPER_ADMIN_COMMAND.to_string());
        }
        c
    };
    let (user, key) = node_user(machine)?;
    let kubeadm_taints: Option<Vec<Taint>> = taints.map(|t| t.iter().map(taints::to_control_plane).collect());
    let registration = NodeRegistrationParts::cloud_init(kubelet_args, kubeadm_taints);
    let uses_patches = os == Os::CloudInit && cp::kubelet_configuration(spec).is_some();
    Ok(ControlPlaneParts {
        cluster_name: ctx.name.to_string(),
        version: distro.kubernetes.tag.clone(),
        replicas: cp::replicas(spec),
        max_surge: cp::max_surge(spec),
        machine_template_kind: MACHINE_TEMPLATE_KIND.into(),
        machine_template_name: ctx.inputs.names.control_plane().to_string(),
        node_deletion_timeout_seconds: None,
        cluster_configuration,
        files,
        init_registration: registration.clone(),
        join_registration: registration,
        patches: uses_patches.then(kubelet::patches),
        pre_kubeadm_commands,
        post_kubeadm_commands: vec![],
        users: vec![users::kubeadm_user(&user, &key)],
        format: Some(os.format().to_string()),
    })
}

/// The `<cluster>-cpi` ClusterResourceSet.
fn cpi_resource_set(name: &str) -> ClusterResourceSet {
    let label = BTreeMap::from([(CLUSTER_NAME_LABEL.to_string(), name.to_string())]);
    let mut meta = system_meta(&format!("{name}-cpi"));
    meta.labels = Some(label.clone());
    let resource = |kind: &str, suffix: &str| ClusterResourceSetSpecResource {
        kind: Some(kind.into()),
        name: Some(format!("{name}-{suffix}")),
    };
    ClusterResourceSet {
        api_version: Some("addons.cluster.x-k8s.io/v1beta2".into()),
        kind: Some("ClusterResourceSet".into()),
        metadata: Some(meta),
        spec: Some(ClusterResourceSetSpec {
            strategy: Some("Reconcile".into()),
            cluster_selector: Some(ClusterSelector {
                match_labels: Some(label),
                match_expressions: None,
            }),
            resources: Some(vec![
                resource("Secret", "cloud-controller-manager"),
                resource("Secret", "cloud-provider-vsphere-credentials"),
                resource("ConfigMap", "cpi-manifests"),
            ]),
        }),
        status: None,
    }
}

/// The CAPV credentials Secret and the CPI Secrets and ConfigMap.
fn credential_objects(
    ctx: &Context<'_>,
    bundle: &VersionsBundle,
    cp_taints: &[anywhere_api::Taint],
) -> Vec<Manifest> {
    let creds = ctx.inputs.credentials;
    let username = creds.vsphere_username.clone().unwrap_or_default();
    let password = creds.vsphere_password.clone().unwrap_or_default();
    let cp_username = creds
        .vsphere_cp_username
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| username.clone());
    let cp_password = creds
        .vsphere_cp_password
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| password.clone());

    let mut capv = Secret::new(&format!("{}-vsphere-credentials", ctx.name), SYSTEM_NAMESPACE);
    capv.metadata.labels = Some(BTreeMap::from([(
        "clusterctl.cluster.x-k8s.io/move".to_string(),
        "true".to_string(),
    )]));
    capv.data = Some(BTreeMap::from([
        ("username".to_string(), b64(&username)),
        ("password".to_string(), b64(&password)),
    ]));

    let resource_set_secret = |suffix: &str, data: String| {
        let mut s = Secret::new(&format!("{}-{suffix}", ctx.name), SYSTEM_NAMESPACE);
        s.string_data = Some(BTreeMap::from([("data".to_string(), data)]));
        s.type_ = Some(RESOURCE_SET_TYPE.into());
        s
    };
    let ccm = resource_set_secret("cloud-controller-manager", cpi::service_account_manifest());
    let cpi_credentials = resource_set_secret(
        "cloud-provider-vsphere-credentials",
        cpi::credentials_manifest(ctx.server(), &b64(&cp_username), &b64(&cp_password)),
    );
    let manager = bundle
        .v_sphere
        .as_ref()
        .and_then(|v| v.manager.as_ref())
        .and_then(|m| m.uri.clone())
        .unwrap_or_default();
    let mut manifests = ConfigMap::new(&format!("{}-cpi-manifests", ctx.name), SYSTEM_NAMESPACE);
    manifests.data = Some(BTreeMap::from([(
        "data".to_string(),
        cpi::manifests(&cpi::CpiOptions {
            server: ctx.server(),
            datacenter: ctx.datacenter_name(),
            thumbprint: ctx.thumbprint(),
            insecure: ctx.datacenter.insecure == Some(true),
            manager_image: &manager,
            extra_tolerations: cp_taints
                .iter()
                .map(|t| cpi::Toleration {
                    key: t.key.clone().unwrap_or_default(),
                    value: Some(t.value.clone().unwrap_or_default()),
                    effect: t.effect.clone().unwrap_or_default(),
                    time_added: t.time_added.clone().filter(|s| !s.is_empty()),
                })
                .collect(),
        }),
    )]));
    let mut out = vec![Manifest::new(&capv)];
    out.extend(ctx.mirror.as_ref().and_then(registry_mirror::credentials_secret));
    out.extend([
        Manifest::new(&ccm),
        Manifest::new(&cpi_credentials),
        Manifest::new(&manifests),
    ]);
    out
}

/// Per worker group, in spec order: KubeadmConfigTemplate, MachineDeployment and
/// VSphereMachineTemplate.
pub fn workers(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let ctx = Context::new(inputs)?;
    let mut out = Vec::new();
    for group in ctx.spec.worker_node_group_configurations.iter().flatten() {
        out.extend(worker_group(&ctx, group)?);
    }
    Ok(out)
}

fn worker_group(ctx: &Context<'_>, group: &WorkerNodeGroupConfiguration) -> Result<Vec<Manifest>> {
    let inputs = ctx.inputs;
    let version = workers::kubernetes_version(inputs, group)?;
    let bundle = inputs.bundle(version)?;
    let distro = inputs.kube_distro(version)?;
    let group_name = workers::group_name(group);
    let machine = machine_spec(
        workers::machine_config(inputs, group),
        &format!("worker group {group_name}"),
    )?;
    let os = Os::of(&machine);
    let kubelet_configuration = workers::kubelet_configuration(group);
    let cgroup_driver = if version.minor() == 21 {
        CgroupDriver::Systemd
    } else {
        CgroupDriver::Default
    };
    let (kubelet_args, kubelet_file) = kubelet(
        os,
        kubelet_configuration,
        cp::resolv_conf(&ctx.spec),
        group.labels.as_ref(),
        cgroup_driver,
    );
    let mut files: Vec<File> = kubelet_file.into_iter().collect();
    let mut pre_kubeadm_commands = Vec::new();
    if os == Os::CloudInit {
        files.extend(registry_mirror::proxy_and_mirror_files(
            ctx.proxy.as_ref(),
            ctx.mirror.as_ref(),
        ));
        pre_kubeadm_commands = registry_mirror::containerd_commands(ctx.mirror.as_ref(), ctx.proxy.as_ref());
    }
    pre_kubeadm_commands.extend(hostname_commands());
    let (user, key) = node_user(&machine)?;
    let config_template_name = inputs.names.worker_kubeadm_config(group_name);
    let machine_template_name = inputs.names.worker_machine(group_name);
    let mut typed_kct = workers::kubeadm_config_template(ConfigTemplateParts {
        name: config_template_name.to_string(),
        join_registration: NodeRegistrationParts::cloud_init(kubelet_args, Some(workers::taints(group))),
        patches: (os == Os::CloudInit && kubelet_configuration.is_some()).then(kubelet::patches),
        files,
        pre_kubeadm_commands,
        post_kubeadm_commands: vec![],
        users: vec![users::kubeadm_user(&user, &key)],
        format: Some(os.format().to_string()),
    });
    if let Some(spec) = typed_kct
        .spec
        .as_mut()
        .and_then(|s| s.template.as_mut())
        .and_then(|t| t.spec.as_mut())
    {
        spec.ntp = ntp(&machine).map(|n| crate::common::retype(&n));
    }
    let mut kct = Manifest::new(&typed_kct);
    let kubelet_for_settings = (os == Os::Bottlerocket)
        .then_some(kubelet_configuration)
        .flatten();
    let ext = kubeadm_extensions(ctx, os, bundle, &distro, &machine, kubelet_for_settings);
    bottlerocket::apply_to_config_template(&mut kct, &ext);
    if os == Os::Bottlerocket && machine.networks.as_ref().is_some_and(|n| n.len() > 1) {
        bottlerocket::apply_to_config_template(&mut kct, &multi_network_bootstrap(bundle));
    }
    if let Some(bundles) = bottlerocket::cert_bundles(machine.host_os_configuration.as_ref()) {
        bottlerocket::apply_to_config_template(&mut kct, &bundles);
    }
    let failure_domain = group
        .failure_domains
        .as_ref()
        .and_then(|f| f.first())
        .map(|fd| failure_domain_name(ctx.name, inputs.provider.datacenter.name(), fd));
    let md = workers::machine_deployment(&MachineDeploymentOptions {
        cluster_name: ctx.name,
        group,
        version: &distro.kubernetes.tag,
        machine_template_kind: MACHINE_TEMPLATE_KIND,
        machine_template_name,
        config_template_name,
        failure_domain: failure_domain.as_deref(),
    });
    Ok(vec![
        kct,
        Manifest::new(&md),
        Manifest::new(&machine_template(
            ctx,
            machine_template_name,
            &machine,
            Networks::MachineConfig,
        )),
    ])
}

/// The name of a worker group's failure domain objects: `<cluster>-<datacenter config>-<domain>`.
fn failure_domain_name(cluster: &str, datacenter_config: &str, domain: &str) -> String {
    format!("{cluster}-{datacenter_config}-{domain}")
}

/// The bootstrap container that configures the second network interface of Bottlerocket
/// workers with several networks (`bottlerocketBootstrapContainers.multiNetworkBootstrap`).
fn multi_network_bootstrap(bundle: &VersionsBundle) -> bottlerocket::CustomBootstrapContainers {
    let image = anywhere_catalog::Image::new(
        bundle
            .bottlerocket_bootstrap_containers
            .as_ref()
            .and_then(|c| c.multi_network_bootstrap.as_ref())
            .and_then(|i| i.uri.clone())
            .unwrap_or_default(),
    );
    bottlerocket::CustomBootstrapContainers {
        bottlerocket_custom_bootstrap_containers: vec![bottlerocket::CustomBootstrapContainer {
            name: "second-network-interface-bootstrap-container".into(),
            mode: "once".into(),
            image_repository: image.image().to_string(),
            image_tag: image.tag().to_string(),
        }],
    }
}

/// Per datacenter failure domain named in the template names' failure-domain map, in datacenter
/// order: a `VSphereFailureDomain` and a `VSphereDeploymentZone` under the mapped name.
pub fn failure_domains(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let ctx = Context::new(inputs)?;
    let Some(names) = inputs.names.failure_domains.as_ref() else {
        return Ok(vec![]);
    };
    let datacenter_config_name = inputs.provider.datacenter.name();
    let mut out = Vec::new();
    for fd in ctx.datacenter.failure_domains.iter().flatten() {
        let Some(name) = fd.name.as_ref().and_then(|n| names.get(n)) else {
            continue;
        };
        let compute_cluster = fd.compute_cluster.clone().unwrap_or_default();
        out.push(Manifest::new(&VSphereFailureDomain {
            api_version: Some(CAPV_API_VERSION.into()),
            kind: Some("VSphereFailureDomain".into()),
            metadata: Some(anywhere_api::meta::ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            }),
            spec: Some(VSphereFailureDomainSpec {
                region: Some(Region {
                    name: Some(ctx.datacenter_name().to_string()),
                    r#type: Some("Datacenter".into()),
                    tag_category: Some("k8s-region".into()),
                    auto_configure: Some(true),
                }),
                zone: Some(Region {
                    name: Some(compute_cluster.clone()),
                    r#type: Some("ComputeCluster".into()),
                    tag_category: Some("k8s-zone".into()),
                    auto_configure: Some(true),
                }),
                topology: Some(Topology {
                    datacenter: Some(ctx.datacenter_name().to_string()),
                    compute_cluster: Some(compute_cluster),
                    datastore: Some(fd.datastore.clone().unwrap_or_default()),
                    networks: Some(vec![fd.network.clone().unwrap_or_default()]),
                    ..Default::default()
                }),
            }),
        }));
        out.push(Manifest::new(&VSphereDeploymentZone {
            api_version: Some(CAPV_API_VERSION.into()),
            kind: Some("VSphereDeploymentZone".into()),
            metadata: Some(anywhere_api::meta::ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([
                    (
                        "infrastructure.cluster.x-k8s.io/cluster-name".to_string(),
                        ctx.name.to_string(),
                    ),
                    (
                        "infrastructure.cluster.x-k8s.io/vsphere-datacenter-config-name".to_string(),
                        datacenter_config_name.to_string(),
                    ),
                ])),
                ..Default::default()
            }),
            spec: Some(VSphereDeploymentZoneSpec {
                server: Some(ctx.server().to_string()),
                failure_domain: Some(name.clone()),
                placement_constraint: Some(PlacementConstraint {
                    resource_pool: Some(fd.resource_pool.clone().unwrap_or_default()),
                    folder: Some(fd.folder.clone().unwrap_or_default()),
                }),
                control_plane: None,
            }),
            status: None,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_os_family_means_bottlerocket() {
        assert_eq!(Os::of(&VSphereMachineConfigSpec::default()), Os::Bottlerocket);
        let ubuntu = VSphereMachineConfigSpec {
            os_family: Some("ubuntu".into()),
            ..Default::default()
        };
        assert_eq!(Os::of(&ubuntu), Os::CloudInit);
    }

    #[test]
    fn cloud_init_kubelet_configuration_moves_settings_into_a_patch_file() {
        let (args, file) = kubelet(
            Os::CloudInit,
            Some(&serde_json::json!({"maxPods": 20})),
            Some("p"),
            None,
            CgroupDriver::Default,
        );
        assert_eq!(args.pairs().len(), 1);
        assert!(file.is_some());
        let (args, file) = kubelet(
            Os::Bottlerocket,
            Some(&serde_json::json!({"maxPods": 20})),
            Some("p"),
            None,
            CgroupDriver::Default,
        );
        let names: Vec<_> = args.pairs().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "cloud-provider",
                "read-only-port",
                "anonymous-auth",
                "resolv-conf",
                "tls-cipher-suites"
            ]
        );
        assert!(file.is_none());
    }

    #[test]
    fn cpi_resource_set_lists_the_three_resources() {
        let v = serde_json::to_value(cpi_resource_set("test")).unwrap();
        assert_eq!(v["metadata"]["name"], "test-cpi");
        assert_eq!(v["spec"]["resources"][2]["name"], "test-cpi-manifests");
    }
}

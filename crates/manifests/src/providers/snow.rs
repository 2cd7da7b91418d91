//! The AWS Snow provider: CAPAS objects (`AWSSnowCluster`, `AWSSnowMachineTemplate`,
//! `AWSSnowIPPool`), the credentials Secret, the kubeadm control plane and workers on Ubuntu or
//! Bottlerocket nodes, and external etcd.
//!
//! Unlike the template-driven providers, EKS Anywhere builds Snow objects with its typed Go
//! builders (`pkg/clusterapi` plus `pkg/providers/snow/apibuilder.go`). That gives Snow its own
//! shape, which this module follows:
//! - no audit policy, no API-server cipher suites, no NTP or certificate bundles; only the
//!   identity-provider and user API-server arguments;
//! - stacked etcd listens on all addresses; every kubelet gets
//!   `provider-id=aws-snow:////'{{ ds.meta_data.instance_id }}'`;
//! - the kube-vip static pod always mounts `/etc/kubernetes/admin.conf` (the Snow bootstrap
//!   container prepares it on Bottlerocket);
//! - Ubuntu nodes run `/etc/eks/bootstrap.sh`; Bottlerocket nodes get the admin, control and
//!   `bottlerocket-bootstrap-snow` containers and only the `kernel`/`boot` host settings;
//! - the CAPI Cluster and MachineDeployments carry the EKS-A cluster name and namespace labels.
//!
//! Object order follows the reference: Cluster, KubeadmControlPlane, AWSSnowCluster, the
//! control-plane machine template, [EtcdadmCluster, etcd machine template], the credentials
//! Secret, then the IP pools (sorted by name); per worker group KubeadmConfigTemplate,
//! MachineDeployment, machine template, then the workers' IP pools.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use anywhere_api::{
    ClusterSpec, ConfigSet, Object, SnowIPPoolSpec, SnowMachineConfigSpec, WorkerNodeGroupConfiguration,
};
use anywhere_catalog::generated::{Controller, VersionsBundle};
use anywhere_catalog::{Image, KubeDistro};

use crate::common::args::Args;
use crate::common::bottlerocket::{self, ImageRef, ProxySettings, RegistryMirrorSettings};
use crate::common::cluster::{self, ClusterLabels, ClusterOptions};
use crate::common::control_plane::{
    self as cp, ClusterConfigurationParts, Component, ComponentKind, ControlPlaneParts, EtcdClientPaths,
    EtcdTopology, NodeRegistrationParts,
};
use crate::common::etcd::{self, EtcdBootstrap, EtcdOptions};
use crate::common::proxy::{self, CONTAINERD_PROXY_CONF_PATH, Proxy};
use crate::common::registry_mirror::{self, RegistryMirror};
use crate::common::workers::{self, ConfigTemplateParts, MachineDeploymentOptions};
use crate::common::{
    CLUSTER_NAME_LABEL, TLS_CIPHER_SUITES, aws_iam, kube_vip, merge_into, retype, system_meta,
};
use crate::types::controlplane_v1beta2::{self as kubeadm, ApiServer, File, Taint};
use crate::types::core::Secret;
use crate::types::etcdadm_v1beta1::{self, Boot, Kernel};
use crate::types::snow_v1beta1::{
    AWSSnowCluster, AWSSnowClusterSpec, AWSSnowIPPool, AWSSnowIPPoolSpec, AWSSnowMachineTemplate,
    AWSSnowMachineTemplateSpec, AdditionalSecurityGroup, CloudInit, ContainersVolume, ControlPlaneEndpoint,
    DirectNetworkInterface, IdentityRef, IpPool, Network, Pool, Spec as MachineSpec, Template,
};
use crate::{Error, Inputs, Manifest, Result, SYSTEM_NAMESPACE};

/// The CAPAS API version.
const CAPAS_API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta1";
/// The machine template kind.
const MACHINE_TEMPLATE_KIND: &str = "AWSSnowMachineTemplate";
/// The IP pool kind.
const IP_POOL_KIND: &str = "AWSSnowIPPool";
/// The IAM instance profile of every Snow machine.
const IAM_INSTANCE_PROFILE: &str = "control-plane.cluster-api-provider-aws.sigs.k8s.io";
/// The kubelet `provider-id` of Snow nodes (cloud-init fills in the instance id).
const PROVIDER_ID: &str = "aws-snow:////'{{ ds.meta_data.instance_id }}'";
/// The bootstrap script of Ubuntu Snow AMIs.
const UBUNTU_BOOTSTRAP_COMMAND: &str = "/etc/eks/bootstrap.sh";
/// The join preflight error Ubuntu control-plane nodes ignore (the AMI ships a manifests folder).
const IGNORE_MANIFESTS_FOLDER: &str = "DirAvailable--etc-kubernetes-manifests";
/// The name of the Snow Bottlerocket bootstrap container.
const BOTTLEROCKET_BOOTSTRAP_SNOW: &str = "bottlerocket-bootstrap-snow";
/// The label naming the EKS-A Cluster a CAPI object belongs to.
const EKSA_CLUSTER_NAME_LABEL: &str = "cluster.anywhere.eks.amazonaws.com/cluster-name";
/// The label naming that Cluster's namespace.
const EKSA_CLUSTER_NAMESPACE_LABEL: &str = "cluster.anywhere.eks.amazonaws.com/cluster-namespace";
/// Key of the device credentials in the credentials Secret.
pub const CREDENTIALS_KEY: &str = "credentials";
/// Key of the CA bundles in the credentials Secret.
pub const CA_BUNDLE_KEY: &str = "ca-bundle";

/// SnowIPPool name → spec: the pools a machine config's direct network interfaces name in
/// `ipPoolRef`.
pub type IpPools = BTreeMap<String, SnowIPPoolSpec>;

/// The SnowIPPool objects of a spec file, by name.
pub fn ip_pools(set: &ConfigSet) -> IpPools {
    set.objects
        .iter()
        .filter_map(|(o, _)| match o {
            Object::SnowIPPool(p) => Some((o.name().to_string(), p.spec.clone().unwrap_or_default())),
            _ => None,
        })
        .collect()
}

/// The IP pools the generic entry points use: the spec's SnowIPPools.
fn ip_pools_of(inputs: &Inputs<'_>) -> IpPools {
    inputs.provider.snow_ip_pools.clone()
}

/// The OS family of a machine config, which decides how nodes bootstrap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Os {
    Ubuntu,
    Bottlerocket,
    /// Anything else: the reference logs a warning and adds no OS-specific settings.
    Other,
}

impl Os {
    fn of(machine: &SnowMachineConfigSpec) -> Os {
        match machine.os_family.as_deref() {
            Some("ubuntu") => Os::Ubuntu,
            Some("bottlerocket") => Os::Bottlerocket,
            _ => Os::Other,
        }
    }
}

/// What every Snow generator reads from its inputs.
struct Context<'a> {
    inputs: &'a Inputs<'a>,
    spec: ClusterSpec,
    name: &'a str,
    proxy: Option<Proxy>,
    mirror: Option<RegistryMirror>,
    pools: &'a IpPools,
}

impl<'a> Context<'a> {
    fn new(inputs: &'a Inputs<'a>, pools: &'a IpPools) -> Result<Context<'a>> {
        if !matches!(inputs.provider.datacenter, Object::SnowDatacenterConfig(_)) {
            return Err(Error::Missing("a SnowDatacenterConfig".into()));
        }
        let spec = inputs.spec().into_owned();
        let proxy = proxy::proxy(&spec, &[proxy::endpoint_host(&spec)]);
        let mirror = registry_mirror::registry_mirror(&spec, inputs.credentials)?;
        Ok(Context {
            inputs,
            name: inputs.cluster_name(),
            spec,
            proxy,
            mirror,
            pools,
        })
    }

    /// `cluster.x-k8s.io/cluster-name` plus the EKS-A cluster name and namespace labels.
    fn object_labels(&self) -> BTreeMap<String, String> {
        let namespace = self
            .inputs
            .cluster
            .metadata
            .as_ref()
            .and_then(|m| m.namespace.clone());
        BTreeMap::from([
            (CLUSTER_NAME_LABEL.to_string(), self.name.to_string()),
            (EKSA_CLUSTER_NAME_LABEL.to_string(), self.name.to_string()),
            (
                EKSA_CLUSTER_NAMESPACE_LABEL.to_string(),
                namespace.unwrap_or_default(),
            ),
        ])
    }
}

fn machine_spec(object: Option<&Object>, role: &str) -> Result<SnowMachineConfigSpec> {
    match object {
        Some(Object::SnowMachineConfig(m)) => Ok(m.spec.clone().unwrap_or_default()),
        _ => Err(Error::Missing(format!("the SnowMachineConfig of the {role}"))),
    }
}

fn b64(value: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(value)
}

fn image_of(controller: Option<&Controller>) -> Image {
    Image::new(controller.and_then(|c| c.uri.clone()).unwrap_or_default())
}

fn kube_vip_image(bundle: &VersionsBundle) -> String {
    image_of(bundle.snow.as_ref().and_then(|s| s.kube_vip.as_ref()))
        .uri()
        .to_string()
}

fn bottlerocket_bootstrap_snow(bundle: &VersionsBundle) -> Image {
    image_of(
        bundle
            .snow
            .as_ref()
            .and_then(|s| s.bottlerocket_bootstrap_snow.as_ref()),
    )
}

fn host_container(
    bundle: &VersionsBundle,
    pick: fn(&anywhere_catalog::generated::BottlerocketHostContainers) -> Option<&Controller>,
) -> Image {
    image_of(bundle.bottlerocket_host_containers.as_ref().and_then(pick))
}

/// The names of the IP pools a machine config's interfaces reference, in interface order.
fn pool_refs(machine: &SnowMachineConfigSpec) -> Vec<String> {
    machine
        .network
        .iter()
        .flat_map(|n| n.direct_network_interfaces.iter().flatten())
        .filter_map(|d| d.ip_pool_ref.as_ref())
        .map(|r| r.name.clone().unwrap_or_default())
        .collect()
}

/// An `AWSSnowIPPool` from a SnowIPPool (no ranges when the pool is unknown).
fn ip_pool(name: &str, spec: Option<&SnowIPPoolSpec>) -> AWSSnowIPPool {
    let pools = spec
        .and_then(|s| s.pools.as_ref())
        .filter(|p| !p.is_empty())
        .map(|pools| {
            pools
                .iter()
                .map(|p| Pool {
                    ip_start: Some(p.ip_start.clone().unwrap_or_default()),
                    ip_end: Some(p.ip_end.clone().unwrap_or_default()),
                    gateway: Some(p.gateway.clone().unwrap_or_default()),
                    subnet: Some(p.subnet.clone().unwrap_or_default()),
                })
                .collect()
        });
    AWSSnowIPPool {
        api_version: Some(CAPAS_API_VERSION.into()),
        kind: Some(IP_POOL_KIND.into()),
        metadata: Some(system_meta(name)),
        spec: Some(AWSSnowIPPoolSpec { pools }),
        status: None,
    }
}

/// The `AWSSnowIPPool`s referenced by some machine configs, sorted by name.
fn ip_pool_objects<'m>(
    ctx: &Context<'_>,
    machines: impl IntoIterator<Item = &'m SnowMachineConfigSpec>,
) -> Vec<Manifest> {
    let names: std::collections::BTreeSet<String> = machines.into_iter().flat_map(pool_refs).collect();
    names
        .iter()
        .map(|n| Manifest::new(&ip_pool(n, ctx.pools.get(n))))
        .collect()
}

fn volume(v: &anywhere_api::ContainersVolume) -> ContainersVolume {
    ContainersVolume {
        device_name: v.device_name.clone().filter(|d| !d.is_empty()),
        size: Some(v.size.unwrap_or(0)),
        r#type: v.r#type.clone().filter(|t| !t.is_empty()),
        ..Default::default()
    }
}

/// The `AWSSnowMachineTemplate` of a machine config.
fn machine_template(name: &str, machine: &SnowMachineConfigSpec) -> AWSSnowMachineTemplate {
    let interfaces = machine
        .network
        .iter()
        .flat_map(|n| n.direct_network_interfaces.iter().flatten())
        .map(|d| DirectNetworkInterface {
            index: d.index.filter(|i| *i != 0),
            vlan_id: d.vlan_id,
            dhcp: d.dhcp.filter(|x| *x),
            ip_pool: d.ip_pool_ref.as_ref().map(|r| IpPool {
                kind: Some(IP_POOL_KIND.into()),
                name: r.name.clone(),
                ..Default::default()
            }),
            primary: d.primary.filter(|x| *x),
        })
        .collect();
    let non_empty = |s: &Option<String>| s.clone().filter(|v| !v.is_empty());
    AWSSnowMachineTemplate {
        api_version: Some(CAPAS_API_VERSION.into()),
        kind: Some(MACHINE_TEMPLATE_KIND.into()),
        metadata: Some(system_meta(name)),
        spec: Some(AWSSnowMachineTemplateSpec {
            template: Some(Template {
                spec: Some(MachineSpec {
                    ami: Some(AdditionalSecurityGroup {
                        id: Some(machine.ami_id.clone().unwrap_or_default()),
                        ..Default::default()
                    }),
                    cloud_init: Some(CloudInit {
                        insecure_skip_secrets_manager: Some(true),
                        ..Default::default()
                    }),
                    containers_volume: machine.containers_volume.as_ref().map(volume),
                    devices: machine.devices.clone().filter(|d| !d.is_empty()),
                    iam_instance_profile: Some(IAM_INSTANCE_PROFILE.into()),
                    image_lookup_base_os: (Os::of(machine) == Os::Bottlerocket)
                        .then(|| "bottlerocket".into()),
                    instance_type: non_empty(&machine.instance_type),
                    network: Some(Network {
                        direct_network_interfaces: Some(interfaces),
                    }),
                    non_root_volumes: machine
                        .non_root_volumes
                        .as_ref()
                        .filter(|v| !v.is_empty())
                        .map(|v| v.iter().map(volume).collect()),
                    os_family: non_empty(&machine.os_family),
                    physical_network_connector_type: Some(
                        machine.physical_network_connector.clone().unwrap_or_default(),
                    ),
                    ssh_key_name: Some(machine.ssh_key_name.clone().unwrap_or_default()),
                    ..Default::default()
                }),
            }),
        }),
    }
}

/// A spec taint as kubeadm writes it (`value` and `timeAdded` only when set).
fn kubeadm_taint(t: &anywhere_api::Taint) -> Taint {
    Taint {
        key: t.key.clone(),
        value: t.value.clone().filter(|v| !v.is_empty()),
        effect: t.effect.clone(),
        time_added: t.time_added.clone().filter(|v| !v.is_empty()),
    }
}

/// The Snow Bottlerocket fields beyond the shared ones: the admin and control host containers
/// and the `bottlerocket-bootstrap-snow` bootstrap container.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SnowContainers {
    bottlerocket_admin: ImageRef,
    bottlerocket_control: ImageRef,
    bottlerocket_custom_bootstrap_containers: Vec<bottlerocket::CustomBootstrapContainer>,
}

fn snow_containers(bundle: &VersionsBundle) -> SnowContainers {
    let bootstrap = bottlerocket_bootstrap_snow(bundle);
    SnowContainers {
        bottlerocket_admin: ImageRef::from_image(&host_container(bundle, |c| c.admin.as_ref())),
        bottlerocket_control: ImageRef::from_image(&host_container(bundle, |c| c.control.as_ref())),
        bottlerocket_custom_bootstrap_containers: vec![bottlerocket::CustomBootstrapContainer {
            name: BOTTLEROCKET_BOOTSTRAP_SNOW.into(),
            mode: "always".into(),
            image_repository: bootstrap.image().to_string(),
            image_tag: bootstrap.tag().to_string(),
        }],
    }
}

/// The `bottlerocket` settings Snow takes from a machine's host OS configuration: `kernel` and
/// `boot` only, each present (possibly empty) when configured.
#[derive(Serialize)]
struct HostSettings {
    bottlerocket: BottlerocketHost,
}

#[derive(Serialize)]
struct BottlerocketHost {
    #[serde(skip_serializing_if = "Option::is_none")]
    kernel: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    boot: Option<Value>,
}

fn host_settings(machine: &SnowMachineConfigSpec) -> Option<HostSettings> {
    let br = machine
        .host_os_configuration
        .as_ref()?
        .bottlerocket_configuration
        .as_ref()?;
    Some(HostSettings {
        bottlerocket: BottlerocketHost {
            kernel: br
                .kernel
                .as_ref()
                .map(|k| serde_json::to_value(k).expect("settings serialise")),
            boot: br
                .boot
                .as_ref()
                .map(|b| serde_json::to_value(b).expect("settings serialise")),
        },
    })
}

/// Bottlerocket's registry mirror: the endpoint of the mirror of `public.ecr.aws` (or of the
/// mirror base) and the CA.
fn mirror_settings(mirror: &RegistryMirror) -> RegistryMirrorSettings {
    RegistryMirrorSettings {
        endpoint: Some(
            mirror
                .public_mirror_endpoint()
                .unwrap_or_else(|| mirror.base_api_endpoint()),
        ),
        ca_cert: mirror.ca_cert.clone(),
        mirrors: None,
    }
}

/// The shared Bottlerocket fields of a Snow node (pause, bootstrap, proxy, mirror).
fn bottlerocket_extensions(
    ctx: &Context<'_>,
    bundle: &VersionsBundle,
    distro: &KubeDistro,
) -> bottlerocket::KubeadmExtensions {
    bottlerocket::KubeadmExtensions {
        pause: Some(ImageRef::from_image(&distro.pause)),
        bottlerocket_bootstrap: Some(ImageRef::from_image(&bottlerocket::bootstrap_image(bundle))),
        proxy: ctx.proxy.as_ref().map(|p| ProxySettings {
            https_proxy: p.https_proxy.clone(),
            no_proxy: p.no_proxy.clone(),
        }),
        registry_mirror: ctx.mirror.as_ref().map(mirror_settings),
        bottlerocket: None,
    }
}

/// A kubeadm file owned by root.
fn root_file(path: String, content: String) -> File {
    File {
        content: Some(content),
        owner: Some("root:root".into()),
        path: Some(path),
        ..Default::default()
    }
}

/// The containerd proxy drop-in as the Go builder writes it (no final newline).
fn proxy_file(proxy: &Proxy) -> File {
    root_file(
        CONTAINERD_PROXY_CONF_PATH.into(),
        format!(
            "[Service]\nEnvironment=\"HTTP_PROXY={}\"\nEnvironment=\"HTTPS_PROXY={}\"\nEnvironment=\"NO_PROXY={}\"",
            proxy.http_proxy,
            proxy.https_proxy,
            proxy.no_proxy.join(",")
        ),
    )
}

/// One containerd `hosts.toml`.
fn hosts_toml(mirror: &RegistryMirror, server: &str, host: &str) -> String {
    let mut out = format!(
        "server = \"https://{server}\"\n\n[host.\"https://{host}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n"
    );
    if mirror.ca_cert.is_some() {
        out.push_str(&format!("  ca = \"{}\"\n", registry_mirror::ca_path(mirror)));
    }
    if mirror.skip_verify {
        out.push_str("  skip_verify = true\n");
    }
    out
}

/// The registry mirror files of Ubuntu nodes: `config_append.toml`, the CA (verbatim), the mirror
/// base's `hosts.toml`, then one per mirrored registry, sorted.
fn mirror_files(mirror: &RegistryMirror) -> Vec<File> {
    let mut files = vec![root_file(
        "/etc/containerd/config_append.toml".into(),
        "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n"
            .into(),
    )];
    if let Some(ca) = &mirror.ca_cert {
        files.push(root_file(registry_mirror::ca_path(mirror), ca.clone()));
    }
    files.push(root_file(
        format!("/etc/containerd/certs.d/{}/hosts.toml", mirror.address),
        hosts_toml(mirror, &mirror.address, &mirror.base_api_endpoint()),
    ));
    for (registry, endpoint) in mirror.api_endpoints() {
        files.push(root_file(
            format!("/etc/containerd/certs.d/{registry}/hosts.toml"),
            hosts_toml(mirror, &registry, &endpoint),
        ));
    }
    files
}

/// Proxy and mirror files, then the commands that load them, of Ubuntu nodes.
fn ubuntu_containerd(ctx: &Context<'_>) -> (Vec<File>, Vec<String>) {
    let mut files = Vec::new();
    files.extend(ctx.proxy.as_ref().map(proxy_file));
    files.extend(ctx.mirror.iter().flat_map(mirror_files));
    (
        files,
        registry_mirror::containerd_commands(ctx.mirror.as_ref(), ctx.proxy.as_ref()),
    )
}

/// The OIDC API-server arguments (`oidc-*`), sorted.
fn oidc_args(inputs: &Inputs<'_>) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    let Some(spec) = inputs.provider.oidc.as_ref().and_then(|o| o.spec.as_ref()) else {
        return args;
    };
    let mut add = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            args.insert(k.to_string(), v);
        }
    };
    add("oidc-client-id", spec.client_id.clone());
    add("oidc-groups-claim", spec.groups_claim.clone());
    add("oidc-groups-prefix", spec.groups_prefix.clone());
    add("oidc-issuer-url", spec.issuer_url.clone());
    add(
        "oidc-required-claim",
        spec.required_claims
            .as_ref()
            .and_then(|c| c.first())
            .and_then(|c| {
                c.claim
                    .clone()
                    .filter(|k| !k.is_empty())
                    .map(|k| format!("{k}={}", c.value.clone().unwrap_or_default()))
            }),
    );
    add("oidc-username-claim", spec.username_claim.clone());
    add("oidc-username-prefix", spec.username_prefix.clone());
    args
}

/// The API-server arguments, in the reference's order: OIDC, the AWS IAM webhook, the user's
/// `apiServerExtraArgs` (each group sorted), then `service-account-issuer` from `podIamConfig`
/// (comma-appended to a user-given one).
fn api_server_args(ctx: &Context<'_>) -> Args {
    let spec = &ctx.spec;
    let mut args = Args::default().with_sorted(&oidc_args(ctx.inputs));
    if ctx.inputs.provider.aws_iam.is_some() || aws_iam::has_identity_provider(spec, "AWSIamConfig") {
        args = args.with(
            "authentication-token-webhook-config-file",
            cp::AWS_IAM_AUTHENTICATOR_WEBHOOK_CONFIG,
        );
    }
    let user: BTreeMap<String, String> = spec
        .control_plane_configuration
        .as_ref()
        .and_then(|c| c.api_server_extra_args.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    args = args.with_sorted(&user);
    let issuer = spec
        .pod_iam_config
        .as_ref()
        .and_then(|p| p.service_account_issuer.clone())
        .filter(|i| !i.is_empty());
    if let Some(issuer) = issuer {
        let mut pairs = args.pairs().to_vec();
        match pairs.iter_mut().find(|(k, _)| k == "service-account-issuer") {
            Some((_, v)) => *v = format!("{v},{issuer}"),
            None => pairs.push(("service-account-issuer".into(), issuer)),
        }
        args = pairs.iter().fold(Args::default(), |a, (k, v)| a.with(k, v));
    }
    args
}

/// Cluster-level and control-plane objects, with the IP pools of the spec file.
pub fn control_plane(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    control_plane_with_ip_pools(inputs, &ip_pools_of(inputs))
}

/// Cluster-level and control-plane objects: Cluster, KubeadmControlPlane, AWSSnowCluster, the
/// control-plane machine template, external etcd, the credentials Secret and the IP pools the
/// control-plane and etcd machine configs reference (looked up in `pools`).
pub fn control_plane_with_ip_pools(inputs: &Inputs<'_>, pools: &IpPools) -> Result<Vec<Manifest>> {
    let ctx = Context::new(inputs, pools)?;
    let spec = &ctx.spec;
    let version = inputs.kubernetes_version()?;
    let bundle = inputs.bundle(version)?;
    let distro = inputs.kube_distro(version)?;
    let cp_machine = machine_spec(inputs.provider.control_plane_machine.as_ref(), "control plane")?;
    let external_etcd = etcd::external_etcd_replicas(spec);
    let etcd_machine = match external_etcd {
        Some(_) => Some(machine_spec(
            inputs.provider.etcd_machine.as_ref(),
            "external etcd",
        )?),
        None => None,
    };

    let mut capi = cluster::capi_cluster(
        spec,
        &ClusterOptions {
            name: ctx.name,
            infrastructure_kind: "AWSSnowCluster",
            labels: ClusterLabels::ClusterName,
            service_domain: None,
            control_plane_endpoint: None,
            external_etcd: external_etcd.is_some(),
        },
    );
    merge_into(
        &mut capi,
        "/metadata",
        &Labels {
            labels: ctx.object_labels(),
        },
    );
    let mut out = vec![
        capi,
        kubeadm_control_plane(&ctx, bundle, &distro, &cp_machine, external_etcd.is_some())?,
    ];
    out.push(Manifest::new(&AWSSnowCluster {
        api_version: Some(CAPAS_API_VERSION.into()),
        kind: Some("AWSSnowCluster".into()),
        metadata: Some(system_meta(ctx.name)),
        spec: Some(AWSSnowClusterSpec {
            control_plane_endpoint: Some(ControlPlaneEndpoint {
                host: Some(proxy::endpoint_host(spec)),
                port: Some(6443),
            }),
            identity_ref: Some(IdentityRef {
                kind: Some("Secret".into()),
                name: Some(credentials_secret_name(ctx.name)),
            }),
            region: Some("snow".into()),
            ..Default::default()
        }),
        status: None,
    }));
    out.push(Manifest::new(&machine_template(
        inputs.names.control_plane(),
        &cp_machine,
    )));
    if let (Some(replicas), Some(machine)) = (external_etcd, etcd_machine.as_ref()) {
        out.push(etcdadm_cluster(&ctx, bundle, &distro, machine, replicas));
        out.push(Manifest::new(&machine_template(inputs.names.etcd(), machine)));
    }
    out.push(Manifest::new(&credentials_secret(
        ctx.name,
        &SnowCredentials {
            credentials_b64: inputs.credentials.snow_credentials_b64.clone(),
            ca_bundles_b64: inputs.credentials.snow_ca_bundles_b64.clone(),
        },
    )));
    out.extend(ip_pool_objects(
        &ctx,
        std::iter::once(&cp_machine).chain(etcd_machine.as_ref()),
    ));
    Ok(out)
}

#[derive(Serialize)]
struct Labels {
    labels: BTreeMap<String, String>,
}

/// The name of the CAPAS credentials Secret, `<cluster>-snow-credentials`.
pub fn credentials_secret_name(cluster: &str) -> String {
    format!("{cluster}-snow-credentials")
}

/// The Snow device credentials EKS Anywhere reads at render time: the contents of the files
/// named by `EKSA_AWS_CREDENTIALS_FILE` and `EKSA_AWS_CA_BUNDLES_FILE`, each base64-encoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnowCredentials {
    /// base64 of the AWS credentials file.
    pub credentials_b64: Option<String>,
    /// base64 of the CA bundles file.
    pub ca_bundles_b64: Option<String>,
}

/// The CAPAS credentials Secret (`<cluster>-snow-credentials`, moved by clusterctl): keys
/// `credentials` and `ca-bundle`, whose bytes are the base64 text EKS-A reads, so the Secret's
/// `data` holds that text base64-encoded once more. Absent values render empty.
pub fn credentials_secret(cluster: &str, creds: &SnowCredentials) -> Secret {
    let mut secret = Secret::new(&credentials_secret_name(cluster), SYSTEM_NAMESPACE);
    secret.metadata.labels = Some(BTreeMap::from([(
        "clusterctl.cluster.x-k8s.io/move".to_string(),
        "true".to_string(),
    )]));
    let encode = |v: &Option<String>| v.as_deref().map(b64).unwrap_or_default();
    secret.data = Some(BTreeMap::from([
        (CA_BUNDLE_KEY.to_string(), encode(&creds.ca_bundles_b64)),
        (CREDENTIALS_KEY.to_string(), encode(&creds.credentials_b64)),
    ]));
    secret.type_ = Some("Opaque".into());
    secret
}

/// The KubeadmControlPlane.
fn kubeadm_control_plane(
    ctx: &Context<'_>,
    bundle: &VersionsBundle,
    distro: &KubeDistro,
    machine: &SnowMachineConfigSpec,
    external_etcd: bool,
) -> Result<Manifest> {
    let spec = &ctx.spec;
    let inputs = ctx.inputs;
    let minor = inputs.kubernetes_version()?.minor();
    let os = Os::of(machine);
    let bottlerocket = os == Os::Bottlerocket;
    let has_aws_iam =
        inputs.provider.aws_iam.is_some() || aws_iam::has_identity_provider(spec, "AWSIamConfig");

    let etcd = if external_etcd {
        match os {
            Os::Bottlerocket => Some(EtcdTopology::External(EtcdClientPaths::BOTTLEROCKET)),
            Os::Ubuntu => Some(EtcdTopology::External(EtcdClientPaths::KUBEADM)),
            Os::Other => None,
        }
    } else {
        Some(EtcdTopology::Local(Args::literal(&[
            ("cipher-suites", TLS_CIPHER_SUITES),
            ("listen-peer-urls", "https://0.0.0.0:2380"),
            ("listen-client-urls", "https://0.0.0.0:2379"),
        ])))
    };
    let kubeconfig_volume = |component: ComponentKind| {
        if bottlerocket {
            vec![cp::bottlerocket_kubeconfig_volume(component)]
        } else {
            vec![]
        }
    };
    let mut cluster_configuration = cp::cluster_configuration(&ClusterConfigurationParts {
        distro,
        etcd: etcd.clone().unwrap_or(EtcdTopology::Local(Args::default())),
        cert_sans: cp::cert_sans(spec),
        api_server_args: api_server_args(ctx),
        api_server_envs: vec![],
        api_server_volumes: if has_aws_iam {
            aws_iam::aws_iam_volumes()
        } else {
            vec![]
        },
        controller_manager: Some(Component {
            args: Args::default().with_sorted(&cp::component_computed_args(
                spec,
                ComponentKind::ControllerManager,
            )),
            volumes: kubeconfig_volume(ComponentKind::ControllerManager),
        }),
        scheduler: bottlerocket.then(|| Component {
            args: Args::default(),
            volumes: kubeconfig_volume(ComponentKind::Scheduler),
        }),
        certificates_dir: bottlerocket.then(|| "/var/lib/kubeadm/pki".to_string()),
        feature_gates: (os != Os::Other)
            .then(|| cp::etcd_learner_mode_gate(minor))
            .flatten(),
    });
    if etcd.is_none() {
        // An external etcd on an unknown OS gets no endpoint settings at all in the reference.
        cluster_configuration.etcd = None;
    }
    if cluster_configuration.api_server.as_ref() == Some(&ApiServer::default()) {
        cluster_configuration.api_server = None;
    }

    let kubelet_args = Args::default()
        .with_sorted(&BTreeMap::from([(
            "tls-cipher-suites".to_string(),
            TLS_CIPHER_SUITES.to_string(),
        )]))
        .with_node_labels(cp::labels(spec))
        .with("provider-id", PROVIDER_ID);
    let kubelet_args = sorted_head(kubelet_args);
    let taints: Vec<Taint> = match spec
        .control_plane_configuration
        .as_ref()
        .and_then(|c| c.taints.as_ref())
    {
        None => vec![Taint {
            key: Some(crate::common::taints::CONTROL_PLANE_TAINT_KEY.into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        }],
        Some(t) => t.iter().map(kubeadm_taint).collect(),
    };
    let registration = NodeRegistrationParts {
        kubelet_args: Some(kubelet_args),
        taints: Some(taints),
        ..Default::default()
    };
    let mut join_registration = registration.clone();

    let mut files = Vec::new();
    if has_aws_iam {
        files.extend(aws_iam::aws_iam_files(ctx.name));
    }
    let kube_vip = kube_vip::standard_options(
        &proxy::endpoint_host(spec),
        &kube_vip_image(bundle),
        kube_vip::ADMIN_KUBECONFIG,
    );
    files.push(root_file(
        kube_vip::MANIFEST_PATH.into(),
        kube_vip::manifest_without_creation_timestamp(&kube_vip),
    ));
    let mut pre_kubeadm_commands = Vec::new();
    if os == Os::Ubuntu {
        pre_kubeadm_commands.push(UBUNTU_BOOTSTRAP_COMMAND.to_string());
        if minor >= 29 {
            pre_kubeadm_commands.push(kube_vip::SUPER_ADMIN_COMMAND.to_string());
        }
        let (containerd_files, commands) = ubuntu_containerd(ctx);
        files.extend(containerd_files);
        pre_kubeadm_commands.extend(commands);
        join_registration.ignore_preflight_errors = Some(vec![IGNORE_MANIFESTS_FOLDER.into()]);
    }

    let mut kcp = cp::kubeadm_control_plane(ControlPlaneParts {
        cluster_name: ctx.name.to_string(),
        version: distro.kubernetes.tag.clone(),
        replicas: cp::replicas(spec),
        max_surge: cp::max_surge(spec),
        machine_template_kind: MACHINE_TEMPLATE_KIND.into(),
        machine_template_name: inputs.names.control_plane().to_string(),
        node_deletion_timeout_seconds: None,
        cluster_configuration,
        files,
        init_registration: registration,
        join_registration,
        patches: None,
        pre_kubeadm_commands,
        post_kubeadm_commands: vec![],
        users: vec![],
        format: bottlerocket.then(|| bottlerocket::FORMAT.to_string()),
    });
    let has_strategy = spec
        .control_plane_configuration
        .as_ref()
        .is_some_and(|c| c.upgrade_rollout_strategy.is_some());
    if let Some(s) = kcp.spec.as_mut().filter(|_| !has_strategy) {
        s.rollout = None;
    }
    let mut kcp = Manifest::new(&kcp);
    if bottlerocket {
        bottlerocket::apply_to_control_plane(&mut kcp, &bottlerocket_extensions(ctx, bundle, distro));
        bottlerocket::apply_to_control_plane(&mut kcp, &snow_containers(bundle));
        if let Some(settings) = host_settings(machine) {
            bottlerocket::apply_to_control_plane(&mut kcp, &settings);
        }
    }
    Ok(kcp)
}

/// kubelet arguments as the reference's map gives them: everything before `provider-id` sorted
/// by name (`node-labels` sorts before `tls-cipher-suites`), `provider-id` last.
fn sorted_head(args: Args) -> Args {
    let mut head: Vec<(String, String)> = args
        .pairs()
        .iter()
        .filter(|(k, _)| k != "provider-id")
        .cloned()
        .collect();
    head.sort();
    let tail = args.pairs().iter().filter(|(k, _)| k == "provider-id");
    head.iter()
        .chain(tail)
        .fold(Args::default(), |a, (k, v)| a.with(k, v))
}

/// The `<cluster>-etcd` EtcdadmCluster.
fn etcdadm_cluster(
    ctx: &Context<'_>,
    bundle: &VersionsBundle,
    distro: &KubeDistro,
    machine: &SnowMachineConfigSpec,
    replicas: i64,
) -> Manifest {
    let os = Os::of(machine);
    let bootstrap = match os {
        Os::Bottlerocket => etcd::bottlerocket_bootstrap(bundle, distro),
        _ => EtcdBootstrap::CloudInit {
            install_dir: Some("/usr/bin".into()),
            pre_commands: vec![UBUNTU_BOOTSTRAP_COMMAND.into()],
            release_url: etcd::release_url_for(ctx.spec.eksa_version.as_deref()),
        },
    };
    let mut cluster = etcd::etcdadm_cluster(&EtcdOptions {
        cluster_name: ctx.name,
        replicas,
        distro,
        format: match os {
            Os::Bottlerocket => Some(bottlerocket::FORMAT),
            Os::Ubuntu => Some(bottlerocket::CLOUD_CONFIG_FORMAT),
            Os::Other => None,
        },
        bootstrap,
        user: None,
        infrastructure: (CAPAS_API_VERSION, MACHINE_TEMPLATE_KIND, ctx.inputs.names.etcd()),
        proxy: ctx.proxy.as_ref(),
        registry_mirror: ctx.mirror.as_ref(),
    });
    if let Some(config) = cluster.spec.as_mut().and_then(|s| s.etcdadm_config_spec.as_mut()) {
        if os == Os::Other {
            config.cloud_init_config = None;
            config.pre_etcdadm_commands = None;
        }
        // The Go builder points etcd at the mirror of public.ecr.aws or else the mirror base
        // (the templates' `publicMirror` falls back to a bare `v2` instead).
        if let (Some(m), Some(mirror)) = (config.registry_mirror.as_mut(), ctx.mirror.as_ref()) {
            m.endpoint = mirror_settings(mirror).endpoint;
        }
        if let Some(br) = config.bottlerocket_config.as_mut() {
            br.admin_image = Some(host_container(bundle, |c| c.admin.as_ref()).uri().to_string());
            br.control_image = Some(host_container(bundle, |c| c.control.as_ref()).uri().to_string());
            br.custom_bootstrap_containers = Some(vec![etcdadm_v1beta1::CustomBootstrapContainer {
                name: Some(BOTTLEROCKET_BOOTSTRAP_SNOW.into()),
                image: Some(bottlerocket_bootstrap_snow(bundle).uri().to_string()),
                mode: Some("always".into()),
                ..Default::default()
            }]);
            let host = machine
                .host_os_configuration
                .as_ref()
                .and_then(|h| h.bottlerocket_configuration.as_ref());
            if let Some(k) = host.and_then(|b| b.kernel.as_ref()) {
                br.kernel = Some(Kernel {
                    sysctl_settings: k.sysctl_settings.clone(),
                });
            }
            if let Some(b) = host.and_then(|b| b.boot.as_ref()) {
                br.boot = Some(Boot {
                    boot_kernel_parameters: b.boot_kernel_parameters.clone(),
                });
            }
        }
    }
    Manifest::new(&cluster)
}

/// Worker-group objects, with the IP pools of the spec file.
pub fn workers(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    workers_with_ip_pools(inputs, &ip_pools_of(inputs))
}

/// Per worker group, in spec order: KubeadmConfigTemplate, MachineDeployment and
/// AWSSnowMachineTemplate; then the IP pools the worker machine configs reference (looked up in
/// `pools`).
pub fn workers_with_ip_pools(inputs: &Inputs<'_>, pools: &IpPools) -> Result<Vec<Manifest>> {
    let ctx = Context::new(inputs, pools)?;
    let mut out = Vec::new();
    let mut machines = Vec::new();
    for group in ctx.spec.worker_node_group_configurations.iter().flatten() {
        let (objects, machine) = worker_group(&ctx, group)?;
        out.extend(objects);
        machines.push(machine);
    }
    out.extend(ip_pool_objects(&ctx, &machines));
    Ok(out)
}

fn worker_group(
    ctx: &Context<'_>,
    group: &WorkerNodeGroupConfiguration,
) -> Result<(Vec<Manifest>, SnowMachineConfigSpec)> {
    let inputs = ctx.inputs;
    // Bottlerocket images come from the cluster's bundle; only the version follows the group.
    let root_version = inputs.kubernetes_version()?;
    let bundle = inputs.bundle(root_version)?;
    let distro = inputs.kube_distro(root_version)?;
    let group_version = match group.kubernetes_version.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => crate::parse_version(v)?,
        None => root_version,
    };
    let group_distro = inputs.kube_distro(group_version)?;
    let group_name = workers::group_name(group);
    let machine_name = group
        .machine_group_ref
        .as_ref()
        .and_then(|r| r.name.clone())
        .unwrap_or_default();
    let machine = machine_spec(
        inputs.provider.worker_machines.get(&machine_name),
        &format!("worker group {group_name}"),
    )?;
    let os = Os::of(&machine);

    let kubelet_args = Args::default()
        .with_node_labels(group.labels.as_ref())
        .with("provider-id", PROVIDER_ID);
    let (files, pre_kubeadm_commands) = match os {
        Os::Ubuntu => {
            let (files, commands) = ubuntu_containerd(ctx);
            let mut pre = vec![UBUNTU_BOOTSTRAP_COMMAND.to_string()];
            pre.extend(commands);
            (files, pre)
        }
        _ => (vec![], vec![]),
    };
    let config_template_name = inputs.names.worker_kubeadm_config(group_name);
    let machine_template_name = inputs.names.worker_machine(group_name);
    let mut kct = workers::kubeadm_config_template(ConfigTemplateParts {
        name: config_template_name.to_string(),
        join_registration: NodeRegistrationParts {
            kubelet_args: Some(kubelet_args),
            taints: group
                .taints
                .as_ref()
                .map(|t| t.iter().map(kubeadm_taint).collect()),
            ..Default::default()
        },
        patches: None,
        files,
        pre_kubeadm_commands,
        post_kubeadm_commands: vec![],
        users: vec![],
        format: (os == Os::Bottlerocket).then(|| bottlerocket::FORMAT.to_string()),
    });
    let cert_sans = cp::cert_sans(&ctx.spec);
    if let Some(spec) = kct
        .spec
        .as_mut()
        .and_then(|s| s.template.as_mut())
        .and_then(|t| t.spec.as_mut())
        .filter(|_| !cert_sans.is_empty())
    {
        // The reference copies the control plane's certSANs into every worker template.
        spec.cluster_configuration = Some(retype(&kubeadm::ClusterConfiguration {
            api_server: Some(ApiServer {
                cert_sa_ns: Some(cert_sans),
                ..Default::default()
            }),
            ..Default::default()
        }));
    }
    let mut kct = Manifest::new(&kct);
    if os == Os::Bottlerocket {
        bottlerocket::apply_to_config_template(&mut kct, &bottlerocket_extensions(ctx, bundle, &distro));
        bottlerocket::apply_to_config_template(&mut kct, &snow_containers(bundle));
        if let Some(settings) = host_settings(&machine) {
            bottlerocket::apply_to_config_template(&mut kct, &settings);
        }
    }

    let mut md = workers::machine_deployment(&MachineDeploymentOptions {
        cluster_name: ctx.name,
        group,
        version: &group_distro.kubernetes.tag,
        machine_template_kind: MACHINE_TEMPLATE_KIND,
        machine_template_name,
        config_template_name,
        failure_domain: None,
    });
    if let Some(meta) = md.metadata.as_mut() {
        meta.labels = Some(ctx.object_labels());
    }
    if let Some(spec) = md.spec.as_mut() {
        // The reference keeps `replicas` next to the autoscaler annotations.
        spec.replicas = Some(group.count.unwrap_or(1));
        if let Some(rolling) = spec
            .rollout
            .as_mut()
            .and_then(|r| r.strategy.as_mut())
            .and_then(|s| s.rolling_update.as_mut())
        {
            let params = group
                .upgrade_rollout_strategy
                .as_ref()
                .and_then(|s| s.rolling_update.as_ref());
            let int = |v: Option<i64>| Some(anywhere_api::meta::IntOrString::Int(v.unwrap_or(0)));
            rolling.max_surge = int(params.and_then(|p| p.max_surge));
            rolling.max_unavailable = int(params.and_then(|p| p.max_unavailable));
        }
    }
    Ok((
        vec![
            kct,
            Manifest::new(&md),
            Manifest::new(&machine_template(machine_template_name, &machine)),
        ],
        machine,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn machine(v: Value) -> SnowMachineConfigSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn machine_template_carries_the_fixed_snow_fields() {
        let m = machine(json!({
            "amiID": "ami-1", "instanceType": "sbe-c.large", "sshKeyName": "default",
            "physicalNetworkConnector": "SFP_PLUS", "devices": ["1.2.3.4", "1.2.3.5"], "osFamily": "ubuntu",
            "nonRootVolumes": [{"deviceName": "/dev/sdc", "size": 10}],
            "network": {"directNetworkInterfaces": [{"index": 1, "dhcp": true, "primary": true}]}
        }));
        let v = serde_json::to_value(machine_template("t-1", &m)).unwrap();
        let s = &v["spec"]["template"]["spec"];
        assert_eq!(s["iamInstanceProfile"], IAM_INSTANCE_PROFILE);
        assert_eq!(s["ami"], json!({"id": "ami-1"}));
        assert_eq!(s["cloudInit"], json!({"insecureSkipSecretsManager": true}));
        assert_eq!(s["physicalNetworkConnectorType"], "SFP_PLUS");
        assert_eq!(
            s["nonRootVolumes"],
            json!([{"deviceName": "/dev/sdc", "size": 10}])
        );
        assert_eq!(
            s["network"],
            json!({"directNetworkInterfaces": [{"dhcp": true, "index": 1, "primary": true}]})
        );
        assert!(s.get("imageLookupBaseOS").is_none());
    }

    #[test]
    fn ip_pool_ref_becomes_an_aws_snow_ip_pool_reference() {
        let m = machine(
            json!({"osFamily": "bottlerocket", "network": {"directNetworkInterfaces": [
            {"index": 1, "primary": true, "ipPoolRef": {"kind": "SnowIPPool", "name": "pool"}}]}}),
        );
        let v = serde_json::to_value(machine_template("t", &m)).unwrap();
        let s = &v["spec"]["template"]["spec"];
        assert_eq!(
            s["network"]["directNetworkInterfaces"][0]["ipPool"],
            json!({"kind": "AWSSnowIPPool", "name": "pool"})
        );
        assert_eq!(s["imageLookupBaseOS"], "bottlerocket");
    }

    #[test]
    fn credentials_secret_double_encodes_and_defaults_to_empty() {
        let v = serde_json::to_value(credentials_secret("snow-test", &SnowCredentials::default())).unwrap();
        assert_eq!(v["metadata"]["name"], "snow-test-snow-credentials");
        assert_eq!(v["data"], json!({"ca-bundle": "", "credentials": ""}));
        let creds = SnowCredentials {
            credentials_b64: Some("creds".into()),
            ca_bundles_b64: Some("certs".into()),
        };
        let v = serde_json::to_value(credentials_secret("snow-test", &creds)).unwrap();
        assert_eq!(v["data"]["credentials"], b64("creds"));
        assert_eq!(v["type"], "Opaque");
    }

    #[test]
    fn kubelet_args_sort_labels_before_cipher_suites_and_end_with_provider_id() {
        let args = sorted_head(
            Args::default()
                .with("tls-cipher-suites", "x")
                .with("node-labels", "a=b")
                .with("provider-id", PROVIDER_ID),
        );
        let names: Vec<_> = args.pairs().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["node-labels", "tls-cipher-suites", "provider-id"]);
    }

    #[test]
    fn hosts_toml_matches_the_reference_layout() {
        let mirror = RegistryMirror {
            address: "1.2.3.4:443".into(),
            ca_cert: Some("xyz".into()),
            skip_verify: true,
            auth: None,
            mirrors: BTreeMap::from([("public.ecr.aws".to_string(), "1.2.3.4:443".to_string())]),
        };
        let files = mirror_files(&mirror);
        let paths: Vec<_> = files.iter().map(|f| f.path.clone().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "/etc/containerd/config_append.toml",
                "/etc/containerd/certs.d/1.2.3.4:443/ca.crt",
                "/etc/containerd/certs.d/1.2.3.4:443/hosts.toml",
                "/etc/containerd/certs.d/public.ecr.aws/hosts.toml",
            ]
        );
        assert_eq!(files[1].content.as_deref(), Some("xyz"));
        assert_eq!(
            files[3].content.as_deref(),
            Some(
                "server = \"https://public.ecr.aws\"\n\n[host.\"https://1.2.3.4:443/v2\"]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n  ca = \"/etc/containerd/certs.d/1.2.3.4:443/ca.crt\"\n  skip_verify = true\n"
            )
        );
    }
}

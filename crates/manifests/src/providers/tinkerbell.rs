//! The Tinkerbell (bare metal) provider: the CAPI objects of a cluster whose machines are
//! provisioned by Tinkerbell workflows (`TinkerbellCluster`, `TinkerbellMachineTemplate` with a
//! hardware selector and a workflow `templateOverride`, kube-vip on the control plane), and the
//! Helm values of the Tinkerbell stack ([`stack`]).

pub mod hardware;
pub mod stack;
pub mod workflow;

use std::collections::BTreeMap;

use anywhere_api::{
    ClusterSpec, HardwareAffinity, Object, Template, TinkerbellDatacenterConfigSpec,
    TinkerbellMachineConfigSpec, WorkerNodeGroupConfiguration,
};
use anywhere_catalog::KubeDistro;
use anywhere_catalog::generated::VersionsBundle;

use crate::common::args::Args;
use crate::common::bottlerocket::{self, ImageRef, KubeadmExtensions};
use crate::common::cluster::{ClusterLabels, ClusterOptions, capi_cluster};
use crate::common::control_plane::{
    self as cp, ClusterConfigurationParts, Component, ComponentKind, ControlPlaneParts, EtcdClientPaths,
    EtcdTopology, NodeRegistrationParts,
};
use crate::common::etcd::{self, EtcdBootstrap, EtcdOptions};
use crate::common::kube_vip::{self, ADMIN_KUBECONFIG, BOTTLEROCKET_ADMIN_KUBECONFIG, SUPER_ADMIN_COMMAND};
use crate::common::kubelet::KubeletSettings;
use crate::common::proxy::{self, Proxy};
use crate::common::registry_mirror::{self, RegistryMirror};
use crate::common::taints::{self, ControlPlaneTaintPolicy};
use crate::common::workers::{self, ConfigTemplateParts, MachineDeploymentOptions};
use crate::common::{admission, audit, aws_iam, kube_minor, kubelet, users};
use crate::types::controlplane_v1beta2::Ntp;
use crate::types::tinkerbell_v1beta1 as capt;
use crate::{Error, Inputs, Manifest, Result};

use workflow::{DefaultWorkflow, OsFamily, Workflow};

/// The Cluster annotation naming the admin machine's IP for bootstrap.
pub const BOOTSTRAP_IP_ANNOTATION: &str = "anywhere.eks.amazonaws.com/tinkerbell-bootstrap-ip";
/// `TinkerbellMachineTemplate`.
pub const MACHINE_TEMPLATE_KIND: &str = "TinkerbellMachineTemplate";
/// The API version of CAPT's kinds.
pub const CAPT_API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta1";
/// The control-plane port.
const API_SERVER_PORT: i64 = 6443;
/// Where EKS-A images come from; replaced by the mirror in workflows.
const DEFAULT_REGISTRY: &str = "public.ecr.aws";
/// CAPT's provider-id placeholder.
const PROVIDER_ID: &str = "PROVIDER_ID";
/// Seconds CAPI waits for a node to drain before deleting it.
const NODE_DELETION_TIMEOUT_SECONDS: i64 = 30;

/// `TinkerbellTemplateConfig` workflows by `metadata.name` (every one in the spec file, in any
/// namespace). A machine config whose `templateRef.name` is a key uses that workflow.
pub type TemplateConfigs = BTreeMap<String, Template>;

/// Collects the `TinkerbellTemplateConfig` workflows of a spec file's objects.
pub fn template_configs<'a>(objects: impl IntoIterator<Item = &'a Object>) -> TemplateConfigs {
    objects
        .into_iter()
        .filter_map(|o| match o {
            Object::TinkerbellTemplateConfig(t) => Some((
                o.name().to_string(),
                t.spec
                    .as_ref()
                    .and_then(|s| s.template.clone())
                    .unwrap_or_default(),
            )),
            _ => None,
        })
        .collect()
}

/// Cluster-level and control-plane objects, with the spec's `TinkerbellTemplateConfig`s (a
/// machine config without `templateRef` gets the default workflow); see
/// [`control_plane_with_templates`].
pub fn control_plane(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    control_plane_with_templates(
        inputs,
        &template_configs(inputs.provider.tinkerbell_templates.values()),
    )
}

/// Worker-group objects, with the spec's `TinkerbellTemplateConfig`s; see
/// [`workers_with_templates`].
pub fn workers(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    workers_with_templates(
        inputs,
        &template_configs(inputs.provider.tinkerbell_templates.values()),
    )
}

/// The provider-level facts every object of a cluster shares.
struct Context<'a> {
    inputs: &'a Inputs<'a>,
    spec: ClusterSpec,
    datacenter: TinkerbellDatacenterConfigSpec,
    /// The first metadata URL host: the bootstrap IP (annotation, else the builder argument,
    /// else the datacenter `tinkerbellIP`).
    bootstrap_ip: String,
    proxy: Option<Proxy>,
    mirror: Option<RegistryMirror>,
}

impl<'a> Context<'a> {
    fn new(inputs: &'a Inputs<'a>) -> Result<Context<'a>> {
        let spec = inputs.spec().into_owned();
        let datacenter = match &inputs.provider.datacenter {
            Object::TinkerbellDatacenterConfig(d) => d.spec.clone().unwrap_or_default(),
            other => return Err(Error::UnsupportedProvider(other.kind().to_string())),
        };
        let tinkerbell_ip = datacenter.tinkerbell_ip.clone().unwrap_or_default();
        let bootstrap_ip = annotation_ip(inputs)
            .or(inputs.tinkerbell_bootstrap_ip.map(str::to_string))
            .unwrap_or_else(|| tinkerbell_ip.clone());
        let proxy = proxy::proxy(&spec, &[proxy::endpoint_host(&spec), tinkerbell_ip]);
        let mirror = registry_mirror::registry_mirror(&spec, inputs.credentials)?;
        Ok(Context {
            inputs,
            spec,
            datacenter,
            bootstrap_ip,
            proxy,
            mirror,
        })
    }

    fn cluster_name(&self) -> &str {
        self.inputs.cluster_name()
    }

    fn tinkerbell_ip(&self) -> &str {
        self.datacenter.tinkerbell_ip.as_deref().unwrap_or("")
    }

    /// `bootOptions`: netboot, or ISO boot from smee at the bootstrap annotation's IP or the
    /// datacenter's `tinkerbellIP`.
    fn boot_options(&self) -> capt::BootOptions {
        if self.datacenter.iso_boot == Some(true) {
            let host = annotation_ip(self.inputs).unwrap_or_else(|| self.tinkerbell_ip().to_string());
            capt::BootOptions {
                boot_mode: Some("iso".into()),
                iso_url: Some(format!("http://{host}:{}/iso/hook.iso", stack::SMEE_HTTP_PORT)),
                ..Default::default()
            }
        } else {
            capt::BootOptions {
                boot_mode: Some("netboot".into()),
                ..Default::default()
            }
        }
    }

    /// The workflow of a machine: its `templateRef`'s, else the default one streaming
    /// `os_image_url`.
    fn workflow(
        &self,
        machine: &TinkerbellMachineConfigSpec,
        templates: &TemplateConfigs,
        os_image_url: &str,
    ) -> String {
        let named = machine
            .template_ref
            .as_ref()
            .and_then(|r| r.name.as_ref())
            .and_then(|n| templates.get(n));
        let workflow = match named {
            Some(t) => Workflow::from_template(t),
            None => DefaultWorkflow {
                cluster_name: self.cluster_name(),
                os_image_url,
                bootstrap_ip: &self.bootstrap_ip,
                tinkerbell_ip: self.tinkerbell_ip(),
                os_family: OsFamily::from_spec(machine.os_family.as_deref()),
                proxy: self.workflow_proxy(),
            }
            .build(),
        };
        let text = workflow.to_yaml();
        match core_mirror(self.mirror.as_ref()) {
            Some(mirror) => text.replace(DEFAULT_REGISTRY, &mirror),
            None => text,
        }
    }

    /// The proxy environment of the image-streaming action: EKS-A's `Cluster.ProxyConfiguration()`
    /// (`NO_PROXY` = user entries, pod and service CIDRs, the endpoint host).
    fn workflow_proxy(&self) -> Option<(String, String, String)> {
        let p = self.spec.proxy_configuration.as_ref()?;
        let (pods, services) = crate::common::cluster::cidr_blocks(&self.spec);
        let mut no_proxy = p.no_proxy.clone().unwrap_or_default();
        no_proxy.extend(pods);
        no_proxy.extend(services);
        let host = proxy::endpoint_host(&self.spec);
        if !host.is_empty() {
            no_proxy.push(host);
        }
        Some((
            p.http_proxy.clone().unwrap_or_default(),
            p.https_proxy.clone().unwrap_or_default(),
            no_proxy.join(","),
        ))
    }

    /// A machine template: hardware affinity, boot options and workflow.
    fn machine_template(
        &self,
        name: &str,
        machine: &TinkerbellMachineConfigSpec,
        templates: &TemplateConfigs,
        os_image_url: &str,
    ) -> capt::TinkerbellMachineTemplate {
        capt::TinkerbellMachineTemplate {
            api_version: Some(CAPT_API_VERSION.into()),
            kind: Some(MACHINE_TEMPLATE_KIND.into()),
            metadata: Some(crate::common::system_meta(name)),
            spec: Some(capt::TinkerbellMachineTemplateSpec {
                template: Some(capt::Template {
                    spec: Some(capt::Spec {
                        hardware_affinity: Some(hardware_affinity(machine)),
                        boot_options: Some(self.boot_options()),
                        template_override: Some(self.workflow(machine, templates, os_image_url)),
                        ..Default::default()
                    }),
                }),
            }),
        }
    }

    /// Pause and bootstrap images, proxy, mirror and settings blocks for a Bottlerocket node
    /// (settings from the host OS configuration whatever the OS).
    fn extensions(
        &self,
        machine: &TinkerbellMachineConfigSpec,
        bundle: &VersionsBundle,
        distro: &KubeDistro,
    ) -> KubeadmExtensions {
        let is_bottlerocket = OsFamily::from_spec(machine.os_family.as_deref()) == OsFamily::Bottlerocket;
        let host_os = machine.host_os_configuration.as_ref();
        let settings = host_os
            .filter(|h| h.bottlerocket_configuration.is_some())
            .and_then(|h| bottlerocket::settings(Some(h), None));
        if !is_bottlerocket {
            return KubeadmExtensions {
                bottlerocket: settings,
                ..Default::default()
            };
        }
        KubeadmExtensions {
            pause: Some(ImageRef::from_image(&distro.pause)),
            bottlerocket_bootstrap: Some(ImageRef::from_image(&bottlerocket::bootstrap_image(bundle))),
            proxy: self.proxy.as_ref().map(bottlerocket::proxy_settings),
            registry_mirror: self.mirror.as_ref().map(bottlerocket::registry_mirror_settings),
            bottlerocket: settings,
        }
    }
}

/// The bootstrap IP annotation of the Cluster, when set.
fn annotation_ip(inputs: &Inputs<'_>) -> Option<String> {
    inputs
        .cluster
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(BOOTSTRAP_IP_ANNOTATION))
        .filter(|ip| !ip.is_empty())
        .cloned()
}

/// The mirror of `public.ecr.aws` (`<endpoint>:<port>[/<namespace>]`).
fn core_mirror(mirror: Option<&RegistryMirror>) -> Option<String> {
    let m = mirror?;
    Some(match m.mirrors.get(DEFAULT_REGISTRY) {
        Some(target) => target.replacen("/v2/", "/", 1),
        None => m.address.clone(),
    })
}

fn machine_spec(object: Option<&Object>, role: &str) -> Result<TinkerbellMachineConfigSpec> {
    match object {
        Some(Object::TinkerbellMachineConfig(m)) => Ok(m.spec.clone().unwrap_or_default()),
        Some(other) => Err(Error::Invalid {
            what: format!("{role} machine config"),
            why: format!("expected a TinkerbellMachineConfig, got a {}", other.kind()),
        }),
        None => Err(Error::Missing(format!("the {role} TinkerbellMachineConfig"))),
    }
}

/// The machine's hardware affinity: its `hardwareAffinity`, else one required term matching
/// the `hardwareSelector` labels.
fn hardware_affinity(machine: &TinkerbellMachineConfigSpec) -> capt::HardwareAffinity {
    let selector = |s: Option<&anywhere_api::LabelSelector>| capt::LabelSelector {
        match_labels: s.and_then(|s| s.match_labels.clone()).filter(|m| !m.is_empty()),
        match_expressions: s
            .and_then(|s| s.match_expressions.as_ref())
            .filter(|e| !e.is_empty())
            .map(|e| {
                e.iter()
                    .map(|x| capt::MatchExpression {
                        key: x.key.clone(),
                        operator: x.operator.clone(),
                        values: x.values.clone().filter(|v| !v.is_empty()),
                    })
                    .collect()
            }),
    };
    match machine.hardware_affinity.as_ref() {
        Some(HardwareAffinity { required, preferred }) => capt::HardwareAffinity {
            required: required.as_ref().filter(|r| !r.is_empty()).map(|terms| {
                terms
                    .iter()
                    .map(|t| capt::HardwareAffinityTerm {
                        label_selector: Some(selector(t.label_selector.as_ref())),
                    })
                    .collect()
            }),
            preferred: preferred.as_ref().filter(|p| !p.is_empty()).map(|terms| {
                terms
                    .iter()
                    .map(|p| capt::Preferred {
                        weight: p.weight,
                        hardware_affinity_term: Some(capt::HardwareAffinityTerm {
                            label_selector: Some(selector(
                                p.hardware_affinity_term
                                    .as_ref()
                                    .and_then(|t| t.label_selector.as_ref()),
                            )),
                        }),
                    })
                    .collect()
            }),
        },
        None => capt::HardwareAffinity {
            required: Some(vec![capt::HardwareAffinityTerm {
                label_selector: Some(capt::LabelSelector {
                    match_labels: Some(machine.hardware_selector.clone().unwrap_or_default()),
                    match_expressions: None,
                }),
            }]),
            preferred: None,
        },
    }
}

/// `certBundles` of EKS Anywhere's kubeadm fork (`hostOSConfiguration.certBundles`).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct CertBundles {
    cert_bundles: Vec<CertBundle>,
}

#[derive(serde::Serialize)]
struct CertBundle {
    name: String,
    data: String,
}

/// The machine's CA bundles, or `None` without any.
fn cert_bundles(machine: &TinkerbellMachineConfigSpec) -> Option<CertBundles> {
    let bundles = machine
        .host_os_configuration
        .as_ref()?
        .cert_bundles
        .as_ref()
        .filter(|b| !b.is_empty())?;
    Some(CertBundles {
        cert_bundles: bundles
            .iter()
            .map(|b| CertBundle {
                name: b.name.clone().unwrap_or_default(),
                // Written as a `|` block: one final newline.
                data: format!("{}\n", b.data.as_deref().unwrap_or("").trim_end_matches('\n')),
            })
            .collect(),
    })
}

fn ntp(machine: &TinkerbellMachineConfigSpec) -> Option<Ntp> {
    let servers = machine
        .host_os_configuration
        .as_ref()?
        .ntp_configuration
        .as_ref()?
        .servers
        .clone()?;
    (!servers.is_empty()).then_some(Ntp {
        enabled: Some(true),
        servers: Some(servers),
    })
}

/// Cluster-level and control-plane objects: the CAPI `Cluster`, the `KubeadmControlPlane`, the
/// external etcd `EtcdadmCluster` and its machine template when configured, the control-plane
/// `TinkerbellMachineTemplate`, the `TinkerbellCluster` and, with an authenticated registry
/// mirror, the `registry-credentials` Secret.
///
/// # Errors
/// A missing machine config or catalog entry, or incomplete registry credentials.
pub fn control_plane_with_templates(
    inputs: &Inputs<'_>,
    templates: &TemplateConfigs,
) -> Result<Vec<Manifest>> {
    let ctx = Context::new(inputs)?;
    let spec = &ctx.spec;
    let name = ctx.cluster_name().to_string();
    let version = inputs.kubernetes_version()?;
    let bundle = inputs.bundle(version)?;
    let distro = inputs.kube_distro(version)?;
    let tag = distro.kubernetes.tag.clone();
    let minor = kube_minor(&tag)?;
    let machine = machine_spec(inputs.provider.control_plane_machine.as_ref(), "control-plane")?;
    let is_bottlerocket = OsFamily::from_spec(machine.os_family.as_deref()) == OsFamily::Bottlerocket;
    let format = if is_bottlerocket {
        "bottlerocket"
    } else {
        "cloud-config"
    };
    let external_etcd = spec.external_etcd_configuration.is_some();
    let cp_config = spec.control_plane_configuration.clone().unwrap_or_default();

    let mut out = vec![capi_cluster(
        spec,
        &ClusterOptions {
            name: &name,
            infrastructure_kind: "TinkerbellCluster",
            labels: ClusterLabels::ClusterName,
            service_domain: None,
            control_plane_endpoint: Some((&proxy::endpoint_host(spec), API_SERVER_PORT)),
            external_etcd,
        },
    )];

    // clusterConfiguration
    let skip_admission = cp::skips_admission_for_system_resources(spec);
    let mut api_server_volumes = audit::audit_volumes(if is_bottlerocket {
        audit::BOTTLEROCKET_AUDIT_POLICY_HOST_PATH
    } else {
        audit::AUDIT_POLICY_PATH
    });
    if skip_admission {
        api_server_volumes.push(admission::exclusion_rules_volume(admission::EXCLUSION_RULES_PATH));
    }
    let aws_iam = aws_iam::has_identity_provider(spec, "AWSIamConfig");
    if aws_iam {
        api_server_volumes.extend(aws_iam::aws_iam_volumes());
    }
    let mut computed = cp::api_server_computed_args(spec, Default::default());
    computed.extend(aws_iam::identity_provider_args(
        spec,
        inputs.provider.oidc.as_ref(),
    ));
    let api_server_args = audit::audit_args().with_sorted(&computed);
    let bottlerocket_component = |c: ComponentKind| Component {
        args: Args::default(),
        volumes: vec![cp::bottlerocket_kubeconfig_volume(c)],
    };
    let cluster_configuration = cp::cluster_configuration(&ClusterConfigurationParts {
        distro: &distro,
        etcd: if external_etcd {
            EtcdTopology::External(if is_bottlerocket {
                EtcdClientPaths::BOTTLEROCKET
            } else {
                EtcdClientPaths::KUBEADM
            })
        } else {
            EtcdTopology::Local(Args::default())
        },
        cert_sans: cp::cert_sans(spec),
        api_server_args,
        api_server_envs: if skip_admission {
            vec![admission::exclusion_rules_env()]
        } else {
            vec![]
        },
        api_server_volumes,
        controller_manager: is_bottlerocket.then(|| bottlerocket_component(ComponentKind::ControllerManager)),
        scheduler: is_bottlerocket.then(|| bottlerocket_component(ComponentKind::Scheduler)),
        certificates_dir: is_bottlerocket.then_some("/var/lib/kubeadm/pki".to_string()),
        feature_gates: cp::etcd_learner_mode_gate(minor),
    });

    // files
    let resolv_conf = cp::resolv_conf(spec);
    let kubelet_config = cp::kubelet_configuration(spec).filter(|_| !is_bottlerocket);
    let mut files = Vec::new();
    if let Some(config) = kubelet_config {
        files.push(kubelet::configuration_file(config, resolv_conf, &[]));
    }
    if cp_config.skip_load_balancer_deployment != Some(true) {
        let image = bundle
            .tinkerbell
            .as_ref()
            .and_then(|t| t.kube_vip.as_ref())
            .and_then(|k| k.uri.clone());
        let mut options = kube_vip::standard_options(
            &proxy::endpoint_host(spec),
            image.as_deref().unwrap_or(""),
            if is_bottlerocket {
                BOTTLEROCKET_ADMIN_KUBECONFIG
            } else {
                ADMIN_KUBECONFIG
            },
        );
        // Without worker nodes, control-plane kube-vip also serves LoadBalancer services.
        if !workers::has_worker_groups(spec) && ctx.datacenter.skip_load_balancer_deployment != Some(true) {
            options.env.push(("svc_enable".into(), "true".into()));
            options.env.push(("svc_election".into(), "true".into()));
        }
        files.push(kube_vip::file(&options));
    }
    if skip_admission {
        files.push(admission::exclusion_rules_file());
    }
    files.push(audit::audit_policy_file(minor, audit::user_policy_content(spec)));
    if aws_iam {
        files.extend(aws_iam::aws_iam_files(&name));
    }
    if !is_bottlerocket {
        files.extend(registry_mirror::proxy_and_mirror_files(
            ctx.proxy.as_ref(),
            ctx.mirror.as_ref(),
        ));
    }

    // node registration
    let taints = taints::control_plane_kubeadm_taints(spec, ControlPlaneTaintPolicy::EmptyWithoutWorkers);
    let registration = NodeRegistrationParts {
        cri_socket: None,
        kubelet_args: Some(kubelet::node_args(
            Args::literal(&[("provider-id", PROVIDER_ID)]),
            KubeletSettings::of(kubelet_config),
            resolv_conf,
            cp::labels(spec),
        )),
        name: None,
        taints,
        ignore_preflight_errors: None,
    };
    let join_registration = NodeRegistrationParts {
        ignore_preflight_errors: Some(vec!["DirAvailable--etc-kubernetes-manifests".into()]),
        ..registration.clone()
    };

    let mut pre_kubeadm_commands = Vec::new();
    if !is_bottlerocket {
        pre_kubeadm_commands = registry_mirror::containerd_commands(ctx.mirror.as_ref(), ctx.proxy.as_ref());
        if minor >= 29 {
            pre_kubeadm_commands.push(SUPER_ADMIN_COMMAND.into());
        }
    }
    let (user, key) = users::first_user(machine.users.as_ref());
    let mut kcp = cp::kubeadm_control_plane(ControlPlaneParts {
        cluster_name: name.clone(),
        version: tag.clone(),
        replicas: cp::replicas(spec),
        max_surge: cp::max_surge(spec),
        machine_template_kind: MACHINE_TEMPLATE_KIND.into(),
        machine_template_name: inputs.names.control_plane().to_string(),
        node_deletion_timeout_seconds: Some(NODE_DELETION_TIMEOUT_SECONDS),
        cluster_configuration,
        files,
        init_registration: registration,
        join_registration,
        patches: kubelet_config.map(|_| kubelet::patches()),
        pre_kubeadm_commands,
        post_kubeadm_commands: vec![],
        users: vec![users::kubeadm_user(&user, &key)],
        format: Some(format.into()),
    });
    if let Some(config_spec) = kcp.spec.as_mut().and_then(|s| s.kubeadm_config_spec.as_mut()) {
        config_spec.ntp = ntp(&machine);
    }
    if let Some(strategy) = cp_config.upgrade_rollout_strategy.as_ref() {
        let rollout_strategy = kcp
            .spec
            .as_mut()
            .and_then(|s| s.rollout.as_mut())
            .and_then(|r| r.strategy.as_mut());
        if let Some(s) = rollout_strategy {
            if strategy.r#type.as_deref() == Some("InPlace") {
                s.rolling_update = None;
                s.r#type = Some("InPlace".into());
            } else {
                s.r#type = None;
            }
        }
    }
    let mut kcp = Manifest::new(&kcp);
    bottlerocket::apply_to_control_plane(&mut kcp, &ctx.extensions(&machine, bundle, &distro));
    if let Some(bundles) = cert_bundles(&machine) {
        crate::common::merge_into(&mut kcp, "/spec/kubeadmConfigSpec/clusterConfiguration", &bundles);
        crate::common::merge_into(&mut kcp, "/spec/kubeadmConfigSpec/joinConfiguration", &bundles);
    }
    out.push(kcp);

    let datacenter_image = ctx.datacenter.os_image_url.clone().unwrap_or_default();
    let image_for = |m: &TinkerbellMachineConfigSpec| {
        m.os_image_url
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| datacenter_image.clone())
    };

    if external_etcd {
        let etcd_machine = machine_spec(inputs.provider.etcd_machine.as_ref(), "etcd")?;
        let (etcd_user, etcd_key) = users::first_user(etcd_machine.users.as_ref());
        let bootstrap = if is_bottlerocket {
            etcd::bottlerocket_bootstrap(bundle, &distro)
        } else {
            EtcdBootstrap::CloudInit {
                install_dir: Some("/usr/bin".into()),
                pre_commands: crate::common::hostname_commands(),
                release_url: etcd::release_url_for(spec.eksa_version.as_deref()),
            }
        };
        let etcdadm = etcd::etcdadm_cluster(&EtcdOptions {
            cluster_name: &name,
            replicas: etcd::external_etcd_replicas(spec).unwrap_or(1),
            distro: &distro,
            format: Some(format),
            bootstrap,
            user: Some((etcd_user, etcd_key)),
            infrastructure: (CAPT_API_VERSION, MACHINE_TEMPLATE_KIND, inputs.names.etcd()),
            proxy: ctx.proxy.as_ref(),
            registry_mirror: ctx.mirror.as_ref(),
        });
        out.push(Manifest::new(&etcdadm));
        out.push(Manifest::new(&ctx.machine_template(
            inputs.names.etcd(),
            &etcd_machine,
            templates,
            &image_for(&etcd_machine),
        )));
    }

    out.push(Manifest::new(&ctx.machine_template(
        inputs.names.control_plane(),
        &machine,
        templates,
        &image_for(&machine),
    )));
    out.push(Manifest::new(&capt::TinkerbellCluster {
        api_version: Some(CAPT_API_VERSION.into()),
        kind: Some("TinkerbellCluster".into()),
        metadata: Some(crate::common::system_meta(&name)),
        spec: Some(capt::TinkerbellClusterSpec {
            image_lookup_format: Some(format!("--kube-{tag}.raw.gz")),
            image_lookup_base_registry: Some("/".into()),
            ..Default::default()
        }),
        status: None,
    }));
    out.extend(ctx.mirror.as_ref().and_then(registry_mirror::credentials_secret));
    Ok(out)
}

/// Per worker group, in spec order: `MachineDeployment`, `TinkerbellMachineTemplate`,
/// `KubeadmConfigTemplate`.
///
/// # Errors
/// A group without a machine config or catalog entry, or incomplete registry credentials.
pub fn workers_with_templates(inputs: &Inputs<'_>, templates: &TemplateConfigs) -> Result<Vec<Manifest>> {
    let ctx = Context::new(inputs)?;
    let spec = &ctx.spec;
    let name = ctx.cluster_name().to_string();
    let resolv_conf = cp::resolv_conf(spec);
    // As EKS-A: a group's own `osImageURL` also becomes the default of the groups after it.
    let mut os_image_url = ctx.datacenter.os_image_url.clone().unwrap_or_default();
    let mut out = Vec::new();
    for group in spec.worker_node_group_configurations.iter().flatten() {
        let group_name = workers::group_name(group);
        let machine = machine_spec(
            workers::machine_config(inputs, group),
            &format!("worker group {group_name:?}"),
        )?;
        let version = workers::kubernetes_version(inputs, group)?;
        let bundle = inputs.bundle(version)?;
        let distro = inputs.kube_distro(version)?;
        let is_bottlerocket = OsFamily::from_spec(machine.os_family.as_deref()) == OsFamily::Bottlerocket;
        let machine_template_name = inputs.names.worker_machine(group_name);
        let config_template_name = inputs.names.worker_kubeadm_config(group_name);

        let mut md = workers::machine_deployment(&MachineDeploymentOptions {
            cluster_name: &name,
            group,
            version: &distro.kubernetes.tag,
            machine_template_kind: MACHINE_TEMPLATE_KIND,
            machine_template_name,
            config_template_name,
            failure_domain: None,
        });
        adjust_machine_deployment(&mut md, group);
        out.push(Manifest::new(&md));

        if let Some(url) = machine.os_image_url.clone().filter(|u| !u.is_empty()) {
            os_image_url = url;
        }
        out.push(Manifest::new(&ctx.machine_template(
            machine_template_name,
            &machine,
            templates,
            &os_image_url,
        )));

        let kubelet_config = workers::kubelet_configuration(group).filter(|_| !is_bottlerocket);
        let mut files = Vec::new();
        if let Some(config) = kubelet_config {
            files.push(kubelet::configuration_file(config, resolv_conf, &[]));
        }
        let mut pre_kubeadm_commands = Vec::new();
        if !is_bottlerocket {
            files.extend(registry_mirror::proxy_and_mirror_files(
                ctx.proxy.as_ref(),
                ctx.mirror.as_ref(),
            ));
            pre_kubeadm_commands =
                registry_mirror::containerd_commands(ctx.mirror.as_ref(), ctx.proxy.as_ref());
        }
        let group_taints = workers::taints(group);
        let (user, key) = users::first_user(machine.users.as_ref());
        let mut kct = workers::kubeadm_config_template(ConfigTemplateParts {
            name: config_template_name.to_string(),
            join_registration: NodeRegistrationParts {
                cri_socket: None,
                kubelet_args: Some(kubelet::node_args(
                    Args::literal(&[("provider-id", PROVIDER_ID)]),
                    KubeletSettings::of(kubelet_config),
                    resolv_conf,
                    group.labels.as_ref(),
                )),
                name: None,
                taints: (!group_taints.is_empty()).then_some(group_taints),
                ignore_preflight_errors: None,
            },
            patches: kubelet_config.map(|_| kubelet::patches()),
            files,
            pre_kubeadm_commands,
            post_kubeadm_commands: vec![],
            users: vec![users::kubeadm_user(&user, &key)],
            format: Some(
                if is_bottlerocket {
                    "bottlerocket"
                } else {
                    "cloud-config"
                }
                .into(),
            ),
        });
        if let Some(s) = kct
            .spec
            .as_mut()
            .and_then(|s| s.template.as_mut())
            .and_then(|t| t.spec.as_mut())
        {
            s.ntp = ntp(&machine).map(|n| crate::common::retype(&n));
        }
        let mut kct = Manifest::new(&kct);
        bottlerocket::apply_to_config_template(&mut kct, &ctx.extensions(&machine, bundle, &distro));
        if let Some(bundles) = cert_bundles(&machine) {
            crate::common::merge_into(&mut kct, "/spec/template/spec/joinConfiguration", &bundles);
        }
        out.push(kct);
    }
    Ok(out)
}

/// Tinkerbell's additions to the MachineDeployment skeleton: the `pool` label, the node deletion
/// timeout and the in-place rollout strategy.
fn adjust_machine_deployment(
    md: &mut crate::types::cluster_v1beta2::MachineDeployment,
    group: &WorkerNodeGroupConfiguration,
) {
    let pool = workers::group_name(group).to_string();
    if let Some(labels) = md.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.insert("pool".into(), pool.clone());
    }
    let Some(spec) = md.spec.as_mut() else { return };
    if let Some(template) = spec.template.as_mut() {
        if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.insert("pool".into(), pool);
        }
        if let Some(s) = template.spec.as_mut() {
            s.deletion = Some(crate::types::cluster_v1beta2::Deletion {
                node_deletion_timeout_seconds: Some(NODE_DELETION_TIMEOUT_SECONDS),
                ..Default::default()
            });
        }
    }
    if group
        .upgrade_rollout_strategy
        .as_ref()
        .and_then(|s| s.r#type.as_deref())
        == Some("InPlace")
    {
        spec.rollout = Some(crate::types::cluster_v1beta2::WorkersMachineDeploymentRollout {
            strategy: Some(crate::types::cluster_v1beta2::Strategy {
                r#type: Some("InPlace".into()),
                rolling_update: None,
            }),
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_becomes_one_required_term() {
        let m = TinkerbellMachineConfigSpec {
            hardware_selector: Some(BTreeMap::from([("type".into(), "cp".into())])),
            ..Default::default()
        };
        let v = serde_json::to_value(hardware_affinity(&m)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"required": [{"labelSelector": {"matchLabels": {"type": "cp"}}}]})
        );
    }

    #[test]
    fn core_mirror_strips_the_v2_path() {
        let m = RegistryMirror {
            address: "m:443".into(),
            ca_cert: None,
            skip_verify: false,
            auth: None,
            mirrors: BTreeMap::from([("public.ecr.aws".into(), "m:443/v2/eks".into())]),
        };
        assert_eq!(core_mirror(Some(&m)).as_deref(), Some("m:443/eks"));
    }
}

//! The Docker provider (CAPD): kind-node machines behind an HAProxy load balancer. Used for
//! local development and tests; nodes have no users, no cloud provider and no kube-vip.

use std::collections::BTreeMap;

use serde_json::Value;

use anywhere_api::{ClusterSpec, WorkerNodeGroupConfiguration};
use anywhere_catalog::generated::VersionsBundle;
use anywhere_catalog::{Image, KubeDistro};

use crate::common::args::Args;
use crate::common::cluster::{self, ClusterLabels, ClusterOptions};
use crate::common::control_plane::{
    self as cp, ApiServerArgOptions, ClusterConfigurationParts, Component, ComponentKind, ControlPlaneParts,
    EtcdClientPaths, EtcdTopology, NodeRegistrationParts,
};
use crate::common::etcd::{self, EtcdBootstrap, EtcdOptions};
use crate::common::registry_mirror::{self, RegistryMirror};
use crate::common::taints::{self, ControlPlaneTaintPolicy};
use crate::common::workers::{self, ConfigTemplateParts, MachineDeploymentOptions};
use crate::common::{CONTAINERD_SOCKET, admission, audit, kubelet, system_meta};
use crate::types::controlplane_v1beta2::{File, Taint};
use crate::types::docker_v1beta2::{
    DockerCluster, DockerClusterSpec, DockerMachineTemplate, DockerMachineTemplateSpec, ExtraMount,
    LoadBalancer, Spec, Template,
};
use crate::{Inputs, Manifest, Result};

/// The CAPD API version.
const CAPD_API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta2";
/// The machine template kind.
const MACHINE_TEMPLATE_KIND: &str = "DockerMachineTemplate";
/// The docker socket every node mounts.
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The kind node image of a versions bundle (`eksD.kindNode`).
fn kind_node_image(bundle: &VersionsBundle) -> String {
    bundle
        .eks_d
        .as_ref()
        .and_then(|e| e.kind_node.as_ref())
        .and_then(|k| k.uri.clone())
        .unwrap_or_default()
}

/// The HAProxy image split as CAPD wants it: the repository is the
/// `public.ecr.aws/<x>/kubernetes-sigs/kind` prefix before `/haproxy`, the tag its `Tag()`.
/// Both are empty when the bundle has no `haproxy` image.
fn haproxy_image(bundle: &VersionsBundle) -> (String, String) {
    let uri = bundle
        .haproxy
        .as_ref()
        .and_then(|h| h.image.as_ref())
        .and_then(|i| i.uri.clone())
        .unwrap_or_default();
    if uri.is_empty() {
        return (String::new(), String::new());
    }
    let image = Image::new(uri);
    let name = image.image();
    let repository = name.rfind("/haproxy").map_or(name, |i| &name[..i]);
    (repository.to_string(), image.tag().to_string())
}

/// The `DockerMachineTemplate` of a node group.
fn machine_template(name: &str, bundle: &VersionsBundle) -> DockerMachineTemplate {
    DockerMachineTemplate {
        api_version: Some(CAPD_API_VERSION.into()),
        kind: Some(MACHINE_TEMPLATE_KIND.into()),
        metadata: Some(system_meta(name)),
        spec: Some(DockerMachineTemplateSpec {
            template: Some(Template {
                metadata: None,
                spec: Some(Spec {
                    extra_mounts: Some(vec![ExtraMount {
                        container_path: Some(DOCKER_SOCKET.into()),
                        host_path: Some(DOCKER_SOCKET.into()),
                        read_only: None,
                    }]),
                    custom_image: Some(kind_node_image(bundle)),
                    ..Default::default()
                }),
            }),
        }),
        status: None,
    }
}

/// Docker's computed kubelet args: the common ones plus `cgroup-driver` (`cgroupfs` below 1.24,
/// `systemd` from 1.24) and, from 1.31, `fail-cgroupv1=false`.
fn kubelet_computed_args(minor: u32, resolv_conf: Option<&str>) -> BTreeMap<String, String> {
    let mut args = kubelet::computed_args(resolv_conf);
    args.insert(
        "cgroup-driver".into(),
        if minor < 24 { "cgroupfs" } else { "systemd" }.into(),
    );
    if minor >= 31 {
        args.insert("fail-cgroupv1".into(), "false".into());
    }
    args
}

/// Kubelet args (`None`: no `kubeletExtraArgs` key) and, with a kubelet configuration, the patch
/// file instead.
fn kubelet_settings(
    minor: u32,
    configuration: Option<&Value>,
    resolv_conf: Option<&str>,
    labels: Option<&BTreeMap<String, String>>,
) -> (Option<Args>, Option<File>) {
    match configuration {
        Some(config) => {
            let defaults: Vec<(&str, Value)> = if minor >= 31 {
                vec![("failCgroupV1", Value::Bool(false))]
            } else {
                vec![]
            };
            let labels_only = Args::default().with_node_labels(labels);
            (
                (!labels_only.is_empty()).then_some(labels_only),
                Some(kubelet::configuration_file(config, resolv_conf, &defaults)),
            )
        }
        None => (
            Some(
                Args::literal(&[("eviction-hard", kubelet::EVICTION_HARD_DISABLED)])
                    .with_sorted(&kubelet_computed_args(minor, resolv_conf))
                    .with_node_labels(labels),
            ),
            None,
        ),
    }
}

fn node_registration(kubelet_args: Option<Args>, taints: Option<Vec<Taint>>) -> NodeRegistrationParts {
    NodeRegistrationParts {
        cri_socket: Some(CONTAINERD_SOCKET.into()),
        kubelet_args,
        name: None,
        taints,
        ignore_preflight_errors: None,
    }
}

/// The commands that load the mirror configuration into containerd (Docker nodes run them as
/// root, without `sudo`).
fn mirror_commands(mirror: Option<&RegistryMirror>) -> Vec<String> {
    match mirror {
        Some(_) => vec![
            "cat /etc/containerd/config_append.toml >> /etc/containerd/config.toml".to_string(),
            "systemctl daemon-reload".to_string(),
            "systemctl restart containerd".to_string(),
        ],
        None => vec![],
    }
}

/// Cluster-level and control-plane objects: Cluster, DockerCluster, the control-plane
/// DockerMachineTemplate, KubeadmControlPlane and, with external etcd, the EtcdadmCluster and
/// its DockerMachineTemplate.
pub fn control_plane(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let spec = inputs.spec().into_owned();
    let name = inputs.cluster_name();
    let version = inputs.kubernetes_version()?;
    let minor = version.minor();
    let bundle = inputs.bundle(version)?;
    let distro = inputs.kube_distro(version)?;
    let mirror = registry_mirror::registry_mirror(&spec, inputs.credentials)?;
    let external_etcd = etcd::external_etcd_replicas(&spec);

    let mut out = vec![cluster::capi_cluster(
        &spec,
        &ClusterOptions {
            name,
            infrastructure_kind: "DockerCluster",
            labels: ClusterLabels::None,
            service_domain: Some("cluster.local"),
            control_plane_endpoint: None,
            external_etcd: external_etcd.is_some(),
        },
    )];
    let (lb_repository, lb_tag) = haproxy_image(bundle);
    out.push(Manifest::new(&DockerCluster {
        api_version: Some(CAPD_API_VERSION.into()),
        kind: Some("DockerCluster".into()),
        metadata: Some(system_meta(name)),
        spec: Some(DockerClusterSpec {
            load_balancer: Some(LoadBalancer {
                image_repository: Some(lb_repository),
                image_tag: Some(lb_tag),
                custom_ha_proxy_config_template_ref: None,
            }),
            ..Default::default()
        }),
        status: None,
    }));
    out.push(Manifest::new(&machine_template(
        inputs.names.control_plane(),
        bundle,
    )));
    let mut kcp = cp::kubeadm_control_plane(control_plane_parts(
        inputs,
        &spec,
        &distro,
        minor,
        mirror.as_ref(),
        external_etcd.is_some(),
    ));
    cp::apply_rollout_strategy(&mut kcp, &spec);
    out.push(Manifest::new(&kcp));
    if let Some(replicas) = external_etcd {
        let mut etcd_cluster = etcd::etcdadm_cluster(&EtcdOptions {
            cluster_name: name,
            replicas,
            distro: &distro,
            format: None,
            bootstrap: EtcdBootstrap::CloudInit {
                install_dir: None,
                pre_commands: vec![],
                release_url: etcd::release_url_for(spec.eksa_version.as_deref()),
            },
            user: None,
            infrastructure: (CAPD_API_VERSION, MACHINE_TEMPLATE_KIND, inputs.names.etcd()),
            proxy: None,
            registry_mirror: mirror.as_ref(),
        });
        if let Some(template) = etcd_cluster
            .spec
            .as_mut()
            .and_then(|s| s.infrastructure_template.as_mut())
        {
            template.namespace = Some(crate::SYSTEM_NAMESPACE.into());
        }
        out.push(Manifest::new(&etcd_cluster));
        out.push(Manifest::new(&machine_template(inputs.names.etcd(), bundle)));
    }
    out.extend(mirror.as_ref().and_then(registry_mirror::credentials_secret));
    Ok(out)
}

fn control_plane_parts(
    inputs: &Inputs<'_>,
    spec: &ClusterSpec,
    distro: &KubeDistro,
    minor: u32,
    mirror: Option<&RegistryMirror>,
    external_etcd: bool,
) -> ControlPlaneParts {
    let admission = cp::skips_admission_for_system_resources(spec);
    let api_args = audit::audit_args().with("profiling", "false").with_sorted(&{
        let mut computed = cp::api_server_computed_args(
            spec,
            ApiServerArgOptions {
                tls_cipher_suites: true,
                encryption_provider_config: false,
            },
        );
        computed.extend(crate::common::aws_iam::identity_provider_args(
            spec,
            inputs.provider.oidc.as_ref(),
        ));
        computed
    });
    let mut api_volumes = audit::audit_volumes(audit::AUDIT_POLICY_PATH);
    let mut api_envs = Vec::new();
    if admission {
        api_volumes.push(admission::exclusion_rules_volume(admission::EXCLUSION_RULES_PATH));
        api_envs.push(admission::exclusion_rules_env());
    }
    let mut cert_sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    cert_sans.extend(cp::cert_sans(spec));
    let cluster_configuration = cp::cluster_configuration(&ClusterConfigurationParts {
        distro,
        etcd: if external_etcd {
            EtcdTopology::External(EtcdClientPaths::KUBEADM)
        } else {
            EtcdTopology::Local(cp::etcd_cipher_suite_args())
        },
        cert_sans,
        api_server_args: api_args,
        api_server_envs: api_envs,
        api_server_volumes: api_volumes,
        controller_manager: Some(Component {
            args: Args::literal(&[("enable-hostpath-provisioner", "true"), ("profiling", "false")])
                .with_sorted(&cp::component_computed_args(
                    spec,
                    ComponentKind::ControllerManager,
                )),
            volumes: vec![],
        }),
        scheduler: Some(Component {
            args: Args::literal(&[("profiling", "false")])
                .with_sorted(&cp::component_computed_args(spec, ComponentKind::Scheduler)),
            volumes: vec![],
        }),
        certificates_dir: None,
        feature_gates: None,
    });

    let kubelet_configuration = cp::kubelet_configuration(spec);
    let (kubelet_args, kubelet_file) = kubelet_settings(
        minor,
        kubelet_configuration,
        cp::resolv_conf(spec),
        cp::labels(spec),
    );
    let mut files: Vec<File> = kubelet_file.into_iter().collect();
    if admission {
        files.push(admission::exclusion_rules_file());
    }
    // Docker always writes the default policy; `auditPolicyContent` is not used here.
    files.push(audit::audit_policy_file(minor, None));
    files.extend(registry_mirror::proxy_and_mirror_files(None, mirror));

    let taints = taints::control_plane_kubeadm_taints(spec, ControlPlaneTaintPolicy::EmptyWithoutWorkers);
    let registration = node_registration(kubelet_args, taints);
    ControlPlaneParts {
        cluster_name: inputs.cluster_name().to_string(),
        version: distro.kubernetes.tag.clone(),
        replicas: cp::replicas(spec),
        max_surge: cp::max_surge(spec),
        machine_template_kind: MACHINE_TEMPLATE_KIND.into(),
        machine_template_name: inputs.names.control_plane().to_string(),
        node_deletion_timeout_seconds: None,
        cluster_configuration,
        files,
        init_registration: registration.clone(),
        join_registration: registration,
        patches: kubelet_configuration.is_some().then(kubelet::patches),
        pre_kubeadm_commands: mirror_commands(mirror),
        post_kubeadm_commands: vec![],
        users: vec![],
        format: None,
    }
}

/// Per worker group, in spec order: KubeadmConfigTemplate, MachineDeployment and
/// DockerMachineTemplate.
pub fn workers(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let spec = inputs.spec().into_owned();
    let mirror = registry_mirror::registry_mirror(&spec, inputs.credentials)?;
    let mut out = Vec::new();
    for group in spec.worker_node_group_configurations.iter().flatten() {
        out.extend(worker_group(inputs, &spec, group, mirror.as_ref())?);
    }
    Ok(out)
}

fn worker_group(
    inputs: &Inputs<'_>,
    spec: &ClusterSpec,
    group: &WorkerNodeGroupConfiguration,
    mirror: Option<&RegistryMirror>,
) -> Result<Vec<Manifest>> {
    let version = workers::kubernetes_version(inputs, group)?;
    let bundle = inputs.bundle(version)?;
    let distro = inputs.kube_distro(version)?;
    let group_name = workers::group_name(group);
    let kubelet_configuration = workers::kubelet_configuration(group);
    let (kubelet_args, kubelet_file) = kubelet_settings(
        version.minor(),
        kubelet_configuration,
        cp::resolv_conf(spec),
        group.labels.as_ref(),
    );
    let mut files: Vec<File> = kubelet_file.into_iter().collect();
    files.extend(registry_mirror::proxy_and_mirror_files(None, mirror));
    let config_template_name = inputs.names.worker_kubeadm_config(group_name);
    let machine_template_name = inputs.names.worker_machine(group_name);
    let kct = workers::kubeadm_config_template(ConfigTemplateParts {
        name: config_template_name.to_string(),
        join_registration: node_registration(kubelet_args, Some(workers::taints(group))),
        patches: kubelet_configuration.is_some().then(kubelet::patches),
        files,
        pre_kubeadm_commands: mirror_commands(mirror),
        post_kubeadm_commands: vec![],
        users: vec![],
        format: None,
    });
    let mut md = workers::machine_deployment(&MachineDeploymentOptions {
        cluster_name: inputs.cluster_name(),
        group,
        version: &distro.kubernetes.tag,
        machine_template_kind: MACHINE_TEMPLATE_KIND,
        machine_template_name,
        config_template_name,
        failure_domain: None,
    });
    // Docker's MachineDeployments carry no cluster-name labels.
    if let Some(meta) = md.metadata.as_mut() {
        meta.labels = None;
    }
    if let Some(template) = md.spec.as_mut().and_then(|s| s.template.as_mut()) {
        template.metadata = None;
    }
    Ok(vec![
        Manifest::new(&kct),
        Manifest::new(&md),
        Manifest::new(&machine_template(machine_template_name, bundle)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use anywhere_catalog::generated::{Controller, Haproxy};

    #[test]
    fn haproxy_repository_is_the_prefix_before_haproxy() {
        let bundle = VersionsBundle {
            haproxy: Some(Haproxy {
                image: Some(Controller {
                    uri: Some("public.ecr.aws/x/kubernetes-sigs/kind/haproxy:v0.20.0".into()),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };
        assert_eq!(
            haproxy_image(&bundle),
            ("public.ecr.aws/x/kubernetes-sigs/kind".into(), "v0.20.0".into())
        );
        assert_eq!(
            haproxy_image(&VersionsBundle::default()),
            (String::new(), String::new())
        );
    }

    #[test]
    fn cgroup_driver_switches_to_systemd_at_1_24_and_fail_cgroupv1_appears_at_1_31() {
        assert_eq!(kubelet_computed_args(21, None)["cgroup-driver"], "cgroupfs");
        assert_eq!(kubelet_computed_args(24, None)["cgroup-driver"], "systemd");
        assert!(!kubelet_computed_args(30, None).contains_key("fail-cgroupv1"));
        assert_eq!(kubelet_computed_args(31, None)["fail-cgroupv1"], "false");
    }

    #[test]
    fn mirror_commands_run_without_sudo() {
        assert!(mirror_commands(None).is_empty());
        let m = RegistryMirror {
            address: "r:443".into(),
            ca_cert: None,
            skip_verify: false,
            auth: None,
            mirrors: Default::default(),
        };
        assert_eq!(mirror_commands(Some(&m))[1], "systemctl daemon-reload");
    }

    #[test]
    fn kubelet_configuration_keeps_only_node_labels_as_args() {
        let labels = BTreeMap::from([("a".to_string(), "b".to_string())]);
        let (args, _) = kubelet_settings(21, Some(&serde_json::json!({"maxPods": 1})), None, Some(&labels));
        assert_eq!(
            args.unwrap().pairs(),
            [("node-labels".to_string(), "a=b".to_string())]
        );
    }

    #[test]
    fn kubelet_configuration_removes_kubelet_extra_args() {
        let (args, file) = kubelet_settings(31, Some(&serde_json::json!({"maxPods": 1})), None, None);
        assert!(args.is_none());
        assert!(file.unwrap().content.unwrap().contains("failCgroupV1: false"));
    }
}

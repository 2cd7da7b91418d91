//! Worker groups: the `KubeadmConfigTemplate` and `MachineDeployment` skeletons.

use std::collections::BTreeMap;

use anywhere_api::meta::IntOrString;
use anywhere_api::{ClusterSpec, Object, WorkerNodeGroupConfiguration};
use anywhere_catalog::KubeVersion;

use super::control_plane::NodeRegistrationParts;
use super::{BOOTSTRAP_GROUP, CLUSTER_NAME_LABEL, INFRASTRUCTURE_GROUP, names, retype, system_meta};
use crate::types::bootstrap_v1beta2::{self, KubeadmConfigTemplate, KubeadmConfigTemplateSpec};
use crate::types::cluster_v1beta2::{
    Bootstrap, ControlPlaneRef, MachineDeployment, MachineDeploymentSpec, Metadata, RollingUpdate, Selector,
    Spec, Strategy, Template, WorkersMachineDeploymentRollout,
};
use crate::types::controlplane_v1beta2::{File, JoinConfiguration, KubeadmConfigSpecUser, Patches, Taint};
use crate::{Inputs, Result};

/// The autoscaler's minimum-size annotation.
pub const AUTOSCALER_MIN_SIZE: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size";
/// The autoscaler's maximum-size annotation.
pub const AUTOSCALER_MAX_SIZE: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size";

/// Whether the cluster has at least one worker group.
pub fn has_worker_groups(spec: &ClusterSpec) -> bool {
    spec.worker_node_group_configurations
        .as_ref()
        .is_some_and(|w| !w.is_empty())
}

/// A worker group's name (`""` when unnamed).
pub fn group_name(group: &WorkerNodeGroupConfiguration) -> &str {
    group.name.as_deref().unwrap_or("")
}

/// The name of the machine config a worker group references (`""` when none).
pub fn machine_config_name(group: &WorkerNodeGroupConfiguration) -> &str {
    group
        .machine_group_ref
        .as_ref()
        .and_then(|r| r.name.as_deref())
        .unwrap_or("")
}

/// The machine config a worker group references, if the inputs have it.
pub fn machine_config<'a>(
    inputs: &'a Inputs<'_>,
    group: &WorkerNodeGroupConfiguration,
) -> Option<&'a Object> {
    inputs.provider.worker_machines.get(machine_config_name(group))
}

/// A worker group's Kubernetes version: its own `kubernetesVersion` when set and non-empty,
/// else the cluster's.
///
/// # Errors
/// [`crate::Error::Invalid`] when the version does not parse.
pub fn kubernetes_version(inputs: &Inputs<'_>, group: &WorkerNodeGroupConfiguration) -> Result<KubeVersion> {
    match group.kubernetes_version.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => crate::parse_version(v),
        None => inputs.kubernetes_version(),
    }
}

/// A worker group's user-given kubelet configuration, if any.
pub fn kubelet_configuration(group: &WorkerNodeGroupConfiguration) -> Option<&serde_json::Value> {
    group.kubelet_configuration.as_ref().filter(|v| !v.is_null())
}

/// A worker group's taints as kubeadm taints (`[]` when none).
pub fn taints(group: &WorkerNodeGroupConfiguration) -> Vec<Taint> {
    group
        .taints
        .iter()
        .flatten()
        .map(super::taints::to_control_plane)
        .collect()
}

/// Everything the KubeadmConfigTemplate skeleton takes. The parts use the control-plane kubeadm
/// types (one schema with the bootstrap ones), so providers share their helpers.
#[derive(Clone, Debug)]
pub struct ConfigTemplateParts {
    /// The template name (`""` when not supplied).
    pub name: String,
    /// `joinConfiguration.nodeRegistration`.
    pub join_registration: NodeRegistrationParts,
    /// `joinConfiguration.patches` (a kubelet configuration file is used).
    pub patches: Option<Patches>,
    /// `files` (no key when empty).
    pub files: Vec<File>,
    /// `preKubeadmCommands` (no key when empty).
    pub pre_kubeadm_commands: Vec<String>,
    /// `postKubeadmCommands` (no key when empty).
    pub post_kubeadm_commands: Vec<String>,
    /// `users` (no key when empty).
    pub users: Vec<KubeadmConfigSpecUser>,
    /// `format` (or no key).
    pub format: Option<String>,
}

/// Builds a worker group's KubeadmConfigTemplate in `eksa-system`.
pub fn kubeadm_config_template(parts: ConfigTemplateParts) -> KubeadmConfigTemplate {
    let join = JoinConfiguration {
        node_registration: Some(parts.join_registration.to_typed()),
        patches: parts.patches,
        ..Default::default()
    };
    let spec = bootstrap_v1beta2::Spec {
        join_configuration: Some(retype(&join)),
        files: (!parts.files.is_empty()).then(|| retype(&parts.files)),
        pre_kubeadm_commands: (!parts.pre_kubeadm_commands.is_empty()).then_some(parts.pre_kubeadm_commands),
        post_kubeadm_commands: (!parts.post_kubeadm_commands.is_empty())
            .then_some(parts.post_kubeadm_commands),
        users: (!parts.users.is_empty()).then(|| retype(&parts.users)),
        format: parts.format,
        ..Default::default()
    };
    KubeadmConfigTemplate {
        api_version: Some("bootstrap.cluster.x-k8s.io/v1beta2".into()),
        kind: Some("KubeadmConfigTemplate".into()),
        metadata: Some(system_meta(&parts.name)),
        spec: Some(KubeadmConfigTemplateSpec {
            template: Some(bootstrap_v1beta2::Template {
                metadata: None,
                spec: Some(spec),
            }),
        }),
    }
}

/// What a worker group's MachineDeployment references.
#[derive(Clone, Debug)]
pub struct MachineDeploymentOptions<'a> {
    /// The cluster name.
    pub cluster_name: &'a str,
    /// The worker group.
    pub group: &'a WorkerNodeGroupConfiguration,
    /// `version`: the EKS Distro Kubernetes tag of the group's version.
    pub version: &'a str,
    /// The machine template kind, e.g. `VSphereMachineTemplate`.
    pub machine_template_kind: &'a str,
    /// The machine template name.
    pub machine_template_name: &'a str,
    /// The KubeadmConfigTemplate name.
    pub config_template_name: &'a str,
    /// `template.spec.failureDomain`, if any.
    pub failure_domain: Option<&'a str>,
}

/// Builds the `<cluster>-<group>` MachineDeployment: replicas (or autoscaler annotations), an
/// empty selector, references to the group's templates and, when the group sets one, its
/// rollout strategy.
pub fn machine_deployment(options: &MachineDeploymentOptions<'_>) -> MachineDeployment {
    let group = options.group;
    let cluster_label =
        || BTreeMap::from([(CLUSTER_NAME_LABEL.to_string(), options.cluster_name.to_string())]);
    let mut meta = system_meta(&names::machine_deployment_name(
        options.cluster_name,
        group_name(group),
    ));
    meta.labels = Some(cluster_label());
    let autoscaling = group.autoscaling_configuration.as_ref();
    if let Some(a) = autoscaling {
        meta.annotations = Some(BTreeMap::from([
            (
                AUTOSCALER_MIN_SIZE.to_string(),
                a.min_count.unwrap_or(0).to_string(),
            ),
            (
                AUTOSCALER_MAX_SIZE.to_string(),
                a.max_count.unwrap_or(0).to_string(),
            ),
        ]));
    }
    let rollout = group
        .upgrade_rollout_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .map(|r| WorkersMachineDeploymentRollout {
            strategy: Some(Strategy {
                rolling_update: Some(RollingUpdate {
                    max_surge: r.max_surge.map(IntOrString::Int),
                    max_unavailable: r.max_unavailable.map(IntOrString::Int),
                }),
                r#type: Some("RollingUpdate".into()),
            }),
            ..Default::default()
        });
    MachineDeployment {
        api_version: Some("cluster.x-k8s.io/v1beta2".into()),
        kind: Some("MachineDeployment".into()),
        metadata: Some(meta),
        spec: Some(MachineDeploymentSpec {
            cluster_name: Some(options.cluster_name.to_string()),
            replicas: if autoscaling.is_some() {
                None
            } else {
                Some(group.count.unwrap_or(1))
            },
            selector: Some(Selector {
                match_labels: Some(BTreeMap::new()),
                match_expressions: None,
            }),
            template: Some(Template {
                metadata: Some(Metadata {
                    labels: Some(cluster_label()),
                    annotations: None,
                }),
                spec: Some(Spec {
                    bootstrap: Some(Bootstrap {
                        config_ref: Some(ControlPlaneRef {
                            api_group: Some(BOOTSTRAP_GROUP.into()),
                            kind: Some("KubeadmConfigTemplate".into()),
                            name: Some(options.config_template_name.to_string()),
                        }),
                        data_secret_name: None,
                    }),
                    cluster_name: Some(options.cluster_name.to_string()),
                    infrastructure_ref: Some(ControlPlaneRef {
                        api_group: Some(INFRASTRUCTURE_GROUP.into()),
                        kind: Some(options.machine_template_kind.to_string()),
                        name: Some(options.machine_template_name.to_string()),
                    }),
                    failure_domain: options.failure_domain.map(str::to_string),
                    version: Some(options.version.to_string()),
                    ..Default::default()
                }),
            }),
            rollout,
            ..Default::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::args::Args;
    use serde_json::json;

    fn group(v: serde_json::Value) -> WorkerNodeGroupConfiguration {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn machine_config_name_is_empty_without_a_reference() {
        assert_eq!(
            machine_config_name(&group(json!({"machineGroupRef": {"name": "m1"}}))),
            "m1"
        );
        assert_eq!(machine_config_name(&group(json!({"name": "md-0"}))), "");
    }

    #[test]
    fn an_empty_worker_list_has_no_worker_groups() {
        let spec = |v: serde_json::Value| serde_json::from_value::<ClusterSpec>(v).unwrap();
        assert!(!has_worker_groups(&spec(json!({}))));
        assert!(!has_worker_groups(&spec(
            json!({"workerNodeGroupConfigurations": []})
        )));
        assert!(has_worker_groups(&spec(
            json!({"workerNodeGroupConfigurations": [{"name": "md-0"}]})
        )));
    }

    fn options<'a>(g: &'a WorkerNodeGroupConfiguration) -> MachineDeploymentOptions<'a> {
        MachineDeploymentOptions {
            cluster_name: "test",
            group: g,
            version: "v1.19.8",
            machine_template_kind: "VSphereMachineTemplate",
            machine_template_name: "",
            config_template_name: "",
            failure_domain: None,
        }
    }

    #[test]
    fn machine_deployment_has_replicas_empty_selector_and_references() {
        let g = group(json!({"name": "md-0", "count": 3}));
        let v = serde_json::to_value(machine_deployment(&options(&g))).unwrap();
        assert_eq!(v["metadata"]["name"], "test-md-0");
        assert_eq!(v["spec"]["replicas"], 3);
        assert_eq!(v["spec"]["selector"], json!({"matchLabels": {}}));
        assert_eq!(
            v["spec"]["template"]["spec"]["bootstrap"]["configRef"]["kind"],
            "KubeadmConfigTemplate"
        );
        assert!(v["spec"].get("rollout").is_none());
    }

    #[test]
    fn autoscaling_replaces_replicas_with_annotations() {
        let g = group(
            json!({"name": "a", "count": 3, "autoscalingConfiguration": {"minCount": 3, "maxCount": 5}}),
        );
        let v = serde_json::to_value(machine_deployment(&options(&g))).unwrap();
        assert!(v["spec"].get("replicas").is_none());
        assert_eq!(v["metadata"]["annotations"][AUTOSCALER_MAX_SIZE], "5");
    }

    #[test]
    fn config_template_carries_join_configuration_and_files() {
        let t = kubeadm_config_template(ConfigTemplateParts {
            name: "t".into(),
            join_registration: NodeRegistrationParts::cloud_init(Args::literal(&[("a", "b")]), Some(vec![])),
            patches: None,
            files: vec![File {
                path: Some("/x".into()),
                ..Default::default()
            }],
            pre_kubeadm_commands: vec![],
            post_kubeadm_commands: vec![],
            users: vec![],
            format: Some("cloud-config".into()),
        });
        let v = serde_json::to_value(t).unwrap();
        let spec = &v["spec"]["template"]["spec"];
        assert_eq!(spec["joinConfiguration"]["nodeRegistration"]["taints"], json!([]));
        assert_eq!(spec["files"][0]["path"], "/x");
        assert!(spec.get("preKubeadmCommands").is_none());
    }
}

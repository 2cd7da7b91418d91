//! MachineHealthChecks for the control plane and each worker group (EKS Anywhere's
//! `clusterapi.MachineHealthCheckObjects`). No golden of the pack contains them; the rules come
//! from the reference's builder and the CLI defaults of README 3.2.

use std::collections::BTreeMap;

use anywhere_api::meta::IntOrString;
use anywhere_api::{ClusterSpec, MachineHealthCheck as SpecHealthCheck};

use super::{names, system_meta};
use crate::Manifest;
use crate::types::cluster_v1beta2::{
    Checks, MachineHealthCheck, MachineHealthCheckSpec, Remediation, Selector, TriggerIf,
    UnhealthyNodeCondition,
};

/// The label CAPI puts on control-plane machines.
pub const CONTROL_PLANE_MACHINE_LABEL: &str = "cluster.x-k8s.io/control-plane";
/// The label CAPI puts on a MachineDeployment's machines.
pub const DEPLOYMENT_NAME_LABEL: &str = "cluster.x-k8s.io/deployment-name";

/// The defaults used where neither the group nor the cluster sets a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheckDefaults {
    /// `nodeStartupTimeout` (10m; Tinkerbell 20m).
    pub node_startup_timeout: String,
    /// `unhealthyMachineTimeout` (5m).
    pub unhealthy_machine_timeout: String,
    /// Control-plane `maxUnhealthy` (100%).
    pub control_plane_max_unhealthy: IntOrString,
    /// Worker `maxUnhealthy` when the cluster sets none (40%).
    pub worker_max_unhealthy: IntOrString,
}

impl Default for HealthCheckDefaults {
    fn default() -> Self {
        HealthCheckDefaults {
            node_startup_timeout: "10m".into(),
            unhealthy_machine_timeout: "5m".into(),
            control_plane_max_unhealthy: IntOrString::String("100%".into()),
            worker_max_unhealthy: IntOrString::String("40%".into()),
        }
    }
}

/// Whole seconds of a Go duration (`5m0s` → 300), capped at `i32::MAX`; `None` if unparsable.
fn seconds(text: &str) -> Option<i64> {
    let nanos = super::encryption::parse_go_duration(text)?;
    Some((nanos / 1_000_000_000).clamp(0, i128::from(i32::MAX)) as i64)
}

fn health_check(
    name: &str,
    cluster: &str,
    selector: (&str, &str),
    unhealthy: &str,
    startup: &str,
    max_unhealthy: IntOrString,
) -> MachineHealthCheck {
    let timeout = seconds(unhealthy);
    let conditions = ["Unknown", "False"]
        .into_iter()
        .map(|status| UnhealthyNodeCondition {
            r#type: Some("Ready".into()),
            status: Some(status.into()),
            timeout_seconds: timeout,
        })
        .collect();
    MachineHealthCheck {
        api_version: Some("cluster.x-k8s.io/v1beta2".into()),
        kind: Some("MachineHealthCheck".into()),
        metadata: Some(system_meta(name)),
        spec: Some(MachineHealthCheckSpec {
            cluster_name: Some(cluster.to_string()),
            selector: Some(Selector {
                match_labels: Some(BTreeMap::from([(selector.0.to_string(), selector.1.to_string())])),
                match_expressions: None,
            }),
            checks: Some(Checks {
                node_startup_timeout_seconds: seconds(startup),
                unhealthy_node_conditions: Some(conditions),
                ..Default::default()
            }),
            remediation: Some(Remediation {
                trigger_if: Some(TriggerIf {
                    unhealthy_less_than_or_equal_to: Some(max_unhealthy),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }),
        status: None,
    }
}

/// A value of the group's check, else the cluster's, else the default.
fn pick<T: Clone>(
    group: Option<&SpecHealthCheck>,
    cluster: Option<&SpecHealthCheck>,
    get: impl Fn(&SpecHealthCheck) -> Option<T>,
    default: T,
) -> T {
    group
        .and_then(&get)
        .or_else(|| cluster.and_then(&get))
        .unwrap_or(default)
}

/// The control plane's check: `<cluster>-kcp-unhealthy`, selecting control-plane machines.
pub fn control_plane_health_check(
    cluster: &str,
    spec: &ClusterSpec,
    defaults: &HealthCheckDefaults,
) -> MachineHealthCheck {
    let top = spec.machine_health_check.as_ref();
    let own = spec
        .control_plane_configuration
        .as_ref()
        .and_then(|c| c.machine_health_check.as_ref());
    health_check(
        &format!("{}-kcp-unhealthy", names::control_plane_name(cluster)),
        cluster,
        (CONTROL_PLANE_MACHINE_LABEL, ""),
        &pick(
            own,
            top,
            |h| h.unhealthy_machine_timeout.clone(),
            defaults.unhealthy_machine_timeout.clone(),
        ),
        &pick(
            own,
            top,
            |h| h.node_startup_timeout.clone(),
            defaults.node_startup_timeout.clone(),
        ),
        pick(
            own,
            top,
            |h| h.max_unhealthy.clone(),
            defaults.control_plane_max_unhealthy.clone(),
        ),
    )
}

/// One check per worker group, in spec order: `<cluster>-<group>-worker-unhealthy`, selecting
/// the group's MachineDeployment.
pub fn worker_health_checks(
    cluster: &str,
    spec: &ClusterSpec,
    defaults: &HealthCheckDefaults,
) -> Vec<MachineHealthCheck> {
    let top = spec.machine_health_check.as_ref();
    spec.worker_node_group_configurations
        .iter()
        .flatten()
        .map(|group| {
            let own = group.machine_health_check.as_ref();
            let deployment = names::machine_deployment_name(cluster, group.name.as_deref().unwrap_or(""));
            health_check(
                &format!("{deployment}-worker-unhealthy"),
                cluster,
                (DEPLOYMENT_NAME_LABEL, &deployment),
                &pick(
                    own,
                    top,
                    |h| h.unhealthy_machine_timeout.clone(),
                    defaults.unhealthy_machine_timeout.clone(),
                ),
                &pick(
                    own,
                    top,
                    |h| h.node_startup_timeout.clone(),
                    defaults.node_startup_timeout.clone(),
                ),
                pick(
                    own,
                    top,
                    |h| h.max_unhealthy.clone(),
                    defaults.worker_max_unhealthy.clone(),
                ),
            )
        })
        .collect()
}

/// Every check of a cluster: the workers' in spec order, then the control plane's.
pub fn machine_health_checks(
    cluster: &str,
    spec: &ClusterSpec,
    defaults: &HealthCheckDefaults,
) -> Vec<Manifest> {
    let mut out: Vec<Manifest> = worker_health_checks(cluster, spec, defaults)
        .iter()
        .map(Manifest::new)
        .collect();
    out.push(Manifest::new(&control_plane_health_check(
        cluster, spec, defaults,
    )));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> ClusterSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn control_plane_check_uses_defaults_when_nothing_is_set() {
        let v = serde_json::to_value(control_plane_health_check(
            "test",
            &ClusterSpec::default(),
            &HealthCheckDefaults::default(),
        ))
        .unwrap();
        assert_eq!(v["metadata"]["name"], "test-kcp-unhealthy");
        assert_eq!(
            v["spec"]["selector"]["matchLabels"][CONTROL_PLANE_MACHINE_LABEL],
            ""
        );
        assert_eq!(v["spec"]["checks"]["nodeStartupTimeoutSeconds"], 600);
        assert_eq!(
            v["spec"]["checks"]["unhealthyNodeConditions"][1],
            json!({"status": "False", "timeoutSeconds": 300, "type": "Ready"})
        );
        assert_eq!(
            v["spec"]["remediation"]["triggerIf"]["unhealthyLessThanOrEqualTo"],
            "100%"
        );
    }

    #[test]
    fn worker_checks_prefer_group_then_cluster_values() {
        let s = spec(json!({
            "machineHealthCheck": {"maxUnhealthy": "30%", "nodeStartupTimeout": "15m"},
            "workerNodeGroupConfigurations": [
                {"name": "md-0", "machineHealthCheck": {"unhealthyMachineTimeout": "1m30s"}},
                {"name": "md-1", "machineHealthCheck": {"maxUnhealthy": 2}}
            ]
        }));
        let checks = worker_health_checks("test", &s, &HealthCheckDefaults::default());
        let a = serde_json::to_value(&checks[0]).unwrap();
        assert_eq!(a["metadata"]["name"], "test-md-0-worker-unhealthy");
        assert_eq!(
            a["spec"]["selector"]["matchLabels"][DEPLOYMENT_NAME_LABEL],
            "test-md-0"
        );
        assert_eq!(a["spec"]["checks"]["nodeStartupTimeoutSeconds"], 900);
        assert_eq!(
            a["spec"]["checks"]["unhealthyNodeConditions"][0]["timeoutSeconds"],
            90
        );
        assert_eq!(
            a["spec"]["remediation"]["triggerIf"]["unhealthyLessThanOrEqualTo"],
            "30%"
        );
        let b = serde_json::to_value(&checks[1]).unwrap();
        assert_eq!(
            b["spec"]["remediation"]["triggerIf"]["unhealthyLessThanOrEqualTo"],
            2
        );
    }

    #[test]
    fn all_checks_list_workers_before_the_control_plane() {
        let s = spec(json!({"workerNodeGroupConfigurations": [{"name": "md-0"}]}));
        let all = machine_health_checks("test", &s, &HealthCheckDefaults::default());
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].name(), "test-kcp-unhealthy");
    }
}

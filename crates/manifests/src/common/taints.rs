//! Node taints of control-plane and worker nodes (README A.3).

use anywhere_api::{ClusterSpec, Taint};

use crate::types::{bootstrap_v1beta2, controlplane_v1beta2};

/// The taint kubeadm puts on control-plane nodes by default.
pub const CONTROL_PLANE_TAINT_KEY: &str = "node-role.kubernetes.io/control-plane";

/// How a provider renders control-plane taints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlPlaneTaintPolicy {
    /// vSphere: absent → the default control-plane `NoSchedule` taint; `[]` → no key; a list as
    /// given.
    DefaultWhenAbsent,
    /// Docker and Tinkerbell: no worker groups → always `[]`; otherwise the list if non-empty,
    /// else no key.
    EmptyWithoutWorkers,
    /// Nutanix and CloudStack: the list if non-empty, else no key.
    ListIfAny,
}

/// The default control-plane taint: `node-role.kubernetes.io/control-plane:NoSchedule`.
pub fn default_control_plane_taint() -> Taint {
    Taint {
        key: Some(CONTROL_PLANE_TAINT_KEY.into()),
        value: Some(String::new()),
        effect: Some("NoSchedule".into()),
        time_added: None,
    }
}

/// The spec taints the control plane's nodes get (`controlPlaneConfiguration.taints` under
/// `policy`); `None` means "no `taints` key".
pub fn control_plane_taints(spec: &ClusterSpec, policy: ControlPlaneTaintPolicy) -> Option<Vec<Taint>> {
    let taints = spec
        .control_plane_configuration
        .as_ref()
        .and_then(|c| c.taints.as_ref());
    match policy {
        ControlPlaneTaintPolicy::DefaultWhenAbsent => match taints {
            None => Some(vec![default_control_plane_taint()]),
            Some(t) if t.is_empty() => None,
            Some(t) => Some(t.clone()),
        },
        ControlPlaneTaintPolicy::EmptyWithoutWorkers if !super::workers::has_worker_groups(spec) => {
            Some(vec![])
        }
        ControlPlaneTaintPolicy::EmptyWithoutWorkers | ControlPlaneTaintPolicy::ListIfAny => {
            taints.filter(|t| !t.is_empty()).cloned()
        }
    }
}

/// [`control_plane_taints`] as kubeadm taints.
pub fn control_plane_kubeadm_taints(
    spec: &ClusterSpec,
    policy: ControlPlaneTaintPolicy,
) -> Option<Vec<controlplane_v1beta2::Taint>> {
    control_plane_taints(spec, policy).map(|t| t.iter().map(to_control_plane).collect())
}

/// A spec taint as a kubeadm taint (`value` always present, `timeAdded` only when set).
pub fn to_control_plane(taint: &Taint) -> controlplane_v1beta2::Taint {
    controlplane_v1beta2::Taint {
        key: taint.key.clone(),
        value: Some(taint.value.clone().unwrap_or_default()),
        effect: taint.effect.clone(),
        time_added: taint.time_added.clone().filter(|t| !t.is_empty()),
    }
}

/// A spec taint as a KubeadmConfigTemplate taint.
pub fn to_bootstrap(taint: &Taint) -> bootstrap_v1beta2::Taint {
    super::retype(&to_control_plane(taint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ControlPlaneTaintPolicy::*;

    fn taint(key: &str) -> Taint {
        Taint {
            key: Some(key.into()),
            effect: Some("NoExecute".into()),
            ..Default::default()
        }
    }

    /// A spec with these control-plane taints (`None`: no key) and worker groups.
    fn spec(taints: Option<Vec<Taint>>, workers: usize) -> ClusterSpec {
        let groups: Vec<_> = (0..workers)
            .map(|i| serde_json::json!({"name": format!("md-{i}")}))
            .collect();
        let mut s: ClusterSpec = serde_json::from_value(serde_json::json!({
            "controlPlaneConfiguration": {},
            "workerNodeGroupConfigurations": groups,
        }))
        .unwrap();
        if let Some(c) = s.control_plane_configuration.as_mut() {
            c.taints = taints;
        }
        s
    }

    #[test]
    fn vsphere_absent_taints_default_to_control_plane_no_schedule() {
        let t = control_plane_taints(&spec(None, 1), DefaultWhenAbsent).unwrap();
        assert_eq!(t, vec![default_control_plane_taint()]);
    }

    #[test]
    fn vsphere_explicit_empty_taints_render_no_key() {
        assert_eq!(
            control_plane_taints(&spec(Some(vec![]), 1), DefaultWhenAbsent),
            None
        );
    }

    #[test]
    fn docker_without_workers_always_has_empty_taints() {
        assert_eq!(
            control_plane_taints(&spec(Some(vec![taint("a")]), 0), EmptyWithoutWorkers),
            Some(vec![])
        );
        assert_eq!(control_plane_taints(&spec(None, 1), EmptyWithoutWorkers), None);
        assert_eq!(
            control_plane_taints(&spec(Some(vec![taint("a")]), 2), EmptyWithoutWorkers),
            Some(vec![taint("a")])
        );
    }

    #[test]
    fn list_if_any_drops_empty_lists() {
        assert_eq!(control_plane_taints(&spec(Some(vec![]), 0), ListIfAny), None);
        assert_eq!(control_plane_taints(&spec(None, 0), ListIfAny), None);
        assert_eq!(control_plane_taints(&ClusterSpec::default(), ListIfAny), None);
    }

    #[test]
    fn kubeadm_taints_are_converted() {
        let t = control_plane_kubeadm_taints(&spec(Some(vec![taint("k")]), 0), ListIfAny).unwrap();
        assert_eq!(t, vec![to_control_plane(&taint("k"))]);
    }

    #[test]
    fn kubeadm_taint_always_has_a_value() {
        let t = to_control_plane(&taint("k"));
        assert_eq!(t.value.as_deref(), Some(""));
        assert_eq!(t.time_added, None);
    }
}

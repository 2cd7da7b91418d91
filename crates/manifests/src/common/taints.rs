//! Node taints of control-plane and worker nodes (README A.3).

use anywhere_api::Taint;

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

/// The spec taints the control plane's nodes get; `None` means "no `taints` key".
pub fn control_plane_taints(
    taints: Option<&Vec<Taint>>,
    policy: ControlPlaneTaintPolicy,
    has_worker_groups: bool,
) -> Option<Vec<Taint>> {
    match policy {
        ControlPlaneTaintPolicy::DefaultWhenAbsent => match taints {
            None => Some(vec![default_control_plane_taint()]),
            Some(t) if t.is_empty() => None,
            Some(t) => Some(t.clone()),
        },
        ControlPlaneTaintPolicy::EmptyWithoutWorkers if !has_worker_groups => Some(vec![]),
        ControlPlaneTaintPolicy::EmptyWithoutWorkers | ControlPlaneTaintPolicy::ListIfAny => {
            taints.filter(|t| !t.is_empty()).cloned()
        }
    }
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

    #[test]
    fn vsphere_absent_taints_default_to_control_plane_no_schedule() {
        let t = control_plane_taints(None, DefaultWhenAbsent, true).unwrap();
        assert_eq!(t, vec![default_control_plane_taint()]);
    }

    #[test]
    fn vsphere_explicit_empty_taints_render_no_key() {
        assert_eq!(control_plane_taints(Some(&vec![]), DefaultWhenAbsent, true), None);
    }

    #[test]
    fn docker_without_workers_always_has_empty_taints() {
        assert_eq!(
            control_plane_taints(Some(&vec![taint("a")]), EmptyWithoutWorkers, false),
            Some(vec![])
        );
        assert_eq!(control_plane_taints(None, EmptyWithoutWorkers, true), None);
        assert_eq!(
            control_plane_taints(Some(&vec![taint("a")]), EmptyWithoutWorkers, true),
            Some(vec![taint("a")])
        );
    }

    #[test]
    fn list_if_any_drops_empty_lists() {
        assert_eq!(control_plane_taints(Some(&vec![]), ListIfAny, false), None);
        assert_eq!(control_plane_taints(None, ListIfAny, false), None);
    }

    #[test]
    fn kubeadm_taint_always_has_a_value() {
        let t = to_control_plane(&taint("k"));
        assert_eq!(t.value.as_deref(), Some(""));
        assert_eq!(t.time_added, None);
    }
}

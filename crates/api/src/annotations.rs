//! The annotations EKS Anywhere reads on its objects, as typed accessors.

use crate::meta::ObjectMeta;

/// Pauses reconciliation of an object while it is `"true"`.
pub const PAUSED: &str = "anywhere.eks.amazonaws.com/paused";
/// Marks a machine config as used by external etcd machines.
pub const ETCD: &str = "anywhere.eks.amazonaws.com/etcd";
/// Marks a machine config as used by control-plane machines.
pub const CONTROL_PLANE: &str = "anywhere.eks.amazonaws.com/control-plane";
/// Names the cluster that manages an object.
pub const MANAGED_BY: &str = "anywhere.eks.amazonaws.com/managed-by";
/// Set on a cluster created from the CLI.
pub const MANAGED_BY_CLI: &str = "anywhere.eks.amazonaws.com/managed-by-cli";

fn get<'a>(meta: Option<&'a ObjectMeta>, key: &str) -> Option<&'a str> {
    meta?.annotations.as_ref()?.get(key).map(String::as_str)
}

fn set(meta: &mut ObjectMeta, key: &str, value: &str) {
    meta.annotations
        .get_or_insert_with(Default::default)
        .insert(key.to_string(), value.to_string());
}

/// Whether reconciliation is paused.
pub fn is_paused(meta: Option<&ObjectMeta>) -> bool {
    get(meta, PAUSED) == Some("true")
}

/// Pauses reconciliation.
pub fn pause(meta: &mut ObjectMeta) {
    set(meta, PAUSED, "true");
}

/// Resumes reconciliation.
pub fn clear_pause(meta: &mut ObjectMeta) {
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(PAUSED);
    }
}

/// Whether a machine config is for external etcd machines.
pub fn is_etcd(meta: Option<&ObjectMeta>) -> bool {
    get(meta, ETCD) == Some("true")
}

/// Marks a machine config as for external etcd machines.
pub fn mark_etcd(meta: &mut ObjectMeta) {
    set(meta, ETCD, "true");
}

/// Whether a machine config is for control-plane machines.
pub fn is_control_plane(meta: Option<&ObjectMeta>) -> bool {
    get(meta, CONTROL_PLANE) == Some("true")
}

/// Marks a machine config as for control-plane machines.
pub fn mark_control_plane(meta: &mut ObjectMeta) {
    set(meta, CONTROL_PLANE, "true");
}

/// Whether another cluster manages this object.
pub fn is_managed(meta: Option<&ObjectMeta>) -> bool {
    get(meta, MANAGED_BY).is_some_and(|v| !v.is_empty())
}

/// Records which cluster manages this object.
pub fn set_managed_by(meta: &mut ObjectMeta, cluster: &str) {
    set(meta, MANAGED_BY, cluster);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_round_trip() {
        let mut m = ObjectMeta::default();
        assert!(!is_paused(Some(&m)));
        pause(&mut m);
        assert!(is_paused(Some(&m)));
        clear_pause(&mut m);
        assert!(!is_paused(Some(&m)));
    }

    #[test]
    fn role_marks() {
        let mut m = ObjectMeta::default();
        assert!(!is_etcd(Some(&m)) && !is_control_plane(Some(&m)) && !is_managed(Some(&m)));
        mark_etcd(&mut m);
        mark_control_plane(&mut m);
        set_managed_by(&mut m, "mgmt");
        assert!(is_etcd(Some(&m)) && is_control_plane(Some(&m)) && is_managed(Some(&m)));
    }
}

//! Names of immutable templates.
//!
//! Cluster API machine templates and kubeadm config templates are immutable: a machine that
//! rolls out reads its template once, so a change must go into a *new* template under a new
//! name, and the MachineDeployment or KubeadmControlPlane is pointed at it. EKS Anywhere names
//! them `<cluster>-<role>-<N>` and bumps `N` when, and only when, the template's spec changes.
//! This module is that decision, as a pure function of what the cluster already has.

use serde_json::Value;

/// A template that already exists in the cluster.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Existing<'a> {
    /// Its name, e.g. `prod-md-0-3`.
    pub name: &'a str,
    /// Its `spec` as stored.
    pub spec: &'a Value,
}

/// What to do with a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing changed: keep using the existing template.
    Keep(String),
    /// Create a template under this name (the first one, or the next after a change).
    Create(String),
}

impl Decision {
    /// The name the owning object must reference.
    pub fn name(&self) -> &str {
        match self {
            Decision::Keep(n) | Decision::Create(n) => n,
        }
    }
    /// Whether a new template object must be applied.
    pub fn is_new(&self) -> bool {
        matches!(self, Decision::Create(_))
    }
}

/// Decides the template name for `base` (e.g. `prod-md-0`) given the template currently in use,
/// if any, and the spec the generator wants now.
///
/// - no existing template: `base-1`;
/// - the existing spec equals the desired one: keep the existing name;
/// - otherwise: the existing name's number plus one (`prod-md-0-3` → `prod-md-0-4`); an existing
///   name that is not `base-<number>` restarts at `base-1` (`base-2` if that is the existing name).
pub fn decide(base: &str, existing: Option<Existing<'_>>, desired_spec: &Value) -> Decision {
    let Some(existing) = existing else {
        return Decision::Create(format!("{base}-1"));
    };
    if existing.spec == desired_spec {
        return Decision::Keep(existing.name.to_string());
    }
    let next = existing
        .name
        .strip_prefix(base)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|n| n.parse::<u64>().ok())
        .map(|n| n + 1)
        .unwrap_or(1);
    let mut name = format!("{base}-{next}");
    if name == existing.name {
        name = format!("{base}-{}", next + 1);
    }
    Decision::Create(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn first_template_is_numbered_one() {
        assert_eq!(
            decide("c-md-0", None, &json!({})),
            Decision::Create("c-md-0-1".into())
        );
    }

    #[test]
    fn unchanged_spec_keeps_the_name() {
        let spec = json!({"template": {"spec": {"numCPUs": 2}}});
        let d = decide(
            "c-md-0",
            Some(Existing {
                name: "c-md-0-3",
                spec: &spec,
            }),
            &spec,
        );
        assert_eq!(d, Decision::Keep("c-md-0-3".into()));
        assert!(!d.is_new());
    }

    #[test]
    fn changed_spec_bumps_the_number() {
        let old = json!({"numCPUs": 2});
        let new = json!({"numCPUs": 4});
        let d = decide(
            "c-md-0",
            Some(Existing {
                name: "c-md-0-3",
                spec: &old,
            }),
            &new,
        );
        assert_eq!(d, Decision::Create("c-md-0-4".into()));
        assert_eq!(d.name(), "c-md-0-4");
    }

    #[test]
    fn foreign_names_restart_without_colliding() {
        let old = json!({"a": 1});
        let new = json!({"a": 2});
        let d = decide(
            "c-md-0",
            Some(Existing {
                name: "imported-template",
                spec: &old,
            }),
            &new,
        );
        assert_eq!(d, Decision::Create("c-md-0-1".into()));
        let d = decide(
            "c-md-0",
            Some(Existing {
                name: "c-md-0-x",
                spec: &old,
            }),
            &new,
        );
        assert_eq!(d, Decision::Create("c-md-0-1".into()));
    }
}

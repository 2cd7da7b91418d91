//! The Cluster API objects a cluster should have, split into the phases they are applied in,
//! with machine and kubeadm config templates named as EKS Anywhere names them: a template keeps
//! its name while its spec is unchanged and gets the next number when it changes (templates are
//! immutable; a new name is what makes Cluster API roll the machines).

use std::collections::BTreeMap;

use anywhere_api::ConfigSet;
use anywhere_catalog::Catalog;
use anywhere_manifests::template_name::{self, Decision};
use anywhere_manifests::{Credentials, Features, Inputs, Manifest, ProviderObjects, TemplateNames};
use serde_json::Value;

/// The namespace of every Cluster API object of a cluster.
pub const CAPI_NAMESPACE: &str = anywhere_manifests::SYSTEM_NAMESPACE;

/// Desired objects, by phase, in apply order.
#[derive(Clone, Debug, Default)]
pub struct Desired {
    /// External etcd: the EtcdadmCluster and its machine template.
    pub etcd: Vec<Manifest>,
    /// Cluster, infrastructure cluster, KubeadmControlPlane, its template, secrets, config maps.
    pub control_plane: Vec<Manifest>,
    /// MachineDeployments with their machine and kubeadm config templates.
    pub workers: Vec<Manifest>,
    /// MachineHealthChecks.
    pub health_checks: Vec<Manifest>,
    /// The template names used.
    pub names: TemplateNames,
}

/// What the cluster has now, for template naming: the template names its objects reference
/// and the specs of those templates.
#[derive(Clone, Debug, Default)]
pub struct Existing {
    /// Control-plane machine template in use (from the KubeadmControlPlane).
    pub control_plane: Option<String>,
    /// Etcd machine template in use (from the EtcdadmCluster).
    pub etcd: Option<String>,
    /// Worker group → machine template in use (from its MachineDeployment).
    pub worker_machine: BTreeMap<String, String>,
    /// Worker group → kubeadm config template in use.
    pub worker_kubeadm_config: BTreeMap<String, String>,
    /// (kind, name) → `spec` of the templates above.
    pub specs: BTreeMap<(String, String), Value>,
}

impl Existing {
    /// Reads the template names in use from the cluster's KubeadmControlPlane, EtcdadmCluster and
    /// MachineDeployments (as stored), keyed by worker group (`<cluster>-<group>` deployments).
    pub fn from_objects(
        cluster: &str,
        kcp: Option<&Value>,
        etcd: Option<&Value>,
        deployments: &[Value],
    ) -> Existing {
        let mut e = Existing {
            control_plane: kcp
                .and_then(|k| k.pointer("/spec/machineTemplate/spec/infrastructureRef/name"))
                .and_then(Value::as_str)
                .map(str::to_string),
            etcd: etcd
                .and_then(|k| k.pointer("/spec/infrastructureTemplate/name"))
                .and_then(Value::as_str)
                .map(str::to_string),
            ..Existing::default()
        };
        for md in deployments {
            let Some(group) = md
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .and_then(|n| n.strip_prefix(&format!("{cluster}-")))
            else {
                continue;
            };
            if let Some(n) = md
                .pointer("/spec/template/spec/infrastructureRef/name")
                .and_then(Value::as_str)
            {
                e.worker_machine.insert(group.to_string(), n.to_string());
            }
            if let Some(n) = md
                .pointer("/spec/template/spec/bootstrap/configRef/name")
                .and_then(Value::as_str)
            {
                e.worker_kubeadm_config.insert(group.to_string(), n.to_string());
            }
        }
        e
    }

    /// Every template (kind-agnostic name) whose spec must be fetched.
    pub fn template_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .control_plane
            .iter()
            .chain(self.etcd.iter())
            .chain(self.worker_machine.values())
            .chain(self.worker_kubeadm_config.values())
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Rendering failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the Cluster API objects: {0}")]
pub struct RenderError(#[from] anywhere_manifests::Error);

/// Whether every field of `desired` is in `stored` with the same value (fields the server or a
/// webhook added to `stored` do not count as a change).
pub fn is_subset(desired: &Value, stored: &Value) -> bool {
    match (desired, stored) {
        (Value::Object(d), Value::Object(s)) => d
            .iter()
            .all(|(k, v)| v.is_null() || s.get(k).is_some_and(|sv| is_subset(v, sv))),
        (Value::Array(d), Value::Array(s)) => {
            d.len() == s.len() && d.iter().zip(s).all(|(a, b)| is_subset(a, b))
        }
        _ => desired == stored,
    }
}

fn worker_groups(set: &ConfigSet) -> Vec<String> {
    set.cluster
        .spec
        .iter()
        .flat_map(|s| s.worker_node_group_configurations.iter().flatten())
        .filter_map(|w| w.name.clone())
        .collect()
}

/// Control plane, workers and machine health checks.
type Rendered = (Vec<Manifest>, Vec<Manifest>, Vec<Manifest>);

fn render(
    set: &ConfigSet,
    provider: &ProviderObjects,
    catalog: &Catalog,
    credentials: &Credentials,
    names: &TemplateNames,
) -> Result<Rendered, RenderError> {
    let inputs = Inputs {
        cluster: &set.cluster,
        provider,
        catalog,
        credentials,
        features: Features::default(),
        names,
        tinkerbell_bootstrap_ip: None,
    };
    let control_plane = anywhere_manifests::control_plane(&inputs)?;
    let workers = anywhere_manifests::workers(&inputs)?;
    let all = anywhere_manifests::cluster(&inputs)?;
    let health_checks = all
        .into_iter()
        .filter(|m| m.kind() == "MachineHealthCheck")
        .collect();
    Ok((control_plane, workers, health_checks))
}

fn spec_of<'a>(objects: &'a [Manifest], kind_suffix: &str, name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|m| m.kind().ends_with(kind_suffix) && m.name() == name)
        .and_then(|m| m.0.get("spec"))
}

/// The desired objects of `set`, template names decided against `existing`.
///
/// # Errors
/// [`RenderError`] when the generator refuses the spec (e.g. a version missing from the catalog).
pub fn desired(
    set: &ConfigSet,
    catalog: &Catalog,
    credentials: &Credentials,
    existing: &Existing,
) -> Result<Desired, RenderError> {
    let cluster = anywhere_api::meta::Resource::name(&set.cluster).to_string();
    let provider = ProviderObjects::from_config_set(set)?;
    let groups = worker_groups(set);
    let initial = TemplateNames::initial(&set.cluster, &groups);
    let (cp0, workers0, _) = render(set, &provider, catalog, credentials, &initial)?;
    let decide = |base: String,
                  current: Option<&String>,
                  kind_suffix: &str,
                  objects: &[Manifest],
                  first: &str|
     -> String {
        let Some(desired) = spec_of(objects, kind_suffix, first) else {
            return first.to_string();
        };
        let stored = current.and_then(|name| {
            existing
                .specs
                .iter()
                .find(|((kind, n), _)| n == name && kind.ends_with(kind_suffix))
                .map(|(_, spec)| (name, spec))
        });
        let decision = match stored {
            None if current.is_some() => {
                // In use but not readable: keep the name rather than roll every machine.
                Decision::Keep(current.cloned().unwrap_or_default())
            }
            None => template_name::decide(&base, None, desired),
            Some((name, spec)) => {
                let compared = if is_subset(desired, spec) { desired } else { spec };
                template_name::decide(
                    &base,
                    Some(template_name::Existing { name, spec: compared }),
                    desired,
                )
            }
        };
        decision.name().to_string()
    };
    let mut names = initial.clone();
    names.control_plane = Some(decide(
        format!("{cluster}-control-plane"),
        existing.control_plane.as_ref(),
        "MachineTemplate",
        &cp0,
        initial.control_plane(),
    ));
    names.etcd = Some(decide(
        format!("{cluster}-etcd"),
        existing.etcd.as_ref(),
        "MachineTemplate",
        &cp0,
        initial.etcd(),
    ));
    let mut machines = BTreeMap::new();
    let mut configs = BTreeMap::new();
    for g in &groups {
        machines.insert(
            g.clone(),
            decide(
                format!("{cluster}-{g}"),
                existing.worker_machine.get(g),
                "MachineTemplate",
                &workers0,
                initial.worker_machine(g),
            ),
        );
        configs.insert(
            g.clone(),
            decide(
                format!("{cluster}-{g}"),
                existing.worker_kubeadm_config.get(g),
                "ConfigTemplate",
                &workers0,
                initial.worker_kubeadm_config(g),
            ),
        );
    }
    names.worker_machine = Some(machines);
    names.worker_kubeadm_config = Some(configs);
    let (control_plane, workers, health_checks) = render(set, &provider, catalog, credentials, &names)?;
    let etcd_template = names.etcd().to_string();
    let (etcd, control_plane): (Vec<Manifest>, Vec<Manifest>) = control_plane.into_iter().partition(|m| {
        m.kind() == "EtcdadmCluster" || (m.kind().ends_with("MachineTemplate") && m.name() == etcd_template)
    });
    Ok(Desired {
        etcd,
        control_plane,
        workers,
        health_checks,
        names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn added_fields_are_not_a_change_but_changed_ones_are() {
        let desired = json!({"a": 1, "b": {"c": [1, 2]}});
        assert!(is_subset(
            &desired,
            &json!({"a": 1, "b": {"c": [1, 2], "d": 0}, "e": 2})
        ));
        assert!(!is_subset(&desired, &json!({"a": 2, "b": {"c": [1, 2]}})));
        assert!(!is_subset(&desired, &json!({"a": 1, "b": {"c": [1]}})));
        assert!(!is_subset(&desired, &json!({"a": 1})));
    }
}

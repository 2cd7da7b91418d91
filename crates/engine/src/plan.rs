//! `anywhere upgrade plan cluster`: exactly what an upgrade to a spec would do, computed from
//! the same render the controller applies and the objects the cluster has now — which objects
//! are created or changed, which machines roll in which order, and an estimate of how long.

use std::fmt::Write as _;

use anywhere_api::ConfigSet;
use anywhere_catalog::Catalog;
use anywhere_manifests::{Credentials, Manifest};
use serde::Serialize;
use serde_json::Value;

use crate::controller::{self, ReconcileError};
use crate::kube_ops::{Kube, to_value};
use crate::render;

/// One object of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectChange {
    /// Kind.
    pub kind: String,
    /// Name (in `eksa-system`).
    pub name: String,
    /// `create`, `update` or `unchanged`.
    pub action: String,
}

/// Machines that will be replaced or added/removed, in upgrade order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// `external etcd`, `control plane`, `cni` or `workers <group>`.
    pub phase: String,
    /// Machines replaced one at a time (new one first).
    pub replaced: i64,
    /// Machines added (positive) or removed (negative) by a count change.
    pub scaled: i64,
    /// Why.
    pub reason: String,
}

/// The whole plan.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The cluster.
    pub cluster: String,
    /// Every object the upgrade applies.
    pub objects: Vec<ObjectChange>,
    /// Machine rollouts in the order they happen.
    pub rollouts: Vec<Rollout>,
    /// Estimated duration in seconds.
    pub estimated_seconds: u64,
    /// What the estimate assumes.
    pub assumption: String,
}

/// Seconds to bring up one machine, by provider (what the estimate assumes).
pub fn machine_seconds(datacenter_kind: &str) -> u64 {
    match datacenter_kind {
        "TinkerbellDatacenterConfig" => 900,
        "SnowDatacenterConfig" => 600,
        "DockerDatacenterConfig" => 60,
        _ => 300,
    }
}

impl Plan {
    /// Human-readable form.
    pub fn to_text(&self) -> String {
        let mut out = format!("Upgrade plan for cluster {}\n\nObjects:\n", self.cluster);
        for o in &self.objects {
            if o.action != "unchanged" {
                let _ = writeln!(out, "  {:<9} {} {}", o.action, o.kind, o.name);
            }
        }
        let unchanged = self.objects.iter().filter(|o| o.action == "unchanged").count();
        let _ = writeln!(out, "  ({unchanged} unchanged)");
        out.push_str("\nMachine rollouts, in order:\n");
        if self.rollouts.is_empty() {
            out.push_str("  none\n");
        }
        for (i, r) in self.rollouts.iter().enumerate() {
            let _ = write!(out, "  {}. {}: ", i + 1, r.phase);
            let mut parts = Vec::new();
            if r.replaced > 0 {
                parts.push(format!("{} machine(s) replaced one at a time", r.replaced));
            }
            if r.scaled > 0 {
                parts.push(format!("{} machine(s) added", r.scaled));
            }
            if r.scaled < 0 {
                parts.push(format!("{} machine(s) removed", -r.scaled));
            }
            if parts.is_empty() {
                parts.push("no machine replaced".into());
            }
            let _ = writeln!(out, "{} ({})", parts.join(", "), r.reason);
        }
        let _ = writeln!(
            out,
            "\nEstimated duration: {}m{:02}s ({})",
            self.estimated_seconds / 60,
            self.estimated_seconds % 60,
            self.assumption
        );
        out
    }
}

fn compare(desired: &Manifest, current: Option<&Value>) -> &'static str {
    let Some(current) = current else { return "create" };
    let mut wanted = desired.0.clone();
    if let Some(m) = wanted.get_mut("metadata").and_then(Value::as_object_mut) {
        m.retain(|k, _| k == "labels" || k == "annotations");
    }
    if render::is_subset(&wanted, current) {
        "unchanged"
    } else {
        "update"
    }
}

fn replicas_of(objects: &[Manifest], kind: &str, name: &str) -> i64 {
    objects
        .iter()
        .find(|m| m.kind() == kind && m.name() == name)
        .and_then(|m| m.0.pointer("/spec/replicas").and_then(Value::as_i64))
        .unwrap_or(1)
}

/// The plan of upgrading the cluster of `set` in the management plane `kube`.
///
/// # Errors
/// The render failed or the current objects could not be read.
pub async fn plan(
    kube: &Kube,
    set: &ConfigSet,
    catalog: &Catalog,
    credentials: &Credentials,
) -> Result<Plan, ReconcileError> {
    let name = anywhere_api::meta::Resource::name(&set.cluster).to_string();
    let namespace = set
        .cluster
        .metadata
        .as_ref()
        .and_then(|m| m.namespace.clone())
        .unwrap_or_else(|| "default".into());
    let err = |step: &str, e: &dyn std::fmt::Display| ReconcileError {
        cluster: format!("{namespace}/{name}"),
        step: step.into(),
        message: e.to_string(),
    };
    let first = render::desired(set, catalog, credentials, &render::Existing::default())
        .map_err(|e| err("render", &e))?;
    let kinds = controller::template_kinds(
        &[
            first.etcd.clone(),
            first.control_plane.clone(),
            first.workers.clone(),
        ]
        .concat(),
    );
    let existing = controller::existing(kube, &name, &namespace, &kinds, None)
        .await
        .map_err(|e| err("read Cluster API objects", &e))?;
    let desired = render::desired(set, catalog, credentials, &existing).map_err(|e| err("render", &e))?;
    let mut objects = Vec::new();
    let mut current_of = std::collections::BTreeMap::new();
    for m in [
        desired.etcd.clone(),
        desired.control_plane.clone(),
        desired.workers.clone(),
        desired.health_checks.clone(),
    ]
    .concat()
    {
        let namespace = m.0["metadata"]["namespace"].as_str().map(str::to_string);
        let current = kube
            .get(m.api_version(), m.kind(), namespace.as_deref(), m.name())
            .await
            .map_err(|e| err("read current objects", &e))?
            .map(|o| to_value(&o));
        objects.push(ObjectChange {
            kind: m.kind().to_string(),
            name: m.name().to_string(),
            action: compare(&m, current.as_ref()).to_string(),
        });
        current_of.insert((m.kind().to_string(), m.name().to_string()), current);
    }
    let changed = |kind: &str, name: &str| {
        objects
            .iter()
            .any(|o| o.kind == kind && o.name == name && o.action == "update")
    };
    let current = |kind: &str, name: &str| {
        current_of
            .get(&(kind.to_string(), name.to_string()))
            .cloned()
            .flatten()
    };
    let mut rollouts = Vec::new();
    let etcd_name = anywhere_manifests::common::names::etcd_cluster_name(&name);
    let etcd_template_changed = existing
        .etcd
        .as_deref()
        .is_some_and(|t| t != desired.names.etcd());
    if existing.etcd.is_some() && (etcd_template_changed || changed("EtcdadmCluster", &etcd_name)) {
        let replicas = current("EtcdadmCluster", &etcd_name)
            .and_then(|e| e.pointer("/spec/replicas").and_then(Value::as_i64))
            .unwrap_or(1);
        rollouts.push(Rollout {
            phase: "external etcd".into(),
            replaced: replicas,
            scaled: 0,
            reason: if etcd_template_changed {
                format!("machine template -> {}", desired.names.etcd())
            } else {
                "etcd configuration changed (version)".into()
            },
        });
    }
    let kcp_now = current("KubeadmControlPlane", &name);
    let cp_template_changed = existing
        .control_plane
        .as_deref()
        .is_some_and(|t| t != desired.names.control_plane());
    let kcp_wanted = replicas_of(&desired.control_plane, "KubeadmControlPlane", &name);
    let kcp_had = kcp_now
        .as_ref()
        .and_then(|k| k.pointer("/spec/replicas").and_then(Value::as_i64))
        .unwrap_or(kcp_wanted);
    let version_now = kcp_now
        .as_ref()
        .and_then(|k| k.pointer("/spec/version").and_then(Value::as_str))
        .unwrap_or_default()
        .to_string();
    let version_wanted = desired
        .control_plane
        .iter()
        .find(|m| m.kind() == "KubeadmControlPlane")
        .and_then(|m| m.0.pointer("/spec/version").and_then(Value::as_str))
        .unwrap_or_default()
        .to_string();
    if kcp_now.is_some()
        && (cp_template_changed || changed("KubeadmControlPlane", &name) || kcp_had != kcp_wanted)
    {
        let rolls = cp_template_changed || version_now != version_wanted;
        let reason = if version_now != version_wanted {
            format!("Kubernetes {version_now} -> {version_wanted}")
        } else if cp_template_changed {
            format!("machine template -> {}", desired.names.control_plane())
        } else if kcp_had != kcp_wanted {
            format!("count {kcp_had} -> {kcp_wanted}")
        } else {
            "kubeadm configuration changed".into()
        };
        let rolls = rolls || (changed("KubeadmControlPlane", &name) && kcp_had == kcp_wanted);
        rollouts.push(Rollout {
            phase: "control plane".into(),
            replaced: if rolls { kcp_wanted.min(kcp_had) } else { 0 },
            scaled: kcp_wanted - kcp_had,
            reason,
        });
    }
    for md in desired.workers.iter().filter(|m| m.kind() == "MachineDeployment") {
        let group = md
            .name()
            .strip_prefix(&format!("{name}-"))
            .unwrap_or(md.name())
            .to_string();
        let now = current("MachineDeployment", md.name());
        let wanted =
            md.0.pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
        let Some(now) = now else {
            rollouts.push(Rollout {
                phase: format!("workers {group}"),
                replaced: 0,
                scaled: wanted,
                reason: "new worker group".into(),
            });
            continue;
        };
        let had = now
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(wanted);
        let template = |v: &Value, p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let infra = "/spec/template/spec/infrastructureRef/name";
        let boot = "/spec/template/spec/bootstrap/configRef/name";
        let version = "/spec/template/spec/version";
        let rolls = template(&now, infra) != template(&md.0, infra)
            || template(&now, boot) != template(&md.0, boot)
            || template(&now, version) != template(&md.0, version);
        if rolls || had != wanted {
            let reason = if template(&now, version) != template(&md.0, version) {
                format!(
                    "Kubernetes {} -> {}",
                    template(&now, version),
                    template(&md.0, version)
                )
            } else if rolls {
                "machine or kubeadm config template changed".into()
            } else {
                format!("count {had} -> {wanted}")
            };
            rollouts.push(Rollout {
                phase: format!("workers {group}"),
                replaced: if rolls { wanted.min(had) } else { 0 },
                scaled: wanted - had,
                reason,
            });
        }
    }
    for (group, _) in existing.worker_machine.iter() {
        if !desired
            .workers
            .iter()
            .any(|m| m.kind() == "MachineDeployment" && m.name() == format!("{name}-{group}"))
        {
            let had = current("MachineDeployment", &format!("{name}-{group}"))
                .and_then(|m| m.pointer("/spec/replicas").and_then(Value::as_i64))
                .unwrap_or(0);
            rollouts.push(Rollout {
                phase: format!("workers {group}"),
                replaced: 0,
                scaled: -had,
                reason: "worker group removed".into(),
            });
        }
    }
    let provider = set.datacenter_kind().to_string();
    let per_machine = machine_seconds(&provider);
    let estimated_seconds = rollouts
        .iter()
        .map(|r| (r.replaced + r.scaled.max(0)) as u64 * per_machine + if r.scaled < 0 { 30 } else { 0 })
        .sum();
    Ok(Plan {
        cluster: name,
        objects,
        rollouts,
        estimated_seconds,
        assumption: format!(
            "{per_machine}s per machine on {provider}, machines replaced one after another (max surge 1)"
        ),
    })
}

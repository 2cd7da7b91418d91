//! Fault injection, from tests ([`Faults`]) or from annotations on objects (so a scenario run
//! through the CLI can inject through the API).
//!
//! Annotation `capi-sim.anywhere.eks.amazonaws.com/fault` holds a comma-separated list. On a
//! Machine, its KubeadmControlPlane, MachineDeployment, MachineSet, EtcdadmCluster or Cluster it
//! applies to the machines below it:
//! - `never-boot`: the infrastructure never becomes ready (the Machine stays Provisioning);
//! - `slow=F`: every delay of the machine is multiplied by `F`;
//! - `provision-fail` or `provision-fail=Reason`: the infrastructure machine reports condition
//!   `Ready=False` with that reason and the Machine goes to phase `Failed`;
//! - `bmc-unreachable`: (bare metal) the infrastructure machine reports `BMCReady=False`
//!   (reason `BMCUnreachable`) and never provisions;
//! - `node-not-ready`: the Node comes up with `Ready=False`;
//! - `stuck-deletion`: a deleted Machine keeps its finalizer forever.
//!
//! On a Cluster only:
//! - `workload-api-error=CODE`: the workload cluster's HTTP API answers every request with
//!   `CODE` (e.g. 500) until the annotation is removed;
//! - `management-api-error`: every write the simulator makes for this cluster fails as if the
//!   management API server returned 500 (the reconcile is retried with backoff).
//!
//! The in-memory API server has no hook to fail its own requests, so management-API faults
//! are simulated on the simulator's side only.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::cache::ClusterKey;
use crate::object::annotation;

/// The fault annotation.
pub const FAULT_ANNOTATION: &str = "capi-sim.anywhere.eks.amazonaws.com/fault";

/// A fault of one machine.
#[derive(Debug, Clone, PartialEq)]
pub enum MachineFault {
    /// The infrastructure never becomes ready.
    NeverBoots,
    /// Every delay multiplied by this factor.
    Slow(f64),
    /// The infrastructure machine fails with this reason.
    ProvisioningFailure(String),
    /// The BMC cannot be reached (bare metal).
    BmcUnreachable,
    /// The Node reports `Ready=False`.
    NodeNotReady,
    /// The Machine's finalizer is never removed.
    StuckDeletion,
}

/// The effective faults of one machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MachineFaults {
    /// [`MachineFault::NeverBoots`].
    pub never_boots: bool,
    /// [`MachineFault::Slow`] (1.0 when absent).
    pub slow: f64,
    /// [`MachineFault::ProvisioningFailure`].
    pub provisioning_failure: Option<String>,
    /// [`MachineFault::BmcUnreachable`].
    pub bmc_unreachable: bool,
    /// [`MachineFault::NodeNotReady`].
    pub node_not_ready: bool,
    /// [`MachineFault::StuckDeletion`].
    pub stuck_deletion: bool,
}

impl MachineFaults {
    fn none() -> Self {
        Self {
            slow: 1.0,
            ..Self::default()
        }
    }

    fn apply(&mut self, f: &MachineFault) {
        match f {
            MachineFault::NeverBoots => self.never_boots = true,
            MachineFault::Slow(x) => self.slow *= if x.is_finite() && *x > 0.0 { *x } else { 1.0 },
            MachineFault::ProvisioningFailure(r) => self.provisioning_failure = Some(r.clone()),
            MachineFault::BmcUnreachable => self.bmc_unreachable = true,
            MachineFault::NodeNotReady => self.node_not_ready = true,
            MachineFault::StuckDeletion => self.stuck_deletion = true,
        }
    }
}

/// A fault of one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterFault {
    /// The workload API answers every request with this HTTP status.
    WorkloadApiError(u16),
    /// The simulator's management-API writes for this cluster fail with 500.
    ManagementApiError,
}

#[derive(Debug, Default)]
struct Inner {
    machines: Vec<(String, MachineFault)>,
    clusters: HashMap<ClusterKey, Vec<ClusterFault>>,
}

/// Faults injected from code (cheap to clone; shared with the simulator).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<RwLock<Inner>>,
}

impl Faults {
    /// Injects `fault` into every machine whose name starts with `name_prefix` (current and
    /// future machines; e.g. the MachineDeployment's name for all its workers).
    pub fn add_machine_fault(&self, name_prefix: &str, fault: MachineFault) {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .machines
            .push((name_prefix.into(), fault));
    }

    /// Removes every machine fault.
    pub fn clear_machine_faults(&self) {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .machines
            .clear();
    }

    /// Sets a cluster fault.
    pub fn add_cluster_fault(&self, key: &ClusterKey, fault: ClusterFault) {
        let mut st = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = st.clusters.entry(key.clone()).or_default();
        if !list.contains(&fault) {
            list.push(fault);
        }
    }

    /// Removes the faults of a cluster.
    pub fn clear_cluster_faults(&self, key: &ClusterKey) {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clusters
            .remove(key);
    }

    /// The effective faults of a machine: injected ones plus annotations on the given objects
    /// (the Machine and its owners).
    pub fn machine(&self, machine_name: &str, annotated: &[&Value]) -> MachineFaults {
        let mut out = MachineFaults::none();
        let st = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (prefix, f) in &st.machines {
            if machine_name.starts_with(prefix.as_str()) {
                out.apply(f);
            }
        }
        for obj in annotated {
            for f in parse_machine_faults(annotation(obj, FAULT_ANNOTATION).unwrap_or_default()) {
                out.apply(&f);
            }
        }
        out
    }

    /// The HTTP status the workload API of a cluster must answer with, if any.
    pub fn workload_api_error(&self, key: &ClusterKey, cluster: Option<&Value>) -> Option<u16> {
        let st = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let injected = st.clusters.get(key).into_iter().flatten().find_map(|f| match f {
            ClusterFault::WorkloadApiError(c) => Some(*c),
            ClusterFault::ManagementApiError => None,
        });
        injected.or_else(|| {
            cluster.and_then(|c| {
                parse_cluster_faults(c).into_iter().find_map(|f| match f {
                    ClusterFault::WorkloadApiError(c) => Some(c),
                    ClusterFault::ManagementApiError => None,
                })
            })
        })
    }

    /// Whether the simulator's writes for a cluster must fail.
    pub fn management_api_error(&self, key: &ClusterKey, cluster: Option<&Value>) -> bool {
        let st = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        st.clusters
            .get(key)
            .is_some_and(|l| l.contains(&ClusterFault::ManagementApiError))
            || cluster.is_some_and(|c| parse_cluster_faults(c).contains(&ClusterFault::ManagementApiError))
    }
}

/// Parses the machine faults of an annotation value; unknown items are ignored.
pub fn parse_machine_faults(s: &str) -> Vec<MachineFault> {
    s.split(',')
        .map(str::trim)
        .filter_map(|item| {
            let (k, v) = item
                .split_once('=')
                .map_or((item, None), |(k, v)| (k.trim(), Some(v.trim())));
            match k {
                "never-boot" => Some(MachineFault::NeverBoots),
                "slow" => Some(MachineFault::Slow(v.and_then(|v| v.parse().ok()).unwrap_or(10.0))),
                "provision-fail" => Some(MachineFault::ProvisioningFailure(
                    v.filter(|v| !v.is_empty())
                        .unwrap_or("ProvisioningFailed")
                        .to_string(),
                )),
                "bmc-unreachable" => Some(MachineFault::BmcUnreachable),
                "node-not-ready" => Some(MachineFault::NodeNotReady),
                "stuck-deletion" => Some(MachineFault::StuckDeletion),
                _ => None,
            }
        })
        .collect()
}

/// Parses the cluster faults of a Cluster's annotation.
pub fn parse_cluster_faults(cluster: &Value) -> Vec<ClusterFault> {
    annotation(cluster, FAULT_ANNOTATION)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter_map(|item| {
            let (k, v) = item
                .split_once('=')
                .map_or((item, None), |(k, v)| (k.trim(), Some(v.trim())));
            match k {
                "workload-api-error" => Some(ClusterFault::WorkloadApiError(
                    v.and_then(|v| v.parse().ok()).unwrap_or(500),
                )),
                "management-api-error" => Some(ClusterFault::ManagementApiError),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_lists_parse() {
        assert_eq!(
            parse_machine_faults("never-boot, slow=3,provision-fail=NoCapacity,bogus"),
            vec![
                MachineFault::NeverBoots,
                MachineFault::Slow(3.0),
                MachineFault::ProvisioningFailure("NoCapacity".into())
            ]
        );
        let c =
            serde_json::json!({"metadata": {"annotations": {FAULT_ANNOTATION: "workload-api-error=503"}}});
        assert_eq!(
            parse_cluster_faults(&c),
            vec![ClusterFault::WorkloadApiError(503)]
        );
    }
}

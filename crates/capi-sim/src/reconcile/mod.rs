//! The simulated controllers. One reconcile handles one Cluster and everything below it, in
//! the order Cluster API's controllers converge: cluster infrastructure and certificates, the
//! external etcd cluster, the control plane, the workers, every Machine's lifecycle, health
//! checks, and finally the Cluster's summary status. Each step reads the cache and writes only
//! what differs, so a reconcile of a converged cluster writes nothing.

mod cluster;
mod control_plane;
mod deployment;
mod machine;

use serde_json::Value;

use crate::Error;
use crate::ctx::Ctx;
use crate::kinds::{self, KindDef};
use crate::object::has_paused_annotation;

pub(crate) use cluster::reconcile_cluster;

/// The table entry of a kind the simulator always registers.
pub(crate) fn def(kind: &str) -> &'static KindDef {
    kinds::by_kind(kind).unwrap_or(&kinds::KINDS[0])
}

/// Whether reconciling this object is suspended (`cluster.x-k8s.io/paused`).
pub(crate) fn is_paused(obj: &Value) -> bool {
    has_paused_annotation(obj)
}

/// The object a v1beta1/v1beta2 reference names, from the cache (same namespace).
pub(crate) fn resolve_ref(ctx: &Ctx<'_>, r: &Value) -> Option<std::sync::Arc<Value>> {
    let kind = r["kind"].as_str()?;
    let name = r["name"].as_str()?;
    let ns = r["namespace"].as_str().unwrap_or(&ctx.key.namespace);
    ctx.cache.get(kinds::by_kind(kind)?.kind, ns, name)
}

/// Machine roles, from labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MachineRole {
    ControlPlane,
    Etcd,
    Worker,
}

pub(crate) fn machine_role(m: &Value) -> MachineRole {
    if crate::object::label(m, crate::object::ETCD_CLUSTER_LABEL).is_some() {
        MachineRole::Etcd
    } else if crate::object::label(m, crate::object::CONTROL_PLANE_LABEL).is_some() {
        MachineRole::ControlPlane
    } else {
        MachineRole::Worker
    }
}

/// Whether a Machine is Ready (v1beta2 condition).
pub(crate) fn machine_ready(m: &Value) -> bool {
    crate::object::is_true(&m["status"]["conditions"], "Ready") && !crate::object::is_deleting(m)
}

/// `Result` of a step that may have to wait.
pub(crate) type Step = Result<(), Error>;

//! The conditions EKS Anywhere sets on a Cluster (Cluster API's condition format), and how the
//! readiness of Cluster API objects is read from their status.

use serde_json::{Value, json};

/// `ControlPlaneInitialized`: the first control-plane machine is up and the API answers.
pub const CONTROL_PLANE_INITIALIZED: &str = "ControlPlaneInitialized";
/// `ControlPlaneReady`: every control-plane machine is ready and up to date.
pub const CONTROL_PLANE_READY: &str = "ControlPlaneReady";
/// `DefaultCNIConfigured`: the default CNI (Cilium) is installed at the wanted version.
pub const DEFAULT_CNI_CONFIGURED: &str = "DefaultCNIConfigured";
/// `WorkersReady`: every worker group has all its machines ready and up to date.
pub const WORKERS_READY: &str = "WorkersReady";
/// `Ready`: all of the above.
pub const READY: &str = "Ready";

/// One condition as the engine wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// Type, e.g. [`READY`].
    pub kind: &'static str,
    /// Whether it holds.
    pub ok: bool,
    /// CamelCase reason when it does not (empty when it does).
    pub reason: String,
    /// Human message (empty when it holds).
    pub message: String,
}

impl Condition {
    /// A condition that holds.
    pub fn ok(kind: &'static str) -> Condition {
        Condition {
            kind,
            ok: true,
            reason: String::new(),
            message: String::new(),
        }
    }

    /// A condition that does not hold, with why.
    pub fn not(kind: &'static str, reason: &str, message: impl Into<String>) -> Condition {
        Condition {
            kind,
            ok: false,
            reason: reason.to_string(),
            message: message.into(),
        }
    }
}

/// The stored conditions with `wanted` merged in: `lastTransitionTime` changes only when the
/// status flips, so writing the same conditions twice is a no-op for the API server.
pub fn merge(stored: &[Value], wanted: &[Condition], now: &str) -> Vec<Value> {
    let mut out: Vec<Value> = stored.to_vec();
    for c in wanted {
        let status = if c.ok { "True" } else { "False" };
        let existing = out.iter_mut().find(|v| v["type"] == c.kind);
        let time = match &existing {
            Some(v) if v["status"] == status => v["lastTransitionTime"].clone(),
            _ => Value::String(now.to_string()),
        };
        let mut value = json!({"type": c.kind, "status": status, "lastTransitionTime": time});
        if !c.ok {
            value["reason"] = json!(c.reason);
            value["message"] = json!(c.message);
            value["severity"] = json!(if c.reason.ends_with("Failed") {
                "Error"
            } else {
                "Info"
            });
        }
        match existing {
            Some(v) => *v = value,
            None => out.push(value),
        }
    }
    out
}

/// Whether `object` has condition `kind` with status True.
pub fn is_true(object: &Value, kind: &str) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == kind && c["status"] == "True"))
}

/// The condition `kind` of `object`, if set.
pub fn get<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c["type"] == kind)
}

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

/// Whether the controller of `object` has seen its latest spec.
pub fn observed(object: &Value) -> bool {
    let generation = int(object, "/metadata/generation").unwrap_or(0);
    int(object, "/status/observedGeneration").is_some_and(|o| o >= generation)
}

/// Replica counts of a KubeadmControlPlane or MachineDeployment: (wanted, ready, up to date).
pub fn replicas(object: &Value) -> (i64, i64, i64) {
    let wanted = int(object, "/spec/replicas").unwrap_or(1);
    let ready = int(object, "/status/readyReplicas").unwrap_or(0);
    let up_to_date = int(object, "/status/upToDateReplicas")
        .or_else(|| int(object, "/status/updatedReplicas"))
        .unwrap_or(0);
    let total = int(object, "/status/replicas").unwrap_or(0);
    // Surplus machines of a rollout still count as not done.
    let up_to_date = if total > wanted {
        up_to_date.min(wanted - 1)
    } else {
        up_to_date
    };
    (wanted, ready.min(total.max(ready)), up_to_date)
}

/// Why a KubeadmControlPlane or MachineDeployment is not done, or `None` when it is: the
/// latest spec observed, every replica ready and up to date, no surplus machine.
pub fn rollout_pending(object: &Value) -> Option<String> {
    if !observed(object) {
        return Some("its controller has not observed the latest spec yet".into());
    }
    let (wanted, ready, up_to_date) = replicas(object);
    let total = int(object, "/status/replicas").unwrap_or(0);
    if ready >= wanted && up_to_date >= wanted && total == wanted {
        None
    } else {
        Some(format!(
            "{ready} of {wanted} replicas ready, {up_to_date} up to date, {total} machines"
        ))
    }
}

/// Whether a KubeadmControlPlane has initialized (its first machine is up).
pub fn control_plane_initialized(kcp: &Value) -> bool {
    kcp.pointer("/status/initialization/controlPlaneInitialized")
        .and_then(Value::as_bool)
        .or_else(|| kcp.pointer("/status/initialized").and_then(Value::as_bool))
        .unwrap_or(false)
        || is_true(kcp, "Initialized")
        || is_true(kcp, "ControlPlaneInitialized")
}

/// Whether an EtcdadmCluster is ready (its members are up and match its spec).
pub fn etcd_ready(etcd: &Value) -> bool {
    etcd.pointer("/status/ready")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        && observed_or_unset(etcd)
}

fn observed_or_unset(object: &Value) -> bool {
    object.pointer("/status/observedGeneration").is_none() || observed(object)
}

/// Now as RFC 3339 UTC with seconds (the format of `lastTransitionTime`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// `secs` since the epoch as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let first = merge(&[], &[Condition::not(READY, "Waiting", "x")], "t1");
        let same = merge(&first, &[Condition::not(READY, "Waiting", "y")], "t2");
        assert_eq!(same[0]["lastTransitionTime"], "t1");
        assert_eq!(same[0]["message"], "y");
        let flipped = merge(&same, &[Condition::ok(READY)], "t3");
        assert_eq!(flipped[0]["lastTransitionTime"], "t3");
        assert!(flipped[0].get("reason").is_none());
    }

    #[test]
    fn a_rollout_is_done_only_with_every_replica_ready_and_current() {
        let kcp = |generation: i64, obs: i64, total: i64, ready: i64, current: i64| {
            json!({"metadata": {"generation": generation}, "spec": {"replicas": 3},
                "status": {"observedGeneration": obs, "replicas": total, "readyReplicas": ready, "upToDateReplicas": current}})
        };
        assert_eq!(rollout_pending(&kcp(2, 2, 3, 3, 3)), None);
        assert!(rollout_pending(&kcp(2, 1, 3, 3, 3)).is_some());
        assert!(rollout_pending(&kcp(2, 2, 4, 4, 3)).is_some(), "surplus machine");
        assert!(rollout_pending(&kcp(2, 2, 3, 3, 2)).is_some());
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_996_800), "2026-11-30T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
    }
}

//! Small pure helpers over JSON objects: metadata access, Cluster API labels and annotations,
//! and condition lists that keep `lastTransitionTime` unless the status changes.

use serde_json::{Map, Value, json};

/// `cluster.x-k8s.io/cluster-name`.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";
/// `cluster.x-k8s.io/control-plane` (value empty).
pub const CONTROL_PLANE_LABEL: &str = "cluster.x-k8s.io/control-plane";
/// `cluster.x-k8s.io/control-plane-name`.
pub const CONTROL_PLANE_NAME_LABEL: &str = "cluster.x-k8s.io/control-plane-name";
/// `cluster.x-k8s.io/deployment-name`.
pub const DEPLOYMENT_NAME_LABEL: &str = "cluster.x-k8s.io/deployment-name";
/// `cluster.x-k8s.io/set-name`.
pub const SET_NAME_LABEL: &str = "cluster.x-k8s.io/set-name";
/// `machine-template-hash`.
pub const TEMPLATE_HASH_LABEL: &str = "machine-template-hash";
/// `cluster.x-k8s.io/etcd-cluster` (etcdadm machines).
pub const ETCD_CLUSTER_LABEL: &str = "cluster.x-k8s.io/etcd-cluster";
/// `cluster.x-k8s.io/paused` annotation.
pub const PAUSED_ANNOTATION: &str = "cluster.x-k8s.io/paused";
/// `cluster.x-k8s.io/cloned-from-name` annotation on objects cloned from a template.
pub const CLONED_FROM_NAME: &str = "cluster.x-k8s.io/cloned-from-name";
/// `cluster.x-k8s.io/cloned-from-groupkind`.
pub const CLONED_FROM_GROUPKIND: &str = "cluster.x-k8s.io/cloned-from-groupkind";

/// Prefix of the simulator's own annotations.
pub const SIM_PREFIX: &str = "capi-sim.anywhere.eks.amazonaws.com/";
/// When provisioning started (Unix ms), on the infrastructure machine.
pub const PROVISION_STARTED: &str = "capi-sim.anywhere.eks.amazonaws.com/provision-started-ms";
/// When the infrastructure became ready (Unix ms), on the infrastructure machine.
pub const INFRA_READY_AT: &str = "capi-sim.anywhere.eks.amazonaws.com/infra-ready-ms";
/// When draining started (Unix ms), on the Machine.
pub const DRAIN_STARTED: &str = "capi-sim.anywhere.eks.amazonaws.com/drain-started-ms";
/// Hash of the control plane's kubeadm configuration a machine was built from.
pub const CONFIG_HASH: &str = "capi-sim.anywhere.eks.amazonaws.com/config-hash";

/// Finalizer on Machines.
pub const MACHINE_FINALIZER: &str = "machine.cluster.x-k8s.io";
/// Finalizer on Clusters.
pub const CLUSTER_FINALIZER: &str = "cluster.cluster.x-k8s.io";
/// Finalizer on KubeadmControlPlanes.
pub const KCP_FINALIZER: &str = "kubeadm.controlplane.cluster.x-k8s.io";
/// Finalizer on EtcdadmClusters.
pub const ETCD_FINALIZER: &str = "etcdcluster.cluster.x-k8s.io";

/// A string field of `metadata` (empty when absent).
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `metadata.name`.
pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name")
}

/// `metadata.labels`.
pub fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.get("labels")?.as_object()
}

/// One label.
pub fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    labels(obj)?.get(key)?.as_str()
}

/// One annotation.
pub fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

/// An annotation holding Unix milliseconds.
pub fn annotation_ms(obj: &Value, key: &str) -> Option<u64> {
    annotation(obj, key)?.parse().ok()
}

/// `metadata.resourceVersion` as a number (0 when absent).
pub fn resource_version(obj: &Value) -> u64 {
    meta_str(obj, "resourceVersion").parse().unwrap_or(0)
}

/// `metadata.generation`.
pub fn generation(obj: &Value) -> i64 {
    obj["metadata"]["generation"].as_i64().unwrap_or(0)
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(obj: &Value) -> bool {
    obj.get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|v| !v.is_null())
}

/// Whether `metadata.finalizers` contains `f`.
pub fn has_finalizer(obj: &Value, f: &str) -> bool {
    obj["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == f))
}

/// `metadata.finalizers` with `f` added.
pub fn finalizers_with(obj: &Value, f: &str) -> Value {
    let mut list: Vec<Value> = obj["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !list.iter().any(|x| x == f) {
        list.push(json!(f));
    }
    Value::Array(list)
}

/// `metadata.finalizers` with `f` removed.
pub fn finalizers_without(obj: &Value, f: &str) -> Value {
    let list: Vec<Value> = obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| a.iter().filter(|x| *x != f).cloned().collect())
        .unwrap_or_default();
    Value::Array(list)
}

/// Whether the object is paused: `cluster.x-k8s.io/paused` annotation present.
pub fn has_paused_annotation(obj: &Value) -> bool {
    annotation(obj, PAUSED_ANNOTATION).is_some()
}

/// An owner reference to `owner` (controller when `controller` is true).
pub fn owner_ref(owner: &Value, controller: bool) -> Value {
    let mut r = json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": name(owner),
        "uid": meta_str(owner, "uid"),
    });
    if controller {
        r["controller"] = json!(true);
        r["blockOwnerDeletion"] = json!(true);
    }
    r
}

/// Whether `obj` has an owner reference with `uid`.
pub fn is_owned_by(obj: &Value, owner: &Value) -> bool {
    let uid = meta_str(owner, "uid");
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|a| a.iter().any(|r| r["uid"] == uid))
}

/// The owner references of `obj` plus one to `owner`, or `None` when already present.
pub fn owner_refs_with(obj: &Value, owner: &Value, controller: bool) -> Option<Value> {
    if is_owned_by(obj, owner) {
        return None;
    }
    let mut list: Vec<Value> = obj["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has_controller = list.iter().any(|r| r["controller"] == true);
    list.push(owner_ref(owner, controller && !has_controller));
    Some(Value::Array(list))
}

/// A reference's group: v1beta2 `apiGroup`, or the group of a v1beta1 `apiVersion`.
pub fn ref_group(r: &Value) -> Option<&str> {
    r["apiGroup"].as_str().or_else(|| {
        r["apiVersion"]
            .as_str()
            .map(|av| av.split_once('/').map_or("", |(g, _)| g))
    })
}

/// The condition of `type` in a condition list.
pub fn condition<'a>(conditions: &'a Value, type_: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == type_)
}

/// Whether condition `type_` is `True`.
pub fn is_true(conditions: &Value, type_: &str) -> bool {
    condition(conditions, type_).is_some_and(|c| c["status"] == "True")
}

/// Builds v1beta2 conditions (`metav1.Condition`), keeping `lastTransitionTime` of a condition
/// whose status did not change.
#[derive(Debug)]
pub struct Conditions<'a> {
    old: &'a Value,
    now: &'a str,
    generation: i64,
    out: Vec<Value>,
}

impl<'a> Conditions<'a> {
    /// Starts from the current list.
    pub fn new(old: &'a Value, now: &'a str, generation: i64) -> Self {
        Self {
            old,
            now,
            generation,
            out: Vec::new(),
        }
    }

    /// Sets a condition.
    pub fn set(&mut self, type_: &str, status: bool, reason: &str, message: &str) -> &mut Self {
        let s = if status { "True" } else { "False" };
        self.set_status(type_, s, reason, message)
    }

    /// Sets a condition whose reason says which way it is (`yes` when true, `no` when false),
    /// without a message.
    pub fn either(&mut self, type_: &str, status: bool, yes: &str, no: &str) -> &mut Self {
        self.set(type_, status, if status { yes } else { no }, "")
    }

    /// Sets a condition with an explicit status (`True`, `False`, `Unknown`).
    pub fn set_status(&mut self, type_: &str, status: &str, reason: &str, message: &str) -> &mut Self {
        let ltt = match condition(self.old, type_) {
            Some(c) if c["status"] == status => c["lastTransitionTime"].clone(),
            _ => json!(self.now),
        };
        let mut c = json!({
            "type": type_,
            "status": status,
            "observedGeneration": self.generation,
            "lastTransitionTime": ltt,
            "reason": reason,
        });
        if !message.is_empty() {
            c["message"] = json!(message);
        }
        self.out.push(c);
        self
    }

    /// The list.
    pub fn build(&self) -> Value {
        Value::Array(self.out.clone())
    }

    /// The same conditions in deprecated v1beta1 form (`severity` instead of
    /// `observedGeneration`).
    pub fn build_v1beta1(&self, old: &Value) -> Value {
        Value::Array(
            self.out
                .iter()
                .map(|c| {
                    let status = c["status"].as_str().unwrap_or("Unknown");
                    let ltt = match condition(old, c["type"].as_str().unwrap_or_default()) {
                        Some(o) if o["status"] == status => o["lastTransitionTime"].clone(),
                        _ => c["lastTransitionTime"].clone(),
                    };
                    let mut v = json!({"type": c["type"], "status": status, "lastTransitionTime": ltt});
                    if status != "True" {
                        v["reason"] = c["reason"].clone();
                        v["severity"] = json!("Info");
                        if let Some(m) = c.get("message") {
                            v["message"] = m.clone();
                        }
                    }
                    v
                })
                .collect(),
        )
    }
}

/// A stable short hash of a JSON value (template hashes, config hashes).
pub fn short_hash(v: &Value) -> String {
    let h = crate::clock::fnv(v.to_string().as_bytes());
    to_alphabet(h, 10)
}

/// `n` characters of the Kubernetes random-name alphabet derived from `h`.
pub fn to_alphabet(mut h: u64, n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut s = String::with_capacity(n);
    for _ in 0..n {
        s.push(ALPHABET[(h % ALPHABET.len() as u64) as usize] as char);
        h /= ALPHABET.len() as u64;
        if h == 0 {
            h = 0x9e37_79b9_7f4a_7c15;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_keep_transition_time_when_status_is_unchanged() {
        let old = json!([{"type": "Ready", "status": "True", "lastTransitionTime": "t0", "reason": "R"}]);
        let mut c = Conditions::new(&old, "t1", 2);
        c.set("Ready", true, "Ready", "")
            .set("Available", false, "Waiting", "m");
        let v = c.build();
        assert_eq!(v[0]["lastTransitionTime"], "t0");
        assert_eq!(v[1]["lastTransitionTime"], "t1");
        assert_eq!(v[1]["observedGeneration"], 2);
    }

    #[test]
    fn short_hash_is_stable() {
        assert_eq!(short_hash(&json!({"a": 1})), short_hash(&json!({"a": 1})));
        assert_ne!(short_hash(&json!({"a": 1})), short_hash(&json!({"a": 2})));
    }
}

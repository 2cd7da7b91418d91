//! The simulator's informer cache: every object of the kinds it handles, fed by the store's
//! watch (list, then watch from the list's resourceVersion, relist on `410 Expired`) and by the
//! simulator's own writes (write-through, so a reconcile reads what it just wrote). Objects are
//! indexed by the Cluster they belong to.
//!
//! The cache is derived state only: a new simulator rebuilds it from the store.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::Value;

use crate::kinds::{KindDef, Role};
use crate::object::{labels, meta_str, resource_version};

/// A Cluster, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterKey {
    /// Namespace.
    pub namespace: String,
    /// Cluster name.
    pub name: String,
}

impl ClusterKey {
    /// A key.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

type ObjId = (&'static str, String, String);

#[derive(Default)]
struct Inner {
    objects: HashMap<&'static str, HashMap<(String, String), Arc<Value>>>,
    /// Deleted objects and the resourceVersion of their deletion (ignore older events).
    tombstones: HashMap<ObjId, u64>,
    by_cluster: HashMap<ClusterKey, HashSet<(&'static str, String)>>,
    cluster_of: HashMap<ObjId, ClusterKey>,
    /// Objects a Cluster references (control plane, infrastructure cluster, etcd cluster).
    refs: HashMap<ObjId, ClusterKey>,
}

/// The cache (cheap to clone).
#[derive(Clone, Default)]
pub struct Cache {
    inner: Arc<RwLock<Inner>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

impl Cache {
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One object.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.read()
            .objects
            .get(kind)?
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// The objects of `kind` that belong to a Cluster, ordered by name.
    pub fn of_cluster(&self, key: &ClusterKey, kind: &str) -> Vec<Arc<Value>> {
        let st = self.read();
        let Some(set) = st.by_cluster.get(key) else {
            return Vec::new();
        };
        let Some(table) = st.objects.get(kind) else {
            return Vec::new();
        };
        let mut out: Vec<Arc<Value>> = set
            .iter()
            .filter(|(k, _)| *k == kind)
            .filter_map(|(_, n)| table.get(&(key.namespace.clone(), n.clone())).cloned())
            .collect();
        out.sort_by(|a, b| meta_str(a, "name").cmp(meta_str(b, "name")));
        out
    }

    /// Every Cluster known, plus clusters that still own objects.
    pub fn cluster_keys(&self) -> Vec<ClusterKey> {
        let st = self.read();
        let mut keys: Vec<ClusterKey> = st.by_cluster.keys().cloned().collect();
        if let Some(t) = st.objects.get("Cluster") {
            keys.extend(t.keys().map(|(ns, n)| ClusterKey::new(ns, n)));
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// Number of cached objects (all kinds).
    pub fn len(&self) -> usize {
        self.read().objects.values().map(HashMap::len).sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records an object (from a watch event, a list or our own write) unless the cache holds
    /// a newer state. Returns the Cluster it belongs to.
    pub fn upsert(&self, def: &KindDef, obj: Arc<Value>) -> Option<ClusterKey> {
        let ns = meta_str(&obj, "namespace").to_string();
        let name = meta_str(&obj, "name").to_string();
        let rv = resource_version(&obj);
        let id: ObjId = (def.kind, ns.clone(), name.clone());
        let mut st = self.write();
        if let Some(t) = st.tombstones.get(&id) {
            if rv <= *t {
                return st.cluster_of.get(&id).cloned();
            }
            st.tombstones.remove(&id);
        }
        let table = st.objects.entry(def.kind).or_default();
        if let Some(old) = table.get(&(ns.clone(), name.clone()))
            && resource_version(old) > rv
        {
            return st.cluster_of.get(&id).cloned();
        }
        table.insert((ns.clone(), name.clone()), obj.clone());
        if def.role == Role::Cluster {
            let key = ClusterKey::new(&ns, &name);
            for r in ["controlPlaneRef", "infrastructureRef", "managedExternalEtcdRef"] {
                let Some(kind) = obj["spec"][r]["kind"].as_str() else {
                    continue;
                };
                let Some(d) = crate::kinds::by_kind(kind) else {
                    continue;
                };
                let Some(rname) = obj["spec"][r]["name"].as_str() else {
                    continue;
                };
                let rid: ObjId = (d.kind, ns.clone(), rname.to_string());
                st.refs.insert(rid.clone(), key.clone());
                if st
                    .objects
                    .get(d.kind)
                    .is_some_and(|t| t.contains_key(&(ns.clone(), rname.to_string())))
                {
                    index(&mut st, rid, key.clone());
                }
            }
        }
        let key = cluster_of(def, &obj).or_else(|| st.refs.get(&id).cloned());
        match &key {
            Some(k) => index(&mut st, id, k.clone()),
            None => unindex(&mut st, &id),
        }
        key
    }

    /// Records a deletion at `rv`. Returns the Cluster the object belonged to.
    pub fn remove(&self, def: &KindDef, namespace: &str, name: &str, rv: u64) -> Option<ClusterKey> {
        let id: ObjId = (def.kind, namespace.to_string(), name.to_string());
        let mut st = self.write();
        if let Some(t) = st.objects.get_mut(def.kind) {
            let k = (namespace.to_string(), name.to_string());
            if let Some(old) = t.get(&k) {
                if resource_version(old) > rv {
                    return st.cluster_of.get(&id).cloned();
                }
                t.remove(&k);
            }
        }
        let t = st.tombstones.entry(id.clone()).or_default();
        *t = (*t).max(rv);
        let key = st.cluster_of.get(&id).cloned();
        unindex(&mut st, &id);
        if def.role == Role::Cluster {
            st.refs.retain(|_, v| v.namespace != namespace || v.name != name);
        }
        key
    }

    /// Drops an object the store just answered `404 Not Found` for, whatever resourceVersion
    /// the cached copy has: the store is authoritative, and a cached object that no longer
    /// exists would otherwise be acted on forever (a delete of an absent object succeeds
    /// without an event, so nothing else would ever evict it). `rv` is the store's
    /// resourceVersion read *before* the request that got the 404: every event at or below it
    /// is about an incarnation that is gone, and a re-creation gets a higher one.
    pub fn forget(&self, def: &KindDef, namespace: &str, name: &str, rv: u64) -> Option<ClusterKey> {
        let id: ObjId = (def.kind, namespace.to_string(), name.to_string());
        let mut st = self.write();
        if let Some(t) = st.objects.get_mut(def.kind) {
            t.remove(&(namespace.to_string(), name.to_string()));
        }
        let t = st.tombstones.entry(id.clone()).or_default();
        *t = (*t).max(rv);
        let key = st.cluster_of.get(&id).cloned();
        unindex(&mut st, &id);
        if def.role == Role::Cluster {
            st.refs.retain(|_, v| v.namespace != namespace || v.name != name);
        }
        key
    }

    /// Replaces every object of a kind with a fresh list (after a relist); returns the
    /// Clusters whose objects changed or disappeared.
    pub fn replace_kind(&self, def: &KindDef, items: Vec<Arc<Value>>, list_rv: u64) -> Vec<ClusterKey> {
        let present: HashSet<(String, String)> = items
            .iter()
            .map(|o| {
                (
                    meta_str(o, "namespace").to_string(),
                    meta_str(o, "name").to_string(),
                )
            })
            .collect();
        let stale: Vec<(String, String)> = {
            let st = self.read();
            st.objects
                .get(def.kind)
                .map(|t| {
                    t.iter()
                        .filter(|(k, o)| !present.contains(*k) && resource_version(o) <= list_rv)
                        .map(|(k, _)| k.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut keys = Vec::new();
        for (ns, n) in stale {
            keys.extend(self.remove(def, &ns, &n, list_rv));
        }
        for o in items {
            // Only objects the cache did not already hold at this resourceVersion count as
            // changed: a relist of 10 000 unchanged objects must not queue 10 000 clusters.
            let unchanged = self
                .get(def.kind, meta_str(&o, "namespace"), meta_str(&o, "name"))
                .is_some_and(|c| resource_version(&c) == resource_version(&o));
            let key = self.upsert(def, o);
            if !unchanged {
                keys.extend(key);
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// Drops tombstones older than `rv` for a kind whose watch has passed `rv`.
    pub fn prune_tombstones(&self, kind: &str, rv: u64) {
        let mut st = self.write();
        st.tombstones.retain(|(k, _, _), t| *k != kind || *t > rv);
    }
}

fn index(st: &mut Inner, id: ObjId, key: ClusterKey) {
    if let Some(old) = st.cluster_of.get(&id)
        && *old != key
        && let Some(set) = st.by_cluster.get_mut(old)
    {
        set.remove(&(id.0, id.2.clone()));
    }
    st.by_cluster
        .entry(key.clone())
        .or_default()
        .insert((id.0, id.2.clone()));
    st.cluster_of.insert(id, key);
}

fn unindex(st: &mut Inner, id: &ObjId) {
    if let Some(old) = st.cluster_of.remove(id)
        && let Some(set) = st.by_cluster.get_mut(&old)
    {
        set.remove(&(id.0, id.2.clone()));
        if set.is_empty() {
            st.by_cluster.remove(&old);
        }
    }
}

/// The Cluster an object belongs to, from its own fields.
fn cluster_of(def: &KindDef, obj: &Value) -> Option<ClusterKey> {
    let ns = meta_str(obj, "namespace");
    if def.role == Role::Cluster {
        return Some(ClusterKey::new(ns, meta_str(obj, "name")));
    }
    if let Some(n) = labels(obj)
        .and_then(|l| l.get(crate::object::CLUSTER_NAME_LABEL))
        .and_then(Value::as_str)
    {
        return Some(ClusterKey::new(ns, n));
    }
    if let Some(n) = obj["spec"]["clusterName"].as_str() {
        return Some(ClusterKey::new(ns, n));
    }
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| {
            r["kind"] == "Cluster"
                && r["apiVersion"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("cluster.x-k8s.io/"))
        })
        .and_then(|r| r["name"].as_str())
        .map(|n| ClusterKey::new(ns, n))
}

//! The imperative shell of one reconcile: reads from the cache, writes through the store's
//! in-process API (so every write takes the resourceVersion / watch / no-op path), records the
//! writes in the cache and the observer, and collects the next due time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anywhere_apiserver::{
    ApiError, CreateRequest, DeleteRequest, Deleted, Gvr, Patch, PatchRequest, Store, Target, WriteOptions,
};
use serde_json::{Value, json};

use crate::cache::{Cache, ClusterKey};
use crate::clock::{Timings, rfc3339};
use crate::faults::Faults;
use crate::kinds::KindDef;
use crate::object::{condition, meta_str, name};
use crate::observe::Observer;
use crate::workload::Workloads;
use crate::{Error, Options};

/// Field manager of every simulator write.
pub const FIELD_MANAGER: &str = "capi-sim";

pub(crate) struct Ctx<'a> {
    pub mgmt: &'a Store,
    pub cache: &'a Cache,
    pub workloads: &'a Workloads,
    pub faults: &'a Faults,
    pub observer: &'a Observer,
    pub options: &'a Options,
    pub key: ClusterKey,
    pub now: SystemTime,
    pub now_str: String,
    pub fail_writes: bool,
    pub next_due: Option<SystemTime>,
}

pub(crate) fn gvr(def: &KindDef) -> Gvr {
    Gvr::new(def.group, def.storage, def.plural)
}

fn opts() -> WriteOptions {
    WriteOptions {
        field_manager: Some(FIELD_MANAGER.into()),
        ..WriteOptions::default()
    }
}

fn api(op: &'static str, object: String) -> impl FnOnce(ApiError) -> Error {
    move |source| Error::Api { op, object, source }
}

impl<'a> Ctx<'a> {
    pub fn new(
        parts: (
            &'a Store,
            &'a Cache,
            &'a Workloads,
            &'a Faults,
            &'a Observer,
            &'a Options,
        ),
        key: ClusterKey,
    ) -> Self {
        let (mgmt, cache, workloads, faults, observer, options) = parts;
        let now = options.clock.now();
        let cluster = cache.get("Cluster", &key.namespace, &key.name);
        let fail_writes = faults.management_api_error(&key, cluster.as_deref());
        Self {
            mgmt,
            cache,
            workloads,
            faults,
            observer,
            options,
            now_str: rfc3339(now),
            now,
            key,
            fail_writes,
            next_due: None,
        }
    }

    pub fn timings(&self) -> &Timings {
        &self.options.timings
    }

    /// Asks for another reconcile at `at` (the earliest request wins).
    pub fn due_at(&mut self, at: SystemTime) {
        self.next_due = Some(self.next_due.map_or(at, |d| d.min(at)));
    }

    /// Asks for another reconcile after `d`.
    pub fn due_in(&mut self, d: Duration) {
        let at = self.now + d;
        self.due_at(at);
    }

    fn check_fault(&self, op: &'static str, object: &str) -> Result<(), Error> {
        if self.fail_writes {
            return Err(Error::Api {
                op,
                object: object.to_string(),
                source: ApiError::internal(
                    "InternalError",
                    "injected fault: the management API server is failing",
                ),
            });
        }
        Ok(())
    }

    fn wrote(&self) {
        self.observer.count(&self.key, |c| c.writes += 1);
    }

    pub fn record(&self, object: String, what: &str, value: &str) {
        self.observer.record(&self.key, self.now, object, what, value);
    }

    /// Creates a management object (AlreadyExists: returns the existing one).
    pub fn create(&self, def: &'static KindDef, obj: Value) -> Result<Arc<Value>, Error> {
        let id = format!("{}/{}", def.kind, name(&obj));
        self.check_fault("create", &id)?;
        let ns = meta_str(&obj, "namespace").to_string();
        let n = name(&obj).to_string();
        self.wrote();
        let res = self.mgmt.create(CreateRequest {
            gvr: gvr(def),
            namespace: Some(ns.clone()),
            object: obj,
            options: opts(),
        });
        let v = match res {
            Ok(v) => {
                self.record(id.clone(), "created", "");
                v
            }
            Err(e) if e.code == 409 => self
                .mgmt
                .get(&Target::namespaced(gvr(def), &ns, &n))
                .map_err(api("get", id.clone()))?,
            Err(e) => return Err(api("create", id)(e)),
        };
        let v = Arc::new(v);
        self.cache.upsert(def, v.clone());
        Ok(v)
    }

    /// Merge-patches a management object's main resource (metadata and spec).
    pub fn patch(&self, def: &'static KindDef, obj: &Value, patch: Value) -> Result<Arc<Value>, Error> {
        self.patch_target(def, obj, patch, false)
    }

    /// Merge-patches `status` (through the status subresource); skipped when unchanged.
    pub fn patch_status(
        &self,
        def: &'static KindDef,
        obj: &Value,
        status: Value,
    ) -> Result<Arc<Value>, Error> {
        if obj.get("status") == Some(&status) {
            return Ok(Arc::new(obj.clone()));
        }
        self.record_transitions(def, obj, &status);
        self.patch_target(def, obj, json!({ "status": status }), true)
    }

    fn patch_target(
        &self,
        def: &'static KindDef,
        obj: &Value,
        patch: Value,
        status: bool,
    ) -> Result<Arc<Value>, Error> {
        let id = format!("{}/{}", def.kind, name(obj));
        self.check_fault("patch", &id)?;
        let mut target = Target::namespaced(gvr(def), meta_str(obj, "namespace"), name(obj));
        if status {
            target = target.status();
        }
        self.wrote();
        let before = self.mgmt.resource_version();
        let v = match self.mgmt.patch(PatchRequest {
            target,
            patch: Patch::Merge(patch),
            options: opts(),
        }) {
            Ok(v) => v,
            Err(e) => {
                if e.code == 404 {
                    // The cached object is gone: evict it so the retry sees the truth.
                    self.cache
                        .forget(def, meta_str(obj, "namespace"), name(obj), before);
                }
                return Err(api("patch", id)(e));
            }
        };
        let v = Arc::new(v);
        self.cache.upsert(def, v.clone());
        Ok(v)
    }

    /// Deletes a management object (absent is fine).
    pub fn delete(&self, def: &'static KindDef, namespace: &str, n: &str) -> Result<(), Error> {
        let id = format!("{}/{}", def.kind, n);
        self.check_fault("delete", &id)?;
        self.wrote();
        let req = DeleteRequest {
            target: Target::namespaced(gvr(def), namespace, n),
            ..DeleteRequest::default()
        };
        let before = self.mgmt.resource_version();
        match self.mgmt.delete(&req) {
            Ok(Deleted::Gone(v)) => {
                self.record(id, "deleted", "");
                self.cache.remove(
                    def,
                    namespace,
                    n,
                    crate::object::resource_version(&v).max(self.mgmt.resource_version()),
                );
                Ok(())
            }
            Ok(Deleted::Pending(v)) => {
                self.cache.upsert(def, Arc::new(v));
                Ok(())
            }
            Err(e) if e.code == 404 => {
                // Absent is fine, but the caller found the object in the cache: a stale entry
                // must go, or every reconcile "deletes" it again and waits forever.
                self.cache.forget(def, namespace, n, before);
                Ok(())
            }
            Err(e) => Err(api("delete", id)(e)),
        }
    }

    /// Removes a finalizer (the object goes away when it was the last one and it is deleting).
    pub fn remove_finalizer(&self, def: &'static KindDef, obj: &Value, f: &str) -> Result<(), Error> {
        if !crate::object::has_finalizer(obj, f) {
            return Ok(());
        }
        let id = format!("{}/{}", def.kind, name(obj));
        self.check_fault("patch", &id)?;
        self.wrote();
        let list = crate::object::finalizers_without(obj, f);
        let emptied = list.as_array().is_some_and(Vec::is_empty);
        let target = Target::namespaced(gvr(def), meta_str(obj, "namespace"), name(obj));
        let patch =
            json!({"metadata": {"finalizers": list, "resourceVersion": meta_str(obj, "resourceVersion")}});
        let before = self.mgmt.resource_version();
        match self.mgmt.patch(PatchRequest {
            target,
            patch: Patch::Merge(patch),
            options: opts(),
        }) {
            Ok(v) => {
                if emptied && (crate::object::is_deleting(obj) || crate::object::is_deleting(&v)) {
                    self.record(id, "deleted", "");
                    self.cache.remove(
                        def,
                        meta_str(obj, "namespace"),
                        name(obj),
                        self.mgmt.resource_version(),
                    );
                } else {
                    self.cache.upsert(def, Arc::new(v));
                }
                Ok(())
            }
            Err(e) if e.code == 404 => {
                if emptied && crate::object::is_deleting(obj) {
                    self.record(id, "deleted", "");
                }
                self.cache
                    .forget(def, meta_str(obj, "namespace"), name(obj), before);
                Ok(())
            }
            Err(e) => {
                let gone = self
                    .mgmt
                    .get(&Target::namespaced(
                        gvr(def),
                        meta_str(obj, "namespace"),
                        name(obj),
                    ))
                    .is_err_and(|g| g.code == 404);
                if gone && emptied && crate::object::is_deleting(obj) {
                    tracing::debug!(object = id, error = %e, "finalizer removal reported an error but the object is gone");
                    self.record(id, "deleted", "");
                    self.cache.remove(
                        def,
                        meta_str(obj, "namespace"),
                        name(obj),
                        self.mgmt.resource_version(),
                    );
                    return Ok(());
                }
                Err(api("patch", id)(e))
            }
        }
    }

    /// Creates a core object in the management cluster (Secrets); AlreadyExists is fine.
    pub fn create_core(&self, resource: &str, obj: Value) -> Result<(), Error> {
        let id = format!("{resource}/{}", name(&obj));
        self.check_fault("create", &id)?;
        self.wrote();
        let ns = meta_str(&obj, "namespace").to_string();
        match self.mgmt.create(CreateRequest {
            gvr: Gvr::core(resource),
            namespace: Some(ns),
            object: obj,
            options: opts(),
        }) {
            Ok(_) => Ok(()),
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => Err(api("create", id)(e)),
        }
    }

    /// Reads a core management object.
    pub fn get_core(&self, resource: &str, n: &str) -> Option<Value> {
        self.mgmt
            .get(&Target::namespaced(Gvr::core(resource), &self.key.namespace, n))
            .ok()
    }

    /// Merge-patches a core management object.
    pub fn patch_core(&self, resource: &str, n: &str, patch: Value) -> Result<(), Error> {
        let id = format!("{resource}/{n}");
        self.check_fault("patch", &id)?;
        self.wrote();
        self.mgmt
            .patch(PatchRequest {
                target: Target::namespaced(Gvr::core(resource), &self.key.namespace, n),
                patch: Patch::Merge(patch),
                options: opts(),
            })
            .map(|_| ())
            .map_err(api("patch", id))
    }

    /// Deletes a core management object (absent is fine).
    pub fn delete_core(&self, resource: &str, n: &str) -> Result<(), Error> {
        self.wrote();
        let req = DeleteRequest {
            target: Target::namespaced(Gvr::core(resource), &self.key.namespace, n),
            ..DeleteRequest::default()
        };
        match self.mgmt.delete(&req) {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => Ok(()),
            Err(e) => Err(api("delete", format!("{resource}/{n}"))(e)),
        }
    }

    /// Records condition and phase transitions of a status write in the timeline.
    fn record_transitions(&self, def: &KindDef, obj: &Value, new: &Value) {
        let id = format!("{}/{}", def.kind, name(obj));
        let old = obj.get("status").cloned().unwrap_or(Value::Null);
        if let Some(conds) = new["conditions"].as_array() {
            for c in conds {
                let t = c["type"].as_str().unwrap_or_default();
                let before = condition(&old["conditions"], t).map(|o| o["status"].clone());
                if before.as_ref() != Some(&c["status"]) {
                    self.record(id.clone(), t, c["status"].as_str().unwrap_or_default());
                }
            }
        }
        if new["phase"] != old["phase"]
            && let Some(p) = new["phase"].as_str()
        {
            self.record(id, "phase", p);
        }
    }

    // ---- workload cluster ----

    /// The workload store of this cluster (created on first use).
    pub fn workload(&self) -> Result<Store, Error> {
        self.workloads.get_or_create(&self.key)
    }

    /// Creates a workload object unless it exists.
    pub fn w_create(
        &self,
        store: &Store,
        resource: Gvr,
        namespace: Option<&str>,
        obj: Value,
    ) -> Result<(), Error> {
        let id = format!("{}/{}", resource.resource, name(&obj));
        self.wrote();
        match store.create(CreateRequest {
            gvr: resource,
            namespace: namespace.map(String::from),
            object: obj,
            options: opts(),
        }) {
            Ok(_) => Ok(()),
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => Err(api("create", id)(e)),
        }
    }

    /// Merge-patches a workload object (absent: `Ok(false)`).
    pub fn w_patch(&self, store: &Store, target: Target, patch: Value) -> Result<bool, Error> {
        let id = format!("{}/{}", target.gvr.resource, target.name);
        self.wrote();
        match store.patch(PatchRequest {
            target,
            patch: Patch::Merge(patch),
            options: opts(),
        }) {
            Ok(_) => Ok(true),
            Err(e) if e.code == 404 => Ok(false),
            Err(e) => Err(api("patch", id)(e)),
        }
    }

    /// Deletes a workload object (absent is fine).
    pub fn w_delete(&self, store: &Store, target: Target) -> Result<(), Error> {
        let id = format!("{}/{}", target.gvr.resource, target.name);
        self.wrote();
        match store.delete(&DeleteRequest {
            target,
            ..DeleteRequest::default()
        }) {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => Ok(()),
            Err(e) => Err(api("delete", id)(e)),
        }
    }
}

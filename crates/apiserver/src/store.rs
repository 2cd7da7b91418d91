//! The object store: every verb of the API server as a synchronous function over one lock.
//!
//! All writes (HTTP or in-process) go through [`State::commit_put`] / [`State::commit_remove`],
//! which assign the next global resourceVersion, append to the log (when persistent), update
//! the indexes and push the watch event. The lock is a `std::sync::RwLock` never held across an
//! `.await`; reads (get, list, watch set-up) take it shared.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::error::{ApiError, Error, Subject};
use crate::patch::{json_patch, merge_patch, strategic_merge_patch};
use crate::persist::{Durability, Log, Record};
use crate::resource::{
    Gr, Gvr, Registry, ResourceType, api_version, crd_gr, crd_status, namespace_gr, type_from_crd,
};
use crate::selector::{FieldSelector, LabelSelector};
use crate::ssa::{self, Writer};
use crate::util::{name_suffix, now_rfc3339, uuid_v4};
use crate::watch::{Event, EventType, Filter, WatchStream};

/// Tuning of a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Watch events kept per resource type for resuming watches; a watch from an older
    /// resourceVersion gets `410 Expired`.
    pub history_per_kind: usize,
    /// How hard a persistent store syncs each write.
    pub durability: Durability,
    /// Compact the log into a snapshot after this many writes (persistent stores).
    pub compact_every: usize,
    /// The most items one list page returns to a client that asked for pages (`limit`),
    /// whatever limit it asked for (a real server may return fewer; tests use this to make
    /// clients page).
    pub max_page: Option<usize>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            history_per_kind: 4096,
            durability: Durability::Fsync,
            compact_every: 20_000,
            max_page: None,
        }
    }
}

/// A shareable handle on the store (cheap to clone).
#[derive(Clone)]
pub struct Store {
    inner: Arc<RwLock<State>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("resource_version", &self.resource_version())
            .finish()
    }
}

/// Where a write or read is aimed: resource, namespace, name, subresource.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Resource addressed.
    pub gvr: Gvr,
    /// Namespace (`None` for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
    /// `Some("status")` for the status subresource.
    pub subresource: Option<String>,
}

impl Target {
    /// A namespaced object.
    pub fn namespaced(gvr: Gvr, namespace: &str, name: &str) -> Self {
        Self {
            gvr,
            namespace: Some(namespace.into()),
            name: name.into(),
            subresource: None,
        }
    }

    /// A cluster-scoped object.
    pub fn cluster(gvr: Gvr, name: &str) -> Self {
        Self {
            gvr,
            namespace: None,
            name: name.into(),
            subresource: None,
        }
    }

    /// The same object's `/status` subresource.
    pub fn status(mut self) -> Self {
        self.subresource = Some("status".into());
        self
    }
}

/// Options shared by writes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and return the would-be object, persist nothing.
    pub dry_run: bool,
    /// `fieldManager` (required for apply; defaults to `unknown` otherwise).
    pub field_manager: Option<String>,
    /// `force=true` (apply only).
    pub force: bool,
}

/// `POST {collection}`.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// Resource addressed.
    pub gvr: Gvr,
    /// Namespace from the URL (namespaced kinds).
    pub namespace: Option<String>,
    /// The object.
    pub object: Value,
    /// Options.
    pub options: WriteOptions,
}

/// `PUT {collection}/{name}[/status]`.
#[derive(Debug, Clone, Default)]
pub struct UpdateRequest {
    /// The object addressed.
    pub target: Target,
    /// The full new object.
    pub object: Value,
    /// Options.
    pub options: WriteOptions,
}

/// A patch body, by content type.
#[derive(Debug, Clone)]
pub enum Patch {
    /// `application/merge-patch+json`.
    Merge(Value),
    /// `application/json-patch+json`.
    Json(Value),
    /// `application/strategic-merge-patch+json` (built-in kinds only).
    Strategic(Value),
    /// `application/apply-patch+yaml` (server-side apply).
    Apply(Value),
}

/// `PATCH {collection}/{name}[/status]`.
#[derive(Debug, Clone)]
pub struct PatchRequest {
    /// The object addressed.
    pub target: Target,
    /// The patch.
    pub patch: Patch,
    /// Options (`field_manager` required for apply).
    pub options: WriteOptions,
}

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents lose their owner reference.
    Orphan,
    /// Owner goes now, dependents after (synchronously here).
    Background,
    /// Owner waits (finalizer `foregroundDeletion`) until dependents are gone.
    Foreground,
}

/// `DeleteOptions`.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `dryRun: ["All"]`.
    pub dry_run: bool,
    /// Cascade policy (default Background).
    pub propagation: Option<Propagation>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub precondition_resource_version: Option<String>,
}

/// `DELETE {collection}/{name}`.
#[derive(Debug, Clone, Default)]
pub struct DeleteRequest {
    /// The object addressed.
    pub target: Target,
    /// Options.
    pub options: DeleteOptions,
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq)]
pub enum Deleted {
    /// Finalizers remain: the object now carries a deletionTimestamp.
    Pending(Value),
    /// The object is gone; its last state.
    Gone(Value),
}

/// `GET {collection}` (also the selection of a watch or deletecollection).
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// Resource addressed.
    pub gvr: Gvr,
    /// Namespace, `None` for all namespaces or cluster-scoped kinds.
    pub namespace: Option<String>,
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `limit`.
    pub limit: Option<usize>,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch` (`Exact` / `NotOlderThan`).
    pub resource_version_match: Option<String>,
}

/// `GET {collection}?watch=true`.
#[derive(Debug, Clone, Default)]
pub struct WatchRequest {
    /// Resource addressed.
    pub gvr: Gvr,
    /// Namespace, `None` for all.
    pub namespace: Option<String>,
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `resourceVersion` (unset or `0`: synthetic ADDED events for current objects first).
    pub resource_version: Option<String>,
    /// `allowWatchBookmarks`.
    pub allow_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
}

/// A list result. Items are shared with the store (no deep copy); they carry the storage
/// apiVersion, [`ObjectList::item`] renders one in the requested version.
#[derive(Debug, Clone)]
pub struct ObjectList {
    /// apiVersion requested.
    pub api_version: String,
    /// Kind of the items.
    pub kind: String,
    /// `<Kind>List`.
    pub list_kind: String,
    /// Snapshot resourceVersion.
    pub resource_version: u64,
    /// `metadata.continue`, when more items remain.
    pub continue_token: Option<String>,
    /// The items, ordered by namespace/name.
    pub items: Vec<Arc<Value>>,
}

impl ObjectList {
    /// Item `i` with the requested apiVersion.
    pub fn item(&self, i: usize) -> Value {
        with_api_version(&self.items[i], &self.api_version)
    }

    /// The whole list as a `<Kind>List` object.
    pub fn to_value(&self) -> Value {
        let items: Vec<Value> = (0..self.items.len()).map(|i| self.item(i)).collect();
        let mut md = json!({"resourceVersion": self.resource_version.to_string()});
        if let Some(c) = &self.continue_token {
            md["continue"] = json!(c);
        }
        json!({"kind": self.list_kind, "apiVersion": self.api_version, "metadata": md, "items": items})
    }

    /// Serialises the list as JSON without copying items whose apiVersion already matches.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut md = json!({"resourceVersion": self.resource_version.to_string()});
        if let Some(c) = &self.continue_token {
            md["continue"] = json!(c);
        }
        let head = json!({"kind": self.list_kind, "apiVersion": self.api_version, "metadata": md});
        let head = serde_json::to_vec(&head).unwrap_or_default();
        out.extend_from_slice(&head[..head.len() - 1]);
        out.extend_from_slice(b",\"items\":[");
        for (i, it) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_item(out, it, &self.api_version);
        }
        out.extend_from_slice(b"]}");
    }
}

/// Serialises an object, rewriting its apiVersion only when it differs.
pub fn write_item(out: &mut Vec<u8>, obj: &Value, api_version: &str) {
    let same = obj.get("apiVersion").and_then(Value::as_str) == Some(api_version);
    let res = if same {
        serde_json::to_writer(&mut *out, obj)
    } else {
        serde_json::to_writer(&mut *out, &with_api_version(obj, api_version))
    };
    debug_assert!(res.is_ok());
}

/// A copy of `obj` with `apiVersion` set.
pub fn with_api_version(obj: &Value, api_version: &str) -> Value {
    let mut v = obj.clone();
    if v.get("apiVersion").and_then(Value::as_str) != Some(api_version)
        && let Some(m) = v.as_object_mut()
    {
        m.insert("apiVersion".into(), json!(api_version));
    }
    v
}

/// (group/plural, namespace or "", name).
type ObjKey = (Gr, String, String);

#[derive(Default)]
pub(crate) struct Table {
    pub(crate) objects: BTreeMap<(String, String), Arc<Value>>,
    pub(crate) history: VecDeque<Arc<Event>>,
    /// Events at or below this RV are no longer in `history`.
    pub(crate) compacted_rv: u64,
    pub(crate) tx: Option<broadcast::Sender<Arc<Event>>>,
}

pub(crate) struct State {
    pub(crate) rv: u64,
    pub(crate) registry: Registry,
    tables: HashMap<Gr, Table>,
    uids: HashMap<String, ObjKey>,
    dependents: HashMap<String, BTreeSet<ObjKey>>,
    history_limit: usize,
    history_floor: u64,
    compact_every: usize,
    max_page: Option<usize>,
    log: Option<Log>,
}

fn meta<'a>(obj: &'a Value, field: &str) -> Option<&'a Value> {
    obj.get("metadata").and_then(|m| m.get(field))
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    meta(obj, field).and_then(Value::as_str).unwrap_or_default()
}

fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let m = obj.as_object_mut().expect("made an object above");
    let md = m.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !md.is_object() {
        *md = Value::Object(Map::new());
    }
    md.as_object_mut().expect("made an object above")
}

fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj, "finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|f| f.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn is_deleting(obj: &Value) -> bool {
    meta(obj, "deletionTimestamp").is_some_and(|v| !v.is_null())
}

fn owner_uids(obj: &Value) -> Vec<String> {
    meta(obj, "ownerReferences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn subject<'a>(t: &'a ResourceType, name: &'a str) -> Subject<'a> {
    Subject {
        group: &t.group,
        resource: &t.plural,
        name,
    }
}

/// The part of an object whose change bumps `generation`.
fn spec_part(obj: &Value, t: &ResourceType) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if t.builtin || t.status_subresource {
            m.remove("status");
        }
    }
    v
}

fn internal(e: Error) -> ApiError {
    ApiError::internal("InternalError", format!("failed to persist the write: {e}"))
}

impl Store {
    /// A fresh in-memory store with the bootstrap namespaces.
    pub fn in_memory() -> Self {
        Self::with_options(StoreOptions::default())
    }

    /// A fresh in-memory store with options.
    pub fn with_options(opts: StoreOptions) -> Self {
        let mut st = State::new(&opts, None);
        st.bootstrap();
        Self {
            inner: Arc::new(RwLock::new(st)),
        }
    }

    /// Opens (or creates) a persistent store in `dir` with default options.
    ///
    /// # Errors
    /// See [`Store::open_with`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(dir, StoreOptions::default())
    }

    /// Opens (or creates) a persistent store: loads the snapshot and log, ignores a torn last
    /// log line, compacts, and appends every later write.
    ///
    /// # Errors
    /// I/O failures and corrupt committed records.
    pub fn open_with(dir: impl AsRef<Path>, opts: StoreOptions) -> Result<Self, Error> {
        let (log, loaded) = Log::open(dir.as_ref(), opts.durability)?;
        let mut st = State::new(&opts, None);
        for r in loaded.records {
            st.load_record(r);
        }
        st.rv = loaded.rv;
        st.history_floor = loaded.rv;
        st.rebuild_indexes();
        st.log = Some(log);
        st.compact().map_err(|e| match e {
            e @ Error::Io { .. } => e,
            other => other,
        })?;
        st.bootstrap();
        Ok(Self {
            inner: Arc::new(RwLock::new(st)),
        })
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The latest committed resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.read().rv
    }

    /// Changes how many events per kind are kept for resuming watches (smaller = earlier
    /// `410 Expired`; tests use this to force a relist).
    pub fn set_history_per_kind(&self, n: usize) {
        let mut st = self.write();
        st.history_limit = n.max(1);
        for t in st.tables.values_mut() {
            while t.history.len() > n.max(1) {
                if let Some(e) = t.history.pop_front() {
                    t.compacted_rv = e.rv;
                }
            }
        }
    }

    /// Fault injection: behaves like an API server restart for watchers. Every open watch
    /// stream ends and the event history is dropped, so a watcher resuming from a
    /// resourceVersion older than the current one gets `410 Expired` and relists.
    pub fn restart_watches(&self) {
        let mut st = self.write();
        let rv = st.rv;
        st.history_floor = rv;
        for t in st.tables.values_mut() {
            t.history.clear();
            t.compacted_rv = rv;
            t.tx = None;
        }
    }

    /// The resource a `apiVersion`/`kind` pair is served at.
    pub fn resolve_kind(&self, api_version: &str, kind: &str) -> Option<Gvr> {
        let st = self.read();
        let (t, v) = st.registry.by_kind(api_version, kind)?;
        Some(Gvr::new(&t.group, &v, &t.plural))
    }

    /// Whether a resource type is namespaced (`None` when unknown).
    pub fn is_namespaced(&self, gvr: &Gvr) -> Option<bool> {
        self.read().registry.resolve(gvr).ok().map(|t| t.namespaced)
    }

    /// Creates or updates every CustomResourceDefinition in a (multi-document) YAML text.
    ///
    /// # Errors
    /// YAML syntax errors, and CRDs the server rejects (422).
    pub fn register_crd_yaml(&self, yaml: &str) -> Result<Vec<Value>, Error> {
        let docs: Vec<Value> =
            serde_saphyr::from_multiple_with_options(yaml, serde_saphyr::options! { strict_booleans: true })
                .map_err(|e| Error::Yaml(e.to_string()))?;
        let mut out = Vec::new();
        for doc in docs
            .into_iter()
            .filter(|d| d.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition"))
        {
            out.push(self.register_crd(doc)?);
        }
        Ok(out)
    }

    /// Creates a CustomResourceDefinition, or replaces the spec of an existing one.
    ///
    /// # Errors
    /// 422 when the CRD is invalid.
    pub fn register_crd(&self, crd: Value) -> Result<Value, ApiError> {
        let gvr = Gvr::new("apiextensions.k8s.io", "v1", "customresourcedefinitions");
        let name = meta_str(&crd, "name").to_string();
        match self.get(&Target::cluster(gvr.clone(), &name)) {
            Ok(existing) => {
                let mut obj = crd;
                metadata_mut(&mut obj).insert(
                    "resourceVersion".into(),
                    existing["metadata"]["resourceVersion"].clone(),
                );
                self.update(UpdateRequest {
                    target: Target::cluster(gvr, &name),
                    object: obj,
                    options: WriteOptions::default(),
                })
            }
            Err(e) if e.code == 404 => {
                let mut obj = crd;
                metadata_mut(&mut obj).remove("resourceVersion");
                self.create(CreateRequest {
                    gvr,
                    namespace: None,
                    object: obj,
                    options: WriteOptions::default(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Creates an object.
    ///
    /// # Errors
    /// 404 unknown resource or namespace, 403 terminating namespace, 409 AlreadyExists, 400/422
    /// malformed objects, 500 when a resourceVersion is set.
    pub fn create(&self, req: CreateRequest) -> Result<Value, ApiError> {
        let mut st = self.write();
        let t = st.registry.resolve(&req.gvr)?;
        let manager = req
            .options
            .field_manager
            .clone()
            .unwrap_or_else(|| "unknown".into());
        st.create(
            &t,
            &req.gvr.version,
            req.namespace.as_deref(),
            req.object,
            &req.options,
            Managed::Update(&manager),
        )
        .map(|o| with_api_version(&o, &req.gvr.api_version()))
    }

    /// Reads an object.
    ///
    /// # Errors
    /// 404 NotFound.
    pub fn get(&self, target: &Target) -> Result<Value, ApiError> {
        let st = self.read();
        let t = st.registry.resolve(&target.gvr)?;
        if target
            .subresource
            .as_deref()
            .is_some_and(|s| s != "status" || !t.status_subresource)
        {
            return Err(ApiError::not_found_msg(
                "the server could not find the requested resource",
            ));
        }
        let ns = st.check_scope(&t, target.namespace.as_deref())?;
        st.lookup(&t, &ns, &target.name)
            .map(|o| with_api_version(&o, &target.gvr.api_version()))
            .ok_or_else(|| ApiError::not_found(subject(&t, &target.name)))
    }

    /// Lists objects.
    ///
    /// # Errors
    /// 400 bad selectors, 410 expired continue token or unavailable exact resourceVersion.
    pub fn list(&self, req: &ListRequest) -> Result<ObjectList, ApiError> {
        self.read().list(req)
    }

    /// Replaces an object (or its status).
    ///
    /// # Errors
    /// 404, 409 Conflict on a stale resourceVersion or uid, 422 invalid, 400 name mismatch.
    pub fn update(&self, req: UpdateRequest) -> Result<Value, ApiError> {
        let mut st = self.write();
        let t = st.registry.resolve(&req.target.gvr)?;
        st.update(&t, &req)
            .map(|o| with_api_version(&o, &req.target.gvr.api_version()))
    }

    /// Patches an object (apply creates it when absent).
    ///
    /// # Errors
    /// 404, 409 (precondition or apply conflicts), 415 strategic merge on a custom resource,
    /// 422 failed JSON-patch test or missing field manager, 400 undecodable patch.
    pub fn patch(&self, req: PatchRequest) -> Result<Value, ApiError> {
        self.patch_created(req).map(|(v, _)| v)
    }

    /// [`Store::patch`], also saying whether the object was created (apply on a missing object).
    ///
    /// # Errors
    /// As [`Store::patch`].
    pub fn patch_created(&self, req: PatchRequest) -> Result<(Value, bool), ApiError> {
        let mut st = self.write();
        let t = st.registry.resolve(&req.target.gvr)?;
        st.patch(&t, &req)
            .map(|(o, c)| (with_api_version(&o, &req.target.gvr.api_version()), c))
    }

    /// Deletes an object (honouring finalizers and owner references).
    ///
    /// # Errors
    /// 404, 409 on failed preconditions.
    pub fn delete(&self, req: &DeleteRequest) -> Result<Deleted, ApiError> {
        let mut st = self.write();
        let t = st.registry.resolve(&req.target.gvr)?;
        let ns = st.check_scope(&t, req.target.namespace.as_deref())?;
        let av = req.target.gvr.api_version();
        st.delete(&t, &ns, &req.target.name, &req.options)
            .map(|d| match d {
                Deleted::Pending(v) => Deleted::Pending(with_api_version(&v, &av)),
                Deleted::Gone(v) => Deleted::Gone(with_api_version(&v, &av)),
            })
    }

    /// Deletes every object a list request selects; returns what was deleted or marked.
    ///
    /// # Errors
    /// As [`Store::list`].
    pub fn delete_collection(
        &self,
        req: &ListRequest,
        options: &DeleteOptions,
    ) -> Result<Vec<Value>, ApiError> {
        let items = self.list(&ListRequest {
            limit: None,
            continue_token: None,
            ..req.clone()
        })?;
        let mut st = self.write();
        let t = st.registry.resolve(&req.gvr)?;
        let mut out = Vec::new();
        for it in &items.items {
            match st.delete(&t, meta_str(it, "namespace"), meta_str(it, "name"), options) {
                Ok(Deleted::Pending(v) | Deleted::Gone(v)) => {
                    out.push(with_api_version(&v, &req.gvr.api_version()))
                }
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Starts a watch.
    ///
    /// # Errors
    /// 404 unknown resource, 400 bad selectors. A too-old resourceVersion is not an error
    /// here: the stream yields one `ERROR` event with a 410 Status, as the real server does.
    pub fn watch(&self, req: &WatchRequest) -> Result<WatchStream, ApiError> {
        let mut st = self.write();
        let t = st.registry.resolve(&req.gvr)?;
        let ns = match &req.namespace {
            Some(n) if t.namespaced => Some(n.clone()),
            _ => None,
        };
        let labels = LabelSelector::parse(req.label_selector.as_deref().unwrap_or(""))?;
        let fields = FieldSelector::parse(req.field_selector.as_deref().unwrap_or(""), &|f| {
            t.allows_field(f)
        })?;
        let filter = Filter {
            namespace: ns,
            labels,
            fields,
        };
        let start =
            match req.resource_version.as_deref() {
                None | Some("" | "0") => None,
                Some(s) => Some(s.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resourceVersion \"{s}\" for watch"))
                })?),
            };
        let history_limit = st.history_limit;
        let floor = st.history_floor;
        let current = st.rv;
        let table = st.tables.entry(t.gr()).or_insert_with(|| Table {
            compacted_rv: floor,
            ..Table::default()
        });
        let tx = table
            .tx
            .get_or_insert_with(|| broadcast::channel(history_limit.clamp(16, 8192)).0);
        let rx = tx.subscribe();
        let mut pending = VecDeque::new();
        let mut last_rv = current;
        match start {
            Some(n) if n < table.compacted_rv => {
                pending.push_back(crate::watch::WatchEvent::expired(n, table.compacted_rv));
                return Ok(WatchStream::ended(pending));
            }
            Some(n) => {
                last_rv = n;
                for e in table.history.iter().filter(|e| e.rv > n) {
                    if let Some(ev) = filter.translate(e) {
                        pending.push_back(ev);
                    }
                    last_rv = e.rv;
                }
                last_rv = last_rv.max(n);
            }
            None => {
                for obj in table.objects.values() {
                    if filter.matches(obj) {
                        pending.push_back(crate::watch::WatchEvent::new(EventType::Added, obj.clone()));
                    }
                }
                if req.send_initial_events && req.allow_bookmarks {
                    pending.push_back(crate::watch::WatchEvent::bookmark(
                        &t,
                        &req.gvr.version,
                        current,
                        true,
                    ));
                }
            }
        }
        Ok(WatchStream::new(crate::watch::StreamParts {
            pending,
            rx,
            filter,
            api_version: req.gvr.api_version(),
            kind: t.kind.clone(),
            version: req.gvr.version.clone(),
            resource: t.clone(),
            last_rv,
            allow_bookmarks: req.allow_bookmarks,
            timeout: req.timeout,
        }))
    }

    /// A snapshot of the resource types (for discovery).
    pub(crate) fn registry(&self) -> Registry {
        self.read().registry.clone()
    }
}

/// How managedFields are maintained by a create.
enum Managed<'a> {
    /// Record an Update entry for this manager.
    Update(&'a str),
    /// Already computed (server-side apply).
    Done,
}

impl State {
    fn new(opts: &StoreOptions, log: Option<Log>) -> Self {
        Self {
            rv: 0,
            registry: Registry::with_builtins(),
            tables: HashMap::new(),
            uids: HashMap::new(),
            dependents: HashMap::new(),
            history_limit: opts.history_per_kind.max(1),
            history_floor: 0,
            compact_every: opts.compact_every.max(1),
            max_page: opts.max_page.map(|m| m.max(1)),
            log,
        }
    }

    fn bootstrap(&mut self) {
        let t = self
            .registry
            .get(&namespace_gr())
            .cloned()
            .expect("namespaces are built in");
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            if self.lookup(&t, "", ns).is_none() {
                let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
                let _ = self.create(
                    &t,
                    "v1",
                    None,
                    obj,
                    &WriteOptions::default(),
                    Managed::Update("kube-apiserver"),
                );
            }
        }
    }

    fn load_record(&mut self, r: Record) {
        let gr = (r.g, r.r);
        let table = self.tables.entry(gr.clone()).or_default();
        match r.o {
            Some(o) => {
                table.objects.insert((r.ns, r.name), Arc::new(o));
            }
            None => {
                table.objects.remove(&(r.ns, r.name));
            }
        }
    }

    fn rebuild_indexes(&mut self) {
        let floor = self.history_floor;
        let crds: Vec<Arc<Value>> = self
            .tables
            .get(&crd_gr())
            .map(|t| t.objects.values().cloned().collect())
            .unwrap_or_default();
        for crd in crds {
            if let Ok(t) = type_from_crd(&crd) {
                self.registry.insert(t);
            }
        }
        for (gr, table) in &mut self.tables {
            table.compacted_rv = floor;
            for ((ns, name), obj) in &table.objects {
                let key = (gr.clone(), ns.clone(), name.clone());
                let uid = meta_str(obj, "uid");
                if !uid.is_empty() {
                    self.uids.insert(uid.to_string(), key.clone());
                }
                for o in owner_uids(obj) {
                    self.dependents.entry(o).or_default().insert(key.clone());
                }
            }
        }
    }

    fn compact(&mut self) -> Result<(), Error> {
        let Some(log) = self.log.as_mut() else {
            return Ok(());
        };
        let tables = &self.tables;
        let records = tables.iter().flat_map(|(gr, t)| {
            t.objects.iter().map(move |((ns, name), o)| Record {
                rv: 0,
                g: gr.0.clone(),
                r: gr.1.clone(),
                ns: ns.clone(),
                name: name.clone(),
                o: Some((**o).clone()),
            })
        });
        log.compact(self.rv, records)
    }

    fn lookup(&self, t: &ResourceType, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.tables
            .get(&t.gr())?
            .objects
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// The namespace key for `t`: `""` for cluster-scoped; required for namespaced items.
    fn check_scope(&self, t: &ResourceType, ns: Option<&str>) -> Result<String, ApiError> {
        match (t.namespaced, ns) {
            (true, Some(n)) if !n.is_empty() => Ok(n.to_string()),
            (true, _) => Err(ApiError::not_found_msg(format!(
                "the server could not find the requested resource: {} is namespaced",
                t.plural
            ))),
            (false, Some(n)) if !n.is_empty() => Err(ApiError::not_found_msg(format!(
                "the server could not find the requested resource: {} is cluster-scoped",
                t.plural
            ))),
            (false, _) => Ok(String::new()),
        }
    }

    fn check_namespace_open(&self, ns: &str) -> Result<(), ApiError> {
        let nst = self
            .registry
            .get(&namespace_gr())
            .expect("namespaces are built in");
        match self.lookup(nst, "", ns) {
            None => Err(ApiError::not_found(Subject {
                group: "",
                resource: "namespaces",
                name: ns,
            })),
            Some(o) if is_deleting(&o) => Err(ApiError::forbidden(format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ))),
            Some(_) => Ok(()),
        }
    }

    // ---- commit -------------------------------------------------------------------------

    fn emit(&mut self, gr: &Gr, ev: Event) {
        let limit = self.history_limit;
        let floor = self.history_floor;
        let table = self.tables.entry(gr.clone()).or_insert_with(|| Table {
            compacted_rv: floor,
            ..Table::default()
        });
        let ev = Arc::new(ev);
        table.history.push_back(ev.clone());
        while table.history.len() > limit {
            if let Some(e) = table.history.pop_front() {
                table.compacted_rv = e.rv;
            }
        }
        if let Some(tx) = &table.tx {
            if tx.receiver_count() == 0 {
                table.tx = None;
            } else {
                let _ = tx.send(ev);
            }
        }
    }

    fn persist(&mut self, rec: Record) -> Result<(), ApiError> {
        if let Some(log) = self.log.as_mut() {
            log.append(&rec).map_err(internal)?;
        }
        Ok(())
    }

    /// Compacts once enough writes accumulated; runs after the write is applied in memory,
    /// so the snapshot contains it. A failure leaves the (valid) log in place.
    fn maybe_compact(&mut self) {
        if self.log.as_ref().is_some_and(|l| l.writes >= self.compact_every)
            && let Err(e) = self.compact()
        {
            tracing::warn!(error = %e, "log compaction failed; keeping the log");
        }
    }

    /// Stores `obj` with the next resourceVersion and emits ADDED/MODIFIED.
    fn commit_put(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        mut obj: Value,
    ) -> Result<Arc<Value>, ApiError> {
        let rv = self.rv + 1;
        metadata_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        let gr = t.gr();
        self.persist(Record {
            rv,
            g: gr.0.clone(),
            r: gr.1.clone(),
            ns: ns.into(),
            name: name.into(),
            o: Some(obj.clone()),
        })?;
        self.rv = rv;
        let obj = Arc::new(obj);
        let key = (gr.clone(), ns.to_string(), name.to_string());
        let table = self.tables.entry(gr.clone()).or_default();
        let old = table
            .objects
            .insert((ns.to_string(), name.to_string()), obj.clone());
        let old_owners = old.as_ref().map(|o| owner_uids(o)).unwrap_or_default();
        let new_owners = owner_uids(&obj);
        for o in old_owners.iter().filter(|o| !new_owners.contains(o)) {
            if let Some(s) = self.dependents.get_mut(o) {
                s.remove(&key);
                if s.is_empty() {
                    self.dependents.remove(o);
                }
            }
        }
        for o in new_owners {
            self.dependents.entry(o).or_default().insert(key.clone());
        }
        let uid = meta_str(&obj, "uid");
        if !uid.is_empty() {
            self.uids.insert(uid.to_string(), key);
        }
        let kind = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.emit(
            &gr,
            Event {
                rv,
                kind,
                object: obj.clone(),
                old,
            },
        );
        self.maybe_compact();
        Ok(obj)
    }

    /// Removes an object with the next resourceVersion and emits DELETED; then runs garbage
    /// collection, namespace and CRD finalisation that depended on it.
    fn commit_remove(&mut self, t: &ResourceType, ns: &str, name: &str) -> Result<Arc<Value>, ApiError> {
        let gr = t.gr();
        let rv = self.rv + 1;
        self.persist(Record {
            rv,
            g: gr.0.clone(),
            r: gr.1.clone(),
            ns: ns.into(),
            name: name.into(),
            o: None,
        })?;
        self.rv = rv;
        let key = (gr.clone(), ns.to_string(), name.to_string());
        let Some(old) = self
            .tables
            .get_mut(&gr)
            .and_then(|tb| tb.objects.remove(&(ns.to_string(), name.to_string())))
        else {
            return Err(ApiError::not_found(subject(t, name)));
        };
        let mut last = (*old).clone();
        metadata_mut(&mut last).insert("resourceVersion".into(), json!(rv.to_string()));
        let last = Arc::new(last);
        let uid = meta_str(&old, "uid").to_string();
        self.uids.remove(&uid);
        let owners = owner_uids(&old);
        for o in &owners {
            if let Some(s) = self.dependents.get_mut(o) {
                s.remove(&key);
                if s.is_empty() {
                    self.dependents.remove(o);
                }
            }
        }
        self.emit(
            &gr,
            Event {
                rv,
                kind: EventType::Deleted,
                object: last.clone(),
                old: Some(old),
            },
        );
        self.maybe_compact();
        self.after_remove(t, ns, &uid, &owners, &last);
        Ok(last)
    }

    fn after_remove(&mut self, t: &ResourceType, ns: &str, uid: &str, owners: &[String], obj: &Value) {
        // Background garbage collection: dependents none of whose owners exist any more.
        if let Some(deps) = self.dependents.remove(uid) {
            for (gr, dns, dname) in deps {
                let Some(dt) = self.registry.get(&gr).cloned() else {
                    continue;
                };
                let Some(dep) = self.lookup(&dt, &dns, &dname) else {
                    continue;
                };
                if owner_uids(&dep).iter().all(|o| !self.uids.contains_key(o)) {
                    let _ = self.delete(&dt, &dns, &dname, &DeleteOptions::default());
                }
            }
        }
        // Foreground deletion: owners waiting for their last dependent.
        for o in owners {
            if self.dependents.get(o).is_some_and(|s| !s.is_empty()) {
                continue;
            }
            let Some((gr, ons, oname)) = self.uids.get(o).cloned() else {
                continue;
            };
            let Some(ot) = self.registry.get(&gr).cloned() else {
                continue;
            };
            let Some(owner) = self.lookup(&ot, &ons, &oname) else {
                continue;
            };
            if is_deleting(&owner) && finalizers(&owner).iter().any(|f| f == "foregroundDeletion") {
                let mut n = (*owner).clone();
                let rest: Vec<String> = finalizers(&owner)
                    .into_iter()
                    .filter(|f| f != "foregroundDeletion")
                    .collect();
                metadata_mut(&mut n).insert("finalizers".into(), json!(rest));
                let _ = self.finish_update(&ot, &ons, &oname, owner, n, None, false);
            }
        }
        if t.namespaced {
            self.try_finish(&namespace_gr(), "", ns);
        }
        if !t.builtin {
            self.try_finish(&crd_gr(), "", &format!("{}.{}", t.plural, t.group));
        }
        if t.gr() == crd_gr()
            && let Ok(ct) = type_from_crd(obj)
        {
            let gr = ct.gr();
            self.registry.remove(&gr);
            self.tables.remove(&gr);
        }
    }

    /// Whether a deleting namespace or CRD still has content.
    fn has_content(&self, t: &ResourceType, obj: &Value) -> bool {
        let name = meta_str(obj, "name");
        if t.gr() == namespace_gr() {
            return self.tables.iter().any(|(gr, tb)| {
                self.registry.get(gr).is_some_and(|rt| rt.namespaced)
                    && tb
                        .objects
                        .range((name.to_string(), String::new())..)
                        .next()
                        .is_some_and(|((n, _), _)| n == name)
            });
        }
        if t.gr() == crd_gr()
            && let Ok(ct) = type_from_crd(obj)
        {
            return self.tables.get(&ct.gr()).is_some_and(|tb| !tb.objects.is_empty());
        }
        false
    }

    /// Removes a deleting object whose finalizers and content are gone.
    fn try_finish(&mut self, gr: &Gr, ns: &str, name: &str) {
        let Some(t) = self.registry.get(gr).cloned() else {
            return;
        };
        let Some(obj) = self.lookup(&t, ns, name) else {
            return;
        };
        if is_deleting(&obj) && finalizers(&obj).is_empty() && !self.has_content(&t, &obj) {
            let _ = self.commit_remove(&t, ns, name);
        }
    }

    // ---- verbs --------------------------------------------------------------------------

    fn create(
        &mut self,
        t: &Arc<ResourceType>,
        version: &str,
        url_ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
        managed: Managed<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was not a JSON object",
            ));
        }
        if let Some(k) = obj.get("kind").and_then(Value::as_str)
            && k != t.kind
        {
            return Err(ApiError::bad_request(format!(
                "the kind \"{k}\" does not match the resource {}",
                t.plural
            )));
        }
        let body_ns = meta_str(&obj, "namespace").to_string();
        let ns = if t.namespaced {
            let ns = match url_ns {
                Some(n) if !n.is_empty() => n.to_string(),
                _ if !body_ns.is_empty() => body_ns.clone(),
                _ => return Err(ApiError::bad_request("the namespace of the object is required")),
            };
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            ns
        } else {
            String::new()
        };
        if !meta_str(&obj, "resourceVersion").is_empty() {
            return Err(ApiError::internal(
                "",
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let mut name = meta_str(&obj, "name").to_string();
        let generate = meta_str(&obj, "generateName").to_string();
        if name.is_empty() && generate.is_empty() {
            return Err(ApiError::invalid(
                subject(t, ""),
                &t.kind,
                "metadata.name",
                "Required value: name or generateName is required",
            ));
        }
        if t.namespaced {
            self.check_namespace_open(&ns)?;
        }
        if name.is_empty() {
            name = loop {
                let candidate = format!("{generate}{}", name_suffix());
                if self.lookup(t, &ns, &candidate).is_none() {
                    break candidate;
                }
            };
        } else if let Some(existing) = self.lookup(t, &ns, &name) {
            return Err(ApiError::already_exists(
                subject(t, &name),
                is_deleting(&existing),
            ));
        }
        let now = now_rfc3339();
        {
            let m = obj.as_object_mut().expect("checked above");
            m.insert(
                "apiVersion".into(),
                json!(api_version(&t.group, &t.storage_version)),
            );
            m.insert("kind".into(), json!(t.kind));
            if t.status_subresource && !t.builtin {
                m.remove("status");
            }
        }
        let md = metadata_mut(&mut obj);
        md.insert("name".into(), json!(name));
        if t.namespaced {
            md.insert("namespace".into(), json!(ns));
        } else {
            md.remove("namespace");
        }
        md.insert("uid".into(), json!(uuid_v4()));
        md.insert("creationTimestamp".into(), json!(now));
        md.remove("deletionTimestamp");
        md.remove("deletionGracePeriodSeconds");
        md.remove("selfLink");
        if t.tracks_generation {
            md.insert("generation".into(), json!(1));
        } else {
            md.remove("generation");
        }
        if t.gr() == namespace_gr() {
            let labels = md.entry("labels").or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.insert("kubernetes.io/metadata.name".into(), json!(name));
            }
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        let crd_type = if t.gr() == crd_gr() {
            let ct = type_from_crd(&obj)?;
            obj["status"] = crd_status(&ct, &now);
            Some(ct)
        } else {
            None
        };
        if let Managed::Update(manager) = managed {
            metadata_mut(&mut obj).remove("managedFields");
            let av = api_version(&t.group, version);
            ssa::record_update(
                &Value::Null,
                &mut obj,
                Writer {
                    manager,
                    api_version: &av,
                    subresource: "",
                    now: &now,
                },
                &t.list_rules,
            );
        }
        if opts.dry_run {
            return Ok(Arc::new(obj));
        }
        let stored = self.commit_put(t, &ns, &name, obj)?;
        if let Some(ct) = crd_type {
            self.registry.insert(ct);
        }
        Ok(stored)
    }

    fn list(&self, req: &ListRequest) -> Result<ObjectList, ApiError> {
        let t = self.registry.resolve(&req.gvr)?;
        let labels = LabelSelector::parse(req.label_selector.as_deref().unwrap_or(""))?;
        let fields = FieldSelector::parse(req.field_selector.as_deref().unwrap_or(""), &|f| {
            t.allows_field(f)
        })?;
        let ns = match &req.namespace {
            Some(n) if t.namespaced && !n.is_empty() => Some(n.clone()),
            _ => None,
        };
        let (snapshot_rv, start) = match req.continue_token.as_deref().filter(|c| !c.is_empty()) {
            Some(tok) => {
                if req
                    .resource_version
                    .as_deref()
                    .is_some_and(|r| !r.is_empty() && r != "0")
                {
                    return Err(ApiError::bad_request(
                        "specifying resource version is not allowed when using continue",
                    ));
                }
                let (rv, ns, name) = decode_continue(tok)?;
                (rv, Some((ns, name)))
            }
            None => {
                if let Some(rv) = req
                    .resource_version
                    .as_deref()
                    .filter(|r| !r.is_empty() && *r != "0")
                {
                    let n: u64 = rv
                        .parse()
                        .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion \"{rv}\"")))?;
                    if req.resource_version_match.as_deref() == Some("Exact") && n != self.rv {
                        return Err(ApiError::expired(format!(
                            "too old resource version: {n} ({})",
                            self.rv
                        )));
                    }
                    if n > self.rv {
                        return Err(ApiError::timeout(format!(
                            "Too large resource version: {n}, current: {}",
                            self.rv
                        )));
                    }
                }
                (self.rv, None)
            }
        };
        // Only a client that asked for pages gets them (as from a real server).
        let limit = req
            .limit
            .filter(|l| *l > 0)
            .map(|l| l.min(self.max_page.unwrap_or(usize::MAX)))
            .unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut next = None;
        if let Some(table) = self.tables.get(&t.gr()) {
            let lower = match (&start, &ns) {
                (Some((sns, sname)), _) => std::ops::Bound::Excluded((sns.clone(), sname.clone())),
                (None, Some(n)) => std::ops::Bound::Included((n.clone(), String::new())),
                (None, None) => std::ops::Bound::Unbounded,
            };
            for ((ons, oname), obj) in table.objects.range((lower, std::ops::Bound::Unbounded)) {
                if let Some(n) = &ns
                    && ons != n
                {
                    break;
                }
                if !labels.matches(meta(obj, "labels")) || !fields.matches(obj) {
                    continue;
                }
                if items.len() == limit {
                    next = Some(encode_continue(snapshot_rv, ons, oname));
                    break;
                }
                items.push(obj.clone());
            }
        }
        // The token points at the last returned item.
        let continue_token = next.map(|_| {
            let last = items.last().expect("limit > 0 so an item was returned");
            encode_continue(snapshot_rv, meta_str(last, "namespace"), meta_str(last, "name"))
        });
        Ok(ObjectList {
            api_version: req.gvr.api_version(),
            kind: t.kind.clone(),
            list_kind: t.list_kind.clone(),
            resource_version: snapshot_rv,
            continue_token,
            items,
        })
    }

    fn update(&mut self, t: &Arc<ResourceType>, req: &UpdateRequest) -> Result<Arc<Value>, ApiError> {
        let target = &req.target;
        let ns = self.check_scope(t, target.namespace.as_deref())?;
        let status = self.check_subresource(t, target.subresource.as_deref())?;
        let body = &req.object;
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was not a JSON object",
            ));
        }
        let body_name = meta_str(body, "name");
        if body_name != target.name {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let body_ns = meta_str(body, "namespace");
        if t.namespaced && !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let Some(old) = self.lookup(t, &ns, &target.name) else {
            return Err(ApiError::not_found(subject(t, &target.name)));
        };
        let body_rv = meta_str(body, "resourceVersion");
        if body_rv.is_empty() {
            if !t.builtin || status {
                return Err(ApiError::invalid(
                    subject(t, &target.name),
                    &t.kind,
                    "metadata.resourceVersion",
                    "Invalid value: 0x0: must be specified for an update",
                ));
            }
        } else if body_rv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict(subject(t, &target.name)));
        }
        let body_uid = meta_str(body, "uid");
        if !body_uid.is_empty() && body_uid != meta_str(&old, "uid") {
            return Err(ApiError::conflict(subject(t, &target.name)));
        }
        let mut new = if status {
            let mut n = (*old).clone();
            match body.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    n.as_object_mut().map(|m| m.remove("status"));
                }
            }
            n
        } else {
            let mut n = body.clone();
            self.keep_status(t, &old, &mut n);
            n
        };
        carry_system_fields(&old, &mut new);
        let manager = req.options.field_manager.as_deref().unwrap_or("unknown");
        let av = target.gvr.api_version();
        let sub = if status { "status" } else { "" };
        let now = now_rfc3339();
        let w = Writer {
            manager,
            api_version: &av,
            subresource: sub,
            now: &now,
        };
        self.finish_update(t, &ns, &target.name, old, new, Some(w), req.options.dry_run)
    }

    fn check_subresource(&self, t: &ResourceType, sub: Option<&str>) -> Result<bool, ApiError> {
        match sub {
            None => Ok(false),
            Some("status") if t.status_subresource => Ok(true),
            Some(s) => Err(ApiError::not_found_msg(format!(
                "the server could not find the requested resource ({}/{s})",
                t.plural
            ))),
        }
    }

    /// Main-endpoint writes keep the stored status when the kind has a status subresource.
    fn keep_status(&self, t: &ResourceType, old: &Value, new: &mut Value) {
        if !t.status_subresource {
            return;
        }
        let Some(m) = new.as_object_mut() else { return };
        match old.get("status") {
            Some(s) => {
                m.insert("status".into(), s.clone());
            }
            None => {
                m.remove("status");
            }
        }
    }

    fn patch(&mut self, t: &Arc<ResourceType>, req: &PatchRequest) -> Result<(Arc<Value>, bool), ApiError> {
        let target = &req.target;
        let ns = self.check_scope(t, target.namespace.as_deref())?;
        let status = self.check_subresource(t, target.subresource.as_deref())?;
        let av = target.gvr.api_version();
        let now = now_rfc3339();
        let sub = if status { "status" } else { "" };
        let old = self.lookup(t, &ns, &target.name);
        if let Patch::Apply(config) = &req.patch {
            return self.apply(t, &ns, target, old, config, &req.options, status);
        }
        let Some(old) = old else {
            return Err(ApiError::not_found(subject(t, &target.name)));
        };
        let mut patched = with_api_version(&old, &av);
        match &req.patch {
            Patch::Merge(p) => {
                if !p.is_object() {
                    return Err(ApiError::bad_request("merge patch must be a JSON object"));
                }
                merge_patch(&mut patched, p);
            }
            Patch::Json(p) => json_patch(&mut patched, p)?,
            Patch::Strategic(p) => {
                if !t.builtin {
                    return Err(ApiError::unsupported_media_type(
                        "the body of the request was in an unknown format - accepted media types include: \
                         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                    ));
                }
                if !p.is_object() {
                    return Err(ApiError::bad_request(
                        "strategic merge patch must be a JSON object",
                    ));
                }
                strategic_merge_patch(&mut patched, p, &t.list_rules);
            }
            Patch::Apply(_) => unreachable!("handled above"),
        }
        let prv = meta_str(&patched, "resourceVersion");
        if !prv.is_empty() && prv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict(subject(t, &target.name)));
        }
        if meta_str(&patched, "name") != target.name {
            return Err(ApiError::bad_request(
                "metadata.name: the name of the object cannot be changed by a patch",
            ));
        }
        let mut new = if status {
            let mut n = (*old).clone();
            match patched.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    n.as_object_mut().map(|m| m.remove("status"));
                }
            }
            n
        } else {
            self.keep_status(t, &old, &mut patched);
            patched
        };
        carry_system_fields(&old, &mut new);
        let manager = req.options.field_manager.as_deref().unwrap_or("unknown");
        let w = Writer {
            manager,
            api_version: &av,
            subresource: sub,
            now: &now,
        };
        self.finish_update(t, &ns, &target.name, old, new, Some(w), req.options.dry_run)
            .map(|o| (o, false))
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        t: &Arc<ResourceType>,
        ns: &str,
        target: &Target,
        old: Option<Arc<Value>>,
        config: &Value,
        opts: &WriteOptions,
        status: bool,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        let manager = match opts.field_manager.as_deref() {
            Some(m) if !m.is_empty() => m,
            _ => {
                return Err(ApiError::invalid(
                    subject(t, &target.name),
                    &t.kind,
                    "fieldManager",
                    "Required value: is required for apply patch",
                ));
            }
        };
        let av = target.gvr.api_version();
        if !config.is_object() {
            return Err(ApiError::bad_request("apply patch must be an object"));
        }
        if config.get("apiVersion").and_then(Value::as_str) != Some(av.as_str())
            || config.get("kind").and_then(Value::as_str) != Some(t.kind.as_str())
        {
            return Err(ApiError::bad_request(format!(
                "apply patch apiVersion/kind must be {av}/{}",
                t.kind
            )));
        }
        if meta_str(config, "name") != target.name {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        if meta(config, "managedFields")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return Err(ApiError::bad_request("metadata.managedFields must be nil"));
        }
        let cns = meta_str(config, "namespace");
        if t.namespaced && !cns.is_empty() && cns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let crv = meta_str(config, "resourceVersion");
        let now = now_rfc3339();
        let sub = if status { "status" } else { "" };
        let w = Writer {
            manager,
            api_version: &av,
            subresource: sub,
            now: &now,
        };
        // What the manager may own through this endpoint.
        let mut scoped = config.clone();
        if let Some(m) = scoped.as_object_mut() {
            if status {
                m.retain(|k, _| k == "status" || k == "apiVersion" || k == "kind");
            } else if t.status_subresource {
                m.remove("status");
            }
            if let Some(md) = m.get_mut("metadata").and_then(Value::as_object_mut) {
                md.remove("resourceVersion");
            }
        }
        let Some(old) = old else {
            if status {
                return Err(ApiError::not_found(subject(t, &target.name)));
            }
            if !crv.is_empty() {
                return Err(ApiError::not_found(subject(t, &target.name)));
            }
            let merged = ssa::apply(&json!({}), &scoped, w, opts.force, &t.list_rules)
                .map_err(|c| conflicts(t, &target.name, c))?;
            let mut obj = merged;
            if let Some(m) = obj.as_object_mut() {
                m.insert("apiVersion".into(), json!(av));
                m.insert("kind".into(), json!(t.kind));
            }
            metadata_mut(&mut obj).insert("name".into(), json!(target.name));
            let url_ns = t.namespaced.then_some(ns);
            return self
                .create(t, &target.gvr.version, url_ns, obj, opts, Managed::Done)
                .map(|o| (o, true));
        };
        if !crv.is_empty() && crv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict(subject(t, &target.name)));
        }
        let live = with_api_version(&old, &av);
        let merged = ssa::apply(&live, &scoped, w, opts.force, &t.list_rules)
            .map_err(|c| conflicts(t, &target.name, c))?;
        let mut new = if status {
            let mut n = (*old).clone();
            match merged.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    n.as_object_mut().map(|m| m.remove("status"));
                }
            }
            if let Some(mf) = meta(&merged, "managedFields") {
                metadata_mut(&mut n).insert("managedFields".into(), mf.clone());
            }
            n
        } else {
            let mut n = merged;
            self.keep_status(t, &old, &mut n);
            n
        };
        let mf = meta(&new, "managedFields").cloned();
        carry_system_fields(&old, &mut new);
        match mf {
            Some(mf) => metadata_mut(&mut new).insert("managedFields".into(), mf),
            None => metadata_mut(&mut new).remove("managedFields"),
        };
        self.finish_update(t, ns, &target.name, old, new, None, opts.dry_run)
            .map(|o| (o, false))
    }

    /// The common tail of update, patch and apply.
    #[allow(clippy::too_many_arguments)]
    fn finish_update(
        &mut self,
        t: &Arc<ResourceType>,
        ns: &str,
        name: &str,
        old: Arc<Value>,
        mut new: Value,
        writer: Option<Writer<'_>>,
        dry_run: bool,
    ) -> Result<Arc<Value>, ApiError> {
        if let Some(m) = new.as_object_mut() {
            m.insert(
                "apiVersion".into(),
                json!(api_version(&t.group, &t.storage_version)),
            );
            m.insert("kind".into(), json!(t.kind));
        }
        {
            let md = metadata_mut(&mut new);
            md.insert("name".into(), json!(name));
            if t.namespaced {
                md.insert("namespace".into(), json!(ns));
            }
            if md
                .get("finalizers")
                .is_some_and(|f| f.as_array().is_some_and(Vec::is_empty) || f.is_null())
            {
                md.remove("finalizers");
            }
        }
        if is_deleting(&old) {
            let before = finalizers(&old);
            if let Some(f) = finalizers(&new).into_iter().find(|f| !before.contains(f)) {
                return Err(ApiError::invalid(
                    subject(t, name),
                    &t.kind,
                    "metadata.finalizers",
                    &format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers [\"{f}\"]"
                    ),
                ));
            }
        }
        if t.gr() == crd_gr() {
            let ct = type_from_crd(&new)?;
            let since = old
                .pointer("/status/conditions/0/lastTransitionTime")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            new["status"] = crd_status(&ct, &since);
        }
        if t.tracks_generation && spec_part(&old, t) != spec_part(&new, t) {
            let g = meta(&old, "generation").and_then(Value::as_i64).unwrap_or(0);
            metadata_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        if let Some(w) = writer {
            ssa::record_update(&old, &mut new, w, &t.list_rules);
        }
        if new == *old {
            return Ok(old);
        }
        if dry_run {
            return Ok(Arc::new(new));
        }
        if is_deleting(&new) && finalizers(&new).is_empty() && !self.has_content(t, &new) {
            self.commit_remove(t, ns, name)?;
            return Ok(Arc::new(new));
        }
        let stored = self.commit_put(t, ns, name, new)?;
        if t.gr() == crd_gr()
            && let Ok(ct) = type_from_crd(&stored)
        {
            self.registry.insert(ct);
        }
        Ok(stored)
    }

    fn delete(
        &mut self,
        t: &Arc<ResourceType>,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        let Some(old) = self.lookup(t, ns, name) else {
            return Err(ApiError::not_found(subject(t, name)));
        };
        if opts
            .precondition_uid
            .as_deref()
            .is_some_and(|u| u != meta_str(&old, "uid"))
            || opts
                .precondition_resource_version
                .as_deref()
                .is_some_and(|r| r != meta_str(&old, "resourceVersion"))
        {
            return Err(ApiError::conflict(subject(t, name)));
        }
        let uid = meta_str(&old, "uid").to_string();
        let deps: Vec<ObjKey> = self
            .dependents
            .get(&uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let mut fins = finalizers(&old);
        let propagation = opts.propagation.unwrap_or(Propagation::Background);
        if propagation == Propagation::Foreground
            && !deps.is_empty()
            && !fins.iter().any(|f| f == "foregroundDeletion")
        {
            fins.push("foregroundDeletion".into());
        }
        let pending = !fins.is_empty() || self.has_content(t, &old);
        if opts.dry_run {
            return Ok(if pending {
                Deleted::Pending((*old).clone())
            } else {
                Deleted::Gone((*old).clone())
            });
        }
        if propagation == Propagation::Orphan {
            for (gr, dns, dname) in &deps {
                let Some(dt) = self.registry.get(gr).cloned() else {
                    continue;
                };
                let Some(dep) = self.lookup(&dt, dns, dname) else {
                    continue;
                };
                let mut n = (*dep).clone();
                if let Some(Value::Array(refs)) =
                    n.get_mut("metadata").and_then(|m| m.get_mut("ownerReferences"))
                {
                    refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
                    if refs.is_empty() {
                        metadata_mut(&mut n).remove("ownerReferences");
                    }
                }
                let _ = self.finish_update(&dt, dns, dname, dep, n, None, false);
            }
        }
        if !pending {
            let last = self.commit_remove(t, ns, name)?;
            return Ok(Deleted::Gone((*last).clone()));
        }
        let mut cur = old.clone();
        if !is_deleting(&old) || fins != finalizers(&old) {
            let mut n = (*old).clone();
            let md = metadata_mut(&mut n);
            if !is_deleting(&old) {
                md.insert("deletionTimestamp".into(), json!(now_rfc3339()));
                md.insert("deletionGracePeriodSeconds".into(), json!(0));
                if t.tracks_generation {
                    let g = md.get("generation").and_then(Value::as_i64).unwrap_or(0);
                    md.insert("generation".into(), json!(g + 1));
                }
            }
            if !fins.is_empty() {
                md.insert("finalizers".into(), json!(fins));
            }
            if t.gr() == namespace_gr() {
                n["status"] = json!({"phase": "Terminating"});
            }
            cur = self.commit_put(t, ns, name, n)?;
        }
        // Kick off what the deletion waits for.
        if t.gr() == namespace_gr() {
            let targets: Vec<(Gr, String)> = self
                .tables
                .iter()
                .filter(|(gr, _)| self.registry.get(gr).is_some_and(|rt| rt.namespaced))
                .flat_map(|(gr, tb)| {
                    tb.objects
                        .range((name.to_string(), String::new())..)
                        .take_while(|((n, _), _)| n == name)
                        .map(|((_, o), _)| (gr.clone(), o.clone()))
                        .collect::<Vec<_>>()
                })
                .collect();
            for (gr, oname) in targets {
                if let Some(rt) = self.registry.get(&gr).cloned() {
                    let _ = self.delete(&rt, name, &oname, &DeleteOptions::default());
                }
            }
        } else if t.gr() == crd_gr()
            && let Ok(ct) = type_from_crd(&old)
        {
            let ct = self.registry.get(&ct.gr()).cloned();
            if let Some(ct) = ct {
                let keys: Vec<(String, String)> = self
                    .tables
                    .get(&ct.gr())
                    .map(|tb| tb.objects.keys().cloned().collect())
                    .unwrap_or_default();
                for (ons, oname) in keys {
                    let _ = self.delete(&ct, &ons, &oname, &DeleteOptions::default());
                }
            }
        }
        if propagation == Propagation::Foreground {
            for (gr, dns, dname) in &deps {
                if let Some(dt) = self.registry.get(gr).cloned() {
                    let _ = self.delete(
                        &dt,
                        dns,
                        dname,
                        &DeleteOptions {
                            propagation: Some(Propagation::Foreground),
                            ..DeleteOptions::default()
                        },
                    );
                }
            }
        }
        self.try_finish(&t.gr(), ns, name);
        match self.lookup(t, ns, name) {
            Some(o) => Ok(Deleted::Pending((*o).clone())),
            None => {
                let mut last = (*cur).clone();
                metadata_mut(&mut last).insert("resourceVersion".into(), json!(self.rv.to_string()));
                Ok(Deleted::Gone(last))
            }
        }
    }
}

fn conflicts(t: &ResourceType, name: &str, c: Vec<ssa::Conflict>) -> ApiError {
    let mut msg = format!(
        "Apply failed with {} conflict{}:",
        c.len(),
        if c.len() == 1 { "" } else { "s" }
    );
    let mut causes = Vec::new();
    for (i, x) in c.iter().enumerate() {
        msg.push_str(&format!(
            "{} conflict with \"{}\": {}",
            if i == 0 { "" } else { ";" },
            x.manager,
            x.field
        ));
        causes.push(json!({"reason": "FieldManagerConflict",
                           "message": format!("conflict with \"{}\"", x.manager), "field": x.field}));
    }
    ApiError::conflict_with(subject(t, name), msg, causes)
}

/// Copies the fields clients cannot change from the stored object.
fn carry_system_fields(old: &Value, new: &mut Value) {
    let md = metadata_mut(new);
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
        "managedFields",
    ] {
        match meta(old, f) {
            Some(v) => md.insert(f.into(), v.clone()),
            None => md.remove(f),
        };
    }
    md.remove("selfLink");
}

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    let s = serde_json::to_string(&(rv, ns, name)).unwrap_or_default();
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(tok: &str) -> Result<(u64, String, String), ApiError> {
    let bad = || ApiError::bad_request("invalid continue token");
    if !tok.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..tok.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&tok[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

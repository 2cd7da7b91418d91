//! The running simulator: informers (store watch -> cache -> queue), reconcile workers, the
//! queue timer, and the workload HTTP front.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anywhere_apiserver::{EventType, ListRequest, Store, WatchRequest};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cache::{Cache, ClusterKey};
use crate::clock::{Clock, SystemClock, Timings};
use crate::ctx::{Ctx, gvr};
use crate::faults::Faults;
use crate::kinds::{KINDS, KindDef, Role};
use crate::object::{meta_str, resource_version};
use crate::observe::Observer;
use crate::queue::WorkQueue;
use crate::workload::Workloads;

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Simulated durations and the speed factor.
    pub timings: Timings,
    /// The clock (defaults to the system clock).
    pub clock: Arc<dyn Clock>,
    /// Concurrent reconcile workers (each handles one Cluster at a time).
    pub workers: usize,
    /// Serve the workload clusters over HTTP on this address (`127.0.0.1:0` picks a port;
    /// `None`: no HTTP, workload stores are reachable in process only).
    pub listen: Option<SocketAddr>,
    /// Persist the workload stores under `<dir>/workload/<namespace>/<cluster>` (the
    /// management store's persistence is the caller's, see `Store::open`).
    pub state_dir: Option<PathBuf>,
    /// Keep per-cluster timelines (off for large fleets to save memory).
    pub timeline: bool,
    /// Create the control-plane static pods in the workload clusters.
    pub static_pods: bool,
    /// Faults injected from code (shared handle; clone it before starting to keep one).
    pub faults: Faults,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            timings: Timings::default(),
            clock: Arc::new(SystemClock),
            workers: 2,
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            state_dir: None,
            timeline: true,
            static_pods: true,
            faults: Faults::default(),
        }
    }
}

impl Options {
    /// Default options with every delay divided by `speed`.
    pub fn with_speed(speed: f64) -> Self {
        Self {
            timings: Timings::with_speed(speed),
            ..Self::default()
        }
    }
}

struct Shared {
    store: Store,
    cache: Cache,
    queue: WorkQueue,
    workloads: Workloads,
    observer: Observer,
    options: Options,
    failures: Mutex<HashMap<ClusterKey, u32>>,
    /// Informers that finished their first list (or whose kind is not registered).
    synced: std::sync::atomic::AtomicUsize,
    informers: usize,
    synced_notify: tokio::sync::Notify,
}

impl Shared {
    fn mark_synced(&self) {
        self.synced.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.synced_notify.notify_waiters();
    }

    fn is_synced(&self) -> bool {
        self.synced.load(std::sync::atomic::Ordering::SeqCst) >= self.informers
    }
}

/// A running simulator. Stop it with [`Simulator::stop`] (dropping it also stops its tasks).
pub struct Simulator {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    http: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("workloads", &self.shared.workloads)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Starts the simulator on a management store. Register [`crate::crds`] (or the real
    /// CRDs) first; kinds registered later are picked up within a second. Must run inside a
    /// tokio runtime.
    ///
    /// # Errors
    /// When the HTTP listener cannot be bound.
    pub async fn start(store: Store, options: Options) -> Result<Self, crate::Error> {
        let cache = Cache::default();
        let workloads = Workloads::new(options.state_dir.clone(), options.faults.clone(), cache.clone());
        let http = match options.listen {
            Some(addr) => Some(
                workloads
                    .serve(addr)
                    .await
                    .map_err(|source| crate::Error::Listen { addr, source })?,
            ),
            None => None,
        };
        let watched: Vec<&'static KindDef> = KINDS.iter().filter(|d| d.role != Role::Passive).collect();
        let shared = Arc::new(Shared {
            store,
            cache,
            queue: WorkQueue::default(),
            workloads,
            observer: Observer::new(options.timeline),
            options,
            failures: Mutex::default(),
            synced: std::sync::atomic::AtomicUsize::new(0),
            informers: watched.len(),
            synced_notify: tokio::sync::Notify::new(),
        });
        let mut tasks = Vec::new();
        for d in watched {
            let s = shared.clone();
            tasks.push(tokio::spawn(async move { inform(s, d).await }));
        }
        {
            let s = shared.clone();
            tasks.push(tokio::spawn(async move { s.queue.run_timer().await }));
        }
        for _ in 0..shared.options.workers.max(1) {
            let s = shared.clone();
            tasks.push(tokio::spawn(async move { work(s).await }));
        }
        Ok(Self { shared, tasks, http })
    }

    /// Stops every task and the HTTP listener. Objects stay as they are; a new simulator on
    /// the same store continues from there.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        self.shared.queue.close();
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
        if let Some((tx, task)) = self.http.take() {
            let _ = tx.send(());
            task.abort();
            let _ = task.await;
        }
    }

    /// The management store.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The workload clusters (stores and HTTP URLs).
    pub fn workloads(&self) -> &Workloads {
        &self.shared.workloads
    }

    /// The workload store of a cluster, once its infrastructure is provisioned.
    pub fn workload_store(&self, key: &ClusterKey) -> Option<Store> {
        self.shared.workloads.get(key)
    }

    /// Timelines and counters.
    pub fn observer(&self) -> &Observer {
        &self.shared.observer
    }

    /// The fault-injection handle.
    pub fn faults(&self) -> &Faults {
        &self.shared.options.faults
    }

    /// The informer cache (read-only use).
    pub fn cache(&self) -> &Cache {
        &self.shared.cache
    }

    /// Queues every known cluster for a reconcile (after a fault was cleared or a manual
    /// clock moved).
    pub fn resync(&self) {
        for k in self.shared.cache.cluster_keys() {
            self.shared.queue.add(k);
        }
    }

    /// Clusters waiting in the queue (now or delayed).
    pub fn queued(&self) -> usize {
        self.shared.queue.len()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shared.queue.close();
        for t in &self.tasks {
            t.abort();
        }
        if let Some((tx, task)) = self.http.take() {
            let _ = tx.send(());
            task.abort();
        }
    }
}

/// List + watch one kind into the cache, queueing the clusters that changed.
async fn inform(s: Arc<Shared>, d: &'static KindDef) {
    let resource = gvr(d);
    let mut synced = false;
    loop {
        // Wait until the kind is registered (an unregistered kind has nothing to sync).
        if s.store.is_namespaced(&resource).is_none() {
            if !synced {
                synced = true;
                s.mark_synced();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let list = match s.store.list(&ListRequest {
            gvr: resource.clone(),
            ..ListRequest::default()
        }) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(kind = d.kind, error = %e, "list failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut rv = list.resource_version;
        for k in s.cache.replace_kind(d, list.items.clone(), rv) {
            s.queue.add(k);
        }
        if !synced {
            synced = true;
            s.mark_synced();
        }
        // Watch from the list's resourceVersion; resume after each stream end, relist on 410.
        'watch: loop {
            let req = WatchRequest {
                gvr: resource.clone(),
                resource_version: Some(rv.to_string()),
                allow_bookmarks: true,
                ..WatchRequest::default()
            };
            let mut stream = match s.store.watch(&req) {
                Ok(w) => w,
                Err(_) => break 'watch,
            };
            while let Some(ev) = stream.next().await {
                match ev.kind {
                    EventType::Error => break 'watch,
                    EventType::Bookmark => {
                        rv = rv.max(resource_version(&ev.object));
                    }
                    EventType::Added | EventType::Modified => {
                        rv = rv.max(resource_version(&ev.object));
                        if let Some(k) = s.cache.upsert(d, ev.object.clone()) {
                            s.queue.add(k);
                        }
                    }
                    EventType::Deleted => {
                        let erv = resource_version(&ev.object);
                        rv = rv.max(erv);
                        let o: &Value = &ev.object;
                        if let Some(k) = s
                            .cache
                            .remove(d, meta_str(o, "namespace"), meta_str(o, "name"), erv)
                        {
                            s.queue.add(k);
                        }
                    }
                }
            }
            s.cache.prune_tombstones(d.kind, rv);
            if s.store.is_namespaced(&resource).is_none() {
                break 'watch;
            }
        }
    }
}

async fn work(s: Arc<Shared>) {
    // Reconciling from a partly filled cache would, for example, see a control plane without
    // its machines and create new ones: wait for every informer's first list.
    while !s.is_synced() {
        let notified = s.synced_notify.notified();
        if s.is_synced() {
            break;
        }
        notified.await;
    }
    while let Some(key) = s.queue.next().await {
        let (result, due) = {
            let parts = (
                &s.store,
                &s.cache,
                &s.workloads,
                &s.options.faults,
                &s.observer,
                &s.options,
            );
            let mut ctx = Ctx::new(parts, key.clone());
            s.observer.count(&key, |c| c.reconciles += 1);
            let r = crate::reconcile::reconcile_cluster(&mut ctx);
            (r, ctx.next_due)
        };
        match result {
            Ok(()) => {
                s.failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&key);
                if let Some(due) = due {
                    let wait = due.duration_since(s.options.clock.now()).unwrap_or_default();
                    s.queue
                        .add_at(key.clone(), Instant::now() + wait + Duration::from_millis(1));
                }
            }
            Err(e) => {
                s.observer.count(&key, |c| c.errors += 1);
                let n = {
                    let mut f = s
                        .failures
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let n = f.entry(key.clone()).or_default();
                    *n = n.saturating_add(1);
                    *n
                };
                tracing::debug!(cluster = %key, error = %e, failures = n, "reconcile failed");
                let backoff =
                    Duration::from_millis(10u64.saturating_mul(1 << n.min(8))).min(Duration::from_secs(2));
                s.queue.add_at(key.clone(), Instant::now() + backoff);
            }
        }
        s.queue.done(&key);
        tokio::task::yield_now().await;
    }
}

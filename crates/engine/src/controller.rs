//! The cluster controller: reconciles each anywhere `Cluster` (and the objects it refers to)
//! into its Cluster API objects, in ordered phases, and reports progress as EKS Anywhere's
//! conditions on the Cluster's status.
//!
//! Phases, each entered only when the previous one is done:
//! 1. **validate**: the spec read back from the API, defaulted and validated as the CLI does;
//! 2. **external etcd**: the EtcdadmCluster and its template (during an upgrade, the control
//!    plane is not touched until etcd has rolled);
//! 3. **control plane**: Cluster, infrastructure cluster, KubeadmControlPlane, templates;
//!    `ControlPlaneInitialized`, then `ControlPlaneReady` once every replica is ready and current;
//! 4. **CNI**: the default CNI applied to the workload cluster through its kubeconfig Secret;
//!    `DefaultCNIConfigured`;
//! 5. **workers**: MachineDeployments, their templates, MachineHealthChecks; worker groups no
//!    longer in the spec are removed; `WorkersReady`; then `Ready`.
//!
//! Level-triggered and idempotent: every reconcile recomputes where the cluster is from the
//! objects, server-side applies what it wants (a no-op when nothing changed) and requeues while
//! it waits. A finalizer deletes the Cluster API cluster before the anywhere Cluster goes; the
//! `anywhere.eks.amazonaws.com/paused` annotation stops all of it.
//!
//! Built for fleets (docs/design/0010, decisions 10–11): Machines and MachineDeployments are read
//! from watch-fed indexes ([`crate::index`]), not label-selected lists; a reconcile kube-runtime
//! drops is asked for again; a cache scan every 30 s asks for any Cluster not Ready or not
//! reconciled at its generation; a reconcile is abandoned after 120 s; no connection is kept per
//! workload cluster.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anywhere_catalog::Catalog;
use anywhere_manifests::{Credentials, Manifest};
use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde_json::{Value, json};

use crate::conditions::{self, Condition};
use crate::index::LabelIndex;
use crate::kube_ops::{Kube, KubeError, to_value};
use crate::render::{self, CAPI_NAMESPACE, Desired, Existing};
use crate::spec;

/// The anywhere API version.
pub const API_VERSION: &str = anywhere_api::config_set::API_VERSION;
/// How long an unchanged phase goes without being re-applied.
pub const REAPPLY_AFTER: Duration = Duration::from_secs(600);
/// Finalizer the controller puts on every Cluster it manages.
pub const FINALIZER: &str = "clusters.anywhere.eks.amazonaws.com/finalizer";
/// Annotation that pauses reconciliation of a Cluster (value `"true"`).
pub const PAUSED: &str = "anywhere.eks.amazonaws.com/paused";
/// Label on every object the controller applies: the anywhere Cluster's name.
pub const LABEL_CLUSTER: &str = "anywhere.eks.amazonaws.com/cluster-name";
/// Cluster API's label naming a Machine's cluster.
const CAPI_CLUSTER_LABEL: &str = "cluster.x-k8s.io/cluster-name";

/// Label on every object the controller applies: the anywhere Cluster's namespace.
pub const LABEL_NAMESPACE: &str = "anywhere.eks.amazonaws.com/cluster-namespace";
/// Field manager of the controller's server-side applies.
pub const FIELD_MANAGER: &str = "anywhere-controller";

/// An error of one reconcile, naming the cluster and the step.
#[derive(Debug, thiserror::Error)]
#[error("cluster {cluster}: {step}: {message}")]
pub struct ReconcileError {
    /// `namespace/name`.
    pub cluster: String,
    /// The phase or step.
    pub step: String,
    /// What went wrong.
    pub message: String,
}

/// How the controller runs.
#[derive(Clone)]
pub struct Options {
    /// The release catalog.
    pub catalog: Arc<Catalog>,
    /// Provider credentials rendered into secrets.
    pub credentials: Credentials,
    /// How long to wait before looking again while a phase is in progress.
    pub poll: Duration,
    /// Clusters reconciled at once.
    pub concurrency: u16,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("poll", &self.poll)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// Whether a machine failed, and one line per machine problem.
type MachineProblems = (bool, Vec<String>);

/// Digest of a phase's objects and when they were applied.
type Applied = (u64, std::time::Instant);

#[derive(Debug)]
struct Context {
    kube: Kube,
    options: Options,
    /// What was last applied per cluster and phase: (digest of the objects, when). A phase whose
    /// objects did not change is not re-applied for [`REAPPLY_AFTER`], which keeps a converged
    /// fleet quiet; after that it is applied again, which repairs drift.
    applied: Mutex<HashMap<(String, &'static str), Applied>>,
    /// Per cluster: the MachineDeployments wanted when a list last found none to remove.
    pruned: Mutex<HashMap<String, BTreeSet<String>>>,
    /// Per cluster: waiting passes so far and the machine problems last seen (machines are
    /// inspected on some passes only; the others reuse what was seen).
    waits: Mutex<HashMap<String, (u32, MachineProblems)>>,
    reconciles: std::sync::atomic::AtomicU64,
    /// Reconciles kube-runtime dropped because its cache lacked the object, asked for again.
    retriggered: std::sync::atomic::AtomicU64,
    /// Clusters asked for by the resync (never reconciled at their generation, or not Ready).
    resynced: std::sync::atomic::AtomicU64,
    /// Reconciles running now: cluster and since when.
    in_flight: Mutex<HashMap<String, std::time::Instant>>,
    /// Machines by `cluster.x-k8s.io/cluster-name` (the running controller; a one-shot
    /// reconcile has none and lists).
    machines: Option<LabelIndex>,
    /// MachineDeployments by [`LABEL_CLUSTER`].
    deployments: Option<LabelIndex>,
}

impl Context {
    fn new(kube: Kube, options: Options) -> Context {
        Context {
            kube,
            options,
            applied: Mutex::new(HashMap::new()),
            pruned: Mutex::new(HashMap::new()),
            waits: Mutex::new(HashMap::new()),
            reconciles: std::sync::atomic::AtomicU64::new(0),
            retriggered: std::sync::atomic::AtomicU64::new(0),
            resynced: std::sync::atomic::AtomicU64::new(0),
            in_flight: Mutex::new(HashMap::new()),
            machines: None,
            deployments: None,
        }
    }
}

/// Removes a reconcile from [`Context::in_flight`] when it ends, however it ends.
struct InFlight<'a>(&'a Context, String);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.1);
    }
}

/// Counters for tests and benchmarks.
#[derive(Clone, Debug)]
pub struct Stats(Arc<Context>);

impl Stats {
    /// Reconciles run so far.
    pub fn reconciles(&self) -> u64 {
        self.0.reconciles.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reconciles asked for again after kube-runtime dropped them (its cache lacked a Cluster
    /// the API server has: a relist in progress).
    pub fn retriggered(&self) -> u64 {
        self.0.retriggered.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reconciles asked for by the periodic resync.
    pub fn resynced(&self) -> u64 {
        self.0.resynced.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reconciles running now, and the longest-running one (cluster, for how long).
    pub fn in_flight(&self) -> (usize, Option<(String, Duration)>) {
        let map = self.0.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let oldest = map
            .iter()
            .min_by_key(|(_, since)| **since)
            .map(|(id, since)| (id.clone(), since.elapsed()));
        (map.len(), oldest)
    }
}

/// The ApiResource of the anywhere Cluster.
pub fn cluster_resource() -> ApiResource {
    ApiResource {
        group: anywhere_api::config_set::GROUP.into(),
        version: "v1alpha1".into(),
        api_version: API_VERSION.into(),
        kind: "Cluster".into(),
        plural: "clusters".into(),
    }
}

fn capi_resource(group: &str, version: &str, kind: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: format!("{}s", kind.to_ascii_lowercase()),
    }
}

/// Runs the controller until `shutdown` completes. Returns the counters handle at once through
/// `stats` so callers can observe it while it runs.
pub async fn run(
    kube: Kube,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    stats: Option<tokio::sync::oneshot::Sender<Stats>>,
) {
    let client = kube.client().clone();
    let machine_api = kube::Api::<DynamicObject>::namespaced_with(
        client.clone(),
        CAPI_NAMESPACE,
        &capi_resource("cluster.x-k8s.io", "v1beta2", "Machine"),
    );
    let deployment_api = kube::Api::<DynamicObject>::namespaced_with(
        client.clone(),
        CAPI_NAMESPACE,
        &capi_resource("cluster.x-k8s.io", "v1beta2", "MachineDeployment"),
    );
    let (machines, machines_task) = LabelIndex::start(machine_api, CAPI_CLUSTER_LABEL);
    let (deployments, deployments_task) = LabelIndex::start(deployment_api, LABEL_CLUSTER);
    let context = Arc::new(Context {
        machines: Some(machines),
        deployments: Some(deployments),
        ..Context::new(kube, options.clone())
    });
    if let Some(tx) = stats {
        let _ = tx.send(Stats(context.clone()));
    }
    let clusters = kube::Api::<DynamicObject>::all_with(client.clone(), &cluster_resource());
    let owner = |obj: DynamicObject| -> Option<ObjectRef<DynamicObject>> {
        let labels = obj.metadata.labels.as_ref()?;
        let name = labels.get(LABEL_CLUSTER)?;
        let namespace = labels.get(LABEL_NAMESPACE)?;
        Some(ObjectRef::new_with(name, cluster_resource()).within(namespace))
    };
    let watch = |group: &str, version: &str, kind: &str| {
        let resource = capi_resource(group, version, kind);
        (
            kube::Api::<DynamicObject>::namespaced_with(client.clone(), CAPI_NAMESPACE, &resource),
            resource,
        )
    };
    let (kcp, kcp_r) = watch("controlplane.cluster.x-k8s.io", "v1beta2", "KubeadmControlPlane");
    let (md, md_r) = watch("cluster.x-k8s.io", "v1beta2", "MachineDeployment");
    let (capi, capi_r) = watch("cluster.x-k8s.io", "v1beta2", "Cluster");
    let selector = watcher::Config::default().labels(LABEL_CLUSTER);
    // kube-runtime drops a reconcile whose object is not in its cache (`ObjectNotFound`). That
    // happens for a Cluster created while the cache relists (after a watch fell behind and got
    // 410 Gone): the relist triggers the reconcile before the new cache is swapped in. With no
    // periodic resync, such a cluster would never be reconciled; it is asked for again once
    // the API server confirms it exists.
    let (retry_tx, retry_rx) = tokio::sync::mpsc::unbounded_channel::<ObjectRef<DynamicObject>>();
    let retries = futures::stream::unfold(retry_rx, |mut rx| async move {
        let r = rx.recv().await?;
        Some((r, rx))
    });
    let retry_ctx = context.clone();
    let controller = Controller::new_with(clusters, watcher::Config::default(), cluster_resource());
    let resync = tokio::spawn(resync(controller.store(), context.clone(), retry_tx.clone()));
    controller
        .with_config(ControllerConfig::default().concurrency(options.concurrency))
        .watches_with(kcp, kcp_r, selector.clone(), owner)
        .watches_with(md, md_r, selector.clone(), owner)
        .watches_with(capi, capi_r, selector, owner)
        .reconcile_on(retries)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context)
        .for_each(move |result| {
            if let Err(kube::runtime::controller::Error::ObjectNotFound(r)) = &result {
                retry_not_found(&retry_ctx, r, &retry_tx);
            } else if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile");
            }
            futures::future::ready(())
        })
        .await;
    resync.abort();
    machines_task.abort();
    deployments_task.abort();
}

/// How often the controller looks through its cache for clusters that need a reconcile and may
/// not get one: never reconciled at their generation, or not Ready yet (those are requeued
/// anyway; asking again costs one merged request). The safety net controller-runtime calls
/// SyncPeriod, here cheap enough (a scan of the cache, no API request) to run often.
const RESYNC_EVERY: Duration = Duration::from_secs(30);

/// The longest one reconcile may take; a reconcile stuck on an API server that stopped
/// answering is abandoned after it and retried (kube's client has no read timeout).
const RECONCILE_TIMEOUT: Duration = Duration::from_secs(120);

async fn resync(
    store: kube::runtime::reflector::Store<DynamicObject>,
    ctx: Arc<Context>,
    retry: tokio::sync::mpsc::UnboundedSender<ObjectRef<DynamicObject>>,
) {
    let mut tick = tokio::time::interval(RESYNC_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        for cluster in store.state() {
            let value = to_value(&cluster);
            if !needs_resync(&value) {
                continue;
            }
            ctx.resynced.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if retry
                .send(ObjectRef::from_obj_with(&*cluster, cluster_resource()))
                .is_err()
            {
                return;
            }
        }
    }
}

/// A cluster whose latest generation was never reconciled, or that is not Ready (and not held
/// by an invalid spec, which only a spec change can fix).
fn needs_resync(cluster: &Value) -> bool {
    let generation = cluster["metadata"]["generation"].as_i64().unwrap_or(0);
    let observed = cluster["status"]["observedGeneration"].as_i64().unwrap_or(-1);
    if observed < generation || !cluster["metadata"]["deletionTimestamp"].is_null() {
        return true;
    }
    let ready = cluster["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    match ready {
        Some(r) => r["status"] != "True" && r["reason"] != "ValidationFailed",
        None => true,
    }
}

/// Asks again, after a short wait, for the reconcile of a Cluster kube-runtime's cache did not
/// have, if the API server has it (a Cluster really deleted is left alone).
fn retry_not_found(
    ctx: &Arc<Context>,
    missing: &ObjectRef<DynamicObject>,
    retry: &tokio::sync::mpsc::UnboundedSender<ObjectRef<DynamicObject>>,
) {
    let (ctx, retry) = (ctx.clone(), retry.clone());
    let (name, namespace) = (missing.name.clone(), missing.namespace.clone());
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        match ctx
            .kube
            .get(API_VERSION, "Cluster", namespace.as_deref(), &name)
            .await
        {
            Ok(Some(_)) => {
                ctx.retriggered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut r = ObjectRef::new_with(&name, cluster_resource());
                if let Some(ns) = namespace {
                    r = r.within(&ns);
                }
                let _ = retry.send(r);
            }
            Ok(None) => {}
            Err(e) => tracing::info!(cluster = %name, error = %e, "checking a dropped reconcile"),
        }
    });
}

fn error_policy(_cluster: Arc<DynamicObject>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    tracing::info!(%error, "reconcile failed; retrying");
    Action::requeue(ctx.options.poll.max(Duration::from_millis(200)) * 5)
}

async fn reconcile(cluster: Arc<DynamicObject>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    ctx.reconciles.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let value = to_value(&cluster);
    let id = format!(
        "{}/{}",
        cluster.metadata.namespace.as_deref().unwrap_or_default(),
        cluster.metadata.name.as_deref().unwrap_or_default()
    );
    ctx.in_flight
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.clone(), std::time::Instant::now());
    let _guard = InFlight(&ctx, id.clone());
    match tokio::time::timeout(RECONCILE_TIMEOUT, reconcile_value(&ctx, &value)).await {
        Ok(result) => result,
        Err(_) => Err(ReconcileError {
            cluster: id,
            step: "reconcile".into(),
            message: format!(
                "did not finish within {}s (an API server not answering?); retrying",
                RECONCILE_TIMEOUT.as_secs()
            ),
        }),
    }
}

/// One reconcile of the Cluster `namespace/name` (what the controller does on each change),
/// for callers driving the engine without the controller loop. Returns after one pass; the
/// `Duration` says when to look again (`None`: nothing left to do until the spec changes).
///
/// # Errors
/// [`ReconcileError`] naming the step.
pub async fn reconcile_once(
    kube: &Kube,
    options: &Options,
    namespace: &str,
    name: &str,
) -> Result<Option<Duration>, ReconcileError> {
    let ctx = Context::new(kube.clone(), options.clone());
    let Some(cluster) = kube
        .get(API_VERSION, "Cluster", Some(namespace), name)
        .await
        .map_err(|e| step_error(&format!("{namespace}/{name}"), "get", e))?
    else {
        return Ok(None);
    };
    let action = reconcile_value(&ctx, &to_value(&cluster)).await?;
    Ok((action != Action::await_change()).then_some(options.poll))
}

fn step_error(cluster: &str, step: &str, e: impl std::fmt::Display) -> ReconcileError {
    ReconcileError {
        cluster: cluster.to_string(),
        step: step.to_string(),
        message: e.to_string(),
    }
}

/// Where a reconcile stopped, for the status.
struct Progress {
    conditions: Vec<Condition>,
    failure: Option<(String, String)>,
    done: bool,
}

async fn reconcile_value(ctx: &Context, cluster: &Value) -> Result<Action, ReconcileError> {
    let name = cluster["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = cluster["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_string();
    let id = format!("{namespace}/{name}");
    tracing::debug!(cluster = %id, generation = %cluster["metadata"]["generation"], deleting = !cluster["metadata"]["deletionTimestamp"].is_null(), "reconcile");
    if cluster["metadata"]["annotations"][PAUSED] == "true" {
        tracing::info!(cluster = %id, "paused");
        return Ok(Action::await_change());
    }
    let kube = &ctx.kube;
    let finalizers: Vec<&str> = cluster["metadata"]["finalizers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !cluster["metadata"]["deletionTimestamp"].is_null() {
        if !finalizers.contains(&FINALIZER) {
            return Ok(Action::await_change());
        }
        return delete(ctx, cluster, &id, &namespace, &name).await;
    }
    if !finalizers.contains(&FINALIZER) {
        let mut list: Vec<&str> = finalizers.clone();
        list.push(FINALIZER);
        kube.patch_merge(
            API_VERSION,
            "Cluster",
            Some(&namespace),
            &name,
            &json!({"metadata": {"finalizers": list}}),
        )
        .await
        .map_err(|e| step_error(&id, "add finalizer", e))?;
    }
    let progress = match phases(ctx, cluster, &id, &namespace, &name).await {
        Ok(p) => p,
        Err(e) => {
            // Say it on the Cluster too, so whoever waits on the conditions sees why.
            let progress = Progress {
                conditions: vec![Condition::not(
                    conditions::READY,
                    "ReconcileFailed",
                    format!("{}: {}", e.step, e.message),
                )],
                failure: None,
                done: false,
            };
            let _ = write_status(kube, cluster, &namespace, &name, &progress).await;
            return Err(e);
        }
    };
    write_status(kube, cluster, &namespace, &name, &progress)
        .await
        .map_err(|e| step_error(&id, "write status", e))?;
    Ok(
        if progress.done
            || progress
                .failure
                .as_ref()
                .is_some_and(|(r, _)| r == "ValidationFailed")
        {
            Action::await_change()
        } else {
            Action::requeue(ctx.options.poll)
        },
    )
}

async fn write_status(
    kube: &Kube,
    cluster: &Value,
    namespace: &str,
    name: &str,
    progress: &Progress,
) -> Result<(), KubeError> {
    let stored: Vec<Value> = cluster
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let conditions = conditions::merge(&stored, &progress.conditions, &conditions::now_rfc3339());
    let (reason, message) = match &progress.failure {
        Some((r, m)) => (json!(r), json!(m)),
        None => (Value::Null, Value::Null),
    };
    let status = json!({
        "conditions": conditions,
        "observedGeneration": cluster["metadata"]["generation"],
        "failureReason": reason,
        "failureMessage": message,
    });
    // Nothing changed: skip the write (the server would treat it as a no-op anyway).
    let current = &cluster["status"];
    let same = [
        "conditions",
        "observedGeneration",
        "failureReason",
        "failureMessage",
    ]
    .iter()
    .all(|k| current.get(*k).unwrap_or(&Value::Null) == &status[*k]);
    if same {
        return Ok(());
    }
    kube.patch_status(API_VERSION, "Cluster", Some(namespace), name, &status)
        .await
}

fn labelled(manifest: &Manifest, name: &str, namespace: &str) -> Value {
    let mut object = manifest.0.clone();
    let labels = &mut object["metadata"]["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    labels[LABEL_CLUSTER] = json!(name);
    labels[LABEL_NAMESPACE] = json!(namespace);
    object
}

async fn apply_all(
    ctx: &Context,
    objects: &[Manifest],
    id: &str,
    name: &str,
    namespace: &str,
    phase: &'static str,
) -> Result<(), ReconcileError> {
    let labelled: Vec<Value> = objects.iter().map(|m| labelled(m, name, namespace)).collect();
    let digest = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        serde_json::to_string(&labelled).unwrap_or_default().hash(&mut h);
        h.finish()
    };
    let key = (id.to_string(), phase);
    if let Some((last, when)) = ctx.applied.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
        && *last == digest
        && when.elapsed() < REAPPLY_AFTER
    {
        return Ok(());
    }
    for object in &labelled {
        if let Err(e) = ctx.kube.apply(object).await {
            ctx.applied.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            return Err(step_error(id, phase, e));
        }
    }
    ctx.applied
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, (digest, std::time::Instant::now()));
    Ok(())
}

async fn read_spec(
    kube: &Kube,
    cluster: &Value,
    namespace: &str,
) -> Result<Result<Vec<Value>, String>, KubeError> {
    let mut objects = vec![cluster.clone()];
    for (kind, ref_name) in spec::references(cluster) {
        match kube.get(API_VERSION, &kind, Some(namespace), &ref_name).await? {
            Some(o) => objects.push(to_value(&o)),
            None => {
                return Ok(Err(format!(
                    "{kind} {namespace}/{ref_name} (referenced by the Cluster) does not exist"
                )));
            }
        }
    }
    // Objects referenced by the referenced objects (Tinkerbell template configs, Snow IP pools).
    let mut nested = BTreeSet::new();
    for o in &objects[1..] {
        crate::spec::nested_references(o, &mut nested);
    }
    for (kind, r) in nested {
        if objects
            .iter()
            .any(|o| o["kind"] == kind.as_str() && o["metadata"]["name"] == r.as_str())
        {
            continue;
        }
        match kube.get(API_VERSION, &kind, Some(namespace), &r).await? {
            Some(o) => objects.push(to_value(&o)),
            None => {
                return Ok(Err(format!(
                    "{kind} {namespace}/{r} (referenced by a machine config) does not exist"
                )));
            }
        }
    }
    Ok(Ok(objects))
}

/// The MachineDeployments applied for the anywhere Cluster `namespace/name` (a label-selected
/// list: it scans every MachineDeployment of the management cluster).
async fn list_deployments(kube: &Kube, name: &str, namespace: &str) -> Result<Vec<DynamicObject>, KubeError> {
    kube.list(
        "cluster.x-k8s.io/v1beta2",
        "MachineDeployment",
        Some(CAPI_NAMESPACE),
        &format!("{LABEL_CLUSTER}={name},{LABEL_NAMESPACE}={namespace}"),
    )
    .await
}

/// What the cluster has now. `deployments`: the MachineDeployments to read by name (the
/// controller's fast path: a label-selected list scans every MachineDeployment of the
/// management cluster, which grows with the fleet), or `None` to list them all (the upgrade plan,
/// which must also see removed groups).
pub(crate) async fn existing(
    kube: &Kube,
    name: &str,
    namespace: &str,
    desired_kinds: &[(String, String)],
    deployments: Option<&[String]>,
) -> Result<Existing, KubeError> {
    let kcp = kube
        .get(
            "controlplane.cluster.x-k8s.io/v1beta2",
            "KubeadmControlPlane",
            Some(CAPI_NAMESPACE),
            name,
        )
        .await?
        .map(|o| to_value(&o));
    let etcd = kube
        .get(
            "etcdcluster.cluster.x-k8s.io/v1beta1",
            "EtcdadmCluster",
            Some(CAPI_NAMESPACE),
            &anywhere_manifests::common::names::etcd_cluster_name(name),
        )
        .await?
        .map(|o| to_value(&o));
    let deployments: Vec<Value> = match deployments {
        Some(names) => {
            let mut found = Vec::new();
            for md in names {
                if let Some(o) = kube
                    .get(
                        "cluster.x-k8s.io/v1beta2",
                        "MachineDeployment",
                        Some(CAPI_NAMESPACE),
                        md,
                    )
                    .await?
                {
                    found.push(to_value(&o));
                }
            }
            found
        }
        None => list_deployments(kube, name, namespace)
            .await?
            .iter()
            .map(to_value)
            .collect(),
    };
    let mut e = Existing::from_objects(name, kcp.as_ref(), etcd.as_ref(), &deployments);
    for template in e.template_names() {
        for (api_version, kind) in desired_kinds {
            if let Some(o) = kube
                .get(api_version, kind, Some(CAPI_NAMESPACE), &template)
                .await?
            {
                let v = to_value(&o);
                e.specs
                    .insert((kind.clone(), template.clone()), v["spec"].clone());
            }
        }
    }
    Ok(e)
}

pub(crate) fn template_kinds(objects: &[Manifest]) -> Vec<(String, String)> {
    let mut kinds: Vec<(String, String)> = objects
        .iter()
        .filter(|m| m.kind().ends_with("Template"))
        .map(|m| (m.api_version().to_string(), m.kind().to_string()))
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

async fn phases(
    ctx: &Context,
    cluster: &Value,
    id: &str,
    namespace: &str,
    name: &str,
) -> Result<Progress, ReconcileError> {
    let kube = &ctx.kube;
    let waiting = |conditions: Vec<Condition>| Progress {
        conditions,
        failure: None,
        done: false,
    };
    let failed = |reason: &str, message: String| Progress {
        conditions: vec![Condition::not(conditions::READY, reason, message.clone())],
        failure: Some((reason.to_string(), message)),
        done: false,
    };
    // The namespace of the Cluster API objects (EKS Anywhere's components create it).
    let namespace_object =
        Manifest(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CAPI_NAMESPACE}}));
    apply_all(
        ctx,
        std::slice::from_ref(&namespace_object),
        id,
        name,
        namespace,
        "ensure namespace",
    )
    .await?;
    // 1. validate
    let objects = match read_spec(kube, cluster, namespace)
        .await
        .map_err(|e| step_error(id, "read spec", e))?
    {
        Ok(o) => o,
        Err(missing) => return Ok(failed("MissingReference", missing)),
    };
    let set = match spec::config_set(&objects) {
        Ok(set) => set,
        Err(e) => return Ok(failed("ValidationFailed", e.to_string())),
    };
    // First render with initial names, to learn the template kinds; then against what exists.
    let first = render::desired(
        &set,
        &ctx.options.catalog,
        &ctx.options.credentials,
        &Existing::default(),
    )
    .map_err(|e| step_error(id, "render", e))?;
    let kinds = template_kinds(
        &[
            first.etcd.clone(),
            first.control_plane.clone(),
            first.workers.clone(),
        ]
        .concat(),
    );
    let md_names: Vec<String> = first
        .workers
        .iter()
        .filter(|m| m.kind() == "MachineDeployment")
        .map(|m| m.name().to_string())
        .collect();
    let current = existing(kube, name, namespace, &kinds, Some(&md_names))
        .await
        .map_err(|e| step_error(id, "read Cluster API objects", e))?;
    let desired: Desired = render::desired(&set, &ctx.options.catalog, &ctx.options.credentials, &current)
        .map_err(|e| step_error(id, "render", e))?;
    let capi_exists = kube
        .get("cluster.x-k8s.io/v1beta2", "Cluster", Some(CAPI_NAMESPACE), name)
        .await
        .map_err(|e| step_error(id, "get Cluster API cluster", e))?
        .is_some();

    // 2. external etcd (first during an upgrade; together with the control plane on create,
    // since etcd machines need the Cluster API cluster to exist).
    if !desired.etcd.is_empty() {
        apply_all(ctx, &desired.etcd, id, name, namespace, "apply external etcd").await?;
        if capi_exists {
            let etcd_name = desired
                .etcd
                .iter()
                .find(|m| m.kind() == "EtcdadmCluster")
                .map(|m| m.name().to_string())
                .unwrap_or_default();
            let etcd = kube
                .get(
                    "etcdcluster.cluster.x-k8s.io/v1beta1",
                    "EtcdadmCluster",
                    Some(CAPI_NAMESPACE),
                    &etcd_name,
                )
                .await
                .map_err(|e| step_error(id, "get EtcdadmCluster", e))?
                .map(|o| to_value(&o));
            if !etcd.as_ref().is_some_and(conditions::etcd_ready) {
                return Ok(waiting(vec![
                    Condition::not(
                        conditions::CONTROL_PLANE_READY,
                        "ExternalEtcdNotReady",
                        "waiting for external etcd",
                    ),
                    Condition::not(
                        conditions::READY,
                        "ExternalEtcdNotReady",
                        "waiting for external etcd",
                    ),
                ]));
            }
        }
    }
    // 3. control plane
    apply_all(
        ctx,
        &desired.control_plane,
        id,
        name,
        namespace,
        "apply control plane",
    )
    .await?;
    let kcp = kube
        .get(
            "controlplane.cluster.x-k8s.io/v1beta2",
            "KubeadmControlPlane",
            Some(CAPI_NAMESPACE),
            name,
        )
        .await
        .map_err(|e| step_error(id, "get KubeadmControlPlane", e))?
        .map(|o| to_value(&o))
        .unwrap_or(Value::Null);
    if !conditions::control_plane_initialized(&kcp) {
        let m = "waiting for the first control-plane machine";
        return waiting_on_machines(
            ctx,
            id,
            name,
            vec![Condition::not(
                conditions::CONTROL_PLANE_INITIALIZED,
                "ControlPlaneInitializationInProgress",
                m,
            )],
            conditions::CONTROL_PLANE_READY,
            "ControlPlaneInitializationInProgress",
            m.to_string(),
        )
        .await;
    }
    if let Some(why) = conditions::rollout_pending(&kcp) {
        return waiting_on_machines(
            ctx,
            id,
            name,
            vec![Condition::ok(conditions::CONTROL_PLANE_INITIALIZED)],
            conditions::CONTROL_PLANE_READY,
            "ControlPlaneNotReady",
            format!("control plane: {why}"),
        )
        .await;
    }
    // 4. CNI
    let mut conds = vec![
        Condition::ok(conditions::CONTROL_PLANE_INITIALIZED),
        Condition::ok(conditions::CONTROL_PLANE_READY),
    ];
    let cni_key = (id.to_string(), "cni");
    let cni_digest = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{:?}", crate::cni::objects(&set, &ctx.options.catalog)).hash(&mut h);
        h.finish()
    };
    let cni_current = ctx
        .applied
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&cni_key)
        .is_some_and(|(d, when)| *d == cni_digest && when.elapsed() < REAPPLY_AFTER);
    let cni = if cni_current {
        Ok(())
    } else {
        crate::cni::apply(ctx_workload(ctx, name).await, &set, &ctx.options.catalog).await
    };
    match cni {
        Ok(()) => {
            ctx.applied
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(cni_key)
                .and_modify(|e| {
                    if e.0 != cni_digest {
                        *e = (cni_digest, std::time::Instant::now());
                    }
                })
                .or_insert((cni_digest, std::time::Instant::now()));
            conds.push(Condition::ok(conditions::DEFAULT_CNI_CONFIGURED));
        }
        Err(e) => {
            let m = e.to_string();
            conds.push(Condition::not(
                conditions::DEFAULT_CNI_CONFIGURED,
                "CNIConfigurationFailed",
                m.clone(),
            ));
            conds.push(Condition::not(conditions::READY, "CNIConfigurationFailed", m));
            return Ok(waiting(conds));
        }
    }
    // 5. workers
    apply_all(ctx, &desired.workers, id, name, namespace, "apply workers").await?;
    apply_all(
        ctx,
        &desired.health_checks,
        id,
        name,
        namespace,
        "apply machine health checks",
    )
    .await?;
    let wanted: BTreeSet<String> = desired
        .workers
        .iter()
        .filter(|m| m.kind() == "MachineDeployment")
        .map(|m| m.name().to_string())
        .collect();
    let mut pending = Vec::new();
    // Worker groups dropped from the spec: found in the MachineDeployment index, or without it
    // by a label-selected list (which scans every MachineDeployment of the management
    // cluster), then only when the wanted set changed since the last list found nothing to
    // remove.
    let indexed = ctx.deployments.as_ref().and_then(|i| i.get(name)).map(|mds| {
        mds.iter()
            .filter(|md| {
                md.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_NAMESPACE))
                    .map(String::as_str)
                    == Some(namespace)
            })
            .map(|md| DynamicObject::clone(md))
            .collect::<Vec<_>>()
    });
    let pruned = indexed.is_none()
        && ctx
            .pruned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .is_some_and(|last| *last == wanted);
    if !pruned {
        let listed = match indexed {
            Some(mds) => mds,
            None => list_deployments(kube, name, namespace)
                .await
                .map_err(|e| step_error(id, "list MachineDeployments", e))?,
        };
        let mut removed = false;
        for md in &listed {
            let md_name = md.metadata.name.clone().unwrap_or_default();
            if !wanted.contains(&md_name) {
                kube.delete(
                    "cluster.x-k8s.io/v1beta2",
                    "MachineDeployment",
                    Some(CAPI_NAMESPACE),
                    &md_name,
                )
                .await
                .map_err(|e| step_error(id, "remove worker group", e))?;
                pending.push(format!("{md_name}: being removed"));
                removed = true;
            }
        }
        if !removed {
            ctx.pruned
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.to_string(), wanted.clone());
        }
    }
    for md_name in &wanted {
        match kube
            .get(
                "cluster.x-k8s.io/v1beta2",
                "MachineDeployment",
                Some(CAPI_NAMESPACE),
                md_name,
            )
            .await
            .map_err(|e| step_error(id, "get MachineDeployment", e))?
        {
            None => pending.push(format!("{md_name}: waiting for it to appear")),
            Some(md) => {
                if let Some(why) = conditions::rollout_pending(&to_value(&md)) {
                    pending.push(format!("{md_name}: {why}"));
                }
            }
        }
    }
    if !pending.is_empty() {
        return waiting_on_machines(
            ctx,
            id,
            name,
            conds,
            conditions::WORKERS_READY,
            "WorkersNotReady",
            pending.join("; "),
        )
        .await;
    }
    conds.push(Condition::ok(conditions::WORKERS_READY));
    conds.push(Condition::ok(conditions::READY));
    Ok(Progress {
        conditions: conds,
        failure: None,
        done: true,
    })
}

/// Machines of the cluster that failed (reason `MachineProvisioningFailed`) or are stuck on an
/// infrastructure problem, one line each. From the machine index when the controller runs one,
/// else a label-selected list.
async fn machine_problems(ctx: &Context, name: &str) -> Result<(bool, Vec<String>), KubeError> {
    let machines: Vec<Value> = match ctx.machines.as_ref().and_then(|i| i.get(name)) {
        Some(cached) => cached.iter().map(|m| to_value(m)).collect(),
        None => ctx
            .kube
            .list(
                "cluster.x-k8s.io/v1beta2",
                "Machine",
                Some(CAPI_NAMESPACE),
                &format!("{CAPI_CLUSTER_LABEL}={name}"),
            )
            .await?
            .iter()
            .map(to_value)
            .collect(),
    };
    let mut failed = false;
    let mut lines = Vec::new();
    for m in &machines {
        let machine = m["metadata"]["name"].as_str().unwrap_or_default();
        if m["status"]["phase"] == "Failed" {
            failed = true;
            let v1 = &m["status"]["deprecated"]["v1beta1"];
            let reason = v1["failureReason"]
                .as_str()
                .or(m["status"]["failureReason"].as_str())
                .unwrap_or("Failed");
            let message = v1["failureMessage"]
                .as_str()
                .or(m["status"]["failureMessage"].as_str())
                .unwrap_or_default();
            lines.push(format!("machine {machine} failed: {reason}: {message}"));
            continue;
        }
        for c in m["status"]["conditions"].as_array().into_iter().flatten() {
            let reason = c["reason"].as_str().unwrap_or_default();
            if c["status"] == "False" && reason.contains("BMC") {
                lines.push(format!(
                    "machine {machine}: {}: {reason}",
                    c["type"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    Ok((failed, lines))
}

/// The waiting conditions for `kind`, or a failure naming the machines when one failed.
async fn waiting_on_machines(
    ctx: &Context,
    id: &str,
    name: &str,
    mut conds: Vec<Condition>,
    kind: &'static str,
    reason: &str,
    message: String,
) -> Result<Progress, ReconcileError> {
    // Without the machine index, listing the cluster's machines scans every Machine of the
    // management cluster: then it is done on the first waiting pass and every fourth after.
    let (pass, seen) = {
        let mut waits = ctx.waits.lock().unwrap_or_else(|p| p.into_inner());
        let entry = waits.entry(id.to_string()).or_insert((0, (false, Vec::new())));
        entry.0 += 1;
        (entry.0, entry.1.clone())
    };
    let indexed = ctx.machines.as_ref().is_some_and(LabelIndex::is_ready);
    let (failed, problems) = if indexed || pass % 4 == 1 || seen.0 {
        let found = machine_problems(ctx, name)
            .await
            .map_err(|e| step_error(id, "list machines", e))?;
        if let Some(entry) = ctx.waits.lock().unwrap_or_else(|p| p.into_inner()).get_mut(id) {
            entry.1 = found.clone();
        }
        found
    } else {
        seen
    };
    let (reason, message) = if failed {
        ("MachineProvisioningFailed", problems.join("; "))
    } else if problems.is_empty() {
        (reason, message)
    } else {
        (reason, format!("{message}; {}", problems.join("; ")))
    };
    conds.push(Condition::not(kind, reason, message.clone()));
    conds.push(Condition::not(conditions::READY, reason, message));
    Ok(Progress {
        conditions: conds,
        failure: None,
        done: false,
    })
}

/// The workload cluster's client, from the `<cluster>-kubeconfig` Secret. Built for each use
/// and dropped after it (with its connection): the CNI is applied rarely, and a client kept per
/// cluster holds a connection per cluster — at 10,000 clusters, 20,000 file descriptors between
/// the controller and the workload API servers, which exhausted the process's limit.
async fn ctx_workload(ctx: &Context, name: &str) -> Result<Kube, String> {
    let secret = ctx
        .kube
        .get(
            "v1",
            "Secret",
            Some(CAPI_NAMESPACE),
            &format!("{name}-kubeconfig"),
        )
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("Secret {CAPI_NAMESPACE}/{name}-kubeconfig does not exist yet"))?;
    let encoded = to_value(&secret)["data"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    crate::workload::client(&encoded).await
}

async fn delete(
    ctx: &Context,
    cluster: &Value,
    id: &str,
    namespace: &str,
    name: &str,
) -> Result<Action, ReconcileError> {
    let kube = &ctx.kube;
    let capi = kube
        .get("cluster.x-k8s.io/v1beta2", "Cluster", Some(CAPI_NAMESPACE), name)
        .await
        .map_err(|e| step_error(id, "get Cluster API cluster", e))?;
    if let Some(capi) = capi {
        if capi.metadata.deletion_timestamp.is_none() {
            kube.delete("cluster.x-k8s.io/v1beta2", "Cluster", Some(CAPI_NAMESPACE), name)
                .await
                .map_err(|e| step_error(id, "delete Cluster API cluster", e))?;
        }
        let progress = Progress {
            conditions: vec![Condition::not(
                conditions::READY,
                "Deleting",
                "deleting the Cluster API cluster and its machines",
            )],
            failure: None,
            done: false,
        };
        write_status(kube, cluster, namespace, name, &progress)
            .await
            .map_err(|e| step_error(id, "write status", e))?;
        return Ok(Action::requeue(ctx.options.poll));
    }
    // The machines are gone: remove what else was applied for the cluster.
    let selector = format!("{LABEL_CLUSTER}={name},{LABEL_NAMESPACE}={namespace}");
    for (api_version, kind) in cleanup_kinds(ctx, cluster, namespace).await {
        let objects = match kube
            .list(&api_version, &kind, Some(CAPI_NAMESPACE), &selector)
            .await
        {
            Ok(o) => o,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(step_error(id, "list leftovers", e)),
        };
        for o in objects {
            kube.delete(
                &api_version,
                &kind,
                Some(CAPI_NAMESPACE),
                &o.metadata.name.unwrap_or_default(),
            )
            .await
            .map_err(|e| step_error(id, "delete leftovers", e))?;
        }
    }
    ctx.applied
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(cluster, _), _| cluster != id);
    ctx.pruned.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    ctx.waits.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    let finalizers: Vec<&str> = cluster["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|f| *f != FINALIZER)
                .collect()
        })
        .unwrap_or_default();
    kube.patch_merge(
        API_VERSION,
        "Cluster",
        Some(namespace),
        name,
        &json!({"metadata": {"finalizers": finalizers}}),
    )
    .await
    .map_err(|e| step_error(id, "remove finalizer", e))?;
    Ok(Action::await_change())
}

/// The kinds the controller applied for a cluster (from a render when the spec can still be
/// read, else the kinds every provider uses).
async fn cleanup_kinds(ctx: &Context, cluster: &Value, namespace: &str) -> Vec<(String, String)> {
    let mut kinds: Vec<(String, String)> = [
        ("controlplane.cluster.x-k8s.io/v1beta2", "KubeadmControlPlane"),
        ("cluster.x-k8s.io/v1beta2", "MachineDeployment"),
        ("cluster.x-k8s.io/v1beta2", "MachineHealthCheck"),
        ("etcdcluster.cluster.x-k8s.io/v1beta1", "EtcdadmCluster"),
        ("bootstrap.cluster.x-k8s.io/v1beta2", "KubeadmConfigTemplate"),
        ("v1", "Secret"),
        ("v1", "ConfigMap"),
    ]
    .iter()
    .map(|(a, k)| (a.to_string(), k.to_string()))
    .collect();
    if let Ok(Ok(objects)) = read_spec(&ctx.kube, cluster, namespace).await
        && let Ok(set) = spec::config_set(&objects)
        && let Ok(d) = render::desired(
            &set,
            &ctx.options.catalog,
            &ctx.options.credentials,
            &Existing::default(),
        )
    {
        for m in [d.etcd, d.control_plane, d.workers, d.health_checks].concat() {
            let key = (m.api_version().to_string(), m.kind().to_string());
            if !kinds.contains(&key) {
                kinds.push(key);
            }
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(generation: i64, observed: Option<i64>, ready: Option<(&str, &str)>) -> Value {
        let mut c = json!({"metadata": {"name": "c", "generation": generation}});
        if let Some(o) = observed {
            c["status"]["observedGeneration"] = o.into();
        }
        if let Some((status, reason)) = ready {
            c["status"]["conditions"] = json!([{"type": "Ready", "status": status, "reason": reason}]);
        }
        c
    }

    #[test]
    fn the_resync_asks_for_clusters_never_reconciled_or_not_ready() {
        assert!(needs_resync(&cluster(1, None, None)), "never reconciled");
        assert!(
            needs_resync(&cluster(2, Some(1), Some(("True", "")))),
            "new generation"
        );
        assert!(needs_resync(&cluster(
            1,
            Some(1),
            Some(("False", "WorkersNotReady"))
        )));
        assert!(!needs_resync(&cluster(1, Some(1), Some(("True", "")))), "Ready");
        assert!(
            !needs_resync(&cluster(1, Some(1), Some(("False", "ValidationFailed")))),
            "only a spec change fixes an invalid spec"
        );
        let mut deleting = cluster(1, Some(1), Some(("True", "")));
        deleting["metadata"]["deletionTimestamp"] = "2026-11-25T00:00:00Z".into();
        assert!(needs_resync(&deleting));
    }
}

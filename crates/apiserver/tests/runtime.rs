//! kube-runtime against the server: watcher (incl. 410 relist), reflector, finalizer helper,
//! a Controller that settles, and ownerReference cascades.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::CustomResource;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector;
use kube::runtime::watcher::{self, Event};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Next watcher event, as (kind, object name).
async fn next_change<S>(s: &mut S) -> (&'static str, String)
where
    S: futures::Stream<Item = Result<Event<ConfigMap>, watcher::Error>> + Unpin,
{
    let e = timeout(WAIT, s.next())
        .await
        .expect("event in time")
        .expect("stream open");
    let e = match e {
        Ok(e) => e,
        Err(watcher::Error::WatchError(s)) if s.code == 410 => return ("expired", String::new()),
        Err(other) => panic!("watcher error {other:?}"),
    };
    match e {
        Event::Apply(o) => ("apply", o.metadata.name.unwrap()),
        Event::Delete(o) => ("delete", o.metadata.name.unwrap()),
        Event::InitApply(o) => ("init-apply", o.metadata.name.unwrap()),
        Event::Init => ("init", String::new()),
        Event::InitDone => ("init-done", String::new()),
    }
}

#[tokio::test]
async fn watcher_sees_changes_and_recovers_from_410() -> anyhow::Result<()> {
    let (_server, client, store) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &cm("before")).await?;
    let mut w = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    assert_eq!(next_change(&mut w).await, ("init", String::new()));
    assert_eq!(next_change(&mut w).await, ("init-apply", "before".into()));
    assert_eq!(next_change(&mut w).await, ("init-done", String::new()));

    api.create(&PostParams::default(), &cm("a")).await?;
    assert_eq!(next_change(&mut w).await, ("apply", "a".into()));
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await?;
    assert_eq!(next_change(&mut w).await, ("apply", "a".into()));
    api.delete("a", &DeleteParams::default()).await?;
    assert_eq!(next_change(&mut w).await, ("delete", "a".into()));

    // A write to another kind moves the global resourceVersion past what this watcher saw;
    // a restart drops the history, so the watcher's resume gets 410 in-stream and relists.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), "default");
    let s = k8s_openapi::api::core::v1::Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("other".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    secrets.create(&PostParams::default(), &s).await?;
    store.restart_watches();
    api.create(&PostParams::default(), &cm("after")).await?;
    let mut seen = Vec::new();
    loop {
        let e = next_change(&mut w).await;
        let done = e.0 == "init-done";
        seen.push(e);
        if done {
            break;
        }
    }
    assert_eq!(
        seen.iter().map(|e| e.0).take(2).collect::<Vec<_>>(),
        ["expired", "init"],
        "relisted: {seen:?}"
    );
    assert!(seen.contains(&("init-apply", "after".into())), "{seen:?}");
    Ok(())
}

#[tokio::test]
async fn raw_watch_from_expired_version_gets_410_error_event() -> anyhow::Result<()> {
    let (_server, client, store) = common::start().await;
    store.set_history_per_kind(2);
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = api.create(&PostParams::default(), &cm("c0")).await?;
    let old_rv = first.metadata.resource_version.unwrap();
    for i in 1..5 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"))).await?;
    }
    let mut s = api
        .watch(&WatchParams::default().timeout(5), &old_rv)
        .await?
        .boxed();
    match timeout(WAIT, s.try_next()).await?? {
        Some(WatchEvent::Error(e)) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected a 410 error event, got {other:?}"),
    }
    // Within the window: resume replays the later events.
    let l = api.list(&ListParams::default()).await?;
    let rv = l.metadata.resource_version.unwrap();
    api.create(&PostParams::default(), &cm("c5")).await?;
    let mut s = api.watch(&WatchParams::default().timeout(5), &rv).await?.boxed();
    match timeout(WAIT, s.try_next()).await?? {
        Some(WatchEvent::Added(o)) => assert_eq!(o.metadata.name.as_deref(), Some("c5")),
        other => panic!("expected ADDED c5, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn watch_with_label_selector_sees_transitions() -> anyhow::Result<()> {
    let (_server, client, _store) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = api
        .list(&ListParams::default())
        .await?
        .metadata
        .resource_version
        .unwrap();
    let mut s = api
        .watch(&WatchParams::default().labels("app=x").timeout(10), &rv)
        .await?
        .boxed();
    api.create(&PostParams::default(), &cm("t")).await?;
    api.patch(
        "t",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "x"}}})),
    )
    .await?;
    api.patch(
        "t",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "y"}}})),
    )
    .await?;
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        match timeout(WAIT, s.try_next()).await?? {
            Some(WatchEvent::Added(_)) => kinds.push("added"),
            Some(WatchEvent::Deleted(_)) => kinds.push("deleted"),
            Some(WatchEvent::Modified(_)) => kinds.push("modified"),
            Some(WatchEvent::Bookmark(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds, ["added", "deleted"]);
    Ok(())
}

#[tokio::test]
async fn reflector_store_syncs() -> anyhow::Result<()> {
    let (_server, client, _store) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("r{i}"))).await?;
    }
    let (reader, writer) = reflector::store();
    let rf = reflector::reflector(writer, watcher::watcher(api.clone(), watcher::Config::default()));
    let task = tokio::spawn(rf.applied_objects().for_each(|_| futures::future::ready(())));
    timeout(WAIT, reader.wait_until_ready()).await??;
    assert_eq!(reader.state().len(), 5);
    api.create(&PostParams::default(), &cm("r5")).await?;
    api.delete("r0", &DeleteParams::default()).await?;
    timeout(WAIT, async {
        while reader.state().len() != 5
            || reader
                .state()
                .iter()
                .any(|c| c.metadata.name.as_deref() == Some("r0"))
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await?;
    task.abort();
    Ok(())
}

/// Spec of the test custom resource.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug)]
#[kube(
    group = "example.com",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus",
    schema = "disabled"
)]
pub struct WidgetSpec {
    size: i64,
}

/// Status of the test custom resource.
#[derive(Deserialize, Serialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct WidgetStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_generation: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("reconcile failed: {0}")]
struct ReconcileError(String);

struct Ctx {
    api: Api<Widget>,
    reconciles: AtomicUsize,
    cleanups: AtomicUsize,
}

async fn reconcile(w: Arc<Widget>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    ctx.reconciles.fetch_add(1, Ordering::SeqCst);
    let api = ctx.api.clone();
    let counters = ctx.clone();
    finalizer(&ctx.api, "example.com/cleanup", w, |event| async move {
        match event {
            Finalizer::Apply(w) => {
                let status = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                    "metadata": {"name": w.metadata.name},
                    "status": {"observedGeneration": w.metadata.generation, "phase": "Ready"}});
                api.patch_status(
                    w.metadata.name.as_deref().unwrap_or_default(),
                    &PatchParams::apply("widget-controller").force(),
                    &Patch::Apply(&status),
                )
                .await
                .map_err(|e| ReconcileError(e.to_string()))?;
                Ok(Action::await_change())
            }
            Finalizer::Cleanup(_) => {
                counters.cleanups.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ReconcileError>(Action::await_change())
            }
        }
    })
    .await
    .map_err(|e| ReconcileError(e.to_string()))
}

fn error_policy(_w: Arc<Widget>, _e: &ReconcileError, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_millis(200))
}

#[tokio::test]
async fn controller_with_finalizer_settles_and_cleans_up() -> anyhow::Result<()> {
    let (server, client, _store) = common::start().await;
    let api: Api<Widget> = Api::namespaced(client.clone(), "default");
    let ctx = Arc::new(Ctx {
        api: api.clone(),
        reconciles: AtomicUsize::new(0),
        cleanups: AtomicUsize::new(0),
    });
    let ctrl = Controller::new(Api::<Widget>::all(client.clone()), watcher::Config::default())
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let task = tokio::spawn(ctrl);

    api.create(&PostParams::default(), &Widget::new("w", WidgetSpec { size: 1 }))
        .await?;
    let ready = timeout(WAIT, async {
        loop {
            let w = api.get("w").await.expect("get");
            if w.status.as_ref().and_then(|s| s.observed_generation) == Some(1)
                && w.metadata.finalizers.as_deref() == Some(&["example.com/cleanup".to_string()][..])
            {
                return w;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await?;
    assert_eq!(ready.status.unwrap().phase.as_deref(), Some("Ready"));

    // Idle: the controller's own writes are no-ops once settled, so reconciles stop.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settled = ctx.reconciles.load(Ordering::SeqCst);
    let writes = server.counters().writes();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(ctx.reconciles.load(Ordering::SeqCst), settled, "no hot loop");
    assert_eq!(server.counters().writes(), writes, "no writes while idle");
    assert!(settled <= 6, "settled after {settled} reconciles");

    // Spec change -> one more round, observedGeneration follows.
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"size": 2}})),
    )
    .await?;
    timeout(WAIT, async {
        while api
            .get("w")
            .await
            .expect("get")
            .status
            .and_then(|s| s.observed_generation)
            != Some(2)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await?;

    // Delete: deletionTimestamp set, cleanup runs, finalizer removed, object gone.
    let pending = api.delete("w", &DeleteParams::default()).await?;
    assert!(pending.is_left(), "finalizer keeps the object");
    timeout(WAIT, async {
        while api.get_opt("w").await.expect("get").is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await?;
    assert_eq!(ctx.cleanups.load(Ordering::SeqCst), 1);
    task.abort();
    Ok(())
}

#[tokio::test]
async fn owner_reference_cascade() -> anyhow::Result<()> {
    let (_server, client, _store) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let owner = api.create(&PostParams::default(), &cm("owner")).await?;
    let oref = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                       "uid": owner.metadata.uid.clone().unwrap(), "controller": true, "blockOwnerDeletion": true}]);
    for n in ["dep1", "dep2"] {
        let mut c = cm(n);
        c.metadata.owner_references = Some(serde_json::from_value(oref.clone())?);
        api.create(&PostParams::default(), &c).await?;
    }
    // A grandchild owned by dep1.
    let dep1 = api.get("dep1").await?;
    let mut g = cm("grandchild");
    g.metadata.owner_references = Some(serde_json::from_value(
        json!([{"apiVersion": "v1", "kind": "ConfigMap",
        "name": "dep1", "uid": dep1.metadata.uid.unwrap()}]),
    )?);
    api.create(&PostParams::default(), &g).await?;

    api.delete("owner", &DeleteParams::background()).await?;
    for n in ["owner", "dep1", "dep2", "grandchild"] {
        assert!(api.get_opt(n).await?.is_none(), "{n} should be gone");
    }

    // Orphan keeps dependents and strips the reference.
    let owner = api.create(&PostParams::default(), &cm("owner2")).await?;
    let mut c = cm("kept");
    c.metadata.owner_references = Some(serde_json::from_value(
        json!([{"apiVersion": "v1", "kind": "ConfigMap",
        "name": "owner2", "uid": owner.metadata.uid.unwrap()}]),
    )?);
    api.create(&PostParams::default(), &c).await?;
    api.delete("owner2", &DeleteParams::orphan()).await?;
    let kept = api.get("kept").await?;
    assert!(kept.metadata.owner_references.unwrap_or_default().is_empty());

    // Foreground: dependent with a finalizer holds the owner.
    let owner = api.create(&PostParams::default(), &cm("owner3")).await?;
    let mut c = cm("slow");
    c.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    c.metadata.owner_references = Some(serde_json::from_value(
        json!([{"apiVersion": "v1", "kind": "ConfigMap",
        "name": "owner3", "uid": owner.metadata.uid.unwrap(), "blockOwnerDeletion": true}]),
    )?);
    api.create(&PostParams::default(), &c).await?;
    let r = api.delete("owner3", &DeleteParams::foreground()).await?;
    let held = r.left().expect("owner waits for its dependent");
    assert!(
        held.metadata
            .finalizers
            .unwrap()
            .contains(&"foregroundDeletion".to_string())
    );
    assert!(api.get("slow").await?.metadata.deletion_timestamp.is_some());
    api.patch(
        "slow",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await?;
    assert!(api.get_opt("slow").await?.is_none());
    assert!(api.get_opt("owner3").await?.is_none());
    Ok(())
}

//! Cluster deletion must always finish: a cached object that no longer exists in the store
//! (a stale informer-cache entry) must not stop the deletion, and deleting under CPU contention
//! must finish within a bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anywhere_apiserver::{DeleteRequest, Store, Target};
use anywhere_capi_sim::Simulator;
use common::*;
use serde_json::json;

fn delete_cluster(store: &Store) {
    store
        .delete(&DeleteRequest {
            target: Target::namespaced(gvr("Cluster"), NS, "quickstart"),
            ..DeleteRequest::default()
        })
        .unwrap();
}

/// Waits for the Cluster to be gone; on timeout, panics with what is left in the store and in
/// the simulator's cache.
async fn wait_gone(store: &Store, sim: &Simulator, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while get(store, "Cluster", "quickstart").is_some() {
        if tokio::time::Instant::now() > deadline {
            let kinds = [
                "Machine",
                "MachineSet",
                "MachineDeployment",
                "KubeadmControlPlane",
            ];
            let stored: Vec<String> = kinds
                .iter()
                .flat_map(|k| {
                    list(store, k)
                        .into_iter()
                        .map(move |o| format!("{k}/{}", o["metadata"]["name"]))
                })
                .collect();
            let cached: Vec<String> = kinds
                .iter()
                .flat_map(|k| {
                    sim.cache()
                        .of_cluster(&key("quickstart"), k)
                        .into_iter()
                        .map(move |o| format!("{k}/{}", o["metadata"]["name"]))
                })
                .collect();
            let tl = sim.observer().timeline(&key("quickstart"));
            panic!(
                "cluster not deleted within {within:?}\nstore: {stored:?}\ncache: {cached:?}\ncounters {:?}\nlast events {:#?}",
                sim.observer().counters(&key("quickstart")),
                &tl[tl.len().saturating_sub(6)..]
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Regression: a MachineSet the cache still holds although the store no longer has it kept
/// `delete_cluster` in its "workers first" step forever: deleting it answered 404, which was
/// taken as success without evicting the cached copy, so every reconcile (including the
/// periodic re-check) "deleted" it again and returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_cached_object_does_not_stall_the_deletion() {
    let store = store();
    apply(&store, &quickstart());
    let sim = start(&store, fast()).await;
    wait_available(&store, "quickstart").await;
    // A MachineSet of this cluster that the store does not have (what a lost DELETED event or
    // a write result applied after the deletion leaves behind), newer than any tombstone.
    let ms = list(&store, "MachineSet")
        .into_iter()
        .next()
        .expect("a MachineSet");
    let mut ghost = ms.clone();
    ghost["metadata"]["name"] = json!("quickstart-md-0-ghost");
    ghost["metadata"]["uid"] = json!("00000000-0000-0000-0000-00000000beef");
    ghost["metadata"]["resourceVersion"] = json!((store.resource_version() + 1_000_000).to_string());
    let def = anywhere_capi_sim::kinds::by_kind("MachineSet").unwrap();
    sim.cache().upsert(def, Arc::new(ghost));
    assert!(
        sim.cache()
            .of_cluster(&key("quickstart"), "MachineSet")
            .iter()
            .any(|o| o["metadata"]["name"] == "quickstart-md-0-ghost")
    );
    delete_cluster(&store);
    wait_gone(&store, &sim, Duration::from_secs(20)).await;
    assert!(list(&store, "Machine").is_empty());
    sim.stop().await;
}

/// Delete the quickstart cluster repeatedly at the CLI's speed while busy threads compete for
/// the CPU, with a simulator restarted between create and delete like `anywhere delete`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_under_cpu_contention_finishes() {
    let iterations: usize = std::env::var("CAPI_SIM_DELETE_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let stop = Arc::new(AtomicBool::new(false));
    let hogs: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    std::hint::black_box(x);
                }
            })
        })
        .collect();
    for i in 0..iterations {
        let store = store();
        apply(&store, &quickstart());
        let mut options = anywhere_capi_sim::Options::with_speed(50.0);
        options.listen = None;
        let sim = start(&store, options.clone()).await;
        wait_available(&store, "quickstart").await;
        let sim = if i % 2 == 1 {
            sim.stop().await;
            start(&store, options).await
        } else {
            sim
        };
        delete_cluster(&store);
        wait_gone(&store, &sim, Duration::from_secs(20)).await;
        sim.stop().await;
    }
    stop.store(true, Ordering::Relaxed);
    for h in hogs {
        h.join().unwrap();
    }
}

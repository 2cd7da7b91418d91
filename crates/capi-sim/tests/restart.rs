//! Restartability (state derived from objects only) and pausing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use anywhere_apiserver::{Durability, Store, StoreOptions};
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_simulator_finishes_what_a_stopped_one_started() {
    let store = store();
    apply(&store, &quickstart());
    // Slow enough to stop it mid-provisioning.
    let mut options = fast();
    options.timings.speed = 20.0;
    let sim = start(&store, options.clone()).await;
    wait_for("a provisioning machine", || {
        machines(&store)
            .into_iter()
            .find(|m| m["status"]["phase"] == "Provisioning")
    })
    .await;
    sim.stop().await;
    let c = get(&store, "Cluster", "quickstart").unwrap();
    assert_ne!(cond(&c, "Available").as_deref(), Some("True"));
    let before = machines(&store).len();
    let sim = start(&store, fast()).await;
    wait_available(&store, "quickstart").await;
    assert_eq!(
        machines(&store).len(),
        3,
        "no machine duplicated by the restart (had {before} when stopped)"
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persisted_store_and_workloads_survive_a_process_restart() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Store::open_with(
            dir.path().join("mgmt"),
            StoreOptions {
                durability: Durability::Process,
                ..StoreOptions::default()
            },
        )
        .unwrap()
    };
    let mut options = fast();
    options.state_dir = Some(dir.path().join("sim"));
    {
        let store = open();
        anywhere_capi_sim::register_crds(&store).unwrap();
        ensure_namespace(&store, NS);
        apply(&store, &quickstart());
        let mut slow = options.clone();
        slow.timings.speed = 20.0;
        let sim = start(&store, slow).await;
        wait_for("control plane initialized", || {
            get(&store, "KubeadmControlPlane", "quickstart")
                .filter(|k| k["status"]["initialization"]["controlPlaneInitialized"] == true)
        })
        .await;
        sim.stop().await;
        // Dropping the store and simulator is what a killed CLI process leaves behind.
    }
    let store = open();
    let sim = start(&store, options).await;
    wait_available(&store, "quickstart").await;
    let workload = sim.workload_store(&key("quickstart")).unwrap();
    assert_eq!(count_nodes(&workload), 2);
    assert_eq!(machines(&store).len(), 3);
    sim.stop().await;
    // The workload store is on disk too.
    let reopened = Store::open(dir.path().join("sim/workload").join(NS).join("quickstart")).unwrap();
    assert_eq!(count_nodes(&reopened), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_cluster_does_not_change_until_unpaused() {
    let store = store();
    let mut objects = quickstart();
    objects.iter_mut().find(|o| o["kind"] == "Cluster").unwrap()["spec"]["paused"] = json!(true);
    apply(&store, &objects);
    let sim = start(&store, fast()).await;
    let c = wait_for("Paused condition", || {
        get(&store, "Cluster", "quickstart").filter(|c| is_cond_true(c, "Paused"))
    })
    .await;
    let rv = store.resource_version();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.resource_version(), rv, "nothing written while paused");
    assert!(machines(&store).is_empty());
    assert!(c["status"]["phase"].is_null());
    patch(
        &store,
        "Cluster",
        "quickstart",
        json!({"spec": {"paused": false}}),
    );
    wait_available(&store, "quickstart").await;

    // The annotation pauses too: a scale-up waits for it to go.
    patch(
        &store,
        "Cluster",
        "quickstart",
        json!({"metadata": {"annotations": {"cluster.x-k8s.io/paused": ""}}}),
    );
    wait_for("Paused condition", || {
        get(&store, "Cluster", "quickstart").filter(|c| is_cond_true(c, "Paused"))
    })
    .await;
    patch(
        &store,
        "MachineDeployment",
        "quickstart-md-0",
        json!({"spec": {"replicas": 2}}),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(list(&store, "MachineSet")[0]["spec"]["replicas"], 1);
    patch(
        &store,
        "Cluster",
        "quickstart",
        json!({"metadata": {"annotations": {"cluster.x-k8s.io/paused": null}}}),
    );
    wait_for("2 workers", || {
        get(&store, "MachineDeployment", "quickstart-md-0").filter(|m| m["status"]["readyReplicas"] == 2)
    })
    .await;
    wait_available(&store, "quickstart").await;
    sim.stop().await;
}

//! Fault injection: each fault produces its observable symptom, from code or from annotations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use anywhere_capi_sim::{ClusterFault, FAULT_ANNOTATION, MachineFault};
use common::*;
use serde_json::{Value, json};

fn worker(store: &anywhere_apiserver::Store) -> Option<Value> {
    machines(store).into_iter().find(|m| {
        m["metadata"]["labels"]
            .get("cluster.x-k8s.io/deployment-name")
            .is_some()
    })
}

fn annotate(objects: &mut [Value], kind: &str, value: &str) {
    let o = objects.iter_mut().find(|o| o["kind"] == kind).unwrap();
    o["metadata"]["annotations"] = json!({FAULT_ANNOTATION: value});
}

/// Waits until the control plane is ready, then lets 50 worker VM durations pass.
async fn settle(store: &anywhere_apiserver::Store) {
    wait_for("control plane ready", || {
        get(store, "KubeadmControlPlane", "quickstart").filter(|k| k["status"]["readyReplicas"] == 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_that_never_boots_stays_provisioning() {
    let store = store();
    apply(&store, &quickstart());
    let options = fast();
    options
        .faults
        .add_machine_fault("quickstart-md-0", MachineFault::NeverBoots);
    let sim = start(&store, options).await;
    settle(&store).await;
    let w = worker(&store).unwrap();
    assert_eq!(w["status"]["phase"], "Provisioning");
    assert!(w["spec"]["providerID"].is_null());
    let c = get(&store, "Cluster", "quickstart").unwrap();
    assert_eq!(cond(&c, "Available").as_deref(), Some("False"));
    assert_eq!(cond(&c, "WorkersAvailable").as_deref(), Some("False"));
    // Clearing the fault lets it boot.
    sim.faults().clear_machine_faults();
    sim.resync();
    wait_available(&store, "quickstart").await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_machine_takes_longer_by_its_factor() {
    let store = store();
    let mut objects = quickstart();
    annotate(&mut objects, "MachineDeployment", "slow=5");
    apply(&store, &objects);
    let options = fast();
    let timings = options.timings;
    let sim = start(&store, options).await;
    wait_available(&store, "quickstart").await;
    let ms = |m: &Value, k: &str| -> u64 {
        let infra = get(&store, "DockerMachine", m["metadata"]["name"].as_str().unwrap()).unwrap();
        infra["metadata"]["annotations"][k]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let w = worker(&store).unwrap();
    let took = ms(&w, "capi-sim.anywhere.eks.amazonaws.com/infra-ready-ms")
        - ms(&w, "capi-sim.anywhere.eks.amazonaws.com/provision-started-ms");
    let base = timings.vm.as_millis() as f64 / timings.speed;
    assert!(
        took as f64 >= 5.0 * base - 1.0,
        "slow worker took {took} ms for a {base} ms VM"
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioning_failure_marks_the_infrastructure_and_the_machine() {
    let store = store();
    let mut objects = quickstart();
    annotate(
        &mut objects,
        "MachineDeployment",
        "provision-fail=InsufficientCapacity",
    );
    apply(&store, &objects);
    let sim = start(&store, fast()).await;
    let w = wait_for("failed worker", || {
        worker(&store).filter(|w| w["status"]["phase"] == "Failed")
    })
    .await;
    assert_eq!(
        w["status"]["deprecated"]["v1beta1"]["failureReason"],
        "CreateError"
    );
    let infra = get(&store, "DockerMachine", w["metadata"]["name"].as_str().unwrap()).unwrap();
    let ready = infra["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "InsufficientCapacity");
    assert_eq!(cond(&w, "InfrastructureReady").as_deref(), Some("False"));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bmc_shows_on_the_tinkerbell_machine() {
    let store = store();
    let mut objects = data("tinkerbell.yaml");
    let name = objects.iter().find(|o| o["kind"] == "Cluster").unwrap()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    annotate(&mut objects, "MachineDeployment", "bmc-unreachable");
    apply(&store, &objects);
    let sim = start(&store, fast()).await;
    let w = wait_for("worker with an unreachable BMC", || {
        let w = worker(&store)?;
        let tm = get(&store, "TinkerbellMachine", w["metadata"]["name"].as_str()?)?;
        let bmc = tm["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "BMCReady")?
            .clone();
        (bmc["status"] == "False"
            && bmc["reason"] == "BMCUnreachable"
            && w["status"]["phase"] == "Provisioning")
            .then_some(w)
    })
    .await;
    assert!(w["spec"]["providerID"].is_null());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = get(&store, "Machine", w["metadata"]["name"].as_str().unwrap()).unwrap();
    assert_eq!(again["status"]["phase"], "Provisioning", "it never provisions");
    let c = get(&store, "Cluster", &name).unwrap();
    assert_ne!(cond(&c, "Available").as_deref(), Some("True"));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_is_not_ready_keeps_workers_unavailable() {
    let store = store();
    let mut objects = quickstart();
    annotate(&mut objects, "MachineDeployment", "node-not-ready");
    apply(&store, &objects);
    let sim = start(&store, fast()).await;
    let w = wait_for("worker with a node", || {
        worker(&store).filter(|w| w["status"]["nodeRef"]["name"].is_string())
    })
    .await;
    assert_eq!(cond(&w, "NodeHealthy").as_deref(), Some("False"));
    let md = get(&store, "MachineDeployment", "quickstart-md-0").unwrap();
    assert_eq!(md["status"]["readyReplicas"], 0);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workload_api_fails_while_annotated_and_the_cluster_turns_unavailable() {
    let store = store();
    apply(&store, &quickstart());
    let sim = start(&store, fast()).await;
    wait_available(&store, "quickstart").await;
    patch(
        &store,
        "Cluster",
        "quickstart",
        json!({"metadata": {"annotations": {FAULT_ANNOTATION: "workload-api-error=500"}}}),
    );
    let url = sim.workloads().url(&key("quickstart")).unwrap();
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
    wait_for("cluster unavailable", || {
        get(&store, "Cluster", "quickstart")
            .filter(|c| cond(c, "RemoteConnectionProbe").as_deref() == Some("False"))
    })
    .await;
    match nodes.list(&Default::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 500),
        other => panic!("expected a 500, got {other:?}"),
    }
    let c = get(&store, "Cluster", "quickstart").unwrap();
    assert_eq!(cond(&c, "Available").as_deref(), Some("False"));
    patch(
        &store,
        "Cluster",
        "quickstart",
        json!({"metadata": {"annotations": {FAULT_ANNOTATION: null}}}),
    );
    wait_available(&store, "quickstart").await;
    assert_eq!(nodes.list(&Default::default()).await.unwrap().items.len(), 2);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_api_errors_stall_progress_until_cleared() {
    let store = store();
    apply(&store, &quickstart());
    let options = fast();
    options
        .faults
        .add_cluster_fault(&key("quickstart"), ClusterFault::ManagementApiError);
    let sim = start(&store, options).await;
    wait_for("reconcile errors", || {
        (sim.observer().counters(&key("quickstart")).errors >= 3).then_some(())
    })
    .await;
    assert!(machines(&store).is_empty());
    assert!(get(&store, "Cluster", "quickstart").unwrap()["status"].is_null());
    sim.faults().clear_cluster_faults(&key("quickstart"));
    wait_available(&store, "quickstart").await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_deletion_keeps_the_machine() {
    let store = store();
    let mut objects = quickstart();
    annotate(&mut objects, "MachineDeployment", "stuck-deletion");
    apply(&store, &objects);
    let sim = start(&store, fast()).await;
    wait_available(&store, "quickstart").await;
    patch(
        &store,
        "MachineDeployment",
        "quickstart-md-0",
        json!({"spec": {"replicas": 0}}),
    );
    let w = wait_for("deleting worker", || {
        worker(&store).filter(|w| w["status"]["phase"] == "Deleting")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = get(&store, "Machine", w["metadata"]["name"].as_str().unwrap()).expect("still there");
    assert!(again["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(
        again["metadata"]["finalizers"],
        json!(["machine.cluster.x-k8s.io"])
    );
    sim.stop().await;
}

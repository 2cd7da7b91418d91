//! Fleet benchmark: one management plane (the in-memory API server, the Cluster API simulator
//! and the anywhere controller over real HTTP through kube-rs) creating N workload clusters at
//! once, as GitOps or Terraform would by applying N Cluster specs. Reports the time until all N
//! are Ready, the controller's reconciles and the process's peak memory, per N, each N in a fresh
//! process so peaks do not mix.
//!
//! `cargo bench -p anywhere-engine --bench fleet` (sizes: `FLEET_SIZES=100,1000,10000`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anywhere_apiserver::{CreateRequest, Gvr, ListRequest, Store, StoreOptions, WriteOptions};
use anywhere_engine::controller::{self, FIELD_MANAGER};
use serde_json::{Value, json};

/// A memory figure of this process from /proc/self/status (`VmHWM` peak, `VmRSS` now), in MB.
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

fn current_rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// For clusters that never became Ready: how many are held at each (condition, reason), and for a
/// few, their conditions and the phases of their Cluster API machines, so a stall can be traced.
fn report_stuck(store: &Store, clusters: &[Arc<Value>]) {
    let not_ready: Vec<&Arc<Value>> = clusters
        .iter()
        .filter(|c| {
            !c["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
        .collect();
    let mut by_reason = std::collections::BTreeMap::<String, usize>::new();
    for c in &not_ready {
        let key = c["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
            .map(|r| format!("{} {}", r["reason"].as_str().unwrap_or("-"), r["status"]))
            .unwrap_or_else(|| "no Ready condition".into());
        *by_reason.entry(key).or_default() += 1;
    }
    eprintln!("stuck: {} clusters not Ready: {by_reason:?}", not_ready.len());
    let machines = store
        .list(&ListRequest {
            gvr: Gvr::new("cluster.x-k8s.io", "v1beta2", "machines"),
            namespace: Some("eksa-system".into()),
            ..ListRequest::default()
        })
        .map(|l| l.items)
        .unwrap_or_default();
    for c in not_ready.iter().take(8) {
        let name = c["metadata"]["name"].as_str().unwrap_or("");
        eprintln!(
            "stuck: {name} generation={} observed={} conditions={}",
            c["metadata"]["generation"], c["status"]["observedGeneration"], c["status"]["conditions"]
        );
        for m in machines
            .iter()
            .filter(|m| m["spec"]["clusterName"].as_str() == Some(name))
        {
            eprintln!(
                "stuck:   machine {} phase={} deleting={} nodeRef={}",
                m["metadata"]["name"],
                m["status"]["phase"],
                m["metadata"]["deletionTimestamp"],
                m["status"]["nodeRef"]["name"]
            );
        }
    }
}

fn cluster(i: usize) -> (Value, Value) {
    let name = format!("fleet-{i:05}");
    (
        json!({"apiVersion": "anywhere.eks.amazonaws.com/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "clusterNetwork": {"cniConfig": {"cilium": {}},
                    "pods": {"cidrBlocks": ["192.168.0.0/16"]}, "services": {"cidrBlocks": ["10.96.0.0/12"]}},
                "controlPlaneConfiguration": {"count": 1},
                "datacenterRef": {"kind": "DockerDatacenterConfig", "name": name},
                "kubernetesVersion": "1.35",
                "managementCluster": {"name": name},
                "workerNodeGroupConfigurations": [{"count": 1, "name": "md-0"}]}}),
        json!({"apiVersion": "anywhere.eks.amazonaws.com/v1alpha1", "kind": "DockerDatacenterConfig",
            "metadata": {"name": name, "namespace": "default"}, "spec": {}}),
    )
}

async fn one(n: usize) -> String {
    // Watch history per kind: the default (4096 events) keeps thousands of old copies of large
    // objects such as KubeadmControlPlanes; a fleet needs less.
    let history = std::env::var("FLEET_HISTORY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let store = Store::with_options(StoreOptions {
        history_per_kind: history,
        ..StoreOptions::default()
    });
    for crd in anywhere_engine::crds::all() {
        store.register_crd(crd).unwrap();
    }
    anywhere_capi_sim::register_crds(&store).unwrap();
    let server = anywhere_apiserver::serve_local(store.clone()).await.unwrap();
    let speed: f64 = std::env::var("FLEET_SPEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100.0);
    let sim = anywhere_capi_sim::Simulator::start(
        store.clone(),
        anywhere_capi_sim::Options {
            timeline: false,
            static_pods: false,
            ..anywhere_capi_sim::Options::with_speed(speed)
        },
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let options = controller::Options {
        catalog: Arc::new(anywhere_catalog::Catalog::embedded().clone()),
        credentials: anywhere_manifests::Credentials::default(),
        poll: Duration::from_secs(2),
        concurrency: 32,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (stats_tx, stats_rx) = tokio::sync::oneshot::channel();
    let controller = tokio::spawn(controller::run(
        anywhere_engine::Kube::new(client, FIELD_MANAGER),
        options,
        async move {
            let _ = stop_rx.await;
        },
        Some(stats_tx),
    ));
    let stats = stats_rx.await.unwrap();
    let started = Instant::now();
    for i in 0..n {
        let (c, dc) = cluster(i);
        for (resource, object) in [("dockerdatacenterconfigs", dc), ("clusters", c)] {
            store
                .create(CreateRequest {
                    gvr: Gvr::new("anywhere.eks.amazonaws.com", "v1alpha1", resource),
                    namespace: Some("default".into()),
                    object,
                    options: WriteOptions::default(),
                })
                .unwrap();
        }
    }
    let applied = started.elapsed();
    let limit = Duration::from_secs(
        std::env::var("FLEET_LIMIT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1800),
    );
    let mut last_progress = Instant::now();
    let ready = loop {
        let list = store
            .list(&ListRequest {
                gvr: Gvr::new("anywhere.eks.amazonaws.com", "v1alpha1", "clusters"),
                namespace: Some("default".into()),
                ..ListRequest::default()
            })
            .unwrap();
        let ready = list
            .items
            .iter()
            .filter(|c| {
                c["status"]["conditions"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
            })
            .count();
        if ready == n || started.elapsed() > limit {
            if ready < n {
                report_stuck(&store, &list.items);
            }
            break ready;
        }
        if last_progress.elapsed() >= Duration::from_secs(10) {
            last_progress = Instant::now();
            eprintln!(
                "progress: t={:.0}s ready={ready}/{n} requests={} lists={} watches={} reconciles={} retriggered={} resynced={} in_flight={:?} fds={} rss={:.0}MB",
                started.elapsed().as_secs_f64(),
                server.counters().requests(),
                server.counters().lists(),
                server.counters().watches(),
                stats.reconciles(),
                stats.retriggered(),
                stats.resynced(),
                stats.in_flight(),
                std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
                current_rss_mb()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let took = started.elapsed();
    let line = format!(
        "{{\"n\": {n}, \"ready\": {ready}, \"applied_s\": {:.2}, \"all_ready_s\": {:.2}, \"reconciles\": {}, \"peak_rss_mb\": {:.0}, \"requests\": {}}}",
        applied.as_secs_f64(),
        took.as_secs_f64(),
        stats.reconciles(),
        peak_rss_mb(),
        server.counters().requests()
    );
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), controller).await;
    sim.stop().await;
    line
}

fn main() {
    if let Ok(n) = std::env::var("FLEET_CHILD_N") {
        let n: usize = n.parse().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        println!("{}", rt.block_on(one(n)));
        return;
    }
    let sizes = std::env::var("FLEET_SIZES").unwrap_or_else(|_| "100,1000".into());
    println!(
        "| clusters | all Ready (s) | s per cluster | reconciles | API requests | peak RSS (MB) | MB per cluster |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes.split(',').filter_map(|s| s.trim().parse::<usize>().ok()) {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .env("FLEET_CHILD_N", n.to_string())
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().find(|l| l.starts_with('{')) else {
            eprintln!("N={n}: no result ({})", out.status);
            continue;
        };
        let v: Value = serde_json::from_str(line).unwrap();
        let secs = v["all_ready_s"].as_f64().unwrap();
        let rss = v["peak_rss_mb"].as_f64().unwrap();
        println!(
            "| {n} ({} Ready) | {secs:.1} | {:.4} | {} | {} | {rss:.0} | {:.3} |",
            v["ready"],
            secs / n as f64,
            v["reconciles"],
            v["requests"],
            rss / n as f64
        );
    }
}

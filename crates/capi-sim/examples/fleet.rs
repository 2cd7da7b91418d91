//! Fleet benchmark: N simulated clusters (1 control-plane machine + 1 worker, Docker provider,
//! the generator's quickstart output renamed) created at once in one management store.
//! Reports the time until every Cluster is Available and the peak RSS (VmHWM).
//!
//! `cargo run --release -p anywhere-capi-sim --example fleet -- N [SPEED]`
//! Run one N per process: VmHWM is a process-lifetime peak.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use anywhere_apiserver::{CreateRequest, Gvr, ListRequest, Store, StoreOptions, WriteOptions};
use anywhere_capi_sim::{Options, Simulator};
use serde_json::{Value, json};

const NS: &str = "fleet";

fn template() -> Vec<Value> {
    use anywhere_api::{Reading, defaults};
    use anywhere_manifests::{Credentials, Features, Inputs, ProviderObjects, TemplateNames};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart.yaml");
    let text = std::fs::read_to_string(path).expect("quickstart spec");
    let mut set = anywhere_api::parse_config_set_all(&text, Reading::Strict).expect("parse");
    defaults::apply_parse_time(&mut set, &defaults::DefaultsOptions::default());
    defaults::apply_providers(&mut set);
    let provider = ProviderObjects::from_config_set(&set).expect("provider");
    let names = TemplateNames::initial(&set.cluster, &["md-0".to_string()]);
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog: anywhere_catalog::Catalog::embedded(),
        credentials: &Credentials::default(),
        features: Features::default(),
        names: &names,
        tinkerbell_bootstrap_ip: None,
    };
    let mut out: Vec<Value> = anywhere_manifests::cluster(&inputs)
        .expect("generate")
        .into_iter()
        .map(|m| m.0)
        .collect();
    // 1 control plane + 1 worker, stacked etcd.
    out.retain(|o| {
        o["kind"] != "EtcdadmCluster" && !o["metadata"]["name"].as_str().unwrap_or("").contains("etcd")
    });
    for o in &mut out {
        if o["kind"] == "Cluster" {
            o["spec"]
                .as_object_mut()
                .unwrap()
                .remove("managedExternalEtcdRef");
        }
        o["metadata"]["namespace"] = json!(NS);
    }
    out
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let speed: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n, speed));
}

async fn run(n: usize, speed: f64) {
    // The management store keeps `FLEET_HISTORY` watch events per kind (default 4096 holds
    // thousands of old copies of large objects such as KubeadmControlPlanes).
    let history = std::env::var("FLEET_HISTORY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4096);
    let store = Store::with_options(StoreOptions {
        history_per_kind: history,
        ..StoreOptions::default()
    });
    anywhere_capi_sim::register_crds(&store).unwrap();
    store
        .create(CreateRequest {
            gvr: Gvr::core("namespaces"),
            namespace: None,
            object: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
            options: WriteOptions::default(),
        })
        .unwrap();
    let text = serde_json::to_string(&template()).unwrap();
    let mut options = Options::with_speed(speed);
    options.timeline = false;
    options.static_pods = std::env::var("FLEET_STATIC_PODS").map_or(true, |v| v != "0");
    let sim = Simulator::start(store.clone(), options).await.unwrap();
    let start = Instant::now();
    for i in 0..n {
        let objs: Vec<Value> =
            serde_json::from_str(&text.replace("quickstart", &format!("c{i:05}"))).unwrap();
        for o in objs {
            let gvr = store
                .resolve_kind(o["apiVersion"].as_str().unwrap(), o["kind"].as_str().unwrap())
                .unwrap();
            store
                .create(CreateRequest {
                    gvr,
                    namespace: Some(NS.into()),
                    object: o,
                    options: WriteOptions::default(),
                })
                .unwrap();
        }
        if i % 500 == 499 {
            tokio::task::yield_now().await;
        }
    }
    let applied = start.elapsed();
    let clusters = Gvr::new("cluster.x-k8s.io", "v1beta2", "clusters");
    let mut last_report = Instant::now();
    loop {
        let l = store
            .list(&ListRequest {
                gvr: clusters.clone(),
                namespace: Some(NS.into()),
                ..ListRequest::default()
            })
            .unwrap();
        let available = l
            .items
            .iter()
            .filter(|c| {
                c["status"]["conditions"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|x| x["type"] == "Available" && x["status"] == "True")
                })
            })
            .count();
        if available == n {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  {:>6.1}s {available}/{n} available, {} queued",
                start.elapsed().as_secs_f64(),
                sim.queued()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = start.elapsed();
    let t = sim.observer().total();
    println!(
        "clusters={n} speed={speed} applied_in={:.2}s all_available_in={:.2}s peak_rss={} MiB objects={} workload_stores={} reconciles={} writes={} ({:.1} reconciles/cluster)",
        applied.as_secs_f64(),
        elapsed.as_secs_f64(),
        vm_hwm_kib() / 1024,
        sim.cache().len(),
        sim.workloads().len(),
        t.reconciles,
        t.writes,
        t.reconciles as f64 / n as f64,
    );
    sim.stop().await;
}

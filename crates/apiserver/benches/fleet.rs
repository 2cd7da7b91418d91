//! Throughput of the in-memory API server, through kube-rs over HTTP and in-process.
//!
//! Run: `cargo bench -p anywhere-apiserver --bench fleet` (env `FLEET_CLUSTERS`, default
//! 10000, sizes the in-process fleet fill: clusters x 20 objects).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use anywhere_apiserver::{CreateRequest, Gvr, Store, WriteOptions, serve_local};
use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

const CONCURRENCY: usize = 16;

fn rate(n: usize, d: Duration) -> String {
    format!(
        "{n} in {:.2}s = {:.0}/s",
        d.as_secs_f64(),
        n as f64 / d.as_secs_f64()
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let clusters: usize = std::env::var("FLEET_CLUSTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);

    // In-process fleet fill: clusters x 20 objects spread over 4 kinds and 100 namespaces.
    let store = Store::in_memory();
    for ns in 0..100 {
        store
            .create(CreateRequest {
                gvr: Gvr::core("namespaces"),
                namespace: None,
                object: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("ns{ns}")}}),
                options: WriteOptions::default(),
            })
            .unwrap();
    }
    let kinds = [
        ("configmaps", "ConfigMap"),
        ("secrets", "Secret"),
        ("pods", "Pod"),
        ("services", "Service"),
    ];
    let t = Instant::now();
    let mut n = 0;
    for c in 0..clusters {
        for i in 0..20 {
            let (plural, kind) = kinds[i % 4];
            store
                .create(CreateRequest {
                    gvr: Gvr::core(plural),
                    namespace: Some(format!("ns{}", c % 100)),
                    object: json!({"apiVersion": "v1", "kind": kind,
                        "metadata": {"name": format!("c{c}-o{i}"), "labels": {"cluster.x-k8s.io/cluster-name": format!("c{c}")}},
                        "spec": {"replicas": 1, "image": "registry.example/x:v1"}}),
                    options: WriteOptions::default(),
                })
                .unwrap();
            n += 1;
        }
    }
    println!(
        "in-process creates (fleet fill, {clusters} clusters x 20): {}",
        rate(n, t.elapsed())
    );
    let t = Instant::now();
    let l = store
        .list(&anywhere_apiserver::ListRequest {
            gvr: Gvr::core("pods"),
            label_selector: Some("cluster.x-k8s.io/cluster-name=c42".into()),
            ..Default::default()
        })
        .unwrap();
    println!(
        "in-process label-selected list over {} pods: {} items in {:?}",
        n / 4,
        l.items.len(),
        t.elapsed()
    );

    // Over HTTP with kube-rs: a fresh store so numbers are not skewed by the fill above.
    let store = Store::in_memory();
    let server = serve_local(store.clone()).await.unwrap();
    let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let total = 5_000;

    // Watch fan-out: 8 watchers on configmaps, each must see every create.
    let watchers = 8;
    let mut handles = Vec::new();
    for _ in 0..watchers {
        let api = api.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        handles.push((
            tokio::spawn(async move {
                let mut s = watcher::watcher(api, watcher::Config::default()).boxed();
                let mut ready = Some(ready_tx);
                let mut seen = 0usize;
                while let Some(e) = s.next().await {
                    match e {
                        Ok(watcher::Event::InitDone) => {
                            if let Some(r) = ready.take() {
                                let _ = r.send(());
                            }
                        }
                        Ok(watcher::Event::Apply(_)) => {
                            seen += 1;
                            if seen == total {
                                return Instant::now();
                            }
                        }
                        _ => {}
                    }
                }
                Instant::now()
            }),
            ready_rx,
        ));
    }
    for (_, r) in &mut handles {
        r.await.unwrap();
    }

    let t = Instant::now();
    stream::iter(0..total)
        .for_each_concurrent(CONCURRENCY, |i| {
            let api = api.clone();
            async move {
                let cm = ConfigMap {
                    metadata: kube::api::ObjectMeta {
                        name: Some(format!("cm{i}")),
                        ..Default::default()
                    },
                    data: Some([("k".to_string(), "v".to_string())].into()),
                    ..Default::default()
                };
                api.create(&PostParams::default(), &cm).await.unwrap();
            }
        })
        .await;
    let create_time = t.elapsed();
    println!(
        "kube-rs creates over HTTP (concurrency {CONCURRENCY}, {watchers} watchers attached): {}",
        rate(total, create_time)
    );
    let mut last = t;
    for (h, _) in handles {
        last = last.max(h.await.unwrap());
    }
    let fan = last.duration_since(t);
    println!(
        "watch fan-out: {watchers} kube-runtime watchers each saw all {total} events within {:.2}s of the first create ({:.0} events/s delivered)",
        fan.as_secs_f64(),
        (watchers * total) as f64 / fan.as_secs_f64()
    );

    let t = Instant::now();
    stream::iter(0..total)
        .for_each_concurrent(CONCURRENCY, |i| {
            let api = api.clone();
            async move {
                let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm{i}")},
                                  "data": {"owned": format!("v{i}")}});
                api.patch(&format!("cm{i}"), &PatchParams::apply("bench").force(), &Patch::Apply(&body)).await.unwrap();
            }
        })
        .await;
    println!(
        "kube-rs server-side apply patches over HTTP: {}",
        rate(total, t.elapsed())
    );

    let t = Instant::now();
    let mut n = 0;
    for _ in 0..20 {
        n += api.list(&Default::default()).await.unwrap().items.len();
    }
    println!(
        "kube-rs full lists of {total} configmaps: 20 lists ({n} items) in {:.2}s",
        t.elapsed().as_secs_f64()
    );
    println!("requests served: {}", server.counters().requests());
}

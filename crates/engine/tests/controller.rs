//! The controller end to end in one process: the in-memory API server over real HTTP, the
//! Cluster API simulator, and the controller through kube-rs. A cluster converges to Ready with
//! every EKS-A condition, then stays quiet (no hot loop); an invalid spec is reported on the
//! status with the field; deleting the Cluster removes every Cluster API object through the
//! finalizer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anywhere_apiserver::{Gvr, ListRequest, Store, StoreOptions, Target};
use anywhere_engine::controller::{self, FIELD_MANAGER};
use anywhere_engine::{Kube, conditions};
use serde_json::Value;

struct Plane {
    store: Store,
    kube: Kube,
    stats: controller::Stats,
    _server: anywhere_apiserver::Server,
    _sim: anywhere_capi_sim::Simulator,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn plane() -> Plane {
    plane_with(StoreOptions::default()).await
}

async fn plane_with(options: StoreOptions) -> Plane {
    let store = Store::with_options(options);
    for crd in anywhere_engine::crds::all() {
        store.register_crd(crd).unwrap();
    }
    anywhere_capi_sim::register_crds(&store).unwrap();
    let server = anywhere_apiserver::serve_local(store.clone()).await.unwrap();
    let sim =
        anywhere_capi_sim::Simulator::start(store.clone(), anywhere_capi_sim::Options::with_speed(200.0))
            .await
            .unwrap();
    let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(controller::run(
        Kube::new(client.clone(), FIELD_MANAGER),
        controller::Options {
            catalog: Arc::new(anywhere_catalog::Catalog::embedded().clone()),
            credentials: anywhere_manifests::Credentials::default(),
            poll: Duration::from_millis(100),
            concurrency: 4,
        },
        async move {
            let _ = stopped.await;
        },
        Some(tx),
    ));
    Plane {
        store,
        kube: Kube::new(client, "test"),
        stats: rx.await.unwrap(),
        _server: server,
        _sim: sim,
        _stop: stop,
    }
}

fn quickstart() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/quickstart.yaml"
    ))
    .unwrap();
    let mut docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    for d in &mut docs {
        d["metadata"]["namespace"] = "default".into();
    }
    docs
}

fn cluster(store: &Store) -> Option<Value> {
    store
        .get(&Target::namespaced(
            Gvr::new("anywhere.eks.amazonaws.com", "v1alpha1", "clusters"),
            "default",
            "quickstart",
        ))
        .ok()
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(store: &Store, gvr: Gvr) -> usize {
    store
        .list(&ListRequest {
            gvr,
            namespace: Some("eksa-system".into()),
            ..ListRequest::default()
        })
        .unwrap()
        .items
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_converges_stays_quiet_reports_bad_specs_and_deletes() {
    let p = plane().await;
    for object in quickstart().iter().rev() {
        p.kube.apply(object).await.unwrap();
    }
    until("Ready", || {
        cluster(&p.store).is_some_and(|c| conditions::is_true(&c, conditions::READY))
    })
    .await;
    let c = cluster(&p.store).unwrap();
    for kind in [
        conditions::CONTROL_PLANE_INITIALIZED,
        conditions::CONTROL_PLANE_READY,
        conditions::DEFAULT_CNI_CONFIGURED,
        conditions::WORKERS_READY,
    ] {
        assert!(conditions::is_true(&c, kind), "{kind}: {}", c["status"]);
    }
    assert_eq!(c["metadata"]["finalizers"][0], controller::FINALIZER);

    // Converged: no more reconciles while nothing changes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let settled = p.stats.reconciles();
    let rv = p.store.resource_version();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        p.stats.reconciles(),
        settled,
        "the controller keeps reconciling a converged cluster"
    );
    assert_eq!(
        p.store.resource_version(),
        rv,
        "something keeps writing to a converged cluster"
    );

    // An invalid spec: reported with the field, nothing applied.
    let mut bad = quickstart()[0].clone();
    bad["spec"]["controlPlaneConfiguration"]["count"] = 0.into();
    p.kube.apply(&bad).await.unwrap();
    until("ValidationFailed", || {
        cluster(&p.store).is_some_and(|c| c["status"]["failureReason"] == "ValidationFailed")
    })
    .await;
    let c = cluster(&p.store).unwrap();
    assert!(
        c["status"]["failureMessage"]
            .as_str()
            .unwrap()
            .contains("controlPlaneConfiguration"),
        "{}",
        c["status"]
    );
    assert!(!conditions::is_true(&c, conditions::READY));
    p.kube.apply(&quickstart()[0]).await.unwrap();
    until("Ready again", || {
        cluster(&p.store).is_some_and(|c| {
            c["status"]["failureReason"].is_null() && conditions::is_true(&c, conditions::READY)
        })
    })
    .await;

    // Delete: the finalizer takes the Cluster API cluster and everything applied with it.
    p.kube
        .delete(controller::API_VERSION, "Cluster", Some("default"), "quickstart")
        .await
        .unwrap();
    until("the Cluster to go", || cluster(&p.store).is_none()).await;
    for gvr in [
        Gvr::new("cluster.x-k8s.io", "v1beta2", "clusters"),
        Gvr::new("cluster.x-k8s.io", "v1beta2", "machines"),
        Gvr::new("controlplane.cluster.x-k8s.io", "v1beta2", "kubeadmcontrolplanes"),
        Gvr::new(
            "infrastructure.cluster.x-k8s.io",
            "v1beta2",
            "dockermachinetemplates",
        ),
        Gvr::new("bootstrap.cluster.x-k8s.io", "v1beta2", "kubeadmconfigtemplates"),
    ] {
        assert_eq!(count(&p.store, gvr.clone()), 0, "{gvr:?} left behind");
    }
}

fn small_cluster(i: usize) -> [(&'static str, Value); 2] {
    let name = format!("burst-{i:03}");
    [
        (
            "dockerdatacenterconfigs",
            serde_json::json!({"apiVersion": "anywhere.eks.amazonaws.com/v1alpha1",
                "kind": "DockerDatacenterConfig",
                "metadata": {"name": name, "namespace": "default"}, "spec": {}}),
        ),
        (
            "clusters",
            serde_json::json!({"apiVersion": "anywhere.eks.amazonaws.com/v1alpha1", "kind": "Cluster",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {
                    "clusterNetwork": {"cniConfig": {"cilium": {}},
                        "pods": {"cidrBlocks": ["192.168.0.0/16"]},
                        "services": {"cidrBlocks": ["10.96.0.0/12"]}},
                    "controlPlaneConfiguration": {"count": 1},
                    "datacenterRef": {"kind": "DockerDatacenterConfig", "name": name},
                    "kubernetesVersion": "1.35",
                    "managementCluster": {"name": name},
                    "workerNodeGroupConfigurations": [{"count": 1, "name": "md-0"}]}}),
        ),
    ]
}

/// Clusters created while the controller's watches keep ending and relisting (a short event
/// history, watches cut every few creates: what a real API server does to a watcher that falls
/// behind) are all reconciled to Ready — none is dropped by kube-runtime's cache swap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_created_while_watches_relist_are_all_reconciled() {
    let p = plane_with(StoreOptions {
        history_per_kind: 4,
        // Relists come in pages of 3, so a relist spans several requests: kube-runtime
        // triggers reconciles from the first pages before its cache holds them.
        max_page: Some(3),
        ..StoreOptions::default()
    })
    .await;
    let n = 40;
    // Newest first in name order, so a relist returns the clusters the controller has not seen
    // in its first pages; every third create cuts every watch. No cuts after the last batch:
    // a reconcile dropped then is never asked for again unless the controller does so itself.
    for i in (0..n).rev() {
        for (resource, object) in small_cluster(i) {
            p.store
                .create(anywhere_apiserver::CreateRequest {
                    gvr: Gvr::new("anywhere.eks.amazonaws.com", "v1alpha1", resource),
                    namespace: Some("default".into()),
                    object,
                    options: anywhere_apiserver::WriteOptions::default(),
                })
                .unwrap();
        }
        if i % 3 == 0 {
            p.store.restart_watches();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // From here on watches keep up and resume without relisting: nothing but the controller
    // itself can bring back a reconcile dropped during the relists above.
    p.store.set_history_per_kind(100_000);
    let deadline = Instant::now() + Duration::from_secs(180);
    let not_ready = loop {
        let clusters = p
            .store
            .list(&ListRequest {
                gvr: Gvr::new("anywhere.eks.amazonaws.com", "v1alpha1", "clusters"),
                namespace: Some("default".into()),
                ..ListRequest::default()
            })
            .unwrap();
        let not_ready: Vec<String> = clusters
            .items
            .iter()
            .filter(|c| !conditions::is_true(c, conditions::READY))
            .map(|c| c["metadata"]["name"].as_str().unwrap_or_default().to_string())
            .collect();
        if not_ready.is_empty() || Instant::now() > deadline {
            break not_ready;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!(
        "retriggered {}, resynced {}, watches {}",
        p.stats.retriggered(),
        p.stats.resynced(),
        p._server.counters().watches()
    );
    assert!(
        not_ready.is_empty(),
        "never Ready: {not_ready:?} (retriggered {}, resynced {})",
        p.stats.retriggered(),
        p.stats.resynced()
    );
}

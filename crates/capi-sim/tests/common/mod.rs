//! Shared test helpers: generate manifests with the project's generator, apply them to a store,
//! wait for conditions (timeouts are a safety net, never an assertion about speed).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anywhere_apiserver::{CreateRequest, Gvr, ListRequest, Patch, PatchRequest, Store, Target, WriteOptions};
use anywhere_capi_sim::{ClusterKey, Options, Simulator};
use serde_json::{Value, json};

pub const NS: &str = "eksa-system";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the project's manifest generator on a cluster spec file.
pub fn manifests(spec_path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(spec_path).expect("read spec");
    manifests_from_text(&text)
}

pub fn manifests_from_text(text: &str) -> Vec<Value> {
    use anywhere_api::{Reading, defaults};
    use anywhere_manifests::{Credentials, Features, Inputs, ProviderObjects, TemplateNames};
    let mut set = anywhere_api::parse_config_set_all(text, Reading::Strict).expect("parse spec");
    defaults::apply_parse_time(&mut set, &defaults::DefaultsOptions::default());
    defaults::apply_providers(&mut set);
    let provider = ProviderObjects::from_config_set(&set).expect("provider objects");
    let groups: Vec<String> = set
        .cluster
        .spec
        .iter()
        .flat_map(|s| s.worker_node_group_configurations.iter().flatten())
        .filter_map(|w| w.name.clone())
        .collect();
    let names = TemplateNames::initial(&set.cluster, &groups);
    let catalog = anywhere_catalog::Catalog::embedded();
    let credentials = Credentials::default();
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog,
        credentials: &credentials,
        features: Features::default(),
        names: &names,
        tinkerbell_bootstrap_ip: None,
    };
    anywhere_manifests::cluster(&inputs)
        .expect("generate")
        .into_iter()
        .map(|m| m.0)
        .collect()
}

pub fn quickstart() -> Vec<Value> {
    manifests(&repo_root().join("examples/quickstart.yaml"))
}

pub fn data(name: &str) -> Vec<Value> {
    manifests(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
}

/// A store with the simulator's CRDs and the namespace.
pub fn store() -> Store {
    let store = Store::in_memory();
    anywhere_capi_sim::register_crds(&store).expect("crds");
    ensure_namespace(&store, NS);
    store
}

pub fn ensure_namespace(store: &Store, ns: &str) {
    let _ = store.create(CreateRequest {
        gvr: Gvr::core("namespaces"),
        namespace: None,
        object: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        options: WriteOptions::default(),
    });
}

/// Creates every object (namespaces as needed).
pub fn apply(store: &Store, objects: &[Value]) {
    for o in objects {
        let av = o["apiVersion"].as_str().unwrap();
        let kind = o["kind"].as_str().unwrap();
        let gvr = store
            .resolve_kind(av, kind)
            .unwrap_or_else(|| panic!("unknown kind {av} {kind}"));
        let ns = o["metadata"]["namespace"].as_str().map(String::from);
        if let Some(n) = &ns {
            ensure_namespace(store, n);
        }
        let namespaced = store.is_namespaced(&gvr).unwrap_or(true);
        store
            .create(CreateRequest {
                gvr,
                namespace: if namespaced {
                    ns.or(Some("default".into()))
                } else {
                    None
                },
                object: o.clone(),
                options: WriteOptions::default(),
            })
            .unwrap_or_else(|e| panic!("create {kind}: {e}"));
    }
}

pub fn fast() -> Options {
    let mut o = Options::with_speed(1000.0);
    o.workers = 2;
    o
}

pub async fn start(store: &Store, options: Options) -> Simulator {
    Simulator::start(store.clone(), options)
        .await
        .expect("start simulator")
}

pub fn gvr(kind: &str) -> Gvr {
    let d = anywhere_capi_sim::kinds::by_kind(kind).expect("kind");
    Gvr::new(d.group, d.storage, d.plural)
}

pub fn get(store: &Store, kind: &str, name: &str) -> Option<Value> {
    store.get(&Target::namespaced(gvr(kind), NS, name)).ok()
}

pub fn list(store: &Store, kind: &str) -> Vec<Value> {
    let l = store
        .list(&ListRequest {
            gvr: gvr(kind),
            namespace: Some(NS.into()),
            ..ListRequest::default()
        })
        .expect("list");
    (0..l.items.len()).map(|i| l.item(i)).collect()
}

pub fn patch(store: &Store, kind: &str, name: &str, patch: Value) -> Value {
    store
        .patch(PatchRequest {
            target: Target::namespaced(gvr(kind), NS, name),
            patch: Patch::Merge(patch),
            options: WriteOptions::default(),
        })
        .expect("patch")
}

pub fn cond(obj: &Value, t: &str) -> Option<String> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == t)
        .and_then(|c| c["status"].as_str())
        .map(String::from)
}

pub fn is_cond_true(obj: &Value, t: &str) -> bool {
    cond(obj, t).as_deref() == Some("True")
}

/// Polls `f` until it returns `Some`, panicking with `what` after a generous timeout.
pub async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn wait_available(store: &Store, cluster: &str) -> Value {
    wait_for(&format!("cluster {cluster} Available"), || {
        get(store, "Cluster", cluster).filter(|c| is_cond_true(c, "Available"))
    })
    .await
}

pub fn key(cluster: &str) -> ClusterKey {
    ClusterKey::new(NS, cluster)
}

pub fn machines(store: &Store) -> Vec<Value> {
    list(store, "Machine")
}

pub fn count_nodes(store: &Store) -> usize {
    store
        .list(&ListRequest {
            gvr: Gvr::core("nodes"),
            ..ListRequest::default()
        })
        .map(|l| l.items.len())
        .unwrap_or(0)
}

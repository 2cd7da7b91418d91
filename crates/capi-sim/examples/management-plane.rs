//! A standalone simulated management cluster: the in-memory API server on loopback (real HTTP)
//! with the Cluster API simulator, and a kubeconfig for it. It runs until killed.
//!
//! What CI uses as "a real management cluster" for the scenario tests
//! (`ANYWHERE_TEST_KUBECONFIG`): the `anywhere` commands and `anywhere controller` then reach it
//! only through the kubeconfig, as they would a real one. Also a way to try the controller, or
//! kubectl, against simulated infrastructure.
//!
//! `cargo run --release -p anywhere-capi-sim --example management-plane -- KUBECONFIG_OUT [SPEED]`
//!
//! The kubeconfig is written (atomically) once the server answers. Only Cluster API's CRDs are
//! registered; `anywhere controller --install-crds` adds anywhere's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use anywhere_apiserver::{Store, StoreOptions};
use anywhere_capi_sim::{Options, Simulator};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: management-plane KUBECONFIG_OUT [SPEED]");
        std::process::exit(2);
    };
    let speed: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(50.0);
    let store = Store::with_options(StoreOptions::default());
    anywhere_capi_sim::register_crds(&store).unwrap();
    let server = anywhere_apiserver::serve_local(store.clone()).await.unwrap();
    let _sim = Simulator::start(store, Options::with_speed(speed)).await.unwrap();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: simulated\n  cluster:\n    server: {}\n\
         contexts:\n- name: simulated\n  context:\n    cluster: simulated\n    user: simulated\n\
         current-context: simulated\nusers:\n- name: simulated\n  user: {{}}\n",
        server.url()
    );
    let tmp = format!("{out}.tmp");
    std::fs::write(&tmp, kubeconfig).unwrap();
    std::fs::rename(&tmp, &out).unwrap();
    eprintln!(
        "simulated management cluster at {} (kubeconfig {out})",
        server.url()
    );
    let _ = tokio::signal::ctrl_c().await;
}

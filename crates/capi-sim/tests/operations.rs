//! Day-2 operations: rolling upgrade, scaling, deletion order, other providers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use anywhere_apiserver::{DeleteRequest, Gvr, ListRequest, Store, Target};
use common::*;
use serde_json::{Value, json};

fn is_cp(m: &Value) -> bool {
    m["metadata"]["labels"]
        .get("cluster.x-k8s.io/control-plane")
        .is_some()
}

fn live_cp_machines(store: &Store) -> usize {
    machines(store)
        .iter()
        .filter(|m| is_cp(m) && m["metadata"]["deletionTimestamp"].is_null())
        .count()
}

fn node_versions(store: &Store) -> Vec<String> {
    let l = store
        .list(&ListRequest {
            gvr: Gvr::core("nodes"),
            ..ListRequest::default()
        })
        .unwrap();
    l.items
        .iter()
        .map(|n| {
            n["status"]["nodeInfo"]["kubeletVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Registers the upstream CRDs of these projects when the shared data pack is present.
fn register_real_crds(store: &Store, projects: &[&str]) -> bool {
    let base = std::path::Path::new("/work/shared/conformance/crds");
    if !base.is_dir() {
        println!("skipping the real CRDs: {} is absent", base.display());
        return false;
    }
    for p in projects {
        for entry in std::fs::read_dir(base.join(p)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                store
                    .register_crd_yaml(&std::fs::read_to_string(&path).unwrap())
                    .unwrap();
            }
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vsphere_upgrade_replaces_machines_one_at_a_time() {
    let store = store();
    register_real_crds(
        &store,
        &[
            "cluster-api",
            "cluster-api-provider-vsphere",
            "etcdadm-controller",
            "etcdadm-bootstrap-provider",
        ],
    );
    let objects = data("vsphere.yaml");
    let name = objects.iter().find(|o| o["kind"] == "Cluster").unwrap()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    apply(&store, &objects);
    let sim = start(&store, fast()).await;
    wait_available(&store, &name).await;
    let kcp = get(&store, "KubeadmControlPlane", &name).unwrap();
    let replicas = kcp["spec"]["replicas"].as_u64().unwrap() as usize;
    let md_name = list(&store, "MachineDeployment")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let workers = get(&store, "MachineDeployment", &md_name).unwrap()["spec"]["replicas"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(
        count_nodes(&sim.workload_store(&key(&name)).unwrap()),
        replicas + workers
    );
    for m in machines(&store).iter().filter(|m| is_cp(m)) {
        assert!(
            m["spec"]["providerID"]
                .as_str()
                .unwrap()
                .starts_with("vsphere://")
        );
    }
    assert_eq!(list(&store, "VSphereMachine").len(), machines(&store).len());

    let new_version = "v1.36.9-eks-1-36-99";
    patch(
        &store,
        "KubeadmControlPlane",
        &name,
        json!({"spec": {"version": new_version}}),
    );
    patch(
        &store,
        "MachineDeployment",
        &md_name,
        json!({"spec": {"template": {"spec": {"version": new_version}}}}),
    );
    let workload = sim.workload_store(&key(&name)).unwrap();
    let mut max_cp = 0;
    wait_for("upgrade to finish", || {
        max_cp = max_cp.max(live_cp_machines(&store));
        let kcp = get(&store, "KubeadmControlPlane", &name)?;
        let md = get(&store, "MachineDeployment", &md_name)?;
        let versions = node_versions(&workload);
        let done = kcp["status"]["version"] == new_version
            && kcp["status"]["upToDateReplicas"] == replicas
            && kcp["status"]["readyReplicas"] == replicas
            && kcp["status"]["replicas"] == replicas
            && md["status"]["upToDateReplicas"] == workers
            && md["status"]["replicas"] == workers
            && md["status"]["readyReplicas"] == workers
            && versions.len() == replicas + workers
            && versions.iter().all(|v| v == new_version);
        done.then_some(())
    })
    .await;
    assert!(
        max_cp <= replicas + 1,
        "saw {max_cp} control-plane machines for {replicas} replicas"
    );
    // The timeline proves it for every intermediate state, not only the polled ones.
    let mut live = 0i64;
    let mut peak = 0i64;
    for e in sim.observer().timeline(&key(&name)) {
        let Some(m) = e.object.strip_prefix("Machine/") else {
            continue;
        };
        let is_cp_machine = m.strip_prefix(&format!("{name}-")).is_some_and(|s| s.len() == 5);
        if !is_cp_machine {
            continue;
        }
        match e.what.as_str() {
            "created" => live += 1,
            "deleted" => live -= 1,
            _ => {}
        }
        peak = peak.max(live);
    }
    assert!(
        peak <= replicas as i64 + 1,
        "timeline shows {peak} control-plane machines"
    );
    let cm = workload
        .get(&Target::namespaced(
            Gvr::core("configmaps"),
            "kube-system",
            "kubeadm-config",
        ))
        .unwrap();
    assert!(
        cm["data"]["ClusterConfiguration"]
            .as_str()
            .unwrap()
            .contains(new_version)
    );
    wait_available(&store, &name).await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_deployment_scales_up_and_down() {
    let store = store();
    apply(&store, &quickstart());
    let sim = start(&store, fast()).await;
    wait_available(&store, "quickstart").await;
    let workload = sim.workload_store(&key("quickstart")).unwrap();
    patch(
        &store,
        "MachineDeployment",
        "quickstart-md-0",
        json!({"spec": {"replicas": 3}}),
    );
    wait_for("3 ready workers", || {
        let md = get(&store, "MachineDeployment", "quickstart-md-0")?;
        (md["status"]["readyReplicas"] == 3 && count_nodes(&workload) == 4).then_some(())
    })
    .await;
    wait_available(&store, "quickstart").await;
    let c = get(&store, "Cluster", "quickstart").unwrap();
    assert_eq!(c["status"]["workers"]["readyReplicas"], 3);
    patch(
        &store,
        "MachineDeployment",
        "quickstart-md-0",
        json!({"spec": {"replicas": 1}}),
    );
    wait_for("1 worker left", || {
        let md = get(&store, "MachineDeployment", "quickstart-md-0")?;
        let workers = machines(&store)
            .iter()
            .filter(|m| {
                !is_cp(m)
                    && m["metadata"]["labels"]
                        .get("cluster.x-k8s.io/deployment-name")
                        .is_some()
            })
            .count();
        (md["status"]["replicas"] == 1
            && md["status"]["readyReplicas"] == 1
            && workers == 1
            && count_nodes(&workload) == 2)
            .then_some(())
    })
    .await;
    assert_eq!(
        list(&store, "DockerMachine").len(),
        3,
        "the removed workers' infrastructure is gone"
    );
    wait_available(&store, "quickstart").await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_cluster_removes_workers_then_control_plane_then_etcd() {
    let store = store();
    apply(&store, &quickstart());
    let sim = start(&store, fast()).await;
    wait_available(&store, "quickstart").await;
    let etcd_machine = machines(&store)
        .into_iter()
        .find(|m| {
            m["metadata"]["labels"]
                .get("cluster.x-k8s.io/etcd-cluster")
                .is_some()
        })
        .unwrap()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    store
        .delete(&DeleteRequest {
            target: Target::namespaced(gvr("Cluster"), NS, "quickstart"),
            ..DeleteRequest::default()
        })
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while get(&store, "Cluster", "quickstart").is_some() {
        if tokio::time::Instant::now() > deadline {
            let left: Vec<String> = [
                "Cluster",
                "Machine",
                "KubeadmControlPlane",
                "EtcdadmCluster",
                "MachineSet",
                "MachineDeployment",
            ]
            .iter()
            .flat_map(|k| {
                list(&store, k).into_iter().map(move |o| {
                    format!(
                        "{k}/{} {} {} {}",
                        o["metadata"]["name"],
                        o["metadata"]["finalizers"],
                        o["metadata"]["deletionTimestamp"],
                        o["status"]["phase"]
                    )
                })
            })
            .collect();
            let tl = sim.observer().timeline(&key("quickstart"));
            panic!(
                "cluster not deleted; left: {left:#?}\ncounters {:?}\nlast events {:#?}",
                sim.observer().counters(&key("quickstart")),
                &tl[tl.len().saturating_sub(12)..]
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for kind in [
        "Machine",
        "MachineSet",
        "MachineDeployment",
        "KubeadmControlPlane",
        "EtcdadmCluster",
        "DockerCluster",
        "DockerMachine",
        "KubeadmConfig",
        "EtcdadmConfig",
        "MachineHealthCheck",
    ] {
        assert!(
            list(&store, kind).is_empty(),
            "{kind} left behind: {:?}",
            list(&store, kind)
        );
    }
    let secrets = store
        .list(&ListRequest {
            gvr: Gvr::core("secrets"),
            namespace: Some(NS.into()),
            ..ListRequest::default()
        })
        .unwrap();
    assert!(secrets.items.is_empty(), "secrets left: {:?}", secrets.items);
    assert!(sim.workload_store(&key("quickstart")).is_none());
    let tl = sim.observer().timeline(&key("quickstart"));
    let pos = |what: &str, f: &dyn Fn(&anywhere_capi_sim::Entry) -> bool| {
        tl.iter()
            .position(f)
            .unwrap_or_else(|| panic!("{what} not in timeline: {tl:#?}"))
    };
    let worker_node_gone = pos("worker node deleted", &|e| {
        e.what == "node-deleted" && e.value == "worker"
    });
    let cp_node_gone = pos("control-plane node deleted", &|e| {
        e.what == "node-deleted" && e.value == "control-plane"
    });
    let etcd_deleting = pos("etcd machine deleting", &|e| {
        e.object == format!("Machine/{etcd_machine}") && e.what == "phase" && e.value == "Deleting"
    });
    assert!(
        worker_node_gone < cp_node_gone,
        "workers go before the control plane"
    );
    assert!(cp_node_gone < etcd_deleting, "the control plane goes before etcd");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tinkerbell_cluster_becomes_available() {
    let store = store();
    register_real_crds(&store, &["cluster-api-provider-tinkerbell"]);
    let objects = data("tinkerbell.yaml");
    let name = objects.iter().find(|o| o["kind"] == "Cluster").unwrap()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    apply(&store, &objects);
    let sim = start(&store, fast()).await;
    wait_available(&store, &name).await;
    let tms = list(&store, "TinkerbellMachine");
    assert_eq!(tms.len(), 2);
    for tm in &tms {
        assert!(
            tm["spec"]["providerID"]
                .as_str()
                .unwrap()
                .starts_with("tinkerbell://")
        );
        assert_eq!(tm["status"]["ready"], true);
    }
    assert_eq!(count_nodes(&sim.workload_store(&key(&name)).unwrap()), 2);
    sim.stop().await;
}

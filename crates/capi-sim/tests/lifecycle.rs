//! End to end: the generator's real output applied to a store, the simulator converges it, and
//! the workload cluster answers a real kube-rs client through the kubeconfig Secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::*;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

/// A kube-rs client built from the `<cluster>-kubeconfig` Secret, exactly as a user would.
async fn workload_client(store: &anywhere_apiserver::Store, cluster: &str) -> kube::Client {
    let secret = store
        .get(&anywhere_apiserver::Target::namespaced(
            anywhere_apiserver::Gvr::core("secrets"),
            NS,
            &format!("{cluster}-kubeconfig"),
        ))
        .expect("kubeconfig secret");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["value"].as_str().unwrap())
        .unwrap();
    let kc = kube::config::Kubeconfig::from_yaml(std::str::from_utf8(&bytes).unwrap()).expect("kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config");
    config.proxy_url = None;
    kube::Client::try_from(config).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_becomes_available_and_serves_its_workload_api() {
    let store = store();
    let objects = quickstart();
    apply(&store, &objects);
    let sim = start(&store, fast()).await;
    let cluster = wait_available(&store, "quickstart").await;
    assert_eq!(cluster["status"]["phase"], "Provisioned");
    assert_eq!(
        cluster["status"]["initialization"]["controlPlaneInitialized"],
        true
    );
    assert_eq!(cluster["status"]["managedExternalEtcdInitialized"], true);

    let kcp = get(&store, "KubeadmControlPlane", "quickstart").unwrap();
    assert_eq!(kcp["status"]["readyReplicas"], 1);
    assert_eq!(kcp["status"]["upToDateReplicas"], 1);
    assert_eq!(kcp["status"]["version"], kcp["spec"]["version"]);
    assert_eq!(kcp["status"]["observedGeneration"], kcp["metadata"]["generation"]);
    let md = get(&store, "MachineDeployment", "quickstart-md-0").unwrap();
    assert_eq!(md["status"]["readyReplicas"], 1);
    assert_eq!(md["status"]["availableReplicas"], 1);
    assert_eq!(md["status"]["upToDateReplicas"], 1);
    assert_eq!(md["status"]["phase"], "Running");
    let etcd = get(&store, "EtcdadmCluster", "quickstart-etcd").unwrap();
    assert_eq!(etcd["status"]["ready"], true);

    let ms = machines(&store);
    assert_eq!(ms.len(), 3, "1 etcd + 1 control plane + 1 worker");
    for m in &ms {
        assert_eq!(m["status"]["phase"], "Running", "{}", m["metadata"]["name"]);
        assert_eq!(
            m["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"],
            "quickstart"
        );
        let owner = &m["metadata"]["ownerReferences"][0];
        assert_eq!(owner["controller"], true);
        if m["metadata"]["labels"]
            .get("cluster.x-k8s.io/etcd-cluster")
            .is_none()
        {
            assert!(m["status"]["nodeRef"]["name"].is_string());
            assert!(
                m["spec"]["providerID"]
                    .as_str()
                    .unwrap()
                    .starts_with("docker:////")
            );
        }
    }
    let cp = ms
        .iter()
        .find(|m| {
            m["metadata"]["labels"]
                .get("cluster.x-k8s.io/control-plane")
                .is_some()
        })
        .unwrap();
    assert_eq!(
        cp["metadata"]["labels"]["cluster.x-k8s.io/control-plane-name"],
        "quickstart"
    );
    let worker = ms
        .iter()
        .find(|m| {
            m["metadata"]["labels"]
                .get("cluster.x-k8s.io/deployment-name")
                .is_some()
        })
        .unwrap();
    assert!(worker["metadata"]["labels"]["cluster.x-k8s.io/set-name"].is_string());
    assert_eq!(list(&store, "DockerMachine").len(), 3);
    assert_eq!(list(&store, "KubeadmConfig").len(), 2);
    assert_eq!(list(&store, "EtcdadmConfig").len(), 1);

    // The workload API through the kubeconfig Secret, with a real kube-rs client.
    let client = workload_client(&store, "quickstart").await;
    let nodes: Api<Node> = Api::all(client);
    let list = nodes.list(&ListParams::default()).await.expect("list nodes");
    assert_eq!(list.items.len(), 2, "control plane + worker");
    let version = kcp["spec"]["version"].as_str().unwrap();
    for n in &list.items {
        let st = n.status.as_ref().unwrap();
        assert_eq!(st.node_info.as_ref().unwrap().kubelet_version, version);
        let ready = st
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
    }
    let cps = nodes
        .list(&ListParams::default().labels("node-role.kubernetes.io/control-plane"))
        .await
        .unwrap();
    assert_eq!(cps.items.len(), 1);

    // Timeline ordering: etcd ready before the control plane initialized, before Available.
    let tl = sim.observer().timeline(&key("quickstart"));
    let at = |object: &str, what: &str| {
        tl.iter()
            .position(|e| e.object == object && e.what == what && e.value == "True")
            .unwrap_or_else(|| panic!("{object} {what}"))
    };
    assert!(
        at("EtcdadmCluster/quickstart-etcd", "Ready") < at("KubeadmControlPlane/quickstart", "Initialized")
    );
    assert!(at("KubeadmControlPlane/quickstart", "Initialized") < at("Cluster/quickstart", "Available"));

    // Converged: further reconciles write nothing.
    let rv = store.resource_version();
    sim.resync();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        store.resource_version(),
        rv,
        "a converged cluster must not be rewritten"
    );
    sim.stop().await;
}

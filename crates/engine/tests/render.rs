//! Template naming across an upgrade, on the quickstart spec: unchanged templates keep their
//! names, a Kubernetes version change gives every machine template the next number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use anywhere_engine::render::{self, Existing};
use anywhere_engine::spec;
use serde_json::Value;

fn objects(version: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/quickstart.yaml"
    ))
    .unwrap();
    let text = text.replace(
        "kubernetesVersion: \"1.36\"",
        &format!("kubernetesVersion: \"{version}\""),
    );
    serde_saphyr::from_multiple::<Value>(&text).unwrap()
}

fn existing_from(d: &render::Desired, cluster: &str) -> Existing {
    let all: Vec<Value> = [d.etcd.clone(), d.control_plane.clone(), d.workers.clone()]
        .concat()
        .into_iter()
        .map(|m| m.0)
        .collect();
    let find = |kind: &str| all.iter().find(|o| o["kind"] == kind).cloned();
    let mds: Vec<Value> = all
        .iter()
        .filter(|o| o["kind"] == "MachineDeployment")
        .cloned()
        .collect();
    let mut e = Existing::from_objects(
        cluster,
        find("KubeadmControlPlane").as_ref(),
        find("EtcdadmCluster").as_ref(),
        &mds,
    );
    for o in &all {
        let kind = o["kind"].as_str().unwrap().to_string();
        if kind.ends_with("Template") {
            e.specs.insert(
                (kind, o["metadata"]["name"].as_str().unwrap().to_string()),
                o["spec"].clone(),
            );
        }
    }
    e
}

#[test]
fn templates_keep_their_names_until_their_spec_changes() {
    let catalog = anywhere_catalog::Catalog::embedded();
    let credentials = anywhere_manifests::Credentials::default();
    let set = spec::config_set(&objects("1.35")).unwrap();
    let first = render::desired(&set, catalog, &credentials, &Existing::default()).unwrap();
    assert_eq!(first.names.control_plane(), "quickstart-control-plane-1");
    assert!(first.etcd.iter().any(|m| m.kind() == "EtcdadmCluster"));
    assert!(
        first
            .control_plane
            .iter()
            .any(|m| m.kind() == "KubeadmControlPlane")
    );
    assert!(!first.control_plane.iter().any(|m| m.kind() == "EtcdadmCluster"));
    assert!(first.workers.iter().any(|m| m.kind() == "MachineDeployment"));

    // Same spec, against what the first render created: nothing renamed.
    let existing = existing_from(&first, "quickstart");
    assert_eq!(
        existing.control_plane.as_deref(),
        Some("quickstart-control-plane-1")
    );
    let again = render::desired(&set, catalog, &credentials, &existing).unwrap();
    assert_eq!(again.names, first.names);

    // A new Kubernetes version: new machine templates for control plane, etcd and workers.
    let upgraded = spec::config_set(&objects("1.36")).unwrap();
    let next = render::desired(&upgraded, catalog, &credentials, &existing).unwrap();
    assert_eq!(next.names.control_plane(), "quickstart-control-plane-2");
    assert_eq!(next.names.worker_machine("md-0"), "quickstart-md-0-2");
    let kcp = next
        .control_plane
        .iter()
        .find(|m| m.kind() == "KubeadmControlPlane")
        .unwrap();
    assert_eq!(
        kcp.0
            .pointer("/spec/machineTemplate/spec/infrastructureRef/name")
            .unwrap(),
        "quickstart-control-plane-2"
    );
}

#[test]
fn an_invalid_spec_is_reported_with_the_field() {
    let mut objs = objects("1.36");
    objs[0]["spec"]["controlPlaneConfiguration"]["count"] = serde_json::json!(0);
    let error = spec::config_set(&objs).unwrap_err().to_string();
    assert!(error.contains("controlPlaneConfiguration"), "{error}");
}

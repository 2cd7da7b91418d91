//! The in-process API (what a simulator uses without HTTP) and server edge cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use anywhere_apiserver::{
    CreateRequest, DeleteRequest, Deleted, EventType, Gvr, Patch, PatchRequest, Store, Target, WatchRequest,
    WriteOptions,
};
use serde_json::json;

fn cm_req(name: &str) -> CreateRequest {
    CreateRequest {
        gvr: Gvr::core("configmaps"),
        namespace: Some("default".into()),
        object: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
        options: WriteOptions::default(),
    }
}

#[test]
fn create_with_resource_version_is_a_500() {
    let store = Store::in_memory();
    let mut req = cm_req("a");
    req.object["metadata"]["resourceVersion"] = json!("5");
    let e = store.create(req).unwrap_err();
    assert_eq!(e.code, 500);
    assert!(e.message.contains("resourceVersion should not be set"));
}

#[test]
fn apply_without_field_manager_is_invalid() {
    let store = Store::in_memory();
    let e = store
        .patch(PatchRequest {
            target: Target::namespaced(Gvr::core("configmaps"), "default", "a"),
            patch: Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})),
            options: WriteOptions::default(),
        })
        .unwrap_err();
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let store = Store::in_memory();
    let mut req = cm_req("f");
    req.object["metadata"]["finalizers"] = json!(["example.com/x"]);
    store.create(req).unwrap();
    let t = Target::namespaced(Gvr::core("configmaps"), "default", "f");
    let d = store
        .delete(&DeleteRequest {
            target: t.clone(),
            options: Default::default(),
        })
        .unwrap();
    let Deleted::Pending(obj) = d else {
        panic!("finalizer should hold the object")
    };
    assert!(obj["metadata"]["deletionTimestamp"].is_string());
    // Adding a finalizer while deleting is refused.
    let e = store
        .patch(PatchRequest {
            target: t.clone(),
            patch: Patch::Merge(json!({"metadata": {"finalizers": ["example.com/x", "example.com/y"]}})),
            options: WriteOptions::default(),
        })
        .unwrap_err();
    assert_eq!(e.code, 422);
    store
        .patch(PatchRequest {
            target: t.clone(),
            patch: Patch::Json(json!([{"op": "remove", "path": "/metadata/finalizers/0"}])),
            options: WriteOptions::default(),
        })
        .unwrap();
    assert_eq!(store.get(&t).unwrap_err().code, 404);
}

#[test]
fn no_op_patch_keeps_resource_version() {
    let store = Store::in_memory();
    let created = store.create(cm_req("n")).unwrap();
    let rv = store.resource_version();
    let p = store
        .patch(PatchRequest {
            target: Target::namespaced(Gvr::core("configmaps"), "default", "n"),
            patch: Patch::Merge(json!({"metadata": {"name": "n"}})),
            options: WriteOptions::default(),
        })
        .unwrap();
    assert_eq!(
        p["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    assert_eq!(store.resource_version(), rv);
}

#[test]
fn terminating_namespace_refuses_creates() {
    let store = Store::in_memory();
    store
        .create(CreateRequest {
            gvr: Gvr::core("namespaces"),
            namespace: None,
            object: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}}),
            options: WriteOptions::default(),
        })
        .unwrap();
    let mut req = cm_req("held");
    req.namespace = Some("t".into());
    req.object["metadata"]["finalizers"] = json!(["example.com/x"]);
    store.create(req).unwrap();
    let d = store
        .delete(&DeleteRequest {
            target: Target::cluster(Gvr::core("namespaces"), "t"),
            options: Default::default(),
        })
        .unwrap();
    assert!(matches!(d, Deleted::Pending(ref o) if o["status"]["phase"] == "Terminating"));
    let mut req = cm_req("new");
    req.namespace = Some("t".into());
    assert_eq!(store.create(req).unwrap_err().code, 403);
    // Releasing the last object finishes the namespace.
    store
        .patch(PatchRequest {
            target: Target::namespaced(Gvr::core("configmaps"), "t", "held"),
            patch: Patch::Merge(json!({"metadata": {"finalizers": null}})),
            options: WriteOptions::default(),
        })
        .unwrap();
    assert_eq!(
        store
            .get(&Target::cluster(Gvr::core("namespaces"), "t"))
            .unwrap_err()
            .code,
        404
    );
}

#[tokio::test]
async fn in_process_watch_streams_events() {
    let store = Store::in_memory();
    store.create(cm_req("w0")).unwrap();
    let mut w = store
        .watch(&WatchRequest {
            gvr: Gvr::core("configmaps"),
            namespace: Some("default".into()),
            ..Default::default()
        })
        .unwrap();
    let e = w.next().await.unwrap();
    assert_eq!(e.kind, EventType::Added);
    // Unrelated kinds do not reach this watch.
    store
        .create(CreateRequest {
            gvr: Gvr::core("secrets"),
            namespace: Some("default".into()),
            object: json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}),
            options: WriteOptions::default(),
        })
        .unwrap();
    store.create(cm_req("w1")).unwrap();
    let e = w.next().await.unwrap();
    assert_eq!(
        (e.kind, e.object["metadata"]["name"].as_str()),
        (EventType::Added, Some("w1"))
    );
    store
        .delete(&DeleteRequest {
            target: Target::namespaced(Gvr::core("configmaps"), "default", "w1"),
            options: Default::default(),
        })
        .unwrap();
    let e = w.next().await.unwrap();
    assert_eq!(e.kind, EventType::Deleted);
    assert_eq!(
        e.object["metadata"]["resourceVersion"],
        json!(store.resource_version().to_string())
    );
}

#[test]
fn resolve_kind_finds_crd_kinds() {
    let store = Store::in_memory();
    store.register_crd_yaml(common::WIDGET_CRD).unwrap();
    assert_eq!(
        store.resolve_kind("example.com/v1", "Widget"),
        Some(Gvr::new("example.com", "v1", "widgets"))
    );
    assert_eq!(
        store.resolve_kind("apps/v1", "Deployment"),
        Some(Gvr::new("apps", "v1", "deployments"))
    );
    assert_eq!(store.resolve_kind("example.com/v9", "Widget"), None);
}

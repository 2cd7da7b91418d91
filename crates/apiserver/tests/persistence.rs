//! Persistent stores: reopen after drop, a torn last log line, compaction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;

use anywhere_apiserver::{CreateRequest, Durability, Gvr, Store, StoreOptions, Target, WriteOptions};
use serde_json::json;

fn create_cm(store: &Store, name: &str) -> serde_json::Value {
    store
        .create(CreateRequest {
            gvr: Gvr::core("configmaps"),
            namespace: Some("default".into()),
            object: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": name}}),
            options: WriteOptions::default(),
        })
        .expect("create")
}

#[test]
fn reopen_keeps_objects_crds_and_the_resource_version_counter() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (rv, uid) = {
        let store = Store::open(dir.path())?;
        store.register_crd_yaml(common::WIDGET_CRD)?;
        let a = create_cm(&store, "a");
        create_cm(&store, "b");
        store.delete(&anywhere_apiserver::DeleteRequest {
            target: Target::namespaced(Gvr::core("configmaps"), "default", "b"),
            options: Default::default(),
        })?;
        store.create(CreateRequest {
            gvr: Gvr::new("example.com", "v1", "widgets"),
            namespace: Some("default".into()),
            object: json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}),
            options: WriteOptions::default(),
        })?;
        (store.resource_version(), a["metadata"]["uid"].clone())
    };
    let store = Store::open(dir.path())?;
    assert_eq!(store.resource_version(), rv, "counter survives");
    let a = store.get(&Target::namespaced(Gvr::core("configmaps"), "default", "a"))?;
    assert_eq!(a["metadata"]["uid"], uid);
    assert!(
        store
            .get(&Target::namespaced(Gvr::core("configmaps"), "default", "b"))
            .is_err()
    );
    let w = store.get(&Target::namespaced(
        Gvr::new("example.com", "v1", "widgets"),
        "default",
        "w",
    ))?;
    assert_eq!(w["spec"]["size"], 3);
    // New writes continue the counter.
    let c = create_cm(&store, "c");
    assert_eq!(c["metadata"]["resourceVersion"], json!((rv + 1).to_string()));
    Ok(())
}

#[test]
fn torn_last_log_line_is_ignored() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let opts = StoreOptions {
        durability: Durability::Process,
        compact_every: 1_000_000,
        ..Default::default()
    };
    let rv = {
        let store = Store::open_with(dir.path(), opts.clone())?;
        create_cm(&store, "a");
        create_cm(&store, "b");
        store.resource_version()
    };
    // A crash mid-write leaves half a record at the end of the log.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("log.jsonl"))?;
    f.write_all(br#"{"rv":999,"g":"","r":"configmaps","ns":"default","name":"c","o":{"apiVer"#)?;
    drop(f);
    let store = Store::open_with(dir.path(), opts.clone())?;
    assert_eq!(store.resource_version(), rv);
    assert!(
        store
            .get(&Target::namespaced(Gvr::core("configmaps"), "default", "c"))
            .is_err()
    );
    let d = create_cm(&store, "d");
    assert_eq!(d["metadata"]["resourceVersion"], json!((rv + 1).to_string()));
    drop(store);
    // And the store stays readable afterwards.
    let store = Store::open_with(dir.path(), opts)?;
    assert_eq!(store.resource_version(), rv + 1);
    Ok(())
}

#[test]
fn compaction_during_writes_keeps_everything() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let opts = StoreOptions {
        durability: Durability::Process,
        compact_every: 7,
        ..Default::default()
    };
    {
        let store = Store::open_with(dir.path(), opts.clone())?;
        for i in 0..30 {
            create_cm(&store, &format!("cm{i}"));
        }
    }
    let store = Store::open_with(dir.path(), opts)?;
    let list = store.list(&anywhere_apiserver::ListRequest {
        gvr: Gvr::core("configmaps"),
        namespace: Some("default".into()),
        ..Default::default()
    })?;
    assert_eq!(list.items.len(), 30);
    Ok(())
}

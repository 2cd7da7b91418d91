//! Typed kube-rs calls against the server: CRUD, patches, apply conflicts, optimistic
//! concurrency, namespaces, errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        ..Default::default()
    }
}

#[tokio::test]
async fn configmap_create_get_list_replace_delete() -> anyhow::Result<()> {
    let (_server, client, _store) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api
        .create(&PostParams::default(), &cm("a", &[("k", "v")]))
        .await?;
    let rv1 = created.metadata.resource_version.clone().unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());

    let err = api
        .create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.reason == "AlreadyExists" && s.code == 409),
        "{err:?}"
    );

    let got = api.get("a").await?;
    assert_eq!(got.data.unwrap()["k"], "v");
    assert!(api.get_opt("missing").await?.is_none());

    api.create(&PostParams::default(), &cm("b", &[])).await?;
    let list = api.list(&ListParams::default()).await?;
    assert_eq!(
        list.items
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(list.metadata.resource_version.is_some());

    let mut changed = api.get("a").await?;
    changed.data = Some(BTreeMap::from([("k".to_string(), "v2".to_string())]));
    let replaced = api.replace("a", &PostParams::default(), &changed).await?;
    assert_ne!(replaced.metadata.resource_version.as_deref(), Some(rv1.as_str()));

    // Stale resourceVersion -> 409 Conflict.
    let err = api
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.reason == "Conflict" && s.code == 409),
        "{err:?}"
    );

    // Identical replace is a no-op: resourceVersion unchanged.
    let same = api.replace("a", &PostParams::default(), &replaced).await?;
    assert_eq!(same.metadata.resource_version, replaced.metadata.resource_version);

    let gone = api.delete("a", &DeleteParams::default()).await?;
    assert!(gone.is_right(), "no finalizers: deleted at once");
    assert!(api.get_opt("a").await?.is_none());
    let err = api.delete("a", &DeleteParams::default()).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"));
    Ok(())
}

#[tokio::test]
async fn selectors_on_list() -> anyhow::Result<()> {
    let (_server, client, _store) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for (n, env) in [("x1", "prod"), ("x2", "dev"), ("x3", "test")] {
        let mut c = cm(n, &[]);
        c.metadata.labels = Some(BTreeMap::from([("env".to_string(), env.to_string())]));
        api.create(&PostParams::default(), &c).await?;
    }
    let names = |l: kube::core::ObjectList<ConfigMap>| {
        l.items
            .into_iter()
            .map(|c| c.metadata.name.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            api.list(&ListParams::default().labels("env in (prod,dev)"))
                .await?
        ),
        ["x1", "x2"]
    );
    assert_eq!(
        names(api.list(&ListParams::default().labels("env!=prod,env")).await?),
        ["x2", "x3"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().fields("metadata.name=x3"))
                .await?
        ),
        ["x3"]
    );
    // Pagination: limit 2 then continue.
    let p1 = api.list(&ListParams::default().limit(2)).await?;
    assert_eq!(p1.items.len(), 2);
    let token = p1.metadata.continue_.clone().expect("more items");
    let p2 = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await?;
    assert_eq!(p2.items.len(), 1);
    assert!(p2.metadata.continue_.is_none());
    // All namespaces.
    let all: Api<ConfigMap> = Api::all(client);
    assert_eq!(all.list(&ListParams::default()).await?.items.len(), 3);
    let err = api
        .list(&ListParams::default().fields("data.x=1"))
        .await
        .unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 400));
    Ok(())
}

#[tokio::test]
async fn merge_and_json_patches() -> anyhow::Result<()> {
    let (_server, client, _store) = common::start().await;
    let api: Api<Secret> = Api::namespaced(client, "default");
    let s = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("s".into()),
            ..Default::default()
        },
        string_data: None,
        data: Some(BTreeMap::from([(
            "a".to_string(),
            k8s_openapi::ByteString(b"1".to_vec()),
        )])),
        ..Default::default()
    };
    api.create(&PostParams::default(), &s).await?;
    let p = api
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await?;
    assert_eq!(p.metadata.labels.unwrap()["x"], "y");
    let jp: json_patch::Patch = serde_json::from_value(json!([
        {"op": "add", "path": "/metadata/annotations", "value": {"note": "hi"}},
        {"op": "remove", "path": "/metadata/labels/x"}
    ]))?;
    let p = api
        .patch("s", &PatchParams::default(), &Patch::Json::<()>(jp))
        .await?;
    assert_eq!(p.metadata.annotations.unwrap()["note"], "hi");
    assert!(p.metadata.labels.unwrap_or_default().is_empty());
    // Failed test op -> 422 Invalid.
    let jp: json_patch::Patch = serde_json::from_value(
        json!([{"op": "test", "path": "/metadata/annotations/note", "value": "bye"}]),
    )?;
    let err = api
        .patch("s", &PatchParams::default(), &Patch::Json::<()>(jp))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 422 && s.reason == "Invalid"),
        "{err:?}"
    );
    // Patch with a stale resourceVersion precondition -> 409.
    let err = api
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"resourceVersion": "1"}})),
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409));
    // Missing object -> 404.
    let err = api
        .patch("nope", &PatchParams::default(), &Patch::Merge(json!({})))
        .await
        .unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 404));
    // Strategic merge works for built-ins.
    let p = api
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"finalizers": ["a/b"]}})),
        )
        .await?;
    assert_eq!(p.metadata.finalizers.unwrap(), ["a/b"]);
    Ok(())
}

#[tokio::test]
async fn server_side_apply_managers_and_conflicts() -> anyhow::Result<()> {
    let (_server, client, _store) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let desired =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}});
    // Apply creates.
    let o = api
        .patch("ssa", &PatchParams::apply("alice"), &Patch::Apply(&desired))
        .await?;
    let mf = o.metadata.managed_fields.clone().unwrap();
    assert_eq!(mf.len(), 1);
    assert_eq!(mf[0].manager.as_deref(), Some("alice"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));
    // Re-applying the same config is a no-op.
    let again = api
        .patch("ssa", &PatchParams::apply("alice"), &Patch::Apply(&desired))
        .await?;
    assert_eq!(again.metadata.resource_version, o.metadata.resource_version);
    // Another manager changing alice's field conflicts...
    let bob =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "2"}});
    let err = api
        .patch("ssa", &PatchParams::apply("bob"), &Patch::Apply(&bob))
        .await
        .unwrap_err();
    match &err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(s.message.contains("alice"), "{}", s.message);
        }
        other => panic!("expected api error, got {other:?}"),
    }
    // ...unless forced; ownership moves.
    let o = api
        .patch("ssa", &PatchParams::apply("bob").force(), &Patch::Apply(&bob))
        .await?;
    assert_eq!(o.data.unwrap()["a"], "2");
    let managers: Vec<_> = o
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, ["bob"]);
    // Apply without a field manager -> 422 (kube requires one client-side, so go in-process).
    Ok(())
}

#[tokio::test]
async fn namespaces_and_missing_namespace() -> anyhow::Result<()> {
    let (_server, client, _store) = common::start().await;
    let ns: Api<Namespace> = Api::all(client.clone());
    let names: Vec<_> = ns
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&"default".to_string()) && names.contains(&"kube-system".to_string()));
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "nope");
    let err = api
        .create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"),
        "{err:?}"
    );

    let n = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some("team".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let created = ns.create(&PostParams::default(), &n).await?;
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Active"));
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    api.create(&PostParams::default(), &cm("inside", &[])).await?;
    // Deleting the namespace deletes its content, then the namespace.
    ns.delete("team", &DeleteParams::default()).await?;
    assert!(api.get_opt("inside").await?.is_none());
    assert!(ns.get_opt("team").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn generate_name_and_dry_run() -> anyhow::Result<()> {
    let (_server, client, store) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut c = cm("", &[]);
    c.metadata.name = None;
    c.metadata.generate_name = Some("gen-".into());
    let o = api.create(&PostParams::default(), &c).await?;
    let name = o.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    let rv = store.resource_version();
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    api.create(&dry, &cm("dry", &[])).await?;
    assert!(api.get_opt("dry").await?.is_none());
    assert_eq!(store.resource_version(), rv);
    Ok(())
}

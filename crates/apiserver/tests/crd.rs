//! Custom resources: CRD registration (YAML and HTTP), discovery, DynamicObject access,
//! status subresource, versions, and a real Cluster API CRD.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::discovery::Discovery;
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;

async fn widget_api(client: &kube::Client) -> anyhow::Result<Api<DynamicObject>> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
        .expect("widget discovered");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(
        caps.subresources
            .iter()
            .any(|(s, _)| s.plural == "widgets/status" || s.plural == "status"),
        "{caps:?}"
    );
    Ok(Api::namespaced_with(client.clone(), "default", &ar))
}

fn widget(name: &str, size: i64) -> DynamicObject {
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"));
    DynamicObject::new(name, &ar).data(json!({"spec": {"size": size}, "status": {"phase": "ignored"}}))
}

#[tokio::test]
async fn dynamic_crud_and_status_subresource() -> anyhow::Result<()> {
    let (_server, client, _store) = common::start().await;
    let api = widget_api(&client).await?;
    let w = api.create(&PostParams::default(), &widget("w1", 1)).await?;
    assert_eq!(w.metadata.generation, Some(1));
    assert!(
        w.data.get("status").is_none(),
        "status dropped on create: {:?}",
        w.data
    );

    // Status through /status: generation unchanged, spec changes there ignored.
    let s = api
        .patch_status(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"size": 99}, "status": {"phase": "Ready", "observedGeneration": 1}}),
            ),
        )
        .await?;
    assert_eq!(s.data["status"]["phase"], "Ready");
    assert_eq!(s.data["spec"]["size"], 1);
    assert_eq!(s.metadata.generation, Some(1));

    // Spec through the main endpoint: generation bumps, status in the body ignored.
    let m = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}, "status": {"phase": "X"}})),
        )
        .await?;
    assert_eq!(m.metadata.generation, Some(2));
    assert_eq!(m.data["status"]["phase"], "Ready");

    // Metadata-only change: no generation bump.
    let m = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await?;
    assert_eq!(m.metadata.generation, Some(2));

    // Strategic merge on a custom resource -> 415.
    let err = api
        .patch("w1", &PatchParams::default(), &Patch::Strategic(json!({})))
        .await
        .unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 415), "{err:?}");

    // Replace without resourceVersion -> 422 for custom resources.
    let mut body = api.get("w1").await?;
    body.metadata.resource_version = None;
    let err = api
        .replace("w1", &PostParams::default(), &body)
        .await
        .unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 422), "{err:?}");

    // Served in v1beta1 too (same object, other apiVersion).
    let ar_beta = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1beta1", "Widget"),
        "widgets",
    );
    let beta: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar_beta);
    let b = beta.get("w1").await?;
    assert_eq!(b.types.unwrap().api_version, "example.com/v1beta1");

    // SSA of status with keyed conditions by two managers.
    let a = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"},
                   "status": {"conditions": [{"type": "A", "status": "True"}]}});
    let c = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"},
                   "status": {"conditions": [{"type": "B", "status": "False"}]}});
    api.patch_status("w1", &PatchParams::apply("ctrl-a"), &Patch::Apply(&a))
        .await?;
    let o = api
        .patch_status("w1", &PatchParams::apply("ctrl-b"), &Patch::Apply(&c))
        .await?;
    assert_eq!(o.data["status"]["conditions"].as_array().unwrap().len(), 2);
    assert_eq!(o.data["status"]["phase"], "Ready");
    Ok(())
}

#[tokio::test]
async fn crd_created_over_http_becomes_established_and_servable() -> anyhow::Result<()> {
    let (_server, client, _store) = common::start().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.org"},
        "spec": {"group": "example.org", "scope": "Cluster",
                 "names": {"kind": "Gadget", "plural": "gadgets"},
                 "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object",
                                          "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))?;
    crds.create(&PostParams::default(), &crd).await?;
    tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(
            crds.clone(),
            "gadgets.example.org",
            conditions::is_crd_established(),
        ),
    )
    .await??;
    let got = crds.get("gadgets.example.org").await?;
    assert_eq!(
        got.status.unwrap().accepted_names.unwrap().list_kind.as_deref(),
        Some("GadgetList")
    );

    let discovery = Discovery::new(client.clone()).run().await?;
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("example.org", "v1alpha1", "Gadget"))
        .unwrap();
    assert_eq!(caps.scope, kube::discovery::Scope::Cluster);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    api.create(
        &PostParams::default(),
        &DynamicObject::new("g", &ar).data(json!({"spec": {"x": 1}})),
    )
    .await?;
    assert_eq!(api.list(&ListParams::default()).await?.items.len(), 1);

    // Aggregated discovery sees it too.
    let agg = Discovery::new(client.clone()).run_aggregated().await?;
    assert!(
        agg.resolve_gvk(&GroupVersionKind::gvk("example.org", "v1alpha1", "Gadget"))
            .is_some()
    );
    assert!(
        agg.resolve_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"))
            .is_some()
    );

    // Deleting the CRD deletes its instances and its routes.
    crds.delete("gadgets.example.org", &Default::default()).await?;
    let err = api.list(&ListParams::default()).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 404), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn invalid_crd_is_rejected() -> anyhow::Result<()> {
    let (_server, client, _store) = common::start().await;
    let crds: Api<DynamicObject> = Api::all_with(
        client,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        )),
    );
    let bad = DynamicObject::new(
        "wrong.example.org",
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        )),
    )
    .data(
        json!({"spec": {"group": "example.org", "scope": "Cluster", "names": {"kind": "T", "plural": "ts"},
                           "versions": [{"name": "v1", "served": true, "storage": true}]}}),
    );
    let err = crds.create(&PostParams::default(), &bad).await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 422 && s.reason == "Invalid"),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn capi_cluster_crd_from_conformance_files() -> anyhow::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/crds/cluster-api/cluster.x-k8s.io_clusters.yaml");
    let Ok(yaml) = std::fs::read_to_string(&path) else {
        println!(
            "SKIP capi_cluster_crd_from_conformance_files: {} not present",
            path.display()
        );
        return Ok(());
    };
    let (_server, client, store) = common::start().await;
    let registered = store.register_crd_yaml(&yaml)?;
    assert_eq!(registered.len(), 1);
    let discovery = Discovery::new(client.clone()).run().await?;
    let group = discovery.get("cluster.x-k8s.io").expect("capi group discovered");
    assert_eq!(group.preferred_version_or_latest(), "v1beta2");
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("cluster.x-k8s.io", "v1beta2", "Cluster"))
        .unwrap();
    assert!(
        caps.subresources
            .iter()
            .any(|(s, _)| s.plural.ends_with("status"))
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let c = DynamicObject::new("mgmt", &ar)
        .data(json!({"spec": {"controlPlaneEndpoint": {"host": "10.0.0.1", "port": 6443}}}));
    api.create(&PostParams::default(), &c).await?;
    let status = json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "metadata": {"name": "mgmt"},
        "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Available",
                                   "lastTransitionTime": "2026-01-01T00:00:00Z"}], "phase": "Provisioned"}});
    let o = api
        .patch_status(
            "mgmt",
            &PatchParams::apply("capi").force(),
            &Patch::Apply(&status),
        )
        .await?;
    assert_eq!(o.data["status"]["phase"], "Provisioned");
    // Served at v1beta1 as well.
    let ar1 = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cluster.x-k8s.io", "v1beta1", "Cluster"),
        "clusters",
    );
    let api1: Api<DynamicObject> = Api::namespaced_with(api.clone().into_client(), "default", &ar1);
    assert!(api1.get_opt("mgmt").await?.is_some());
    Ok(())
}

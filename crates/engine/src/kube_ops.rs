//! Thin helpers over kube-rs for untyped objects: resolving kinds through discovery (cached),
//! server-side apply, get, list by label, delete. Every error names the object and the step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::Value;

/// An error talking to a Kubernetes API, with what was being done to which object.
#[derive(Debug, thiserror::Error)]
#[error("{step} {object}: {source}")]
pub struct KubeError {
    /// What was being done (`apply`, `get`, `list`, `delete`, `discover`…).
    pub step: String,
    /// `Kind namespace/name`.
    pub object: String,
    /// The client's error.
    #[source]
    pub source: kube::Error,
}

impl KubeError {
    /// Whether the server answered 404.
    pub fn is_not_found(&self) -> bool {
        matches!(&self.source, kube::Error::Api(s) if s.code == 404)
    }
}

/// `Kind namespace/name` of an object for messages.
pub fn describe(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// A resolved kind: its resource and whether it is namespaced.
type Resolved = (ApiResource, bool);

/// A kube client with a cache of resolved kinds.
#[derive(Clone)]
pub struct Kube {
    client: kube::Client,
    resources: Arc<Mutex<HashMap<(String, String), Resolved>>>,
    manager: String,
}

impl std::fmt::Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl Kube {
    /// Wraps `client`; server-side applies are made as `field_manager`.
    pub fn new(client: kube::Client, field_manager: &str) -> Kube {
        Kube {
            client,
            resources: Arc::new(Mutex::new(HashMap::new())),
            manager: field_manager.to_string(),
        }
    }

    /// The underlying client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The resource of `apiVersion`/`kind` and whether it is namespaced (discovery, cached).
    ///
    /// # Errors
    /// The kind is unknown to the server.
    pub async fn resource(&self, api_version: &str, kind: &str) -> Result<(ApiResource, bool), KubeError> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.resources.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|source| KubeError {
                step: "discover".into(),
                object: format!("{api_version} {kind}"),
                source,
            })?;
        let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
        self.resources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (resource.clone(), namespaced));
        Ok((resource, namespaced))
    }

    /// The API of `apiVersion`/`kind` in `namespace` (ignored for cluster-scoped kinds).
    ///
    /// # Errors
    /// The kind is unknown to the server.
    pub async fn api(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Api<DynamicObject>, KubeError> {
        let (resource, namespaced) = self.resource(api_version, kind).await?;
        Ok(match (namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &resource),
            (true, None) => Api::default_namespaced_with(self.client.clone(), &resource),
            (false, _) => Api::all_with(self.client.clone(), &resource),
        })
    }

    /// Server-side applies `object` (forcing ownership: the engine owns what it renders).
    ///
    /// # Errors
    /// The kind is unknown or the server refused the object.
    pub async fn apply(&self, object: &Value) -> Result<DynamicObject, KubeError> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = object["metadata"]["namespace"].as_str();
        let what = describe(kind, namespace, name);
        let api = self.api(api_version, kind, namespace).await?;
        api.patch(
            name,
            &PatchParams::apply(&self.manager).force(),
            &Patch::Apply(object),
        )
        .await
        .map_err(|source| KubeError {
            step: "apply".into(),
            object: what,
            source,
        })
    }

    /// The object, or `None` when it does not exist.
    ///
    /// # Errors
    /// Any failure other than 404.
    pub async fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<DynamicObject>, KubeError> {
        let api = match self.api(api_version, kind, namespace).await {
            Ok(api) => api,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        api.get_opt(name).await.map_err(|source| KubeError {
            step: "get".into(),
            object: describe(kind, namespace, name),
            source,
        })
    }

    /// Objects of a kind in `namespace` matching `label_selector`.
    ///
    /// # Errors
    /// The kind is unknown or the list failed.
    pub async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<DynamicObject>, KubeError> {
        let api = self.api(api_version, kind, namespace).await?;
        api.list(&ListParams::default().labels(label_selector))
            .await
            .map(|l| l.items)
            .map_err(|source| KubeError {
                step: "list".into(),
                object: describe(kind, namespace, &format!("-l {label_selector}")),
                source,
            })
    }

    /// Deletes an object (background propagation); absent is fine.
    ///
    /// # Errors
    /// Any failure other than 404.
    pub async fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(), KubeError> {
        let api = self.api(api_version, kind, namespace).await?;
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(source) => Err(KubeError {
                step: "delete".into(),
                object: describe(kind, namespace, name),
                source,
            }),
        }
    }

    /// Merge-patches the status subresource of an object.
    ///
    /// # Errors
    /// The object is gone or the server refused the patch.
    pub async fn patch_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        status: &Value,
    ) -> Result<(), KubeError> {
        let api = self.api(api_version, kind, namespace).await?;
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": status })),
        )
        .await
        .map(|_| ())
        .map_err(|source| KubeError {
            step: "update status of".into(),
            object: describe(kind, namespace, name),
            source,
        })
    }

    /// Merge-patches an object (metadata such as finalizers and annotations).
    ///
    /// # Errors
    /// The object is gone or the server refused the patch.
    pub async fn patch_merge(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<DynamicObject, KubeError> {
        let api = self.api(api_version, kind, namespace).await?;
        api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(|source| KubeError {
                step: "patch".into(),
                object: describe(kind, namespace, name),
                source,
            })
    }
}

/// The object as JSON.
pub fn to_value(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

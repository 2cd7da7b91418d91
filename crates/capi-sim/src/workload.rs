//! Workload clusters: one in-memory [`Store`] per Cluster, created when its infrastructure is
//! provisioned, and one shared HTTP listener that serves all of them under a path prefix:
//! `http://127.0.0.1:PORT/clusters/<namespace>/<name>` is the API of that cluster (kube-rs
//! keeps the path of `cluster_url` and appends API paths to it).
//!
//! One listener instead of one per cluster: a fleet of 10 000 clusters would otherwise need
//! 10 000 ports and accept loops; routing by prefix costs a hash lookup per request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anywhere_apiserver::{Durability, Store, StoreOptions};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::cache::{Cache, ClusterKey};
use crate::faults::Faults;

struct Workload {
    store: Store,
    router: Router,
}

struct Inner {
    clusters: RwLock<HashMap<ClusterKey, Workload>>,
    state_dir: Option<PathBuf>,
    addr: RwLock<Option<SocketAddr>>,
    faults: Faults,
    cache: Cache,
}

/// The workload stores and their shared HTTP front (cheap to clone).
#[derive(Clone)]
pub struct Workloads {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Workloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workloads")
            .field("addr", &self.addr())
            .finish_non_exhaustive()
    }
}

/// The path prefix of a cluster's API on the shared listener.
pub fn path_prefix(key: &ClusterKey) -> String {
    format!("/clusters/{}/{}", key.namespace, key.name)
}

impl Workloads {
    pub(crate) fn new(state_dir: Option<PathBuf>, faults: Faults, cache: Cache) -> Self {
        Self {
            inner: Arc::new(Inner {
                clusters: RwLock::default(),
                state_dir,
                addr: RwLock::default(),
                faults,
                cache,
            }),
        }
    }

    fn dir_of(&self, key: &ClusterKey) -> Option<PathBuf> {
        self.inner
            .state_dir
            .as_ref()
            .map(|d| d.join("workload").join(&key.namespace).join(&key.name))
    }

    /// The store of a cluster this process has open.
    fn open(&self, key: &ClusterKey) -> Option<Store> {
        self.inner
            .clusters
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .map(|w| w.store.clone())
    }

    /// The store of a cluster, if it exists (in memory, or persisted by an earlier process).
    pub fn get(&self, key: &ClusterKey) -> Option<Store> {
        if let Some(store) = self.open(key) {
            return Some(store);
        }
        let dir = self.dir_of(key)?;
        if dir.is_dir() {
            self.get_or_create(key).ok()
        } else {
            None
        }
    }

    /// The store of a cluster, created (or reopened from the state directory) when absent.
    ///
    /// # Errors
    /// When a persisted store cannot be opened.
    pub fn get_or_create(&self, key: &ClusterKey) -> Result<Store, crate::Error> {
        if let Some(store) = self.open(key) {
            return Ok(store);
        }
        let mut map = self
            .inner
            .clusters
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(w) = map.get(key) {
            return Ok(w.store.clone());
        }
        let store = match self.dir_of(key) {
            Some(dir) => open_persistent(&dir)?,
            None => Store::in_memory(),
        };
        let router = anywhere_apiserver::router(store.clone());
        map.insert(
            key.clone(),
            Workload {
                store: store.clone(),
                router,
            },
        );
        Ok(store)
    }

    /// Drops a cluster's store (and its state directory).
    pub fn remove(&self, key: &ClusterKey) {
        self.inner
            .clusters
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
        if let Some(dir) = self.dir_of(key) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Number of workload stores in memory.
    pub fn len(&self) -> usize {
        self.inner
            .clusters
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shared listener's address, once serving.
    pub fn addr(&self) -> Option<SocketAddr> {
        *self
            .inner
            .addr
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The URL of a cluster's API (`None` when not serving HTTP).
    pub fn url(&self, key: &ClusterKey) -> Option<String> {
        self.addr().map(|a| format!("http://{a}{}", path_prefix(key)))
    }

    /// Binds the shared listener and serves until the returned sender fires or is dropped.
    pub(crate) async fn serve(
        &self,
        addr: SocketAddr,
    ) -> std::io::Result<(oneshot::Sender<()>, JoinHandle<()>)> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        *self
            .inner
            .addr
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(bound);
        let app = Router::new().fallback(route).with_state(self.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok((tx, task))
    }

    fn router_of(&self, key: &ClusterKey) -> Option<Router> {
        if let Some(w) = self
            .inner
            .clusters
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
        {
            return Some(w.router.clone());
        }
        self.get(key)?;
        self.inner
            .clusters
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .map(|w| w.router.clone())
    }
}

fn open_persistent(dir: &Path) -> Result<Store, crate::Error> {
    std::fs::create_dir_all(dir).map_err(|source| crate::Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    Store::open_with(
        dir,
        StoreOptions {
            durability: Durability::Process,
            ..StoreOptions::default()
        },
    )
    .map_err(|source| crate::Error::OpenStore {
        path: dir.to_path_buf(),
        source,
    })
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn route(State(w): State<Workloads>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let mut parts = path.trim_start_matches('/').splitn(4, '/');
    let (Some("clusters"), Some(ns), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return status(
            404,
            "NotFound",
            "no such cluster: paths are /clusters/<namespace>/<name>/...",
        );
    };
    let rest = format!("/{}", parts.next().unwrap_or(""));
    let key = ClusterKey::new(ns, name);
    let cluster = w.inner.cache.get("Cluster", ns, name);
    if let Some(code) = w.inner.faults.workload_api_error(&key, cluster.as_deref()) {
        let reason = match code {
            503 => "ServiceUnavailable",
            429 => "TooManyRequests",
            504 => "Timeout",
            _ => "InternalError",
        };
        return status(code, reason, "injected fault: the workload API server is failing");
    }
    let Some(router) = w.router_of(&key) else {
        return status(
            503,
            "ServiceUnavailable",
            &format!("workload cluster {key} has no API server yet"),
        );
    };
    let (mut head, body) = req.into_parts();
    let pq = match head.uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    head.uri = match pq.parse::<Uri>() {
        Ok(u) => u,
        Err(_) => return status(400, "BadRequest", "invalid path"),
    };
    match router.oneshot(Request::from_parts(head, Body::new(body))).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

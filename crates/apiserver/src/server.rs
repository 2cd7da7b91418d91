//! The HTTP shell: an axum router that maps Kubernetes REST paths onto [`Store`] calls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::ApiError;
use crate::resource::Gvr;
use crate::store::{
    CreateRequest, DeleteOptions, DeleteRequest, Deleted, ListRequest, Patch, PatchRequest, Propagation,
    Store, Target, UpdateRequest, WatchRequest, WriteOptions,
};

/// Request counters (for "no hot loop" assertions).
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    writes: AtomicU64,
    watches: AtomicU64,
    lists: AtomicU64,
}

impl Counters {
    /// All requests served.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Create, update, patch and delete requests.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Watch requests started.
    pub fn watches(&self) -> u64 {
        self.watches.load(Ordering::Relaxed)
    }

    /// List requests (collection GETs that are not watches), pages included.
    pub fn lists(&self) -> u64 {
        self.lists.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct AppState {
    store: Store,
    counters: Arc<Counters>,
}

/// A running server: its address, counters and a shutdown handle. Dropping it stops the server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    counters: Arc<Counters>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Request counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Stops accepting, ends open watches, and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Serves `store` on `addr` (use `127.0.0.1:0` for a free port). Must run inside a tokio runtime.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(store: Store, addr: SocketAddr) -> std::io::Result<Server> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let counters = Arc::new(Counters::default());
    let app = router_with(store, counters.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Server {
        addr,
        counters,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Serves `store` on `127.0.0.1:0`.
///
/// # Errors
/// When no port can be bound.
pub async fn serve_local(store: Store) -> std::io::Result<Server> {
    serve(store, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// The axum router over `store` (for embedding in another server).
pub fn router(store: Store) -> Router {
    router_with(store, Arc::new(Counters::default()))
}

fn router_with(store: Store, counters: Arc<Counters>) -> Router {
    Router::new()
        .fallback(handle)
        .with_state(AppState { store, counters })
}

fn json_response(code: StatusCode, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error_response(e: &ApiError) -> Response {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &e.to_status())
}

/// Decoded query parameters.
#[derive(Default)]
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        let mut out = Vec::new();
        for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.push((decode(k), decode(v)));
        }
        Self(out)
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }

    fn write_options(&self) -> WriteOptions {
        WriteOptions {
            dry_run: self.get("dryRun") == Some("All"),
            field_manager: self.get("fieldManager").map(String::from),
            force: self.flag("force"),
        }
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a resource URL addresses.
struct Route {
    gvr: Gvr,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

enum Parsed {
    Discovery(Value),
    Resource(Route),
}

fn parse_path(store: &Store, path: &str, headers: &HeaderMap) -> Result<Parsed, ApiError> {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let aggregated = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=APIGroupDiscoveryList"));
    let not_found = || ApiError::not_found_msg("the server could not find the requested resource");
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        [] => {
            return Ok(Parsed::Discovery(
                json!({"paths": ["/api", "/api/v1", "/apis", "/version"]}),
            ));
        }
        ["version"] => {
            return Ok(Parsed::Discovery(json!({
                "major": "1", "minor": "33", "gitVersion": "v1.33.0-anywhere", "gitCommit": "0",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "rust",
                "compiler": "rustc", "platform": "linux/amd64"})));
        }
        ["healthz" | "livez" | "readyz"] => return Ok(Parsed::Discovery(json!("ok"))),
        ["api"] => {
            if aggregated {
                return Ok(Parsed::Discovery(store.registry().aggregated(true)));
            }
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            return Ok(Parsed::Discovery(
                json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}),
            ));
        }
        ["apis"] => {
            let r = store.registry();
            return Ok(Parsed::Discovery(if aggregated {
                r.aggregated(false)
            } else {
                r.api_group_list()
            }));
        }
        ["api", "v1"] => {
            return store
                .registry()
                .api_resource_list("", "v1")
                .map(Parsed::Discovery)
                .ok_or_else(not_found);
        }
        ["apis", g] => {
            return store
                .registry()
                .api_group(g)
                .map(Parsed::Discovery)
                .ok_or_else(not_found);
        }
        ["apis", g, v] => {
            return store
                .registry()
                .api_resource_list(g, v)
                .map(Parsed::Discovery)
                .ok_or_else(not_found);
        }
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found()),
    };
    let gvr = |r: &str| Gvr::new(group, version, r);
    let route = match rest {
        [r] => Route {
            gvr: gvr(r),
            namespace: None,
            name: None,
            subresource: None,
        },
        ["namespaces", n, sub @ ("status" | "finalize")] if group.is_empty() => Route {
            gvr: gvr("namespaces"),
            namespace: None,
            name: Some(n.to_string()),
            subresource: Some(sub.to_string()),
        },
        ["namespaces", ns, r] => Route {
            gvr: gvr(r),
            namespace: Some(ns.to_string()),
            name: None,
            subresource: None,
        },
        [r, n] => Route {
            gvr: gvr(r),
            namespace: None,
            name: Some(n.to_string()),
            subresource: None,
        },
        ["namespaces", ns, r, n] => Route {
            gvr: gvr(r),
            namespace: Some(ns.to_string()),
            name: Some(n.to_string()),
            subresource: None,
        },
        [r, n, sub] => Route {
            gvr: gvr(r),
            namespace: None,
            name: Some(n.to_string()),
            subresource: Some(sub.to_string()),
        },
        ["namespaces", ns, r, n, sub] => Route {
            gvr: gvr(r),
            namespace: Some(ns.to_string()),
            name: Some(n.to_string()),
            subresource: Some(sub.to_string()),
        },
        _ => return Err(not_found()),
    };
    Ok(Parsed::Resource(route))
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).or_else(|e| {
        // Apply bodies may be YAML (kubectl); kube-rs always sends JSON.
        std::str::from_utf8(body)
            .ok()
            .and_then(|s| {
                serde_saphyr::from_str_with_options::<Value>(
                    s,
                    serde_saphyr::options! { strict_booleans: true },
                )
                .ok()
            })
            .filter(Value::is_object)
            .ok_or_else(|| ApiError::bad_request(format!("failed to decode the request body: {e}")))
    })
}

async fn handle(
    State(app): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    app.counters.requests.fetch_add(1, Ordering::Relaxed);
    match dispatch(&app, &method, &uri, &headers, &body) {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn dispatch(
    app: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let store = &app.store;
    let route = match parse_path(store, uri.path(), headers)? {
        Parsed::Discovery(v) => {
            return if method == Method::GET {
                Ok(json_response(StatusCode::OK, &v))
            } else {
                Err(ApiError::method_not_allowed(format!(
                    "{method} is not supported on discovery paths"
                )))
            };
        }
        Parsed::Resource(r) => r,
    };
    let q = Query::parse(uri.query());
    let target = |name: &str| Target {
        gvr: route.gvr.clone(),
        namespace: route.namespace.clone(),
        name: name.to_string(),
        subresource: route.subresource.clone(),
    };
    let list_req = || ListRequest {
        gvr: route.gvr.clone(),
        namespace: route.namespace.clone(),
        label_selector: q.get("labelSelector").map(String::from),
        field_selector: q.get("fieldSelector").map(String::from),
        limit: q.get("limit").and_then(|l| l.parse().ok()),
        continue_token: q.get("continue").map(String::from),
        resource_version: q.get("resourceVersion").map(String::from),
        resource_version_match: q.get("resourceVersionMatch").map(String::from),
    };
    if matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        app.counters.writes.fetch_add(1, Ordering::Relaxed);
    }
    match (method.clone(), route.name.as_deref()) {
        (Method::GET, None) if q.flag("watch") => {
            app.counters.watches.fetch_add(1, Ordering::Relaxed);
            let req = WatchRequest {
                gvr: route.gvr.clone(),
                namespace: route.namespace.clone(),
                label_selector: q.get("labelSelector").map(String::from),
                field_selector: q.get("fieldSelector").map(String::from),
                resource_version: q.get("resourceVersion").map(String::from),
                allow_bookmarks: q.flag("allowWatchBookmarks"),
                send_initial_events: q.flag("sendInitialEvents"),
                timeout: Some(Duration::from_secs(
                    q.get("timeoutSeconds")
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(1800),
                )),
            };
            let stream = store.watch(&req)?;
            let body = futures::stream::unfold(stream, |mut s| async move {
                let e = s.next().await?;
                let line = s.encode(&e);
                Some((Ok::<_, std::convert::Infallible>(Bytes::from(line)), s))
            });
            Ok(Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(body))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
        }
        (Method::GET, None) => {
            app.counters.lists.fetch_add(1, Ordering::Relaxed);
            let list = store.list(&list_req())?;
            let mut out = Vec::with_capacity(64 + list.items.len() * 512);
            list.write_json(&mut out);
            Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], out).into_response())
        }
        (Method::GET, Some(n)) => Ok(json_response(StatusCode::OK, &store.get(&target(n))?)),
        (Method::POST, None) => {
            let obj = parse_body(body)?;
            let created = store.create(CreateRequest {
                gvr: route.gvr.clone(),
                namespace: route.namespace.clone(),
                object: obj,
                options: q.write_options(),
            })?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        (Method::PUT, Some(n)) => {
            let obj = parse_body(body)?;
            let updated = store.update(UpdateRequest {
                target: target(n),
                object: obj,
                options: q.write_options(),
            })?;
            Ok(json_response(StatusCode::OK, &updated))
        }
        (Method::PATCH, Some(n)) => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let ct = ct.split(';').next().unwrap_or("").trim();
            let v = parse_body(body)?;
            let patch = match ct {
                "application/merge-patch+json" => Patch::Merge(v),
                "application/json-patch+json" => Patch::Json(v),
                "application/strategic-merge-patch+json" => Patch::Strategic(v),
                "application/apply-patch+yaml" | "application/apply-patch+json" => Patch::Apply(v),
                other => {
                    return Err(ApiError::unsupported_media_type(format!(
                        "the body of the request was in an unknown format - accepted media types include: \
                         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml \
                         (got \"{other}\")"
                    )));
                }
            };
            let (obj, created) = store.patch_created(PatchRequest {
                target: target(n),
                patch,
                options: q.write_options(),
            })?;
            Ok(json_response(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                &obj,
            ))
        }
        (Method::DELETE, Some(n)) => {
            let opts = delete_options(&q, &parse_body(body)?);
            let t = Target {
                subresource: None,
                ..target(n)
            };
            match store.delete(&DeleteRequest {
                target: t.clone(),
                options: opts,
            })? {
                Deleted::Pending(v) => Ok(json_response(StatusCode::OK, &v)),
                Deleted::Gone(v) => {
                    let md = v.get("metadata");
                    let s = json!({
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                        "details": {"name": n, "group": route.gvr.group, "kind": route.gvr.resource,
                                    "uid": md.and_then(|m| m.get("uid")).cloned().unwrap_or(Value::Null)},
                    });
                    Ok(json_response(StatusCode::OK, &s))
                }
            }
        }
        (Method::DELETE, None) => {
            let opts = delete_options(&q, &parse_body(body)?);
            let items = store.delete_collection(&list_req(), &opts)?;
            let kind = store
                .list(&ListRequest {
                    limit: Some(1),
                    ..list_req()
                })
                .map(|l| l.list_kind)
                .unwrap_or_else(|_| "List".into());
            let rv = store.resource_version().to_string();
            Ok(json_response(
                StatusCode::OK,
                &json!({"kind": kind, "apiVersion": route.gvr.api_version(), "metadata": {"resourceVersion": rv},
                        "items": items}),
            ))
        }
        (m, _) => Err(ApiError::method_not_allowed(format!(
            "{m} is not supported on this path"
        ))),
    }
}

fn delete_options(q: &Query, body: &Value) -> DeleteOptions {
    let prop = body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .or_else(|| q.get("propagationPolicy"))
        .and_then(|p| match p {
            "Orphan" => Some(Propagation::Orphan),
            "Background" => Some(Propagation::Background),
            "Foreground" => Some(Propagation::Foreground),
            _ => None,
        });
    let dry = body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == "All"))
        || q.get("dryRun") == Some("All");
    DeleteOptions {
        dry_run: dry,
        propagation: prop,
        precondition_uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(String::from),
        precondition_resource_version: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from),
    }
}

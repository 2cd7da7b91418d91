//! The axum shell: per-machine iPXE scripts, artifact streaming and instance metadata, with one
//! [`Event`] per request.
//!
//! Routes:
//! - `GET /auto.ipxe[?mac=<mac>]`: the script of the machine named by `mac` (iPXE can send
//!   `${net0/mac}`), else of the machine at the source address; 404 when neither is known.
//! - `GET /ipxe/<mac>`: the script of that machine.
//! - `GET|HEAD /artifacts/<name>`: a file of the artifact directory, streamed, with
//!   `Accept-Ranges: bytes` and single-range `206`/`416` answers. iPXE fetches kernels and
//!   initrds with plain GETs, but `sanboot http://...` reads an image as a disk: a `HEAD` for its
//!   size, then `Range` GETs, so both must be right.
//! - `GET /2009-04-04/...` (EC2 style) and `GET /nocloud/{meta-data,user-data,network-config}`:
//!   metadata of the machine whose fixed address is the **source address** of the connection;
//!   any other address gets 404. `X-Forwarded-For` is not trusted.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::io::ReaderStream;

use crate::machine::{Catalogue, Machine, ipxe_script};
use crate::metadata::{
    EC2_VERSION, ec2_metadata, nocloud_meta_data, nocloud_network_config, nocloud_user_data,
};
use crate::range::{RangeDecision, decide_range};
use crate::{Mac, Result};

/// One answered request, for the per-machine boot timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When the response body was finished or abandoned (wall clock, read at the edge).
    pub at: SystemTime,
    /// The machine the request was for (or came from), when known.
    pub mac: Option<Mac>,
    /// The client's address.
    pub client: IpAddr,
    /// `GET`, `HEAD`...
    pub method: Method,
    /// The request path, without the query.
    pub path: String,
    /// The response status.
    pub status: StatusCode,
    /// Body bytes handed to the connection (0 for `HEAD`).
    pub bytes: u64,
    /// Whether the whole body was sent; `false` when the client hung up first.
    pub complete: bool,
}

/// What the server serves.
#[derive(Clone, Debug)]
pub struct Options {
    /// The machines. Whoever holds the sender can swap the catalogue while serving (refuse
    /// netboot once a machine is provisioned, add machines); each request reads the latest.
    pub catalogue: watch::Receiver<Arc<Catalogue>>,
    /// This server's `host[:port]` as machines reach it, used in script URLs.
    pub server: String,
    /// Directory served under `/artifacts/`; `None` answers 404 there.
    pub artifacts: Option<PathBuf>,
    /// Where request events go. Sent with `try_send`: a full channel drops events rather than
    /// stall a boot.
    pub events: Option<mpsc::Sender<Event>>,
}

impl Options {
    /// Options serving a fixed `catalogue` as `server`, with no artifacts and no events.
    pub fn new(catalogue: Catalogue, server: impl Into<String>) -> Options {
        let (_sender, receiver) = watch::channel(Arc::new(catalogue));
        Options {
            catalogue: receiver,
            server: server.into(),
            artifacts: None,
            events: None,
        }
    }
}

#[derive(Clone)]
struct AppState(Arc<Options>);

impl AppState {
    fn catalogue(&self) -> Arc<Catalogue> {
        self.0.catalogue.borrow().clone()
    }
}

/// Response extension naming the machine a handler answered for (read by the event layer).
#[derive(Clone, Copy)]
struct Answered(Mac);

/// The router. It needs the peer address: serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` (as [`serve`] does).
pub fn router(options: Options) -> Router {
    let state = AppState(Arc::new(options));
    Router::new()
        .route("/auto.ipxe", get(auto_ipxe))
        .route("/ipxe/{mac}", get(ipxe_by_mac))
        .route("/artifacts/{*name}", get(artifact))
        .route(&format!("/{EC2_VERSION}"), get(ec2_root))
        .route(&format!("/{EC2_VERSION}/"), get(ec2_root))
        .route(&format!("/{EC2_VERSION}/{{*path}}"), get(ec2))
        .route("/nocloud/{document}", get(nocloud))
        // An explicit fallback, so unrouted requests pass through the event layer too.
        .fallback(|| async { not_found("path") })
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// Serves `options` on `listener` until `shutdown` completes.
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(options).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

fn source_v4(addr: SocketAddr) -> Option<Ipv4Addr> {
    match addr.ip().to_canonical() {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    }
}

fn text(status: StatusCode, body: String, mac: Option<Mac>) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response();
    if let Some(mac) = mac {
        response.extensions_mut().insert(Answered(mac));
    }
    response
}

fn not_found(what: &str) -> Response {
    text(StatusCode::NOT_FOUND, format!("{what} not found\n"), None)
}

fn script_response(machine: &Machine, server: &str) -> Response {
    text(StatusCode::OK, ipxe_script(machine, server), Some(machine.mac()))
}

#[derive(Deserialize)]
struct ScriptQuery {
    mac: Option<String>,
}

async fn auto_ipxe(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<ScriptQuery>,
) -> Response {
    let catalogue = state.catalogue();
    // An unparsable `mac` is ignored: the source address may still identify the machine.
    let mac = query.mac.and_then(|m| m.trim().parse::<Mac>().ok());
    let machine = match source_v4(peer) {
        Some(ip) => catalogue.identify(ip, mac),
        None => mac.and_then(|m| catalogue.by_mac(m)),
    };
    match machine {
        Some(machine) => script_response(machine, &state.0.server),
        None => not_found("hardware"),
    }
}

async fn ipxe_by_mac(State(state): State<AppState>, Path(mac): Path<String>) -> Response {
    let Ok(mac) = mac.parse::<Mac>() else {
        return text(StatusCode::BAD_REQUEST, "invalid mac\n".into(), None);
    };
    match state.catalogue().by_mac(mac) {
        Some(machine) => script_response(machine, &state.0.server),
        None => not_found("hardware"),
    }
}

/// The machine at the connection's source address, which alone may read its metadata.
fn caller(state: &AppState, peer: SocketAddr) -> Option<Machine> {
    let ip = source_v4(peer)?;
    state.catalogue().by_ip(ip).cloned()
}

async fn ec2_root(state: State<AppState>, peer: ConnectInfo<SocketAddr>) -> Response {
    ec2(state, peer, Path(String::new())).await
}

async fn ec2(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(path): Path<String>,
) -> Response {
    let Some(machine) = caller(&state, peer) else {
        return not_found("metadata");
    };
    match ec2_metadata(&machine, &path) {
        Some(body) => text(StatusCode::OK, body, Some(machine.mac())),
        None => {
            let mut response = not_found("metadata");
            response.extensions_mut().insert(Answered(machine.mac()));
            response
        }
    }
}

async fn nocloud(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(document): Path<String>,
) -> Response {
    let Some(machine) = caller(&state, peer) else {
        return not_found("metadata");
    };
    let body: Result<String> = match document.as_str() {
        "meta-data" => nocloud_meta_data(&machine),
        "user-data" => Ok(nocloud_user_data(&machine)),
        "network-config" => nocloud_network_config(&machine),
        _ => return not_found("metadata"),
    };
    match body {
        Ok(body) => text(StatusCode::OK, body, Some(machine.mac())),
        Err(error) => {
            tracing::error!(error = %error, mac = %machine.mac(), "failed to render nocloud {document}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "render failed\n".into(),
                Some(machine.mac()),
            )
        }
    }
}

/// The relative path of an artifact name, or `None` when it could leave the directory:
/// `/`-separated segments of ASCII letters, digits, `.`, `_`, `-` and `+`, none empty, `.` or
/// `..`.
pub fn artifact_path(name: &str) -> Option<PathBuf> {
    let is_safe = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
    };
    name.split('/').all(is_safe).then(|| PathBuf::from(name))
}

/// Opens `name` under `root`, refusing anything that resolves (through symlinks) outside it.
async fn open_artifact(root: &FsPath, name: &str) -> Option<(tokio::fs::File, u64)> {
    let relative = artifact_path(name)?;
    let root = tokio::fs::canonicalize(root).await.ok()?;
    let full = tokio::fs::canonicalize(root.join(relative)).await.ok()?;
    if !full.starts_with(&root) {
        return None;
    }
    let file = tokio::fs::File::open(&full).await.ok()?;
    let metadata = file.metadata().await.ok()?;
    metadata.is_file().then_some((file, metadata.len()))
}

async fn artifact(State(state): State<AppState>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(root) = state.0.artifacts.as_deref() else {
        return not_found("artifact");
    };
    let Some((mut file, len)) = open_artifact(root, &name).await else {
        return not_found("artifact");
    };
    let range = headers.get(header::RANGE).map(|v| v.to_str().unwrap_or(""));
    let decision = decide_range(range, len);
    let mut response = match decision {
        RangeDecision::Unsatisfiable => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            insert(&mut response, header::CONTENT_RANGE, format!("bytes */{len}"));
            insert(&mut response, header::CONTENT_LENGTH, "0".into());
            response
        }
        RangeDecision::Full | RangeDecision::Partial { .. } => {
            let start = match decision {
                RangeDecision::Partial { start, .. } => start,
                _ => 0,
            };
            let count = decision.body_len(len);
            if start > 0 && file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
                return text(StatusCode::INTERNAL_SERVER_ERROR, "seek failed\n".into(), None);
            }
            let body = Body::from_stream(ReaderStream::new(file.take(count)));
            let mut response = body.into_response();
            if let RangeDecision::Partial { start, end } = decision {
                *response.status_mut() = StatusCode::PARTIAL_CONTENT;
                insert(
                    &mut response,
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{end}/{len}"),
                );
            }
            insert(&mut response, header::CONTENT_LENGTH, count.to_string());
            insert(
                &mut response,
                header::CONTENT_TYPE,
                "application/octet-stream".into(),
            );
            response
        }
    };
    insert(&mut response, header::ACCEPT_RANGES, "bytes".into());
    response
}

fn insert(response: &mut Response, name: header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(name, value);
    }
}

/// Sends one [`Event`] per request to the events channel, if any, once the response body has
/// been sent or abandoned.
async fn record(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let Some(events) = state.0.events.clone() else {
        return response;
    };
    let mac = response.extensions().get::<Answered>().map(|a| a.0).or_else(|| {
        let ip = source_v4(peer)?;
        state.catalogue().by_ip(ip).map(Machine::mac)
    });
    let (mut parts, body) = response.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| body.size_hint().exact());
    // Wrapping the body hides its size from hyper: keep the length in the header.
    if let Some(len) = declared {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    let event = Event {
        at: SystemTime::now(),
        mac,
        client: peer.ip().to_canonical(),
        method: method.clone(),
        path,
        status: parts.status,
        bytes: 0,
        complete: false,
    };
    let expected = if method == Method::HEAD { Some(0) } else { declared };
    let body = Body::from_stream(Recorded {
        inner: body.into_data_stream(),
        sent: 0,
        expected,
        pending: Some((event, events)),
    });
    Response::from_parts(parts, body)
}

/// A response body that counts what it hands to the connection and sends its [`Event`] when it
/// ends or is dropped (client gone, or `HEAD`).
struct Recorded {
    inner: axum::body::BodyDataStream,
    sent: u64,
    expected: Option<u64>,
    pending: Option<(Event, mpsc::Sender<Event>)>,
}

impl Recorded {
    fn finish(&mut self, reached_end: bool) {
        if let Some((mut event, events)) = self.pending.take() {
            event.at = SystemTime::now();
            event.bytes = self.sent;
            event.complete = reached_end || self.expected == Some(self.sent);
            if events.try_send(event).is_err() {
                tracing::debug!("boot event dropped: channel full or closed");
            }
        }
    }
}

impl futures_core::Stream for Recorded {
    type Item = std::result::Result<axum::body::Bytes, axum::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.inner).poll_next(cx);
        match &polled {
            std::task::Poll::Ready(Some(Ok(chunk))) => this.sent += chunk.len() as u64,
            std::task::Poll::Ready(None) => this.finish(true),
            _ => {}
        }
        polled
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        self.finish(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_names_cannot_leave_the_directory() {
        let table: &[(&str, bool)] = &[
            ("vmlinuz", true),
            ("hook/initramfs-x86_64", true),
            ("ubuntu-22.04+k8s_1.33.raw.gz", true),
            ("", false),
            ("..", false),
            ("../etc/passwd", false),
            ("a/../../b", false),
            ("./a", false),
            ("/etc/passwd", false),
            ("a//b", false),
            ("a/", false),
            ("a\\..\\b", false),
            ("a b", false),
            ("a%2e", false),
            ("é", false),
        ];
        for (name, ok) in table {
            assert_eq!(artifact_path(name).is_some(), *ok, "{name:?}");
        }
    }
}

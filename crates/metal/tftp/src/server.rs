//! The tokio shell: owns the sockets and timers, and drives one [`Transfer`] per request.
//!
//! Each accepted read request gets its own task and its own socket bound to an ephemeral port on
//! the listening address and connected to the client (the "transfer ID" of RFC 1350), so the kernel
//! drops datagrams from anyone else. Concurrency is bounded by [`Limits::max_transfers`].

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use crate::packet::Request;
use crate::source::FileSource;
use crate::transfer::{Action, Config, Event, Outcome, Transfer};

/// Largest datagram a client can send; client packets are small but anything must be readable to
/// be rejected properly.
const MAX_DATAGRAM: usize = 65_536;

/// Bounds on the server as a whole, plus the per-transfer [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Transfers in flight at once. Requests beyond this are dropped (not answered with an
    /// error) so that firmware retries its RRQ instead of aborting the boot.
    pub max_transfers: usize,
    /// Negotiation limits and retransmission settings of each transfer.
    pub transfer: Config,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_transfers: 64,
            transfer: Config::default(),
        }
    }
}

/// Failure of the listening socket; transfers' own socket errors only end that transfer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket has no usable local address.
    #[error("failed to read the local address of the tftp listening socket")]
    LocalAddr(#[source] io::Error),
    /// Receiving on the listening socket failed.
    #[error("failed to receive on the tftp listening socket")]
    Receive(#[source] io::Error),
}

/// One transfer starting or ending, with the wall-clock time the shell saw it (for per-machine
/// boot timelines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferEvent {
    /// When it happened.
    pub at: std::time::SystemTime,
    /// The client's address.
    pub peer: SocketAddr,
    /// The requested file name.
    pub file: String,
    /// Started, or finished with which outcome.
    pub kind: TransferEventKind,
}

/// What happened to a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEventKind {
    /// A read request was accepted and its transfer started.
    Started,
    /// The transfer ended.
    Finished(Outcome),
}

/// Serves read requests arriving on `listen` from `source` until the socket fails or the future
/// is dropped (which also aborts the transfers in flight).
///
/// Duplicate requests from a client address that already has a transfer running are ignored:
/// firmware under CPU starvation retransmits its RRQ in bursts, and answering each from a new
/// port would make the client reject all but one with "unknown transfer ID".
///
/// Reads from `source` run inline on the transfer's task: they are at most one window of blocks
/// and boot files are normally in the page cache. A source backed by slow storage should load
/// into memory first.
///
/// Assumption: on a multi-homed host, bind `listen` to the address clients use, since replies
/// leave from an ephemeral port on that address.
///
/// # Errors
/// [`Error::LocalAddr`] or [`Error::Receive`].
pub async fn serve<S: FileSource>(listen: UdpSocket, source: S, limits: Limits) -> Result<(), Error> {
    serve_with_events(listen, source, limits, None).await
}

/// As [`serve`], also sending a [`TransferEvent`] to `events` when each accepted transfer starts
/// and when it finishes (a closed receiver is ignored).
///
/// # Errors
/// [`Error::LocalAddr`] or [`Error::Receive`].
pub async fn serve_with_events<S: FileSource>(
    listen: UdpSocket,
    source: S,
    limits: Limits,
    events: Option<UnboundedSender<TransferEvent>>,
) -> Result<(), Error> {
    let local_ip = listen.local_addr().map_err(Error::LocalAddr)?.ip();
    let source = Arc::new(source);
    let permits = Arc::new(Semaphore::new(limits.max_transfers.max(1)));
    let active: Arc<Mutex<HashSet<SocketAddr>>> = Arc::default();
    let mut tasks = JoinSet::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        while tasks.try_join_next().is_some() {}
        let (len, peer) = match listen.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(err) if is_transient(&err) => continue,
            Err(err) => return Err(Error::Receive(err)),
        };
        let request = match Request::parse(&buf[..len]) {
            Ok(request) => request,
            Err(err) => {
                tracing::debug!(%peer, error = %err, "ignoring non-request datagram on tftp port");
                continue;
            }
        };
        if !active.lock().unwrap_or_else(PoisonError::into_inner).insert(peer) {
            tracing::debug!(%peer, file = %request.filename, "ignoring duplicate request");
            continue;
        }
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            active
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&peer);
            tracing::warn!(%peer, file = %request.filename, "tftp transfer limit reached, dropping request");
            continue;
        };
        let source = Arc::clone(&source);
        let active = Arc::clone(&active);
        let config = limits.transfer.clone();
        let events = events.clone();
        tasks.spawn(async move {
            let report = |kind| {
                if let Some(events) = &events {
                    let _ = events.send(TransferEvent {
                        at: std::time::SystemTime::now(),
                        peer,
                        file: request.filename.clone(),
                        kind,
                    });
                }
            };
            report(TransferEventKind::Started);
            let outcome = run_transfer(&*source, &request, peer, local_ip, &config).await;
            if let Some(outcome) = outcome {
                report(TransferEventKind::Finished(outcome));
            }
            active
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&peer);
            drop(permit);
        });
    }
}

fn is_transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted
    )
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Drives one transfer to its end and logs the outcome; `None` when it ended without one
/// (socket trouble, client gone).
async fn run_transfer<S: FileSource>(
    source: &S,
    request: &Request,
    peer: SocketAddr,
    local_ip: IpAddr,
    config: &Config,
) -> Option<Outcome> {
    let file = request.filename.as_str();
    let socket = match UdpSocket::bind((local_ip, 0)).await {
        Ok(socket) => socket,
        Err(err) => {
            tracing::warn!(%peer, file, error = %err, "failed to bind a tftp transfer socket");
            return None;
        }
    };
    if let Err(err) = socket.connect(peer).await {
        tracing::warn!(%peer, file, error = %err, "failed to connect a tftp transfer socket");
        return None;
    }
    let (mut transfer, mut actions) = Transfer::start(now(), request, source, config);
    let mut deadline = None;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        for action in std::mem::take(&mut actions) {
            match action {
                Action::Send(datagram) => {
                    // A lost datagram is the timer's business; only log.
                    if let Err(err) = socket.send(&datagram).await {
                        tracing::debug!(%peer, file, error = %err, "tftp send failed");
                    }
                }
                Action::ArmTimer(at) => deadline = Some(tokio::time::Instant::from_std(at)),
                Action::Finish(outcome) => {
                    log_outcome(peer, file, &outcome);
                    return Some(outcome);
                }
            }
        }
        let Some(at) = deadline else {
            tracing::warn!(%peer, file, "tftp transfer stalled without a timer");
            return None;
        };
        tokio::select! {
            received = socket.recv(&mut buf) => match received {
                Ok(len) => actions = transfer.handle(now(), Event::Packet(&buf[..len])),
                Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                    tracing::info!(%peer, file, "tftp client went away");
                    return None;
                }
                Err(err) => tracing::debug!(%peer, file, error = %err, "tftp receive failed"),
            },
            () = tokio::time::sleep_until(at) => {
                // The transfer must re-arm (or finish); a timer is never reused.
                deadline = None;
                actions = transfer.handle(now(), Event::Timeout);
            }
        }
    }
}

fn log_outcome(peer: SocketAddr, file: &str, outcome: &Outcome) {
    match outcome {
        Outcome::Completed { bytes } => tracing::info!(%peer, file, bytes, "tftp transfer completed"),
        Outcome::Refused(code) => tracing::info!(%peer, file, code = code.code(), "tftp request refused"),
        other => tracing::warn!(%peer, file, outcome = ?other, "tftp transfer failed"),
    }
}

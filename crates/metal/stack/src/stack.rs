//! The tokio shell: binds the DHCP, TFTP and HTTP sockets, serves the three services, pumps
//! their events into the [`TimelineStore`] and stops everything when asked.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anywhere_boot::{Catalogue, Options as HttpOptions};
use anywhere_dhcp::server::Options as DhcpOptions;
use anywhere_dhcp::{BootOptions, Config as DhcpConfig, Mac, RedbLeaseStore, Server};
use anywhere_tftp::{IpxeBinaries, Limits, MemorySource};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};

use crate::config::ServeConfig;
use crate::timeline::{Entry, TimelineStore, dhcp_kind, http_kind, tftp_kind};
use crate::{Error, Result};

/// Where the services actually listen (ports resolved when the config asked for port 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addresses {
    /// The DHCP socket.
    pub dhcp: SocketAddr,
    /// The TFTP listening socket.
    pub tftp: SocketAddr,
    /// The HTTP listener.
    pub http: SocketAddr,
}

/// The stack with its sockets bound and its stores open, ready to [`Bound::serve`].
pub struct Bound {
    addresses: Addresses,
    dhcp_socket: UdpSocket,
    dhcp: Server<RedbLeaseStore>,
    tftp_socket: UdpSocket,
    tftp_source: MemorySource,
    http_listener: TcpListener,
    http: HttpOptions,
    timeline: TimelineStore,
    kernel: String,
    initrds: Vec<String>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

fn socket_err(
    service: &'static str,
    operation: &'static str,
    addr: impl ToString,
) -> impl FnOnce(std::io::Error) -> Error {
    let addr = addr.to_string();
    move |source| Error::Socket {
        service,
        operation,
        addr,
        source,
    }
}

/// Reads the inventory, opens the stores and binds the three sockets. Must be called inside a
/// tokio runtime.
///
/// The HTTP authority sent to machines (in DHCP boot options and iPXE scripts) is the server
/// IP and the port actually bound (omitted when 80).
///
/// # Errors
/// [`Error::Read`]/[`Error::Inventory`] for the CSV, [`Error::Dhcp`]/[`Error::Boot`] when a
/// record cannot be served, [`Error::Timeline`] for the timeline store, [`Error::Socket`] when
/// a socket cannot be bound.
pub async fn bind(config: &ServeConfig) -> Result<Bound> {
    let csv = std::fs::read_to_string(&config.hardware_csv).map_err(|source| Error::Read {
        path: config.hardware_csv.clone(),
        source,
    })?;
    let hardware = anywhere_inventory::read_csv(&csv).map_err(|problems| Error::Inventory {
        path: config.hardware_csv.clone(),
        problems: problems.iter().map(ToString::to_string).collect(),
    })?;

    let http_listener = TcpListener::bind(config.listen.http).await.map_err(socket_err(
        "http",
        "bind",
        config.listen.http,
    ))?;
    let http_addr =
        http_listener
            .local_addr()
            .map_err(socket_err("http", "local address", config.listen.http))?;
    let authority = match http_addr.port() {
        80 => config.server_ip.to_string(),
        port => format!("{}:{port}", config.server_ip),
    };

    let mut dhcp_config = DhcpConfig::from_inventory(config.server_ip, &hardware)?;
    dhcp_config.mode = config.dhcp_mode.into();
    dhcp_config.boot = BootOptions {
        http_authority: authority.clone(),
        ..BootOptions::on(config.server_ip)
    };
    let dhcp = Server::new(
        dhcp_config,
        RedbLeaseStore::open(&config.lease_store)?.group_commit(),
    )?;
    let dhcp_socket = anywhere_dhcp::server::bind(config.listen.dhcp, config.interface.as_deref())?;
    let dhcp_addr =
        dhcp_socket
            .local_addr()
            .map_err(socket_err("dhcp", "local address", config.listen.dhcp))?;

    let tftp_socket =
        UdpSocket::bind(config.listen.tftp)
            .await
            .map_err(socket_err("tftp", "bind", config.listen.tftp))?;
    let tftp_addr =
        tftp_socket
            .local_addr()
            .map_err(socket_err("tftp", "local address", config.listen.tftp))?;
    let mut tftp_source = MemorySource::new();
    match IpxeBinaries::locate().and_then(|found| found.load_into(&mut tftp_source)) {
        Ok(()) => {}
        // Machines that chainload iPXE over TFTP will fail; iPXE-native firmware still boots.
        Err(error) => tracing::warn!(%error, "tftp will serve no ipxe binaries"),
    }

    let boot = config.netboot.boot_settings();
    let catalogue = Catalogue::from_inventory(&hardware, &boot)?;
    let (_catalogue_tx, catalogue_rx) = watch::channel(Arc::new(catalogue));
    let http = HttpOptions {
        catalogue: catalogue_rx,
        server: authority,
        artifacts: Some(config.artifacts.clone()),
        events: None,
    };

    let timeline = TimelineStore::open(&config.timeline_store)?;
    Ok(Bound {
        addresses: Addresses {
            dhcp: dhcp_addr,
            tftp: tftp_addr,
            http: http_addr,
        },
        dhcp_socket,
        dhcp,
        tftp_socket,
        tftp_source,
        http_listener,
        http,
        timeline,
        kernel: config.netboot.kernel.clone(),
        initrds: config.netboot.initrds.clone(),
    })
}

/// Binds and serves `config` until `shutdown` completes (see [`bind`] and [`Bound::serve`]).
///
/// # Errors
/// As [`bind`] and [`Bound::serve`].
pub async fn run(config: &ServeConfig, shutdown: impl Future<Output = ()>) -> Result<()> {
    bind(config).await?.serve(shutdown, None).await
}

/// One recorded timeline entry, as passed to an observer.
pub type Recorded = (Mac, Entry);

impl Bound {
    /// Where the services listen.
    pub fn addresses(&self) -> Addresses {
        self.addresses
    }

    /// Serves DHCP, TFTP and HTTP until `shutdown` completes or a service fails, recording
    /// every machine event in the timeline store. Each entry is sent to `observer` (if any)
    /// once it is stored. On return every service has stopped, TFTP transfers in flight are
    /// aborted and every event received has been written.
    ///
    /// Timeline writes that fail are logged and skipped: recording must not stop a boot.
    ///
    /// # Errors
    /// [`Error::Tftp`] or [`Error::Socket`] when a service fails (the others are then stopped),
    /// [`Error::Task`] when a task panics.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()>,
        observer: Option<mpsc::UnboundedSender<Recorded>>,
    ) -> Result<()> {
        let Bound {
            dhcp_socket,
            dhcp,
            tftp_socket,
            tftp_source,
            http_listener,
            mut http,
            timeline,
            kernel,
            initrds,
            addresses,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            // An error means the sender is gone, which also means stop.
            let _ = rx.wait_for(|stop| *stop).await;
        };

        let (entries_tx, mut entries_rx) = mpsc::unbounded_channel::<Recorded>();
        let writer = tokio::task::spawn_blocking(move || {
            while let Some((mac, entry)) = entries_rx.blocking_recv() {
                if let Err(error) = timeline.record(mac, &entry) {
                    tracing::warn!(%mac, error = %error, "failed to record timeline entry");
                    continue;
                }
                if let Some(observer) = &observer {
                    let _ = observer.send((mac, entry));
                }
            }
        });

        let (dhcp_events_tx, mut dhcp_events) = mpsc::unbounded_channel();
        let dhcp_entries = entries_tx.clone();
        let dhcp_pump = tokio::spawn(async move {
            while let Some(record) = dhcp_events.recv().await {
                let record: anywhere_dhcp::server::Record = record;
                if let Some((mac, kind)) = dhcp_kind(&record.event) {
                    let _ = dhcp_entries.send((mac, Entry { at: record.at, kind }));
                }
            }
        });
        let (http_events_tx, mut http_events) = mpsc::channel(1024);
        http.events = Some(http_events_tx);
        let http_entries = entries_tx.clone();
        let http_pump = tokio::spawn(async move {
            while let Some(event) = http_events.recv().await {
                if let Some((mac, kind)) = http_kind(&event, &kernel, &initrds) {
                    let _ = http_entries.send((mac, Entry { at: event.at, kind }));
                }
            }
        });

        let (tftp_events_tx, mut tftp_events) = mpsc::unbounded_channel();
        let tftp_entries = entries_tx;
        let catalogue = http.catalogue.clone();
        let tftp_pump = tokio::spawn(async move {
            while let Some(event) = tftp_events.recv().await {
                let event: anywhere_tftp::TransferEvent = event;
                // TFTP knows only the client's address: the machine is the one reserved there.
                let IpAddr::V4(ip) = event.peer.ip().to_canonical() else {
                    continue;
                };
                let Some(mac) = catalogue.borrow().by_ip(ip).map(|m| m.mac()) else {
                    continue;
                };
                let kind = tftp_kind(&event.kind, &event.file);
                let _ = tftp_entries.send((mac, Entry { at: event.at, kind }));
            }
        });

        let dhcp_options = DhcpOptions {
            events: Some(dhcp_events_tx),
            ..DhcpOptions::default()
        };
        // Each service reports how it ended on `done`; ending before the stop is a failure.
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Result<()>>();
        let dhcp_stop = stopped(stop_rx.clone());
        let dhcp_done = done_tx.clone();
        let dhcp_task = tokio::spawn(async move {
            let result = anywhere_dhcp::server::serve(dhcp, &dhcp_socket, &dhcp_options, dhcp_stop).await;
            let _ = dhcp_done.send(result.map(drop).map_err(Error::from));
        });
        let http_addr = addresses.http;
        let http_stop = stopped(stop_rx.clone());
        let http_done = done_tx.clone();
        let http_task = tokio::spawn(async move {
            let result = anywhere_boot::serve(http_listener, http, http_stop).await;
            let _ = http_done.send(result.map_err(socket_err("http", "serve", http_addr)));
        });
        let tftp_stop = stopped(stop_rx);
        let tftp_done = done_tx;
        let tftp_task = tokio::spawn(async move {
            let result = tokio::select! {
                result = anywhere_tftp::serve_with_events(tftp_socket, tftp_source, Limits::default(), Some(tftp_events_tx)) => result.map_err(Error::from),
                () = tftp_stop => Ok(()),
            };
            let _ = tftp_done.send(result);
        });

        let early = tokio::select! {
            () = shutdown => None,
            ended = done_rx.recv() => ended,
        };
        let _ = stop_tx.send(true);
        let mut outcome = match early {
            Some(Err(error)) => Err(error),
            _ => Ok(()),
        };
        for (name, task) in [("dhcp", dhcp_task), ("http", http_task), ("tftp", tftp_task)] {
            if task.await.is_err() && outcome.is_ok() {
                outcome = Err(Error::Task(name));
            }
        }
        while let Ok(result) = done_rx.try_recv() {
            if outcome.is_ok() {
                outcome = result;
            }
        }
        // The services dropped their event senders: the pumps and then the writer drain and end.
        for (name, task) in [
            ("dhcp events", dhcp_pump),
            ("http events", http_pump),
            ("tftp events", tftp_pump),
            ("timeline writer", writer),
        ] {
            if task.await.is_err() && outcome.is_ok() {
                outcome = Err(Error::Task(name));
            }
        }
        outcome
    }
}

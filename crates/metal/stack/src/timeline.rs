//! Per-machine boot timelines: what each service saw of a machine, in order.
//!
//! Pure: [`Entry`], [`dhcp_kind`], [`http_kind`] and [`format_timeline`]. I/O: the redb
//! [`TimelineStore`].

use std::path::Path;
use std::time::{Duration, SystemTime};

use anywhere_boot::server::Event as HttpEvent;
use anywhere_dhcp::{ClientKind, Event as DhcpEvent, Mac};
use anywhere_tftp::{Outcome, TransferEventKind};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::{Error, Result};

/// One thing that happened to a machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// When (wall clock, read by the service shell that saw it).
    pub at: SystemTime,
    /// A short kind: `dhcp offer`, `http script`, `metadata`...
    pub kind: String,
}

/// The machine and kind of a DHCP event, or `None` for events about no particular machine.
pub fn dhcp_kind(event: &DhcpEvent) -> Option<(Mac, String)> {
    let (mac, kind) = match event {
        DhcpEvent::Received { mac, message, client } => {
            (mac, format!("dhcp {message} ({})", client_name(*client)))
        }
        DhcpEvent::Offered { mac, ip, .. } => (mac, format!("dhcp offer {ip}")),
        DhcpEvent::Acked { mac, ip, .. } => (mac, format!("dhcp ack {ip}")),
        DhcpEvent::Naked { mac, .. } => (mac, "dhcp nak".to_string()),
        DhcpEvent::Released { mac, .. } => (mac, "dhcp release".to_string()),
        DhcpEvent::Declined { mac, .. } => (mac, "dhcp decline".to_string()),
        DhcpEvent::Informed { mac, .. } => (mac, "dhcp inform".to_string()),
        DhcpEvent::ProxyReplied { mac, .. } => (mac, "dhcp proxy offer".to_string()),
        DhcpEvent::UnknownClientIgnored { mac } => (mac, "dhcp ignored (not in inventory)".to_string()),
        DhcpEvent::NetbootRefused { mac } => (mac, "dhcp netboot refused".to_string()),
        DhcpEvent::NoBootFile { mac, .. } => (mac, "dhcp no boot file for firmware".to_string()),
        DhcpEvent::PoolExhausted { mac } => (mac, "dhcp pool exhausted".to_string()),
        DhcpEvent::OtherServerSelected { mac, .. } => (mac, "dhcp other server selected".to_string()),
        DhcpEvent::Ignored { mac, reason } => (mac, format!("dhcp ignored ({reason})")),
        DhcpEvent::EncodeFailed { mac, .. } => (mac, "dhcp reply encode failed".to_string()),
        DhcpEvent::StoreFailed { mac, .. } => (mac, "dhcp lease store failed".to_string()),
        DhcpEvent::Malformed { .. } => return None,
    };
    Some((*mac, kind))
}

/// How a DHCP client announced itself, for the timeline.
fn client_name(client: ClientKind) -> String {
    match client {
        ClientKind::Plain => "os client".to_string(),
        ClientKind::Pxe(firmware) => format!("PXE {firmware:?}"),
        ClientKind::Ipxe(firmware) => format!("iPXE {firmware:?}"),
    }
}

/// The machine and kind of an HTTP request event, or `None` when no machine is known.
///
/// `kernel` and `initrds` are the artifact names of the netboot configuration, so their
/// downloads read `http kernel` and `http initrd`. A status other than 200/206 and an
/// abandoned body are appended (`http script 404`, `http kernel (incomplete)`).
pub fn http_kind(event: &HttpEvent, kernel: &str, initrds: &[String]) -> Option<(Mac, String)> {
    let mac = event.mac?;
    let path = event.path.as_str();
    let mut kind = if path == "/auto.ipxe" || path.starts_with("/ipxe/") {
        "http script".to_string()
    } else if let Some(name) = path.strip_prefix("/artifacts/") {
        if name == kernel {
            "http kernel".to_string()
        } else if initrds.iter().any(|i| i == name) {
            "http initrd".to_string()
        } else {
            format!("http artifact {name}")
        }
    } else if path.starts_with("/nocloud/") || path.starts_with("/2009-04-04") {
        format!("metadata {path}")
    } else {
        format!("http {} {path}", event.method)
    };
    let status = event.status.as_u16();
    if status != 200 && status != 206 {
        kind.push_str(&format!(" {status}"));
    } else if !event.complete {
        kind.push_str(" (incomplete)");
    }
    Some((mac, kind))
}

/// The kind of a TFTP transfer event (`tftp start undionly.kpxe`, `tftp done undionly.kpxe`,
/// `tftp refused x`, `tftp failed x (timed out)`). The shell finds the machine by the
/// client's address.
pub fn tftp_kind(kind: &TransferEventKind, file: &str) -> String {
    match kind {
        TransferEventKind::Started => format!("tftp start {file}"),
        TransferEventKind::Finished(Outcome::Completed { .. }) => format!("tftp done {file}"),
        TransferEventKind::Finished(Outcome::Refused(_)) => format!("tftp refused {file}"),
        TransferEventKind::Finished(Outcome::PeerError { .. }) => {
            format!("tftp failed {file} (client error)")
        }
        TransferEventKind::Finished(Outcome::IllegalPacket) => {
            format!("tftp failed {file} (illegal packet)")
        }
        TransferEventKind::Finished(Outcome::TimedOut) => format!("tftp failed {file} (timed out)"),
        TransferEventKind::Finished(Outcome::ReadFailed) => format!("tftp failed {file} (read failed)"),
    }
}

/// One line per entry: the time since the first entry, then the kind (`+1.250s dhcp ack`).
/// Entries are printed in the order given; a clock step backwards prints `+0.000s`.
pub fn format_timeline(entries: &[Entry]) -> String {
    let Some(first) = entries.first() else {
        return String::new();
    };
    let mut out = String::new();
    for entry in entries {
        let since = entry.at.duration_since(first.at).unwrap_or(Duration::ZERO);
        out.push_str(&format!(
            "+{}.{:03}s {}\n",
            since.as_secs(),
            since.subsec_millis(),
            entry.kind
        ));
    }
    out
}

/// `(mac octets, sequence) -> (unix nanoseconds, kind)`.
const EVENTS: TableDefinition<([u8; 6], u64), (u64, &str)> = TableDefinition::new("timeline_v1");
/// `"next" -> the next sequence number` (orders events across MACs and restarts).
const META: TableDefinition<&str, u64> = TableDefinition::new("timeline_meta_v1");

/// Timelines in a redb database file. One process at a time may open it (redb locks the
/// file): read timelines after `anywhere metal serve` stops, or from the running stack.
pub struct TimelineStore {
    db: Database,
}

impl std::fmt::Debug for TimelineStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimelineStore").finish_non_exhaustive()
    }
}

fn store_err<E: Into<redb::Error>>(operation: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::Timeline {
        operation,
        source: Box::new(e.into()),
    }
}

impl TimelineStore {
    /// Opens the database at `path`, creating it (and its tables) when absent.
    ///
    /// # Errors
    /// [`Error::Timeline`] when the file cannot be opened or is not a redb database.
    pub fn open(path: &Path) -> Result<TimelineStore> {
        let db = Database::create(path).map_err(store_err("open"))?;
        let txn = db.begin_write().map_err(store_err("open"))?;
        txn.open_table(EVENTS).map_err(store_err("open"))?;
        txn.open_table(META).map_err(store_err("open"))?;
        txn.commit().map_err(store_err("open"))?;
        Ok(TimelineStore { db })
    }

    /// Opens an existing database at `path` without creating anything.
    ///
    /// # Errors
    /// [`Error::NoTimelineStore`] when there is no file, else [`Error::Timeline`].
    pub fn open_existing(path: &Path) -> Result<TimelineStore> {
        if !path.exists() {
            return Err(Error::NoTimelineStore(path.to_path_buf()));
        }
        let db = Database::open(path).map_err(store_err("open"))?;
        Ok(TimelineStore { db })
    }

    /// Appends `entry` to the timeline of `mac`, durably.
    ///
    /// # Errors
    /// [`Error::Timeline`].
    pub fn record(&self, mac: Mac, entry: &Entry) -> Result<()> {
        let nanos = entry
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
        let txn = self.db.begin_write().map_err(store_err("record"))?;
        {
            let mut meta = txn.open_table(META).map_err(store_err("record"))?;
            let seq = meta
                .get("next")
                .map_err(store_err("record"))?
                .map_or(0, |v| v.value());
            meta.insert("next", seq + 1).map_err(store_err("record"))?;
            let mut events = txn.open_table(EVENTS).map_err(store_err("record"))?;
            events
                .insert((mac.octets(), seq), (nanos, entry.kind.as_str()))
                .map_err(store_err("record"))?;
        }
        txn.commit().map_err(store_err("record"))?;
        Ok(())
    }

    /// The timeline of `mac`, in recording order; empty when nothing was recorded.
    ///
    /// # Errors
    /// [`Error::Timeline`].
    pub fn timeline(&self, mac: Mac) -> Result<Vec<Entry>> {
        let txn = self.db.begin_read().map_err(store_err("read"))?;
        let table = match txn.open_table(EVENTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(store_err("read")(e)),
        };
        let octets = mac.octets();
        let mut entries = Vec::new();
        for row in table
            .range((octets, 0)..=(octets, u64::MAX))
            .map_err(store_err("read"))?
        {
            let (_, value) = row.map_err(store_err("read"))?;
            let (nanos, kind) = value.value();
            entries.push(Entry {
                at: SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos),
                kind: kind.to_string(),
            });
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use anywhere_boot::server::Event;
    use anywhere_tftp::ErrorCode;
    use http::{Method, StatusCode};

    use super::*;

    const MAC: Mac = Mac::new([0x52, 0x54, 0, 0, 0, 1]);

    fn at(millis: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(millis)
    }

    fn entry(millis: u64, kind: &str) -> Entry {
        Entry {
            at: at(millis),
            kind: kind.into(),
        }
    }

    #[test]
    fn timeline_is_relative_to_the_first_event() {
        let table: &[(&[(u64, &str)], &str)] = &[
            (&[], ""),
            (&[(5, "dhcp offer")], "+0.000s dhcp offer\n"),
            (
                &[
                    (0, "dhcp offer"),
                    (12, "dhcp ack"),
                    (1_250, "http script"),
                    (61_001, "http kernel"),
                ],
                "+0.000s dhcp offer\n+0.012s dhcp ack\n+1.250s http script\n+61.001s http kernel\n",
            ),
            (
                &[(100, "dhcp offer"), (40, "dhcp ack")],
                "+0.000s dhcp offer\n+0.000s dhcp ack\n",
            ),
        ];
        for (events, expected) in table {
            let entries: Vec<Entry> = events.iter().map(|(ms, k)| entry(*ms, k)).collect();
            assert_eq!(format_timeline(&entries), *expected, "{events:?}");
        }
    }

    fn http(path: &str, status: u16, complete: bool) -> Event {
        Event {
            at: at(0),
            mac: Some(MAC),
            client: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10)),
            method: Method::GET,
            path: path.into(),
            status: StatusCode::from_u16(status).unwrap(),
            bytes: 0,
            complete,
        }
    }

    #[test]
    fn http_requests_get_short_kinds() {
        let initrds = vec!["initrd.img".to_string()];
        let table: &[(&str, u16, bool, &str)] = &[
            ("/auto.ipxe", 200, true, "http script"),
            ("/ipxe/52:54:00:00:00:01", 404, true, "http script 404"),
            ("/artifacts/vmlinuz", 200, true, "http kernel"),
            ("/artifacts/vmlinuz", 200, false, "http kernel (incomplete)"),
            ("/artifacts/initrd.img", 206, true, "http initrd"),
            ("/artifacts/os.img", 200, true, "http artifact os.img"),
            ("/nocloud/user-data", 200, true, "metadata /nocloud/user-data"),
            (
                "/2009-04-04/meta-data",
                200,
                true,
                "metadata /2009-04-04/meta-data",
            ),
            ("/favicon.ico", 404, true, "http GET /favicon.ico 404"),
        ];
        for (path, status, complete, kind) in table {
            let got = http_kind(&http(path, *status, *complete), "vmlinuz", &initrds);
            assert_eq!(got, Some((MAC, kind.to_string())), "{path}");
        }
        let mut anonymous = http("/auto.ipxe", 404, true);
        anonymous.mac = None;
        assert_eq!(http_kind(&anonymous, "vmlinuz", &initrds), None);
    }

    #[test]
    fn dhcp_events_get_short_kinds() {
        let ip = Ipv4Addr::new(10, 0, 0, 10);
        let table = [
            (
                DhcpEvent::Offered {
                    mac: MAC,
                    ip,
                    boot_file: None,
                },
                "dhcp offer 10.0.0.10",
            ),
            (
                DhcpEvent::Acked {
                    mac: MAC,
                    ip,
                    boot_file: None,
                },
                "dhcp ack 10.0.0.10",
            ),
            (
                DhcpEvent::UnknownClientIgnored { mac: MAC },
                "dhcp ignored (not in inventory)",
            ),
        ];
        for (event, kind) in table {
            assert_eq!(dhcp_kind(&event), Some((MAC, kind.to_string())));
        }
    }

    #[test]
    fn tftp_transfers_get_short_kinds() {
        let table = [
            (TransferEventKind::Started, "tftp start undionly.kpxe"),
            (
                TransferEventKind::Finished(Outcome::Completed { bytes: 10 }),
                "tftp done undionly.kpxe",
            ),
            (
                TransferEventKind::Finished(Outcome::Refused(ErrorCode::FileNotFound)),
                "tftp refused undionly.kpxe",
            ),
            (
                TransferEventKind::Finished(Outcome::TimedOut),
                "tftp failed undionly.kpxe (timed out)",
            ),
        ];
        for (kind, expected) in table {
            assert_eq!(tftp_kind(&kind, "undionly.kpxe"), expected);
        }
    }

    #[test]
    fn store_keeps_each_machines_events_in_order_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.redb");
        let other = Mac::new([0x52, 0x54, 0, 0, 0, 2]);
        {
            let store = TimelineStore::open(&path).unwrap();
            store.record(MAC, &entry(0, "dhcp offer")).unwrap();
            store.record(other, &entry(1, "dhcp offer")).unwrap();
            store.record(MAC, &entry(2, "dhcp ack")).unwrap();
        }
        let store = TimelineStore::open(&path).unwrap();
        store.record(MAC, &entry(3, "http script")).unwrap();
        let kinds: Vec<String> = store.timeline(MAC).unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["dhcp offer", "dhcp ack", "http script"]);
        assert_eq!(store.timeline(other).unwrap(), [entry(1, "dhcp offer")]);
        assert!(store.timeline(Mac::new([0; 6])).unwrap().is_empty());
    }

    #[test]
    fn missing_store_is_reported_without_creating_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.redb");
        assert!(matches!(
            TimelineStore::open_existing(&path),
            Err(Error::NoTimelineStore(_))
        ));
        assert!(!path.exists());
    }
}

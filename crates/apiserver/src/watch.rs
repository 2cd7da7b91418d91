//! Watch streams: per-kind event history and fan-out.
//!
//! Each resource type has its own history ring and broadcast channel, so a watcher of one
//! kind never sees (or pays for) writes of another. Selectors are applied per watcher.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::resource::{ResourceType, api_version};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{with_api_version, write_item};

/// Watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
    /// `BOOKMARK`.
    Bookmark,
    /// `ERROR` (object is a Status).
    Error,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
            EventType::Error => "ERROR",
        }
    }
}

/// A committed change, as kept in the history.
#[derive(Debug)]
pub struct Event {
    /// resourceVersion of the change.
    pub rv: u64,
    /// Added, Modified or Deleted.
    pub kind: EventType,
    /// The new state (for Deleted: the last state with the deletion's resourceVersion).
    pub object: Arc<Value>,
    /// The previous state (Modified, Deleted).
    pub old: Option<Arc<Value>>,
}

/// One event delivered to a watcher.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// Event type.
    pub kind: EventType,
    /// The object (storage apiVersion; [`WatchStream`] rewrites it when serialising).
    pub object: Arc<Value>,
}

impl WatchEvent {
    pub(crate) fn new(kind: EventType, object: Arc<Value>) -> Self {
        Self { kind, object }
    }

    pub(crate) fn expired(requested: u64, oldest: u64) -> Self {
        let e = ApiError::expired(format!("too old resource version: {requested} ({oldest})"));
        Self::new(EventType::Error, Arc::new(e.to_status()))
    }

    pub(crate) fn bookmark(t: &ResourceType, version: &str, rv: u64, initial_end: bool) -> Self {
        let mut md = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        Self::new(
            EventType::Bookmark,
            Arc::new(json!({"kind": t.kind, "apiVersion": api_version(&t.group, version), "metadata": md})),
        )
    }

    /// The object as a plain value in `api_version` (not for ERROR/BOOKMARK).
    pub fn object_in(&self, api_version: &str) -> Value {
        match self.kind {
            EventType::Error | EventType::Bookmark => (*self.object).clone(),
            _ => with_api_version(&self.object, api_version),
        }
    }
}

/// Namespace and selectors of a watch.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
}

impl Filter {
    /// Whether an object is selected.
    pub fn matches(&self, obj: &Value) -> bool {
        let md = obj.get("metadata");
        if let Some(ns) = &self.namespace
            && md.and_then(|m| m.get("namespace")).and_then(Value::as_str) != Some(ns.as_str())
        {
            return false;
        }
        self.labels.matches(md.and_then(|m| m.get("labels"))) && self.fields.matches(obj)
    }

    /// What a watcher with this filter sees of a change (selector transitions become
    /// ADDED/DELETED).
    pub fn translate(&self, e: &Event) -> Option<WatchEvent> {
        let now = self.matches(&e.object);
        match e.kind {
            EventType::Added => now.then(|| WatchEvent::new(EventType::Added, e.object.clone())),
            EventType::Deleted => now.then(|| WatchEvent::new(EventType::Deleted, e.object.clone())),
            _ => {
                let before = e.old.as_ref().is_some_and(|o| self.matches(o));
                match (before, now) {
                    (true, true) => Some(WatchEvent::new(EventType::Modified, e.object.clone())),
                    (false, true) => Some(WatchEvent::new(EventType::Added, e.object.clone())),
                    (true, false) => {
                        // Old state with the new resourceVersion.
                        let mut old = e.old.as_deref().cloned().unwrap_or(Value::Null);
                        if let Some(md) = old.get_mut("metadata").and_then(Value::as_object_mut) {
                            md.insert("resourceVersion".into(), json!(e.rv.to_string()));
                        }
                        Some(WatchEvent::new(EventType::Deleted, Arc::new(old)))
                    }
                    (false, false) => None,
                }
            }
        }
    }
}

pub(crate) struct StreamParts {
    pub(crate) pending: VecDeque<WatchEvent>,
    pub(crate) rx: broadcast::Receiver<Arc<Event>>,
    pub(crate) filter: Filter,
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) version: String,
    pub(crate) resource: Arc<ResourceType>,
    pub(crate) last_rv: u64,
    pub(crate) allow_bookmarks: bool,
    pub(crate) timeout: Option<Duration>,
}

/// A running watch: initial events, then live changes until the timeout.
pub struct WatchStream {
    pending: VecDeque<WatchEvent>,
    rx: Option<broadcast::Receiver<Arc<Event>>>,
    filter: Filter,
    api_version: String,
    version: String,
    resource: Option<Arc<ResourceType>>,
    last_rv: u64,
    allow_bookmarks: bool,
    deadline: Option<Instant>,
    done: bool,
}

impl std::fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchStream")
            .field("api_version", &self.api_version)
            .field("last_rv", &self.last_rv)
            .finish()
    }
}

impl WatchStream {
    pub(crate) fn new(p: StreamParts) -> Self {
        let _ = p.kind;
        Self {
            pending: p.pending,
            rx: Some(p.rx),
            filter: p.filter,
            api_version: p.api_version,
            version: p.version,
            resource: Some(p.resource),
            last_rv: p.last_rv,
            allow_bookmarks: p.allow_bookmarks,
            deadline: p.timeout.map(|d| Instant::now() + d),
            done: false,
        }
    }

    pub(crate) fn ended(pending: VecDeque<WatchEvent>) -> Self {
        Self {
            pending,
            rx: None,
            filter: Filter::default(),
            api_version: String::new(),
            version: String::new(),
            resource: None,
            last_rv: 0,
            allow_bookmarks: false,
            deadline: None,
            done: false,
        }
    }

    /// The apiVersion objects are rendered in.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The next event; `None` when the stream ended (timeout, store dropped, or the watcher
    /// fell too far behind and must resume from its last resourceVersion).
    pub async fn next(&mut self) -> Option<WatchEvent> {
        if let Some(e) = self.pending.pop_front() {
            return Some(e);
        }
        if self.done {
            return None;
        }
        loop {
            let Some(rx) = self.rx.as_mut() else {
                self.done = true;
                return None;
            };
            let recv = match self.deadline {
                Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                    Ok(r) => r,
                    Err(_) => return self.finish(),
                },
                None => rx.recv().await,
            };
            match recv {
                Ok(e) => {
                    if e.rv <= self.last_rv {
                        continue;
                    }
                    self.last_rv = e.rv;
                    if let Some(ev) = self.filter.translate(&e) {
                        return Some(ev);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => {
                    // The client re-watches from the last resourceVersion it saw; the history
                    // (or a 410 and relist) covers what it missed.
                    self.rx = None;
                    self.done = true;
                    return None;
                }
            }
        }
    }

    fn finish(&mut self) -> Option<WatchEvent> {
        self.done = true;
        self.rx = None;
        match (&self.resource, self.allow_bookmarks) {
            (Some(t), true) => Some(WatchEvent::bookmark(t, &self.version, self.last_rv, false)),
            _ => None,
        }
    }

    /// Serialises an event as one `{"type":..,"object":..}` line (with the newline).
    pub fn encode(&self, e: &WatchEvent) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(e.kind.as_str().as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        match e.kind {
            EventType::Error | EventType::Bookmark => {
                let _ = serde_json::to_writer(&mut out, &*e.object);
            }
            _ => write_item(&mut out, &e.object, &self.api_version),
        }
        out.extend_from_slice(b"}\n");
        out
    }
}

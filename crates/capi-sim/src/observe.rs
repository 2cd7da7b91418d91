//! Observability: a timeline per Cluster (condition transitions, phases, objects created and
//! deleted, with timestamps) and counters (reconciles, writes, no-op writes skipped, errors),
//! so tests can assert ordering, convergence and the absence of hot loops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::cache::ClusterKey;

/// One timeline entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// When (simulator clock).
    pub at: SystemTime,
    /// `Kind/name` of the object.
    pub object: String,
    /// What happened: a condition type (`Available`), `phase`, `created`, `deleted`,
    /// `node-created`, `node-deleted`.
    pub what: String,
    /// The new value: condition status (`True`/`False`), phase name, or empty.
    pub value: String,
}

/// Counters of one cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Reconciles run.
    pub reconciles: u64,
    /// Writes sent to a store (management or workload).
    pub writes: u64,
    /// Reconcile errors (failed writes, injected API errors).
    pub errors: u64,
}

#[derive(Debug, Default)]
struct Inner {
    timelines: HashMap<ClusterKey, Vec<Entry>>,
    counters: HashMap<ClusterKey, Counters>,
    total: Counters,
}

/// The observer (cheap to clone).
#[derive(Debug, Clone)]
pub struct Observer {
    inner: Arc<Mutex<Inner>>,
    timeline_enabled: bool,
}

impl Observer {
    /// An observer; `timeline` false keeps counters only (fleet runs).
    pub fn new(timeline: bool) -> Self {
        Self {
            inner: Arc::default(),
            timeline_enabled: timeline,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn record(&self, key: &ClusterKey, at: SystemTime, object: String, what: &str, value: &str) {
        if !self.timeline_enabled {
            return;
        }
        tracing::debug!(cluster = %key, object, what, value, "transition");
        self.lock().timelines.entry(key.clone()).or_default().push(Entry {
            at,
            object,
            what: what.into(),
            value: value.into(),
        });
    }

    pub(crate) fn count(&self, key: &ClusterKey, f: impl Fn(&mut Counters)) {
        let mut st = self.lock();
        f(st.counters.entry(key.clone()).or_default());
        f(&mut st.total);
    }

    /// The timeline of a cluster (oldest first).
    pub fn timeline(&self, key: &ClusterKey) -> Vec<Entry> {
        self.lock().timelines.get(key).cloned().unwrap_or_default()
    }

    /// The counters of a cluster.
    pub fn counters(&self, key: &ClusterKey) -> Counters {
        self.lock().counters.get(key).copied().unwrap_or_default()
    }

    /// Counters summed over all clusters.
    pub fn total(&self) -> Counters {
        self.lock().total
    }
}

//! A work queue of Cluster keys in the style of client-go's: a key is queued at most once, a
//! key being processed is never handed to a second worker (it is re-queued when done if it
//! was added meanwhile), and delayed adds wait in a timer heap.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::cache::ClusterKey;

#[derive(Default)]
struct Inner {
    fifo: VecDeque<ClusterKey>,
    queued: HashSet<ClusterKey>,
    processing: HashSet<ClusterKey>,
    dirty: HashSet<ClusterKey>,
    delayed: BinaryHeap<Reverse<(Instant, u64)>>,
    delayed_keys: HashMap<u64, ClusterKey>,
    /// Earliest pending delayed add per key (later ones are redundant).
    earliest: HashMap<ClusterKey, Instant>,
    seq: u64,
    closed: bool,
}

/// The queue.
#[derive(Default)]
pub struct WorkQueue {
    inner: Mutex<Inner>,
    ready: Notify,
    timer: Notify,
}

impl std::fmt::Debug for WorkQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkQueue").finish_non_exhaustive()
    }
}

impl WorkQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a key now.
    pub fn add(&self, key: ClusterKey) {
        let mut st = self.lock();
        if st.closed {
            return;
        }
        if st.processing.contains(&key) {
            st.dirty.insert(key);
            return;
        }
        if st.queued.insert(key.clone()) {
            st.fifo.push_back(key);
            drop(st);
            self.ready.notify_one();
        }
    }

    /// Queues a key at `at`.
    pub fn add_at(&self, key: ClusterKey, at: Instant) {
        if at <= Instant::now() {
            self.add(key);
            return;
        }
        let mut st = self.lock();
        if st.closed {
            return;
        }
        if st.earliest.get(&key).is_some_and(|e| *e <= at) {
            return;
        }
        st.earliest.insert(key.clone(), at);
        st.seq += 1;
        let seq = st.seq;
        st.delayed.push(Reverse((at, seq)));
        st.delayed_keys.insert(seq, key);
        drop(st);
        self.timer.notify_one();
    }

    /// The next key to process (waits); `None` once closed.
    pub async fn next(&self) -> Option<ClusterKey> {
        loop {
            let notified = self.ready.notified();
            {
                let mut st = self.lock();
                if st.closed {
                    return None;
                }
                if let Some(k) = st.fifo.pop_front() {
                    st.queued.remove(&k);
                    st.processing.insert(k.clone());
                    if !st.fifo.is_empty() {
                        self.ready.notify_one();
                    }
                    return Some(k);
                }
            }
            notified.await;
        }
    }

    /// Marks a key processed (re-queues it when it was added meanwhile).
    pub fn done(&self, key: &ClusterKey) {
        let mut st = self.lock();
        st.processing.remove(key);
        if st.dirty.remove(key) && !st.closed && st.queued.insert(key.clone()) {
            st.fifo.push_back(key.clone());
            drop(st);
            self.ready.notify_one();
        }
    }

    /// Moves due delayed keys into the queue until closed.
    pub async fn run_timer(&self) {
        loop {
            let notified = self.timer.notified();
            let next = {
                let mut st = self.lock();
                if st.closed {
                    return;
                }
                let now = Instant::now();
                let mut due = Vec::new();
                while let Some(Reverse((at, seq))) = st.delayed.peek().copied() {
                    if at > now {
                        break;
                    }
                    st.delayed.pop();
                    if let Some(k) = st.delayed_keys.remove(&seq) {
                        if st.earliest.get(&k) == Some(&at) {
                            st.earliest.remove(&k);
                        }
                        due.push(k);
                    }
                }
                let next = st.delayed.peek().map(|Reverse((at, _))| *at);
                drop(st);
                for k in due {
                    self.add(k);
                }
                next
            };
            match next {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Stops the queue: workers and the timer return.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_waiters();
        self.timer.notify_waiters();
    }

    /// Keys queued or waiting (for tests and the bench).
    pub fn len(&self) -> usize {
        let st = self.lock();
        st.fifo.len() + st.delayed_keys.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

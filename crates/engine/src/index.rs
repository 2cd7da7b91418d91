//! Watch-fed caches of the Cluster API objects the controller reads on every pass, indexed by
//! the label that names their cluster.
//!
//! Without them, "the machines of cluster X" is a label-selected list, which an API server (a
//! real one as much as ours) answers by scanning every Machine of the management cluster: the
//! cost of one pass grows with the fleet, and the fleet's total cost with its square. With them
//! it is a hash lookup, and the API server serves one watch per kind instead of a list per pass.
//!
//! A cache may be behind the API server by the events in flight; readers use it for what
//! tolerates that (machine problems, worker groups to prune: a pass that sees an old state is
//! corrected by the next) and read objects they are about to change from the API.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};

/// Objects of one kind, by the value of one label.
#[derive(Clone)]
pub struct LabelIndex {
    label: &'static str,
    inner: Arc<RwLock<Inner>>,
}

impl std::fmt::Debug for LabelIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelIndex")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    /// Whether a first full list has been seen (before that, readers ask the API server).
    ready: bool,
    current: Maps,
    /// A relist in progress: replaces `current` when it is complete.
    relisting: Option<Maps>,
}

#[derive(Default)]
struct Maps {
    /// Label value → `namespace/name` → object.
    by_value: HashMap<String, BTreeMap<String, Arc<DynamicObject>>>,
    /// `namespace/name` → label value (so a changed label moves the object in O(1)).
    value_of: HashMap<String, String>,
}

fn key(o: &DynamicObject) -> String {
    format!(
        "{}/{}",
        o.metadata.namespace.as_deref().unwrap_or_default(),
        o.metadata.name.as_deref().unwrap_or_default()
    )
}

impl Maps {
    fn insert(&mut self, label: &str, o: DynamicObject) {
        let k = key(&o);
        self.remove_key(&k);
        let Some(value) = o.metadata.labels.as_ref().and_then(|l| l.get(label)).cloned() else {
            return;
        };
        self.value_of.insert(k.clone(), value.clone());
        self.by_value.entry(value).or_default().insert(k, Arc::new(o));
    }

    fn remove_key(&mut self, k: &str) {
        let Some(value) = self.value_of.remove(k) else {
            return;
        };
        if let Some(objects) = self.by_value.get_mut(&value) {
            objects.remove(k);
            if objects.is_empty() {
                self.by_value.remove(&value);
            }
        }
    }
}

impl LabelIndex {
    /// Starts watching the objects of `api` that carry `label` (the returned task runs until
    /// aborted; the watcher retries with backoff when the API server fails).
    pub fn start(api: Api<DynamicObject>, label: &'static str) -> (LabelIndex, tokio::task::JoinHandle<()>) {
        let index = LabelIndex {
            label,
            inner: Arc::new(RwLock::new(Inner::default())),
        };
        let writer = index.clone();
        let task = tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default().labels(label))
                .default_backoff()
                .boxed();
            while let Some(event) = events.next().await {
                match event {
                    Ok(e) => writer.apply(e),
                    Err(e) => tracing::info!(label, error = %e, "index watch failed; retrying"),
                }
            }
        });
        (index, task)
    }

    fn apply(&self, event: watcher::Event<DynamicObject>) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let label = self.label;
        match event {
            watcher::Event::Init => inner.relisting = Some(Maps::default()),
            watcher::Event::InitApply(o) => {
                if let Some(maps) = inner.relisting.as_mut() {
                    maps.insert(label, o);
                }
            }
            watcher::Event::InitDone => {
                if let Some(maps) = inner.relisting.take() {
                    inner.current = maps;
                }
                inner.ready = true;
            }
            watcher::Event::Apply(o) => inner.current.insert(label, o),
            watcher::Event::Delete(o) => inner.current.remove_key(&key(&o)),
        }
    }

    /// Whether the first list is complete (before that, [`LabelIndex::get`] answers `None`).
    pub fn is_ready(&self) -> bool {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).ready
    }

    /// The objects whose label has `value`; `None` until the first list is complete.
    pub fn get(&self, value: &str) -> Option<Vec<Arc<DynamicObject>>> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        if !inner.ready {
            return None;
        }
        Some(
            inner
                .current
                .by_value
                .get(value)
                .map(|objects| objects.values().cloned().collect())
                .unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str, cluster: Option<&str>) -> DynamicObject {
        let mut labels = serde_json::Map::new();
        if let Some(c) = cluster {
            labels.insert("c".into(), c.into());
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns", "labels": labels}}))
        .expect("a valid object")
    }

    fn index() -> LabelIndex {
        LabelIndex {
            label: "c",
            inner: Arc::new(RwLock::new(Inner::default())),
        }
    }

    fn names(index: &LabelIndex, value: &str) -> Option<Vec<String>> {
        index.get(value).map(|os| {
            os.iter()
                .map(|o| o.metadata.name.clone().unwrap_or_default())
                .collect()
        })
    }

    #[test]
    fn answers_only_after_the_first_list_and_follows_events() {
        let i = index();
        i.apply(watcher::Event::Init);
        i.apply(watcher::Event::InitApply(object("a", Some("x"))));
        assert_eq!(names(&i, "x"), None, "no answer before the list is complete");
        i.apply(watcher::Event::InitDone);
        assert_eq!(names(&i, "x"), Some(vec!["a".to_string()]));
        i.apply(watcher::Event::Apply(object("b", Some("x"))));
        i.apply(watcher::Event::Apply(object("c", Some("y"))));
        i.apply(watcher::Event::Apply(object("d", None)));
        assert_eq!(names(&i, "x"), Some(vec!["a".to_string(), "b".to_string()]));
        // A label change moves the object.
        i.apply(watcher::Event::Apply(object("a", Some("y"))));
        assert_eq!(names(&i, "x"), Some(vec!["b".to_string()]));
        assert_eq!(names(&i, "y"), Some(vec!["a".to_string(), "c".to_string()]));
        i.apply(watcher::Event::Delete(object("b", Some("x"))));
        assert_eq!(names(&i, "x"), Some(vec![]));
        assert_eq!(names(&i, "nothing"), Some(vec![]));
    }

    #[test]
    fn a_relist_replaces_the_contents_when_complete() {
        let i = index();
        i.apply(watcher::Event::Init);
        i.apply(watcher::Event::InitApply(object("a", Some("x"))));
        i.apply(watcher::Event::InitDone);
        // The watch fell behind: relist without "a" (deleted meanwhile), with "b".
        i.apply(watcher::Event::Init);
        i.apply(watcher::Event::InitApply(object("b", Some("x"))));
        assert_eq!(
            names(&i, "x"),
            Some(vec!["a".to_string()]),
            "the old contents serve until the relist is complete"
        );
        i.apply(watcher::Event::InitDone);
        assert_eq!(names(&i, "x"), Some(vec!["b".to_string()]));
    }
}

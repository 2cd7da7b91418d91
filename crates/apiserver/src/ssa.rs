//! Server-side apply: field ownership (`managedFields` / `fieldsV1`), the apply merge with
//! conflict detection, and Update entries recorded for other writes.
//!
//! This is the "simplified but honest" algorithm of KUBE-API-SEMANTICS.md §9: ownership is a
//! set of leaf paths per manager; objects merge key-wise, lists follow [`ListRules`].

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::lists::{ListKind, ListRules, element_key};

/// A set of field paths, as the `fieldsV1` trie (`f:name`, `k:{..}`, `v:..`, `.`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    children: BTreeMap<String, FieldSet>,
    leaf: bool,
}

/// One path element string (`f:spec`, `k:{"type":"Ready"}`, `v:"x"`).
pub type Path = Vec<String>;

impl FieldSet {
    /// Parses a `fieldsV1` object.
    pub fn from_fields_v1(v: &Value) -> Self {
        let mut s = FieldSet::default();
        if let Value::Object(m) = v {
            for (k, child) in m {
                if k == "." {
                    s.leaf = true;
                } else {
                    let mut c = FieldSet::from_fields_v1(child);
                    if c.children.is_empty() {
                        c.leaf = true;
                    }
                    s.children.insert(k.clone(), c);
                }
            }
        }
        s
    }

    /// Renders the `fieldsV1` object.
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        if self.leaf && !self.children.is_empty() {
            m.insert(".".into(), json!({}));
        }
        for (k, c) in &self.children {
            m.insert(k.clone(), c.to_fields_v1());
        }
        Value::Object(m)
    }

    /// Whether no path is in the set.
    pub fn is_empty(&self) -> bool {
        !self.leaf && self.children.is_empty()
    }

    /// Adds a leaf path.
    pub fn insert(&mut self, path: &[String]) {
        let mut cur = self;
        for p in path {
            cur = cur.children.entry(p.clone()).or_default();
        }
        cur.leaf = true;
    }

    /// Whether `path` is a leaf of the set.
    pub fn contains(&self, path: &[String]) -> bool {
        let mut cur = self;
        for p in path {
            match cur.children.get(p) {
                Some(c) => cur = c,
                None => return false,
            }
        }
        cur.leaf
    }

    /// Whether the set owns `path`, a part of it, or an atomic ancestor of it.
    pub fn overlaps(&self, path: &[String]) -> bool {
        let mut cur = self;
        for p in path {
            if cur.leaf && cur.children.is_empty() && !std::ptr::eq(cur, self) {
                return true;
            }
            match cur.children.get(p) {
                Some(c) => cur = c,
                None => return false,
            }
        }
        true
    }

    /// Removes `path` and everything below it; prunes emptied parents.
    pub fn remove_subtree(&mut self, path: &[String]) {
        self.remove_at(path, true);
    }

    /// Removes the leaf mark of `path` only; prunes emptied parents.
    pub fn remove_leaf(&mut self, path: &[String]) {
        self.remove_at(path, false);
    }

    /// Walks to `path`, drops the node there (`subtree`) or only its leaf mark, and prunes
    /// the parents this empties. Returns whether this node is now empty.
    fn remove_at(&mut self, path: &[String], subtree: bool) -> bool {
        match path.split_first() {
            None if subtree => true,
            None => {
                self.leaf = false;
                self.is_empty()
            }
            Some((first, rest)) => {
                if let Some(c) = self.children.get_mut(first)
                    && c.remove_at(rest, subtree)
                {
                    self.children.remove(first);
                }
                self.is_empty()
            }
        }
    }

    /// All leaf paths.
    pub fn leaves(&self) -> Vec<Path> {
        fn go(node: &FieldSet, cur: &mut Path, out: &mut Vec<Path>) {
            if node.leaf && !cur.is_empty() {
                out.push(cur.clone());
            }
            for (k, c) in &node.children {
                cur.push(k.clone());
                go(c, cur, out);
                cur.pop();
            }
        }
        let mut out = Vec::new();
        go(self, &mut Vec::new(), &mut out);
        out
    }

    /// The leaf paths an object sets (system metadata excluded).
    pub fn of_object(obj: &Value, rules: &ListRules) -> Self {
        let mut s = FieldSet::default();
        if let Value::Object(m) = obj {
            for (k, v) in m {
                if k == "apiVersion" || k == "kind" {
                    continue;
                }
                let mut path = vec![format!("f:{k}")];
                let mut names = vec![k.as_str()];
                if k == "metadata" {
                    if let Value::Object(md) = v {
                        for (mk, mv) in md {
                            if SYSTEM_METADATA.contains(&mk.as_str()) {
                                continue;
                            }
                            path.push(format!("f:{mk}"));
                            names.push(mk.as_str());
                            collect(mv, rules, &mut names, &mut path, &mut s);
                            path.pop();
                            names.pop();
                        }
                    }
                    continue;
                }
                collect(v, rules, &mut names, &mut path, &mut s);
            }
        }
        s
    }
}

/// Metadata fields nobody owns.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

fn collect<'a>(
    v: &'a Value,
    rules: &ListRules,
    names: &mut Vec<&'a str>,
    path: &mut Path,
    out: &mut FieldSet,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(format!("f:{k}"));
                names.push(k.as_str());
                collect(child, rules, names, path, out);
                names.pop();
                path.pop();
            }
        }
        Value::Array(items) => match rules.kind(names) {
            ListKind::Atomic => out.insert(path),
            ListKind::Set => {
                for item in items {
                    path.push(format!("v:{item}"));
                    out.insert(path);
                    path.pop();
                }
            }
            ListKind::Map(keys) => {
                for item in items {
                    match element_key(item, &keys) {
                        Some(key) => {
                            path.push(format!("k:{key}"));
                            out.insert(path);
                            if let Value::Object(m) = item {
                                for (k, child) in m {
                                    path.push(format!("f:{k}"));
                                    names.push(k.as_str());
                                    collect(child, rules, names, path, out);
                                    names.pop();
                                    path.pop();
                                }
                            }
                            path.pop();
                        }
                        None => {
                            // An element without its key cannot be addressed: own the list.
                            out.insert(path);
                            return;
                        }
                    }
                }
            }
        },
        _ => out.insert(path),
    }
}

/// The value at a path of an object.
pub fn get_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for p in path {
        cur = step(cur, p)?;
    }
    Some(cur)
}

fn step<'a>(cur: &'a Value, p: &str) -> Option<&'a Value> {
    if let Some(f) = p.strip_prefix("f:") {
        cur.get(f)
    } else if let Some(k) = p.strip_prefix("k:") {
        let key: Value = serde_json::from_str(k).ok()?;
        let keys: Vec<String> = key.as_object()?.keys().cloned().collect();
        cur.as_array()?
            .iter()
            .find(|e| element_key(e, &keys).as_ref() == Some(&key))
    } else if let Some(v) = p.strip_prefix("v:") {
        let val: Value = serde_json::from_str(v).ok()?;
        cur.as_array()?.iter().find(|e| **e == val)
    } else {
        None
    }
}

/// Removes the value at a path (a map key, keyed element or set item).
pub fn remove_at(obj: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for p in parent {
        let next = if let Some(f) = p.strip_prefix("f:") {
            cur.get_mut(f)
        } else if p.starts_with("k:") || p.starts_with("v:") {
            let idx = index_in(cur, p);
            match (idx, cur.as_array_mut()) {
                (Some(i), Some(a)) => a.get_mut(i),
                _ => None,
            }
        } else {
            None
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Value::Object(m) = cur {
            m.remove(f);
        }
    } else if let Some(i) = index_in(cur, last)
        && let Value::Array(a) = cur
    {
        a.remove(i);
    }
}

fn index_in(arr: &Value, p: &str) -> Option<usize> {
    let items = arr.as_array()?;
    if let Some(k) = p.strip_prefix("k:") {
        let key: Value = serde_json::from_str(k).ok()?;
        let keys: Vec<String> = key.as_object()?.keys().cloned().collect();
        items
            .iter()
            .position(|e| element_key(e, &keys).as_ref() == Some(&key))
    } else {
        let val: Value = serde_json::from_str(p.strip_prefix("v:")?).ok()?;
        items.iter().position(|e| *e == val)
    }
}

/// The operation of a managedFields entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write.
    Update,
}

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Field manager name.
    pub manager: String,
    /// Apply or Update.
    pub operation: Operation,
    /// apiVersion the manager wrote with.
    pub api_version: String,
    /// Last change time (RFC 3339).
    pub time: String,
    /// Owned fields.
    pub fields: FieldSet,
    /// `status` for writes through the status subresource.
    pub subresource: String,
}

impl Entry {
    fn same_owner(&self, manager: &str, op: Operation, subresource: &str) -> bool {
        self.manager == manager && self.operation == op && self.subresource == subresource
    }
}

/// Reads `metadata.managedFields`.
pub fn read_entries(obj: &Value) -> Vec<Entry> {
    let Some(arr) = obj.pointer("/metadata/managedFields").and_then(Value::as_array) else {
        return Vec::new();
    };
    arr.iter()
        .filter_map(|e| {
            Some(Entry {
                manager: e.get("manager")?.as_str()?.to_string(),
                operation: if e.get("operation").and_then(Value::as_str) == Some("Apply") {
                    Operation::Apply
                } else {
                    Operation::Update
                },
                api_version: e
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                time: e
                    .get("time")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                fields: FieldSet::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null)),
                subresource: e
                    .get("subresource")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
        })
        .collect()
}

/// Writes `metadata.managedFields` (removed when empty).
pub fn write_entries(obj: &mut Value, entries: &[Entry]) {
    let Some(md) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if entries.is_empty() {
        md.remove("managedFields");
        return;
    }
    let arr = entries
        .iter()
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": if e.operation == Operation::Apply { "Apply" } else { "Update" },
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": e.fields.to_fields_v1(),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    md.insert("managedFields".into(), Value::Array(arr));
}

/// Who is writing: manager, apiVersion, subresource and the time to stamp.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    /// Field manager.
    pub manager: &'a str,
    /// apiVersion of the request.
    pub api_version: &'a str,
    /// `""` or `status`.
    pub subresource: &'a str,
    /// RFC 3339 time.
    pub now: &'a str,
}

/// A field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager.
    pub manager: String,
    /// Dotted field path, e.g. `.spec.replicas`.
    pub field: String,
}

/// Renders a path as `.spec.x[type="Ready"].status`.
pub fn dotted(path: &[String]) -> String {
    let mut s = String::new();
    for p in path {
        if let Some(f) = p.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = p.strip_prefix("k:") {
            if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(k) {
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
        } else if let Some(v) = p.strip_prefix("v:") {
            s.push_str(&format!("[{v}]"));
        }
    }
    s
}

/// Applies `config` by `writer` to `live` (an empty object when creating).
///
/// Returns the merged object with updated managedFields, or the conflicts (unless `force`).
///
/// # Errors
/// The list of conflicting fields when another manager owns a field `config` changes.
pub fn apply(
    live: &Value,
    config: &Value,
    writer: Writer<'_>,
    force: bool,
    rules: &ListRules,
) -> Result<Value, Vec<Conflict>> {
    let mut entries = read_entries(live);
    let new_set = FieldSet::of_object(config, rules);
    let mut conflicts = Vec::new();
    let mut forced: Vec<(usize, Path)> = Vec::new();
    for path in new_set.leaves() {
        if path
            .last()
            .is_some_and(|p| p.starts_with("k:") || p.starts_with("v:"))
        {
            continue;
        }
        let live_v = get_at(live, &path);
        if live_v.is_none() || live_v == get_at(config, &path) {
            continue;
        }
        for (i, e) in entries.iter().enumerate() {
            if e.same_owner(writer.manager, Operation::Apply, writer.subresource) {
                continue;
            }
            if e.fields.overlaps(&path) {
                if force {
                    forced.push((i, path.clone()));
                } else {
                    conflicts.push(Conflict {
                        manager: e.manager.clone(),
                        field: dotted(&path),
                    });
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    for (i, p) in forced {
        entries[i].fields.remove_subtree(&p);
    }
    let mut obj = live.clone();
    let mine = entries
        .iter()
        .position(|e| e.same_owner(writer.manager, Operation::Apply, writer.subresource));
    if let Some(i) = mine {
        for path in entries[i].fields.leaves() {
            if new_set.contains(&path) {
                continue;
            }
            let shared = entries
                .iter()
                .enumerate()
                .any(|(j, e)| j != i && e.fields.overlaps(&path));
            if !shared {
                remove_at(&mut obj, &path);
            }
        }
    }
    merge_apply(&mut obj, config, rules, &mut Vec::new());
    let time = match mine {
        Some(i) if entries[i].fields == new_set => entries[i].time.clone(),
        _ => writer.now.to_string(),
    };
    let entry = Entry {
        manager: writer.manager.to_string(),
        operation: Operation::Apply,
        api_version: writer.api_version.to_string(),
        time,
        fields: new_set,
        subresource: writer.subresource.to_string(),
    };
    match mine {
        Some(i) => entries[i] = entry,
        None => entries.push(entry),
    }
    entries.retain(|e| !e.fields.is_empty());
    write_entries(&mut obj, &entries);
    Ok(obj)
}

fn merge_apply<'a>(live: &mut Value, cfg: &'a Value, rules: &ListRules, names: &mut Vec<&'a str>) {
    match cfg {
        Value::Object(cm) => {
            if !live.is_object() {
                *live = Value::Object(Map::new());
            }
            let Value::Object(lm) = live else { return };
            for (k, v) in cm {
                if names.len() == 1 && names[0] == "metadata" && k == "managedFields" {
                    continue;
                }
                if v.is_null() {
                    lm.remove(k);
                    continue;
                }
                names.push(k.as_str());
                let slot = lm.entry(k.clone()).or_insert(Value::Null);
                match v {
                    Value::Object(_) => merge_apply(slot, v, rules, names),
                    Value::Array(items) => match rules.kind(names) {
                        ListKind::Atomic => *slot = v.clone(),
                        ListKind::Set => {
                            if !slot.is_array() {
                                *slot = Value::Array(Vec::new());
                            }
                            if let Value::Array(cur) = slot {
                                for item in items {
                                    if !cur.contains(item) {
                                        cur.push(item.clone());
                                    }
                                }
                            }
                        }
                        ListKind::Map(keys) => {
                            if !slot.is_array() {
                                *slot = Value::Array(Vec::new());
                            }
                            if let Value::Array(cur) = slot {
                                for item in items {
                                    let key = element_key(item, &keys);
                                    let pos = key.as_ref().and_then(|key| {
                                        cur.iter()
                                            .position(|e| element_key(e, &keys).as_ref() == Some(key))
                                    });
                                    match pos {
                                        Some(i) => merge_apply(&mut cur[i], item, rules, names),
                                        None => cur.push(item.clone()),
                                    }
                                }
                            }
                        }
                    },
                    _ => *slot = v.clone(),
                }
                names.pop();
            }
        }
        other => *live = other.clone(),
    }
}

/// Records a non-apply write from `old` to `new` (which must already carry old's managedFields):
/// changed fields move to `writer`'s Update entry, removed fields leave every entry.
pub fn record_update(old: &Value, new: &mut Value, writer: Writer<'_>, rules: &ListRules) {
    let mut entries = read_entries(old);
    let new_fields = FieldSet::of_object(new, rules);
    let changed: Vec<Path> = new_fields
        .leaves()
        .into_iter()
        .filter(|p| get_at(old, p) != get_at(new, p))
        .collect();
    let removed: Vec<Path> = if old.is_null() {
        Vec::new()
    } else {
        FieldSet::of_object(old, rules)
            .leaves()
            .into_iter()
            .filter(|p| get_at(new, p).is_none())
            .collect()
    };
    if changed.is_empty() && removed.is_empty() {
        write_entries(new, &entries);
        return;
    }
    for e in &mut entries {
        for p in changed.iter().chain(&removed) {
            e.fields.remove_leaf(p);
        }
    }
    let pos = entries.iter().position(|e| {
        e.same_owner(writer.manager, Operation::Update, writer.subresource)
            && e.api_version == writer.api_version
    });
    let idx = match pos {
        Some(i) => i,
        None => {
            entries.push(Entry {
                manager: writer.manager.to_string(),
                operation: Operation::Update,
                api_version: writer.api_version.to_string(),
                time: writer.now.to_string(),
                fields: FieldSet::default(),
                subresource: writer.subresource.to_string(),
            });
            entries.len() - 1
        }
    };
    for p in &changed {
        entries[idx].fields.insert(p);
    }
    entries[idx].time = writer.now.to_string();
    entries.retain(|e| !e.fields.is_empty());
    write_entries(new, &entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w<'a>(m: &'a str) -> Writer<'a> {
        Writer {
            manager: m,
            api_version: "v1",
            subresource: "",
            now: "2026-01-01T00:00:00Z",
        }
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data})
    }

    #[test]
    fn fields_v1_round_trip() {
        let v = json!({"f:metadata": {"f:labels": {"f:a": {}}}, "f:status": {"f:conditions": {
            "k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}}}}});
        assert_eq!(FieldSet::from_fields_v1(&v).to_fields_v1(), v);
    }

    #[test]
    fn apply_takes_ownership_and_removes_dropped_fields() {
        let rules = ListRules::builtin();
        let o = apply(
            &json!({}),
            &cm(json!({"a": "1", "b": "2"})),
            w("m1"),
            false,
            &rules,
        )
        .unwrap();
        let o = apply(&o, &cm(json!({"a": "1"})), w("m1"), false, &rules).unwrap();
        assert_eq!(o["data"], json!({"a": "1"}));
        let e = read_entries(&o);
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].fields.leaves(),
            vec![vec!["f:data".to_string(), "f:a".to_string()]]
        );
    }

    #[test]
    fn apply_conflicts_between_managers_unless_forced() {
        let rules = ListRules::builtin();
        let o = apply(&json!({}), &cm(json!({"a": "1"})), w("m1"), false, &rules).unwrap();
        // Same value: shared ownership, no conflict.
        let shared = apply(&o, &cm(json!({"a": "1"})), w("m2"), false, &rules).unwrap();
        assert_eq!(read_entries(&shared).len(), 2);
        let err = apply(&o, &cm(json!({"a": "2"})), w("m2"), false, &rules).unwrap_err();
        assert_eq!(
            err,
            vec![Conflict {
                manager: "m1".into(),
                field: ".data.a".into()
            }]
        );
        let forced = apply(&o, &cm(json!({"a": "2"})), w("m2"), true, &rules).unwrap();
        assert_eq!(forced["data"]["a"], "2");
        let e = read_entries(&forced);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].manager, "m2");
    }

    #[test]
    fn keyed_lists_merge_by_key() {
        let rules = ListRules::builtin();
        let c1 = json!({"status": {"conditions": [{"type": "A", "status": "True"}]}});
        let c2 = json!({"status": {"conditions": [{"type": "B", "status": "False"}]}});
        let o = apply(&json!({}), &c1, w("m1"), false, &rules).unwrap();
        let o = apply(&o, &c2, w("m2"), false, &rules).unwrap();
        assert_eq!(o["status"]["conditions"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn update_moves_changed_fields_to_the_writer() {
        let rules = ListRules::builtin();
        let o = apply(
            &json!({}),
            &cm(json!({"a": "1", "b": "2"})),
            w("m1"),
            false,
            &rules,
        )
        .unwrap();
        let mut n = o.clone();
        n["data"]["a"] = json!("9");
        record_update(&o, &mut n, w("editor"), &rules);
        let e = read_entries(&n);
        let m1 = e.iter().find(|e| e.manager == "m1").unwrap();
        let ed = e.iter().find(|e| e.manager == "editor").unwrap();
        assert!(!m1.fields.contains(&["f:data".into(), "f:a".into()]));
        assert!(ed.fields.contains(&["f:data".into(), "f:a".into()]));
        // An apply by m1 changing a back now conflicts with editor.
        assert!(apply(&n, &cm(json!({"a": "1", "b": "2"})), w("m1"), false, &rules).is_err());
    }
}

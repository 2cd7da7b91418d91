//! The manifest case catalogue (`cases/manifests.yaml`): golden Cluster API outputs.
//!
//! For each case (the pack's README, sections 1–8): load the fixture chain into a release
//! catalog, parse the cluster file with the reference's lenient reading, apply the parse-time
//! defaults, set `eksaVersion` to the CLI version, apply the case's injections (environment,
//! spec mutations, builder inputs, template names), call the generator named by `entry_point`,
//! and compare the output with the golden semantically (section 7).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use anywhere_api::document::{self, Split};
use anywhere_api::{ConfigSet, Object, Reading, defaults};
use anywhere_catalog::{Catalog, FetchError};
use anywhere_manifests::{Credentials, Features, Inputs, Manifest, ProviderObjects, TemplateNames};

use crate::{CaseResult, DataDirs, Error, Report, Status};

/// The CLI version the fixture chain is selected with.
pub const FIXTURE_CLI_VERSION: &str = "v0.19.0-dev+latest";
/// Where the fixture chain lives inside a data directory.
pub const FIXTURE_DIR: &str = "testdata/internal/test/testdata";

/// Runs every case of `cases_file` whose id starts with `only` (all when `None`).
pub fn run(cases_file: &Path, data: &DataDirs, only: Option<&str>) -> Result<Report, Error> {
    let value = crate::read_case_file(cases_file)?;
    let cases = value
        .get("cases")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Format {
            path: cases_file.to_path_buf(),
            message: "no `cases` list".into(),
        })?;
    let catalog = load_fixture_catalog(data);
    let mut report = Report::default();
    for case in cases {
        let id = case
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("(no id)")
            .to_string();
        if only.is_some_and(|p| !id.starts_with(p)) {
            continue;
        }
        let status = match &catalog {
            Err(e) => Status::Failed(format!("fixture chain: {e}")),
            Ok(catalog) => run_case(case, data, catalog),
        };
        report.cases.push(CaseResult {
            id,
            status,
            notes: Vec::new(),
            error: None,
        });
    }
    Ok(report)
}

/// Loads `releases.yaml` → `bundles.yaml` → EKS Distro manifests from the data directories.
/// URLs `embed:///testdata/X` map to `<FIXTURE_DIR>/X`; anything else is not available offline.
pub fn load_fixture_catalog(data: &DataDirs) -> Result<Catalog, String> {
    let releases = data
        .find(&format!("{FIXTURE_DIR}/releases.yaml"))
        .ok_or_else(|| format!("{FIXTURE_DIR}/releases.yaml not found in the data directories"))?;
    let bytes = std::fs::read(&releases).map_err(|e| format!("{}: {e}", releases.display()))?;
    let fetch = |url: &str| -> Result<Vec<u8>, FetchError> {
        let rel = anywhere_catalog::embed_relative_path(url).ok_or(FetchError::NotFound)?;
        let rel = rel.strip_prefix("testdata").unwrap_or(rel);
        let path = data
            .find(&format!("{FIXTURE_DIR}/{}", rel.display()))
            .ok_or(FetchError::NotFound)?;
        Ok(std::fs::read(path)?)
    };
    Catalog::from_release_manifest(&bytes, FIXTURE_CLI_VERSION, &fetch).map_err(|e| e.to_string())
}

fn run_case(case: &Value, data: &DataDirs, catalog: &Catalog) -> Status {
    if case.get("offline_reproducible").and_then(Value::as_bool) == Some(false) {
        return Status::Skipped("needs a file that is not in the pack (offline_reproducible: false)".into());
    }
    let produced = match crate::manifests_extra::run(case, data) {
        Some(result) => result,
        None => render_case(case, data, catalog),
    };
    let produced = match produced {
        Ok(p) => p,
        Err(e) => return Status::Failed(e),
    };
    if let Some(record) = case.get("expected_record").filter(|v| !v.is_null()) {
        return match produced.first() {
            Some(got) if got == record => Status::Passed,
            Some(got) => Status::Failed(format!(
                "record differs: {}",
                crate::compare::first_difference(record, got).unwrap_or_default()
            )),
            None => Status::Failed("no record produced".into()),
        };
    }
    let Some(expected_path) = case.get("expected").and_then(Value::as_str) else {
        return Status::Failed("case has neither `expected` nor `expected_record`".into());
    };
    let expected = match read_documents(data, expected_path) {
        Ok(docs) => docs,
        Err(e) => return Status::Failed(e),
    };
    let subset = case.get("comparison").and_then(Value::as_str) == Some("subset");
    match compare_objects(&expected, &produced, subset) {
        None => Status::Passed,
        Some(d) => Status::Failed(d),
    }
}

fn read_text(data: &DataDirs, rel: &str) -> Result<String, String> {
    let path = data
        .find(rel)
        .ok_or_else(|| format!("{rel} not found in the data directories"))?;
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a golden file as its non-empty YAML documents.
fn read_documents(data: &DataDirs, rel: &str) -> Result<Vec<Value>, String> {
    let text = read_text(data, rel)?;
    let mut out = Vec::new();
    for doc in document::split_documents(&text, Split::Lenient).map_err(|e| format!("{rel}: {e}"))? {
        let v = document::parse_value(&doc.text, doc.line).map_err(|e| format!("{rel}: {e}"))?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// Renders a case through the generic path: cluster file → spec → injections → generator.
pub fn render_case(case: &Value, data: &DataDirs, catalog: &Catalog) -> Result<Vec<Value>, String> {
    let cluster_file = case
        .pointer("/inputs/cluster_file")
        .and_then(Value::as_str)
        .ok_or("case has no inputs.cluster_file")?;
    let text = read_text(data, cluster_file)?;
    let mut set = anywhere_api::parse_config_set(&text, Reading::Lenient)
        .map_err(|e| format!("{cluster_file}: {e}"))?;
    let injections = case.get("injections").cloned().unwrap_or(Value::Null);
    let env = environment(&injections, case, data)?;

    let opts = defaults::DefaultsOptions {
        registry_mirror_ca: match env.get("EKSA_REGISTRY_MIRROR_CA") {
            Some(path) => Some(
                read_text(data, path)
                    .or_else(|_| std::fs::read_to_string(path).map_err(|e| e.to_string()))?,
            ),
            None => None,
        },
        ..Default::default()
    };
    defaults::apply_parse_time(&mut set, &opts);
    if let Some(spec) = set.cluster.spec.as_mut() {
        spec.eksa_version = Some(FIXTURE_CLI_VERSION.to_string());
        spec.bundles_ref = None;
    }
    for m in injections
        .get("spec_mutations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        apply_mutation(&mut set, m)?;
    }
    let provider = builder_objects(&set, injections.get("builder"), data)?;
    let names = template_names(injections.get("template_names"));
    let credentials = Credentials {
        vsphere_username: env.get("EKSA_VSPHERE_USERNAME").cloned(),
        vsphere_password: env.get("EKSA_VSPHERE_PASSWORD").cloned(),
        vsphere_cp_username: env.get("EKSA_VSPHERE_CP_USERNAME").cloned(),
        vsphere_cp_password: env.get("EKSA_VSPHERE_CP_PASSWORD").cloned(),
        nutanix_username: env.get("EKSA_NUTANIX_USERNAME").cloned(),
        nutanix_password: env.get("EKSA_NUTANIX_PASSWORD").cloned(),
        registry_username: env.get("REGISTRY_USERNAME").cloned(),
        registry_password: env.get("REGISTRY_PASSWORD").cloned(),
        cloudstack_b64_secret: env.get("EKSA_CLOUDSTACK_B64ENCODED_SECRET").cloned(),
        ..Default::default()
    };
    let features = Features {
        cloudstack_kube_vip_disabled: env
            .get("CLOUDSTACK_KUBE_VIP_DISABLED")
            .is_some_and(|v| v == "true"),
    };
    let bootstrap_ip = set
        .cluster
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get("anywhere.eks.amazonaws.com/tinkerbell-bootstrap-ip"))
        .cloned()
        .or_else(|| {
            injections
                .pointer("/builder/tinkerbell_ip_argument")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog,
        credentials: &credentials,
        features,
        names: &names,
        tinkerbell_bootstrap_ip: bootstrap_ip.as_deref(),
    };
    let entry = case.get("entry_point").and_then(Value::as_str).unwrap_or("");
    let rendered: Vec<Manifest> = match entry {
        "control-plane" => anywhere_manifests::control_plane(&inputs),
        "workers" => anywhere_manifests::workers(&inputs),
        "vsphere-failure-domains" => anywhere_manifests::providers::vsphere::failure_domains(&inputs),
        "nutanix-capx-secret" => anywhere_manifests::providers::nutanix::capx_secret(&inputs),
        "nutanix-eksa-secret" => anywhere_manifests::providers::nutanix::eksa_secret(&inputs),
        "cloudstack-credential-secrets" => {
            let existing: Vec<String> = injections
                .get("existing_secrets")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            anywhere_manifests::providers::cloudstack::credential_secrets(&inputs, &existing)
        }
        other => return Err(format!("unknown entry point {other:?}")),
    }
    .map_err(|e| format!("generator failed: {e}"))?;
    Ok(rendered.into_iter().map(|m| m.0).collect())
}

/// The environment a case sets: `set` values, with the placeholders the catalogue uses for
/// file contents resolved (`<base64 of the INI file bytes>`).
fn environment(
    injections: &Value,
    case: &Value,
    data: &DataDirs,
) -> Result<BTreeMap<String, String>, String> {
    let mut env = BTreeMap::new();
    for (k, v) in injections
        .pointer("/env/set")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some(v) = v.as_str() else { continue };
        let value = if v.starts_with("<base64 of the INI") {
            let ini = case
                .pointer("/inputs/ini_file")
                .and_then(Value::as_str)
                .ok_or("no inputs.ini_file")?;
            base64_encode(read_text(data, ini)?.as_bytes())
        } else {
            v.to_string()
        };
        env.insert(k.clone(), value);
    }
    Ok(env)
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Applies one `spec_mutations` entry. Paths: `cluster.<field path>`, `<kind>s[a,b].<field
/// path>` (machine configs by name), `<kind>.<field path>` (the one object of that kind), and
/// `<kind>s` alone (replace every object of that kind with `{name: {spec...}}`).
fn apply_mutation(set: &mut ConfigSet, m: &Value) -> Result<(), String> {
    let path = m
        .get("path")
        .and_then(Value::as_str)
        .ok_or("mutation without path")?;
    let value = m.get("value").cloned().unwrap_or(Value::Null);
    let (head, rest) = split_head(path);
    if head == "cluster" {
        let mut v = serde_json::to_value(&set.cluster).map_err(|e| e.to_string())?;
        set_path(&mut v, rest, value)?;
        set.cluster =
            document::decode(&v, document::Fields::Strict).map_err(|e| format!("mutation {path}: {e}"))?;
        return Ok(());
    }
    let (kind_word, names) = match head.split_once('[') {
        Some((k, n)) => (
            k,
            Some(
                n.trim_end_matches(']')
                    .split(',')
                    .map(str::trim)
                    .collect::<Vec<_>>(),
            ),
        ),
        None => (head, None),
    };
    let kind =
        kind_of(kind_word).ok_or_else(|| format!("mutation {path}: unknown object word {kind_word:?}"))?;
    if rest.is_empty() {
        // Replace every object of the kind.
        set.objects.retain(|(o, _)| o.kind() != kind);
        for (name, body) in value.as_object().into_iter().flatten() {
            let mut obj = body.clone();
            obj["apiVersion"] = Value::from(anywhere_api::config_set::API_VERSION);
            obj["kind"] = Value::from(kind);
            obj["metadata"]["name"] = Value::from(name.as_str());
            let o = Object::decode(kind, &obj, document::Fields::Strict)
                .ok_or("unknown kind")?
                .map_err(|e| format!("mutation {path}: {e}"))?;
            set.objects.push((o, Default::default()));
        }
        return Ok(());
    }
    let mut touched = 0;
    for (o, _) in set.objects.iter_mut() {
        if o.kind() != kind || names.as_ref().is_some_and(|n| !n.contains(&o.name())) {
            continue;
        }
        let mut v = o.to_value();
        set_path(&mut v, rest, value.clone())?;
        *o = Object::decode(kind, &v, document::Fields::Strict)
            .ok_or("unknown kind")?
            .map_err(|e| format!("mutation {path}: {e}"))?;
        touched += 1;
    }
    if touched == 0 {
        return Err(format!("mutation {path}: no {kind} to change"));
    }
    Ok(())
}

fn split_head(path: &str) -> (&str, &str) {
    // The head may contain dots inside brackets: `vsphereMachineConfigs[a,b].spec.tags`.
    let mut depth = 0;
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => return (&path[..i], &path[i + 1..]),
            _ => {}
        }
    }
    (path, "")
}

fn kind_of(word: &str) -> Option<&'static str> {
    let w = word.to_ascii_lowercase();
    let w = w.trim_end_matches('s');
    anywhere_api::config_set::OBJECT_KINDS.iter().copied().find(|k| {
        let k = k.to_ascii_lowercase();
        k == w || k == format!("{w}config") || k.trim_end_matches("config") == w
    })
}

/// Sets `value` at a dotted path with `[index]` and `[key]` segments, creating mappings.
fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let mut segs: Vec<String> = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| format!("unclosed [ in {path}"))?;
            segs.push(format!("[{}", &r[..end]));
            rest = r[end + 1..].trim_start_matches('.');
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            segs.push(rest[..end].to_string());
            rest = rest[end..].trim_start_matches('.');
        }
    }
    let mut cur = root;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        if let Some(key) = seg.strip_prefix('[') {
            if let Ok(idx) = key.parse::<usize>() {
                let arr = cur
                    .as_array_mut()
                    .ok_or_else(|| format!("{path}: not a list at {seg}"))?;
                let item = arr.get_mut(idx).ok_or_else(|| format!("{path}: no item {idx}"))?;
                if last {
                    *item = value;
                    return Ok(());
                }
                cur = item;
                continue;
            }
            // A map key such as an annotation name.
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            let map = cur.as_object_mut().expect("just made a mapping");
            if last {
                map.insert(key.to_string(), value);
                return Ok(());
            }
            cur = map.entry(key.to_string()).or_insert(Value::Object(Map::new()));
            continue;
        }
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let map = cur.as_object_mut().expect("just made a mapping");
        if last {
            map.insert(seg.clone(), value);
            return Ok(());
        }
        cur = map.entry(seg.clone()).or_insert(Value::Object(Map::new()));
    }
    Ok(())
}

/// The provider objects the generator is built with (`injections.builder`), which for some
/// cases come from files other than the cluster file.
fn builder_objects(
    set: &ConfigSet,
    builder: Option<&Value>,
    data: &DataDirs,
) -> Result<ProviderObjects, String> {
    let mut objects = ProviderObjects::from_config_set(set).map_err(|e| e.to_string())?;
    let Some(b) = builder.filter(|b| b.is_object()) else {
        return Ok(objects);
    };
    let machine_kind = anywhere_api::generate::Provider::from_datacenter_kind(objects.datacenter.kind())
        .and_then(|p| p.machine_kind());
    let from_file = |text: &str, kind: &str| -> Result<Option<Object>, String> {
        let Some(path) = text
            .split_whitespace()
            .next()
            .filter(|p| p.starts_with("testdata/"))
        else {
            return Ok(None);
        };
        let body = read_text(data, path)?;
        for doc in document::split_documents(&body, Split::Lenient).map_err(|e| e.to_string())? {
            let v = document::parse_value(&doc.text, doc.line).map_err(|e| e.to_string())?;
            if v.get("kind").and_then(Value::as_str) == Some(kind) {
                let o = Object::decode(kind, &v, document::Fields::Lenient)
                    .ok_or("unknown kind")?
                    .map_err(|e| format!("{path}: {e}"))?;
                return Ok(Some(o));
            }
        }
        Err(format!("{path} has no {kind}"))
    };
    if let Some(text) = b.get("datacenter_spec").and_then(Value::as_str) {
        let kind = objects.datacenter.kind();
        if let Some(o) = from_file(text, kind)? {
            objects.datacenter = o;
        }
    }
    if let Some(mk) = machine_kind {
        match b.get("control_plane_machine_spec") {
            Some(Value::Null) => objects.control_plane_machine = None,
            Some(Value::String(text)) => {
                if let Some(o) = from_file(text, mk)? {
                    objects.control_plane_machine = Some(o);
                }
            }
            _ => {}
        }
        match b.get("etcd_machine_spec") {
            Some(Value::Null) => objects.etcd_machine = None,
            Some(Value::String(text)) => {
                if let Some(o) = from_file(text, mk)? {
                    objects.etcd_machine = Some(o);
                } else if text.contains("same as control plane") {
                    objects.etcd_machine = objects.control_plane_machine.clone();
                }
            }
            _ => {}
        }
        match b.get("worker_machine_specs") {
            Some(Value::Object(map)) => {
                let mut workers = BTreeMap::new();
                for (name, text) in map {
                    let text = text.as_str().unwrap_or("");
                    let o = if let Some(o) = from_file(text, mk)? {
                        Some(o)
                    } else if text.contains("control-plane machine config") {
                        objects.control_plane_machine.clone()
                    } else {
                        set.find(mk, name).cloned()
                    };
                    if let Some(o) = o {
                        workers.insert(name.clone(), o);
                    }
                }
                objects.worker_machines = workers;
            }
            Some(Value::String(text)) if text.starts_with("{}") => objects.worker_machines.clear(),
            Some(Value::String(text)) if text.starts_with("map worker group NAME") => {
                // Keyed by worker group name rather than machine config name.
                let mut workers = BTreeMap::new();
                for w in set
                    .cluster
                    .spec
                    .iter()
                    .flat_map(|s| s.worker_node_group_configurations.iter().flatten())
                {
                    let r = w.machine_group_ref.as_ref();
                    if let Some(o) = r.and_then(|r| set.find(mk, r.name.as_deref().unwrap_or(""))) {
                        workers.insert(w.name.clone().unwrap_or_default(), o.clone());
                    }
                }
                objects.worker_machines = workers;
            }
            _ => {}
        }
    }
    Ok(objects)
}

fn template_names(t: Option<&Value>) -> TemplateNames {
    let Some(t) = t else {
        return TemplateNames::default();
    };
    let map = |key: &str| -> Option<BTreeMap<String, String>> {
        t.get(key)?.as_object().map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
    };
    let value = |key: &str| {
        t.pointer(&format!("/values/{key}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    TemplateNames {
        control_plane: value("controlPlaneTemplateName"),
        etcd: value("etcdTemplateName"),
        worker_machine: map("worker_machine_template_names"),
        worker_kubeadm_config: map("worker_kubeadm_config_template_names"),
        failure_domains: map("failure_domain_names"),
    }
}

/// Compares produced objects with a golden (README section 7). `None` when they match.
pub fn compare_objects(expected: &[Value], produced: &[Value], subset: bool) -> Option<String> {
    let key = |v: &Value| {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        (
            s("/apiVersion"),
            s("/kind"),
            s("/metadata/name"),
            s("/metadata/namespace"),
        )
    };
    let show = |k: &(String, String, String, String)| format!("{} {}/{}", k.0, k.1, k.2);
    let got: BTreeMap<_, _> = produced.iter().map(|v| (key(v), v)).collect();
    for want in expected {
        let k = key(want);
        // Subset matching finds objects by kind and name only.
        let found = if subset {
            got.iter()
                .find(|(gk, _)| gk.1 == k.1 && gk.2 == k.2)
                .map(|(_, v)| *v)
        } else {
            got.get(&k).copied().or_else(|| {
                // `<no value>` in a golden name matches any name.
                (k.2 == anywhere_manifests::NO_VALUE)
                    .then(|| {
                        got.iter()
                            .find(|(gk, _)| gk.0 == k.0 && gk.1 == k.1)
                            .map(|(_, v)| *v)
                    })
                    .flatten()
            })
        };
        let Some(g) = found else {
            let have: Vec<String> = got.keys().map(show).collect();
            return Some(format!(
                "missing object {}; produced: {}",
                show(&k),
                have.join(", ")
            ));
        };
        if let Some(d) = tree_diff(want, g, String::new(), subset) {
            return Some(format!("{}: {d}", show(&k)));
        }
    }
    if !subset && produced.len() != expected.len() {
        let want: Vec<_> = expected.iter().map(key).collect();
        let extra: Vec<String> = got.keys().filter(|k| !want.contains(k)).map(show).collect();
        return Some(format!(
            "produced {} objects, golden has {}; extra: {}",
            produced.len(),
            expected.len(),
            extra.join(", ")
        ));
    }
    None
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    }
}

fn tree_diff(want: &Value, got: &Value, path: String, subset: bool) -> Option<String> {
    if want.as_str() == Some(anywhere_manifests::NO_VALUE) {
        return None;
    }
    if is_empty(Some(want)) && is_empty(Some(got)) {
        return None;
    }
    let here = || {
        if path.is_empty() {
            ".".to_string()
        } else {
            path.clone()
        }
    };
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, av) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(bv) => {
                        if let Some(d) = tree_diff(av, bv, p, subset) {
                            return Some(d);
                        }
                    }
                    None if is_empty(Some(av)) || av.as_str() == Some(anywhere_manifests::NO_VALUE) => {}
                    None => return Some(format!("{p}: missing (want {})", short(av))),
                }
            }
            if !subset {
                for (k, bv) in b {
                    if !a.contains_key(k) && !is_empty(Some(bv)) {
                        let p = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        return Some(format!("{p}: unexpected {}", short(bv)));
                    }
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) => {
            if subset {
                for (i, av) in a.iter().enumerate() {
                    if !b
                        .iter()
                        .any(|bv| tree_diff(av, bv, String::new(), true).is_none())
                    {
                        return Some(format!("{path}[{i}]: no matching item for {}", short(av)));
                    }
                }
                return None;
            }
            for (i, (av, bv)) in a.iter().zip(b).enumerate() {
                if let Some(d) = tree_diff(av, bv, format!("{path}[{i}]"), subset) {
                    return Some(d);
                }
            }
            (a.len() != b.len()).then(|| format!("{}: want {} items, got {}", here(), a.len(), b.len()))
        }
        (Value::String(a), Value::String(b)) => {
            if a == b || normalize_text(a) == normalize_text(b) {
                return None;
            }
            // Embedded YAML documents compare as trees.
            if (a.contains('\n') || b.contains('\n'))
                && let (Some(x), Some(y)) = (parse_embedded(a), parse_embedded(b))
            {
                return if x.len() != y.len() {
                    Some(format!(
                        "{}: embedded YAML has {} documents, want {}",
                        here(),
                        y.len(),
                        x.len()
                    ))
                } else {
                    x.iter()
                        .zip(&y)
                        .enumerate()
                        .find_map(|(i, (xa, ya))| tree_diff(xa, ya, format!("{}<yaml#{i}>", here()), subset))
                };
            }
            Some(format!("{}: want {}, got {}", here(), short(want), short(got)))
        }
        (a, b) if a == b => None,
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        _ => Some(format!("{}: want {}, got {}", here(), short(want), short(got))),
    }
}

fn normalize_text(s: &str) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim_end).collect();
    let mut joined = lines.join("\n");
    while joined.ends_with('\n') {
        joined.pop();
    }
    joined
}

fn parse_embedded(s: &str) -> Option<Vec<Value>> {
    let docs = document::split_documents(s, Split::Lenient).ok()?;
    let mut out = Vec::new();
    for d in docs {
        let v = document::parse_value(&d.text, d.line).ok()?;
        if !(v.is_object() || v.is_array()) {
            return None;
        }
        out.push(v);
    }
    (!out.is_empty()).then_some(out)
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 160 {
        format!("{}...", &s[..s.floor_char_boundary(157)])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_encode(b"abc"), "YWJj");
    }

    #[test]
    fn set_path_handles_indices_and_keys() {
        let mut v = json!({"spec": {"w": [{"a": 1}]}, "metadata": {}});
        set_path(&mut v, "spec.w[0].kubeletConfiguration", json!({"maxPods": 20})).unwrap();
        set_path(
            &mut v,
            "metadata.annotations[anywhere.eks.amazonaws.com/x]",
            json!("1.2.3.4"),
        )
        .unwrap();
        assert_eq!(v["spec"]["w"][0]["kubeletConfiguration"]["maxPods"], 20);
        assert_eq!(
            v["metadata"]["annotations"]["anywhere.eks.amazonaws.com/x"],
            "1.2.3.4"
        );
    }

    #[test]
    fn object_words_map_to_kinds() {
        assert_eq!(kind_of("vsphereMachineConfigs"), Some("VSphereMachineConfig"));
        assert_eq!(
            kind_of("tinkerbellMachineConfigs"),
            Some("TinkerbellMachineConfig")
        );
        assert_eq!(kind_of("nutanixDatacenter"), Some("NutanixDatacenterConfig"));
    }

    #[test]
    fn comparison_normalises_go_template_artefacts() {
        let want = json!({"kind": "X", "metadata": {"name": "a"}, "spec": {"n": null, "t": "<no value>", "s": "a  \nb\n\n"}});
        let got = json!({"kind": "X", "metadata": {"name": "a"}, "spec": {"t": "whatever", "s": "a\nb"}});
        assert_eq!(compare_objects(&[want], &[got], false), None);
    }

    #[test]
    fn comparison_reports_the_first_difference() {
        let want = json!({"kind": "X", "metadata": {"name": "a"}, "spec": {"replicas": 3}});
        let got = json!({"kind": "X", "metadata": {"name": "a"}, "spec": {"replicas": 2}});
        let d = compare_objects(&[want], &[got], false).unwrap();
        assert!(d.contains("spec.replicas: want 3, got 2"), "{d}");
    }
}

//! Resource types: the built-in kinds the management plane needs and those registered by
//! CustomResourceDefinitions, plus the discovery documents built from them.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::lists::ListRules;

/// Group, version and plural resource name: what a URL addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Gvr {
    /// API group (`""` for core).
    pub group: String,
    /// Version (`v1`, `v1beta2`, ...).
    pub version: String,
    /// Plural resource name.
    pub resource: String,
}

impl Gvr {
    /// A resource of a named group.
    pub fn new(group: &str, version: &str, resource: &str) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            resource: resource.into(),
        }
    }

    /// A core (`/api/v1`) resource.
    pub fn core(resource: &str) -> Self {
        Self::new("", "v1", resource)
    }

    /// `group/version` (or `version` for core).
    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }
}

/// `group/version`, or `version` for the core group.
pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Group and plural: the version-agnostic storage identity of a resource.
pub type Gr = (String, String);

/// Everything the server knows about one resource type.
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// API group.
    pub group: String,
    /// Served versions, preferred first.
    pub versions: Vec<String>,
    /// Version objects are stored in.
    pub storage_version: String,
    /// Plural name.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// List kind.
    pub list_kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Has a `/status` subresource.
    pub status_subresource: bool,
    /// Short names for discovery.
    pub short_names: Vec<String>,
    /// Categories for discovery.
    pub categories: Vec<String>,
    /// Built-in (strategic merge allowed, unconditional update without resourceVersion).
    pub builtin: bool,
    /// Maintains `metadata.generation`.
    pub tracks_generation: bool,
    /// Extra field selector paths beyond `metadata.name` / `metadata.namespace`.
    pub field_selectors: Vec<String>,
    /// How lists merge (SSA, strategic merge).
    pub list_rules: ListRules,
}

impl ResourceType {
    /// The storage key.
    pub fn gr(&self) -> Gr {
        (self.group.clone(), self.plural.clone())
    }

    /// Whether `field` may appear in a field selector.
    pub fn allows_field(&self, field: &str) -> bool {
        field == "metadata.name"
            || (self.namespaced && field == "metadata.namespace")
            || self.field_selectors.iter().any(|f| f == field)
    }

    fn discovery_entry(&self) -> Vec<Value> {
        let mut r = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        });
        if !self.short_names.is_empty() {
            r["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            r["categories"] = json!(self.categories);
        }
        let mut out = vec![r];
        if self.status_subresource {
            out.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        out
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    status: bool,
    generation: bool,
    short: &'static [&'static str],
    fields: &'static [&'static str],
}

const BUILTINS: &[Builtin] = &[
    b(
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        true,
        false,
        &["ns"],
        &["status.phase"],
    ),
    b(
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        true,
        false,
        false,
        &["cm"],
        &[],
    ),
    b("", "v1", "secrets", "Secret", true, false, false, &[], &["type"]),
    b(
        "",
        "v1",
        "nodes",
        "Node",
        false,
        true,
        false,
        &["no"],
        &["spec.unschedulable"],
    ),
    b(
        "",
        "v1",
        "pods",
        "Pod",
        true,
        true,
        false,
        &["po"],
        &["spec.nodeName", "status.phase"],
    ),
    b(
        "",
        "v1",
        "events",
        "Event",
        true,
        false,
        false,
        &["ev"],
        &[
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "reason",
            "type",
        ],
    ),
    b(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        false,
        false,
        &["sa"],
        &[],
    ),
    b("", "v1", "services", "Service", true, true, false, &["svc"], &[]),
    b(
        "",
        "v1",
        "endpoints",
        "Endpoints",
        true,
        false,
        false,
        &["ep"],
        &[],
    ),
    b(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
        true,
        false,
        &["pvc"],
        &[],
    ),
    b(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        true,
        true,
        &["deploy"],
        &[],
    ),
    b(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        true,
        true,
        true,
        &["ds"],
        &[],
    ),
    b(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        true,
        true,
        &["rs"],
        &[],
    ),
    b(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        true,
        true,
        &["sts"],
        &[],
    ),
    b(
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        true,
        false,
        false,
        &["ev"],
        &[],
    ),
    b(
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        false,
        false,
        &[],
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        false,
        false,
        &[],
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        false,
        false,
        &[],
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        false,
        false,
        &[],
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        false,
        false,
        &[],
        &[],
    ),
    b(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        true,
        true,
        &["crd", "crds"],
        &[],
    ),
];

#[allow(clippy::too_many_arguments)]
const fn b(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    status: bool,
    generation: bool,
    short: &'static [&'static str],
    fields: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version,
        plural,
        kind,
        namespaced,
        status,
        generation,
        short,
        fields,
    }
}

/// The CRD resource's storage key.
pub fn crd_gr() -> Gr {
    ("apiextensions.k8s.io".into(), "customresourcedefinitions".into())
}

/// The namespace resource's storage key.
pub fn namespace_gr() -> Gr {
    (String::new(), "namespaces".into())
}

/// All known resource types.
#[derive(Debug, Clone)]
pub struct Registry {
    by_gr: HashMap<Gr, Arc<ResourceType>>,
    by_kind: HashMap<(String, String), Gr>,
}

impl Registry {
    /// The built-in types.
    pub fn with_builtins() -> Self {
        let mut r = Self {
            by_gr: HashMap::new(),
            by_kind: HashMap::new(),
        };
        for bi in BUILTINS {
            r.insert(ResourceType {
                group: bi.group.into(),
                versions: vec![bi.version.into()],
                storage_version: bi.version.into(),
                plural: bi.plural.into(),
                singular: bi.kind.to_lowercase(),
                kind: bi.kind.into(),
                list_kind: format!("{}List", bi.kind),
                namespaced: bi.namespaced,
                status_subresource: bi.status,
                short_names: bi.short.iter().map(|s| (*s).to_string()).collect(),
                categories: Vec::new(),
                builtin: true,
                tracks_generation: bi.generation,
                field_selectors: bi.fields.iter().map(|s| (*s).to_string()).collect(),
                list_rules: ListRules::builtin(),
            });
        }
        r
    }

    /// Adds or replaces a type.
    pub fn insert(&mut self, t: ResourceType) {
        self.by_kind.insert((t.group.clone(), t.kind.clone()), t.gr());
        self.by_gr.insert(t.gr(), Arc::new(t));
    }

    /// Removes a type.
    pub fn remove(&mut self, gr: &Gr) {
        if let Some(t) = self.by_gr.remove(gr) {
            self.by_kind.remove(&(t.group.clone(), t.kind.clone()));
        }
    }

    /// The type at `gr`.
    pub fn get(&self, gr: &Gr) -> Option<&Arc<ResourceType>> {
        self.by_gr.get(gr)
    }

    /// The type a URL addresses, if that version is served.
    ///
    /// # Errors
    /// 404 NotFound when the group, version or resource is unknown.
    pub fn resolve(&self, gvr: &Gvr) -> Result<Arc<ResourceType>, ApiError> {
        self.by_gr
            .get(&(gvr.group.clone(), gvr.resource.clone()))
            .filter(|t| t.versions.contains(&gvr.version))
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found_msg(format!(
                    "the server could not find the requested resource ({} {})",
                    gvr.api_version(),
                    gvr.resource
                ))
            })
    }

    /// The type of `apiVersion`/`kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<(Arc<ResourceType>, String)> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        let gr = self.by_kind.get(&(group, kind.to_string()))?;
        let t = self.by_gr.get(gr)?;
        t.versions.contains(&version).then(|| (t.clone(), version))
    }

    /// Groups with their versions (preferred first).
    fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut g: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in self.by_gr.values() {
            let vs = g.entry(t.group.clone()).or_default();
            for v in &t.versions {
                if !vs.contains(v) {
                    vs.push(v.clone());
                }
            }
        }
        for vs in g.values_mut() {
            vs.sort_by(|a, b| compare_versions(b, a));
        }
        g
    }

    fn in_group_version(&self, group: &str, version: &str) -> Vec<&Arc<ResourceType>> {
        let mut ts: Vec<_> = self
            .by_gr
            .values()
            .filter(|t| t.group == group && t.versions.iter().any(|v| v == version))
            .collect();
        ts.sort_by(|a, b| a.plural.cmp(&b.plural));
        ts
    }

    /// `GET /apis` (APIGroupList).
    pub fn api_group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .into_iter()
            .filter(|(g, _)| !g.is_empty())
            .map(|(g, vs)| {
                let versions: Vec<Value> = vs
                    .iter()
                    .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                    .collect();
                json!({"name": g, "versions": versions, "preferredVersion": versions[0].clone()})
            })
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `GET /apis/{group}` (APIGroup).
    pub fn api_group(&self, group: &str) -> Option<Value> {
        let vs = self.groups().remove(group)?;
        let versions: Vec<Value> = vs
            .iter()
            .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
            .collect();
        Some(
            json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
                    "preferredVersion": versions[0].clone()}),
        )
    }

    /// `GET /api/v1`, `GET /apis/{g}/{v}` (APIResourceList).
    pub fn api_resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let ts = self.in_group_version(group, version);
        if ts.is_empty() {
            return None;
        }
        let resources: Vec<Value> = ts.iter().flat_map(|t| t.discovery_entry()).collect();
        Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version(group, version),
                    "resources": resources}),
        )
    }

    /// Aggregated discovery (`APIGroupDiscoveryList`) for `/api` (`core`) or `/apis`.
    pub fn aggregated(&self, core: bool) -> Value {
        let items: Vec<Value> = self
            .groups()
            .into_iter()
            .filter(|(g, _)| g.is_empty() == core)
            .map(|(g, vs)| {
                let versions: Vec<Value> = vs
                    .iter()
                    .map(|v| {
                        let resources: Vec<Value> = self
                            .in_group_version(&g, v)
                            .iter()
                            .map(|t| {
                                let kind = json!({"group": g, "version": v, "kind": t.kind});
                                let mut r = json!({
                                    "resource": t.plural,
                                    "responseKind": kind,
                                    "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                                    "singularResource": t.singular,
                                    "verbs": ["create", "delete", "deletecollection", "get", "list", "patch",
                                              "update", "watch"],
                                    "shortNames": t.short_names,
                                    "categories": t.categories,
                                });
                                if t.status_subresource {
                                    r["subresources"] = json!([{"subresource": "status", "responseKind": kind,
                                                                 "verbs": ["get", "patch", "update"]}]);
                                }
                                r
                            })
                            .collect();
                        json!({"version": v, "freshness": "Current", "resources": resources})
                    })
                    .collect();
                json!({"metadata": {"name": g}, "versions": versions})
            })
            .collect();
        json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
               "items": items})
    }
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first; others alphabetical.
/// Returns `Greater` when `a` has the higher priority.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn key(v: &str) -> Option<(u8, u64, u64)> {
        let rest = v.strip_prefix('v')?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let major: u64 = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        if tail.is_empty() {
            return Some((3, major, 0));
        }
        let (class, n) = if let Some(n) = tail.strip_prefix("beta") {
            (2, n)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (1, n)
        } else {
            return None;
        };
        Some((class, major, n.parse().ok()?))
    }
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => b.cmp(a),
    }
}

/// Validates a CRD object and builds its resource type.
///
/// # Errors
/// 422 Invalid on a missing or inconsistent field.
pub fn type_from_crd(crd: &Value) -> Result<ResourceType, ApiError> {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let invalid = |field: &str, detail: &str| {
        ApiError::invalid(
            crate::error::Subject {
                group: "apiextensions.k8s.io",
                resource: "customresourcedefinitions",
                name,
            },
            "CustomResourceDefinition",
            field,
            detail,
        )
    };
    let spec = crd.get("spec").ok_or_else(|| invalid("spec", "Required value"))?;
    let s = |p: &str| {
        spec.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let group = s("/group");
    let plural = s("/names/plural");
    let kind = s("/names/kind");
    if group.is_empty() {
        return Err(invalid("spec.group", "Required value"));
    }
    if plural.is_empty() {
        return Err(invalid("spec.names.plural", "Required value"));
    }
    if kind.is_empty() {
        return Err(invalid("spec.names.kind", "Required value"));
    }
    if name != format!("{plural}.{group}") {
        return Err(invalid(
            "metadata.name",
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    let namespaced = match s("/scope").as_str() {
        "Namespaced" => true,
        "Cluster" => false,
        _ => {
            return Err(invalid(
                "spec.scope",
                "Unsupported value: must be Namespaced or Cluster",
            ));
        }
    };
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        return Err(invalid(
            "spec.versions",
            "Required value: must have exactly one version marked as storage version",
        ));
    }
    let storage: Vec<&Value> = versions
        .iter()
        .filter(|v| v.get("storage") == Some(&Value::Bool(true)))
        .collect();
    if storage.len() != 1 {
        return Err(invalid(
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        ));
    }
    let storage_version = storage[0]
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut served: Vec<String> = versions
        .iter()
        .filter(|v| v.get("served") == Some(&Value::Bool(true)))
        .filter_map(|v| v.get("name").and_then(Value::as_str).map(String::from))
        .collect();
    served.sort_by(|a, b| compare_versions(b, a));
    let status_subresource = versions
        .iter()
        .any(|v| v.pointer("/subresources/status").is_some())
        || spec.pointer("/subresources/status").is_some();
    let schema = storage[0].pointer("/schema/openAPIV3Schema");
    let field_selectors = storage[0]
        .get("selectableFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.get("jsonPath").and_then(Value::as_str))
                .map(|p| p.trim_start_matches('.').to_string())
                .collect()
        })
        .unwrap_or_default();
    let strs = |p: &str| -> Vec<String> {
        spec.pointer(p)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    let singular = match s("/names/singular") {
        x if x.is_empty() => kind.to_lowercase(),
        x => x,
    };
    let list_kind = match s("/names/listKind") {
        x if x.is_empty() => format!("{kind}List"),
        x => x,
    };
    Ok(ResourceType {
        group,
        versions: served,
        storage_version,
        plural,
        singular,
        kind,
        list_kind,
        namespaced,
        status_subresource,
        short_names: strs("/names/shortNames"),
        categories: strs("/names/categories"),
        builtin: false,
        tracks_generation: true,
        field_selectors,
        list_rules: ListRules::from_schema(schema),
    })
}

/// The status the server gives an accepted CRD.
pub fn crd_status(t: &ResourceType, now: &str) -> Value {
    json!({
        "acceptedNames": {"plural": t.plural, "singular": t.singular, "kind": t.kind, "listKind": t.list_kind,
                          "shortNames": t.short_names, "categories": t.categories},
        "storedVersions": [t.storage_version],
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_priority_orders_ga_beta_alpha() {
        let mut v = vec!["v1alpha1", "v1beta1", "v2", "v1", "v1beta2", "foo"];
        v.sort_by(|a, b| compare_versions(b, a));
        assert_eq!(v, vec!["v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]);
    }
}

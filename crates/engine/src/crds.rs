//! CustomResourceDefinitions of the anywhere kinds (`anywhere.eks.amazonaws.com/v1alpha1`), for
//! management planes that do not have them yet (the simulated one, a fresh bootstrap).
//!
//! They are permissive stand-ins: the schema preserves unknown fields, because the engine
//! validates specs itself (with field paths and hints) before anything is applied, and a
//! structural schema would only duplicate that with worse messages.

use serde_json::{Value, json};

/// The Kubernetes plural of an anywhere kind, as EKS Anywhere's CRDs name them.
pub fn plural(kind: &str) -> String {
    format!("{}s", kind.to_ascii_lowercase())
}

/// One CRD per anywhere kind (the Cluster and every kind a spec file may hold), namespaced,
/// with a status subresource.
pub fn all() -> Vec<Value> {
    std::iter::once("Cluster")
        .chain(anywhere_api::config_set::OBJECT_KINDS.iter().copied())
        .map(crd)
        .collect()
}

fn crd(kind: &str) -> Value {
    let plural = plural(kind);
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{}", anywhere_api::config_set::GROUP)},
        "spec": {
            "group": anywhere_api::config_set::GROUP,
            "names": {
                "kind": kind,
                "listKind": format!("{kind}List"),
                "plural": plural,
                "singular": kind.to_ascii_lowercase(),
            },
            "scope": "Namespaced",
            "versions": [{
                "name": "v1alpha1",
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                }},
            }],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_crd_named_by_its_plural() {
        let crds = all();
        assert_eq!(crds.len(), anywhere_api::config_set::OBJECT_KINDS.len() + 1);
        let names: Vec<&str> = crds
            .iter()
            .map(|c| c["metadata"]["name"].as_str().unwrap_or_default())
            .collect();
        assert!(names.contains(&"clusters.anywhere.eks.amazonaws.com"));
        assert!(names.contains(&"vspheredatacenterconfigs.anywhere.eks.amazonaws.com"));
        assert!(names.contains(&"snowippools.anywhere.eks.amazonaws.com"));
    }
}

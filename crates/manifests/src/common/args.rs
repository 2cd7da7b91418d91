//! Argument lists (`extraArgs`, `kubeletExtraArgs`): a fixed literal head, then the computed
//! arguments sorted by name, then `node-labels` last (README A.2).

use std::collections::BTreeMap;

use crate::types::{bootstrap_v1beta2, controlplane_v1beta2};

/// An ordered list of `name=value` arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args(Vec<(String, String)>);

impl Args {
    /// The literal head of a list, in the given order.
    pub fn literal(pairs: &[(&str, &str)]) -> Args {
        Args(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// Appends computed arguments, sorted by name (a map iterates sorted).
    pub fn with_sorted(mut self, computed: &BTreeMap<String, String>) -> Args {
        self.0
            .extend(computed.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }

    /// Appends `node-labels` (`k=v` pairs sorted by key, comma-joined) when there are labels.
    pub fn with_node_labels(mut self, labels: Option<&BTreeMap<String, String>>) -> Args {
        if let Some(value) = labels.and_then(node_labels) {
            self.0.push(("node-labels".to_string(), value));
        }
        self
    }

    /// Appends one argument.
    pub fn with(mut self, name: &str, value: &str) -> Args {
        self.0.push((name.to_string(), value.to_string()));
        self
    }

    /// Whether the list has no argument.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The arguments, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// As KubeadmControlPlane `extraArgs`.
    pub fn to_control_plane(&self) -> Vec<controlplane_v1beta2::ExtraArg> {
        self.0
            .iter()
            .map(|(k, v)| controlplane_v1beta2::ExtraArg {
                name: Some(k.clone()),
                value: Some(v.clone()),
            })
            .collect()
    }

    /// As KubeadmConfigTemplate `extraArgs`.
    pub fn to_bootstrap(&self) -> Vec<bootstrap_v1beta2::ExtraArg> {
        self.0
            .iter()
            .map(|(k, v)| bootstrap_v1beta2::ExtraArg {
                name: Some(k.clone()),
                value: Some(v.clone()),
            })
            .collect()
    }
}

/// The `node-labels` value: `k=v` pairs sorted by key and comma-joined; `None` when empty.
pub fn node_labels(labels: &BTreeMap<String, String>) -> Option<String> {
    if labels.is_empty() {
        return None;
    }
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn computed_args_follow_the_head_sorted_and_node_labels_come_last() {
        let args = Args::literal(&[("z-first", "1")])
            .with_sorted(&map(&[("b", "2"), ("a", "3")]))
            .with_node_labels(Some(&map(&[("k2", "v2"), ("k1", "v1")])));
        let names: Vec<&str> = args.pairs().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["z-first", "a", "b", "node-labels"]);
        assert_eq!(args.pairs()[3].1, "k1=v1,k2=v2");
    }

    #[test]
    fn empty_labels_add_no_node_labels_arg() {
        assert!(
            Args::default()
                .with_node_labels(Some(&BTreeMap::new()))
                .is_empty()
        );
        assert!(Args::default().with_node_labels(None).is_empty());
    }
}

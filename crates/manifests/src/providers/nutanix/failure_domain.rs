//! Worker failure domains: which domains a worker group spreads over and how many replicas
//! each gets.

use anywhere_api::{NutanixDatacenterConfigSpec, NutanixFailureDomain, WorkerNodeGroupConfiguration};

/// The failure domains that list a worker group (by group name) in `workerMachineGroups`.
pub(super) fn worker_failure_domains<'a>(
    dc: &'a NutanixDatacenterConfigSpec,
    group: &str,
) -> Vec<&'a NutanixFailureDomain> {
    dc.failure_domains
        .iter()
        .flatten()
        .filter(|fd| fd.worker_machine_groups.iter().flatten().any(|g| g == group))
        .collect()
}

/// Replicas per failure domain: `count / n` each, the first takes the remainder; none (the
/// autoscaler decides) with autoscaling. A group without `count` spreads one per domain.
pub(super) fn failure_domain_replicas(
    group: &WorkerNodeGroupConfiguration,
    domains: usize,
) -> Vec<Option<i64>> {
    if group.autoscaling_configuration.is_some() || domains == 0 {
        return vec![None; domains];
    }
    let n = i64::try_from(domains).unwrap_or(i64::MAX);
    let count = group.count.unwrap_or(n);
    let each = count / n;
    let mut out = vec![Some(each); domains];
    out[0] = Some(count - (n - 1) * each);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn group(v: serde_json::Value) -> WorkerNodeGroupConfiguration {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn replicas_give_the_remainder_to_the_first_domain() {
        assert_eq!(
            failure_domain_replicas(&group(json!({"count": 4})), 2),
            [Some(2), Some(2)]
        );
        assert_eq!(
            failure_domain_replicas(&group(json!({"count": 5})), 3),
            [Some(3), Some(1), Some(1)]
        );
        assert_eq!(failure_domain_replicas(&group(json!({})), 2), [Some(1), Some(1)]);
    }

    #[test]
    fn autoscaled_groups_have_no_replicas_per_domain() {
        let g = group(json!({"count": 4, "autoscalingConfiguration": {"minCount": 1, "maxCount": 5}}));
        assert_eq!(failure_domain_replicas(&g, 2), [None, None]);
    }

    #[test]
    fn domains_match_worker_groups_by_name() {
        let dc: NutanixDatacenterConfigSpec = serde_json::from_value(json!({"failureDomains": [
            {"name": "pe1", "workerMachineGroups": ["a", "b"]},
            {"name": "pe2", "workerMachineGroups": ["b"]}
        ]}))
        .unwrap();
        let names: Vec<_> = worker_failure_domains(&dc, "b")
            .iter()
            .map(|f| f.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["pe1", "pe2"]);
        assert!(worker_failure_domains(&dc, "c").is_empty());
    }
}

//! parse → serialise → parse keeps every object of every kind unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use anywhere_api::config_set::OBJECT_KINDS;
use anywhere_api::{Reading, parse_config_set};

const EVERY_KIND: &str = include_str!("data/every-kind.yaml");

#[test]
fn every_kind_round_trips() {
    let set = parse_config_set(EVERY_KIND, Reading::Strict).expect("every-kind.yaml parses");
    let kinds: std::collections::BTreeSet<&str> = set.objects.iter().map(|(o, _)| o.kind()).collect();
    for kind in OBJECT_KINDS {
        assert!(kinds.contains(kind), "every-kind.yaml has no {kind}");
    }
    let printed = set.to_yaml();
    let again = parse_config_set(&printed, Reading::Strict).expect("printed spec parses");
    assert_eq!(again.cluster, set.cluster);
    let objects = |s: &anywhere_api::ConfigSet| s.objects.iter().map(|(o, _)| o.clone()).collect::<Vec<_>>();
    assert_eq!(objects(&again), objects(&set));
    // Printing is deterministic.
    assert_eq!(again.to_yaml(), printed);
}

#[test]
fn unquoted_kubernetes_version_is_a_string() {
    let set = parse_config_set(EVERY_KIND, Reading::Strict).unwrap();
    assert_eq!(
        set.cluster.spec.unwrap().kubernetes_version.as_deref(),
        Some("1.31")
    );
}

/// Every spec file in the conformance pack that parses, round-trips (skips without ../shared).
#[test]
fn pack_inputs_round_trip() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/eksa/testdata/pkg");
    if !root.is_dir() {
        eprintln!(
            "skipping: conformance pack not found at {} (it lives in ../shared)",
            root.display()
        );
        return;
    }
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml") {
                files.push(p);
            }
        }
    }
    let mut checked = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let Ok(set) = parse_config_set(&text, Reading::Lenient) else {
            continue;
        };
        let again = parse_config_set(&set.to_yaml(), Reading::Strict)
            .unwrap_or_else(|e| panic!("{}: printed spec does not parse: {e}", f.display()));
        assert_eq!(again.cluster, set.cluster, "{}", f.display());
        assert_eq!(again.objects.len(), set.objects.len(), "{}", f.display());
        checked += 1;
    }
    assert!(checked > 50, "only {checked} pack files parsed");
}

//! The admission exclusion rules and the pre-1.24 audit policy are built in code; this checks
//! that they parse equal (as JSON/YAML trees) to the reference's data files in the pack. Skipped,
//! with a message, where the pack is not mounted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;

use anywhere_api::document::parse_value;
use anywhere_manifests::common::{admission, audit};

/// The pack's file, or `None` (with a message) when the pack (`../shared` beside the
/// repository) is absent.
fn pack_file(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/eksa/testdata/pkg/providers/common/config");
    if !dir.is_dir() {
        eprintln!(
            "skipping: the conformance pack is not at {}, nothing to compare {name} with",
            dir.display()
        );
        return None;
    }
    Some(dir.join(name))
}

fn parse(text: &str) -> Value {
    parse_value(text, 1).unwrap()
}

#[test]
fn admission_exclusion_rules_equal_the_pack_file() {
    let Some(path) = pack_file("admission-plugin-exclusion-rules.json") else {
        return;
    };
    let want: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let content = admission::exclusion_rules_file().content.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&content).unwrap(), want);
    // The conformance runner reads embedded files with the YAML reader.
    assert_eq!(parse(&content), want);
}

#[test]
fn v1beta1_audit_policy_equals_the_pack_file() {
    let Some(path) = pack_file("audit-policy.yaml") else {
        return;
    };
    let want = parse(&std::fs::read_to_string(path).unwrap());
    for minor in [19, 23] {
        assert_eq!(
            parse(&audit::audit_policy(minor, None)),
            want,
            "Kubernetes 1.{minor}"
        );
    }
}

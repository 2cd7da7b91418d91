//! The pack's API cases, through the library (the CLI test runs the same through the binary).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use anywhere_conformance::{DataDirs, Status, api};

#[test]
fn pack_api_cases_pass() {
    let eksa = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/eksa");
    if !eksa.is_dir() {
        eprintln!(
            "skipping: conformance pack not found at {} (it lives in ../shared)",
            eksa.display()
        );
        return;
    }
    // No DNS in tests: every name that is not an IP literal fails to resolve, which is the
    // offline verdict the pack documents; the one case that needs a real lookup is skipped.
    let no_dns = |_: &str| false;
    let report = api::run(
        &eksa.join("cases/api.yaml"),
        &DataDirs(vec![eksa.clone()]),
        &no_dns,
    )
    .unwrap();
    print!("{}{report}", report.detailed());
    assert_eq!(report.failed(), 0, "{report}");
    assert_eq!(report.cases.len(), 100);
    for c in &report.cases {
        if let Status::Skipped(why) = &c.status {
            assert!(why.contains("network"), "{}: skipped for {why}", c.id);
        }
    }
}

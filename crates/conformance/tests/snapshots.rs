//! Golden snapshots of the manifests of every provider's sample spec, so that every change to
//! generated output shows up as a reviewed diff (`cargo insta review`, or
//! `INSTA_UPDATE=always cargo test -p anywhere-conformance --test snapshots` and read the diff).

use anywhere_conformance::samples;

#[test]
fn sample_manifests_per_provider() {
    for p in samples::RENDERED {
        let manifests = samples::render(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        insta::assert_snapshot!(
            format!("sample-{}", p.name()),
            anywhere_manifests::to_yaml(&manifests)
        );
    }
}

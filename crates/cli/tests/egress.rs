//! `anywhere check-egress`: the endpoints of real specs (the quickstart, a Tinkerbell sample)
//! with and without a registry mirror, proxy and noProxy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

fn check(spec: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.yaml");
    std::fs::write(&file, spec).unwrap();
    let out = Command::cargo_bin("anywhere")
        .unwrap()
        .args(["check-egress", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `spec` with `extra` lines inserted into the Cluster's spec, before `kubernetesVersion`.
fn with(spec: &str, extra: &str) -> String {
    spec.replacen("  kubernetesVersion:", &format!("{extra}  kubernetesVersion:"), 1)
}

const MIRROR: &str =
    "  registryMirrorConfiguration:\n    endpoint: mirror.site.internal\n    port: \"5000\"\n";

#[test]
fn images_leave_the_site_until_a_mirror_is_configured() {
    let quickstart =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart.yaml"))
            .unwrap();
    let (code, stdout, stderr) = check(&quickstart);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("LEAVES THE SITE  public.ecr.aws"), "{stdout}");
    assert!(stderr.contains("registryMirrorConfiguration"), "{stderr}");

    let (code, stdout, stderr) = check(&with(&quickstart, MIRROR));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("on site          mirror.site.internal"),
        "{stdout}"
    );
    assert!(!stdout.contains("public.ecr.aws "), "{stdout}");
}

#[test]
fn os_image_urls_must_be_mirrored_private_or_in_no_proxy() {
    let out = Command::cargo_bin("anywhere")
        .unwrap()
        .args(["generate", "clusterconfig", "edge", "-p", "tinkerbell"])
        .output()
        .unwrap();
    let sample = String::from_utf8(out.stdout).unwrap();
    assert!(sample.contains("osImageURL: http://192.0.2.30/"), "{sample}");
    // 192.0.2.0/24 is a documentation range, not a private one: it counts as the internet.
    let (code, stdout, _) = check(&with(&sample, MIRROR));
    assert_eq!(code, Some(1), "{stdout}");
    let line = stdout.lines().find(|l| l.contains("192.0.2.30")).unwrap();
    assert!(
        line.starts_with("LEAVES THE SITE") && line.contains("OsImage") && line.contains("spec.osImageURL"),
        "{line}"
    );

    // Declared site-local through noProxy (with a proxy): on site.
    // EKS-A requires a locally hosted hook with a proxy: 10.0.0.4 is private, so on site.
    let proxy = "  proxyConfiguration:\n    httpProxy: http://10.0.0.3:3128\n    httpsProxy: http://10.0.0.3:3128\n    noProxy:\n    - 192.0.2.0/24\n";
    let sample = sample.replacen(
        "  osImageURL: http://192.0.2.30/",
        "  hookImagesURLPath: http://10.0.0.4/hook\n  osImageURL: http://192.0.2.30/",
        1,
    );
    let (code, stdout, stderr) = check(&with(&sample, &format!("{MIRROR}{proxy}")));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("on site") && l.contains("192.0.2.30")),
        "{stdout}"
    );
}

//! `anywhere copy images` end to end: the real binary between two Debian `docker-registry`
//! instances on loopback, seeded by skopeo. Skips without the peers unless `CI=true`
//! (`.ci/install-registry-peers.sh` installs them). The library's own peer tests
//! (crates/registry/tests/peers.rs) cover TLS, auth, indexes and blob sharing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

#[path = "support/registry.rs"]
mod support;
use support::{peers_available, registry, seed};

#[test]
fn copy_images_copies_a_list_and_reports_bad_input_and_failures_clearly() {
    if !peers_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_a, from) = registry();
    let (_b, to) = registry();
    seed(&from, "eks-anywhere/one", &work.path().join("one"));
    seed(&from, "eks-anywhere/two", &work.path().join("two"));
    let list = work.path().join("images.txt");
    std::fs::write(
        &list,
        "# the release\neks-anywhere/one:v1\npublic.ecr.aws/eks-anywhere/two:v1\n",
    )
    .unwrap();
    let anywhere = || Command::cargo_bin("anywhere").unwrap();
    // `anywhere copy images --from FROM --to TO --insecure --list LIST`: (exit code, stdout, stderr).
    let copy = |to: &str| {
        let out = anywhere()
            .args([
                "copy",
                "images",
                "--from",
                &from,
                "--to",
                to,
                "--insecure",
                "--list",
            ])
            .arg(&list)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };

    let (code, stdout, stderr) = copy(&to);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("copied eks-anywhere/one:v1 sha256:"), "{stdout}");
    assert!(stdout.contains("copied eks-anywhere/two:v1 sha256:"), "{stdout}");
    assert!(stderr.contains("2 of 2 images copied"), "{stderr}");
    let inspect = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{to}/eks-anywhere/two:v1"),
        ])
        .output()
        .unwrap();
    assert!(inspect.status.success());

    // A missing image: the others are still copied, exit 1, the image is named.
    std::fs::write(&list, "eks-anywhere/one:v1\neks-anywhere/three:v1\n").unwrap();
    let (code, _, stderr) = copy(&to);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("eks-anywhere/three:v1") && stderr.contains("not found"),
        "{stderr}"
    );

    // Bad lines: every one named with FILE:LINE, nothing copied, exit 2.
    std::fs::write(&list, "ok/image:v1\nBad/Name:v1\nx@sha256:123\n").unwrap();
    let (code, _, stderr) = copy(&to);
    assert_eq!(code, Some(2), "{stderr}");
    let file = list.display().to_string();
    assert!(
        stderr.contains(&format!("{file}:2: ")) && stderr.contains(&format!("{file}:3: ")),
        "{stderr}"
    );

    // An unreachable destination: exit 2 naming it.
    std::fs::write(&list, "eks-anywhere/one:v1\n").unwrap();
    let (code, _, stderr) = copy("127.0.0.1:1");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("destination registry 127.0.0.1:1"), "{stderr}");
}

/// The quickstart spec as is, and with a registry mirror at `host` (`address:port`).
fn quickstart_with_mirror(host: &str) -> (String, String) {
    let (address, port) = host.split_once(':').unwrap();
    let quickstart =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart.yaml"))
            .unwrap();
    let spec = quickstart.replacen(
        "  kubernetesVersion:",
        &format!(
            "  registryMirrorConfiguration:\n    endpoint: {address}\n    port: \"{port}\"\n    insecureSkipVerify: true\n  kubernetesVersion:"
        ),
        1,
    );
    (quickstart, spec)
}

#[test]
fn check_images_lists_what_the_mirror_lacks_and_passes_once_it_is_there() {
    if !peers_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_mirror, host) = registry();
    let (quickstart, spec) = quickstart_with_mirror(&host);
    let file = work.path().join("cluster.yaml");
    std::fs::write(&file, spec).unwrap();
    let check = || {
        let out = Command::cargo_bin("anywhere")
            .unwrap()
            .args(["check-images", "-f"])
            .arg(&file)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, stdout, stderr) = check();
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let missing: Vec<&str> = stdout.lines().filter(|l| l.starts_with("missing  ")).collect();
    assert!(missing.len() > 10, "{stdout}");
    assert!(
        stderr.contains(&format!("0 of {} images", missing.len())),
        "{stderr}"
    );
    // Every image of public.ecr.aws maps into the mirror with its path.
    let first = missing[0].split_whitespace().nth(1).unwrap();
    let (repo_tag, uri) = (
        first.strip_prefix(&format!("{host}/")).unwrap(),
        missing[0].split("(for ").nth(1).unwrap(),
    );
    let upstream_path = uri.trim_end_matches(')').split_once('/').unwrap().1;
    assert_eq!(repo_tag, upstream_path, "{}", missing[0]);

    // Put that one image in the mirror: it is no longer listed.
    let (repo, tag) = repo_tag.rsplit_once(':').unwrap();
    seed(&host, repo, &work.path().join("seed"));
    let retag = Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false"])
        .arg(format!("docker://{host}/{repo}:v1"))
        .arg(format!("docker://{host}/{repo}:{tag}"))
        .status()
        .unwrap();
    assert!(retag.success());
    let (code, stdout, stderr) = check();
    assert_eq!(code, Some(1));
    let now: Vec<&str> = stdout.lines().filter(|l| l.starts_with("missing  ")).collect();
    assert_eq!(now.len(), missing.len() - 1, "{stdout}");
    assert!(!stdout.contains(first), "{stdout}");
    assert!(
        stderr.contains(&format!("1 of {} images", missing.len())),
        "{stderr}"
    );

    // Without a mirror in the spec: a clear error naming the field.
    std::fs::write(&file, &quickstart).unwrap();
    let (code, _, stderr) = check();
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("registryMirrorConfiguration is not set"),
        "{stderr}"
    );
}

#[test]
fn create_refuses_a_cluster_whose_mirror_lacks_images_before_applying_anything() {
    if !peers_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_mirror, host) = registry();
    let (_, spec) = quickstart_with_mirror(&host);
    let file = work.path().join("cluster.yaml");
    std::fs::write(&file, spec).unwrap();
    let create = |extra: &[&str]| {
        let out = Command::cargo_bin("anywhere")
            .unwrap()
            .current_dir(work.path())
            .env("ANYWHERE_SIMULATE_SPEED", "50")
            .args(["create", "cluster", "-f"])
            .arg(&file)
            .arg("--simulate")
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // The empty mirror: the preflight lists what is missing and nothing is created.
    let (code, stderr) = create(&[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("preflight: check-images") && stderr.contains("missing  "),
        "{stderr}"
    );
    assert!(
        stderr.contains("preflight failed: nothing was applied"),
        "{stderr}"
    );
    assert!(!work.path().join("quickstart").exists());
    // Skipping the checks (e.g. a mirror filled later): the create goes ahead.
    let (code, stderr) = create(&["--skip-validations", "check-images,check-egress"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("cluster quickstart created"), "{stderr}");
}

//! `anywhere download images` and `anywhere import images` end to end: the real binary against
//! Debian `docker-registry` instances on loopback, with skopeo as the cross-check in both
//! directions (skopeo reads our archive; we import skopeo's). An import killed with SIGKILL
//! midway resumes without sending the blobs that had arrived. Skips without the peers unless
//! `CI=true` (`.ci/install-registry-peers.sh` installs them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;

#[path = "support/registry.rs"]
mod support;
use support::{peers_available, registry, seed, seed_sized};

/// Runs `anywhere ARGS`: (exit code, stdout, stderr).
fn anywhere(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::cargo_bin("anywhere")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The digest skopeo sees for `image` (`docker://…` or `oci-archive:…`).
fn skopeo_digest(image: &str) -> String {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", image])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    anywhere_registry::digest_of(&out.stdout)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `anywhere download images -o ARCHIVE --from REGISTRY --insecure --list LIST`.
fn download_from(archive: &Path, from: &str, list: &Path) -> (Option<i32>, String, String) {
    anywhere(&[
        "download",
        "images",
        "-o",
        path(archive),
        "--from",
        from,
        "--insecure",
        "--list",
        path(list),
    ])
}

#[test]
fn download_then_import_preserves_digests_and_skopeo_agrees_both_ways() {
    if !peers_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_upstream, from) = registry();
    let (_mirror, to) = registry();
    let one = seed(&from, "eks-anywhere/one", &work.path().join("one"));
    let two = seed(&from, "eks-distro/kubernetes/two", &work.path().join("two"));
    let list = work.path().join("images.txt");
    std::fs::write(
        &list,
        "public.ecr.aws/eks-anywhere/one:v1\npublic.ecr.aws/eks-distro/kubernetes/two:v1\n",
    )
    .unwrap();
    let archive = work.path().join("images.tar");

    // One image missing upstream: exit 1, no archive, what arrived is kept for the re-run.
    let with_missing = work.path().join("with-missing.txt");
    std::fs::write(
        &with_missing,
        "public.ecr.aws/eks-anywhere/one:v1\npublic.ecr.aws/eks-anywhere/absent:v9\n",
    )
    .unwrap();
    let (code, _, stderr) = download_from(&archive, &from, &with_missing);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("eks-anywhere/absent:v9") && stderr.contains("not found"),
        "{stderr}"
    );
    assert!(!archive.exists());
    assert!(
        work.path()
            .join("images.tar.parts/blobs/sha256")
            .read_dir()
            .unwrap()
            .count()
            >= 3
    );

    let (code, stdout, stderr) = download_from(&archive, &from, &list);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("resuming the download"), "{stderr}");
    assert!(
        stdout.contains(&format!("downloaded public.ecr.aws/eks-anywhere/one:v1 {one}")),
        "{stdout}"
    );
    assert!(stderr.contains("2 images (6 blobs"), "{stderr}");
    assert!(
        !work.path().join("images.tar.parts").exists(),
        "staging directory left behind"
    );

    // skopeo reads our archive: same digests as upstream.
    assert_eq!(
        skopeo_digest(&format!("oci-archive:{}:eks-anywhere/one:v1", archive.display())),
        one
    );
    assert_eq!(
        skopeo_digest(&format!(
            "oci-archive:{}:eks-distro/kubernetes/two:v1",
            archive.display()
        )),
        two
    );

    let (code, stdout, stderr) =
        anywhere(&["import", "images", "-i", path(&archive), "-r", &to, "--insecure"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("2 of 2 images imported"), "{stderr}");
    assert!(stderr.contains("4 blobs sent"), "{stderr}");
    assert_eq!(skopeo_digest(&format!("docker://{to}/eks-anywhere/one:v1")), one);
    assert_eq!(
        skopeo_digest(&format!("docker://{to}/eks-distro/kubernetes/two:v1")),
        two
    );

    // A second import sends nothing.
    let (code, _, stderr) = anywhere(&["import", "images", "-i", path(&archive), "-r", &to, "--insecure"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("0 blobs sent (0 MB), 4 already there"),
        "{stderr}"
    );

    // Into a namespace of the mirror (as for `ociNamespaces`).
    let (code, _, stderr) = anywhere(&[
        "import",
        "images",
        "-i",
        path(&archive),
        "-r",
        &format!("{to}/curated"),
        "--insecure",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        skopeo_digest(&format!("docker://{to}/curated/eks-anywhere/one:v1")),
        one
    );

    // The other way round: an archive written by skopeo imports with its digest.
    let theirs = work.path().join("skopeo.tar");
    let status = Command::new("skopeo")
        .args(["copy", "-q", "--preserve-digests", "--src-tls-verify=false"])
        .arg(format!("docker://{from}/eks-anywhere/one:v1"))
        .arg(format!("oci-archive:{}:eks-anywhere/three:v3", theirs.display()))
        .status()
        .unwrap();
    assert!(status.success());
    let (code, stdout, stderr) =
        anywhere(&["import", "images", "-i", path(&theirs), "-r", &to, "--insecure"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        skopeo_digest(&format!("docker://{to}/eks-anywhere/three:v3")),
        one
    );
}

#[test]
fn an_import_killed_midway_resumes_without_resending_finished_blobs() {
    if !peers_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_upstream, from) = registry();
    let (_mirror, to) = registry();
    // Eight images of ~4 MB each.
    let mut digests = Vec::new();
    let mut list = String::new();
    for n in 0..8 {
        let repo = format!("eks-anywhere/big{n}");
        digests.push((
            repo.clone(),
            seed_sized(&from, &repo, &work.path().join(&repo), 200_000),
        ));
        list.push_str(&format!("{repo}:v1\n"));
    }
    std::fs::write(work.path().join("list"), list).unwrap();
    let archive = work.path().join("images.tar");
    let (code, _, stderr) = download_from(&archive, &from, &work.path().join("list"));
    assert_eq!(code, Some(0), "{stderr}");

    // First import, one blob at a time, killed with SIGKILL as soon as one image is in.
    let mut child = Command::cargo_bin("anywhere")
        .unwrap()
        .args([
            "import",
            "images",
            "-i",
            path(&archive),
            "-r",
            &to,
            "--insecure",
            "--parallel",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the import finished before it was killed: {first}"
    );
    assert!(first.starts_with("imported "), "{first}");

    // The re-run sends only what had not arrived, and every image is complete.
    let (code, stdout, stderr) =
        anywhere(&["import", "images", "-i", path(&archive), "-r", &to, "--insecure"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let sent: usize = stderr
        .split(" blobs sent")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no blob count in {stderr}"));
    assert!(sent < 16, "re-sent everything after the kill: {stderr}");
    let resumed = first
        .split_whitespace()
        .nth(1)
        .unwrap()
        .split_once('/')
        .unwrap()
        .1;
    assert!(
        stdout.contains(&format!("{resumed} ")) && stdout.contains("(0 blobs sent, 2 already there)"),
        "{stdout}"
    );
    for (repo, digest) in &digests {
        assert_eq!(&skopeo_digest(&format!("docker://{to}/{repo}:v1")), digest);
    }
}

#[test]
fn bad_archives_and_unreachable_registries_are_clear_errors() {
    let work = tempfile::tempdir().unwrap();
    let junk = work.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar at all, just some words").unwrap();
    let (code, _, stderr) = anywhere(&["import", "images", "-i", path(&junk), "-r", "127.0.0.1:1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&junk.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("not an OCI image archive") || stderr.contains("tar"),
        "{stderr}"
    );

    let missing = work.path().join("missing.tar");
    let (code, _, stderr) = anywhere(&["import", "images", "-i", path(&missing), "-r", "127.0.0.1:1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");

    // A list naming an image without a host, and no --from: exit 2, line named.
    let list = work.path().join("list");
    std::fs::write(&list, "eks-anywhere/one:v1\n").unwrap();
    let (code, _, stderr) = anywhere(&[
        "download",
        "images",
        "-o",
        path(&work.path().join("o.tar")),
        "--list",
        path(&list),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:1", list.display())) && stderr.contains("--from"),
        "{stderr}"
    );
}

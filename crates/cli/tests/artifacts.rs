//! `anywhere download artifacts` end to end, offline: the embedded catalog's Bundles with every
//! URL pointed at a small HTTP server on loopback (EKS-D release manifests served from the
//! catalog's own data, other manifests generated). The packed catalog is then used with
//! `--bundles-override` and no network at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::cargo::CommandCargoExt;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog/data")
}

/// Serves `GET /<path>`: EKS-D releases from the catalog data, a generated YAML document for
/// other `.yaml` paths, 404 for paths containing `missing`. Counts requests.
fn serve() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            reader.read_line(&mut line).unwrap();
            while {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap() > 2
            } {}
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let file = path.rsplit('/').next().unwrap().to_string();
            let eksd = data().join("eks-d").join(&file);
            let (status, body) = if path.contains("missing") {
                ("404 Not Found", b"no".to_vec())
            } else if path.contains("kubernetes-1-") && eksd.exists() {
                ("200 OK", std::fs::read(eksd).unwrap())
            } else {
                ("200 OK", format!("kind: Served\npath: {path}\n").into_bytes())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    (base, count)
}

fn anywhere(args: &[&str], dir: &Path) -> (Option<i32>, String, String) {
    let out = Command::cargo_bin("anywhere")
        .unwrap()
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn download_artifacts_packs_every_manifest_and_a_catalog_usable_offline() {
    let work = tempfile::tempdir().unwrap();
    let (base, requests) = serve();
    let bundles = std::fs::read_to_string(data().join("bundles.yaml"))
        .unwrap()
        .replace("https://anywhere-assets.eks.amazonaws.com/", &base)
        .replace("https://distro.eks.amazonaws.com/", &base);
    let over = work.path().join("bundles.yaml");
    // One manifest that does not exist: exit 1, the rest kept for the re-run.
    std::fs::write(&over, bundles.replacen("metadata.yaml", "missing.yaml", 1)).unwrap();
    let (code, _, stderr) = anywhere(
        &["download", "artifacts", "--bundles-override", "bundles.yaml"],
        work.path(),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("missing.yaml") && stderr.contains("404"),
        "{stderr}"
    );
    assert!(work.path().join("eks-anywhere-downloads").is_dir());
    let first = requests.load(Ordering::SeqCst);

    std::fs::write(&over, &bundles).unwrap();
    let (code, _, stderr) = anywhere(
        &["download", "artifacts", "--bundles-override", "bundles.yaml"],
        work.path(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    // Only the missing one(s) fetched again: every version's copy of that URL.
    let again = requests.load(Ordering::SeqCst) - first;
    assert!(again < first / 4, "re-run fetched {again} of {first}");
    assert!(!work.path().join("eks-anywhere-downloads").exists());
    let archive = work.path().join("eks-anywhere-downloads.tar.gz");
    assert!(archive.exists(), "{stderr}");

    // Unpack it and use the rewritten catalog with no server at all.
    let status = Command::new("tar")
        .args(["xzf", "eks-anywhere-downloads.tar.gz"])
        .current_dir(work.path())
        .status()
        .unwrap();
    assert!(status.success());
    let catalog = work.path().join("eks-anywhere-downloads/bundle-release.yaml");
    let rewritten = std::fs::read_to_string(&catalog).unwrap();
    // Archives (OS images, tool tarballs) stay URLs, as in EKS-A; no manifest URL is left.
    let left: Vec<&str> = rewritten
        .lines()
        .filter(|l| l.contains(&base) && l.trim_end().ends_with(".yaml"))
        .collect();
    assert!(left.is_empty(), "manifest URLs left: {left:?}");
    assert!(
        rewritten.contains("1.31/eksD/kubernetes-1-31-eks-39.yaml"),
        "no local EKS-D path"
    );
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart.yaml");
    let (code, stdout, stderr) = anywhere(
        &[
            "generate",
            "manifests",
            "-f",
            spec.to_str().unwrap(),
            "--bundles-override",
            catalog.to_str().unwrap(),
        ],
        work.path(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("kind: KubeadmControlPlane"), "{stdout}");
}

#[test]
fn dry_run_lists_the_manifests_without_fetching() {
    let work = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = anywhere(&["download", "artifacts", "--dry-run"], work.path());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("https://distro.eks.amazonaws.com/"), "{stdout}");
    assert!(stdout.contains("/eksD/"), "{stdout}");
    assert!(
        stdout
            .lines()
            .all(|l| l.contains("  ->  eks-anywhere-downloads/")),
        "{stdout}"
    );
    assert!(!work.path().join("eks-anywhere-downloads").exists());
}

//! `anywhere copy images` end to end: the real binary between two Debian `docker-registry`
//! instances on loopback, seeded by skopeo. Skips without the peers unless `CI=true`
//! (`.ci/install-registry-peers.sh` installs them). The library's own peer tests
//! (crates/registry/tests/peers.rs) cover TLS, auth, indexes and blob sharing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;

/// The registry process and its storage (kept until the process is gone).
struct Peer(Child, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn registry() -> (Peer, String) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error, accesslog: {{disabled: true}}}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let host = format!("127.0.0.1:{port}");
    for _ in 0..200 {
        if std::net::TcpStream::connect(&host).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (Peer(child, dir), host)
}

fn sha256(data: &[u8]) -> String {
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// One image (a layer and a config) in an OCI layout, pushed to `host` as `repo:v1` by skopeo.
fn seed(host: &str, repo: &str, dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let hex = sha256(data);
        std::fs::write(blobs.join(&hex), data).unwrap();
        (format!("sha256:{hex}"), data.len())
    };
    let (layer, layer_size) = put(format!("layer of {repo}").repeat(4096).as_bytes());
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
    );
    let (config, config_size) = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
    );
    let (manifest, manifest_size) = put(manifest.as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest}","size":{manifest_size},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#
        ),
    )
    .unwrap();
    let status = Command::new("skopeo")
        .args(["copy", "-q", "--preserve-digests", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v1", dir.display()))
        .arg(format!("docker://{host}/{repo}:v1"))
        .status()
        .unwrap();
    assert!(status.success());
}

fn peers_available() -> bool {
    let have = |c: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .status()
            .is_ok_and(|s| s.success())
    };
    if have("docker-registry") && have("skopeo") {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "docker-registry and skopeo are needed: CI must run this test"
    );
    eprintln!("skipping: needs docker-registry and skopeo");
    false
}

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

#[test]
fn check_images_lists_what_the_mirror_lacks_and_passes_once_it_is_there() {
    if !peers_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_mirror, host) = registry();
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

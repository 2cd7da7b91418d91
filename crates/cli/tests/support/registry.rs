//! Shared by the CLI's registry tests: a Debian `docker-registry` on loopback and images seeded
//! into it with skopeo.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

/// The registry process and its storage (kept until the process is gone).
pub struct Peer(Child, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn registry() -> (Peer, String) {
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
    anywhere_registry::digest_of(data)["sha256:".len()..].to_string()
}

/// One small image (a layer and a config) in an OCI layout, pushed to `host` as `repo:v1` by
/// skopeo.
pub fn seed(host: &str, repo: &str, dir: &Path) -> String {
    seed_sized(host, repo, dir, 4096)
}

/// [`seed`] with a layer of `repeats` copies of a line naming the repository; returns the
/// manifest digest.
pub fn seed_sized(host: &str, repo: &str, dir: &Path, repeats: usize) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let hex = sha256(data);
        std::fs::write(blobs.join(&hex), data).unwrap();
        (format!("sha256:{hex}"), data.len())
    };
    let (layer, layer_size) = put(format!("layer of {repo}").repeat(repeats).as_bytes());
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
    manifest
}

pub fn peers_available() -> bool {
    let have = |c: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {c} >/dev/null")])
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

//! Image copy against real peers: two Debian `docker-registry` (CNCF distribution) instances on
//! loopback, one with TLS and basic auth, and `skopeo` as the cross-check (it seeds the source
//! from an OCI layout this test writes, and reads back what we copied, digests compared).
//! Without the peers the tests skip with a message, except under `CI=true` (CI installs them:
//! `.ci/install-registry-peers.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use anywhere_registry::{ClientConfig, Copier, Error, ImageRef, Registry, digest_of};

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn prerequisites(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("needs {}", missing.join(", "));
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why}: CI must run this test"
    );
    eprintln!("skipping: {why} (apt-get install docker-registry skopeo openssl apache2-utils)");
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A docker-registry process, killed on drop.
struct Peer {
    child: Child,
    host: String,
    _dir: tempfile::TempDir,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a registry; `tls` = (cert, key, htpasswd) for TLS + basic auth.
fn start_registry(tls: Option<(&Path, &Path, &Path)>) -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut config = format!(
        "version: 0.1\nlog: {{level: error, accesslog: {{disabled: true}}}}\n\
         storage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\n\
         http: {{addr: 127.0.0.1:{port}",
        dir.path().join("data").display()
    );
    if let Some((cert, key, htpasswd)) = tls {
        config.push_str(&format!(
            ", tls: {{certificate: {}, key: {}}}}}\nauth: {{htpasswd: {{realm: test, path: {}}}}}\n",
            cert.display(),
            key.display(),
            htpasswd.display()
        ));
    } else {
        config.push_str("}\n");
    }
    let path = dir.path().join("config.yml");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
        .spawn()
        .expect("start docker-registry");
    let host = format!("127.0.0.1:{port}");
    for _ in 0..200 {
        if std::net::TcpStream::connect(&host).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Peer {
        child,
        host,
        _dir: dir,
    }
}

/// Writes an OCI layout holding `images` (tag → layer contents) into `dir`, plus an index
/// `multi` listing the first two images as two platforms.
fn write_layout(dir: &Path, images: &[(&str, Vec<Vec<u8>>)]) -> Vec<(String, String)> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| -> String {
        let digest = digest_of(data);
        std::fs::write(blobs.join(&digest["sha256:".len()..]), data).unwrap();
        digest
    };
    let mut index = Vec::new();
    let mut manifests = Vec::new();
    for (tag, layers) in images {
        let layer_descs: Vec<serde_json::Value> = layers
            .iter()
            .map(|l| {
                serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": put(l), "size": l.len()})
            })
            .collect();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": layer_descs.iter().map(|d| d["digest"].clone()).collect::<Vec<_>>()},
            "config": {"Labels": {"image": tag}}
        }))
        .unwrap();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(&config), "size": config.len()},
            "layers": layer_descs,
        }))
        .unwrap();
        let digest = put(&manifest);
        manifests.push((tag.to_string(), digest.clone()));
        index.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }));
    }
    let multi = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": index[0]["digest"], "size": index[0]["size"], "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": index[1]["digest"], "size": index[1]["size"], "platform": {"architecture": "arm64", "os": "linux"}},
        ]
    }))
    .unwrap();
    let multi_digest = put(&multi);
    index.push(serde_json::json!({
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": multi_digest, "size": multi.len(),
        "annotations": {"org.opencontainers.image.ref.name": "multi"}
    }));
    manifests.push(("multi".to_string(), multi_digest));
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": index})).unwrap(),
    )
    .unwrap();
    manifests
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo").args(args).output().expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn random(n: usize, seed: u64) -> Vec<u8> {
    // xorshift: incompressible enough, reproducible.
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Seeds `registry` with: `app/one:v1` and `app/two:v1` (sharing a base layer), and the index
/// `app/one:multi`. Returns tag → manifest digest.
fn seed(registry: &str, work: &Path) -> Vec<(String, String)> {
    let layout = work.join("layout");
    let base = random(3 << 20, 1);
    let images = write_layout(
        &layout,
        &[
            ("one", vec![base.clone(), random(1 << 20, 2)]),
            ("two", vec![base, random(512 << 10, 3)]),
        ],
    );
    let src = |tag: &str| format!("oci:{}:{tag}", layout.display());
    skopeo(&[
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &src("one"),
        &format!("docker://{registry}/app/one:v1"),
    ]);
    skopeo(&[
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &src("two"),
        &format!("docker://{registry}/app/two:v1"),
    ]);
    skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &src("multi"),
        &format!("docker://{registry}/app/one:multi"),
    ]);
    images
}

fn insecure() -> ClientConfig {
    ClientConfig {
        insecure: true,
        ..ClientConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_preserves_digests_shares_blobs_and_skopeo_agrees() {
    if !prerequisites(&["docker-registry", "skopeo"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let a = start_registry(None);
    let b = start_registry(None);
    let digests = seed(&a.host, work.path());
    let list = anywhere_registry::parse_list("app/one:v1\napp/two:v1\napp/one:multi\n", "list").unwrap();

    let copier = Copier::new(
        Registry::new(&a.host, &insecure()).await.unwrap(),
        Registry::new(&b.host, &insecure()).await.unwrap(),
        4,
    );
    let report = copier.copy_all(&list).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.copied.len(), 3);
    // Every byte went once: the base layer is mounted into app/two, the index's images are
    // already there.
    let sent: usize = report.copied.iter().map(|c| c.blobs_copied).sum();
    let shared: usize = report
        .copied
        .iter()
        .map(|c| c.blobs_mounted + c.blobs_present)
        .sum();
    assert_eq!(sent, 5, "{report:?}"); // base, one's top layer, two's top layer, two configs
    assert!(shared >= 1, "{report:?}");

    // skopeo reads the copies with the source's digests.
    for (tag, repo) in [("v1", "app/one"), ("v1", "app/two"), ("multi", "app/one")] {
        let raw_a = skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/{repo}:{tag}", a.host),
        ]);
        let raw_b = skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/{repo}:{tag}", b.host),
        ]);
        assert_eq!(
            digest_of(raw_a.as_bytes()),
            digest_of(raw_b.as_bytes()),
            "{repo}:{tag}"
        );
    }
    let multi = &digests.iter().find(|(t, _)| t == "multi").unwrap().1;
    assert_eq!(report.copied[2].digest, *multi);
    // skopeo can pull everything back out of the destination (all blobs present and valid).
    let out = work.path().join("back");
    skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{}/app/one:multi", b.host),
        &format!("oci:{}:multi", out.display()),
    ]);

    // A second run sends nothing.
    let again = copier.copy_all(&list).await;
    assert!(again.failed.is_empty());
    assert_eq!(again.copied.iter().map(|c| c.blobs_copied).sum::<usize>(), 0);

    // By digest, and a missing image fails alone with a clear error.
    let by_digest = ImageRef::parse(&format!("app/two@{}", digests[1].1), "t").unwrap();
    let missing = ImageRef::parse("app/nope:v9", "t").unwrap();
    let report = copier.copy_all(&[by_digest, missing]).await;
    assert_eq!(report.copied.len(), 1);
    assert_eq!(report.failed.len(), 1);
    assert!(
        matches!(report.failed[0].1, Error::NotFound { .. }),
        "{:?}",
        report.failed
    );
    assert!(report.failed[0].1.to_string().contains("app/nope:v9"));
}

/// A throwaway CA and a server certificate for 127.0.0.1, and an htpasswd file for `user`.
fn tls_material(dir: &Path, password: &str) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let run = |cmd: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.crt 2>/dev/null",
    );
    run(
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null",
    );
    run(
        "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt 2>/dev/null",
    );
    run(&format!("htpasswd -Bbn user '{password}' > htpasswd"));
    (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
        dir.join("htpasswd"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_basic_auth_works_and_a_wrong_password_is_a_clear_error_without_the_secret() {
    if !prerequisites(&["docker-registry", "skopeo", "openssl", "htpasswd"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let password = "s3cret-Pa55word";
    let (ca, cert, key, htpasswd) = tls_material(work.path(), password);
    let plain = start_registry(None);
    let secure = start_registry(Some((&cert, &key, &htpasswd)));
    seed(&plain.host, work.path());

    let good = ClientConfig {
        ca_file: Some(ca.clone()),
        username: Some("user".into()),
        password: Some(password.into()),
        ..ClientConfig::default()
    };
    let copier = Copier::new(
        Registry::new(&plain.host, &insecure()).await.unwrap(),
        Registry::new(&secure.host, &good).await.unwrap(),
        4,
    );
    let list = anywhere_registry::parse_list("app/one:v1\n", "list").unwrap();
    let report = copier.copy_all(&list).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    // skopeo, with the same CA and credentials, reads it back.
    let certs = work.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(&ca, certs.join("ca.crt")).unwrap();
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--cert-dir",
        certs.to_str().unwrap(),
        "--creds",
        &format!("user:{password}"),
        &format!("docker://{}/app/one:v1", secure.host),
    ]);
    assert_eq!(digest_of(raw.as_bytes()), report.copied[0].digest);

    // Wrong password: a clear error, and the secret appears nowhere in it.
    let wrong = ClientConfig {
        password: Some("not-the-Pa55word".into()),
        ..good.clone()
    };
    let err = Registry::new(&secure.host, &wrong).await.unwrap_err();
    let text = format!("{err} {err:?} {wrong:?}");
    assert!(matches!(err, Error::Unauthorized { status: 401, .. }), "{text}");
    assert!(text.contains("check the username and password"), "{text}");
    assert!(
        !text.contains("not-the-Pa55word") && !text.contains(password),
        "{text}"
    );
    // Without our CA the certificate is refused.
    let no_ca = ClientConfig {
        ca_file: None,
        ..good
    };
    let err = Registry::new(&secure.host, &no_ca).await.unwrap_err().to_string();
    assert!(
        err.contains("certificate") || err.contains("Unknown") || err.contains("invalid"),
        "{err}"
    );
}

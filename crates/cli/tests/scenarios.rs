//! Cluster lifecycle scenarios with the real `anywhere` binary and controller against the
//! simulated management plane (`--simulate`: the in-memory API server and the Cluster API
//! simulator, state in the cluster folder): create → upgrade (Kubernetes minor, scale up, scale
//! down) → delete for every provider; `kill -9` at every step of create and of an upgrade, then
//! resume; an injected machine failure gives a clear error and the re-run finishes.
//!
//! After each command the test opens the persisted management store itself and checks the
//! objects: the right number of machines at the right version, no duplicates, conditions.
//!
//! With `ANYWHERE_TEST_KUBECONFIG` naming a real management cluster (with Cluster API and the
//! providers installed), the Docker scenario runs there instead: `anywhere controller` is started
//! against it and the commands get `--kubeconfig`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anywhere_apiserver::{Gvr, ListRequest, Store};
use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

const SPEED: &str = "50";

fn anywhere(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("anywhere").unwrap();
    c.current_dir(dir)
        .env("ANYWHERE_SIMULATE_SPEED", SPEED)
        .env("EKSA_VSPHERE_USERNAME", "user")
        .env("EKSA_VSPHERE_PASSWORD", "secret")
        .env("EKSA_NUTANIX_USERNAME", "user")
        .env("EKSA_NUTANIX_PASSWORD", "secret")
        .env("EKSA_CLOUDSTACK_B64ENCODED_SECRET", "Cg==")
        .env_remove("ANYWHERE_SIMULATE_FAULTS");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    anywhere(dir).args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "exit {:?}:\n{text}", out.status.code());
    text
}

/// The sample spec of a provider, with a Kubernetes version and worker count.
fn spec(dir: &Path, provider: &str, name: &str, version: &str, workers: u32) -> PathBuf {
    let out = ok(&run(
        dir,
        &["generate", "clusterconfig", "--provider", provider, name],
    ));
    let sample: String = out.lines().map(|l| format!("{l}\n")).collect();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&sample).unwrap();
    let mut text = String::new();
    for mut doc in docs {
        // Tinkerbell's OS image URL names the Kubernetes version it carries.
        if let Some(url) = doc["spec"]["osImageURL"].as_str() {
            doc["spec"]["osImageURL"] = url.replace("1-36", &version.replace('.', "-")).into();
        }
        if doc["kind"] == "Cluster" {
            doc["spec"]["kubernetesVersion"] = Value::String(version.into());
            doc["spec"]["workerNodeGroupConfigurations"][0]["count"] = workers.into();
            // One machine each keeps the census simple: (control plane, workers, etcd).
            doc["spec"]["controlPlaneConfiguration"]["count"] = 1.into();
            if doc["spec"].get("externalEtcdConfiguration").is_some() {
                doc["spec"]["externalEtcdConfiguration"]["count"] = 1.into();
            }
        }
        text.push_str("---\n");
        text.push_str(&serde_saphyr::to_string(&doc).unwrap());
    }
    let path = dir.join(format!("{name}-{version}-{workers}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The persisted management store of a simulated cluster (opened after the command exited).
fn store(dir: &Path, name: &str) -> Store {
    Store::open(dir.join(name).join("generated/simulate/management")).unwrap()
}

fn list(store: &Store, gvr: Gvr, namespace: &str) -> Vec<Value> {
    let list = store
        .list(&ListRequest {
            gvr,
            namespace: Some(namespace.into()),
            ..ListRequest::default()
        })
        .unwrap();
    (0..list.items.len()).map(|i| list.item(i)).collect()
}

fn machines(store: &Store) -> Vec<Value> {
    list(
        store,
        Gvr::new("cluster.x-k8s.io", "v1beta2", "machines"),
        "eksa-system",
    )
}

/// (control-plane, worker, etcd) machine counts, and every machine's version.
fn census(store: &Store) -> ((usize, usize, usize), Vec<String>) {
    let ms = machines(store);
    let has = |m: &Value, label: &str| m["metadata"]["labels"].get(label).is_some();
    let cp = ms
        .iter()
        .filter(|m| has(m, "cluster.x-k8s.io/control-plane"))
        .count();
    let workers = ms
        .iter()
        .filter(|m| has(m, "cluster.x-k8s.io/deployment-name"))
        .count();
    let etcd = ms.len() - cp - workers;
    let versions = ms
        .iter()
        .filter_map(|m| m["spec"]["version"].as_str().map(str::to_string))
        .collect();
    ((cp, workers, etcd), versions)
}

fn ready(store: &Store, name: &str) -> bool {
    let clusters = list(
        store,
        Gvr::new("anywhere.eks.amazonaws.com", "v1alpha1", "clusters"),
        "default",
    );
    clusters.iter().any(|c| {
        c["metadata"]["name"] == name
            && c["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
    })
}

fn lifecycle(provider: &str, etcd: usize) {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let name = format!("s-{provider}");
    let v1 = spec(dir, provider, &name, "1.35", 1);
    let text = ok(&run(
        dir,
        &["create", "cluster", "-f", v1.to_str().unwrap(), "--simulate"],
    ));
    assert!(text.contains(&format!("cluster {name} created")), "{text}");
    let kubeconfig = dir.join(&name).join(format!("{name}-eks-a-cluster.kubeconfig"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "kubeconfig mode");
    }
    {
        let s = store(dir, &name);
        assert!(ready(&s, &name));
        let (counts, versions) = census(&s);
        assert_eq!(counts, (1, 1, etcd), "{provider}");
        assert!(versions.iter().all(|v| v.starts_with("v1.35")), "{versions:?}");
    }

    // Plan, then upgrade the minor version (EKS-A refuses scaling in the same change).
    let v2 = spec(dir, provider, &name, "1.36", 1);
    let plan = ok(&run(
        dir,
        &[
            "upgrade",
            "plan",
            "cluster",
            "-f",
            v2.to_str().unwrap(),
            "-o",
            "json",
        ],
    ));
    let plan: Value = serde_json::from_str(
        plan.lines()
            .take_while(|l| !l.starts_with("error"))
            .collect::<Vec<_>>()
            .join("\n")
            .trim(),
    )
    .unwrap_or_else(|e| panic!("{e}: {plan}"));
    let phases: Vec<&str> = plan["rollouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["phase"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = if etcd > 0 {
        vec!["external etcd", "control plane", "workers md-0"]
    } else {
        vec!["control plane", "workers md-0"]
    };
    assert_eq!(phases, expected, "{plan}");
    assert!(plan["estimated_seconds"].as_u64().unwrap() > 0);
    ok(&run(dir, &["upgrade", "cluster", "-f", v2.to_str().unwrap()]));
    {
        let s = store(dir, &name);
        assert!(ready(&s, &name));
        let (counts, versions) = census(&s);
        assert_eq!(counts, (1, 1, etcd), "{provider} after upgrade");
        assert!(versions.iter().all(|v| v.starts_with("v1.36")), "{versions:?}");
    }

    // Scale workers up, then down.
    let up = spec(dir, provider, &name, "1.36", 2);
    ok(&run(dir, &["upgrade", "cluster", "-f", up.to_str().unwrap()]));
    assert_eq!(
        census(&store(dir, &name)).0,
        (1, 2, etcd),
        "{provider} after scale up"
    );
    let v3 = spec(dir, provider, &name, "1.36", 1);
    ok(&run(dir, &["upgrade", "cluster", "-f", v3.to_str().unwrap()]));
    {
        let s = store(dir, &name);
        assert_eq!(census(&s).0, (1, 1, etcd), "{provider} after scale down");
    }

    // Delete by name: the folder goes with the cluster.
    let text = ok(&run(dir, &["delete", "cluster", &name]));
    assert!(text.contains(&format!("cluster {name} deleted")), "{text}");
    assert!(!dir.join(&name).exists());
}

#[test]
fn docker_create_upgrade_scale_delete() {
    lifecycle("docker", 1);
}

#[test]
fn vsphere_create_upgrade_scale_delete() {
    lifecycle("vsphere", 1);
}

#[test]
fn tinkerbell_create_upgrade_scale_delete() {
    lifecycle("tinkerbell", 0);
}

#[test]
fn nutanix_create_upgrade_scale_delete() {
    lifecycle("nutanix", 1);
}

#[test]
fn cloudstack_create_upgrade_scale_delete() {
    lifecycle("cloudstack", 1);
}

#[test]
fn snow_create_upgrade_scale_delete() {
    lifecycle("snow", 1);
}

/// Starts `args`, kills it with SIGKILL when a stdout line starts with `marker`; returns whether
/// the marker was seen before the command ended by itself.
fn kill_at(dir: &Path, args: &[&str], marker: &str) -> bool {
    let mut child = anywhere(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut seen = false;
    for line in std::io::BufReader::new(stdout).lines() {
        if line.unwrap().starts_with(marker) {
            seen = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    seen
}

#[test]
fn create_killed_after_every_step_resumes_with_nothing_lost_or_done_twice() {
    let steps = ["apply-spec", "control-plane", "kubeconfig", "cni", "workers"];
    for (i, step) in steps.iter().enumerate() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        let path = spec(dir, "docker", "kill", "1.36", 2);
        let file = path.to_str().unwrap();
        let marker = format!("step {}/6 {step} done", i + 1);
        assert!(
            kill_at(dir, &["create", "cluster", "-f", file, "--simulate"], &marker),
            "{marker}"
        );
        let text = ok(&run(dir, &["create", "cluster", "-f", file, "--simulate"]));
        // Steps done before the kill are not done again.
        for done in &steps[..=i] {
            assert!(
                text.contains(&format!("{done}: done by an earlier run")),
                "after {step}: {text}"
            );
        }
        let s = store(dir, "kill");
        assert!(ready(&s, "kill"));
        assert_eq!(census(&s).0, (1, 2, 1), "machines after a kill at {step}");
        let kcps = list(
            &s,
            Gvr::new("controlplane.cluster.x-k8s.io", "v1beta2", "kubeadmcontrolplanes"),
            "eksa-system",
        );
        assert_eq!(kcps.len(), 1);
    }
}

#[test]
fn create_and_upgrade_killed_mid_step_resume() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let v1 = spec(dir, "docker", "mid", "1.35", 1);
    // Killed while waiting for the control plane (right after the spec was applied).
    assert!(kill_at(
        dir,
        &["create", "cluster", "-f", v1.to_str().unwrap(), "--simulate"],
        "step 1/6"
    ));
    ok(&run(
        dir,
        &["create", "cluster", "-f", v1.to_str().unwrap(), "--simulate"],
    ));
    // An upgrade killed while the control plane rolls, then resumed.
    let v2 = spec(dir, "docker", "mid", "1.36", 2);
    assert!(kill_at(
        dir,
        &["upgrade", "cluster", "-f", v2.to_str().unwrap()],
        "step 1/5"
    ));
    // A different operation cannot start over an interrupted one.
    let other = run(dir, &["delete", "cluster", "mid"]);
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("interrupted upgrade of cluster mid"), "{err}");
    let text = ok(&run(dir, &["upgrade", "cluster", "-f", v2.to_str().unwrap()]));
    assert!(text.contains("apply-spec: done by an earlier run"), "{text}");
    let s = store(dir, "mid");
    let (counts, versions) = census(&s);
    assert_eq!(counts, (1, 2, 1));
    assert!(versions.iter().all(|v| v.starts_with("v1.36")), "{versions:?}");
}

#[test]
fn an_injected_machine_failure_is_a_clear_error_and_the_rerun_finishes() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let path = spec(dir, "docker", "fault", "1.36", 1);
    let file = path.to_str().unwrap();
    let out = anywhere(dir)
        .args(["create", "cluster", "-f", file, "--simulate"])
        .env(
            "ANYWHERE_SIMULATE_FAULTS",
            "fault-md-0:provision-fail=OutOfCapacity",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("step workers")
            && err.contains("fault-md-0")
            && err.contains("OutOfCapacity")
            && err.contains("re-run"),
        "{err}"
    );
    // The cause is gone: the re-run replaces the failed machine and finishes.
    // (The failed machine is replaced if it is still Failed when the command resumes.)
    ok(&run(dir, &["create", "cluster", "-f", file, "--simulate"]));
    let s = store(dir, "fault");
    assert!(ready(&s, "fault"));
    assert_eq!(census(&s).0, (1, 1, 1));
    assert!(machines(&s).iter().all(|m| m["status"]["phase"] == "Running"));
}

#[test]
fn bad_input_and_missing_management_plane_are_clear_errors() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let path = spec(dir, "docker", "bad", "1.36", 1);
    // No --simulate, no --kubeconfig: says what to do.
    let out = run(dir, &["create", "cluster", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--simulate") && err.contains("--kubeconfig"),
        "{err}"
    );
    // An invalid spec: the field is named, nothing is created.
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("count: 1", "count: -1"),
    )
    .unwrap();
    let out = run(
        dir,
        &["create", "cluster", "-f", bad.to_str().unwrap(), "--simulate"],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("count"), "{text}");
    assert!(!dir.join("bad").exists());
    // Upgrading a cluster that does not exist.
    let out = run(dir, &["upgrade", "cluster", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no management plane"));
}

#[test]
fn pause_stops_an_upgrade_until_resume() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let v1 = spec(dir, "docker", "pause", "1.35", 1);
    ok(&run(
        dir,
        &["create", "cluster", "-f", v1.to_str().unwrap(), "--simulate"],
    ));
    ok(&run(dir, &["pause", "cluster", "pause"]));
    let v2 = spec(dir, "docker", "pause", "1.36", 1);
    let out = run(
        dir,
        &["upgrade", "cluster", "-f", v2.to_str().unwrap(), "--timeout", "3"],
    );
    assert_eq!(out.status.code(), Some(2), "a paused cluster must not upgrade");
    {
        let s = store(dir, "pause");
        let (_, versions) = census(&s);
        assert!(
            versions.iter().all(|v| v.starts_with("v1.35")),
            "changed while paused: {versions:?}"
        );
    }
    ok(&run(dir, &["resume", "cluster", "pause"]));
    ok(&run(dir, &["upgrade", "cluster", "-f", v2.to_str().unwrap()]));
    let s = store(dir, "pause");
    assert!(census(&s).1.iter().all(|v| v.starts_with("v1.36")));
}

/// The Docker lifecycle against a real management cluster, when `ANYWHERE_TEST_KUBECONFIG`
/// names one (Cluster API and the Docker provider installed): `anywhere controller` runs against
/// it from this machine and the commands get `--kubeconfig`. Skipped otherwise.
#[test]
fn real_management_cluster_when_configured() {
    let Ok(kubeconfig) = std::env::var("ANYWHERE_TEST_KUBECONFIG") else {
        eprintln!(
            "skipping: ANYWHERE_TEST_KUBECONFIG is not set (the simulated scenarios above cover the workflows)"
        );
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut controller = anywhere(dir)
        .args(["controller", "--kubeconfig", &kubeconfig, "--install-crds"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let v1 = spec(dir, "docker", "real", "1.35", 1);
    let v2 = spec(dir, "docker", "real", "1.36", 2);
    let result = std::panic::catch_unwind(|| {
        ok(&run(
            dir,
            &[
                "create",
                "cluster",
                "-f",
                v1.to_str().unwrap(),
                "--kubeconfig",
                &kubeconfig,
            ],
        ));
        ok(&run(
            dir,
            &[
                "upgrade",
                "cluster",
                "-f",
                v2.to_str().unwrap(),
                "--kubeconfig",
                &kubeconfig,
            ],
        ));
        ok(&run(
            dir,
            &["delete", "cluster", "real", "--kubeconfig", &kubeconfig],
        ));
    });
    let _ = controller.kill();
    let _ = controller.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// The README's main command, exactly.
#[test]
fn readme_quickstart_runs() {
    let work = tempfile::tempdir().unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart.yaml");
    let text = ok(&run(
        work.path(),
        &["create", "cluster", "-f", spec.to_str().unwrap(), "--simulate"],
    ));
    assert!(text.contains("cluster quickstart created"), "{text}");
    assert!(ready(&store(work.path(), "quickstart"), "quickstart"));
}

/// EKS-A's upgrade rules run against what is running: a two-minor jump is refused before
/// anything is applied.
#[test]
fn an_invalid_upgrade_is_refused_before_anything_changes() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let v1 = spec(dir, "docker", "skew", "1.34", 1);
    ok(&run(
        dir,
        &["create", "cluster", "-f", v1.to_str().unwrap(), "--simulate"],
    ));
    let v2 = spec(dir, "docker", "skew", "1.36", 1);
    let out = run(dir, &["upgrade", "cluster", "-f", v2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kubernetesVersion") && err.contains("nothing was changed"),
        "{err}"
    );
    let s = store(dir, "skew");
    assert!(census(&s).1.iter().all(|v| v.starts_with("v1.34")));
}

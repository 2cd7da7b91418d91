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
//! provider installed), the same scenarios run there instead: `anywhere controller` is started
//! against it (one per test process), the commands get `--kubeconfig`, and the checks read the
//! objects through that cluster's API. A real management cluster has one provider's
//! infrastructure: the lifecycle runs for `ANYWHERE_TEST_PROVIDER` (default `docker`) only. The
//! injected-failure scenario needs the simulator's fault injection and is skipped there, with a
//! message; the bad-input and README checks never reach a cluster and run as they are. CI runs
//! this path too, against a standalone simulated management cluster in its own process
//! (`cargo run -p anywhere-capi-sim --example management-plane -- KUBECONFIG`, see `.ci/run`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use std::sync::Mutex;

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

/// The real management cluster the scenarios run against, if any.
fn real() -> Option<String> {
    std::env::var("ANYWHERE_TEST_KUBECONFIG")
        .ok()
        .filter(|k| !k.is_empty())
}

/// `args` with the flag that picks the management plane: `--kubeconfig` of the real cluster,
/// or `--simulate` for a create (other commands find the simulated state in the folder).
fn on_plane(args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    match real() {
        Some(k) => all.extend(["--kubeconfig".to_string(), k]),
        None if args.first() == Some(&"create") => all.push("--simulate".into()),
        None => {}
    }
    all
}

/// Runs `args` on the scenario's management plane.
fn run_on(dir: &Path, args: &[&str]) -> Output {
    anywhere(dir).args(on_plane(args)).output().unwrap()
}

/// While held, `anywhere controller` runs against the real management cluster (one for all the
/// tests of this process that run at once; nothing for the simulated plane, where each command
/// runs the controller itself).
struct Controller;

static CONTROLLER: Mutex<(usize, Option<std::process::Child>)> = Mutex::new((0, None));

fn controller() -> Controller {
    if let Some(kubeconfig) = real() {
        let mut c = CONTROLLER.lock().unwrap_or_else(|p| p.into_inner());
        if c.1.is_none() {
            let dir = std::env::temp_dir();
            c.1 = Some(
                anywhere(&dir)
                    .args(["controller", "--kubeconfig", &kubeconfig, "--install-crds"])
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
        }
        c.0 += 1;
    }
    Controller
}

impl Drop for Controller {
    fn drop(&mut self) {
        if real().is_none() {
            return;
        }
        let mut c = CONTROLLER.lock().unwrap_or_else(|p| p.into_inner());
        c.0 -= 1;
        if c.0 == 0
            && let Some(mut child) = c.1.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Removes a scenario's cluster from the real management cluster (the simulated plane goes
/// with the test's folder).
fn clean_up(dir: &Path, name: &str) {
    if real().is_some() {
        ok(&run_on(dir, &["delete", "cluster", name]));
    }
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

/// What a scenario checks its cluster through: the persisted management store of a simulated
/// cluster (opened after the command exited), or the real management cluster's API.
enum View {
    Store(Store),
    Real(kube::Client, tokio::runtime::Runtime),
}

fn store(dir: &Path, name: &str) -> View {
    let Some(kubeconfig) = real() else {
        return View::Store(Store::open(dir.join(name).join("generated/simulate/management")).unwrap());
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async {
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .unwrap();
        kube::Client::try_from(config).unwrap()
    });
    View::Real(client, rt)
}

fn list(view: &View, gvr: Gvr, namespace: &str) -> Vec<Value> {
    match view {
        View::Store(store) => {
            let list = store
                .list(&ListRequest {
                    gvr,
                    namespace: Some(namespace.into()),
                    ..ListRequest::default()
                })
                .unwrap();
            (0..list.items.len()).map(|i| list.item(i)).collect()
        }
        View::Real(client, rt) => {
            let resource = kube::api::ApiResource {
                api_version: gvr.api_version(),
                group: gvr.group.clone(),
                version: gvr.version.clone(),
                kind: String::new(),
                plural: gvr.resource.clone(),
            };
            let api =
                kube::Api::<kube::api::DynamicObject>::namespaced_with(client.clone(), namespace, &resource);
            rt.block_on(api.list(&Default::default()))
                .map(|l| l.items.iter().map(|o| serde_json::to_value(o).unwrap()).collect())
                .unwrap_or_default()
        }
    }
}

/// The machines of cluster `name`.
fn machines(view: &View, name: &str) -> Vec<Value> {
    list(
        view,
        Gvr::new("cluster.x-k8s.io", "v1beta2", "machines"),
        "eksa-system",
    )
    .into_iter()
    .filter(|m| m["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"] == name)
    .collect()
}

/// (control-plane, worker, etcd) machine counts of cluster `name`, and every machine's version.
fn census(store: &View, name: &str) -> ((usize, usize, usize), Vec<String>) {
    let ms = machines(store, name);
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

fn ready(store: &View, name: &str) -> bool {
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
    if real().is_some()
        && std::env::var("ANYWHERE_TEST_PROVIDER").unwrap_or_else(|_| "docker".into()) != provider
    {
        eprintln!(
            "skipping {provider}: the real management cluster runs ANYWHERE_TEST_PROVIDER's infrastructure only"
        );
        return;
    }
    let _controller = controller();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let name = format!("s-{provider}");
    let v1 = spec(dir, provider, &name, "1.35", 1);
    let text = ok(&run_on(dir, &["create", "cluster", "-f", v1.to_str().unwrap()]));
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
        let (counts, versions) = census(&s, &name);
        assert_eq!(counts, (1, 1, etcd), "{provider}");
        assert!(versions.iter().all(|v| v.starts_with("v1.35")), "{versions:?}");
    }

    // Plan, then upgrade the minor version (EKS-A refuses scaling in the same change).
    let v2 = spec(dir, provider, &name, "1.36", 1);
    let plan = ok(&run_on(
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
    ok(&run_on(dir, &["upgrade", "cluster", "-f", v2.to_str().unwrap()]));
    {
        let s = store(dir, &name);
        assert!(ready(&s, &name));
        let (counts, versions) = census(&s, &name);
        assert_eq!(counts, (1, 1, etcd), "{provider} after upgrade");
        assert!(versions.iter().all(|v| v.starts_with("v1.36")), "{versions:?}");
    }

    // Scale workers up, then down.
    let up = spec(dir, provider, &name, "1.36", 2);
    ok(&run_on(dir, &["upgrade", "cluster", "-f", up.to_str().unwrap()]));
    assert_eq!(
        census(&store(dir, &name), &name).0,
        (1, 2, etcd),
        "{provider} after scale up"
    );
    let v3 = spec(dir, provider, &name, "1.36", 1);
    ok(&run_on(dir, &["upgrade", "cluster", "-f", v3.to_str().unwrap()]));
    {
        let s = store(dir, &name);
        assert_eq!(census(&s, &name).0, (1, 1, etcd), "{provider} after scale down");
    }

    // Delete by name: the folder goes with the cluster.
    let text = ok(&run_on(dir, &["delete", "cluster", &name]));
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
        .args(on_plane(args))
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
    let _controller = controller();
    let steps = ["apply-spec", "control-plane", "kubeconfig", "cni", "workers"];
    for (i, step) in steps.iter().enumerate() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        let name = format!("kill-{i}");
        let path = spec(dir, "docker", &name, "1.36", 2);
        let file = path.to_str().unwrap();
        let marker = format!("step {}/6 {step} done", i + 1);
        assert!(
            kill_at(dir, &["create", "cluster", "-f", file], &marker),
            "{marker}"
        );
        let text = ok(&run_on(dir, &["create", "cluster", "-f", file]));
        // Steps done before the kill are not done again.
        for done in &steps[..=i] {
            assert!(
                text.contains(&format!("{done}: done by an earlier run")),
                "after {step}: {text}"
            );
        }
        let s = store(dir, &name);
        assert!(ready(&s, &name));
        assert_eq!(census(&s, &name).0, (1, 2, 1), "machines after a kill at {step}");
        let kcps = list(
            &s,
            Gvr::new("controlplane.cluster.x-k8s.io", "v1beta2", "kubeadmcontrolplanes"),
            "eksa-system",
        );
        assert_eq!(
            kcps.iter()
                .filter(|k| k["metadata"]["name"] == name.as_str())
                .count(),
            1
        );
        clean_up(dir, &name);
    }
}

#[test]
fn create_and_upgrade_killed_mid_step_resume() {
    let _controller = controller();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let v1 = spec(dir, "docker", "mid", "1.35", 1);
    // Killed while waiting for the control plane (right after the spec was applied).
    assert!(kill_at(
        dir,
        &["create", "cluster", "-f", v1.to_str().unwrap()],
        "step 1/6"
    ));
    ok(&run_on(dir, &["create", "cluster", "-f", v1.to_str().unwrap()]));
    // An upgrade killed while the control plane rolls, then resumed.
    let v2 = spec(dir, "docker", "mid", "1.36", 2);
    assert!(kill_at(
        dir,
        &["upgrade", "cluster", "-f", v2.to_str().unwrap()],
        "step 1/5"
    ));
    // A different operation cannot start over an interrupted one.
    let other = run_on(dir, &["delete", "cluster", "mid"]);
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("interrupted upgrade of cluster mid"), "{err}");
    let text = ok(&run_on(dir, &["upgrade", "cluster", "-f", v2.to_str().unwrap()]));
    assert!(text.contains("apply-spec: done by an earlier run"), "{text}");
    let s = store(dir, "mid");
    let (counts, versions) = census(&s, "mid");
    assert_eq!(counts, (1, 2, 1));
    assert!(versions.iter().all(|v| v.starts_with("v1.36")), "{versions:?}");
    clean_up(dir, "mid");
}

#[test]
fn an_injected_machine_failure_is_a_clear_error_and_the_rerun_finishes() {
    if real().is_some() {
        eprintln!("skipping: injecting a machine failure needs the simulator (ANYWHERE_SIMULATE_FAULTS)");
        return;
    }
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
    assert_eq!(census(&s, "fault").0, (1, 1, 1));
    assert!(
        machines(&s, "fault")
            .iter()
            .all(|m| m["status"]["phase"] == "Running")
    );
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
    let _controller = controller();
    let v1 = spec(dir, "docker", "pause", "1.35", 1);
    ok(&run_on(dir, &["create", "cluster", "-f", v1.to_str().unwrap()]));
    ok(&run_on(dir, &["pause", "cluster", "pause"]));
    let v2 = spec(dir, "docker", "pause", "1.36", 1);
    let out = run_on(
        dir,
        &["upgrade", "cluster", "-f", v2.to_str().unwrap(), "--timeout", "3"],
    );
    assert_eq!(out.status.code(), Some(2), "a paused cluster must not upgrade");
    {
        let s = store(dir, "pause");
        let (_, versions) = census(&s, "pause");
        assert!(
            versions.iter().all(|v| v.starts_with("v1.35")),
            "changed while paused: {versions:?}"
        );
    }
    ok(&run_on(dir, &["resume", "cluster", "pause"]));
    ok(&run_on(dir, &["upgrade", "cluster", "-f", v2.to_str().unwrap()]));
    let s = store(dir, "pause");
    assert!(census(&s, "pause").1.iter().all(|v| v.starts_with("v1.36")));
    clean_up(dir, "pause");
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
    // The README's command is simulated whichever plane the other scenarios use.
    let s = View::Store(Store::open(work.path().join("quickstart/generated/simulate/management")).unwrap());
    assert!(ready(&s, "quickstart"));
}

/// EKS-A's upgrade rules run against what is running: a two-minor jump is refused before
/// anything is applied.
#[test]
fn an_invalid_upgrade_is_refused_before_anything_changes() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let _controller = controller();
    let v1 = spec(dir, "docker", "skew", "1.34", 1);
    ok(&run_on(dir, &["create", "cluster", "-f", v1.to_str().unwrap()]));
    let v2 = spec(dir, "docker", "skew", "1.36", 1);
    let out = run_on(dir, &["upgrade", "cluster", "-f", v2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kubernetesVersion") && err.contains("nothing was changed"),
        "{err}"
    );
    let s = store(dir, "skew");
    assert!(census(&s, "skew").1.iter().all(|v| v.starts_with("v1.34")));
    clean_up(dir, "skew");
}

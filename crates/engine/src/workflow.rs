//! The CLI's workflows over a management plane: create, upgrade and delete a cluster as a list
//! of steps, each recorded in a checkpoint file when done, so a command killed at any point
//! (even `kill -9`) resumes when re-run and finishes with nothing lost or done twice.
//!
//! Every step is idempotent on its own (server-side apply, waits on conditions); the checkpoint
//! makes resuming skip the steps already done and refuses to resume with a different spec.
//! The controller does the rendering and the Cluster API work; a workflow applies the anywhere
//! objects and follows the Cluster's conditions, as EKS Anywhere's CLI does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::conditions;
use crate::controller::API_VERSION;
use crate::kube_ops::{Kube, to_value};
use crate::render::CAPI_NAMESPACE;

/// A workflow failure: which step, and why.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// A step failed.
    #[error("{operation} cluster {cluster}: step {step}: {message}")]
    Step {
        /// `create`, `upgrade` or `delete`.
        operation: String,
        /// The cluster.
        cluster: String,
        /// The step.
        step: String,
        /// Why.
        message: String,
    },
    /// The checkpoint belongs to another operation or spec.
    #[error("{0}")]
    Checkpoint(String),
}

/// The steps of a create.
pub const CREATE_STEPS: &[&str] = &[
    "apply-spec",
    "control-plane",
    "kubeconfig",
    "cni",
    "workers",
    "ready",
];
/// The steps of an upgrade.
pub const UPGRADE_STEPS: &[&str] = &["apply-spec", "control-plane", "cni", "workers", "ready"];
/// The steps of a delete.
pub const DELETE_STEPS: &[&str] = &["delete-cluster", "delete-objects"];

/// What has been done of an operation, stored as `<cluster>/generated/checkpoint.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// `create`, `upgrade` or `delete`.
    pub operation: String,
    /// The cluster.
    pub cluster: String,
    /// `sha256:` of the spec the operation runs with.
    pub spec_digest: String,
    /// Steps completed, in order.
    pub done: Vec<String>,
    /// Whether the whole operation finished.
    pub complete: bool,
}

impl Checkpoint {
    /// Reads the checkpoint at `path`, if any.
    ///
    /// # Errors
    /// An unreadable or corrupt file (named).
    pub fn load(path: &Path) -> Result<Option<Checkpoint>, WorkflowError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                WorkflowError::Checkpoint(format!(
                    "{}: not a checkpoint ({e}); remove it to start over",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(WorkflowError::Checkpoint(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes it atomically (temporary file, sync, rename).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), WorkflowError> {
        let io = |e: std::io::Error| WorkflowError::Checkpoint(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let temp = path.with_extension("json.partial");
        let bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&temp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&temp, path).map_err(io)
    }

    /// Whether `step` is done.
    pub fn is_done(&self, step: &str) -> bool {
        self.done.iter().any(|s| s == step)
    }
}

/// Where progress goes (the CLI prints it; tests collect it).
pub trait Reporter: Send {
    /// A step starts (`resumed`: it was started by an earlier, interrupted run).
    fn start(&mut self, index: usize, total: usize, step: &str);
    /// The step is skipped: an earlier run finished it.
    fn skipped(&mut self, index: usize, total: usize, step: &str);
    /// What the step is waiting for changed.
    fn waiting(&mut self, step: &str, message: &str);
    /// The step finished.
    fn done(&mut self, index: usize, total: usize, step: &str, took: Duration);
}

/// A workflow over one cluster.
pub struct Workflow<'a> {
    /// The management plane.
    pub kube: &'a Kube,
    /// The cluster's folder (`<cluster>/`).
    pub dir: PathBuf,
    /// The spec objects as written (Cluster first).
    pub objects: Vec<Value>,
    /// The spec's digest (identifies the operation for resuming).
    pub spec_digest: String,
    /// How often to look at the conditions.
    pub poll: Duration,
    /// Give up waiting after this long.
    pub timeout: Duration,
    /// Progress output.
    pub reporter: &'a mut dyn Reporter,
}

impl std::fmt::Debug for Workflow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The checkpoint file of a cluster folder.
pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join("generated").join("checkpoint.json")
}

/// The kubeconfig file of a cluster folder (`<cluster>-eks-a-cluster.kubeconfig`, as EKS-A).
pub fn kubeconfig_path(dir: &Path, cluster: &str) -> PathBuf {
    dir.join(format!("{cluster}-eks-a-cluster.kubeconfig"))
}

impl Workflow<'_> {
    fn cluster(&self) -> (String, String) {
        let c = &self.objects[0];
        (
            c["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            c["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string(),
        )
    }

    fn err(&self, operation: &str, step: &str, message: impl std::fmt::Display) -> WorkflowError {
        WorkflowError::Step {
            operation: operation.into(),
            cluster: self.cluster().0,
            step: step.into(),
            message: message.to_string(),
        }
    }

    /// Loads or starts the checkpoint of `operation`. A finished earlier operation of another
    /// kind is replaced; an unfinished one of another kind or spec is refused.
    fn begin(&self, operation: &str) -> Result<Checkpoint, WorkflowError> {
        let path = checkpoint_path(&self.dir);
        let (name, _) = self.cluster();
        let fresh = Checkpoint {
            operation: operation.into(),
            cluster: name.clone(),
            spec_digest: self.spec_digest.clone(),
            done: Vec::new(),
            complete: false,
        };
        match Checkpoint::load(&path)? {
            None => Ok(fresh),
            Some(c) if c.complete && !(c.operation == operation && c.spec_digest == self.spec_digest) => {
                Ok(fresh)
            }
            Some(c) if c.operation == operation && c.spec_digest == self.spec_digest => Ok(c),
            Some(c) => Err(WorkflowError::Checkpoint(format!(
                "an interrupted {} of cluster {name} {} is recorded in {}; re-run that command to finish it, or remove the file to abandon it",
                c.operation,
                if c.operation == operation {
                    "with a different spec"
                } else {
                    ""
                },
                path.display()
            ))),
        }
    }

    async fn run_steps(&mut self, operation: &str, steps: &[&str]) -> Result<Checkpoint, WorkflowError> {
        let mut checkpoint = self.begin(operation)?;
        if !checkpoint.complete && operation != "delete" {
            self.replace_failed_machines(operation).await?;
        }
        let path = checkpoint_path(&self.dir);
        let total = steps.len();
        for (i, step) in steps.iter().enumerate() {
            if checkpoint.is_done(step) {
                self.reporter.skipped(i + 1, total, step);
                continue;
            }
            self.reporter.start(i + 1, total, step);
            let started = Instant::now();
            self.step(operation, step).await?;
            checkpoint.done.push(step.to_string());
            checkpoint.save(&path)?;
            self.reporter.done(i + 1, total, step, started.elapsed());
        }
        checkpoint.complete = true;
        checkpoint.save(&path)?;
        Ok(checkpoint)
    }

    /// Failed machines of the cluster that are not being deleted.
    async fn failed_machines(&self) -> Vec<String> {
        let (name, _) = self.cluster();
        self.kube
            .list(
                "cluster.x-k8s.io/v1beta2",
                "Machine",
                Some(CAPI_NAMESPACE),
                &format!("cluster.x-k8s.io/cluster-name={name}"),
            )
            .await
            .unwrap_or_default()
            .iter()
            .map(to_value)
            .filter(|m| m["status"]["phase"] == "Failed" && m["metadata"]["deletionTimestamp"].is_null())
            .filter_map(|m| m["metadata"]["name"].as_str().map(str::to_string))
            .collect()
    }

    /// Deletes the cluster's machines that failed (what a MachineHealthCheck would remediate),
    /// so their owners create new ones when the operation resumes.
    async fn replace_failed_machines(&mut self, operation: &str) -> Result<(), WorkflowError> {
        let (name, _) = self.cluster();
        let machines = match self
            .kube
            .list(
                "cluster.x-k8s.io/v1beta2",
                "Machine",
                Some(CAPI_NAMESPACE),
                &format!("cluster.x-k8s.io/cluster-name={name}"),
            )
            .await
        {
            Ok(m) => m,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(self.err(operation, "replace failed machines", e)),
        };
        for m in machines
            .iter()
            .map(to_value)
            .filter(|m| m["status"]["phase"] == "Failed" && m["metadata"]["deletionTimestamp"].is_null())
        {
            let machine = m["metadata"]["name"].as_str().unwrap_or_default().to_string();
            self.reporter
                .waiting("resume", &format!("replacing failed machine {machine}"));
            self.kube
                .delete(
                    "cluster.x-k8s.io/v1beta2",
                    "Machine",
                    Some(CAPI_NAMESPACE),
                    &machine,
                )
                .await
                .map_err(|e| self.err(operation, "replace failed machines", e))?;
        }
        Ok(())
    }

    /// Creates the cluster: applies its spec, waits for each condition, writes the kubeconfig.
    ///
    /// # Errors
    /// The step that failed, or a checkpoint of another operation.
    pub async fn create(&mut self) -> Result<Checkpoint, WorkflowError> {
        self.run_steps("create", CREATE_STEPS).await
    }

    /// Upgrades the cluster to the spec: applies it and waits until the controller has rolled
    /// every phase.
    ///
    /// # Errors
    /// The step that failed, or a checkpoint of another operation.
    pub async fn upgrade(&mut self) -> Result<Checkpoint, WorkflowError> {
        self.run_steps("upgrade", UPGRADE_STEPS).await
    }

    /// Deletes the cluster and the objects of its spec.
    ///
    /// # Errors
    /// The step that failed, or a checkpoint of another operation.
    pub async fn delete(&mut self) -> Result<Checkpoint, WorkflowError> {
        self.run_steps("delete", DELETE_STEPS).await
    }

    async fn step(&mut self, operation: &str, step: &str) -> Result<(), WorkflowError> {
        let (name, namespace) = self.cluster();
        match step {
            "apply-spec" => {
                // Referenced objects first, the Cluster last, so the controller finds them.
                for object in self.objects.iter().skip(1).chain(self.objects.first()) {
                    let mut object = crate::spec::as_written(object);
                    if object["metadata"]["namespace"].is_null() {
                        object["metadata"]["namespace"] = json!(namespace);
                    }
                    self.kube
                        .apply(&object)
                        .await
                        .map_err(|e| self.err(operation, step, e))?;
                }
                Ok(())
            }
            "control-plane" => self.wait(operation, step, conditions::CONTROL_PLANE_READY).await,
            "cni" => {
                self.wait(operation, step, conditions::DEFAULT_CNI_CONFIGURED)
                    .await
            }
            "workers" => self.wait(operation, step, conditions::WORKERS_READY).await,
            "ready" => self.wait(operation, step, conditions::READY).await,
            "kubeconfig" => {
                let secret = self
                    .kube
                    .get(
                        "v1",
                        "Secret",
                        Some(CAPI_NAMESPACE),
                        &format!("{name}-kubeconfig"),
                    )
                    .await
                    .map_err(|e| self.err(operation, step, e))?
                    .ok_or_else(|| {
                        self.err(
                            operation,
                            step,
                            format!("Secret {CAPI_NAMESPACE}/{name}-kubeconfig does not exist"),
                        )
                    })?;
                let encoded = to_value(&secret)["data"]["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|e| {
                        self.err(operation, step, format!("kubeconfig Secret is not base64: {e}"))
                    })?;
                write_private(&kubeconfig_path(&self.dir, &name), &bytes)
                    .map_err(|e| self.err(operation, step, e))
            }
            "delete-cluster" => {
                self.kube
                    .delete(API_VERSION, "Cluster", Some(&namespace), &name)
                    .await
                    .map_err(|e| self.err(operation, step, e))?;
                self.wait_gone(operation, step, &name, &namespace).await
            }
            "delete-objects" => {
                for object in self.objects.iter().skip(1) {
                    let kind = object["kind"].as_str().unwrap_or_default();
                    let object_name = object["metadata"]["name"].as_str().unwrap_or_default();
                    self.kube
                        .delete(API_VERSION, kind, Some(&namespace), object_name)
                        .await
                        .map_err(|e| self.err(operation, step, e))?;
                }
                let _ = std::fs::remove_file(kubeconfig_path(&self.dir, &name));
                Ok(())
            }
            other => Err(self.err(operation, other, "unknown step")),
        }
    }

    /// Waits until the Cluster has observed its latest spec and `condition` is True; reports
    /// the condition's message as it changes; fails at once on a validation failure.
    async fn wait(&mut self, operation: &str, step: &str, condition: &str) -> Result<(), WorkflowError> {
        let (name, namespace) = self.cluster();
        let deadline = Instant::now() + self.timeout;
        let mut last = String::new();
        loop {
            let cluster = self
                .kube
                .get(API_VERSION, "Cluster", Some(&namespace), &name)
                .await
                .map_err(|e| self.err(operation, step, e))?
                .map(|c| to_value(&c))
                .ok_or_else(|| self.err(operation, step, format!("Cluster {namespace}/{name} is gone")))?;
            let generation = cluster["metadata"]["generation"].as_i64().unwrap_or(0);
            let observed = cluster["status"]["observedGeneration"].as_i64().unwrap_or(-1) >= generation;
            if observed && let Some(reason) = cluster["status"]["failureReason"].as_str() {
                let message = cluster["status"]["failureMessage"].as_str().unwrap_or_default();
                if reason == "ValidationFailed" || reason == "MissingReference" {
                    return Err(self.err(operation, step, format!("{reason}: {message}")));
                }
            }
            if observed && conditions::is_true(&cluster, condition) {
                return Ok(());
            }
            if observed
                && let Some(c) = conditions::get(&cluster, condition)
                && c["reason"] == "MachineProvisioningFailed"
                && !self.failed_machines().await.is_empty()
            {
                return Err(self.err(
                    operation,
                    step,
                    format!(
                        "{}; fix the cause and re-run the same command: it replaces the failed machines and resumes",
                        c["message"].as_str().unwrap_or_default()
                    ),
                ));
            }
            let message = match conditions::get(&cluster, condition) {
                Some(c) if observed => format!(
                    "{}: {}",
                    c["reason"].as_str().unwrap_or_default(),
                    c["message"].as_str().unwrap_or_default()
                ),
                _ => "waiting for the controller".to_string(),
            };
            if message != last {
                self.reporter.waiting(step, &message);
                last = message.clone();
            }
            if Instant::now() > deadline {
                return Err(self.err(
                    operation,
                    step,
                    format!(
                        "{condition} not True after {:?}: {message}; re-run the command to keep waiting",
                        self.timeout
                    ),
                ));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn wait_gone(
        &mut self,
        operation: &str,
        step: &str,
        name: &str,
        namespace: &str,
    ) -> Result<(), WorkflowError> {
        let deadline = Instant::now() + self.timeout;
        let mut reported = false;
        loop {
            let cluster = self
                .kube
                .get(API_VERSION, "Cluster", Some(namespace), name)
                .await
                .map_err(|e| self.err(operation, step, e))?;
            let Some(cluster) = cluster else { return Ok(()) };
            if !reported {
                let value = to_value(&cluster);
                let message = conditions::get(&value, conditions::READY)
                    .and_then(|c| c["message"].as_str())
                    .unwrap_or("waiting for the controller to delete the machines")
                    .to_string();
                self.reporter.waiting(step, &message);
                reported = true;
            }
            if Instant::now() > deadline {
                return Err(self.err(
                    operation,
                    step,
                    format!(
                        "the Cluster is still there after {:?}; re-run to keep waiting",
                        self.timeout
                    ),
                ));
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

/// Writes `bytes` to `path` readable by the owner only (0600), atomically.
///
/// # Errors
/// The file cannot be written.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temp = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&temp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&temp, path)
}

/// `sha256:` of a spec's objects as written (the checkpoint's identity of a spec).
pub fn spec_digest(objects: &[Value]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for o in objects {
        hasher.update(serde_json::to_vec(&crate::spec::as_written(o)).unwrap_or_default());
    }
    let digest = hasher.finalize();
    let mut out = String::from("sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_survive_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = checkpoint_path(dir.path());
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let c = Checkpoint {
            operation: "create".into(),
            cluster: "c".into(),
            spec_digest: "sha256:x".into(),
            done: vec!["apply-spec".into()],
            complete: false,
        };
        c.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(c.clone()));
        // A partial file left by a crash is ignored; the last complete checkpoint stands.
        std::fs::write(path.with_extension("json.partial"), b"{\"operation\": \"cr").unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(c));
        std::fs::write(&path, b"garbage").unwrap();
        assert!(
            Checkpoint::load(&path)
                .unwrap_err()
                .to_string()
                .contains("remove it")
        );
    }

    #[test]
    fn the_digest_ignores_server_fields() {
        let a = json!({"apiVersion": "v", "kind": "K", "metadata": {"name": "n"}, "spec": {"a": 1}});
        let mut b = a.clone();
        b["metadata"]["resourceVersion"] = json!("7");
        b["status"] = json!({"x": 1});
        assert_eq!(spec_digest(std::slice::from_ref(&a)), spec_digest(&[b]));
        let mut c = a.clone();
        c["spec"]["a"] = json!(2);
        assert_ne!(spec_digest(&[a]), spec_digest(&[c]));
    }
}

//! The management plane a cluster command talks to: an existing management cluster
//! (`--kubeconfig`), or the simulated one of `--simulate`.
//!
//! Simulated: the in-memory API server (`anywhere-apiserver`) keeps its state in
//! `<cluster>/generated/simulate/` (every write durable before it is acknowledged, so `kill -9`
//! loses nothing), the Cluster API simulator (`anywhere-capi-sim`) plays Cluster API and the
//! infrastructure, and the anywhere controller runs in this process. All three run only while a
//! command runs; the simulator is level-triggered, so the next command continues where the last
//! one stopped. A lock file keeps two commands from sharing one state directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use anywhere_engine::Kube;
use anywhere_engine::controller::{self, FIELD_MANAGER};

/// A connected management plane.
pub struct Management {
    /// Its API.
    pub kube: Kube,
    /// What runs in this process for `--simulate`.
    simulated: Option<Simulated>,
}

struct Simulated {
    _lock: std::fs::File,
    server: anywhere_apiserver::Server,
    simulator: anywhere_capi_sim::Simulator,
    controller: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The state directory of a simulated management plane.
pub fn simulate_dir(cluster_dir: &Path) -> PathBuf {
    cluster_dir.join("generated").join("simulate")
}

/// How fast simulated infrastructure moves (1.0: Cluster API's in-memory provider defaults,
/// about 10 s a machine). `ANYWHERE_SIMULATE_SPEED` overrides it.
pub fn simulate_speed() -> f64 {
    std::env::var("ANYWHERE_SIMULATE_SPEED")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(10.0)
}

impl Management {
    /// Connects to the management cluster of `kubeconfig`.
    ///
    /// # Errors
    /// The kubeconfig cannot be read or the cluster does not answer.
    pub async fn connect(kubeconfig: &Path) -> Result<Management> {
        let yaml = std::fs::read_to_string(kubeconfig)
            .with_context(|| format!("cannot read the kubeconfig {}", kubeconfig.display()))?;
        let kube = anywhere_engine::workload::client_from_yaml(&yaml)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", kubeconfig.display()))?;
        kube.resource(controller::API_VERSION, "Cluster").await.with_context(|| {
            format!(
                "the management cluster of {} has no anywhere Cluster kind: its controller is not installed",
                kubeconfig.display()
            )
        })?;
        Ok(Management {
            kube,
            simulated: None,
        })
    }

    /// Opens (creating on first use) the simulated management plane in `cluster_dir`, and
    /// starts the simulator and the controller.
    ///
    /// # Errors
    /// Another command holds the state, or the state cannot be opened.
    pub async fn simulated(cluster_dir: &Path, options: controller::Options) -> Result<Management> {
        let dir = simulate_dir(cluster_dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let lock_path = dir.join("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            bail!(
                "another anywhere command is using the simulated management plane in {}; wait for it to finish",
                dir.display()
            );
        }
        let store = anywhere_apiserver::Store::open_with(
            dir.join("management"),
            anywhere_apiserver::StoreOptions {
                durability: anywhere_apiserver::Durability::Process,
                ..anywhere_apiserver::StoreOptions::default()
            },
        )
        .with_context(|| format!("cannot open the simulated management plane in {}", dir.display()))?;
        // Registering replaces a definition of the same name, so this is safe on every open.
        for crd in anywhere_engine::crds::all()
            .into_iter()
            .chain(anywhere_capi_sim::crds())
        {
            let name = crd["metadata"]["name"].as_str().unwrap_or_default().to_string();
            match store.register_crd(crd) {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => bail!("cannot register CRD {name}: {}", e.message),
            }
        }
        let server = anywhere_apiserver::serve_local(store.clone())
            .await
            .context("cannot start the simulated API server")?;
        let sim_options = anywhere_capi_sim::Options {
            state_dir: Some(dir.join("workloads")),
            ..anywhere_capi_sim::Options::with_speed(simulate_speed())
        };
        // Test and demo hook: `ANYWHERE_SIMULATE_FAULTS="<machine-name-prefix>:<faults>;..."`
        // with the simulator's fault syntax (never-boot, provision-fail=Reason, slow=F,
        // bmc-unreachable, node-not-ready, stuck-deletion).
        if let Ok(spec) = std::env::var("ANYWHERE_SIMULATE_FAULTS") {
            for entry in spec.split(';').filter(|e| !e.trim().is_empty()) {
                let (prefix, faults) = entry.split_once(':').with_context(|| {
                    format!("ANYWHERE_SIMULATE_FAULTS entry `{entry}`: expected <machine-prefix>:<faults>")
                })?;
                for fault in anywhere_capi_sim::faults::parse_machine_faults(faults) {
                    sim_options.faults.add_machine_fault(prefix.trim(), fault);
                }
            }
        }
        let simulator = anywhere_capi_sim::Simulator::start(store.clone(), sim_options)
            .await
            .context("cannot start the Cluster API simulator")?;
        let config = kube::Config::new(server.url().parse().context("API server URL")?);
        let client = kube::Client::try_from(config).context("cannot build a client for the simulated API")?;
        let kube = Kube::new(client, "anywhere-cli");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let controller_kube = Kube::new(kube.client().clone(), FIELD_MANAGER);
        let controller = tokio::spawn(controller::run(
            controller_kube,
            options,
            async move {
                let _ = rx.await;
            },
            None,
        ));
        Ok(Management {
            kube,
            simulated: Some(Simulated {
                _lock: lock,
                server,
                simulator,
                controller,
                stop: Some(tx),
            }),
        })
    }

    /// Whether this is the simulated management plane.
    pub fn is_simulated(&self) -> bool {
        self.simulated.is_some()
    }

    /// Stops what runs in this process (the simulated plane's state stays on disk).
    pub async fn stop(mut self) {
        if let Some(mut sim) = self.simulated.take() {
            if let Some(stop) = sim.stop.take() {
                let _ = stop.send(());
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut sim.controller).await;
            sim.simulator.stop().await;
            sim.server.shutdown().await;
        }
    }
}

/// The controller options the CLI runs an in-process controller with.
pub fn controller_options(
    catalog: Arc<anywhere_catalog::Catalog>,
    credentials: anywhere_manifests::Credentials,
) -> controller::Options {
    controller::Options {
        catalog,
        credentials,
        poll: Duration::from_millis(200),
        concurrency: 8,
    }
}

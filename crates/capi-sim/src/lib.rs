//! A Cluster API simulator: it plays Cluster API core, the kubeadm bootstrap and control-plane
//! providers, the etcdadm providers and every infrastructure provider the manifest generator
//! emits (Docker, vSphere, Tinkerbell, Nutanix, CloudStack, Snow) against the in-memory API
//! server, the way Cluster API's in-memory provider serves its scale tests. Each Cluster gets a
//! workload cluster (an in-memory store with Nodes, static pods and kubeadm add-ons) served
//! over HTTP so kube-rs can use its `<cluster>-kubeconfig` Secret.
//!
//! Layout (functional core, imperative shell):
//! - [`kinds`]: the kind table and [`crds`], permissive stand-in CRDs generated in code;
//! - [`cache`], [`queue`]: the informer cache fed by the store's watch, and the work queue;
//! - `reconcile`: the simulated controllers, one pass per Cluster (decisions such as the
//!   one-at-a-time control-plane rollout and the MachineDeployment rollout plan are pure
//!   functions with unit tests);
//! - [`workload`]: the workload stores and the shared HTTP listener;
//! - [`clock`], [`faults`], [`observe`]: injectable time, fault injection, timelines and
//!   counters;
//! - [`Simulator`]: the tokio shell (informers, workers, timer).
//!
//! Examples: `fleet` (N clusters straight into the simulator, its own scaling) and
//! `management-plane` (a standalone simulated management cluster in its own process, with a
//! kubeconfig: what CI points the scenario tests' `ANYWHERE_TEST_KUBECONFIG` at).
//!
//! Every write goes through the store's in-process API (resourceVersion, watch events,
//! no-op detection), and all simulator state is derived from the objects (due times are
//! annotations), so a simulator started on a persisted store continues where a stopped or
//! killed one left off.
//!
//! It must not: touch a real cluster or the network beyond its own 127.0.0.1 listener, write
//! files outside the state directory it is given, or create objects outside the namespaces of
//! the Clusters it simulates (and their workload stores).
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod cache;
pub mod clock;
mod ctx;
pub mod faults;
pub mod kinds;
pub mod object;
pub mod observe;
pub mod queue;
mod reconcile;
mod sim;
pub mod workload;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use cache::ClusterKey;
pub use clock::{Clock, ManualClock, SystemClock, Timings};
pub use ctx::FIELD_MANAGER;
pub use faults::{ClusterFault, FAULT_ANNOTATION, Faults, MachineFault};
pub use kinds::crds;
pub use observe::{Counters, Entry, Observer};
pub use sim::{Options, Simulator};
pub use workload::{Workloads, path_prefix};

/// A simulator failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A store call failed (including injected management-API faults).
    #[error("failed to {op} {object}")]
    Api {
        /// The verb.
        op: &'static str,
        /// `Kind/name`.
        object: String,
        /// The API error.
        #[source]
        source: anywhere_apiserver::ApiError,
    },
    /// A template names a kind the simulator does not know.
    #[error("unknown infrastructure template kind {kind}")]
    UnknownKind {
        /// The kind.
        kind: String,
    },
    /// The workload HTTP listener could not be bound.
    #[error("failed to listen on {addr}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A state directory could not be created.
    #[error("failed to create {path}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A persisted workload store could not be opened.
    #[error("failed to open the workload store in {path}")]
    OpenStore {
        /// The directory.
        path: PathBuf,
        /// The store error.
        #[source]
        source: anywhere_apiserver::Error,
    },
}

/// Registers [`crds`] in a store (existing definitions with the same names are replaced).
///
/// # Errors
/// When the store rejects a definition.
pub fn register_crds(store: &anywhere_apiserver::Store) -> Result<(), anywhere_apiserver::ApiError> {
    for crd in crds() {
        store.register_crd(crd)?;
    }
    Ok(())
}

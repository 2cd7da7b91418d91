//! The management-plane engine: what turns anywhere Cluster objects into running clusters
//! through any Kubernetes API (a real management cluster, or the in-memory one of
//! `--simulate`), shared by the CLI and the long-running controller.
//!
//! - [`controller`]: the kube-runtime controller reconciling anywhere Clusters into Cluster API
//!   objects in ordered phases (validate, external etcd, control plane, CNI, workers) with EKS
//!   Anywhere's conditions, a finalizer for delete and the paused annotation.
//! - [`render`]: the desired Cluster API objects per phase, immutable templates renamed only when
//!   their spec changes (pure, over `anywhere-manifests`).
//! - [`spec`]: a cluster spec read back from API objects, defaulted and validated (pure).
//! - [`conditions`]: condition types, merging, and reading readiness of Cluster API objects
//!   (pure).
//! - [`cni`], [`workload`]: the default CNI applied through the workload cluster's kubeconfig.
//! - [`crds`]: CRDs of the anywhere kinds for management planes that lack them.
//! - [`workflow`]: the CLI's create / upgrade / delete as checkpointed steps over a management
//!   plane (resumable after `kill -9`).
//! - [`plan`]: what an upgrade would change, which machines roll in which order, how long.
//! - [`index`]: watch-fed caches of Cluster API objects by cluster label (the controller's
//!   per-pass reads without label-selected lists).
//! - [`kube_ops`]: untyped kube-rs helpers (discovery cache, server-side apply, errors naming
//!   the object and the step).
//!
//! It must not: read environment variables (callers pass credentials and catalogs), touch files
//! other than the checkpoint and kubeconfig inside the cluster folder a workflow is given, print
//! (progress goes through `workflow::Reporter`), or know whether the API it talks to is
//! simulated.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod cni;
pub mod conditions;
pub mod controller;
pub mod crds;
pub mod index;
pub mod kube_ops;
pub mod plan;
pub mod render;
pub mod spec;
pub mod workflow;
pub mod workload;

pub use kube_ops::{Kube, KubeError};

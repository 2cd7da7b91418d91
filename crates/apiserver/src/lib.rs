//! An in-memory Kubernetes API server served over real HTTP, so that the unmodified kube-rs
//! client and kube-runtime (watcher, reflector, Controller, finalizer helper) talk to it as to
//! a cluster. It is the test ground of the management plane: controllers, CLI workflows and
//! the Cluster API simulator run against it, one [`Store`] per simulated cluster.
//!
//! Layout (functional core, imperative shell):
//! - [`store`]: the [`Store`] handle and every verb as a synchronous function (create, get,
//!   list, update, patch, apply, delete, watch set-up); all writes share one commit path
//!   (resourceVersion, persistence, watch events, garbage collection).
//! - [`watch`]: per-kind event history and fan-out ([`WatchStream`]).
//! - [`ssa`], [`patch`], [`lists`], [`selector`]: pure algorithms (server-side apply field
//!   ownership, merge/JSON/strategic patches, list merge keys, label/field selectors).
//! - [`resource`]: built-in kinds, CRD-registered kinds and discovery documents.
//! - [`persist`]: the snapshot + append-only log behind [`Store::open`].
//! - [`server`]: the axum router and [`serve`].
//!
//! The library works on `serde_json::Value` objects and does not depend on k8s-openapi.
//!
//! It must not touch a real cluster, the network beyond its own 127.0.0.1 listener, or any
//! file outside the state directory given to [`Store::open`].
//!
//! # Differences from a real API server
//! - No TLS, authentication, authorization, admission (webhooks, CEL, ValidatingAdmissionPolicy),
//!   API priority and fairness, protobuf/CBOR, Table output, or aggregated API servers.
//! - CRD schemas are not used for validation, pruning or defaulting; only their
//!   `x-kubernetes-list-type`/`list-map-keys` (for apply and merge) and `selectableFields`
//!   are read. Built-in kinds are stored as given (no defaulting or validation) and no
//!   controllers run (a Deployment never gets Pods).
//! - Only one version of a multi-version CRD is stored; other served versions are the same
//!   object with a rewritten `apiVersion` (conversion strategy `None`).
//! - Garbage collection runs synchronously inside the delete that triggers it (background
//!   propagation finishes before the response); dependents created with an owner that never
//!   existed are not collected.
//! - Paginated lists (`limit`/`continue`) read live state after the first page and carry the
//!   first page's resourceVersion; a list with `resourceVersionMatch=Exact` is only served
//!   at the current resourceVersion (older: `410 Expired`).
//! - Status on create is kept for built-in kinds (the simulator creates Nodes and Pods ready);
//!   custom resources with a status subresource drop it as the real server does.
//! - Server-side apply follows the simplified algorithm of the design record: leaf-path
//!   ownership, atomic lists unless keyed, no type-aware defaults or unions.
//! - Watches send a bookmark only when they time out; a watcher that falls more than the
//!   history window behind is disconnected (it resumes or relists as with a real server).
//! - Graceful deletion (`gracePeriodSeconds` on Pods) is immediate.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod error;
pub mod lists;
pub mod patch;
pub mod persist;
pub mod resource;
pub mod selector;
pub mod server;
pub mod ssa;
pub mod store;
mod util;
pub mod watch;

pub use error::{ApiError, Error, Result};
pub use persist::Durability;
pub use resource::Gvr;
pub use server::{Counters, Server, router, serve, serve_local};
pub use store::{
    CreateRequest, DeleteOptions, DeleteRequest, Deleted, ListRequest, ObjectList, Patch, PatchRequest,
    Propagation, Store, StoreOptions, Target, UpdateRequest, WatchRequest, WriteOptions,
};
pub use watch::{EventType, WatchEvent, WatchStream};

//! Bare-metal hardware inventory: EKS Anywhere's hardware CSV as typed records, with validation
//! and hardware-selector matching.
//!
//! Boundary: pure. It never reads files or the network; callers pass the CSV text. It knows
//! nothing about Kubernetes (an adapter in the manifests crate turns records into Tinkerbell
//! Hardware and Rufio Machine objects).
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

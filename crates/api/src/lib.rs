//! The EKS Anywhere cluster spec (`anywhere.eks.amazonaws.com/v1alpha1`): types, parsing,
//! defaults and validation.
//!
//! Purpose: turn the bytes of a user's spec file into a validated [`ConfigSet`] or a complete
//! list of violations with field paths, exactly as EKS Anywhere would accept or reject it.
//!
//! Boundary: this crate is pure. It never reads files, environment variables or the clock;
//! callers pass bytes in and, where a rule needs the outside world (the registry-mirror CA
//! file, DNS for proxy hosts), a value or a small trait implementation.
//! It must not depend on tokio, kube, an HTTP client or `std::fs`.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod annotations;
pub mod config_set;
pub mod defaults;
pub mod document;
pub mod generate;
pub mod generated;
pub mod meta;
pub mod validate;
pub mod yaml;

pub use config_set::{
    ConfigSet, Object, Origin, ParseError, Reading, parse_config_set, parse_config_set_all,
};
pub use generated::*;

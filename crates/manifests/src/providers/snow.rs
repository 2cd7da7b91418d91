//! The AWS Snow provider.

use crate::{Error, Inputs, Manifest, Result};

/// Cluster-level and control-plane objects.
pub fn control_plane(_inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    Err(Error::UnsupportedProvider("snow (not implemented yet)".into()))
}

/// Worker-group objects.
pub fn workers(_inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    Err(Error::UnsupportedProvider("snow (not implemented yet)".into()))
}

//! One module per infrastructure provider. Each exposes `control_plane` and `workers` (and its
//! provider-specific entry points), built from the shared pieces in `crate::common`.

pub mod cloudstack;
pub mod docker;
pub mod nutanix;
pub mod snow;
pub mod tinkerbell;
pub mod vsphere;

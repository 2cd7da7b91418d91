//! Runner glue for entry points that do not take a cluster spec (Tinkerbell stack values,
//! hardware CSV). Placeholder until the Tinkerbell work lands.

use serde_json::Value;

use crate::DataDirs;

/// Runs a case whose entry point this module handles; `None` for any other.
pub fn run(_case: &Value, _data: &DataDirs) -> Option<Result<Vec<Value>, String>> {
    None
}

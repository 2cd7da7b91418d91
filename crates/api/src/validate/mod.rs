//! Validation: each rule is a named function that returns the violations it finds, with the
//! field path of each. Nothing here performs I/O except where a rule is documented to need a
//! resolver passed in (DNS for proxy hosts).

use std::fmt;

use serde::Serialize;

/// One broken rule, located by its field path inside one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which object: `Cluster/my-cluster`, `VSphereMachineConfig/cp`.
    pub object: String,
    /// Field path inside that object, e.g. `spec.workerNodeGroupConfigurations[1].name`.
    pub path: String,
    /// What is wrong, lowercase, no final period.
    pub message: String,
    /// What the user can do about it, when there is something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Violation {
    /// A violation at `path` of `object`.
    pub fn new(object: impl Into<String>, path: impl Into<String>, message: impl Into<String>) -> Self {
        Violation { object: object.into(), path: path.into(), message: message.into(), hint: None }
    }

    /// The same violation with a hint for the user.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

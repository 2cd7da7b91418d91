//! Errors: [`ApiError`] is what a Kubernetes API server answers (a `metav1.Status`), [`Error`]
//! is what opening or registering can fail with.

use serde_json::{Value, json};

/// A request failure as the real API server reports it: HTTP code, `reason` and message.
///
/// [`ApiError::to_status`] renders the `metav1.Status` body that `kube::Error::Api` parses, so
/// `kube::Error::is_not_found` and friends work against this server.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code, repeated in the body.
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...).
    pub reason: String,
    /// Human-readable message, shaped like the real server's.
    pub message: String,
    /// `details` of the Status (name, group, kind, causes), if any.
    pub details: Option<Box<Value>>,
}

/// Where an error is about: used for `details` and messages.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// API group (empty for core).
    pub group: &'a str,
    /// Plural resource name.
    pub resource: &'a str,
    /// Object name.
    pub name: &'a str,
}

impl Subject<'_> {
    /// `plural.group` (or `plural` for the core group), as in real messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    fn details(&self) -> Value {
        json!({"name": self.name, "group": self.group, "kind": self.resource})
    }
}

impl ApiError {
    /// An error with no details.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// 404 NotFound for an object.
    pub fn not_found(s: Subject<'_>) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", s.qualified(), s.name),
        )
        .with_details(s.details())
    }

    /// 404 NotFound for a route, resource or namespace described by `what`.
    pub fn not_found_msg(what: impl Into<String>) -> Self {
        Self::new(404, "NotFound", what)
    }

    /// 409 AlreadyExists.
    pub fn already_exists(s: Subject<'_>, deleting: bool) -> Self {
        let prefix = if deleting { "object is being deleted: " } else { "" };
        Self::new(
            409,
            "AlreadyExists",
            format!("{prefix}{} \"{}\" already exists", s.qualified(), s.name),
        )
        .with_details(s.details())
    }

    /// 409 Conflict on a stale resourceVersion or uid precondition.
    pub fn conflict(s: Subject<'_>) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your \
                 changes to the latest version and try again",
                s.qualified(),
                s.name
            ),
        )
        .with_details(s.details())
    }

    /// 409 Conflict with a custom message and causes (server-side apply conflicts).
    pub fn conflict_with(s: Subject<'_>, message: String, causes: Vec<Value>) -> Self {
        let mut d = s.details();
        d["causes"] = Value::Array(causes);
        Self::new(409, "Conflict", message).with_details(d)
    }

    /// 422 Invalid with one cause.
    pub fn invalid(s: Subject<'_>, kind: &str, field: &str, detail: &str) -> Self {
        let what = if s.group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{}", s.group)
        };
        let mut d = s.details();
        d["kind"] = Value::String(kind.to_string());
        d["causes"] = json!([{"reason": "FieldValueInvalid", "message": detail, "field": field}]);
        Self::new(
            422,
            "Invalid",
            format!("{what} \"{}\" is invalid: {field}: {detail}", s.name),
        )
        .with_details(d)
    }

    /// 422 Invalid with a free-form message.
    pub fn invalid_msg(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 410 Expired (too old resourceVersion, expired continue token).
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", message)
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// 500 InternalError (reason left empty where the real server leaves it empty).
    pub fn internal(reason: &str, message: impl Into<String>) -> Self {
        Self::new(500, reason, message)
    }

    /// 504 Timeout.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// The `metav1.Status` body for this error.
    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = (**d).clone();
        }
        v
    }
}

/// A failure to open a persistent store or register a resource type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the state directory failed.
    #[error("failed to {action} {path}")]
    Io {
        /// What was being done (`read`, `write`, `create`, ...).
        action: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A committed record (not the last, possibly torn, line) does not parse.
    #[error("corrupt state file {path} at line {line}")]
    Corrupt {
        /// The file.
        path: std::path::PathBuf,
        /// 1-based line number.
        line: usize,
        /// Parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A YAML document does not parse.
    #[error("invalid yaml: {0}")]
    Yaml(String),
    /// The API server rejected an object (for example an invalid CRD).
    #[error("api server rejected the object")]
    Api(#[from] ApiError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

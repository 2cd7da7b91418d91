//! Conformance runners: replay EKS Anywhere's own test cases against anywhere.
//!
//! Purpose: `anywhere conformance api` runs a case catalogue in the format of
//! `conformance/eksa/cases/api.yaml`, and `anywhere conformance manifests` one in the format of
//! `manifests.yaml` (both described in that pack's `cases/README.md`), and report per case
//! whether anywhere reaches the reference's verdict for the reference's reason, or renders the
//! reference's golden objects. `schema` checks generated objects against the real CRD schemas;
//! `samples` renders every provider's sample spec (for snapshots and schema checks).
//!
//! Boundary: this crate is a test harness and does file I/O (case files and their inputs, looked
//! up in the `--data` directories in order). It only calls the public APIs of the spec, catalog,
//! manifests and inventory crates, exactly as the CLI does; it holds no parsing or validation
//! logic of its own beyond emulating the reference's call shapes (which document it reads, which
//! arguments it passes, which injections a case applies). It must not change the behaviour of
//! the crates it tests.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::fmt;
use std::path::{Path, PathBuf};

pub mod api;
mod compare;
pub mod manifests;
mod manifests_extra;
pub mod samples;
pub mod schema;

/// What happened to one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Same verdict, for the same reason.
    Passed,
    /// Different verdict or a different reason; the text says what differed.
    Failed(String),
    /// Not run; the text says why (e.g. it needs the network).
    Skipped(String),
}

/// The outcome of one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    /// The case id.
    pub id: String,
    /// What happened.
    pub status: Status,
    /// Notes that do not change the verdict (checks that could not be interpreted...).
    pub notes: Vec<String>,
    /// The error anywhere returned, when it returned one.
    pub error: Option<String>,
}

/// The outcome of a whole case file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// One entry per case, in file order.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// Every case, one line each, with the error anywhere returned: for reviewing that
    /// rejections happen for the right reason.
    pub fn detailed(&self) -> String {
        let mut out = String::new();
        for c in &self.cases {
            let status = match &c.status {
                Status::Passed => "pass".to_string(),
                Status::Failed(why) => format!("FAIL ({why})"),
                Status::Skipped(why) => format!("skip ({why})"),
            };
            out.push_str(&format!("{} {}", status, c.id));
            if let Some(e) = &c.error {
                out.push_str(&format!(": {e}"));
            }
            out.push('\n');
        }
        out
    }

    /// Number of passed cases.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.status == Status::Passed).count()
    }
    /// Number of failed cases.
    pub fn failed(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.status, Status::Failed(_)))
            .count()
    }
    /// Number of skipped cases.
    pub fn skipped(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.status, Status::Skipped(_)))
            .count()
    }
}

impl fmt::Display for Report {
    /// One line per failed or skipped case, then `N passed, M failed[, K skipped]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.cases {
            match &c.status {
                Status::Passed => {}
                Status::Failed(why) => writeln!(f, "FAIL {}: {}", c.id, why)?,
                Status::Skipped(why) => writeln!(f, "SKIP {}: {}", c.id, why)?,
            }
            for n in &c.notes {
                writeln!(f, "note {}: {}", c.id, n)?;
            }
        }
        write!(f, "{} passed, {} failed", self.passed(), self.failed())?;
        if self.skipped() > 0 {
            write!(f, ", {} skipped", self.skipped())?;
        }
        writeln!(f)
    }
}

/// Errors that stop a whole run (as opposed to failing one case).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The case file could not be read.
    #[error("failed to read case file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The case file is not in the expected format.
    #[error("case file {path} is not a case catalogue: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The directories a case's files are looked up in, in order.
#[derive(Clone, Debug, Default)]
pub struct DataDirs(pub Vec<PathBuf>);

impl DataDirs {
    /// The first existing `dir/rel`, if any.
    pub fn find(&self, rel: &str) -> Option<PathBuf> {
        self.0.iter().map(|d| d.join(rel)).find(|p| p.exists())
    }
}

fn read_case_file(path: &Path) -> Result<serde_json::Value, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = anywhere_api::document::text_of(&bytes).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    anywhere_api::document::parse_value(text, 1).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

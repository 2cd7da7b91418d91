//! Reading the files a user names: `-` is standard input; sizes are bounded before reading.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};

use anywhere_api::document::MAX_FILE_BYTES;

/// A file's name as shown in messages, and its bytes (at most one byte over the limit, so the
/// parser can report "too large" without the whole file in memory).
pub struct Input {
    /// `-` shows as `<stdin>`.
    pub name: String,
    /// The bytes read.
    pub bytes: Vec<u8>,
    /// The real size, which may be more than was read.
    pub size_bytes: u64,
}

/// Reads `path`, or standard input when it is `-`.
pub fn read(path: &str) -> Result<Input> {
    let limit = (MAX_FILE_BYTES + 1) as u64;
    let mut bytes = Vec::new();
    if path == "-" {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)
            .context("failed to read standard input")?;
        let size_bytes = bytes.len() as u64;
        return Ok(Input {
            name: "<stdin>".into(),
            bytes,
            size_bytes,
        });
    }
    let file = std::fs::File::open(Path::new(path)).with_context(|| format!("failed to open {path}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("failed to read {path}"))?;
    if meta.is_dir() {
        anyhow::bail!("{path} is a directory, not a spec file");
    }
    file.take(limit)
        .read_to_end(&mut bytes)
        .with_context(|| format!("failed to read {path}"))?;
    let size_bytes = meta.len().max(bytes.len() as u64);
    Ok(Input {
        name: path.to_string(),
        bytes,
        size_bytes,
    })
}

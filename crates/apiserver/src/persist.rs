//! Durable state: a snapshot plus an append-only JSON-lines log of committed writes.
//!
//! `snapshot.jsonl`: a header line `{"rv":N}` then one [`Record`] per object.
//! `log.jsonl`: one [`Record`] per committed write (object `o` absent for a removal), written
//! with one `write(2)` each (and `fdatasync` with [`Durability::Fsync`]). A torn last line (crash
//! mid-write) is ignored on open; records at or below the snapshot's RV are skipped (crash
//! between snapshot rename and log truncation). Compaction writes `snapshot.tmp`, syncs it,
//! renames it over the snapshot, then truncates the log.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// How hard each committed write is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `fdatasync` after every write: survives power loss.
    #[default]
    Fsync,
    /// One `write(2)` per commit, no sync: survives the process being killed (`kill -9`), not
    /// an operating-system crash. Much faster for fleet simulations.
    Process,
}

/// One log or snapshot line.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    /// resourceVersion of the write.
    pub rv: u64,
    /// API group.
    pub g: String,
    /// Plural resource.
    pub r: String,
    /// Namespace (`""` when cluster-scoped).
    #[serde(default)]
    pub ns: String,
    /// Name.
    pub name: String,
    /// The stored object; absent for a removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o: Option<Value>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    rv: u64,
}

/// The open log.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    file: File,
    durability: Durability,
    /// Writes since the last compaction.
    pub writes: usize,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What was on disk.
pub struct Loaded {
    /// Highest committed resourceVersion.
    pub rv: u64,
    /// Every write in order (snapshot objects first).
    pub records: Vec<Record>,
}

impl Log {
    /// Reads the state in `dir` (created if missing) and opens the log for appending.
    ///
    /// # Errors
    /// I/O failures, or a corrupt record that is not the last line of the log.
    pub fn open(dir: &Path, durability: Durability) -> Result<(Self, Loaded)> {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let mut records = Vec::new();
        let mut rv = 0;
        let snap = dir.join("snapshot.jsonl");
        if snap.exists() {
            let f = File::open(&snap).map_err(io("read", &snap))?;
            for (i, line) in BufReader::new(f).lines().enumerate() {
                let line = line.map_err(io("read", &snap))?;
                if i == 0 {
                    let h: Header = serde_json::from_str(&line).map_err(|source| Error::Corrupt {
                        path: snap.clone(),
                        line: 1,
                        source,
                    })?;
                    rv = h.rv;
                    continue;
                }
                let r: Record = serde_json::from_str(&line).map_err(|source| Error::Corrupt {
                    path: snap.clone(),
                    line: i + 1,
                    source,
                })?;
                records.push(r);
            }
        }
        let snapshot_rv = rv;
        let log_path = dir.join("log.jsonl");
        if log_path.exists() {
            let data = std::fs::read(&log_path).map_err(io("read", &log_path))?;
            let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
            let n = lines.len();
            for (i, line) in lines.into_iter().enumerate() {
                if line.is_empty() {
                    continue;
                }
                match serde_json::from_slice::<Record>(line) {
                    Ok(r) => {
                        if r.rv > snapshot_rv {
                            rv = rv.max(r.rv);
                            records.push(r);
                        }
                    }
                    // The last line may be torn by a crash mid-write: that write never committed.
                    Err(_) if i + 1 == n => {}
                    Err(source) => {
                        return Err(Error::Corrupt {
                            path: log_path.clone(),
                            line: i + 1,
                            source,
                        });
                    }
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io("open", &log_path))?;
        Ok((
            Self {
                dir: dir.to_path_buf(),
                file,
                durability,
                writes: 0,
            },
            Loaded { rv, records },
        ))
    }

    /// Appends one committed write.
    ///
    /// # Errors
    /// I/O failures; the write must then not be applied.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        let path = self.dir.join("log.jsonl");
        let mut line = serde_json::to_vec(record).map_err(|e| Error::Io {
            action: "encode",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(io("write", &path))?;
        if self.durability == Durability::Fsync {
            self.file.sync_data().map_err(io("sync", &path))?;
        }
        self.writes += 1;
        Ok(())
    }

    /// Writes a snapshot of every object at `rv` and empties the log.
    ///
    /// # Errors
    /// I/O failures (the old snapshot and log then stay valid).
    pub fn compact(&mut self, rv: u64, objects: impl Iterator<Item = Record>) -> Result<()> {
        let tmp = self.dir.join("snapshot.tmp");
        let snap = self.dir.join("snapshot.jsonl");
        {
            let f = File::create(&tmp).map_err(io("create", &tmp))?;
            let mut w = BufWriter::new(f);
            let enc = |e: serde_json::Error| Error::Io {
                action: "encode",
                path: tmp.clone(),
                source: e.into(),
            };
            serde_json::to_writer(&mut w, &Header { rv }).map_err(enc)?;
            w.write_all(b"\n").map_err(io("write", &tmp))?;
            for r in objects {
                serde_json::to_writer(&mut w, &r).map_err(enc)?;
                w.write_all(b"\n").map_err(io("write", &tmp))?;
            }
            let f = w.into_inner().map_err(|e| Error::Io {
                action: "write",
                path: tmp.clone(),
                source: e.into_error(),
            })?;
            f.sync_all().map_err(io("sync", &tmp))?;
        }
        std::fs::rename(&tmp, &snap).map_err(io("rename", &tmp))?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        let log_path = self.dir.join("log.jsonl");
        self.file.set_len(0).map_err(io("truncate", &log_path))?;
        self.file.sync_all().map_err(io("sync", &log_path))?;
        self.writes = 0;
        Ok(())
    }
}

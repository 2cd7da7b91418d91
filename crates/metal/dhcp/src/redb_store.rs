//! [`LeaseStore`] on a redb file: one table, MAC octets to `(ip, expiry unix seconds, state)`.
//!
//! Two write modes:
//! - write-through (the default, [`RedbLeaseStore::open`]): every `put`/`remove` is its own
//!   durable transaction (~170 us each on the CI machine: one fsync);
//! - group commit ([`RedbLeaseStore::group_commit`]): `put`/`remove` only record the change and
//!   [`LeaseStore::flush`] writes every pending change in one durable transaction. The shell
//!   flushes after each burst of packets and sends the burst's replies only afterwards, so an
//!   ACK never leaves before its lease is on disk, while one fsync covers many leases.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::config::Mac;
use crate::lease::{Lease, LeaseState, LeaseStore};
use crate::{Error, Result};

/// `mac -> (ipv4 as u32, expires as unix seconds, state)`.
const LEASES: TableDefinition<[u8; 6], (u32, u64, u8)> = TableDefinition::new("leases_v1");

const STATE_OFFERED: u8 = 0;
const STATE_BOUND: u8 = 1;

/// A stored row: `(ipv4, expires, state)`.
type Row = (u32, u64, u8);

/// Leases persisted in a redb database file.
pub struct RedbLeaseStore {
    db: Database,
    /// `Some` in group-commit mode: changes not yet durable (`None` = removal), latest wins.
    pending: Option<BTreeMap<[u8; 6], Option<Row>>>,
}

impl std::fmt::Debug for RedbLeaseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbLeaseStore")
            .field("group_commit", &self.pending.is_some())
            .finish_non_exhaustive()
    }
}

fn store_err(operation: &'static str) -> impl FnOnce(redb::Error) -> Error {
    move |e| Error::Store {
        operation,
        source: Box::new(e),
    }
}

fn row(lease: &Lease) -> Row {
    let expires = lease
        .expires
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let state = match lease.state {
        LeaseState::Offered => STATE_OFFERED,
        LeaseState::Bound => STATE_BOUND,
    };
    (u32::from(lease.ip), expires, state)
}

impl RedbLeaseStore {
    /// Opens the database at `path`, creating it (and its table) when absent. Writes go
    /// through: each `put`/`remove` is durable when it returns.
    ///
    /// # Errors
    /// [`Error::Store`] when the file cannot be opened or is not a redb database.
    pub fn open(path: &Path) -> Result<RedbLeaseStore> {
        let db = Database::create(path).map_err(|e| store_err("open")(e.into()))?;
        let txn = db.begin_write().map_err(|e| store_err("open")(e.into()))?;
        txn.open_table(LEASES).map_err(|e| store_err("open")(e.into()))?;
        txn.commit().map_err(|e| store_err("open")(e.into()))?;
        Ok(RedbLeaseStore { db, pending: None })
    }

    /// Switches to group commit: writes are deferred until [`LeaseStore::flush`]. Whoever
    /// holds the store must flush before acting on a write (the shell does, before replying).
    #[must_use]
    pub fn group_commit(mut self) -> RedbLeaseStore {
        self.pending.get_or_insert_with(BTreeMap::new);
        self
    }

    /// How many changes wait for [`LeaseStore::flush`] (always 0 when writing through).
    pub fn pending(&self) -> usize {
        self.pending.as_ref().map_or(0, BTreeMap::len)
    }

    /// Writes `changes` in one durable transaction.
    fn commit<'a>(
        &self,
        operation: &'static str,
        changes: impl IntoIterator<Item = (&'a [u8; 6], &'a Option<Row>)>,
    ) -> Result<()> {
        let err = |e: redb::Error| store_err(operation)(e);
        let txn = self.db.begin_write().map_err(|e| err(e.into()))?;
        {
            let mut table = txn.open_table(LEASES).map_err(|e| err(e.into()))?;
            for (mac, change) in changes {
                match change {
                    Some(row) => {
                        table.insert(*mac, *row).map_err(|e| err(e.into()))?;
                    }
                    None => {
                        table.remove(*mac).map_err(|e| err(e.into()))?;
                    }
                }
            }
        }
        txn.commit().map_err(|e| err(e.into()))
    }
}

impl LeaseStore for RedbLeaseStore {
    fn load(&self) -> Result<Vec<Lease>> {
        let err = |e: redb::Error| store_err("load")(e);
        let txn = self.db.begin_read().map_err(|e| err(e.into()))?;
        let table = txn.open_table(LEASES).map_err(|e| err(e.into()))?;
        let mut stored = BTreeMap::new();
        for row in table.iter().map_err(|e| err(e.into()))? {
            let (key, value) = row.map_err(|e| err(e.into()))?;
            stored.insert(key.value(), value.value());
        }
        // Pending changes are part of what this store holds.
        for (mac, change) in self.pending.iter().flatten() {
            match change {
                Some(row) => stored.insert(*mac, *row),
                None => stored.remove(mac),
            };
        }
        let mut leases = Vec::with_capacity(stored.len());
        for (key, (ip, expires, state)) in stored {
            let mac = Mac::new(key);
            let state = match state {
                STATE_OFFERED => LeaseState::Offered,
                STATE_BOUND => LeaseState::Bound,
                _ => return Err(Error::CorruptLease { mac }),
            };
            leases.push(Lease {
                mac,
                ip: Ipv4Addr::from(ip),
                expires: SystemTime::UNIX_EPOCH + Duration::from_secs(expires),
                state,
            });
        }
        Ok(leases)
    }

    fn put(&mut self, lease: &Lease) -> Result<()> {
        let key = lease.mac.octets();
        let change = Some(row(lease));
        match &mut self.pending {
            Some(pending) => {
                pending.insert(key, change);
                Ok(())
            }
            None => self.commit("put", [(&key, &change)]),
        }
    }

    fn remove(&mut self, mac: Mac) -> Result<()> {
        let key = mac.octets();
        match &mut self.pending {
            Some(pending) => {
                pending.insert(key, None);
                Ok(())
            }
            None => self.commit("remove", [(&key, &None)]),
        }
    }

    fn flush(&mut self) -> Result<()> {
        let Some(pending) = &self.pending else {
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        self.commit("flush", pending.iter())?;
        if let Some(pending) = &mut self.pending {
            pending.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(n: u8, secs: u64) -> Lease {
        Lease {
            mac: Mac::new([2, 0, 0, 0, 0, n]),
            ip: Ipv4Addr::new(10, 0, 0, n),
            expires: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            state: LeaseState::Bound,
        }
    }

    #[test]
    fn redb_store_keeps_leases_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leases.redb");
        {
            let mut store = RedbLeaseStore::open(&path).unwrap();
            store.put(&lease(1, 100)).unwrap();
            store.put(&lease(2, 200)).unwrap();
            store.put(&lease(3, 300)).unwrap();
            store.remove(Mac::new([2, 0, 0, 0, 0, 2])).unwrap();
            store.put(&lease(1, 150)).unwrap();
        }
        let store = RedbLeaseStore::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), vec![lease(1, 150), lease(3, 300)]);
    }

    #[test]
    fn group_commit_defers_writes_until_flush_and_then_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leases.redb");
        {
            let mut store = RedbLeaseStore::open(&path).unwrap().group_commit();
            store.put(&lease(1, 100)).unwrap();
            store.put(&lease(2, 200)).unwrap();
            store.remove(Mac::new([2, 0, 0, 0, 0, 2])).unwrap();
            store.put(&lease(3, 300)).unwrap();
            // What the store holds includes the pending changes...
            assert_eq!(store.load().unwrap(), vec![lease(1, 100), lease(3, 300)]);
            assert_eq!(store.pending(), 3);
        }
        // ...but without a flush nothing reached the file (a crash loses only unflushed
        // changes, whose replies the shell never sent).
        assert_eq!(RedbLeaseStore::open(&path).unwrap().load().unwrap(), vec![]);
        {
            let mut store = RedbLeaseStore::open(&path).unwrap().group_commit();
            store.put(&lease(1, 100)).unwrap();
            store.put(&lease(3, 300)).unwrap();
            store.flush().unwrap();
            assert_eq!(store.pending(), 0);
            store.put(&lease(1, 150)).unwrap();
            store.remove(Mac::new([2, 0, 0, 0, 0, 3])).unwrap();
            store.flush().unwrap();
            store.flush().unwrap(); // nothing pending: no-op
        }
        let store = RedbLeaseStore::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), vec![lease(1, 150)]);
    }

    #[test]
    fn redb_store_rejects_a_file_that_is_not_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leases.redb");
        std::fs::write(&path, b"not a database at all, certainly not redb").unwrap();
        assert!(matches!(
            RedbLeaseStore::open(&path),
            Err(Error::Store {
                operation: "open",
                ..
            })
        ));
    }
}

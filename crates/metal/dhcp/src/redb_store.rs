//! [`LeaseStore`] on a redb file: one table, MAC octets to `(ip, expiry unix seconds, state)`.
//! Every `put`/`remove` is its own durable transaction.

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

/// Leases persisted in a redb database file.
pub struct RedbLeaseStore {
    db: Database,
}

impl std::fmt::Debug for RedbLeaseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbLeaseStore").finish_non_exhaustive()
    }
}

fn store_err(operation: &'static str) -> impl FnOnce(redb::Error) -> Error {
    move |e| Error::Store {
        operation,
        source: Box::new(e),
    }
}

impl RedbLeaseStore {
    /// Opens the database at `path`, creating it (and its table) when absent.
    ///
    /// # Errors
    /// [`Error::Store`] when the file cannot be opened or is not a redb database.
    pub fn open(path: &Path) -> Result<RedbLeaseStore> {
        let db = Database::create(path).map_err(|e| store_err("open")(e.into()))?;
        let txn = db.begin_write().map_err(|e| store_err("open")(e.into()))?;
        txn.open_table(LEASES).map_err(|e| store_err("open")(e.into()))?;
        txn.commit().map_err(|e| store_err("open")(e.into()))?;
        Ok(RedbLeaseStore { db })
    }
}

impl LeaseStore for RedbLeaseStore {
    fn load(&self) -> Result<Vec<Lease>> {
        let err = |e: redb::Error| store_err("load")(e);
        let txn = self.db.begin_read().map_err(|e| err(e.into()))?;
        let table = txn.open_table(LEASES).map_err(|e| err(e.into()))?;
        let mut leases = Vec::new();
        for row in table.iter().map_err(|e| err(e.into()))? {
            let (key, value) = row.map_err(|e| err(e.into()))?;
            let mac = Mac::new(key.value());
            let (ip, expires, state) = value.value();
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
        let err = |e: redb::Error| store_err("put")(e);
        let expires = lease
            .expires
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let state = match lease.state {
            LeaseState::Offered => STATE_OFFERED,
            LeaseState::Bound => STATE_BOUND,
        };
        let txn = self.db.begin_write().map_err(|e| err(e.into()))?;
        {
            let mut table = txn.open_table(LEASES).map_err(|e| err(e.into()))?;
            table
                .insert(lease.mac.octets(), (u32::from(lease.ip), expires, state))
                .map_err(|e| err(e.into()))?;
        }
        txn.commit().map_err(|e| err(e.into()))
    }

    fn remove(&mut self, mac: Mac) -> Result<()> {
        let err = |e: redb::Error| store_err("remove")(e);
        let txn = self.db.begin_write().map_err(|e| err(e.into()))?;
        {
            let mut table = txn.open_table(LEASES).map_err(|e| err(e.into()))?;
            table.remove(mac.octets()).map_err(|e| err(e.into()))?;
        }
        txn.commit().map_err(|e| err(e.into()))
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

//! Leases: the persistence port ([`LeaseStore`]), its in-memory implementation, and the
//! in-memory lease table the core decides from (the store is written through, never read per
//! packet: a database round trip per lookup is what capped dora at ~5k leases/s).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::SystemTime;

use crate::Result;
use crate::config::{Mac, Pool};

/// Where a lease is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseState {
    /// Offered, held until the client's REQUEST or `offer_hold` passes. Never persisted.
    Offered,
    /// Acknowledged to the client.
    Bound,
}

/// An address held by a client until `expires`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The client.
    pub mac: Mac,
    /// Its address.
    pub ip: Ipv4Addr,
    /// When the address becomes free again.
    pub expires: SystemTime,
    /// Offered or bound.
    pub state: LeaseState,
}

impl Lease {
    /// Whether the lease still holds its address at `now`.
    pub fn is_active(&self, now: SystemTime) -> bool {
        self.expires > now
    }
}

/// Persistence of bound leases, so a restart keeps them. The core keeps its own in-memory
/// table and writes through this port; it reads the store only once, at start.
pub trait LeaseStore {
    /// Every stored lease.
    ///
    /// # Errors
    /// [`crate::Error::Store`] or [`crate::Error::CorruptLease`].
    fn load(&self) -> Result<Vec<Lease>>;
    /// Stores `lease`, replacing the MAC's previous one.
    ///
    /// # Errors
    /// [`crate::Error::Store`].
    fn put(&mut self, lease: &Lease) -> Result<()>;
    /// Forgets the MAC's lease, if any.
    ///
    /// # Errors
    /// [`crate::Error::Store`].
    fn remove(&mut self, mac: Mac) -> Result<()>;
    /// Makes every earlier [`put`](LeaseStore::put) and [`remove`](LeaseStore::remove) durable.
    /// A store may defer its writes until here (group commit); the shell calls it after each
    /// burst of packets and sends no reply of that burst before it returns `Ok`. Writes that
    /// could not be made durable stay pending and are retried by the next call.
    ///
    /// # Errors
    /// [`crate::Error::Store`].
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A [`LeaseStore`] that keeps leases in memory (tests, and deployments that accept losing
/// leases on restart).
#[derive(Clone, Debug, Default)]
pub struct MemoryLeaseStore {
    leases: BTreeMap<Mac, Lease>,
}

impl MemoryLeaseStore {
    /// An empty store.
    pub fn new() -> MemoryLeaseStore {
        MemoryLeaseStore::default()
    }
}

impl LeaseStore for MemoryLeaseStore {
    fn load(&self) -> Result<Vec<Lease>> {
        Ok(self.leases.values().cloned().collect())
    }

    fn put(&mut self, lease: &Lease) -> Result<()> {
        self.leases.insert(lease.mac, lease.clone());
        Ok(())
    }

    fn remove(&mut self, mac: Mac) -> Result<()> {
        self.leases.remove(&mac);
        Ok(())
    }
}

/// The in-memory lease table, indexed both ways. Invariant: `by_ip[l.ip] == l.mac` for every
/// lease `l` in `by_mac`, and no two leases share an address.
#[derive(Debug, Default)]
pub(crate) struct LeaseTable {
    by_mac: HashMap<Mac, Lease>,
    by_ip: HashMap<Ipv4Addr, Mac>,
    /// Addresses a client declined (RFC 2131 DHCPDECLINE), unusable until the time given.
    declined: BTreeMap<Ipv4Addr, SystemTime>,
    /// Where the next pool scan starts.
    next_scan: Option<Ipv4Addr>,
}

/// What allocation must avoid besides other leases.
pub(crate) struct Exclusions<'a> {
    /// Reserved addresses (of inventoried machines).
    pub reserved: &'a BTreeSet<Ipv4Addr>,
    /// The server's own address.
    pub server_ip: Ipv4Addr,
}

impl LeaseTable {
    /// A table from stored leases. When two stored leases claim one address (a corrupt or
    /// hand-edited store), the one expiring last wins.
    pub(crate) fn from_leases(mut leases: Vec<Lease>) -> LeaseTable {
        leases.sort_by_key(|l| l.expires);
        let mut table = LeaseTable::default();
        for lease in leases {
            table.insert(lease);
        }
        table
    }

    pub(crate) fn get(&self, mac: Mac) -> Option<&Lease> {
        self.by_mac.get(&mac)
    }

    /// All leases, in MAC order.
    pub(crate) fn leases(&self) -> Vec<Lease> {
        let mut all: Vec<Lease> = self.by_mac.values().cloned().collect();
        all.sort_by_key(|l| l.mac);
        all
    }

    /// Records `lease`, replacing its MAC's previous lease and evicting any other MAC's lease
    /// on the same address. Returns the evicted MAC, which the caller must also forget in the
    /// store.
    pub(crate) fn insert(&mut self, lease: Lease) -> Option<Mac> {
        if let Some(old) = self.by_mac.remove(&lease.mac) {
            self.by_ip.remove(&old.ip);
        }
        let evicted = self.by_ip.insert(lease.ip, lease.mac);
        if let Some(other) = evicted {
            self.by_mac.remove(&other);
        }
        self.by_mac.insert(lease.mac, lease);
        evicted
    }

    pub(crate) fn remove(&mut self, mac: Mac) -> Option<Lease> {
        let lease = self.by_mac.remove(&mac)?;
        self.by_ip.remove(&lease.ip);
        Some(lease)
    }

    /// Marks `ip` unusable until `until`.
    pub(crate) fn decline(&mut self, ip: Ipv4Addr, until: SystemTime) {
        self.declined.insert(ip, until);
    }

    /// The MAC holding `ip` with an active lease at `now`.
    pub(crate) fn holder(&self, ip: Ipv4Addr, now: SystemTime) -> Option<Mac> {
        let mac = self.by_ip.get(&ip)?;
        self.by_mac.get(mac).filter(|l| l.is_active(now)).map(|l| l.mac)
    }

    /// Whether `mac` may be given `ip` from `pool` at `now`.
    pub(crate) fn is_free_for(
        &self,
        ip: Ipv4Addr,
        mac: Mac,
        pool: &Pool,
        exclude: &Exclusions<'_>,
        now: SystemTime,
    ) -> bool {
        let host_bits = !u32::from(pool.netmask);
        let host = u32::from(ip) & host_bits;
        pool.contains(ip)
            && ip != exclude.server_ip
            && !exclude.reserved.contains(&ip)
            && (host_bits == 0 || (host != 0 && host != host_bits))
            && self.declined.get(&ip).is_none_or(|until| *until <= now)
            && self.holder(ip, now).is_none_or(|holder| holder == mac)
    }

    /// A pool address for `mac`: its current one, else the requested one, else the next free
    /// one after the last address found by scanning (next fit, so a scan does not restart from
    /// the start of a busy pool each time). Never a reserved, declined, server or other
    /// client's active address.
    pub(crate) fn allocate(
        &mut self,
        mac: Mac,
        requested: Option<Ipv4Addr>,
        pool: &Pool,
        exclude: &Exclusions<'_>,
        now: SystemTime,
    ) -> Option<Ipv4Addr> {
        let current = self.get(mac).map(|l| l.ip);
        if let Some(ip) = current
            .into_iter()
            .chain(requested)
            .find(|ip| self.is_free_for(*ip, mac, pool, exclude, now))
        {
            return Some(ip);
        }
        let (start, end) = (u32::from(pool.start), u32::from(pool.end));
        let hint = self
            .next_scan
            .map(u32::from)
            .filter(|h| (start..=end).contains(h))
            .unwrap_or(start);
        let found = (hint..=end)
            .chain(start..hint)
            .map(Ipv4Addr::from)
            .find(|ip| self.is_free_for(*ip, mac, pool, exclude, now))?;
        self.next_scan = Some(Ipv4Addr::from(u32::from(found).wrapping_add(1)));
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn mac(n: u8) -> Mac {
        Mac::new([2, 0, 0, 0, 0, n])
    }

    fn pool() -> Pool {
        Pool {
            start: Ipv4Addr::new(10, 0, 0, 100),
            end: Ipv4Addr::new(10, 0, 0, 103),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            gateway: None,
            nameservers: vec![],
        }
    }

    fn lease(m: u8, ip: Ipv4Addr, expires: u64) -> Lease {
        Lease {
            mac: mac(m),
            ip,
            expires: t(expires),
            state: LeaseState::Bound,
        }
    }

    #[test]
    fn allocation_skips_reserved_server_and_leased_addresses() {
        let reserved = BTreeSet::from([Ipv4Addr::new(10, 0, 0, 100)]);
        let exclude = Exclusions {
            reserved: &reserved,
            server_ip: Ipv4Addr::new(10, 0, 0, 101),
        };
        let mut table = LeaseTable::default();
        table.insert(lease(1, Ipv4Addr::new(10, 0, 0, 102), 100));
        let got = table.allocate(mac(2), None, &pool(), &exclude, t(10));
        assert_eq!(got, Some(Ipv4Addr::new(10, 0, 0, 103)));
    }

    #[test]
    fn allocation_reuses_an_expired_address_and_the_table_evicts_its_old_holder() {
        let reserved = BTreeSet::new();
        let exclude = Exclusions {
            reserved: &reserved,
            server_ip: Ipv4Addr::new(10, 0, 0, 1),
        };
        let mut table = LeaseTable::default();
        for (m, host) in [(1, 100), (2, 101), (3, 102), (4, 103)] {
            table.insert(lease(m, Ipv4Addr::new(10, 0, 0, host), 50));
        }
        assert_eq!(table.allocate(mac(9), None, &pool(), &exclude, t(10)), None);
        let ip = table.allocate(mac(9), None, &pool(), &exclude, t(60));
        assert_eq!(ip, Some(Ipv4Addr::new(10, 0, 0, 100)));
        let evicted = table.insert(lease(9, Ipv4Addr::new(10, 0, 0, 100), 200));
        assert_eq!(evicted, Some(mac(1)));
        assert!(table.get(mac(1)).is_none());
    }

    #[test]
    fn allocation_prefers_current_then_requested_address() {
        let reserved = BTreeSet::new();
        let exclude = Exclusions {
            reserved: &reserved,
            server_ip: Ipv4Addr::new(10, 0, 0, 1),
        };
        let mut table = LeaseTable::default();
        let requested = Some(Ipv4Addr::new(10, 0, 0, 103));
        assert_eq!(
            table.allocate(mac(1), requested, &pool(), &exclude, t(0)),
            requested
        );
        table.insert(lease(1, Ipv4Addr::new(10, 0, 0, 101), 100));
        let got = table.allocate(mac(1), requested, &pool(), &exclude, t(0));
        assert_eq!(got, Some(Ipv4Addr::new(10, 0, 0, 101)));
    }

    #[test]
    fn declined_address_is_skipped_until_quarantine_ends() {
        let reserved = BTreeSet::new();
        let exclude = Exclusions {
            reserved: &reserved,
            server_ip: Ipv4Addr::new(10, 0, 0, 1),
        };
        let mut table = LeaseTable::default();
        table.decline(Ipv4Addr::new(10, 0, 0, 100), t(100));
        let got = table.allocate(mac(1), None, &pool(), &exclude, t(0));
        assert_eq!(got, Some(Ipv4Addr::new(10, 0, 0, 101)));
        let declined = Ipv4Addr::new(10, 0, 0, 100);
        assert!(!table.is_free_for(declined, mac(2), &pool(), &exclude, t(99)));
        assert!(table.is_free_for(declined, mac(2), &pool(), &exclude, t(100)));
    }

    #[test]
    fn pool_scan_continues_after_the_last_address_found_and_wraps() {
        let reserved = BTreeSet::new();
        let exclude = Exclusions {
            reserved: &reserved,
            server_ip: Ipv4Addr::new(10, 0, 0, 1),
        };
        let mut table = LeaseTable::default();
        let mut got = Vec::new();
        for m in 1..=5 {
            let ip = table.allocate(mac(m), None, &pool(), &exclude, t(0));
            if let Some(ip) = ip {
                table.insert(lease(m, ip, 10));
            }
            got.push(ip.map(|ip| ip.octets()[3]));
        }
        assert_eq!(got, [Some(100), Some(101), Some(102), Some(103), None]);
        // .101 frees up: the scan wraps around to find it.
        table.remove(mac(2));
        let ip = table.allocate(mac(6), None, &pool(), &exclude, t(0));
        assert_eq!(ip, Some(Ipv4Addr::new(10, 0, 0, 101)));
    }

    #[test]
    fn network_and_broadcast_addresses_are_never_allocated() {
        let reserved = BTreeSet::new();
        let exclude = Exclusions {
            reserved: &reserved,
            server_ip: Ipv4Addr::new(10, 0, 1, 1),
        };
        let pool = Pool {
            start: Ipv4Addr::new(10, 0, 0, 255),
            end: Ipv4Addr::new(10, 0, 1, 0),
            ..pool()
        };
        let mut table = LeaseTable::default();
        assert_eq!(table.allocate(mac(1), None, &pool, &exclude, t(0)), None);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Allocate {
            mac: u8,
            requested: Option<u8>,
            hold: u64,
        },
        Remove {
            mac: u8,
        },
        Decline {
            host: u8,
        },
        Tick {
            secs: u64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..12, proptest::option::of(95u8..110), 1u64..50)
                .prop_map(|(mac, requested, hold)| Op::Allocate { mac, requested, hold }),
            1 => (0u8..12).prop_map(|mac| Op::Remove { mac }),
            1 => (95u8..110).prop_map(|host| Op::Decline { host }),
            1 => (1u64..30).prop_map(|secs| Op::Tick { secs }),
        ]
    }

    proptest! {
        /// Whatever the sequence of allocations, releases, declines and time passing, no two
        /// active leases share an address and none is reserved, the server's or outside the pool.
        #[test]
        fn allocation_never_hands_out_a_duplicate_or_reserved_address(
            ops in proptest::collection::vec(op(), 1..200),
            reserved_hosts in proptest::collection::btree_set(98u8..106, 0..4),
        ) {
            let pool = Pool {
                start: Ipv4Addr::new(10, 0, 0, 98),
                end: Ipv4Addr::new(10, 0, 0, 107),
                ..pool()
            };
            let reserved: BTreeSet<Ipv4Addr> =
                reserved_hosts.iter().map(|h| Ipv4Addr::new(10, 0, 0, *h)).collect();
            let exclude = Exclusions { reserved: &reserved, server_ip: Ipv4Addr::new(10, 0, 0, 99) };
            let mut table = LeaseTable::default();
            let mut now = t(1000);
            for op in ops {
                match op {
                    Op::Allocate { mac: m, requested, hold } => {
                        let requested = requested.map(|h| Ipv4Addr::new(10, 0, 0, h));
                        if let Some(ip) = table.allocate(mac(m), requested, &pool, &exclude, now) {
                            if let Some(holder) = table.holder(ip, now) {
                                prop_assert_eq!(holder, mac(m), "{} handed to a second client", ip);
                            }
                            table.insert(Lease {
                                mac: mac(m),
                                ip,
                                expires: now + Duration::from_secs(hold),
                                state: LeaseState::Bound,
                            });
                        }
                    }
                    Op::Remove { mac: m } => {
                        table.remove(mac(m));
                    }
                    Op::Decline { host } => {
                        table.decline(Ipv4Addr::new(10, 0, 0, host), now + Duration::from_secs(20));
                    }
                    Op::Tick { secs } => now += Duration::from_secs(secs),
                }
                let active: Vec<Lease> =
                    table.leases().into_iter().filter(|l| l.is_active(now)).collect();
                let ips: BTreeSet<Ipv4Addr> = active.iter().map(|l| l.ip).collect();
                prop_assert_eq!(ips.len(), active.len(), "duplicate address in {:?}", active);
                for l in &active {
                    prop_assert!(pool.contains(l.ip));
                    prop_assert!(!reserved.contains(&l.ip), "reserved {} leased", l.ip);
                    prop_assert_ne!(l.ip, exclude.server_ip);
                }
            }
        }
    }
}

//! Time: an injectable [`Clock`] and the simulated durations ([`Timings`]).
//!
//! Due times are stored on the objects as Unix milliseconds (annotations), so a simulator
//! restarted on the same store resumes the same schedule; the clock must therefore be a wall
//! clock or a test clock shared across restarts.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to (unit tests of time-dependent decisions). The
/// simulator still sleeps in real time between reconciles, so call
/// [`crate::Simulator::resync`] after [`ManualClock::advance`].
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut n = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *n += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Simulated durations, before the speed factor. Defaults are CAPI's in-memory provider's:
/// VM 10 s, node 2 s, etcd 2 s, API server 2 s, jitter 0.2, and a drain of 1 s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timings {
    /// From bootstrap data to provisioned infrastructure (providerID set).
    pub vm: Duration,
    /// From provisioned infrastructure to a Ready Node (control-plane machines also start
    /// their etcd and API server pods in this window).
    pub node: Duration,
    /// Extra time a control-plane machine needs for etcd and the API server.
    pub control_plane_components: Duration,
    /// Draining a Node before a Machine is deleted.
    pub drain: Duration,
    /// Uniform jitter as a fraction of each duration (0.2 = up to +20%).
    pub jitter: f64,
    /// Global speed factor: every duration is divided by it (1.0 = real CAPI timings,
    /// 1000.0 = a 10 s VM takes 10 ms).
    pub speed: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            vm: Duration::from_secs(10),
            node: Duration::from_secs(2),
            control_plane_components: Duration::from_secs(2),
            drain: Duration::from_secs(1),
            jitter: 0.2,
            speed: 1.0,
        }
    }
}

impl Timings {
    /// Default durations run `speed` times faster.
    pub fn with_speed(speed: f64) -> Self {
        Self {
            speed,
            ..Self::default()
        }
    }

    /// `base` scaled by the speed factor, plus deterministic jitter derived from `seed`
    /// (typically the machine name), so a restarted simulator computes the same delay.
    pub fn scaled(&self, base: Duration, seed: &str) -> Duration {
        let speed = if self.speed.is_finite() && self.speed > 0.0 {
            self.speed
        } else {
            1.0
        };
        let jitter = self.jitter.clamp(0.0, 10.0) * unit_fraction(seed);
        base.mul_f64((1.0 + jitter) / speed)
    }
}

/// A number in `[0, 1)` derived from a string (FNV-1a).
pub fn unit_fraction(seed: &str) -> f64 {
    (fnv(seed.as_bytes()) % 10_000) as f64 / 10_000.0
}

/// FNV-1a 64-bit hash (stable across runs and platforms).
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Unix milliseconds of a time.
pub fn to_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The time of Unix milliseconds.
pub fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// RFC 3339 with whole seconds and `Z` (Kubernetes `metav1.Time`).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

// Howard Hinnant's days -> civil date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_whole_seconds() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            "2023-11-14T22:13:20Z"
        );
    }

    #[test]
    fn scaled_durations_are_deterministic_and_bounded() {
        let t = Timings::with_speed(10.0);
        let a = t.scaled(Duration::from_secs(10), "m1");
        assert_eq!(a, t.scaled(Duration::from_secs(10), "m1"));
        assert!(a >= Duration::from_secs(1) && a <= Duration::from_millis(1200));
    }
}

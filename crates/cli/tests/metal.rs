//! `anywhere metal timeline` and `anywhere metal serve` failure paths end to end: an empty or
//! missing timeline store gives a clear message and exit 1; an invalid serve config exits
//! non-zero naming the bad field's path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

/// Generous guard against hangs; not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(60);
const MAC: &str = "52:54:00:00:00:01";

fn anywhere() -> Command {
    let mut c = Command::cargo_bin("anywhere").expect("binary is built");
    c.timeout(HANG_GUARD);
    c
}

#[test]
fn timeline_of_an_empty_store_says_nothing_is_recorded_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timeline.redb");
    drop(anywhere_metal::TimelineStore::open(&path).unwrap());
    anywhere()
        .args(["metal", "timeline", MAC, "--store"])
        .arg(&path)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(format!("no events recorded for {MAC}")));
}

#[test]
fn timeline_of_a_missing_store_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.redb");
    anywhere()
        .args(["metal", "timeline", MAC, "--store"])
        .arg(&path)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no timeline store at"));
    assert!(!path.exists());
}

#[test]
fn timeline_prints_recorded_events_relative_to_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timeline.redb");
    {
        let store = anywhere_metal::TimelineStore::open(&path).unwrap();
        let start = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mac = MAC.parse().unwrap();
        for (ms, kind) in [(0, "dhcp offer 10.0.0.10"), (1_500, "http script")] {
            let entry = anywhere_metal::Entry {
                at: start + Duration::from_millis(ms),
                kind: kind.into(),
            };
            store.record(mac, &entry).unwrap();
        }
    }
    anywhere()
        .args(["metal", "timeline", &MAC.to_uppercase(), "--store"])
        .arg(&path)
        .assert()
        .success()
        .stdout("+0.000s dhcp offer 10.0.0.10\n+1.500s http script\n");
}

#[test]
fn timeline_rejects_an_invalid_mac() {
    anywhere()
        .args(["metal", "timeline", "not-a-mac", "--store", "x.redb"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("invalid MAC address"));
}

#[test]
fn serve_with_an_invalid_config_exits_non_zero_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serve.yaml");
    std::fs::write(
        &path,
        "serverIp: 127.0.0.1\n\
         listen:\n  dhcp: not-an-address\n\
         hardwareCsv: hardware.csv\n\
         artifacts: artifacts\n\
         netboot:\n  kernel: vmlinuz\n\
         leaseStore: leases.redb\n\
         timelineStore: timeline.redb\n",
    )
    .unwrap();
    anywhere()
        .args(["metal", "serve", "-f"])
        .arg(&path)
        .assert()
        .failure()
        .stderr(predicate::str::contains("invalid serve config"))
        .stderr(predicate::str::contains("listen.dhcp"));
}

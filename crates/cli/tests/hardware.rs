//! `anywhere generate hardware` end to end: CSV in, Tinkerbell/Rufio objects out, every CSV
//! problem on its own line with file, row and column, and BMC passwords never echoed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

/// Generous guard against hangs; not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(60);

const HEADER: &str =
    "hostname,bmc_ip,bmc_username,bmc_password,mac,ip_address,netmask,gateway,nameservers,labels,disk";
const PASSWORD: &str = "Hunter2-secret";

fn anywhere() -> Command {
    let mut c = Command::cargo_bin("anywhere").expect("binary is built");
    c.timeout(HANG_GUARD);
    c
}

/// Writes `rows` under the header into a fresh directory; returns the directory guard and path.
fn csv(rows: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hardware.csv");
    std::fs::write(&path, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    (dir, path)
}

fn cp1() -> String {
    format!(
        "cp1,192.168.0.10,admin,{PASSWORD},00:00:00:00:00:01,10.10.10.10,255.255.255.0,10.10.10.1,1.1.1.1,type=cp,/dev/sda"
    )
}

const WORKER1: &str =
    "worker1,,,,00:00:00:00:00:02,10.10.10.11,255.255.255.0,10.10.10.1,1.1.1.1|8.8.8.8,type=worker,/dev/sda";

/// The documents of a multi-document YAML stream.
fn documents(yaml: &str) -> Vec<Value> {
    anywhere_api::document::split_documents(yaml, anywhere_api::document::Split::Lenient)
        .unwrap()
        .into_iter()
        .map(|d| anywhere_api::document::parse_value(&d.text, d.line).unwrap())
        .collect()
}

fn kinds_and_names(docs: &[Value]) -> Vec<(String, String)> {
    docs.iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["metadata"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn stderr_of(path: &Path) -> (Option<i32>, String, String) {
    let out = anywhere()
        .args(["generate", "hardware", "-z"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn valid_csv_prints_hardware_and_bmc_objects_in_catalogue_order() {
    let (_dir, path) = csv(&[&cp1(), WORKER1]);
    let out = anywhere()
        .args(["generate", "hardware", "--hardware-csv"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let docs = documents(&String::from_utf8(out.stdout).unwrap());
    let expected: Vec<(String, String)> = [
        ("Hardware", "cp1"),
        ("Machine", "bmc-cp1"),
        ("Secret", "bmc-cp1-auth"),
        ("Hardware", "worker1"),
    ]
    .iter()
    .map(|(k, n)| (k.to_string(), n.to_string()))
    .collect();
    assert_eq!(kinds_and_names(&docs), expected);
    assert_eq!(docs[0]["spec"]["bmcRef"]["name"], "bmc-cp1");
    assert_eq!(
        docs[0]["spec"]["interfaces"][0]["dhcp"]["mac"],
        "00:00:00:00:00:01"
    );
    assert_eq!(docs[1]["spec"]["connection"]["host"], "192.168.0.10");
    // The Secret carries the password, base64-encoded, as EKS-A's does.
    assert_eq!(docs[2]["data"]["password"], "SHVudGVyMi1zZWNyZXQ=");
    assert_eq!(
        docs[3]["spec"]["interfaces"][0]["dhcp"]["name_servers"][1],
        "8.8.8.8"
    );
}

#[test]
fn output_flag_writes_the_file_and_creates_directories() {
    let (dir, path) = csv(&[&cp1()]);
    let target = dir.path().join("out/nested/hardware.yaml");
    anywhere()
        .args(["generate", "hardware", "-z"])
        .arg(&path)
        .arg("-o")
        .arg(&target)
        .assert()
        .success()
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("wrote 3 objects"));
    let docs = documents(&std::fs::read_to_string(&target).unwrap());
    assert_eq!(docs.len(), 3);
}

#[test]
fn duplicate_mac_exits_1_naming_file_row_and_column_without_the_password() {
    let dup = WORKER1.replace("00:00:00:00:00:02", "00:00:00:00:00:01");
    let (_dir, path) = csv(&[&cp1(), &dup]);
    let (code, stdout, stderr) = stderr_of(&path);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stdout.is_empty(),
        "nothing is generated from an invalid CSV: {stdout}"
    );
    let file = path.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{file}: row 2, column mac: duplicate mac 00:00:00:00:00:01"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

#[test]
fn every_problem_is_on_its_own_line_and_passwords_stay_hidden() {
    // Row 1: BMC without username; row 2: bad IP, bad netmask, same BMC IP as row 1.
    let no_user = cp1().replace(",admin,", ",,");
    let bad = format!(
        "w2,192.168.0.10,root,{PASSWORD},00:00:00:00:00:09,10.10.10,255.0.255.0,10.10.10.1,1.1.1.1,,/dev/sda"
    );
    let (_dir, path) = csv(&[&no_user, &bad]);
    let (code, _, stderr) = stderr_of(&path);
    assert_eq!(code, Some(1), "{stderr}");
    let file = path.display().to_string();
    for expected in [
        "row 1, column bmc_username: ",
        "row 2, column ip_address: ",
        "row 2, column netmask: ",
        "row 2, column bmc_ip: ",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("{file}: {expected}"))),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(stderr.contains("4 problems found"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

#[test]
fn missing_file_is_a_clear_error() {
    anywhere()
        .args(["generate", "hardware", "-z", "/nonexistent/hardware.csv"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "failed to read hardware csv /nonexistent/hardware.csv",
        ));
}

#[test]
fn hardware_csv_flag_is_required() {
    anywhere()
        .args(["generate", "hardware"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--hardware-csv"));
}

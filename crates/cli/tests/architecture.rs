//! The invariants of ARCHITECTURE.md that a machine can check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Crates the pure core must never pull in, directly or through a dependency.
const FORBIDDEN_IN_CORE: &[&str] = &[
    "tokio",
    "kube",
    "kube-client",
    "reqwest",
    "hyper",
    "k8s-openapi",
    "axum",
];
const CORE: &[&str] = &[
    "anywhere-api",
    "anywhere-catalog",
    "anywhere-manifests",
    "anywhere-inventory",
];

#[test]
fn pure_crates_depend_on_no_runtime_or_client() {
    for core in CORE {
        let names: BTreeSet<String> = normal_dependencies(core)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect();
        assert!(names.contains(*core), "cargo tree did not list {core}");
        for name in &names {
            assert!(
                !FORBIDDEN_IN_CORE.contains(&name.as_str()),
                "{core} depends on {name}, which the pure core must not"
            );
        }
    }
}

#[test]
fn pure_crates_do_no_file_or_environment_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for dir in [
        "crates/api/src",
        "crates/catalog/src",
        "crates/manifests/src",
        "crates/inventory/src",
    ] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                // Code before the unit-test module is library code; comments may name anything.
                let lib: String = text
                    .split("#[cfg(test)]")
                    .next()
                    .unwrap_or("")
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect::<Vec<_>>()
                    .join("\n");
                for banned in [
                    "std::fs",
                    "std::env::var",
                    "TcpStream",
                    "UdpSocket",
                    "ToSocketAddrs",
                    "std::process",
                    "SystemTime::now",
                    "Instant::now",
                ] {
                    assert!(
                        !lib.contains(banned),
                        "{} uses {banned}: the pure core does no I/O",
                        p.display()
                    );
                }
            }
        }
    }
}

/// `cargo tree` of a package's normal dependencies, transitively, for this platform (what ships
/// in the binary), one package per line.
fn normal_dependencies(package: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(&cargo)
        .args([
            "tree",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
            "--locked",
        ])
        .current_dir(&root)
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_engine_does_not_depend_on_its_test_ground() {
    let text = normal_dependencies("anywhere-engine");
    for forbidden in ["anywhere-apiserver", "anywhere-capi-sim"] {
        assert!(
            !text.lines().any(|l| l.starts_with(forbidden)),
            "anywhere-engine depends on {forbidden}: the simulated plane is for tests, benchmarks and --simulate only"
        );
    }
}

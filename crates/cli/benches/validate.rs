//! Benchmark of `anywhere validate` (results in docs/benchmarks.md).
//!
//! Run: `cargo bench -p anywhere --bench validate`
//!
//! 1. In process, on one thread: parse + default + validate (+ the catalog's version check) of a
//!    5-document vSphere spec, as many times as fit in the measuring window; reports specs/s.
//! 2. As a whole process: `anywhere validate -f spec.yaml` run repeatedly; reports median and
//!    95th-percentile wall time, which includes process start, catalog load and output.
//!
//! There is no peer to compare with here: EKS Anywhere's CLI needs Docker to run at all.
//! Timing is printed, never asserted (tests stay free of timing).

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use anywhere_api::generate::{Provider, sample};
use anywhere_api::{Reading, defaults, parse_config_set, validate};

struct NoDns;
impl validate::Resolver for NoDns {
    fn resolves(&self, _host: &str) -> bool {
        false
    }
}

fn main() {
    let spec = sample("bench", Provider::VSphere, "1.31").to_yaml();
    let documents = spec.matches("\n---\n").count() + 1;
    let catalog = anywhere_catalog::Catalog::embedded();

    let once = |text: &str| {
        let mut set = parse_config_set(text, Reading::Strict).expect("sample parses");
        let opts = defaults::DefaultsOptions::default();
        defaults::apply_parse_time(&mut set, &opts);
        defaults::apply_providers(&mut set);
        let ctx = validate::ClusterContext::new(&NoDns);
        let violations = validate::config_set(&set, &ctx);
        assert!(violations.is_empty(), "sample must be valid: {violations:?}");
        let version = set
            .cluster
            .spec
            .as_ref()
            .and_then(|s| s.kubernetes_version.clone())
            .unwrap_or_default();
        catalog
            .check_kubernetes_version(&version)
            .expect("supported version");
        black_box(set);
    };
    for _ in 0..200 {
        once(&spec);
    }
    let window = Duration::from_secs(3);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        for _ in 0..100 {
            once(black_box(&spec));
        }
        n += 100;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "in-process parse+default+validate, {documents}-document spec ({} bytes), 1 thread: {:.0} specs/s ({:.1} us/spec, {n} runs)",
        spec.len(),
        n as f64 / secs,
        secs * 1e6 / n as f64
    );

    let bin = env!("CARGO_BIN_EXE_anywhere");
    let dir = std::env::temp_dir().join(format!("anywhere-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("spec.yaml");
    std::fs::write(&file, &spec).expect("write spec");
    let run = || {
        let t = Instant::now();
        let out = Command::new(bin)
            .args(["validate", "-f"])
            .arg(&file)
            .output()
            .expect("run anywhere");
        assert!(
            out.status.success(),
            "validate failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        t.elapsed()
    };
    for _ in 0..5 {
        run();
    }
    let mut times: Vec<Duration> = (0..50).map(|_| run()).collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "whole process `anywhere validate -f spec.yaml` ({documents} documents), 50 runs: median {:.2} ms, p95 {:.2} ms, min {:.2} ms",
        ms(times[25]),
        ms(times[47]),
        ms(times[0])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

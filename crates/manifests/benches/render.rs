//! Benchmark of manifest rendering (results in docs/benchmarks.md).
//!
//! Run: `cargo bench -p anywhere-manifests --bench render`
//!
//! A vSphere spec with external etcd and three worker groups, rendered to YAML (control plane and
//! workers, every object serialised) on one thread, as many times as fit in the window. Goal:
//! at least 5,000 specs/s/core. Timing is printed, never asserted.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anywhere_api::defaults;
use anywhere_api::generate::{Provider, sample};
use anywhere_catalog::Catalog;
use anywhere_manifests::{Credentials, Features, Inputs, ProviderObjects, TemplateNames};

fn main() {
    let mut set = sample("bench", Provider::VSphere, "1.33");
    // Three worker groups (the sample has one) sharing the worker machine config.
    if let Some(spec) = set.cluster.spec.as_mut() {
        let groups = spec.worker_node_group_configurations.get_or_insert_with(Vec::new);
        let first = groups[0].clone();
        for name in ["md-1", "md-2"] {
            let mut g = first.clone();
            g.name = Some(name.to_string());
            groups.push(g);
        }
    }
    defaults::apply_parse_time(&mut set, &defaults::DefaultsOptions::default());
    defaults::apply_providers(&mut set);
    let provider = ProviderObjects::from_config_set(&set).expect("sample resolves");
    let groups = ["md-0".to_string(), "md-1".to_string(), "md-2".to_string()];
    let names = TemplateNames::initial(&set.cluster, &groups);
    let credentials = Credentials {
        vsphere_username: Some("user".into()),
        vsphere_password: Some("password".into()),
        ..Default::default()
    };
    let inputs = Inputs {
        cluster: &set.cluster,
        provider: &provider,
        catalog: Catalog::embedded(),
        credentials: &credentials,
        features: Features::default(),
        names: &names,
        tinkerbell_bootstrap_ip: None,
    };
    let once = || {
        let manifests = anywhere_manifests::cluster(black_box(&inputs)).expect("renders");
        black_box(anywhere_manifests::to_yaml(&manifests))
    };
    let sample_out = once();
    let objects = sample_out.matches("\n---\n").count() + 1;
    for _ in 0..100 {
        once();
    }
    let window = Duration::from_secs(3);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        for _ in 0..50 {
            once();
        }
        n += 50;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "render vSphere spec (external etcd, 3 worker groups) to YAML, 1 thread: {:.0} specs/s ({:.1} us/spec; {objects} objects, {} bytes of YAML; {n} runs)",
        n as f64 / secs,
        secs * 1e6 / n as f64,
        sample_out.len()
    );
}

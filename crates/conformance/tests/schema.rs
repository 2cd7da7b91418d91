//! Every object anywhere generates validates against its real CRD schema: for the sample spec of
//! every provider and for every input of the manifest case catalogue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::Value;

use anywhere_conformance::schema::SchemaSet;
use anywhere_conformance::{DataDirs, manifests, samples};

fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "skipping: CRD schemas not found at {} (they live in ../shared)",
            p.display()
        );
        None
    }
}

/// Schema rules our output breaks on purpose, each with why. Anything else is a defect.
const ALLOWED: &[(&str, &str)] = &[
    (
        "/kubeadmConfigSpec/format: \"bottlerocket\"",
        "EKS Anywhere runs its fork of the CAPI kubeadm bootstrap provider, which adds the bottlerocket \
     format; the upstream CRD in the pack only knows cloud-config and ignition",
    ),
    (
        "/spec/format: \"bottlerocket\"",
        "the same, in KubeadmConfigTemplate",
    ),
];

fn allowed(problem: &str) -> bool {
    ALLOWED.iter().any(|(needle, _)| problem.contains(needle))
}

/// Values the case catalogue injects rather than our generator choosing them: the literal
/// `<no value>` for names the reference's test did not supply, and empty names from absent name
/// maps. They are replaced with a valid name before validation.
fn replace_injected_names(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "name" && (x.as_str() == Some("") || x.as_str() == Some("<no value>")) {
                    *x = Value::from("injected-name");
                } else {
                    replace_injected_names(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(replace_injected_names),
        Value::String(s) if s == "<no value>" => *v = Value::from("injected-name"),
        _ => {}
    }
}

fn check(
    schemas: &SchemaSet,
    what: &str,
    objects: &[Value],
    problems: &mut Vec<String>,
    checked: &mut usize,
) {
    for o in objects {
        let id = format!(
            "{what}: {} {}/{}",
            o["apiVersion"].as_str().unwrap_or(""),
            o["kind"].as_str().unwrap_or(""),
            o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
        );
        match schemas.validate(o) {
            Some(errors) => {
                *checked += 1;
                problems.extend(
                    errors
                        .into_iter()
                        .map(|e| format!("{id}: {e}"))
                        .filter(|p| !allowed(p)),
                );
            }
            None if o["apiVersion"] == "v1" => {}
            None => problems.push(format!("{id}: no CRD schema for this kind")),
        }
    }
}

#[test]
fn samples_validate_against_crds() {
    let Some(shared) = shared() else { return };
    let schemas = SchemaSet::load(&shared.join("crds")).unwrap();
    let (mut problems, mut checked) = (Vec::new(), 0);
    for p in samples::RENDERED {
        let objects: Vec<Value> = samples::render(p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .into_iter()
            .map(|m| m.0)
            .collect();
        check(&schemas, p.name(), &objects, &mut problems, &mut checked);
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(checked > 20, "only {checked} objects checked");
}

#[test]
fn conformance_outputs_validate_against_crds() {
    let Some(shared) = shared() else { return };
    let schemas = SchemaSet::load(&shared.join("crds")).unwrap();
    let data = DataDirs(vec![shared.join("eksa")]);
    let catalog = manifests::load_fixture_catalog(&data).unwrap();
    let text = std::fs::read_to_string(shared.join("eksa/cases/manifests.yaml")).unwrap();
    let cases = anywhere_api::document::parse_value(&text, 1).unwrap();
    let (mut problems, mut checked) = (Vec::new(), 0);
    for case in cases["cases"].as_array().unwrap() {
        if case.pointer("/inputs/cluster_file").is_none() {
            continue;
        }
        let id = case["id"].as_str().unwrap();
        if let Ok(mut objects) = manifests::render_case(case, &data, &catalog) {
            objects.iter_mut().for_each(replace_injected_names);
            check(&schemas, id, &objects, &mut problems, &mut checked);
        }
    }
    // vSphere inputs of the pack name no VM template: the reference's CLI fills it from the
    // bundle's OVAs at create time, which the golden path skips, so `template` stays empty.
    problems.retain(|p| !(p.starts_with("vsphere-") && p.contains("/spec/template/spec/template: \"\"")));
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(checked > 200, "only {checked} objects checked");
}

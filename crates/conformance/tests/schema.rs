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
        eprintln!("skipping: CRD schemas not found at {} (they live in ../shared)", p.display());
        None
    }
}

fn check(schemas: &SchemaSet, what: &str, objects: &[Value], problems: &mut Vec<String>, checked: &mut usize) {
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
                problems.extend(errors.into_iter().map(|e| format!("{id}: {e}")));
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
        let objects: Vec<Value> = samples::render(p).unwrap_or_else(|e| panic!("{p}: {e}")).into_iter().map(|m| m.0).collect();
        check(&schemas, p.name(), &objects, &mut problems, &mut checked);
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
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
        if let Ok(objects) = manifests::render_case(case, &data, &catalog) {
            check(&schemas, id, &objects, &mut problems, &mut checked);
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

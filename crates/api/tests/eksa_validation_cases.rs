//! The validation cases of the EKS Anywhere conformance pack (`cases/api.yaml`) that exercise
//! this crate's defaults and rules: the verdict must match, and for a rejected file the first
//! violation must carry the reference's wording.
//!
//! The pack lives outside the repository; the test reads it from `ANYWHERE_EKSA_PACK` (default
//! `../shared/conformance/eksa` beside the repository) and skips, saying so, when it is absent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use anywhere_api::document::{self, Fields, Split};
use anywhere_api::validate::{self, ClusterContext, Violation};
use anywhere_api::{Reading, defaults, parse_config_set};
use serde::de::DeserializeOwned;
use serde_json::Value;

fn pack() -> Option<PathBuf> {
    let dir = std::env::var_os("ANYWHERE_EKSA_PACK")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/eksa")
        });
    dir.join("cases/api.yaml").exists().then_some(dir)
}

/// The strict reading of the reference's `ParseClusterConfig`: the first document whose kind
/// is `kind`, decoded strictly. Any failure is a rejection.
fn first_of_kind<T: DeserializeOwned>(text: &str, kind: &str) -> Result<T, String> {
    for doc in document::split_documents(text, Split::Strict).map_err(|e| e.to_string())? {
        let value = document::parse_value(&doc.text, doc.line).map_err(|e| e.to_string())?;
        if value.get("kind").and_then(Value::as_str) == Some(kind) {
            return document::decode(&value, Fields::Strict).map_err(|e| e.to_string());
        }
    }
    Err(format!(
        "yamlop content is invalid or does not contain kind {kind}"
    ))
}

/// What an operation says about a file: `Ok` when accepted, else the first error.
fn run(case: &Value, text: &str) -> Option<Result<(), String>> {
    let first = |v: Vec<Violation>| match v.into_iter().next() {
        None => Ok(()),
        Some(v) => Err(v.message),
    };
    let args = &case["args"];
    let ref_name = args["ref_name"].as_str().unwrap_or("");
    let cluster_namespace = args["cluster"]["namespace"].as_str().unwrap_or("");
    let result = match case["operation"].as_str()? {
        "get_and_validate_cluster" => {
            first_of_kind::<anywhere_api::Cluster>(text, "Cluster").and_then(|mut c| {
                defaults::cluster(&mut c, &defaults::DefaultsOptions::default());
                // Offline stand-in for DNS: the one name the cases expect to resolve.
                let resolver = |host: &str| host == "google.com";
                first(validate::cluster(&c, &ClusterContext::new(&resolver)))
            })
        }
        "get_and_validate_oidc_config" => first_of_kind::<anywhere_api::OIDCConfig>(text, "OIDCConfig")
            .and_then(|o| first(validate::oidc_config(&o, ref_name, cluster_namespace))),
        "get_and_validate_awsiam_config" => first_of_kind::<anywhere_api::AWSIamConfig>(text, "AWSIamConfig")
            .and_then(|mut o| {
                defaults::aws_iam_config(&mut o);
                first(validate::aws_iam_config(&o, ref_name, cluster_namespace))
            }),
        "get_nutanix_datacenter_config_then_validate" => {
            first_of_kind::<anywhere_api::NutanixDatacenterConfig>(text, "NutanixDatacenterConfig")
                .and_then(|d| first(validate::nutanix_datacenter(&d)))
        }
        "parse_config_set_then_validate_nutanix_machine" => parse_config_set(text, Reading::Lenient)
            .map_err(|e| e.to_string())
            .and_then(|set| {
                first(
                    set.all::<anywhere_api::NutanixMachineConfig>()
                        .flat_map(validate::nutanix_machine)
                        .collect(),
                )
            }),
        "parse_config_set_then_nutanix_machine_defaults" => parse_config_set(text, Reading::Lenient)
            .map_err(|e| e.to_string())
            .map(|mut set| {
                for m in set.all_mut::<anywhere_api::NutanixMachineConfig>() {
                    defaults::nutanix_machine(m);
                    let spec = m.spec.clone().unwrap_or_default();
                    let user = spec
                        .users
                        .unwrap_or_default()
                        .into_iter()
                        .next()
                        .unwrap_or_default();
                    assert!(
                        !spec.os_family.unwrap_or_default().is_empty(),
                        "defaulted osFamily"
                    );
                    assert!(!user.name.unwrap_or_default().is_empty(), "defaulted user name");
                    assert!(
                        !user.ssh_authorized_keys.unwrap_or_default().is_empty(),
                        "defaulted ssh key list"
                    );
                }
            }),
        _ => return None,
    };
    Some(result)
}

#[test]
fn validation_cases_of_the_reference_pack() {
    let Some(dir) = pack() else {
        eprintln!("skipped: no EKS Anywhere conformance pack (set ANYWHERE_EKSA_PACK)");
        return;
    };
    let text = std::fs::read_to_string(dir.join("cases/api.yaml")).expect("read api.yaml");
    let cases: Value = serde_saphyr::from_str(&text).expect("parse api.yaml");
    let mut ran = 0;
    let mut failures = Vec::new();
    for case in cases["cases"].as_array().expect("cases") {
        let Some(path) = case["input"]["pack_path"].as_str() else {
            continue;
        };
        let Ok(input) = std::fs::read_to_string(Path::new(&dir).join(path)) else {
            continue;
        };
        let Some(result) = run(case, &input) else { continue };
        ran += 1;
        let id = case["id"].as_str().unwrap_or("?");
        let expected = case["error_contains"].as_str().or(case["likely_error"].as_str());
        match (case["expect"].as_str(), result) {
            (Some("valid"), Ok(())) => {}
            (Some("valid"), Err(e)) => failures.push(format!("{id}: rejected: {e}")),
            (Some("invalid"), Ok(())) => failures.push(format!("{id}: accepted")),
            (Some("invalid"), Err(e)) => {
                // Library wording (Go's YAML/JSON errors) does not carry over; EKS-A wording must.
                let want = expected.filter(|w| !w.contains("json:") && !w.contains("yaml:"));
                if let Some(want) = want
                    && !e.contains(want)
                {
                    failures.push(format!("{id}: first error {e:?} lacks {want:?}"));
                }
            }
            (other, _) => failures.push(format!("{id}: unknown expectation {other:?}")),
        }
    }
    assert!(ran >= 50, "only {ran} cases ran");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

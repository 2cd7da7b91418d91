//! The `anywhere` binary end to end: what a user types, what they see, the exit code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

/// Generous guard against hangs; not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn anywhere() -> Command {
    let mut c = Command::cargo_bin("anywhere").expect("binary is built");
    c.timeout(HANG_GUARD);
    c
}

fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared (the conformance pack) is not present beside the repository");
        None
    }
}

#[test]
fn every_provider_sample_validates() {
    for provider in ["vsphere", "tinkerbell", "cloudstack", "nutanix", "snow", "docker"] {
        let out = anywhere()
            .args(["generate", "clusterconfig", "demo", "-p", provider])
            .output()
            .unwrap();
        assert!(out.status.success(), "{provider}: generate failed");
        anywhere()
            .args(["validate", "-f", "-"])
            .write_stdin(out.stdout)
            .assert()
            .success()
            .stdout(predicate::str::contains("valid"));
    }
}

#[test]
fn quickstart_example_validates() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart.yaml");
    anywhere()
        .arg("validate")
        .arg("-f")
        .arg(example)
        .assert()
        .success();
}

#[test]
fn invalid_spec_lists_every_problem_with_path_and_hint() {
    let spec = r#"
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata:
  name: bad.name
spec:
  kubernetesVersion: "1.31"
  controlPlaneConfiguration:
    count: 2
    endpoint: {host: 192.0.2.10}
    machineGroupRef: {kind: VSphereMachineConfig, name: cp}
  datacenterRef: {kind: VSphereDatacenterConfig, name: dc}
  workerNodeGroupConfigurations:
  - count: 1
    machineGroupRef: {kind: VSphereMachineConfig, name: cp}
  clusterNetwork:
    cniConfig: {cilium: {}}
    pods: {cidrBlocks: [192.168.0.0/16]}
    services: {cidrBlocks: [10.96.0.0/12]}
"#;
    let out = anywhere()
        .args(["validate", "-f", "-"])
        .write_stdin(spec)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("<stdin>: metadata.name: "), "{stdout}");
    assert!(
        stdout.contains("<stdin>: spec.controlPlaneConfiguration.count: "),
        "{stdout}"
    );
    assert!(
        stdout.contains("spec.datacenterRef"),
        "dangling datacenterRef must be reported: {stdout}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("  hint: ")), "{stdout}");
}

#[test]
fn unknown_field_names_its_path_and_suggests() {
    let spec = "apiVersion: anywhere.eks.amazonaws.com/v1alpha1\nkind: Cluster\nmetadata: {name: a}\nspec:\n  controlPlaneConfiguration:\n    cuont: 3\n";
    anywhere()
        .args(["validate", "-f", "-"])
        .write_stdin(spec)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "spec.controlPlaneConfiguration.cuont: unknown field \"cuont\"",
        ))
        .stdout(predicate::str::contains("did you mean \"count\""));
}

#[test]
fn json_output_is_machine_readable() {
    let out = anywhere()
        .args(["validate", "-f", "-", "-o", "json"])
        .write_stdin("kind: Cluster\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(v["valid"], false);
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("apiVersion"));
}

#[test]
fn unsupported_kubernetes_version_names_supported_ones() {
    let out = anywhere()
        .args(["generate", "clusterconfig", "old", "-p", "docker"])
        .output()
        .unwrap();
    let spec = String::from_utf8(out.stdout)
        .unwrap()
        .replace("kubernetesVersion: \"1.36\"", "kubernetesVersion: \"1.25\"");
    anywhere()
        .args(["validate", "-f", "-"])
        .write_stdin(spec)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("1.25"))
        .stdout(predicate::str::contains("1.30"))
        .stdout(predicate::str::contains("1.36"));
}

#[test]
fn missing_file_is_a_clear_error() {
    anywhere()
        .args(["validate", "-f", "/nonexistent/cluster.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/cluster.yaml"));
}

/// Hostile or broken input: a bounded, clear error, never a panic or a hang.
#[test]
fn bad_input_gets_a_bounded_clear_error() {
    let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
    for i in 0..20 {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            format!("b{}", i - 1)
        };
        bomb.push_str(&format!(
            "b{i}: &b{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    let deep = format!(
        "kind: Cluster\napiVersion: anywhere.eks.amazonaws.com/v1alpha1\nspec: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let big = "# padding\n".repeat(1_100_000);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "no document of kind Cluster"),
        ("garbage", garbage, "UTF-8"),
        ("alias bomb", bomb.into_bytes(), "invalid YAML"),
        ("deep nesting", deep.into_bytes(), "invalid YAML"),
        ("10 MB", big.into_bytes(), "more than the"),
    ];
    for (what, input, want) in cases {
        let out = anywhere()
            .args(["validate", "-f", "-"])
            .write_stdin(input)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: stdout {stdout} stderr {stderr}"
        );
        assert!(stdout.contains(want), "{what}: want {want:?} in {stdout}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    }
}

#[test]
fn version_and_completions() {
    anywhere()
        .arg("version")
        .assert()
        .success()
        .stdout(predicate::str::contains("1.36"));
    anywhere()
        .args(["version", "-o", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("kubernetesVersions"));
    anywhere()
        .args(["completion", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("anywhere"));
}

/// Every case of the pack's api.yaml passes (the network-only one is skipped with its reason).
#[test]
fn conformance_api_cases_pass() {
    let Some(shared) = shared() else { return };
    let eksa = shared.join("conformance/eksa");
    let out = anywhere()
        .args(["conformance", "api", "--cases"])
        .arg(eksa.join("cases/api.yaml"))
        .arg("--data")
        .arg(&eksa)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    assert!(out.status.success(), "{stdout}");
    assert!(last.contains(" 0 failed"), "{stdout}");
    assert!(last.starts_with("99 passed"), "{stdout}");
}

#[test]
fn generate_manifests_for_every_provider_sample() {
    for provider in ["vsphere", "tinkerbell", "cloudstack", "nutanix", "snow", "docker"] {
        let spec = anywhere()
            .args(["generate", "clusterconfig", "demo", "-p", provider])
            .output()
            .unwrap();
        let out = anywhere()
            .args(["generate", "manifests", "-f", "-"])
            .env("EKSA_VSPHERE_USERNAME", "user")
            .env("EKSA_VSPHERE_PASSWORD", "password")
            .env("EKSA_NUTANIX_USERNAME", "user")
            .env("EKSA_NUTANIX_PASSWORD", "password")
            .write_stdin(spec.stdout)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{provider}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("kind: KubeadmControlPlane"),
            "{provider}: {stdout}"
        );
        assert!(stdout.contains("kind: MachineDeployment"), "{provider}: {stdout}");
    }
}

#[test]
fn generate_manifests_refuses_an_invalid_spec() {
    anywhere()
        .args(["generate", "manifests", "-f", "-"])
        .write_stdin("apiVersion: anywhere.eks.amazonaws.com/v1alpha1\nkind: Cluster\nmetadata: {name: a}\n")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("<stdin>:"));
}

/// The pack's golden manifest cases: none fails (one needs a file the pack lacks and skips).
#[test]
fn conformance_manifest_cases_pass() {
    let Some(shared) = shared() else { return };
    let eksa = shared.join("conformance/eksa");
    let out = anywhere()
        .args(["conformance", "manifests", "--cases"])
        .arg(eksa.join("cases/manifests.yaml"))
        .arg("--data")
        .arg(&eksa)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    assert!(out.status.success(), "{stdout}");
    let passed: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert!(last.contains(" 0 failed") && passed >= 62, "{stdout}");
}

#[test]
fn oidc_config_reaches_the_api_server_flags() {
    let out = anywhere()
        .args(["generate", "clusterconfig", "demo", "-p", "vsphere"])
        .output()
        .unwrap();
    let spec = String::from_utf8(out.stdout).unwrap().replacen(
        "  kubernetesVersion:",
        "  identityProviderRefs:\n  - kind: OIDCConfig\n    name: demo-oidc\n  kubernetesVersion:",
        1,
    ) + "---\napiVersion: anywhere.eks.amazonaws.com/v1alpha1\nkind: OIDCConfig\nmetadata:\n  name: demo-oidc\nspec:\n  clientId: kubectl\n  issuerUrl: https://issuer.example.com\n  usernameClaim: email\n";
    anywhere()
        .args(["generate", "manifests", "-f", "-"])
        .write_stdin(spec)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "- name: oidc-client-id\n          value: kubectl",
        ))
        .stdout(predicate::str::contains("name: oidc-issuer-url"));
}

use super::*;
use crate::validate::test_support::{decode, messages};

/// A self-signed certificate (from EKS Anywhere's test data).
const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----\nMIIDajCCAlKgAwIBAgIUZOD4pznfHyCO8gMvP87F+PnhGHMwDQYJKoZIhvcNAQEL\nBQAwNDELMAkGA1UEBhMCREUxFDASBgNVBAgMC0xhbmQgQmVybGluMQ8wDQYDVQQH\nDAZCZXJsaW4wHhcNMjIwODI1MTYxNzI5WhcNMzIwODIyMTYxNzI5WjA0MQswCQYD\nVQQGEwJERTEUMBIGA1UECAwLTGFuZCBCZXJsaW4xDzANBgNVBAcMBkJlcmxpbjCC\nASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAO280znVj6qLpCqAeNgpw7gw\n0OE54gBW8Y9gBtEYxBux6hXBl+doj+JNZLcfIoDoqdTlgZX13Y//WakfMuvuhYUN\n53fpwsiup3pqqL+JHhKy+Bq/BSQcHkLGi/aUGph7qK/wQMZBGBbbBXaCwnhjYovl\nnRq4p+Cm5wm4S/QUhgyvqyoeNWAc6+2AHniuIzo6Q1MU9ktaSAdL8ZdW5g6el5iA\noHjDHNjTwyTeybKFScEQvFqO6qfzTRn8eV6dwH4gOYec1IdDwSp8PSv9R7J9AC+1\nDtAjsYtqO4i6qRpgf0zyGQb+uNKXdz/ovOGa58twfMKYU7Z2crPj3K7NOJVelZEC\nAwEAAaN0MHIwHQYDVR0OBBYEFPlcZspynb+2DwRN5K3slRyEV0nxMB8GA1UdIwQY\nMBaAFPlcZspynb+2DwRN5K3slRyEV0nxMA4GA1UdDwEB/wQEAwIFoDAgBgNVHSUB\nAf8EFjAUBggrBgEFBQcDAQYIKwYBBQUHAwIwDQYJKoZIhvcNAQELBQADggEBACXY\nFH72svBSALkqmTyU9rsh4rRK9yo7tmNJkFkRQ/cjYycpNKZ6Cg9+wGwN6o6pXdqb\nJfeuePclDdGcgYe8SbGr0T7pFXdUIVmuO/jjatKCftXQQZK5zHCkUTLhVlAbnNpC\n3NIU4wWjx/QLtk+zEqjl5kyDgXD5GwxXbgzzY+7wi4QZO8VRyLG5lawZVKer3gkt\n+NGIOtoyz4RjnWIKV34Z6HUDhdgbVyX1uPG/a5mLmcbLjuSf39WdAgv9bFGkUHZk\n2dU0bIXepIZ5Mz3aovl35EjbGAbpI8tpKWlsHNoiVNQm1vojfKvKVibVS2FNo0cD\ngu45O/O1hxzezDKiKKU=\n-----END CERTIFICATE-----";

/// A certificate request: PEM, but not a certificate.
const CERTIFICATE_REQUEST: &str = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB9TCCAWACAQAwgbgxGTAXBgNVBAoMEFF1b1ZhZGlzIExpbWl0ZWQxHDAaBgNV\nBAsME0RvY3VtZW50IERlcGFydG1lbnQxOTA3BgNVBAMMMFdoeSBhcmUgeW91IGRl\nY29kaW5nIG1lPyAgVGhpcyBpcyBvbmx5IGEgdGVzdCEhITERMA8GA1UEBwwISGFt\naWx0b24xETAPBgNVBAgMCFBlbWJyb2tlMQswCQYDVQQGEwJCTTEPMA0GCSqGSIb3\nDQEJARYAMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCJ9WRanG/fUvcfKiGl\nEL4aRLjGt537mZ28UU9/3eiJeJznNSOuNLnF+hmabAu7H0LT4K7EdqfF+XUZW/2j\nRKRYcvOUDGF9A7OjW7UfKk1In3+6QDCi7X34RE161jqoaJjrm/T18TOKcgkkhRzE\napQnIDm0Ea/HVzX/PiSOGuertwIDAQABMAsGCSqGSIb3DQEBBQOBgQBzMJdAV4QP\nAwel8LzGx5uMOshezF/KfP67wJ93UW+N7zXY6AwPgoLj4Kjw+WtU684JL8Dtr9FX\nozakE+8p06BpxegR4BR3FMHf6p+0jQxUEAkAyb/mVgm66TyghDGC6/YkiKoZptXQ\n98TwDIK/39WEB/V607As+KoYazQG8drorw==\n-----END CERTIFICATE REQUEST-----";

fn datacenter(spec: serde_json::Value) -> NutanixDatacenterConfig {
    let value = serde_json::json!({"metadata": {"name": "dc", "namespace": "default"}, "spec": spec});
    crate::document::decode(&value, crate::document::Fields::Strict).expect("decode")
}

fn check_dc(spec: serde_json::Value, expect: &[&str]) {
    let d = datacenter(spec.clone());
    assert_eq!(messages(&nutanix_datacenter(&d)), expect, "{spec}");
}

#[test]
fn datacenter_needs_endpoint_and_port_first() {
    check_dc(serde_json::json!({"endpoint": "pc", "port": 9440}), &[]);
    check_dc(
        serde_json::json!({}),
        &[
            "NutanixDatacenterConfig endpoint is not set or is empty",
            "NutanixDatacenterConfig port is not set or is empty",
        ],
    );
}

#[test]
fn trust_bundle_must_start_with_a_certificate() {
    check_dc(
        serde_json::json!({"endpoint": "pc", "port": 9440, "additionalTrustBundle": CERTIFICATE}),
        &[],
    );
    let two = format!("{CERTIFICATE}\n{CERTIFICATE}\n");
    check_dc(
        serde_json::json!({"endpoint": "pc", "port": 9440, "additionalTrustBundle": two}),
        &[],
    );
    check_dc(
        serde_json::json!({"endpoint": "pc", "port": 9440, "additionalTrustBundle": "not-a-certificate"}),
        &[
            "NutanixDatacenterConfig additionalTrustBundle is not valid: could not find a PEM block in the certificate",
        ],
    );
    let d = datacenter(
        serde_json::json!({"endpoint": "pc", "port": 9440, "additionalTrustBundle": CERTIFICATE_REQUEST}),
    );
    let got = messages(&nutanix_datacenter(&d));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("NutanixDatacenterConfig additionalTrustBundle is not valid: x509: "),
        "{got:?}"
    );
}

#[test]
fn credential_ref_must_be_a_named_secret() {
    check_dc(
        serde_json::json!({"endpoint": "pc", "port": 9440, "credentialRef": {"kind": "ConfigMap", "name": "x"}}),
        &["NutanixDatacenterConfig credentialRef Kind (ConfigMap) is not a secret"],
    );
    check_dc(
        serde_json::json!({"endpoint": "pc", "port": 9440, "credentialRef": {"kind": "Secret"}}),
        &["NutanixDatacenterConfig credentialRef name is not set or is empty"],
    );
}

#[test]
fn failure_domains_need_identifiers_cluster_first() {
    check_dc(
        serde_json::json!({"endpoint": "pc", "port": 9440, "failureDomains": [
            {"name": "pe1", "cluster": {"type": "name", "name": "c"}, "subnets": [{"type": "name", "name": "s"}, {"type": "uuid", "uuid": ""}]},
            {"name": "pe2", "cluster": {"type": "id"}, "subnets": [{"type": "name"}]}
        ]}),
        &[
            "NutanixDatacenterConfig.Spec.FailureDomains.Subnets: missing subnet UUID: default/dc",
            "NutanixDatacenterConfig.Spec.FailureDomains.Cluster: invalid identifier type for cluster: id",
            "NutanixDatacenterConfig.Spec.FailureDomains.Subnets: missing subnet name: default/dc",
        ],
    );
}

const VALID_MACHINE: &str = "metadata: {name: m}
spec:
  vcpuSockets: 2
  vcpusPerSocket: 1
  memorySize: 4Gi
  systemDiskSize: 40Gi
  osFamily: ubuntu
  image: {type: name, name: img}
  cluster: {type: uuid, uuid: 1234}
  subnet: {type: name, name: net}
  users: [{name: eksa, sshAuthorizedKeys: [ssh-ed25519 AAAA]}]
";

fn machine(extra: &str) -> NutanixMachineConfig {
    decode(&format!("{VALID_MACHINE}{extra}"))
}

#[test]
fn valid_machine_passes() {
    assert!(nutanix_machine(&machine("")).is_empty());
}

#[test]
fn machine_categories_need_key_then_value() {
    assert_eq!(
        messages(&nutanix_machine(&machine(
            "  additionalCategories: [{value: v}, {key: k}]\n"
        ))),
        [
            "NutanixMachineConfig: missing category key: m",
            "NutanixMachineConfig: missing category value for key k: m"
        ]
    );
}

#[test]
fn machine_identifiers_need_type_and_field() {
    let m: NutanixMachineConfig = decode(
        &VALID_MACHINE
            .replace("{type: name, name: img}", "{type: name}")
            .replace("{type: name, name: net}", "{type: id}"),
    );
    assert_eq!(
        messages(&nutanix_machine(&m)),
        [
            "NutanixMachineConfig: invalid identifier type for subnet: id",
            "NutanixMachineConfig: missing image name: m"
        ]
    );
}

#[test]
fn machine_minimum_sizes_and_enums() {
    let m: NutanixMachineConfig = decode(
        &VALID_MACHINE
            .replace("vcpuSockets: 2", "vcpuSockets: 1")
            .replace("memorySize: 4Gi", "memorySize: 2Gi")
            .replace("systemDiskSize: 40Gi", "systemDiskSize: lots")
            .replace("osFamily: ubuntu", "osFamily: bottlerocket"),
    );
    assert_eq!(
        messages(&nutanix_machine(&m)),
        [
            "NutanixMachineConfig: vcpu sockets must be greater than or equal to 2",
            "NutanixMachineConfig: memory size must be greater than or equal to 4Gi",
            "NutanixMachineConfig: systemDiskSize lots is not a valid quantity",
            "NutanixMachineConfig: unsupported spec.osFamily (bottlerocket); Please use one of the following: ubuntu, redhat",
        ]
    );
    assert_eq!(
        messages(&nutanix_machine(&machine("  bootType: bios\n"))),
        ["NutanixMachineConfig: unsupported boot type (bios); Please use one of the following: legacy, uefi"]
    );
}

#[test]
fn machine_needs_a_user_with_a_key_unless_the_cli_generates_it() {
    let m: NutanixMachineConfig = decode(&VALID_MACHINE.replace("[ssh-ed25519 AAAA]", "['']"));
    assert_eq!(
        messages(&nutanix_machine(&m)),
        [
            "users[0].SshAuthorizedKeys is not set or is empty for NutanixMachineConfig m, please provide a valid ssh authorized key for user eksa"
        ]
    );
    assert!(nutanix_machine_rules(&m, SshKeys::Generated).is_empty());
}

//! The objects that register bare-metal machines with Tinkerbell (EKS Anywhere's
//! `generate hardware`): per hardware-catalogue record, a Tinkerbell `Hardware` and, when the
//! record has a BMC, a Rufio `Machine` plus the basic-auth `Secret` it names.
//!
//! The records come validated from `anywhere_inventory`; this module only translates. The facts
//! (constants, names, which fields are set) are those of EKS-A's hardware package as of its
//! current `TestBuildHardwareYAML` golden, which supersedes the older
//! `testdata/expected_hardware_yaml.yaml` (a pre-Rufio `BMC` kind, no longer in the tree).
//!
//! One deliberate difference: EKS-A's YAML writer emits a `Machine` and a `Secret` for every
//! record, so a record without a BMC gets a `Machine` with an empty `host` (which its CRD
//! rejects: `minLength: 1`) and a Secret with empty credentials. We emit them only for records
//! with a BMC, as EKS-A's own catalogue writers (used by `create cluster`) do.

use std::collections::BTreeMap;

use base64::Engine;

use anywhere_api::meta::{ObjectMeta, Resource};
use anywhere_inventory::Hardware as Record;

use crate::types::core::Secret;
use crate::types::rufio_v1alpha1 as rufio;
use crate::types::tinkerbell_org_v1alpha1 as tink;
use crate::{Manifest, SYSTEM_NAMESPACE};

/// DHCP lease time handed out to machines: 2^32 - 2 seconds (about 136 years), i.e. a lease that
/// never expires. EKS-A sets it for Bottlerocket, which has no static IP configuration; Ubuntu
/// and RHEL get static addresses and ignore it.
pub const LEASE_TIME_SECONDS: i64 = (1 << 32) - 2;
/// The architecture every machine is registered with.
pub const ARCH: &str = "x86_64";
/// `spec.metadata.facility.facility_code`.
pub const FACILITY_CODE: &str = "onprem";
/// `spec.metadata.facility.plan_slug`.
pub const PLAN_SLUG: &str = "c2.medium.x86";
/// The address family EKS-A writes for every address (it does not distinguish IPv6).
const IP_FAMILY: i64 = 4;
/// The Rufio (bmclib) provider tried first: EKS-A finds Redfish (`gofish`) the most reliable.
pub const PREFERRED_BMC_PROVIDER: &str = "gofish";
/// `type` of the BMC credentials Secret.
pub const BASIC_AUTH_SECRET_TYPE: &str = "kubernetes.io/basic-auth";
/// The label that makes `clusterctl move` carry an object to the workload cluster.
const CLUSTERCTL_MOVE_LABEL: &str = "clusterctl.cluster.x-k8s.io/move";

/// Per record, in catalogue order: its Tinkerbell `Hardware`, then, if it has a BMC, its Rufio
/// `Machine` and the `Secret` holding the BMC username and password (base64, as every Secret's
/// `data`). Every object lives in `eksa-system`.
///
/// Assumes the records passed `anywhere_inventory::validate` (hostnames are DNS names, MACs and
/// addresses parse); an invalid record still translates, into objects the API server rejects.
pub fn hardware_objects(records: &[Record]) -> Vec<Manifest> {
    let mut out = Vec::new();
    for record in records {
        out.push(Manifest::new(&tinkerbell_hardware(record)));
        if record.has_bmc() {
            out.push(Manifest::new(&bmc_machine(record)));
            out.push(Manifest::new(&bmc_secret(record)));
        }
    }
    out
}

/// The Tinkerbell `Hardware` of a record: one disk, one interface that DHCP and netboot serve,
/// and the instance metadata Tinkerbell's metadata service returns.
pub fn tinkerbell_hardware(record: &Record) -> tink::Hardware {
    // EKS-A lowercases MACs when reading the CSV; DHCP matches them lowercase.
    let mac = record.mac.to_ascii_lowercase();
    let bmc_ref = record.has_bmc().then(|| tink::BmcRef {
        api_group: None,
        kind: Some(rufio::Machine::KIND.into()),
        name: Some(bmc_machine_name(record)),
    });
    let dhcp = tink::Dhcp {
        arch: Some(ARCH.into()),
        hostname: non_empty(&record.hostname),
        ip: Some(tink::Ip {
            address: non_empty(&record.ip_address),
            family: Some(IP_FAMILY),
            gateway: non_empty(&record.gateway),
            netmask: non_empty(&record.netmask),
        }),
        lease_time: Some(LEASE_TIME_SECONDS),
        mac: non_empty(&mac),
        name_servers: non_empty_list(&record.nameservers),
        uefi: Some(true),
        vlan_id: non_empty(&record.vlan_id),
        ..Default::default()
    };
    let instance = tink::Instance {
        allow_pxe: Some(true),
        always_pxe: Some(true),
        hostname: non_empty(&record.hostname),
        id: non_empty(&mac),
        ips: Some(vec![tink::InstanceIp {
            address: non_empty(&record.ip_address),
            family: Some(IP_FAMILY),
            gateway: non_empty(&record.gateway),
            netmask: non_empty(&record.netmask),
            public: Some(true),
            management: None,
        }]),
        // Empty, not absent: Tinkerbell's boot service dereferences it without a nil check.
        operating_system: Some(tink::PreinstalledOperatingSystemVersion::default()),
        ..Default::default()
    };
    tink::Hardware {
        api_version: Some(tink::Hardware::API_VERSION.into()),
        kind: Some(tink::Hardware::KIND.into()),
        metadata: Some(ObjectMeta {
            name: Some(record.hostname.clone()),
            namespace: Some(SYSTEM_NAMESPACE.into()),
            labels: (!record.labels.is_empty()).then(|| record.labels.clone()),
            ..Default::default()
        }),
        spec: Some(tink::HardwareSpec {
            bmc_ref,
            disks: Some(vec![tink::Disk {
                device: non_empty(&record.disk),
            }]),
            interfaces: Some(vec![tink::Interface {
                dhcp: Some(dhcp),
                disable_dhcp: None,
                netboot: Some(tink::Netboot {
                    allow_pxe: Some(true),
                    allow_workflow: Some(true),
                    ..Default::default()
                }),
            }]),
            metadata: Some(tink::Metadata {
                facility: Some(tink::Facility {
                    facility_code: Some(FACILITY_CODE.into()),
                    plan_slug: Some(PLAN_SLUG.into()),
                    plan_version_slug: None,
                }),
                instance: Some(instance),
                ..Default::default()
            }),
            ..Default::default()
        }),
        // EKS-A prints the empty status of its Go struct; kept so the output matches.
        status: Some(tink::HardwareStatus::default()),
    }
}

/// The Rufio `Machine` through which Tinkerbell powers and boots a record's machine: its BMC
/// address, the credentials Secret, TLS verification off (BMCs use self-signed certificates).
pub fn bmc_machine(record: &Record) -> rufio::Machine {
    rufio::Machine {
        api_version: Some(rufio::Machine::API_VERSION.into()),
        kind: Some(rufio::Machine::KIND.into()),
        metadata: Some(ObjectMeta {
            name: Some(bmc_machine_name(record)),
            namespace: Some(SYSTEM_NAMESPACE.into()),
            ..Default::default()
        }),
        spec: Some(rufio::MachineSpec {
            connection: Some(rufio::Connection {
                auth_secret_ref: Some(rufio::AuthSecretRef {
                    name: Some(bmc_secret_name(record)),
                    namespace: Some(SYSTEM_NAMESPACE.into()),
                }),
                host: Some(record.bmc_ip.clone()),
                insecure_tls: Some(true),
                // EKS-A writes Go's zero value (its field has no `omitempty`), so the CRD's
                // default of 623 does not apply; Rufio's providers then use their own ports.
                port: Some(0),
                provider_options: Some(rufio::ProviderOptions {
                    preferred_order: Some(vec![PREFERRED_BMC_PROVIDER.into()]),
                    ..Default::default()
                }),
            }),
        }),
        status: Some(rufio::MachineStatus::default()),
    }
}

/// The basic-auth Secret with a record's BMC username and password, moved with the cluster.
pub fn bmc_secret(record: &Record) -> Secret {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut secret = Secret::new(&bmc_secret_name(record), SYSTEM_NAMESPACE);
    secret.metadata.labels = Some(BTreeMap::from([(CLUSTERCTL_MOVE_LABEL.into(), "true".into())]));
    secret.type_ = Some(BASIC_AUTH_SECRET_TYPE.into());
    secret.data = Some(BTreeMap::from([
        ("username".into(), b64(&record.bmc_username)),
        ("password".into(), b64(&record.bmc_password)),
    ]));
    secret
}

/// `bmc-<hostname>`: the Rufio `Machine` of a record, named by the Hardware's `bmcRef`.
pub fn bmc_machine_name(record: &Record) -> String {
    format!("bmc-{}", record.hostname)
}

/// `bmc-<hostname>-auth`: the Secret of a record's BMC credentials.
pub fn bmc_secret_name(record: &Record) -> String {
    format!("{}-auth", bmc_machine_name(record))
}

/// Go's `omitempty` for strings: an empty value is left out.
fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Go's `omitempty` for slices.
fn non_empty_list(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Two machines: `cp1` with a BMC, `worker1` without one (empty BMC fields) but with a VLAN,
    /// an upper-case MAC, two nameservers and no labels.
    const CSV: &str = "hostname,bmc_ip,bmc_username,bmc_password,mac,ip_address,netmask,gateway,nameservers,labels,disk,vlan_id\n\
        cp1,192.168.0.10,Admin,s3cret,00:00:00:00:00:01,10.10.10.10,255.255.255.0,10.10.10.1,1.1.1.1,type=cp,/dev/sda,\n\
        worker1,,,,AA:BB:CC:DD:EE:02,10.10.10.11,255.255.255.0,10.10.10.1,1.1.1.1|8.8.8.8,,/dev/nvme0n1,42\n";

    fn objects() -> Vec<Manifest> {
        let records = anywhere_inventory::read_csv(CSV).expect("the test CSV is valid");
        hardware_objects(&records)
    }

    #[test]
    fn bmc_record_gets_hardware_machine_and_secret_and_plain_record_only_hardware() {
        let objects = objects();
        let got: Vec<(&str, &str)> = objects.iter().map(|m| (m.kind(), m.name())).collect();
        assert_eq!(
            got,
            [
                ("Hardware", "cp1"),
                ("Machine", "bmc-cp1"),
                ("Secret", "bmc-cp1-auth"),
                ("Hardware", "worker1")
            ]
        );
    }

    #[test]
    fn hardware_with_bmc_matches_the_reference_shape() {
        assert_eq!(
            objects()[0].0,
            json!({
                "apiVersion": "tinkerbell.org/v1alpha1",
                "kind": "Hardware",
                "metadata": {"name": "cp1", "namespace": "eksa-system", "labels": {"type": "cp"}},
                "spec": {
                    "bmcRef": {"kind": "Machine", "name": "bmc-cp1"},
                    "disks": [{"device": "/dev/sda"}],
                    "interfaces": [{
                        "dhcp": {
                            "arch": "x86_64",
                            "hostname": "cp1",
                            "ip": {
                                "address": "10.10.10.10",
                                "family": 4,
                                "gateway": "10.10.10.1",
                                "netmask": "255.255.255.0"
                            },
                            "lease_time": 4294967294_i64,
                            "mac": "00:00:00:00:00:01",
                            "name_servers": ["1.1.1.1"],
                            "uefi": true
                        },
                        "netboot": {"allowPXE": true, "allowWorkflow": true}
                    }],
                    "metadata": {
                        "facility": {"facility_code": "onprem", "plan_slug": "c2.medium.x86"},
                        "instance": {
                            "allow_pxe": true,
                            "always_pxe": true,
                            "hostname": "cp1",
                            "id": "00:00:00:00:00:01",
                            "ips": [{
                                "address": "10.10.10.10",
                                "family": 4,
                                "gateway": "10.10.10.1",
                                "netmask": "255.255.255.0",
                                "public": true
                            }],
                            "operating_system": {}
                        }
                    }
                },
                "status": {}
            })
        );
    }

    #[test]
    fn bmc_machine_matches_the_reference_shape() {
        assert_eq!(
            objects()[1].0,
            json!({
                "apiVersion": "bmc.tinkerbell.org/v1alpha1",
                "kind": "Machine",
                "metadata": {"name": "bmc-cp1", "namespace": "eksa-system"},
                "spec": {
                    "connection": {
                        "authSecretRef": {"name": "bmc-cp1-auth", "namespace": "eksa-system"},
                        "host": "192.168.0.10",
                        "insecureTLS": true,
                        "port": 0,
                        "providerOptions": {"preferredOrder": ["gofish"]}
                    }
                },
                "status": {}
            })
        );
    }

    #[test]
    fn bmc_secret_holds_base64_basic_auth_and_moves_with_the_cluster() {
        assert_eq!(
            objects()[2].0,
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "bmc-cp1-auth",
                    "namespace": "eksa-system",
                    "labels": {"clusterctl.cluster.x-k8s.io/move": "true"}
                },
                "type": "kubernetes.io/basic-auth",
                // base64 of "Admin" and "s3cret".
                "data": {"username": "QWRtaW4=", "password": "czNjcmV0"}
            })
        );
    }

    #[test]
    fn hardware_without_bmc_has_no_bmc_ref_and_keeps_vlan_and_lowercases_mac() {
        let hw = &objects()[3].0;
        assert_eq!(
            hw["metadata"],
            json!({"name": "worker1", "namespace": "eksa-system"})
        );
        assert_eq!(hw.pointer("/spec/bmcRef"), None);
        assert_eq!(hw["spec"]["disks"], json!([{"device": "/dev/nvme0n1"}]));
        let dhcp = &hw["spec"]["interfaces"][0]["dhcp"];
        assert_eq!(dhcp["mac"], "aa:bb:cc:dd:ee:02");
        assert_eq!(dhcp["vlan_id"], "42");
        assert_eq!(dhcp["name_servers"], json!(["1.1.1.1", "8.8.8.8"]));
        assert_eq!(hw["spec"]["metadata"]["instance"]["id"], "aa:bb:cc:dd:ee:02");
    }

    #[test]
    fn yaml_quotes_macs_so_they_stay_strings() {
        // Unquoted, `00:00:00:00:00:01` is a YAML 1.1 sexagesimal integer.
        let yaml = crate::to_yaml(&objects()[..1]);
        assert!(!yaml.contains("mac: 00:"), "{yaml}");
        let back = anywhere_api::document::parse_value(&yaml, 1).expect("output parses");
        assert_eq!(
            back.pointer("/spec/interfaces/0/dhcp/mac"),
            Some(&json!("00:00:00:00:00:01"))
        );
    }
}

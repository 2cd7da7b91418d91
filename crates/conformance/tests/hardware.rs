//! The objects of `generate hardware` (Tinkerbell `Hardware`, Rufio `Machine`) validate against
//! the real Tinkerbell and Rufio CRD schemas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use anywhere_conformance::schema::SchemaSet;
use anywhere_manifests::providers::tinkerbell::hardware::hardware_objects;

/// Machines covering every optional shape: with and without BMC, VLAN, labels, several
/// nameservers, an NVMe disk, an upper-case MAC.
const CSV: &str = "hostname,bmc_ip,bmc_username,bmc_password,mac,ip_address,netmask,gateway,nameservers,labels,disk,vlan_id\n\
    cp1,192.168.0.10,Admin,admin,00:00:00:00:00:01,10.10.10.10,255.255.255.0,10.10.10.1,1.1.1.1,type=cp,/dev/sda,\n\
    worker1,,,,AA:BB:CC:DD:EE:02,10.10.10.11,255.255.255.0,10.10.10.1,1.1.1.1|8.8.8.8,,/dev/nvme0n1,42\n\
    worker2,192.168.0.12,root,p4ss,00:00:00:00:00:03,10.10.10.12,255.255.255.0,10.10.10.1,1.1.1.1,type=worker|rack=r1,/dev/sdb,4094\n";

fn crds() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/crds");
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

#[test]
fn hardware_objects_validate_against_tinkerbell_and_rufio_crds() {
    let Some(crds) = crds() else { return };
    let schemas = SchemaSet::load(&crds).unwrap();
    let records = anywhere_inventory::read_csv(CSV).expect("the test CSV is valid");
    let objects = hardware_objects(&records);
    let (mut problems, mut checked) = (Vec::new(), 0);
    for o in &objects {
        match schemas.validate(&o.0) {
            Some(errors) => {
                checked += 1;
                problems.extend(
                    errors
                        .into_iter()
                        .map(|e| format!("{} {}: {e}", o.kind(), o.name())),
                );
            }
            // Core kinds (the BMC Secret) have no CRD.
            None if o.api_version() == "v1" => {}
            None => problems.push(format!("{} {}: no CRD schema for this kind", o.kind(), o.name())),
        }
    }
    assert!(problems.is_empty(), "schema violations:\n{}", problems.join("\n"));
    // Three Hardware and two Machines; the two Secrets are core objects.
    assert_eq!(checked, 5);
    assert_eq!(objects.len(), 7);
}

/// Guards against a vacuous pass: the Machine a BMC-less record would get in EKS-A (empty
/// `host`) is rejected by the same schemas.
#[test]
fn schema_check_rejects_a_machine_without_host() {
    let Some(crds) = crds() else { return };
    let schemas = SchemaSet::load(&crds).unwrap();
    let records = anywhere_inventory::read_csv(CSV).expect("the test CSV is valid");
    let mut machine = hardware_objects(&records)[1].0.clone();
    machine["spec"]["connection"]["host"] = "".into();
    let errors = schemas.validate(&machine).expect("Rufio Machine has a CRD");
    assert!(
        errors.iter().any(|e| e.contains("/spec/connection/host")),
        "{errors:?}"
    );
}

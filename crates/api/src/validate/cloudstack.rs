//! CloudStack: CloudStackDatacenterConfig and CloudStackMachineConfig.

use super::syntax::label_value_errors;
use super::*;

/// A CloudStackDatacenterConfig after its defaults (which move the legacy fields into
/// availability zones): no legacy field left, at least one availability zone, each with a
/// unique label-safe name, a parseable management endpoint and a zone network.
pub fn cloudstack_datacenter(d: &CloudStackDatacenterConfig) -> Vec<Violation> {
    let id = object_id(d);
    let mut out = Vec::new();
    let default_spec = CloudStackDatacenterConfigSpec::default();
    let spec = d.spec.as_ref().unwrap_or(&default_spec);
    let legacy_hint = "move it into an availabilityZones entry";
    for (field, set) in [
        ("account", !s(&spec.account).is_empty()),
        ("domain", !s(&spec.domain).is_empty()),
        (
            "managementApiEndpoint",
            !s(&spec.management_api_endpoint).is_empty(),
        ),
        ("zones", !list(&spec.zones).is_empty()),
    ] {
        if set {
            out.push(
                Violation::new(&id, format!("spec.{field}"), format!("{field} must be empty"))
                    .with_hint(legacy_hint),
            );
        }
    }
    let zones = list(&spec.availability_zones);
    if zones.is_empty() {
        out.push(
            Violation::new(
                &id,
                "spec.availabilityZones",
                "availabilityZones must not be empty",
            )
            .with_hint("add an availabilityZones entry with a name, zone, domain, account and endpoint"),
        );
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, az) in zones.iter().enumerate() {
        let path = format!("spec.availabilityZones[{i}]");
        let name = s(&az.name);
        let errs = label_value_errors(name);
        if !errs.is_empty() {
            out.push(Violation::new(
                &id,
                format!("{path}.name"),
                format!(
                    "availabilityZone names must be a valid label value since it is used to label nodes: {}",
                    errs.join(";")
                ),
            ));
        }
        if seen.contains(&name) {
            out.push(Violation::new(
                &id,
                format!("{path}.name"),
                format!("availabilityZone names must be unique. Duplicate name: {name}"),
            ));
        }
        seen.push(name);
        let endpoint = s(&az.management_api_endpoint);
        if !is_go_url(endpoint) {
            out.push(Violation::new(
                &id,
                format!("{path}.managementApiEndpoint"),
                format!("checking management api endpoint: {endpoint} is not a valid url"),
            ));
        }
        let network = az.zone.as_ref().and_then(|z| z.network.as_ref());
        if network.is_none_or(|n| s(&n.id).is_empty() && s(&n.name).is_empty()) {
            out.push(
                Violation::new(
                    &id,
                    format!("{path}.zone.network"),
                    "zone network is not set or is empty",
                )
                .with_hint("set zone.network.name or zone.network.id"),
            );
        }
    }
    out
}

/// What Go's lenient `url.Parse` rejects: control characters, a leading colon, bad percent
/// escapes, and spaces in the host.
fn is_go_url(raw: &str) -> bool {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) || raw.starts_with(':') {
        return false;
    }
    let bytes = raw.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return false;
        }
    }
    match raw.split_once("://") {
        Some((_, rest)) => !rest.split('/').next().unwrap_or("").contains(' '),
        None => true,
    }
}

/// `userCustomDetails` keys EKS Anywhere models elsewhere and refuses here.
const RESTRICTED_USER_CUSTOM_DETAILS: &[&str] = &[
    "keyboard",
    "cpu.corespersocket",
    "rootdisksize",
    "boot.mode",
    "nameonhypervisor",
    "nicAdapter",
    "rootDiskController",
    "dataDiskController",
    "svga.vramSize",
    "nestedVirtualizationFlag",
    "ramReservation",
    "hypervisortoolsversion",
    "platform",
    "timeoffset",
    "kvm.vnc.port",
    "kvm.vnc.address",
    "video.hardware",
    "video.ram",
    "smc.present",
    "firmware",
    "cpuNumber",
    "cpuSpeed",
    "memory",
    "cpuOvercommitRatio",
    "memoryOvercommitRatio",
    "Message.ReservedCapacityFreed.Flag",
    "deployvm",
    "SSH.PublicKey",
    "SSH.KeyPairNames",
    "password",
    "Encrypted.Password",
    "configDriveLocation",
    "nic",
    "network",
    "ip4Address",
    "ip6Address",
    "disk",
    "diskOffering",
    "configurationId",
    "keypairnames",
    "controlNodeLoginUser",
];

/// A CloudStackMachineConfig: a compute offering and a template, a complete disk offering, no
/// restricted custom detail, `affinity` (pro, anti or no) or `affinityGroupIds` but not both,
/// and symlinks between absolute paths.
pub fn cloudstack_machine(m: &CloudStackMachineConfig) -> Vec<Violation> {
    let id = object_id(m);
    let name = m.name();
    let mut out = Vec::new();
    let default_spec = CloudStackMachineConfigSpec::default();
    let spec = m.spec.as_ref().unwrap_or(&default_spec);
    let unset = |n: &Option<Network>| {
        n.as_ref()
            .is_none_or(|n| s(&n.id).is_empty() && s(&n.name).is_empty())
    };
    if unset(&spec.compute_offering) {
        out.push(
            Violation::new(
                &id,
                "spec.computeOffering",
                format!(
                    "computeOffering is not set for CloudStackMachineConfig {name}. Default computeOffering is not \
                     supported in CloudStack, please provide a computeOffering name or ID"
                ),
            )
            .with_hint("set computeOffering.name or computeOffering.id"),
        );
    }
    if unset(&spec.template) {
        out.push(
            Violation::new(
                &id,
                "spec.template",
                format!(
                    "template is not set for CloudStackMachineConfig {name}. Default template is not supported in \
                     CloudStack, please provide a template name or ID"
                ),
            )
            .with_hint("set template.name or template.id"),
        );
    }
    if let Some((field, value, why)) = spec.disk_offering.as_ref().and_then(disk_offering_problem) {
        out.push(Violation::new(
            &id,
            format!("spec.diskOffering.{field}"),
            format!("machine config {name} validation failed: {field}: {value} invalid, {why}"),
        ));
    }
    if let Some(details) = &spec.user_custom_details {
        for key in RESTRICTED_USER_CUSTOM_DETAILS
            .iter()
            .filter(|k| details.contains_key(**k))
        {
            out.push(
                Violation::new(
                    &id,
                    format!("spec.userCustomDetails.{key}"),
                    format!("restricted key {key} found in custom user details"),
                )
                .with_hint("EKS Anywhere sets this detail itself; remove it"),
            );
        }
    }
    let affinity = s(&spec.affinity);
    if !affinity.is_empty() && !list(&spec.affinity_group_ids).is_empty() {
        out.push(Violation::new(
            &id,
            "spec.affinity",
            format!(
                "affinity and affinityGroupIds cannot be set at the same time for CloudStackMachineConfig {name}. \
                 Please provide either one of them or none"
            ),
        ));
    } else if !affinity.is_empty() && !matches!(affinity, "pro" | "anti" | "no") {
        out.push(Violation::new(
            &id,
            "spec.affinity",
            format!("invalid affinity type {affinity} for CloudStackMachineConfig {name}. Please provide \"pro\", \"anti\" or \"no\""),
        ));
    }
    if let Some(links) = &spec.symlinks {
        for (key, value) in links {
            for p in [key, value] {
                let why = if !p.starts_with('/') || p.ends_with('/') {
                    "must start with / and NOT end with /"
                } else if !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
                {
                    "has char not in portable file name set"
                } else {
                    continue;
                };
                out.push(Violation::new(
                    &id,
                    format!("spec.symlinks.{key}"),
                    format!("symlinks: {p} invalid, {why}"),
                ));
            }
        }
    }
    out
}

/// The reference's disk-offering check: with an id or name, a mount path under `/`, a
/// filesystem, a device and a label; without one, none of those.
fn disk_offering_problem(d: &DiskOffering) -> Option<(&'static str, String, &'static str)> {
    let (mount, fs, device, label) = (s(&d.mount_path), s(&d.filesystem), s(&d.device), s(&d.label));
    if !s(&d.id).is_empty() || !s(&d.name).is_empty() {
        if mount.len() < 2 || !mount.starts_with('/') {
            return Some((
                "mountPath",
                mount.to_string(),
                "must be non-empty and start with /",
            ));
        }
        if fs.is_empty() {
            return Some(("filesystem", String::new(), "empty filesystem"));
        }
        if device.is_empty() {
            return Some(("device", String::new(), "empty device"));
        }
        if label.is_empty() {
            return Some(("label", String::new(), "empty label"));
        }
    } else if !(mount.is_empty() && fs.is_empty() && device.is_empty() && label.is_empty()) {
        return Some(("id or name", s(&d.id).to_string(), "empty id/name"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::{decode, messages};

    fn check_dc(spec: &str, expect: &[&str]) {
        let d: CloudStackDatacenterConfig = decode(&format!("metadata: {{name: dc}}\nspec: {spec}\n"));
        assert_eq!(messages(&cloudstack_datacenter(&d)), expect, "{spec}");
    }

    fn check_machine(spec: &str, expect: &[&str]) {
        let m: CloudStackMachineConfig = decode(&format!("metadata: {{name: m}}\nspec: {spec}\n"));
        assert_eq!(messages(&cloudstack_machine(&m)), expect, "{spec}");
    }

    const AZ: &str =
        "{name: az1, managementApiEndpoint: 'https://cs/client/api', zone: {name: z, network: {name: n}}}";

    #[test]
    fn datacenter_needs_unique_complete_availability_zones() {
        check_dc(&format!("{{availabilityZones: [{AZ}]}}"), &[]);
        check_dc("{}", &["availabilityZones must not be empty"]);
        check_dc(
            &format!("{{account: a, availabilityZones: [{AZ}, {AZ}]}}"),
            &[
                "account must be empty",
                "availabilityZone names must be unique. Duplicate name: az1",
            ],
        );
        check_dc(
            "{availabilityZones: [{name: 'bad name', managementApiEndpoint: x, zone: {name: z}}]}",
            &[
                "availabilityZone names must be a valid label value since it is used to label nodes: a valid label must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                "zone network is not set or is empty",
            ],
        );
    }

    #[test]
    fn machine_needs_offering_and_template_and_consistent_affinity() {
        check_machine("{computeOffering: {name: c}, template: {id: t}}", &[]);
        check_machine(
            "{}",
            &[
                "computeOffering is not set for CloudStackMachineConfig m. Default computeOffering is not supported in CloudStack, please provide a computeOffering name or ID",
                "template is not set for CloudStackMachineConfig m. Default template is not supported in CloudStack, please provide a template name or ID",
            ],
        );
        check_machine(
            "{computeOffering: {name: c}, template: {id: t}, affinity: pro, affinityGroupIds: [g]}",
            &[
                "affinity and affinityGroupIds cannot be set at the same time for CloudStackMachineConfig m. Please provide either one of them or none",
            ],
        );
        check_machine(
            "{computeOffering: {name: c}, template: {id: t}, affinity: maybe}",
            &[
                "invalid affinity type maybe for CloudStackMachineConfig m. Please provide \"pro\", \"anti\" or \"no\"",
            ],
        );
        check_machine(
            "{computeOffering: {name: c}, template: {id: t}, userCustomDetails: {memory: '1'}, diskOffering: {name: d, mountPath: /data}}",
            &[
                "machine config m validation failed: filesystem:  invalid, empty filesystem",
                "restricted key memory found in custom user details",
            ],
        );
        check_machine(
            "{computeOffering: {name: c}, template: {id: t}, symlinks: {/var/log: 'rel/path'}}",
            &["symlinks: rel/path invalid, must start with / and NOT end with /"],
        );
    }
}

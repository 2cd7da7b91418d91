//! Nutanix: NutanixDatacenterConfig and NutanixMachineConfig.

use super::host_os::{first_pem_block, parse_certificates};
use super::syntax::parse_quantity;
use super::*;
use crate::meta::IntOrString;

/// A NutanixDatacenterConfig, in the reference's order: endpoint and port set; a trust bundle,
/// when given, whose first PEM block holds X.509 certificates; `credentialRef`, when given, a
/// named Secret; each failure domain's cluster, then its subnets, identified by a name or UUID.
/// No defaults run first, so an absent `credentialRef` stays absent.
pub fn nutanix_datacenter(d: &NutanixDatacenterConfig) -> Vec<Violation> {
    let id = object_id(d);
    let mut out = Vec::new();
    let default_spec = NutanixDatacenterConfigSpec::default();
    let spec = d.spec.as_ref().unwrap_or(&default_spec);
    if s(&spec.endpoint).is_empty() {
        out.push(
            Violation::new(
                &id,
                "spec.endpoint",
                "NutanixDatacenterConfig endpoint is not set or is empty",
            )
            .with_hint("set the Prism Central host name or IP"),
        );
    }
    if spec.port.unwrap_or(0) == 0 {
        out.push(
            Violation::new(
                &id,
                "spec.port",
                "NutanixDatacenterConfig port is not set or is empty",
            )
            .with_hint("Prism Central listens on 9440 by default"),
        );
    }
    let bundle = s(&spec.additional_trust_bundle);
    if !bundle.is_empty() {
        let prefix = "NutanixDatacenterConfig additionalTrustBundle is not valid";
        match first_pem_block(bundle) {
            None => out.push(
                Violation::new(
                    &id,
                    "spec.additionalTrustBundle",
                    format!("{prefix}: could not find a PEM block in the certificate"),
                )
                .with_hint("paste the CA certificate(s) in PEM form, -----BEGIN CERTIFICATE----- included"),
            ),
            Some(der) => {
                if let Err(e) = parse_certificates(&der) {
                    out.push(
                        Violation::new(&id, "spec.additionalTrustBundle", format!("{prefix}: {e}"))
                            .with_hint("the first PEM block must be a CERTIFICATE"),
                    );
                }
            }
        }
    }
    if let Some(r) = &spec.credential_ref {
        let kind = s(&r.kind);
        if kind != "Secret" {
            out.push(
                Violation::new(
                    &id,
                    "spec.credentialRef.kind",
                    format!("NutanixDatacenterConfig credentialRef Kind ({kind}) is not a secret"),
                )
                .with_hint("set credentialRef.kind: Secret"),
            );
        } else if s(&r.name).is_empty() {
            out.push(Violation::new(
                &id,
                "spec.credentialRef.name",
                "NutanixDatacenterConfig credentialRef name is not set or is empty",
            ));
        }
    }
    let owner = format!("{}/{}", d.namespace(), d.name());
    for (i, fd) in list(&spec.failure_domains).iter().enumerate() {
        let path = format!("spec.failureDomains[{i}]");
        let default_id = NutanixResourceIdentifier::default();
        let prefix = "NutanixDatacenterConfig.Spec.FailureDomains";
        if let Some(m) = failure_domain_identifier(
            fd.cluster.as_ref().unwrap_or(&default_id),
            &format!("{prefix}.Cluster"),
            "cluster",
            &owner,
        ) {
            out.push(Violation::new(&id, format!("{path}.cluster"), m));
        }
        for (j, subnet) in list(&fd.subnets).iter().enumerate() {
            if let Some(m) = failure_domain_identifier(subnet, &format!("{prefix}.Subnets"), "subnet", &owner)
            {
                out.push(Violation::new(&id, format!("{path}.subnets[{j}]"), m));
            }
        }
    }
    out
}

/// A failure-domain identifier: type `name` with a non-empty name or `uuid` with a non-empty UUID.
fn failure_domain_identifier(
    r: &NutanixResourceIdentifier,
    prefix: &str,
    entity: &str,
    owner: &str,
) -> Option<String> {
    match s(&r.r#type) {
        "name" if s(&r.name).is_empty() => Some(format!("{prefix}: missing {entity} name: {owner}")),
        "uuid" if s(&r.uuid).is_empty() => Some(format!("{prefix}: missing {entity} UUID: {owner}")),
        "name" | "uuid" => None,
        other => Some(format!("{prefix}: invalid identifier type for {entity}: {other}")),
    }
}

/// A machine-config identifier: type `name` or `uuid`, with that field present (it may be empty).
fn machine_identifier(r: Option<&NutanixResourceIdentifier>, entity: &str, machine: &str) -> Option<String> {
    let default_id = NutanixResourceIdentifier::default();
    let r = r.unwrap_or(&default_id);
    match s(&r.r#type) {
        "name" if r.name.is_none() => Some(format!("NutanixMachineConfig: missing {entity} name: {machine}")),
        "uuid" if r.uuid.is_none() => Some(format!("NutanixMachineConfig: missing {entity} UUID: {machine}")),
        "name" | "uuid" => None,
        other => Some(format!(
            "NutanixMachineConfig: invalid identifier type for {entity}: {other}"
        )),
    }
}

/// A NutanixMachineConfig, in the reference's order: a name; the subnet, cluster, image (and
/// project) identifiers; each additional category with a key and a value; at least 2 vCPU
/// sockets of 1 vCPU, 4Gi of memory and a 40Gi system disk; `osFamily` ubuntu or redhat; boot
/// type legacy or uefi; a first user with a name and an SSH key. Run on the parsed object:
/// the reference validates before defaulting.
pub fn nutanix_machine(m: &NutanixMachineConfig) -> Vec<Violation> {
    nutanix_machine_rules(m, SshKeys::Required)
}

/// Whether a machine config must already carry an SSH key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SshKeys {
    /// The key must be in the spec (what the reference's object validation checks).
    Required,
    /// The CLI generates a missing key before creating machines, so an empty one is fine.
    Generated,
}

/// [`nutanix_machine`] with the SSH-key rule as `ssh` says.
pub(crate) fn nutanix_machine_rules(m: &NutanixMachineConfig, ssh: SshKeys) -> Vec<Violation> {
    let id = object_id(m);
    let name = m.name();
    let mut out = Vec::new();
    let default_spec = NutanixMachineConfigSpec::default();
    let spec = m.spec.as_ref().unwrap_or(&default_spec);
    if name.is_empty() {
        out.push(Violation::new(
            &id,
            "metadata.name",
            "NutanixMachineConfig: missing name",
        ));
    }
    let identifiers = [
        ("subnet", spec.subnet.as_ref(), true),
        ("cluster", spec.cluster.as_ref(), true),
        ("image", spec.image.as_ref(), true),
        ("project", spec.project.as_ref(), spec.project.is_some()),
    ];
    for (entity, r, required) in identifiers {
        if let Some(message) = required.then(|| machine_identifier(r, entity, name)).flatten() {
            out.push(
                Violation::new(&id, format!("spec.{entity}"), message).with_hint(format!(
                    "set {entity}: {{type: name, name: ...}} or {{type: uuid, uuid: ...}}"
                )),
            );
        }
    }
    for (i, cat) in list(&spec.additional_categories).iter().enumerate() {
        let path = format!("spec.additionalCategories[{i}]");
        let key = s(&cat.key);
        if key.is_empty() {
            out.push(Violation::new(
                &id,
                format!("{path}.key"),
                format!("NutanixMachineConfig: missing category key: {name}"),
            ));
        } else if s(&cat.value).is_empty() {
            out.push(Violation::new(
                &id,
                format!("{path}.value"),
                format!("NutanixMachineConfig: missing category value for key {key}: {name}"),
            ));
        }
    }
    if spec.vcpu_sockets.unwrap_or(0) < 2 {
        out.push(Violation::new(
            &id,
            "spec.vcpuSockets",
            "NutanixMachineConfig: vcpu sockets must be greater than or equal to 2",
        ));
    }
    if spec.vcpus_per_socket.unwrap_or(0) < 1 {
        out.push(Violation::new(
            &id,
            "spec.vcpusPerSocket",
            "NutanixMachineConfig: vcpu per socket must be greater than or equal to 1",
        ));
    }
    for (field, value, minimum, message) in [
        (
            "memorySize",
            &spec.memory_size,
            "4Gi",
            "memory size must be greater than or equal to 4Gi",
        ),
        (
            "systemDiskSize",
            &spec.system_disk_size,
            "40Gi",
            "system disk size must be greater than 40Gi",
        ),
    ] {
        let bytes = match value {
            None => Some(0.0),
            Some(IntOrString::Int(n)) => Some(*n as f64),
            Some(IntOrString::String(t)) => parse_quantity(t),
        };
        match bytes {
            None => out.push(
                Violation::new(
                    &id,
                    format!("spec.{field}"),
                    format!(
                        "NutanixMachineConfig: {field} {} is not a valid quantity",
                        value.as_ref().map(ToString::to_string).unwrap_or_default()
                    ),
                )
                .with_hint("write a quantity such as 8Gi"),
            ),
            Some(b) if b < parse_quantity(minimum).unwrap_or(0.0) => {
                out.push(Violation::new(
                    &id,
                    format!("spec.{field}"),
                    format!("NutanixMachineConfig: {message}"),
                ));
            }
            Some(_) => {}
        }
    }
    let os = s(&spec.os_family);
    if os != "ubuntu" && os != "redhat" {
        out.push(
            Violation::new(
                &id,
                "spec.osFamily",
                format!("NutanixMachineConfig: unsupported spec.osFamily ({os}); Please use one of the following: ubuntu, redhat"),
            )
            .with_hint("use ubuntu or redhat"),
        );
    }
    let boot = s(&spec.boot_type);
    if !matches!(boot, "" | "legacy" | "uefi") {
        out.push(Violation::new(
            &id,
            "spec.bootType",
            format!("NutanixMachineConfig: unsupported boot type ({boot}); Please use one of the following: legacy, uefi"),
        ));
    }
    out.extend(machine_users(
        &id,
        "NutanixMachineConfig",
        name,
        list(&spec.users),
        ssh,
    ));
    out
}

/// The reference's `validateMachineConfigUsers`: a first user with a name and (unless the CLI
/// generates one) a first SSH key.
pub(crate) fn machine_users(
    id: &str,
    kind: &str,
    name: &str,
    users: &[User],
    ssh: SshKeys,
) -> Vec<Violation> {
    let Some(first) = users.first() else {
        return vec![
            Violation::new(
                id,
                "spec.users",
                format!("users is not set for {kind} {name}, please provide a user"),
            )
            .with_hint("add users: [{name: ..., sshAuthorizedKeys: [ssh-...]}]"),
        ];
    };
    let user = s(&first.name);
    if user.is_empty() {
        return vec![Violation::new(
            id,
            "spec.users[0].name",
            format!("users[0].name is not set or is empty for {kind} {name}, please provide a username"),
        )];
    }
    if ssh == SshKeys::Required
        && list(&first.ssh_authorized_keys)
            .first()
            .is_none_or(String::is_empty)
    {
        return vec![
            Violation::new(
                id,
                "spec.users[0].sshAuthorizedKeys",
                format!(
                    "users[0].SshAuthorizedKeys is not set or is empty for {kind} {name}, please provide a valid ssh \
                     authorized key for user {user}"
                ),
            )
            .with_hint("paste the public key, e.g. the content of ~/.ssh/id_ed25519.pub"),
        ];
    }
    Vec::new()
}

#[cfg(test)]
mod tests;

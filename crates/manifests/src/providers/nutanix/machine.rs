//! `NutanixMachineTemplate`s from NutanixMachineConfigs.

use anywhere_api::meta::IntOrString;
use anywhere_api::{NutanixFailureDomain, NutanixMachineConfigSpec, NutanixResourceIdentifier};

use crate::types::nutanix_v1beta1 as capx;
use crate::{Manifest, SYSTEM_NAMESPACE};

/// A resource identifier as CAPX wants it: `type: name` with `name`, `type: uuid` with `uuid`;
/// any other type renders as an empty value, as in EKS Anywhere's template.
pub(super) fn identifier(id: &NutanixResourceIdentifier) -> Option<capx::Cluster> {
    match id.r#type.as_deref() {
        Some("name") => Some(capx::Cluster {
            r#type: Some("name".into()),
            name: Some(id.name.clone().unwrap_or_default()),
            uuid: None,
        }),
        Some("uuid") => Some(capx::Cluster {
            r#type: Some("uuid".into()),
            uuid: Some(id.uuid.clone().unwrap_or_default()),
            name: None,
        }),
        _ => None,
    }
}

/// Where the machines of a template go: the machine config's own cluster and subnet, or a
/// worker failure domain's.
#[derive(Clone, Copy, Debug)]
pub(super) enum Placement<'a> {
    /// The machine config's `cluster` and `subnet`.
    MachineConfig,
    /// A failure domain's `cluster` and `subnets`.
    FailureDomain(&'a NutanixFailureDomain),
}

/// A NutanixMachineTemplate named `name` for `cluster`'s machines. GPUs are not included (only
/// worker templates outside failure domains carry them; see [`with_gpus`]).
pub(super) fn machine_template(
    name: &str,
    cluster: &str,
    machine: &NutanixMachineConfigSpec,
    placement: Placement<'_>,
) -> capx::NutanixMachineTemplate {
    let (pe_cluster, subnets) = match placement {
        Placement::MachineConfig => (
            machine.cluster.as_ref().and_then(identifier),
            machine.subnet.as_ref().and_then(identifier).map(|s| vec![s]),
        ),
        Placement::FailureDomain(fd) => (
            fd.cluster.as_ref().and_then(identifier),
            Some(fd.subnets.iter().flatten().filter_map(identifier).collect()),
        ),
    };
    let project = match &machine.project {
        Some(p) if p.r#type.as_deref().is_some_and(|t| !t.is_empty()) => identifier(p),
        _ => None,
    };
    let categories = machine
        .additional_categories
        .as_ref()
        .filter(|c| !c.is_empty())
        .map(|cats| {
            cats.iter()
                .map(|c| match placement {
                    Placement::MachineConfig => capx::AdditionalCategory {
                        key: Some(c.key.clone().unwrap_or_default()),
                        value: Some(c.value.clone().unwrap_or_default()),
                    },
                    // EKS Anywhere's failure-domain template reads `$.Key`/`$.Value` (the root
                    // value map, which has no such keys), so it prints `<no value>` for both.
                    Placement::FailureDomain(_) => capx::AdditionalCategory {
                        key: Some(crate::NO_VALUE.into()),
                        value: Some(crate::NO_VALUE.into()),
                    },
                })
                .collect()
        });
    capx::NutanixMachineTemplate {
        api_version: Some("infrastructure.cluster.x-k8s.io/v1beta1".into()),
        kind: Some("NutanixMachineTemplate".into()),
        metadata: Some(anywhere_api::meta::ObjectMeta {
            name: Some(name.into()),
            namespace: Some(SYSTEM_NAMESPACE.into()),
            ..Default::default()
        }),
        spec: Some(capx::NutanixMachineTemplateSpec {
            template: Some(capx::Template {
                metadata: None,
                spec: Some(capx::Spec {
                    provider_id: Some(format!("nutanix://{cluster}-m1")),
                    vcpus_per_socket: Some(machine.vcpus_per_socket.unwrap_or(0)),
                    vcpu_sockets: Some(machine.vcpu_sockets.unwrap_or(0)),
                    memory_size: Some(quantity(machine.memory_size.as_ref())),
                    system_disk_size: Some(quantity(machine.system_disk_size.as_ref())),
                    boot_type: machine.boot_type.clone().filter(|b| !b.is_empty()),
                    image: machine.image.as_ref().and_then(identifier),
                    cluster: pe_cluster,
                    subnet: subnets,
                    project,
                    additional_categories: categories,
                    ..Default::default()
                }),
            }),
        }),
        status: None,
    }
}

/// The template with the machine config's GPUs (`deviceID` or `name`; other types dropped).
pub(super) fn with_gpus(
    mut template: capx::NutanixMachineTemplate,
    machine: &NutanixMachineConfigSpec,
) -> capx::NutanixMachineTemplate {
    let gpus: Vec<capx::Gpu> = machine
        .gpus
        .iter()
        .flatten()
        .filter_map(|g| match g.r#type.as_deref() {
            Some("deviceID") => Some(capx::Gpu {
                r#type: Some("deviceID".into()),
                device_id: Some(g.device_id.unwrap_or(0)),
                name: None,
            }),
            Some("name") => Some(capx::Gpu {
                r#type: Some("name".into()),
                name: Some(g.name.clone().unwrap_or_default()),
                device_id: None,
            }),
            _ => None,
        })
        .collect();
    if !gpus.is_empty()
        && let Some(spec) = template
            .spec
            .as_mut()
            .and_then(|s| s.template.as_mut())
            .and_then(|t| t.spec.as_mut())
    {
        spec.gpus = Some(gpus);
    }
    template
}

/// Wraps a template.
pub(super) fn manifest(template: &capx::NutanixMachineTemplate) -> Manifest {
    Manifest::new(template)
}

/// A Kubernetes quantity in canonical form (`resource.Quantity.String()`): `1024Mi` → `1Gi`,
/// `8000M` → `8G`. A value this function cannot canonicalise exactly is kept as written.
pub(super) fn quantity(value: Option<&IntOrString>) -> IntOrString {
    let text = match value {
        None => return IntOrString::Int(0),
        Some(IntOrString::Int(i)) => return IntOrString::Int(*i),
        Some(IntOrString::String(s)) => s.trim().to_string(),
    };
    match canonical_quantity(&text) {
        Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => {
            c.parse().map(IntOrString::Int).unwrap_or(IntOrString::String(c))
        }
        Some(c) => IntOrString::String(c),
        None => IntOrString::String(text),
    }
}

const BINARY: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
const DECIMAL: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];

fn canonical_quantity(text: &str) -> Option<String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (base, exponent, table): (u128, usize, &[&str; 7]) =
        if let Some(i) = BINARY.iter().position(|s| *s == suffix && !s.is_empty()) {
            (1024, i, &BINARY)
        } else if let Some(i) = DECIMAL.iter().position(|s| *s == suffix) {
            (1000, i, &DECIMAL)
        } else {
            return None;
        };
    // Exact value as a fraction numerator / 10^decimals.
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    let numerator: u128 = digits.parse().ok()?;
    let denominator = 10u128.checked_pow(u32::try_from(frac_part.len()).ok()?)?;
    let scaled = numerator.checked_mul(base.checked_pow(u32::try_from(exponent).ok()?)?)?;
    if scaled % denominator != 0 {
        return None;
    }
    let mut value = scaled / denominator;
    if value == 0 {
        return Some("0".into());
    }
    let mut unit = 0;
    while unit + 1 < table.len() && value % base == 0 {
        value /= base;
        unit += 1;
    }
    Some(format!("{value}{}", table[unit]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> IntOrString {
        quantity(Some(&IntOrString::String(s.into())))
    }

    #[test]
    fn quantities_are_canonical() {
        assert_eq!(q("8Gi"), IntOrString::String("8Gi".into()));
        assert_eq!(q("1024Mi"), IntOrString::String("1Gi".into()));
        assert_eq!(q("1.5Gi"), IntOrString::String("1536Mi".into()));
        assert_eq!(q("8000M"), IntOrString::String("8G".into()));
        assert_eq!(q("40Gi"), IntOrString::String("40Gi".into()));
        assert_eq!(q("500m"), IntOrString::String("500m".into()));
    }

    #[test]
    fn identifiers_keep_only_the_field_of_their_type() {
        let id = NutanixResourceIdentifier {
            r#type: Some("uuid".into()),
            uuid: Some("u".into()),
            name: Some("n".into()),
        };
        assert_eq!(
            identifier(&id),
            Some(capx::Cluster {
                r#type: Some("uuid".into()),
                uuid: Some("u".into()),
                name: None
            })
        );
        let bad = NutanixResourceIdentifier {
            r#type: Some("other".into()),
            ..Default::default()
        };
        assert_eq!(identifier(&bad), None);
    }
}

//! Snow: SnowDatacenterConfig, SnowMachineConfig, SnowIPPool.

use std::net::IpAddr;
use std::sync::LazyLock;

use ipnet::IpNet;
use regex::Regex;

use super::host_os::host_os_configuration;
use super::*;

/// The Snow instance types EKS Anywhere supports (`sbe-c.large`, `sbe-g.4xlarge`...).
static INSTANCE_TYPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^sbe-[cg]\.[0-9]*x?large$").expect("the instance type pattern is a valid regex")
});

/// A SnowDatacenterConfig: `identityRef` names a Secret. Run the defaults first (they name the
/// credentials Secret after the object).
pub fn snow_datacenter(d: &SnowDatacenterConfig) -> Vec<Violation> {
    let id = object_id(d);
    let r = d.spec.as_ref().and_then(|s| s.identity_ref.as_ref());
    let (kind, name) = (
        r.map(|r| s(&r.kind)).unwrap_or(""),
        r.map(|r| s(&r.name)).unwrap_or(""),
    );
    let mut out = Vec::new();
    if name.is_empty() {
        out.push(Violation::new(
            &id,
            "spec.identityRef.name",
            "SnowDatacenterConfig IdentityRef name must not be empty",
        ));
    }
    if kind.is_empty() {
        out.push(Violation::new(
            &id,
            "spec.identityRef.kind",
            "SnowDatacenterConfig IdentityRef kind must not be empty",
        ));
    } else if kind != "Secret" {
        out.push(
            Violation::new(
                &id,
                "spec.identityRef.kind",
                format!("SnowDatacenterConfig IdentityRef kind {kind} is invalid, the only supported kind is Secret"),
            )
            .with_hint("set identityRef.kind: Secret"),
        );
    }
    out
}

/// The direct network interfaces of a SnowMachineConfig, empty when absent.
pub(crate) fn direct_network_interfaces(m: &SnowMachineConfig) -> &[DirectNetworkInterface] {
    m.spec
        .as_ref()
        .and_then(|s| s.network.as_ref())
        .map(|n| list(&n.direct_network_interfaces))
        .unwrap_or(&[])
}

/// A SnowMachineConfig: supported instance type and network connector, devices, a supported
/// `osFamily`, exactly one primary network interface, container and extra volumes big enough,
/// and a valid `hostOSConfiguration`. Run the defaults first (instance type, connector).
pub fn snow_machine(m: &SnowMachineConfig) -> Vec<Violation> {
    let id = object_id(m);
    let mut out = Vec::new();
    let default_spec = SnowMachineConfigSpec::default();
    let spec = m.spec.as_ref().unwrap_or(&default_spec);
    let instance = s(&spec.instance_type);
    if !INSTANCE_TYPE.is_match(instance) {
        out.push(
            Violation::new(
                &id,
                "spec.instanceType",
                format!("SnowMachineConfig InstanceType {instance} is not supported"),
            )
            .with_hint("use an sbe-c or sbe-g type such as sbe-c.large or sbe-c.4xlarge"),
        );
    }
    let connector = s(&spec.physical_network_connector);
    if !matches!(connector, "SFP_PLUS" | "QSFP" | "RJ45") {
        out.push(Violation::new(
            &id,
            "spec.physicalNetworkConnector",
            format!(
                "SnowMachineConfig PhysicalNetworkConnector {connector} is not supported, please use one of the \
                 following: SFP_PLUS, QSFP, RJ45"
            ),
        ));
    }
    if list(&spec.devices).is_empty() {
        out.push(
            Violation::new(
                &id,
                "spec.devices",
                "SnowMachineConfig Devices must contain at least one device IP",
            )
            .with_hint("list the IPs of the Snow devices to run machines on"),
        );
    }
    let os = s(&spec.os_family);
    if os.is_empty() {
        out.push(Violation::new(
            &id,
            "spec.osFamily",
            "SnowMachineConfig OSFamily must be specified",
        ));
    } else if os != "bottlerocket" && os != "ubuntu" {
        out.push(Violation::new(
            &id,
            "spec.osFamily",
            format!("SnowMachineConfig OSFamily {os} is not supported, please use one of the following: bottlerocket, ubuntu"),
        ));
    }
    let dnis = direct_network_interfaces(m);
    if dnis.is_empty() {
        out.push(Violation::new(
            &id,
            "spec.network.directNetworkInterfaces",
            "SnowMachineConfig Network.DirectNetworkInterfaces length must be no smaller than 1",
        ));
    } else if dnis.iter().filter(|d| d.primary == Some(true)).count() != 1 {
        out.push(Violation::new(
            &id,
            "spec.network.directNetworkInterfaces",
            "SnowMachineConfig Network.DirectNetworkInterfaces list must contain one and only one primary DNI",
        ));
    }
    let containers = spec.containers_volume.as_ref();
    let size = containers.and_then(|v| v.size).unwrap_or(0);
    if os == "bottlerocket" {
        if containers.is_none() {
            out.push(Violation::new(
                &id,
                "spec.containersVolume",
                "SnowMachineConfig ContainersVolume must be specified for Bottlerocket OS",
            ));
        } else if size < 25 {
            out.push(Violation::new(
                &id,
                "spec.containersVolume.size",
                "SnowMachineConfig ContainersVolume.Size must be no smaller than 25 Gi for Bottlerocket OS",
            ));
        }
    }
    if os == "ubuntu" && containers.is_some() && size < 8 {
        out.push(Violation::new(
            &id,
            "spec.containersVolume.size",
            "SnowMachineConfig ContainersVolume.Size must be no smaller than 8 Gi for Ubuntu OS",
        ));
    }
    if let Some(h) = &spec.host_os_configuration {
        out.extend(host_os_configuration(
            h,
            os,
            &id,
            "spec.hostOSConfiguration",
            "SnowMachineConfig HostOSConfiguration is invalid: ",
        ));
    }
    for (i, v) in list(&spec.non_root_volumes).iter().enumerate() {
        let path = format!("spec.nonRootVolumes[{i}]");
        let device = s(&v.device_name);
        if device.is_empty() {
            out.push(Violation::new(
                &id,
                format!("{path}.deviceName"),
                format!("SnowMachineConfig NonRootVolumes[{i}].DeviceName must be specified"),
            ));
        } else if device.starts_with("/dev/sda") {
            out.push(Violation::new(
                &id,
                format!("{path}.deviceName"),
                format!(
                    "SnowMachineConfig NonRootVolumes[{i}].DeviceName [{device}] is invalid. Device name with prefix \
                     /dev/sda* is reserved for root volume and containers volume, please use another name"
                ),
            ));
        } else if v.size.unwrap_or(0) < 8 {
            out.push(Violation::new(
                &id,
                format!("{path}.size"),
                format!("SnowMachineConfig NonRootVolumes[{i}].Size must be no smaller than 8 Gi"),
            ));
        }
    }
    out
}

/// Addresses in one order for both families, as Go compares 16-byte IPs.
fn as_v6(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// A SnowIPPool: every pool has a start below its end, a gateway, and a subnet holding both.
pub fn snow_ip_pool(p: &SnowIPPool) -> Vec<Violation> {
    let id = object_id(p);
    let mut out = Vec::new();
    let pools = p.spec.as_ref().map(|s| list(&s.pools)).unwrap_or(&[]);
    for (i, pool) in pools.iter().enumerate() {
        let path = format!("spec.pools[{i}]");
        let v = |field: &str, message: String| Violation::new(&id, format!("{path}.{field}"), message);
        let ip = |field: &str, name: &str, value: &str| -> Result<IpAddr, Violation> {
            if value.is_empty() {
                return Err(v(field, format!("SnowIPPool Pools[{i}].{name} can not be empty")));
            }
            value
                .parse::<IpAddr>()
                .map_err(|_| v(field, format!("SnowIPPool Pools[{i}].{name} is invalid")))
        };
        let start = ip("ipStart", "IPStart", s(&pool.ip_start));
        let end = ip("ipEnd", "IPEnd", s(&pool.ip_end));
        let gateway = ip("gateway", "Gateway", s(&pool.gateway));
        let (start, end) = match (start, end, gateway) {
            (Ok(a), Ok(b), Ok(_)) => (a, b),
            (a, b, g) => {
                out.extend([a.err(), b.err(), g.err()].into_iter().flatten());
                continue;
            }
        };
        if as_v6(start) >= as_v6(end) {
            out.push(v(
                "ipStart",
                format!("SnowIPPool Pools[{i}].IPStart should be smaller than IPEnd"),
            ));
            continue;
        }
        let subnet = s(&pool.subnet);
        if subnet.is_empty() {
            out.push(v(
                "subnet",
                format!("SnowIPPool Pools[{i}].Subnet can not be empty"),
            ));
            continue;
        }
        let Ok(net) = subnet.parse::<IpNet>() else {
            out.push(v(
                "subnet",
                format!("SnowIPPool Pools[{i}].Subnet is invalid: invalid CIDR address: {subnet}"),
            ));
            continue;
        };
        if !net.contains(&start) {
            out.push(v(
                "ipStart",
                format!("SnowIPPool Pools[{i}].IPStart should be within the subnet range {subnet}"),
            ));
        }
        if !net.contains(&end) {
            out.push(v(
                "ipEnd",
                format!("SnowIPPool Pools[{i}].IPEnd should be within the subnet range {subnet}"),
            ));
        }
    }
    out
}

/// On Snow, external etcd machines need static IPs: no DHCP, and an IP pool on every interface.
pub fn snow_unstacked_etcd(set: &ConfigSet) -> Vec<Violation> {
    let c = &set.cluster;
    let Some(r) = spec(c)
        .and_then(|s| s.external_etcd_configuration.as_ref())
        .and_then(|e| e.machine_group_ref.as_ref())
    else {
        return Vec::new();
    };
    let Some(m) = set.get::<SnowMachineConfig>(s(&r.name)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, dni) in direct_network_interfaces(m).iter().enumerate() {
        let path = format!("spec.network.directNetworkInterfaces[{i}]");
        if dni.dhcp == Some(true) {
            out.push(Violation::new(
                object_id(m),
                format!("{path}.dhcp"),
                "creating unstacked etcd machine with DHCP is not supported for snow. Please use static IP for DNI \
                 configuration",
            ));
        } else if dni.ip_pool_ref.is_none() {
            out.push(
                Violation::new(
                    object_id(m),
                    format!("{path}.ipPoolRef"),
                    "snow machine config ip pool must be specified when using static IP",
                )
                .with_hint("point ipPoolRef at a SnowIPPool"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::{decode, messages};

    #[test]
    fn datacenter_identity_must_be_a_secret() {
        let d: SnowDatacenterConfig =
            decode("metadata: {name: s}\nspec: {identityRef: {kind: Secret, name: creds}}");
        assert!(snow_datacenter(&d).is_empty());
        let d: SnowDatacenterConfig =
            decode("metadata: {name: s}\nspec: {identityRef: {kind: ConfigMap, name: x}}");
        assert_eq!(
            messages(&snow_datacenter(&d)),
            ["SnowDatacenterConfig IdentityRef kind ConfigMap is invalid, the only supported kind is Secret"]
        );
    }

    #[test]
    fn machine_checks_type_devices_network_and_volumes() {
        let ok = "metadata: {name: m}\nspec: {instanceType: sbe-c.xlarge, physicalNetworkConnector: SFP_PLUS, devices: [1.2.3.4], osFamily: ubuntu, network: {directNetworkInterfaces: [{index: 1, primary: true, dhcp: true}]}}";
        assert!(snow_machine(&decode(ok)).is_empty());
        let bad = "metadata: {name: m}\nspec: {instanceType: t2.micro, physicalNetworkConnector: USB, osFamily: bottlerocket, nonRootVolumes: [{deviceName: /dev/sda2, size: 10}]}";
        assert_eq!(
            messages(&snow_machine(&decode(bad))),
            [
                "SnowMachineConfig InstanceType t2.micro is not supported",
                "SnowMachineConfig PhysicalNetworkConnector USB is not supported, please use one of the following: SFP_PLUS, QSFP, RJ45",
                "SnowMachineConfig Devices must contain at least one device IP",
                "SnowMachineConfig Network.DirectNetworkInterfaces length must be no smaller than 1",
                "SnowMachineConfig ContainersVolume must be specified for Bottlerocket OS",
                "SnowMachineConfig NonRootVolumes[0].DeviceName [/dev/sda2] is invalid. Device name with prefix /dev/sda* is reserved for root volume and containers volume, please use another name",
            ]
        );
    }

    #[test]
    fn ip_pool_ranges_sit_inside_their_subnet() {
        let p: SnowIPPool = decode(
            "metadata: {name: p}\nspec: {pools: [{ipStart: 10.0.0.10, ipEnd: 10.0.0.20, gateway: 10.0.0.1, subnet: 10.0.0.0/24}]}",
        );
        assert!(snow_ip_pool(&p).is_empty());
        let p: SnowIPPool = decode(
            "metadata: {name: p}\nspec: {pools: [{ipStart: 10.0.0.10, ipEnd: 10.0.1.20, gateway: 10.0.0.1, subnet: 10.0.0.0/24}, {ipStart: 10.0.0.9, ipEnd: 10.0.0.8, gateway: 10.0.0.1, subnet: 10.0.0.0/24}, {ipEnd: x}]}",
        );
        assert_eq!(
            messages(&snow_ip_pool(&p)),
            [
                "SnowIPPool Pools[0].IPEnd should be within the subnet range 10.0.0.0/24",
                "SnowIPPool Pools[1].IPStart should be smaller than IPEnd",
                "SnowIPPool Pools[2].IPStart can not be empty",
                "SnowIPPool Pools[2].IPEnd is invalid",
                "SnowIPPool Pools[2].Gateway can not be empty",
            ]
        );
    }
}

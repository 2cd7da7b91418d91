//! Cluster rules about the network: pod and service CIDRs, the CNI, the proxy and the registry
//! mirror.

use std::sync::LazyLock;

use ipnet::IpNet;
use regex::Regex;

use super::syntax::{parse_request_uri, split_host_port};
use super::*;

/// The node CIDR mask size Kubernetes uses when `clusterNetwork.nodes.cidrMaskSize` is unset.
const DEFAULT_NODE_CIDR_MASK_SIZE: i64 = 24;
/// The largest (node mask − pod mask) kubeadm accepts.
const POD_SUBNET_NODE_MASK_MAX_DIFF: i64 = 16;

/// `clusterNetwork`: kindnetd only on Docker; exactly one pod and one service CIDR, both valid;
/// on Snow the endpoint is an IP outside both; the pod mask leaves room for node masks; exactly
/// one CNI plugin, with a valid Cilium configuration. Finally (an anywhere rule, after the
/// reference's) the pod and service CIDRs do not overlap and `routingMode` is `overlay` or
/// `direct`.
pub fn validate_networking(c: &Cluster) -> Vec<Violation> {
    let mut out = Vec::new();
    let id = object_id(c);
    let net = spec(c).and_then(|s| s.cluster_network.as_ref());
    let legacy_cni = net.map(|n| s(&n.cni)).unwrap_or("");
    let cni_config = net.and_then(|n| n.cni_config.as_ref());
    let dc_kind = datacenter_kind(c);
    if (legacy_cni == "kindnetd" || cni_config.is_some_and(|c| c.kindnetd.is_some()))
        && dc_kind != "DockerDatacenterConfig"
    {
        out.push(
            Violation::new(
                &id,
                "spec.clusterNetwork.cniConfig.kindnetd",
                "kindnetd is only supported on Docker provider for development and testing. For all other providers \
                 please use Cilium CNI",
            )
            .with_hint("use cniConfig: {cilium: {}}"),
        );
    }
    let pods = net
        .and_then(|n| n.pods.as_ref())
        .map(|p| list(&p.cidr_blocks))
        .unwrap_or(&[]);
    let services = net
        .and_then(|n| n.services.as_ref())
        .map(|p| list(&p.cidr_blocks))
        .unwrap_or(&[]);
    let pods_path = "spec.clusterNetwork.pods.cidrBlocks";
    let services_path = "spec.clusterNetwork.services.cidrBlocks";
    if pods.is_empty() {
        out.push(
            Violation::new(&id, pods_path, "pods CIDR block not specified or empty")
                .with_hint("set one pod CIDR, e.g. 192.168.0.0/16"),
        );
    }
    if services.is_empty() {
        out.push(
            Violation::new(&id, services_path, "services CIDR block not specified or empty")
                .with_hint("set one service CIDR, e.g. 10.96.0.0/12"),
        );
    }
    if pods.len() > 1 {
        out.push(Violation::new(
            &id,
            pods_path,
            "multiple CIDR blocks for Pods are not yet supported",
        ));
    }
    if services.len() > 1 {
        out.push(Violation::new(
            &id,
            services_path,
            "multiple CIDR blocks for Services are not yet supported",
        ));
    }
    let pod_net = pods.first().and_then(|p| match p.parse::<IpNet>() {
        Ok(n) => Some(n),
        Err(_) => {
            out.push(
                Violation::new(
                    &id,
                    format!("{pods_path}[0]"),
                    format!("invalid CIDR block format for Pods: {p}. Please specify a valid CIDR block for pod subnet"),
                )
                .with_hint("write an address and a prefix length, e.g. 192.168.0.0/16"),
            );
            None
        }
    });
    let service_net = services.first().and_then(|p| match p.parse::<IpNet>() {
        Ok(n) => Some(n),
        Err(_) => {
            out.push(
                Violation::new(
                    &id,
                    format!("{services_path}[0]"),
                    format!(
                        "invalid CIDR block for Services: {p}. Please specify a valid CIDR block for service subnet"
                    ),
                )
                .with_hint("write an address and a prefix length, e.g. 10.96.0.0/12"),
            );
            None
        }
    });
    if dc_kind == "SnowDatacenterConfig" {
        out.extend(snow_endpoint(c, pod_net.as_ref(), service_net.as_ref()));
    }
    if let Some(pod_net) = &pod_net {
        out.extend(node_cidr_mask(c, pod_net));
    }
    out.extend(cni_plugin(c));
    if let (Some(p), Some(sv)) = (&pod_net, &service_net)
        && (p.contains(&sv.network()) || sv.contains(&p.network()))
    {
        out.push(
            Violation::new(
                &id,
                services_path,
                format!("services CIDR block {sv} overlaps pods CIDR block {p}"),
            )
            .with_hint("pick service and pod ranges that do not overlap"),
        );
    }
    out
}

fn snow_endpoint(c: &Cluster, pods: Option<&IpNet>, services: Option<&IpNet>) -> Vec<Violation> {
    let host = control_plane(c)
        .and_then(|cp| cp.endpoint.as_ref())
        .map(|e| s(&e.host))
        .unwrap_or("");
    let path = "spec.controlPlaneConfiguration.endpoint.host";
    let Ok(ip) = host.parse::<std::net::IpAddr>() else {
        return vec![
            Violation::new(
                object_id(c),
                path,
                format!("control plane endpoint {host} is invalid"),
            )
            .with_hint("on Snow the endpoint must be an IP address"),
        ];
    };
    let mut out = Vec::new();
    if let Some(p) = pods.filter(|p| p.contains(&ip)) {
        out.push(Violation::new(
            object_id(c),
            path,
            format!("control plane endpoint {host} conflicts with pods CIDR block {p}"),
        ));
    }
    if let Some(sv) = services.filter(|sv| sv.contains(&ip)) {
        out.push(Violation::new(
            object_id(c),
            path,
            format!("control plane endpoint {host} conflicts with services CIDR block {sv}"),
        ));
    }
    out
}

fn node_cidr_mask(c: &Cluster, pods: &IpNet) -> Vec<Violation> {
    let node_mask = spec(c)
        .and_then(|s| s.cluster_network.as_ref())
        .and_then(|n| n.nodes.as_ref())
        .and_then(|n| n.cidr_mask_size)
        .unwrap_or(DEFAULT_NODE_CIDR_MASK_SIZE);
    let pod_mask = i64::from(pods.prefix_len());
    let path = "spec.clusterNetwork.nodes.cidrMaskSize";
    if pod_mask >= node_mask {
        return vec![
            Violation::new(
                object_id(c),
                path,
                format!(
                    "the size of pod subnet with mask {pod_mask} is smaller than or equal to the size of node subnet \
                     with mask {node_mask}"
                ),
            )
            .with_hint("use a larger pod CIDR (smaller prefix) or a larger nodes.cidrMaskSize"),
        ];
    }
    if node_mask - pod_mask > POD_SUBNET_NODE_MASK_MAX_DIFF {
        return vec![
            Violation::new(
                object_id(c),
                path,
                format!(
                    "pod subnet mask ({pod_mask}) and node-mask ({node_mask}) difference is greater than \
                     {POD_SUBNET_NODE_MASK_MAX_DIFF}"
                ),
            )
            .with_hint("keep nodes.cidrMaskSize at most 16 more than the pod prefix length"),
        ];
    }
    Vec::new()
}

/// Exactly one CNI: the legacy `cni` string alone, or a `cniConfig` with one plugin.
fn cni_plugin(c: &Cluster) -> Vec<Violation> {
    let id = object_id(c);
    let net = spec(c).and_then(|s| s.cluster_network.as_ref());
    let legacy = net.map(|n| s(&n.cni)).unwrap_or("");
    let config = net.and_then(|n| n.cni_config.as_ref());
    if !legacy.is_empty() {
        if config.is_some() {
            return vec![
                Violation::new(
                    &id,
                    "spec.clusterNetwork.cni",
                    "invalid format for cni plugin: both old and new formats used, use only the CNIConfig field",
                )
                .with_hint("remove the legacy cni field"),
            ];
        }
        if legacy != "cilium" && legacy != "kindnetd" {
            return vec![Violation::new(
                &id,
                "spec.clusterNetwork.cni",
                format!("cni {legacy} not supported"),
            )];
        }
        return Vec::new();
    }
    let path = "spec.clusterNetwork.cniConfig";
    let Some(config) = config else {
        return vec![Violation::new(&id, path, "cni not specified").with_hint("set cniConfig: {cilium: {}}")];
    };
    let mut out = Vec::new();
    let prefix = "validating cniConfig: ";
    if let Some(cilium) = &config.cilium {
        out.extend(cilium_config(c, cilium).into_iter().map(|mut v| {
            v.message = format!("{prefix}{}", v.message);
            v
        }));
    }
    let plugins = usize::from(config.cilium.is_some()) + usize::from(config.kindnetd.is_some());
    if plugins == 0 {
        out.push(
            Violation::new(&id, path, format!("{prefix}no cni plugin specified"))
                .with_hint("set cniConfig: {cilium: {}}"),
        );
    } else if plugins > 1 {
        out.push(Violation::new(
            &id,
            path,
            format!("{prefix}cannot specify more than one cni plugins"),
        ));
    }
    out
}

fn cilium_config(c: &Cluster, cilium: &Cilium) -> Vec<Violation> {
    let id = object_id(c);
    let path = "spec.clusterNetwork.cniConfig.cilium";
    let mut out = Vec::new();
    let policy = s(&cilium.policy_enforcement_mode);
    let managed = cilium.skip_upgrade != Some(true);
    if !managed && !policy.is_empty() {
        out.push(Violation::new(
            &id,
            format!("{path}.policyEnforcementMode"),
            "when using skipUpgrades for cilium all other fields must be empty",
        ));
    }
    let routing = s(&cilium.routing_mode);
    if routing == "direct" && s(&cilium.ipv4_native_routing_cidr).is_empty() {
        out.push(
            Violation::new(
                &id,
                format!("{path}.ipv4NativeRoutingCIDR"),
                "direct routing mode requires IPv4NativeRoutingCIDR to be set",
            )
            .with_hint("set the CIDR your network routes natively, usually the node network"),
        );
    }
    if !policy.is_empty() && !matches!(policy, "default" | "always" | "never") {
        out.push(
            Violation::new(
                &id,
                format!("{path}.policyEnforcementMode"),
                format!("cilium policyEnforcementMode \"{policy}\" not supported"),
            )
            .with_hint("use default, always or never"),
        );
    }
    if !matches!(routing, "" | "overlay" | "direct") {
        out.push(
            Violation::new(
                &id,
                format!("{path}.routingMode"),
                format!("cilium routingMode \"{routing}\" not supported"),
            )
            .with_hint("use overlay or direct"),
        );
    }
    out
}

/// `proxyConfiguration`, when present: `httpProxy` and `httpsProxy` are set, each a URL or
/// `host:port` whose host is an IP or resolves (through `resolver`) and whose port is 1-65535.
/// `noProxy` is not checked.
pub fn validate_proxy(c: &Cluster, resolver: &dyn Resolver) -> Vec<Violation> {
    let Some(p) = spec(c).and_then(|s| s.proxy_configuration.as_ref()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let fields = [("httpProxy", s(&p.http_proxy)), ("httpsProxy", s(&p.https_proxy))];
    for (field, value) in fields {
        if value.is_empty() {
            out.push(
                Violation::new(
                    object_id(c),
                    format!("spec.proxyConfiguration.{field}"),
                    format!("no value set for {field}"),
                )
                .with_hint("set it to the proxy's host:port or URL, e.g. http://proxy.example.com:3128"),
            );
        }
    }
    for (field, value) in fields {
        if !value.is_empty() {
            out.extend(proxy_endpoint(
                c,
                &format!("spec.proxyConfiguration.{field}"),
                value,
                resolver,
            ));
        }
    }
    out
}

fn proxy_endpoint(c: &Cluster, path: &str, proxy: &str, resolver: &dyn Resolver) -> Vec<Violation> {
    let v = |message: String| vec![Violation::new(object_id(c), path, message)];
    let host_port = if proxy.starts_with("http") {
        match parse_request_uri(proxy) {
            Ok(u) => u.host,
            Err(_) => return v(format!("proxy {proxy} is invalid, please provide a valid URI")),
        }
    } else {
        proxy
    };
    let (host, port) = match split_host_port(host_port) {
        Ok(hp) => hp,
        Err(why) => {
            return v(format!(
                "proxy endpoint {proxy} is invalid ({why}), please provide a valid proxy address"
            ));
        }
    };
    if !syntax::is_ip(host) && (host.is_empty() || !resolver.resolves(host)) {
        let mut out = v(format!(
            "proxy endpoint {host} is invalid, please provide a valid proxy domain name or ip: lookup {host}: no such host"
        ));
        for x in &mut out {
            x.hint = Some("use an IP address or a host name this machine can resolve".into());
        }
        return out;
    }
    if !is_port(port) {
        return v(format!(
            "proxy port {port} is invalid, please provide a valid proxy port"
        ));
    }
    Vec::new()
}

/// Go's `strconv.Atoi` then 1-65535.
fn is_port(p: &str) -> bool {
    p.parse::<i64>().is_ok_and(|n| (1..=65535).contains(&n))
}

/// `registryMirrorConfiguration`, when present: an endpoint, a port 1-65535 (default 443), no
/// OCI namespace with an empty registry, and at most one namespace for the curated-packages
/// registry.
pub fn validate_registry_mirror(c: &Cluster) -> Vec<Violation> {
    static CURATED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"783794618700\.dkr\.ecr\..*\.amazonaws\.com")
            .expect("the curated registry pattern is a valid regex")
    });
    let Some(m) = spec(c).and_then(|s| s.registry_mirror_configuration.as_ref()) else {
        return Vec::new();
    };
    let id = object_id(c);
    let path = "spec.registryMirrorConfiguration";
    let mut out = Vec::new();
    if s(&m.endpoint).is_empty() {
        out.push(
            Violation::new(
                &id,
                format!("{path}.endpoint"),
                "no value set for RegistryMirrorConfiguration.Endpoint",
            )
            .with_hint("set the mirror registry's host name or IP"),
        );
    }
    let port = s(&m.port);
    if !is_port(port) {
        out.push(
            Violation::new(
                &id,
                format!("{path}.port"),
                format!("registry mirror port {port} is invalid, please provide a valid port"),
            )
            .with_hint("use a port between 1 and 65535, or leave it out for 443"),
        );
    }
    let mut curated = 0;
    for (i, ns) in list(&m.oci_namespaces).iter().enumerate() {
        let registry = s(&ns.registry);
        if registry.is_empty() {
            out.push(
                Violation::new(
                    &id,
                    format!("{path}.ociNamespaces[{i}].registry"),
                    "registry can't be set to empty in OCINamespaces",
                )
                .with_hint("name the upstream registry this namespace mirrors, e.g. public.ecr.aws"),
            );
            continue;
        }
        if CURATED.is_match(registry) {
            curated += 1;
            if curated == 2 {
                out.push(
                    Violation::new(
                        &id,
                        format!("{path}.ociNamespaces[{i}].registry"),
                        "only one registry mirror for curated packages is suppported",
                    )
                    .with_hint("keep one ociNamespaces entry for the curated-packages registry"),
                );
            }
        }
    }
    out
}

//! Where a cluster's nodes and controllers will connect, and which of those connections would
//! leave an air-gapped site (`anywhere check-egress`). Pure: reads the spec and the catalog.
//!
//! The rule (docs/design/0005-egress-preflight.md): an endpoint stays on site when its host is
//! the registry mirror, one of the proxies, covered by `noProxy` (exact host, `.suffix` or
//! domain suffix, CIDR, `*`), or an IP address in a private, loopback or link-local range. The
//! provider's own management endpoints (vCenter, Prism Central, CloudStack API) are the site's
//! infrastructure and are listed but never flagged. Everything else is flagged: with a proxy,
//! a connection that goes through it still reaches the internet.

use std::collections::BTreeSet;
use std::net::IpAddr;

use anywhere_api::config_set::{ConfigSet, Object};
use anywhere_catalog::Catalog;
use ipnet::IpNet;
use serde_json::Value;

use super::registry_mirror::{RegistryMirror, mirrored_image};

/// What an endpoint is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Purpose {
    /// Container images and OCI charts.
    Images,
    /// The provider's management API (site infrastructure; never flagged).
    Infrastructure,
    /// OS images and boot artifacts downloaded by machines.
    OsImage,
    /// An identity provider (OIDC issuer).
    Identity,
    /// The GitOps repository.
    Git,
    /// Time servers.
    Ntp,
}

/// One endpoint the cluster will contact.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    /// Host name or IP address (no port).
    pub host: String,
    /// What it is for.
    pub purpose: Purpose,
    /// The spec field (or catalog image) it comes from.
    pub origin: String,
    /// Whether it stays on site by the rule above.
    pub on_site: bool,
}

/// Every endpoint of the cluster, sorted, each judged. `mirror` and `no_proxy` come from the
/// spec (`registry_mirror`, and the proxy's `NO_PROXY` list); `proxies` are the proxy URLs.
pub fn endpoints(
    set: &ConfigSet,
    catalog: &Catalog,
    versions: &BTreeSet<anywhere_catalog::KubeVersion>,
    mirror: Option<&RegistryMirror>,
    proxies: &[String],
    no_proxy: &[String],
) -> Vec<Endpoint> {
    let mut found: BTreeSet<(String, Purpose, String)> = BTreeSet::new();
    for image in catalog
        .images()
        .filter(|i| versions.contains(&i.kube_version) && !i.uri.is_empty())
    {
        let host = match mirror.and_then(|m| mirrored_image(m, image.uri)) {
            Some(m) => host_of(&m.address).unwrap_or(m.address),
            None => image.uri.split('/').next().unwrap_or_default().to_string(),
        };
        found.insert((host, Purpose::Images, format!("image {}", image.uri)));
    }
    for (object, _) in &set.objects {
        let value = object.to_value();
        let spec = value.get("spec").cloned().unwrap_or(Value::Null);
        let name = object.metadata().and_then(|m| m.name.clone()).unwrap_or_default();
        let at = |field: &str| format!("{}/{name}: spec.{field}", object.kind());
        let mut add = |text: Option<&str>, purpose: Purpose, field: String| {
            if let Some(host) = text.and_then(host_of) {
                found.insert((host, purpose, field));
            }
        };
        let s = |path: &str| spec.pointer(path).and_then(Value::as_str);
        match object {
            Object::VSphereDatacenterConfig(_) => add(s("/server"), Purpose::Infrastructure, at("server")),
            Object::NutanixDatacenterConfig(_) => {
                add(s("/endpoint"), Purpose::Infrastructure, at("endpoint"))
            }
            Object::CloudStackDatacenterConfig(_) => {
                add(
                    s("/managementApiEndpoint"),
                    Purpose::Infrastructure,
                    at("managementApiEndpoint"),
                );
                for (i, zone) in spec
                    .pointer("/availabilityZones")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    add(
                        zone.get("managementApiEndpoint").and_then(Value::as_str),
                        Purpose::Infrastructure,
                        at(&format!("availabilityZones[{i}].managementApiEndpoint")),
                    );
                }
            }
            Object::TinkerbellDatacenterConfig(_) => {
                add(s("/osImageURL"), Purpose::OsImage, at("osImageURL"));
                add(s("/hookImagesURLPath"), Purpose::OsImage, at("hookImagesURLPath"));
            }
            Object::OIDCConfig(_) => add(s("/issuerUrl"), Purpose::Identity, at("issuerUrl")),
            Object::FluxConfig(_) | Object::GitOpsConfig(_) => {
                if spec.pointer("/github").is_some() || spec.pointer("/flux/github").is_some() {
                    add(Some("github.com"), Purpose::Git, at("github"));
                }
                add(s("/git/repositoryUrl"), Purpose::Git, at("git.repositoryUrl"));
            }
            _ => {}
        }
        if object.kind().ends_with("MachineConfig") {
            add(s("/osImageURL"), Purpose::OsImage, at("osImageURL"));
            let servers = spec
                .pointer("/hostOSConfiguration/ntpConfiguration/servers")
                .and_then(Value::as_array);
            for (i, server) in servers.into_iter().flatten().enumerate() {
                add(
                    server.as_str(),
                    Purpose::Ntp,
                    at(&format!("hostOSConfiguration.ntpConfiguration.servers[{i}]")),
                );
            }
        }
    }
    let mirror_host = mirror.and_then(|m| host_of(&m.address));
    let proxy_hosts: Vec<String> = proxies.iter().filter_map(|p| host_of(p)).collect();
    found
        .into_iter()
        .map(|(host, purpose, origin)| {
            let on_site = purpose == Purpose::Infrastructure
                || mirror_host.as_deref() == Some(host.as_str())
                || proxy_hosts.contains(&host)
                || is_private_ip(&host)
                || no_proxy.iter().any(|rule| no_proxy_matches(rule, &host));
            Endpoint {
                host,
                purpose,
                origin,
                on_site,
            }
        })
        .collect()
}

/// The host of a URL, `host:port`, `[v6]:port` or bare host; `None` when empty.
pub fn host_of(text: &str) -> Option<String> {
    let text = text.trim();
    let rest = text.split_once("://").map_or(text, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else if authority.matches(':').count() == 1 {
        authority.split(':').next().unwrap_or_default()
    } else {
        authority
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Go's `httpproxy` NO_PROXY matching: `*`, an IP, a CIDR, a domain (matching itself and its
/// subdomains) or `.domain` (subdomains only); a `:port` on the rule is ignored here.
pub fn no_proxy_matches(rule: &str, host: &str) -> bool {
    let rule = rule.trim().to_ascii_lowercase();
    if rule.is_empty() {
        return false;
    }
    if rule == "*" {
        return true;
    }
    if let Ok(net) = rule.parse::<IpNet>() {
        return host.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip));
    }
    let rule = host_of(&rule).unwrap_or(rule);
    if let Ok(ip) = rule.parse::<IpAddr>() {
        return host.parse::<IpAddr>() == Ok(ip);
    }
    match rule.strip_prefix('.') {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => host == rule || host.ends_with(&format!(".{rule}")),
    }
}

/// Whether `host` is an IP address that cannot be on the internet.
fn is_private_ip(host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            let o = ip.octets();
            ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        Ok(IpAddr::V6(ip)) => {
            let s = ip.segments()[0];
            ip.is_loopback() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_out_of_urls_and_addresses() {
        for (text, host) in [
            ("https://vcenter.lab.example:443/sdk", "vcenter.lab.example"),
            ("http://10.0.0.5/img.raw.gz", "10.0.0.5"),
            ("mirror.site:5000", "mirror.site"),
            ("[fd00::1]:443", "fd00::1"),
            ("https://user:pw@git.site/org/repo.git", "git.site"),
            ("ssh://git@github.com/org/repo", "github.com"),
            ("Time.Google.com.", "time.google.com"),
        ] {
            assert_eq!(host_of(text).as_deref(), Some(host), "{text}");
        }
        assert_eq!(host_of(""), None);
    }

    #[test]
    fn no_proxy_rules_match_like_go() {
        let table = [
            ("*", "anything.example", true),
            ("example.com", "example.com", true),
            ("example.com", "a.example.com", true),
            ("example.com", "badexample.com", false),
            (".example.com", "example.com", false),
            (".example.com", "a.example.com", true),
            ("10.0.0.0/8", "10.1.2.3", true),
            ("10.0.0.0/8", "11.1.2.3", false),
            ("192.168.1.7", "192.168.1.7", true),
            ("mirror.site:5000", "mirror.site", true),
            ("", "x", false),
        ];
        for (rule, host, expected) in table {
            assert_eq!(no_proxy_matches(rule, host), expected, "{rule} vs {host}");
        }
    }

    #[test]
    fn private_addresses_are_on_site_public_ones_are_not() {
        for ip in [
            "10.1.1.1",
            "172.16.0.1",
            "192.168.0.1",
            "127.0.0.1",
            "100.64.0.1",
            "169.254.1.1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_private_ip(ip), "{ip}");
        }
        for ip in ["8.8.8.8", "2001:4860::8888", "public.ecr.aws"] {
            assert!(!is_private_ip(ip), "{ip}");
        }
    }
}

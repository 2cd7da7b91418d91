//! Proxy settings for nodes (`proxyConfiguration`, README 5 "NO_PROXY order").

use anywhere_api::ClusterSpec;

use crate::types::controlplane_v1beta2::File;

/// containerd's systemd drop-in carrying the proxy environment.
pub const CONTAINERD_PROXY_CONF_PATH: &str = "/etc/systemd/system/containerd.service.d/http-proxy.conf";

/// The resolved proxy settings of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    /// `HTTP_PROXY`.
    pub http_proxy: String,
    /// `HTTPS_PROXY`.
    pub https_proxy: String,
    /// `NO_PROXY`, in order.
    pub no_proxy: Vec<String>,
}

/// The cluster's proxy settings, or `None` without `proxyConfiguration`. `NO_PROXY` is pod
/// CIDRs, service CIDRs, the user's `noProxy`, `localhost`, `127.0.0.1`, `.svc`, then the
/// provider's `tail` (e.g. vSphere: vCenter server, then the control-plane endpoint host).
pub fn proxy(spec: &ClusterSpec, tail: &[String]) -> Option<Proxy> {
    let config = spec.proxy_configuration.as_ref()?;
    let (pods, services) = super::cluster::cidr_blocks(spec);
    let mut no_proxy = pods;
    no_proxy.extend(services);
    no_proxy.extend(config.no_proxy.clone().unwrap_or_default());
    no_proxy.extend(["localhost", "127.0.0.1", ".svc"].map(String::from));
    no_proxy.extend(tail.iter().cloned());
    Some(Proxy {
        http_proxy: config.http_proxy.clone().unwrap_or_default(),
        https_proxy: config.https_proxy.clone().unwrap_or_default(),
        no_proxy,
    })
}

/// The containerd proxy drop-in file.
pub fn containerd_proxy_file(proxy: &Proxy) -> File {
    File {
        content: Some(format!(
            "[Service]\nEnvironment=\"HTTP_PROXY={}\"\nEnvironment=\"HTTPS_PROXY={}\"\nEnvironment=\"NO_PROXY={}\"\n",
            proxy.http_proxy,
            proxy.https_proxy,
            proxy.no_proxy.join(",")
        )),
        owner: Some("root:root".into()),
        path: Some(CONTAINERD_PROXY_CONF_PATH.into()),
        ..Default::default()
    }
}

/// The control-plane endpoint host of a spec (`""` when absent).
pub fn endpoint_host(spec: &ClusterSpec) -> String {
    spec.control_plane_configuration
        .as_ref()
        .and_then(|c| c.endpoint.as_ref())
        .and_then(|e| e.host.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn no_proxy_lists_cidrs_user_entries_locals_then_provider_tail() {
        let spec: ClusterSpec = serde_json::from_value(json!({
            "clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}, "services": {"cidrBlocks": ["10.96.0.0/12"]}},
            "proxyConfiguration": {"httpProxy": "p:1", "httpsProxy": "p:2", "noProxy": ["a"]}
        }))
        .unwrap();
        let p = proxy(&spec, &["vc".to_string(), "1.2.3.4".to_string()]).unwrap();
        assert_eq!(
            p.no_proxy,
            [
                "192.168.0.0/16",
                "10.96.0.0/12",
                "a",
                "localhost",
                "127.0.0.1",
                ".svc",
                "vc",
                "1.2.3.4"
            ]
        );
        let f = containerd_proxy_file(&p);
        assert!(
            f.content
                .unwrap()
                .contains("NO_PROXY=192.168.0.0/16,10.96.0.0/12,a,localhost,127.0.0.1,.svc,vc,1.2.3.4")
        );
    }

    #[test]
    fn no_proxy_configuration_means_no_proxy() {
        assert_eq!(proxy(&ClusterSpec::default(), &[]), None);
    }
}

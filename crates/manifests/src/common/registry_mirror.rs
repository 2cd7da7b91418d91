//! Registry mirror settings for containerd (`registryMirrorConfiguration`).

use std::collections::BTreeMap;

use base64::Engine;

use anywhere_api::ClusterSpec;

use super::proxy::Proxy;
use crate::types::controlplane_v1beta2::File;
use crate::types::core::Secret;
use crate::{Credentials, Error, Manifest, Result, SYSTEM_NAMESPACE};

/// The registry EKS Anywhere's images come from; mirrored by default.
pub const DEFAULT_REGISTRY: &str = "public.ecr.aws";

/// The resolved registry mirror of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryMirror {
    /// `<endpoint>:<port>`.
    pub address: String,
    /// The mirror's CA certificate, if any.
    pub ca_cert: Option<String>,
    /// `insecureSkipVerify`.
    pub skip_verify: bool,
    /// `(username, password)` when `authenticate: true`.
    pub auth: Option<(String, String)>,
    /// Source registry → mirror location (`<address>` or `<address>/v2/<namespace>`).
    pub mirrors: BTreeMap<String, String>,
}

impl RegistryMirror {
    /// The containerd API endpoint of the mirror base: `<address>/v2`.
    pub fn base_api_endpoint(&self) -> String {
        format!("{}/v2", self.address)
    }

    /// The containerd API endpoint of a mirror location (`/v2` after the address).
    pub fn api_endpoint(target: &str) -> String {
        if target.contains("/v2") {
            target.to_string()
        } else {
            format!("{target}/v2")
        }
    }

    /// Source registry → containerd API endpoint of its mirror.
    pub fn api_endpoints(&self) -> BTreeMap<String, String> {
        self.mirrors
            .iter()
            .map(|(k, v)| (k.clone(), RegistryMirror::api_endpoint(v)))
            .collect()
    }

    /// The API endpoint of the mirror of `public.ecr.aws`, if any (EKS-A's `publicMirror`).
    pub fn public_mirror_endpoint(&self) -> Option<String> {
        self.mirrors
            .get(DEFAULT_REGISTRY)
            .map(|t| RegistryMirror::api_endpoint(t))
    }
}

/// Where a node pulls an image from once the mirror is configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirroredImage {
    /// The mirror's `host:port`.
    pub address: String,
    /// The repository in the mirror: the namespace of the registry's `ociNamespaces` entry (if
    /// any), then the image's path.
    pub repository: String,
    /// Tag or digest.
    pub reference: String,
}

/// The mirror location of `uri` (`registry/path:tag` or `registry/path@digest`), as containerd
/// resolves it with the mirror's `hosts.toml`: `None` when the image's registry has no mirror
/// entry (the node would pull it from that registry itself).
pub fn mirrored_image(mirror: &RegistryMirror, uri: &str) -> Option<MirroredImage> {
    let (registry, rest) = uri.split_once('/')?;
    let target = mirror.mirrors.get(registry)?;
    let (path, reference) = match rest.split_once('@') {
        Some((path, digest)) => (path, digest),
        None => match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], &rest[i + 1..]),
            _ => (rest, "latest"),
        },
    };
    let namespace = target.split_once("/v2/").map(|(_, ns)| ns.trim_matches('/'));
    let repository = match namespace.filter(|n| !n.is_empty()) {
        Some(ns) => format!("{ns}/{path}"),
        None => path.to_string(),
    };
    Some(MirroredImage {
        address: mirror.address.clone(),
        repository,
        reference: reference.to_string(),
    })
}

/// `host:port`, with brackets around an IPv6 host (Go's `net.JoinHostPort`).
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The cluster's registry mirror, or `None` without `registryMirrorConfiguration`.
///
/// # Errors
/// [`Error::Missing`] when `authenticate: true` and the registry credentials are not both given.
pub fn registry_mirror(spec: &ClusterSpec, credentials: &Credentials) -> Result<Option<RegistryMirror>> {
    let Some(config) = spec.registry_mirror_configuration.as_ref() else {
        return Ok(None);
    };
    let port = config
        .port
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "443".into());
    let address = join_host_port(config.endpoint.as_deref().unwrap_or(""), &port);
    let auth = if config.authenticate == Some(true) {
        match (&credentials.registry_username, &credentials.registry_password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            _ => {
                return Err(Error::Missing(
                    "REGISTRY_USERNAME and REGISTRY_PASSWORD for the registry mirror".into(),
                ));
            }
        }
    } else {
        None
    };
    let mut mirrors = BTreeMap::new();
    for ns in config.oci_namespaces.iter().flatten() {
        let registry = ns.registry.clone().unwrap_or_default();
        let target = match ns.namespace.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => format!("{address}/v2/{n}"),
            None => address.clone(),
        };
        mirrors.insert(registry, target);
    }
    if mirrors.is_empty() {
        mirrors.insert(DEFAULT_REGISTRY.to_string(), address.clone());
    }
    Ok(Some(RegistryMirror {
        ca_cert: config.ca_cert_content.clone().filter(|c| !c.is_empty()),
        skip_verify: config.insecure_skip_verify == Some(true),
        address,
        auth,
        mirrors,
    }))
}

/// The mirror's CA file path on the node.
pub fn ca_path(mirror: &RegistryMirror) -> String {
    format!("/etc/containerd/certs.d/{}/ca.crt", mirror.address)
}

/// The CA file, when the mirror has a CA.
pub fn ca_file(mirror: &RegistryMirror) -> Option<File> {
    let ca = mirror.ca_cert.as_ref()?;
    Some(File {
        content: Some(if ca.ends_with('\n') {
            ca.clone()
        } else {
            format!("{ca}\n")
        }),
        owner: Some("root:root".into()),
        path: Some(ca_path(mirror)),
        ..Default::default()
    })
}

/// `config_append.toml`, the base registry's `hosts.toml`, then one `hosts.toml` per mirrored
/// registry in sorted order.
pub fn containerd_files(mirror: &RegistryMirror) -> Vec<File> {
    let file = |content: String, path: String| File {
        content: Some(content),
        owner: Some("root:root".into()),
        path: Some(path),
        ..Default::default()
    };
    let mut files = vec![file(
        "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n"
            .into(),
        "/etc/containerd/config_append.toml".into(),
    )];
    files.push(file(
        hosts_toml(mirror, &format!("https://{}", mirror.address), &mirror.address),
        format!("/etc/containerd/certs.d/{}/hosts.toml", mirror.address),
    ));
    for (registry, target) in &mirror.mirrors {
        files.push(file(
            hosts_toml(mirror, &format!("https://{registry}"), target),
            format!("/etc/containerd/certs.d/{registry}/hosts.toml"),
        ));
    }
    files
}

fn hosts_toml(mirror: &RegistryMirror, server: &str, target: &str) -> String {
    let host = format!("https://{}", RegistryMirror::api_endpoint(target));
    let mut out = format!(
        "server = \"{server}\"\n\n[host.\"{host}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n"
    );
    if mirror.ca_cert.is_some() {
        out.push_str(&format!("  ca = \"{}\"\n", ca_path(mirror)));
    }
    if mirror.skip_verify {
        out.push_str("  skip_verify = true\n");
    }
    if let Some((user, password)) = &mirror.auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        out.push_str(&format!(
            "  [host.\"{host}\".header]\n    authorization = \"Basic {token}\"\n"
        ));
    }
    out
}

/// The containerd files of a node with a proxy and/or a registry mirror: the proxy drop-in,
/// then the mirror's CA and [`containerd_files`] (vSphere, CloudStack, Tinkerbell and Nutanix
/// workers; the Nutanix control plane writes the CA first).
pub fn proxy_and_mirror_files(proxy: Option<&Proxy>, mirror: Option<&RegistryMirror>) -> Vec<File> {
    let mut files: Vec<File> = proxy
        .map(super::proxy::containerd_proxy_file)
        .into_iter()
        .collect();
    if let Some(m) = mirror {
        files.extend(ca_file(m));
        files.extend(containerd_files(m));
    }
    files
}

/// The pre-kubeadm commands that load the mirror configuration and restart containerd: the
/// `config_append.toml` merge with a mirror, then a daemon reload and containerd restart with a
/// mirror or a proxy.
pub fn containerd_commands(mirror: Option<&RegistryMirror>, proxy: Option<&Proxy>) -> Vec<String> {
    let mut commands = Vec::new();
    if mirror.is_some() {
        commands.push("cat /etc/containerd/config_append.toml >> /etc/containerd/config.toml".to_string());
    }
    if mirror.is_some() || proxy.is_some() {
        commands.push("sudo systemctl daemon-reload".to_string());
        commands.push("sudo systemctl restart containerd".to_string());
    }
    commands
}

/// The `registry-credentials` Secret (`eksa-system`, moved with the cluster), when the mirror
/// authenticates.
pub fn credentials_secret(mirror: &RegistryMirror) -> Option<Manifest> {
    let (u, p) = mirror.auth.as_ref()?;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut secret = Secret::new("registry-credentials", SYSTEM_NAMESPACE);
    secret.metadata.labels = Some(BTreeMap::from([(
        "clusterctl.cluster.x-k8s.io/move".to_string(),
        "true".to_string(),
    )]));
    secret.data = Some(BTreeMap::from([
        ("username".to_string(), b64(u)),
        ("password".to_string(), b64(p)),
    ]));
    Some(Manifest::new(&secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_map_to_their_mirror_location_with_namespaces() {
        let mut mirrors = BTreeMap::new();
        mirrors.insert("public.ecr.aws".to_string(), "mirror:5000/v2/eks".to_string());
        mirrors.insert(
            "783794618700.dkr.ecr.us-west-2.amazonaws.com".to_string(),
            "mirror:5000".to_string(),
        );
        let m = RegistryMirror {
            address: "mirror:5000".into(),
            ca_cert: None,
            skip_verify: false,
            auth: None,
            mirrors,
        };
        let got = mirrored_image(
            &m,
            "public.ecr.aws/eks-distro/kubernetes/pause:v1.30.1-eks-1-30-1",
        )
        .unwrap();
        assert_eq!(
            (
                got.address.as_str(),
                got.repository.as_str(),
                got.reference.as_str()
            ),
            (
                "mirror:5000",
                "eks/eks-distro/kubernetes/pause",
                "v1.30.1-eks-1-30-1"
            )
        );
        let digest = format!("sha256:{}", "0".repeat(64));
        let got = mirrored_image(
            &m,
            &format!("783794618700.dkr.ecr.us-west-2.amazonaws.com/pkg/x@{digest}"),
        )
        .unwrap();
        assert_eq!(
            (got.repository.as_str(), got.reference.as_str()),
            ("pkg/x", digest.as_str())
        );
        assert_eq!(
            mirrored_image(&m, "quay.io/cilium/cilium:v1").map(|i| i.repository),
            None
        );
    }

    use serde_json::json;

    fn spec(v: serde_json::Value) -> ClusterSpec {
        serde_json::from_value(json!({ "registryMirrorConfiguration": v })).unwrap()
    }

    fn creds() -> Credentials {
        Credentials {
            registry_username: Some("username".into()),
            registry_password: Some("password".into()),
            ..Default::default()
        }
    }

    #[test]
    fn namespaced_mirror_writes_hosts_with_auth_ca_and_skip_verify() {
        let s = spec(json!({
            "endpoint": "1.2.3.4", "port": "1234", "authenticate": true, "insecureSkipVerify": true,
            "caCertContent": "CERT", "ociNamespaces": [{"registry": "public.ecr.aws", "namespace": "eks-anywhere"}]
        }));
        let m = registry_mirror(&s, &creds()).unwrap().unwrap();
        let files = containerd_files(&m);
        assert_eq!(files.len(), 3);
        assert_eq!(
            files[2].path.as_deref(),
            Some("/etc/containerd/certs.d/public.ecr.aws/hosts.toml")
        );
        assert_eq!(
            files[2].content.as_deref(),
            Some(
                "server = \"https://public.ecr.aws\"\n\n[host.\"https://1.2.3.4:1234/v2/eks-anywhere\"]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n  ca = \"/etc/containerd/certs.d/1.2.3.4:1234/ca.crt\"\n  skip_verify = true\n  [host.\"https://1.2.3.4:1234/v2/eks-anywhere\".header]\n    authorization = \"Basic dXNlcm5hbWU6cGFzc3dvcmQ=\"\n"
            )
        );
        assert_eq!(
            ca_file(&m).unwrap().path.as_deref(),
            Some("/etc/containerd/certs.d/1.2.3.4:1234/ca.crt")
        );
    }

    #[test]
    fn authentication_without_credentials_fails() {
        let s = spec(json!({"endpoint": "1.2.3.4", "authenticate": true}));
        assert!(matches!(
            registry_mirror(&s, &Credentials::default()),
            Err(Error::Missing(_))
        ));
    }

    #[test]
    fn default_mirror_maps_public_ecr_to_the_endpoint_on_port_443() {
        let m = registry_mirror(&spec(json!({"endpoint": "r"})), &Credentials::default())
            .unwrap()
            .unwrap();
        assert_eq!(m.mirrors.get(DEFAULT_REGISTRY).map(String::as_str), Some("r:443"));
    }

    #[test]
    fn api_endpoints_insert_v2_after_the_address() {
        let s = spec(
            json!({"endpoint": "r", "port": "5000", "ociNamespaces": [{"registry": "public.ecr.aws", "namespace": "ns"}, {"registry": "docker.io", "namespace": ""}]}),
        );
        let m = registry_mirror(&s, &Credentials::default()).unwrap().unwrap();
        assert_eq!(m.base_api_endpoint(), "r:5000/v2");
        assert_eq!(m.public_mirror_endpoint().as_deref(), Some("r:5000/v2/ns"));
        assert_eq!(
            m.api_endpoints().get("docker.io").map(String::as_str),
            Some("r:5000/v2")
        );
    }

    #[test]
    fn ipv6_endpoints_are_bracketed() {
        let m = registry_mirror(
            &spec(json!({"endpoint": "fd00::1", "port": "443"})),
            &Credentials::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.address, "[fd00::1]:443");
    }

    #[test]
    fn node_files_put_the_proxy_before_the_mirror_ca_and_hosts() {
        let s = spec(json!({"endpoint": "r", "caCertContent": "CERT"}));
        let m = registry_mirror(&s, &Credentials::default()).unwrap().unwrap();
        let p = Proxy {
            http_proxy: "h".into(),
            https_proxy: "h".into(),
            no_proxy: vec![],
        };
        let paths = |files: Vec<File>| files.into_iter().map(|f| f.path.unwrap()).collect::<Vec<_>>();
        assert_eq!(
            paths(proxy_and_mirror_files(Some(&p), Some(&m))),
            [
                "/etc/systemd/system/containerd.service.d/http-proxy.conf",
                "/etc/containerd/certs.d/r:443/ca.crt",
                "/etc/containerd/config_append.toml",
                "/etc/containerd/certs.d/r:443/hosts.toml",
                "/etc/containerd/certs.d/public.ecr.aws/hosts.toml",
            ]
        );
        assert!(proxy_and_mirror_files(None, None).is_empty());
    }

    #[test]
    fn containerd_is_restarted_for_a_proxy_or_a_mirror() {
        assert!(containerd_commands(None, None).is_empty());
        let p = Proxy {
            http_proxy: String::new(),
            https_proxy: String::new(),
            no_proxy: vec![],
        };
        assert_eq!(containerd_commands(None, Some(&p)).len(), 2);
    }
}

//! Helm values for the Tinkerbell stack chart (the mono-repo `tinkerbell` chart: smee, tootles,
//! tink-server, tink-controller and rufio in one deployment), as EKS Anywhere's stack installer
//! writes them to `generated/tinkerbell-chart-overrides.yaml` on install and upgrade.
//!
//! Install and upgrade write the same values; they differ only in what the installer does
//! around the Helm call (docker-run smee, `NO_PROXY` in Helm's environment), which is not here.

use serde::Serialize;

use anywhere_catalog::generated::Tinkerbell;

use crate::{Error, Result};

/// The tink-worker image HookOS embeds.
pub const LOCAL_TINK_WORKER_IMAGE: &str = "127.0.0.1/embedded/tink-worker";
/// Smee's HTTP port (iPXE binaries and scripts, ISO).
pub const SMEE_HTTP_PORT: u16 = 7171;
/// Tootles' (metadata service) port.
pub const TOOTLES_PORT: u16 = 7172;
/// tink-server's gRPC port.
pub const TINK_SERVER_GRPC_PORT: u16 = 42113;
const RUFIO_MAX_CONCURRENT_RECONCILES: u32 = 10;
const TINK_MAX_CONCURRENT_RECONCILES: u32 = 5;
const CONTROL_PLANE_ROLE: &str = "node-role.kubernetes.io/control-plane";

/// The images and artifacts of a Tinkerbell bundle the values use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackImages {
    /// `tinkerbellStack.boots.uri`: the mono-repo tinkerbell image.
    pub tinkerbell: String,
    /// `tinkerbellStack.tink.tinkRelayInit.uri`.
    pub relay_init: String,
    /// `kubeVip.uri`.
    pub kube_vip: String,
    /// `tinkerbellStack.hook.initramfs.amd.uri`: its directory is the default OSIE URL.
    pub hook_initramfs_amd: String,
    /// `tinkerbellStack.hook.iso.amd.uri`: the default ISO upstream URL.
    pub hook_iso_amd: String,
}

impl StackImages {
    /// Picks the URIs out of a versions bundle's `tinkerbell` section (absent ones are empty).
    pub fn from_bundle(bundle: &Tinkerbell) -> StackImages {
        let stack = bundle.tinkerbell_stack.as_ref();
        let hook = stack.and_then(|s| s.hook.as_ref());
        StackImages {
            tinkerbell: stack
                .and_then(|s| s.boots.as_ref())
                .and_then(|c| c.uri.clone())
                .unwrap_or_default(),
            relay_init: stack
                .and_then(|s| s.tink.as_ref())
                .and_then(|t| t.tink_relay_init.as_ref())
                .and_then(|c| c.uri.clone())
                .unwrap_or_default(),
            kube_vip: bundle
                .kube_vip
                .as_ref()
                .and_then(|c| c.uri.clone())
                .unwrap_or_default(),
            hook_initramfs_amd: hook
                .and_then(|h| h.initramfs.as_ref())
                .and_then(|i| i.amd.as_ref())
                .and_then(|a| a.uri.clone())
                .unwrap_or_default(),
            hook_iso_amd: hook
                .and_then(|h| h.iso.as_ref())
                .and_then(|i| i.amd.as_ref())
                .and_then(|a| a.uri.clone())
                .unwrap_or_default(),
        }
    }
}

/// Proxy settings passed to booting machines as kernel arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackProxy {
    /// `httpProxy`.
    pub http_proxy: String,
    /// `httpsProxy`.
    pub https_proxy: String,
    /// `noProxy`, joined with `,`.
    pub no_proxy: Vec<String>,
}

/// A registry mirror booting machines must trust.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackRegistryMirror {
    /// `<endpoint>:<port>`, passed as `insecure_registries`.
    pub base_registry: String,
    /// Username and password when the mirror authenticates.
    pub credentials: Option<(String, String)>,
}

/// Where smee (DHCP, TFTP, iPXE) runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SmeeLocation {
    /// In the chart's deployment (default).
    #[default]
    Kubernetes,
    /// As a docker container on the admin machine; the chart then disables it.
    Docker,
}

/// The installer's options (EKS-A `InstallOption`s).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackOptions {
    /// `WithSmeeOnDocker` / `WithSmeeOnKubernetes`.
    pub smee: SmeeLocation,
    /// `WithHostNetworkEnabled`.
    pub host_network: bool,
    /// `WithLoadBalancerEnabled`: deploy kube-vip to expose the stack.
    pub load_balancer: bool,
    /// `WithLoadBalancerInterface`.
    pub load_balancer_interface: Option<String>,
    /// `WithDHCPRelayEnabled`.
    pub dhcp_relay: bool,
}

/// Everything the values are computed from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackInputs {
    /// Bundle images.
    pub images: StackImages,
    /// The Tinkerbell VIP (`publicIP`, DHCP and iPXE addresses).
    pub tinkerbell_ip: String,
    /// Namespace the stack runs in (`backendKubeNamespace`).
    pub namespace: String,
    /// Pod CIDR (`trustedProxies`).
    pub pod_cidr: String,
    /// Hook (OSIE) URL override; else the directory of the bundle's initramfs.
    pub hook_override: Option<String>,
    /// Hook ISO URL override; else the bundle's ISO.
    pub hook_iso_override: Option<String>,
    /// Proxy for booting machines.
    pub proxy: Option<StackProxy>,
    /// Registry mirror for booting machines.
    pub registry_mirror: Option<StackRegistryMirror>,
    /// Installer options.
    pub options: StackOptions,
}

/// The chart's values, serialised with Helm's key names.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackValues {
    /// Always `tinkerbell`.
    pub name: String,
    /// The Tinkerbell VIP.
    #[serde(rename = "publicIP")]
    pub public_ip: String,
    /// The pod CIDR.
    pub trusted_proxies: Vec<String>,
    /// The deployment.
    pub deployment: Deployment,
    /// The LoadBalancer service.
    pub service: Service,
    /// Optional components.
    pub optional: Optional,
}

/// `deployment`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Tinkerbell image without tag.
    pub image: String,
    /// Tinkerbell image tag.
    pub image_tag: String,
    /// tink-worker image.
    pub agent_image: String,
    /// tink-worker tag.
    pub agent_image_tag: String,
    /// Host networking.
    pub host_network: bool,
    /// Tolerate control-plane nodes.
    pub tolerations: Vec<Toleration>,
    /// Prefer worker nodes.
    pub affinity: Affinity,
    /// The DHCP relay init container.
    pub init: Init,
    /// Per-service settings.
    pub envs: Envs,
}

/// A pod toleration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Toleration {
    /// Taint key.
    pub key: String,
    /// `Exists`.
    pub operator: String,
    /// `NoSchedule`.
    pub effect: String,
}

/// `deployment.affinity`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    /// Node affinity.
    pub node_affinity: NodeAffinity,
}

/// `nodeAffinity`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeAffinity {
    /// Preferred terms.
    #[serde(rename = "preferredDuringSchedulingIgnoredDuringExecution")]
    pub preferred: Vec<PreferredTerm>,
}

/// A weighted node-selector term.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PreferredTerm {
    /// Weight.
    pub weight: u32,
    /// The term.
    pub preference: Preference,
}

/// A node-selector term.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preference {
    /// Requirements.
    pub match_expressions: Vec<MatchExpression>,
}

/// A node-selector requirement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MatchExpression {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: String,
}

/// `deployment.init`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Init {
    /// DHCP relay.
    pub enabled: bool,
    /// Relay init image.
    pub image: String,
    /// `macvlan`.
    pub interface_mode: String,
    /// The load-balancer interface, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_interface: Option<String>,
}

/// `deployment.envs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envs {
    /// Which services run.
    pub globals: Globals,
    /// Smee.
    pub smee: Smee,
    /// Tootles.
    pub tootles: BindPort,
    /// tink-server.
    pub tink_server: BindPort,
    /// tink-controller.
    pub tink_controller: Controller,
    /// Rufio.
    pub rufio: Controller,
}

/// `envs.globals`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Globals {
    /// `kube`.
    pub backend: String,
    /// The stack namespace.
    pub backend_kube_namespace: String,
    /// Smee in the deployment.
    pub enable_smee: bool,
    /// Tootles.
    pub enable_tootles: bool,
    /// tink-server.
    pub enable_tink_server: bool,
    /// tink-controller.
    pub enable_tink_controller: bool,
    /// Rufio.
    pub enable_rufio_controller: bool,
    /// Secondstar.
    pub enable_secondstar: bool,
    /// CRD migrations.
    #[serde(rename = "enableCRDMigrations")]
    pub enable_crd_migrations: bool,
}

/// `envs.smee`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Smee {
    /// DHCP.
    pub dhcp_enabled: bool,
    /// `reservation`.
    pub dhcp_mode: String,
    /// Next-server.
    #[serde(rename = "dhcpIPForPacket")]
    pub dhcp_ip_for_packet: String,
    /// Syslog address.
    #[serde(rename = "dhcpSyslogIP")]
    pub dhcp_syslog_ip: String,
    /// TFTP address.
    #[serde(rename = "dhcpTftpIP")]
    pub dhcp_tftp_ip: String,
    /// iPXE binary host.
    pub dhcp_ipxe_http_binary_host: String,
    /// iPXE binary port.
    pub dhcp_ipxe_http_binary_port: u16,
    /// iPXE script host.
    pub dhcp_ipxe_http_script_host: String,
    /// iPXE script port.
    pub dhcp_ipxe_http_script_port: u16,
    /// iPXE script bind port.
    pub ipxe_http_script_bind_port: u16,
    /// Hook location.
    #[serde(rename = "ipxeHttpScriptOsieURL")]
    pub ipxe_http_script_osie_url: String,
    /// Extra kernel arguments (mirror, proxy).
    pub ipxe_http_script_extra_kernel_args: Vec<String>,
    /// tink-server `ip:port`.
    pub ipxe_script_tink_server_addr_port: String,
    /// Insecure TLS to tink-server.
    #[serde(rename = "ipxeScriptTinkServerInsecureTLS")]
    pub ipxe_script_tink_server_insecure_tls: bool,
    /// ISO boot.
    pub iso_enabled: bool,
    /// Static IPAM in the ISO.
    #[serde(rename = "isoStaticIPAMEnabled")]
    pub iso_static_ipam_enabled: bool,
    /// Hook ISO.
    #[serde(rename = "isoUpstreamURL")]
    pub iso_upstream_url: String,
    /// TFTP server.
    pub tftp_server_enabled: bool,
    /// Syslog server.
    pub syslog_enabled: bool,
}

/// A service bind port.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BindPort {
    /// The port.
    pub bind_port: u16,
}

/// Controller settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Controller {
    /// Leader election.
    pub enable_leader_election: bool,
    /// Concurrency.
    pub max_concurrent_reconciles: u32,
}

/// `service`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// `LoadBalancer`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The Tinkerbell VIP.
    #[serde(rename = "loadBalancerIP")]
    pub load_balancer_ip: String,
    /// kube-vip's class.
    pub lb_class: String,
}

/// `optional`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Optional {
    /// HookOS server (disabled: EKS-A serves hook itself).
    pub hookos: Enabled,
    /// kube-vip for the stack service.
    pub kubevip: KubeVip,
}

/// An on/off switch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Enabled {
    /// On or off.
    pub enabled: bool,
}

/// `optional.kubevip`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeVip {
    /// Deploy it.
    pub enabled: bool,
    /// Image.
    pub image: String,
    /// The load-balancer interface, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Tolerate control-plane nodes.
    pub tolerations: Vec<Toleration>,
    /// Extra environment.
    pub additional_env: Vec<EnvVar>,
}

/// A name/value environment variable.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnvVar {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

impl StackValues {
    /// The values as one YAML document with sorted keys, as the installer writes them.
    pub fn to_yaml(&self) -> String {
        anywhere_api::yaml::to_string(&self.to_value(), anywhere_api::yaml::KeyOrder::Sorted)
    }

    /// The values as JSON.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("stack values serialise to JSON")
    }
}

/// The Helm values of the Tinkerbell stack chart, for install and upgrade alike.
///
/// # Errors
/// [`Error::Invalid`] when the hook initramfs URI has no `/` or the hook URL is not absolute.
pub fn stack_values(inputs: &StackInputs) -> Result<StackValues> {
    let ip = inputs.tinkerbell_ip.as_str();
    let osie = match inputs.hook_override.as_deref().filter(|s| !s.is_empty()) {
        Some(url) => url.to_string(),
        None => uri_dir(&inputs.images.hook_initramfs_amd)?,
    };
    let osie_url = normalise_url(&osie)?;
    let iso_url = inputs
        .hook_iso_override
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| inputs.images.hook_iso_amd.clone());
    let (image, image_tag) = split_image(&inputs.images.tinkerbell);
    let toleration = || Toleration {
        key: CONTROL_PLANE_ROLE.into(),
        operator: "Exists".into(),
        effect: "NoSchedule".into(),
    };
    let interface = inputs
        .options
        .load_balancer_interface
        .clone()
        .filter(|s| !s.is_empty());
    Ok(StackValues {
        name: "tinkerbell".into(),
        public_ip: ip.into(),
        trusted_proxies: vec![inputs.pod_cidr.clone()],
        deployment: Deployment {
            image,
            image_tag,
            agent_image: LOCAL_TINK_WORKER_IMAGE.into(),
            agent_image_tag: "latest".into(),
            host_network: inputs.options.host_network,
            tolerations: vec![toleration()],
            affinity: Affinity {
                node_affinity: NodeAffinity {
                    preferred: vec![PreferredTerm {
                        weight: 1,
                        preference: Preference {
                            match_expressions: vec![MatchExpression {
                                key: CONTROL_PLANE_ROLE.into(),
                                operator: "DoesNotExist".into(),
                            }],
                        },
                    }],
                },
            },
            init: Init {
                enabled: inputs.options.dhcp_relay,
                image: inputs.images.relay_init.clone(),
                interface_mode: "macvlan".into(),
                source_interface: interface.clone(),
            },
            envs: Envs {
                globals: Globals {
                    backend: "kube".into(),
                    backend_kube_namespace: inputs.namespace.clone(),
                    enable_smee: inputs.options.smee == SmeeLocation::Kubernetes,
                    enable_tootles: true,
                    enable_tink_server: true,
                    enable_tink_controller: true,
                    enable_rufio_controller: true,
                    enable_secondstar: false,
                    enable_crd_migrations: false,
                },
                smee: Smee {
                    dhcp_enabled: true,
                    dhcp_mode: "reservation".into(),
                    dhcp_ip_for_packet: ip.into(),
                    dhcp_syslog_ip: ip.into(),
                    dhcp_tftp_ip: ip.into(),
                    dhcp_ipxe_http_binary_host: ip.into(),
                    dhcp_ipxe_http_binary_port: SMEE_HTTP_PORT,
                    dhcp_ipxe_http_script_host: ip.into(),
                    dhcp_ipxe_http_script_port: SMEE_HTTP_PORT,
                    ipxe_http_script_bind_port: SMEE_HTTP_PORT,
                    ipxe_http_script_osie_url: osie_url,
                    ipxe_http_script_extra_kernel_args: kernel_args(inputs),
                    ipxe_script_tink_server_addr_port: format!("{ip}:{TINK_SERVER_GRPC_PORT}"),
                    ipxe_script_tink_server_insecure_tls: true,
                    iso_enabled: true,
                    iso_static_ipam_enabled: true,
                    iso_upstream_url: iso_url,
                    tftp_server_enabled: true,
                    syslog_enabled: true,
                },
                tootles: BindPort {
                    bind_port: TOOTLES_PORT,
                },
                tink_server: BindPort {
                    bind_port: TINK_SERVER_GRPC_PORT,
                },
                tink_controller: Controller {
                    enable_leader_election: true,
                    max_concurrent_reconciles: TINK_MAX_CONCURRENT_RECONCILES,
                },
                rufio: Controller {
                    enable_leader_election: true,
                    max_concurrent_reconciles: RUFIO_MAX_CONCURRENT_RECONCILES,
                },
            },
        },
        service: Service {
            type_: "LoadBalancer".into(),
            load_balancer_ip: ip.into(),
            lb_class: "kube-vip.io/kube-vip-class".into(),
        },
        optional: Optional {
            hookos: Enabled { enabled: false },
            kubevip: KubeVip {
                enabled: inputs.options.load_balancer,
                image: inputs.images.kube_vip.clone(),
                interface,
                tolerations: vec![toleration()],
                additional_env: vec![
                    EnvVar {
                        name: "prometheus_server".into(),
                        value: ":2213".into(),
                    },
                    EnvVar {
                        name: "lb_class_only".into(),
                        value: "true".into(),
                    },
                ],
            },
        },
    })
}

/// Kernel arguments for booting machines: registry mirror, then proxy.
pub fn kernel_args(inputs: &StackInputs) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(m) = &inputs.registry_mirror {
        args.push(format!("insecure_registries={}", m.base_registry));
        if let Some((user, password)) = &m.credentials {
            args.push(format!("registry_username={user}"));
            args.push(format!("registry_password={password}"));
        }
    }
    if let Some(p) = &inputs.proxy {
        args.push(format!("HTTP_PROXY={}", p.http_proxy));
        args.push(format!("HTTPS_PROXY={}", p.https_proxy));
        args.push(format!("NO_PROXY={}", p.no_proxy.join(",")));
    }
    args
}

/// The URI up to its last `/`.
fn uri_dir(uri: &str) -> Result<String> {
    match uri.rfind('/') {
        Some(i) => Ok(uri[..i].to_string()),
        None => Err(Error::Invalid {
            what: "hook initramfs URI".into(),
            why: format!("{uri:?} has no path"),
        }),
    }
}

/// `scheme://host/path` of an absolute URL, dropping query and fragment.
fn normalise_url(url: &str) -> Result<String> {
    let invalid = || Error::Invalid {
        what: "hook URL".into(),
        why: format!("{url:?} is not an absolute URL"),
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    if scheme.is_empty() {
        return Err(invalid());
    }
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    Ok(format!("{scheme}://{rest}"))
}

/// Splits an image URI into image and tag (`@digest` or `:tag` not followed by a `/`); without
/// either, the tag is `latest`.
fn split_image(uri: &str) -> (String, String) {
    if let Some(i) = uri.rfind('@') {
        return (uri[..i].to_string(), uri[i + 1..].to_string());
    }
    if let Some(i) = uri.rfind(':') {
        let tag = &uri[i + 1..];
        if !tag.contains('/') {
            return (uri[..i].to_string(), tag.to_string());
        }
    }
    (uri.to_string(), "latest".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> StackInputs {
        StackInputs {
            images: StackImages {
                tinkerbell: "public.ecr.aws/eks-anywhere/tinkerbell:latest".into(),
                relay_init: "public.ecr.aws/eks-anywhere/tink-relay-init:latest".into(),
                kube_vip: "public.ecr.aws/eks-anywhere/kube-vip:latest".into(),
                hook_initramfs_amd: "https://example.com/tinkerbell/hook/initramfs-x86-64".into(),
                hook_iso_amd: "https://example.com/tinkerbell/hook/hook.iso".into(),
            },
            tinkerbell_ip: "1.2.3.4".into(),
            namespace: "eksa-system".into(),
            pod_cidr: "192.168.0.0/16".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_derive_urls_from_the_bundle() {
        let v = stack_values(&inputs()).unwrap();
        assert_eq!(v.deployment.image, "public.ecr.aws/eks-anywhere/tinkerbell");
        assert_eq!(v.deployment.image_tag, "latest");
        assert_eq!(
            v.deployment.envs.smee.ipxe_http_script_osie_url,
            "https://example.com/tinkerbell/hook"
        );
        assert_eq!(
            v.deployment.envs.smee.iso_upstream_url,
            "https://example.com/tinkerbell/hook/hook.iso"
        );
        assert!(v.deployment.envs.globals.enable_smee);
        assert!(!v.optional.kubevip.enabled);
        let json = v.to_value();
        assert_eq!(
            json.pointer("/deployment/envs/smee/ipxeHttpScriptExtraKernelArgs"),
            Some(&serde_json::json!([]))
        );
        assert!(json.pointer("/optional/kubevip/interface").is_none());
    }

    #[test]
    fn options_and_overrides() {
        let mut i = inputs();
        i.options = StackOptions {
            smee: SmeeLocation::Docker,
            host_network: true,
            load_balancer: true,
            load_balancer_interface: Some("eth1".into()),
            dhcp_relay: false,
        };
        i.hook_override = Some("https://local/hook".into());
        i.hook_iso_override = Some("https://local/hook.iso".into());
        i.proxy = Some(StackProxy {
            http_proxy: "p:3128".into(),
            https_proxy: "p:3128".into(),
            no_proxy: vec!["localhost".into(), ".svc".into()],
        });
        let v = stack_values(&i).unwrap();
        assert!(!v.deployment.envs.globals.enable_smee);
        assert!(v.deployment.host_network);
        assert_eq!(v.optional.kubevip.interface.as_deref(), Some("eth1"));
        assert_eq!(v.deployment.init.source_interface.as_deref(), Some("eth1"));
        assert_eq!(
            v.deployment.envs.smee.ipxe_http_script_osie_url,
            "https://local/hook"
        );
        assert_eq!(v.deployment.envs.smee.iso_upstream_url, "https://local/hook.iso");
        assert_eq!(
            v.deployment.envs.smee.ipxe_http_script_extra_kernel_args,
            [
                "HTTP_PROXY=p:3128",
                "HTTPS_PROXY=p:3128",
                "NO_PROXY=localhost,.svc"
            ]
        );
    }

    #[test]
    fn image_split_rules() {
        assert_eq!(split_image("r:5000/a/b"), ("r:5000/a/b".into(), "latest".into()));
        assert_eq!(split_image("r/a@sha256:x"), ("r/a".into(), "sha256:x".into()));
        assert_eq!(split_image("r/a:v1"), ("r/a".into(), "v1".into()));
    }

    #[test]
    fn hook_uri_without_slash_is_an_error() {
        let mut i = inputs();
        i.images.hook_initramfs_amd = "nope".into();
        assert!(stack_values(&i).is_err());
    }
}

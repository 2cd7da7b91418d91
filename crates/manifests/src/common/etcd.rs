//! External etcd: the `EtcdadmCluster` (README 5 "External etcd", A.6).

use anywhere_api::{ClusterSpec, HostOSConfiguration};
use anywhere_catalog::KubeDistro;

use super::bottlerocket::{self, ImageRef};
use super::proxy::Proxy;
use super::registry_mirror::RegistryMirror;
use super::{TLS_CIPHER_SUITES, names, system_meta};
use crate::types::etcdadm_v1beta1::{
    Boot, BottlerocketConfig, CertBundle, CloudInitConfig, EtcdadmCluster, EtcdadmClusterSpec,
    EtcdadmConfigSpec, InfrastructureTemplate, Kernel, Ntp, Proxy as EtcdProxy,
    RegistryMirror as EtcdRegistryMirror, User,
};

/// How etcd machines bootstrap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EtcdBootstrap {
    /// cloud-init: `cloudInitConfig` {version, optional installDir and etcdReleaseURL} and
    /// `preEtcdadmCommands`.
    CloudInit {
        /// `installDir` (vSphere, CloudStack: `/usr/bin`; Docker: none).
        install_dir: Option<String>,
        /// `preEtcdadmCommands` (no key when empty).
        pre_commands: Vec<String>,
        /// Whether to emit `etcdReleaseURL` (eksaVersion ≥ v0.19.0).
        release_url: ReleaseUrl,
    },
    /// Bottlerocket: `bottlerocketConfig` {etcdImage, bootstrapImage, pauseImage}.
    Bottlerocket {
        /// The Bottlerocket bootstrap container.
        bootstrap: ImageRef,
        /// The pause image.
        pause: ImageRef,
    },
}

/// Whether `cloudInitConfig.etcdReleaseURL` is emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseUrl {
    /// Emit the EKS Distro etcd archive URL.
    Emit,
    /// Leave it out.
    Omit,
}

/// What differs between providers' EtcdadmClusters.
#[derive(Clone, Debug)]
pub struct EtcdOptions<'a> {
    /// The cluster name.
    pub cluster_name: &'a str,
    /// `replicas` (`externalEtcdConfiguration.count`).
    pub replicas: i64,
    /// The EKS Distro images and etcd version.
    pub distro: &'a KubeDistro,
    /// `format` (`cloud-config`, `bottlerocket`, or no key for Docker).
    pub format: Option<&'a str>,
    /// How machines bootstrap.
    pub bootstrap: EtcdBootstrap,
    /// `users` (first user and key), or none.
    pub user: Option<(String, String)>,
    /// The machine template's `apiVersion`, kind and name.
    pub infrastructure: (&'a str, &'a str, &'a str),
    /// Proxy settings.
    pub proxy: Option<&'a Proxy>,
    /// Registry mirror.
    pub registry_mirror: Option<&'a RegistryMirror>,
}

/// The external etcd replica count (`externalEtcdConfiguration.count`, default 1), or `None`
/// without external etcd.
pub fn external_etcd_replicas(spec: &ClusterSpec) -> Option<i64> {
    spec.external_etcd_configuration
        .as_ref()
        .map(|e| e.count.unwrap_or(1))
}

/// Whether `etcdReleaseURL` is emitted for an `eksaVersion`: from v0.19.0 on, comparing
/// major.minor.patch only (pre-release and build metadata ignored); no version, no URL.
pub fn release_url_for(eksa_version: Option<&str>) -> ReleaseUrl {
    let Some(v) = eksa_version.filter(|v| !v.is_empty()) else {
        return ReleaseUrl::Omit;
    };
    let core = v.trim_start_matches('v').split(['-', '+']).next().unwrap_or("");
    let nums: Vec<u64> = core.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    let get = |i: usize| nums.get(i).copied().unwrap_or(0);
    if (get(0), get(1), get(2)) >= (0, 19, 0) {
        ReleaseUrl::Emit
    } else {
        ReleaseUrl::Omit
    }
}

/// Builds the `<cluster>-etcd` EtcdadmCluster.
pub fn etcdadm_cluster(options: &EtcdOptions<'_>) -> EtcdadmCluster {
    let mut config = EtcdadmConfigSpec {
        etcdadm_builtin: Some(true),
        format: options.format.map(str::to_string),
        cipher_suites: Some(TLS_CIPHER_SUITES.into()),
        users: options.user.as_ref().map(|(name, key)| {
            vec![User {
                name: Some(name.clone()),
                ssh_authorized_keys: Some(vec![key.clone()]),
                sudo: Some(super::users::SUDO_ALL.into()),
                ..Default::default()
            }]
        }),
        proxy: options.proxy.map(|p| EtcdProxy {
            http_proxy: Some(p.http_proxy.clone()),
            https_proxy: Some(p.https_proxy.clone()),
            no_proxy: Some(p.no_proxy.clone()),
        }),
        registry_mirror: options.registry_mirror.map(|m| EtcdRegistryMirror {
            // The reference's `publicMirror`: `v2` alone when nothing mirrors public.ecr.aws.
            endpoint: Some(m.public_mirror_endpoint().unwrap_or_else(|| "v2".to_string())),
            ca_cert: m.ca_cert.clone(),
        }),
        ..Default::default()
    };
    match &options.bootstrap {
        EtcdBootstrap::CloudInit {
            install_dir,
            pre_commands,
            release_url,
        } => {
            config.cloud_init_config = Some(CloudInitConfig {
                version: options.distro.etcd_version.clone(),
                install_dir: install_dir.clone(),
                etcd_release_url: match release_url {
                    ReleaseUrl::Emit => options.distro.etcd_url.clone(),
                    ReleaseUrl::Omit => None,
                },
            });
            config.pre_etcdadm_commands = (!pre_commands.is_empty()).then(|| pre_commands.clone());
        }
        EtcdBootstrap::Bottlerocket { bootstrap, pause } => {
            config.bottlerocket_config = Some(BottlerocketConfig {
                etcd_image: Some(options.distro.etcd_image.uri().to_string()),
                bootstrap_image: Some(bootstrap.uri()),
                pause_image: Some(pause.uri()),
                ..Default::default()
            });
        }
    }
    let (api_version, kind, name) = options.infrastructure;
    EtcdadmCluster {
        api_version: Some("etcdcluster.cluster.x-k8s.io/v1beta1".into()),
        kind: Some("EtcdadmCluster".into()),
        metadata: Some(system_meta(&names::etcd_cluster_name(options.cluster_name))),
        spec: Some(EtcdadmClusterSpec {
            replicas: Some(options.replicas),
            etcdadm_config_spec: Some(config),
            infrastructure_template: Some(InfrastructureTemplate {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
                name: Some(name.into()),
                ..Default::default()
            }),
        }),
        status: None,
    }
}

/// Applies an etcd machine config's host OS configuration: `ntp` {enabled, servers},
/// `certBundles` and, on Bottlerocket, the `boot` and `kernel` settings of `bottlerocketConfig`.
pub fn apply_host_os(cluster: &mut EtcdadmCluster, host_os: Option<&HostOSConfiguration>) {
    let Some(host_os) = host_os else { return };
    let Some(config) = cluster.spec.as_mut().and_then(|s| s.etcdadm_config_spec.as_mut()) else {
        return;
    };
    if let Some(servers) = host_os.ntp_configuration.as_ref().and_then(|n| n.servers.clone()) {
        config.ntp = Some(Ntp {
            enabled: Some(true),
            servers: Some(servers),
        });
    }
    if let Some(bundles) = host_os.cert_bundles.as_ref() {
        config.cert_bundles = Some(
            bundles
                .iter()
                .map(|b| CertBundle {
                    name: b.name.clone(),
                    data: b.data.as_deref().map(super::bottlerocket::block_text),
                })
                .collect(),
        );
    }
    let br = host_os.bottlerocket_configuration.as_ref();
    if let Some(bottlerocket) = config.bottlerocket_config.as_mut() {
        if let Some(params) = br
            .and_then(|b| b.boot.as_ref())
            .and_then(|b| b.boot_kernel_parameters.clone())
        {
            bottlerocket.boot = Some(Boot {
                boot_kernel_parameters: Some(params),
            });
        }
        if let Some(sysctl) = br
            .and_then(|b| b.kernel.as_ref())
            .and_then(|k| k.sysctl_settings.clone())
        {
            bottlerocket.kernel = Some(Kernel {
                sysctl_settings: Some(sysctl),
            });
        }
    }
}

/// The Bottlerocket bootstrap of etcd machines from a versions bundle and a distro.
pub fn bottlerocket_bootstrap(
    bundle: &anywhere_catalog::generated::VersionsBundle,
    distro: &KubeDistro,
) -> EtcdBootstrap {
    EtcdBootstrap::Bottlerocket {
        bootstrap: ImageRef::from_image(&bottlerocket::bootstrap_image(bundle)),
        pause: ImageRef::from_image(&distro.pause),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anywhere_catalog::Image;

    fn distro() -> KubeDistro {
        KubeDistro {
            etcd_version: Some("3.4.14".into()),
            etcd_url: Some("https://x/etcd.tar.gz".into()),
            etcd_image: Image::new("repo/etcd:v3.4.14"),
            ..Default::default()
        }
    }

    fn options(bootstrap: EtcdBootstrap, d: &KubeDistro) -> EtcdOptions<'_> {
        EtcdOptions {
            cluster_name: "test",
            replicas: 3,
            distro: d,
            format: Some("cloud-config"),
            bootstrap,
            user: Some(("capv".into(), "ssh-rsa AAA".into())),
            infrastructure: (
                "infrastructure.cluster.x-k8s.io/v1beta1",
                "VSphereMachineTemplate",
                "<no value>",
            ),
            proxy: None,
            registry_mirror: None,
        }
    }

    #[test]
    fn host_os_adds_ntp_cert_bundles_and_bottlerocket_kernel_settings() {
        let d = distro();
        let br = EtcdBootstrap::Bottlerocket {
            bootstrap: ImageRef {
                image_repository: "b".into(),
                image_tag: "1".into(),
            },
            pause: ImageRef {
                image_repository: "p".into(),
                image_tag: "2".into(),
            },
        };
        let mut cluster = etcdadm_cluster(&options(br, &d));
        let host_os: HostOSConfiguration = serde_json::from_value(serde_json::json!({
            "ntpConfiguration": {"servers": ["time.example"]},
            "certBundles": [{"name": "ca", "data": "PEM"}],
            "bottlerocketConfiguration": {"kernel": {"sysctlSettings": {"a": "1"}}}
        }))
        .unwrap();
        apply_host_os(&mut cluster, Some(&host_os));
        let v = serde_json::to_value(&cluster).unwrap();
        let c = &v["spec"]["etcdadmConfigSpec"];
        assert_eq!(
            c["ntp"],
            serde_json::json!({"enabled": true, "servers": ["time.example"]})
        );
        assert_eq!(c["certBundles"][0]["data"], "PEM\n");
        assert_eq!(c["bottlerocketConfig"]["kernel"]["sysctlSettings"]["a"], "1");
    }

    #[test]
    fn registry_mirror_endpoint_is_the_public_ecr_api_endpoint() {
        let d = distro();
        let mirror = RegistryMirror {
            address: "r:443".into(),
            ca_cert: None,
            skip_verify: false,
            auth: None,
            mirrors: [("public.ecr.aws".to_string(), "r:443".to_string())].into(),
        };
        let mut o = options(
            EtcdBootstrap::CloudInit {
                install_dir: None,
                pre_commands: vec![],
                release_url: ReleaseUrl::Omit,
            },
            &d,
        );
        o.registry_mirror = Some(&mirror);
        let v = serde_json::to_value(etcdadm_cluster(&o)).unwrap();
        assert_eq!(
            v["spec"]["etcdadmConfigSpec"]["registryMirror"]["endpoint"],
            "r:443/v2"
        );
    }

    #[test]
    fn release_url_is_emitted_from_v0_19_ignoring_prerelease() {
        assert_eq!(release_url_for(Some("v0.19.0-dev+latest")), ReleaseUrl::Emit);
        assert_eq!(release_url_for(Some("v0.18.9")), ReleaseUrl::Omit);
        assert_eq!(release_url_for(None), ReleaseUrl::Omit);
    }

    #[test]
    fn cloud_init_etcd_has_version_install_dir_url_and_commands() {
        let d = distro();
        let e = etcdadm_cluster(&options(
            EtcdBootstrap::CloudInit {
                install_dir: Some("/usr/bin".into()),
                pre_commands: vec!["x".into()],
                release_url: ReleaseUrl::Emit,
            },
            &d,
        ));
        let v = serde_json::to_value(e).unwrap();
        assert_eq!(v["metadata"]["name"], "test-etcd");
        let c = &v["spec"]["etcdadmConfigSpec"];
        assert_eq!(c["cloudInitConfig"]["version"], "3.4.14");
        assert_eq!(c["cloudInitConfig"]["etcdReleaseURL"], "https://x/etcd.tar.gz");
        assert_eq!(c["cipherSuites"], TLS_CIPHER_SUITES);
        assert_eq!(c["preEtcdadmCommands"][0], "x");
    }

    #[test]
    fn bottlerocket_etcd_has_images_and_no_cloud_init() {
        let d = distro();
        let br = EtcdBootstrap::Bottlerocket {
            bootstrap: ImageRef {
                image_repository: "b".into(),
                image_tag: "1".into(),
            },
            pause: ImageRef {
                image_repository: "p".into(),
                image_tag: "2".into(),
            },
        };
        let v = serde_json::to_value(etcdadm_cluster(&options(br, &d))).unwrap();
        let c = &v["spec"]["etcdadmConfigSpec"];
        assert!(c.get("cloudInitConfig").is_none());
        assert_eq!(c["bottlerocketConfig"]["etcdImage"], "repo/etcd:v3.4.14");
        assert_eq!(c["bottlerocketConfig"]["bootstrapImage"], "b:1");
    }
}

//! Bottlerocket fields of EKS Anywhere's kubeadm fork (README A.6 "Bottlerocket"): `pause`,
//! `bottlerocketBootstrap`, `proxy`, `registryMirror` and the `bottlerocket` settings block under
//! `clusterConfiguration` and `joinConfiguration`. Upstream's schema lacks them, so they are typed
//! here and merged into the serialised object.

use serde::Serialize;
use serde_json::Value;

use anywhere_api::HostOSConfiguration;
use anywhere_catalog::Image;
use anywhere_catalog::generated::VersionsBundle;

use super::proxy::Proxy;
use super::registry_mirror::RegistryMirror;
use crate::Manifest;

/// The `format` of a Bottlerocket node's bootstrap data.
pub const FORMAT: &str = "bottlerocket";
/// The `format` of cloud-init nodes.
pub const CLOUD_CONFIG_FORMAT: &str = "cloud-config";

/// An image as kubeadm's `{imageRepository, imageTag}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRef {
    /// The image without its tag.
    pub image_repository: String,
    /// The tag.
    pub image_tag: String,
}

impl ImageRef {
    /// Splits an image with the reference's `Image()`/`Tag()` rules.
    pub fn from_image(image: &Image) -> ImageRef {
        ImageRef {
            image_repository: image.image().to_string(),
            image_tag: image.tag().to_string(),
        }
    }
    /// `repository:tag`.
    pub fn uri(&self) -> String {
        format!("{}:{}", self.image_repository, self.image_tag)
    }
}

/// Bottlerocket's proxy settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxySettings {
    /// `HTTPS_PROXY`.
    pub https_proxy: String,
    /// `NO_PROXY`.
    pub no_proxy: Vec<String>,
}

/// Bottlerocket's registry mirror settings: one `endpoint` when the only mirrored registry is
/// `public.ecr.aws`, else a list of `mirrors`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryMirrorSettings {
    /// The API endpoint of the `public.ecr.aws` mirror.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The CA certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    /// Registry → mirror endpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirrors: Option<Vec<MirrorSettings>>,
}

/// One mirrored registry of Bottlerocket's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MirrorSettings {
    /// The source registry.
    pub registry: String,
    /// The mirror's API endpoints.
    pub endpoints: Vec<String>,
}

/// `boot` settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BootSettings {
    /// Kernel parameters.
    pub boot_kernel_parameters: Value,
}

/// `kernel` settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KernelSettings {
    /// sysctl settings.
    pub sysctl_settings: Value,
}

/// The `bottlerocket` settings block; only non-empty parts are present.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Boot settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot: Option<BootSettings>,
    /// Kernel settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelSettings>,
    /// Kubernetes (kubelet) settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<Value>,
}

/// The Bottlerocket fields of a kubeadm cluster or join configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmExtensions {
    /// The pause image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<ImageRef>,
    /// The Bottlerocket bootstrap container image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bottlerocket_bootstrap: Option<ImageRef>,
    /// Proxy settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxySettings>,
    /// Registry mirror settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_mirror: Option<RegistryMirrorSettings>,
    /// The settings block.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bottlerocket: Option<Settings>,
}

/// One certificate bundle (`certBundles[]` of the kubeadm and etcdadm forks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertBundle {
    /// The bundle name.
    pub name: String,
    /// The PEM data.
    pub data: String,
}

/// `certBundles` of a cluster or join configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertBundles {
    /// The bundles, in machine-config order.
    pub cert_bundles: Vec<CertBundle>,
}

/// Text written as a YAML block (`|`): it ends with exactly one newline.
pub fn block_text(text: &str) -> String {
    format!("{}\n", text.trim_end_matches('\n'))
}

/// The host OS configuration's certificate bundles, if any.
pub fn cert_bundles(host_os: Option<&HostOSConfiguration>) -> Option<CertBundles> {
    let bundles = host_os?.cert_bundles.as_ref()?;
    Some(CertBundles {
        cert_bundles: bundles
            .iter()
            .map(|b| CertBundle {
                name: b.name.clone().unwrap_or_default(),
                data: block_text(b.data.as_deref().unwrap_or("")),
            })
            .collect(),
    })
}

/// `bottlerocketCustomBootstrapContainers` of a join configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomBootstrapContainers {
    /// The containers.
    pub bottlerocket_custom_bootstrap_containers: Vec<CustomBootstrapContainer>,
}

/// A Bottlerocket bootstrap container run once at boot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomBootstrapContainer {
    /// The container name.
    pub name: String,
    /// `once`, `always` or `off`.
    pub mode: String,
    /// The image without its tag.
    pub image_repository: String,
    /// The tag.
    pub image_tag: String,
}

/// The bootstrap container image of a versions bundle
/// (`bottlerocketHostContainers.kubeadmBootstrap`).
pub fn bootstrap_image(bundle: &VersionsBundle) -> Image {
    Image::new(
        bundle
            .bottlerocket_host_containers
            .as_ref()
            .and_then(|c| c.kubeadm_bootstrap.as_ref())
            .and_then(|c| c.uri.clone())
            .unwrap_or_default(),
    )
}

/// The settings block: `kubernetes` is the kubelet configuration minus `kind`/`apiVersion` when
/// given, else the host OS configuration's; `boot` and `kernel` come from the host OS
/// configuration. `None` when every part is empty.
pub fn settings(
    host_os: Option<&HostOSConfiguration>,
    kubelet_configuration: Option<&Value>,
) -> Option<Settings> {
    let br = host_os.and_then(|h| h.bottlerocket_configuration.as_ref());
    let non_empty = |v: Value| match &v {
        Value::Object(m) if m.is_empty() => None,
        Value::Null => None,
        _ => Some(v),
    };
    let kubernetes = match kubelet_configuration {
        Some(k) => non_empty(super::kubelet::bottlerocket_settings(k)),
        None => br
            .and_then(|b| b.kubernetes.as_ref())
            .and_then(|k| non_empty(serde_json::to_value(k).expect("settings serialise"))),
    };
    let boot = br
        .and_then(|b| b.boot.as_ref())
        .and_then(|b| b.boot_kernel_parameters.as_ref())
        .filter(|p| !p.is_empty())
        .map(|p| BootSettings {
            boot_kernel_parameters: serde_json::to_value(p).expect("settings serialise"),
        });
    let kernel = br
        .and_then(|b| b.kernel.as_ref())
        .and_then(|k| k.sysctl_settings.as_ref())
        .filter(|s| !s.is_empty())
        .map(|s| KernelSettings {
            sysctl_settings: serde_json::to_value(s).expect("settings serialise"),
        });
    if boot.is_none() && kernel.is_none() && kubernetes.is_none() {
        return None;
    }
    Some(Settings {
        boot,
        kernel,
        kubernetes,
    })
}

/// Bottlerocket proxy settings from resolved proxy settings.
pub fn proxy_settings(proxy: &Proxy) -> ProxySettings {
    ProxySettings {
        https_proxy: proxy.https_proxy.clone(),
        no_proxy: proxy.no_proxy.clone(),
    }
}

/// Bottlerocket registry mirror settings from a resolved mirror.
pub fn registry_mirror_settings(mirror: &RegistryMirror) -> RegistryMirrorSettings {
    let public = mirror
        .public_mirror_endpoint()
        .filter(|_| mirror.mirrors.len() == 1);
    let mirrors = public.is_none().then(|| {
        mirror
            .api_endpoints()
            .into_iter()
            .map(|(registry, endpoint)| MirrorSettings {
                registry,
                endpoints: vec![endpoint],
            })
            .collect()
    });
    RegistryMirrorSettings {
        endpoint: public,
        ca_cert: mirror.ca_cert.clone(),
        mirrors,
    }
}

/// Merges the extensions (a [`KubeadmExtensions`], [`CertBundles`]...) into a
/// KubeadmControlPlane's `clusterConfiguration` and `joinConfiguration`.
pub fn apply_to_control_plane<T: Serialize>(manifest: &mut Manifest, extensions: &T) {
    super::merge_into(
        manifest,
        "/spec/kubeadmConfigSpec/clusterConfiguration",
        extensions,
    );
    super::merge_into(manifest, "/spec/kubeadmConfigSpec/joinConfiguration", extensions);
}

/// Merges the extensions into a KubeadmConfigTemplate's `joinConfiguration`.
pub fn apply_to_config_template<T: Serialize>(manifest: &mut Manifest, extensions: &T) {
    super::merge_into(manifest, "/spec/template/spec/joinConfiguration", extensions);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kubelet_configuration_becomes_kubernetes_settings() {
        let s = settings(
            None,
            Some(&json!({"kind": "KubeletConfiguration", "maxPods": 20})),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"kubernetes": {"maxPods": 20}})
        );
    }

    #[test]
    fn nothing_configured_gives_no_settings_block() {
        assert_eq!(settings(None, None), None);
    }

    #[test]
    fn extensions_land_in_cluster_and_join_configuration() {
        let mut m = Manifest(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"a": 1}}}}));
        let ext = KubeadmExtensions {
            pause: Some(ImageRef {
                image_repository: "r/pause".into(),
                image_tag: "t".into(),
            }),
            ..Default::default()
        };
        apply_to_control_plane(&mut m, &ext);
        assert_eq!(
            m.0["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]["pause"]["imageTag"],
            "t"
        );
        assert_eq!(m.0["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]["a"], 1);
        assert_eq!(
            m.0["spec"]["kubeadmConfigSpec"]["joinConfiguration"]["pause"]["imageRepository"],
            "r/pause"
        );
    }

    #[test]
    fn a_single_public_ecr_mirror_becomes_the_endpoint_others_a_mirror_list() {
        let single = RegistryMirror {
            address: "r:443".into(),
            ca_cert: None,
            skip_verify: false,
            auth: None,
            mirrors: [("public.ecr.aws".to_string(), "r:443".to_string())].into(),
        };
        let s = registry_mirror_settings(&single);
        assert_eq!(s.endpoint.as_deref(), Some("r:443/v2"));
        assert!(s.mirrors.is_none());
        let mut many = single.clone();
        many.mirrors.insert("docker.io".into(), "r:443/v2/dh".into());
        let s = registry_mirror_settings(&many);
        assert!(s.endpoint.is_none());
        assert_eq!(s.mirrors.unwrap()[0].endpoints, ["r:443/v2/dh"]);
    }

    #[test]
    fn cert_bundle_data_ends_with_one_newline() {
        let host_os: HostOSConfiguration =
            serde_json::from_value(json!({"certBundles": [{"name": "ca", "data": "PEM\n\n"}]})).unwrap();
        let b = cert_bundles(Some(&host_os)).unwrap();
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            json!({"certBundles": [{"name": "ca", "data": "PEM\n"}]})
        );
        assert!(cert_bundles(None).is_none());
    }

    #[test]
    fn image_ref_splits_at_the_last_colon() {
        let r = ImageRef::from_image(&Image::new("public.ecr.aws/x/bottlerocket-bootstrap:v1-19-6"));
        assert_eq!(r.image_repository, "public.ecr.aws/x/bottlerocket-bootstrap");
        assert_eq!(r.uri(), "public.ecr.aws/x/bottlerocket-bootstrap:v1-19-6");
    }
}

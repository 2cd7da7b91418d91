//! etcd encryption at rest (`etcdEncryption`): the API server's `EncryptionConfiguration` file
//! and the volumes it needs (vSphere, Nutanix).

use serde::Serialize;

use anywhere_api::ClusterSpec;
use anywhere_api::yaml::{KeyOrder, to_string as yaml_string};

use crate::Manifest;
use crate::types::controlplane_v1beta2::{ExtraVolume, File};

/// Whether etcd encryption is configured (a non-empty list).
pub fn has_etcd_encryption(spec: &ClusterSpec) -> bool {
    spec.etcd_encryption.as_ref().is_some_and(|e| !e.is_empty())
}

/// Where the API server reads the encryption configuration.
const ENCRYPTION_CONFIG_PATH: &str = super::control_plane::ENCRYPTION_PROVIDER_CONFIG_PATH;
/// The host file of [`ConfigLocation::KubeadmDirectory`].
const KUBEADM_ENCRYPTION_CONFIG_PATH: &str = "/var/lib/kubeadm/encryption-config.yaml";

/// Where a provider writes the encryption configuration on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigLocation {
    /// `/var/lib/kubeadm/encryption-config.yaml`, mounted read-only (vSphere, CloudStack).
    KubeadmDirectory,
    /// `/etc/kubernetes/enc/encryption-config.yaml`, mounted writable (Nutanix).
    KubernetesDirectory,
}

impl ConfigLocation {
    fn host_path(self) -> &'static str {
        match self {
            ConfigLocation::KubeadmDirectory => KUBEADM_ENCRYPTION_CONFIG_PATH,
            ConfigLocation::KubernetesDirectory => ENCRYPTION_CONFIG_PATH,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EncryptionConfiguration {
    api_version: &'static str,
    kind: &'static str,
    resources: Vec<ResourceConfiguration>,
}

#[derive(Serialize)]
struct ResourceConfiguration {
    providers: Vec<ProviderConfiguration>,
    resources: Vec<String>,
}

#[derive(Serialize)]
struct ProviderConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    kms: Option<KmsConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<Empty>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KmsConfiguration {
    api_version: &'static str,
    cachesize: i64,
    endpoint: String,
    name: String,
    timeout: String,
}

/// An empty mapping (`{}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Empty {}

/// The API server's `EncryptionConfiguration` file, written at `location`, for the spec's
/// `etcdEncryption` (every
/// resource list ends in the `identity` provider); `None` when encryption is not configured.
pub fn encryption_configuration_file(spec: &ClusterSpec, location: ConfigLocation) -> Option<File> {
    let confs = spec.etcd_encryption.as_ref().filter(|e| !e.is_empty())?;
    let resources = confs
        .iter()
        .map(|conf| {
            let mut providers: Vec<ProviderConfiguration> = conf
                .providers
                .iter()
                .flatten()
                .map(|p| {
                    let kms = p.kms.clone().unwrap_or_default();
                    ProviderConfiguration {
                        kms: Some(KmsConfiguration {
                            api_version: "v1",
                            cachesize: kms.cachesize.unwrap_or(0),
                            endpoint: kms.socket_listen_address.unwrap_or_default(),
                            name: kms.name.unwrap_or_default(),
                            timeout: kms.timeout.map(|t| go_duration(&t)).unwrap_or_default(),
                        }),
                        identity: None,
                    }
                })
                .collect();
            providers.push(ProviderConfiguration {
                kms: None,
                identity: Some(Empty {}),
            });
            ResourceConfiguration {
                providers,
                resources: conf.resources.clone().unwrap_or_default(),
            }
        })
        .collect();
    let conf = EncryptionConfiguration {
        api_version: "apiserver.config.k8s.io/v1",
        kind: "EncryptionConfiguration",
        resources,
    };
    Some(File {
        content: Some(yaml_string(&Manifest::new(&conf).0, KeyOrder::Sorted)),
        owner: Some("root:root".into()),
        path: Some(location.host_path().into()),
        ..Default::default()
    })
}

/// A duration as Go's `time.Duration.String()` prints it after parsing (`1m` → `1m0s`,
/// `0.5s` → `500ms`), since EKS Anywhere round-trips KMS timeouts through `metav1.Duration`.
/// Text Go would not parse is kept as written.
pub fn go_duration(text: &str) -> String {
    parse_go_duration(text)
        .map(format_go_duration)
        .unwrap_or_else(|| text.to_string())
}

/// Nanoseconds of a Go duration string (sign, then `<number><unit>` runs), or `None`.
pub(crate) fn parse_go_duration(text: &str) -> Option<i128> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let int: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        let mut value = int.checked_mul(scale)?;
        let mut unit_scale = scale;
        for digit in frac_part.chars() {
            unit_scale /= 10;
            value += i128::from(digit.to_digit(10)?) * unit_scale;
        }
        total = total.checked_add(value)?;
        rest = next;
    }
    Some(if negative { -total } else { total })
}

/// Go's `Duration.String()`.
fn format_go_duration(nanos: i128) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let d = nanos.unsigned_abs();
    let fraction = |value: u128, unit: u128, digits: usize| {
        let frac = value % unit;
        if frac == 0 {
            format!("{}", value / unit)
        } else {
            let f = format!("{frac:0digits$}");
            format!("{}.{}", value / unit, f.trim_end_matches('0'))
        }
    };
    let body = if d == 0 {
        "0s".to_string()
    } else if d < 1_000 {
        format!("{d}ns")
    } else if d < 1_000_000 {
        format!("{}\u{b5}s", fraction(d, 1_000, 3))
    } else if d < 1_000_000_000 {
        format!("{}ms", fraction(d, 1_000_000, 6))
    } else {
        let hours = d / 3_600_000_000_000;
        let minutes = (d / 60_000_000_000) % 60;
        let seconds = fraction(d % 60_000_000_000, 1_000_000_000, 9);
        match (hours, minutes) {
            (0, 0) => format!("{seconds}s"),
            (0, m) => format!("{m}m{seconds}s"),
            (h, m) => format!("{h}h{m}m{seconds}s"),
        }
    };
    format!("{sign}{body}")
}

/// The API-server volumes for etcd encryption: the configuration file and the KMS plugin
/// socket directory.
pub fn encryption_volumes(location: ConfigLocation) -> Vec<ExtraVolume> {
    vec![
        ExtraVolume {
            host_path: Some(location.host_path().into()),
            mount_path: Some(ENCRYPTION_CONFIG_PATH.into()),
            name: Some("encryption-config".into()),
            path_type: Some("File".into()),
            read_only: Some(location == ConfigLocation::KubeadmDirectory),
        },
        ExtraVolume {
            host_path: Some("/var/run/kmsplugin/".into()),
            mount_path: Some("/var/run/kmsplugin/".into()),
            name: Some("kms-plugin".into()),
            path_type: None,
            read_only: Some(false),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kms_timeouts_print_like_go_durations() {
        assert_eq!(go_duration("3s"), "3s");
        assert_eq!(go_duration("1m"), "1m0s");
        assert_eq!(go_duration("90s"), "1m30s");
        assert_eq!(go_duration("1h"), "1h0m0s");
        assert_eq!(go_duration("0.5s"), "500ms");
        assert_eq!(go_duration("1.5s"), "1.5s");
        assert_eq!(go_duration("1500us"), "1.5ms");
        assert_eq!(go_duration("0"), "0s");
        assert_eq!(go_duration("soon"), "soon");
    }

    #[test]
    fn encryption_configuration_ends_each_resource_list_with_identity() {
        let spec: ClusterSpec = serde_json::from_value(json!({"etcdEncryption": [{
            "providers": [{"kms": {"name": "c1", "socketListenAddress": "unix:///s", "cachesize": 1000, "timeout": "3s"}}],
            "resources": ["secrets"]
        }]}))
        .unwrap();
        let file = encryption_configuration_file(&spec, ConfigLocation::KubernetesDirectory).unwrap();
        assert_eq!(
            file.path.as_deref(),
            Some("/etc/kubernetes/enc/encryption-config.yaml")
        );
        let content = file.content.unwrap();
        assert_eq!(
            content,
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- providers:\n  - kms:\n      apiVersion: v1\n      cachesize: 1000\n      endpoint: unix:///s\n      name: c1\n      timeout: 3s\n  - identity: {}\n  resources:\n  - secrets\n"
        );
        assert!(
            encryption_configuration_file(&ClusterSpec::default(), ConfigLocation::KubeadmDirectory)
                .is_none()
        );
    }

    #[test]
    fn kubeadm_directory_config_is_mounted_read_only() {
        let v = encryption_volumes(ConfigLocation::KubeadmDirectory);
        assert_eq!(
            v[0].host_path.as_deref(),
            Some("/var/lib/kubeadm/encryption-config.yaml")
        );
        assert_eq!(
            v[0].mount_path.as_deref(),
            Some("/etc/kubernetes/enc/encryption-config.yaml")
        );
        assert_eq!(v[0].read_only, Some(true));
        assert_eq!(
            encryption_volumes(ConfigLocation::KubernetesDirectory)[0].read_only,
            Some(false)
        );
    }
}

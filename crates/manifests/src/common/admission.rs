//! Admission exclusion for system resources (`skipAdmissionForSystemResources`, README 5).

use crate::types::controlplane_v1beta2::{ExtraEnv, ExtraVolume, File};

/// The rules file on the node.
pub const EXCLUSION_RULES_PATH: &str = "/etc/kubernetes/admission-plugin-exclusion-rules.json";
/// Where Bottlerocket keeps the rules file on the host.
pub const BOTTLEROCKET_EXCLUSION_RULES_HOST_PATH: &str =
    "/var/lib/kubeadm/admission-plugin-exclusion-rules.json";

/// The rules (data file of the pack).
const EXCLUSION_RULES: &str = include_str!("config/admission-plugin-exclusion-rules.json");

/// The rules file, trimmed, as a kubeadm file.
pub fn exclusion_rules_file() -> File {
    File {
        content: Some(format!("{}\n", EXCLUSION_RULES.trim())),
        owner: Some("root:root".into()),
        path: Some(EXCLUSION_RULES_PATH.into()),
        ..Default::default()
    }
}

/// The API-server environment variable naming the rules file.
pub fn exclusion_rules_env() -> ExtraEnv {
    ExtraEnv {
        name: Some("EKS_PATCH_EXCLUSION_RULES_FILE".into()),
        value: Some(EXCLUSION_RULES_PATH.into()),
        value_from: None,
    }
}

/// The API-server volume mounting the rules file; `host_path` is [`EXCLUSION_RULES_PATH`] or, on
/// Bottlerocket, [`BOTTLEROCKET_EXCLUSION_RULES_HOST_PATH`].
pub fn exclusion_rules_volume(host_path: &str) -> ExtraVolume {
    ExtraVolume {
        host_path: Some(host_path.into()),
        mount_path: Some(EXCLUSION_RULES_PATH.into()),
        name: Some("admission-exclusion-rules".into()),
        path_type: Some("File".into()),
        read_only: Some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_file_is_the_trimmed_json() {
        let f = exclusion_rules_file();
        let content = f.content.unwrap();
        assert!(content.starts_with('['));
        assert!(content.ends_with("]\n"));
        assert!(serde_json::from_str::<serde_json::Value>(&content).is_ok());
    }

    #[test]
    fn volume_mounts_the_rules_file_read_only() {
        let v = exclusion_rules_volume(BOTTLEROCKET_EXCLUSION_RULES_HOST_PATH);
        assert_eq!(v.mount_path.as_deref(), Some(EXCLUSION_RULES_PATH));
        assert_eq!(v.read_only, Some(true));
    }
}

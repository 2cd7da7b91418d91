//! Node users: the first user of a machine config and its first SSH key (README A.1, A.3).

use base64::Engine;

use anywhere_api::User;

use crate::types::controlplane_v1beta2::KubeadmConfigSpecUser;
use crate::{Error, Result};

/// The sudo rule every node user gets.
pub const SUDO_ALL: &str = "ALL=(ALL) NOPASSWD:ALL";

/// The name and first SSH key of the first user (`""` for what is absent).
pub fn first_user(users: Option<&Vec<User>>) -> (String, String) {
    let user = users.and_then(|u| u.first());
    let name = user.and_then(|u| u.name.clone()).unwrap_or_default();
    let key = user
        .and_then(|u| u.ssh_authorized_keys.as_ref())
        .and_then(|k| k.first())
        .cloned()
        .unwrap_or_default();
    (name, key)
}

/// Re-serialises an authorized key as `<type> <base64>`, dropping the comment, as vSphere and
/// CloudStack do. An empty key stays empty.
///
/// # Errors
/// [`Error::Invalid`] when the key is not `<type> <base64> [comment]` with a decodable blob.
pub fn normalize_ssh_key(key: &str) -> Result<String> {
    let key = key.trim();
    if key.is_empty() {
        return Ok(String::new());
    }
    let invalid = |why: &str| Error::Invalid {
        what: "ssh authorized key".into(),
        why: why.into(),
    };
    let mut parts = key.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return Err(invalid("expected \"<type> <base64> [comment]\""));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|_| invalid("key data is not base64"))?;
    // The wire form starts with the key type as a length-prefixed string.
    let declared = bytes
        .get(..4)
        .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize)
        .and_then(|len| bytes.get(4..4 + len))
        .ok_or_else(|| invalid("key data is truncated"))?;
    if declared != kind.as_bytes() {
        return Err(invalid("key type does not match its data"));
    }
    Ok(format!("{kind} {blob}"))
}

/// A kubeadm user with one SSH key and password-less sudo.
pub fn kubeadm_user(name: &str, key: &str) -> KubeadmConfigSpecUser {
    KubeadmConfigSpecUser {
        name: Some(name.to_string()),
        ssh_authorized_keys: Some(vec![key.to_string()]),
        sudo: Some(SUDO_ALL.into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG7ZZw6vSGZwHpcgXaWv7F1bP8r+s1f4R8cHhRTs0W5Z";

    #[test]
    fn comment_is_dropped() {
        assert_eq!(normalize_ssh_key(&format!("{KEY} me@example.com")).unwrap(), KEY);
    }

    #[test]
    fn empty_key_stays_empty() {
        assert_eq!(normalize_ssh_key("").unwrap(), "");
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(normalize_ssh_key("ssh-rsa notbase64!!").is_err());
        assert!(normalize_ssh_key("justone").is_err());
        assert!(
            normalize_ssh_key("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIG7ZZw6vSGZwHpcgXaWv7F1bP8r+s1f4R8cHhRTs0W5Z")
                .is_err()
        );
    }

    #[test]
    fn first_user_takes_the_first_key() {
        let users = vec![User {
            name: Some("capv".into()),
            ssh_authorized_keys: Some(vec!["a".into(), "b".into()]),
        }];
        assert_eq!(first_user(Some(&users)), ("capv".to_string(), "a".to_string()));
        assert_eq!(first_user(None), (String::new(), String::new()));
    }
}

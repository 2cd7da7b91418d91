//! Reaching a workload cluster through the kubeconfig Cluster API writes for it
//! (`<cluster>-kubeconfig` Secret in `eksa-system`, key `value`).

use base64::Engine;

use crate::kube_ops::Kube;

/// A client for the workload cluster whose kubeconfig is `encoded` (the Secret's base64
/// `value`).
///
/// # Errors
/// A message saying what is wrong with the kubeconfig (never its content: it holds
/// credentials).
pub async fn client(encoded: &str) -> Result<Kube, String> {
    let yaml = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| format!("the kubeconfig Secret is not base64: {e}"))?;
    let yaml = String::from_utf8(yaml).map_err(|_| "the kubeconfig Secret is not UTF-8 text".to_string())?;
    client_from_yaml(&yaml).await
}

/// A client from kubeconfig YAML text.
///
/// # Errors
/// The kubeconfig cannot be read or used.
pub async fn client_from_yaml(yaml: &str) -> Result<Kube, String> {
    let kubeconfig =
        kube::config::Kubeconfig::from_yaml(yaml).map_err(|e| format!("cannot read the kubeconfig: {e}"))?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| format!("cannot use the kubeconfig: {e}"))?;
    // A workload cluster that stops answering must not hold a reconcile (kube sets no read
    // timeout by default); nothing sent to it streams.
    config.read_timeout = Some(std::time::Duration::from_secs(30));
    config.reset_reader_on_write = true;
    let client = kube::Client::try_from(config).map_err(|e| format!("cannot build a client: {e}"))?;
    Ok(Kube::new(client, crate::controller::FIELD_MANAGER))
}

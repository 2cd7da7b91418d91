//! Object names every provider shares (README 5 "Names").

/// The KubeadmControlPlane, the CAPI Cluster and the provider cluster are named after the cluster.
pub fn control_plane_name(cluster: &str) -> String {
    cluster.to_string()
}

/// The EtcdadmCluster: `<cluster>-etcd`.
pub fn etcd_cluster_name(cluster: &str) -> String {
    format!("{cluster}-etcd")
}

/// A worker group's MachineDeployment: `<cluster>-<group>`.
pub fn machine_deployment_name(cluster: &str, group: &str) -> String {
    format!("{cluster}-{group}")
}

/// The first control-plane machine template: `<cluster>-control-plane-1`.
pub fn initial_control_plane_template_name(cluster: &str) -> String {
    format!("{cluster}-control-plane-1")
}

/// The first etcd machine template: `<cluster>-etcd-1`.
pub fn initial_etcd_template_name(cluster: &str) -> String {
    format!("{cluster}-etcd-1")
}

/// The first template of a worker group: `<cluster>-<group>-1`.
pub fn initial_worker_template_name(cluster: &str, group: &str) -> String {
    format!("{cluster}-{group}-1")
}

/// The Secret holding the AWS IAM authenticator CA: `<cluster>-aws-iam-authenticator-ca`.
pub fn aws_iam_authenticator_ca_secret(cluster: &str) -> String {
    format!("{cluster}-aws-iam-authenticator-ca")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_eks_anywhere_conventions() {
        assert_eq!(control_plane_name("test"), "test");
        assert_eq!(etcd_cluster_name("test"), "test-etcd");
        assert_eq!(machine_deployment_name("test", "md-0"), "test-md-0");
        assert_eq!(
            initial_control_plane_template_name("test"),
            "test-control-plane-1"
        );
        assert_eq!(initial_etcd_template_name("test"), "test-etcd-1");
        assert_eq!(initial_worker_template_name("test", "md-0"), "test-md-0-1");
    }
}

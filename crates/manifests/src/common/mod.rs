//! Pieces every provider shares: names, the CAPI Cluster, KubeadmControlPlane and
//! KubeadmConfigTemplate skeletons, kubelet and API-server settings, proxy and registry-mirror
//! configuration, audit policy, external etcd.

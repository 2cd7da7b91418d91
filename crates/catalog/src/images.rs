//! Every image a catalog names, for the air-gap work (download, mirror) and for `validate`.

use std::fmt;

use crate::generated::{Controller, VersionsBundle};
use crate::kube_version::KubeVersion;

/// Where the catalog names an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImageSource<'a> {
    /// A field of the versions bundle, by its path, e.g. `vSphere.kubeVip`.
    Bundle {
        /// Field path inside the versions bundle.
        field: &'static str,
    },
    /// An image asset of the version's EKS Distro release, e.g. `kube-apiserver-image`.
    EksDistro {
        /// The asset name.
        asset: &'a str,
    },
}

impl fmt::Display for ImageSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageSource::Bundle { field } => f.write_str(field),
            ImageSource::EksDistro { asset } => write!(f, "eks-d {asset}"),
        }
    }
}

/// One image (or OCI Helm chart) the catalog names for one Kubernetes version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CatalogImage<'a> {
    /// The Kubernetes version whose versions bundle names it.
    pub kube_version: KubeVersion,
    /// Which component names it.
    pub source: ImageSource<'a>,
    /// The image URI as written; empty when the field is present without a `uri`.
    pub uri: &'a str,
}

/// Calls `visit` with the path and value of every image field of a versions bundle that is
/// present, deprecated fields included, in a fixed order. Helm charts published as OCI
/// artifacts (`cilium.helmChart`, `packageController.helmChart`, `tinkerbellStack.tinkerbellChart`,
/// ...) count as images: they are copied the same way. Manifests and archives (OVAs, hook files)
/// are not images and are not visited.
pub(crate) fn visit_bundle_images<'a>(
    vb: &'a VersionsBundle,
    visit: &mut dyn FnMut(&'static str, &'a Controller),
) {
    let mut put = |field: &'static str, value: &'a Option<Controller>| {
        if let Some(c) = value {
            visit(field, c);
        }
    };
    if let Some(x) = &vb.aws {
        put("aws.controller", &x.controller);
        put("aws.kubeProxy", &x.kube_proxy);
    }
    if let Some(x) = &vb.bootstrap {
        put("bootstrap.controller", &x.controller);
        put("bootstrap.kubeProxy", &x.kube_proxy);
    }
    if let Some(x) = &vb.bottlerocket_bootstrap_containers {
        put(
            "bottlerocketBootstrapContainers.multiNetworkBootstrap",
            &x.multi_network_bootstrap,
        );
    }
    if let Some(x) = &vb.bottlerocket_host_containers {
        put("bottlerocketHostContainers.admin", &x.admin);
        put("bottlerocketHostContainers.control", &x.control);
        put(
            "bottlerocketHostContainers.kubeadmBootstrap",
            &x.kubeadm_bootstrap,
        );
    }
    if let Some(x) = &vb.cert_manager {
        put("certManager.acmesolver", &x.acmesolver);
        put("certManager.cainjector", &x.cainjector);
        put("certManager.controller", &x.controller);
        put("certManager.ctl", &x.ctl);
        put("certManager.startupapicheck", &x.startupapicheck);
        put("certManager.webhook", &x.webhook);
    }
    if let Some(x) = &vb.cilium {
        put("cilium.cilium", &x.cilium);
        put("cilium.helmChart", &x.helm_chart);
        put("cilium.operator", &x.operator);
    }
    if let Some(x) = &vb.cloud_stack {
        put("cloudStack.clusterAPIController", &x.cluster_api_controller);
        put("cloudStack.kubeRbacProxy", &x.kube_rbac_proxy);
        put("cloudStack.kubeVip", &x.kube_vip);
    }
    if let Some(x) = &vb.cluster_api {
        put("clusterAPI.controller", &x.controller);
        put("clusterAPI.kubeProxy", &x.kube_proxy);
    }
    if let Some(x) = &vb.control_plane {
        put("controlPlane.controller", &x.controller);
        put("controlPlane.kubeProxy", &x.kube_proxy);
    }
    if let Some(x) = &vb.docker {
        put("docker.kubeProxy", &x.kube_proxy);
        put("docker.manager", &x.manager);
    }
    if let Some(x) = &vb.eks_d {
        put("eksD.kindNode", &x.kind_node);
    }
    if let Some(x) = &vb.eksa {
        put("eksa.cliTools", &x.cli_tools);
        put("eksa.clusterController", &x.cluster_controller);
        put("eksa.diagnosticCollector", &x.diagnostic_collector);
    }
    if let Some(x) = &vb.etcdadm_bootstrap {
        put("etcdadmBootstrap.controller", &x.controller);
        put("etcdadmBootstrap.kubeProxy", &x.kube_proxy);
    }
    if let Some(x) = &vb.etcdadm_controller {
        put("etcdadmController.controller", &x.controller);
        put("etcdadmController.kubeProxy", &x.kube_proxy);
    }
    if let Some(x) = &vb.flux {
        put("flux.helmController", &x.helm_controller);
        put("flux.kustomizeController", &x.kustomize_controller);
        put("flux.notificationController", &x.notification_controller);
        put("flux.sourceController", &x.source_controller);
    }
    if let Some(x) = &vb.haproxy {
        put("haproxy.image", &x.image);
    }
    if let Some(x) = &vb.nutanix {
        put("nutanix.cloudProvider", &x.cloud_provider);
        put("nutanix.clusterAPIController", &x.cluster_api_controller);
        put("nutanix.kubeVip", &x.kube_vip);
    }
    if let Some(x) = &vb.package_controller {
        put(
            "packageController.credentialProviderPackage",
            &x.credential_provider_package,
        );
        put("packageController.helmChart", &x.helm_chart);
        put("packageController.packageController", &x.package_controller);
        put("packageController.tokenRefresher", &x.token_refresher);
    }
    if let Some(x) = &vb.snow {
        put("snow.bottlerocketBootstrapSnow", &x.bottlerocket_bootstrap_snow);
        put("snow.kubeVip", &x.kube_vip);
        put("snow.manager", &x.manager);
    }
    if let Some(x) = &vb.tinkerbell {
        put("tinkerbell.clusterAPIController", &x.cluster_api_controller);
        put("tinkerbell.envoy", &x.envoy);
        put("tinkerbell.kubeVip", &x.kube_vip);
        if let Some(s) = &x.tinkerbell_stack {
            if let Some(a) = &s.actions {
                put("tinkerbell.tinkerbellStack.actions.cexec", &a.cexec);
                put("tinkerbell.tinkerbellStack.actions.imageToDisk", &a.image_to_disk);
                put("tinkerbell.tinkerbellStack.actions.kexec", &a.kexec);
                put("tinkerbell.tinkerbellStack.actions.ociToDisk", &a.oci_to_disk);
                put("tinkerbell.tinkerbellStack.actions.reboot", &a.reboot);
                put("tinkerbell.tinkerbellStack.actions.writeFile", &a.write_file);
            }
            put("tinkerbell.tinkerbellStack.boots", &s.boots);
            put("tinkerbell.tinkerbellStack.hegel", &s.hegel);
            if let Some(h) = &s.hook {
                put("tinkerbell.tinkerbellStack.hook.bootkit", &h.bootkit);
                put("tinkerbell.tinkerbellStack.hook.docker", &h.docker);
                put("tinkerbell.tinkerbellStack.hook.kernel", &h.kernel);
            }
            put("tinkerbell.tinkerbellStack.rufio", &s.rufio);
            put("tinkerbell.tinkerbellStack.stack", &s.stack);
            if let Some(t) = &s.tink {
                put("tinkerbell.tinkerbellStack.tink.nginx", &t.nginx);
                put(
                    "tinkerbell.tinkerbellStack.tink.tinkController",
                    &t.tink_controller,
                );
                put("tinkerbell.tinkerbellStack.tink.tinkRelay", &t.tink_relay);
                put(
                    "tinkerbell.tinkerbellStack.tink.tinkRelayInit",
                    &t.tink_relay_init,
                );
                put("tinkerbell.tinkerbellStack.tink.tinkServer", &t.tink_server);
                put("tinkerbell.tinkerbellStack.tink.tinkWorker", &t.tink_worker);
            }
            put("tinkerbell.tinkerbellStack.tinkerbellChart", &s.tinkerbell_chart);
            put("tinkerbell.tinkerbellStack.tinkerbellCrds", &s.tinkerbell_crds);
        }
    }
    if let Some(x) = &vb.upgrader {
        put("upgrader.upgrader", &x.upgrader);
    }
    if let Some(x) = &vb.v_sphere {
        put("vSphere.clusterAPIController", &x.cluster_api_controller);
        put("vSphere.driver", &x.driver);
        put("vSphere.kubeProxy", &x.kube_proxy);
        put("vSphere.kubeVip", &x.kube_vip);
        put("vSphere.manager", &x.manager);
        put("vSphere.syncer", &x.syncer);
    }
}

//! Cluster API manifests: a validated cluster spec plus the release catalog in, typed Cluster
//! API objects out, for every provider.
//!
//! Purpose: the heart of the system. Given the same inputs EKS Anywhere's template builders get
//! (the spec, the datacenter and machine configs, the versions bundle and EKS Distro release of
//! each Kubernetes version, credentials, and the names of the immutable templates), produce the
//! objects EKS Anywhere would produce. Objects are built as typed values (`types`) and
//! serialised once ([`Manifest`]); there are no text templates for Kubernetes objects.
//!
//! Boundary: pure and deterministic. It never reads files, environment variables or the clock:
//! credentials come in [`Credentials`], template names in [`TemplateNames`]. It must not depend
//! on tokio, kube, an HTTP client or `std::fs`.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use anywhere_api::{Cluster, ConfigSet, Object};
use anywhere_catalog::generated::VersionsBundle;
use anywhere_catalog::{Catalog, KubeDistro, KubeVersion};

pub mod common;
pub mod providers;
pub mod template_name;
pub mod types;

/// The namespace every generated Cluster API object lives in.
pub const SYSTEM_NAMESPACE: &str = "eksa-system";

/// A failure to render.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster's datacenter kind has no generator (yet).
    #[error("no manifest generator for datacenter kind {0:?}")]
    UnsupportedProvider(String),
    /// A required input is absent.
    #[error("missing input: {0}")]
    Missing(String),
    /// The catalog has no bundle or EKS Distro release for a Kubernetes version.
    #[error("release catalog has nothing usable for Kubernetes {version}")]
    Catalog {
        /// The version.
        version: String,
        /// Why (boxed: the catalog's error is large and this path is cold).
        #[source]
        source: Box<anywhere_catalog::Error>,
    },
    /// An input value cannot be used (bad CIDR, unparsable INI...).
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which input.
        what: String,
        /// What is wrong with it.
        why: String,
    },
}

/// `Result` with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One rendered object: a typed value serialised to JSON once, in the typed struct's field order.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest(pub Value);

impl Manifest {
    /// Serialises a typed object. Typed objects always serialise; a failure is a bug.
    pub fn new<T: Serialize>(object: &T) -> Manifest {
        Manifest(serde_json::to_value(object).expect("typed manifests serialise to JSON"))
    }
    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.0.get("apiVersion").and_then(Value::as_str).unwrap_or("")
    }
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.0.get("kind").and_then(Value::as_str).unwrap_or("")
    }
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.0
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Prints manifests as one multi-document YAML stream, in order.
pub fn to_yaml(manifests: &[Manifest]) -> String {
    anywhere_api::yaml::to_string_multi(manifests.iter().map(|m| &m.0), anywhere_api::yaml::KeyOrder::AsIs)
}

/// Credentials the generators embed (EKS-A reads them from the environment at render time; we
/// take them as values). An absent value renders as an empty string, as in EKS Anywhere.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `EKSA_VSPHERE_USERNAME`.
    pub vsphere_username: Option<String>,
    /// `EKSA_VSPHERE_PASSWORD`.
    pub vsphere_password: Option<String>,
    /// `EKSA_VSPHERE_CP_USERNAME` (cloud provider; falls back to `vsphere_username`).
    pub vsphere_cp_username: Option<String>,
    /// `EKSA_VSPHERE_CP_PASSWORD` (cloud provider; falls back to `vsphere_password`).
    pub vsphere_cp_password: Option<String>,
    /// `EKSA_NUTANIX_USERNAME`.
    pub nutanix_username: Option<String>,
    /// `EKSA_NUTANIX_PASSWORD`.
    pub nutanix_password: Option<String>,
    /// `REGISTRY_USERNAME` (registry mirror with `authenticate: true`).
    pub registry_username: Option<String>,
    /// `REGISTRY_PASSWORD`.
    pub registry_password: Option<String>,
    /// `EKSA_CLOUDSTACK_B64ENCODED_SECRET`: base64 of an INI file, one profile per AZ.
    pub cloudstack_b64_secret: Option<String>,
    /// base64 of the AWS credentials file named by `EKSA_AWS_CREDENTIALS_FILE` (Snow).
    pub snow_credentials_b64: Option<String>,
    /// base64 of the CA bundles file named by `EKSA_AWS_CA_BUNDLES_FILE` (Snow).
    pub snow_ca_bundles_b64: Option<String>,
}

/// Feature switches EKS-A reads from the environment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// `CLOUDSTACK_KUBE_VIP_DISABLED=true`: no kube-vip on CloudStack.
    pub cloudstack_kube_vip_disabled: bool,
}

/// Names of the immutable templates (machine templates, kubeadm config templates). Templates
/// are never edited in place: a change gets a new name (`template_name` module decides when).
///
/// For the control plane, `None` means "not supplied": the reference's golden files then show
/// the literal `<no value>` and we emit exactly that. For workers, a `None` map means "absent",
/// which EKS-A renders as an empty name, and a map without a group's entry renders the same.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateNames {
    /// Control-plane machine template name (`controlPlaneTemplateName`).
    pub control_plane: Option<String>,
    /// External-etcd machine template name (`etcdTemplateName`).
    pub etcd: Option<String>,
    /// Worker group name → machine template name.
    pub worker_machine: Option<BTreeMap<String, String>>,
    /// Worker group name → KubeadmConfigTemplate name.
    pub worker_kubeadm_config: Option<BTreeMap<String, String>>,
    /// Failure domain name → VSphereFailureDomain / VSphereDeploymentZone name.
    pub failure_domains: Option<BTreeMap<String, String>>,
}

/// The literal the reference prints for a template name it was not given.
pub const NO_VALUE: &str = "<no value>";

impl TemplateNames {
    /// The names of a cluster's first templates: `<cluster>-control-plane-1`, `<cluster>-etcd-1`
    /// and `<cluster>-<group>-1`, as EKS Anywhere names them at create.
    pub fn initial(cluster: &Cluster, worker_groups: &[String]) -> TemplateNames {
        let name = anywhere_api::meta::Resource::name(cluster);
        let per_group = || {
            worker_groups
                .iter()
                .map(|g| (g.clone(), format!("{name}-{g}-1")))
                .collect::<BTreeMap<_, _>>()
        };
        TemplateNames {
            control_plane: Some(format!("{name}-control-plane-1")),
            etcd: Some(format!("{name}-etcd-1")),
            worker_machine: Some(per_group()),
            worker_kubeadm_config: Some(per_group()),
            failure_domains: None,
        }
    }

    /// The control-plane machine template name, or `<no value>`.
    pub fn control_plane(&self) -> &str {
        self.control_plane.as_deref().unwrap_or(NO_VALUE)
    }
    /// The etcd machine template name, or `<no value>`.
    pub fn etcd(&self) -> &str {
        self.etcd.as_deref().unwrap_or(NO_VALUE)
    }
    /// A worker group's machine template name, or `""`.
    pub fn worker_machine(&self, group: &str) -> &str {
        self.worker_machine
            .as_ref()
            .and_then(|m| m.get(group))
            .map(String::as_str)
            .unwrap_or("")
    }
    /// A worker group's KubeadmConfigTemplate name, or `""`.
    pub fn worker_kubeadm_config(&self, group: &str) -> &str {
        self.worker_kubeadm_config
            .as_ref()
            .and_then(|m| m.get(group))
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// The provider objects a generator is built with, as EKS-A's template builders take them: the
/// datacenter config, and the machine configs of the control plane, of external etcd and of the
/// worker groups (keyed by machine config name, i.e. the groups' `machineGroupRef.name`).
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderObjects {
    /// The datacenter config.
    pub datacenter: Object,
    /// The control-plane machine config, if any.
    pub control_plane_machine: Option<Object>,
    /// The external-etcd machine config, if any.
    pub etcd_machine: Option<Object>,
    /// Machine config name → machine config, for worker groups.
    pub worker_machines: BTreeMap<String, Object>,
    /// TinkerbellTemplateConfig name → template config (the workflows machine configs name in
    /// `templateRef`).
    pub tinkerbell_templates: BTreeMap<String, Object>,
    /// The OIDCConfig named by `identityProviderRefs`, if any.
    pub oidc: Option<anywhere_api::OIDCConfig>,
    /// The AWSIamConfig named by `identityProviderRefs`, if any.
    pub aws_iam: Option<anywhere_api::AWSIamConfig>,
    /// SnowIPPool name → its spec (the static address ranges Snow machine configs refer to).
    pub snow_ip_pools: BTreeMap<String, anywhere_api::SnowIPPoolSpec>,
}

impl ProviderObjects {
    /// Resolves the Cluster's references in a spec file.
    pub fn from_config_set(set: &ConfigSet) -> Result<ProviderObjects> {
        let spec = set.cluster.spec.clone().unwrap_or_default();
        let find = |r: Option<&anywhere_api::Ref>| -> Option<Object> {
            let r = r?;
            set.find(r.kind.as_deref().unwrap_or(""), r.name.as_deref().unwrap_or(""))
                .cloned()
        };
        let datacenter = find(spec.datacenter_ref.as_ref())
            .ok_or_else(|| Error::Missing("the datacenter config named by spec.datacenterRef".into()))?;
        let control_plane_machine = find(
            spec.control_plane_configuration
                .as_ref()
                .and_then(|c| c.machine_group_ref.as_ref()),
        );
        let etcd_machine = find(
            spec.external_etcd_configuration
                .as_ref()
                .and_then(|c| c.machine_group_ref.as_ref()),
        );
        let mut worker_machines = BTreeMap::new();
        for w in spec.worker_node_group_configurations.iter().flatten() {
            if let (Some(r), Some(o)) = (w.machine_group_ref.as_ref(), find(w.machine_group_ref.as_ref())) {
                worker_machines.insert(r.name.clone().unwrap_or_default(), o);
            }
        }
        let tinkerbell_templates = set
            .objects
            .iter()
            .filter(|(o, _)| o.kind() == "TinkerbellTemplateConfig")
            .map(|(o, _)| (o.name().to_string(), o.clone()))
            .collect();
        let identity = |kind: &str| {
            spec.identity_provider_refs
                .iter()
                .flatten()
                .find(|r| r.kind.as_deref() == Some(kind))
                .and_then(|r| set.find(kind, r.name.as_deref().unwrap_or("")))
        };
        let oidc = match identity("OIDCConfig") {
            Some(Object::OIDCConfig(o)) => Some(o.clone()),
            _ => None,
        };
        let aws_iam = match identity("AWSIamConfig") {
            Some(Object::AWSIamConfig(o)) => Some(o.clone()),
            _ => None,
        };
        let snow_ip_pools = set
            .objects
            .iter()
            .filter_map(|(o, _)| match o {
                Object::SnowIPPool(p) => Some((o.name().to_string(), p.spec.clone().unwrap_or_default())),
                _ => None,
            })
            .collect();
        Ok(ProviderObjects {
            datacenter,
            control_plane_machine,
            etcd_machine,
            worker_machines,
            tinkerbell_templates,
            oidc,
            aws_iam,
            snow_ip_pools,
        })
    }
}

/// Everything a generator needs. Built by the caller; the generators only read it.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// The defaulted, validated Cluster.
    pub cluster: &'a Cluster,
    /// The provider objects the generator is built with.
    pub provider: &'a ProviderObjects,
    /// The release catalog: versions bundles and EKS Distro releases by Kubernetes version.
    pub catalog: &'a Catalog,
    /// Credentials to embed.
    pub credentials: &'a Credentials,
    /// Feature switches.
    pub features: Features,
    /// Template names.
    pub names: &'a TemplateNames,
    /// The `anywhere.eks.amazonaws.com/tinkerbell-bootstrap-ip` of the admin machine, for
    /// Tinkerbell's metadata URLs (EKS-A: the `tinkerbell-bootstrap-ip` flag or annotation).
    pub tinkerbell_bootstrap_ip: Option<&'a str>,
}

impl Inputs<'_> {
    /// The Cluster's spec (a default one if absent).
    pub fn spec(&self) -> std::borrow::Cow<'_, anywhere_api::ClusterSpec> {
        match &self.cluster.spec {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(Default::default()),
        }
    }

    /// The cluster's name.
    pub fn cluster_name(&self) -> &str {
        anywhere_api::meta::Resource::name(self.cluster)
    }

    /// The Kubernetes version of the control plane.
    pub fn kubernetes_version(&self) -> Result<KubeVersion> {
        let v = self
            .cluster
            .spec
            .as_ref()
            .and_then(|s| s.kubernetes_version.as_deref())
            .unwrap_or("");
        parse_version(v)
    }

    /// The versions bundle of a Kubernetes version.
    pub fn bundle(&self, version: KubeVersion) -> Result<&VersionsBundle> {
        self.catalog
            .versions_bundle(version)
            .map_err(|source| Error::Catalog {
                version: version.to_string(),
                source: Box::new(source),
            })
    }

    /// The KubeDistro (EKS Distro images and etcd facts) of a Kubernetes version.
    pub fn kube_distro(&self, version: KubeVersion) -> Result<KubeDistro> {
        self.catalog
            .kube_distro(version)
            .map_err(|source| Error::Catalog {
                version: version.to_string(),
                source: Box::new(source),
            })
    }
}

/// Parses a `1.NN` Kubernetes version.
pub fn parse_version(v: &str) -> Result<KubeVersion> {
    v.parse::<KubeVersion>().map_err(|e| Error::Invalid {
        what: format!("kubernetesVersion {v:?}"),
        why: e.to_string(),
    })
}

/// Cluster-level and control-plane objects: the CAPI `Cluster`, the provider cluster, the
/// control-plane machine template, the `KubeadmControlPlane`, external etcd when configured, and
/// the provider's secrets, ConfigMaps and ClusterResourceSets.
pub fn control_plane(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    match inputs.provider.datacenter.kind() {
        "VSphereDatacenterConfig" => providers::vsphere::control_plane(inputs),
        "TinkerbellDatacenterConfig" => providers::tinkerbell::control_plane(inputs),
        "NutanixDatacenterConfig" => providers::nutanix::control_plane(inputs),
        "CloudStackDatacenterConfig" => providers::cloudstack::control_plane(inputs),
        "DockerDatacenterConfig" => providers::docker::control_plane(inputs),
        "SnowDatacenterConfig" => providers::snow::control_plane(inputs),
        other => Err(Error::UnsupportedProvider(other.to_string())),
    }
}

/// Per worker group, in spec order: `KubeadmConfigTemplate`, `MachineDeployment` and the
/// provider machine template.
pub fn workers(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    match inputs.provider.datacenter.kind() {
        "VSphereDatacenterConfig" => providers::vsphere::workers(inputs),
        "TinkerbellDatacenterConfig" => providers::tinkerbell::workers(inputs),
        "NutanixDatacenterConfig" => providers::nutanix::workers(inputs),
        "CloudStackDatacenterConfig" => providers::cloudstack::workers(inputs),
        "DockerDatacenterConfig" => providers::docker::workers(inputs),
        "SnowDatacenterConfig" => providers::snow::workers(inputs),
        other => Err(Error::UnsupportedProvider(other.to_string())),
    }
}

/// The complete object set for a cluster: control plane, then workers, then the
/// MachineHealthChecks (EKS Anywhere applies those separately from the provider templates, which
/// is why `control_plane` and `workers` do not return them).
pub fn cluster(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let mut out = control_plane(inputs)?;
    out.extend(workers(inputs)?);
    let mut defaults = common::machine_health_check::HealthCheckDefaults::default();
    if inputs.provider.datacenter.kind() == "TinkerbellDatacenterConfig" {
        // Bare-metal machines take longer to come up (PXE, image streaming, reboot).
        defaults.node_startup_timeout = "20m".into();
    }
    out.extend(common::machine_health_check::machine_health_checks(
        inputs.cluster_name(),
        &inputs.spec(),
        &defaults,
    ));
    Ok(out)
}

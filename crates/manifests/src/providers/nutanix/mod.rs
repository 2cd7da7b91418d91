//! The Nutanix provider: CAPX (`NutanixCluster`, `NutanixMachineTemplate`), kubeadm control
//! plane and workers with kube-vip, the Nutanix cloud controller manager installed by a
//! ClusterResourceSet, and the Prism Central credential Secrets.
//!
//! The generator is built, as in EKS Anywhere, from the datacenter and machine configs in
//! [`crate::ProviderObjects`]; everything else (names, network, versions) comes from the Cluster.

mod ccm;
mod deployment;
mod failure_domain;
mod kubeadm;
mod machine;

use anywhere_api::{NutanixDatacenterConfigSpec, NutanixMachineConfigSpec, Object};

use crate::common::etcd as etcd_common;
use crate::common::proxy as proxy_common;
use crate::common::registry_mirror as mirror_common;
use crate::common::workers::{self as workers_common, MachineDeploymentOptions};
use crate::common::{cluster as cluster_common, kube_minor, names, system_meta, users};
use crate::types::controlplane_v1beta2::KubeadmConfigSpecUser;
use crate::types::core::ConfigMap;
use crate::types::nutanix_v1beta1 as capx;
use crate::{Error, Inputs, Manifest, Result, SYSTEM_NAMESPACE};

use ccm::PrismCredentials;
use machine::Placement;

/// The kind of every Nutanix machine template.
const MACHINE_TEMPLATE_KIND: &str = "NutanixMachineTemplate";
/// The API version of CAPX kinds.
const CAPX_API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta1";
/// The Secret name EKS Anywhere's controller reads when the datacenter names none.
const DEFAULT_EKSA_SECRET_NAME: &str = "nutanix-credentials";

/// Cluster-level and control-plane objects: `NutanixCluster`, [trust bundle ConfigMap], CAPI
/// `Cluster`, `KubeadmControlPlane`, the control-plane `NutanixMachineTemplate`, [external etcd
/// `EtcdadmCluster` and its template], [`registry-credentials` Secret], and the CCM ConfigMap,
/// ClusterResourceSet and Secret.
///
/// # Errors
/// [`Error::Missing`] when the datacenter or control-plane machine config is absent or not a
/// Nutanix one, when a machine config has no user with an SSH key, or when an authenticated
/// registry mirror has no credentials; [`Error::Catalog`] when the release data lacks the
/// cluster's Kubernetes version; [`Error::Invalid`] for unusable `ccmExcludeNodeIPs`.
pub fn control_plane(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let spec = inputs.spec();
    let name = inputs.cluster_name();
    let version = inputs.kubernetes_version()?;
    let bundle = inputs.bundle(version)?;
    let distro = inputs.kube_distro(version)?;
    let minor = kube_minor(&distro.kubernetes.tag).unwrap_or(version.minor());
    let dc = datacenter(inputs)?;
    let cp_machine = machine_config(
        inputs.provider.control_plane_machine.as_ref(),
        "the control-plane NutanixMachineConfig",
    )?;
    let endpoint = proxy_common::endpoint_host(&spec);
    let mirror = mirror_common::registry_mirror(&spec, inputs.credentials)?;
    let proxy = proxy_common::proxy(
        &spec,
        &[dc.endpoint.clone().unwrap_or_default(), endpoint.clone()],
    );
    let nutanix_images = bundle.nutanix.clone().unwrap_or_default();
    let kube_vip_image = nutanix_images.kube_vip.and_then(|i| i.uri).unwrap_or_default();
    let ccm_image = nutanix_images
        .cloud_provider
        .and_then(|i| i.uri)
        .unwrap_or_default();
    let trust_bundle = dc.additional_trust_bundle.clone().filter(|t| !t.is_empty());

    let mut out = vec![Manifest::new(&nutanix_cluster(name, &dc, &endpoint))];
    if let Some(bundle) = &trust_bundle {
        let mut cm = ConfigMap::new(&format!("{name}-trust-bundle"), SYSTEM_NAMESPACE);
        cm.data = Some([("ca.crt".to_string(), block(bundle))].into());
        out.push(Manifest::new(&cm));
    }
    out.push(cluster_common::capi_cluster(
        &spec,
        &cluster_common::ClusterOptions {
            name,
            infrastructure_kind: "NutanixCluster",
            labels: cluster_common::ClusterLabels::ClusterName,
            service_domain: Some("cluster.local"),
            control_plane_endpoint: None,
            external_etcd: spec.external_etcd_configuration.is_some(),
        },
    ));
    let kcp = kubeadm::KcpInputs {
        spec: &spec,
        name,
        distro: &distro,
        minor,
        machine: &cp_machine,
        endpoint: &endpoint,
        kube_vip_image: &kube_vip_image,
        mirror: mirror.as_ref(),
        proxy: proxy.as_ref(),
        template_name: inputs.names.control_plane(),
        oidc: inputs.provider.oidc.as_ref(),
    };
    out.push(Manifest::new(&kubeadm::kubeadm_control_plane(&kcp)?));
    out.push(machine::manifest(&machine::machine_template(
        inputs.names.control_plane(),
        name,
        &cp_machine,
        Placement::MachineConfig,
    )));
    if let Some(replicas) = etcd_common::external_etcd_replicas(&spec) {
        let etcd_machine = machine_config(
            inputs.provider.etcd_machine.as_ref(),
            "the external-etcd NutanixMachineConfig",
        )?;
        out.push(kubeadm::etcdadm_cluster(
            &spec,
            name,
            replicas,
            &distro,
            &etcd_machine,
            inputs.names.etcd(),
            proxy.as_ref(),
            mirror.as_ref(),
        )?);
        out.push(machine::manifest(&machine::machine_template(
            inputs.names.etcd(),
            name,
            &etcd_machine,
            Placement::MachineConfig,
        )));
    }
    if let Some(secret) = mirror.as_ref().and_then(mirror_common::credentials_secret) {
        out.push(secret);
    }
    out.push(ccm::ccm_config_map(
        &dc,
        &ccm::CcmOptions {
            cluster: name,
            endpoint_host: &endpoint,
            image: &ccm_image,
        },
    )?);
    out.push(ccm::ccm_resource_set(name, trust_bundle.is_some()));
    out.push(ccm::ccm_secret(name, &prism_credentials(inputs)));
    Ok(out)
}

/// Per worker group, in spec order: a `MachineDeployment` and `NutanixMachineTemplate` (one
/// pair per failure domain listing the group in `workerMachineGroups`, named
/// `<cluster>-<group>-<fd>` and `<template>-<fd>`), then the group's `KubeadmConfigTemplate`.
///
/// # Errors
/// [`Error::Missing`] when the datacenter or a group's machine config is absent, when a
/// machine config has no user with an SSH key, or when an authenticated registry mirror has no
/// credentials; [`Error::Catalog`] when the release data lacks a group's Kubernetes version.
pub fn workers(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let spec = inputs.spec();
    let name = inputs.cluster_name();
    let dc = datacenter(inputs)?;
    let endpoint = proxy_common::endpoint_host(&spec);
    let mirror = mirror_common::registry_mirror(&spec, inputs.credentials)?;
    let proxy = proxy_common::proxy(
        &spec,
        &[dc.endpoint.clone().unwrap_or_default(), endpoint.clone()],
    );
    let mut out = Vec::new();
    for group in spec.worker_node_group_configurations.iter().flatten() {
        let group_name = workers_common::group_name(group);
        let version = workers_common::kubernetes_version(inputs, group)?;
        let distro = inputs.kube_distro(version)?;
        let machine_name = workers_common::machine_config_name(group);
        let machine = machine_config(
            inputs.provider.worker_machines.get(machine_name),
            &format!("the NutanixMachineConfig {machine_name:?} of worker group {group_name:?}"),
        )?;
        let template_name = inputs.names.worker_machine(group_name);
        let config_name = inputs.names.worker_kubeadm_config(group_name);
        let deployment = |template: &str, failure_domain: Option<&str>| {
            workers_common::machine_deployment(&MachineDeploymentOptions {
                cluster_name: name,
                group,
                version: &distro.kubernetes.tag,
                machine_template_kind: MACHINE_TEMPLATE_KIND,
                machine_template_name: template,
                config_template_name: config_name,
                failure_domain,
            })
        };
        let domains = failure_domain::worker_failure_domains(&dc, group_name);
        if domains.is_empty() {
            out.push(Manifest::new(&deployment(template_name, None)));
            let template = machine::machine_template(template_name, name, &machine, Placement::MachineConfig);
            out.push(machine::manifest(&machine::with_gpus(template, &machine)));
        } else {
            let replicas = failure_domain::failure_domain_replicas(group, domains.len());
            for (fd, count) in domains.iter().zip(replicas) {
                let fd_name = fd.name.as_deref().unwrap_or("");
                let fd_template = format!("{template_name}-{fd_name}");
                let mut md = deployment(&fd_template, Some(fd_name));
                if let Some(meta) = md.metadata.as_mut() {
                    meta.name = Some(format!(
                        "{}-{fd_name}",
                        names::machine_deployment_name(name, group_name)
                    ));
                }
                if let Some(spec) = md.spec.as_mut() {
                    spec.replicas = count;
                }
                out.push(Manifest::new(&md));
                out.push(machine::manifest(&machine::machine_template(
                    &fd_template,
                    name,
                    &machine,
                    Placement::FailureDomain(fd),
                )));
            }
        }
        out.push(Manifest::new(&kubeadm::kubeadm_config_template(
            &spec,
            group,
            &machine,
            config_name,
            mirror.as_ref(),
            proxy.as_ref(),
        )?));
    }
    Ok(out)
}

/// The CAPX credential Secret `capx-<cluster>` and the CCM credential Secret (entry point
/// `nutanix-capx-secret`).
///
/// # Errors
/// None today; the `Result` keeps the generator signatures uniform.
pub fn capx_secret(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let name = inputs.cluster_name();
    let creds = prism_credentials(inputs);
    Ok(vec![
        ccm::credentials_secret(&format!("capx-{name}"), &creds),
        ccm::ccm_secret(name, &creds),
    ])
}

/// The EKS Anywhere controller's credential Secret (the datacenter's `credentialRef.name`, else
/// `nutanix-credentials`) and the CCM credential Secret (entry point `nutanix-eksa-secret`).
///
/// # Errors
/// [`Error::Missing`] when the datacenter config is absent or not a Nutanix one.
pub fn eksa_secret(inputs: &Inputs<'_>) -> Result<Vec<Manifest>> {
    let dc = datacenter(inputs)?;
    let secret_name = match &dc.credential_ref {
        Some(r) => r.name.clone().unwrap_or_default(),
        None => DEFAULT_EKSA_SECRET_NAME.to_string(),
    };
    let creds = prism_credentials(inputs);
    Ok(vec![
        ccm::credentials_secret(&secret_name, &creds),
        ccm::ccm_secret(inputs.cluster_name(), &creds),
    ])
}

fn prism_credentials(inputs: &Inputs<'_>) -> PrismCredentials {
    PrismCredentials {
        username: inputs.credentials.nutanix_username.clone().unwrap_or_default(),
        password: inputs.credentials.nutanix_password.clone().unwrap_or_default(),
    }
}

fn datacenter(inputs: &Inputs<'_>) -> Result<NutanixDatacenterConfigSpec> {
    match &inputs.provider.datacenter {
        Object::NutanixDatacenterConfig(dc) => Ok(dc.spec.clone().unwrap_or_default()),
        other => Err(Error::Missing(format!(
            "a NutanixDatacenterConfig (got {})",
            other.kind()
        ))),
    }
}

fn machine_config(object: Option<&Object>, what: &str) -> Result<NutanixMachineConfigSpec> {
    match object {
        Some(Object::NutanixMachineConfig(m)) => Ok(m.spec.clone().unwrap_or_default()),
        _ => Err(Error::Missing(what.to_string())),
    }
}

/// The first user's name and first SSH key, which every Nutanix template requires.
pub(super) fn first_user(machine: &NutanixMachineConfigSpec) -> Result<(String, String)> {
    let user = machine.users.as_ref().and_then(|u| u.first());
    let key = user
        .and_then(|u| u.ssh_authorized_keys.as_ref())
        .and_then(|k| k.first());
    match (user, key) {
        (Some(u), Some(k)) => Ok((u.name.clone().unwrap_or_default(), k.clone())),
        _ => Err(Error::Missing(
            "users[0].sshAuthorizedKeys[0] of a NutanixMachineConfig".into(),
        )),
    }
}

/// A Nutanix kubeadm user: the common user with `lockPassword: false`.
pub(super) fn kubeadm_user(machine: &NutanixMachineConfigSpec) -> Result<KubeadmConfigSpecUser> {
    let (name, key) = first_user(machine)?;
    Ok(KubeadmConfigSpecUser {
        lock_password: Some(false),
        ..users::kubeadm_user(&name, &key)
    })
}

/// Text as a block scalar's value: ends in exactly one newline.
fn block(text: &str) -> String {
    let mut s = text.trim_end_matches('\n').to_string();
    s.push('\n');
    s
}

fn nutanix_cluster(name: &str, dc: &NutanixDatacenterConfigSpec, endpoint: &str) -> capx::NutanixCluster {
    let failure_domains = dc
        .failure_domains
        .iter()
        .flatten()
        .map(|fd| capx::FailureDomain {
            name: Some(fd.name.clone().unwrap_or_default()),
            cluster: fd.cluster.as_ref().and_then(machine::identifier),
            subnets: Some(
                fd.subnets
                    .iter()
                    .flatten()
                    .filter_map(machine::identifier)
                    .collect(),
            ),
            control_plane: Some(true),
        })
        .collect();
    capx::NutanixCluster {
        api_version: Some(CAPX_API_VERSION.into()),
        kind: Some("NutanixCluster".into()),
        metadata: Some(system_meta(name)),
        spec: Some(capx::NutanixClusterSpec {
            failure_domains: Some(failure_domains),
            prism_central: Some(capx::PrismCentral {
                additional_trust_bundle: dc.additional_trust_bundle.as_ref().filter(|t| !t.is_empty()).map(
                    |_| capx::AdditionalTrustBundle {
                        kind: Some("ConfigMap".into()),
                        name: Some(format!("{name}-trust-bundle")),
                        namespace: Some(SYSTEM_NAMESPACE.into()),
                        data: None,
                    },
                ),
                address: Some(dc.endpoint.clone().unwrap_or_default()),
                port: Some(dc.port.unwrap_or(0)),
                insecure: Some(dc.insecure.unwrap_or(false)),
                credential_ref: Some(capx::CredentialRef {
                    name: Some(format!("capx-{name}")),
                    kind: Some("Secret".into()),
                    namespace: None,
                }),
            }),
            control_plane_endpoint: Some(capx::ControlPlaneEndpoint {
                host: Some(endpoint.to_string()),
                port: Some(6443),
            }),
            control_plane_failure_domains: None,
        }),
        status: None,
    }
}

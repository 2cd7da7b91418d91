//! Machines: creation with their bootstrap config and infrastructure machine, and the
//! lifecycle Pending -> Provisioning -> Provisioned -> Running -> Deleting -> gone, including
//! the Node (and static pods) in the workload cluster.

use std::sync::Arc;
use std::time::Duration;

use anywhere_apiserver::{Gvr, Target};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::{MachineRole, Step, def, machine_role, resolve_ref};
use crate::clock::{fnv, from_millis, to_millis};
use crate::ctx::Ctx;
use crate::faults::MachineFaults;
use crate::kinds::{self, provider_id_scheme};
use crate::object::{
    CLONED_FROM_GROUPKIND, CLONED_FROM_NAME, CLUSTER_NAME_LABEL, Conditions, DRAIN_STARTED, INFRA_READY_AT,
    MACHINE_FINALIZER, PROVISION_STARTED, annotation, annotation_ms, has_finalizer, is_deleting, is_true,
    label, meta_str, name, owner_ref, ref_group, to_alphabet,
};

/// What a new Machine is built from.
pub(crate) struct MachineSpec<'a> {
    /// The controlling owner (KubeadmControlPlane, MachineSet, EtcdadmCluster).
    pub owner: &'a Value,
    /// Labels of the Machine (role labels included).
    pub labels: Map<String, Value>,
    /// Annotations of the Machine.
    pub annotations: Map<String, Value>,
    /// `spec.version` (none for etcd machines).
    pub version: Option<String>,
    /// Reference to the infrastructure machine template.
    pub infra_template: Value,
    /// The bootstrap config to create: kind and spec.
    pub bootstrap_kind: &'static str,
    /// Spec of the bootstrap config.
    pub bootstrap_spec: Value,
}

/// A fresh machine name `<owner>-<5 chars>`.
pub(crate) fn new_machine_name(ctx: &Ctx<'_>, owner: &Value, count: usize) -> String {
    let seed = format!(
        "{}/{}/{}/{}",
        meta_str(owner, "uid"),
        count,
        to_millis(ctx.now),
        ctx.mgmt.resource_version()
    );
    format!("{}-{}", name(owner), to_alphabet(fnv(seed.as_bytes()), 5))
}

/// Creates a Machine, then its bootstrap config and infrastructure machine (owned by it).
pub(crate) fn create_machine(
    ctx: &mut Ctx<'_>,
    cluster: &Value,
    machine_name: &str,
    spec: MachineSpec<'_>,
) -> Step {
    let ns = ctx.key.namespace.clone();
    let template = resolve_ref(ctx, &spec.infra_template);
    let Some(template) = template else {
        // The template is not applied yet: wait for its watch event.
        ctx.due_in(Duration::from_millis(200));
        return Ok(());
    };
    let tkind = template["kind"].as_str().unwrap_or_default();
    let Some(mdef) = kinds::machine_kind_of_template(tkind) else {
        return Err(crate::Error::UnknownKind {
            kind: tkind.to_string(),
        });
    };
    let bdef = def(spec.bootstrap_kind);
    let mut labels = spec.labels.clone();
    labels.insert(CLUSTER_NAME_LABEL.into(), json!(ctx.key.name));
    let mut mspec = json!({
        "clusterName": ctx.key.name,
        "bootstrap": {"configRef": {"apiGroup": bdef.group, "kind": bdef.kind, "name": machine_name}},
        "infrastructureRef": {"apiGroup": mdef.group, "kind": mdef.kind, "name": machine_name},
    });
    if let Some(v) = &spec.version {
        mspec["version"] = json!(v);
    }
    let machine = json!({
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Machine",
        "metadata": {
            "name": machine_name,
            "namespace": ns,
            "labels": labels,
            "annotations": spec.annotations,
            "finalizers": [MACHINE_FINALIZER],
            "ownerReferences": [owner_ref(spec.owner, true)],
        },
        "spec": mspec,
    });
    let machine = ctx.create(def("Machine"), machine)?;
    let _ = cluster;
    let mut child_labels = spec.labels;
    child_labels.insert(CLUSTER_NAME_LABEL.into(), json!(ctx.key.name));
    let infra = json!({
        "apiVersion": format!("{}/{}", mdef.group, mdef.storage),
        "kind": mdef.kind,
        "metadata": {
            "name": machine_name,
            "namespace": ns,
            "labels": child_labels,
            "annotations": {
                CLONED_FROM_NAME: name(&template),
                CLONED_FROM_GROUPKIND: format!("{}.{}", tkind, ref_group(&spec.infra_template).unwrap_or(mdef.group)),
            },
            "ownerReferences": [owner_ref(&machine, true)],
        },
        "spec": template["spec"]["template"]["spec"].clone(),
    });
    ctx.create(mdef, infra)?;
    let boot = json!({
        "apiVersion": format!("{}/{}", bdef.group, bdef.storage),
        "kind": bdef.kind,
        "metadata": {
            "name": machine_name,
            "namespace": ns,
            "labels": child_labels,
            "ownerReferences": [owner_ref(&machine, true)],
        },
        "spec": spec.bootstrap_spec,
    });
    ctx.create(bdef, boot)?;
    Ok(())
}

/// Facts about the cluster a machine lifecycle step needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gates {
    pub infrastructure_provisioned: bool,
    pub control_plane_initialized: bool,
}

/// Advances one Machine.
pub(crate) fn reconcile_machine(ctx: &mut Ctx<'_>, m: &Arc<Value>, gates: Gates) -> Step {
    if super::is_paused(m) {
        return Ok(());
    }
    let role = machine_role(m);
    let infra = resolve_ref(ctx, &m["spec"]["infrastructureRef"]);
    let boot = resolve_ref(ctx, &m["spec"]["bootstrap"]["configRef"]);
    let owners: Vec<Arc<Value>> = owner_chain(ctx, m);
    let mut annotated: Vec<&Value> = vec![m.as_ref()];
    annotated.extend(infra.iter().map(AsRef::as_ref));
    annotated.extend(owners.iter().map(AsRef::as_ref));
    let faults = ctx.faults.machine(name(m), &annotated);
    if is_deleting(m) {
        return delete_machine(ctx, m, infra.as_deref(), boot.as_deref(), &faults);
    }
    let (Some(infra), Some(boot)) = (infra, boot) else {
        // A crash between creating the Machine and its children (they are created in the
        // same reconcile, and the cache is written through): the owner replaces it.
        tracing::debug!(
            machine = name(m),
            "machine without bootstrap config or infrastructure; deleting"
        );
        return ctx.delete(def("Machine"), &ctx.key.namespace.clone(), name(m));
    };
    // 1. Bootstrap data.
    let boot_ready = boot["status"]["initialization"]["dataSecretCreated"] == true;
    if !boot_ready {
        let waiting = if !gates.infrastructure_provisioned {
            Some("WaitingForClusterInfrastructure")
        } else if role == MachineRole::Worker && !gates.control_plane_initialized {
            Some("WaitingForControlPlaneInitialized")
        } else {
            None
        };
        if let Some(reason) = waiting {
            let st = machine_status(
                ctx,
                m,
                Phase::Pending,
                &Facts {
                    waiting: Some(reason),
                    ..Facts::default()
                },
            );
            ctx.patch_status(def("Machine"), m, st)?;
            return Ok(());
        }
        write_bootstrap_data(ctx, &boot)?;
    }
    let m = if m["spec"]["bootstrap"]["dataSecretName"].is_null() {
        ctx.patch(
            def("Machine"),
            m,
            json!({"spec": {"bootstrap": {"dataSecretName": name(m)}}}),
        )?
    } else {
        m.clone()
    };
    // 2. Infrastructure.
    let idef = kinds::by_kind(infra["kind"].as_str().unwrap_or_default()).unwrap_or(def("DockerMachine"));
    let infra_ready = infra["status"]["initialization"]["provisioned"] == true;
    let ready_at = if infra_ready {
        annotation_ms(&infra, INFRA_READY_AT)
            .map(from_millis)
            .unwrap_or(ctx.now)
    } else {
        let started = match annotation_ms(&infra, PROVISION_STARTED) {
            Some(ms) => from_millis(ms),
            None => {
                let now = to_millis(ctx.now);
                ctx.patch(
                    idef,
                    &infra,
                    json!({"metadata": {"annotations": {PROVISION_STARTED: now.to_string()}}}),
                )?;
                from_millis(now)
            }
        };
        if let Some(reason) = &faults.provisioning_failure {
            let st = infra_status(ctx, &infra, InfraState::Failed(reason));
            ctx.patch_status(idef, &infra, st)?;
            let st = machine_status(
                ctx,
                &m,
                Phase::Failed,
                &Facts {
                    boot: true,
                    failure: Some(reason),
                    ..Facts::default()
                },
            );
            ctx.patch_status(def("Machine"), &m, st)?;
            return Ok(());
        }
        let state = if faults.bmc_unreachable {
            Some(InfraState::BmcUnreachable)
        } else if faults.never_boots {
            Some(InfraState::Provisioning)
        } else {
            None
        };
        let due = started
            + ctx
                .timings()
                .scaled(ctx.timings().vm, name(&m))
                .mul_f64(faults.slow);
        let stuck = state.is_some();
        if stuck || ctx.now < due {
            let st = infra_status(ctx, &infra, state.unwrap_or(InfraState::Provisioning));
            ctx.patch_status(idef, &infra, st)?;
            let st = machine_status(
                ctx,
                &m,
                Phase::Provisioning,
                &Facts {
                    boot: true,
                    ..Facts::default()
                },
            );
            ctx.patch_status(def("Machine"), &m, st)?;
            if !stuck {
                ctx.due_at(due);
            }
            return Ok(());
        }
        // Provisioned: providerID on the infrastructure machine and the Machine.
        let pid = provider_id(&infra, &ctx.key.namespace);
        let infra = ctx.patch(
            idef,
            &infra,
            json!({"metadata": {"annotations": {INFRA_READY_AT: to_millis(due).to_string()}}, "spec": {"providerID": pid}}),
        )?;
        let st = infra_status(ctx, &infra, InfraState::Ready);
        ctx.patch_status(idef, &infra, st)?;
        due
    };
    let pid = provider_id(&infra, &ctx.key.namespace);
    let m = if m["spec"]["providerID"] != pid.as_str() {
        ctx.patch(def("Machine"), &m, json!({"spec": {"providerID": pid}}))?
    } else {
        m
    };
    // 3. Node (control plane: plus etcd and API server).
    let mut node_delay = ctx
        .timings()
        .scaled(ctx.timings().node, &format!("{}/node", name(&m)));
    if role != MachineRole::Worker {
        node_delay += ctx.timings().scaled(
            ctx.timings().control_plane_components,
            &format!("{}/cp", name(&m)),
        );
    }
    let node_due = ready_at + node_delay.mul_f64(faults.slow);
    if ctx.now < node_due {
        let st = machine_status(
            ctx,
            &m,
            Phase::Provisioned,
            &Facts {
                boot: true,
                infra: true,
                ..Facts::default()
            },
        );
        ctx.patch_status(def("Machine"), &m, st)?;
        ctx.due_at(node_due);
        return Ok(());
    }
    if role == MachineRole::Etcd {
        let st = machine_status(
            ctx,
            &m,
            Phase::Running,
            &Facts {
                boot: true,
                infra: true,
                etcd: true,
                ..Facts::default()
            },
        );
        ctx.patch_status(def("Machine"), &m, st)?;
        return Ok(());
    }
    let node_ready = !faults.node_not_ready;
    if m["status"]["nodeRef"]["name"].is_null()
        || is_true(&m["status"]["conditions"], "NodeHealthy") != node_ready
    {
        ensure_node(ctx, &m, &infra, role, node_ready)?;
    }
    let st = machine_status(
        ctx,
        &m,
        Phase::Running,
        &Facts {
            boot: true,
            infra: true,
            node: Some(node_ready),
            ..Facts::default()
        },
    );
    ctx.patch_status(def("Machine"), &m, st)?;
    Ok(())
}

/// The Machine's owners up to the Cluster (for annotation faults).
fn owner_chain(ctx: &Ctx<'_>, m: &Arc<Value>) -> Vec<Arc<Value>> {
    let mut out = Vec::new();
    let mut cur = m.clone();
    for _ in 0..3 {
        let next = cur["metadata"]["ownerReferences"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["controller"] == true))
            .and_then(|r| resolve_ref(ctx, r));
        let Some(o) = next else { break };
        out.push(o.clone());
        cur = o;
    }
    if let Some(c) = ctx.cache.get("Cluster", &ctx.key.namespace, &ctx.key.name) {
        out.push(c);
    }
    out
}

fn provider_id(infra: &Value, namespace: &str) -> String {
    let kind = infra["kind"].as_str().unwrap_or_default();
    let n = name(infra);
    match provider_id_scheme(kind) {
        "docker" => format!("docker:////{n}"),
        "tinkerbell" => format!("tinkerbell://{namespace}/{n}"),
        "vsphere" => format!("vsphere://{}", uuid_of(n)),
        "nutanix" => format!("nutanix://{}", uuid_of(n)),
        "cloudstack" => format!("cloudstack:///{}", uuid_of(n)),
        "aws-snow" => format!("aws-snow:///{namespace}/{n}"),
        s => format!("{s}://{n}"),
    }
}

fn uuid_of(seed: &str) -> String {
    let a = fnv(seed.as_bytes());
    let b = fnv(format!("{seed}/2").as_bytes());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// A stable private address per machine.
pub(crate) fn address_of(machine: &str) -> String {
    let h = fnv(machine.as_bytes());
    format!("10.{}.{}.{}", (h >> 16) & 0xff, (h >> 8) & 0xff, (h & 0xfd) + 2)
}

fn write_bootstrap_data(ctx: &mut Ctx<'_>, boot: &Value) -> Step {
    let n = name(boot);
    let kind = boot["kind"].as_str().unwrap_or("KubeadmConfig");
    let format = "cloud-config";
    let data = format!("## template: jinja\n#cloud-config\n# simulated bootstrap data of {kind} {n}\n");
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": n,
            "namespace": ctx.key.namespace,
            "labels": {CLUSTER_NAME_LABEL: ctx.key.name},
            "ownerReferences": [owner_ref(boot, true)],
        },
        "type": "cluster.x-k8s.io/secret",
        "data": {"value": b64.encode(data), "format": b64.encode(format)},
    });
    ctx.create_core("secrets", secret)?;
    let bdef = kinds::by_kind(kind).unwrap_or(def("KubeadmConfig"));
    let generation = crate::object::generation(boot);
    let mut c = Conditions::new(&boot["status"]["conditions"], &ctx.now_str, generation);
    c.set("Ready", true, "Ready", "")
        .set("DataSecretAvailable", true, "Available", "");
    let mut st = boot.get("status").cloned().unwrap_or_else(|| json!({}));
    st["initialization"] = json!({"dataSecretCreated": true});
    st["dataSecretName"] = json!(n);
    st["ready"] = json!(true);
    st["observedGeneration"] = json!(generation);
    st["conditions"] = c.build();
    ctx.patch_status(bdef, boot, st)?;
    Ok(())
}

enum InfraState<'a> {
    Provisioning,
    BmcUnreachable,
    Failed(&'a str),
    Ready,
}

fn infra_status(ctx: &Ctx<'_>, infra: &Value, state: InfraState<'_>) -> Value {
    let generation = crate::object::generation(infra);
    let old = &infra["status"]["conditions"];
    let mut c = Conditions::new(old, &ctx.now_str, generation);
    let mut st = infra.get("status").cloned().unwrap_or_else(|| json!({}));
    let kind = infra["kind"].as_str().unwrap_or_default();
    let vm_condition = match kind {
        "DockerMachine" => "ContainerProvisioned",
        "TinkerbellMachine" => "MachineProvisioned",
        _ => "VMProvisioned",
    };
    match state {
        InfraState::Provisioning => {
            c.set("Ready", false, "Provisioning", "")
                .set(vm_condition, false, "Provisioning", "");
            st["ready"] = json!(false);
        }
        InfraState::BmcUnreachable => {
            c.set("Ready", false, "BMCUnreachable", "")
                .set(vm_condition, false, "BMCUnreachable", "")
                .set(
                    "BMCReady",
                    false,
                    "BMCUnreachable",
                    "the BMC did not answer (simulated fault)",
                );
            st["ready"] = json!(false);
        }
        InfraState::Failed(reason) => {
            c.set("Ready", false, reason, "provisioning failed (simulated fault)")
                .set(vm_condition, false, reason, "");
            st["ready"] = json!(false);
            st["failureReason"] = json!(reason);
            st["failureMessage"] = json!("provisioning failed (simulated fault)");
        }
        InfraState::Ready => {
            c.set("Ready", true, "Ready", "")
                .set(vm_condition, true, "Provisioned", "");
            if kind == "TinkerbellMachine" {
                c.set("BMCReady", true, "Ready", "");
            }
            st["ready"] = json!(true);
            st["initialization"] = json!({"provisioned": true});
            let ip = address_of(name(infra));
            st["addresses"] =
                json!([{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name(infra)}]);
        }
    }
    st["conditions"] = c.build();
    st
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Provisioning,
    Provisioned,
    Running,
    Deleting,
    Failed,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Provisioning => "Provisioning",
            Phase::Provisioned => "Provisioned",
            Phase::Running => "Running",
            Phase::Deleting => "Deleting",
            Phase::Failed => "Failed",
        }
    }
}

#[derive(Debug, Default)]
struct Facts<'a> {
    boot: bool,
    infra: bool,
    /// `Some(ready)` once the Node exists.
    node: Option<bool>,
    etcd: bool,
    waiting: Option<&'a str>,
    failure: Option<&'a str>,
}

fn machine_status(ctx: &Ctx<'_>, m: &Value, phase: Phase, f: &Facts<'_>) -> Value {
    let generation = crate::object::generation(m);
    let old = &m["status"]["conditions"];
    let mut c = Conditions::new(old, &ctx.now_str, generation);
    let waiting = f.waiting.unwrap_or("WaitingForBootstrapData");
    c.set(
        "BootstrapConfigReady",
        f.boot,
        if f.boot { "Ready" } else { waiting },
        "",
    );
    let infra_reason = match (f.infra, f.failure) {
        (true, _) => "Ready",
        (false, Some(r)) => r,
        (false, None) => "NotReady",
    };
    c.set("InfrastructureReady", f.infra, infra_reason, "");
    let node_ok = f.node == Some(true) || f.etcd;
    match f.node {
        Some(r) => {
            c.set("NodeReady", r, if r { "NodeReady" } else { "NodeNotReady" }, "");
            c.either("NodeHealthy", r, "NodeHealthy", "NodeNotHealthy");
        }
        None if f.etcd => {
            c.set("NodeHealthy", true, "NoNodeForEtcdMachine", "");
        }
        None => {
            c.set_status("NodeReady", "Unknown", "NodeDoesNotExist", "");
            c.set_status("NodeHealthy", "Unknown", "NodeDoesNotExist", "");
        }
    }
    let deleting = phase == Phase::Deleting;
    let ready = f.boot && f.infra && node_ok && !deleting;
    c.set("Ready", ready, if ready { "Ready" } else { "NotReady" }, "");
    c.either("Available", ready, "Available", "NotReady");
    c.set("UpToDate", true, "UpToDate", "");
    c.either("Deleting", deleting, "DrainingNode", "NotDeleting");
    c.set("Paused", false, "NotPaused", "");
    let mut st = m.get("status").cloned().unwrap_or_else(|| json!({}));
    st["phase"] = json!(phase.as_str());
    st["observedGeneration"] = json!(generation);
    st["initialization"] =
        json!({"bootstrapDataSecretCreated": f.boot, "infrastructureProvisioned": f.infra});
    st["conditions"] = c.build();
    let v1 = c.build_v1beta1(&st["deprecated"]["v1beta1"]["conditions"]);
    let v1: Vec<Value> = v1
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| {
                    matches!(
                        x["type"].as_str(),
                        Some("Ready" | "InfrastructureReady" | "NodeHealthy")
                    )
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    st["deprecated"]["v1beta1"]["conditions"] = Value::Array(v1);
    if let Some(r) = f.failure {
        st["deprecated"]["v1beta1"]["failureReason"] = json!("CreateError");
        st["deprecated"]["v1beta1"]["failureMessage"] =
            json!(format!("infrastructure provisioning failed: {r}"));
    }
    if f.infra {
        let ip = address_of(name(m));
        st["addresses"] =
            json!([{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name(m)}]);
    }
    if f.node.is_some() {
        st["nodeRef"] = json!({"name": name(m)});
        let v = m["spec"]["version"].as_str().unwrap_or_default();
        st["nodeInfo"] = json!({
            "kubeletVersion": v, "kubeProxyVersion": v, "operatingSystem": "linux", "architecture": "amd64",
            "containerRuntimeVersion": "containerd://1.7.27", "osImage": "simulated",
        });
    }
    st
}

/// Creates (or updates the readiness of) the Node and, for control-plane machines, the
/// static pods and, on the first one, the cluster add-ons.
fn ensure_node(ctx: &mut Ctx<'_>, m: &Value, infra: &Value, role: MachineRole, ready: bool) -> Step {
    let store = ctx.workload()?;
    let n = name(m).to_string();
    let version = m["spec"]["version"].as_str().unwrap_or_default().to_string();
    let owner = m["metadata"]["ownerReferences"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["controller"] == true))
        .cloned();
    let mut labels = json!({
        "kubernetes.io/hostname": n, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
    });
    let mut taints = json!([]);
    if role == MachineRole::ControlPlane {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
        taints = json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]);
    }
    if let Some(tl) = m["metadata"]["labels"].as_object() {
        for (k, v) in tl {
            if k.starts_with("node-role.kubernetes.io/") || k.starts_with("node.cluster.x-k8s.io/") {
                labels[k] = v.clone();
            }
        }
    }
    let ready_s = if ready { "True" } else { "False" };
    let conditions = json!([
        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "lastHeartbeatTime": ctx.now_str, "lastTransitionTime": ctx.now_str},
        {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "lastHeartbeatTime": ctx.now_str, "lastTransitionTime": ctx.now_str},
        {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "lastHeartbeatTime": ctx.now_str, "lastTransitionTime": ctx.now_str},
        {"type": "Ready", "status": ready_s, "reason": if ready { "KubeletReady" } else { "KubeletNotReady" }, "lastHeartbeatTime": ctx.now_str, "lastTransitionTime": ctx.now_str},
    ]);
    let ip = address_of(&n);
    let node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": n,
            "labels": labels,
            "annotations": {
                "cluster.x-k8s.io/cluster-name": ctx.key.name,
                "cluster.x-k8s.io/cluster-namespace": ctx.key.namespace,
                "cluster.x-k8s.io/machine": n,
                "cluster.x-k8s.io/owner-kind": owner.as_ref().map(|o| o["kind"].clone()).unwrap_or(Value::Null),
                "cluster.x-k8s.io/owner-name": owner.as_ref().map(|o| o["name"].clone()).unwrap_or(Value::Null),
            },
        },
        "spec": {"providerID": provider_id(infra, &ctx.key.namespace), "taints": taints},
        "status": {
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": n}],
            "nodeInfo": {
                "kubeletVersion": version, "kubeProxyVersion": version, "operatingSystem": "linux",
                "architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.27", "osImage": "simulated",
                "kernelVersion": "6.1.0", "machineID": "", "systemUUID": "", "bootID": "",
            },
            "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"},
        },
    });
    let existed = store.get(&Target::cluster(Gvr::core("nodes"), &n)).is_ok();
    if existed {
        ctx.w_patch(
            &store,
            Target::cluster(Gvr::core("nodes"), &n).status(),
            json!({"status": {"conditions": node["status"]["conditions"]}}),
        )?;
    } else {
        ctx.w_create(&store, Gvr::core("nodes"), None, node)?;
        ctx.record(format!("Node/{n}"), "node-created", &version);
    }
    if role == MachineRole::ControlPlane {
        if ctx.options.static_pods {
            for component in [
                "etcd",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
            ] {
                ctx.w_create(
                    &store,
                    Gvr::core("pods"),
                    Some("kube-system"),
                    static_pod(ctx, component, &n, &version),
                )?;
            }
        }
        ensure_addons(ctx, &store, &version)?;
    }
    Ok(())
}

fn static_pod(ctx: &Ctx<'_>, component: &str, node: &str, version: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{component}-{node}"),
            "namespace": "kube-system",
            "labels": {"component": component, "tier": "control-plane"},
            "annotations": {"kubernetes.io/config.source": "file"},
        },
        "spec": {"nodeName": node, "containers": [{"name": component, "image": format!("registry.k8s.io/{component}:{version}")}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ctx.now_str}],
            "podIP": address_of(node),
        },
    })
}

/// The kubeadm-config ConfigMap, kube-proxy DaemonSet and CoreDNS objects kubeadm installs
/// with the first control-plane node.
pub(crate) fn ensure_addons(ctx: &mut Ctx<'_>, store: &anywhere_apiserver::Store, version: &str) -> Step {
    let cm = Target::namespaced(Gvr::core("configmaps"), "kube-system", "kubeadm-config");
    if store.get(&cm).is_ok() {
        return Ok(());
    }
    let cluster_config = format!(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nclusterName: {}\nkubernetesVersion: {version}\ncontrolPlaneEndpoint: {}\n",
        ctx.key.name,
        ctx.workloads
            .addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "127.0.0.1:6443".into())
    );
    ctx.w_create(
        store,
        Gvr::core("configmaps"),
        Some("kube-system"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
               "data": {"ClusterConfiguration": cluster_config}}),
    )?;
    ctx.w_create(
        store,
        Gvr::new("apps", "v1", "daemonsets"),
        Some("kube-system"),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
               "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                        "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                                     "spec": {"containers": [{"name": "kube-proxy", "image": format!("registry.k8s.io/kube-proxy:{version}")}]}}}}),
    )?;
    ctx.w_create(
        store,
        Gvr::core("configmaps"),
        Some("kube-system"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"},
               "data": {"Corefile": ".:53 {\n    errors\n    health\n    kubernetes cluster.local in-addr.arpa ip6.arpa\n    forward . /etc/resolv.conf\n    cache 30\n}\n"}}),
    )?;
    ctx.w_create(
        store,
        Gvr::new("apps", "v1", "deployments"),
        Some("kube-system"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}},
                                     "spec": {"containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.11.3"}]}}},
               "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}}),
    )?;
    Ok(())
}

/// Deletion: drain (a simulated delay), delete the Node and static pods, the bootstrap data,
/// the bootstrap config and infrastructure machine, then remove the finalizer.
fn delete_machine(
    ctx: &mut Ctx<'_>,
    m: &Arc<Value>,
    infra: Option<&Value>,
    boot: Option<&Value>,
    faults: &MachineFaults,
) -> Step {
    let st = machine_status_deleting(ctx, m);
    let m = ctx.patch_status(def("Machine"), m, st)?;
    if !has_finalizer(&m, MACHINE_FINALIZER) {
        return Ok(());
    }
    if faults.stuck_deletion {
        return Ok(());
    }
    let has_node = !m["status"]["nodeRef"]["name"].is_null();
    if has_node {
        let started = match annotation_ms(&m, DRAIN_STARTED) {
            Some(ms) => from_millis(ms),
            None => {
                let now = to_millis(ctx.now);
                ctx.patch(
                    def("Machine"),
                    &m,
                    json!({"metadata": {"annotations": {DRAIN_STARTED: now.to_string()}}}),
                )?;
                from_millis(now)
            }
        };
        let due = started
            + ctx
                .timings()
                .scaled(ctx.timings().drain, &format!("{}/drain", name(&m)))
                .mul_f64(faults.slow);
        if ctx.now < due {
            ctx.due_at(due);
            return Ok(());
        }
        if let Some(store) = ctx.workloads.get(&ctx.key) {
            let n = name(&m).to_string();
            if machine_role(&m) == MachineRole::ControlPlane {
                for component in [
                    "etcd",
                    "kube-apiserver",
                    "kube-controller-manager",
                    "kube-scheduler",
                ] {
                    ctx.w_delete(
                        &store,
                        Target::namespaced(Gvr::core("pods"), "kube-system", &format!("{component}-{n}")),
                    )?;
                }
            }
            ctx.w_delete(&store, Target::cluster(Gvr::core("nodes"), &n))?;
            ctx.record(
                format!("Node/{n}"),
                "node-deleted",
                label(&m, crate::object::CONTROL_PLANE_LABEL).map_or("worker", |_| "control-plane"),
            );
        }
    }
    if let Some(i) = infra {
        let idef = kinds::by_kind(i["kind"].as_str().unwrap_or_default()).unwrap_or(def("DockerMachine"));
        ctx.delete(idef, meta_str(i, "namespace"), name(i))?;
    }
    if let Some(b) = boot {
        let bdef = kinds::by_kind(b["kind"].as_str().unwrap_or_default()).unwrap_or(def("KubeadmConfig"));
        ctx.delete_core("secrets", name(b))?;
        ctx.delete(bdef, meta_str(b, "namespace"), name(b))?;
    }
    let _ = annotation(&m, DRAIN_STARTED);
    ctx.remove_finalizer(def("Machine"), &m, MACHINE_FINALIZER)
}

fn machine_status_deleting(ctx: &Ctx<'_>, m: &Value) -> Value {
    let generation = crate::object::generation(m);
    let mut st = m.get("status").cloned().unwrap_or_else(|| json!({}));
    let old = st["conditions"].clone();
    let mut c = Conditions::new(&old, &ctx.now_str, generation);
    for t in old.as_array().into_iter().flatten() {
        let ty = t["type"].as_str().unwrap_or_default();
        match ty {
            "Ready" | "Available" => {
                c.set(ty, false, "Deleting", "");
            }
            "Deleting" => {}
            _ => {
                c.set_status(
                    ty,
                    t["status"].as_str().unwrap_or("Unknown"),
                    t["reason"].as_str().unwrap_or(""),
                    "",
                );
            }
        }
    }
    c.set("Deleting", true, "DrainingNode", "");
    st["phase"] = json!("Deleting");
    st["conditions"] = c.build();
    st
}

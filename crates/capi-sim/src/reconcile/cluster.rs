//! The Cluster: adoption of its referenced objects, infrastructure cluster, certificates and
//! kubeconfig Secrets, ordering of etcd -> control plane -> workers, deletion in reverse order,
//! health checks and the summary status.

use std::sync::Arc;

use base64::Engine;
use serde_json::{Value, json};

use super::control_plane::{reconcile_etcd, reconcile_kcp};
use super::deployment::reconcile_deployments;
use super::machine::{Gates, reconcile_machine};
use super::{MachineRole, Step, def, machine_ready, machine_role, resolve_ref};
use crate::ctx::Ctx;
use crate::kinds::{self, Role};
use crate::object::{
    CLUSTER_FINALIZER, CLUSTER_NAME_LABEL, Conditions, ETCD_FINALIZER, KCP_FINALIZER, condition,
    finalizers_with, generation, has_finalizer, is_deleting, is_true, label, name, owner_refs_with,
};

/// Reconciles one cluster and everything below it.
pub(crate) fn reconcile_cluster(ctx: &mut Ctx<'_>) -> Step {
    let Some(cluster) = ctx.cache.get("Cluster", &ctx.key.namespace, &ctx.key.name) else {
        return reconcile_orphans(ctx);
    };
    if cluster["spec"]["paused"] == true || super::is_paused(&cluster) {
        return set_paused(ctx, &cluster);
    }
    if is_deleting(&cluster) {
        return delete_cluster(ctx, &cluster);
    }
    let cluster = if has_finalizer(&cluster, CLUSTER_FINALIZER) {
        cluster
    } else {
        ctx.patch(
            def("Cluster"),
            &cluster,
            json!({"metadata": {"finalizers": finalizers_with(&cluster, CLUSTER_FINALIZER)}}),
        )?
    };
    let refs = adopt(ctx, &cluster)?;
    // Infrastructure cluster.
    let infra_ready = match &refs.infra {
        Some(ic) => provision_infra_cluster(ctx, &cluster, ic)?,
        None => false,
    };
    let cluster = match (
        &refs.infra,
        cluster["spec"]["controlPlaneEndpoint"]["host"].is_null(),
    ) {
        (Some(_), true) if infra_ready => {
            let ic = resolve_ref(ctx, &cluster["spec"]["infrastructureRef"]);
            let ep = ic
                .map(|i| i["spec"]["controlPlaneEndpoint"].clone())
                .unwrap_or(Value::Null);
            ctx.patch(
                def("Cluster"),
                &cluster,
                json!({"spec": {"controlPlaneEndpoint": ep}}),
            )?
        }
        _ => cluster,
    };
    if infra_ready {
        ctx.workload()?;
        ensure_secrets(ctx, &cluster)?;
    }
    // External etcd first.
    let mut etcd_ready = true;
    if let Some(etcd) = &refs.etcd {
        reconcile_etcd(ctx, &cluster, etcd, infra_ready)?;
        let etcd = ctx
            .cache
            .get("EtcdadmCluster", &ctx.key.namespace, name(etcd))
            .unwrap_or_else(|| etcd.clone());
        etcd_ready = etcd["status"]["ready"] == true;
    } else if !cluster["spec"]["managedExternalEtcdRef"].is_null() {
        etcd_ready = false;
    }
    // Control plane.
    if let Some(kcp) = &refs.kcp {
        reconcile_kcp(ctx, &cluster, kcp, infra_ready && etcd_ready)?;
    }
    let kcp = refs
        .kcp
        .as_ref()
        .and_then(|k| ctx.cache.get("KubeadmControlPlane", &ctx.key.namespace, name(k)));
    let cp_initialized = kcp
        .as_ref()
        .is_some_and(|k| k["status"]["initialization"]["controlPlaneInitialized"] == true);
    // Workers.
    reconcile_deployments(ctx, &cluster)?;
    // Machines.
    let gates = Gates {
        infrastructure_provisioned: infra_ready,
        control_plane_initialized: cp_initialized,
    };
    for m in ctx.cache.of_cluster(&ctx.key, "Machine") {
        reconcile_machine(ctx, &m, gates)?;
    }
    // The machine steps may have initialized the control plane.
    if let Some(k) = &kcp
        && !cp_initialized
        && ctx
            .cache
            .of_cluster(&ctx.key, "Machine")
            .iter()
            .any(|m| machine_role(m) == MachineRole::ControlPlane && machine_ready(m))
    {
        reconcile_kcp(ctx, &cluster, k, infra_ready && etcd_ready)?;
    }
    reconcile_health_checks(ctx)?;
    cluster_status(ctx, infra_ready)
}

struct Refs {
    infra: Option<Arc<Value>>,
    kcp: Option<Arc<Value>>,
    etcd: Option<Arc<Value>>,
}

/// Labels and owner references the Cluster controller puts on its referenced objects, on
/// MachineDeployments and MachineHealthChecks; finalizers on the control plane and etcd.
fn adopt(ctx: &mut Ctx<'_>, cluster: &Arc<Value>) -> Result<Refs, crate::Error> {
    let mut out = Refs {
        infra: None,
        kcp: None,
        etcd: None,
    };
    for (field, finalizer) in [
        ("infrastructureRef", None),
        ("controlPlaneRef", Some(KCP_FINALIZER)),
        ("managedExternalEtcdRef", Some(ETCD_FINALIZER)),
    ] {
        let Some(obj) = resolve_ref(ctx, &cluster["spec"][field]) else {
            continue;
        };
        let Some(d) = kinds::by_kind(obj["kind"].as_str().unwrap_or_default()) else {
            continue;
        };
        let obj = adopt_one(ctx, d, cluster, &obj, finalizer)?;
        match field {
            "infrastructureRef" => out.infra = Some(obj),
            "controlPlaneRef" => out.kcp = Some(obj),
            _ => out.etcd = Some(obj),
        }
    }
    for kind in ["MachineDeployment", "MachineHealthCheck"] {
        for obj in ctx.cache.of_cluster(&ctx.key, kind) {
            adopt_one(ctx, def(kind), cluster, &obj, None)?;
        }
    }
    Ok(out)
}

fn adopt_one(
    ctx: &mut Ctx<'_>,
    d: &'static kinds::KindDef,
    cluster: &Value,
    obj: &Arc<Value>,
    finalizer: Option<&str>,
) -> Result<Arc<Value>, crate::Error> {
    let mut patch = json!({});
    if label(obj, CLUSTER_NAME_LABEL) != Some(ctx.key.name.as_str()) {
        patch["metadata"]["labels"] = json!({CLUSTER_NAME_LABEL: ctx.key.name});
    }
    if let Some(refs) = owner_refs_with(obj, cluster, false) {
        patch["metadata"]["ownerReferences"] = refs;
    }
    if let Some(f) = finalizer
        && !has_finalizer(obj, f)
        && !is_deleting(obj)
    {
        patch["metadata"]["finalizers"] = finalizers_with(obj, f);
    }
    if patch.as_object().is_some_and(serde_json::Map::is_empty) {
        return Ok(obj.clone());
    }
    ctx.patch(d, obj, patch)
}

fn provision_infra_cluster(
    ctx: &mut Ctx<'_>,
    cluster: &Value,
    ic: &Arc<Value>,
) -> Result<bool, crate::Error> {
    let _ = cluster;
    let d = kinds::by_kind(ic["kind"].as_str().unwrap_or_default()).unwrap_or(def("DockerCluster"));
    if super::is_paused(ic) {
        return Ok(ic["status"]["initialization"]["provisioned"] == true);
    }
    let mut ic = ic.clone();
    if ic["spec"]["controlPlaneEndpoint"]["host"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        let port = ctx.workloads.addr().map_or(6443, |a| a.port());
        ic = ctx.patch(
            d,
            &ic,
            json!({"spec": {"controlPlaneEndpoint": {"host": "127.0.0.1", "port": port}}}),
        )?;
    }
    let gen_ = generation(&ic);
    let mut c = Conditions::new(&ic["status"]["conditions"], &ctx.now_str, gen_);
    c.set("Ready", true, "Ready", "");
    if d.kind == "DockerCluster" {
        c.set("LoadBalancerAvailable", true, "Available", "");
    }
    let mut st = ic.get("status").cloned().unwrap_or_else(|| json!({}));
    st["ready"] = json!(true);
    st["initialization"] = json!({"provisioned": true});
    st["conditions"] = c.build();
    ctx.patch_status(d, &ic, st)?;
    Ok(true)
}

fn kubeconfig(ctx: &Ctx<'_>) -> String {
    let server = ctx
        .workloads
        .url(&ctx.key)
        .unwrap_or_else(|| format!("http://127.0.0.1:6443{}", crate::workload::path_prefix(&ctx.key)));
    let c = &ctx.key.name;
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {c}\n  cluster:\n    server: {server}\ncontexts:\n- name: {c}-admin@{c}\n  context:\n    cluster: {c}\n    user: {c}-admin\ncurrent-context: {c}-admin@{c}\npreferences: {{}}\nusers:\n- name: {c}-admin\n  user: {{}}\n"
    )
}

/// The certificate Secrets KCP creates (placeholder PEM, no real keys) and the kubeconfig
/// Secret, rewritten when the workload API moved (a restarted simulator on another port).
fn ensure_secrets(ctx: &mut Ctx<'_>, cluster: &Value) -> Step {
    let b64 = base64::engine::general_purpose::STANDARD;
    let c = ctx.key.name.clone();
    let kc = kubeconfig(ctx);
    let kc_name = format!("{c}-kubeconfig");
    if let Some(existing) = ctx.get_core("secrets", &kc_name) {
        if existing["data"]["value"].as_str() != Some(b64.encode(&kc).as_str()) {
            ctx.patch_core("secrets", &kc_name, json!({"data": {"value": b64.encode(&kc)}}))?;
        }
        return Ok(());
    }
    let owner = crate::object::owner_ref(cluster, true);
    for (suffix, pair) in [("ca", true), ("etcd", true), ("sa", false), ("proxy", true)] {
        let pem = |what: &str| format!("-----BEGIN {what}-----\nU0lNVUxBVEVE\n-----END {what}-----\n");
        let data = if pair {
            json!({"tls.crt": b64.encode(pem("CERTIFICATE")), "tls.key": b64.encode(pem("RSA PRIVATE KEY"))})
        } else {
            json!({"tls.crt": b64.encode(pem("PUBLIC KEY")), "tls.key": b64.encode(pem("RSA PRIVATE KEY"))})
        };
        ctx.create_core(
            "secrets",
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": format!("{c}-{suffix}"), "namespace": ctx.key.namespace,
                             "labels": {CLUSTER_NAME_LABEL: c}, "ownerReferences": [owner]},
                "type": "cluster.x-k8s.io/secret",
                "data": data,
            }),
        )?;
    }
    ctx.create_core(
        "secrets",
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": kc_name, "namespace": ctx.key.namespace,
                         "labels": {CLUSTER_NAME_LABEL: c}, "ownerReferences": [owner]},
            "type": "cluster.x-k8s.io/secret",
            "data": {"value": b64.encode(&kc)},
        }),
    )?;
    ctx.record(format!("Secret/{kc_name}"), "created", "");
    Ok(())
}

fn selector_matches(selector: &Value, obj: &Value) -> bool {
    let Some(ml) = selector["matchLabels"].as_object() else {
        return true;
    };
    ml.iter().all(|(k, v)| label(obj, k) == v.as_str())
}

fn reconcile_health_checks(ctx: &mut Ctx<'_>) -> Step {
    let machines = ctx.cache.of_cluster(&ctx.key, "Machine");
    for mhc in ctx.cache.of_cluster(&ctx.key, "MachineHealthCheck") {
        if super::is_paused(&mhc) || is_deleting(&mhc) {
            continue;
        }
        let targets: Vec<&Arc<Value>> = machines
            .iter()
            .filter(|m| selector_matches(&mhc["spec"]["selector"], m))
            .collect();
        let healthy = targets.iter().filter(|m| machine_ready(m)).count();
        let gen_ = generation(&mhc);
        let mut c = Conditions::new(&mhc["status"]["conditions"], &ctx.now_str, gen_);
        c.set("RemediationAllowed", true, "RemediationAllowed", "")
            .set("Paused", false, "NotPaused", "");
        let mut st = mhc.get("status").cloned().unwrap_or_else(|| json!({}));
        st["observedGeneration"] = json!(gen_);
        st["expectedMachines"] = json!(targets.len());
        st["currentHealthy"] = json!(healthy);
        let unhealthy = targets.len() - healthy;
        let limit = &mhc["spec"]["remediation"]["triggerIf"]["unhealthyLessThanOrEqualTo"];
        let max_unhealthy = super::deployment::int_or_percent(limit, targets.len(), targets.len(), false);
        st["remediationsAllowed"] = json!(max_unhealthy.saturating_sub(unhealthy));
        st["targets"] = json!(targets.iter().map(|m| name(m)).collect::<Vec<_>>());
        st["conditions"] = c.build();
        ctx.patch_status(def("MachineHealthCheck"), &mhc, st)?;
    }
    Ok(())
}

fn cluster_status(ctx: &mut Ctx<'_>, infra_ready: bool) -> Step {
    let Some(cluster) = ctx.cache.get("Cluster", &ctx.key.namespace, &ctx.key.name) else {
        return Ok(());
    };
    let kcp = resolve_ref(ctx, &cluster["spec"]["controlPlaneRef"]);
    let cp_initialized = kcp
        .as_ref()
        .is_some_and(|k| k["status"]["initialization"]["controlPlaneInitialized"] == true);
    let cp_available = kcp
        .as_ref()
        .is_some_and(|k| is_true(&k["status"]["conditions"], "Available"));
    let machines = ctx.cache.of_cluster(&ctx.key, "Machine");
    let cp_machines: Vec<&Arc<Value>> = machines
        .iter()
        .filter(|m| machine_role(m) == MachineRole::ControlPlane)
        .collect();
    let workers: Vec<&Arc<Value>> = machines
        .iter()
        .filter(|m| machine_role(m) == MachineRole::Worker)
        .collect();
    let mds = ctx.cache.of_cluster(&ctx.key, "MachineDeployment");
    let w_desired: u64 = mds
        .iter()
        .map(|m| m["spec"]["replicas"].as_u64().unwrap_or(1))
        .sum();
    let workers_available = mds
        .iter()
        .all(|m| is_true(&m["status"]["conditions"], "Available"));
    let w_ready = workers.iter().filter(|m| machine_ready(m)).count();
    let w_utd: u64 = mds
        .iter()
        .map(|m| m["status"]["upToDateReplicas"].as_u64().unwrap_or(0))
        .sum();
    let cp_ready = cp_machines.iter().filter(|m| machine_ready(m)).count();
    let probe_ok = ctx.workloads.get(&ctx.key).is_some()
        && ctx.faults.workload_api_error(&ctx.key, Some(&cluster)).is_none()
        && cp_available;
    let available = infra_ready && cp_available && workers_available && probe_ok;
    let cp_rolling = kcp
        .as_ref()
        .is_some_and(|k| is_true(&k["status"]["conditions"], "RollingOut"));
    let w_rolling = mds
        .iter()
        .any(|m| is_true(&m["status"]["conditions"], "RollingOut"));
    let scaling_up = kcp
        .as_ref()
        .is_some_and(|k| is_true(&k["status"]["conditions"], "ScalingUp"))
        || mds
            .iter()
            .any(|m| is_true(&m["status"]["conditions"], "ScalingUp"));
    let scaling_down = kcp
        .as_ref()
        .is_some_and(|k| is_true(&k["status"]["conditions"], "ScalingDown"))
        || mds
            .iter()
            .any(|m| is_true(&m["status"]["conditions"], "ScalingDown"));
    let has_ep = !cluster["spec"]["controlPlaneEndpoint"]["host"].is_null();
    let phase = if infra_ready && has_ep {
        "Provisioned"
    } else {
        "Provisioning"
    };
    let gen_ = generation(&cluster);
    let old = &cluster["status"]["conditions"];
    let mut c = Conditions::new(old, &ctx.now_str, gen_);
    let r = |b: bool, yes: &'static str, no: &'static str| if b { yes } else { no };
    c.set(
        "Available",
        available,
        r(available, "Available", "NotAvailable"),
        "",
    )
    .set(
        "InfrastructureReady",
        infra_ready,
        r(infra_ready, "Ready", "NotReady"),
        "",
    )
    .set(
        "ControlPlaneInitialized",
        cp_initialized,
        r(cp_initialized, "Initialized", "NotInitialized"),
        "",
    )
    .set(
        "ControlPlaneAvailable",
        cp_available,
        r(cp_available, "Available", "NotAvailable"),
        "",
    )
    .set(
        "WorkersAvailable",
        workers_available,
        r(workers_available, "Available", "NotAvailable"),
        "",
    )
    .set(
        "RemoteConnectionProbe",
        probe_ok,
        r(probe_ok, "ProbeSucceeded", "ProbeFailed"),
        "",
    )
    .set(
        "ControlPlaneMachinesReady",
        cp_ready == cp_machines.len(),
        "Ready",
        "",
    )
    .set("WorkerMachinesReady", w_ready == workers.len(), "Ready", "")
    .set("ControlPlaneMachinesUpToDate", !cp_rolling, "UpToDate", "")
    .set("WorkerMachinesUpToDate", !w_rolling, "UpToDate", "")
    .set(
        "RollingOut",
        cp_rolling || w_rolling,
        r(cp_rolling || w_rolling, "RollingOut", "NotRollingOut"),
        "",
    )
    .set(
        "ScalingUp",
        scaling_up,
        r(scaling_up, "ScalingUp", "NotScalingUp"),
        "",
    )
    .set(
        "ScalingDown",
        scaling_down,
        r(scaling_down, "ScalingDown", "NotScalingDown"),
        "",
    )
    .set("Remediating", false, "NotRemediating", "")
    .set("Deleting", false, "NotDeleting", "")
    .set("Paused", false, "NotPaused", "");
    let v1old = cluster["status"]["deprecated"]["v1beta1"]["conditions"].clone();
    let mut st = cluster.get("status").cloned().unwrap_or_else(|| json!({}));
    st["observedGeneration"] = json!(gen_);
    st["phase"] = json!(phase);
    st["initialization"] =
        json!({"infrastructureProvisioned": infra_ready, "controlPlaneInitialized": cp_initialized});
    let kcp_st = kcp.as_ref().map(|k| k["status"].clone()).unwrap_or(Value::Null);
    st["controlPlane"] = json!({
        "desiredReplicas": kcp.as_ref().map(|k| k["spec"]["replicas"].as_u64().unwrap_or(1)).unwrap_or(0),
        "replicas": kcp_st["replicas"].as_u64().unwrap_or(0),
        "readyReplicas": kcp_st["readyReplicas"].as_u64().unwrap_or(0),
        "availableReplicas": kcp_st["availableReplicas"].as_u64().unwrap_or(0),
        "upToDateReplicas": kcp_st["upToDateReplicas"].as_u64().unwrap_or(0),
    });
    st["workers"] = json!({
        "desiredReplicas": w_desired, "replicas": workers.len(), "readyReplicas": w_ready,
        "availableReplicas": w_ready, "upToDateReplicas": w_utd,
    });
    if !cluster["spec"]["managedExternalEtcdRef"].is_null() {
        let etcd = resolve_ref(ctx, &cluster["spec"]["managedExternalEtcdRef"]);
        st["managedExternalEtcdInitialized"] =
            json!(etcd.is_some_and(|e| e["status"]["initialized"] == true));
    }
    st["conditions"] = c.build();
    let v1 = c.build_v1beta1(&v1old);
    let mut v1: Vec<Value> = v1
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| {
                    matches!(
                        x["type"].as_str(),
                        Some("InfrastructureReady" | "ControlPlaneInitialized")
                    )
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let v1_ready = |t: &str, s: bool| {
        let ltt = condition(&v1old, t)
            .filter(|o| o["status"] == if s { "True" } else { "False" })
            .map(|o| o["lastTransitionTime"].clone())
            .unwrap_or_else(|| json!(ctx.now_str));
        json!({"type": t, "status": if s { "True" } else { "False" }, "lastTransitionTime": ltt})
    };
    v1.push(v1_ready("ControlPlaneReady", cp_available));
    v1.push(v1_ready("Ready", available));
    st["deprecated"]["v1beta1"]["conditions"] = Value::Array(v1);
    ctx.patch_status(def("Cluster"), &cluster, st)?;
    Ok(())
}

fn set_paused(ctx: &mut Ctx<'_>, cluster: &Arc<Value>) -> Step {
    let old = &cluster["status"]["conditions"];
    if is_true(old, "Paused") {
        return Ok(());
    }
    let mut list: Vec<Value> = old
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["type"] != "Paused")
        .collect();
    list.push(json!({"type": "Paused", "status": "True", "reason": "Paused", "observedGeneration": generation(cluster), "lastTransitionTime": ctx.now_str}));
    let mut st = cluster.get("status").cloned().unwrap_or_else(|| json!({}));
    st["conditions"] = Value::Array(list);
    ctx.patch_status(def("Cluster"), cluster, st)?;
    Ok(())
}

/// Deletion in Cluster API's order: workers, then the control plane, then etcd, then the
/// infrastructure cluster; the Cluster's finalizer goes last.
fn delete_cluster(ctx: &mut Ctx<'_>, cluster: &Arc<Value>) -> Step {
    // Level-triggered safety net: a deleting cluster is revisited until it is gone, even if a
    // watch event was coalesced away.
    let recheck = ctx.timings().scaled(ctx.timings().drain, &ctx.key.name);
    ctx.due_in(recheck);
    let mut st = cluster.get("status").cloned().unwrap_or_else(|| json!({}));
    let mut c = Conditions::new(
        &cluster["status"]["conditions"],
        &ctx.now_str,
        generation(cluster),
    );
    for t in cluster["status"]["conditions"].as_array().into_iter().flatten() {
        let ty = t["type"].as_str().unwrap_or_default();
        if ty != "Deleting" && ty != "Available" {
            c.set_status(
                ty,
                t["status"].as_str().unwrap_or("Unknown"),
                t["reason"].as_str().unwrap_or_default(),
                "",
            );
        }
    }
    c.set("Available", false, "Deleting", "")
        .set("Deleting", true, "Deleting", "");
    st["phase"] = json!("Deleting");
    st["conditions"] = c.build();
    ctx.patch_status(def("Cluster"), cluster, st)?;
    let ns = ctx.key.namespace.clone();
    let machines = ctx.cache.of_cluster(&ctx.key, "Machine");
    let gates = Gates {
        infrastructure_provisioned: true,
        control_plane_initialized: true,
    };
    // 1. Workers.
    let mds = ctx.cache.of_cluster(&ctx.key, "MachineDeployment");
    let sets = ctx.cache.of_cluster(&ctx.key, "MachineSet");
    let workers: Vec<&Arc<Value>> = machines
        .iter()
        .filter(|m| machine_role(m) == MachineRole::Worker)
        .collect();
    if !mds.is_empty() || !sets.is_empty() || !workers.is_empty() {
        for md in mds.iter().filter(|o| !is_deleting(o)) {
            ctx.delete(def("MachineDeployment"), &ns, name(md))?;
        }
        for ms in ctx
            .cache
            .of_cluster(&ctx.key, "MachineSet")
            .iter()
            .filter(|o| !is_deleting(o))
        {
            ctx.delete(def("MachineSet"), &ns, name(ms))?;
        }
        for m in ctx.cache.of_cluster(&ctx.key, "Machine") {
            if machine_role(&m) != MachineRole::Worker {
                continue;
            }
            if !is_deleting(&m) {
                ctx.delete(def("Machine"), &ns, name(&m))?;
            }
            if let Some(m) = ctx.cache.get("Machine", &ns, name(&m)) {
                reconcile_machine(ctx, &m, gates)?;
            }
        }
        return Ok(());
    }
    // 2. Control plane, 3. etcd.
    for (field, kind, role) in [
        (
            "controlPlaneRef",
            "KubeadmControlPlane",
            MachineRole::ControlPlane,
        ),
        ("managedExternalEtcdRef", "EtcdadmCluster", MachineRole::Etcd),
    ] {
        let owner = resolve_ref(ctx, &cluster["spec"][field]);
        let left: Vec<&Arc<Value>> = machines.iter().filter(|m| machine_role(m) == role).collect();
        if owner.is_none() && left.is_empty() {
            continue;
        }
        if let Some(o) = &owner
            && !is_deleting(o)
        {
            ctx.delete(def(kind), &ns, name(o))?;
        }
        for m in ctx.cache.of_cluster(&ctx.key, "Machine") {
            if machine_role(&m) != role {
                continue;
            }
            if !is_deleting(&m) {
                ctx.delete(def("Machine"), &ns, name(&m))?;
            }
            if let Some(m) = ctx.cache.get("Machine", &ns, name(&m)) {
                reconcile_machine(ctx, &m, gates)?;
            }
        }
        if let Some(o) = resolve_ref(ctx, &cluster["spec"][field]) {
            let remaining = ctx
                .cache
                .of_cluster(&ctx.key, "Machine")
                .iter()
                .any(|m| machine_role(m) == role);
            if !remaining {
                let f = if role == MachineRole::Etcd {
                    ETCD_FINALIZER
                } else {
                    KCP_FINALIZER
                };
                ctx.remove_finalizer(def(kind), &o, f)?;
            }
        }
        return Ok(());
    }
    // 4. Infrastructure cluster, health checks, secrets, the workload cluster.
    if let Some(ic) = resolve_ref(ctx, &cluster["spec"]["infrastructureRef"])
        && let Some(d) = kinds::by_kind(ic["kind"].as_str().unwrap_or_default())
    {
        ctx.delete(d, &ns, name(&ic))?;
    }
    for mhc in ctx.cache.of_cluster(&ctx.key, "MachineHealthCheck") {
        ctx.delete(def("MachineHealthCheck"), &ns, name(&mhc))?;
    }
    for leftover in ctx.cache.of_cluster(&ctx.key, "KubeadmConfig") {
        ctx.delete(def("KubeadmConfig"), &ns, name(&leftover))?;
    }
    for kd in kinds::KINDS.iter().filter(|d| d.role == Role::InfraMachine) {
        for leftover in ctx.cache.of_cluster(&ctx.key, kd.kind) {
            ctx.delete(kd, &ns, name(&leftover))?;
        }
    }
    let c = ctx.key.name.clone();
    for suffix in ["ca", "etcd", "sa", "proxy", "kubeconfig"] {
        ctx.delete_core("secrets", &format!("{c}-{suffix}"))?;
    }
    ctx.workloads.remove(&ctx.key);
    ctx.remove_finalizer(def("Cluster"), cluster, CLUSTER_FINALIZER)
}

/// Objects of a Cluster that no longer exists: finish deleting its Machines (the garbage
/// collector marked them), then drop the workload store.
fn reconcile_orphans(ctx: &mut Ctx<'_>) -> Step {
    let gates = Gates {
        infrastructure_provisioned: false,
        control_plane_initialized: false,
    };
    let machines = ctx.cache.of_cluster(&ctx.key, "Machine");
    for m in &machines {
        if is_deleting(m) {
            reconcile_machine(ctx, m, gates)?;
        }
    }
    // Drop the workload store only when the store itself (not the cache) confirms that the
    // Cluster and all its Machines are gone.
    if machines.is_empty() {
        let cluster = ctx.mgmt.get(&anywhere_apiserver::Target::namespaced(
            crate::ctx::gvr(def("Cluster")),
            &ctx.key.namespace,
            &ctx.key.name,
        ));
        let left = ctx.mgmt.list(&anywhere_apiserver::ListRequest {
            gvr: crate::ctx::gvr(def("Machine")),
            namespace: Some(ctx.key.namespace.clone()),
            label_selector: Some(format!("{CLUSTER_NAME_LABEL}={}", ctx.key.name)),
            ..anywhere_apiserver::ListRequest::default()
        });
        if cluster.is_err_and(|e| e.code == 404) && left.is_ok_and(|l| l.items.is_empty()) {
            ctx.workloads.remove(&ctx.key);
        }
    }
    Ok(())
}

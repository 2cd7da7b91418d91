//! KubeadmControlPlane and EtcdadmCluster: machines created one at a time (the first one
//! initializes), rolling replacement with a surge of one when the version, the machine template
//! or the configuration changes, scale up and down, and their status.

use std::sync::Arc;

use anywhere_apiserver::{Gvr, Target};
use serde_json::{Map, Value, json};

use super::machine::{MachineSpec, address_of, create_machine, new_machine_name};
use super::{Step, def, machine_ready, resolve_ref};
use crate::ctx::Ctx;
use crate::object::{
    CLONED_FROM_NAME, CONFIG_HASH, CONTROL_PLANE_LABEL, CONTROL_PLANE_NAME_LABEL, Conditions,
    ETCD_CLUSTER_LABEL, annotation, generation, is_deleting, label, meta_str, name, short_hash,
};

/// A group of machines replaced one at a time.
struct Group {
    desired: usize,
    machines: Vec<Arc<Value>>,
    up_to_date: Vec<bool>,
}

impl Group {
    fn live(&self) -> impl Iterator<Item = (usize, &Arc<Value>)> {
        self.machines.iter().enumerate().filter(|(_, m)| !is_deleting(m))
    }
    fn ready(&self) -> usize {
        self.machines.iter().filter(|m| machine_ready(m)).count()
    }
    fn up_to_date_count(&self) -> usize {
        self.live().filter(|(i, _)| self.up_to_date[*i]).count()
    }
}

/// What to do next with a group.
#[derive(Debug, PartialEq)]
enum Action {
    Wait,
    Create,
    Delete(usize),
    Nothing,
}

/// The one-at-a-time decision (KCP's: scale up, then roll out with surge one, then scale down).
fn decide(g: &Group) -> Action {
    if g.machines.iter().any(|m| is_deleting(m)) {
        return Action::Wait;
    }
    let live: Vec<(usize, &Arc<Value>)> = g.live().collect();
    let all_ready = live.iter().all(|(_, m)| machine_ready(m));
    if !all_ready {
        return Action::Wait;
    }
    let outdated: Vec<usize> = live
        .iter()
        .filter(|(i, _)| !g.up_to_date[*i])
        .map(|(i, _)| *i)
        .collect();
    if live.len() < g.desired {
        return Action::Create;
    }
    if !outdated.is_empty() {
        if live.len() <= g.desired {
            return Action::Create;
        }
        return Action::Delete(oldest(g, &outdated));
    }
    if live.len() > g.desired {
        let all: Vec<usize> = live.iter().map(|(i, _)| *i).collect();
        return Action::Delete(oldest(g, &all));
    }
    Action::Nothing
}

fn oldest(g: &Group, idx: &[usize]) -> usize {
    *idx.iter()
        .min_by(|a, b| {
            let ka = (
                meta_str(&g.machines[**a], "creationTimestamp"),
                crate::object::resource_version(&g.machines[**a]),
            );
            let kb = (
                meta_str(&g.machines[**b], "creationTimestamp"),
                crate::object::resource_version(&g.machines[**b]),
            );
            ka.cmp(&kb)
        })
        .unwrap_or(&idx[0])
}

/// The machines an owner (KubeadmControlPlane or EtcdadmCluster) has: those of the cluster
/// whose `label` names it.
fn owned_machines(ctx: &Ctx<'_>, label_key: &str, owner: &str) -> Vec<Arc<Value>> {
    ctx.cache
        .of_cluster(&ctx.key, "Machine")
        .into_iter()
        .filter(|m| label(m, label_key) == Some(owner))
        .collect()
}

/// What a paused or deleted owner does: nothing while paused; when deleted, delete its machines
/// and drop its finalizer once none is left. Returns whether the owner is to be reconciled.
fn live_owner(
    ctx: &mut Ctx<'_>,
    owner: &Arc<Value>,
    kind: &str,
    finalizer: &str,
    machines: &[Arc<Value>],
) -> Result<bool, crate::Error> {
    if super::is_paused(owner) {
        return Ok(false);
    }
    if is_deleting(owner) {
        for m in machines.iter().filter(|m| !is_deleting(m)) {
            ctx.delete(def("Machine"), &ctx.key.namespace.clone(), name(m))?;
        }
        if machines.is_empty() {
            ctx.remove_finalizer(def(kind), owner, finalizer)?;
        }
        return Ok(false);
    }
    Ok(true)
}

/// The owner's machines as a group, each marked up to date or not by `current`.
fn group(
    ctx: &Ctx<'_>,
    label_key: &str,
    owner: &str,
    desired: usize,
    current: &dyn Fn(&Ctx<'_>, &Value) -> bool,
) -> Group {
    let machines = owned_machines(ctx, label_key, owner);
    let up_to_date = machines.iter().map(|m| current(ctx, m)).collect();
    Group {
        desired,
        machines,
        up_to_date,
    }
}

/// Takes the group's next one-at-a-time step; `create` makes the new machine.
fn step(ctx: &mut Ctx<'_>, g: &Group, create: impl FnOnce(&mut Ctx<'_>) -> Step) -> Step {
    match decide(g) {
        Action::Create => create(ctx),
        Action::Delete(i) => ctx.delete(def("Machine"), &ctx.key.namespace.clone(), name(&g.machines[i])),
        Action::Wait | Action::Nothing => Ok(()),
    }
}

/// The KubeadmControlPlane of a cluster.
pub(crate) fn reconcile_kcp(ctx: &mut Ctx<'_>, cluster: &Value, kcp: &Arc<Value>, allowed: bool) -> Step {
    let kname = name(kcp).to_string();
    let machines = owned_machines(ctx, CONTROL_PLANE_NAME_LABEL, &kname);
    if !live_owner(
        ctx,
        kcp,
        "KubeadmControlPlane",
        crate::object::KCP_FINALIZER,
        &machines,
    )? {
        return Ok(());
    }
    let spec = &kcp["spec"];
    let version = spec["version"].as_str().unwrap_or_default().to_string();
    let tmpl = if spec["machineTemplate"]["spec"]["infrastructureRef"].is_object() {
        spec["machineTemplate"]["spec"]["infrastructureRef"].clone()
    } else {
        spec["machineTemplate"]["infrastructureRef"].clone()
    };
    let tmpl_name = tmpl["name"].as_str().unwrap_or_default().to_string();
    let config_hash = short_hash(&spec["kubeadmConfigSpec"]);
    let current = |ctx: &Ctx<'_>, m: &Value| {
        let infra = resolve_ref(ctx, &m["spec"]["infrastructureRef"]);
        m["spec"]["version"] == version.as_str()
            && infra.as_ref().and_then(|i| annotation(i, CLONED_FROM_NAME)) == Some(tmpl_name.as_str())
            && annotation(m, CONFIG_HASH) == Some(config_hash.as_str())
    };
    let desired = spec["replicas"].as_u64().unwrap_or(1) as usize;
    let g = group(ctx, CONTROL_PLANE_NAME_LABEL, &kname, desired, &current);
    let initialized = kcp["status"]["initialization"]["controlPlaneInitialized"] == true || g.ready() > 0;
    if allowed {
        step(ctx, &g, |ctx| {
            let first = g.live().next().is_none() && !initialized;
            let mut cfg = spec["kubeadmConfigSpec"].clone();
            if let Some(o) = cfg.as_object_mut() {
                if first {
                    o.remove("joinConfiguration");
                } else {
                    o.remove("initConfiguration");
                }
            }
            let mut labels = Map::new();
            if let Some(l) = spec["machineTemplate"]["metadata"]["labels"].as_object() {
                labels.extend(l.clone());
            }
            labels.insert(CONTROL_PLANE_LABEL.into(), json!(""));
            labels.insert(CONTROL_PLANE_NAME_LABEL.into(), json!(kname));
            let mut annotations = Map::new();
            if let Some(a) = spec["machineTemplate"]["metadata"]["annotations"].as_object() {
                annotations.extend(a.clone());
            }
            annotations.insert(CONFIG_HASH.into(), json!(config_hash));
            let mname = new_machine_name(ctx, kcp, g.machines.len());
            create_machine(
                ctx,
                cluster,
                &mname,
                MachineSpec {
                    owner: kcp,
                    labels,
                    annotations,
                    version: Some(version.clone()),
                    infra_template: tmpl.clone(),
                    bootstrap_kind: "KubeadmConfig",
                    bootstrap_spec: cfg,
                },
            )
        })?;
    }
    // Re-read: the step above changed the machines.
    let g = group(ctx, CONTROL_PLANE_NAME_LABEL, &kname, desired, &current);
    let ready = g.ready();
    let initialized = initialized || ready > 0;
    let live = g.live().count();
    let utd = g.up_to_date_count();
    if initialized && ready == live && utd == live && live == desired {
        sync_workload_version(ctx, &version)?;
    }
    let status_version = g
        .live()
        .filter_map(|(_, m)| m["spec"]["version"].as_str())
        .min_by(|a, b| compare_versions(a, b))
        .map(String::from)
        .or_else(|| kcp["status"]["version"].as_str().map(String::from));
    let gen_ = generation(kcp);
    let old = &kcp["status"]["conditions"];
    let mut c = Conditions::new(old, &ctx.now_str, gen_);
    let available = initialized && ready > 0;
    c.either("Available", available, "Available", "NotAvailable")
        .either("Initialized", initialized, "Initialized", "NotInitialized")
        .set("CertificatesAvailable", true, "Available", "")
        .either("EtcdClusterHealthy", ready > 0, "Healthy", "NotHealthy")
        .either(
            "ControlPlaneComponentsHealthy",
            ready > 0,
            "Healthy",
            "NotHealthy",
        )
        .either("MachinesReady", ready == g.machines.len(), "Ready", "NotReady")
        .either("MachinesUpToDate", utd == live, "UpToDate", "NotUpToDate")
        .either("RollingOut", utd < live, "RollingOut", "NotRollingOut")
        .either("ScalingUp", live < desired, "ScalingUp", "NotScalingUp")
        .either("ScalingDown", live > desired, "ScalingDown", "NotScalingDown")
        .set("Remediating", false, "NotRemediating", "")
        .set("Deleting", false, "NotDeleting", "")
        .set("Paused", false, "NotPaused", "");
    let v1old = kcp["status"]["deprecated"]["v1beta1"]["conditions"].clone();
    let mut st = kcp.get("status").cloned().unwrap_or_else(|| json!({}));
    st["observedGeneration"] = json!(gen_);
    st["replicas"] = json!(g.machines.len());
    st["readyReplicas"] = json!(ready);
    st["availableReplicas"] = json!(ready);
    st["upToDateReplicas"] = json!(utd);
    st["initialization"] = json!({"controlPlaneInitialized": initialized});
    st["selector"] = json!(format!(
        "{}={},{CONTROL_PLANE_LABEL}",
        crate::object::CLUSTER_NAME_LABEL,
        ctx.key.name
    ));
    if let Some(v) = status_version {
        st["version"] = json!(v);
    }
    st["conditions"] = c.build();
    st["deprecated"]["v1beta1"] = json!({
        "conditions": c.build_v1beta1(&v1old).as_array().map(|a| a.iter().filter(|x| matches!(x["type"].as_str(),
            Some("Available" | "CertificatesAvailable" | "MachinesReady" | "EtcdClusterHealthy" | "ControlPlaneComponentsHealthy"))).cloned().collect::<Vec<_>>()),
        "readyReplicas": ready,
        "updatedReplicas": utd,
        "unavailableReplicas": g.machines.len().saturating_sub(ready),
    });
    ctx.patch_status(def("KubeadmControlPlane"), kcp, st)?;
    Ok(())
}

/// After a completed rollout: the workload's kubeadm-config and kube-proxy follow the version.
fn sync_workload_version(ctx: &mut Ctx<'_>, version: &str) -> Step {
    let Some(store) = ctx.workloads.get(&ctx.key) else {
        return Ok(());
    };
    let cm = Target::namespaced(Gvr::core("configmaps"), "kube-system", "kubeadm-config");
    let Ok(cur) = store.get(&cm) else { return Ok(()) };
    let text = cur["data"]["ClusterConfiguration"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let line = format!("kubernetesVersion: {version}");
    if text.lines().any(|l| l == line) {
        return Ok(());
    }
    let updated: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("kubernetesVersion:") {
                line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    ctx.w_patch(
        &store,
        cm,
        json!({"data": {"ClusterConfiguration": updated.join("\n") + "\n"}}),
    )?;
    let ds = Target::namespaced(Gvr::new("apps", "v1", "daemonsets"), "kube-system", "kube-proxy");
    ctx.w_patch(
        &store,
        ds,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "kube-proxy", "image": format!("registry.k8s.io/kube-proxy:{version}")}]}}}}),
    )?;
    Ok(())
}

/// Orders `v1.2.3-eks-...` versions numerically on their first three numbers.
pub(crate) fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn nums(v: &str) -> Vec<u64> {
        v.trim_start_matches('v')
            .split(['.', '-'])
            .take(3)
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    }
    nums(a).cmp(&nums(b)).then_with(|| a.cmp(b))
}

/// The EtcdadmCluster of a cluster (external etcd).
pub(crate) fn reconcile_etcd(ctx: &mut Ctx<'_>, cluster: &Value, etcd: &Arc<Value>, allowed: bool) -> Step {
    let ename = name(etcd).to_string();
    let machines = owned_machines(ctx, ETCD_CLUSTER_LABEL, &ename);
    if !live_owner(
        ctx,
        etcd,
        "EtcdadmCluster",
        crate::object::ETCD_FINALIZER,
        &machines,
    )? {
        return Ok(());
    }
    let spec = &etcd["spec"];
    let tmpl = spec["infrastructureTemplate"].clone();
    let tmpl_name = tmpl["name"].as_str().unwrap_or_default().to_string();
    let config_hash = short_hash(&spec["etcdadmConfigSpec"]);
    let current = |ctx: &Ctx<'_>, m: &Value| {
        let infra = resolve_ref(ctx, &m["spec"]["infrastructureRef"]);
        infra.as_ref().and_then(|i| annotation(i, CLONED_FROM_NAME)) == Some(tmpl_name.as_str())
            && annotation(m, CONFIG_HASH) == Some(config_hash.as_str())
    };
    let desired = spec["replicas"].as_u64().unwrap_or(1) as usize;
    let g = group(ctx, ETCD_CLUSTER_LABEL, &ename, desired, &current);
    if allowed {
        step(ctx, &g, |ctx| {
            let mut labels = Map::new();
            labels.insert(ETCD_CLUSTER_LABEL.into(), json!(ename));
            let mut annotations = Map::new();
            annotations.insert(CONFIG_HASH.into(), json!(config_hash));
            let mname = new_machine_name(ctx, etcd, g.machines.len());
            create_machine(
                ctx,
                cluster,
                &mname,
                MachineSpec {
                    owner: etcd,
                    labels,
                    annotations,
                    version: None,
                    infra_template: tmpl.clone(),
                    bootstrap_kind: "EtcdadmConfig",
                    bootstrap_spec: spec["etcdadmConfigSpec"].clone(),
                },
            )
        })?;
    }
    let g = group(ctx, ETCD_CLUSTER_LABEL, &ename, desired, &current);
    let ready_machines: Vec<&Arc<Value>> = g.machines.iter().filter(|m| machine_ready(m)).collect();
    let ready = ready_machines.len();
    let initialized = etcd["status"]["initialized"] == true || ready > 0;
    let all_ready = ready >= desired && g.live().count() == desired;
    let endpoints: Vec<String> = ready_machines
        .iter()
        .map(|m| format!("https://{}:2379", address_of(name(m))))
        .collect();
    let gen_ = generation(etcd);
    let v1old = etcd["status"]["conditions"].clone();
    let mut c = Conditions::new(&v1old, &ctx.now_str, gen_);
    c.either("Ready", all_ready, "Ready", "WaitingForEtcdMembers")
        .set(
            "EtcdMachinesSpecUpToDate",
            g.up_to_date_count() == g.live().count(),
            "UpToDate",
            "",
        );
    let mut st = etcd.get("status").cloned().unwrap_or_else(|| json!({}));
    st["observedGeneration"] = json!(gen_);
    st["replicas"] = json!(g.machines.len());
    st["readyReplicas"] = json!(ready);
    st["ready"] = json!(all_ready);
    st["initialized"] = json!(initialized);
    st["creationComplete"] = json!(initialized);
    st["endpoints"] = json!(endpoints.join(","));
    st["selector"] = json!(format!("{ETCD_CLUSTER_LABEL}={ename}"));
    st["conditions"] = c.build_v1beta1(&v1old);
    ctx.patch_status(def("EtcdadmCluster"), etcd, st)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, ready: bool, deleting: bool) -> Arc<Value> {
        let mut v = json!({"metadata": {"name": name, "creationTimestamp": format!("2024-01-01T00:00:0{}Z", name.len() % 10)},
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}});
        if deleting {
            v["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        Arc::new(v)
    }

    #[test]
    fn creates_one_at_a_time_and_waits_for_readiness() {
        let g = Group {
            desired: 3,
            machines: vec![],
            up_to_date: vec![],
        };
        assert_eq!(decide(&g), Action::Create);
        let g = Group {
            desired: 3,
            machines: vec![m("a", false, false)],
            up_to_date: vec![true],
        };
        assert_eq!(decide(&g), Action::Wait);
        let g = Group {
            desired: 3,
            machines: vec![m("a", true, false)],
            up_to_date: vec![true],
        };
        assert_eq!(decide(&g), Action::Create);
    }

    #[test]
    fn rolls_out_with_a_surge_of_one() {
        let g = Group {
            desired: 1,
            machines: vec![m("a", true, false)],
            up_to_date: vec![false],
        };
        assert_eq!(decide(&g), Action::Create);
        let g = Group {
            desired: 1,
            machines: vec![m("a", true, false), m("bb", true, false)],
            up_to_date: vec![false, true],
        };
        assert_eq!(decide(&g), Action::Delete(0));
        let g = Group {
            desired: 1,
            machines: vec![m("a", true, true), m("bb", true, false)],
            up_to_date: vec![false, true],
        };
        assert_eq!(decide(&g), Action::Wait);
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("v1.9.0", "v1.10.0"), std::cmp::Ordering::Less);
        assert_eq!(
            compare_versions("v1.33.1-eks-1-33-2", "v1.33.1-eks-1-33-2"),
            std::cmp::Ordering::Equal
        );
    }
}

//! MachineDeployment -> MachineSet (one per template hash) -> Machines, with the rolling
//! update of Kubernetes Deployments (maxSurge / maxUnavailable) and their status.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::machine::{MachineSpec, create_machine, new_machine_name};
use super::{Step, def, machine_ready, resolve_ref};
use crate::ctx::Ctx;
use crate::object::{
    CLUSTER_NAME_LABEL, Conditions, DEPLOYMENT_NAME_LABEL, SET_NAME_LABEL, TEMPLATE_HASH_LABEL, generation,
    is_deleting, is_owned_by, label, meta_str, name, owner_ref, short_hash,
};

/// Resolves an int-or-percent against `total` (`round_up` for maxSurge).
pub(crate) fn int_or_percent(v: &Value, total: usize, default: usize, round_up: bool) -> usize {
    match v {
        Value::Number(n) => n.as_u64().map_or(default, |n| n as usize),
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.trim().parse::<f64>().ok()) {
            Some(p) => {
                let x = p * total as f64 / 100.0;
                if round_up {
                    x.ceil() as usize
                } else {
                    x.floor() as usize
                }
            }
            None => s.parse().unwrap_or(default),
        },
        _ => default,
    }
}

fn replicas(v: &Value) -> usize {
    v["spec"]["replicas"].as_u64().unwrap_or(0) as usize
}

fn status_count(v: &Value, field: &str) -> usize {
    v["status"][field].as_u64().unwrap_or(0) as usize
}

/// New replica counts for the sets of a deployment: `(new, olds)` in, desired counts out.
/// Kubernetes' rolling update: scale the new set up within `desired + surge`, scale old sets
/// down while keeping `desired - unavailable` available.
pub(crate) fn plan_rollout(
    desired: usize,
    surge: usize,
    unavailable: usize,
    new: (usize, usize),
    olds: &[(usize, usize)],
) -> (usize, Vec<usize>) {
    let (new_spec, new_avail) = new;
    if olds.is_empty() {
        return (desired, Vec::new());
    }
    // Avoid a stuck rollout when both are zero.
    let surge = if surge == 0 && unavailable == 0 { 1 } else { surge };
    let total: usize = new_spec + olds.iter().map(|o| o.0).sum::<usize>();
    let max_total = desired + surge;
    let mut new_target = new_spec;
    if total < max_total && new_spec < desired {
        new_target = desired.min(new_spec + (max_total - total));
    }
    let min_available = desired.saturating_sub(unavailable);
    let all_available: usize = new_avail + olds.iter().map(|o| o.1).sum::<usize>();
    let total_after = new_target + olds.iter().map(|o| o.0).sum::<usize>();
    let new_unavailable = new_target.saturating_sub(new_avail);
    let mut budget = total_after
        .saturating_sub(min_available + new_unavailable)
        .min(all_available.saturating_sub(min_available));
    // Old machines that are not available can always go.
    let mut out = Vec::with_capacity(olds.len());
    for (spec, avail) in olds {
        let unavailable_old = spec.saturating_sub(*avail);
        let mut target = spec - unavailable_old.min(*spec);
        let cut = budget.min(target);
        target -= cut;
        budget -= cut;
        out.push(target);
    }
    (new_target, out)
}

/// Every MachineDeployment of a cluster.
pub(crate) fn reconcile_deployments(ctx: &mut Ctx<'_>, cluster: &Value) -> Step {
    let mds = ctx.cache.of_cluster(&ctx.key, "MachineDeployment");
    for md in &mds {
        if super::is_paused(md) || is_deleting(md) {
            continue;
        }
        reconcile_deployment(ctx, cluster, md)?;
    }
    // MachineSets (including those whose deployment is gone).
    for ms in ctx.cache.of_cluster(&ctx.key, "MachineSet") {
        if super::is_paused(&ms) {
            continue;
        }
        reconcile_set(ctx, cluster, &ms)?;
    }
    for md in &mds {
        if let Some(md) = ctx.cache.get("MachineDeployment", &ctx.key.namespace, name(md))
            && !is_deleting(&md)
            && !super::is_paused(&md)
        {
            deployment_status(ctx, &md)?;
        }
    }
    Ok(())
}

fn sets_of(ctx: &Ctx<'_>, md: &Value) -> Vec<Arc<Value>> {
    ctx.cache
        .of_cluster(&ctx.key, "MachineSet")
        .into_iter()
        .filter(|s| label(s, DEPLOYMENT_NAME_LABEL) == Some(name(md)) && is_owned_by(s, md))
        .collect()
}

fn template_hash(md: &Value) -> String {
    short_hash(&md["spec"]["template"]["spec"])
}

fn reconcile_deployment(ctx: &mut Ctx<'_>, cluster: &Value, md: &Arc<Value>) -> Step {
    let _ = cluster;
    let desired = md["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let hash = template_hash(md);
    let ms_name = format!("{}-{}", name(md), hash);
    let sets = sets_of(ctx, md);
    let new = match sets.iter().find(|s| name(s) == ms_name) {
        Some(s) => s.clone(),
        None => {
            let initial = if sets.iter().all(|s| replicas(s) == 0) {
                desired
            } else {
                0
            };
            let mut labels = Map::new();
            if let Some(l) = md["spec"]["template"]["metadata"]["labels"].as_object() {
                labels.extend(l.clone());
            }
            labels.insert(CLUSTER_NAME_LABEL.into(), json!(ctx.key.name));
            labels.insert(DEPLOYMENT_NAME_LABEL.into(), json!(name(md)));
            labels.insert(TEMPLATE_HASH_LABEL.into(), json!(hash));
            let mut template = md["spec"]["template"].clone();
            template["metadata"]["labels"] = Value::Object(labels.clone());
            let ms = json!({
                "apiVersion": "cluster.x-k8s.io/v1beta2",
                "kind": "MachineSet",
                "metadata": {
                    "name": ms_name,
                    "namespace": ctx.key.namespace,
                    "labels": labels,
                    "ownerReferences": [owner_ref(md, true)],
                },
                "spec": {
                    "clusterName": ctx.key.name,
                    "replicas": initial,
                    "selector": {"matchLabels": {DEPLOYMENT_NAME_LABEL: name(md), TEMPLATE_HASH_LABEL: hash}},
                    "template": template,
                },
            });
            ctx.create(def("MachineSet"), ms)?
        }
    };
    let olds: Vec<Arc<Value>> = sets.into_iter().filter(|s| name(s) != ms_name).collect();
    let strategy = if md["spec"]["rollout"]["strategy"].is_object() {
        &md["spec"]["rollout"]["strategy"]["rollingUpdate"]
    } else {
        &md["spec"]["strategy"]["rollingUpdate"]
    };
    let surge = int_or_percent(&strategy["maxSurge"], desired, 1, true);
    let unavailable = int_or_percent(&strategy["maxUnavailable"], desired, 0, false);
    let (new_target, old_targets) = plan_rollout(
        desired,
        surge,
        unavailable,
        (replicas(&new), status_count(&new, "availableReplicas")),
        &olds
            .iter()
            .map(|o| (replicas(o), status_count(o, "availableReplicas")))
            .collect::<Vec<_>>(),
    );
    if new_target != replicas(&new) {
        ctx.patch(def("MachineSet"), &new, json!({"spec": {"replicas": new_target}}))?;
    }
    for (o, t) in olds.iter().zip(old_targets) {
        if t != replicas(o) {
            ctx.patch(def("MachineSet"), o, json!({"spec": {"replicas": t}}))?;
        } else if t == 0 && status_count(o, "replicas") == 0 && machines_of(ctx, o).is_empty() {
            ctx.delete(def("MachineSet"), &ctx.key.namespace.clone(), name(o))?;
        }
    }
    Ok(())
}

fn machines_of(ctx: &Ctx<'_>, ms: &Value) -> Vec<Arc<Value>> {
    ctx.cache
        .of_cluster(&ctx.key, "Machine")
        .into_iter()
        .filter(|m| label(m, SET_NAME_LABEL) == Some(name(ms)))
        .collect()
}

fn reconcile_set(ctx: &mut Ctx<'_>, cluster: &Value, ms: &Arc<Value>) -> Step {
    let machines = machines_of(ctx, ms);
    let want = if is_deleting(ms) { 0 } else { replicas(ms) };
    let live: Vec<&Arc<Value>> = machines.iter().filter(|m| !is_deleting(m)).collect();
    if !is_deleting(ms) && live.len() < want {
        let tspec = &ms["spec"]["template"]["spec"];
        let Some(kct) = resolve_ref(ctx, &tspec["bootstrap"]["configRef"]) else {
            ctx.due_in(std::time::Duration::from_millis(200));
            return Ok(());
        };
        for i in 0..(want - live.len()) {
            let mut labels = Map::new();
            if let Some(l) = ms["spec"]["template"]["metadata"]["labels"].as_object() {
                labels.extend(l.clone());
            }
            labels.insert(SET_NAME_LABEL.into(), json!(name(ms)));
            let mut annotations = Map::new();
            if let Some(a) = ms["spec"]["template"]["metadata"]["annotations"].as_object() {
                annotations.extend(a.clone());
            }
            let mname = new_machine_name(ctx, ms, machines.len() + i);
            create_machine(
                ctx,
                cluster,
                &mname,
                MachineSpec {
                    owner: ms,
                    labels,
                    annotations,
                    version: tspec["version"].as_str().map(String::from),
                    infra_template: tspec["infrastructureRef"].clone(),
                    bootstrap_kind: "KubeadmConfig",
                    bootstrap_spec: kct["spec"]["template"]["spec"].clone(),
                },
            )?;
        }
    } else if live.len() > want {
        let mut victims: Vec<&Arc<Value>> = live.clone();
        // Not-ready machines first, then the oldest.
        victims.sort_by(|a, b| {
            (machine_ready(a), meta_str(a, "creationTimestamp"), name(a)).cmp(&(
                machine_ready(b),
                meta_str(b, "creationTimestamp"),
                name(b),
            ))
        });
        for m in victims.into_iter().take(live.len() - want) {
            ctx.delete(def("Machine"), &ctx.key.namespace.clone(), name(m))?;
        }
    }
    if is_deleting(ms) {
        return Ok(());
    }
    let machines = machines_of(ctx, ms);
    let ready = machines.iter().filter(|m| machine_ready(m)).count();
    let is_current = ctx
        .cache
        .get(
            "MachineDeployment",
            &ctx.key.namespace,
            label(ms, DEPLOYMENT_NAME_LABEL).unwrap_or_default(),
        )
        .is_some_and(|md| label(ms, TEMPLATE_HASH_LABEL) == Some(template_hash(&md).as_str()));
    let gen_ = generation(ms);
    let mut c = Conditions::new(&ms["status"]["conditions"], &ctx.now_str, gen_);
    let all = ready == machines.len();
    c.set("MachinesReady", all, if all { "Ready" } else { "NotReady" }, "")
        .either("MachinesUpToDate", is_current, "UpToDate", "NotUpToDate")
        .set("ScalingUp", machines.len() < want, "ScalingUp", "")
        .set("ScalingDown", machines.len() > want, "ScalingDown", "")
        .set("Deleting", false, "NotDeleting", "")
        .set("Paused", false, "NotPaused", "");
    let mut st = ms.get("status").cloned().unwrap_or_else(|| json!({}));
    st["observedGeneration"] = json!(gen_);
    st["replicas"] = json!(machines.len());
    st["readyReplicas"] = json!(ready);
    st["availableReplicas"] = json!(ready);
    st["upToDateReplicas"] = json!(if is_current { machines.len() } else { 0 });
    st["selector"] = json!(format!(
        "{DEPLOYMENT_NAME_LABEL}={},{TEMPLATE_HASH_LABEL}={}",
        label(ms, DEPLOYMENT_NAME_LABEL).unwrap_or_default(),
        label(ms, TEMPLATE_HASH_LABEL).unwrap_or_default()
    ));
    st["conditions"] = c.build();
    st["deprecated"]["v1beta1"] =
        json!({"fullyLabeledReplicas": machines.len(), "availableReplicas": ready, "readyReplicas": ready});
    ctx.patch_status(def("MachineSet"), ms, st)?;
    Ok(())
}

fn deployment_status(ctx: &mut Ctx<'_>, md: &Arc<Value>) -> Step {
    let desired = md["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let hash = template_hash(md);
    let sets = sets_of(ctx, md);
    let mut total = 0;
    let mut ready = 0;
    let mut up_to_date = 0;
    for s in &sets {
        let ms = machines_of(ctx, s);
        total += ms.len();
        let r = ms.iter().filter(|m| machine_ready(m)).count();
        ready += r;
        if label(s, TEMPLATE_HASH_LABEL) == Some(hash.as_str()) {
            up_to_date += ms.iter().filter(|m| !is_deleting(m)).count();
        }
    }
    let strategy = if md["spec"]["rollout"]["strategy"].is_object() {
        &md["spec"]["rollout"]["strategy"]["rollingUpdate"]
    } else {
        &md["spec"]["strategy"]["rollingUpdate"]
    };
    let unavailable = int_or_percent(&strategy["maxUnavailable"], desired, 0, false);
    let available = ready >= desired.saturating_sub(unavailable);
    let rolling = up_to_date < total;
    let phase = if total < desired {
        "ScalingUp"
    } else if total > desired {
        "ScalingDown"
    } else if ready == desired {
        "Running"
    } else {
        "ScalingUp"
    };
    let gen_ = generation(md);
    let mut c = Conditions::new(&md["status"]["conditions"], &ctx.now_str, gen_);
    c.either("Available", available, "Available", "NotAvailable")
        .either("MachinesReady", ready == total, "Ready", "NotReady")
        .set(
            "MachinesUpToDate",
            !rolling,
            if rolling { "NotUpToDate" } else { "UpToDate" },
            "",
        )
        .either("RollingOut", rolling, "RollingOut", "NotRollingOut")
        .either("ScalingUp", total < desired, "ScalingUp", "NotScalingUp")
        .either("ScalingDown", total > desired, "ScalingDown", "NotScalingDown")
        .set("Remediating", false, "NotRemediating", "")
        .set("Deleting", false, "NotDeleting", "")
        .set("Paused", false, "NotPaused", "");
    let v1old = md["status"]["deprecated"]["v1beta1"]["conditions"].clone();
    let mut st = md.get("status").cloned().unwrap_or_else(|| json!({}));
    st["observedGeneration"] = json!(gen_);
    st["replicas"] = json!(total);
    st["readyReplicas"] = json!(ready);
    st["availableReplicas"] = json!(ready);
    st["upToDateReplicas"] = json!(up_to_date);
    st["phase"] = json!(phase);
    st["selector"] = json!(format!("{DEPLOYMENT_NAME_LABEL}={}", name(md)));
    st["conditions"] = c.build();
    st["deprecated"]["v1beta1"] = json!({
        "conditions": c.build_v1beta1(&v1old).as_array().map(|a| a.iter().filter(|x| x["type"] == "Available").cloned().collect::<Vec<_>>()),
        "updatedReplicas": up_to_date,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": desired.saturating_sub(ready),
    });
    ctx.patch_status(def("MachineDeployment"), md, st)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_as_kubernetes_does() {
        assert_eq!(int_or_percent(&json!("25%"), 10, 1, true), 3);
        assert_eq!(int_or_percent(&json!("25%"), 10, 1, false), 2);
        assert_eq!(int_or_percent(&json!(2), 10, 1, true), 2);
        assert_eq!(int_or_percent(&Value::Null, 10, 1, true), 1);
    }

    #[test]
    fn rollout_surges_then_scales_old_down() {
        // desired 2, surge 1, unavailable 0: new 0 -> 1 first.
        assert_eq!(plan_rollout(2, 1, 0, (0, 0), &[(2, 2)]), (1, vec![2]));
        // new machine available: old 2 -> 1, new may go to 2 only after that.
        assert_eq!(plan_rollout(2, 1, 0, (1, 1), &[(2, 2)]), (1, vec![1]));
        assert_eq!(plan_rollout(2, 1, 0, (1, 1), &[(1, 1)]), (2, vec![1]));
        assert_eq!(plan_rollout(2, 1, 0, (2, 2), &[(1, 1)]), (2, vec![0]));
        // no old sets: plain scale.
        assert_eq!(plan_rollout(3, 1, 0, (1, 1), &[]), (3, vec![]));
    }
}

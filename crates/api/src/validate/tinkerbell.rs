//! Tinkerbell (bare metal): TinkerbellDatacenterConfig, TinkerbellMachineConfig and the static
//! assertions of the Tinkerbell provider (those that need the network or hardware are the
//! provider's).

use super::host_os::host_os_configuration;
use super::syntax::{KubeVersion, is_ip, parse_request_uri};
use super::*;

fn url_error(value: &str, what: &str) -> Option<String> {
    parse_request_uri(value)
        .err()
        .map(|why| format!("parsing {what}: parse {value:?}: {why}"))
}

/// A TinkerbellDatacenterConfig: valid image URLs, a name, `tinkerbellIP` an IP, and
/// `hookIsoURL` only with `isoBoot`.
pub fn tinkerbell_datacenter(d: &TinkerbellDatacenterConfig) -> Vec<Violation> {
    let id = object_id(d);
    let mut out = Vec::new();
    let default_spec = TinkerbellDatacenterConfigSpec::default();
    let spec = d.spec.as_ref().unwrap_or(&default_spec);
    let os_image_url = s(&spec.os_image_url);
    if !os_image_url.is_empty()
        && let Some(e) = url_error(os_image_url, "osImageOverride")
    {
        out.push(Violation::new(&id, "spec.osImageURL", e).with_hint("use an absolute http(s) URL"));
    }
    let hook = s(&spec.hook_images_url_path);
    if !hook.is_empty()
        && let Some(e) = url_error(hook, "hookOverride")
    {
        out.push(Violation::new(&id, "spec.hookImagesURLPath", e).with_hint("use an absolute http(s) URL"));
    }
    if d.name().is_empty() {
        out.push(Violation::new(
            &id,
            "metadata.name",
            "TinkerbellDatacenterConfig: missing name",
        ));
    }
    let ip = s(&spec.tinkerbell_ip);
    if ip.is_empty() {
        out.push(
            Violation::new(
                &id,
                "spec.tinkerbellIP",
                "TinkerbellDatacenterConfig: missing spec.tinkerbellIP field",
            )
            .with_hint("set a free IP on the machines' network for the Tinkerbell stack"),
        );
    } else if !is_ip(ip) {
        out.push(Violation::new(
            &id,
            "spec.tinkerbellIP",
            format!("TinkerbellDatacenterConfig: invalid tinkerbell ip: is invalid: {ip}"),
        ));
    }
    let iso_url = s(&spec.hook_iso_url);
    if spec.iso_boot == Some(true) {
        if !iso_url.is_empty()
            && let Some(why) = parse_request_uri(iso_url).err()
        {
            out.push(Violation::new(
                &id,
                "spec.hookIsoURL",
                format!("parsing hookIsoURL: parse {iso_url:?}: {why}, please provide a valid URL"),
            ));
        }
    } else if !iso_url.is_empty() {
        out.push(
            Violation::new(
                &id,
                "spec.hookIsoURL",
                "isoURL can be set, only when isoBoot is set to true",
            )
            .with_hint("set isoBoot: true, or remove hookIsoURL"),
        );
    }
    out
}

/// A TinkerbellMachineConfig: a name, exactly one of `hardwareSelector` (one pair) and
/// `hardwareAffinity` (valid terms), a supported `osFamily`, a valid `osImageURL`, users and a
/// valid `hostOSConfiguration`.
pub fn tinkerbell_machine(m: &TinkerbellMachineConfig) -> Vec<Violation> {
    let id = object_id(m);
    let name = m.name();
    let mut out = Vec::new();
    let default_spec = TinkerbellMachineConfigSpec::default();
    let spec = m.spec.as_ref().unwrap_or(&default_spec);
    if name.is_empty() {
        out.push(Violation::new(
            &id,
            "metadata.name",
            "TinkerbellMachineConfig: missing name",
        ));
    }
    out.extend(hardware_selection(spec, &id, name));
    let os = s(&spec.os_family);
    if os.is_empty() {
        out.push(
            Violation::new(
                &id,
                "spec.osFamily",
                format!("TinkerbellMachineConfig: missing spec.osFamily: {name}"),
            )
            .with_hint("set osFamily: ubuntu, redhat or bottlerocket"),
        );
    } else if !matches!(os, "ubuntu" | "bottlerocket" | "redhat") {
        out.push(Violation::new(
            &id,
            "spec.osFamily",
            format!(
                "TinkerbellMachineConfig: unsupported spec.osFamily ({os}); Please use one of the following: ubuntu, \
                 redhat, bottlerocket"
            ),
        ));
    }
    let os_image_url = s(&spec.os_image_url);
    if !os_image_url.is_empty()
        && let Some(e) = url_error(os_image_url, "osImageOverride")
    {
        out.push(Violation::new(&id, "spec.osImageURL", e));
    }
    if list(&spec.users).is_empty() {
        out.push(
            Violation::new(
                &id,
                "spec.users",
                format!("TinkerbellMachineConfig: missing spec.Users: {name}"),
            )
            .with_hint("add a user with an SSH authorized key"),
        );
    }
    if let Some(h) = &spec.host_os_configuration {
        out.extend(host_os_configuration(
            h,
            os,
            &id,
            "spec.hostOSConfiguration",
            &format!("HostOSConfiguration is invalid for TinkerbellMachineConfig {name}: "),
        ));
    }
    out
}

fn hardware_selection(spec: &TinkerbellMachineConfigSpec, id: &str, name: &str) -> Vec<Violation> {
    let selector = spec.hardware_selector.as_ref().map(|m| m.len()).unwrap_or(0);
    let v = |path: &str, message: String| vec![Violation::new(id, path, message)];
    match (&spec.hardware_affinity, selector) {
        (Some(_), n) if n > 0 => v(
            "spec.hardwareSelector",
            format!(
                "TinkerbellMachineConfig: hardwareSelector and hardwareAffinity are mutually exclusive: {name}"
            ),
        ),
        (None, 0) => {
            let mut out = v(
                "spec.hardwareSelector",
                format!(
                    "TinkerbellMachineConfig: either hardwareSelector or hardwareAffinity must be specified: {name}"
                ),
            );
            for x in &mut out {
                x.hint = Some("add hardwareSelector: {type: cp} matching labels of your Hardware".into());
            }
            out
        }
        (None, 1) => Vec::new(),
        (None, _) => v(
            "spec.hardwareSelector",
            format!(
                "TinkerbellMachineConfig: spec.hardwareSelector must contain only 1 key-value pair: {name}"
            ),
        ),
        (Some(a), _) => hardware_affinity(a, id, name),
    }
}

fn hardware_affinity(a: &HardwareAffinity, id: &str, name: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    let path = "spec.hardwareAffinity";
    let required = list(&a.required);
    if required.is_empty() {
        out.push(Violation::new(
            id,
            format!("{path}.required"),
            format!("TinkerbellMachineConfig: hardwareAffinity.required must have at least one term: {name}"),
        ));
    }
    for (i, term) in required.iter().enumerate() {
        out.extend(label_selector(
            term.label_selector.as_ref(),
            id,
            name,
            &format!("required[{i}]"),
        ));
    }
    for (i, p) in list(&a.preferred).iter().enumerate() {
        let weight = p.weight.unwrap_or(0);
        if !(1..=100).contains(&weight) {
            out.push(Violation::new(
                id,
                format!("{path}.preferred[{i}].weight"),
                format!("TinkerbellMachineConfig: preferred term weight must be in range [1, 100], got {weight}: {name}"),
            ));
        }
        let selector = p
            .hardware_affinity_term
            .as_ref()
            .and_then(|t| t.label_selector.as_ref());
        out.extend(label_selector(selector, id, name, &format!("preferred[{i}]")));
    }
    out
}

fn label_selector(selector: Option<&LabelSelector>, id: &str, name: &str, at: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    let Some(selector) = selector else { return out };
    for (j, e) in list(&selector.match_expressions).iter().enumerate() {
        let op = s(&e.operator);
        let path = format!("spec.hardwareAffinity.{at}.labelSelector.matchExpressions[{j}]");
        let values = list(&e.values).len();
        let message = match op {
            "In" | "NotIn" if values == 0 => format!(
                "TinkerbellMachineConfig: matchExpression with operator {op} must have non-empty values in \
                 {at}.labelSelector.matchExpressions[{j}]: {name}"
            ),
            "Exists" | "DoesNotExist" if values > 0 => format!(
                "TinkerbellMachineConfig: matchExpression with operator {op} must not have values in \
                 {at}.labelSelector.matchExpressions[{j}]: {name}"
            ),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => continue,
            _ => format!(
                "TinkerbellMachineConfig: invalid matchExpression operator '{op}' in {at}.labelSelector.\
                 matchExpressions[{j}], must be one of: In, NotIn, Exists, DoesNotExist: {name}"
            ),
        };
        out.push(Violation::new(id, path, message));
    }
    out
}

/// The Tinkerbell provider's static assertions: not Kubernetes 1.20; one OS family for control
/// plane, etcd and workers; Bottlerocket only up to 1.28; an OS image URL where one is needed
/// (on the datacenter or every machine config, not both) naming the Kubernetes version; an
/// `.iso` hook ISO; distinct Tinkerbell and control-plane IPs; a local hook with a proxy; one
/// rollout strategy type for control plane and workers, no InPlace on Bottlerocket, and no
/// autoscaling with InPlace.
pub fn tinkerbell_cluster(set: &ConfigSet) -> Vec<Violation> {
    let c = &set.cluster;
    let id = object_id(c);
    let mut out = Vec::new();
    let version = spec(c)
        .map(|s| s.kubernetes_version.as_deref().unwrap_or(""))
        .unwrap_or("");
    if version == "1.20" {
        out.push(Violation::new(
            &id,
            "spec.kubernetesVersion",
            "kubernetes version v1.20 is not supported for Bare Metal",
        ));
    }
    let dc = spec(c)
        .and_then(|s| s.datacenter_ref.as_ref())
        .and_then(|r| set.get::<TinkerbellDatacenterConfig>(s(&r.name)));
    let dc_spec = dc.and_then(|d| d.spec.as_ref());
    let machine = |r: Option<&Ref>| r.and_then(|r| set.get::<TinkerbellMachineConfig>(s(&r.name)));
    let dc_url = dc_spec
        .map(|s| s.os_image_url.as_deref().unwrap_or(""))
        .unwrap_or("");
    let cp = control_plane(c);
    let cp_machine = machine(cp.and_then(|cp| cp.machine_group_ref.as_ref()));

    // Operating system family.
    if let Some(cpm) = cp_machine {
        let cp_os = os_of(cpm);
        let etcd = spec(c).and_then(|s| s.external_etcd_configuration.as_ref());
        if let Some(em) = machine(etcd.and_then(|e| e.machine_group_ref.as_ref()))
            && os_of(em) != cp_os
        {
            out.push(Violation::new(
                &id,
                "spec.externalEtcdConfiguration.machineGroupRef",
                "etcd osFamily cannot be different from control plane osFamily",
            ));
        }
        if cp_os == "bottlerocket" && !bottlerocket_supports(version) {
            out.push(Violation::new(
                &id,
                "spec.kubernetesVersion",
                format!(
                    "machineGroupRef {}: tinkerbell provider does not support K8s version 1.29+ for BottleRocket OS",
                    cpm.name()
                ),
            ));
        }
        for (i, w) in workers(c).iter().enumerate() {
            let Some(wm) = machine(w.machine_group_ref.as_ref()) else {
                continue;
            };
            if os_of(wm) != cp_os {
                out.push(
                    Violation::new(
                        &id,
                        format!("spec.workerNodeGroupConfigurations[{i}].machineGroupRef"),
                        "worker node group osFamily cannot be different from control plane osFamily",
                    )
                    .with_hint("use one osFamily for every machine config of the cluster"),
                );
            }
            let wv = s(&w.kubernetes_version);
            if !wv.is_empty() && os_of(wm) == "bottlerocket" && !bottlerocket_supports(wv) {
                out.push(Violation::new(
                    &id,
                    format!("spec.workerNodeGroupConfigurations[{i}].kubernetesVersion"),
                    format!(
                        "machineGroupRef {}: tinkerbell provider does not support K8s version 1.29+ for BottleRocket OS",
                        wm.name()
                    ),
                ));
            }
        }
        if cp_os != "bottlerocket" && dc_url.is_empty() && url_of(cpm).is_empty() {
            out.push(Violation::new(
                &id,
                "spec.controlPlaneConfiguration.machineGroupRef",
                "please use bottlerocket as osFamily for auto-importing or provide a valid osImageURL",
            ));
        }
    }

    // OS image URLs.
    for r in machine_refs(c) {
        let Some(m) = machine(Some(r)) else { continue };
        if !url_of(m).is_empty() && !dc_url.is_empty() {
            out.push(Violation::new(
                object_id(m),
                "spec.osImageURL",
                "cannot specify OSImageURL on both TinkerbellMachineConfig's and TinkerbellDatacenterConfig",
            ));
        } else if url_of(m).is_empty() && dc_url.is_empty() && os_of(m) != "bottlerocket" {
            out.push(
                Violation::new(
                    object_id(m),
                    "spec.osImageURL",
                    format!("missing OSImageURL on TinkerbellMachineConfig '{}'", m.name()),
                )
                .with_hint("set osImageURL here or on the TinkerbellDatacenterConfig"),
            );
        }
    }
    if !dc_url.is_empty() {
        let mut versions: Vec<&str> = vec![version];
        for w in workers(c) {
            let wv = s(&w.kubernetes_version);
            if !wv.is_empty() && !versions.contains(&wv) {
                versions.push(wv);
            }
        }
        for v in versions {
            if !contains_kube_version(dc_url, v) {
                out.push(Violation::new(
                    dc.map(object_id).unwrap_or_else(|| id.clone()),
                    "spec.osImageURL",
                    format!("missing kube version from OSImageURL: url={dc_url}, version={v}"),
                ));
            }
        }
    } else if let Some(cpm) = cp_machine {
        // Bottlerocket machines without a URL get the bundle's image, which has the right version.
        let skip = |m: &TinkerbellMachineConfig| os_of(m) == "bottlerocket" && url_of(m).is_empty();
        if !skip(cpm) && !url_of(cpm).is_empty() && !contains_kube_version(url_of(cpm), version) {
            out.push(Violation::new(
                object_id(cpm),
                "spec.osImageURL",
                format!(
                    "missing kube version from control plane machine config OSImageURL: url={}, version={version}",
                    url_of(cpm)
                ),
            ));
        }
        for w in workers(c) {
            let Some(wm) = machine(w.machine_group_ref.as_ref()) else {
                continue;
            };
            let wv = match s(&w.kubernetes_version) {
                "" => version,
                v => v,
            };
            if !skip(wm) && !url_of(wm).is_empty() && !contains_kube_version(url_of(wm), wv) {
                out.push(Violation::new(
                    object_id(wm),
                    "spec.osImageURL",
                    format!(
                        "missing kube version from worker node group machine config OSImageURL: url={}, version={wv}",
                        url_of(wm)
                    ),
                ));
            }
        }
    }

    // Hook ISO, IPs and proxy.
    if let Some(dcs) = dc_spec {
        let iso = s(&dcs.hook_iso_url);
        if !iso.is_empty() && !iso.ends_with(".iso") {
            out.push(Violation::new(
                dc.map(object_id).unwrap_or_else(|| id.clone()),
                "spec.hookIsoURL",
                "incorrect iso url specified: please specify the iso url with '.iso' extension",
            ));
        }
        let tink_ip = s(&dcs.tinkerbell_ip);
        let cp_ip = cp
            .and_then(|cp| cp.endpoint.as_ref())
            .map(|e| s(&e.host))
            .unwrap_or("");
        if tink_ip == cp_ip {
            out.push(
                Violation::new(
                    &id,
                    "spec.controlPlaneConfiguration.endpoint.host",
                    format!(
                        "controlPlaneConfiguration.endpoint.host and tinkerbellIP are the same ({tink_ip}), please \
                         provide two unique IPs"
                    ),
                )
                .with_hint("the control-plane endpoint and the Tinkerbell stack each need their own free IP"),
            );
        }
        if spec(c).is_some_and(|s| s.proxy_configuration.is_some()) && s(&dcs.hook_images_url_path).is_empty()
        {
            out.push(Violation::new(
                dc.map(object_id).unwrap_or_else(|| id.clone()),
                "spec.hookImagesURLPath",
                "locally hosted hookImagesURLPath is required to support ProxyConfiguration",
            ));
        }
    }

    // Rollout strategies.
    let strategy_of = |t: Option<&str>| t.unwrap_or("RollingUpdate").to_string();
    let cp_strategy = cp.and_then(|cp| cp.upgrade_rollout_strategy.as_ref());
    let cp_type = strategy_of(cp_strategy.map(|st| s(&st.r#type)));
    if cp_strategy.is_some() && cp_type == "InPlace" && cp_machine.is_some_and(|m| os_of(m) == "bottlerocket")
    {
        out.push(Violation::new(
            &id,
            "spec.controlPlaneConfiguration.upgradeRolloutStrategy.type",
            "InPlace upgrades are not supported for OS family bottlerocket",
        ));
    }
    for (i, w) in workers(c).iter().enumerate() {
        let path = format!("spec.workerNodeGroupConfigurations[{i}]");
        let w_type = strategy_of(w.upgrade_rollout_strategy.as_ref().map(|st| s(&st.r#type)));
        if w.upgrade_rollout_strategy.is_some()
            && w_type == "InPlace"
            && machine(w.machine_group_ref.as_ref()).is_some_and(|m| os_of(m) == "bottlerocket")
        {
            out.push(Violation::new(
                &id,
                format!("{path}.upgradeRolloutStrategy.type"),
                "InPlace upgrades are not supported for OS family bottlerocket",
            ));
        }
        if w_type != cp_type {
            out.push(Violation::new(
                &id,
                format!("{path}.upgradeRolloutStrategy.type"),
                "cannot specify different upgrade rollout strategy types for control plane and worker node group \
                 configurations",
            ));
        }
        if cp_type == "InPlace" && w.autoscaling_configuration.is_some() {
            out.push(Violation::new(
                &id,
                format!("{path}.autoscalingConfiguration"),
                "austoscaler configuration not supported with InPlace upgrades",
            ));
        }
    }
    out
}

fn os_of(m: &TinkerbellMachineConfig) -> &str {
    m.spec.as_ref().map(|sp| s(&sp.os_family)).unwrap_or("")
}

fn url_of(m: &TinkerbellMachineConfig) -> &str {
    m.spec.as_ref().map(|sp| s(&sp.os_image_url)).unwrap_or("")
}

/// Bottlerocket on Tinkerbell stops at Kubernetes 1.28.
fn bottlerocket_supports(version: &str) -> bool {
    KubeVersion::parse(version).is_ok_and(|v| v.major() == 1 && v.minor() <= 28 || v.major() < 1)
}

/// The reference's check that an image URL names a Kubernetes version, ignoring `-`, `.`, `_`.
fn contains_kube_version(url: &str, version: &str) -> bool {
    let strip = |t: &str| {
        t.chars()
            .filter(|c| !matches!(c, '-' | '.' | '_'))
            .collect::<String>()
    };
    strip(url).contains(&strip(version))
}

#[cfg(test)]
mod tests;

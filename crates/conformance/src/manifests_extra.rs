//! Runner glue for entry points that do not take a cluster spec: the Tinkerbell stack's Helm
//! values (install and upgrade) and the hardware CSV reader.
//!
//! Each case's fields are read from the raw case JSON (`injections.bundle`, `.installer`,
//! `.call`, `inputs.hardware_csv`) and turned into the typed inputs of the library function.

use serde_json::Value;

use anywhere_manifests::providers::tinkerbell::stack::{
    SmeeLocation, StackImages, StackInputs, StackOptions, StackProxy, StackRegistryMirror, stack_values,
};

use crate::DataDirs;

/// Runs a case whose entry point this module handles; `None` for any other.
pub fn run(case: &Value, data: &DataDirs) -> Option<Result<Vec<Value>, String>> {
    match case.get("entry_point").and_then(Value::as_str)? {
        "tinkerbell-stack-install-values" | "tinkerbell-stack-upgrade-values" => Some(run_stack(case)),
        "tinkerbell-hardware-csv-read" => Some(run_csv_read(case, data)),
        _ => None,
    }
}

fn run_stack(case: &Value) -> Result<Vec<Value>, String> {
    let inputs = stack_inputs(case)?;
    let values = stack_values(&inputs).map_err(|e| format!("stack values: {e}"))?;
    Ok(vec![values.to_value()])
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The typed stack inputs a case describes.
fn stack_inputs(case: &Value) -> Result<StackInputs, String> {
    let inj = case.get("injections").ok_or("case has no injections")?;
    let bundle = inj.get("bundle").ok_or("case has no injections.bundle")?;
    // The bundle keys are dotted paths of the reference's TinkerbellBundle.
    let uri = |key: &str| bundle.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let images = StackImages {
        tinkerbell: uri("tinkerbellStack.boots.uri"),
        relay_init: uri("tinkerbellStack.tink.tinkRelayInit.uri"),
        kube_vip: uri("kubeVip.uri"),
        hook_initramfs_amd: uri("tinkerbellStack.hook.initramfs.amd.uri"),
        hook_iso_amd: uri("tinkerbellStack.hook.iso.amd.uri"),
    };
    let installer = inj.get("installer").ok_or("case has no injections.installer")?;
    let proxy = installer
        .get("proxy_configuration")
        .filter(|p| p.is_object())
        .map(|p| StackProxy {
            http_proxy: str_at(p, "/httpProxy").to_string(),
            https_proxy: str_at(p, "/httpsProxy").to_string(),
            no_proxy: p
                .get("noProxy")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
        });
    let registry_mirror = installer
        .get("registry_mirror")
        .filter(|m| m.is_object())
        .map(|m| {
            let endpoint = str_at(m, "/endpoint");
            let port = non_empty(str_at(m, "/port")).unwrap_or_else(|| "443".into());
            StackRegistryMirror {
                base_registry: format!("{endpoint}:{port}"),
                credentials: None,
            }
        });
    let call = inj.get("call").ok_or("case has no injections.call")?;
    let mut options = StackOptions::default();
    for option in call
        .get("options")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        apply_option(&mut options, option.as_str().unwrap_or(""))?;
    }
    Ok(StackInputs {
        images,
        tinkerbell_ip: str_at(installer, "/tinkerbell_ip").to_string(),
        namespace: str_at(installer, "/namespace").to_string(),
        pod_cidr: str_at(installer, "/pod_cidr").to_string(),
        hook_override: non_empty(str_at(call, "/hook_override")),
        hook_iso_override: non_empty(str_at(installer, "/hook_iso_override")),
        proxy,
        registry_mirror,
        options,
    })
}

/// Applies one `WithX(arg)` installer option as the catalogue spells it.
fn apply_option(options: &mut StackOptions, text: &str) -> Result<(), String> {
    let (name, arg) = text
        .strip_suffix(')')
        .and_then(|t| t.split_once('('))
        .ok_or_else(|| format!("unreadable installer option {text:?}"))?;
    let arg = arg.trim().trim_matches('"');
    let flag = || match arg {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("option {name}: expected true or false, got {other:?}")),
    };
    match name {
        "WithSmeeOnDocker" => options.smee = SmeeLocation::Docker,
        "WithSmeeOnKubernetes" => options.smee = SmeeLocation::Kubernetes,
        "WithHostNetworkEnabled" => options.host_network = flag()?,
        "WithLoadBalancerEnabled" => options.load_balancer = flag()?,
        "WithDHCPRelayEnabled" => options.dhcp_relay = flag()?,
        "WithLoadBalancerInterface" => options.load_balancer_interface = non_empty(arg),
        other => return Err(format!("unknown installer option {other}")),
    }
    Ok(())
}

fn run_csv_read(case: &Value, data: &DataDirs) -> Result<Vec<Value>, String> {
    let rel = case
        .pointer("/inputs/hardware_csv")
        .and_then(Value::as_str)
        .ok_or("case has no inputs.hardware_csv")?;
    let path = data
        .find(rel)
        .ok_or_else(|| format!("{rel} not found in the data directories"))?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let hardware = anywhere_inventory::parse_csv(&text).map_err(|e| format!("{rel}: {e}"))?;
    let first = hardware.first().ok_or_else(|| format!("{rel} has no rows"))?;
    Ok(vec![serde_json::to_value(first).map_err(|e| e.to_string())?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_are_parsed() {
        let mut o = StackOptions::default();
        for t in [
            "WithSmeeOnDocker()",
            "WithHostNetworkEnabled(true)",
            "WithLoadBalancerInterface(\"eth1\")",
        ] {
            apply_option(&mut o, t).unwrap();
        }
        assert_eq!(o.smee, SmeeLocation::Docker);
        assert!(o.host_network);
        assert_eq!(o.load_balancer_interface.as_deref(), Some("eth1"));
        assert!(apply_option(&mut o, "WithNothing()").is_err());
    }

    #[test]
    fn stack_case_fields_become_inputs() {
        let case = json!({
            "injections": {
                "bundle": {"tinkerbellStack.boots.uri": "r/t:latest", "tinkerbellStack.hook.initramfs.amd.uri": "https://h/x/i"},
                "installer": {"namespace": "eksa-system", "pod_cidr": "10.0.0.0/8", "tinkerbell_ip": "1.2.3.4",
                              "hook_iso_override": "", "proxy_configuration": null},
                "call": {"operation": "upgrade", "hook_override": "", "options": null}
            }
        });
        let i = stack_inputs(&case).unwrap();
        assert_eq!(i.images.tinkerbell, "r/t:latest");
        assert_eq!(i.pod_cidr, "10.0.0.0/8");
        assert_eq!(i.hook_override, None);
        assert_eq!(i.proxy, None);
    }
}

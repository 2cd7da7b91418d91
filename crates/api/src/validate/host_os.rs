//! `hostOSConfiguration`, shared by the vSphere, Tinkerbell and Snow machine configs, and the
//! PEM/X.509 reading it shares with the Nutanix trust bundle.

use x509_parser::pem::Pem;

use super::syntax::{is_ip, parse_request_uri};
use super::*;

/// The problems of a `hostOSConfiguration` for a machine of `os_family`: NTP servers, cert
/// bundles and the Bottlerocket settings (the last two only on Bottlerocket). Each message is
/// prefixed with `prefix` (the reference's `HostOSConfiguration is invalid for <Kind> <name>: `).
pub(crate) fn host_os_configuration(
    config: &HostOSConfiguration,
    os_family: &str,
    id: &str,
    path: &str,
    prefix: &str,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let v = |field: &str, message: String| {
        Violation::new(id, format!("{path}.{field}"), format!("{prefix}{message}"))
    };
    if let Some(ntp) = &config.ntp_configuration {
        let servers = list(&ntp.servers);
        if servers.is_empty() {
            out.push(v(
                "ntpConfiguration.servers",
                "NTPConfiguration.Servers can not be empty".into(),
            ));
        }
        let invalid: Vec<&str> = servers
            .iter()
            .map(String::as_str)
            .filter(|s| !is_ntp_server(s))
            .collect();
        if !invalid.is_empty() {
            out.push(
                v(
                    "ntpConfiguration.servers",
                    format!("ntp servers [{}] is not valid", invalid.join(", ")),
                )
                .with_hint("use host names or IP addresses, e.g. time.example.com"),
            );
        }
    }
    for (i, bundle) in list(&config.cert_bundles).iter().enumerate() {
        let field = format!("certBundles[{i}]");
        if os_family != "bottlerocket" {
            out.push(v(
                &field,
                "CertBundles can only be used with osFamily: \"bottlerocket\"".into(),
            ));
            continue;
        }
        if s(&bundle.name).is_empty() {
            out.push(v(
                &format!("{field}.name"),
                "certBundles name cannot be empty".into(),
            ));
            continue;
        }
        if let Err(e) = trusted_cert_bundle(s(&bundle.data)) {
            out.push(v(&format!("{field}.data"), e).with_hint("paste one or more PEM certificates"));
        }
    }
    if let Some(br) = &config.bottlerocket_configuration {
        if os_family != "bottlerocket" {
            out.push(v(
                "bottlerocketConfiguration",
                "BottlerocketConfiguration can only be used with osFamily: \"bottlerocket\"".into(),
            ));
            return out;
        }
        if let Some(k) = &br.kubernetes {
            let kpath = "bottlerocketConfiguration.kubernetes";
            if list(&k.allowed_unsafe_sysctls).iter().any(String::is_empty) {
                out.push(v(
                    &format!("{kpath}.allowedUnsafeSysctls"),
                    "BottlerocketConfiguration.Kubernetes.AllowedUnsafeSysctls can not have an empty string (\"\")"
                        .into(),
                ));
            }
            for ip in list(&k.cluster_dnsi_ps).iter().filter(|ip| !is_ip(ip)) {
                out.push(v(
                    &format!("{kpath}.clusterDNSIPs"),
                    format!("IP address [{ip}] in BottlerocketConfiguration.Kubernetes.ClusterDNSIPs is not a valid IP"),
                ));
            }
            if k.max_pods.is_some_and(|m| m < 0) {
                out.push(v(
                    &format!("{kpath}.maxPods"),
                    "BottlerocketConfiguration.Kubernetes.MaxPods can not be negative".into(),
                ));
            }
        }
        if br
            .kernel
            .as_ref()
            .and_then(|k| k.sysctl_settings.as_ref())
            .is_some_and(|m| m.contains_key(""))
        {
            out.push(v(
                "bottlerocketConfiguration.kernel.sysctlSettings",
                "sysctlSettings key cannot be empty".into(),
            ));
        }
        if br
            .boot
            .as_ref()
            .and_then(|b| b.boot_kernel_parameters.as_ref())
            .is_some_and(|m| m.contains_key(""))
        {
            out.push(v(
                "bottlerocketConfiguration.boot.bootKernelParameters",
                "bootKernelParameters key cannot be empty".into(),
            ));
        }
    }
    out
}

/// The reference's NTP check: with `udp://` prepended when there is no scheme, the server must
/// parse as a request URI with a scheme and a host.
fn is_ntp_server(server: &str) -> bool {
    let with_scheme = if server.contains("://") {
        server.to_string()
    } else if is_ip(server) && server.contains(':') {
        format!("udp://[{server}]")
    } else {
        format!("udp://{server}")
    };
    parse_request_uri(&with_scheme).is_ok_and(|u| !u.scheme.is_empty() && !u.host.is_empty())
}

/// Every PEM block of a bundle must hold X.509 certificates, and there must be one.
fn trusted_cert_bundle(bundle: &str) -> Result<(), String> {
    let blocks: Vec<Pem> = Pem::iter_from_buffer(bundle.as_bytes())
        .map_while(Result::ok)
        .collect();
    if blocks.is_empty() {
        return Err("failed to parse certificate PEM".into());
    }
    for b in &blocks {
        parse_certificates(&b.contents).map_err(|e| format!("failed to parse certificate: {e}"))?;
    }
    Ok(())
}

/// The first PEM block of `text`, as Go's `pem.Decode` would find it; `None` when there is none.
pub(crate) fn first_pem_block(text: &str) -> Option<Vec<u8>> {
    Pem::iter_from_buffer(text.as_bytes())
        .next()
        .and_then(Result::ok)
        .map(|p| p.contents)
}

/// Go's `x509.ParseCertificates`: one or more DER certificates back to back.
pub(crate) fn parse_certificates(mut der: &[u8]) -> Result<usize, String> {
    let mut count = 0;
    while !der.is_empty() {
        match x509_parser::parse_x509_certificate(der) {
            Ok((rest, _)) => {
                der = rest;
                count += 1;
            }
            Err(e) => return Err(format!("x509: malformed certificate ({e})")),
        }
    }
    if count == 0 {
        return Err("x509: malformed certificate (empty)".into());
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str, os: &str, expect: &[&str]) {
        let config: HostOSConfiguration = crate::document::decode(
            &crate::document::parse_value(yaml, 1).expect("yaml"),
            crate::document::Fields::Strict,
        )
        .expect("decode");
        let got = host_os_configuration(&config, os, "X/x", "spec.hostOSConfiguration", "");
        let got: Vec<&str> = got.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(got, expect, "{yaml}");
    }

    #[test]
    fn ntp_servers_must_be_hosts() {
        check(
            "ntpConfiguration: {servers: [time.example.com, 10.0.0.1, 'udp://1.2.3.4', '::1']}",
            "ubuntu",
            &[],
        );
        check(
            "ntpConfiguration: {servers: []}",
            "ubuntu",
            &["NTPConfiguration.Servers can not be empty"],
        );
        check(
            "ntpConfiguration: {servers: ['bad host']}",
            "ubuntu",
            &["ntp servers [bad host] is not valid"],
        );
    }

    #[test]
    fn bottlerocket_only_parts_need_bottlerocket() {
        check(
            "bottlerocketConfiguration: {kubernetes: {maxPods: 10}}",
            "ubuntu",
            &["BottlerocketConfiguration can only be used with osFamily: \"bottlerocket\""],
        );
        check(
            "certBundles: [{name: a, data: x}]",
            "redhat",
            &["CertBundles can only be used with osFamily: \"bottlerocket\""],
        );
        check(
            "bottlerocketConfiguration: {kubernetes: {maxPods: -1, clusterDNSIPs: [nope]}}",
            "bottlerocket",
            &[
                "IP address [nope] in BottlerocketConfiguration.Kubernetes.ClusterDNSIPs is not a valid IP",
                "BottlerocketConfiguration.Kubernetes.MaxPods can not be negative",
            ],
        );
        check(
            "certBundles: [{name: a, data: 'not pem'}]",
            "bottlerocket",
            &["failed to parse certificate PEM"],
        );
    }
}

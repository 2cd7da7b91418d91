//! `anywhere check-egress -f cluster.yaml`: every endpoint the cluster will contact, and which
//! of them would leave an air-gapped site (not the registry mirror, a proxy, `noProxy` or a
//! private address). See docs/design/0005-egress-preflight.md for the rule.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, Result};

use anywhere_manifests::common::egress::{Endpoint, Purpose, endpoints};
use anywhere_manifests::common::proxy::proxy;
use anywhere_manifests::common::registry_mirror::registry_mirror;

use super::validate::{CheckedSpec, SpecCheckArgs, read_checked_spec};

/// Arguments of `anywhere check-egress`.
pub type Args = SpecCheckArgs;

/// Prints the endpoint table; exit 0 when nothing leaves the site, 1 when something does, 2 for
/// a bad spec.
///
/// # Errors
/// A spec that cannot be read or whose registry mirror credentials are missing.
pub fn run(args: Args) -> Result<ExitCode> {
    let CheckedSpec { input, catalog, set } = match read_checked_spec(&args)? {
        Ok(checked) => checked,
        Err(code) => return Ok(code),
    };
    let report = check(&set, &catalog, &input.name)?;
    for line in &report.lines {
        println!("{line}");
    }
    if report.leaving > 0 {
        eprintln!("{}", report.summary);
        return Ok(ExitCode::from(1));
    }
    eprintln!("{}", report.summary);
    Ok(ExitCode::SUCCESS)
}

/// What [`check`] found.
pub(crate) struct Report {
    /// One line per host and purpose.
    pub lines: Vec<String>,
    /// Hosts outside the site.
    pub leaving: usize,
    /// The verdict.
    pub summary: String,
}

/// The egress check of a validated spec (also the create and upgrade preflight of clusters
/// with a registry mirror).
///
/// # Errors
/// Missing mirror credentials or a version missing from the catalog.
pub(crate) fn check(
    set: &anywhere_api::ConfigSet,
    catalog: &anywhere_catalog::Catalog,
    file: &str,
) -> Result<Report> {
    let spec = set.cluster.spec.as_ref().context("the Cluster has no spec")?;
    let versions = super::check_images::cluster_versions(spec, catalog, file)?;
    let mirror = registry_mirror(spec, &super::manifests::credentials_from_env()?)?;
    let (proxies, no_proxy) = match proxy(spec, &[]) {
        Some(p) => (vec![p.http_proxy, p.https_proxy], p.no_proxy),
        None => (Vec::new(), Vec::new()),
    };
    let found = endpoints(set, catalog, &versions, mirror.as_ref(), &proxies, &no_proxy);
    // One line per host and purpose: the first place that names it, and how many more do.
    let mut grouped: BTreeMap<(bool, &str, Purpose), Vec<&Endpoint>> = BTreeMap::new();
    for e in &found {
        grouped
            .entry((e.on_site, &e.host, e.purpose))
            .or_default()
            .push(e);
    }
    let mut leaving = 0;
    let mut lines = Vec::new();
    for ((on_site, host, purpose), list) in &grouped {
        let more = match list.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        let verdict = if *on_site {
            "on site"
        } else {
            leaving += 1;
            "LEAVES THE SITE"
        };
        lines.push(format!(
            "{verdict:<16} {host:<40} {purpose:<15} {}{more}",
            list[0].origin,
            purpose = format!("{purpose:?}")
        ));
    }
    let summary = if leaving > 0 {
        format!(
            "{}: {leaving} endpoint(s) outside the registry mirror{}, proxy and noProxy: an air-gapped install would try to reach them. \
             Mirror the images (spec.registryMirrorConfiguration and `anywhere copy images`), host OS images on site, \
             or add site-local hosts to spec.proxyConfiguration.noProxy.",
            file,
            mirror
                .as_ref()
                .map(|m| format!(" ({})", m.address))
                .unwrap_or_default()
        )
    } else {
        format!("{file}: every endpoint stays on site ({} checked)", found.len())
    };
    Ok(Report {
        lines,
        leaving,
        summary,
    })
}

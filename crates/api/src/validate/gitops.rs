//! GitOps: FluxConfig and the legacy GitOpsConfig.

use std::sync::LazyLock;

use regex::Regex;

use super::*;

static BRANCH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([0-9A-Za-z_+,]+)\.?/?([0-9A-Za-z\-_+,]+)$").expect("the branch pattern is a valid regex")
});
static REPOSITORY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([0-9A-Za-z\-_.]+)$").expect("the repository pattern is a valid regex"));

fn branch_violation(id: &str, path: &str, branch: &str) -> Option<Violation> {
    (!branch.is_empty() && !BRANCH.is_match(branch)).then(|| {
        Violation::new(
            id,
            path,
            format!(
                "{branch} is not a valid git branch name, please check with this documentation \
                 https://git-scm.com/docs/git-check-ref-format for valid git branch names"
            ),
        )
    })
}

fn repository_violation(id: &str, path: &str, repository: &str) -> Option<Violation> {
    (!REPOSITORY.is_match(repository)).then(|| {
        Violation::new(
            id,
            path,
            format!(
                "{repository} is not a valid git repository name, name can contain only letters, digits, '_', '-' \
                 and '.'"
            ),
        )
        .with_hint("give the repository name only, not its URL")
    })
}

/// A FluxConfig: exactly one of `github` (owner and a valid repository name) and `git` (an
/// `ssh://` repository URL, a known SSH key algorithm), and a valid branch name.
pub fn flux_config(f: &FluxConfig) -> Vec<Violation> {
    let id = object_id(f);
    let mut out = Vec::new();
    let default_spec = FluxConfigSpec::default();
    let spec = f.spec.as_ref().unwrap_or(&default_spec);
    match (&spec.git, &spec.github) {
        (Some(_), Some(_)) => out.push(
            Violation::new(&id, "spec", "must specify only one provider")
                .with_hint("keep either git or github"),
        ),
        (None, None) => out.push(
            Violation::new(
                &id,
                "spec",
                "must specify a provider. Valid options are git and github",
            )
            .with_hint("add github: {owner, repository} or git: {repositoryUrl}"),
        ),
        _ => {}
    }
    if let Some(gh) = &spec.github {
        let owner = s(&gh.owner);
        let repository = s(&gh.repository);
        if owner.is_empty() {
            out.push(Violation::new(
                &id,
                "spec.github.owner",
                "'owner' is not set or empty in githubProviderConfig; owner is a required field",
            ));
        }
        if repository.is_empty() {
            out.push(Violation::new(
                &id,
                "spec.github.repository",
                "'repository' is not set or empty in githubProviderConfig; repository is a required field",
            ));
        } else if let Some(v) = repository_violation(&id, "spec.github.repository", repository) {
            out.push(v);
        }
    }
    if let Some(git) = &spec.git {
        let url = s(&git.repository_url);
        let algorithm = s(&git.ssh_key_algorithm);
        if url.is_empty() {
            out.push(Violation::new(
                &id,
                "spec.git.repositoryUrl",
                "'repositoryUrl' is not set or empty in gitProviderConfig; repositoryUrl is a required field",
            ));
        }
        if !algorithm.is_empty() && !matches!(algorithm, "rsa" | "ecdsa" | "ed25519") {
            out.push(Violation::new(
                &id,
                "spec.git.sshKeyAlgorithm",
                "'sshKeyAlgorithm' does not have a valid value in gitProviderConfig; sshKeyAlgorithm must be amongst \
                 rsa, ecdsa, ed25519",
            ));
        }
        if !url.is_empty()
            && let Some(message) = repository_url_problem(url)
        {
            out.push(
                Violation::new(&id, "spec.git.repositoryUrl", message)
                    .with_hint("write the URL as ssh://git@host/owner/repository.git"),
            );
        }
    }
    out.extend(branch_violation(&id, "spec.branch", s(&spec.branch)));
    out
}

/// The reference parses the URL with Go's `url.Parse` and wants the `ssh` scheme.
fn repository_url_problem(url: &str) -> Option<String> {
    static SCHEME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):").expect("the scheme pattern is a valid regex")
    });
    let scheme = match SCHEME.captures(url) {
        Some(c) => c
            .get(1)
            .map(|m| m.as_str().to_ascii_lowercase())
            .unwrap_or_default(),
        None => {
            let first_segment = url.split('/').next().unwrap_or("");
            if first_segment.contains(':') {
                return Some(format!(
                    "unable to parse repository url: parse {url:?}: first path segment in URL cannot contain colon"
                ));
            }
            String::new()
        }
    };
    (scheme != "ssh").then(|| format!("invalid repository url scheme: {scheme}"))
}

/// A legacy GitOpsConfig: `flux.github` with an owner, a valid repository name and a valid
/// branch name.
pub fn gitops_config(g: &GitOpsConfig) -> Vec<Violation> {
    let id = object_id(g);
    let mut out = Vec::new();
    let default_github = Github::default();
    let gh = g
        .spec
        .as_ref()
        .and_then(|s| s.flux.as_ref())
        .and_then(|f| f.github.as_ref())
        .unwrap_or(&default_github);
    let path = "spec.flux.github";
    if s(&gh.owner).is_empty() {
        out.push(Violation::new(
            &id,
            format!("{path}.owner"),
            "'owner' is not set or empty in gitOps.flux; owner is a required field",
        ));
    }
    let repository = s(&gh.repository);
    if repository.is_empty() {
        out.push(Violation::new(
            &id,
            format!("{path}.repository"),
            "'repository' is not set or empty in gitOps.flux; repository is a required field",
        ));
    } else if let Some(v) = repository_violation(&id, &format!("{path}.repository"), repository) {
        out.push(v);
    }
    out.extend(branch_violation(&id, &format!("{path}.branch"), s(&gh.branch)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::{decode, messages};

    fn check_flux(spec: &str, expect: &[&str]) {
        let f: FluxConfig = decode(&format!("metadata: {{name: f}}\nspec: {spec}\n"));
        assert_eq!(messages(&flux_config(&f)), expect, "{spec}");
    }

    #[test]
    fn flux_needs_exactly_one_provider() {
        check_flux("{github: {owner: o, repository: r}}", &[]);
        check_flux(
            "{git: {repositoryUrl: 'ssh://git@example.com/o/r.git', sshKeyAlgorithm: ed25519}}",
            &[],
        );
        check_flux(
            "{}",
            &["must specify a provider. Valid options are git and github"],
        );
        check_flux(
            "{github: {owner: o, repository: r}, git: {repositoryUrl: 'ssh://h/r'}}",
            &["must specify only one provider"],
        );
    }

    #[test]
    fn flux_checks_provider_fields_and_branch() {
        check_flux(
            "{github: {repository: 'my repo'}, branch: 'a..b'}",
            &[
                "'owner' is not set or empty in githubProviderConfig; owner is a required field",
                "my repo is not a valid git repository name, name can contain only letters, digits, '_', '-' and '.'",
                "a..b is not a valid git branch name, please check with this documentation https://git-scm.com/docs/git-check-ref-format for valid git branch names",
            ],
        );
        check_flux(
            "{git: {repositoryUrl: 'git@github.com:o/r.git', sshKeyAlgorithm: dsa}}",
            &[
                "'sshKeyAlgorithm' does not have a valid value in gitProviderConfig; sshKeyAlgorithm must be amongst rsa, ecdsa, ed25519",
                "unable to parse repository url: parse \"git@github.com:o/r.git\": first path segment in URL cannot contain colon",
            ],
        );
        check_flux(
            "{git: {repositoryUrl: 'https://github.com/o/r'}}",
            &["invalid repository url scheme: https"],
        );
        check_flux("{github: {owner: o, repository: r}, branch: release/v1}", &[]);
    }

    #[test]
    fn gitops_config_needs_owner_and_repository() {
        let g: GitOpsConfig = decode("metadata: {name: g}\nspec: {flux: {github: {branch: main}}}");
        assert_eq!(
            messages(&gitops_config(&g)),
            [
                "'owner' is not set or empty in gitOps.flux; owner is a required field",
                "'repository' is not set or empty in gitOps.flux; repository is a required field",
            ]
        );
    }
}

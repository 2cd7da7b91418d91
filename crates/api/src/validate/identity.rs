//! Identity providers: OIDCConfig and AWSIamConfig.

use super::syntax::parse_request_uri;
use super::*;

/// An OIDCConfig used by a Cluster: its fields (all of them), then that its name is `ref_name`
/// (the name in the Cluster's `identityProviderRefs`), then that it is in `cluster_namespace`.
///
/// An OIDCConfig without a name counts as "not configured" in EKS Anywhere; deciding that is the
/// caller's business.
pub fn oidc_config(o: &OIDCConfig, ref_name: &str, cluster_namespace: &str) -> Vec<Violation> {
    let mut out = oidc_config_fields(o);
    out.extend(ref_name_and_namespace(o, ref_name, cluster_namespace));
    out
}

/// The OIDCConfig field rules: `clientId` set, at most one required claim, `issuerUrl` set, an
/// absolute URL, and HTTPS.
pub(crate) fn oidc_config_fields(o: &OIDCConfig) -> Vec<Violation> {
    let id = object_id(o);
    let mut out = Vec::new();
    let Some(spec) = &o.spec else {
        return vec![
            Violation::new(&id, "spec.clientId", "OIDCConfig clientId is required"),
            Violation::new(&id, "spec.issuerUrl", "OIDCConfig issuerUrl is required"),
        ];
    };
    if s(&spec.client_id).is_empty() {
        out.push(
            Violation::new(&id, "spec.clientId", "OIDCConfig clientId is required")
                .with_hint("set the client ID the identity provider issued for this cluster"),
        );
    }
    if list(&spec.required_claims).len() > 1 {
        out.push(
            Violation::new(
                &id,
                "spec.requiredClaims",
                "only one OIDConfig requiredClaim is supported at this time",
            )
            .with_hint("keep a single requiredClaims entry"),
        );
    }
    let issuer = s(&spec.issuer_url);
    if issuer.is_empty() {
        out.push(
            Violation::new(&id, "spec.issuerUrl", "OIDCConfig issuerUrl is required")
                .with_hint("set the provider's HTTPS issuer URL, e.g. https://example.com/issuer"),
        );
        return out;
    }
    match parse_request_uri(issuer) {
        Err(why) => out.push(
            Violation::new(
                &id,
                "spec.issuerUrl",
                format!("OIDCConfig issuerUrl is invalid: parse {issuer:?}: {why}"),
            )
            .with_hint("write an absolute URL such as https://example.com/issuer"),
        ),
        Ok(u) if u.scheme != "https" => out.push(
            Violation::new(
                &id,
                "spec.issuerUrl",
                "OIDCConfig issuerUrl should have HTTPS scheme",
            )
            .with_hint("the API server only talks to an OIDC issuer over https://"),
        ),
        Ok(_) => {}
    }
    out
}

/// An AWSIamConfig used by a Cluster: its fields, then that its name is `ref_name`, then that it
/// is in `cluster_namespace`. Run the AWSIamConfig defaults first (`partition: aws`).
pub fn aws_iam_config(o: &AWSIamConfig, ref_name: &str, cluster_namespace: &str) -> Vec<Violation> {
    let mut out = aws_iam_config_fields(o);
    out.extend(ref_name_and_namespace(o, ref_name, cluster_namespace));
    out
}

/// The AWSIamConfig field rules: region, backend modes (no `MountedFile`), then each mapRoles
/// and mapUsers entry has an ARN and a user name.
pub(crate) fn aws_iam_config_fields(o: &AWSIamConfig) -> Vec<Violation> {
    let id = object_id(o);
    let mut out = Vec::new();
    let default_spec = AWSIamConfigSpec::default();
    let spec = o.spec.as_ref().unwrap_or(&default_spec);
    if s(&spec.aws_region).is_empty() {
        out.push(
            Violation::new(
                &id,
                "spec.awsRegion",
                "AWSIamConfig AWSRegion is a required field",
            )
            .with_hint("set the AWS region of the IAM authenticator, e.g. us-west-2"),
        );
    }
    let modes = list(&spec.backend_mode);
    if modes.is_empty() {
        out.push(
            Violation::new(
                &id,
                "spec.backendMode",
                "AWSIamConfig BackendMode is a required field",
            )
            .with_hint("set backendMode: [EKSConfigMap]"),
        );
    }
    for (i, mode) in modes.iter().enumerate() {
        if mode == "MountedFile" {
            out.push(
                Violation::new(
                    &id,
                    format!("spec.backendMode[{i}]"),
                    "AWSIamConfig BackendMode does not support MountedFile backend",
                )
                .with_hint("use EKSConfigMap or CRD"),
            );
        }
    }
    for (i, r) in list(&spec.map_roles).iter().enumerate() {
        if s(&r.role_arn).is_empty() {
            out.push(Violation::new(
                &id,
                format!("spec.mapRoles[{i}].roleARN"),
                "AWSIamConfig MapRoles RoleARN is required",
            ));
        }
        if s(&r.username).is_empty() {
            out.push(Violation::new(
                &id,
                format!("spec.mapRoles[{i}].username"),
                "AWSIamConfig MapRoles Username is required",
            ));
        }
    }
    for (i, u) in list(&spec.map_users).iter().enumerate() {
        if s(&u.user_arn).is_empty() {
            out.push(Violation::new(
                &id,
                format!("spec.mapUsers[{i}].userARN"),
                "AWSIamConfig MapUsers UserARN is required",
            ));
        }
        if s(&u.username).is_empty() {
            out.push(Violation::new(
                &id,
                format!("spec.mapUsers[{i}].username"),
                "AWSIamConfig MapUsers Username is required",
            ));
        }
    }
    out
}

fn ref_name_and_namespace<R: Resource>(o: &R, ref_name: &str, cluster_namespace: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    if o.name() != ref_name {
        out.push(
            Violation::new(
                object_id(o),
                "metadata.name",
                format!(
                    "{} retrieved with name {} does not match name ({ref_name}) specified in identityProviderRefs",
                    R::KIND,
                    o.name()
                ),
            )
            .with_hint("make the Cluster's identityProviderRefs name this object"),
        );
    } else if o.namespace() != cluster_namespace {
        out.push(
            Violation::new(
                object_id(o),
                "metadata.namespace",
                format!(
                    "{} and Cluster objects must have the same namespace specified",
                    R::KIND
                ),
            )
            .with_hint("put the object in the Cluster's namespace"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Fields, decode, parse_value};

    fn oidc(yaml: &str) -> OIDCConfig {
        decode(&parse_value(yaml, 1).expect("yaml"), Fields::Strict).expect("decode")
    }

    fn aws(yaml: &str) -> AWSIamConfig {
        decode(&parse_value(yaml, 1).expect("yaml"), Fields::Strict).expect("decode")
    }

    fn messages(v: &[Violation]) -> Vec<&str> {
        v.iter().map(|v| v.message.as_str()).collect()
    }

    const VALID_OIDC: &str = "kind: OIDCConfig\nmetadata: {name: o}\nspec:\n  clientId: id\n  issuerUrl: https://x.example/issuer\n";

    fn check_oidc(spec: &str, expect: &[&str]) {
        let o = oidc(&format!(
            "kind: OIDCConfig\nmetadata: {{name: o}}\nspec: {spec}\n"
        ));
        assert_eq!(messages(&oidc_config(&o, "o", "")), expect, "{spec}");
    }

    #[test]
    fn oidc_valid_config_passes() {
        assert!(oidc_config(&oidc(VALID_OIDC), "o", "").is_empty());
    }

    #[test]
    fn oidc_reports_every_field_problem_in_reference_order() {
        check_oidc("{issuerUrl: https://a.b}", &["OIDCConfig clientId is required"]);
        check_oidc(
            "{requiredClaims: [{claim: a}, {claim: b}]}",
            &[
                "OIDCConfig clientId is required",
                "only one OIDConfig requiredClaim is supported at this time",
                "OIDCConfig issuerUrl is required",
            ],
        );
        check_oidc(
            "{clientId: x, issuerUrl: mydomain./issuer}",
            &["OIDCConfig issuerUrl is invalid: parse \"mydomain./issuer\": invalid URI for request"],
        );
        check_oidc(
            "{clientId: x, issuerUrl: 'http://a.b/issuer'}",
            &["OIDCConfig issuerUrl should have HTTPS scheme"],
        );
    }

    #[test]
    fn oidc_checks_ref_name_then_namespace() {
        let o = oidc(VALID_OIDC);
        assert_eq!(
            messages(&oidc_config(&o, "other", "")),
            [
                "OIDCConfig retrieved with name o does not match name (other) specified in identityProviderRefs"
            ]
        );
        assert_eq!(
            messages(&oidc_config(&o, "o", "ns")),
            ["OIDCConfig and Cluster objects must have the same namespace specified"]
        );
    }

    fn check_aws(spec: &str, expect: &[&str]) {
        let o = aws(&format!(
            "kind: AWSIamConfig\nmetadata: {{name: a}}\nspec: {spec}\n"
        ));
        assert_eq!(messages(&aws_iam_config(&o, "a", "")), expect, "{spec}");
    }

    #[test]
    fn aws_iam_checks_region_backends_and_mappings_in_order() {
        check_aws("{awsRegion: r, backendMode: [mode1, mode2]}", &[]);
        check_aws(
            "{backendMode: [EKSConfigMap]}",
            &["AWSIamConfig AWSRegion is a required field"],
        );
        check_aws(
            "{awsRegion: r}",
            &["AWSIamConfig BackendMode is a required field"],
        );
        check_aws(
            "{awsRegion: r, backendMode: [MountedFile]}",
            &["AWSIamConfig BackendMode does not support MountedFile backend"],
        );
        check_aws(
            "{awsRegion: r, backendMode: [CRD], mapRoles: [{username: u}], mapUsers: [{username: u}]}",
            &[
                "AWSIamConfig MapRoles RoleARN is required",
                "AWSIamConfig MapUsers UserARN is required",
            ],
        );
        check_aws(
            "{awsRegion: r, backendMode: [CRD], mapUsers: [{userARN: x}]}",
            &["AWSIamConfig MapUsers Username is required"],
        );
    }

    #[test]
    fn aws_iam_checks_ref_name() {
        let o =
            aws("kind: AWSIamConfig\nmetadata: {name: wrong}\nspec: {awsRegion: r, backendMode: [CRD]}\n");
        assert_eq!(
            messages(&aws_iam_config(&o, "right", "")),
            [
                "AWSIamConfig retrieved with name wrong does not match name (right) specified in identityProviderRefs"
            ]
        );
    }
}

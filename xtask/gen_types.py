#!/usr/bin/env python3
"""Generate serde types for EKS Anywhere's v1alpha1 kinds from their CRD schemas.

Usage (from the repository root, with ../shared present):

    python3 xtask/gen_types.py

Writes crates/api/src/generated.rs (the kinds a user writes) and
crates/catalog/src/generated.rs (Bundles, EKSARelease, Release). The output is committed;
re-run this after the CRD schemas change and review the diff. See
docs/design/0002-spec-types-from-crds.md for why the types are generated this way.

Rules:
- every field is `Option<T>` with `#[serde(default, skip_serializing_if = "Option::is_none")]`, so a
  parse -> serialize round trip keeps exactly what the user wrote (Go's nil vs empty is kept too);
- every struct has `deny_unknown_fields` (EKS-A decodes strictly) except free-form fields
  (`x-kubernetes-preserve-unknown-fields`), which are `serde_json::Value`;
- int-or-string fields are `IntOrString`; maps are `BTreeMap` (deterministic output);
- sub-schemas that are identical (ignoring descriptions) share one Rust type.
"""
import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("ANYWHERE_SHARED", os.path.join(ROOT, "..", "shared"))
CRDS = os.path.join(SHARED, "conformance", "eksa", "crds")

API_KINDS = [
    "clusters", "vspheredatacenterconfigs", "vspheremachineconfigs", "tinkerbelldatacenterconfigs",
    "tinkerbellmachineconfigs", "tinkerbelltemplateconfigs", "cloudstackdatacenterconfigs",
    "cloudstackmachineconfigs", "nutanixdatacenterconfigs", "nutanixmachineconfigs",
    "snowdatacenterconfigs", "snowmachineconfigs", "snowippools", "dockerdatacenterconfigs",
    "awsdatacenterconfigs", "gitopsconfigs", "fluxconfigs", "oidcconfigs", "awsiamconfigs",
]
CATALOG_KINDS = ["release/bundles", "release/eksareleases", "release/releases"]

# Names for nested types where the property name alone would be unclear or clash.
RENAMES = {
    ("Cluster", "spec.controlPlaneConfiguration.endpoint"): "Endpoint",
    ("Cluster", "spec.controlPlaneConfiguration.machineGroupRef"): "Ref",
    ("Cluster", "spec.controlPlaneConfiguration.taints[]"): "Taint",
    ("Cluster", "spec.workerNodeGroupConfigurations[]"): "WorkerNodeGroupConfiguration",
    ("Cluster", "spec.etcdEncryption[]"): "EtcdEncryption",
    ("Cluster", "spec.etcdEncryption[].providers[]"): "EtcdEncryptionProvider",
    ("Cluster", "spec.etcdEncryption[].providers[].kms"): "KmsProvider",
    ("Cluster", "spec.identityProviderRefs[]"): "Ref",
    ("Cluster", "spec.registryMirrorConfiguration.ociNamespaces[]"): "OciNamespace",
    ("Cluster", "spec.clusterNetwork.pods"): "Cidrs",
    ("Cluster", "spec.workerNodeGroupConfigurations[].upgradeRolloutStrategy"): "WorkerUpgradeRolloutStrategy",
    ("Cluster", "spec.workerNodeGroupConfigurations[].upgradeRolloutStrategy.rollingUpdate"): "WorkerRollingUpdate",
    ("NutanixMachineConfig", "spec.cluster"): "NutanixResourceIdentifier",
    ("NutanixDatacenterConfig", "spec.failureDomains[].cluster"): "NutanixResourceIdentifier",
    ("NutanixDatacenterConfig", "spec.failureDomains[]"): "NutanixFailureDomain",
    ("SnowMachineConfig", "spec.network"): "SnowNetwork",
    ("FluxConfig", "spec.github"): "FluxGithub",
}

RUST_KEYWORDS = {"type", "ref", "match", "mod", "use", "struct", "enum", "fn", "impl", "self", "crate",
                 "where", "loop", "move", "static", "const", "async", "await", "dyn", "box", "in", "as",
                 "override", "priv", "final", "macro", "virtual", "yield", "try", "abstract", "become",
                 "do", "extern", "let", "mut", "pub", "return", "super", "trait", "true", "false", "unsafe",
                 "while", "for", "if", "else", "break", "continue", "gen"}


def pascal(s):
    parts = re.split(r"[^A-Za-z0-9]+", s)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return out or "Field"


def singular(s):
    if s.endswith("ies"):
        return s[:-3] + "y"
    if s.endswith("sses"):
        return s[:-2]
    if s.endswith("s") and not s.endswith("ss"):
        return s[:-1]
    return s


def snake(s):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).lower()
    if s in RUST_KEYWORDS:
        s = "r#" + s
    if s[0].isdigit():
        s = "f_" + s
    return s


def strip_desc(schema):
    if isinstance(schema, dict):
        return {k: strip_desc(v) for k, v in schema.items() if k not in ("description",)}
    if isinstance(schema, list):
        return [strip_desc(v) for v in schema]
    return schema


def doc_lines(desc, indent):
    if not desc:
        return []
    text = " ".join(desc.split()) if "\n\n" not in desc else desc
    lines = []
    for para in text.split("\n\n"):
        para = " ".join(para.split())
        para = para.replace("[", "\\[").replace("]", "\\]").replace("<", "&lt;").replace(">", "&gt;")
        lines.append(para)
    out = []
    for i, para in enumerate(lines):
        if i:
            out.append(indent + "///")
        out.append(indent + "/// " + para)
    return out


class Gen:
    def __init__(self):
        self.structs = {}  # name -> (canon, rust text)
        self.by_canon = {}  # canon -> name
        self.order = []
        self.kinds = []
        self.reserved = {"Resource", "ObjectMeta", "IntOrString"}

    def type_for(self, kind, path, prop, schema, parent):
        if schema.get("x-kubernetes-int-or-string"):
            return "IntOrString"
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return "serde_json::Value"
        t = schema.get("type")
        if t == "string":
            return "String"
        if t == "integer":
            return "i64"
        if t == "number":
            return "f64"
        if t == "boolean":
            return "bool"
        if t == "array":
            item_name = singular(prop)
            inner = self.type_for(kind, path + "[]", item_name, schema.get("items", {}), parent)
            return f"Vec<{inner}>"
        if t == "object" or "properties" in schema:
            if "properties" in schema:
                return self.struct_for(kind, path, prop, schema, parent)
            ap = schema.get("additionalProperties")
            if isinstance(ap, dict):
                inner = self.type_for(kind, path + "{}", prop, ap, parent)
                return f"BTreeMap<String, {inner}>"
            if path.endswith("metadata") and path.count(".") == 0:
                return "ObjectMeta"
            return self.struct_for(kind, path, prop, schema, parent)
        return "serde_json::Value"

    def struct_for(self, kind, path, prop, schema, parent, name=None):
        canon = json.dumps(strip_desc(schema), sort_keys=True)
        root = name is not None
        if root:
            canon = name + canon
        else:
            name = RENAMES.get((kind, path)) or pascal(prop)
        if canon in self.by_canon:
            return self.by_canon[canon]
        base = name
        n = 0
        while name in self.structs or (not root and name in self.reserved):
            n += 1
            name = (parent + base) if n == 1 else f"{parent}{base}{n}"
        self.structs[name] = (canon, None)
        self.by_canon[canon] = name
        lines = doc_lines(schema.get("description"), "") or [f"/// `{path}` of {kind}."]
        lines.append("#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]")
        lines.append('#[serde(deny_unknown_fields, rename_all = "camelCase")]')
        lines.append(f"pub struct {name} {{")
        for p, ps in (schema.get("properties") or {}).items():
            ty = self.type_for(kind, f"{path}.{p}" if path else p, p, ps, name)
            lines += doc_lines(ps.get("description"), "    ") or [f"    /// `{p}`."]
            field = snake(p)
            lines.append(f'    #[serde(rename = "{p}", default, skip_serializing_if = "Option::is_none")]')
            lines.append(f"    pub {field}: Option<{ty}>,")
        lines.append("}")
        self.structs[name] = (canon, "\n".join(lines))
        self.order.append(name)
        return name

    def kind(self, path, version_name=None, kind_name=None):
        docs = [d for d in yaml.safe_load_all(open(path)) if d and d.get("kind") == "CustomResourceDefinition"]
        if kind_name:
            docs = [d for d in docs if d["spec"]["names"]["kind"] == kind_name]
        d = docs[0]
        kind = d["spec"]["names"]["kind"]
        self.reserved.add(kind)
        group = d["spec"]["group"]
        if version_name:
            version = [v for v in d["spec"]["versions"] if v["name"] == version_name][0]
        else:
            version = [v for v in d["spec"]["versions"] if v.get("storage", True)][0]
        schema = version["schema"]["openAPIV3Schema"]
        props = schema["properties"]
        fields = []
        for p in ("spec", "status"):
            if p in props:
                ty = self.struct_for(kind, p, p, props[p], kind, name=kind + pascal(p))
                fields.append((p, ty, props[p].get("description")))
        self.kinds.append((kind, group, version["name"], schema.get("description"), fields))

    def render(self, header):
        out = [header]
        for name in self.order:
            out.append(self.structs[name][1])
            out.append("")
        for kind, group, version, desc, fields in self.kinds:
            out += doc_lines(desc, "") or [f"/// {kind}."]
            out.append("#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]")
            out.append('#[serde(deny_unknown_fields, rename_all = "camelCase")]')
            out.append(f"pub struct {kind} {{")
            out.append("    /// `apiVersion`: the group and version, `" + group + "/" + version + "`.")
            out.append('    #[serde(rename = "apiVersion", default, skip_serializing_if = "Option::is_none")]')
            out.append("    pub api_version: Option<String>,")
            out.append(f"    /// `kind`: always `{kind}`.")
            out.append('    #[serde(default, skip_serializing_if = "Option::is_none")]')
            out.append("    pub kind: Option<String>,")
            out.append("    /// Standard object metadata.")
            out.append('    #[serde(default, skip_serializing_if = "Option::is_none")]')
            out.append("    pub metadata: Option<ObjectMeta>,")
            for p, ty, d in fields:
                out += doc_lines(d, "    ") or [f"    /// `{p}`."]
                out.append('    #[serde(default, skip_serializing_if = "Option::is_none")]')
                out.append(f"    pub {p}: Option<{ty}>,")
            out.append("}")
            out.append("")
            out.append(f"impl Resource for {kind} {{")
            out.append(f'    const KIND: &\'static str = "{kind}";')
            out.append(f'    const API_VERSION: &\'static str = "{group}/{version}";')
            out.append("    fn metadata(&self) -> Option<&ObjectMeta> {")
            out.append("        self.metadata.as_ref()")
            out.append("    }")
            out.append("    fn metadata_mut(&mut self) -> &mut ObjectMeta {")
            out.append("        self.metadata.get_or_insert_with(ObjectMeta::default)")
            out.append("    }")
            out.append("}")
            out.append("")
        return "\n".join(out)


HEADER = """// @generated by xtask/gen_types.py from the EKS Anywhere CRD schemas
// (conformance/eksa/crds/{src} at aws/eks-anywhere aebd9a0623cd). Do not edit by hand:
// change the generator and re-run `python3 xtask/gen_types.py`.
//! Serde types for {what}, one struct per object in the CRD schema.
#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant, unused_imports)]

use std::collections::BTreeMap;

use serde::{{Deserialize, Serialize}};

use {imports};
"""


def main():
    if not os.path.isdir(CRDS):
        sys.exit(f"no CRD schemas at {CRDS}: this generator needs ../shared")
    g = Gen()
    g.reserved |= {yaml.safe_load(open(os.path.join(CRDS, f"anywhere.eks.amazonaws.com_{k}.yaml")))["spec"]["names"]["kind"] for k in API_KINDS}
    for k in API_KINDS:
        g.kind(os.path.join(CRDS, f"anywhere.eks.amazonaws.com_{k}.yaml"))
    text = g.render(HEADER.format(src="*.yaml", what="the kinds a user writes in `anywhere.eks.amazonaws.com/v1alpha1`",
                                  imports="crate::meta::{IntOrString, ObjectMeta, Resource}"))
    open(os.path.join(ROOT, "crates/api/src/generated.rs"), "w").write(text)
    g = Gen()
    for k in CATALOG_KINDS:
        d, b = k.split("/")
        g.kind(os.path.join(CRDS, d, f"anywhere.eks.amazonaws.com_{b}.yaml"))
    text = g.render(HEADER.format(src="release/*.yaml", what="the release catalog kinds (Bundles, EKSARelease, Release)",
                                  imports="anywhere_api::meta::{IntOrString, ObjectMeta, Resource}"))
    open(os.path.join(ROOT, "crates/catalog/src/generated.rs"), "w").write(text)


CAPI = os.path.join(SHARED, "conformance", "crds")

# Module name -> [(CRD file under conformance/crds, version)]. One module per group/version so
# that names of nested types never clash across providers.
MANIFEST_MODULES = {
    "cluster_v1beta2": [
        ("cluster-api/cluster.x-k8s.io_clusters.yaml", "v1beta2"),
        ("cluster-api/cluster.x-k8s.io_machinedeployments.yaml", "v1beta2"),
        ("cluster-api/cluster.x-k8s.io_machinehealthchecks.yaml", "v1beta2"),
    ],
    "addons_v1beta2": [("cluster-api/addons.cluster.x-k8s.io_clusterresourcesets.yaml", "v1beta2")],
    "bootstrap_v1beta2": [("cluster-api/bootstrap.cluster.x-k8s.io_kubeadmconfigtemplates.yaml", "v1beta2")],
    "controlplane_v1beta2": [("cluster-api/controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml", "v1beta2")],
    "etcdadm_v1beta1": [("etcdadm-controller/etcdcluster.cluster.x-k8s.io_etcdadmclusters.yaml", "v1beta1")],
    "vsphere_v1beta1": [
        ("cluster-api-provider-vsphere/infrastructure.cluster.x-k8s.io_vsphereclusters.yaml", "v1beta1"),
        ("cluster-api-provider-vsphere/infrastructure.cluster.x-k8s.io_vspheremachinetemplates.yaml", "v1beta1"),
        ("cluster-api-provider-vsphere/infrastructure.cluster.x-k8s.io_vspherefailuredomains.yaml", "v1beta1"),
        ("cluster-api-provider-vsphere/infrastructure.cluster.x-k8s.io_vspheredeploymentzones.yaml", "v1beta1"),
    ],
    "tinkerbell_v1beta1": [
        ("cluster-api-provider-tinkerbell/infrastructure.cluster.x-k8s.io_tinkerbellclusters.yaml", "v1beta1"),
        ("cluster-api-provider-tinkerbell/infrastructure.cluster.x-k8s.io_tinkerbellmachinetemplates.yaml", "v1beta1"),
    ],
    "nutanix_v1beta1": [
        ("cluster-api-provider-nutanix/infrastructure.cluster.x-k8s.io_nutanixclusters.yaml", "v1beta1"),
        ("cluster-api-provider-nutanix/infrastructure.cluster.x-k8s.io_nutanixmachinetemplates.yaml", "v1beta1"),
    ],
    "cloudstack_v1beta3": [
        ("cluster-api-provider-cloudstack/infrastructure.cluster.x-k8s.io_cloudstackclusters.yaml", "v1beta3"),
        ("cluster-api-provider-cloudstack/infrastructure.cluster.x-k8s.io_cloudstackmachinetemplates.yaml", "v1beta3"),
    ],
    "docker_v1beta2": [
        ("cluster-api-docker/infrastructure.cluster.x-k8s.io_dockerclusters.yaml", "v1beta2"),
        ("cluster-api-docker/infrastructure.cluster.x-k8s.io_dockermachinetemplates.yaml", "v1beta2"),
    ],
    "snow_v1beta1": [
        ("cluster-api-provider-aws-snow/snow-crds.yaml", "v1beta1", "AWSSnowCluster"),
        ("cluster-api-provider-aws-snow/snow-crds.yaml", "v1beta1", "AWSSnowMachineTemplate"),
        ("cluster-api-provider-aws-snow/snow-crds.yaml", "v1beta1", "AWSSnowIPPool"),
    ],
    "tinkerbell_org_v1alpha1": [("tink/tinkerbell.org_hardware.yaml", "v1alpha1")],
    "rufio_v1alpha1": [("rufio/bmc.tinkerbell.org_machines.yaml", "v1alpha1")],
}


def generate_manifest_types():
    out_dir = os.path.join(ROOT, "crates/manifests/src/types")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for module, crds in MANIFEST_MODULES.items():
        g = Gen()
        crds = [c if len(c) == 3 else (c[0], c[1], None) for c in crds]
        for rel, version, kind in crds:
            docs = [x for x in yaml.safe_load_all(open(os.path.join(CAPI, rel))) if x]
            g.reserved |= {d["spec"]["names"]["kind"] for d in docs if not kind or d["spec"]["names"]["kind"] == kind}
        for rel, version, kind in crds:
            g.kind(os.path.join(CAPI, rel), version, kind)
        text = g.render(HEADER.format(
            src=", ".join(f"{r}@{v}" + (f"#{k}" if k else "") for r, v, k in crds),
            what=f"the `{module}` Cluster API kinds anywhere emits",
            imports="anywhere_api::meta::{IntOrString, ObjectMeta, Resource}"))
        text = text.replace("conformance/eksa/crds/", "conformance/crds/").replace(" at aws/eks-anywhere aebd9a0623cd", " (commits in SOURCES.tsv)")
        path = os.path.join(out_dir, f"{module}.rs")
        open(path, "w").write(text)
        written.append(path)
    return written


def rustfmt(paths):
    """Format the output as `cargo fmt` would, so `cargo fmt --check` stays clean."""
    import subprocess
    subprocess.run(["rustfmt", "--edition", "2024", "--config-path", os.path.join(ROOT, "rustfmt.toml"), *paths], check=True)


if __name__ == "__main__":
    main()
    manifests = generate_manifest_types()
    rustfmt([os.path.join(ROOT, "crates/api/src/generated.rs"), os.path.join(ROOT, "crates/catalog/src/generated.rs"), *manifests])

#!/usr/bin/env python3
"""Generate the embedded release catalog of anywhere-catalog.

Usage (from the repository root):

    python3 crates/catalog/data/generate.py

Writes crates/catalog/data/bundles.yaml and one EKS Distro release manifest per Kubernetes
version under crates/catalog/data/eks-d/. The output is committed; edit the tables below and
re-run rather than editing the YAML by hand, so every version stays consistent. See README.md
in this directory for where the values come from.

Only the Python standard library is used: the YAML is written by a small emitter so the output
is stable byte for byte.
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))

# --- EKS Distro, one row per Kubernetes minor version ---------------------------------------
# (minor, EKS-D release number, kubernetes, etcd, coredns, aws-iam-authenticator, cni-plugins, cri-tools)
EKSD = [
    ("30", 51, "v1.30.14", "v3.5.21", "v1.11.4", "v0.6.29", "v1.6.2", "v1.30.1"),
    ("31", 39, "v1.31.14", "v3.5.21", "v1.11.4", "v0.6.29", "v1.6.2", "v1.31.1"),
    ("32", 32, "v1.32.11", "v3.5.21", "v1.11.4", "v0.6.29", "v1.6.2", "v1.32.0"),
    ("33", 23, "v1.33.7", "v3.5.21", "v1.12.2", "v0.7.2", "v1.6.2", "v1.33.0"),
    ("34", 14, "v1.34.3", "v3.5.21", "v1.12.4", "v0.7.4", "v1.7.1", "v1.34.0"),
    ("35", 4, "v1.35.4", "v3.5.21", "v1.13.1", "v0.7.8", "v1.7.1", "v1.35.0"),
    ("36", 2, "v1.36.1", "v3.6.5", "v1.13.1", "v0.7.8", "v1.7.1", "v1.36.0"),
]

# vSphere cloud-provider (CPI) release used with each Kubernetes minor version.
VSPHERE_CPI = {"30": "v1.30.1", "31": "v1.31.0", "32": "v1.32.2", "33": "v1.33.0", "34": "v1.34.0",
               "35": "v1.35.0", "36": "v1.36.0"}

# --- EKS Anywhere components (shared by every Kubernetes version) ---------------------------
BUNDLE_NUMBER = 110
CLI_VERSION = "v0.26.1"
ECR = "public.ecr.aws/eks-anywhere"
ASSETS = f"https://anywhere-assets.eks.amazonaws.com/releases/bundles/{BUNDLE_NUMBER}/artifacts"
SUFFIX = f"eks-a-{BUNDLE_NUMBER}"

CAPI = "v1.11.3"
KUBE_RBAC_PROXY = "v0.20.0"
CERT_MANAGER = "v1.18.2"
CILIUM = "v1.17.6-eksa.1"
CAPC = "v0.6.1"
CAPV = "v1.14.0"
CAPX = "v1.7.1"
CAPT = "v0.6.6"
CAPAS = "v0.2.6"
NUTANIX_CCM = "v0.5.2"
KUBE_VIP = "v0.9.2"
ETCDADM_BOOTSTRAP = "v1.0.18"
ETCDADM_CONTROLLER = "v1.0.28"
FLUX = "v2.6.4"
FLUX_CONTROLLERS = {"helm": "v1.3.0", "kustomize": "v1.6.1", "notification": "v1.6.0", "source": "v1.6.2"}
KIND = "v0.29.0"
PACKAGES = "v0.4.7"
TINKERBELL = "v0.20.1"
HOOK = "v0.11.1"
ACTIONS = "v1.0.0"
ENVOY = "v1.33.2"
BOTTLEROCKET_ADMIN = "v0.12.1"
BOTTLEROCKET_CONTROL = "v0.8.5"
CONTAINERD = "v2.1.4"
ETCDADM = "v0.1.5"
IMAGE_BUILDER = "v0.6.2"


def image(name, path, tag, arch=("amd64", "arm64")):
    """A container image entry (the CRD's Image type), without a pinned digest."""
    return {
        "arch": list(arch),
        "description": f"Container image for {name} image",
        "name": name,
        "os": "linux",
        "uri": f"{path}:{tag}",
    }


def ecr(name, repo, version):
    return image(name, f"{ECR}/{repo}", f"{version}-{SUFFIX}")


def chart(name, path, tag):
    return {"description": f"Helm chart for {name}", "name": name, "uri": f"{path}:{tag}"}


def manifest(project, directory, version, file):
    return {"uri": f"{ASSETS}/{project}/manifests/{directory}/{version}/{file}"}


def archive(name, uri, description, arch="amd64", os_name=None):
    entry = {"arch": [arch], "description": description, "name": name, "os": "linux"}
    if os_name:
        entry["osName"] = os_name
    entry["uri"] = uri
    return entry


def rbac_proxy():
    return ecr("kube-rbac-proxy", "brancz/kube-rbac-proxy", KUBE_RBAC_PROXY)


def kube_vip():
    return ecr("kube-vip", "kube-vip/kube-vip", KUBE_VIP)


def capi_provider(directory, controller_name, controller_repo, components_file):
    return {
        "components": manifest("cluster-api", directory, CAPI, components_file),
        "controller": ecr(controller_name, controller_repo, CAPI),
        "kubeProxy": rbac_proxy(),
        "metadata": manifest("cluster-api", directory, CAPI, "metadata.yaml"),
        "version": CAPI,
    }


def versions_bundle(row):
    minor, number, kube, _etcd, _coredns, _iam, _cni, crictl = row
    channel = f"1-{minor}"
    eksd_tag = f"eks-d-{channel}-{number}"
    br_tag = f"v{channel}-{number}-{SUFFIX}"
    ova_base = f"{ASSETS}/eks-distro/{channel}/{channel}-{number}"
    br_name = f"bottlerocket-{kube}-{eksd_tag}-{SUFFIX}-amd64"
    return {
        "bootstrap": capi_provider("bootstrap-kubeadm", "kubeadm-bootstrap-controller",
                                   "kubernetes-sigs/cluster-api/kubeadm-bootstrap-controller",
                                   "bootstrap-components.yaml"),
        "bottlerocketBootstrapContainers": {
            "multiNetworkBootstrap": ecr("bottlerocket-multi-network-bootstrap",
                                        "bottlerocket-multi-network-bootstrap", f"v{channel}-{number}"),
        },
        "bottlerocketHostContainers": {
            "admin": image("bottlerocket-admin", "public.ecr.aws/bottlerocket/bottlerocket-admin",
                           BOTTLEROCKET_ADMIN, ("amd64",)),
            "control": image("bottlerocket-control", "public.ecr.aws/bottlerocket/bottlerocket-control",
                             BOTTLEROCKET_CONTROL, ("amd64",)),
            "kubeadmBootstrap": image("bottlerocket-bootstrap", f"{ECR}/bottlerocket-bootstrap", br_tag),
        },
        "certManager": {
            "acmesolver": ecr("cert-manager-acmesolver", "cert-manager/cert-manager-acmesolver", CERT_MANAGER),
            "cainjector": ecr("cert-manager-cainjector", "cert-manager/cert-manager-cainjector", CERT_MANAGER),
            "controller": ecr("cert-manager-controller", "cert-manager/cert-manager-controller", CERT_MANAGER),
            "manifest": manifest("cert-manager", "cert-manager", CERT_MANAGER, "cert-manager.yaml"),
            "startupapicheck": ecr("cert-manager-startupapicheck", "cert-manager/cert-manager-startupapicheck",
                                   CERT_MANAGER),
            "version": CERT_MANAGER,
            "webhook": ecr("cert-manager-webhook", "cert-manager/cert-manager-webhook", CERT_MANAGER),
        },
        "cilium": {
            "cilium": image("cilium", "public.ecr.aws/isovalent/cilium", CILIUM),
            "helmChart": chart("cilium-chart", "public.ecr.aws/isovalent/cilium", CILIUM.lstrip("v")),
            "operator": image("operator-generic", "public.ecr.aws/isovalent/operator-generic", CILIUM),
            "version": CILIUM,
        },
        "cloudStack": {
            "clusterAPIController": ecr("cluster-api-provider-cloudstack",
                                        "kubernetes-sigs/cluster-api-provider-cloudstack/release/manager", CAPC),
            "components": manifest("cluster-api-provider-cloudstack", "infrastructure-cloudstack", CAPC,
                                   "infrastructure-components.yaml"),
            "kubeRbacProxy": rbac_proxy(),
            "kubeVip": kube_vip(),
            "metadata": manifest("cluster-api-provider-cloudstack", "infrastructure-cloudstack", CAPC,
                                 "metadata.yaml"),
            "version": CAPC,
        },
        "clusterAPI": capi_provider("cluster-api", "cluster-api-controller",
                                    "kubernetes-sigs/cluster-api/cluster-api-controller", "core-components.yaml"),
        "controlPlane": capi_provider("control-plane-kubeadm", "kubeadm-control-plane-controller",
                                      "kubernetes-sigs/cluster-api/kubeadm-control-plane-controller",
                                      "control-plane-components.yaml"),
        "docker": {
            "clusterTemplate": manifest("cluster-api", "infrastructure-docker", CAPI,
                                        "cluster-template-development.yaml"),
            "components": manifest("cluster-api", "infrastructure-docker", CAPI,
                                   "infrastructure-components-development.yaml"),
            "kubeProxy": rbac_proxy(),
            "manager": ecr("cluster-api-provider-docker", "kubernetes-sigs/cluster-api/capd-manager", CAPI),
            "metadata": manifest("cluster-api", "infrastructure-docker", CAPI, "metadata.yaml"),
            "version": CAPI,
        },
        "eksD": {
            "ami": {"bottlerocket": archive(f"{br_name}.img.gz", f"{ova_base}/ami/{br_name}.img.gz",
                                            f"Bottlerocket AMI image for EKS-D {channel}-{number} release",
                                            os_name="bottlerocket")},
            "channel": channel,
            "components": "https://distro.eks.amazonaws.com/crds/releases.distro.eks.amazonaws.com-v1alpha1.yaml",
            "containerd": archive(f"containerd-{SUFFIX}-linux-amd64.tar.gz",
                                  f"{ASSETS}/containerd/{CONTAINERD}/containerd-{SUFFIX}-linux-amd64.tar.gz",
                                  "containerd tarball for linux/amd64"),
            "crictl": archive(f"cri-tools-{SUFFIX}-linux-amd64.tar.gz",
                              f"{ASSETS}/cri-tools/{crictl}/cri-tools-{SUFFIX}-linux-amd64.tar.gz",
                              "cri-tools tarball for linux/amd64"),
            "etcdadm": archive(f"etcdadm-{SUFFIX}-linux-amd64.tar.gz",
                               f"{ASSETS}/etcdadm/{ETCDADM}/etcdadm-{SUFFIX}-linux-amd64.tar.gz",
                               "etcdadm tarball for linux/amd64"),
            "imagebuilder": archive(f"image-builder-{SUFFIX}-linux-amd64.tar.gz",
                                    f"{ASSETS}/image-builder/{IMAGE_BUILDER}/image-builder-{SUFFIX}-linux-amd64.tar.gz",
                                    "image-builder tarball for linux/amd64"),
            "kindNode": ecr("kind-node", "kubernetes-sigs/kind/node", f"{kube}-{eksd_tag}"),
            "kubeVersion": kube,
            "manifestUrl": eksd_url(row),
            "name": f"kubernetes-{channel}-eks-{number}",
            "ova": {"bottlerocket": archive(f"{br_name}.ova", f"{ova_base}/ova/{br_name}.ova",
                                            f"Bottlerocket OVA image for EKS-D {channel}-{number} release",
                                            os_name="bottlerocket")},
            "raw": {"bottlerocket": archive(f"{br_name}.img.gz", f"{ova_base}/raw/{br_name}.img.gz",
                                            f"Bottlerocket raw image for EKS-D {channel}-{number} release",
                                            os_name="bottlerocket")},
        },
        "eksa": {
            "cliTools": ecr("eks-anywhere-cli-tools", "eks-anywhere-cli-tools", CLI_VERSION),
            "clusterController": ecr("eks-anywhere-cluster-controller", "eks-anywhere-cluster-controller",
                                     CLI_VERSION),
            "components": manifest("eks-anywhere", "cluster-controller", CLI_VERSION, "eksa-components.yaml"),
            "diagnosticCollector": ecr("eks-anywhere-diagnostic-collector", "eks-anywhere-diagnostic-collector",
                                       CLI_VERSION),
            "version": CLI_VERSION,
        },
        "etcdadmBootstrap": {
            "components": manifest("etcdadm-bootstrap-provider", "bootstrap-etcdadm-bootstrap", ETCDADM_BOOTSTRAP,
                                   "bootstrap-components.yaml"),
            "controller": ecr("etcdadm-bootstrap-provider", "aws/etcdadm-bootstrap-provider", ETCDADM_BOOTSTRAP),
            "kubeProxy": rbac_proxy(),
            "metadata": manifest("etcdadm-bootstrap-provider", "bootstrap-etcdadm-bootstrap", ETCDADM_BOOTSTRAP,
                                 "metadata.yaml"),
            "version": ETCDADM_BOOTSTRAP,
        },
        "etcdadmController": {
            "components": manifest("etcdadm-controller", "bootstrap-etcdadm-controller", ETCDADM_CONTROLLER,
                                   "bootstrap-components.yaml"),
            "controller": ecr("etcdadm-controller", "aws/etcdadm-controller", ETCDADM_CONTROLLER),
            "kubeProxy": rbac_proxy(),
            "metadata": manifest("etcdadm-controller", "bootstrap-etcdadm-controller", ETCDADM_CONTROLLER,
                                 "metadata.yaml"),
            "version": ETCDADM_CONTROLLER,
        },
        "flux": {
            "helmController": ecr("helm-controller", "fluxcd/helm-controller", FLUX_CONTROLLERS["helm"]),
            "kustomizeController": ecr("kustomize-controller", "fluxcd/kustomize-controller",
                                       FLUX_CONTROLLERS["kustomize"]),
            "notificationController": ecr("notification-controller", "fluxcd/notification-controller",
                                          FLUX_CONTROLLERS["notification"]),
            "sourceController": ecr("source-controller", "fluxcd/source-controller", FLUX_CONTROLLERS["source"]),
            "version": FLUX,
        },
        "haproxy": {"image": ecr("haproxy", "kubernetes-sigs/kind/haproxy", KIND)},
        "kindnetd": {"manifest": manifest("kind", "kindnetd", KIND, "kindnetd.yaml"), "version": KIND},
        "kubeVersion": f"1.{minor}",
        "nutanix": {
            "cloudProvider": ecr("cloud-provider-nutanix", "nutanix-cloud-native/cloud-provider-nutanix/controller",
                                 NUTANIX_CCM),
            "clusterAPIController": ecr("cluster-api-provider-nutanix",
                                        "nutanix-cloud-native/cluster-api-provider-nutanix", CAPX),
            "clusterTemplate": manifest("cluster-api-provider-nutanix", "infrastructure-nutanix", CAPX,
                                        "cluster-template.yaml"),
            "components": manifest("cluster-api-provider-nutanix", "infrastructure-nutanix", CAPX,
                                   "infrastructure-components.yaml"),
            "kubeVip": kube_vip(),
            "metadata": manifest("cluster-api-provider-nutanix", "infrastructure-nutanix", CAPX, "metadata.yaml"),
            "version": CAPX,
        },
        "packageController": {
            "credentialProviderPackage": ecr("credential-provider-package", "credential-provider-package", PACKAGES),
            "helmChart": chart("eks-anywhere-packages", f"{ECR}/eks-anywhere-packages",
                               f"{PACKAGES.lstrip('v')}-{SUFFIX}"),
            "packageController": ecr("eks-anywhere-packages", "eks-anywhere-packages", PACKAGES),
            "tokenRefresher": ecr("ecr-token-refresher", "ecr-token-refresher", PACKAGES),
            "version": PACKAGES,
        },
        "snow": {
            "bottlerocketBootstrapSnow": image("bottlerocket-bootstrap-snow", f"{ECR}/bottlerocket-bootstrap-snow",
                                               br_tag),
            "components": manifest("cluster-api-provider-aws-snow", "infrastructure-snow", CAPAS,
                                   "infrastructure-components.yaml"),
            "kubeVip": kube_vip(),
            "manager": ecr("cluster-api-snow-controller", "aws/cluster-api-provider-aws-snow/manager", CAPAS),
            "metadata": manifest("cluster-api-provider-aws-snow", "infrastructure-snow", CAPAS, "metadata.yaml"),
            "version": CAPAS,
        },
        "tinkerbell": tinkerbell(),
        "upgrader": {"upgrader": image("upgrader", f"{ECR}/aws/upgrader", br_tag)},
        "vSphere": {
            "clusterAPIController": ecr("cluster-api-provider-vsphere",
                                        "kubernetes-sigs/cluster-api-provider-vsphere/release/manager", CAPV),
            "clusterTemplate": manifest("cluster-api-provider-vsphere", "infrastructure-vsphere", CAPV,
                                        "cluster-template.yaml"),
            "components": manifest("cluster-api-provider-vsphere", "infrastructure-vsphere", CAPV,
                                   "infrastructure-components.yaml"),
            "kubeProxy": rbac_proxy(),
            "kubeVip": kube_vip(),
            "manager": ecr("cloud-provider-vsphere", "kubernetes/cloud-provider-vsphere/cpi/manager",
                           f"{VSPHERE_CPI[minor]}-eks-d-{channel}"),
            "metadata": manifest("cluster-api-provider-vsphere", "infrastructure-vsphere", CAPV, "metadata.yaml"),
            "version": CAPV,
        },
    }


def hook_files(stem):
    def one(arch, suffix):
        return {
            "description": "Tinkerbell operating system installation environment (osie) component",
            "name": f"{stem}-{suffix}",
            "uri": f"{ASSETS}/hook/{HOOK}/{stem}-{suffix}",
        }
    return {"amd": one("amd64", "x86_64"), "arm": one("arm64", "aarch64")}


def tinkerbell():
    def action(name, field_repo):
        return ecr(name, f"tinkerbell/actions/{field_repo}", ACTIONS)
    return {
        "clusterAPIController": ecr("cluster-api-provider-tinkerbell", "tinkerbell/cluster-api-provider-tinkerbell",
                                    CAPT),
        "clusterTemplate": manifest("cluster-api-provider-tinkerbell", "infrastructure-tinkerbell", CAPT,
                                    "cluster-template.yaml"),
        "components": manifest("cluster-api-provider-tinkerbell", "infrastructure-tinkerbell", CAPT,
                               "infrastructure-components.yaml"),
        "envoy": ecr("envoy", "envoyproxy/envoy", ENVOY),
        "kubeVip": kube_vip(),
        "metadata": manifest("cluster-api-provider-tinkerbell", "infrastructure-tinkerbell", CAPT, "metadata.yaml"),
        "tinkerbellStack": {
            "actions": {
                "cexec": action("cexec", "cexec"),
                "imageToDisk": action("image2disk", "image2disk"),
                "kexec": action("kexec", "kexec"),
                "ociToDisk": action("oci2disk", "oci2disk"),
                "reboot": action("reboot", "reboot"),
                "writeFile": action("writefile", "writefile"),
            },
            "boots": ecr("smee", "tinkerbell/smee", TINKERBELL),
            "hook": {
                "bootkit": ecr("hook-bootkit", "tinkerbell/hook-bootkit", HOOK),
                "docker": ecr("hook-docker", "tinkerbell/hook-docker", HOOK),
                "initramfs": hook_files("initramfs"),
                "iso": {
                    "amd": {"description": "Tinkerbell hook ISO", "name": "hook-x86_64-efi-initrd.iso",
                            "uri": f"{ASSETS}/hook/{HOOK}/hook-x86_64-efi-initrd.iso"},
                    "arm": {"description": "Tinkerbell hook ISO", "name": "hook-aarch64-efi-initrd.iso",
                            "uri": f"{ASSETS}/hook/{HOOK}/hook-aarch64-efi-initrd.iso"},
                },
                "kernel": ecr("hook-kernel", "tinkerbell/hook-kernel", HOOK),
                "vmlinuz": hook_files("vmlinuz"),
            },
            "stack": ecr("tinkerbell", "tinkerbell/tinkerbell", TINKERBELL),
            "tink": {"tinkRelayInit": ecr("tink-relay-init", "tinkerbell/tink/tink-relay-init", TINKERBELL)},
            "tinkerbellChart": chart("tinkerbell-chart", f"{ECR}/tinkerbell/tinkerbell-chart",
                                     f"{TINKERBELL.lstrip('v')}-{SUFFIX}"),
            "tinkerbellCrds": chart("tinkerbell-crds", f"{ECR}/tinkerbell/tinkerbell-crds",
                                    f"{TINKERBELL.lstrip('v')}-{SUFFIX}"),
        },
        "version": CAPT,
    }


def eksd_name(row):
    return f"kubernetes-1-{row[0]}-eks-{row[1]}"


def eksd_url(row):
    return f"https://distro.eks.amazonaws.com/kubernetes-1-{row[0]}/{eksd_name(row)}.yaml"


def eksd_release(row):
    minor, number, kube, etcd, coredns, iam, cni, _crictl = row
    channel = f"1-{minor}"
    tag = f"eks-{channel}-{number}"
    base = f"https://distro.eks.amazonaws.com/kubernetes-{channel}/releases/{number}/artifacts"
    distro = "public.ecr.aws/eks-distro"

    def img(name, uri):
        return {"arch": ["amd64", "arm64"], "description": f"{name} container image",
                "image": {"uri": uri}, "name": f"{name}-image", "os": "linux", "type": "Image"}

    def tarball(name, uri, description, arch):
        return {"arch": [arch], "archive": {"uri": uri}, "description": description, "name": name,
                "os": "linux", "type": "Archive"}

    def tarballs(project, version, stem, label):
        return [tarball(f"{stem}-linux-{arch}-{version}.tar.gz",
                        f"{base}/{project}/{version}/{stem}-linux-{arch}-{version}.tar.gz",
                        f"{label} tarball for linux/{arch}", arch)
                for arch in ("arm64", "amd64")]

    kube_assets = [img(name, f"{distro}/kubernetes/{name}:{kube}-{tag}")
                   for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
                                "pause")]
    for arch in ("arm64", "amd64"):
        for part in ("server", "node", "client"):
            kube_assets.append(tarball(f"kubernetes-{part}-linux-{arch}.tar.gz",
                                       f"{base}/kubernetes/{kube}/kubernetes-{part}-linux-{arch}.tar.gz",
                                       f"Kubernetes {part} tarball for linux/{arch}", arch))
        for binary in ("kubeadm", "kubectl", "kubelet"):
            kube_assets.append(tarball(f"bin/linux/{arch}/{binary}",
                                       f"{base}/kubernetes/{kube}/bin/linux/{arch}/{binary}",
                                       f"{binary} binary for linux/{arch}", arch))
    components = [
        {"assets": tarballs("plugins", cni, "cni-plugins", "cni-plugins"), "gitTag": cni, "name": "cni-plugins"},
        {"assets": [img("coredns", f"{distro}/coredns/coredns:{coredns}-{tag}")], "gitTag": coredns,
         "name": "coredns"},
        {"assets": kube_assets, "gitTag": kube, "name": "kubernetes"},
        {"assets": tarballs("aws-iam-authenticator", iam, "aws-iam-authenticator", "aws-iam-authenticator")
         + [img("aws-iam-authenticator", f"{distro}/kubernetes-sigs/aws-iam-authenticator:{iam}-{tag}")],
         "gitTag": iam, "name": "aws-iam-authenticator"},
        {"assets": tarballs("etcd", etcd, "etcd", "etcd") + [img("etcd", f"{distro}/etcd-io/etcd:{etcd}-{tag}")],
         "gitTag": etcd, "name": "etcd"},
    ]
    return {
        "apiVersion": "distro.eks.amazonaws.com/v1alpha1",
        "kind": "Release",
        "metadata": {"name": eksd_name(row)},
        "spec": {"channel": channel, "number": number},
        "status": {"components": components},
    }


def bundles():
    return {
        "apiVersion": "anywhere.eks.amazonaws.com/v1alpha1",
        "kind": "Bundles",
        "metadata": {"name": f"bundles-{BUNDLE_NUMBER}", "namespace": "eksa-system"},
        "spec": {
            "cliMaxVersion": CLI_VERSION,
            "cliMinVersion": CLI_VERSION,
            "number": BUNDLE_NUMBER,
            "versionsBundles": [versions_bundle(row) for row in EKSD],
        },
    }


# --- a small, deterministic YAML emitter ----------------------------------------------------
PLAIN = re.compile(r"^[A-Za-z/][A-Za-z0-9._/+:@-]*$|^[0-9][0-9.+-]*[A-Za-z-][A-Za-z0-9._+-]*$")
RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def scalar(value):
    """A YAML scalar: plain when unambiguous (and never a number, bool or null by accident)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    s = str(value)
    if PLAIN.match(s) and s.lower() not in RESERVED and not s.endswith(":"):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def emit(value, indent, out):
    pad = "  " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict) and item:
                out.append(f"{pad}{key}:")
                emit(item, indent + 1, out)
            elif isinstance(item, list) and item:
                out.append(f"{pad}{key}:")
                emit(item, indent, out)
            elif isinstance(item, dict):
                out.append(f"{pad}{key}: {{}}")
            elif isinstance(item, list):
                out.append(f"{pad}{key}: []")
            else:
                out.append(f"{pad}{key}: {scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                lines = []
                emit(item, indent + 1, lines)
                first = lines[0]
                out.append(f"{pad}- {first[len(pad) + 2:]}")
                out.extend(lines[1:])
            else:
                out.append(f"{pad}- {scalar(item)}")


def write(path, doc, header):
    lines = [f"# {line}" if line else "#" for line in header]
    emit(doc, 0, lines)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


HEADER = ["Generated by crates/catalog/data/generate.py; do not edit by hand.",
          "Values are representative, digests are not pinned: see crates/catalog/data/README.md."]


def main():
    write(os.path.join(HERE, "bundles.yaml"), bundles(), HEADER)
    os.makedirs(os.path.join(HERE, "eks-d"), exist_ok=True)
    for row in EKSD:
        write(os.path.join(HERE, "eks-d", f"{eksd_name(row)}.yaml"), eksd_release(row), HEADER)


if __name__ == "__main__":
    main()

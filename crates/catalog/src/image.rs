//! Image URIs with EKS Anywhere's string rules (`Image()`, `Tag()`), and repository + tag pairs.

use std::fmt;

/// A container image URI as the catalog names it, e.g.
/// `public.ecr.aws/eks-distro/kubernetes/pause:v1.19.8-eks-1-19-4`.
///
/// This is the reference's `v1alpha1.Image`: it keeps the text as given (an empty URI is allowed,
/// the reference renders it as an empty value) and splits it with plain string rules, not with a
/// reference grammar. Full image-reference parsing belongs to the registry crate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Image {
    uri: String,
}

impl Image {
    /// An image with this URI.
    pub fn new(uri: impl Into<String>) -> Self {
        Image { uri: uri.into() }
    }

    /// The full URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The URI up to its last `:`, or the whole URI when it has none (the reference's `Image()`).
    ///
    /// The rule is textual: `registry:5000/app` (no tag) gives `registry`.
    pub fn image(&self) -> &str {
        match self.uri.rfind(':') {
            Some(i) => &self.uri[..i],
            None => &self.uri,
        }
    }

    /// What follows the last `:`, or `""` when there is none (the reference's `Tag()`).
    pub fn tag(&self) -> &str {
        match self.uri.rfind(':') {
            Some(i) => &self.uri[i + 1..],
            None => "",
        }
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

/// A repository (without the image name) and a tag, as kubeadm's `imageRepository` and
/// `kubernetesVersion`/`imageTag` want them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VersionedRepository {
    /// [`Image::image`] with its last `/` segment removed, e.g. `public.ecr.aws/eks-distro/kubernetes`.
    pub repository: String,
    /// [`Image::tag`], e.g. `v1.19.8-eks-1-19-4`.
    pub tag: String,
}

impl VersionedRepository {
    /// Splits an image the reference's way: the repository is [`Image::image`] without its last
    /// path segment (or all of it when it has no `/`), the tag is [`Image::tag`].
    pub fn from_image(image: &Image) -> Self {
        let name = image.image();
        let repository = match name.rfind('/') {
            Some(i) => &name[..i],
            None => name,
        };
        VersionedRepository {
            repository: repository.to_string(),
            tag: image.tag().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(uri: &str, image: &str, tag: &str, repository: &str) {
        let i = Image::new(uri);
        assert_eq!(i.image(), image, "image() of {uri:?}");
        assert_eq!(i.tag(), tag, "tag() of {uri:?}");
        let r = VersionedRepository::from_image(&i);
        assert_eq!(r.repository, repository, "repository of {uri:?}");
        assert_eq!(r.tag, tag, "repository tag of {uri:?}");
        assert_eq!(i.to_string(), uri);
    }

    #[test]
    fn image_and_tag_split_at_the_last_colon() {
        check(
            "public.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.19.8-eks-1-19-4",
            "public.ecr.aws/eks-distro/kubernetes/kube-apiserver",
            "v1.19.8-eks-1-19-4",
            "public.ecr.aws/eks-distro/kubernetes",
        );
        check(
            "public.ecr.aws/eks-distro/coredns/coredns:v1.8.0-eks-1-19-4",
            "public.ecr.aws/eks-distro/coredns/coredns",
            "v1.8.0-eks-1-19-4",
            "public.ecr.aws/eks-distro/coredns",
        );
    }

    #[test]
    fn no_colon_means_no_tag() {
        check(
            "public.ecr.aws/eks-distro/etcd-io/etcd",
            "public.ecr.aws/eks-distro/etcd-io/etcd",
            "",
            "public.ecr.aws/eks-distro/etcd-io",
        );
        check("pause", "pause", "", "pause");
        check("", "", "", "");
    }

    #[test]
    fn rules_are_textual() {
        // A registry port without a tag: the reference's rule splits at the port.
        check("registry:5000/app", "registry", "5000/app", "registry");
        check(
            "registry:5000/team/app:v1",
            "registry:5000/team/app",
            "v1",
            "registry:5000/team",
        );
        check("app:", "app", "", "app");
        // A digest: the last colon is inside it.
        check("r.io/a/b@sha256:abc", "r.io/a/b@sha256", "abc", "r.io/a");
    }
}

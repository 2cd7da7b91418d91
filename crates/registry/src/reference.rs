//! Image references as image lists name them: `repository:tag` or `repository@sha256:...`,
//! optionally prefixed by a registry host (which a copy replaces by its `--from` registry).

use std::fmt;

use crate::{Error, Result};

/// One image of a list.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    /// Repository path, e.g. `eks-distro/kubernetes/pause`.
    pub repository: String,
    /// Tag or digest (`sha256:...`).
    pub reference: String,
}

impl ImageRef {
    /// Parses `[host/]repository(:tag|@digest)`. A first path segment with a `.` or `:`, or
    /// `localhost`, is a registry host and is dropped (the copy names its registries). A missing
    /// tag means `latest`, as Docker does.
    ///
    /// # Errors
    /// [`Error::Reference`] naming `origin` for empty names, bad characters or digests.
    pub fn parse(text: &str, origin: &str) -> Result<ImageRef> {
        let err = |message: String| Error::Reference {
            origin: origin.to_string(),
            message,
        };
        let text = text.trim();
        let (path, reference) = if let Some((path, digest)) = text.split_once('@') {
            let hex = digest
                .strip_prefix("sha256:")
                .ok_or_else(|| err(format!("digest `{digest}` must be sha256:<64 hex digits>")))?;
            if hex.len() != 64
                || !hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return Err(err(format!(
                    "digest `{digest}` must be sha256:<64 lower-case hex digits>"
                )));
            }
            (path, digest.to_string())
        } else {
            let last_slash = text.rfind('/').map_or(0, |i| i + 1);
            match text[last_slash..].rfind(':') {
                Some(i) => (&text[..last_slash + i], text[last_slash + i + 1..].to_string()),
                None => (text, "latest".to_string()),
            }
        };
        let mut segments: Vec<&str> = path.split('/').collect();
        if segments.len() > 1 {
            let first = segments[0];
            if first.contains('.') || first.contains(':') || first == "localhost" {
                segments.remove(0);
            }
        }
        let repository = segments.join("/");
        if repository.is_empty() || segments.iter().any(|s| s.is_empty()) {
            return Err(err(format!("`{text}` has no repository name")));
        }
        let ok_repo = repository
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b));
        if !ok_repo {
            return Err(err(format!(
                "repository `{repository}` may hold only lower-case letters, digits and . _ - /"
            )));
        }
        let ok_tag = !reference.is_empty()
            && reference.len() <= 128
            && (reference.starts_with("sha256:")
                || reference
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
        if !ok_tag {
            return Err(err(format!(
                "tag `{reference}` may hold only letters, digits and . _ - (at most 128)"
            )));
        }
        Ok(ImageRef {
            repository,
            reference,
        })
    }

    /// Whether the reference is a digest rather than a tag.
    pub fn is_digest(&self) -> bool {
        self.reference.starts_with("sha256:")
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.is_digest() { '@' } else { ':' };
        write!(f, "{}{sep}{}", self.repository, self.reference)
    }
}

/// Parses an image list: one reference per line; blank lines and `#` comments are skipped.
/// Every bad line is reported as `FILE:LINE: ...`, all of them at once.
///
/// # Errors
/// [`Error::Reference`] with every bad line, one per line of the message.
pub fn parse_list(text: &str, file: &str) -> Result<Vec<ImageRef>> {
    let mut images = Vec::new();
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match ImageRef::parse(line, &format!("{file}:{}", n + 1)) {
            Ok(image) => {
                if !images.contains(&image) {
                    images.push(image);
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(images)
    } else {
        Err(Error::Reference {
            origin: file.to_string(),
            message: format!("{} bad line(s):\n{}", errors.len(), errors.join("\n")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_or_without_host_tag_or_digest() {
        let d = format!("sha256:{}", "a".repeat(64));
        let table: &[(&str, &str, &str)] = &[
            ("eks-distro/pause:v1.2", "eks-distro/pause", "v1.2"),
            (
                "public.ecr.aws/eks-distro/kubernetes/pause:v1.30.1-eks-1-30-1",
                "eks-distro/kubernetes/pause",
                "v1.30.1-eks-1-30-1",
            ),
            ("127.0.0.1:5000/app", "app", "latest"),
            ("localhost/a/b:t", "a/b", "t"),
            ("busybox", "busybox", "latest"),
        ];
        for (text, repo, reference) in table {
            let r = ImageRef::parse(text, "t").unwrap();
            assert_eq!(
                (r.repository.as_str(), r.reference.as_str()),
                (*repo, *reference),
                "{text}"
            );
        }
        let r = ImageRef::parse(&format!("registry:5000/app@{d}"), "t").unwrap();
        assert_eq!(r.repository, "app");
        assert!(r.is_digest());
        assert_eq!(r.to_string(), format!("app@{d}"));
    }

    #[test]
    fn bad_references_are_errors_naming_their_origin() {
        for bad in [
            "",
            "app@md5:abc",
            "app@sha256:xyz",
            "App/x:1",
            "a//b:1",
            "app:bad tag",
            "host.io/",
        ] {
            let err = ImageRef::parse(bad, "list.txt:3").unwrap_err().to_string();
            assert!(err.starts_with("list.txt:3: "), "{bad}: {err}");
        }
    }

    #[test]
    fn lists_skip_comments_and_report_every_bad_line() {
        let ok = parse_list("# images\n\na:1\nb/c:2 # base\na:1\n", "l").unwrap();
        assert_eq!(ok.len(), 2);
        let err = parse_list("a:1\nBAD:1\nc@sha256:1\n", "images.txt")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("images.txt:2: ") && err.contains("images.txt:3: "),
            "{err}"
        );
    }
}

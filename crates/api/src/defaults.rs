//! Defaults, applied as EKS Anywhere applies them.

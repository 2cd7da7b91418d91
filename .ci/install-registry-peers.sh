#!/usr/bin/env bash
# The registry tests' peers (crates/registry/tests/peers.rs): Debian's docker-registry (CNCF
# distribution), skopeo as the cross-check, openssl for a throwaway CA and htpasswd (apache2-utils)
# for basic auth. Idempotent: installs only what is missing.
set -euo pipefail
need=()
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
[ "${#need[@]}" -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}"

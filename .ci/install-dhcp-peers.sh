#!/usr/bin/env bash
# The DHCP tests' peers: busybox's udhcpc (a real DHCP client) and perfdhcp (Kea's load
# generator, Debian package kea-admin), both run in network namespaces (iproute2).
# Idempotent: installs only what is missing.
set -euo pipefail
need=()
command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
command -v perfdhcp >/dev/null 2>&1 || need+=(kea-admin)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
[ "${#need[@]}" -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}"

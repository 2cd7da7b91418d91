#!/usr/bin/env bash
# The QEMU network-boot test's needs (crates/cli/tests/qemu_boot.rs): QEMU under TCG with
# SeaBIOS (iPXE NIC ROMs) and OVMF, busybox for the test initramfs, radvd as the network's IPv6
# router (iPXE waits ~12 s for a router advertisement when none comes), and a Debian kernel
# (linux-image-cloud-amd64, only downloaded and unpacked into /var/cache/anywhere-e2e).
# Idempotent: installs only what is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600)
need=()
for p in qemu-system-x86 ipxe-qemu ipxe ovmf busybox-static cpio iproute2 radvd kmod xz-utils; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
    # qemu-system-x86 must match the machine's qemu-utils; on this kind of machine that comes
    # from bookworm-backports, which then has to be an apt source (a Debian suite).
    backports=()
    if dpkg -s qemu-utils 2>/dev/null | grep -q '^Version: .*bpo12'; then
        if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
            printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                > /etc/apt/sources.list.d/bookworm-backports.sources
        fi
        backports=(-t bookworm-backports)
    fi
    "${APT[@]}" update -qq
    "${APT[@]}" install -y -qq --no-install-recommends "${backports[@]}" "${need[@]}"
fi

# The guest kernel: Debian's cloud kernel (virtio built in or as modules, 25 MB .deb).
cache=/var/cache/anywhere-e2e
if ! ls "$cache"/kernel/boot/vmlinuz-* >/dev/null 2>&1; then
    mkdir -p "$cache"
    pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
    if [ -z "$pkg" ]; then
        "${APT[@]}" update -qq
        pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
    fi
    (cd "$cache" && rm -f ./*.deb && "${APT[@]}" download -qq "$pkg")
    rm -rf "$cache/kernel"
    dpkg-deb -x "$cache/${pkg}_"*.deb "$cache/kernel"
    rm -f "$cache"/*.deb
fi
ls "$cache"/kernel/boot/vmlinuz-*

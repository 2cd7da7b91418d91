#!/usr/bin/env bash
# End-to-end network boot of real QEMU machines through `anywhere metal serve` (our DHCP, TFTP
# and HTTP boot + metadata), as crates/cli/tests/qemu_boot.rs runs it:
#
#   boot-e2e.sh ANYWHERE_BINARY WORKDIR
#
#   netns (created here, deleted on exit; nothing routed out of it)
#     br0 10.213.0.1/24 + fd00:e2e::1/64  <- anywhere metal serve (DHCP :67, TFTP :69, HTTP :80)
#                                         <- radvd: the network's IPv6 router (iPXE otherwise
#                                            waits ~12 s for a router advertisement)
#     tap1..3 -> QEMU pc + SeaBIOS, iPXE NIC ROM: DHCP -> HTTP script -> kernel + initrd
#     tap4    -> QEMU q35 + OVMF, firmware PXE: DHCP -> TFTP ipxe.efi -> iPXE -> DHCP -> HTTP
#
# The initramfs (busybox) prints E2E-MARKER-BOOTED, brings up eth0 with udhcpc, asks the
# metadata service for its own hostname and address and prints E2E-MARKER-METADATA, then
# powers off. Afterwards `anywhere metal timeline MAC` is printed for every machine.
# Output lines the Rust test reads: `MACHINE <name> <mac> ok|FAILED ...` and the timelines
# between `TIMELINE <mac>` and `END TIMELINE`. Exit 0 only when every machine got through.
# Env: TIMEOUT (s, default 420), TB_SIZE (MiB, 128), KERNEL_DIR (/var/cache/anywhere-e2e/kernel).
set -euo pipefail
ANYWHERE=$1; W=$2
TIMEOUT=${TIMEOUT:-420}; TB_SIZE=${TB_SIZE:-128}
KERNEL_DIR=${KERNEL_DIR:-/var/cache/anywhere-e2e/kernel}
NS=anyw-e2e-$$; SRV=10.213.0.1
NAMES=(m1 m2 m3 m4); FW=(bios bios bios uefi)
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT INT TERM
mkdir -p "$W"

# ---- artifacts: kernel and a busybox initramfs with the virtio NIC modules
KVER=$(ls "$KERNEL_DIR/lib/modules" | head -1)
[ -n "$KVER" ] || { echo "no kernel under $KERNEL_DIR (run .ci/install-metal-e2e.sh)" >&2; exit 2; }
depmod -b "$KERNEL_DIR" "$KVER"
ART=$W/artifacts; R=$W/initrd-root
rm -rf "$ART" "$R"; mkdir -p "$ART" "$R"/{bin,dev,proc,sys,tmp,etc,lib/modules}
cp "$KERNEL_DIR/boot/vmlinuz-$KVER" "$ART/vmlinuz"
cp "$(command -v busybox)" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
: > "$R/lib/modules/load.list"
# One module per modprobe call: further names would be taken as module parameters.
for path in $(for m in virtio_pci virtio_net; do modprobe -d "$KERNEL_DIR" -S "$KVER" --show-depends "$m" 2>/dev/null; done | awk '$1=="insmod"{print $2}'); do
    name=$(basename "$path"); name=${name%.xz}; name=${name%.zst}; name=${name%.gz}
    grep -qx "$name" "$R/lib/modules/load.list" && continue
    case $path in *.xz) xz -dc "$path" ;; *.zst) zstd -dqc "$path" ;; *.gz) gzip -dc "$path" ;; *) cat "$path" ;; esac > "$R/lib/modules/$name"
    echo "$name" >> "$R/lib/modules/load.list"
done
cat > "$R/bin/udhcpc.sh" <<'SH'
#!/bin/sh
case "$1" in bound|renew) ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up ;; esac
exit 0
SH
cat > "$R/init" <<'SH'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mac=$(cat /sys/class/net/eth0/address 2>/dev/null)
echo "E2E-MARKER-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
for m in $(cat /lib/modules/load.list); do insmod /lib/modules/$m 2>/dev/null; done
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
ip link set lo up; ip link set eth0 up
server=; for p in $(cat /proc/cmdline); do case $p in e2e.server=*) server=${p#e2e.server=};; esac; done
if udhcpc -i eth0 -s /bin/udhcpc.sh -q -n -t 20 -T 1 >/dev/null 2>&1; then
    host=$(wget -q -O - "http://$server/2009-04-04/meta-data/hostname")
    addr=$(wget -q -O - "http://$server/2009-04-04/meta-data/local-ipv4")
    echo "E2E-MARKER-METADATA hostname=$host local-ipv4=$addr"
else
    echo "E2E-ERROR udhcpc failed"
fi
sync; poweroff -f
SH
chmod +x "$R/init" "$R/bin/udhcpc.sh"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$ART/initrd.img"
log "artifacts: kernel $KVER, initrd $(du -h "$ART/initrd.img" | cut -f1)"

# ---- network
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add br0 type bridge
ip -n "$NS" addr add "$SRV/24" dev br0
ip -n "$NS" addr add fd00:e2e::1/64 dev br0 nodad
ip -n "$NS" link set br0 up
for i in 1 2 3 4; do
    ip -n "$NS" tuntap add "tap$i" mode tap
    ip -n "$NS" link set "tap$i" master br0
    ip -n "$NS" link set "tap$i" up
done
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.forwarding=1
cat > "$W/radvd.conf" <<CONF
interface br0 {
    AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4; AdvDefaultLifetime 0;
    prefix fd00:e2e::/64 { AdvOnLink on; AdvAutonomous on; };
};
CONF
ip netns exec "$NS" radvd -n -C "$W/radvd.conf" -p "$W/radvd.pid" -m stderr >"$W/radvd.log" 2>&1 &
PIDS+=($!)

# ---- anywhere metal serve
{
    echo "hostname,mac,ip_address,netmask,gateway,nameservers,labels,disk"
    for i in 1 2 3 4; do
        echo "${NAMES[$((i-1))]},52:54:00:e2:e0:0$i,10.213.0.1$i,255.255.255.0,$SRV,$SRV,type=worker,/dev/vda"
    done
} > "$W/hardware.csv"
cat > "$W/serve.yaml" <<YAML
serverIp: $SRV
interface: br0
hardwareCsv: hardware.csv
artifacts: artifacts
netboot:
  kernel: vmlinuz
  initrds: [initrd.img]
  cmdline: console=ttyS0 quiet panic=-1 e2e.server=$SRV
leaseStore: leases.redb
timelineStore: timeline.redb
YAML
rm -f "$W/leases.redb" "$W/timeline.redb"
ip netns exec "$NS" "$ANYWHERE" metal serve -f "$W/serve.yaml" >"$W/serve.log" 2>&1 &
SERVE=$!; PIDS+=($SERVE)
for _ in $(seq 100); do ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/$SRV/80" 2>/dev/null && break; sleep 0.1; done
ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/$SRV/80" 2>/dev/null || { cat "$W/serve.log" >&2; echo "metal serve did not start" >&2; exit 1; }
log "metal serve is up"

# ---- machines
T0=$(date +%s.%N)
for i in 1 2 3 4; do
    mac=52:54:00:e2:e0:0$i; fw=${FW[$((i-1))]}
    args=(-accel "tcg,tb-size=$TB_SIZE" -smp 1 -display none -vga none -no-user-config -nodefaults
          -monitor none -serial "file:$W/vm$i.serial" -no-reboot -boot reboot-timeout=2000
          -netdev "tap,id=n0,ifname=tap$i,script=no,downscript=no")
    if [ "$fw" = uefi ]; then
        # OVMF's own PXE (no iPXE option ROM): DHCP, TFTP ipxe.efi, then iPXE over HTTP.
        args+=(-machine q35 -m 512 -bios /usr/share/ovmf/OVMF.fd -device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1,romfile=")
    else
        args+=(-machine pc -m 256 -device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1")
    fi
    : > "$W/vm$i.serial"
    ip netns exec "$NS" qemu-system-x86_64 "${args[@]}" >"$W/vm$i.qemu.log" 2>&1 &
    PIDS+=($!); eval "VM$i=$!"
done

declare -A booted=() metadata=()
while :; do
    now=$(date +%s.%N); elapsed=$(awk -v a="$now" -v b="$T0" 'BEGIN{printf "%.1f", a-b}')
    for i in 1 2 3 4; do
        [ -n "${metadata[$i]:-}" ] && continue
        if [ -z "${booted[$i]:-}" ] && grep -q E2E-MARKER-BOOTED "$W/vm$i.serial"; then booted[$i]=$elapsed; fi
        if grep -q E2E-MARKER-METADATA "$W/vm$i.serial"; then metadata[$i]=$elapsed; fi
    done
    [ "${#metadata[@]}" -eq 4 ] && break
    if awk -v e="$elapsed" -v t="$TIMEOUT" 'BEGIN{exit !(e>t)}'; then log "timeout after ${TIMEOUT}s"; break; fi
    sleep 0.5
done
for i in 1 2 3 4; do pid_var=VM$i; kill "${!pid_var}" 2>/dev/null || true; done
kill -TERM "$SERVE" 2>/dev/null || true
wait "$SERVE" 2>/dev/null || true

rc=0
for i in 1 2 3 4; do
    name=${NAMES[$((i-1))]}; mac=52:54:00:e2:e0:0$i; fw=${FW[$((i-1))]}
    line=$(grep -a E2E-MARKER-METADATA "$W/vm$i.serial" | head -1 | tr -d '\r' || true)
    if [ -n "${metadata[$i]:-}" ] && [[ "$line" == *"hostname=$name local-ipv4=10.213.0.1$i"* ]]; then
        echo "MACHINE $name $mac ok firmware=$fw booted_s=${booted[$i]} metadata_s=${metadata[$i]} :: $line"
    else
        rc=1
        echo "MACHINE $name $mac FAILED firmware=$fw booted_s=${booted[$i]:-never} :: ${line:-no metadata marker}"
        echo "--- last lines of vm$i.serial:"; tail -c 1500 "$W/vm$i.serial" | tr -d '\r'; echo
    fi
    echo "TIMELINE $mac"
    "$ANYWHERE" metal timeline "$mac" --store "$W/timeline.redb" || rc=1
    echo "END TIMELINE"
done
[ $rc -eq 0 ] || { echo "--- metal serve log:"; tail -n 40 "$W/serve.log"; }
exit $rc

#!/usr/bin/env bash
# DHCP throughput: our server against Kea and dnsmasq in the same run, loaded by perfdhcp
# (Debian kea-admin) over a veth pair between two network namespaces. Addresses come from
# 198.18.0.0/15 (RFC 2544 benchmark range) and exist only inside the namespaces.
#
#   sudo crates/metal/dhcp/benches/perfdhcp.sh            # DURATION=10 ROUNDS=3 RATES="max"
#
# Needs root, iproute2, kea-admin (perfdhcp), kea-dhcp4-server, dnsmasq-base. Not run in CI.
# perfdhcp itself uses about one of the machine's two cores; every server shares the other.
# perfdhcp simulates a relay agent (giaddr = its address, source port 67), so the servers
# answer it by unicast to port 67.
set -euo pipefail
DURATION=${DURATION:-10}; ROUNDS=${ROUNDS:-3}; RATES=${RATES:-max}; CLIENTS=${CLIENTS:-100000}
SERVERS=${SERVERS:-"anywhere anywhere-memory kea kea-persist dnsmasq dnsmasq-ro"}
ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
W=$(mktemp -d /tmp/anywhere-perfdhcp.XXXXXX)
NS_S=aw-dhcp-srv-$$; NS_C=aw-dhcp-cli-$$
SPID=""
for tool in perfdhcp kea-dhcp4 dnsmasq ip; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install kea-admin kea-dhcp4-server dnsmasq-base iproute2" >&2; exit 2; }
done

stop_server() {
    if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; SPID=""; fi
}
cleanup() { stop_server; ip netns del "$NS_S" 2>/dev/null || true; ip netns del "$NS_C" 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

ip netns add "$NS_S"; ip netns add "$NS_C"
ip link add veth-s netns "$NS_S" type veth peer name veth-c netns "$NS_C"
ip -n "$NS_S" addr add 198.18.0.1/15 dev veth-s; ip -n "$NS_S" link set veth-s up; ip -n "$NS_S" link set lo up
ip -n "$NS_C" addr add 198.18.0.2/15 dev veth-c; ip -n "$NS_C" link set veth-c up; ip -n "$NS_C" link set lo up

echo "building our server (release)..." >&2
cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" -p anywhere-dhcp --example perfdhcp_server
OURS=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/examples/perfdhcp_server

start_server() { # $1 = name; fresh state every run
    local d="$W/$1"; rm -rf "$d"; mkdir -p "$d"
    case $1 in
    anywhere) ip netns exec "$NS_S" "$OURS" --interface veth-s --leases "$d/leases.redb" >"$d/out.log" 2>&1 & SPID=$! ;;
    anywhere-memory) ip netns exec "$NS_S" "$OURS" --interface veth-s --memory >"$d/out.log" 2>&1 & SPID=$! ;;
    kea|kea-persist)
        local persist=false; [ "$1" = kea-persist ] && persist=true
        cat >"$d/kea.json" <<JSON
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "veth-s" ], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "persist": $persist, "name": "$d/leases4.csv", "lfc-interval": 0 },
  "valid-lifetime": 3600, "renew-timer": 1800, "rebind-timer": 3150,
  "subnet4": [ { "id": 1, "subnet": "198.18.0.0/15", "pools": [ { "pool": "198.18.1.0 - 198.19.255.254" } ],
                 "option-data": [ { "name": "routers", "data": "198.18.0.1" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "$d/kea.log" } ], "severity": "WARN" } ]
} }
JSON
        ip netns exec "$NS_S" env KEA_LOCKFILE_DIR="$d" KEA_PIDFILE_DIR="$d" kea-dhcp4 -c "$d/kea.json" >"$d/out.log" 2>&1 & SPID=$! ;;
    dnsmasq|dnsmasq-ro)
        local leases=(--dhcp-leasefile="$d/dnsmasq.leases"); [ "$1" = dnsmasq-ro ] && leases=(--leasefile-ro)
        ip netns exec "$NS_S" dnsmasq --no-daemon --conf-file=/dev/null --port=0 --interface=veth-s --bind-interfaces \
            --dhcp-range=198.18.1.0,198.19.255.254,255.254.0.0,1h --dhcp-lease-max=200000 --dhcp-authoritative \
            --no-ping "${leases[@]}" --pid-file="$d/dnsmasq.pid" --quiet-dhcp --log-facility="$d/dnsmasq.log" \
            >"$d/out.log" 2>&1 & SPID=$! ;;
    esac
    for _ in $(seq 1 250); do ip netns exec "$NS_S" ss -Hulpn 'sport = :67' | grep -q . && break; sleep 0.02; done
    # Ready once a DISCOVER gets its OFFER (perfdhcp -n 1 stops before counting the ACK).
    for _ in $(seq 1 20); do
        out=$(timeout 5 ip netns exec "$NS_C" perfdhcp -4 -l veth-c -r 10 -n 1 -W 300000 198.18.0.1 2>&1 || true)
        awk '/Statistics for: DISCOVER-OFFER/{s=1} s && /received packets: [1-9]/{ok=1} END{exit !ok}' <<<"$out" && return 0
        sleep 0.1
    done
    echo "$1 did not answer; its log:" >&2; cat "$d/out.log" >&2; return 1
}

measure() { # $1 = name, $2 = rate; prints "dora_per_s avg_ms drops"
    local rate_arg=(-r "$2"); [ "$2" = max ] && rate_arg=()
    local log="$W/$1.perfdhcp.log"
    timeout $((DURATION + 30)) ip netns exec "$NS_C" perfdhcp -4 -l veth-c "${rate_arg[@]}" -R "$CLIENTS" -p "$DURATION" -x e 198.18.0.1 >"$log" 2>&1 || true
    python3 - "$log" "$DURATION" <<'PY'
import re, sys
t = open(sys.argv[1]).read(); d = float(sys.argv[2])
def grab(sec, key):
    m = re.search(r'\*\*\*Statistics for: ' + sec + r'\*\*\*(.*?)(\*\*\*|\Z)', t, re.S)
    k = m and re.search(key + r':\s*([\d.]+)', m.group(1))
    return float(k.group(1)) if k else 0.0
sent, acks = grab('REQUEST-ACK', 'sent packets'), grab('REQUEST-ACK', 'received packets')
print(f"{acks / d:.0f} {grab('REQUEST-ACK', 'avg delay'):.3f} {grab('DISCOVER-OFFER', 'drops') + grab('REQUEST-ACK', 'drops'):.0f}")
PY
}

printf '%-16s %-6s %10s %12s %8s   (best of %s, %ss each)\n' server rate "DORA/s" "avg RA ms" drops "$ROUNDS" "$DURATION"
for rate in $RATES; do
    for s in $SERVERS; do
        best=""
        for _ in $(seq 1 "$ROUNDS"); do
            start_server "$s"
            r=$(measure "$s" "$rate")
            stop_server
            if [ -z "$best" ] || [ "${r%% *}" -gt "${best%% *}" ]; then best=$r; fi
        done
        read -r dora ms drops <<<"$best"
        printf '%-16s %-6s %10s %12s %8s\n' "$s" "$rate" "$dora" "$ms" "$drops"
    done
done

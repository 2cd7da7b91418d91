#!/usr/bin/env bash
# Image copy between two local registries: `anywhere copy images` against
# `skopeo copy --preserve-digests` (like for like: digests kept, layers not recompressed), in
# the same run. Both registries are Debian's docker-registry on 127.0.0.1; the destination is
# wiped before every run, and skopeo's blob-info cache is isolated per run.
#   (a) one 200 MB image of 4 uncompressed random layers;
#   (b) 20 images sharing 3 base layers (60 MB) with one 5 MB layer of their own, in 20
#       repositories, as a release does — skopeo copies image by image, we copy the list.
# Also measures sha256 throughput here, for the CPU bound (every byte is hashed by the copier
# and by the destination registry).
#
#   crates/registry/benches/copy.sh          # RUNS=3 SIZE_MB=200
# Needs docker-registry, skopeo, python3 (apt-get install docker-registry skopeo). Not run in CI.
set -euo pipefail
RUNS=${RUNS:-3}; SIZE_MB=${SIZE_MB:-200}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
W=$(mktemp -d /tmp/anywhere-copy-bench.XXXXXX)
declare -A RP=()
cleanup() { for p in "${RP[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
start_reg() { # port dir
    cat > "$W/reg-$1.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $2}, delete: {enabled: true}, cache: {blobdescriptor: inmemory}}
http: {addr: 127.0.0.1:$1}
YML
    docker-registry serve "$W/reg-$1.yml" >"$W/reg-$1.log" 2>&1 & RP[$1]=$!
    for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$1/v2/" 2>/dev/null && return; sleep 0.02; done
    echo "registry $1 did not start" >&2; exit 1
}
stop_reg() { kill "${RP[$1]}" 2>/dev/null || true; wait "${RP[$1]}" 2>/dev/null || true; unset "RP[$1]"; }

# An OCI layout writer (uncompressed random tar-like layers; the registry does not unpack).
cat > "$W/make.py" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]; spec = json.loads(sys.argv[2])   # {tag: [[name, size_mb], ...]}
blobs = os.path.join(d, "blobs", "sha256"); os.makedirs(blobs, exist_ok=True)
cache = {}
def put(data):
    h = hashlib.sha256(data).hexdigest()
    p = os.path.join(blobs, h)
    if not os.path.exists(p):
        open(p, "wb").write(data)
    return "sha256:" + h, len(data)
def layer(name, mb):
    if name not in cache:
        cache[name] = put(os.urandom(mb * 1024 * 1024))
    return cache[name]
index = []
for tag, layers in spec.items():
    descs = [layer(n, mb) for n, mb in layers]
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"tag": tag}},
                      "rootfs": {"type": "layers", "diff_ids": [d for d, _ in descs]}}).encode()
    cd, cs = put(cfg)
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s} for d, s in descs]}).encode()
    md, ms = put(man)
    index.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
                  "annotations": {"org.opencontainers.image.ref.name": tag}})
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(d, "oci-layout"), "w"))
json.dump({"schemaVersion": 2, "manifests": index}, open(os.path.join(d, "index.json"), "w"))
PY

echo "building anywhere (release)..." >&2
cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" -p anywhere
ANYWHERE=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/anywhere

start_reg 5100 "$W/src"
per=$((SIZE_MB / 4))
python3 "$W/make.py" "$W/oci" "{\"big\": [[\"b1\",$per],[\"b2\",$per],[\"b3\",$per],[\"b4\",$per]]}"
skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$W/oci:big" docker://127.0.0.1:5100/bench/big:v1
spec="{"; : > "$W/set.list"
for i in $(seq -w 1 20); do
    spec+="\"app$i\": [[\"base1\",20],[\"base2\",20],[\"base3\",20],[\"own$i\",5]],"
    echo "bench/app$i:v1" >> "$W/set.list"
done
spec="${spec%,}}"
python3 "$W/make.py" "$W/oci-set" "$spec"
for i in $(seq -w 1 20); do
    skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$W/oci-set:app$i" "docker://127.0.0.1:5100/bench/app$i:v1"
done
echo "bench/big:v1" > "$W/big.list"

timed() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$W/err.log" || { cat "$W/err.log" >&2; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
run_case() { # name list
    local best_a="" best_s=""
    for _ in $(seq 1 "$RUNS"); do
        rm -rf "$W/dst"; start_reg 5101 "$W/dst"
        t=$(timed "$ANYWHERE" copy images --from 127.0.0.1:5100 --to 127.0.0.1:5101 --list "$2" --insecure)
        stop_reg 5101
        [ -z "$best_a" ] || [ "$(echo "$t < $best_a" | bc)" = 1 ] && best_a=$t
        rm -rf "$W/dst" "$W/xdg"; mkdir -p "$W/xdg"; start_reg 5101 "$W/dst"
        t=$(XDG_RUNTIME_DIR="$W/xdg" timed bash -c "while read -r img; do skopeo copy -q --preserve-digests --src-tls-verify=false --dest-tls-verify=false docker://127.0.0.1:5100/\$img docker://127.0.0.1:5101/\$img || exit 1; done < $2")
        stop_reg 5101
        [ -z "$best_s" ] || [ "$(echo "$t < $best_s" | bc)" = 1 ] && best_s=$t
    done
    printf '%-40s anywhere %6.2f s   skopeo %6.2f s   ratio %.2f\n' "$1" "$best_a" "$best_s" "$(echo "$best_a / $best_s" | bc -l)"
}
echo "best of $RUNS runs, destination wiped before each:"
run_case "(a) 1 image, ${SIZE_MB} MB in 4 layers" "$W/big.list"
run_case "(b) 20 images sharing 60 MB of base" "$W/set.list"

# The CPU bound of (a): sha256 of every byte, by us and by the destination registry (2 cores).
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$W/hash.bin"
s=$(date +%s.%N); sha256sum "$W/hash.bin" >/dev/null; e=$(date +%s.%N)
h=$(echo "$e - $s" | bc)
printf 'sha256 of %s MB here: %.2f s (%.0f MB/s); both hashes in parallel on 2 cores bound (a) at ~%.2f s, one after the other at ~%.2f s\n' \
    "$SIZE_MB" "$h" "$(echo "$SIZE_MB / $h" | bc -l)" "$h" "$(echo "2 * $h" | bc -l)"

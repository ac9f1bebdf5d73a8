#!/usr/bin/env bash
# Delivery speed, against the targets:
#   `permit push` to 20 OPA servers  < 3x the time of a push to 1
#   `permit build --bundle` of the large synthetic model (examples/synth.rs, scale 1)  < 3 s
#
# Starts FLEET (20) real OPA servers on 127.0.0.1 (stopped by pid on exit), pushes the
# `permit init` example to one of them and to all of them, and times both with hyperfine.
# Every timed push delivers a new revision: before each run (untimed) `env/staging` flips
# between two commits that differ in one role assignment, as a typical policy change does.
#
# Usage: bench/push-fleet.sh
# Environment:
#   PERMIT_OPA=PATH   the OPA binary (default: opa on PATH, else ~/.cache/opa/opa)
#   FLEET=20 RUNS=20 WARMUP=3 RUNS_LARGE=5 SCALE=1 SEED=1
#   BENCH_STRICT=1    exit 1 when a target is missed (default: report only)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. bench/synth-model.sh
FLEET=${FLEET:-20}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
RUNS_LARGE=${RUNS_LARGE:-5}
SCALE=${SCALE:-1}
SEED=${SEED:-1}
BENCH_STRICT=${BENCH_STRICT:-0}
say() { printf '%s\n' "$*" >&2; }

command -v hyperfine >/dev/null 2>&1 || { say "bench: hyperfine is required (apt-get install hyperfine)"; exit 2; }
opa=${PERMIT_OPA:-$(command -v opa || echo "$HOME/.cache/opa/opa")}
"$opa" version >/dev/null 2>&1 || { say "bench: no OPA at $opa; run scripts/provision-opa.sh"; exit 2; }

say "bench: cargo build --release --examples --bins"
cargo build --release --examples --bins -q
permit=$root/target/release/permit

work=$(mktemp -d -t permit-bench-push.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
healthy() { python3 - "$1" <<'EOF'
import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1).status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

# --- the fleet ---------------------------------------------------------------------------
ports=()
for ((i = 0; i < FLEET; i++)); do
  port=$(free_port)
  "$opa" run --server --disable-telemetry --log-level error --addr "127.0.0.1:$port" >/dev/null 2>&1 &
  pids+=($!)
  ports+=("$port")
done
for port in "${ports[@]}"; do
  for _ in $(seq 1 200); do healthy "$port" && break; sleep 0.05; done
  healthy "$port" || { say "bench: OPA on $port did not start"; exit 1; }
done
say "bench: $FLEET OPA servers up"

# --- projects: the init example committed on env/staging, one with 1 PDP, one with all -----
make_project() { # DIR PORT...
  local dir=$1; shift
  "$permit" init "$dir" --no-git -q
  {
    printf 'environments:\n  dev: {branch: main}\n  staging: {branch: env/staging, promote_from: dev}\npdps:\n  staging:\n'
    for p in "$@"; do printf '    - {url: "http://127.0.0.1:%s"}\n' "$p"; done
    printf 'bundle: {roots: [permit]}\n'
  } > "$dir/permit.yaml"
  git -C "$dir" init -q -b main
  git -C "$dir" add -A
  git -C "$dir" -c user.name=bench -c user.email=bench@example.com commit -qm bench
  git -C "$dir" branch env/staging
  # a second commit: alice becomes a viewer instead of an editor
  sed -i 's/{role: editor, tenant: acme}/{role: viewer, tenant: acme}/' "$dir/policy/directory.yaml"
  git -C "$dir" -c user.name=bench -c user.email=bench@example.com commit -qam change
  git -C "$dir" tag rev-b
  git -C "$dir" tag rev-a HEAD~1
}
# flip DIR: point env/staging at the other of the two commits
cat > "$work/flip" <<'EOF'
#!/bin/sh
d=$1
if [ "$(git -C "$d" rev-parse env/staging)" = "$(git -C "$d" rev-parse rev-a)" ]; then
  git -C "$d" branch -f env/staging rev-b
else
  git -C "$d" branch -f env/staging rev-a
fi
EOF
chmod +x "$work/flip"
make_project "$work/one" "${ports[0]}"
make_project "$work/fleet" "${ports[@]}"
"$permit" -C "$work/fleet" push staging -q >/dev/null
# the same fan-out to bundle folders: what permit itself costs per PDP, without OPA's CPU
make_dirs() { # DIR N
  local dir=$1 n=$2 i
  make_project "$dir" "${ports[0]}"
  {
    printf 'environments:\n  dev: {branch: main}\n  staging: {branch: env/staging}\npdps:\n  staging:\n'
    for ((i = 0; i < n; i++)); do printf '    - {url: "file://%s/out/%s"}\n' "$dir" "$i"; done
  } > "$dir/permit.yaml"
}
make_dirs "$work/dir-one" 1
make_dirs "$work/dir-fleet" "$FLEET"

load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
cores=$(nproc 2>/dev/null || echo "?")
hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" --export-json "$work/push.json" \
  -n "push to 1 PDP" --prepare "$work/flip $work/one" "$permit -C $work/one push staging -q" \
  -n "push to $FLEET PDPs" --prepare "$work/flip $work/fleet" "$permit -C $work/fleet push staging -q" \
  -n "push to 1 folder" --prepare "$work/flip $work/dir-one" "$permit -C $work/dir-one push staging -q" \
  -n "push to $FLEET folders" --prepare "$work/flip $work/dir-fleet" "$permit -C $work/dir-fleet push staging -q" >/dev/null

# --- bundle build of the large model -----------------------------------------------------
large=$(synth_model "$SCALE" "$SEED")
"$permit" -C "$large" build --bundle "$work/large.tar.gz" -q
hyperfine -N --style none --warmup 1 --runs "$RUNS_LARGE" --export-json "$work/bundle.json" \
  -n "build --bundle (synth scale $SCALE)" "$permit -C $large build --bundle $work/large.tar.gz -q" \
  -n "build --out (synth scale $SCALE)" "$permit -C $large build --out $work/large-build -q" >/dev/null
bundle_mib=$(du -m "$work/large.tar.gz" | cut -f1)

python3 - "$work/push.json" "$work/bundle.json" "$FLEET" "$load" "$cores" "$bundle_mib" "$BENCH_STRICT" <<'EOF'
import json, sys
push, bundle, fleet, load, cores, mib, strict = sys.argv[1:]
p = json.load(open(push))["results"]
b = json.load(open(bundle))["results"][0]
one, many = p[0]["median"] * 1000, p[1]["median"] * 1000
ratio = many / one
d1, dn = p[2]["median"] * 1000, p[3]["median"] * 1000
build = b["median"] * 1000
plain = json.load(open(bundle))["results"][1]["median"] * 1000
print(f"permit delivery (hyperfine medians; load {load} on {cores} cores)")
print(f"{'push to 1 PDP':32} {one:9.1f} ms")
print(f"{'push to ' + fleet + ' PDPs':32} {many:9.1f} ms   ratio {ratio:.2f}x (target < 3x) {'ok' if ratio < 3 else 'MISSED'}")
print(f"{'push to 1 folder':32} {d1:9.1f} ms")
print(f"{'push to ' + fleet + ' folders':32} {dn:9.1f} ms   ratio {dn / d1:.2f}x (permit's own fan-out cost)")
print(f"{'build --bundle, large model':32} {build:9.1f} ms   ({mib} MiB bundle; target < 3000 ms) {'ok' if build < 3000 else 'MISSED'}")
print(f"{'build --out, large model':32} {plain:9.1f} ms   (the same model as Rego + data.json files, for comparison)")
if strict == "1" and (ratio >= 3 or build >= 3000):
    sys.exit(1)
EOF

#!/usr/bin/env bash
# How permit's commands grow with the model: the synthetic generator (examples/synth.rs) at 1x,
# 10x and 100x of a base scale; for each, the median wall time and the peak RSS of
#   check   permit check
#   build   permit build --out DIR
#   test    permit test over decision tests drawn from the model (10,000 per scale 1.0: the
#           suite grows with the model, like a real one)
#   diff    permit diff HEAD~1 HEAD --format json, the second commit changing ~1% of roles and
#           assignments (bench/change.py)
#   bench   permit bench --generate 1000 --duration 0 --warmup 0: load, compile, generate 1,000
#           queries, check the bytecode VM against the interpreter on them, decide each once
#           (the p50 latency of a longer run, --duration 2, is reported beside it)
# For each: the median wall time and the mean CPU time (user + sys) over the runs (hyperfine),
# and the peak RSS of one more run (GNU time). On a shared machine wall time moves with the load; CPU time much less,
# so read growth from the CPU column when the load average is above the core count.
# Prints a markdown table with the step ratios (10x/1x, 100x/10x); a step worse than 15x (wall,
# CPU or memory) is flagged, and the script exits 1 when BENCH_STRICT=1.
#
# Usage: bench/growth.sh            (BASE=0.01 RUNS=5 RUNS_LARGE=3 BENCH_STRICT=0)
# Needs hyperfine and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
BASE=${BASE:-0.01}
RUNS=${RUNS:-5}
RUNS_LARGE=${RUNS_LARGE:-3}
BENCH_STRICT=${BENCH_STRICT:-0}
say() { printf '%s\n' "$*" >&2; }
command -v hyperfine >/dev/null || { say "growth: hyperfine is missing"; exit 3; }
/usr/bin/time -f %M true >/dev/null 2>&1 || { say "growth: GNU time is missing"; exit 3; }

say "growth: cargo build --release --examples --bins"
cargo build --release --examples --bins -q
permit=$root/target/release/permit
synth=$root/target/release/examples/synth
work=$(mktemp -d -t permit-growth.XXXXXX)
trap 'rm -rf "$work"' EXIT
results=$work/results.tsv
: > "$results"
git_c() { git -c user.name=bench -c user.email=bench@localhost -c commit.gpgsign=false "$@"; }

# A project at `scale`: the model committed twice (base, then ~1% changed) and decision tests.
prepare() {
  local scale=$1 dir=$2
  "$synth" --scale "$scale" --seed 1 --out "$dir" >/dev/null
  (cd "$dir" && git init -q && git_c add -A && git_c commit -qm base &&
    python3 "$root/bench/change.py" policy 1 >/dev/null && git_c commit -qam change)
  "$permit" -C "$dir" build -q --out "$work/tests-build"
  mkdir -p "$dir/tests"
  python3 - "$work/tests-build" "$dir/tests" "$scale" <<'PY'
import json, random, sys
build, out, scale = sys.argv[1], sys.argv[2], float(sys.argv[3])
n = max(100, round(10000 * scale))
m = json.load(open(f"{build}/data.json"))["permit"]["model"]
rng = random.Random(1)
users, types, rebac = sorted(m["users"]), sorted(m["resources"]), m["rebac"]
cases = []
for i in range(n):
    u = rng.choice(users)
    if i % 3 == 0 and u in rebac:
        t = rng.choice(sorted(rebac[u])); res = f"{t}:{rng.choice(sorted(rebac[u][t]))}"
    else:
        t = rng.choice(types)
        res = {"type": t, "tenant": rng.choice(sorted(m["users"][u]["tenants"]) or ["default"])}
    a = rng.choice(sorted(m["resources"][t]))
    cases.append({"name": f"case {i}", "user": u, "action": a, "resource": res, "expect": "allow"})
for f in range(0, n, 1000):
    json.dump({"tests": cases[f:f + 1000]}, open(f"{out}/cases_{f // 1000:03d}.yaml", "w"))
PY
  # take the expectations from one run so the timed runs pass (speed, not correctness, here)
  "$permit" -C "$dir" test --format json > "$work/first.json" || true
  python3 - "$work/first.json" "$dir/tests" <<'PY'
import glob, json, sys
res = {t["name"]: t for t in json.load(open(sys.argv[1]))["tests"]}
for path in glob.glob(f"{sys.argv[2]}/*.yaml"):
    doc = json.load(open(path))
    for c in doc["tests"]:
        if not res[c["name"]]["passed"]:
            c["expect"] = "deny"
    json.dump(doc, open(path, "w"))
PY
  rm -rf "$work/tests-build"
}

# measure SCALE_LABEL STEP RUNS CMD...: median wall (s), CPU (s) and peak RSS (KiB) into results
measure() {
  local label=$1 step=$2 runs=$3; shift 3
  hyperfine -N --style none --warmup 1 --runs "$runs" --export-json "$work/h.json" \
    --output null "$*" >/dev/null
  local wall cpu rss
  read -r wall cpu < <(python3 -c "
import json
r = json.load(open('$work/h.json'))['results'][0]
print(r['median'], r['user'] + r['system'])")
  rss=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1)
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$step" "$wall" "$rss" "$cpu" >> "$results"
  say "growth: $label $step: ${wall} s wall, ${cpu} s cpu, ${rss} KiB"
}

say "growth: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for mult in 1 10 100; do
  scale=$(python3 -c "print(f'{$BASE * $mult:g}')")
  dir=$work/synth-$mult
  say "growth: preparing ${mult}x (synth --scale $scale)"
  prepare "$scale" "$dir"
  runs=$RUNS
  [ "$mult" = 100 ] && runs=$RUNS_LARGE
  size=$(du -sk "$dir/policy" | cut -f1)
  printf '%s\tmodel\t%s\t%s\t0\n' "${mult}x" "$scale" "$size" >> "$results"
  measure "${mult}x" check "$runs" "$permit" -C "$dir" check -q
  measure "${mult}x" build "$runs" "$permit" -C "$dir" build -q --out "$work/out-$mult"
  measure "${mult}x" test "$runs" "$permit" -C "$dir" test -q
  measure "${mult}x" diff "$runs" "$permit" -C "$dir" diff HEAD~1 HEAD --format json
  measure "${mult}x" bench "$runs" "$permit" -C "$dir" bench --generate 1000 --duration 0 \
    --warmup 0 -q
  "$permit" -C "$dir" bench --generate 1000 --duration 2 --warmup 0.5 --format json \
    > "$work/bench-$mult.json"
  p50=$(python3 -c "
import json
d = json.load(open('$work/bench-$mult.json'))
def find(v):
    if isinstance(v, dict):
        if 'p50_ns' in v: return v['p50_ns']
        for x in v.values():
            r = find(x)
            if r is not None: return r
    if isinstance(v, list):
        for x in v:
            r = find(x)
            if r is not None: return r
print(find(d))")
  printf '%s\tp50\t%s\t0\t0\n' "${mult}x" "$p50" >> "$results"
done

status=0
python3 - "$results" "$BASE" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" <<'PY' || status=$?
import sys
from collections import defaultdict
rows = defaultdict(dict)
for line in open(sys.argv[1]):
    label, step, wall, rss, cpu = line.rstrip("\n").split("\t")
    rows[step][label] = (float(wall), float(rss), float(cpu))
base, load, cores = float(sys.argv[2]), sys.argv[3], sys.argv[4]
mults = ["1x", "10x", "100x"]
m = rows["model"]
print(f"Base scale {base:g} (`examples/synth.rs --scale`): " + ", ".join(
    f"{k} = scale {m[k][0]:g} ({m[k][1] / 1024:.1f} MiB of YAML)" for k in mults)
    + f". Load average at the end: {load} on {cores} cores.\n")
print("| step | wall 1x / 10x / 100x | wall 10x/1x, 100x/10x | CPU 1x / 10x / 100x | CPU 10x/1x, 100x/10x | peak RSS 1x / 10x / 100x | RSS 10x/1x, 100x/10x |")
print("|---|---:|---:|---:|---:|---:|---:|")
worst = []
def ratios(step, what, v):
    out = []
    for a, b in ((v[0], v[1]), (v[1], v[2])):
        r = b / a if a > 0 else float("inf")
        worst.append((r, f"{step} {what}"))
        out.append(f"**{r:.1f}x**" if r > 15 else f"{r:.1f}x")
    return ", ".join(out)
def secs(v):
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.1f} s"
for step in ["check", "build", "test", "diff", "bench"]:
    r = rows[step]
    wall = [r[k][0] for k in mults]
    mem = [r[k][1] / 1024 for k in mults]
    cpu = [r[k][2] for k in mults]
    print(f"| {step} | " + " / ".join(secs(x) for x in wall) + f" | {ratios(step, 'wall', wall)} | "
          + " / ".join(secs(x) for x in cpu) + f" | {ratios(step, 'CPU', cpu)} | "
          + " / ".join(f"{x:.0f} MiB" for x in mem) + f" | {ratios(step, 'RSS', mem)} |")
p = [rows["p50"][k][0] for k in mults]
print("| bench p50 latency | " + " / ".join(f"{x / 1000:.1f} us" for x in p)
      + f" | {p[1] / p[0]:.2f}x, {p[2] / p[1]:.2f}x | | | | |")
r, what = max(worst)
print(f"\nWorst step: {what}, {r:.1f}x" + (" (over 15x)" if r > 15 else " (within 15x)") + ".")
sys.exit(1 if r > 15 else 0)
PY
if [ "$status" != 0 ] && [ "$BENCH_STRICT" = 1 ]; then exit 1; fi
exit 0

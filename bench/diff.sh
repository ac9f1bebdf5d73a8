#!/usr/bin/env bash
# `permit diff` between two commits of the large synthetic model, the second changing ~1% of
# roles and assignments (bench/change.py). Target: under 3 s on 2 cores.
# Usage: bench/diff.sh   (SCALE=1 SEED=1 PCT=1 RUNS=5 BASELINE=path/to/older/permit)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
SCALE=${SCALE:-1}; SEED=${SEED:-1}; PCT=${PCT:-1}; RUNS=${RUNS:-5}
cargo build --release --examples --bins -q
permit=$root/target/release/permit
work=$(mktemp -d -t permit-bench-diff.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$root/target/release/examples/synth" --scale "$SCALE" --seed "$SEED" --out "$work/repo" >&2
cd "$work/repo"
git init -q && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm base
echo "bench: change: $(python3 "$root/bench/change.py" policy "$PCT")" >&2
git -c user.name=bench -c user.email=bench@localhost commit -qam change
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
# BASELINE=/path/to/an/older/permit times it side by side in the same hyperfine run
for fmt in text json; do
  extra=()
  if [ -n "${BASELINE:-}" ]; then
    extra=(--command-name "baseline: permit diff HEAD~1 HEAD --format $fmt" "$BASELINE diff HEAD~1 HEAD --format $fmt")
  fi
  hyperfine -N --style basic --warmup 1 --runs "$RUNS" --output null \
    --export-json "$work/$fmt.json" \
    --command-name "permit diff HEAD~1 HEAD --format $fmt" \
    "$permit diff HEAD~1 HEAD --format $fmt" "${extra[@]}"
done
# medians (and the ratio to the baseline when there is one), from hyperfine's exports
python3 - "$work" <<'PY'
import json, sys
print(f"{'command':<58} {'median':>8} {'min':>8} {'cpu (user+sys, mean)':>21}")
for fmt in ("text", "json"):
    rows = json.load(open(f"{sys.argv[1]}/{fmt}.json"))["results"]
    for r in rows:
        print(f"{r['command']:<58} {r['median']:>7.2f}s {r['min']:>7.2f}s {r['user'] + r['system']:>20.2f}s")
    if len(rows) == 2:
        print(f"{'  speed-up against the baseline (median)':<58} {rows[1]['median'] / rows[0]['median']:>7.2f}x")
PY
/usr/bin/time -f "peak RSS %M KB, %e s wall, %U s user, %S s sys" "$permit" diff HEAD~1 HEAD --format json >/dev/null
# where the time goes: wall and CPU (all threads) at the end of each phase
PERMIT_TIMINGS=1 "$permit" diff HEAD~1 HEAD --format json 2>&1 >/dev/null | grep '^timing:' >&2
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

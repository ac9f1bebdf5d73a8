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
if [ -z "${BASELINE:-}" ]; then
  for fmt in text json; do
    hyperfine -N --style basic --warmup 1 --runs "$RUNS" --output null \
      --export-json "$work/$fmt.json" \
      --command-name "permit diff HEAD~1 HEAD --format $fmt" \
      "$permit diff HEAD~1 HEAD --format $fmt"
  done
  python3 - "$work" <<'PY'
import json, sys
print(f"{'command':<46} {'median':>8} {'min':>8} {'cpu (user+sys, mean)':>21}")
for fmt in ("text", "json"):
    for r in json.load(open(f"{sys.argv[1]}/{fmt}.json"))["results"]:
        print(f"{r['command']:<46} {r['median']:>7.2f}s {r['min']:>7.2f}s {r['user'] + r['system']:>20.2f}s")
PY
else
  # BASELINE=/path/to/an/older/permit: the two binaries alternate (ours, baseline, ours, ...),
  # so a change in the machine's speed, or the state the previous run leaves behind, hits both
  # alike (hyperfine runs one command's runs back to back, which made ours look bimodal).
  for fmt in text json; do
    "$permit" diff HEAD~1 HEAD --format "$fmt" >/dev/null # warm-up, both
    "$BASELINE" diff HEAD~1 HEAD --format "$fmt" >/dev/null
    for _ in $(seq "$RUNS"); do
      for who in ours baseline; do
        bin=$permit; [ "$who" = baseline ] && bin=$BASELINE
        /usr/bin/time -f "$fmt $who %e %U %S" -a -o "$work/times" "$bin" diff HEAD~1 HEAD --format "$fmt" >/dev/null
      done
    done
  done
  python3 - "$work/times" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print(f"{'command (alternating runs)':<50} {'median':>8} {'min':>8} {'cpu (user+sys, median)':>23}")
for fmt in ("text", "json"):
    med = {}
    for who in ("ours", "baseline"):
        r = [x for x in rows if x[0] == fmt and x[1] == who]
        wall = [float(x[2]) for x in r]
        cpu = [float(x[3]) + float(x[4]) for x in r]
        med[who] = statistics.median(wall)
        name = ("" if who == "ours" else "baseline: ") + f"permit diff HEAD~1 HEAD --format {fmt}"
        print(f"{name:<50} {med[who]:>7.2f}s {min(wall):>7.2f}s {statistics.median(cpu):>22.2f}s")
    print(f"{'  speed-up against the baseline (median)':<50} {med['baseline'] / med['ours']:>7.2f}x")
PY
fi
/usr/bin/time -f "peak RSS %M KB, %e s wall, %U s user, %S s sys" "$permit" diff HEAD~1 HEAD --format json >/dev/null
# where the time goes: wall and CPU (all threads) at the end of each phase
PERMIT_TIMINGS=1 "$permit" diff HEAD~1 HEAD --format json 2>&1 >/dev/null | grep '^timing:' >&2
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

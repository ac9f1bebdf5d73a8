#!/usr/bin/env bash
# Wall time of the pre-commit path: `permit check --staged` (the model read from the git index)
# next to `permit check` (the working tree), and a real `git commit` through the installed hook
# next to the same commit with `--no-verify`, on the `permit init` example and on the large
# synthetic model (examples/synth.rs), against the targets:
#   init example  hook < 100 ms
#   large model   hook < 2 s
#
# Usage: bench/hook.sh
# Environment:
#   SCALE=1 SEED=1       the synthetic model (cached in target/bench/synth-<scale>-s<seed>)
#   RUNS_SMALL=50        timed runs on the init example
#   RUNS_LARGE=10        timed runs on the large model
#   WARMUP=2             untimed runs before each measurement
#   BENCH_STRICT=1       exit 1 when a target is missed (default: report only)
# Uses hyperfine when installed, else a timing loop.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. bench/synth-model.sh

SCALE=${SCALE:-1}
SEED=${SEED:-1}
RUNS_SMALL=${RUNS_SMALL:-50}
RUNS_LARGE=${RUNS_LARGE:-10}
WARMUP=${WARMUP:-2}
BENCH_STRICT=${BENCH_STRICT:-0}

say() { printf '%s\n' "$*" >&2; }

have_hyperfine=0
command -v hyperfine >/dev/null 2>&1 && have_hyperfine=1
[ "$have_hyperfine" = 1 ] || say "bench: hyperfine is missing: using a timing loop"

# --- build -------------------------------------------------------------------------------
say "bench: cargo build --release --examples --bins"
cargo build --release --examples --bins -q
permit=$root/target/release/permit

# --- repositories ------------------------------------------------------------------------
work=$(mktemp -d -t permit-bench-hook.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
g() { git -C "$1" -c commit.gpgsign=false "${@:2}"; }

# repo DIR: commits everything in DIR on `main` and installs the hook
repo() {
  local dir=$1
  [ -d "$dir/.git" ] || git init -q -b main "$dir"
  g "$dir" add -A
  g "$dir" commit -q --no-verify -m bench
  "$permit" -C "$dir" hook install -q
}

small=$work/init-example
"$permit" init "$small" --no-git -q
repo "$small"

# The large model is generated as bench/check.sh does (and shares its cache).
large_src=$(synth_model "$SCALE" "$SEED")
large=$work/synth
say "bench: committing the synthetic model to a git repository"
cp -r "$large_src" "$large"
repo "$large"

# Both must pass before timing anything (a failing check would time the wrong thing).
for dir in "$small" "$large"; do
  if ! "$permit" -C "$dir" check --staged -q; then
    say "bench: \`permit check --staged\` fails on $dir; fix that first"
    exit 1
  fi
done

# --- measurement -------------------------------------------------------------------------
# time_cmd RUNS CMD... -> "median min max cpu" in milliseconds (cpu: mean user+system of the
# command and its children, less sensitive to other load than wall time; "n/a" without hyperfine)
time_cmd() {
  local runs=$1
  shift
  if [ "$have_hyperfine" = 1 ]; then
    local csv=$work/hf.csv
    hyperfine -N --style none --warmup "$WARMUP" --runs "$runs" --export-csv "$csv" "$*" >/dev/null
    # command,mean,stddev,median,user,system,min,max (seconds)
    awk -F, 'NR == 2 { printf "%.1f %.1f %.1f %.1f\n", $4 * 1000, $7 * 1000, $8 * 1000, ($5 + $6) * 1000 }' "$csv"
  else
    local i t0 t1
    for ((i = 0; i < WARMUP; i++)); do "$@" >/dev/null; done
    for ((i = 0; i < runs; i++)); do
      t0=$(date +%s%N)
      "$@" >/dev/null
      t1=$(date +%s%N)
      echo $(((t1 - t0) / 1000))
    done | sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.1f %.1f %.1f n/a\n", m / 1000, v[1] / 1000, v[NR] / 1000 }'
  fi
}

load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
cores=$(nproc 2>/dev/null || echo "?")
say "bench: load average $load on $cores cores$(awk -v l="$load" 'BEGIN { if (l + 0 > 0.5) print " (busy machine: figures will be noisy)" }')"

failed=0
rows=()
# row LABEL TARGET_MS RUNS CMD...: one measured line; TARGET_MS "" for no target
row() {
  local label=$1 target=$2 runs=$3 med min max cpu verdict=""
  shift 3
  say "bench: $label: $runs timed runs"
  read -r med min max cpu < <(time_cmd "$runs" "$@")
  if [ -n "$target" ]; then
    verdict=ok
    if awk -v m="$med" -v t="$target" 'BEGIN { exit !(m >= t) }'; then
      verdict=SLOW
      failed=1
    fi
    target="< $target ms"
  fi
  rows+=("$(printf '%-40s %10s %8s %8s %8s  %-12s %s' "$label" "$med" "$min" "$max" "$cpu" "$target" "$verdict")")
}

# An empty commit still runs the pre-commit hook on the whole staged project; --no-verify is the
# same commit without it, so the difference is what the hook costs.
for case in "init example:$small:$RUNS_SMALL:100" "synth scale $SCALE:$large:$RUNS_LARGE:2000"; do
  IFS=: read -r name dir runs target <<<"$case"
  row "$name: check (working tree)" "" "$runs" "$permit" -C "$dir" check -q
  row "$name: check --staged" "" "$runs" "$permit" -C "$dir" check --staged -q
  row "$name: git commit through the hook" "$target" "$runs" \
    git -C "$dir" -c commit.gpgsign=false commit -q --allow-empty -m bench
  row "$name: git commit --no-verify" "" "$runs" \
    git -C "$dir" -c commit.gpgsign=false commit -q --allow-empty --no-verify -m bench
done

echo
echo "pre-commit hook ($(if [ "$have_hyperfine" = 1 ]; then echo hyperfine; else echo timing loop; fi); $(date -u +%Y-%m-%dT%H:%M:%SZ); load $load on $cores cores)"
printf '%-40s %10s %8s %8s %8s  %-12s %s\n' case "median ms" "min ms" "max ms" "cpu ms" target verdict
for r in "${rows[@]}"; do echo "$r"; done
if [ "$failed" = 1 ]; then
  echo "some targets are missed"
  [ "$BENCH_STRICT" = 1 ] && exit 1
fi
exit 0

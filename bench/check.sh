#!/usr/bin/env bash
# Wall time and peak memory of `permit check` on the `permit init` example and on a large
# synthetic model (examples/synth.rs), against the targets:
#   init example  < 50 ms
#   large model   < 1500 ms and < 1 GiB peak RSS
#   large model with organisation guards  < 2000 ms (the pre-commit hook's budget)
#
# Usage: bench/check.sh
# Environment:
#   SCALE=1 SEED=1       the synthetic model (cached in target/bench/synth-<scale>-s<seed>)
#   RUNS_SMALL=100       timed runs on the init example
#   RUNS_LARGE=10        timed runs on the large model
#   WARMUP=2             untimed runs before each measurement
#   RSS_RUNS=3           runs under /usr/bin/time (the largest peak RSS is reported)
#   BENCH_STRICT=1       exit 1 when a target is missed (default: report only)
# Uses hyperfine when installed (tries `apt-get install hyperfine` once), else a timing loop.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. bench/synth-model.sh

SCALE=${SCALE:-1}
SEED=${SEED:-1}
RUNS_SMALL=${RUNS_SMALL:-100}
RUNS_LARGE=${RUNS_LARGE:-10}
WARMUP=${WARMUP:-2}
RSS_RUNS=${RSS_RUNS:-3}
BENCH_STRICT=${BENCH_STRICT:-0}

say() { printf '%s\n' "$*" >&2; }

apt_install() { # package: install with apt-get when we can; never fatal
  local pkg=$1 sudo=""
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || return 1
    sudo="sudo -n"
  fi
  say "bench: installing $pkg with apt-get"
  $sudo apt-get install -y -qq "$pkg" >/dev/null 2>&1 ||
    { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq "$pkg" >/dev/null 2>&1; }
}

# --- tools -------------------------------------------------------------------------------
if ! command -v hyperfine >/dev/null 2>&1; then
  apt_install hyperfine || true
fi
have_hyperfine=0
command -v hyperfine >/dev/null 2>&1 && have_hyperfine=1
gnu_time=/usr/bin/time
if ! "$gnu_time" -f %M true >/dev/null 2>&1; then
  apt_install time || true
fi
have_time=0
"$gnu_time" -f %M true >/dev/null 2>&1 && have_time=1
[ "$have_time" = 1 ] || say "bench: /usr/bin/time (GNU time) is missing: peak RSS not measured"

# --- build -------------------------------------------------------------------------------
say "bench: cargo build --release --examples --bins"
cargo build --release --examples --bins -q
permit=$root/target/release/permit

# --- models ------------------------------------------------------------------------------
work=$(mktemp -d -t permit-bench-check.XXXXXX)
trap 'rm -rf "$work"' EXIT

small=$work/init-example
"$permit" init "$small" --no-git -q

# The large model is cached (bench/synth-model.sh): keyed by scale and seed, and by the
# generator's source so a changed generator regenerates it.
large=$(synth_model "$SCALE" "$SEED")

# The large model under organisation guards (a role guard walked through every derivation, a
# tenant role guard through `extends`, a user-set guard over every directory member): the
# same files through symlinks, plus guards/. Violations are expected there; the row times the
# whole check either way.
guarded=$work/synth-guarded
mkdir -p "$guarded/guards"
for f in policy custom tests; do [ -e "$large/$f" ] && ln -s "$large/$f" "$guarded/$f"; done
printf 'policy: policy\nguards: [guards]\n' > "$guarded/permit.yaml"
cat > "$guarded/guards/org.yaml" <<'YAML'
rules:
  - {resource: res0000, action: "*", role: role00, is_allowed: false}
  - {resource: res0003, action: act1, role: trole00, is_allowed: false}
  - {resource: res0001, action: act0, role: role03, is_allowed: true}
  - {resource: res0002, action: act0, user_set: userset04, is_allowed: false}
  - {resource: res0002, action: act2, user_set: userset01, is_allowed: false}
YAML

# Both must be valid before timing anything (a failing check would time the wrong thing).
for dir in "$small" "$large"; do
  if ! "$permit" -C "$dir" check -q; then
    say "bench: \`permit check\` fails on $dir; fix that first"
    exit 1
  fi
done

# --- measurement -------------------------------------------------------------------------
# time_runs DIR RUNS -> prints "median min max cpu" in milliseconds (cpu: mean user+system,
# less sensitive to other load than wall time; "n/a" without hyperfine)
time_runs() {
  local dir=$1 runs=$2
  if [ "$have_hyperfine" = 1 ]; then
    local csv=$work/hf.csv
    # -i: the guarded model reports violations (exit 1); its time is what is measured
    hyperfine -N -i --style none --warmup "$WARMUP" --runs "$runs" --export-csv "$csv" \
      "$permit -C $dir check -q" >/dev/null 2>&1
    # command,mean,stddev,median,user,system,min,max (seconds)
    awk -F, 'NR == 2 { printf "%.1f %.1f %.1f %.1f\n", $4 * 1000, $7 * 1000, $8 * 1000, ($5 + $6) * 1000 }' "$csv"
  else
    local i t0 t1
    for ((i = 0; i < WARMUP; i++)); do "$permit" -C "$dir" check -q >/dev/null 2>&1 || true; done
    for ((i = 0; i < runs; i++)); do
      t0=$(date +%s%N)
      "$permit" -C "$dir" check -q >/dev/null 2>&1 || true
      t1=$(date +%s%N)
      echo $(((t1 - t0) / 1000))
    done | sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.1f %.1f %.1f n/a\n", m / 1000, v[1] / 1000, v[NR] / 1000 }'
  fi
}

# peak_rss DIR -> the largest peak RSS over RSS_RUNS runs, in MiB
peak_rss() {
  local dir=$1 i kb max=0
  [ "$have_time" = 1 ] || { echo "n/a"; return; }
  for ((i = 0; i < RSS_RUNS; i++)); do
    "$gnu_time" -f %M -o "$work/rss" "$permit" -C "$dir" check -q >/dev/null 2>&1 || true
    kb=$(tail -n 1 "$work/rss")
    [ "$kb" -gt "$max" ] && max=$kb
  done
  awk -v kb="$max" 'BEGIN { printf "%.1f\n", kb / 1024 }'
}

model_size() { # DIR -> "files MiB"
  local dir=$1 policy
  policy=$dir/policy
  printf '%s %s\n' "$(find "$policy" -name '*.yaml' | wc -l)" \
    "$(du -sb "$policy" | awk '{ printf "%.2f", $1 / 1048576 }')"
}

load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
cores=$(nproc 2>/dev/null || echo "?")
say "bench: load average $load on $cores cores$(awk -v l="$load" 'BEGIN { if (l + 0 > 0.5) print " (busy machine: figures will be noisy)" }')"

failed=0
rows=()
measure() { # label DIR RUNS TARGET_MS TARGET_MIB
  local label=$1 dir=$2 runs=$3 target_ms=$4 target_mib=$5 med min max cpu rss size verdict
  say "bench: $label: $runs timed runs"
  read -r med min max cpu < <(time_runs "$dir" "$runs")
  rss=$(peak_rss "$dir")
  size=$(model_size "$dir")
  local flags=()
  awk -v m="$med" -v t="$target_ms" 'BEGIN { exit !(m >= t) }' && flags+=(SLOW)
  if [ -n "$target_mib" ] && [ "$rss" != "n/a" ]; then
    awk -v r="$rss" -v t="$target_mib" 'BEGIN { exit !(r >= t) }' && flags+=(BIG)
  fi
  verdict=ok
  if [ "${#flags[@]}" -gt 0 ]; then
    verdict="${flags[*]}"
    failed=1
  fi
  local target="< ${target_ms} ms"
  [ -n "$target_mib" ] && target="$target, < ${target_mib} MiB"
  rows+=("$(printf '%-20s %5s %7s %10s %8s %8s %8s %13s  %-22s %s' \
    "$label" ${size} "$med" "$min" "$max" "$cpu" "$rss" "$target" "$verdict")")
}

measure "init example" "$small" "$RUNS_SMALL" 50 ""
measure "synth scale $SCALE" "$large" "$RUNS_LARGE" 1500 1024
measure "synth + 5 guards" "$guarded" "$RUNS_LARGE" 2000 1024

echo
echo "permit check ($(if [ "$have_hyperfine" = 1 ]; then echo hyperfine; else echo timing loop; fi); $(date -u +%Y-%m-%dT%H:%M:%SZ); load $load on $cores cores)"
printf '%-20s %5s %7s %10s %8s %8s %8s %13s  %-22s %s\n' \
  model files MiB "median ms" "min ms" "max ms" "cpu ms" "peak RSS MiB" target verdict
for r in "${rows[@]}"; do echo "$r"; done
if [ "$failed" = 1 ]; then
  echo "some targets are missed"
  [ "$BENCH_STRICT" = 1 ] && exit 1
fi
exit 0

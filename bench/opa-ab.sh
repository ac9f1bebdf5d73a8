#!/usr/bin/env bash
# Two builds of the same project on real OPA, side by side: the policy compiled by an older
# permit binary (BASELINE) and by this checkout's, with bench/opa-decisions.sh's minimal keyed
# RBAC policy beside them (bench/opa-common.sh, shared with opa-decisions.sh). `opa bench`
# runs are interleaved (minimal, before, after, minimal, ...) so a change in the machine's
# speed hits them alike; prints median ns/op per query and the ratios against the minimal
# policy on the RBAC-allow input, timed again beside every query.
# Usage: BASELINE=path/to/older/permit bench/opa-ab.sh [PROJECT_DIR]   (RUNS=5; default: a
# fresh `permit init` example and its users alice, bob, carol)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
: "${BASELINE:?set BASELINE to the permit binary to compare with}"
. bench/opa-common.sh
bench_setup "${1:-}"
"$BASELINE" -C "$project" build -q --out "$work/before"
"$permit" -C "$project" build -q --out "$work/after"
write_minimal "$work/minimal"
write_queries "$work" "$work/after/data.json" "${1:-}"

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $RUNS interleaved runs" >&2
printf '%-12s %10s %10s %10s %14s\n' case minimal_ns before_ns after_ns "ratio b -> a"
# one row: QUERY on INPUT, timed RUNS times beside the minimal policy; sets bm and am (medians)
row() { # name input query
  local m="" b="" a=""
  for _ in $(seq "$RUNS"); do
    m+=" $(opa_ns -d "$work/after/data.json" -d "$work/minimal" -i "$work/rbac_allow.json" data.minimal.allow)"
    b+=" $(opa_ns -d "$work/before" -i "$2" "$3")"
    a+=" $(opa_ns -d "$work/after" -i "$2" "$3")"
  done
  local mm
  mm=$(echo "$m" | median); bm=$(echo "$b" | median); am=$(echo "$a" | median)
  printf '%-12s %10s %10s %10s %6.2fx -> %.2fx\n' "$1" "$mm" "$bm" "$am" \
    "$(echo "$bm / $mm" | bc -l)" "$(echo "$am / $mm" | bc -l)"
}
for input in "$work"/*_*.json; do
  row "$(basename "$input" .json)" "$input" data.permit.root.allow
  [ "$(basename "$input")" = rbac_allow.json ] && allow_b=$bm allow_a=$am
done
row full_doc "$work/rbac_allow.json" data.permit.root
printf 'full_doc vs rbac_allow: %.2fx -> %.2fx\n' "$(echo "$bm / $allow_b" | bc -l)" "$(echo "$am / $allow_a" | bc -l)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

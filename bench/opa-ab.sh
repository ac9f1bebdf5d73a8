#!/usr/bin/env bash
# Two builds of the same project on real OPA, side by side: the policy compiled by an older
# permit binary (BASELINE) and by this checkout's, with bench/opa-decisions.sh's minimal keyed
# RBAC policy beside them (bench/opa-common.sh, shared with opa-decisions.sh). `opa bench`
# runs are interleaved (minimal, before, after, minimal, ...) so a change in the machine's
# speed hits them alike; prints median ns/op per query and the ratios against the minimal
# policy on the RBAC-allow input.
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
min_v="" b="" a=""
for _ in $(seq "$RUNS"); do
  min_v+=" $(opa_ns -d "$work/after/data.json" -d "$work/minimal" -i "$work/rbac_allow.json" data.minimal.allow)"
  b+=" $(opa_ns -d "$work/before" -i "$work/rbac_allow.json" data.permit.root)"
  a+=" $(opa_ns -d "$work/after" -i "$work/rbac_allow.json" data.permit.root)"
done
minimal=$(echo "$min_v" | median)
full_b=$(echo "$b" | median) full_a=$(echo "$a" | median)
printf '%-12s %10s %10s %10s %14s\n' case minimal_ns before_ns after_ns "ratio b -> a"
for input in "$work"/*_*.json; do
  name=$(basename "$input" .json)
  b="" a=""
  for _ in $(seq "$RUNS"); do
    b+=" $(opa_ns -d "$work/before" -i "$input" data.permit.root.allow)"
    a+=" $(opa_ns -d "$work/after" -i "$input" data.permit.root.allow)"
  done
  bm=$(echo "$b" | median); am=$(echo "$a" | median)
  printf '%-12s %10s %10s %10s %6.2fx -> %.2fx\n' "$name" "$minimal" "$bm" "$am" \
    "$(echo "$bm / $minimal" | bc -l)" "$(echo "$am / $minimal" | bc -l)"
done
printf '%-12s %10s %10s %10s %14s\n' full_doc "" "$full_b" "$full_a" "(vs allow above)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

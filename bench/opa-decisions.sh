#!/usr/bin/env bash
# Decision cost of the compiled policy on real OPA (`opa bench`), side by side with a minimal
# hand-written keyed RBAC policy over the same data, in one run. Prints ns/op (median of
# $RUNS runs) and the ratios the compiler issue sets targets for; then the same inputs on the
# embedded engine (`permit bench`, p50) against `opa bench` on our policy (the bench issue's
# target: at least 5x fewer ns per decision in-process).
# Usage: bench/opa-decisions.sh [PROJECT_DIR]   (default: a fresh `permit init` example)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
. bench/opa-common.sh
bench_setup "${1:-}"
"$permit" -C "$project" build -q --out "$work/build"
write_minimal "$work/minimal"
write_queries "$work" "$work/build/data.json" "${1:-}"

bench() { # input query data-dir-args... -> median ns/op of $RUNS runs
  local input=$1 query=$2; shift 2
  for _ in $(seq "$RUNS"); do opa_ns "$@" -i "$input" "$query"; done | median
}

printf '%-14s %12s %12s %8s   %s\n' case permit_ns minimal_ns ratio target
row() { # name input query target
  local ours base
  ours=$(bench "$2" "$3" -d "$work/build")
  base=$(bench "$work/rbac_allow.json" data.minimal.allow -d "$work/build/data.json" -d "$work/minimal")
  printf '%-14s %12d %12d %8.2f   %s\n' "$1" "$ours" "$base" "$(echo "$ours / $base" | bc -l)" "$4"
}
row rbac_allow "$work/rbac_allow.json" data.permit.root.allow "<= 1.3"
row rbac_deny "$work/rbac_deny.json" data.permit.root.allow "<= 1.3"
row rebac_allow "$work/rebac_allow.json" data.permit.root.allow "<= 3"
row abac_allow "$work/abac_allow.json" data.permit.root.allow "<= 3"
[ -f "$work/abac_attrs.json" ] && row abac_attrs "$work/abac_attrs.json" data.permit.root.allow "<= 3"
allow=$(bench "$work/rbac_allow.json" data.permit.root.allow -d "$work/build")
full=$(bench "$work/rbac_allow.json" data.permit.root -d "$work/build")
printf '%-14s %12d %12d %8.2f   %s\n' "full_vs_allow" "$full" "$allow" "$(echo "$full / $allow" | bc -l)" "<= 2 (vs allow)"

# A role derived five relationships deep against a direct grant (fixtures/compile/rebac_deep_and_cyclic).
deep=$work/deep
"$permit" -C fixtures/compile/rebac_deep_and_cyclic build -q --out "$deep"
q own open file x default > "$work/direct.json"
q root edit file deep default > "$work/derived5.json"
direct=$(bench "$work/direct.json" data.permit.root.allow -d "$deep")
derived=$(bench "$work/derived5.json" data.permit.root.allow -d "$deep")
printf '%-14s %12d %12d %8.2f   %s\n' "derived5_vs_direct" "$derived" "$direct" "$(echo "$derived / $direct" | bc -l)" "<= 2 (vs direct)"

# The same inputs in-process (`permit bench --queries`, p50 of 1 s) against `opa bench`.
printf '\n%-14s %12s %12s %8s   %s\n' case opa_ns embedded_ns ratio "target (opa / embedded)"
for c in rbac_allow rbac_deny rebac_allow abac_allow; do
  tr -d '\n' < "$work/$c.json" > "$work/$c.jsonl"; echo >> "$work/$c.jsonl"
  ours=$(cd "${project}" && "$permit" bench -q --queries "$work/$c.jsonl" --duration 1 --warmup 0.2 --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["classes"]["all"]["p50_ns"])')
  theirs=$(bench "$work/$c.json" data.permit.root.allow -d "$work/build")
  printf '%-14s %12d %12d %8.2f   %s\n' "$c" "$theirs" "$ours" "$(echo "$theirs / $ours" | bc -l)" ">= 5"
done

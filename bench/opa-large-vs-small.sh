#!/usr/bin/env bash
# Decision latency on real OPA as the directory grows: the same kinds of query on the
# synthetic model (examples/synth.rs) with 10 users (scale 0.0001) and with 100,000 (scale 1),
# picked alike from each model's data (bench/opa-common.sh's write_queries: a tenant-role
# allow and deny, a resource-role allow, an allow by ABAC alone). `opa bench` runs on the two
# builds are interleaved; prints median ns/op and large / small. Target: within 1.3x.
# Usage: bench/opa-large-vs-small.sh   (RUNS=3; SEED=1)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SEED=${SEED:-1}
. bench/opa-common.sh
. bench/synth-model.sh
bench_setup "$(synth_model 0.0001 "$SEED")"
small=$project
large=$(synth_model 1 "$SEED")
for size in small large; do
  mkdir -p "$work/$size"
  "$permit" -C "${!size}" build -q --out "$work/$size/build"
  write_queries "$work/$size" "$work/$size/build/data.json" synthetic
done

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $RUNS interleaved runs" >&2
printf '%-12s %10s %10s %8s   %s\n' case small_ns large_ns ratio target
for input in "$work"/small/*_*.json; do
  name=$(basename "$input" .json)
  s="" l=""
  for _ in $(seq "$RUNS"); do
    s+=" $(opa_ns -d "$work/small/build" -i "$input" data.permit.root.allow)"
    l+=" $(opa_ns -d "$work/large/build" -i "$work/large/$name.json" data.permit.root.allow)"
  done
  sm=$(echo "$s" | median); lm=$(echo "$l" | median)
  printf '%-12s %10s %10s %7.2fx   %s\n' "$name" "$sm" "$lm" "$(echo "$lm / $sm" | bc -l)" "<= 1.3x"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

#!/usr/bin/env bash
# What the compiled policy could cost at best on real OPA: variants of this checkout's build of
# a project, each with one part of the contract removed or written another way, timed with
# `opa bench` beside the build itself and the minimal keyed RBAC policy (interleaved runs,
# medians). They are not policies to ship (most decide some queries wrongly); they show where
# the time of the compiler issue's two unmet targets goes:
#   rbac_allow  on data.permit.root.allow, ratio to the minimal policy (target <= 1.3x):
#     ours               the build as is
#     no_veto            `rbac.common` without its veto: the keyed lookups alone
#     custom_deny_only   `rbac.common` vetoed by custom `deny` only, no field-type checks
#     checks_object_get  the field-type checks as one body of `object.get` defaults
#     checks_per_object  the field-type checks as one body per object, iterating its fields
#                        against a table of malformed types in the data
#   full_doc    on data.permit.root for the same query, ratio to ours on `allow` (target <= 2x):
#     ours               the build as is
#     constant_rest      `allowing_sources`, `reason` and `debug` as constants: what asking
#                        for the package costs over `allow` alone
#     no_sources         without `allowing_sources`
# Each variant is a text edit of the generated Rego; the script stops if an edit finds nothing
# to change, and checks every variant with `opa check --strict`.
# Usage: bench/opa-floors.sh [PROJECT_DIR]   (RUNS=5; default: a fresh `permit init` example)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
. bench/opa-common.sh
bench_setup "${1:-}"
"$permit" -C "$project" build -q --out "$work/ours"
write_minimal "$work/minimal"
write_queries "$work" "$work/ours/data.json" "${1:-}"

# variant NAME: a copy of the build, edited by the Python on stdin (`rbac`, `query`, `root`:
# the modules' text, written back; `model`: data.json's model, written back; `edit(text,
# old, new)` replaces exactly one occurrence, `cut(text, start, end)` removes start .. end, or
# start to the end of the text; both fail when they find nothing).
variant() { # name
  cp -r "$work/ours" "$work/$1"
  python3 - "$work/$1" <<PY
import json, sys
d = sys.argv[1]
def edit(text, old, new):
    if text.count(old) != 1:
        sys.exit(f"bench/opa-floors.sh: variant $1: expected one {old[:60]!r}, found {text.count(old)}")
    return text.replace(old, new)
def cut(text, start, end=None):  # from start to end, or to the end of the text
    a = text.find(start)
    b = len(text) if end is None else text.find(end)
    if a < 0 or b < a:
        sys.exit(f"bench/opa-floors.sh: variant $1: no {start[:40]!r} .. {end[:40]!r}")
    return text[:a] + text[b:]
rbac, query, root = (open(f"{d}/permit/{m}.rego").read() for m in ("rbac", "query", "root"))
data = json.load(open(f"{d}/data.json"))
model = data["permit"]["model"]
$(cat)
for m, text in (("rbac", rbac), ("query", query), ("root", root)):
    open(f"{d}/permit/{m}.rego", "w").write(text)
json.dump(data, open(f"{d}/data.json", "w"))
PY
  "$OPA" check --strict "$work/$1" > /dev/null
}

veto='	not data.permit.query.vetoed_besides_key
}'
variant no_veto <<PY
rbac = edit(rbac, '''$veto''', "}")
PY
variant custom_deny_only <<PY
rbac = edit(rbac, '''$veto''', "\tnot data.permit.custom.deny == true\n}")
PY
shape_checks='vetoed_besides_key if type_name(input.resource.tenant)'
custom_veto='vetoed_besides_key if data.permit.custom.deny == true'
variant checks_object_get <<PY
query = cut(query, '''$shape_checks''', '''$custom_veto''')
query = edit(query, '''$custom_veto''', '''vetoed_besides_key if not fields_well_typed

fields_well_typed if {
	type_name(object.get(input.resource, "tenant", "")) == "string"
	type_name(object.get(input.user, "attributes", {})) == "object"
	type_name(object.get(input.resource, "attributes", {})) == "object"
	type_name(object.get(input, "context", {})) == "object"
}

$custom_veto''')
PY
variant checks_per_object <<PY
others = {t: True for t in ("null", "boolean", "number", "array", "set")}
model["malformed"] = {
    "resource": {"tenant": {**others, "object": True}, "attributes": {**others, "string": True}},
    "user": {"attributes": {**others, "string": True}},
    "context": {**others, "string": True},
}
query = cut(query, '''$shape_checks''', '''$custom_veto''')
query = edit(query, '''$custom_veto''', '''vetoed_besides_key if {
	some field, value in input.resource
	data.permit.model.malformed.resource[field][type_name(value)]
}

vetoed_besides_key if {
	some field, value in input.user
	data.permit.model.malformed.user[field][type_name(value)]
}

vetoed_besides_key if data.permit.model.malformed.context[type_name(input.context)]

$custom_veto''')
PY
variant constant_rest <<PY
root = cut(root, "# Every source that allowed") + '''allowing_sources := {"rbac"}

debug := {"reason": "allow", "abac": {"reason": "allow"}}

reason := "allow"
'''
PY
variant no_sources <<PY
root = cut(root, "# Every source that allowed", "debug := ")
PY

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $RUNS interleaved runs" >&2
allow_variants="ours no_veto custom_deny_only checks_object_get checks_per_object"
full_variants="ours constant_rest no_sources"
declare -A allow full
minimal=""
for _ in $(seq "$RUNS"); do
  minimal+=" $(opa_ns -d "$work/ours/data.json" -d "$work/minimal" -i "$work/rbac_allow.json" data.minimal.allow)"
  for v in $allow_variants; do
    allow[$v]+=" $(opa_ns -d "$work/$v" -i "$work/rbac_allow.json" data.permit.root.allow)"
  done
  for v in $full_variants; do
    full[$v]+=" $(opa_ns -d "$work/$v" -i "$work/rbac_allow.json" data.permit.root)"
  done
done
mm=$(echo "$minimal" | median)
ours_allow=$(echo "${allow[ours]}" | median)
printf '%-30s %10s %8s\n' "rbac_allow (allow)" ns/op "vs minimal"
printf '%-30s %10d %7.2fx\n' minimal "$mm" 1
for v in $allow_variants; do
  a=$(echo "${allow[$v]}" | median)
  printf '%-30s %10d %7.2fx\n' "$v" "$a" "$(echo "$a / $mm" | bc -l)"
done
printf '\n%-30s %10s %8s\n' "rbac_allow (data.permit.root)" ns/op "vs allow"
for v in $full_variants; do
  f=$(echo "${full[$v]}" | median)
  printf '%-30s %10d %7.2fx\n' "$v" "$f" "$(echo "$f / $ours_allow" | bc -l)"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

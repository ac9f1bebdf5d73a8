#!/usr/bin/env bash
# Two builds of the same project on real OPA, side by side: the policy compiled by an older
# permit binary (BASELINE) and by this checkout's, with bench/opa-decisions.sh's minimal keyed
# RBAC policy beside them. `opa bench` runs are interleaved (minimal, before, after, minimal,
# ...) so a change in the machine's speed hits them alike; prints median ns/op per query and
# the ratios against the minimal policy on the RBAC-allow input.
# Usage: BASELINE=path/to/older/permit bench/opa-ab.sh [PROJECT_DIR]   (RUNS=5; default: a
# fresh `permit init` example and its users alice, bob, carol)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
: "${BASELINE:?set BASELINE to the permit binary to compare with}"
OPA=${PERMIT_OPA:-$(scripts/provision-opa.sh | tail -n 1)}
cargo build --release -q
permit=$PWD/target/release/permit
work=$(mktemp -d -t permit-opa-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
project=${1:-}
if [ -z "$project" ]; then
  project=$work/demo
  "$permit" init "$project" --no-git -q
fi
"$BASELINE" -C "$project" build -q --out "$work/before"
"$permit" -C "$project" build -q --out "$work/after"
mkdir -p "$work/minimal"
cp "$work/after/data.json" "$work/minimal/"
cat > "$work/minimal/minimal.rego" <<'REGO'
package permit.root

default allow := false

allow if {
	some role, _ in data.permit.model.users[input.user.key].tenants[input.resource.tenant]
	data.permit.model.grants[role][input.resource.type][input.action]
}
REGO

# the same queries as bench/opa-decisions.sh
python3 - "$work" "${1:-}" <<'PY'
import json, sys
w, synthetic = sys.argv[1], sys.argv[2]
def q(u, a, t, k, ten): return {"user": {"key": u}, "action": a, "resource": {"type": t, "key": k, "tenant": ten}}
out = {}
if not synthetic:
    out = {"rbac_allow": q("alice", "read", "document", "launch", "acme"),
           "rbac_deny": q("alice", "delete", "document", "launch", "acme"),
           "rebac_allow": q("bob", "update", "document", "salaries", "acme"),
           "abac_allow": q("carol", "read", "document", "launch", "acme")}
else:
    m = json.load(open(f"{w}/after/data.json"))["permit"]["model"]
    def first_rbac():
        for u, rec in m["users"].items():
            for ten, roles in rec["tenants"].items():
                for r in roles:
                    for t, acts in m["grants"].get(r, {}).items():
                        return u, ten, t, sorted(acts)[0]
    u, ten, t, a = first_rbac()
    out["rbac_allow"] = q(u, a, t, "zz", ten)
    out["rbac_deny"] = q(u, "nope", t, "zz", ten)
    u, by_type = next(iter(m["rebac"].items()))
    t, by_key = next(iter(by_type.items()))
    k, roles = next(iter(by_key.items()))
    role = next(iter(roles))
    out["rebac_allow"] = q(u, sorted(m["resource_grants"][t][role])[0], t, k, "default")
for name, query in out.items():
    json.dump(query, open(f"{w}/{name}.json", "w"))
PY

one() { # dir input query -> ns/op
  "$OPA" bench --format json -d "$1" -i "$2" "$3" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d["T"] / d["N"]))'
}
median() { tr ' ' '\n' | grep . | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $RUNS interleaved runs" >&2
min_v="" b="" a=""
for _ in $(seq "$RUNS"); do
  min_v+=" $(one "$work/minimal" "$work/rbac_allow.json" data.permit.root.allow)"
  b+=" $(one "$work/before" "$work/rbac_allow.json" data.permit.root)"
  a+=" $(one "$work/after" "$work/rbac_allow.json" data.permit.root)"
done
minimal=$(echo "$min_v" | median)
full_b=$(echo "$b" | median) full_a=$(echo "$a" | median)
printf '%-12s %10s %10s %10s %14s\n' case minimal_ns before_ns after_ns "ratio b -> a"
for input in "$work"/*_*.json; do
  name=$(basename "$input" .json)
  b="" a=""
  for _ in $(seq "$RUNS"); do
    b+=" $(one "$work/before" "$input" data.permit.root.allow)"
    a+=" $(one "$work/after" "$input" data.permit.root.allow)"
  done
  bm=$(echo "$b" | median); am=$(echo "$a" | median)
  printf '%-12s %10s %10s %10s %6.2fx -> %.2fx\n' "$name" "$minimal" "$bm" "$am" \
    "$(echo "$bm / $minimal" | bc -l)" "$(echo "$am / $minimal" | bc -l)"
done
printf '%-12s %10s %10s %10s %14s\n' full_doc "" "$full_b" "$full_a" "(vs allow above)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

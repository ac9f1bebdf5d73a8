# Shared by bench/opa-decisions.sh and bench/opa-ab.sh (sourced, not run, from the checkout's
# root): their setup, one `opa bench` figure, medians, the minimal keyed RBAC policy the
# targets are ratios against, and the queries both scripts time. Needs $RUNS.

# Sets OPA (provisioned), permit (this checkout's, built), work (a temporary directory removed
# on exit) and project: PROJECT_DIR, or a fresh `permit init` example in $work when empty.
bench_setup() { # project-dir
  OPA=${PERMIT_OPA:-$(scripts/provision-opa.sh | tail -n 1)}
  cargo build --release -q
  permit=$PWD/target/release/permit
  work=$(mktemp -d -t permit-opa-bench.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  project=$1
  if [ -z "$project" ]; then
    project=$work/demo
    "$permit" init "$project" --no-git -q
  fi
}

# One `opa bench` run -> ns/op. Arguments go to `opa bench` (-d ..., -i INPUT, QUERY).
opa_ns() {
  "$OPA" bench --format json "$@" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d["T"] / d["N"]))'
}

# The median of the numbers on stdin (one per line or space-separated), of $RUNS runs.
median() { tr ' ' '\n' | grep . | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }

# The minimal keyed RBAC policy (`data.minimal.allow`): user -> tenant -> roles,
# role -> type -> action. Load it with the data.json of the build it is compared with.
write_minimal() { # dir
  mkdir -p "$1"
  cat > "$1/minimal.rego" <<'REGO'
package minimal

allow if {
	some role, _ in data.permit.model.users[input.user.key].tenants[input.resource.tenant]
	data.permit.model.grants[role][input.resource.type][input.action]
}
REGO
}

q() { # user action type key tenant -> a query
  printf '{"user":{"key":"%s"},"action":"%s","resource":{"type":"%s","key":"%s","tenant":"%s"}}' "$1" "$2" "$3" "$4" "$5"
}

# rbac_allow, rbac_deny, rebac_allow and abac_allow .json in DIR: the init example's users
# alice, bob and carol, and abac_attrs (carol's ABAC allow with her attributes in the query);
# or, for a synthetic model (SYNTHETIC non-empty), a user with a tenant role, one with a
# resource role and one allowed by ABAC alone, taken from DATA_JSON.
write_queries() { # dir data.json synthetic
  if [ -z "$3" ]; then
    q alice read document launch acme > "$1/rbac_allow.json"
    q alice delete document launch acme > "$1/rbac_deny.json"
    q bob update document salaries acme > "$1/rebac_allow.json"
    q carol read document launch acme > "$1/abac_allow.json"
    # the same with carol's attributes in the query: the sets are evaluated, not looked up
    q carol read document launch acme |
      sed 's/"key":"carol"/"key":"carol","attributes":{"department":"engineering","clearance":5}/' \
        > "$1/abac_attrs.json"
    return
  fi
  python3 - "$1" "$2" <<'PY'
import json, sys
w = sys.argv[1]
m = json.load(open(sys.argv[2]))["permit"]["model"]
def q(u, a, t, k, ten): return {"user": {"key": u}, "action": a, "resource": {"type": t, "key": k, "tenant": ten}}
def first_rbac():
    for u, rec in m["users"].items():
        for ten, roles in rec["tenants"].items():
            for r in roles:
                for t, acts in m["grants"].get(r, {}).items():
                    return u, ten, t, sorted(acts)[0]
u, ten, t, a = first_rbac()
json.dump(q(u, a, t, "zz", ten), open(f"{w}/rbac_allow.json", "w"))
json.dump(q(u, "nope", t, "zz", ten), open(f"{w}/rbac_deny.json", "w"))
def rbac_grants(rec, ten, t, a):
    key = rec["role_set"].get(ten)
    return bool(key) and a in m["role_sets"][key].get(t, {})
def first_abac():
    # a stored user in a user set and a stored instance in a resource set of one rule, the
    # user holding no role on it: allowed by ABAC alone, with both sets decided at build time
    members = {}
    for u, rec in m["users"].items():
        for s in rec.get("user_sets", {}):
            members.setdefault(s, []).append(u)
    for t, by_key in m["instances"].items():
        for k, inst in by_key.items():
            for a, rules in m["abac_rules"].get(t, {}).items():
                for us, rs in rules:
                    if rs not in inst.get("resource_sets", {}):
                        continue
                    ten = inst.get("tenant", "default")
                    for u in members.get(us, [])[:200]:
                        rec = m["users"][u]
                        if rbac_grants(rec, ten, t, a) or rec.get("expiring"):
                            continue
                        if k in m["rebac"].get(u, {}).get(t, {}):
                            continue
                        return u, a, t, k, ten
first = first_abac()
if first:
    json.dump(q(*first), open(f"{w}/abac_allow.json", "w"))
else:
    print("opa-common: no ABAC-only query in this model; abac_allow is an RBAC allow", file=sys.stderr)
    json.dump(q(u, a, t, "zz", ten), open(f"{w}/abac_allow.json", "w"))
def first_rebac():
    # a resource role on an instance whose action the user's tenant roles do not grant there
    for u, by_type in m["rebac"].items():
        rec = m["users"][u]
        if rec.get("expiring"):
            continue
        for t, by_key in by_type.items():
            for k, roles in by_key.items():
                ten = m["instances"].get(t, {}).get(k, {}).get("tenant", "default")
                for role in roles:
                    for a in sorted(m["resource_grants"][t][role]):
                        if not rbac_grants(rec, ten, t, a):
                            return u, a, t, k, "default"
json.dump(q(*first_rebac()), open(f"{w}/rebac_allow.json", "w"))
PY
}

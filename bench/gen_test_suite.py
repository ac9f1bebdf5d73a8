#!/usr/bin/env python3
"""Test suites for bench/test-vs-opa.sh (Python 3 standard library only; deterministic).

  gen_test_suite.py rbac --n N --out DIR [--seed S] [--per-file 1000]
      One keyed RBAC model (1,000 users, 20 roles, 50 resources x 5 actions), written twice:
        DIR/opa/     policy.rego (package rbac), data.json and N Rego test rules in
                     tests_NNN_test.rego files (1,000 per file), as `opa test DIR/opa` runs them
        DIR/permit/  permit.yaml, policy/model.yaml and the same N cases as decision tests in
                     tests/cases_NNN.yaml (SPEC section 4), as `permit -C DIR/permit test` runs them
      Every expectation is computed here from the same role/grant data, so every test passes;
      about half the cases are allowed.

  gen_test_suite.py synth-queries --n N --data DATA.JSON --out QUERIES.JSON [--seed S]
      N RBAC-shaped queries over a compiled model (`permit build` output's data.json): users
      with tenant roles, a resource type (no key) and a tenant they hold roles in; about half
      are drawn from what their roles grant. Written as a JSON array of decision inputs.

  gen_test_suite.py synth-tests --queries QUERIES.JSON --results RESULTS.JSON --out DIR
      The decision tests for those queries, with expectations from RESULTS.JSON (a JSON array of
      booleans, one per query, as real OPA decided them on the compiled policy), written to
      DIR/cases_NNN.yaml (1,000 per file).

  gen_test_suite.py break --dir TESTS_DIR
      Flip the expectation of the last case of the last cases_*.yaml file (a negative control:
      `permit test` must then fail).
"""

import argparse
import json
import os
import random
import re
import sys

USERS = 1000
ROLES = 20
RESOURCES = 50
ACTIONS = 5


def chunks(seq, size):
    for i in range(0, len(seq), size):
        yield i // size, seq[i : i + size]


def rbac_data(seed):
    rng = random.Random(seed)
    resources = [f"r{i}" for i in range(RESOURCES)]
    actions = [f"a{i}" for i in range(ACTIONS)]
    roles = [f"role{i}" for i in range(ROLES)]
    # Each role covers 6-12 resources, with 1-5 of their actions.
    grants = {}
    for role in roles:
        g = {}
        for res in sorted(rng.sample(resources, rng.randint(6, 12)), key=lambda r: int(r[1:])):
            g[res] = sorted(rng.sample(actions, rng.randint(1, ACTIONS)))
        grants[role] = g
    # Each user holds 1-3 roles.
    user_roles = {}
    for u in range(USERS):
        user_roles[f"u{u}"] = sorted(rng.sample(roles, rng.randint(1, 3)), key=lambda r: int(r[4:]))
    return resources, actions, roles, grants, user_roles


def rbac_cases(n, seed, resources, actions, grants, user_roles):
    rng = random.Random(seed * 7919 + 1)
    users = list(user_roles)
    allowed = {}  # user -> set of (resource, action)
    for u, rs in user_roles.items():
        s = set()
        for r in rs:
            for res, acts in grants[r].items():
                s.update((res, a) for a in acts)
        allowed[u] = s
    allowed_sorted = {u: sorted(s) for u, s in allowed.items()}
    cases = []
    for _ in range(n):
        u = rng.choice(users)
        if rng.random() < 0.5 and allowed_sorted[u]:
            res, act = rng.choice(allowed_sorted[u])
        else:
            res, act = rng.choice(resources), rng.choice(actions)
        cases.append((u, res, act, (res, act) in allowed[u]))
    return cases


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def gen_rbac(args):
    resources, actions, roles, grants, user_roles = rbac_data(args.seed)
    cases = rbac_cases(args.n, args.seed, resources, actions, grants, user_roles)
    width = max(3, len(str(max(0, (args.n - 1) // args.per_file))))

    # --- OPA project -----------------------------------------------------------------------
    opa = os.path.join(args.out, "opa")
    write(
        os.path.join(opa, "policy.rego"),
        "package rbac\n\n"
        "default allow := false\n\n"
        "allow if {\n"
        "\tsome role in data.rbac.user_roles[input.user]\n"
        "\tdata.rbac.grants[role][input.resource][input.action]\n"
        "}\n",
    )
    data = {
        "rbac": {
            "user_roles": user_roles,
            "grants": {r: {res: {a: True for a in acts} for res, acts in g.items()} for r, g in grants.items()},
        }
    }
    write(os.path.join(opa, "data.json"), json.dumps(data, separators=(",", ":")) + "\n")
    for idx, part in chunks(list(enumerate(cases)), args.per_file):
        out = ["package rbac\n"]
        for i, (u, res, act, ok) in part:
            inp = json.dumps({"user": u, "resource": res, "action": act})
            out.append(f"test_case_{i} if {{ {'' if ok else 'not '}allow with input as {inp} }}")
        write(os.path.join(opa, f"tests_{idx:0{width}d}_test.rego"), "\n".join(out) + "\n")

    # --- permit project --------------------------------------------------------------------
    pm = os.path.join(args.out, "permit")
    write(os.path.join(pm, "permit.yaml"), "policy: policy\n")
    m = ["resources:"]
    for res in resources:
        m.append(f"  {res}: {{actions: [{', '.join(actions)}]}}")
    m.append("roles:")
    for r in roles:
        perms = ", ".join(f'"{res}:{a}"' for res, acts in grants[r].items() for a in acts)
        m.append(f"  {r}: {{permissions: [{perms}]}}")
    m.append("users:")
    for u, rs in user_roles.items():
        assigned = ", ".join(f"{{role: {r}, tenant: default}}" for r in rs)
        m.append(f"  {u}: {{roles: [{assigned}]}}")
    write(os.path.join(pm, "policy", "model.yaml"), "\n".join(m) + "\n")
    for idx, part in chunks(list(enumerate(cases)), args.per_file):
        out = ["tests:"]
        for i, (u, res, act, ok) in part:
            out.append(
                f'  - {{name: "case {i}", user: {u}, action: {act}, resource: {res}, '
                f"expect: {'allow' if ok else 'deny'}}}"
            )
        write(os.path.join(pm, "tests", f"cases_{idx:0{width}d}.yaml"), "\n".join(out) + "\n")

    allows = sum(1 for c in cases if c[3])
    print(f"gen_test_suite: {args.n} cases ({allows} allow, {args.n - allows} deny) in {args.out}", file=sys.stderr)


def gen_synth_queries(args):
    with open(args.data, encoding="utf-8") as f:
        model = json.load(f)["permit"]["model"]
    rng = random.Random(args.seed)
    grants = model["grants"]
    resources = model["resources"]
    types = sorted(resources)
    pool = []  # (user, tenant, [roles])
    for u in sorted(model["users"]):
        for tenant, roles in sorted(model["users"][u].get("tenants", {}).items()):
            if roles:
                pool.append((u, tenant, sorted(roles)))
    if not pool:
        sys.exit("gen_test_suite: the model has no tenant role assignments")
    queries = []
    for _ in range(args.n):
        u, tenant, roles = rng.choice(pool)
        typ = act = None
        if rng.random() < 0.5:
            role = rng.choice(roles)
            g = grants.get(role, {})
            if g:
                typ = rng.choice(sorted(g))
                act = rng.choice(sorted(g[typ]))
        if typ is None:
            typ = rng.choice(types)
            act = rng.choice(sorted(resources[typ]))
        queries.append(
            {
                "user": {"key": u, "attributes": {}},
                "action": act,
                "resource": {"type": typ, "tenant": tenant, "attributes": {}},
                "context": {},
            }
        )
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(queries, f)


def yaml_str(s):
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def gen_synth_tests(args):
    with open(args.queries, encoding="utf-8") as f:
        queries = json.load(f)
    with open(args.results, encoding="utf-8") as f:
        results = json.load(f)
    if len(results) != len(queries) or not all(isinstance(r, bool) for r in results):
        sys.exit("gen_test_suite: the results do not match the queries")
    cases = list(zip(queries, results))
    width = max(3, len(str(max(0, (len(cases) - 1) // args.per_file))))
    for idx, part in chunks(list(enumerate(cases)), args.per_file):
        out = ["tests:"]
        for i, (q, ok) in part:
            r = q["resource"]
            out.append(
                f'  - {{name: "case {i}", user: {yaml_str(q["user"]["key"])}, action: {yaml_str(q["action"])}, '
                f'resource: {{type: {yaml_str(r["type"])}, tenant: {yaml_str(r["tenant"])}}}, '
                f"expect: {'allow' if ok else 'deny'}}}"
            )
        write(os.path.join(args.out, f"cases_{idx:0{width}d}.yaml"), "\n".join(out) + "\n")
    allows = sum(1 for r in results if r)
    print(f"gen_test_suite: {len(cases)} cases ({allows} allow, {len(cases) - allows} deny) in {args.out}", file=sys.stderr)


def gen_break(args):
    files = sorted(f for f in os.listdir(args.dir) if re.fullmatch(r"cases_\d+\.yaml", f))
    if not files:
        sys.exit("gen_test_suite: no cases_*.yaml to break")
    path = os.path.join(args.dir, files[-1])
    with open(path, encoding="utf-8") as f:
        lines = f.read().rstrip("\n").split("\n")
    last = lines[-1]
    if "expect: allow}" in last:
        lines[-1] = last.replace("expect: allow}", "expect: deny}")
    elif "expect: deny}" in last:
        lines[-1] = last.replace("expect: deny}", "expect: allow}")
    else:
        sys.exit(f"gen_test_suite: cannot flip {last!r}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    m = re.search(r'name: "([^"]*)"', last)
    print(m.group(1) if m else "?")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("rbac")
    a.add_argument("--n", type=int, required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--per-file", type=int, default=1000)
    a.set_defaults(func=gen_rbac)
    a = sub.add_parser("synth-queries")
    a.add_argument("--n", type=int, required=True)
    a.add_argument("--data", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--seed", type=int, default=1)
    a.set_defaults(func=gen_synth_queries)
    a = sub.add_parser("synth-tests")
    a.add_argument("--queries", required=True)
    a.add_argument("--results", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--per-file", type=int, default=1000)
    a.set_defaults(func=gen_synth_tests)
    a = sub.add_parser("break")
    a.add_argument("--dir", required=True)
    a.set_defaults(func=gen_break)
    args = p.parse_args()
    if getattr(args, "n", 1) < 1:
        p.error("--n must be at least 1")
    args.func(args)


if __name__ == "__main__":
    main()

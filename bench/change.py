#!/usr/bin/env python3
"""Applies a deterministic change to ~PCT% of a synthetic model's roles and assignments.

Usage: bench/change.py POLICY_DIR [PCT]

- tenant roles (policy/roles.yaml): every (100/PCT)th role gains a permission;
- resource roles (policy/resources.yaml): every (100/PCT)th role is granted `*`;
- users (policy/users-*.yaml): every (100/PCT)th user's first tenant role is swapped.
Prints what it changed. Used by bench/diff.sh (a `permit diff` over a realistic change).
"""
import pathlib
import re
import sys

policy = pathlib.Path(sys.argv[1])
pct = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
step = max(1, round(100 / pct))
counts = {"tenant roles": 0, "resource roles": 0, "users": 0}


def rewrite(path, pattern, change, what):
    lines = path.read_text().splitlines(keepends=True)
    seen = 0
    for i, line in enumerate(lines):
        if re.match(pattern, line):
            if seen % step == 0:
                new = change(line)
                if new != line:
                    lines[i] = new
                    counts[what] += 1
            seen += 1
    path.write_text("".join(lines))


rewrite(policy / "roles.yaml", r"  trole\d+: \{", lambda l: l.replace("permissions: [", 'permissions: ["res0001:act0", ', 1), "tenant roles")
rewrite(policy / "resources.yaml", r"      role\d+: \{permissions: \[", lambda l: re.sub(r"permissions: \[[^\]]*\]", 'permissions: ["*"]', l, count=1), "resource roles")
for f in sorted(policy.glob("users-*.yaml")):
    rewrite(f, r'  "user', lambda l: re.sub(r"role: trole\d+, tenant", "role: trole01, tenant", l, count=1), "users")
print(", ".join(f"{n} {k}" for k, n in counts.items()))

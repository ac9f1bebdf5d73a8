#!/usr/bin/env bash
# Peak memory and wall time of `permit check` (and `permit build` where the model is valid) on
# hostile and huge inputs, through the release binary under /usr/bin/time -v. Prints a Markdown
# table: the figures recorded in docs/robustness.md.
#
# Usage: bench/limits.sh            (builds the release binary if needed)
# Environment:
#   PERMIT=path/to/permit           the binary to measure (default target/release/permit)
#   KEEP=1                          keep the generated inputs (printed folder)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
permit=${PERMIT:-$root/target/release/permit}
[ -x "$permit" ] || cargo build --release --quiet
command -v /usr/bin/time >/dev/null || { echo "limits: needs /usr/bin/time (GNU time)" >&2; exit 2; }

work=$(mktemp -d -t permit-limits.XXXXXX)
if [ "${KEEP:-0}" = 1 ]; then echo "limits: inputs in $work" >&2; else trap 'rm -rf "$work"' EXIT; fi

# Inputs, generated with python3 (fast, and independent of permit's own YAML writer).
python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
def write(name, text):
    d = os.path.join(work, name, "policy"); os.makedirs(d, exist_ok=True)
    open(os.path.join(work, name, "permit.yaml"), "w").write("policy: policy\n")
    with open(os.path.join(d, "model.yaml"), "w") as f: f.write(text)
N = 10_000
write("nesting_flow_10k", "[" * N)
write("nesting_maps_10k", "{a: " * N)
write("nesting_indent_10k", "".join(" " * d + "a:\n" for d in range(N)))
laughs = "a0: &a0 [" + ", ".join(["lol"] * 10) + "]\n"
for i in range(1, 10):
    laughs += f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]\n"
write("billion_laughs", laughs)
write("nested_anchors", "v: " + "".join(f"&a{i} [" for i in range(100)) + ", ".join(["x"] * 200_000) + "]" * 100 + "\n")
head = "resources:\n  doc:\n    actions: [read]\n    attributes: {note: string, tags: array}\n    roles: {owner: {permissions: [read]}}\n"
write("million_actions", "resources:\n  doc:\n    actions: [" + ", ".join(f"a{i}" for i in range(1_000_000)) + "]\n    roles: {owner: {permissions: [\"*\"]}}\n")
write("million_element_attribute", head + "resource_instances:\n  \"doc:d\": {attributes: {tags: [" + ", ".join(f"t{i}" for i in range(1_000_000)) + "]}}\n")
write("string_10mb", head + "resource_instances:\n  \"doc:d\": {attributes: {note: " + json.dumps("x\"}\\" * (10 << 18)) + "}}\n")
write("key_10mb", head + "users:\n  ? " + "k" * (10 << 20) + "\n  : {}\n")
users = []
for i in range(400_000):
    users.append(f"  user-{i}@example.com:\n    attributes: {{}}\n    roles:\n      - {{role: viewer, tenant: default}}\n      - {{role: owner, resource: \"doc:d{i % 5000}\"}}\n")
write("file_50mb", head + "roles:\n  viewer: {permissions: [\"doc:read\"]}\nusers:\n" + "".join(users))
bad = ["resources:\n  doc:\n    actions: [read]\nusers:\n"]
for i in range(200_000):
    bad.append(f"  u{i}:\n    roles: [{{role: nosuchrole{i % 7}, tenant: acme}}]\n")
write("errors_200k", "".join(bad))
PY

printf '| input | file size | command | exit | first diagnostic | wall | peak RSS |\n'
printf '|---|---:|---|---:|---|---:|---:|\n'
for dir in "$work"/*/; do
  name=$(basename "$dir")
  size=$(du -h "$dir/policy/model.yaml" | cut -f1)
  for cmd in check build; do
    # build only what checked clean: `code` still holds the check's exit status
    [ "$cmd" = build ] && [ "$code" != 0 ] && continue
    args=(-C "$dir" "$cmd" -q)
    [ "$cmd" = build ] && args+=(--out "$work/out-$name")
    [ "$cmd" = check ] && args+=(--format json)
    set +e
    /usr/bin/time -v -o "$work/time" "$permit" "${args[@]}" >"$work/stdout" 2>"$work/stderr"
    code=$?
    set -e
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f MiB", $2/1024}' "$work/time")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time")
    first="-"
    [ "$cmd" = check ] && first=$(python3 -c 'import json,sys
try:
  d=json.load(open(sys.argv[1]))["diagnostics"]
  print("`%s` (%d)" % (d[0]["code"], len(d)) if d else "none")
except Exception:
  print("-")' "$work/stdout")
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$size" "$cmd" "$code" "$first" "$wall" "$rss"
  done
done

#!/usr/bin/env bash
# `permit test` speed on the large synthetic model: N decision tests (default 10,000) over
# users, resources and actions drawn from the model. Expectations are taken from a first run
# (this measures speed; correctness is the differential tests' job), then the suite is timed.
# Prints the median wall time of the whole command and of the test phase alone.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
RUNS=${RUNS:-3}
SCALE=${SCALE:-1}
cargo build --release -q --bins --examples
permit=$PWD/target/release/permit
model=target/bench/synth-$SCALE-s1
if [ ! -f "$model/permit.yaml" ]; then
  rm -rf "$model"; mkdir -p "$(dirname "$model")"
  target/release/examples/synth --scale "$SCALE" --out "$model" >/dev/null
fi
work=$(mktemp -d -t permit-test-large.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$model/permit.yaml" "$model/policy" "$work/"
"$permit" -C "$work" build -q --out "$work/build"
mkdir -p "$work/tests"
python3 - "$work" "$N" <<'PY'
import json, random, sys
w, n = sys.argv[1], int(sys.argv[2])
m = json.load(open(f"{w}/build/data.json"))["permit"]["model"]
rng = random.Random(1)
users = sorted(m["users"])
types = sorted(m["resources"])
rebac = m["rebac"]
cases = []
for i in range(n):
    u = rng.choice(users)
    if i % 3 == 0 and u in rebac:
        t = rng.choice(sorted(rebac[u])); k = rng.choice(sorted(rebac[u][t]))
        res = f"{t}:{k}"
    else:
        t = rng.choice(types)
        ten = rng.choice(sorted(m["users"][u]["tenants"]) or ["default"])
        res = {"type": t, "tenant": ten}
    a = rng.choice(sorted(m["resources"][res.split(":")[0] if isinstance(res, str) else t]))
    cases.append({"name": f"case {i}", "user": u, "action": a, "resource": res, "expect": "allow"})
for f in range(0, n, 1000):
    json.dump({"tests": cases[f:f + 1000]}, open(f"{w}/tests/cases_{f // 1000:03d}.yaml", "w"))
PY
# learn the expectations from one run, then make every test pass
"$permit" -C "$work" test --format json > "$work/first.json" || true
python3 - "$work" <<'PY'
import json, sys, glob
w = sys.argv[1]
res = {t["name"]: t for t in json.load(open(f"{w}/first.json"))["tests"]}
for path in glob.glob(f"{w}/tests/*.yaml"):
    doc = json.load(open(path))
    for c in doc["tests"]:
        if not res[c["name"]]["passed"]:
            c["expect"] = "deny"
    json.dump(doc, open(path, "w"))
PY
walls=(); phases=()
for _ in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  "$permit" -C "$work" test --format json > "$work/run.json"
  end=$(date +%s.%N)
  walls+=("$(echo "$end - $start" | bc -l)")
  phases+=("$(python3 -c "import json; print(json.load(open('$work/run.json'))['run_s'])")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
allow=$(python3 -c "import json; print(sum(1 for t in json.load(open('$work/run.json'))['tests']))")
echo "tests: $allow over the scale-$SCALE model"
echo "whole command (load, check, compile, run): median $(median "${walls[@]}") s"
echo "test phase (running the cases on all cores): median $(median "${phases[@]}") s"

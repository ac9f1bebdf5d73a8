//! Three-way agreement on the decision contract (SPEC section 3): the oracle
//! (`Access::decide`, the contract evaluated straight over the model, no Rego), regorus (the
//! embedded engine) and real OPA give the same `allow`, `allowing_sources`, `debug.reason` and,
//! for well-formed queries, `debug.abac.reason` (the contract defines none for malformed ones;
//! regorus and OPA must still agree on it).
//!
//! Cases: seeded random models (`tests/support/random.rs`: every operator, `ref`s, several
//! operators in a leaf, deep and cyclic relationship graphs, expired assignments, users without
//! roles, custom allow/deny from a structured family the test evaluates itself) with random
//! queries (query attributes of the right and wrong types, unknown users, types, actions and
//! tenants, malformed queries); then every regression under `fixtures/oracle/` and the
//! compile fixtures without custom Rego.
//!
//! `PERMIT_ORACLE_MODELS` (default 40), `PERMIT_ORACLE_QUERIES` per model (default 250),
//! `PERMIT_ORACLE_SEED` (the first seed, default 0). A disagreement leaves the model and the
//! queries that disagree in `target/tmp/oracle-failures/seed-N/`, laid out as a fixture: fix
//! the bug, then move that folder to `fixtures/oracle/<what-the-bug-was>/`.
//! Real OPA: as in `tests/opa_differential.rs` (CI fails without it; locally the OPA leg is
//! skipped loudly and the oracle is still held to regorus).

mod support;

use permit::access::decide::OracleDecision;
use permit::access::Access;
use permit::engine::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::random::{self, CustomRules};

/// The contract's fields of one decision; `abac` is dropped for malformed queries.
fn contract(mut v: Value) -> Value {
    if v["reason"] == "invalid_query" {
        v["abac"] = Value::Null;
    }
    v
}

fn oracle_contract(d: &OracleDecision) -> Value {
    contract(json!({
        "allow": d.allow,
        "sources": d.allowing_sources,
        "reason": d.reason,
        "abac": d.abac_reason,
    }))
}

/// What one project decided: the disagreements, and every oracle outcome.
struct Run {
    mismatches: Vec<(Value, String)>,
    outcomes: Vec<String>,
}

/// `q` with an empty `attributes` object for the user and the resource where it has none: it
/// must decide the same, and it makes the Rego evaluate the user and resource sets that are
/// otherwise decided at build time (by the same Rust code the oracle uses).
fn with_empty_attributes(q: &Value) -> Option<Value> {
    let mut out = q.clone();
    let mut added = false;
    for side in ["user", "resource"] {
        if let Some(o) = out.get_mut(side).and_then(Value::as_object_mut) {
            if !o.contains_key("attributes") {
                o.insert("attributes".into(), json!({}));
                added = true;
            }
        }
    }
    added.then_some(out)
}

/// Builds the project in `dir` and decides `queries`, and each one's variant with empty
/// attribute objects, three ways.
fn run(opa: Option<&Path>, dir: &Path, custom: &CustomRules, queries: &[Value]) -> Run {
    let variants = queries.iter().filter_map(with_empty_attributes);
    let queries: Vec<Value> = queries.iter().cloned().chain(variants).collect();
    let queries = &queries[..];
    let (model, compiled, build) = support::build_with_model(dir);
    let access = Access::new(&model, permit::project::now_ns());
    let mut engine = Engine::new(&compiled).unwrap();
    let theirs = opa.map(|opa| support::opa_decide(opa, &build, queries));
    let mut out = Run {
        mismatches: Vec::new(),
        outcomes: Vec::new(),
    };
    for (i, q) in queries.iter().enumerate() {
        let oracle = oracle_contract(&access.decide(q, custom.verdict(q)));
        // the engines agree on everything, the ABAC reason of malformed queries included
        let regorus = support::reduce(&engine.decide(q).unwrap());
        let opa = theirs.as_ref().map(|t| t[i].clone());
        out.outcomes
            .push(format!("{}:{}", oracle["reason"], oracle["sources"]));
        if oracle != contract(regorus.clone()) || opa.as_ref().is_some_and(|o| *o != regorus) {
            let opa = opa.map_or("(skipped)".to_string(), |o| o.to_string());
            out.mismatches.push((
                q.clone(),
                format!("query   {q}\n  oracle:  {oracle}\n  regorus: {regorus}\n  opa:     {opa}"),
            ));
        }
    }
    out
}

#[test]
fn random_models_decide_alike_on_oracle_regorus_and_opa() {
    let opa = support::opa();
    let models = support::env_u64("PERMIT_ORACLE_MODELS", 40);
    let per_model = support::env_u64("PERMIT_ORACLE_QUERIES", 250) as usize;
    let first = support::env_u64("PERMIT_ORACLE_SEED", 0);
    let mut failures = Vec::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut cases = 0;
    for seed in first..first + models {
        let tmp = tempfile::tempdir().unwrap();
        let shape = random::model(seed, tmp.path());
        let mut rng = random::Rng::new(seed.wrapping_mul(104_729) + 3);
        let queries: Vec<Value> = (0..per_model)
            .map(|_| random::query(&mut rng, &shape))
            .collect();
        let r = run(opa.as_deref(), tmp.path(), &shape.custom, &queries);
        cases += queries.len();
        for o in r.outcomes {
            *outcomes.entry(o).or_default() += 1;
        }
        if !r.mismatches.is_empty() {
            let saved = save_failure(seed, tmp.path(), &shape.custom, &r.mismatches);
            failures.push(format!(
                "seed {seed}: {} of {} disagree (saved in {}):\n{}",
                r.mismatches.len(),
                queries.len(),
                saved.display(),
                r.mismatches
                    .iter()
                    .take(5)
                    .map(|(_, m)| m.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
    }
    eprintln!(
        "oracle: {models} models (seeds {first}..{}), {cases} queries, {} on OPA too",
        first + models,
        if opa.is_some() {
            "checked"
        } else {
            "NOT checked"
        }
    );
    eprintln!("oracle: outcomes {outcomes:?}");
    assert!(
        failures.is_empty(),
        "{} of {models} models disagree:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // the generator must keep reaching every reason and source, or the test proves little
    let seen = |s: &str| outcomes.keys().any(|k| k.contains(s));
    for needed in [
        "\"allow\"",
        "invalid_query",
        "no_such_resource",
        "no_such_action",
        "custom_deny",
        "user_not_synced",
        "no_user_roles",
        "no_role_in_tenant",
        "no_permission",
        "\"rbac\"",
        "\"rebac\"",
        "\"abac\"",
        "\"custom\"",
    ] {
        assert!(
            models < 20 || seen(needed),
            "no random case reached {needed}: {outcomes:?}"
        );
    }
}

/// Writes the model and the queries that disagree as a fixture folder.
fn save_failure(seed: u64, dir: &Path, custom: &CustomRules, bad: &[(Value, String)]) -> PathBuf {
    let to = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("oracle-failures")
        .join(format!("seed-{seed}"));
    let _ = std::fs::remove_dir_all(&to);
    std::fs::create_dir_all(to.join("policy")).unwrap();
    std::fs::copy(dir.join("permit.yaml"), to.join("permit.yaml")).unwrap();
    std::fs::copy(dir.join("policy/model.yaml"), to.join("policy/model.yaml")).unwrap();
    if !custom.is_empty() {
        std::fs::write(
            to.join("custom.json"),
            serde_json::to_string_pretty(custom).unwrap(),
        )
        .unwrap();
    }
    let lines: Vec<String> = bad.iter().map(|(q, _)| q.to_string()).collect();
    std::fs::write(to.join("queries.jsonl"), lines.join("\n") + "\n").unwrap();
    to
}

/// A fixture folder copied into a temp project: `permit.yaml`, `policy/`, `queries.jsonl` and,
/// for `fixtures/oracle/`, an optional `custom.json` (rules in the structured family) written
/// out as `custom/custom.rego`.
fn replay(opa: Option<&Path>, case: &Path) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(case, tmp.path());
    let custom: CustomRules = match std::fs::read_to_string(case.join("custom.json")) {
        Ok(text) => serde_json::from_str(&text).unwrap(),
        Err(_) => CustomRules::default(),
    };
    if !custom.is_empty() {
        std::fs::create_dir_all(tmp.path().join("custom")).unwrap();
        std::fs::write(tmp.path().join("custom/custom.rego"), custom.rego()).unwrap();
    }
    let queries: Vec<Value> = std::fs::read_to_string(case.join("queries.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    run(opa, tmp.path(), &custom, &queries)
}

/// Every disagreement found so far, as a fixture named after the bug, and the compile fixtures
/// (except `custom_allow_deny`, whose hand-written Rego is outside the family the oracle's
/// caller evaluates).
#[test]
fn regressions_and_compile_fixtures_decide_alike_on_oracle_regorus_and_opa() {
    let opa = support::opa();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut cases: Vec<PathBuf> = Vec::new();
    for sub in ["oracle", "compile"] {
        let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() && !p.join("custom").exists() {
                cases.push(p);
            }
        }
    }
    cases.sort();
    assert!(cases.len() >= 4, "fixtures missing: {cases:?}");
    let mut failures = Vec::new();
    let mut total = 0;
    for case in &cases {
        let r = replay(opa.as_deref(), case);
        total += r.outcomes.len();
        if !r.mismatches.is_empty() {
            failures.push(format!(
                "{}:\n{}",
                case.display(),
                r.mismatches
                    .iter()
                    .map(|(_, m)| m.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
    }
    eprintln!("oracle: {} fixtures, {total} queries", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let e = entry.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

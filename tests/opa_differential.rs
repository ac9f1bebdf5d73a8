//! The compiled policy decides identically on the embedded engine (regorus) and real OPA:
//! for the `init` example, every fixture model, and seeded random models with every feature.
//! Real OPA comes from `scripts/provision-opa.sh`; CI fails rather than skip without it.

mod support;

use permit::engine::Engine;
use std::path::Path;
use support::random;

/// Builds the project in `dir`, writes the build next to it, and compares decisions on `queries`.
fn compare(opa: &Path, dir: &Path, queries: &[serde_json::Value]) -> usize {
    let (compiled, out) = support::build(dir);
    let mut engine = Engine::new(&compiled).unwrap();
    let ours: Vec<serde_json::Value> = queries
        .iter()
        .map(|q| support::reduce(&engine.decide(q).unwrap()))
        .collect();
    // regorus's bytecode VM, which `permit bench` uses when it agrees, agrees here too
    let mut vm =
        permit::engine::Vm::new(&engine, &compiled).expect("the bytecode VM compiles the policy");
    for (q, o) in queries.iter().zip(&ours) {
        assert_eq!(
            vm.allow(q).unwrap(),
            o["allow"] == true,
            "bytecode VM differs on {q}"
        );
    }
    let theirs = support::opa_decide(opa, &out, queries);
    for o in &ours {
        let key = format!("{}:{}", o["reason"].as_str().unwrap_or(""), o["sources"]);
        *OUTCOMES.lock().unwrap().entry(key).or_insert(0) += 1;
    }
    let mut mismatches = Vec::new();
    for ((q, a), b) in queries.iter().zip(&ours).zip(&theirs) {
        if a != b {
            mismatches.push(format!("query {q}\n  regorus: {a}\n  opa:     {b}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} decisions differ for {}:\n{}",
        mismatches.len(),
        queries.len(),
        dir.display(),
        mismatches
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    queries.len()
}

static OUTCOMES: std::sync::Mutex<std::collections::BTreeMap<String, usize>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

fn outcomes() -> std::collections::BTreeMap<String, usize> {
    OUTCOMES.lock().unwrap().clone()
}

#[test]
fn init_example_decides_the_same_on_opa() {
    let Some(opa) = support::opa() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for (rel, text) in permit::cmd::init::scaffold() {
        let p = tmp.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let users = ["alice", "bob", "carol", "dave", "erin", "mallory"];
    let resources = [
        "document:roadmap",
        "document:launch",
        "document:salaries",
        "folder:engineering",
        "document",
        "document:new",
        "spaceship:x",
    ];
    let actions = ["read", "create", "update", "delete", "fly"];
    let mut queries = Vec::new();
    for u in users {
        for r in resources {
            for a in actions {
                for t in [None, Some("acme"), Some("globex")] {
                    queries.push(permit::query::build(u, a, r, t));
                }
            }
        }
    }
    // the legal-hold veto from custom/
    let mut q = permit::query::build("alice", "delete", "document:roadmap", None);
    q["resource"]["attributes"] = serde_json::json!({"legal_hold": true});
    queries.push(q);
    let n = compare(&opa, tmp.path(), &queries);
    eprintln!("init example: {n} queries agree");
}

#[test]
fn fixture_models_decide_the_same_on_opa() {
    let Some(opa) = support::opa() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/compile");
    let mut total = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let case = entry.unwrap().path();
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&case, tmp.path());
        let queries: Vec<serde_json::Value> = std::fs::read_to_string(case.join("queries.jsonl"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        total += compare(&opa, tmp.path(), &queries);
    }
    eprintln!("fixtures: {total} queries agree");
}

#[test]
fn random_models_decide_the_same_on_opa() {
    let Some(opa) = support::opa() else { return };
    let models: u64 = std::env::var("PERMIT_DIFF_MODELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let per_model: usize = std::env::var("PERMIT_DIFF_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let mut total = 0;
    for seed in 0..models {
        let tmp = tempfile::tempdir().unwrap();
        let shape = random::model(seed, tmp.path());
        let mut rng = random::Rng::new(seed.wrapping_mul(7919) + 1);
        let queries: Vec<_> = (0..per_model)
            .map(|_| random::query(&mut rng, &shape))
            .collect();
        total += compare(&opa, tmp.path(), &queries);
    }
    eprintln!("random: {models} models, {total} queries agree");
    eprintln!("random: outcomes {:?}", outcomes());
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

/// `permit build` output loaded into a real OPA server answers the example's decision tests
/// exactly as `permit eval` does: every query of tests/documents.yaml from `permit init` is in
/// the set (its users x resources x actions, plus its attribute and tenant cases).
#[test]
fn init_example_on_an_opa_server_matches_permit_eval() {
    let Some(opa) = support::opa() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin!("permit");
    let ok = std::process::Command::new(bin)
        .arg("init")
        .arg(tmp.path().join("demo"))
        .args(["--no-git", "-q"])
        .status()
        .unwrap();
    assert!(ok.success());
    let demo = tmp.path().join("demo");
    let ok = std::process::Command::new(bin)
        .arg("-C")
        .arg(&demo)
        .args(["build", "-q", "--out", "build"])
        .status()
        .unwrap();
    assert!(ok.success());
    let server = support::OpaServer::start(&opa, &[&demo.join("build")]);
    let mut checked = 0;
    for case in example_queries() {
        let out = std::process::Command::new(bin)
            .arg("-C")
            .arg(&demo)
            .args(["--format", "json", "eval", "--input", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(case.to_string().as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(
            out.status.success(),
            "permit eval failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = permit::engine::decision(serde_json::from_slice(&out.stdout).unwrap());
        let theirs = permit::engine::decision(server.decide(&case));
        assert_eq!(
            support::reduce(&ours),
            support::reduce(&theirs),
            "query {case}"
        );
        checked += 1;
    }
    assert!(
        checked >= 20,
        "only {checked} queries from the example tests"
    );
}

/// A superset of the queries the example's test file describes.
fn example_queries() -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let users = ["alice", "bob", "carol", "dave", "erin", "mallory"];
    let resources = [
        "document:roadmap",
        "document:launch",
        "document:salaries",
        "folder:engineering",
        "spaceship",
    ];
    for u in users {
        for r in resources {
            for a in ["read", "create", "update", "delete", "fly"] {
                out.push(permit::query::build(u, a, r, Some("acme")));
            }
        }
    }
    out.push(serde_json::json!({"user": {"key": "dave", "attributes": {"department": "engineering", "clearance": 3}}, "action": "read", "resource": {"type": "document", "key": "launch", "tenant": "acme"}}));
    out.push(serde_json::json!({"user": {"key": "carol"}, "action": "delete", "resource": {"type": "document", "key": "plans", "tenant": "globex"}}));
    out.push(serde_json::json!({"user": {"key": "alice"}, "action": "delete", "resource": {"type": "document", "key": "roadmap", "attributes": {"legal_hold": true}}}));
    out
}

//! Injection safety (SPEC section 2: model strings never reach Rego source unescaped).
//!
//! Seeded property test: a random benign model (tests/support/random.rs) is built alone, then
//! again with a second file of hostile entities whose user keys, instance keys, attribute values,
//! context and tenant attribute names hold quotes, newlines, backslashes, braces, `#`, Rego
//! keywords, `data.permit` and non-ASCII text (RTL, emoji, combining marks). On real OPA and on
//! regorus:
//! (a) the generated Rego passes `opa check --strict`;
//! (b) the benign queries decide exactly as they did without the hostile entities;
//! (c) queries naming the hostile entities decide identically on both engines, and as the model
//!     says (the keys survive the trip: their rbac, rebac and abac grants work);
//! and hostile strings where the model only takes names (tenants, resources, roles, actions,
//! attributes) or control characters in keys give a clean diagnostic, never a crash.
//!
//! `PERMIT_INJECTION_MODELS` sets the number of seeds (default 6).

mod support;

use permit::engine::Engine;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use support::random::{self, Rng};

/// Pieces hostile strings are made of (no control characters: those are for values only).
const PIECES: &[&str] = &[
    "\"",
    "'",
    "\\",
    "\\\"",
    "}",
    "{",
    "#",
    "import",
    "package",
    "default",
    "not",
    "some",
    "every",
    "with",
    "else",
    "true",
    "null",
    "data.permit",
    "data.permit.root.allow := true",
    "input.user.key",
    " := ",
    "`",
    "[",
    "]",
    ":",
    " ",
    "\\u0000",
    "${x}",
    "%s",
    "\u{202e}", // right-to-left override
    "שלום",
    "مرحبا",
    "😀",
    "👩🏽‍💻",
    "e\u{301}", // combining acute accent
    "\u{200b}", // zero-width space
    "𝕏",
];

/// Control characters: allowed in attribute values, refused in keys.
const CONTROLS: &[&str] = &["\n", "\r\n", "\t", "\u{1b}", "\n}\npackage x\n"];

fn hostile(r: &mut Rng, controls: bool, id: &str) -> String {
    let mut s = String::new();
    for _ in 0..(1 + r.below(4)) {
        if controls && r.chance(30) {
            s.push_str(CONTROLS[r.below(CONTROLS.len())]);
        } else {
            s.push_str(PIECES[r.below(PIECES.len())]);
        }
    }
    // unique per role in the model, and never a bare `:` split away into nothing
    format!("{s}~{id}")
}

/// Hostile strings of one seed.
struct Hostile {
    users: Vec<String>,
    keys: Vec<String>,
    user_value: String,
    resource_value: String,
    context_attr: String,
    context_value: String,
    tenant_attr: String,
    tenant_value: String,
}

impl Hostile {
    fn new(r: &mut Rng) -> Self {
        let n = 2 + r.below(3);
        Hostile {
            users: (0..n)
                .map(|i| hostile(r, false, &format!("u{i}")))
                .collect(),
            keys: (0..n)
                .map(|i| hostile(r, false, &format!("k{i}")))
                .collect(),
            user_value: hostile(r, true, "uv"),
            resource_value: hostile(r, true, "rv"),
            context_attr: hostile(r, false, "ca"),
            context_value: hostile(r, true, "cv"),
            tenant_attr: hostile(r, false, "ta"),
            tenant_value: hostile(r, true, "tv"),
        }
    }

    /// A second model file (YAML 1.2 is a superset of JSON): a resource type, roles, a tenant,
    /// an ABAC rule, users, instances and a relationship cycle, all holding hostile strings.
    /// It touches nothing the benign model defines, so no benign decision may change.
    fn model(&self) -> Value {
        let n = self.keys.len();
        let mut users = serde_json::Map::new();
        let mut instances = serde_json::Map::new();
        let mut relationships = Vec::new();
        for i in 0..n {
            users.insert(
                self.users[i].clone(),
                json!({
                    "attributes": {"hnote": self.user_value},
                    "roles": [
                        {"role": "hx", "tenant": "htenant"},
                        {"role": "hown", "resource": format!("hdoc:{}", self.keys[i])},
                    ]
                }),
            );
            instances.insert(
                format!("hdoc:{}", self.keys[i]),
                json!({"tenant": "htenant", "attributes": {
                    "class": self.resource_value, "owner": self.users[i], "tags": [self.resource_value]
                }}),
            );
            relationships.push(json!({
                "subject": format!("hdoc:{}", self.keys[i]),
                "relation": "up",
                "object": format!("hdoc:{}", self.keys[(i + 1) % n]),
            }));
        }
        json!({
            "resources": {"hdoc": {
                "actions": ["read", "write", "share"],
                "attributes": {"class": "string", "owner": "string", "tags": "array"},
                "relations": {"up": "hdoc"},
                "roles": {
                    "hown": {"permissions": ["share"]},
                    "hview": {"permissions": ["read"], "granted_to": [
                        {"role": "hown", "on_resource": "hdoc", "linked_by_relation": "up"}
                    ]}
                }
            }},
            "roles": {"hx": {"permissions": ["hdoc:write"]}},
            "user_attributes": {"hnote": "string"},
            "tenants": {"htenant": {"attributes": {self.tenant_attr.clone(): self.tenant_value}}},
            "user_sets": {"hus": {"conditions": {"allOf": [
                {format!("context.{}", self.context_attr): {"equals": self.context_value}},
                {"user.hnote": {"equals": self.user_value, "not-equals": "x"}},
                {format!("tenant.{}", self.tenant_attr): {"equals": self.tenant_value}},
            ]}}},
            "resource_sets": {"hrs": {"resource": "hdoc", "conditions": {"anyOf": [
                {"resource.class": {"in": [self.resource_value, "x"], "contains": self.resource_value}},
                {"resource.tags": {"array_contains": self.resource_value}},
            ]}}},
            "condition_set_rules": [
                {"user_set": "hus", "permission": "hdoc:read", "resource_set": "hrs"}
            ],
            "users": users,
            "resource_instances": instances,
            "relationships": relationships,
        })
    }

    /// Queries naming the hostile entities, each with the source that must allow it (or none).
    fn queries(&self, r: &mut Rng) -> Vec<(Value, Option<&'static str>)> {
        let n = self.keys.len();
        let mut out = Vec::new();
        let res = |key: &str| json!({"type": "hdoc", "key": key, "tenant": "htenant"});
        for i in 0..n {
            let u = &self.users[i];
            let next = &self.keys[(i + 1) % n];
            // rbac: `hx` in htenant grants hdoc:write on any instance of the tenant
            out.push((
                json!({"user": {"key": u}, "action": "write", "resource": res(next)}),
                Some("rbac"),
            ));
            // rebac: owner of k_i, hence viewer of k_i+1 through `up`
            out.push((
                json!({"user": {"key": u}, "action": "share", "resource": res(&self.keys[i])}),
                Some("rebac"),
            ));
            out.push((
                json!({"user": {"key": u}, "action": "read", "resource": res(next)}),
                Some("rebac"),
            ));
            // abac: the context attribute with its hostile name and value
            out.push((
                json!({"user": {"key": u}, "action": "read", "resource": res(next),
                       "context": {self.context_attr.clone(): self.context_value}}),
                Some("abac"),
            ));
            // a near miss on each hostile string grants nothing extra
            out.push((
                json!({"user": {"key": format!("{u} ")}, "action": "write", "resource": res(next)}),
                None,
            ));
            out.push((
                json!({"user": {"key": u}, "action": "share", "resource": res(&format!("{}\"", self.keys[i]))}),
                None,
            ));
        }
        // hostile strings in the query alone: denied, on both engines alike
        for _ in 0..8 {
            let h = hostile(r, true, "q");
            let q = match r.below(4) {
                0 => json!({"user": {"key": h}, "action": "read", "resource": {"type": "hdoc"}}),
                1 => json!({"user": {"key": "x"}, "action": h, "resource": {"type": "hdoc"}}),
                2 => json!({"user": {"key": "x"}, "action": "read", "resource": {"type": h}}),
                _ => json!({"user": {"key": self.users[0], "attributes": {"hnote": h}},
                           "action": "read", "resource": {"type": "hdoc", "key": h, "tenant": h},
                           "context": {h.clone(): h}}),
            };
            out.push((q, None));
        }
        out
    }
}

struct Built {
    engine: Engine,
    dir: std::path::PathBuf,
}

fn build(dir: &Path) -> Built {
    let (compiled, out) = support::build(dir);
    Built {
        engine: Engine::new(&compiled).unwrap(),
        dir: out,
    }
}

fn decide(b: &mut Built, queries: &[Value]) -> Vec<Value> {
    queries
        .iter()
        .map(|q| support::reduce(&b.engine.decide(q).unwrap()))
        .collect()
}

fn opa_check_strict(opa: &Path, build: &Path) {
    if let Err(stderr) = support::opa_check_strict(opa, build) {
        panic!(
            "`opa check --strict` rejects the build in {}:\n{stderr}",
            build.display()
        );
    }
}

#[test]
fn hostile_strings_cannot_break_the_rego_or_other_decisions() {
    let Some(opa) = support::opa() else { return };
    let models = support::env_u64("PERMIT_INJECTION_MODELS", 6);
    let (mut benign_total, mut hostile_total) = (0, 0);
    for seed in 0..models {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let shape = random::model(1000 + seed, dir);
        let mut r = Rng::new(seed.wrapping_mul(31) + 7);
        let benign: Vec<Value> = (0..150).map(|_| random::query(&mut r, &shape)).collect();

        let mut alone = build(dir);
        opa_check_strict(&opa, &alone.dir);
        let before = decide(&mut alone, &benign);
        let before_opa = support::opa_decide(&opa, &alone.dir, &benign);

        let h = Hostile::new(&mut r);
        std::fs::write(
            dir.join("policy/hostile.yaml"),
            serde_json::to_string_pretty(&h.model()).unwrap(),
        )
        .unwrap();
        let mut with = build(dir);
        // (a) the generated Rego is still well-formed, strict mode included
        opa_check_strict(&opa, &with.dir);
        let modules = std::fs::read_dir(with.dir.join("permit")).unwrap().count();
        assert_eq!(
            modules,
            std::fs::read_dir(alone.dir.join("permit")).unwrap().count(),
            "hostile data added Rego modules"
        );

        // (b) no benign decision moved, on either engine
        let after = decide(&mut with, &benign);
        let after_opa = support::opa_decide(&opa, &with.dir, &benign);
        for (i, q) in benign.iter().enumerate() {
            assert_eq!(before[i], after[i], "seed {seed}: regorus changed on {q}");
            assert_eq!(
                before_opa[i], after_opa[i],
                "seed {seed}: OPA changed on {q}"
            );
            assert_eq!(after[i], after_opa[i], "seed {seed}: engines differ on {q}");
        }
        benign_total += benign.len();

        // (c) the hostile entities decide the same on both engines, and as the model says
        let cases = h.queries(&mut r);
        let queries: Vec<Value> = cases.iter().map(|(q, _)| q.clone()).collect();
        let ours = decide(&mut with, &queries);
        let theirs = support::opa_decide(&opa, &with.dir, &queries);
        for ((q, expected), (a, b)) in cases.iter().zip(ours.iter().zip(&theirs)) {
            assert_eq!(a, b, "seed {seed}: regorus and OPA differ on {q}");
            let sources: Vec<&str> = a["sources"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            match expected {
                Some(src) => assert!(
                    a["allow"] == true && sources.contains(src),
                    "seed {seed}: expected {src} to allow {q}, got {a}"
                ),
                None => assert_eq!(a["allow"], false, "seed {seed}: {q} allowed: {a}"),
            }
        }
        hostile_total += queries.len();
    }
    eprintln!(
        "injection: {models} models; {benign_total} benign queries unchanged, {hostile_total} hostile queries agree (regorus = OPA)"
    );
}

/// Hostile text where the model takes only names, or control characters in keys: each gives
/// its diagnostic, at its line, through the library and the binary; nothing panics.
#[test]
fn hostile_names_are_refused_with_a_clean_diagnostic() {
    let mut r = Rng::new(0xBAD);
    let bin = assert_cmd::cargo::cargo_bin!("permit");
    let mut checked = 0;
    for round in 0..6 {
        let name = hostile(&mut r, round % 2 == 0, &format!("n{round}"));
        let key = format!(
            "{}\n{}",
            hostile(&mut r, false, "a"),
            hostile(&mut r, false, "b")
        );
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"tenants": {name.clone(): {}}}),
                "model::invalid-name",
            ),
            (
                json!({"resources": {name.clone(): {"actions": ["read"]}}}),
                "model::invalid-name",
            ),
            (
                json!({"resources": {"doc": {"actions": [name.clone()]}}}),
                "model::invalid-name",
            ),
            (
                json!({"resources": {"doc": {"actions": ["read"], "roles": {name.clone(): {"permissions": ["read"]}}}}}),
                "model::invalid-name",
            ),
            (json!({"roles": {name.clone(): {}}}), "model::invalid-name"),
            (
                json!({"user_attributes": {name.clone(): "string"}}),
                "model::invalid-name",
            ),
            (
                json!({"users": {key.clone(): {"roles": []}}}),
                "model::invalid-key",
            ),
            (
                json!({"resources": {"doc": {"actions": ["read"]}}, "resource_instances": {format!("doc:{key}"): {}}}),
                "model::invalid-key",
            ),
        ];
        for (model, code) in cases {
            let tmp = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(tmp.path().join("policy")).unwrap();
            std::fs::write(tmp.path().join("permit.yaml"), "policy: policy\n").unwrap();
            let text = serde_json::to_string_pretty(&model).unwrap();
            std::fs::write(tmp.path().join("policy/model.yaml"), &text).unwrap();
            let out = Command::new(bin)
                .arg("-C")
                .arg(tmp.path())
                .args(["check", "--format", "json"])
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(1),
                "{model}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let json: Value = serde_json::from_slice(&out.stdout).unwrap();
            let diags = json["diagnostics"].as_array().unwrap();
            let d = diags
                .iter()
                .find(|d| d["code"] == code)
                .unwrap_or_else(|| panic!("no `{code}` for {model}: {json:#}"));
            let line = d["line"].as_u64().unwrap() as usize;
            assert!(
                line >= 1 && line <= text.lines().count(),
                "`{code}` points at line {line} of {text}"
            );
            // the human rendering too
            let out = Command::new(bin)
                .arg("-C")
                .arg(tmp.path())
                .arg("check")
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1));
            assert!(String::from_utf8_lossy(&out.stderr).contains(code));
            checked += 1;
        }
    }
    eprintln!("injection: {checked} hostile names refused cleanly");
}

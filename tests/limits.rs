//! Limits: hostile or merely huge inputs end in a clear diagnostic (where a limit applies) or
//! succeed, quickly. Peak memory of the same inputs through the binary is measured by
//! `bench/limits.sh` and recorded in docs/robustness.md; these tests pin the behaviour.

mod support;

use permit::project::{Checked, Project};
use std::fmt::Write;
use std::time::{Duration, Instant};

fn check(text: impl Into<Vec<u8>>) -> (Checked, Project) {
    support::check_files("/limits", [("policy/model.yaml".into(), text.into())])
}

fn codes(c: &Checked) -> Vec<&'static str> {
    c.diags.items.iter().map(|d| d.code).collect()
}

/// Runs `f` and fails if it takes longer than `limit` (generous: CI machines are slow).
fn within<T>(limit: Duration, what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < limit, "{what} took {took:?} (limit {limit:?})");
    out
}

const SECS: Duration = Duration::from_secs(20);

#[test]
fn ten_thousand_levels_of_nesting_are_refused() {
    let n = 10_000;
    let cases = [
        ("flow sequences", "[".repeat(n)),
        ("flow maps", "{a: ".repeat(n)),
        ("block sequences", format!("{}1\n", "- ".repeat(n))),
        ("indentation", {
            let mut s = String::new();
            for d in 0..n {
                s.push_str(&" ".repeat(d));
                s.push_str("a:\n");
            }
            s
        }),
    ];
    for (what, text) in cases {
        let (c, _) = within(SECS, what, || check(text));
        assert_eq!(codes(&c), ["yaml::too-deep"], "{what}");
        assert!(c.diags.items[0]
            .message
            .contains(&permit::yaml::MAX_DEPTH.to_string()));
    }
}

#[test]
fn conditions_nested_past_the_limit_are_refused() {
    let depth = permit::model::condition::MAX_CONDITION_DEPTH + 5;
    let cond = format!(
        "{}{{user.x: {{equals: 1}}}}{}",
        "{not: ".repeat(depth),
        "}".repeat(depth)
    );
    let text = format!("user_attributes: {{x: number}}\nuser_sets:\n  s: {{conditions: {cond}}}\n");
    let (c, _) = check(text);
    assert!(codes(&c).contains(&"model::too-deep"), "{:?}", codes(&c));
}

/// "Billion laughs": ten lines of nested aliases would expand to 10^10 values.
#[test]
fn alias_bombs_stop_at_the_alias_budget() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = format!("*a{}", i - 1);
        let _ = writeln!(text, "a{i}: &a{i} [{}]", [p.as_str(); 10].join(", "));
    }
    let (c, _) = within(SECS, "billion laughs", || check(text));
    assert_eq!(codes(&c), ["yaml::too-large"]);
    assert!(c.diags.items[0].message.contains("anchors and aliases"));
}

/// Regression: each anchor kept its own copy of its value, so 128 nested anchors around one
/// big list made 128 copies of it (a 1 MB file asked for gigabytes).
#[test]
fn nested_anchors_do_not_copy_a_value_per_level() {
    let items = vec!["x"; 200_000].join(", ");
    let mut text = String::from("v: ");
    for i in 0..100 {
        let _ = write!(text, "&a{i} [");
    }
    text.push_str(&items);
    text.push_str(&"]".repeat(100));
    text.push('\n');
    let (c, _) = within(SECS, "nested anchors", || check(text));
    assert_eq!(codes(&c), ["yaml::too-large"]);
}

/// A million-element list is not a limit: it loads, validates and compiles.
#[test]
fn a_million_actions_load_and_compile() {
    let n = 1_000_000;
    let mut text = String::from("resources:\n  doc:\n    actions: [");
    for i in 0..n {
        if i > 0 {
            text.push_str(", ");
        }
        let _ = write!(text, "a{i}");
    }
    text.push_str("]\n    roles: {owner: {permissions: [\"*\"]}}\n");
    let (c, project) = within(SECS * 3, "a million actions", || check(text));
    assert!(!c.diags.has_errors(), "{:?}", &c.diags.items[..1]);
    assert_eq!(c.model.resources["doc"].actions.len(), n);
    let compiled = within(SECS * 3, "compiling a million actions", || {
        permit::compile::compile(&c.model, &project.sources, Vec::new()).unwrap()
    });
    assert!(compiled.data.len() > 8 * n);
}

/// A 10 MB string where free text is allowed is data like any other.
#[test]
fn a_ten_megabyte_value_is_data() {
    let big = "x\"}\\".repeat(10 << 18); // 10 MiB of quotes, braces and backslashes
    let text = format!(
        "resources:\n  doc:\n    actions: [read]\n    attributes: {{note: string}}\n    roles: {{owner: {{permissions: [read]}}}}\nresource_instances:\n  \"doc:d\": {{attributes: {{note: {}}}}}\nusers:\n  u: {{roles: [{{role: owner, resource: \"doc:d\"}}]}}\n",
        serde_json::to_string(&big).unwrap()
    );
    let (c, project) = within(SECS, "a 10 MB string", || check(text));
    assert!(!c.diags.has_errors());
    let compiled = permit::compile::compile(&c.model, &project.sources, Vec::new()).unwrap();
    let mut engine = permit::engine::Engine::new(&compiled).unwrap();
    let q = permit::query::build("u", "read", "doc:d", None);
    assert!(engine.decide(&q).unwrap().allow);
}

/// A 10 MB key is refused, and the diagnostic says so in a line, not in ten megabytes.
#[test]
fn a_ten_megabyte_key_gets_a_short_diagnostic() {
    let key = "k".repeat(10 << 20);
    // YAML caps implicit keys at 1,024 characters: a longer key is written explicitly (`? k`)
    let text = format!("users:\n  ? {key}\n  : {{}}\n");
    let (c, project) = within(SECS, "a 10 MB key", || check(text));
    assert_eq!(codes(&c), ["model::invalid-key"]);
    let d = &c.diags.items[0];
    assert!(
        d.message.len() < 600,
        "message is {} bytes",
        d.message.len()
    );
    let rendered = permit::diagnostics::Renderer::new(false).render(d, &project.sources);
    assert!(
        rendered.len() < 64 << 10,
        "rendering is {} bytes",
        rendered.len()
    );
}

/// Regression: "did you mean" compared long names character by character (quadratic), so two
/// 100 KB names — a role and a misspelled reference to it — hung `check`.
#[test]
fn did_you_mean_does_not_hang_on_long_names() {
    let a = "r".repeat(100_000);
    let b = format!("{}x", "r".repeat(99_999));
    let text = format!("roles:\n  ? {a}\n  : {{}}\n  other: {{extends: [{b}]}}\n");
    let (c, _) = within(
        Duration::from_secs(5),
        "did you mean on 100 KB names",
        || check(text),
    );
    assert!(
        codes(&c).contains(&"model::unknown-role"),
        "{:?}",
        codes(&c)
    );
}

/// A large model file (tens of MB, a hundred thousand users) is not a limit either.
#[test]
fn a_large_file_loads() {
    let mut text = String::from(
        "resources:\n  doc:\n    actions: [read]\n    roles: {owner: {permissions: [read]}}\nroles:\n  viewer: {permissions: [\"doc:read\"]}\nusers:\n",
    );
    let n = 100_000;
    for i in 0..n {
        let _ = writeln!(
            text,
            "  user-{i}@example.com:\n    attributes: {{}}\n    roles:\n      - {{role: viewer, tenant: default}}\n      - {{role: owner, resource: \"doc:d{i}\"}}"
        );
    }
    assert!(text.len() > 10 << 20);
    let (c, _) = within(SECS * 3, "a 10 MB file", || check(text));
    assert!(!c.diags.has_errors());
    assert_eq!(c.model.users.len(), n);
}

/// Regression: regorus refuses, by default, Rego lines over 1,024 columns and modules over
/// 20,000 lines or 1 MiB, so a valid model whose generated Rego crossed one of them could not
/// be evaluated (`permit eval`, `test`, `bench` failed; OPA took it). Found by the fuzzer: a
/// condition comparing with a 100 KB string. Three ways a model crosses them, each must load.
#[test]
fn generated_rego_past_regorus_default_source_limits_loads() {
    let long = "x".repeat(5_000);
    let mut text = format!(
        "resources:\n  doc:\n    actions: [read]\n    roles:\n{}user_attributes: {{dept: string}}\nuser_sets:\n  long: {{conditions: {{user.dept: {{equals: \"{long}\"}}}}}}\n",
        (0..300)
            .map(|i| format!("      role-with-a-longish-name-{i}: {{permissions: [read]}}\n"))
            .collect::<String>()
    );
    // thousands of sets: abac.rego far past 20,000 lines and 1 MiB
    for i in 0..6_000 {
        let _ = writeln!(
            text,
            "  set{i}: {{conditions: {{anyOf: [{{user.dept: {{equals: d{i}}}}}, {{not: {{user.dept: {{in: [a, b]}}}}}}]}}}}"
        );
    }
    text.push_str("users:\n  u: {attributes: {dept: \"");
    text.push_str(&long);
    text.push_str("\"}}\nresource_sets:\n  all: {resource: doc, conditions: {resource.key: {not-equals: \"\"}}}\ncondition_set_rules:\n  - {user_set: long, permission: \"doc:read\", resource_set: all}\n");
    let (c, project) = check(text);
    assert!(!c.diags.has_errors(), "{:?}", &c.diags.items[..1]);
    let compiled = permit::compile::compile(&c.model, &project.sources, Vec::new()).unwrap();
    let abac = compiled
        .modules
        .iter()
        .find(|m| m.path.ends_with("abac.rego"))
        .unwrap();
    assert!(abac.text.lines().count() > 20_000 && abac.text.len() > 1 << 20);
    let mut engine = permit::engine::Engine::new(&compiled).unwrap();
    let q = permit::query::build("u", "read", "doc:d1", None);
    let d = engine.decide(&q).unwrap();
    assert!(d.allow && d.allowing_sources == ["abac"], "{d:?}");
}

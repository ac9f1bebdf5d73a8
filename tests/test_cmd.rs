//! `permit test`, `permit build` and `permit eval` through the real binary, on fixture projects
//! under `fixtures/test/` and on the `permit init` example.

mod support;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/test")
        .join(name)
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn permit(dir: &Path, args: &[&str]) -> Out {
    let out = cargo_bin_cmd!("permit")
        .arg("-C")
        .arg(dir)
        .arg("--color")
        .arg("never")
        .args(args)
        .output()
        .unwrap();
    let r = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!r.stderr.contains("panicked"), "panic: {}", r.stderr);
    r
}

#[test]
fn the_init_example_passes_its_own_tests() {
    let tmp = support::init_demo();
    let r = permit(&tmp.path().join("demo"), &["test"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("ok: 28 passed, 0 failed (26 decision, 2 rego)"),
        "{}",
        r.stdout
    );
}

#[test]
fn passing_suite_with_rego_tests() {
    let r = permit(&fixture("passing"), &["test", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["passed"], 6);
    assert_eq!(v["failed"], 0);
    let kinds: Vec<&str> = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "rego").count(), 1);
}

#[test]
fn a_failure_names_file_line_query_and_why() {
    let r = permit(&fixture("failing"), &["test"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("FAIL wrongly expects delete (decision)  tests/cases.yaml:3:5"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("expected: allow"), "{}", r.stdout);
    assert!(
        r.stdout.contains("actual:   deny (reason no_permission"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("tenant roles that would: none; resource roles that would: `owner`"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("FAILED: 1 passed, 1 failed"),
        "{}",
        r.stdout
    );
}

#[test]
fn broken_files_are_reported_and_the_rest_still_runs() {
    let r = permit(&fixture("broken_files"), &["test", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // the typo, with did-you-mean, at its line
    assert!(
        r.stderr.contains("unknown field `expcet` in a test"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("did you mean `expect`?"), "{}", r.stderr);
    // the Rego test file that does not parse, at its file
    assert!(
        r.stderr.contains("Rego test file does not parse"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("tests/bad_test.rego"), "{}", r.stderr);
    // an unknown user is a warning that names it
    assert!(r.stderr.contains("unknown user `nobody`"), "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let by_name = |n: &str| {
        v["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == n)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(by_name("still runs")["passed"], true);
    assert_eq!(by_name("unknown user on purpose")["passed"], true);
    assert_eq!(
        by_name("test_errors")["passed"],
        false,
        "division by zero is an error, not a pass"
    );
    assert_eq!(by_name("test_fails")["passed"], false);
}

#[test]
fn run_filters_by_name_and_no_tests_fails_unless_allowed() {
    let r = permit(&fixture("passing"), &["test", "--run", "^owner", "-q"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("3 passed"), "{}", r.stdout);
    let r = permit(&fixture("empty"), &["test"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no tests found"), "{}", r.stderr);
    let r = permit(&fixture("empty"), &["test", "--allow-empty"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn junit_report_is_well_formed() {
    let r = permit(&fixture("failing"), &["test", "--format", "junit"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.starts_with("<?xml"));
    assert!(
        r.stdout
            .contains("<testsuites name=\"permit\" tests=\"2\" failures=\"1\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("<failure message=\"expected allow, got deny"),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.matches("<testcase").count(), 2);
    assert_eq!(r.stdout.matches("</testsuite>").count(), 1);
}

#[test]
fn github_format_annotates_lines_and_writes_the_step_summary() {
    let summary = tempfile::NamedTempFile::new().unwrap();
    let out = cargo_bin_cmd!("permit")
        .arg("-C")
        .arg(fixture("failing"))
        .args(["test", "--format", "github"])
        .env("GITHUB_STEP_SUMMARY", summary.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("::error file=tests/cases.yaml,line=3,title=permit test%3A wrongly expects delete::expected allow"), "{stdout}");
    let md = std::fs::read_to_string(summary.path()).unwrap();
    assert!(
        md.contains("### permit test") && md.contains("| wrongly expects delete |"),
        "{md}"
    );
}

#[test]
fn coverage_reports_untested_grants_and_gates() {
    let r = permit(&fixture("passing"), &["test", "--coverage"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // reader/writer grants: doc:read (reader, writer via reader) and doc:write (writer);
    // owner grants read, write, delete: 6 grants, the tests exercise writer:read, owner:* = 4
    assert!(
        r.stdout.contains("model coverage: 4/6 (66.7%)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("untested rbac: role `reader` grants `doc:read`"),
        "{}",
        r.stdout
    );
    let r = permit(&fixture("passing"), &["test", "--min-coverage", "90"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("below --min-coverage 90"), "{}", r.stderr);
}

#[test]
fn build_writes_rego_and_data_and_refuses_a_foreign_folder() {
    let tmp = support::init_demo();
    let demo = tmp.path().join("demo");
    let r = permit(&demo, &["build", "--out", "out"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for f in [
        "permit/root.rego",
        "permit/query.rego",
        "permit/rbac.rego",
        "permit/rebac.rego",
        "permit/abac.rego",
        "custom/custom.rego",
        "data.json",
    ] {
        assert!(demo.join("out").join(f).is_file(), "missing {f}");
    }
    let first = std::fs::read(demo.join("out/data.json")).unwrap();
    assert_eq!(permit(&demo, &["build", "--out", "out"]).code, 0);
    assert_eq!(
        first,
        std::fs::read(demo.join("out/data.json")).unwrap(),
        "builds are reproducible"
    );
    std::fs::create_dir_all(demo.join("notes")).unwrap();
    std::fs::write(demo.join("notes/keep.txt"), "mine").unwrap();
    let r = permit(&demo, &["build", "--out", "notes"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(demo.join("notes/keep.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn build_from_a_git_ref_without_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo");
    assert!(cargo_bin_cmd!("permit")
        .arg("init")
        .arg(&demo)
        .arg("-q")
        .output()
        .unwrap()
        .status
        .success());
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(&demo)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .status()
            .unwrap();
        assert!(ok.success());
    };
    git(&["add", "-A"]);
    git(&["commit", "-qm", "initial"]);
    // break the working tree: the ref still builds
    std::fs::write(
        demo.join("policy/roles.yaml"),
        "roles: {viewer: {permissions: [\"nope:read\"]}}\n",
    )
    .unwrap();
    assert_eq!(permit(&demo, &["check"]).code, 1);
    let r = permit(&demo, &["build", "--ref", "HEAD", "--out", "at-head"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rbac = std::fs::read_to_string(demo.join("at-head/permit/rbac.rego")).unwrap();
    assert!(rbac.contains("policy/roles.yaml"), "{rbac}");
    let r = permit(&demo, &["build", "--ref", "no-such-branch"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
}

#[test]
fn eval_explains_allow_and_deny() {
    let tmp = support::init_demo();
    let demo = tmp.path().join("demo");
    let r = permit(
        &demo,
        &[
            "eval",
            "--user",
            "bob",
            "--action",
            "update",
            "--resource",
            "document:salaries",
            "--explain",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("allow (via rebac)"), "{}", r.stdout);
    assert!(r.stdout.contains("`admin` on `folder:engineering` gives `editor` on `document:salaries` through `parent`"), "{}", r.stdout);
    assert!(r.stdout.contains("[policy/directory.yaml:"), "{}", r.stdout);
    let r = permit(
        &demo,
        &[
            "eval",
            "--user",
            "dave",
            "--action",
            "read",
            "--resource",
            "document:launch",
            "--explain",
        ],
    );
    assert!(
        r.stdout.starts_with("deny (no_role_in_tenant)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("(expired)"), "{}", r.stdout);
    let r = permit(
        &demo,
        &[
            "--format",
            "json",
            "eval",
            "--user",
            "alice",
            "--action",
            "fly",
            "--resource",
            "document:roadmap",
        ],
    );
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["allow"], false);
    assert_eq!(v["debug"]["reason"], "no_such_action");
}

#[test]
fn eval_decides_malformed_queries_without_errors() {
    let tmp = support::init_demo();
    let demo = tmp.path().join("demo");
    for input in [
        r#"{"user": {"key": ""}, "action": "read", "resource": {"type": "document"}}"#,
        r#"{"user": {"key": "alice", "attributes": null}, "action": "read", "resource": {"type": "document"}}"#,
        r#"{"user": {"key": "alice"}, "action": 5, "resource": {"type": "document"}}"#,
        r#"{"user": {"key": "alice"}, "action": "read", "resource": {"type": "document", "key": 7}}"#,
        r#"[]"#,
    ] {
        let out = cargo_bin_cmd!("permit")
            .arg("-C")
            .arg(&demo)
            .args(["--format", "json", "eval", "--input", "-"])
            .write_stdin(input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{input}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["allow"], false, "{input}");
        assert_eq!(v["debug"]["reason"], "invalid_query", "{input}");
    }
}

/// Breaking one permission in the model fails exactly the test about it, readably.
#[test]
fn breaking_one_permission_fails_exactly_its_test() {
    let tmp = support::init_demo();
    let demo = tmp.path().join("demo");
    let path = demo.join("policy/resources.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("permissions: [delete]"));
    std::fs::write(
        &path,
        text.replace("permissions: [delete]", "permissions: []"),
    )
    .unwrap();
    let r = permit(&demo, &["test", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let failed: Vec<&str> = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["passed"] == false)
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["the owner of a document may delete it"]);
    let r = permit(&demo, &["test"]);
    assert!(
        r.stdout.contains(
            "FAIL the owner of a document may delete it (decision)  tests/documents.yaml:"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("resource roles that would: none"),
        "{}",
        r.stdout
    );
}

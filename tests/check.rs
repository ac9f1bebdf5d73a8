//! `permit check`, `permit init` and `permit schema` through the real binary.
//!
//! Each folder `fixtures/check/<case>/` is a tiny project (`permit.yaml` + `policy/*.yaml`) and
//! has a test function of the same name. Its `expected.json` is the golden output of
//! `permit check --format json` (compared as JSON values; file names in it are relative to the
//! project, so nothing needs filtering). `five_mistakes/expected.txt` is the golden human
//! rendering (`permit check --color never`, stderr), compared exactly.
//!
//! Updating the golden files after an intended change:
//!
//! ```sh
//! UPDATE_GOLDEN=1 cargo test --test check     # rewrites expected.json / expected.txt
//! git diff fixtures/check                     # review every change before committing it
//! ```
//!
//! Every test first asserts the behaviour it is about (exit code, diagnostic code, line, "did you
//! mean") and only then compares or rewrites the golden file, so `UPDATE_GOLDEN=1` cannot bless
//! output that breaks those assertions. Tests marked `#[ignore = "bug: ..."]` pin the correct
//! behaviour of a known bug; their golden files hold the intended output and are meant to be
//! regenerated (and reviewed) with `UPDATE_GOLDEN=1 cargo test --test check -- --include-ignored`
//! once the bug is fixed.

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/check")
        .join(case)
}

fn updating() -> bool {
    std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1")
}

/// What one run of the binary printed.
struct Run {
    stdout: String,
    stderr: String,
}

/// Runs `permit ARGS` in `cwd` and asserts what every run must satisfy: it never panics and it
/// exits with `code`.
fn permit(cwd: &Path, args: &[&str], code: i32) -> Run {
    let assert = cargo_bin_cmd!("permit")
        .current_dir(cwd)
        .args(args)
        .env_remove("NO_COLOR")
        .assert();
    let out = assert.get_output();
    let run = Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "`permit {}` panicked:\n{}",
        args.join(" "),
        run.stderr
    );
    assert.code(code);
    run
}

/// `permit -C <dir> check --format json [EXTRA]`: asserts the exit code and parses stdout.
fn check_json_in(dir: &Path, extra: &[&str], code: i32) -> Value {
    let dir_arg = dir.to_str().expect("fixture paths are UTF-8");
    let mut args = vec!["-C", dir_arg, "check", "--format", "json"];
    args.extend_from_slice(extra);
    let run = permit(dir, &args, code);
    let json: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "`permit check --format json` printed no JSON ({e}):\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        )
    });
    assert_eq!(
        json["ok"],
        Value::Bool(code == 0),
        "`ok` disagrees with exit code {code}: {json:#}"
    );
    for d in diagnostics(&json) {
        if let Some(file) = d["file"].as_str() {
            assert!(
                !file.starts_with('/') && !file.contains('\\'),
                "file names in JSON are relative to the project: {file}"
            );
        }
    }
    json
}

fn check_json(case: &str, code: i32) -> Value {
    check_json_in(&fixture(case), &[], code)
}

fn diagnostics(json: &Value) -> &[Value] {
    json["diagnostics"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("no `diagnostics` list in {json:#}"))
}

fn codes(json: &Value) -> Vec<&str> {
    diagnostics(json)
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("?"))
        .collect()
}

/// The one diagnostic with `code` at `file:line`; fails listing all of them otherwise.
fn diag<'a>(json: &'a Value, code: &str, file: &str, line: u64) -> &'a Value {
    let found: Vec<&Value> = diagnostics(json)
        .iter()
        .filter(|d| d["code"] == code && d["file"] == file && d["line"] == line)
        .collect();
    assert!(
        found.len() == 1,
        "expected one `{code}` at {file}:{line}, found {}; all diagnostics:\n{json:#}",
        found.len()
    );
    found[0]
}

fn assert_help(d: &Value, help: &str) {
    assert_eq!(d["help"], help, "wrong help in {d:#}");
}

fn assert_message_contains(d: &Value, text: &str) {
    let message = d["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(text),
        "message should mention {text}: {d:#}"
    );
}

/// Compares `json` with `fixtures/check/<case>/expected.json` (or rewrites it).
fn golden_json(case: &str, json: &Value) {
    let path = fixture(case).join("expected.json");
    if updating() {
        let text = serde_json::to_string_pretty(json).expect("JSON serializes") + "\n";
        std::fs::write(&path, text).expect("write golden file");
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); run `UPDATE_GOLDEN=1 cargo test --test check`",
            path.display()
        )
    });
    let expected: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    assert!(
        *json == expected,
        "{case}: output differs from {} (UPDATE_GOLDEN=1 to accept)\n--- expected\n{expected:#}\n--- actual\n{json:#}",
        path.display()
    );
}

/// Compares `text` with `fixtures/check/<case>/<name>` exactly (or rewrites it).
fn golden_text(case: &str, name: &str, text: &str) {
    let path = fixture(case).join(name);
    if updating() {
        std::fs::write(&path, text).expect("write golden file");
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); run `UPDATE_GOLDEN=1 cargo test --test check`",
            path.display()
        )
    });
    if expected != text {
        let (exp, got): (Vec<&str>, Vec<&str>) =
            (expected.lines().collect(), text.lines().collect());
        let first = exp
            .iter()
            .zip(&got)
            .position(|(a, b)| a != b)
            .unwrap_or(exp.len().min(got.len()));
        panic!(
            "{case}: output differs from {} at line {} (UPDATE_GOLDEN=1 to accept)\n  expected: {:?}\n  actual:   {:?}\n--- actual output\n{text}",
            path.display(),
            first + 1,
            exp.get(first).copied().unwrap_or("<end>"),
            got.get(first).copied().unwrap_or("<end>"),
        );
    }
}

/// Every file below `dir` with its bytes (`.git` included), for before/after comparisons.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("read dir") {
            let e = e.expect("dir entry");
            let path = e.path();
            if e.file_type().expect("file type").is_dir() {
                out.insert(path.strip_prefix(root).unwrap().join(""), Vec::new());
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                out.insert(path.strip_prefix(root).unwrap().to_path_buf(), bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("dir entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy file");
        }
    }
}

const MODEL: &str = "policy/model.yaml";

// ---------------------------------------------------------------------------------------------
// permit check: valid models
// ---------------------------------------------------------------------------------------------

#[test]
fn valid() {
    let json = check_json("valid", 0);
    assert_eq!(json["errors"], 0);
    assert_eq!(json["warnings"], 0);
    golden_json("valid", &json);

    // The human format says so on stdout and keeps stderr empty.
    let dir = fixture("valid");
    let run = permit(&dir, &["-C", dir.to_str().unwrap(), "check"], 0);
    assert!(
        run.stdout.starts_with("ok: 1 file"),
        "stdout: {}",
        run.stdout
    );
    assert_eq!(run.stderr, "");
}

/// Without `-C`, `permit check` finds `permit.yaml` in a parent folder.
#[test]
fn discovery_from_subfolder() {
    let policy = fixture("valid").join("policy");
    let run = permit(&policy, &["check", "--format", "json"], 0);
    let json: Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_eq!(json["ok"], true);
    // ... and so does `-C` pointing into the project.
    check_json_in(&policy, &[], 0);
}

#[test]
fn expired_assignment() {
    let json = check_json("expired_assignment", 0);
    assert_eq!(json["errors"], 0);
    assert_eq!(json["warnings"], 1);
    let d = diag(&json, "model::expired", MODEL, 11);
    assert_eq!(d["severity"], "warning");
    assert_message_contains(d, "`2020-01-31`");
    golden_json("expired_assignment", &json);

    // `--strict` turns warnings into a failure.
    let strict = check_json_in(&fixture("expired_assignment"), &["--strict"], 1);
    assert_eq!(codes(&strict), ["model::expired"]);

    // The human format shows the warning on stderr and still succeeds.
    let dir = fixture("expired_assignment");
    let run = permit(
        &dir,
        &["-C", dir.to_str().unwrap(), "check", "--color", "never"],
        0,
    );
    assert!(
        run.stderr.contains("model::expired"),
        "stderr: {}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// permit check: YAML-level problems
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_yaml() {
    let json = check_json("malformed_yaml", 1);
    assert_eq!(codes(&json), ["yaml::syntax"]);
    // `    actions: [read, update` opens a flow sequence at line 3, column 14 and never closes it.
    let d = diag(&json, "yaml::syntax", MODEL, 3);
    assert_eq!(d["column"], 14, "should point at the unclosed `[`: {d:#}");
    golden_json("malformed_yaml", &json);
}

#[test]
fn malformed_yaml_at_end_of_file() {
    let json = check_json("malformed_yaml_at_end_of_file", 1);
    assert_eq!(codes(&json), ["yaml::syntax"]);
    diag(&json, "yaml::syntax", MODEL, 3);
    golden_json("malformed_yaml_at_end_of_file", &json);
}

#[test]
fn malformed_yaml_extra_bracket() {
    let json = check_json("malformed_yaml_extra_bracket", 1);
    assert_eq!(codes(&json), ["yaml::syntax"]);
    let d = diag(&json, "yaml::syntax", MODEL, 3);
    assert_eq!(d["column"], 28, "should point at the second `]`: {d:#}");
    golden_json("malformed_yaml_extra_bracket", &json);
}

/// A file that is not UTF-8. The fixture holds a marker that the test replaces with the byte
/// 0xE9 (`é` in Latin-1) in a temporary copy, so the committed fixture stays readable text.
#[test]
fn non_utf8() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("project");
    copy_dir(&fixture("non_utf8"), &dir);
    std::fs::remove_file(dir.join("expected.json")).ok();
    let path = dir.join(MODEL);
    let text = std::fs::read(&path).expect("read model");
    let marker = b"@LATIN1_E9@";
    let at = text
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("marker in fixture");
    let mut bytes = text[..at].to_vec();
    bytes.push(0xE9);
    bytes.extend_from_slice(&text[at + marker.len()..]);
    std::fs::write(&path, bytes).expect("write model");

    let json = check_json_in(&dir, &[], 1);
    assert_eq!(codes(&json), ["yaml::encoding"]);
    let d = diag(&json, "yaml::encoding", MODEL, 5);
    assert_eq!(d["column"], 14, "should point at the invalid byte: {d:#}");
    golden_json("non_utf8", &json);
}

// ---------------------------------------------------------------------------------------------
// permit check: shape problems
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_type() {
    let json = check_json("wrong_type", 1);
    assert_eq!(codes(&json), ["model::type"]);
    let d = diag(&json, "model::type", MODEL, 3);
    assert_message_contains(d, "list");
    assert_message_contains(d, "number");
    golden_json("wrong_type", &json);
}

#[test]
fn unknown_field() {
    let json = check_json("unknown_field", 1);
    assert_eq!(
        codes(&json),
        ["model::unknown-field", "model::unknown-field"]
    );
    let d = diag(&json, "model::unknown-field", MODEL, 6);
    assert_message_contains(d, "`permisions`");
    assert_help(d, "did you mean `permissions`?");
    // No near name: the help lists the known fields instead.
    let d = diag(&json, "model::unknown-field", MODEL, 7);
    assert_message_contains(d, "`colour`");
    assert!(
        d["help"].as_str().unwrap_or_default().contains("actions"),
        "help should list the fields: {d:#}"
    );
    golden_json("unknown_field", &json);
}

#[test]
fn unknown_action() {
    let json = check_json("unknown_action", 1);
    assert_eq!(codes(&json), ["model::unknown-action"]);
    let d = diag(&json, "model::unknown-action", MODEL, 5);
    assert_message_contains(d, "`dlete`");
    assert_help(d, "did you mean `delete`?");
    golden_json("unknown_action", &json);
}

#[test]
fn duplicate_key_in_file() {
    let json = check_json("duplicate_key_in_file", 1);
    assert_eq!(codes(&json), ["model::duplicate"]);
    let d = diag(&json, "model::duplicate", MODEL, 6);
    assert_message_contains(d, "`viewer`");
    golden_json("duplicate_key_in_file", &json);
}

#[test]
fn duplicate_across_files() {
    let json = check_json("duplicate_across_files", 1);
    assert_eq!(codes(&json), ["model::duplicate"]);
    // Reported at the second definition (files are merged in name order).
    let d = diag(&json, "model::duplicate", "policy/b.yaml", 2);
    assert_message_contains(d, "`document`");
    golden_json("duplicate_across_files", &json);

    // The human rendering also names the first definition.
    let dir = fixture("duplicate_across_files");
    let run = permit(
        &dir,
        &["-C", dir.to_str().unwrap(), "check", "--color", "never"],
        1,
    );
    assert!(
        run.stderr.contains("policy/a.yaml:2"),
        "stderr: {}",
        run.stderr
    );
}

#[test]
fn invalid_name() {
    let json = check_json("invalid_name", 1);
    assert_eq!(codes(&json), ["model::invalid-name"]);
    let d = diag(&json, "model::invalid-name", MODEL, 2);
    assert_message_contains(d, "`bad name!`");
    assert_eq!(d["column"], 3);
    golden_json("invalid_name", &json);
}

#[test]
fn empty_policy() {
    // `policy/` holds only a hidden `.gitkeep` (hidden files are skipped).
    let json = check_json("empty_policy", 1);
    assert_eq!(codes(&json), ["model::empty"]);
    golden_json("empty_policy", &json);
}

#[test]
fn operator_type() {
    let json = check_json("operator_type", 1);
    assert_eq!(codes(&json), ["model::operator-type"]);
    let d = diag(&json, "model::operator-type", MODEL, 9);
    assert_message_contains(d, "`contains`");
    assert_message_contains(d, "`user.clearance`");
    assert_message_contains(d, "number");
    golden_json("operator_type", &json);
}

// ---------------------------------------------------------------------------------------------
// permit check: cross-references
// ---------------------------------------------------------------------------------------------

#[test]
fn extends_cycle_tenant_roles() {
    let json = check_json("extends_cycle_tenant_roles", 1);
    assert_eq!(codes(&json), ["model::extends-cycle"]);
    let d = diag(&json, "model::extends-cycle", MODEL, 6);
    assert_message_contains(d, "a -> b -> a");
    golden_json("extends_cycle_tenant_roles", &json);
}

#[test]
fn extends_cycle_resource_roles() {
    let json = check_json("extends_cycle_resource_roles", 1);
    assert_eq!(codes(&json), ["model::extends-cycle"]);
    let d = diag(&json, "model::extends-cycle", MODEL, 6);
    assert_message_contains(d, "`document`");
    assert_message_contains(d, "a -> b -> a");
    golden_json("extends_cycle_resource_roles", &json);
}

#[test]
fn unknown_role_in_assignment() {
    let json = check_json("unknown_role_in_assignment", 1);
    assert_eq!(codes(&json), ["model::unknown-role"]);
    let d = diag(&json, "model::unknown-role", MODEL, 11);
    assert_message_contains(d, "`veiwer`");
    assert_help(d, "did you mean `viewer`?");
    golden_json("unknown_role_in_assignment", &json);
}

#[test]
fn unknown_tenant() {
    let json = check_json("unknown_tenant", 1);
    assert_eq!(codes(&json), ["model::unknown-tenant"]);
    let d = diag(&json, "model::unknown-tenant", MODEL, 11);
    assert_message_contains(d, "`acne`");
    assert_help(d, "did you mean `acme`?");
    golden_json("unknown_tenant", &json);
}

#[test]
fn unknown_resource_in_permission() {
    let json = check_json("unknown_resource_in_permission", 1);
    assert_eq!(codes(&json), ["model::unknown-resource"]);
    let d = diag(&json, "model::unknown-resource", MODEL, 5);
    assert_message_contains(d, "`documnet`");
    assert_help(d, "did you mean `document`?");
    golden_json("unknown_resource_in_permission", &json);
}

#[test]
fn unknown_relation_in_derivation() {
    let json = check_json("unknown_relation_in_derivation", 1);
    assert_eq!(codes(&json), ["model::unknown-relation"]);
    let d = diag(&json, "model::unknown-relation", MODEL, 13);
    assert_message_contains(d, "`parnet`");
    assert_help(d, "did you mean `parent`?");
    golden_json("unknown_relation_in_derivation", &json);
}

#[test]
fn unknown_user_set_in_rule() {
    let json = check_json("unknown_user_set_in_rule", 1);
    assert_eq!(codes(&json), ["model::unknown-user-set"]);
    let d = diag(&json, "model::unknown-user-set", MODEL, 14);
    assert_message_contains(d, "`enginers`");
    assert_help(d, "did you mean `engineers`?");
    golden_json("unknown_user_set_in_rule", &json);
}

/// "Validate everything, then report once": one bad value must not hide its neighbours.
#[test]
fn invalid_expiry_with_other_mistakes() {
    let json = check_json("invalid_expiry_with_other_mistakes", 1);
    let line = 12;
    diag(&json, "model::invalid-value", MODEL, line);
    assert_help(
        diag(&json, "model::unknown-role", MODEL, line),
        "did you mean `viewer`?",
    );
    assert_help(
        diag(&json, "model::unknown-tenant", MODEL, line),
        "did you mean `acme`?",
    );
    golden_json("invalid_expiry_with_other_mistakes", &json);
}

// ---------------------------------------------------------------------------------------------
// permit check: several mistakes at once
// ---------------------------------------------------------------------------------------------

#[test]
fn five_mistakes() {
    let json = check_json("five_mistakes", 1);
    assert_eq!(json["errors"], 5);
    let expect = [
        ("model::unknown-action", 7, Some("did you mean `delete`?")),
        ("model::unknown-field", 10, Some("did you mean `extends`?")),
        ("model::unknown-role", 16, Some("did you mean `viewer`?")),
        ("model::type", 19, None),
        ("model::duplicate", 22, None),
    ];
    assert_eq!(diagnostics(&json).len(), expect.len(), "{json:#}");
    for (code, line, help) in expect {
        let d = diag(&json, code, MODEL, line);
        assert!(
            d["column"].as_u64().is_some_and(|c| c > 0),
            "no column: {d:#}"
        );
        if let Some(help) = help {
            assert_help(d, help);
        }
    }
    golden_json("five_mistakes", &json);

    // The human rendering, byte for byte: every problem with its source line and the summary.
    let dir = fixture("five_mistakes");
    let run = permit(
        &dir,
        &["-C", dir.to_str().unwrap(), "check", "--color", "never"],
        1,
    );
    assert_eq!(run.stdout, "", "diagnostics go to stderr");
    assert!(
        !run.stderr.contains('\u{1b}'),
        "`--color never` printed escapes"
    );
    golden_text("five_mistakes", "expected.txt", &run.stderr);
}

// ---------------------------------------------------------------------------------------------
// permit check: project and config errors (exit 2)
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_permit_yaml() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let run = permit(tmp.path(), &["check"], 2);
    assert!(run.stderr.contains("permit.yaml"), "stderr: {}", run.stderr);
    assert!(run.stderr.contains("permit init"), "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "");
    // Same with `-C` and `--format json`: a config error, not a JSON report.
    let dir = tmp.path().to_str().unwrap();
    let run = permit(tmp.path(), &["-C", dir, "check", "--format", "json"], 2);
    assert!(run.stderr.contains("permit init"), "stderr: {}", run.stderr);
}

#[test]
fn broken_config_syntax() {
    let dir = fixture("broken_config_syntax");
    let run = permit(
        &dir,
        &["-C", dir.to_str().unwrap(), "check", "--color", "never"],
        2,
    );
    assert!(
        run.stderr.contains("yaml::syntax"),
        "stderr: {}",
        run.stderr
    );
    assert!(run.stderr.contains("permit.yaml"), "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "");
}

#[test]
fn unknown_config_field() {
    let dir = fixture("unknown_config_field");
    let run = permit(
        &dir,
        &["-C", dir.to_str().unwrap(), "check", "--color", "never"],
        2,
    );
    assert!(
        run.stderr.contains("model::unknown-field") || run.stderr.contains("config::unknown-field"),
        "stderr: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("`enviroments`"),
        "stderr: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `environments`?"),
        "stderr: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("permit.yaml:2"),
        "stderr: {}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[test]

fn config_error_summary_grammar() {
    let dir = fixture("unknown_config_field");
    let run = permit(
        &dir,
        &["-C", dir.to_str().unwrap(), "check", "--color", "never"],
        2,
    );
    assert!(!run.stderr.contains("1 problems"), "stderr: {}", run.stderr);
}

#[test]
fn missing_policy_folder() {
    let dir = fixture("missing_policy_folder");
    assert!(
        !dir.join("policy").exists(),
        "the fixture must not have `policy/`"
    );
    let run = permit(&dir, &["-C", dir.to_str().unwrap(), "check"], 2);
    assert!(run.stderr.contains("`policy`"), "stderr: {}", run.stderr);
    assert!(
        run.stderr.contains("does not exist"),
        "stderr: {}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

// ---------------------------------------------------------------------------------------------
// permit check: least-privilege warnings (src/lint.rs)
// ---------------------------------------------------------------------------------------------

/// The diagnostics with `code`, as `line: message`.
fn lines_of(json: &Value, code: &str) -> Vec<String> {
    diagnostics(json)
        .iter()
        .filter(|d| d["code"] == code)
        .map(|d| format!("{}: {}", d["line"], d["message"].as_str().unwrap_or("")))
        .collect()
}

#[test]
fn unheld_roles() {
    let json = check_json("unheld_roles", 0);
    assert_eq!(json["errors"], 0);
    assert_eq!(
        lines_of(&json, "lint::unheld-role"),
        [
            "11: no user holds role `guest` of resource `folder` on any instance",
            "21: no user holds role `commenter` of resource `document` on any instance",
            "27: no user holds tenant role `auditor`",
            "28: no user holds tenant role `contractor`",
        ],
        "held through `extends` (viewer, editor) or derived (reader) are not warned: {json:#}"
    );
    // the role whose assignments expired says so, and where to find them
    let contractor = diag(&json, "lint::unheld-role", MODEL, 28);
    assert_message_contains(contractor, "`contractor`");
    let help = contractor["help"].as_str().unwrap_or_default();
    assert!(
        help.contains("expired") && help.contains("permit users --stale"),
        "{help}"
    );
    golden_json("unheld_roles", &json);

    // warnings do not fail, unless `--strict`
    check_json_in(&fixture("unheld_roles"), &["--strict"], 1);
}

#[test]
fn users_without_roles() {
    let json = check_json("users_without_roles", 0);
    assert_eq!(
        lines_of(&json, "lint::no-roles"),
        [
            "14: user `bob` holds no role and has no attributes",
            "15: user `carol` holds no live role: every assignment has expired",
        ],
        "`dana` (attributes, no roles) is how an ABAC-only user is written: {json:#}"
    );
    let carol = diag(&json, "lint::no-roles", MODEL, 15);
    assert!(
        carol["help"]
            .as_str()
            .unwrap_or_default()
            .contains("offboarding"),
        "{carol:#}"
    );
    // carol's expired assignment is still reported on its own line
    diag(&json, "model::expired", MODEL, 16);
    golden_json("users_without_roles", &json);
}

#[test]
fn superuser_role() {
    let json = check_json("superuser_role", 0);
    assert_eq!(
        lines_of(&json, "lint::superuser"),
        [
            "11: tenant role `root` grants every action on every resource",
            "16: tenant role `boss` grants every action on every resource",
        ],
        "`explicit`, `editor` and `janitor` are not super-users: {json:#}"
    );
    // `root` is pointed at its first `*` permission, `boss` (whose `*` is inherited) at its key
    assert_eq!(diag(&json, "lint::superuser", MODEL, 11)["column"], 24);
    assert_eq!(diag(&json, "lint::superuser", MODEL, 16)["column"], 3);
    assert_eq!(json["warnings"], 2, "{json:#}");
    golden_json("superuser_role", &json);
}

#[test]
fn untested_permission() {
    let json = check_json("untested_permission", 0);
    assert_eq!(
        lines_of(&json, "lint::untested"),
        ["7: no decision test names `document:delete`"]
    );
    let d = diag(&json, "lint::untested", MODEL, 7);
    assert_eq!(
        d["column"], 29,
        "points at `delete` in owner's permissions: {d:#}"
    );
    assert!(
        d["help"]
            .as_str()
            .unwrap_or_default()
            .contains("action: delete"),
        "{d:#}"
    );
    golden_json("untested_permission", &json);

    // Without decision tests there is nothing to compare with: no warning per permission.
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("project");
    copy_dir(&fixture("untested_permission"), &dir);
    std::fs::remove_dir_all(dir.join("tests")).expect("remove tests");
    let json = check_json_in(&dir, &[], 0);
    assert!(lines_of(&json, "lint::untested").is_empty(), "{json:#}");

    // A test file that does not read cleanly would make its permissions look untested:
    // `permit check` then says nothing about coverage (`permit test` reports the file).
    copy_dir(
        &fixture("untested_permission").join("tests"),
        &dir.join("tests"),
    );
    std::fs::write(
        dir.join("tests/broken.yaml"),
        "tests:\n  - name: typo\n    user: alice\n    expcet: allow\n",
    )
    .expect("write");
    let json = check_json_in(&dir, &[], 0);
    assert!(lines_of(&json, "lint::untested").is_empty(), "{json:#}");
}

/// A large directory gets a screenful: the first 20 warnings of a code, and one that counts
/// the rest (pointing at the first one left out).
#[test]
fn too_many_warnings() {
    let json = check_json("too_many_warnings", 0);
    let found = lines_of(&json, "lint::no-roles");
    assert_eq!(found.len(), 21, "{json:#}");
    assert_eq!(
        found[0],
        "5: user `user01` holds no role and has no attributes"
    );
    assert_eq!(
        found[19],
        "24: user `user20` holds no role and has no attributes"
    );
    assert_eq!(
        found[20],
        "25: 5 more users without a live role (`lint::no-roles`), not listed one by one"
    );
    golden_json("too_many_warnings", &json);
    check_json_in(&fixture("too_many_warnings"), &["--strict"], 1);
}

// ---------------------------------------------------------------------------------------------
// permit init and permit schema
// ---------------------------------------------------------------------------------------------

#[test]
fn init_then_check() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let demo = tmp.path().join("demo");
    let run = permit(tmp.path(), &["init", demo.to_str().unwrap()], 0);
    assert!(run.stdout.contains("permit.yaml"), "stdout: {}", run.stdout);
    let json = check_json_in(&demo, &[], 0);
    assert_eq!(json["errors"], 0, "{json:#}");
    // a fresh project is clean but for the deliberately expired assignment it shows off
    assert_eq!(codes(&json), ["model::expired"], "{json:#}");
}

/// Regression: `-C` and init's DIR shared one clap id, so `permit -C X init demo` wrote to the
/// wrong place (commit 6eeac1a). DIR is relative to `-C`.
#[test]
fn init_relative_dir_under_c() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let base = tmp.path().join("base");
    std::fs::create_dir(&base).expect("mkdir");
    permit(
        tmp.path(),
        &["-C", base.to_str().unwrap(), "init", "demo"],
        0,
    );
    assert!(base.join("demo/permit.yaml").is_file());
    assert!(!base.join("demo/demo").exists());
    check_json_in(&base.join("demo"), &[], 0);
}

#[test]
fn init_refuses_existing_project() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let demo = tmp.path().join("demo");
    let demo_arg = demo.to_str().unwrap();
    permit(tmp.path(), &["init", demo_arg], 0);
    // A user edit that a second init must not clobber.
    std::fs::write(demo.join("permit.yaml"), "policy: policy # edited\n").expect("edit");
    let before = tree(&demo);

    let run = permit(tmp.path(), &["init", demo_arg], 2);
    for name in ["permit.yaml", "policy/resources.yaml", ".gitignore"] {
        assert!(
            run.stderr.contains(name),
            "should name `{name}`: {}",
            run.stderr
        );
    }
    assert_eq!(run.stdout, "");
    assert!(tree(&demo) == before, "a refused init changed files");
}

#[test]
fn init_refuses_when_one_file_exists() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let demo = tmp.path().join("demo");
    std::fs::create_dir_all(demo.join("policy")).expect("mkdir");
    std::fs::write(demo.join("policy/roles.yaml"), "roles: {}\n").expect("write");
    let before = tree(&demo);

    let run = permit(tmp.path(), &["init", "--no-git", demo.to_str().unwrap()], 2);
    assert!(
        run.stderr.contains("policy/roles.yaml"),
        "stderr: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("policy/abac.yaml"),
        "names only existing files: {}",
        run.stderr
    );
    assert!(tree(&demo) == before, "a refused init wrote files");
}

#[test]
fn init_model_files_have_schema_line() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let demo = tmp.path().join("demo");
    permit(tmp.path(), &["init", "--no-git", demo.to_str().unwrap()], 0);
    let mut models: Vec<PathBuf> = std::fs::read_dir(demo.join("policy"))
        .expect("policy folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    models.sort();
    assert!(!models.is_empty(), "init wrote no model files");
    const PREFIX: &str = "# yaml-language-server: $schema=";
    for path in models {
        let text = std::fs::read_to_string(&path).expect("read model file");
        let first = text.lines().next().unwrap_or_default();
        let schema = first
            .strip_prefix(PREFIX)
            .unwrap_or_else(|| panic!("{} starts with {first:?}", path.display()));
        // The schema it names exists, relative to the model file.
        let schema_path = path.parent().unwrap().join(schema.trim());
        assert!(
            schema_path.is_file(),
            "{} names a missing schema `{schema}`",
            path.display()
        );
    }
}

#[test]
fn schema_prints_json() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let run = permit(tmp.path(), &["schema"], 0);
    let schema: Value = serde_json::from_str(&run.stdout).expect("`permit schema` prints JSON");
    assert!(
        schema["properties"]["resources"].is_object(),
        "no `properties.resources`: {schema:#}"
    );
    assert_eq!(run.stderr, "");

    // `init` writes the same schema its model files point at.
    let demo = tmp.path().join("demo");
    permit(tmp.path(), &["init", "--no-git", demo.to_str().unwrap()], 0);
    let written = std::fs::read_to_string(demo.join(".permit/model.schema.json")).expect("schema");
    let written: Value = serde_json::from_str(&written).expect("JSON");
    assert!(
        written == schema,
        "init's schema differs from `permit schema`"
    );
}

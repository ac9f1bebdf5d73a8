//! `permit users` through the real binary: on the `permit init` example and on
//! `fixtures/users/<case>/`. "Now" is fixed with `PERMIT_NOW` wherever expiry matters.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `permit -C DIR users ARGS` with `PERMIT_NOW=now` (when given).
fn users(dir: &Path, args: &[&str], now: Option<&str>) -> Run {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("permit");
    cmd.arg("-C").arg(dir).arg("users").args(args);
    cmd.env_remove("PERMIT_NOW");
    if let Some(now) = now {
        cmd.env("PERMIT_NOW", now);
    }
    let out = cmd.output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

fn json(dir: &Path, args: &[&str], now: Option<&str>) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let run = users(dir, &all, now);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout))
}

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/users")
        .join(case)
}

/// The report on user `key` in a `--format json` document.
fn user<'a>(doc: &'a Value, key: &str) -> &'a Value {
    doc["users"]
        .as_array()
        .and_then(|us| us.iter().find(|u| u["key"] == key))
        .unwrap_or_else(|| panic!("no user `{key}` in {doc:#}"))
}

/// `role@place how [via]` for each role of a user's report, in order.
fn roles(u: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (list, place) in [("tenant_roles", "tenant"), ("instance_roles", "instance")] {
        for r in u[list].as_array().unwrap() {
            let via = r["via"]
                .as_str()
                .map(|v| format!(" [{v}]"))
                .unwrap_or_default();
            out.push(format!(
                "{}@{} {}{via}",
                r["role"].as_str().unwrap(),
                r[place].as_str().unwrap(),
                r["how"].as_str().unwrap()
            ));
        }
    }
    out
}

const NOW: &str = "2030-06-01T00:00:00Z";

#[test]
fn the_init_example_lists_assigned_extended_and_derived_roles() {
    let tmp = support::init_demo();
    let demo = tmp.path().join("demo");
    let run = users(&demo, &[], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = run.stdout;
    // a table: a header, then a row per role
    assert!(
        text.starts_with("USER   TENANT/INSTANCE     ROLE    HOW\n"),
        "{text}"
    );
    for row in [
        "alice  acme                editor  assigned",
        "alice  acme                viewer  via editor (extends)",
        "alice  document:roadmap    reader  via owner (extends)",
        "bob    document:salaries   editor  derived from admin on folder:engineering",
        "dave   document:salaries   reader  derived from member on folder:engineering",
        "carol  globex              viewer  via admin (extends)",
    ] {
        assert!(text.contains(row), "missing `{row}` in:\n{text}");
    }
    // permissions: tenant-wide `type:action`, per instance the actions
    assert!(
        text.contains("bob    folder:engineering  create, delete, read\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "alice  acme                document:create, document:read, document:update, folder:create, folder:read\n"
        ),
        "{text}"
    );
    // dave's viewer assignment expired in 2020: stale, and no tenant role of his is listed
    assert!(
        text.contains("dave  viewer  acme             2020-01-01T00:00:00Z  expired  policy/directory.yaml:26"),
        "{text}"
    );
    assert!(!text.contains("dave   acme"), "{text}");
}

#[test]
fn stale_lists_only_expired_and_expiring_assignments() {
    let tmp = support::init_demo();
    let demo = tmp.path().join("demo");
    // bob's viewer assignment runs to the end of 2099-12-31: 12 days after this "now"
    let now = Some("2099-12-20T00:00:00Z");
    let run = users(&demo, &["--stale", "--within", "11"], now);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("dave  viewer"), "{}", run.stdout);
    assert!(!run.stdout.contains("bob"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("HOW"),
        "only the stale table: {}",
        run.stdout
    );

    let run = users(&demo, &["--stale", "--within", "12"], now);
    assert!(
        run.stdout
            .contains("bob   viewer  acme             2099-12-31            expires in 12 days"),
        "{}",
        run.stdout
    );
    // alice and carol have no assignment that expires
    assert!(!run.stdout.contains("alice") && !run.stdout.contains("carol"));

    let doc = json(&demo, &["--stale", "--within", "12"], now);
    let keys: Vec<&str> = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["bob", "dave"]);
    assert_eq!(
        user(&doc, "bob")["stale"],
        serde_json::json!([{
            "at": "policy/directory.yaml:16",
            "days_left": 12,
            "expired": false,
            "expires": "2099-12-31",
            "instance": null,
            "role": "viewer",
            "tenant": "acme"
        }])
    );
    assert_eq!(user(&doc, "dave")["stale"][0]["expired"], true);
}

#[test]
fn json_is_a_stable_document_with_sorted_keys() {
    let dir = fixture("derived_roles");
    let doc = json(&dir, &[], Some(NOW));
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&doc),
        ["now", "stale_only", "tenant", "users", "within_days"]
    );
    assert_eq!(doc["now"], NOW);
    assert_eq!(doc["within_days"], 30);
    let olga = user(&doc, "olga");
    assert_eq!(
        keys(olga),
        [
            "instance_roles",
            "key",
            "permissions",
            "stale",
            "tenant_roles"
        ]
    );
    assert_eq!(
        keys(&olga["tenant_roles"][0]),
        ["how", "role", "tenant", "via"]
    );
    assert_eq!(
        keys(&olga["instance_roles"][0]),
        ["how", "instance", "role", "via"]
    );
    // users are written one at a time, yet the bytes are those of the whole document
    // pretty-printed, and the same on every run
    let again = users(&dir, &["--format", "json"], Some(NOW));
    assert_eq!(
        again.stdout,
        serde_json::to_string_pretty(&doc).unwrap() + "\n"
    );
    // ... also when no user is listed
    let none = users(
        &dir,
        &[
            "--format", "json", "--stale", "--within", "0", "--tenant", "globex",
        ],
        Some(NOW),
    );
    let empty: Value = serde_json::from_str(&none.stdout).unwrap();
    assert_eq!(empty["users"], serde_json::json!([]));
    assert_eq!(
        none.stdout,
        serde_json::to_string_pretty(&empty).unwrap() + "\n"
    );
}

#[test]
fn roles_derived_two_relationships_deep_and_through_extends() {
    let doc = json(&fixture("derived_roles"), &[], Some(NOW));
    let olga = user(&doc, "olga");
    assert_eq!(
        roles(olga),
        [
            "lead@acme assigned",
            "reader@acme extends [lead]",
            "writer@acme extends [lead]",
            "editor@document:d1 derived [admin on org:o1]",
            "reader@document:d1 extends [editor]",
            "editor@folder:f1 derived [admin on org:o1]",
            "admin@org:o1 assigned",
        ]
    );
    assert_eq!(
        olga["permissions"],
        serde_json::json!({
            "instances": {
                "document:d1": ["read", "write"],
                "folder:f1": ["write"],
                "org:o1": ["manage"]
            },
            "tenants": {
                "acme": ["document:delete", "document:read", "document:write", "folder:read"]
            }
        })
    );
    // pete: the expired `writer` grants nothing; `reader` in globex expires in 10 days
    let pete = user(&doc, "pete");
    assert_eq!(
        roles(pete),
        ["reader@globex assigned", "reader@document:d2 assigned"]
    );
    let stale: Vec<String> = pete["stale"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {} {} {}",
                s["role"], s["expires"], s["days_left"], s["at"]
            )
        })
        .collect();
    assert_eq!(
        stale,
        [
            r#""reader" "2030-06-10" 10 "policy/model.yaml:38""#,
            r#""writer" "2030-05-01T00:00:00Z" -31 "policy/model.yaml:39""#,
        ]
    );
    // a wider window reaches the assignment on document:d2 (end of 2031-01-01)
    let doc = json(&fixture("derived_roles"), &["--within", "300"], Some(NOW));
    assert_eq!(user(&doc, "pete")["stale"].as_array().unwrap().len(), 3);
}

#[test]
fn tenant_narrows_to_its_roles_and_instances() {
    let dir = fixture("derived_roles");
    let doc = json(&dir, &["--tenant", "globex"], Some(NOW));
    assert_eq!(doc["tenant"], "globex");
    let users: Vec<&str> = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["key"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["pete"], "olga holds nothing in globex");
    let pete = user(&doc, "pete");
    // document:d2 is stored in globex; the expired acme assignment is not globex's business
    assert_eq!(
        roles(pete),
        ["reader@globex assigned", "reader@document:d2 assigned"]
    );
    assert_eq!(pete["stale"].as_array().unwrap().len(), 1);
    assert_eq!(pete["stale"][0]["tenant"], "globex");
}

#[test]
fn an_unknown_tenant_is_a_usage_error_with_a_suggestion() {
    let dir = fixture("derived_roles");
    let run = users(&dir, &["--tenant", "acmee"], Some(NOW));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown tenant `acmee`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `acme`?"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");

    let run = users(&dir, &["--tenant", "initech"], Some(NOW));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("the tenants are: acme, default, globex"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_invalid_model_prints_its_errors_and_exits_1() {
    let tmp = support::init_demo();
    let demo = tmp.path().join("demo");
    let path = demo.join("policy/roles.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("extends: [viewer]", "extends: [viewr]")).unwrap();
    let run = users(&demo, &[], None);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("viewr"), "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean `viewer`?"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn an_invalid_permit_now_is_a_usage_error() {
    let run = users(&fixture("derived_roles"), &[], Some("next tuesday"));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("`PERMIT_NOW` is `next tuesday`"),
        "{}",
        run.stderr
    );
}

/// `permit check` finds the roles nobody holds with one pruned walk of the whole directory
/// (`Graph::held_types`); `permit users` walks every user's assignments in full. On seeded
/// random models (derivations along cycles, `extends`, `*`) the two must agree: a role is
/// warned about exactly when no user's report lists it.
#[test]
fn unheld_role_warnings_agree_with_the_roles_users_hold() {
    let (mut derived, mut unheld) = (0, 0);
    for seed in 1..=25 {
        let tmp = tempfile::tempdir().unwrap();
        let shape = support::random::model(seed, tmp.path());
        let dir = tmp.path();

        let check = assert_cmd::cargo::cargo_bin_cmd!("permit")
            .arg("-C")
            .arg(dir)
            .args(["check", "--format", "json"])
            .env("PERMIT_NOW", NOW)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&check.stdout).unwrap();
        assert_eq!(report["errors"], 0, "seed {seed}: {report:#}");
        let mut warned = std::collections::BTreeSet::new();
        for d in report["diagnostics"].as_array().unwrap() {
            if d["code"] != "lint::unheld-role" {
                continue;
            }
            let words: Vec<&str> = d["message"].as_str().unwrap().split('`').collect();
            // "no user holds role `R` of resource `T` ..." or "no user holds tenant role `R`"
            let key = match words.len() {
                5 => format!("{}#{}", words[3], words[1]),
                _ => words[1].to_string(),
            };
            warned.insert(key);
        }

        let doc = json(dir, &[], Some(NOW));
        let mut held = std::collections::BTreeSet::new();
        for u in doc["users"].as_array().unwrap() {
            for r in u["tenant_roles"].as_array().unwrap() {
                held.insert(r["role"].as_str().unwrap().to_string());
            }
            for r in u["instance_roles"].as_array().unwrap() {
                let ty = r["instance"].as_str().unwrap().split(':').next().unwrap();
                held.insert(format!("{ty}#{}", r["role"].as_str().unwrap()));
                derived += usize::from(r["how"] == "derived");
            }
        }

        let mut all: Vec<String> = (0..4).map(|k| format!("r{k}")).collect();
        for (ty, _) in &shape.types {
            all.extend((0..3).map(|k| format!("{ty}#k{k}")));
        }
        for role in &all {
            assert!(
                held.contains(role) != warned.contains(role),
                "seed {seed}: `{role}` is held: {}, warned: {}",
                held.contains(role),
                warned.contains(role)
            );
        }
        unheld += warned.len();
    }
    // the seeds exercise both answers, and derivations
    assert!(
        derived > 20 && unheld > 20,
        "derived {derived}, unheld {unheld}"
    );
}

//! Guards (SPEC section 6) on real temp repositories: validation, every enforcement point
//! (check, test, diff, promote, push), guard files outside the repository and in another
//! repository at a ref, and scopes.

mod support;

use support::git::{git, stderr, stdout, Repo};

/// Forbids `document:delete` to holders of `viewer`.
const NO_DELETE: &str = "\
rules:
  - resource: document
    action: delete
    role: viewer
    is_allowed: false
";

/// The demo with a resource role `viewer` on folders, and `env/staging` at `main`.
fn demo() -> Repo {
    let repo = Repo::init_demo();
    repo.edit(
        "policy/resources.yaml",
        "      member: {permissions: [read]}\n",
        "      member: {permissions: [read]}\n      viewer: {permissions: [read]}\n",
    );
    // the scaffold's own guard file is replaced by one rule, so counts below are exact
    std::fs::remove_file(repo.path("guards/viewers.yaml")).unwrap();
    repo.write("guards/no-delete.yaml", NO_DELETE);
    repo.commit_all("folder viewers; guard: viewers never delete documents");
    repo.git(&["branch", "env/staging", "main"]);
    repo
}

/// Viewers of a folder become owners of its documents: a derivation that grants delete.
fn break_through_derivation(repo: &Repo) {
    repo.edit(
        "policy/resources.yaml",
        "        extends: [editor]            # an owner can do everything an editor can\n",
        "        extends: [editor]            # an owner can do everything an editor can\n        granted_to:\n          - {role: viewer, on_resource: folder, linked_by_relation: parent}\n",
    );
}

/// `permit check --format json`: the exit code and every diagnostic as `file:line code message`
/// (one line each, whatever the terminal width).
fn check(repo: &Repo) -> (i32, String) {
    let out = repo.permit(&["check", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    let lines: Vec<String> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}:{} {} {} ({})",
                d["file"].as_str().unwrap_or(""),
                d["line"],
                d["code"].as_str().unwrap_or(""),
                d["message"].as_str().unwrap_or(""),
                d["help"].as_str().unwrap_or("")
            )
        })
        .collect();
    (out.status.code().unwrap_or(-1), lines.join("\n"))
}

#[test]
fn a_clean_model_passes_its_guards() {
    let repo = demo();
    let out = repo.permit(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 guard rule"), "{}", stdout(&out));
}

#[test]
fn a_derivation_breaking_a_guard_fails_check_and_test_naming_the_path() {
    let repo = demo();
    break_through_derivation(&repo);
    let (code, err) = check(&repo);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("guards/no-delete.yaml:4 guard::violated guard violated: resource role `viewer` on `folder` gets `document:delete` through `granted_to` of `document#owner`"),
        "{err}"
    );
    assert!(err.contains("at policy/resources.yaml:31, then permission `delete` of `document#owner` at policy/resources.yaml:28"), "{err}");

    let out = repo.permit(&["check", "--color", "never"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("1 guard violation"),
        "{}",
        stderr(&out)
    );

    let out = repo.permit(&["test"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error: guards: 1 rule in 1 file, 1 problem"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn extends_and_tenant_roles_break_guards_with_their_path() {
    let repo = demo();
    repo.edit(
        "policy/roles.yaml",
        "    permissions: [\"document:read\", \"folder:read\"]\n",
        "    permissions: [\"document:read\", \"folder:read\"]\n    extends: [auditor]\n  auditor:\n    permissions: [\"document:*\"]\n",
    );
    let (code, err) = check(&repo);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("role `viewer` gets `document:delete` through `extends: auditor` of role `viewer` at policy/roles.yaml:7"),
        "{err}"
    );
    assert!(
        err.contains("then permission `document:*` of role `auditor`"),
        "{err}"
    );
}

#[test]
fn promote_and_push_refuse_a_model_that_breaks_a_guard() {
    let repo = demo();
    break_through_derivation(&repo);
    repo.commit_all("folder viewers own documents");
    let staging = repo.sha("env/staging");
    let out = repo.permit(&["promote", "dev", "staging"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("promotion stopped: the guards of `staging` do not hold"),
        "{err}"
    );
    assert!(err.contains("guard::violated"), "{err}");
    assert_eq!(repo.sha("env/staging"), staging, "the branch must not move");
    assert!(repo.git(&["tag", "--list", "permit/promote/*"]).is_empty());

    // push builds from the environment's branch: point it at the broken commit by hand
    repo.git(&["branch", "-f", "env/staging", "main"]);
    let out = repo.permit(&["push", "staging"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no bundle for `staging`: guards"), "{err}");
    assert!(err.contains("nothing was pushed"), "{err}");
}

#[test]
fn the_promotion_audit_record_names_the_guards() {
    let repo = demo();
    repo.edit(
        "policy/directory.yaml",
        "  carol:\n",
        "  erin:\n    attributes: {clearance: 1}\n  carol:\n",
    );
    repo.commit_all("add erin");
    let out = repo.permit(&["promote", "dev", "staging"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("guards: 1 rule in 1 file, all hold"),
        "{}",
        stdout(&out)
    );
    let tag = repo.git(&["tag", "--list", "permit/promote/*"]);
    let audit = repo.git(&["tag", "-l", "--format=%(contents)", &tag]);
    assert!(
        audit.contains("guards: 1 rule in 1 file, all hold"),
        "{audit}"
    );
}

#[test]
fn diff_marks_escalations_and_new_guard_violations() {
    let repo = demo();
    break_through_derivation(&repo);
    repo.edit(
        "policy/directory.yaml",
        "      - {role: admin, tenant: globex}\n",
        "      - {role: admin, tenant: globex}\n      - {role: editor, tenant: acme}\n",
    );
    let out = repo.permit(&["diff"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(text.contains("Escalations ("), "{text}");
    assert!(
        text.contains("role assigned: user `carol` gains role `editor` in tenant `acme`"),
        "{text}"
    );
    assert!(
        text.contains(
            "guarded permission: resource role `viewer` on `folder` gets `document:delete`"
        ),
        "{text}"
    );
    assert!(
        stderr(&out).contains("breaks the guards"),
        "{}",
        stderr(&out)
    );

    let json = repo.permit(&["diff", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["summary"]["guard_violations"], 1, "{doc}");
    let kinds: Vec<&str> = doc["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"guard") && kinds.contains(&"role-assigned"),
        "{kinds:?}"
    );
}

#[test]
fn a_guard_file_outside_the_repository_applies() {
    let repo = demo();
    std::fs::remove_dir_all(repo.path("guards")).unwrap();
    let org = support::beside(&repo, "org-guards");
    std::fs::create_dir_all(&org).unwrap();
    std::fs::write(org.join("no-delete.yaml"), NO_DELETE).unwrap();
    repo.edit("permit.yaml", "guards: [guards]", "guards: [../org-guards]");
    let out = repo.permit(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    break_through_derivation(&repo);
    let (code, err) = check(&repo);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("../org-guards/no-delete.yaml:4 guard::violated"),
        "{err}"
    );

    // a listed source that does not exist is a config error, not "no guards"
    repo.edit(
        "permit.yaml",
        "guards: [../org-guards]",
        "guards: [../org-gaurds]",
    );
    let out = repo.permit(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("`../org-gaurds`"), "{}", stderr(&out));
}

#[test]
fn guards_from_another_repository_at_a_ref() {
    let repo = demo();
    std::fs::remove_dir_all(repo.path("guards")).unwrap();
    let org = support::beside(&repo, "org-policies");
    std::fs::create_dir_all(org.join("guards")).unwrap();
    git(&org, &["init", "-q", "-b", "main"]);
    std::fs::write(org.join("guards/no-delete.yaml"), NO_DELETE).unwrap();
    git(&org, &["add", "-A"]);
    git(&org, &["commit", "-q", "-m", "no deletes for viewers"]);
    git(&org, &["tag", "v1"]);
    // a later commit on main drops the rule: `ref: v1` must still see it
    std::fs::write(org.join("guards/no-delete.yaml"), "rules: []\n").unwrap();
    git(&org, &["commit", "-q", "-am", "relax"]);
    break_through_derivation(&repo);

    repo.edit(
        "permit.yaml",
        "guards: [guards]",
        "guards: [{git: ../org-policies, ref: v1, path: guards}]",
    );
    let (code, err) = check(&repo);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("../org-policies@v1:guards/no-delete.yaml:4 guard::violated"),
        "{err}"
    );

    let url = format!("file://{}", org.display());
    let cache = tempfile::tempdir().unwrap();
    repo.edit(
        "permit.yaml",
        "{git: ../org-policies, ref: v1, path: guards}",
        &format!("{{git: \"{url}\", ref: v1, path: guards}}"),
    );
    let fetched = |args: &[&str]| {
        assert_cmd::cargo::cargo_bin_cmd!("permit")
            .current_dir(repo.root())
            .env("PERMIT_CACHE_DIR", cache.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = fetched(&["check", "--color", "never"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("guard::violated"), "{}", stderr(&out));
    repo.edit("permit.yaml", "ref: v1", "ref: main");
    let out = fetched(&["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "main relaxed the rule: {}",
        stderr(&out)
    );
}

#[test]
fn guard_files_are_validated_with_positions() {
    let repo = demo();
    repo.write(
        "guards/broken.yaml",
        "rules:\n  - {resource: document, action: delete, role: viewer, user_set: everyone, is_allowed: false}\n  - {resource: document, acton: read, role: viewer, is_allowed: true}\n  - {resource: document, action: read, role: veiwer, is_allowed: false}\n  - {resource: document, action: read, role: viewer, is_allowed: maybe}\n",
    );
    let (code, err) = check(&repo);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("guards/broken.yaml:2 guard::role-and-user-set"),
        "{err}"
    );
    assert!(err.contains("unknown field `acton`"), "{err}");
    assert!(err.contains("did you mean `action`?"), "{err}");
    assert!(err.contains("the guard names role `veiwer`"), "{err}");
    assert!(err.contains("did you mean `viewer`?"), "{err}");
    assert!(err.contains("`is_allowed` must be true or false"), "{err}");
}

#[test]
fn a_required_grant_that_is_missing_breaks_the_guard() {
    let repo = demo();
    repo.write(
        "guards/must-read.yaml",
        "rules:\n  - {resource: document, action: read, role: viewer, is_allowed: true}\n  - {resource: folder, action: delete, role: viewer, is_allowed: true}\n  - {user_set: cleared_engineers, resource_set: public_docs, action: read, is_allowed: true}\n",
    );
    let (code, err) = check(&repo);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("role `viewer` must get `folder:delete`, and nothing in the model grants it"),
        "{err}"
    );
    assert_eq!(
        err.matches("guard::violated").count(),
        1,
        "only folder:delete is missing: {err}"
    );
}

#[test]
fn user_set_guards_see_directory_members_and_rules() {
    let repo = demo();
    repo.write(
        "guards/engineers.yaml",
        "rules:\n  - {resource: document, action: update, user_set: everyone, is_allowed: false}\n",
    );
    let (code, err) = check(&repo);
    assert_eq!(code, 1, "{err}");
    // the rule itself grants it (abac), and alice holds `editor` in acme (rbac)
    assert!(
        err.contains("user set `everyone` gets `document:update` on resource set `own_docs`"),
        "{err}"
    );
    assert!(err.contains("user `alice` (in user set `everyone` in tenant `acme`) gets `document:update` through role `editor`"), "{err}");
}

#[test]
fn scopes_bind_environments_and_projects() {
    let repo = demo();
    repo.write(
        "guards/no-delete.yaml",
        &format!("scope: {{environments: [staging]}}\n{NO_DELETE}"),
    );
    repo.commit_all("the guard binds staging only");
    break_through_derivation(&repo);
    repo.commit_all("folder viewers own documents");
    // on main (environment `dev`) the guard does not bind
    let out = repo.permit(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // promoting into staging it does
    let out = repo.permit(&["promote", "dev", "staging"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("guard::violated") || stderr(&out).contains("guard violated"),
        "{}",
        stderr(&out)
    );

    // a project scope naming another project does not bind this one
    repo.write(
        "guards/no-delete.yaml",
        &format!("scope: {{projects: [payments]}}\n{NO_DELETE}"),
    );
    let out = repo.permit(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    repo.edit(
        "permit.yaml",
        "policy: policy",
        "name: payments\npolicy: policy",
    );
    let out = repo.permit(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn check_staged_judges_the_guards_against_the_index() {
    let repo = demo();
    let good = repo.read("policy/resources.yaml");
    break_through_derivation(&repo);
    repo.git(&["add", "policy/resources.yaml"]);
    std::fs::write(repo.path("policy/resources.yaml"), good).unwrap();
    let out = repo.permit(&["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the working tree is fine: {}",
        stderr(&out)
    );
    let out = repo.permit(&["check", "--staged", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("guard::violated"), "{}", stdout(&out));
}

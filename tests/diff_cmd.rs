//! `permit diff` on real git repositories made in temp dirs.

mod support;

use support::git::{stderr, stdout, Repo};

/// A feature branch that gives `viewer` `document:delete`.
fn widened() -> Repo {
    let repo = Repo::init_demo();
    // the scaffold's guard forbids exactly this widening (tests/guards.rs covers that)
    repo.git(&["rm", "-q", "guards/viewers.yaml"]);
    repo.commit_all("no guards here");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.edit(
        "policy/roles.yaml",
        r#"permissions: ["document:read", "folder:read"]"#,
        r#"permissions: ["document:read", "document:delete", "folder:read"]"#,
    );
    repo.commit_all("viewers may delete documents");
    repo
}

#[test]
fn a_new_action_for_a_role_shows_in_all_three_layers() {
    let repo = widened();
    let out = repo.permit(&["diff", "main", "feature", "--rego"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    // layer 1: the model
    assert!(
        text.contains("~ role `viewer` (policy/roles.yaml:4): permissions: +document:delete"),
        "{text}"
    );
    // layer 2, per role, through `extends`
    assert!(
        text.contains(
            "+ role `viewer` now can `document:delete` in its tenant [policy/roles.yaml:6]  WIDENS"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "+ role `editor` now can `document:delete` in its tenant (via `extends: viewer`)"
        ),
        "{text}"
    );
    // layer 2, concrete: alice (editor in acme) and bob (viewer in acme) gain it; dave's
    // viewer assignment expired, so he does not
    assert!(
        text.contains(
            "+ `alice` gains `delete` on every `document` in tenant `acme` (rbac)  WIDENS"
        ),
        "{text}"
    );
    assert!(text.contains("`bob` gains `delete`"), "{text}");
    assert!(!text.contains("`dave` gains"), "{text}");
    // alice already owned the roadmap (rebac): not listed again as an instance gain
    assert!(!text.contains("`document:roadmap`"), "{text}");
    // layer 3
    assert!(
        text.contains("+data.permit.model.grants.viewer.document.delete = true"),
        "{text}"
    );
    assert!(text.contains("--- main/data.json"), "{text}");

    let gated = repo.permit(&["diff", "main", "feature", "--fail-on", "widen", "-q"]);
    assert_eq!(gated.status.code(), Some(1));
    assert!(stderr(&gated).contains("widens permissions"));
}

#[test]
fn json_and_markdown_are_made_for_bots_and_pull_requests() {
    let repo = widened();
    let out = repo.permit(&["diff", "main", "feature", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["widens"], true);
    assert_eq!(v["base"]["label"], "main");
    assert_eq!(v["head"]["commit"].as_str().unwrap(), repo.sha("feature"));
    let roles = v["roles"].as_array().unwrap();
    assert!(roles.iter().any(|r| r["role"] == "editor"
        && r["permission"] == "document:delete"
        && r["effect"] == "widens"
        && r["via"] == "extends: viewer"));
    let users = v["users"].as_array().unwrap();
    assert!(users.iter().any(|u| u["user"] == "bob"
        && u["action"] == "delete"
        && u["resource"] == "document"
        && u["tenant"] == "acme"));

    let md = repo.permit(&["diff", "main", "feature", "--format", "markdown"]);
    let md = stdout(&md);
    assert!(md.starts_with("### permit diff `main ("), "{md}");
    assert!(md.contains(":warning: **widens permissions**"), "{md}");
    assert!(md.contains("<details><summary>Permissions by role"), "{md}");
}

#[test]
fn narrowing_does_not_trip_the_widening_gate() {
    let repo = Repo::init_demo();
    repo.edit(
        "policy/roles.yaml",
        r#"permissions: ["document:read", "folder:read"]"#,
        r#"permissions: ["document:read"]"#,
    );
    // working tree against HEAD
    let out = repo.permit(&["diff", "--fail-on", "widen"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains("- role `viewer` no longer can `folder:read` in its tenant"),
        "{text}"
    );
    assert!(
        text.contains("- `bob` loses `read` on every `folder` in tenant `acme` (rbac)  narrows"),
        "{text}"
    );
    // alice keeps folder:read? no: editor extends viewer, so she loses it too
    assert!(
        text.contains("- `alice` loses `read` on every `folder`"),
        "{text}"
    );
    assert!(text.starts_with("permit diff HEAD ("), "{text}");
    assert!(text.contains("-> working tree"), "{text}");
}

#[test]
fn relationships_and_attributes_change_concrete_permissions() {
    let repo = Repo::init_demo();
    // dave is a member of the engineering folder: a new document in it becomes readable to him
    repo.edit(
        "policy/directory.yaml",
        "relationships:\n",
        "relationships:\n  - {subject: \"folder:engineering\", relation: parent, object: \"document:launch\"}\n",
    );
    // erin does not exist; giving bob engineering clearance makes public docs readable by ABAC
    repo.edit(
        "policy/directory.yaml",
        "attributes: {department: sales, clearance: 1}",
        "attributes: {department: engineering, clearance: 3}",
    );
    let out = repo.permit(&["diff", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let users = v["users"].as_array().unwrap();
    let has = |user: &str, action: &str, res: &str, source: &str| {
        users.iter().any(|u| {
            u["user"] == user
                && u["action"] == action
                && u["resource"] == res
                && u["effect"] == "widens"
                && u["sources"].as_array().unwrap().iter().any(|s| s == source)
        })
    };
    assert!(
        has("dave", "read", "document:launch", "rebac"),
        "{users:#?}"
    );
    // bob was the folder's admin, so he becomes the launch document's editor by derivation
    assert!(
        has("bob", "update", "document:launch", "rebac"),
        "{users:#?}"
    );
    // bob already reads documents in acme as a viewer: no instance-level gain is listed
    assert!(
        !users
            .iter()
            .any(|u| u["user"] == "bob" && u["action"] == "read"),
        "{users:#?}"
    );
    let model = v["model"].as_array().unwrap();
    assert!(model
        .iter()
        .any(|m| m["kind"] == "relationship" && m["change"] == "added"));
    assert!(model
        .iter()
        .any(|m| m["kind"] == "user" && m["key"] == "bob" && m["change"] == "changed"));
}

#[test]
fn abac_membership_changes_are_found() {
    let repo = Repo::init_demo();
    // carol (engineering, clearance 5) reads public documents by ABAC once launch is public
    // again; make the salaries document public and check she gains read on it
    repo.edit(
        "policy/directory.yaml",
        "classification: secret, owner: bob",
        "classification: public, owner: bob",
    );
    let out = repo.permit(&["diff", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let users = v["users"].as_array().unwrap();
    let gains: Vec<String> = users
        .iter()
        .filter(|u| u["effect"] == "widens")
        .map(|u| {
            format!(
                "{} {} {}",
                u["user"].as_str().unwrap(),
                u["action"].as_str().unwrap(),
                u["resource"].as_str().unwrap()
            )
        })
        .collect();
    // carol is in globex, so only ABAC lets her read acme's public documents
    assert!(
        gains.contains(&"carol read document:salaries".to_string()),
        "{gains:?}"
    );
    // bob owns salaries, so `own_docs` (not secret) now matches it for him, but he could
    // update it already as an editor derived from the folder's admin: not a gain
    assert!(!gains.iter().any(|g| g.starts_with("bob ")), "{gains:?}");
    // alice reads it already as an editor in acme
    assert!(
        !gains.iter().any(|g| g.starts_with("alice read")),
        "{gains:?}"
    );
}

#[test]
fn no_change_says_so() {
    let repo = Repo::init_demo();
    let out = repo.permit(&["diff"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("no changes to the model"));
}

#[test]
fn environments_are_compared_by_their_branches() {
    let repo = widened();
    repo.git(&["branch", "env/staging", "main"]);
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--ff-only", "feature"]);
    let out = repo.permit(&["diff", "--env", "staging", "--env", "dev"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        text.starts_with("permit diff staging (env/staging) ("),
        "{text}"
    );
    assert!(
        text.contains("role `viewer` now can `document:delete`"),
        "{text}"
    );

    let bad = repo.permit(&["diff", "--env", "stagin", "--env", "dev"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("did you mean `staging`?"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn a_broken_side_unknown_refs_and_non_git_folders_are_clear_errors() {
    let repo = Repo::init_demo();
    repo.edit("policy/roles.yaml", "extends: [viewer]", "extends: [viewr]");
    let out = repo.permit(&["diff"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("did you mean `viewer`?"), "{err}");
    assert!(
        err.contains("the model at working tree has 1 error(s)"),
        "{err}"
    );

    let out = repo.permit(&["diff", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("cannot find `no-such-branch`"));

    let plain = support::init_demo();
    let out = assert_cmd::cargo::cargo_bin_cmd!("permit")
        .current_dir(plain.path().join("demo"))
        .arg("diff")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("is not in a git repository"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn detached_heads_and_shallow_clones_work_in_ci() {
    let repo = widened();
    // a CI checkout: shallow clone of the feature branch, detached HEAD
    let tmp = tempfile::tempdir().unwrap();
    let clone = tmp.path().join("clone");
    let url = format!("file://{}", repo.root().display());
    support::git::git(
        tmp.path(),
        &[
            "clone", "-q", "--depth", "1", "--branch", "feature", &url, "clone",
        ],
    );
    support::git::git(&clone, &["checkout", "-q", "--detach"]);
    let run = |args: &[&str]| {
        assert_cmd::cargo::cargo_bin_cmd!("permit")
            .current_dir(&clone)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["diff", "origin/main"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("shallow clone"), "{err}");
    assert!(err.contains("fetch-depth: 0"), "{err}");

    support::git::git(
        &clone,
        &[
            "fetch",
            "-q",
            "--unshallow",
            "origin",
            "main:refs/remotes/origin/main",
        ],
    );
    let out = run(&["diff", "origin/main", "HEAD", "--fail-on", "widen"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("role `viewer` now can `document:delete`"));
}

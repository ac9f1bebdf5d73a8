//! `permit promote` on real git repositories made in temp dirs.

mod support;

use support::git::{stderr, stdout, Repo};

/// The demo with `env/staging` and `env/production` at `main`, and a new commit on `main`.
fn with_envs() -> Repo {
    let repo = Repo::init_demo();
    repo.git(&["branch", "env/staging", "main"]);
    repo.git(&["branch", "env/production", "main"]);
    repo.edit(
        "policy/directory.yaml",
        "  carol:\n",
        "  erin:\n    attributes: {department: sales, clearance: 1}\n  carol:\n",
    );
    repo.commit_all("add erin");
    repo
}

fn tags(repo: &Repo) -> Vec<String> {
    repo.git(&["tag", "--list", "permit/promote/*"])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn promote_fast_forwards_and_records_the_audit_entry() {
    let repo = with_envs();
    let main = repo.sha("main");
    let out = repo.permit(&["promote", "dev", "staging"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("fast-forward, 1 commit(s)"), "{text}");
    assert!(text.contains("add erin"), "{text}");
    assert!(
        text.contains("tests: 17 passed, 0 failed") || text.contains("passed, 0 failed"),
        "{text}"
    );
    assert_eq!(repo.sha("env/staging"), main);

    let tags = tags(&repo);
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert!(tags[0].starts_with("permit/promote/staging/"));
    assert_eq!(repo.sha(&format!("{}^{{commit}}", tags[0])), main);
    let audit = repo.git(&["tag", "-l", "--format=%(contents)", &tags[0]]);
    assert!(audit.contains("permit promote dev -> staging"), "{audit}");
    assert!(audit.contains("by: Tess Ter <tess@example.com>"), "{audit}");
    assert!(audit.contains("mode: fast-forward"), "{audit}");
    assert!(
        audit.contains(&format!("from: dev (main) at {main}")),
        "{audit}"
    );
    assert!(audit.contains(", 0 failed"), "{audit}");
    let reflog = repo.git(&["reflog", "show", "--format=%gs", "-n", "1", "env/staging"]);
    assert!(
        reflog.starts_with("permit promote dev -> staging: fast-forward"),
        "{reflog}"
    );

    // again: nothing to do
    let again = repo.permit(&["promote", "dev", "staging"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout(&again).contains("nothing to promote"));
}

#[test]
fn a_promotion_whose_tests_fail_moves_nothing() {
    let repo = with_envs();
    let before = repo.sha("env/staging");
    repo.edit(
        "policy/roles.yaml",
        r#"permissions: ["document:*"]"#,
        r#"permissions: ["document:read"]"#,
    );
    repo.commit_all("admins only read documents");
    let out = repo.permit(&["promote", "dev", "staging"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("promotion stopped: tests failed"), "{err}");
    assert!(err.contains("failed: "), "{err}");
    assert_eq!(repo.sha("env/staging"), before);
    assert!(tags(&repo).is_empty());
}

#[test]
fn an_invalid_model_stops_the_promotion() {
    let repo = with_envs();
    let before = repo.sha("env/staging");
    repo.edit("policy/roles.yaml", "extends: [viewer]", "extends: [viewr]");
    repo.commit_all("typo");
    let out = repo.permit(&["promote", "dev", "staging"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has 1 error(s); nothing was changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.sha("env/staging"), before);
}

#[test]
fn a_hotfix_on_the_target_blocks_a_plain_promote_and_merge_makes_a_merge_commit() {
    let repo = with_envs();
    let main = repo.sha("main");
    repo.git(&["checkout", "-q", "env/staging"]);
    repo.edit(
        "tests/documents.yaml",
        "defaults: {tenant: acme}",
        "defaults: {tenant: acme}  # hotfix",
    );
    let hotfix = repo.commit_all("hotfix on staging");
    repo.git(&["checkout", "-q", "main"]);

    let out = repo.permit(&["promote", "dev", "staging"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("has 1 commit(s) that `dev` lacks"), "{err}");
    assert!(err.contains("hotfix on staging"), "{err}");
    assert!(err.contains("--merge"), "{err}");
    assert_eq!(repo.sha("env/staging"), hotfix);

    let out = repo.permit(&["promote", "dev", "staging", "--merge"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let merged = repo.sha("env/staging");
    assert_eq!(repo.sha("env/staging^1"), hotfix);
    assert_eq!(repo.sha("env/staging^2"), main);
    let message = repo.git(&["log", "-1", "--format=%B", &merged]);
    assert!(message.contains("Permit-Promoted-From: dev"), "{message}");
}

#[test]
fn a_conflicting_merge_changes_nothing() {
    let repo = with_envs();
    repo.git(&["checkout", "-q", "env/staging"]);
    repo.edit(
        "policy/directory.yaml",
        "  carol:\n",
        "  zed:\n    attributes: {}\n  carol:\n",
    );
    let hotfix = repo.commit_all("conflicting hotfix");
    repo.git(&["checkout", "-q", "main"]);
    let out = repo.permit(&["promote", "dev", "staging", "--merge"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("conflicts in: policy/directory.yaml"),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.sha("env/staging"), hotfix);
    assert!(tags(&repo).is_empty());
}

#[test]
fn two_promotions_racing_cannot_lose_a_commit() {
    let repo = with_envs();
    let hold = repo.root().parent().unwrap().join("hold");
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin!("permit"))
            .current_dir(repo.root())
            .env("PERMIT_PROMOTE_HOLD", &hold)
            .args(["promote", "dev", "staging"])
            .output()
    };
    // Promotion A passes its gates and waits before the branch update; meanwhile someone
    // moves env/staging (a hotfix lands). A must fail and the hotfix must survive.
    let a = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let waiting = hold.with_extension("waiting");
        for _ in 0..600 {
            if waiting.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(waiting.exists(), "promotion never reached the update");
        repo.git(&["checkout", "-q", "env/staging"]);
        repo.write("NOTES.md", "hotfix\n");
        repo.commit_all("hotfix while promoting");
        repo.git(&["checkout", "-q", "main"]);
        std::fs::write(&hold, b"go").unwrap();
        a.join().unwrap().unwrap()
    });
    let hotfix = repo.sha("env/staging");
    assert_eq!(a.status.code(), Some(3), "{}", stderr(&a));
    assert!(stderr(&a).contains("moved from"), "{}", stderr(&a));
    assert!(stderr(&a).contains("nothing was changed"));
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", "env/staging"]),
        "hotfix while promoting"
    );
    assert!(tags(&repo).is_empty(), "the loser's audit tag is removed");

    // Two promotions of the same thing at once: exactly one wins.
    let repo = with_envs();
    let hold = repo.root().parent().unwrap().join("hold2");
    let run = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin!("permit"))
            .current_dir(repo.root())
            .env("PERMIT_PROMOTE_HOLD", &hold)
            .args(["promote", "dev", "staging"])
            .output()
            .unwrap()
    };
    let (x, y) = std::thread::scope(|s| {
        let x = s.spawn(run);
        let y = s.spawn(run);
        std::thread::sleep(std::time::Duration::from_millis(300));
        for _ in 0..600 {
            if hold.with_extension("waiting").exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // give the second one time to reach the hold too
        std::thread::sleep(std::time::Duration::from_millis(1500));
        std::fs::write(&hold, b"go").unwrap();
        (x.join().unwrap(), y.join().unwrap())
    });
    let codes = [x.status.code(), y.status.code()];
    assert!(
        codes.contains(&Some(0)),
        "{codes:?} {} {}",
        stderr(&x),
        stderr(&y)
    );
    assert_eq!(repo.sha("env/staging"), repo.sha("main"));
    let _ = hotfix;
}

#[test]
fn dry_run_shows_the_plan_and_changes_nothing() {
    let repo = with_envs();
    let before = repo.sha("env/staging");
    let out = repo.permit(&["promote", "dev", "staging", "--dry-run"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(text.contains("promote dev ("), "{text}");
    assert!(text.contains("add erin"), "{text}");
    assert!(text.contains("+ user `erin`"), "{text}");
    assert!(text.contains("tests: "), "{text}");
    assert!(text.contains("dry run: nothing was changed"), "{text}");
    assert_eq!(repo.sha("env/staging"), before);
    assert!(tags(&repo).is_empty());
}

#[test]
fn deny_widening_refuses_unless_allowed_and_the_audit_says_so() {
    let repo = with_envs();
    repo.edit(
        "policy/roles.yaml",
        r#"permissions: ["document:read", "folder:read"]"#,
        r#"permissions: ["document:read", "folder:read", "folder:create"]"#,
    );
    repo.commit_all("viewers create folders");
    assert_eq!(
        repo.permit(&["promote", "dev", "staging"]).status.code(),
        Some(0)
    );
    let before = repo.sha("env/production");
    let out = repo.permit(&["promote", "staging", "production"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("sets `deny_widening`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.sha("env/production"), before);

    let out = repo.permit(&["promote", "staging", "production", "--allow-widening"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let tag = tags(&repo)
        .into_iter()
        .find(|t| t.starts_with("permit/promote/production/"))
        .unwrap();
    let audit = repo.git(&["tag", "-l", "--format=%(contents)", &tag]);
    assert!(
        audit.contains("widens: yes, allowed with --allow-widening"),
        "{audit}"
    );
}

#[test]
fn promotions_follow_promote_from_and_name_real_environments() {
    let repo = with_envs();
    let out = repo.permit(&["promote", "dev", "production"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does not take promotions from `dev` (it promotes from `staging`)")
    );
    let out = repo.permit(&["promote", "dev", "stagign"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean `staging`?"));
    let out = repo.permit(&["promote", "dev", "staging", "--expect", "0000000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not the expected 0000000"));
    let main = repo.sha("main");
    let out = repo.permit(&["promote", "dev", "staging", "--expect", &main[..10]]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn promoting_into_the_checked_out_branch_updates_the_working_tree_or_refuses() {
    let repo = with_envs();
    repo.git(&["checkout", "-q", "env/staging"]);
    repo.write("scratch.txt", "local work\n");
    let before = repo.sha("env/staging");
    let out = repo.permit(&["promote", "dev", "staging"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("uncommitted changes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.sha("env/staging"), before);
    std::fs::remove_file(repo.path("scratch.txt")).unwrap();

    let out = repo.permit(&["promote", "dev", "staging"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(repo.sha("HEAD"), repo.sha("main"));
    assert!(repo.read("policy/directory.yaml").contains("erin"));
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn remote_pushes_the_branch_and_the_audit_tag() {
    let repo = with_envs();
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("origin.git");
    support::git::git(tmp.path(), &["init", "-q", "--bare", "origin.git"]);
    repo.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    let out = repo.permit(&["promote", "dev", "staging", "--remote", "origin"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        support::git::git(&bare, &["rev-parse", "env/staging"]),
        repo.sha("main")
    );
}

//! `permit check --staged` and `permit hook install|uninstall` on throwaway git repositories,
//! with real `git commit`s running the installed hook (which calls this build's binary).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use support::git::{stderr, stdout, Repo};

/// A model error: `editor` extends a role that does not exist (line 10 of `policy/roles.yaml`).
const BROKEN: (&str, &str) = ("extends: [viewer]", "extends: [viewr]");

/// `git ARGS` in `dir` with a fixed identity, returning the output whatever the status (a
/// commit the hook blocks fails).
fn git_in(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_AUTHOR_NAME", "Tess Ter")
        .env("GIT_AUTHOR_EMAIL", "tess@example.com")
        .env("GIT_COMMITTER_NAME", "Tess Ter")
        .env("GIT_COMMITTER_EMAIL", "tess@example.com")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .unwrap()
}

/// `git commit -m MESSAGE [EXTRA]` through the hooks: its output.
fn commit(repo: &Repo, extra: &[&str]) -> Output {
    let mut args = vec!["commit", "-q", "-m", "change"];
    args.extend_from_slice(extra);
    git_in(repo.root(), &args)
}

fn both(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

fn assert_code(o: &Output, code: i32, what: &str) {
    assert_eq!(o.status.code(), Some(code), "{what}:\n{}", both(o));
    assert!(
        !both(o).contains("panicked"),
        "{what} panicked:\n{}",
        both(o)
    );
}

fn hook_path(repo: &Repo) -> std::path::PathBuf {
    repo.path(".git/hooks/pre-commit")
}

fn install(repo: &Repo, extra: &[&str]) -> Output {
    let mut args = vec!["hook", "install"];
    args.extend_from_slice(extra);
    repo.permit(&args)
}

/// A hook of someone else's that records it ran and exits with `code`.
fn foreign_hook(repo: &Repo, code: i32) -> String {
    let text =
        format!("#!/bin/sh\necho ran >> \"$(git rev-parse --git-dir)/foreign-ran\"\nexit {code}\n");
    let p = hook_path(repo);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, &text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o750)).unwrap();
    text
}

#[test]
fn the_hook_blocks_a_commit_whose_staged_model_is_broken_even_when_the_working_tree_is_fixed() {
    let repo = Repo::init_demo();
    assert_code(&install(&repo, &[]), 0, "install");
    let head = repo.sha("HEAD");

    repo.edit("policy/roles.yaml", BROKEN.0, BROKEN.1);
    repo.git(&["add", "policy/roles.yaml"]);
    repo.edit("policy/roles.yaml", BROKEN.1, BROKEN.0);
    // the working tree is fine, so only reading the index can catch it
    assert_code(
        &repo.permit(&["check", "-q"]),
        0,
        "check of the working tree",
    );

    let out = commit(&repo, &[]);
    assert!(
        !out.status.success(),
        "the commit went through:\n{}",
        both(&out)
    );
    let text = both(&out);
    assert!(text.contains("policy/roles.yaml:10"), "{text}");
    assert!(text.contains("viewr"), "{text}");
    assert!(text.contains("commit blocked"), "{text}");
    assert_eq!(repo.sha("HEAD"), head, "HEAD moved");

    // the same through `check --staged` directly: exit 1, the staged line
    let out = repo.permit(&["check", "--staged", "--color", "never"]);
    assert_code(&out, 1, "check --staged");
    assert!(
        stderr(&out).contains("policy/roles.yaml:10"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_same_size_edit_after_staging_does_not_hide_the_staged_content() {
    // `viewer` -> `vxewer` keeps the file's size: only the times and the content tell the
    // working tree from the index
    let repo = Repo::init_demo();
    repo.edit("policy/roles.yaml", BROKEN.0, "extends: [vxewer]");
    repo.git(&["add", "policy/roles.yaml"]);
    repo.edit("policy/roles.yaml", "extends: [vxewer]", BROKEN.0);
    assert_code(
        &repo.permit(&["check", "-q"]),
        0,
        "check of the working tree",
    );
    let out = repo.permit(&["check", "--staged", "-q", "--color", "never"]);
    assert_code(&out, 1, "check --staged");
    assert!(stderr(&out).contains("vxewer"), "{}", stderr(&out));
}

#[test]
fn a_good_staged_model_is_committed_even_when_the_working_tree_is_broken() {
    let repo = Repo::init_demo();
    assert_code(&install(&repo, &[]), 0, "install");
    let head = repo.sha("HEAD");
    repo.edit("policy/roles.yaml", "name: Viewer", "name: Reader");
    repo.git(&["add", "policy/roles.yaml"]);
    repo.edit("policy/roles.yaml", BROKEN.0, BROKEN.1);

    let out = commit(&repo, &[]);
    assert_code(&out, 0, "commit of a good staged model");
    assert_ne!(repo.sha("HEAD"), head);
    assert!(repo
        .git(&["show", "HEAD:policy/roles.yaml"])
        .contains("name: Reader"));
}

#[test]
fn commit_all_checks_the_index_git_hands_the_hook() {
    // `git commit -a` stages into a temporary index named by GIT_INDEX_FILE: the broken working
    // tree is what gets committed, so it must be blocked although `.git/index` is fine
    let repo = Repo::init_demo();
    assert_code(&install(&repo, &[]), 0, "install");
    let head = repo.sha("HEAD");
    repo.edit("policy/roles.yaml", BROKEN.0, BROKEN.1);
    let out = commit(&repo, &["-a"]);
    assert!(
        !out.status.success(),
        "commit -a went through:\n{}",
        both(&out)
    );
    assert!(
        both(&out).contains("policy/roles.yaml:10"),
        "{}",
        both(&out)
    );
    assert_eq!(repo.sha("HEAD"), head);
    // and `git commit PATH` (another temporary index)
    let out = commit(&repo, &["policy/roles.yaml"]);
    assert!(
        !out.status.success(),
        "commit PATH went through:\n{}",
        both(&out)
    );
    assert_eq!(repo.sha("HEAD"), head);
}

#[test]
fn a_file_deleted_in_the_index_is_deleted_although_it_is_still_on_disk() {
    let repo = Repo::init_demo();
    // abac.yaml declares the attributes directory.yaml uses
    repo.git(&["rm", "-q", "--cached", "policy/abac.yaml"]);
    assert!(repo.path("policy/abac.yaml").is_file());
    assert_code(
        &repo.permit(&["check", "-q"]),
        0,
        "check of the working tree",
    );
    let out = repo.permit(&["check", "--staged", "--format", "json"]);
    assert_code(&out, 1, "check --staged");
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let diags = json["diagnostics"].as_array().unwrap();
    assert!(
        diags.iter().any(
            |d| d["code"] == "model::unknown-attribute" && d["file"] == "policy/directory.yaml"
        ),
        "{json:#}"
    );
    assert!(
        diags.iter().all(|d| d["file"] != "policy/abac.yaml"),
        "{json:#}"
    );
}

#[test]
fn staged_reads_permit_yaml_and_custom_rego_from_the_index_too() {
    let repo = Repo::init_demo();
    // permit.yaml points `custom` at a folder only the index has
    repo.edit("permit.yaml", "custom: custom", "custom: staged-custom");
    repo.write(
        "staged-custom/x.rego",
        "package permit.custom\n\nbroken :=\n",
    );
    repo.git(&["add", "permit.yaml", "staged-custom"]);
    std::fs::remove_dir_all(repo.path("staged-custom")).unwrap();
    repo.edit("permit.yaml", "custom: staged-custom", "custom: custom");
    let out = repo.permit(&["check", "--staged", "--format", "json"]);
    assert_code(&out, 1, "check --staged");
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "rego::parse" && d["file"] == "staged-custom/x.rego"),
        "{json:#}"
    );
}

#[test]
fn single_files_come_from_the_index_or_from_disk_outside_the_repository() {
    use permit::project::{Project, Revision};
    let repo = Repo::init_demo();
    std::fs::write(support::beside(&repo, "org-guard.yaml"), "rules: []\n").unwrap();
    repo.edit("policy/roles.yaml", "name: Viewer", "name: Reader");
    let staged = Project::open_at(repo.root(), &Revision::Index).unwrap();
    let roles = staged.file("policy/roles.yaml").unwrap().unwrap();
    assert_eq!(roles.name, "policy/roles.yaml");
    assert!(String::from_utf8_lossy(&roles.bytes).contains("name: Viewer"));
    assert!(staged.file("policy/nope.yaml").unwrap().is_none());
    let outside = staged.file("../org-guard.yaml").unwrap().unwrap();
    assert_eq!(outside.bytes, b"rules: []\n");
    let disk = Project::open_at(repo.root(), &Revision::WorkTree).unwrap();
    let roles = disk.file("policy/roles.yaml").unwrap().unwrap();
    assert!(String::from_utf8_lossy(&roles.bytes).contains("name: Reader"));
}

#[test]
fn folders_outside_the_repository_are_read_from_disk() {
    let repo = Repo::init_demo();
    let outside = support::beside(&repo, "org-custom");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        outside.join("org.rego"),
        "package permit.custom\n\nbroken :=\n",
    )
    .unwrap();
    repo.edit("permit.yaml", "custom: custom", "custom: ../org-custom");
    repo.git(&["add", "permit.yaml"]);
    let out = repo.permit(&["check", "--staged", "--format", "json"]);
    assert_code(&out, 1, "check --staged");
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "rego::parse" && d["file"] == "../org-custom/org.rego"),
        "{json:#}"
    );
}

#[test]
fn a_project_in_a_subfolder_is_checked_from_the_index_and_hooked_by_its_path() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mono");
    std::fs::create_dir_all(&root).unwrap();
    support::git::git(&root, &["init", "-q", "-b", "main"]);
    std::fs::write(root.join("README"), "monorepo\n").unwrap();
    let proj = root.join("services/authz");
    let out = assert_cmd::cargo::cargo_bin_cmd!("permit")
        .arg("init")
        .arg(&proj)
        .arg("-q")
        .output()
        .unwrap();
    assert_code(&out, 0, "init in a subfolder");
    support::git::git(&root, &["add", "-A"]);
    git_in(&root, &["commit", "-q", "-m", "init"]);

    let out = assert_cmd::cargo::cargo_bin_cmd!("permit")
        .current_dir(&proj)
        .args(["hook", "install"])
        .output()
        .unwrap();
    assert_code(&out, 0, "install from the subfolder");
    let hook = std::fs::read_to_string(root.join(".git/hooks/pre-commit")).unwrap();
    assert!(hook.contains("for dir in 'services/authz'; do"), "{hook}");

    let roles = proj.join("policy/roles.yaml");
    let good = std::fs::read_to_string(&roles).unwrap();
    std::fs::write(&roles, good.replace(BROKEN.0, BROKEN.1)).unwrap();
    support::git::git(&root, &["add", "-A"]);
    std::fs::write(&roles, &good).unwrap();

    // from the repository root (where git runs hooks) and from inside the project
    let out = git_in(&root, &["commit", "-q", "-m", "broken"]);
    assert!(!out.status.success(), "{}", both(&out));
    assert!(
        both(&out).contains("policy/roles.yaml:10"),
        "{}",
        both(&out)
    );
    let out = assert_cmd::cargo::cargo_bin_cmd!("permit")
        .current_dir(proj.join("policy"))
        .args(["check", "--staged", "-q"])
        .output()
        .unwrap();
    assert_code(&out, 1, "check --staged inside the project");
}

#[test]
fn staged_outside_a_git_repository_is_a_usage_error() {
    let tmp = support::init_demo();
    let dir = tmp.path().join("demo");
    let out = assert_cmd::cargo::cargo_bin_cmd!("permit")
        .current_dir(&dir)
        .args(["check", "--staged"])
        .output()
        .unwrap();
    assert_code(&out, 2, "check --staged without git");
    assert!(
        stderr(&out).contains("not in a git repository"),
        "{}",
        stderr(&out)
    );
    let out = assert_cmd::cargo::cargo_bin_cmd!("permit")
        .current_dir(&dir)
        .args(["hook", "install"])
        .output()
        .unwrap();
    assert_code(&out, 2, "hook install without git");
}

#[test]
fn an_unstaged_permit_yaml_is_a_usage_error_naming_it() {
    let repo = Repo::init_demo();
    repo.git(&["rm", "-q", "--cached", "permit.yaml"]);
    let out = repo.permit(&["check", "--staged"]);
    assert_code(&out, 2, "check --staged without a staged permit.yaml");
    assert!(
        stderr(&out).contains("`permit.yaml` is not staged"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn install_twice_is_idempotent() {
    let repo = Repo::init_demo();
    assert_code(&install(&repo, &[]), 0, "install");
    let first = std::fs::read(hook_path(&repo)).unwrap();
    let mode = std::fs::metadata(hook_path(&repo))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let out = install(&repo, &[]);
    assert_code(&out, 0, "install again");
    assert!(
        stdout(&out).contains("already installed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(std::fs::read(hook_path(&repo)).unwrap(), first);
    let names: Vec<String> = std::fs::read_dir(repo.path(".git/hooks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pre-commit") && !n.ends_with(".sample"))
        .collect();
    assert_eq!(names, ["pre-commit"], "leftover files");
}

#[test]
fn a_foreign_hook_is_refused_then_chained_then_restored() {
    let repo = Repo::init_demo();
    let text = foreign_hook(&repo, 1);

    let out = install(&repo, &[]);
    assert_code(&out, 2, "install over a foreign hook");
    let err = stderr(&out);
    assert!(err.contains(".git/hooks/pre-commit"), "{err}");
    assert!(err.contains("--chain") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(hook_path(&repo)).unwrap(), text);

    assert_code(&install(&repo, &["--chain"]), 0, "install --chain");
    let local = repo.path(".git/hooks/pre-commit.local");
    assert_eq!(std::fs::read_to_string(&local).unwrap(), text);
    let mode = std::fs::metadata(&local).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o750, "the chained hook keeps its mode");

    // the foreign hook fails: the commit is blocked though the model is fine
    let head = repo.sha("HEAD");
    repo.edit("policy/roles.yaml", "name: Viewer", "name: Reader");
    repo.git(&["add", "policy/roles.yaml"]);
    let out = commit(&repo, &[]);
    assert!(!out.status.success(), "{}", both(&out));
    assert_eq!(repo.sha("HEAD"), head);
    assert!(repo.path(".git/foreign-ran").is_file());

    // the foreign hook passes: both run and the commit goes through
    foreign_hook_in_place(&local, 0);
    let out = commit(&repo, &[]);
    assert_code(&out, 0, "commit with both hooks passing");
    assert_ne!(repo.sha("HEAD"), head);
    let runs = std::fs::read_to_string(repo.path(".git/foreign-ran")).unwrap();
    assert_eq!(runs.lines().count(), 2);

    // installing again keeps the chain
    assert_code(&install(&repo, &[]), 0, "install again");
    assert!(local.is_file());

    let out = repo.permit(&["hook", "uninstall"]);
    assert_code(&out, 0, "uninstall");
    assert!(!local.exists());
    assert!(std::fs::read_to_string(hook_path(&repo))
        .unwrap()
        .contains("exit 0"));
    // and uninstall again leaves the foreign hook alone
    let out = repo.permit(&["hook", "uninstall"]);
    assert_code(&out, 2, "uninstall of a foreign hook");
    assert!(hook_path(&repo).is_file());
}

fn foreign_hook_in_place(path: &Path, code: i32) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, text.replace("exit 1", &format!("exit {code}"))).unwrap();
}

#[test]
fn force_replaces_a_foreign_hook_and_keeps_a_backup() {
    let repo = Repo::init_demo();
    let text = foreign_hook(&repo, 1);
    assert_code(&install(&repo, &["--force"]), 0, "install --force");
    assert_eq!(
        std::fs::read_to_string(repo.path(".git/hooks/pre-commit.bak")).unwrap(),
        text
    );
    repo.edit("policy/roles.yaml", "name: Viewer", "name: Reader");
    repo.git(&["add", "policy/roles.yaml"]);
    assert_code(
        &commit(&repo, &[]),
        0,
        "commit (the foreign hook no longer runs)",
    );
    assert!(!repo.path(".git/foreign-ran").exists());
    // uninstall removes our hook and nothing else
    assert_code(&repo.permit(&["hook", "uninstall"]), 0, "uninstall");
    assert!(!hook_path(&repo).exists());
    assert!(repo.path(".git/hooks/pre-commit.bak").is_file());
}

#[test]
fn install_follows_core_hooks_path() {
    let repo = Repo::init_demo();
    repo.git(&["config", "core.hooksPath", "githooks"]);
    assert_code(&install(&repo, &[]), 0, "install");
    assert!(repo.path("githooks/pre-commit").is_file());
    assert!(!hook_path(&repo).exists());
    repo.edit("policy/roles.yaml", BROKEN.0, BROKEN.1);
    repo.git(&["add", "policy/roles.yaml"]);
    assert!(!commit(&repo, &[]).status.success());
}

#[test]
fn a_linked_worktree_shares_the_hook_of_the_main_one() {
    let repo = Repo::init_demo();
    let wt = support::beside(&repo, "wt");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "feature",
        wt.to_str().unwrap(),
    ]);
    let out = assert_cmd::cargo::cargo_bin_cmd!("permit")
        .current_dir(&wt)
        .args(["hook", "install"])
        .output()
        .unwrap();
    assert_code(&out, 0, "install from the linked worktree");
    assert!(hook_path(&repo).is_file(), "not in the common hooks folder");

    let roles = wt.join("policy/roles.yaml");
    let good = std::fs::read_to_string(&roles).unwrap();
    std::fs::write(&roles, good.replace(BROKEN.0, BROKEN.1)).unwrap();
    support::git::git(&wt, &["add", "policy/roles.yaml"]);
    let head = support::git::git(&wt, &["rev-parse", "HEAD"]);
    let out = git_in(&wt, &["commit", "-q", "-m", "broken"]);
    assert!(!out.status.success(), "{}", both(&out));
    assert_eq!(support::git::git(&wt, &["rev-parse", "HEAD"]), head);
}

#[test]
fn the_hook_falls_back_to_permit_on_path_when_the_recorded_binary_is_gone() {
    let repo = Repo::init_demo();
    assert_code(&install(&repo, &[]), 0, "install");
    let hook = hook_path(&repo);
    let text = std::fs::read_to_string(&hook).unwrap();
    let real = Path::new(env!("CARGO_BIN_EXE_permit"));
    std::fs::write(
        &hook,
        text.replace(real.to_str().unwrap(), "/nonexistent/permit"),
    )
    .unwrap();
    repo.edit("policy/roles.yaml", BROKEN.0, BROKEN.1);
    repo.git(&["add", "policy/roles.yaml"]);

    // on PATH: it is used
    let path = format!(
        "{}:{}",
        real.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("git")
        .arg("-C")
        .arg(repo.root())
        .args(["commit", "-q", "-m", "broken"])
        .env("PATH", &path)
        .env("GIT_AUTHOR_NAME", "Tess Ter")
        .env("GIT_AUTHOR_EMAIL", "tess@example.com")
        .env("GIT_COMMITTER_NAME", "Tess Ter")
        .env("GIT_COMMITTER_EMAIL", "tess@example.com")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        both(&out).contains("policy/roles.yaml:10"),
        "{}",
        both(&out)
    );

    // nowhere: the commit is blocked with a message saying so
    let git = which("git");
    let bare_path = git.parent().unwrap().display().to_string();
    let out = Command::new(&git)
        .arg("-C")
        .arg(repo.root())
        .args(["commit", "-q", "-m", "broken"])
        .env("PATH", format!("{bare_path}:/bin:/usr/bin"))
        .env("GIT_AUTHOR_NAME", "Tess Ter")
        .env("GIT_AUTHOR_EMAIL", "tess@example.com")
        .env("GIT_COMMITTER_NAME", "Tess Ter")
        .env("GIT_COMMITTER_EMAIL", "tess@example.com")
        .output()
        .unwrap();
    if !Path::new("/bin/permit").exists() && !Path::new("/usr/bin/permit").exists() {
        assert!(!out.status.success());
        assert!(
            both(&out).contains("cannot find `permit`"),
            "{}",
            both(&out)
        );
    }
}

/// The absolute path of `tool` on PATH.
fn which(tool: &str) -> std::path::PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .unwrap();
    std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

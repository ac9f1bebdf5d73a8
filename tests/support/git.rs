//! Throwaway git repositories holding a `permit init` project, driven with the system `git`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A temp repository whose root is a fresh `permit init` project, committed on `main`.
pub struct Repo {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

/// Runs git in `dir` and returns its stdout; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Tess Ter",
            "-c",
            "user.email=tess@example.com",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Repo {
    pub fn init_demo() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        let out = assert_cmd::cargo::cargo_bin_cmd!("permit")
            .arg("init")
            .arg(&dir)
            .arg("-q")
            .output()
            .unwrap();
        assert!(out.status.success(), "permit init failed: {out:?}");
        let repo = Repo { _tmp: tmp, dir };
        repo.git(&["checkout", "-q", "-B", "main"]);
        repo.commit_all("init");
        repo
    }

    /// Runs git in the repository and returns its stdout; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.dir, args)
    }

    pub fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.sha("HEAD")
    }

    pub fn sha(&self, rev: &str) -> String {
        self.git(&["rev-parse", rev])
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Replaces `from` with `to` in file `rel` (which must contain it).
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "`{from}` not in {rel}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    /// `permit` run in the repository.
    pub fn permit(&self, args: &[&str]) -> std::process::Output {
        assert_cmd::cargo::cargo_bin_cmd!("permit")
            .current_dir(&self.dir)
            .env("GIT_AUTHOR_NAME", "Tess Ter")
            .env("GIT_COMMITTER_NAME", "Tess Ter")
            .env("GIT_AUTHOR_EMAIL", "tess@example.com")
            .env("GIT_COMMITTER_EMAIL", "tess@example.com")
            .args(args)
            .output()
            .unwrap()
    }

    pub fn root(&self) -> &Path {
        &self.dir
    }
}

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

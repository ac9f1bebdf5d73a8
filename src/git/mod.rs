//! The one place that talks to git2: reading files at a ref without checking it out.

use crate::error::Error;
use std::path::{Path, PathBuf};

/// A git repository holding a permit project, possibly in a subfolder.
pub struct Repo {
    repo: git2::Repository,
    /// The project folder relative to the repository root, `/`-separated ("" at the root).
    prefix: String,
}

fn git_error(what: &str, e: git2::Error) -> Error {
    Error::Environment(format!("{what}: {}", e.message()))
}

impl Repo {
    /// Opens the repository containing `project_root`.
    pub fn open(project_root: &Path) -> Result<Repo, Error> {
        let repo = git2::Repository::discover(project_root).map_err(|e| {
            Error::Environment(format!(
                "`{}` is not in a git repository ({})",
                project_root.display(),
                e.message()
            ))
        })?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| Error::Environment("the repository has no working tree".into()))?
            .canonicalize()
            .map_err(|e| Error::io(Path::new("."), e))?;
        let root = project_root
            .canonicalize()
            .map_err(|e| Error::io(project_root, e))?;
        let prefix = root
            .strip_prefix(&workdir)
            .unwrap_or(Path::new(""))
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        Ok(Repo { repo, prefix })
    }

    fn full(&self, rel: &str) -> String {
        let rel = rel.trim_start_matches("./").trim_end_matches('/');
        match (self.prefix.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{rel}", self.prefix),
        }
    }

    /// The commit `rev` names (a branch, tag, `origin/main`, a SHA, `HEAD~1`, ...).
    pub fn commit(&self, rev: &str) -> Result<git2::Commit<'_>, Error> {
        let obj = self.repo.revparse_single(rev).map_err(|e| {
            Error::Environment(format!(
                "cannot find `{rev}` in the repository ({})",
                e.message()
            ))
        })?;
        obj.peel_to_commit()
            .map_err(|e| git_error(&format!("`{rev}` is not a commit"), e))
    }

    /// The full SHA of `rev`.
    pub fn sha(&self, rev: &str) -> Result<String, Error> {
        Ok(self.commit(rev)?.id().to_string())
    }

    /// A file of the project at `rev` (path relative to the project root), if present.
    pub fn read(&self, rev: &str, rel: &str) -> Result<Option<Vec<u8>>, Error> {
        let tree = self
            .commit(rev)?
            .tree()
            .map_err(|e| git_error("cannot read tree", e))?;
        let entry = match tree.get_path(Path::new(&self.full(rel))) {
            Ok(e) => e,
            Err(_) => return Ok(None),
        };
        let obj = entry
            .to_object(&self.repo)
            .map_err(|e| git_error("cannot read object", e))?;
        Ok(obj.as_blob().map(|b| b.content().to_vec()))
    }

    /// Every file below folder `rel` at `rev` whose name ends with one of `exts`, sorted by path;
    /// paths are relative to the project root. A missing folder gives `None`.
    pub fn files(
        &self,
        rev: &str,
        rel: &str,
        exts: &[&str],
    ) -> Result<Option<Vec<(PathBuf, Vec<u8>)>>, Error> {
        let tree = self
            .commit(rev)?
            .tree()
            .map_err(|e| git_error("cannot read tree", e))?;
        let full = self.full(rel);
        let sub = if full.is_empty() {
            tree
        } else {
            let Ok(entry) = tree.get_path(Path::new(&full)) else {
                return Ok(None);
            };
            match entry
                .to_object(&self.repo)
                .ok()
                .and_then(|o| o.into_tree().ok())
            {
                Some(t) => t,
                None => return Ok(None),
            }
        };
        let mut out = Vec::new();
        let mut failed = None;
        sub.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            let name = entry.name().unwrap_or_default();
            if name.starts_with('.') {
                return git2::TreeWalkResult::Skip;
            }
            if entry.kind() == Some(git2::ObjectType::Blob)
                && exts.iter().any(|e| name.ends_with(e))
            {
                match entry.to_object(&self.repo) {
                    Ok(obj) => {
                        if let Some(blob) = obj.as_blob() {
                            let path = Path::new(rel.trim_end_matches('/')).join(dir).join(name);
                            out.push((path, blob.content().to_vec()));
                        }
                    }
                    Err(e) => {
                        failed = Some(e);
                        return git2::TreeWalkResult::Abort;
                    }
                }
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|e| git_error("cannot walk tree", e))?;
        if let Some(e) = failed {
            return Err(git_error("cannot read object", e));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Some(out))
    }

    /// Whether the working tree differs from HEAD under the project folder (untracked included).
    pub fn is_dirty(&self) -> Result<bool, Error> {
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true).recurse_untracked_dirs(true);
        if !self.prefix.is_empty() {
            opts.pathspec(&self.prefix);
        }
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(|e| git_error("cannot read status", e))?;
        Ok(!statuses.is_empty())
    }
}

//! Where git looks for hooks, as `git rev-parse --git-path hooks` answers it.

use super::{git_error, Repo};
use crate::error::Error;
use std::path::PathBuf;

impl Repo {
    /// The folder git runs this repository's hooks from: `core.hooksPath` when set (a relative
    /// one is relative to the working tree root, where git runs hooks), else `hooks/` in the
    /// common git folder, which linked worktrees share with the main one.
    pub fn hooks_dir(&self) -> Result<PathBuf, Error> {
        let config = self
            .repo
            .config()
            .and_then(|mut c| c.snapshot())
            .map_err(|e| git_error("cannot read the git config", e))?;
        let default = || self.repo.commondir().join("hooks");
        match config.get_path("core.hooksPath") {
            Ok(p) if p.as_os_str().is_empty() => Ok(default()),
            Ok(p) if p.is_absolute() => Ok(p),
            Ok(p) => Ok(self.workdir.join(p)),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(default()),
            Err(e) => Err(git_error("cannot read `core.hooksPath`", e)),
        }
    }

    /// The working tree's root (canonical).
    pub fn workdir(&self) -> &std::path::Path {
        &self.workdir
    }
}

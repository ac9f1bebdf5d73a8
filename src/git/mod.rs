//! The one place that talks to git2: reading files at a ref without checking it out, or as
//! staged in the index (`index.rs`), and where the repository keeps its hooks (`hooks.rs`).

mod hooks;
mod index;
mod stat;

pub use index::IndexFolder;

use crate::error::Error;
use std::path::{Path, PathBuf};

/// A git repository holding a permit project, possibly in a subfolder.
pub struct Repo {
    repo: git2::Repository,
    /// The working tree's root, canonical.
    workdir: PathBuf,
    /// The project folder relative to the repository root, `/`-separated ("" at the root).
    prefix: String,
}

fn git_error(what: &str, e: git2::Error) -> Error {
    Error::Environment(format!("{what}: {}", e.message()))
}

impl Repo {
    /// Opens the repository containing `project_root`.
    pub fn open(project_root: &Path) -> Result<Repo, Error> {
        Self::try_open(project_root)?.ok_or_else(|| {
            Error::Environment(format!(
                "`{}` is not in a git repository",
                project_root.display()
            ))
        })
    }

    /// Opens the repository containing `project_root`; `None` when there is none (the caller
    /// decides whether that is the user's mistake), `Err` when one exists but cannot be opened.
    pub fn try_open(project_root: &Path) -> Result<Option<Repo>, Error> {
        skip_read_hashing();
        let repo = match git2::Repository::discover(project_root) {
            Ok(r) => r,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Environment(format!(
                    "cannot open the git repository of `{}` ({})",
                    project_root.display(),
                    e.message()
                )))
            }
        };
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
        Ok(Some(Repo {
            repo,
            workdir,
            prefix,
        }))
    }

    /// The project folder relative to the repository root, `/`-separated ("" at the root).
    pub fn prefix(&self) -> &str {
        &self.prefix
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
            let hint = if self.repo.is_shallow() {
                "; this is a shallow clone, so it may not have been fetched: fetch more history \
                 (`git fetch --unshallow`, or `fetch-depth: 0` in actions/checkout)"
            } else {
                ""
            };
            Error::Environment(format!(
                "cannot find `{rev}` in the repository ({}){hint}",
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
        self.dirty(Some(self.prefix.as_str()).filter(|p| !p.is_empty()))
    }

    /// Whether anything below `pathspec` (the whole repository for `None`) differs from HEAD.
    fn dirty(&self, pathspec: Option<&str>) -> Result<bool, Error> {
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true).recurse_untracked_dirs(true);
        if let Some(p) = pathspec {
            opts.pathspec(p);
        }
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(|e| git_error("cannot read status", e))?;
        Ok(!statuses.is_empty())
    }
}

/// Why a branch update did not happen.
#[derive(Debug)]
pub enum UpdateError {
    /// The branch no longer points where the caller saw it (someone moved it meanwhile).
    Moved {
        now: String,
    },
    Git(Error),
}

impl Repo {
    /// The commit a local branch points at, if the branch exists.
    pub fn branch_tip(&self, branch: &str) -> Option<String> {
        self.repo
            .find_reference(&format!("refs/heads/{branch}"))
            .ok()
            .and_then(|r| r.target())
            .map(|o| o.to_string())
    }

    /// Whether `rev` names something in the repository.
    pub fn exists(&self, rev: &str) -> bool {
        self.repo.revparse_single(rev).is_ok()
    }

    fn oid(&self, sha: &str) -> Result<git2::Oid, Error> {
        git2::Oid::from_str(sha).map_err(|e| git_error(&format!("`{sha}` is not a SHA"), e))
    }

    /// Whether commit `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, Error> {
        let (a, d) = (self.oid(ancestor)?, self.oid(descendant)?);
        if a == d {
            return Ok(true);
        }
        self.repo
            .graph_descendant_of(d, a)
            .map_err(|e| git_error("cannot compare commits", e))
    }

    /// The commits reachable from `to` and not from `from`, newest first: (SHA, subject).
    pub fn commits_between(&self, from: &str, to: &str) -> Result<Vec<(String, String)>, Error> {
        let mut walk = self
            .repo
            .revwalk()
            .map_err(|e| git_error("cannot walk history", e))?;
        let (to, from) = (self.oid(to)?, self.oid(from)?);
        walk.push(to)
            .and_then(|_| walk.hide(from))
            .map_err(|e| git_error("cannot walk history", e))?;
        let mut out = Vec::new();
        for oid in walk {
            let oid = oid.map_err(|e| git_error("cannot walk history", e))?;
            let c = self
                .repo
                .find_commit(oid)
                .map_err(|e| git_error("cannot read commit", e))?;
            out.push((
                oid.to_string(),
                String::from_utf8_lossy(c.summary_bytes().unwrap_or_default()).into_owned(),
            ));
        }
        Ok(out)
    }

    /// Who is acting, for commits, tags and audit records: `GIT_COMMITTER_NAME`/`_EMAIL` (as
    /// git reads them), else git's `user.name`/`user.email`, else `$USER`.
    pub fn signature(&self) -> Result<git2::Signature<'static>, Error> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let (Some(name), Some(email)) = (env("GIT_COMMITTER_NAME"), env("GIT_COMMITTER_EMAIL")) {
            return git2::Signature::now(&name, &email)
                .map_err(|e| git_error("cannot make a signature", e));
        }
        self.repo
            .signature()
            .or_else(|_| {
                let user = std::env::var("USER").unwrap_or_else(|_| "permit".into());
                git2::Signature::now(&user, &format!("{user}@localhost"))
            })
            .map_err(|e| git_error("cannot make a signature", e))
    }

    /// Makes (without moving any branch) a merge commit of `theirs` into `ours`. `Ok(Err(paths))`
    /// lists the conflicting paths when the merge is not clean.
    pub fn merge_commit(
        &self,
        ours: &str,
        theirs: &str,
        message: &str,
    ) -> Result<Result<String, Vec<String>>, Error> {
        let (o, t) = (
            self.repo
                .find_commit(self.oid(ours)?)
                .map_err(|e| git_error("cannot read commit", e))?,
            self.repo
                .find_commit(self.oid(theirs)?)
                .map_err(|e| git_error("cannot read commit", e))?,
        );
        let mut index = self
            .repo
            .merge_commits(&o, &t, None)
            .map_err(|e| git_error("cannot merge", e))?;
        if index.has_conflicts() {
            let mut paths: Vec<String> = index
                .conflicts()
                .map_err(|e| git_error("cannot read conflicts", e))?
                .filter_map(|c| c.ok())
                .filter_map(|c| c.our.or(c.their).or(c.ancestor))
                .map(|e| String::from_utf8_lossy(&e.path).into_owned())
                .collect();
            paths.sort();
            paths.dedup();
            return Ok(Err(paths));
        }
        let tree_id = index
            .write_tree_to(&self.repo)
            .map_err(|e| git_error("cannot write the merged tree", e))?;
        let tree = self
            .repo
            .find_tree(tree_id)
            .map_err(|e| git_error("cannot read the merged tree", e))?;
        let sig = self.signature()?;
        let id = self
            .repo
            .commit(None, &sig, &sig, message, &tree, &[&o, &t])
            .map_err(|e| git_error("cannot write the merge commit", e))?;
        Ok(Ok(id.to_string()))
    }

    /// Moves local branch `branch` from `expected` to `new` only if it still points at
    /// `expected` (compare-and-swap); `message` goes to the reflog.
    pub fn update_branch(
        &self,
        branch: &str,
        new: &str,
        expected: &str,
        message: &str,
    ) -> Result<(), UpdateError> {
        let name = format!("refs/heads/{branch}");
        let (new_id, old_id) = match (self.oid(new), self.oid(expected)) {
            (Ok(n), Ok(o)) => (n, o),
            (Err(e), _) | (_, Err(e)) => return Err(UpdateError::Git(e)),
        };
        match self
            .repo
            .reference_matching(&name, new_id, true, old_id, message)
        {
            Ok(_) => Ok(()),
            Err(e) => match self.branch_tip(branch) {
                Some(now) if now != expected => Err(UpdateError::Moved { now }),
                _ => Err(UpdateError::Git(git_error(
                    &format!("cannot update `{branch}`"),
                    e,
                ))),
            },
        }
    }

    /// The branch HEAD is on, if HEAD is not detached.
    pub fn head_branch(&self) -> Option<String> {
        let head = self.repo.head().ok()?;
        if !head.is_branch() {
            return None;
        }
        head.shorthand().ok().map(str::to_string)
    }

    /// Whether anything in the working tree (the whole repository) differs from HEAD.
    pub fn worktree_dirty(&self) -> Result<bool, Error> {
        self.dirty(None)
    }

    /// Updates the working tree and index to commit `sha` (HEAD is not moved). Safe: refuses
    /// rather than overwrite local changes.
    pub fn checkout(&self, sha: &str) -> Result<(), Error> {
        let commit = self
            .repo
            .find_commit(self.oid(sha)?)
            .map_err(|e| git_error("cannot read commit", e))?;
        let mut opts = git2::build::CheckoutBuilder::new();
        opts.safe();
        self.repo
            .checkout_tree(commit.as_object(), Some(&mut opts))
            .map_err(|e| git_error("cannot update the working tree", e))
    }

    /// Creates annotated tag `name` on `sha` with `message` (never replaces one).
    pub fn tag(&self, name: &str, sha: &str, message: &str) -> Result<(), Error> {
        let obj = self
            .repo
            .find_object(self.oid(sha)?, None)
            .map_err(|e| git_error("cannot read commit", e))?;
        let sig = self.signature()?;
        self.repo
            .tag(name, &obj, &sig, message, false)
            .map(|_| ())
            .map_err(|e| git_error(&format!("cannot create tag `{name}`"), e))
    }

    /// Deletes tag `name` (to take back an audit tag whose promotion did not happen).
    pub fn delete_tag(&self, name: &str) -> Result<(), Error> {
        self.repo
            .tag_delete(name)
            .map_err(|e| git_error(&format!("cannot delete tag `{name}`"), e))
    }

    /// Another repository (bare or with a working tree), read from its root: e.g. the
    /// guards an organisation keeps in one place.
    pub fn open_other(path: &Path) -> Result<Repo, Error> {
        skip_read_hashing();
        let repo = git2::Repository::open(path).map_err(|e| {
            Error::Environment(format!(
                "`{}` is not a git repository ({})",
                path.display(),
                e.message()
            ))
        })?;
        let workdir = repo.workdir().unwrap_or(repo.path()).to_path_buf();
        Ok(Repo {
            repo,
            workdir,
            prefix: String::new(),
        })
    }

    /// A bare mirror of the repository at `url`, kept in `cache` and fetched now (branches
    /// under `origin/`, tags, and the remote's HEAD). A failed fetch is an error: guards read
    /// from a stale copy would be a silent downgrade.
    pub fn fetch_mirror(url: &str, cache: &Path) -> Result<Repo, Error> {
        let repo = match git2::Repository::open_bare(cache) {
            Ok(r) => r,
            Err(_) => {
                std::fs::create_dir_all(cache).map_err(|e| Error::io(cache, e))?;
                git2::Repository::init_bare(cache)
                    .map_err(|e| git_error("cannot create the guard repository cache", e))?
            }
        };
        {
            let mut remote = repo
                .remote_anonymous(url)
                .map_err(|e| git_error(&format!("cannot use `{url}`"), e))?;
            remote
                .fetch(
                    &[
                        "+refs/heads/*:refs/remotes/origin/*",
                        "+refs/tags/*:refs/tags/*",
                        "+HEAD:refs/remotes/origin/HEAD",
                    ],
                    None,
                    None,
                )
                .map_err(|e| git_error(&format!("cannot fetch `{url}`"), e))?;
        }
        let workdir = repo.workdir().unwrap_or(repo.path()).to_path_buf();
        Ok(Repo {
            repo,
            workdir,
            prefix: String::new(),
        })
    }

    /// `rev` in a mirror made by [`Repo::fetch_mirror`]: a fetched branch, else a tag or SHA.
    pub fn mirror_rev(&self, rev: &str) -> String {
        let branch = format!("refs/remotes/origin/{rev}");
        if self.exists(&branch) {
            branch
        } else {
            rev.to_string()
        }
    }
}

/// libgit2 re-hashes every object it reads (SHA-1 with collision detection) to check it matches
/// its id; `git` itself does that only in `fsck`. A diff of the large model reads ~60 MB of
/// blobs, and the hashing was about a tenth of reading them, so it is turned off once, for the
/// process. Corruption is still caught by zlib's checksum on every read.
fn skip_read_hashing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| git2::opts::strict_hash_verification(false));
}

//! Reading the index (the staging area): the content `git commit` is about to record, for
//! `permit check --staged`. Only reads: it never writes the index or the working tree.
//!
//! During a commit git hands hooks the index it is building in `GIT_INDEX_FILE` (`git commit
//! -a` and `git commit PATH` use a temporary one), so that variable wins over `.git/index`.

use super::{git_error, stat, Repo};
use crate::error::Error;
use std::path::{Component, Path, PathBuf};

/// A folder of the project as the index has it.
#[derive(Debug)]
pub enum IndexFolder {
    /// The folder lies outside the repository (e.g. `guards: [../org-guards]`): git does not
    /// stage it, so the caller reads it from disk.
    Outside,
    /// No staged file lies below it (the index has no folders of its own).
    Missing,
    /// The matching files, sorted by path, paths relative to the project root.
    Files(Vec<(PathBuf, Vec<u8>)>),
}

/// Regular files (either permission) are what a commit records as file content.
fn is_file_mode(mode: u32) -> bool {
    mode & 0o170000 == 0o100000
}

fn is_symlink_mode(mode: u32) -> bool {
    mode & 0o170000 == 0o120000
}

/// The merge stage of an index entry (0 unless the path has a conflict).
fn stage(entry: &git2::IndexEntry) -> u16 {
    (entry.flags >> 12) & 0x3
}

/// `git add -N` entries stand for files that are not staged yet: a commit skips them.
fn intent_to_add(entry: &git2::IndexEntry) -> bool {
    git2::IndexEntryExtendedFlag::from_bits_truncate(entry.flags_extended).is_intent_to_add()
}

impl Repo {
    /// The index a commit would record: `$GIT_INDEX_FILE` when set (git sets it for hooks; a
    /// relative path is relative to the current directory, as git means it), else the
    /// repository's own.
    /// With it, when it was last written (see `stat`).
    fn staged_index(&self) -> Result<(git2::Index, Option<(i64, u32)>), Error> {
        match std::env::var_os("GIT_INDEX_FILE").filter(|v| !v.is_empty()) {
            Some(path) => {
                let path = PathBuf::from(path);
                // libgit2 opens a missing file as an empty index, which would read as "every
                // file deleted": say what is wrong instead
                if !path.is_file() {
                    return Err(Error::Environment(format!(
                        "`GIT_INDEX_FILE` names `{}`, which does not exist",
                        path.display()
                    )));
                }
                let index = git2::Index::open(&path).map_err(|e| {
                    git_error(&format!("cannot read the index `{}`", path.display()), e)
                })?;
                Ok((index, stat::mtime(&path)))
            }
            None => {
                let index = self
                    .repo
                    .index()
                    .map_err(|e| git_error("cannot read the index", e))?;
                Ok((index, stat::mtime(&self.repo.path().join("index"))))
            }
        }
    }

    /// Where `rel` (relative to the project root; may climb with `..` or be absolute) is in the
    /// repository, `/`-separated ("" for the root); `None` when it lies outside it.
    pub fn repo_path(&self, rel: &str) -> Option<String> {
        let rel = Path::new(rel);
        let mut parts: Vec<String> = if rel.is_absolute() {
            Vec::new()
        } else {
            self.prefix
                .split('/')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        };
        let rel = if rel.is_absolute() {
            // compared lexically with the canonical working tree, as the relative case is
            rel.strip_prefix(&self.workdir).ok()?
        } else {
            rel
        };
        for c in rel.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    parts.pop()?;
                }
                Component::Normal(p) => parts.push(p.to_str()?.to_string()),
                Component::RootDir | Component::Prefix(_) => return None,
            }
        }
        Some(parts.join("/"))
    }

    /// A staged file of the project (path relative to the project root), if staged.
    pub fn index_read(&self, rel: &str) -> Result<Option<Vec<u8>>, Error> {
        let Some(path) = self.repo_path(rel) else {
            return Ok(None);
        };
        let (index, written) = self.staged_index()?;
        let Ok(at) = index.find_prefix(path.as_str()) else {
            return Ok(None);
        };
        let mut pos = at;
        while let Some(entry) = index.get(pos) {
            if entry.path != path.as_bytes() {
                break;
            }
            if stage(&entry) != 0 {
                return Err(conflict(&path));
            }
            if !intent_to_add(&entry) {
                return Staged::new(&entry, PathBuf::new(), path, written)
                    .read(&self.repo, &self.workdir)
                    .map(Some);
            }
            pos += 1;
        }
        Ok(None)
    }

    /// Every staged file below folder `rel` (relative to the project root) whose name ends with
    /// one of `exts`, skipping hidden entries, sorted by path: what `Project::files` gives for
    /// the working tree, read from the index. A file deleted in the index is absent even when it
    /// is still on disk.
    pub fn index_files(&self, rel: &str, exts: &[&str]) -> Result<IndexFolder, Error> {
        let Some(folder) = self.repo_path(rel) else {
            return Ok(IndexFolder::Outside);
        };
        let (index, written) = self.staged_index()?;
        let prefix = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        // entries are sorted by path, so the folder is one run starting at the first match
        // (case-insensitively on file systems where git ignores case: `POLICY/x` may sit
        // inside the run and is skipped, not taken for its end)
        let Ok(start) = index.find_prefix(prefix.as_str()) else {
            return Ok(IndexFolder::Missing);
        };
        let base = Path::new(rel.trim_end_matches('/'));
        let mut any = false;
        let mut out = Vec::new();
        let mut pos = start;
        while let Some(entry) = index.get(pos) {
            pos += 1;
            let head = entry.path.get(..prefix.len()).unwrap_or_default();
            if !head.eq_ignore_ascii_case(prefix.as_bytes()) {
                break;
            }
            let Some(sub) = entry.path.strip_prefix(prefix.as_bytes()) else {
                continue;
            };
            if intent_to_add(&entry) {
                continue;
            }
            any = true;
            let Ok(sub) = std::str::from_utf8(sub) else {
                continue; // not a name any extension matches
            };
            let name = sub.rsplit('/').next().unwrap_or(sub);
            if sub.split('/').any(|part| part.starts_with('.'))
                || !exts.iter().any(|e| name.ends_with(e))
            {
                continue;
            }
            let full = format!("{prefix}{sub}");
            if stage(&entry) != 0 {
                return Err(conflict(&full));
            }
            if is_file_mode(entry.mode) || is_symlink_mode(entry.mode) {
                out.push(Staged::new(&entry, base.join(sub), full, written));
            }
        }
        if !any {
            return Ok(IndexFolder::Missing);
        }
        // the index sorts by bytes (`a-b/x` before `a/x`); the working tree sorts by component
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(IndexFolder::Files(self.contents(out)?))
    }

    /// The contents of staged files, in the order given. Blobs are zlib-compressed, so a large
    /// model is inflated on every core, each thread with its own handle on the repository
    /// (libgit2 handles are not shared between threads).
    fn contents(&self, files: Vec<Staged>) -> Result<Vec<(PathBuf, Vec<u8>)>, Error> {
        // a blob's hash was checked when git wrote it; libgit2 re-hashing every blob it reads
        // (SHA-1 with collision detection) cost more than inflating it
        git2::opts::strict_hash_verification(false);
        let total: u64 = files.iter().map(|f| u64::from(f.size)).sum();
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(files.len());
        if workers < 2 || total < PARALLEL_BYTES {
            return files
                .into_iter()
                .map(|f| {
                    let bytes = f.read(&self.repo, &self.workdir)?;
                    Ok((f.rel, bytes))
                })
                .collect();
        }
        // largest first, dealt round-robin, so the threads finish together
        let mut order: Vec<usize> = (0..files.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(files[i].size));
        let mut shares: Vec<Vec<usize>> = vec![Vec::new(); workers];
        for (n, i) in order.into_iter().enumerate() {
            shares[n % workers].push(i);
        }
        let gitdir = self.repo.path();
        let files = &files;
        let workdir = &self.workdir;
        let read: Vec<Result<Vec<(usize, Vec<u8>)>, Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = shares
                .into_iter()
                .map(|share| {
                    s.spawn(move || {
                        let repo = git2::Repository::open(gitdir)
                            .map_err(|e| git_error("cannot open the repository", e))?;
                        share
                            .into_iter()
                            .map(|i| Ok((i, files[i].read(&repo, workdir)?)))
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Internal("a thread reading the index failed".into()))
                    })
                })
                .collect()
        });
        let mut slots: Vec<Option<Vec<u8>>> = vec![None; files.len()];
        for share in read {
            for (i, bytes) in share? {
                slots[i] = Some(bytes);
            }
        }
        files
            .iter()
            .zip(slots)
            .map(|(f, bytes)| {
                bytes
                    .map(|b| (f.rel.clone(), b))
                    .ok_or_else(|| Error::Internal(format!("`{}` was not read", f.path)))
            })
            .collect()
    }
}

/// Below this many staged bytes, starting threads costs more than inflating on one.
const PARALLEL_BYTES: u64 = 1 << 20;

/// A staged file to read.
struct Staged {
    /// Relative to the project root.
    rel: PathBuf,
    /// Relative to the repository root.
    path: String,
    id: git2::Oid,
    symlink: bool,
    /// As the index recorded it (truncated to 32 bits): for sharing out work only.
    size: u32,
    recorded: stat::Recorded,
}

impl Staged {
    /// Entry `entry` at repository path `path`, `rel` to the project; `written` is when the
    /// index was written.
    fn new(
        entry: &git2::IndexEntry,
        rel: PathBuf,
        path: String,
        written: Option<(i64, u32)>,
    ) -> Staged {
        Staged {
            rel,
            path,
            id: entry.id,
            symlink: is_symlink_mode(entry.mode),
            size: entry.file_size,
            recorded: stat::Recorded::new(entry, written),
        }
    }

    /// The staged content: the working tree file when git's stat data proves it unchanged since
    /// it was staged (no inflating), else the blob. A symlink is followed on disk, as the working
    /// tree reading does (its blob holds only the link target).
    fn read(&self, repo: &git2::Repository, workdir: &Path) -> Result<Vec<u8>, Error> {
        let on_disk = workdir.join(&self.path);
        if self.symlink {
            return std::fs::read(&on_disk).map_err(|e| Error::io(&on_disk, e));
        }
        if self.recorded.unchanged(&on_disk) {
            if let Ok(bytes) = std::fs::read(&on_disk) {
                return Ok(bytes);
            }
        }
        let blob = repo
            .find_blob(self.id)
            .map_err(|e| git_error(&format!("cannot read the staged `{}`", self.path), e))?;
        Ok(blob.content().to_vec())
    }
}

fn conflict(path: &str) -> Error {
    Error::UsageHelp {
        message: format!("`{path}` has unresolved merge conflicts in the index"),
        help: "resolve them and `git add` the file, then check again".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with the project in `a/b`.
    fn repo_in_subfolder() -> (tempfile::TempDir, Repo) {
        let tmp = tempfile::tempdir().unwrap();
        git2::Repository::init(tmp.path()).unwrap();
        let project = tmp.path().join("a/b");
        std::fs::create_dir_all(&project).unwrap();
        let repo = Repo::open(&project).unwrap();
        (tmp, repo)
    }

    #[test]
    fn repo_path_resolves_folders_against_the_project_and_stops_at_the_repository() {
        let (tmp, repo) = repo_in_subfolder();
        assert_eq!(repo.prefix(), "a/b");
        assert_eq!(repo.repo_path("policy").as_deref(), Some("a/b/policy"));
        assert_eq!(repo.repo_path("./policy/").as_deref(), Some("a/b/policy"));
        assert_eq!(repo.repo_path("").as_deref(), Some("a/b"));
        assert_eq!(repo.repo_path("../shared").as_deref(), Some("a/shared"));
        assert_eq!(repo.repo_path("../../x").as_deref(), Some("x"));
        assert_eq!(repo.repo_path("../../../org-guards"), None);
        let inside = tmp.path().canonicalize().unwrap().join("g");
        assert_eq!(
            repo.repo_path(inside.to_str().unwrap()).as_deref(),
            Some("g")
        );
        assert_eq!(repo.repo_path("/elsewhere/guards"), None);
    }

    #[test]
    fn index_files_sorts_by_component_like_the_working_tree() {
        let (tmp, repo) = repo_in_subfolder();
        let project = tmp.path().join("a/b");
        for (rel, text) in [
            ("p/a-b/x.yaml", "1"),
            ("p/a/x.yaml", "2"),
            ("p/.hidden/x.yaml", "3"),
            ("p/notes.txt", "4"),
        ] {
            let path = project.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let mut index = repo.repo.index().unwrap();
        index
            .add_all(["a/b/p"], git2::IndexAddOption::FORCE, None)
            .unwrap();
        index.write().unwrap();
        let IndexFolder::Files(files) = repo.index_files("p", &[".yaml"]).unwrap() else {
            panic!("p is staged");
        };
        let names: Vec<_> = files.iter().map(|(p, _)| p.to_str().unwrap()).collect();
        assert_eq!(names, ["p/a/x.yaml", "p/a-b/x.yaml"]);
        assert!(matches!(
            repo.index_files("q", &[".yaml"]).unwrap(),
            IndexFolder::Missing
        ));
        assert!(matches!(
            repo.index_files("../../../q", &[".yaml"]).unwrap(),
            IndexFolder::Outside
        ));
    }

    #[test]
    fn large_staged_files_read_on_several_threads_come_back_in_order_with_staged_bytes() {
        let (tmp, repo) = repo_in_subfolder();
        let project = tmp.path().join("a/b");
        std::fs::create_dir_all(project.join("p")).unwrap();
        let staged = |n: usize| format!("# file {n}\n{}", "x: 1\n".repeat(100_000 + n * 1000));
        for n in 0..5 {
            std::fs::write(project.join(format!("p/{n}.yaml")), staged(n)).unwrap();
        }
        let mut index = repo.repo.index().unwrap();
        index
            .add_all(["a/b/p"], git2::IndexAddOption::FORCE, None)
            .unwrap();
        index.write().unwrap();
        // the working tree moves on: only the blobs hold the staged bytes
        for n in 0..5 {
            std::fs::write(project.join(format!("p/{n}.yaml")), "changed").unwrap();
        }
        let IndexFolder::Files(files) = repo.index_files("p", &[".yaml"]).unwrap() else {
            panic!("p is staged");
        };
        assert!(files.iter().map(|(_, b)| b.len() as u64).sum::<u64>() > PARALLEL_BYTES);
        for (n, (path, bytes)) in files.iter().enumerate() {
            assert_eq!(path, &Path::new("p").join(format!("{n}.yaml")));
            assert_eq!(bytes, staged(n).as_bytes());
        }
    }
}

//! Whether a working tree file still holds what was staged, decided by git's own rule: the
//! index keeps each file's stat data from when it was staged, and a file whose size, times and
//! inode all still match has not changed. Reading such a file from disk gives the staged bytes
//! without inflating the blob, which is what makes `check --staged` as fast as `check`.
//!
//! Every doubt falls back to the blob: any field that differs, a file staged in the same
//! instant the index was written ("racily clean": a later edit in that instant would not show in
//! the times), a platform without these fields.

use std::path::Path;

/// What the index recorded about a staged file, and whether that can be trusted at all.
#[derive(Debug, Clone, Copy)]
pub struct Recorded {
    mtime: (i32, u32),
    ctime: (i32, u32),
    ino: u32,
    uid: u32,
    gid: u32,
    size: u32,
    /// Staged strictly before the index file was last written.
    settled: bool,
}

impl Recorded {
    /// The entry's stat data; `index_mtime` is the index file's modification time (seconds,
    /// nanoseconds), `None` when unknown (nothing is trusted then).
    pub fn new(entry: &git2::IndexEntry, index_mtime: Option<(i64, u32)>) -> Recorded {
        let mtime = (entry.mtime.seconds(), entry.mtime.nanoseconds());
        let settled = index_mtime.is_some_and(|written| (i64::from(mtime.0), mtime.1) < written);
        Recorded {
            mtime,
            ctime: (entry.ctime.seconds(), entry.ctime.nanoseconds()),
            ino: entry.ino,
            uid: entry.uid,
            gid: entry.gid,
            size: entry.file_size,
            settled,
        }
    }

    /// Whether the regular file at `path` is unchanged since it was staged. The index keeps
    /// 32-bit fields, so the file's values are truncated the same way before comparing.
    #[cfg(unix)]
    pub fn unchanged(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        if !self.settled {
            return false;
        }
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return false;
        };
        meta.file_type().is_file()
            && (meta.mtime() as i32, meta.mtime_nsec() as u32) == self.mtime
            && (meta.ctime() as i32, meta.ctime_nsec() as u32) == self.ctime
            && meta.ino() as u32 == self.ino
            && meta.uid() == self.uid
            && meta.gid() == self.gid
            && meta.size() as u32 == self.size
    }

    #[cfg(not(unix))]
    pub fn unchanged(&self, _path: &Path) -> bool {
        false
    }
}

/// The modification time of the index file at `path`, as (seconds, nanoseconds).
pub fn mtime(path: &Path) -> Option<(i64, u32)> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some((i64::try_from(since.as_secs()).ok()?, since.subsec_nanos()))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    /// Stages `f.yaml` (its mtime an hour back, so the entry is settled) in a new repository.
    fn staged() -> (tempfile::TempDir, git2::Repository, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(tmp.path()).unwrap();
        let file = tmp.path().join("f.yaml");
        std::fs::write(&file, "role: viewer\n").unwrap();
        let past = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(past)
            .unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("f.yaml")).unwrap();
        index.write().unwrap();
        (tmp, repo, file)
    }

    fn recorded(repo: &git2::Repository) -> Recorded {
        let index = repo.index().unwrap();
        let entry = index.get_path(Path::new("f.yaml"), 0).unwrap();
        Recorded::new(&entry, mtime(&repo.path().join("index")))
    }

    #[test]
    fn an_untouched_file_is_unchanged() {
        let (_tmp, repo, file) = staged();
        assert!(recorded(&repo).unchanged(&file));
    }

    #[test]
    fn a_same_size_edit_with_the_old_mtime_put_back_is_still_a_change() {
        let (_tmp, repo, file) = staged();
        let before = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&file, "role: vxewer\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(before)
            .unwrap();
        // size, mtime and inode match; only the ctime tells
        assert!(!recorded(&repo).unchanged(&file));
    }

    #[test]
    fn nothing_is_trusted_without_the_index_time_or_when_staged_as_the_index_was_written() {
        let (_tmp, repo, file) = staged();
        let index = repo.index().unwrap();
        let entry = index.get_path(Path::new("f.yaml"), 0).unwrap();
        assert!(!Recorded::new(&entry, None).unchanged(&file));
        let at = (i64::from(entry.mtime.seconds()), entry.mtime.nanoseconds());
        assert!(!Recorded::new(&entry, Some(at)).unchanged(&file));
    }
}

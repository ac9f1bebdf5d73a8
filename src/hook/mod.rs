//! Installing and removing permit's pre-commit hook in a hooks folder, beside whatever hook may
//! already be there. Finding the folder is `git`'s job, printing is `cmd::hook`'s.
//!
//! A hook is never half-written: the new script goes to a temp file in the hooks folder and is
//! renamed over `pre-commit` in one step. A hook that is not ours is never lost: `--chain` moves
//! it to `pre-commit.local` (run first), `--force` to `pre-commit.bak`.

pub mod script;

pub use script::{Script, LOCAL};
use std::path::{Path, PathBuf};

/// The hook git runs before recording a commit.
pub const HOOK: &str = "pre-commit";
/// Where `--force` keeps the hook it replaces (`.1`, `.2`, ... when taken).
pub const BACKUP: &str = "pre-commit.bak";

/// What to do with a pre-commit hook that is not permit's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// Leave it and refuse.
    Refuse,
    /// Move it to `pre-commit.local` and run it before the check.
    Chain,
    /// Replace it, keeping a backup.
    Replace,
}

/// Why the hook could not be installed or removed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("`{}` already exists and was not installed by permit", .0.display())]
    Foreign(PathBuf),
    #[error("cannot chain the existing hook: `{}` already exists", .0.display())]
    LocalTaken(PathBuf),
    #[error("`{}` was not installed by permit; leaving it as it is", .0.display())]
    NotOurs(PathBuf),
    #[error("project folder `{0}` cannot be written into a hook (it contains a line break)")]
    BadProject(String),
    #[error("cannot write `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HookError + '_ {
    move |source| HookError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `install` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    /// There was no pre-commit hook.
    New,
    /// Our hook was there and now also checks this project or runs another binary.
    Updated,
    /// Our hook was there, exactly as it would be written.
    Unchanged,
    /// The hook found in place now runs first, from `pre-commit.local`.
    Chained,
    /// The hook found in place was moved to this backup.
    Replaced(PathBuf),
}

/// What `uninstall` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Uninstalled {
    /// There was no pre-commit hook.
    Absent,
    /// The hook was removed.
    Removed,
    /// The chained hook is back in place.
    Restored,
    /// The hook still checks these other projects.
    Kept(Vec<String>),
    /// The hook does not check this project; it checks these (and was left alone).
    NotListed(Vec<String>),
}

/// The pre-commit hook in a hooks folder.
enum Existing {
    None,
    Ours(Script),
    Foreign,
}

fn existing(hook: &Path) -> Result<Existing, HookError> {
    match std::fs::symlink_metadata(hook) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::None),
        Err(e) => return Err(io(hook)(e)),
        Ok(_) => {}
    }
    // a folder or a dangling link is still someone's hook: it is foreign, not absent
    Ok(match std::fs::read(hook) {
        Ok(bytes) => match Script::parse(&String::from_utf8_lossy(&bytes)) {
            Some(s) => Existing::Ours(s),
            None => Existing::Foreign,
        },
        Err(_) => Existing::Foreign,
    })
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Installs the hook checking `project` (relative to the working tree root) into `hooks_dir`,
/// run with the `permit` at `permit` (else the one on PATH). Installing again adds the project
/// to our hook and keeps its chaining.
pub fn install(
    hooks_dir: &Path,
    project: &str,
    permit: Option<&str>,
    foreign: Foreign,
) -> Result<Installed, HookError> {
    if project.contains(['\n', '\r']) {
        return Err(HookError::BadProject(project.to_string()));
    }
    std::fs::create_dir_all(hooks_dir).map_err(io(hooks_dir))?;
    let hook = hooks_dir.join(HOOK);
    let local = hooks_dir.join(LOCAL);
    let wanted = |projects: Vec<String>, chained: bool| Script {
        permit: permit.map(str::to_string),
        projects,
        chained,
    };
    match existing(&hook)? {
        Existing::None => {
            let chain = foreign == Foreign::Chain && exists(&local);
            write(hooks_dir, &wanted(vec![project.to_string()], chain))?;
            Ok(Installed::New)
        }
        Existing::Ours(old) => {
            let mut projects = old.projects.clone();
            projects.push(project.to_string());
            projects.sort();
            projects.dedup();
            let chain = old.chained || (foreign == Foreign::Chain && exists(&local));
            let new = wanted(projects, chain);
            let current = std::fs::read(&hook).map_err(io(&hook))?;
            if current == new.render().as_bytes() {
                return Ok(Installed::Unchanged);
            }
            write(hooks_dir, &new)?;
            Ok(Installed::Updated)
        }
        Existing::Foreign => match foreign {
            Foreign::Refuse => Err(HookError::Foreign(hook)),
            Foreign::Chain => {
                if exists(&local) {
                    return Err(HookError::LocalTaken(local));
                }
                set_aside(hooks_dir, &local, &wanted(vec![project.to_string()], true))?;
                Ok(Installed::Chained)
            }
            Foreign::Replace => {
                let backup = free_backup(hooks_dir);
                set_aside(
                    hooks_dir,
                    &backup,
                    &wanted(vec![project.to_string()], false),
                )?;
                Ok(Installed::Replaced(backup))
            }
        },
    }
}

/// Removes `project` from our hook in `hooks_dir`, and the hook once it checks nothing; a
/// chained hook goes back in place. Refuses to touch a hook that is not ours.
pub fn uninstall(hooks_dir: &Path, project: &str) -> Result<Uninstalled, HookError> {
    let hook = hooks_dir.join(HOOK);
    let old = match existing(&hook)? {
        Existing::None => return Ok(Uninstalled::Absent),
        Existing::Foreign => return Err(HookError::NotOurs(hook)),
        Existing::Ours(s) => s,
    };
    if !old.projects.iter().any(|p| p == project) {
        return Ok(Uninstalled::NotListed(old.projects));
    }
    let rest: Vec<String> = old
        .projects
        .iter()
        .filter(|p| *p != project)
        .cloned()
        .collect();
    if !rest.is_empty() {
        // other projects of this repository still rely on it
        write(
            hooks_dir,
            &Script {
                projects: rest.clone(),
                ..old
            },
        )?;
        return Ok(Uninstalled::Kept(rest));
    }
    let local = hooks_dir.join(LOCAL);
    if old.chained && exists(&local) {
        std::fs::rename(&local, &hook).map_err(io(&hook))?;
        return Ok(Uninstalled::Restored);
    }
    std::fs::remove_file(&hook).map_err(io(&hook))?;
    Ok(Uninstalled::Removed)
}

/// Writes `script` as the hook: a temp file in the same folder, made executable, then renamed
/// over `pre-commit` (atomic on one file system).
fn write(hooks_dir: &Path, script: &Script) -> Result<(), HookError> {
    let tmp = temp_file(hooks_dir, script)?;
    let hook = hooks_dir.join(HOOK);
    std::fs::rename(&tmp, &hook).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(&hook)(e)
    })
}

/// Moves the hook in place to `aside` and puts `script` there instead; on failure the old hook
/// is moved back.
fn set_aside(hooks_dir: &Path, aside: &Path, script: &Script) -> Result<(), HookError> {
    let tmp = temp_file(hooks_dir, script)?;
    let hook = hooks_dir.join(HOOK);
    if let Err(e) = std::fs::rename(&hook, aside) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(aside)(e));
    }
    if let Err(e) = std::fs::rename(&tmp, &hook) {
        let _ = std::fs::rename(aside, &hook);
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&hook)(e));
    }
    Ok(())
}

/// The script written in full to a new temp file in `hooks_dir`, mode 0755.
fn temp_file(hooks_dir: &Path, script: &Script) -> Result<PathBuf, HookError> {
    use std::io::Write;
    let tmp = hooks_dir.join(format!(".{HOOK}.permit-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(script.render().as_bytes())?;
        f.sync_all()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    })();
    result.map(|()| tmp.clone()).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(&tmp)(e)
    })
}

/// `pre-commit.bak`, or the first of `pre-commit.bak.1`, `.2`, ... not taken: an older backup
/// is never overwritten.
fn free_backup(hooks_dir: &Path) -> PathBuf {
    let first = hooks_dir.join(BACKUP);
    if !exists(&first) {
        return first;
    }
    (1..)
        .map(|n| hooks_dir.join(format!("{BACKUP}.{n}")))
        .find(|p| !exists(p))
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn install_twice_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(
            install(d, ".", Some("/bin/permit"), Foreign::Refuse).unwrap(),
            Installed::New
        );
        let first = read(&d.join(HOOK));
        assert_eq!(
            install(d, ".", Some("/bin/permit"), Foreign::Refuse).unwrap(),
            Installed::Unchanged
        );
        assert_eq!(read(&d.join(HOOK)), first);
    }

    #[test]
    fn a_second_project_joins_the_hook_and_uninstall_takes_it_out_again() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        install(d, "a", Some("/bin/permit"), Foreign::Refuse).unwrap();
        assert_eq!(
            install(d, "b", Some("/bin/permit"), Foreign::Refuse).unwrap(),
            Installed::Updated
        );
        assert!(read(&d.join(HOOK)).contains("for dir in 'a' 'b'; do"));
        assert_eq!(
            uninstall(d, "b").unwrap(),
            Uninstalled::Kept(vec!["a".into()])
        );
        let text = read(&d.join(HOOK));
        assert!(text.contains("for dir in 'a'; do"), "{text}");
        assert!(text.contains("permit='/bin/permit'"), "{text}");
        assert_eq!(uninstall(d, "a").unwrap(), Uninstalled::Removed);
        assert!(!d.join(HOOK).exists());
    }

    #[test]
    fn force_never_overwrites_an_older_backup() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join(BACKUP), "old backup").unwrap();
        std::fs::write(d.join(HOOK), "#!/bin/sh\nexit 0\n").unwrap();
        let got = install(d, ".", None, Foreign::Replace).unwrap();
        assert_eq!(got, Installed::Replaced(d.join("pre-commit.bak.1")));
        assert_eq!(read(&d.join(BACKUP)), "old backup");
        assert_eq!(read(&d.join("pre-commit.bak.1")), "#!/bin/sh\nexit 0\n");
    }

    #[test]
    fn chain_refuses_when_the_local_name_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join(LOCAL), "taken").unwrap();
        std::fs::write(d.join(HOOK), "#!/bin/sh\nexit 0\n").unwrap();
        assert!(matches!(
            install(d, ".", None, Foreign::Chain),
            Err(HookError::LocalTaken(_))
        ));
        assert_eq!(read(&d.join(HOOK)), "#!/bin/sh\nexit 0\n");
        assert_eq!(read(&d.join(LOCAL)), "taken");
        // nothing left behind
        assert_eq!(std::fs::read_dir(d).unwrap().count(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn the_hook_is_executable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), ".", None, Foreign::Refuse).unwrap();
        let mode = std::fs::metadata(dir.path().join(HOOK))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}

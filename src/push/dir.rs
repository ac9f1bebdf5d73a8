//! Writing a bundle into a folder that a web server (or OPA's bundle service) serves.
//!
//! Two names: `bundle-<sha256>.tar.gz`, immutable, so caches and ETags never see two contents
//! under one name; and `bundle.tar.gz`, the current one. Both are written to a temporary file
//! and renamed, so a reader sees the old bundle or the new one, never half of one.

use super::{Attempt, Outcome, PdpError};
use crate::bundle::{revision_of, sha256_hex, Bundle};
use std::path::Path;

pub const CURRENT: &str = "bundle.tar.gz";

fn io(what: &str, path: &Path, e: std::io::Error) -> PdpError {
    PdpError::new(format!("{what} `{}`: {e}", path.display()))
}

/// The revision in the folder's `bundle.tar.gz`.
pub fn status(dir: &Path) -> Result<Option<String>, PdpError> {
    if !dir.is_dir() {
        return Err(PdpError::new(format!(
            "bundle folder `{}` does not exist",
            dir.display()
        )));
    }
    let current = dir.join(CURRENT);
    match std::fs::read(&current) {
        Ok(bytes) => Ok(revision_of(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("cannot read", &current, e)),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

pub fn push(dir: &Path, bundle: &Bundle) -> Attempt {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Attempt::failed(None, io("cannot create", dir, e));
    }
    let current = dir.join(CURRENT);
    let previous = match std::fs::read(&current) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Attempt::failed(None, io("cannot read", &current, e)),
    };
    let before = previous.as_deref().and_then(revision_of);
    let named = dir.join(format!("bundle-{}.tar.gz", bundle.sha256));
    if let Err(e) = write_atomic(&named, &bundle.bytes) {
        return Attempt::failed(before, io("cannot write", &named, e));
    }
    if let Err(e) = write_atomic(&current, &bundle.bytes) {
        return Attempt::failed(before, io("cannot write", &current, e));
    }
    match std::fs::read(&current) {
        Ok(b) if b == bundle.bytes => {}
        other => {
            let e = match other {
                Err(e) => io("cannot read back", &current, e),
                Ok(_) => PdpError::new(format!(
                    "`{}` changed under us while writing",
                    current.display()
                )),
            };
            let restored = match &previous {
                Some(p) => write_atomic(&current, p),
                None => std::fs::remove_file(&current),
            };
            return match restored {
                Ok(()) => Attempt::rolled_back(before, e),
                Err(r) => Attempt::broken(before, None, e, r.to_string()),
            };
        }
    }
    prune(dir, &bundle.sha256, previous.as_deref().map(sha256_hex));
    Attempt {
        before,
        after: Some(bundle.meta.revision.clone()),
        outcome: Outcome::Pushed,
    }
}

/// Keeps the new and the previous content-named bundles (a client may still be fetching the
/// previous one); removes older ones. Best effort: a leftover file is harmless.
fn prune(dir: &Path, new: &str, previous: Option<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(sha) = name
            .strip_prefix("bundle-")
            .and_then(|n| n.strip_suffix(".tar.gz"))
        else {
            continue;
        };
        if sha != new && previous.as_deref() != Some(sha) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{build, Meta};
    use crate::compile::{Compiled, Module};

    fn bundle(rev: &str) -> Bundle {
        let c = Compiled {
            modules: vec![Module {
                path: "permit/root.rego".into(),
                text: "package permit.root\n".into(),
            }],
            data: r#"{"permit":{"model":{}}}"#.into(),
        };
        let meta = Meta {
            revision: rev.into(),
            roots: vec!["permit".into()],
            environment: None,
            source: "main".into(),
        };
        build(&c, &meta, None).unwrap()
    }

    #[test]
    fn pushes_replace_current_and_keep_one_previous() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let (a, b, c) = (bundle("a"), bundle("b"), bundle("c"));
        assert_eq!(push(&dir, &a).outcome, Outcome::Pushed);
        assert_eq!(status(&dir).unwrap().as_deref(), Some("a"));
        let second = push(&dir, &b);
        assert_eq!(second.before.as_deref(), Some("a"));
        assert_eq!(second.after.as_deref(), Some("b"));
        push(&dir, &c);
        assert_eq!(std::fs::read(dir.join(CURRENT)).unwrap(), c.bytes);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut want = vec![
            CURRENT.to_string(),
            format!("bundle-{}.tar.gz", b.sha256),
            format!("bundle-{}.tar.gz", c.sha256),
        ];
        want.sort();
        assert_eq!(names, want);
    }

    #[test]
    fn missing_folder_is_an_error_for_status() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(status(&tmp.path().join("nope")).is_err());
    }
}

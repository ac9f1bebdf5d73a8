//! Where guard files come from: the folders and files `permit.yaml` lists under `guards`
//! (inside the project they are read at the revision the command reads; outside it, from disk),
//! and folders of other git repositories at a ref (a local path, or a URL fetched into a cache).

use crate::config::GuardSource;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::error::Error;
use crate::git::Repo;
use crate::model::load::Input;
use crate::project::{files_with, Project, Revision};
use std::path::{Component, Path, PathBuf};

const EXTS: &[&str] = &[".yaml", ".yml"];

/// Every guard file, in the order `permit.yaml` lists their sources (sorted within a folder).
/// A listed folder of the project that does not exist (at the revision read) is a warning; one
/// outside the project, or a repository, is an error: organisation guards must not vanish
/// silently.
pub fn inputs(project: &Project) -> Result<(Vec<Input>, Diagnostics), Error> {
    let mut out = Vec::new();
    let mut diags = Diagnostics::default();
    for src in &project.config.guards {
        match src {
            GuardSource::Path { path, required } => {
                let found = from_path(project, &path.text)?;
                match found {
                    Some(files) => out.extend(files),
                    None if *required && !outside(&path.text) => diags.push(
                        Diagnostic::warning(
                            "guard::missing-source",
                            format!(
                                "the guard source `{}` does not exist{}; no guards are read from it",
                                path.text,
                                match &project.revision {
                                    Revision::Ref(r) => format!(" at `{r}`"),
                                    _ => String::new(),
                                }
                            ),
                        )
                        .at(path.span)
                        .help("create it, or remove it from `guards:` in permit.yaml"),
                    ),
                    None if *required => {
                        return Err(Error::UsageHelp {
                            message: format!(
                                "the guard source `{}` (permit.yaml:{}) does not exist",
                                path.text, path.span.line
                            ),
                            help: "fix the path under `guards:` in permit.yaml (relative to it), or remove it".into(),
                        })
                    }
                    None => {}
                }
            }
            GuardSource::Git { repo, rev, path } => {
                out.extend(from_git(project, &repo.text, rev, path)?);
            }
        }
    }
    Ok((out, diags))
}

/// Whether `rel` leaves the project folder (absolute, or climbing with `..`).
fn outside(rel: &str) -> bool {
    let p = Path::new(rel);
    p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir))
}

/// A folder or file of guards relative to the project; `None` when it does not exist.
fn from_path(project: &Project, rel: &str) -> Result<Option<Vec<Input>>, Error> {
    if project.revision == Revision::WorkTree || outside(rel) {
        return from_disk(project, &project.root.join(rel));
    }
    if let Some(files) = project.files(rel, EXTS)? {
        return Ok(Some(files));
    }
    Ok(project.file(rel)?.map(|input| vec![input]))
}

fn from_disk(project: &Project, path: &Path) -> Result<Option<Vec<Input>>, Error> {
    let paths = if path.is_dir() {
        let mut paths = Vec::new();
        files_with(path, EXTS, &mut paths).map_err(|e| Error::io(path, e))?;
        paths.sort();
        paths
    } else if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        out.push(Input {
            name: project.display(&p),
            path: p,
            bytes,
        });
    }
    Ok(Some(out))
}

/// Whether `repo` names a remote (a URL or `host:path`) rather than a folder.
fn is_url(repo: &str) -> bool {
    repo.contains("://") || repo.split_once(':').is_some_and(|(h, _)| h.contains('@'))
}

/// The guard folder (or file) `rel` of repository `repo` at `rev`.
fn from_git(project: &Project, repo: &str, rev: &str, rel: &str) -> Result<Vec<Input>, Error> {
    let (git, rev) = if is_url(repo) {
        let mirror = Repo::fetch_mirror(repo, &cache_dir(repo)?)?;
        let rev = mirror.mirror_rev(rev);
        (mirror, rev)
    } else {
        let dir = project.root.join(repo);
        (Repo::open_other(&dir)?, rev.to_string())
    };
    let label = |p: &Path| {
        format!(
            "{repo}@{}:{}",
            rev.trim_start_matches("refs/remotes/origin/"),
            p.to_string_lossy().replace('\\', "/")
        )
    };
    let files = match git.files(&rev, rel, EXTS)? {
        Some(files) => files,
        None => match git.read(&rev, rel)? {
            Some(bytes) => vec![(PathBuf::from(rel), bytes)],
            None => {
                return Err(Error::Usage(format!(
                    "the guard source `{repo}` has no `{rel}` at `{rev}`"
                )))
            }
        },
    };
    Ok(files
        .into_iter()
        .map(|(path, bytes)| Input {
            name: label(&path),
            path,
            bytes,
        })
        .collect())
}

/// Where the mirror of a guard repository lives: `$PERMIT_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/permit`, else `~/.cache/permit`; one folder per URL.
fn cache_dir(url: &str) -> Result<PathBuf, Error> {
    let base = std::env::var_os("PERMIT_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("permit")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/permit")))
        .ok_or_else(|| {
            Error::Environment(
                "no cache folder for guard repositories: set PERMIT_CACHE_DIR or HOME".into(),
            )
        })?;
    let digest =
        crate::bundle::hex(ring::digest::digest(&ring::digest::SHA256, url.as_bytes()).as_ref());
    Ok(base.join("guards").join(&digest[..16]))
}

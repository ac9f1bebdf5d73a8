//! A permit project on disk: finding `permit.yaml`, reading its config, listing model files at
//! a revision (the working tree, a git ref, or the staged files in the index).

use crate::config::{self, Config};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::error::Error;
use crate::git::IndexFolder;
use crate::model::load::Input;
use crate::model::Model;
use crate::source::SourceMap;
use std::path::{Path, PathBuf};

/// Which version of the project's files a command reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revision {
    /// The files on disk.
    WorkTree,
    /// The files at a git ref, read from git objects without checkout.
    Ref(String),
    /// The staged files: what `git commit` would record (`check --staged`, the pre-commit
    /// hook). Folders outside the repository are read from disk: git does not stage them.
    Index,
}

/// A project found on disk.
pub struct Project {
    /// The folder holding `permit.yaml`.
    pub root: PathBuf,
    pub config: Config,
    /// Every file read so far (permit.yaml first), for rendering diagnostics.
    pub sources: SourceMap,
    pub revision: Revision,
}

impl Project {
    /// Finds `permit.yaml` in `start` or the nearest parent and reads it.
    pub fn discover(start: &Path) -> Result<Project, Error> {
        Self::open(&Self::find_root(start)?)
    }

    /// Like `discover`, reading `permit.yaml` and everything else at `rev` (the folder is found
    /// on disk).
    pub fn discover_at(start: &Path, rev: &Revision) -> Result<Project, Error> {
        Self::open_at(&Self::find_root(start)?, rev)
    }

    /// The folder holding `permit.yaml`: `start` or its nearest parent that has one (canonical).
    pub fn find_root(start: &Path) -> Result<PathBuf, Error> {
        let start = start.canonicalize().map_err(|e| Error::io(start, e))?;
        Ok(start
            .ancestors()
            .find(|d| d.join(config::FILE_NAME).is_file())
            .ok_or_else(|| Error::NoProject(start.clone()))?
            .to_path_buf())
    }

    /// Reads the project whose `permit.yaml` is in `root`.
    pub fn open(root: &Path) -> Result<Project, Error> {
        let path = root.join(config::FILE_NAME);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        Self::from_config(root, bytes, Revision::WorkTree)
    }

    /// The same project as it is at git ref `rev` (its `permit.yaml` too).
    pub fn at(&self, rev: &Revision) -> Result<Project, Error> {
        Self::open_at(&self.root, rev)
    }

    /// The project in `root` as it is at `rev` (its `permit.yaml` too).
    pub fn open_at(root: &Path, rev: &Revision) -> Result<Project, Error> {
        match rev {
            Revision::WorkTree => Self::open(root),
            Revision::Ref(r) => {
                let repo = crate::git::Repo::open(root)?;
                let bytes = repo.read(r, config::FILE_NAME)?.ok_or_else(|| {
                    Error::Usage(format!("there is no `{}` at `{r}`", config::FILE_NAME))
                })?;
                Self::from_config(root, bytes, rev.clone())
            }
            Revision::Index => {
                let bytes = index_repo(root)?
                    .index_read(config::FILE_NAME)?
                    .ok_or_else(|| Error::UsageHelp {
                        message: format!("`{}` is not staged", config::FILE_NAME),
                        help: "stage the project (`git add permit.yaml policy`), or check the \
                               working tree with `permit check`"
                            .into(),
                    })?;
                Self::from_config(root, bytes, Revision::Index)
            }
        }
    }

    fn from_config(root: &Path, bytes: Vec<u8>, revision: Revision) -> Result<Project, Error> {
        let path = root.join(config::FILE_NAME);
        let mut sources = SourceMap::default();
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                let id = sources.add(config::FILE_NAME.into(), &path, "".into());
                let _ = &revision;
                let mut diags = Diagnostics::default();
                diags.push(
                    Diagnostic::error("yaml::encoding", "file is not valid UTF-8")
                        .at(crate::source::Span::new(id, 1, 0, 0)),
                );
                return Err(Error::Config { diags, sources });
            }
        };
        let id = sources.add(config::FILE_NAME.into(), &path, text.clone().into());
        match config::parse(&text, id) {
            Ok(config) => Ok(Project {
                root: root.to_path_buf(),
                config,
                sources,
                revision,
            }),
            Err(diags) => Err(Error::Config { diags, sources }),
        }
    }

    pub fn policy_dir(&self) -> PathBuf {
        self.root.join(&self.config.policy)
    }

    /// The model files, sorted by path.
    pub fn model_inputs(&self) -> Result<Vec<Input>, Error> {
        self.files(&self.config.policy, &[".yaml", ".yml"])?
            .ok_or_else(|| {
                Error::Usage(format!(
                    "the policy folder `{}` does not exist{} (set `policy:` in permit.yaml)",
                    self.config.policy,
                    self.at_text()
                ))
            })
    }

    /// Where the files come from, for messages: "", " at `REF`" or " in the git index".
    pub fn at_text(&self) -> String {
        match &self.revision {
            Revision::WorkTree => String::new(),
            Revision::Ref(r) => format!(" at `{r}`"),
            Revision::Index => " in the git index".into(),
        }
    }

    /// Files below `folder` (relative to the root) ending in one of `exts`, sorted by path,
    /// from the revision this project was opened at. `None` when the folder does not exist.
    pub fn files(&self, folder: &str, exts: &[&str]) -> Result<Option<Vec<Input>>, Error> {
        let found: Vec<(PathBuf, Vec<u8>)> = match &self.revision {
            Revision::WorkTree => match self.disk_files(folder, exts)? {
                Some(files) => files,
                None => return Ok(None),
            },
            Revision::Index => match index_repo(&self.root)?.index_files(folder, exts)? {
                IndexFolder::Outside => match self.disk_files(folder, exts)? {
                    Some(files) => files,
                    None => return Ok(None),
                },
                IndexFolder::Missing => return Ok(None),
                IndexFolder::Files(files) => files
                    .into_iter()
                    .map(|(rel, bytes)| (self.root.join(rel), bytes))
                    .collect(),
            },
            Revision::Ref(r) => {
                let repo = crate::git::Repo::open(&self.root)?;
                match repo.files(r, folder, exts)? {
                    None => return Ok(None),
                    Some(files) => files
                        .into_iter()
                        .map(|(rel, bytes)| (self.root.join(rel), bytes))
                        .collect(),
                }
            }
        };
        Ok(Some(
            found
                .into_iter()
                .map(|(path, bytes)| Input {
                    name: self.display(&path),
                    path,
                    bytes,
                })
                .collect(),
        ))
    }

    /// One file (path relative to the root, e.g. a guard file) from the revision this project
    /// was opened at; `None` when it is not there. As with `files`, a file outside the
    /// repository is read from disk for the index.
    pub fn file(&self, rel: &str) -> Result<Option<Input>, Error> {
        let path = self.root.join(rel);
        let bytes = match &self.revision {
            Revision::WorkTree => disk_file(&path)?,
            Revision::Ref(r) => crate::git::Repo::open(&self.root)?.read(r, rel)?,
            Revision::Index => {
                let repo = index_repo(&self.root)?;
                match repo.repo_path(rel) {
                    Some(_) => repo.index_read(rel)?,
                    None => disk_file(&path)?,
                }
            }
        };
        Ok(bytes.map(|bytes| Input {
            name: self.display(&path),
            path,
            bytes,
        }))
    }

    /// `files` from disk: full paths and contents, `None` when the folder does not exist.
    fn disk_files(
        &self,
        folder: &str,
        exts: &[&str],
    ) -> Result<Option<Vec<(PathBuf, Vec<u8>)>>, Error> {
        let dir = self.root.join(folder);
        if !dir.is_dir() {
            return Ok(None);
        }
        let mut paths = Vec::new();
        files_with(&dir, exts, &mut paths).map_err(|e| Error::io(&dir, e))?;
        paths.sort();
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
            out.push((p, bytes));
        }
        Ok(Some(out))
    }

    /// A path as shown to the user: relative to the project root, with `/` separators.
    pub fn display(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// A file's bytes, `None` when there is no file at `path`.
fn disk_file(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The repository whose index `Revision::Index` reads; not being in one is the user's mistake.
fn index_repo(root: &Path) -> Result<crate::git::Repo, Error> {
    crate::git::Repo::try_open(root)?.ok_or_else(|| Error::UsageHelp {
        message: format!(
            "cannot read staged files: `{}` is not in a git repository",
            root.display()
        ),
        help: "check the working tree with `permit check` (without `--staged`), or run `git init`"
            .into(),
    })
}

/// Every file below `dir` whose name ends with one of `exts`, skipping hidden entries.
pub fn files_with(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ty = entry.file_type()?;
        if ty.is_dir() {
            files_with(&path, exts, out)?;
        } else if exts.iter().any(|e| name.to_string_lossy().ends_with(e)) {
            out.push(path);
        }
    }
    Ok(())
}

/// A loaded and validated model with its diagnostics.
pub struct Checked {
    pub model: crate::model::Model,
    pub diags: Diagnostics,
    pub files: usize,
    /// The custom Rego modules that parsed.
    pub custom: Vec<crate::compile::Module>,
}

impl Project {
    /// Reads, merges and validates the working tree's model. Problems are diagnostics, not errors;
    /// only a missing folder or unreadable file is an `Err`.
    pub fn load_model(&mut self) -> Result<Checked, Error> {
        let inputs = self.model_inputs()?;
        crate::timing::mark("model files read");
        Ok(self.check_inputs(inputs))
    }

    /// Merges and validates model files however they were obtained (working tree, ref, index).
    pub fn check_inputs(&mut self, inputs: Vec<Input>) -> Checked {
        let files = inputs.len();
        let loaded = crate::model::load::load(inputs, &mut self.sources);
        crate::timing::mark("model files parsed and merged");
        self.validate(loaded, files)
    }

    /// Checks two versions of a project (a diff's sides) together, as [`Project::check`] does
    /// each: the files both share are parsed once ([`crate::model::load::load_pair`]).
    pub fn check_pair(a: &mut Project, b: &mut Project) -> Result<(Checked, Checked), Error> {
        let (ia, ib) = std::thread::scope(|s| {
            let ia = s.spawn(|| a.model_inputs());
            let ib = b.model_inputs();
            (ia.join(), ib)
        });
        let ia = ia.map_err(|_| Error::Internal("reading the model files panicked".into()))??;
        let ib = ib?;
        crate::timing::mark("model files read (both sides)");
        let (na, nb) = (ia.len(), ib.len());
        let (la, lb) = crate::model::load::load_pair((ia, &mut a.sources), (ib, &mut b.sources));
        crate::timing::mark("model files parsed and merged (both sides)");
        let (ca, cb) = std::thread::scope(|s| {
            let ca = s.spawn(|| a.validate(la, na));
            let cb = b.validate(lb, nb);
            (ca.join(), cb)
        });
        let ca = ca.map_err(|_| Error::Internal("validating the model panicked".into()))?;
        Ok((a.with_custom(ca)?, b.with_custom(cb)?))
    }

    /// Adds the custom Rego (and what is wrong with it) to a checked model.
    fn with_custom(&mut self, mut checked: Checked) -> Result<Checked, Error> {
        let (custom, custom_diags) = crate::custom::load(self)?;
        checked.diags.extend(custom_diags);
        checked.diags.sort();
        checked.custom = custom;
        Ok(checked)
    }

    /// Validates a loaded model (`files` model files were read).
    fn validate(&self, (model, mut diags): (Model, Diagnostics), files: usize) -> Checked {
        if files == 0 {
            diags.push(
                Diagnostic::error(
                    "model::empty",
                    format!("no model files (`*.yaml`) in `{}`", self.config.policy),
                )
                .help("add a model file, e.g. `policy/model.yaml`, or run `permit init` in an empty folder"),
            );
        }
        // A file that is not YAML contributes nothing, so cross-references into it would all
        // look broken: validate only when every file parsed (shape errors do not stop it).
        let unparsed = diags.items.iter().any(|d| d.code.starts_with("yaml::"));
        if !unparsed {
            diags.extend(crate::model::validate::validate(&model, now_ns()));
        }
        crate::timing::mark("model validated");
        diags.sort();
        Checked {
            model,
            diags,
            files,
            custom: Vec::new(),
        }
    }
}

/// The current time in nanoseconds since the Unix epoch ([`now`], falling back to the system
/// clock when `PERMIT_NOW` is set but invalid; commands that must report that call [`now`]).
pub fn now_ns() -> i64 {
    now().unwrap_or_else(|_| system_now_ns())
}

/// The environment variable that fixes "now" for permit's own reading of expiry (check
/// warnings, `permit users`, `diff`, coverage): a testing aid, so tests about expiry do not
/// depend on the day they run. The Rego keeps the PDP's clock (`time.now_ns()`).
pub const NOW_VAR: &str = "PERMIT_NOW";

/// "Now" in nanoseconds since the Unix epoch: `PERMIT_NOW` (RFC 3339 or a date) when set, else
/// the system clock. The one place that reads `PERMIT_NOW`.
pub fn now() -> Result<i64, Error> {
    match std::env::var(NOW_VAR) {
        Ok(text) if !text.is_empty() => {
            crate::model::read::parse_instant(&text).ok_or_else(|| Error::UsageHelp {
                message: format!("`{NOW_VAR}` is `{text}`, not an RFC 3339 time or a date"),
                help: format!("e.g. `{NOW_VAR}=2030-01-01T00:00:00Z`, or unset it"),
            })
        }
        _ => Ok(system_now_ns()),
    }
}

fn system_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A model compiled to Rego and data, with everything found on the way.
pub struct Built {
    pub checked: Checked,
    /// `None` when the model or custom Rego has errors.
    pub compiled: Option<crate::compile::Compiled>,
}

impl Project {
    /// What `permit check` validates: the model and the custom Rego.
    pub fn check(&mut self) -> Result<Checked, Error> {
        let checked = self.load_model()?;
        self.with_custom(checked)
    }

    /// Checks and (when valid) compiles the model with the custom Rego.
    pub fn build(&mut self) -> Result<Built, Error> {
        let checked = self.check()?;
        self.compile(checked)
    }

    /// Compiles a checked model (when valid) with its custom Rego.
    pub fn compile(&self, checked: Checked) -> Result<Built, Error> {
        let compiled = if checked.diags.has_errors() {
            None
        } else {
            // the modules stay in `checked` too: `diff` compares them
            let custom = checked.custom.clone();
            Some(
                crate::compile::compile(&checked.model, &self.sources, custom)
                    .map_err(|e| Error::Internal(format!("cannot write the data document: {e}")))?,
            )
        };
        Ok(Built { checked, compiled })
    }
}

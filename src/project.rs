//! A permit project on disk: finding `permit.yaml`, reading its config, listing model files.

use crate::config::{self, Config};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::error::Error;
use crate::model::load::Input;
use crate::source::SourceMap;
use std::path::{Path, PathBuf};

/// Which version of the project's files a command reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revision {
    /// The files on disk.
    WorkTree,
    /// The files at a git ref, read from git objects without checkout.
    Ref(String),
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
        let start = start.canonicalize().map_err(|e| Error::io(start, e))?;
        let root = start
            .ancestors()
            .find(|d| d.join(config::FILE_NAME).is_file())
            .ok_or_else(|| Error::NoProject(start.clone()))?
            .to_path_buf();
        Self::open(&root)
    }

    /// Reads the project whose `permit.yaml` is in `root`.
    pub fn open(root: &Path) -> Result<Project, Error> {
        let path = root.join(config::FILE_NAME);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        Self::from_config(root, bytes, Revision::WorkTree)
    }

    /// The same project as it is at git ref `rev` (its `permit.yaml` too).
    pub fn at(&self, rev: &Revision) -> Result<Project, Error> {
        match rev {
            Revision::WorkTree => Self::open(&self.root),
            Revision::Ref(r) => {
                let repo = crate::git::Repo::open(&self.root)?;
                let bytes = repo.read(r, config::FILE_NAME)?.ok_or_else(|| {
                    Error::Usage(format!("there is no `{}` at `{r}`", config::FILE_NAME))
                })?;
                Self::from_config(&self.root, bytes, rev.clone())
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

    fn at_text(&self) -> String {
        match &self.revision {
            Revision::WorkTree => String::new(),
            Revision::Ref(r) => format!(" at `{r}`"),
        }
    }

    /// Files below `folder` (relative to the root) ending in one of `exts`, sorted by path,
    /// from the revision this project was opened at. `None` when the folder does not exist.
    pub fn files(&self, folder: &str, exts: &[&str]) -> Result<Option<Vec<Input>>, Error> {
        let found: Vec<(PathBuf, Vec<u8>)> = match &self.revision {
            Revision::WorkTree => {
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
                out
            }
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

    /// A path as shown to the user: relative to the project root, with `/` separators.
    pub fn display(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
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
        Ok(self.check_inputs(inputs))
    }

    /// Merges and validates model files however they were obtained (working tree, ref, index).
    pub fn check_inputs(&mut self, inputs: Vec<Input>) -> Checked {
        let files = inputs.len();
        let (model, mut diags) = crate::model::load::load(inputs, &mut self.sources);
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
        let mut checked = self.load_model()?;
        let (custom, custom_diags) = crate::custom::load(self)?;
        checked.diags.extend(custom_diags);
        checked.diags.sort();
        checked.custom = custom;
        Ok(checked)
    }

    /// Checks and (when valid) compiles the model with the custom Rego.
    pub fn build(&mut self) -> Result<Built, Error> {
        let checked = self.check()?;
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

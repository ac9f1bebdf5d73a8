//! A permit project on disk: finding `permit.yaml`, reading its config, listing model files.

use crate::config::{self, Config};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::error::Error;
use crate::model::load::Input;
use crate::source::SourceMap;
use std::path::{Path, PathBuf};

/// A project found on disk.
pub struct Project {
    /// The folder holding `permit.yaml`.
    pub root: PathBuf,
    pub config: Config,
    /// Every file read so far (permit.yaml first), for rendering diagnostics.
    pub sources: SourceMap,
}

impl Project {
    /// Finds `permit.yaml` in `start` or the nearest parent and reads it.
    pub fn discover(start: &Path) -> Result<Project, Error> {
        let start = start
            .canonicalize()
            .map_err(|e| Error::io(start, e))?;
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
        let mut sources = SourceMap::default();
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                let id = sources.add(config::FILE_NAME.into(), &path, "".into());
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
            }),
            Err(diags) => Err(Error::Config { diags, sources }),
        }
    }

    pub fn policy_dir(&self) -> PathBuf {
        self.root.join(&self.config.policy)
    }

    /// The model files of the working tree, sorted by path.
    pub fn model_inputs(&self) -> Result<Vec<Input>, Error> {
        let dir = self.policy_dir();
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "the policy folder `{}` does not exist (set `policy:` in permit.yaml)",
                self.config.policy
            )));
        }
        let mut files = Vec::new();
        yaml_files(&dir, &mut files).map_err(|e| Error::io(&dir, e))?;
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                Ok(Input {
                    name: self.display(&path),
                    path,
                    bytes,
                })
            })
            .collect()
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

/// Every `*.yaml` / `*.yml` below `dir`, skipping hidden folders.
pub fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ty = entry.file_type()?;
        if ty.is_dir() {
            yaml_files(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml") | Some("yml")
        ) {
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
        Checked { model, diags, files }
    }
}

/// The current time in nanoseconds since the Unix epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

//! Errors that end a command, and the exit code each maps to (SPEC section 7).
//!
//! `1` (problems found) is not an error here: commands return it as their outcome.

use crate::diagnostics::Diagnostics;
use crate::source::SourceMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `permit.yaml` is broken; the diagnostics say where.
    #[error("permit.yaml is invalid")]
    Config {
        diags: Diagnostics,
        sources: SourceMap,
    },
    #[error("no permit.yaml in `{}` or any parent folder", .0.display())]
    NoProject(PathBuf),
    #[error("{0}")]
    Usage(String),
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Environment(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A usage or config error with a remedy (`help`), e.g. did-you-mean.
    #[error("{message}")]
    UsageHelp { message: String, help: String },
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config { .. }
            | Error::NoProject(_)
            | Error::Usage(_)
            | Error::UsageHelp { .. } => 2,
            Error::Io { .. } | Error::Environment(_) | Error::Internal(_) => 3,
        }
    }

    /// What the user can do about it, when we know.
    pub fn help(&self) -> Option<String> {
        match self {
            Error::NoProject(_) => Some(
                "run `permit init` to create a project, or pass `-C DIR` to point at one".into(),
            ),
            Error::UsageHelp { help, .. } => Some(help.clone()),
            _ => None,
        }
    }
}

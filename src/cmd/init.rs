//! `permit init`: scaffold a working project with an example that uses every model feature.
//!
//! It never overwrites: if any file it would write exists, it refuses and names them all.

use super::Context;
use crate::error::Error;
use std::path::{Path, PathBuf};

/// Create a new permit project: example model, tests, permit.yaml, CI workflow, pre-commit config.
///
/// Example: `permit init demo && permit -C demo check`
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Folder to create the project in (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,

    /// Do not create a git repository when the folder is not inside one.
    #[arg(long)]
    pub no_git: bool,
}

/// The files `init` writes, relative to the project folder.
pub fn scaffold() -> Vec<(&'static str, String)> {
    let schema = serde_json::to_string_pretty(&crate::schema::model_schema()).unwrap_or_default();
    vec![
        ("permit.yaml", include_str!("init/permit.yaml").to_string()),
        (
            "policy/resources.yaml",
            include_str!("init/resources.yaml").to_string(),
        ),
        (
            "policy/roles.yaml",
            include_str!("init/roles.yaml").to_string(),
        ),
        (
            "policy/abac.yaml",
            include_str!("init/abac.yaml").to_string(),
        ),
        (
            "policy/directory.yaml",
            include_str!("init/directory.yaml").to_string(),
        ),
        (
            "guards/viewers.yaml",
            include_str!("init/guards.yaml").to_string(),
        ),
        (
            "custom/custom.rego",
            include_str!("init/custom.rego").to_string(),
        ),
        (
            "tests/documents.yaml",
            include_str!("init/tests.yaml").to_string(),
        ),
        (
            "tests/custom_test.rego",
            include_str!("init/custom_test.rego").to_string(),
        ),
        (".permit/model.schema.json", schema + "\n"),
        (
            ".github/workflows/permit.yaml",
            include_str!("init/workflow.yaml").to_string(),
        ),
        (
            ".pre-commit-config.yaml",
            include_str!("init/pre-commit-config.yaml").to_string(),
        ),
        (".gitignore", include_str!("init/gitignore").to_string()),
    ]
}

pub fn run(ctx: &Context, args: InitArgs) -> Result<u8, Error> {
    let dir = if args.dir.is_absolute() {
        args.dir.clone()
    } else {
        ctx.dir.join(&args.dir)
    };
    let files = scaffold();
    let existing: Vec<&str> = files
        .iter()
        .filter(|(rel, _)| dir.join(rel).exists())
        .map(|(rel, _)| *rel)
        .collect();
    if !existing.is_empty() {
        return Err(Error::Usage(format!(
            "refusing to overwrite existing files in `{}`: {}",
            dir.display(),
            existing.join(", ")
        )));
    }
    write_all(&dir, &files)?;
    let git_note = if args.no_git { None } else { init_git(&dir)? };
    if !ctx.quiet {
        println!("created a permit project in {}", dir.display());
        for (rel, _) in &files {
            println!("  {rel}");
        }
        if let Some(note) = git_note {
            println!("{note}");
        }
        println!(
            "next: `permit -C {} check`, then commit and try `permit test`",
            args.dir.display()
        );
    }
    Ok(0)
}

/// Writes every file, or none: on failure, files written so far are removed again.
fn write_all(dir: &Path, files: &[(&str, String)]) -> Result<(), Error> {
    let mut written: Vec<PathBuf> = Vec::new();
    let mut made_dirs: Vec<PathBuf> = Vec::new();
    let result = (|| {
        for (rel, text) in files {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                let mut missing: Vec<PathBuf> = parent
                    .ancestors()
                    .take_while(|p| !p.exists())
                    .map(Path::to_path_buf)
                    .collect();
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                missing.reverse();
                made_dirs.extend(missing);
            }
            // create_new: never clobber a file that appeared since the check above
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            written.push(path.clone());
            f.write_all(text.as_bytes())
                .map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    })();
    if result.is_err() {
        for p in written.iter().rev() {
            let _ = std::fs::remove_file(p);
        }
        for d in made_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
    result
}

/// Creates a git repository (branch `main`) unless `dir` is already inside one.
fn init_git(dir: &Path) -> Result<Option<String>, Error> {
    if git2::Repository::discover(dir).is_ok() {
        return Ok(None);
    }
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    git2::Repository::init_opts(dir, &opts).map_err(|e| {
        Error::Environment(format!("cannot create a git repository: {}", e.message()))
    })?;
    Ok(Some(
        "initialized a git repository (branch `main`): environments are branches".into(),
    ))
}

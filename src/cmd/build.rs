//! `permit build`: compile the model to Rego modules and `data.json`.

use super::Context;
use crate::error::Error;
use crate::project::{Project, Revision};
use std::path::{Path, PathBuf};

/// Compile the model to OPA Rego and data.json (`data.permit.root` is the entry point), or to
/// an OPA bundle.
///
/// Example: `permit build --out build`, `permit build --ref origin/main --out /tmp/main`, or
/// `permit build --bundle bundle.tar.gz` (signed when permit.yaml sets `bundle.signing_key_env`)
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Folder to write the Rego files and data.json into (replaced as a whole).
    #[arg(long, default_value = "build")]
    pub out: PathBuf,

    /// Build the model as it is at this git ref, without checking it out.
    #[arg(long, value_name = "REF")]
    pub r#ref: Option<String>,

    /// Write a reproducible OPA bundle (tar.gz) to FILE instead of a folder; its `.manifest`
    /// revision is the commit (`<sha>-dirty` for an uncommitted working tree).
    #[arg(long, value_name = "FILE", conflicts_with = "out")]
    pub bundle: Option<PathBuf>,
}

pub fn run(ctx: &Context, args: BuildArgs) -> Result<u8, Error> {
    ctx.format(&[])?;
    let found = Project::discover(&ctx.dir)?;
    if let Some(file) = &args.bundle {
        return bundle(ctx, &found, args.r#ref.as_deref(), file);
    }
    let mut project = match &args.r#ref {
        None => found,
        Some(r) => found.at(&Revision::Ref(r.clone()))?,
    };
    let built = project.build()?;
    super::print_errors(ctx, &built.checked.diags, &project.sources);
    let Some(compiled) = built.compiled else {
        eprintln!(
            "error: not built: the model has {} error(s)",
            built.checked.diags.error_count()
        );
        return Ok(1);
    };
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        ctx.dir.join(&args.out)
    };
    write_output(&out, &compiled)?;
    if !ctx.quiet {
        println!(
            "built {} Rego modules and data.json into {}",
            compiled.modules.len(),
            out.display()
        );
    }
    Ok(0)
}

/// `permit build --bundle FILE`.
fn bundle(
    ctx: &Context,
    project: &Project,
    git_ref: Option<&str>,
    file: &Path,
) -> Result<u8, Error> {
    let key = super::push::signing_key(project)?;
    let rev = match git_ref {
        Some(r) => Revision::Ref(r.to_string()),
        None => Revision::WorkTree,
    };
    let Some(bundle) = super::push::build_bundle(ctx, project, &rev, None, key.as_ref())? else {
        return Ok(1);
    };
    // an absolute `file` replaces the base
    let out = ctx.dir.join(file);
    if out.is_dir() {
        return Err(Error::Usage(format!(
            "`{}` is a folder; `--bundle` takes a file name such as `bundle.tar.gz`",
            out.display()
        )));
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    crate::push::dir::write_atomic(&out, &bundle.bytes).map_err(|e| Error::io(&out, e))?;
    if !ctx.quiet {
        println!(
            "built bundle {} (revision {}{}, sha256 {})",
            out.display(),
            bundle.meta.revision,
            key.map(|k| format!(", signed {}", k.algorithm().name()))
                .unwrap_or_default(),
            bundle.sha256
        );
    }
    Ok(0)
}

/// Writes the build into a fresh sibling folder, then swaps it in, so a failure never leaves a
/// half-written output behind.
pub fn write_output(out: &Path, compiled: &crate::compile::Compiled) -> Result<(), Error> {
    let parent = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "build".into());
    let staging = parent.join(format!(".{name}.permit-tmp"));
    let _ = std::fs::remove_dir_all(&staging);
    let write = || -> Result<(), Error> {
        for m in &compiled.modules {
            let path = staging.join(&m.path);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            std::fs::write(&path, &m.text).map_err(|e| Error::io(&path, e))?;
        }
        let data = staging.join("data.json");
        std::fs::write(&data, compiled.data_json()).map_err(|e| Error::io(&data, e))
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if out.exists() {
        if !out.join("data.json").exists()
            && std::fs::read_dir(out)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false)
        {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(Error::Usage(format!(
                "`{}` exists and is not a permit build output; choose another --out",
                out.display()
            )));
        }
        std::fs::remove_dir_all(out).map_err(|e| Error::io(out, e))?;
    }
    std::fs::rename(&staging, out).map_err(|e| Error::io(out, e))
}

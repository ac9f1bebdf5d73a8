//! `permit hook install|uninstall`: the git pre-commit hook that runs `permit check --staged`.

use super::Context;
use crate::error::Error;
use crate::hook::{self, Foreign, HookError, Installed, Uninstalled};
use crate::project::Project;
use std::path::Path;

/// Install or remove the git pre-commit hook that checks the staged policy.
///
/// Example: `permit hook install`, then every `git commit` runs `permit check --staged`.
#[derive(Debug, clap::Args)]
pub struct HookArgs {
    #[command(subcommand)]
    pub action: HookAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum HookAction {
    /// Install the pre-commit hook (again: adds this project, changes nothing else).
    Install(InstallArgs),
    /// Remove this project from the pre-commit hook; a chained hook goes back in place.
    Uninstall,
}

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Keep an existing pre-commit hook: move it to `pre-commit.local` and run it first.
    #[arg(long, conflicts_with = "force")]
    pub chain: bool,

    /// Replace an existing pre-commit hook (kept as `pre-commit.bak`).
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Context, args: HookArgs) -> Result<u8, Error> {
    ctx.format(&[])?; // text only
    let root = Project::find_root(&ctx.dir)?;
    let repo = crate::git::Repo::try_open(&root)?.ok_or_else(|| Error::UsageHelp {
        message: format!(
            "`{}` is not in a git repository, so there is no commit to hook into",
            root.display()
        ),
        help: "run `git init` first".into(),
    })?;
    let hooks_dir = repo.hooks_dir()?;
    let project = match repo.prefix() {
        "" => ".".to_string(),
        p => p.to_string(),
    };
    let shown = shown(repo.workdir(), &hooks_dir.join(hook::HOOK));
    match args.action {
        HookAction::Install(a) => install(ctx, &hooks_dir, &project, &shown, &a),
        HookAction::Uninstall => uninstall(ctx, &hooks_dir, &project, &shown),
    }
}

fn install(
    ctx: &Context,
    hooks_dir: &Path,
    project: &str,
    shown: &str,
    args: &InstallArgs,
) -> Result<u8, Error> {
    let foreign = match (args.chain, args.force) {
        (true, _) => Foreign::Chain,
        (_, true) => Foreign::Replace,
        _ => Foreign::Refuse,
    };
    let installed = hook::install(hooks_dir, project, current_permit().as_deref(), foreign)
        .map_err(|e| error(e, shown))?;
    if ctx.quiet {
        return Ok(0);
    }
    let what = format!("commits now run `permit -C {project} check --staged`");
    match installed {
        Installed::New => println!("installed `{shown}`: {what}"),
        Installed::Updated => println!("updated `{shown}`: {what}"),
        Installed::Unchanged => println!("`{shown}` is already installed: {what}"),
        Installed::Chained => println!(
            "installed `{shown}`: {what}, after the hook that was there (now `{}`)",
            hook::LOCAL
        ),
        Installed::Replaced(backup) => println!(
            "installed `{shown}`: {what}; the hook that was there is in `{}`",
            backup.display()
        ),
    }
    Ok(0)
}

fn uninstall(ctx: &Context, hooks_dir: &Path, project: &str, shown: &str) -> Result<u8, Error> {
    let done = hook::uninstall(hooks_dir, project).map_err(|e| error(e, shown))?;
    if ctx.quiet {
        return Ok(0);
    }
    match done {
        Uninstalled::Absent => println!("no pre-commit hook is installed (`{shown}`)"),
        Uninstalled::Removed => println!("removed `{shown}`"),
        Uninstalled::Restored => {
            println!("removed permit's hook; `{shown}` is the hook it chained again")
        }
        Uninstalled::Kept(rest) => println!(
            "`{shown}` no longer checks `{project}`; it still checks `{}`",
            rest.join("`, `")
        ),
        Uninstalled::NotListed(all) => println!(
            "`{shown}` does not check `{project}` (it checks `{}`); left as it is",
            all.join("`, `")
        ),
    }
    Ok(0)
}

/// The running binary, for the hook to call; `None` (the hook then uses PATH) when it cannot be
/// named in a shell script.
fn current_permit() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    exe.to_str().map(str::to_string)
}

/// A path as shown: relative to the working tree when inside it.
fn shown(workdir: &Path, path: &Path) -> String {
    let canonical = path
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .and_then(|p| Some(p.join(path.file_name()?)))
        .unwrap_or_else(|| path.to_path_buf());
    canonical
        .strip_prefix(workdir)
        .unwrap_or(&canonical)
        .display()
        .to_string()
}

fn error(e: HookError, shown: &str) -> Error {
    match e {
        HookError::Foreign(_) => Error::UsageHelp {
            message: format!("`{shown}` already exists and was not installed by permit"),
            help: format!(
                "keep it and run it first with `permit hook install --chain` (it moves to \
                 `{}`), or replace it with `permit hook install --force` (kept as `{}`)",
                hook::LOCAL,
                hook::BACKUP
            ),
        },
        HookError::LocalTaken(_) => Error::UsageHelp {
            message: e.to_string(),
            help: format!(
                "merge it into `{shown}` or remove it, then install again; or use `--force`"
            ),
        },
        HookError::NotOurs(_) => Error::UsageHelp {
            message: format!("`{shown}` was not installed by permit; leaving it as it is"),
            help: "remove it by hand if you mean to".into(),
        },
        HookError::BadProject(_) => Error::Usage(e.to_string()),
        HookError::Io { path, source } => Error::Environment(format!(
            "cannot write the hook `{}`: {source}",
            path.display()
        )),
    }
}

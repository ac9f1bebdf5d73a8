//! `permit check`: validate the model (all problems in one run).

use super::Context;
use crate::cli::Format;
use crate::diagnostics::Diagnostics;
use crate::error::Error;
use crate::project::{Checked, Project, Revision};
use crate::source::SourceMap;

/// Validate the model and custom Rego: every problem, with file, line and a fix.
///
/// Exit 0 when valid (warnings allowed), 1 when the model has errors.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,

    /// Check the staged files (what `git commit` records), not the working tree.
    #[arg(long)]
    pub staged: bool,
}

pub fn run(ctx: &Context, args: CheckArgs) -> Result<u8, Error> {
    let format = ctx.format(&[Format::Json, Format::Github])?;
    let mut project = if args.staged {
        Project::discover_at(&ctx.dir, &Revision::Index)?
    } else {
        Project::discover(&ctx.dir)?
    };
    let mut checked = project.check()?;
    lint(&mut project, &mut checked)?;
    let model = (!checked.diags.has_errors()).then_some(&checked.model);
    let environment = crate::guard::current_environment(&project);
    let guards = crate::guard::check(&mut project, model, environment.as_deref())?;
    checked.diags.extend(guards.diags.clone());
    checked.diags.sort();
    let failed = checked.diags.has_errors() || (args.strict && !checked.diags.items.is_empty());
    match format {
        Format::Json => print_json(&checked.diags, &project.sources, failed),
        Format::Github => {
            for d in &checked.diags.items {
                println!(
                    "{}",
                    crate::diagnostics::github_annotation(d, &project.sources)
                );
            }
        }
        _ => {
            super::print_diagnostics(ctx, &checked.diags, &project.sources);
            let (e, w) = (checked.diags.error_count(), checked.diags.warning_count());
            if failed {
                let violated = checked
                    .diags
                    .items
                    .iter()
                    .filter(|d| d.code == "guard::violated")
                    .count();
                let e = e - violated;
                let guard_note = if violated > 0 {
                    format!("; {violated} guard violation{}", plural(violated))
                } else {
                    String::new()
                };
                eprintln!(
                    "error: the model has {e} error{} and {w} warning{}{guard_note}",
                    plural(e),
                    plural(w)
                );
            } else if !ctx.quiet {
                let m = &checked.model;
                let guard_note = if guards.rules > 0 {
                    format!(", {} guard rule{}", guards.rules, plural(guards.rules))
                } else {
                    String::new()
                };
                println!(
                    "ok: {} file{}, {} resources, {} roles, {} users, {} instances{guard_note} ({w} warning{})",
                    checked.files,
                    plural(checked.files),
                    m.resources.len(),
                    m.roles.len() + m.resources.values().map(|r| r.roles.len()).sum::<usize>(),
                    m.users.len(),
                    m.resource_instances.len(),
                    plural(w)
                );
            }
        }
    }
    Ok(u8::from(failed))
}

/// Adds the least-privilege warnings (`crate::lint`), reading the decision tests only for the
/// permissions they name. Skipped on a model with errors, where they would be noise.
fn lint(project: &mut Project, checked: &mut Checked) -> Result<(), Error> {
    if !checked.diags.has_errors() {
        let now = crate::project::now()?;
        let tests = project.config.tests.clone();
        let inputs = project.files(&tests, &[".yaml", ".yml"])?;
        let tested = crate::testing::file::named_permissions(&inputs.unwrap_or_default());
        let found = crate::lint::lint(&checked.model, now, tested.as_ref());
        checked.diags.extend(found);
    }
    crate::lint::cap(&mut checked.diags);
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The `--format json` document: `{ok, errors, warnings, diagnostics}` (also used for config errors).
pub fn print_json(diags: &Diagnostics, sources: &SourceMap, failed: bool) {
    let items: Vec<_> = diags.items.iter().map(|d| d.to_json(sources)).collect();
    let out = serde_json::json!({
        "ok": !failed,
        "errors": diags.error_count(),
        "warnings": diags.warning_count(),
        "diagnostics": items,
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
}

//! `permit push ENV`: build the environment's bundle from its branch and deliver it to the
//! environment's PDPs, verified, with a per-PDP report. Also the pieces `build --bundle` and
//! `pdp status` share: resolving an environment, its PDPs and secrets, and building a bundle.

use super::promote::environment;
use super::Context;
use crate::bundle::{Bundle, Meta, SigningKey};
use crate::cli::Format;
use crate::config::Environment;
use crate::error::Error;
use crate::project::{Project, Revision};
use crate::push::{Outcome, Pdp, Report, Token};
use serde_json::json;
use std::io::IsTerminal;

/// Deliver the environment's bundle to its PDPs and verify each serves the new revision.
///
/// The bundle is built from the environment's branch (`environments.ENV.branch`) unless
/// `--ref` names another commit. A PDP that fails is put back to what it served before, and
/// the command exits 3 naming it; the others are still pushed.
///
/// Example: `permit push staging` or `permit push production --dry-run`
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The environment (a key of `environments` in permit.yaml).
    pub env: String,

    /// Build from this git ref instead of the environment's branch.
    #[arg(long, value_name = "REF")]
    pub r#ref: Option<String>,

    /// Build the bundle and ask each PDP what it serves; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// How many PDPs to push to at once.
    #[arg(long, default_value_t = 16, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
}

pub fn run(ctx: &Context, args: PushArgs) -> Result<u8, Error> {
    let project = Project::discover(&ctx.dir)?;
    let git_ref = match &args.r#ref {
        Some(r) => r.clone(),
        None => environment(&project, &args.env)?.branch.clone(),
    };
    deliver(ctx, &project, &args.env, &git_ref, args.dry_run, args.jobs)
}

/// Builds environment `env`'s bundle from `git_ref` (gated by its guards) and delivers it to
/// the environment's PDPs; `promote --push` calls this after moving the branch.
pub fn deliver(
    ctx: &Context,
    project: &Project,
    env: &str,
    git_ref: &str,
    dry_run: bool,
    jobs: u16,
) -> Result<u8, Error> {
    let format = ctx.format(&[Format::Json])?;
    let env = environment(project, env)?;
    let pdps = pdps(project, env)?;
    let key = signing_key(project)?;
    let Some(bundle) = build_bundle(
        ctx,
        project,
        &Revision::Ref(git_ref.to_string()),
        Some(&env.key.text),
        key.as_ref(),
    )?
    else {
        return Ok(1);
    };
    if !ctx.quiet {
        eprintln!(
            "{} revision {} (`{git_ref}`{}) to {} PDP{} of `{}`",
            if dry_run {
                "dry run: would push"
            } else {
                "pushing"
            },
            crate::push::short(&bundle.meta.revision),
            key.as_ref()
                .map(|k| format!(", signed {}", k.algorithm().name()))
                .unwrap_or_default(),
            pdps.len(),
            if pdps.len() == 1 { "" } else { "s" },
            env.key.text
        );
    }
    let bar = progress(ctx, format, pdps.len());
    let reports = crate::push::fan_out(
        &pdps,
        usize::from(jobs),
        |pdp| crate::push::push(pdp, &bundle, dry_run),
        &|_| {
            if let Some(b) = &bar {
                b.inc(1);
            }
        },
    );
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    print_reports(format, &reports, Some(&bundle.meta.revision));
    Ok(finish(ctx, &reports))
}

/// Prints the failures to stderr; 3 if any PDP failed.
pub fn finish(ctx: &Context, reports: &[Report]) -> u8 {
    let failed: Vec<&Report> = reports.iter().filter(|r| r.outcome.is_failure()).collect();
    for r in &failed {
        eprintln!(
            "error: PDP `{}` {}: {}",
            r.pdp,
            match r.outcome {
                Outcome::RolledBack(_) => "failed and was restored to what it served before",
                Outcome::Broken { .. } => "failed and could NOT be restored; check it now",
                _ => "failed",
            },
            r.outcome.error().unwrap_or_default()
        );
    }
    if failed.is_empty() {
        0
    } else {
        if !ctx.quiet {
            eprintln!("error: {} of {} PDPs failed", failed.len(), reports.len());
        }
        3
    }
}

fn progress(ctx: &Context, format: Format, len: usize) -> Option<indicatif::ProgressBar> {
    if ctx.quiet || format != Format::Text || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} PDPs {elapsed}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

/// The report table (text) or document (JSON) on stdout. `target` is the revision pushed;
/// without one (`pdp status`) a single revision column is shown.
pub fn print_reports(format: Format, reports: &[Report], target: Option<&str>) {
    if format == Format::Json {
        let rows: Vec<_> = reports
            .iter()
            .map(|r| {
                let mut row = json!({"pdp": r.pdp});
                if target.is_some() {
                    row["before"] = json!(r.before);
                    row["after"] = json!(r.after);
                } else {
                    row["revision"] = json!(r.after);
                }
                row["millis"] = json!(r.elapsed.as_millis() as u64);
                row["outcome"] = json!(r.outcome.word());
                row["error"] = json!(r.outcome.error());
                row
            })
            .collect();
        let doc = match target {
            Some(t) => json!({"revision": t, "pdps": rows}),
            None => json!({"pdps": rows}),
        };
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return;
    }
    let show = |r: &Option<String>| {
        r.as_deref()
            .map(crate::push::short)
            .unwrap_or_else(|| "-".into())
    };
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let mut row = vec![r.pdp.clone()];
            if target.is_some() {
                row.push(show(&r.before));
            }
            row.push(show(&r.after));
            row.push(format!("{} ms", r.elapsed.as_millis()));
            row.push(r.outcome.word().to_string());
            row
        })
        .collect();
    let head: Vec<&str> = if target.is_some() {
        vec!["PDP", "BEFORE", "AFTER", "TIME", "OUTCOME"]
    } else {
        vec!["PDP", "REVISION", "TIME", "OUTCOME"]
    };
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 < cells.len() {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            } else {
                s.push_str(c);
            }
        }
        println!("{}", s.trim_end());
    };
    line(&head);
    for r in &rows {
        line(&r.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

/// The PDPs of `env` with their tokens, or a usage error when there are none or a token's
/// variable is unset.
pub fn pdps(project: &Project, env: &Environment) -> Result<Vec<Pdp>, Error> {
    let listed = project
        .config
        .pdps
        .get(env.key.text.as_str())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| Error::UsageHelp {
            message: format!("environment `{}` has no PDPs", env.key.text),
            help: format!(
                "list them in permit.yaml: `pdps: {{{}: [{{url: \"http://127.0.0.1:8181\"}}]}}`",
                env.key.text
            ),
        })?;
    let mut out = Vec::with_capacity(listed.len());
    let mut problems = Vec::new();
    for p in listed {
        let target = match crate::push::target(&p.url.text, &project.root) {
            Ok(t) => t,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let token = match &p.token_env {
            None => None,
            Some(var) => match secret(var) {
                Some(t) => Some(Token::new(t)),
                None => {
                    problems.push(format!(
                        "PDP `{}` takes its token from `${var}` (`token_env`), which is not set",
                        p.url.text
                    ));
                    continue;
                }
            },
        };
        out.push(Pdp {
            url: p.url.text.to_string(),
            target,
            token,
            environment: env.key.text.to_string(),
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Usage(problems.join("\n       ")))
    }
}

/// A non-empty environment variable.
fn secret(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The signing key `bundle.signing_key_env` names, if the project signs bundles.
pub fn signing_key(project: &Project) -> Result<Option<SigningKey>, Error> {
    let b = &project.config.bundle;
    let Some(var) = &b.signing_key_env else {
        if let Some(alg) = &b.signing_alg {
            return Err(Error::Usage(format!(
                "`bundle.signing_alg: {alg}` is set but `bundle.signing_key_env` is not; name the variable holding the key"
            )));
        }
        return Ok(None);
    };
    let Some(value) = secret(var) else {
        return Err(Error::UsageHelp {
            message: format!(
                "bundles are signed (`bundle.signing_key_env: {var}`) but `${var}` is not set"
            ),
            help: format!(
                "export {var} with an HS256 secret or an RS256 private key (PEM), or remove `signing_key_env`"
            ),
        });
    };
    SigningKey::new(value, b.signing_alg.as_deref())
        .map(Some)
        .map_err(|e| Error::Usage(format!("`${var}`: {e}")))
}

/// Builds the bundle of `project` at `rev`. `None` when the model has errors (printed).
pub fn build_bundle(
    ctx: &Context,
    project: &Project,
    rev: &Revision,
    environment: Option<&str>,
    key: Option<&SigningKey>,
) -> Result<Option<Bundle>, Error> {
    if *rev == Revision::Index {
        // a bundle's revision names a commit or a working tree; staged files have neither
        return Err(Error::Usage(
            "bundles are built from a git ref or the working tree, not the git index".into(),
        ));
    }
    let mut at = project.at(rev)?;
    let built = at.build()?;
    super::print_errors(ctx, &built.checked.diags, &at.sources);
    let Some(compiled) = built.compiled else {
        eprintln!(
            "error: no bundle: the model{} has {} error(s)",
            at.at_text(),
            built.checked.diags.error_count()
        );
        return Ok(None);
    };
    // Delivering to an environment: its guards must hold (a plain `build --bundle` is not gated).
    if let Some(env) = environment {
        let guards = crate::guard::check(&mut at, Some(&built.checked.model), Some(env))?;
        super::print_errors(ctx, &guards.diags, &at.sources);
        if guards.failed() {
            eprintln!(
                "error: no bundle for `{env}`: guards: {}; nothing was pushed",
                guards.summary()
            );
            return Ok(None);
        }
    }
    let (revision, source) = match rev {
        Revision::Ref(r) => (crate::git::Repo::open(&project.root)?.sha(r)?, r.clone()),
        Revision::WorkTree | Revision::Index => (
            worktree_revision(project, &compiled)?,
            "working tree".into(),
        ),
    };
    let meta = Meta {
        revision,
        roots: project.config.bundle.roots.clone(),
        environment: environment.map(str::to_string),
        source,
    };
    crate::bundle::build(&compiled, &meta, key)
        .map(Some)
        .map_err(|e| match e {
            crate::bundle::BundleError::Roots(_) => Error::Usage(format!("permit.yaml: {e}")),
            e => Error::Internal(e.to_string()),
        })
}

/// HEAD's SHA, with `-dirty` when the project's files differ from it; outside git (or before
/// the first commit) a hash of the compiled policy, so the revision still names the content.
fn worktree_revision(
    project: &Project,
    compiled: &crate::compile::Compiled,
) -> Result<String, Error> {
    if let Ok(repo) = crate::git::Repo::open(&project.root) {
        if let Ok(sha) = repo.sha("HEAD") {
            return Ok(if repo.is_dirty()? {
                format!("{sha}-dirty")
            } else {
                sha
            });
        }
    }
    // hashed piece by piece: the data document can be tens of megabytes
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    for m in &compiled.modules {
        for part in [m.path.as_bytes(), b"\0", m.text.as_bytes(), b"\0"] {
            hash.update(part);
        }
    }
    hash.update(compiled.data_json().as_bytes());
    Ok(format!(
        "content-{}",
        &crate::bundle::hex(hash.finish().as_ref())[..16]
    ))
}

//! `permit diff`: what a change does to who-can-do-what, between two versions of the project.

use super::Context;
use crate::cli::Format;
use crate::diff::{self, Side, SideInfo};
use crate::error::Error;
use crate::project::{Project, Revision};

/// Show what a change does to who-can-do-what: model, effective permissions, generated Rego.
///
/// `permit diff` compares HEAD with the working tree; `permit diff REF` compares REF with the
/// working tree; `permit diff BASE HEAD` two refs; `--env staging --env production` two
/// environments' branches. Refs are read from git objects, without checkout.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The base: a branch, tag, SHA or `origin/main` (default: HEAD).
    #[arg(value_name = "BASE")]
    pub base: Option<String>,

    /// The head: a ref (default: the working tree).
    #[arg(value_name = "HEAD")]
    pub head: Option<String>,

    /// Compare environments' branches instead (give it twice: base, then head).
    #[arg(long = "env", value_name = "ENV", conflicts_with_all = ["base", "head"])]
    pub envs: Vec<String>,

    /// Also show the generated Rego and data as a unified diff.
    #[arg(long)]
    pub rego: bool,

    /// Exit 1 when the change does this (`widen`: any permission widens).
    #[arg(long, value_enum, value_name = "WHAT")]
    pub fail_on: Option<FailOn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any role or user gains a permission.
    Widen,
}

pub fn run(ctx: &Context, args: DiffArgs) -> Result<u8, Error> {
    let format = ctx.format(&[Format::Json, Format::Markdown])?;
    let found = Project::discover(&ctx.dir)?;
    let (base, head) = sides(&found, &args)?;
    let now = crate::project::now_ns();
    let (mut b, mut h) = load(&found, &base, &head, args.rego)?;
    crate::timing::mark("diff: both sides loaded");
    let mut broken = false;
    for (side, loaded) in [(&base, &b), (&head, &h)] {
        if loaded.built.checked.diags.has_errors() {
            super::print_errors(ctx, &loaded.built.checked.diags, &loaded.project.sources);
            eprintln!(
                "error: the model at {} has {} error(s); a diff needs both sides valid",
                side.0.label,
                loaded.built.checked.diags.error_count()
            );
            broken = true;
        }
    }
    if broken {
        return Ok(1);
    }
    let mut d = diff::diff(&side(&base, &b), &side(&head, &h), now);
    crate::timing::mark("diff: compared");
    let envs = side_environments(&found, &args);
    let gb = crate::guard::check(
        &mut b.project,
        Some(&b.built.checked.model),
        envs.0.as_deref(),
    )?;
    let gh = crate::guard::check(
        &mut h.project,
        Some(&h.built.checked.model),
        envs.1.as_deref(),
    )?;
    let base_keys = violations(&gb, &b.project)
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    d.add_guards(&base_keys, violations(&gh, &h.project));
    crate::timing::mark("diff: guards checked");
    let text = match format {
        Format::Json => diff::render::json(&d),
        Format::Markdown => diff::render::markdown(&d),
        _ => diff::render::text(&d),
    };
    crate::timing::mark("diff: rendered");
    if !ctx.quiet || format != Format::Text {
        print!("{text}");
        if !text.ends_with('\n') {
            println!();
        }
    }
    crate::timing::mark("diff: printed");
    let code = if gh.failed() {
        super::print_errors(ctx, &gh.diags, &h.project.sources);
        eprintln!(
            "error: {} breaks the guards ({})",
            head.0.label,
            gh.summary()
        );
        1
    } else if args.fail_on == Some(FailOn::Widen) && d.summary.widens {
        eprintln!("error: the change widens permissions (--fail-on widen)");
        1
    } else {
        0
    };
    // The process ends right after: freeing two large models and their comparison one
    // allocation at a time would cost a tenth of a second or more that nobody waits for.
    std::mem::forget((b, h, d, text));
    Ok(code)
}

/// Guard violations as `(key, message, guard file:line)`; the key leaves out line numbers so
/// the same violation matches on both sides of a change.
fn violations(report: &crate::guard::Report, project: &Project) -> Vec<(String, String, String)> {
    let lines = regex::Regex::new(r" at [^ ,]+:\d+").ok();
    report
        .errors()
        .filter(|d| d.code == "guard::violated")
        .map(|d| {
            let key = match &lines {
                Some(re) => re.replace_all(&d.message, "").into_owned(),
                None => d.message.clone(),
            };
            let at = d
                .span
                .map(|s| project.sources.origin(s))
                .unwrap_or_default();
            (
                key,
                d.message.trim_start_matches("guard violated: ").to_string(),
                at,
            )
        })
        .collect()
}

/// The environments whose guards bind each side: named with `--env`, else the environment
/// whose branch a ref names, else (working tree) the checked-out branch's.
fn side_environments(found: &Project, args: &DiffArgs) -> (Option<String>, Option<String>) {
    if let [b, h] = args.envs.as_slice() {
        return (Some(b.clone()), Some(h.clone()));
    }
    let of_branch = |r: &str| crate::guard::environment_of_branch(found, r);
    let base = args
        .base
        .as_deref()
        .map_or_else(|| crate::guard::current_environment(found), of_branch);
    let head = args
        .head
        .as_deref()
        .map_or_else(|| crate::guard::current_environment(found), of_branch);
    (base, head)
}

fn side<'a>(s: &(SideInfo, Revision), l: &'a Loaded) -> Side<'a> {
    Side::new(
        s.0.clone(),
        &l.built.checked,
        &l.project.sources,
        l.built.compiled.as_ref(),
    )
}

struct Loaded {
    project: Project,
    built: crate::project::Built,
}

/// Both sides, checked together (files they share are parsed once) and compiled when `--rego`
/// asks for the generated policy.
fn load(
    found: &Project,
    base: &(SideInfo, Revision),
    head: &(SideInfo, Revision),
    rego: bool,
) -> Result<(Loaded, Loaded), Error> {
    let (mut pb, mut ph) = (found.at(&base.1)?, found.at(&head.1)?);
    let (cb, ch) = Project::check_pair(&mut pb, &mut ph)?;
    let built = |p: &Project, checked| -> Result<crate::project::Built, Error> {
        if rego {
            p.compile(checked)
        } else {
            Ok(crate::project::Built {
                checked,
                compiled: None,
            })
        }
    };
    let (bb, bh) = std::thread::scope(|s| {
        let bb = s.spawn(|| built(&pb, cb));
        (bb.join(), built(&ph, ch))
    });
    let bb = bb.map_err(|_| Error::Internal("compiling the base side panicked".into()))?;
    Ok((
        Loaded {
            project: pb,
            built: bb?,
        },
        Loaded {
            project: ph,
            built: bh?,
        },
    ))
}

/// The two sides named on the command line.
fn sides(
    found: &Project,
    args: &DiffArgs,
) -> Result<((SideInfo, Revision), (SideInfo, Revision)), Error> {
    let repo = crate::git::Repo::open(&found.root)?;
    let at_ref = |label: &str, r: &str| -> Result<(SideInfo, Revision), Error> {
        let sha = repo.sha(r)?;
        Ok((
            SideInfo {
                label: label.to_string(),
                commit: Some(sha.clone()),
            },
            Revision::Ref(sha),
        ))
    };
    let work = || {
        (
            SideInfo {
                label: "working tree".into(),
                commit: None,
            },
            Revision::WorkTree,
        )
    };
    if !args.envs.is_empty() {
        let [b, h] = args.envs.as_slice() else {
            return Err(Error::Usage(format!(
                "`--env` takes two environments (base, then head), not {}",
                args.envs.len()
            )));
        };
        let b = super::promote::environment_ref(found, &repo, b)?;
        let h = super::promote::environment_ref(found, &repo, h)?;
        return Ok((at_ref(&b.0, &b.1)?, at_ref(&h.0, &h.1)?));
    }
    match (&args.base, &args.head) {
        (None, _) => Ok((at_ref("HEAD", "HEAD")?, work())),
        (Some(b), None) => Ok((at_ref(b, b)?, work())),
        (Some(b), Some(h)) => Ok((at_ref(b, b)?, at_ref(h, h)?)),
    }
}

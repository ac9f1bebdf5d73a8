//! `permit promote FROM TO`: move an environment's branch forward to another's commit, gated by
//! validation, compilation, the tests and the environment's widening rule.
//!
//! Nothing moves until every gate passed; the branch update is a compare-and-swap, so a
//! concurrent change to TO makes the promotion fail rather than lose a commit. Every promotion
//! leaves an annotated tag (the audit record) and a reflog entry.

use super::Context;
use crate::diagnostics::did_you_mean;
use crate::diff::{self, Side, SideInfo};
use crate::error::Error;
use crate::git::{Repo, UpdateError};
use crate::project::{Project, Revision};

/// Promote environment FROM into TO (TO must list FROM in `promote_from`), gated by tests.
///
/// Example: `permit promote dev staging --dry-run`, then `permit promote dev staging --remote origin`
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// The environment whose commit is promoted.
    pub from: String,
    /// The environment whose branch moves.
    pub to: String,
    /// Show the plan (commits, permission diff, tests) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// When TO has commits FROM lacks, make a merge commit instead of refusing.
    #[arg(long)]
    pub merge: bool,
    /// Refuse unless FROM is at this commit (what CI reviewed).
    #[arg(long, value_name = "SHA")]
    pub expect: Option<String>,
    /// After a local success, push the moved branch and the audit tag to this remote (system git).
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// Promote even when it widens permissions and TO sets `deny_widening`.
    #[arg(long)]
    pub allow_widening: bool,
    /// After the move, deliver TO's new bundle to its PDPs (as `permit push TO`).
    #[arg(long)]
    pub push: bool,
}

pub fn run(ctx: &Context, args: PromoteArgs) -> Result<u8, Error> {
    ctx.format(&[])?;
    let found = Project::discover(&ctx.dir)?;
    let from_env = environment(&found, &args.from)?;
    let to_env = environment(&found, &args.to)?;
    if to_env.promote_from.as_ref().map(|p| p.text.as_str()) != Some(args.from.as_str()) {
        let now = match &to_env.promote_from {
            Some(p) => format!("it promotes from `{}`", p.text),
            None => "it has no `promote_from`".into(),
        };
        return Err(Error::Usage(format!(
            "environment `{}` does not take promotions from `{}` ({now}); set `promote_from: {}` under `environments.{}` in permit.yaml to allow it",
            args.to, args.from, args.from, args.to
        )));
    }
    let repo = Repo::open(&found.root)?;
    let (_, from_ref) = environment_ref(&found, &repo, &args.from)?;
    let from_sha = repo.sha(&from_ref)?;
    if let Some(expect) = &args.expect {
        if expect.len() < 4 || !from_sha.starts_with(&expect.to_lowercase()) {
            eprintln!(
                "error: `{}` ({}) is at {}, not the expected {expect}; nothing was changed",
                args.from,
                from_env.branch,
                short(&from_sha)
            );
            return Ok(1);
        }
    }
    let to_branch = to_env.branch.clone();
    let Some(to_sha) = repo.branch_tip(&to_branch) else {
        return Err(Error::Environment(format!(
            "environment `{}`'s branch `{to_branch}` does not exist locally; create it (`git branch {to_branch} {}`) or fetch it",
            args.to, short(&from_sha)
        )));
    };
    if repo.is_ancestor(&from_sha, &to_sha)? {
        if !ctx.quiet {
            println!(
                "`{}` already contains `{}` ({}); nothing to promote",
                args.to,
                args.from,
                short(&from_sha)
            );
        }
        return Ok(0);
    }
    let checked_out = repo.head_branch().as_deref() == Some(to_branch.as_str());
    if checked_out && !args.dry_run && repo.worktree_dirty()? {
        return Err(Error::Usage(format!(
            "`{to_branch}` is checked out here and the working tree has uncommitted changes; commit or stash them (or promote from another clone), nothing was changed"
        )));
    }

    let fast_forward = repo.is_ancestor(&to_sha, &from_sha)?;
    let moving = repo.commits_between(&to_sha, &from_sha)?;
    let candidate = if fast_forward {
        from_sha.clone()
    } else {
        let extra = repo.commits_between(&from_sha, &to_sha)?;
        if !args.merge {
            eprintln!(
                "error: `{}` ({to_branch}) has {} commit(s) that `{}` lacks, so it cannot fast-forward:",
                args.to,
                extra.len(),
                args.from
            );
            for (sha, subject) in extra.iter().take(20) {
                eprintln!("  {} {subject}", short(sha));
            }
            eprintln!(
                "  help: bring them into `{}` first (e.g. merge `{to_branch}` into `{}`), or pass --merge to make a merge commit; nothing was changed",
                args.from, from_env.branch
            );
            return Ok(1);
        }
        let message = format!(
            "Promote {} into {}\n\nPermit-Promoted-From: {} {from_sha}\nPermit-Promoted-Into: {} {to_sha}\n",
            args.from, args.to, args.from, args.to
        );
        match repo.merge_commit(&to_sha, &from_sha, &message)? {
            Ok(sha) => sha,
            Err(paths) => {
                eprintln!(
                    "error: merging `{}` into `{}` conflicts in: {}; resolve it by hand, nothing was changed",
                    args.from,
                    args.to,
                    paths.join(", ")
                );
                return Ok(1);
            }
        }
    };

    // The gates, on the candidate as git has it (never the working tree).
    // Both sides at once: the files the promotion leaves alone are parsed once.
    let mut project = found.at(&Revision::Ref(candidate.clone()))?;
    let mut base = found.at(&Revision::Ref(to_sha.clone()))?;
    let (base_checked, candidate_checked) = Project::check_pair(&mut base, &mut project)?;
    let built = project.compile(candidate_checked)?;
    let Some(compiled) = built.compiled.as_ref() else {
        super::print_errors(ctx, &built.checked.diags, &project.sources);
        eprintln!(
            "error: promotion stopped: the model at `{}` ({}) has {} error(s); nothing was changed",
            args.from,
            short(&from_sha),
            built.checked.diags.error_count()
        );
        return Ok(1);
    };
    let gate = super::test::gate(&mut project, compiled)?;
    let guards = crate::guard::check(&mut project, Some(&built.checked.model), Some(&args.to))?;
    let permission_diff = (!base_checked.diags.has_errors()).then(|| {
        let info = |label: &str, sha: &str| SideInfo {
            label: label.to_string(),
            commit: Some(sha.to_string()),
        };
        diff::diff(
            &Side::new(info(&args.to, &to_sha), &base_checked, &base.sources, None),
            &Side::new(
                info(&args.from, &candidate),
                &built.checked,
                &project.sources,
                None,
            ),
            crate::project::now_ns(),
        )
    });
    let widens = permission_diff.as_ref().is_none_or(|d| d.summary.widens);

    // The plan.
    if !ctx.quiet || args.dry_run {
        println!(
            "promote {} ({}) -> {} ({}): {}, {} commit(s)",
            args.from,
            short(&from_sha),
            args.to,
            short(&to_sha),
            if fast_forward {
                "fast-forward"
            } else {
                "merge commit"
            },
            moving.len()
        );
        for (sha, subject) in moving.iter().take(50) {
            println!("  {} {subject}", short(sha));
        }
        match &permission_diff {
            Some(d) => print!("{}", diff::render::text(d)),
            None => println!(
                "permissions: unknown (the model at `{}` has errors)",
                args.to
            ),
        }
        println!("tests: {}", gate.summary());
        println!("guards: {}", guards.summary());
    }
    if !gate.failed.is_empty() {
        for f in gate.failed.iter().take(50) {
            eprintln!("  failed: {f}");
        }
        eprintln!(
            "error: promotion stopped: tests failed at `{}`; nothing was changed",
            args.from
        );
        return Ok(1);
    }
    if guards.failed() {
        super::print_errors(ctx, &guards.diags, &project.sources);
        eprintln!(
            "error: promotion stopped: the guards of `{}` do not hold at `{}` ({}); nothing was changed",
            args.to,
            args.from,
            guards.summary()
        );
        return Ok(1);
    }
    if widens && to_env.deny_widening && !args.allow_widening {
        eprintln!(
            "error: promotion stopped: `{}` sets `deny_widening` and this change widens permissions; review it and pass --allow-widening to accept; nothing was changed",
            args.to
        );
        return Ok(1);
    }
    if args.dry_run {
        println!("dry run: nothing was changed");
        if args.push {
            return super::push::deliver(ctx, &found, &args.to, &candidate, true, 16);
        }
        return Ok(0);
    }

    // The move: audit tag, working tree (when TO is checked out), then compare-and-swap.
    let sig = repo.signature()?;
    let who = format!(
        "{} <{}>",
        sig.name().unwrap_or("unknown"),
        sig.email().unwrap_or("unknown")
    );
    let when = time::OffsetDateTime::now_utc();
    let stamp = when
        .format(&time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let tag = format!("permit/promote/{}/{stamp}-{}", args.to, &candidate[..7]);
    let widening_note = match (&permission_diff, widens) {
        (None, _) => "unknown".to_string(),
        (Some(_), false) => "no".to_string(),
        (Some(_), true) if args.allow_widening => "yes, allowed with --allow-widening".to_string(),
        (Some(_), true) => "yes".to_string(),
    };
    let audit = format!(
        "permit promote {from} -> {to}\n\nfrom: {from} ({fb}) at {from_sha}\nto: {to} ({to_branch}) {to_sha} -> {candidate}\nmode: {mode}\nby: {who}\nat: {at}\ntests: {tests}\nguards: {guards}\nwidens: {widening_note}\n",
        from = args.from,
        fb = from_env.branch,
        to = args.to,
        mode = if fast_forward { "fast-forward" } else { "merge" },
        at = when
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        tests = gate.summary(),
        guards = guards.summary(),
    );
    repo.tag(&tag, &candidate, &audit)?;
    let undo_tag = || {
        let _ = repo.delete_tag(&tag);
    };
    if checked_out {
        if let Err(e) = repo.checkout(&candidate) {
            undo_tag();
            return Err(e);
        }
    }
    hold_for_tests();
    let reflog = format!(
        "permit promote {} -> {}: {} (tests {}; audit tag {tag})",
        args.from,
        args.to,
        if fast_forward {
            "fast-forward"
        } else {
            "merge"
        },
        gate.summary()
    );
    if let Err(e) = repo.update_branch(&to_branch, &candidate, &to_sha, &reflog) {
        undo_tag();
        if checked_out {
            let _ = repo.checkout(&to_sha);
        }
        return Err(match e {
            UpdateError::Moved { now } => Error::Environment(format!(
                "`{to_branch}` moved from {} to {} while promoting; nothing was changed, run the promotion again",
                short(&to_sha),
                short(&now)
            )),
            UpdateError::Git(e) => e,
        });
    }
    if !ctx.quiet {
        println!(
            "promoted {} -> {}: {} is now at {} (audit: tag {tag})",
            args.from,
            args.to,
            to_branch,
            short(&candidate)
        );
    }
    if let Some(remote) = &args.remote {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&found.root)
            .args([
                "push",
                "--atomic",
                remote,
                &format!("{candidate}:refs/heads/{to_branch}"),
                &format!("refs/tags/{tag}"),
            ])
            .output()
            .map_err(|e| Error::Environment(format!("cannot run git: {e}")))?;
        if !out.status.success() {
            return Err(Error::Environment(format!(
                "promoted locally, but pushing `{to_branch}` to `{remote}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        if !ctx.quiet {
            println!("pushed {to_branch} and {tag} to {remote}");
        }
    }
    if args.push {
        // the branch has moved: a failed delivery is reported (exit 3) and can be retried with
        // `permit push TO`; each PDP that failed was put back to what it served
        let code = super::push::deliver(ctx, &found, &args.to, &candidate, false, 16)?;
        if code != 0 {
            eprintln!(
                "error: `{}` was promoted, but delivering it failed; retry with `permit push {}`",
                args.to, args.to
            );
        }
        return Ok(code);
    }
    Ok(0)
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Test hook: with `PERMIT_PROMOTE_HOLD=FILE`, wait (up to a minute) until FILE exists before
/// the branch update, so tests can race promotions deterministically.
fn hold_for_tests() {
    let Some(path) = std::env::var_os("PERMIT_PROMOTE_HOLD") else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    let _ = std::fs::write(path.with_extension("waiting"), b"");
    for _ in 0..600 {
        if path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// An environment of `permit.yaml`, or a usage error with "did you mean".
pub fn environment<'p>(
    project: &'p Project,
    name: &str,
) -> Result<&'p crate::config::Environment, Error> {
    let envs = &project.config.environments;
    envs.get(name).ok_or_else(|| {
        if envs.is_empty() {
            return Error::Usage(format!(
                "unknown environment `{name}`: permit.yaml lists no `environments`"
            ));
        }
        let names: Vec<&str> = envs.keys().map(String::as_str).collect();
        let hint = did_you_mean(name, names.iter().copied())
            .map(|h| format!("; {h}"))
            .unwrap_or_else(|| format!("; the environments are {}", names.join(", ")));
        Error::Usage(format!("unknown environment `{name}`{hint}"))
    })
}

/// The git ref holding environment `name`'s branch: the local branch, else `origin/<branch>`.
/// Returns a label for people and the ref.
pub fn environment_ref(
    project: &Project,
    repo: &Repo,
    name: &str,
) -> Result<(String, String), Error> {
    let env = environment(project, name)?;
    let branch = &env.branch;
    let label = format!("{name} ({branch})");
    if repo.branch_tip(branch).is_some() {
        return Ok((label, format!("refs/heads/{branch}")));
    }
    let remote = format!("refs/remotes/origin/{branch}");
    if repo.exists(&remote) {
        return Ok((label, remote));
    }
    Err(Error::Environment(format!(
        "environment `{name}`'s branch `{branch}` does not exist (nor `origin/{branch}`); fetch it or create it"
    )))
}

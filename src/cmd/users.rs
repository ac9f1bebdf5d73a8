//! `permit users`: who holds which roles, what they may do, and which assignments are stale.

use super::Context;
use crate::access::users::{report, stale, Filter, How, Stale, UserReport, Via, DAY_NS};
use crate::access::Access;
use crate::cli::Format;
use crate::error::Error;
use crate::model::{Model, DEFAULT_TENANT};
use crate::project::Project;
use std::fmt::Write as _;
use std::io::Write;

/// List users with their effective roles and permissions, and stale assignments.
///
/// Roles include those reached through `extends` and those derived along relationships;
/// stale assignments have expired or expire within `--within` days.
/// Example (an offboarding review): `permit users --tenant acme --stale --within 14`
#[derive(Debug, clap::Args)]
pub struct UsersArgs {
    /// Only this tenant: its tenant roles, and instances stored in it (default: every tenant).
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// Assignments expiring within this many days count as stale.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub within: u32,
    /// List only users with stale assignments, and only those assignments.
    #[arg(long)]
    pub stale: bool,
}

pub fn run(ctx: &Context, args: UsersArgs) -> Result<u8, Error> {
    let format = ctx.format(&[Format::Json])?;
    let now = crate::project::now()?;
    let mut project = Project::discover(&ctx.dir)?;
    let checked = project.load_model()?;
    if checked.diags.has_errors() {
        super::print_errors(ctx, &checked.diags, &project.sources);
        eprintln!("error: the model has errors; fix them first (`permit check`)");
        return Ok(1);
    }
    let model = &checked.model;
    if let Some(t) = &args.tenant {
        known_tenant(model, t)?;
    }
    let access = Access::new(model, now);
    let filter = Filter {
        tenant: args.tenant.as_deref(),
        within_ns: i64::from(args.within).saturating_mul(DAY_NS),
    };
    let sources = &project.sources;
    // one user at a time: a directory of 100,000 users is never held as reports all at once
    let shown = model.users.values().filter_map(|u| {
        let stale = stale(&access, sources, u, now, filter);
        if args.stale && stale.is_empty() {
            return None;
        }
        let r = report(&access, u, stale, filter);
        (args.stale || args.tenant.is_none() || !r.is_empty()).then_some(r)
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match format {
        Format::Json => write_json(&mut out, now, &args, shown),
        _ => write_text(&mut out, &Widths::of(&access), ctx.quiet, &args, shown),
    }
    .and_then(|()| out.flush());
    match written {
        // a reader that stops early (`permit users | head`) is not an error
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Environment(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(0),
    }
}

/// A usage error naming the tenants there are, when `tenant` is not one of them.
fn known_tenant(model: &Model, tenant: &str) -> Result<(), Error> {
    let mut known: Vec<&str> = model
        .tenants
        .keys()
        .map(crate::model::Text::as_str)
        .collect();
    if !known.contains(&DEFAULT_TENANT) {
        known.push(DEFAULT_TENANT);
    }
    if known.contains(&tenant) {
        return Ok(());
    }
    known.sort_unstable();
    let help =
        crate::diagnostics::did_you_mean(tenant, known.iter().copied()).unwrap_or_else(|| {
            if known.len() <= 12 {
                format!("the tenants are: {}", known.join(", "))
            } else {
                "the tenants are listed under `tenants:` in the model".into()
            }
        });
    Err(Error::UsageHelp {
        message: format!("unknown tenant `{tenant}`"),
        help,
    })
}

/// `ns` as an RFC 3339 time, to the second.
fn rfc3339(ns: i64) -> String {
    let seconds = ns.div_euclid(1_000_000_000);
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ns.to_string())
}

/// The `--format json` document, `{now, stale_only, tenant, users, within_days}` (keys
/// sorted), written a user at a time: the same bytes `serde_json::to_string_pretty` gives for
/// the whole document.
fn write_json<'m>(
    out: &mut impl Write,
    now: i64,
    args: &UsersArgs,
    users: impl Iterator<Item = UserReport<'m>>,
) -> std::io::Result<()> {
    let now = serde_json::to_string(&rfc3339(now)).map_err(std::io::Error::other)?;
    let tenant = serde_json::to_string(&args.tenant).map_err(std::io::Error::other)?;
    writeln!(out, "{{")?;
    writeln!(out, "  \"now\": {now},")?;
    writeln!(out, "  \"stale_only\": {},", args.stale)?;
    writeln!(out, "  \"tenant\": {tenant},")?;
    write!(out, "  \"users\": [")?;
    let mut first = true;
    for u in users {
        out.write_all(if first { b"\n    " } else { b",\n    " })?;
        let text = serde_json::to_string_pretty(&u).map_err(std::io::Error::other)?;
        out.write_all(text.replace('\n', "\n    ").as_bytes())?;
        first = false;
    }
    if !first {
        write!(out, "\n  ")?;
    }
    writeln!(out, "],")?;
    writeln!(out, "  \"within_days\": {}", args.within)?;
    writeln!(out, "}}")
}

/// Column widths of the roles and permissions tables, from the whole model (the widest user
/// key, place and role), so rows can be written as users are reported.
struct Widths {
    user: usize,
    place: usize,
    role: usize,
}

impl Widths {
    fn of(access: &Access) -> Widths {
        let m = access.model;
        let widest = |header: &str, names: &mut dyn Iterator<Item = &str>| {
            names
                .map(|n| n.chars().count())
                .chain([header.chars().count()])
                .max()
                .unwrap_or(0)
        };
        let instances = access.instances();
        Widths {
            user: widest("USER", &mut m.users.keys().map(crate::model::Text::as_str)),
            place: widest(
                "TENANT/INSTANCE",
                &mut m
                    .tenants
                    .keys()
                    .map(crate::model::Text::as_str)
                    .chain([DEFAULT_TENANT])
                    .chain(instances.iter().copied()),
            ),
            role: widest(
                "ROLE",
                &mut m
                    .roles
                    .keys()
                    .chain(m.resources.values().flat_map(|r| r.roles.keys()))
                    .map(crate::model::Text::as_str),
            ),
        }
    }
}

/// Three tables: roles, permissions, stale assignments (only the last with `--stale`). Role
/// rows are written as users come; permission rows wait, rendered, until the roles are done.
fn write_text<'m>(
    out: &mut impl Write,
    w: &Widths,
    quiet: bool,
    args: &UsersArgs,
    users: impl Iterator<Item = UserReport<'m>>,
) -> std::io::Result<()> {
    let (uw, pw, rw) = (w.user, w.place, w.role);
    let mut perms = String::new();
    let mut stale = vec![row([
        "USER",
        "ROLE",
        "TENANT/INSTANCE",
        "EXPIRES",
        "STATUS",
        "AT",
    ])];
    if !args.stale {
        writeln!(
            out,
            "{:uw$}  {:pw$}  {:rw$}  HOW",
            "USER", "TENANT/INSTANCE", "ROLE"
        )?;
    }
    for u in users {
        if !args.stale {
            let key = u.key;
            for r in &u.tenant_roles {
                let how = how(r.how, r.via);
                writeln!(out, "{key:uw$}  {:pw$}  {:rw$}  {how}", r.tenant, r.role)?;
            }
            for r in &u.instance_roles {
                let how = how(r.how, r.via);
                writeln!(out, "{key:uw$}  {:pw$}  {:rw$}  {how}", r.instance, r.role)?;
            }
            if u.tenant_roles.is_empty() && u.instance_roles.is_empty() {
                writeln!(out, "{key:uw$}  {:pw$}  {:rw$}  no live role", "-", "-")?;
            }
            for (t, p) in &u.permissions.tenants {
                let list: Vec<String> = p.iter().map(ToString::to_string).collect();
                let _ = writeln!(perms, "{key:uw$}  {t:pw$}  {}", list.join(", "));
            }
            for (i, p) in &u.permissions.instances {
                let list: Vec<&str> = p.iter().copied().collect();
                let _ = writeln!(perms, "{key:uw$}  {i:pw$}  {}", list.join(", "));
            }
        }
        for s in &u.stale {
            let place = s.tenant.or(s.instance).unwrap_or("-");
            stale.push(row([u.key, s.role, place, s.expires, &status(s), &s.at]));
        }
    }
    if !args.stale {
        writeln!(out)?;
        writeln!(
            out,
            "{:uw$}  {:pw$}  PERMISSIONS",
            "USER", "TENANT/INSTANCE"
        )?;
        out.write_all(perms.as_bytes())?;
        writeln!(out)?;
    }
    let window = format!(
        "expired, or expiring within {} day{}",
        args.within,
        if args.within == 1 { "" } else { "s" }
    );
    if stale.len() > 1 {
        writeln!(out, "stale assignments ({window}):")?;
        out.write_all(table(&stale).as_bytes())?;
    } else if !quiet {
        writeln!(out, "no stale assignments ({window})")?;
    }
    Ok(())
}

fn status(s: &Stale) -> String {
    if s.expired {
        "expired".to_string()
    } else if s.days_left == 0 {
        "expires within a day".to_string()
    } else {
        format!(
            "expires in {} day{}",
            s.days_left,
            if s.days_left == 1 { "" } else { "s" }
        )
    }
}

fn how(how: How, via: Option<Via>) -> String {
    match (how, via) {
        (How::Assigned, _) | (_, None) => how.as_str().to_string(),
        (How::Extends, Some(v)) => format!("via {v} (extends)"),
        (How::Derived, Some(v)) => format!("derived from {v}"),
    }
}
fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// Left-aligned columns two spaces apart; the last column is not padded.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                let pad = width[c] - cell.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_the_last_is_not_padded() {
        let rows = vec![row(["USER", "ROLE"]), row(["alice", "editor"])];
        assert_eq!(table(&rows), "USER   ROLE\nalice  editor\n");
    }
}

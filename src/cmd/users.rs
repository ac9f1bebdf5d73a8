//! `permit users`: who holds which roles, what they may do, and which assignments are stale.

use super::Context;
use crate::access::users::{report, Filter, How, UserReport, DAY_NS};
use crate::access::Access;
use crate::cli::Format;
use crate::error::Error;
use crate::model::{Model, DEFAULT_TENANT};
use crate::project::Project;
use serde::Serialize;

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

/// The `--format json` document. Keys are declared in sorted order.
#[derive(Serialize)]
struct Doc<'a> {
    /// The instant expiry was judged at, RFC 3339.
    now: String,
    stale_only: bool,
    tenant: Option<&'a str>,
    users: &'a [UserReport<'a>],
    within_days: u32,
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
    let users: Vec<UserReport> = model
        .users
        .values()
        .map(|u| report(&access, &project.sources, u, now, filter))
        .filter(|r| {
            if args.stale {
                !r.stale.is_empty()
            } else {
                args.tenant.is_none() || !r.is_empty()
            }
        })
        .collect();
    match format {
        Format::Json => {
            let doc = Doc {
                now: rfc3339(now),
                stale_only: args.stale,
                tenant: args.tenant.as_deref(),
                users: &users,
                within_days: args.within,
            };
            let text = serde_json::to_string_pretty(&doc)
                .map_err(|e| Error::Internal(format!("cannot write the users document: {e}")))?;
            emit(&(text + "\n"))?;
        }
        _ => emit(&text(ctx, &users, &args))?,
    }
    Ok(0)
}

/// Writes to stdout; a reader that stops early (`permit users | head`) is not an error.
fn emit(text: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Environment(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// A usage error naming the tenants there are, when `tenant` is not one of them.
fn known_tenant(model: &Model, tenant: &str) -> Result<(), Error> {
    let mut known: Vec<&str> = model.tenants.keys().map(String::as_str).collect();
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

/// Three tables: roles, permissions, stale assignments (only the last with `--stale`).
fn text(ctx: &Context, users: &[UserReport], args: &UsersArgs) -> String {
    let mut out = String::new();
    if !args.stale {
        let mut roles = vec![row(["USER", "TENANT/INSTANCE", "ROLE", "HOW"])];
        let mut perms = vec![row(["USER", "TENANT/INSTANCE", "PERMISSIONS"])];
        for u in users {
            for r in &u.tenant_roles {
                roles.push(row([u.key, r.tenant, r.role, &how(r.how, &r.via)]));
            }
            for r in &u.instance_roles {
                roles.push(row([u.key, r.instance, r.role, &how(r.how, &r.via)]));
            }
            if u.tenant_roles.is_empty() && u.instance_roles.is_empty() {
                roles.push(row([u.key, "-", "-", "no live role"]));
            }
            for (t, p) in &u.permissions.tenants {
                let list: Vec<&str> = p.iter().map(String::as_str).collect();
                perms.push(row([u.key, t, &list.join(", ")]));
            }
            for (i, p) in &u.permissions.instances {
                let list: Vec<&str> = p.iter().copied().collect();
                perms.push(row([u.key, i, &list.join(", ")]));
            }
        }
        out.push_str(&table(&roles));
        out.push('\n');
        out.push_str(&table(&perms));
        out.push('\n');
    }
    let mut stale = vec![row([
        "USER",
        "ROLE",
        "TENANT/INSTANCE",
        "EXPIRES",
        "STATUS",
        "AT",
    ])];
    for u in users {
        for s in &u.stale {
            let status = if s.expired {
                "expired".to_string()
            } else if s.days_left == 0 {
                "expires within a day".to_string()
            } else {
                format!(
                    "expires in {} day{}",
                    s.days_left,
                    if s.days_left == 1 { "" } else { "s" }
                )
            };
            let place = s.tenant.or(s.instance).unwrap_or("-");
            stale.push(row([u.key, s.role, place, s.expires, &status, &s.at]));
        }
    }
    let window = format!(
        "expired, or expiring within {} day{}",
        args.within,
        if args.within == 1 { "" } else { "s" }
    );
    if stale.len() > 1 {
        out.push_str(&format!("stale assignments ({window}):\n"));
        out.push_str(&table(&stale));
    } else if !ctx.quiet {
        out.push_str(&format!("no stale assignments ({window})\n"));
    }
    out
}

fn how(how: How, via: &Option<String>) -> String {
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

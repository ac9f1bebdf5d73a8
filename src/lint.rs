//! Least-privilege warnings on a valid model, for `permit check`: roles nobody holds, users
//! without a live role, tenant roles that may do everything, permissions no decision test names.
//!
//! Pure: it reads the model through [`crate::access`] (the same reading of who holds what that
//! `diff` and `permit users` use) and the permissions the decision tests name; it never reads
//! files or prints. Every walk is linear in the model, and [`cap`] keeps each code to
//! [`SHOWN`] warnings plus one that counts the rest, so a 10,000-user directory gives a
//! screenful, not 10,000 lines.

use crate::access::Access;
use crate::compile::data::role_closure;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::{Model, Name, Scope};
use crate::source::Span;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A tenant or resource role that no user holds.
pub const UNHELD_ROLE: &str = "lint::unheld-role";
/// A user whose every assignment expired, or with neither a role nor an attribute.
pub const NO_ROLES: &str = "lint::no-roles";
/// A tenant role with every action on every resource type.
pub const SUPERUSER: &str = "lint::superuser";
/// A granted permission that no decision test names.
pub const UNTESTED: &str = "lint::untested";

/// How many warnings of one code are shown one by one; the rest are counted in one more.
pub const SHOWN: usize = 20;

/// The codes [`cap`] limits, with how to name the ones it leaves out.
const CAPPED: &[(&str, &str)] = &[
    (UNHELD_ROLE, "roles nobody holds"),
    (NO_ROLES, "users without a live role"),
    (
        SUPERUSER,
        "tenant roles with every action on every resource",
    ),
    (UNTESTED, "permissions no decision test names"),
    ("model::expired", "expired assignments"),
];

/// `(type, action)` pairs the decision tests name in their expectations (allow or deny).
pub type Tested = BTreeSet<(String, String)>;

/// The least-privilege warnings of a model without errors, at instant `now` (ns since the
/// epoch). `tested` is `None` when the project has no decision tests: then no permission is
/// reported as untested (a project without tests gets one finding from `permit test`, not one
/// per permission here).
pub fn lint(model: &Model, now: i64, tested: Option<&Tested>) -> Diagnostics {
    let access = Access::new(model, now);
    let mut out = Diagnostics::default();
    unheld_tenant_roles(&access, &mut out);
    unheld_resource_roles(&access, &mut out);
    users_without_roles(&access, &mut out);
    superusers(&access, &mut out);
    if let Some(tested) = tested {
        untested(model, tested, &mut out);
    }
    out
}

fn unheld_tenant_roles(access: &Access, out: &mut Diagnostics) {
    let m = access.model;
    // the roles assigned, then their `extends` closures: one closure per distinct role
    let mut live: HashSet<&str> = HashSet::new();
    let mut expired: HashSet<&str> = HashSet::new();
    for u in m.users.values() {
        for a in &u.roles {
            if let Scope::Tenant(_) = a.scope {
                if access.live(a) {
                    live.insert(&a.role.text);
                } else {
                    expired.insert(&a.role.text);
                }
            }
        }
    }
    let closure = |roles: &HashSet<&str>| -> HashSet<String> {
        roles
            .iter()
            .flat_map(|r| role_closure(r, |n| m.roles.get(n).map(|x| &x.extends)))
            .collect()
    };
    let held = closure(&live);
    let once_held = closure(&expired);
    for (name, role) in &m.roles {
        if held.contains(name.as_str()) {
            continue;
        }
        let help = if once_held.contains(name.as_str()) {
            format!(
                "the assignments that held `{name}` have expired: renew one if it is still \
                 needed (`permit users --stale` lists them), or remove the role"
            )
        } else {
            format!(
                "assign it (`{{role: {name}, tenant: T}}` under a user's `roles`), let a held \
                 role extend it, or remove it if nobody needs it"
            )
        };
        out.push(
            Diagnostic::warning(UNHELD_ROLE, format!("no user holds tenant role `{name}`"))
                .at(role.key.span)
                .label("held by nobody")
                .help(help),
        );
    }
}

fn unheld_resource_roles(access: &Access, out: &mut Diagnostics) {
    let held = access.held_resource_roles();
    for (ty, res) in &access.model.resources {
        for (name, role) in &res.roles {
            if held.contains(&(ty.as_str(), name.as_str())) {
                continue;
            }
            out.push(
                Diagnostic::warning(
                    UNHELD_ROLE,
                    format!("no user holds role `{name}` of resource `{ty}` on any instance"),
                )
                .at(role.key.span)
                .label("held by nobody")
                .help(format!(
                    "assign it (`{{role: {name}, resource: \"{ty}:KEY\"}}`), derive it with \
                     `granted_to` from a held role, or remove it if nobody needs it"
                )),
            );
        }
    }
}

/// Users who hold nothing: every assignment expired (a leftover, typically someone who left),
/// or neither a role nor an attribute. A user with stored attributes and no `roles` is how an
/// attribute-rule (ABAC) user is written down, and is not reported.
fn users_without_roles(access: &Access, out: &mut Diagnostics) {
    for u in access.model.users.values() {
        if u.roles.iter().any(|a| access.live(a)) {
            continue;
        }
        let (message, help) = if !u.roles.is_empty() {
            (
                format!(
                    "user `{}` holds no live role: every assignment has expired",
                    u.key.text
                ),
                "if they left, remove the user (offboarding); otherwise renew an assignment \
                 (`permit users --stale` lists expired ones)",
            )
        } else if u.attributes.is_empty() {
            (
                format!("user `{}` holds no role and has no attributes", u.key.text),
                "the entry grants nothing: assign a role, or remove the user",
            )
        } else {
            continue;
        };
        out.push(
            Diagnostic::warning(NO_ROLES, message)
                .at(u.key.span)
                .label("no live role")
                .help(help),
        );
    }
}

fn superusers(access: &Access, out: &mut Diagnostics) {
    let m = access.model;
    let every: BTreeMap<&str, usize> = m
        .resources
        .iter()
        .filter(|(_, r)| !r.actions.is_empty())
        .map(|(ty, r)| (ty.as_str(), r.actions.len()))
        .collect();
    if every.is_empty() {
        return;
    }
    for (name, role) in &m.roles {
        let mut granted: HashMap<&str, usize> = HashMap::new();
        for (ty, _, _) in access.tenant_role_grants(name).into_iter().flatten() {
            *granted.entry(ty).or_default() += 1;
        }
        if every.iter().any(|(ty, n)| granted.get(ty) != Some(n)) {
            continue;
        }
        // Every action listed one by one is a deliberate choice that new actions do not join;
        // a `*` is what silently grows, so only roles with one are reported.
        let Some((holder, star)) = star_permission(m, name) else {
            continue;
        };
        let (span, label) = if holder == name.as_str() {
            (
                star.span,
                format!(
                    "`{}`: every action of `{}`",
                    star.text,
                    star.text.trim_end_matches(":*")
                ),
            )
        } else {
            (
                role.key.span,
                format!(
                    "every action through `extends` (`{}` of `{holder}`)",
                    star.text
                ),
            )
        };
        out.push(
            Diagnostic::warning(
                SUPERUSER,
                format!("tenant role `{name}` grants every action on every resource"),
            )
            .at(span)
            .label(label)
            .help(
                "a role that may do everything is a super-user: grant the actions it needs \
                 (`type:action`), or keep it for few users with `expires` on their assignments",
            ),
        );
    }
}

/// The first `type:*` permission of tenant role `name` and the role that has it: its own
/// before those of the roles it extends.
fn star_permission<'m>(m: &'m Model, name: &str) -> Option<(&'m str, &'m Name)> {
    let is_star = |p: &&Name| p.text.ends_with(":*");
    let (key, own) = m.roles.get_key_value(name)?;
    if let Some(p) = own.permissions.iter().find(is_star) {
        return Some((key, p));
    }
    role_closure(name, |n| m.roles.get(n).map(|r| &r.extends))
        .iter()
        .filter_map(|r| m.roles.get_key_value(r.as_str()))
        .find_map(|(k, r)| r.permissions.iter().find(is_star).map(|p| (k.as_str(), p)))
}

/// Every `(type, action)` a role or rule grants, at the first permission that grants it:
/// tenant roles, then resource roles, then condition-set rules, each in name order.
fn grants(m: &Model) -> BTreeMap<(&str, &str), Span> {
    let mut out = BTreeMap::new();
    let mut add = |ty: &str, action: &str, p: &Name| {
        let Some((ty, res)) = m.resources.get_key_value(ty) else {
            return;
        };
        for a in res.actions.keys().filter(|a| action == "*" || *a == action) {
            out.entry((ty.as_str(), a.as_str())).or_insert(p.span);
        }
    };
    for role in m.roles.values() {
        for p in &role.permissions {
            if let Some((ty, action)) = p.text.split_once(':') {
                add(ty, action, p);
            }
        }
    }
    for (ty, res) in &m.resources {
        for role in res.roles.values() {
            for p in &role.permissions {
                add(ty, &p.text, p);
            }
        }
    }
    for rule in &m.condition_set_rules {
        if let Some((ty, action)) = rule.permission.text.split_once(':') {
            add(ty, action, &rule.permission);
        }
    }
    out
}

fn untested(m: &Model, tested: &Tested, out: &mut Diagnostics) {
    let named: HashSet<(&str, &str)> = tested
        .iter()
        .map(|(t, a)| (t.as_str(), a.as_str()))
        .collect();
    for ((ty, action), span) in grants(m) {
        if named.contains(&(ty, action)) {
            continue;
        }
        out.push(
            Diagnostic::warning(UNTESTED, format!("no decision test names `{ty}:{action}`"))
                .at(span)
                .label(format!("grants `{ty}:{action}`"))
                .help(format!(
                    "add a decision test with `resource: {ty}`, `action: {action}` and `expect: \
                 allow` (or `deny`), so a change to who may do it fails a test"
                )),
        );
    }
}

/// Keeps the first [`SHOWN`] warnings of each capped code (in file and line order) and
/// replaces the rest with one warning that counts them, at the first one left out.
pub fn cap(diags: &mut Diagnostics) {
    diags.sort();
    let mut seen: HashMap<&'static str, usize> = HashMap::new();
    let mut first_left_out: BTreeMap<&'static str, Option<Span>> = BTreeMap::new();
    diags.items.retain(|d| {
        if d.is_error() || !CAPPED.iter().any(|(c, _)| *c == d.code) {
            return true;
        }
        let n = seen.entry(d.code).or_default();
        *n += 1;
        if *n <= SHOWN {
            return true;
        }
        first_left_out.entry(d.code).or_insert(d.span);
        false
    });
    for (code, span) in first_left_out {
        let what = CAPPED
            .iter()
            .find(|(c, _)| *c == code)
            .map_or("warnings", |(_, w)| w);
        let more = seen.get(code).copied().unwrap_or(0) - SHOWN;
        let mut d = Diagnostic::warning(
            code,
            format!("{more} more {what} (`{code}`), not listed one by one"),
        )
        .label("the first one not listed")
        .help(format!(
            "{SHOWN} are listed above; fix those and run `permit check` again to see the next"
        ));
        if let Some(span) = span {
            d = d.at(span);
        }
        diags.push(d);
    }
    diags.sort();
}

//! Escalations: the changes a reviewer must look at first. A user gaining a role (a new live
//! assignment), a role gaining a permission, and (added by the command, which knows the guards)
//! a new path to a permission a guard protects.

use super::{Effect, RoleChange, Side};
use crate::model::{Assignment, Scope};
use serde::Serialize;
use std::collections::HashSet;

#[derive(Debug, Clone, Serialize)]
pub struct Escalation {
    /// `role-assigned`, `role-widened` or `guard`.
    pub kind: &'static str,
    pub text: String,
    /// `file:line` on the head side.
    pub at: String,
}

/// The escalations a change makes, judged at instant `now`.
pub fn find(base: &Side, head: &Side, roles: &[RoleChange], now: i64) -> Vec<Escalation> {
    let mut out = Vec::new();
    let live = |a: &Assignment| now < crate::compile::data::until(a);
    for (key, user) in &head.model.users {
        let before: HashSet<(&str, bool, &str)> = base
            .model
            .users
            .get(key)
            .map(|u| u.roles.iter().filter(|a| live(a)).map(scope_key).collect())
            .unwrap_or_default();
        for a in user.roles.iter().filter(|a| live(a)) {
            if before.contains(&scope_key(a)) {
                continue;
            }
            let (what, on) = match &a.scope {
                Scope::Tenant(t) => ("role", format!("in tenant `{}`", t.text)),
                Scope::Resource(i) => ("resource role", format!("on `{}`", i.text)),
            };
            out.push(Escalation {
                kind: "role-assigned",
                text: format!("user `{key}` gains {what} `{}` {on}", a.role.text),
                at: head.sources.origin(a.span),
            });
        }
    }
    for r in roles.iter().filter(|r| r.effect == Effect::Widens) {
        let via = if r.via.is_empty() {
            String::new()
        } else {
            format!(" (via `{}`)", r.via)
        };
        out.push(Escalation {
            kind: "role-widened",
            text: format!(
                "{} `{}` gains `{}` {}{via}",
                r.kind, r.role, r.permission, r.scope
            ),
            at: r.at.clone(),
        });
    }
    out
}

/// An assignment as `(role, on a tenant?, tenant or instance)`.
fn scope_key(a: &Assignment) -> (&str, bool, &str) {
    match &a.scope {
        Scope::Tenant(t) => (a.role.text.as_str(), true, t.text.as_str()),
        Scope::Resource(i) => (a.role.text.as_str(), false, i.text.as_str()),
    }
}

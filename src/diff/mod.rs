//! What a change does to who-can-do-what, in three layers (each readable on its own):
//! 1. `model`: entities added, removed or changed, with where they are written;
//! 2. effective permissions, per role (`roles`) and for the directory's users (`users`),
//!    each marked as widening or narrowing, computed by [`crate::access`] (not from Rego);
//! 3. the generated Rego and data as a unified diff (`rego`), on request.
//!
//! Pure: both sides arrive loaded and validated; nothing here reads files or git.

mod model;
mod rego;
pub mod render;
mod roles;
mod users;

use crate::compile::Module;
use crate::model::Model;
use crate::source::{SourceMap, Span};
use serde::Serialize;

/// One side of a diff: a validated model and where it came from.
pub struct Side<'a> {
    pub info: SideInfo,
    pub model: &'a Model,
    pub sources: &'a SourceMap,
    pub custom: &'a [Module],
    /// The compiled policy, when `--rego` asked for it.
    pub compiled: Option<&'a crate::compile::Compiled>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SideInfo {
    /// What the user named: a ref, an environment's branch, or `working tree`.
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

/// Layer 1: one model entity that differs.
#[derive(Debug, Clone, Serialize)]
pub struct ModelChange {
    pub change: Change,
    /// `resource`, `resource role`, `role`, `user`, ...
    pub kind: &'static str,
    pub key: String,
    /// What differs, one line each (`permissions: +document:delete`).
    pub details: Vec<String>,
    /// `file:line` on the side that has it (the head, unless removed).
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Widens,
    Narrows,
}

/// Layer 2, per role: a permission a role (or a condition-set pairing) gains or loses.
#[derive(Debug, Clone, Serialize)]
pub struct RoleChange {
    pub effect: Effect,
    /// `role` (tenant role), `resource role` or `user set`.
    pub kind: &'static str,
    pub role: String,
    /// `type:action`.
    pub permission: String,
    /// Where the permission applies (`in its tenant`, `on the instance`, ...).
    pub scope: String,
    /// The path through the model that grants it (`extends: owner`), empty when direct.
    pub via: String,
    /// `file:line` of the grant (on the side that has it).
    pub at: String,
}

/// Layer 2, concrete: a directory user gains or loses a permission.
#[derive(Debug, Clone, Serialize)]
pub struct UserChange {
    pub effect: Effect,
    pub user: String,
    pub action: String,
    /// `type:key` for one instance, or `type` for every instance in `tenant`.
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The sources that allow it on the side that allows it (`rbac`, `rebac`, `abac`).
    pub sources: Vec<&'static str>,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub base: SideInfo,
    pub head: SideInfo,
    pub summary: Summary,
    pub model: Vec<ModelChange>,
    pub roles: Vec<RoleChange>,
    pub users: Vec<UserChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rego: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub model_changes: usize,
    pub roles_widened: usize,
    pub roles_narrowed: usize,
    pub users_widened: usize,
    pub users_narrowed: usize,
    /// True when any permission widens (what `--fail-on widen` gates on).
    pub widens: bool,
}

/// Compares `base` with `head` at instant `now` (expiry is judged then).
pub fn diff(base: &Side, head: &Side, now: i64) -> Diff {
    let model = model::changes(base, head);
    let (roles, users) = if model.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let (b, h) = std::thread::scope(|s| {
            let b = s.spawn(|| crate::access::Access::new(base.model, now));
            let h = crate::access::Access::new(head.model, now);
            (b.join(), h)
        });
        match b {
            Ok(b) => (
                roles::changes(&b, &h, base.sources, head.sources),
                users::changes(&b, &h, &users::Changed::from_model(&model)),
            ),
            Err(_) => (Vec::new(), Vec::new()),
        }
    };
    let rego = match (base.compiled, head.compiled) {
        (Some(b), Some(h)) => Some(rego::unified(b, h, &base.info.label, &head.info.label)),
        _ => None,
    };
    let count = |xs: &[Effect], e: Effect| xs.iter().filter(|x| **x == e).count();
    let role_effects: Vec<Effect> = roles.iter().map(|r| r.effect).collect();
    let user_effects: Vec<Effect> = users.iter().map(|u| u.effect).collect();
    let summary = Summary {
        model_changes: model.len(),
        roles_widened: count(&role_effects, Effect::Widens),
        roles_narrowed: count(&role_effects, Effect::Narrows),
        users_widened: count(&user_effects, Effect::Widens),
        users_narrowed: count(&user_effects, Effect::Narrows),
        widens: false,
    };
    let widens = summary.roles_widened + summary.users_widened > 0;
    Diff {
        base: base.info.clone(),
        head: head.info.clone(),
        summary: Summary { widens, ..summary },
        model,
        roles,
        users,
        rego,
    }
}

/// `file:line` of a span.
fn at(sources: &SourceMap, span: Span) -> String {
    format!("{}:{}", sources.name(span.file), span.line)
}

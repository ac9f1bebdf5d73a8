//! What a change does to who-can-do-what, in three layers (each readable on its own):
//! 1. `model`: entities added, removed or changed, with where they are written;
//! 2. effective permissions, per role (`roles`) and for the directory's users (`users`),
//!    each marked as widening or narrowing, computed by [`crate::access`] (not from Rego);
//! 3. the generated Rego and data as a unified diff (`rego`), on request.
//!
//! Pure: both sides arrive loaded and validated; nothing here reads files or git.

pub mod escalation;
mod model;
mod rego;
pub mod render;
mod roles;
mod users;

use crate::compile::Module;
use crate::model::Model;
use crate::source::SourceMap;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One side of a diff: a validated model and where it came from.
pub struct Side<'a> {
    pub info: SideInfo,
    pub model: &'a Model,
    pub sources: &'a SourceMap,
    pub custom: &'a [Module],
    /// The compiled policy, when `--rego` asked for it.
    pub compiled: Option<&'a crate::compile::Compiled>,
}

impl<'a> Side<'a> {
    /// A side from a checked (and maybe compiled) project.
    pub fn new(
        info: SideInfo,
        checked: &'a crate::project::Checked,
        sources: &'a SourceMap,
        compiled: Option<&'a crate::compile::Compiled>,
    ) -> Self {
        Side {
            info,
            model: &checked.model,
            sources,
            custom: &checked.custom,
            compiled,
        }
    }
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
    /// What a reviewer should look at first (see [`escalation`]).
    pub escalations: Vec<escalation::Escalation>,
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
    pub escalations: usize,
    /// Violations of the head side's guards (set by the command, which loads them).
    pub guard_violations: usize,
}

/// Compares `base` with `head` at instant `now` (expiry is judged then).
pub fn diff(base: &Side, head: &Side, now: i64) -> Diff {
    // The model layer, and reading each side's effective permissions, are independent: one
    // thread each (the per-role and per-user layers below split the same way).
    let (model, access) = std::thread::scope(|s| {
        let b = s.spawn(|| crate::access::Access::new(base.model, now));
        let h = s.spawn(|| crate::access::Access::new(head.model, now));
        let model = model::changes(base, head);
        (model, (join(b), join(h)))
    });
    crate::timing::mark("diff: model layer; effective permissions read");
    let (roles, users) = if model.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let (b, h) = access;
        let grants = ChangedGrants::new(&b, &h);
        let changed = users::Changed::from_model(&model);
        std::thread::scope(|s| {
            let roles = s.spawn(|| roles::changes(&b, &h, base.sources, head.sources, &grants));
            let users = users::changes(&b, &h, &changed, &grants);
            (join(roles), users)
        })
    };
    crate::timing::mark("diff: per-role and per-user layers");
    let rego = match (base.compiled, head.compiled) {
        (Some(b), Some(h)) => Some(rego::unified(b, h, &base.info.label, &head.info.label)),
        _ => None,
    };
    let escalations = if model.is_empty() {
        Vec::new()
    } else {
        escalation::find(base, head, &roles, now)
    };
    let roles_widened = roles.iter().filter(|r| r.effect == Effect::Widens).count();
    let users_widened = users.iter().filter(|u| u.effect == Effect::Widens).count();
    let summary = Summary {
        model_changes: model.len(),
        roles_widened,
        roles_narrowed: roles.len() - roles_widened,
        users_widened,
        users_narrowed: users.len() - users_widened,
        widens: roles_widened + users_widened > 0,
        escalations: escalations.len(),
        guard_violations: 0,
    };
    Diff {
        base: base.info.clone(),
        head: head.info.clone(),
        summary,
        model,
        roles,
        users,
        escalations,
        rego,
    }
}

impl Diff {
    /// Records the head side's guard violations; those the base side did not have are new
    /// paths to a protected permission, so escalations too.
    /// Each violation is `(key, text, at)`; `key` identifies it across sides (no line numbers).
    pub fn add_guards(
        &mut self,
        base: &std::collections::HashSet<String>,
        head: Vec<(String, String, String)>,
    ) {
        self.summary.guard_violations = head.len();
        for (key, text, at) in head {
            if !base.contains(&key) {
                self.escalations.push(escalation::Escalation {
                    kind: "guard",
                    text,
                    at,
                });
            }
        }
        self.summary.escalations = self.escalations.len();
    }
}

/// The result of a scoped thread; a panic in it is a bug, re-raised (never read as "no change").
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// `each` applied to every item on all cores (in contiguous chunks); outputs in item order.
fn parallel<T: Sync, R: Send>(items: &[T], each: impl Fn(&T, &mut Vec<R>) + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(workers).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let each = &each;
                s.spawn(move || {
                    let mut out = Vec::new();
                    for item in part {
                        each(item, &mut out);
                    }
                    out
                })
            })
            .collect();
        parts.into_iter().flat_map(join).collect()
    })
}

/// Both maps' entries in key order, joined: `(key, base, head)`.
fn merge<'b, 'h, T>(
    base: &'b BTreeMap<crate::model::Text, T>,
    head: &'h BTreeMap<crate::model::Text, T>,
) -> Vec<(&'h str, Option<&'b T>, Option<&'h T>)>
where
    'b: 'h,
{
    let mut out = Vec::with_capacity(head.len().max(base.len()));
    let (mut b, mut h) = (base.iter().peekable(), head.iter().peekable());
    loop {
        let order = match (b.peek(), h.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((bk, _)), Some((hk, _))) => bk.cmp(hk),
        };
        match order {
            Ordering::Less => out.extend(b.next().map(|(k, x)| (k.as_str(), Some(x), None))),
            Ordering::Greater => out.extend(h.next().map(|(k, y)| (k.as_str(), None, Some(y)))),
            Ordering::Equal => {
                if let (Some((_, x)), Some((k, y))) = (b.next(), h.next()) {
                    out.push((k.as_str(), Some(x), Some(y)));
                }
            }
        }
    }
    out
}

/// A set of resource roles, `(type, role)`, looked up without building keys.
#[derive(Debug, Clone, Default)]
pub struct RoleSet(HashMap<String, HashSet<String>>);

impl RoleSet {
    pub fn contains(&self, ty: &str, role: &str) -> bool {
        self.0.get(ty).is_some_and(|r| r.contains(role))
    }

    /// Adds `ty#role`; false when it was there already.
    pub fn insert(&mut self, ty: &str, role: &str) -> bool {
        self.0
            .entry(ty.to_string())
            .or_default()
            .insert(role.to_string())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|(t, rs)| rs.iter().map(move |r| (t.as_str(), r.as_str())))
    }
}

/// The roles whose grants (through `extends` and `*`) differ between the sides, or that exist
/// on one side only: what both the per-role and the per-user layer start from.
pub struct ChangedGrants {
    pub tenant: HashSet<String>,
    pub resource: RoleSet,
}

impl ChangedGrants {
    fn new(b: &crate::access::Access, h: &crate::access::Access) -> Self {
        let mut tenant = HashSet::new();
        for r in b.model.roles.keys().chain(h.model.roles.keys()) {
            let same = match (b.tenant_role_grants(r), h.tenant_role_grants(r)) {
                (Some(x), Some(y)) => x.map(|(t, a, _)| (t, a)).eq(y.map(|(t, a, _)| (t, a))),
                _ => false,
            };
            if !same {
                tenant.insert(r.to_string());
            }
        }
        let mut resource = RoleSet::default();
        for m in [b.model, h.model] {
            for (ty, res) in &m.resources {
                for r in res.roles.keys() {
                    let same = match (b.resource_role_grants(ty, r), h.resource_role_grants(ty, r))
                    {
                        (Some(x), Some(y)) => x.keys().eq(y.keys()),
                        _ => false,
                    };
                    if !same {
                        resource.insert(ty, r);
                    }
                }
            }
        }
        ChangedGrants { tenant, resource }
    }
}

/// Whether two sets of stored attributes hold the same values (wherever they are written).
fn same_attributes(a: &crate::model::Attributes, b: &crate::model::Attributes) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((k, x), (l, y))| k == l && x.value == y.value)
}

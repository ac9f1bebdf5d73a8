//! Violations of one guard rule by one model.
//!
//! `is_allowed: false` is broken by any path that grants the permission: a tenant role's own
//! permission or one it reaches through `extends`, a resource role through `extends` and
//! `granted_to` derivations, a condition-set rule (for a role: one whose user set tests
//! `user.roles` for it), and, for a user set, a member of it in the directory who gets the
//! permission through an assignment or another rule. `is_allowed: true` is broken when no path
//! grants it. Each violation points at the guard rule and names the model key that breaks it.

use super::path::Schema;
use super::{Rule, Who};
use crate::access::Access;
use crate::compile::data::until;
use crate::diagnostics::Diagnostic;
use crate::model::{Condition, ConditionSetRule, Model, Operand, Operator, Scope, Subject};
use crate::source::{SourceMap, Span};
use serde_json::Value;
use std::collections::HashSet;

/// At most this many directory users are named per rule and action; the rest are counted.
const MAX_USERS: usize = 10;

/// What a rule is checked with: the schema walk always, the directory only for user sets.
pub struct Checker<'m> {
    pub model: &'m Model,
    pub schema: Schema<'m>,
    access: Option<Access<'m>>,
    now: i64,
}

impl<'m> Checker<'m> {
    pub fn new(model: &'m Model, now: i64) -> Self {
        Checker {
            model,
            schema: Schema::new(model),
            access: None,
            now,
        }
    }

    fn access(&mut self) -> &Access<'m> {
        let (model, now) = (self.model, self.now);
        self.access.get_or_insert_with(|| Access::new(model, now))
    }

    /// The violations of `rule` (whose resource type is `ty`).
    pub fn rule(&mut self, rule: &Rule, ty: &str, sources: &SourceMap) -> Vec<Diagnostic> {
        let actions: Vec<String> = if rule.action.text == "*" {
            self.model
                .resources
                .get(ty)
                .map(|r| r.actions.keys().map(|k| k.to_string()).collect())
                .unwrap_or_default()
        } else {
            vec![rule.action.text.to_string()]
        };
        let mut out = Vec::new();
        for action in &actions {
            let mut grants = self.grants(rule, ty, action, sources);
            if rule.is_allowed {
                if grants.is_empty() {
                    out.push(missing(rule, ty, action));
                }
            } else {
                if let Who::UserSet(set) = &rule.who {
                    grants.extend(self.members(rule, &set.text, ty, action, sources));
                }
                out.extend(grants.into_iter().map(|g| g.violation(rule, ty, action)));
            }
        }
        out
    }

    /// Every grant of `ty:action` to the rule's subject written in the model.
    fn grants(&self, rule: &Rule, ty: &str, action: &str, sources: &SourceMap) -> Vec<Grant> {
        let mut out = Vec::new();
        if let Who::Role(role) = &rule.who {
            for path in self.schema.paths(&role.text, ty, action) {
                out.push(Grant {
                    text: format!(
                        "{} gets `{ty}:{action}` {}",
                        path.holder,
                        path.describe(sources)
                    ),
                    span: path.grant_span(),
                });
            }
        }
        for csr in abac_rules(self.model, rule, ty, action) {
            let reason = match &rule.who {
                Who::Role(role) => match tests_role(&self.model.user_sets[&csr.user_set.text].conditions, &role.text) {
                    Some(span) => format!(
                        "holders of role `{}` get `{ty}:{action}` through the condition-set rule `{}` -> `{}` at {} (user set `{}` tests `user.roles` for it at {})",
                        role.text,
                        csr.user_set.text,
                        csr.resource_set.text,
                        sources.origin(csr.span),
                        csr.user_set.text,
                        sources.origin(span)
                    ),
                    None => continue,
                },
                Who::UserSet(set) => format!(
                    "user set `{}` gets `{ty}:{action}` on resource set `{}` through the condition-set rule at {}",
                    set.text,
                    csr.resource_set.text,
                    sources.origin(csr.span)
                ),
            };
            out.push(Grant {
                text: reason,
                span: Some(csr.span),
            });
        }
        out
    }

    /// Members of user set `set` in the directory who get `ty:action` another way: a tenant
    /// role, a resource role on an instance, or a condition-set rule of another user set.
    fn members(
        &mut self,
        rule: &Rule,
        set: &str,
        ty: &str,
        action: &str,
        sources: &SourceMap,
    ) -> Vec<Grant> {
        let model = self.model;
        let now = self.now;
        let other_rules: Vec<&ConditionSetRule> = model
            .condition_set_rules
            .iter()
            .filter(|r| {
                r.user_set.text != set
                    && grants_permission(
                        model,
                        r,
                        ty,
                        action,
                        rule.resource_set.as_ref().map(|s| s.text.as_str()),
                    )
            })
            .collect();
        // what can grant it at all, worked out once: the tenant roles holding it, and the
        // resource roles whose holders reach it (so most users' walks are skipped)
        let tenant_roles: HashSet<&str> = model
            .roles
            .keys()
            .map(crate::model::Text::as_str)
            .filter(|r| {
                crate::compile::data::tenant_role_grants(model, r).contains_key(&(ty, action))
            })
            .collect();
        let reaching = self.schema.reaching(ty, action);
        let can = Grants {
            tenant_roles: &tenant_roles,
            reaching: &reaching,
            other_rules: &other_rules,
        };
        let access = self.access();
        let mut found = Vec::new();
        let mut more = 0usize;
        for user in model.users.values() {
            let Some(grant) = member_grant(access, user, set, ty, action, rule, &can, now, sources)
            else {
                continue;
            };
            if found.len() < MAX_USERS {
                found.push(grant);
            } else {
                more += 1;
            }
        }
        if more > 0 {
            found.push(Grant {
                text: format!("{more} more member(s) of user set `{set}` get `{ty}:{action}` (the first {MAX_USERS} are listed)"),
                span: None,
            });
        }
        found
    }
}

/// What can grant one permission, worked out once per rule and action.
struct Grants<'a> {
    tenant_roles: &'a HashSet<&'a str>,
    /// Resource roles `(type, role)` whose holders reach the permission.
    reaching: &'a HashSet<(&'a str, &'a str)>,
    /// Condition-set rules of other user sets granting it.
    other_rules: &'a [&'a ConditionSetRule],
}

/// How one directory user in `set` gets `ty:action`, if they do.
#[allow(clippy::too_many_arguments)]
fn member_grant<'m>(
    access: &Access<'m>,
    user: &'m crate::model::User,
    set: &str,
    ty: &str,
    action: &str,
    rule: &Rule,
    can: &Grants<'_>,
    now: i64,
    sources: &SourceMap,
) -> Option<Grant> {
    let who = &user.key.text;
    for a in &user.roles {
        let Scope::Tenant(t) = &a.scope else {
            continue;
        };
        if now >= until(a) || !can.tenant_roles.contains(a.role.text.as_str()) {
            continue;
        }
        if access.in_user_set(set, user, &t.text, None) {
            return Some(Grant {
                text: format!(
                    "user `{who}` (in user set `{set}` in tenant `{}`) gets `{ty}:{action}` through role `{}` assigned at {}",
                    t.text,
                    a.role.text,
                    sources.origin(a.span)
                ),
                span: Some(a.span),
            });
        }
    }
    let held = access.instance_roles_from(user, |t, r| can.reaching.contains(&(t, r)));
    for (inst, roles) in &held {
        if crate::model::split_instance(inst).map(|(t, _)| t) != Some(ty) {
            continue;
        }
        let Some(role) = roles.iter().find(|r| {
            access
                .resource_role_grants(ty, r)
                .is_some_and(|g| g.contains_key(action))
        }) else {
            continue;
        };
        let tenant = access.instance_tenant(inst);
        let in_scope = access.in_user_set(set, user, tenant, Some(inst))
            && rule
                .resource_set
                .as_ref()
                .is_none_or(|rs| access.in_resource_set(&rs.text, inst, Some(user)));
        if in_scope {
            return Some(Grant {
                text: format!(
                    "user `{who}` (in user set `{set}`) gets `{action}` on `{inst}` through resource role `{role}` on it (user at {})",
                    sources.origin(user.key.span)
                ),
                span: Some(user.key.span),
            });
        }
    }
    let mut tenants: Vec<&str> = access
        .tenant_assignments(user)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    tenants.push(crate::model::DEFAULT_TENANT);
    tenants.dedup();
    for other in can.other_rules {
        if tenants.iter().any(|t| {
            access.in_user_set(set, user, t, None)
                && access.in_user_set(&other.user_set.text, user, t, None)
        }) {
            return Some(Grant {
                text: format!(
                    "user `{who}` is in user set `{set}` and in `{}`, whose condition-set rule at {} grants `{ty}:{action}` on `{}`",
                    other.user_set.text,
                    sources.origin(other.span),
                    other.resource_set.text
                ),
                span: Some(other.span),
            });
        }
    }
    None
}

/// A way the subject gets the permission, and where it is written.
struct Grant {
    text: String,
    span: Option<Span>,
}

impl Grant {
    fn violation(self, rule: &Rule, ty: &str, action: &str) -> Diagnostic {
        let d = Diagnostic::error(
            "guard::violated",
            format!("guard violated: {}", self.text),
        )
        .at(rule.subject_span())
        .label(format!("`{ty}:{action}` must never be granted"))
        .help("remove the grant from the model, or change the guard (it is organisation policy: ask its owners)");
        match self.span {
            Some(span) => d.related(span, "granted here"),
            None => d,
        }
    }
}

fn missing(rule: &Rule, ty: &str, action: &str) -> Diagnostic {
    let who = match &rule.who {
        Who::Role(r) => format!("role `{}`", r.text),
        Who::UserSet(s) => format!("user set `{}`", s.text),
    };
    let on = rule
        .resource_set
        .as_ref()
        .map(|rs| format!(" on resource set `{}`", rs.text))
        .unwrap_or_default();
    Diagnostic::error(
        "guard::violated",
        format!("guard violated: {who} must get `{ty}:{action}`{on}, and nothing in the model grants it"),
    )
    .at(rule.subject_span())
    .label(format!("`{ty}:{action}` must be granted"))
    .help(match &rule.who {
        Who::Role(r) => format!("add `{ty}:{action}` to role `{}` (or `{action}` to resource role `{ty}#{}`)", r.text, r.text),
        Who::UserSet(s) => format!("add a condition-set rule `{{user_set: {}, permission: \"{ty}:{action}\", resource_set: ...}}`", s.text),
    })
}

/// The condition-set rules granting `ty:action` that bear on `rule`: for a user set, its own
/// rules; for a role, every rule (filtered later by whether its user set tests the role).
fn abac_rules<'m>(
    model: &'m Model,
    rule: &Rule,
    ty: &str,
    action: &str,
) -> Vec<&'m ConditionSetRule> {
    let rs = rule.resource_set.as_ref().map(|s| s.text.as_str());
    model
        .condition_set_rules
        .iter()
        .filter(|r| match &rule.who {
            Who::UserSet(set) => r.user_set.text == set.text,
            Who::Role(_) => model.user_sets.contains_key(&r.user_set.text),
        })
        .filter(|r| grants_permission(model, r, ty, action, rs))
        .collect()
}

/// Whether condition-set rule `r` grants `ty:action` (on resource set `rs`, when given).
fn grants_permission(
    model: &Model,
    r: &ConditionSetRule,
    ty: &str,
    action: &str,
    rs: Option<&str>,
) -> bool {
    let Some((pty, pact)) = r.permission.text.split_once(':') else {
        return false;
    };
    let known = super::path::declares(model, ty, action);
    let set_ty = model
        .resource_sets
        .get(&r.resource_set.text)
        .and_then(|s| s.resource.as_ref())
        .map(|t| t.text.as_str());
    pty == ty
        && (pact == action || (pact == "*" && known))
        && set_ty == Some(ty)
        && rs.is_none_or(|rs| rs == r.resource_set.text)
}

/// Where `cond` tests `user.roles` for `role` outside a `not` (so holders of the role can
/// satisfy it through that test).
fn tests_role(cond: &Condition, role: &str) -> Option<Span> {
    match cond {
        Condition::All(cs, _) | Condition::Any(cs, _) => {
            cs.iter().find_map(|c| tests_role(c, role))
        }
        Condition::Not(..) => None,
        Condition::Leaf(leaf) => {
            if leaf.subject != Subject::User || leaf.attr != "roles" {
                return None;
            }
            leaf.checks
                .iter()
                .find(|c| {
                    let Operand::Value(v) = &c.value else {
                        return false;
                    };
                    let has = |v: &Value| match v {
                        Value::String(s) => s == role,
                        Value::Array(items) => items.iter().any(|i| i.as_str() == Some(role)),
                        _ => false,
                    };
                    matches!(
                        c.op,
                        Operator::ArrayContains
                            | Operator::ArraySuperset
                            | Operator::ArrayIntersect
                    ) && has(v)
                })
                .map(|_| leaf.key.span)
        }
    }
}

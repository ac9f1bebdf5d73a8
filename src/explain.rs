//! `permit eval --explain`: which path allowed a decision, or what was missing, with the model
//! file and line of each step.
//!
//! Paths are found by walking the model (roles, `extends`, derivations, relationships); ABAC
//! conditions are asked of the engine itself, so the explanation cannot disagree with the
//! decision on them.

use crate::engine::{Decision, Engine};
use crate::model::{Model, Scope, DEFAULT_TENANT};
use crate::source::{SourceMap, Span};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// `rbac`, `rebac`, `abac`, `custom` or `deny`.
    pub source: &'static str,
    pub text: String,
    /// `file:line` in the model, when the step comes from one place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Indentation: 0 for a path's first step, 1 for the steps that follow from it.
    pub depth: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub steps: Vec<Step>,
}

impl Explanation {
    pub fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            let indent = "  ".repeat(1 + s.depth as usize);
            let at =
                s.at.as_ref()
                    .map(|a| format!("  [{a}]"))
                    .unwrap_or_default();
            let _ = writeln!(out, "{indent}{}: {}{at}", s.source, s.text);
        }
        out
    }
}

struct Q<'a> {
    user: &'a str,
    action: &'a str,
    ty: &'a str,
    key: Option<&'a str>,
    tenant: String,
}

fn parse<'a>(m: &Model, input: &'a Value) -> Option<Q<'a>> {
    let user = input.pointer("/user/key")?.as_str()?;
    let action = input.get("action")?.as_str()?;
    let ty = input.pointer("/resource/type")?.as_str()?;
    let key = input
        .pointer("/resource/key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty());
    let stored = key.and_then(|k| m.resource_instances.get(format!("{ty}:{k}").as_str()));
    let tenant = stored
        .and_then(|i| i.tenant.as_ref().map(|t| t.text.to_string()))
        .or_else(|| {
            input
                .pointer("/resource/tenant")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .unwrap_or_else(|| DEFAULT_TENANT.to_string());
    Some(Q {
        user,
        action,
        ty,
        key,
        tenant,
    })
}

pub fn explain(
    m: &Model,
    sources: &SourceMap,
    input: &Value,
    d: &Decision,
    engine: &mut Engine,
) -> Explanation {
    let now = crate::project::now_ns();
    let at = |s: Span| Some(format!("{}:{}", sources.name(s.file), s.line));
    let mut steps = Vec::new();
    let Some(q) = parse(m, input) else {
        steps.push(Step { source: "deny", text: "the query is malformed (SPEC section 3): it needs user.key, action and resource.type as strings".into(), at: None, depth: 0 });
        return Explanation { steps };
    };
    let push = |steps: &mut Vec<Step>, source, text: String, span: Option<Span>, depth| {
        steps.push(Step {
            source,
            text,
            at: span.and_then(at),
            depth,
        });
    };
    let user = m.users.get(q.user);
    let perm = format!("{}:{}", q.ty, q.action);

    // RBAC: held tenant roles in the decision's tenant, and an `extends` path to the grant.
    let mut held_here = Vec::new();
    if let Some(u) = user {
        for a in &u.roles {
            let Scope::Tenant(t) = &a.scope else { continue };
            let live = a.expires.as_ref().is_none_or(|e| e.until_ns > now);
            if t.text == q.tenant && live {
                held_here.push(a);
            }
        }
    }
    for a in &held_here {
        if let Some(path) = tenant_path(m, &a.role.text, q.ty, q.action) {
            push(
                &mut steps,
                "rbac",
                format!(
                    "`{}` holds tenant role `{}` in `{}`",
                    q.user, a.role.text, q.tenant
                ),
                Some(a.span),
                0,
            );
            for (text, span) in path {
                push(&mut steps, "rbac", text, Some(span), 1);
            }
        }
    }

    // ReBAC: a derivation path from an assignment to a role granting the action on the instance.
    if let (Some(u), Some(key)) = (user, q.key) {
        let target = format!("{}:{key}", q.ty);
        if let Some(path) = rebac_path(m, sources, u, &target, q.action, now) {
            for (i, (text, span)) in path.into_iter().enumerate() {
                push(&mut steps, "rebac", text, Some(span), u8::from(i > 0));
            }
        }
    }

    // ABAC: ask the engine which rules' sets matched.
    for rule in m
        .condition_set_rules
        .iter()
        .filter(|r| r.permission.text == perm || r.permission.text == format!("{}:*", q.ty))
    {
        let ask = |engine: &mut Engine, f: &str, name: &str| {
            let expr = format!(
                "data.permit.abac.{f}({})",
                crate::compile::literal::string(name)
            );
            matches!(engine.query(input, &expr), Ok(Some(Value::Bool(true))))
        };
        let us = ask(engine, "user_set", &rule.user_set.text);
        let rs = ask(engine, "resource_set", &rule.resource_set.text);
        let verdict = match (us, rs) {
            (true, true) => "matched",
            (false, true) => "not matched: the user is not in the user set",
            (true, false) => "not matched: the resource is not in the resource set",
            (false, false) => "not matched: neither set holds",
        };
        push(
            &mut steps,
            "abac",
            format!(
                "rule `{}` may `{}` on `{}`: {verdict}",
                rule.user_set.text, rule.permission.text, rule.resource_set.text
            ),
            Some(rule.span),
            0,
        );
    }

    if d.allowing_sources.iter().any(|s| s == "custom") {
        push(
            &mut steps,
            "custom",
            "`data.permit.custom.allow` is true".into(),
            None,
            0,
        );
    }
    if d.allow {
        return Explanation { steps };
    }

    // Denied: say what was missing.
    let why = match d.reason.as_str() {
        "invalid_query" => "the query is malformed (SPEC section 3)".to_string(),
        "no_such_resource" => {
            let hint = crate::diagnostics::did_you_mean(q.ty, m.resources.keys().map(crate::model::Text::as_str)).map(|h| format!("; {h}")).unwrap_or_default();
            format!("the model has no resource type `{}`{hint}", q.ty)
        }
        "no_such_action" => {
            let actions: Vec<&str> = m.resources.get(q.ty).map(|r| r.actions.keys().map(crate::model::Text::as_str).collect()).unwrap_or_default();
            format!("`{}` has no action `{}` (actions: {})", q.ty, q.action, actions.join(", "))
        }
        "custom_deny" => "`data.permit.custom.deny` vetoed the decision".to_string(),
        "user_not_synced" => format!("user `{}` is not in the model; only ABAC (on query attributes) and custom rules apply to them", q.user),
        "no_user_roles" => {
            let expired: Vec<String> = user.map(|u| u.roles.iter().filter_map(|a| a.expires.as_ref().map(|e| format!("`{}` (expired {})", a.role.text, e.text))).collect()).unwrap_or_default();
            format!("`{}` holds no unexpired role{}", q.user, if expired.is_empty() { String::new() } else { format!("; expired: {}", expired.join(", ")) })
        }
        "no_role_in_tenant" => {
            let elsewhere: Vec<String> = user.map(|u| u.roles.iter().filter_map(|a| match &a.scope { Scope::Tenant(t) => Some(format!("`{}` in `{}`{}", a.role.text, t.text, if a.expires.as_ref().is_some_and(|e| e.until_ns <= now) { " (expired)" } else { "" })), _ => None }).collect()).unwrap_or_default();
            format!("`{}` holds no unexpired tenant role in `{}`{}", q.user, q.tenant, if elsewhere.is_empty() { String::new() } else { format!(" (tenant roles: {})", elsewhere.join(", ")) })
        }
        _ => {
            let held: Vec<String> = held_here.iter().map(|a| format!("`{}`", a.role.text)).collect();
            let would: Vec<String> = m.roles.keys().filter(|r| tenant_path(m, r, q.ty, q.action).is_some()).map(|r| format!("`{r}`")).collect();
            let res_would: Vec<String> = m
                .resources
                .get(q.ty)
                .map(|r| {
                    r.roles
                        .keys()
                        .filter(|role| crate::compile::data::resource_role_grants(r, role).contains_key(q.action))
                        .map(|role| format!("`{role}`"))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "no role grants `{perm}`: tenant roles held in `{}`: {}; tenant roles that would: {}; resource roles that would: {}",
                q.tenant,
                if held.is_empty() { "none".into() } else { held.join(", ") },
                if would.is_empty() { "none".into() } else { would.join(", ") },
                if res_would.is_empty() { "none".into() } else { res_would.join(", ") },
            )
        }
    };
    push(
        &mut steps,
        "deny",
        format!("{} ({})", why, d.reason),
        None,
        0,
    );
    if !d.abac_reason.is_empty() && d.abac_reason != "allow" {
        push(
            &mut steps,
            "deny",
            format!("abac: {}", d.abac_reason),
            None,
            0,
        );
    }
    Explanation { steps }
}

/// The `extends` chain from tenant role `from` to a role granting `ty:action`, if any.
fn tenant_path(m: &Model, from: &str, ty: &str, action: &str) -> Option<Vec<(String, Span)>> {
    fn grants<'r>(
        r: &'r crate::model::Role,
        ty: &str,
        action: &str,
    ) -> Option<&'r crate::model::Name> {
        r.permissions
            .iter()
            .find(|p| p.text == format!("{ty}:{action}") || p.text == format!("{ty}:*"))
    }
    let mut parent: HashMap<&str, (&str, Span)> = HashMap::new();
    let mut todo = VecDeque::from([from]);
    let mut seen = std::collections::HashSet::from([from]);
    while let Some(r) = todo.pop_front() {
        let role = m.roles.get(r)?;
        if let Some(p) = grants(role, ty, action) {
            let mut chain = vec![(format!("`{r}` grants `{}`", p.text), p.span)];
            let mut cur = r;
            while let Some((prev, span)) = parent.get(cur) {
                chain.push((format!("`{prev}` extends `{cur}`"), *span));
                cur = prev;
            }
            chain.reverse();
            return Some(chain);
        }
        for e in &role.extends {
            if seen.insert(&e.text) {
                parent.insert(&e.text, (r, e.span));
                todo.push_back(&e.text);
            }
        }
    }
    None
}

/// A path from one of the user's resource-role assignments to a role granting `action` on
/// `target`: the assignment, then `extends` and derivation steps.
fn rebac_path(
    m: &Model,
    sources: &SourceMap,
    u: &crate::model::User,
    target: &str,
    action: &str,
    now: i64,
) -> Option<Vec<(String, Span)>> {
    type State = (String, String);
    let mut parent: HashMap<State, (State, String, Span)> = HashMap::new();
    let mut todo: VecDeque<State> = VecDeque::new();
    let mut first: HashMap<State, (String, Span)> = HashMap::new();
    for a in &u.roles {
        let Scope::Resource(inst) = &a.scope else {
            continue;
        };
        if a.expires.as_ref().is_some_and(|e| e.until_ns <= now) {
            continue;
        }
        let s = (inst.text.to_string(), a.role.text.to_string());
        if first.contains_key(&s) {
            continue;
        }
        first.insert(
            s.clone(),
            (
                format!(
                    "`{}` holds `{}` on `{}`",
                    u.key.text, a.role.text, inst.text
                ),
                a.span,
            ),
        );
        todo.push_back(s);
    }
    let mut seen: std::collections::HashSet<State> = first.keys().cloned().collect();
    while let Some((inst, role)) = todo.pop_front() {
        let (ty, _) = crate::model::split_instance(&inst)?;
        let res = m.resources.get(ty)?;
        let def = res.roles.get(role.as_str())?;
        if inst == target {
            if let Some(p) = def
                .permissions
                .iter()
                .find(|p| p.text == action || p.text == "*")
            {
                let mut chain = vec![(format!("`{role}` grants `{}`", p.text), p.span)];
                let mut cur = (inst.clone(), role.clone());
                while let Some((prev, text, span)) = parent.get(&cur) {
                    chain.push((text.clone(), *span));
                    cur = prev.clone();
                }
                if let Some((text, span)) = first.get(&cur) {
                    chain.push((text.clone(), *span));
                }
                chain.reverse();
                return Some(chain);
            }
        }
        let mut next: Vec<(State, String, Span)> = def
            .extends
            .iter()
            .map(|e| {
                (
                    (inst.clone(), e.text.to_string()),
                    format!("`{role}` extends `{}`", e.text),
                    e.span,
                )
            })
            .collect();
        for (dty, dres) in &m.resources {
            for (dname, drole) in &dres.roles {
                for g in &drole.granted_to {
                    if g.on_resource.text != ty || g.role.text != role {
                        continue;
                    }
                    for rel in m.relationships.iter().filter(|r| {
                        r.subject.text == inst && r.relation.text == g.linked_by_relation.text
                    }) {
                        if crate::model::split_instance(&rel.object.text)
                            .is_some_and(|(t, _)| t == dty)
                        {
                            next.push((
                                (rel.object.text.to_string(), dname.to_string()),
                                format!("`{role}` on `{inst}` gives `{dname}` on `{}` through `{}` (relationship at {})", rel.object.text, g.linked_by_relation.text, sources.location(rel.span)),
                                g.span,
                            ));
                        }
                    }
                }
            }
        }
        for (s, text, span) in next {
            if seen.insert(s.clone()) {
                parent.insert(s.clone(), ((inst.clone(), role.clone()), text, span));
                todo.push_back(s);
            }
        }
    }
    None
}

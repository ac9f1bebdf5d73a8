//! Model coverage: which grants, derivations and condition-set rules an allow test exercised.
//!
//! The universe is every grant the model makes — (tenant role, `type:action`) and (resource
//! role, action), inherited ones included — every `granted_to` derivation and every
//! condition-set rule. A passing allow test marks what made it allow: the tenant roles the
//! user holds in the decision's tenant that grant the permission; the derivations along the
//! path to a resource role on the instance; the rules whose sets matched (asked of the engine).

use super::file::{Case, Expect};
use crate::compile::data::{resource_role_grants, role_closure, tenant_role_grants};
use crate::engine::Engine;
use crate::model::{split_instance, Model, Scope, DEFAULT_TENANT};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `rbac`, `rebac`, `derivation` or `abac`
    pub kind: &'static str,
    pub text: String,
    /// `file:line` of the model key it comes from
    pub at: String,
    pub covered: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub items: Vec<Item>,
    pub covered: usize,
    pub total: usize,
    pub percent: f64,
}

/// Computes coverage from the passing allow cases.
pub fn compute(
    m: &Model,
    sources: &crate::source::SourceMap,
    cases: &[&Case],
    engine: &mut Engine,
    now: i64,
) -> Coverage {
    let at = |s: crate::source::Span| format!("{}:{}", sources.name(s.file), s.line);
    // the universe, keyed for marking
    let mut items: BTreeMap<(u8, String), Item> = BTreeMap::new();
    for (name, role) in &m.roles {
        for ((ty, a), held) in tenant_role_grants(m, name) {
            let via = if held == name.as_str() {
                String::new()
            } else {
                format!(" (via `{held}`)")
            };
            items.insert(
                (0, format!("{name}|{ty}:{a}")),
                Item {
                    kind: "rbac",
                    text: format!("role `{name}` grants `{ty}:{a}`{via}"),
                    at: at(role.key.span),
                    covered: false,
                },
            );
        }
    }
    for (ty, r) in &m.resources {
        for (name, role) in &r.roles {
            for a in resource_role_grants(r, name).into_keys() {
                items.insert(
                    (1, format!("{ty}|{name}|{a}")),
                    Item {
                        kind: "rebac",
                        text: format!("`{ty}` role `{name}` grants `{a}`"),
                        at: at(role.key.span),
                        covered: false,
                    },
                );
            }
            for (i, g) in role.granted_to.iter().enumerate() {
                items.insert(
                    (2, format!("{ty}|{name}|{i}")),
                    Item {
                        kind: "derivation",
                        text: format!(
                            "`{}` on `{}` gives `{ty}` role `{name}` through `{}`",
                            g.role.text, g.on_resource.text, g.linked_by_relation.text
                        ),
                        at: at(g.span),
                        covered: false,
                    },
                );
            }
        }
    }
    for (i, rule) in m.condition_set_rules.iter().enumerate() {
        items.insert(
            (3, i.to_string()),
            Item {
                kind: "abac",
                text: format!(
                    "`{}` may `{}` on `{}`",
                    rule.user_set.text, rule.permission.text, rule.resource_set.text
                ),
                at: at(rule.span),
                covered: false,
            },
        );
    }

    let graph = Derivations::new(m);
    for case in cases.iter().filter(|c| c.expect == Expect::Allow) {
        let q = &case.input;
        let (Some(user), Some(action), Some(ty)) = (
            q.pointer("/user/key").and_then(|v| v.as_str()),
            q.get("action").and_then(|v| v.as_str()),
            q.pointer("/resource/type").and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        let key = q.pointer("/resource/key").and_then(|v| v.as_str());
        let stored = key.and_then(|k| m.resource_instances.get(format!("{ty}:{k}").as_str()));
        let tenant = stored
            .and_then(|i| i.tenant.as_ref().map(|t| t.text.to_string()))
            .or_else(|| {
                q.pointer("/resource/tenant")
                    .and_then(|v| v.as_str())
                    .map(String::from)
            })
            .unwrap_or_else(|| DEFAULT_TENANT.into());
        if let Some(u) = m.users.get(user) {
            for a in &u.roles {
                let live = a.expires.as_ref().is_none_or(|e| e.until_ns > now);
                if let (Scope::Tenant(t), true) = (&a.scope, live) {
                    if t.text == tenant {
                        if let Some(item) =
                            items.get_mut(&(0, format!("{}|{ty}:{action}", a.role.text)))
                        {
                            item.covered = true;
                        }
                    }
                }
            }
            if let Some(k) = key {
                let target = format!("{ty}:{k}");
                for (held_role, used) in graph.reach(u, &target, now) {
                    if let Some(item) = items.get_mut(&(1, format!("{ty}|{held_role}|{action}"))) {
                        item.covered = true;
                        for d in used {
                            if let Some(item) = items.get_mut(&(2, d)) {
                                item.covered = true;
                            }
                        }
                    }
                }
            }
        }
        for (i, rule) in m.condition_set_rules.iter().enumerate() {
            if rule.permission.text != format!("{ty}:{action}")
                && rule.permission.text != format!("{ty}:*")
            {
                continue;
            }
            let ask = |engine: &mut Engine, f: &str, name: &str| {
                let expr = format!(
                    "data.permit.abac.{f}({})",
                    crate::compile::literal::string(name)
                );
                matches!(
                    engine.query(q, &expr),
                    Ok(Some(serde_json::Value::Bool(true)))
                )
            };
            if ask(engine, "user_set", &rule.user_set.text)
                && ask(engine, "resource_set", &rule.resource_set.text)
            {
                if let Some(item) = items.get_mut(&(3, i.to_string())) {
                    item.covered = true;
                }
            }
        }
    }
    let items: Vec<Item> = items.into_values().collect();
    let covered = items.iter().filter(|i| i.covered).count();
    let total = items.len();
    Coverage {
        percent: if total == 0 {
            100.0
        } else {
            100.0 * covered as f64 / total as f64
        },
        items,
        covered,
        total,
    }
}

/// Resource roles a user reaches on an instance, with the derivations used to get there.
struct Derivations<'m> {
    m: &'m Model,
    /// (type, role) -> [(derived type, derived role, index in granted_to, relation)]
    from: HashMap<(&'m str, &'m str), Vec<(&'m str, &'m str, usize, &'m str)>>,
    related: HashMap<(&'m str, &'m str), Vec<&'m str>>,
}

impl<'m> Derivations<'m> {
    fn new(m: &'m Model) -> Self {
        let mut from: HashMap<(&str, &str), Vec<(&str, &str, usize, &str)>> = HashMap::new();
        for (ty, r) in &m.resources {
            for (name, role) in &r.roles {
                for (i, g) in role.granted_to.iter().enumerate() {
                    from.entry((g.on_resource.text.as_str(), g.role.text.as_str()))
                        .or_default()
                        .push((
                            ty.as_str(),
                            name.as_str(),
                            i,
                            g.linked_by_relation.text.as_str(),
                        ));
                }
            }
        }
        let mut related: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
        for rel in &m.relationships {
            related
                .entry((rel.subject.text.as_str(), rel.relation.text.as_str()))
                .or_default()
                .push(rel.object.text.as_str());
        }
        Derivations { m, from, related }
    }

    /// Every role held on `target` (through extends and derivations) with the derivations used.
    fn reach(
        &self,
        u: &crate::model::User,
        target: &str,
        now: i64,
    ) -> Vec<(String, BTreeSet<String>)> {
        let mut out = Vec::new();
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        let mut todo: VecDeque<(String, String, BTreeSet<String>)> = VecDeque::new();
        for a in &u.roles {
            if let Scope::Resource(inst) = &a.scope {
                if a.expires.as_ref().is_none_or(|e| e.until_ns > now) {
                    todo.push_back((
                        inst.text.to_string(),
                        a.role.text.to_string(),
                        BTreeSet::new(),
                    ));
                }
            }
        }
        while let Some((inst, role, used)) = todo.pop_front() {
            let Some((ty, _)) = split_instance(&inst) else {
                continue;
            };
            let Some(res) = self.m.resources.get(ty) else {
                continue;
            };
            for held in role_closure(&role, |n| res.roles.get(n).map(|r| &r.extends)) {
                if !seen.insert((inst.clone(), held.clone())) {
                    continue;
                }
                if inst == target {
                    out.push((held.clone(), used.clone()));
                }
                let Some(rules) = self.from.get(&(ty, held.as_str())) else {
                    continue;
                };
                for &(dty, drole, i, rel) in rules {
                    let Some(objects) = self.related.get(&(inst.as_str(), rel)) else {
                        continue;
                    };
                    for o in objects {
                        if split_instance(o).is_some_and(|(t, _)| t == dty) {
                            let mut u2 = used.clone();
                            u2.insert(format!("{dty}|{drole}|{i}"));
                            todo.push_back((o.to_string(), drole.to_string(), u2));
                        }
                    }
                }
            }
        }
        out
    }
}

//! The data document: the model as keyed objects, with derived roles materialized.
//!
//! Decisions must not slow down as the directory grows, so every lookup the Rego makes is a key
//! lookup: users by key, roles by name, instances by `type:key`. Two things are precomputed here
//! rather than in Rego:
//! - tenant role grants, closed over `extends` and `*` (`grants[role][type][action]`);
//! - every resource role a user holds, directly or derived through `granted_to` along
//!   relationships (any depth, cycles safe), as `rebac[user][type][key][action] = until`.
//!
//! Expiry stays a decision-time check: each grant carries `until`, the nanosecond (Unix epoch)
//! at which it stops granting ([`NEVER`] for no expiry). A derived grant rests on one assignment,
//! so it holds while that assignment does; several paths to one grant keep the latest `until`.

use crate::model::{split_instance, Model, Scope, DEFAULT_TENANT};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// `until` of an assignment without expiry (i64::MAX ns: the year 2262).
pub const NEVER: i64 = i64::MAX;

type ActionSet = BTreeSet<String>;

/// Every action `role` grants on its own resource type, through `extends` and `*`.
fn resource_role_actions(
    model: &Model,
    ty: &str,
    role: &str,
    memo: &mut HashMap<(String, String), ActionSet>,
) -> ActionSet {
    if let Some(a) = memo.get(&(ty.to_string(), role.to_string())) {
        return a.clone();
    }
    let mut out = ActionSet::new();
    if let Some(r) = model.resources.get(ty) {
        for held in role_closure(role, |n| r.roles.get(n).map(|x| &x.extends)) {
            if let Some(def) = r.roles.get(&held) {
                for p in &def.permissions {
                    if p.text == "*" {
                        out.extend(r.actions.keys().cloned());
                    } else {
                        out.insert(p.text.clone());
                    }
                }
            }
        }
    }
    memo.insert((ty.to_string(), role.to_string()), out.clone());
    out
}

/// `role` and every role it reaches through `extends` (cycle safe), sorted.
pub fn role_closure<'a, F>(role: &str, extends: F) -> BTreeSet<String>
where
    F: Fn(&str) -> Option<&'a Vec<crate::model::Name>>,
{
    let mut seen = BTreeSet::new();
    let mut todo = vec![role.to_string()];
    while let Some(r) = todo.pop() {
        if !seen.insert(r.clone()) {
            continue;
        }
        if let Some(ext) = extends(&r) {
            todo.extend(ext.iter().map(|e| e.text.clone()));
        }
    }
    seen
}

/// Builds `data.permit.model`.
pub fn build(model: &Model) -> Value {
    let mut root = Map::new();
    root.insert("resources".into(), resources(model));
    root.insert("grants".into(), tenant_grants(model));
    root.insert("role_closure".into(), tenant_role_closure(model));
    root.insert("tenants".into(), tenants(model));
    root.insert("users".into(), users(model));
    root.insert("instances".into(), instances(model));
    root.insert("rebac".into(), rebac(model));
    root.insert("abac_rules".into(), abac_rules(model));
    json!({ "permit": { "model": Value::Object(root) } })
}

fn resources(m: &Model) -> Value {
    Value::Object(
        m.resources
            .iter()
            .map(|(k, r)| {
                let actions: Map<String, Value> = r
                    .actions
                    .keys()
                    .map(|a| (a.clone(), Value::Bool(true)))
                    .collect();
                (k.clone(), Value::Object(actions))
            })
            .collect(),
    )
}

fn tenant_grants(m: &Model) -> Value {
    let mut out = Map::new();
    for name in m.roles.keys() {
        let mut by_type: BTreeMap<String, ActionSet> = BTreeMap::new();
        for held in role_closure(name, |n| m.roles.get(n).map(|r| &r.extends)) {
            let Some(role) = m.roles.get(&held) else {
                continue;
            };
            for p in &role.permissions {
                let Some((ty, action)) = p.text.split_once(':') else {
                    continue;
                };
                let Some(res) = m.resources.get(ty) else {
                    continue;
                };
                let set = by_type.entry(ty.to_string()).or_default();
                if action == "*" {
                    set.extend(res.actions.keys().cloned());
                } else {
                    set.insert(action.to_string());
                }
            }
        }
        out.insert(name.clone(), nested_sets(by_type));
    }
    Value::Object(out)
}

fn nested_sets(by_type: BTreeMap<String, ActionSet>) -> Value {
    Value::Object(
        by_type
            .into_iter()
            .map(|(ty, actions)| {
                let set: Map<String, Value> = actions
                    .into_iter()
                    .map(|a| (a, Value::Bool(true)))
                    .collect();
                (ty, Value::Object(set))
            })
            .collect(),
    )
}

fn tenant_role_closure(m: &Model) -> Value {
    Value::Object(
        m.roles
            .keys()
            .map(|name| {
                let all = role_closure(name, |n| m.roles.get(n).map(|r| &r.extends));
                (name.clone(), json!(all.into_iter().collect::<Vec<_>>()))
            })
            .collect(),
    )
}

fn attrs(a: &crate::model::Attributes) -> Value {
    Value::Object(
        a.iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect(),
    )
}

fn tenants(m: &Model) -> Value {
    let mut out: Map<String, Value> = m
        .tenants
        .iter()
        .map(|(k, t)| (k.clone(), json!({ "attributes": attrs(&t.attributes) })))
        .collect();
    out.entry(DEFAULT_TENANT.to_string())
        .or_insert_with(|| json!({ "attributes": {} }));
    Value::Object(out)
}

fn until(a: &crate::model::Assignment) -> i64 {
    a.expires.as_ref().map(|e| e.until_ns).unwrap_or(NEVER)
}

fn users(m: &Model) -> Value {
    let mut out = Map::new();
    for (key, u) in &m.users {
        let mut tenants: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
        let mut latest: Option<i64> = None;
        for a in &u.roles {
            let t = until(a);
            latest = Some(latest.map_or(t, |l| l.max(t)));
            if let Scope::Tenant(tenant) = &a.scope {
                let slot = tenants
                    .entry(&tenant.text)
                    .or_default()
                    .entry(&a.role.text)
                    .or_insert(t);
                *slot = (*slot).max(t);
            }
        }
        let mut user = Map::new();
        user.insert("attributes".into(), attrs(&u.attributes));
        user.insert("tenants".into(), json!(tenants));
        if let Some(l) = latest {
            // the last moment any assignment still holds: `no_user_roles` after it
            user.insert("until".into(), json!(l));
        }
        out.insert(key.clone(), Value::Object(user));
    }
    Value::Object(out)
}

/// `instances[type][key] = {tenant?, attributes}`: nested so the Rego looks an instance up by
/// the query's `type` and `key` without building a `type:key` string.
fn instances(m: &Model) -> Value {
    let mut out: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for (k, i) in &m.resource_instances {
        let Some((ty, key)) = split_instance(k) else {
            continue;
        };
        let mut o = Map::new();
        if let Some(t) = &i.tenant {
            o.insert("tenant".into(), json!(t.text));
        }
        o.insert("attributes".into(), attrs(&i.attributes));
        out.entry(ty)
            .or_default()
            .insert(key.to_string(), Value::Object(o));
    }
    serde_json::to_value(out).unwrap_or(Value::Null)
}

/// How one resource role on one instance leads to others.
struct Graph<'m> {
    /// (type, role) -> roles it reaches through `extends` (including itself)
    extends: HashMap<(&'m str, &'m str), Vec<&'m str>>,
    /// (type A, role R) -> [(relation, type D, role E)]: holding R on `a` gives E on every `d`
    /// whose `relation` is `a`.
    derive: HashMap<(&'m str, &'m str), Vec<(&'m str, &'m str, &'m str)>>,
    /// (subject instance, relation) -> objects
    related: HashMap<(&'m str, &'m str), Vec<&'m str>>,
}

impl<'m> Graph<'m> {
    fn new(m: &'m Model) -> Self {
        let mut extends = HashMap::new();
        let mut derive: HashMap<(&str, &str), Vec<(&str, &str, &str)>> = HashMap::new();
        for (ty, r) in &m.resources {
            for (name, role) in &r.roles {
                let mut reach = vec![name.as_str()];
                let mut i = 0;
                while i < reach.len() {
                    if let Some(def) = r.roles.get(reach[i]) {
                        for e in &def.extends {
                            if r.roles.contains_key(&e.text) && !reach.contains(&e.text.as_str()) {
                                reach.push(&e.text);
                            }
                        }
                    }
                    i += 1;
                }
                extends.insert((ty.as_str(), name.as_str()), reach);
                for g in &role.granted_to {
                    derive
                        .entry((g.on_resource.text.as_str(), g.role.text.as_str()))
                        .or_default()
                        .push((
                            g.linked_by_relation.text.as_str(),
                            ty.as_str(),
                            name.as_str(),
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
        Graph {
            extends,
            derive,
            related,
        }
    }

    /// Every (instance, role) reached from holding `role` on `inst`, the start included.
    fn reach(&self, inst: &'m str, role: &'m str, out: &mut Vec<(&'m str, &'m str)>) {
        let mut seen: std::collections::HashSet<(&str, &str)> = Default::default();
        let mut todo = VecDeque::from([(inst, role)]);
        while let Some((i, r)) = todo.pop_front() {
            let Some((ty, _)) = split_instance(i) else {
                continue;
            };
            let held: &[&str] = self.extends.get(&(ty, r)).map(Vec::as_slice).unwrap_or(&[]);
            let held = if held.is_empty() {
                std::slice::from_ref(&r)
            } else {
                held
            };
            for &h in held {
                if !seen.insert((i, h)) {
                    continue;
                }
                out.push((i, h));
                let Some(rules) = self.derive.get(&(ty, h)) else {
                    continue;
                };
                for &(relation, derived_ty, derived) in rules {
                    let Some(objects) = self.related.get(&(i, relation)) else {
                        continue;
                    };
                    for &o in objects {
                        // the derivation is declared on the object's type
                        let ok = split_instance(o).is_some_and(|(oty, _)| oty == derived_ty);
                        if ok && !seen.contains(&(o, derived)) {
                            todo.push_back((o, derived));
                        }
                    }
                }
            }
        }
    }
}

/// Materialized ReBAC: `rebac[user]["type:key"][action] = until`.
pub fn rebac_grants(m: &Model) -> BTreeMap<&str, BTreeMap<&str, BTreeMap<String, i64>>> {
    let graph = Graph::new(m);
    let mut memo = HashMap::new();
    let mut out: BTreeMap<&str, BTreeMap<&str, BTreeMap<String, i64>>> = BTreeMap::new();
    let mut reached = Vec::new();
    for (key, u) in &m.users {
        for a in &u.roles {
            let Scope::Resource(inst) = &a.scope else {
                continue;
            };
            let t = until(a);
            reached.clear();
            graph.reach(&inst.text, &a.role.text, &mut reached);
            for &(i, role) in &reached {
                let Some((ty, _)) = split_instance(i) else {
                    continue;
                };
                let actions = resource_role_actions(m, ty, role, &mut memo);
                let slot = out.entry(key.as_str()).or_default().entry(i).or_default();
                for action in actions {
                    let e = slot.entry(action).or_insert(t);
                    *e = (*e).max(t);
                }
            }
        }
    }
    out
}

/// `rebac[user][type][key][action] = until`, nested like `instances`.
fn rebac(m: &Model) -> Value {
    let mut out: BTreeMap<&str, BTreeMap<&str, BTreeMap<&str, BTreeMap<String, i64>>>> =
        BTreeMap::new();
    for (user, by_instance) in rebac_grants(m) {
        let slot = out.entry(user).or_default();
        for (inst, actions) in by_instance {
            if let Some((ty, key)) = split_instance(inst) {
                slot.entry(ty).or_default().insert(key, actions);
            }
        }
    }
    serde_json::to_value(out).unwrap_or(Value::Null)
}

/// `abac_rules[type][action] = [[user_set, resource_set], ...]`, `*` expanded.
fn abac_rules(m: &Model) -> Value {
    let mut out: BTreeMap<&str, BTreeMap<&str, BTreeSet<(&str, &str)>>> = BTreeMap::new();
    for rule in &m.condition_set_rules {
        let Some((ty, action)) = rule.permission.text.split_once(':') else {
            continue;
        };
        let Some((ty, res)) = m.resources.get_key_value(ty) else {
            continue;
        };
        let actions: Vec<&str> = if action == "*" {
            res.actions.keys().map(String::as_str).collect()
        } else {
            vec![action]
        };
        for a in actions {
            out.entry(ty.as_str())
                .or_default()
                .entry(a)
                .or_default()
                .insert((rule.user_set.text.as_str(), rule.resource_set.text.as_str()));
        }
    }
    let v: BTreeMap<&str, BTreeMap<&str, Vec<[&str; 2]>>> = out
        .into_iter()
        .map(|(ty, by_action)| {
            let by_action = by_action
                .into_iter()
                .map(|(a, pairs)| (a, pairs.into_iter().map(|(u, r)| [u, r]).collect()))
                .collect();
            (ty, by_action)
        })
        .collect();
    serde_json::to_value(v).unwrap_or(Value::Null)
}

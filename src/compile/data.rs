//! The data document: the model as keyed objects, with derived roles materialized.
//!
//! Decisions must not slow down as the directory grows, so every lookup the Rego makes is a key
//! lookup: users by key, roles by name, instances by type then key. These are precomputed
//! here rather than in Rego:
//! - role grants closed over `extends` and `*`: `grants[role][type][action]` for tenant roles,
//!   `resource_grants[type][role][action]` for resource roles;
//! - every resource role a user holds on an instance, directly or derived through `granted_to`
//!   along relationships (any depth, cycles safe): `rebac[user][type][key][role] = until`;
//! - what the tenant roles a user holds without expiry grant together, per tenant: the roles
//!   are named by one key, `users[u].role_set[t] = "editor,viewer"`, and `role_sets[key]` is
//!   their grants' union (`[type][action]`). The common RBAC decision is then two keyed reads
//!   and no iteration over roles; users holding the same roles share one entry, so the data
//!   grows with the distinct combinations, not with the users;
//! - the user sets and resource sets that read only stored attributes, per stored user and
//!   instance: `users[u].user_sets`, `instances[type][key].resource_sets` (`compile/sets.rs`).
//!
//! Expiry stays a decision-time check: each grant carries `until`, the nanosecond (Unix epoch)
//! at which it stops granting ([`NEVER`] for no expiry). Tenant roles are split by it: those
//! held without expiry are a plain set (`users[u].tenants[t][role] = true`), so the common RBAC
//! decision reads no clock; the others are under `users[u].expiring[t][role] = until`. A derived role rests on one assignment,
//! so it holds while that assignment does; several paths to one role keep the latest `until`.
//!
//! The document is serialized straight from borrowed model data (no intermediate JSON tree):
//! on the large synthetic model it is tens of megabytes.

use super::sets::{BuildTimeSets, Members};
use crate::model::{split_instance, Attributes, Model, Scope, DEFAULT_TENANT};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

/// `until` of an assignment without expiry (i64::MAX ns: the year 2262).
pub const NEVER: i64 = i64::MAX;

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
            todo.extend(ext.iter().map(|e| e.text.to_string()));
        }
    }
    seen
}

type Set<'a> = BTreeMap<&'a str, bool>;

#[derive(serde::Serialize)]
struct Doc<'a> {
    permit: Permit<'a>,
}

#[derive(serde::Serialize)]
struct Permit<'a> {
    model: Data<'a>,
}

#[derive(serde::Serialize)]
struct Data<'a> {
    resources: BTreeMap<&'a str, Set<'a>>,
    grants: BTreeMap<&'a str, BTreeMap<&'a str, Set<'a>>>,
    role_sets: BTreeMap<String, BTreeMap<&'a str, Set<'a>>>,
    resource_grants: BTreeMap<&'a str, BTreeMap<&'a str, Set<'a>>>,
    role_closure: BTreeMap<&'a str, Vec<String>>,
    tenants: BTreeMap<&'a str, AttrsOnly<'a>>,
    users: BTreeMap<&'a str, UserData<'a>>,
    instances: BTreeMap<&'a str, BTreeMap<&'a str, InstanceData<'a>>>,
    rebac: Box<serde_json::value::RawValue>,
    abac_rules: BTreeMap<&'a str, BTreeMap<&'a str, Vec<[&'a str; 2]>>>,
}

/// Stored attributes, serialized as `{name: value}`.
struct Attrs<'a>(Option<&'a Attributes>);

impl Serialize for Attrs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(self.0.map(|a| a.len()))?;
        for (k, v) in self.0.into_iter().flatten() {
            map.serialize_entry(k, &v.value)?;
        }
        map.end()
    }
}

#[derive(serde::Serialize)]
struct AttrsOnly<'a> {
    attributes: Attrs<'a>,
}

#[derive(serde::Serialize)]
struct UserData<'a> {
    attributes: Attrs<'a>,
    /// Roles held without expiry: `{tenant: {role: true}}`.
    tenants: BTreeMap<&'a str, Set<'a>>,
    /// The same roles as one `role_sets` key per tenant: `{tenant: "editor,viewer"}`.
    role_set: BTreeMap<&'a str, String>,
    /// Roles held until a moment: `{tenant: {role: until}}`, only where there are some.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    expiring: BTreeMap<&'a str, BTreeMap<&'a str, i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<i64>,
    /// The user sets decided at build time that hold (`compile/sets.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    user_sets: Option<Members<'a>>,
}

#[derive(serde::Serialize)]
struct InstanceData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<&'a str>,
    attributes: Attrs<'a>,
    /// The resource sets decided at build time that hold (`compile/sets.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_sets: Option<Members<'a>>,
}

/// One user's part of `rebac`: `[type][key][role] = until`.
type UserRebac<'a> = BTreeMap<&'a str, BTreeMap<&'a str, BTreeMap<&'a str, i64>>>;

/// Builds `data.json`: `{"permit": {"model": ...}}`; `sets` are the model's sets decided at
/// build time, whose answers it holds.
pub fn build<'m>(model: &'m Model, sets: &BuildTimeSets<'m>) -> serde_json::Result<String> {
    let grants = tenant_grants(model);
    let users = users(model, sets);
    let doc = Doc {
        permit: Permit {
            model: Data {
                resources: resources(model),
                role_sets: role_sets(&users, &grants),
                grants,
                resource_grants: resource_grants(model),
                role_closure: tenant_role_closure(model),
                tenants: tenants(model),
                users,
                instances: instances(model, sets),
                rebac: rebac(model)?,
                abac_rules: abac_rules(model),
            },
        },
    };
    serde_json::to_string(&doc)
}

fn resources(m: &Model) -> BTreeMap<&str, Set<'_>> {
    m.resources
        .iter()
        .map(|(k, r)| {
            (
                k.as_str(),
                r.actions.keys().map(|a| (a.as_str(), true)).collect(),
            )
        })
        .collect()
}

/// Everything tenant role `name` grants, through `extends` and `*`: `(type, action)` -> the held
/// role whose own permission grants it (the first in name order). Shared with test coverage.
pub fn tenant_role_grants<'m>(m: &'m Model, name: &str) -> BTreeMap<(&'m str, &'m str), &'m str> {
    let mut out = BTreeMap::new();
    for held in role_closure(name, |n| m.roles.get(n).map(|r| &r.extends)) {
        let Some((held, role)) = m.roles.get_key_value(held.as_str()) else {
            continue;
        };
        for p in &role.permissions {
            let Some((ty, action)) = p.text.split_once(':') else {
                continue;
            };
            let Some((ty, res)) = m.resources.get_key_value(ty) else {
                continue;
            };
            for a in res
                .actions
                .keys()
                .filter(|a| action == "*" || a.as_str() == action)
            {
                out.entry((ty.as_str(), a.as_str()))
                    .or_insert(held.as_str());
            }
        }
    }
    out
}

/// Everything resource role `name` of `r` grants, through `extends` and `*`: action -> the held
/// role whose own permission grants it. Shared with test coverage.
pub fn resource_role_grants<'m>(
    r: &'m crate::model::Resource,
    name: &str,
) -> BTreeMap<&'m str, &'m str> {
    let mut out = BTreeMap::new();
    for held in role_closure(name, |n| r.roles.get(n).map(|x| &x.extends)) {
        let Some((held, def)) = r.roles.get_key_value(held.as_str()) else {
            continue;
        };
        for p in &def.permissions {
            for a in r.actions.keys().filter(|a| p.text == "*" || **a == p.text) {
                out.entry(a.as_str()).or_insert(held.as_str());
            }
        }
    }
    out
}

fn tenant_grants(m: &Model) -> BTreeMap<&str, BTreeMap<&str, Set<'_>>> {
    m.roles
        .keys()
        .map(|name| {
            let mut by_type: BTreeMap<&str, Set<'_>> = BTreeMap::new();
            for (ty, action) in tenant_role_grants(m, name).into_keys() {
                by_type.entry(ty).or_default().insert(action, true);
            }
            (name.as_str(), by_type)
        })
        .collect()
}

/// The `role_sets` key of a set of roles: their names, sorted, joined by commas (role names
/// hold no commas).
fn role_set_key(roles: &Set<'_>) -> String {
    roles.keys().copied().collect::<Vec<_>>().join(",")
}

/// Every combination of roles some user holds without expiry in some tenant (the keys
/// `users` already names them by), with the union of what its roles grant.
fn role_sets<'a>(
    users: &BTreeMap<&'a str, UserData<'a>>,
    grants: &BTreeMap<&'a str, BTreeMap<&'a str, Set<'a>>>,
) -> BTreeMap<String, BTreeMap<&'a str, Set<'a>>> {
    let mut out: BTreeMap<String, BTreeMap<&'a str, Set<'a>>> = BTreeMap::new();
    for u in users.values() {
        for (tenant, key) in &u.role_set {
            if out.contains_key(key) {
                continue;
            }
            let mut union: BTreeMap<&'a str, Set<'a>> = BTreeMap::new();
            for role in u.tenants[tenant].keys() {
                for (ty, actions) in grants.get(role).into_iter().flatten() {
                    union.entry(ty).or_default().extend(actions);
                }
            }
            out.insert(key.clone(), union);
        }
    }
    out
}

fn resource_grants(m: &Model) -> BTreeMap<&str, BTreeMap<&str, Set<'_>>> {
    m.resources
        .iter()
        .filter(|(_, r)| !r.roles.is_empty())
        .map(|(ty, r)| {
            let by_role = r
                .roles
                .keys()
                .map(|name| {
                    let set = resource_role_grants(r, name)
                        .into_keys()
                        .map(|a| (a, true))
                        .collect();
                    (name.as_str(), set)
                })
                .collect();
            (ty.as_str(), by_role)
        })
        .collect()
}

fn tenant_role_closure(m: &Model) -> BTreeMap<&str, Vec<String>> {
    m.roles
        .keys()
        .map(|name| {
            let all = role_closure(name, |n| m.roles.get(n).map(|r| &r.extends));
            (name.as_str(), all.into_iter().collect())
        })
        .collect()
}

fn tenants(m: &Model) -> BTreeMap<&str, AttrsOnly<'_>> {
    let mut out: BTreeMap<&str, AttrsOnly<'_>> = m
        .tenants
        .iter()
        .map(|(k, t)| {
            (
                k.as_str(),
                AttrsOnly {
                    attributes: Attrs(Some(&t.attributes)),
                },
            )
        })
        .collect();
    out.entry(DEFAULT_TENANT).or_insert(AttrsOnly {
        attributes: Attrs(None),
    });
    out
}

pub(crate) fn until(a: &crate::model::Assignment) -> i64 {
    a.expires.as_ref().map(|e| e.until_ns).unwrap_or(NEVER)
}

fn users<'m>(m: &'m Model, sets: &BuildTimeSets<'m>) -> BTreeMap<&'m str, UserData<'m>> {
    m.users
        .iter()
        .map(|(key, u)| {
            // per tenant and role, the latest `until` of its assignments
            let mut held: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
            let mut latest: Option<i64> = None;
            for a in &u.roles {
                let t = until(a);
                latest = Some(latest.map_or(t, |l| l.max(t)));
                if let Scope::Tenant(tenant) = &a.scope {
                    let slot = held
                        .entry(&tenant.text)
                        .or_default()
                        .entry(&a.role.text)
                        .or_insert(t);
                    *slot = (*slot).max(t);
                }
            }
            let mut tenants: BTreeMap<&str, Set<'_>> = BTreeMap::new();
            let mut expiring: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
            for (tenant, roles) in held {
                for (role, t) in roles {
                    if t == NEVER {
                        tenants.entry(tenant).or_default().insert(role, true);
                    } else {
                        expiring.entry(tenant).or_default().insert(role, t);
                    }
                }
            }
            let role_set = tenants
                .iter()
                .map(|(tenant, roles)| (*tenant, role_set_key(roles)))
                .collect();
            (
                key.as_str(),
                UserData {
                    attributes: Attrs(Some(&u.attributes)),
                    tenants,
                    role_set,
                    expiring,
                    // the last moment any assignment still holds: `no_user_roles` after it
                    until: latest,
                    user_sets: sets.of_user(key, &u.attributes),
                },
            )
        })
        .collect()
}

/// `instances[type][key] = {tenant?, attributes, resource_sets?}`: nested so the Rego looks an
/// instance up by the query's `type` and `key` without building a `type:key` string.
fn instances<'m>(
    m: &'m Model,
    sets: &BuildTimeSets<'m>,
) -> BTreeMap<&'m str, BTreeMap<&'m str, InstanceData<'m>>> {
    let mut out: BTreeMap<&str, BTreeMap<&str, InstanceData<'_>>> = BTreeMap::new();
    for (k, i) in &m.resource_instances {
        let Some((ty, key)) = split_instance(k) else {
            continue;
        };
        out.entry(ty).or_default().insert(
            key,
            InstanceData {
                tenant: i.tenant.as_ref().map(|t| t.text.as_str()),
                attributes: Attrs(Some(&i.attributes)),
                resource_sets: sets.of_instance(ty, key, &i.attributes),
            },
        );
    }
    out
}

/// How holding one resource role on one instance leads to others.
pub(crate) struct Graph<'m> {
    /// (type, role) -> roles it reaches through `extends` (itself first)
    extends: HashMap<(&'m str, &'m str), Vec<&'m str>>,
    /// (type A, role R) -> [(relation, type D, role E)]: holding R on `a` gives E on every `d`
    /// of type D whose `relation` is `a`.
    derive: HashMap<(&'m str, &'m str), Vec<(&'m str, &'m str, &'m str)>>,
    /// (subject instance, relation) -> objects
    related: HashMap<(&'m str, &'m str), Vec<&'m str>>,
}

impl<'m> Graph<'m> {
    pub(crate) fn new(m: &'m Model) -> Self {
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

    /// The roles `role` on type `ty` holds through `extends`, itself first.
    pub(crate) fn closure<'a>(&'a self, ty: &'m str, role: &'a &'m str) -> &'a [&'m str] {
        match self.extends.get(&(ty, *role)) {
            Some(held) if !held.is_empty() => held,
            _ => std::slice::from_ref(role),
        }
    }

    /// Which resource roles, as `(type, role)`, are held on some instance when the `starts`
    /// (`(instance, role)` pairs) are: through `extends` and derivations along relationships.
    ///
    /// Walking every instance from every start costs as much as materializing the whole
    /// directory, so the walk is pruned. What the starts hold through `extends` needs no
    /// relationship. For the rest, a breadth-first walk over instances follows only the
    /// derivations that can still lead to a role not found yet (decided on the type-level
    /// derivation graph, and decided again after each level that found some), and stops when
    /// every role is found.
    pub(crate) fn held_types(&self, starts: &[(&'m str, &'m str)]) -> HashSet<(&'m str, &'m str)> {
        let start_nodes: HashSet<(&str, &str)> = starts
            .iter()
            .filter_map(|&(inst, role)| split_instance(inst).map(|(ty, _)| (ty, role)))
            .collect();
        let mut found: HashSet<(&str, &str)> = HashSet::new();
        for (ty, role) in &start_nodes {
            found.extend(self.closure(ty, role).iter().map(|&h| (*ty, h)));
        }
        let mut missing: HashSet<(&str, &str)> = self
            .extends
            .keys()
            .filter(|k| !found.contains(*k))
            .copied()
            .collect();
        if missing.is_empty() {
            return found;
        }
        // type level: for each (type, role), the pairs whose derivations give it
        let mut feeds: HashMap<(&str, &str), Vec<(&str, &str)>> = HashMap::new();
        for &(ty, role) in self.extends.keys() {
            for &h in self.closure(ty, &role) {
                for &(_, dty, drole) in self.derive.get(&(ty, h)).into_iter().flatten() {
                    feeds.entry((dty, drole)).or_default().push((ty, role));
                }
            }
        }
        let mut steps = self.steps(&feeds, &missing);
        let mut planned_for = missing.len();
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        let mut level: Vec<(&str, &str)> = starts.to_vec();
        while !level.is_empty() {
            if missing.len() < planned_for {
                steps = self.steps(&feeds, &missing);
                planned_for = missing.len();
            }
            let mut next = Vec::new();
            for (i, r) in level {
                let Some((ty, _)) = split_instance(i) else {
                    continue;
                };
                let Some((finds, leads)) = steps.get(&(ty, r)) else {
                    continue;
                };
                if !seen.insert((i, r)) {
                    continue;
                }
                for &k in finds {
                    if missing.remove(&k) {
                        found.insert(k);
                    }
                }
                for &(relation, dty, drole) in leads {
                    for &o in self.related.get(&(i, relation)).into_iter().flatten() {
                        let fits = split_instance(o).is_some_and(|(oty, _)| oty == dty);
                        if fits && !seen.contains(&(o, drole)) {
                            next.push((o, drole));
                        }
                    }
                }
            }
            if missing.is_empty() {
                break;
            }
            level = next;
        }
        found
    }

    /// For each (type, role) from which a `missing` one can be derived: the missing roles
    /// holding it finds through `extends`, and the derivations that lead on towards missing
    /// ones, `(relation, type, role)`.
    fn steps(
        &self,
        feeds: &HashMap<(&'m str, &'m str), Vec<(&'m str, &'m str)>>,
        missing: &HashSet<(&'m str, &'m str)>,
    ) -> HashMap<(&'m str, &'m str), (Vec<(&'m str, &'m str)>, Vec<(&'m str, &'m str, &'m str)>)>
    {
        let mut useful: HashSet<(&str, &str)> = HashSet::new();
        let mut todo: Vec<(&str, &str)> = missing.iter().copied().collect();
        while let Some(node) = todo.pop() {
            if useful.insert(node) {
                todo.extend(feeds.get(&node).into_iter().flatten().copied());
            }
        }
        useful
            .iter()
            .map(|&(ty, role)| {
                let closure = self.closure(ty, &role);
                let finds = closure
                    .iter()
                    .map(|&h| (ty, h))
                    .filter(|k| missing.contains(k))
                    .collect();
                let leads = closure
                    .iter()
                    .flat_map(|&h| self.derive.get(&(ty, h)).into_iter().flatten().copied())
                    .filter(|&(_, dty, drole)| useful.contains(&(dty, drole)))
                    .collect();
                ((ty, role), (finds, leads))
            })
            .collect()
    }

    /// The roles held, as assigned or derived (not through `extends`, which `resource_grants`
    /// already closes over), starting from `role` on `inst`. `seen` keeps (instance, role)
    /// pairs already explored, including those reached through `extends`.
    pub(crate) fn reach(
        &self,
        inst: &'m str,
        role: &'m str,
        seen: &mut HashSet<(&'m str, &'m str)>,
        out: &mut Vec<(&'m str, &'m str)>,
    ) {
        let mut todo = VecDeque::from([(inst, role)]);
        while let Some((i, r)) = todo.pop_front() {
            let Some((ty, _)) = split_instance(i) else {
                continue;
            };
            if seen.contains(&(i, r)) {
                continue;
            }
            out.push((i, r));
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
                let Some(rules) = self.derive.get(&(ty, h)) else {
                    continue;
                };
                for &(relation, derived_ty, derived) in rules {
                    let Some(objects) = self.related.get(&(i, relation)) else {
                        continue;
                    };
                    for &o in objects {
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

/// Materialized ReBAC, computed on all cores: `rebac[user][type][key][role] = until`.
/// Each thread serializes its (sorted, contiguous) share of users as it goes, so the whole
/// map never exists in memory: on the large model it has millions of entries.
fn rebac(m: &Model) -> serde_json::Result<Box<serde_json::value::RawValue>> {
    let graph = Graph::new(m);
    let users: Vec<&crate::model::User> = m
        .users
        .values()
        .filter(|u| {
            u.roles
                .iter()
                .any(|a| matches!(a.scope, Scope::Resource(_)))
        })
        .collect();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let chunk = users.len().div_ceil(workers).max(1);
    let graph = &graph;
    let parts: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = users
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut out = String::new();
                    let mut seen = HashSet::new();
                    let mut reached = Vec::new();
                    for u in part {
                        let mut by_type: UserRebac<'_> = BTreeMap::new();
                        for a in &u.roles {
                            let Scope::Resource(inst) = &a.scope else {
                                continue;
                            };
                            let t = until(a);
                            seen.clear();
                            reached.clear();
                            graph.reach(&inst.text, &a.role.text, &mut seen, &mut reached);
                            for &(i, role) in &reached {
                                let Some((ty, key)) = split_instance(i) else {
                                    continue;
                                };
                                let slot = by_type
                                    .entry(ty)
                                    .or_default()
                                    .entry(key)
                                    .or_default()
                                    .entry(role)
                                    .or_insert(t);
                                *slot = (*slot).max(t);
                            }
                        }
                        if by_type.is_empty() {
                            continue;
                        }
                        if !out.is_empty() {
                            out.push(',');
                        }
                        // serializing strings and maps of strings and integers cannot fail
                        out.push_str(&serde_json::to_string(&u.key.text).unwrap_or_default());
                        out.push(':');
                        out.push_str(&serde_json::to_string(&by_type).unwrap_or_default());
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let body: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    serde_json::value::RawValue::from_string(format!("{{{}}}", body.join(",")))
}

/// `abac_rules[type][action] = [[user_set, resource_set], ...]`, `*` expanded.
pub(crate) fn abac_rules(m: &Model) -> BTreeMap<&str, BTreeMap<&str, Vec<[&str; 2]>>> {
    let mut out: BTreeMap<&str, BTreeMap<&str, BTreeSet<(&str, &str)>>> = BTreeMap::new();
    for rule in &m.condition_set_rules {
        let Some((ty, action)) = rule.permission.text.split_once(':') else {
            continue;
        };
        let Some((ty, res)) = m.resources.get_key_value(ty) else {
            continue;
        };
        let actions: Vec<&str> = if action == "*" {
            res.actions.keys().map(crate::model::Text::as_str).collect()
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
    out.into_iter()
        .map(|(ty, by_action)| {
            let by_action = by_action
                .into_iter()
                .map(|(a, pairs)| (a, pairs.into_iter().map(|(u, r)| [u, r]).collect()))
                .collect();
            (ty, by_action)
        })
        .collect()
}

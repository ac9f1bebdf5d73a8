//! Layer 2, per role: what each tenant role, resource role and condition-set pairing grants on
//! each side, through `extends`, `*` and `granted_to` derivations, and the path that grants it.

use super::{Effect, RoleChange};
use crate::access::Access;
use crate::model::{Model, Role};
use crate::source::SourceMap;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// What one role grants: (scope, permission) -> (via, file:line).
type Grants = BTreeMap<(String, String), (String, String)>;

pub fn changes(
    base: &Access,
    head: &Access,
    bsrc: &SourceMap,
    hsrc: &SourceMap,
    changed: &super::ChangedGrants,
) -> Vec<RoleChange> {
    let mut out = Vec::new();
    let tenant_roles: BTreeSet<&crate::model::Text> = base
        .model
        .roles
        .keys()
        .chain(head.model.roles.keys())
        .collect();
    // a role whose grants are the same on both sides has nothing to report
    for role in tenant_roles
        .into_iter()
        .filter(|r| changed.tenant.contains(r.as_str()))
    {
        let b = tenant_role(base, bsrc, role);
        let h = tenant_role(head, hsrc, role);
        compare(&mut out, "role", role, &b, &h);
    }
    let mut resource_roles = BTreeSet::new();
    for m in [base.model, head.model] {
        for (ty, r) in &m.resources {
            for role in r.roles.keys() {
                resource_roles.insert((ty.clone(), role.clone()));
            }
        }
    }
    let (bidx, hidx) = (derivations(base.model), derivations(head.model));
    for (ty, role) in resource_roles {
        // what the role reaches first (cheap); grants are expanded only when it can differ
        let rb = reach(base.model, &bidx, &ty, &role);
        let rh = reach(head.model, &hidx, &ty, &role);
        if rb == rh && !rh.keys().any(|(t, r)| changed.resource.contains(t, r)) {
            continue;
        }
        let b = expand(base, bsrc, rb);
        let h = expand(head, hsrc, rh);
        compare(&mut out, "resource role", &format!("{ty}#{role}"), &b, &h);
    }
    let pairs: BTreeSet<(String, String)> = [base.model, head.model]
        .iter()
        .flat_map(|m| m.condition_set_rules.iter())
        .map(|r| (r.user_set.text.to_string(), r.resource_set.text.to_string()))
        .collect();
    for (us, rs) in pairs {
        let b = rule_pair(base, bsrc, &us, &rs);
        let h = rule_pair(head, hsrc, &us, &rs);
        compare(&mut out, "user set", &us, &b, &h);
    }
    out
}

fn compare(out: &mut Vec<RoleChange>, kind: &'static str, role: &str, b: &Grants, h: &Grants) {
    for (side, other, effect) in [(h, b, Effect::Widens), (b, h, Effect::Narrows)] {
        for ((scope, permission), (via, at)) in side {
            if !other.contains_key(&(scope.clone(), permission.clone())) {
                out.push(RoleChange {
                    effect,
                    kind,
                    role: role.to_string(),
                    permission: permission.clone(),
                    scope: scope.clone(),
                    via: via.clone(),
                    at: at.clone(),
                });
            }
        }
    }
}

/// The `extends` path from `from` to `to` (`extends: editor -> viewer`), empty when equal.
fn extends_path<F>(from: &str, to: &str, roles: F) -> String
where
    F: Fn(&str) -> Option<Vec<String>>,
{
    if from == to {
        return String::new();
    }
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    let mut todo = VecDeque::from([from.to_string()]);
    while let Some(r) = todo.pop_front() {
        if r == to {
            break;
        }
        for e in roles(&r).unwrap_or_default() {
            if e != from && !parent.contains_key(&e) {
                parent.insert(e.clone(), r.clone());
                todo.push_back(e);
            }
        }
    }
    let mut chain = vec![to.to_string()];
    let mut cur = to.to_string();
    while let Some(p) = parent.get(&cur) {
        if p == from {
            break;
        }
        chain.push(p.clone());
        cur = p.clone();
    }
    chain.reverse();
    format!("extends: {}", chain.join(" -> "))
}

/// The span of the permission in `held` that grants `perm` (or `*`).
fn permission_at(sources: &SourceMap, held: &Role, perms: &[&str]) -> String {
    held.permissions
        .iter()
        .find(|p| perms.contains(&p.text.as_str()))
        .map(|p| sources.origin(p.span))
        .unwrap_or_else(|| sources.origin(held.key.span))
}

fn tenant_role(a: &Access, sources: &SourceMap, role: &str) -> Grants {
    let m: &Model = a.model;
    let mut out = Grants::new();
    let Some(grants) = a.tenant_role_grants(role) else {
        return out;
    };
    for (ty, action, held) in grants {
        let via = extends_path(role, held, |r| {
            m.roles
                .get(r)
                .map(|d| d.extends.iter().map(|e| e.text.to_string()).collect())
        });
        let loc = m
            .roles
            .get(held)
            .map(|h| permission_at(sources, h, &[&format!("{ty}:{action}"), &format!("{ty}:*")]))
            .unwrap_or_default();
        out.insert(
            ("in its tenant".into(), format!("{ty}:{action}")),
            (via, loc),
        );
    }
    out
}

/// What holding `ty#role` on an instance grants: on the instance itself (through `extends`) and
/// on instances linked to it (through `granted_to` derivations, any depth, cycles safe).
/// `(on_resource, role)` -> the roles holding it derives: `(type, role, relation)`.
type Derivations<'m> = HashMap<(&'m str, &'m str), Vec<(&'m str, &'m str, &'m str)>>;

fn derivations(m: &Model) -> Derivations<'_> {
    let mut out: Derivations<'_> = HashMap::new();
    for (dty, dres) in &m.resources {
        for (dname, def) in &dres.roles {
            for g in &def.granted_to {
                out.entry((g.on_resource.text.as_str(), g.role.text.as_str()))
                    .or_default()
                    .push((dty, dname, g.linked_by_relation.text.as_str()));
            }
        }
    }
    out
}

/// The `(type, role)` nodes holding `ty#role` on an instance reaches: itself, and through
/// `granted_to` derivations (any depth, cycles safe) the roles on linked instances, each with
/// the relations walked and the derivations used (first found, breadth first).
fn reach(
    m: &Model,
    idx: &Derivations,
    ty: &str,
    role: &str,
) -> BTreeMap<(String, String), (Vec<String>, Vec<String>)> {
    let mut reached: BTreeMap<(String, String), (Vec<String>, Vec<String>)> = BTreeMap::new();
    if m.resources
        .get(ty)
        .and_then(|r| r.roles.get(role))
        .is_none()
    {
        return reached;
    }
    let mut todo = VecDeque::from([(ty.to_string(), role.to_string(), Vec::new(), Vec::new())]);
    while let Some((t, r, rels, via)) = todo.pop_front() {
        if reached.contains_key(&(t.clone(), r.clone())) {
            continue;
        }
        let Some(res) = m.resources.get(t.as_str()) else {
            continue;
        };
        let held = crate::compile::data::role_closure(&r, |n| res.roles.get(n).map(|x| &x.extends));
        for h in &held {
            for &(dty, dname, rel) in idx.get(&(t.as_str(), h.as_str())).into_iter().flatten() {
                let mut rels = rels.clone();
                rels.push(rel.to_string());
                let mut via = via.clone();
                via.push(format!("{dty}#{dname} from {t}#{h}"));
                todo.push_back((dty.to_string(), dname.to_string(), rels, via));
            }
        }
        reached.insert((t, r), (rels, via));
    }
    reached
}

/// What the reached roles grant: on the instance itself (through `extends`) and on linked
/// instances, keyed by scope and permission.
fn expand(
    a: &Access,
    sources: &SourceMap,
    reached: BTreeMap<(String, String), (Vec<String>, Vec<String>)>,
) -> Grants {
    let m = a.model;
    let mut out = Grants::new();
    for ((t, r), (rels, via)) in reached {
        let Some(res) = m.resources.get(t.as_str()) else {
            continue;
        };
        let Some(grants) = a.resource_role_grants(&t, &r) else {
            continue;
        };
        let scope = if rels.is_empty() {
            "on the instance".to_string()
        } else {
            format!("on each `{t}` linked by {}", rels.join(" -> "))
        };
        for (&action, &held) in grants {
            let mut path = via.clone();
            let ext = extends_path(&r, held, |x| {
                res.roles
                    .get(x)
                    .map(|d| d.extends.iter().map(|e| e.text.to_string()).collect())
            });
            if !ext.is_empty() {
                path.push(ext);
            }
            let loc = res
                .roles
                .get(held)
                .map(|h| permission_at(sources, h, &[action, "*"]))
                .unwrap_or_default();
            out.entry((scope.clone(), format!("{t}:{action}")))
                .or_insert((path.join(", "), loc));
        }
    }
    out
}

/// What condition-set rules let user set `us` do on resource set `rs`.
fn rule_pair(a: &Access, sources: &SourceMap, us: &str, rs: &str) -> Grants {
    let mut out = Grants::new();
    for rule in &a.model.condition_set_rules {
        if rule.user_set.text != us || rule.resource_set.text != rs {
            continue;
        }
        let Some((ty, action)) = rule.permission.text.split_once(':') else {
            continue;
        };
        let Some(res) = a.model.resources.get(ty) else {
            continue;
        };
        for act in res.actions.keys().filter(|x| action == "*" || *x == action) {
            out.entry((format!("on resource set `{rs}`"), format!("{ty}:{act}")))
                .or_insert((String::new(), sources.origin(rule.span)));
        }
    }
    out
}

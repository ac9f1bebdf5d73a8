//! Layer 2, concrete: what each user of the directory gains or loses, on every instance of a
//! type in a tenant (tenant roles) or on one instance (resource roles, derivations, ABAC).
//!
//! A permission counts as gained only when the other side did not allow it by any source, and
//! instance-level gains already implied by a tenant-level gain are not listed again. ABAC pairs
//! are found from what changed (rules, set membership) rather than by trying every user on every
//! instance: user-set membership is computed once per set (and per tenant when the set reads
//! the tenant); sets that read both the user and the resource fall back to trying every pair.

use super::{ChangedGrants, Effect, RoleSet, UserChange};
use crate::access::Access;
use crate::model::{split_instance, Scope, User};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

pub fn changes(
    b: &Access,
    h: &Access,
    changed: &Changed,
    grants: &ChangedGrants,
) -> Vec<UserChange> {
    let (gained, lost) = std::thread::scope(|s| {
        let lost = s.spawn(|| abac_candidates(h, b, changed));
        let gained = abac_candidates(b, h, changed);
        (gained, super::join(lost))
    });
    let role_delta = tenant_role_delta(b, h, &grants.tenant);
    let upstream = upstream_of(b, h, &grants.resource);
    let graph_same = same_graph(b.model, h.model);
    let empty = Vec::new();
    let users = super::merge(&b.model.users, &h.model.users);
    // one user's changes depend on nothing but shared, read-only state: users are split
    // across the cores
    let one = |&(u, ub, uh): &(&str, Option<&User>, Option<&User>), out: &mut Vec<UserChange>| {
        let (g, l) = (gained.get(u), lost.get(u));
        if let (Some(x), Some(y)) = (ub, uh) {
            let quiet = graph_same
                && g.is_none()
                && l.is_none()
                && same_user(x, y)
                && y.roles.iter().all(|a| match &a.scope {
                    Scope::Tenant(_) => !grants.tenant.contains(a.role.text.as_str()),
                    Scope::Resource(i) => split_instance(&i.text)
                        .is_none_or(|(ty, _)| !upstream.contains(ty, &a.role.text)),
                });
            if quiet {
                // same assignments, and nothing they reach grants differently
                return;
            }
        }
        // tenant level: only recomputed when the live assignments or what their roles grant differ
        let ab = ub.map(|x| b.tenant_assignments(x)).unwrap_or_default();
        let ah = uh.map(|x| h.tenant_assignments(x)).unwrap_or_default();
        let tenant_same = ab == ah && ah.iter().all(|(_, r)| !grants.tenant.contains(*r));
        if !tenant_same && ab == ah {
            // same assignments: only what the changed roles gain or lose can differ
            if let (Some(x), Some(y)) = (ub, uh) {
                for &(tenant, role) in &ah {
                    let Some((gains, losses)) = role_delta.get(role) else {
                        continue;
                    };
                    for (ty, action) in gains {
                        if !b.tenant_allows(x, tenant, ty, action) {
                            out.push(tenant_change(Effect::Widens, u, tenant, ty, action));
                        }
                    }
                    for (ty, action) in losses {
                        if !h.tenant_allows(y, tenant, ty, action) {
                            out.push(tenant_change(Effect::Narrows, u, tenant, ty, action));
                        }
                    }
                }
            }
        } else if !tenant_same {
            let tb = ub.map(|x| b.tenant_permissions(x)).unwrap_or_default();
            let th = uh.map(|x| h.tenant_permissions(x)).unwrap_or_default();
            for (side, other, effect) in [(&th, &tb, Effect::Widens), (&tb, &th, Effect::Narrows)] {
                for &(tenant, ty, action) in side.difference(other) {
                    out.push(tenant_change(effect, u, tenant, ty, action));
                }
            }
        }
        // instance level: resource roles held (assigned or derived), then what they grant
        let ib = ub.map(|x| b.instance_roles(x)).unwrap_or_default();
        let ih = uh.map(|x| h.instance_roles(x)).unwrap_or_default();
        let rebac_same = ib == ih
            && ih.iter().all(|(inst, roles)| {
                let ty = split_instance(inst).map_or("", |(t, _)| t);
                roles.iter().all(|r| !grants.resource.contains(ty, r))
            });
        if rebac_same && g.is_none() && l.is_none() {
            return;
        }
        let (rb, rh) = (b.permissions_of(&ib), h.permissions_of(&ih));
        let mut cands: Vec<(&str, &str)> = rh.difference(&rb).copied().collect();
        cands.extend(g.unwrap_or(&empty).iter().copied());
        push_instance(out, Effect::Widens, u, (h, uh, &rh), (b, ub, &rb), &cands);
        let mut cands: Vec<(&str, &str)> = rb.difference(&rh).copied().collect();
        cands.extend(l.unwrap_or(&empty).iter().copied());
        push_instance(out, Effect::Narrows, u, (b, ub, &rb), (h, uh, &rh), &cands);
    };
    let mut out = super::parallel(&users, one);
    out.sort_by(|x, y| {
        (&x.user, x.effect, &x.resource, &x.action).cmp(&(
            &y.user,
            y.effect,
            &y.resource,
            &y.action,
        ))
    });
    out.dedup_by(|x, y| {
        x.user == y.user
            && x.effect == y.effect
            && x.resource == y.resource
            && x.action == y.action
            && x.tenant == y.tenant
    });
    out
}

fn tenant_change(effect: Effect, user: &str, tenant: &str, ty: &str, action: &str) -> UserChange {
    UserChange {
        effect,
        user: user.to_string(),
        action: action.to_string(),
        resource: ty.to_string(),
        tenant: Some(tenant.to_string()),
        sources: vec!["rbac"],
    }
}

/// For each changed tenant role: the `(type, action)` it gains and loses.
fn tenant_role_delta(
    b: &Access,
    h: &Access,
    changed: &HashSet<String>,
) -> HashMap<String, (Vec<(String, String)>, Vec<(String, String)>)> {
    let keys = |a: &Access, r: &str| -> BTreeSet<(String, String)> {
        a.tenant_role_grants(r)
            .into_iter()
            .flatten()
            .map(|(t, x, _)| (t.to_string(), x.to_string()))
            .collect()
    };
    changed
        .iter()
        .map(|r| {
            let (kb, kh) = (keys(b, r), keys(h, r));
            let gains = kh.difference(&kb).cloned().collect();
            let losses = kb.difference(&kh).cloned().collect();
            (r.clone(), (gains, losses))
        })
        .collect()
}

/// Whether two users have the same attributes and assignments (wherever they are written).
pub(super) fn same_user(a: &User, b: &User) -> bool {
    super::same_attributes(&a.attributes, &b.attributes)
        && a.roles.len() == b.roles.len()
        && a.roles.iter().zip(&b.roles).all(|(x, y)| {
            x.role.text == y.role.text
                && x.expires.as_ref().map(|e| e.until_ns) == y.expires.as_ref().map(|e| e.until_ns)
                && match (&x.scope, &y.scope) {
                    (Scope::Tenant(s), Scope::Tenant(t))
                    | (Scope::Resource(s), Scope::Resource(t)) => s.text == t.text,
                    _ => false,
                }
        })
}

/// Whether relationships and every resource role's `extends` and `granted_to` are the same, so
/// the same assignment reaches the same roles on the same instances.
fn same_graph(b: &crate::model::Model, h: &crate::model::Model) -> bool {
    fn rels(m: &crate::model::Model) -> Vec<(&str, &str, &str)> {
        let mut v: Vec<(&str, &str, &str)> = m
            .relationships
            .iter()
            .map(|r| {
                (
                    r.subject.text.as_str(),
                    r.relation.text.as_str(),
                    r.object.text.as_str(),
                )
            })
            .collect();
        v.sort_unstable();
        v
    }
    let roles = |m: &crate::model::Model| {
        let mut v: Vec<(String, String, Vec<String>, Vec<String>)> = Vec::new();
        for (ty, res) in &m.resources {
            for (name, r) in &res.roles {
                v.push((
                    ty.to_string(),
                    name.to_string(),
                    r.extends.iter().map(|e| e.text.to_string()).collect(),
                    r.granted_to
                        .iter()
                        .map(|g| {
                            format!(
                                "{}#{}#{}",
                                g.on_resource.text, g.role.text, g.linked_by_relation.text
                            )
                        })
                        .collect(),
                ));
            }
        }
        v
    };
    rels(b) == rels(h) && roles(b) == roles(h)
}

/// The `(type, role)` resource roles from which a role in `changed` can be reached, through
/// `extends` and `granted_to`, on either side (`changed` included).
fn upstream_of(b: &Access, h: &Access, changed: &RoleSet) -> RoleSet {
    // reversed edges: node -> the nodes that reach it in one step
    let mut reverse: HashMap<(&str, &str), Vec<(&str, &str)>> = HashMap::new();
    for m in [b.model, h.model] {
        for (ty, res) in &m.resources {
            for (name, r) in &res.roles {
                for e in &r.extends {
                    reverse
                        .entry((ty.as_str(), e.text.as_str()))
                        .or_default()
                        .push((ty, name));
                }
                for g in &r.granted_to {
                    reverse
                        .entry((ty.as_str(), name.as_str()))
                        .or_default()
                        .push((&g.on_resource.text, &g.role.text));
                }
            }
        }
    }
    let mut seen = changed.clone();
    let mut todo: Vec<(&str, &str)> = changed.iter().collect();
    while let Some(n) = todo.pop() {
        for &(ty, role) in reverse.get(&n).into_iter().flatten() {
            if seen.insert(ty, role) {
                todo.push((ty, role));
            }
        }
    }
    seen
}

/// Pushes instance-level changes: `cands` are `(instance, action)` that `side` may allow
/// through resource roles or ABAC; each is kept when `other` did not allow it by any source and
/// `side`'s tenant roles do not already cover it (that shows as a tenant-level change).
fn push_instance<'s, 'o>(
    out: &mut Vec<UserChange>,
    effect: Effect,
    user: &str,
    (side, su, side_rebac): (&Access<'s>, Option<&'s User>, &BTreeSet<(&str, &str)>),
    (other, ou, other_rebac): (&Access<'o>, Option<&'o User>, &BTreeSet<(&str, &str)>),
    cands: &[(&str, &str)],
) {
    let Some(su) = su else {
        return;
    };
    if cands.is_empty() {
        return;
    }
    for &(inst, action) in cands {
        let Some((ty, _)) = split_instance(inst) else {
            continue;
        };
        if side.tenant_allows(su, side.instance_tenant(inst), ty, action) {
            continue;
        }
        let other_allows = ou.is_some_and(|ou| {
            other.tenant_allows(ou, other.instance_tenant(inst), ty, action)
                || other_rebac.contains(&(inst, action))
                || other.abac_allows(ou, inst, action)
        });
        if other_allows {
            continue;
        }
        let mut sources = Vec::new();
        if side_rebac.contains(&(inst, action)) {
            sources.push("rebac");
        }
        if side.abac_allows(su, inst, action) {
            sources.push("abac");
        }
        if sources.is_empty() {
            continue;
        }
        out.push(UserChange {
            effect,
            user: user.to_string(),
            action: action.to_string(),
            resource: inst.to_string(),
            tenant: None,
            sources,
        });
    }
}

/// What the model layer found changed, by key: it bounds where ABAC outcomes can differ.
#[derive(Default)]
pub struct Changed {
    pub users: HashSet<String>,
    pub instances: HashSet<String>,
    pub tenants: HashSet<String>,
    pub user_sets: HashSet<String>,
    pub resource_sets: HashSet<String>,
    /// A tenant role was added, removed or changed its `extends` (so `user.roles` may differ
    /// for anyone holding it).
    pub roles: bool,
}

impl Changed {
    pub fn from_model(changes: &[super::ModelChange]) -> Changed {
        let mut c = Changed::default();
        for m in changes {
            let key = m.key.clone();
            match m.kind {
                "user" => {
                    c.users.insert(key);
                }
                "resource instance" => {
                    c.instances.insert(key);
                }
                "tenant" => {
                    c.tenants.insert(key);
                }
                "user set" => {
                    c.user_sets.insert(key);
                }
                "resource set" => {
                    c.resource_sets.insert(key);
                }
                // `user.roles` names roles: only new, removed or re-parented roles change it
                "role" => {
                    c.roles |= m.change != super::Change::Changed
                        || m.details.iter().any(|d| d.starts_with("extends:"));
                }
                _ => {}
            }
        }
        c
    }
}

/// `(user, instance, action)` that ABAC may allow on side `h` and not on side `b`, per user.
/// A superset: callers check each against every source of `b`.
///
/// A rule present on both sides whose sets did not change can only decide differently for a
/// changed user, a changed instance or an instance of a changed tenant, so only those pairs are
/// tried. Other rules are enumerated in full: through set membership when the user set and the
/// resource set read only their own subject, else pair by pair.
fn abac_candidates<'h>(
    b: &Access,
    h: &Access<'h>,
    changed: &Changed,
) -> HashMap<&'h str, Vec<(&'h str, &'h str)>> {
    let mut out: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    if h.abac_rules.is_empty() {
        return out;
    }
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for i in h.instances() {
        if let Some((ty, _)) = split_instance(i) {
            by_type.entry(ty).or_default().push(i);
        }
    }
    // (user here, the same user on the other side, attributes differ, tenant roles differ)
    let changed_users: Vec<(&User, Option<&User>, bool, bool)> = changed
        .users
        .iter()
        .filter_map(|u| {
            let x = h.model.users.get(u.as_str())?;
            let y = b.model.users.get(u.as_str());
            let attrs = y.is_none_or(|y| !super::same_attributes(&x.attributes, &y.attributes));
            let roles = y.is_none_or(|y| h.tenant_assignments(x) != b.tenant_assignments(y));
            Some((x, y, attrs, roles))
        })
        .collect();
    let everyone = || {
        h.model
            .users
            .values()
            .map(|x| (x, b.model.users.get(&x.key.text)))
    };
    let mut members = Members::default();
    for (&ty, by_action) in &h.abac_rules {
        let Some(instances) = by_type.get(ty) else {
            continue;
        };
        for (&action, pairs) in by_action {
            let base_pairs = b.abac_rules.get(ty).and_then(|x| x.get(action));
            for [us, rs] in pairs {
                let (uh, rh) = (h.user_set_reads(us), h.resource_set_reads(rs));
                let (ub_reads, rb) = (b.user_set_reads(us), b.resource_set_reads(rs));
                let reads_roles = uh.roles || rh.roles || ub_reads.roles || rb.roles;
                let in_base = base_pairs.is_some_and(|p| p.contains(&[*us, *rs]));
                let sets_changed = changed.user_sets.contains(*us)
                    || changed.resource_sets.contains(*rs)
                    || (changed.roles && reads_roles);
                let same_rule = in_base && !sets_changed;
                if same_rule {
                    // only changed users and changed instances can decide differently; keep the
                    // pairs that hold here and not on the other side
                    // user-set membership per (user, tenant) when the set ignores the resource
                    let mut memo: HashMap<(&str, &str), (bool, bool)> = HashMap::new();
                    let mut user_part = |u: &'h User, ub: Option<&User>, i: &str| -> (bool, bool) {
                        let (th, tb) = (h.instance_tenant(i), b.instance_tenant(i));
                        let compute = || {
                            let inh = h.in_user_set(us, u, th, Some(i));
                            let inb = ub.is_some_and(|ub| b.in_user_set(us, ub, tb, Some(i)));
                            (inh, inb)
                        };
                        if uh.resource || ub_reads.resource || th != tb {
                            return compute();
                        }
                        *memo
                            .entry((u.key.text.as_str(), th))
                            .or_insert_with(compute)
                    };
                    // a resource set that reads nothing of the user holds for an instance
                    // or not, whoever asks: decided once per instance
                    let rs_ignores_user = !rh.user && !rb.user;
                    for &i in instances {
                        if rs_ignores_user && !h.in_resource_set(rs, i, None) {
                            continue;
                        }
                        let rs_b = rs_ignores_user.then(|| b.in_resource_set(rs, i, None));
                        let instance_changed = changed.instances.contains(i)
                            || changed.tenants.contains(h.instance_tenant(i))
                            || changed.tenants.contains(b.instance_tenant(i));
                        // a changed user matters when something the sets read changed
                        let users: Box<dyn Iterator<Item = (&User, Option<&User>)>> =
                            if instance_changed {
                                Box::new(everyone())
                            } else {
                                Box::new(
                                    changed_users
                                        .iter()
                                        .filter(|c| c.2 || (reads_roles && c.3))
                                        .map(|c| (c.0, c.1)),
                                )
                            };
                        for (u, ub) in users {
                            if !rs_ignores_user && !h.in_resource_set(rs, i, Some(u)) {
                                continue;
                            }
                            let (inh, inb) = user_part(u, ub, i);
                            if !inh {
                                continue;
                            }
                            let was = inb
                                && ub.is_some_and(|ub| {
                                    rs_b.unwrap_or_else(|| b.in_resource_set(rs, i, Some(ub)))
                                });
                            if !was {
                                out.entry(&u.key.text).or_default().push((i, action));
                            }
                        }
                    }
                    continue;
                }
                if uh.resource || rh.user || ub_reads.resource || rb.user {
                    // the sets read each other's subject: try every pair
                    for &i in instances {
                        let t = h.instance_tenant(i);
                        for u in h.model.users.values() {
                            if h.in_user_set(us, u, t, Some(i)) && h.in_resource_set(rs, i, Some(u))
                            {
                                out.entry(&u.key.text).or_default().push((i, action));
                            }
                        }
                    }
                    continue;
                }
                for &i in instances {
                    if !h.in_resource_set(rs, i, None) {
                        continue;
                    }
                    let th = h.instance_tenant(i);
                    let was = in_base && b.in_resource_set(rs, i, None);
                    let tb = b.instance_tenant(i);
                    for u in members.users_gained(b, h, us, tb, th, was) {
                        out.entry(u).or_default().push((i, action));
                    }
                }
            }
        }
    }
    out
}

/// User-set memberships on both sides, computed once per set (and tenant, when it matters).
#[derive(Default)]
struct Members<'h> {
    /// (head side, set, tenant or `*`) -> users in it
    users: HashMap<(bool, String, String), HashSet<String>>,
    /// (set, base tenant, head tenant, base had the pair) -> users in head's set and not base's
    gained: HashMap<(String, String, String, bool), Vec<&'h str>>,
}

impl<'h> Members<'h> {
    /// Fills the membership of `set` in `tenant` on side `a` and returns its key.
    fn fill(&mut self, a: &Access, head: bool, set: &str, tenant: &str) -> (bool, String, String) {
        let t = if a.user_set_reads(set).tenant {
            tenant
        } else {
            "*"
        };
        let key = (head, set.to_string(), t.to_string());
        self.users.entry(key.clone()).or_insert_with(|| {
            a.model
                .users
                .values()
                .filter(|u| a.in_user_set(set, u, tenant, None))
                .map(|u| u.key.text.to_string())
                .collect()
        });
        key
    }

    fn users_gained(
        &mut self,
        b: &Access,
        h: &Access<'h>,
        set: &str,
        tb: &str,
        th: &str,
        was: bool,
    ) -> &[&'h str] {
        let key = (set.to_string(), tb.to_string(), th.to_string(), was);
        if !self.gained.contains_key(&key) {
            let head_key = self.fill(h, true, set, th);
            let base_key = was.then(|| self.fill(b, false, set, tb));
            let empty = HashSet::new();
            let head = &self.users[&head_key];
            let base = base_key.map_or(&empty, |k| &self.users[&k]);
            let v: Vec<&'h str> = h
                .model
                .users
                .keys()
                .filter(|k| head.contains(k.as_str()) && !base.contains(k.as_str()))
                .map(crate::model::Text::as_str)
                .collect();
            self.gained.insert(key.clone(), v);
        }
        &self.gained[&key]
    }
}

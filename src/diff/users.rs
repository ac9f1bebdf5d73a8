//! Layer 2, concrete: what each user of the directory gains or loses, on every instance of a
//! type in a tenant (tenant roles) or on one instance (resource roles, derivations, ABAC).
//!
//! A permission counts as gained only when the other side did not allow it by any source, and
//! instance-level gains already implied by a tenant-level gain are not listed again. ABAC pairs
//! are found from what changed (rules, set membership) rather than by trying every user on every
//! instance: user-set membership is computed once per set (and per tenant when the set reads
//! the tenant); sets that read both the user and the resource fall back to trying every pair.

use super::{Effect, UserChange};
use crate::access::Access;
use crate::model::{split_instance, User};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

pub fn changes(b: &Access, h: &Access) -> Vec<UserChange> {
    let gained = abac_candidates(b, h);
    let lost = abac_candidates(h, b);
    let users: BTreeSet<&str> = b
        .model
        .users
        .keys()
        .chain(h.model.users.keys())
        .map(String::as_str)
        .collect();
    let same_grants = unchanged_for_users(b, h);
    let mut out = Vec::new();
    for u in users {
        let (ub, uh) = (b.model.users.get(u), h.model.users.get(u));
        let (g, l) = (gained.get(u), lost.get(u));
        if same_grants && ub == uh && g.is_none() && l.is_none() {
            // same assignments under the same role definitions, graph and ABAC outcome
            continue;
        }
        let tb = ub.map(|x| b.tenant_permissions(x)).unwrap_or_default();
        let th = uh.map(|x| h.tenant_permissions(x)).unwrap_or_default();
        let rb = ub.map(|x| b.instance_permissions(x)).unwrap_or_default();
        let rh = uh.map(|x| h.instance_permissions(x)).unwrap_or_default();
        for (side, other, effect) in [(&th, &tb, Effect::Widens), (&tb, &th, Effect::Narrows)] {
            for &(tenant, ty, action) in side.difference(other) {
                out.push(UserChange {
                    effect,
                    user: u.to_string(),
                    action: action.to_string(),
                    resource: ty.to_string(),
                    tenant: Some(tenant.to_string()),
                    sources: vec!["rbac"],
                });
            }
        }
        let mut cands: Vec<(&str, &str)> = rh.difference(&rb).copied().collect();
        cands.extend(g.into_iter().flatten().copied());
        push_instance(
            &mut out,
            Effect::Widens,
            u,
            (h, uh),
            (b, ub),
            &cands,
            &th,
            &tb,
        );
        let mut cands: Vec<(&str, &str)> = rb.difference(&rh).copied().collect();
        cands.extend(l.into_iter().flatten().copied());
        push_instance(
            &mut out,
            Effect::Narrows,
            u,
            (b, ub),
            (h, uh),
            &cands,
            &tb,
            &th,
        );
    }
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

/// Whether tenant-role grants and resource-role derivations are the same on both sides, so a
/// user with identical assignments has identical RBAC and ReBAC permissions.
fn unchanged_for_users(b: &Access, h: &Access) -> bool {
    b.model.roles == h.model.roles
        && b.model.relationships.len() == h.model.relationships.len()
        && b.model
            .relationships
            .iter()
            .zip(&h.model.relationships)
            .all(|(x, y)| {
                x.subject.text == y.subject.text
                    && x.relation.text == y.relation.text
                    && x.object.text == y.object.text
            })
        && b.model.resources.len() == h.model.resources.len()
        && b.model
            .resources
            .iter()
            .zip(&h.model.resources)
            .all(|((k, x), (l, y))| {
                k == l && x.roles == y.roles && x.actions.keys().eq(y.actions.keys())
            })
        && b.model.resource_instances.len() == h.model.resource_instances.len()
        && b.model
            .resource_instances
            .iter()
            .zip(&h.model.resource_instances)
            .all(|((k, x), (l, y))| {
                k == l && x.tenant.as_ref().map(|t| &t.text) == y.tenant.as_ref().map(|t| &t.text)
            })
}

/// Pushes instance-level changes: `cands` are `(instance, action)` that `side` allows through
/// resource roles or ABAC; each is kept when `other` did not allow it by any source and
/// `side`'s tenant-level grants do not already cover it.
#[allow(clippy::too_many_arguments)]
fn push_instance<'s, 'o>(
    out: &mut Vec<UserChange>,
    effect: Effect,
    user: &str,
    (side, su): (&Access<'s>, Option<&'s User>),
    (other, ou): (&Access<'o>, Option<&'o User>),
    cands: &[(&str, &str)],
    side_tenant: &BTreeSet<(&str, &str, &str)>,
    other_tenant: &BTreeSet<(&str, &str, &str)>,
) {
    let Some(su) = su else {
        return;
    };
    let mut other_rebac: Option<BTreeSet<(&str, &str)>> = None;
    let mut side_rebac: Option<BTreeSet<(&str, &str)>> = None;
    for &(inst, action) in cands {
        let Some((ty, _)) = split_instance(inst) else {
            continue;
        };
        let st = side.instance_tenant(inst);
        if side_tenant.contains(&(st, ty, action)) {
            continue;
        }
        let other_allows = match ou {
            None => false,
            Some(ou) => {
                let ot = other.instance_tenant(inst);
                other_tenant.contains(&(ot, ty, action))
                    || other_rebac
                        .get_or_insert_with(|| other.instance_permissions(ou))
                        .contains(&(inst, action))
                    || other.abac_allows(ou, inst, action)
            }
        };
        if other_allows {
            continue;
        }
        let mut sources = Vec::new();
        if side_rebac
            .get_or_insert_with(|| side.instance_permissions(su))
            .contains(&(inst, action))
        {
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

/// `(user, instance, action)` that ABAC may allow on side `h` and not on side `b`, per user.
/// A superset: callers check each against every source of `b`.
fn abac_candidates<'h>(b: &Access, h: &Access<'h>) -> HashMap<&'h str, Vec<(&'h str, &'h str)>> {
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
    let mut members = Members::default();
    for (&ty, by_action) in &h.abac_rules {
        let Some(instances) = by_type.get(ty) else {
            continue;
        };
        for (&action, pairs) in by_action {
            let base_pairs = b.abac_rules.get(ty).and_then(|x| x.get(action));
            for [us, rs] in pairs {
                let (uh, rh) = (h.user_set_reads(us), h.resource_set_reads(rs));
                let (ub, rb) = (b.user_set_reads(us), b.resource_set_reads(rs));
                if uh.resource || rh.user || ub.resource || rb.user {
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
                let in_base = base_pairs.is_some_and(|p| p.contains(&[*us, *rs]));
                for &i in instances {
                    if !members.resource(h, rs, i) {
                        continue;
                    }
                    let th = h.instance_tenant(i);
                    let was = in_base && members.resource(b, rs, i);
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

/// Set memberships on both sides, computed once.
#[derive(Default)]
struct Members<'h> {
    /// (side, set, tenant or `*`) -> users in it
    users: HashMap<(bool, String, String), HashSet<String>>,
    /// (set, base tenant, head tenant, base had the pair) -> users in head's set and not base's
    gained: HashMap<(String, String, String, bool), Vec<&'h str>>,
}

impl<'h> Members<'h> {
    fn resource(&self, a: &Access, set: &str, inst: &str) -> bool {
        a.in_resource_set(set, inst, None)
    }

    fn users_of(&mut self, a: &Access, head: bool, set: &str, tenant: &str) -> &HashSet<String> {
        let t = if a.user_set_reads(set).tenant {
            tenant
        } else {
            "*"
        };
        self.users
            .entry((head, set.to_string(), t.to_string()))
            .or_insert_with(|| {
                a.model
                    .users
                    .values()
                    .filter(|u| a.in_user_set(set, u, tenant, None))
                    .map(|u| u.key.text.clone())
                    .collect()
            })
    }

    fn users_gained(
        &mut self,
        b: &Access,
        h: &Access<'h>,
        set: &str,
        tb: &str,
        th: &str,
        was: bool,
    ) -> Vec<&'h str> {
        let key = (set.to_string(), tb.to_string(), th.to_string(), was);
        if let Some(v) = self.gained.get(&key) {
            return v.clone();
        }
        let head: HashSet<String> = self.users_of(h, true, set, th).clone();
        let base: HashSet<String> = if was {
            self.users_of(b, false, set, tb).clone()
        } else {
            HashSet::new()
        };
        let mut v: Vec<&'h str> = h
            .model
            .users
            .keys()
            .filter(|k| head.contains(k.as_str()) && !base.contains(k.as_str()))
            .map(String::as_str)
            .collect();
        v.sort();
        self.gained.insert(key, v.clone());
        v
    }
}

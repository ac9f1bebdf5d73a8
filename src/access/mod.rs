//! Effective permissions, computed straight from the model (SPEC section 3), never from Rego:
//! what each tenant role and resource role grants, which roles a user holds where, who is in
//! which user set and which instances are in which resource set.
//!
//! `diff` compares two of these; it is also the independent reading of the decision contract
//! that the generated Rego is checked against. It answers for the directory (stored users and
//! instances, their stored attributes, an empty query context) at one instant `now`.

pub mod condition;
pub mod decide;
pub mod users;

use crate::compile::data::{resource_role_grants, role_closure, tenant_role_grants, until, Graph};
use crate::model::{split_instance, Attributes, Model, Scope, User, DEFAULT_TENANT};
use condition::{Env, Reads};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A permission on every instance of a type in a tenant: `(tenant, type, action)`.
pub type TenantGrant<'m> = (&'m str, &'m str, &'m str);
/// A permission on one instance: `(type:key, action)`.
pub type InstanceGrant<'m> = (&'m str, &'m str);

pub struct Access<'m> {
    pub model: &'m Model,
    now: i64,
    /// role -> type -> action -> the held role whose own permission grants it
    tenant_grants: HashMap<&'m str, BTreeMap<&'m str, BTreeMap<&'m str, &'m str>>>,
    resource_grants: HashMap<&'m str, HashMap<&'m str, BTreeMap<&'m str, &'m str>>>,
    graph: Graph<'m>,
    /// `abac_rules[type][action] = [(user_set, resource_set)]`, `*` expanded.
    pub abac_rules: BTreeMap<&'m str, BTreeMap<&'m str, Vec<[&'m str; 2]>>>,
    /// Listed instances by `type:key`: their stored tenant, if any, and attributes.
    instance_index: HashMap<&'m str, (Option<&'m str>, &'m Attributes)>,
    /// What each user set and resource set reads.
    user_set_reads: HashMap<&'m str, Reads>,
    resource_set_reads: HashMap<&'m str, Reads>,
}

impl<'m> Access<'m> {
    pub fn new(model: &'m Model, now: i64) -> Self {
        let tenant_grants = model
            .roles
            .keys()
            .map(|r| {
                let mut by_type: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
                for ((ty, action), held) in tenant_role_grants(model, r) {
                    by_type.entry(ty).or_default().insert(action, held);
                }
                (r.as_str(), by_type)
            })
            .collect();
        let resource_grants = model
            .resources
            .iter()
            .map(|(ty, res)| {
                let by_role = res
                    .roles
                    .keys()
                    .map(|role| (role.as_str(), resource_role_grants(res, role)))
                    .collect();
                (ty.as_str(), by_role)
            })
            .collect();
        Access {
            model,
            now,
            tenant_grants,
            resource_grants,
            graph: Graph::new(model),
            abac_rules: crate::compile::data::abac_rules(model),
            instance_index: model
                .resource_instances
                .iter()
                .map(|(k, i)| {
                    let t = i.tenant.as_ref().map(|t| t.text.as_str());
                    (k.as_str(), (t, &i.attributes))
                })
                .collect(),
            user_set_reads: model
                .user_sets
                .iter()
                .map(|(k, s)| (k.as_str(), condition::reads(&s.conditions)))
                .collect(),
            resource_set_reads: model
                .resource_sets
                .iter()
                .map(|(k, s)| (k.as_str(), condition::reads(&s.conditions)))
                .collect(),
        }
    }

    /// What tenant role `role` grants: `(type, action, held)`, `held` being the role (itself or
    /// one it extends) whose own permission grants it; sorted. `None` for an unknown role.
    pub fn tenant_role_grants(
        &self,
        role: &str,
    ) -> Option<impl Iterator<Item = (&'m str, &'m str, &'m str)> + '_> {
        self.tenant_grants.get(role).map(|by_type| {
            by_type
                .iter()
                .flat_map(|(ty, acts)| acts.iter().map(move |(a, held)| (*ty, *a, *held)))
        })
    }

    /// action -> the held role whose own permission grants it, for resource role `type#role`.
    pub fn resource_role_grants(
        &self,
        ty: &str,
        role: &str,
    ) -> Option<&BTreeMap<&'m str, &'m str>> {
        self.resource_grants.get(ty).and_then(|r| r.get(role))
    }

    /// Whether an assignment still grants at `now`.
    pub fn live(&self, a: &crate::model::Assignment) -> bool {
        self.now < until(a)
    }

    /// The tenant roles `user` holds in `tenant` at `now`, with everything they extend.
    pub fn tenant_roles(&self, user: &'m User, tenant: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for a in &user.roles {
            if let Scope::Tenant(t) = &a.scope {
                if t.text == tenant && self.live(a) {
                    out.extend(role_closure(&a.role.text, |n| {
                        self.model.roles.get(n).map(|r| &r.extends)
                    }));
                }
            }
        }
        out
    }

    /// `user`'s live tenant assignments: `(tenant, role)`, sorted.
    pub fn tenant_assignments(&self, user: &'m User) -> Vec<(&'m str, &'m str)> {
        let mut out: Vec<(&str, &str)> = user
            .roles
            .iter()
            .filter(|a| self.live(a))
            .filter_map(|a| match &a.scope {
                Scope::Tenant(t) => Some((t.text.as_str(), a.role.text.as_str())),
                Scope::Resource(_) => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether `user`'s live tenant roles grant `type:action` in `tenant`.
    pub fn tenant_allows(&self, user: &User, tenant: &str, ty: &str, action: &str) -> bool {
        user.roles.iter().any(|a| {
            matches!(&a.scope, Scope::Tenant(t) if t.text == tenant)
                && self.live(a)
                && self
                    .tenant_grants
                    .get(a.role.text.as_str())
                    .and_then(|g| g.get(ty))
                    .is_some_and(|actions| actions.contains_key(action))
        })
    }

    /// Everything `user`'s live tenant roles grant: `(tenant, type, action)`.
    pub fn tenant_permissions(&self, user: &'m User) -> BTreeSet<TenantGrant<'m>> {
        let mut out = BTreeSet::new();
        for a in &user.roles {
            let Scope::Tenant(t) = &a.scope else {
                continue;
            };
            if !self.live(a) {
                continue;
            }
            for (ty, action, _) in self.tenant_role_grants(&a.role.text).into_iter().flatten() {
                out.insert((t.text.as_str(), ty, action));
            }
        }
        out
    }

    /// The resource roles `user` holds on each instance at `now`, assigned or derived through
    /// relationships (not closed over `extends`; the grants are).
    pub fn instance_roles(&self, user: &'m User) -> BTreeMap<&'m str, BTreeSet<&'m str>> {
        self.instance_roles_from(user, |_, _| true)
    }

    /// [`Access::instance_roles`], walking only from the live resource assignments whose
    /// `(type, role)` passes `keep` (callers prune the walks that cannot matter to them).
    pub fn instance_roles_from(
        &self,
        user: &'m User,
        keep: impl Fn(&str, &str) -> bool,
    ) -> BTreeMap<&'m str, BTreeSet<&'m str>> {
        let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut seen = HashSet::new();
        let mut reached = Vec::new();
        for a in &user.roles {
            let Scope::Resource(inst) = &a.scope else {
                continue;
            };
            let ty = split_instance(&inst.text).map_or("", |(t, _)| t);
            if !self.live(a) || !keep(ty, &a.role.text) {
                continue;
            }
            seen.clear();
            reached.clear();
            self.graph
                .reach(&inst.text, &a.role.text, &mut seen, &mut reached);
            for &(i, role) in &reached {
                out.entry(i).or_default().insert(role);
            }
        }
        out
    }

    /// Resource role `role` of type `ty` and every role it reaches through `extends`, itself
    /// first (precomputed: no allocation).
    pub fn resource_role_closure<'a>(&'a self, ty: &'m str, role: &'a &'m str) -> &'a [&'m str] {
        self.graph.closure(ty, role)
    }

    /// The resource roles that holding `role` on `inst` gives, assigned or derived along
    /// relationships (not closed over `extends`): `(instance, role)`, the start first.
    pub fn reach(&self, inst: &'m str, role: &'m str) -> Vec<(&'m str, &'m str)> {
        let mut out = Vec::new();
        self.graph.reach(inst, role, &mut HashSet::new(), &mut out);
        out
    }

    /// Every resource role some user holds on some instance at `now` (assigned, reached through
    /// `extends`, or derived along relationships), as `(type, role)`. Costs at most one walk of
    /// the held `(instance, role)` pairs for the whole directory, usually far less (see
    /// `Graph::held_types`), not one walk per user.
    pub fn held_resource_roles(&self) -> HashSet<(&'m str, &'m str)> {
        let starts: Vec<(&str, &str)> = self
            .model
            .users
            .values()
            .flat_map(|u| &u.roles)
            .filter(|a| self.live(a))
            .filter_map(|a| match &a.scope {
                Scope::Resource(inst) => Some((inst.text.as_str(), a.role.text.as_str())),
                Scope::Tenant(_) => None,
            })
            .collect();
        self.graph.held_types(&starts)
    }

    /// What resource roles held on instances grant: `(type:key, action)`.
    pub fn permissions_of(
        &self,
        held: &BTreeMap<&'m str, BTreeSet<&'m str>>,
    ) -> BTreeSet<InstanceGrant<'m>> {
        let mut out = BTreeSet::new();
        for (&inst, roles) in held {
            let Some((ty, _)) = split_instance(inst) else {
                continue;
            };
            for role in roles {
                if let Some(grants) = self.resource_role_grants(ty, role) {
                    out.extend(grants.keys().map(|a| (inst, *a)));
                }
            }
        }
        out
    }

    /// The decision's tenant for a directory instance: its stored tenant, else `default`.
    pub fn instance_tenant(&self, inst: &str) -> &'m str {
        self.stored_tenant(inst).unwrap_or(DEFAULT_TENANT)
    }

    /// The tenant stored with a listed instance.
    fn stored_tenant(&self, inst: &str) -> Option<&'m str> {
        self.instance_index.get(inst).and_then(|(t, _)| *t)
    }

    /// Every instance the directory names: listed, assigned on, or in a relationship.
    pub fn instances(&self) -> BTreeSet<&'m str> {
        let m = self.model;
        let assigned = m.users.values().flat_map(|u| {
            u.roles.iter().filter_map(|a| match &a.scope {
                Scope::Resource(i) => Some(i.text.as_str()),
                Scope::Tenant(_) => None,
            })
        });
        let related = m
            .relationships
            .iter()
            .flat_map(|r| [r.subject.text.as_str(), r.object.text.as_str()]);
        // collected at once (sorted, then built in bulk): inserting ~450,000 names one by one
        // into a tree cost several times more on the large model
        m.resource_instances
            .keys()
            .map(crate::model::Text::as_str)
            .chain(assigned)
            .chain(related)
            .filter(|i| split_instance(i).is_some())
            .collect()
    }

    fn tenant_attrs(&self, tenant: &str) -> Option<&'m Attributes> {
        self.model.tenants.get(tenant).map(|t| &t.attributes)
    }

    fn instance_attrs(&self, inst: &str) -> Option<&'m Attributes> {
        self.instance_index.get(inst).map(|(_, a)| *a)
    }

    /// Whether user set `set` holds for `user` deciding in `tenant` on instance `inst` (when the
    /// set reads the resource too).
    pub fn in_user_set(&self, set: &str, user: &'m User, tenant: &str, inst: Option<&str>) -> bool {
        let Some(us) = self.model.user_sets.get(set) else {
            return false;
        };
        let roles = self.roles_value(self.user_set_reads(set), user, tenant);
        let env = self.env(Some(user), &roles, tenant, inst);
        condition::holds(&us.conditions, &env)
    }

    /// Whether resource set `set` holds for instance `inst` (for `user`, when the set reads it).
    pub fn in_resource_set(&self, set: &str, inst: &str, user: Option<&'m User>) -> bool {
        let Some(rs) = self.model.resource_sets.get(set) else {
            return false;
        };
        let Some((ty, _)) = split_instance(inst) else {
            return false;
        };
        if rs.resource.as_ref().is_some_and(|r| r.text != ty) {
            return false;
        }
        let tenant = self.instance_tenant(inst);
        let roles = match user {
            Some(u) => self.roles_value(self.resource_set_reads(set), u, tenant),
            None => Value::Array(Vec::new()),
        };
        let env = self.env(user, &roles, tenant, Some(inst));
        condition::holds(&rs.conditions, &env)
    }

    /// What user set `set` reads.
    pub fn user_set_reads(&self, set: &str) -> Reads {
        self.user_set_reads.get(set).copied().unwrap_or_default()
    }

    /// What resource set `set` reads.
    pub fn resource_set_reads(&self, set: &str) -> Reads {
        self.resource_set_reads
            .get(set)
            .copied()
            .unwrap_or_default()
    }

    /// `user.roles` as conditions see it (only computed when the condition reads it).
    fn roles_value(&self, reads: Reads, user: &'m User, tenant: &str) -> Value {
        if !reads.roles {
            return Value::Array(Vec::new());
        }
        Value::Array(
            self.tenant_roles(user, tenant)
                .into_iter()
                .map(Value::String)
                .collect(),
        )
    }

    fn env<'a>(
        &'a self,
        user: Option<&'m User>,
        roles: &'a Value,
        tenant: &str,
        inst: Option<&'a str>,
    ) -> Env<'a> {
        Env {
            user_key: user.map(|u| u.key.text.as_str()),
            user: user.map(|u| &u.attributes),
            user_query: None,
            user_roles: roles,
            resource_key: inst.and_then(split_instance).map(|(_, k)| k),
            resource: inst.and_then(|i| self.instance_attrs(i)),
            resource_query: None,
            tenant: self.tenant_attrs(tenant),
            context: None,
        }
    }

    /// Whether some condition-set rule lets `user` do `action` on directory instance `inst`.
    pub fn abac_allows(&self, user: &'m User, inst: &str, action: &str) -> bool {
        let Some((ty, _)) = split_instance(inst) else {
            return false;
        };
        let Some(rules) = self.abac_rules.get(ty).and_then(|r| r.get(action)) else {
            return false;
        };
        let tenant = self.instance_tenant(inst);
        rules.iter().any(|[us, rs]| {
            self.in_user_set(us, user, tenant, Some(inst))
                && self.in_resource_set(rs, inst, Some(user))
        })
    }
}

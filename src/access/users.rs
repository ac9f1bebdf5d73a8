//! What `permit users` reports about each user of the directory: the roles they hold (and how:
//! assigned, through `extends`, or derived along relationships), what those roles let them do,
//! and their stale assignments (expired, or expiring soon).
//!
//! Pure, like the rest of `access`: it answers at one instant `now` and never prints. Attribute
//! rules (ABAC) are not listed: they depend on the query's attributes and context, so they are
//! no property of the user alone (`permit eval --explain` answers for one query).

use super::Access;
use crate::compile::data::{role_closure, until};
use crate::model::{split_instance, Assignment, Scope, User};
use crate::source::SourceMap;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Nanoseconds in a day.
pub const DAY_NS: i64 = 86_400 * 1_000_000_000;

/// How a user comes to hold a role. Ordered: the first way found wins when there are several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum How {
    /// An assignment in the directory names it.
    Assigned,
    /// A held role extends it (`via` names the held role).
    Extends,
    /// A relationship derives it (`via` names the assignment it rests on).
    Derived,
}

impl How {
    pub fn as_str(self) -> &'static str {
        match self {
            How::Assigned => "assigned",
            How::Extends => "extends",
            How::Derived => "derived",
        }
    }
}

/// Why a role is held, beyond "assigned": the held role that extends it, or the assignment a
/// derivation rests on. Written out as `editor` or `admin on folder:engineering`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via<'m> {
    Role(&'m str),
    Assignment { role: &'m str, instance: &'m str },
}

impl std::fmt::Display for Via<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::Role(r) => f.write_str(r),
            Via::Assignment { role, instance } => write!(f, "{role} on {instance}"),
        }
    }
}

impl Serialize for Via<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A tenant role held in a tenant. JSON keys are declared in sorted order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantRole<'m> {
    pub how: How,
    pub role: &'m str,
    pub tenant: &'m str,
    pub via: Option<Via<'m>>,
}

/// A resource role held on one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceRole<'m> {
    pub how: How,
    pub instance: &'m str,
    pub role: &'m str,
    pub via: Option<Via<'m>>,
}

/// What the held roles allow: `type:action` per tenant, actions per instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Permissions<'m> {
    pub instances: BTreeMap<&'m str, BTreeSet<&'m str>>,
    pub tenants: BTreeMap<&'m str, BTreeSet<TypeAction<'m>>>,
}

/// A tenant-wide permission, written `type:action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TypeAction<'m>(pub &'m str, pub &'m str);

impl std::fmt::Display for TypeAction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

impl Serialize for TypeAction<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An assignment that has expired or expires within the window asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stale<'m> {
    /// `file:line` of the assignment.
    pub at: String,
    /// Whole days until it expires (negative: days since it expired).
    pub days_left: i64,
    pub expired: bool,
    /// `expires` as written.
    pub expires: &'m str,
    pub instance: Option<&'m str>,
    pub role: &'m str,
    pub tenant: Option<&'m str>,
}

/// One user's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserReport<'m> {
    pub instance_roles: Vec<InstanceRole<'m>>,
    pub key: &'m str,
    pub permissions: Permissions<'m>,
    pub stale: Vec<Stale<'m>>,
    pub tenant_roles: Vec<TenantRole<'m>>,
}

impl UserReport<'_> {
    /// Whether the report says anything (a user may hold nothing in the tenant asked about).
    pub fn is_empty(&self) -> bool {
        self.tenant_roles.is_empty() && self.instance_roles.is_empty() && self.stale.is_empty()
    }
}

/// What to report on.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    /// Only this tenant: its tenant roles, and instances stored in it (else every tenant).
    pub tenant: Option<&'a str>,
    /// Assignments expiring within this many nanoseconds from now count as stale.
    pub within_ns: i64,
}

impl Filter<'_> {
    fn tenant(&self, t: &str) -> bool {
        self.tenant.is_none_or(|want| want == t)
    }

    fn instance(&self, access: &Access, i: &str) -> bool {
        self.tenant(access.instance_tenant(i))
    }
}

/// `user`'s stale assignments in the filter's scope: cheap, so callers that only want users
/// with stale assignments ask this first and build the [`report`] only for them.
pub fn stale<'m>(
    access: &Access<'m>,
    sources: &SourceMap,
    user: &'m User,
    now: i64,
    filter: Filter<'_>,
) -> Vec<Stale<'m>> {
    user.roles
        .iter()
        .filter_map(|a| stale_one(access, sources, a, now, filter.within_ns))
        .filter(|s| match (s.tenant, s.instance) {
            (Some(t), _) => filter.tenant(t),
            (None, Some(i)) => filter.instance(access, i),
            (None, None) => false,
        })
        .collect()
}

/// The report on `user`, at the instant `access` answers for, with its `stale` assignments.
pub fn report<'m>(
    access: &Access<'m>,
    user: &'m User,
    stale: Vec<Stale<'m>>,
    filter: Filter<'_>,
) -> UserReport<'m> {
    let mut permissions = Permissions::default();
    for (t, ty, action) in access.tenant_permissions(user) {
        if filter.tenant(t) {
            permissions
                .tenants
                .entry(t)
                .or_default()
                .insert(TypeAction(ty, action));
        }
    }
    let mut tenant_roles = tenant_roles(access, user);
    tenant_roles.retain(|r| filter.tenant(r.tenant));
    let mut instance_roles = instance_roles(access, user);
    instance_roles.retain(|r| filter.instance(access, r.instance));
    // what the held roles grant (`extends` included: the grants are closed over it anyway)
    let mut held: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &instance_roles {
        held.entry(r.instance).or_default().insert(r.role);
    }
    for (inst, action) in access.permissions_of(&held) {
        permissions
            .instances
            .entry(inst)
            .or_default()
            .insert(action);
    }
    UserReport {
        instance_roles,
        key: &user.key.text,
        permissions,
        stale,
        tenant_roles,
    }
}

/// Keeps, for each place and role, the first of the ways it is held (see [`How`]).
fn keep<'m>(
    out: &mut BTreeMap<(&'m str, &'m str), (How, Option<Via<'m>>)>,
    at: (&'m str, &'m str),
    how: How,
    via: Option<Via<'m>>,
) {
    let slot = out.entry(at).or_insert((how, via));
    if how < slot.0 {
        *slot = (how, via);
    }
}

/// Live tenant roles by tenant, with everything they extend.
fn tenant_roles<'m>(access: &Access<'m>, user: &'m User) -> Vec<TenantRole<'m>> {
    let roles = &access.model.roles;
    let mut found = BTreeMap::new();
    for (tenant, role) in access.tenant_assignments(user) {
        keep(&mut found, (tenant, role), How::Assigned, None);
        for e in role_closure(role, |n| roles.get(n).map(|r| &r.extends)) {
            if let Some((e, _)) = roles.get_key_value(e.as_str()).filter(|(k, _)| *k != role) {
                keep(&mut found, (tenant, e), How::Extends, Some(Via::Role(role)));
            }
        }
    }
    found
        .into_iter()
        .map(|((tenant, role), (how, via))| TenantRole {
            how,
            role,
            tenant,
            via,
        })
        .collect()
}

/// Live resource roles by instance: assigned, derived, and what those extend.
fn instance_roles<'m>(access: &Access<'m>, user: &'m User) -> Vec<InstanceRole<'m>> {
    let mut found = BTreeMap::new();
    for a in user.roles.iter().filter(|a| access.live(a)) {
        let Scope::Resource(start) = &a.scope else {
            continue;
        };
        let (start, assigned) = (start.text.as_str(), a.role.text.as_str());
        for (inst, role) in access.reach(start, assigned) {
            let Some((ty, _)) = split_instance(inst) else {
                continue;
            };
            if (inst, role) == (start, assigned) {
                keep(&mut found, (inst, role), How::Assigned, None);
            } else {
                let via = Via::Assignment {
                    role: assigned,
                    instance: start,
                };
                keep(&mut found, (inst, role), How::Derived, Some(via));
            }
            for &e in access.resource_role_closure(ty, &role).iter().skip(1) {
                keep(&mut found, (inst, e), How::Extends, Some(Via::Role(role)));
            }
        }
    }
    found
        .into_iter()
        .map(|((instance, role), (how, via))| InstanceRole {
            how,
            instance,
            role,
            via,
        })
        .collect()
}

/// `a` as a stale assignment, when it expired or expires within `within_ns` of `now`.
fn stale_one<'m>(
    access: &Access<'m>,
    sources: &SourceMap,
    a: &'m Assignment,
    now: i64,
    within_ns: i64,
) -> Option<Stale<'m>> {
    let expires = a.expires.as_ref()?;
    let end = until(a);
    if end > now.saturating_add(within_ns) {
        return None;
    }
    let (tenant, instance) = match &a.scope {
        Scope::Tenant(t) => (Some(t.text.as_str()), None),
        Scope::Resource(i) => (None, Some(i.text.as_str())),
    };
    Some(Stale {
        at: sources.origin(a.span),
        days_left: (end.saturating_sub(now)).div_euclid(DAY_NS),
        expired: !access.live(a),
        expires: &expires.text,
        instance,
        role: &a.role.text,
        tenant,
    })
}

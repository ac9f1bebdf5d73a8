//! User sets and resource sets decided at build time.
//!
//! A user set whose conditions read nothing but the user's key and stored attributes (no
//! `user.roles`, `resource.*`, `tenant.*` or `context.*`) has the same answer for a stored user
//! on every decision whose query brings no attributes of its own. Such a set is evaluated here
//! for every stored user, and `users[u].user_sets` lists the ones that hold; likewise
//! `instances[type][key].resource_sets` for resource sets that read only the instance. The
//! generated Rego (`compile/abac.rs`) looks the answer up in that case and evaluates the
//! conditions otherwise: for a query with attributes, an unknown user or instance, or a set
//! that reads more.
//!
//! The answer comes from [`condition::holds`], the Rust reading of the conditions that the
//! differential tests hold equal to the Rego one (`tests/oracle.rs` also decides every query
//! again with empty attribute objects, which forces the Rego's own evaluation).

use crate::access::condition::{self, Env};
use crate::model::condition::Condition;
use crate::model::{Attributes, Model};
use serde_json::Value;
use std::collections::BTreeMap;

/// Set names that hold, serialized as `{name: true}`.
pub type Members<'m> = BTreeMap<&'m str, bool>;

/// Whether user set conditions `c` read only the user's key and stored attributes.
pub fn user_set_decided_at_build(c: &Condition) -> bool {
    let r = condition::reads(c);
    !(r.roles || r.resource || r.tenant || r.context)
}

/// Whether resource set conditions `c` read only the instance's key and stored attributes.
pub fn resource_set_decided_at_build(c: &Condition) -> bool {
    let r = condition::reads(c);
    !(r.user || r.tenant || r.context)
}

/// The sets decided at build time, ready to be evaluated per user and per instance.
pub struct BuildTimeSets<'m> {
    user: Vec<(&'m str, &'m Condition)>,
    /// (name, the resource type it is limited to, conditions)
    resource: Vec<(&'m str, Option<&'m str>, &'m Condition)>,
    no_roles: Value,
}

impl<'m> BuildTimeSets<'m> {
    pub fn new(m: &'m Model) -> Self {
        BuildTimeSets {
            user: m
                .user_sets
                .iter()
                .filter(|(_, s)| user_set_decided_at_build(&s.conditions))
                .map(|(name, s)| (name.as_str(), &s.conditions))
                .collect(),
            resource: m
                .resource_sets
                .iter()
                .filter(|(_, s)| resource_set_decided_at_build(&s.conditions))
                .map(|(name, s)| {
                    let ty = s.resource.as_ref().map(|r| r.text.as_str());
                    (name.as_str(), ty, &s.conditions)
                })
                .collect(),
            no_roles: Value::Array(Vec::new()),
        }
    }

    /// The user sets decided at build time that hold for stored user `key`; `None` when the
    /// model has no such set (the field is then left out of the data).
    pub fn of_user(&self, key: &str, attrs: &Attributes) -> Option<Members<'m>> {
        if self.user.is_empty() {
            return None;
        }
        let env = Env {
            user_key: Some(key),
            user: Some(attrs),
            ..self.nothing()
        };
        Some(members(self.user.iter().copied(), &env))
    }

    /// The resource sets decided at build time that hold for the stored instance `ty:key`.
    pub fn of_instance(&self, ty: &str, key: &str, attrs: &Attributes) -> Option<Members<'m>> {
        if self.resource.is_empty() {
            return None;
        }
        let env = Env {
            resource_key: Some(key),
            resource: Some(attrs),
            ..self.nothing()
        };
        let sets = self
            .resource
            .iter()
            .filter(|(_, limited_to, _)| limited_to.is_none_or(|t| t == ty))
            .map(|(name, _, c)| (*name, *c));
        Some(members(sets, &env))
    }

    /// An environment that sees nothing: the sets evaluated here read no more than one side.
    fn nothing(&self) -> Env<'_> {
        Env {
            user_key: None,
            user: None,
            user_query: None,
            user_roles: &self.no_roles,
            resource_key: None,
            resource: None,
            resource_query: None,
            tenant: None,
            context: None,
        }
    }
}

fn members<'m>(sets: impl Iterator<Item = (&'m str, &'m Condition)>, env: &Env) -> Members<'m> {
    sets.filter(|(_, c)| condition::holds(c, env))
        .map(|(name, _)| (name, true))
        .collect()
}

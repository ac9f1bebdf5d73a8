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
fn user_set_decided_at_build(c: &Condition) -> bool {
    let r = condition::reads(c);
    !(r.roles || r.resource || r.tenant || r.context)
}

/// Whether resource set conditions `c` read only the instance's key and stored attributes.
fn resource_set_decided_at_build(c: &Condition) -> bool {
    let r = condition::reads(c);
    !(r.user || r.tenant || r.context)
}

/// The sets decided at build time, ready to be evaluated per user and per instance.
pub struct BuildTimeSets<'m> {
    user: Vec<(&'m str, &'m Condition)>,
    /// (name, the resource type it is limited to, conditions)
    resource: Vec<(&'m str, Option<&'m str>, &'m Condition)>,
}

/// `user.roles` as the sets evaluated here see it: never read (such sets are not decided here).
static NO_ROLES: Value = Value::Array(Vec::new());

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
        }
    }

    /// Whether user set `name` is decided at build time.
    pub fn decides_user_set(&self, name: &str) -> bool {
        self.user.iter().any(|(n, _)| *n == name)
    }

    /// Whether resource set `name` is decided at build time.
    pub fn decides_resource_set(&self, name: &str) -> bool {
        self.resource.iter().any(|(n, _, _)| *n == name)
    }

    /// Whether some user set is decided at build time (`users[u].user_sets` is then in the data).
    pub fn decides_any_user_set(&self) -> bool {
        !self.user.is_empty()
    }

    /// Whether some resource set is decided at build time (`instances[t][k].resource_sets` is
    /// then in the data).
    pub fn decides_any_resource_set(&self) -> bool {
        !self.resource.is_empty()
    }

    /// Whether some condition-set rule of `m` has both its sets decided at build time: only
    /// then can the generated Rego answer a rule by lookups alone (`abac.stored_granted`).
    pub fn decide_some_rule(&self, m: &Model) -> bool {
        m.condition_set_rules.iter().any(|rule| {
            self.decides_user_set(&rule.user_set.text)
                && self.decides_resource_set(&rule.resource_set.text)
        })
    }

    /// The user sets decided at build time that hold for stored user `key`; `None` when the
    /// model has no such set (the field is then left out of the data).
    pub fn of_user(&self, key: &str, attrs: &Attributes) -> Option<Members<'m>> {
        if !self.decides_any_user_set() {
            return None;
        }
        let env = Env {
            user_key: Some(key),
            user: Some(attrs),
            ..Self::nothing()
        };
        Some(members(self.user.iter().copied(), &env))
    }

    /// The resource sets decided at build time that hold for the stored instance `ty:key`.
    pub fn of_instance(&self, ty: &str, key: &str, attrs: &Attributes) -> Option<Members<'m>> {
        if !self.decides_any_resource_set() {
            return None;
        }
        let env = Env {
            resource_key: Some(key),
            resource: Some(attrs),
            ..Self::nothing()
        };
        let sets = self
            .resource
            .iter()
            .filter(|(_, limited_to, _)| limited_to.is_none_or(|t| t == ty))
            .map(|(name, _, c)| (*name, *c));
        Some(members(sets, &env))
    }

    /// An environment that sees nothing: the sets evaluated here read no more than one side.
    fn nothing() -> Env<'static> {
        Env {
            user_key: None,
            user: None,
            user_query: None,
            user_roles: &NO_ROLES,
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

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = r#"
resources:
  doc:
    actions: [read]
    attributes: {class: string, owner: string}
  folder:
    actions: [read]
    attributes: {class: string}
roles:
  reader: {permissions: ["doc:read"]}
user_attributes: {dept: string}
user_sets:
  eng: {conditions: {allOf: [{user.dept: {equals: eng}}, {user.key: {not-equals: ""}}]}}
  readers: {conditions: {allOf: [{user.roles: {array_contains: reader}}]}}
  from_web: {conditions: {allOf: [{context.channel: {equals: web}}]}}
  same_dept: {conditions: {allOf: [{user.dept: {equals: {ref: resource.class}}}]}}
resource_sets:
  public: {resource: doc, conditions: {allOf: [{resource.class: {equals: public}}]}}
  public_folder: {resource: folder, conditions: {allOf: [{resource.class: {equals: public}}]}}
  mine: {resource: doc, conditions: {allOf: [{resource.owner: {equals: {ref: user.key}}}]}}
  rich_tenant: {resource: doc, conditions: {allOf: [{tenant.plan: {equals: gold}}]}}
condition_set_rules:
  - {user_set: eng, permission: "doc:read", resource_set: public}
users:
  ann: {attributes: {dept: eng}}
  bob: {attributes: {dept: sales}}
resource_instances:
  "doc:a": {attributes: {class: public, owner: ann}}
  "folder:f": {attributes: {class: public}}
"#;

    fn model() -> Model {
        crate::model::load::one_file_for_tests(MODEL)
    }

    fn names(m: Option<Members<'_>>) -> Vec<&str> {
        m.expect("the model has sets decided at build time")
            .into_keys()
            .collect()
    }

    #[test]
    fn only_sets_reading_one_side_and_stored_attributes_are_decided_at_build() {
        let m = model();
        let user = |n: &str| user_set_decided_at_build(&m.user_sets[n].conditions);
        let resource = |n: &str| resource_set_decided_at_build(&m.resource_sets[n].conditions);
        assert!(user("eng"));
        assert!(
            !user("readers"),
            "user.roles depends on the tenant and the clock"
        );
        assert!(!user("from_web"), "context comes with the query");
        assert!(!user("same_dept"), "reads the resource");
        assert!(resource("public") && resource("public_folder"));
        assert!(!resource("mine"), "reads the user");
        assert!(!resource("rich_tenant"), "reads the tenant");
    }

    #[test]
    fn a_rule_is_decided_at_build_when_both_its_sets_are() {
        let mut m = model();
        let decided = |m: &Model| BuildTimeSets::new(m).decide_some_rule(m);
        assert!(decided(&m), "eng and public both are");
        m.condition_set_rules[0].resource_set.text = "mine".into();
        assert!(!decided(&m), "mine reads the user");
        m.condition_set_rules[0].resource_set.text = "public".into();
        m.condition_set_rules[0].user_set.text = "readers".into();
        assert!(!decided(&m), "readers reads user.roles");
    }

    #[test]
    fn members_are_the_sets_that_hold_for_the_resource_type() {
        let m = model();
        let sets = BuildTimeSets::new(&m);
        let attrs = |u: &str| &m.users[u].attributes;
        assert_eq!(names(sets.of_user("ann", attrs("ann"))), ["eng"]);
        assert!(names(sets.of_user("bob", attrs("bob"))).is_empty());
        let inst = |k: &str| &m.resource_instances[k].attributes;
        // each set holds only for instances of its resource type
        assert_eq!(
            names(sets.of_instance("doc", "a", inst("doc:a"))),
            ["public"]
        );
        assert_eq!(
            names(sets.of_instance("folder", "f", inst("folder:f"))),
            ["public_folder"]
        );
    }
}

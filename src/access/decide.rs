//! The decision contract (SPEC section 3) evaluated straight over the model: the oracle the
//! generated Rego is held to (`tests/oracle.rs` requires oracle = regorus = real OPA).
//!
//! It reads the model through [`Access`] — role grants closed over `extends` and `*`,
//! derivations through relationships with `Graph::reach` (the walker that materializes
//! `data.permit.model.rebac`), conditions with [`condition::holds`] — and never looks at Rego.
//! It must not share code with `compile/rego` or `compile/abac.rs`: it is the second reading.
//!
//! Custom Rego (`package permit.custom`) cannot be evaluated without a Rego engine, so its
//! verdict is an input: the caller says whether `custom.allow` and `custom.deny` hold for the
//! query ([`Custom`]). The property test writes custom rules from a small family it evaluates
//! itself (equalities on query fields) and hands the oracle their verdict.

use super::{condition, Access};
use crate::model::{split_instance, Scope, User, DEFAULT_TENANT};
use crate::query::Query;
use serde_json::Value;

/// What `data.permit.custom` says about one query: `allow` and `deny` (undefined is false).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Custom {
    pub allow: bool,
    pub deny: bool,
}

/// One decision as the contract defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleDecision {
    pub allow: bool,
    /// `allowing_sources`, sorted: `abac`, `custom`, `rbac`, `rebac`.
    pub allowing_sources: Vec<&'static str>,
    /// `debug.reason`: `allow` or the first denial reason that applies.
    pub reason: &'static str,
    /// `debug.abac.reason`; `None` for a malformed query, for which the contract defines none.
    pub abac_reason: Option<&'static str>,
}

impl<'m> Access<'m> {
    /// Decides `input` (a query in Permit's shape) at this `Access`'s `now`, given what custom
    /// Rego says about it.
    pub fn decide(&self, input: &Value, custom: Custom) -> OracleDecision {
        let Some(q) = Query::parse(input) else {
            return OracleDecision {
                allow: false,
                allowing_sources: Vec::new(),
                reason: "invalid_query",
                abac_reason: None,
            };
        };
        let m = self.model;
        let user = m.users.get(q.user);
        let inst = q.resource_key.map(|k| format!("{}:{k}", q.resource_type));
        // a listed instance's stored tenant, else the query's, else `default`
        let tenant = inst
            .as_deref()
            .and_then(|i| self.stored_tenant(i))
            .or(q.tenant)
            .unwrap_or(DEFAULT_TENANT);

        let rbac = user.is_some_and(|u| self.tenant_allows(u, tenant, q.resource_type, q.action));
        let rebac = match (user, inst.as_deref()) {
            (Some(u), Some(i)) => self.instance_allows(u, i, q.action),
            _ => false,
        };
        let (abac, abac_reason) = self.abac_decides(&q, user, tenant, inst.as_deref());

        let mut allowing_sources = Vec::new();
        for (allowed, source) in [
            (abac, "abac"),
            (custom.allow, "custom"),
            (rbac, "rbac"),
            (rebac, "rebac"),
        ] {
            if allowed {
                allowing_sources.push(source);
            }
        }
        let allow = !allowing_sources.is_empty() && !custom.deny;
        let resource = m.resources.get(q.resource_type);
        let reason =
            if allow {
                "allow"
            } else if resource.is_none() {
                "no_such_resource"
            } else if resource.is_some_and(|r| !r.actions.contains_key(q.action)) {
                "no_such_action"
            } else if custom.deny {
                "custom_deny"
            } else if let Some(u) = user {
                if !u.roles.iter().any(|a| self.live(a)) {
                    "no_user_roles"
                } else if !u.roles.iter().any(|a| {
                    matches!(&a.scope, Scope::Tenant(t) if t.text == tenant) && self.live(a)
                }) {
                    "no_role_in_tenant"
                } else {
                    "no_permission"
                }
            } else {
                "user_not_synced"
            };
        OracleDecision {
            allow,
            allowing_sources,
            reason,
            abac_reason: Some(abac_reason),
        }
    }

    /// Whether `user`'s resource roles on `inst`, assigned or derived, grant `action`.
    fn instance_allows(&self, user: &'m User, inst: &str, action: &str) -> bool {
        let Some((ty, _)) = split_instance(inst) else {
            return false;
        };
        let held = self.instance_roles(user);
        held.get(inst).is_some_and(|roles| {
            roles.iter().any(|role| {
                self.resource_role_grants(ty, role)
                    .is_some_and(|g| g.contains_key(action))
            })
        })
    }

    /// ABAC for a query: whether a condition-set rule allows, and `debug.abac.reason`.
    fn abac_decides(
        &self,
        q: &Query,
        user: Option<&'m User>,
        tenant: &str,
        inst: Option<&str>,
    ) -> (bool, &'static str) {
        let Some(rules) = self
            .abac_rules
            .get(q.resource_type)
            .and_then(|r| r.get(q.action))
        else {
            return (false, "no_matching_rules");
        };
        // `user.roles`: the roles held in the decision's tenant (none for an unknown user)
        let roles = Value::Array(
            user.map(|u| self.tenant_roles(u, tenant))
                .unwrap_or_default()
                .into_iter()
                .map(Value::String)
                .collect(),
        );
        let env = condition::Env {
            user_key: Some(q.user),
            user: user.map(|u| &u.attributes),
            user_query: q.user_attributes,
            user_roles: &roles,
            resource_key: q.resource_key,
            resource: inst.and_then(|i| self.instance_attrs(i)),
            resource_query: q.resource_attributes,
            tenant: self.tenant_attrs(tenant),
            context: q.context,
        };
        let user_set = |name: &str| {
            self.model
                .user_sets
                .get(name)
                .is_some_and(|s| condition::holds(&s.conditions, &env))
        };
        let resource_set = |name: &str| {
            self.model.resource_sets.get(name).is_some_and(|s| {
                s.resource
                    .as_ref()
                    .is_none_or(|r| r.text == q.resource_type)
                    && condition::holds(&s.conditions, &env)
            })
        };
        if rules
            .iter()
            .any(|[us, rs]| user_set(us) && resource_set(rs))
        {
            (true, "allow")
        } else if !rules.iter().any(|[us, _]| user_set(us)) {
            (false, "no_matching_usersets")
        } else {
            (false, "no_matching_resourcesets")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MODEL: &str = r#"
resources:
  folder:
    actions: [read]
    relations: {parent: folder}
    roles:
      viewer: {permissions: [read], granted_to: [{role: viewer, on_resource: folder, linked_by_relation: parent}]}
  doc:
    actions: [read, edit]
    attributes: {class: string}
roles:
  reader: {permissions: ["doc:read"]}
user_attributes: {dept: string}
user_sets:
  eng: {conditions: {allOf: [{user.dept: {equals: eng}}]}}
resource_sets:
  public: {resource: doc, conditions: {allOf: [{resource.class: {equals: public}}]}}
condition_set_rules:
  - {user_set: eng, permission: "doc:edit", resource_set: public}
tenants:
  acme: {}
users:
  ann:
    attributes: {dept: sales}
    roles:
      - {role: reader, tenant: acme}
      - {role: viewer, resource: "folder:a"}
  old:
    roles:
      - {role: reader, tenant: acme, expires: 2001-01-01}
resource_instances:
  "doc:untenanted": {attributes: {class: secret}}
  "doc:in-acme": {tenant: acme, attributes: {class: public}}
relationships:
  - {subject: "folder:a", relation: parent, object: "folder:b"}
  - {subject: "folder:b", relation: parent, object: "folder:c"}
  - {subject: "folder:c", relation: parent, object: "folder:a"}
"#;

    fn model() -> crate::model::Model {
        crate::model::load::one_file_for_tests(MODEL)
    }

    fn q(user: Value, action: &str, resource: Value) -> Value {
        json!({"user": user, "action": action, "resource": resource})
    }

    #[test]
    fn decides_as_section_3_says() {
        let m = model();
        let a = Access::new(&m, 1_800_000_000_000_000_000);
        let none = Custom::default();
        let decide = |input: Value, custom| {
            let d = a.decide(&input, custom);
            (d.allow, d.allowing_sources, d.reason)
        };
        // a listed instance without a stored tenant is decided in the query's tenant
        let doc = |key: &str, tenant: &str| json!({"type": "doc", "key": key, "tenant": tenant});
        assert_eq!(
            decide(
                q(json!({"key": "ann"}), "read", doc("untenanted", "acme")),
                none
            ),
            (true, vec!["rbac"], "allow")
        );
        // a stored tenant wins over the query's
        assert_eq!(
            decide(q(json!({"key": "ann"}), "read", doc("in-acme", "x")), none),
            (true, vec!["rbac"], "allow")
        );
        assert_eq!(
            decide(
                q(json!({"key": "ann"}), "read", doc("untenanted", "x")),
                none
            )
            .2,
            "no_role_in_tenant"
        );
        // derived around a relationship cycle
        let folder = |k: &str| json!({"type": "folder", "key": k});
        assert_eq!(
            decide(q(json!({"key": "ann"}), "read", folder("c")), none),
            (true, vec!["rebac"], "allow")
        );
        // query attributes override stored ones
        let eng = json!({"key": "ann", "attributes": {"dept": "eng"}});
        assert_eq!(
            decide(q(eng, "edit", doc("in-acme", "acme")), none),
            (true, vec!["abac"], "allow")
        );
        let d = a.decide(
            &q(json!({"key": "ann"}), "edit", doc("in-acme", "acme")),
            none,
        );
        assert_eq!(
            (d.reason, d.abac_reason),
            ("no_permission", Some("no_matching_usersets"))
        );
        // expired assignments grant nothing; custom deny comes before the user's own reasons
        assert_eq!(
            decide(
                q(json!({"key": "old"}), "read", doc("in-acme", "acme")),
                none
            )
            .2,
            "no_user_roles"
        );
        let veto = Custom {
            allow: true,
            deny: true,
        };
        assert_eq!(
            decide(q(json!({"key": "nobody"}), "read", doc("x", "acme")), veto),
            (false, vec!["custom"], "custom_deny")
        );
        // custom may allow an unknown type; a malformed query is denied even so
        let allow = Custom {
            allow: true,
            deny: false,
        };
        let unknown = json!({"type": "ship"});
        assert_eq!(
            decide(q(json!({"key": "nobody"}), "fly", unknown.clone()), allow),
            (true, vec!["custom"], "allow")
        );
        assert_eq!(
            decide(q(json!({"key": ""}), "fly", unknown), allow),
            (false, vec![], "invalid_query")
        );
    }
}

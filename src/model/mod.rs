//! The authorization model: YAML types with spans, loading, validation.
//!
//! [`load`] reads every `*.yaml` under the policy folder into one [`Model`]; [`validate`] checks
//! references, cycles and types. Neither prints: both return diagnostics.

pub mod condition;
pub mod load;
pub mod read;
pub mod validate;

pub use condition::{Condition, Leaf, Operand, Operator, Subject};

use crate::source::Span;
use std::collections::BTreeMap;

pub use crate::yaml::Text;

/// A string from the user's files and where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub text: Text,
    pub span: Span,
}

impl Name {
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The declared type of an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    String,
    Number,
    Bool,
    Array,
    Object,
}

impl AttrType {
    pub const NAMES: [&'static str; 6] = ["string", "number", "bool", "boolean", "array", "object"];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" => AttrType::String,
            "number" => AttrType::Number,
            "bool" | "boolean" => AttrType::Bool,
            "array" => AttrType::Array,
            "object" | "json" => AttrType::Object,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Number => "number",
            AttrType::Bool => "bool",
            AttrType::Array => "array",
            AttrType::Object => "object",
        }
    }

    /// Whether a JSON value has this type.
    pub fn admits(self, v: &serde_json::Value) -> bool {
        use serde_json::Value;
        matches!(
            (self, v),
            (AttrType::String, Value::String(_))
                | (AttrType::Number, Value::Number(_))
                | (AttrType::Bool, Value::Bool(_))
                | (AttrType::Array, Value::Array(_))
                | (AttrType::Object, Value::Object(_))
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttrDecl {
    pub key: Name,
    pub ty: AttrType,
}

/// A stored attribute value.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrValue {
    pub key: Name,
    pub value: serde_json::Value,
    pub span: Span,
}

/// Stored attribute values, sorted by key. A sorted list rather than a map: a user or an
/// instance holds a handful, and a `BTreeMap` node per holder cost about 1 KiB each (a third of
/// the memory of the large model, and its time: fresh memory is what loading pays most for).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes(Vec<AttrValue>);

impl Attributes {
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.0
            .binary_search_by(|a| a.key.text.as_str().cmp(key))
            .ok()
            .map(|i| &self.0[i])
    }

    /// `(key, value)` in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&Text, &AttrValue)> {
        self.0.iter().map(|a| (&a.key.text, a))
    }

    pub fn values(&self) -> std::slice::Iter<'_, AttrValue> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Values in any order; for a key given twice the last one counts (as with a map).
impl FromIterator<AttrValue> for Attributes {
    fn from_iter<I: IntoIterator<Item = AttrValue>>(iter: I) -> Self {
        let mut v: Vec<AttrValue> = iter.into_iter().collect();
        v.reverse();
        v.sort_by(|a, b| a.key.text.cmp(&b.key.text)); // stable: the last given comes first
        v.dedup_by(|later, first| later.key.text == first.key.text);
        v.shrink_to_fit();
        Attributes(v)
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (&'a Text, &'a AttrValue);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, AttrValue>, fn(&AttrValue) -> (&Text, &AttrValue)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|a| (&a.key.text, a))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub key: Name,
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Relation {
    pub key: Name,
    /// The resource type at the other end.
    pub target: Name,
}

/// "Holders of `role` on the `on_resource` that is this resource's `linked_by_relation` get this role."
#[derive(Clone, Debug, PartialEq)]
pub struct Derivation {
    pub span: Span,
    pub role: Name,
    pub on_resource: Name,
    pub linked_by_relation: Name,
}

/// A role: a tenant role (permissions `type:action`) or a resource role (permissions `action`).
#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub key: Name,
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Vec<Name>,
    pub extends: Vec<Name>,
    pub granted_to: Vec<Derivation>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub key: Name,
    pub name: Option<String>,
    pub description: Option<String>,
    pub actions: BTreeMap<Text, Action>,
    /// False when `actions` could not be read: references to its actions are not reported then.
    pub actions_known: bool,
    pub attributes: BTreeMap<Text, AttrDecl>,
    pub roles: BTreeMap<Text, Role>,
    pub relations: BTreeMap<Text, Relation>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UserSet {
    pub key: Name,
    pub name: Option<String>,
    pub conditions: Condition,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceSet {
    pub key: Name,
    pub name: Option<String>,
    pub resource: Option<Name>,
    pub conditions: Condition,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConditionSetRule {
    pub span: Span,
    pub user_set: Name,
    pub permission: Name,
    pub resource_set: Name,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tenant {
    pub key: Name,
    pub name: Option<String>,
    pub attributes: Attributes,
}

/// Where an assignment holds: in a tenant, or on one resource instance.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    Tenant(Name),
    Resource(Name),
}

/// The instant an assignment stops granting, as nanoseconds since the Unix epoch (exclusive).
#[derive(Clone, Debug, PartialEq)]
pub struct Expiry {
    pub until_ns: i64,
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub span: Span,
    pub role: Name,
    pub scope: Scope,
    /// Boxed: few assignments expire, and inline it was a quarter of every assignment's size.
    pub expires: Option<Box<Expiry>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub key: Name,
    pub attributes: Attributes,
    pub roles: Vec<Assignment>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// `type:key` as written.
    pub key: Name,
    pub tenant: Option<Name>,
    pub attributes: Attributes,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Relationship {
    pub span: Span,
    pub subject: Name,
    pub relation: Name,
    pub object: Name,
}

/// The whole model, merged from every file under the policy folder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub resources: BTreeMap<Text, Resource>,
    pub roles: BTreeMap<Text, Role>,
    pub user_attributes: BTreeMap<Text, AttrDecl>,
    pub user_sets: BTreeMap<Text, UserSet>,
    pub resource_sets: BTreeMap<Text, ResourceSet>,
    pub condition_set_rules: Vec<ConditionSetRule>,
    pub tenants: BTreeMap<Text, Tenant>,
    pub users: BTreeMap<Text, User>,
    pub resource_instances: BTreeMap<Text, Instance>,
    pub relationships: Vec<Relationship>,
}

/// The tenant every model has, declared or not.
pub const DEFAULT_TENANT: &str = "default";

/// Splits an instance reference `type:key` at the first `:`.
pub fn split_instance(s: &str) -> Option<(&str, &str)> {
    s.split_once(':')
        .filter(|(t, k)| !t.is_empty() && !k.is_empty())
}

/// Whether `s` is a valid schema name (resource, action, role, attribute, tenant, set, relation).
pub fn is_valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Whether `s` is a valid user or instance key: non-empty, printable, no control characters.
pub fn is_valid_key(s: &str) -> bool {
    !s.is_empty() && s.len() <= 1024 && !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(key: &str, v: i64) -> AttrValue {
        let span = Span::new(crate::source::FileId::default(), 1, 1, 1);
        AttrValue {
            key: Name {
                text: key.into(),
                span,
            },
            value: v.into(),
            span,
        }
    }

    #[test]
    fn attributes_are_sorted_by_key_and_the_last_value_given_counts() {
        let a: Attributes = [value("level", 1), value("clearance", 2), value("level", 3)]
            .into_iter()
            .collect();
        let keys: Vec<&Text> = a.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["clearance", "level"]);
        assert_eq!(a.get("level").map(|v| v.value.clone()), Some(3.into()));
        assert_eq!(a.get("clearance").map(|v| v.value.clone()), Some(2.into()));
        assert!(a.get("owner").is_none());
        assert_eq!(a.len(), 2);
    }
}

//! Conditions evaluated in Rust, with the semantics the generated Rego has (SPEC section 2):
//! a missing attribute, a missing `ref` target or a type mismatch makes a leaf false, numbers
//! compare by value (`1 == 1.0`), and `not` over a false leaf is true.
//!
//! This is the independent reading of the contract that `diff` and the oracle rely on; it never
//! looks at Rego. `compile/abac.rs` is the other reading; the differential tests hold them equal.

use crate::model::condition::{Check, Condition, Leaf, Operand, Operator, Subject};
use crate::model::Attributes;
use serde_json::Value;
use std::borrow::Cow;

/// What a condition can see: one user, one resource, the decision's tenant and the context.
pub struct Env<'a> {
    pub user_key: Option<&'a str>,
    pub user: Option<&'a Attributes>,
    /// The query's `user.attributes`: they override stored ones, key by key.
    pub user_query: Option<&'a serde_json::Map<String, Value>>,
    /// `user.roles`: the unexpired tenant roles held in the decision's tenant (with `extends`),
    /// sorted, as a JSON array.
    pub user_roles: &'a Value,
    pub resource_key: Option<&'a str>,
    pub resource: Option<&'a Attributes>,
    /// The query's `resource.attributes`, overriding stored ones.
    pub resource_query: Option<&'a serde_json::Map<String, Value>>,
    pub tenant: Option<&'a Attributes>,
    pub context: Option<&'a serde_json::Map<String, Value>>,
}

impl<'a> Env<'a> {
    fn attr(&self, subject: Subject, attr: &str) -> Option<Cow<'a, Value>> {
        let stored = |a: Option<&'a Attributes>| {
            a.and_then(|a| a.get(attr)).map(|v| Cow::Borrowed(&v.value))
        };
        let merged = |q: Option<&'a serde_json::Map<String, Value>>, a| {
            q.and_then(|q| q.get(attr))
                .map(Cow::Borrowed)
                .or_else(|| stored(a))
        };
        match (subject, attr) {
            (Subject::User, "key") => self.user_key.map(|k| Cow::Owned(Value::String(k.into()))),
            (Subject::User, "roles") => Some(Cow::Borrowed(self.user_roles)),
            (Subject::Resource, "key") => self
                .resource_key
                .map(|k| Cow::Owned(Value::String(k.into()))),
            (Subject::User, _) => merged(self.user_query, self.user),
            (Subject::Resource, _) => merged(self.resource_query, self.resource),
            (Subject::Tenant, _) => stored(self.tenant),
            (Subject::Context, _) => self.context.and_then(|c| c.get(attr)).map(Cow::Borrowed),
        }
    }
}

/// Whether `c` holds in `env`.
pub fn holds(c: &Condition, env: &Env) -> bool {
    match c {
        Condition::All(cs, _) => cs.iter().all(|c| holds(c, env)),
        Condition::Any(cs, _) => cs.iter().any(|c| holds(c, env)),
        Condition::Not(c, _) => !holds(c, env),
        Condition::Leaf(leaf) => leaf_holds(leaf, env),
    }
}

fn leaf_holds(leaf: &Leaf, env: &Env) -> bool {
    let Some(x) = env.attr(leaf.subject, &leaf.attr) else {
        return false;
    };
    leaf.checks.iter().all(|c| check_holds(&x, c, env))
}

fn check_holds(x: &Value, check: &Check, env: &Env) -> bool {
    let v: Cow<Value> = match &check.value {
        Operand::Value(v) => Cow::Borrowed(v),
        Operand::Ref { subject, attr, .. } => match env.attr(*subject, attr) {
            Some(v) => v,
            None => return false,
        },
    };
    let v: &Value = &v;
    match check.op {
        Operator::Equals => equal(x, v),
        Operator::NotEquals => type_name(x) == type_name(v) && !equal(x, v),
        Operator::GreaterThan
        | Operator::GreaterThanEquals
        | Operator::LessThan
        | Operator::LessThanEquals => {
            let (Some(a), Some(b)) = (number(x), number(v)) else {
                return false;
            };
            match check.op {
                Operator::GreaterThan => a > b,
                Operator::GreaterThanEquals => a >= b,
                Operator::LessThan => a < b,
                _ => a <= b,
            }
        }
        Operator::Contains => match (x, v) {
            (Value::String(a), Value::String(b)) => a.contains(b.as_str()),
            _ => false,
        },
        Operator::In => match v {
            Value::Array(items) => items.iter().any(|i| equal(i, x)),
            _ => false,
        },
        Operator::ArrayContains => match x {
            Value::Array(items) => items.iter().any(|i| equal(i, v)),
            _ => false,
        },
        Operator::ArraySubset => match (x, v) {
            (Value::Array(a), Value::Array(b)) => a.iter().all(|e| b.iter().any(|f| equal(e, f))),
            _ => false,
        },
        Operator::ArraySuperset => match (x, v) {
            (Value::Array(a), Value::Array(b)) => b.iter().all(|e| a.iter().any(|f| equal(e, f))),
            _ => false,
        },
        Operator::ArrayIntersect => match (x, v) {
            (Value::Array(a), Value::Array(b)) => a.iter().any(|e| b.iter().any(|f| equal(e, f))),
            _ => false,
        },
    }
}

/// Rego's `type_name`: numbers are one type whatever their representation.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// Rego equality: structural, with numbers compared by value.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// What a condition reads, `ref`s included.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reads {
    pub user: bool,
    pub resource: bool,
    /// `tenant.*` or `user.roles` (the roles held in the decision's tenant).
    pub tenant: bool,
    pub roles: bool,
    pub context: bool,
}

pub fn reads(c: &Condition) -> Reads {
    let mut out = Reads::default();
    let mut note = |subject: Subject, attr: &str| match subject {
        Subject::User => {
            out.user = true;
            if attr == "roles" {
                out.roles = true;
                out.tenant = true;
            }
        }
        Subject::Resource => out.resource = true,
        Subject::Tenant => out.tenant = true,
        Subject::Context => out.context = true,
    };
    for leaf in c.leaves() {
        note(leaf.subject, &leaf.attr);
        for check in &leaf.checks {
            if let Operand::Ref { subject, attr, .. } = &check.value {
                note(*subject, attr);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(equal(&json!([1, {"a": 2}]), &json!([1.0, {"a": 2.0}])));
        assert!(!equal(&json!(1), &json!("1")));
    }
}

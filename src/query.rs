//! Decision queries in Permit's shape (SPEC section 3), built from command-line style parts.

use serde_json::{json, Map, Value};

/// `type:key` -> (`type`, Some(`key`)); `type` -> (`type`, None). Splits at the first `:`.
pub fn parse_resource(s: &str) -> (String, Option<String>) {
    match s.split_once(':') {
        Some((t, k)) => (t.to_string(), Some(k.to_string())),
        None => (s.to_string(), None),
    }
}

/// A query for `user` doing `action` on `resource` (`type:key` or `type`), optionally in `tenant`.
pub fn build(user: &str, action: &str, resource: &str, tenant: Option<&str>) -> Value {
    let (ty, key) = parse_resource(resource);
    let mut r = Map::new();
    r.insert("type".into(), json!(ty));
    if let Some(k) = key {
        r.insert("key".into(), json!(k));
    }
    if let Some(t) = tenant {
        r.insert("tenant".into(), json!(t));
    }
    r.insert("attributes".into(), json!({}));
    json!({
        "user": {"key": user, "attributes": {}},
        "action": action,
        "resource": Value::Object(r),
        "context": {},
    })
}

/// A well-formed decision query (SPEC section 3), borrowed from its JSON.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub user: &'a str,
    /// `user.attributes` as the query gives them (they override stored ones).
    pub user_attributes: Option<&'a Map<String, Value>>,
    pub action: &'a str,
    pub resource_type: &'a str,
    /// `resource.key`; `None` for a type-level query.
    pub resource_key: Option<&'a str>,
    /// `resource.tenant`, used when the instance has no stored tenant.
    pub tenant: Option<&'a str>,
    pub resource_attributes: Option<&'a Map<String, Value>>,
    pub context: Option<&'a Map<String, Value>>,
}

impl<'a> Query<'a> {
    /// Reads a query; `None` when it is malformed (SPEC section 3: a missing or empty user key
    /// or resource type; a non-string action, key or tenant; a user, resource, attributes or
    /// context that is not an object, null included). Missing optional fields are fine.
    pub fn parse(input: &'a Value) -> Option<Query<'a>> {
        let user = input.get("user")?.as_object()?;
        let resource = input.get("resource")?.as_object()?;
        let key = user.get("key")?.as_str().filter(|k| !k.is_empty())?;
        let ty = resource.get("type")?.as_str().filter(|t| !t.is_empty())?;
        let action = input.get("action")?.as_str()?;
        // a present optional field must have its type
        fn optional<'v, T>(
            v: Option<&'v Value>,
            f: impl Fn(&'v Value) -> Option<T>,
        ) -> Option<Option<T>> {
            match v {
                None => Some(None),
                Some(v) => f(v).map(Some),
            }
        }
        Some(Query {
            user: key,
            user_attributes: optional(user.get("attributes"), Value::as_object)?,
            action,
            resource_type: ty,
            resource_key: optional(resource.get("key"), Value::as_str)?,
            tenant: optional(resource.get("tenant"), Value::as_str)?,
            resource_attributes: optional(resource.get("attributes"), Value::as_object)?,
            context: optional(input.get("context"), Value::as_object)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_queries_do_not_parse() {
        let ok = json!({"user": {"key": "u"}, "action": "a", "resource": {"type": "t"}});
        assert!(Query::parse(&ok).is_some());
        for bad in [
            json!({"user": {"key": ""}, "action": "a", "resource": {"type": "t"}}),
            json!({"user": "u", "action": "a", "resource": {"type": "t"}}),
            json!({"user": {"key": "u"}, "action": 3, "resource": {"type": "t"}}),
            json!({"user": {"key": "u"}, "action": "a", "resource": {"type": ""}}),
            json!({"user": {"key": "u"}, "action": "a", "resource": {"type": "t", "key": 7}}),
            json!({"user": {"key": "u"}, "action": "a", "resource": {"type": "t", "tenant": null}}),
            json!({"user": {"key": "u", "attributes": null}, "action": "a", "resource": {"type": "t"}}),
            json!({"user": {"key": "u"}, "action": "a", "resource": {"type": "t"}, "context": []}),
        ] {
            assert!(Query::parse(&bad).is_none(), "{bad}");
        }
    }
}

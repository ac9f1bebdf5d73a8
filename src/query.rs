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

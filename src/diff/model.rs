//! Layer 1: model entities added, removed or changed. Each entity is reduced to a span-free
//! JSON value (so moving a definition to another file or line is not a change) and compared
//! field by field.

use super::{Change, ModelChange, Side};
use crate::model::condition::{Condition, Operand};
use crate::model::{Assignment, Attributes, Model, Name, Role, Scope};
use crate::source::{SourceMap, Span};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

type Entities = BTreeMap<String, (Value, Span)>;

pub fn changes(base: &Side, head: &Side) -> Vec<ModelChange> {
    let mut out = Vec::new();
    let kinds: [(&'static str, fn(&Model) -> Entities); 9] = [
        ("resource", resources),
        ("resource role", resource_roles),
        ("role", roles),
        ("user attribute", user_attributes),
        ("user set", user_sets),
        ("resource set", resource_sets),
        ("condition set rule", rules),
        ("tenant", tenants),
        ("relationship", relationships),
    ];
    for (kind, entities) in kinds {
        let (b, h) = std::thread::scope(|s| {
            let b = s.spawn(|| entities(base.model));
            (b.join().unwrap_or_default(), entities(head.model))
        });
        compare(&mut out, kind, &b, &h, base.sources, head.sources);
    }
    // the directory is large: compare span-free first, describe only what differs
    keyed(
        &mut out,
        "user",
        (&base.model.users, base.sources),
        (&head.model.users, head.sources),
        crate::diff::users::same_user,
        user,
        |u| u.key.span,
    );
    keyed(
        &mut out,
        "resource instance",
        (&base.model.resource_instances, base.sources),
        (&head.model.resource_instances, head.sources),
        |x, y| {
            x.tenant.as_ref().map(|t| &t.text) == y.tenant.as_ref().map(|t| &t.text)
                && super::same_attributes(&x.attributes, &y.attributes)
        },
        instance,
        |i| i.key.span,
    );
    custom(&mut out, base, head);
    out
}

/// Compares two keyed maps entry by entry (merged by key): `same` decides cheaply, `value`
/// describes the differing ones.
fn keyed<T>(
    out: &mut Vec<ModelChange>,
    kind: &'static str,
    (base, bsrc): (&BTreeMap<crate::model::Text, T>, &SourceMap),
    (head, hsrc): (&BTreeMap<crate::model::Text, T>, &SourceMap),
    same: fn(&T, &T) -> bool,
    value: fn(&T) -> Value,
    span: fn(&T) -> Span,
) {
    for (key, x, y) in super::merge(base, head) {
        let (change, details, at) = match (x, y) {
            (Some(x), None) => (Change::Removed, Vec::new(), bsrc.origin(span(x))),
            (None, Some(y)) => (Change::Added, Vec::new(), hsrc.origin(span(y))),
            (Some(x), Some(y)) if !same(x, y) => {
                let (vx, vy) = (value(x), value(y));
                if vx == vy {
                    continue;
                }
                (Change::Changed, details(&vx, &vy), hsrc.origin(span(y)))
            }
            _ => continue,
        };
        out.push(ModelChange {
            change,
            kind,
            key: key.to_string(),
            details,
            at,
        });
    }
}

fn compare(
    out: &mut Vec<ModelChange>,
    kind: &'static str,
    base: &Entities,
    head: &Entities,
    bsrc: &SourceMap,
    hsrc: &SourceMap,
) {
    for (key, (hv, hspan)) in head {
        match base.get(key) {
            None => out.push(ModelChange {
                change: Change::Added,
                kind,
                key: key.clone(),
                details: Vec::new(),
                at: hsrc.origin(*hspan),
            }),
            Some((bv, _)) if bv != hv => out.push(ModelChange {
                change: Change::Changed,
                kind,
                key: key.clone(),
                details: details(bv, hv),
                at: hsrc.origin(*hspan),
            }),
            Some(_) => {}
        }
    }
    for (key, (_, bspan)) in base {
        if !head.contains_key(key) {
            out.push(ModelChange {
                change: Change::Removed,
                kind,
                key: key.clone(),
                details: Vec::new(),
                at: bsrc.origin(*bspan),
            });
        }
    }
}

/// One line per differing field: lists of strings as `+added -removed`, the rest as `old -> new`.
fn details(base: &Value, head: &Value) -> Vec<String> {
    let (Value::Object(b), Value::Object(h)) = (base, head) else {
        return vec![format!("{} -> {}", short(base), short(head))];
    };
    let empty = Value::Null;
    let mut keys: Vec<&String> = b.keys().chain(h.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let (bv, hv) = (b.get(k).unwrap_or(&empty), h.get(k).unwrap_or(&empty));
        if bv == hv {
            continue;
        }
        match (strings(bv), strings(hv)) {
            (Some(bs), Some(hs)) => {
                let mut parts: Vec<String> = hs
                    .iter()
                    .filter(|s| !bs.contains(s))
                    .map(|s| format!("+{s}"))
                    .collect();
                parts.extend(
                    bs.iter()
                        .filter(|s| !hs.contains(s))
                        .map(|s| format!("-{s}")),
                );
                if parts.is_empty() {
                    parts.push("reordered".into());
                }
                out.push(format!("{k}: {}", parts.join(" ")));
            }
            _ => out.push(format!("{k}: {} -> {}", short(bv), short(hv))),
        }
    }
    out
}

/// A list of strings, or `None` (null counts as the empty list).
fn strings(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(xs) => xs.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::Null => "(none)".to_string(),
        v => v.to_string(),
    };
    if s.chars().count() > 100 {
        format!("{}...", s.chars().take(97).collect::<String>())
    } else {
        s
    }
}

fn names(ns: &[Name]) -> Value {
    Value::Array(
        ns.iter()
            .map(|n| Value::String(n.text.to_string()))
            .collect(),
    )
}

fn attrs(a: &Attributes) -> Value {
    Value::Object(
        a.iter()
            .map(|(k, v)| (k.to_string(), v.value.clone()))
            .collect::<Map<_, _>>(),
    )
}

fn opt(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

fn role(r: &Role) -> Value {
    let granted: Vec<String> = r
        .granted_to
        .iter()
        .map(|g| {
            format!(
                "{} on {} linked by {}",
                g.role.text, g.on_resource.text, g.linked_by_relation.text
            )
        })
        .collect();
    json!({
        "name": opt(&r.name),
        "permissions": names(&r.permissions),
        "extends": names(&r.extends),
        "granted_to": granted,
    })
}

fn resources(m: &Model) -> Entities {
    m.resources
        .iter()
        .map(|(k, r)| {
            let attributes: Map<String, Value> = r
                .attributes
                .iter()
                .map(|(k, d)| (k.to_string(), Value::String(d.ty.as_str().into())))
                .collect();
            let relations: Vec<String> = r
                .relations
                .values()
                .map(|rel| format!("{} -> {}", rel.key.text, rel.target.text))
                .collect();
            let v = json!({
                "name": opt(&r.name),
                "actions": r.actions.keys().collect::<Vec<_>>(),
                "attributes": attributes,
                "relations": relations,
            });
            (k.to_string(), (v, r.key.span))
        })
        .collect()
}

fn resource_roles(m: &Model) -> Entities {
    let mut out = Entities::new();
    for (ty, r) in &m.resources {
        for (name, def) in &r.roles {
            out.insert(format!("{ty}#{name}"), (role(def), def.key.span));
        }
    }
    out
}

fn roles(m: &Model) -> Entities {
    m.roles
        .iter()
        .map(|(k, r)| (k.to_string(), (role(r), r.key.span)))
        .collect()
}

fn user_attributes(m: &Model) -> Entities {
    m.user_attributes
        .iter()
        .map(|(k, d)| {
            (
                k.to_string(),
                (Value::String(d.ty.as_str().into()), d.key.span),
            )
        })
        .collect()
}

fn user_sets(m: &Model) -> Entities {
    m.user_sets
        .iter()
        .map(|(k, s)| {
            let v = json!({"name": opt(&s.name), "conditions": condition(&s.conditions)});
            (k.to_string(), (v, s.key.span))
        })
        .collect()
}

fn resource_sets(m: &Model) -> Entities {
    m.resource_sets
        .iter()
        .map(|(k, s)| {
            let v = json!({
                "name": opt(&s.name),
                "resource": s.resource.as_ref().map(|r| r.text.to_string()),
                "conditions": condition(&s.conditions),
            });
            (k.to_string(), (v, s.key.span))
        })
        .collect()
}

/// A condition as written (Permit's grammar), without spans.
fn condition(c: &Condition) -> Value {
    match c {
        Condition::All(cs, _) => json!({"allOf": cs.iter().map(condition).collect::<Vec<_>>()}),
        Condition::Any(cs, _) => json!({"anyOf": cs.iter().map(condition).collect::<Vec<_>>()}),
        Condition::Not(c, _) => json!({"not": condition(c)}),
        Condition::Leaf(l) => {
            let checks: Map<String, Value> = l
                .checks
                .iter()
                .map(|ch| {
                    let v = match &ch.value {
                        Operand::Value(v) => v.clone(),
                        Operand::Ref { subject, attr, .. } => {
                            json!({"ref": format!("{}.{attr}", subject.as_str())})
                        }
                    };
                    (ch.op.as_str().to_string(), v)
                })
                .collect();
            let mut leaf = Map::new();
            leaf.insert(
                format!("{}.{}", l.subject.as_str(), l.attr),
                Value::Object(checks),
            );
            Value::Object(leaf)
        }
    }
}

fn rules(m: &Model) -> Entities {
    m.condition_set_rules
        .iter()
        .map(|r| {
            let key = format!(
                "{} may {} on {}",
                r.user_set.text, r.permission.text, r.resource_set.text
            );
            (key, (Value::Bool(true), r.span))
        })
        .collect()
}

fn tenants(m: &Model) -> Entities {
    m.tenants
        .iter()
        .map(|(k, t)| {
            let v = json!({"name": opt(&t.name), "attributes": attrs(&t.attributes)});
            (k.to_string(), (v, t.key.span))
        })
        .collect()
}

/// An assignment in words: `editor in acme`, `owner on document:doc-1 until 2027-01-31`.
pub fn assignment(a: &Assignment) -> String {
    let mut s = match &a.scope {
        Scope::Tenant(t) => format!("{} in {}", a.role.text, t.text),
        Scope::Resource(i) => format!("{} on {}", a.role.text, i.text),
    };
    if let Some(e) = &a.expires {
        s.push_str(&format!(" until {}", e.text));
    }
    s
}

fn user(u: &crate::model::User) -> Value {
    let mut roles: Vec<String> = u.roles.iter().map(assignment).collect();
    roles.sort();
    json!({"attributes": attrs(&u.attributes), "roles": roles})
}

fn instance(i: &crate::model::Instance) -> Value {
    json!({
        "tenant": i.tenant.as_ref().map(|t| t.text.clone()),
        "attributes": attrs(&i.attributes),
    })
}

fn relationships(m: &Model) -> Entities {
    m.relationships
        .iter()
        .map(|r| {
            let key = format!(
                "{} is {} of {}",
                r.subject.text, r.relation.text, r.object.text
            );
            (key, (Value::Bool(true), r.span))
        })
        .collect()
}

/// Custom Rego files, compared by text.
fn custom(out: &mut Vec<ModelChange>, base: &Side, head: &Side) {
    let index = |mods: &[crate::compile::Module]| -> BTreeMap<String, String> {
        mods.iter()
            .map(|m| (m.path.clone(), m.text.clone()))
            .collect()
    };
    let (b, h) = (index(base.custom), index(head.custom));
    for (path, text) in &h {
        let change = match b.get(path) {
            None => Change::Added,
            Some(t) if t != text => Change::Changed,
            Some(_) => continue,
        };
        out.push(ModelChange {
            change,
            kind: "custom rego",
            key: path.clone(),
            details: Vec::new(),
            at: path.clone(),
        });
    }
    for path in b.keys().filter(|p| !h.contains_key(*p)) {
        out.push(ModelChange {
            change: Change::Removed,
            kind: "custom rego",
            key: path.clone(),
            details: Vec::new(),
            at: path.clone(),
        });
    }
}

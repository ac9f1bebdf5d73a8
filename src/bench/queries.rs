//! The query set a benchmark runs: a JSONL file, the decision tests, or generated queries.

use crate::model::{split_instance, Model, Scope};
use serde_json::{json, Value};

/// A problem with one line of a query file (the others still run).
#[derive(Debug, Clone)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

/// Reads a JSON Lines file of queries; blank lines are skipped, broken ones reported.
pub fn from_jsonl(text: &str) -> (Vec<Value>, Vec<BadLine>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(v) if v.is_object() => out.push(v),
            Ok(_) => bad.push(BadLine {
                line: i + 1,
                message: "not a JSON object".into(),
            }),
            Err(e) => bad.push(BadLine {
                line: i + 1,
                message: e.to_string(),
            }),
        }
    }
    (out, bad)
}

/// Queries across the model: each user's tenant roles' permissions in their tenant, each
/// user's resource-role instances, and some denials; deterministic, at most `n`.
pub fn generate(m: &Model, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let first_action = |ty: &str| {
        m.resources
            .get(ty)
            .and_then(|r| r.actions.keys().next().map(|a| a.to_string()))
    };
    'users: for (key, u) in &m.users {
        for a in &u.roles {
            if out.len() >= n {
                break 'users;
            }
            match &a.scope {
                Scope::Tenant(t) => {
                    let Some(role) = m.roles.get(a.role.text.as_str()) else {
                        continue;
                    };
                    let Some(p) = role.permissions.first() else {
                        continue;
                    };
                    let Some((ty, action)) = p.text.split_once(':') else {
                        continue;
                    };
                    let action = if action == "*" {
                        first_action(ty).unwrap_or_default()
                    } else {
                        action.to_string()
                    };
                    out.push(json!({"user": {"key": key}, "action": action, "resource": {"type": ty, "tenant": t.text.as_str()}}));
                }
                Scope::Resource(inst) => {
                    let Some((ty, k)) = split_instance(&inst.text) else {
                        continue;
                    };
                    let Some(action) = first_action(ty) else {
                        continue;
                    };
                    out.push(json!({"user": {"key": key}, "action": action, "resource": {"type": ty, "key": k}}));
                }
            }
        }
        if out.len() < n {
            if let Some(ty) = m.resources.keys().next() {
                out.push(json!({"user": {"key": key}, "action": "no-such-action", "resource": {"type": ty}}));
            }
        }
    }
    out.truncate(n);
    out
}

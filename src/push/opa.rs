//! Pushing to an OPA server through its REST API.
//!
//! permit owns, on such a PDP, the policies whose id starts with `permit/` and the data under
//! `data.permit` that the bundle carries (`model`, and the `bundle` marker holding the
//! revision). A push snapshots those, writes the model data, replaces the modules (removing
//! ones earlier pushes left that the new bundle lacks), writes the marker last and reads the
//! revision back. Any failure after the first write puts the snapshot back, so the PDP ends
//! serving either the new revision or exactly what it served before.

use super::{encode_path, Attempt, Client, Outcome, PdpError, Reply};
use crate::bundle::{Bundle, ROOT};
use serde_json::Value;

/// Policy ids permit writes start with this.
pub const POLICY_PREFIX: &str = "permit/";

/// The data key holding the revision marker; written last.
const MARKER: &str = "bundle";

fn policy_id(module_path: &str) -> String {
    format!("{POLICY_PREFIX}{}", module_path.trim_start_matches('/'))
}

/// What the PDP served before a push, under permit's ids and paths.
struct Snapshot {
    policies: Vec<(String, String)>,
    /// Each data key under `data.permit` the new bundle writes, with its old value if any.
    data: Vec<(String, Option<Value>)>,
}

fn failure(what: &str, url: &str, r: &Reply) -> PdpError {
    let body = r.text();
    if r.status == 400 && body.contains("owned by bundle") {
        return PdpError::new(format!(
            "{what} refused: this OPA loads a bundle that owns `{ROOT}`, so it takes policy only from its bundle service (push to the registry it pulls from, or remove its `bundles:` config); OPA said: {body}"
        ));
    }
    if r.status == 401 || r.status == 403 {
        return PdpError::new(format!(
            "{what} refused with {} (check the PDP's `token_env`): {url}",
            r.status
        ));
    }
    PdpError {
        message: format!("{what} failed: {url} answered {}: {body}", r.status),
        transient: r.status >= 500,
    }
}

fn get_json(c: &Client, url: &str) -> Result<Value, PdpError> {
    let r = c.send("GET", url, &[], &[])?;
    if !r.ok() {
        return Err(failure("reading", url, &r));
    }
    serde_json::from_slice(&r.body)
        .map_err(|e| PdpError::new(format!("{url} did not answer JSON: {e}")))
}

fn health(c: &Client, base: &str) -> Result<(), PdpError> {
    let url = format!("{base}/health");
    let r = c.send("GET", &url, &[], &[])?;
    if r.ok() {
        Ok(())
    } else {
        Err(failure("health check", &url, &r))
    }
}

/// The revision the PDP serves (`data.permit.bundle.revision`), after checking `/health`.
pub fn status(c: &Client, base: &str) -> Result<Option<String>, PdpError> {
    health(c, base)?;
    revision(c, base)
}

fn revision(c: &Client, base: &str) -> Result<Option<String>, PdpError> {
    let v = get_json(c, &format!("{base}/v1/data/{ROOT}/{MARKER}/revision"))?;
    Ok(v.get("result").and_then(Value::as_str).map(str::to_string))
}

fn snapshot(c: &Client, base: &str, keys: &[String]) -> Result<Snapshot, PdpError> {
    let listed = get_json(c, &format!("{base}/v1/policies"))?;
    let mut policies = Vec::new();
    for p in listed["result"].as_array().into_iter().flatten() {
        if let (Some(id), Some(raw)) = (p["id"].as_str(), p["raw"].as_str()) {
            if id.starts_with(POLICY_PREFIX) {
                policies.push((id.to_string(), raw.to_string()));
            }
        }
    }
    let mut data = Vec::new();
    for k in keys {
        let v = get_json(c, &format!("{base}/v1/data/{ROOT}/{}", encode_path(k)))?;
        data.push((k.clone(), v.get("result").cloned()));
    }
    Ok(Snapshot { policies, data })
}

fn put_policy(c: &Client, base: &str, id: &str, text: &str) -> Result<(), PdpError> {
    let url = format!("{base}/v1/policies/{}", encode_path(id));
    let r = c.send(
        "PUT",
        &url,
        &[("Content-Type", "text/plain")],
        text.as_bytes(),
    )?;
    if r.ok() {
        Ok(())
    } else {
        Err(failure(&format!("writing policy `{id}`"), &url, &r))
    }
}

fn delete_policy(c: &Client, base: &str, id: &str) -> Result<(), PdpError> {
    let url = format!("{base}/v1/policies/{}", encode_path(id));
    let r = c.send("DELETE", &url, &[], &[])?;
    if r.ok() || r.status == 404 {
        Ok(())
    } else {
        Err(failure(&format!("removing policy `{id}`"), &url, &r))
    }
}

fn put_data(c: &Client, base: &str, key: &str, value: Option<&Value>) -> Result<(), PdpError> {
    let url = format!("{base}/v1/data/{ROOT}/{}", encode_path(key));
    let r = match value {
        Some(v) => {
            let body = serde_json::to_vec(v)
                .map_err(|e| PdpError::new(format!("cannot encode data: {e}")))?;
            c.send("PUT", &url, &[("Content-Type", "application/json")], &body)?
        }
        None => c.send("DELETE", &url, &[], &[])?,
    };
    if r.ok() || (value.is_none() && r.status == 404) {
        Ok(())
    } else {
        Err(failure(&format!("writing `data.{ROOT}.{key}`"), &url, &r))
    }
}

/// Pushes `bundle`; see the module comment for the steps.
pub fn push(c: &Client, base: &str, bundle: &Bundle) -> Attempt {
    let fail = |before: Option<String>, e: PdpError| Attempt {
        after: before.clone(),
        before,
        outcome: Outcome::Failed(e.message),
    };
    if let Err(e) = health(c, base) {
        return fail(None, e);
    }
    let before = match revision(c, base) {
        Ok(r) => r,
        Err(e) => return fail(None, e),
    };
    let Some(ours) = bundle.data.get(ROOT).and_then(Value::as_object) else {
        return fail(before, PdpError::new("the bundle has no `permit` data"));
    };
    // the marker goes last: a PDP shows the new revision only once everything else is in
    let mut keys: Vec<String> = ours.keys().filter(|k| *k != MARKER).cloned().collect();
    keys.push(MARKER.to_string());
    let snap = match snapshot(c, base, &keys) {
        Ok(s) => s,
        Err(e) => return fail(before, e),
    };
    let new_ids: Vec<(String, &str)> = bundle
        .modules
        .iter()
        .map(|m| (policy_id(&m.path), m.text.as_str()))
        .collect();
    let mut written = false;
    let applied = (|| -> Result<(), PdpError> {
        for k in &keys[..keys.len() - 1] {
            put_data(c, base, k, ours.get(k))?;
            written = true;
        }
        for (id, _) in &snap.policies {
            if !new_ids.iter().any(|(n, _)| n == id) {
                delete_policy(c, base, id)?;
                written = true;
            }
        }
        for (id, text) in &new_ids {
            put_policy(c, base, id, text)?;
            written = true;
        }
        put_data(c, base, MARKER, ours.get(MARKER))?;
        written = true;
        Ok(())
    })();
    let verified = applied.and_then(|()| {
        let now = revision(c, base)?;
        if now.as_deref() == Some(bundle.meta.revision.as_str()) {
            Ok(now)
        } else {
            Err(PdpError::new(format!(
                "after the push the PDP reports revision {} instead of `{}`",
                now.map(|r| format!("`{r}`"))
                    .unwrap_or_else(|| "none".into()),
                bundle.meta.revision
            )))
        }
    });
    match verified {
        Ok(after) => Attempt {
            before,
            after,
            outcome: Outcome::Pushed,
        },
        Err(e) if !written => fail(before, e),
        Err(e) => match restore(c, base, &snap, &new_ids) {
            Ok(()) => {
                let after = revision(c, base).ok().flatten();
                if after == before {
                    Attempt {
                        before,
                        after,
                        outcome: Outcome::RolledBack(e.message),
                    }
                } else {
                    Attempt {
                        before,
                        after,
                        outcome: Outcome::Broken {
                            error: e.message,
                            restore:
                                "the PDP does not report the previous revision after restoring"
                                    .into(),
                        },
                    }
                }
            }
            Err(r) => Attempt {
                before,
                after: None,
                outcome: Outcome::Broken {
                    error: e.message,
                    restore: r.message,
                },
            },
        },
    }
}

/// Puts the snapshot back: modules the push added go, the old ones and old data return, the
/// old marker last.
fn restore(
    c: &Client,
    base: &str,
    snap: &Snapshot,
    new_ids: &[(String, &str)],
) -> Result<(), PdpError> {
    for (id, _) in new_ids {
        if !snap.policies.iter().any(|(old, _)| old == id) {
            delete_policy(c, base, id)?;
        }
    }
    for (id, raw) in &snap.policies {
        put_policy(c, base, id, raw)?;
    }
    for (k, v) in &snap.data {
        put_data(c, base, k, v.as_ref())?;
    }
    Ok(())
}

//! Pushing to an OPA server through its REST API.
//!
//! permit owns, on such a PDP, the policies whose id starts with `permit/` and the data under
//! `data.permit` that the bundle carries (`model`, and the `bundle` marker holding the revision
//! and a hash per module). A push snapshots what it is about to change, removes modules earlier
//! pushes left that the new bundle lacks, rewrites the modules whose hash changed (every OPA
//! policy write recompiles all modules, so unchanged ones are left alone), then writes the
//! model and the marker together in one JSON Patch (one OPA transaction; the marker goes last
//! when it is the first push), reads the revision back and asks for one decision. Any
//! failure after the first write puts the snapshot back, so the PDP ends serving either the new
//! revision or exactly what it served before.

use super::{encode_path, Attempt, Client, Outcome, PdpError, Reply};
use crate::bundle::{sha256_hex, Bundle, ROOT};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeMap;

/// Policy ids permit writes start with this.
pub const POLICY_PREFIX: &str = "permit/";

/// The data key holding the revision marker; written last.
const MARKER: &str = "bundle";

fn policy_id(module_path: &str) -> String {
    format!("{POLICY_PREFIX}{}", module_path.trim_start_matches('/'))
}

fn failure(what: &str, url: &str, r: &Reply) -> PdpError {
    let body = r.text();
    if r.status == 400 && body.contains("owned by bundle") {
        return PdpError::new(format!(
            "{what} refused: this OPA loads a bundle that owns `{ROOT}`, so it takes policy only from its bundle service (push to the registry or folder it pulls from, or remove its `bundles:` config); OPA said: {body}"
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

/// `r` when it is a success, else why `what` failed.
fn ok(r: Reply, what: &str, url: &str) -> Result<Reply, PdpError> {
    if r.ok() {
        Ok(r)
    } else {
        Err(failure(what, url, &r))
    }
}

fn json(r: &Reply, url: &str) -> Result<Value, PdpError> {
    serde_json::from_slice(&r.body)
        .map_err(|e| PdpError::new(format!("{url} did not answer JSON: {e}")))
}

/// `{"result": ...}` answers; `result` is absent when the document is undefined.
#[derive(serde::Deserialize)]
struct Answer {
    result: Option<Box<RawValue>>,
}

fn get_result(c: &Client, url: &str) -> Result<Option<Box<RawValue>>, PdpError> {
    let r = ok(c.send("GET", url, &[], &[])?, "reading", url)?;
    serde_json::from_slice::<Answer>(&r.body)
        .map(|a| a.result)
        .map_err(|e| PdpError::new(format!("{url} did not answer JSON: {e}")))
}

fn health(c: &Client, base: &str) -> Result<(), PdpError> {
    let url = format!("{base}/health");
    ok(c.send("GET", &url, &[], &[])?, "health check", &url).map(drop)
}

/// The revision the PDP serves (`data.permit.bundle.revision`), after checking `/health`.
pub fn status(c: &Client, base: &str) -> Result<Option<String>, PdpError> {
    health(c, base)?;
    Ok(revision_of(marker(c, base)?.as_ref()))
}

fn marker(c: &Client, base: &str) -> Result<Option<Value>, PdpError> {
    let url = format!("{base}/v1/data/{ROOT}/{MARKER}");
    match get_result(c, &url)? {
        None => Ok(None),
        Some(raw) => serde_json::from_str(raw.get())
            .map(Some)
            .map_err(|e| PdpError::new(format!("{url}: {e}"))),
    }
}

fn revision_of(marker: Option<&Value>) -> Option<String> {
    marker
        .and_then(|m| m.get("revision"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Whether the PDP decides: `data.permit.root.allow` is a boolean for any input (SPEC 3).
fn decides(c: &Client, base: &str) -> Result<bool, PdpError> {
    let url = format!("{base}/v1/data/{ROOT}/root/allow");
    let r = c.send(
        "POST",
        &url,
        &[("Content-Type", "application/json")],
        br#"{"input":{}}"#,
    )?;
    let v = json(&ok(r, "a test decision", &url)?, &url)?;
    Ok(v.get("result").is_some_and(Value::is_boolean))
}

/// The `permit/` policies on the PDP with their text (one `GET /v1/policies`).
fn listed_policies(c: &Client, base: &str) -> Result<BTreeMap<String, String>, PdpError> {
    let url = format!("{base}/v1/policies");
    let r = ok(c.send("GET", &url, &[], &[])?, "listing policies", &url)?;
    let v = json(&r, &url)?;
    Ok(v["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p["id"].as_str()?.to_string(),
                p["raw"].as_str()?.to_string(),
            ))
        })
        .filter(|(id, _)| id.starts_with(POLICY_PREFIX))
        .collect())
}

/// One policy's text, `None` when the PDP has no policy with that id.
fn policy(c: &Client, base: &str, id: &str) -> Result<Option<String>, PdpError> {
    let url = format!("{base}/v1/policies/{}", encode_path(id));
    let r = c.send("GET", &url, &[], &[])?;
    if r.status == 404 {
        return Ok(None);
    }
    let v = json(&ok(r, &format!("reading policy `{id}`"), &url)?, &url)?;
    Ok(v["result"]["raw"].as_str().map(str::to_string))
}

fn put_policy(c: &Client, base: &str, id: &str, text: &str) -> Result<(), PdpError> {
    let url = format!("{base}/v1/policies/{}", encode_path(id));
    let r = c.send(
        "PUT",
        &url,
        &[("Content-Type", "text/plain")],
        text.as_bytes(),
    )?;
    ok(r, &format!("writing policy `{id}`"), &url).map(drop)
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

fn put_data(c: &Client, base: &str, key: &str, value: Option<&str>) -> Result<(), PdpError> {
    let url = format!("{base}/v1/data/{ROOT}/{}", encode_path(key));
    let r = match value {
        Some(v) => c.send(
            "PUT",
            &url,
            &[("Content-Type", "application/json")],
            v.as_bytes(),
        )?,
        None => c.send("DELETE", &url, &[], &[])?,
    };
    if r.ok() || (value.is_none() && r.status == 404) {
        Ok(())
    } else {
        Err(failure(&format!("writing `data.{ROOT}.{key}`"), &url, &r))
    }
}

/// Writes every `(key, json)` under `data.permit` in one `PATCH` (one OPA transaction).
fn patch_data(c: &Client, base: &str, data: &[(String, &str)]) -> Result<(), PdpError> {
    let url = format!("{base}/v1/data/{ROOT}");
    let mut body = String::from("[");
    for (i, (k, v)) in data.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        let path = serde_json::to_string(&format!("/{}", k.replace('~', "~0").replace('/', "~1")))
            .map_err(|e| PdpError::new(format!("cannot encode a data path: {e}")))?;
        body.push_str(&format!(r#"{{"op":"add","path":{path},"value":{v}}}"#));
    }
    body.push(']');
    let r = c.send(
        "PATCH",
        &url,
        &[("Content-Type", "application/json-patch+json")],
        body.as_bytes(),
    )?;
    ok(r, &format!("writing `data.{ROOT}`"), &url).map(drop)
}

/// What the PDP served before, for everything the push changes.
struct Snapshot {
    /// Policy id -> its text before (`None`: it did not exist).
    policies: BTreeMap<String, Option<String>>,
    /// Data key under `data.permit` -> its JSON before (`None`: undefined). Marker last.
    data: Vec<(String, Option<String>)>,
}

/// The changes a push makes.
struct Plan<'a> {
    /// Data keys and their new JSON, the marker last.
    data: Vec<(String, &'a str)>,
    /// Modules to write (new or changed).
    write: Vec<(String, &'a str)>,
    /// Modules of earlier pushes the bundle no longer has.
    remove: Vec<String>,
}

/// The bundle's `data.permit` keys with their JSON text, the marker last.
fn bundle_data(bundle: &Bundle) -> Result<Vec<(String, Box<RawValue>)>, PdpError> {
    let bad = |e: serde_json::Error| PdpError::new(format!("the bundle's data is invalid: {e}"));
    let top: BTreeMap<String, Box<RawValue>> = serde_json::from_str(&bundle.data).map_err(bad)?;
    let Some(ours) = top.get(ROOT) else {
        return Err(PdpError::new("the bundle has no `permit` data"));
    };
    let mut keys: Vec<(String, Box<RawValue>)> = serde_json::from_str::<BTreeMap<_, _>>(ours.get())
        .map_err(bad)?
        .into_iter()
        .collect();
    keys.sort_by_key(|(k, _)| k == MARKER);
    Ok(keys)
}

/// Decides what to write and snapshots what that overwrites. The marker's module hashes say
/// which modules changed, when the PDP still decides (its modules are intact); otherwise the
/// `permit/` policies are listed and every module is rewritten.
fn plan<'a>(
    c: &Client,
    base: &str,
    bundle: &'a Bundle,
    data: &'a [(String, Box<RawValue>)],
    old_marker: Option<&Value>,
) -> Result<(Plan<'a>, Snapshot), PdpError> {
    let hashes = old_marker
        .and_then(|m| m.get("modules"))
        .and_then(Value::as_object);
    let known: Option<BTreeMap<String, Option<String>>> = match hashes {
        Some(h) if decides(c, base)? => Some(
            h.iter()
                .map(|(path, hash)| (policy_id(path), hash.as_str().map(str::to_string)))
                .collect(),
        ),
        _ => None,
    };
    let mut listed = None;
    let old: BTreeMap<String, Option<String>> = match known {
        Some(k) => k,
        None => {
            let l = listed_policies(c, base)?;
            let hashes = l
                .iter()
                .map(|(id, raw)| (id.clone(), Some(sha256_hex(raw.as_bytes()))))
                .collect();
            listed = Some(l);
            hashes
        }
    };
    let new: Vec<(String, &str)> = bundle
        .modules
        .iter()
        .map(|m| (policy_id(&m.path), m.text.as_str()))
        .collect();
    let write: Vec<(String, &str)> = new
        .iter()
        .filter(|(id, text)| {
            old.get(id).and_then(|h| h.as_deref()) != Some(sha256_hex(text.as_bytes()).as_str())
        })
        .cloned()
        .collect();
    let remove: Vec<String> = old
        .keys()
        .filter(|id| !new.iter().any(|(n, _)| n == *id))
        .cloned()
        .collect();
    let mut policies = BTreeMap::new();
    for id in write.iter().map(|(id, _)| id).chain(&remove) {
        let before = match &listed {
            Some(l) => l.get(id).cloned(),
            None => policy(c, base, id)?,
        };
        policies.insert(id.clone(), before);
    }
    let mut old_data = Vec::with_capacity(data.len());
    for (k, _) in data {
        let before = if k == MARKER {
            old_marker.map(Value::to_string)
        } else {
            get_result(c, &format!("{base}/v1/data/{ROOT}/{}", encode_path(k)))?
                .map(|r| r.get().to_string())
        };
        old_data.push((k.clone(), before));
    }
    Ok((
        Plan {
            data: data.iter().map(|(k, v)| (k.clone(), v.get())).collect(),
            write,
            remove,
        },
        Snapshot {
            policies,
            data: old_data,
        },
    ))
}

/// Pushes `bundle`; see the module comment for the steps.
pub fn push(c: &Client, base: &str, bundle: &Bundle) -> Attempt {
    // no separate `/health` round trip: reading the marker shows the PDP answers, and every
    // request costs OPA CPU that a fleet on shared hosts pays twenty times over
    let old_marker = match marker(c, base) {
        Ok(m) => m,
        Err(e) => return Attempt::failed(None, e),
    };
    let before = revision_of(old_marker.as_ref());
    let data = match bundle_data(bundle) {
        Ok(d) => d,
        Err(e) => return Attempt::failed(before, e),
    };
    let (plan, snap) = match plan(c, base, bundle, &data, old_marker.as_ref()) {
        Ok(p) => p,
        Err(e) => return Attempt::failed(before, e),
    };
    let mut written = false;
    let applied = (|| -> Result<(), PdpError> {
        // modules first, then the data: when only data changed (the common case) the PDP
        // moves from the old revision to the new one in a single write
        for id in &plan.remove {
            delete_policy(c, base, id)?;
            written = true;
        }
        for (id, text) in &plan.write {
            put_policy(c, base, id, text)?;
            written = true;
        }
        if old_marker.is_some() {
            // `data.permit` exists: one JSON Patch, applied by OPA in one transaction
            patch_data(c, base, &plan.data)?;
            written = true;
        } else {
            for (k, v) in &plan.data {
                put_data(c, base, k, Some(v))?;
                written = true;
            }
        }
        Ok(())
    })();
    let verified = applied.and_then(|()| {
        let now = revision_of(marker(c, base)?.as_ref());
        if now.as_deref() != Some(bundle.meta.revision.as_str()) {
            return Err(PdpError::new(format!(
                "after the push the PDP reports revision {} instead of `{}`",
                now.map(|r| format!("`{r}`")).unwrap_or_else(|| "none".into()),
                bundle.meta.revision
            )));
        }
        if !decides(c, base)? {
            return Err(PdpError::new(
                "after the push `data.permit.root.allow` is not a boolean: the policy does not decide",
            ));
        }
        Ok(now)
    });
    match verified {
        Ok(after) => Attempt {
            before,
            after,
            outcome: Outcome::Pushed,
        },
        Err(e) if !written => Attempt::failed(before, e),
        Err(e) => match restore(c, base, &snap) {
            Err(r) => Attempt::broken(before, None, e, r.message),
            Ok(()) => {
                let after = marker(c, base).ok().and_then(|m| revision_of(m.as_ref()));
                if after == before {
                    Attempt::rolled_back(before, e)
                } else {
                    Attempt::broken(
                        before,
                        after,
                        e,
                        "the PDP does not report the previous revision after restoring".into(),
                    )
                }
            }
        },
    }
}

/// Puts the snapshot back: modules the push added go first (they may clash with old ones),
/// then the old modules and data return, the old marker last.
fn restore(c: &Client, base: &str, snap: &Snapshot) -> Result<(), PdpError> {
    for (id, before) in &snap.policies {
        if before.is_none() {
            delete_policy(c, base, id)?;
        }
    }
    for (id, before) in &snap.policies {
        if let Some(raw) = before {
            put_policy(c, base, id, raw)?;
        }
    }
    for (k, v) in &snap.data {
        put_data(c, base, k, v.as_deref())?;
    }
    Ok(())
}

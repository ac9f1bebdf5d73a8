//! Pushing a bundle to an OCI registry (the distribution API) for OPAs that pull it.
//!
//! The artifact is what OPA 1.x expects: an image manifest whose config is `{}` and whose one
//! layer is the bundle (`application/vnd.oci.image.layer.v1.tar+gzip`). It is tagged with the
//! revision first and with the environment last: pullers poll the environment tag, so they see
//! the new bundle only once it is complete. The manifest carries the revision as the
//! `org.opencontainers.image.revision` annotation, which is how `status` reads it back.

use super::{encode_path, Attempt, Client, Outcome, PdpError, Reply};
use crate::bundle::{sha256_hex, Bundle};
use serde_json::{json, Value};

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const REVISION_ANNOTATION: &str = "org.opencontainers.image.revision";

/// `oci://host[:port]/repository`, as written in `permit.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `http://host:port` or `https://host:port`.
    pub base: String,
    /// `host:port`, as OPA's `resource` names it.
    pub host: String,
    pub repository: String,
}

impl Reference {
    /// Loopback registries are spoken to over plain HTTP (as docker does), others over HTTPS;
    /// `oci+http://` forces plain HTTP.
    pub fn parse(url: &str) -> Result<Reference, String> {
        let (forced_http, rest) = match url.strip_prefix("oci+http://") {
            Some(r) => (true, r),
            None => (false, url.strip_prefix("oci://").unwrap_or(url)),
        };
        let Some((host, repository)) = rest.split_once('/') else {
            return Err(format!(
                "OCI PDP URL `{url}` names no repository; write `oci://host:port/policies/ENV`"
            ));
        };
        let repository = repository.trim_end_matches('/');
        if host.is_empty() || repository.is_empty() {
            return Err(format!(
                "OCI PDP URL `{url}` needs a host and a repository: `oci://host:port/policies/ENV`"
            ));
        }
        if let Some(last) = repository.rsplit('/').next() {
            if last.contains(':') || last.contains('@') {
                return Err(format!(
                    "OCI PDP URL `{url}` names a tag or digest; permit tags the artifact itself (with the environment and the revision)"
                ));
            }
        }
        let valid = repository.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && part.as_bytes()[0].is_ascii_alphanumeric()
        });
        if !valid {
            return Err(format!(
                "OCI repository `{repository}` in `{url}` is invalid: registries accept lowercase letters, digits and `._-` between `/`"
            ));
        }
        let name = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
        let loopback = name == "localhost" || name.starts_with("127.") || name == "[::1]";
        let scheme = if forced_http || loopback {
            "http"
        } else {
            "https"
        };
        Ok(Reference {
            base: format!("{scheme}://{host}"),
            host: host.to_string(),
            repository: repository.to_string(),
        })
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base, self.repository)
    }
}

/// A tag from any revision or environment name (OCI tags: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
pub fn tag(s: &str) -> String {
    let mut t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    if t.starts_with(['.', '-']) {
        t.replace_range(..1, "_");
    }
    t
}

fn failure(what: &str, url: &str, r: &Reply) -> PdpError {
    PdpError {
        message: format!("{what} failed: {url} answered {}: {}", r.status, r.text()),
        transient: r.status >= 500,
    }
}

/// The manifest under `tag`, if there is one.
fn manifest(c: &Client, r: &Reference, tag: &str) -> Result<Option<Vec<u8>>, PdpError> {
    let url = r.url(&format!("manifests/{}", encode_path(tag)));
    let reply = c.send("GET", &url, &[("Accept", MANIFEST_TYPE)], &[])?;
    match reply.status {
        200 => Ok(Some(reply.body)),
        404 => Ok(None),
        _ => Err(failure("reading the manifest", &url, &reply)),
    }
}

fn revision_of(manifest: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(manifest).ok()?;
    v["annotations"][REVISION_ANNOTATION]
        .as_str()
        .map(str::to_string)
}

fn ping(c: &Client, r: &Reference) -> Result<(), PdpError> {
    let url = format!("{}/v2/", r.base);
    let reply = c.send("GET", &url, &[], &[])?;
    if reply.ok() {
        Ok(())
    } else {
        Err(failure("checking the registry", &url, &reply))
    }
}

/// The revision the environment tag points at.
pub fn status(c: &Client, r: &Reference, env_tag: &str) -> Result<Option<String>, PdpError> {
    ping(c, r)?;
    Ok(manifest(c, r, env_tag)?.as_deref().and_then(revision_of))
}

/// Uploads a blob unless the registry has it.
fn upload(c: &Client, r: &Reference, bytes: &[u8]) -> Result<String, PdpError> {
    let digest = format!("sha256:{}", sha256_hex(bytes));
    let head = r.url(&format!("blobs/{digest}"));
    if c.send("HEAD", &head, &[], &[])?.status == 200 {
        return Ok(digest);
    }
    let start = r.url("blobs/uploads/");
    let reply = c.send("POST", &start, &[], &[])?;
    if reply.status != 202 {
        return Err(failure("starting a blob upload", &start, &reply));
    }
    let Some(location) = reply.header("location") else {
        return Err(PdpError::new(format!(
            "{start} started an upload without a `Location`"
        )));
    };
    let location = if location.starts_with('/') {
        format!("{}{location}", r.base)
    } else {
        location.to_string()
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = format!("{location}{sep}digest={digest}");
    let reply = c.send(
        "PUT",
        &put,
        &[("Content-Type", "application/octet-stream")],
        bytes,
    )?;
    if reply.status != 201 {
        return Err(failure(
            "uploading a blob",
            &r.url("blobs/uploads/"),
            &reply,
        ));
    }
    Ok(digest)
}

fn put_manifest(c: &Client, r: &Reference, tag: &str, body: &[u8]) -> Result<(), PdpError> {
    let url = r.url(&format!("manifests/{}", encode_path(tag)));
    let reply = c.send("PUT", &url, &[("Content-Type", MANIFEST_TYPE)], body)?;
    if reply.ok() {
        Ok(())
    } else {
        Err(failure(&format!("tagging `{tag}`"), &url, &reply))
    }
}

/// The manifest permit pushes for `bundle`.
pub fn manifest_for(bundle: &Bundle, config_digest: &str, layer_digest: &str) -> Vec<u8> {
    let mut annotations = serde_json::Map::new();
    annotations.insert(REVISION_ANNOTATION.into(), json!(bundle.meta.revision));
    if let Some(env) = &bundle.meta.environment {
        annotations.insert("dev.permit.environment".into(), json!(env));
    }
    json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": CONFIG.len()},
        "layers": [{
            "mediaType": LAYER_TYPE,
            "digest": layer_digest,
            "size": bundle.bytes.len(),
            "annotations": {"org.opencontainers.image.title": "bundle.tar.gz"},
        }],
        "annotations": annotations,
    })
    .to_string()
    .into_bytes()
}

const CONFIG: &[u8] = b"{}";

/// Pushes `bundle` and moves the environment tag to it; on a failed check the tag goes back.
pub fn push(c: &Client, r: &Reference, env_tag: &str, bundle: &Bundle) -> Attempt {
    if let Err(e) = ping(c, r) {
        return Attempt::failed(None, e);
    }
    let previous = match manifest(c, r, env_tag) {
        Ok(m) => m,
        Err(e) => return Attempt::failed(None, e),
    };
    let before = previous.as_deref().and_then(revision_of);
    let uploaded = upload(c, r, CONFIG).and_then(|config| {
        let layer = upload(c, r, &bundle.bytes)?;
        Ok(manifest_for(bundle, &config, &layer))
    });
    let body = match uploaded {
        Ok(b) => b,
        Err(e) => return Attempt::failed(before, e),
    };
    if let Err(e) = put_manifest(c, r, &tag(&bundle.meta.revision), &body) {
        return Attempt::failed(before, e);
    }
    // the environment tag moves in one request: either it points at the new manifest or not
    if let Err(e) = put_manifest(c, r, env_tag, &body) {
        return Attempt::failed(before, e);
    }
    let check = manifest(c, r, env_tag).and_then(|m| match m {
        Some(m) if m == body => Ok(revision_of(&m)),
        _ => Err(PdpError::new(format!(
            "the registry does not serve the pushed manifest under `{env_tag}`"
        ))),
    });
    match check {
        Ok(after) => Attempt {
            before,
            after,
            outcome: Outcome::Pushed,
        },
        Err(e) => match previous {
            None => Attempt::broken(
                before,
                None,
                e,
                format!("there was no `{env_tag}` tag before, and registries cannot untag"),
            ),
            Some(prev) => match put_manifest(c, r, env_tag, &prev) {
                Ok(()) => Attempt::rolled_back(before, e),
                Err(r) => Attempt::broken(before, None, e, r.message),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let r = Reference::parse("oci://127.0.0.1:5000/policies/staging").unwrap();
        assert_eq!(r.base, "http://127.0.0.1:5000");
        assert_eq!(r.host, "127.0.0.1:5000");
        assert_eq!(r.repository, "policies/staging");
        assert_eq!(
            Reference::parse("oci://registry.example.com/p")
                .unwrap()
                .base,
            "https://registry.example.com"
        );
        assert_eq!(
            Reference::parse("oci+http://reg:5000/p").unwrap().base,
            "http://reg:5000"
        );
        assert!(Reference::parse("oci://host").is_err());
        assert!(Reference::parse("oci://host/Policies").is_err());
        assert!(Reference::parse("oci://host/p:latest").is_err());
    }

    #[test]
    fn tags_are_valid() {
        assert_eq!(tag("abc-dirty"), "abc-dirty");
        assert_eq!(tag("env/staging"), "env-staging");
        assert_eq!(tag("-x"), "_x");
        assert_eq!(tag(&"a".repeat(200)).len(), 128);
    }
}

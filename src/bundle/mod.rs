//! OPA bundles: a compiled policy as a reproducible `tar.gz` with a `.manifest` and, when a key
//! is configured, a `.signatures.json`. Pure: bytes in, bytes out; no files, git or network.
//!
//! Reproducible means the same compiled policy, revision and metadata give the same bytes:
//! entries are sorted by name, every header has mtime 0, uid/gid 0 and mode 0644, and the gzip
//! header carries no file name and mtime 0.

pub mod sign;

use crate::compile::{Compiled, Module};
use serde_json::{json, Map, Value};
use std::io::Write;

pub use sign::{Algorithm, SigningKey};

/// The root every generated package and the data live under; a bundle must own it.
pub const ROOT: &str = "permit";

/// What a bundle says about itself: its `.manifest` and the marker pushed as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The commit the policy was built from (`<sha>` or `<sha>-dirty`).
    pub revision: String,
    /// The paths the bundle owns on a PDP (`permit.yaml` `bundle.roots`).
    pub roots: Vec<String>,
    /// The environment it is built for, if any.
    pub environment: Option<String>,
    /// Where the policy came from: the git ref, or `working tree`.
    pub source: String,
}

impl Meta {
    /// The marker PDPs answer at `data.permit.bundle`: how `push` verifies what a PDP serves
    /// and, through the module hashes, which modules a REST push must rewrite.
    pub fn marker(&self, modules: &[Module]) -> Value {
        let mut m = Map::new();
        m.insert("revision".into(), json!(self.revision));
        if let Some(env) = &self.environment {
            m.insert("environment".into(), json!(env));
        }
        m.insert("source".into(), json!(self.source));
        let hashes: Map<String, Value> = modules
            .iter()
            .map(|x| (x.path.clone(), json!(sha256_hex(x.text.as_bytes()))))
            .collect();
        m.insert("modules".into(), Value::Object(hashes));
        Value::Object(m)
    }

    /// The `.manifest` document.
    pub fn manifest(&self) -> Value {
        let mut metadata = Map::new();
        if let Some(env) = &self.environment {
            metadata.insert("environment".into(), json!(env));
        }
        metadata.insert("source".into(), json!(self.source));
        json!({
            "revision": self.revision,
            "roots": self.roots,
            "rego_version": 1,
            "metadata": metadata,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("the compiled data document is not a JSON object: {0}")]
    Data(String),
    #[error("bundle roots {0:?} do not include `permit`, where every generated package and the data live")]
    Roots(Vec<String>),
    #[error("cannot write the bundle archive: {0}")]
    Archive(#[from] std::io::Error),
    #[error(transparent)]
    Sign(#[from] sign::SignError),
}

/// The data document a PDP serves, as JSON text: the model plus the `permit.bundle` marker.
///
/// The compiled document is `{"permit":{...}}` (compile::data writes that prefix); the marker
/// is spliced in as the first key of `permit` rather than by parsing and re-serializing what
/// can be tens of megabytes.
pub fn data_document(compiled: &Compiled, meta: &Meta) -> Result<String, BundleError> {
    let text = compiled.data_json();
    let marker = meta.marker(&compiled.modules).to_string();
    let prefix = format!("{{\"{ROOT}\":{{");
    let Some(rest) = text.strip_prefix(&prefix) else {
        return Err(BundleError::Data(format!(
            "it does not start with `{prefix}`"
        )));
    };
    let sep = if rest.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    Ok(format!("{prefix}\"bundle\":{marker}{sep}{rest}"))
}

/// A built bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
    pub meta: Meta,
    /// The data document inside (`data.json`), for pushing over REST.
    pub data: String,
    /// The Rego modules inside, by path.
    pub modules: Vec<crate::compile::Module>,
}

/// Builds the bundle; signs it when `key` is given.
pub fn build(
    compiled: &Compiled,
    meta: &Meta,
    key: Option<&SigningKey>,
) -> Result<Bundle, BundleError> {
    if !meta.roots.iter().any(|r| r == ROOT) {
        return Err(BundleError::Roots(meta.roots.clone()));
    }
    let data = data_document(compiled, meta)?;
    let manifest = serde_json::to_vec(&meta.manifest()).map_err(json_io)?;
    // borrowed, not copied: the data document can be tens of megabytes
    let mut files: Vec<(&str, &[u8])> = Vec::with_capacity(compiled.modules.len() + 3);
    files.push((".manifest", &manifest));
    files.push(("data.json", data.as_bytes()));
    for m in &compiled.modules {
        files.push((m.path.trim_start_matches('/'), m.text.as_bytes()));
    }
    let signatures;
    if let Some(key) = key {
        signatures = sign::signatures(&files, key)?;
        files.push((".signatures.json", &signatures));
    }
    files.sort_by(|a, b| a.0.cmp(b.0));
    let bytes = archive(&files)?;
    Ok(Bundle {
        sha256: sha256_hex(&bytes),
        bytes,
        meta: meta.clone(),
        data,
        modules: compiled.modules.clone(),
    })
}

fn json_io(e: serde_json::Error) -> BundleError {
    BundleError::Data(e.to_string())
}

/// Level 1: on a 55 MB data document it is several times faster than the default level, for a
/// bundle about a third larger; pulls and pushes are dominated by round trips, not bytes.
const GZIP_LEVEL: u32 = 1;

/// A gzipped tar of `files` (already sorted) with fixed headers.
fn archive(files: &[(&str, &[u8])]) -> std::io::Result<Vec<u8>> {
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, *bytes)?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The `.manifest` revision inside a bundle archive, if it has one.
pub fn revision_of(bytes: &[u8]) -> Option<String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let is_manifest = entry
            .path()
            .ok()
            .is_some_and(|p| p.to_string_lossy().trim_start_matches('/') == ".manifest");
        if is_manifest {
            let manifest: Value = serde_json::from_reader(&mut entry).ok()?;
            return manifest["revision"].as_str().map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled() -> Compiled {
        Compiled {
            modules: vec![
                Module {
                    path: "permit/root.rego".into(),
                    text: "package permit.root\n\nallow := true\n".into(),
                },
                Module {
                    path: "custom/a.rego".into(),
                    text: "package permit.custom\n".into(),
                },
            ],
            data: r#"{"permit":{"model":{"b":1,"a":[1.5,"x"]}}}"#.into(),
        }
    }

    fn meta() -> Meta {
        Meta {
            revision: "abc123".into(),
            roots: vec!["permit".into()],
            environment: Some("staging".into()),
            source: "env/staging".into(),
        }
    }

    fn entries(bytes: &[u8]) -> Vec<(String, tar::Header, Vec<u8>)> {
        use std::io::Read;
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mut body = Vec::new();
                e.read_to_end(&mut body).unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().clone(),
                    body,
                )
            })
            .collect()
    }

    #[test]
    fn bundle_is_reproducible_sorted_with_fixed_headers() {
        let a = build(&compiled(), &meta(), None).unwrap();
        let b = build(&compiled(), &meta(), None).unwrap();
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.sha256, sha256_hex(&b.bytes));
        // gzip: no name flag, mtime 0
        assert_eq!(
            a.bytes[3] & 0x08,
            0,
            "gzip header must not carry a file name"
        );
        assert_eq!(&a.bytes[4..8], &[0, 0, 0, 0]);
        let e = entries(&a.bytes);
        let names: Vec<&str> = e.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            names,
            [
                ".manifest",
                "custom/a.rego",
                "data.json",
                "permit/root.rego"
            ]
        );
        for (_, h, _) in &e {
            assert_eq!(h.mtime().unwrap(), 0);
            assert_eq!(h.uid().unwrap(), 0);
            assert_eq!(h.gid().unwrap(), 0);
            assert_eq!(h.mode().unwrap(), 0o644);
        }
        let manifest: Value = serde_json::from_slice(&e[0].2).unwrap();
        assert_eq!(manifest["revision"], "abc123");
        assert_eq!(manifest["rego_version"], 1);
        assert_eq!(manifest["roots"], json!(["permit"]));
        assert_eq!(manifest["metadata"]["environment"], "staging");
        let data: Value = serde_json::from_slice(&e[2].2).unwrap();
        assert_eq!(data["permit"]["bundle"]["revision"], "abc123", "{data}");
        assert_eq!(
            data["permit"]["bundle"]["modules"]["permit/root.rego"],
            sha256_hex(b"package permit.root\n\nallow := true\n")
        );
        assert_eq!(data["permit"]["model"]["b"], 1);
        assert_eq!(revision_of(&a.bytes).as_deref(), Some("abc123"));
    }

    #[test]
    fn another_revision_gives_other_bytes() {
        let a = build(&compiled(), &meta(), None).unwrap();
        let mut m = meta();
        m.revision = "def456".into();
        let b = build(&compiled(), &m, None).unwrap();
        assert_ne!(a.sha256, b.sha256);
    }

    #[test]
    fn the_marker_is_spliced_into_any_permit_object() {
        let mut c = compiled();
        c.data = r#"{"permit":{}}"#.into();
        let d: Value = serde_json::from_str(&data_document(&c, &meta()).unwrap()).unwrap();
        assert_eq!(d["permit"]["bundle"]["revision"], "abc123");
        c.data = r#"{"other":{}}"#.into();
        assert!(data_document(&c, &meta()).is_err());
    }

    #[test]
    fn roots_must_include_permit() {
        let mut m = meta();
        m.roots = vec!["other".into()];
        assert!(matches!(
            build(&compiled(), &m, None),
            Err(BundleError::Roots(_))
        ));
    }

    #[test]
    fn signed_bundle_carries_signatures() {
        let key = SigningKey::new("s3cret".into(), Some("HS256")).unwrap();
        let a = build(&compiled(), &meta(), Some(&key)).unwrap();
        let e = entries(&a.bytes);
        let sig = e.iter().find(|x| x.0 == ".signatures.json").unwrap();
        let v: Value = serde_json::from_slice(&sig.2).unwrap();
        assert_eq!(v["plugin"], "_default");
        assert_eq!(v["signatures"].as_array().unwrap().len(), 1);
    }
}

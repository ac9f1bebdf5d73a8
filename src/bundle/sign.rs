//! Bundle signatures in OPA's format: `.signatures.json` holding one JWS whose payload lists
//! every file with its SHA-256. HS256 (a shared secret) and RS256 (an RSA private key in PEM).
//!
//! Hashes follow OPA's verifier: `.rego` files raw; JSON files (`data.json`, `.manifest`) in
//! canonical form (keys sorted, no whitespace, Go's string escaping), so a PDP that re-encodes
//! them still verifies. Key material never appears in errors or `Debug` output.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Hs256,
    Rs256,
}

impl Algorithm {
    pub const NAMES: [&'static str; 2] = ["HS256", "RS256"];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Rs256 => "RS256",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("unknown signing algorithm `{0}`; permit signs with HS256 or RS256")]
    UnknownAlgorithm(String),
    #[error("the signing key is empty")]
    Empty,
    #[error("the RS256 signing key is not a PEM private key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`)")]
    NotPem,
    #[error("the RS256 signing key is not a usable RSA key ({0})")]
    BadRsaKey(String),
    #[error("signing failed")]
    Failed,
}

enum Secret {
    Hmac(ring::hmac::Key),
    Rsa(ring::rsa::KeyPair),
}

/// A key ready to sign with; built from an environment variable's value.
pub struct SigningKey {
    secret: Secret,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, <redacted>)", self.algorithm().name())
    }
}

impl SigningKey {
    /// `alg` from `permit.yaml` (`HS256` or `RS256`); without it, a PEM key means RS256 and
    /// anything else is an HS256 secret.
    pub fn new(key: String, alg: Option<&str>) -> Result<SigningKey, SignError> {
        if key.trim().is_empty() {
            return Err(SignError::Empty);
        }
        let alg = match alg {
            Some(a) if a.eq_ignore_ascii_case("HS256") => Algorithm::Hs256,
            Some(a) if a.eq_ignore_ascii_case("RS256") => Algorithm::Rs256,
            Some(a) => return Err(SignError::UnknownAlgorithm(a.to_string())),
            None if key.trim_start().starts_with("-----BEGIN") => Algorithm::Rs256,
            None => Algorithm::Hs256,
        };
        let secret = match alg {
            Algorithm::Hs256 => Secret::Hmac(ring::hmac::Key::new(
                ring::hmac::HMAC_SHA256,
                key.as_bytes(),
            )),
            Algorithm::Rs256 => Secret::Rsa(rsa_key(&key)?),
        };
        Ok(SigningKey { secret })
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.secret {
            Secret::Hmac(_) => Algorithm::Hs256,
            Secret::Rsa(_) => Algorithm::Rs256,
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.secret {
            Secret::Hmac(k) => Ok(ring::hmac::sign(k, message).as_ref().to_vec()),
            Secret::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(|_| SignError::Failed)?;
                Ok(sig)
            }
        }
    }
}

fn rsa_key(pem: &str) -> Result<ring::rsa::KeyPair, SignError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::PrivateKeyDer;
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| SignError::NotPem)?;
    let pair = match &der {
        PrivateKeyDer::Pkcs1(k) => ring::rsa::KeyPair::from_der(k.secret_pkcs1_der()),
        PrivateKeyDer::Pkcs8(k) => ring::rsa::KeyPair::from_pkcs8(k.secret_pkcs8_der()),
        _ => return Err(SignError::BadRsaKey("not an RSA key".into())),
    };
    pair.map_err(|e| SignError::BadRsaKey(e.to_string()))
}

/// `.signatures.json` for `files` (every file of the bundle but the signatures themselves).
pub fn signatures(files: &[(&str, &[u8])], key: &SigningKey) -> Result<Vec<u8>, SignError> {
    let mut listed: Vec<Value> = files
        .iter()
        .map(|(name, bytes)| {
            json!({"name": name, "hash": file_hash(name, bytes), "algorithm": "SHA-256"})
        })
        .collect();
    listed.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let header = json!({"alg": key.algorithm().name()});
    let payload = json!({ "files": listed });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let sig = key.sign(signing_input.as_bytes())?;
    let jws = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig));
    Ok(json!({"signatures": [jws], "plugin": "_default"})
        .to_string()
        .into_bytes())
}

/// The hash OPA's verifier computes for a bundle file.
fn file_hash(name: &str, bytes: &[u8]) -> String {
    let is_json = name.ends_with(".json") || name == ".manifest" || name.ends_with("/.manifest");
    if is_json {
        if let Some(canonical) = canonical(bytes) {
            return super::sha256_hex(canonical.as_bytes());
        }
    }
    super::sha256_hex(bytes)
}

/// `bytes` as OPA's canonical JSON (bundle/hash.go): object keys sorted bytewise, no
/// whitespace, strings escaped like Go's encoder with HTML escaping off. Numbers keep
/// serde_json's text, which is the text in the file, and OPA reads numbers as `json.Number`
/// (the text as written). Streamed: each value becomes its canonical text as it is parsed,
/// so a 55 MB `data.json` never becomes a tree of `Value`s (which cost gigabytes and seconds).
fn canonical(bytes: &[u8]) -> Option<String> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let out = Canonical.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(out)
}

/// Deserializes any JSON value into its canonical text (see `write_canonical`).
struct Canonical;

impl<'de> serde::de::DeserializeSeed<'de> for Canonical {
    type Value = String;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Canonical {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E>(self, v: f64) -> Result<String, E> {
        // serde_json's own float text (what it wrote into the file)
        Ok(Value::from(v).to_string())
    }

    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        let mut out = String::with_capacity(v.len() + 2);
        write_string(v, &mut out);
        Ok(out)
    }

    fn visit_unit<E>(self) -> Result<String, E> {
        Ok("null".into())
    }

    fn visit_none<E>(self) -> Result<String, E> {
        Ok("null".into())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        let mut out = String::from("[");
        let mut first = true;
        while let Some(item) = seq.next_element_seed(Canonical)? {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&item);
        }
        out.push(']');
        Ok(out)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let mut entries: Vec<(String, String)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Canonical)?;
            entries.push((key, value));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let len = entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>()
            + 2;
        let mut out = String::with_capacity(len);
        out.push('{');
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(k, &mut out);
            out.push(':');
            out.push_str(v);
        }
        out.push('}');
        Ok(out)
    }
}

/// The reference form `canonical` streams: a `Value` tree written canonically.
#[cfg(test)]
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_escapes_like_go() {
        let v: Value =
            serde_json::from_str(r#"{"b": [1, 2.50, "x\u2028<&>"], "a": {"d": null, "c": true}}"#)
                .unwrap();
        let mut out = String::new();
        write_canonical(&v, &mut out);
        assert_eq!(out, r#"{"a":{"c":true,"d":null},"b":[1,2.5,"x\u2028<&>"]}"#);
    }

    #[test]
    fn streamed_canonical_form_equals_the_tree_one() {
        for text in [
            r#"{"b": [1, 2.50, -3, 1e3, "x\u2028<&>\n\u0001"], "a": {"d": null, "c": true}, "é": {}}"#,
            r#"[]"#,
            r#""s""#,
            r#"{"k": [{"z": 1, "y": [false, {}]}]}"#,
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            let mut tree = String::new();
            write_canonical(&v, &mut tree);
            assert_eq!(canonical(text.as_bytes()).unwrap(), tree, "{text}");
        }
        assert!(canonical(b"{\"a\": 1} trailing").is_none());
    }

    #[test]
    fn rego_is_hashed_raw_and_json_canonically() {
        let raw = b"{\"b\":1,\"a\":2}";
        assert_eq!(file_hash("x.rego", raw), crate::bundle::sha256_hex(raw));
        assert_eq!(
            file_hash("data.json", raw),
            crate::bundle::sha256_hex(b"{\"a\":2,\"b\":1}")
        );
    }

    #[test]
    fn algorithm_follows_config_then_key_shape() {
        assert_eq!(
            SigningKey::new("secret".into(), None).unwrap().algorithm(),
            Algorithm::Hs256
        );
        assert!(matches!(
            SigningKey::new(
                "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n".into(),
                None
            ),
            Err(SignError::NotPem | SignError::BadRsaKey(_))
        ));
        assert!(matches!(
            SigningKey::new("secret".into(), Some("ES256")),
            Err(SignError::UnknownAlgorithm(_))
        ));
        assert!(matches!(
            SigningKey::new("  ".into(), None),
            Err(SignError::Empty)
        ));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let k = SigningKey::new("very-secret-value".into(), Some("HS256")).unwrap();
        assert!(!format!("{k:?}").contains("very-secret-value"));
    }

    #[test]
    fn hs256_signature_is_a_valid_jws() {
        let k = SigningKey::new("secret".into(), Some("HS256")).unwrap();
        let files = [("data.json", b"{}".as_slice())];
        let out: Value = serde_json::from_slice(&signatures(&files, &k).unwrap()).unwrap();
        let jws = out["signatures"][0].as_str().unwrap();
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let input = format!("{}.{}", parts[0], parts[1]);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"secret");
        ring::hmac::verify(&key, input.as_bytes(), &sig).unwrap();
        let payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["files"][0]["name"], "data.json");
        assert_eq!(payload["files"][0]["algorithm"], "SHA-256");
    }
}

//! `permit build --bundle`: reproducible archives that real OPA loads, signed bundles OPA
//! verifies, and tampered ones it refuses.

mod support;

use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::git::Repo;
use support::{beside, init_repo, opa, OpaServer};

fn build_bundle(dir: &Path, file: &Path, envs: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("permit");
    cmd.current_dir(dir).args(["build", "--bundle"]).arg(file);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            (e.path().unwrap().to_string_lossy().into_owned(), body)
        })
        .collect()
}

fn repack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut t = tar::Builder::new(gz);
    for (name, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        t.append_data(&mut h, name, body.as_slice()).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap()
}

fn add_signing(repo: &Repo, alg: &str) {
    let p = repo.path("permit.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    let text = text.replace(
        "  # signing_key_env: BUNDLE_SIGNING_KEY",
        &format!("  signing_key_env: BUNDLE_SIGNING_KEY\n  signing_alg: {alg}"),
    );
    assert!(
        text.contains("signing_alg"),
        "permit init's permit.yaml changed"
    );
    std::fs::write(&p, text).unwrap();
    repo.git(&["commit", "-qam", "sign bundles"]);
}

#[test]
fn bundles_are_reproducible_and_carry_the_commit() {
    let (repo, dir, sha) = init_repo();
    let (a, b) = (beside(&repo, "a.tar.gz"), beside(&repo, "b.tar.gz"));
    let out = build_bundle(&dir, &a, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(build_bundle(&dir, &b, &[]).status.success());
    let (a, b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(a == b, "two builds of one commit differ");
    let files = entries(&a);
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let manifest: Value = serde_json::from_slice(&files[0].1).unwrap();
    assert_eq!(manifest["revision"], sha);
    assert_eq!(manifest["roots"], json!(["permit"]));
    assert_eq!(manifest["rego_version"], 1);
    assert_eq!(manifest["metadata"]["source"], "working tree");

    // an uncommitted change marks the revision dirty; --ref reads the commit
    std::fs::write(dir.join("policy/extra.yaml"), "resources: {}\n").unwrap();
    let c = beside(&repo, "c.tar.gz");
    assert!(build_bundle(&dir, &c, &[]).status.success());
    let rev = permit::bundle::revision_of(&std::fs::read(&c).unwrap()).unwrap();
    assert_eq!(rev, format!("{sha}-dirty"));
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("permit");
    let out = cmd
        .current_dir(&dir)
        .args(["build", "--ref", "main", "--bundle"])
        .arg(&c)
        .output()
        .unwrap();
    assert!(out.status.success());
    let at_ref = std::fs::read(&c).unwrap();
    assert_eq!(permit::bundle::revision_of(&at_ref).unwrap(), sha);
    let modules = |b: &[u8]| -> Vec<(String, Vec<u8>)> {
        entries(b)
            .into_iter()
            .filter(|e| e.0.ends_with(".rego"))
            .collect()
    };
    assert!(
        modules(&at_ref) == modules(&a),
        "--ref main builds the committed policy"
    );
}

#[test]
fn opa_serves_the_bundle_and_decides_like_the_example_tests() {
    let Some(opa) = opa() else { return };
    let (repo, dir, sha) = init_repo();
    let file = beside(&repo, "b.tar.gz");
    assert!(build_bundle(&dir, &file, &[]).status.success());
    let server = OpaServer::start(&opa, &[Path::new("--bundle"), &file]);
    let (status, body) = server
        .request("GET", "/v1/data/permit/bundle/revision", None)
        .unwrap();
    assert_eq!(status, 200);
    assert!(body.contains(&sha), "{body}");
    // the example's own decision tests, decided by this OPA as well as the embedded engine
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("permit");
    let out = cmd
        .current_dir(&dir)
        .args(["test", "--format", "json", "--engine"])
        .arg(format!("opa=http://127.0.0.1:{}", server.port))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["disagreements"], json!([]), "{report}");
    assert!(
        report["tests"].as_array().is_some_and(|t| t.len() >= 10),
        "{report}"
    );
}

fn rsa_keys(repo: &Repo) -> (String, PathBuf) {
    let key = beside(repo, "key.pem");
    let public = beside(repo, "pub.pem");
    let ok = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public)
        .status()
        .unwrap();
    assert!(ok.success());
    (std::fs::read_to_string(&key).unwrap(), public)
}

/// `opa run --server --bundle file` with `verify` flags; `Ok` once healthy, `Err` with its
/// output if it exits (OPA stops at start when the bundle fails verification).
fn opa_with_bundle(opa: &Path, file: &Path, verify: &[&str]) -> Result<OpaServer, String> {
    let mut args: Vec<&Path> = vec![Path::new("--bundle"), file];
    args.extend(verify.iter().map(Path::new));
    OpaServer::try_start(opa, &args)
}

fn tamper(file: &Path, out: &Path) {
    let mut files = entries(&std::fs::read(file).unwrap());
    for (name, body) in &mut files {
        if name == "data.json" {
            let mut v: Value = serde_json::from_slice(body).unwrap();
            v["permit"]["bundle"]["revision"] = json!("forged");
            *body = serde_json::to_vec(&v).unwrap();
        }
    }
    std::fs::write(out, repack(&files)).unwrap();
}

#[test]
fn signed_bundles_activate_with_the_key_and_tampering_is_refused() {
    let Some(opa) = opa() else { return };
    let (repo, dir, sha) = init_repo();

    // HS256 with a shared secret
    add_signing(&repo, "HS256");
    let secret = "hs-secret-Kx71";
    let file = beside(&repo, "hs.tar.gz");
    let out = build_bundle(&dir, &file, &[("BUNDLE_SIGNING_KEY", secret)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    let names: Vec<String> = entries(&std::fs::read(&file).unwrap())
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert!(names.contains(&".signatures.json".to_string()), "{names:?}");
    let server = opa_with_bundle(
        &opa,
        &file,
        &["--verification-key", secret, "--signing-alg", "HS256"],
    )
    .unwrap_or_else(|e| panic!("OPA refused the HS256 bundle: {e}"));
    let d = server.decide(&json!({"user": {"key": "alice"}, "action": "read", "resource": {"type": "document", "key": "launch", "tenant": "acme"}}));
    assert_eq!(d["allow"], true);
    drop(server);
    let err = opa_with_bundle(
        &opa,
        &file,
        &["--verification-key", "wrong", "--signing-alg", "HS256"],
    )
    .err()
    .expect("OPA accepted a bundle signed with another secret");
    assert!(!err.is_empty());
    let bad = beside(&repo, "hs-tampered.tar.gz");
    tamper(&file, &bad);
    let err = opa_with_bundle(
        &opa,
        &bad,
        &["--verification-key", secret, "--signing-alg", "HS256"],
    )
    .err()
    .expect("OPA accepted a tampered HS256 bundle");
    assert!(err.contains("digest mismatch"), "{err}");

    // RS256 with a PEM key; the algorithm comes from permit.yaml
    let p = dir.join("permit.yaml");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("signing_alg: HS256", "signing_alg: RS256");
    std::fs::write(&p, text).unwrap();
    let (key, public) = rsa_keys(&repo);
    let file = beside(&repo, "rs.tar.gz");
    let out = build_bundle(&dir, &file, &[("BUNDLE_SIGNING_KEY", &key)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("PRIVATE KEY"));
    let public = public.to_str().unwrap();
    let server = opa_with_bundle(&opa, &file, &["--verification-key", public])
        .unwrap_or_else(|e| panic!("OPA refused the RS256 bundle: {e}"));
    let (_, body) = server
        .request("GET", "/v1/data/permit/bundle/revision", None)
        .unwrap();
    let head = repo.sha("HEAD");
    assert!(body.contains(&format!("{head}-dirty")), "{body}");
    assert_ne!(head, sha);
    drop(server);
    let bad = beside(&repo, "rs-tampered.tar.gz");
    tamper(&file, &bad);
    let err = opa_with_bundle(&opa, &bad, &["--verification-key", public])
        .err()
        .expect("OPA accepted a tampered RS256 bundle");
    assert!(err.contains("digest mismatch"), "{err}");

    // a key that is not RSA PEM for RS256: usage error, the key text never echoed
    let out = build_bundle(&dir, &file, &[("BUNDLE_SIGNING_KEY", "not-a-pem-Zz9")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not-a-pem-Zz9"));
    // no key at all
    let out = build_bundle(&dir, &file, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BUNDLE_SIGNING_KEY"));
}

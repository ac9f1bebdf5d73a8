//! Shared by integration tests: finding real OPA, a seeded PRNG, random models and queries.
#![allow(dead_code)]

pub mod git;
pub mod random;

/// A temp folder holding `demo/`, a fresh `permit init` project (no git).
pub fn init_demo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let out = assert_cmd::cargo::cargo_bin_cmd!("permit")
        .arg("init")
        .arg(tmp.path().join("demo"))
        .args(["--no-git", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "permit init failed");
    tmp
}

use std::path::PathBuf;
use std::process::Command;

/// A real OPA binary: `$PERMIT_OPA`, `opa` on PATH, or the cache `scripts/provision-opa.sh` fills.
/// When none runs: fails if `PERMIT_REQUIRE_OPA=1` or `CI` is set, else says loudly it skips.
pub fn opa() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("PERMIT_OPA") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(PathBuf::from("opa"));
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cache/opa/opa"));
    }
    for c in candidates {
        let ok = Command::new(&c)
            .arg("version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Some(c);
        }
    }
    let required = std::env::var("PERMIT_REQUIRE_OPA").is_ok_and(|v| v == "1")
        || std::env::var_os("CI").is_some();
    assert!(
        !required,
        "real OPA is required (PERMIT_REQUIRE_OPA/CI) but none runs: run scripts/provision-opa.sh"
    );
    eprintln!(
        "\n**** SKIPPED: no real OPA found; run scripts/provision-opa.sh or set PERMIT_OPA ****\n"
    );
    None
}

/// Evaluates many queries on real OPA in one `opa eval`, returning each `data.permit.root`
/// reduced to the decision contract.
pub fn opa_decide(
    opa: &std::path::Path,
    build_dir: &std::path::Path,
    queries: &[serde_json::Value],
) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    std::fs::write(
        &input,
        serde_json::to_string(&serde_json::json!({"queries": queries})).unwrap(),
    )
    .unwrap();
    let query = r#"[{"allow": d.allow, "sources": d.allowing_sources, "reason": d.debug.reason, "abac": d.debug.abac.reason} | some q in input.queries; d := data.permit.root with input as q]"#;
    let out = Command::new(opa)
        .args(["eval", "--format", "json", "-d"])
        .arg(build_dir)
        .arg("-i")
        .arg(&input)
        .arg(query)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "opa eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["result"][0]["expressions"][0]["value"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("opa gave no result: {v}"));
    assert_eq!(
        results.len(),
        queries.len(),
        "OPA dropped queries (an undefined root?)"
    );
    results
}

/// The same reduction of a regorus decision.
pub fn reduce(d: &permit::engine::Decision) -> serde_json::Value {
    serde_json::json!({"allow": d.allow, "sources": d.allowing_sources, "reason": d.reason, "abac": d.abac_reason})
}

/// A real OPA server on 127.0.0.1, stopped (by pid) when dropped.
pub struct OpaServer {
    child: std::process::Child,
    pub port: u16,
}

impl OpaServer {
    /// Starts `opa run --server` with `paths` loaded and waits until `/health` answers.
    pub fn start(opa: &std::path::Path, paths: &[&std::path::Path]) -> OpaServer {
        let port = free_port();
        let mut cmd = Command::new(opa);
        cmd.args([
            "run",
            "--server",
            "--disable-telemetry",
            "--log-level",
            "error",
            "--addr",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .args(paths)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        let child = cmd.spawn().expect("start opa");
        let server = OpaServer { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok((200, _)) = server.request("GET", "/health", None) {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("opa server did not become healthy on port {port}");
    }

    /// A plain HTTP/1.1 request; returns the status and body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        let body = body.unwrap_or("");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = out
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        // OPA answers small bodies unchunked with Connection: close
        Ok((status, body))
    }

    /// `POST /v1/data/permit/root` with `input`: the decision document.
    pub fn decide(&self, input: &serde_json::Value) -> serde_json::Value {
        let (status, body) = self
            .request(
                "POST",
                "/v1/data/permit/root",
                Some(&serde_json::json!({"input": input}).to_string()),
            )
            .unwrap();
        assert_eq!(status, 200, "opa answered {status}: {body}");
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        v["result"].clone()
    }
}

impl Drop for OpaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
    if let Some(found) = first_that_runs(candidates, "version") {
        return Some(found);
    }
    assert!(
        !required(),
        "real OPA is required (PERMIT_REQUIRE_OPA/CI) but none runs: run scripts/provision-opa.sh"
    );
    eprintln!(
        "\n**** SKIPPED: no real OPA found; run scripts/provision-opa.sh or set PERMIT_OPA ****\n"
    );
    None
}

/// The first of `candidates` that runs `candidate arg` successfully.
fn first_that_runs(candidates: Vec<PathBuf>, arg: &str) -> Option<PathBuf> {
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Whether a missing external tool fails the test (`PERMIT_REQUIRE_OPA=1` or `CI`).
fn required() -> bool {
    std::env::var("PERMIT_REQUIRE_OPA").is_ok_and(|v| v == "1") || std::env::var_os("CI").is_some()
}

/// Polls `GET path` on 127.0.0.1:`port` until it answers 200; false when `server` exits first
/// or after 20 s.
fn ready(server: &mut std::process::Child, port: u16, path: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if server.try_wait().is_ok_and(|s| s.is_some()) {
            return false;
        }
        if let Ok((200, _)) = http(port, "GET", path, None) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
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

/// `opa check --strict` on a build folder: `Err(stderr)` when OPA refuses it.
pub fn opa_check_strict(opa: &std::path::Path, build_dir: &std::path::Path) -> Result<(), String> {
    let out = Command::new(opa)
        .args(["check", "--strict"])
        .arg(build_dir)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Builds the project in `dir`, which must check without errors, and writes the build to
/// `dir/build`: the compiled policy and that folder.
pub fn build(dir: &std::path::Path) -> (permit::compile::Compiled, PathBuf) {
    let (_, compiled, out) = build_with_model(dir);
    (compiled, out)
}

/// [`build`], also giving the model it compiled.
pub fn build_with_model(
    dir: &std::path::Path,
) -> (permit::model::Model, permit::compile::Compiled, PathBuf) {
    let mut project = permit::project::Project::open(dir).unwrap();
    let built = project.build().unwrap();
    let errors: Vec<String> = built
        .checked
        .diags
        .items
        .iter()
        .filter(|d| d.is_error())
        .map(|d| permit::diagnostics::plain(d, &project.sources))
        .collect();
    assert!(
        errors.is_empty(),
        "model in {} does not check:\n{}",
        dir.display(),
        errors.join("\n")
    );
    let compiled = built.compiled.unwrap();
    let out = dir.join("build");
    permit::cmd::build::write_output(&out, &compiled).unwrap();
    (built.checked.model, compiled, out)
}

/// Loads and validates model files held in memory, `(name under root, bytes)`, as `permit
/// check` does those of a project in `root` (nothing is read from disk).
pub fn check_files(
    root: &str,
    files: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> (permit::project::Checked, permit::project::Project) {
    let root = PathBuf::from(root);
    let inputs = files
        .into_iter()
        .map(|(name, bytes)| permit::model::load::Input {
            path: root.join(&name),
            name,
            bytes,
        })
        .collect();
    let mut project = permit::project::Project {
        root,
        config: permit::config::Config::default(),
        sources: permit::source::SourceMap::default(),
        revision: permit::project::Revision::WorkTree,
    };
    let checked = project.check_inputs(inputs);
    (checked, project)
}

/// An integer from the environment, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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
        OpaServer::try_start(opa, paths).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like `start`, but when OPA exits before it answers (a bundle that fails verification
    /// stops it at start), `Err` with what it printed.
    pub fn try_start(
        opa: &std::path::Path,
        args: &[&std::path::Path],
    ) -> Result<OpaServer, String> {
        use std::io::{Read, Seek};
        let port = free_port();
        // a file, not a pipe, so a server that logs for long never blocks on it; OPA prints why it
        // stopped to stdout
        let mut log = tempfile::tempfile().unwrap();
        let child = Command::new(opa)
            .args([
                "run",
                "--server",
                "--disable-telemetry",
                "--log-level",
                "error",
                "--addr",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .stdout(log.try_clone().unwrap())
            .stderr(log.try_clone().unwrap())
            .spawn()
            .expect("start opa");
        let mut server = OpaServer { child, port };
        if ready(&mut server.child, port, "/health") {
            return Ok(server);
        }
        let mut out = String::new();
        log.rewind().unwrap();
        let _ = log.read_to_string(&mut out);
        Err(format!(
            "opa server did not become healthy on port {port}: {out}"
        ))
    }

    /// A plain HTTP/1.1 request; returns the status and body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        http(self.port, method, path, body)
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

/// Debian's `docker-registry` (distribution 2.8), for OCI tests. When missing: fails under
/// `PERMIT_REQUIRE_OPA=1` or `CI` (`.ci/run` installs it), else says loudly it skips.
pub fn docker_registry() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("PERMIT_DOCKER_REGISTRY") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(PathBuf::from("docker-registry"));
    candidates.push(PathBuf::from("/usr/bin/docker-registry"));
    if let Some(found) = first_that_runs(candidates, "--version") {
        return Some(found);
    }
    assert!(
        !required(),
        "an OCI registry is required (PERMIT_REQUIRE_OPA/CI) but `docker-registry` is missing: apt-get install -y docker-registry"
    );
    eprintln!("\n**** SKIPPED: no `docker-registry`; apt-get install -y docker-registry ****\n");
    None
}

/// A real OCI registry on 127.0.0.1 with storage in a temp folder, stopped (by pid) on drop.
pub struct Registry {
    child: std::process::Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start(bin: &std::path::Path) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cfg = dir.path().join("config.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let mut reg = Registry {
            child,
            port,
            _dir: dir,
        };
        assert!(
            ready(&mut reg.child, port, "/v2/"),
            "docker-registry did not answer on port {port}"
        );
        reg
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 request to 127.0.0.1:`port`; the status and the (unchunked) body.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/vnd.oci.image.manifest.v1+json, application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let raw = out.get(split + 4..).unwrap_or_default();
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let chunked = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
    let body = if chunked { dechunk(raw) } else { raw.to_vec() };
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok((status, body))
}

/// The body of a chunked HTTP/1.1 response.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..eol]);
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let data = &rest[eol + 2..];
        if n == 0 || data.len() < n {
            break;
        }
        out.extend_from_slice(&data[..n]);
        rest = data[n..].strip_prefix(b"\r\n").unwrap_or(&data[n..]);
    }
    out
}

/// `permit init` in a fresh git repository, committed on `main`; returns the repository, its
/// folder and the commit.
pub fn init_repo() -> (git::Repo, PathBuf, String) {
    let repo = git::Repo::init_demo();
    let dir = repo.root().to_path_buf();
    let sha = repo.sha("HEAD");
    (repo, dir, sha)
}

/// `name` in the temp folder holding `repo` (outside the repository).
pub fn beside(repo: &git::Repo, name: &str) -> PathBuf {
    repo.root().parent().unwrap().join(name)
}

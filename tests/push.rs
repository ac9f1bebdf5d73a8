//! `permit push` and `permit pdp status` against real OPA servers and a real OCI registry, all
//! started here on 127.0.0.1 and stopped by pid.

mod support;

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use support::git::Repo;
use support::{beside, free_port, http, init_repo, opa, OpaServer};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn permit(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Out {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("permit");
    cmd.current_dir(dir).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let o: Output = cmd.output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Rewrites permit.yaml with `staging` PDPs (YAML list items) and extra `bundle:` settings.
fn configure(dir: &Path, pdps: &[String], bundle_extra: &str) {
    let list: String = pdps.iter().map(|p| format!("    - {p}\n")).collect();
    std::fs::write(
        dir.join("permit.yaml"),
        format!(
            "environments:\n  dev: {{branch: main}}\n  staging: {{branch: env/staging, promote_from: dev}}\npdps:\n  staging:\n{list}bundle: {{roots: [permit]{bundle_extra}}}\n"
        ),
    )
    .unwrap();
}

fn url(port: u16) -> String {
    format!("{{url: \"http://127.0.0.1:{port}\"}}")
}

fn revision(port: u16) -> Option<String> {
    let (status, body) = http(port, "GET", "/v1/data/permit/bundle/revision", None).unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["result"].as_str().map(str::to_string)
}

fn policies(port: u16) -> Vec<(String, String)> {
    let (status, body) = http(port, "GET", "/v1/policies", None).unwrap();
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{e}: {}", &body[..body.len().min(300)]));
    let mut out: Vec<(String, String)> = v["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["raw"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Commits a change to the model on `env/staging`; returns the new commit.
fn commit_change(repo: &Repo, what: &str) -> String {
    let dir = repo.root();
    repo.git(&["checkout", "-q", "env/staging"]);
    match what {
        "drop-custom" => {
            std::fs::remove_file(dir.join("custom/custom.rego")).unwrap();
            let _ = std::fs::remove_file(dir.join("tests/custom_test.rego"));
            let _ = std::fs::remove_file(dir.join("custom/custom_test.rego"));
        }
        _ => {
            let p = dir.join("policy/directory.yaml");
            let text = std::fs::read_to_string(&p).unwrap();
            std::fs::write(
                &p,
                text.replace(
                    "{role: editor, tenant: acme}",
                    "{role: viewer, tenant: acme}",
                ),
            )
            .unwrap();
        }
    }
    // keep the rewritten permit.yaml out of the commit
    repo.git(&["add", "policy", "custom", "tests"]);
    repo.git(&["commit", "-qm", what]);
    let sha = repo.sha("HEAD");
    repo.git(&["checkout", "-q", "main"]);
    sha
}

/// A repo with `env/staging` at the initial commit; returns (repo, dir, sha).
fn staged_repo() -> (Repo, PathBuf, String) {
    let (repo, dir, sha) = init_repo();
    repo.git(&["branch", "env/staging"]);
    (repo, dir, sha)
}

const USERS: &[&str] = &["alice", "bob", "carol", "dave", "mallory"];
const ACTIONS: &[&str] = &["read", "update", "delete"];
const RESOURCES: &[&str] = &[
    "document:roadmap",
    "document:launch",
    "document:salaries",
    "folder:engineering",
];

/// Every decision of the example's users/actions/resources on the OPA at `port` equals
/// `permit eval --format json` on the project's working tree.
fn assert_decides_like_eval(dir: &Path, server: &OpaServer) {
    for user in USERS {
        for action in ACTIONS {
            for resource in RESOURCES {
                let local = permit(
                    dir,
                    &[
                        "eval",
                        "--format",
                        "json",
                        "--user",
                        user,
                        "--action",
                        action,
                        "--resource",
                        resource,
                        "--tenant",
                        "acme",
                    ],
                    &[],
                );
                assert_eq!(local.code, 0, "{}", local.stderr);
                let local: Value = serde_json::from_str(&local.stdout).unwrap();
                let (ty, key) = resource.split_once(':').unwrap();
                let remote = server.decide(&json!({
                    "user": {"key": user, "attributes": {}},
                    "action": action,
                    "resource": {"type": ty, "key": key, "tenant": "acme", "attributes": {}},
                    "context": {},
                }));
                let reduce = |d: &Value| {
                    let mut sources: Vec<String> = d["allowing_sources"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|s| s.as_str().unwrap().to_string())
                        .collect();
                    sources.sort();
                    json!({"allow": d["allow"], "sources": sources, "reason": d["debug"]["reason"]})
                };
                assert_eq!(
                    reduce(&remote),
                    reduce(&local),
                    "{user} {action} {resource}"
                );
            }
        }
    }
}

#[test]
fn push_verifies_the_revision_and_opa_decides_like_eval() {
    let Some(opa) = opa() else { return };
    let (repo, dir, sha) = staged_repo();
    let server = OpaServer::start(&opa, &[]);
    // somebody else's policy on the same PDP: permit must leave it alone
    let (s, _) = server
        .request(
            "PUT",
            "/v1/policies/other",
            Some("package other\n\nx := 1\n"),
        )
        .unwrap();
    assert_eq!(s, 200);
    configure(&dir, &[url(server.port)], "");

    let out = permit(&dir, &["push", "staging"], &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("pushed"), "{}", out.stdout);
    assert!(out.stdout.contains(&sha[..12]), "{}", out.stdout);
    assert_eq!(revision(server.port).as_deref(), Some(sha.as_str()));
    assert_decides_like_eval(&dir, &server);
    let ids: Vec<String> = policies(server.port).into_iter().map(|p| p.0).collect();
    assert!(
        ids.contains(&"permit/permit/root.rego".to_string()),
        "{ids:?}"
    );
    assert!(ids.iter().any(|i| i.contains("custom")), "{ids:?}");

    // a new revision without the custom module: the stale module goes, `other` stays
    let sha2 = commit_change(&repo, "drop-custom");
    let out = permit(&dir, &["push", "staging", "--format", "json"], &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["revision"], sha2);
    assert_eq!(report["pdps"][0]["before"], sha);
    assert_eq!(report["pdps"][0]["after"], sha2);
    assert_eq!(report["pdps"][0]["outcome"], "pushed");
    let ids: Vec<String> = policies(server.port).into_iter().map(|p| p.0).collect();
    assert!(!ids.iter().any(|i| i.contains("custom")), "{ids:?}");
    assert!(ids.contains(&"other".to_string()), "{ids:?}");

    // pdp status reports it
    let out = permit(&dir, &["pdp", "status", "staging", "--format", "json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let status: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(status["pdps"][0]["revision"], sha2);
    let out = permit(&dir, &["pdp", "status", "staging"], &[]);
    assert!(out.stdout.contains("REVISION") && out.stdout.contains(&sha2[..12]));
}

#[test]
fn promote_push_delivers_the_promoted_commit() {
    let Some(opa) = opa() else { return };
    let (repo, dir, _) = staged_repo();
    let server = OpaServer::start(&opa, &[]);
    configure(&dir, &[url(server.port)], "");
    let p = dir.join("policy/directory.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        text.replace(
            "  carol:\n",
            "  erin:\n    attributes: {clearance: 1}\n  carol:\n",
        ),
    )
    .unwrap();
    repo.git(&["add", "policy"]);
    repo.git(&["commit", "-qm", "add erin"]);
    let main = repo.sha("main");

    let out = permit(
        &dir,
        &["promote", "dev", "staging", "--dry-run", "--push"],
        &[],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("planned"), "{}", out.stdout);
    assert_eq!(revision(server.port), None, "a dry run pushes nothing");

    let out = permit(&dir, &["promote", "dev", "staging", "--push"], &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(repo.sha("env/staging"), main);
    assert!(out.stdout.contains("pushed"), "{}", out.stdout);
    assert_eq!(revision(server.port).as_deref(), Some(main.as_str()));
}

#[test]
fn dry_run_changes_nothing() {
    let Some(opa) = opa() else { return };
    let (_repo, dir, sha) = staged_repo();
    let server = OpaServer::start(&opa, &[]);
    configure(&dir, &[url(server.port)], "");
    let before = policies(server.port);
    let out = permit(&dir, &["push", "staging", "--dry-run"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("planned"), "{}", out.stdout);
    assert!(out.stderr.contains(&sha[..12]), "{}", out.stderr);
    assert_eq!(policies(server.port), before);
    assert_eq!(revision(server.port), None);
}

/// A proxy in front of an OPA: demands `Authorization: Bearer <token>` and answers 500 to data
/// writes under `/v1/data/permit` whose body contains `fail_on` (the new revision): the push
/// fails after it changed the modules. Stops with the test.
fn start_proxy(
    upstream: u16,
    token: &'static str,
    fail_on: std::sync::Arc<std::sync::Mutex<String>>,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let fail_on = fail_on.clone();
            std::thread::spawn(move || proxy_one(stream, upstream, token, &fail_on));
        }
    });
    port
}

fn proxy_one(
    mut client: TcpStream,
    upstream: u16,
    token: &str,
    fail_on: &std::sync::Mutex<String>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        let n = match client.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = &buf[head_end..];
    let authorized = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {token}")));
    let respond = |client: &mut TcpStream, status: &str, text: &str| {
        let _ = write!(
            client,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    };
    if !authorized {
        return respond(
            &mut client,
            "401 Unauthorized",
            "{\"code\":\"unauthorized\"}",
        );
    }
    let fail = fail_on.lock().unwrap().clone();
    let data_write =
        head.starts_with("PUT /v1/data/permit") || head.starts_with("PATCH /v1/data/permit");
    if data_write && !fail.is_empty() && String::from_utf8_lossy(body).contains(&fail) {
        return respond(
            &mut client,
            "500 Internal Server Error",
            "{\"code\":\"internal_error\"}",
        );
    }
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return respond(&mut client, "502 Bad Gateway", "{}");
    };
    // one request per connection: tell both sides to close
    let head: String = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:") && !l.is_empty())
        .map(|l| format!("{l}\r\n"))
        .collect();
    let _ = up.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes());
    let _ = up.write_all(body);
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    let _ = client.write_all(&answer);
}

const TOKEN: &str = "tok-Zq81-very-secret-value";

#[test]
fn a_pdp_failing_mid_push_is_restored_and_others_still_get_pushed() {
    let Some(opa) = opa() else { return };
    let (repo, dir, sha) = staged_repo();
    let behind_proxy = OpaServer::start(&opa, &[]);
    let healthy = OpaServer::start(&opa, &[]);
    let fail_on = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let proxy = start_proxy(behind_proxy.port, TOKEN, fail_on.clone());
    let down = free_port();
    configure(
        &dir,
        &[
            format!("{{url: \"http://127.0.0.1:{proxy}\", token_env: STAGING_OPA_TOKEN}}"),
            url(healthy.port),
        ],
        "",
    );
    let env = [("STAGING_OPA_TOKEN", TOKEN)];

    // without the token the proxy refuses, and says so without the token's value
    let out = permit(
        &dir,
        &["push", "staging"],
        &[("STAGING_OPA_TOKEN", "wrong-token-value")],
    );
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    assert!(!out.stderr.contains("wrong-token-value"));

    let first = permit(&dir, &["push", "staging"], &env);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(revision(behind_proxy.port).as_deref(), Some(sha.as_str()));
    let policies_before = policies(behind_proxy.port);
    let (_, model_before) = http(behind_proxy.port, "GET", "/v1/data/permit/model", None).unwrap();

    // the next revision fails at the last write: everything goes back to `sha`
    let sha2 = commit_change(&repo, "drop-custom");
    *fail_on.lock().unwrap() = sha2.clone();
    let out = permit(&dir, &["push", "staging"], &env);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("rolled back"), "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!("http://127.0.0.1:{proxy}"))
            && out.stderr.contains("restored"),
        "{}",
        out.stderr
    );
    assert_eq!(revision(behind_proxy.port).as_deref(), Some(sha.as_str()));
    assert_eq!(policies(behind_proxy.port), policies_before);
    let (_, model_after) = http(behind_proxy.port, "GET", "/v1/data/permit/model", None).unwrap();
    assert_eq!(model_after, model_before);
    // the healthy PDP got the new revision
    assert_eq!(revision(healthy.port).as_deref(), Some(sha2.as_str()));

    // a PDP that is down: exit 3, named, the others pushed
    *fail_on.lock().unwrap() = String::new();
    configure(
        &dir,
        &[
            format!("{{url: \"http://127.0.0.1:{proxy}\", token_env: STAGING_OPA_TOKEN}}"),
            format!("{{url: \"http://127.0.0.1:{down}\"}}"),
        ],
        "",
    );
    let out2 = permit(&dir, &["push", "staging"], &env);
    assert_eq!(out2.code, 3, "{}", out2.stderr);
    assert!(
        out2.stderr.contains(&format!("http://127.0.0.1:{down}")),
        "{}",
        out2.stderr
    );
    assert_eq!(revision(behind_proxy.port).as_deref(), Some(sha2.as_str()));
    let status = permit(&dir, &["pdp", "status", "staging"], &env);
    assert_eq!(status.code, 3);

    let dry = permit(
        &dir,
        &["push", "staging", "--dry-run", "--format", "json"],
        &env,
    );
    for o in [&first, &out, &out2, &status, &dry] {
        assert!(
            !o.stdout.contains(TOKEN) && !o.stderr.contains(TOKEN),
            "token leaked"
        );
    }
}

#[test]
fn a_bundle_owned_opa_refuses_with_a_clear_message() {
    let Some(opa) = opa() else { return };
    let (repo, dir, _) = staged_repo();
    let file = beside(&repo, "b.tar.gz");
    let out = permit(&dir, &["build", "--bundle", file.to_str().unwrap()], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let server = OpaServer::start(&opa, &[Path::new("--bundle"), &file]);
    let rev = revision(server.port);
    configure(&dir, &[url(server.port)], "");
    let out = permit(&dir, &["push", "staging"], &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("owns `permit`"), "{}", out.stderr);
    assert!(out.stdout.contains("failed"), "{}", out.stdout);
    assert_eq!(revision(server.port), rev);
}

#[test]
fn config_errors_exit_2() {
    let (_repo, dir, _) = staged_repo();
    configure(&dir, &[url(free_port())], "");
    let out = permit(&dir, &["push", "stagin"], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("did you mean `staging`"),
        "{}",
        out.stderr
    );
    let out = permit(&dir, &["push", "dev"], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("has no PDPs"), "{}", out.stderr);
    configure(
        &dir,
        &[url(free_port())],
        ", signing_key_env: PERMIT_TEST_NO_SUCH_KEY",
    );
    let out = permit(&dir, &["push", "staging"], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("PERMIT_TEST_NO_SUCH_KEY"),
        "{}",
        out.stderr
    );
    configure(
        &dir,
        &["{url: \"http://127.0.0.1:1\", token_env: PERMIT_TEST_NO_TOKEN}".into()],
        "",
    );
    let out = permit(&dir, &["push", "staging"], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("PERMIT_TEST_NO_TOKEN"),
        "{}",
        out.stderr
    );
    configure(&dir, &["{url: \"ftp://example.com\"}".into()], "");
    let out = permit(&dir, &["push", "staging"], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unsupported scheme"), "{}", out.stderr);
    configure(
        &dir,
        &[url(free_port())],
        ", signing_key_env: K, signing_alg: ES256",
    );
    let out = permit(&dir, &["push", "staging"], &[("K", "x")]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("ES256"), "{}", out.stderr);
}

#[test]
fn an_invalid_model_on_the_branch_exits_1_and_pushes_nothing() {
    let (repo, dir, _) = staged_repo();
    repo.git(&["checkout", "-q", "env/staging"]);
    std::fs::write(
        dir.join("policy/broken.yaml"),
        "resources: {doc: {actions: [read], roles: {r: {permissions: [nope]}}}}\n",
    )
    .unwrap();
    repo.git(&["add", "policy"]);
    repo.git(&["commit", "-qm", "broken"]);
    repo.git(&["checkout", "-q", "main"]);
    let port = free_port();
    configure(&dir, &[url(port)], "");
    let out = permit(&dir, &["push", "staging"], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
}

#[test]
fn push_to_a_folder_writes_content_named_and_current_bundles() {
    let (repo, dir, sha) = staged_repo();
    let target = beside(&repo, "served");
    configure(
        &dir,
        &[format!("{{url: \"file://{}\"}}", target.display())],
        "",
    );
    let out = permit(&dir, &["push", "staging"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let current = std::fs::read(target.join("bundle.tar.gz")).unwrap();
    let names: Vec<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names
        .iter()
        .any(|n| n.starts_with("bundle-") && n.ends_with(".tar.gz")));
    assert_eq!(
        permit::bundle::revision_of(&current).as_deref(),
        Some(sha.as_str())
    );
}

/// The `staging` PDP entry for the OCI registry at `port`.
fn oci_pdp(port: u16) -> String {
    format!("{{url: \"oci://127.0.0.1:{port}/policies/staging\"}}")
}

/// An OPA config pulling the `staging` tag from the registry at `port`; `extra` continues the
/// `permit` bundle's settings.
fn pull_config(port: u16, extra: &str) -> String {
    format!(
        "services:\n  reg:\n    url: http://127.0.0.1:{port}\n    type: oci\nbundles:\n  permit:\n    service: reg\n    resource: 127.0.0.1:{port}/policies/staging:staging\n    polling: {{min_delay_seconds: 1, max_delay_seconds: 2}}\n{extra}"
    )
}

/// Waits until the OPA at `port` answers `want` as its revision.
fn wait_for_revision(port: u16, want: &str, secs: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if revision(port).as_deref() == Some(want) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

#[test]
fn opa_pulls_what_push_puts_in_an_oci_registry() {
    let Some(opa) = opa() else { return };
    let Some(registry) = support::docker_registry().map(|b| support::Registry::start(&b)) else {
        return;
    };
    let (repo, dir, sha) = staged_repo();
    configure(&dir, &[oci_pdp(registry.port)], "");
    let out = permit(&dir, &["push", "staging"], &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("pushed"), "{}", out.stdout);

    let cfg = beside(&repo, "opa.yaml");
    std::fs::write(&cfg, pull_config(registry.port, "")).unwrap();
    let server = OpaServer::start(&opa, &[Path::new("--config-file"), &cfg]);
    assert!(
        wait_for_revision(server.port, &sha, 20),
        "OPA never activated {sha}"
    );
    assert_decides_like_eval(&dir, &server);

    let sha2 = commit_change(&repo, "narrow-alice");
    let out = permit(&dir, &["push", "staging", "--format", "json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["pdps"][0]["before"], sha);
    assert_eq!(report["pdps"][0]["after"], sha2);
    assert!(
        wait_for_revision(server.port, &sha2, 20),
        "OPA never activated {sha2}"
    );
    let alice = server.decide(&json!({"user": {"key": "alice"}, "action": "update", "resource": {"type": "document", "key": "launch", "tenant": "acme"}}));
    assert_eq!(alice["allow"], false, "{alice}");

    let out = permit(&dir, &["pdp", "status", "staging", "--format", "json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let status: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(status["pdps"][0]["revision"], sha2);
    // the revision tag is there too
    let (s, _) = http(
        registry.port,
        "GET",
        &format!("/v2/policies/staging/manifests/{sha2}"),
        None,
    )
    .unwrap();
    assert!(s == 200, "no revision tag: {s}");
}

#[test]
fn an_opa_that_rejects_a_module_is_put_back_as_it_was() {
    let Some(opa) = opa() else { return };
    let (_repo, dir, _) = staged_repo();
    let server = OpaServer::start(&opa, &[]);
    // a foreign module that clashes with the generated `permit.abac`: OPA accepts the modules
    // before it, then refuses `permit/permit/abac.rego`
    let (s, body) = server
        .request(
            "PUT",
            "/v1/policies/clash",
            Some("package permit.abac\n\nany_user_set(x) := x\n"),
        )
        .unwrap();
    assert_eq!(s, 200, "{body}");
    let before = policies(server.port);
    configure(&dir, &[url(server.port)], "");
    let out = permit(&dir, &["push", "staging"], &[]);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("rolled back"), "{}", out.stdout);
    assert!(
        out.stderr.contains("permit/permit/abac.rego"),
        "{}",
        out.stderr
    );
    assert_eq!(policies(server.port), before);
    assert_eq!(revision(server.port), None);
}

#[test]
fn opa_pulls_a_signed_bundle_from_the_registry_with_the_documented_config() {
    let Some(opa) = opa() else { return };
    let Some(registry) = support::docker_registry().map(|b| support::Registry::start(&b)) else {
        return;
    };
    let (repo, dir, sha) = staged_repo();
    configure(
        &dir,
        &[oci_pdp(registry.port)],
        ", signing_key_env: BUNDLE_SIGNING_KEY, signing_alg: HS256",
    );
    let secret = "pull-secret-Qw3";
    let out = permit(
        &dir,
        &["push", "staging"],
        &[("BUNDLE_SIGNING_KEY", secret)],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains(secret) && !out.stdout.contains(secret));
    // docs/delivery.md's fleet config: keys + bundles.X.signing.keyid
    let cfg = |key: &str| {
        pull_config(
            registry.port,
            &format!(
                "    signing: {{keyid: permit}}\nkeys:\n  permit: {{algorithm: HS256, key: {key}}}\n"
            ),
        )
    };
    let good = beside(&repo, "good.yaml");
    std::fs::write(&good, cfg(secret)).unwrap();
    let server = OpaServer::start(&opa, &[Path::new("--config-file"), &good]);
    assert!(
        wait_for_revision(server.port, &sha, 20),
        "OPA never activated the signed bundle"
    );
    drop(server);
    // the wrong key: OPA refuses it and never serves the revision
    let bad = beside(&repo, "bad.yaml");
    std::fs::write(&bad, cfg("another-secret")).unwrap();
    let server = OpaServer::start(&opa, &[Path::new("--config-file"), &bad]);
    assert!(
        !wait_for_revision(server.port, &sha, 4),
        "OPA activated a bundle signed with another key"
    );
}

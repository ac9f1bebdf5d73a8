//! `permit bench` through the real binary: in-process figures, baselines that gate, broken
//! query files, and a real OPA server as the PDP.

mod support;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use std::path::Path;

fn bench(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cargo_bin_cmd!("permit")
        .arg("-C")
        .arg(dir)
        .arg("bench")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

#[test]
fn in_process_figures_per_class() {
    let tmp = support::init_demo();
    let (code, stdout, stderr) = bench(
        &tmp.path().join("demo"),
        &["--duration", "0.3", "--warmup", "0", "--format", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    for key in ["p50_ns", "p90_ns", "p99_ns", "throughput_per_s"] {
        assert!(
            v[key].is_number(),
            "SPEC section 7 names `{key}` in --format json: {v}"
        );
    }
    // the bytecode VM is used because it agrees with the interpreter on the example's queries
    assert_eq!(v["target"], "in-process (bytecode VM)");
    for class in ["all", "rbac", "rebac", "abac", "deny"] {
        let f = &v["classes"][class];
        assert!(f["count"].as_u64().unwrap() > 0, "{class}: {f}");
        let (p50, p90, p99) = (
            f["p50_ns"].as_u64().unwrap(),
            f["p90_ns"].as_u64().unwrap(),
            f["p99_ns"].as_u64().unwrap(),
        );
        assert!(p50 > 0 && p50 <= p90 && p90 <= p99, "{class}: {f}");
        assert!(f["throughput_per_s"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn a_baseline_gates_on_regressions() {
    let tmp = support::init_demo();
    let dir = tmp.path().join("demo");
    let saved = tmp.path().join("base.json");
    let (code, _, stderr) = bench(
        &dir,
        &[
            "--duration",
            "0.3",
            "--warmup",
            "0",
            "--save-baseline",
            saved.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    // a baseline ten times faster than this machine can be: a deliberate slowdown
    let mut b: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    for (_, f) in b["classes"].as_object_mut().unwrap() {
        for k in ["p50_ns", "p90_ns", "p99_ns"] {
            f[k] = Value::from(f[k].as_u64().unwrap() / 10 + 1);
        }
    }
    let fast = tmp.path().join("fast.json");
    std::fs::write(&fast, b.to_string()).unwrap();
    let (code, _, stderr) = bench(
        &dir,
        &[
            "--duration",
            "0.3",
            "--warmup",
            "0",
            "--baseline",
            fast.to_str().unwrap(),
            "--max-regression",
            "10%",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("p50 regressed"), "{stderr}");
    // a generous bound passes
    let (code, _, stderr) = bench(
        &dir,
        &[
            "--duration",
            "0.3",
            "--warmup",
            "0",
            "--baseline",
            fast.to_str().unwrap(),
            "--max-regression",
            "100000%",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = bench(
        &dir,
        &[
            "--baseline",
            tmp.path().join("missing.json").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 3, "{stderr}");
}

#[test]
fn a_broken_query_line_is_reported_and_skipped() {
    let tmp = support::init_demo();
    let q = tmp.path().join("q.jsonl");
    std::fs::write(&q, "{\"user\": {\"key\": \"alice\"}, \"action\": \"read\", \"resource\": {\"type\": \"document\"}}\n{broken\n\n[1]\n").unwrap();
    let (code, stdout, stderr) = bench(
        &tmp.path().join("demo"),
        &[
            "--queries",
            q.to_str().unwrap(),
            "--duration",
            "0.2",
            "--warmup",
            "0",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("q.jsonl:2: warning: skipped a query"),
        "{stderr}"
    );
    assert!(
        stderr.contains("q.jsonl:4: warning: skipped a query: not a JSON object"),
        "{stderr}"
    );
    assert!(stderr.contains("2 of 3 queries skipped"), "{stderr}");
    assert!(stdout.contains("1 distinct queries"), "{stdout}");
}

#[test]
fn an_unreachable_pdp_exits_3_without_hanging() {
    let tmp = support::init_demo();
    let port = support::free_port();
    let started = std::time::Instant::now();
    let (code, _, stderr) = bench(
        &tmp.path().join("demo"),
        &[
            "--pdp",
            &format!("http://127.0.0.1:{port}"),
            "--duration",
            "1",
        ],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("the PDP is unusable"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn remote_against_a_real_opa_server() {
    let Some(opa) = support::opa() else { return };
    let tmp = support::init_demo();
    let dir = tmp.path().join("demo");
    assert!(cargo_bin_cmd!("permit")
        .arg("-C")
        .arg(&dir)
        .args(["build", "-q", "--out", "build"])
        .output()
        .unwrap()
        .status
        .success());
    let server = support::OpaServer::start(&opa, &[&dir.join("build")]);
    let url = format!("http://127.0.0.1:{}", server.port);
    let (code, stdout, stderr) = bench(
        &dir,
        &[
            "--pdp",
            &url,
            "--concurrency",
            "4",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["target"], url.as_str());
    assert_eq!(v["errors"], 0);
    assert!(v["classes"]["all"]["count"].as_u64().unwrap() > 50, "{v}");
    // the PDP goes away mid-run: failures are counted, the run still ends, exit 3
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(700));
        drop(server);
    });
    let started = std::time::Instant::now();
    let (code, _, stderr) = bench(
        &dir,
        &[
            "--pdp",
            &url,
            "--duration",
            "1.5",
            "--warmup",
            "0",
            "--timeout",
            "1",
        ],
    );
    killer.join().unwrap();
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("the PDP failed"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// The acceptance case, literally: save a baseline, make the policy slower (a custom rule that
/// burns time on every decision), and the comparison fails.
#[test]
fn a_deliberate_slowdown_in_the_policy_fails_the_baseline() {
    let tmp = support::init_demo();
    let dir = tmp.path().join("demo");
    let saved = tmp.path().join("base.json");
    let (code, _, stderr) = bench(
        &dir,
        &[
            "--duration",
            "0.5",
            "--warmup",
            "0.1",
            "--save-baseline",
            saved.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(
        dir.join("custom/slow.rego"),
        "package permit.custom\n\ndeny if count([x | some x in numbers.range(1, 20000); x < 0]) > 0\n",
    )
    .unwrap();
    let (code, _, stderr) = bench(
        &dir,
        &[
            "--duration",
            "0.5",
            "--warmup",
            "0.1",
            "--baseline",
            saved.to_str().unwrap(),
            "--max-regression",
            "50%",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("p50 regressed"), "{stderr}");
}

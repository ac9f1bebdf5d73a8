//! Fuzzing on stable Rust: seeded, structure-aware mutation of a committed corpus, run against
//! the four parsers users feed files to — the model loader (load, validate, then compile, load
//! the Rego into the engine and decide), the condition parser, the decision-test parser and
//! `permit.yaml`.
//!
//! Every input must end in diagnostics or a value. A panic, a case over its time budget or a case
//! over its memory budget fails the run with the seed, and the input is saved under
//! `fuzz/regressions/<target>/`, which every run replays first (with the corpus itself).
//! If the process dies outright (stack overflow, the allocation cap), the last input of each
//! target is in `target/tmp/fuzz-<target>.current`.
//!
//! `PERMIT_FUZZ_CASES` (mutated cases per target, default 2000; 300 in debug builds) and
//! `PERMIT_FUZZ_SEED` (default fixed, so CI is reproducible): see docs/robustness.md.

mod support;

use permit::config;
use permit::diagnostics::{Diagnostic, Diagnostics, Renderer};
use permit::engine::Engine;
use permit::model::condition::{self, Subject};
use permit::model::read::Reader;
use permit::model::{ConditionSetRule, Model, Name, ResourceSet, UserSet};
use permit::source::{FileId, SourceMap, Span};
use serde_json::{json, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::random::Rng;

// ---------------------------------------------------------------------------------------------
// Memory: every allocation of this test binary is counted, so each case's peak can be checked.

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Beyond this the process refuses to allocate (and aborts, naming the cap): no case may come
/// near it, and the machine must not be taken down by a runaway case.
const HARD_CAP: usize = 6 << 30;
/// The most one case may allocate above what was live when it started.
const CASE_MEMORY: usize = 512 << 20;

fn reserve(n: usize) -> bool {
    let now = CURRENT.fetch_add(n, Relaxed) + n;
    if now > HARD_CAP {
        CURRENT.fetch_sub(n, Relaxed);
        use std::io::Write;
        let _ = std::io::stderr().write_all(
            b"\nfuzz: a case allocated past the 6 GiB cap; its input is in target/tmp/fuzz-<target>.current\n",
        );
        return false;
    }
    PEAK.fetch_max(now, Relaxed);
    true
}

/// Counts `n` more bytes around `f`, an allocation that may fail (then they are given back).
fn counted(n: usize, f: impl FnOnce() -> *mut u8) -> *mut u8 {
    if !reserve(n) {
        return std::ptr::null_mut();
    }
    let p = f();
    if p.is_null() {
        CURRENT.fetch_sub(n, Relaxed);
    }
    p
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        counted(l.size(), || System.alloc(l))
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        counted(l.size(), || System.alloc_zeroed(l))
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        CURRENT.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            return counted(new - l.size(), || System.realloc(p, l, new));
        }
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            CURRENT.fetch_sub(l.size() - new, Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Cases of all targets run one at a time, so a case's peak memory is its own.
static CASE_LOCK: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------------------------------------
// Targets

/// Turns one input into a signature, or says which invariant it broke.
type Checker = Box<dyn FnMut(&[u8]) -> Result<String, String>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Model,
    Condition,
    TestFile,
    Config,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Model => "model",
            Target::Condition => "condition",
            Target::TestFile => "test_file",
            Target::Config => "config",
        }
    }

    /// A fresh checker: turns one input into a signature (the diagnostic codes it produced and
    /// how far it got) or a description of a broken invariant.
    fn checker(self) -> Checker {
        match self {
            Target::Model => Box::new(check_model),
            Target::Condition => {
                let base = ConditionBase::new();
                Box::new(move |b| base.check(b))
            }
            Target::TestFile => {
                let mut engine = example_engine();
                Box::new(move |b| check_test_file(&mut engine, b))
            }
            Target::Config => Box::new(check_config),
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folder fuzzed files claim to be in (nothing is read from or written to it).
const ROOT: &str = "/fuzz";

/// Adds a fuzzed file's text to `sources` as the file `name` of the project in [`ROOT`].
fn add_file(sources: &mut SourceMap, name: &str, text: &str) -> FileId {
    sources.add(name.into(), &Path::new(ROOT).join(name), text.into())
}

/// A fixed instant, so expiry-dependent diagnostics do not change from day to day.
const NOW_NS: i64 = 1_800_000_000_000_000_000;

/// Renders every diagnostic the ways commands do, and checks what users rely on: each error
/// in a file points at a line of that file.
fn render(diags: &Diagnostics, sources: &SourceMap, text_lines: usize) -> Result<(), String> {
    let human = Renderer::new(false);
    for d in &diags.items {
        let out = human.render(d, sources);
        if out.trim().is_empty() {
            return Err(format!("diagnostic `{}` renders as nothing", d.code));
        }
        let _ = permit::diagnostics::plain(d, sources);
        let _ = permit::diagnostics::github_annotation(d, sources);
        serde_json::to_string(&d.to_json(sources)).map_err(|e| e.to_string())?;
        if d.is_error() {
            let Some(span) = d.span else {
                return Err(format!("error `{}` ({}) points nowhere", d.code, d.message));
            };
            if span.line == 0 || span.line as usize > text_lines + 1 {
                return Err(format!(
                    "error `{}` ({}) points at line {} of a {text_lines}-line file",
                    d.code, d.message, span.line
                ));
            }
        }
    }
    Ok(())
}

fn signature(diags: &Diagnostics) -> String {
    let codes: BTreeSet<&str> = diags.items.iter().map(|d: &Diagnostic| d.code).collect();
    codes.into_iter().collect::<Vec<_>>().join(",")
}

fn lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count() + 1
}

/// load + validate (as `permit check` does), then compile, load the Rego and decide.
fn check_model(bytes: &[u8]) -> Result<String, String> {
    let (checked, project) =
        support::check_files(ROOT, [("policy/model.yaml".into(), bytes.to_vec())]);
    render(&checked.diags, &project.sources, lines(bytes))?;
    let sig = signature(&checked.diags);
    if checked.diags.has_errors() {
        return Ok(sig);
    }
    let queries = model_queries(&checked.model);
    decide_all(
        &checked.model,
        &project.sources,
        &queries,
        Target::Model,
        bytes,
    )?;
    Ok(format!("{sig}+compiled"))
}

/// Compiles a valid model, loads the Rego into regorus and decides `queries`: any failure is
/// permit's bug (the model was valid).
fn decide_all(
    model: &Model,
    sources: &SourceMap,
    queries: &[Value],
    target: Target,
    input: &[u8],
) -> Result<(), String> {
    let compiled = permit::compile::compile(model, sources, Vec::new())
        .map_err(|e| format!("a valid model does not compile: {e}"))?;
    sample(target, input, &compiled);
    let mut engine =
        Engine::new(&compiled).map_err(|e| format!("the generated Rego does not load: {e}"))?;
    engine.set_time_limit(Duration::from_secs(5));
    for q in queries {
        let d = engine
            .decide(q)
            .map_err(|e| format!("deciding {q} failed: {e}"))?;
        if d.reason.is_empty() {
            return Err(format!("no `debug.reason` for {q}: {}", d.document));
        }
    }
    Ok(())
}

/// Compiled outputs kept for real OPA: `opa check --strict` on each at the end of a run (one
/// process per case would cost more than the case). Distinct Rego only, a few dozen per run.
static SAMPLES: Mutex<Vec<Sample>> = Mutex::new(Vec::new());

/// A kept build: its target, a hash of its Rego, the input it came from, the build.
type Sample = (Target, u64, Vec<u8>, permit::compile::Compiled);
const MAX_SAMPLES: usize = 24;

fn sample(target: Target, input: &[u8], compiled: &permit::compile::Compiled) {
    let mut samples = SAMPLES.lock().unwrap_or_else(|e| e.into_inner());
    if samples.iter().filter(|s| s.0 == target).count() >= MAX_SAMPLES {
        return;
    }
    let key = compiled
        .modules
        .iter()
        .fold(FNV_OFFSET, |h, m| fnv_from(h, m.text.as_bytes()));
    if !samples.iter().any(|s| s.0 == target && s.1 == key) {
        samples.push((target, key, input.to_vec(), compiled.clone()));
    }
}

/// Real OPA must accept, in strict mode, the Rego of every sampled valid input.
fn opa_checks(worker: &Worker) -> usize {
    let mine: Vec<(Vec<u8>, permit::compile::Compiled)> = {
        let mut samples = SAMPLES.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, rest) = samples.drain(..).partition(|s| s.0 == worker.target);
        *samples = rest;
        mine.into_iter().map(|s| (s.2, s.3)).collect()
    };
    if mine.is_empty() {
        return 0;
    }
    let Some(opa) = support::opa() else { return 0 };
    let tmp = tempfile::tempdir().unwrap();
    for (i, (input, compiled)) in mine.iter().enumerate() {
        let out = tmp.path().join(format!("b{i}"));
        permit::cmd::build::write_output(&out, compiled).unwrap();
        if let Err(stderr) = support::opa_check_strict(&opa, &out) {
            worker.fail(
                input,
                "sample (its Rego, on real OPA)",
                Failure::Invariant(format!(
                    "`opa check --strict` refuses the generated Rego: {stderr}"
                )),
            );
        }
    }
    mine.len()
}

/// A handful of queries naming what the model holds, and some it does not.
fn model_queries(m: &Model) -> Vec<Value> {
    let mut users: Vec<&str> = m.users.keys().take(3).map(|k| k.as_str()).collect();
    users.push("nobody");
    let mut resources: Vec<String> = m
        .resource_instances
        .keys()
        .take(3)
        .map(|k| k.to_string())
        .collect();
    resources.extend(m.resources.keys().take(2).map(|k| k.to_string()));
    resources.push("nosuchtype:x".into());
    let tenants: Vec<Option<&str>> = std::iter::once(None)
        .chain(m.tenants.keys().take(1).map(|t| Some(t.as_str())))
        .collect();
    let mut out = Vec::new();
    for u in &users {
        for r in &resources {
            let ty = r.split(':').next().unwrap_or("");
            let mut actions: Vec<&str> = m
                .resources
                .get(ty)
                .map(|res| res.actions.keys().take(2).map(|k| k.as_str()).collect())
                .unwrap_or_default();
            actions.push("nosuchaction");
            for a in actions {
                for t in &tenants {
                    out.push(permit::query::build(u, a, r, *t));
                }
            }
        }
    }
    out.truncate(64);
    out
}

/// The init example as a model, into which each fuzzed condition is put as a set.
struct ConditionBase {
    model: Model,
    sources: SourceMap,
}

impl ConditionBase {
    fn new() -> Self {
        let text = r#"
resources:
  document:
    actions: [read, update]
    attributes: {classification: string, owner: string, pages: number, tags: array, meta: object}
user_attributes: {department: string, clearance: number, location: string, tags: array, active: bool}
user_sets:
  everyone: {conditions: {user.key: {not-equals: ""}}}
resource_sets:
  all_docs: {resource: document, conditions: {resource.pages: {greater-than-equals: 0}}}
tenants:
  acme: {attributes: {plan: enterprise, min_clearance: 2}}
users:
  alice: {attributes: {department: engineering, clearance: 4, tags: [a, b]}}
resource_instances:
  "document:d1": {tenant: acme, attributes: {classification: public, owner: alice, pages: 3, tags: [a]}}
"#;
        let (checked, project) = support::check_files(
            ROOT,
            [("policy/base.yaml".into(), text.as_bytes().to_vec())],
        );
        assert!(
            !checked.diags.has_errors(),
            "the condition base model is invalid: {:?}",
            checked.diags
        );
        ConditionBase {
            model: checked.model,
            sources: project.sources,
        }
    }

    fn check(&self, bytes: &[u8]) -> Result<String, String> {
        let text = String::from_utf8_lossy(bytes);
        let mut sources = self.sources.clone();
        let id = add_file(&mut sources, "policy/condition.yaml", &text);
        let mut diags = Diagnostics::default();
        let cond = match permit::yaml::parse(&text, id) {
            Ok(node) => condition::read(&mut Reader::new(&mut diags), &node, 0),
            Err(d) => {
                diags.push(d);
                None
            }
        };
        render(&diags, &sources, lines(bytes))?;
        let sig = signature(&diags);
        let Some(cond) = cond else {
            if !diags.has_errors() {
                return Err("a condition was refused without an error".into());
            }
            return Ok(sig);
        };
        if diags.has_errors() {
            return Err("a condition was read despite errors".into());
        }
        let span = Span::new(id, 1, 0, 1);
        let name = |s: &str| Name {
            text: s.into(),
            span,
        };
        let mut model = self.model.clone();
        let on_resource = cond.leaves().iter().any(|l| l.subject == Subject::Resource);
        let (user_set, resource_set) = if on_resource {
            model.resource_sets.insert(
                "fuzzed".into(),
                ResourceSet {
                    key: name("fuzzed"),
                    name: None,
                    resource: Some(name("document")),
                    conditions: cond,
                },
            );
            ("everyone", "fuzzed")
        } else {
            model.user_sets.insert(
                "fuzzed".into(),
                UserSet {
                    key: name("fuzzed"),
                    name: None,
                    conditions: cond,
                },
            );
            ("fuzzed", "all_docs")
        };
        model.condition_set_rules.push(ConditionSetRule {
            span,
            user_set: name(user_set),
            permission: name("document:read"),
            resource_set: name(resource_set),
        });
        let diags = permit::model::validate::validate(&model, NOW_NS);
        render(&diags, &sources, lines(bytes))?;
        let sig = format!("{sig}|{}", signature(&diags));
        if diags.has_errors() {
            return Ok(sig);
        }
        decide_all(
            &model,
            &sources,
            &condition_queries(),
            Target::Condition,
            bytes,
        )?;
        Ok(format!("{sig}+compiled"))
    }
}

/// Queries whose attributes hit every type a condition may compare against.
fn condition_queries() -> Vec<Value> {
    let attrs = [
        json!({}),
        json!({"department": "engineering", "clearance": 3, "tags": ["a", "z"], "location": "berlin"}),
        json!({"department": 7, "clearance": "3", "tags": "a", "location": null}),
        json!({"department": ["x"], "clearance": 1.5e300, "tags": [[1], {"a": 1}], "active": true}),
    ];
    let mut out = Vec::new();
    for (i, a) in attrs.iter().enumerate() {
        out.push(json!({
            "user": {"key": if i == 0 { "alice" } else { "stranger" }, "attributes": a},
            "action": "read",
            "resource": {"type": "document", "key": "d1", "attributes": a},
            "context": a,
        }));
        out.push(json!({
            "user": {"key": "alice", "attributes": a},
            "action": "read",
            "resource": {"type": "document", "key": "other", "tenant": "acme", "attributes": a},
        }));
    }
    out
}

/// The `permit init` example, compiled and loaded once: fuzzed test files are decided on it.
fn example_engine() -> Engine {
    let policy = permit::cmd::init::scaffold()
        .into_iter()
        .filter(|(rel, _)| rel.starts_with("policy/"))
        .map(|(rel, text)| (rel.to_string(), text.into_bytes()));
    let (checked, project) = support::check_files(ROOT, policy);
    assert!(!checked.diags.has_errors(), "the init example is invalid");
    let compiled = permit::compile::compile(&checked.model, &project.sources, Vec::new()).unwrap();
    let mut engine = Engine::new(&compiled).unwrap();
    engine.set_time_limit(Duration::from_secs(5));
    engine
}

/// A test file's cases must read, and each query they make must decide (malformed queries are
/// denied, never an error: SPEC section 3).
fn check_test_file(engine: &mut Engine, bytes: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut sources = SourceMap::default();
    let id = add_file(&mut sources, "tests/fuzzed.yaml", &text);
    let mut diags = Diagnostics::default();
    let cases = permit::testing::file::read(&text, id, &mut diags);
    render(&diags, &sources, lines(bytes))?;
    for c in cases.iter().take(32) {
        let d = engine
            .decide(&c.input)
            .map_err(|e| format!("deciding test `{}` ({}) failed: {e}", c.name, c.input))?;
        if d.reason.is_empty() {
            return Err(format!("no `debug.reason` for {}", c.input));
        }
    }
    Ok(format!(
        "{}{}",
        signature(&diags),
        if cases.is_empty() { "" } else { "+cases" }
    ))
}

fn check_config(bytes: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut sources = SourceMap::default();
    let id = add_file(&mut sources, config::FILE_NAME, &text);
    match config::parse(&text, id) {
        Ok(_) => Ok("ok".into()),
        Err(diags) => {
            if !diags.has_errors() {
                return Err("permit.yaml was refused without an error".into());
            }
            render(&diags, &sources, lines(bytes))?;
            Ok(signature(&diags))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running cases: in a worker thread, under catch_unwind, with a time and a memory budget.

/// What went wrong with one input.
enum Failure {
    Panic(String),
    Invariant(String),
    Timeout(Duration),
    Memory(usize),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panic(m) => write!(f, "panicked: {m}"),
            Failure::Invariant(m) => write!(f, "broke an invariant: {m}"),
            Failure::Timeout(t) => write!(f, "ran past its {t:?} budget (a hang)"),
            Failure::Memory(n) => write!(
                f,
                "allocated {} MiB (budget {} MiB)",
                n >> 20,
                CASE_MEMORY >> 20
            ),
        }
    }
}

type Reply = Result<Result<String, String>, String>;

struct Worker {
    target: Target,
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Reply>,
    current: PathBuf,
}

fn time_budget() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_secs(30)
    } else {
        Duration::from_secs(2)
    }
}

impl Worker {
    fn new(target: Target) -> Worker {
        let (tx, inputs) = mpsc::channel::<Vec<u8>>();
        let (replies, rx) = mpsc::channel::<Reply>();
        std::thread::Builder::new()
            .name(format!("fuzz-{}", target.name()))
            // the smallest stack permit's own code runs on (parse_parallel's scoped threads)
            .stack_size(2 << 20)
            .spawn(move || {
                let mut check = target.checker();
                for input in inputs {
                    let r =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input)))
                            .map_err(|p| {
                                p.downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                    .unwrap_or_else(|| "a non-string panic".into())
                            });
                    if replies.send(r).is_err() {
                        break;
                    }
                }
            })
            .unwrap();
        let current = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("fuzz-{}.current", target.name()));
        Worker {
            target,
            tx,
            rx,
            current,
        }
    }

    /// Runs one input; `Ok(signature)` or what went wrong.
    fn run(&self, input: &[u8]) -> Result<String, Failure> {
        let _ = std::fs::write(&self.current, input);
        let _lock = CASE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let base = CURRENT.load(Relaxed);
        PEAK.store(base, Relaxed);
        let start = Instant::now();
        self.tx.send(input.to_vec()).unwrap();
        let reply = match self.rx.recv_timeout(time_budget()) {
            Ok(r) => r,
            Err(_) => return Err(Failure::Timeout(start.elapsed())),
        };
        let used = PEAK.load(Relaxed).saturating_sub(base);
        match reply {
            Err(p) => Err(Failure::Panic(p)),
            Ok(Err(m)) => Err(Failure::Invariant(m)),
            Ok(Ok(_)) if used > CASE_MEMORY => Err(Failure::Memory(used)),
            Ok(Ok(sig)) => Ok(sig),
        }
    }

    /// Saves a failing input where every later run replays it, and fails the test.
    fn fail(&self, input: &[u8], what: &str, failure: Failure) -> ! {
        let dir = root().join("fuzz/regressions").join(self.target.name());
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("crash-{:016x}.yaml", fnv(input)));
        let _ = std::fs::write(&file, input);
        if let Failure::Timeout(_) = failure {
            // The hung thread cannot be stopped, and may go on allocating: end the run now
            // rather than let it take the machine (or the other targets' budgets) with it.
            eprintln!(
                "fuzz {} {what} {failure}\n  input saved as {} (replayed by every run)",
                self.target.name(),
                file.display()
            );
            std::process::exit(101);
        }
        panic!(
            "fuzz {} {what} {failure}\n  input saved as {} (replayed by every run)\n  input: {:?}",
            self.target.name(),
            file.display(),
            String::from_utf8_lossy(&input[..input.len().min(2000)])
        );
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(bytes: &[u8]) -> u64 {
    fnv_from(FNV_OFFSET, bytes)
}

/// FNV-1a of what was hashed into `h`, then `bytes`.
fn fnv_from(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Replays the regressions and the corpus, then runs the mutated cases.
fn fuzz(target: Target) {
    let worker = Worker::new(target);
    let name = target.name();
    let regressions = files_in(&root().join("fuzz/regressions").join(name));
    for (file, input) in &regressions {
        if let Err(f) = worker.run(input) {
            worker.fail(input, &format!("regression `{file}`"), f);
        }
    }
    let corpus = files_in(&root().join("fuzz/corpus").join(name));
    assert!(
        !corpus.is_empty(),
        "no corpus in fuzz/corpus/{name}: the fuzzer needs seeds"
    );
    let accepted = |sig: &str| sig.contains("+compiled") || sig.ends_with("+cases") || sig == "ok";
    let mut pool: Vec<Vec<u8>> = Vec::new();
    // Parents that were accepted: half the cases start from one, so mutations reach compile
    // and decide often, not only the parsers' error paths.
    let mut valid: Vec<usize> = Vec::new();
    let mut seen = BTreeSet::new();
    for (file, input) in &corpus {
        match worker.run(input) {
            Ok(sig) => {
                if accepted(&sig) {
                    valid.push(pool.len());
                }
                seen.insert(sig);
            }
            Err(f) => worker.fail(input, &format!("corpus file `{file}`"), f),
        }
        pool.push(input.clone());
    }
    // Debug builds run about twenty times slower: fewer cases, same coverage of the corpus.
    let cases = support::env_u64(
        "PERMIT_FUZZ_CASES",
        if cfg!(debug_assertions) { 300 } else { 2000 },
    );
    let seed = support::env_u64("PERMIT_FUZZ_SEED", 0x5EED_0009);
    let mut rng = Rng::new(seed ^ fnv(name.as_bytes()));
    let start = Instant::now();
    let mut compiled = 0u64;
    for i in 0..cases {
        let parent = if !valid.is_empty() && rng.chance(50) {
            *rng.pick(&valid)
        } else {
            rng.below(pool.len())
        };
        let input = mutate(&mut rng, &pool[parent], &pool, target);
        match worker.run(&input) {
            Ok(sig) => {
                let ok = accepted(&sig);
                if ok {
                    compiled += 1;
                }
                // Inputs that reach a new outcome become parents: cheap behavioural coverage.
                if pool.len() < 4000 && input.len() < 64 << 10 && seen.insert(sig) {
                    if ok {
                        valid.push(pool.len());
                    }
                    pool.push(input);
                }
            }
            Err(f) => worker.fail(&input, &format!("case {i} (PERMIT_FUZZ_SEED={seed})"), f),
        }
    }
    let checked = opa_checks(&worker);
    eprintln!(
        "fuzz {name}: {} regressions, {} corpus files, {cases} mutated cases ({compiled} accepted, {} distinct outcomes, {checked} builds checked by OPA) in {:.1?}",
        regressions.len(),
        corpus.len(),
        seen.len(),
        start.elapsed()
    );
}

#[test]
fn fuzz_model_loader() {
    fuzz(Target::Model);
}

#[test]
fn fuzz_condition_parser() {
    fuzz(Target::Condition);
}

#[test]
fn fuzz_test_file_parser() {
    fuzz(Target::TestFile);
}

#[test]
fn fuzz_permit_yaml() {
    fuzz(Target::Config);
}

/// The harness itself must catch what it is for: a panic, a hang, a memory blow-up.
#[test]
fn the_harness_catches_panics_hangs_and_memory() {
    let w = Worker::new(Target::Config);
    assert!(w.run(b"policy: policy\n").is_ok());
    // Drive the failure paths through inputs only a test checker understands.
    let (tx, inputs) = mpsc::channel::<Vec<u8>>();
    let (replies, rx) = mpsc::channel::<Reply>();
    std::thread::spawn(move || {
        for input in inputs {
            let r = std::panic::catch_unwind(|| match input.as_slice() {
                // resume_unwind unwinds like a panic without printing one
                b"panic" => std::panic::resume_unwind(Box::new("boom")),
                b"hang" => {
                    std::thread::sleep(time_budget() + Duration::from_secs(1));
                    Ok(String::new())
                }
                b"memory" => {
                    // reserved, not touched: counted at once, and quick even on a loaded machine
                    let v: Vec<u8> =
                        std::hint::black_box(Vec::with_capacity(CASE_MEMORY + (64 << 20)));
                    Ok(format!("{}", v.capacity()))
                }
                _ => Ok("fine".to_string()),
            })
            .map_err(|_| "panic".to_string());
            let _ = replies.send(r);
        }
    });
    let probe = Worker {
        target: Target::Config,
        tx,
        rx,
        current: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-probe.current"),
    };
    assert!(matches!(probe.run(b"fine"), Ok(s) if s == "fine"));
    assert!(matches!(probe.run(b"panic"), Err(Failure::Panic(_))));
    assert!(matches!(probe.run(b"memory"), Err(Failure::Memory(_))));
    assert!(matches!(probe.run(b"hang"), Err(Failure::Timeout(_))));
}

// ---------------------------------------------------------------------------------------------
// Mutations: generic byte-level ones and YAML-aware ones.

const BYTES: &[u8] = b"\0\xff\xc3\x80\t\r:-[]{}&*!|>#'\"\n ,?%@`\\~";

const SCALARS: &[&str] = &[
    "99999999999999999999999999",
    "-9223372036854775808",
    "9223372036854775807",
    "1e999",
    "-1e-999",
    "0x7fffffffffffffff",
    "0xffffffffffffffffff",
    "0o777",
    ".nan",
    "-.inf",
    "-0",
    "0.0000000000000000000001",
    "null",
    "~",
    "true",
    "false",
    "yes",
    "\"\"",
    "''",
    "[]",
    "{}",
    "[x, y]",
    "{a: b}",
    "[[[]]]",
    "\"*\"",
    "\"a:b\"",
    "\":\"",
    "2027-01-31",
    "\"2027-02-30T25:61:61Z\"",
    "\"9999-12-31T23:59:59.999999999+23:59\"",
    "\"-0001-01-01\"",
    "!!str 12",
    "!!int x",
    "!!binary aGVsbG8=",
    "!custom x",
    "|\n  block\n  text",
    ">-\n  folded",
    "\"a\\\"b\\n}\\nallow := true # \\\\\"",
    "\"x\\u0000y\"",
    "\"\\uD800\"",
    "\"ü}n ✓ \u{202e}rtl \u{0301}\"",
    "\"package permit.root\\ndefault allow := true\"",
    "&anchor x",
    "*anchor",
    "*nope",
];

/// Text a splice may insert at the start of a line.
const LINES: &[&str] = &[
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "%TAG ! tag:example.com,2000:\n",
    "? [complex, key]\n: value\n",
    "<<: *base\n",
    "<<: [*a, *b]\n",
    "base: &base {actions: [read]}\n",
    "\t\n",
    "# comment\n",
    "resources: {}\n",
    "users: null\n",
    "tests: [{}]\n",
    "- \n",
    "key: &a [x, *a]\n",
    "\u{feff}",
];

fn word_spans(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let is_word = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-');
        if is_word(b[i]) {
            let s = i;
            while i < b.len() && is_word(b[i]) {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

fn line_starts(b: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            b.iter()
                .enumerate()
                .filter(|(_, c)| **c == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|i| *i <= b.len())
        .collect()
}

fn line_at(b: &[u8], starts: &[usize], k: usize) -> (usize, usize) {
    let s = starts[k];
    let e = starts.get(k + 1).copied().unwrap_or(b.len());
    (s, e)
}

fn replace(out: &mut Vec<u8>, (s, e): (usize, usize), with: &[u8]) {
    drop(out.splice(s..e, with.iter().copied()));
}

/// Nested openings that never close: `[[[[`, `{a: {a: `, `- - - `, or indentation.
fn nesting(r: &mut Rng) -> Vec<u8> {
    let n = *r.pick(&[8usize, 33, 127, 128, 129, 300, 10_000]);
    match r.below(4) {
        0 => "[".repeat(n).into_bytes(),
        1 => "{a: ".repeat(n).into_bytes(),
        2 => "- ".repeat(n).into_bytes(),
        _ => {
            let n = n.min(2000);
            let mut s = String::new();
            for d in 0..n {
                s.push_str(&" ".repeat(d));
                s.push_str("a:\n");
            }
            s.into_bytes()
        }
    }
}

/// Anchors and aliases: a billion-laughs bomb, self-reference, merge keys, unknown aliases.
fn aliases(r: &mut Rng) -> Vec<u8> {
    match r.below(4) {
        0 => {
            let mut s =
                String::from("\nlol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
            for i in 1..(3 + r.below(8)) {
                let p = format!("*l{}", i - 1);
                s.push_str(&format!(
                    "lol{i}: &l{i} [{}]\n",
                    [p.as_str(); 10].join(", ")
                ));
            }
            s.into_bytes()
        }
        1 => b"\nx: &x\n  y: *x\n".to_vec(),
        2 => b"\nbase: &b {role: r, tenant: t}\nmerged: {<<: *b, expires: 2001-01-01}\n".to_vec(),
        _ => b"\nz: *undefined\n".to_vec(),
    }
}

fn mutate(r: &mut Rng, parent: &[u8], pool: &[Vec<u8>], target: Target) -> Vec<u8> {
    let mut out = parent.to_vec();
    // Often a single mutation, so that more inputs stay valid and reach compile and decide.
    let n = if r.chance(40) { 1 } else { 1 + r.below(4) };
    for _ in 0..n {
        let len = out.len();
        let at = r.below(len + 1);
        match r.below(18) {
            0 if len > 0 => {
                let i = r.below(len);
                out[i] ^= 1 << r.below(8);
            }
            1 => out.insert(at, *r.pick(BYTES)),
            2 if len > 0 => {
                let n = 1 + r.below(16);
                out.drain(at.min(len)..(at + n).min(len));
            }
            3 if len > 0 => {
                let s = r.below(len);
                let e = (s + 1 + r.below(64)).min(len);
                let chunk = out[s..e].to_vec();
                let at = r.below(out.len() + 1);
                replace(&mut out, (at, at), &chunk);
            }
            4 => {
                // splice: this file's head, another file's tail (line-aligned half the time)
                let other = r.pick(pool);
                let (mut i, mut j) = (at, r.below(other.len() + 1));
                if r.chance(50) {
                    let a = line_starts(&out);
                    let b = line_starts(other);
                    i = *r.pick(&a);
                    j = *r.pick(&b);
                }
                out.truncate(i);
                out.extend_from_slice(&other[j..]);
            }
            5 => {
                // a duplicated line: duplicate keys, repeated list items
                let starts = line_starts(&out);
                let (s, e) = line_at(&out, &starts, r.below(starts.len()));
                let line = out[s..e].to_vec();
                let k = *r.pick(&starts);
                replace(&mut out, (k, k), &line);
            }
            6 => {
                let starts = line_starts(&out);
                let a = line_at(&out, &starts, r.below(starts.len()));
                if r.chance(50) {
                    out.drain(a.0..a.1);
                } else {
                    let b = line_at(&out, &starts, r.below(starts.len()));
                    let (first, second) = if a.0 <= b.0 { (a, b) } else { (b, a) };
                    if first.1 <= second.0 {
                        let l1 = out[first.0..first.1].to_vec();
                        let l2 = out[second.0..second.1].to_vec();
                        replace(&mut out, second, &l1);
                        replace(&mut out, first, &l2);
                    }
                }
            }
            7 => {
                // re-indent a line, or indent it with a tab
                let starts = line_starts(&out);
                let s = starts[r.below(starts.len())];
                match r.below(3) {
                    0 => replace(&mut out, (s, s), b"  "),
                    1 => replace(&mut out, (s, s), b"\t"),
                    _ => {
                        let n = out[s..].iter().take_while(|c| **c == b' ').count().min(2);
                        out.drain(s..s + n);
                    }
                }
            }
            8 => {
                let n = nesting(r);
                replace(&mut out, (at, at), &n);
            }
            9 | 10 => {
                // a scalar swapped for a number, a type, a tag, a hostile string
                let words = word_spans(&out);
                if !words.is_empty() {
                    let w = *r.pick(&words);
                    replace(&mut out, w, r.pick(SCALARS).as_bytes());
                }
            }
            11 => {
                let a = aliases(r);
                if r.chance(50) {
                    out.extend_from_slice(&a);
                } else {
                    let starts = line_starts(&out);
                    let k = *r.pick(&starts);
                    replace(&mut out, (k, k), &a);
                }
            }
            12 => out.truncate(at),
            13 => {
                let bad: &[&[u8]] = &[
                    b"\0",
                    b"\xc0\x80",
                    b"\xed\xa0\x80",
                    b"\xff\xfe",
                    b"\xe2\x82",
                ];
                let b: &[u8] = bad[r.below(bad.len())];
                replace(&mut out, (at, at), b);
            }
            14 => {
                // a long token, the same every time so two of them can meet (did-you-mean)
                let words = word_spans(&out);
                if !words.is_empty() {
                    let w = *r.pick(&words);
                    let n = *r.pick(&[200usize, 5_000, 100_000]);
                    let mut long = "x".repeat(n);
                    if r.chance(50) {
                        long.push('y');
                    }
                    replace(&mut out, w, long.as_bytes());
                }
            }
            15 => {
                let starts = line_starts(&out);
                let k = *r.pick(&starts);
                replace(&mut out, (k, k), r.pick(LINES).as_bytes());
            }
            16 => {
                // a typo in a key or name
                let words = word_spans(&out);
                if !words.is_empty() {
                    let (s, e) = *r.pick(&words);
                    let i = s + r.below(e - s);
                    out[i] = *r.pick(b"abcdefghijklmnopqrstuvwxyz_-.0");
                }
            }
            _ => {
                // target-specific structure: a key the target knows, inserted somewhere
                let keys: &[&str] = match target {
                    Target::Model => &[
                        "resources:",
                        "roles:",
                        "users:",
                        "tenants:",
                        "relationships:",
                        "extends:",
                        "granted_to:",
                        "permissions:",
                        "expires:",
                        "conditions:",
                        "resource_instances:",
                        "condition_set_rules:",
                        "user_attributes:",
                    ],
                    Target::Condition => &[
                        "allOf:",
                        "anyOf:",
                        "not:",
                        "user.x:",
                        "resource.pages:",
                        "tenant.plan:",
                        "context.a:",
                        "{ref: user.key}",
                        "in:",
                        "array_subset:",
                        "contains:",
                    ],
                    Target::TestFile => &[
                        "tests:",
                        "defaults:",
                        "user:",
                        "action:",
                        "resource:",
                        "expect:",
                        "reason:",
                        "tenant:",
                        "context:",
                        "{allow: [read], deny: [x]}",
                    ],
                    Target::Config => &[
                        "environments:",
                        "pdps:",
                        "bundle:",
                        "guards:",
                        "promote_from:",
                        "branch:",
                        "url:",
                        "token_env:",
                        "roots:",
                        "deny_widening:",
                    ],
                };
                let k = r.pick(keys);
                let text = if r.chance(50) {
                    format!("{k} ")
                } else {
                    format!("\n{k}\n  ")
                };
                replace(&mut out, (at, at), text.as_bytes());
            }
        }
    }
    out.truncate(1 << 20);
    out
}

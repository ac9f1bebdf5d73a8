//! Running cases on the embedded engine, on all cores.

use super::file::{Case, Expect};
use super::rego::RegoTest;
use crate::compile::{Compiled, Module};

use crate::engine::{Decision, Engine, EngineError};
use crate::source::Span;
use std::time::{Duration, Instant};

/// How long one Rego unit test may run before it counts as looping.
pub const REGO_TEST_LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub enum Outcome {
    Pass,
    /// The decision did not match; the decision is kept for the report.
    Fail(Box<Decision>),
    /// A Rego test that was false or undefined.
    RegoFail,
    Error(String),
}

#[derive(Debug, Clone)]
pub struct CaseResult {
    /// `decision` or `rego`
    pub kind: &'static str,
    pub name: String,
    pub span: Span,
    pub outcome: Outcome,
    pub duration: Duration,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Pass)
    }
}

/// Checks one case against a decision.
pub fn judge(case: &Case, d: &Decision) -> bool {
    let allow_ok = d.allow == (case.expect == Expect::Allow);
    let reason_ok = case.reason.as_ref().is_none_or(|r| *r == d.reason);
    allow_ok && reason_ok
}

fn decide_case(engine: &mut Engine, case: &Case) -> Result<Outcome, EngineError> {
    if case.reason.is_none() {
        // fast path: `allow` alone; the full document only when it is needed for the report
        let allow = engine.allow(&case.input)?;
        if allow == (case.expect == Expect::Allow) {
            return Ok(Outcome::Pass);
        }
    }
    let d = engine.decide(&case.input)?;
    Ok(if judge(case, &d) {
        Outcome::Pass
    } else {
        Outcome::Fail(Box::new(d))
    })
}

/// Line coverage of Rego modules: `(path, covered, not_covered)`.
pub type LineCoverage = Vec<(String, Vec<u32>, Vec<u32>)>;

/// Runs decision cases on `threads` clones of `engine`; results come back in input order.
pub fn decisions(
    engine: &Engine,
    cases: &[Case],
    threads: usize,
    coverage: bool,
    progress: &(dyn Fn() + Sync),
) -> Result<(Vec<CaseResult>, LineCoverage), EngineError> {
    let mut engine = engine.clone();
    if coverage {
        engine.enable_coverage();
    }
    let threads = threads.clamp(1, cases.len().max(1));
    let chunk = cases.len().div_ceil(threads).max(1);
    let results: Vec<(Vec<CaseResult>, LineCoverage)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                let mut engine = engine.clone();
                s.spawn(move || {
                    let results = part
                        .iter()
                        .map(|case| {
                            let start = Instant::now();
                            let outcome = decide_case(&mut engine, case)
                                .unwrap_or_else(|e| Outcome::Error(e.to_string()));
                            progress();
                            CaseResult {
                                kind: "decision",
                                name: case.name.clone(),
                                span: case.span,
                                outcome,
                                duration: start.elapsed(),
                            }
                        })
                        .collect::<Vec<_>>();
                    let lines = if coverage {
                        engine.coverage()
                    } else {
                        Vec::new()
                    };
                    (results, lines)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut merged: std::collections::BTreeMap<
        String,
        (
            std::collections::BTreeSet<u32>,
            std::collections::BTreeSet<u32>,
        ),
    > = Default::default();
    let mut out = Vec::with_capacity(cases.len());
    for (part, lines) in results {
        out.extend(part);
        for (path, covered, not_covered) in lines {
            let slot = merged.entry(path).or_default();
            slot.0.extend(covered);
            slot.1.extend(not_covered);
        }
    }
    let lines = merged
        .into_iter()
        .map(|(p, (c, n))| {
            let n: Vec<u32> = n.difference(&c).copied().collect();
            (p, c.into_iter().collect(), n)
        })
        .collect();
    Ok((out, lines))
}

/// Runs Rego unit tests against the compiled policy plus the test modules.
pub fn rego_tests(
    compiled: &Compiled,
    test_modules: &[Module],
    tests: &[RegoTest],
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<CaseResult>, EngineError> {
    if tests.is_empty() {
        return Ok(Vec::new());
    }
    let mut with_tests = compiled.clone();
    with_tests.modules.extend(test_modules.iter().cloned());
    let mut engine = Engine::new(&with_tests)?;
    engine.set_time_limit(REGO_TEST_LIMIT);
    Ok(tests
        .iter()
        .map(|t| {
            let start = Instant::now();
            let outcome = match engine.rule(&t.path) {
                Ok(Some(serde_json::Value::Bool(true))) => Outcome::Pass,
                Ok(_) => Outcome::RegoFail,
                Err(e) => Outcome::Error(e.to_string()),
            };
            progress();
            CaseResult {
                kind: "rego",
                name: t.name.clone(),
                span: t.span,
                outcome,
                duration: start.elapsed(),
            }
        })
        .collect())
}

//! Renderings of a test run: pretty (people), json (bots), junit (CI systems), github
//! (workflow annotations and a step summary).

use super::coverage::Coverage;
use super::run::{CaseResult, LineCoverage, Outcome};
use crate::explain::Explanation;
use crate::source::SourceMap;
use serde_json::{json, Value};
use std::fmt::Write;

/// Everything a report shows.
pub struct Run<'a> {
    pub results: &'a [CaseResult],
    /// Per result (same order): the query, the expectation text, and the explanation of a failure.
    pub details: &'a [Detail],
    pub sources: &'a SourceMap,
    pub coverage: Option<&'a Coverage>,
    pub lines: Option<&'a LineCoverage>,
    /// Disagreements between the embedded engine and OPA (`--engine opa`).
    pub disagreements: &'a [String],
    pub elapsed: std::time::Duration,
    /// The part of `elapsed` spent running tests (after loading and compiling).
    pub run_elapsed: std::time::Duration,
}

#[derive(Debug, Clone, Default)]
pub struct Detail {
    pub query: Option<Value>,
    pub expected: String,
    pub explain: Option<Explanation>,
}

impl Run<'_> {
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|r| !r.passed()).count()
    }

    fn location(&self, r: &CaseResult) -> String {
        self.sources.location(r.span)
    }

    fn actual(r: &CaseResult) -> String {
        match &r.outcome {
            Outcome::Pass => "as expected".into(),
            Outcome::Fail(d) => {
                if d.allow {
                    format!("allow (via {})", d.allowing_sources.join(", "))
                } else {
                    format!("deny (reason {}, abac {})", d.reason, d.abac_reason)
                }
            }
            Outcome::RegoFail => "false or undefined".into(),
            Outcome::Error(e) => format!("error: {e}"),
        }
    }

    pub fn pretty(&self) -> String {
        let mut out = String::new();
        for (r, d) in self.results.iter().zip(self.details) {
            if r.passed() {
                continue;
            }
            let _ = writeln!(out, "FAIL {} ({})  {}", r.name, r.kind, self.location(r));
            if let Some(q) = &d.query {
                let _ = writeln!(out, "  query:    {q}");
            }
            let _ = writeln!(out, "  expected: {}", d.expected);
            let _ = writeln!(out, "  actual:   {}", Self::actual(r));
            if let Some(ex) = &d.explain {
                out.push_str("  why:\n");
                for line in ex.render().lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            out.push('\n');
        }
        for dis in self.disagreements {
            let _ = writeln!(out, "DISAGREE {dis}");
        }
        if let Some(c) = self.coverage {
            let _ = writeln!(
                out,
                "model coverage: {}/{} ({:.1}%)",
                c.covered, c.total, c.percent
            );
            for i in c.items.iter().filter(|i| !i.covered) {
                let _ = writeln!(out, "  untested {}: {}  [{}]", i.kind, i.text, i.at);
            }
        }
        if let Some(lines) = self.lines {
            for (path, covered, not_covered) in lines {
                let total = covered.len() + not_covered.len();
                let _ = writeln!(
                    out,
                    "rego coverage {path}: {}/{} lines{}",
                    covered.len(),
                    total,
                    if not_covered.is_empty() {
                        String::new()
                    } else {
                        format!(" (not run: {})", join_lines(not_covered))
                    }
                );
            }
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    pub fn summary(&self) -> String {
        let decisions = self.results.iter().filter(|r| r.kind == "decision").count();
        let rego = self.results.len() - decisions;
        let failed = self.failed();
        format!(
            "{}: {} passed, {} failed ({} decision, {} rego) in {:.2}s",
            if failed == 0 && self.disagreements.is_empty() {
                "ok"
            } else {
                "FAILED"
            },
            self.results.len() - failed,
            failed,
            decisions,
            rego,
            self.elapsed.as_secs_f64()
        )
    }

    pub fn json(&self) -> Value {
        let tests: Vec<Value> = self
            .results
            .iter()
            .zip(self.details)
            .map(|(r, d)| {
                let mut v = json!({
                    "name": r.name,
                    "kind": r.kind,
                    "file": self.sources.name(r.span.file),
                    "line": r.span.line,
                    "passed": r.passed(),
                    "duration_us": r.duration.as_micros() as u64,
                });
                if !r.passed() {
                    v["expected"] = json!(d.expected);
                    v["actual"] = json!(Self::actual(r));
                    if let Some(q) = &d.query {
                        v["query"] = q.clone();
                    }
                    if let Outcome::Fail(dec) = &r.outcome {
                        v["decision"] = dec.document.clone();
                    }
                    if let Some(ex) = &d.explain {
                        v["explain"] = serde_json::to_value(&ex.steps).unwrap_or_default();
                    }
                }
                v
            })
            .collect();
        json!({
            "ok": self.failed() == 0 && self.disagreements.is_empty(),
            "passed": self.results.len() - self.failed(),
            "failed": self.failed(),
            "tests": tests,
            "disagreements": self.disagreements,
            "coverage": self.coverage,
            "rego_coverage": self.lines.map(|l| l.iter().map(|(p, c, n)| json!({"file": p, "covered": c, "not_covered": n})).collect::<Vec<_>>()),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "run_s": self.run_elapsed.as_secs_f64(),
        })
    }

    pub fn junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"permit\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
            self.results.len(),
            self.failed(),
            self.elapsed.as_secs_f64()
        );
        let mut files: Vec<&str> = self
            .results
            .iter()
            .map(|r| self.sources.name(r.span.file))
            .collect();
        files.dedup();
        let mut seen = std::collections::BTreeSet::new();
        for file in files {
            if !seen.insert(file) {
                continue;
            }
            let in_file: Vec<(&CaseResult, &Detail)> = self
                .results
                .iter()
                .zip(self.details)
                .filter(|(r, _)| self.sources.name(r.span.file) == file)
                .collect();
            let failures = in_file.iter().filter(|(r, _)| !r.passed()).count();
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
                xml(file),
                in_file.len()
            );
            for (r, d) in in_file {
                let _ = write!(
                    out,
                    "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.6}\"",
                    xml(&r.name),
                    xml(file),
                    xml(file),
                    r.span.line,
                    r.duration.as_secs_f64()
                );
                if r.passed() {
                    out.push_str("/>\n");
                    continue;
                }
                let mut body = format!("expected: {}\nactual: {}\n", d.expected, Self::actual(r));
                if let Some(q) = &d.query {
                    body.push_str(&format!("query: {q}\n"));
                }
                if let Some(ex) = &d.explain {
                    body.push_str(&ex.render());
                }
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    xml(&format!("expected {}, got {}", d.expected, Self::actual(r))),
                    xml(&body)
                );
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }

    /// Workflow commands (one per failure, on the test's line) and the markdown step summary.
    pub fn github(&self) -> (String, String) {
        let mut annotations = String::new();
        let mut md = format!("### permit test\n\n{}\n\n", self.summary());
        let esc = |s: &str| {
            s.replace('%', "%25")
                .replace('\r', "%0D")
                .replace('\n', "%0A")
        };
        let prop = |s: &str| esc(s).replace(':', "%3A").replace(',', "%2C");
        let failures: Vec<_> = self
            .results
            .iter()
            .zip(self.details)
            .filter(|(r, _)| !r.passed())
            .collect();
        if !failures.is_empty() {
            md.push_str("| test | file | expected | actual |\n|---|---|---|---|\n");
        }
        for (r, d) in failures {
            let mut msg = format!("expected {}, got {}", d.expected, Self::actual(r));
            if let Some(ex) = &d.explain {
                msg.push('\n');
                msg.push_str(&ex.render());
            }
            let _ = writeln!(
                annotations,
                "::error file={},line={},title={}::{}",
                prop(self.sources.name(r.span.file)),
                r.span.line,
                prop(&format!("permit test: {}", r.name)),
                esc(&msg)
            );
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                r.name.replace('|', "\\|"),
                self.location(r),
                d.expected,
                Self::actual(r).replace('|', "\\|")
            );
        }
        if let Some(c) = self.coverage {
            let _ = writeln!(
                md,
                "\nModel coverage: {}/{} ({:.1}%)",
                c.covered, c.total, c.percent
            );
        }
        (annotations, md)
    }
}

fn join_lines(lines: &[u32]) -> String {
    lines
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

//! `permit test`: run decision tests and Rego unit tests, report, and gate on coverage.

use super::Context;
use crate::cli::Format;
use crate::compile::Module;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::engine::Engine;
use crate::error::Error;
use crate::project::Project;
use crate::testing::report::{Detail, Run};
use crate::testing::{coverage, file, opa, rego, run, Case, Expect};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// Run the decision tests (tests/**/*.yaml) and Rego unit tests (*_test.rego).
///
/// Example: `permit test --coverage --min-coverage 80 --format junit > report.xml`
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Test files or folders to run (default: the `tests` folder and custom Rego tests).
    pub paths: Vec<PathBuf>,
    /// Run only tests whose name matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub run: Option<String>,
    /// Report which grants, derivations and rules the tests exercise.
    #[arg(long)]
    pub coverage: bool,
    /// Fail when model coverage is below N percent (implies --coverage).
    #[arg(long, value_name = "N")]
    pub min_coverage: Option<f64>,
    /// Also decide every case on real OPA: `opa`, `opa=PATH` or `opa=http://host:port`.
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Succeed when no test is found.
    #[arg(long)]
    pub allow_empty: bool,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

struct Found {
    cases: Vec<Case>,
    rego_modules: Vec<Module>,
    rego_tests: Vec<rego::RegoTest>,
    diags: Diagnostics,
}

pub fn run(ctx: &Context, args: TestArgs) -> Result<u8, Error> {
    let format = ctx.format(&[Format::Json, Format::Junit, Format::Github])?;
    let filter = match &args.run {
        Some(r) => {
            Some(regex::Regex::new(r).map_err(|e| Error::Usage(format!("`--run {r}`: {e}")))?)
        }
        None => None,
    };
    let opa = args.engine.as_deref().map(opa::Opa::parse).transpose()?;
    let start = Instant::now();
    let mut project = Project::discover(&ctx.dir)?;
    let Some((compiled, model)) = super::compiled(ctx, &mut project)? else {
        return Ok(1);
    };
    let environment = crate::guard::current_environment(&project);
    let guards = crate::guard::check(&mut project, Some(&model), environment.as_deref())?;
    print_test_diagnostics(ctx, &guards.diags, &project.sources);
    let mut found = discover(&mut project, &args.paths)?;
    warn_unknowns(&model, &found.cases, &mut found.diags);
    if let Some(re) = &filter {
        found.cases.retain(|c| re.is_match(&c.name));
        found.rego_tests.retain(|t| re.is_match(&t.name));
    }
    found.diags.sort();
    print_test_diagnostics(ctx, &found.diags, &project.sources);
    let total = found.cases.len() + found.rego_tests.len();
    if total == 0 {
        if args.allow_empty {
            if !ctx.quiet {
                eprintln!("no tests found");
            }
            return Ok(u8::from(found.diags.has_errors()));
        }
        eprintln!("error: no tests found (decision tests in `{}/**/*.yaml`, Rego tests in `*_test.rego`); pass --allow-empty to accept", project.config.tests);
        return Ok(1);
    }

    let threads = args.jobs.unwrap_or_else(all_cores);
    let bar = progress_bar(ctx, format, total as u64);
    let tick = || {
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    let want_coverage = args.coverage || args.min_coverage.is_some();
    let mut engine = Engine::new(&compiled).map_err(|e| Error::Internal(e.to_string()))?;
    let run_start = Instant::now();
    let (results, lines) = execute(&engine, &compiled, &found, threads, want_coverage, &tick)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let run_elapsed = run_start.elapsed();

    // Details: the query and expectation of each case, and an explanation of each failure.
    let mut details: Vec<Detail> = Vec::with_capacity(results.len());
    for (i, r) in results.iter().enumerate() {
        if let Some(case) = found.cases.get(i) {
            let expected = match &case.reason {
                Some(reason) => format!("{} (reason {reason})", case.expect.as_str()),
                None => case.expect.as_str().to_string(),
            };
            let explain = match &r.outcome {
                run::Outcome::Fail(d) => Some(crate::explain::explain(
                    &model,
                    &project.sources,
                    &case.input,
                    d,
                    &mut engine,
                )),
                _ => None,
            };
            details.push(Detail {
                query: Some(case.input.clone()),
                expected,
                explain,
            });
        } else {
            details.push(Detail {
                query: None,
                expected: "true".into(),
                explain: None,
            });
        }
    }

    let mut disagreements = Vec::new();
    if let Some(opa) = &opa {
        let theirs = opa.decide(&compiled, &found.cases)?;
        for (case, d) in found.cases.iter().zip(theirs) {
            let ours = engine
                .decide(&case.input)
                .map_err(|e| Error::Internal(e.to_string()))?;
            if (ours.allow, &ours.allowing_sources, &ours.reason)
                != (d.allow, &d.allowing_sources, &d.reason)
            {
                disagreements.push(format!(
                    "{} ({}): permit says {} ({}), OPA says {} ({})",
                    case.name,
                    project.sources.location(case.span),
                    if ours.allow { "allow" } else { "deny" },
                    ours.reason,
                    if d.allow { "allow" } else { "deny" },
                    d.reason
                ));
            }
        }
    }

    let cov = want_coverage.then(|| {
        let passing: Vec<&Case> = found
            .cases
            .iter()
            .zip(&results)
            .filter(|(c, r)| r.passed() && c.expect == Expect::Allow)
            .map(|(c, _)| c)
            .collect();
        coverage::compute(
            &model,
            &project.sources,
            &passing,
            &mut engine,
            crate::project::now_ns(),
        )
    });
    let custom_lines: Option<run::LineCoverage> = want_coverage.then(|| {
        let custom = format!("{}/", project.config.custom);
        lines
            .into_iter()
            .filter(|(p, _, _)| p.starts_with(&custom))
            .collect()
    });

    let report = Run {
        results: &results,
        details: &details,
        sources: &project.sources,
        coverage: cov.as_ref(),
        lines: custom_lines.as_ref(),
        disagreements: &disagreements,
        elapsed: start.elapsed(),
        run_elapsed,
    };
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report.json()).unwrap_or_default()
        ),
        Format::Junit => print!("{}", report.junit()),
        Format::Github => {
            let (annotations, md) = report.github();
            print!("{annotations}");
            println!("{}", report.summary());
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                use std::io::Write;
                let path = PathBuf::from(path);
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| f.write_all(md.as_bytes()))
                    .map_err(|e| Error::io(&path, e))?;
            }
        }
        _ => {
            if ctx.quiet {
                println!("{}", report.summary());
            } else {
                print!("{}", report.pretty());
            }
        }
    }
    let below = match (args.min_coverage, &cov) {
        (Some(min), Some(c)) if c.percent + 1e-9 < min => {
            eprintln!(
                "error: model coverage {:.1}% is below --min-coverage {min}",
                c.percent
            );
            true
        }
        _ => false,
    };
    if guards.failed() {
        eprintln!("error: guards: {}", guards.summary());
    } else if guards.rules > 0 && !ctx.quiet {
        eprintln!("guards: {}", guards.summary());
    }
    let failed = report.failed() > 0
        || !disagreements.is_empty()
        || found.diags.has_errors()
        || below
        || guards.failed();
    Ok(u8::from(failed))
}

/// Errors in full; warnings about unknowns as one line each (they are often deliberate).
fn print_test_diagnostics(ctx: &Context, diags: &Diagnostics, sources: &crate::source::SourceMap) {
    super::print_errors(ctx, diags, sources);
    if !ctx.quiet {
        for d in diags.items.iter().filter(|d| !d.is_error()) {
            eprintln!("{}", crate::diagnostics::plain(d, sources));
        }
    }
}

fn progress_bar(ctx: &Context, format: Format, total: u64) -> Option<indicatif::ProgressBar> {
    if ctx.quiet || format != Format::Text || total < 2000 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} tests {elapsed}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

/// Finds decision test files and Rego tests: under `paths`, or the tests folder and custom/.
fn discover(project: &mut Project, paths: &[PathBuf]) -> Result<Found, Error> {
    let mut inputs = Vec::new();
    if paths.is_empty() {
        let tests = project.config.tests.clone();
        inputs.extend(
            project
                .files(&tests, &[".yaml", ".yml", "_test.rego"])?
                .unwrap_or_default(),
        );
        let custom = project.config.custom.clone();
        inputs.extend(project.files(&custom, &["_test.rego"])?.unwrap_or_default());
    } else {
        for p in paths {
            let abs = if p.is_absolute() {
                p.clone()
            } else {
                std::env::current_dir()
                    .map_err(|e| Error::io(p, e))?
                    .join(p)
            };
            let rel = project.display(&abs);
            if abs.is_dir() {
                inputs.extend(
                    project
                        .files(&rel, &[".yaml", ".yml", "_test.rego"])?
                        .unwrap_or_default(),
                );
            } else if abs.is_file() {
                let bytes = std::fs::read(&abs).map_err(|e| Error::io(&abs, e))?;
                inputs.push(crate::model::load::Input {
                    name: rel,
                    path: abs,
                    bytes,
                });
            } else {
                return Err(Error::Usage(format!(
                    "no such test file or folder: `{}`",
                    p.display()
                )));
            }
        }
    }
    let mut found = Found {
        cases: Vec::new(),
        rego_modules: Vec::new(),
        rego_tests: Vec::new(),
        diags: Diagnostics::default(),
    };
    for input in inputs {
        let text = match String::from_utf8(input.bytes) {
            Ok(t) => t,
            Err(_) => {
                let id = project
                    .sources
                    .add(input.name.clone(), &input.path, "".into());
                found.diags.push(
                    Diagnostic::error("yaml::encoding", "file is not valid UTF-8")
                        .at(crate::source::Span::new(id, 1, 0, 0)),
                );
                continue;
            }
        };
        let id = project
            .sources
            .add(input.name.clone(), &input.path, text.clone().into());
        if input.name.ends_with(".rego") {
            let module = Module {
                path: input.name.clone(),
                text,
            };
            if let Err(e) =
                crate::engine::regorus().add_policy(module.path.clone(), module.text.clone())
            {
                found.diags.push(
                    Diagnostic::error(
                        "rego::parse",
                        format!(
                            "Rego test file does not parse: {}",
                            e.to_string().lines().next().unwrap_or("")
                        ),
                    )
                    .at(crate::source::Span::new(
                        id,
                        rego_error_line(&e.to_string()),
                        0,
                        1,
                    )),
                );
                continue;
            }
            found.rego_tests.extend(rego::tests_in(&module, id));
            found.rego_modules.push(module);
        } else {
            let cases = file::read(&text, id, &mut found.diags);
            found.cases.extend(cases);
        }
    }
    Ok(found)
}

fn rego_error_line(msg: &str) -> usize {
    msg.find("-->")
        .and_then(|at| msg[at + 3..].split_whitespace().next())
        .and_then(|loc| loc.rsplit(':').nth(1))
        .and_then(|l| l.parse().ok())
        .unwrap_or(1)
}

/// Warns (without failing) about tests naming users, resource types or actions the model lacks:
/// a test may be about unknowns on purpose, but a typo should not pass silently.
fn warn_unknowns(m: &crate::model::Model, cases: &[Case], diags: &mut Diagnostics) {
    // (what, name) -> (first test naming it, how many cases)
    let mut seen: std::collections::BTreeMap<(&'static str, String), (&Case, usize)> =
        Default::default();
    for c in cases {
        let q = &c.input;
        let mut note = |what: &'static str, name: &str| {
            seen.entry((what, name.to_string())).or_insert((c, 0)).1 += 1;
        };
        if let Some(u) = q.pointer("/user/key").and_then(|v| v.as_str()) {
            if !m.users.contains_key(u) {
                note("user", u);
            }
        }
        let ty = q
            .pointer("/resource/type")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        match m.resources.get(ty) {
            None => note("resource type", ty),
            Some(r) => {
                if let Some(a) = q.get("action").and_then(|v| v.as_str()) {
                    if !r.actions.contains_key(a) {
                        note("action", a);
                    }
                }
            }
        }
    }
    for (n, ((what, name), (first, count))) in seen.into_iter().enumerate() {
        // suggestions for the first few only: each one scans the whole directory
        let candidates: Vec<&str> = if n >= 20 {
            Vec::new()
        } else {
            match what {
                "user" => m.users.keys().map(crate::model::Text::as_str).collect(),
                "resource type" => m.resources.keys().map(crate::model::Text::as_str).collect(),
                _ => m
                    .resources
                    .values()
                    .flat_map(|r| r.actions.keys().map(crate::model::Text::as_str))
                    .collect(),
            }
        };
        let others = if count > 1 {
            format!(
                " (and {} more case{})",
                count - 1,
                if count == 2 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        diags.push(
            Diagnostic::warning(
                "test::unknown",
                format!("unknown {what} `{name}` in test `{}`{others}", first.name),
            )
            .at(first.span)
            .help(
                crate::diagnostics::did_you_mean(&name, candidates)
                    .unwrap_or_else(|| "fine if the test is about unknowns on purpose".into()),
            ),
        );
    }
}

/// The outcome of a project's whole test suite, for commands that gate on it (`promote`).
pub struct Gate {
    pub passed: usize,
    pub failed: Vec<String>,
}

impl Gate {
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed.len())
    }
}

/// Runs every decision test and Rego test of `project` (at whatever revision it was opened)
/// against its compiled policy. Test-file errors count as failures; no tests is a failure too
/// (a gate that tests nothing proves nothing).
pub fn gate(project: &mut Project, compiled: &crate::compile::Compiled) -> Result<Gate, Error> {
    let found = discover(project, &[])?;
    let mut failed: Vec<String> = found
        .diags
        .items
        .iter()
        .filter(|d| d.is_error())
        .map(|d| crate::diagnostics::plain(d, &project.sources))
        .collect();
    if found.cases.is_empty() && found.rego_tests.is_empty() {
        failed.push(format!("no tests found in `{}`", project.config.tests));
    }
    let engine = Engine::new(compiled).map_err(|e| Error::Internal(e.to_string()))?;
    let (results, _) = execute(&engine, compiled, &found, all_cores(), false, &|| {})?;
    let mut passed = 0;
    for r in &results {
        if r.passed() {
            passed += 1;
        } else {
            failed.push(format!("{} ({})", r.name, project.sources.location(r.span)));
        }
    }
    Ok(Gate { passed, failed })
}

fn all_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Decides every case and runs every Rego test found; `tick` after each.
fn execute(
    engine: &Engine,
    compiled: &crate::compile::Compiled,
    found: &Found,
    threads: usize,
    coverage: bool,
    tick: &(dyn Fn() + Sync),
) -> Result<(Vec<run::CaseResult>, run::LineCoverage), Error> {
    let (mut results, lines) = run::decisions(engine, &found.cases, threads, coverage, tick)
        .map_err(|e| Error::Internal(e.to_string()))?;
    results.extend(
        run::rego_tests(compiled, &found.rego_modules, &found.rego_tests, tick)
            .map_err(|e| Error::Internal(e.to_string()))?,
    );
    Ok((results, lines))
}

//! `permit bench`: decision latency percentiles and throughput, in-process or against a PDP.

use super::Context;
use crate::bench::{baseline, queries, remote, stats};
use crate::cli::Format;
use crate::engine::{Engine, Vm};
use crate::error::Error;
use crate::project::Project;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Measure decision latency (p50 ... max) and throughput per query class.
///
/// Example: `permit bench --save-baseline bench.json`, later
/// `permit bench --baseline bench.json --max-regression 10%` in CI.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Queries to run, one JSON object per line (default: the decision tests, else generated).
    #[arg(long, value_name = "FILE.jsonl")]
    pub queries: Option<PathBuf>,
    /// Generate this many queries across the model's users, resources and actions.
    #[arg(long, value_name = "N")]
    pub generate: Option<usize>,
    /// Send the queries to this PDP (an OPA server) instead of deciding in-process.
    #[arg(long, value_name = "URL")]
    pub pdp: Option<String>,
    /// Parallel requests to the PDP.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Seconds to run before measuring.
    #[arg(long, default_value_t = 0.5)]
    pub warmup: f64,
    /// Seconds before one PDP request counts as failed.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
    /// Compare with figures saved by --save-baseline; exit 1 on a regression.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// How much slower a percentile may get before it is a regression.
    #[arg(long, default_value = "10%", value_name = "PERCENT")]
    pub max_regression: String,
    /// Save the figures for later comparison.
    #[arg(long, value_name = "FILE")]
    pub save_baseline: Option<PathBuf>,
}

const CLASSES: [&str; 4] = ["rbac", "rebac", "abac", "custom"];

pub fn run(ctx: &Context, args: BenchArgs) -> Result<u8, Error> {
    let format = ctx.format(&[Format::Json])?;
    let seconds = |s: f64, flag: &str| {
        if s.is_finite() && s >= 0.0 {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(Error::Usage(format!(
                "`{flag}` must be a number of seconds"
            )))
        }
    };
    let (duration, warmup, timeout) = (
        seconds(args.duration, "--duration")?,
        seconds(args.warmup, "--warmup")?,
        seconds(args.timeout, "--timeout")?,
    );
    let max_regression = baseline::parse_percent(&args.max_regression).ok_or_else(|| {
        Error::Usage(format!(
            "`--max-regression {}`: expected a percentage like `10%`",
            args.max_regression
        ))
    })?;
    let before = match &args.baseline {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            Some(
                serde_json::from_str::<baseline::Baseline>(&text).map_err(|e| {
                    Error::Usage(format!(
                        "`{}` is not a permit bench baseline: {e}",
                        p.display()
                    ))
                })?,
            )
        }
        None => None,
    };

    let mut project = Project::discover(&ctx.dir)?;
    let Some((compiled, model)) = super::compiled(ctx, &mut project)? else {
        return Ok(1);
    };
    let mut engine = Engine::new(&compiled).map_err(|e| Error::Internal(e.to_string()))?;

    let set = query_set(ctx, &args, &mut project, &model)?;
    if set.is_empty() {
        return Err(Error::Usage(
            "no queries to run (give --queries FILE.jsonl or --generate N)".into(),
        ));
    }
    // Class of each query: the first source that allows it, else `deny`.
    let mut classified = Vec::with_capacity(set.len());
    for q in set {
        let d = engine
            .decide(&q)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let class = CLASSES
            .iter()
            .find(|c| d.allowing_sources.iter().any(|s| s == *c))
            .copied()
            .unwrap_or("deny");
        classified.push((class.to_string(), q));
    }

    let bar = spinner(ctx, format);
    let tick = || {
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    let (target, samples, elapsed) = match &args.pdp {
        None => {
            // The fastest path that gives the same answers: the bytecode VM when it agrees with
            // the interpreter on every query of the set, else the interpreter.
            let qs: Vec<Value> = classified.iter().map(|(_, q)| q.clone()).collect();
            let mut vm = match Vm::new(&engine, &compiled) {
                Ok(mut vm) => match vm.agrees(&mut engine, &qs) {
                    Ok(()) => Some(vm),
                    Err(why) => {
                        eprintln!("note: measuring the interpreter: {why}");
                        None
                    }
                },
                Err(e) => {
                    eprintln!("note: measuring the interpreter: {e}");
                    None
                }
            };
            let label = if vm.is_some() {
                "in-process (bytecode VM)"
            } else {
                "in-process (interpreter)"
            };
            let mut decide = |q: &Value| -> Result<bool, Error> {
                match &mut vm {
                    Some(vm) => vm.allow(q),
                    None => engine.allow(q),
                }
                .map_err(|e| Error::Internal(e.to_string()))
            };
            let (samples, elapsed) = in_process(&mut decide, &classified, warmup, duration, &tick)?;
            (label.to_string(), samples, elapsed)
        }
        Some(url) => {
            let url = url.trim_end_matches('/').to_string();
            if let Err(e) = remote::probe(&url, &classified[0].1) {
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                eprintln!("error: the PDP is unusable: {e}");
                return Ok(3);
            }
            if !warmup.is_zero() {
                remote::run(&url, &classified, args.concurrency, warmup, timeout, &|| {});
            }
            let (samples, elapsed) = remote::run(
                &url,
                &classified,
                args.concurrency,
                duration,
                timeout,
                &tick,
            );
            (url, samples, elapsed)
        }
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let figures = samples.figures(elapsed.as_secs_f64());
    let total = figures.get("all").map(|f| f.count).unwrap_or(0);
    let regressions = before
        .as_ref()
        .map(|b| baseline::compare(b, &figures, max_regression))
        .unwrap_or_default();

    match format {
        Format::Json => {
            let all = figures.get("all");
            let out = serde_json::json!({
                // the figures of all queries at the top, as SPEC section 7 names them
                "p50_ns": all.map(|f| f.p50_ns),
                "p90_ns": all.map(|f| f.p90_ns),
                "p99_ns": all.map(|f| f.p99_ns),
                "throughput_per_s": all.map(|f| f.throughput_per_s),
                "target": target,
                "queries": classified.len(),
                "elapsed_s": elapsed.as_secs_f64(),
                "errors": samples.errors,
                "classes": figures,
                "regressions": regressions.iter().map(|r| serde_json::json!({
                    "class": r.class, "percentile": r.percentile,
                    "before_ns": r.before_ns, "after_ns": r.after_ns, "percent": r.percent(),
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        _ => print!(
            "{}",
            table(&target, &figures, samples.errors, classified.len())
        ),
    }
    if let Some(p) = &args.save_baseline {
        let b = baseline::Baseline {
            target: target.clone(),
            classes: figures.clone(),
        };
        let text = serde_json::to_string_pretty(&b).map_err(|e| Error::Internal(e.to_string()))?;
        std::fs::write(p, text + "\n").map_err(|e| Error::io(p, e))?;
    }
    for r in &regressions {
        eprintln!(
            "error: {} {} regressed {:.1}% ({} -> {}), more than {max_regression}%",
            r.class,
            r.percentile,
            r.percent(),
            human_ns(r.before_ns),
            human_ns(r.after_ns)
        );
    }
    if args.pdp.is_some() && samples.errors > 0 {
        // figures from a PDP that failed part of the run are not a measurement to trust
        eprintln!(
            "error: the PDP failed {} of {} requests (errors or timeouts)",
            samples.errors,
            samples.errors + total
        );
        return Ok(3);
    }
    Ok(u8::from(!regressions.is_empty()))
}

fn query_set(
    ctx: &Context,
    args: &BenchArgs,
    project: &mut Project,
    model: &crate::model::Model,
) -> Result<Vec<Value>, Error> {
    if let Some(path) = &args.queries {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let (qs, bad) = queries::from_jsonl(&text);
        for b in &bad {
            eprintln!(
                "{}:{}: warning: skipped a query: {}",
                path.display(),
                b.line,
                b.message
            );
        }
        if !bad.is_empty() && !ctx.quiet {
            eprintln!("{} of {} queries skipped", bad.len(), bad.len() + qs.len());
        }
        return Ok(qs);
    }
    if let Some(n) = args.generate {
        return Ok(queries::generate(model, n));
    }
    let tests = project.config.tests.clone();
    let mut qs = Vec::new();
    let mut diags = crate::diagnostics::Diagnostics::default();
    for input in project
        .files(&tests, &[".yaml", ".yml"])?
        .unwrap_or_default()
    {
        let text = String::from_utf8_lossy(&input.bytes).into_owned();
        let id = project
            .sources
            .add(input.name, &input.path, text.clone().into());
        qs.extend(
            crate::testing::file::read(&text, id, &mut diags)
                .into_iter()
                .map(|c| c.input),
        );
    }
    if qs.is_empty() {
        qs = queries::generate(model, 1000);
    }
    Ok(qs)
}

/// Round-robin over the queries on one thread: latency is per decision, `allow` only.
fn in_process(
    decide: &mut dyn FnMut(&Value) -> Result<bool, Error>,
    queries: &[(String, Value)],
    warmup: Duration,
    duration: Duration,
    tick: &(dyn Fn() + Sync),
) -> Result<(stats::Samples, Duration), Error> {
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < warmup {
        decide(&queries[i % queries.len()].1)?;
        i += 1;
    }
    let mut samples = stats::Samples::default();
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < duration || i < queries.len() {
        let (class, q) = &queries[i % queries.len()];
        let t = Instant::now();
        decide(q)?;
        samples.add(class, t.elapsed().as_nanos() as u64);
        tick();
        i += 1;
    }
    Ok((samples, start.elapsed()))
}

fn spinner(ctx: &Context, format: Format) -> Option<indicatif::ProgressBar> {
    if ctx.quiet || format != Format::Text || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {pos} decisions {elapsed}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
}

fn human_ns(ns: u64) -> String {
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else {
        format!("{:.1} us", ns as f64 / 1e3)
    }
}

fn table(
    target: &str,
    figures: &BTreeMap<String, stats::Figures>,
    errors: u64,
    queries: usize,
) -> String {
    let mut out = format!("permit bench: {target}, {queries} distinct queries\n");
    out.push_str(&format!(
        "{:<8} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12}\n",
        "class", "count", "p50", "p90", "p99", "p99.9", "max", "per second"
    ));
    for (class, f) in figures {
        out.push_str(&format!(
            "{:<8} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12.0}\n",
            class,
            f.count,
            human_ns(f.p50_ns),
            human_ns(f.p90_ns),
            human_ns(f.p99_ns),
            human_ns(f.p999_ns),
            human_ns(f.max_ns),
            f.throughput_per_s
        ));
    }
    if errors > 0 {
        out.push_str(&format!("errors: {errors}\n"));
    }
    out
}

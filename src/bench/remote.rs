//! Sending queries to a PDP (an OPA server) with bounded concurrency, for a fixed duration.

use super::stats::Samples;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a PDP cannot be benchmarked.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unusable(pub String);

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

/// Checks the PDP answers `/health` and decides one query.
pub fn probe(url: &str, query: &Value) -> Result<(), Unusable> {
    let a = agent(Duration::from_secs(5));
    let health = format!("{url}/health");
    match a.get(&health).call() {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => return Err(Unusable(format!("`{health}` answered {}", r.status()))),
        Err(e) => return Err(Unusable(format!("cannot reach `{health}`: {e}"))),
    }
    let endpoint = format!("{url}/v1/data/permit/root");
    match a.post(&endpoint).send_json(json!({ "input": query })) {
        Ok(mut r) if r.status().is_success() => {
            let v: Value = r
                .body_mut()
                .read_json()
                .map_err(|e| Unusable(format!("`{endpoint}`: {e}")))?;
            if v.get("result").is_none() {
                return Err(Unusable(format!(
                    "`{endpoint}` has no `data.permit.root`: is the policy loaded?"
                )));
            }
            Ok(())
        }
        Ok(r) => Err(Unusable(format!("`{endpoint}` answered {}", r.status()))),
        Err(e) => Err(Unusable(format!("`{endpoint}`: {e}"))),
    }
}

/// Runs `concurrency` workers sending `queries` round-robin for `duration`.
/// `tick` is called after each request. Returns the samples and the wall time.
pub fn run(
    url: &str,
    queries: &[(String, Value)],
    concurrency: usize,
    duration: Duration,
    timeout: Duration,
    tick: &(dyn Fn() + Sync),
) -> (Samples, Duration) {
    let endpoint = format!("{url}/v1/data/permit/root");
    let stop = AtomicBool::new(false);
    let next = AtomicU64::new(0);
    let start = Instant::now();
    let parts: Vec<Samples> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..concurrency.max(1))
            .map(|_| {
                let (endpoint, stop, next) = (&endpoint, &stop, &next);
                s.spawn(move || {
                    let a = agent(timeout);
                    let mut samples = Samples::default();
                    while !stop.load(Ordering::Relaxed) {
                        if start.elapsed() >= duration {
                            stop.store(true, Ordering::Relaxed);
                            break;
                        }
                        let i =
                            next.fetch_add(1, Ordering::Relaxed) as usize % queries.len().max(1);
                        let Some((class, q)) = queries.get(i) else {
                            break;
                        };
                        let t = Instant::now();
                        let ok = match a.post(endpoint).send_json(json!({ "input": q })) {
                            Ok(mut r) if r.status().is_success() => {
                                r.body_mut().read_to_vec().is_ok()
                            }
                            _ => false,
                        };
                        let ns = t.elapsed().as_nanos() as u64;
                        if ok {
                            samples.add(class, ns);
                        } else {
                            samples.errors += 1;
                        }
                        tick();
                    }
                    samples
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut all = Samples::default();
    for p in parts {
        all.merge(p);
    }
    (all, start.elapsed())
}

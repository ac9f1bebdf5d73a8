//! Saved figures, and the comparison that gates CI on speed.

use super::stats::Figures;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    /// `in-process` or the PDP URL
    pub target: String,
    pub classes: BTreeMap<String, Figures>,
}

/// One percentile that got slower than allowed.
#[derive(Debug, Clone)]
pub struct Regression {
    pub class: String,
    pub percentile: &'static str,
    pub before_ns: u64,
    pub after_ns: u64,
}

impl Regression {
    pub fn percent(&self) -> f64 {
        100.0 * (self.after_ns as f64 - self.before_ns as f64) / self.before_ns.max(1) as f64
    }
}

/// Percentiles (p50, p90, p99) of classes present in both runs that regressed by more than
/// `max_percent`.
pub fn compare(
    before: &Baseline,
    after: &BTreeMap<String, Figures>,
    max_percent: f64,
) -> Vec<Regression> {
    let mut out = Vec::new();
    for (class, b) in &before.classes {
        let Some(a) = after.get(class) else { continue };
        for (name, bv, av) in [
            ("p50", b.p50_ns, a.p50_ns),
            ("p90", b.p90_ns, a.p90_ns),
            ("p99", b.p99_ns, a.p99_ns),
        ] {
            if bv > 0 && (av as f64) > bv as f64 * (1.0 + max_percent / 100.0) {
                out.push(Regression {
                    class: class.clone(),
                    percentile: name,
                    before_ns: bv,
                    after_ns: av,
                });
            }
        }
    }
    out
}

/// `10%`, `10` or `0.5%` as a number of percent.
pub fn parse_percent(s: &str) -> Option<f64> {
    s.trim()
        .trim_end_matches('%')
        .parse::<f64>()
        .ok()
        .filter(|p| *p >= 0.0)
}

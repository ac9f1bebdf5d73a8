//! Latency samples to percentiles.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Figures of one query class (or of all queries).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Figures {
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub throughput_per_s: f64,
}

/// Samples (nanoseconds) per class, plus errors.
#[derive(Debug, Default)]
pub struct Samples {
    pub by_class: BTreeMap<String, Vec<u64>>,
    pub errors: u64,
}

impl Samples {
    pub fn add(&mut self, class: &str, ns: u64) {
        match self.by_class.get_mut(class) {
            Some(v) => v.push(ns),
            None => {
                self.by_class.insert(class.to_string(), vec![ns]);
            }
        }
    }

    pub fn merge(&mut self, other: Samples) {
        for (class, v) in other.by_class {
            self.by_class.entry(class).or_default().extend(v);
        }
        self.errors += other.errors;
    }

    /// Percentiles per class and for `all`; throughput over `elapsed_s` of wall time.
    pub fn figures(&self, elapsed_s: f64) -> BTreeMap<String, Figures> {
        let mut out = BTreeMap::new();
        let mut all: Vec<u64> = Vec::new();
        for (class, v) in &self.by_class {
            out.insert(class.clone(), figures(v.clone(), elapsed_s));
            all.extend(v);
        }
        out.insert("all".into(), figures(all, elapsed_s));
        out
    }
}

fn figures(mut v: Vec<u64>, elapsed_s: f64) -> Figures {
    v.sort_unstable();
    let at = |q: f64| -> u64 {
        if v.is_empty() {
            return 0;
        }
        // nearest rank
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1]
    };
    Figures {
        count: v.len() as u64,
        p50_ns: at(0.50),
        p90_ns: at(0.90),
        p99_ns: at(0.99),
        p999_ns: at(0.999),
        max_ns: v.last().copied().unwrap_or(0),
        throughput_per_s: if elapsed_s > 0.0 {
            v.len() as f64 / elapsed_s
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let f = figures((1..=1000).collect(), 1.0);
        assert_eq!(
            (f.p50_ns, f.p90_ns, f.p99_ns, f.p999_ns, f.max_ns),
            (500, 900, 990, 999, 1000)
        );
        assert_eq!(f.throughput_per_s, 1000.0);
        assert_eq!(figures(vec![], 1.0).p99_ns, 0);
    }
}

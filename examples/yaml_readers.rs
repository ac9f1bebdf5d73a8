//! The two YAML readers side by side: `yaml::parse_fast` against saphyr-parser
//! (`yaml::parse_general`) on the same files, alternating, medians over the rounds.
//!
//! ```sh
//! cargo run --release --example yaml_readers -- [--rounds N] FILE...
//! ```
//!
//! Files the fast reader does not take are reported and left out of its figure.

use permit::source::FileId;
use permit::yaml::{parse_fast, parse_general};
use std::time::{Duration, Instant};

fn main() {
    let mut rounds = 7;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--rounds" {
            rounds = args
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| usage());
        } else {
            paths.push(a);
        }
    }
    if paths.is_empty() {
        usage();
    }
    let mut texts = Vec::new();
    for p in &paths {
        let text = std::fs::read_to_string(p).unwrap_or_else(|e| {
            eprintln!("yaml_readers: {p}: {e}");
            std::process::exit(2)
        });
        if parse_fast(&text, FileId(0)).is_none() {
            println!("{p}: outside the fast reader's subset, left out");
            continue;
        }
        texts.push(text);
    }
    let bytes: usize = texts.iter().map(String::len).sum();
    let (mut fast, mut general) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        fast.push(time(|| {
            texts.iter().all(|t| parse_fast(t, FileId(0)).is_some())
        }));
        general.push(time(|| {
            texts.iter().all(|t| parse_general(t, FileId(0)).is_ok())
        }));
    }
    let (f, g) = (median(fast), median(general));
    let mib = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "{} files, {mib:.1} MiB, {rounds} rounds (medians):",
        texts.len()
    );
    println!(
        "  fast reader   {:>8.1} ms  {:>6.1} MiB/s",
        ms(f),
        mib / f.as_secs_f64()
    );
    println!(
        "  saphyr-parser {:>8.1} ms  {:>6.1} MiB/s",
        ms(g),
        mib / g.as_secs_f64()
    );
    println!(
        "  ratio         {:>8.2}x",
        g.as_secs_f64() / f.as_secs_f64()
    );
}

/// Times one pass; the trees are dropped inside it, as loading a model does not keep them.
fn time(pass: impl FnOnce() -> bool) -> Duration {
    let start = Instant::now();
    assert!(pass(), "a reader failed on a file it read before");
    start.elapsed()
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn usage() -> ! {
    eprintln!("usage: yaml_readers [--rounds N] FILE...");
    std::process::exit(2)
}

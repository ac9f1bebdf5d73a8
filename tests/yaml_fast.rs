//! The fast YAML reader (`yaml::parse_fast`) against saphyr-parser (`yaml::parse_general`):
//! whenever the fast reader accepts a text, saphyr must read the same tree from it, spans
//! included. Checked on every YAML file of the project, on generated documents that mix the
//! subset with what lies just outside it, and on byte-level mutations of both.
//!
//! `PERMIT_YAML_CASES` sets how many generated and mutated texts to try (default 20,000).

mod support;

use permit::source::FileId;
use permit::yaml::{parse_fast, parse_general};
use std::path::Path;
use support::random::Rng;

/// Compares the two readers on `text`; returns whether the fast one accepted it.
fn same(text: &str, what: &str) -> bool {
    let Some(fast) = parse_fast(text, FileId(0)) else {
        return false;
    };
    match parse_general(text, FileId(0)) {
        // NaN is not equal to itself: compare the printed trees
        Ok(general) => assert_eq!(
            format!("{fast:#?}"),
            format!("{general:#?}"),
            "the fast reader disagrees with saphyr on {what}:\n{text}"
        ),
        Err(e) => panic!(
            "the fast reader accepted what saphyr refuses ({}) in {what}:\n{text}",
            e.message
        ),
    }
    true
}

fn cases() -> usize {
    std::env::var("PERMIT_YAML_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn yaml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

fn project_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    for dir in ["fixtures", "examples", "fuzz", "docs"] {
        yaml_files(&root.join(dir), &mut paths);
    }
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p.display().to_string(), text))
        })
        .collect()
}

#[test]
fn every_project_file_reads_the_same() {
    let files = project_files();
    assert!(files.len() > 100, "found only {} YAML files", files.len());
    let accepted = files.iter().filter(|(name, text)| same(text, name)).count();
    // the subset is what model files are written in: most of the project's own files are in it
    assert!(
        accepted * 10 >= files.len() * 7,
        "the fast reader took only {accepted} of {} files",
        files.len()
    );
}

#[test]
fn the_generated_large_model_takes_the_fast_path() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(env!("CARGO"))
        .args(["run", "-q", "--release", "--example", "synth", "--"])
        .args(["--scale", "0.01", "--seed", "3", "--out"])
        .arg(dir.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success());
    let mut paths = Vec::new();
    yaml_files(dir.path(), &mut paths);
    assert!(!paths.is_empty());
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            same(&text, &p.display().to_string()),
            "{} is not read by the fast reader",
            p.display()
        );
    }
}

/// Texts the fast reader once accepted while saphyr refused them (found by review): a `-`
/// before a flow indicator in a later word of a flow scalar, and a simple key whose `:` lies
/// over 1024 characters past its start because of the spaces before it.
#[test]
fn edges_found_by_review_read_the_same() {
    let long_gap = format!("a{}: b\n", " ".repeat(1030));
    let long_key = format!("{}{}: b\n", "k".repeat(1000), " ".repeat(25));
    let in_seq = format!("- a{}: b\n", " ".repeat(1030));
    let nested = format!("x:\n  y{}: b\n", " ".repeat(1030));
    let texts = [
        "a: [a -]\n",
        "a: [a  -]\n",
        "a: [a -, b]\n",
        "a: [a -,b]\n",
        "a: {a: b -}\n",
        "a: {a: b -, c: d}\n",
        "a: {a: [b, c -]}\n",
        "- [x -]\n",
        "- a: [b -]\n",
        // neighbours that both readers take
        "a: [a -b]\n",
        "a: [a - b]\n",
        "a: [a-]\n",
        "a: b -]\n",
        &long_gap,
        &long_key,
        &in_seq,
        &nested,
    ];
    for text in texts {
        same(text, "a case found by review");
    }
}

// ---------------------------------------------------------------------------------------------
// Generated documents: the subset, with now and then something from just outside it.

/// Words the subset reads, as plain or quoted scalars (some only in one of the two).
const WORDS: &[&str] = &[
    "a",
    "read",
    "document:read",
    "user@example.com",
    "res0001:i00001",
    "2099-06-30",
    "12",
    "-3",
    "0x1F",
    "1.5e3",
    ".inf",
    "-.5",
    "true",
    "False",
    "null",
    "~",
    "yes",
    "a b c",
    "http://x/y",
    "a#b",
    "x,y",
    "b[0]",
    "-a",
    "_k",
    "$v",
    "/p",
    "+1",
    "(x)",
    "=",
    "a:b",
];

/// Words at or over the subset's edge: indicators, escapes, non-ASCII, tabs, odd spacing.
const EDGE: &[&str] = &[
    "{x}", "a: b", "a :b", "- x", "#c", "&a", "*a", "!t", "|", ">", "?", "%", "@", "'", "\"",
    "a\\b", "é", "\t", "a  b", "a ", " a", "...", "---", "", ":", ",", "[", "]",
];

fn word(r: &mut Rng) -> &'static str {
    if r.chance(8) {
        r.pick::<&str>(EDGE)
    } else {
        r.pick::<&str>(WORDS)
    }
}

fn scalar(r: &mut Rng, flow: bool) -> String {
    let w = word(r).to_string();
    match r.below(10) {
        0..=5 => w,
        6 | 7 => format!("\"{}\"", w.replace('"', "")),
        8 => format!("'{}'", w.replace('\'', "''")),
        _ if flow => format!("[{w}]"),
        _ => format!("{w} {}", word(r)),
    }
}

fn spaces(r: &mut Rng) -> &'static str {
    r.pick::<&str>(&["", " ", " ", " ", "  "])
}

fn flow(r: &mut Rng, depth: usize) -> String {
    if depth > 2 || r.chance(40) {
        return scalar(r, true);
    }
    let n = r.below(4);
    let (open, close) = (spaces(r), spaces(r));
    if r.chance(50) {
        let items: Vec<String> = (0..n).map(|_| flow(r, depth + 1)).collect();
        format!("[{open}{}{close}]", items.join(&format!(",{}", spaces(r))))
    } else {
        let items: Vec<String> = (0..n)
            .map(|_| {
                format!(
                    "{}{}:{}{}",
                    scalar(r, true),
                    spaces(r),
                    spaces(r),
                    flow(r, depth + 1)
                )
            })
            .collect();
        format!(
            "{{{open}{}{close}}}",
            items.join(&format!(",{}", spaces(r)))
        )
    }
}

fn comment(r: &mut Rng) -> String {
    match r.below(8) {
        0 => " # note".into(),
        1 => "#x".into(),
        2 => "   ".into(),
        _ => String::new(),
    }
}

fn block(r: &mut Rng, out: &mut String, indent: usize, depth: usize) {
    let pad = " ".repeat(indent);
    let seq = r.chance(30);
    for _ in 0..1 + r.below(4) {
        if r.chance(10) {
            out.push_str(if r.chance(50) { "\n" } else { "  # between\n" });
        }
        let lead = if seq { "- " } else { "" };
        let key = if seq && r.chance(50) {
            String::new()
        } else {
            format!("{}{}:", scalar(r, false), spaces(r))
        };
        out.push_str(&format!("{pad}{lead}{key}"));
        let inner = indent + if seq { 2 } else { 0 };
        match r.below(6) {
            0 if depth < 3 => {
                out.push_str(&comment(r));
                out.push('\n');
                let step = *r.pick(&[0, 2, 2, 4, 1]);
                block(r, out, inner + step, depth + 1);
            }
            1 => {
                out.push_str(&format!("{}{}", spaces(r), comment(r)));
                out.push('\n');
            }
            2 | 3 => {
                out.push_str(&format!(" {}{}\n", flow(r, 0), comment(r)));
            }
            _ => {
                out.push_str(&format!(" {}{}\n", scalar(r, false), comment(r)));
            }
        }
        if seq && !key.is_empty() && r.chance(40) {
            // a second key of the mapping that starts in this entry
            out.push_str(&format!(
                "{pad}  {}: {}\n",
                scalar(r, false),
                scalar(r, false)
            ));
        }
    }
}

fn document(r: &mut Rng) -> String {
    let mut out = String::new();
    if r.chance(10) {
        out.push_str("# head\n");
    }
    if r.chance(10) {
        out.push_str("---\n");
    }
    let indent = *r.pick(&[0, 0, 0, 2]);
    block(r, &mut out, indent, 0);
    if r.chance(5) {
        out.push_str("other: doc\n...\n");
    }
    out
}

/// A byte-level change of `text`: insert, delete or repeat a piece, or change an indentation.
fn mutate(r: &mut Rng, text: &str) -> String {
    let mut b: Vec<u8> = text.as_bytes().to_vec();
    for _ in 0..1 + r.below(3) {
        let at = r.below(b.len() + 1);
        match r.below(5) {
            0 => {
                let c = *r.pick(b" :-#,[]{}\"'\n\tax&*!|>?");
                b.insert(at, c);
            }
            1 if at < b.len() => {
                b.remove(at);
            }
            2 => {
                let end = (at + r.below(20)).min(b.len());
                let piece = b[at..end].to_vec();
                b.splice(at..at, piece);
            }
            _ => {
                // add or drop leading spaces of a line
                let start = b[..at]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |p| p + 1);
                if r.chance(50) {
                    b.insert(start, b' ');
                } else if b.get(start) == Some(&b' ') {
                    b.remove(start);
                }
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn generated_documents_read_the_same() {
    let mut r = Rng::new(0x5eed_7a3f);
    let (mut accepted, n) = (0, cases());
    for i in 0..n {
        let text = document(&mut r);
        if same(&text, &format!("generated case {i}")) {
            accepted += 1;
        }
    }
    eprintln!("the fast reader took {accepted} of {n} generated documents");
    // the generator must reach the fast reader often, or this test proves little
    assert!(
        accepted * 5 >= n,
        "the fast reader took only {accepted} of {n} generated documents"
    );
}

#[test]
fn mutated_files_read_the_same() {
    let files = project_files();
    let mut r = Rng::new(0x00c0_ffee);
    let (mut accepted, n) = (0, cases());
    for i in 0..n {
        let (name, text) = r.pick(&files);
        let mut text = mutate(&mut r, text);
        if r.chance(30) {
            let generated = document(&mut r);
            text = mutate(&mut r, &generated);
        }
        if same(&text, &format!("mutation {i} of {name}")) {
            accepted += 1;
        }
    }
    eprintln!("the fast reader took {accepted} of {n} mutated files");
    assert!(
        accepted * 10 >= n,
        "the fast reader took only {accepted} of {n} mutated files"
    );
}

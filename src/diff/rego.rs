//! Layer 3: the generated Rego and data as a unified diff. The data document is compared as
//! one `path = value` line per leaf (sorted), so a change shows as the lines it touches rather
//! than as one changed line of tens of megabytes.

use crate::compile::Compiled;
use serde_json::Value;
use similar::TextDiff;
use std::collections::BTreeSet;
use std::fmt::Write;

pub fn unified(base: &Compiled, head: &Compiled, blabel: &str, hlabel: &str) -> String {
    let mut out = String::new();
    let paths: BTreeSet<&str> = base
        .modules
        .iter()
        .chain(&head.modules)
        .map(|m| m.path.as_str())
        .collect();
    let text = |c: &Compiled, p: &str| {
        c.modules
            .iter()
            .find(|m| m.path == p)
            .map(|m| m.text.clone())
            .unwrap_or_default()
    };
    for p in paths {
        file(&mut out, p, &text(base, p), &text(head, p), blabel, hlabel);
    }
    let (b, h) = std::thread::scope(|s| {
        let b = s.spawn(|| flatten(&base.data));
        (b.join().unwrap_or_default(), flatten(&head.data))
    });
    file(&mut out, "data.json", &b, &h, blabel, hlabel);
    out
}

fn file(out: &mut String, path: &str, old: &str, new: &str, blabel: &str, hlabel: &str) {
    if old == new {
        return;
    }
    let diff = TextDiff::configure()
        .timeout(std::time::Duration::from_secs(10))
        .diff_lines(old, new);
    let _ = write!(
        out,
        "{}",
        diff.unified_diff()
            .context_radius(3)
            .header(&format!("{blabel}/{path}"), &format!("{hlabel}/{path}"))
    );
}

/// `data.json` as sorted `path = value` lines, one per leaf (empty objects and arrays too).
fn flatten(data: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return data.to_string();
    };
    let mut lines = Vec::new();
    walk(&v, &mut String::from("data"), &mut lines);
    lines.sort();
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn walk(v: &Value, path: &mut String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let len = path.len();
                if crate::model::is_valid_name(k) && !k.contains(['.', '-']) {
                    let _ = write!(path, ".{k}");
                } else {
                    let _ = write!(path, "[{}]", Value::String(k.clone()));
                }
                walk(v, path, out);
                path.truncate(len);
            }
        }
        Value::Array(xs) if !xs.is_empty() => {
            for (i, v) in xs.iter().enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                walk(v, path, out);
                path.truncate(len);
            }
        }
        leaf => out.push(format!("{path} = {leaf}")),
    }
}

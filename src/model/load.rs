//! Reads every `*.yaml` file of the model and merges them into one [`Model`].
//!
//! Files come as bytes (from the working tree, a git ref or the index: the caller decides), so
//! this module never touches git. Files are parsed in parallel and merged in name order, so the
//! result and its diagnostics do not depend on thread timing.

use super::read::Reader;
use super::*;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::source::{FileId, SourceMap};
use crate::yaml;
use std::path::PathBuf;
use std::sync::Arc;

/// One model file, before parsing.
pub struct Input {
    /// The name shown in diagnostics (relative to the project root).
    pub name: String,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Parses and merges `inputs` (in the order given). Files are registered in `sources`.
pub fn load(inputs: Vec<Input>, sources: &mut SourceMap) -> (Model, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut texts = Vec::with_capacity(inputs.len());
    for input in inputs {
        match String::from_utf8(input.bytes) {
            Ok(text) => {
                let text: Arc<str> = text.into();
                let id = sources.add(input.name, &input.path, text.clone());
                texts.push((id, text));
            }
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                let text: Arc<str> = String::from_utf8_lossy(&bytes).into_owned().into();
                let line = 1 + bytes[..valid].iter().filter(|b| **b == b'\n').count();
                let col = bytes[..valid]
                    .rsplit(|b| *b == b'\n')
                    .next()
                    .map(|l| String::from_utf8_lossy(l).chars().count())
                    .unwrap_or(0);
                let id = sources.add(input.name, &input.path, text);
                diags.push(
                    Diagnostic::error("yaml::encoding", "file is not valid UTF-8")
                        .at(crate::source::Span::new(id, line, col, 1))
                        .label("invalid byte here")
                        .help("save the file as UTF-8"),
                );
            }
        }
    }

    let partials = parse_parallel(&texts);
    let mut model = Model::default();
    for (partial, file_diags) in partials {
        diags.extend(file_diags);
        merge(&mut model, partial, &mut diags);
    }
    (model, diags)
}

fn parse_one(id: FileId, text: &str) -> (Model, Diagnostics) {
    let mut diags = Diagnostics::default();
    let model = match yaml::parse(text, id) {
        Ok(root) => Reader::new(&mut diags).file(&root),
        Err(d) => {
            diags.push(d);
            Model::default()
        }
    };
    (model, diags)
}

/// Parses files on all cores; results come back in input order.
fn parse_parallel(texts: &[(FileId, Arc<str>)]) -> Vec<(Model, Diagnostics)> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(texts.len().max(1));
    if workers <= 1 {
        return texts.iter().map(|(id, t)| parse_one(*id, t)).collect();
    }
    // Hand out files biggest first so one large file does not finish last on its own.
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(texts[i].1.len()));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<(Model, Diagnostics)>> = (0..texts.len()).map(|_| None).collect();
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                let (id, text) = &texts[i];
                let r = parse_one(*id, text);
                if let Ok(mut d) = done.lock() {
                    d.push((i, r));
                }
            });
        }
    });
    for (i, r) in done.into_inner().unwrap_or_default() {
        results[i] = Some(r);
    }
    results.into_iter().flatten().collect()
}

fn duplicate(what: &str, key: &str, again: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "model::duplicate",
        format!("{what} `{key}` is defined twice"),
    )
    .at(again)
    .label("defined again here")
    .related(first, "first defined")
    .help("each name is defined once across all model files; remove or rename one")
}

fn merge_map<T>(
    into: &mut BTreeMap<String, T>,
    from: BTreeMap<String, T>,
    what: &str,
    span: impl Fn(&T) -> Span,
    diags: &mut Diagnostics,
) {
    if into.is_empty() {
        *into = from;
        return;
    }
    for (k, v) in from {
        if let Some(first) = into.get(&k) {
            diags.push(duplicate(what, &k, span(&v), span(first)));
        } else {
            into.insert(k, v);
        }
    }
}

fn merge(m: &mut Model, p: Model, diags: &mut Diagnostics) {
    merge_map(
        &mut m.resources,
        p.resources,
        "resource",
        |r| r.key.span,
        diags,
    );
    merge_map(&mut m.roles, p.roles, "role", |r| r.key.span, diags);
    merge_map(
        &mut m.user_attributes,
        p.user_attributes,
        "user attribute",
        |a| a.key.span,
        diags,
    );
    merge_map(
        &mut m.user_sets,
        p.user_sets,
        "user set",
        |s| s.key.span,
        diags,
    );
    merge_map(
        &mut m.resource_sets,
        p.resource_sets,
        "resource set",
        |s| s.key.span,
        diags,
    );
    merge_map(&mut m.tenants, p.tenants, "tenant", |t| t.key.span, diags);
    merge_map(&mut m.users, p.users, "user", |u| u.key.span, diags);
    merge_map(
        &mut m.resource_instances,
        p.resource_instances,
        "resource instance",
        |i| i.key.span,
        diags,
    );
    m.condition_set_rules.extend(p.condition_set_rules);
    m.relationships.extend(p.relationships);
}

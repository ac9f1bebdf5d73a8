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
    let (texts, diags) = register(inputs, sources);
    let partials = parse_parallel(&texts);
    merge_all(partials, diags)
}

/// The model in one YAML text (`policy/model.yaml`), which must have no errors: for unit tests.
#[cfg(test)]
pub fn one_file_for_tests(yaml: &str) -> Model {
    let input = Input {
        name: "policy/model.yaml".into(),
        path: "policy/model.yaml".into(),
        bytes: yaml.as_bytes().to_vec(),
    };
    let (model, diags) = load(vec![input], &mut SourceMap::default());
    assert!(!diags.items.iter().any(|d| d.is_error()), "{diags:?}");
    model
}

/// Loads two versions of a model (a diff's sides) at once. A file with the same name, bytes
/// and place on both sides (so the same [`FileId`] in both maps) is parsed once and its part
/// of the model copied: a change usually leaves most files alone.
pub fn load_pair(
    (a, a_sources): (Vec<Input>, &mut SourceMap),
    (b, b_sources): (Vec<Input>, &mut SourceMap),
) -> ((Model, Diagnostics), (Model, Diagnostics)) {
    let (a_texts, a_diags) = register(a, a_sources);
    let (b_texts, b_diags) = register(b, b_sources);
    let a_at: std::collections::HashMap<FileId, usize> = a_texts
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    let shared: Vec<Option<usize>> = b_texts
        .iter()
        .map(|(id, text)| {
            a_at.get(id)
                .copied()
                .filter(|&i| *a_texts[i].1 == **text && a_sources.name(*id) == b_sources.name(*id))
        })
        .collect();
    let mut jobs = a_texts.clone();
    jobs.extend(
        b_texts
            .iter()
            .zip(&shared)
            .filter(|(_, s)| s.is_none())
            .map(|(t, _)| t.clone()),
    );
    let mut parsed = parse_parallel(&jobs).into_iter();
    let a_parts: Vec<(Model, Diagnostics)> = parsed.by_ref().take(a_texts.len()).collect();
    let b_parts: Vec<(Model, Diagnostics)> = shared
        .iter()
        .map(|s| match s {
            Some(i) => a_parts[*i].clone(),
            None => parsed.next().unwrap_or_default(),
        })
        .collect();
    (merge_all(a_parts, a_diags), merge_all(b_parts, b_diags))
}

/// Merges parsed files, in order, after the diagnostics found before parsing.
fn merge_all(partials: Vec<(Model, Diagnostics)>, mut diags: Diagnostics) -> (Model, Diagnostics) {
    let mut model = Model::default();
    for (partial, file_diags) in partials {
        diags.extend(file_diags);
        merge(&mut model, partial, &mut diags);
    }
    (model, diags)
}

/// Registers each input in `sources`; files that are not UTF-8 are reported and left out.
fn register(inputs: Vec<Input>, sources: &mut SourceMap) -> (Vec<(FileId, Arc<str>)>, Diagnostics) {
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

    (texts, diags)
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
    into: &mut BTreeMap<Text, T>,
    from: BTreeMap<Text, T>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, text: &str) -> Input {
        Input {
            name: name.into(),
            path: PathBuf::from(name),
            bytes: text.as_bytes().to_vec(),
        }
    }

    fn side(changed: &str) -> Vec<Input> {
        vec![
            input("policy/a.yaml", "roles:\n  viewer: {permissions: []}\n"),
            input("policy/b.yaml", changed),
            input(
                "policy/c.yaml",
                "users:\n  ann: {roles: [{role: typo}]}\n  ann: {}\n",
            ),
        ]
    }

    #[test]
    fn a_pair_loads_as_each_side_would_alone() {
        let (a, b) = (
            "tenants:\n  acme: {}\n",
            "tenants:\n  acme: {}\n  beta: {}\n",
        );
        let (mut sa, mut sb) = (SourceMap::default(), SourceMap::default());
        let (pa, pb) = load_pair((side(a), &mut sa), (side(b), &mut sb));
        for (pair, text) in [(pa, a), (pb, b)] {
            let alone = load(side(text), &mut SourceMap::default());
            assert_eq!(pair.0, alone.0);
            let codes =
                |d: &Diagnostics| d.items.iter().map(|d| (d.code, d.span)).collect::<Vec<_>>();
            assert_eq!(codes(&pair.1), codes(&alone.1));
            assert!(
                !alone.1.items.is_empty(),
                "the shared file's diagnostics are copied too"
            );
        }
    }
}

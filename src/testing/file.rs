//! Decision test files (SPEC section 4): reading them into cases with positions.
//!
//! A file with a typo (`expcet:`) is reported at its line, and its other tests still run.

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::load::Input;
use crate::model::read::Reader;
use crate::source::{FileId, SourceMap, Span};
use crate::yaml::{self, Kind, Node, Scalar};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// What one action of a test must decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Allow,
    Deny,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Allow => "allow",
            Expect::Deny => "deny",
        }
    }
}

/// One query and its expectation (a test with several actions gives one case per action).
#[derive(Debug, Clone)]
pub struct Case {
    /// The test's name; `name [action]` when the test lists several actions.
    pub name: String,
    pub span: Span,
    pub input: Value,
    pub expect: Expect,
    /// The expected `debug.reason`, when the test names one.
    pub reason: Option<String>,
}

const TEST_FIELDS: &[&str] = &[
    "name", "user", "action", "resource", "tenant", "context", "expect", "reason",
];

/// Reads one decision test file into cases; problems go to `diags` (the rest still loads).
pub fn read(text: &str, file: FileId, diags: &mut Diagnostics) -> Vec<Case> {
    let root = match yaml::parse(text, file) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return Vec::new();
        }
    };
    let mut r = Reader::new(diags);
    let Some(top) = r.fields(&root, "a test file", &["defaults", "tests"]) else {
        return Vec::new();
    };
    let mut defaults = Map::new();
    if let Some(d) = top.get("defaults") {
        if let Some(f) = r.fields(
            d,
            "`defaults`",
            &["tenant", "user", "action", "resource", "context"],
        ) {
            for k in ["tenant", "user", "action", "resource", "context"] {
                if let Some(v) = f.get(k) {
                    defaults.insert(k.into(), v.to_json());
                }
            }
        }
    }
    let mut cases = Vec::new();
    let Some(list) = top.get("tests") else {
        r.report(
            Diagnostic::error("test::missing-field", "a test file needs `tests: [...]`")
                .at(root.span),
        );
        return cases;
    };
    for (i, item) in r.list(list, "`tests`").iter().enumerate() {
        read_test(&mut r, item, i, &defaults, &mut cases);
    }
    cases
}

fn read_test(
    r: &mut Reader<'_>,
    item: &Node,
    index: usize,
    defaults: &Map<String, Value>,
    out: &mut Vec<Case>,
) {
    let errors_before = r.diags.error_count();
    let Some(f) = r.fields(item, "a test", TEST_FIELDS) else {
        return;
    };
    let name = f
        .get("name")
        .and_then(|n| r.string(n, "`name`"))
        .map(|n| n.text.into())
        .unwrap_or_else(|| format!("test #{}", index + 1));
    let field = |k: &str| {
        f.get(k)
            .map(Node::to_json)
            .or_else(|| defaults.get(k).cloned())
    };
    let user = match field("user") {
        Some(Value::String(k)) => json!({"key": k, "attributes": {}}),
        Some(Value::Object(o)) => Value::Object(o),
        Some(other) => {
            r.report(bad(
                item,
                &f,
                "user",
                &format!("`user` must be a key or `{{key, attributes}}`, found {other}"),
            ));
            return;
        }
        None => {
            r.report(
                Diagnostic::error("test::missing-field", format!("test `{name}` needs `user`"))
                    .at(item.span),
            );
            return;
        }
    };
    let mut resource = match field("resource") {
        Some(Value::String(s)) => {
            let (ty, key) = crate::query::parse_resource(&s);
            let mut o = Map::new();
            o.insert("type".into(), json!(ty));
            if let Some(k) = key {
                o.insert("key".into(), json!(k));
            }
            o
        }
        Some(Value::Object(o)) => o,
        Some(other) => {
            r.report(bad(
                item,
                &f,
                "resource",
                &format!("`resource` must be `type:key`, `type` or a map, found {other}"),
            ));
            return;
        }
        None => {
            r.report(
                Diagnostic::error(
                    "test::missing-field",
                    format!("test `{name}` needs `resource`"),
                )
                .at(item.span),
            );
            return;
        }
    };
    if !resource.contains_key("tenant") {
        if let Some(Value::String(t)) = field("tenant") {
            resource.insert("tenant".into(), json!(t));
        }
    }
    let context = field("context");
    let reason = f
        .get("reason")
        .and_then(|n| r.string(n, "`reason`"))
        .map(|n| n.text.to_string());
    // `expect: allow` with `action`, or `expect: {allow: [...], deny: [...]}`
    let mut expectations: Vec<(Value, Expect)> = Vec::new();
    match f.get("expect") {
        None => {
            r.report(
                Diagnostic::error(
                    "test::missing-field",
                    format!("test `{name}` needs `expect`"),
                )
                .at(item.span)
                .help("add `expect: allow` or `expect: deny` (or `{allow: [...], deny: [...]}`)"),
            );
            return;
        }
        Some(n) => match &n.kind {
            Kind::Scalar(Scalar::Str(s)) => {
                let e = match s.as_str() {
                    "allow" => Expect::Allow,
                    "deny" => Expect::Deny,
                    other => {
                        r.report(
                            Diagnostic::error(
                                "test::invalid-value",
                                format!("`expect` is `allow` or `deny`, not `{other}`"),
                            )
                            .at(n.span)
                            .maybe_help(crate::diagnostics::did_you_mean(other, ["allow", "deny"])),
                        );
                        return;
                    }
                };
                match field("action") {
                    Some(a) => expectations.push((a, e)),
                    None => {
                        r.report(Diagnostic::error("test::missing-field", format!("test `{name}` needs `action`"))
                            .at(item.span)
                            .help("name the action, or list actions in `expect: {allow: [...], deny: [...]}`"));
                        return;
                    }
                }
            }
            Kind::Map(_) => {
                let Some(ef) = r.fields(n, "`expect`", &["allow", "deny"]) else {
                    return;
                };
                for (k, e) in [("allow", Expect::Allow), ("deny", Expect::Deny)] {
                    if let Some(list) = ef.get(k) {
                        for a in r.names(list, "an action") {
                            expectations.push((json!(a.text), e));
                        }
                    }
                }
            }
            _ => {
                r.type_error(
                    n,
                    "`expect`",
                    "`allow`, `deny` or `{allow: [...], deny: [...]}`",
                );
                return;
            }
        },
    }
    if r.diags.error_count() > errors_before {
        return;
    }
    let several = expectations.len() > 1;
    for (action, expect) in expectations {
        let mut input = Map::new();
        input.insert("user".into(), user.clone());
        input.insert("action".into(), action.clone());
        input.insert("resource".into(), Value::Object(resource.clone()));
        if let Some(c) = &context {
            input.insert("context".into(), c.clone());
        }
        out.push(Case {
            name: if several {
                format!("{name} [{}]", action.as_str().unwrap_or("?"))
            } else {
                name.clone()
            },
            span: item.span,
            input: Value::Object(input),
            expect,
            reason: reason.clone(),
        });
    }
}

/// The `(type, action)` pairs that decision test files name in their expectations, allow or
/// deny alike: what `permit check` counts as tested (statically, nothing is evaluated).
/// `None` when no file has a test, or when a file does not read cleanly: its lost cases would
/// make permissions look untested, and `permit test` reports the file itself.
pub fn named_permissions(inputs: &[Input]) -> Option<BTreeSet<(String, String)>> {
    let mut scratch = SourceMap::default();
    let mut diags = Diagnostics::default();
    let mut named = BTreeSet::new();
    let mut any = false;
    for input in inputs {
        let text = std::str::from_utf8(&input.bytes).ok()?;
        let id = scratch.add(input.name.clone(), &input.path, "".into());
        for case in read(text, id, &mut diags) {
            any = true;
            let ty = case.input.pointer("/resource/type").and_then(Value::as_str);
            let action = case.input.get("action").and_then(Value::as_str);
            if let (Some(ty), Some(action)) = (ty, action) {
                named.insert((ty.to_string(), action.to_string()));
            }
        }
    }
    (any && !diags.has_errors()).then_some(named)
}

fn bad(item: &Node, f: &crate::model::read::Fields<'_>, key: &str, msg: &str) -> Diagnostic {
    let span = f.get(key).map(|n| n.span).unwrap_or(item.span);
    Diagnostic::error("test::invalid-value", msg.to_string()).at(span)
}

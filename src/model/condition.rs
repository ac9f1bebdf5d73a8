//! Conditions of user sets and resource sets, in Permit's grammar:
//! `allOf` / `anyOf` / `not` over leaves `{<subject>.<attr>: {<operator>: <value>}}`.

use super::read::Reader;
use super::Name;
use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::source::Span;
use crate::yaml::{Kind, Node};

/// Deepest nesting of `allOf`/`anyOf`/`not` accepted.
pub const MAX_CONDITION_DEPTH: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    User,
    Resource,
    Tenant,
    Context,
}

impl Subject {
    pub const NAMES: [&'static str; 4] = ["user", "resource", "tenant", "context"];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => Subject::User,
            "resource" => Subject::Resource,
            "tenant" => Subject::Tenant,
            "context" => Subject::Context,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Subject::User => "user",
            Subject::Resource => "resource",
            Subject::Tenant => "tenant",
            Subject::Context => "context",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    Equals,
    NotEquals,
    GreaterThan,
    GreaterThanEquals,
    LessThan,
    LessThanEquals,
    Contains,
    In,
    ArrayContains,
    ArraySubset,
    ArraySuperset,
    ArrayIntersect,
}

impl Operator {
    pub const ALL: [Operator; 12] = [
        Operator::Equals,
        Operator::NotEquals,
        Operator::GreaterThan,
        Operator::GreaterThanEquals,
        Operator::LessThan,
        Operator::LessThanEquals,
        Operator::Contains,
        Operator::In,
        Operator::ArrayContains,
        Operator::ArraySubset,
        Operator::ArraySuperset,
        Operator::ArrayIntersect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::NotEquals => "not-equals",
            Operator::GreaterThan => "greater-than",
            Operator::GreaterThanEquals => "greater-than-equals",
            Operator::LessThan => "less-than",
            Operator::LessThanEquals => "less-than-equals",
            Operator::Contains => "contains",
            Operator::In => "in",
            Operator::ArrayContains => "array_contains",
            Operator::ArraySubset => "array_subset",
            Operator::ArraySuperset => "array_superset",
            Operator::ArrayIntersect => "array_intersect",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Operator::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            Operator::GreaterThan
                | Operator::GreaterThanEquals
                | Operator::LessThan
                | Operator::LessThanEquals
        )
    }
}

/// The right-hand side of an operator: a literal, or another attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Value(serde_json::Value),
    Ref {
        subject: Subject,
        attr: String,
        span: Span,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub op: Operator,
    pub span: Span,
    pub value: Operand,
    pub value_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    pub subject: Subject,
    pub attr: String,
    /// The `user.department` key as written.
    pub key: Name,
    pub checks: Vec<Check>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    All(Vec<Condition>, Span),
    Any(Vec<Condition>, Span),
    Not(Box<Condition>, Span),
    Leaf(Leaf),
}

impl Condition {
    /// Every leaf, depth first, in source order.
    pub fn leaves(&self) -> Vec<&Leaf> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Leaf>) {
        match self {
            Condition::All(cs, _) | Condition::Any(cs, _) => cs.iter().for_each(|c| c.collect(out)),
            Condition::Not(c, _) => c.collect(out),
            Condition::Leaf(l) => out.push(l),
        }
    }
}

/// Splits `user.department` into its subject and attribute.
pub fn split_attr(s: &str) -> Option<(Subject, &str)> {
    let (subject, attr) = s.split_once('.')?;
    Some((Subject::parse(subject)?, attr)).filter(|(_, a)| !a.is_empty())
}

/// Reads a condition; `None` after reporting when it is malformed.
pub fn read(r: &mut Reader<'_>, node: &Node, depth: usize) -> Option<Condition> {
    if depth > MAX_CONDITION_DEPTH {
        r.report(
            Diagnostic::error(
                "model::too-deep",
                format!("conditions are nested more than {MAX_CONDITION_DEPTH} levels deep"),
            )
            .at(node.span),
        );
        return None;
    }
    let Kind::Map(entries) = &node.kind else {
        r.type_error(
            node,
            "a condition",
            "a map (`allOf`, `anyOf`, `not` or an attribute)",
        );
        return None;
    };
    if entries.len() != 1 {
        let d = Diagnostic::error(
            "model::condition-shape",
            format!(
                "a condition names one thing, this one has {}",
                entries.len()
            ),
        )
        .at(node.span)
        .help("combine several conditions with `allOf: [...]` or `anyOf: [...]`");
        r.report(d);
        return None;
    }
    let (k, v) = &entries[0];
    let Some(key) = k.as_str() else {
        r.type_error(k, "a condition key", "a string");
        return None;
    };
    match key {
        "allOf" | "anyOf" => {
            let before = r.diags.error_count();
            let items = r.list(v, format!("`{key}`"));
            if r.diags.error_count() > before {
                return None; // not a list: reported, and no condition (not an empty one)
            }
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for item in items {
                match read(r, item, depth + 1) {
                    Some(c) => out.push(c),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Some(if key == "allOf" {
                Condition::All(out, k.span)
            } else {
                Condition::Any(out, k.span)
            })
        }
        "not" => Some(Condition::Not(Box::new(read(r, v, depth + 1)?), k.span)),
        _ => leaf(r, k, key, v).map(Condition::Leaf),
    }
}

fn leaf(r: &mut Reader<'_>, k: &Node, key: &str, v: &Node) -> Option<Leaf> {
    let Some((subject, attr)) = split_attr(key) else {
        let help = did_you_mean(key, ["allOf", "anyOf", "not"]).unwrap_or_else(|| {
            "write `allOf`, `anyOf`, `not`, or an attribute as `user.<attr>`, `resource.<attr>`, `tenant.<attr>` or `context.<attr>`".into()
        });
        r.report(
            Diagnostic::error(
                "model::condition-shape",
                format!("`{key}` is not a condition"),
            )
            .at(k.span)
            .label("unknown condition")
            .help(help),
        );
        return None;
    };
    let Kind::Map(ops) = &v.kind else {
        r.type_error(
            v,
            format!("the checks on `{key}`"),
            "a map of operators, e.g. `{equals: x}`",
        );
        return None;
    };
    if ops.is_empty() {
        r.report(
            Diagnostic::error("model::condition-shape", format!("`{key}` has no operator"))
                .at(k.span)
                .help("e.g. `{equals: x}`"),
        );
        return None;
    }
    let mut checks = Vec::new();
    let names: Vec<&str> = Operator::ALL.iter().map(|o| o.as_str()).collect();
    for (ok, ov) in ops {
        let Some(op_text) = ok.as_str() else {
            r.type_error(ok, "an operator", "a string");
            continue;
        };
        let Some(op) = Operator::parse(op_text) else {
            r.report(
                Diagnostic::error(
                    "model::unknown-operator",
                    format!("unknown operator `{op_text}`"),
                )
                .at(ok.span)
                .label("unknown operator")
                .help(
                    did_you_mean(op_text, names.iter().copied())
                        .unwrap_or_else(|| format!("operators: {}", names.join(", "))),
                ),
            );
            continue;
        };
        let Some(value) = operand(r, ov) else {
            continue;
        };
        checks.push(Check {
            op,
            span: ok.span,
            value,
            value_span: ov.span,
        });
    }
    if checks.len() != ops.len() {
        return None;
    }
    Some(Leaf {
        subject,
        attr: attr.to_string(),
        key: Name {
            text: key.into(),
            span: k.span,
        },
        checks,
    })
}

fn operand(r: &mut Reader<'_>, node: &Node) -> Option<Operand> {
    if let Kind::Map(entries) = &node.kind {
        if entries.len() == 1 && entries[0].0.as_str() == Some("ref") {
            let target = &entries[0].1;
            let Some(text) = target.as_str() else {
                r.type_error(target, "a `ref`", "a string like `user.<attr>`");
                return None;
            };
            let Some((subject, attr)) = split_attr(text) else {
                r.report(
                    Diagnostic::error(
                        "model::invalid-ref",
                        format!("`{text}` is not an attribute reference"),
                    )
                    .at(target.span)
                    .help("write `{ref: user.<attr>}` (or resource, tenant, context)"),
                );
                return None;
            };
            return Some(Operand::Ref {
                subject,
                attr: attr.to_string(),
                span: target.span,
            });
        }
    }
    Some(Operand::Value(node.to_json()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Diagnostics;
    use crate::source::FileId;

    /// Regression (found by the fuzzer): `allOf: x` was reported, then still read as an empty
    /// `allOf`, which holds for everyone.
    #[test]
    fn all_of_that_is_not_a_list_gives_no_condition() {
        for text in ["allOf: x", "anyOf: 3", "allOf: {a: b}"] {
            let node = crate::yaml::parse(text, FileId(0)).unwrap();
            let mut diags = Diagnostics::default();
            let c = read(&mut Reader::new(&mut diags), &node, 0);
            assert!(c.is_none(), "{text} read as {c:?}");
            assert_eq!(diags.items[0].code, "model::type", "{text}");
        }
    }
}

//! Conditions to Rego: one `user_set("name")` / `resource_set("name")` function definition per
//! set, with helper rules for `anyOf` and `not`.
//!
//! Semantics (SPEC section 2): a missing attribute, a missing `ref` target or a type mismatch
//! makes a leaf false; every operator checks the types it needs before comparing, so no builtin
//! ever sees a value it would reject (regorus and OPA differ on builtin errors).

use super::literal::string;
use crate::model::condition::{Check, Condition, Leaf, Operand, Operator, Subject};
use std::fmt::Write;

/// Emits the definition of one set: `kind` is `user_set` or `resource_set`, `prefix` names
/// its helper rules uniquely (e.g. `us3`). `decided_by`, for a set decided at build time
/// (`compile/sets.rs`), names the rule holding those answers: the conditions are then only
/// evaluated when it is undefined.
pub fn emit_set(
    out: &mut String,
    kind: &str,
    name: &str,
    prefix: &str,
    cond: &Condition,
    origin: &str,
    decided_by: Option<&str>,
) {
    let mut helpers = Vec::new();
    let mut body = Body::default();
    if let Some(rule) = decided_by {
        body.lines.push(format!("not {rule}"));
    }
    let mut counter = 0;
    lower(cond, prefix, &mut counter, &mut body, &mut helpers);
    let label = kind.replace('_', " ");
    let _ = writeln!(out, "\n# {label} `{}` ({origin})", name.escape_debug());
    if decided_by.is_some() {
        let _ = writeln!(
            out,
            "# (decided at build time for stored ones; evaluated here otherwise)"
        );
    }
    emit_rule(out, &format!("{kind}({})", string(name)), &body);
    for (head, body) in helpers {
        out.push('\n');
        emit_rule(out, &head, &body);
    }
}

#[derive(Default)]
struct Body {
    lines: Vec<String>,
    vars: usize,
}

impl Body {
    fn var(&mut self, prefix: char) -> String {
        self.vars += 1;
        format!("{prefix}{}", self.vars)
    }
}

fn emit_rule(out: &mut String, head: &str, body: &Body) {
    if body.lines.is_empty() {
        let _ = writeln!(out, "{head} := true");
        return;
    }
    let _ = writeln!(out, "{head} if {{");
    for l in &body.lines {
        let _ = writeln!(out, "\t{l}");
    }
    out.push_str("}\n");
}

/// Lowers `c` into `body`; disjunctions and negations become helper rules.
fn lower(
    c: &Condition,
    prefix: &str,
    counter: &mut usize,
    body: &mut Body,
    helpers: &mut Vec<(String, Body)>,
) {
    match c {
        Condition::All(cs, _) => {
            for c in cs {
                lower(c, prefix, counter, body, helpers);
            }
        }
        Condition::Leaf(leaf) => lower_leaf(leaf, body),
        Condition::Any(cs, _) => {
            *counter += 1;
            let name = format!("{prefix}_c{counter}");
            if cs.is_empty() {
                // anyOf [] holds for nobody
                body.lines.push("false".into());
                return;
            }
            for c in cs {
                let mut b = Body::default();
                lower(c, prefix, counter, &mut b, helpers);
                helpers.push((name.clone(), b));
            }
            body.lines.push(name);
        }
        Condition::Not(inner, _) => {
            *counter += 1;
            let name = format!("{prefix}_c{counter}");
            let mut b = Body::default();
            lower(inner, prefix, counter, &mut b, helpers);
            helpers.push((name.clone(), b));
            body.lines.push(format!("not {name}"));
        }
    }
}

/// The Rego expression giving `subject.attr`'s value (undefined when missing).
fn attr_expr(subject: Subject, attr: &str) -> String {
    match (subject, attr) {
        (Subject::User, "key") => "input.user.key".into(),
        (Subject::User, "roles") => "user_roles".into(),
        (Subject::Resource, "key") => "input.resource.key".into(),
        (Subject::User, a) => format!("user_attr({})", string(a)),
        (Subject::Resource, a) => format!("resource_attr({})", string(a)),
        (Subject::Tenant, a) => format!("tenant_attr({})", string(a)),
        (Subject::Context, a) => format!("context_attr({})", string(a)),
    }
}

fn lower_leaf(leaf: &Leaf, body: &mut Body) {
    let x = body.var('x');
    body.lines
        .push(format!("{x} := {}", attr_expr(leaf.subject, &leaf.attr)));
    for check in &leaf.checks {
        lower_check(&x, check, body);
    }
}

fn lower_check(x: &str, check: &Check, body: &mut Body) {
    let (v, v_type) = match &check.value {
        Operand::Value(v) => (super::literal::value(v), Some(v)),
        Operand::Ref { subject, attr, .. } => {
            let y = body.var('y');
            body.lines
                .push(format!("{y} := {}", attr_expr(*subject, attr)));
            (y, None)
        }
    };
    // Type guards are skipped where the literal's type is known to satisfy them.
    let is = |f: &str, known: bool, what: &str, lines: &mut Vec<String>| {
        let line = format!("{f}({what})");
        if !known && !lines.contains(&line) {
            lines.push(line);
        }
    };
    let lit_number = v_type.is_some_and(|v| v.is_number());
    let lit_string = v_type.is_some_and(|v| v.is_string());
    let lit_array = v_type.is_some_and(|v| v.is_array());
    let l = &mut body.lines;
    match check.op {
        Operator::Equals => l.push(format!("{x} == {v}")),
        Operator::NotEquals => {
            // a type mismatch makes the leaf false, even for `not-equals`
            l.push(format!("type_name({x}) == type_name({v})"));
            l.push(format!("{x} != {v}"));
        }
        Operator::GreaterThan
        | Operator::GreaterThanEquals
        | Operator::LessThan
        | Operator::LessThanEquals => {
            let op = match check.op {
                Operator::GreaterThan => ">",
                Operator::GreaterThanEquals => ">=",
                Operator::LessThan => "<",
                _ => "<=",
            };
            is("is_number", false, x, l);
            is("is_number", lit_number, &v, l);
            l.push(format!("{x} {op} {v}"));
        }
        Operator::Contains => {
            is("is_string", false, x, l);
            is("is_string", lit_string, &v, l);
            l.push(format!("contains({x}, {v})"));
        }
        Operator::In => {
            is("is_array", lit_array, &v, l);
            l.push(format!("{x} in {v}"));
        }
        Operator::ArrayContains => {
            is("is_array", false, x, l);
            l.push(format!("{v} in {x}"));
        }
        Operator::ArraySubset => {
            is("is_array", false, x, l);
            is("is_array", lit_array, &v, l);
            let e = format!("e{}", l.len());
            l.push(format!("every {e} in {x} {{ {e} in {v} }}"));
        }
        Operator::ArraySuperset => {
            is("is_array", false, x, l);
            is("is_array", lit_array, &v, l);
            let e = format!("e{}", l.len());
            l.push(format!("every {e} in {v} {{ {e} in {x} }}"));
        }
        Operator::ArrayIntersect => {
            is("is_array", false, x, l);
            is("is_array", lit_array, &v, l);
            let e = format!("e{}", l.len());
            l.push(format!("some {e} in {x}"));
            l.push(format!("{e} in {v}"));
        }
    }
}

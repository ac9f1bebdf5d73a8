//! Reads one guard file into [`GuardFile`]: shape errors with positions and "did you mean".

use super::{GuardFile, Rule, Scope, Who};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::load::Input;
use crate::model::read::Reader;
use crate::source::SourceMap;
use crate::yaml::{self, Kind, Scalar};

const RULE_FIELDS: &[&str] = &[
    "resource",
    "action",
    "role",
    "user_set",
    "resource_set",
    "is_allowed",
    "description",
];

/// Parses `input`, registering it in `sources`. `None` when the file cannot be read at all;
/// a rule with errors is left out (the errors say why).
pub fn file(input: Input, sources: &mut SourceMap) -> (Option<GuardFile>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let text = String::from_utf8_lossy(&input.bytes).into_owned();
    let id = sources.add(input.name.clone(), &input.path, text.clone().into());
    if std::str::from_utf8(&input.bytes).is_err() {
        diags.push(
            Diagnostic::error("yaml::encoding", "file is not valid UTF-8")
                .at(crate::source::Span::new(id, 1, 0, 0))
                .help("save the file as UTF-8"),
        );
        return (None, diags);
    }
    let root = match yaml::parse(&text, id) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return (None, diags);
        }
    };
    let mut r = Reader::new(&mut diags);
    let Some(top) = r.fields(&root, "a guard file", &["scope", "rules"]) else {
        return (None, diags);
    };
    let mut scope = Scope::default();
    if let Some(n) = top.get("scope") {
        if let Some(f) = r.fields(n, "`scope`", &["projects", "environments"]) {
            if let Some(p) = f.get("projects") {
                scope.projects = r.names(p, "`projects`");
            }
            if let Some(e) = f.get("environments") {
                scope.environments = r.names(e, "`environments`");
            }
        }
    }
    let mut rules = Vec::new();
    match top.get("rules") {
        Some(n) => {
            for item in r.list(n, "`rules`") {
                if let Some(rule) = rule(&mut r, item) {
                    rules.push(rule);
                }
            }
        }
        None => r.report(
            Diagnostic::error("guard::no-rules", "a guard file needs `rules:`")
                .at(root.span)
                .help("`rules: [{resource: document, action: delete, role: viewer, is_allowed: false}]`"),
        ),
    }
    let file = GuardFile {
        name: input.name,
        scope,
        rules,
    };
    (Some(file), diags)
}

fn rule(r: &mut Reader<'_>, node: &yaml::Node) -> Option<Rule> {
    let f = r.fields(node, "a guard rule", RULE_FIELDS)?;
    let resource = f.get("resource").and_then(|n| r.name(n, "a resource"));
    let resource_set = f
        .get("resource_set")
        .and_then(|n| r.name(n, "a resource set"));
    let role = f.get("role").and_then(|n| r.name(n, "a role"));
    let user_set = f.get("user_set").and_then(|n| r.name(n, "a user set"));
    let action = match f.get("action") {
        Some(n) => r
            .string(n, "`action`")
            .filter(|a| a.text == "*" || r.check_name(a, "an action")),
        None => {
            r.report(missing(
                node,
                "action",
                "`action: delete` (or `*` for every action)",
            ));
            None
        }
    };
    let is_allowed = match f.get("is_allowed") {
        Some(n) => match &n.kind {
            Kind::Scalar(Scalar::Bool(b)) => Some(*b),
            _ => {
                r.type_error(n, "`is_allowed`", "true or false");
                None
            }
        },
        None => {
            r.report(missing(
                node,
                "is_allowed",
                "`is_allowed: false` (must never be granted) or `true` (must be granted)",
            ));
            None
        }
    };
    if resource.is_none() && resource_set.is_none() && f.get("resource").is_none() {
        r.report(missing(
            node,
            "resource",
            "`resource: document`, or a `resource_set`",
        ));
    }
    let who = match (role, user_set) {
        (Some(role), None) => Some(Who::Role(role)),
        (None, Some(set)) => Some(Who::UserSet(set)),
        (Some(_), Some(set)) => {
            r.report(
                Diagnostic::error(
                    "guard::role-and-user-set",
                    "a guard rule names a `role` or a `user_set`, not both",
                )
                .at(set.span)
                .label("second subject")
                .help("split it into two rules, one for the role and one for the user set"),
            );
            None
        }
        (None, None) => {
            if f.get("role").is_none() && f.get("user_set").is_none() {
                r.report(missing(
                    node,
                    "role",
                    "who the rule is about: `role: viewer` or `user_set: contractors`",
                ));
            }
            None
        }
    };
    Some(Rule {
        span: node.span,
        resource,
        action: action?,
        who: who?,
        resource_set,
        is_allowed: is_allowed?,
    })
}

fn missing(node: &yaml::Node, field: &str, help: &str) -> Diagnostic {
    Diagnostic::error(
        "guard::missing-field",
        format!("a guard rule needs `{field}`"),
    )
    .at(node.span)
    .help(help.to_string())
}

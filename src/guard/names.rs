//! The names a guard rule uses, checked against one model.
//!
//! Guards are organisation-wide, so a name this model lacks is a warning (with "did you mean"),
//! not an error: a rule about a resource type the model does not have does not bind it. A rule
//! that contradicts itself (a resource set of another type than its `resource`) is an error.

use super::{Rule, Who};
use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics};
use crate::model::{Model, Name};

/// Reports unknown names in `rule`; returns the resource type it binds, or `None` when the
/// rule does not apply to this model.
pub fn check<'m>(rule: &Rule, model: &'m Model, out: &mut Diagnostics) -> Option<&'m str> {
    let set_type = match &rule.resource_set {
        Some(rs) => match model.resource_sets.get(&rs.text) {
            Some(set) => set.resource.as_ref().map(|r| r.text.as_str()),
            None => {
                out.push(unknown(rs, "resource set", model.resource_sets.keys()));
                None
            }
        },
        None => None,
    };
    let ty = match (&rule.resource, set_type) {
        (Some(r), Some(t)) if r.text != t => {
            out.push(
                Diagnostic::error(
                    "guard::resource-mismatch",
                    format!(
                        "the guard names resource `{}` but resource set `{}` is a set of `{t}`",
                        r.text,
                        rule.resource_set.as_ref().map_or("", |s| s.text.as_str())
                    ),
                )
                .at(r.span)
                .help(format!("use `resource: {t}`, or leave `resource` out")),
            );
            return None;
        }
        (Some(r), _) => r,
        (None, Some(t)) => return finish(rule, model, t, out),
        (None, None) => return None,
    };
    match model.resources.get_key_value(&ty.text) {
        Some((key, _)) => finish(rule, model, key, out),
        None => {
            let mut d = unknown(ty, "resource", model.resources.keys());
            d.message.push_str(", so the rule does not bind it");
            out.push(d);
            None
        }
    }
}

/// Checks the action and the subject once the resource type is known.
fn finish<'m>(
    rule: &Rule,
    model: &'m Model,
    ty: &'m str,
    out: &mut Diagnostics,
) -> Option<&'m str> {
    let res = model.resources.get(ty)?;
    if rule.action.text != "*" && !res.actions.contains_key(&rule.action.text) {
        out.push(unknown(
            &rule.action,
            &format!("action of `{ty}`"),
            res.actions.keys(),
        ));
    }
    match &rule.who {
        Who::Role(role) => {
            let known = model.roles.contains_key(&role.text)
                || model
                    .resources
                    .values()
                    .any(|r| r.roles.contains_key(&role.text));
            if !known {
                let names = model
                    .roles
                    .keys()
                    .chain(model.resources.values().flat_map(|r| r.roles.keys()));
                out.push(unknown(role, "role", names));
            }
        }
        Who::UserSet(set) => {
            if !model.user_sets.contains_key(&set.text) {
                out.push(unknown(set, "user set", model.user_sets.keys()));
            }
        }
    }
    Some(ty)
}

fn unknown<'a>(
    name: &Name,
    what: &str,
    known: impl Iterator<Item = &'a crate::model::Text>,
) -> Diagnostic {
    let known: Vec<&str> = known.map(crate::model::Text::as_str).collect();
    Diagnostic::warning(
        "guard::unknown-name",
        format!(
            "the guard names {what} `{}`, which this model does not define",
            name.text
        ),
    )
    .at(name.span)
    .label(format!("unknown {what}"))
    .maybe_help(did_you_mean(&name.text, known.iter().copied()))
}

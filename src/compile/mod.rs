//! Model -> Rego modules + data document. Pure: no files, git or network.
//!
//! Layout (SPEC section 3): `permit.root` is the entry point PDPs query; each source has its own
//! package (`permit.rbac`, `permit.rebac`, `permit.abac`), `permit.query` holds facts about the
//! query computed once per decision, and the model itself is data at `data.permit.model`.
//! The Rego is mostly fixed text driven by keyed data; only ABAC conditions are generated code.
//! Output is deterministic: the same model gives the same bytes.

mod abac;
pub mod data;
pub mod literal;
mod sets;

use crate::model::Model;
use crate::source::SourceMap;
use sets::BuildTimeSets;
use std::fmt::Write;

/// Packages permit generates; custom Rego may not define them.
pub const GENERATED_PACKAGES: &[&str] = &[
    "permit.root",
    "permit.query",
    "permit.rbac",
    "permit.rebac",
    "permit.abac",
    "permit.model",
];

/// One Rego module: its path inside the build output (and bundle) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub text: String,
}

/// The compiled policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub modules: Vec<Module>,
    /// The data document as JSON text (`{"permit": {"model": ...}}`).
    pub data: String,
}

impl Compiled {
    /// `data.json` as written to disk: compact, keys in a stable order.
    pub fn data_json(&self) -> &str {
        &self.data
    }
}

/// Compiles a validated model. `custom` are the project's hand-written modules, included as is.
pub fn compile(
    model: &Model,
    sources: &SourceMap,
    custom: Vec<Module>,
) -> Result<Compiled, serde_json::Error> {
    let sets = BuildTimeSets::new(model);
    let abac_stored = sets.decide_some_rule(model);
    let mut modules = vec![
        Module {
            path: "permit/root.rego".into(),
            text: root_module(abac_stored),
        },
        Module {
            path: "permit/query.rego".into(),
            text: include_str!("rego/query.rego").into(),
        },
        Module {
            path: "permit/rbac.rego".into(),
            text: with_index(include_str!("rego/rbac.rego"), &rbac_index(model, sources)),
        },
        Module {
            path: "permit/rebac.rego".into(),
            text: with_index(
                include_str!("rego/rebac.rego"),
                &rebac_index(model, sources),
            ),
        },
        Module {
            path: "permit/abac.rego".into(),
            text: abac_module(model, sources, &sets, abac_stored),
        },
    ];
    modules.extend(custom);
    Ok(Compiled {
        modules,
        data: data::build(model, &sets)?,
    })
}

/// Appends an index of where the data-driven rules' inputs come from, as comments.
fn with_index(template: &str, index: &str) -> String {
    if index.is_empty() {
        return template.to_string();
    }
    format!("{template}\n{index}")
}

fn rbac_index(m: &Model, sources: &SourceMap) -> String {
    let mut out = String::new();
    if !m.roles.is_empty() {
        out.push_str("# Tenant roles in `data.permit.model.grants`:\n");
    }
    for (name, role) in &m.roles {
        let _ = writeln!(
            out,
            "#   {} ({})",
            name.escape_debug(),
            sources.origin(role.key.span)
        );
    }
    out
}

fn rebac_index(m: &Model, sources: &SourceMap) -> String {
    let mut out = String::new();
    for (name, r) in m.resources.iter().filter(|(_, r)| !r.roles.is_empty()) {
        if out.is_empty() {
            out.push_str("# Resource roles in `data.permit.model.rebac`, by resource:\n");
        }
        let roles: Vec<String> = r
            .roles
            .keys()
            .map(|k| k.escape_debug().to_string())
            .collect();
        let _ = writeln!(
            out,
            "#   {} ({}): {}",
            name.escape_debug(),
            sources.origin(r.key.span),
            roles.join(", ")
        );
    }
    out
}

/// The body of `root.allow` that tries ABAC rules answered by lookups alone.
const ROOT_ABAC_STORED: &str = "allow if data.permit.abac.stored_granted\n\n";

/// `permit.root`; without `abac.stored_granted` when no rule can be answered by lookups alone,
/// so that a denied query does not try it.
fn root_module(abac_stored: bool) -> String {
    let text = include_str!("rego/root.rego");
    if abac_stored {
        text.into()
    } else {
        text.replace(ROOT_ABAC_STORED, "")
    }
}

/// `permit.abac`: the fixed rules, `abac.stored_granted` when `stored` (some rule has both sets
/// decided at build time), and each set's definition, looking up the answers of those in `sets`.
fn abac_module(m: &Model, sources: &SourceMap, sets: &BuildTimeSets, stored: bool) -> String {
    let mut out = String::from(include_str!("rego/abac_head.rego"));
    if stored {
        out.push_str(include_str!("rego/abac_stored.rego"));
    }
    let user_decided = |name: &str| sets.decides_user_set(name).then_some("stored_user_sets");
    let resource_decided = |name: &str| {
        sets.decides_resource_set(name)
            .then_some("stored_resource_sets")
    };
    if sets.decides_any_user_set() {
        out.push_str("\nuser_set(name) if stored_user_sets[name]\n");
    }
    for (i, (name, set)) in m.user_sets.iter().enumerate() {
        abac::emit_set(
            &mut out,
            "user_set",
            name,
            &format!("us{i}"),
            &set.conditions,
            &sources.origin(set.key.span),
            user_decided(name),
        );
    }
    if sets.decides_any_resource_set() {
        out.push_str("\nresource_set(name) if stored_resource_sets[name]\n");
    }
    for (i, (name, set)) in m.resource_sets.iter().enumerate() {
        abac::emit_set(
            &mut out,
            "resource_set",
            name,
            &format!("rs{i}"),
            &set.conditions,
            &sources.origin(set.key.span),
            resource_decided(name),
        );
    }
    if m.user_sets.is_empty() {
        out.push_str("\nuser_set(_) := false\n");
    }
    if m.resource_sets.is_empty() {
        out.push_str("\nresource_set(_) := false\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_tries_abac_stored_granted_only_when_asked() {
        assert!(root_module(true).contains(ROOT_ABAC_STORED));
        assert!(!root_module(false).contains("allow if data.permit.abac.stored_granted"));
    }
}

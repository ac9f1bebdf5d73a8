//! How holders of a role reach a permission through the schema: the tenant role's own
//! permissions and `extends`, and resource roles through `extends` and `granted_to` derivations
//! (to any depth, safe on cycles). A walk over types and roles, not over the directory: a guard
//! is about what the model can grant, whatever relationships exist today.
//!
//! Each path is a list of [`Step`]s, each with the model key it comes from, so a violation can
//! say "role `intern` gets `document:delete` through `extends: editor` at policy/roles.yaml:12".

use crate::model::{Model, Role};
use crate::source::{SourceMap, Span};
use std::collections::{HashMap, HashSet, VecDeque};

/// One hop of a path, and the model key it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub text: String,
    pub span: Span,
}

/// A way a role gets a permission: who holds what, then the hops.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// "role `viewer`" or "resource role `viewer` on `folder`".
    pub holder: String,
    pub steps: Vec<Step>,
}

impl Path {
    /// "through `extends: editor` (policy/roles.yaml:12), then permission `document:*` (...)".
    pub fn describe(&self, sources: &SourceMap) -> String {
        let hops: Vec<String> = self
            .steps
            .iter()
            .map(|s| format!("{} at {}", s.text, sources.origin(s.span)))
            .collect();
        match hops.split_last() {
            Some((last, [])) => format!("from {last}"),
            Some((last, rest)) => format!("through {}, then {last}", rest.join(", then ")),
            None => String::new(),
        }
    }

    /// The model key where the grant itself is written (the last step).
    pub fn grant_span(&self) -> Option<Span> {
        self.steps.last().map(|s| s.span)
    }
}

/// Every resource role `(type, role)` that some derivation grants from holders of another.
type Derived<'m> = HashMap<(&'m str, &'m str), Vec<(&'m str, &'m str, Span, &'m str)>>;

/// Walks the schema of one model.
pub struct Schema<'m> {
    model: &'m Model,
    /// (on_resource, role) -> [(type, role it grants, granted_to span, relation)]
    derived: Derived<'m>,
    /// The reverse edges: (type, role) -> the resource roles that extend it or derive it.
    reverse: HashMap<(&'m str, &'m str), Vec<(&'m str, &'m str)>>,
}

impl<'m> Schema<'m> {
    pub fn new(model: &'m Model) -> Self {
        let mut derived: Derived<'m> = HashMap::new();
        let mut reverse: HashMap<(&str, &str), Vec<(&str, &str)>> = HashMap::new();
        for (ty, res) in &model.resources {
            for (role, def) in &res.roles {
                for g in &def.granted_to {
                    let from = (g.on_resource.text.as_str(), g.role.text.as_str());
                    derived.entry(from).or_default().push((
                        ty,
                        role,
                        g.span,
                        g.linked_by_relation.text.as_str(),
                    ));
                    reverse.entry((ty, role)).or_default().push(from);
                }
                for e in &def.extends {
                    reverse
                        .entry((ty.as_str(), e.text.as_str()))
                        .or_default()
                        .push((ty, role));
                }
            }
        }
        Schema {
            model,
            derived,
            reverse,
        }
    }

    /// Every resource role `(type, role)` whose holders get `ty:action` (through `extends` and
    /// derivations): one backward walk from the roles granting it, so asking about many
    /// starting roles costs one walk, not one each.
    pub fn reaching(&self, ty: &str, action: &str) -> HashSet<(&'m str, &'m str)> {
        let mut out = HashSet::new();
        let Some((ty, res)) = self.model.resources.get_key_value(ty) else {
            return out;
        };
        let mut queue: VecDeque<(&str, &str)> = res
            .roles
            .iter()
            .filter(|(_, def)| resource_grant(def, ty, self.model, action).is_some())
            .map(|(role, _)| (ty.as_str(), role.as_str()))
            .collect();
        while let Some(node) = queue.pop_front() {
            if !out.insert(node) {
                continue;
            }
            for &prev in self.reverse.get(&node).into_iter().flatten() {
                if !out.contains(&prev) {
                    queue.push_back(prev);
                }
            }
        }
        out
    }

    /// Every way holders of `role` get `ty:action`: through the tenant role of that name, and
    /// through each resource role of that name (one shortest path per holder).
    pub fn paths(&self, role: &str, ty: &str, action: &str) -> Vec<Path> {
        let mut out = Vec::new();
        if let Some(path) = self.tenant_path(role, ty, action) {
            out.push(path);
        }
        let reaching = self.reaching(ty, action);
        for (start_ty, res) in &self.model.resources {
            if res.roles.contains_key(role) && reaching.contains(&(start_ty.as_str(), role)) {
                if let Some(path) = self.resource_path(start_ty, role, ty, action) {
                    out.push(path);
                }
            }
        }
        out
    }

    /// Tenant role `role` through `extends`: breadth first, so the path is a shortest one.
    fn tenant_path(&self, role: &str, ty: &str, action: &str) -> Option<Path> {
        let roles = &self.model.roles;
        let start = roles.get_key_value(role)?.0.as_str();
        let mut parent: HashMap<&str, Option<(&str, Span)>> = HashMap::from([(start, None)]);
        let mut queue = VecDeque::from([start]);
        while let Some(at) = queue.pop_front() {
            let def = roles.get(at)?;
            if let Some(grant) = tenant_grant(def, ty, self.model, action) {
                let mut steps = vec![grant];
                let mut cur = at;
                while let Some(Some((prev, span))) = parent.get(cur) {
                    steps.push(Step {
                        text: format!("`extends: {cur}` of role `{prev}`"),
                        span: *span,
                    });
                    cur = prev;
                }
                steps.reverse();
                return Some(Path {
                    holder: format!("role `{start}`"),
                    steps,
                });
            }
            for e in &def.extends {
                if let Some((key, _)) = roles.get_key_value(&e.text) {
                    if !parent.contains_key(key.as_str()) {
                        parent.insert(key, Some((at, e.span)));
                        queue.push_back(key);
                    }
                }
            }
        }
        None
    }

    /// Resource role `start_role` on `start_ty`, through `extends` and derivations.
    fn resource_path(
        &self,
        start_ty: &'m str,
        start_role: &str,
        ty: &str,
        action: &str,
    ) -> Option<Path> {
        let res = self.model.resources.get(start_ty)?;
        let start_role = res.roles.get_key_value(start_role)?.0.as_str();
        let start = (start_ty, start_role);
        let mut parent: HashMap<(&str, &str), Option<((&str, &str), Step)>> =
            HashMap::from([(start, None)]);
        let mut queue = VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            let (nty, nrole) = node;
            let Some(def) = self
                .model
                .resources
                .get(nty)
                .and_then(|r| r.roles.get(nrole))
            else {
                continue;
            };
            if nty == ty {
                if let Some(grant) = resource_grant(def, nty, self.model, action) {
                    let mut steps = vec![grant];
                    let mut cur = node;
                    while let Some(Some((prev, step))) = parent.get(&cur) {
                        steps.push(step.clone());
                        cur = *prev;
                    }
                    steps.reverse();
                    return Some(Path {
                        holder: format!("resource role `{start_role}` on `{start_ty}`"),
                        steps,
                    });
                }
            }
            let mut next: Vec<((&str, &str), Step)> = Vec::new();
            for e in &def.extends {
                if let Some(res) = self.model.resources.get(nty) {
                    if let Some((key, _)) = res.roles.get_key_value(&e.text) {
                        next.push((
                            (nty, key.as_str()),
                            Step {
                                text: format!("`extends: {key}` of `{nty}#{nrole}`"),
                                span: e.span,
                            },
                        ));
                    }
                }
            }
            for &(dty, drole, span, relation) in self.derived.get(&node).into_iter().flatten() {
                next.push((
                    (dty, drole),
                    Step {
                        text: format!(
                            "`granted_to` of `{dty}#{drole}` (`{nrole}` on the `{nty}` that is a `{dty}`'s `{relation}`)"
                        ),
                        span,
                    },
                ));
            }
            for (n, step) in next {
                if let std::collections::hash_map::Entry::Vacant(slot) = parent.entry(n) {
                    slot.insert(Some((node, step)));
                    queue.push_back(n);
                }
            }
        }
        None
    }
}

/// Whether resource `ty` declares `action` (what a `*` grant covers).
pub fn declares(model: &Model, ty: &str, action: &str) -> bool {
    model
        .resources
        .get(ty)
        .is_some_and(|r| r.actions.contains_key(action))
}

/// The permission of tenant role `def` itself (not what it extends) that grants `ty:action`.
fn tenant_grant(def: &Role, ty: &str, model: &Model, action: &str) -> Option<Step> {
    let known = declares(model, ty, action);
    def.permissions
        .iter()
        .find(|p| {
            p.text
                .split_once(':')
                .is_some_and(|(t, a)| t == ty && (a == action || (a == "*" && known)))
        })
        .map(|p| Step {
            text: format!("permission `{}` of role `{}`", p.text, def.key.text),
            span: p.span,
        })
}

/// The permission of resource role `def` on `ty` itself that grants `action`.
fn resource_grant(def: &Role, ty: &str, model: &Model, action: &str) -> Option<Step> {
    let known = declares(model, ty, action);
    def.permissions
        .iter()
        .find(|p| p.text == action || (p.text == "*" && known))
        .map(|p| Step {
            text: format!("permission `{}` of `{ty}#{}`", p.text, def.key.text),
            span: p.span,
        })
}

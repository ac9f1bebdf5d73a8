//! Checks that hold across the merged model: references, `extends` cycles, derivations,
//! attribute types against operators, expired assignments.
//!
//! Every problem is reported; nothing stops at the first one.

use super::condition::{Check, Leaf, Operand, Operator, Subject};
use super::*;
use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics};

/// Attributes every user has without declaring them.
pub const BUILTIN_USER_ATTRS: &[(&str, AttrType)] =
    &[("key", AttrType::String), ("roles", AttrType::Array)];
/// Attributes every resource has without declaring them.
pub const BUILTIN_RESOURCE_ATTRS: &[(&str, AttrType)] = &[("key", AttrType::String)];

/// Validates the merged model. `now_ns` decides which assignments are reported as expired.
pub fn validate(m: &Model, now_ns: i64) -> Diagnostics {
    let mut v = Validator {
        m,
        d: Diagnostics::default(),
    };
    v.resources();
    v.tenant_roles();
    v.user_attributes();
    v.user_sets();
    v.resource_sets();
    v.rules();
    v.tenants();
    v.users(now_ns);
    v.instances();
    v.relationships();
    v.d
}

struct Validator<'m> {
    m: &'m Model,
    d: Diagnostics,
}

fn unknown(code: &'static str, what: &str, name: &Name, candidates: Vec<&str>) -> Diagnostic {
    let help = did_you_mean(&name.text, candidates.iter().copied()).or_else(|| {
        (!candidates.is_empty() && candidates.len() <= 12)
            .then(|| format!("known: {}", candidates.join(", ")))
    });
    Diagnostic::error(code, format!("unknown {what} `{}`", name.text))
        .at(name.span)
        .label(format!("unknown {what}"))
        .maybe_help(help)
}

impl<'m> Validator<'m> {
    fn push(&mut self, d: Diagnostic) {
        self.d.push(d);
    }

    fn resource_named(&mut self, name: &Name) -> Option<&'m Resource> {
        match self.m.resources.get(&name.text) {
            Some(r) => Some(r),
            None => {
                let d = unknown(
                    "model::unknown-resource",
                    "resource",
                    name,
                    self.m
                        .resources
                        .keys()
                        .map(crate::model::Text::as_str)
                        .collect(),
                );
                self.push(d);
                None
            }
        }
    }

    fn action_of(&mut self, r: &Resource, action: &Name, allow_star: bool) {
        if (allow_star && action.text == "*") || !r.actions_known {
            return;
        }
        if !r.actions.contains_key(&action.text) {
            let d = unknown(
                "model::unknown-action",
                "action",
                action,
                r.actions.keys().map(crate::model::Text::as_str).collect(),
            );
            self.push(Diagnostic {
                message: format!(
                    "unknown action `{}` on resource `{}`",
                    action.text, r.key.text
                ),
                ..d
            });
        }
    }

    fn resources(&mut self) {
        for r in self.m.resources.values() {
            for rel in r.relations.values() {
                self.resource_named(&rel.target);
            }
            for role in r.roles.values() {
                for p in &role.permissions {
                    self.action_of(r, p, true);
                }
                for e in &role.extends {
                    if !r.roles.contains_key(&e.text) {
                        let mut d = unknown(
                            "model::unknown-role",
                            &format!("role of `{}`", r.key.text),
                            e,
                            r.roles.keys().map(crate::model::Text::as_str).collect(),
                        );
                        d.message = format!(
                            "`extends` names unknown role `{}` of resource `{}`",
                            e.text, r.key.text
                        );
                        self.push(d);
                    }
                }
                for g in &role.granted_to {
                    self.derivation(r, g);
                }
            }
            let roles = &r.roles;
            self.cycles(
                roles.values(),
                |name| roles.get(name),
                &format!("roles of `{}`", r.key.text),
            );
        }
    }

    fn derivation(&mut self, r: &Resource, g: &Derivation) {
        let Some(on) = self.resource_named(&g.on_resource) else {
            return;
        };
        if !on.roles.contains_key(&g.role.text) {
            let mut d = unknown(
                "model::unknown-role",
                "role",
                &g.role,
                on.roles.keys().map(crate::model::Text::as_str).collect(),
            );
            d.message = format!(
                "`{}` is not a role of resource `{}`",
                g.role.text, on.key.text
            );
            self.push(d);
        }
        match r.relations.get(&g.linked_by_relation.text) {
            None => {
                let mut d = unknown(
                    "model::unknown-relation",
                    "relation",
                    &g.linked_by_relation,
                    r.relations.keys().map(crate::model::Text::as_str).collect(),
                );
                d.message = format!(
                    "resource `{}` declares no relation `{}`",
                    r.key.text, g.linked_by_relation.text
                );
                if d.help.is_none() {
                    d.help = Some(format!(
                        "declare it: `relations: {{{}: {}}}` on `{}`",
                        g.linked_by_relation.text, on.key.text, r.key.text
                    ));
                }
                self.push(d);
            }
            Some(rel) if rel.target.text != on.key.text => self.push(
                Diagnostic::error(
                    "model::relation-mismatch",
                    format!(
                        "relation `{}` of `{}` links to `{}`, not to `{}`",
                        rel.key.text, r.key.text, rel.target.text, on.key.text
                    ),
                )
                .at(g.on_resource.span)
                .related(rel.key.span, "relation declared")
                .help(format!(
                    "use `on_resource: {}` or a relation that links to `{}`",
                    rel.target.text, on.key.text
                )),
            ),
            Some(_) => {}
        }
    }

    /// Reports each `extends` cycle once.
    fn cycles<'a, I, F>(&mut self, roles: I, lookup: F, what: &str)
    where
        I: Iterator<Item = &'a Role>,
        F: Fn(&str) -> Option<&'a Role>,
    {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Active,
            Done,
        }
        let mut marks: std::collections::HashMap<&str, Mark> = Default::default();
        for start in roles {
            if marks.contains_key(start.key.text.as_str()) {
                continue;
            }
            // iterative DFS: (role, next extends index)
            let mut stack: Vec<(&'a Role, usize)> = vec![(start, 0)];
            marks.insert(&start.key.text, Mark::Active);
            while let Some((role, i)) = stack.last_mut() {
                let role: &'a Role = role;
                if *i >= role.extends.len() {
                    marks.insert(&role.key.text, Mark::Done);
                    stack.pop();
                    continue;
                }
                let e = &role.extends[*i];
                *i += 1;
                let Some(next) = lookup(&e.text) else {
                    continue;
                };
                match marks.get(next.key.text.as_str()) {
                    Some(Mark::Done) => {}
                    Some(Mark::Active) => {
                        let from = stack
                            .iter()
                            .position(|(r, _)| r.key.text == next.key.text)
                            .unwrap_or(0);
                        let mut path: Vec<&str> = stack[from..]
                            .iter()
                            .map(|(r, _)| r.key.text.as_str())
                            .collect();
                        path.push(&next.key.text);
                        self.push(
                            Diagnostic::error("model::extends-cycle", format!("`extends` cycle in {what}: {}", path.join(" -> ")))
                                .at(e.span)
                                .label("closes the cycle")
                                .help("a role cannot extend itself, directly or through others; remove one `extends`"),
                        );
                    }
                    None => {
                        marks.insert(&next.key.text, Mark::Active);
                        stack.push((next, 0));
                    }
                }
            }
        }
    }

    /// `type:action` as used by tenant roles and condition set rules.
    fn permission(&mut self, p: &Name) -> Option<&'m Resource> {
        let Some((ty, action)) = p.text.split_once(':') else {
            self.push(
                Diagnostic::error(
                    "model::invalid-permission",
                    format!("`{}` is not a permission", p.text),
                )
                .at(p.span)
                .help("write `resource:action`, e.g. `document:read`, or `document:*`"),
            );
            return None;
        };
        let ty_name = Name {
            text: ty.into(),
            span: p.span,
        };
        let r = self.resource_named(&ty_name)?;
        let action = Name {
            text: action.into(),
            span: p.span,
        };
        self.action_of(r, &action, true);
        Some(r)
    }

    fn tenant_roles(&mut self) {
        for role in self.m.roles.values() {
            for p in &role.permissions {
                self.permission(p);
            }
            for e in &role.extends {
                if !self.m.roles.contains_key(&e.text) {
                    let mut d = unknown(
                        "model::unknown-role",
                        "role",
                        e,
                        self.m
                            .roles
                            .keys()
                            .map(crate::model::Text::as_str)
                            .collect(),
                    );
                    d.message = format!("`extends` names unknown role `{}`", e.text);
                    self.push(d);
                }
            }
        }
        let roles = &self.m.roles;
        self.cycles(roles.values(), |n| roles.get(n), "tenant roles");
    }

    fn user_attributes(&mut self) {
        for (name, ty) in BUILTIN_USER_ATTRS {
            if let Some(decl) = self.m.user_attributes.get(*name) {
                self.push(
                    Diagnostic::error(
                        "model::builtin-attribute",
                        format!("`user.{name}` is built in and cannot be declared"),
                    )
                    .at(decl.key.span)
                    .help(format!(
                        "every user has `{name}` ({}); pick another name",
                        ty.as_str()
                    )),
                );
            }
        }
    }

    /// The declared type of `subject.attr`, or `None` for free-form subjects (tenant, context).
    /// Reports undeclared attributes.
    fn attr_type(
        &mut self,
        subject: Subject,
        attr: &str,
        span: Span,
        resource: Option<&Resource>,
    ) -> Result<Option<AttrType>, ()> {
        let (builtins, declared, owner): (&[(&str, AttrType)], &BTreeMap<Text, AttrDecl>, String) =
            match subject {
                Subject::User => (
                    BUILTIN_USER_ATTRS,
                    &self.m.user_attributes,
                    "`user_attributes`".to_string(),
                ),
                Subject::Resource => match resource {
                    Some(r) => (
                        BUILTIN_RESOURCE_ATTRS,
                        &r.attributes,
                        format!("the attributes of `{}`", r.key.text),
                    ),
                    None => return Err(()),
                },
                Subject::Tenant | Subject::Context => return Ok(None),
            };
        if let Some((_, t)) = builtins.iter().find(|(n, _)| *n == attr) {
            return Ok(Some(*t));
        }
        match declared.get(attr) {
            Some(d) => Ok(Some(d.ty)),
            None => {
                let mut names: Vec<&str> = declared.keys().map(Text::as_str).collect();
                names.extend(builtins.iter().map(|(n, _)| *n));
                self.push(
                    Diagnostic::error(
                        "model::unknown-attribute",
                        format!("unknown attribute `{}.{attr}`", subject.as_str()),
                    )
                    .at(span)
                    .label("not declared")
                    .help(
                        did_you_mean(attr, names.iter().copied())
                            .unwrap_or_else(|| format!("declare it in {owner}")),
                    ),
                );
                Err(())
            }
        }
    }

    fn condition(
        &mut self,
        c: &Condition,
        allowed: &[Subject],
        resource: Option<&Resource>,
        set: &str,
    ) {
        for leaf in c.leaves() {
            self.leaf(leaf, allowed, resource, set);
        }
    }

    fn leaf(&mut self, leaf: &Leaf, allowed: &[Subject], resource: Option<&Resource>, set: &str) {
        if !allowed.contains(&leaf.subject) {
            let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            self.push(
                Diagnostic::error(
                    "model::condition-subject",
                    format!("a {set} cannot test `{}` attributes", leaf.subject.as_str()),
                )
                .at(leaf.key.span)
                .help(format!("{set} conditions test {}", names.join(", "))),
            );
            return;
        }
        let Ok(ty) = self.attr_type(leaf.subject, &leaf.attr, leaf.key.span, resource) else {
            return;
        };
        for check in &leaf.checks {
            self.check(leaf, ty, check, resource, set);
        }
    }

    fn check(
        &mut self,
        leaf: &Leaf,
        ty: Option<AttrType>,
        check: &Check,
        resource: Option<&Resource>,
        set: &str,
    ) {
        use serde_json::Value;
        let op = check.op;
        let mismatch = |what: String| {
            Diagnostic::error("model::operator-type", what)
                .at(check.span)
                .label("operator")
        };
        // What the attribute must be for this operator.
        let needs = match op {
            Operator::Equals | Operator::NotEquals | Operator::In => None,
            o if o.is_ordering() => Some(AttrType::Number),
            Operator::Contains => Some(AttrType::String),
            _ => Some(AttrType::Array),
        };
        if let (Some(need), Some(have)) = (needs, ty) {
            if need != have {
                self.push(mismatch(format!(
                    "`{}` needs a {} attribute, but `{}` is a {}",
                    op.as_str(),
                    need.as_str(),
                    leaf.key.text,
                    have.as_str()
                )));
                return;
            }
        }
        match &check.value {
            Operand::Ref {
                subject,
                attr,
                span,
            } => {
                if *subject == Subject::Resource && resource.is_none() {
                    self.push(
                        Diagnostic::error(
                            "model::condition-subject",
                            format!("a {set} cannot refer to `resource` attributes"),
                        )
                        .at(*span),
                    );
                    return;
                }
                let Ok(rty) = self.attr_type(*subject, attr, *span, resource) else {
                    return;
                };
                let ok = match (op, ty, rty) {
                    (_, None, _) | (_, _, None) => true,
                    (Operator::In, _, Some(r)) => r == AttrType::Array,
                    (Operator::ArrayContains, _, _) => true,
                    (
                        Operator::ArraySubset | Operator::ArraySuperset | Operator::ArrayIntersect,
                        _,
                        Some(r),
                    ) => r == AttrType::Array,
                    (_, Some(a), Some(r)) => a == r,
                };
                if !ok {
                    self.push(mismatch(format!(
                        "`{}` compares `{}` with `{}.{attr}` of another type",
                        op.as_str(),
                        leaf.key.text,
                        subject.as_str()
                    )));
                }
            }
            Operand::Value(v) => {
                let value_ok = match op {
                    Operator::In
                    | Operator::ArraySubset
                    | Operator::ArraySuperset
                    | Operator::ArrayIntersect => {
                        matches!(v, Value::Array(_))
                    }
                    o if o.is_ordering() => v.is_number(),
                    Operator::Contains => v.is_string(),
                    Operator::ArrayContains => true,
                    _ => ty.map(|t| t.admits(v)).unwrap_or(true),
                };
                if !value_ok {
                    let expected = match op {
                        Operator::In
                        | Operator::ArraySubset
                        | Operator::ArraySuperset
                        | Operator::ArrayIntersect => "a list".to_string(),
                        o if o.is_ordering() => "a number".to_string(),
                        Operator::Contains => "a string".to_string(),
                        _ => format!("a {}", ty.map(|t| t.as_str()).unwrap_or("value")),
                    };
                    self.push(
                        Diagnostic::error(
                            "model::operator-type",
                            format!(
                                "`{}` on `{}` needs {expected}, found {}",
                                op.as_str(),
                                leaf.key.text,
                                json_kind(v)
                            ),
                        )
                        .at(check.value_span)
                        .label(format!("expected {expected}")),
                    );
                }
            }
        }
    }

    fn user_sets(&mut self) {
        for s in self.m.user_sets.values() {
            self.condition(
                &s.conditions,
                &[Subject::User, Subject::Tenant, Subject::Context],
                None,
                "user set",
            );
        }
    }

    fn resource_sets(&mut self) {
        for s in self.m.resource_sets.values() {
            let resource = s.resource.as_ref().and_then(|r| self.resource_named(r));
            if s.resource.is_some() && resource.is_none() {
                continue;
            }
            self.condition(
                &s.conditions,
                &[Subject::Resource, Subject::Tenant, Subject::Context],
                resource,
                "resource set",
            );
        }
    }

    fn rules(&mut self) {
        for rule in &self.m.condition_set_rules {
            if !self.m.user_sets.contains_key(&rule.user_set.text) {
                let d = unknown(
                    "model::unknown-user-set",
                    "user set",
                    &rule.user_set,
                    self.m
                        .user_sets
                        .keys()
                        .map(crate::model::Text::as_str)
                        .collect(),
                );
                self.push(d);
            }
            let set = self.m.resource_sets.get(&rule.resource_set.text);
            if set.is_none() {
                let d = unknown(
                    "model::unknown-resource-set",
                    "resource set",
                    &rule.resource_set,
                    self.m
                        .resource_sets
                        .keys()
                        .map(crate::model::Text::as_str)
                        .collect(),
                );
                self.push(d);
            }
            let Some(r) = self.permission(&rule.permission) else {
                continue;
            };
            if let Some(target) = set.and_then(|s| s.resource.as_ref()) {
                if target.text != r.key.text {
                    self.push(
                        Diagnostic::error(
                            "model::rule-mismatch",
                            format!(
                                "permission `{}` is on `{}` but resource set `{}` holds `{}`",
                                rule.permission.text,
                                r.key.text,
                                rule.resource_set.text,
                                target.text
                            ),
                        )
                        .at(rule.permission.span)
                        .help(format!(
                            "use a `{}:<action>` permission or a resource set of `{}`",
                            target.text, r.key.text
                        )),
                    );
                }
            }
        }
    }

    fn tenant(&mut self, t: &Name) {
        if t.text != DEFAULT_TENANT && !self.m.tenants.contains_key(&t.text) {
            let mut names: Vec<&str> = self
                .m
                .tenants
                .keys()
                .map(crate::model::Text::as_str)
                .collect();
            names.push(DEFAULT_TENANT);
            let d = unknown("model::unknown-tenant", "tenant", t, names);
            self.push(d);
        }
    }

    fn tenants(&mut self) {
        if let Some(t) = self.m.tenants.get(DEFAULT_TENANT) {
            // declaring `default` is allowed (to give it attributes); nothing to check
            let _ = t;
        }
    }

    fn stored_attrs(
        &mut self,
        attrs: &Attributes,
        decls: &BTreeMap<Text, AttrDecl>,
        builtins: &[(&str, AttrType)],
        owner: impl std::fmt::Display,
    ) {
        for a in attrs.values() {
            if builtins.iter().any(|(n, _)| *n == a.key.text) {
                self.push(
                    Diagnostic::error(
                        "model::builtin-attribute",
                        format!("`{}` is built in and cannot be stored", a.key.text),
                    )
                    .at(a.key.span),
                );
                continue;
            }
            match decls.get(a.key.text.as_str()) {
                None => self.push(
                    Diagnostic::error(
                        "model::unknown-attribute",
                        format!("attribute `{}` is not declared in {owner}", a.key.text),
                    )
                    .at(a.key.span)
                    .label("not declared")
                    .help(
                        did_you_mean(&a.key.text, decls.keys().map(Text::as_str))
                            .unwrap_or_else(|| format!("declare it in {owner}")),
                    ),
                ),
                Some(d) if !d.ty.admits(&a.value) => self.push(
                    Diagnostic::error(
                        "model::attribute-type",
                        format!(
                            "attribute `{}` is declared {} but holds {}",
                            a.key.text,
                            d.ty.as_str(),
                            json_kind(&a.value)
                        ),
                    )
                    .at(a.span)
                    .related(d.key.span, "declared"),
                ),
                Some(_) => {}
            }
        }
    }

    fn instance_type(&mut self, key: &Name) -> Option<&'m Resource> {
        match split_instance(&key.text) {
            // the common case needs no allocation; only a miss builds a name for the diagnostic
            Some((ty, _)) => match self.m.resources.get(ty) {
                Some(r) => Some(r),
                None => self.resource_named(&Name {
                    text: ty.into(),
                    span: key.span,
                }),
            },
            None => {
                self.push(
                    Diagnostic::error(
                        "model::invalid-instance",
                        format!("`{}` is not an instance reference", key.text),
                    )
                    .at(key.span)
                    .help("write `type:key`, e.g. `document:doc-1`"),
                );
                None
            }
        }
    }

    fn users(&mut self, now_ns: i64) {
        for u in self.m.users.values() {
            self.stored_attrs(
                &u.attributes,
                &self.m.user_attributes,
                BUILTIN_USER_ATTRS,
                "`user_attributes`",
            );
            for a in &u.roles {
                match &a.scope {
                    Scope::Tenant(t) => {
                        self.tenant(t);
                        if !self.m.roles.contains_key(&a.role.text) {
                            let mut d = unknown(
                                "model::unknown-role",
                                "role",
                                &a.role,
                                self.m
                                    .roles
                                    .keys()
                                    .map(crate::model::Text::as_str)
                                    .collect(),
                            );
                            if d.help.is_none()
                                && self
                                    .m
                                    .resources
                                    .values()
                                    .any(|r| r.roles.contains_key(&a.role.text))
                            {
                                d.help = Some(format!("`{}` is a resource role; assign it with `resource: \"type:key\"`", a.role.text));
                            }
                            self.push(d);
                        }
                    }
                    Scope::Resource(inst) => {
                        if let Some(r) = self.instance_type(inst) {
                            if !r.roles.contains_key(&a.role.text) {
                                let mut d = unknown(
                                    "model::unknown-role",
                                    "role",
                                    &a.role,
                                    r.roles.keys().map(crate::model::Text::as_str).collect(),
                                );
                                d.message = format!(
                                    "`{}` is not a role of resource `{}`",
                                    a.role.text, r.key.text
                                );
                                if d.help.is_none() && self.m.roles.contains_key(&a.role.text) {
                                    d.help = Some(format!(
                                        "`{}` is a tenant role; assign it with `tenant: T`",
                                        a.role.text
                                    ));
                                }
                                self.push(d);
                            }
                        }
                    }
                }
                if let Some(e) = &a.expires {
                    if e.until_ns <= now_ns {
                        self.push(
                            Diagnostic::warning(
                                "model::expired",
                                format!(
                                    "assignment of `{}` to `{}` expired at `{}`",
                                    a.role.text, u.key.text, e.text
                                ),
                            )
                            .at(e.span)
                            .label("in the past")
                            .help("it grants nothing; remove it, or extend `expires`"),
                        );
                    }
                }
            }
        }
    }

    fn instances(&mut self) {
        for i in self.m.resource_instances.values() {
            if let Some(t) = &i.tenant {
                self.tenant(t);
            }
            if let Some(r) = self.instance_type(&i.key) {
                self.stored_attrs(
                    &i.attributes,
                    &r.attributes,
                    BUILTIN_RESOURCE_ATTRS,
                    format_args!("the attributes of `{}`", r.key.text),
                );
            }
        }
    }

    fn relationships(&mut self) {
        for rel in &self.m.relationships {
            let subject = self.instance_type(&rel.subject);
            let Some(object) = self.instance_type(&rel.object) else {
                continue;
            };
            match object.relations.get(&rel.relation.text) {
                None => {
                    let mut d = unknown(
                        "model::unknown-relation",
                        "relation",
                        &rel.relation,
                        object
                            .relations
                            .keys()
                            .map(crate::model::Text::as_str)
                            .collect(),
                    );
                    d.message = format!(
                        "resource `{}` declares no relation `{}`",
                        object.key.text, rel.relation.text
                    );
                    self.push(d);
                }
                Some(decl) => {
                    if let Some(s) = subject {
                        if s.key.text != decl.target.text {
                            self.push(
                                Diagnostic::error(
                                    "model::relation-mismatch",
                                    format!(
                                        "the `{}` of a `{}` is a `{}`, but `{}` is a `{}`",
                                        decl.key.text,
                                        object.key.text,
                                        decl.target.text,
                                        rel.subject.text,
                                        s.key.text
                                    ),
                                )
                                .at(rel.subject.span)
                                .related(decl.key.span, "relation declared"),
                            );
                        }
                    }
                }
            }
        }
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

//! From YAML nodes to the typed model of one file, reporting every shape problem on the way.
//!
//! The reader never stops at the first problem: a bad value is reported and skipped, and reading
//! goes on, so one run lists every mistake. References between things are checked later, in
//! [`super::validate`], once all files are merged.

use super::*;
use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics};
use crate::yaml::{Kind, Node, Scalar};
use std::fmt::Display;

/// Top-level keys of a model file.
pub const TOP_LEVEL: &[&str] = &[
    "resources",
    "roles",
    "user_attributes",
    "user_sets",
    "resource_sets",
    "condition_set_rules",
    "tenants",
    "users",
    "resource_instances",
    "relationships",
];

/// A map whose keys have been checked against the fields its kind allows. It borrows the map's
/// entries as written (a user, an assignment, ... : hundreds of thousands in a large model, so
/// nothing is copied): a later duplicate of a key was reported and is never found, since the
/// first comes first, and a key that is not allowed never matches the allowed name asked for.
pub struct Fields<'n> {
    pub span: Span,
    entries: &'n [(Node, Node)],
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// Where `key` is written.
    pub fn key_span(&self, key: &str) -> Option<Span> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, _)| k.span)
    }
}

/// Reads nodes into model types, collecting diagnostics.
pub struct Reader<'d> {
    pub diags: &'d mut Diagnostics,
}

impl<'d> Reader<'d> {
    pub fn new(diags: &'d mut Diagnostics) -> Self {
        Reader { diags }
    }

    pub fn report(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub fn type_error(&mut self, node: &Node, what: impl Display, expected: &str) {
        self.report(
            Diagnostic::error(
                "model::type",
                format!("{what} must be {expected}, found {}", node.describe()),
            )
            .at(node.span)
            .label(format!("expected {expected}")),
        );
    }

    /// The entries of a user-named map (`resources`, `users`, ...). `null` is an empty map.
    /// Duplicate keys are reported and only the first is kept.
    pub fn entries<'n>(&mut self, node: &'n Node, what: impl Display) -> Vec<(Name, &'n Node)> {
        match &node.kind {
            Kind::Scalar(Scalar::Null) => Vec::new(),
            Kind::Map(entries) => {
                let mut out: Vec<(Name, &'n Node)> = Vec::with_capacity(entries.len());
                self.unique_keys(entries, &what, |_, text, k, v| {
                    out.push((Name { text, span: k.span }, v))
                });
                out
            }
            _ => {
                self.type_error(node, what, "a map");
                Vec::new()
            }
        }
    }

    /// A map with a fixed set of fields; unknown fields are reported with "did you mean", and
    /// so are keys given twice (the first counts) and keys that are not strings.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: impl Display,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let entries: &'n [(Node, Node)] = match &node.kind {
            Kind::Map(entries) => entries,
            Kind::Scalar(Scalar::Null) => &[],
            _ => {
                self.type_error(node, what, "a map");
                return None;
            }
        };
        self.unique_keys(entries, &what, |r, text, k, _| {
            if allowed.contains(&text.as_str()) {
                return;
            }
            let help = did_you_mean(&text, allowed.iter().copied())
                .unwrap_or_else(|| format!("known fields: {}", allowed.join(", ")));
            r.diags.push(
                Diagnostic::error(
                    "model::unknown-field",
                    format!("unknown field `{text}` in {what}"),
                )
                .at(k.span)
                .label("unknown field")
                .help(help),
            );
        });
        Some(Fields {
            span: node.span,
            entries,
        })
    }

    /// Calls `each` with the text, key and value of every entry whose key is a scalar given for
    /// the first time; reports the others. Small maps (most: a user, an assignment) are checked
    /// for repeats by scanning, big ones (`users`, `resources`) through a hash map.
    fn unique_keys<'n>(
        &mut self,
        entries: &'n [(Node, Node)],
        what: &impl Display,
        mut each: impl FnMut(&mut Self, Text, &'n Node, &'n Node),
    ) {
        let big = entries.len() > 16;
        let mut seen: std::collections::HashMap<Text, Span> =
            std::collections::HashMap::with_capacity(if big { entries.len() } else { 0 });
        for (i, (k, v)) in entries.iter().enumerate() {
            let Some(text) = k.key_text() else {
                self.type_error(k, format_args!("a key in {what}"), "a string");
                continue;
            };
            let first = if big {
                seen.get(&text).copied()
            } else {
                entries[..i]
                    .iter()
                    .find(|(p, _)| p.key_text().as_ref() == Some(&text))
                    .map(|(p, _)| p.span)
            };
            if let Some(first) = first {
                self.report(duplicate_key(&text, what, k.span, first));
                continue;
            }
            if big {
                seen.insert(text.clone(), k.span);
            }
            each(self, text, k, v);
        }
    }

    /// A list. `null` is an empty list.
    pub fn list<'n>(&mut self, node: &'n Node, what: impl Display) -> &'n [Node] {
        match &node.kind {
            Kind::Seq(items) => items,
            Kind::Scalar(Scalar::Null) => &[],
            _ => {
                self.type_error(node, what, "a list");
                &[]
            }
        }
    }

    pub fn string(&mut self, node: &Node, what: impl Display) -> Option<Name> {
        match &node.kind {
            Kind::Scalar(Scalar::Str(s)) => Some(Name {
                text: s.clone(),
                span: node.span,
            }),
            _ => {
                self.type_error(node, what, "a string");
                None
            }
        }
    }

    pub fn opt_string(&mut self, fields: &Fields<'_>, key: &str, what: &str) -> Option<String> {
        fields
            .get(key)
            .filter(|n| !n.is_null())
            .and_then(|n| self.string(n, format_args!("`{key}` of {what}")))
            .map(|n| n.text.into())
    }

    /// A schema name (resource, action, role, ...), checked against the name pattern.
    pub fn name(&mut self, node: &Node, what: &str) -> Option<Name> {
        let name = self.string(node, what)?;
        self.check_name(&name, what);
        Some(name)
    }

    /// Reports `name` if it does not match the name pattern. Returns whether it is valid.
    pub fn check_name(&mut self, name: &Name, what: &str) -> bool {
        if is_valid_name(&name.text) {
            return true;
        }
        self.report(
            Diagnostic::error(
                "model::invalid-name",
                format!("`{}` is not a valid name for {what}", name.text.escape_debug()),
            )
            .at(name.span)
            .label("invalid name")
            .help("names start with a letter or digit, then letters, digits, `_`, `.` or `-` (at most 128)"),
        );
        false
    }

    /// Reports `key` if it is not a valid user or instance key.
    pub fn check_key(&mut self, key: &Name, what: &str) -> bool {
        if is_valid_key(&key.text) {
            return true;
        }
        self.report(
            Diagnostic::error(
                "model::invalid-key",
                format!("`{}` is not a valid {what}", key.text.escape_debug()),
            )
            .at(key.span)
            .help("keys are non-empty printable text without control characters"),
        );
        false
    }

    /// A list of names, or a single name, e.g. `extends: [viewer]` / `extends: viewer`.
    pub fn names(&mut self, node: &Node, what: impl Display) -> Vec<Name> {
        if let Kind::Scalar(Scalar::Str(_)) = node.kind {
            return self.string(node, what).into_iter().collect();
        }
        self.list(node, &what)
            .iter()
            .filter_map(|n| self.string(n, &what))
            .collect()
    }

    fn attr_decls(&mut self, node: &Node, what: &str) -> BTreeMap<Text, AttrDecl> {
        let mut out = BTreeMap::new();
        for (key, v) in self.entries(node, what) {
            self.check_name(&key, "an attribute");
            // `{type: string}` or just `string`
            let ty_node = match &v.kind {
                Kind::Map(_) => match self.fields(
                    v,
                    format_args!("attribute `{}`", key.text),
                    &["type", "description"],
                ) {
                    Some(f) => match f.get("type") {
                        Some(t) => t,
                        None => {
                            self.report(missing(&key, "type", "attribute"));
                            continue;
                        }
                    },
                    None => continue,
                },
                _ => v,
            };
            let Some(ty) = self.string(
                ty_node,
                format_args!("the type of attribute `{}`", key.text),
            ) else {
                continue;
            };
            match AttrType::parse(&ty.text) {
                Some(t) => {
                    out.insert(key.text.clone(), AttrDecl { key, ty: t });
                }
                None => self.report(
                    Diagnostic::error(
                        "model::unknown-type",
                        format!("unknown attribute type `{}`", ty.text),
                    )
                    .at(ty.span)
                    .help(
                        did_you_mean(&ty.text, AttrType::NAMES).unwrap_or_else(|| {
                            format!("attribute types: {}", AttrType::NAMES.join(", "))
                        }),
                    ),
                ),
            }
        }
        out
    }

    /// Free-form attribute values (checked against declarations in validation).
    pub fn attr_values(&mut self, node: &Node, what: impl Display) -> Attributes {
        self.entries(node, what)
            .into_iter()
            .map(|(key, v)| AttrValue {
                key,
                value: v.to_json(),
                span: v.span,
            })
            .collect()
    }

    fn actions(&mut self, node: &Node, resource: &str) -> BTreeMap<Text, Action> {
        let what = format!("the actions of `{resource}`");
        let mut out = BTreeMap::new();
        let mut add = |r: &mut Self, key: Name, name, description| {
            if !r.check_name(&key, "an action") {
                return;
            }
            if let Some(first) = out.get(&key.text).map(|a: &Action| a.key.span) {
                r.report(
                    Diagnostic::error(
                        "model::duplicate",
                        format!("duplicate action `{}`", key.text),
                    )
                    .at(key.span)
                    .related(first, "first listed"),
                );
                return;
            }
            out.insert(
                key.text.clone(),
                Action {
                    key,
                    name,
                    description,
                },
            );
        };
        match &node.kind {
            Kind::Map(_) => {
                for (key, v) in self.entries(node, &what) {
                    let (mut name, mut description) = (None, None);
                    if !v.is_null() {
                        if let Some(f) = self.fields(
                            v,
                            format_args!("action `{}`", key.text),
                            &["name", "description"],
                        ) {
                            name = self.opt_string(&f, "name", "an action");
                            description = self.opt_string(&f, "description", "an action");
                        }
                    }
                    add(self, key, name, description);
                }
            }
            _ => {
                for item in self.list(node, &what) {
                    if let Some(key) = self.string(item, "an action") {
                        add(self, key, None, None);
                    }
                }
            }
        }
        out
    }

    fn role(&mut self, key: Name, node: &Node, what: &str, resource_role: bool) -> Option<Role> {
        let allowed: &[&str] = if resource_role {
            &[
                "name",
                "description",
                "permissions",
                "extends",
                "granted_to",
            ]
        } else {
            &["name", "description", "permissions", "extends"]
        };
        let f = self.fields(node, format_args!("{what} `{}`", key.text), allowed)?;
        let permissions = f
            .get("permissions")
            .map(|n| self.names(n, "a permission"))
            .unwrap_or_default();
        let extends = f
            .get("extends")
            .map(|n| self.names(n, "a role in `extends`"))
            .unwrap_or_default();
        let mut granted_to = Vec::new();
        if let Some(list) = f.get("granted_to") {
            for item in self.list(list, "`granted_to`") {
                let Some(g) = self.fields(
                    item,
                    "a `granted_to` derivation",
                    &["role", "on_resource", "linked_by_relation"],
                ) else {
                    continue;
                };
                let part = |r: &mut Self, k: &str| match g.get(k) {
                    Some(n) => r.string(n, format_args!("`{k}`")),
                    None => {
                        r.report(
                            Diagnostic::error(
                                "model::missing-field",
                                format!("a `granted_to` derivation needs `{k}`"),
                            )
                            .at(item.span)
                            .help("write `{role: R, on_resource: T, linked_by_relation: REL}`"),
                        );
                        None
                    }
                };
                let (role, on, rel) = (
                    part(self, "role"),
                    part(self, "on_resource"),
                    part(self, "linked_by_relation"),
                );
                if let (Some(role), Some(on_resource), Some(linked_by_relation)) = (role, on, rel) {
                    granted_to.push(Derivation {
                        span: item.span,
                        role,
                        on_resource,
                        linked_by_relation,
                    });
                }
            }
        }
        Some(Role {
            name: self.opt_string(&f, "name", what),
            description: self.opt_string(&f, "description", what),
            key,
            permissions,
            extends,
            granted_to,
        })
    }

    fn resource(&mut self, key: Name, node: &Node) -> Option<Resource> {
        let f = self.fields(
            node,
            format_args!("resource `{}`", key.text),
            &[
                "name",
                "description",
                "actions",
                "attributes",
                "roles",
                "relations",
            ],
        )?;
        let before = self.diags.error_count();
        let actions = f
            .get("actions")
            .map(|n| self.actions(n, &key.text))
            .unwrap_or_default();
        let actions_known = self.diags.error_count() == before;
        let attributes = f
            .get("attributes")
            .map(|n| self.attr_decls(n, &format!("the attributes of `{}`", key.text)))
            .unwrap_or_default();
        let mut roles = BTreeMap::new();
        if let Some(n) = f.get("roles") {
            for (rk, rn) in self.entries(n, format_args!("the roles of `{}`", key.text)) {
                self.check_name(&rk, "a role");
                if let Some(role) = self.role(rk, rn, "resource role", true) {
                    roles.insert(role.key.text.clone(), role);
                }
            }
        }
        let mut relations = BTreeMap::new();
        if let Some(n) = f.get("relations") {
            for (rk, rn) in self.entries(n, format_args!("the relations of `{}`", key.text)) {
                self.check_name(&rk, "a relation");
                // `parent: folder` or `parent: {resource: folder}`
                let target = match &rn.kind {
                    Kind::Map(_) => self
                        .fields(
                            rn,
                            format_args!("relation `{}`", rk.text),
                            &["resource", "name", "description"],
                        )
                        .and_then(|rf| rf.get("resource"))
                        .and_then(|t| self.string(t, "the resource of a relation")),
                    _ => self.string(rn, "the resource of a relation"),
                };
                if let Some(target) = target {
                    relations.insert(rk.text.clone(), Relation { key: rk, target });
                }
            }
        }
        if actions.is_empty() && actions_known {
            self.report(
                Diagnostic::warning(
                    "model::no-actions",
                    format!("resource `{}` has no actions", key.text),
                )
                .at(key.span)
                .help("add `actions: [read, ...]`; nothing can be allowed on it otherwise"),
            );
        }
        Some(Resource {
            name: self.opt_string(&f, "name", "a resource"),
            description: self.opt_string(&f, "description", "a resource"),
            key,
            actions,
            actions_known,
            attributes,
            roles,
            relations,
        })
    }

    fn assignment(&mut self, node: &Node, user: &Name) -> Option<Assignment> {
        let f = self.fields(
            node,
            format_args!("a role assignment of `{}`", user.text),
            &["role", "tenant", "resource", "expires"],
        )?;
        let role = match f.get("role") {
            Some(n) => self.string(n, "`role`")?,
            None => {
                self.report(
                    Diagnostic::error("model::missing-field", "a role assignment needs `role`")
                        .at(node.span)
                        .help(
                            "write `{role: R, tenant: T}` or `{role: R, resource: \"type:key\"}`",
                        ),
                );
                return None;
            }
        };
        let tenant = f.get("tenant").and_then(|n| self.string(n, "`tenant`"));
        let resource = f.get("resource").and_then(|n| self.string(n, "`resource`"));
        let scope = match (tenant, resource) {
            (Some(t), None) => Scope::Tenant(t),
            (None, Some(r)) => Scope::Resource(r),
            (Some(_), Some(r)) => {
                self.report(
                    Diagnostic::error(
                        "model::assignment-scope",
                        "a role assignment has either `tenant` or `resource`, not both",
                    )
                    .at(f.key_span("resource").unwrap_or(r.span))
                    .help("a tenant role uses `tenant`; a resource role uses `resource: \"type:key\"`"),
                );
                return None;
            }
            (None, None) => {
                if f.get("tenant").is_none() && f.get("resource").is_none() {
                    self.report(
                        Diagnostic::error(
                            "model::assignment-scope",
                            format!("role assignment of `{}` names neither `tenant` nor `resource`", role.text),
                        )
                        .at(role.span)
                        .help("add `tenant: T` for a tenant role or `resource: \"type:key\"` for a resource role"),
                    );
                }
                return None;
            }
        };
        // An unreadable `expires` is reported; the assignment is still read so that its role
        // and scope are checked in the same run.
        let expires = f
            .get("expires")
            .filter(|n| !n.is_null())
            .and_then(|n| self.expiry(n))
            .map(Box::new);
        Some(Assignment {
            span: node.span,
            role,
            scope,
            expires,
        })
    }

    fn expiry(&mut self, node: &Node) -> Option<Expiry> {
        let text = self.string(node, "`expires`")?;
        match parse_expiry(&text.text) {
            Some(until_ns) => Some(Expiry {
                until_ns,
                text: text.text.into(),
                span: text.span,
            }),
            None => {
                self.report(
                    Diagnostic::error(
                        "model::invalid-value",
                        format!("`{}` is not a date or an RFC 3339 time", text.text),
                    )
                    .at(text.span)
                    .help("write `2027-01-31` (valid through that day, UTC) or `2027-01-31T12:00:00Z`"),
                );
                None
            }
        }
    }

    fn user(&mut self, key: Name, node: &Node) -> Option<User> {
        let f = self.fields(
            node,
            format_args!("user `{}`", key.text),
            &["name", "email", "attributes", "roles"],
        )?;
        let attributes = f
            .get("attributes")
            .map(|n| self.attr_values(n, format_args!("the attributes of user `{}`", key.text)))
            .unwrap_or_default();
        let mut roles = Vec::new();
        if let Some(list) = f.get("roles") {
            let items = self.list(list, format_args!("the roles of user `{}`", key.text));
            roles.reserve_exact(items.len());
            for item in items {
                if let Some(a) = self.assignment(item, &key) {
                    roles.push(a);
                }
            }
        }
        Some(User {
            key,
            attributes,
            roles,
        })
    }

    fn relationship(&mut self, node: &Node) -> Option<Relationship> {
        let f = self.fields(node, "a relationship", &["subject", "relation", "object"])?;
        let part = |r: &mut Self, k: &str| match f.get(k) {
            Some(n) => r.string(n, format_args!("`{k}` of a relationship")),
            None => {
                r.report(
                    Diagnostic::error(
                        "model::missing-field",
                        format!("a relationship needs `{k}`"),
                    )
                    .at(node.span)
                    .help("write `{subject: \"folder:f1\", relation: parent, object: \"document:d1\"}`"),
                );
                None
            }
        };
        let (s, r, o) = (
            part(self, "subject"),
            part(self, "relation"),
            part(self, "object"),
        );
        Some(Relationship {
            span: node.span,
            subject: s?,
            relation: r?,
            object: o?,
        })
    }

    /// Reads one file's document into a partial model.
    pub fn file(&mut self, root: &Node) -> Model {
        let mut m = Model::default();
        let Some(top) = self.fields(root, "a model file", TOP_LEVEL) else {
            return m;
        };
        if let Some(n) = top.get("resources") {
            for (k, v) in self.entries(n, "`resources`") {
                self.check_name(&k, "a resource");
                if let Some(r) = self.resource(k, v) {
                    m.resources.insert(r.key.text.clone(), r);
                }
            }
        }
        if let Some(n) = top.get("roles") {
            for (k, v) in self.entries(n, "`roles`") {
                self.check_name(&k, "a role");
                if let Some(r) = self.role(k, v, "role", false) {
                    m.roles.insert(r.key.text.clone(), r);
                }
            }
        }
        if let Some(n) = top.get("user_attributes") {
            m.user_attributes = self.attr_decls(n, "`user_attributes`");
        }
        if let Some(n) = top.get("user_sets") {
            for (k, v) in self.entries(n, "`user_sets`") {
                self.check_name(&k, "a user set");
                let Some(f) = self.fields(
                    v,
                    format_args!("user set `{}`", k.text),
                    &["name", "description", "conditions"],
                ) else {
                    continue;
                };
                let Some(conditions) = self.required_conditions(&f, &k, "user set") else {
                    continue;
                };
                let name = self.opt_string(&f, "name", "a user set");
                m.user_sets.insert(
                    k.text.clone(),
                    UserSet {
                        key: k,
                        name,
                        conditions,
                    },
                );
            }
        }
        if let Some(n) = top.get("resource_sets") {
            for (k, v) in self.entries(n, "`resource_sets`") {
                self.check_name(&k, "a resource set");
                let Some(f) = self.fields(
                    v,
                    format_args!("resource set `{}`", k.text),
                    &["name", "description", "resource", "conditions"],
                ) else {
                    continue;
                };
                let resource = f.get("resource").and_then(|n| self.string(n, "`resource`"));
                if resource.is_none() && f.get("resource").is_none() {
                    self.report(
                        Diagnostic::error(
                            "model::missing-field",
                            format!("resource set `{}` needs `resource`", k.text),
                        )
                        .at(k.span)
                        .help(
                            "name the resource type its conditions apply to: `resource: document`",
                        ),
                    );
                }
                let Some(conditions) = self.required_conditions(&f, &k, "resource set") else {
                    continue;
                };
                let name = self.opt_string(&f, "name", "a resource set");
                m.resource_sets.insert(
                    k.text.clone(),
                    ResourceSet {
                        key: k,
                        name,
                        resource,
                        conditions,
                    },
                );
            }
        }
        if let Some(n) = top.get("condition_set_rules") {
            for item in self.list(n, "`condition_set_rules`") {
                let Some(f) = self.fields(
                    item,
                    "a condition set rule",
                    &["user_set", "permission", "resource_set"],
                ) else {
                    continue;
                };
                let part = |r: &mut Self, k: &str| match f.get(k) {
                    Some(n) => r.string(n, format_args!("`{k}`")),
                    None => {
                        r.report(
                            Diagnostic::error("model::missing-field", format!("a condition set rule needs `{k}`"))
                                .at(item.span)
                                .help("write `{user_set: U, permission: \"type:action\", resource_set: R}`"),
                        );
                        None
                    }
                };
                let (u, p, r) = (
                    part(self, "user_set"),
                    part(self, "permission"),
                    part(self, "resource_set"),
                );
                if let (Some(user_set), Some(permission), Some(resource_set)) = (u, p, r) {
                    m.condition_set_rules.push(ConditionSetRule {
                        span: item.span,
                        user_set,
                        permission,
                        resource_set,
                    });
                }
            }
        }
        if let Some(n) = top.get("tenants") {
            for (k, v) in self.entries(n, "`tenants`") {
                self.check_name(&k, "a tenant");
                let Some(f) = self.fields(
                    v,
                    format_args!("tenant `{}`", k.text),
                    &["name", "description", "attributes"],
                ) else {
                    continue;
                };
                let attributes = f
                    .get("attributes")
                    .map(|n| self.attr_values(n, "tenant attributes"))
                    .unwrap_or_default();
                let name = self.opt_string(&f, "name", "a tenant");
                m.tenants.insert(
                    k.text.clone(),
                    Tenant {
                        key: k,
                        name,
                        attributes,
                    },
                );
            }
        }
        if let Some(n) = top.get("users") {
            for (k, v) in self.entries(n, "`users`") {
                self.check_key(&k, "user key");
                if let Some(u) = self.user(k, v) {
                    m.users.insert(u.key.text.clone(), u);
                }
            }
        }
        if let Some(n) = top.get("resource_instances") {
            for (k, v) in self.entries(n, "`resource_instances`") {
                self.check_key(&k, "instance key");
                let Some(f) = self.fields(
                    v,
                    format_args!("instance `{}`", k.text),
                    &["tenant", "attributes"],
                ) else {
                    continue;
                };
                let tenant = f.get("tenant").and_then(|n| self.string(n, "`tenant`"));
                let attributes = f
                    .get("attributes")
                    .map(|n| self.attr_values(n, format_args!("the attributes of `{}`", k.text)))
                    .unwrap_or_default();
                m.resource_instances.insert(
                    k.text.clone(),
                    Instance {
                        key: k,
                        tenant,
                        attributes,
                    },
                );
            }
        }
        if let Some(n) = top.get("relationships") {
            for item in self.list(n, "`relationships`") {
                if let Some(r) = self.relationship(item) {
                    m.relationships.push(r);
                }
            }
        }
        m
    }

    fn required_conditions(&mut self, f: &Fields<'_>, key: &Name, what: &str) -> Option<Condition> {
        match f.get("conditions") {
            Some(n) => condition::read(self, n, 0),
            None => {
                self.report(
                    Diagnostic::error(
                        "model::missing-field",
                        format!("{what} `{}` needs `conditions`", key.text),
                    )
                    .at(key.span)
                    .help("e.g. `conditions: {allOf: [{user.department: {equals: engineering}}]}`"),
                );
                None
            }
        }
    }
}

fn duplicate_key(text: &str, what: &impl Display, again: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "model::duplicate",
        format!("duplicate key `{text}` in {what}"),
    )
    .at(again)
    .label("defined again here")
    .related(first, "first defined")
    .help("each key may appear once; merge the two definitions")
}

fn missing(key: &Name, field: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        "model::missing-field",
        format!("{what} `{}` needs `{field}`", key.text),
    )
    .at(key.span)
}

/// `2027-01-31` (valid through the end of that day, UTC) or an RFC 3339 time; returns the
/// first nanosecond at which it no longer holds.
pub fn parse_expiry(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return i64::try_from(t.unix_timestamp_nanos()).ok();
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &fmt).ok()?;
    let next = d.next_day()?.midnight().assume_utc();
    i64::try_from(next.unix_timestamp_nanos()).ok()
}

/// An instant: an RFC 3339 time, or a date meaning its midnight (UTC); nanoseconds since the
/// Unix epoch. (`expires` reads a date as the end of the day; "now" as its start.)
pub fn parse_instant(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return i64::try_from(t.unix_timestamp_nanos()).ok();
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &fmt).ok()?;
    i64::try_from(d.midnight().assume_utc().unix_timestamp_nanos()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_holds_through_the_end_of_the_day() {
        let end = parse_expiry("2027-01-31").unwrap();
        let exact = parse_expiry("2027-02-01T00:00:00Z").unwrap();
        assert_eq!(end, exact);
        assert!(parse_expiry("2027-13-01").is_none());
        assert!(parse_expiry("soon").is_none());
    }
}

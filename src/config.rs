//! `permit.yaml`: where the model, custom Rego, tests and guards live; environments; PDPs; bundles.

use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics};
use crate::model::read::Reader;
use crate::model::Name;
use crate::source::FileId;
use crate::yaml;
use std::collections::BTreeMap;

pub const FILE_NAME: &str = "permit.yaml";

#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    pub key: Name,
    pub branch: String,
    pub promote_from: Option<Name>,
    pub deny_widening: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pdp {
    pub url: Name,
    /// Name of the environment variable holding the bearer token (never the token itself).
    pub token_env: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BundleConfig {
    pub roots: Vec<String>,
    pub signing_key_env: Option<String>,
    pub signing_alg: Option<String>,
}

impl Default for BundleConfig {
    fn default() -> Self {
        BundleConfig {
            roots: vec!["permit".into()],
            signing_key_env: None,
            signing_alg: None,
        }
    }
}

/// Where guard files come from (SPEC section 6).
#[derive(Clone, Debug, PartialEq)]
pub enum GuardSource {
    /// A folder or file, relative to the project root; may be outside the repository.
    /// `required` is false only for the default `guards` folder, which may be absent.
    Path { path: Name, required: bool },
    /// A folder (or file) of another git repository at a ref: a local path or a URL.
    Git {
        repo: Name,
        rev: String,
        path: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The project's name, which guard scopes match (default: the project folder's name).
    pub name: Option<String>,
    pub policy: String,
    pub custom: String,
    pub tests: String,
    pub guards: Vec<GuardSource>,
    pub environments: BTreeMap<String, Environment>,
    pub pdps: BTreeMap<String, Vec<Pdp>>,
    pub bundle: BundleConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: None,
            policy: "policy".into(),
            custom: "custom".into(),
            tests: "tests".into(),
            guards: vec![GuardSource::Path {
                path: Name {
                    text: "guards".into(),
                    span: crate::source::Span::default(),
                },
                required: false,
            }],
            environments: BTreeMap::new(),
            pdps: BTreeMap::new(),
            bundle: BundleConfig::default(),
        }
    }
}

const TOP: &[&str] = &[
    "name",
    "policy",
    "custom",
    "tests",
    "guards",
    "environments",
    "pdps",
    "bundle",
];

/// `guards:`: a list of paths and `{git, ref, path}` maps (a single path is a list of one).
fn guard_sources(r: &mut Reader<'_>, node: &yaml::Node) -> Vec<GuardSource> {
    let items: Vec<&yaml::Node> = match &node.kind {
        yaml::Kind::Seq(items) => items.iter().collect(),
        _ if node.is_null() => Vec::new(),
        _ => vec![node],
    };
    let mut out = Vec::new();
    for item in items {
        if let yaml::Kind::Map(_) = item.kind {
            let Some(f) = r.fields(item, "a guard source", &["git", "ref", "path"]) else {
                continue;
            };
            let Some(repo) = f.get("git").and_then(|g| r.string(g, "`git`")) else {
                if f.get("git").is_none() {
                    r.report(
                        Diagnostic::error(
                            "config::missing-field",
                            "a guard source map needs `git` (a repository path or URL)",
                        )
                        .at(item.span)
                        .help("`{git: ../org-policies, ref: main, path: guards}`, or a plain folder path"),
                    );
                }
                continue;
            };
            out.push(GuardSource::Git {
                repo,
                rev: r
                    .opt_string(&f, "ref", "a guard source")
                    .unwrap_or_else(|| "HEAD".into()),
                path: r
                    .opt_string(&f, "path", "a guard source")
                    .unwrap_or_default(),
            });
        } else if let Some(path) = r.string(item, "a guard source (a path or `{git, ref, path}`)") {
            out.push(GuardSource::Path {
                path,
                required: true,
            });
        }
    }
    out
}

/// Parses `permit.yaml`. Any error makes the whole config unusable (exit 2).
pub fn parse(text: &str, file: FileId) -> Result<Config, Diagnostics> {
    let mut diags = Diagnostics::default();
    let root = match yaml::parse(text, file) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return Err(diags);
        }
    };
    let mut c = Config::default();
    {
        let mut r = Reader::new(&mut diags);
        if let Some(top) = r.fields(&root, "`permit.yaml`", TOP) {
            for (key, slot) in [
                ("policy", &mut c.policy),
                ("custom", &mut c.custom),
                ("tests", &mut c.tests),
            ] {
                if let Some(n) = top.get(key) {
                    if let Some(v) = r.string(n, format!("`{key}`")) {
                        *slot = v.text.into();
                    }
                }
            }
            if let Some(n) = top.get("name") {
                c.name = r.name(n, "the project's `name`").map(|n| n.text.into());
            }
            if let Some(n) = top.get("guards") {
                c.guards = guard_sources(&mut r, n);
            }
            if let Some(n) = top.get("environments") {
                for (key, v) in r.entries(n, "`environments`") {
                    r.check_name(&key, "an environment");
                    let Some(f) = r.fields(
                        v,
                        format!("environment `{}`", key.text),
                        &["branch", "promote_from", "deny_widening"],
                    ) else {
                        continue;
                    };
                    let Some(branch) = f.get("branch").and_then(|b| r.string(b, "`branch`")) else {
                        if f.get("branch").is_none() {
                            r.report(
                                Diagnostic::error(
                                    "config::missing-field",
                                    format!("environment `{}` needs `branch`", key.text),
                                )
                                .at(key.span)
                                .help("environments are branches: `branch: env/staging`"),
                            );
                        }
                        continue;
                    };
                    let promote_from = f
                        .get("promote_from")
                        .filter(|n| !n.is_null())
                        .and_then(|p| r.string(p, "`promote_from`"));
                    let deny_widening = match f.get("deny_widening") {
                        None => false,
                        Some(n) => match &n.kind {
                            yaml::Kind::Scalar(yaml::Scalar::Bool(b)) => *b,
                            _ => {
                                r.type_error(n, "`deny_widening`", "true or false");
                                false
                            }
                        },
                    };
                    c.environments.insert(
                        key.text.to_string(),
                        Environment {
                            key,
                            branch: branch.text.into(),
                            promote_from,
                            deny_widening,
                        },
                    );
                }
            }
            if let Some(n) = top.get("pdps") {
                for (env, v) in r.entries(n, "`pdps`") {
                    let mut list = Vec::new();
                    for item in r.list(v, format!("the PDPs of `{}`", env.text)) {
                        let Some(f) = r.fields(item, "a PDP", &["url", "token_env"]) else {
                            continue;
                        };
                        let Some(url) = f.get("url").and_then(|u| r.string(u, "`url`")) else {
                            if f.get("url").is_none() {
                                r.report(
                                    Diagnostic::error("config::missing-field", "a PDP needs `url`")
                                        .at(item.span),
                                );
                            }
                            continue;
                        };
                        let token_env = r.opt_string(&f, "token_env", "a PDP");
                        list.push(Pdp { url, token_env });
                    }
                    c.pdps.insert(env.text.to_string(), list);
                    if !c.environments.is_empty() && !c.environments.contains_key(env.text.as_str())
                    {
                        let names: Vec<&str> = c.environments.keys().map(String::as_str).collect();
                        r.report(
                            Diagnostic::error(
                                "config::unknown-environment",
                                format!("PDPs listed for unknown environment `{}`", env.text),
                            )
                            .at(env.span)
                            .maybe_help(did_you_mean(&env.text, names)),
                        );
                    }
                }
            }
            if let Some(n) = top.get("bundle") {
                if let Some(f) =
                    r.fields(n, "`bundle`", &["roots", "signing_key_env", "signing_alg"])
                {
                    if let Some(roots) = f.get("roots") {
                        c.bundle.roots = r
                            .names(roots, "a bundle root")
                            .into_iter()
                            .map(|n| n.text.into())
                            .collect();
                    }
                    c.bundle.signing_key_env = r.opt_string(&f, "signing_key_env", "`bundle`");
                    c.bundle.signing_alg = r.opt_string(&f, "signing_alg", "`bundle`");
                }
            }
        }
    }
    for env in c.environments.values() {
        if let Some(from) = &env.promote_from {
            if !c.environments.contains_key(from.text.as_str()) {
                let names: Vec<&str> = c.environments.keys().map(String::as_str).collect();
                diags.push(
                    Diagnostic::error(
                        "config::unknown-environment",
                        format!("`promote_from` names unknown environment `{}`", from.text),
                    )
                    .at(from.span)
                    .maybe_help(did_you_mean(&from.text, names)),
                );
            }
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(c)
    }
}

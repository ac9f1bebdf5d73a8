//! Guards (SPEC section 6): organisation-wide rules every project in scope must obey, in the
//! shape of Permit's Policy Guards.
//!
//! [`source`] finds the guard files (folders, files outside the repository, another repository at
//! a ref), [`read`] parses them with spans, [`names`] checks the names they use against the model,
//! [`path`] finds how a role reaches a permission through the schema, and [`enforce`] turns all
//! of that into violations. Commands call [`Guards::load`] then [`Guards::enforce`].

pub mod enforce;
pub mod names;
pub mod path;
pub mod read;
pub mod source;

use crate::diagnostics::Diagnostics;
use crate::error::Error;
use crate::model::{Model, Name};
use crate::project::Project;
use crate::source::{SourceMap, Span};

/// Who a rule is about.
#[derive(Clone, Debug, PartialEq)]
pub enum Who {
    /// A role name: the tenant role and every resource role of that name.
    Role(Name),
    UserSet(Name),
}

/// One guard rule: `{resource, action, role | user_set, resource_set?, is_allowed}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// The whole rule.
    pub span: Span,
    /// The resource type; `None` when only `resource_set` gives it.
    pub resource: Option<Name>,
    /// An action, or `*` for every action of the resource.
    pub action: Name,
    pub who: Who,
    pub resource_set: Option<Name>,
    pub is_allowed: bool,
}

/// Which projects and environments a guard file binds; an empty list binds all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    pub projects: Vec<Name>,
    pub environments: Vec<Name>,
}

/// One guard file.
#[derive(Clone, Debug, PartialEq)]
pub struct GuardFile {
    /// The name shown to people (relative to the project root, or `repo@ref:path`).
    pub name: String,
    pub scope: Scope,
    pub rules: Vec<Rule>,
}

/// Where a check runs: the project's name and, when known, its environment.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub project: String,
    pub environment: Option<String>,
}

impl Rule {
    /// Where violations point: the role or user set the rule is about.
    pub fn subject_span(&self) -> Span {
        match &self.who {
            Who::Role(n) | Who::UserSet(n) => n.span,
        }
    }
}

impl Scope {
    /// Whether this scope binds `target`. A scope naming environments binds nothing when the
    /// environment is unknown (a feature branch): such guards bind where they are promoted.
    pub fn binds(&self, target: &Target) -> bool {
        let project_ok =
            self.projects.is_empty() || self.projects.iter().any(|p| p.text == target.project);
        let env_ok = self.environments.is_empty()
            || target
                .environment
                .as_ref()
                .is_some_and(|e| self.environments.iter().any(|x| x.text == *e));
        project_ok && env_ok
    }
}

/// The guards that bind one target, with the problems found reading them.
#[derive(Debug, Default)]
pub struct Guards {
    pub files: Vec<GuardFile>,
    /// Guard files that exist but do not bind this target (shown as a note).
    pub skipped: usize,
    /// Problems in the guard files themselves (shape errors are errors; see [`names`]).
    pub diags: Diagnostics,
}

impl Guards {
    /// Reads every guard file `project` names and keeps those whose scope binds `target`.
    /// Files are registered in `project.sources` so diagnostics can show them.
    pub fn load(project: &mut Project, target: &Target) -> Result<Guards, Error> {
        let (inputs, diags) = source::inputs(project)?;
        let mut guards = Guards {
            diags,
            ..Guards::default()
        };
        for input in inputs {
            let (file, diags) = read::file(input, &mut project.sources);
            guards.diags.extend(diags);
            match file {
                Some(f) if f.scope.binds(target) => guards.files.push(f),
                Some(_) => guards.skipped += 1,
                None => {}
            }
        }
        Ok(guards)
    }

    /// How many rules bind.
    pub fn rule_count(&self) -> usize {
        self.files.iter().map(|f| f.rules.len()).sum()
    }

    /// Name warnings and violations against `model` (valid) at instant `now`.
    pub fn enforce(&self, model: &Model, now: i64, sources: &SourceMap) -> Diagnostics {
        let mut out = Diagnostics::default();
        let mut checker = enforce::Checker::new(model, now);
        for file in &self.files {
            for rule in &file.rules {
                if let Some(ty) = names::check(rule, model, &mut out) {
                    for d in checker.rule(rule, ty, sources) {
                        out.push(d);
                    }
                }
            }
        }
        out
    }
}

/// The target a project's commands check: its name, and the environment whose branch is
/// `branch` (the checked-out branch, or the one being promoted into or pushed).
pub fn target(project: &Project, environment: Option<&str>) -> Target {
    let name = project.config.name.clone().unwrap_or_else(|| {
        project
            .root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Target {
        project: name,
        environment: environment.map(str::to_string),
    }
}

/// The environment whose branch is checked out in the project's repository, if any.
pub fn current_environment(project: &Project) -> Option<String> {
    let repo = crate::git::Repo::open(&project.root).ok()?;
    environment_of_branch(project, &repo.head_branch()?)
}

/// The environment whose `branch` is `branch`, if any.
pub fn environment_of_branch(project: &Project, branch: &str) -> Option<String> {
    project
        .config
        .environments
        .iter()
        .find(|(_, e)| e.branch == branch)
        .map(|(k, _)| k.clone())
}

/// The guards of one target checked against one model: problems in the guard files, names the
/// model lacks, and violations, in one list.
pub struct Report {
    pub diags: Diagnostics,
    pub files: usize,
    pub rules: usize,
    /// Guard files whose scope does not bind the target.
    pub skipped: usize,
    pub target: Target,
}

impl Report {
    /// The violations (and guard-file errors): what fails a command.
    pub fn errors(&self) -> impl Iterator<Item = &crate::diagnostics::Diagnostic> {
        self.diags.items.iter().filter(|d| d.is_error())
    }

    pub fn failed(&self) -> bool {
        self.diags.has_errors()
    }

    /// "3 rules in 2 files, 1 violated" and the like, for summaries and audit records.
    pub fn summary(&self) -> String {
        if self.files == 0 && self.skipped == 0 {
            return "none configured".into();
        }
        let errors = self.diags.error_count();
        let mut s = format!(
            "{} rule{} in {} file{}",
            self.rules,
            if self.rules == 1 { "" } else { "s" },
            self.files,
            if self.files == 1 { "" } else { "s" }
        );
        if self.skipped > 0 {
            s.push_str(&format!(" ({} out of scope)", self.skipped));
        }
        s.push_str(&if errors == 0 {
            ", all hold".to_string()
        } else {
            format!(", {errors} problem{}", if errors == 1 { "" } else { "s" })
        });
        s
    }
}

/// Loads the guards binding `project` in `environment` and checks `model` against them
/// (`None` when the model has errors: the guard files are still read and checked).
pub fn check(
    project: &mut Project,
    model: Option<&Model>,
    environment: Option<&str>,
) -> Result<Report, Error> {
    let target = target(project, environment);
    let guards = Guards::load(project, &target)?;
    let mut diags = guards.diags.clone();
    if let Some(model) = model {
        diags.extend(guards.enforce(model, crate::project::now_ns(), &project.sources));
    }
    diags.sort();
    Ok(Report {
        diags,
        files: guards.files.len(),
        rules: guards.rule_count(),
        skipped: guards.skipped,
        target,
    })
}

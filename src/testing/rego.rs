//! Rego unit tests (`test_*` rules in `*_test.rego`), as `opa test` runs them.

use crate::compile::Module;
use crate::source::Span;

/// One `test_` rule.
#[derive(Debug, Clone)]
pub struct RegoTest {
    /// `data.<package>.<rule>`
    pub path: String,
    pub name: String,
    pub span: Span,
}

/// The `test_` rules a module defines (rule heads at the start of a line; functions excluded).
pub fn tests_in(module: &Module, file: crate::source::FileId) -> Vec<RegoTest> {
    let mut package = None;
    let mut out: Vec<RegoTest> = Vec::new();
    for (i, line) in module.text.lines().enumerate() {
        if let Some(p) = line.strip_prefix("package ") {
            package = Some(p.trim().to_string());
            continue;
        }
        let Some(rest) = line.strip_prefix("test_") else {
            continue;
        };
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let after = rest[name_len..].trim_start();
        if after.starts_with('(') || after.starts_with('[') || after.starts_with('.') {
            continue; // a function or a ref head, not a test
        }
        let name = format!("test_{}", &rest[..name_len]);
        let Some(pkg) = &package else { continue };
        let path = format!("data.{pkg}.{name}");
        if out.iter().any(|t| t.path == path) {
            continue; // several bodies of one test rule
        }
        out.push(RegoTest {
            path,
            span: Span::new(file, i + 1, 0, name.len()),
            name,
        });
    }
    out
}

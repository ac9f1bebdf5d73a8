//! Diagnostics: what is wrong, where, and how to fix it; "did you mean"; rendering.
//!
//! Domain code collects [`Diagnostic`]s and never prints. The command layer renders them, as
//! miette reports for people or as JSON objects for CI bots and editors.

use crate::source::{SourceMap, Span};
use serde::Serialize;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in the user's files.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `model::unknown-field`.
    pub code: &'static str,
    /// One lowercase line, values in backticks.
    pub message: String,
    pub span: Option<Span>,
    /// Text under the highlighted key.
    pub label: Option<String>,
    /// The remedy, e.g. "did you mean `editor`?".
    pub help: Option<String>,
    /// A second place worth showing (the first definition of a duplicate, ...).
    pub related: Option<(Span, String)>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: clip(message.into()),
            span: None,
            label: None,
            help: None,
            related: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(clip(label.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(clip(help.into()));
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help.map(clip);
        }
        self
    }

    pub fn related(mut self, span: Span, text: impl Into<String>) -> Self {
        self.related = Some((span, text.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Longest message, label or help kept whole, in characters.
const MAX_TEXT: usize = 400;

/// Shortens text quoting a huge value (a 10 MB key is reported in a line, not in 10 MB): the
/// head and the tail stay, the middle becomes `…`.
fn clip(s: String) -> String {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let n = s.chars().count();
    if n <= MAX_TEXT {
        return s;
    }
    let head: String = s.chars().take(MAX_TEXT - 100).collect();
    let tail: String = s.chars().skip(n - 80).collect();
    format!(
        "{head} … ({} characters) … {tail}",
        n - (MAX_TEXT - 100) - 80
    )
}

/// Diagnostics of one run, in the order they were found.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// Sorts by file, then position, so output is stable whatever order files were read in.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            let key = |d: &Diagnostic| d.span.map(|s| (s.file, s.line, s.col));
            key(a).cmp(&key(b)).then_with(|| a.message.cmp(&b.message))
        });
    }
}

/// The closest candidate to `wanted`, if one is close enough to be a likely typo.
pub fn closest<'a, I>(wanted: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    // Names are at most 128 characters; beyond that a suggestion is noise, and comparing two
    // long strings edit by edit is quadratic in time and memory (strsim builds an n×m table:
    // two 100 KB names asked for 80 GB).
    if wanted.len() > 256 {
        return None;
    }
    let limit = (wanted.chars().count() / 3).clamp(1, 3);
    let lower = wanted.to_lowercase();
    let len = lower.chars().count();
    candidates
        .into_iter()
        // cheap length check first: a directory has 100,000 user keys
        .filter(|c| c.len().abs_diff(len) <= limit * 4 && c.chars().count().abs_diff(len) <= limit)
        .filter_map(|c| {
            let d = strsim::damerau_levenshtein(&lower, &c.to_lowercase());
            (d <= limit && c != wanted).then_some((d, c))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// "did you mean `x`?" for the closest candidate, if any.
pub fn did_you_mean<'a, I>(wanted: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(wanted, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// A diagnostic as JSON: the shape `permit check --format json` prints.
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub severity: Severity,
    pub code: &'a str,
    pub message: &'a str,
    pub file: Option<&'a str>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub end_column: Option<u32>,
    pub help: Option<&'a str>,
}

impl Diagnostic {
    pub fn to_json<'a>(&'a self, sources: &'a SourceMap) -> JsonDiagnostic<'a> {
        JsonDiagnostic {
            severity: self.severity,
            code: self.code,
            message: &self.message,
            file: self.span.map(|s| sources.name(s.file)),
            line: self.span.map(|s| s.line),
            column: self.span.map(|s| s.col + 1),
            end_column: self.span.map(|s| s.col + 1 + s.len),
            help: self.help.as_deref(),
        }
    }
}

/// Renders diagnostics for people, with the source line and the key highlighted.
pub struct Renderer {
    color: bool,
    width: usize,
}

impl Renderer {
    pub fn new(color: bool) -> Self {
        Renderer { color, width: 100 }
    }

    pub fn render(&self, d: &Diagnostic, sources: &SourceMap) -> String {
        let theme = if self.color {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme)
            .with_width(self.width)
            .with_links(false);
        let report = Report::new(d, sources);
        let mut out = String::new();
        if handler.render_report(&mut out, &report).is_err() {
            out = plain(d, sources);
        }
        out
    }
}

/// A one-line rendering: `file:line:col: error[code]: message (help)`.
pub fn plain(d: &Diagnostic, sources: &SourceMap) -> String {
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let at = d
        .span
        .map(|s| format!("{}: ", sources.location(s)))
        .unwrap_or_default();
    let help = d
        .help
        .as_ref()
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    format!("{at}{sev}[{}]: {}{help}", d.code, d.message)
}

/// A GitHub Actions workflow command that annotates the file line in the pull request.
pub fn github_annotation(d: &Diagnostic, sources: &SourceMap) -> String {
    // Workflow commands escape `%`, CR and LF in data, and also `:` and `,` in properties.
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let prop = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut props = vec![format!("title={}", prop(d.code))];
    if let Some(s) = d.span {
        props.insert(0, format!("file={}", prop(sources.name(s.file))));
        props.insert(1, format!("line={}", s.line));
        props.insert(2, format!("col={}", s.col + 1));
    }
    let mut msg = d.message.clone();
    if let Some(h) = &d.help {
        msg.push_str(" (");
        msg.push_str(h);
        msg.push(')');
    }
    format!("::{level} {}::{}", props.join(","), data(&msg))
}

/// Longest source line drawn in a snippet, in bytes.
const MAX_DRAWN_LINE: usize = 1000;

/// The length in bytes of the line holding byte `at`.
fn line_len_at(text: &str, at: usize) -> usize {
    let b = text.as_bytes();
    let at = at.min(b.len());
    let start = b[..at]
        .iter()
        .rposition(|c| *c == b'\n')
        .map_or(0, |i| i + 1);
    let end = b[at..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |i| at + i);
    end - start
}

/// Adapter from our [`Diagnostic`] to miette's trait, carrying the file text it points into.
struct Report<'a> {
    d: &'a Diagnostic,
    source: Option<miette::NamedSource<std::sync::Arc<str>>>,
    labels: Vec<miette::LabeledSpan>,
    help: Option<String>,
}

impl<'a> Report<'a> {
    fn new(d: &'a Diagnostic, sources: &SourceMap) -> Self {
        let mut labels = Vec::new();
        let mut source = None;
        // where a span cannot be drawn, the help says where it is instead
        let mut notes = Vec::new();
        let drawable =
            |text: &str, (start, _): &(usize, usize)| line_len_at(text, *start) <= MAX_DRAWN_LINE;
        if let Some(span) = d.span {
            let drawn = sources
                .file(span.file)
                .zip(sources.byte_range(span))
                .filter(|(file, range)| drawable(&file.text, range));
            match drawn {
                Some((file, range)) => {
                    source = Some(
                        miette::NamedSource::new(file.name.clone(), file.text.clone())
                            .with_language("yaml"),
                    );
                    labels.push(miette::LabeledSpan::new_primary_with_span(
                        d.label.clone(),
                        range,
                    ));
                    if let Some((rel, text)) = &d.related {
                        let rel_drawn = sources
                            .byte_range(*rel)
                            .filter(|_| rel.file == span.file)
                            .filter(|range| drawable(&file.text, range));
                        match rel_drawn {
                            Some(range) => labels.push(miette::LabeledSpan::new_with_span(
                                Some(text.clone()),
                                range,
                            )),
                            None => notes.push(format!("{text} at {}", sources.location(*rel))),
                        }
                    }
                }
                None => {
                    // miette panics on lines past 65,535 characters, and a snippet of one would
                    // be unreadable anyway: say where instead of drawing it.
                    notes.push(format!("at {}", sources.location(span)));
                    if let Some((rel, text)) = &d.related {
                        notes.push(format!("{text} at {}", sources.location(*rel)));
                    }
                }
            }
        }
        let help = d
            .help
            .iter()
            .cloned()
            .chain(notes)
            .reduce(|a, b| format!("{a}\n{b}"));
        Report {
            d,
            source,
            labels,
            help,
        }
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.d.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.d.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.d.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: miette panics ("Formatting argument out of range") drawing a line longer
    /// than 65,535 characters, so `permit check` crashed on a diagnostic in a long line.
    #[test]
    fn diagnostics_on_very_long_lines_render_without_a_snippet() {
        let mut sources = SourceMap::default();
        let text = format!("a: [{}]\nb: 1\n", "x".repeat(100_000));
        let id = sources.add("m.yaml".into(), std::path::Path::new("m.yaml"), text.into());
        let d = Diagnostic::error("test::long", "a problem on a long line")
            .at(Span::new(id, 1, 3, 5))
            .related(Span::new(id, 2, 0, 1), "see also");
        let out = Renderer::new(false).render(&d, &sources);
        assert!(out.contains("at m.yaml:1:4"), "{out}");
        assert!(out.contains("see also at m.yaml:2:1"), "{out}");
        assert!(
            out.len() < 2000,
            "the long line was drawn: {} bytes",
            out.len()
        );
        // a short line still gets its snippet
        let d = Diagnostic::error("test::short", "a problem").at(Span::new(id, 2, 0, 1));
        assert!(Renderer::new(false).render(&d, &sources).contains("b: 1"));
    }

    #[test]
    fn suggests_near_names_only() {
        let names = ["permissions", "extends", "granted_to"];
        assert_eq!(closest("permisions", names), Some("permissions"));
        assert_eq!(closest("extend", names), Some("extends"));
        assert_eq!(closest("colour", names), None);
        assert_eq!(closest("dlete", ["read", "delete"]), Some("delete"));
    }
}

//! YAML 1.2 (core schema) into a tree of nodes that keep their positions.
//!
//! We build our own tree from saphyr-parser's events rather than deserializing with serde so that
//! (a) every key and value keeps its span, (b) duplicate keys are seen, not silently merged, and
//! (c) scalars follow YAML 1.2's core schema (`yes`/`no`/`on`/`off` stay strings). Nesting depth
//! and alias expansion are bounded so hostile input cannot exhaust the stack or memory.

use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Span};
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

mod fast;

/// Text read from the model files. Names, keys and short values are at most 24 bytes nearly
/// always, and a `CompactString` keeps those inline: the large model holds millions of them,
/// and a heap allocation each was most of its memory and of the time spent loading it.
pub type Text = compact_str::CompactString;

/// Deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 128;
/// Most nodes one file may produce, aliases expanded.
pub const MAX_NODES: usize = 20_000_000;
/// Most values anchors and aliases may copy in one file (guards against "billion laughs": a
/// kilobyte of nested aliases would otherwise expand to `MAX_NODES` values, gigabytes of memory).
/// Real models use aliases for small shared fragments, far below this.
pub const MAX_ALIAS_NODES: usize = 1_000_000;
/// Most text (bytes of strings) anchors and aliases may copy in one file: a few aliases of a
/// long string would otherwise copy gigabytes while staying under [`MAX_ALIAS_NODES`].
pub const MAX_ALIAS_BYTES: usize = 64 << 20;

#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub span: Span,
}

impl Node {
    /// What a user would call this kind of value, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(Scalar::Null) => "null",
            Kind::Scalar(Scalar::Bool(_)) => "a boolean",
            Kind::Scalar(Scalar::Int(_)) | Kind::Scalar(Scalar::Float(_)) => "a number",
            Kind::Scalar(Scalar::Str(_)) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a map",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Scalar(Scalar::Null))
    }

    /// The text of a scalar used as a key or name: strings as they are, other scalars as written.
    pub fn key_text(&self) -> Option<Text> {
        match &self.kind {
            Kind::Scalar(Scalar::Str(s)) => Some(s.clone()),
            Kind::Scalar(Scalar::Int(i)) => Some(i.to_string().into()),
            Kind::Scalar(Scalar::Float(f)) => Some(f.to_string().into()),
            Kind::Scalar(Scalar::Bool(b)) => Some(b.to_string().into()),
            Kind::Scalar(Scalar::Null) => None,
            _ => None,
        }
    }

    /// The node as JSON (attribute values and anything else stored verbatim in data).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Scalar(Scalar::Null) => Value::Null,
            Kind::Scalar(Scalar::Bool(b)) => Value::Bool(*b),
            Kind::Scalar(Scalar::Int(i)) => Value::from(*i),
            Kind::Scalar(Scalar::Float(f)) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Kind::Scalar(Scalar::Str(s)) => Value::String(s.to_string()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text().unwrap_or_default().into(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses one file. An empty file (or one holding only comments) is `null`.
/// More than one document in a file is an error: the model has one document per file.
///
/// Text in the plain subset most model files are written in is read by [`fast`]; anything else,
/// and every error, by saphyr-parser. Both give the same tree.
pub fn parse(text: &str, file: FileId) -> Result<Node, Diagnostic> {
    match parse_fast(text, file) {
        Some(node) => Ok(node),
        None => parse_general(text, file),
    }
}

/// The tree of `text` when [`fast`] can read it: `None` when the text is outside its subset or
/// holds an error.
pub fn parse_fast(text: &str, file: FileId) -> Option<Node> {
    let mut builder = Builder::new(file);
    fast::events(text, &mut builder).ok()?;
    builder.finish().ok()
}

/// The tree of `text` read by saphyr-parser, which reads all of YAML and reports its errors.
pub fn parse_general(text: &str, file: FileId) -> Result<Node, Diagnostic> {
    let mut builder = Builder::new(file);
    for event in Parser::new_from_str(text) {
        let (event, span) = match event {
            Ok(e) => e,
            Err(e) => return Err(syntax_error(text, file, &builder, &e)),
        };
        builder.event(event, span)?;
    }
    builder.finish()
}

/// A scan error, pointed at its cause where we can tell: an unclosed `[` or `{` is reported at
/// the bracket, not where the parser gave up; a position past the end is moved onto the text.
fn syntax_error(text: &str, file: FileId, b: &Builder, e: &saphyr_parser::ScanError) -> Diagnostic {
    let m = e.marker();
    if e.info().contains("recursion limit") {
        // saphyr's own nesting guard can fire before ours: the same problem, the same code
        return Diagnostic::error(
            "yaml::too-deep",
            format!("values are nested more than {MAX_DEPTH} levels deep"),
        )
        .at(Span::new(file, m.line(), m.col(), 1))
        .label("too deep here");
    }
    let lines = text.lines().count().max(1);
    let char_at = |span: Span| {
        text.lines()
            .nth(span.line.saturating_sub(1) as usize)
            .and_then(|l| l.chars().nth(span.col as usize))
    };
    let innermost = b.stack.last().map(|o| match o {
        Open::Seq(_, s, _) | Open::Map(_, _, s, _) => *s,
    });
    if let Some(start) = innermost {
        if let Some(open @ ('[' | '{')) = char_at(start) {
            if (start.line as usize) < m.line() || m.line() > lines {
                let close = if open == '[' { ']' } else { '}' };
                return Diagnostic::error(
                    "yaml::syntax",
                    format!("invalid YAML: this `{open}` is never closed"),
                )
                .at(Span { len: 1, ..start })
                .label("opened here")
                .help(format!(
                    "add the closing `{close}` (the parser gave up at line {}: {})",
                    m.line().min(lines),
                    e.info()
                ));
            }
        }
    }
    let (line, col) = if m.line() > lines {
        let last = text.lines().last().unwrap_or("");
        (lines, last.chars().count())
    } else {
        (m.line(), m.col())
    };
    Diagnostic::error("yaml::syntax", format!("invalid YAML: {}", e.info()))
        .at(Span::new(file, line, col, 1))
        .label("here")
}

enum Open {
    Seq(Vec<Node>, Span, usize),
    /// entries, pending key, start, anchor
    Map(Vec<(Node, Node)>, Option<Node>, Span, usize),
}

struct Builder {
    file: FileId,
    stack: Vec<Open>,
    /// Anchored values with their [`size`], measured once when anchored.
    anchors: HashMap<usize, (Node, (usize, usize))>,
    docs: Vec<Node>,
    nodes: usize,
    /// Values and text bytes copied for anchors and aliases, bounded by [`MAX_ALIAS_NODES`]
    /// and [`MAX_ALIAS_BYTES`].
    copied: (usize, usize),
}

impl Builder {
    fn new(file: FileId) -> Self {
        Builder {
            file,
            stack: Vec::new(),
            anchors: HashMap::new(),
            docs: Vec::new(),
            nodes: 0,
            copied: (0, 0),
        }
    }

    /// The one document read (`null` when there was none).
    fn finish(mut self) -> Result<Node, Diagnostic> {
        match self.docs.len() {
            0 => Ok(Node {
                kind: Kind::Scalar(Scalar::Null),
                span: Span::new(self.file, 1, 0, 0),
            }),
            1 => Ok(self.docs.remove(0)),
            _ => Err(Diagnostic::error(
                "yaml::multiple-documents",
                "a model file holds one YAML document, this one has several",
            )
            .at(self.docs[1].span)
            .help("split the documents into separate files")),
        }
    }

    fn span(&self, s: saphyr_parser::Span) -> Span {
        let len = if s.end.line() == s.start.line() {
            s.end.col().saturating_sub(s.start.col())
        } else {
            s.end.index().saturating_sub(s.start.index())
        };
        Span::new(self.file, s.start.line(), s.start.col(), len)
    }

    fn event(&mut self, event: Event<'_>, raw: saphyr_parser::Span) -> Result<(), Diagnostic> {
        let span = self.span(raw);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let forced_str = tag
                    .as_ref()
                    .map(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str")
                    .unwrap_or(false);
                let scalar = if style == ScalarStyle::Plain && !forced_str {
                    resolve_plain(&text)
                } else {
                    Scalar::Str(Text::from(text))
                };
                // Plain multi-line scalars get the span of their first line only.
                let mut span = span;
                if raw.end.line() != raw.start.line() {
                    span.len = 1;
                }
                self.value(
                    Node {
                        kind: Kind::Scalar(scalar),
                        span,
                    },
                    anchor,
                )
            }
            Event::SequenceStart(anchor, _) => self.open(Open::Seq(Vec::new(), span, anchor), span),
            Event::MappingStart(anchor, _) => {
                self.open(Open::Map(Vec::new(), None, span, anchor), span)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Open::Seq(items, start, anchor)) => (
                        Node {
                            kind: Kind::Seq(items),
                            span: start,
                        },
                        anchor,
                    ),
                    Some(Open::Map(entries, _, start, anchor)) => (
                        Node {
                            kind: Kind::Map(entries),
                            span: start,
                        },
                        anchor,
                    ),
                    None => return Ok(()),
                };
                self.value(node.0, node.1)
            }
            Event::Alias(id) => {
                let Some(&(_, size)) = self.anchors.get(&id) else {
                    return Err(
                        Diagnostic::error("yaml::syntax", "alias to an unknown anchor").at(span),
                    );
                };
                // Counted before copying: the budget is checked without paying for the copy.
                self.copy(size, span)?;
                self.nodes = self.nodes.saturating_add(size.0);
                if self.nodes > MAX_NODES {
                    return Err(Diagnostic::error(
                        "yaml::too-large",
                        format!("aliases expand this file past {MAX_NODES} values"),
                    )
                    .at(span));
                }
                let mut copy = self.anchors[&id].0.clone();
                copy.span = span;
                self.value(copy, 0)
            }
            _ => Ok(()),
        }
    }

    /// Accounts for `count` values copied by an anchor or alias.
    fn copy(&mut self, (nodes, bytes): (usize, usize), span: Span) -> Result<(), Diagnostic> {
        self.copied.0 = self.copied.0.saturating_add(nodes);
        self.copied.1 = self.copied.1.saturating_add(bytes);
        if self.copied.0 > MAX_ALIAS_NODES || self.copied.1 > MAX_ALIAS_BYTES {
            return Err(Diagnostic::error(
                "yaml::too-large",
                format!(
                    "anchors and aliases copy more than {MAX_ALIAS_NODES} values or {} MiB of text in this file",
                    MAX_ALIAS_BYTES >> 20
                ),
            )
            .at(span)
            .label("this alias or anchor goes past the limit")
            .help("write the repeated values out, or share smaller fragments"));
        }
        Ok(())
    }

    fn open(&mut self, open: Open, span: Span) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::error(
                "yaml::too-deep",
                format!("values are nested more than {MAX_DEPTH} levels deep"),
            )
            .at(span));
        }
        self.stack.push(open);
        Ok(())
    }

    fn value(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(Diagnostic::error(
                "yaml::too-large",
                format!("this file holds more than {MAX_NODES} values"),
            )
            .at(node.span));
        }
        if anchor != 0 {
            // The anchor table keeps a copy: nested anchors would otherwise copy a big value
            // once per level, so these copies count against the alias budget too.
            let size = size(&node);
            self.copy(size, node.span)?;
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Open::Seq(items, _, _)) => items.push(node),
            Some(Open::Map(entries, pending, _, _)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
        Ok(())
    }
}

/// How many values `node` holds, and how many bytes of text (strings, keys included).
fn size(node: &Node) -> (usize, usize) {
    let add = |a: (usize, usize), b: (usize, usize)| (a.0 + b.0, a.1.saturating_add(b.1));
    match &node.kind {
        Kind::Scalar(Scalar::Str(s)) => (1, s.len()),
        Kind::Scalar(_) => (1, 0),
        Kind::Seq(items) => items.iter().map(size).fold((1, 0), add),
        Kind::Map(entries) => entries
            .iter()
            .map(|(k, v)| add(size(k), size(v)))
            .fold((1, 0), add),
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub fn resolve_plain(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Ok(i) = i64::from_str_radix(hex, 16) {
                return Scalar::Int(i);
            }
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            if let Ok(i) = i64::from_str_radix(oct, 8) {
                return Scalar::Int(i);
            }
        }
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Scalar::Int(i);
        }
        if let Ok(f) = text.parse::<f64>() {
            return Scalar::Float(f);
        }
    }
    if is_core_float(digits) {
        if let Ok(f) = text.parse::<f64>() {
            return Scalar::Float(f);
        }
    }
    Scalar::Str(text.into())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without the sign.
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Node {
        parse(text, FileId(0)).unwrap()
    }

    #[test]
    fn core_schema_keeps_yes_no_as_strings() {
        assert_eq!(resolve_plain("yes"), Scalar::Str("yes".into()));
        assert_eq!(resolve_plain("off"), Scalar::Str("off".into()));
        assert_eq!(resolve_plain("true"), Scalar::Bool(true));
        assert_eq!(
            resolve_plain("2027-01-31"),
            Scalar::Str("2027-01-31".into())
        );
        assert_eq!(resolve_plain("12"), Scalar::Int(12));
        assert_eq!(resolve_plain("-1.5e3"), Scalar::Float(-1500.0));
        assert_eq!(resolve_plain("1.2.3"), Scalar::Str("1.2.3".into()));
        assert_eq!(resolve_plain("~"), Scalar::Null);
    }

    #[test]
    fn keeps_positions_and_duplicate_keys() {
        let n = p("a: 1\nb:\n  c: x\na: 2\n");
        let Kind::Map(entries) = &n.kind else {
            panic!("not a map")
        };
        assert_eq!(
            entries.len(),
            3,
            "duplicates are kept for the reader to report"
        );
        assert_eq!((entries[2].0.span.line, entries[2].0.span.col), (4, 0));
        let Kind::Map(inner) = &entries[1].1.kind else {
            panic!("not a map")
        };
        assert_eq!((inner[0].0.span.line, inner[0].0.span.col), (3, 2));
    }

    #[test]
    fn quoted_scalars_are_strings() {
        let n = p("a: '12'\nb: \"true\"\n");
        assert_eq!(n.to_json(), serde_json::json!({"a": "12", "b": "true"}));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("a: [1, 2\nb: c\n", FileId(0)).unwrap_err();
        assert_eq!(e.code, "yaml::syntax");
        assert!(e.span.is_some());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(MAX_DEPTH + 5);
        let e = parse(&text, FileId(0)).unwrap_err();
        assert_eq!(e.code, "yaml::too-deep");
    }

    /// Regression (found by the fuzzer): ten aliases per level of a list holding one 100 KB
    /// string stayed under the value budget while copying a gigabyte of text.
    #[test]
    fn aliases_of_long_strings_are_bounded_by_bytes() {
        let long = "x".repeat(100_000);
        let mut text = format!("a0: &a0 [{long}, {long}]\n");
        for i in 1..6 {
            let p = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", [p.as_str(); 10].join(", ")));
        }
        let e = parse(&text, FileId(0)).unwrap_err();
        assert_eq!(e.code, "yaml::too-large");
        assert!(e.message.contains("MiB of text"), "{}", e.message);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let e = parse(&text, FileId(0)).unwrap_err();
        assert_eq!(e.code, "yaml::too-large");
    }
}

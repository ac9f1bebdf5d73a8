//! A fast reader for the plain YAML that model files are nearly always written in: block
//! mappings and sequences, one-line flow collections, plain and one-line quoted scalars, comments.
//!
//! It produces the very events, with the very positions, that saphyr-parser produces for the same
//! text, and feeds them to the same [`Builder`], so the tree is the same either way. Anything
//! outside that subset (tabs, carriage returns, non-ASCII text, anchors, aliases, tags, block
//! scalars, escapes, multi-line scalars or flow collections, explicit keys, several documents, an
//! error of any kind) makes it give up, and [`super::parse`] reads the file again with
//! saphyr-parser, which also reports every syntax error. saphyr's scanner is general and spends
//! most of its time on cases this subset never has; skipping it is what makes the large model
//! load fast. `tests/yaml_fast.rs` holds the two readers equal on generated and mutated text.
//!
//! The whole text is ASCII, so a byte offset is also saphyr's character index and column.

use super::Builder;
use saphyr_parser::{Event, Marker, ScalarStyle, Span};
use std::borrow::Cow;

/// The text is outside the subset (or the builder refused it): read it with saphyr-parser.
pub(super) struct GiveUp;

type Step = Result<(), GiveUp>;

/// Feeds `text`'s events to `out`; on [`GiveUp`] the builder holds a partial tree.
pub(super) fn events(text: &str, out: &mut Builder) -> Step {
    let s = text.as_bytes();
    if !s.iter().all(|&b| b == b'\n' || (b' '..=b'~').contains(&b)) {
        return Err(GiveUp);
    }
    let mut r = Reader {
        s,
        text,
        pos: 0,
        line: 1,
        line_start: 0,
        indent: None,
        out,
    };
    r.document()
}

/// Where the reader stands. Between lines, `indent` is the indentation of the current content
/// line (`pos` at its first character) or `None` at the end of the text.
struct Reader<'t, 'b> {
    s: &'t [u8],
    text: &'t str,
    pos: usize,
    line: usize,
    line_start: usize,
    indent: Option<usize>,
    out: &'b mut Builder,
}

/// How a plain scalar's scan ended.
struct Plain {
    start: usize,
    end: usize,
    /// Stopped at a `:` that makes it a key.
    key: bool,
}

impl<'t> Reader<'t, '_> {
    fn at(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(b'\n')
    }

    fn here(&self) -> u8 {
        self.at(self.pos)
    }

    fn mark(&self, at: usize) -> Marker {
        Marker::new(at, self.line, at - self.line_start)
    }

    fn emit(&mut self, event: Event<'t>, start: usize, end: usize) -> Step {
        let span = Span::new(self.mark(start), self.mark(end));
        self.out.event(event, span).map_err(|_| GiveUp)
    }

    fn skip_spaces(&mut self) -> usize {
        let from = self.pos;
        while self.at(self.pos) == b' ' {
            self.pos += 1;
        }
        self.pos - from
    }

    /// `-` followed by a space or the end of the line: a block sequence entry.
    fn at_dash(&self) -> bool {
        self.here() == b'-' && matches!(self.at(self.pos + 1), b' ' | b'\n')
    }

    /// Moves to the next line holding something other than spaces and comments.
    fn next_line(&mut self) {
        loop {
            while self.pos < self.s.len() && self.s[self.pos] != b'\n' {
                self.pos += 1;
            }
            if self.pos >= self.s.len() {
                self.indent = None;
                return;
            }
            self.pos += 1;
            self.line += 1;
            self.line_start = self.pos;
            if self.content_here() {
                return;
            }
        }
    }

    /// Whether the line starting at `pos` holds content; if so, stands on it.
    fn content_here(&mut self) -> bool {
        let indent = self.skip_spaces();
        match self.s.get(self.pos) {
            None => {
                self.indent = None;
                true
            }
            Some(b'\n' | b'#') => false,
            Some(_) => {
                self.indent = Some(indent);
                true
            }
        }
    }

    /// After a value: only spaces and a comment may follow on its line.
    fn end_line(&mut self) -> Step {
        let spaces = self.skip_spaces();
        if self.here() == b'#' && (spaces > 0 || self.pos == self.line_start) {
            self.next_line();
            return Ok(());
        }
        if self.here() != b'\n' {
            return Err(GiveUp);
        }
        self.next_line();
        Ok(())
    }

    fn document(&mut self) -> Step {
        if !self.content_here() {
            self.next_line();
        }
        // an explicit start of the one document (`---` on a line of its own)
        if self.indent == Some(0) && self.s[self.pos..].starts_with(b"---") {
            self.pos += 3;
            if !matches!(self.here(), b' ' | b'\n') {
                return Err(GiveUp);
            }
            self.end_line()?;
            if self.indent.is_none() {
                return Err(GiveUp); // an empty explicit document: a null of its own
            }
        }
        let Some(indent) = self.indent else {
            return Ok(()); // nothing but comments: no document at all
        };
        if self.at_dash() {
            self.block_seq(indent)?;
        } else {
            self.block_map(indent)?;
        }
        match self.indent {
            None => Ok(()),
            Some(_) => Err(GiveUp),
        }
    }

    /// A block mapping whose first key is at `pos`, in column `indent`.
    fn block_map(&mut self, indent: usize) -> Step {
        self.emit(Event::MappingStart(0, None), self.pos, self.pos)?;
        loop {
            if indent == 0 && self.s[self.pos..].starts_with(b"...") {
                return Err(GiveUp); // the end of the document (`---` is no plain scalar)
            }
            let colon = self.block_key()?;
            self.block_value(indent, colon)?;
            match self.indent {
                Some(i) if i == indent && !self.at_dash() => continue,
                Some(i) if i > indent => return Err(GiveUp),
                // the end of the text, a shallower line, or the next entry of a sequence
                // written at the mapping's own indentation
                _ => break,
            }
        }
        self.emit(Event::MappingEnd, self.pos, self.pos)
    }

    /// A key and its `:`; returns where the `:` is.
    fn block_key(&mut self) -> Result<usize, GiveUp> {
        let start = self.pos;
        let (event, end) = match self.here() {
            b'"' | b'\'' => self.quoted()?,
            c if plain_start(c, self.at(self.pos + 1)) => {
                let p = self.plain(false)?;
                if !p.key {
                    return Err(GiveUp);
                }
                (self.plain_scalar(&p), p.end)
            }
            _ => return Err(GiveUp),
        };
        // saphyr refuses a simple key whose `:` is over 1024 characters past its start,
        // spaces before the `:` included
        self.skip_spaces();
        if self.pos - start > 1000 {
            return Err(GiveUp);
        }
        if self.here() != b':' || !matches!(self.at(self.pos + 1), b' ' | b'\n') {
            return Err(GiveUp);
        }
        self.emit(event, start, end)?;
        let colon = self.pos;
        self.pos += 1;
        Ok(colon)
    }

    /// What follows a key's `:` at `colon`, in a mapping at `indent`.
    fn block_value(&mut self, indent: usize, colon: usize) -> Step {
        let spaces = self.skip_spaces();
        match self.here() {
            b'\n' => {}
            b'#' if spaces > 0 => {}
            b'[' | b'{' | b'"' | b'\'' => {
                self.flow_node()?;
                return self.after_inline(indent);
            }
            c if plain_start(c, self.at(self.pos + 1)) => {
                let p = self.plain(false)?;
                if p.key {
                    return Err(GiveUp);
                }
                self.plain_event(&p)?;
                return self.after_inline(indent);
            }
            _ => return Err(GiveUp),
        }
        // nothing on the key's line: the value is on the lines below, or it is empty
        let empty = Span::new(self.mark(colon), self.mark(colon));
        self.next_line();
        match self.indent {
            Some(i) if i > indent => {
                if self.at_dash() {
                    self.block_seq(i)
                } else {
                    self.block_map(i)
                }
            }
            Some(i) if i == indent && self.at_dash() => self.indentless_seq(indent),
            _ => {
                let event = Event::Scalar(Cow::Borrowed(""), ScalarStyle::Plain, 0, None);
                self.out.event(event, empty).map_err(|_| GiveUp)
            }
        }
    }

    /// After a value written on its own line's end: no line may continue it.
    fn after_inline(&mut self, indent: usize) -> Step {
        self.end_line()?;
        match self.indent {
            Some(i) if i > indent => Err(GiveUp),
            _ => Ok(()),
        }
    }

    /// A block sequence whose first `-` is at `pos`, in column `indent`.
    fn block_seq(&mut self, indent: usize) -> Step {
        self.emit(Event::SequenceStart(0, None), self.pos, self.pos)?;
        loop {
            self.seq_item(indent)?;
            match self.indent {
                Some(i) if i == indent && self.at_dash() => continue,
                Some(i) if i >= indent => return Err(GiveUp),
                _ => break,
            }
        }
        self.emit(Event::SequenceEnd, self.pos, self.pos)
    }

    /// A sequence written at its key's own indentation (`key:` then `- item` lines below it).
    /// saphyr places its start at the first entry's value, not at the `-`.
    fn indentless_seq(&mut self, indent: usize) -> Step {
        let mut first = self.pos + 1;
        while self.at(first) == b' ' {
            first += 1;
        }
        self.emit(Event::SequenceStart(0, None), first, first)?;
        loop {
            self.seq_item(indent)?;
            match self.indent {
                Some(i) if i == indent && self.at_dash() => continue,
                Some(i) if i > indent => return Err(GiveUp),
                _ => break,
            }
        }
        self.emit(Event::SequenceEnd, self.pos, self.pos)
    }

    /// One `- ` entry of a sequence whose dashes are in column `dash`.
    fn seq_item(&mut self, dash: usize) -> Step {
        self.pos += 1;
        if self.skip_spaces() == 0 {
            return Err(GiveUp); // `-` alone on its line: an empty or nested entry
        }
        let column = self.pos - self.line_start;
        match self.here() {
            b'[' | b'{' => {
                self.flow_node()?;
                self.after_inline(dash)
            }
            b'"' | b'\'' => {
                // a quoted key opens a mapping in this entry
                let save = self.pos;
                let (event, end) = self.quoted()?;
                self.skip_spaces();
                if self.here() == b':' {
                    self.pos = save;
                    return self.block_map(column);
                }
                self.emit(event, save, end)?;
                self.after_inline(dash)
            }
            c if plain_start(c, self.at(self.pos + 1)) => {
                let save = self.pos;
                let p = self.plain(false)?;
                if p.key {
                    self.pos = save;
                    return self.block_map(column);
                }
                self.plain_event(&p)?;
                self.after_inline(dash)
            }
            _ => Err(GiveUp),
        }
    }

    /// A value inside or starting a flow collection: a scalar or a nested collection, all on
    /// this line.
    fn flow_node(&mut self) -> Step {
        match self.here() {
            b'[' => self.flow_seq(),
            b'{' => self.flow_map(),
            b'"' | b'\'' => {
                let start = self.pos;
                let (event, end) = self.quoted()?;
                self.emit(event, start, end)
            }
            c if plain_start(c, self.at(self.pos + 1)) => {
                let p = self.plain(true)?;
                self.plain_event(&p)
            }
            _ => Err(GiveUp),
        }
    }

    /// Opens a flow collection: saphyr's span of `[` or `{` runs over the spaces after it.
    fn flow_open(&mut self, event: Event<'t>) -> Step {
        let start = self.pos;
        self.pos += 1;
        self.skip_spaces();
        self.emit(event, start, self.pos)
    }

    /// The closing bracket, if it is here: emits `end` over it. Returns whether it closed.
    fn flow_close(&mut self, close: u8, end: Event<'t>) -> Result<bool, GiveUp> {
        if self.here() != close {
            return Ok(false);
        }
        self.emit(end, self.pos, self.pos + 1)?;
        self.pos += 1;
        Ok(true)
    }

    /// After an entry of a flow collection: `,` then the next entry, or the closing bracket.
    /// Returns whether the collection closed.
    fn flow_next(&mut self, close: u8, end: Event<'t>) -> Result<bool, GiveUp> {
        self.skip_spaces();
        if self.flow_close(close, end)? {
            return Ok(true);
        }
        if self.here() != b',' {
            return Err(GiveUp);
        }
        self.pos += 1;
        self.skip_spaces();
        if self.here() == close {
            return Err(GiveUp); // a trailing comma
        }
        Ok(false)
    }

    fn flow_seq(&mut self) -> Step {
        self.flow_open(Event::SequenceStart(0, None))?;
        if self.flow_close(b']', Event::SequenceEnd)? {
            return Ok(());
        }
        loop {
            self.flow_node()?;
            if self.flow_next(b']', Event::SequenceEnd)? {
                return Ok(());
            }
        }
    }

    fn flow_map(&mut self) -> Step {
        self.flow_open(Event::MappingStart(0, None))?;
        if self.flow_close(b'}', Event::MappingEnd)? {
            return Ok(());
        }
        loop {
            if !matches!(self.here(), b'"' | b'\'')
                && !plain_start(self.here(), self.at(self.pos + 1))
            {
                return Err(GiveUp);
            }
            self.flow_node()?;
            self.skip_spaces();
            if self.here() != b':' || self.at(self.pos + 1) != b' ' {
                return Err(GiveUp);
            }
            self.pos += 1;
            self.skip_spaces();
            if matches!(self.here(), b',' | b'}' | b'\n' | b'#') {
                return Err(GiveUp); // an empty value
            }
            self.flow_node()?;
            if self.flow_next(b'}', Event::MappingEnd)? {
                return Ok(());
            }
        }
    }

    /// A quoted scalar on one line, without escapes. saphyr's span of a quoted scalar runs over
    /// the spaces after it, and over a comment that ends the line.
    fn quoted(&mut self) -> Result<(Event<'t>, usize), GiveUp> {
        let quote = self.here();
        let start = self.pos + 1;
        let mut i = start;
        let mut doubled = false;
        loop {
            match self.at(i) {
                b'\n' => return Err(GiveUp),
                b'\\' if quote == b'"' => return Err(GiveUp),
                c if c == quote => {
                    if quote == b'\'' && self.at(i + 1) == b'\'' {
                        doubled = true;
                        i += 2;
                        continue;
                    }
                    break;
                }
                _ => i += 1,
            }
        }
        let body = &self.text[start..i];
        let (value, style) = if quote == b'"' {
            (Cow::Borrowed(body), ScalarStyle::DoubleQuoted)
        } else if doubled {
            (
                Cow::Owned(body.replace("''", "'")),
                ScalarStyle::SingleQuoted,
            )
        } else {
            (Cow::Borrowed(body), ScalarStyle::SingleQuoted)
        };
        self.pos = i + 1;
        let spaces = self.skip_spaces();
        if self.here() == b'#' {
            if spaces == 0 {
                return Err(GiveUp);
            }
            while self.here() != b'\n' {
                self.pos += 1;
            }
        }
        Ok((Event::Scalar(value, style, 0, None), self.pos))
    }

    /// Scans a plain scalar from `pos` (its first character already accepted by
    /// [`plain_start`]) and stands where it stops.
    fn plain(&mut self, flow: bool) -> Result<Plain, GiveUp> {
        let start = self.pos;
        let mut end = start;
        let mut i = start;
        let key = loop {
            match self.at(i) {
                b'\n' => break false,
                b' ' => {
                    let next = self.at(i + 1);
                    if next == b'#' {
                        break false;
                    }
                    // saphyr checks every word of a flow scalar as it checks the first: `-`
                    // before a flow indicator is an error there (`[a -]`)
                    if flow && next == b'-' && is_flow_indicator(self.at(i + 2)) {
                        return Err(GiveUp);
                    }
                }
                b':' => {
                    let next = self.at(i + 1);
                    if next == b' ' || next == b'\n' || flow && is_flow_indicator(next) {
                        break true;
                    }
                    end = i + 1;
                }
                c if flow && is_flow_indicator(c) => break false,
                _ => end = i + 1,
            }
            i += 1;
        };
        self.pos = if key { i } else { end };
        Ok(Plain { start, end, key })
    }

    fn plain_scalar(&self, p: &Plain) -> Event<'t> {
        Event::Scalar(
            Cow::Borrowed(&self.text[p.start..p.end]),
            ScalarStyle::Plain,
            0,
            None,
        )
    }

    fn plain_event(&mut self, p: &Plain) -> Step {
        self.emit(self.plain_scalar(p), p.start, p.end)
    }
}

fn is_flow_indicator(c: u8) -> bool {
    matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

/// Whether a plain scalar may start with `c` (followed by `next`), within the subset: letters,
/// digits and a few harmless signs; `-` only before a letter, digit or `.` (`-1`, `-.5`).
fn plain_start(c: u8, next: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, b'_' | b'.' | b'/' | b'$' | b'~' | b'(' | b'+' | b'=')
        || c == b'-' && (next.is_ascii_alphanumeric() || next == b'.')
}

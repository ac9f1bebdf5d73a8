//! The files a run has read, and positions inside them.
//!
//! Every value the model keeps carries a [`Span`]: which file, which line and column, how long.
//! Positions are counted in characters (as the YAML scanner reports them); byte offsets are
//! worked out only when a diagnostic is rendered.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A range in one file: 1-based line, 0-based column, length, all in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

impl Span {
    pub fn new(file: FileId, line: usize, col: usize, len: usize) -> Self {
        let c = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        Span {
            file,
            line: c(line),
            col: c(col),
            len: c(len),
        }
    }
}

/// One file's text and the name it is shown under.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as shown to the user (relative to the project root where possible).
    pub name: String,
    pub path: PathBuf,
    pub text: Arc<str>,
}

/// All files read in a run, addressed by [`FileId`].
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, name: String, path: &Path, text: Arc<str>) -> FileId {
        self.files.push(SourceFile {
            name,
            path: path.to_path_buf(),
            text,
        });
        FileId(u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX))
    }

    pub fn file(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn name(&self, id: FileId) -> &str {
        self.file(id)
            .map(|f| f.name.as_str())
            .unwrap_or("<unknown>")
    }

    /// `file:line`, as generated comments and diffs name a place.
    pub fn origin(&self, span: Span) -> String {
        format!("{}:{}", self.name(span.file), span.line)
    }

    /// `file:line:col` (1-based column), as editors and CI annotations expect.
    pub fn location(&self, span: Span) -> String {
        format!("{}:{}:{}", self.name(span.file), span.line, span.col + 1)
    }

    /// Byte offset and byte length of `span` in its file, for renderers that need bytes.
    pub fn byte_range(&self, span: Span) -> Option<(usize, usize)> {
        let text = &self.file(span.file)?.text;
        let mut line_start = 0usize;
        if span.line > 1 {
            let mut seen = 1u32;
            for (i, b) in text.bytes().enumerate() {
                if b == b'\n' {
                    seen += 1;
                    if seen == span.line {
                        line_start = i + 1;
                        break;
                    }
                }
            }
            if seen < span.line {
                return None;
            }
        }
        let rest = &text[line_start..];
        let start = line_start + char_prefix_bytes(rest, span.col as usize);
        let len = char_prefix_bytes(&text[start..], span.len as usize);
        Some((start, len))
    }
}

fn char_prefix_bytes(s: &str, chars: usize) -> usize {
    s.char_indices()
        .nth(chars)
        .map(|(i, _)| i)
        .unwrap_or(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_range_counts_characters_not_bytes() {
        let mut map = SourceMap::default();
        let id = map.add("a.yaml".into(), Path::new("a.yaml"), "a: 1\né: xy\n".into());
        // line 2, column 3 (after "é: "), two characters
        let (start, len) = map.byte_range(Span::new(id, 2, 3, 2)).unwrap();
        assert_eq!(&map.file(id).unwrap().text[start..start + len], "xy");
    }
}

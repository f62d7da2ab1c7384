//! Text a user wrote (a contract, the config) and positions in it. Below both the YAML
//! reader and the error renderer, which each point into it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use miette::{NamedSource, SourceSpan};

/// A loaded YAML (or other text) file, shared by every node and error that points into it.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    /// The path as the user should see it in messages (as given on the command line).
    pub name: String,
    pub text: Arc<String>,
    /// byte offsets where each line starts, found once on first use: every check of a
    /// contract asks for its line, and counting from the start each time made a
    /// 10,000-check contract take a second to plan
    line_starts: Arc<OnceLock<Vec<usize>>>,
}

impl Source {
    pub fn new(path: &Path, text: String) -> Source {
        // editors on Windows start files with a byte order mark; it is not content
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => text,
        };
        Source {
            path: path.to_path_buf(),
            name: path.display().to_string(),
            text: Arc::new(text),
            line_starts: Arc::default(),
        }
    }

    pub fn named(&self) -> NamedSource<Arc<String>> {
        NamedSource::new(self.name.clone(), self.text.clone()).with_language("yaml")
    }

    /// 1-based line and column of a byte offset, for plain-text messages.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let offset = offset.min(self.text.len());
        // the last line start at or before the offset (the first is 0)
        let line = starts.partition_point(|&s| s <= offset);
        let start = starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |l| l.chars().count())
            + 1;
        (line, col)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
}

impl From<Span> for SourceSpan {
    fn from(s: Span) -> SourceSpan {
        SourceSpan::new(s.offset.into(), s.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_lines_and_characters() {
        let text = "a: 1\nnamé: ü\n\n  - x\nlast";
        let source = Source::new(Path::new("c.yml"), text.to_string());
        let expected = |offset: usize| {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            (line, col)
        };
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            assert_eq!(source.line_col(offset), expected(offset), "offset {offset}");
        }
        assert_eq!(source.line_col(0), (1, 1));
        assert_eq!(source.line_col(text.find("- x").unwrap()), (4, 3));
        // past the end: the end
        assert_eq!(source.line_col(text.len() + 10), expected(text.len()));
    }
}

//! Text a user wrote (a contract, the config) and positions in it. Below both the YAML
//! reader and the error renderer, which each point into it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

/// A loaded YAML (or other text) file, shared by every node and error that points into it.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    /// The path as the user should see it in messages (as given on the command line).
    pub name: String,
    pub text: Arc<String>,
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
        }
    }

    pub fn named(&self) -> NamedSource<Arc<String>> {
        NamedSource::new(self.name.clone(), self.text.clone()).with_language("yaml")
    }

    /// 1-based line and column of a byte offset, for plain-text messages.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
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

//! Errors in what the user wrote (contracts, config, arguments), shown with their source.
//!
//! Each `Diag` names the file, line and column in its message, so it reads well in a CI
//! log even without the snippet, and carries the snippet and a label for miette.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

use crate::source::{Source, Span};

#[derive(Debug, Clone)]
pub struct Diag {
    pub message: String,
    pub location: Option<String>,
    pub help: Option<String>,
    snippet: Option<Box<Snippet>>,
}

/// Where in which file, for the rendered snippet.
#[derive(Debug, Clone)]
struct Snippet {
    source: NamedSource<Arc<String>>,
    span: Span,
    label: String,
}

impl Diag {
    /// An error at a place in a file.
    pub fn at(source: &Source, span: Span, message: impl Into<String>, label: &str) -> Diag {
        let (line, col) = source.line_col(span.offset);
        // a snippet of a very long line helps no one, and the renderer cannot draw one
        // past column 65,535: the message with its line and column is enough
        let snippet = (longest_shown_line(&source.text, line) <= MAX_SNIPPET_LINE).then(|| {
            Box::new(Snippet {
                source: source.named(),
                span,
                label: label.to_string(),
            })
        });
        Diag {
            message: message.into(),
            location: Some(format!("{}:{}:{}", source.name, line, col)),
            help: None,
            snippet,
        }
    }

    /// An error with no place in a file (a command-line argument, a missing file).
    pub fn plain(message: impl Into<String>) -> Diag {
        Diag {
            message: message.into(),
            location: None,
            help: None,
            snippet: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diag {
        self.help = Some(help.into());
        self
    }

    pub fn with_help_opt(mut self, help: Option<String>) -> Diag {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Hide registered secrets in the message, hint and shown YAML before printing.
    pub fn mask_secrets(&mut self) {
        self.message = crate::secrets::mask(&self.message);
        self.help = self.help.as_deref().map(crate::secrets::mask);
        if let Some(snippet) = &mut self.snippet {
            let text = snippet.source.inner();
            let masked = crate::secrets::mask(text);
            if masked != **text {
                let name = snippet.source.name().to_string();
                snippet.source = NamedSource::new(name, Arc::new(masked));
            }
        }
    }
}

/// Longest line, in bytes, shown as a snippet.
const MAX_SNIPPET_LINE: usize = 2_000;

/// The longest of the lines a snippet shows: line `line` (1-based) and its neighbours.
fn longest_shown_line(text: &str, line: usize) -> usize {
    let first = line.saturating_sub(2);
    text.lines()
        .skip(first)
        .take(line + 1 - first)
        .map(str::len)
        .max()
        .unwrap_or(0)
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Diag {}

impl Diagnostic for Diag {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.snippet.as_ref().map(|s| &s.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let s = self.snippet.as_ref()?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(s.label.clone()),
            s.span,
        ))))
    }
}

/// Every problem found in one pass over the user's input: a user fixing a contract wants
/// all of its mistakes at once, not one per run.
#[derive(Debug, Default)]
pub struct Diags {
    pub items: Vec<Diag>,
}

impl Diags {
    pub fn push(&mut self, d: Diag) {
        self.items.push(d);
    }

    pub fn mask_secrets(&mut self) {
        self.items.iter_mut().for_each(Diag::mask_secrets);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn extend(&mut self, other: Diags) {
        self.items.extend(other.items);
    }
}

impl fmt::Display for Diags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.items.len() {
            1 => write!(f, "{}", self.items[0]),
            n => write!(f, "{n} problems in the input"),
        }
    }
}

impl std::error::Error for Diags {}

impl Diagnostic for Diags {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self.items.as_slice() {
            [one] => one.help(),
            _ => None,
        }
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        match self.items.as_slice() {
            [one] => one.source_code(),
            _ => None,
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        match self.items.as_slice() {
            [one] => one.labels(),
            _ => None,
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.items.len() < 2 {
            return None;
        }
        Some(Box::new(self.items.iter().map(|d| d as &dyn Diagnostic)))
    }
}

impl From<Diag> for Diags {
    fn from(d: Diag) -> Diags {
        Diags { items: vec![d] }
    }
}

/// "did you mean" for a misspelt word, when one of the choices is close enough.
/// The help for a word that is not one of `choices`: the closest choice, or the list of
/// them all after `listed_as` ("allowed keys:" gives "allowed keys: a, b, c").
pub fn unknown_word_help(word: &str, choices: &[&str], listed_as: &str) -> String {
    match did_you_mean(word, choices.iter().copied()) {
        Some(s) => format!("did you mean '{s}'?"),
        None => format!("{listed_as} {}", choices.join(", ")),
    }
}

pub fn did_you_mean<'a>(word: &str, choices: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    choices
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["threshold", "filter", "name"];
        assert_eq!(did_you_mean("treshold", keys), Some("threshold"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}

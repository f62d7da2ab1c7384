//! Typed reading of spanned YAML with errors that point at the offending key or value.
//!
//! Used by both the contract and the config readers so that "unknown key", "expected a
//! number" and friends read the same everywhere.

use crate::diag::{unknown_word_help, Diag, Diags};
use crate::interp::{interpolate, Vars};
use crate::model::SqlText;
use crate::source::{Source, Span};
use crate::sql::ast::Literal;
use crate::yaml::{Node, NodeValue};

pub struct Reader<'a> {
    pub source: &'a Source,
    pub vars: Option<&'a Vars>,
    pub diags: Diags,
    /// what Soda accepts with a warning: reported, and the run goes on
    pub warnings: Diags,
}

impl<'a> Reader<'a> {
    pub fn new(source: &'a Source, vars: Option<&'a Vars>) -> Self {
        Reader {
            source,
            vars,
            diags: Diags::default(),
            warnings: Diags::default(),
        }
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        let d = Diag::at(self.source, span, message, "here").with_help_opt(help);
        self.diags.push(d);
    }

    pub fn warn(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        let d = Diag::at(self.source, span, message, "here").with_help_opt(help);
        self.warnings.push(d);
    }

    /// Require a mapping whose keys are all in `allowed`; reports every unknown key.
    /// `what` names the thing for messages ("a threshold", "the contract").
    pub fn keys(&mut self, node: &Node, allowed: &[&str], what: &str) -> bool {
        let Some(entries) = node.as_map() else {
            self.error(
                node.span,
                format!("{what} must be a mapping, found {}", node.kind_name()),
                Some(format!("allowed keys: {}", allowed.join(", "))),
            );
            return false;
        };
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                let help = unknown_word_help(&key.name, allowed, "allowed keys:");
                self.diags.push(
                    Diag::at(
                        self.source,
                        key.span,
                        format!("unknown key '{}' in {what}", key.name),
                        "unknown key",
                    )
                    .with_help(help),
                );
            }
        }
        true
    }

    pub fn required<'n>(&mut self, map: &'n Node, key: &str, what: &str) -> Option<&'n Node> {
        match map.get(key) {
            Some(n) if !n.is_null() => Some(n),
            _ => {
                self.error(
                    map.span,
                    format!("{what} is missing the required key '{key}'"),
                    Some(format!("add `{key}: ...`")),
                );
                None
            }
        }
    }

    /// A scalar as written, placeholders and all. Numbers are accepted as their text.
    pub fn raw_text(&mut self, node: &Node, what: &str) -> Option<String> {
        let text = node.scalar_text();
        if text.is_none() {
            self.error(
                node.span,
                format!("{what} must be text, found {}", node.kind_name()),
                None,
            );
        }
        text
    }

    /// A text value with placeholders resolved. Numbers are accepted as their text.
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        let raw = self.raw_text(node, what)?;
        self.interpolate(&raw, node.span)
    }

    /// A column's name: text, not empty.
    pub fn name(&mut self, node: &Node, what: &str) -> Option<String> {
        let name = self.string(node, what)?;
        if name.trim().is_empty() {
            self.error(
                node.span,
                format!("{what} is empty"),
                Some("write the column's name as the table has it".into()),
            );
            return None;
        }
        Some(name)
    }

    /// SQL text: placeholders are checked here, where their position is known, and filled
    /// in for the data source's engine once it is known (`plan::resolve`).
    pub fn sql(&mut self, node: &Node, what: &str) -> Option<SqlText> {
        let template = self.raw_text(node, what)?;
        let sql = self.interpolate(&template, node.span)?;
        if sql.trim().is_empty() {
            self.error(node.span, format!("{what} is empty"), None);
            return None;
        }
        Some(SqlText {
            sql,
            template,
            span: node.span,
        })
    }

    pub fn interpolate(&mut self, raw: &str, span: Span) -> Option<String> {
        match interpolate(raw, self.vars) {
            Ok(s) => Some(s),
            Err(e) => {
                self.error(span, e.message(), Some(e.help()));
                None
            }
        }
    }

    pub fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        let value = match (&node.value, node.as_f64()) {
            (_, Some(n)) => Some(n),
            // "${var.MAX}" is a number once resolved
            (NodeValue::Str(s), None) => {
                let text = self.interpolate(s, node.span)?;
                text.trim().parse::<f64>().ok()
            }
            _ => None,
        };
        match value {
            Some(n) if n.is_finite() => Some(n),
            Some(n) => {
                let written = self
                    .source
                    .text
                    .get(node.span.offset..node.span.offset + node.span.len)
                    .unwrap_or("");
                self.error(
                    node.span,
                    format!("{what} must be a finite number, but '{written}' is {n}"),
                    Some(
                        "numbers here are compared as 64-bit floats: finite, and no larger than about 1.8e308"
                            .into(),
                    ),
                );
                None
            }
            None => {
                self.error(
                    node.span,
                    format!("{what} must be a number, found {}", node.kind_name()),
                    None,
                );
                None
            }
        }
    }

    /// A whole number >= 0.
    pub fn count(&mut self, node: &Node, what: &str) -> Option<u64> {
        let n = self.number(node, what)?;
        if n < 0.0 || n.fract() != 0.0 || n > 1e15 {
            self.error(
                node.span,
                format!("{what} must be a whole number of 0 or more, found {n}"),
                None,
            );
            return None;
        }
        Some(n as u64)
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            NodeValue::Bool(b) => Some(b),
            _ => {
                self.error(
                    node.span,
                    format!("{what} must be true or false, found {}", node.kind_name()),
                    None,
                );
                None
            }
        }
    }

    pub fn list<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            NodeValue::Seq(items) => Some(items),
            _ => {
                self.error(
                    node.span,
                    format!("{what} must be a list, found {}", node.kind_name()),
                    Some("write it as `[a, b]` or one `- item` per line".to_string()),
                );
                None
            }
        }
    }

    pub fn string_list(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        let items = self.list(node, what)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.string(item, &format!("each entry of {what}")) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A value to compare column values with: text stays text, numbers stay numbers.
    pub fn literal(&mut self, node: &Node, what: &str) -> Option<Literal> {
        match &node.value {
            NodeValue::Str(s) => Some(Literal::Str(self.interpolate(s, node.span)?)),
            NodeValue::Int(i) => Some(Literal::Number(i.to_string())),
            NodeValue::Float(f) if f.is_finite() => Some(Literal::Number(f.to_string())),
            NodeValue::Bool(b) => Some(Literal::Bool(*b)),
            _ => {
                self.error(
                    node.span,
                    format!(
                        "{what} must be a text, number or boolean value, found {}",
                        node.kind_name()
                    ),
                    None,
                );
                None
            }
        }
    }

    /// A list of values to compare with, and whether it held a `null` (which Soda
    /// accepts, each list giving it its own meaning). It may be empty.
    pub fn literal_list(&mut self, node: &Node, what: &str) -> Option<(Vec<Literal>, bool)> {
        let items = self.list(node, what)?;
        let mut out = Vec::with_capacity(items.len());
        let mut null = false;
        let mut ok = true;
        for item in items {
            if item.is_null() {
                null = true;
                continue;
            }
            match self.literal(item, &format!("each entry of {what}")) {
                Some(l) => out.push(l),
                None => ok = false,
            }
        }
        ok.then_some((out, null))
    }
}

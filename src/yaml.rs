//! A YAML reader that remembers where every key and value came from.
//!
//! serde_yaml only reports positions for syntax errors; contract errors must point at the
//! exact key that is wrong (an unknown key, a bad threshold), so we build our own small
//! tree from yaml-rust2's marked events. Every node carries a byte span into the source,
//! which miette turns into a snippet with the offending key underlined.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diag::Diag;
pub use crate::source::{Source, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub span: Span,
}

impl Node {
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "nothing",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) | NodeValue::Float(_) => "a number",
            NodeValue::Str(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The number as f64 for ints and floats.
    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            NodeValue::Int(i) => Some(i as f64),
            NodeValue::Float(f) => Some(f),
            _ => None,
        }
    }

    /// A scalar rendered as text: strings as they are, numbers and booleans as written.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            NodeValue::Str(s) => Some(s.clone()),
            NodeValue::Int(i) => Some(i.to_string()),
            NodeValue::Float(f) => Some(f.to_string()),
            NodeValue::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// Parse one YAML document. An empty file is a null node.
pub fn parse(source: &Source) -> Result<Node, Diag> {
    let mut builder = TreeBuilder::new(&source.text);
    let mut parser = Parser::new_from_str(&source.text);
    if let Err(e) = parser.load(&mut builder, true) {
        let offset = builder.byte_offset(e.marker());
        if e.info().contains("recursion limit") {
            return Err(Diag::at(
                source,
                Span { offset, len: 1 },
                format!("lists and mappings are nested more than {MAX_DEPTH} levels deep"),
                "here",
            )
            .with_help(
                "a contract or config is a small document: write it out without deep nesting",
            ));
        }
        return Err(Diag::at(
            source,
            Span { offset, len: 1 },
            format!("invalid YAML: {}", e.info()),
            "here",
        )
        .with_help("check the indentation and quoting around this point"));
    }
    if let Some(err) = builder.error {
        return Err(Diag::at(source, err.1, err.0, "here").with_help(
            "a contract or config is a small document: write it out without deep nesting or aliases that multiply",
        ));
    }
    if builder.documents.len() > 1 {
        return Err(Diag::at(
            source,
            builder.documents[1].span,
            "a contract or config file holds one YAML document, this file has several",
            "second document starts here",
        )
        .with_help("split the documents into separate files"));
    }
    Ok(builder.documents.pop().unwrap_or(Node {
        value: NodeValue::Null,
        span: Span::default(),
    }))
}

enum OpenNode {
    Seq(Vec<Node>, Span, usize),
    /// entries, span start, anchor, the key waiting for its value
    Map(Vec<(Key, Node)>, Span, usize, Option<Key>),
}

struct TreeBuilder<'a> {
    text: &'a str,
    /// byte offset of each char index, only built when the text is not pure ASCII
    char_to_byte: Option<Vec<usize>>,
    stack: Vec<OpenNode>,
    documents: Vec<Node>,
    /// anchored nodes with how many nodes each holds
    anchors: HashMap<usize, (Node, usize)>,
    /// nodes copied in by aliases so far
    expanded: usize,
    /// collections opened past MAX_DEPTH, whose events are skipped
    skipped_depth: usize,
    error: Option<(String, Span)>,
}

/// Nodes that aliases may copy in, in all. A 363-byte file of nested aliases once asked
/// for billions (and 5.9 GB before it was killed); real contracts use a handful.
pub const MAX_ALIAS_NODES: usize = 100_000;
/// Nesting of lists and mappings: contracts need about six levels.
pub const MAX_DEPTH: usize = 100;

impl<'a> TreeBuilder<'a> {
    fn new(text: &'a str) -> Self {
        let char_to_byte = if text.is_ascii() {
            None
        } else {
            let mut v: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            v.push(text.len());
            Some(v)
        };
        TreeBuilder {
            text,
            char_to_byte,
            stack: Vec::new(),
            documents: Vec::new(),
            anchors: HashMap::new(),
            expanded: 0,
            skipped_depth: 0,
            error: None,
        }
    }

    /// yaml-rust2 counts characters; miette wants bytes.
    fn byte_offset(&self, mark: &Marker) -> usize {
        let index = mark.index();
        match &self.char_to_byte {
            None => index.min(self.text.len()),
            Some(v) => v.get(index).copied().unwrap_or(self.text.len()),
        }
    }

    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let size = node_count(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(OpenNode::Seq(items, _, _)) => items.push(node),
            Some(OpenNode::Map(entries, _, _, pending)) => match pending.take() {
                None => {
                    let name = match &node.value {
                        NodeValue::Str(s) => s.clone(),
                        other => match node.scalar_text() {
                            Some(t) => t,
                            None => {
                                first_error(
                                    &mut self.error,
                                    format!(
                                        "a mapping key must be plain text, not {}",
                                        describe(other)
                                    ),
                                    node.span,
                                );
                                String::new()
                            }
                        },
                    };
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.name == name) {
                        let (line, _) = line_of(self.text, first.span.offset);
                        first_error(
                            &mut self.error,
                            format!("duplicate key '{name}' (first given on line {line})"),
                            node.span,
                        );
                    }
                    *pending = Some(Key {
                        name,
                        span: node.span,
                    });
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

/// Keep the first error: later ones are often its consequences.
fn first_error(error: &mut Option<(String, Span)>, message: String, span: Span) {
    if error.is_none() {
        *error = Some((message, span));
    }
}

fn describe(v: &NodeValue) -> &'static str {
    match v {
        NodeValue::Seq(_) => "a list",
        NodeValue::Map(_) => "a mapping",
        _ => "a null",
    }
}

fn line_of(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    (before.matches('\n').count() + 1, 0)
}

/// Nodes in a tree, the root included.
fn node_count(node: &Node) -> usize {
    1 + match &node.value {
        NodeValue::Seq(items) => items.iter().map(node_count).sum(),
        NodeValue::Map(entries) => entries.iter().map(|(_, v)| 1 + node_count(v)).sum(),
        _ => 0,
    }
}

impl MarkedEventReceiver for TreeBuilder<'_> {
    /// One piece on purpose: the parser calls this once per event, and each arm is one
    /// event's effect on the stack of open nodes; the limits (depth, aliases, size) are
    /// checked in the arms that grow the stack, next to the growth they bound.
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let start = self.byte_offset(&mark);
        let here = Span {
            offset: start,
            len: 1,
        };
        // past the depth limit, only count nesting until the way back out
        if self.skipped_depth > 0 {
            match ev {
                Event::SequenceStart(..) | Event::MappingStart(..) => self.skipped_depth += 1,
                Event::SequenceEnd | Event::MappingEnd => self.skipped_depth -= 1,
                _ => {}
            }
            return;
        }
        if matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..))
            && self.stack.len() >= MAX_DEPTH
        {
            first_error(
                &mut self.error,
                format!("lists and mappings are nested more than {MAX_DEPTH} levels deep"),
                here,
            );
            self.skipped_depth = 1;
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let len = match style {
                    TScalarStyle::Plain => text.len().max(1),
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => text.len() + 2,
                    _ => 1,
                };
                let len = len.min(self.text.len().saturating_sub(start)).max(1);
                let plain = matches!(style, TScalarStyle::Plain) && tag.is_none();
                let value = if plain {
                    resolve_plain(&text)
                } else {
                    NodeValue::Str(text)
                };
                self.push_value(
                    Node {
                        value,
                        span: Span { offset: start, len },
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(OpenNode::Seq(
                    Vec::new(),
                    Span {
                        offset: start,
                        len: 1,
                    },
                    anchor,
                ));
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(OpenNode::Map(
                    Vec::new(),
                    Span {
                        offset: start,
                        len: 1,
                    },
                    anchor,
                    None,
                ));
            }
            Event::SequenceEnd => {
                if let Some(OpenNode::Seq(items, span, anchor)) = self.stack.pop() {
                    self.push_value(
                        Node {
                            value: NodeValue::Seq(items),
                            span,
                        },
                        anchor,
                    );
                }
            }
            Event::MappingEnd => {
                if let Some(OpenNode::Map(entries, span, anchor, _)) = self.stack.pop() {
                    // Point a mapping at its first key: that is where a reader looks.
                    let span = entries.first().map_or(span, |(k, _)| k.span);
                    self.push_value(
                        Node {
                            value: NodeValue::Map(entries),
                            span,
                        },
                        anchor,
                    );
                }
            }
            Event::Alias(id) => {
                let size = self.anchors.get(&id).map_or(1, |(_, n)| *n);
                if self.expanded.saturating_add(size) > MAX_ALIAS_NODES {
                    first_error(
                        &mut self.error,
                        format!(
                            "aliases (*name) here would copy in more than {MAX_ALIAS_NODES} nodes"
                        ),
                        here,
                    );
                    self.push_value(
                        Node {
                            value: NodeValue::Null,
                            span: here,
                        },
                        0,
                    );
                    return;
                }
                self.expanded += size;
                let node = self
                    .anchors
                    .get(&id)
                    .map(|(n, _)| n.clone())
                    .unwrap_or(Node {
                        value: NodeValue::Null,
                        span: here,
                    });
                self.push_value(node, 0);
            }
            _ => {}
        }
    }
}

/// YAML 1.2 core schema resolution of an unquoted scalar.
fn resolve_plain(text: &str) -> NodeValue {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "true" | "True" | "TRUE" => return NodeValue::Bool(true),
        "false" | "False" | "FALSE" => return NodeValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return NodeValue::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeValue::Float(f64::NAN),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return NodeValue::Int(i);
        }
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return NodeValue::Int(i);
        }
    }
    let looks_float = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if looks_float {
        if let Ok(f) = text.parse::<f64>() {
            return NodeValue::Float(f);
        }
    }
    NodeValue::Str(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Node, Diag> {
        parse(&Source::new(
            std::path::Path::new("t.yml"),
            text.to_string(),
        ))
    }

    #[test]
    fn scalars_resolve_like_yaml_core_schema() {
        let n = load("a: 1\nb: 1.5\nc: 'x'\nd:\ne: true\nf: '1'\ng: 2025-01-01\n").unwrap();
        assert_eq!(n.get("a").unwrap().value, NodeValue::Int(1));
        assert_eq!(n.get("b").unwrap().value, NodeValue::Float(1.5));
        assert_eq!(n.get("c").unwrap().value, NodeValue::Str("x".into()));
        assert!(n.get("d").unwrap().is_null());
        assert_eq!(n.get("e").unwrap().value, NodeValue::Bool(true));
        assert_eq!(n.get("f").unwrap().value, NodeValue::Str("1".into()));
        assert_eq!(
            n.get("g").unwrap().value,
            NodeValue::Str("2025-01-01".into())
        );
    }

    #[test]
    fn spans_point_at_keys_and_values_in_bytes() {
        let text = "é: x\nname: orders\n";
        let n = load(text).unwrap();
        let (key, value) = &n.as_map().unwrap()[1];
        assert_eq!(&text[key.span.offset..key.span.offset + 4], "name");
        assert_eq!(&text[value.span.offset..value.span.offset + 6], "orders");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = load("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.contains("duplicate key 'a'"), "{}", err.message);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = load("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.message.starts_with("invalid YAML"), "{}", err.message);
    }

    #[test]
    fn alias_bombs_are_refused_at_the_alias() {
        // each level doubles: 2^30 copies if expanded
        let mut text = String::from("a0: &a0 [x, x]\n");
        for i in 1..30 {
            text.push_str(&format!("a{i}: &a{i} [*a{}, *a{}]\n", i - 1, i - 1));
        }
        let err = load(&text).unwrap_err();
        assert!(err.message.contains("aliases"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("a: {}{}\n", "[".repeat(5000), "]".repeat(5000));
        let err = load(&text).unwrap_err();
        assert!(err.message.contains("nested"), "{}", err.message);
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let n = load("a: &x {k: 1}\nb: *x\n").unwrap();
        assert_eq!(
            n.get("b").unwrap().get("k").unwrap().value,
            NodeValue::Int(1)
        );
    }
}

//! Which configured data source an ODCS contract's tables are read from.
//!
//! A contract's `servers[]` say where its data lives but never hold credentials (those
//! stay in assay.yml). The data source is, in order: the one `--server NAME` names (a
//! server entry of that name, matched to the data source of the same name, or the data
//! source itself); the one `-d NAME` selects; the first server entry whose `server`
//! names a configured data source; the only configured data source. The matched entry's
//! `database`, `schema` and `format` place the tables.

use crate::config::Config;
use crate::decode::Reader;
use crate::engine::{DataSourceConfig, Place};
use crate::source::Span;
use crate::yaml::Node;

/// What the command line and the config say about where contracts run.
pub struct Placement<'a> {
    pub config: &'a Config,
    /// `-d NAME`: the data sources the run is restricted to
    pub names: &'a [&'a String],
    /// `--server NAME`
    pub server: Option<&'a str>,
}

/// The data source chosen, and where its server entry puts the tables.
pub struct Chosen<'a> {
    pub ds: &'a DataSourceConfig,
    pub place: Place,
    /// the `server` entry's name, or the document's start when none matched
    pub span: Span,
}

struct ServerEntry<'n> {
    name: String,
    node: &'n Node,
}

pub fn choose<'a>(r: &mut Reader, root: &Node, target: &Placement<'a>) -> Option<Chosen<'a>> {
    let entries = server_entries(r, root);
    let config = target.config;
    let chosen = |entry: Option<&ServerEntry>, ds: &'a DataSourceConfig| Chosen {
        ds,
        place: entry.map(|e| place_of(e.node)).unwrap_or_default(),
        span: entry
            .and_then(|e| e.node.get("server"))
            .map_or(root.span, |n| n.span),
    };
    if let Some(name) = target.server {
        let entry = entries.iter().find(|e| e.name == name);
        return match config.data_source(name) {
            Some(ds) => Some(chosen(entry, ds)),
            None => {
                let known: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
                r.error(
                    root.get("servers").map_or(root.span, |n| n.span),
                    format!("--server {name}: no configured data source is named '{name}'"),
                    Some(format!(
                        "the contract's servers are {}; the config's data sources are {}: a server entry runs on the data source of its name",
                        list(&known),
                        list(&config.data_sources.iter().map(|d| d.name.as_str()).collect::<Vec<_>>())
                    )),
                );
                None
            }
        };
    }
    if let Some(name) = target.names.first() {
        if let Some(ds) = config.data_source(name) {
            let entry = entries.iter().find(|e| &e.name == *name);
            return Some(chosen(entry, ds));
        }
    }
    if let Some((entry, ds)) = entries
        .iter()
        .find_map(|e| config.data_source(&e.name).map(|ds| (e, ds)))
    {
        return Some(chosen(Some(entry), ds));
    }
    if let [only] = config.data_sources.as_slice() {
        let entry = entries.first().filter(|_| entries.len() == 1);
        return Some(chosen(entry, only));
    }
    let servers: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let sources: Vec<&str> = config
        .data_sources
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    r.error(
        root.get("servers").map_or(root.span, |n| n.span),
        "no configured data source matches this contract's servers",
        Some(format!(
            "name a data source after a server entry ({}), or choose one with --server NAME or -d NAME (configured: {})",
            list(&servers),
            list(&sources)
        )),
    );
    None
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// The server entries with their names (read and checked by `keys` before).
fn server_entries<'n>(r: &mut Reader, root: &'n Node) -> Vec<ServerEntry<'n>> {
    let Some(items) = root.get("servers").and_then(|s| match &s.value {
        crate::yaml::NodeValue::Seq(items) => Some(items),
        _ => None,
    }) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|node| {
            let name = r
                .required(node, "server", "a server")
                .and_then(|n| r.string(n, "server"))?;
            r.required(node, "type", "a server");
            Some(ServerEntry { name, node })
        })
        .collect()
}

/// `database`, `schema` and `format` of a server entry, as text (a port or a number-like
/// schema name is text all the same).
fn place_of(node: &Node) -> Place {
    let text = |key: &str| node.get(key).and_then(Node::scalar_text);
    Place {
        database: text("database"),
        schema: text("schema"),
        format: text("format"),
    }
}

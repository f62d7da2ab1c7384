//! `reconciliation:` in a contract, as Soda v4 writes it: the contract's dataset is the
//! target; `source:` (one source dataset) or `sources:` (named entries, each check
//! choosing one with `source:`) is what it is compared against; `checks:` are the
//! reconciliation checks.

use super::{dataset_name, read_check, sql_text, Check, CheckPlace, ReconSource};
use crate::decode::Reader;
use crate::model::ColumnSpec;
use crate::yaml::Node;

const RECONCILIATION_KEYS: &[&str] = &["source", "sources", "checks"];
const SOURCE_KEYS: &[&str] = &["dataset", "filter"];
const SOURCES_ENTRY_KEYS: &[&str] = &["name", "dataset", "filter"];

/// The sources, and every check (handed to `push` as it is read).
pub(super) fn read(
    r: &mut Reader,
    node: &Node,
    columns: &[ColumnSpec],
    push: &mut dyn FnMut(&mut Reader, Check),
) -> Vec<ReconSource> {
    if !r.keys(node, RECONCILIATION_KEYS, "reconciliation") {
        return Vec::new();
    }
    let single = node.get("source").filter(|n| !n.is_null());
    let named = node.get("sources").filter(|n| !n.is_null());
    let sources = match (single, named) {
        (Some(s), None) => read_source(r, s, SOURCE_KEYS, "reconciliation.source")
            .into_iter()
            .collect(),
        (None, Some(list)) => read_sources(r, list),
        (Some(_), Some(list)) => {
            r.error(
                list.span,
                "reconciliation takes `source:` or `sources:`, not both",
                Some("list every source under `sources:`, each with a `name`".into()),
            );
            return Vec::new();
        }
        (None, None) => {
            r.error(
                node.span,
                "reconciliation needs the dataset to compare against",
                Some(
                    "reconciliation: {source: {dataset: data_source/schema/table}, checks: [...]}"
                        .into(),
                ),
            );
            return Vec::new();
        }
    };
    let Some(list) = node.get("checks").filter(|n| !n.is_null()) else {
        r.error(
            node.span,
            "reconciliation has no `checks:`",
            Some("add checks like `- row_count_diff:`".into()),
        );
        return sources;
    };
    let Some(items) = r.list(list, "reconciliation.checks") else {
        return sources;
    };
    if sources.is_empty() {
        return sources;
    }
    for item in items {
        let Some(index) = source_of(r, item, &sources, named.is_some()) else {
            continue;
        };
        let source = &sources[index];
        let place = CheckPlace::Reconciliation {
            source: index,
            source_name: source.name.as_deref(),
            source_dataset: &source.dataset.text,
        };
        if let Some(check) = read_check(r, item, &place, columns) {
            push(r, check);
        }
    }
    sources
}

fn read_source(r: &mut Reader, node: &Node, keys: &[&str], what: &str) -> Option<ReconSource> {
    if !r.keys(node, keys, what) {
        return None;
    }
    let dataset = r
        .required(node, "dataset", what)
        .and_then(|n| dataset_name(r, n));
    let filter = node.get("filter").and_then(|n| sql_text(r, n, "filter"));
    let name = match keys.contains(&"name") {
        true => r
            .required(node, "name", what)
            .and_then(|n| r.name(n, "the source's name")),
        false => None,
    };
    Some(ReconSource {
        name,
        dataset: dataset?,
        filter,
    })
}

fn read_sources(r: &mut Reader, list: &Node) -> Vec<ReconSource> {
    let Some(items) = r.list(list, "reconciliation.sources") else {
        return Vec::new();
    };
    if items.is_empty() {
        r.error(list.span, "reconciliation.sources lists no source", None);
    }
    let mut out: Vec<ReconSource> = Vec::new();
    for item in items {
        let Some(s) = read_source(r, item, SOURCES_ENTRY_KEYS, "a reconciliation source") else {
            continue;
        };
        if out.iter().any(|o| o.name == s.name) {
            let span = item.get("name").map_or(item.span, |n| n.span);
            r.error(
                span,
                format!(
                    "two reconciliation sources are named '{}'",
                    s.name.as_deref().unwrap_or_default()
                ),
                Some("give each source its own name".into()),
            );
            continue;
        }
        out.push(s);
    }
    out
}

/// The source a check compares against: its `source:` (required when there are several
/// named sources), or the only one.
fn source_of(r: &mut Reader, item: &Node, sources: &[ReconSource], named: bool) -> Option<usize> {
    let given = item
        .as_map()
        .and_then(|entries| entries.first())
        .and_then(|(_, body)| body.get("source"))
        .filter(|n| !n.is_null());
    let Some(given) = given else {
        if sources.len() == 1 {
            return Some(0);
        }
        let names: Vec<&str> = sources.iter().filter_map(|s| s.name.as_deref()).collect();
        r.error(
            item.span,
            "this reconciliation check does not say which source it compares against",
            Some(format!("add `source:` naming one of {}", names.join(", "))),
        );
        return None;
    };
    if !named {
        r.error(
            given.span,
            "`source:` on a check names an entry of `reconciliation.sources`, but this contract has the one `reconciliation.source`",
            Some("remove `source:` from the check, or list the sources under `sources:` with names".into()),
        );
        return None;
    }
    let name = r.string(given, "source")?;
    match sources
        .iter()
        .position(|s| s.name.as_deref() == Some(&name))
    {
        Some(i) => Some(i),
        None => {
            let names: Vec<&str> = sources.iter().filter_map(|s| s.name.as_deref()).collect();
            let help =
                crate::diag::unknown_word_help(&name, &names, "the reconciliation's sources:");
            r.error(
                given.span,
                format!("no reconciliation source is named '{name}'"),
                Some(help),
            );
            None
        }
    }
}

//! The SQL one side of a row-level comparison runs: segment checksums by key-hash
//! prefix, and the hashes of the rows of the segments that differ.

use crate::exec::ColumnInfo;
use crate::sql::ast::{Expr, TableRef};
use crate::sql::canonical::{self, Rule};
use crate::sql::dialect::{print_expr, Dialect};
use crate::sql::value_class::value_class;

/// How much of a value a sample shows.
const SHOWN_CHARS: usize = 200;

/// One side as its queries are printed.
pub struct SideSql<'a> {
    pub dialect: &'a dyn Dialect,
    pub table: &'a TableRef,
    pub filter: Option<&'a Expr>,
}

/// Which rows of the segments that differ a leaf query reads with the values samples
/// show: every one, none, or those of the given segments (the first that differ, which
/// hold the first differences in key-hash order, the ones kept as samples).
#[derive(Clone, Copy)]
pub enum ShownIn<'a> {
    Every,
    None,
    Segments(&'a [String]),
}

/// A column of this side with the rule its pair is rendered by.
pub struct Rendered<'a> {
    pub column: &'a ColumnInfo,
    pub rule: Rule,
}

/// The per-row expressions of one side, built once.
pub struct RowExprs {
    /// the text whose MD5 places a row in a segment: its keys (or, without keys, the
    /// whole row)
    bucket_text: String,
    /// the whole row, keys included
    row_text: String,
    column_hashes: Vec<String>,
    key_shown: Vec<String>,
    values_shown: Vec<String>,
}

impl RowExprs {
    pub fn new(d: &dyn Dialect, keys: &[Rendered], columns: &[Rendered]) -> RowExprs {
        let rendered = |r: &Rendered| {
            let quoted = d.quote_ident(&r.column.name);
            let column = canonical::Column {
                sql: &quoted,
                class: value_class(d, &r.column.data_type),
                data_type: &r.column.data_type,
                scale: r.column.numeric_scale,
            };
            (canonical::render(d, &column, r.rule), r.rule)
        };
        let keys_rendered: Vec<(String, Rule)> = keys.iter().map(rendered).collect();
        let values_rendered: Vec<(String, Rule)> = columns.iter().map(rendered).collect();
        let framed = |v: &[(String, Rule)]| -> Vec<String> {
            v.iter()
                .map(|(r, rule)| canonical::framed(r, *rule))
                .collect()
        };
        let key_framed = framed(&keys_rendered);
        let value_framed = framed(&values_rendered);
        let row_framed: Vec<String> = key_framed.iter().chain(&value_framed).cloned().collect();
        let row_text = canonical::joined(d, &row_framed);
        let shown = |v: &[(String, Rule)]| -> Vec<String> {
            v.iter()
                .map(|(r, _)| format!("substr({r}, 1, {SHOWN_CHARS})"))
                .collect()
        };
        RowExprs {
            bucket_text: if keys.is_empty() {
                row_text.clone()
            } else {
                canonical::joined(d, &key_framed)
            },
            row_text,
            column_hashes: value_framed.iter().map(|f| d.md5(f)).collect(),
            key_shown: shown(&keys_rendered),
            values_shown: shown(&values_rendered),
        }
    }

    pub fn values(&self) -> usize {
        self.column_hashes.len()
    }
}

impl SideSql<'_> {
    fn bucket(&self, e: &RowExprs, digits: usize) -> String {
        format!("substr({}, 1, {digits})", self.dialect.md5(&e.bucket_text))
    }

    /// FROM and WHERE: the side's filter and, past the first level, the segments to look
    /// into.
    fn table_and_rows(
        &self,
        e: &RowExprs,
        within: Option<(usize, &[String])>,
        also: Option<String>,
    ) -> String {
        let d = self.dialect;
        let mut conditions: Vec<String> = also.into_iter().collect();
        if let Some(f) = self.filter {
            conditions.push(format!("({})", print_expr(d, f)));
        }
        if let Some((digits, prefixes)) = within {
            let list: Vec<String> = prefixes.iter().map(|p| format!("'{p}'")).collect();
            conditions.push(format!(
                "{} IN ({})",
                self.bucket(e, digits),
                list.join(", ")
            ));
        }
        let mut out = format!("FROM {}", d.table(self.table));
        if !conditions.is_empty() {
            out.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
        }
        out
    }

    /// Each segment (rows whose key hash starts with the same `digits` hex digits) with
    /// its row count and the sum of its rows' hashes.
    pub fn segments(
        &self,
        e: &RowExprs,
        digits: usize,
        within: Option<(usize, &[String])>,
    ) -> String {
        format!(
            "SELECT {} AS segment, COUNT(*) AS row_count, SUM({}) AS checksum {} GROUP BY 1",
            self.bucket(e, digits),
            canonical::hash_int(self.dialect, &e.row_text),
            self.table_and_rows(e, within, None)
        )
    }

    /// The rows of the segments that differ: the first 16 hex digits of their key hash,
    /// row hash and each compared column's hash; unless `shown` is `ShownIn::None`, a
    /// flag (1 where the row's values are shown) and the key and values as the samples
    /// show them.
    pub fn rows(&self, e: &RowExprs, within: (usize, &[String]), shown: ShownIn<'_>) -> String {
        let d = self.dialect;
        let hash16 = |text: &str| format!("substr({}, 1, 16)", d.md5(text));
        let mut items = vec![hash16(&e.bucket_text), hash16(&e.row_text)];
        items.extend(
            e.column_hashes
                .iter()
                .map(|h| format!("substr({h}, 1, 16)")),
        );
        let shown_items = e.key_shown.iter().chain(&e.values_shown);
        match shown {
            ShownIn::None => {}
            ShownIn::Every => {
                items.push("1".into());
                items.extend(shown_items.cloned());
            }
            ShownIn::Segments(prefixes) => {
                let list: Vec<String> = prefixes.iter().map(|p| format!("'{p}'")).collect();
                let condition = format!("{} IN ({})", self.bucket(e, within.0), list.join(", "));
                items.push(format!("CASE WHEN {condition} THEN 1 ELSE 0 END"));
                items.extend(shown_items.map(|v| format!("CASE WHEN {condition} THEN {v} END")));
            }
        }
        format!(
            "SELECT {} {}",
            items.join(", "),
            self.table_and_rows(e, Some(within), None)
        )
    }

    /// The key and values of the rows whose key hashes begin with `keys` (16 hex digits
    /// each), as the samples show them.
    pub fn shown(&self, e: &RowExprs, keys: &[String]) -> String {
        let d = self.dialect;
        let key = format!("substr({}, 1, 16)", d.md5(&e.bucket_text));
        let list: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
        let mut items = vec![key.clone()];
        items.extend(e.key_shown.iter().cloned());
        items.extend(e.values_shown.iter().cloned());
        let from = self.table_and_rows(e, None, Some(format!("{key} IN ({})", list.join(", "))));
        format!("SELECT {} {from}", items.join(", "))
    }

    /// Without keys: each distinct row of the segments that differ, with how many times
    /// it is there.
    pub fn row_counts(&self, e: &RowExprs, within: (usize, &[String])) -> String {
        let d = self.dialect;
        let mut items = vec![
            format!("{} AS row_hash", d.md5(&e.row_text)),
            "COUNT(*) AS row_count".to_string(),
        ];
        items.extend(e.values_shown.iter().map(|v| format!("MIN({v})")));
        format!(
            "SELECT {} {} GROUP BY 1",
            items.join(", "),
            self.table_and_rows(e, Some(within), None)
        )
    }
}

//! Failed rows capture (SPEC section 6): for a failing missing, invalid, duplicate or
//! failed_rows check, the SQL selecting up to N of its failing rows (duplicates: the
//! repeated keys with their counts, largest first), run read-only on the verified data
//! source, and the rows turned into JSON objects for the diagnostics store.
//!
//! Rows never go into results, logs or pushes: only their count does.

use serde_json::{Map, Value as Json};

use crate::checks::invalid::MAIN;
use crate::checks::Capture;
use crate::exec::Rows;
use crate::sql::ast::{CmpOp, Expr, Select, SelectItem, TableRef};
use crate::sql::dialect::{print_select, Dialect};

/// Column name of the count next to repeated keys.
pub const REPEAT_COUNT: &str = "duplicate_count";

/// Column name of a check's column_expression in the rows it captures.
pub const EXPRESSION_COLUMN: &str = "column_expression";

/// The capture query, built as a query tree and printed by the dialect. `columns` are
/// the dataset's columns to keep (the excluded ones are left out of the SELECT, so they
/// are never even read).
pub fn capture_sql(
    d: &dyn Dialect,
    table: &TableRef,
    capture: &Capture,
    filter: Option<&Expr>,
    columns: &[String],
    limit: u64,
) -> String {
    let item = |expr: Expr, alias: Option<String>| SelectItem { expr, alias };
    let where_ = |extra: Option<&Expr>| {
        let parts: Vec<Expr> = filter.into_iter().chain(extra).cloned().collect();
        (!parts.is_empty()).then(|| Expr::and(parts))
    };
    match capture {
        Capture::Rows {
            condition,
            aliased,
            expression,
        } => {
            let mut items = if columns.is_empty() {
                vec![item(Expr::AllColumns, None)]
            } else {
                columns.iter().map(|c| item(Expr::col(c), None)).collect()
            };
            if let Some(e) = expression {
                items.push(item(e.clone(), Some(EXPRESSION_COLUMN.into())));
            }
            let from = if *aliased {
                table.aliased(MAIN)
            } else {
                table.clone()
            };
            let mut select = Select::new(items, from, where_(Some(condition)));
            select.limit = Some(limit);
            print_select(d, &select)
        }
        Capture::Repeats { keys, only } => {
            let mut items: Vec<SelectItem> = keys
                .iter()
                .map(|k| {
                    let mut cols = Vec::new();
                    k.columns(&mut cols);
                    // a column_expression names no column: it is stored under its key
                    let name = cols.first().cloned().unwrap_or(EXPRESSION_COLUMN.into());
                    item(k.clone(), Some(name))
                })
                .collect();
            items.push(item(Expr::CountAll, Some(REPEAT_COUNT.into())));
            let mut select = Select::new(items, table.clone(), where_(only.as_ref()));
            select.group_by = keys.clone();
            select.having = Some(Expr::Cmp(
                Box::new(Expr::CountAll),
                CmpOp::Gt,
                Box::new(Expr::Int(1)),
            ));
            select.order_by = vec![(Expr::CountAll, true)];
            select.limit = Some(limit);
            print_select(d, &select)
        }
        Capture::Query { sql, .. } => d.limit_rows_of(sql, limit),
    }
}

/// Rows as JSON objects keyed by column name, without the excluded columns (for a
/// user's own query, whose columns are only known once it ran).
pub fn rows_json(rows: &Rows, exclude: &[String], d: &dyn Dialect) -> Vec<Json> {
    let keep: Vec<bool> = rows
        .columns
        .iter()
        .map(|c| !exclude.iter().any(|x| d.same_ident(x, c)))
        .collect();
    rows.rows
        .iter()
        .map(|row| {
            let mut obj = Map::new();
            for ((name, value), keep) in rows.columns.iter().zip(row).zip(&keep) {
                if *keep {
                    obj.insert(name.clone(), value.to_row_json());
                }
            }
            Json::Object(obj)
        })
        .collect()
}

/// A column key_column_mapping names that the keys_query does not return.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "key_column_mapping maps '{key}' to column '{column}', which the keys_query does not return (it returns {returned})"
)]
pub struct UnmappedKey {
    key: String,
    column: String,
    returned: String,
}

/// A keys_query's rows as the keys its key_column_mapping names: {store key: value}.
/// A mapped column the query does not return is an error, as Soda checks.
pub fn keys_json(
    rows: &Rows,
    mapping: &[(String, String)],
    d: &dyn Dialect,
) -> Result<Vec<Json>, UnmappedKey> {
    let positions = mapping
        .iter()
        .map(|(key, column)| {
            rows.columns
                .iter()
                .position(|c| d.same_ident(c, column))
                .map(|i| (key, i))
                .ok_or_else(|| UnmappedKey {
                    key: key.clone(),
                    column: column.clone(),
                    returned: rows.columns.join(", "),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .rows
        .iter()
        .map(|row| {
            Json::Object(
                positions
                    .iter()
                    .map(|(key, i)| ((*key).clone(), row[*i].to_row_json()))
                    .collect(),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::duckdb::DuckDbDialect;

    #[test]
    fn repeats_group_count_and_order_largest_first() {
        let t = TableRef::new(vec!["main".into(), "t".into()]);
        let sql = capture_sql(
            &DuckDbDialect,
            &t,
            &Capture::Repeats {
                keys: vec![Expr::col("a"), Expr::col("b")],
                only: None,
            },
            Some(&Expr::Raw("x > 1".into())),
            &[],
            5,
        );
        assert_eq!(
            sql,
            "SELECT\n  \"a\" AS \"a\",\n  \"b\" AS \"b\",\n  COUNT(*) AS \"duplicate_count\"\nFROM \"main\".\"t\"\nWHERE (x > 1)\nGROUP BY \"a\", \"b\"\nHAVING COUNT(*) > 1\nORDER BY COUNT(*) DESC\nLIMIT 5"
        );
    }

    #[test]
    fn excluded_columns_are_left_out() {
        let rows = Rows {
            columns: vec!["id".into(), "Email".into()],
            rows: vec![vec![
                crate::exec::Value::Int(1),
                crate::exec::Value::Text("x@y".into()),
            ]],
            ..Rows::default()
        };
        let json = rows_json(&rows, &["email".into()], &DuckDbDialect);
        assert_eq!(json, vec![serde_json::json!({"id": 1})]);
    }
}

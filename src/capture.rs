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
use crate::sql::ast::{Expr, TableRef};
use crate::sql::dialect::{print_expr, Dialect};

/// Column name of the count next to repeated keys.
pub const REPEAT_COUNT: &str = "duplicate_count";

/// The capture query. `columns` are the dataset's columns to keep (the excluded ones
/// are left out of the SELECT, so they are never even read).
pub fn capture_sql(
    d: &dyn Dialect,
    table: &TableRef,
    capture: &Capture,
    filter: Option<&Expr>,
    columns: &[String],
    limit: u64,
) -> String {
    let list = |names: &[String]| {
        if names.is_empty() {
            "*".to_string()
        } else {
            names
                .iter()
                .map(|c| d.quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let where_clause = |extra: Option<&Expr>| {
        let parts: Vec<Expr> = filter.into_iter().chain(extra).cloned().collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!("\nWHERE {}", print_expr(d, &Expr::and(parts)))
        }
    };
    match capture {
        Capture::Rows { condition, aliased } => {
            let from = if *aliased {
                d.table(&table.aliased(MAIN))
            } else {
                d.table(table)
            };
            format!(
                "SELECT {}\nFROM {from}{}\nLIMIT {limit}",
                list(columns),
                where_clause(Some(condition))
            )
        }
        Capture::Repeats { keys, only } => {
            let printed: Vec<String> = keys.iter().map(|k| print_expr(d, k)).collect();
            let selected: Vec<String> = keys
                .iter()
                .zip(&printed)
                .map(|(k, p)| {
                    let mut cols = Vec::new();
                    k.columns(&mut cols);
                    match cols.first() {
                        Some(name) => format!("{p} AS {}", d.quote_ident(name)),
                        None => p.clone(),
                    }
                })
                .collect();
            format!(
                "SELECT {}, COUNT(*) AS {}\nFROM {}{}\nGROUP BY {}\nHAVING COUNT(*) > 1\nORDER BY COUNT(*) DESC\nLIMIT {limit}",
                selected.join(", "),
                d.quote_ident(REPEAT_COUNT),
                d.table(table),
                where_clause(only.as_ref()),
                printed.join(", ")
            )
        }
        Capture::Query(user) => format!(
            "SELECT * FROM (\n{}\n) AS assay_rows\nLIMIT {limit}",
            user.trim().trim_end_matches(';')
        ),
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
            "SELECT \"a\" AS \"a\", \"b\" AS \"b\", COUNT(*) AS \"duplicate_count\"\nFROM \"main\".\"t\"\nWHERE (x > 1)\nGROUP BY \"a\", \"b\"\nHAVING COUNT(*) > 1\nORDER BY COUNT(*) DESC\nLIMIT 5"
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

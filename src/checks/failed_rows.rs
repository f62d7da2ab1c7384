//! `failed_rows`: rows for which an SQL predicate is true (`expression:`), the rows a
//! query returns (`query:`), or the keys of failing rows a query returns (`keys_query:`).
//! The count is compared. Percent needs a base: an expression has the rows tested; a
//! query has one when `rows_tested_query:` gives it (Soda's rules, numbers and warnings).

use serde_json::{json, Map, Value as Json};

use super::rules::ReferenceData;
use super::{
    count_value, percent, Agg, Capture, CheckKind, CheckType, Inputs, MeasureError, Measurement,
    NeedCtx, Needs, NoValue, OwnQuery, OwnRow, ParseCtx, Parsed, Scope, Side, SqlRole, UserSql,
};
use crate::decode::Reader;
use crate::exec::Value;
use crate::model::threshold::{Condition, ThresholdRules};
use crate::model::SqlText;
use crate::sql::ast::Expr;
use crate::yaml::{Node, NodeValue};

/// Where the failing rows come from.
#[derive(Debug, Clone)]
pub enum RowsFrom {
    Expression(SqlText),
    /// the failing rows themselves
    Query(SqlText),
    /// the keys of the failing rows: they, not whole rows, go to the diagnostics store
    KeysQuery(SqlText),
}

#[derive(Debug, Clone)]
pub struct FailedRows {
    pub source: RowsFrom,
    /// a query returning one number, the rows tested (query forms only)
    pub rows_tested: Option<SqlText>,
    /// store key name -> the keys_query's column that supplies it, in the order written
    pub key_column_mapping: Vec<(String, String)>,
}

pub enum Handles {
    Expression {
        rows: Agg,
        failed: Agg,
    },
    Query {
        failed: OwnRow,
        rows: Option<OwnRow>,
    },
}

const KEYS: &[&str] = &[
    "expression",
    "query",
    "keys_query",
    "rows_tested_query",
    "key_column_mapping",
];

impl FailedRows {
    fn query(&self) -> Option<&SqlText> {
        match &self.source {
            RowsFrom::Expression(_) => None,
            RowsFrom::Query(q) | RowsFrom::KeysQuery(q) => Some(q),
        }
    }
}

/// The number a rows_tested_query returned; None for NULL.
fn rows_tested(row: Option<&[Value]>) -> Result<Option<u64>, MeasureError> {
    const SHAPE: &str = "one number";
    let row = row.ok_or(MeasureError::NoRows {
        query: "rows_tested_query",
        shape: Some(SHAPE),
    })?;
    match row {
        [Value::Null] => Ok(None),
        [v] => count_value(Some(v), "rows_tested_query").map(Some),
        _ => Err(MeasureError::WrongColumns {
            query: "rows_tested_query",
            columns: row.len(),
            shape: SHAPE,
        }),
    }
}

impl CheckKind for FailedRows {
    type Handles = Handles;

    fn type_name(&self) -> &'static str {
        TYPE.name()
    }

    fn default_name(&self, _column: Option<&str>) -> String {
        match &self.source {
            RowsFrom::Expression(s) => format!("failed rows where {}", s.sql.trim()),
            RowsFrom::Query(_) => "failed rows query".to_string(),
            RowsFrom::KeysQuery(_) => "failed keys query".to_string(),
        }
    }

    fn needs(&self, _ctx: &NeedCtx, needs: &mut Needs) -> Handles {
        match (&self.source, self.query()) {
            (RowsFrom::Expression(s), _) => Handles::Expression {
                rows: needs.row_count(),
                failed: needs.aggregate(
                    "failed_rows_count",
                    Expr::count_where(Expr::Raw(s.sql.clone())),
                ),
            },
            (_, query) => Handles::Query {
                failed: needs.own_query(OwnQuery::CountRowsOf(
                    query.map(|q| q.sql.clone()).unwrap_or_default(),
                )),
                rows: self
                    .rows_tested
                    .as_ref()
                    .map(|r| needs.own_query(OwnQuery::Value(r.sql.clone()))),
            },
        }
    }

    fn measure(&self, h: &Handles, inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let (failed, rows) = match *h {
            Handles::Expression { rows, failed } => (
                inputs.count(failed, "failed rows count")?,
                Some(Some(inputs.count(rows, "row count")?)),
            ),
            Handles::Query { failed, rows } => {
                let row = inputs.row(failed).ok_or(MeasureError::NoRows {
                    query: "count query",
                    shape: None,
                })?;
                let failed = count_value(row.first(), "failed rows count")?;
                let rows = match rows {
                    Some(r) => Some(rows_tested(inputs.row(r))?),
                    None => None,
                };
                (failed, rows)
            }
        };
        let mut m = Measurement::new(Some(failed as f64)).diag("failed_rows_count", failed);
        match rows {
            // no base: a query without rows_tested_query
            None => {}
            Some(Some(rows)) => {
                let pct = percent(failed, rows);
                m.percent = Some(pct);
                m = m
                    .diag("failed_rows_percent", pct)
                    .diag("check_rows_tested", rows);
            }
            // the rows_tested_query returned NULL: a count still compares, a percent cannot
            Some(None) => {
                m = m.diag("check_rows_tested", Json::Null);
                m.no_value = NoValue::NotEvaluated(
                    "the rows_tested_query returned NULL, so there is no percentage".into(),
                );
            }
        }
        Ok(m)
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<Capture> {
        Some(match &self.source {
            RowsFrom::Expression(s) => Capture::Rows {
                condition: Expr::Raw(s.sql.clone()),
                aliased: false,
                expression: None,
            },
            RowsFrom::Query(s) => Capture::Query {
                sql: s.sql.clone(),
                keys: Vec::new(),
            },
            RowsFrom::KeysQuery(s) => Capture::Query {
                sql: s.sql.clone(),
                keys: self.key_column_mapping.clone(),
            },
        })
    }

    fn settings(&self, m: &mut Map<String, Json>) {
        match &self.source {
            RowsFrom::Expression(s) => m.insert("expression".into(), json!(s.sql)),
            RowsFrom::Query(s) => m.insert("query".into(), json!(s.sql)),
            RowsFrom::KeysQuery(s) => m.insert("keys_query".into(), json!(s.sql)),
        };
        if let Some(r) = &self.rows_tested {
            m.insert("rows_tested_query".into(), json!(r.sql));
        }
        if !self.key_column_mapping.is_empty() {
            let mapping: Map<String, Json> = self
                .key_column_mapping
                .iter()
                .map(|(k, c)| (k.clone(), json!(c)))
                .collect();
            m.insert("key_column_mapping".into(), Json::Object(mapping));
        }
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        let (key, role, text) = match &mut self.source {
            RowsFrom::Expression(s) => ("expression", SqlRole::Expression, s),
            RowsFrom::Query(s) => ("query", SqlRole::Query, s),
            RowsFrom::KeysQuery(s) => ("keys_query", SqlRole::Query, s),
        };
        let mut out = vec![UserSql {
            key,
            role,
            text,
            side: Side::Target,
        }];
        if let Some(text) = &mut self.rows_tested {
            out.push(UserSql {
                key: "rows_tested_query",
                role: SqlRole::Query,
                text,
                side: Side::Target,
            });
        }
        out
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

/// `failed_rows` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl CheckType for Type {
    fn name(&self) -> &'static str {
        "failed_rows"
    }

    fn scopes(&self) -> &'static [Scope] {
        super::ANYWHERE
    }

    fn keys(&self, _scope: Scope) -> Vec<&'static str> {
        KEYS.to_vec()
    }

    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        let present = |key: &str| node.get(key).filter(|n| !n.is_null());
        let given: Vec<(&str, &Node)> = ["expression", "query", "keys_query"]
            .into_iter()
            .filter_map(|k| present(k).map(|n| (k, n)))
            .collect();
        let (form, sql_node) = match given.as_slice() {
            [one] => *one,
            [] => {
                r.error(
                    if node.is_null() {
                        ctx.key_span
                    } else {
                        node.span
                    },
                    "a failed_rows check needs `expression:`, `query:` or `keys_query:`",
                    None,
                );
                return None;
            }
            [(first, _), (second, n), ..] => {
                r.error(
                    n.span,
                    format!("a failed_rows check takes one of `expression:`, `query:` and `keys_query:`, but has both `{first}` and `{second}`"),
                    None,
                );
                return None;
            }
        };
        let sql = r.sql(sql_node, form)?;
        let source = match form {
            "expression" => RowsFrom::Expression(sql),
            "query" => RowsFrom::Query(sql),
            _ => RowsFrom::KeysQuery(sql),
        };
        let is_query = !matches!(source, RowsFrom::Expression(_));
        let rows_tested = match present("rows_tested_query") {
            Some(n) if is_query => Some(r.sql(n, "rows_tested_query")?),
            Some(n) => {
                // Soda warns and goes on: an expression has its rows tested already
                r.warn(
                    n.span,
                    "rows_tested_query is only used with `query:` or `keys_query:`; an expression counts the rows it tests itself",
                    Some("remove rows_tested_query".into()),
                );
                None
            }
            None => None,
        };
        let key_column_mapping = match present("key_column_mapping") {
            Some(n) => key_column_mapping(r, n, matches!(source, RowsFrom::KeysQuery(_)))?,
            None => Vec::new(),
        };
        let has_base = !is_query || rows_tested.is_some();
        Some(Parsed {
            kind: Box::new(FailedRows {
                source,
                rows_tested,
                key_column_mapping,
            }),
            threshold_rules: ThresholdRules {
                default: Some(Condition::Eq(0.0)),
                percent: has_base,
                no_percent_help: "with `query:` or `keys_query:`, `metric: percent` needs `rows_tested_query:`, a query returning the number of rows tested",
                ..ThresholdRules::required()
            },
        })
    }
}

/// `key_column_mapping: {store key: query column}`; used only with keys_query (Soda warns
/// otherwise, and so do we).
fn key_column_mapping(r: &mut Reader, n: &Node, keys_query: bool) -> Option<Vec<(String, String)>> {
    let Some(entries) = n.as_map() else {
        r.error(
            n.span,
            format!(
                "key_column_mapping must be a mapping, found {}",
                n.kind_name()
            ),
            Some("key_column_mapping: {customer_id: cust_id}".into()),
        );
        return None;
    };
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        match &value.value {
            NodeValue::Str(column) => out.push((key.name.clone(), column.clone())),
            _ => {
                r.error(
                    value.span,
                    format!("key_column_mapping maps each key to a column name of the keys_query, found {}", value.kind_name()),
                    None,
                );
                return None;
            }
        }
    }
    if !keys_query {
        r.warn(
            n.span,
            "key_column_mapping is only used with `keys_query:`",
            Some("remove key_column_mapping".into()),
        );
        return Some(Vec::new());
    }
    Some(out)
}

//! `metric`: a user-written SQL aggregate over the tested rows (`expression:`), or a
//! query returning one number (`query:`).

use serde_json::{json, Map, Value as Json};

use super::{Inputs, Measurement, Metric as AggMetric, Needs, OwnQuery};
use crate::contract::SqlText;
use crate::decode::Reader;
use crate::sql::ast::Expr;
use crate::yaml::{Node, Span};

#[derive(Debug, Clone)]
pub enum Metric {
    Expression(SqlText),
    Query(SqlText),
}

/// The keys of a check whose SQL is an expression or a query (metric, failed_rows).
pub const SQL_SOURCE_KEYS: &[&str] = &["expression", "query"];

/// `expression:` or `query:`, exactly one; shared with failed_rows.
pub fn parse_sql_source(
    r: &mut Reader,
    node: &Node,
    key_span: Span,
    check: &str,
) -> Option<(bool, SqlText)> {
    let expression = node.get("expression").filter(|n| !n.is_null());
    let query = node.get("query").filter(|n| !n.is_null());
    let sql = |r: &mut Reader, n: &Node, what: &str| r.sql(n, what);
    match (expression, query) {
        (Some(e), None) => Some((true, sql(r, e, "expression")?)),
        (None, Some(q)) => Some((false, sql(r, q, "query")?)),
        (Some(_), Some(q)) => {
            r.error(
                q.span,
                format!("a {check} check takes `expression:` or `query:`, not both"),
                None,
            );
            None
        }
        (None, None) => {
            r.error(
                if node.is_null() { key_span } else { node.span },
                format!("a {check} check needs `expression:` or `query:`"),
                None,
            );
            None
        }
    }
}

impl Metric {
    pub fn parse(r: &mut Reader, node: &Node, key_span: Span) -> Option<Metric> {
        let (is_expr, sql) = parse_sql_source(r, node, key_span, "metric")?;
        Some(if is_expr {
            Metric::Expression(sql)
        } else {
            Metric::Query(sql)
        })
    }

    pub fn describe(&self, m: &mut Map<String, Json>) {
        match self {
            Metric::Expression(s) => m.insert("expression".into(), json!(s.sql)),
            Metric::Query(s) => m.insert("query".into(), json!(s.sql)),
        };
    }

    pub fn needs(&self) -> Needs {
        match self {
            Metric::Expression(s) => Needs {
                aggregates: vec![
                    AggMetric {
                        name: "row_count".into(),
                        expr: Expr::CountAll,
                    },
                    AggMetric {
                        name: "metric".into(),
                        expr: Expr::Raw(s.sql.clone()),
                    },
                ],
                ..Needs::default()
            },
            Metric::Query(s) => Needs {
                own_query: Some(OwnQuery::Value(s.sql.clone())),
                ..Needs::default()
            },
        }
    }

    pub fn measure(&self, inputs: &Inputs) -> Result<Measurement, String> {
        let (raw, rows) = match self {
            Metric::Expression(_) => (
                inputs.aggregates.get(1).cloned(),
                Some(super::count_value(inputs.aggregates.first(), "row count")?),
            ),
            Metric::Query(_) => {
                let row = inputs.own_row.ok_or(
                    "the metric query returned no rows; it must return one row with one number",
                )?;
                if row.len() != 1 {
                    return Err(format!(
                        "the metric query returned {} columns; it must return one row with one number",
                        row.len()
                    ));
                }
                (row.first().cloned(), None)
            }
        };
        let raw = raw.ok_or("the query returned no value")?;
        let value = if raw.is_null() {
            None
        } else {
            Some(
                raw.as_f64()
                    .ok_or_else(|| format!("the metric returned {raw}, which is not a number"))?,
            )
        };
        let mut m = Measurement::new(value).diag("metric_value", raw.to_json());
        if let Some(rows) = rows {
            m = m.diag("check_rows_tested", rows);
        }
        Ok(m)
    }
}

/// `metric` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl super::CheckType for Type {
    fn name(&self) -> &'static str {
        "metric"
    }

    fn scopes(&self) -> &'static [super::Scope] {
        super::ANYWHERE
    }

    fn keys(&self, _scope: super::Scope) -> Vec<&'static str> {
        SQL_SOURCE_KEYS.to_vec()
    }

    fn parse(
        &self,
        r: &mut crate::decode::Reader,
        node: &crate::yaml::Node,
        _column: Option<&super::ColumnDefaults>,
        key_span: crate::yaml::Span,
    ) -> Option<super::Parsed> {
        use super::{required, CheckKind, Parsed};
        Some(Parsed {
            kind: CheckKind::Metric(Metric::parse(r, node, key_span)?),
            threshold_rules: required(),
        })
    }
}

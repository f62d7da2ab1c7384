//! `metric`: a user-written SQL aggregate over the tested rows (`expression:`), or a
//! query returning one number (`query:`).

use serde_json::{json, Map, Value as Json};

use super::rules::ReferenceData;
use super::{
    Agg, Capture, CheckKind, CheckType, Inputs, MeasureError, Measurement, NeedCtx, Needs,
    OwnQuery, OwnRow, ParseCtx, Parsed, Scope, Side, SqlRole, UserSql,
};
use crate::decode::Reader;
use crate::model::threshold::ThresholdRules;
use crate::model::SqlText;
use crate::source::Span;
use crate::sql::ast::Expr;
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub enum Metric {
    Expression(SqlText),
    Query(SqlText),
}

/// A metric's SQL: an expression or a query.
const SQL_SOURCE_KEYS: &[&str] = &["expression", "query"];

/// `expression:` or `query:`, exactly one.
fn parse_sql_source(
    r: &mut Reader,
    node: &Node,
    key_span: Span,
    check: &str,
) -> Option<(SqlRole, SqlText)> {
    let expression = node.get("expression").filter(|n| !n.is_null());
    let query = node.get("query").filter(|n| !n.is_null());
    let sql = |r: &mut Reader, n: &Node, what: &str| r.sql(n, what);
    match (expression, query) {
        (Some(e), None) => Some((SqlRole::Expression, sql(r, e, "expression")?)),
        (None, Some(q)) => Some((SqlRole::Query, sql(r, q, "query")?)),
        (Some(_), Some(q)) => {
            r.error(
                q.span,
                format!(
                    "{} {check} check takes `expression:` or `query:`, not both",
                    crate::words::article(check)
                ),
                None,
            );
            None
        }
        (None, None) => {
            r.error(
                if node.is_null() { key_span } else { node.span },
                format!(
                    "{} {check} check needs `expression:` or `query:`",
                    crate::words::article(check)
                ),
                None,
            );
            None
        }
    }
}

pub enum Handles {
    Expression { rows: Agg, value: Agg },
    Query(OwnRow),
}

impl CheckKind for Metric {
    type Handles = Handles;

    fn type_name(&self) -> &'static str {
        TYPE.name()
    }

    fn default_name(&self, _column: Option<&str>) -> String {
        match self {
            Metric::Expression(s) => format!("metric {}", s.sql.trim()),
            Metric::Query(_) => "metric query".to_string(),
        }
    }

    fn needs(&self, _ctx: &NeedCtx, needs: &mut Needs) -> Handles {
        match self {
            Metric::Expression(s) => Handles::Expression {
                rows: needs.row_count(),
                value: needs.aggregate("metric", Expr::Raw(s.sql.clone())),
            },
            Metric::Query(s) => Handles::Query(needs.own_query(OwnQuery::Value(s.sql.clone()))),
        }
    }

    fn measure(&self, h: &Handles, inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let (raw, rows) = match *h {
            Handles::Expression { rows, value } => (
                inputs.value(value)?.clone(),
                Some(inputs.count(rows, "row count")?),
            ),
            Handles::Query(row) => {
                const SHAPE: &str = "one row with one number";
                let row = inputs.row(row).ok_or(MeasureError::NoRows {
                    query: "metric query",
                    shape: Some(SHAPE),
                })?;
                if row.len() != 1 {
                    return Err(MeasureError::WrongColumns {
                        query: "metric query",
                        columns: row.len(),
                        shape: SHAPE,
                    });
                }
                (row[0].clone(), None)
            }
        };
        let value = if raw.is_null() {
            None
        } else {
            Some(
                raw.as_f64()
                    .ok_or_else(|| MeasureError::not_a_number("the metric", &raw))?,
            )
        };
        let mut m = Measurement::new(value).diag("metric_value", raw.to_json());
        if let Some(rows) = rows {
            m = m.diag("check_rows_tested", rows);
        }
        Ok(m)
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<Capture> {
        None
    }

    fn settings(&self, m: &mut Map<String, Json>) {
        match self {
            Metric::Expression(s) => m.insert("expression".into(), json!(s.sql)),
            Metric::Query(s) => m.insert("query".into(), json!(s.sql)),
        };
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        match self {
            Metric::Expression(text) => vec![UserSql {
                key: "expression",
                role: SqlRole::Expression,
                text,
                side: Side::Target,
            }],
            Metric::Query(text) => vec![UserSql {
                key: "query",
                role: SqlRole::Query,
                text,
                side: Side::Target,
            }],
        }
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

/// `metric` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl CheckType for Type {
    fn name(&self) -> &'static str {
        "metric"
    }

    fn scopes(&self) -> &'static [Scope] {
        super::ANYWHERE
    }

    fn keys(&self, _scope: Scope) -> Vec<&'static str> {
        SQL_SOURCE_KEYS.to_vec()
    }

    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        let kind = match parse_sql_source(r, node, ctx.key_span, "metric")? {
            (SqlRole::Expression, sql) => Metric::Expression(sql),
            (SqlRole::Query, sql) => Metric::Query(sql),
        };
        Some(Parsed {
            kind: Box::new(kind),
            threshold_rules: ThresholdRules::required(),
        })
    }
}

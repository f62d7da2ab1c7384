//! `failed_rows`: rows for which an SQL predicate is true (`expression:`), or the rows a
//! query returns (`query:`). The count is compared; percent only with an expression,
//! since a query's rows have no base to be a percentage of.

use serde_json::{json, Map, Value as Json};

use super::{count_value, percent, Capture, Inputs, Measurement, Metric, Needs, OwnQuery};
use crate::contract::SqlText;
use crate::decode::Reader;
use crate::sql::ast::Expr;
use crate::yaml::{Node, Span};

#[derive(Debug, Clone)]
pub enum FailedRows {
    Expression(SqlText),
    Query(SqlText),
}

impl FailedRows {
    pub fn parse(r: &mut Reader, node: &Node, key_span: Span) -> Option<FailedRows> {
        let (is_expr, sql) = super::metric::parse_sql_source(r, node, key_span, "failed_rows")?;
        Some(if is_expr {
            FailedRows::Expression(sql)
        } else {
            FailedRows::Query(sql)
        })
    }

    pub fn has_percent(&self) -> bool {
        matches!(self, FailedRows::Expression(_))
    }

    pub fn describe(&self, m: &mut Map<String, Json>) {
        match self {
            FailedRows::Expression(s) => m.insert("expression".into(), json!(s.sql)),
            FailedRows::Query(s) => m.insert("query".into(), json!(s.sql)),
        };
    }

    pub fn needs(&self, _ctx: &super::NeedCtx) -> Needs {
        match self {
            FailedRows::Expression(s) => Needs {
                aggregates: vec![
                    Metric {
                        name: "row_count".into(),
                        expr: Expr::CountAll,
                    },
                    Metric {
                        name: "failed_rows_count".into(),
                        expr: Expr::count_where(Expr::Raw(s.sql.clone())),
                    },
                ],
                ..Needs::default()
            },
            FailedRows::Query(s) => Needs {
                own_query: Some(OwnQuery::CountRowsOf(s.sql.clone())),
                ..Needs::default()
            },
        }
    }

    pub fn capture(&self) -> Capture {
        match self {
            FailedRows::Expression(s) => Capture::Rows {
                condition: Expr::Raw(s.sql.clone()),
                aliased: false,
            },
            FailedRows::Query(s) => Capture::Query(s.sql.clone()),
        }
    }

    pub fn measure(&self, inputs: &Inputs) -> Result<Measurement, String> {
        match self {
            FailedRows::Expression(_) => {
                let rows = count_value(inputs.aggregates.first(), "row count")?;
                let failed = count_value(inputs.aggregates.get(1), "failed rows count")?;
                let pct = percent(failed, rows);
                let mut m = Measurement::new(Some(failed as f64))
                    .diag("failed_rows_count", failed)
                    .diag("failed_rows_percent", pct)
                    .diag("check_rows_tested", rows);
                m.percent = Some(pct);
                Ok(m)
            }
            FailedRows::Query(_) => {
                let row = inputs.own_row.ok_or("the count query returned no rows")?;
                let failed = count_value(row.first(), "failed rows count")?;
                Ok(Measurement::new(Some(failed as f64)).diag("failed_rows_count", failed))
            }
        }
    }
}

/// `failed_rows` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl super::CheckType for Type {
    fn name(&self) -> &'static str {
        "failed_rows"
    }

    fn scopes(&self) -> &'static [super::Scope] {
        super::ANYWHERE
    }

    fn keys(&self, _scope: super::Scope) -> Vec<&'static str> {
        super::metric::SQL_SOURCE_KEYS.to_vec()
    }

    fn parse(
        &self,
        r: &mut crate::decode::Reader,
        node: &crate::yaml::Node,
        _column: Option<&super::ColumnDefaults>,
        key_span: crate::yaml::Span,
    ) -> Option<super::Parsed> {
        use super::{CheckKind, Parsed};
        use crate::contract::threshold::{Condition, ThresholdRules};
        let f = FailedRows::parse(r, node, key_span)?;
        let percent = f.has_percent();
        Some(Parsed {
            kind: CheckKind::FailedRows(f),
            threshold_rules: ThresholdRules {
                default: Some(Condition::Eq(0.0)),
                percent,
                unit: false,
            },
        })
    }
}

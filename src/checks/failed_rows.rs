//! `failed_rows`: rows for which an SQL predicate is true (`expression:`), or the rows a
//! query returns (`query:`). The count is compared; percent only with an expression,
//! since a query's rows have no base to be a percentage of.

use serde_json::{json, Map, Value as Json};

use super::metric::{parse_sql_source, SQL_SOURCE_KEYS};
use super::rules::ReferenceData;
use super::{
    percent, Agg, Capture, CheckKind, CheckType, Inputs, Measurement, NeedCtx, Needs, OwnQuery,
    OwnRow, ParseCtx, Parsed, Scope, SqlRole,
};
use crate::decode::Reader;
use crate::model::threshold::{Condition, ThresholdRules};
use crate::model::SqlText;
use crate::sql::ast::Expr;
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub enum FailedRows {
    Expression(SqlText),
    Query(SqlText),
}

pub enum Handles {
    Expression { rows: Agg, failed: Agg },
    Query(OwnRow),
}

impl CheckKind for FailedRows {
    type Handles = Handles;

    fn type_name(&self) -> &'static str {
        TYPE.name()
    }

    fn default_name(&self, _column: Option<&str>) -> String {
        match self {
            FailedRows::Expression(s) => format!("failed rows where {}", s.sql.trim()),
            FailedRows::Query(_) => "failed rows query".to_string(),
        }
    }

    fn needs(&self, _ctx: &NeedCtx, needs: &mut Needs) -> Handles {
        match self {
            FailedRows::Expression(s) => Handles::Expression {
                rows: needs.row_count(),
                failed: needs.aggregate(
                    "failed_rows_count",
                    Expr::count_where(Expr::Raw(s.sql.clone())),
                ),
            },
            FailedRows::Query(s) => {
                Handles::Query(needs.own_query(OwnQuery::CountRowsOf(s.sql.clone())))
            }
        }
    }

    fn measure(&self, h: &Handles, inputs: &Inputs) -> Result<Measurement, String> {
        match *h {
            Handles::Expression { rows, failed } => {
                let rows = inputs.count(rows, "row count")?;
                let failed = inputs.count(failed, "failed rows count")?;
                let pct = percent(failed, rows);
                let mut m = Measurement::new(Some(failed as f64))
                    .diag("failed_rows_count", failed)
                    .diag("failed_rows_percent", pct)
                    .diag("check_rows_tested", rows);
                m.percent = Some(pct);
                Ok(m)
            }
            Handles::Query(row) => {
                let row = inputs.row(row).ok_or("the count query returned no rows")?;
                let failed = super::count_value(row.first(), "failed rows count")?;
                Ok(Measurement::new(Some(failed as f64)).diag("failed_rows_count", failed))
            }
        }
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<Capture> {
        Some(match self {
            FailedRows::Expression(s) => Capture::Rows {
                condition: Expr::Raw(s.sql.clone()),
                aliased: false,
            },
            FailedRows::Query(s) => Capture::Query(s.sql.clone()),
        })
    }

    fn settings(&self, m: &mut Map<String, Json>) {
        match self {
            FailedRows::Expression(s) => m.insert("expression".into(), json!(s.sql)),
            FailedRows::Query(s) => m.insert("query".into(), json!(s.sql)),
        };
    }

    fn user_sql(&mut self) -> Vec<(SqlRole, &mut SqlText)> {
        match self {
            FailedRows::Expression(s) => vec![(SqlRole::Expression, s)],
            FailedRows::Query(s) => vec![(SqlRole::Query, s)],
        }
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
        SQL_SOURCE_KEYS.to_vec()
    }

    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        let (role, sql) = parse_sql_source(r, node, ctx.key_span, "failed_rows")?;
        let kind = match role {
            SqlRole::Expression => FailedRows::Expression(sql),
            SqlRole::Query => FailedRows::Query(sql),
        };
        Some(Parsed {
            kind: Box::new(kind),
            // a query's rows have no base to be a percentage of
            threshold_rules: ThresholdRules {
                default: Some(Condition::Eq(0.0)),
                percent: role == SqlRole::Expression,
                ..ThresholdRules::required()
            },
        })
    }
}

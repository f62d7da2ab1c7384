//! `missing`: rows whose value is NULL, in `missing_values`, or matches `missing_format`.

use serde_json::{Map, Value as Json};

use super::rules::{self, MissingRules, ReferenceData};
use super::{
    alias_part, column_expression, column_value, describe_expression, expression_sql, must_be_zero,
    need_column, percent, sorted, Agg, Capture, CheckKind, CheckType, Inputs, MeasureError,
    Measurement, NeedCtx, Needs, ParseCtx, Parsed, Scope, UserSql, COLUMN_EXPRESSION,
};
use crate::decode::Reader;
use crate::model::SqlText;
use crate::sql::ast::Expr;
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct Missing {
    pub rules: MissingRules,
    /// SQL in place of the column's name
    pub expression: Option<SqlText>,
}

pub struct Handles {
    rows: Agg,
    missing: Agg,
}

impl CheckKind for Missing {
    type Handles = Handles;

    fn type_name(&self) -> &'static str {
        TYPE.name()
    }

    fn default_name(&self, column: Option<&str>) -> String {
        format!("missing values in {}", column.unwrap_or_default())
    }

    fn needs(&self, ctx: &NeedCtx, needs: &mut Needs) -> Handles {
        let column = ctx.column.unwrap_or_default();
        need_column(needs, &self.expression, column);
        let value = column_value(&self.expression, ctx);
        Handles {
            rows: needs.row_count(),
            missing: needs.aggregate(
                format!("{}_missing_count", alias_part(column)),
                Expr::count_where(self.rules.is_missing(&value)),
            ),
        }
    }

    fn measure(&self, h: &Handles, inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let rows = inputs.count(h.rows, "row count")?;
        let missing = inputs.count(h.missing, "missing count")?;
        let pct = percent(missing, rows);
        let mut m = Measurement::new(Some(missing as f64))
            .diag("missing_count", missing)
            .diag("missing_percent", pct)
            .diag("check_rows_tested", rows);
        m.percent = Some(pct);
        Ok(m)
    }

    fn capture(&self, ctx: &NeedCtx) -> Option<Capture> {
        let value = column_value(&self.expression, ctx);
        Some(Capture::Rows {
            condition: self.rules.is_missing(&value),
            aliased: false,
            expression: self.expression.as_ref().map(|_| value),
        })
    }

    fn settings(&self, settings: &mut Map<String, Json>) {
        self.rules.describe(settings);
        describe_expression(&self.expression, settings);
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        expression_sql(&mut self.expression)
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

/// `missing` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl CheckType for Type {
    fn name(&self) -> &'static str {
        "missing"
    }

    fn scopes(&self) -> &'static [Scope] {
        super::COLUMN
    }

    fn keys(&self, _scope: Scope) -> Vec<&'static str> {
        let mut k = rules::MISSING_KEYS.to_vec();
        k.push(COLUMN_EXPRESSION);
        sorted(k)
    }

    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        let own = rules::parse_missing(r, node);
        let rules = own
            .or_else(|| ctx.column?.missing.cloned())
            .unwrap_or_default();
        let expression = column_expression(r, node, ctx.column).ok()?;
        Some(Parsed {
            kind: Box::new(Missing { rules, expression }),
            threshold_rules: must_be_zero(),
        })
    }
}

//! `missing`: rows whose value is NULL, in `missing_values`, or matches `missing_format`.

use serde_json::{Map, Value as Json};

use super::rules::{self, MissingRules, ReferenceData};
use super::{
    alias_part, must_be_zero, percent, sorted, Agg, Capture, CheckKind, CheckType, Inputs,
    Measurement, NeedCtx, Needs, ParseCtx, Parsed, Scope, UserSql,
};
use crate::decode::Reader;
use crate::sql::ast::Expr;
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct Missing {
    pub rules: MissingRules,
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
        needs.column(column);
        Handles {
            rows: needs.row_count(),
            missing: needs.aggregate(
                format!("{}_missing_count", alias_part(column)),
                Expr::count_where(self.rules.is_missing(column)),
            ),
        }
    }

    fn measure(&self, h: &Handles, inputs: &Inputs) -> Result<Measurement, String> {
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
        Some(Capture::Rows {
            condition: self.rules.is_missing(ctx.column.unwrap_or_default()),
            aliased: false,
        })
    }

    fn settings(&self, settings: &mut Map<String, Json>) {
        self.rules.describe(settings);
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        Vec::new()
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
        sorted(rules::MISSING_KEYS.to_vec())
    }

    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        let own = rules::parse_missing(r, node);
        let rules = own
            .or_else(|| ctx.column?.missing.cloned())
            .unwrap_or_default();
        Some(Parsed {
            kind: Box::new(Missing { rules }),
            threshold_rules: must_be_zero(),
        })
    }
}

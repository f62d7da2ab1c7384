//! `missing`: rows whose value is NULL, in `missing_values`, or matches `missing_format`.

use super::rules::{self, MissingRules};
use super::{
    alias_part, count_value, percent, ColumnDefaults, Inputs, Measurement, Metric, NeedCtx, Needs,
};
use crate::decode::Reader;
use crate::sql::ast::Expr;
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct Missing {
    pub rules: MissingRules,
}

impl Missing {
    pub fn parse(r: &mut Reader, node: &Node, column: &ColumnDefaults) -> Missing {
        let own = rules::parse_missing(r, node);
        Missing {
            rules: own.or_else(|| column.missing.cloned()).unwrap_or_default(),
        }
    }

    pub fn needs(&self, ctx: &NeedCtx) -> Needs {
        let column = ctx.column.unwrap_or_default();
        Needs {
            aggregates: vec![
                Metric {
                    name: "row_count".into(),
                    expr: Expr::CountAll,
                },
                Metric {
                    name: format!("{}_missing_count", alias_part(column)),
                    expr: Expr::count_where(self.rules.is_missing(column)),
                },
            ],
            columns: vec![column.to_string()],
            ..Needs::default()
        }
    }

    pub fn measure(&self, inputs: &Inputs) -> Result<Measurement, String> {
        let rows = count_value(inputs.aggregates.first(), "row count")?;
        let missing = count_value(inputs.aggregates.get(1), "missing count")?;
        let pct = percent(missing, rows);
        let mut m = Measurement::new(Some(missing as f64))
            .diag("missing_count", missing)
            .diag("missing_percent", pct)
            .diag("check_rows_tested", rows);
        m.percent = Some(pct);
        Ok(m)
    }
}

/// `missing` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl super::CheckType for Type {
    fn name(&self) -> &'static str {
        "missing"
    }

    fn scopes(&self) -> &'static [super::Scope] {
        super::COLUMN
    }

    fn keys(&self, _scope: super::Scope) -> Vec<&'static str> {
        use super::{rules, sorted};
        sorted(rules::MISSING_KEYS.to_vec())
    }

    fn parse(
        &self,
        r: &mut crate::decode::Reader,
        node: &crate::yaml::Node,
        column: Option<&super::ColumnDefaults>,
        _key_span: crate::yaml::Span,
    ) -> Option<super::Parsed> {
        use super::{must_be_zero, CheckKind, Parsed};
        Some(Parsed {
            kind: CheckKind::Missing(Missing::parse(r, node, column?)),
            threshold_rules: must_be_zero(),
        })
    }
}

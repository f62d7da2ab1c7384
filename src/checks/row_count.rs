//! `row_count`: rows left after the dataset and check filters.

use super::{count_value, Inputs, Measurement, Metric, Needs, NoValue};
use crate::sql::ast::Expr;

pub fn needs() -> Needs {
    Needs {
        aggregates: vec![Metric {
            name: "row_count".into(),
            expr: Expr::CountAll,
        }],
        ..Needs::default()
    }
}

pub fn measure(inputs: &Inputs) -> Result<Measurement, String> {
    let rows = count_value(inputs.aggregates.first(), "row_count")?;
    let mut m = Measurement::new(Some(rows as f64)).diag("check_rows_tested", rows);
    m.no_value = NoValue::Fail;
    Ok(m)
}

/// `row_count` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl super::CheckType for Type {
    fn name(&self) -> &'static str {
        "row_count"
    }

    fn scopes(&self) -> &'static [super::Scope] {
        super::DATASET
    }

    fn keys(&self, _scope: super::Scope) -> Vec<&'static str> {
        Vec::new()
    }

    fn parse(
        &self,
        _r: &mut crate::decode::Reader,
        _node: &crate::yaml::Node,
        _column: Option<&super::ColumnDefaults>,
        _key_span: crate::yaml::Span,
    ) -> Option<super::Parsed> {
        use super::{CheckKind, Parsed};
        use crate::contract::threshold::{Condition, ThresholdRules};
        Some(Parsed {
            kind: CheckKind::RowCount,
            threshold_rules: ThresholdRules {
                default: Some(Condition::Gt(0.0)),
                percent: false,
                unit: false,
            },
        })
    }
}

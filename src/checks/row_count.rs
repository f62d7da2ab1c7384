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

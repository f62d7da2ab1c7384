//! `row_count`: rows left after the dataset and check filters.

use serde_json::{Map, Value as Json};

use super::rules::ReferenceData;
use super::{
    Agg, Capture, CheckKind, CheckType, Inputs, MeasureError, Measurement, NeedCtx, Needs, NoValue,
    ParseCtx, Parsed, Scope, UserSql,
};
use crate::decode::Reader;
use crate::model::threshold::{Condition, ThresholdRules};
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct RowCount;

impl CheckKind for RowCount {
    type Handles = Agg;

    fn type_name(&self) -> &'static str {
        TYPE.name()
    }

    fn default_name(&self, _column: Option<&str>) -> String {
        "row count".to_string()
    }

    fn needs(&self, _ctx: &NeedCtx, needs: &mut Needs) -> Agg {
        needs.row_count()
    }

    fn measure(&self, rows: &Agg, inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let rows = inputs.count(*rows, "row_count")?;
        let mut m = Measurement::new(Some(rows as f64)).diag("check_rows_tested", rows);
        m.no_value = NoValue::Fail;
        Ok(m)
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<Capture> {
        None
    }

    fn settings(&self, _settings: &mut Map<String, Json>) {}

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        Vec::new()
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

/// `row_count` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl CheckType for Type {
    fn name(&self) -> &'static str {
        "row_count"
    }

    fn scopes(&self) -> &'static [Scope] {
        super::DATASET
    }

    fn keys(&self, _scope: Scope) -> Vec<&'static str> {
        Vec::new()
    }

    fn parse(&self, _r: &mut Reader, _node: &Node, _ctx: &ParseCtx) -> Option<Parsed> {
        Some(Parsed {
            kind: Box::new(RowCount),
            threshold_rules: ThresholdRules {
                default: Some(Condition::Gt(0.0)),
                ..ThresholdRules::required()
            },
        })
    }
}

//! An ODCS rule assay cannot run (a `custom` rule of another engine, a `text` rule):
//! reported in the results as not evaluated, with the reason, never dropped.

use serde_json::{Map, Value as Json};

use crate::checks::rules::ReferenceData;
use crate::checks::{
    Capture, CheckKind, DynCheck, Inputs, MeasureError, Measurement, NeedCtx, Needs, NoValue,
    UserSql,
};
use crate::contract::Check;
use crate::decode::Reader;
use crate::model::threshold::{Condition, Threshold};
use crate::source::Span;

#[derive(Debug, Clone)]
pub struct NotRun {
    /// the rule's `type` (and `engine`), echoed in the results' settings
    pub rule: String,
    pub reason: String,
    pub name: String,
    /// the rule's `id`, or its place in the list
    pub qualifier: String,
    pub span: Span,
}

impl NotRun {
    pub fn check(self, r: &Reader, column: Option<&str>) -> Check {
        let base = match column {
            Some(c) => format!("columns/{c}/odcs"),
            None => "checks/odcs".to_string(),
        };
        let (name, qualifier, span) = (self.name.clone(), self.qualifier.clone(), self.span);
        let id = format!("{base}/{qualifier}");
        built_check(r, Box::new(self), id, column, (name, qualifier), span)
    }
}

/// A check the ODCS reader builds itself (not from a Soda tree): no filter, no
/// attributes, a threshold of 0 differences.
pub(super) fn built_check(
    r: &Reader,
    kind: Box<dyn DynCheck>,
    id: String,
    column: Option<&str>,
    (name, qualifier): (String, String),
    span: Span,
) -> Check {
    Check {
        id,
        column: column.map(str::to_string),
        name: Some(name),
        qualifier: Some(qualifier),
        filter: None,
        threshold: Threshold::new(Condition::Eq(0.0)),
        attributes: Map::new(),
        span,
        line: r.source.line_col(span.offset).0,
        kind,
        source: None,
    }
}

impl CheckKind for NotRun {
    type Handles = ();

    fn type_name(&self) -> &'static str {
        "odcs"
    }

    fn default_name(&self, _column: Option<&str>) -> String {
        self.name.clone()
    }

    fn needs(&self, _ctx: &NeedCtx, _needs: &mut Needs) {}

    fn measure(&self, _: &(), _inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let mut m = Measurement::new(None);
        m.no_value = NoValue::NotEvaluated(self.reason.clone());
        Ok(m)
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<Capture> {
        None
    }

    fn settings(&self, settings: &mut Map<String, Json>) {
        settings.insert("odcs_rule".into(), Json::String(self.rule.clone()));
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        Vec::new()
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

//! Reconciliation checks (`reconciliation: {checks: [...]}`): the contract's dataset
//! (the target) against a source dataset, in any engine.
//!
//! A metric-level check (`metrics.rs`) is a `Diff`: the same check measured on both
//! sides, each side's aggregates folded into that side's one metrics query and run in
//! that side's engine, and the difference between the two values judged by the
//! threshold. `schema_diff` (`schema.rs`) compares the two catalogs; `rows_diff`
//! (`rows.rs`) the rows, by key, through `rowdiff::run`.

mod metrics;
mod rows;
mod schema;

pub use metrics::{
    AGGREGATE_DIFF, DUPLICATE_DIFF, FRESHNESS_DIFF, METRIC_DIFF, MISSING_DIFF, ROW_COUNT_DIFF,
};
pub use rows::TYPE as ROWS_DIFF;
pub use schema::TYPE as SCHEMA_DIFF;

use serde_json::{json, Map, Value as Json};

use super::rules::ReferenceData;
use super::{
    Capture, CheckKind, DynCheck, Handles, Inputs, MeasureError, Measurement, NeedCtx, Needs,
    NoValue, Side, UserSql,
};

/// One check measured on both sides; its value is the difference.
#[derive(Debug, Clone)]
pub struct Diff {
    type_name: &'static str,
    /// what is compared, for the default name ("row count", "avg of amount")
    what: String,
    /// the column the sides' checks are on, if any
    column: Option<String>,
    source_dataset: String,
    target: Box<dyn DynCheck>,
    source: Box<dyn DynCheck>,
}

impl Diff {
    fn on_side(side: &'static str) -> impl Fn(MeasureError) -> MeasureError {
        move |e| MeasureError::OnSide {
            side,
            error: Box::new(e),
        }
    }
}

impl CheckKind for Diff {
    type Handles = (Handles, Handles);

    fn type_name(&self) -> &'static str {
        self.type_name
    }

    fn default_name(&self, _column: Option<&str>) -> String {
        format!("{} against {}", self.what, self.source_dataset)
    }

    fn needs(&self, ctx: &NeedCtx, needs: &mut Needs) -> Self::Handles {
        let column = self.column.as_deref();
        let (target, target_handles) = self.target.needs(&side_ctx(ctx, column));
        let (source, source_handles) = match ctx.source {
            Some(s) => self.source.needs(&side_ctx(s, column)),
            // planned without its source (never by the plan, which always gives one)
            None => (Needs::default(), Handles::none()),
        };
        *needs = target;
        needs.source = Some(Box::new(source));
        (target_handles, source_handles)
    }

    fn measure(&self, h: &Self::Handles, inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let target = self
            .target
            .measure(&h.0, inputs)
            .map_err(Diff::on_side("target"))?;
        let source = self
            .source
            .measure(&h.1, inputs.source()?)
            .map_err(Diff::on_side("source"))?;
        Ok(difference(source, target))
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<Capture> {
        None
    }

    fn settings(&self, settings: &mut Map<String, Json>) {
        *settings = self.target.settings();
        for (k, v) in self.source.settings() {
            if settings.get(&k) != Some(&v) {
                settings.insert(format!("source_{k}"), v);
            }
        }
        if let Some(c) = &self.column {
            settings.insert("column".into(), json!(c));
        }
        settings.insert("source_dataset".into(), json!(self.source_dataset));
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        let target = self.target.user_sql().into_iter().map(|u| UserSql {
            key: sided_key(u.key, Side::Target),
            ..u
        });
        let source = self.source.user_sql().into_iter().map(|u| UserSql {
            key: sided_key(u.key, Side::Source),
            side: Side::Source,
            ..u
        });
        target.chain(source).collect()
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

/// One side's context for the check measured on it: its table and filters, the diff's
/// column.
fn side_ctx<'a>(c: &NeedCtx<'a>, column: Option<&'a str>) -> NeedCtx<'a> {
    NeedCtx {
        table: c.table,
        column,
        filter: c.filter,
        reference_table: None,
        source: None,
    }
}

/// The contract's key of a side's SQL (`expression` of the source is `source_expression`).
fn sided_key(key: &'static str, side: Side) -> &'static str {
    match (key, side) {
        ("expression", Side::Source) => "source_expression",
        ("expression", Side::Target) => "target_expression",
        ("query", Side::Source) => "source_query",
        ("query", Side::Target) => "target_query",
        (other, _) => other,
    }
}

/// The two sides' values -> the check's: the absolute difference of their values, and
/// as a percent either the difference of their percents (in percentage points, for
/// checks that have one: duplicates, missing values) or the difference relative to the
/// source's value. Both sides without a value are equal; one side without one is a
/// difference no number measures, and fails.
pub fn difference(source: Measurement, target: Measurement) -> Measurement {
    let (s, t) = (source.count, target.count);
    let diff = match (s, t) {
        (Some(s), Some(t)) => Some((t - s).abs()),
        (None, None) => Some(0.0),
        _ => None,
    };
    let percent = match (source.percent, target.percent) {
        (Some(sp), Some(tp)) => Some((tp - sp).abs()),
        _ => match (s, t) {
            (None, None) => Some(0.0),
            (Some(s), Some(t)) if s == t => Some(0.0),
            (Some(s), Some(t)) if s != 0.0 => Some((t - s).abs() * 100.0 / s.abs()),
            _ => None,
        },
    };
    let side = |m: &Measurement| {
        let mut o = m.diagnostics.clone();
        o.insert("value".into(), json!(m.count));
        if let Some(p) = m.percent {
            o.insert("percent".into(), json!(p));
        }
        Json::Object(o)
    };
    let mut m = Measurement::new(diff)
        .diag("source_value", json!(s))
        .diag("target_value", json!(t))
        .diag("difference", json!(s.zip(t).map(|(s, t)| t - s)))
        .diag("difference_percent", json!(percent))
        .diag("source", side(&source))
        .diag("target", side(&target));
    if let Some(rows) = target.diagnostics.get("check_rows_tested") {
        m = m.diag("check_rows_tested", rows.clone());
    }
    m.percent = percent;
    // one side measured and the other not, or a percent of a source value of 0: the two
    // differ by more than any threshold says
    m.no_value = NoValue::Fail;
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Scope, TYPES};

    /// The README's Soda key table names every reconciliation check and each of its keys.
    #[test]
    fn the_readme_names_every_reconciliation_check_and_key() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let start = readme.find("### Soda Core v4 compatibility").unwrap();
        let table = &readme[start..start + readme[start..].find("\n### ").unwrap()];
        let types: Vec<_> = TYPES
            .iter()
            .filter(|t| t.scopes() == [Scope::Reconciliation])
            .collect();
        assert_eq!(types.len(), 8);
        for t in types {
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", t.name())))
                .unwrap_or_else(|| panic!("no row for {}", t.name()));
            for key in t.keys(Scope::Reconciliation) {
                assert!(row.contains(&format!("`{key}`")), "{}: {key}", t.name());
            }
        }
    }

    fn measured(count: Option<f64>, percent: Option<f64>) -> Measurement {
        let mut m = Measurement::new(count);
        m.percent = percent;
        m
    }

    #[test]
    fn the_difference_is_absolute_and_its_percent_relative_to_the_source() {
        let d = difference(measured(Some(200.0), None), measured(Some(150.0), None));
        assert_eq!(d.count, Some(50.0));
        assert_eq!(d.percent, Some(25.0));
        assert_eq!(d.diagnostics["difference"], json!(-50.0));
        let d = difference(measured(Some(0.0), None), measured(Some(0.0), None));
        assert_eq!((d.count, d.percent), (Some(0.0), Some(0.0)));
        // a percent of nothing cannot be measured: the check fails rather than passes
        let d = difference(measured(Some(0.0), None), measured(Some(3.0), None));
        assert_eq!((d.count, d.percent), (Some(3.0), None));
        assert_eq!(d.no_value, NoValue::Fail);
    }

    #[test]
    fn checks_with_a_percent_compare_percentage_points() {
        let d = difference(
            measured(Some(2.0), Some(10.0)),
            measured(Some(3.0), Some(7.5)),
        );
        assert_eq!(d.count, Some(1.0));
        assert_eq!(d.percent, Some(2.5));
    }

    #[test]
    fn a_side_without_a_value_differs_and_two_are_equal() {
        let d = difference(measured(None, None), measured(Some(4.0), None));
        assert_eq!(d.count, None);
        assert_eq!(d.no_value, NoValue::Fail);
        let d = difference(measured(None, None), measured(None, None));
        assert_eq!(d.count, Some(0.0));
    }
}

//! Measured values -> check outcomes, with no I/O: everything here is a pure function of
//! what the queries returned, so thresholds, percentages, NULLs and failures are tested
//! without a database.

use chrono::{DateTime, Utc};

use crate::checks::{Handles, Inputs, NoValue, RowDiffOutcome};
use crate::contract::Check;
use crate::exec::{ColumnInfo, Value};
use crate::model::threshold::{Level, MetricKind};
use crate::results::{CheckResult, Outcome};
use crate::sql::dialect::Dialect;

/// One side's values of a check: the aggregates in the order it asked for them, its own
/// queries' rows, and whether it compares the catalog's columns.
#[derive(Debug, Clone, Default)]
pub struct SideValues {
    pub aggregates: Vec<Value>,
    pub own_rows: Vec<Option<Vec<Value>>>,
    pub schema: bool,
}

/// What the run measured for one check.
#[derive(Debug, Clone)]
pub enum Measured {
    /// its values on the contract's dataset and (a reconciliation check) on its source,
    /// with the source's index; read through its handles
    Values {
        handles: Handles,
        target: SideValues,
        source: Option<(usize, SideValues)>,
        /// a `rows_diff`'s comparison
        row_diff: Option<Box<RowDiffOutcome>>,
    },
    /// it could not be measured (its query failed, a column it needs is missing)
    Failed(String),
}

/// A reconciliation source as its values are read: its columns and its engine's dialect.
pub struct SourceCatalog<'a> {
    pub columns: &'a [ColumnInfo],
    pub dialect: &'a dyn Dialect,
}

/// Every check of a dataset, in contract order.
pub fn evaluate_dataset(
    checks: &[Check],
    measured: &[Measured],
    columns: &[ColumnInfo],
    sources: &[SourceCatalog],
    now: DateTime<Utc>,
    dialect: &dyn Dialect,
) -> Vec<CheckResult> {
    checks
        .iter()
        .zip(measured)
        .map(|(check, m)| match m {
            Measured::Failed(error) => not_evaluated(check, error.clone()),
            Measured::Values {
                handles,
                target,
                source,
                row_diff,
            } => {
                let mut inputs =
                    side_inputs(target, columns, now, dialect).with_row_diff(row_diff.as_deref());
                if let Some((i, values)) = source {
                    match sources.get(*i) {
                        Some(s) => {
                            inputs =
                                inputs.with_source(side_inputs(values, s.columns, now, s.dialect))
                        }
                        None => return not_evaluated(check, "its source was not read".into()),
                    }
                }
                evaluate(check, handles, &inputs)
            }
        })
        .collect()
}

fn side_inputs<'a>(
    v: &'a SideValues,
    columns: &'a [ColumnInfo],
    now: DateTime<Utc>,
    dialect: &'a dyn Dialect,
) -> Inputs<'a> {
    Inputs::new(
        &v.aggregates,
        &v.own_rows,
        v.schema.then_some(columns),
        now,
        dialect,
    )
}

pub fn default_name(check: &Check) -> String {
    check.kind.default_name(check.column.as_deref())
}

fn base_result(check: &Check) -> CheckResult {
    CheckResult {
        id: check.id.clone(),
        check_type: check.kind.type_name().to_string(),
        column: check.column.clone(),
        name: check
            .name
            .clone()
            .unwrap_or_else(|| match &check.qualifier {
                Some(q) => format!("{} [{q}]", default_name(check)),
                None => default_name(check),
            }),
        qualifier: check.qualifier.clone(),
        level: check.threshold.level,
        threshold: check.threshold.to_json(),
        outcome: Outcome::NotEvaluated,
        value: None,
        diagnostics: serde_json::Map::new(),
        settings: check.kind.settings(),
        attributes: check.attributes.clone(),
        error: None,
        failed_rows: None,
        line: Some(check.line),
        baseline: None,
    }
}

pub fn not_evaluated(check: &Check, error: String) -> CheckResult {
    CheckResult {
        error: Some(error),
        ..base_result(check)
    }
}

fn level_outcome(level: Level) -> Outcome {
    match level {
        Level::Fail => Outcome::Fail,
        Level::Warn => Outcome::Warn,
    }
}

/// Measured values -> the check's outcome.
pub fn evaluate(check: &Check, handles: &Handles, inputs: &Inputs) -> CheckResult {
    let mut result = base_result(check);
    let m = match check.kind.measure(handles, inputs) {
        Ok(m) => m,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    result.diagnostics = m.diagnostics;
    if let Some(doubt) = &m.doubt {
        result
            .diagnostics
            .insert("warning".into(), serde_json::Value::String(doubt.clone()));
    }
    let value = match check.threshold.metric {
        MetricKind::Count => m.count,
        MetricKind::Percent => m.percent,
    };
    result.value = value;
    result.outcome = match value {
        Some(v) if check.threshold.condition.holds(v) && m.doubt.is_some() => Outcome::Warn,
        Some(v) if check.threshold.condition.holds(v) => Outcome::Pass,
        Some(_) => level_outcome(check.threshold.level),
        None => match m.no_value {
            NoValue::Fail => level_outcome(check.threshold.level),
            NoValue::NotEvaluated(reason) => {
                result.error = Some(reason);
                Outcome::NotEvaluated
            }
        },
    };
    result
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;
    use crate::contract;
    use crate::source::Source;
    use crate::sql::duckdb::DuckDbDialect;

    fn checks(yaml: &str) -> Vec<Check> {
        let source = Source::new(Path::new("c.yml"), yaml.to_string());
        contract::parse(source, &HashMap::new(), "2025-01-01T10:00:00Z")
            .unwrap_or_else(|d| panic!("{d:?}"))
            .checks
    }

    /// What a run would measure for `check`: its aggregates in the order it asks for
    /// them, read back through the handles its `needs` gives.
    fn measured(check: &Check, aggregates: &[Value], own_row: Option<Vec<Value>>) -> Measured {
        let own_rows = own_row.into_iter().map(Some).collect();
        let table = crate::sql::ast::TableRef::new(vec!["t".into()]);
        let ctx = crate::checks::NeedCtx {
            table: &table,
            column: check.column.as_deref(),
            filter: None,
            reference_table: None,
            source: None,
        };
        let (_, handles) = check.kind.needs(&ctx);
        Measured::Values {
            handles,
            target: SideValues {
                aggregates: aggregates.to_vec(),
                own_rows,
                schema: false,
            },
            source: None,
            row_diff: None,
        }
    }

    fn values(check: &Check, aggregates: &[Value]) -> Measured {
        measured(check, aggregates, None)
    }

    fn run(checks: &[Check], measured: &[Measured]) -> Vec<CheckResult> {
        let now = "2025-01-01T10:00:00Z".parse().unwrap();
        evaluate_dataset(checks, measured, &[], &[], now, &DuckDbDialect)
    }

    #[test]
    fn thresholds_decide_pass_fail_and_warn() {
        let c = checks(
            "dataset: db/main/t
columns:
  - name: id
    checks:
      - missing:
      - missing: {qualifier: lenient, threshold: {must_be_less_than: 2}}
      - missing: {qualifier: soft, threshold: {must_be: 0, level: warn}}
checks:
  - row_count:
",
        );
        let missing_one = [Value::Int(4), Value::Int(1)];
        let results = run(
            &c,
            &[
                values(&c[0], &missing_one),
                values(&c[1], &missing_one),
                values(&c[2], &missing_one),
                values(&c[3], &[Value::Int(4)]),
            ],
        );
        let outcomes: Vec<Outcome> = results.iter().map(|r| r.outcome).collect();
        assert_eq!(
            outcomes,
            [Outcome::Fail, Outcome::Pass, Outcome::Warn, Outcome::Pass]
        );
        assert_eq!(results[0].value, Some(1.0));
        assert_eq!(results[0].diagnostics["missing_percent"], 25.0);
        assert_eq!(results[0].diagnostics["check_rows_tested"], 4);
    }

    #[test]
    fn percentages_are_exact_and_compared_so() {
        // 1,2,2,3,3,3,3,4,4,NULL: 10 rows, 9 present, 4 distinct -> 5 of 9 = 55.555...%
        let c = checks(
            "dataset: db/main/t
columns:
  - name: v
    checks:
      - duplicate: {threshold: {metric: percent, must_be_less_than: 55.56}}
      - duplicate: {qualifier: b, threshold: {metric: percent, must_be: 55.56}}
",
        );
        let m = [Value::Int(10), Value::Int(9), Value::Int(4)];
        let results = run(&c, &[values(&c[0], &m), values(&c[1], &m)]);
        assert_eq!(results[0].value, Some(500.0 / 9.0));
        // as Soda compares: 55.555... is below 55.56, and it is not 55.56
        assert_eq!(results[0].outcome, Outcome::Pass);
        assert_eq!(results[1].outcome, Outcome::Fail);
        assert_eq!(results[0].diagnostics["duplicate_count"], 5);
        assert_eq!(results[0].diagnostics["duplicate_percent"], 500.0 / 9.0);
        assert_eq!(results[0].diagnostics["missing_count"], 1);
    }

    #[test]
    fn an_empty_table_passes_counts_and_fails_row_count() {
        let c = checks(
            "dataset: db/main/t
columns:
  - name: id
    checks:
      - missing: {threshold: {metric: percent, must_be: 0}}
checks:
  - row_count:
",
        );
        let results = run(
            &c,
            &[
                values(&c[0], &[Value::Int(0), Value::Int(0)]),
                values(&c[1], &[Value::Int(0)]),
            ],
        );
        assert_eq!(results[0].outcome, Outcome::Pass);
        assert_eq!(results[0].value, Some(0.0));
        assert_eq!(results[1].outcome, Outcome::Fail);
    }

    #[test]
    fn null_values_and_failures_are_not_evaluated_with_their_reason() {
        let c = checks(
            "dataset: db/main/t
columns:
  - name: amount
    checks:
      - aggregate: {function: max, threshold: {must_be_less_than: 10}}
checks:
  - metric: {query: 'SELECT 1', threshold: {must_be: 1}}
  - row_count:
",
        );
        let results = run(
            &c,
            &[
                // max over no non-missing value is NULL
                values(&c[0], &[Value::Int(3), Value::Null]),
                measured(&c[1], &[], Some(vec![Value::Text("x".into())])),
                Measured::Failed("the query failed: no such table".into()),
            ],
        );
        assert_eq!(
            results[0].outcome,
            Outcome::NotEvaluated,
            "{:?}",
            results[0]
        );
        assert!(results[0].error.is_some());
        assert_eq!(results[1].outcome, Outcome::NotEvaluated);
        assert!(
            results[1]
                .error
                .as_deref()
                .unwrap()
                .contains("not a number"),
            "{:?}",
            results[1].error
        );
        assert_eq!(results[2].outcome, Outcome::NotEvaluated);
        assert_eq!(
            results[2].error.as_deref(),
            Some("the query failed: no such table")
        );
        assert_eq!(
            crate::results::worst(results.iter().map(|r| r.outcome)),
            Outcome::NotEvaluated
        );
    }

    #[test]
    fn freshness_is_measured_against_the_runs_now() {
        let c = checks(
            "dataset: db/main/t
checks:
  - freshness: {column: ts, threshold: {unit: hour, must_be_less_than: 2}}
",
        );
        // 09:00Z, one hour before now
        let nine = chrono::DateTime::parse_from_rfc3339("2025-01-01T09:00:00Z")
            .unwrap()
            .timestamp_micros();
        let results = run(
            &c,
            &[values(&c[0], &[Value::Int(1), Value::Timestamp(nine)])],
        );
        assert_eq!(results[0].outcome, Outcome::Pass, "{:?}", results[0]);
        assert_eq!(results[0].value, Some(1.0));
    }
}

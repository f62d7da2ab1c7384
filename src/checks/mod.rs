//! Check types. One file per type says which keys it takes, which metrics it needs, and
//! how it turns measured values into the number its threshold compares.
//!
//! Adding a type means a new file here, one line in `TYPES`, and (until the check side
//! is a trait too) one arm in each `match` of `CheckKind` below.

pub mod aggregate;
pub mod duplicate;
pub mod failed_rows;
pub mod freshness;
pub mod invalid;
pub mod metric;
pub mod missing;
pub mod row_count;
pub mod rules;
pub mod schema;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};

use crate::contract::threshold::{Condition, ThresholdRules};
use crate::contract::ColumnSpec;
use crate::decode::Reader;
use crate::exec::{ColumnInfo, Value};
use crate::sql::ast::{Expr, Select, TableRef};
use crate::sql::dialect::Dialect;
use crate::yaml::Node;

use rules::{MissingRules, ValidityRules};

/// Where a check is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Dataset,
    Column,
}

#[derive(Debug, Clone)]
pub enum CheckKind {
    RowCount,
    Schema(schema::Schema),
    Missing(missing::Missing),
    // boxed: by far the largest variant (all the validity rules)
    Invalid(Box<invalid::Invalid>),
    Duplicate(duplicate::Duplicate),
    Freshness(freshness::Freshness),
    Aggregate(aggregate::Aggregate),
    Metric(metric::Metric),
    FailedRows(failed_rows::FailedRows),
}

/// Column defaults a column-level check may inherit.
pub struct ColumnDefaults<'a> {
    pub spec: &'a ColumnSpec,
    pub missing: Option<&'a MissingRules>,
    pub validity: Option<&'a ValidityRules>,
}

pub struct Parsed {
    pub kind: CheckKind,
    pub threshold_rules: ThresholdRules,
}

/// A check type: what `- NAME:` means in a contract. Each type's file implements it, and
/// `TYPES` is the one list of them.
pub trait CheckType: Sync {
    /// the key that starts a check of this type
    fn name(&self) -> &'static str;

    /// where it may be written (a misplaced check gets a helpful error)
    fn scopes(&self) -> &'static [Scope];

    /// the keys it takes besides the common ones (name, qualifier, filter, threshold,
    /// attributes)
    fn keys(&self, scope: Scope) -> Vec<&'static str>;

    /// Parse the type-specific part of a check. `node` is the check's mapping.
    fn parse(
        &self,
        r: &mut Reader,
        node: &Node,
        column: Option<&ColumnDefaults>,
        key_span: crate::yaml::Span,
    ) -> Option<Parsed>;
}

/// Every check type.
pub static TYPES: &[&dyn CheckType] = &[
    &schema::TYPE,
    &row_count::TYPE,
    &missing::TYPE,
    &invalid::TYPE,
    &duplicate::TYPE,
    &freshness::TYPE,
    &aggregate::TYPE,
    &metric::TYPE,
    &failed_rows::TYPE,
];

pub fn type_named(name: &str) -> Option<&'static dyn CheckType> {
    TYPES.iter().copied().find(|t| t.name() == name)
}

pub fn type_names() -> Vec<&'static str> {
    TYPES.iter().map(|t| t.name()).collect()
}

const DATASET: &[Scope] = &[Scope::Dataset];
const COLUMN: &[Scope] = &[Scope::Column];
const ANYWHERE: &[Scope] = &[Scope::Dataset, Scope::Column];

/// Thresholds of the counting types: `must_be: 0` unless given, percent allowed.
fn must_be_zero() -> ThresholdRules {
    ThresholdRules {
        default: Some(Condition::Eq(0.0)),
        percent: true,
        unit: false,
    }
}

/// Thresholds with no default: the contract must give one.
fn required() -> ThresholdRules {
    ThresholdRules {
        default: None,
        percent: false,
        unit: false,
    }
}

/// Keys, sorted, for did-you-mean and the list in a hint.
fn sorted(mut keys: Vec<&'static str>) -> Vec<&'static str> {
    keys.sort_unstable();
    keys
}

/// One aggregate the check needs from its dataset's shared query.
#[derive(Debug, Clone)]
pub struct Metric {
    /// readable alias in the SQL ("id_missing_count")
    pub name: String,
    pub expr: Expr,
}

/// A query a check runs on its own; its first row is handed to `measure`.
#[derive(Debug, Clone)]
pub enum OwnQuery {
    // boxed: a query tree is far larger than the other variants' text
    Select(Box<Select>),
    /// user SQL returning failing rows: we count them
    CountRowsOf(String),
    /// user SQL returning one number
    Value(String),
}

/// Which rows a failing check's capture selects (SPEC section 6).
#[derive(Debug, Clone)]
pub enum Capture {
    /// rows of the dataset where the condition holds (with the dataset and check
    /// filters); `aliased` when the condition refers to the table as `assay_main`
    Rows { condition: Expr, aliased: bool },
    /// the key values that repeat, with their counts, largest first; `only` keeps rows
    /// whose key counts (not missing)
    Repeats { keys: Vec<Expr>, only: Option<Expr> },
    /// the rows of the user's own query
    Query(String),
}

#[derive(Debug, Default)]
pub struct Needs {
    pub aggregates: Vec<Metric>,
    pub own_query: Option<OwnQuery>,
    pub schema: bool,
    /// columns that must exist for the check to run
    pub columns: Vec<String>,
}

pub struct NeedCtx<'a> {
    pub table: &'a TableRef,
    pub column: Option<&'a str>,
    /// check filter AND dataset filter, for checks that build their own query
    pub filter: Option<&'a Expr>,
    /// resolved table of `valid_reference_data`, when the check has one
    pub reference_table: Option<&'a TableRef>,
}

pub struct Inputs<'a> {
    /// values of the check's aggregates, in the order it asked for them
    pub aggregates: &'a [Value],
    pub own_row: Option<&'a [Value]>,
    pub schema: Option<&'a [ColumnInfo]>,
    pub now: DateTime<Utc>,
    pub dialect: &'a dyn Dialect,
}

/// What happens when the measured value is NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum NoValue {
    Fail,
    NotEvaluated(String),
}

#[derive(Debug, Clone)]
pub struct Measurement {
    pub count: Option<f64>,
    pub percent: Option<f64>,
    pub diagnostics: Map<String, Json>,
    pub no_value: NoValue,
}

impl Measurement {
    pub fn new(count: Option<f64>) -> Measurement {
        Measurement {
            count,
            percent: None,
            diagnostics: Map::new(),
            no_value: NoValue::NotEvaluated("the metric has no value".into()),
        }
    }

    pub fn diag(mut self, key: &str, value: impl Into<Json>) -> Measurement {
        self.diagnostics.insert(key.to_string(), value.into());
        self
    }
}

impl CheckKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            CheckKind::RowCount => "row_count",
            CheckKind::Schema(_) => "schema",
            CheckKind::Missing(_) => "missing",
            CheckKind::Invalid(_) => "invalid",
            CheckKind::Duplicate(_) => "duplicate",
            CheckKind::Freshness(_) => "freshness",
            CheckKind::Aggregate(_) => "aggregate",
            CheckKind::Metric(_) => "metric",
            CheckKind::FailedRows(_) => "failed_rows",
        }
    }

    pub fn needs(&self, ctx: &NeedCtx) -> Needs {
        match self {
            CheckKind::RowCount => row_count::needs(),
            CheckKind::Schema(_) => Needs {
                schema: true,
                ..Needs::default()
            },
            CheckKind::Missing(c) => c.needs(ctx),
            CheckKind::Invalid(c) => c.needs(ctx),
            CheckKind::Duplicate(c) => c.needs(ctx),
            CheckKind::Freshness(c) => c.needs(),
            CheckKind::Aggregate(c) => c.needs(ctx),
            CheckKind::Metric(c) => c.needs(),
            CheckKind::FailedRows(c) => c.needs(ctx),
        }
    }

    /// The failing rows of this check, for the diagnostics store; None for types whose
    /// failures are not rows (row_count, schema, freshness, aggregate, metric).
    pub fn capture(&self, ctx: &NeedCtx) -> Option<Capture> {
        let column = ctx.column.unwrap_or_default();
        match self {
            CheckKind::Missing(c) => Some(Capture::Rows {
                condition: c.rules.is_missing(column),
                aliased: false,
            }),
            CheckKind::Invalid(c) => Some(c.capture(ctx)),
            CheckKind::Duplicate(c) => Some(c.capture(ctx)),
            CheckKind::FailedRows(c) => Some(c.capture()),
            _ => None,
        }
    }

    pub fn measure(&self, inputs: &Inputs) -> Result<Measurement, String> {
        match self {
            CheckKind::RowCount => row_count::measure(inputs),
            CheckKind::Schema(c) => c.measure(inputs),
            CheckKind::Missing(c) => c.measure(inputs),
            CheckKind::Invalid(c) => c.measure(inputs),
            CheckKind::Duplicate(c) => c.measure(inputs),
            CheckKind::Freshness(c) => c.measure(inputs),
            CheckKind::Aggregate(c) => c.measure(inputs),
            CheckKind::Metric(c) => c.measure(inputs),
            CheckKind::FailedRows(c) => c.measure(inputs),
        }
    }

    /// Settings worth echoing in results (valid_values, columns, function, ...).
    pub fn settings(&self) -> Map<String, Json> {
        let mut m = Map::new();
        match self {
            CheckKind::Missing(c) => c.rules.describe(&mut m),
            CheckKind::Invalid(c) => {
                c.missing.describe(&mut m);
                c.validity.describe(&mut m);
            }
            CheckKind::Duplicate(c) => c.describe(&mut m),
            CheckKind::Aggregate(c) => {
                m.insert("function".into(), Json::from(c.function.as_str()));
            }
            CheckKind::Metric(c) => c.describe(&mut m),
            CheckKind::FailedRows(c) => c.describe(&mut m),
            CheckKind::Freshness(c) => {
                m.insert("column".into(), Json::from(c.column.clone()));
            }
            CheckKind::Schema(c) => c.describe(&mut m),
            CheckKind::RowCount => {}
        }
        m
    }
}

/// count / total x 100, rounded to 2 decimals as reports show it; 0 when total is 0
/// (an empty table has no missing values).
pub fn percent(count: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (count as f64 * 100.0 / total as f64 * 100.0).round() / 100.0
    }
}

/// A whole-number metric (COUNT) from a query result.
pub fn count_value(v: Option<&Value>, what: &str) -> Result<u64, String> {
    match v {
        Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_f64()
            .filter(|f| *f >= 0.0)
            .map(|f| f as u64)
            .ok_or_else(|| format!("{what}: expected a count, the query returned {v}")),
        None => Err(format!("{what}: the query returned no value")),
    }
}

/// A name for SQL aliases: letters, digits and underscores only.
pub fn alias_part(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    cleaned.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_to_two_decimals_and_handles_empty() {
        assert_eq!(percent(5, 9), 55.56);
        assert_eq!(percent(1, 4), 25.0);
        assert_eq!(percent(0, 0), 0.0);
    }
}

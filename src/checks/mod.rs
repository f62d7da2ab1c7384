//! Check types. Each type is one file with two halves:
//! - reading: a `CheckType` value (`TYPE`) that knows the keys its checks take, where they
//!   may be written and what their threshold allows, and parses one into a check;
//! - running: the check itself implements `CheckKind`: the metrics it needs (as typed
//!   handles), how the measured values become its number, its failing rows, its settings.
//!
//! `TYPES` is the one list. Adding a type is one new file and one line there.

pub mod aggregate;
pub mod duplicate;
pub mod failed_rows;
pub mod freshness;
pub mod invalid;
mod measure_error;
pub mod metric;
pub mod missing;
mod needs;
pub mod reconcile;
pub mod row_count;
pub mod rules;
pub mod schema;

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::decode::Reader;
use crate::exec::Value;
use crate::model::threshold::{Condition, ThresholdRules};
use crate::model::{ColumnSpec, SqlText};
use crate::source::Span;
use crate::sql::ast::{Expr, Select, TableRef};
use crate::yaml::Node;

pub use measure_error::MeasureError;
pub use needs::{
    Agg, CatalogColumns, Inputs, NeededAggregate, Needs, OwnRow, RowDiff, RowDiffOutcome,
    RowDiffSpec,
};
use rules::{MissingRules, ReferenceData, ValidityRules};

/// Where a check is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Dataset,
    Column,
    /// under `reconciliation: {checks: [...]}`: the contract's dataset against a source
    Reconciliation,
}

/// Column defaults a column-level check may inherit.
pub struct ColumnDefaults<'a> {
    pub spec: &'a ColumnSpec,
    pub missing: Option<&'a MissingRules>,
    pub validity: Option<&'a ValidityRules>,
    /// `column_expression`: SQL used in place of the column's name
    pub expression: Option<&'a SqlText>,
}

/// The key of a check's own column_expression.
pub const COLUMN_EXPRESSION: &str = "column_expression";

/// A check's `column_expression`, or else its column's; Err when its own is not SQL text
/// (reported).
fn column_expression(
    r: &mut Reader,
    node: &Node,
    column: Option<&ColumnDefaults>,
) -> Result<Option<SqlText>, ()> {
    match node.get(COLUMN_EXPRESSION).filter(|n| !n.is_null()) {
        Some(n) => r.sql(n, COLUMN_EXPRESSION).map(Some).ok_or(()),
        None => Ok(column.and_then(|c| c.expression.cloned())),
    }
}

/// What a column check measures: the column, or the SQL of its column_expression
/// (which is validated as one read-only expression and never quoted).
fn column_value(expression: &Option<SqlText>, ctx: &NeedCtx) -> Expr {
    match expression {
        Some(e) => Expr::Raw(e.sql.clone()),
        None => Expr::col(ctx.column.unwrap_or_default()),
    }
}

/// The column a check needs to exist, unless its column_expression stands in for it.
fn need_column(needs: &mut Needs, expression: &Option<SqlText>, column: &str) {
    if expression.is_none() {
        needs.column(column);
    }
}

/// column_expression as user SQL, for validation before anything runs.
fn expression_sql(expression: &mut Option<SqlText>) -> Vec<UserSql<'_>> {
    expression
        .iter_mut()
        .map(|text| UserSql {
            key: COLUMN_EXPRESSION,
            role: SqlRole::Expression,
            text,
            side: Side::Target,
        })
        .collect()
}

fn describe_expression(expression: &Option<SqlText>, settings: &mut Map<String, Json>) {
    if let Some(e) = expression {
        settings.insert(COLUMN_EXPRESSION.into(), Json::from(e.sql.clone()));
    }
}

/// What a check type's parser may look at besides the check's own mapping.
pub struct ParseCtx<'a> {
    /// the column a column-level check is written under, with its defaults
    pub column: Option<&'a ColumnDefaults<'a>>,
    /// every column the contract declares
    pub columns: &'a [ColumnSpec],
    /// the type's key (`- missing:`), for errors about a check with no body
    pub key_span: Span,
    /// a reconciliation check's source dataset, as the contract names it
    pub source_dataset: Option<&'a str>,
}

pub struct Parsed {
    pub kind: Box<dyn DynCheck>,
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

    /// Parse the type-specific part of a check, and say what its threshold allows.
    /// `node` is the check's mapping.
    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed>;
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
    &reconcile::ROW_COUNT_DIFF,
    &reconcile::AGGREGATE_DIFF,
    &reconcile::DUPLICATE_DIFF,
    &reconcile::MISSING_DIFF,
    &reconcile::FRESHNESS_DIFF,
    &reconcile::METRIC_DIFF,
    &reconcile::ROWS_DIFF,
    &reconcile::SCHEMA_DIFF,
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
const RECONCILIATION: &[Scope] = &[Scope::Reconciliation];

/// Thresholds of the counting types: `must_be: 0` unless given, percent allowed.
fn must_be_zero() -> ThresholdRules {
    ThresholdRules {
        default: Some(Condition::Eq(0.0)),
        percent: true,
        ..ThresholdRules::required()
    }
}

/// Keys, sorted, for did-you-mean and the list in a hint.
fn sorted(mut keys: Vec<&'static str>) -> Vec<&'static str> {
    keys.sort_unstable();
    keys
}

/// What a check's SQL is: the contract's `expression:` or `query:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlRole {
    /// one SQL expression over the dataset's rows
    Expression,
    /// one SELECT of the user's own
    Query,
}

impl SqlRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SqlRole::Expression => "expression",
            SqlRole::Query => "query",
        }
    }
}

/// Which dataset a piece of a check runs on: the contract's, or (in a reconciliation
/// check) its source's, in the source's engine and dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Target,
    Source,
}

/// A piece of the user's SQL in a check: its key (for messages), what it is, its text,
/// and the side whose engine runs it (it is filled in and validated for that dialect).
pub struct UserSql<'a> {
    pub key: &'static str,
    pub role: SqlRole,
    pub text: &'a mut SqlText,
    pub side: Side,
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
    /// filters); `aliased` when the condition refers to the table as `assay_main`;
    /// `expression`: a column_expression, selected beside the row's columns
    Rows {
        condition: Expr,
        aliased: bool,
        expression: Option<Expr>,
    },
    /// the key values that repeat, with their counts, largest first; `only` keeps rows
    /// whose key counts (not missing)
    Repeats { keys: Vec<Expr>, only: Option<Expr> },
    /// the rows of the user's own query; with `keys`, only those columns, renamed
    /// (store key, query column), as a keys_query's key_column_mapping says
    Query {
        sql: String,
        keys: Vec<(String, String)>,
    },
}

pub struct NeedCtx<'a> {
    pub table: &'a TableRef,
    pub column: Option<&'a str>,
    /// check filter AND dataset filter, for checks that build their own query
    pub filter: Option<&'a Expr>,
    /// resolved table of `valid_reference_data`, when the check has one
    pub reference_table: Option<&'a TableRef>,
    /// a reconciliation check's source dataset: its table and its filters
    pub source: Option<&'a NeedCtx<'a>>,
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
    /// why a value that passes its threshold is doubtful all the same: the check warns,
    /// and says why in its diagnostics (`warning`)
    pub doubt: Option<String>,
}

impl Measurement {
    pub fn new(count: Option<f64>) -> Measurement {
        Measurement {
            count,
            percent: None,
            diagnostics: Map::new(),
            no_value: NoValue::NotEvaluated("the metric has no value".into()),
            doubt: None,
        }
    }

    pub fn diag(mut self, key: &str, value: impl Into<Json>) -> Measurement {
        self.diagnostics.insert(key.to_string(), value.into());
        self
    }
}

/// The check trait: one parsed check of a type, as it runs. `needs` asks for metrics
/// and gets a handle for each; `measure` reads the values back through those handles,
/// so the two cannot drift apart.
pub trait CheckKind: fmt::Debug + Clone + Send + Sync + 'static {
    /// the handles `needs` hands to `measure`
    type Handles: Send + Sync + 'static;

    fn type_name(&self) -> &'static str;

    /// the name results show when the contract gives none
    fn default_name(&self, column: Option<&str>) -> String;

    /// Ask for what the check measures: aggregates for the dataset's shared query, a
    /// query of its own, the catalog's columns, columns that must exist.
    fn needs(&self, ctx: &NeedCtx, needs: &mut Needs) -> Self::Handles;

    /// The measured values -> the check's number and diagnostics.
    fn measure(
        &self,
        handles: &Self::Handles,
        inputs: &Inputs,
    ) -> Result<Measurement, MeasureError>;

    /// The rows a failing check shows in the diagnostics store; None when its failures
    /// are not rows (row_count, schema, freshness, aggregate, metric).
    fn capture(&self, ctx: &NeedCtx) -> Option<Capture>;

    /// Settings worth echoing in results (valid_values, columns, function, ...).
    fn settings(&self, settings: &mut Map<String, Json>);

    /// The user's SQL in the check, to be filled in and validated before anything runs.
    fn user_sql(&mut self) -> Vec<UserSql<'_>>;

    /// `valid_reference_data`, whose table is resolved before planning.
    fn reference_data(&self) -> Option<&ReferenceData>;
}

/// What `needs` returned, kept by the plan until `measure` reads it back.
#[derive(Clone)]
pub struct Handles(Arc<dyn Any + Send + Sync>);

impl Handles {
    /// No handles: what a check planned without the side it needs holds (it measures
    /// nothing with them: `WrongPlan`).
    pub fn none() -> Handles {
        Handles(Arc::new(()))
    }
}

impl fmt::Debug for Handles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Handles")
    }
}

/// `CheckKind` behind a pointer: what contracts hold. Implemented once, for every
/// `CheckKind`; the one place where a check's handles are taken back to their type.
pub trait DynCheck: fmt::Debug + Send + Sync {
    fn type_name(&self) -> &'static str;
    fn default_name(&self, column: Option<&str>) -> String;
    fn needs(&self, ctx: &NeedCtx) -> (Needs, Handles);
    fn measure(&self, handles: &Handles, inputs: &Inputs) -> Result<Measurement, MeasureError>;
    fn capture(&self, ctx: &NeedCtx) -> Option<Capture>;
    fn settings(&self) -> Map<String, Json>;
    fn user_sql(&mut self) -> Vec<UserSql<'_>>;
    fn reference_data(&self) -> Option<&ReferenceData>;
    fn clone_box(&self) -> Box<dyn DynCheck>;
}

impl<C: CheckKind> DynCheck for C {
    fn type_name(&self) -> &'static str {
        CheckKind::type_name(self)
    }

    fn default_name(&self, column: Option<&str>) -> String {
        CheckKind::default_name(self, column)
    }

    fn needs(&self, ctx: &NeedCtx) -> (Needs, Handles) {
        let mut needs = Needs::default();
        let handles = CheckKind::needs(self, ctx, &mut needs);
        (needs, Handles(Arc::new(handles)))
    }

    fn measure(&self, handles: &Handles, inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let handles = handles
            .0
            .downcast_ref::<C::Handles>()
            .ok_or(MeasureError::WrongPlan)?;
        CheckKind::measure(self, handles, inputs)
    }

    fn capture(&self, ctx: &NeedCtx) -> Option<Capture> {
        CheckKind::capture(self, ctx)
    }

    fn settings(&self) -> Map<String, Json> {
        let mut m = Map::new();
        CheckKind::settings(self, &mut m);
        m
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        CheckKind::user_sql(self)
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        CheckKind::reference_data(self)
    }

    fn clone_box(&self) -> Box<dyn DynCheck> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn DynCheck> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// count x 100 / total at full precision, as Soda computes it (2 of 3 is 66.666...):
/// thresholds compare this value, and only reports round it for display. 0 when total is
/// 0 (an empty table has no missing values).
pub fn percent(count: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        count as f64 * 100.0 / total as f64
    }
}

/// A whole-number metric (COUNT) from a query result.
pub fn count_value(v: Option<&Value>, what: &str) -> Result<u64, MeasureError> {
    match v {
        Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_f64()
            .filter(|f| *f >= 0.0)
            .map(|f| f as u64)
            .ok_or_else(|| MeasureError::NotACount {
                what: what.to_string(),
                value: v.to_string(),
            }),
        None => Err(MeasureError::NoCount {
            what: what.to_string(),
        }),
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
    fn percent_is_exact_and_handles_empty() {
        assert_eq!(percent(2, 3), 200.0 / 3.0);
        assert_eq!(percent(5, 9), 500.0 / 9.0);
        assert_eq!(percent(1, 4), 25.0);
        assert_eq!(percent(0, 0), 0.0);
    }
}

//! What a check asks to be measured, and the handles it reads the values back with.
//!
//! A handle can only be made by asking (`Needs::aggregate`, ...), and a check's values
//! are only reachable through its handles, so a check cannot read a value it did not ask
//! for or mistake one value for another.

use chrono::{DateTime, Utc};

use super::{count_value, MeasureError, OwnQuery};
use crate::exec::{ColumnInfo, Value};
use crate::sql::ast::{Expr, TableRef};
use crate::sql::dialect::Dialect;

/// One aggregate the check asked for in its dataset's shared query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agg(usize);

/// The first row of one of the check's own queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnRow(usize);

/// The dataset's columns as the catalog has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogColumns(());

/// One aggregate of the shared query.
#[derive(Debug, Clone)]
pub struct NeededAggregate {
    /// readable alias in the SQL ("id_missing_count")
    pub name: String,
    pub expr: Expr,
}

/// Everything one check asked for. The plan reads it; the check keeps the handles.
#[derive(Debug, Default)]
pub struct Needs {
    pub aggregates: Vec<NeededAggregate>,
    pub own_queries: Vec<OwnQuery>,
    pub schema: bool,
    /// columns that must exist for the check to run
    pub columns: Vec<String>,
    /// what a reconciliation check asks of its source dataset, in the source's engine:
    /// the same kinds of needs, read back through `Inputs::source`
    pub source: Option<Box<Needs>>,
    /// a row-level comparison of the dataset with its source (`rows_diff`)
    pub row_diff: Option<Box<RowDiffSpec>>,
}

/// A row-level comparison: which columns, on which tables and filters.
#[derive(Debug, Clone)]
pub struct RowDiffSpec {
    /// key columns (source, target), paired by position; none: whole rows compared as
    /// multisets
    pub keys: Vec<(String, String)>,
    /// compared columns (source, target), paired by position; None: every column of the
    /// two tables, paired by their order, keys aside
    pub columns: Option<Vec<(String, String)>>,
    pub source_table: TableRef,
    pub target_table: TableRef,
    /// the source's filter and the check's; the target's
    pub source_filter: Option<Expr>,
    pub target_filter: Option<Expr>,
}

/// What a row-level comparison found.
#[derive(Debug, Clone, Default)]
pub struct RowDiffOutcome {
    pub source_rows: u64,
    pub target_rows: u64,
    pub only_in_source: u64,
    pub only_in_target: u64,
    /// rows whose key is on both sides with other values
    pub differing: u64,
    /// per compared column (the target's name): rows where it differs
    pub columns: Vec<(String, u64)>,
    /// each compared column with the rule it was rendered by
    pub rules: Vec<(String, &'static str)>,
    /// rows sharing a key with another row of the same side
    pub duplicate_keys: (u64, u64),
    /// examples of what differs (keys and values): for the diagnostics store only
    pub samples: Vec<serde_json::Value>,
    /// queries run per side, and the bytes of values read from both engines
    pub queries: u64,
    pub bytes_fetched: u64,
}

impl RowDiffOutcome {
    pub fn total(&self) -> u64 {
        self.only_in_source + self.only_in_target + self.differing
    }
}

/// The outcome of the check's row-level comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowDiff(());

impl Needs {
    /// An aggregate over the dataset's rows (after the dataset and check filters).
    pub fn aggregate(&mut self, name: impl Into<String>, expr: Expr) -> Agg {
        self.aggregates.push(NeededAggregate {
            name: name.into(),
            expr,
        });
        Agg(self.aggregates.len() - 1)
    }

    /// COUNT(*): the rows the check tests.
    pub fn row_count(&mut self) -> Agg {
        self.aggregate("row_count", Expr::CountAll)
    }

    /// A query of the check's own (the user's, or one over another table).
    pub fn own_query(&mut self, query: OwnQuery) -> OwnRow {
        self.own_queries.push(query);
        OwnRow(self.own_queries.len() - 1)
    }

    /// The catalog's columns of the dataset.
    pub fn catalog_columns(&mut self) -> CatalogColumns {
        self.schema = true;
        CatalogColumns(())
    }

    /// A row-level comparison with the check's source.
    pub fn row_diff(&mut self, spec: RowDiffSpec) -> RowDiff {
        self.row_diff = Some(Box::new(spec));
        RowDiff(())
    }

    /// A column that must exist: without it the check is skipped with a reason rather
    /// than breaking the shared query for every other check.
    pub fn column(&mut self, name: &str) {
        self.columns.push(name.to_string());
    }
}

/// The values a run measured for one check, read through its handles.
pub struct Inputs<'a> {
    aggregates: &'a [Value],
    own_rows: &'a [Option<Vec<Value>>],
    schema: Option<&'a [ColumnInfo]>,
    pub now: DateTime<Utc>,
    pub dialect: &'a dyn Dialect,
    /// a reconciliation check's source side, measured in the source's engine
    source: Option<Box<Inputs<'a>>>,
    row_diff: Option<&'a RowDiffOutcome>,
}

impl<'a> Inputs<'a> {
    /// `aggregates` and `own_rows` in the order the check asked for them.
    pub fn new(
        aggregates: &'a [Value],
        own_rows: &'a [Option<Vec<Value>>],
        schema: Option<&'a [ColumnInfo]>,
        now: DateTime<Utc>,
        dialect: &'a dyn Dialect,
    ) -> Inputs<'a> {
        Inputs {
            aggregates,
            own_rows,
            schema,
            now,
            dialect,
            source: None,
            row_diff: None,
        }
    }

    /// These inputs with the outcome of the check's row-level comparison.
    pub fn with_row_diff(mut self, outcome: Option<&'a RowDiffOutcome>) -> Inputs<'a> {
        self.row_diff = outcome;
        self
    }

    pub fn row_diff(&self, _: RowDiff) -> Result<&'a RowDiffOutcome, MeasureError> {
        self.row_diff.ok_or(MeasureError::WrongPlan)
    }

    /// These inputs with a reconciliation check's source side.
    pub fn with_source(mut self, source: Inputs<'a>) -> Inputs<'a> {
        self.source = Some(Box::new(source));
        self
    }

    /// The source side's values, read through the handles the check's source needs gave.
    pub fn source(&self) -> Result<&Inputs<'a>, MeasureError> {
        self.source.as_deref().ok_or(MeasureError::WrongPlan)
    }

    pub fn value(&self, a: Agg) -> Result<&'a Value, MeasureError> {
        self.aggregates.get(a.0).ok_or(MeasureError::NoValue)
    }

    /// A whole-number metric (COUNT); NULL counts as 0.
    pub fn count(&self, a: Agg, what: &str) -> Result<u64, MeasureError> {
        count_value(self.aggregates.get(a.0), what)
    }

    /// An own query's first row; None when it returned no rows.
    pub fn row(&self, r: OwnRow) -> Option<&'a [Value]> {
        self.own_rows.get(r.0)?.as_deref()
    }

    pub fn columns(&self, _: CatalogColumns) -> Result<&'a [ColumnInfo], MeasureError> {
        self.schema.ok_or(MeasureError::NoColumns)
    }
}

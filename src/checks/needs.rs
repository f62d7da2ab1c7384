//! What a check asks to be measured, and the handles it reads the values back with.
//!
//! A handle can only be made by asking (`Needs::aggregate`, ...), and a check's values
//! are only reachable through its handles, so a check cannot read a value it did not ask
//! for or mistake one value for another.

use chrono::{DateTime, Utc};

use super::{count_value, MeasureError, OwnQuery};
use crate::exec::{ColumnInfo, Value};
use crate::sql::ast::Expr;
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
}

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
        }
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

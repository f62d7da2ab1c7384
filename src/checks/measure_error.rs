//! Why a check could not turn what its queries returned into its number. The check's
//! result carries the text (results.json has a string `error`); inside the program the
//! cases stay apart so a caller can tell a malformed user query from a missing value.

use miette::Diagnostic;
use thiserror::Error;

use crate::exec::Value;

#[derive(Debug, Clone, PartialEq, Error, Diagnostic)]
pub enum MeasureError {
    /// a shared query's value the plan asked for is not in its row
    #[error("the query returned no value")]
    NoValue,
    #[error("{what}: the query returned no value")]
    NoCount { what: String },
    #[error("{what}: expected a count, the query returned {value}")]
    NotACount { what: String, value: String },
    #[error("{what} returned {value}, which is not a number")]
    NotANumber { what: String, value: String },
    #[error("the newest value of '{column}' is {value}, which is not a timestamp")]
    NotATimestamp { column: String, value: String },
    /// a user's query that came back empty; `shape` says what it must return
    #[error("the {query} returned no rows{}", shape_hint(shape))]
    #[diagnostic(help("a count or metric query returns exactly one row"))]
    NoRows {
        query: &'static str,
        shape: Option<&'static str>,
    },
    #[error("the {query} returned {columns} columns; it must return {shape}")]
    WrongColumns {
        query: &'static str,
        columns: usize,
        shape: &'static str,
    },
    #[error("the dataset's columns could not be read")]
    NoColumns,
    /// a reconciliation check's side (source or target) could not be measured
    #[error("{side}: {error}")]
    OnSide {
        side: &'static str,
        error: Box<MeasureError>,
    },
    /// a plan's handles given to another check: a bug, never the user's input
    #[error("internal error: measured with another check's plan")]
    WrongPlan,
}

fn shape_hint(shape: &Option<&'static str>) -> String {
    shape
        .map(|s| format!("; it must return {s}"))
        .unwrap_or_default()
}

impl MeasureError {
    pub fn not_a_number(what: impl Into<String>, value: &Value) -> MeasureError {
        MeasureError::NotANumber {
            what: what.into(),
            value: value.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_case_reads_as_the_results_show_it() {
        let no_rows = MeasureError::NoRows {
            query: "metric query",
            shape: Some("one row with one number"),
        };
        assert_eq!(
            no_rows.to_string(),
            "the metric query returned no rows; it must return one row with one number"
        );
        let bare = MeasureError::NoRows {
            query: "count query",
            shape: None,
        };
        assert_eq!(bare.to_string(), "the count query returned no rows");
        let wrong = MeasureError::WrongColumns {
            query: "rows_tested_query",
            columns: 2,
            shape: "one number",
        };
        assert_eq!(
            wrong.to_string(),
            "the rows_tested_query returned 2 columns; it must return one number"
        );
        assert_eq!(
            MeasureError::not_a_number("the metric", &Value::Text("x".into())).to_string(),
            "the metric returned 'x', which is not a number"
        );
    }
}

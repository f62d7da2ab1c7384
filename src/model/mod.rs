//! The model that contracts are read into and checks work on: below both, so that
//! neither depends on the other's module.

pub mod threshold;

use crate::source::Span;

/// SQL written by the user, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlText {
    /// the SQL that runs: once the data source is known (`plan::resolve`), placeholders
    /// filled in for its engine and comments removed
    pub sql: String,
    /// as written, placeholders and all
    pub template: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    pub name: String,
    pub span: Span,
    pub data_type: Option<String>,
    pub character_maximum_length: Option<u64>,
    pub numeric_precision: Option<u64>,
    pub numeric_scale: Option<u64>,
    pub datetime_precision: Option<u64>,
}

//! Executors run SQL in a data source and hand back values. They know nothing of
//! contracts or checks: SQL in, rows out, plus the catalog's column list.

pub mod control;
pub mod duckdb;
pub mod mysql;
pub mod postgres;
mod tls;

use std::fmt;

use async_trait::async_trait;
use serde_json::{json, Value as Json};

use crate::sql::ast::TableRef;
use crate::sql::dialect::Dialect;

pub use control::RunControl;

/// A value from a result row, engine-neutral.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// exact decimal as text, so sums of decimals are reported without float error
    Decimal(String),
    Text(String),
    /// microseconds since the Unix epoch, UTC
    Timestamp(i64),
    /// days since the Unix epoch
    Date(i32),
    /// anything else, as text (intervals, lists, ...)
    Other(String),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Decimal(d) => d.parse().ok(),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Text(t) => t.trim().parse().ok(),
            _ => None,
        }
    }

    /// A value as it is stored with a failed row: text as itself, timestamps in
    /// RFC 3339, dates as YYYY-MM-DD, numbers as numbers.
    pub fn to_row_json(&self) -> Json {
        match self {
            Value::Text(t) => json!(t),
            other => other.to_json(),
        }
    }

    /// For diagnostics: numbers as JSON numbers, anything else as text.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => json!(b),
            Value::Int(i) => i64::try_from(*i)
                .map(|i| json!(i))
                .unwrap_or_else(|_| json!(i.to_string())),
            Value::Float(f) => json!(f),
            Value::Decimal(d) => decimal_json(d),
            other => json!(other.to_string()),
        }
    }
}

/// A decimal as JSON, the same whatever scale the engine returned it with: "15.00" and
/// "15" are 15, "2.50" is 2.5, and one with more digits than a double holds stays exact
/// as text.
fn decimal_json(d: &str) -> Json {
    let t = d.trim();
    let t = if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.')
    } else {
        t
    };
    if !t.contains('.') {
        if let Ok(i) = t.parse::<i64>() {
            return json!(i);
        }
    }
    if t.chars().filter(char::is_ascii_digit).count() <= 15 {
        if let Ok(f) = t.parse::<f64>() {
            return json!(f);
        }
    }
    json!(t)
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Decimal(d) => f.write_str(d),
            Value::Text(t) => write!(f, "'{t}'"),
            Value::Timestamp(us) => match chrono::DateTime::from_timestamp_micros(*us) {
                Some(t) => write!(
                    f,
                    "{}",
                    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                ),
                None => write!(f, "timestamp {us}us"),
            },
            Value::Date(d) => match chrono::DateTime::from_timestamp(*d as i64 * 86400, 0) {
                Some(t) => write!(f, "{}", t.format("%Y-%m-%d")),
                None => write!(f, "date {d}"),
            },
            Value::Other(o) => f.write_str(o),
        }
    }
}

/// A column as the catalog describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
    pub character_maximum_length: Option<u64>,
    pub numeric_precision: Option<u64>,
    pub numeric_scale: Option<u64>,
}

/// Why a statement or connection failed. The message never holds a secret: executors
/// build it from the engine's error, and the run redacts known secrets once more.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    #[error("could not connect to data source '{data_source}': {message}")]
    Connect {
        data_source: String,
        message: String,
    },
    #[error("{0}")]
    Query(String),
    #[error("{0}")]
    Cancelled(String),
}

/// One data source: how to open sessions on it.
#[async_trait]
pub trait Executor: Send + Sync {
    fn dialect(&self) -> &dyn Dialect;

    async fn session(&self, control: &RunControl) -> Result<Box<dyn Session>, ExecError>;
}

/// A connection in use by one dataset's verification.
#[async_trait]
pub trait Session: Send {
    /// The table's columns in catalog order; None when the table does not exist.
    async fn columns(&mut self, table: &TableRef) -> Result<Option<Vec<ColumnInfo>>, ExecError>;

    /// Run a query and return its first row (None when it returned no rows).
    async fn first_row(&mut self, sql: &str) -> Result<Option<Vec<Value>>, ExecError>;

    /// Up to `limit` rows of a query, with the column names (failed rows capture). The
    /// query carries its own LIMIT too, so the engine never sends more.
    async fn rows(&mut self, sql: &str, limit: usize) -> Result<Rows, ExecError>;

    /// End the session's read-only transaction and hand the connection back to the pool.
    async fn finish(&mut self) {}
}

/// Column names and rows of a query.
#[derive(Debug, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Rows of a dialect's `columns_query` (name, type, length, precision, scale) as columns.
pub fn columns_from_rows(rows: &[Vec<Value>]) -> Vec<ColumnInfo> {
    let text = |v: &Value| match v {
        Value::Text(t) => t.clone(),
        other => other.to_string(),
    };
    let num = |v: Option<&Value>| v.and_then(Value::as_f64).map(|f| f as u64);
    rows.iter()
        .map(|r| ColumnInfo {
            name: text(&r[0]),
            data_type: text(&r[1]),
            character_maximum_length: num(r.get(2)),
            numeric_precision: num(r.get(3)),
            numeric_scale: num(r.get(4)),
        })
        .collect()
}

/// `-vv` logs the statements a session runs for itself (set-up, transaction control,
/// cancels) with their durations, as it logs every check's query.
pub fn log_statement(
    sql: &str,
    started: std::time::Instant,
    error: Option<&dyn std::fmt::Display>,
) {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match error {
        None => tracing::debug!("session statement ({ms:.1} ms)\n{sql}"),
        Some(e) => tracing::debug!("session statement failed after {ms:.1} ms: {e}\n{sql}"),
    }
}

/// Error text of an engine error with its chain of causes ("error connecting to server:
/// Connection refused"), masked of secrets.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    crate::secrets::mask(&text)
}

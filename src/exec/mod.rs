//! Executors run SQL in a data source and hand back values. They know nothing of
//! contracts or checks: SQL in, rows out, plus the catalog's column list.

mod arrow_values;
pub mod control;
pub mod duckdb;
pub mod duckdb_ingest;
mod duckdb_parser;
pub mod mysql;
pub mod postgres;
pub mod server_config;
#[cfg(feature = "spark")]
pub mod spark;
mod tls;
mod value;

use async_trait::async_trait;

use crate::sql::ast::TableRef;
use crate::sql::dialect::Dialect;

pub use control::RunControl;
pub use value::{ColumnInfo, Value};

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

/// One table's columns in catalog order; None when the table does not exist.
pub type TableColumns = Result<Option<Vec<ColumnInfo>>, ExecError>;

/// A connection in use by one dataset's verification.
#[async_trait]
pub trait Session: Send {
    /// The table's columns in catalog order; None when the table does not exist.
    async fn columns(&mut self, table: &TableRef) -> TableColumns;

    /// The columns of each of `tables`, in one catalog statement where the engine has
    /// one (`columns_in_one_statement`); by default each table is asked on its own.
    async fn columns_of(&mut self, tables: &[TableRef]) -> Vec<TableColumns> {
        let mut out = Vec::with_capacity(tables.len());
        for table in tables {
            out.push(self.columns(table).await);
        }
        out
    }

    /// A query's rows, handed to `sink` as they are read: memory holds what the sink
    /// keeps, never the whole result. Reading stops once the sink wants no more.
    async fn each_row(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<(), ExecError>;

    /// Rows of a query within `limits`, with the column names (failed rows capture).
    async fn rows(&mut self, sql: &str, limits: Limits) -> Result<Rows, ExecError> {
        let mut kept = Kept::new(limits);
        self.each_row(sql, &mut kept).await?;
        Ok(kept.rows)
    }

    /// `rows` of SQL that assay printed from its own query tree with no user-written text
    /// in it (every name and value quoted by the dialect). An engine that checks user SQL
    /// before running it may skip that check here: DuckDB counts statements with a parser
    /// database of its own, which takes 20-30 ms to open, and a run with no user SQL
    /// never opens it.
    async fn rows_without_user_sql(
        &mut self,
        sql: &str,
        limits: Limits,
    ) -> Result<Rows, ExecError> {
        self.rows(sql, limits).await
    }

    /// End the session's read-only transaction and hand the connection back to the pool.
    async fn finish(&mut self) {}
}

/// Where a query's rows go, one at a time, as an executor reads them.
pub trait RowSink: Send {
    /// The result's column names, before its first row.
    fn columns(&mut self, names: Vec<String>);
    /// May another row be read? Once false, the executor reads no more.
    fn wants_more(&self) -> bool;
    /// A row. A sink that keeps it takes the values (`std::mem::take`); what a sink
    /// leaves, the executor clears and reuses for the next row.
    fn row(&mut self, values: &mut Vec<Value>);
    /// Rows a chunk at a time, column by column (columns of one length), from executors
    /// that read columns. By default each row goes to `row`; a sink that reads columns
    /// itself skips turning them into rows.
    fn chunk(&mut self, columns: &mut [Vec<Value>]) {
        let mut row = Vec::with_capacity(columns.len());
        for i in 0..columns.first().map_or(0, Vec::len) {
            if !self.wants_more() {
                return;
            }
            row.clear();
            row.extend(columns.iter_mut().map(|c| std::mem::take(&mut c[i])));
            self.row(&mut row);
        }
    }
}

/// The rows `limits` keeps.
pub(crate) struct Kept {
    pub rows: Rows,
    limits: Limits,
}

impl Kept {
    pub fn new(limits: Limits) -> Kept {
        Kept {
            rows: Rows::default(),
            limits,
        }
    }
}

impl RowSink for Kept {
    fn columns(&mut self, names: Vec<String>) {
        self.rows.columns = names;
    }
    fn wants_more(&self) -> bool {
        self.rows.wants_more(&self.limits)
    }
    fn row(&mut self, values: &mut Vec<Value>) {
        self.rows.keep(std::mem::take(values), &self.limits);
    }
}

/// Column names and rows of a query.
#[derive(Debug, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// bytes of the values kept
    pub bytes: usize,
    /// values cut short at `Limits::value_bytes`
    pub cut_values: usize,
    /// reading stopped at `Limits::total_bytes` before the rows ran out
    pub stopped_at_bytes: bool,
}

/// How much of a result to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub rows: usize,
    /// a longer text value is cut, with a marker saying how much is missing
    pub value_bytes: usize,
    /// no row is read once the kept values hold this many bytes
    pub total_bytes: usize,
}

impl Limits {
    pub fn rows(rows: usize) -> Limits {
        Limits {
            rows,
            value_bytes: usize::MAX,
            total_bytes: usize::MAX,
        }
    }
}

impl Rows {
    /// May another row be read?
    pub fn wants_more(&self, limits: &Limits) -> bool {
        self.rows.len() < limits.rows && !self.stopped_at_bytes
    }

    /// Keep a row, its long values cut; note when the byte budget is spent.
    pub fn keep(&mut self, mut values: Vec<Value>, limits: &Limits) {
        for v in &mut values {
            if let Value::Text(t) | Value::Other(t) = v {
                if t.len() > limits.value_bytes {
                    let mut end = limits.value_bytes;
                    while !t.is_char_boundary(end) {
                        end -= 1;
                    }
                    let missing = t.len() - end;
                    t.truncate(end);
                    t.push_str(&format!("…[{missing} more bytes not kept]"));
                    self.cut_values += 1;
                }
                self.bytes += t.len();
            } else {
                self.bytes += 16;
            }
        }
        self.rows.push(values);
        if self.bytes >= limits.total_bytes {
            self.stopped_at_bytes = true;
        }
    }
}

/// How an engine's catalog rows become each table's columns (None: no rows for it).
pub(crate) type ReadCatalog = fn(&[Vec<Value>], usize) -> Vec<Option<Vec<ColumnInfo>>>;

/// Tables per catalog statement: a verify run's datasets fit in one; a scan of thousands
/// of tables asks in parts.
const CATALOG_PART: usize = 500;

/// `Session::columns_of` through the dialect's `columns_query`: one statement for every
/// table. A table it found no columns for, and every table when it failed, is asked on
/// its own (`Session::columns`), so each answer, "does not exist" or an error, is that
/// table's own.
/// `read` turns the statement's rows into each table's columns (`columns_by_table` for
/// rows of the shape `Dialect::columns_query` documents).
pub(crate) async fn columns_in_one_statement<S: Session + ?Sized>(
    session: &mut S,
    dialect: &dyn Dialect,
    tables: &[TableRef],
    read: ReadCatalog,
) -> Vec<TableColumns> {
    let mut found: Vec<Option<Vec<ColumnInfo>>> = Vec::with_capacity(tables.len());
    // a scan of a data source of thousands of tables asks in parts of a bounded size
    for part in tables.chunks(CATALOG_PART) {
        let mut columns = None;
        if let Some(sql) = dialect.columns_query(part) {
            if let Ok(rows) = session
                .rows_without_user_sql(&sql, Limits::rows(usize::MAX))
                .await
            {
                columns = Some(read(&rows.rows, part.len()));
            }
        }
        found.extend(columns.unwrap_or_else(|| vec![None; part.len()]));
    }
    let mut out = Vec::with_capacity(tables.len());
    for (table, columns) in tables.iter().zip(found) {
        out.push(match columns {
            Some(c) => Ok(Some(c)),
            None => session.columns(table).await,
        });
    }
    out
}

/// Rows of a dialect's `columns_query` (the table's index, name, type, length, precision,
/// scale, datetime precision, nullable as 'YES'/'NO' or a boolean) as each table's
/// columns; None for a table without rows.
pub fn columns_by_table(rows: &[Vec<Value>], tables: usize) -> Vec<Option<Vec<ColumnInfo>>> {
    // catalog names and types are never NULL
    let text = |v: &Value| v.to_text().unwrap_or_default();
    let num = |v: Option<&Value>| v.and_then(Value::as_f64).map(|f| f as u64);
    let mut out: Vec<Option<Vec<ColumnInfo>>> = vec![None; tables];
    for r in rows.iter().filter(|r| r.len() >= 3) {
        let Some(columns) = num(r.first()).and_then(|i| out.get_mut(i as usize)) else {
            continue;
        };
        columns.get_or_insert_with(Vec::new).push(ColumnInfo {
            name: text(&r[1]),
            data_type: text(&r[2]),
            character_maximum_length: num(r.get(3)),
            numeric_precision: num(r.get(4)),
            numeric_scale: num(r.get(5)),
            datetime_precision: num(r.get(6)),
            nullable: match r.get(7) {
                Some(Value::Bool(b)) => Some(*b),
                Some(Value::Text(t)) => Some(t.eq_ignore_ascii_case("yes")),
                _ => None,
            },
        });
    }
    out
}

/// One table's columns from the rows of its `columns_query`.
pub fn columns_of_one(rows: &[Vec<Value>]) -> Option<Vec<ColumnInfo>> {
    columns_by_table(rows, 1).pop().flatten()
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
/// Connection refused"). Secrets are masked where the text leaves the program.
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
    text
}

/// A writing statement as logs show it: its table and columns, never its values (they
/// are bound apart from the SQL anyway, and may be failed rows).
pub fn shown_write(sql: &str) -> &str {
    match sql.find(" VALUES") {
        Some(at) => &sql[..at],
        None => sql,
    }
}

/// A size as people write it (`512MB`, `4GB`, `1.5GiB`, `100KB`, `2048B`) in bytes; None
/// for anything else. KB, MB, GB and TB are powers of 1000, KiB to TiB powers of 1024, as
/// DuckDB reads them.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let number = t
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .trim_end();
    let unit = t[number.len()..].trim().to_ascii_uppercase();
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n > 0.0)?;
    let scale: f64 = match unit.as_str() {
        "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KIB" => 1024.0,
        "MIB" => 1024f64.powi(2),
        "GIB" => 1024f64.powi(3),
        "TIB" => 1024f64.powi(4),
        _ => return None,
    };
    let bytes = n * scale;
    (bytes >= 1.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn sizes_read_as_duckdb_reads_them() {
        assert_eq!(super::parse_size("512MB"), Some(512_000_000));
        assert_eq!(super::parse_size("1.5 GiB"), Some(1_610_612_736));
        assert_eq!(super::parse_size("2048b"), Some(2048));
        for bad in ["", "GB", "-1GB", "1 parsec", "1e400GB", "0MB", "NaNGB"] {
            assert_eq!(super::parse_size(bad), None, "{bad}");
        }
    }
}

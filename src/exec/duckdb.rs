//! Embedded DuckDB: a database file opened read-only, or (for the `files` data source)
//! an in-memory database whose views read CSV, Parquet and JSON files in place.
//!
//! DuckDB calls block, so every statement runs on tokio's blocking pool; each dataset
//! gets its own connection to the one database, so datasets run concurrently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use duckdb::types::Value as DValue;
use duckdb::{AccessMode, Config, Connection};

use super::control::Interrupt;
use super::{ColumnInfo, ExecError, Executor, Rows, RunControl, Session, Value};
use crate::sql::ast::TableRef;
use crate::sql::dialect::Dialect;
use crate::sql::duckdb::DuckDbDialect;

pub struct DuckDbExecutor {
    data_source: String,
    base: Mutex<Connection>,
    /// files whose view could not be created (unreadable, not CSV, ...)
    file_errors: HashMap<String, String>,
}

/// The SQL function that reads a data file, chosen by its extension.
pub fn reader_sql(path: &Path) -> String {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let quoted = format!("'{}'", path.to_string_lossy().replace('\'', "''"));
    let func = if name.ends_with(".parquet") {
        "read_parquet"
    } else if name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".ndjson") {
        "read_json_auto"
    } else {
        "read_csv_auto"
    };
    format!("{func}({quoted})")
}

fn connect_error(data_source: &str, e: impl std::fmt::Display) -> ExecError {
    ExecError::Connect {
        data_source: data_source.to_string(),
        message: e.to_string(),
    }
}

impl DuckDbExecutor {
    /// Open a database file read-only (or `:memory:`).
    pub fn open_database(data_source: &str, database: &str) -> Result<DuckDbExecutor, ExecError> {
        let conn = if database == ":memory:" {
            // DuckDB cannot open an in-memory database read-only; it is empty anyway
            Connection::open_in_memory()
        } else {
            if !Path::new(database).exists() {
                return Err(connect_error(
                    data_source,
                    format!("database file '{database}' does not exist"),
                ));
            }
            let config = Config::default()
                .access_mode(AccessMode::ReadOnly)
                .map_err(|e| connect_error(data_source, e))?;
            Connection::open_with_flags(database, config)
        }
        .map_err(|e| connect_error(data_source, e))?;
        Ok(DuckDbExecutor {
            data_source: data_source.to_string(),
            base: Mutex::new(conn),
            file_errors: HashMap::new(),
        })
    }

    /// An in-memory database with one view per data file, named as the table parts say.
    pub fn open_files(
        data_source: &str,
        files: &[(String, PathBuf)],
    ) -> Result<DuckDbExecutor, ExecError> {
        let conn = Connection::open_in_memory().map_err(|e| connect_error(data_source, e))?;
        let dialect = DuckDbDialect;
        let mut file_errors = HashMap::new();
        for (view, path) in files {
            if !path.is_file() {
                file_errors.insert(
                    view.clone(),
                    format!("file '{}' does not exist", path.display()),
                );
                continue;
            }
            let sql = format!(
                "CREATE OR REPLACE VIEW {} AS SELECT * FROM {}",
                dialect.quote_ident(view),
                reader_sql(path)
            );
            if let Err(e) = conn.execute_batch(&sql) {
                file_errors.insert(
                    view.clone(),
                    format!("could not read '{}': {e}", path.display()),
                );
            }
        }
        Ok(DuckDbExecutor {
            data_source: data_source.to_string(),
            base: Mutex::new(conn),
            file_errors,
        })
    }
}

#[async_trait]
impl Executor for DuckDbExecutor {
    fn dialect(&self) -> &dyn Dialect {
        &DuckDbDialect
    }

    async fn session(&self, control: &RunControl) -> Result<Box<dyn Session>, ExecError> {
        control.check()?;
        let conn = self
            .base
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_clone()
            .map_err(|e| connect_error(&self.data_source, e))?;
        // No `SET TimeZone`: the bundled DuckDB has no ICU, so zoned timestamps already
        // compare in UTC like the server sessions, and the setting would make DuckDB try
        // to download the ICU extension.
        let handle: Arc<dyn Interrupt> = Arc::new(DuckInterrupt(conn.interrupt_handle()));
        control.register(&handle);
        Ok(Box::new(DuckDbSession {
            conn: Arc::new(Mutex::new(conn)),
            _interrupt: handle,
            file_errors: self.file_errors.clone(),
        }))
    }
}

struct DuckInterrupt(Arc<duckdb::InterruptHandle>);

impl Interrupt for DuckInterrupt {
    fn interrupt(&self) {
        self.0.interrupt();
    }
}

struct DuckDbSession {
    conn: Arc<Mutex<Connection>>,
    // kept alive for as long as the session, so a cancel reaches it
    _interrupt: Arc<dyn Interrupt>,
    file_errors: HashMap<String, String>,
}

impl DuckDbSession {
    /// Up to `limit` rows, fetched one by one (never the whole result), with column names.
    async fn fetch(&self, sql: String, limit: usize) -> Result<Rows, ExecError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            let mut stmt = conn.prepare(&sql).map_err(query_error)?;
            let mut rows = stmt.query([]).map_err(query_error)?;
            let mut out = Rows::default();
            while out.rows.len() < limit {
                let Some(row) = rows.next().map_err(query_error)? else {
                    break;
                };
                let n = row.as_ref().column_count();
                if out.columns.is_empty() {
                    out.columns = (0..n)
                        .map(|i| {
                            row.as_ref()
                                .column_name(i)
                                .map_or_else(|_| format!("column{i}"), |s| s.to_string())
                        })
                        .collect();
                }
                let mut values = Vec::with_capacity(n);
                for i in 0..n {
                    let v: DValue = row.get(i).map_err(query_error)?;
                    values.push(convert(v));
                }
                out.rows.push(values);
            }
            Ok(out)
        })
        .await
        .map_err(|e| ExecError::Query(format!("query task failed: {e}")))?
    }
}

fn query_error(e: duckdb::Error) -> ExecError {
    let text = e.to_string();
    if text.contains("INTERRUPT") || text.contains("Interrupted") {
        ExecError::Cancelled("the query was interrupted".into())
    } else {
        ExecError::Query(text)
    }
}

#[async_trait]
impl Session for DuckDbSession {
    async fn columns(&mut self, table: &TableRef) -> Result<Option<Vec<ColumnInfo>>, ExecError> {
        if let Some(e) = self
            .file_errors
            .get(table.name())
            .filter(|_| table.parts.len() == 1)
        {
            return Err(ExecError::Query(e.clone()));
        }
        let rows = self
            .fetch(DuckDbDialect.columns_query(table), usize::MAX)
            .await?
            .rows;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(super::columns_from_rows(&rows)))
    }

    async fn first_row(&mut self, sql: &str) -> Result<Option<Vec<Value>>, ExecError> {
        Ok(self.fetch(sql.to_string(), 1).await?.rows.pop())
    }

    async fn rows(&mut self, sql: &str, limit: usize) -> Result<Rows, ExecError> {
        self.fetch(sql.to_string(), limit).await
    }
}

fn convert(v: DValue) -> Value {
    match v {
        DValue::Null => Value::Null,
        DValue::Boolean(b) => Value::Bool(b),
        DValue::TinyInt(i) => Value::Int(i.into()),
        DValue::SmallInt(i) => Value::Int(i.into()),
        DValue::Int(i) => Value::Int(i.into()),
        DValue::BigInt(i) => Value::Int(i.into()),
        DValue::HugeInt(i) => Value::Int(i),
        DValue::UTinyInt(i) => Value::Int(i.into()),
        DValue::USmallInt(i) => Value::Int(i.into()),
        DValue::UInt(i) => Value::Int(i.into()),
        DValue::UBigInt(i) => Value::Int(i.into()),
        DValue::UHugeInt(i) => i128::try_from(i)
            .map(Value::Int)
            .unwrap_or_else(|_| Value::Other(i.to_string())),
        DValue::Float(f) => Value::Float(f.into()),
        DValue::Double(f) => Value::Float(f),
        DValue::Decimal(d) => Value::Decimal(d.to_string()),
        DValue::Timestamp(unit, t) => Value::Timestamp(unit.to_micros(t)),
        DValue::Date32(d) => Value::Date(d),
        DValue::Text(s) | DValue::Enum(s) => Value::Text(s),
        other => Value::Other(format!("{other:?}")),
    }
}

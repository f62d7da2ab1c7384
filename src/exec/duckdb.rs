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
use super::{
    ColumnInfo, ExecError, Executor, Kept, Limits, RowSink, Rows, RunControl, Session,
    TableColumns, Value,
};
use crate::sql::ast::{Param, Statement, TableRef};
use crate::sql::dialect::Dialect;
use crate::sql::duckdb::DuckDbDialect;

pub struct DuckDbExecutor {
    data_source: String,
    base: Mutex<Connection>,
    /// files whose view could not be created (unreadable, not CSV, ...)
    file_errors: HashMap<String, String>,
    /// the database `base` is a connection to, when assay opened it (declared after
    /// `base`, so it is dropped after it)
    _loaded: Option<Arc<crate::exec::duckdb_ingest::Loaded>>,
}

/// The extensions of the data files DuckDB reads.
pub const FILE_EXTENSIONS: &[&str] = &[
    ".csv", ".tsv", ".csv.gz", ".parquet", ".json", ".jsonl", ".ndjson",
];

/// A data file's path without its data extension (`sales/orders.csv` ->
/// `sales/orders`); None when it has none.
pub fn stem_of(rel: &str) -> Option<&str> {
    let lower = rel.to_ascii_lowercase();
    FILE_EXTENSIONS
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map(|ext| &rel[..rel.len() - ext.len()])
}

/// The SQL function that reads a data file, chosen by its extension.
pub fn reader_sql(path: &Path) -> String {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let quoted = path_literal(path);
    let func = if name.ends_with(".parquet") {
        "read_parquet"
    } else if name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".ndjson") {
        "read_json_auto"
    } else {
        "read_csv_auto"
    };
    format!("{func}({quoted})")
}

/// A file's path as a SQL string literal.
fn path_literal(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', "''"))
}

/// A CSV file's reader with what DuckDB's sniffer found in it written out (delimiter,
/// quoting, header, each column's type, date formats): `FROM read_csv(...)`. A view over
/// `read_csv_auto` sniffs the file again each time a statement binds it, which cost more
/// than the statement on small files; the sniffer's own prompt reads the file exactly as
/// `read_csv_auto` would. None for other files, or when the sniffer says nothing usable
/// (the view then reads with `read_csv_auto`, whose error names what is wrong).
fn sniffed_reader(conn: &Connection, path: &Path) -> Option<String> {
    if !matches!(reader_sql(path).split('(').next(), Some("read_csv_auto")) {
        return None;
    }
    let prompt: String = conn
        .query_row(
            &format!("SELECT Prompt FROM sniff_csv({})", path_literal(path)),
            [],
            |r| r.get(0),
        )
        .ok()?;
    let prompt = prompt.trim().trim_end_matches(';').trim();
    prompt
        .starts_with("FROM read_csv(")
        .then(|| prompt.to_string())
}

/// Run writing statements in one transaction on `conn`, their values bound as
/// parameters: all of them are written, or none.
pub fn execute_writes(conn: &Connection, statements: &[Statement]) -> Result<(), ExecError> {
    let failed = |e: duckdb::Error| ExecError::Query(e.to_string());
    conn.execute_batch("BEGIN TRANSACTION").map_err(failed)?;
    let written = statements.iter().try_for_each(|s| {
        let params: Vec<DValue> = s.params.iter().map(param_value).collect();
        conn.execute(&s.sql, duckdb::params_from_iter(params))
            .map(drop)
            .map_err(failed)
    });
    match written {
        Ok(()) => conn.execute_batch("COMMIT").map_err(failed),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// A bound value as DuckDB takes it; text is cast by DuckDB to the column's type.
fn param_value(p: &Param) -> DValue {
    match p {
        Param::Null => DValue::Null,
        Param::Text(s) => DValue::Text(s.clone()),
        Param::Int(i) => DValue::BigInt(*i),
        Param::Float(v) => DValue::Double(*v),
        Param::Bool(b) => DValue::Boolean(*b),
    }
}

fn connect_error(data_source: &str, e: impl std::fmt::Display) -> ExecError {
    ExecError::Connect {
        data_source: data_source.to_string(),
        message: e.to_string(),
    }
}

/// Settings of every DuckDB database that verifies: no extension is installed or loaded
/// behind the user's back (an autoload would download code), and none from the community
/// repository at all.
/// Settings every DuckDB assay opens starts with: no extension is downloaded or loaded
/// behind its back (a query naming a file type would otherwise fetch a reader).
pub const EXTENSIONS_OFF: &[(&str, &str)] = &[
    ("autoload_known_extensions", "false"),
    ("autoinstall_known_extensions", "false"),
    ("allow_community_extensions", "false"),
];

/// A DuckDB configuration with `EXTENSIONS_OFF`.
pub fn base_config() -> duckdb::Result<Config> {
    EXTENSIONS_OFF
        .iter()
        .try_fold(Config::default(), |c, (name, value)| c.with(name, value))
}

/// The memory one DuckDB data source may use unless its connection says
/// (`memory_limit:`): a contract's expression cannot take the machine's memory (DuckDB's
/// own default is 80% of it), and verification's aggregates need far less.
pub const DEFAULT_MEMORY_LIMIT: &str = "4GB";

/// Whether `text` is a size DuckDB's memory_limit takes (`512MB`, `4GB`, `1.5GiB`): at
/// least a megabyte, or DuckDB could not even open.
pub fn valid_memory_limit(text: &str) -> bool {
    super::parse_size(text).is_some_and(|b| b >= 1_000_000)
}

/// `CURRENT_DATE` (and `today()`), which DuckDB keeps in its ICU extension, left out of
/// the bundled build: the UTC date, like the server sessions' (filters such as
/// `created_at >= CURRENT_DATE - INTERVAL '1 day'`, in Soda's own examples, run on every
/// engine). Temporary, so each session defines it in memory, read-only files included.
const CURRENT_DATE_MACRO: &str = "CREATE OR REPLACE TEMP MACRO current_date() AS CAST(CAST(get_current_timestamp() AS TIMESTAMP) AS DATE); \
     CREATE OR REPLACE TEMP MACRO today() AS CAST(CAST(get_current_timestamp() AS TIMESTAMP) AS DATE)";

/// Lock the database down once its views exist: no file outside `allowed` (no ATTACH,
/// COPY, file function or extension download), no more memory than `memory_limit`, and
/// no setting can be changed back.
fn lock_down(conn: &Connection, allowed: &[PathBuf], memory_limit: &str) -> duckdb::Result<()> {
    // checked when the config was read; quoted all the same
    conn.execute_batch(&format!(
        "SET memory_limit = '{}'",
        memory_limit.replace('\'', "''")
    ))?;
    if !allowed.is_empty() {
        let paths: Vec<String> = allowed.iter().map(|p| path_literal(p)).collect();
        conn.execute_batch(&format!("SET allowed_paths = [{}]", paths.join(", ")))?;
    }
    conn.execute_batch("SET enable_external_access = false; SET lock_configuration = true")
}

impl DuckDbExecutor {
    /// Open a database file read-only (or `:memory:`).
    pub fn open_database(
        data_source: &str,
        database: &str,
        memory_limit: &str,
    ) -> Result<DuckDbExecutor, ExecError> {
        let config = base_config().map_err(|e| connect_error(data_source, e))?;
        let conn = if database == ":memory:" {
            // DuckDB cannot open an in-memory database read-only; it is empty anyway
            Connection::open_in_memory_with_flags(config)
        } else {
            if !Path::new(database).exists() {
                return Err(connect_error(
                    data_source,
                    format!("database file '{database}' does not exist"),
                ));
            }
            let config = config
                .access_mode(AccessMode::ReadOnly)
                .map_err(|e| connect_error(data_source, e))?;
            Connection::open_with_flags(database, config)
        }
        .map_err(|e| connect_error(data_source, e))?;
        lock_down(&conn, &[], memory_limit).map_err(|e| connect_error(data_source, e))?;
        Ok(DuckDbExecutor {
            data_source: data_source.to_string(),
            base: Mutex::new(conn),
            file_errors: HashMap::new(),
            _loaded: None,
        })
    }

    /// A database loaded by assay (a channel's records), locked down like every other.
    pub fn open_loaded(
        data_source: &str,
        loaded: Arc<crate::exec::duckdb_ingest::Loaded>,
        memory_limit: &str,
    ) -> Result<DuckDbExecutor, ExecError> {
        let conn = loaded
            .connect()
            .map_err(|e| connect_error(data_source, e))?;
        lock_down(&conn, &[], memory_limit).map_err(|e| connect_error(data_source, e))?;
        Ok(DuckDbExecutor {
            data_source: data_source.to_string(),
            base: Mutex::new(conn),
            file_errors: HashMap::new(),
            _loaded: Some(loaded),
        })
    }

    /// An in-memory database with one view per data file, named as the table parts say.
    /// Only those files stay readable once the views exist, and only files that resolve
    /// inside `root`: one that is a symbolic link leading out is not read (its datasets
    /// say why).
    pub fn open_files(
        data_source: &str,
        root: &Path,
        files: &[(String, PathBuf)],
        memory_limit: &str,
    ) -> Result<DuckDbExecutor, ExecError> {
        let config = base_config().map_err(|e| connect_error(data_source, e))?;
        let conn = Connection::open_in_memory_with_flags(config)
            .map_err(|e| connect_error(data_source, e))?;
        let dialect = DuckDbDialect;
        let mut file_errors = HashMap::new();
        let mut readable = Vec::new();
        for (view, path) in files {
            if !path.is_file() {
                file_errors.insert(
                    view.clone(),
                    format!("file '{}' does not exist", path.display()),
                );
                continue;
            }
            if let Err(why) = crate::paths::inside(root, path) {
                file_errors.insert(view.clone(), format!("file '{}' {why}", path.display()));
                continue;
            }
            let create = |from: String| {
                conn.execute_batch(&format!(
                    "CREATE OR REPLACE VIEW {} AS SELECT * {from}",
                    dialect.quote_ident(view)
                ))
            };
            let plain = || create(format!("FROM {}", reader_sql(path)));
            let created = match sniffed_reader(&conn, path) {
                // a prompt DuckDB cannot take back is read the plain way
                Some(sniffed) => create(sniffed).or_else(|_| plain()),
                None => plain(),
            };
            match created {
                Ok(()) => readable.push(path.clone()),
                Err(e) => {
                    file_errors.insert(
                        view.clone(),
                        format!("could not read '{}': {e}", path.display()),
                    );
                }
            }
        }
        // a query written by hand may name a file by its stem (FROM orders, for
        // orders.csv): a view of that name too, when exactly one file has that stem and
        // no file is named so. Two files of one stem are never one dataset.
        let views: Vec<&String> = files
            .iter()
            .map(|(view, _)| view)
            .filter(|v| !file_errors.contains_key(*v))
            .collect();
        let stems: Vec<&str> = views.iter().filter_map(|v| stem_of(v)).collect();
        for (view, stem) in views
            .iter()
            .filter_map(|v| stem_of(v).map(|stem| (v, stem)))
        {
            let alone = stems.iter().filter(|s| **s == stem).count() == 1;
            if alone && !views.iter().any(|v| v.as_str() == stem) {
                conn.execute_batch(&format!(
                    "CREATE OR REPLACE VIEW {} AS SELECT * FROM {}",
                    dialect.quote_ident(stem),
                    dialect.quote_ident(view)
                ))
                .map_err(|e| connect_error(data_source, e))?;
            }
        }
        lock_down(&conn, &readable, memory_limit).map_err(|e| connect_error(data_source, e))?;
        Ok(DuckDbExecutor {
            data_source: data_source.to_string(),
            base: Mutex::new(conn),
            file_errors,
            _loaded: None,
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
        conn.execute_batch(CURRENT_DATE_MACRO)
            .map_err(|e| connect_error(&self.data_source, e))?;
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

/// What the reading thread hands the session: the column names, then rows a chunk at a
/// time, column by column (a few allocations a chunk, not one a row: what one thread
/// allocates and another frees contends for the allocator's locks). The channel holds
/// one chunk, so memory holds two besides what the sink keeps.
enum Piece {
    Columns(Vec<String>),
    Chunk(Vec<Vec<Value>>),
}

/// Rows read value by value are handed over this many at a time, or sooner once their
/// text holds `PIECE_BYTES` (wide rows are not gathered by the thousand).
const PIECE_ROWS: usize = 2048;
const PIECE_BYTES: usize = 1 << 20;

impl DuckDbSession {
    /// A query's rows into `sink`, read on a blocking thread (DuckDB's calls block) and
    /// handed over a chunk at a time. Reading stops once the sink wants no more.
    /// `user_sql`: the text may hold user-written SQL, so DuckDB's parser counts its
    /// statements first (SQL assay printed alone needs no count, nor the parser's
    /// database).
    async fn fetch(
        &self,
        sql: String,
        sink: &mut dyn RowSink,
        user_sql: bool,
    ) -> Result<(), ExecError> {
        let conn = self.conn.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Piece>(1);
        let reader = tokio::task::spawn_blocking(move || {
            // false once the session reads no more
            let send = |piece: Piece| tx.blocking_send(piece).is_ok();
            if user_sql {
                one_statement(&sql)?;
            }
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            let mut stmt = conn.prepare(&sql).map_err(query_error)?;
            // plain columns stream: DuckDB computes the next chunks while this thread
            // converts the last, and the result is never held whole
            if (0..stmt.column_count())
                .all(|i| columnar::plain_logical(stmt.column_logical_type(i).id()))
            {
                let stream = stmt.stream_arrow([]).map_err(query_error)?;
                let schema = stream.get_schema();
                // (the Arrow types must be the plain ones the logical types promise;
                // should one not be, the query runs again and is read value by value)
                if schema
                    .fields()
                    .iter()
                    .all(|f| columnar::plain(f.data_type()))
                {
                    if !send(Piece::Columns(
                        schema.fields().iter().map(|f| f.name().clone()).collect(),
                    )) {
                        return Ok(());
                    }
                    for batch in stream {
                        let batch = batch.map_err(query_error)?;
                        if !send(Piece::Chunk(columnar::columns(batch.columns()))) {
                            break;
                        }
                    }
                    return Ok(());
                }
            }
            stmt.raw_execute().map_err(query_error)?;
            let schema = stmt.schema();
            if !send(Piece::Columns(
                schema.fields().iter().map(|f| f.name().clone()).collect(),
            )) {
                return Ok(());
            }
            if schema
                .fields()
                .iter()
                .all(|f| columnar::plain(f.data_type()))
            {
                return columnar::each_chunk(&stmt, |columns| send(Piece::Chunk(columns)));
            }
            let n = schema.fields().len();
            let mut rows = stmt.raw_query();
            let new_piece = || vec![Vec::new(); n];
            let (mut piece, mut count, mut bytes) = (new_piece(), 0, 0);
            while let Some(row) = rows.next().map_err(query_error)? {
                for (i, column) in piece.iter_mut().enumerate() {
                    let v = convert(row.get(i).map_err(query_error)?);
                    if let Value::Text(t) | Value::Other(t) = &v {
                        bytes += t.len();
                    }
                    column.push(v);
                }
                count += 1;
                if count == PIECE_ROWS || bytes >= PIECE_BYTES {
                    (count, bytes) = (0, 0);
                    if !send(Piece::Chunk(std::mem::replace(&mut piece, new_piece()))) {
                        return Ok(());
                    }
                }
            }
            if count > 0 {
                send(Piece::Chunk(piece));
            }
            Ok(())
        });
        while sink.wants_more() {
            match rx.recv().await {
                Some(Piece::Columns(names)) => sink.columns(names),
                Some(Piece::Chunk(mut columns)) => sink.chunk(&mut columns),
                None => break,
            }
        }
        // the reading thread stops at its next chunk
        drop(rx);
        reader
            .await
            .map_err(|e| ExecError::Query(format!("query task failed: {e}")))?
    }
}

/// Refuses a text DuckDB's parser reads as anything but one statement: prepare would run
/// every statement but the last, so exactly one may reach it.
fn one_statement(sql: &str) -> Result<(), ExecError> {
    match super::duckdb_parser::statement_count(sql) {
        Ok(1) => Ok(()),
        Ok(n) => Err(ExecError::Query(format!(
            "refused: DuckDB reads {n} statements in this SQL, and only one may run"
        ))),
        Err(e) => Err(ExecError::Query(e.to_string())),
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
    async fn columns(&mut self, table: &TableRef) -> TableColumns {
        if let Some(e) = self
            .file_errors
            .get(table.name())
            .filter(|_| table.parts.len() == 1)
        {
            return Err(ExecError::Query(e.clone()));
        }
        let sql = DuckDbDialect.columns_query(std::slice::from_ref(table));
        let mut kept = Kept::new(Limits::rows(usize::MAX));
        match self
            .fetch(
                sql.expect("DuckDB reads its catalog with SQL"),
                &mut kept,
                false,
            )
            .await
        {
            Ok(()) => Ok(catalog_columns(&kept.rows.rows, 1).pop().flatten()),
            // pragma_table_info names a table that is not there with a catalog error
            Err(ExecError::Query(e))
                if e.contains("Catalog Error") && e.contains("does not exist") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn columns_of(&mut self, tables: &[TableRef]) -> Vec<TableColumns> {
        super::columns_in_one_statement(self, &DuckDbDialect, tables, catalog_columns).await
    }

    async fn each_row(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<(), ExecError> {
        self.fetch(sql.to_string(), sink, true).await
    }

    async fn rows_without_user_sql(
        &mut self,
        sql: &str,
        limits: Limits,
    ) -> Result<Rows, ExecError> {
        let mut kept = Kept::new(limits);
        self.fetch(sql.to_string(), &mut kept, false).await?;
        Ok(kept.rows)
    }
}

/// Rows of DuckDB's `columns_query` (table index, position, name, type, not null) as
/// each table's columns in catalog order, with precision, scale and datetime precision
/// derived from the type's name as information_schema.columns derives them.
fn catalog_columns(rows: &[Vec<Value>], tables: usize) -> Vec<Option<Vec<ColumnInfo>>> {
    let number = |v: &Value| v.as_f64().map_or(u64::MAX, |f| f as u64);
    let mut rows: Vec<&Vec<Value>> = rows.iter().filter(|r| r.len() == 5).collect();
    rows.sort_by_key(|r| (number(&r[0]), number(&r[1])));
    // catalog names and types are never NULL
    let text = |v: &Value| v.to_text().unwrap_or_default();
    let mut out: Vec<Option<Vec<ColumnInfo>>> = vec![None; tables];
    for r in rows {
        let Some(columns) = out.get_mut(number(&r[0]) as usize) else {
            continue;
        };
        let data_type = text(&r[3]);
        let (numeric_precision, numeric_scale) = numeric_precision(&data_type);
        columns.get_or_insert_with(Vec::new).push(ColumnInfo {
            name: text(&r[2]),
            character_maximum_length: None,
            numeric_precision,
            numeric_scale,
            datetime_precision: datetime_precision(&data_type),
            nullable: Some(!matches!(r[4], Value::Bool(true))),
            data_type,
        });
    }
    out
}

/// (precision, scale) of a DuckDB numeric type: bits for integers and floating point
/// (scale 0), digits for decimals; None for others (unsigned integers included, as
/// information_schema has it).
fn numeric_precision(data_type: &str) -> (Option<u64>, Option<u64>) {
    let bits = match data_type {
        "TINYINT" => 8,
        "SMALLINT" => 16,
        "INTEGER" => 32,
        "BIGINT" => 64,
        "HUGEINT" => 128,
        "FLOAT" => 24,
        "DOUBLE" => 53,
        _ => {
            let digits = data_type
                .strip_prefix("DECIMAL(")
                .and_then(|rest| rest.strip_suffix(')'))
                .and_then(|inner| inner.split_once(','))
                .and_then(|(p, s)| Some((p.trim().parse().ok()?, s.trim().parse().ok()?)));
            return digits.map_or((None, None), |(p, s)| (Some(p), Some(s)));
        }
    };
    (Some(bits), Some(0))
}

/// Fractional-second digits of a DuckDB time type, which carries them in its name.
fn datetime_precision(data_type: &str) -> Option<u64> {
    match data_type {
        "TIMESTAMP_S" => Some(0),
        "TIMESTAMP_MS" => Some(3),
        "TIMESTAMP" | "TIMESTAMP WITH TIME ZONE" | "TIME" => Some(6),
        "TIMESTAMP_NS" => Some(9),
        _ => None,
    }
}

/// Results whose columns are all of plain types are read a chunk at a time, column by
/// column: far cheaper than value by value (a history of hundreds of thousands of points
/// is read in a fraction of the time). Other types go value by value, as DuckDB's own
/// types say (decimals exact, enums, intervals, lists).
mod columnar {
    use duckdb::arrow::array::Array;
    use duckdb::arrow::datatypes::DataType;

    use super::{query_error, ExecError, Value};

    pub fn plain(t: &DataType) -> bool {
        matches!(
            t,
            DataType::Null
                | DataType::Boolean
                | DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
                | DataType::Float32
                | DataType::Float64
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Timestamp(_, _)
                | DataType::Date32
        )
    }

    super::super::arrow_values::plain_arrow_values!(duckdb::arrow);

    /// The column's values, in order (`plain` types only).
    fn column(a: &dyn Array) -> Vec<Value> {
        plain_column(a).unwrap_or_else(|| vec![Value::Null; a.len()])
    }

    /// Logical types whose Arrow form is `plain`: known before the query runs.
    pub fn plain_logical(t: duckdb::core::LogicalTypeId) -> bool {
        use duckdb::core::LogicalTypeId as L;
        matches!(
            t,
            L::SqlNull
                | L::Boolean
                | L::Tinyint
                | L::Smallint
                | L::Integer
                | L::Bigint
                | L::UTinyint
                | L::USmallint
                | L::UInteger
                | L::UBigint
                | L::Float
                | L::Double
                | L::Varchar
                | L::Timestamp
                | L::TimestampS
                | L::TimestampMs
                | L::TimestampNs
                | L::TimestampTZ
                | L::Date
        )
    }

    /// A chunk's columns as values (`plain` types only).
    pub fn columns(arrays: &[std::sync::Arc<dyn Array>]) -> Vec<Vec<Value>> {
        arrays.iter().map(|c| column(c.as_ref())).collect()
    }

    /// The result a chunk at a time, column by column, to `each` (false: no more wanted).
    pub fn each_chunk(
        stmt: &duckdb::Statement<'_>,
        mut each: impl FnMut(Vec<Vec<Value>>) -> bool,
    ) -> Result<(), ExecError> {
        while let Some(chunk) = stmt.step().map_err(query_error)? {
            if !each(columns(chunk.columns())) {
                break;
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A query's first row, as the verification reads it.
    async fn first_row(
        session: &mut Box<dyn Session>,
        sql: &str,
    ) -> Result<Option<Vec<Value>>, ExecError> {
        Ok(session.rows(sql, Limits::rows(1)).await?.rows.pop())
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// What a contract could not send, sent straight to a session: the engine refuses it.
    #[test]
    fn a_verifying_session_cannot_reach_outside_its_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.duckdb");
        let other = dir.path().join("other.duckdb");
        for path in [&db, &other] {
            Connection::open(path)
                .unwrap()
                .execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2);")
                .unwrap();
        }
        std::fs::write(dir.path().join("secret.csv"), "x\n1\n").unwrap();
        let exec = DuckDbExecutor::open_database("db", db.to_str().unwrap(), DEFAULT_MEMORY_LIMIT)
            .unwrap();
        let control = RunControl::new();
        let q = |p: &Path| p.to_string_lossy().replace('\'', "''");
        let attacks = [
            "SELECT 1; DELETE FROM t".to_string(),
            "SELECT 1 /* /* */ -- */ ; DELETE FROM t; SELECT 1".to_string(),
            format!("ATTACH '{}' AS w", q(&other)),
            format!("COPY t TO '{}'", q(&dir.path().join("out.csv"))),
            format!(
                "SELECT * FROM read_csv('{}')",
                q(&dir.path().join("secret.csv"))
            ),
            format!("SELECT * FROM '{}'", q(&dir.path().join("secret.csv"))),
            format!(
                "SELECT * FROM read_text('{}')",
                q(&dir.path().join("secret.csv"))
            ),
            "SET enable_external_access = true".to_string(),
            "SET lock_configuration = false".to_string(),
            "SET autoinstall_known_extensions = true".to_string(),
            "INSTALL httpfs".to_string(),
            "LOAD httpfs".to_string(),
            "DELETE FROM t".to_string(),
            "CREATE TABLE made(x INTEGER)".to_string(),
        ];
        block_on(async {
            let mut session = exec.session(&control).await.unwrap();
            for sql in &attacks {
                let result = first_row(&mut session, sql).await;
                assert!(result.is_err(), "ran: {sql}");
            }
            assert_eq!(
                first_row(&mut session, "SELECT count(*) FROM t")
                    .await
                    .unwrap(),
                Some(vec![Value::Int(2)])
            );
        });
        drop(exec);
        assert!(!dir.path().join("out.csv").exists());
        let other_rows: i64 = Connection::open(&other)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(other_rows, 2);
    }

    #[test]
    fn a_files_session_reads_its_files_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let orders = dir.path().join("orders.csv");
        let secret = dir.path().join("secret.csv");
        std::fs::write(&orders, "id\n1\n2\n3\n").unwrap();
        std::fs::write(&secret, "x\n1\n").unwrap();
        let exec = DuckDbExecutor::open_files(
            "files",
            dir.path(),
            &[("orders".into(), orders)],
            DEFAULT_MEMORY_LIMIT,
        )
        .unwrap();
        let control = RunControl::new();
        block_on(async {
            let mut session = exec.session(&control).await.unwrap();
            assert_eq!(
                first_row(&mut session, "SELECT count(*) FROM orders")
                    .await
                    .unwrap(),
                Some(vec![Value::Int(3)])
            );
            let path = secret.to_string_lossy().replace('\'', "''");
            for sql in [
                format!("SELECT count(*) FROM '{path}'"),
                format!("SELECT count(*) FROM read_csv_auto('{path}')"),
            ] {
                assert!(first_row(&mut session, &sql).await.is_err(), "read: {sql}");
            }
        });
    }

    /// The catalog read (pragma_table_info, one statement for every table) answers as
    /// information_schema.columns does, for every type DuckDB has: a schema check
    /// compares those numbers.
    #[test]
    fn the_catalog_read_answers_as_information_schema_does() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.duckdb");
        Connection::open(&db)
            .unwrap()
            .execute_batch(
                "CREATE TYPE mood AS ENUM ('a', 'b');
                 CREATE SCHEMA \"we'ird\";
                 CREATE TABLE \"we'ird\".\"Every.Type\" (a TINYINT, b SMALLINT, c INTEGER NOT NULL,
                   d BIGINT, e HUGEINT, f UTINYINT, g UBIGINT, h FLOAT, i DOUBLE, j DECIMAL(4,1),
                   k DECIMAL(18,3), l DECIMAL(38,10), m DECIMAL(3,3), n VARCHAR, o VARCHAR(10),
                   p BOOLEAN, q DATE, r TIME, s TIMESTAMP, t TIMESTAMPTZ, u TIMESTAMP_S,
                   v TIMESTAMP_MS, w TIMESTAMP_NS, x INTERVAL, y BLOB, z UUID, aa INTEGER[],
                   ab STRUCT(x DECIMAL(4,1)), ac MAP(VARCHAR, INTEGER), ad mood, ae TIMETZ);
                 CREATE TABLE plain (id INTEGER);
                 CREATE VIEW seen AS SELECT id, CAST(id AS DECIMAL(9,2)) AS amount FROM plain;",
            )
            .unwrap();
        let table = |parts: &[&str]| TableRef::new(parts.iter().map(|p| p.to_string()).collect());
        // information_schema's answer, as the catalog read gave it before
        let expected = |schema: &str, name: &str| -> Vec<ColumnInfo> {
            let conn = Connection::open(&db).unwrap();
            let mut stmt = conn
                .prepare(
                    "SELECT column_name, data_type, character_maximum_length, numeric_precision,
                       numeric_scale, COALESCE(datetime_precision, CASE data_type
                       WHEN 'TIMESTAMP_S' THEN 0 WHEN 'TIMESTAMP_MS' THEN 3 WHEN 'TIMESTAMP_NS' THEN 9
                       WHEN 'TIMESTAMP' THEN 6 WHEN 'TIMESTAMP WITH TIME ZONE' THEN 6
                       WHEN 'TIME' THEN 6 END), is_nullable = 'YES'
                     FROM information_schema.columns WHERE table_schema = ? AND table_name = ?
                     ORDER BY ordinal_position",
                )
                .unwrap();
            let num = |v: Option<i64>| v.map(|n| n as u64);
            let columns = stmt
                .query_map([schema, name], |r| {
                    Ok(ColumnInfo {
                        name: r.get(0)?,
                        data_type: r.get(1)?,
                        character_maximum_length: num(r.get(2)?),
                        numeric_precision: num(r.get(3)?),
                        numeric_scale: num(r.get(4)?),
                        datetime_precision: num(r.get(5)?),
                        nullable: r.get(6)?,
                    })
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            columns
        };
        let (every, plain, seen) = (
            expected("we'ird", "Every.Type"),
            expected("main", "plain"),
            expected("main", "seen"),
        );
        let exec = DuckDbExecutor::open_database("db", db.to_str().unwrap(), DEFAULT_MEMORY_LIMIT)
            .unwrap();
        let control = RunControl::new();
        let tables = [
            table(&["we'ird", "Every.Type"]),
            table(&["absent"]),
            // names resolve case-insensitively, as in a query
            table(&["MAIN", "Plain"]),
            table(&["main", "seen"]),
        ];
        let read = block_on(async {
            let mut session = exec.session(&control).await.unwrap();
            let many = session.columns_of(&tables).await;
            let one = session.columns(&tables[0]).await;
            let absent = session.columns(&tables[1]).await;
            (many, one, absent)
        });
        let (many, one, absent) = read;
        assert_eq!(every.len(), 31);
        assert_eq!(many[0].as_ref().unwrap().as_ref(), Some(&every));
        assert_eq!(one.unwrap(), Some(every));
        assert_eq!(many[1].as_ref().unwrap(), &None);
        assert_eq!(absent.unwrap(), None);
        assert_eq!(many[2].as_ref().unwrap().as_ref(), Some(&plain));
        assert_eq!(many[3].as_ref().unwrap().as_ref(), Some(&seen));
    }
}

//! MySQL and MariaDB through mysql_async: a pool per data source, each dataset verified
//! inside one read-only transaction with a consistent snapshot, the server's statement
//! time limit set from `--timeout`, and running queries stopped with `KILL QUERY` from a
//! second connection on timeout or Ctrl-C.
//!
//! Sessions run in UTC and utf8mb4, so TIMESTAMP columns come back in UTC and the
//! binary collation used for exact comparisons always applies.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use mysql_async::consts::ColumnType;
use mysql_async::prelude::Queryable;
use mysql_async::{
    Column, Conn, DriverError, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, SslOpts,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::debug;

use super::control::Interrupt;
use super::{
    error_chain, log_statement, ExecError, Executor, Kept, Limits, RowSink, RunControl, Session,
    TableColumns, Value,
};
use crate::exec::server_config::{ServerConfig, SslMode};
use crate::sql::ast::{Param, Statement, TableRef};
use crate::sql::dialect::Dialect;
use crate::sql::mysql::MySqlDialect;

pub struct MySqlExecutor {
    data_source: String,
    /// host:port, for messages
    target: String,
    user: String,
    database: String,
    /// with TLS (None when sslmode is disable)
    tls: Option<(Pool, Opts)>,
    /// without TLS (None when sslmode requires it)
    plain: Option<(Pool, Opts)>,
    /// sslmode prefer found that the server offers no TLS
    tls_unavailable: AtomicBool,
    connect_timeout: std::time::Duration,
    permits: Arc<Semaphore>,
}

impl MySqlExecutor {
    pub fn new(
        data_source: &str,
        server: &ServerConfig,
        max_connections: usize,
    ) -> Result<MySqlExecutor, ExecError> {
        let mut builder = match &server.url {
            Some(url) => {
                OptsBuilder::from_opts(Opts::from_url(url).map_err(|e| ExecError::Connect {
                    data_source: data_source.to_string(),
                    message: format!("invalid connection string: {}", error_chain(&e)),
                })?)
            }
            None => OptsBuilder::default().ip_or_hostname("localhost"),
        };
        if let Some(h) = &server.host {
            builder = builder.ip_or_hostname(h.clone());
        }
        if let Some(p) = server.port {
            builder = builder.tcp_port(p);
        }
        if server.user.is_some() {
            builder = builder.user(server.user.clone());
        }
        if server.password.is_some() {
            builder = builder.pass(server.password.clone());
        }
        if server.database.is_some() {
            builder = builder.db_name(server.database.clone());
        }
        let max = max_connections.max(1);
        let constraints = PoolConstraints::new(0, max).expect("0 <= max and max > 0");
        // connect over TCP as configured, not through a local socket found by chance
        let builder = builder
            .prefer_socket(false)
            .pool_opts(PoolOpts::default().with_constraints(constraints));
        let opts: Opts = builder.clone().into();
        let target = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
        let user = opts.user().unwrap_or("").to_string();
        let database = opts.db_name().unwrap_or("").to_string();
        let url_ssl = opts.ssl_opts().is_some();
        let mode = server.sslmode.unwrap_or(if url_ssl {
            SslMode::Require
        } else {
            SslMode::Prefer
        });
        let with_tls = |verify: bool| -> (Pool, Opts) {
            let ssl = if verify {
                SslOpts::default()
            } else {
                SslOpts::default()
                    .with_danger_accept_invalid_certs(true)
                    .with_danger_skip_domain_validation(true)
            };
            let opts: Opts = builder.clone().ssl_opts(ssl).into();
            (Pool::new(opts.clone()), opts)
        };
        let without_tls = || -> (Pool, Opts) {
            let opts: Opts = builder.clone().ssl_opts(None::<SslOpts>).into();
            (Pool::new(opts.clone()), opts)
        };
        let (tls, plain) = match mode {
            SslMode::Disable => (None, Some(without_tls())),
            SslMode::Prefer => (Some(with_tls(false)), Some(without_tls())),
            SslMode::Require => (Some(with_tls(false)), None),
            SslMode::VerifyFull => (Some(with_tls(true)), None),
        };
        Ok(MySqlExecutor {
            data_source: data_source.to_string(),
            target,
            user,
            database,
            tls,
            plain,
            tls_unavailable: AtomicBool::new(false),
            connect_timeout: server.connect_timeout,
            permits: Arc::new(Semaphore::new(max)),
        })
    }

    /// A pooled connection: TLS first where configured, plain when `prefer` finds the
    /// server offers no TLS.
    async fn connect(&self) -> Result<(Conn, Opts), ExecError> {
        if let Some((pool, opts)) = &self.tls {
            if !self.tls_unavailable.load(Ordering::Relaxed) {
                match self.get(pool).await {
                    Ok(conn) => return Ok((conn, opts.clone())),
                    Err(ConnectFailure::Mysql(mysql_async::Error::Driver(
                        DriverError::NoClientSslFlagFromServer,
                    ))) if self.plain.is_some() => {
                        debug!(
                            "{} offers no TLS; sslmode prefer connects without",
                            self.target
                        );
                        self.tls_unavailable.store(true, Ordering::Relaxed);
                    }
                    Err(e) => return Err(self.connect_error(e)),
                }
            }
        }
        let (pool, opts) = self
            .plain
            .as_ref()
            .ok_or_else(|| self.connect_error(ConnectFailure::Timeout))?;
        match self.get(pool).await {
            Ok(conn) => Ok((conn, opts.clone())),
            Err(e) => Err(self.connect_error(e)),
        }
    }

    /// Run writing statements in one transaction on a connection of their own (the
    /// stores and sinks; verification sessions stay read-only), every value bound as a
    /// parameter, under pinned settings whatever the server's defaults: a strict
    /// `sql_mode` of our own (a value too long or of the wrong type is an error, never
    /// cut), UTC, utf8mb4.
    pub async fn execute_writes(&self, statements: &[Statement]) -> Result<(), ExecError> {
        let (mut conn, _) = self.connect().await?;
        for setup in [
            "SET NAMES utf8mb4",
            format!("SET time_zone = '+00:00', SESSION sql_mode = {SQL_MODE}").as_str(),
            "START TRANSACTION",
        ] {
            let started = Instant::now();
            let result = conn.query_drop(setup).await;
            log_statement(setup, started, result.as_ref().err().map(|e| e as _));
            result.map_err(|e| query_error(&e))?;
        }
        for statement in statements {
            let started = Instant::now();
            let result = if statement.params.is_empty() {
                conn.query_drop(statement.sql.as_str()).await
            } else {
                let params: Vec<mysql_async::Value> =
                    statement.params.iter().map(param_value).collect();
                conn.exec_drop(
                    statement.sql.as_str(),
                    mysql_async::Params::Positional(params),
                )
                .await
            };
            log_statement(
                super::shown_write(&statement.sql),
                started,
                result.as_ref().err().map(|e| e as _),
            );
            if let Err(e) = result {
                let _ = conn.query_drop("ROLLBACK").await;
                return Err(query_error(&e));
            }
        }
        let started = Instant::now();
        let result = conn.query_drop("COMMIT").await;
        log_statement("COMMIT", started, result.as_ref().err().map(|e| e as _));
        result.map_err(|e| query_error(&e))
    }

    async fn get(&self, pool: &Pool) -> Result<Conn, ConnectFailure> {
        match tokio::time::timeout(self.connect_timeout, pool.get_conn()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(ConnectFailure::Mysql(e)),
            Err(_) => Err(ConnectFailure::Timeout),
        }
    }

    fn connect_error(&self, failure: ConnectFailure) -> ExecError {
        let ds = &self.data_source;
        let (text, hint) = match failure {
            ConnectFailure::Timeout => (
                format!(
                    "no answer within {}",
                    humantime::format_duration(self.connect_timeout)
                ),
                format!(
                    "{} did not answer within connect_timeout; check host, port and firewalls",
                    self.target
                ),
            ),
            ConnectFailure::Mysql(e) => {
                let text = mysql_error_text(&e);
                let hint = match &e {
                    mysql_async::Error::Server(s) if s.code == 1045 => format!(
                        "check the user '{}' and the password (password, password_file or connection string) of data source '{ds}'",
                        self.user
                    ),
                    mysql_async::Error::Server(s) if s.code == 1049 => {
                        format!("check `database:` ('{}') of data source '{ds}'", self.database)
                    }
                    mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer) => format!(
                        "the server offers no TLS; set sslmode: prefer or disable for data source '{ds}'"
                    ),
                    _ if text.to_lowercase().contains("refused") => format!(
                        "is MySQL/MariaDB running and listening on {}? check host and port",
                        self.target
                    ),
                    _ => format!("check the connection settings of data source '{ds}'"),
                };
                (text, hint)
            }
        };
        ExecError::Connect {
            data_source: ds.clone(),
            message: format!("{text} at {} ({hint})", self.target),
        }
    }
}

enum ConnectFailure {
    Mysql(mysql_async::Error),
    Timeout,
}

/// A MySQL error as one line: the server's own message for server errors.
fn mysql_error_text(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => {
            format!("{} (MySQL error {})", s.message, s.code)
        }
        other => error_chain(other),
    }
}

fn query_error(e: &mysql_async::Error) -> ExecError {
    match e {
        // 1317 interrupted (KILL QUERY), 1969 MariaDB max_statement_time, 3024 MySQL
        // max_execution_time
        mysql_async::Error::Server(s) if matches!(s.code, 1317 | 1969 | 3024) => {
            ExecError::Cancelled(mysql_error_text(e))
        }
        _ => ExecError::Query(mysql_error_text(e)),
    }
}

/// A driver error of a session, or None: its connection was lost before.
fn session_error(e: Option<mysql_async::Error>) -> ExecError {
    match e {
        Some(e) => query_error(&e),
        None => ExecError::Query("the session is closed".into()),
    }
}

#[async_trait]
impl Executor for MySqlExecutor {
    fn dialect(&self) -> &dyn Dialect {
        &MySqlDialect
    }

    async fn session(&self, control: &RunControl) -> Result<Box<dyn Session>, ExecError> {
        let permit = control.pool_slot(&self.permits).await?;
        let (mut conn, opts) = control.unless_cancelled(self.connect()).await??;
        // MariaDB reports 10.x/11.x, MySQL 5.x/8.x/9.x
        let mariadb = conn.server_version().0 >= 10;
        let limit = match (control.remaining(), mariadb) {
            (None, true) => "max_statement_time = 0".to_string(),
            (None, false) => "max_execution_time = 0".to_string(),
            (Some(d), true) => format!("max_statement_time = {:.3}", d.as_secs_f64().max(0.001)),
            (Some(d), false) => format!("max_execution_time = {}", d.as_millis().max(1)),
        };
        for statement in [
            "SET NAMES utf8mb4".to_string(),
            format!("SET time_zone = '+00:00', SESSION {limit}, SESSION sql_mode = {SQL_MODE}"),
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY".to_string(),
        ] {
            let started = Instant::now();
            let result = conn.query_drop(&statement).await;
            log_statement(&statement, started, result.as_ref().err().map(|e| e as _));
            result.map_err(|e| query_error(&e))?;
        }
        let kill: Arc<dyn Interrupt> = Arc::new(MySqlKill {
            opts,
            connection_id: conn.id(),
            runtime: tokio::runtime::Handle::current(),
        });
        control.register(&kill);
        Ok(Box::new(MySqlSession {
            conn: Some(conn),
            _permit: permit,
            _kill: kill,
        }))
    }
}

/// The `sql_mode` of every session, reading or writing, whatever the server's, a
/// database's or an `init_connect`'s: backslash escapes on, `"` quoting strings and `||`
/// meaning OR (user SQL was split into strings and comments under exactly these rules),
/// and strict (a written value too long or of the wrong type is an error, never cut).
const SQL_MODE: &str = "'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";

/// A bound value as MySQL takes it; text is converted by the server to the column's type.
fn param_value(p: &Param) -> mysql_async::Value {
    match p {
        Param::Null => mysql_async::Value::NULL,
        Param::Text(s) => mysql_async::Value::Bytes(s.as_bytes().to_vec()),
        Param::Int(i) => mysql_async::Value::Int(*i),
        Param::Float(v) => mysql_async::Value::Double(*v),
        Param::Bool(b) => mysql_async::Value::Int(i64::from(*b)),
    }
}

struct MySqlKill {
    opts: Opts,
    connection_id: u32,
    runtime: tokio::runtime::Handle,
}

impl Interrupt for MySqlKill {
    fn interrupt(&self) {
        let opts = self.opts.clone();
        let id = self.connection_id;
        self.runtime.spawn(async move {
            // a connection of its own: the pool's may all be busy with the queries to stop
            let result = async {
                let mut conn = Conn::new(opts).await?;
                let kill = format!("KILL QUERY {id}");
                let started = Instant::now();
                conn.query_drop(&kill).await?;
                log_statement(&kill, started, None);
                conn.disconnect().await
            }
            .await;
            if let Err(e) = result {
                debug!("could not stop a MySQL query: {e}");
            }
        });
    }
}

struct MySqlSession {
    conn: Option<Conn>,
    _permit: OwnedSemaphorePermit,
    // kept alive for as long as the session, so a cancel reaches it
    _kill: Arc<dyn Interrupt>,
}

impl MySqlSession {
    async fn all_rows(&mut self, sql: &str) -> Result<Vec<Vec<Value>>, ExecError> {
        let mut kept = Kept::new(Limits::rows(usize::MAX));
        self.fetch(sql, &mut kept).await?;
        Ok(kept.rows.rows)
    }

    /// A query's rows, read from the wire one by one into `sink`.
    async fn fetch(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<(), ExecError> {
        self.raw_rows(sql, sink).await.map_err(session_error)
    }

    /// Rows into `sink`, or the driver's error (None: the connection was lost before).
    async fn raw_rows(
        &mut self,
        sql: &str,
        sink: &mut dyn RowSink,
    ) -> Result<(), Option<mysql_async::Error>> {
        let conn = self.conn.as_mut().ok_or(None)?;
        // a prepared statement: the server takes exactly one statement this way, where the
        // text protocol (with the driver's multi-statement flag) would run several
        let read = async {
            let mut result = conn.exec_iter(sql, ()).await?;
            let mut first = true;
            while sink.wants_more() {
                let Some(row) = result.next().await? else {
                    break;
                };
                if std::mem::take(&mut first) {
                    sink.columns(
                        row.columns_ref()
                            .iter()
                            .map(|c| c.name_str().to_string())
                            .collect(),
                    );
                }
                let columns = row.columns();
                let mut values = row
                    .unwrap()
                    .into_iter()
                    .zip(columns.iter())
                    .map(|(v, c)| convert(v, c))
                    .collect();
                sink.row(&mut values);
            }
            // the rest is read off the wire and thrown away, never held
            result.drop_result().await?;
            Ok::<(), mysql_async::Error>(())
        };
        match read.await {
            Ok(()) => Ok(()),
            Err(e) => {
                if e.is_fatal() {
                    self.conn = None;
                }
                Err(Some(e))
            }
        }
    }
}

#[async_trait]
impl Session for MySqlSession {
    async fn columns(&mut self, table: &TableRef) -> TableColumns {
        let sql = MySqlDialect.columns_query(std::slice::from_ref(table));
        let rows = self
            .all_rows(&sql.expect("MySQL reads its catalog with SQL"))
            .await?;
        let Some(columns) = super::columns_of_one(&rows) else {
            // information_schema hides tables the user may not read: ask the table itself,
            // so "SELECT command denied" is reported as that and not as "not found"
            let probe = format!("SELECT * FROM {} LIMIT 0", MySqlDialect.table(table));
            return match self.raw_rows(&probe, &mut Kept::new(Limits::rows(1))).await {
                // 1146: no such table, 1049: no such database
                Err(Some(mysql_async::Error::Server(e))) if matches!(e.code, 1146 | 1049) => {
                    Ok(None)
                }
                Err(e) => Err(session_error(e)),
                Ok(_) => Ok(None),
            };
        };
        Ok(Some(columns))
    }

    async fn columns_of(&mut self, tables: &[TableRef]) -> Vec<TableColumns> {
        super::columns_in_one_statement(self, &MySqlDialect, tables, super::columns_by_table).await
    }

    async fn each_row(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<(), ExecError> {
        self.fetch(sql, sink).await
    }

    async fn finish(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            // dropping the connection hands it back to the pool
            let started = Instant::now();
            let result = conn.query_drop("COMMIT").await;
            log_statement("COMMIT", started, result.as_ref().err().map(|e| e as _));
        }
    }
}

/// A value of the binary protocol (numbers and dates typed by the server) or of the text
/// protocol (typed by its column).
fn convert(v: mysql_async::Value, column: &Column) -> Value {
    use mysql_async::Value as M;
    match v {
        M::NULL => Value::Null,
        M::Int(i) => Value::Int(i.into()),
        M::UInt(i) => Value::Int(i.into()),
        // as the text protocol would give it: the f32's shortest decimal, not its binary
        // expansion (1.1, not 1.100000023841858)
        M::Float(f) => Value::Float(f.to_string().parse().unwrap_or(f.into())),
        M::Double(f) => Value::Float(f),
        M::Date(y, mo, d, ..)
            if matches!(
                column.column_type(),
                ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE
            ) =>
        {
            NaiveDate::from_ymd_opt(y.into(), mo.into(), d.into())
                .and_then(|date| {
                    i32::try_from(date.signed_duration_since(NaiveDate::default()).num_days()).ok()
                })
                .map(Value::Date)
                .unwrap_or_else(|| Value::Other(format!("{y:04}-{mo:02}-{d:02}")))
        }
        M::Date(y, mo, d, h, mi, s, us) => NaiveDate::from_ymd_opt(y.into(), mo.into(), d.into())
            .and_then(|date| date.and_hms_micro_opt(h.into(), mi.into(), s.into(), us))
            .map(|t| Value::Timestamp(t.and_utc().timestamp_micros()))
            .unwrap_or_else(|| Value::Other(format!("{y:04}-{mo:02}-{d:02}"))),
        M::Time(..) => Value::Other(format!("{v:?}")),
        M::Bytes(bytes) => {
            let Ok(text) = String::from_utf8(bytes) else {
                return Value::Other("<binary value>".into());
            };
            typed_text(text, column.column_type())
        }
    }
}

fn typed_text(text: String, ty: ColumnType) -> Value {
    use ColumnType::*;
    match ty {
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG
        | MYSQL_TYPE_INT24 | MYSQL_TYPE_YEAR => match text.parse::<i128>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Text(text),
        },
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => Value::Decimal(text),
        MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => match text.parse::<f64>() {
            Ok(f) => Value::Float(f),
            Err(_) => Value::Text(text),
        },
        MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_TIMESTAMP2 => NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f")
            .map(|t| Value::Timestamp(t.and_utc().timestamp_micros()))
            .unwrap_or(Value::Other(text)),
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .ok()
            .and_then(|d| {
                i32::try_from(d.signed_duration_since(NaiveDate::default()).num_days()).ok()
            })
            .map(Value::Date)
            .unwrap_or(Value::Other(text)),
        _ => Value::Text(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_are_typed_by_their_column() {
        assert_eq!(
            typed_text("42".into(), ColumnType::MYSQL_TYPE_LONGLONG),
            Value::Int(42)
        );
        assert_eq!(
            typed_text("15.50".into(), ColumnType::MYSQL_TYPE_NEWDECIMAL),
            Value::Decimal("15.50".into())
        );
        assert_eq!(
            typed_text(
                "2025-01-02 00:00:01.5".into(),
                ColumnType::MYSQL_TYPE_DATETIME
            ),
            Value::Timestamp(1_735_776_001_500_000)
        );
        assert_eq!(
            typed_text("1970-01-02".into(), ColumnType::MYSQL_TYPE_DATE),
            Value::Date(1)
        );
        assert_eq!(
            typed_text(
                "0000-00-00 00:00:00".into(),
                ColumnType::MYSQL_TYPE_DATETIME
            ),
            Value::Other("0000-00-00 00:00:00".into())
        );
    }
}

//! PostgreSQL through tokio-postgres: a small pool of connections per data source, each
//! dataset verified inside one read-only REPEATABLE READ transaction (every check sees
//! the same snapshot), with the server-side statement timeout set from `--timeout` and
//! running queries cancelled on the server on timeout or Ctrl-C.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{CancelToken, Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::debug;

use super::control::Interrupt;
use super::{
    error_chain, log_statement, ExecError, Executor, Kept, Limits, RowSink, RunControl, Session,
    TableColumns, Value,
};
use crate::exec::server_config::{ServerConfig, SslMode};
use crate::sql::ast::{Statement, TableRef};
use crate::sql::dialect::Dialect;
use crate::sql::postgres::PostgresDialect;

const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// Settings pinned on every session, reading or writing, whatever the server, database or
/// role defaults: user SQL was split into strings and comments with a backslash being just
/// a character in '...' (standard_conforming_strings), and values are read and written in
/// UTC and ISO forms.
const SESSION_SETTINGS: &str = "SET TIME ZONE 'UTC'; SET standard_conforming_strings = on; \
     SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';";

pub struct PostgresExecutor {
    data_source: String,
    config: Config,
    tls: MakeRustlsConnect,
    /// host:port, for messages
    target: String,
    idle: Arc<Mutex<Vec<Client>>>,
    permits: Arc<Semaphore>,
}

impl PostgresExecutor {
    /// Prepare connecting; nothing is opened until a dataset asks for a session.
    pub fn new(
        data_source: &str,
        server: &ServerConfig,
        max_connections: usize,
    ) -> Result<PostgresExecutor, ExecError> {
        let fail = |message: String| ExecError::Connect {
            data_source: data_source.to_string(),
            message,
        };
        let mut config: Config = match &server.url {
            Some(url) => url
                .parse()
                .map_err(|e| fail(format!("invalid connection string: {}", error_chain(&e))))?,
            None => Config::new(),
        };
        if let Some(h) = &server.host {
            config.host(h);
        } else if config.get_hosts().is_empty() {
            config.host("localhost");
        }
        if let Some(p) = server.port {
            config.port(p);
        }
        if let Some(d) = &server.database {
            config.dbname(d);
        }
        if let Some(u) = &server.user {
            config.user(u);
        }
        if let Some(p) = &server.password {
            config.password(p);
        }
        let mode = server.sslmode.unwrap_or(match config.get_ssl_mode() {
            PgSslMode::Disable => SslMode::Disable,
            PgSslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        });
        config.ssl_mode(match mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => PgSslMode::Require,
        });
        config.connect_timeout(server.connect_timeout);
        config.application_name("assay");
        if config.get_user().is_none() {
            return Err(fail(
                "no user given: set `user:` in the connection (or in the connection string)".into(),
            ));
        }
        let tls = MakeRustlsConnect::new(
            super::tls::client_config(mode == SslMode::VerifyFull)
                .map_err(|e| fail(format!("TLS setup failed: {e}")))?,
        );
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        Ok(PostgresExecutor {
            data_source: data_source.to_string(),
            target: format!("{host}:{port}"),
            config,
            tls,
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
        })
    }

    async fn connect(&self) -> Result<Client, ExecError> {
        // connect_timeout bounds the whole handshake, not only the TCP connect that
        // tokio-postgres's own setting covers: a server may accept and then say nothing
        let limit = self
            .config
            .get_connect_timeout()
            .copied()
            .unwrap_or(Duration::from_secs(10));
        let (client, connection) =
            match tokio::time::timeout(limit, self.config.connect(self.tls.clone())).await {
                Ok(result) => result.map_err(|e| self.connect_error(&e))?,
                Err(_) => {
                    return Err(ExecError::Connect {
                        data_source: self.data_source.clone(),
                        message: format!(
                            "no answer within {} at {} ({} did not answer within connect_timeout; check host, port and firewalls)",
                            humantime::format_duration(limit),
                            self.target,
                            self.target
                        ),
                    })
                }
            };
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                debug!("postgres connection closed: {e}");
            }
        });
        Ok(client)
    }

    /// Run writing statements in one transaction on a connection of their own (the
    /// stores and sinks; verification sessions stay read-only), every value bound as a
    /// parameter, under the same pinned settings as reading sessions.
    pub async fn execute_writes(&self, statements: &[Statement]) -> Result<(), ExecError> {
        let client = self.connect().await?;
        let started = Instant::now();
        let setup = format!("{SESSION_SETTINGS} SET statement_timeout = 0; BEGIN");
        let result = client.batch_execute(&setup).await;
        log_statement(&setup, started, result.as_ref().err().map(|e| e as _));
        result.map_err(|e| query_error(&e))?;
        for statement in statements {
            let params: Vec<TextParam> = statement
                .params
                .iter()
                .map(|p| TextParam(p.as_text()))
                .collect();
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            let started = Instant::now();
            let result = client.execute(statement.sql.as_str(), &refs).await;
            log_statement(
                super::shown_write(&statement.sql),
                started,
                result.as_ref().err().map(|e| e as _),
            );
            if let Err(e) = result {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(query_error(&e));
            }
        }
        let started = Instant::now();
        let result = client.batch_execute("COMMIT").await;
        log_statement("COMMIT", started, result.as_ref().err().map(|e| e as _));
        result.map_err(|e| query_error(&e))
    }

    fn connect_error(&self, e: &tokio_postgres::Error) -> ExecError {
        let text = pg_error_text(e);
        let lower = text.to_lowercase();
        let db = self.config.get_dbname().unwrap_or("");
        let user = self.config.get_user().unwrap_or("");
        let hint = match e.code() {
            Some(c)
                if *c == SqlState::INVALID_PASSWORD
                    || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
            {
                format!("check the user '{user}' and the password (password, password_file or connection string) of data source '{}'", self.data_source)
            }
            Some(c) if *c == SqlState::INVALID_CATALOG_NAME => {
                format!(
                    "check `database:` ('{db}') of data source '{}'",
                    self.data_source
                )
            }
            _ if lower.contains("certificate") || lower.contains("tls") => {
                "the server's certificate could not be verified against the public roots (sslmode verify-full); sslmode require encrypts without verifying".to_string()
            }
            _ if lower.contains("refused") => format!(
                "is PostgreSQL running and listening on {}? check host and port",
                self.target
            ),
            _ if lower.contains("timeout") || lower.contains("timed out") => format!(
                "{} did not answer within connect_timeout; check host, port and firewalls",
                self.target
            ),
            _ => format!(
                "check the connection settings of data source '{}'",
                self.data_source
            ),
        };
        ExecError::Connect {
            data_source: self.data_source.clone(),
            message: format!("{} at {} ({hint})", text, self.target),
        }
    }
}

/// A Postgres error as one line: the server's own message for database errors.
fn pg_error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            if let Some(hint) = db.hint() {
                text.push_str(&format!(" (hint: {hint})"));
            }
            text
        }
        None => error_chain(e),
    }
}

fn query_error(e: &tokio_postgres::Error) -> ExecError {
    if e.code() == Some(&SqlState::QUERY_CANCELED) {
        ExecError::Cancelled(pg_error_text(e))
    } else {
        ExecError::Query(pg_error_text(e))
    }
}

#[async_trait]
impl Executor for PostgresExecutor {
    fn dialect(&self) -> &dyn Dialect {
        &PostgresDialect
    }

    async fn session(&self, control: &RunControl) -> Result<Box<dyn Session>, ExecError> {
        let permit = control.pool_slot(&self.permits).await?;
        let reused = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let client = match reused {
            Some(c) if !c.is_closed() => c,
            _ => control.unless_cancelled(self.connect()).await??,
        };
        // the server stops a statement by itself when the run's time is up, even if
        // this process could not send the cancel
        let timeout_ms = control
            .remaining()
            .map(|d| d.as_millis().max(1))
            .unwrap_or(0);
        let setup = format!("{SESSION_SETTINGS} SET statement_timeout = {timeout_ms}; {BEGIN}");
        let started = Instant::now();
        let result = client.batch_execute(&setup).await;
        log_statement(&setup, started, result.as_ref().err().map(|e| e as _));
        result.map_err(|e| query_error(&e))?;
        let cancel: Arc<dyn Interrupt> = Arc::new(PgCancel {
            token: client.cancel_token(),
            tls: self.tls.clone(),
            runtime: tokio::runtime::Handle::current(),
        });
        control.register(&cancel);
        Ok(Box::new(PgSession {
            client: Some(client),
            idle: self.idle.clone(),
            _permit: permit,
            _cancel: cancel,
        }))
    }
}

struct PgCancel {
    token: CancelToken,
    tls: MakeRustlsConnect,
    runtime: tokio::runtime::Handle,
}

impl Interrupt for PgCancel {
    fn interrupt(&self) {
        let token = self.token.clone();
        let tls = self.tls.clone();
        self.runtime.spawn(async move {
            if let Err(e) = token.cancel_query(tls).await {
                debug!("could not cancel a postgres query: {e}");
            }
        });
    }
}

struct PgSession {
    client: Option<Client>,
    idle: Arc<Mutex<Vec<Client>>>,
    _permit: OwnedSemaphorePermit,
    // kept alive for as long as the session, so a cancel reaches it
    _cancel: Arc<dyn Interrupt>,
}

impl PgSession {
    fn client(&self) -> Result<&Client, ExecError> {
        self.client
            .as_ref()
            .ok_or_else(|| ExecError::Query("the session is closed".into()))
    }

    async fn all_rows(&mut self, sql: &str) -> Result<Vec<Vec<Value>>, ExecError> {
        let mut kept = Kept::new(Limits::rows(usize::MAX));
        self.fetch(sql, &mut kept).await?;
        Ok(kept.rows.rows)
    }

    /// A query's rows, read from the wire one by one into `sink`: a query that returns
    /// more than it keeps is never held whole in memory.
    async fn fetch(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<(), ExecError> {
        let client = self.client()?;
        let read = async {
            let no_params: Vec<(&(dyn ToSql + Sync), Type)> = Vec::new();
            let stream = client.query_typed_raw(sql, no_params).await?;
            futures_util::pin_mut!(stream);
            let mut first = true;
            while sink.wants_more() {
                let Some(row) = stream.next().await else {
                    break;
                };
                let row = row?;
                if std::mem::take(&mut first) {
                    sink.columns(row.columns().iter().map(|c| c.name().to_string()).collect());
                }
                let mut values = (0..row.len())
                    .map(|i| row.try_get::<_, PgValue>(i).map(|v| v.0))
                    .collect::<Result<Vec<_>, _>>()?;
                sink.row(&mut values);
            }
            Ok::<(), tokio_postgres::Error>(())
        };
        match read.await {
            Ok(()) => Ok(()),
            Err(e) => {
                // a failed statement aborts the transaction: start a new one so the
                // dataset's other checks still run
                let restart = format!("ROLLBACK; {BEGIN}");
                let started = Instant::now();
                let result = client.batch_execute(&restart).await;
                log_statement(&restart, started, result.as_ref().err().map(|e| e as _));
                if result.is_err() {
                    self.client = None;
                }
                Err(query_error(&e))
            }
        }
    }
}

#[async_trait]
impl Session for PgSession {
    async fn columns(&mut self, table: &TableRef) -> TableColumns {
        let sql = PostgresDialect.columns_query(std::slice::from_ref(table));
        let rows = self
            .all_rows(&sql.expect("Postgres reads its catalog with SQL"))
            .await?;
        Ok(super::columns_of_one(&rows))
    }

    async fn columns_of(&mut self, tables: &[TableRef]) -> Vec<TableColumns> {
        super::columns_in_one_statement(self, &PostgresDialect, tables, super::columns_by_table)
            .await
    }

    async fn each_row(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<(), ExecError> {
        self.fetch(sql, sink).await
    }

    async fn finish(&mut self) {
        if let Some(client) = self.client.take() {
            let started = Instant::now();
            let result = client.batch_execute("COMMIT").await;
            log_statement("COMMIT", started, result.as_ref().err().map(|e| e as _));
            if result.is_ok() {
                self.idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(client);
            }
        }
    }
}

/// Any Postgres value, decoded from the binary wire format into an engine-neutral value.
struct PgValue(Value);

type DecodeError = Box<dyn std::error::Error + Sync + Send>;

/// 2000-01-01, Postgres's epoch, in Unix microseconds and days
/// A bound value sent in PostgreSQL's text format, which the server parses for whatever
/// type the column has (timestamps, exact decimals, JSON): no Rust type has to match the
/// column's, and the value never becomes SQL text.
#[derive(Debug)]
struct TextParam(Option<String>);

impl ToSql for TextParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(tokio_postgres::types::IsNull::No)
            }
            None => Ok(tokio_postgres::types::IsNull::Yes),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> tokio_postgres::types::Format {
        tokio_postgres::types::Format::Text
    }

    tokio_postgres::types::to_sql_checked!();
}

const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_DAYS: i32 = 10_957;

impl<'a> FromSql<'a> for PgValue {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, DecodeError> {
        let value = match *ty {
            Type::BOOL => Value::Bool(raw.first().copied().unwrap_or(0) != 0),
            Type::INT2 => Value::Int(i16::from_be_bytes(raw.try_into()?).into()),
            Type::INT4 => Value::Int(i32::from_be_bytes(raw.try_into()?).into()),
            Type::INT8 => Value::Int(i64::from_be_bytes(raw.try_into()?).into()),
            Type::OID => Value::Int(u32::from_be_bytes(raw.try_into()?).into()),
            Type::FLOAT4 => Value::Float(f32::from_be_bytes(raw.try_into()?).into()),
            Type::FLOAT8 => Value::Float(f64::from_be_bytes(raw.try_into()?)),
            Type::NUMERIC => numeric(raw)?,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON => {
                Value::Text(std::str::from_utf8(raw)?.to_string())
            }
            // binary jsonb is a version byte, then the text
            Type::JSONB => {
                Value::Text(std::str::from_utf8(raw.get(1..).unwrap_or(&[]))?.to_string())
            }
            Type::TIMESTAMP | Type::TIMESTAMPTZ => {
                let t = i64::from_be_bytes(raw.try_into()?);
                match t {
                    i64::MAX => Value::Other("infinity".into()),
                    i64::MIN => Value::Other("-infinity".into()),
                    t => Value::Timestamp(t.saturating_add(PG_EPOCH_MICROS)),
                }
            }
            Type::DATE => {
                let d = i32::from_be_bytes(raw.try_into()?);
                match d {
                    i32::MAX => Value::Other("infinity".into()),
                    i32::MIN => Value::Other("-infinity".into()),
                    d => Value::Date(d.saturating_add(PG_EPOCH_DAYS)),
                }
            }
            ref other => Value::Other(format!("<{} value>", other.name())),
        };
        Ok(PgValue(value))
    }

    fn from_sql_null(_: &Type) -> Result<Self, DecodeError> {
        Ok(PgValue(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Binary NUMERIC: digit count, weight, sign, display scale, then base-10000 digits.
/// Printed as exact decimal text.
fn numeric(raw: &[u8]) -> Result<Value, DecodeError> {
    let word = |i: usize| -> Result<u16, DecodeError> {
        let b = raw.get(i * 2..i * 2 + 2).ok_or("short numeric value")?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    };
    let ndigits = word(0)? as usize;
    let weight = word(1)? as i16 as i64;
    let sign = word(2)?;
    let dscale = word(3)? as usize;
    match sign {
        0xC000 => return Ok(Value::Other("NaN".into())),
        0xD000 => return Ok(Value::Other("Infinity".into())),
        0xF000 => return Ok(Value::Other("-Infinity".into())),
        _ => {}
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<Result<_, _>>()?;
    let digit = |position: i64| -> u16 {
        // the digit worth 10000^position
        let index = weight - position;
        if index >= 0 && (index as usize) < digits.len() {
            digits[index as usize]
        } else {
            0
        }
    };
    let mut int_part = String::new();
    for position in (0..=weight.max(0)).rev() {
        let d = digit(position);
        if int_part.is_empty() {
            if d != 0 || position == 0 {
                int_part.push_str(&d.to_string());
            }
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    let mut frac = String::new();
    let groups = dscale.div_ceil(4) as i64;
    for position in 1..=groups {
        frac.push_str(&format!("{:04}", digit(-position)));
    }
    frac.truncate(dscale);
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    text.push_str(&int_part);
    if !frac.is_empty() {
        text.push('.');
        text.push_str(&frac);
    }
    Ok(Value::Decimal(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale] {
            out.extend(w.to_be_bytes());
        }
        for d in digits {
            out.extend(d.to_be_bytes());
        }
        out
    }

    #[test]
    fn binary_numerics_print_exactly() {
        // 12345.678 = 1|2345 . 6780
        let v = numeric(&encode(3, 1, 0, 3, &[1, 2345, 6780])).unwrap();
        assert_eq!(v, Value::Decimal("12345.678".into()));
        // -0.05 with scale 2: weight -1, digit 500
        let v = numeric(&encode(1, -1, 0x4000, 2, &[500])).unwrap();
        assert_eq!(v, Value::Decimal("-0.05".into()));
        // 20000 with scale 0: weight 1, digits [2] (trailing zero groups dropped)
        let v = numeric(&encode(1, 1, 0, 0, &[2])).unwrap();
        assert_eq!(v, Value::Decimal("20000".into()));
        // 0 with scale 2
        let v = numeric(&encode(0, 0, 0, 2, &[])).unwrap();
        assert_eq!(v, Value::Decimal("0.00".into()));
        // 1.0000000001: 1 . 0000 0000 0100
        let v = numeric(&encode(4, 0, 0, 10, &[1, 0, 0, 100])).unwrap();
        assert_eq!(v, Value::Decimal("1.0000000001".into()));
    }
}

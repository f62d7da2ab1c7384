//! Apache Spark through Spark Connect (the official `apache-spark-connect` client). Its
//! calls block on a runtime of their own, so each runs on tokio's blocking pool. Every
//! assay session is a Spark session of its own (its time zone UTC), so cancelling one
//! (`--timeout`, Ctrl-C) interrupts exactly its operations, on the cluster too.
//!
//! Spark has no read-only transactions: the validation of user SQL (one SELECT or one
//! expression, no commands) is the guard.

// the client's calls return its own (large) error type, handed on as it comes
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{self as dt, DataType as ArrowType};
use async_trait::async_trait;
use spark_connect::types::DataType;
use spark_connect::{SparkError, SparkSession, SparkSessionBuilder};

use super::control::Interrupt;
use super::{ColumnInfo, ExecError, Executor, RowSink, RunControl, Session, TableColumns, Value};
use crate::sql::ast::TableRef;
use crate::sql::dialect::Dialect;
use crate::sql::spark::SparkDialect;

pub struct SparkExecutor {
    data_source: String,
    base: SparkSession,
}

/// A Spark error as assay reports it: its error class and SQL state with the message.
fn error_text(e: &SparkError) -> String {
    let class = (!e.error_class.is_empty()).then(|| format!("[{}] ", e.error_class));
    let state = e.sql_state().map(|s| format!(" (SQLSTATE {s})"));
    format!(
        "{}{}{}",
        class.unwrap_or_default(),
        e.message(),
        state.unwrap_or_default()
    )
}

/// Run a blocking call of the client on a thread of its own. Not tokio's blocking pool:
/// the client retries an unavailable server for minutes, and a runtime waits for its
/// blocking tasks when it shuts down, so a run given up on (`--timeout`, Ctrl-C,
/// `connect_timeout`) would not end.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SparkError> + Send + 'static,
) -> Result<T, ExecError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("spark-call".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| ExecError::Query(format!("could not start a thread for Spark: {e}")))?;
    rx.await
        .map_err(|_| ExecError::Query("the Spark call ended without an answer".into()))?
        .map_err(|e| ExecError::Query(error_text(&e)))
}

impl SparkExecutor {
    /// Connect to `url` (a Spark Connect connection string, secrets registered), within
    /// `connect_timeout`: the client itself retries an unavailable server for minutes.
    pub async fn open(
        data_source: &str,
        url: &str,
        connect_timeout: std::time::Duration,
    ) -> Result<SparkExecutor, ExecError> {
        let connect = |message: String| ExecError::Connect {
            data_source: data_source.to_string(),
            message,
        };
        let url = url.to_string();
        let attempt = blocking(move || {
            let s = SparkSessionBuilder::new().remote(&url).get_or_create()?;
            // one round trip now: a wrong address or token is a connection error
            s.version()?;
            Ok(s)
        });
        let base = match tokio::time::timeout(connect_timeout, attempt).await {
            Ok(result) => result.map_err(|e| connect(e.to_string()))?,
            // the client's own retries go on in their thread until the process ends
            Err(_) => {
                return Err(connect(format!(
                    "no answer within {} (connect_timeout): check the url, use_ssl and the token, and whether the cluster is running",
                    humantime::format_duration(connect_timeout)
                )))
            }
        };
        Ok(SparkExecutor {
            data_source: data_source.to_string(),
            base,
        })
    }
}

struct SparkInterrupt(SparkSession);

impl Interrupt for SparkInterrupt {
    fn interrupt(&self) {
        // the client blocks on its own runtime: from a thread of our own
        let s = self.0.clone();
        std::thread::spawn(move || {
            if let Err(e) = s.interrupt_all() {
                tracing::debug!("interrupting the Spark session: {}", error_text(&e));
            }
        });
    }
}

#[async_trait]
impl Executor for SparkExecutor {
    fn dialect(&self) -> &dyn Dialect {
        &SparkDialect
    }

    async fn session(&self, control: &RunControl) -> Result<Box<dyn Session>, ExecError> {
        control.check()?;
        let base = self.base.clone();
        let label = control.label();
        let spark = control
            .unless_cancelled(blocking(move || {
                let s = base.new_session();
                s.conf().set("spark.sql.session.timeZone", "UTC")?;
                // the run's scan id on each of its Spark jobs: findable in the Spark UI
                if let Some(label) = &label {
                    s.add_tag(label)?;
                }
                Ok(s)
            }))
            .await??;
        let handle: Arc<dyn Interrupt> = Arc::new(SparkInterrupt(spark.clone()));
        control.register(&handle);
        Ok(Box::new(SparkDataSession {
            data_source: self.data_source.clone(),
            spark,
            _interrupt: handle,
        }))
    }
}

struct SparkDataSession {
    data_source: String,
    spark: SparkSession,
    _interrupt: Arc<dyn Interrupt>,
}

/// The columns of a table's row type; None when it is not a struct.
fn columns_of_struct(schema: &DataType) -> Option<Vec<ColumnInfo>> {
    let DataType::Struct { fields } = schema else {
        return None;
    };
    Some(
        fields
            .iter()
            .map(|f| {
                let (precision, scale) = match f.data_type {
                    DataType::Decimal { precision, scale } => {
                        (Some(precision as u64), Some(scale as u64))
                    }
                    _ => (None, None),
                };
                let length = match f.data_type {
                    DataType::Char { length } | DataType::Varchar { length } => Some(length as u64),
                    _ => None,
                };
                ColumnInfo {
                    name: f.name.clone(),
                    data_type: type_text(&f.data_type),
                    character_maximum_length: length,
                    numeric_precision: precision,
                    numeric_scale: scale,
                    datetime_precision: None,
                    nullable: Some(f.nullable),
                }
            })
            .collect(),
    )
}

impl SparkDataSession {
    /// The columns of several tables from one analysis of a query that names each
    /// table's row as a struct (`struct(t0.*)`); None when it fails or a table's row is
    /// not a struct.
    async fn schemas(&self, tables: &[TableRef]) -> Option<Vec<TableColumns>> {
        if tables.len() < 2 {
            return None;
        }
        let items: Vec<String> = (0..tables.len())
            .map(|i| format!("struct(t{i}.*) AS t{i}"))
            .collect();
        let from: Vec<String> = tables
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{} AS t{i}", SparkDialect.table(t)))
            .collect();
        let sql = format!("SELECT {} FROM {}", items.join(", "), from.join(", "));
        let spark = self.spark.clone();
        let DataType::Struct { fields } = blocking(move || spark.sql(&sql)?.schema()).await.ok()?
        else {
            return None;
        };
        let each: Vec<TableColumns> = fields
            .iter()
            .map(|f| columns_of_struct(&f.data_type).map(|c| Ok(Some(c))))
            .collect::<Option<_>>()?;
        (each.len() == tables.len()).then_some(each)
    }
}

/// A Spark type as the catalog spells it (`decimal(10,2)`, `string`, `timestamp_ntz`).
fn type_text(t: &DataType) -> String {
    t.simple_string()
}

#[async_trait]
impl Session for SparkDataSession {
    async fn columns(&mut self, table: &TableRef) -> TableColumns {
        let name = SparkDialect.table(table);
        let spark = self.spark.clone();
        // a missing table is an answer (None), not an error
        let schema = blocking(move || match spark.table(&name).and_then(|t| t.schema()) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.error_class == "TABLE_OR_VIEW_NOT_FOUND" => Ok(None),
            Err(e) => Err(e),
        })
        .await?;
        let Some(schema) = schema else {
            return Ok(None);
        };
        match columns_of_struct(&schema) {
            Some(columns) => Ok(Some(columns)),
            None => Err(ExecError::Query(format!(
                "data source '{}': the table's schema is not a struct",
                self.data_source
            ))),
        }
    }

    /// Every table's schema from one analysis (a query naming each table's row as a
    /// struct of its own, analysed and never run; a scan of many tables asks in parts of
    /// 100); a table is asked on its own when that fails (one of them is missing, say),
    /// so its answer is its own.
    async fn columns_of(&mut self, tables: &[TableRef]) -> Vec<TableColumns> {
        let mut out = Vec::with_capacity(tables.len());
        for part in tables.chunks(100) {
            match self.schemas(part).await {
                Some(each) => out.extend(each),
                None => {
                    for table in part {
                        out.push(self.columns(table).await);
                    }
                }
            }
        }
        out
    }

    async fn each_row(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<(), ExecError> {
        let spark = self.spark.clone();
        let sql = sql.to_string();
        let batches = blocking(move || spark.sql(&sql)?.collect_record_batches()).await?;
        let mut first = true;
        for batch in batches {
            if std::mem::take(&mut first) {
                sink.columns(
                    batch
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect(),
                );
            }
            let mut columns: Vec<std::vec::IntoIter<Value>> = batch
                .columns()
                .iter()
                .map(|c| column(c.as_ref()).into_iter())
                .collect();
            for _ in 0..batch.num_rows() {
                if !sink.wants_more() {
                    return Ok(());
                }
                let mut row: Vec<Value> = columns
                    .iter_mut()
                    .map(|c| c.next().unwrap_or(Value::Null))
                    .collect();
                sink.row(&mut row);
            }
        }
        Ok(())
    }
}

/// An exact decimal's text from its unscaled integer and scale.
fn decimal_text(unscaled: i128, scale: i8) -> String {
    if scale <= 0 {
        return (unscaled * 10i128.pow((-scale) as u32)).to_string();
    }
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    let sign = if unscaled < 0 { "-" } else { "" };
    format!("{sign}{whole}.{fraction}")
}

super::arrow_values::plain_arrow_values!(arrow);

/// A column of a result as values.
fn column(a: &dyn Array) -> Vec<Value> {
    if let Some(values) = plain_column(a) {
        return values;
    }
    let n = a.len();
    let each = |f: &dyn Fn(usize) -> Value| -> Vec<Value> {
        (0..n)
            .map(|i| if a.is_null(i) { Value::Null } else { f(i) })
            .collect()
    };
    match a.data_type() {
        ArrowType::Decimal128(_, scale) => {
            let (p, scale) = (a.as_primitive::<dt::Decimal128Type>(), *scale);
            each(&|i| Value::Decimal(decimal_text(p.value(i), scale)))
        }
        _ => {
            // anything else (binary, intervals, nested) as its display text
            let options = arrow::util::display::FormatOptions::default();
            match arrow::util::display::ArrayFormatter::try_new(a, &options) {
                Ok(f) => each(&|i| Value::Other(f.value(i).to_string())),
                Err(_) => vec![Value::Other(format!("{}", a.data_type())); n],
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_scale() {
        assert_eq!(decimal_text(1250, 2), "12.50");
        assert_eq!(decimal_text(-5, 2), "-0.05");
        assert_eq!(decimal_text(7, 0), "7");
        assert_eq!(decimal_text(12, -2), "1200");
    }
}

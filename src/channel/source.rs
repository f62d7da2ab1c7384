//! What a source sends: one read of its store as records of its format. Files (CSV,
//! JSONL, Parquet; a glob reads them all) are read through an in-memory DuckDB, each
//! field cast to its type; a query runs in its data source's read-only session.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use super::format::{FieldType, Format};
use super::protocol::Frame;
use super::spec::{ChannelSpec, FileFormat, Store};
use crate::exec::{Limits, RunControl};
use crate::sql::dialect::Dialect;
use crate::sql::duckdb::DuckDbDialect;

/// Records in one result set, at most: a source holds a read (as frames) to send it.
pub const MAX_RECORDS: usize = 5_000_000;

/// Frames of records being made: each batch serialized as soon as it is full, so a
/// read holds its records as the text that is sent (shared by every consumer), not as
/// values.
struct Frames {
    id: Option<String>,
    batch_size: usize,
    batch: Vec<Json>,
    out: Vec<(Arc<str>, usize)>,
}

impl Frames {
    fn push(&mut self, record: Json) {
        self.batch.push(record);
        if self.batch.len() >= self.batch_size {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let records = std::mem::take(&mut self.batch);
        let n = records.len();
        let frame = Frame::Records {
            result_set: self.id.clone(),
            records,
        };
        self.out.push((frame.text().into(), n));
    }

    fn done(mut self) -> Vec<(Arc<str>, usize)> {
        self.flush();
        self.out
    }
}

/// One read of the store as `records` frames of the result set `id`.
pub async fn read(
    spec: &ChannelSpec,
    id: Option<String>,
) -> Result<Vec<(Arc<str>, usize)>, String> {
    let mut frames = Frames {
        id,
        batch_size: spec.batch_size,
        batch: Vec::with_capacity(spec.batch_size),
        out: Vec::new(),
    };
    match &spec.store {
        Store::File { path, format } => {
            let (path, file_format, fmt) = (path.clone(), *format, spec.format.clone());
            let root = spec.root.clone();
            tokio::task::spawn_blocking(move || {
                read_files(&root, &path, file_format, &fmt, &mut frames)?;
                Ok(frames.done())
            })
            .await
            .map_err(|e| format!("the reading task failed: {e}"))?
        }
        Store::Query { data_source, sql } => {
            let open = |e: crate::exec::ExecError| crate::secrets::mask(&e.to_string());
            let exec = data_source
                .engine
                .open(data_source, 1, Vec::new())
                .await
                .map_err(open)?;
            let control = RunControl::new();
            let mut session = exec.session(&control).await.map_err(open)?;
            let rows = session.rows(&sql.sql, Limits::rows(MAX_RECORDS + 1)).await;
            session.finish().await;
            let rows = rows.map_err(open)?;
            if rows.rows.len() > MAX_RECORDS {
                return Err(format!(
                    "the query returned more than {MAX_RECORDS} records: one result set holds at most that many"
                ));
            }
            for (i, r) in rows.rows.iter().enumerate() {
                let record = spec
                    .format
                    .record_of(&rows.columns, r)
                    .map_err(|e| format!("row {}: {e}", i + 1))?;
                frames.push(record);
            }
            Ok(frames.done())
        }
        Store::Table { .. } => Err("a table is a sink, not a source".into()),
    }
}

/// The DuckDB type a field is read as: text for decimals, so no digit is lost.
fn read_type(field: &super::format::Field) -> String {
    match field.field_type {
        FieldType::String => "VARCHAR".into(),
        FieldType::Long => "BIGINT".into(),
        FieldType::Double => "DOUBLE".into(),
        FieldType::Boolean => "BOOLEAN".into(),
        FieldType::Timestamp => "TIMESTAMP".into(),
        FieldType::Date => "DATE".into(),
        FieldType::Decimal => "VARCHAR".into(),
    }
}

/// The files a path or glob names, each resolved inside `root` (the project's folder): a
/// file that is a symbolic link leading out is refused, not read.
fn matching_files(conn: &duckdb::Connection, root: &Path, path: &Path) -> Result<String, String> {
    let text = path.to_string_lossy();
    let quoted = |p: &str| format!("'{}'", p.replace('\'', "''"));
    let files: Vec<String> = if text.contains(['*', '?', '[']) {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT file FROM glob({}) ORDER BY file",
                quoted(&text)
            ))
            .map_err(|e| format!("cannot list {text}: {e}"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| format!("cannot list {text}: {e}"))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| format!("cannot list {text}: {e}"))?
    } else {
        vec![text.to_string()]
    };
    if files.is_empty() {
        return Err(format!("no file matches {text}"));
    }
    for f in &files {
        crate::paths::inside(root, Path::new(f)).map_err(|why| format!("{f} {why}"))?;
    }
    let list: Vec<String> = files.iter().map(|f| quoted(f)).collect();
    Ok(format!("[{}]", list.join(", ")))
}

fn read_files(
    root: &Path,
    path: &Path,
    file_format: FileFormat,
    format: &Format,
    frames: &mut Frames,
) -> Result<(), String> {
    let config = duckdb::Config::default()
        .enable_autoload_extension(false)
        .and_then(|c| c.with("autoinstall_known_extensions", "false"))
        .map_err(|e| e.to_string())?;
    let conn = duckdb::Connection::open_in_memory_with_flags(config).map_err(|e| e.to_string())?;
    let d = DuckDbDialect;
    let quoted = matching_files(&conn, root, path)?;
    let reader = match file_format {
        FileFormat::Csv => format!("read_csv({quoted}, header = true, all_varchar = true)"),
        FileFormat::Jsonl => {
            format!("read_json({quoted}, format = 'newline_delimited', records = true)")
        }
        FileFormat::Parquet => format!("read_parquet({quoted})"),
    };
    let columns: Vec<String> = format
        .fields
        .iter()
        .map(|f| {
            let c = d.quote_ident(&f.name);
            let cast = match (f.field_type, f.precision) {
                // through the decimal first, so a value beyond its scale is refused
                (FieldType::Decimal, Some(p)) => format!(
                    "CAST(CAST({c} AS DECIMAL({p},{})) AS VARCHAR)",
                    f.scale.unwrap_or(0)
                ),
                _ => format!("CAST({c} AS {})", read_type(f)),
            };
            format!("{cast} AS {c}")
        })
        .collect();
    let sql = format!(
        "SELECT CAST(to_json(t) AS VARCHAR) FROM (SELECT {} FROM {reader}) t LIMIT {}",
        columns.join(", "),
        MAX_RECORDS + 1
    );
    let mut stmt = conn
        .prepare(&sql)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    for (i, row) in rows.enumerate() {
        let text = row.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if i >= MAX_RECORDS {
            return Err(format!(
                "{} holds more than {MAX_RECORDS} records: one result set holds at most that many",
                path.display()
            ));
        }
        let value: Json = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let record = format
            .check(&value)
            .map_err(|e| format!("{}, record {}: {e}", path.display(), i + 1))?;
        frames.push(Json::Object(record));
    }
    Ok(())
}

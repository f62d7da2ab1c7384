//! What a source sends: one read of its store as records of its format. Files (CSV,
//! JSONL, Parquet; a glob reads them all) are read through an in-memory DuckDB, each
//! field cast to its type; a query runs in its data source's read-only session.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::columnar;
use super::error::ChannelError;
use super::format::{FieldType, Format};
use super::hub::Batch;
use super::protocol::Frame;
use super::spec::{ChannelSpec, FileFormat, Store};
use crate::exec::{Limits, RunControl};
use crate::sql::dialect::Dialect;
use crate::sql::duckdb::DuckDbDialect;

/// Records in one result set, at most: a source holds a read (as frames) to send it.
pub const MAX_RECORDS: usize = 5_000_000;

/// Batches of records being made: each encoded (JSON text and Arrow IPC) as soon as it
/// is full, so a read holds its records as what is sent (shared by every consumer), not
/// as values.
struct Frames<'a> {
    id: Option<String>,
    format: &'a Format,
    batch_size: usize,
    batch: Vec<Map<String, Json>>,
    out: Vec<Arc<Batch>>,
}

impl<'a> Frames<'a> {
    fn new(id: Option<String>, format: &'a Format, batch_size: usize) -> Frames<'a> {
        Frames {
            id,
            format,
            batch_size,
            batch: Vec::with_capacity(batch_size),
            out: Vec::new(),
        }
    }

    fn push(&mut self, mut record: Map<String, Json>) {
        for f in &self.format.fields {
            if let (Some(scale), Some(Json::String(text))) = (f.scale, record.get_mut(&f.name)) {
                to_scale(text, scale as usize);
            }
        }
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
        let arrow = columnar::batch(self.format, &records)
            .and_then(|b| columnar::encode(&b, self.id.as_deref()))
            .map(bytes::Bytes::from);
        let n = records.len();
        let frame = Frame::Records {
            result_set: self.id.clone(),
            records: records.into_iter().map(Json::Object).collect(),
        };
        self.out.push(Arc::new(Batch {
            json: frame.text().into(),
            arrow,
            records: n,
        }));
    }

    fn done(mut self) -> Vec<Arc<Batch>> {
        self.flush();
        self.out
    }
}

/// A decimal's text with exactly `scale` fraction digits, as its store shows it ("7" and
/// "7.0" are "7.00" for a scale of 2); the value is the same, and it fits (checked).
fn to_scale(text: &mut String, scale: usize) {
    let fraction = text.split_once('.').map_or(0, |(_, f)| f.len());
    if fraction < scale {
        if fraction == 0 && !text.contains('.') {
            text.push('.');
        }
        text.extend(std::iter::repeat_n('0', scale - fraction));
    } else if fraction > scale {
        // only zeros past the scale: a value beyond it was refused
        text.truncate(text.len() - (fraction - scale));
        if scale == 0 {
            text.pop();
        }
    }
}

/// One read of the store as `records` frames of the result set `id`.
pub async fn read(spec: &ChannelSpec, id: Option<String>) -> Result<Vec<Arc<Batch>>, ChannelError> {
    match &spec.store {
        Store::File { path, format } => {
            let (path, file_format, fmt) = (path.clone(), *format, spec.format.clone());
            let root = spec.root.clone();
            let batch_size = spec.batch_size;
            tokio::task::spawn_blocking(move || {
                let mut frames = Frames::new(id, &fmt, batch_size);
                read_files(&root, &path, file_format, &fmt, &mut frames)?;
                Ok(frames.done())
            })
            .await
            .map_err(|e| ChannelError::Task("reading", e.to_string()))?
        }
        Store::Query { data_source, sql } => {
            let open = ChannelError::engine;
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
                return Err(ChannelError::SourceTooLarge {
                    what: "the query returned".into(),
                    max: MAX_RECORDS,
                });
            }
            let mut frames = Frames::new(id, &spec.format, spec.batch_size);
            for (i, r) in rows.rows.iter().enumerate() {
                let record = spec.format.record_of(&rows.columns, r).map_err(|error| {
                    ChannelError::Record {
                        index: i + 1,
                        place: "the query's rows".into(),
                        error,
                    }
                })?;
                frames.push(record);
            }
            Ok(frames.done())
        }
        Store::Table { .. } => Err(ChannelError::WrongKind {
            store: "table",
            is: "sink",
            not: "source",
        }),
    }
}

/// The DuckDB type a field is read as. Timestamps and decimals are read as text and
/// converted by the format's check: a cast to TIMESTAMP would drop a CSV value's offset
/// (12:00+02:00 is 10:00 UTC, not 12:00), one through DECIMAL(p,s) would round a digit
/// beyond the scale, where the format refuses it.
fn read_type(field: &super::format::Field) -> &'static str {
    match field.field_type {
        FieldType::String | FieldType::Timestamp | FieldType::Decimal => "VARCHAR",
        FieldType::Long => "BIGINT",
        FieldType::Double => "DOUBLE",
        FieldType::Boolean => "BOOLEAN",
        FieldType::Date => "DATE",
    }
}

/// The files a path or glob names, each resolved inside `root` (the project's folder): a
/// file that is a symbolic link leading out is refused, not read.
fn matching_files(
    conn: &duckdb::Connection,
    root: &Path,
    path: &Path,
) -> Result<String, ChannelError> {
    let text = path.to_string_lossy();
    let unlisted = |e: duckdb::Error| ChannelError::file("list", path, e);
    let quoted = |p: &str| format!("'{}'", p.replace('\'', "''"));
    let files: Vec<String> = if text.contains(['*', '?', '[']) {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT file FROM glob({}) ORDER BY file",
                quoted(&text)
            ))
            .map_err(unlisted)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(unlisted)?;
        rows.collect::<Result<_, _>>().map_err(unlisted)?
    } else {
        vec![text.to_string()]
    };
    if files.is_empty() {
        return Err(ChannelError::NoFile(text.to_string()));
    }
    for f in &files {
        crate::paths::inside(root, Path::new(f)).map_err(|why| ChannelError::Outside {
            path: f.clone(),
            why,
        })?;
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
) -> Result<(), ChannelError> {
    let config = crate::exec::duckdb::base_config().map_err(ChannelError::engine)?;
    let conn =
        duckdb::Connection::open_in_memory_with_flags(config).map_err(ChannelError::engine)?;
    let unread = |e: &dyn std::fmt::Display| ChannelError::file("read", path, e);
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
            match (file_format, f.field_type) {
                // a JSON number stays a number, so the format knows it was read as a
                // double (past 15 significant digits its digits are not known: refused)
                (FileFormat::Jsonl, FieldType::Decimal) => format!("{c} AS {c}"),
                _ => format!("CAST({c} AS {}) AS {c}", read_type(f)),
            }
        })
        .collect();
    let sql = format!(
        "SELECT CAST(to_json(t) AS VARCHAR) FROM (SELECT {} FROM {reader}) t LIMIT {}",
        columns.join(", "),
        MAX_RECORDS + 1
    );
    let mut stmt = conn.prepare(&sql).map_err(|e| unread(&e))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| unread(&e))?;
    for (i, row) in rows.enumerate() {
        let text = row.map_err(|e| unread(&e))?;
        if i >= MAX_RECORDS {
            return Err(ChannelError::SourceTooLarge {
                what: format!("{} holds", path.display()),
                max: MAX_RECORDS,
            });
        }
        let value: Json = serde_json::from_str(&text).map_err(|e| unread(&e))?;
        let record = format.check(&value).map_err(|error| ChannelError::Record {
            index: i + 1,
            place: path.display().to_string(),
            error,
        })?;
        frames.push(record);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimals_are_shown_at_their_scale_without_changing_value() {
        for (given, scale, shown) in [
            ("7", 2, "7.00"),
            ("7.5", 2, "7.50"),
            ("-0.5", 3, "-0.500"),
            ("12.50", 2, "12.50"),
            ("1.2300", 2, "1.23"),
            ("4.000", 0, "4"),
            ("9", 0, "9"),
        ] {
            let mut text = given.to_string();
            super::to_scale(&mut text, scale);
            assert_eq!(text, shown, "{given} at scale {scale}");
        }
    }
}

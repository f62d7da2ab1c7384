//! Where a sink's records go: a CSV or JSONL file (appended to), a Parquet file (written
//! whole when a client flushes and when the channel stops: Parquet cannot be appended
//! to), or a table on a data source (created when missing, matching the format; one
//! transaction per batch).
//!
//! A record that does not fit the format, or that the store does not take, is discarded
//! and counted: the seed's sinks are unreliable, and say so. What is counted stored is
//! in the store whole: a batch a file could not take is cut off again, a Parquet write
//! that failed takes back the records it held, and a decimal a column cannot hold is
//! refused, never rounded.
//!
//! DuckDB is named here for Parquet: a Parquet sink holds its records in an in-memory
//! DuckDB and writes the file with DuckDB's Parquet writer, the one assay has.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use tokio::sync::Mutex;

use super::error::{ChannelError, RecordError};
use super::format::{decimal_fits, Field, FieldType, Format};
use super::spec::{ChannelSpec, FileFormat, Store};
use crate::engine::StoreTypes;
use crate::sql::ast::{CreateTable, Insert, Param, Statement, TableRef};
use crate::sql::dialect::{insert_batch, print_create_table, print_insert};
use crate::store::StoreLocation;

/// What became of a batch of records a producer sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stored {
    pub stored: u64,
    pub discarded: u64,
    /// why the first discarded record was
    pub first_error: Option<String>,
}

pub struct Sink {
    target: Mutex<Destination>,
    /// "file out/failed.jsonl", "postgres data source 'wh' table main/failed"
    pub label: String,
    /// per field, the precision and scale its column holds where the field declares no
    /// precision of its own and the store's widest decimal is bounded
    held: Vec<Option<(u32, u32)>>,
    producers: std::sync::atomic::AtomicU64,
}

/// What a flush came to for one producer.
#[derive(Debug, Default)]
pub struct Flush {
    /// why the store is not as counted
    pub error: Option<ChannelError>,
    /// this producer's records counted stored that the store lost (a Parquet write that
    /// failed), and everyone's
    pub lost_here: u64,
    pub lost_all: u64,
}

enum Destination {
    Lines {
        path: PathBuf,
        format: FileFormat,
        file: std::fs::File,
    },
    Parquet {
        path: PathBuf,
        /// `records` holds what the file holds; `pending` what came since, counted
        /// stored for the producers in `pending_by` until a write fails
        conn: duckdb::Connection,
        dirty: bool,
        pending_by: std::collections::HashMap<u64, u64>,
        lost_by: std::collections::HashMap<u64, u64>,
    },
    Table {
        location: StoreLocation,
        table: String,
        made: bool,
    },
}

/// The column type of a field in a store.
pub fn column_type(types: &StoreTypes, f: &Field) -> String {
    match f.field_type {
        FieldType::String => types.long_text.to_string(),
        FieldType::Long => types.integer.to_string(),
        FieldType::Double => types.number.to_string(),
        FieldType::Boolean => types.boolean.to_string(),
        FieldType::Timestamp => types.timestamp.to_string(),
        FieldType::Date => types.date.to_string(),
        FieldType::Decimal => match (f.precision, f.scale) {
            (Some(p), s) => format!("DECIMAL({p},{})", s.unwrap_or(0)),
            _ => types.decimal.to_string(),
        },
    }
}

/// The precision and scale of a `DECIMAL(p,s)` column type; None for an unbounded one
/// (PostgreSQL's NUMERIC).
fn decimal_bounds(column_type: &str) -> Option<(u32, u32)> {
    let inner = column_type
        .trim()
        .to_ascii_uppercase()
        .strip_prefix("DECIMAL(")?
        .strip_suffix(')')?
        .to_string();
    let (p, s) = inner.split_once(',')?;
    Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
}

/// Per field, the bounds a store's column puts on a decimal that declares no precision.
fn held_by(types: &StoreTypes, format: &Format) -> Vec<Option<(u32, u32)>> {
    format
        .fields
        .iter()
        .map(|f| match (f.field_type, f.precision) {
            (FieldType::Decimal, None) => decimal_bounds(&column_type(types, f)),
            _ => None,
        })
        .collect()
}

/// A checked record's value, bound as a parameter of the INSERT.
fn param(f: &Field, v: &Json) -> Param {
    match (f.field_type, v) {
        (_, Json::Null) => Param::Null,
        // numbers that do not fit the type's native form go as written (below)
        (FieldType::Long, Json::Number(n)) => n
            .as_i64()
            .map_or_else(|| Param::Text(n.to_string()), Param::Int),
        (FieldType::Double, Json::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .map_or_else(|| Param::Text(n.to_string()), Param::Float),
        (FieldType::Boolean, Json::Bool(b)) => Param::Bool(*b),
        (FieldType::Timestamp, Json::String(s)) => {
            crate::timestamp::parse_timestamp(s).map_or_else(|| Param::text(s), Param::time)
        }
        (_, Json::String(s)) => Param::text(s),
        // numbers as written (exact decimals), anything else as its JSON text
        (_, other) => Param::Text(other.to_string()),
    }
}

/// A CSV cell. Text that a spreadsheet would run as a formula (starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP advises, so opening
/// a sink's file runs nothing; numbers (decimals travel as text) stay as they are.
pub(crate) fn csv_cell(v: &Json) -> String {
    let raw = match v {
        Json::Null => return String::new(),
        Json::String(s)
            if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err() =>
        {
            format!("'{s}")
        }
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    if raw.contains([',', '"', '\n', '\r']) || raw.starts_with(' ') || raw.ends_with(' ') {
        format!("\"{}\"", raw.replace('"', "\"\""))
    } else {
        raw
    }
}

fn header(format: &Format) -> String {
    let names: Vec<Json> = format
        .fields
        .iter()
        .map(|f| Json::String(f.name.clone()))
        .collect();
    names.iter().map(csv_cell).collect::<Vec<_>>().join(",")
}

fn open_lines(
    path: &Path,
    file_format: FileFormat,
    format: &Format,
) -> Result<std::fs::File, ChannelError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ChannelError::file("create", dir, e))?;
    }
    let unwritten = |e: std::io::Error| ChannelError::file("write", path, e);
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    // a link planted at the file's place is not followed: the sink writes where its
    // channel file says, nowhere else
    let mut file = crate::paths::no_follow(std::fs::OpenOptions::new().create(true).append(true))
        .open(path)
        .map_err(|e| ChannelError::NotWritable {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    // a last line without its end (written by someone else, or cut off by a crash) is
    // ended, so the next record starts a line of its own
    if !existing.is_empty() && !existing.ends_with('\n') {
        tracing::warn!(
            "{} did not end with a line break: one is added before the records",
            path.display()
        );
        writeln!(file).map_err(unwritten)?;
    }
    if file_format == FileFormat::Csv {
        let expected = header(format);
        match existing.lines().next() {
            None => writeln!(file, "{expected}").map_err(unwritten)?,
            Some(first) if first == expected => {}
            Some(first) => {
                return Err(ChannelError::Header {
                    path: path.to_path_buf(),
                    found: first.to_string(),
                    expected,
                })
            }
        }
    }
    Ok(file)
}

impl Sink {
    /// Open the store: files are opened (a CSV's header checked or written), a Parquet
    /// sink's buffer made; a table is made when the first records arrive.
    pub fn open(spec: &ChannelSpec) -> Result<Sink, ChannelError> {
        let (target, label) = match &spec.store {
            Store::File { path, format } if *format == FileFormat::Parquet => {
                let conn = duckdb::Connection::open_in_memory().map_err(ChannelError::engine)?;
                let types = crate::engine::by_name("duckdb")
                    .and_then(|e| e.store())
                    .expect("duckdb holds stores")
                    .types();
                let columns: Vec<(String, String)> = spec
                    .format
                    .fields
                    .iter()
                    .map(|f| (f.name.clone(), column_type(&types, f)))
                    .collect();
                let sql = print_create_table(
                    &crate::sql::duckdb::DuckDbDialect,
                    &CreateTable {
                        table: TableRef::new(vec!["records".into()]),
                        columns,
                    },
                );
                conn.execute_batch(&sql).map_err(ChannelError::engine)?;
                conn.execute_batch("CREATE TABLE pending AS SELECT * FROM records LIMIT 0")
                    .map_err(ChannelError::engine)?;
                // a restarted sink keeps what its file held: it is written whole again
                let kept = keep_existing(&conn, path, &spec.format)?;
                (
                    Destination::Parquet {
                        path: path.clone(),
                        conn,
                        dirty: !kept,
                        pending_by: Default::default(),
                        lost_by: Default::default(),
                    },
                    format!("file {}", path.display()),
                )
            }
            Store::File { path, format } => (
                Destination::Lines {
                    path: path.clone(),
                    format: *format,
                    file: open_lines(path, *format, &spec.format)?,
                },
                format!("file {}", path.display()),
            ),
            Store::Table { data_source, path } => {
                let (schema, table) = match path.as_slice() {
                    [t] => (None, t.clone()),
                    [s, t] => (Some(s.clone()), t.clone()),
                    _ => return Err(ChannelError::TablePath(path.join("/"))),
                };
                let location = StoreLocation::of_data_source(data_source, schema)
                    .ok_or_else(|| ChannelError::NoTables(data_source.name.clone()))?;
                let label = format!("{} table {}", location.label, path.join("/"));
                (
                    Destination::Table {
                        location,
                        table,
                        made: false,
                    },
                    label,
                )
            }
            Store::Query { .. } => {
                return Err(ChannelError::WrongKind {
                    store: "query",
                    is: "source",
                    not: "sink",
                })
            }
        };
        let held = match &target {
            Destination::Lines { .. } => vec![None; spec.format.fields.len()],
            Destination::Parquet { .. } => held_by(
                &crate::engine::by_name("duckdb")
                    .and_then(|e| e.store())
                    .expect("duckdb holds stores")
                    .types(),
                &spec.format,
            ),
            Destination::Table { location, .. } => held_by(&location.types(), &spec.format),
        };
        Ok(Sink {
            target: Mutex::new(target),
            label,
            held,
            producers: Default::default(),
        })
    }

    /// A number for a new producer, its records told apart in flushes.
    pub fn producer(&self) -> u64 {
        self.producers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Why a checked record's decimal cannot be held by its column, if it cannot.
    fn unheld(&self, format: &Format, record: &Map<String, Json>) -> Option<RecordError> {
        format.fields.iter().zip(&self.held).find_map(|(f, held)| {
            let (p, s) = (*held)?;
            let text = record.get(&f.name)?.as_str()?;
            (!decimal_fits(text, Some(p), Some(s))).then(|| RecordError::Unheld {
                field: f.name.clone(),
                shown: if text.len() <= 48 { text } else { "a decimal" }.to_string(),
                precision: p,
                scale: s,
                store: self.label.clone(),
            })
        })
    }

    /// Check each record against the format and store the ones that fit, for `producer`.
    pub async fn store(&self, format: &Format, records: Vec<Json>, producer: u64) -> Stored {
        let mut out = Stored::default();
        let mut good: Vec<Map<String, Json>> = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            match format
                .check(r)
                .and_then(|m| self.unheld(format, &m).map_or(Ok(m), Err))
            {
                Ok(m) => good.push(m),
                Err(e) => {
                    out.discarded += 1;
                    out.first_error
                        .get_or_insert_with(|| format!("record {} of the batch: {e}", i + 1));
                }
            }
        }
        if good.is_empty() {
            return out;
        }
        let n = good.len() as u64;
        let mut target = self.target.lock().await;
        match target.write(format, good, producer).await {
            Ok(()) => out.stored += n,
            Err(e) => {
                out.discarded += n;
                let e = crate::secrets::mask(&e.to_string());
                tracing::warn!("sink {}: {n} records discarded: {e}", self.label);
                out.first_error = Some(format!("{n} records could not be stored: {e}"));
            }
        }
        out
    }

    /// Make what was stored durable: files synced, a Parquet file written (when that
    /// fails, the records it would have added are discarded: `lost_here` of them were
    /// counted stored for `producer`).
    pub async fn flush(&self, producer: u64) -> Flush {
        let mut target = self.target.lock().await;
        let mut out = Flush::default();
        match target.flush() {
            Ok(()) => {}
            Err(e) => {
                if let ChannelError::Discarded { lost, .. } = &e {
                    out.lost_all = *lost;
                }
                out.error = Some(e);
            }
        }
        if let Destination::Parquet { lost_by, .. } = &mut *target {
            out.lost_here = lost_by.remove(&producer).unwrap_or(0);
        }
        out
    }
}

/// Load what a Parquet sink's file holds (when it exists) into `records`; whether it did.
/// A file whose columns are not the format's is refused: rewriting it would lose them.
fn keep_existing(
    conn: &duckdb::Connection,
    path: &Path,
    format: &Format,
) -> Result<bool, ChannelError> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(false);
    }
    let quoted = format!("'{}'", path.to_string_lossy().replace('\'', "''"));
    let names: Vec<String> = conn
        .prepare(&format!("DESCRIBE SELECT * FROM read_parquet({quoted})"))
        .and_then(|mut st| {
            st.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| ChannelError::file("read", path, e))?;
    let expected: Vec<&str> = format.fields.iter().map(|f| f.name.as_str()).collect();
    if names != expected {
        return Err(ChannelError::NotThisSinks {
            path: path.to_path_buf(),
            found: names.join(", "),
            expected: expected.join(", "),
        });
    }
    conn.execute_batch(&format!(
        "INSERT INTO records SELECT * FROM read_parquet({quoted})"
    ))
    .map_err(|e| ChannelError::Keep {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(true)
}

impl Destination {
    async fn write(
        &mut self,
        format: &Format,
        records: Vec<Map<String, Json>>,
        producer: u64,
    ) -> Result<(), ChannelError> {
        match self {
            Destination::Lines {
                path,
                format: ff,
                file,
            } => append_lines(path, *ff, file, format, &records),
            Destination::Parquet {
                conn,
                dirty,
                pending_by,
                ..
            } => {
                let statements = insert_rows(
                    &crate::sql::duckdb::DuckDbDialect,
                    TableRef::new(vec!["pending".into()]),
                    format,
                    &records,
                );
                crate::exec::duckdb::execute_writes(conn, &statements)
                    .map_err(ChannelError::engine)?;
                *pending_by.entry(producer).or_default() += records.len() as u64;
                *dirty = true;
                Ok(())
            }
            Destination::Table {
                location,
                table,
                made,
            } => {
                let create = || {
                    let types = location.types();
                    let columns: Vec<(&str, String)> = format
                        .fields
                        .iter()
                        .map(|f| (f.name.as_str(), column_type(&types, f)))
                        .collect();
                    let columns: Vec<(&str, &str)> =
                        columns.iter().map(|(n, t)| (*n, t.as_str())).collect();
                    location.create_statements(&[(table.as_str(), columns)])
                };
                let inserts = insert_rows(
                    location.dialect(),
                    location.table_ref(table),
                    format,
                    &records,
                );
                let mut statements = if *made { Vec::new() } else { create() };
                statements.extend(inserts.iter().cloned());
                match location.execute(statements).await {
                    Ok(()) => {}
                    // the table may have been dropped while the channel ran: made again
                    // (when missing), and the batch written once more, whole or not at all
                    Err(_) if *made => {
                        let mut again = create();
                        again.extend(inserts);
                        location.execute(again).await.map_err(store_error)?;
                    }
                    Err(e) => return Err(store_error(e)),
                }
                *made = true;
                Ok(())
            }
        }
    }

    /// Make what was stored durable; when it fails, why (a Parquet write that failed says
    /// how many records counted stored were lost: `ChannelError::Discarded`).
    fn flush(&mut self) -> Result<(), ChannelError> {
        match self {
            Destination::Lines { path, file, .. } => file
                .sync_data()
                .map_err(|e| ChannelError::file("sync", path, e)),
            Destination::Parquet {
                path,
                conn,
                dirty,
                pending_by,
                lost_by,
            } => {
                if !*dirty {
                    return Ok(());
                }
                match write_parquet(path, conn) {
                    Ok(()) => {
                        pending_by.clear();
                        *dirty = false;
                        Ok(())
                    }
                    Err(e) => {
                        // the records the file did not take are discarded, not kept for a
                        // later write: each producer learns of its own at its next flush
                        let _ = conn.execute_batch("DELETE FROM pending");
                        let mut lost = 0;
                        for (producer, n) in pending_by.drain() {
                            *lost_by.entry(producer).or_default() += n;
                            lost += n;
                        }
                        let e = ChannelError::Discarded {
                            error: Box::new(e),
                            lost,
                        };
                        tracing::warn!("{e}");
                        Err(e)
                    }
                }
            }
            Destination::Table { .. } => Ok(()),
        }
    }
}

/// Records appended to a CSV or JSON Lines file, whole or not at all: what a failed
/// write left (the disk filled, the file reached its size limit) is cut off again.
fn append_lines(
    path: &Path,
    file_format: FileFormat,
    file: &mut std::fs::File,
    format: &Format,
    records: &[Map<String, Json>],
) -> Result<(), ChannelError> {
    let mut text = String::new();
    for r in records {
        match file_format {
            FileFormat::Csv => {
                let cells: Vec<String> = format
                    .fields
                    .iter()
                    .map(|f| csv_cell(r.get(&f.name).unwrap_or(&Json::Null)))
                    .collect();
                text.push_str(&cells.join(","));
            }
            _ => text.push_str(&Json::Object(r.clone()).to_string()),
        }
        text.push('\n');
    }
    // whole or not at all: what a failed write left (the disk filled, the file
    // reached its size limit) is cut off again
    let before = file
        .metadata()
        .map_err(|e| ChannelError::file("write", path, e))?
        .len();
    file.write_all(text.as_bytes())
        .map_err(|e| match file.set_len(before) {
            Ok(()) => ChannelError::file("write", path, e),
            Err(cut) => ChannelError::file(
                "write",
                path,
                format!("{e}; and the part written could not be cut off: {cut}"),
            ),
        })
}

/// The Parquet file written whole (what it held, and the pending records): beside its
/// place and renamed, so a reader never sees half a file; the pending records join the
/// others only when the file holds them.
fn write_parquet(path: &Path, conn: &duckdb::Connection) -> Result<(), ChannelError> {
    let fail = |e: &dyn std::fmt::Display| ChannelError::file("write", path, e);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    }
    let tmp = path.with_extension("parquet.tmp");
    let quoted = format!("'{}'", tmp.to_string_lossy().replace('\'', "''"));
    conn.execute_batch("BEGIN; INSERT INTO records SELECT * FROM pending; DELETE FROM pending")
        .map_err(|e| fail(&e))?;
    let written = conn
        .execute_batch(&format!("COPY records TO {quoted} (FORMAT parquet)"))
        .map_err(|e| fail(&e))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| fail(&e)));
    match written {
        Ok(()) => conn.execute_batch("COMMIT").map_err(|e| fail(&e)),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// A store's error as the channel's: the store's own (a failed write), or how it runs.
fn store_error(e: crate::error::RunError) -> ChannelError {
    match e {
        crate::error::RunError::Store(s) => ChannelError::Store(s),
        other => ChannelError::engine(other),
    }
}

/// INSERTs of checked records, in batches.
pub fn insert_rows(
    dialect: &dyn crate::sql::dialect::Dialect,
    table: TableRef,
    format: &Format,
    records: &[Map<String, Json>],
) -> Vec<Statement> {
    let columns: Vec<String> = format.fields.iter().map(|f| f.name.clone()).collect();
    records
        .chunks(insert_batch(columns.len()))
        .map(|chunk| {
            print_insert(
                dialect,
                &Insert {
                    table: table.clone(),
                    columns: columns.clone(),
                    rows: chunk
                        .iter()
                        .map(|r| {
                            format
                                .fields
                                .iter()
                                .map(|f| param(f, r.get(&f.name).unwrap_or(&Json::Null)))
                                .collect()
                        })
                        .collect(),
                },
            )
        })
        .collect()
}

//! A stream of Arrow record batches into a new in-memory DuckDB database, through
//! DuckDB's own Arrow scan: one `INSERT … SELECT` pulls the batches as they arrive,
//! converting whole columns at a time in C++ (several times faster than appending them
//! value by value), and never holds more than the batches in flight. The database keeps
//! to its memory limit by spilling to its temporary directory, and stays open for the
//! verification (a checkpoint and a reopening would cost more than the load).
//!
//! duckdb-rs does not expose its connection handle, and the scan's view belongs to the
//! connection that made it, so this speaks DuckDB's C API directly, on a connection of
//! its own.

use std::ffi::{c_char, CStr, CString};

use duckdb::arrow::ffi_stream::FFI_ArrowArrayStream;
use duckdb::arrow::record_batch::RecordBatchReader;
use duckdb::ffi;

use super::ExecError;

/// A database and one connection to it, closed on drop.
struct Raw {
    db: ffi::duckdb_database,
    con: ffi::duckdb_connection,
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: both were opened by `open` and are closed once, here
        unsafe {
            if !self.con.is_null() {
                ffi::duckdb_disconnect(&mut self.con);
            }
            if !self.db.is_null() {
                ffi::duckdb_close(&mut self.db);
            }
        }
    }
}

fn c_text(s: &str) -> Result<CString, ExecError> {
    CString::new(s).map_err(|_| ExecError::Query(format!("a NUL byte in {s:?}")))
}

impl Raw {
    /// A new database file with extensions off and `settings` in force.
    fn open(path: &std::path::Path, settings: &[(&str, &str)]) -> Result<Raw, ExecError> {
        let path = c_text(&path.to_string_lossy())?;
        let mut raw = Raw {
            db: std::ptr::null_mut(),
            con: std::ptr::null_mut(),
        };
        // SAFETY: plain C API calls on handles owned here; every out-pointer is valid,
        // the config is destroyed on every path and the error string freed with
        // duckdb_free as the API says
        unsafe {
            let mut config: ffi::duckdb_config = std::ptr::null_mut();
            if ffi::duckdb_create_config(&mut config) != ffi::DuckDBSuccess {
                return Err(ExecError::Query(
                    "DuckDB could not make a configuration".into(),
                ));
            }
            let mut failed = None;
            for (name, value) in settings {
                let (n, v) = (c_text(name)?, c_text(value)?);
                if ffi::duckdb_set_config(config, n.as_ptr(), v.as_ptr()) != ffi::DuckDBSuccess {
                    failed = Some(format!("DuckDB does not take {name} = {value}"));
                }
            }
            let mut error: *mut c_char = std::ptr::null_mut();
            let opened = failed.is_none()
                && ffi::duckdb_open_ext(path.as_ptr(), &mut raw.db, config, &mut error)
                    == ffi::DuckDBSuccess;
            ffi::duckdb_destroy_config(&mut config);
            if let Some(f) = failed {
                return Err(ExecError::Query(f));
            }
            if !opened {
                let message = if error.is_null() {
                    "DuckDB could not open the database".to_string()
                } else {
                    let m = CStr::from_ptr(error).to_string_lossy().into_owned();
                    ffi::duckdb_free(error.cast());
                    m
                };
                return Err(ExecError::Query(message));
            }
            if ffi::duckdb_connect(raw.db, &mut raw.con) != ffi::DuckDBSuccess {
                return Err(ExecError::Query(
                    "DuckDB could not connect to the database".into(),
                ));
            }
        }
        Ok(raw)
    }

    /// Run one or more statements; the rows the last one changed.
    fn query(&self, sql: &str) -> Result<u64, ExecError> {
        let sql = c_text(sql)?;
        // SAFETY: a zeroed duckdb_result is what the API expects to fill; it is destroyed
        // on both paths, after its error text is copied out
        unsafe {
            let mut result: ffi::duckdb_result = std::mem::zeroed();
            let state = ffi::duckdb_query(self.con, sql.as_ptr(), &mut result);
            let out = if state == ffi::DuckDBSuccess {
                Ok(ffi::duckdb_rows_changed(&mut result))
            } else {
                let e = ffi::duckdb_result_error(&mut result);
                Err(ExecError::Query(if e.is_null() {
                    "DuckDB failed".to_string()
                } else {
                    CStr::from_ptr(e).to_string_lossy().into_owned()
                }))
            };
            ffi::duckdb_destroy_result(&mut result);
            out
        }
    }
}

/// A database loaded by `ingest_arrow`, open until dropped.
pub struct Loaded {
    raw: Raw,
}

// SAFETY: a DuckDB database handle may be connected to from any thread; the loading
// connection is closed before a Loaded is handed out, and nothing else is shared
unsafe impl Send for Loaded {}
unsafe impl Sync for Loaded {}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a loaded in-memory DuckDB database")
    }
}

impl Loaded {
    /// A connection to the database. It must be dropped before `self` is: holders keep
    /// an `Arc` of this beside their connections.
    pub fn connect(&self) -> duckdb::Result<duckdb::Connection> {
        // SAFETY: the handle is open for as long as `self` lives, and duckdb-rs does not
        // close a database it did not open
        unsafe { duckdb::Connection::open_from_raw(self.raw.db) }
    }
}

/// Make an in-memory database (DuckDB running with `settings`), run `setup` in it, then
/// insert the batches each reader yields, as they come, into `table` (a quoted name whose
/// columns are the batches' own, in order): one INSERT per reader, each on a connection
/// and thread of its own, so they convert in parallel. Returns the database and the rows
/// inserted.
pub fn ingest_arrow(
    settings: &[(&str, &str)],
    setup: &str,
    table: &str,
    readers: Vec<Box<dyn RecordBatchReader + Send>>,
) -> Result<(Loaded, u64), ExecError> {
    let mut raw = Raw::open(std::path::Path::new(":memory:"), settings)?;
    raw.query(setup)?;
    let inserted = std::thread::scope(|scope| {
        let inserts: Vec<_> = readers
            .into_iter()
            .enumerate()
            .map(|(i, reader)| {
                let db = raw.db;
                let db = SendDb(db);
                scope.spawn(move || insert_stream(db, i, table, reader))
            })
            .collect();
        let mut total = 0;
        let mut first_error = None;
        for insert in inserts {
            match insert.join() {
                Ok(Ok(n)) => total += n,
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    first_error.get_or_insert(ExecError::Query("a loading thread failed".into()));
                }
            }
        }
        first_error.map_or(Ok(total), Err)
    })?;
    // SAFETY: the loading connection is closed once, here; Raw's drop skips it then
    unsafe { ffi::duckdb_disconnect(&mut raw.con) };
    raw.con = std::ptr::null_mut();
    Ok((Loaded { raw }, inserted))
}

/// A database handle crossing to a loading thread (DuckDB's handles are thread-safe; the
/// database outlives the threads, which are scoped).
struct SendDb(ffi::duckdb_database);
// SAFETY: see above
unsafe impl Send for SendDb {}

/// One stream into `table`, on a connection of its own: the rows inserted.
fn insert_stream(
    db: SendDb,
    i: usize,
    table: &str,
    reader: Box<dyn RecordBatchReader + Send>,
) -> Result<u64, ExecError> {
    let mut conn = Raw {
        db: std::ptr::null_mut(),
        con: std::ptr::null_mut(),
    };
    // SAFETY: connecting to an open database; the connection is closed by Raw's drop
    // (its db is null, so the database is left open)
    if unsafe { ffi::duckdb_connect(db.0, &mut conn.con) } != ffi::DuckDBSuccess {
        return Err(ExecError::Query(
            "DuckDB could not connect to the database".into(),
        ));
    }
    let name = format!("assay_incoming_{i}");
    // the stream stays here, at one address, until the view over it is gone
    let mut stream = Box::new(FFI_ArrowArrayStream::new(reader));
    let view = c_text(&name)?;
    // SAFETY: DuckDB reads the stream through its C callbacks while the INSERT below
    // runs, and the caller (this function) keeps ownership: the view is dropped before
    // the stream is
    let state = unsafe {
        ffi::duckdb_arrow_scan(
            conn.con,
            view.as_ptr(),
            (&mut *stream as *mut FFI_ArrowArrayStream).cast(),
        )
    };
    if state != ffi::DuckDBSuccess {
        return Err(ExecError::Query(
            "DuckDB could not scan the Arrow stream".into(),
        ));
    }
    let inserted = conn.query(&format!("INSERT INTO {table} SELECT * FROM {name}"));
    let dropped = conn.query(&format!("DROP VIEW {name}"));
    drop(stream);
    let inserted = inserted?;
    dropped?;
    Ok(inserted)
}

//! DuckDB's own parser, asked how many statements a text holds.
//!
//! duckdb-rs's `prepare` runs every statement of a text but the last and prepares the
//! last, so a second statement hidden from validation would run unseen. Before any text
//! reaches a DuckDB session, the engine's own parser counts its statements; anything but
//! one is refused. The parser runs on a private in-memory database that never runs a
//! statement, so counting can have no effect of its own.

use std::ffi::{CStr, CString};
use std::ptr;
use std::sync::{Mutex, OnceLock};

use duckdb::ffi;

struct ParserConnection {
    database: ffi::duckdb_database,
    connection: ffi::duckdb_connection,
}

// The handles are used under the mutex below only; DuckDB connections may move between
// threads as long as one thread uses them at a time.
unsafe impl Send for ParserConnection {}

impl Drop for ParserConnection {
    fn drop(&mut self) {
        unsafe {
            ffi::duckdb_disconnect(&mut self.connection);
            ffi::duckdb_close(&mut self.database);
        }
    }
}

/// Why DuckDB's parser could not count a text's statements.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("could not start DuckDB's parser")]
    Unavailable,
    #[error("the SQL holds a NUL character")]
    Nul,
    /// DuckDB's own message, or that it found no statement
    #[error("{0}")]
    Refused(String),
}

fn parser() -> Result<&'static Mutex<ParserConnection>, ParseError> {
    static PARSER: OnceLock<Result<Mutex<ParserConnection>, ParseError>> = OnceLock::new();
    PARSER
        .get_or_init(|| {
            let mut database = ptr::null_mut();
            let mut connection = ptr::null_mut();
            unsafe {
                if ffi::duckdb_open(ptr::null(), &mut database) != ffi::DuckDBSuccess {
                    return Err(ParseError::Unavailable);
                }
                if ffi::duckdb_connect(database, &mut connection) != ffi::DuckDBSuccess {
                    ffi::duckdb_close(&mut database);
                    return Err(ParseError::Unavailable);
                }
            }
            Ok(Mutex::new(ParserConnection {
                database,
                connection,
            }))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// How many statements DuckDB reads in `sql`; the parser's message when it reads none.
pub fn statement_count(sql: &str) -> Result<usize, ParseError> {
    let text = CString::new(sql).map_err(|_| ParseError::Nul)?;
    let parser = parser()?.lock().unwrap_or_else(|e| e.into_inner());
    let mut extracted = ptr::null_mut();
    unsafe {
        let count =
            ffi::duckdb_extract_statements(parser.connection, text.as_ptr(), &mut extracted);
        let result = if count == 0 {
            let message = ffi::duckdb_extract_statements_error(extracted);
            Err(ParseError::Refused(if message.is_null() {
                "DuckDB found no statement".to_string()
            } else {
                CStr::from_ptr(message).to_string_lossy().into_owned()
            }))
        } else {
            Ok(count as usize)
        };
        ffi::duckdb_destroy_extracted(&mut extracted);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_statements_as_duckdb_reads_them() {
        assert_eq!(statement_count("SELECT 1"), Ok(1));
        assert_eq!(statement_count("SELECT 1;"), Ok(1));
        // the attack that passed sqlparser: DuckDB nests comments, so three statements
        assert_eq!(
            statement_count("SELECT 1 /* /* */ -- */ ; ATTACH 'x.duckdb' AS w; SELECT 1"),
            Ok(3)
        );
        assert!(statement_count("SELECT 'unclosed").is_err());
        assert!(statement_count("SELECT 1\0; DROP TABLE t").is_err());
    }
}

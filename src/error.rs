//! Run-time errors: what goes wrong after the input has been read and found valid. Each
//! says which part failed; text from an engine may quote a connection string, so it is
//! masked where it leaves the program (results, logs), not here.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::exec::ExecError;

#[derive(Debug, Clone, Error)]
pub enum RunError {
    #[error("could not connect to data source '{data_source}': {message}")]
    Connect {
        data_source: String,
        message: String,
    },
    /// a query failed; `label` (the dataset and what the query is for) goes to the logs,
    /// while the check that failed already names the query in results
    #[error("{message}")]
    Query { label: String, message: String },
    /// Ctrl-C, a signal or --timeout stopped the run
    #[error("{reason}")]
    Cancelled { reason: String },
    /// a store (failed rows, history) could not be opened, read or written
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot {action} '{}': {message}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        message: String,
    },
    /// a data channel could not be run or reached (the channel's own error type, which
    /// lives above this layer)
    #[error("{0}")]
    Channel(std::sync::Arc<dyn std::error::Error + Send + Sync>),
    /// the server (`assay serve`) or its tokens failed (their own error types, which
    /// live above this layer)
    #[error("{0}")]
    Serve(std::sync::Arc<dyn std::error::Error + Send + Sync>),
    /// a file that is not what it should be (an outbox entry that is not JSON, say)
    #[error("'{}' {message}", path.display())]
    Content { path: PathBuf, message: String },
}

/// Why a store (the failed rows store, the history) could not be opened, read or written.
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// the store's engine refused or could not be reached
    #[error(transparent)]
    Engine(#[from] ExecError),
    #[error("cannot {action} '{}': {message}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        message: String,
    },
    /// a file where the embedded store belongs that is not one and cannot be moved aside
    #[error("'{}' is not a DuckDB database and cannot be moved aside: {message}", path.display())]
    NotMovedAside { path: PathBuf, message: String },
    /// the blocking task that writes an embedded store stopped (a panic)
    #[error("the store task failed: {0}")]
    Task(String),
    /// something read back is not what assay writes there
    #[error("{what} is not readable: {message}")]
    Unreadable { what: String, message: String },
    /// another run holds the lock of `place` past the wait
    #[error(
        "another scan holds the {place} and did not let go within {}: {held_by}",
        humantime::format_duration(*within)
    )]
    Locked {
        place: String,
        within: std::time::Duration,
        held_by: String,
    },
    /// failed rows sent to a sink channel are not in a store assay reads
    #[error(
        "failed rows go to the sink channel '{channel}' (diagnostics.channel in assay.yml): read them where that channel stores its records"
    )]
    InChannel { channel: String },
}

impl StoreError {
    pub fn file(action: &'static str, path: &Path, e: impl std::fmt::Display) -> StoreError {
        StoreError::File {
            action,
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }

    pub fn unreadable(what: impl Into<String>, e: impl std::fmt::Display) -> StoreError {
        StoreError::Unreadable {
            what: what.into(),
            message: e.to_string(),
        }
    }
}

impl RunError {
    pub fn channel(e: impl std::error::Error + Send + Sync + 'static) -> RunError {
        RunError::Channel(std::sync::Arc::new(e))
    }

    pub fn serve(e: impl std::error::Error + Send + Sync + 'static) -> RunError {
        RunError::Serve(std::sync::Arc::new(e))
    }

    pub fn io(action: &'static str, path: &Path, e: impl std::fmt::Display) -> RunError {
        RunError::Io {
            action,
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }

    /// An executor's error for the query `label`; a cancelled query says why the run was
    /// stopped (`reason`), not just "interrupted".
    pub fn from_exec(e: ExecError, label: &str, reason: Option<String>) -> RunError {
        match (e, reason) {
            (_, Some(reason)) | (ExecError::Cancelled(reason), None) => {
                RunError::Cancelled { reason }
            }
            (
                ExecError::Connect {
                    data_source,
                    message,
                },
                None,
            ) => RunError::Connect {
                data_source,
                message,
            },
            (ExecError::Query(message), None) => RunError::Query {
                label: label.to_string(),
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_error_shows_the_engines_message_and_keeps_its_label() {
        let e = RunError::from_exec(
            ExecError::Query("no such column x".into()),
            "db/t: metrics",
            None,
        );
        assert_eq!(e.to_string(), "no such column x");
        assert!(matches!(e, RunError::Query { ref label, .. } if label == "db/t: metrics"));
        let stopped = RunError::from_exec(
            ExecError::Query("canceling statement".into()),
            "db/t: metrics",
            Some("the run exceeded --timeout 1s".into()),
        );
        assert_eq!(stopped.to_string(), "the run exceeded --timeout 1s");
        let io = RunError::io("write", Path::new("out/r.json"), "disk full");
        assert_eq!(io.to_string(), "cannot write 'out/r.json': disk full");
    }
}

//! What goes wrong in a data channel: reaching one as a client, the frames it sends, a
//! record that does not fit its format, and the files and tables it reads and writes.
//! The service sends the text to producers and consumers; assay's commands print it.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::error::StoreError;

/// A record that does not fit its channel's format (or the column that stores it).
#[derive(Debug, Clone, PartialEq, Error, Diagnostic)]
pub enum RecordError {
    #[error("a record is a JSON object, not {kind}")]
    NotAnObject { kind: String },
    #[error("field '{field}' is not in format {format} ({fields})")]
    UnknownField {
        field: String,
        format: String,
        fields: String,
    },
    #[error("field '{field}' is not nullable and has no value")]
    NoValue { field: String },
    #[error("field '{field}' is a {expected}, not {shown}")]
    WrongType {
        field: String,
        expected: String,
        shown: String,
    },
    /// a stored value read back for a source
    #[error("column '{column}' holds {value}, which is not a {expected}")]
    ColumnType {
        column: String,
        value: String,
        expected: String,
    },
    #[error("column '{column}' is NULL, and field '{column}' is not nullable")]
    ColumnNull { column: String },
    #[error(
        "field '{field}' holds {shown}, more digits than its column's DECIMAL({precision},{scale}) in {store} holds (give the field a precision and scale that fit)"
    )]
    Unheld {
        field: String,
        shown: String,
        precision: u32,
        scale: u32,
        store: String,
    },
}

#[derive(Debug, Clone, Error, Diagnostic)]
pub enum ChannelError {
    #[error("channel URL {url}: {message}")]
    Url { url: String, message: String },
    /// a certificate or key file (`key` is its setting: ca_certificate, tls.key, ...)
    #[error("{key} {}: {message}", path.display())]
    TlsFile {
        key: &'static str,
        path: PathBuf,
        message: String,
    },
    /// the TLS or HTTP stack could not be set up (never the user's input)
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Password(#[from] crate::config::channels::PasswordUnset),
    #[error("channel at {at} does not answer: {message}")]
    NotAnswering { at: String, message: String },
    #[error("channel at {at} refused the login of user '{user}': wrong user or password")]
    LoginRefused { at: String, user: String },
    #[error(
        "the registry entry of channel '{channel}' (at {url}) does not prove it knows the password of user '{user}', so no credentials were sent: the password in assay.yml is not the channel's, the channel has no such user, or the entry was planted"
    )]
    Unproven {
        channel: String,
        url: String,
        user: String,
    },
    /// the channel answered, but not as the protocol says
    #[error("channel at {at}: {message}")]
    Answer { at: String, message: String },
    /// the channel's first frame is not the hello this client asked for
    #[error("channel at {at} {said}")]
    Hello { at: String, said: String },
    #[error("the channel closed the connection{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Closed { reason: Option<String> },
    #[error("the channel's stream broke: {0}")]
    Broken(String),
    #[error("the channel sent something that is not a frame: {0}")]
    NotAFrame(String),
    #[error("sending to the channel: {0}")]
    Send(String),
    #[error("record {index} of {place}: {error}")]
    Record {
        index: usize,
        place: String,
        error: RecordError,
    },
    #[error("result set {id} ended after {records} records, {got} of which arrived")]
    Incomplete { id: String, records: u64, got: u64 },
    #[error("{records} records of the result set were dropped: this client read too slowly")]
    Dropped { records: u64 },
    #[error("the channel could not send the result set: {message}")]
    SetFailed { message: String },
    #[error(
        "result set {id} has more than {max} records, the most this run holds (max_records of the channel in assay.yml)"
    )]
    TooManyRecords { id: String, max: u64 },
    #[error(
        "result set {id} is larger than {max} bytes, the most this run holds (max_bytes of the channel in assay.yml)"
    )]
    TooLarge { id: String, max: u64 },
    /// a source's store holds more than one result set may
    #[error("{what} more than {max} records: one result set holds at most that many")]
    SourceTooLarge { what: String, max: usize },
    /// an Arrow frame that cannot be read or written
    #[error("{0}")]
    Arrow(String),
    #[error("cannot open {} for writing: {message}", path.display())]
    NotWritable { path: PathBuf, message: String },
    #[error("cannot {action} {}: {message}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("cannot keep what {} holds: {message}", path.display())]
    Keep { path: PathBuf, message: String },
    #[error("{} has the header '{found}', not the format's '{expected}'", path.display())]
    Header {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error(
        "{} holds the columns {found}, not the format's {expected}: it is not this sink's file",
        path.display()
    )]
    NotThisSinks {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("no file matches {0}")]
    NoFile(String),
    #[error("{path} {why}")]
    Outside {
        path: String,
        why: crate::paths::PathRefusal,
    },
    /// an engine's error, masked (a connection string may be in it)
    #[error("{0}")]
    Engine(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no credentials for channel '{channel}' in assay.yml")]
    NoCredentials { channel: String },
    #[error(
        "channel '{channel}' is not approved in environment {environment} by this project (environments: {{{environment}: {{channels: [{channel}]}}}} in assay.yml)"
    )]
    Unapproved {
        channel: String,
        environment: String,
    },
    /// `detail` says more (where the registry is, a name that is close)
    #[error("no {kind} channel '{channel}' runs in environment {environment}{detail}")]
    NotRunning {
        kind: &'static str,
        channel: String,
        environment: String,
        detail: String,
    },
    #[error("channel {channel} (format {format}) already runs{place}")]
    AlreadyRuns {
        channel: String,
        format: String,
        place: String,
    },
    #[error("the channel registry {} cannot be {action}: {message}", dir.display())]
    Registry {
        dir: PathBuf,
        action: &'static str,
        message: String,
    },
    #[error("the channel registry lock cannot be taken: {0}")]
    RegistryLock(String),
    /// a `/streaming` request's query that asks for something the protocol does not have
    #[error("{pair}: {why}")]
    Query { pair: String, why: &'static str },
    #[error("the records could not be loaded")]
    NotLoaded,
    #[error("a {store} is a {is}, not a {not}")]
    WrongKind {
        store: &'static str,
        is: &'static str,
        not: &'static str,
    },
    #[error("table '{0}' is not schema/table")]
    TablePath(String),
    #[error("data source '{0}' cannot hold a table")]
    NoTables(String),
    #[error("the {0} task failed: {1}")]
    Task(&'static str, String),
    #[error("cannot listen on {listen}: {message}")]
    Listen { listen: String, message: String },
    /// a Parquet sink's file could not take the records pending for it
    #[error("{error}: {lost} records discarded")]
    Discarded { error: Box<ChannelError>, lost: u64 },
}

impl ChannelError {
    pub fn file(action: &'static str, path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        ChannelError::File {
            action,
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }

    /// An engine's error, its secrets masked.
    pub fn engine(e: impl std::fmt::Display) -> Self {
        ChannelError::Engine(crate::secrets::mask(&e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_says_why_when_the_channel_said() {
        assert_eq!(
            ChannelError::Closed { reason: None }.to_string(),
            "the channel closed the connection"
        );
        assert_eq!(
            ChannelError::Closed {
                reason: Some("shutting down".into())
            }
            .to_string(),
            "the channel closed the connection: shutting down"
        );
        let record = ChannelError::Record {
            index: 2,
            place: "a frame from the channel".into(),
            error: RecordError::NoValue { field: "id".into() },
        };
        assert_eq!(
            record.to_string(),
            "record 2 of a frame from the channel: field 'id' is not nullable and has no value"
        );
    }
}

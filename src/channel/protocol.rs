//! The frames of `/streaming`: JSON text messages with a `type`. docs/channels.md lists
//! each with an example; a client needs nothing but this page.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::error::ChannelError;
use super::format::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Source,
    Sink,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Sink => "sink",
        }
    }
}

/// How a source's records travel to one consumer, chosen when its stream opens
/// (`/streaming?encoding=arrow`): JSON `records` frames (the default), or binary frames
/// each holding an Arrow IPC stream of one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Json,
    Arrow,
}

impl Encoding {
    /// The encoding a `/streaming` query asks for.
    pub fn from_query(query: Option<&str>) -> Result<Encoding, ChannelError> {
        let mut chosen = Encoding::Json;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let refused = |why| ChannelError::Query {
                pair: pair.to_string(),
                why,
            };
            match pair.split_once('=') {
                Some(("encoding", "json")) => chosen = Encoding::Json,
                Some(("encoding", "arrow")) => chosen = Encoding::Arrow,
                Some(("encoding", _)) => return Err(refused("records are sent as json or arrow")),
                _ => return Err(refused("/streaming takes only encoding=json|arrow")),
            }
        }
        Ok(chosen)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame {
    /// the channel's first frame on every connection
    Hello {
        channel: String,
        kind: Kind,
        format: Format,
        result_sets: bool,
        /// how this connection's records travel
        #[serde(default)]
        encoding: Encoding,
    },
    /// a source: a result set begins
    ResultSetStart { id: String, format: Format },
    /// a source: records (of a result set when it frames them); to a sink: records to store
    Records {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result_set: Option<String>,
        records: Vec<Json>,
    },
    /// a source: the result set `id` ended after `records` records
    ResultSetEnd { id: String, records: u64 },
    /// a source: records this connection missed because it read too slowly
    Dropped { records: u64, total: u64 },
    /// a sink: records it could not store, and why (the first reason)
    Error { message: String, discarded: u64 },
    /// to a sink: answer when everything sent before is stored or discarded
    Flush,
    /// a sink: what this connection's records came to so far
    Flushed { stored: u64, discarded: u64 },
    /// the channel stops (or the session ended): no more frames follow
    Closing { reason: String },
}

impl Frame {
    pub fn text(&self) -> String {
        serde_json::to_string(self).expect("frames serialize")
    }
}

//! Data channels: named sources and sinks of records behind one streaming interface
//! (HTTP login, a WebSocket, logout), so pipelines never depend on where data lives.
//! A source feeds records to verification; a sink takes failing rows out to a store.
//! The protocol is in docs/channels.md.

pub mod client;
pub mod columnar;
pub mod error;
pub mod format;
pub mod guard;
pub mod hub;
pub mod protocol;
pub mod registry;
pub mod service;
pub mod sink;
pub mod source;
pub mod spec;
pub mod tls;

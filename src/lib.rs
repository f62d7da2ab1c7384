//! assay: verify data against YAML data contracts, inside the user's own database.
//!
//! The flow, one way down: contract YAML + config -> contract model -> plan -> SQL ->
//! executor -> metric values -> check outcomes -> results -> reporters.

pub mod agent;
pub mod anomaly;
pub mod app;
pub mod baseline;
pub mod capture;
pub mod channel;
pub mod checks;
pub mod cli;
pub mod config;
pub mod contract;
pub mod cron;
pub mod decode;
pub mod diag;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod exec;
pub mod exit;
pub mod failing_rows;
pub mod init;
pub mod interp;
pub mod model;
pub mod odcs;
pub mod paths;
pub mod plan;
pub mod push;
pub mod report;
pub mod results;
pub mod rowdiff;
pub mod scan;
pub mod secrets;
pub mod serve;
pub mod source;
pub mod sql;
pub mod store;
pub mod timestamp;
pub mod verify;
pub mod words;
pub mod yaml;

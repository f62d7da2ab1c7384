//! The integration tests, as one test binary: every binary links all of DuckDB, so one
//! binary with a module per area builds and links once instead of once per area.

mod common;

mod agent;
mod anomaly;
mod attacks;
mod channel_values;
mod channels;
mod checks;
mod cli;
mod conformance;
mod contract_errors;
mod failed_rows;
mod first_hour;
mod hardening;
mod layers;
mod odcs;
mod push;
mod reconcile;
mod report;
mod scan;
mod serve;
mod serve_monitors;
mod serve_runs;
mod servers;
#[cfg(feature = "spark")]
mod spark;

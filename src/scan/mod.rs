//! `assay scan`, the observation of whole data sources over time. Built in parts:
//! discovery is each engine's (`Engine::discover`); the monitors are a registry
//! (`monitor::MONITORS`: schema changes, anomalies).

pub mod anomalies;
pub mod history;
pub mod lock;
pub mod monitor;
pub mod profile;
pub mod run;
pub mod schema_change;

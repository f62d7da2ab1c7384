//! Anomaly detection on a metric's history (built in parts). `robust` holds the
//! statistics every verdict stands on: medians and MADs rather than means and standard
//! deviations, with floors so that near-constant series do not alert on tiny changes.

pub mod robust;

//! The history store: what each scan measured, kept in the user's own database (by
//! default `.assay/history.duckdb`). A scan is written in one transaction, its row in
//! `assay_scans` included, so an interrupted scan leaves nothing half-written; points
//! older than the retention are removed in the same transaction.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::profile::Point;
use super::schema_change::{Event, SnapshotColumn};
use crate::anomaly::{AnomalyKind, Judgement, Verdict};
use crate::config::Config;
use crate::error::{RunError, StoreError};
use crate::exec::{Limits, RunControl, Value};
use crate::model::threshold::Level;
use crate::sql::ast::{Param, Statement};
use crate::store::StoreLocation;
use crate::timestamp::parse_timestamp;

mod lock;
mod page;
mod pushed;
pub mod queue;
mod read;
mod tables;
mod write;

pub use lock::ServerLock;
pub use page::history_page;
pub use pushed::{PushedError, Recorded};
pub use read::{EventRow, PointQuery, ReportHistory};

/// The earliest moment a store is asked about: the first day of year 1, a date every
/// engine reads (DateTime's own minimum is not).
pub fn earliest() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(-62_135_596_800, 0).unwrap_or_default()
}

pub const SCANS: &str = "assay_scans";
pub const POINTS: &str = "assay_metric_points";
pub const SNAPSHOTS: &str = "assay_schema_snapshots";
pub const EVENTS: &str = "assay_monitor_events";
/// changes users accepted (`assay history accept`): the baseline re-learns from them
pub const ACCEPTED: &str = "assay_accepted_changes";
/// every check's outcome at each scan, for reports over time
pub const CHECKS: &str = "assay_check_results";
/// who holds a server-held history's lock (a row, replaced by each holder)
pub const HOLDER: &str = "assay_history_lock";

/// What one dataset contributed to a scan.
#[derive(Debug, Clone)]
pub struct DatasetRecord {
    pub data_source: String,
    pub dataset: String,
    /// None: the dataset was not there (it disappeared)
    pub snapshot: Option<Vec<SnapshotColumn>>,
    pub points: Vec<Point>,
    pub events: Vec<(Event, Level)>,
    /// the anomaly monitors' verdicts on points
    pub verdicts: Verdicts,
    /// the outcomes of the dataset's contract checks in this scan
    pub checks: Vec<CheckRecord>,
}

/// A contract check's outcome in one scan, as recorded (never rows: where the failing
/// rows went, and how many).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRecord {
    pub check_id: String,
    pub check_type: String,
    pub name: String,
    pub column: Option<String>,
    pub outcome: crate::results::Outcome,
    pub value: Option<f64>,
    /// the threshold as compact JSON (`{"must_be": 0}`)
    pub threshold: String,
    /// where failing rows were captured: store, table, how many
    pub failed_rows: Option<(String, String, usize)>,
}

impl CheckRecord {
    /// A check of a results document, as the history keeps it.
    pub fn of(c: &crate::results::CheckResult) -> CheckRecord {
        CheckRecord {
            check_id: c.id.clone(),
            check_type: c.check_type.clone(),
            name: c.name.clone(),
            column: c.column.clone(),
            outcome: c.outcome,
            value: c.value,
            threshold: c.threshold.to_string(),
            failed_rows: c
                .failed_rows
                .as_ref()
                .filter(|f| f.error.is_none())
                .map(|f| (f.store.clone(), f.table.clone(), f.captured)),
        }
    }
}

/// One recorded series of a dataset, for reports: times in seconds, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRows {
    pub column: Option<String>,
    pub metric: String,
    pub points: Vec<SeriesValue>,
}

/// A recorded point of a series: the report's own type (report/ knows nothing of scans;
/// the history's read produces what the page draws).
pub use crate::report::html::SeriesPoint as SeriesValue;

/// A recorded check outcome, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRow {
    pub scan_id: String,
    pub measured_at: String,
    pub data_source: String,
    pub dataset: String,
    pub check: CheckRecord,
}

/// Verdicts on a dataset's points, by (column, metric).
pub type Verdicts = HashMap<(Option<String>, String), Verdict>;

/// A whole scan, as it is recorded.
#[derive(Debug, Clone)]
pub struct ScanRecord {
    pub scan_id: String,
    /// the scan's timestamp (`--now`): every point of the scan is measured at it
    pub measured_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub data_sources: Vec<String>,
    pub datasets: Vec<DatasetRecord>,
}

/// A recorded point, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct PointRow {
    pub measured_at: String,
    pub data_source: String,
    pub dataset: String,
    pub column: Option<String>,
    pub metric: String,
    pub value: Option<f64>,
    /// the anomaly monitor's verdict then (None: not monitored)
    pub verdict: Option<RecordedVerdict>,
}

/// What the monitor said of a recorded point, as far as rebuilding a detector goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointOutcome {
    NotMonitored,
    Learning,
    Pass,
    Anomaly,
    Excluded,
}

impl PointOutcome {
    pub(super) fn named(text: &str) -> PointOutcome {
        match text {
            "learning" => PointOutcome::Learning,
            "pass" => PointOutcome::Pass,
            "anomaly" => PointOutcome::Anomaly,
            "excluded" => PointOutcome::Excluded,
            _ => PointOutcome::NotMonitored,
        }
    }
}

/// A recorded point of a monitored series, lean: times in seconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorPoint {
    pub at: i64,
    pub value: Option<f64>,
    pub outcome: PointOutcome,
    pub kind: Option<AnomalyKind>,
    /// a level shift: the time its baseline re-learns from
    pub reset_from: Option<i64>,
}

/// A verdict as recorded with its point.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedVerdict {
    pub outcome: PointOutcome,
    pub expected: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub kind: Option<AnomalyKind>,
    pub reason: Option<String>,
    /// a level shift: the time the baseline re-learns from
    pub reset_from: Option<String>,
}

/// A change a user accepted for one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub dataset: String,
    pub column: Option<String>,
    pub metric: String,
    /// the change is expected from this time on
    pub from: String,
    /// accepted when the series' latest point was this one
    pub measured_at: String,
}

pub struct HistoryStore {
    location: StoreLocation,
    keep: Duration,
    /// the store's tables were brought up to this version's columns (once per process)
    upgraded: std::sync::atomic::AtomicBool,
}

impl HistoryStore {
    pub fn from_config(config: &Config) -> HistoryStore {
        let h = &config.history;
        HistoryStore {
            location: StoreLocation::resolve(
                config,
                h.data_source.as_deref(),
                h.schema.clone(),
                "history.duckdb",
            ),
            keep: h.keep,
            upgraded: Default::default(),
        }
    }

    pub fn label(&self) -> &str {
        &self.location.label
    }

    /// Kept in an embedded file, which one connection at a time may open.
    pub fn is_embedded(&self) -> bool {
        self.location.is_embedded()
    }
}

/// Shared by the unit tests of the history's parts: a store in a folder of its own, a
/// runtime, and a scan to record.
#[cfg(test)]
pub(super) mod testing {
    use super::*;

    pub fn store(dir: &std::path::Path) -> HistoryStore {
        let mut config = Config {
            project_dir: dir.to_path_buf(),
            ..Config::default()
        };
        config.history.keep = Duration::from_secs(400 * 86_400);
        HistoryStore::from_config(&config)
    }

    pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A scan of `shop/main/orders` at `at` with its row count, and a column added.
    pub fn scan(id: &str, at: DateTime<Utc>, rows: f64) -> ScanRecord {
        ScanRecord {
            scan_id: id.into(),
            measured_at: at,
            ended_at: at,
            data_sources: vec!["shop".into()],
            datasets: vec![DatasetRecord {
                data_source: "shop".into(),
                dataset: "main/orders".into(),
                snapshot: Some(vec![SnapshotColumn {
                    name: "id".into(),
                    data_type: "integer".into(),
                    nullable: Some(false),
                }]),
                points: vec![Point {
                    column: None,
                    metric: "row_count".into(),
                    value: Some(rows),
                }],
                events: vec![(
                    Event {
                        kind: "column_added".into(),
                        column: Some("id".into()),
                        old: None,
                        new: Some("integer".into()),
                    },
                    Level::Warn,
                )],
                verdicts: Verdicts::new(),
                checks: Vec::new(),
            }],
        }
    }

    pub fn at(day: u32) -> DateTime<Utc> {
        parse_timestamp(&format!("2026-01-{day:02}T06:00:00Z")).unwrap()
    }
}

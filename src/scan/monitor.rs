//! The monitors of a scan, as a registry like checks and engines: each reads its own
//! settings, judges one dataset's observation against what the history holds of it (a
//! pure function), and says what the results document shows and what the history
//! records. `MONITORS` is the only list; a new kind is a file with a `Monitor` and a line
//! here (and its variant of `results::MonitorResult`, which every reporter must answer).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::anomalies::SeriesKey;
use super::history::{Accepted, MonitorPoint, Verdicts};
use super::profile::Point;
use super::schema_change::{Event, SnapshotColumn};
use crate::config::Config;
use crate::model::threshold::Level;
use crate::results::MonitorResult;
use crate::sql::dialect::Dialect;

/// One dataset as this scan saw it, and what the history holds of it.
pub struct Subject<'a> {
    pub config: &'a Config,
    pub data_source: &'a str,
    /// the dataset's path after its data source
    pub path: &'a str,
    pub dialect: &'a dyn Dialect,
    /// its columns now (None: the dataset is gone)
    pub snapshot: Option<&'a [SnapshotColumn]>,
    /// its columns at the last scan (None: not seen then)
    pub previous: Option<&'a [SnapshotColumn]>,
    /// whether the data source was scanned before at all
    pub source_seen_before: bool,
    /// what this scan measured (profile and check values)
    pub points: &'a [Point],
    /// the recorded points of the data source's monitored series
    pub past_points: &'a HashMap<SeriesKey, Vec<MonitorPoint>>,
    pub accepted: &'a [Accepted],
    pub now: DateTime<Utc>,
}

/// What monitors found: their results for the document, and what the history records
/// (schema events with their levels, the anomaly verdicts of points).
#[derive(Default)]
pub struct Finding {
    pub results: Vec<MonitorResult>,
    pub events: Vec<(Event, Level)>,
    pub verdicts: Verdicts,
}

/// A kind of monitor. Its settings are its own section of `scan:` in assay.yml, read into
/// `Config` by `config/scan.rs` (config sits below scan, so it cannot call monitors) and
/// taken from `Subject::config` when it judges.
pub trait Monitor: Sync {
    /// Its `type` in the results document.
    fn name(&self) -> &'static str;
    /// Judge the subject (pure: no I/O).
    fn judge(&self, subject: &Subject) -> Finding;
}

/// Every kind of monitor, in the order its results are shown.
pub static MONITORS: &[&dyn Monitor] =
    &[&super::schema_change::MONITOR, &super::anomalies::MONITOR];

/// What every monitor found of one dataset.
pub fn judge_all(subject: &Subject) -> Finding {
    let mut all = Finding::default();
    for m in MONITORS {
        let f = m.judge(subject);
        all.results.extend(f.results);
        all.events.extend(f.events);
        all.verdicts.extend(f.verdicts);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_monitor_is_listed_once_under_its_document_type() {
        let names: Vec<&str> = MONITORS.iter().map(|m| m.name()).collect();
        assert_eq!(names, ["schema_change", "anomaly"]);
    }
}

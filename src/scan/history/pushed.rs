//! A results document that arrived from elsewhere (`assay serve` receives them), as the
//! history keeps it: every dataset's check outcomes and, for a scan's document, its
//! profile points and schema changes. Never rows: the document holds none, and a check
//! keeps only where its failing rows went.

use std::collections::BTreeMap;

use super::*;
use crate::results::{MonitorOutcome, Results};

/// Why a document cannot be recorded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PushedError {
    #[error("'{member}' is not a timestamp: '{value}'")]
    Timestamp { member: &'static str, value: String },
    #[error("'{dataset}' names no data source (it is written data_source/path)")]
    Dataset { dataset: String },
    #[error("scan_id is empty")]
    NoScanId,
}

impl ScanRecord {
    /// The document as one scan of the history: its `now` is the time every point and
    /// outcome is measured at (as a scan's `--now` is).
    pub fn of_results(doc: &Results) -> Result<ScanRecord, PushedError> {
        if doc.scan_id.trim().is_empty() {
            return Err(PushedError::NoScanId);
        }
        let time = |member: &'static str, value: &str| {
            parse_timestamp(value).ok_or_else(|| PushedError::Timestamp {
                member,
                value: value.to_string(),
            })
        };
        let measured_at = time("now", &doc.now)?;
        let ended_at = time("ended_at", &doc.ended_at)?;
        let mut datasets: BTreeMap<(String, String), DatasetRecord> = BTreeMap::new();
        for d in &doc.datasets {
            let record = entry(&mut datasets, &d.dataset)?;
            record.checks.extend(d.checks.iter().map(CheckRecord::of));
        }
        let scanned = doc.scan.iter().flat_map(|s| &s.data_sources);
        for d in scanned.flat_map(|s| &s.datasets) {
            let record = entry(&mut datasets, &d.dataset)?;
            record.points.extend(d.profile.iter().map(|p| Point {
                column: p.column.clone(),
                metric: p.metric.clone(),
                value: p.value,
            }));
            for m in &d.monitors {
                let level = match m.outcome() {
                    MonitorOutcome::Fail => Level::Fail,
                    _ => Level::Warn,
                };
                record.events.extend(m.changes().iter().map(|e| {
                    (
                        Event {
                            kind: e.kind.clone(),
                            column: e.column.clone(),
                            old: e.old.clone(),
                            new: e.new.clone(),
                        },
                        level,
                    )
                }));
            }
        }
        let mut data_sources: Vec<String> = datasets.keys().map(|(s, _)| s.clone()).collect();
        data_sources.dedup();
        Ok(ScanRecord {
            scan_id: doc.scan_id.clone(),
            measured_at,
            ended_at,
            data_sources,
            datasets: datasets.into_values().collect(),
        })
    }
}

/// Whether a pushed scan was recorded now, or was already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    Already,
}

/// The scans that arrived pushed: one row each, its scan id the primary key, so a scan
/// delivered twice at once (an outbox re-delivery racing the first) is written once by
/// every engine, the second transaction rolling back whole.
pub const PUSHED: &str = "assay_pushed_scans";

impl HistoryStore {
    /// Record a scan that arrived pushed, once: a scan id the store already holds
    /// (pushed, or written by a scan into the same store) is `Already` and writes nothing.
    pub async fn record_pushed(
        &self,
        scan: &ScanRecord,
        client: &str,
        received_at: DateTime<Utc>,
    ) -> Result<Recorded, RunError> {
        // a scan that `assay scan` wrote into this store has no receipt: look first
        self.upgrade().await?;
        if self.holds_scan(&scan.scan_id).await? {
            return Ok(Recorded::Already);
        }
        let t = self.location.types();
        let key = format!("{} NOT NULL PRIMARY KEY", t.text);
        let mut statements = self.location.create_statements(&[(
            PUSHED,
            vec![
                ("scan_id", key.as_str()),
                ("received_at", t.timestamp),
                ("client", t.text),
            ],
        )]);
        // the receipt first: a second delivery fails on it before writing anything else
        statements.extend(self.location.inserts(
            PUSHED,
            &["scan_id", "received_at", "client"],
            vec![vec![
                Param::text(&scan.scan_id),
                Param::time(received_at),
                Param::text(client),
            ]],
        ));
        statements.extend(self.statements(scan));
        match self.location.execute(statements).await {
            Ok(()) => Ok(Recorded::New),
            // the same scan was recorded before, or by a request at the same moment
            Err(e) => match self.holds_scan(&scan.scan_id).await {
                Ok(true) => Ok(Recorded::Already),
                _ => Err(e),
            },
        }
    }

    /// Whether the store holds a scan of this id (none when it has no scans yet).
    async fn holds_scan(&self, scan_id: &str) -> Result<bool, RunError> {
        let sql = format!(
            "SELECT 1 FROM {} WHERE scan_id = {}",
            self.location.table(SCANS),
            self.location.dialect().string_literal(scan_id)
        );
        Ok(!self.rows(&sql).await?.is_empty())
    }
}

/// The record of a dataset (`data_source/path`) in the scan, made when it is first met.
fn entry<'a>(
    datasets: &'a mut BTreeMap<(String, String), DatasetRecord>,
    dataset: &str,
) -> Result<&'a mut DatasetRecord, PushedError> {
    let (source, path) = match dataset.split_once('/') {
        Some((s, p)) if !s.is_empty() && !p.is_empty() => (s, p),
        _ => {
            return Err(PushedError::Dataset {
                dataset: dataset.to_string(),
            })
        }
    };
    Ok(datasets
        .entry((source.to_string(), path.to_string()))
        .or_insert_with(|| DatasetRecord {
            data_source: source.to_string(),
            dataset: path.to_string(),
            snapshot: None,
            points: Vec::new(),
            events: Vec::new(),
            verdicts: Verdicts::new(),
            checks: Vec::new(),
        }))
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    fn document() -> Results {
        serde_json::from_value(serde_json::json!({
            "schema_version": "1",
            "scan_id": "3f1c",
            "tool": {"name": "assay", "version": "0.1.0"},
            "started_at": "2026-03-01T06:00:00Z",
            "ended_at": "2026-03-01T06:00:02Z",
            "now": "2026-03-01T06:00:00Z",
            "outcome": "fail",
            "summary": {"checks": 2, "pass": 1, "warn": 0, "fail": 1, "not_evaluated": 0},
            "datasets": [{
                "data_source": "shop", "dataset": "shop/main/orders", "contract": "c.yml",
                "dataset_rows_tested": 10, "outcome": "fail", "duration_ms": 3,
                "checks": [
                    {"id": "checks/row_count", "type": "row_count", "name": "Row count",
                     "level": "fail", "threshold": {"must_be_greater_than": 0},
                     "outcome": "pass", "value": 10.0, "diagnostics": {}},
                    {"id": "columns/email/missing", "type": "missing", "column": "email",
                     "name": "No missing values", "level": "fail", "threshold": {"must_be": 0},
                     "outcome": "fail", "value": 2.0, "diagnostics": {"missing_count": 2},
                     "failed_rows": {"captured": 2, "store": "duckdb .assay/diagnostics.duckdb",
                                     "table": "assay_failed_rows"}}
                ]
            }],
            "scan": {"history": "duckdb .assay/history.duckdb", "data_sources": [{
                "data_source": "shop", "datasets": [{
                    "dataset": "shop/main/orders", "view": false,
                    "profile": [{"metric": "row_count", "value": 10.0},
                                {"column": "email", "metric": "missing_count", "value": 2.0}],
                    "monitors": [{"type": "schema_change", "outcome": "fail",
                                  "events": [{"kind": "column_removed", "column": "phone",
                                              "old": "varchar"}]}]
                }]
            }]}
        }))
        .unwrap()
    }

    /// Checks, profile points and schema changes of one document land in the same
    /// dataset's record, and read back from a real store as a scan's would.
    #[test]
    fn a_document_becomes_one_scan_of_the_history() {
        let record = ScanRecord::of_results(&document()).unwrap();
        assert_eq!(record.data_sources, ["shop"]);
        assert_eq!(record.datasets.len(), 1);
        let d = &record.datasets[0];
        assert_eq!(
            (d.data_source.as_str(), d.dataset.as_str()),
            ("shop", "main/orders")
        );
        assert_eq!(d.checks.len(), 2);
        assert_eq!(d.points.len(), 2);
        assert_eq!(d.events.len(), 1);
        assert_eq!(d.events[0].1, Level::Fail);
        let dir = tempfile::tempdir().unwrap();
        let store = testing::store(dir.path());
        testing::block_on(async {
            store.record(&record).await.unwrap();
            let points = store
                .points(Some("shop/main/orders"), Some("row_count"))
                .await
                .unwrap();
            assert_eq!(points.len(), 1);
            assert_eq!(points[0].value, Some(10.0));
        });
    }

    /// The same scan pushed twice is recorded once; a scan the store got from elsewhere
    /// counts as recorded too.
    #[test]
    fn a_scan_pushed_twice_is_recorded_once() {
        let mut doc = document();
        doc.scan_id = "0b6f6f3e-8d1c-4c39-9a57-2f1d1f0c2a11".into();
        let record = ScanRecord::of_results(&doc).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = testing::store(dir.path());
        let at = testing::at(2);
        testing::block_on(async {
            assert_eq!(
                store.record_pushed(&record, "ci", at).await.unwrap(),
                Recorded::New
            );
            assert_eq!(
                store.record_pushed(&record, "ci", at).await.unwrap(),
                Recorded::Already
            );
            let checks = store.checks(None, None).await.unwrap();
            assert_eq!(checks.len(), 2, "{checks:?}");
        });
    }

    #[test]
    fn a_document_that_cannot_be_placed_in_time_or_space_is_refused() {
        let mut doc = document();
        doc.now = "yesterday".into();
        assert_eq!(
            ScanRecord::of_results(&doc).unwrap_err(),
            PushedError::Timestamp {
                member: "now",
                value: "yesterday".into()
            }
        );
        let mut doc = document();
        doc.datasets[0].dataset = "orders".into();
        assert!(matches!(
            ScanRecord::of_results(&doc),
            Err(PushedError::Dataset { .. })
        ));
    }
}

//! Writing the history: a scan in one transaction (and the old points it retires), and
//! an accepted change.

use super::*;

/// The columns every row of a scan's tables starts with.
const DATASET_COLUMNS: [&str; 4] = ["scan_id", "measured_at", "data_source", "dataset"];
const POINT_COLUMNS: [&str; 10] = [
    "column_name",
    "metric",
    "value",
    "outcome",
    "expected",
    "lower_bound",
    "upper_bound",
    "anomaly_kind",
    "reason",
    "reset_from",
];
const CHECK_COLUMNS: [&str; 10] = [
    "check_id",
    "check_type",
    "check_name",
    "column_name",
    "outcome",
    "value",
    "threshold",
    "failed_rows_store",
    "failed_rows_table",
    "failed_rows_captured",
];
const EVENT_COLUMNS: [&str; 5] = ["kind", "column_name", "old_value", "new_value", "level"];

/// A point's row after `base`: its value and, when a monitor judged it, the verdict.
fn point_row(mut row: Vec<Param>, p: &Point, verdict: Option<&Verdict>) -> Vec<Param> {
    let (opt, number) = (Param::opt_text, Param::number);
    row.extend([
        opt(p.column.as_deref()),
        Param::text(&p.metric),
        number(p.value),
    ]);
    match verdict {
        Some(v) => row.extend([
            Param::text(v.judgement.as_str()),
            number(v.expected),
            number(v.lower),
            number(v.upper),
            opt(v.judgement.kind().map(AnomalyKind::as_str)),
            // a passing point's reason says nothing the bounds do not
            opt((v.judgement != Judgement::Normal).then_some(v.reason.as_str())),
            v.reset_from
                .and_then(|t| DateTime::from_timestamp(t, 0))
                .map_or(Param::Null, Param::time),
        ]),
        None => row.extend(std::iter::repeat_n(Param::Null, 7)),
    }
    row
}

/// A check's row after `base`: its outcome, value, threshold and failed rows.
fn check_row(mut row: Vec<Param>, c: &CheckRecord) -> Vec<Param> {
    let (text, opt) = (Param::text, Param::opt_text);
    let rows = c.failed_rows.as_ref();
    row.extend([
        text(&c.check_id),
        text(&c.check_type),
        text(&c.name),
        opt(c.column.as_deref()),
        text(c.outcome.as_str()),
        Param::number(c.value),
        text(&c.threshold),
        opt(rows.map(|(store, _, _)| store.as_str())),
        opt(rows.map(|(_, table, _)| table.as_str())),
        Param::number(rows.map(|(_, _, n)| *n as f64)),
    ]);
    row
}

/// A schema change's row after `base`.
fn event_row(mut row: Vec<Param>, e: &Event, level: Level) -> Vec<Param> {
    let opt = Param::opt_text;
    row.extend([
        Param::text(&e.kind),
        opt(e.column.as_deref()),
        opt(e.old.as_deref()),
        opt(e.new.as_deref()),
        Param::text(level.as_str()),
    ]);
    row
}

impl HistoryStore {
    /// Every statement of one scan: tables when missing, its rows, retention, and the
    /// scan's own row last.
    pub(super) fn statements(&self, scan: &ScanRecord) -> Vec<Statement> {
        let text = Param::text;
        let at = Param::time(scan.measured_at);
        let id = text(&scan.scan_id);
        let mut out = self.create();
        let base = |r: &DatasetRecord| {
            vec![
                id.clone(),
                at.clone(),
                text(&r.data_source),
                text(&r.dataset),
            ]
        };
        let mut points = Vec::new();
        let mut snapshots = Vec::new();
        let mut events = Vec::new();
        let mut checks = Vec::new();
        for r in &scan.datasets {
            for p in &r.points {
                let verdict = r.verdicts.get(&(p.column.clone(), p.metric.clone()));
                points.push(point_row(base(r), p, verdict));
            }
            if let Some(cols) = &r.snapshot {
                let mut row = base(r);
                row.push(text(&serde_json::to_string(cols).unwrap_or_default()));
                snapshots.push(row);
            }
            checks.extend(r.checks.iter().map(|c| check_row(base(r), c)));
            events.extend(
                r.events
                    .iter()
                    .map(|(e, level)| event_row(base(r), e, *level)),
            );
        }
        for (table, extra, rows) in [
            (POINTS, &POINT_COLUMNS[..], points),
            (SNAPSHOTS, &["columns"][..], snapshots),
            (CHECKS, &CHECK_COLUMNS[..], checks),
            (EVENTS, &EVENT_COLUMNS[..], events),
        ] {
            let columns: Vec<&str> = DATASET_COLUMNS.iter().chain(extra).copied().collect();
            out.extend(self.location.inserts(table, &columns, rows));
        }
        out.extend(self.retention(scan.measured_at));
        out.extend(self.location.inserts(
            SCANS,
            &["scan_id", "measured_at", "ended_at", "data_sources"],
            vec![vec![
                id.clone(),
                at.clone(),
                Param::time(scan.ended_at),
                text(&scan.data_sources.join(",")),
            ]],
        ));
        out
    }

    /// The statements that remove what is older than the store keeps, as of `now`.
    fn retention(&self, now: DateTime<Utc>) -> Vec<Statement> {
        let keep = chrono::Duration::from_std(self.keep).unwrap_or(chrono::Duration::MAX);
        // a keep longer than the calendar keeps everything
        let cutoff = Param::time(
            now.checked_sub_signed(keep)
                .unwrap_or(earliest())
                .max(earliest()),
        );
        [POINTS, SNAPSHOTS, EVENTS, CHECKS, ACCEPTED, SCANS]
            .into_iter()
            .map(|table| Statement {
                sql: format!(
                    "DELETE FROM {} WHERE measured_at < {}",
                    self.location.table(table),
                    self.location.dialect().placeholder(1)
                ),
                params: vec![cutoff.clone()],
            })
            .collect()
    }

    /// Record a scan: all of it, or (on any error) nothing.
    pub async fn record(&self, scan: &ScanRecord) -> Result<(), RunError> {
        self.upgrade().await?;
        self.location.execute(self.statements(scan)).await
    }

    /// Record that a series' change from `from` is expected.
    pub async fn accept(
        &self,
        dataset: &str,
        column: Option<&str>,
        metric: &str,
        from: DateTime<Utc>,
        measured_at: DateTime<Utc>,
    ) -> Result<(), RunError> {
        let (source, path) = dataset.split_once('/').unwrap_or((dataset, ""));
        let text = Param::text;
        let time = Param::time;
        let mut statements = self.create();
        statements.extend(self.location.inserts(
            ACCEPTED,
            &[
                "measured_at",
                "data_source",
                "dataset",
                "column_name",
                "metric",
                "from_at",
            ],
            vec![vec![
                time(measured_at),
                text(source),
                text(path),
                Param::opt_text(column),
                text(metric),
                time(from),
            ]],
        ));
        self.location.execute(statements).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{self, at, scan};

    /// A scan is recorded whole and read back point by point; an accepted change is
    /// kept with the time it applies from.
    #[test]
    fn scans_and_accepted_changes_are_recorded_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::store(dir.path());
        testing::block_on(async {
            store.record(&scan("s1", at(1), 100.0)).await.unwrap();
            store.record(&scan("s2", at(2), 103.0)).await.unwrap();
            let points = store
                .points(Some("shop/main/orders"), Some("row_count"))
                .await
                .unwrap();
            let values: Vec<Option<f64>> = points.iter().map(|p| p.value).collect();
            assert_eq!(values, [Some(100.0), Some(103.0)]);
            assert!(
                points[0].measured_at.starts_with("2026-01-01"),
                "{points:?}"
            );
            store
                .accept("shop/main/orders", None, "row_count", at(2), at(2))
                .await
                .unwrap();
            let accepted = store.accepted(Some("shop")).await.unwrap();
            assert_eq!(accepted.len(), 1, "{accepted:?}");
            assert_eq!(accepted[0].metric, "row_count");
        });
    }
}

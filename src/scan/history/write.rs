//! Writing the history: a scan in one transaction (and the old points it retires), and
//! an accepted change.

use super::*;

impl HistoryStore {
    /// Every statement of one scan: tables when missing, its rows, retention, and the
    /// scan's own row last.
    pub(super) fn statements(&self, scan: &ScanRecord) -> Vec<Statement> {
        let d = self.location.dialect();
        let text = Param::text;
        let opt = Param::opt_text;
        let time = Param::time;
        let at = time(scan.measured_at);
        let id = text(&scan.scan_id);
        let mut out = self.create();
        let insert = |out: &mut Vec<Statement>, table: &str, columns: &[&str], rows| {
            out.extend(self.location.inserts(table, columns, rows));
        };
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
        let number = Param::number;
        for r in &scan.datasets {
            for p in &r.points {
                let mut row = base(r);
                row.extend([opt(p.column.as_deref()), text(&p.metric), number(p.value)]);
                match r.verdicts.get(&(p.column.clone(), p.metric.clone())) {
                    Some(v) => row.extend([
                        text(v.judgement.as_str()),
                        number(v.expected),
                        number(v.lower),
                        number(v.upper),
                        opt(v.judgement.kind().map(AnomalyKind::as_str)),
                        // a passing point's reason says nothing the bounds do not
                        opt((v.judgement != Judgement::Normal).then_some(v.reason.as_str())),
                        v.reset_from
                            .and_then(|t| DateTime::from_timestamp(t, 0))
                            .map_or(Param::Null, time),
                    ]),
                    None => row.extend(std::iter::repeat_n(Param::Null, 7)),
                }
                points.push(row);
            }
            if let Some(cols) = &r.snapshot {
                let mut row = base(r);
                row.push(text(&serde_json::to_string(cols).unwrap_or_default()));
                snapshots.push(row);
            }
            for c in &r.checks {
                let mut row = base(r);
                let rows = c.failed_rows.as_ref();
                row.extend([
                    text(&c.check_id),
                    text(&c.check_type),
                    text(&c.name),
                    opt(c.column.as_deref()),
                    text(c.outcome.as_str()),
                    number(c.value),
                    text(&c.threshold),
                    opt(rows.map(|(store, _, _)| store.as_str())),
                    opt(rows.map(|(_, table, _)| table.as_str())),
                    number(rows.map(|(_, _, n)| *n as f64)),
                ]);
                checks.push(row);
            }
            for (e, level) in &r.events {
                let mut row = base(r);
                row.extend([
                    text(&e.kind),
                    opt(e.column.as_deref()),
                    opt(e.old.as_deref()),
                    opt(e.new.as_deref()),
                    text(level.as_str()),
                ]);
                events.push(row);
            }
        }
        let common = ["scan_id", "measured_at", "data_source", "dataset"];
        let with = |extra: &[&'static str]| -> Vec<&'static str> {
            common
                .iter()
                .copied()
                .chain(extra.iter().copied())
                .collect()
        };
        insert(
            &mut out,
            POINTS,
            &with(&[
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
            ]),
            points,
        );
        insert(&mut out, SNAPSHOTS, &with(&["columns"]), snapshots);
        insert(
            &mut out,
            CHECKS,
            &with(&[
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
            ]),
            checks,
        );
        insert(
            &mut out,
            EVENTS,
            &with(&["kind", "column_name", "old_value", "new_value", "level"]),
            events,
        );
        let keep = chrono::Duration::from_std(self.keep).unwrap_or(chrono::Duration::MAX);
        // a keep longer than the calendar keeps everything
        let cutoff = time(
            scan.measured_at
                .checked_sub_signed(keep)
                .unwrap_or(earliest())
                .max(earliest()),
        );
        for table in [POINTS, SNAPSHOTS, EVENTS, CHECKS, ACCEPTED, SCANS] {
            out.push(Statement {
                sql: format!(
                    "DELETE FROM {} WHERE measured_at < {}",
                    self.location.table(table),
                    d.placeholder(1)
                ),
                params: vec![cutoff.clone()],
            });
        }
        insert(
            &mut out,
            SCANS,
            &["scan_id", "measured_at", "ended_at", "data_sources"],
            vec![vec![
                id.clone(),
                at.clone(),
                time(scan.ended_at),
                text(&scan.data_sources.join(",")),
            ]],
        );
        out
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

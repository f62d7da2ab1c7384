//! Anomaly monitors on arrival: a pushed scan's profile points are judged by the
//! server's own `scan.anomalies` settings against the server's history, which holds
//! every runner's points, not the one runner's that sent it. The verdicts are recorded
//! with the points (so the next arrival judges as a scan would) and replace the runner's
//! own anomaly results in what the server's notifications are told: one message per
//! incident, as scans send.

use std::collections::{BTreeMap, HashMap};

use super::ServeState;
use crate::error::RunError;
use crate::results::{MonitorResult, Results};
use crate::scan::anomalies;
use crate::scan::history::ScanRecord;

/// Judge every monitored point of `record` (a pushed scan), fill in its verdicts, and
/// put the server's anomaly results into `doc` in place of the runner's.
pub(super) async fn judge_arrival(
    app: &ServeState,
    doc: &mut Results,
    record: &mut ScanRecord,
) -> Result<(), RunError> {
    let config = &app.anomalies;
    let now = record.measured_at;
    let mut judged: HashMap<String, Vec<MonitorResult>> = HashMap::new();
    let mut by_source: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, d) in record.datasets.iter().enumerate() {
        by_source.entry(d.data_source.clone()).or_default().push(i);
    }
    for (source, indexes) in by_source {
        let mut metrics: Vec<String> = indexes
            .iter()
            .flat_map(|&i| {
                let d = &record.datasets[i];
                let dataset = format!("{}/{}", d.data_source, d.dataset);
                d.points
                    .iter()
                    .filter(move |p| {
                        config
                            .for_series(&dataset, p.column.as_deref(), &p.metric)
                            .is_some()
                    })
                    .map(|p| p.metric.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        metrics.sort();
        metrics.dedup();
        if metrics.is_empty() {
            continue;
        }
        let earliest = crate::scan::history::earliest();
        let since = now
            .checked_sub_signed(anomalies::horizon(config, app.keep))
            .unwrap_or(earliest)
            .max(earliest);
        let (history, accepted) = {
            let _store = app.turn().await;
            (
                app.history.monitor_points(&source, &metrics, since).await?,
                app.history.accepted(Some(&source)).await?,
            )
        };
        for i in indexes {
            let d = &mut record.datasets[i];
            let (verdicts, results) = anomalies::judge(
                config, &source, &d.dataset, &d.points, &history, &accepted, now,
            );
            d.verdicts = verdicts;
            judged.insert(format!("{source}/{}", d.dataset), results);
        }
    }
    if judged.is_empty() {
        return Ok(());
    }
    for scanned in doc.scan.iter_mut().flat_map(|s| s.data_sources.iter_mut()) {
        for d in &mut scanned.datasets {
            if let Some(results) = judged.remove(&d.dataset) {
                d.monitors
                    .retain(|m| !matches!(m, MonitorResult::Anomaly(_)));
                d.monitors.extend(results);
            }
        }
    }
    Ok(())
}

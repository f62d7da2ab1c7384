//! The anomaly monitors of a scan: every monitored series (a dataset's metric, per
//! column where it has one) is judged at the scan's time from its recorded history,
//! with the verdicts recorded then: a flagged point stays out of later baselines, a
//! level shift or an accepted change resets them. The detector is rebuilt from what was
//! recorded, so a scan judges exactly as `assay history backtest` replays.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::history::{Accepted, MonitorPoint, PointOutcome, Verdicts};
use super::profile::Point;
use crate::anomaly::series::{infer_step, timestamp_text};
use crate::anomaly::{AnomalyKind, Detector, DetectorSettings, Judgement, Mark, Past, Verdict};
use crate::config::AnomalyConfig;
use crate::model::threshold::Level;
use crate::results::{AnomalyResult, AnomalyVerdict, IncidentRef, MonitorOutcome, MonitorResult};
use crate::timestamp::parse_timestamp;

/// A series: dataset path (within its data source), column, metric.
pub type SeriesKey = (String, Option<String>, String);

/// How far back a scan reads history: the detector's window (eight weeks) and a day,
/// or the whole kept history when month ends or a long minimum history need it.
pub fn horizon(config: &AnomalyConfig, keep: std::time::Duration) -> chrono::Duration {
    let tunings = std::iter::once(&config.base).chain(config.overrides.iter().map(|o| &o.tuning));
    let long = tunings
        .clone()
        .any(|t| t.month_end == Some(true) || t.min_history.is_some_and(|m| m > 56));
    if long {
        chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::days(400))
    } else {
        chrono::Duration::days(57)
    }
}

fn seconds(text: &str) -> Option<i64> {
    parse_timestamp(text).map(|t| t.timestamp())
}

/// The detector for one series, as its recorded verdicts left it before `now`.
pub fn rebuild(
    settings: DetectorSettings,
    rows: &[MonitorPoint],
    accepted: &[&Accepted],
    now: i64,
) -> Detector {
    let points: Vec<(i64, f64, &MonitorPoint)> = rows
        .iter()
        .filter_map(|r| Some((r.at, r.value?, r)))
        .filter(|(at, _, _)| *at < now)
        .collect();
    let mut times: Vec<i64> = points.iter().map(|p| p.0).collect();
    times.push(now);
    let excluded = settings.excluded.clone();
    let mut d = Detector::new(settings, infer_step(&times));
    let mut accepts: Vec<(i64, i64)> = accepted
        .iter()
        .filter_map(|a| Some((seconds(&a.measured_at)?, seconds(&a.from)?)))
        .collect();
    accepts.sort();
    let mut next_accept = 0;
    for (at, value, row) in points {
        // an accepted change applies to what was recorded when it was accepted
        while next_accept < accepts.len() && accepts[next_accept].0 < at {
            d.reset(accepts[next_accept].1);
            next_accept += 1;
        }
        let mark = if excluded.iter().any(|&(s, e)| at >= s && at < e) {
            Mark::Excluded
        } else {
            match (row.outcome, row.kind) {
                (PointOutcome::Anomaly, Some(k)) if k != AnomalyKind::LevelShift => {
                    Mark::Flagged(k)
                }
                (PointOutcome::Excluded, _) => Mark::Excluded,
                _ => Mark::Normal,
            }
        };
        d.push(
            Past { at, value, mark },
            row.outcome == PointOutcome::Anomaly,
        );
        if let Some(from) = row.reset_from {
            d.reset(from);
        }
    }
    for &(_, from) in &accepts[next_accept..] {
        d.reset(from);
    }
    d
}

/// Judge a dataset's new points (those the config monitors) at `now`: the verdicts to
/// record with them and the monitor results to report.
pub fn judge(
    config: &AnomalyConfig,
    source: &str,
    path: &str,
    points: &[Point],
    history: &HashMap<SeriesKey, Vec<MonitorPoint>>,
    accepted: &[Accepted],
    now: DateTime<Utc>,
) -> (Verdicts, Vec<MonitorResult>) {
    let dataset = format!("{source}/{path}");
    let mut verdicts = HashMap::new();
    let mut results = Vec::new();
    for p in points {
        let Some((settings, level)) = config.for_series(&dataset, p.column.as_deref(), &p.metric)
        else {
            continue;
        };
        let Some(value) = p.value.filter(|v| v.is_finite()) else {
            continue;
        };
        let key = (path.to_string(), p.column.clone(), p.metric.clone());
        let rows = history.get(&key).map_or(&[][..], Vec::as_slice);
        let accepts: Vec<&Accepted> = accepted
            .iter()
            .filter(|a| a.dataset == dataset && a.column == p.column && a.metric == p.metric)
            .collect();
        let mut detector = rebuild(settings, rows, &accepts, now.timestamp());
        let verdict = detector.judge(now.timestamp(), value);
        results.push(monitor_result(p, value, &verdict, level, now.timestamp()));
        verdicts.insert((p.column.clone(), p.metric.clone()), verdict);
    }
    (verdicts, results)
}

/// The anomaly monitor: each monitored series' new point judged against its recorded
/// points (the detector rebuilt from their verdicts), as `scan.monitors.anomalies` says.
pub struct AnomalyMonitor;
pub static MONITOR: AnomalyMonitor = AnomalyMonitor;

impl super::monitor::Monitor for AnomalyMonitor {
    fn name(&self) -> &'static str {
        "anomaly"
    }

    fn judge(&self, s: &super::monitor::Subject) -> super::monitor::Finding {
        let (verdicts, results) = judge(
            &s.config.scan.anomalies,
            s.data_source,
            s.path,
            s.points,
            s.past_points,
            s.accepted,
            s.now,
        );
        super::monitor::Finding {
            results,
            events: Vec::new(),
            verdicts,
        }
    }
}

fn monitor_result(p: &Point, value: f64, v: &Verdict, level: Level, at: i64) -> MonitorResult {
    let outcome = match v.judgement {
        Judgement::Learning => MonitorOutcome::Learning,
        Judgement::Excluded => MonitorOutcome::Excluded,
        Judgement::Normal => MonitorOutcome::Pass,
        Judgement::Anomaly(_) => MonitorOutcome::from_level(level),
    };
    MonitorResult::Anomaly(AnomalyResult {
        metric: Some(p.metric.clone()),
        column: p.column.clone(),
        outcome,
        events: [],
        verdict: AnomalyVerdict {
            value: Some(value),
            expected: v.expected,
            lower: v.lower,
            upper: v.upper,
            kind: v.judgement.kind().map(|k| k.as_str().to_string()),
            reason: v.reason.clone(),
            incident: v.incident.map(|start| IncidentRef {
                start: timestamp_text(start),
                new: !v.continues_incident(at),
            }),
        },
    })
}

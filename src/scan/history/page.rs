//! The report's page from what the history holds: series, schema changes and check
//! outcomes shaped into the report model (`report::html::Page`), which knows nothing of
//! the store.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};

use super::{CheckRow, EventRow, ReportHistory, SeriesRows};
use crate::config::Glob;
use crate::report::html::{CheckLine, DatasetPage, Page, SchemaEvent, Series};
use crate::results::Outcome;
use crate::timestamp::parse_timestamp;

/// A series by (dataset, column, metric).
type SeriesByKey = BTreeMap<(String, Option<String>, String), Series>;

/// The page of the history read since `from` (seconds); with globs, of the datasets
/// they select.
pub fn history_page(read: ReportHistory, from: i64, globs: &[Glob]) -> Page {
    let selected = |name: &str| globs.is_empty() || globs.iter().any(|g| g.matches(name));
    let mut datasets: BTreeMap<String, DatasetPage> = BTreeMap::new();
    let mut range = (i64::MAX, i64::MIN);
    let mut series = collect_series(read.series, &selected, &mut datasets, &mut range);
    add_events(&read.events, from, &selected, &mut datasets);
    add_checks(
        &read.checks,
        from,
        &selected,
        &mut datasets,
        &mut series,
        &mut range,
    );
    mark_time_series(&mut series);
    attach_series(series, &mut datasets);
    let mut sources: Vec<String> = datasets
        .keys()
        .filter_map(|n| n.split('/').next())
        .map(str::to_string)
        .collect();
    sources.dedup();
    let (first, last) = range;
    // one moment recorded (a verify without scans before it): the page of a run
    let single_run = first == last;
    Page {
        title: if single_run {
            "Data quality of one run".into()
        } else {
            "Data quality report".into()
        },
        generated_at: String::new(),
        range: (first <= last).then_some((first, last)),
        data_sources: sources,
        datasets: datasets.into_values().collect(),
        single_run,
    }
}

fn dataset<'d>(datasets: &'d mut BTreeMap<String, DatasetPage>, name: &str) -> &'d mut DatasetPage {
    datasets
        .entry(name.to_string())
        .or_insert_with(|| DatasetPage {
            name: name.to_string(),
            ..DatasetPage::default()
        })
}

/// The recorded series of the selected datasets, each dataset given its page; `range`
/// grows to their first and last points.
fn collect_series(
    recorded: Vec<(String, Vec<SeriesRows>)>,
    selected: &dyn Fn(&str) -> bool,
    datasets: &mut BTreeMap<String, DatasetPage>,
    range: &mut (i64, i64),
) -> SeriesByKey {
    let mut series = SeriesByKey::new();
    for (name, rows) in recorded {
        if !selected(&name) {
            continue;
        }
        for s in rows {
            if let (Some(a), Some(b)) = (s.points.first(), s.points.last()) {
                range.0 = range.0.min(a.at);
                range.1 = range.1.max(b.at);
            }
            series.insert(
                (name.clone(), s.column.clone(), s.metric.clone()),
                Series {
                    points: s.points,
                    metric: s.metric,
                    column: s.column,
                    thresholds: Vec::new(),
                    times: false,
                    label: None,
                    unit: None,
                },
            );
        }
        dataset(datasets, &name);
    }
    series
}

/// Schema changes since `from`, on their datasets' pages.
fn add_events(
    events: &[EventRow],
    from: i64,
    selected: &dyn Fn(&str) -> bool,
    datasets: &mut BTreeMap<String, DatasetPage>,
) {
    for e in events {
        let Some(at) = seconds(&e.measured_at) else {
            continue;
        };
        if at < from || !selected(&e.dataset) {
            continue;
        }
        dataset(datasets, &e.dataset).events.push(SchemaEvent {
            at,
            text: event_text(e),
        });
    }
}

/// Check outcomes by dataset, scan by scan: the strip of the worst per scan, and the
/// latest scan's checks (their series titled by the check, with its threshold lines).
fn add_checks(
    checks: &[CheckRow],
    from: i64,
    selected: &dyn Fn(&str) -> bool,
    datasets: &mut BTreeMap<String, DatasetPage>,
    series: &mut SeriesByKey,
    range: &mut (i64, i64),
) {
    let mut by_dataset: BTreeMap<String, BTreeMap<(i64, String), Vec<&CheckRow>>> = BTreeMap::new();
    for c in checks {
        let name = format!("{}/{}", c.data_source, c.dataset);
        let Some(at) = seconds(&c.measured_at) else {
            continue;
        };
        if at < from || !selected(&name) {
            continue;
        }
        range.0 = range.0.min(at);
        range.1 = range.1.max(at);
        by_dataset
            .entry(name)
            .or_default()
            .entry((at, c.scan_id.clone()))
            .or_default()
            .push(c);
    }
    for (name, scans) in by_dataset {
        let d = dataset(datasets, &name);
        d.strip = scans
            .iter()
            .filter_map(|((at, _), rows)| {
                worst(rows.iter().map(|r| r.check.outcome)).map(|o| (*at, o))
            })
            .collect();
        let Some(((_, scan_id), latest)) = scans.iter().next_back() else {
            continue;
        };
        d.latest = worst(latest.iter().map(|r| r.check.outcome));
        d.checks = latest.iter().map(|r| check_line(r, scan_id)).collect();
        for r in latest {
            let key = (
                name.clone(),
                r.check.column.clone(),
                format!("check:{}", r.check.check_id),
            );
            if let Some(s) = series.get_mut(&key) {
                s.thresholds = threshold_lines(&r.check.threshold);
                // titled by the check's name, its values in the threshold's unit
                s.label = Some(r.check.name.clone());
                s.unit = check_unit(&r.check.threshold);
            }
        }
    }
}

fn check_line(r: &CheckRow, scan_id: &str) -> CheckLine {
    CheckLine {
        name: r.check.name.clone(),
        column: r.check.column.clone(),
        outcome: r.check.outcome,
        value: r.check.value,
        threshold: serde_json::from_str(&r.check.threshold)
            .map(|t| crate::report::threshold_words(&t))
            .unwrap_or_else(|_| r.check.threshold.clone()),
        failed_rows: r
            .check
            .failed_rows
            .as_ref()
            .map(|(store, table, n)| (store.clone(), table.clone(), scan_id.to_string(), *n)),
    }
}

/// A column with a freshness is a time column: its min and max are times.
fn mark_time_series(series: &mut SeriesByKey) {
    let time_columns: HashSet<(String, String)> = series
        .keys()
        .filter(|(_, _, metric)| metric == "freshness_seconds")
        .filter_map(|(name, column, _)| Some((name.clone(), column.clone()?)))
        .collect();
    for ((name, column, metric), s) in series.iter_mut() {
        if let Some(c) = column {
            s.times = (metric == "min" || metric == "max")
                && time_columns.contains(&(name.clone(), c.clone()));
        }
    }
}

/// Each series on its dataset's page, in a stable order (the dataset's own metrics, then
/// by column); a latest point that is an anomaly makes the monitor alerting, and the
/// freshest freshness is the dataset's.
fn attach_series(series: SeriesByKey, datasets: &mut BTreeMap<String, DatasetPage>) {
    for ((name, _, _), mut s) in series {
        let Some(d) = datasets.get_mut(&name) else {
            continue;
        };
        if let Some(p) = s.points.last() {
            if let Some(a) = &p.anomaly {
                let what = match &s.column {
                    Some(c) => format!("{} of {c}", s.metric),
                    None => s.metric.clone(),
                };
                d.alerting.push(format!("{what}: {a}"));
            }
            if s.metric == "freshness_seconds" {
                if let Some(v) = p.value {
                    d.freshness = Some(d.freshness.map_or(v, |f: f64| f.min(v)));
                }
            }
        }
        if s.metric == "freshness_seconds" {
            in_hours(&mut s);
        }
        d.series.push(s);
    }
    for d in datasets.values_mut() {
        d.series.sort_by_key(|s| {
            (
                s.column.is_some(),
                s.metric.starts_with("check:"),
                s.column.clone(),
                s.metric != "row_count",
                s.metric.clone(),
            )
        });
    }
}

fn seconds(text: &str) -> Option<i64> {
    parse_timestamp(text).map(|t: DateTime<Utc>| t.timestamp())
}

/// The worst of recorded outcomes, as the results document ranks them (not evaluated
/// above fail); None when there are none.
fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Option<Outcome> {
    let outcomes: Vec<Outcome> = outcomes.into_iter().collect();
    (!outcomes.is_empty()).then(|| crate::results::worst(outcomes))
}

/// Threshold lines from a check's threshold JSON: each bound with its words.
fn threshold_lines(json: &str) -> Vec<(f64, String)> {
    let Ok(serde_json::Value::Object(t)) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut add = |key: &str, v: &serde_json::Value| {
        if let Some(n) = v.as_f64() {
            out.push((n, format!("threshold: {} {n}", key.replace('_', " "))));
        }
    };
    for (k, v) in &t {
        match v {
            serde_json::Value::Object(range) => {
                for (rk, rv) in range {
                    add(&format!("{k} {rk}"), rv);
                }
            }
            v if k.starts_with("must") => add(k, v),
            _ => {}
        }
    }
    out
}

/// The unit a check's values are in, from its threshold: "%" for percents, "hours"
/// for a freshness in hours.
fn check_unit(json: &str) -> Option<String> {
    let t: serde_json::Value = serde_json::from_str(json).ok()?;
    if t.get("metric").and_then(|m| m.as_str()) == Some("percent") {
        return Some("%".into());
    }
    t.get("unit")
        .and_then(|u| u.as_str())
        .map(|u| format!("{u}s"))
}

/// A freshness series, recorded in seconds, drawn in hours (with its band).
fn in_hours(s: &mut Series) {
    let h = |v: &mut Option<f64>| {
        if let Some(x) = v.as_mut() {
            *x /= 3600.0;
        }
    };
    for p in &mut s.points {
        h(&mut p.value);
        h(&mut p.expected);
        h(&mut p.lower);
        h(&mut p.upper);
    }
    s.unit = Some("hours".into());
}

fn event_text(e: &EventRow) -> String {
    let column = e.event.column.as_deref().unwrap_or("");
    match (e.event.old.as_deref(), e.event.new.as_deref()) {
        (Some(o), Some(n)) => format!("{} {column}: {o} → {n}", e.event.kind.replace('_', " ")),
        (None, Some(n)) => format!("{} {column} ({n})", e.event.kind.replace('_', " ")),
        (Some(o), None) => format!("{} {column} (was {o})", e.event.kind.replace('_', " ")),
        (None, None) => format!("{} {column}", e.event.kind.replace('_', " ")),
    }
    .trim()
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_become_lines_with_their_words() {
        let between = threshold_lines(r#"{"must_be_between":{"greater_than":1,"less_than":5}}"#);
        assert_eq!(
            between,
            vec![
                (1.0, "threshold: must be between greater than 1".to_string()),
                (5.0, "threshold: must be between less than 5".to_string()),
            ]
        );
        assert_eq!(
            threshold_lines(r#"{"must_be": 0, "metric": "percent"}"#),
            vec![(0.0, "threshold: must be 0".to_string())]
        );
        assert!(threshold_lines("not json").is_empty());
        assert!(threshold_lines("[1, 2]").is_empty());
    }

    #[test]
    fn a_checks_unit_comes_from_its_threshold() {
        assert_eq!(check_unit(r#"{"metric":"percent"}"#).as_deref(), Some("%"));
        assert_eq!(check_unit(r#"{"unit":"hour"}"#).as_deref(), Some("hours"));
        assert_eq!(check_unit(r#"{"must_be": 0}"#), None);
        assert_eq!(check_unit("{"), None);
    }

    #[test]
    fn an_empty_history_is_a_page_without_a_range() {
        let read = ReportHistory {
            series: Vec::new(),
            events: Vec::new(),
            checks: Vec::new(),
        };
        let page = history_page(read, 0, &[]);
        assert_eq!(page.title, "Data quality report");
        assert!(page.range.is_none() && !page.single_run);
        assert!(page.datasets.is_empty() && page.data_sources.is_empty());
    }

    #[test]
    fn the_worst_outcome_ranks_as_the_results_do() {
        assert_eq!(worst(Vec::new()), None);
        assert_eq!(
            worst([Outcome::Pass, Outcome::Fail, Outcome::Warn]),
            Some(Outcome::Fail)
        );
    }
}

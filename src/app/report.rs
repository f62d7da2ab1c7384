//! `assay report`: one self-contained HTML page of data quality over time, from the
//! history store: what each scan measured, the monitors' verdicts, schema changes and
//! every check's outcome. The page itself is drawn by `report::html` (pure).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{runtime, AppError};
use crate::cli::ReportArgs;
use crate::config::Glob;
use crate::diag::Diag;
use crate::exit::Exit;
use crate::report::html::{self, CheckLine, DatasetPage, Page, SchemaEvent, Series};
use crate::results::Outcome;
use crate::scan::history::{
    CheckRecord, CheckRow, EventRow, HistoryStore, ReportHistory, SeriesRows,
};
use crate::timestamp::parse_timestamp;

pub fn run(args: &ReportArgs) -> Result<Exit, AppError> {
    let since = humantime::parse_duration(&args.since).map_err(|_| {
        Diag::plain(format!("--since '{}' is not a duration", args.since))
            .with_help("write it like 90d or 12h")
    })?;
    let globs = args
        .datasets
        .iter()
        .map(|g| {
            Glob::parse(g).map_err(|why| {
                Diag::plain(format!("dataset glob '{g}': {why}"))
                    .with_help("like shop/main/* or shop/**")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let history = super::history::project_history(args.common.config.as_ref())?;
    let now = Utc::now();
    let from = super::before(now, since);
    let runtime = runtime()?;
    let read = runtime.block_on(read_history(&history, from, &globs));
    runtime.shutdown_timeout(Duration::from_secs(2));
    let read = read.map_err(AppError::Runtime)?;
    let mut page = build(
        read.series,
        &read.events,
        &read.checks,
        from.timestamp(),
        &globs,
    );
    page.generated_at = now.format("%Y-%m-%d %H:%M UTC").to_string();
    let text = html::render(&page);
    let path = match &args.output {
        Some(p) => p.clone(),
        None => {
            // beside the history, in assay's own folder, which git ignores
            let dir = PathBuf::from(".assay");
            crate::paths::state_dir(&dir).map_err(|e| {
                AppError::Runtime(crate::error::RunError::io("create folder", &dir, e))
            })?;
            dir.join("report.html")
        }
    };
    super::write_file(&path, &text).map_err(AppError::Runtime)?;
    if !args.common.quiet {
        println!(
            "wrote {} ({} datasets, history {}, {} KiB)",
            path.display(),
            page.datasets.len(),
            history.label(),
            text.len().div_ceil(1024)
        );
    }
    Ok(Exit::Ok)
}

/// The page of one run (`-o html=PATH` of verify and scan): the history's page, with this
/// run's checks as the latest when the history does not hold them already. A history
/// that cannot be read leaves the run's own page, with a warning.
pub(super) fn run_page(results: &crate::results::Results, history: &HistoryStore) -> String {
    let now = Utc::now();
    // the 90 days before the run's own now (--now)
    let run_now = parse_timestamp(&results.now).unwrap_or(now);
    let from = super::before(run_now, Duration::from_secs(90 * 86_400));
    let read = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(read_history(history, from, &[]))
                .map_err(|e| e.to_string())
        });
    let ReportHistory {
        series,
        events,
        mut checks,
    } = match read {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(
                "the html report shows this run only: history {} could not be read: {}",
                history.label(),
                crate::secrets::mask(&e)
            );
            Default::default()
        }
    };
    if !checks.iter().any(|c| c.scan_id == results.scan_id) {
        for d in &results.datasets {
            let (source, path) = d.dataset.split_once('/').unwrap_or((&d.dataset, ""));
            checks.extend(d.checks.iter().map(|c| CheckRow {
                scan_id: results.scan_id.clone(),
                measured_at: results.now.clone(),
                data_source: source.to_string(),
                dataset: path.to_string(),
                check: CheckRecord::of(c),
            }));
        }
    }
    let mut page = build(series, &events, &checks, from.timestamp(), &[]);
    page.generated_at = now.format("%Y-%m-%d %H:%M UTC").to_string();
    html::render(&page)
}

/// The history since `from` as a page draws it; with globs, of the datasets they select
/// (the other series are never read).
async fn read_history(
    history: &HistoryStore,
    from: DateTime<Utc>,
    globs: &[Glob],
) -> Result<ReportHistory, crate::error::RunError> {
    let select = |name: &str| globs.iter().any(|g| g.matches(name));
    let select: Option<&(dyn Fn(&str) -> bool + Sync)> = (!globs.is_empty()).then_some(&select);
    history.report(from, select, html::STRIP).await
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

/// The page from what the history holds (points since `from`).
pub fn build(
    recorded: Vec<(String, Vec<SeriesRows>)>,
    events: &[EventRow],
    checks: &[CheckRow],
    from: i64,
    globs: &[Glob],
) -> Page {
    let selected = |name: &str| globs.is_empty() || globs.iter().any(|g| g.matches(name));
    let mut datasets: BTreeMap<String, DatasetPage> = BTreeMap::new();
    let mut series: BTreeMap<(String, Option<String>, String), Series> = BTreeMap::new();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for (name, rows) in recorded {
        if !selected(&name) {
            continue;
        }
        for s in rows {
            if let (Some(a), Some(b)) = (s.points.first(), s.points.last()) {
                first = first.min(a.at);
                last = last.max(b.at);
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
        datasets.entry(name.clone()).or_insert_with(|| DatasetPage {
            name,
            ..DatasetPage::default()
        });
    }
    for e in events {
        let Some(at) = seconds(&e.measured_at) else {
            continue;
        };
        if at < from || !selected(&e.dataset) {
            continue;
        }
        datasets
            .entry(e.dataset.clone())
            .or_insert_with(|| DatasetPage {
                name: e.dataset.clone(),
                ..DatasetPage::default()
            })
            .events
            .push(SchemaEvent {
                at,
                text: event_text(e),
            });
    }
    // check outcomes by dataset, scan by scan
    let mut by_scan: BTreeMap<String, Vec<(i64, String, &CheckRow)>> = BTreeMap::new();
    for c in checks {
        let name = format!("{}/{}", c.data_source, c.dataset);
        let Some(at) = seconds(&c.measured_at) else {
            continue;
        };
        if at < from || !selected(&name) {
            continue;
        }
        first = first.min(at);
        last = last.max(at);
        by_scan
            .entry(name)
            .or_default()
            .push((at, c.scan_id.clone(), c));
    }
    for (name, rows) in by_scan {
        let d = datasets.entry(name.clone()).or_insert_with(|| DatasetPage {
            name: name.clone(),
            ..DatasetPage::default()
        });
        let mut scans: BTreeMap<(i64, String), Vec<&CheckRow>> = BTreeMap::new();
        for (at, scan, row) in rows {
            scans.entry((at, scan)).or_default().push(row);
        }
        d.strip = scans
            .iter()
            .filter_map(|((at, _), rows)| {
                worst(rows.iter().map(|r| r.check.outcome)).map(|o| (*at, o))
            })
            .collect();
        if let Some(((_, scan_id), latest)) = scans.iter().next_back() {
            d.latest = worst(latest.iter().map(|r| r.check.outcome));
            d.checks = latest
                .iter()
                .map(|r| CheckLine {
                    name: r.check.name.clone(),
                    column: r.check.column.clone(),
                    outcome: r.check.outcome,
                    value: r.check.value,
                    threshold: serde_json::from_str(&r.check.threshold)
                        .map(|t| crate::report::threshold_words(&t))
                        .unwrap_or_else(|_| r.check.threshold.clone()),
                    failed_rows: r.check.failed_rows.as_ref().map(|(store, table, n)| {
                        (store.clone(), table.clone(), scan_id.clone(), *n)
                    }),
                })
                .collect();
            for r in latest {
                if let Some(s) = series.get_mut(&(
                    name.clone(),
                    r.check.column.clone(),
                    format!("check:{}", r.check.check_id),
                )) {
                    s.thresholds = threshold_lines(&r.check.threshold);
                    // titled by the check's name, its values in the threshold's unit
                    s.label = Some(r.check.name.clone());
                    s.unit = check_unit(&r.check.threshold);
                }
            }
        }
    }
    // a column with a freshness is a time column: its min and max are times
    let time_columns: std::collections::HashSet<(String, String)> = series
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
    // series in a stable order: the dataset's own metrics, then by column
    for ((name, _, _), s) in series {
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
        let mut s = s;
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
    let mut sources: Vec<String> = datasets
        .keys()
        .filter_map(|n| n.split('/').next())
        .map(str::to_string)
        .collect();
    sources.dedup();
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

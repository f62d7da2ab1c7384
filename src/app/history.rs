//! `assay history`: what scans recorded, as series of points (with a sparkline each and
//! the schema changes marked) or a dataset's schema over time; csv and json export.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::{config_path, runtime, AppError};
use crate::anomaly::show;
use crate::cli::{HistoryArgs, HistoryCommand, HistoryFormat, SeriesArgs};
use crate::config;
use crate::diag::unknown_word_help;
use crate::diag::Diag;
use crate::exit::Exit;
use crate::interp::Vars;
use crate::model::threshold::fmt_num;
use crate::scan::history::{EventRow, HistoryStore, PointRow};
use crate::timestamp::parse_timestamp;
use std::path::PathBuf;

/// `-o FORMAT[=PATH]`: table (default), csv or json, to stdout or a file.
pub fn output_of(text: Option<&str>) -> Result<(HistoryFormat, Option<PathBuf>), Diag> {
    let Some(text) = text else {
        return Ok((HistoryFormat::Table, None));
    };
    let (name, path) = match text.split_once('=') {
        Some((n, p)) if !p.is_empty() => (n, Some(PathBuf::from(p))),
        Some(_) => {
            return Err(Diag::plain(format!("-o '{text}' names no file"))
                .with_help("write it FORMAT=PATH, like json=verdicts.json"))
        }
        None => (text, None),
    };
    let format = match name {
        "table" => HistoryFormat::Table,
        "csv" => HistoryFormat::Csv,
        "json" => HistoryFormat::Json,
        other => {
            return Err(
                Diag::plain(format!("-o '{other}' is not an output format")).with_help(
                    unknown_word_help(other, &["table", "csv", "json"], "formats:"),
                ),
            )
        }
    };
    Ok((format, path))
}

pub fn run(args: &HistoryArgs) -> Result<Exit, AppError> {
    let config = args.common.config.as_ref();
    let output = args.output.as_deref();
    let schema = match &args.command {
        Some(HistoryCommand::Backtest(b)) => return super::backtest::run(b, output),
        Some(HistoryCommand::Export(series)) => {
            return series_command("export", series, None, output, config)
        }
        Some(HistoryCommand::Accept { series, at }) => {
            return series_command("accept", series, at.as_deref(), output, config)
        }
        Some(HistoryCommand::Schema { dataset }) => Some(dataset.as_str()),
        None => None,
    };
    let (format, path) = output_of(output)?;
    let since = match &args.since {
        None => None,
        Some(t) => Some(humantime::parse_duration(t).map_err(|_| {
            Diag::plain(format!("--since '{t}' is not a duration"))
                .with_help("write it like 30d or 12h")
        })?),
    };
    let dataset = schema.or(args.dataset.as_deref());
    let schema = schema.is_some();
    if let Some(d) = dataset {
        dataset_arg(d)?;
    }
    let history = project_history(config)?;
    let runtime = runtime()?;
    let text = runtime.block_on(async {
        let events = history.events(dataset, None).await?;
        if schema {
            let snapshots = history.snapshots(dataset.unwrap_or_default()).await?;
            return Ok(schema_text(&snapshots, &events));
        }
        let mut points = history.points(dataset, args.metric.as_deref()).await?;
        points.retain(|p| {
            args.column
                .as_ref()
                .is_none_or(|c| p.column.as_ref() == Some(c))
                && since.is_none_or(|s| recent(&p.measured_at, s))
        });
        Ok(match format {
            HistoryFormat::Table => series_text(&points, &events),
            HistoryFormat::Csv => csv_text(&points),
            HistoryFormat::Json => json_text(&points),
        })
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    let text: String = text.map_err(AppError::Runtime)?;
    super::write_out(path.as_deref(), &text)?;
    Ok(Exit::Ok)
}

/// The history store of the project's config (or the one `--config` names).
pub(super) fn project_history(config: Option<&PathBuf>) -> Result<HistoryStore, AppError> {
    let config = config::load(config_path(config)?.as_deref(), &[], &Vars::default())?;
    Ok(HistoryStore::from_config(&config))
}

fn dataset_arg(dataset: &str) -> Result<(), Diag> {
    if dataset.contains('/') {
        return Ok(());
    }
    // a sub-command's name mistyped reads as a dataset: say which was meant
    let help = match crate::diag::did_you_mean(dataset, ["schema", "export", "accept", "backtest"])
    {
        Some(sub) => format!("did you mean the sub-command '{sub}'? (assay history {sub} --help)"),
        None => "write it data_source/path, like shop/main/orders".to_string(),
    };
    Err(Diag::plain(format!("'{dataset}' is not a dataset")).with_help(help))
}

/// `export` and `accept`: one recorded series.
fn series_command(
    sub: &str,
    series: &SeriesArgs,
    at: Option<&str>,
    output: Option<&str>,
    config: Option<&PathBuf>,
) -> Result<Exit, AppError> {
    let (dataset, metric) = (series.dataset.as_str(), series.metric.as_str());
    dataset_arg(dataset)?;
    let at = match at {
        Some(t) => Some(parse_timestamp(t).ok_or_else(|| {
            Diag::plain(format!("--at '{t}' is not a time"))
                .with_help("write it like 2026-03-01T00:00:00Z or 2026-03-01")
        })?),
        None => None,
    };
    let (format, path) = output_of(output)?;
    if sub == "export" && format == HistoryFormat::Json {
        return Err(Diag::plain("a series is exported as csv")
            .with_help("-o csv=orders.csv; assay history DATASET -o json has every field")
            .into());
    }
    let history = project_history(config)?;
    let runtime = runtime()?;
    let column = series.column.as_deref();
    let result: Result<Result<String, Diag>, crate::error::RunError> = runtime.block_on(async {
        let mut points = history.points(Some(dataset), Some(metric)).await?;
        points.retain(|p| p.column.as_deref() == column);
        if points.is_empty() {
            let all = history.points(Some(dataset), None).await?;
            let mut names: Vec<String> = all
                .iter()
                .map(|p| match &p.column {
                    Some(c) => format!("{} --column {c}", p.metric),
                    None => p.metric.clone(),
                })
                .collect();
            names.sort();
            names.dedup();
            let help = if names.is_empty() {
                "no scan recorded this dataset; assay history lists what was recorded".to_string()
            } else {
                format!("recorded for it: {}", names.join(", "))
            };
            let what = match column {
                Some(c) => format!("{metric} of column {c}"),
                None => metric.to_string(),
            };
            return Ok(Err(Diag::plain(format!(
                "no recorded points of {what} in {dataset}"
            ))
            .with_help(help)));
        }
        if sub == "export" {
            let series: Vec<(i64, Option<f64>)> = points
                .iter()
                .filter_map(|p| Some((parse_timestamp(&p.measured_at)?.timestamp(), p.value)))
                .collect();
            return Ok(Ok(crate::anomaly::series::write(&series)));
        }
        let latest = points
            .last()
            .and_then(|p| parse_timestamp(&p.measured_at))
            .unwrap_or_else(Utc::now);
        let from = at.unwrap_or(latest);
        history
            .accept(dataset, column, metric, from, latest)
            .await?;
        let series = match column {
            Some(c) => format!("{dataset} {c} {metric}"),
            None => format!("{dataset} {metric}"),
        };
        Ok(Ok(format!(
            "accepted: {series} changes as of {}; its baseline re-learns from there\n",
            super::now_text(from)
        )))
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    let text = result.map_err(AppError::Runtime)??;
    super::write_out(path.as_deref(), &text)?;
    Ok(Exit::Ok)
}

fn recent(measured_at: &str, since: Duration) -> bool {
    let cutoff = super::before(Utc::now(), since);
    parse_timestamp(measured_at).is_some_and(|t| t >= cutoff)
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per point, scaled from the series' smallest to its largest value.
pub fn sparkline(values: &[Option<f64>]) -> String {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    let (lo, hi) = known
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if hi <= lo => BARS[3],
            Some(v) => BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize],
        })
        .collect()
}

fn event_text(e: &EventRow) -> String {
    let change = crate::report::change_text(
        &e.event.kind,
        e.event.column.as_deref(),
        e.event.old.as_deref(),
        e.event.new.as_deref(),
    );
    format!("{change} [{}]", e.level)
}

/// Per series a header with its sparkline, then its points, newest last; a point taken
/// when its dataset's schema changed is marked, the changes listed under it.
fn series_text(points: &[PointRow], events: &[EventRow]) -> String {
    let mut series: BTreeMap<(String, String, String), Vec<&PointRow>> = BTreeMap::new();
    for p in points {
        let key = (
            format!("{}/{}", p.data_source, p.dataset),
            p.column.clone().unwrap_or_default(),
            p.metric.clone(),
        );
        series.entry(key).or_default().push(p);
    }
    let mut changes: HashMap<(&str, &str), Vec<&EventRow>> = HashMap::new();
    for e in events {
        changes
            .entry((&e.dataset, &e.measured_at))
            .or_default()
            .push(e);
    }
    if series.is_empty() {
        return "no recorded points\n".to_string();
    }
    let mut out = String::new();
    for ((dataset, column, metric), points) in &series {
        let values: Vec<Option<f64>> = points.iter().map(|p| p.value).collect();
        let name = if column.is_empty() {
            metric.clone()
        } else {
            format!("{column} {metric}")
        };
        out.push_str(&format!(
            "{dataset}  {name}  {}  ({} points)\n",
            sparkline(&values),
            points.len()
        ));
        for p in points {
            let value = p.value.map_or("-".to_string(), fmt_num);
            let mark = changes.get(&(dataset.as_str(), p.measured_at.as_str()));
            let anomaly = p
                .verdict
                .as_ref()
                .filter(|v| v.outcome == crate::scan::history::PointOutcome::Anomaly)
                .map(|v| {
                    let range = match (v.lower, v.upper) {
                        (Some(l), Some(u)) => format!(" (expected {}..{})", show(l), show(u)),
                        _ => String::new(),
                    };
                    let kind = v.kind.map_or("anomaly", |k| k.as_str()).replace('_', " ");
                    format!("  ⚠ anomaly: {kind}{range}")
                })
                .unwrap_or_default();
            match mark {
                None => out.push_str(&format!("  {}  {value}{anomaly}\n", p.measured_at)),
                Some(evs) => {
                    out.push_str(&format!(
                        "  {}  {value}{anomaly}  ⚑ schema changed\n",
                        p.measured_at
                    ));
                    for e in evs {
                        out.push_str(&format!("      {}\n", event_text(e)));
                    }
                }
            }
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

fn csv_text(points: &[PointRow]) -> String {
    let mut out = String::from("measured_at,data_source,dataset,column,metric,value\n");
    for p in points {
        let fields = [
            p.measured_at.clone(),
            p.data_source.clone(),
            p.dataset.clone(),
            p.column.clone().unwrap_or_default(),
            p.metric.clone(),
            p.value.map(|v| v.to_string()).unwrap_or_default(),
        ];
        let fields: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

fn json_text(points: &[PointRow]) -> String {
    let rows: Vec<serde_json::Value> = points
        .iter()
        .map(|p| {
            json!({
                "measured_at": p.measured_at,
                "data_source": p.data_source,
                "dataset": p.dataset,
                "column": p.column,
                "metric": p.metric,
                "value": p.value,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&rows).expect("points serialize");
    s.push('\n');
    s
}

/// Each snapshot's columns, and the changes recorded with it.
fn schema_text(
    snapshots: &[(String, Vec<crate::scan::schema_change::SnapshotColumn>)],
    events: &[EventRow],
) -> String {
    if snapshots.is_empty() {
        return "no recorded schema\n".to_string();
    }
    // every time with a snapshot or a change, in order: a scan that found the dataset
    // gone (dataset_removed) has a change and no snapshot, and is shown all the same
    let mut times: Vec<&String> = snapshots
        .iter()
        .map(|(at, _)| at)
        .chain(events.iter().map(|e| &e.measured_at))
        .collect();
    times.sort();
    times.dedup();
    let mut out = String::new();
    for at in times {
        match snapshots.iter().find(|(t, _)| t == at) {
            Some((_, columns)) => {
                let cols: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.data_type))
                    .collect();
                out.push_str(&format!("{at}  {}\n", cols.join(", ")));
            }
            None => out.push_str(&format!("{at}  (no columns: the dataset was not there)\n")),
        }
        for e in events.iter().filter(|e| &e.measured_at == at) {
            out.push_str(&format!("      {}\n", event_text(e)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_from_smallest_to_largest() {
        assert_eq!(sparkline(&[Some(1.0), Some(5.0), Some(9.0)]), "▁▅█");
        assert_eq!(sparkline(&[Some(2.0), None, Some(2.0)]), "▄ ▄");
        assert_eq!(sparkline(&[]), "");
    }
}

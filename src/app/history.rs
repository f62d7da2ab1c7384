//! `assay history`: what scans recorded, as series of points (with a sparkline each and
//! the schema changes marked) or a dataset's schema over time; csv and json export.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::{config_path, runtime, AppError};
use crate::checks::freshness::parse_timestamp;
use crate::cli::{HistoryArgs, HistoryFormat};
use crate::config;
use crate::diag::Diag;
use crate::exit::Exit;
use crate::interp::Vars;
use crate::model::threshold::fmt_num;
use crate::scan::history::{EventRow, HistoryStore, PointRow};

pub fn run(args: &HistoryArgs) -> Result<Exit, AppError> {
    let since = match &args.since {
        None => None,
        Some(t) => Some(humantime::parse_duration(t).map_err(|_| {
            Diag::plain(format!("--since '{t}' is not a duration"))
                .with_help("write it like 30d or 12h")
        })?),
    };
    let (schema, dataset) = match args.args.as_slice() {
        [] => (false, None),
        [d] => (false, Some(d.as_str())),
        [s, d] if s == "schema" => (true, Some(d.as_str())),
        _ => {
            return Err(Diag::plain("give one dataset, or `schema DATASET`")
                .with_help(
                    "assay history shop/main/orders, or assay history schema shop/main/orders",
                )
                .into())
        }
    };
    if let Some(d) = dataset.filter(|d| !d.contains('/')) {
        return Err(Diag::plain(format!("'{d}' is not a dataset"))
            .with_help("write it data_source/path, like shop/main/orders")
            .into());
    }
    let config = config::load(
        config_path(args.config.as_ref())?.as_deref(),
        &[],
        &Vars::default(),
    )?;
    let history = HistoryStore::from_config(&config);
    let runtime = runtime()?;
    let text = runtime.block_on(async {
        let events = history.events(dataset).await?;
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
        Ok(match args.output {
            HistoryFormat::Table => series_text(&points, &events),
            HistoryFormat::Csv => csv_text(&points),
            HistoryFormat::Json => json_text(&points),
        })
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    let text: String = text.map_err(AppError::Runtime)?;
    // names come from catalogs: no escape sequence of theirs reaches the terminal
    let shown: Vec<String> = text.lines().map(crate::results::printable_text).collect();
    println!("{}", shown.join("\n"));
    Ok(Exit::Ok)
}

fn recent(measured_at: &str, since: Duration) -> bool {
    let cutoff = Utc::now() - chrono::Duration::from_std(since).unwrap_or(chrono::Duration::MAX);
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
            match mark {
                None => out.push_str(&format!("  {}  {value}\n", p.measured_at)),
                Some(evs) => {
                    out.push_str(&format!("  {}  {value}  ⚑ schema changed\n", p.measured_at));
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
    let mut out = String::new();
    for (at, columns) in snapshots {
        let cols: Vec<String> = columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.data_type))
            .collect();
        out.push_str(&format!("{at}  {}\n", cols.join(", ")));
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

//! `assay rows`: the failing rows a run kept in the diagnostics store, read back through
//! the store's own engine, so nobody needs a database client to see them.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value as Json};
use tabled::builder::Builder;
use tabled::settings::{Style, Width};

use super::history::output_of;
use super::{config_path, runtime, AppError};
use crate::cli::{HistoryFormat, RowsArgs};
use crate::config;
use crate::diag::{did_you_mean, Diag};
use crate::exit::Exit;
use crate::failing_rows::{FailedRowsStore, Group, StoredRow};
use crate::interp::Vars;

pub fn run(args: &RowsArgs) -> Result<Exit, AppError> {
    let (format, path) = output_of(args.output.as_deref())?;
    if args.limit == 0 {
        return Err(Diag::plain("--limit must be at least 1").into());
    }
    let config = config::load(
        config_path(args.common.config.as_ref())?.as_deref(),
        &[],
        &Vars::default(),
    )?;
    let store = FailedRowsStore::from_config(&config);
    let runtime = runtime()?;
    let groups = runtime
        .block_on(store.groups())
        .map_err(AppError::Runtime)?;
    let Some(groups) = groups.filter(|g| !g.is_empty()) else {
        if !args.common.quiet {
            eprintln!(
                "no failed rows stored yet in {}: `assay verify` keeps the failing rows of \
                 missing, invalid, duplicate and failed_rows checks there",
                store.label
            );
        }
        return Ok(Exit::Ok);
    };
    let selected = select(&groups, args.what.as_deref())?;
    if args.list && args.scan.is_none() {
        // every run's, newest first
        let all: Vec<Group> = selected.into_iter().cloned().collect();
        super::write_out(path.as_deref(), &list_text(&all, format))?;
        return Ok(Exit::Ok);
    }
    let chosen = of_scan(selected, args.what.as_deref(), args.scan.as_deref())?;
    if args.list {
        let text = list_text(&chosen, format);
        super::write_out(path.as_deref(), &text)?;
        return Ok(Exit::Ok);
    }
    let mut read = Vec::new();
    for g in &chosen {
        let rows = runtime
            .block_on(store.rows_of(g, args.limit))
            .map_err(AppError::Runtime)?;
        read.push((g, rows));
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    let text = match format {
        HistoryFormat::Table => table_text(&read, args.limit),
        HistoryFormat::Csv => csv_text(&read),
        HistoryFormat::Json => json_text(&read),
    };
    super::write_out(path.as_deref(), &text)?;
    Ok(Exit::Ok)
}

/// The groups the argument selects: a check id (`columns/id/missing`), a dataset
/// (`local/orders`, or its last part `orders`), or both (`local/orders/columns/id/missing`).
fn select<'a>(groups: &'a [Group], what: Option<&str>) -> Result<Vec<&'a Group>, Diag> {
    let last_part = |d: &str| d.rsplit('/').next().unwrap_or(d).to_string();
    let selected: Vec<&Group> = groups
        .iter()
        .filter(|g| match what {
            None => true,
            Some(w) => {
                g.check_id == w
                    || g.dataset == w
                    || last_part(&g.dataset) == w
                    || format!("{}/{}", g.dataset, g.check_id) == w
            }
        })
        .collect();
    if selected.is_empty() {
        let w = what.unwrap_or_default();
        let names: BTreeSet<String> = groups
            .iter()
            .flat_map(|g| [g.dataset.clone(), last_part(&g.dataset), g.check_id.clone()])
            .collect();
        let help = match did_you_mean(w, names.iter().map(String::as_str)) {
            Some(s) => format!("did you mean '{s}'?"),
            None => format!(
                "datasets and checks with stored rows: {}",
                names.into_iter().collect::<Vec<_>>().join(", ")
            ),
        };
        return Err(Diag::plain(format!("no failed rows stored for '{w}'")).with_help(help));
    }
    Ok(selected)
}

/// Of the selected groups, those of one run: the one `--scan` names, else the newest.
fn of_scan(
    selected: Vec<&Group>,
    what: Option<&str>,
    scan: Option<&str>,
) -> Result<Vec<Group>, Diag> {
    let scan_id = match scan {
        Some(id) => {
            if !selected.iter().any(|g| g.scan_id == id) {
                let recent: Vec<String> = selected
                    .iter()
                    .map(|g| format!("{} ({})", g.scan_id, g.captured_at))
                    .collect::<indexmap::IndexSet<_>>()
                    .into_iter()
                    .take(5)
                    .collect();
                return Err(Diag::plain(format!(
                    "scan '{id}' stored no failed rows{}",
                    what.map(|w| format!(" for '{w}'")).unwrap_or_default()
                ))
                .with_help(format!("the latest scans with rows: {}", recent.join(", "))));
            }
            id.to_string()
        }
        // groups come newest first
        None => selected[0].scan_id.clone(),
    };
    Ok(selected
        .into_iter()
        .filter(|g| g.scan_id == scan_id)
        .cloned()
        .collect())
}

fn list_text(groups: &[Group], format: HistoryFormat) -> String {
    let fields = |g: &Group| {
        [
            g.scan_id.clone(),
            g.captured_at.clone(),
            g.data_source.clone(),
            g.dataset.clone(),
            g.check_id.clone(),
            g.rows.to_string(),
        ]
    };
    const HEADER: [&str; 6] = [
        "scan_id",
        "captured_at",
        "data_source",
        "dataset",
        "check_id",
        "rows",
    ];
    match format {
        HistoryFormat::Json => {
            let items: Vec<Json> = groups
                .iter()
                .map(|g| {
                    json!({"scan_id": g.scan_id, "captured_at": g.captured_at,
                    "data_source": g.data_source, "dataset": g.dataset,
                    "check_id": g.check_id, "rows": g.rows})
                })
                .collect();
            pretty(&Json::Array(items))
        }
        HistoryFormat::Csv => {
            let mut out = HEADER.join(",") + "\n";
            for g in groups {
                let cells: Vec<String> = fields(g)
                    .iter()
                    .map(|f| crate::channel::sink::csv_cell(&Json::from(f.as_str())))
                    .collect();
                out.push_str(&cells.join(","));
                out.push('\n');
            }
            out
        }
        HistoryFormat::Table => {
            let mut b = Builder::default();
            b.push_record(HEADER);
            for g in groups {
                b.push_record(fields(g));
            }
            let mut t = b.build();
            t.with(Style::rounded());
            format!("{t}\n")
        }
    }
}

fn pretty(v: &Json) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("JSON serializes");
    s.push('\n');
    s
}

/// The rows' columns, in the order first seen.
fn columns(rows: &[StoredRow]) -> Vec<String> {
    let mut out: indexmap::IndexSet<String> = indexmap::IndexSet::new();
    for r in rows {
        if let Some(o) = r.row.as_object() {
            out.extend(o.keys().cloned());
        }
    }
    out.into_iter().collect()
}

/// A value as a person reads it in a table: text plain, NULL spelled out.
fn shown(v: Option<&Json>) -> String {
    match v {
        None | Some(Json::Null) => "NULL".to_string(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn table_text(read: &[(&Group, Vec<StoredRow>)], limit: usize) -> String {
    let mut out = String::new();
    for (g, rows) in read {
        out.push_str(&format!(
            "{} {} (scan {}, {}): {}\n",
            g.dataset,
            g.check_id,
            g.scan_id,
            g.captured_at,
            crate::words::count(g.rows, "failing row")
        ));
        let cols = columns(rows);
        let mut b = Builder::default();
        b.push_record(std::iter::once("#".to_string()).chain(cols.iter().cloned()));
        for r in rows {
            let values = cols.iter().map(|c| shown(r.row.get(c)));
            b.push_record(std::iter::once(r.row_index.to_string()).chain(values));
        }
        let mut t = b.build();
        t.with(Style::rounded());
        t.with(Width::wrap(160).keep_words(true));
        out.push_str(&t.to_string());
        out.push('\n');
        if g.rows as usize > rows.len() {
            out.push_str(&format!(
                "… {} more (--limit {limit} shows the first; -o csv or -o json with a larger --limit for all)\n",
                g.rows as usize - rows.len()
            ));
        }
        out.push('\n');
    }
    out
}

fn csv_text(read: &[(&Group, Vec<StoredRow>)]) -> String {
    let all: Vec<StoredRow> = read.iter().flat_map(|(_, r)| r.iter().cloned()).collect();
    let cols = columns(&all);
    let mut out = ["scan_id", "data_source", "dataset", "check_id", "row_index"]
        .iter()
        .map(|s| s.to_string())
        .chain(
            cols.iter()
                .map(|c| crate::channel::sink::csv_cell(&Json::from(c.as_str()))),
        )
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for (g, rows) in read {
        for r in rows {
            let fixed = [&g.scan_id, &g.data_source, &g.dataset, &g.check_id]
                .into_iter()
                .map(|s| crate::channel::sink::csv_cell(&Json::from(s.as_str())))
                .chain(std::iter::once(r.row_index.to_string()));
            let values = cols
                .iter()
                .map(|c| crate::channel::sink::csv_cell(r.row.get(c).unwrap_or(&Json::Null)));
            out.push_str(&fixed.chain(values).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
    }
    out
}

fn json_text(read: &[(&Group, Vec<StoredRow>)]) -> String {
    let items: Vec<Json> = read
        .iter()
        .flat_map(|(g, rows)| {
            rows.iter().map(|r| {
                json!({"scan_id": g.scan_id, "data_source": g.data_source,
                "dataset": g.dataset, "check_id": g.check_id,
                "captured_at": g.captured_at, "row_index": r.row_index, "row": r.row})
            })
        })
        .collect();
    pretty(&Json::Array(items))
}

//! Reporters turn the results document into text. They know nothing of SQL or contracts:
//! everything they show is in `Results`.

mod aligned;
mod github;
pub mod html;

pub use aligned::aligned;
mod junit;
mod markdown;
mod table;

use serde_json::Value as Json;

use crate::model::threshold::fmt_num;
use crate::results::{CheckResult, MonitorOutcome, MonitorResult, Results};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Junit,
    Markdown,
    Html,
    /// GitHub Actions annotations (and the Markdown report in the job's summary)
    Github,
}

pub const FORMATS: &[&str] = &["table", "json", "junit", "markdown", "html", "github"];

impl OutputFormat {
    pub fn parse(s: &str) -> Option<OutputFormat> {
        match s {
            "table" => Some(OutputFormat::Table),
            "json" => Some(OutputFormat::Json),
            "junit" => Some(OutputFormat::Junit),
            "markdown" | "md" => Some(OutputFormat::Markdown),
            "html" => Some(OutputFormat::Html),
            "github" => Some(OutputFormat::Github),
            _ => None,
        }
    }
}

/// Render results; `color` only matters for the table (and only on a terminal).
pub fn render(format: OutputFormat, results: &Results, color: bool) -> String {
    match format {
        // people read these: no escape sequence from a contract reaches their terminal
        OutputFormat::Table => table::render(&results.printable(), color),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(results).expect("results serialize");
            s.push('\n');
            s
        }
        OutputFormat::Junit => junit::render(&results.printable()),
        OutputFormat::Markdown => markdown::render(&results.printable()),
        OutputFormat::Github => github::render(&results.printable()),
        // the run alone; `assay verify` and `scan` add the history's page around it
        OutputFormat::Html => html::render(&html::page_of(results)),
    }
}

/// The checked value as people read it: "25%" for percent thresholds, "1.5 hours" for
/// freshness, plain numbers otherwise.
pub fn value_text(c: &CheckResult) -> String {
    let Some(v) = c.value else {
        return "-".to_string();
    };
    let metric = c.threshold.get("metric").and_then(Json::as_str);
    let unit = c.threshold.get("unit").and_then(Json::as_str);
    match (metric, unit) {
        (Some("percent"), _) => format!("{}%", fmt_num(v)),
        (_, Some(u)) => format!("{} {u}s", fmt_num(v)),
        _ => fmt_num(v),
    }
}

/// "vs. the baseline (scan 1234, 2026-12-01T10:00:00Z): 1 new failure, 2 fixed, ..."
pub fn baseline_line(c: &crate::results::Comparison) -> String {
    let mut line = format!(
        "against the baseline (scan {}, {}): {}, {} still failing, {} fixed, {} unchanged",
        c.scan_id,
        c.started_at,
        crate::words::count(c.new_failures, "new failure"),
        c.still_failing,
        c.fixed,
        c.unchanged
    );
    if !c.removed.is_empty() {
        line.push_str(&format!(
            "; {} no longer here: {}",
            crate::words::count(c.removed.len(), "check"),
            c.removed.join(", ")
        ));
    }
    line
}

/// The value with its change since the baseline, when one was given: "12 (+3)".
pub fn value_with_delta(c: &CheckResult) -> String {
    let value = value_text(c);
    match c.baseline.as_ref().and_then(|m| m.delta) {
        Some(d) if d != 0.0 => {
            let sign = if d > 0.0 { "+" } else { "" };
            format!("{value} ({sign}{})", fmt_num(d))
        }
        _ => value,
    }
}

/// What became of the check since the baseline, when one was given and it matters:
/// "new failure (was pass)", "still failing", "fixed (was fail)".
pub fn change_words(c: &CheckResult) -> Option<String> {
    use crate::results::Change;
    let m = c.baseline.as_ref()?;
    let was = match m.outcome {
        Some(o) => format!("was {}", o.word()),
        None => "not in the baseline".to_string(),
    };
    match m.change {
        Change::Unchanged => None,
        Change::StillFailing => Some(m.change.words().to_string()),
        Change::NewFailure | Change::Fixed => Some(format!("{} ({was})", m.change.words())),
    }
}

/// "must be < 5%" from the threshold JSON.
pub fn threshold_text(c: &CheckResult) -> String {
    threshold_words(&c.threshold)
}

/// A threshold's JSON (as results and the history hold it) in words: "< 5%".
pub fn threshold_words(t: &Json) -> String {
    let pct = if t.get("metric").and_then(Json::as_str) == Some("percent") {
        "%"
    } else {
        ""
    };
    let unit = t
        .get("unit")
        .and_then(Json::as_str)
        .map(|u| format!(" {u}s"))
        .unwrap_or_default();
    let n = |v: &Json| {
        format!(
            "{}{pct}{unit}",
            v.as_f64().map(fmt_num).unwrap_or_else(|| v.to_string())
        )
    };
    let Some(obj) = t.as_object() else {
        return String::new();
    };
    for (key, value) in obj {
        let text = match key.as_str() {
            "must_be" => format!("= {}", n(value)),
            "must_not_be" => format!("!= {}", n(value)),
            "must_be_greater_than" => format!("> {}", n(value)),
            "must_be_greater_than_or_equal" => format!(">= {}", n(value)),
            "must_be_less_than" => format!("< {}", n(value)),
            "must_be_less_than_or_equal" => format!("<= {}", n(value)),
            "must_be_between" | "must_be_not_between" => {
                let parts: Vec<String> = value
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                let op = match k.as_str() {
                                    "greater_than" => ">",
                                    "greater_than_or_equal" => ">=",
                                    "less_than" => "<",
                                    _ => "<=",
                                };
                                format!("{op} {}", n(v))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let joiner = if key == "must_be_between" {
                    " and "
                } else {
                    " or "
                };
                parts.join(joiner)
            }
            _ => continue,
        };
        return text;
    }
    String::new()
}

/// The diagnostics worth a glance, as "key=value" pairs; schema differences listed.
pub fn details_text(c: &CheckResult) -> String {
    let text = measured_text(c);
    match &c.failed_rows {
        Some(f) if f.error.is_none() => format!(
            "{text}; {} failed rows captured in {} table {}",
            f.captured, f.store, f.table
        ),
        Some(f) => format!(
            "{text}; failed rows not captured: {}",
            f.error.as_deref().unwrap_or("")
        ),
        None => text,
    }
}

fn measured_text(c: &CheckResult) -> String {
    if let Some(e) = &c.error {
        return e.clone();
    }
    if let Some(Json::Array(diffs)) = c.diagnostics.get("differences") {
        return diffs
            .iter()
            .filter_map(Json::as_str)
            .collect::<Vec<_>>()
            .join("; ");
    }
    c.diagnostics
        .iter()
        .filter(|(_, v)| !v.is_array() && !v.is_object())
        .map(|(k, v)| {
            let shown = match v {
                Json::Number(num) => num.as_f64().map(fmt_num).unwrap_or_else(|| num.to_string()),
                Json::String(s) => s.clone(),
                Json::Null => "none".to_string(),
                other => other.to_string(),
            };
            format!("{k}={shown}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// "failed rows: 12 rows of 3 checks in <store> table <t> (scan_id ...)", when any
/// were captured: where to look, never what was found.
pub fn failed_rows_line(r: &Results) -> Option<String> {
    let infos: Vec<&crate::results::FailedRowsInfo> = r
        .datasets
        .iter()
        .flat_map(|d| &d.checks)
        .filter_map(|c| c.failed_rows.as_ref())
        .filter(|f| f.captured > 0)
        .collect();
    let first = infos.first()?;
    let rows: usize = infos.iter().map(|f| f.captured).sum();
    Some(format!(
        "failed rows: {rows} row{} of {} check{} in {} table {} (scan_id {})",
        if rows == 1 { "" } else { "s" },
        infos.len(),
        if infos.len() == 1 { "" } else { "s" },
        first.store,
        first.table,
        r.scan_id
    ))
}

/// A scan's observations, a line each: per dataset its rows and schema monitor, then
/// what could not be scanned or recorded. Empty for a verify.
pub fn scan_lines(r: &Results) -> Vec<String> {
    let Some(scan) = &r.scan else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in &scan.data_sources {
        if let Some(e) = &s.error {
            out.push(format!("{}: could not be scanned: {e}", s.data_source));
        }
        for d in &s.datasets {
            let rows = d
                .profile
                .iter()
                .find(|p| p.column.is_none() && p.metric == "row_count")
                .and_then(|p| p.value)
                .map_or("? rows".to_string(), |n| {
                    crate::words::count(fmt_num(n), "row")
                });
            let columns = d
                .profile
                .iter()
                .filter_map(|p| p.column.as_deref())
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            let mut line = format!("{}: {rows}, {columns} columns profiled", d.dataset);
            if !d.skipped_columns.is_empty() {
                line.push_str(&format!(" ({} skipped)", d.skipped_columns.len()));
            }
            for m in &d.monitors {
                match m {
                    // only what needs a look: anomalies (and how many series still learn)
                    MonitorResult::Anomaly(a) if m.alerts() => {
                        line.push_str(&format!(
                            "; anomaly {}: {} {} ({})",
                            a.outcome.as_str(),
                            series_words(m),
                            a.verdict.kind.as_deref().unwrap_or("").replace('_', " "),
                            a.verdict.reason
                        ));
                    }
                    MonitorResult::Anomaly(_) => {}
                    MonitorResult::SchemaChange(c) => {
                        let outcome = match c.outcome {
                            MonitorOutcome::Pass => "no change".to_string(),
                            o => format!("{}: {}", o.verdict().word(), changes_words(m)),
                        };
                        line.push_str(&format!("; schema change: {outcome}"));
                    }
                }
            }
            if let Some(e) = &d.error {
                line.push_str(&format!("; error: {e}"));
            }
            out.push(line);
        }
    }
    match &scan.history_error {
        Some(e) => out.push(format!("history ({}): not recorded: {e}", scan.history)),
        None => out.push(format!("history: recorded in {}", scan.history)),
    }
    out
}

/// A monitor's series as people read it: "amount avg", "row_count"; empty for a whole
/// dataset's monitor.
pub fn series_words(m: &MonitorResult) -> String {
    match m.series() {
        (metric, Some(c)) => format!("{c} {}", metric.unwrap_or("")),
        (metric, None) => metric.unwrap_or("").to_string(),
    }
}

/// A monitor's schema changes in words, `; ` between them.
pub fn changes_words(m: &MonitorResult) -> String {
    m.changes()
        .iter()
        .map(|e| {
            change_text(
                &e.kind,
                e.column.as_deref(),
                e.old.as_deref(),
                e.new.as_deref(),
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A schema change as people read it: "column added price (integer)".
pub fn change_text(
    kind: &str,
    column: Option<&str>,
    old: Option<&str>,
    new: Option<&str>,
) -> String {
    let mut t = kind.replace('_', " ");
    if let Some(c) = column {
        t.push_str(&format!(" {c}"));
    }
    match (old, new) {
        (Some(o), Some(n)) => t.push_str(&format!(" ({o} -> {n})")),
        (None, Some(n)) => t.push_str(&format!(" ({n})")),
        (Some(o), None) => t.push_str(&format!(" (was {o})")),
        (None, None) => {}
    }
    t
}

pub fn summary_line(r: &Results) -> String {
    let s = &r.summary;
    let datasets = r.datasets.len();
    let scanned = r.scan.as_ref().map(|scan| {
        let n: usize = scan.data_sources.iter().map(|s| s.datasets.len()).sum();
        let changed = scan
            .data_sources
            .iter()
            .flat_map(|s| &s.datasets)
            .filter(|d| d.monitors.iter().any(|m| !m.changes().is_empty()))
            .count();
        let monitors = scan
            .data_sources
            .iter()
            .flat_map(|s| &s.datasets)
            .flat_map(|d| &d.monitors)
            .filter(|m| m.anomaly().is_some());
        let (mut anomalies, mut learning) = (0, 0);
        for m in monitors {
            match m.outcome() {
                MonitorOutcome::Warn | MonitorOutcome::Fail => anomalies += 1,
                MonitorOutcome::Learning => learning += 1,
                _ => {}
            }
        }
        let learning = if learning > 0 {
            format!(" ({learning} series still learning)")
        } else {
            String::new()
        };
        format!(
            "{n} dataset{} scanned, {changed} with schema changes, {anomalies} anomal{}{learning}; ",
            if n == 1 { "" } else { "s" },
            if anomalies == 1 { "y" } else { "ies" }
        )
    });
    format!(
        "{}{} check{} on {} dataset{}: {} passed, {} warned, {} failed, {} not evaluated",
        scanned.unwrap_or_default(),
        s.checks,
        if s.checks == 1 { "" } else { "s" },
        datasets,
        if datasets == 1 { "" } else { "s" },
        s.pass,
        s.warn,
        s.fail,
        s.not_evaluated
    )
}

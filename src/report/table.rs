//! The human report: one table per dataset, a summary line, colour only on a terminal.

use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Style, Width};

use super::{
    change_words, details_text, failed_rows_line, scan_lines, summary_line, threshold_text,
    value_with_delta,
};
use crate::model::threshold::Level;
use crate::results::{Outcome, Results};

fn paint(text: &str, outcome: Outcome, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match outcome {
        Outcome::Pass => "32",
        Outcome::Warn => "33",
        Outcome::Fail => "31",
        Outcome::NotEvaluated => "35",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "PASS",
        Outcome::Warn => "WARN",
        Outcome::Fail => "FAIL",
        Outcome::NotEvaluated => "NOT EVALUATED",
    }
}

pub fn render(results: &Results, color: bool) -> String {
    let mut out = String::new();
    for d in &results.datasets {
        let rows = d
            .dataset_rows_tested
            .map(|n| format!(", {} tested", crate::words::count(n, "row")))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} {} ({}{rows})\n",
            paint(label(d.outcome), d.outcome, color),
            d.dataset,
            d.contract
        ));
        if let Some(e) = &d.error {
            out.push_str(&format!("  error: {e}\n"));
        }
        if d.checks.is_empty() {
            out.push('\n');
            continue;
        }
        let mut b = Builder::default();
        b.push_record(["outcome", "check", "value", "threshold", "details"]);
        for c in &d.checks {
            let name = match &c.column {
                Some(col) if !c.name.contains(col.as_str()) => format!("{} ({col})", c.name),
                _ => c.name.clone(),
            };
            let level = if c.level == Level::Warn {
                " [warn level]"
            } else {
                ""
            };
            let outcome = match change_words(c) {
                Some(change) => format!("{}\n{change}", paint(label(c.outcome), c.outcome, color)),
                None => paint(label(c.outcome), c.outcome, color),
            };
            b.push_record([
                outcome,
                name,
                value_with_delta(c),
                format!("{}{level}", threshold_text(c)),
                details_text(c),
            ]);
        }
        let mut table = b.build();
        table.with(Style::rounded());
        // only the free-text columns wrap; outcome, value and threshold stay on one line
        table.modify(Columns::one(1), Width::wrap(48).keep_words(true));
        table.modify(Columns::one(4), Width::wrap(90).keep_words(true));
        out.push_str(&table.to_string());
        out.push_str("\n\n");
    }
    for line in scan_lines(results) {
        out.push_str(&line);
        out.push('\n');
    }
    // a run that is not evaluated and also failed says both: the failure is not hidden
    // behind the outcome that sets the exit code
    let overall = match results.outcome {
        Outcome::NotEvaluated if results.summary.fail > 0 => format!(
            "{} + {}",
            paint("NOT EVALUATED", Outcome::NotEvaluated, color),
            paint("FAIL", Outcome::Fail, color)
        ),
        o => paint(label(o), o, color),
    };
    out.push_str(&format!("{overall} {}\n", summary_line(results)));
    if let Some(b) = &results.baseline {
        out.push_str(&super::baseline_line(b));
        out.push('\n');
    }
    if let Some(line) = failed_rows_line(results) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

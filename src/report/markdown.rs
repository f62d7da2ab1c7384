//! Markdown, for pull-request comments and CI job summaries.

use super::{details_text, failed_rows_line, scan_lines, summary_line, threshold_text, value_text};
use crate::results::{Outcome, Results};

/// Text as Markdown shows it literally: every character that could start markup (a link,
/// an image, emphasis, code, HTML, a table cell's end, a mention or an issue reference)
/// escaped, line breaks as spaces.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '!' | '|' | '~' | '#' | '@' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn icon(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "✅ pass",
        Outcome::Warn => "⚠️ warn",
        Outcome::Fail => "❌ fail",
        Outcome::NotEvaluated => "⛔ not evaluated",
    }
}

pub fn render(results: &Results) -> String {
    let headline = match results.outcome {
        Outcome::NotEvaluated if results.summary.fail > 0 => {
            format!("{} + {}", icon(Outcome::NotEvaluated), icon(Outcome::Fail))
        }
        o => icon(o).to_string(),
    };
    let mut out = format!(
        "## assay verification: {headline}\n\n{}\n\n",
        summary_line(results)
    );
    if let Some(line) = failed_rows_line(results) {
        out.push_str(&format!("{}\n\n", cell(&line)));
    }
    for line in scan_lines(results) {
        out.push_str(&format!("- {}\n", cell(&line)));
    }
    if results.scan.is_some() {
        out.push('\n');
    }
    for d in &results.datasets {
        out.push_str(&format!("### {} {}\n\n", icon(d.outcome), cell(&d.dataset)));
        out.push_str(&format!("Contract {}", cell(&d.contract)));
        if let Some(n) = d.dataset_rows_tested {
            out.push_str(&format!(", {} tested", crate::words::count(n, "row")));
        }
        out.push_str("\n\n");
        if let Some(e) = &d.error {
            out.push_str(&format!("Error: {}\n\n", cell(e)));
        }
        if d.checks.is_empty() {
            continue;
        }
        out.push_str("| outcome | check | value | threshold | details |\n|---|---|---|---|---|\n");
        for c in &d.checks {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                icon(c.outcome),
                cell(&c.name),
                cell(&value_text(c)),
                cell(&threshold_text(c)),
                cell(&details_text(c))
            ));
        }
        out.push('\n');
    }
    out
}

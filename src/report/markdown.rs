//! Markdown, for pull-request comments and CI job summaries.

use super::{
    change_words, details_text, failed_rows_line, scan_lines, summary_line, threshold_text,
    value_with_delta,
};
use crate::results::{CheckResult, Outcome, Results};

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

/// GitHub refuses a pull-request comment longer than 65,536 characters: the document stays
/// under this, rows that do not fit are counted instead of shown.
const MAX_LEN: usize = 60_000;
/// A cell longer than this (a long error, say) is cut: one check cannot crowd out the rest.
const MAX_CELL: usize = 600;

fn short_cell(s: &str) -> String {
    if s.chars().count() <= MAX_CELL {
        return cell(s);
    }
    let cut: String = s.chars().take(MAX_CELL).collect();
    format!("{} …", cell(&cut))
}

fn row(c: &CheckResult, with_change: bool) -> String {
    let change = if with_change {
        format!(" {} |", short_cell(&change_words(c).unwrap_or_default()))
    } else {
        String::new()
    };
    format!(
        "| {} |{change} {} | {} | {} | {} |\n",
        icon(c.outcome),
        short_cell(&c.name),
        short_cell(&value_with_delta(c)),
        short_cell(&threshold_text(c)),
        short_cell(&details_text(c))
    )
}

fn header(with_change: bool) -> &'static str {
    if with_change {
        "| outcome | change | check | value | threshold | details |\n|---|---|---|---|---|---|\n"
    } else {
        "| outcome | check | value | threshold | details |\n|---|---|---|---|---|\n"
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
    if let Some(b) = &results.baseline {
        out.push_str(&format!("{}\n\n", short_cell(&super::baseline_line(b))));
    }
    if let Some(line) = failed_rows_line(results) {
        out.push_str(&format!("{}\n\n", cell(&line)));
    }
    for line in scan_lines(results) {
        out.push_str(&format!("- {}\n", short_cell(&line)));
    }
    if results.scan.is_some() {
        out.push('\n');
    }
    let with_change = results.baseline.is_some();
    let mut left_out = 0;
    for d in &results.datasets {
        if out.len() > MAX_LEN {
            left_out += d.checks.len();
            continue;
        }
        out.push_str(&format!("### {} {}\n\n", icon(d.outcome), cell(&d.dataset)));
        out.push_str(&format!("Contract {}", cell(&d.contract)));
        if let Some(n) = d.dataset_rows_tested {
            out.push_str(&format!(", {} tested", crate::words::count(n, "row")));
        }
        out.push_str("\n\n");
        if let Some(e) = &d.error {
            out.push_str(&format!("Error: {}\n\n", short_cell(e)));
        }
        if d.checks.is_empty() {
            continue;
        }
        // against a baseline, what changed leads and the passing rest folds away
        let quiet = |c: &&CheckResult| {
            with_change && c.outcome == Outcome::Pass && change_words(c).is_none()
        };
        let (folded, shown): (Vec<&CheckResult>, Vec<&CheckResult>) =
            d.checks.iter().partition(quiet);
        for (rows, fold) in [(shown, false), (folded, true)] {
            if rows.is_empty() {
                continue;
            }
            if fold {
                out.push_str(&format!(
                    "<details><summary>{} passing as before</summary>\n\n",
                    crate::words::count(rows.len(), "check")
                ));
            }
            out.push_str(header(with_change));
            for c in rows {
                if out.len() > MAX_LEN {
                    left_out += 1;
                    continue;
                }
                out.push_str(&row(c, with_change));
            }
            out.push('\n');
            if fold {
                out.push_str("</details>\n\n");
            }
        }
    }
    if left_out > 0 {
        out.push_str(&format!(
            "{} more not shown here (the page would be too long for a comment); \
             `-o json` has every one.\n",
            crate::words::count(left_out, "check")
        ));
    }
    out
}

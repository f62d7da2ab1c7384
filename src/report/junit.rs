//! JUnit XML, which every CI system can display: one testsuite per dataset, one testcase
//! per check. A failed check is a <failure>, a check not evaluated is an <error>; a
//! warning passes, with the warning in <system-out>.

use super::{details_text, threshold_text, value_text};
use crate::results::{Outcome, Results};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // characters XML 1.0 cannot carry at all
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

pub fn render(results: &Results) -> String {
    let s = &results.summary;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total_ms: u64 = results.datasets.iter().map(|d| d.duration_ms).sum();
    let dataset_errors = results
        .datasets
        .iter()
        .filter(|d| d.error.is_some() && d.checks.is_empty())
        .count();
    out.push_str(&format!(
        "<testsuites name=\"assay\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">\n",
        s.checks + dataset_errors,
        s.fail,
        s.not_evaluated + dataset_errors,
        total_ms as f64 / 1000.0
    ));
    for d in &results.datasets {
        let count = |o: Outcome| d.checks.iter().filter(|c| c.outcome == o).count();
        let no_checks_error = d.error.is_some() && d.checks.is_empty();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">\n",
            esc(&d.dataset),
            d.checks.len() + usize::from(no_checks_error),
            count(Outcome::Fail),
            count(Outcome::NotEvaluated) + usize::from(no_checks_error),
            d.duration_ms as f64 / 1000.0
        ));
        if no_checks_error {
            out.push_str(&format!(
                "    <testcase name=\"dataset\" classname=\"{}\">\n      <error message=\"{}\"/>\n    </testcase>\n",
                esc(&d.dataset),
                esc(d.error.as_deref().unwrap_or(""))
            ));
        }
        for c in &d.checks {
            let message = format!(
                "value {} (threshold {}): {}",
                value_text(c),
                threshold_text(c),
                details_text(c)
            );
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\">\n",
                esc(&format!("{} [{}]", c.name, c.id)),
                esc(&d.dataset),
                esc(&d.contract)
            ));
            match c.outcome {
                Outcome::Pass => {}
                Outcome::Warn => out.push_str(&format!(
                    "      <system-out>warning: {}</system-out>\n",
                    esc(&message)
                )),
                Outcome::Fail => out.push_str(&format!(
                    "      <failure message=\"{}\" type=\"{}\"/>\n",
                    esc(&message),
                    esc(&c.check_type)
                )),
                Outcome::NotEvaluated => out.push_str(&format!(
                    "      <error message=\"{}\" type=\"not_evaluated\"/>\n",
                    esc(c.error.as_deref().unwrap_or("not evaluated"))
                )),
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

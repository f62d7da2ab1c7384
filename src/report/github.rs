//! GitHub Actions workflow commands: an annotation per check that failed, warned or was
//! not evaluated, at the contract's file and the check's line, so the pull request shows
//! it beside the contract. (`assay verify -o github` also appends the Markdown report to
//! `$GITHUB_STEP_SUMMARY`; see `app`.)
//!
//! Every text a contract or an engine wrote is escaped as the runner's parser expects, so
//! a check's name cannot end the annotation and start a command of its own.

use super::{change_words, summary_line, threshold_text, value_with_delta};
use crate::results::{MonitorResult, Outcome, Results};

/// A command's message: `%`, CR and LF escaped (the runner unescapes them).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value (`file=`, `title=`): also `:` and `,`, which end a property.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

fn command(level: &str, file: &str, line: Option<usize>, title: &str, message: &str) -> String {
    let line = line.map(|l| format!(",line={l}")).unwrap_or_default();
    format!(
        "::{level} file={}{line},title={}::{}\n",
        property(file),
        property(title),
        data(message)
    )
}

/// An annotation of the run, not of a file: what a scan's monitors flagged.
fn run_command(level: &str, title: &str, message: &str) -> String {
    format!("::{level} title={}::{}\n", property(title), data(message))
}

pub fn render(results: &Results) -> String {
    let mut out = String::new();
    for d in &results.datasets {
        if let Some(e) = &d.error {
            let title = format!("assay: {} not evaluated", d.dataset);
            out.push_str(&command("error", &d.contract, Some(1), &title, e));
        }
        for c in &d.checks {
            let level = match c.outcome {
                Outcome::Pass => continue,
                Outcome::Warn => "warning",
                Outcome::Fail | Outcome::NotEvaluated => "error",
            };
            let change = change_words(c)
                .map(|w| format!(" [{w}]"))
                .unwrap_or_default();
            let message = match (&c.error, c.outcome) {
                (Some(e), _) => format!("{}: not evaluated: {e}{change}", d.dataset),
                (None, _) => format!(
                    "{}: {} is {}, must be {}{change}",
                    d.dataset,
                    c.name,
                    value_with_delta(c),
                    threshold_text(c)
                ),
            };
            let title = format!("assay: {}", c.name);
            out.push_str(&command(level, &d.contract, c.line, &title, &message));
        }
    }
    // a scan's monitors: anomalies and schema changes at level warn or fail
    if let Some(scan) = &results.scan {
        for source in &scan.data_sources {
            if let Some(e) = &source.error {
                let title = format!("assay: {} not scanned", source.data_source);
                out.push_str(&run_command("error", &title, e));
            }
            for d in &source.datasets {
                for m in &d.monitors {
                    let level = match m.outcome().verdict() {
                        Outcome::Warn => "warning",
                        Outcome::Fail => "error",
                        _ => continue,
                    };
                    let what = match m {
                        MonitorResult::Anomaly(a) => {
                            format!("{}: {}", super::series_words(m), a.verdict.reason)
                        }
                        MonitorResult::SchemaChange(_) => super::changes_words(m),
                    };
                    let title = format!("assay: {} {}", m.type_name().replace('_', " "), d.dataset);
                    let message = format!("{}: {}", d.dataset, what.trim());
                    out.push_str(&run_command(level, &title, &message));
                }
            }
        }
    }
    // the log's last line: the verdict, as plain text
    out.push_str(&data(&summary_line(results)));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_cannot_break_out_of_their_command() {
        let line = command(
            "error",
            "contracts/a,b:c.yml",
            Some(3),
            "x::warning::y",
            "100% bad\n::add-mask::secret\r",
        );
        assert_eq!(
            line,
            "::error file=contracts/a%2Cb%3Ac.yml,line=3,title=x%3A%3Awarning%3A%3Ay::100%25 bad%0A::add-mask::secret%0D\n"
        );
        assert_eq!(line.matches('\n').count(), 1);
    }
}

//! `--baseline RESULTS.json`: each check of this run against the same check (same data
//! source, dataset and check identity) in an earlier run's results, such as the main
//! branch's last run: a pull request sees what it broke, what it fixed, and what was
//! broken before it.

use std::collections::HashMap;
use std::path::Path;

use crate::diag::Diag;
use crate::results::{BaselineMark, Change, Comparison, Outcome, Results};

/// A results document written by `-o json` (of verify or scan).
pub fn load(path: &Path) -> Result<Results, Diag> {
    let hint = "write one with `assay verify -o json=FILE`, for example on the main branch";
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diag::plain(format!(
            "--baseline '{}' could not be read: {e}",
            path.display()
        ))
        .with_help(hint)
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Diag::plain(format!(
            "--baseline '{}' is not an assay results document: {e} (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        ))
        .with_help(hint)
    })
}

/// How bad an outcome is, for "better or worse than before".
fn badness(o: Outcome) -> u8 {
    match o {
        Outcome::Pass => 0,
        Outcome::Warn => 1,
        Outcome::Fail => 2,
        Outcome::NotEvaluated => 3,
    }
}

fn change(now: Outcome, then: Option<Outcome>) -> Change {
    let then = then.unwrap_or(Outcome::Pass);
    match (now, then) {
        (Outcome::Pass, Outcome::Pass) => Change::Unchanged,
        (Outcome::Pass, _) => Change::Fixed,
        (now, then) if badness(then) >= badness(now) => Change::StillFailing,
        _ => Change::NewFailure,
    }
}

fn key(data_source: &str, dataset: &str, check: &str) -> String {
    format!("{data_source}\u{0}{dataset}\u{0}{check}")
}

/// Mark every check of `results` against `baseline`, and sum it up in `results.baseline`.
pub fn compare(results: &mut Results, baseline: &Results) {
    let mut then: HashMap<String, (Outcome, Option<f64>, String)> = HashMap::new();
    for d in &baseline.datasets {
        for c in &d.checks {
            let shown = format!("{} {}", d.dataset, c.id);
            then.insert(
                key(&d.data_source, &d.dataset, &c.id),
                (c.outcome, c.value, shown),
            );
        }
    }
    let mut sum = Comparison {
        scan_id: baseline.scan_id.clone(),
        started_at: baseline.started_at.clone(),
        ..Comparison::default()
    };
    for d in &mut results.datasets {
        for c in &mut d.checks {
            let before = then.remove(&key(&d.data_source, &d.dataset, &c.id));
            let outcome = before.as_ref().map(|b| b.0);
            let value = before.as_ref().and_then(|b| b.1);
            let mark = BaselineMark {
                change: change(c.outcome, outcome),
                outcome,
                value,
                delta: c.value.zip(value).map(|(now, then)| now - then),
            };
            match mark.change {
                Change::NewFailure => sum.new_failures += 1,
                Change::StillFailing => sum.still_failing += 1,
                Change::Fixed => sum.fixed += 1,
                Change::Unchanged => sum.unchanged += 1,
            }
            c.baseline = Some(mark);
        }
    }
    let mut removed: Vec<String> = then.into_values().map(|(_, _, shown)| shown).collect();
    removed.sort();
    sum.removed = removed;
    results.baseline = Some(sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pair_of_outcomes_gets_the_change_a_reviewer_expects() {
        use Outcome::*;
        let cases = [
            (Pass, Some(Pass), Change::Unchanged),
            (Pass, None, Change::Unchanged),
            (Pass, Some(Fail), Change::Fixed),
            (Pass, Some(Warn), Change::Fixed),
            (Pass, Some(NotEvaluated), Change::Fixed),
            (Fail, Some(Pass), Change::NewFailure),
            (Fail, None, Change::NewFailure),
            (Fail, Some(Warn), Change::NewFailure),
            (Warn, Some(Pass), Change::NewFailure),
            (Fail, Some(Fail), Change::StillFailing),
            (Warn, Some(Fail), Change::StillFailing),
            (NotEvaluated, Some(Fail), Change::NewFailure),
            (NotEvaluated, Some(NotEvaluated), Change::StillFailing),
            (Fail, Some(NotEvaluated), Change::StillFailing),
        ];
        for (now, then, want) in cases {
            assert_eq!(change(now, then), want, "{now:?} after {then:?}");
        }
    }
}

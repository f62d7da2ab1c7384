//! The results document: the `json` output, what `push` uploads, what reporters render.
//! It holds metrics and outcomes, never row values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::exit::Exit;

/// Bumped when a field changes meaning or disappears; additions keep the version.
pub const SCHEMA_VERSION: &str = "1.0";
/// A scan's document: verify's, with the `scan` section.
pub const SCAN_SCHEMA_VERSION: &str = "1.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    /// also what nothing yet says otherwise
    #[default]
    NotEvaluated,
}

impl Outcome {
    /// An outcome as `as_str` writes it; anything else was not evaluated.
    pub fn named(text: &str) -> Outcome {
        match text {
            "pass" => Outcome::Pass,
            "warn" => Outcome::Warn,
            "fail" => Outcome::Fail,
            _ => Outcome::NotEvaluated,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
            Outcome::NotEvaluated => "not_evaluated",
        }
    }

    /// The outcome in words, for people: "not evaluated" where `as_str` has a key.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::NotEvaluated => "not evaluated",
            other => other.as_str(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub checks: usize,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub not_evaluated: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub schema_version: String,
    pub scan_id: String,
    pub tool: Tool,
    pub started_at: String,
    pub ended_at: String,
    /// the run's "now" (freshness and `${var.NOW}`)
    pub now: String,
    /// worst outcome over all checks: not_evaluated > fail > warn > pass
    pub outcome: Outcome,
    pub summary: Summary,
    pub datasets: Vec<DatasetResult>,
    /// `assay scan`: what it observed (profiles, schema monitors) beside the checks
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanSection>,
    /// with `--baseline`: which run the checks were compared with, and the counts
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Comparison>,
}

/// What a scan observed of its data sources.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanSection {
    pub data_sources: Vec<ScannedSource>,
    /// where the history is kept
    pub history: String,
    /// the history could not be read or written (the scan's results stand)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScannedSource {
    pub data_source: String,
    /// the source could not be scanned (unreachable): it alone
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub datasets: Vec<ScannedDataset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScannedDataset {
    /// data source and path, as contracts write it
    pub dataset: String,
    pub view: bool,
    pub profile: Vec<ProfileValue>,
    /// columns over the profile's limit
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_columns: Vec<String>,
    pub monitors: Vec<MonitorResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfileValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub metric: String,
    pub value: Option<f64>,
}

/// What a monitor says: a check's outcomes, and `learning` (too little history to judge
/// yet: no guess) and `excluded` (a date the user excluded) for anomaly monitors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorOutcome {
    Pass,
    Warn,
    Fail,
    Learning,
    Excluded,
}

impl MonitorOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorOutcome::Pass => "pass",
            MonitorOutcome::Warn => "warn",
            MonitorOutcome::Fail => "fail",
            MonitorOutcome::Learning => "learning",
            MonitorOutcome::Excluded => "excluded",
        }
    }

    /// As it counts towards the run's outcome and exit code: learning and excluded
    /// judge nothing, so they pass.
    pub fn verdict(self) -> Outcome {
        match self {
            MonitorOutcome::Warn => Outcome::Warn,
            MonitorOutcome::Fail => Outcome::Fail,
            _ => Outcome::Pass,
        }
    }

    pub fn from_level(level: crate::model::threshold::Level) -> MonitorOutcome {
        match level {
            crate::model::threshold::Level::Fail => MonitorOutcome::Fail,
            crate::model::threshold::Level::Warn => MonitorOutcome::Warn,
        }
    }
}

/// What a scan's monitor found, typed by its kind; serialized with its `type` tag
/// (`schema_change`, `anomaly`) as docs/results.schema.json describes. Reporters, notify
/// and the Pushgateway ask it (`outcome`, `series`, `findings`) instead of telling the
/// kinds apart by their fields, so a new kind is a new variant they must answer for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MonitorResult {
    SchemaChange(SchemaChangeResult),
    Anomaly(AnomalyResult),
}

/// The schema change monitor: the changes since the last snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaChangeResult {
    pub outcome: MonitorOutcome,
    #[serde(default)]
    pub events: Vec<MonitorEvent>,
}

/// An anomaly monitor: its series and the verdict on this scan's value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnomalyResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub outcome: MonitorOutcome,
    /// the document gives every monitor its `events`; an anomaly monitor has none (an
    /// empty array, always)
    #[serde(default)]
    pub events: [MonitorEvent; 0],
    #[serde(flatten)]
    pub verdict: AnomalyVerdict,
}

impl MonitorResult {
    pub fn outcome(&self) -> MonitorOutcome {
        match self {
            MonitorResult::SchemaChange(r) => r.outcome,
            MonitorResult::Anomaly(r) => r.outcome,
        }
    }

    /// The kind as its `type` tag writes it.
    pub fn type_name(&self) -> &'static str {
        match self {
            MonitorResult::SchemaChange(_) => "schema_change",
            MonitorResult::Anomaly(_) => "anomaly",
        }
    }

    /// The series a monitor judges, as (metric, column); none for a whole dataset's.
    pub fn series(&self) -> (Option<&str>, Option<&str>) {
        match self {
            MonitorResult::SchemaChange(_) => (None, None),
            MonitorResult::Anomaly(r) => (r.metric.as_deref(), r.column.as_deref()),
        }
    }

    /// The schema changes it saw (none for other kinds).
    pub fn changes(&self) -> &[MonitorEvent] {
        match self {
            MonitorResult::SchemaChange(r) => &r.events,
            MonitorResult::Anomaly(_) => &[],
        }
    }

    /// The anomaly verdict, for an anomaly monitor.
    pub fn anomaly(&self) -> Option<&AnomalyResult> {
        match self {
            MonitorResult::Anomaly(r) => Some(r),
            MonitorResult::SchemaChange(_) => None,
        }
    }

    /// Did it flag something (an anomaly, a schema change at level warn or fail)?
    pub fn alerts(&self) -> bool {
        matches!(self.outcome(), MonitorOutcome::Warn | MonitorOutcome::Fail)
    }
}

/// An anomaly monitor's verdict on the value this scan measured. `expected`, `lower` and
/// `upper` are null while learning; `kind` is set for anomalies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AnomalyVerdict {
    pub value: Option<f64>,
    pub expected: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub kind: Option<String>,
    pub reason: String,
    /// an anomaly: the incident it belongs to
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentRef>,
}

/// The incident an anomaly belongs to: when it began, and whether this point opened it
/// (one alert per incident: only a new one is notified).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IncidentRef {
    pub start: String,
    pub new: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MonitorEvent {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

impl ScanSection {
    fn monitor_outcomes(&self) -> impl Iterator<Item = Outcome> + '_ {
        self.data_sources
            .iter()
            .flat_map(|s| &s.datasets)
            .flat_map(|d| d.monitors.iter().map(|m| m.outcome().verdict()))
    }

    /// Something could not be scanned or recorded.
    fn has_errors(&self) -> bool {
        self.history_error.is_some()
            || self
                .data_sources
                .iter()
                .any(|s| s.error.is_some() || s.datasets.iter().any(|d| d.error.is_some()))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetResult {
    pub data_source: String,
    pub dataset: String,
    pub contract: String,
    /// rows left after the dataset filter (None when the dataset could not be read)
    pub dataset_rows_tested: Option<u64>,
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// a problem with the whole dataset (unreachable, table not found)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub checks: Vec<CheckResult>,
    /// failing rows on their way to the diagnostics store: never serialized, so they
    /// cannot reach a report, a results file or a push
    #[serde(skip)]
    pub captured: Vec<CapturedRows>,
}

/// One check's failing rows, as JSON objects (column name -> value).
#[derive(Debug, Clone, Default)]
pub struct CapturedRows {
    pub check_id: String,
    pub rows: Vec<Json>,
    /// the capture query failed (the check's outcome stands)
    pub error: Option<String>,
}

/// Where a check's failing rows went: the count and the place, never the rows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FailedRowsInfo {
    pub captured: usize,
    /// the store: "duckdb .assay/diagnostics.duckdb" or "postgres data source 'x'"
    pub store: String,
    pub table: String,
    /// why the rows could not be written (the verdict does not change)
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    #[serde(rename = "type")]
    pub check_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    pub level: crate::model::threshold::Level,
    pub threshold: Json,
    pub outcome: Outcome,
    /// the number compared with the threshold
    pub value: Option<f64>,
    pub diagnostics: Map<String, Json>,
    /// the check's own settings (valid_values, columns, expression, ...)
    #[serde(skip_serializing_if = "Map::is_empty", default)]
    pub settings: Map<String, Json>,
    #[serde(skip_serializing_if = "Map::is_empty", default)]
    pub attributes: Map<String, Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// failing rows captured to the diagnostics store
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failed_rows: Option<FailedRowsInfo>,
    /// the line of the contract file the check is written on
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<usize>,
    /// with `--baseline`: this check against the same check in the baseline's results
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub baseline: Option<BaselineMark>,
}

/// With `--baseline` (`baseline.rs`): what became of a check since the baseline's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// failing (or warning, or not evaluated) now, and better or absent in the baseline
    NewFailure,
    /// failing now and at least as badly in the baseline
    StillFailing,
    /// passing now, not in the baseline
    Fixed,
    /// passing now and then (or new and passing)
    Unchanged,
}

impl Change {
    pub fn words(self) -> &'static str {
        match self {
            Change::NewFailure => "new failure",
            Change::StillFailing => "still failing",
            Change::Fixed => "fixed",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One check against the baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineMark {
    pub change: Change,
    /// the check's outcome in the baseline; absent when the baseline did not have it
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub outcome: Option<Outcome>,
    /// its measured value then
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<f64>,
    /// value now minus value then, when both were measured
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delta: Option<f64>,
}

/// The run compared with: which one, and what changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Comparison {
    pub scan_id: String,
    pub started_at: String,
    pub new_failures: usize,
    pub still_failing: usize,
    pub fixed: usize,
    pub unchanged: usize,
    /// checks the baseline had that this run does not
    pub removed: Vec<String>,
}

/// How a run's outcome maps to the process exit code (SPEC section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Fail,
    Warn,
    /// with a baseline: only checks that fail now and did not before
    New,
}

pub fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
    let rank = |o: Outcome| match o {
        Outcome::Pass => 0,
        Outcome::Warn => 1,
        Outcome::Fail => 2,
        Outcome::NotEvaluated => 3,
    };
    outcomes
        .into_iter()
        .max_by_key(|o| rank(*o))
        .unwrap_or(Outcome::Pass)
}

impl Results {
    /// `--fail-on new`: a check that fails now and did not fail (or was absent) in the
    /// baseline.
    pub fn has_new_failure(&self) -> bool {
        self.datasets.iter().flat_map(|d| &d.checks).any(|c| {
            c.outcome == Outcome::Fail
                && c.baseline
                    .as_ref()
                    .is_some_and(|m| m.change == Change::NewFailure)
        })
    }

    /// The document with control characters (terminal escape sequences, bidi overrides)
    /// in its texts made visible and harmless, for the terminal and Markdown.
    pub fn printable(&self) -> Results {
        let mut copy = self.clone();
        copy.map_text(&printable_text);
        copy
    }

    /// Apply `f` to every text a contract, a config or an engine put in the document.
    fn map_text(&mut self, f: &dyn Fn(&str) -> String) {
        for d in &mut self.datasets {
            d.map_text(f);
        }
        let opt = |o: &mut Option<String>| {
            if let Some(s) = o {
                *s = f(s);
            }
        };
        if let Some(scan) = &mut self.scan {
            opt(&mut scan.history_error);
            for s in &mut scan.data_sources {
                s.data_source = f(&s.data_source);
                opt(&mut s.error);
                for d in &mut s.datasets {
                    d.dataset = f(&d.dataset);
                    opt(&mut d.error);
                    d.skipped_columns.iter_mut().for_each(|c| *c = f(c));
                    d.profile.iter_mut().for_each(|p| opt(&mut p.column));
                    for m in &mut d.monitors {
                        match m {
                            MonitorResult::SchemaChange(c) => {
                                for e in &mut c.events {
                                    opt(&mut e.column);
                                    opt(&mut e.old);
                                    opt(&mut e.new);
                                }
                            }
                            MonitorResult::Anomaly(a) => {
                                opt(&mut a.column);
                                opt(&mut a.metric);
                                a.verdict.reason = f(&a.verdict.reason);
                            }
                        }
                    }
                }
            }
        }
    }
}

impl DatasetResult {
    /// Hide registered secrets in the dataset's texts (a `${env.X}` in a check's name,
    /// filter or attributes, an engine error quoting a password), and in the check ids its
    /// captured rows are stored under: the run does this as each dataset ends, before
    /// anything is stored, shown, pushed or kept in the outbox.
    pub fn mask_secrets(&mut self) {
        self.map_text(&crate::secrets::mask);
        for captured in &mut self.captured {
            captured.check_id = crate::secrets::mask(&captured.check_id);
            captured.error = captured.error.as_deref().map(crate::secrets::mask);
        }
    }

    fn map_text(&mut self, f: &dyn Fn(&str) -> String) {
        let opt = |o: &mut Option<String>| {
            if let Some(s) = o {
                *s = f(s);
            }
        };
        self.data_source = f(&self.data_source);
        self.dataset = f(&self.dataset);
        self.contract = f(&self.contract);
        opt(&mut self.error);
        for c in &mut self.checks {
            c.id = f(&c.id);
            c.name = f(&c.name);
            opt(&mut c.column);
            opt(&mut c.qualifier);
            map_json(&mut c.threshold, f);
            for map in [&mut c.diagnostics, &mut c.settings, &mut c.attributes] {
                let mut value = Json::Object(std::mem::take(map));
                map_json(&mut value, f);
                if let Json::Object(m) = value {
                    *map = m;
                }
            }
            opt(&mut c.error);
            if let Some(fr) = &mut c.failed_rows {
                fr.store = f(&fr.store);
                fr.table = f(&fr.table);
                opt(&mut fr.error);
            }
        }
    }
}

/// Every string inside a JSON value, keys too (attribute names are user text).
fn map_json(value: &mut Json, f: &dyn Fn(&str) -> String) {
    match value {
        Json::String(s) => *s = f(s),
        Json::Array(items) => items.iter_mut().for_each(|v| map_json(v, f)),
        Json::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                map_json(&mut v, f);
                map.insert(f(&k), v);
            }
        }
        _ => {}
    }
}

/// Line breaks and tabs become spaces; other control characters and the bidirectional
/// overrides (which reorder what a reader sees) become U+FFFD.
pub fn printable_text(text: &str) -> String {
    if !text.chars().any(needs_replacing) {
        return text.to_string();
    }
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if needs_replacing(c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

fn needs_replacing(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

impl Results {
    pub fn summarize(&mut self) {
        let mut s = Summary::default();
        for c in self.datasets.iter().flat_map(|d| &d.checks) {
            s.checks += 1;
            match c.outcome {
                Outcome::Pass => s.pass += 1,
                Outcome::Warn => s.warn += 1,
                Outcome::Fail => s.fail += 1,
                Outcome::NotEvaluated => s.not_evaluated += 1,
            }
        }
        let dataset_errors = self.datasets.iter().any(|d| d.error.is_some())
            || self.scan.as_ref().is_some_and(ScanSection::has_errors);
        let monitors = self.scan.iter().flat_map(|s| s.monitor_outcomes());
        self.outcome = if dataset_errors {
            Outcome::NotEvaluated
        } else {
            worst(
                self.datasets
                    .iter()
                    .flat_map(|d| d.checks.iter().map(|c| c.outcome))
                    .chain(monitors),
            )
        };
        self.summary = s;
    }

    /// Runtime when something could not be evaluated, ChecksFailed when a check failed (or
    /// warned with `--fail-on warn`), else Ok. (Bad input never gets this far.)
    pub fn exit_code(&self, fail_on: FailOn) -> Exit {
        let s = &self.summary;
        let scan_errors = self.scan.as_ref().is_some_and(ScanSection::has_errors);
        let monitors: Vec<Outcome> = self
            .scan
            .iter()
            .flat_map(|s| s.monitor_outcomes())
            .collect();
        let monitor_fail = monitors.contains(&Outcome::Fail);
        let monitor_warn = monitors.contains(&Outcome::Warn);
        if s.not_evaluated > 0 || self.datasets.iter().any(|d| d.error.is_some()) || scan_errors {
            Exit::Runtime
        } else if fail_on == FailOn::New {
            // only what the change broke: a check failing now that passed (or was absent)
            // in the baseline
            if self.has_new_failure() {
                Exit::ChecksFailed
            } else {
                Exit::Ok
            }
        } else if s.fail > 0
            || monitor_fail
            || (fail_on == FailOn::Warn && (s.warn > 0 || monitor_warn))
        {
            Exit::ChecksFailed
        } else {
            Exit::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed monitor results keep the document's shape: a `type` tag, `events` on
    /// every monitor, an anomaly's verdict beside its fields; and read back as written.
    #[test]
    fn monitor_results_keep_the_documents_shape_and_read_back() {
        let schema = MonitorResult::SchemaChange(SchemaChangeResult {
            outcome: MonitorOutcome::Warn,
            events: vec![MonitorEvent {
                kind: "column_added".into(),
                column: Some("note".into()),
                old: None,
                new: Some("VARCHAR".into()),
            }],
        });
        let anomaly = MonitorResult::Anomaly(AnomalyResult {
            metric: Some("row_count".into()),
            column: None,
            outcome: MonitorOutcome::Learning,
            events: [],
            verdict: AnomalyVerdict {
                value: Some(3.0),
                expected: None,
                lower: None,
                upper: None,
                kind: None,
                reason: "learning".into(),
                incident: None,
            },
        });
        let json = serde_json::to_value([&schema, &anomaly]).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"type": "schema_change", "outcome": "warn",
                 "events": [{"kind": "column_added", "column": "note", "new": "VARCHAR"}]},
                {"type": "anomaly", "metric": "row_count", "outcome": "learning", "events": [],
                 "value": 3.0, "expected": null, "lower": null, "upper": null, "kind": null,
                 "reason": "learning"}
            ])
        );
        let back: Vec<MonitorResult> = serde_json::from_value(json).unwrap();
        assert_eq!(back[0].changes().len(), 1);
        assert_eq!(back[0].type_name(), "schema_change");
        assert!(back[0].alerts() && !back[1].alerts());
        assert_eq!(back[1].series(), (Some("row_count"), None));
        assert_eq!(back[1].anomaly().unwrap().verdict.value, Some(3.0));
    }

    fn results_with(outcomes: &[Outcome]) -> Results {
        let checks = outcomes
            .iter()
            .map(|o| CheckResult {
                id: "checks/row_count".into(),
                check_type: "row_count".into(),
                column: None,
                name: "row count".into(),
                qualifier: None,
                level: crate::model::threshold::Level::Fail,
                threshold: Json::Null,
                outcome: *o,
                value: Some(1.0),
                diagnostics: Map::new(),
                settings: Map::new(),
                attributes: Map::new(),
                error: None,
                failed_rows: None,
                line: Some(3),
                baseline: None,
            })
            .collect();
        let mut r = Results {
            schema_version: SCHEMA_VERSION.into(),
            scan_id: "x".into(),
            tool: Tool {
                name: "assay".into(),
                version: "0".into(),
            },
            started_at: String::new(),
            ended_at: String::new(),
            now: String::new(),
            outcome: Outcome::Pass,
            summary: Summary::default(),
            scan: None,
            baseline: None,
            datasets: vec![DatasetResult {
                data_source: "d".into(),
                dataset: "d/t".into(),
                contract: "c.yml".into(),
                dataset_rows_tested: Some(1),
                outcome: Outcome::Pass,
                duration_ms: 0,
                error: None,
                checks,
                captured: Vec::new(),
            }],
        };
        r.summarize();
        r
    }

    #[test]
    fn exit_codes_follow_the_spec_order() {
        use Outcome::*;
        assert_eq!(
            results_with(&[Pass, Pass]).exit_code(FailOn::Fail),
            Exit::Ok
        );
        assert_eq!(
            results_with(&[Pass, Warn]).exit_code(FailOn::Fail),
            Exit::Ok
        );
        assert_eq!(
            results_with(&[Pass, Warn]).exit_code(FailOn::Warn),
            Exit::ChecksFailed
        );
        assert_eq!(
            results_with(&[Fail, Warn]).exit_code(FailOn::Fail),
            Exit::ChecksFailed
        );
        assert_eq!(
            results_with(&[Fail, NotEvaluated]).exit_code(FailOn::Fail),
            Exit::Runtime
        );
        assert_eq!(results_with(&[Fail, NotEvaluated]).outcome, NotEvaluated);
    }
}

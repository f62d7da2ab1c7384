//! `scan.monitors.anomalies` in assay.yml: which recorded metrics the anomaly monitor
//! judges, with what settings, overridden by dataset glob.
//!
//! ```yaml
//! scan:
//!   monitors:
//!     anomalies:
//!       metrics: [row_count, freshness_seconds, "check:*"]
//!       sensitivity: medium          # low, medium, high, or a number
//!       exclude_dates: [2026-12-25, 2026-12-31..2027-01-01]
//!       overrides:
//!         - datasets: [shop/main/events]
//!           metrics: [row_count]
//!           seasonality: weekly
//!           direction: down
//!           level: fail
//! ```

use super::scan::Glob;
use crate::anomaly::{
    excluded_range, sensitivity_of, DetectorSettings, Direction, Seasonality, SENSITIVITIES,
};
use crate::decode::Reader;
use crate::diag::unknown_word_help;
use crate::model::threshold::Level;
use crate::yaml::{Node, NodeValue};

/// The metric that is a freshness: its growing past its range is a missing load.
pub const FRESHNESS_METRIC: &str = "freshness_seconds";

#[derive(Debug, Clone)]
pub struct AnomalyConfig {
    pub enabled: bool,
    /// globs on metric names (`row_count`, `check:*`)
    pub metrics: Vec<Glob>,
    /// the outcome of an anomaly
    pub level: Level,
    pub base: Tuning,
    pub overrides: Vec<Override>,
}

/// Settings as written: None where not given (the default, or what an override keeps).
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    pub sensitivity: Option<f64>,
    pub direction: Option<Direction>,
    pub seasonality: Option<Seasonality>,
    pub month_end: Option<bool>,
    pub min_history: Option<usize>,
    pub excluded: Vec<(i64, i64)>,
}

#[derive(Debug, Clone)]
pub struct Override {
    pub datasets: Vec<Glob>,
    pub metrics: Option<Vec<Glob>>,
    pub columns: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub level: Option<Level>,
    pub tuning: Tuning,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            enabled: true,
            metrics: ["row_count", FRESHNESS_METRIC]
                .iter()
                .filter_map(|m| Glob::parse(m).ok())
                .collect(),
            level: Level::Warn,
            base: Tuning::default(),
            overrides: Vec::new(),
        }
    }
}

impl AnomalyConfig {
    /// How the series (`dataset` with data source first, column, metric) is judged, and
    /// at which level; None when it is not monitored.
    pub fn for_series(
        &self,
        dataset: &str,
        column: Option<&str>,
        metric: &str,
    ) -> Option<(DetectorSettings, Level)> {
        let mut enabled = self.enabled && self.metrics.iter().any(|g| g.matches(metric));
        let mut level = self.level;
        let mut tunings = vec![&self.base];
        for o in &self.overrides {
            let applies = o.datasets.iter().any(|g| g.matches(dataset))
                && o.metrics
                    .as_ref()
                    .is_none_or(|m| m.iter().any(|g| g.matches(metric)))
                && o.columns
                    .as_ref()
                    .is_none_or(|c| column.is_some_and(|col| c.iter().any(|x| x == col)));
            if !applies {
                continue;
            }
            // an override that names metrics turns them on for its datasets
            if o.metrics.is_some() {
                enabled = true;
            }
            if let Some(e) = o.enabled {
                enabled = e;
            }
            if let Some(l) = o.level {
                level = l;
            }
            tunings.push(&o.tuning);
        }
        if !enabled {
            return None;
        }
        let freshness = metric == FRESHNESS_METRIC;
        let mut s = DetectorSettings {
            freshness,
            // a freshness only matters growing; the other metrics both ways
            direction: if freshness {
                Direction::Up
            } else {
                Direction::Both
            },
            ..DetectorSettings::default()
        };
        for t in tunings {
            if let Some(v) = t.sensitivity {
                s.sensitivity = v;
            }
            if let Some(v) = t.direction {
                s.direction = v;
            }
            if let Some(v) = t.seasonality {
                s.seasonality = v;
            }
            if let Some(v) = t.month_end {
                s.month_end = v;
            }
            if let Some(v) = t.min_history {
                s.min_history = Some(v);
            }
            s.excluded.extend(t.excluded.iter().copied());
        }
        Some((s, level))
    }
}

const ANOMALY_KEYS: &[&str] = &[
    "enabled",
    "metrics",
    "level",
    "sensitivity",
    "direction",
    "seasonality",
    "month_end",
    "min_history",
    "exclude_dates",
    "overrides",
];
const OVERRIDE_KEYS: &[&str] = &[
    "datasets",
    "metrics",
    "columns",
    "enabled",
    "level",
    "sensitivity",
    "direction",
    "seasonality",
    "month_end",
    "min_history",
    "exclude_dates",
];
const MONITOR_KEYS: &[&str] = &["anomalies"];

/// `scan.monitors`.
pub(super) fn monitors(r: &mut Reader, node: &Node) -> Option<AnomalyConfig> {
    if !r.keys(node, MONITOR_KEYS, "scan.monitors") {
        return None;
    }
    match node.get("anomalies").filter(|n| !n.is_null()) {
        None => Some(AnomalyConfig::default()),
        Some(n) => anomalies(r, n),
    }
}

fn anomalies(r: &mut Reader, node: &Node) -> Option<AnomalyConfig> {
    let mut c = AnomalyConfig::default();
    // `anomalies: false` turns the monitor off
    if let NodeValue::Bool(on) = node.value {
        c.enabled = on;
        return Some(c);
    }
    if !r.keys(node, ANOMALY_KEYS, "scan.monitors.anomalies") {
        return None;
    }
    if let Some(n) = node.get("enabled").filter(|n| !n.is_null()) {
        c.enabled = r.bool(n, "scan.monitors.anomalies.enabled")?;
    }
    if let Some(n) = node.get("metrics").filter(|n| !n.is_null()) {
        c.metrics = globs(r, n, "scan.monitors.anomalies.metrics")?;
    }
    if let Some(n) = node.get("level").filter(|n| !n.is_null()) {
        c.level = level(r, n)?;
    }
    c.base = tuning(r, node, "scan.monitors.anomalies")?;
    if let Some(list) = node.get("overrides").filter(|n| !n.is_null()) {
        for item in r.list(list, "scan.monitors.anomalies.overrides")? {
            c.overrides.push(override_of(r, item)?);
        }
    }
    Some(c)
}

fn override_of(r: &mut Reader, node: &Node) -> Option<Override> {
    let what = "an entry of scan.monitors.anomalies.overrides";
    if !r.keys(node, OVERRIDE_KEYS, what) {
        return None;
    }
    let datasets = r.required(node, "datasets", what)?;
    let datasets = match datasets.value {
        NodeValue::Str(_) => vec![glob(r, datasets)?],
        _ => globs(r, datasets, "datasets")?,
    };
    let metrics = match node.get("metrics").filter(|n| !n.is_null()) {
        Some(n) => Some(globs(r, n, "metrics")?),
        None => None,
    };
    let columns = match node.get("columns").filter(|n| !n.is_null()) {
        Some(n) => Some(r.string_list(n, "columns")?),
        None => None,
    };
    let enabled = match node.get("enabled").filter(|n| !n.is_null()) {
        Some(n) => Some(r.bool(n, "enabled")?),
        None => None,
    };
    let level = match node.get("level").filter(|n| !n.is_null()) {
        Some(n) => Some(level(r, n)?),
        None => None,
    };
    Some(Override {
        datasets,
        metrics,
        columns,
        enabled,
        level,
        tuning: tuning(r, node, what)?,
    })
}

/// The settings keys of a map (the monitor's own, or an override's).
fn tuning(r: &mut Reader, node: &Node, what: &str) -> Option<Tuning> {
    let mut t = Tuning::default();
    if let Some(n) = node.get("sensitivity").filter(|n| !n.is_null()) {
        let text = r.raw_text(n, "sensitivity")?;
        match sensitivity_of(&text) {
            Some(v) => t.sensitivity = Some(v),
            None => {
                let names: Vec<&str> = SENSITIVITIES.iter().map(|(n, _)| *n).collect();
                r.error(
                    n.span,
                    format!("the sensitivity of {what} is '{text}', neither a level nor a positive number"),
                    Some(format!(
                        "{}; or a number: the expected range's half-width in robust standard deviations (medium is 5)",
                        unknown_word_help(&text, &names, "the levels are")
                    )),
                );
                return None;
            }
        }
    }
    if let Some(n) = node.get("direction").filter(|n| !n.is_null()) {
        t.direction = Some(word(r, n, "direction", Direction::NAMES, Direction::named)?);
    }
    if let Some(n) = node.get("seasonality").filter(|n| !n.is_null()) {
        t.seasonality = Some(word(
            r,
            n,
            "seasonality",
            Seasonality::NAMES,
            Seasonality::named,
        )?);
    }
    if let Some(n) = node.get("month_end").filter(|n| !n.is_null()) {
        t.month_end = Some(r.bool(n, "month_end")?);
    }
    if let Some(n) = node.get("min_history").filter(|n| !n.is_null()) {
        let v = r.count(n, "min_history")?;
        if v < 3 {
            r.error(
                n.span,
                format!("min_history {v} is too little history"),
                Some("a baseline needs at least 3 points; the default is two weeks' worth".into()),
            );
            return None;
        }
        t.min_history = Some(v as usize);
    }
    if let Some(list) = node.get("exclude_dates").filter(|n| !n.is_null()) {
        for item in r.list(list, "exclude_dates")? {
            let text = r.raw_text(item, "each excluded date")?;
            match excluded_range(&text) {
                Some(range) => t.excluded.push(range),
                None => {
                    r.error(
                        item.span,
                        format!("'{text}' is not a date or a range of dates"),
                        Some("write it like 2026-12-25 or 2026-12-24..2026-12-26 (both days excluded)".into()),
                    );
                    return None;
                }
            }
        }
    }
    Some(t)
}

fn word<T>(
    r: &mut Reader,
    node: &Node,
    key: &str,
    names: &[&str],
    named: fn(&str) -> Option<T>,
) -> Option<T> {
    let text = r.string(node, key)?;
    match named(&text) {
        Some(v) => Some(v),
        None => {
            let help = unknown_word_help(&text, names, &format!("{key}:"));
            r.error(node.span, format!("unknown {key} '{text}'"), Some(help));
            None
        }
    }
}

fn level(r: &mut Reader, node: &Node) -> Option<Level> {
    match r.string(node, "level")?.as_str() {
        "warn" => Some(Level::Warn),
        "fail" => Some(Level::Fail),
        other => {
            r.error(
                node.span,
                format!("the level of an anomaly must be 'warn' or 'fail', not '{other}'"),
                None,
            );
            None
        }
    }
}

fn glob(r: &mut Reader, node: &Node) -> Option<Glob> {
    let text = r.string(node, "a glob")?;
    match Glob::parse(&text) {
        Ok(g) => Some(g),
        Err(why) => {
            r.error(
                node.span,
                format!("'{text}' is not a glob: {why}"),
                Some("write it like shop/main/* or check:*; * matches within a path part".into()),
            );
            None
        }
    }
}

fn globs(r: &mut Reader, node: &Node, what: &str) -> Option<Vec<Glob>> {
    let mut out = Vec::new();
    for item in r.list(node, what)? {
        out.push(glob(r, item)?);
    }
    Some(out)
}

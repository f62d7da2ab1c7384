//! `scan:` and `history:` in assay.yml: which datasets a scan observes, what it profiles,
//! how schema changes are judged, and where the history is kept.

use std::time::Duration;

use super::DataSourceConfig;
use crate::decode::Reader;
use crate::diag::unknown_word_help;
use crate::model::threshold::Level;
use crate::yaml::Node;

/// What a scan observes and profiles.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// globs on dataset paths (`shop/main/*`); a `!` in front excludes. Empty: every
    /// dataset.
    pub include: Vec<Glob>,
    pub exclude: Vec<Glob>,
    pub profile: ProfileConfig,
    /// the level of each kind of schema change
    pub schema_changes: Vec<(ChangeKind, Level)>,
    /// `monitors.anomalies`
    pub anomalies: super::AnomalyConfig,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            include: Vec::new(),
            exclude: Vec::new(),
            profile: ProfileConfig::default(),
            schema_changes: CHANGE_KINDS.iter().map(|k| (*k, Level::Warn)).collect(),
            anomalies: super::AnomalyConfig::default(),
        }
    }
}

impl ScanConfig {
    /// Is the dataset `path` (data source name first) scanned?
    pub fn selects(&self, path: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| g.matches(path)))
            && !self.exclude.iter().any(|g| g.matches(path))
    }

    pub fn level(&self, kind: ChangeKind) -> Level {
        self.schema_changes
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(Level::Warn, |(_, l)| *l)
    }
}

/// Which metrics a profile measures.
#[derive(Debug, Clone)]
pub struct ProfileConfig {
    pub metrics: Vec<ProfileMetric>,
    /// profile at most this many columns of a dataset (the first ones); the rest are
    /// named as skipped
    pub max_columns: usize,
    /// `approx_count_distinct` where the engine has one
    pub approx_distinct: bool,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            metrics: PROFILE_METRICS.iter().map(|(_, m)| *m).collect(),
            max_columns: 100,
            approx_distinct: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileMetric {
    /// missing (NULL) values per column
    Missing,
    Distinct,
    /// min and max: of numbers, of temporal values, of text lengths
    MinMax,
    /// average: of numbers, of text lengths
    Avg,
    /// the newest value of each temporal column against the run's now
    Freshness,
}

const PROFILE_METRICS: &[(&str, ProfileMetric)] = &[
    ("missing", ProfileMetric::Missing),
    ("distinct", ProfileMetric::Distinct),
    ("min_max", ProfileMetric::MinMax),
    ("avg", ProfileMetric::Avg),
    ("freshness", ProfileMetric::Freshness),
];

/// A kind of schema change a scan reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    ColumnAdded,
    ColumnRemoved,
    TypeChanged,
    OrderChanged,
    DatasetAdded,
    DatasetRemoved,
}

const CHANGE_KINDS: &[ChangeKind] = &[
    ChangeKind::ColumnAdded,
    ChangeKind::ColumnRemoved,
    ChangeKind::TypeChanged,
    ChangeKind::OrderChanged,
    ChangeKind::DatasetAdded,
    ChangeKind::DatasetRemoved,
];

impl ChangeKind {
    /// The kind an event's `kind` names.
    pub fn named(name: &str) -> Option<ChangeKind> {
        CHANGE_KINDS.iter().copied().find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::ColumnAdded => "column_added",
            ChangeKind::ColumnRemoved => "column_removed",
            ChangeKind::TypeChanged => "type_changed",
            ChangeKind::OrderChanged => "order_changed",
            ChangeKind::DatasetAdded => "dataset_added",
            ChangeKind::DatasetRemoved => "dataset_removed",
        }
    }
}

/// Where the history of scans is kept.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    /// a configured data source; None: the embedded DuckDB file .assay/history.duckdb
    pub data_source: Option<String>,
    /// schema (Postgres, DuckDB) or database (MySQL) of its tables
    pub schema: Option<String>,
    /// points older than this are removed
    pub keep: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            data_source: None,
            schema: None,
            keep: Duration::from_secs(400 * 86_400),
        }
    }
}

const SCAN_KEYS: &[&str] = &[
    "include",
    "exclude",
    "profile",
    "schema_changes",
    "monitors",
];
const PROFILE_KEYS: &[&str] = &["metrics", "max_columns", "approx_distinct"];
const HISTORY_KEYS: &[&str] = &["data_source", "schema", "keep"];

pub(super) fn scan(r: &mut Reader, node: &Node) -> Option<ScanConfig> {
    if !r.keys(node, SCAN_KEYS, "scan") {
        return None;
    }
    let mut scan = ScanConfig::default();
    for key in ["include", "exclude"] {
        let Some(list) = node.get(key).filter(|n| !n.is_null()) else {
            continue;
        };
        for item in r.list(list, key)? {
            let text = r.string(item, &format!("each entry of scan.{key}"))?;
            // `!pattern` among the includes excludes, as in .gitignore-style lists
            let (negated, pattern) = match text.strip_prefix('!') {
                Some(rest) if key == "include" => (true, rest),
                _ => (key == "exclude", text.as_str()),
            };
            match Glob::parse(pattern) {
                Ok(glob) if negated => scan.exclude.push(glob),
                Ok(glob) => scan.include.push(glob),
                Err(why) => {
                    r.error(
                        item.span,
                        format!("'{text}' is not a dataset glob: {why}"),
                        Some("write it like shop/main/* or !*/tmp_*; * matches within a path part, ** across parts".into()),
                    );
                    return None;
                }
            }
        }
    }
    if let Some(p) = node.get("profile").filter(|n| !n.is_null()) {
        scan.profile = profile(r, p)?;
    }
    if let Some(c) = node.get("schema_changes").filter(|n| !n.is_null()) {
        scan.schema_changes = schema_changes(r, c)?;
    }
    if let Some(m) = node.get("monitors").filter(|n| !n.is_null()) {
        scan.anomalies = super::anomalies::monitors(r, m)?;
    }
    Some(scan)
}

fn profile(r: &mut Reader, node: &Node) -> Option<ProfileConfig> {
    if !r.keys(node, PROFILE_KEYS, "scan.profile") {
        return None;
    }
    let mut p = ProfileConfig::default();
    if let Some(list) = node.get("metrics").filter(|n| !n.is_null()) {
        let names: Vec<&str> = PROFILE_METRICS.iter().map(|(n, _)| *n).collect();
        p.metrics.clear();
        for item in r.list(list, "scan.profile.metrics")? {
            let name = r.string(item, "each profile metric")?;
            match PROFILE_METRICS.iter().find(|(n, _)| *n == name) {
                Some((_, m)) => p.metrics.push(*m),
                None => {
                    let help = unknown_word_help(&name, &names, "profile metrics:");
                    r.error(
                        item.span,
                        format!("unknown profile metric '{name}'"),
                        Some(help),
                    );
                    return None;
                }
            }
        }
    }
    if let Some(n) = node.get("max_columns").filter(|n| !n.is_null()) {
        p.max_columns = match r.count(n, "scan.profile.max_columns")? {
            0 => {
                r.error(n.span, "scan.profile.max_columns must be at least 1", None);
                return None;
            }
            c => c as usize,
        };
    }
    if let Some(n) = node.get("approx_distinct").filter(|n| !n.is_null()) {
        p.approx_distinct = r.bool(n, "scan.profile.approx_distinct")?;
    }
    Some(p)
}

fn schema_changes(r: &mut Reader, node: &Node) -> Option<Vec<(ChangeKind, Level)>> {
    let names: Vec<&str> = CHANGE_KINDS.iter().map(|k| k.as_str()).collect();
    if !r.keys(node, &names, "scan.schema_changes") {
        return None;
    }
    let mut levels = ScanConfig::default().schema_changes;
    for (kind, level) in levels.iter_mut() {
        let Some(n) = node.get(kind.as_str()).filter(|n| !n.is_null()) else {
            continue;
        };
        *level = match r.string(n, kind.as_str())?.as_str() {
            "warn" => Level::Warn,
            "fail" => Level::Fail,
            other => {
                r.error(
                    n.span,
                    format!(
                        "the level of {} must be 'warn' or 'fail', not '{other}'",
                        kind.as_str()
                    ),
                    None,
                );
                return None;
            }
        };
    }
    Some(levels)
}

pub(super) fn history(
    r: &mut Reader,
    node: &Node,
    data_sources: &[DataSourceConfig],
) -> Option<HistoryConfig> {
    if !r.keys(node, HISTORY_KEYS, "history") {
        return None;
    }
    let mut h = HistoryConfig::default();
    if let Some(n) = node.get("data_source").filter(|n| !n.is_null()) {
        let name = r.string(n, "history.data_source")?;
        match data_sources.iter().find(|d| d.name == name) {
            Some(ds) if ds.engine.store().is_some() => h.data_source = Some(name),
            Some(ds) => {
                r.error(
                    n.span,
                    format!(
                        "data source '{name}' is a {} source, which cannot hold the history",
                        ds.type_name()
                    ),
                    Some("name a duckdb, postgres or mysql data source".into()),
                );
                return None;
            }
            None => {
                let names: Vec<&str> = data_sources.iter().map(|d| d.name.as_str()).collect();
                let help = unknown_word_help(&name, &names, "configured data sources:");
                r.error(n.span, format!("no data source named '{name}'"), Some(help));
                return None;
            }
        }
    }
    if let Some(n) = node.get("schema").filter(|n| !n.is_null()) {
        h.schema = Some(r.name(n, "history.schema")?);
    }
    if let Some(n) = node.get("keep").filter(|n| !n.is_null()) {
        h.keep = duration(r, n, "history.keep")?;
    }
    Some(h)
}

fn duration(r: &mut Reader, n: &Node, what: &str) -> Option<Duration> {
    let text = r.string(n, what)?;
    match humantime::parse_duration(&text) {
        Ok(d) if !d.is_zero() => Some(d),
        _ => {
            r.error(
                n.span,
                format!("{what} '{text}' is not a duration"),
                Some("write it like 400d or 12w".into()),
            );
            None
        }
    }
}

/// A glob on dataset paths: `*` matches within one path part, `**` across parts, `?`
/// one character. Nothing else is special.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
}

/// Why a dataset glob is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    #[error("it is empty")]
    Empty,
    #[error("'{0}' has no meaning in a dataset glob")]
    Special(char),
    #[error("'***' has no meaning; use ** to match across path parts")]
    TripleStar,
}

impl Glob {
    pub fn parse(pattern: &str) -> Result<Glob, GlobError> {
        if pattern.trim().is_empty() {
            return Err(GlobError::Empty);
        }
        if let Some(c) = pattern.chars().find(|c| "[]{}!".contains(*c)) {
            return Err(GlobError::Special(c));
        }
        if pattern.contains("***") {
            return Err(GlobError::TripleStar);
        }
        Ok(Glob {
            pattern: pattern.to_string(),
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        matches_from(self.pattern.as_bytes(), path.as_bytes())
    }
}

fn matches_from(p: &[u8], s: &[u8]) -> bool {
    match p {
        [] => s.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=s.len()).any(|i| matches_from(rest, &s[i..])),
        [b'*', rest @ ..] => (0..=s.len())
            .take_while(|i| *i == 0 || s[i - 1] != b'/')
            .any(|i| matches_from(rest, &s[i..])),
        [b'?', rest @ ..] => matches!(s, [c, ..] if *c != b'/') && matches_from(rest, &s[1..]),
        [c, rest @ ..] => s.first() == Some(c) && matches_from(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_within_parts_and_across_with_two_stars() {
        let g = |p: &str| Glob::parse(p).unwrap();
        assert!(g("shop/main/*").matches("shop/main/orders"));
        assert!(!g("shop/main/*").matches("shop/main/sub/orders"));
        assert!(g("shop/**").matches("shop/main/sub/orders"));
        assert!(g("*/tmp_*").matches("x/tmp_1"));
        assert!(!g("*/tmp_*").matches("x/y/tmp_1"));
        assert!(g("**/tmp_*").matches("x/y/tmp_1"));
        assert!(g("shop/main/order?").matches("shop/main/orders"));
        assert!(!g("shop/main/order?").matches("shop/main/order"));
        assert!(Glob::parse("shop/[a-z]").is_err());
        assert!(Glob::parse("").is_err());
    }

    #[test]
    fn include_exclude_and_negations_select_datasets() {
        let scan = ScanConfig {
            include: vec![Glob::parse("shop/**").unwrap()],
            exclude: vec![Glob::parse("*/*/tmp_*").unwrap()],
            ..ScanConfig::default()
        };
        assert!(scan.selects("shop/main/orders"));
        assert!(!scan.selects("shop/main/tmp_orders"));
        assert!(!scan.selects("crm/main/orders"));
        assert!(ScanConfig::default().selects("anything/at/all"));
    }
}

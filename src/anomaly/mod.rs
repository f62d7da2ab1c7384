//! Anomaly detection on a metric's history: a detector that judges each point from the
//! points before it only (causal), says why (an expected value, a lower and an upper
//! bound, a reason), and needs no runtime beyond this binary.
//!
//! - `robust`: medians and MADs with floors, the statistics every verdict stands on;
//! - `season`: the seasons a series may have (hour of day, day of week, hour of week),
//!   and how one is fitted;
//! - `detector`: the judging and learning, point after point, with level shifts, hard
//!   rules (zero, missing load, stale freshness) and resets;
//! - `incident`: consecutive anomalies as one incident, with its start, end and worst
//!   point;
//! - `series`: the `timestamp,value` CSV that `assay history backtest` reads and
//!   `assay history export` writes.

pub mod detector;
pub mod incident;
pub mod robust;
pub mod season;
pub mod series;

pub use detector::{Detector, Mark, Past};

use serde::Serialize;

/// Which way a change must go to be an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
    Both,
}

impl Direction {
    pub const NAMES: &'static [&'static str] = &["up", "down", "both"];

    pub fn named(name: &str) -> Option<Direction> {
        match name {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            "both" => Some(Direction::Both),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Both => "both",
        }
    }

    fn allows_up(self) -> bool {
        self != Direction::Down
    }

    fn allows_down(self) -> bool {
        self != Direction::Up
    }
}

/// The seasonality a monitor uses: found from the data (`auto`), or set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seasonality {
    Auto,
    None,
    /// by hour of day (series with a step under a day)
    Daily,
    /// by day of week (daily series) or hour of week (hourly series)
    Weekly,
}

impl Seasonality {
    pub const NAMES: &'static [&'static str] = &["auto", "none", "daily", "weekly"];

    pub fn named(name: &str) -> Option<Seasonality> {
        match name {
            "auto" => Some(Seasonality::Auto),
            "none" => Some(Seasonality::None),
            "daily" => Some(Seasonality::Daily),
            "weekly" => Some(Seasonality::Weekly),
            _ => None,
        }
    }
}

/// The named sensitivities, as widths of the expected range in robust standard
/// deviations (a number is taken too, as Elementary's `anomaly_sensitivity` is).
pub const SENSITIVITIES: &[(&str, f64)] = &[("low", 6.5), ("medium", 5.0), ("high", 4.0)];

/// A sensitivity as written: a name, or a positive number.
pub fn sensitivity_of(text: &str) -> Option<f64> {
    let text = text.trim();
    SENSITIVITIES
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, k)| *k)
        .or_else(|| {
            text.parse::<f64>()
                .ok()
                .filter(|k| k.is_finite() && *k > 0.0)
        })
}

/// An excluded date as written: `2026-12-25`, or `2026-12-24..2026-12-26` (both days
/// included), as UTC seconds [start, end).
pub fn excluded_range(text: &str) -> Option<(i64, i64)> {
    let day = |s: &str| {
        chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp())
    };
    let (from, to) = match text.split_once("..") {
        Some((a, b)) => (day(a)?, day(b)?),
        None => (day(text)?, day(text)?),
    };
    (to >= from).then_some((from, to + 86_400))
}

/// How one series is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorSettings {
    /// half the width of the expected range, in robust standard deviations
    pub sensitivity: f64,
    pub direction: Direction,
    pub seasonality: Seasonality,
    /// the last day of each month has a season of its own
    pub month_end: bool,
    /// points of history before anything is judged; None: a day and a half of points
    /// for series of several a day, 7 for slower ones
    pub min_history: Option<usize>,
    /// the series is a freshness (seconds since the newest value): its growing past
    /// its usual range is a missing load
    pub freshness: bool,
    /// points in a row on one side of the range, near each other, that make a level shift
    pub shift_points: usize,
    /// UTC time ranges [start, end) neither judged nor learned (holidays, incidents)
    pub excluded: Vec<(i64, i64)>,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        DetectorSettings {
            sensitivity: 5.0,
            direction: Direction::Both,
            seasonality: Seasonality::Auto,
            month_end: false,
            min_history: None,
            freshness: false,
            shift_points: 3,
            excluded: Vec::new(),
        }
    }
}

/// What kind of anomaly a point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    Spike,
    Drop,
    LevelShift,
    Zero,
    MissingLoad,
}

impl AnomalyKind {
    pub const ALL: &'static [AnomalyKind] = &[
        AnomalyKind::Spike,
        AnomalyKind::Drop,
        AnomalyKind::LevelShift,
        AnomalyKind::Zero,
        AnomalyKind::MissingLoad,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::Spike => "spike",
            AnomalyKind::Drop => "drop",
            AnomalyKind::LevelShift => "level_shift",
            AnomalyKind::Zero => "zero",
            AnomalyKind::MissingLoad => "missing_load",
        }
    }

    pub fn named(name: &str) -> Option<AnomalyKind> {
        Self::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

/// The judgement on one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    /// too little history to judge: no guess
    Learning,
    Normal,
    Anomaly(AnomalyKind),
    /// a date the user excluded: neither judged nor learned
    Excluded,
}

impl Judgement {
    pub fn as_str(self) -> &'static str {
        match self {
            Judgement::Learning => "learning",
            Judgement::Normal => "pass",
            Judgement::Anomaly(_) => "anomaly",
            Judgement::Excluded => "excluded",
        }
    }

    pub fn kind(self) -> Option<AnomalyKind> {
        match self {
            Judgement::Anomaly(k) => Some(k),
            _ => None,
        }
    }
}

/// A verdict with its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub judgement: Judgement,
    /// None while learning and on excluded dates
    pub expected: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub reason: String,
    /// a level shift: the time (UTC seconds) from which the baseline re-learns
    pub reset_from: Option<i64>,
    /// an anomaly: when the incident it belongs to began (UTC seconds; its own time
    /// when it opens one). The points of one incident are one alert.
    pub incident: Option<i64>,
}

impl Verdict {
    pub fn is_anomaly(&self) -> bool {
        matches!(self.judgement, Judgement::Anomaly(_))
    }

    /// An anomaly that continues an incident already open at the point before.
    pub fn continues_incident(&self, at: i64) -> bool {
        self.incident.is_some_and(|start| start < at)
    }
}

/// A number as a reason shows it: whole above 100, else up to 2 decimals.
pub fn show(x: f64) -> String {
    let rounded = if x.abs() >= 100.0 {
        x.round()
    } else {
        (x * 100.0).round() / 100.0
    };
    crate::model::threshold::fmt_num(rounded)
}

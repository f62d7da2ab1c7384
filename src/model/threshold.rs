//! Thresholds: what value a check's metric must have, and how bad it is when it doesn't.
//! Reading them from YAML is `contract::threshold`'s job.

use serde_json::{json, Map, Value as Json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Count,
    Percent,
}

/// How bad a check's failure is; results write it as `fail` or `warn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Fail,
    Warn,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Fail => "fail",
            Level::Warn => "warn",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Minute,
    Hour,
    Day,
}

impl TimeUnit {
    /// `minute`, `hours`, ... as a contract writes it.
    pub fn named(name: &str) -> Option<TimeUnit> {
        match name {
            "minute" | "minutes" => Some(TimeUnit::Minute),
            "hour" | "hours" => Some(TimeUnit::Hour),
            "day" | "days" => Some(TimeUnit::Day),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
        }
    }

    pub fn seconds(self) -> f64 {
        match self {
            TimeUnit::Minute => 60.0,
            TimeUnit::Hour => 3600.0,
            TimeUnit::Day => 86400.0,
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            TimeUnit::Minute => "minutes",
            TimeUnit::Hour => "hours",
            TimeUnit::Day => "days",
        }
    }
}

/// One side of a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub value: f64,
    pub inclusive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    Eq(f64),
    NotEq(f64),
    Gt(f64),
    GtEq(f64),
    Lt(f64),
    LtEq(f64),
    /// passes when lower < value < upper (or <= when inclusive)
    Between(Bound, Bound),
    /// passes when value < low or value > high (or <= / >= when inclusive)
    NotBetween(Bound, Bound),
}

impl Condition {
    pub fn holds(&self, v: f64) -> bool {
        match *self {
            Condition::Eq(x) => v == x,
            Condition::NotEq(x) => v != x,
            Condition::Gt(x) => v > x,
            Condition::GtEq(x) => v >= x,
            Condition::Lt(x) => v < x,
            Condition::LtEq(x) => v <= x,
            Condition::Between(lo, hi) => above(v, lo) && below(v, hi),
            Condition::NotBetween(low, high) => below(v, low) || above(v, high),
        }
    }
}

fn above(v: f64, b: Bound) -> bool {
    if b.inclusive {
        v >= b.value
    } else {
        v > b.value
    }
}

fn below(v: f64, b: Bound) -> bool {
    if b.inclusive {
        v <= b.value
    } else {
        v < b.value
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub metric: MetricKind,
    pub condition: Condition,
    pub level: Level,
    /// freshness only
    pub unit: Option<TimeUnit>,
}

impl Threshold {
    pub fn new(condition: Condition) -> Threshold {
        Threshold {
            metric: MetricKind::Count,
            condition,
            level: Level::Fail,
            unit: None,
        }
    }

    /// The threshold as the user would write it, for results and reports.
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        if let Some(u) = self.unit {
            m.insert("unit".into(), json!(u.as_str()));
        } else {
            let metric = match self.metric {
                MetricKind::Count => "count",
                MetricKind::Percent => "percent",
            };
            m.insert("metric".into(), json!(metric));
        }
        let bound = |b: Bound, strict: &str, incl: &str| {
            (if b.inclusive { incl } else { strict }).to_string()
        };
        match self.condition {
            Condition::Eq(x) => {
                m.insert("must_be".into(), num(x));
            }
            Condition::NotEq(x) => {
                m.insert("must_not_be".into(), num(x));
            }
            Condition::Gt(x) => {
                m.insert("must_be_greater_than".into(), num(x));
            }
            Condition::GtEq(x) => {
                m.insert("must_be_greater_than_or_equal".into(), num(x));
            }
            Condition::Lt(x) => {
                m.insert("must_be_less_than".into(), num(x));
            }
            Condition::LtEq(x) => {
                m.insert("must_be_less_than_or_equal".into(), num(x));
            }
            Condition::Between(lo, hi) => {
                let mut r = Map::new();
                r.insert(
                    bound(lo, "greater_than", "greater_than_or_equal"),
                    num(lo.value),
                );
                r.insert(bound(hi, "less_than", "less_than_or_equal"), num(hi.value));
                m.insert("must_be_between".into(), Json::Object(r));
            }
            Condition::NotBetween(low, high) => {
                let mut r = Map::new();
                r.insert(
                    bound(low, "less_than", "less_than_or_equal"),
                    num(low.value),
                );
                r.insert(
                    bound(high, "greater_than", "greater_than_or_equal"),
                    num(high.value),
                );
                m.insert("must_be_not_between".into(), Json::Object(r));
            }
        }
        m.insert("level".into(), json!(self.level.as_str()));
        Json::Object(m)
    }
}

/// Integral numbers print without ".0"; others with up to 4 decimals, trimmed.
pub fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn num(x: f64) -> Json {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// What the check type allows in its threshold.
#[derive(Debug, Clone)]
pub struct ThresholdRules {
    /// the comparison used when the threshold gives none (None: a comparison is required)
    pub default: Option<Condition>,
    /// `metric: percent` is meaningful for this check
    pub percent: bool,
    /// freshness: `unit` is allowed in the threshold, and this is its default (the
    /// check's own `unit:`, as Soda writes it, else hour)
    pub unit: Option<TimeUnit>,
    /// the type's threshold sets only its `level` (Soda reads nothing else of it), for
    /// this reason; anything else written there is ignored with a warning
    pub only_level: Option<&'static str>,
    /// a threshold to show when one is required and missing
    pub example: &'static str,
    /// what to say when `metric: percent` is written but not allowed
    pub no_percent_help: &'static str,
}

impl ThresholdRules {
    /// Thresholds with no default: the contract must give one.
    pub fn required() -> ThresholdRules {
        ThresholdRules {
            default: None,
            percent: false,
            unit: None,
            only_level: None,
            example: "threshold: {must_be_between: {greater_than: 0, less_than: 100}}",
            no_percent_help:
                "remove `metric: percent`; the threshold compares the check's value directly",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_hold_at_their_edges() {
        let incl = |v| Bound {
            value: v,
            inclusive: true,
        };
        let excl = |v| Bound {
            value: v,
            inclusive: false,
        };
        assert!(Condition::Between(excl(0.0), excl(10.0)).holds(5.0));
        assert!(!Condition::Between(excl(0.0), excl(10.0)).holds(10.0));
        assert!(Condition::Between(incl(0.0), incl(10.0)).holds(10.0));
        assert!(Condition::NotBetween(excl(0.0), excl(10.0)).holds(-1.0));
        assert!(Condition::NotBetween(excl(0.0), excl(10.0)).holds(11.0));
        assert!(!Condition::NotBetween(excl(0.0), excl(10.0)).holds(10.0));
        assert!(Condition::NotBetween(incl(0.0), incl(10.0)).holds(10.0));
        assert!(Condition::NotEq(1.0).holds(2.0));
    }

    #[test]
    fn numbers_format_compactly() {
        assert_eq!(fmt_num(5.0), "5");
        assert_eq!(fmt_num(55.5556), "55.5556");
        assert_eq!(fmt_num(0.5), "0.5");
    }
}

//! Thresholds: what value a check's metric must have, and how bad it is when it doesn't.

use serde_json::{json, Map, Value as Json};

use crate::decode::Reader;
use crate::yaml::Node;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Count,
    Percent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

const COMPARISONS: &[&str] = &[
    "must_be",
    "must_not_be",
    "must_be_greater_than",
    "must_be_greater_than_or_equal",
    "must_be_less_than",
    "must_be_less_than_or_equal",
    "must_be_between",
    "must_be_not_between",
];

/// What the check type allows in its threshold.
pub struct ThresholdRules {
    /// the comparison used when the threshold gives none (None: a comparison is required)
    pub default: Option<Condition>,
    /// `metric: percent` is meaningful for this check
    pub percent: bool,
    /// freshness: `unit` is allowed
    pub unit: bool,
}

/// Parse `threshold:` (None when the key is absent or empty).
pub fn parse(
    r: &mut Reader,
    node: Option<&Node>,
    rules: &ThresholdRules,
    check_type: &str,
) -> Option<Threshold> {
    let node = match node {
        Some(n) if !n.is_null() => n,
        _ => {
            return match rules.default {
                Some(c) => {
                    let mut t = Threshold::new(c);
                    if rules.unit {
                        t.unit = Some(TimeUnit::Hour);
                    }
                    Some(t)
                }
                None => None,
            };
        }
    };
    let mut allowed: Vec<&str> = vec!["metric", "level"];
    allowed.extend(COMPARISONS);
    if rules.unit {
        allowed.push("unit");
    }
    if !r.keys(node, &allowed, "a threshold") {
        return None;
    }
    let entries = node.as_map().unwrap_or(&[]);
    let mut metric = MetricKind::Count;
    let mut level = Level::Fail;
    let mut unit = rules.unit.then_some(TimeUnit::Hour);
    let mut condition: Option<Condition> = None;
    let mut first_comparison: Option<&str> = None;
    let mut ok = true;
    for (key, value) in entries {
        match key.name.as_str() {
            "metric" => match value.scalar_text().as_deref() {
                Some("count") => metric = MetricKind::Count,
                Some("percent") if rules.percent => metric = MetricKind::Percent,
                Some("percent") => {
                    r.error(
                        value.span,
                        format!("a {check_type} check has no percent metric"),
                        Some("remove `metric: percent`; the threshold compares the check's value directly".into()),
                    );
                    ok = false;
                }
                _ => {
                    r.error(value.span, "metric must be 'count' or 'percent'", None);
                    ok = false;
                }
            },
            "level" => match value.scalar_text().as_deref() {
                Some("fail") => level = Level::Fail,
                Some("warn") => level = Level::Warn,
                _ => {
                    r.error(value.span, "level must be 'fail' or 'warn'", None);
                    ok = false;
                }
            },
            "unit" => match value.scalar_text().as_deref() {
                Some("minute") | Some("minutes") => unit = Some(TimeUnit::Minute),
                Some("hour") | Some("hours") => unit = Some(TimeUnit::Hour),
                Some("day") | Some("days") => unit = Some(TimeUnit::Day),
                _ => {
                    r.error(value.span, "unit must be 'minute', 'hour' or 'day'", None);
                    ok = false;
                }
            },
            comparison if COMPARISONS.contains(&comparison) => {
                if let Some(first) = first_comparison {
                    r.error(
                        key.span,
                        format!("a threshold takes exactly one comparison, but has both '{first}' and '{comparison}'"),
                        Some("for a range use must_be_between: {greater_than: LOW, less_than: HIGH}".into()),
                    );
                    ok = false;
                    continue;
                }
                first_comparison = Some(comparison);
                match parse_comparison(r, comparison, value) {
                    Some(c) => condition = Some(c),
                    None => ok = false,
                }
            }
            // unknown keys were reported by `keys` above
            _ => ok = false,
        }
    }
    let condition = match (condition, rules.default) {
        (Some(c), _) => c,
        (None, Some(d)) if ok && first_comparison.is_none() => d,
        (None, _) => {
            if ok && first_comparison.is_none() {
                r.error(
                    node.span,
                    format!("the threshold of a {check_type} check needs a comparison"),
                    Some(format!("add one of {}", COMPARISONS.join(", "))),
                );
            }
            return None;
        }
    };
    ok.then_some(Threshold {
        metric,
        condition,
        level,
        unit,
    })
}

fn parse_comparison(r: &mut Reader, key: &str, value: &Node) -> Option<Condition> {
    let what = format!("'{key}'");
    match key {
        "must_be" => Some(Condition::Eq(r.number(value, &what)?)),
        "must_not_be" => Some(Condition::NotEq(r.number(value, &what)?)),
        "must_be_greater_than" => Some(Condition::Gt(r.number(value, &what)?)),
        "must_be_greater_than_or_equal" => Some(Condition::GtEq(r.number(value, &what)?)),
        "must_be_less_than" => Some(Condition::Lt(r.number(value, &what)?)),
        "must_be_less_than_or_equal" => Some(Condition::LtEq(r.number(value, &what)?)),
        "must_be_between" => {
            let (lo, hi) = parse_range(
                r,
                value,
                key,
                ("greater_than", "greater_than_or_equal"),
                ("less_than", "less_than_or_equal"),
            )?;
            if lo.value > hi.value || (lo.value == hi.value && !(lo.inclusive && hi.inclusive)) {
                r.error(
                    value.span,
                    format!("must_be_between has an empty range: the lower bound {} is not below the upper bound {}", fmt_num(lo.value), fmt_num(hi.value)),
                    Some("swap the bounds".into()),
                );
                return None;
            }
            Some(Condition::Between(lo, hi))
        }
        "must_be_not_between" => {
            let (low, high) = parse_range(
                r,
                value,
                key,
                ("less_than", "less_than_or_equal"),
                ("greater_than", "greater_than_or_equal"),
            )?;
            if low.value > high.value {
                r.error(
                    value.span,
                    format!(
                        "must_be_not_between needs LOW <= HIGH, but {} > {}",
                        fmt_num(low.value),
                        fmt_num(high.value)
                    ),
                    Some("write {less_than: LOW, greater_than: HIGH}: the value passes below LOW or above HIGH".into()),
                );
                return None;
            }
            Some(Condition::NotBetween(low, high))
        }
        _ => unreachable!("comparison keys are filtered by the allowed list"),
    }
}

/// A range mapping with exactly one key of each pair.
fn parse_range(
    r: &mut Reader,
    node: &Node,
    key: &str,
    first: (&str, &str),
    second: (&str, &str),
) -> Option<(Bound, Bound)> {
    let allowed = [first.0, first.1, second.0, second.1];
    if !r.keys(node, &allowed, &format!("'{key}'")) {
        return None;
    }
    let one = |r: &mut Reader, pair: (&str, &str)| -> Option<Bound> {
        match (node.get(pair.0), node.get(pair.1)) {
            (Some(a), None) => Some(Bound {
                value: r.number(a, pair.0)?,
                inclusive: false,
            }),
            (None, Some(b)) => Some(Bound {
                value: r.number(b, pair.1)?,
                inclusive: true,
            }),
            (Some(_), Some(b)) => {
                r.error(
                    b.span,
                    format!(
                        "'{key}' takes one of '{}' and '{}', not both",
                        pair.0, pair.1
                    ),
                    None,
                );
                None
            }
            (None, None) => {
                r.error(
                    node.span,
                    format!("'{key}' needs '{}' or '{}'", pair.0, pair.1),
                    Some(format!("{key}: {{{}: LOW, {}: HIGH}}", first.0, second.0)),
                );
                None
            }
        }
    };
    let a = one(r, first);
    let b = one(r, second);
    Some((a?, b?))
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

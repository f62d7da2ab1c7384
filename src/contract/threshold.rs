//! Reading `threshold:` from a contract into the model's `Threshold`.

use crate::decode::Reader;
use crate::model::threshold::{
    fmt_num, Bound, Condition, Level, MetricKind, Threshold, ThresholdRules, TimeUnit,
};
use crate::source::Span;
use crate::yaml::Node;

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

/// Parse `threshold:`. Absent or empty, the type's default applies, or the check is
/// reported as needing one (at `key_span`, the check's type key).
pub fn parse(
    r: &mut Reader,
    node: Option<&Node>,
    rules: &ThresholdRules,
    check_type: &str,
    key_span: Span,
) -> Option<Threshold> {
    let written = node.filter(|n| !n.is_null());
    if let (Some(reason), Some(n), Some(default)) = (rules.only_level, written, rules.default) {
        return level_only(r, n, default, check_type, reason);
    }
    let Some(node) = written.filter(|_| rules.only_level.is_none()) else {
        return match rules.default {
            Some(c) => Some(Threshold {
                unit: rules.unit,
                ..Threshold::new(c)
            }),
            None => {
                r.error(
                    key_span,
                    format!(
                        "{} {check_type} check needs a threshold",
                        crate::words::article(check_type)
                    ),
                    Some(rules.example.to_string()),
                );
                None
            }
        };
    };
    let mut allowed: Vec<&str> = vec!["metric", "level"];
    allowed.extend(COMPARISONS);
    if rules.unit.is_some() {
        allowed.push("unit");
    }
    if !r.keys(node, &allowed, "a threshold") {
        return None;
    }
    let mut t = Threshold {
        unit: rules.unit,
        ..Threshold::new(Condition::Eq(0.0))
    };
    let mut condition: Option<Condition> = None;
    let mut first_comparison: Option<&str> = None;
    let mut ok = true;
    for (key, value) in node.as_map().unwrap_or(&[]) {
        let name = key.name.as_str();
        if !COMPARISONS.contains(&name) {
            // unknown keys were reported by `keys` above
            ok &= allowed.contains(&name) && setting(r, name, value, rules, check_type, &mut t);
            continue;
        }
        if let Some(first) = first_comparison {
            r.error(
                key.span,
                format!(
                    "a threshold takes exactly one comparison, but has both '{first}' and '{name}'"
                ),
                Some(
                    "for a range use must_be_between: {greater_than: LOW, less_than: HIGH}".into(),
                ),
            );
            ok = false;
            continue;
        }
        first_comparison = Some(name);
        match parse_comparison(r, name, value) {
            Some(c) => condition = Some(c),
            None => ok = false,
        }
    }
    t.condition = match (condition, rules.default) {
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
    ok.then_some(t)
}

/// A threshold of which only `level` counts (schema, as Soda reads it): other keys are
/// ignored with a warning, so a Soda contract runs unchanged and says what it ignores.
fn level_only(
    r: &mut Reader,
    node: &Node,
    default: Condition,
    check_type: &str,
    reason: &str,
) -> Option<Threshold> {
    let Some(entries) = node.as_map() else {
        r.error(
            node.span,
            format!("a threshold must be a mapping, found {}", node.kind_name()),
            Some("threshold: {level: warn}".into()),
        );
        return None;
    };
    let mut t = Threshold::new(default);
    for (key, value) in entries {
        match key.name.as_str() {
            "level" => match value.scalar_text().as_deref() {
                Some("fail") => t.level = Level::Fail,
                Some("warn") => t.level = Level::Warn,
                _ => {
                    r.error(value.span, "level must be 'fail' or 'warn'", None);
                    return None;
                }
            },
            other => r.warn(
                key.span,
                format!(
                    "{} {check_type} check ignores `{other}` in its threshold: {reason}",
                    crate::words::article(check_type)
                ),
                Some("keep only `level:` there".into()),
            ),
        }
    }
    Some(t)
}

/// `metric:` into the threshold (also where early Soda v4 wrote it, on the check);
/// false (reported) when not valid for the check type.
pub fn metric(
    r: &mut Reader,
    value: &Node,
    rules: &ThresholdRules,
    check_type: &str,
    t: &mut Threshold,
) -> bool {
    setting(r, "metric", value, rules, check_type, t)
}

/// `metric`, `level` or `unit` into the threshold; false (reported) when not valid.
fn setting(
    r: &mut Reader,
    key: &str,
    value: &Node,
    rules: &ThresholdRules,
    check_type: &str,
    t: &mut Threshold,
) -> bool {
    let text = value.scalar_text();
    match (key, text.as_deref()) {
        ("metric", Some("count")) => t.metric = MetricKind::Count,
        ("metric", Some("percent")) if rules.percent => t.metric = MetricKind::Percent,
        ("metric", Some("percent")) => {
            r.error(
                value.span,
                format!(
                    "{} {check_type} check has no percent metric",
                    crate::words::article(check_type)
                ),
                Some(rules.no_percent_help.into()),
            );
            return false;
        }
        ("metric", _) => {
            r.error(value.span, "metric must be 'count' or 'percent'", None);
            return false;
        }
        ("level", Some("fail")) => t.level = Level::Fail,
        ("level", Some("warn")) => t.level = Level::Warn,
        ("level", _) => {
            r.error(value.span, "level must be 'fail' or 'warn'", None);
            return false;
        }
        _ => match text.as_deref().and_then(TimeUnit::named) {
            Some(u) => t.unit = Some(u),
            None => {
                r.error(value.span, "unit must be 'minute', 'hour' or 'day'", None);
                return false;
            }
        },
    }
    true
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

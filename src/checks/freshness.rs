//! `freshness`: how long ago the newest row was, in minutes, hours or days.
//!
//! now is the run's start (`--now` for reproducible runs), or the variable named by
//! `now_variable`. Naive timestamps are taken as UTC. An empty table fails.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value as Json};

use super::rules::ReferenceData;
use super::{
    alias_part, sorted, Agg, Capture, CheckKind, CheckType, Inputs, Measurement, NeedCtx, Needs,
    NoValue, ParseCtx, Parsed, Scope, UserSql,
};
use crate::decode::Reader;
use crate::exec::Value;
use crate::model::threshold::{ThresholdRules, TimeUnit};
use crate::model::SqlText;
use crate::source::Span;
use crate::sql::ast::{AggFn, Expr};
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct Freshness {
    pub column: String,
    /// the run's now, replaced by the `now_variable`'s value when one is named
    pub now_override: Option<DateTime<Utc>>,
    /// the threshold's `unit` (the threshold's reader reports a wrong one)
    pub unit: TimeUnit,
    /// SQL in place of the column's name
    pub expression: Option<SqlText>,
}

pub struct Handles {
    rows: Agg,
    newest: Agg,
}

impl Freshness {
    pub fn parse(r: &mut Reader, node: &Node, key_span: Span) -> Option<Freshness> {
        let Some(col) = node.get("column").filter(|n| !n.is_null()) else {
            r.error(
                if node.is_null() { key_span } else { node.span },
                "a freshness check needs `column:` naming a timestamp column",
                Some("freshness: {column: updated_at, threshold: {unit: hour, must_be_less_than: 24}}".into()),
            );
            return None;
        };
        let column = r.name(col, "column")?;
        let now_override = match node.get("now_variable") {
            Some(v) => Some(now_variable(r, v)?),
            None => None,
        };
        let unit = unit_of(r, node)?;
        let expression = super::column_expression(r, node, None).ok()?;
        Some(Freshness {
            column,
            now_override,
            unit,
            expression,
        })
    }
}

/// The check's `unit:` (where Soda writes it) or its threshold's (a wrong one there is
/// reported by the threshold's reader); both, if they differ, is an error.
fn unit_of(r: &mut Reader, node: &Node) -> Option<TimeUnit> {
    let in_threshold = node
        .get("threshold")
        .and_then(|t| t.get("unit"))
        .and_then(|u| u.scalar_text())
        .and_then(|u| TimeUnit::named(&u));
    let Some(n) = node.get("unit").filter(|n| !n.is_null()) else {
        return Some(in_threshold.unwrap_or(TimeUnit::Hour));
    };
    let Some(unit) = n.scalar_text().as_deref().and_then(TimeUnit::named) else {
        r.error(n.span, "unit must be 'minute', 'hour' or 'day'", None);
        return None;
    };
    if in_threshold.is_some_and(|t| t != unit) {
        r.error(
            n.span,
            "the check's unit and its threshold's unit differ",
            Some("give the unit once".into()),
        );
        return None;
    }
    Some(unit)
}

/// The time in the variable `now_variable` names.
fn now_variable(r: &mut Reader, v: &Node) -> Option<DateTime<Utc>> {
    let name = r.string(v, "now_variable")?;
    let Some(text) = r.vars.and_then(|vars| vars.var(&name)) else {
        r.error(
            v.span,
            format!("now_variable names '{name}', which has no value"),
            Some(format!("pass it with `--set {name}=2025-01-01T00:00:00Z` or give it a default under `variables`")),
        );
        return None;
    };
    let parsed = parse_timestamp(&text);
    if parsed.is_none() {
        r.error(
            v.span,
            format!("variable '{name}' is '{text}', which is not a timestamp"),
            Some("use RFC 3339, like 2025-01-01T00:00:00Z".into()),
        );
    }
    parsed
}

impl CheckKind for Freshness {
    type Handles = Handles;

    fn type_name(&self) -> &'static str {
        TYPE.name()
    }

    fn default_name(&self, _column: Option<&str>) -> String {
        format!("freshness of {}", self.column)
    }

    fn needs(&self, _ctx: &NeedCtx, needs: &mut Needs) -> Handles {
        super::need_column(needs, &self.expression, &self.column);
        let value = match &self.expression {
            Some(e) => Expr::Raw(e.sql.clone()),
            None => Expr::col(&self.column),
        };
        Handles {
            rows: needs.row_count(),
            newest: needs.aggregate(
                format!("{}_max", alias_part(&self.column)),
                Expr::agg(AggFn::Max, value),
            ),
        }
    }

    fn measure(&self, h: &Handles, inputs: &Inputs) -> Result<Measurement, String> {
        let rows = inputs.count(h.rows, "row count")?;
        let now = self.now_override.unwrap_or(inputs.now);
        let newest = match inputs.value(h.newest)? {
            Value::Null => None,
            other => Some(timestamp_of(other).ok_or_else(|| {
                format!(
                    "the newest value of '{}' is {other}, which is not a timestamp",
                    self.column
                )
            })?),
        };
        let key = format!("freshness_in_{}", self.unit.plural());
        let now_text = now.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let mut m = match newest {
            Some(t) => {
                let age = (now - t)
                    .num_microseconds()
                    .map(|us| us as f64 / 1e6)
                    .unwrap_or(f64::MAX);
                let value = age / self.unit.seconds();
                let mut m = Measurement::new(Some(value)).diag(&key, value).diag(
                    "max_timestamp",
                    t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                );
                // timestamps from the future are no sign of fresh data (a clock or a
                // time zone is wrong): a threshold they pass still warns
                if age < 0.0 {
                    m.doubt = Some(format!(
                        "the newest value of '{}' is {} after now: a clock or time zone is wrong",
                        self.column,
                        humantime::format_duration(std::time::Duration::from_secs(
                            (-age).round() as u64
                        ))
                    ));
                }
                m
            }
            None => Measurement::new(None)
                .diag(&key, Json::Null)
                .diag("max_timestamp", Json::Null),
        };
        m = m.diag("now", now_text).diag("check_rows_tested", rows);
        // no rows (or only NULL timestamps) means no fresh data: that is a failure
        m.no_value = NoValue::Fail;
        Ok(m)
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<Capture> {
        None
    }

    fn settings(&self, settings: &mut Map<String, Json>) {
        settings.insert("column".into(), Json::from(self.column.clone()));
        super::describe_expression(&self.expression, settings);
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        super::expression_sql(&mut self.expression)
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

fn timestamp_of(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Timestamp(micros) => DateTime::from_timestamp_micros(*micros),
        Value::Date(days) => DateTime::from_timestamp(*days as i64 * 86400, 0),
        Value::Text(s) => parse_timestamp(s),
        _ => None,
    }
}

/// RFC 3339, or a naive date-time or date taken as UTC.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Some(t) = plain_timestamp(s) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// The common forms read in bulk (stores and CSV series hand back thousands):
/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, with `T` or a space, optionally ending in `Z`. By
/// hand, since chrono's format strings are parsed again on every call.
fn plain_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let b = s.strip_suffix('Z').unwrap_or(s).as_bytes();
    if b.len() < 19 || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let micros = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let mut v = 0u32;
            for (i, &c) in digits.iter().enumerate() {
                if !c.is_ascii_digit() {
                    return None;
                }
                if i < 6 {
                    v = v * 10 + u32::from(c - b'0');
                }
            }
            v * 10u32.pow(6u32.saturating_sub(digits.len() as u32))
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    date.and_hms_micro_opt(num(11..13)?, num(14..16)?, num(17..19)?, micros)
        .map(|t| t.and_utc())
}

/// `freshness` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl CheckType for Type {
    fn name(&self) -> &'static str {
        "freshness"
    }

    fn scopes(&self) -> &'static [Scope] {
        super::DATASET
    }

    fn keys(&self, _scope: Scope) -> Vec<&'static str> {
        sorted(vec![
            "column",
            "now_variable",
            "unit",
            super::COLUMN_EXPRESSION,
        ])
    }

    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        let freshness = Freshness::parse(r, node, ctx.key_span)?;
        let unit = freshness.unit;
        Some(Parsed {
            kind: Box::new(freshness),
            threshold_rules: ThresholdRules {
                unit: Some(unit),
                example: "threshold: {unit: hour, must_be_less_than: 24}",
                ..ThresholdRules::required()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_zoned_naive_and_dates() {
        let z = parse_timestamp("2025-01-01T10:00:00+02:00").unwrap();
        assert_eq!(z.to_rfc3339(), "2025-01-01T08:00:00+00:00");
        let n = parse_timestamp("2025-01-01 10:00:00").unwrap();
        assert_eq!(n.to_rfc3339(), "2025-01-01T10:00:00+00:00");
        let pg = parse_timestamp("2025-01-01 10:00:00+02").unwrap();
        assert_eq!(pg.to_rfc3339(), "2025-01-01T08:00:00+00:00");
        assert!(parse_timestamp("2025-01-01").is_some());
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn the_fast_path_agrees_with_chrono() {
        for (text, rfc) in [
            ("2025-03-04 05:06:07", "2025-03-04T05:06:07+00:00"),
            ("2025-03-04T05:06:07Z", "2025-03-04T05:06:07+00:00"),
            ("2025-03-04 05:06:07.5", "2025-03-04T05:06:07.500+00:00"),
            (
                "2025-03-04 05:06:07.123456",
                "2025-03-04T05:06:07.123456+00:00",
            ),
            (
                "2025-03-04T05:06:07.123456789Z",
                "2025-03-04T05:06:07.123456+00:00",
            ),
        ] {
            let fast = plain_timestamp(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(fast.to_rfc3339(), rfc, "{text}");
        }
        for not in [
            "2025-02-30 00:00:00",
            "2025-03-04 25:00:00",
            "2025-03-04 05:06:07.",
            "2025-03-04 05:06:07+02",
            "2025-3-04 05:06:07",
            "2025-03-04x05:06:07",
        ] {
            assert!(plain_timestamp(not).is_none(), "{not}");
        }
        // what the fast path leaves alone still parses
        assert!(parse_timestamp("2025-03-04 05:06:07+02").is_some());
    }
}

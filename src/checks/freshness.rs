//! `freshness`: how long ago the newest row was, in minutes, hours or days.
//!
//! now is the run's start (`--now` for reproducible runs), or the variable named by
//! `now_variable`. Naive timestamps are taken as UTC. An empty table fails.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value as Json};

use super::rules::ReferenceData;
use super::{
    alias_part, sorted, Agg, Capture, CheckKind, CheckType, Inputs, MeasureError, Measurement,
    NeedCtx, Needs, NoValue, ParseCtx, Parsed, Scope, UserSql,
};
use crate::decode::Reader;
use crate::exec::Value;
use crate::model::threshold::{ThresholdRules, TimeUnit};
use crate::model::SqlText;
use crate::source::Span;
use crate::sql::ast::{AggFn, Expr};
use crate::timestamp::parse_timestamp;
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

    fn measure(&self, h: &Handles, inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let rows = inputs.count(h.rows, "row count")?;
        let now = self.now_override.unwrap_or(inputs.now);
        let newest = match inputs.value(h.newest)? {
            Value::Null => None,
            other => Some(
                timestamp_of(other).ok_or_else(|| MeasureError::NotATimestamp {
                    column: self.column.clone(),
                    value: other.to_string(),
                })?,
            ),
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

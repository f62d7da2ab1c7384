//! A dataset's profile -> the text of a starting contract. Every check suggested passes
//! on the data as profiled, and says why it was suggested (`# 0 NULLs in 1,238 rows`):
//! the user reads the evidence, keeps what is meant and deletes the rest.
//!
//! What is suggested (after Deequ's constraint suggestion and Soda's discovery): the
//! schema with the catalog's types; `missing` for columns without NULLs; `duplicate` for
//! number and text columns whose values are all distinct; `valid_values` for text
//! columns with a few values repeated over many rows; a numeric range with a margin; a
//! freshness limit with a margin on the newest timestamp column; a row count floor.

use chrono::{DateTime, Utc};

use crate::exec::Value;
use crate::scan::profile::TypeClass;

/// At most this many distinct values make a value set (`valid_values`).
pub const MAX_VALUE_SET: u64 = 10;
/// Data older than this gets no freshness suggestion: it is not being kept fresh.
const FRESHNESS_HORIZON_SECONDS: f64 = 60.0 * 86_400.0;

/// What the profiling query measured of one column.
#[derive(Debug, Clone)]
pub struct ColumnProfile {
    pub name: String,
    pub data_type: String,
    pub class: TypeClass,
    pub non_null: u64,
    /// exact count of distinct non-NULL values (None: not measured for this type)
    pub distinct: Option<u64>,
    pub min: Value,
    pub max: Value,
    /// the distinct values, for text columns with few of them
    pub values: Option<Vec<String>>,
}

/// What the profiling query measured of one dataset.
#[derive(Debug, Clone)]
pub struct DatasetProfile {
    /// `data_source/path`, as the contract's `dataset:` writes it
    pub dataset: String,
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
}

/// 1238 -> "1,238"
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A YAML scalar for any text: plain when that cannot be misread, else double-quoted (a
/// JSON string is a valid YAML double-quoted scalar).
pub fn yaml_str(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "nan" | "inf"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("a string serializes")
    }
}

/// Text a contract would read as a placeholder (`${...}`): assay cannot write it as a
/// literal, so what holds it is left out, and said why.
fn placeholder_like(s: &str) -> bool {
    s.contains("${")
}

/// A number as a contract writes it.
fn number_text(v: &Value) -> Option<String> {
    match v {
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.is_finite() => Some(f.to_string()),
        Value::Decimal(d) => Some(d.clone()),
        _ => None,
    }
}

/// The range [lower, upper] around [min, max] with a margin of a tenth of the span (at
/// least 1 for integers), rounded outward to a round step, and never below 0 for data
/// that has no negative value. Both bounds as contract text; None when no sound range
/// can be written (non-finite values, a span too small for a double).
fn range(min: &Value, max: &Value) -> Option<(String, String)> {
    if let (Value::Int(lo), Value::Int(hi)) = (min, max) {
        let span = hi - lo;
        let margin = (span / 10).max(1);
        let step = 10i128.pow(margin.ilog10());
        let mut lower = (lo - margin).div_euclid(step) * step;
        let upper = -((-(hi + margin)).div_euclid(step) * step);
        if *lo >= 0 && lower < 0 {
            lower = 0;
        }
        return Some((lower.to_string(), upper.to_string()));
    }
    let lo: f64 = number_text(min)?.parse().ok()?;
    let hi: f64 = number_text(max)?.parse().ok()?;
    let span = hi - lo;
    let margin = if span > 0.0 {
        span / 10.0
    } else if lo != 0.0 {
        lo.abs() / 10.0
    } else {
        1.0
    };
    // a margin lost in the magnitude's rounding would not be a margin
    if !margin.is_finite() || margin <= lo.abs().max(hi.abs()) * 1e-9 {
        return None;
    }
    let exp = margin.log10().floor() as i32;
    let step = 10f64.powi(exp);
    let decimals = (-exp).max(0) as usize;
    let mut lower = (lo - margin) / step;
    lower = lower.floor() * step;
    let upper = ((hi + margin) / step).ceil() * step;
    if lo >= 0.0 && lower < 0.0 {
        lower = 0.0;
    }
    let (lower, upper) = (format!("{lower:.decimals$}"), format!("{upper:.decimals$}"));
    // the printed bounds hold today's values
    let ok = lower.parse::<f64>().ok()? <= lo && upper.parse::<f64>().ok()? >= hi;
    ok.then_some((lower, upper))
}

/// The freshness limit for data `age_seconds` old: twice its age (at least an hour),
/// rounded up, in hours under two days, else days.
fn freshness_limit(age_seconds: f64) -> (&'static str, u64) {
    let limit = (2.0 * age_seconds).max(3600.0);
    if limit < 2.0 * 86_400.0 {
        ("hour", (limit / 3600.0).ceil() as u64)
    } else {
        ("day", (limit / 86_400.0).ceil() as u64)
    }
}

/// "3.2 hours", "4 days"
fn age_words(seconds: f64) -> String {
    let (n, unit) = if seconds < 3600.0 {
        (seconds / 60.0, "minute")
    } else if seconds < 2.0 * 86_400.0 {
        (seconds / 3600.0, "hour")
    } else {
        (seconds / 86_400.0, "day")
    };
    crate::words::count(
        crate::model::threshold::fmt_num((n * 10.0).round() / 10.0),
        unit,
    )
}

/// The contract text for a profiled dataset.
pub fn contract_text(p: &DatasetProfile, now: DateTime<Utc>) -> String {
    let rows = thousands(p.rows);
    let mut out = format!(
        "# Written by `assay init` from one profiling query of {} at {} ({}).\n\
         # Every check passes on the data as it was then; each says why it is here. Keep\n\
         # what you mean, change what you know better, delete the rest.\n",
        p.dataset,
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        crate::words::count(&rows, "row")
    );
    out.push_str(&format!("dataset: {}\n", yaml_str(&p.dataset)));
    let left_out: Vec<&ColumnProfile> = p
        .columns
        .iter()
        .filter(|c| placeholder_like(&c.name))
        .collect();
    if !p.columns.is_empty() {
        out.push_str("columns:\n");
    }
    for c in &p.columns {
        if placeholder_like(&c.name) {
            continue;
        }
        let (checks, note) = column_checks(c, p.rows);
        match note {
            Some(n) => out.push_str(&format!("  - name: {}    # {n}\n", yaml_str(&c.name))),
            None => out.push_str(&format!("  - name: {}\n", yaml_str(&c.name))),
        }
        out.push_str(&format!("    data_type: {}\n", yaml_str(&c.data_type)));
        if !checks.is_empty() {
            out.push_str("    checks:\n");
            out.push_str(&checks);
        }
    }
    out.push_str("checks:\n");
    if left_out.is_empty() {
        out.push_str("  - schema:\n");
    } else {
        out.push_str(&format!(
            "  - schema:        # {} left out above: a contract reads \"${{\" in a name as a placeholder\n      allow_extra_columns: true\n",
            crate::words::count(left_out.len(), "column")
        ));
    }
    if p.rows > 0 {
        let floor = (p.rows / 2).max(1);
        out.push_str(&format!(
            "  - row_count:     # {} today; the floor is half of that\n      threshold: {{must_be_greater_than_or_equal: {floor}}}\n",
            crate::words::count(&rows, "row")
        ));
    } else {
        out.push_str("  # the dataset is empty today: no row count floor, no column checks\n");
    }
    if let Some((column, age)) = newest(p, now) {
        let (unit, limit) = freshness_limit(age);
        out.push_str(&format!(
            "  - freshness:     # the newest {column} is {} old; the limit is twice that\n      column: {}\n      threshold: {{unit: {unit}, must_be_less_than: {limit}}}\n",
            age_words(age),
            yaml_str(column),
        ));
    }
    out
}

/// The timestamp column with the newest value, and that value's age, when it is recent.
fn newest(p: &DatasetProfile, now: DateTime<Utc>) -> Option<(&str, f64)> {
    let now = now.timestamp_micros() as f64 / 1e6;
    p.columns
        .iter()
        .filter(|c| c.class == TypeClass::Temporal && !placeholder_like(&c.name))
        .filter_map(|c| {
            let t = crate::scan::profile::seconds(&c.max)?;
            Some((c.name.as_str(), now - t))
        })
        .filter(|(_, age)| (0.0..FRESHNESS_HORIZON_SECONDS).contains(age))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// A column's suggested checks, and a note on the column itself (why it is not required).
fn column_checks(c: &ColumnProfile, rows: u64) -> (String, Option<String>) {
    if rows == 0 {
        return (String::new(), None);
    }
    let total = thousands(rows);
    let mut out = String::new();
    let nulls = rows - c.non_null.min(rows);
    let mut note = None;
    if nulls == 0 {
        out.push_str(&format!("      - missing:     # 0 NULLs in {total} rows\n"));
    } else {
        note = Some(format!(
            "not required: {} in {total} rows",
            crate::words::count(thousands(nulls), "NULL")
        ));
    }
    let distinct = c.distinct.unwrap_or(0);
    // keys are whole numbers or text: distinct amounts or measurements are a
    // coincidence of today's data, not a rule
    let keyish = match c.class {
        TypeClass::Text => true,
        TypeClass::Number => !matches!(
            crate::sql::dialect::base_type(&c.data_type).as_str(),
            "real"
                | "float"
                | "float4"
                | "float8"
                | "double"
                | "double precision"
                | "decimal"
                | "numeric"
        ),
        _ => false,
    };
    if keyish && rows > 1 && nulls == 0 && distinct == rows {
        out.push_str(&format!(
            "      - duplicate:   # {} distinct values in {total} rows\n",
            thousands(distinct)
        ));
    }
    if let Some(values) = &c.values {
        let sound = !values.is_empty() && values.len() as u64 == distinct;
        if values.iter().any(|v| placeholder_like(v)) {
            out.push_str("      # no valid_values: a value holds \"${\", which a contract reads as a placeholder\n");
        } else if sound {
            let list: Vec<String> = values.iter().map(|v| yaml_str(v)).collect();
            out.push_str(&format!(
                "      - invalid:     # {} values over {} non-NULL rows\n          valid_values: [{}]\n",
                values.len(),
                thousands(c.non_null),
                list.join(", ")
            ));
        }
    }
    if c.class == TypeClass::Number && c.non_null > 0 {
        if let (Some((lower, upper)), Some(lo), Some(hi)) = (
            range(&c.min, &c.max),
            number_text(&c.min),
            number_text(&c.max),
        ) {
            out.push_str(&format!(
                "      - invalid:     # values from {lo} to {hi} today; the range adds a margin\n          qualifier: range\n          valid_min: {lower}\n          valid_max: {upper}\n"
            ));
        }
    }
    (out, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_hold_the_values_with_a_round_margin() {
        let r = |a: Value, b: Value| range(&a, &b).unwrap();
        assert_eq!(
            r(Value::Int(1), Value::Int(1238)),
            ("0".into(), "1400".into())
        );
        assert_eq!(r(Value::Int(-5), Value::Int(5)), ("-6".into(), "6".into()));
        assert_eq!(r(Value::Int(7), Value::Int(7)), ("6".into(), "8".into()));
        assert_eq!(
            r(Value::Decimal("0.10".into()), Value::Decimal("9.99".into())),
            ("0.0".into(), "11.0".into())
        );
        assert_eq!(
            r(Value::Float(-2.5), Value::Float(-2.5)),
            ("-2.8".into(), "-2.2".into())
        );
        // a margin lost in the magnitude's rounding: no range
        assert!(range(&Value::Float(1e17), &Value::Float(1e17 + 64.0)).is_none());
        let big = i64::MAX as i128;
        assert_eq!(
            r(Value::Int(big - 10), Value::Int(big)),
            ((big - 11).to_string(), (big + 1).to_string())
        );
    }

    #[test]
    fn texts_that_yaml_or_a_placeholder_could_misread_are_quoted_or_left_out() {
        assert_eq!(yaml_str("orders"), "orders");
        assert_eq!(yaml_str("db/main/orders"), "db/main/orders");
        assert_eq!(yaml_str("yes"), "\"yes\"");
        assert_eq!(yaml_str("a: b"), "\"a: b\"");
        assert_eq!(yaml_str("#x"), "\"#x\"");
        assert_eq!(yaml_str("1"), "\"1\"");
        assert_eq!(yaml_str("line\nbreak"), "\"line\\nbreak\"");
        assert_eq!(yaml_str(""), "\"\"");
        assert!(placeholder_like("${env.HOME}"));
    }

    #[test]
    fn freshness_limits_and_counts_read_naturally() {
        assert_eq!(freshness_limit(60.0), ("hour", 1));
        assert_eq!(freshness_limit(3.2 * 3600.0), ("hour", 7));
        assert_eq!(freshness_limit(3.0 * 86_400.0), ("day", 6));
        assert_eq!(thousands(1_238), "1,238");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(12), "12");
        assert_eq!(age_words(3.2 * 3600.0), "3.2 hours");
    }
}

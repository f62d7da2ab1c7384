//! Values and column descriptions as every engine hands them back: engine-neutral, so
//! checks and reports never see a driver's types.

use std::fmt;

use serde_json::{json, Value as Json};

/// A value from a result row, engine-neutral.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// exact decimal as text, so sums of decimals are reported without float error
    Decimal(String),
    Text(String),
    /// microseconds since the Unix epoch, UTC
    Timestamp(i64),
    /// days since the Unix epoch
    Date(i32),
    /// anything else, as text (intervals, lists, ...)
    Other(String),
}

impl Value {
    /// The value as text, as a store hands it back: text as it is (not quoted, as Display
    /// quotes it), anything else as Display writes it; None for NULL.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Text(t) | Value::Other(t) => Some(t.clone()),
            other => Some(other.to_string()),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Decimal(d) => d.parse().ok(),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Text(t) => t.trim().parse().ok(),
            _ => None,
        }
    }

    /// A value as it is stored with a failed row: text as itself, timestamps in
    /// RFC 3339, dates as YYYY-MM-DD, numbers as numbers.
    pub fn to_row_json(&self) -> Json {
        match self {
            Value::Text(t) => json!(t),
            other => other.to_json(),
        }
    }

    /// For diagnostics: numbers as JSON numbers, anything else as text.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => json!(b),
            Value::Int(i) => i64::try_from(*i)
                .map(|i| json!(i))
                .unwrap_or_else(|_| json!(i.to_string())),
            Value::Float(f) => json!(f),
            Value::Decimal(d) => decimal_json(d),
            other => json!(other.to_string()),
        }
    }
}

/// A decimal as JSON, the same whatever scale the engine returned it with: "15.00" and
/// "15" are 15, "2.50" is 2.5, and one with more digits than a double holds stays exact
/// as text.
fn decimal_json(d: &str) -> Json {
    let t = d.trim();
    let t = if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.')
    } else {
        t
    };
    if !t.contains('.') {
        if let Ok(i) = t.parse::<i64>() {
            return json!(i);
        }
    }
    if t.chars().filter(char::is_ascii_digit).count() <= 15 {
        if let Ok(f) = t.parse::<f64>() {
            return json!(f);
        }
    }
    json!(t)
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Decimal(d) => f.write_str(d),
            Value::Text(t) => write!(f, "'{t}'"),
            Value::Timestamp(us) => match chrono::DateTime::from_timestamp_micros(*us) {
                Some(t) => write!(
                    f,
                    "{}",
                    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                ),
                None => write!(f, "timestamp {us}us"),
            },
            Value::Date(d) => match chrono::DateTime::from_timestamp(*d as i64 * 86400, 0) {
                Some(t) => write!(f, "{}", t.format("%Y-%m-%d")),
                None => write!(f, "date {d}"),
            },
            Value::Other(o) => f.write_str(o),
        }
    }
}

/// A column as the catalog describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
    pub character_maximum_length: Option<u64>,
    pub numeric_precision: Option<u64>,
    pub numeric_scale: Option<u64>,
    /// fractional-second digits of a timestamp or time column
    pub datetime_precision: Option<u64>,
    /// may it hold NULL (None: the catalog does not say)
    pub nullable: Option<bool>,
}

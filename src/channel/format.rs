//! A channel's format: a name and typed fields. With the channel's name it is the
//! signature pipelines find a channel by. Records travel as JSON objects keyed by field
//! name; a record is checked against the format before a sink stores it, and values read
//! from a store are turned into the format's JSON form before a source sends them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::error::RecordError;
use crate::exec::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Long,
    Double,
    Boolean,
    /// RFC 3339 text in records, UTC
    Timestamp,
    /// YYYY-MM-DD text in records
    Date,
    /// exact: text in records ("12.50"), so no digit is lost to a double
    Decimal,
}

impl FieldType {
    pub const NAMES: &'static [&'static str] = &[
        "string",
        "long",
        "double",
        "boolean",
        "timestamp",
        "date",
        "decimal",
    ];

    pub fn named(name: &str) -> Option<FieldType> {
        Some(match name {
            "string" => FieldType::String,
            "long" => FieldType::Long,
            "double" => FieldType::Double,
            "boolean" => FieldType::Boolean,
            "timestamp" => FieldType::Timestamp,
            "date" => FieldType::Date,
            "decimal" => FieldType::Decimal,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        FieldType::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub nullable: bool,
    /// decimal(precision, scale)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Format {
    pub name: String,
    pub fields: Vec<Field>,
}

impl Format {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// A record as this format takes it: every field present (a nullable one may be
    /// missing or null) with a value of its type, and no other field. Values are put in
    /// the format's canonical form (a decimal given as a number becomes text).
    pub fn check(&self, record: &Json) -> Result<Map<String, Json>, RecordError> {
        let Some(object) = record.as_object() else {
            return Err(RecordError::NotAnObject {
                kind: kind_of(record).to_string(),
            });
        };
        if let Some(extra) = object.keys().find(|k| self.field(k).is_none()) {
            return Err(RecordError::UnknownField {
                field: extra.clone(),
                format: self.name.clone(),
                fields: self.field_names(),
            });
        }
        let mut out = Map::new();
        for f in &self.fields {
            let value = object.get(&f.name).unwrap_or(&Json::Null);
            if value.is_null() {
                if !f.nullable {
                    return Err(RecordError::NoValue {
                        field: f.name.clone(),
                    });
                }
                out.insert(f.name.clone(), Json::Null);
                continue;
            }
            let canonical = f.canonical(value).ok_or_else(|| RecordError::WrongType {
                field: f.name.clone(),
                expected: f.type_text(),
                shown: shown(value),
            })?;
            out.insert(f.name.clone(), canonical);
        }
        Ok(out)
    }

    pub fn field_names(&self) -> String {
        self.fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A row read from a store (`columns` in the order of `values`) as a record of this
    /// format; a column the format does not name is left out, a field no column fills
    /// is null. Fails when a value does not fit its field.
    pub fn record_of(
        &self,
        columns: &[String],
        values: &[Value],
    ) -> Result<Map<String, Json>, RecordError> {
        let mut out = Map::new();
        for f in &self.fields {
            let value = columns
                .iter()
                .position(|c| c.eq_ignore_ascii_case(&f.name))
                .and_then(|i| values.get(i))
                .unwrap_or(&Value::Null);
            out.insert(f.name.clone(), f.json_of(value)?);
        }
        Ok(out)
    }
}

impl Field {
    pub fn type_text(&self) -> String {
        match (self.field_type, self.precision, self.scale) {
            (FieldType::Decimal, Some(p), Some(s)) => format!("decimal({p},{s})"),
            (FieldType::Decimal, Some(p), None) => format!("decimal({p})"),
            (t, _, _) => t.as_str().to_string(),
        }
    }

    /// The value in this field's JSON form, or None when it is not of the field's type.
    fn canonical(&self, value: &Json) -> Option<Json> {
        match self.field_type {
            FieldType::String => value.as_str().map(|s| Json::String(s.into())),
            FieldType::Long => value.as_i64().map(Json::from),
            FieldType::Double => value.as_f64().map(Json::from),
            FieldType::Boolean => value.as_bool().map(Json::Bool),
            FieldType::Timestamp => value
                .as_str()
                .and_then(crate::timestamp::parse_timestamp)
                .map(|t| Json::String(timestamp_text(t.timestamp_micros()))),
            FieldType::Date => value
                .as_str()
                .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .map(|d| Json::String(d.format("%Y-%m-%d").to_string())),
            FieldType::Decimal => {
                let text = match value {
                    Json::String(s) => s.trim().to_string(),
                    // a JSON number is read as a double: past 15 significant digits the
                    // number written may not be the one read, so it is refused, not guessed
                    Json::Number(n) if n.is_f64() && significant_digits(&n.to_string()) > 15 => {
                        return None
                    }
                    Json::Number(n) => n.to_string(),
                    _ => return None,
                };
                decimal_fits(&text, self.precision, self.scale).then_some(Json::String(text))
            }
        }
    }

    /// A store's value in this field's JSON form.
    fn json_of(&self, value: &Value) -> Result<Json, RecordError> {
        let wrong = || RecordError::ColumnType {
            column: self.name.clone(),
            value: value.to_string(),
            expected: self.type_text(),
        };
        let json = match (self.field_type, value) {
            (_, Value::Null) if self.nullable => Json::Null,
            (_, Value::Null) => {
                return Err(RecordError::ColumnNull {
                    column: self.name.clone(),
                })
            }
            (FieldType::String, Value::Text(t) | Value::Other(t) | Value::Decimal(t)) => {
                Json::String(t.clone())
            }
            (FieldType::String, v) => Json::String(plain_text(v)),
            (FieldType::Long, Value::Int(i)) => i64::try_from(*i).map_err(|_| wrong())?.into(),
            (FieldType::Long, Value::Decimal(d)) if !d.contains('.') => {
                d.parse::<i64>().map_err(|_| wrong())?.into()
            }
            (FieldType::Long, Value::Bool(b)) => Json::from(*b as i64),
            (FieldType::Double, v) => v
                .as_f64()
                .filter(|_| !matches!(v, Value::Text(_)))
                .map(Json::from)
                .ok_or_else(wrong)?,
            (FieldType::Boolean, Value::Bool(b)) => Json::Bool(*b),
            (FieldType::Boolean, Value::Int(i)) if *i == 0 || *i == 1 => Json::Bool(*i == 1),
            (FieldType::Timestamp, Value::Timestamp(us)) => Json::String(timestamp_text(*us)),
            (FieldType::Timestamp, Value::Date(d)) => {
                Json::String(timestamp_text(*d as i64 * 86_400_000_000))
            }
            (FieldType::Timestamp, Value::Text(t)) => {
                self.canonical(&Json::String(t.clone())).ok_or_else(wrong)?
            }
            (FieldType::Date, Value::Date(_)) => Json::String(value.to_string()),
            (FieldType::Date, Value::Text(t)) => {
                self.canonical(&Json::String(t.clone())).ok_or_else(wrong)?
            }
            // within the field's precision and scale, or refused: never rounded
            (FieldType::Decimal, Value::Decimal(t) | Value::Text(t)) => {
                self.canonical(&Json::String(t.clone())).ok_or_else(wrong)?
            }
            (FieldType::Decimal, Value::Int(i)) => self
                .canonical(&Json::String(i.to_string()))
                .ok_or_else(wrong)?,
            _ => return Err(wrong()),
        };
        Ok(json)
    }
}

/// A decimal's text: digits with at most one point and a sign, within `precision` and
/// `scale` when given. Zeros that change nothing (leading, trailing after the point)
/// take no place; a digit more is refused, never rounded away.
pub fn decimal_fits(text: &str, precision: Option<u32>, scale: Option<u32>) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return false;
    }
    let fraction_used = fraction.trim_end_matches('0').len();
    let whole_used = whole.trim_start_matches('0').len();
    match (precision, scale) {
        (Some(p), s) => {
            let s = s.unwrap_or(0) as usize;
            fraction_used <= s && whole_used + s <= p as usize
        }
        (None, Some(s)) => fraction_used <= s as usize,
        (None, None) => true,
    }
}

/// Significant digits of a number's text (no sign, point, exponent or zeros at the ends).
fn significant_digits(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    digits.trim_start_matches('0').trim_end_matches('0').len()
}

fn plain_text(v: &Value) -> String {
    match v {
        Value::Text(t) | Value::Other(t) | Value::Decimal(t) => t.clone(),
        other => other.to_string(),
    }
}

/// Microseconds since the epoch as RFC 3339 in UTC, with as many fraction digits as needed.
pub fn timestamp_text(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| micros.to_string())
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// A value for a message: its kind, and the value itself when it is short (a record's
/// values are data; a long one is not repeated back).
fn shown(v: &Json) -> String {
    let text = v.to_string();
    if text.chars().count() <= 40 {
        format!("{} {text}", kind_of(v))
    } else {
        kind_of(v).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn format() -> Format {
        let f = |name: &str, t: FieldType, nullable: bool| Field {
            name: name.into(),
            field_type: t,
            nullable,
            precision: None,
            scale: None,
        };
        let mut amount = f("amount", FieldType::Decimal, false);
        amount.precision = Some(6);
        amount.scale = Some(2);
        Format {
            name: "order_v1".into(),
            fields: vec![
                f("id", FieldType::Long, false),
                f("status", FieldType::String, true),
                amount,
                f("at", FieldType::Timestamp, true),
                f("day", FieldType::Date, true),
                f("paid", FieldType::Boolean, true),
                f("score", FieldType::Double, true),
            ],
        }
    }

    #[test]
    fn records_are_checked_field_by_field_and_put_in_canonical_form() {
        let f = format();
        let ok = f
            .check(&json!({"id": 7, "amount": 12.5, "at": "2026-01-02 03:04:05", "day": "2026-01-02", "paid": true, "score": 1}))
            .unwrap();
        assert_eq!(ok["amount"], "12.5");
        assert_eq!(ok["at"], "2026-01-02T03:04:05Z");
        assert_eq!(ok["status"], Json::Null);
        assert_eq!(ok["score"], 1.0);
        for (bad, says) in [
            (json!([1]), "a JSON object"),
            (json!({"amount": "1"}), "'id' is not nullable"),
            (
                json!({"id": "7", "amount": "1"}),
                "'id' is a long, not a string",
            ),
            (json!({"id": 1.5, "amount": "1"}), "'id' is a long"),
            (json!({"id": 1, "amount": "1.234"}), "decimal(6,2)"),
            (json!({"id": 1, "amount": "12345.6"}), "decimal(6,2)"),
            (json!({"id": 1, "amount": "1e5"}), "decimal(6,2)"),
            (
                json!({"id": 1, "amount": "1", "day": "02/01/2026"}),
                "'day' is a date",
            ),
            (
                json!({"id": 1, "amount": "1", "evil": 1}),
                "'evil' is not in format",
            ),
        ] {
            let e = f.check(&bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(f.check(&json!({"id": 1, "amount": "9999.99"})).is_ok());
        assert!(f.check(&json!({"id": 1, "amount": "1.2300"})).is_ok());
        assert!(f.check(&json!({"id": 1, "amount": 12.25})).is_ok());
        assert!(f.check(&json!({"id": 1, "amount": "-0.50"})).is_ok());
    }

    #[test]
    fn a_decimal_is_exact_or_refused_never_rounded() {
        let mut f = format();
        f.fields[2].precision = None;
        f.fields[2].scale = None;
        let long = "12345678901234567890.1234567890123456789";
        let ok = f.check(&json!({"id": 1, "amount": long})).unwrap();
        assert_eq!(ok["amount"], long);
        // as a JSON number it was read as a double: its digits are not known, so refused
        let number: Json =
            serde_json::from_str(&format!("{{\"id\": 1, \"amount\": {long}}}")).unwrap();
        assert!(f.check(&number).is_err());
        let number: Json =
            serde_json::from_str("{\"id\": 1, \"amount\": 0.1234567890123456789}").unwrap();
        assert!(f.check(&number).is_err());
        // a store's decimals beyond the scale are refused the same way
        let g = format();
        let columns = vec!["id".to_string(), "amount".to_string()];
        for beyond in ["1.239", "0.005"] {
            let e = g
                .record_of(&columns, &[Value::Int(1), Value::Decimal(beyond.into())])
                .unwrap_err()
                .to_string();
            assert!(e.contains("decimal(6,2)"), "{beyond}: {e}");
        }
        assert_eq!(
            g.record_of(&columns, &[Value::Int(1), Value::Decimal("1.230".into())])
                .unwrap()["amount"],
            "1.230"
        );
    }

    #[test]
    fn store_values_become_records_of_the_format() {
        let f = format();
        let columns: Vec<String> = ["ID", "amount", "at", "day", "paid", "extra"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let record = f
            .record_of(
                &columns,
                &[
                    Value::Int(3),
                    Value::Decimal("10.50".into()),
                    Value::Timestamp(1_767_225_600_000_000),
                    Value::Date(20_454),
                    Value::Int(1),
                    Value::Text("left out".into()),
                ],
            )
            .unwrap();
        assert_eq!(
            Json::Object(record),
            json!({"id": 3, "status": null, "amount": "10.50", "at": "2026-01-01T00:00:00Z",
                   "day": "2026-01-01", "paid": true, "score": null})
        );
        let e = f
            .record_of(&columns, &[Value::Null, Value::Int(1)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not nullable"), "{e}");
        let e = f
            .record_of(&columns, &[Value::Text("x".into()), Value::Int(1)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a long"), "{e}");
    }
}

//! The canonical rendering of values for row-level reconciliation: SQL, per engine, that
//! turns a value into the same text on every engine, so the same value hashes the same
//! wherever it is stored. The rules (README, Reconciliation, "Row by row"):
//!
//! - numbers compare by value: integers as digits, decimals without trailing zeros
//!   (`1`, `1.0` and `1.00` are one value), with a minus sign when negative;
//! - floating-point numbers (on either side) are rounded to 6 decimal places first, and
//!   then written as decimals; beyond 10^15 they are written as their engine writes them;
//! - booleans are `1` and `0`, so MySQL's TINYINT booleans meet other engines' BOOLEAN;
//! - text is compared exactly, case and trailing spaces included (a collation that
//!   ignores them does not); the padding of a fixed-length CHAR(n) is not part of it;
//! - dates are YYYY-MM-DD; timestamps YYYY-MM-DD HH:MM:SS.ffffff to the microsecond,
//!   zoned ones in UTC, naive ones as written (taken as UTC); a date against a timestamp
//!   is midnight;
//! - times of day HH:MM:SS.ffffff; bytes as lower-case hex;
//! - NULL is a value of its own, unlike any text (the empty text included);
//! - anything else as its engine casts it to text.
//!
//! A row's values are joined with `|`; in text, `~` and `|` are escaped as `~~` and
//! `~|`, and NULL is `~N`, so a joined row cannot be read two ways. Every expression
//! reads its column once or a few times, never a rendering within a rendering: engines
//! that do not share common subexpressions (PostgreSQL, MySQL) would compute it again.

use super::dialect::{base_type, Dialect};
use super::value_class::ValueClass;

/// How a pair of columns (source, target) is rendered on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Number,
    Float,
    Boolean,
    Text,
    Date,
    Timestamp,
    Time,
    Binary,
    Other,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Number => "number",
            Rule::Float => "float (6 decimal places)",
            Rule::Boolean => "boolean",
            Rule::Text => "text",
            Rule::Date => "date",
            Rule::Timestamp => "timestamp (microseconds, UTC)",
            Rule::Time => "time",
            Rule::Binary => "bytes",
            Rule::Other => "text as each engine casts it",
        }
    }
}

/// The rule two columns' classes are compared by.
pub fn rule_for(source: ValueClass, target: ValueClass) -> Rule {
    use ValueClass as C;
    match (source, target) {
        (a, b) if a.is_number() && b.is_number() => {
            if a == C::Float || b == C::Float {
                Rule::Float
            } else {
                Rule::Number
            }
        }
        (C::Boolean, C::Boolean | C::Integer) | (C::Integer, C::Boolean) => Rule::Boolean,
        (C::Date, C::Date) => Rule::Date,
        (C::Date | C::Timestamp | C::TimestampTz, C::Date | C::Timestamp | C::TimestampTz) => {
            Rule::Timestamp
        }
        (C::Time, C::Time) => Rule::Time,
        (C::Binary, C::Binary) => Rule::Binary,
        (C::Text, _) | (_, C::Text) => Rule::Text,
        _ => Rule::Other,
    }
}

/// A column as the catalog has it, on one side.
pub struct Column<'a> {
    /// the column as SQL (quoted)
    pub sql: &'a str,
    pub class: ValueClass,
    pub data_type: &'a str,
    pub scale: Option<u64>,
}

/// A column's value rendered by `rule` as text (NULL stays NULL).
pub fn render(d: &dyn Dialect, c: &Column, rule: Rule) -> String {
    let column = c.sql;
    match rule {
        Rule::Number => match (c.class, c.scale) {
            (ValueClass::Integer, _) | (_, Some(0)) => d.cast_text(column),
            (ValueClass::Decimal, Some(_)) => without_zeros(d, &d.cast_text(column)),
            _ => number(d, &d.cast_text(column)),
        },
        Rule::Float => {
            let rounded = d.cast_text(&format!("CAST({column} AS {})", d.decimal_38_6()));
            format!(
                "CASE WHEN ABS({column}) < 1e15 THEN {} ELSE {} END",
                without_zeros(d, &rounded),
                d.cast_text(column)
            )
        }
        Rule::Boolean if c.class == ValueClass::Boolean => {
            format!("CASE WHEN {column} THEN '1' WHEN NOT {column} THEN '0' END")
        }
        Rule::Boolean => d.cast_text(column),
        Rule::Text if c.class == ValueClass::Text && is_fixed_char(c.data_type) => {
            d.trim_trailing(&d.cast_text(column), ' ')
        }
        Rule::Text if c.class == ValueClass::Text => d.cast_text(column),
        Rule::Date => d.format_date(column),
        // CONCAT of a NULL is not NULL on every engine: a NULL date stays NULL
        Rule::Timestamp if c.class == ValueClass::Date => format!(
            "CASE WHEN {column} IS NOT NULL THEN {} END",
            d.concat(&[d.format_date(column), "' 00:00:00.000000'".into()])
        ),
        Rule::Timestamp => d.format_timestamp(column),
        Rule::Time => d.format_time(column),
        Rule::Binary => d.hex_bytes(column),
        // a pair of unlike classes compared as text, each as its engine writes it
        Rule::Text | Rule::Other => d.cast_text(column),
    }
}

/// A decimal's text (which has a point) without trailing zeros after it, nor the point.
fn without_zeros(d: &dyn Dialect, text: &str) -> String {
    d.trim_trailing(&d.trim_trailing(text, '0'), '.')
}

/// A number's text, which may or may not have a point, without trailing zeros after it.
fn number(d: &dyn Dialect, text: &str) -> String {
    format!(
        "CASE WHEN {text} LIKE '%.%' THEN {} ELSE {text} END",
        without_zeros(d, text)
    )
}

fn is_fixed_char(data_type: &str) -> bool {
    matches!(
        base_type(data_type).as_str(),
        "char" | "character" | "bpchar" | "nchar"
    )
}

/// A rendered value as it goes into a row's text: `~N` for NULL, and text (which may
/// hold anything) with `~` and `|` escaped; other renderings hold neither.
pub fn framed(rendered: &str, rule: Rule) -> String {
    let value = match rule {
        Rule::Text | Rule::Other => format!("REPLACE(REPLACE({rendered}, '~', '~~'), '|', '~|')"),
        _ => rendered.to_string(),
    };
    format!("COALESCE({value}, '~N')")
}

/// Framed values joined with `|` into one text (`''` for none).
pub fn joined(d: &dyn Dialect, framed: &[String]) -> String {
    match framed {
        [] => "''".into(),
        [one] => one.clone(),
        many => {
            let mut parts = Vec::with_capacity(many.len() * 2);
            for (i, f) in many.iter().enumerate() {
                if i > 0 {
                    parts.push("'|'".to_string());
                }
                parts.push(f.clone());
            }
            d.concat(&parts)
        }
    }
}

/// The 60-bit integer of a text's MD5 (its first 15 hex digits): what segment checksums
/// sum.
pub fn hash_int(d: &dyn Dialect, text: &str) -> String {
    d.hex_to_int(&format!("substr({}, 1, 15)", d.md5(text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::duckdb::DuckDbDialect;
    use crate::sql::mysql::MySqlDialect;
    use crate::sql::postgres::PostgresDialect;
    use ValueClass as C;

    #[test]
    fn a_pair_of_classes_chooses_one_rule_for_both_sides() {
        assert_eq!(rule_for(C::Integer, C::Decimal), Rule::Number);
        assert_eq!(rule_for(C::Decimal, C::Float), Rule::Float);
        assert_eq!(rule_for(C::Integer, C::Boolean), Rule::Boolean);
        assert_eq!(rule_for(C::Timestamp, C::TimestampTz), Rule::Timestamp);
        assert_eq!(rule_for(C::Date, C::Timestamp), Rule::Timestamp);
        assert_eq!(rule_for(C::Date, C::Date), Rule::Date);
        assert_eq!(rule_for(C::Text, C::Integer), Rule::Text);
        assert_eq!(rule_for(C::Other, C::Other), Rule::Other);
    }

    #[test]
    fn renderings_are_each_engine_s_own_sql_reading_a_column_once() {
        let col = |sql, class, data_type, scale| Column {
            sql,
            class,
            data_type,
            scale,
        };
        let pg = render(
            &PostgresDialect,
            &col("\"d\"", C::Decimal, "numeric(10,2)", Some(2)),
            Rule::Number,
        );
        assert_eq!(pg, "rtrim(rtrim(CAST(\"d\" AS TEXT), '0'), '.')");
        // a scale of 0 has no point: its zeros are digits
        let pg = render(
            &PostgresDialect,
            &col("\"d\"", C::Decimal, "numeric(10,0)", Some(0)),
            Rule::Number,
        );
        assert_eq!(pg, "CAST(\"d\" AS TEXT)");
        let my = render(
            &MySqlDialect,
            &col("`t`", C::Timestamp, "datetime", None),
            Rule::Timestamp,
        );
        assert_eq!(my, "DATE_FORMAT(`t`, '%Y-%m-%d %H:%i:%s.%f')");
        let duck = render(
            &DuckDbDialect,
            &col("\"c\"", C::Text, "CHAR(3)", None),
            Rule::Text,
        );
        assert_eq!(duck, "rtrim(CAST(\"c\" AS VARCHAR), ' ')");
        assert_eq!(
            framed("x", Rule::Text),
            "COALESCE(REPLACE(REPLACE(x, '~', '~~'), '|', '~|'), '~N')"
        );
        assert_eq!(framed("x", Rule::Date), "COALESCE(x, '~N')");
        assert_eq!(
            joined(&PostgresDialect, &["a".into(), "b".into()]),
            "CONCAT(a, '|', b)"
        );
    }
}

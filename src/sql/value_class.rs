//! What kind of value a column holds, by its catalog type, in terms every engine shares:
//! how two engines' columns are compared when a dataset is reconciled across them
//! (PostgreSQL's `numeric(10,2)` and DuckDB's `DECIMAL(10,2)` are both decimals, MySQL's
//! `datetime` and Spark's `timestamp_ntz` both timestamps without a zone).

use super::dialect::{base_type, Dialect};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueClass {
    Integer,
    Decimal,
    Float,
    Text,
    Boolean,
    Date,
    /// a date and time without a zone
    Timestamp,
    /// an instant: a timestamp with a time zone
    TimestampTz,
    Time,
    Binary,
    Other,
}

impl ValueClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueClass::Integer => "integer",
            ValueClass::Decimal => "decimal",
            ValueClass::Float => "float",
            ValueClass::Text => "text",
            ValueClass::Boolean => "boolean",
            ValueClass::Date => "date",
            ValueClass::Timestamp => "timestamp",
            ValueClass::TimestampTz => "timestamp with time zone",
            ValueClass::Time => "time",
            ValueClass::Binary => "binary",
            ValueClass::Other => "other",
        }
    }

    /// Numbers of any kind, which compare by value with each other.
    pub fn is_number(self) -> bool {
        matches!(
            self,
            ValueClass::Integer | ValueClass::Decimal | ValueClass::Float
        )
    }
}

const INTEGERS: &[&str] = &[
    "tinyint",
    "smallint",
    "mediumint",
    "int",
    "integer",
    "bigint",
    "hugeint",
    "utinyint",
    "usmallint",
    "uinteger",
    "ubigint",
    "uhugeint",
    "int1",
    "int2",
    "int4",
    "int8",
    "long",
    "short",
    "byte",
    "serial",
    "bigserial",
    "smallserial",
];
const DECIMALS: &[&str] = &["decimal", "numeric", "dec"];
const FLOATS: &[&str] = &[
    "real",
    "float",
    "float4",
    "float8",
    "double",
    "double precision",
];
const BINARIES: &[&str] = &[
    "bytea",
    "blob",
    "binary",
    "varbinary",
    "tinyblob",
    "mediumblob",
    "longblob",
];

/// A column's class by the type its engine's catalog reports.
pub fn value_class(d: &dyn Dialect, data_type: &str) -> ValueClass {
    let base = base_type(data_type);
    let base = base.trim_end_matches(" unsigned").trim();
    if INTEGERS.contains(&base) {
        ValueClass::Integer
    } else if DECIMALS.contains(&base) {
        ValueClass::Decimal
    } else if FLOATS.contains(&base) {
        ValueClass::Float
    } else if base == "boolean" || base == "bool" {
        ValueClass::Boolean
    } else if base == "date" {
        ValueClass::Date
    } else if d.zoned_timestamp(base) {
        ValueClass::TimestampTz
    } else if base == "datetime" || base.starts_with("timestamp") {
        ValueClass::Timestamp
    } else if base == "time" || base.starts_with("time ") {
        ValueClass::Time
    } else if BINARIES.contains(&base) {
        ValueClass::Binary
    } else if d.is_text_type(data_type) {
        ValueClass::Text
    } else {
        ValueClass::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::duckdb::DuckDbDialect;
    use crate::sql::mysql::MySqlDialect;
    use crate::sql::postgres::PostgresDialect;
    use crate::sql::spark::SparkDialect;

    #[test]
    fn each_engine_s_types_fall_in_the_shared_classes() {
        let pg = &PostgresDialect;
        assert_eq!(value_class(pg, "numeric(10,2)"), ValueClass::Decimal);
        assert_eq!(value_class(pg, "double precision"), ValueClass::Float);
        assert_eq!(value_class(pg, "character varying"), ValueClass::Text);
        assert_eq!(
            value_class(pg, "timestamp with time zone"),
            ValueClass::TimestampTz
        );
        assert_eq!(
            value_class(pg, "timestamp without time zone"),
            ValueClass::Timestamp
        );
        let duck = &DuckDbDialect;
        assert_eq!(value_class(duck, "DECIMAL(10,2)"), ValueClass::Decimal);
        assert_eq!(value_class(duck, "HUGEINT"), ValueClass::Integer);
        assert_eq!(
            value_class(duck, "TIMESTAMP WITH TIME ZONE"),
            ValueClass::TimestampTz
        );
        assert_eq!(value_class(duck, "TIMESTAMP_NS"), ValueClass::Timestamp);
        assert_eq!(value_class(duck, "VARCHAR"), ValueClass::Text);
        let my = &MySqlDialect;
        assert_eq!(value_class(my, "int unsigned"), ValueClass::Integer);
        assert_eq!(value_class(my, "datetime"), ValueClass::Timestamp);
        assert_eq!(value_class(my, "varchar"), ValueClass::Text);
        assert_eq!(value_class(my, "longblob"), ValueClass::Binary);
        let spark = &SparkDialect;
        // Spark's TIMESTAMP is an instant; TIMESTAMP_NTZ is not
        assert_eq!(value_class(spark, "timestamp"), ValueClass::TimestampTz);
        assert_eq!(value_class(spark, "timestamp_ntz"), ValueClass::Timestamp);
        assert_eq!(value_class(spark, "string"), ValueClass::Text);
        assert_eq!(value_class(spark, "decimal(10,2)"), ValueClass::Decimal);
    }
}

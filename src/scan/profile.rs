//! A dataset's profile: ONE aggregate query over the whole table, built from its columns
//! and the configured metrics, and its row turned into metric points.

use chrono::{DateTime, Utc};

use crate::config::{ProfileConfig, ProfileMetric};
use crate::exec::{ColumnInfo, Value};
use crate::sql::ast::{AggFn, Expr, Select, SelectItem, TableRef};
use crate::sql::dialect::Dialect;
use crate::sql::value_class::{value_class, ValueClass};
use crate::timestamp::parse_timestamp;

/// What kind of values a column holds, for what its profile measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeClass {
    Number,
    Text,
    Temporal,
    Other,
}

/// A column's class by its catalog type, on any engine: the shared value classes that
/// reconciliation compares by, folded into what a profile measures of them.
pub fn type_class(d: &dyn Dialect, data_type: &str) -> TypeClass {
    match value_class(d, data_type) {
        ValueClass::Integer | ValueClass::Decimal | ValueClass::Float => TypeClass::Number,
        ValueClass::Date | ValueClass::Timestamp | ValueClass::TimestampTz | ValueClass::Time => {
            TypeClass::Temporal
        }
        ValueClass::Text => TypeClass::Text,
        ValueClass::Boolean | ValueClass::Binary | ValueClass::Other => TypeClass::Other,
    }
}

/// One value a profile measures: of the dataset (`column` None) or of a column.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub column: Option<String>,
    /// `row_count`, `min`, ... or `check:<id>` for a check's value
    pub metric: String,
    /// None: no value (an empty table has no minimum)
    pub value: Option<f64>,
}

/// How a point is computed from the query's row.
#[derive(Debug, Clone)]
enum Read {
    /// a number as it is
    Number(usize),
    /// a count, NULL being 0
    Count(usize),
    /// a timestamp or date, as seconds since the epoch
    Time(usize),
    /// sum / count
    Ratio(usize, usize),
    /// seconds from the newest value to the run's now
    Age(usize),
}

/// The profile query of one dataset and how to read its row back.
#[derive(Debug, Clone)]
pub struct ProfilePlan {
    pub select: Select,
    reads: Vec<(Option<String>, &'static str, Read)>,
    /// columns over the configured limit, not profiled
    pub skipped: Vec<String>,
}

struct SelectBuilder {
    items: Vec<SelectItem>,
    reads: Vec<(Option<String>, &'static str, Read)>,
}

impl SelectBuilder {
    fn item(&mut self, expr: Expr) -> usize {
        let alias = format!("p{}", self.items.len());
        self.items.push(SelectItem {
            expr,
            alias: Some(alias),
        });
        self.items.len() - 1
    }

    fn read(&mut self, column: &str, metric: &'static str, read: Read) {
        self.reads.push((Some(column.to_string()), metric, read));
    }
}

/// Plan the one profile query of `table` with these `columns`.
pub fn plan(
    d: &dyn Dialect,
    table: &TableRef,
    columns: &[ColumnInfo],
    config: &ProfileConfig,
) -> ProfilePlan {
    let mut b = SelectBuilder {
        items: Vec::new(),
        reads: Vec::new(),
    };
    let rows = b.item(Expr::CountAll);
    b.reads.push((None, "row_count", Read::Count(rows)));
    let wants = |m: ProfileMetric| config.metrics.contains(&m);
    for c in columns.iter().take(config.max_columns) {
        let col = || Expr::col(&c.name);
        let class = type_class(d, &c.data_type);
        if wants(ProfileMetric::Missing) {
            let i = b.item(Expr::count_where(Expr::IsNull(Box::new(col()))));
            b.read(&c.name, "missing_count", Read::Count(i));
        }
        if wants(ProfileMetric::Distinct) {
            // text compares exactly, as the checks do (MySQL collations fold case)
            let value = match class {
                TypeClass::Text => Expr::ExactText(Box::new(col())),
                _ => col(),
            };
            let expr = match config.approx_distinct {
                true => Expr::ApproxCountDistinct(Box::new(value)),
                false => Expr::CountDistinct(Box::new(value)),
            };
            let i = b.item(expr);
            b.read(&c.name, "distinct_count", Read::Count(i));
        }
        let value = match class {
            TypeClass::Text => Expr::CharLength(Box::new(col())),
            _ => col(),
        };
        let (min, max, avg) = match class {
            TypeClass::Number => ("min", "max", "avg"),
            TypeClass::Text => ("min_length", "max_length", "avg_length"),
            _ => ("min", "max", ""),
        };
        let read = |i| match class {
            TypeClass::Temporal => Read::Time(i),
            _ => Read::Number(i),
        };
        let mut max_item = None;
        if wants(ProfileMetric::MinMax) && class != TypeClass::Other {
            let i = b.item(Expr::agg(AggFn::Min, value.clone()));
            b.read(&c.name, min, read(i));
            let i = b.item(Expr::agg(AggFn::Max, value.clone()));
            b.read(&c.name, max, read(i));
            max_item = Some(i);
        }
        if wants(ProfileMetric::Avg) && matches!(class, TypeClass::Number | TypeClass::Text) {
            // an exact sum over a count: engines round AVG differently
            let sum = b.item(Expr::agg(AggFn::Sum, value.clone()));
            let count = b.item(Expr::agg(AggFn::Count, value.clone()));
            b.read(&c.name, avg, Read::Ratio(sum, count));
        }
        if wants(ProfileMetric::Freshness) && class == TypeClass::Temporal {
            let i = max_item.unwrap_or_else(|| b.item(Expr::agg(AggFn::Max, col())));
            b.read(&c.name, "freshness_seconds", Read::Age(i));
        }
    }
    ProfilePlan {
        select: Select::new(b.items, table.clone(), None),
        reads: b.reads,
        skipped: columns
            .iter()
            .skip(config.max_columns)
            .map(|c| c.name.clone())
            .collect(),
    }
}

impl ProfilePlan {
    /// The query's one row as points, in the plan's order.
    pub fn points(&self, row: &[Value], now: DateTime<Utc>) -> Vec<Point> {
        let number = |i: usize| row.get(i).and_then(Value::as_f64);
        let time = |i: usize| row.get(i).and_then(seconds);
        self.reads
            .iter()
            .map(|(column, metric, read)| Point {
                column: column.clone(),
                metric: metric.to_string(),
                value: match read {
                    Read::Number(i) => number(*i),
                    Read::Count(i) => Some(number(*i).unwrap_or(0.0)),
                    Read::Time(i) => time(*i),
                    Read::Ratio(sum, count) => match (number(*sum), number(*count)) {
                        (Some(s), Some(c)) if c > 0.0 => Some(s / c),
                        _ => None,
                    },
                    Read::Age(i) => time(*i).map(|t| now.timestamp_micros() as f64 / 1e6 - t),
                },
            })
            .collect()
    }
}

/// A timestamp, a date or text holding one, as seconds since the epoch (naive = UTC).
pub(crate) fn seconds(v: &Value) -> Option<f64> {
    match v {
        Value::Timestamp(micros) => Some(*micros as f64 / 1e6),
        Value::Date(days) => Some(*days as f64 * 86_400.0),
        Value::Text(s) => parse_timestamp(s).map(|t| t.timestamp_micros() as f64 / 1e6),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::dialect::print_select;
    use crate::sql::duckdb::DuckDbDialect;
    use crate::sql::postgres::PostgresDialect;

    fn col(name: &str, data_type: &str) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            data_type: data_type.into(),
            character_maximum_length: None,
            numeric_precision: None,
            numeric_scale: None,
            datetime_precision: None,
            nullable: None,
        }
    }

    #[test]
    fn types_fall_into_classes_on_every_engine() {
        let d = &PostgresDialect;
        assert_eq!(type_class(d, "integer"), TypeClass::Number);
        assert_eq!(type_class(d, "numeric(10,2)"), TypeClass::Number);
        assert_eq!(type_class(d, "double precision"), TypeClass::Number);
        assert_eq!(type_class(d, "int unsigned"), TypeClass::Number);
        assert_eq!(type_class(d, "character varying(20)"), TypeClass::Text);
        assert_eq!(
            type_class(d, "timestamp with time zone"),
            TypeClass::Temporal
        );
        assert_eq!(type_class(d, "TIMESTAMP_MS"), TypeClass::Temporal);
        assert_eq!(type_class(d, "datetime(6)"), TypeClass::Temporal);
        assert_eq!(type_class(d, "date"), TypeClass::Temporal);
        assert_eq!(type_class(d, "boolean"), TypeClass::Other);
        assert_eq!(type_class(d, "bytea"), TypeClass::Other);
        // Spark's own names of its integer types are numbers too
        let spark = &crate::sql::spark::SparkDialect;
        for t in ["long", "short", "byte", "bigint", "decimal(38,6)"] {
            assert_eq!(type_class(spark, t), TypeClass::Number, "{t}");
        }
        assert_eq!(type_class(spark, "timestamp_ntz"), TypeClass::Temporal);
        assert_eq!(type_class(spark, "string"), TypeClass::Text);
    }

    #[test]
    fn one_query_measures_every_column_by_its_class() {
        let d = &DuckDbDialect;
        let t = TableRef::new(vec!["main".into(), "t".into()]);
        let cols = [
            col("id", "INTEGER"),
            col("name", "VARCHAR"),
            col("at", "TIMESTAMP"),
            col("ok", "BOOLEAN"),
            col("extra", "INTEGER"),
        ];
        let config = ProfileConfig {
            max_columns: 4,
            approx_distinct: true,
            ..ProfileConfig::default()
        };
        let plan = plan(d, &t, &cols, &config);
        assert_eq!(plan.skipped, ["extra"]);
        let sql = print_select(d, &plan.select);
        assert!(sql.contains("approx_count_distinct(\"id\")"), "{sql}");
        assert!(
            sql.contains("MAX(length(CAST(\"name\" AS VARCHAR)))"),
            "{sql}"
        );
        assert_eq!(sql.matches("FROM").count(), 1, "one query: {sql}");
        // id: 1,2,NULL / name: 'ab','abcd',NULL / at: two times / ok
        let day = 86_400_000_000i64;
        let mut row = vec![Value::Int(3)];
        row.extend([
            Value::Int(1),
            Value::Int(2),
            Value::Int(1),
            Value::Int(2),
            Value::Int(3),
            Value::Int(2),
        ]);
        row.extend([
            Value::Int(1),
            Value::Int(2),
            Value::Int(2),
            Value::Int(4),
            Value::Int(6),
            Value::Int(2),
        ]);
        row.extend([
            Value::Int(0),
            Value::Int(3),
            Value::Timestamp(day),
            Value::Timestamp(2 * day),
        ]);
        row.extend([Value::Int(1), Value::Int(2)]);
        let now = DateTime::from_timestamp(3 * 86_400, 0).unwrap();
        let points = plan.points(&row, now);
        let get = |c: Option<&str>, m: &str| {
            points
                .iter()
                .find(|p| p.column.as_deref() == c && p.metric == m)
                .unwrap_or_else(|| panic!("{c:?} {m}: {points:?}"))
                .value
        };
        assert_eq!(get(None, "row_count"), Some(3.0));
        assert_eq!(get(Some("id"), "missing_count"), Some(1.0));
        assert_eq!(get(Some("id"), "distinct_count"), Some(2.0));
        assert_eq!(get(Some("id"), "avg"), Some(1.5));
        assert_eq!(get(Some("name"), "max_length"), Some(4.0));
        assert_eq!(get(Some("name"), "avg_length"), Some(3.0));
        assert_eq!(get(Some("at"), "max"), Some(2.0 * 86_400.0));
        assert_eq!(get(Some("at"), "freshness_seconds"), Some(86_400.0));
        assert_eq!(get(Some("ok"), "distinct_count"), Some(2.0));
        assert!(points.iter().all(|p| p.column.as_deref() != Some("extra")));
    }
}

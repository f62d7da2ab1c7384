//! Arrow columns of plain types (booleans, integers, floats, text, timestamps, dates) as
//! assay's values. DuckDB and the Spark client each bring their own version of the
//! `arrow` crate, whose types differ, so the one conversion is written once here and
//! expanded against each: `plain_arrow_values!(duckdb::arrow)`, `plain_arrow_values!(arrow)`.

/// Expands to `fn plain_column(a: &dyn Array) -> Option<Vec<Value>>`: the column's
/// values in order, None when its type is not a plain one. `Value` must be in scope.
macro_rules! plain_arrow_values {
    ($($arrow:tt)+) => {
        fn plain_column(a: &dyn $($arrow)+::array::Array) -> Option<Vec<Value>> {
            use $($arrow)+::array::AsArray;
            use $($arrow)+::datatypes::{self as dt, DataType, TimeUnit};
            let micros = |unit: TimeUnit, v: i64| match unit {
                TimeUnit::Second => v.saturating_mul(1_000_000),
                TimeUnit::Millisecond => v.saturating_mul(1_000),
                TimeUnit::Microsecond => v,
                TimeUnit::Nanosecond => v.div_euclid(1_000),
            };
            // typed iterators, not a call per value: a history's points are millions
            macro_rules! typed {
                ($array:expr, $f:expr) => {
                    $array.iter().map(|v| v.map_or(Value::Null, $f)).collect()
                };
            }
            macro_rules! ints {
                ($t:ty) => {
                    typed!(a.as_primitive::<$t>(), |v| Value::Int(v.into()))
                };
            }
            Some(match a.data_type() {
                DataType::Null => vec![Value::Null; a.len()],
                DataType::Boolean => typed!(a.as_boolean(), Value::Bool),
                DataType::Int8 => ints!(dt::Int8Type),
                DataType::Int16 => ints!(dt::Int16Type),
                DataType::Int32 => ints!(dt::Int32Type),
                DataType::Int64 => ints!(dt::Int64Type),
                DataType::UInt8 => ints!(dt::UInt8Type),
                DataType::UInt16 => ints!(dt::UInt16Type),
                DataType::UInt32 => ints!(dt::UInt32Type),
                DataType::UInt64 => ints!(dt::UInt64Type),
                DataType::Float32 => {
                    typed!(a.as_primitive::<dt::Float32Type>(), |v| Value::Float(v.into()))
                }
                DataType::Float64 => typed!(a.as_primitive::<dt::Float64Type>(), Value::Float),
                DataType::Utf8 => typed!(a.as_string::<i32>(), |s| Value::Text(s.to_string())),
                DataType::LargeUtf8 => {
                    typed!(a.as_string::<i64>(), |s| Value::Text(s.to_string()))
                }
                DataType::Timestamp(unit, _) => {
                    let unit = *unit;
                    let at = |v: i64| Value::Timestamp(micros(unit, v));
                    match unit {
                        TimeUnit::Second => typed!(a.as_primitive::<dt::TimestampSecondType>(), at),
                        TimeUnit::Millisecond => {
                            typed!(a.as_primitive::<dt::TimestampMillisecondType>(), at)
                        }
                        TimeUnit::Microsecond => {
                            typed!(a.as_primitive::<dt::TimestampMicrosecondType>(), at)
                        }
                        TimeUnit::Nanosecond => {
                            typed!(a.as_primitive::<dt::TimestampNanosecondType>(), at)
                        }
                    }
                }
                DataType::Date32 => typed!(a.as_primitive::<dt::Date32Type>(), Value::Date),
                _ => return None,
            })
        }
    };
}

pub(crate) use plain_arrow_values;

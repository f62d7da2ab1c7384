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
            let n = a.len();
            let each = |f: &dyn Fn(usize) -> Value| -> Vec<Value> {
                (0..n)
                    .map(|i| if a.is_null(i) { Value::Null } else { f(i) })
                    .collect()
            };
            macro_rules! ints {
                ($t:ty) => {{
                    let p = a.as_primitive::<$t>();
                    each(&|i| Value::Int(p.value(i).into()))
                }};
            }
            Some(match a.data_type() {
                DataType::Null => vec![Value::Null; n],
                DataType::Boolean => {
                    let b = a.as_boolean();
                    each(&|i| Value::Bool(b.value(i)))
                }
                DataType::Int8 => ints!(dt::Int8Type),
                DataType::Int16 => ints!(dt::Int16Type),
                DataType::Int32 => ints!(dt::Int32Type),
                DataType::Int64 => ints!(dt::Int64Type),
                DataType::UInt8 => ints!(dt::UInt8Type),
                DataType::UInt16 => ints!(dt::UInt16Type),
                DataType::UInt32 => ints!(dt::UInt32Type),
                DataType::UInt64 => ints!(dt::UInt64Type),
                DataType::Float32 => {
                    let p = a.as_primitive::<dt::Float32Type>();
                    each(&|i| Value::Float(p.value(i).into()))
                }
                DataType::Float64 => {
                    let p = a.as_primitive::<dt::Float64Type>();
                    each(&|i| Value::Float(p.value(i)))
                }
                DataType::Utf8 => {
                    let s = a.as_string::<i32>();
                    each(&|i| Value::Text(s.value(i).to_string()))
                }
                DataType::LargeUtf8 => {
                    let s = a.as_string::<i64>();
                    each(&|i| Value::Text(s.value(i).to_string()))
                }
                DataType::Timestamp(unit, _) => {
                    let unit = *unit;
                    match unit {
                        TimeUnit::Second => {
                            let p = a.as_primitive::<dt::TimestampSecondType>();
                            each(&|i| Value::Timestamp(micros(unit, p.value(i))))
                        }
                        TimeUnit::Millisecond => {
                            let p = a.as_primitive::<dt::TimestampMillisecondType>();
                            each(&|i| Value::Timestamp(micros(unit, p.value(i))))
                        }
                        TimeUnit::Microsecond => {
                            let p = a.as_primitive::<dt::TimestampMicrosecondType>();
                            each(&|i| Value::Timestamp(p.value(i)))
                        }
                        TimeUnit::Nanosecond => {
                            let p = a.as_primitive::<dt::TimestampNanosecondType>();
                            each(&|i| Value::Timestamp(micros(unit, p.value(i))))
                        }
                    }
                }
                DataType::Date32 => {
                    let p = a.as_primitive::<dt::Date32Type>();
                    each(&|i| Value::Date(p.value(i)))
                }
                _ => return None,
            })
        }
    };
}

pub(crate) use plain_arrow_values;

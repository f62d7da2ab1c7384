//! Records of a format as Arrow record batches, and the Arrow IPC frames a consumer may
//! ask for instead of JSON. One schema per format, the same on both sides, so a batch
//! goes into DuckDB as it arrives (its appender takes Arrow as it is).
//!
//! The Arrow types are the DuckDB column types of the format's fields: long Int64,
//! double Float64, boolean, string Utf8, timestamp Timestamp(µs) in UTC, date Date32,
//! decimal Decimal128(precision, scale), or (38,10) when the field declares neither.

use std::sync::Arc;

use duckdb::arrow::array::{
    Array, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Array, Decimal128Builder,
    Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use duckdb::arrow::datatypes::{DataType, Field as ArrowField, Schema, SchemaRef, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use serde_json::{Map, Value as Json};

use super::error::ChannelError;
use super::format::{decimal_fits, Field, FieldType, Format};

/// The schema's metadata key naming the result set a batch belongs to.
pub const RESULT_SET_KEY: &str = "assay.result_set";

/// The precision and scale a decimal field is held at in Arrow and in DuckDB: its own, or
/// DuckDB's widest exact form when it declares none.
pub fn decimal_shape(field: &Field) -> (u8, i8) {
    match (field.precision, field.scale) {
        (Some(p), s) => (p.min(38) as u8, s.unwrap_or(0).min(38) as i8),
        _ => (38, 10),
    }
}

fn data_type(field: &Field) -> DataType {
    match field.field_type {
        FieldType::String => DataType::Utf8,
        FieldType::Long => DataType::Int64,
        FieldType::Double => DataType::Float64,
        FieldType::Boolean => DataType::Boolean,
        FieldType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        FieldType::Date => DataType::Date32,
        FieldType::Decimal => {
            let (p, s) = decimal_shape(field);
            DataType::Decimal128(p, s)
        }
    }
}

/// The Arrow schema of a format's records.
pub fn schema(format: &Format) -> Schema {
    Schema::new(
        format
            .fields
            .iter()
            .map(|f| ArrowField::new(&f.name, data_type(f), f.nullable))
            .collect::<Vec<_>>(),
    )
}

/// A decimal's text as an integer of `scale` fraction digits, when it fits `precision`.
fn decimal_units(text: &str, precision: u8, scale: i8) -> Option<i128> {
    if !decimal_fits(text, Some(precision as u32), Some(scale.max(0) as u32)) {
        return None;
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let fraction = fraction.trim_end_matches('0');
    let mut units: i128 = 0;
    for c in whole.bytes().chain(fraction.bytes()) {
        units = units * 10 + (c - b'0') as i128;
    }
    for _ in fraction.len()..scale.max(0) as usize {
        units *= 10;
    }
    Some(if negative { -units } else { units })
}

/// Checked records (`Format::check`'s output) as one record batch. Fails only for a
/// decimal of a field without precision that DuckDB's widest decimal cannot hold.
pub fn batch(format: &Format, records: &[Map<String, Json>]) -> Result<RecordBatch, ChannelError> {
    let n = records.len();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(format.fields.len());
    for f in &format.fields {
        let column: ArrayRef = match f.field_type {
            FieldType::String => {
                let mut b = StringBuilder::with_capacity(n, n * 16);
                for r in records {
                    b.append_option(r.get(&f.name).and_then(Json::as_str));
                }
                Arc::new(b.finish())
            }
            FieldType::Long => {
                let mut b = Int64Builder::with_capacity(n);
                for r in records {
                    b.append_option(r.get(&f.name).and_then(Json::as_i64));
                }
                Arc::new(b.finish())
            }
            FieldType::Double => {
                let mut b = Float64Builder::with_capacity(n);
                for r in records {
                    b.append_option(r.get(&f.name).and_then(Json::as_f64));
                }
                Arc::new(b.finish())
            }
            FieldType::Boolean => {
                let mut b = BooleanBuilder::with_capacity(n);
                for r in records {
                    b.append_option(r.get(&f.name).and_then(Json::as_bool));
                }
                Arc::new(b.finish())
            }
            FieldType::Timestamp => {
                let mut b = TimestampMicrosecondBuilder::with_capacity(n);
                for r in records {
                    b.append_option(
                        r.get(&f.name)
                            .and_then(Json::as_str)
                            .and_then(crate::timestamp::parse_timestamp)
                            .map(|t| t.timestamp_micros()),
                    );
                }
                Arc::new(b.finish())
            }
            FieldType::Date => {
                let mut b = Date32Builder::with_capacity(n);
                for r in records {
                    b.append_option(
                        r.get(&f.name)
                            .and_then(Json::as_str)
                            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                            .map(|d| (d - chrono::NaiveDate::default()).num_days() as i32),
                    );
                }
                Arc::new(b.finish())
            }
            FieldType::Decimal => {
                let (p, s) = decimal_shape(f);
                let mut b = Decimal128Builder::with_capacity(n);
                for r in records {
                    match r.get(&f.name) {
                        Some(Json::String(text)) => match decimal_units(text, p, s) {
                            Some(units) => b.append_value(units),
                            None => {
                                return Err(ChannelError::Arrow(format!(
                                    "field '{}' holds {text}, more digits than a decimal({p},{s}) \
                                     holds (give the field a precision and scale)",
                                    f.name
                                )))
                            }
                        },
                        _ => b.append_null(),
                    }
                }
                Arc::new(
                    b.finish()
                        .with_precision_and_scale(p, s)
                        .map_err(arrow_error)?,
                )
            }
        };
        columns.push(column);
    }
    RecordBatch::try_new(Arc::new(schema(format)), columns).map_err(arrow_error)
}

/// One batch as a self-contained Arrow IPC stream (its schema, then the batch), the
/// result set it belongs to in the schema's metadata.
pub fn encode(batch: &RecordBatch, result_set: Option<&str>) -> Result<Vec<u8>, ChannelError> {
    let mut schema = batch.schema().as_ref().clone();
    if let Some(id) = result_set {
        schema
            .metadata
            .insert(RESULT_SET_KEY.to_string(), id.to_string());
    }
    let batch = batch
        .clone()
        .with_schema(Arc::new(schema.clone()))
        .map_err(arrow_error)?;
    let mut writer =
        arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &schema).map_err(arrow_error)?;
    writer.write(&batch).map_err(arrow_error)?;
    writer.finish().map_err(arrow_error)?;
    writer.into_inner().map_err(arrow_error)
}

/// A binary frame read back: its batches (validated by the reader) and its result set,
/// refused unless its schema is exactly the format's and its decimals fit their precision.
pub fn decode(
    bytes: &[u8],
    expected: &SchemaRef,
) -> Result<(Option<String>, Vec<RecordBatch>), ChannelError> {
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
        .map_err(|e| {
            ChannelError::Arrow(format!(
                "a binary frame that is not an Arrow IPC stream: {e}"
            ))
        })?;
    let schema = reader.schema();
    let result_set = schema.metadata.get(RESULT_SET_KEY).cloned();
    if schema.fields() != expected.fields() {
        return Err(ChannelError::Arrow(format!(
            "a binary frame's schema ({}) is not the format's ({})",
            fields_text(&schema),
            fields_text(expected)
        )));
    }
    let mut batches = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| ChannelError::Arrow(format!("a broken Arrow batch: {e}")))?;
        for column in batch.columns() {
            if let Some(d) = column.as_any().downcast_ref::<Decimal128Array>() {
                d.validate_decimal_precision(d.precision())
                    .map_err(|e| ChannelError::Arrow(format!("an Arrow batch's decimal: {e}")))?;
            }
        }
        // the format's schema, without the frame's metadata
        batches.push(
            RecordBatch::try_new(expected.clone(), batch.columns().to_vec())
                .map_err(arrow_error)?,
        );
    }
    Ok((result_set, batches))
}

fn fields_text(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| {
            format!(
                "{} {}{}",
                f.name(),
                f.data_type(),
                if f.is_nullable() { "" } else { " not null" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn arrow_error(e: impl std::fmt::Display) -> ChannelError {
    ChannelError::Arrow(e.to_string())
}

/// The rows of a batch: what a binary frame counts as records.
pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn format() -> Format {
        serde_json::from_value(json!({"name": "t", "fields": [
            {"name": "id", "type": "long"},
            {"name": "name", "type": "string", "nullable": true},
            {"name": "amount", "type": "decimal", "precision": 12, "scale": 2},
            {"name": "wide", "type": "decimal", "nullable": true},
            {"name": "at", "type": "timestamp"},
            {"name": "day", "type": "date", "nullable": true},
            {"name": "ok", "type": "boolean", "nullable": true},
            {"name": "score", "type": "double", "nullable": true}
        ]}))
        .unwrap()
    }

    #[test]
    fn records_round_trip_through_ipc_exactly() {
        let f = format();
        let records: Vec<Map<String, Json>> = [
            json!({"id": 1, "name": "a", "amount": "12.50", "wide": "1234567890123456789012345678.1234567891",
                   "at": "2026-01-03 12:00:00+02:00", "day": "2026-01-02", "ok": true, "score": 0.1}),
            json!({"id": -2, "amount": "-0.05", "at": "1969-12-31T23:59:59.999999Z"}),
        ]
        .iter()
        .map(|r| f.check(r).unwrap())
        .collect();
        let b = batch(&f, &records).unwrap();
        let bytes = encode(&b, Some("rs1")).unwrap();
        let expected: SchemaRef = Arc::new(schema(&f));
        let (rs, back) = decode(&bytes, &expected).unwrap();
        assert_eq!(rs.as_deref(), Some("rs1"));
        assert_eq!(back, vec![b.clone()]);
        let amount = b
            .column(2)
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        assert_eq!(amount.value_as_string(0), "12.50");
        assert_eq!(amount.value_as_string(1), "-0.05");
        let wide = b
            .column(3)
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        assert_eq!(
            wide.value_as_string(0),
            "1234567890123456789012345678.1234567891"
        );
        assert!(wide.is_null(1));
        let at = b
            .column(4)
            .as_any()
            .downcast_ref::<duckdb::arrow::array::TimestampMicrosecondArray>()
            .unwrap();
        // the offset is applied: 12:00 at +02:00 is 10:00 UTC
        assert_eq!(at.value(0), 1_767_434_400_000_000);
        assert_eq!(at.value(1), -1);
    }

    #[test]
    fn what_an_arrow_decimal_cannot_hold_is_refused_not_rounded() {
        let f = format();
        let r = f
            .check(&json!({"id": 1, "amount": "1", "wide": "12345678901234567890.1234567890123456789", "at": "2026-01-01"}))
            .unwrap();
        let e = batch(&f, &[r]).unwrap_err().to_string();
        assert!(e.contains("decimal(38,10)"), "{e}");
    }

    #[test]
    fn a_frame_of_another_schema_or_no_arrow_is_refused() {
        let f = format();
        let expected: SchemaRef = Arc::new(schema(&f));
        let mut other = f.clone();
        other.fields[0].nullable = true;
        let r = other
            .check(&json!({"id": null, "amount": "1", "at": "2026-01-01"}))
            .unwrap();
        let bytes = encode(&batch(&other, &[r]).unwrap(), None).unwrap();
        let e = decode(&bytes, &expected).unwrap_err().to_string();
        assert!(e.contains("not the format's"), "{e}");
        let e = decode(b"{\"type\": \"records\"}", &expected)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an Arrow IPC stream"), "{e}");
    }
}

//! ODCS `logicalType`s against the catalog's column types, by category, as
//! datacontract-cli compares them: integer and number are each other's, a type the
//! contract names no category of passes, a column type of no category fails.
//!
//! Soda contracts compare physical types only, so this is a check of ODCS's own (built
//! here, never written in a Soda contract).

use serde_json::{json, Map, Value as Json};

use crate::checks::rules::ReferenceData;
use crate::checks::{
    Capture, CatalogColumns, CheckKind, Inputs, MeasureError, Measurement, NeedCtx, Needs, NoValue,
    UserSql,
};
use crate::contract::Check;
use crate::decode::Reader;
use crate::source::Span;
use crate::sql::dialect::base_type;

#[derive(Debug, Clone)]
pub struct LogicalTypes {
    /// (column, logicalType as written)
    pub expected: Vec<(String, String)>,
    pub span: Span,
}

impl LogicalTypes {
    pub fn check(self, r: &Reader) -> Check {
        let span = self.span;
        let id = "checks/odcs_logical_types/logicalType".to_string();
        let names = ("logical types".to_string(), "logicalType".to_string());
        super::not_run::built_check(r, Box::new(self), id, None, names, span)
    }
}

impl CheckKind for LogicalTypes {
    type Handles = CatalogColumns;

    fn type_name(&self) -> &'static str {
        "odcs_logical_types"
    }

    fn default_name(&self, _column: Option<&str>) -> String {
        "logical types".into()
    }

    fn needs(&self, _ctx: &NeedCtx, needs: &mut Needs) -> CatalogColumns {
        needs.catalog_columns()
    }

    fn measure(
        &self,
        columns: &CatalogColumns,
        inputs: &Inputs,
    ) -> Result<Measurement, MeasureError> {
        let actual = inputs.columns(*columns)?;
        let mut differences = Vec::new();
        for (name, want) in &self.expected {
            let Some(expected) = category(want) else {
                continue; // a logical type of no category (json, a vector, ...) says nothing to compare
            };
            match actual
                .iter()
                .find(|c| inputs.dialect.same_ident(&c.name, name))
            {
                None => differences.push(format!("column '{name}' is missing")),
                Some(col) => {
                    let got = category(&col.data_type);
                    let numeric = |c: Option<&str>| matches!(c, Some("integer" | "number"));
                    if got != Some(expected) && !(numeric(got) && numeric(Some(expected))) {
                        differences.push(format!(
                            "column '{name}' is {}, which is not a logical {want}",
                            col.data_type
                        ));
                    }
                }
            }
        }
        let mut m = Measurement::new(Some(differences.len() as f64))
            .diag("differences", json!(differences));
        m.no_value = NoValue::Fail;
        Ok(m)
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<Capture> {
        None
    }

    fn settings(&self, settings: &mut Map<String, Json>) {
        let expected: Map<String, Json> = self
            .expected
            .iter()
            .map(|(c, t)| (c.clone(), Json::String(t.clone())))
            .collect();
        settings.insert("logical_types".into(), Json::Object(expected));
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        Vec::new()
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

/// The ODCS category of a type name, a contract's or an engine's (DuckDB, PostgreSQL,
/// MySQL, Spark); None for one of no category (binary, interval, json elements, ...).
pub fn category(data_type: &str) -> Option<&'static str> {
    let lower = data_type.trim().to_ascii_lowercase();
    // containers first: their parameters hold other types
    if lower.ends_with("[]") || lower.starts_with("array") || lower.starts_with("list") {
        return Some("array");
    }
    for (prefix, cat) in [("struct", "object"), ("row", "object"), ("map", "map")] {
        if lower.starts_with(prefix) && lower[prefix.len()..].trim_start().starts_with(['(', '<']) {
            return Some(cat);
        }
    }
    let base = base_type(&lower);
    let cat = match base.as_str() {
        "varchar" | "char" | "character" | "character varying" | "bpchar" | "nvarchar"
        | "nchar" | "text" | "tinytext" | "mediumtext" | "longtext" | "string" | "uuid"
        | "enum" | "set" | "name" | "citext" => "string",
        "int" | "integer" | "bigint" | "smallint" | "tinyint" | "mediumint" | "hugeint"
        | "uhugeint" | "ubigint" | "uinteger" | "usmallint" | "utinyint" | "int2" | "int4"
        | "int8" | "int16" | "int32" | "int64" | "int128" | "long" | "short" | "byte"
        | "serial" | "bigserial" | "smallserial" | "bigint unsigned" | "int unsigned"
        | "integer unsigned" | "smallint unsigned" | "tinyint unsigned" | "mediumint unsigned" => {
            "integer"
        }
        "decimal" | "numeric" | "dec" | "float" | "double" | "double precision" | "real"
        | "float4" | "float8" | "number" | "decimal unsigned" | "double unsigned"
        | "float unsigned" => "number",
        "bool" | "boolean" | "bit" | "logical" => "boolean",
        "timestamp"
        | "timestamptz"
        | "timestamp without time zone"
        | "timestamp with time zone"
        | "timestamp_tz"
        | "timestamp_ntz"
        | "timestamp_ltz"
        | "timestamp_s"
        | "timestamp_ms"
        | "timestamp_ns"
        | "datetime"
        | "datetime2" => "timestamp",
        "date" => "date",
        "time" | "timetz" | "time without time zone" | "time with time zone" => "time",
        "object" | "struct" | "record" | "json" | "jsonb" | "variant" => "object",
        "array" => "array",
        "map" => "map",
        _ => return None,
    };
    Some(cat)
}

#[cfg(test)]
mod tests {
    use super::category;

    #[test]
    fn engine_types_fall_into_odcs_categories() {
        for (t, c) in [
            ("VARCHAR", Some("string")),
            ("character varying(20)", Some("string")),
            ("INTEGER", Some("integer")),
            ("HUGEINT", Some("integer")),
            ("int unsigned", Some("integer")),
            ("DECIMAL(10,2)", Some("number")),
            ("double precision", Some("number")),
            ("TIMESTAMP WITH TIME ZONE", Some("timestamp")),
            ("datetime(6)", Some("timestamp")),
            ("timestamp_ntz", Some("timestamp")),
            ("DATE", Some("date")),
            ("INTEGER[]", Some("array")),
            ("array<string>", Some("array")),
            ("STRUCT(a INTEGER)", Some("object")),
            ("struct<a:int>", Some("object")),
            ("MAP(VARCHAR, INTEGER)", Some("map")),
            ("BLOB", None),
            ("interval", None),
        ] {
            assert_eq!(category(t), c, "{t}");
        }
    }
}

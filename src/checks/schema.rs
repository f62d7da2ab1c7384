//! `schema`: declared columns against the catalog. A missing column fails; an extra
//! column fails unless `allow_extra_columns`; a different order fails unless
//! `allow_other_column_order`; `data_type` and its size settings, when given, must match
//! after engine aliases are normalised (int4 = integer, ...).

use serde_json::{json, Map, Value as Json};

use super::rules::ReferenceData;
use super::{
    sorted, Capture, CatalogColumns, CheckKind, CheckType, Inputs, MeasureError, Measurement,
    NeedCtx, Needs, NoValue, ParseCtx, Parsed, Scope, UserSql,
};
use crate::decode::Reader;
use crate::exec::ColumnInfo;
use crate::model::threshold::{Condition, ThresholdRules};
use crate::model::ColumnSpec;
use crate::sql::dialect::{type_params, Dialect};
use crate::yaml::Node;

#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub allow_extra_columns: bool,
    pub allow_other_column_order: bool,
    /// the contract's columns
    pub expected: Vec<ColumnSpec>,
}

impl CheckKind for Schema {
    type Handles = CatalogColumns;

    fn type_name(&self) -> &'static str {
        TYPE.name()
    }

    fn default_name(&self, _column: Option<&str>) -> String {
        "schema".to_string()
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
        let differences = self.differences(actual, inputs.dialect);
        let expected: Vec<Json> = self.expected.iter().map(expected_json).collect();
        let actual_json: Vec<Json> = actual.iter().map(actual_json).collect();
        let mut m = Measurement::new(Some(differences.len() as f64))
            .diag("expected_columns", Json::Array(expected))
            .diag("actual_columns", Json::Array(actual_json))
            .diag("differences", json!(differences));
        m.no_value = NoValue::Fail;
        Ok(m)
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<Capture> {
        None
    }

    fn settings(&self, m: &mut Map<String, Json>) {
        m.insert(
            "allow_extra_columns".into(),
            json!(self.allow_extra_columns),
        );
        m.insert(
            "allow_other_column_order".into(),
            json!(self.allow_other_column_order),
        );
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        Vec::new()
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

impl Schema {
    pub fn differences(&self, actual: &[ColumnInfo], d: &dyn Dialect) -> Vec<String> {
        let mut out = Vec::new();
        let find = |name: &str| actual.iter().find(|a| d.same_ident(&a.name, name));
        for spec in &self.expected {
            match find(&spec.name) {
                Some(col) => column_differences(&mut out, spec, col, d),
                None => out.push(format!("column '{}' is missing", spec.name)),
            }
        }
        if !self.allow_extra_columns {
            for col in actual {
                if !self
                    .expected
                    .iter()
                    .any(|s| d.same_ident(&s.name, &col.name))
                {
                    out.push(format!("column '{}' is not in the contract", col.name));
                }
            }
        }
        if !self.allow_other_column_order {
            let expected_order: Vec<&str> = self
                .expected
                .iter()
                .filter(|s| find(&s.name).is_some())
                .map(|s| s.name.as_str())
                .collect();
            let actual_order: Vec<&str> = actual
                .iter()
                .filter(|a| self.expected.iter().any(|s| d.same_ident(&s.name, &a.name)))
                .map(|a| a.name.as_str())
                .collect();
            let same = expected_order.len() == actual_order.len()
                && expected_order
                    .iter()
                    .zip(&actual_order)
                    .all(|(e, a)| d.same_ident(e, a));
            if !same {
                out.push(format!(
                    "columns are in a different order: expected [{}], found [{}]",
                    expected_order.join(", "),
                    actual_order.join(", ")
                ));
            }
        }
        out
    }
}

/// One declared column against the catalog's: its type, then its sizes, given as keys
/// or written into the type (varchar(20), decimal(10,2)); the keys win.
fn column_differences(out: &mut Vec<String>, spec: &ColumnSpec, col: &ColumnInfo, d: &dyn Dialect) {
    let (len, precision, scale) = match &spec.data_type {
        Some(want) if d.normalize_type(want) != d.normalize_type(&col.data_type) => {
            out.push(format!(
                "column '{}' has data type '{}', expected '{}'",
                spec.name, col.data_type, want
            ));
            return;
        }
        Some(want) => {
            let params = type_params(want);
            if matches!(d.normalize_type(want).as_str(), "decimal" | "numeric") {
                (None, params.first().copied(), params.get(1).copied())
            } else {
                (params.first().copied(), None, None)
            }
        }
        None => (None, None, None),
    };
    for (what, want, got) in [
        (
            "character_maximum_length",
            spec.character_maximum_length.or(len),
            col.character_maximum_length,
        ),
        (
            "numeric_precision",
            spec.numeric_precision.or(precision),
            col.numeric_precision,
        ),
        (
            "numeric_scale",
            spec.numeric_scale.or(scale),
            col.numeric_scale,
        ),
        (
            "datetime_precision",
            spec.datetime_precision,
            col.datetime_precision,
        ),
    ] {
        compare(out, &spec.name, what, want, got);
    }
}

fn compare(out: &mut Vec<String>, column: &str, what: &str, want: Option<u64>, got: Option<u64>) {
    if let Some(want) = want {
        if got != Some(want) {
            let got = got.map_or("none".to_string(), |g| g.to_string());
            out.push(format!(
                "column '{column}' has {what} {got}, expected {want}"
            ));
        }
    }
}

fn expected_json(spec: &ColumnSpec) -> Json {
    let mut m = Map::new();
    m.insert("name".into(), json!(spec.name));
    if let Some(t) = &spec.data_type {
        m.insert("data_type".into(), json!(t));
    }
    for (k, v) in [
        ("character_maximum_length", spec.character_maximum_length),
        ("numeric_precision", spec.numeric_precision),
        ("numeric_scale", spec.numeric_scale),
        ("datetime_precision", spec.datetime_precision),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    Json::Object(m)
}

fn actual_json(col: &ColumnInfo) -> Json {
    let mut m = Map::new();
    m.insert("name".into(), json!(col.name));
    m.insert("data_type".into(), json!(col.data_type));
    for (k, v) in [
        ("character_maximum_length", col.character_maximum_length),
        ("numeric_precision", col.numeric_precision),
        ("numeric_scale", col.numeric_scale),
        ("datetime_precision", col.datetime_precision),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    Json::Object(m)
}

/// `schema` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl CheckType for Type {
    fn name(&self) -> &'static str {
        "schema"
    }

    fn scopes(&self) -> &'static [Scope] {
        super::DATASET
    }

    fn keys(&self, _scope: Scope) -> Vec<&'static str> {
        sorted(vec!["allow_extra_columns", "allow_other_column_order"])
    }

    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        let mut s = Schema {
            expected: ctx.columns.to_vec(),
            ..Schema::default()
        };
        if let Some(n) = node.get("allow_extra_columns") {
            s.allow_extra_columns = r.bool(n, "allow_extra_columns")?;
        }
        if let Some(n) = node.get("allow_other_column_order") {
            s.allow_other_column_order = r.bool(n, "allow_other_column_order")?;
        }
        Some(Parsed {
            kind: Box::new(s),
            // the value is the number of differences, which must be 0
            threshold_rules: ThresholdRules {
                default: Some(Condition::Eq(0.0)),
                only_level: Some("any difference fails it; only `level` applies"),
                ..ThresholdRules::required()
            },
        })
    }
}

//! `schema_diff`: the target's columns against the source's, as each catalog has them.
//!
//! Names compare without regard to case (engines fold unquoted names differently), types
//! by their class (`sql::value_class`: PostgreSQL's `numeric(10,2)` and DuckDB's
//! `DECIMAL(10,2)` are both decimals), since two engines never share type names. The
//! value is the number of differences: columns missing from the target, columns the
//! source does not have, and columns whose classes differ. Column order is not compared.

use serde_json::{json, Map, Value as Json};

use crate::checks::rules::ReferenceData;
use crate::checks::{
    CatalogColumns, CheckKind, CheckType, Inputs, MeasureError, Measurement, NeedCtx, Needs,
    NoValue, ParseCtx, Parsed, Scope, UserSql,
};
use crate::decode::Reader;
use crate::exec::ColumnInfo;
use crate::sql::dialect::Dialect;
use crate::sql::value_class::value_class;
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct SchemaDiff {
    source_dataset: String,
}

impl CheckKind for SchemaDiff {
    type Handles = CatalogColumns;

    fn type_name(&self) -> &'static str {
        TYPE.name()
    }

    fn default_name(&self, _column: Option<&str>) -> String {
        format!("schema against {}", self.source_dataset)
    }

    fn needs(&self, _ctx: &NeedCtx, needs: &mut Needs) -> CatalogColumns {
        let mut source = Needs::default();
        source.catalog_columns();
        needs.source = Some(Box::new(source));
        needs.catalog_columns()
    }

    fn measure(&self, h: &CatalogColumns, inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let source_inputs = inputs.source()?;
        let target = inputs.columns(*h)?;
        let source = source_inputs.columns(*h)?;
        let found = compare(source, source_inputs.dialect, target, inputs.dialect);
        let mut m = Measurement::new(Some(found.count() as f64))
            .diag("missing_in_target", json!(found.missing))
            .diag("not_in_source", json!(found.extra))
            .diag("type_differences", Json::Array(found.types));
        m.no_value = NoValue::Fail;
        Ok(m)
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<crate::checks::Capture> {
        None
    }

    fn settings(&self, settings: &mut Map<String, Json>) {
        settings.insert("source_dataset".into(), json!(self.source_dataset));
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        Vec::new()
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

/// What differs between two catalogs' columns.
#[derive(Debug, Default)]
struct Found {
    /// the source's columns the target lacks
    missing: Vec<String>,
    /// the target's columns the source lacks
    extra: Vec<String>,
    types: Vec<Json>,
}

impl Found {
    fn count(&self) -> usize {
        self.missing.len() + self.extra.len() + self.types.len()
    }
}

fn compare(
    source: &[ColumnInfo],
    source_dialect: &dyn Dialect,
    target: &[ColumnInfo],
    target_dialect: &dyn Dialect,
) -> Found {
    let same = |a: &str, b: &str| a.to_lowercase() == b.to_lowercase();
    let mut found = Found::default();
    for s in source {
        match target.iter().find(|t| same(&t.name, &s.name)) {
            None => found.missing.push(s.name.clone()),
            Some(t) => {
                let (sc, tc) = (
                    value_class(source_dialect, &s.data_type),
                    value_class(target_dialect, &t.data_type),
                );
                if sc != tc {
                    found.types.push(json!({
                        "column": t.name,
                        "source_type": s.data_type,
                        "target_type": t.data_type,
                        "source_class": sc.as_str(),
                        "target_class": tc.as_str(),
                    }));
                }
            }
        }
    }
    for t in target {
        if !source.iter().any(|s| same(&s.name, &t.name)) {
            found.extra.push(t.name.clone());
        }
    }
    found
}

/// `schema_diff` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl CheckType for Type {
    fn name(&self) -> &'static str {
        "schema_diff"
    }

    fn scopes(&self) -> &'static [Scope] {
        crate::checks::RECONCILIATION
    }

    fn keys(&self, _scope: Scope) -> Vec<&'static str> {
        Vec::new()
    }

    fn parse(&self, _r: &mut Reader, _node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        let mut rules = super::metrics::diff_threshold(None);
        rules.percent = false;
        rules.no_percent_help = "remove `metric: percent`; a schema_diff counts differences";
        Some(Parsed {
            kind: Box::new(SchemaDiff {
                source_dataset: ctx.source_dataset.unwrap_or_default().to_string(),
            }),
            threshold_rules: rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::duckdb::DuckDbDialect;
    use crate::sql::postgres::PostgresDialect;

    fn col(name: &str, data_type: &str) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            data_type: data_type.into(),
            ..Default::default()
        }
    }

    #[test]
    fn engines_type_names_compare_by_class_and_names_without_case() {
        let source = [
            col("id", "integer"),
            col("amount", "numeric(10,2)"),
            col("seen", "timestamp with time zone"),
            col("gone", "text"),
        ];
        let target = [
            col("ID", "BIGINT"),
            col("amount", "DOUBLE"),
            col("seen", "TIMESTAMP WITH TIME ZONE"),
            col("extra", "VARCHAR"),
        ];
        let found = compare(&source, &PostgresDialect, &target, &DuckDbDialect);
        assert_eq!(found.missing, ["gone"]);
        assert_eq!(found.extra, ["extra"]);
        assert_eq!(found.types.len(), 1);
        assert_eq!(found.types[0]["column"], "amount");
        assert_eq!(found.types[0]["target_class"], "float");
        assert_eq!(found.count(), 3);
    }
}

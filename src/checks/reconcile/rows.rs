//! `rows_diff`: the target's rows against the source's, by key, without moving the
//! tables: each engine sums hashes of its rows per key segment, segments that differ
//! are split until they are small, and only then are their rows' hashes read (the
//! run is `rowdiff::run`). Without key columns, whole rows are compared as multisets.
//!
//! The value is the number of rows that differ: only in the source, only in the target,
//! or on both sides with other values; as a percent, of the source's rows tested.

use serde_json::{json, Map, Value as Json};

use crate::checks::rules::ReferenceData;
use crate::checks::{
    CheckKind, CheckType, Inputs, MeasureError, Measurement, NeedCtx, Needs, NoValue, ParseCtx,
    Parsed, RowDiff, RowDiffSpec, Scope, UserSql,
};
use crate::decode::Reader;
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct RowsDiff {
    keys: Vec<(String, String)>,
    columns: Option<Vec<(String, String)>>,
    source_dataset: String,
}

impl CheckKind for RowsDiff {
    type Handles = RowDiff;

    fn type_name(&self) -> &'static str {
        TYPE.name()
    }

    fn default_name(&self, _column: Option<&str>) -> String {
        format!("rows against {}", self.source_dataset)
    }

    fn needs(&self, ctx: &NeedCtx, needs: &mut Needs) -> RowDiff {
        let mut source = Needs::default();
        for (s, t) in self.keys.iter().chain(self.columns.iter().flatten()) {
            source.column(s);
            needs.column(t);
        }
        let source_ctx = ctx.source;
        let handle = needs.row_diff(RowDiffSpec {
            keys: self.keys.clone(),
            columns: self.columns.clone(),
            source_table: source_ctx.map_or_else(|| ctx.table.clone(), |s| s.table.clone()),
            target_table: ctx.table.clone(),
            source_filter: source_ctx.and_then(|s| s.filter.cloned()),
            target_filter: ctx.filter.cloned(),
        });
        needs.source = Some(Box::new(source));
        handle
    }

    fn measure(&self, h: &RowDiff, inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let o = inputs.row_diff(*h)?;
        let total = o.total();
        let mut m = Measurement::new(Some(total as f64))
            .diag("only_in_source", o.only_in_source)
            .diag("only_in_target", o.only_in_target)
            .diag("differing", o.differing)
            .diag(
                "column_differences",
                Json::Object(
                    o.columns
                        .iter()
                        .map(|(c, n)| (c.clone(), json!(n)))
                        .collect(),
                ),
            )
            .diag(
                "rendering",
                Json::Object(o.rules.iter().map(|(c, r)| (c.clone(), json!(r))).collect()),
            )
            .diag("source_rows", o.source_rows)
            .diag("target_rows", o.target_rows)
            .diag("check_rows_tested", o.source_rows)
            .diag("queries_per_side", o.queries)
            .diag("bytes_fetched", o.bytes_fetched);
        if !self.keys.is_empty() {
            m = m
                .diag("source_duplicate_keys", o.duplicate_keys.0)
                .diag("target_duplicate_keys", o.duplicate_keys.1);
        }
        m.percent = Some(crate::checks::percent(total, o.source_rows));
        m.no_value = NoValue::Fail;
        Ok(m)
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<crate::checks::Capture> {
        // its samples come from the comparison itself (`RowDiffOutcome::samples`)
        None
    }

    fn settings(&self, settings: &mut Map<String, Json>) {
        let names = |pairs: &[(String, String)], source: bool| -> Json {
            pairs
                .iter()
                .map(|(s, t)| if source { s.clone() } else { t.clone() })
                .collect::<Vec<_>>()
                .into()
        };
        settings.insert("source_key_columns".into(), names(&self.keys, true));
        settings.insert("target_key_columns".into(), names(&self.keys, false));
        if let Some(c) = &self.columns {
            settings.insert("source_columns".into(), names(c, true));
            settings.insert("target_columns".into(), names(c, false));
        }
        settings.insert("source_dataset".into(), json!(self.source_dataset));
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        Vec::new()
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

/// Two lists of names of one length, paired; Err when either is unreadable (reported).
fn pairs(
    r: &mut Reader,
    node: &Node,
    (source_key, target_key): (&str, &str),
) -> Result<Option<Vec<(String, String)>>, ()> {
    let list = |r: &mut Reader, key: &str| match node.get(key).filter(|n| !n.is_null()) {
        Some(n) => r.string_list(n, key).map(Some).ok_or(()),
        None => Ok(None),
    };
    let source = list(r, source_key)?;
    let target = list(r, target_key)?;
    match (source, target) {
        (None, None) => Ok(None),
        (Some(s), Some(t)) if s.len() == t.len() && !s.is_empty() => {
            Ok(Some(s.into_iter().zip(t).collect()))
        }
        (s, t) => {
            let at = node
                .get(target_key)
                .or_else(|| node.get(source_key))
                .map_or(node.span, |n| n.span);
            let (ns, nt) = (s.map_or(0, |v| v.len()), t.map_or(0, |v| v.len()));
            r.error(
                at,
                format!("`{source_key}` names {ns} column(s) and `{target_key}` {nt}"),
                Some(
                    "give both, one column of the target for each of the source, in the same order"
                        .into(),
                ),
            );
            Err(())
        }
    }
}

/// `rows_diff` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl CheckType for Type {
    fn name(&self) -> &'static str {
        "rows_diff"
    }

    fn scopes(&self) -> &'static [Scope] {
        crate::checks::RECONCILIATION
    }

    fn keys(&self, _scope: Scope) -> Vec<&'static str> {
        vec![
            "source_columns",
            "source_key_columns",
            "target_columns",
            "target_key_columns",
        ]
    }

    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        let keys = pairs(r, node, ("source_key_columns", "target_key_columns"));
        let columns = pairs(r, node, ("source_columns", "target_columns"));
        let (keys, columns) = (keys.ok()?, columns.ok()?);
        Some(Parsed {
            kind: Box::new(RowsDiff {
                keys: keys.unwrap_or_default(),
                columns,
                source_dataset: ctx.source_dataset.unwrap_or_default().to_string(),
            }),
            threshold_rules: super::metrics::diff_threshold(None),
        })
    }
}

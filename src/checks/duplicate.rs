//! `duplicate`: "extra" rows that repeat a value (1,2,2,3,3,3 gives 3).
//!
//! On a column: over non-missing values, percent of non-missing rows.
//! On the dataset with `columns: [..]`: over whole tuples, NULL counting as a value,
//! percent of all rows tested.

use serde_json::{json, Map, Value as Json};

use super::rules::{self, MissingRules};
use super::{
    alias_part, count_value, percent, ColumnDefaults, Inputs, Measurement, Metric, NeedCtx, Needs,
    OwnQuery,
};
use crate::decode::Reader;
use crate::sql::ast::{AggFn, Expr, Select, SelectItem};
use crate::sql::dialect::DistinctCounting;
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub enum Duplicate {
    Column { missing: MissingRules },
    Columns { columns: Vec<String> },
}

impl Duplicate {
    pub fn parse(
        r: &mut Reader,
        node: &Node,
        column: Option<&ColumnDefaults>,
    ) -> Option<Duplicate> {
        match column {
            Some(col) => Some(Duplicate::Column {
                missing: rules::parse_missing(r, node)
                    .or_else(|| col.missing.cloned())
                    .unwrap_or_default(),
            }),
            None => {
                let Some(list) = node.get("columns") else {
                    r.error(
                        node.span,
                        "a dataset-level duplicate check needs `columns: [...]`",
                        Some("list the columns whose combined values must be unique, or move the check under a column".into()),
                    );
                    return None;
                };
                let columns = r.string_list(list, "columns")?;
                if columns.is_empty() {
                    r.error(list.span, "columns must list at least one column", None);
                    return None;
                }
                Some(Duplicate::Columns { columns })
            }
        }
    }

    pub fn describe(&self, m: &mut Map<String, Json>) {
        match self {
            Duplicate::Column { missing } => missing.describe(m),
            Duplicate::Columns { columns } => {
                m.insert("columns".into(), json!(columns));
            }
        }
    }

    pub fn needs(&self, ctx: &NeedCtx) -> Needs {
        let rows = Metric {
            name: "row_count".into(),
            expr: Expr::CountAll,
        };
        let group_by = ctx.dialect.distinct_counting() == DistinctCounting::GroupBy;
        // a GROUP BY query of its own: one group per distinct value (or tuple), NULLs
        // grouped together in every engine
        let groups = |keys: Vec<Expr>, only: Option<Expr>| {
            let filter = match (ctx.filter.cloned(), only) {
                (Some(f), Some(o)) => Some(Expr::and(vec![f, o])),
                (f, o) => f.or(o),
            };
            OwnQuery::CountGroups(Select {
                items: vec![SelectItem {
                    expr: Expr::Int(1),
                    alias: Some("assay_group".into()),
                }],
                from: ctx.table.clone(),
                filter,
                group_by: keys,
            })
        };
        match self {
            Duplicate::Column { missing } => {
                let column = ctx.column.unwrap_or_default();
                let name = alias_part(column);
                let present = missing.present_value(column);
                let mut aggregates = vec![
                    rows,
                    Metric {
                        name: format!("{name}_present_count"),
                        expr: Expr::agg(AggFn::Count, present.clone()),
                    },
                ];
                let mut own_query = None;
                if group_by {
                    let is_present = Expr::negate(missing.is_missing(column));
                    own_query = Some(groups(vec![Expr::col(column)], Some(is_present)));
                } else {
                    aggregates.push(Metric {
                        name: format!("{name}_distinct_count"),
                        expr: Expr::CountDistinct(Box::new(present)),
                    });
                }
                Needs {
                    aggregates,
                    own_query,
                    columns: vec![column.to_string()],
                    ..Needs::default()
                }
            }
            Duplicate::Columns { columns } => {
                let keys: Vec<Expr> = columns.iter().map(|c| Expr::col(c)).collect();
                let (aggregates, own_query) = if group_by {
                    (vec![rows], Some(groups(keys, None)))
                } else {
                    let name = columns
                        .iter()
                        .map(|c| alias_part(c))
                        .collect::<Vec<_>>()
                        .join("_");
                    (
                        vec![
                            rows,
                            Metric {
                                name: format!("{name}_distinct_count"),
                                expr: Expr::CountDistinctTuple(keys),
                            },
                        ],
                        None,
                    )
                };
                Needs {
                    aggregates,
                    own_query,
                    columns: columns.clone(),
                    ..Needs::default()
                }
            }
        }
    }

    pub fn measure(&self, inputs: &Inputs) -> Result<Measurement, String> {
        let rows = count_value(inputs.aggregates.first(), "row count")?;
        // the distinct count comes last in the aggregates, or from the GROUP BY query
        let distinct_value = |position: usize| match inputs.own_row {
            Some(row) => row.first(),
            None => inputs.aggregates.get(position),
        };
        let (basis, distinct) = match self {
            Duplicate::Column { .. } => (
                count_value(inputs.aggregates.get(1), "non-missing count")?,
                count_value(distinct_value(2), "distinct count")?,
            ),
            Duplicate::Columns { .. } => (rows, count_value(distinct_value(1), "distinct count")?),
        };
        let duplicates = basis.saturating_sub(distinct);
        let pct = percent(duplicates, basis);
        let mut m = Measurement::new(Some(duplicates as f64))
            .diag("duplicate_count", duplicates)
            .diag("duplicate_percent", pct)
            .diag("check_rows_tested", rows);
        if matches!(self, Duplicate::Column { .. }) {
            m = m.diag("missing_count", rows.saturating_sub(basis));
        }
        m.percent = Some(pct);
        Ok(m)
    }
}

//! `assay init`: starting contracts from the data. One profiling query per dataset
//! measures every column (non-NULL count, exact distinct count, minimum and maximum);
//! a second, small one reads the values of the text columns that have only a few. The
//! measurements become a contract (`suggest`).

pub mod suggest;

use crate::exec::{ColumnInfo, Value};
use crate::scan::profile::{type_class, TypeClass};
use crate::sql::ast::{AggFn, Expr, Select, SelectItem, TableRef};
use crate::sql::dialect::{print_expr, Dialect};
use suggest::{ColumnProfile, DatasetProfile, MAX_VALUE_SET};

/// Where each column's measurements are in the query's row.
#[derive(Debug, Clone)]
struct Reads {
    non_null: usize,
    distinct: Option<usize>,
    min: Option<usize>,
    max: Option<usize>,
}

/// The profiling query of one dataset, and how to read its row.
#[derive(Debug, Clone)]
pub struct Plan {
    pub select: Select,
    reads: Vec<Reads>,
}

/// A column's values as the checks compare them: text exactly (MySQL's collations fold
/// case and trailing spaces; a suggestion must hold as the check counts).
fn exact(class: TypeClass, name: &str) -> Expr {
    match class {
        TypeClass::Text => Expr::ExactText(Box::new(Expr::col(name))),
        _ => Expr::col(name),
    }
}

pub fn plan(d: &dyn Dialect, table: &TableRef, columns: &[ColumnInfo]) -> Plan {
    let mut items = vec![SelectItem {
        expr: Expr::CountAll,
        alias: Some("p0".into()),
    }];
    let mut item = |expr: Expr| {
        items.push(SelectItem {
            expr,
            alias: Some(format!("p{}", items.len())),
        });
        items.len() - 1
    };
    let mut reads = Vec::with_capacity(columns.len());
    for c in columns {
        let class = type_class(d, &c.data_type);
        let col = || Expr::col(&c.name);
        let non_null = item(Expr::agg(AggFn::Count, col()));
        let distinct = matches!(class, TypeClass::Number | TypeClass::Text)
            .then(|| item(Expr::CountDistinct(Box::new(exact(class, &c.name)))));
        let min = (class == TypeClass::Number).then(|| item(Expr::agg(AggFn::Min, col())));
        let max = matches!(class, TypeClass::Number | TypeClass::Temporal)
            .then(|| item(Expr::agg(AggFn::Max, col())));
        reads.push(Reads {
            non_null,
            distinct,
            min,
            max,
        });
    }
    Plan {
        select: Select::new(items, table.clone(), None),
        reads,
    }
}

fn count(row: &[Value], i: usize) -> u64 {
    row.get(i).and_then(Value::as_f64).unwrap_or(0.0) as u64
}

impl Plan {
    /// The query's one row as the dataset's profile (without value sets yet).
    pub fn profile(
        &self,
        d: &dyn Dialect,
        dataset: &str,
        columns: &[ColumnInfo],
        row: &[Value],
    ) -> DatasetProfile {
        let value = |i: Option<usize>| i.and_then(|i| row.get(i).cloned()).unwrap_or_default();
        DatasetProfile {
            dataset: dataset.to_string(),
            rows: count(row, 0),
            columns: columns
                .iter()
                .zip(&self.reads)
                .map(|(c, r)| ColumnProfile {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                    class: type_class(d, &c.data_type),
                    non_null: count(row, r.non_null),
                    distinct: r.distinct.map(|i| count(row, i)),
                    min: value(r.min),
                    max: value(r.max),
                    values: None,
                })
                .collect(),
        }
    }
}

/// The columns whose values are read: text with at least one and at most
/// `MAX_VALUE_SET` distinct values, each repeated (a category, not a few odd rows).
fn value_columns(p: &DatasetProfile) -> Vec<usize> {
    p.columns
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            let n = c.distinct.unwrap_or(0);
            c.class == TypeClass::Text && (1..=MAX_VALUE_SET).contains(&n) && c.non_null >= 2 * n
        })
        .map(|(i, _)| i)
        .collect()
}

/// One query for the values of every column that has a value set, or None: rows of
/// (column's position, value as exact text). At most `MAX_VALUE_SET` rows per column.
pub fn values_sql(d: &dyn Dialect, table: &TableRef, p: &DatasetProfile) -> Option<String> {
    let parts: Vec<String> = value_columns(p)
        .into_iter()
        .map(|i| {
            let c = &p.columns[i];
            format!(
                "SELECT DISTINCT {i} AS c, {} AS v FROM {} WHERE {} IS NOT NULL",
                // text as the checks compare it (a cast around it would lose MySQL's
                // binary collation, and fold 'PAID' into 'paid')
                print_expr(d, &exact(c.class, &c.name)),
                d.table(table),
                d.quote_ident(&c.name)
            )
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" UNION ALL "))
}

/// The values query's rows into the profile's value sets (sorted, for a stable file).
pub fn add_values(p: &mut DatasetProfile, rows: &[Vec<Value>]) {
    for i in value_columns(p) {
        p.columns[i].values = Some(Vec::new());
    }
    for r in rows {
        let (Some(i), Some(v)) = (r.first().and_then(Value::as_f64), r.get(1)) else {
            continue;
        };
        let Some(text) = v.to_text() else {
            continue;
        };
        if let Some(values) = p
            .columns
            .get_mut(i as usize)
            .and_then(|c| c.values.as_mut())
        {
            values.push(text);
        }
    }
    for c in &mut p.columns {
        if let Some(v) = c.values.as_mut() {
            v.sort();
        }
    }
}

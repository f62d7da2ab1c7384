//! The metric-level reconciliation checks: each is one of the verification checks
//! (row_count, aggregate, duplicate, missing, freshness, metric) measured on both sides.

use super::Diff;
use crate::checks::aggregate::Aggregate;
use crate::checks::duplicate::Duplicate;
use crate::checks::freshness::Freshness;
use crate::checks::metric::Metric;
use crate::checks::missing::Missing;
use crate::checks::row_count::RowCount;
use crate::checks::{CheckType, ColumnDefaults, DynCheck, ParseCtx, Parsed, Scope};
use crate::decode::Reader;
use crate::model::threshold::{Condition, ThresholdRules, TimeUnit};
use crate::model::{ColumnSpec, SqlText};
use crate::yaml::Node;

/// The two sides' checks, as a diff type reads them from the check's mapping.
struct SideChecks {
    what: String,
    column: Option<String>,
    target: Box<dyn DynCheck>,
    source: Box<dyn DynCheck>,
    /// freshness_diff's unit
    unit: Option<TimeUnit>,
}

impl SideChecks {
    /// The same check on both sides.
    fn same(what: String, column: Option<String>, check: Box<dyn DynCheck>) -> SideChecks {
        SideChecks {
            what,
            column,
            target: check.clone(),
            source: check,
            unit: None,
        }
    }
}

/// A metric-level reconciliation check type.
pub struct DiffType {
    name: &'static str,
    keys: &'static [&'static str],
    read: fn(&mut Reader, &Node, &ParseCtx) -> Option<SideChecks>,
}

pub static ROW_COUNT_DIFF: DiffType = DiffType {
    name: "row_count_diff",
    keys: &[],
    read: |_, _, _| {
        Some(SideChecks::same(
            "row count".into(),
            None,
            Box::new(RowCount),
        ))
    },
};

pub static AGGREGATE_DIFF: DiffType = DiffType {
    name: "aggregate_diff",
    keys: &["column", "function"],
    read: read_aggregate,
};

pub static DUPLICATE_DIFF: DiffType = DiffType {
    name: "duplicate_diff",
    keys: &["columns"],
    read: |r, node, _| {
        let d = Duplicate::parse(r, node, None)?;
        let what = crate::checks::CheckKind::default_name(&d, None);
        Some(SideChecks::same(what, None, Box::new(d)))
    },
};

pub static MISSING_DIFF: DiffType = DiffType {
    name: "missing_diff",
    keys: &["column"],
    read: |r, node, ctx| {
        let column = column(r, node, ctx, "missing_diff")?;
        let check = Missing {
            rules: Default::default(),
            expression: None,
        };
        Some(SideChecks::same(
            format!("missing values in {column}"),
            Some(column),
            Box::new(check),
        ))
    },
};

pub static FRESHNESS_DIFF: DiffType = DiffType {
    name: "freshness_diff",
    keys: &["column", "unit"],
    read: |r, node, ctx| {
        let f = Freshness::parse(r, node, ctx.key_span)?;
        let unit = f.unit;
        let mut sides = SideChecks::same(format!("freshness of {}", f.column), None, Box::new(f));
        sides.unit = Some(unit);
        Some(sides)
    },
};

pub static METRIC_DIFF: DiffType = DiffType {
    name: "metric_diff",
    keys: &[
        "source_expression",
        "target_expression",
        "source_query",
        "target_query",
    ],
    read: |r, node, ctx| {
        let target = metric_side(r, node, ctx, "target")?;
        let source = metric_side(r, node, ctx, "source")?;
        Some(SideChecks {
            what: "metric".into(),
            column: None,
            target: Box::new(target),
            source: Box::new(source),
            unit: None,
        })
    },
};

/// The check's `column:`.
fn column(r: &mut Reader, node: &Node, ctx: &ParseCtx, check: &str) -> Option<String> {
    let Some(n) = node.get("column").filter(|n| !n.is_null()) else {
        r.error(
            if node.is_null() {
                ctx.key_span
            } else {
                node.span
            },
            format!(
                "{} {check} check needs `column:`",
                crate::words::article(check)
            ),
            None,
        );
        return None;
    };
    r.name(n, "column")
}

fn read_aggregate(r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<SideChecks> {
    let column = column(r, node, ctx, "aggregate_diff")?;
    let spec = ColumnSpec {
        name: column.clone(),
        span: ctx.key_span,
        data_type: None,
        character_maximum_length: None,
        numeric_precision: None,
        numeric_scale: None,
        datetime_precision: None,
    };
    let defaults = ColumnDefaults {
        spec: &spec,
        missing: None,
        validity: None,
        expression: None,
    };
    let a = Aggregate::parse(r, node, &defaults, ctx.key_span)?;
    let what = format!("{} of {column}", a.function.as_str());
    Some(SideChecks::same(what, Some(column), Box::new(a)))
}

/// One side of a metric_diff: its `SIDE_expression` or `SIDE_query`, exactly one.
fn metric_side(r: &mut Reader, node: &Node, ctx: &ParseCtx, side: &str) -> Option<Metric> {
    let expression_key = format!("{side}_expression");
    let query_key = format!("{side}_query");
    let expression = node.get(&expression_key).filter(|n| !n.is_null());
    let query = node.get(&query_key).filter(|n| !n.is_null());
    let sql = |r: &mut Reader, n: &Node, key: &str| -> Option<SqlText> { r.sql(n, key) };
    match (expression, query) {
        (Some(e), None) => Some(Metric::Expression(sql(r, e, &expression_key)?)),
        (None, Some(q)) => Some(Metric::Query(sql(r, q, &query_key)?)),
        (Some(_), Some(q)) => {
            r.error(
                q.span,
                format!("a metric_diff takes `{expression_key}` or `{query_key}`, not both"),
                None,
            );
            None
        }
        (None, None) => {
            r.error(
                if node.is_null() {
                    ctx.key_span
                } else {
                    node.span
                },
                format!("a metric_diff check needs `{expression_key}` or `{query_key}`"),
                Some(
                    "metric_diff: {source_expression: SUM(amount), target_expression: SUM(amount)}"
                        .into(),
                ),
            );
            None
        }
    }
}

impl CheckType for DiffType {
    fn name(&self) -> &'static str {
        self.name
    }

    fn scopes(&self) -> &'static [Scope] {
        crate::checks::RECONCILIATION
    }

    fn keys(&self, _scope: Scope) -> Vec<&'static str> {
        crate::checks::sorted(self.keys.to_vec())
    }

    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        let sides = (self.read)(r, node, ctx)?;
        let unit = sides.unit;
        let diff = Diff {
            type_name: self.name,
            what: sides.what,
            column: sides.column,
            source_dataset: ctx.source_dataset.unwrap_or_default().to_string(),
            target: sides.target,
            source: sides.source,
        };
        Some(Parsed {
            kind: Box::new(diff),
            threshold_rules: diff_threshold(unit),
        })
    }
}

/// As Soda has them: the two sides must be equal unless the threshold says otherwise;
/// `metric: percent` is allowed on every diff.
pub fn diff_threshold(unit: Option<TimeUnit>) -> ThresholdRules {
    ThresholdRules {
        default: Some(Condition::Eq(0.0)),
        percent: true,
        unit,
        example: "threshold: {must_be_less_than: 10}",
        ..ThresholdRules::required()
    }
}

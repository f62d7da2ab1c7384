//! `aggregate`: avg, sum, min, max, avg_length, min_length, max_length of the column's
//! non-missing values.

use super::rules::{self, MissingRules};
use super::{
    alias_part, count_value, ColumnDefaults, Inputs, Measurement, Metric, NeedCtx, Needs, NoValue,
};
use crate::decode::Reader;
use crate::sql::ast::{AggFn, Expr};
use crate::yaml::{Node, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Avg,
    Sum,
    Min,
    Max,
    AvgLength,
    MinLength,
    MaxLength,
}

const FUNCTIONS: &[&str] = &[
    "avg",
    "sum",
    "min",
    "max",
    "avg_length",
    "min_length",
    "max_length",
];

impl Function {
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Avg => "avg",
            Function::Sum => "sum",
            Function::Min => "min",
            Function::Max => "max",
            Function::AvgLength => "avg_length",
            Function::MinLength => "min_length",
            Function::MaxLength => "max_length",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Aggregate {
    pub function: Function,
    pub missing: MissingRules,
}

impl Aggregate {
    pub fn parse(
        r: &mut Reader,
        node: &Node,
        column: &ColumnDefaults,
        key_span: Span,
    ) -> Option<Aggregate> {
        let missing = rules::parse_missing(r, node)
            .or_else(|| column.missing.cloned())
            .unwrap_or_default();
        let Some(f) = node.get("function").filter(|n| !n.is_null()) else {
            r.error(
                if node.is_null() { key_span } else { node.span },
                "an aggregate check needs `function:`",
                Some(format!("one of {}", FUNCTIONS.join(", "))),
            );
            return None;
        };
        let name = r.string(f, "function")?;
        let function = match name.as_str() {
            "avg" => Function::Avg,
            "sum" => Function::Sum,
            "min" => Function::Min,
            "max" => Function::Max,
            "avg_length" => Function::AvgLength,
            "min_length" => Function::MinLength,
            "max_length" => Function::MaxLength,
            other => {
                let hint = crate::diag::unknown_word_help(other, FUNCTIONS, "one of");
                r.error(
                    f.span,
                    format!("unknown aggregate function '{other}'"),
                    Some(hint),
                );
                return None;
            }
        };
        Some(Aggregate { function, missing })
    }

    pub fn needs(&self, ctx: &NeedCtx) -> Needs {
        let column = ctx.column.unwrap_or_default();
        let value = self.missing.present_value(column);
        let length = || Expr::CharLength(Box::new(value.clone()));
        let name = alias_part(column);
        let metric = |suffix: &str, expr: Expr| Metric {
            name: format!("{name}_{suffix}"),
            expr,
        };
        let mut aggregates = vec![Metric {
            name: "row_count".into(),
            expr: Expr::CountAll,
        }];
        // An average is asked for as SUM and COUNT and divided here: engines round AVG
        // differently (MySQL keeps 4 decimals, Postgres returns numeric, DuckDB a double),
        // while an exact sum divided by a count gives one answer everywhere.
        match self.function {
            Function::Avg => aggregates.extend([
                metric("sum", Expr::agg(AggFn::Sum, value.clone())),
                metric("count", Expr::agg(AggFn::Count, value.clone())),
            ]),
            Function::AvgLength => aggregates.extend([
                metric("sum_length", Expr::agg(AggFn::Sum, length())),
                metric("count", Expr::agg(AggFn::Count, value.clone())),
            ]),
            Function::Sum => aggregates.push(metric("sum", Expr::agg(AggFn::Sum, value.clone()))),
            Function::Min => aggregates.push(metric("min", Expr::agg(AggFn::Min, value.clone()))),
            Function::Max => aggregates.push(metric("max", Expr::agg(AggFn::Max, value.clone()))),
            Function::MinLength => {
                aggregates.push(metric("min_length", Expr::agg(AggFn::Min, length())))
            }
            Function::MaxLength => {
                aggregates.push(metric("max_length", Expr::agg(AggFn::Max, length())))
            }
        }
        Needs {
            aggregates,
            columns: vec![column.to_string()],
            ..Needs::default()
        }
    }

    pub fn measure(&self, inputs: &Inputs) -> Result<Measurement, String> {
        let rows = count_value(inputs.aggregates.first(), "row count")?;
        let number = |i: usize| -> Result<Option<f64>, String> {
            let raw = inputs
                .aggregates
                .get(i)
                .ok_or("the query returned no value")?;
            if raw.is_null() {
                return Ok(None);
            }
            raw.as_f64().map(Some).ok_or_else(|| {
                format!(
                    "{} returned {raw}, which is not a number",
                    self.function.as_str()
                )
            })
        };
        let (value, shown) = match self.function {
            Function::Avg | Function::AvgLength => {
                let count = count_value(inputs.aggregates.get(2), "count")?;
                let value = match number(1)? {
                    Some(sum) if count > 0 => Some(sum / count as f64),
                    _ => None,
                };
                (value, value.map_or(serde_json::Value::Null, Into::into))
            }
            _ => (number(1)?, inputs.aggregates[1].to_json()),
        };
        let mut m = Measurement::new(value)
            .diag(self.function.as_str(), shown)
            .diag("check_rows_tested", rows);
        m.no_value = NoValue::NotEvaluated(format!(
            "{} has no value: the column has no non-missing values in the rows tested",
            self.function.as_str()
        ));
        Ok(m)
    }
}

/// `aggregate` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl super::CheckType for Type {
    fn name(&self) -> &'static str {
        "aggregate"
    }

    fn scopes(&self) -> &'static [super::Scope] {
        super::COLUMN
    }

    fn keys(&self, _scope: super::Scope) -> Vec<&'static str> {
        use super::{rules, sorted};
        let mut k = vec!["function"];
        k.extend(rules::MISSING_KEYS);
        sorted(k)
    }

    fn parse(
        &self,
        r: &mut crate::decode::Reader,
        node: &crate::yaml::Node,
        column: Option<&super::ColumnDefaults>,
        key_span: crate::yaml::Span,
    ) -> Option<super::Parsed> {
        use super::{required, CheckKind, Parsed};
        Some(Parsed {
            kind: CheckKind::Aggregate(Aggregate::parse(r, node, column?, key_span)?),
            threshold_rules: required(),
        })
    }
}

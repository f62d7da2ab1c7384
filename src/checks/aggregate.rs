//! `aggregate`: avg, sum, min, max, avg_length, min_length, max_length of the column's
//! non-missing values.

use serde_json::{Map, Value as Json};

use super::rules::{self, MissingRules, ReferenceData};
use super::{
    alias_part, column_expression, column_value, describe_expression, expression_sql, need_column,
    sorted, Agg, Capture, CheckKind, CheckType, ColumnDefaults, Inputs, MeasureError, Measurement,
    NeedCtx, Needs, NoValue, ParseCtx, Parsed, Scope, UserSql, COLUMN_EXPRESSION,
};
use crate::decode::Reader;
use crate::model::threshold::ThresholdRules;
use crate::model::SqlText;
use crate::source::Span;
use crate::sql::ast::{AggFn, Expr};
use crate::yaml::Node;

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
    /// SQL in place of the column's name
    pub expression: Option<SqlText>,
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
            // Soda writes these in camelCase too
            "avg_length" | "avgLength" => Function::AvgLength,
            "min_length" | "minLength" => Function::MinLength,
            "max_length" | "maxLength" => Function::MaxLength,
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
        let expression = column_expression(r, node, Some(column)).ok()?;
        Some(Aggregate {
            function,
            missing,
            expression,
        })
    }
}

/// An average is asked for as SUM and COUNT and divided here: engines round AVG
/// differently (MySQL keeps 4 decimals, Postgres returns numeric, DuckDB a double),
/// while an exact sum divided by a count gives one answer everywhere.
pub enum Handles {
    Average { rows: Agg, sum: Agg, count: Agg },
    Value { rows: Agg, value: Agg },
}

impl CheckKind for Aggregate {
    type Handles = Handles;

    fn type_name(&self) -> &'static str {
        TYPE.name()
    }

    fn default_name(&self, column: Option<&str>) -> String {
        format!(
            "{} of {}",
            self.function.as_str(),
            column.unwrap_or_default()
        )
    }

    fn needs(&self, ctx: &NeedCtx, needs: &mut Needs) -> Handles {
        let column = ctx.column.unwrap_or_default();
        need_column(needs, &self.expression, column);
        let value = self
            .missing
            .present_value(&column_value(&self.expression, ctx));
        let length = || Expr::CharLength(Box::new(value.clone()));
        let name = alias_part(column);
        let rows = needs.row_count();
        let mut agg = |suffix: &str, f: AggFn, e: Expr| {
            needs.aggregate(format!("{name}_{suffix}"), Expr::agg(f, e))
        };
        match self.function {
            Function::Avg => Handles::Average {
                rows,
                sum: agg("sum", AggFn::Sum, value.clone()),
                count: agg("count", AggFn::Count, value.clone()),
            },
            Function::AvgLength => Handles::Average {
                rows,
                sum: agg("sum_length", AggFn::Sum, length()),
                count: agg("count", AggFn::Count, value.clone()),
            },
            Function::Sum => Handles::Value {
                rows,
                value: agg("sum", AggFn::Sum, value.clone()),
            },
            Function::Min => Handles::Value {
                rows,
                value: agg("min", AggFn::Min, value.clone()),
            },
            Function::Max => Handles::Value {
                rows,
                value: agg("max", AggFn::Max, value.clone()),
            },
            Function::MinLength => Handles::Value {
                rows,
                value: agg("min_length", AggFn::Min, length()),
            },
            Function::MaxLength => Handles::Value {
                rows,
                value: agg("max_length", AggFn::Max, length()),
            },
        }
    }

    fn measure(&self, h: &Handles, inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let number = |a: Agg| -> Result<Option<f64>, MeasureError> {
            let raw = inputs.value(a)?;
            if raw.is_null() {
                return Ok(None);
            }
            raw.as_f64()
                .map(Some)
                .ok_or_else(|| MeasureError::not_a_number(self.function.as_str(), raw))
        };
        let (rows, value, shown) = match *h {
            Handles::Average { rows, sum, count } => {
                let count = inputs.count(count, "count")?;
                let value = match number(sum)? {
                    Some(sum) if count > 0 => Some(sum / count as f64),
                    _ => None,
                };
                (rows, value, value.map_or(Json::Null, Into::into))
            }
            Handles::Value { rows, value } => {
                (rows, number(value)?, inputs.value(value)?.to_json())
            }
        };
        let rows = inputs.count(rows, "row count")?;
        let mut m = Measurement::new(value)
            .diag(self.function.as_str(), shown)
            .diag("check_rows_tested", rows);
        m.no_value = NoValue::NotEvaluated(format!(
            "{} has no value: the column has no non-missing values in the rows tested",
            self.function.as_str()
        ));
        Ok(m)
    }

    fn capture(&self, _ctx: &NeedCtx) -> Option<Capture> {
        None
    }

    fn settings(&self, settings: &mut Map<String, Json>) {
        settings.insert("function".into(), Json::from(self.function.as_str()));
        describe_expression(&self.expression, settings);
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        expression_sql(&mut self.expression)
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        None
    }
}

/// `aggregate` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl CheckType for Type {
    fn name(&self) -> &'static str {
        "aggregate"
    }

    fn scopes(&self) -> &'static [Scope] {
        super::COLUMN
    }

    fn keys(&self, _scope: Scope) -> Vec<&'static str> {
        let mut k = vec!["function"];
        k.extend(rules::MISSING_KEYS);
        k.push(COLUMN_EXPRESSION);
        sorted(k)
    }

    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        Some(Parsed {
            kind: Box::new(Aggregate::parse(r, node, ctx.column?, ctx.key_span)?),
            threshold_rules: ThresholdRules::required(),
        })
    }
}

//! `invalid`: rows that are not missing and not valid. Validity comes from the check's
//! own settings or, when it sets none, from the column's.

use serde_json::{Map, Value as Json};

use super::rules::{self, MissingRules, ReferenceData, ValidityRules};
use super::{
    alias_part, column_expression, column_value, describe_expression, expression_sql, must_be_zero,
    need_column, percent, sorted, Agg, Capture, CheckKind, CheckType, ColumnDefaults, Inputs,
    MeasureError, Measurement, NeedCtx, Needs, OwnQuery, OwnRow, ParseCtx, Parsed, Scope, UserSql,
    COLUMN_EXPRESSION,
};
use crate::decode::Reader;
use crate::model::SqlText;
use crate::source::Span;
use crate::sql::ast::{Expr, Select, SelectItem};
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct Invalid {
    pub missing: MissingRules,
    pub validity: ValidityRules,
    /// SQL in place of the column's name
    pub expression: Option<SqlText>,
}

/// Alias of the verified table inside the reference-data query.
pub const MAIN: &str = "assay_main";
const REF: &str = "assay_ref";

impl Invalid {
    pub fn parse(
        r: &mut Reader,
        node: &Node,
        column: &ColumnDefaults,
        key_span: Span,
    ) -> Option<Invalid> {
        let missing = rules::parse_missing(r, node)
            .or_else(|| column.missing.cloned())
            .unwrap_or_default();
        let validity = rules::parse_validity(r, node).or_else(|| column.validity.cloned());
        let expression = column_expression(r, node, Some(column)).ok()?;
        match validity {
            Some(v) if !v.is_empty() => Some(Invalid {
                missing,
                validity: v,
                expression,
            }),
            Some(_) => None, // its own errors were reported
            None => {
                r.error(
                    if node.is_null() { key_span } else { node.span },
                    format!(
                        "an invalid check on column '{}' needs a validity rule, and neither the check nor the column has one",
                        column.spec.name
                    ),
                    Some(format!("set one of {} on the check or the column", rules::VALIDITY_KEYS.join(", "))),
                );
                None
            }
        }
    }

    /// 1 for an invalid row, else NULL. CASE cascade: a missing value is never invalid;
    /// a value failing any rule is.
    fn invalid_case(&self, value: &Expr, reference: Option<Expr>) -> Expr {
        let valid = Expr::and(
            self.validity
                .is_valid(value)
                .into_iter()
                .chain(reference)
                .collect(),
        );
        Expr::Case(
            Box::new(self.missing.is_missing(value)),
            Box::new(Expr::Null),
            Some(Box::new(Expr::Case(
                Box::new(valid),
                Box::new(Expr::Null),
                Some(Box::new(Expr::Int(1))),
            ))),
        )
    }

    fn invalid_expr(&self, value: &Expr, reference: Option<Expr>) -> Expr {
        Expr::agg(
            crate::sql::ast::AggFn::Count,
            self.invalid_case(value, reference),
        )
    }

    /// Reference data: the value is looked up in the other table by EXISTS (so NULLs
    /// in the reference column do not poison a NOT IN), compared exactly.
    fn reference_lookup(&self, column: &str, ctx: &NeedCtx) -> Option<Expr> {
        let (rd, ref_table) = (self.validity.reference.as_ref()?, ctx.reference_table?);
        Some(Expr::Exists(Box::new(Select::new(
            vec![SelectItem {
                expr: Expr::Int(1),
                alias: None,
            }],
            ref_table.aliased(REF),
            Some(Expr::Cmp(
                Box::new(Expr::AliasColumn(REF.into(), rd.column.clone())),
                crate::sql::ast::CmpOp::Eq,
                Box::new(Expr::ExactText(Box::new(match &self.expression {
                    Some(e) => Expr::Raw(e.sql.clone()),
                    None => Expr::AliasColumn(MAIN.into(), column.to_string()),
                }))),
            )),
        ))))
    }
}

pub enum Handles {
    /// in the dataset's shared query
    Shared {
        rows: Agg,
        missing: Agg,
        invalid: Agg,
    },
    /// reference data needs the other table: a query of its own, with the same three
    /// counts in that order
    Own(OwnRow),
}

impl CheckKind for Invalid {
    type Handles = Handles;

    fn type_name(&self) -> &'static str {
        TYPE.name()
    }

    fn default_name(&self, column: Option<&str>) -> String {
        format!("invalid values in {}", column.unwrap_or_default())
    }

    fn needs(&self, ctx: &NeedCtx, needs: &mut Needs) -> Handles {
        let column = ctx.column.unwrap_or_default();
        need_column(needs, &self.expression, column);
        let value = column_value(&self.expression, ctx);
        let name = alias_part(column);
        let missing_name = format!("{name}_missing_count");
        let missing_expr = Expr::count_where(self.missing.is_missing(&value));
        let invalid_name = format!("{name}_invalid_count");
        let Some(lookup) = self.reference_lookup(column, ctx) else {
            return Handles::Shared {
                rows: needs.row_count(),
                missing: needs.aggregate(missing_name, missing_expr),
                invalid: needs.aggregate(invalid_name, self.invalid_expr(&value, None)),
            };
        };
        let item = |expr, alias: String| SelectItem {
            expr,
            alias: Some(alias),
        };
        let select = Select::new(
            vec![
                item(Expr::CountAll, "row_count".into()),
                item(missing_expr, missing_name),
                item(self.invalid_expr(&value, Some(lookup)), invalid_name),
            ],
            ctx.table.aliased(MAIN),
            ctx.filter.cloned(),
        );
        Handles::Own(needs.own_query(OwnQuery::Select(Box::new(select))))
    }

    fn measure(&self, h: &Handles, inputs: &Inputs) -> Result<Measurement, MeasureError> {
        let (rows, missing, invalid) = match *h {
            Handles::Shared {
                rows,
                missing,
                invalid,
            } => (
                inputs.count(rows, "row count")?,
                inputs.count(missing, "missing count")?,
                inputs.count(invalid, "invalid count")?,
            ),
            Handles::Own(row) => {
                let row = inputs.row(row).unwrap_or_default();
                (
                    super::count_value(row.first(), "row count")?,
                    super::count_value(row.get(1), "missing count")?,
                    super::count_value(row.get(2), "invalid count")?,
                )
            }
        };
        let pct = percent(invalid, rows);
        let mut m = Measurement::new(Some(invalid as f64))
            .diag("invalid_count", invalid)
            .diag("invalid_percent", pct)
            .diag("missing_count", missing)
            .diag("check_rows_tested", rows);
        m.percent = Some(pct);
        Ok(m)
    }

    fn capture(&self, ctx: &NeedCtx) -> Option<Capture> {
        let column = ctx.column.unwrap_or_default();
        let value = column_value(&self.expression, ctx);
        let lookup = self.reference_lookup(column, ctx);
        let aliased = lookup.is_some();
        Some(Capture::Rows {
            condition: Expr::negate(Expr::IsNull(Box::new(self.invalid_case(&value, lookup)))),
            aliased,
            expression: self.expression.as_ref().map(|_| value),
        })
    }

    fn settings(&self, settings: &mut Map<String, Json>) {
        self.missing.describe(settings);
        self.validity.describe(settings);
        describe_expression(&self.expression, settings);
    }

    fn user_sql(&mut self) -> Vec<UserSql<'_>> {
        expression_sql(&mut self.expression)
    }

    fn reference_data(&self) -> Option<&ReferenceData> {
        self.validity.reference.as_ref()
    }
}

/// `invalid` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl CheckType for Type {
    fn name(&self) -> &'static str {
        "invalid"
    }

    fn scopes(&self) -> &'static [Scope] {
        super::COLUMN
    }

    fn keys(&self, _scope: Scope) -> Vec<&'static str> {
        let mut k = rules::MISSING_KEYS.to_vec();
        k.extend(rules::VALIDITY_KEYS);
        k.push(COLUMN_EXPRESSION);
        sorted(k)
    }

    fn parse(&self, r: &mut Reader, node: &Node, ctx: &ParseCtx) -> Option<Parsed> {
        Some(Parsed {
            kind: Box::new(Invalid::parse(r, node, ctx.column?, ctx.key_span)?),
            threshold_rules: must_be_zero(),
        })
    }
}

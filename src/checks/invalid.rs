//! `invalid`: rows that are not missing and not valid. Validity comes from the check's
//! own settings or, when it sets none, from the column's.

use super::rules::{self, MissingRules, ValidityRules};
use super::{
    alias_part, count_value, percent, Capture, ColumnDefaults, Inputs, Measurement, Metric,
    NeedCtx, Needs, OwnQuery,
};
use crate::decode::Reader;
use crate::sql::ast::{Expr, Select, SelectItem};
use crate::yaml::{Node, Span};

#[derive(Debug, Clone)]
pub struct Invalid {
    pub missing: MissingRules,
    pub validity: ValidityRules,
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
        match validity {
            Some(v) if !v.is_empty() => Some(Invalid {
                missing,
                validity: v,
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
    fn invalid_case(&self, column: &str, reference: Option<Expr>) -> Expr {
        let valid = Expr::and(
            self.validity
                .is_valid(column)
                .into_iter()
                .chain(reference)
                .collect(),
        );
        Expr::Case(
            Box::new(self.missing.is_missing(column)),
            Box::new(Expr::Null),
            Some(Box::new(Expr::Case(
                Box::new(valid),
                Box::new(Expr::Null),
                Some(Box::new(Expr::Int(1))),
            ))),
        )
    }

    fn invalid_expr(&self, column: &str, reference: Option<Expr>) -> Expr {
        Expr::agg(
            crate::sql::ast::AggFn::Count,
            self.invalid_case(column, reference),
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
                Box::new(Expr::ExactText(Box::new(Expr::AliasColumn(
                    MAIN.into(),
                    column.to_string(),
                )))),
            )),
        ))))
    }

    pub fn capture(&self, ctx: &NeedCtx) -> Capture {
        let column = ctx.column.unwrap_or_default();
        let lookup = self.reference_lookup(column, ctx);
        let aliased = lookup.is_some();
        Capture::Rows {
            condition: Expr::negate(Expr::IsNull(Box::new(self.invalid_case(column, lookup)))),
            aliased,
        }
    }

    pub fn needs(&self, ctx: &NeedCtx) -> Needs {
        let column = ctx.column.unwrap_or_default();
        let name = alias_part(column);
        let missing_count = Metric {
            name: format!("{name}_missing_count"),
            expr: Expr::count_where(self.missing.is_missing(column)),
        };
        if let Some(lookup) = self.reference_lookup(column, ctx) {
            // reference data needs the other table: a query of its own
            let select = Select::new(
                vec![
                    SelectItem {
                        expr: Expr::CountAll,
                        alias: Some("row_count".into()),
                    },
                    SelectItem {
                        expr: missing_count.expr,
                        alias: Some(missing_count.name),
                    },
                    SelectItem {
                        expr: self.invalid_expr(column, Some(lookup)),
                        alias: Some(format!("{name}_invalid_count")),
                    },
                ],
                ctx.table.aliased(MAIN),
                ctx.filter.cloned(),
            );
            return Needs {
                own_query: Some(OwnQuery::Select(Box::new(select))),
                columns: vec![column.to_string()],
                ..Needs::default()
            };
        }
        Needs {
            aggregates: vec![
                Metric {
                    name: "row_count".into(),
                    expr: Expr::CountAll,
                },
                missing_count,
                Metric {
                    name: format!("{name}_invalid_count"),
                    expr: self.invalid_expr(column, None),
                },
            ],
            columns: vec![column.to_string()],
            ..Needs::default()
        }
    }

    pub fn measure(&self, inputs: &Inputs) -> Result<Measurement, String> {
        let values = inputs.own_row.unwrap_or(inputs.aggregates);
        let rows = count_value(values.first(), "row count")?;
        let missing = count_value(values.get(1), "missing count")?;
        let invalid = count_value(values.get(2), "invalid count")?;
        let pct = percent(invalid, rows);
        let mut m = Measurement::new(Some(invalid as f64))
            .diag("invalid_count", invalid)
            .diag("invalid_percent", pct)
            .diag("missing_count", missing)
            .diag("check_rows_tested", rows);
        m.percent = Some(pct);
        Ok(m)
    }
}

/// `invalid` in a contract.
pub struct Type;
pub static TYPE: Type = Type;

impl super::CheckType for Type {
    fn name(&self) -> &'static str {
        "invalid"
    }

    fn scopes(&self) -> &'static [super::Scope] {
        super::COLUMN
    }

    fn keys(&self, _scope: super::Scope) -> Vec<&'static str> {
        use super::{rules, sorted};
        let mut k = rules::MISSING_KEYS.to_vec();
        k.extend(rules::VALIDITY_KEYS);
        sorted(k)
    }

    fn parse(
        &self,
        r: &mut crate::decode::Reader,
        node: &crate::yaml::Node,
        column: Option<&super::ColumnDefaults>,
        key_span: crate::yaml::Span,
    ) -> Option<super::Parsed> {
        use super::{must_be_zero, CheckKind, Parsed};
        Some(Parsed {
            kind: CheckKind::Invalid(Box::new(Invalid::parse(r, node, column?, key_span)?)),
            threshold_rules: must_be_zero(),
        })
    }
}

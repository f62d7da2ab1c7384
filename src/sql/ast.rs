//! A small, dialect-neutral query tree: just what contract checks need.
//!
//! Checks build trees; a `Dialect` prints them. Nothing here knows about any engine.

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    /// kept as written, so 0.1 stays 0.1 and big integers stay exact
    Number(String),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFn {
    Count,
    Sum,
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `*`: every column of the table
    AllColumns,
    /// a column of the dataset being verified
    Column(String),
    /// a column of a named table alias, for correlated subqueries
    AliasColumn(String, String),
    /// user-written SQL (already validated), printed in parentheses
    Raw(String),
    Lit(Literal),
    CountAll,
    Agg(AggFn, Box<Expr>),
    CountDistinct(Box<Expr>),
    /// an estimate of COUNT(DISTINCT), where the engine has one (scan profiles of big
    /// tables); exact elsewhere
    ApproxCountDistinct(Box<Expr>),
    /// distinct tuples of several columns, NULL counting as a value
    CountDistinctTuple(Vec<Expr>),
    /// CASE WHEN cond THEN value [ELSE otherwise] END
    Case(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    IsNull(Box<Expr>),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    InList(Box<Expr>, Vec<Literal>),
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
    /// the pattern is found anywhere in the value (as text)
    RegexMatch(Box<Expr>, String),
    /// length of the value as text, in characters
    CharLength(Box<Expr>),
    /// the value as text compared exactly (case-sensitively), whatever its collation
    ExactText(Box<Expr>),
    Exists(Box<Select>),
    Int(i64),
    Null,
}

impl Expr {
    pub fn col(name: &str) -> Expr {
        Expr::Column(name.to_string())
    }

    pub fn agg(f: AggFn, e: Expr) -> Expr {
        Expr::Agg(f, Box::new(e))
    }

    pub fn negate(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }

    /// COUNT(CASE WHEN cond THEN 1 END): rows where cond is true; 0 on an empty table.
    pub fn count_where(cond: Expr) -> Expr {
        Expr::agg(
            AggFn::Count,
            Expr::Case(Box::new(cond), Box::new(Expr::Int(1)), None),
        )
    }

    /// the value when cond holds, else NULL (aggregates skip NULLs)
    pub fn value_where(cond: Expr, value: Expr) -> Expr {
        Expr::Case(Box::new(cond), Box::new(value), None)
    }

    pub fn and(mut parts: Vec<Expr>) -> Expr {
        if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Expr::And(parts)
        }
    }

    /// The expressions directly inside this one (not those of an EXISTS subquery).
    fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Agg(_, e)
            | Expr::CountDistinct(e)
            | Expr::ApproxCountDistinct(e)
            | Expr::IsNull(e)
            | Expr::Not(e)
            | Expr::InList(e, _)
            | Expr::RegexMatch(e, _)
            | Expr::CharLength(e)
            | Expr::ExactText(e) => vec![e.as_ref()],
            Expr::CountDistinctTuple(items) | Expr::And(items) | Expr::Or(items) => {
                items.iter().collect()
            }
            Expr::Case(c, t, o) => [Some(c), Some(t), o.as_ref()]
                .into_iter()
                .flatten()
                .map(|e| e.as_ref())
                .collect(),
            Expr::Cmp(l, _, r) => vec![l.as_ref(), r.as_ref()],
            _ => Vec::new(),
        }
    }

    fn children_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Expr::Agg(_, e)
            | Expr::CountDistinct(e)
            | Expr::ApproxCountDistinct(e)
            | Expr::IsNull(e)
            | Expr::Not(e)
            | Expr::InList(e, _)
            | Expr::RegexMatch(e, _)
            | Expr::CharLength(e)
            | Expr::ExactText(e) => vec![e.as_mut()],
            Expr::CountDistinctTuple(items) | Expr::And(items) | Expr::Or(items) => {
                items.iter_mut().collect()
            }
            Expr::Case(c, t, o) => [Some(c), Some(t), o.as_mut()]
                .into_iter()
                .flatten()
                .map(|e| e.as_mut())
                .collect(),
            Expr::Cmp(l, _, r) => vec![l.as_mut(), r.as_mut()],
            _ => Vec::new(),
        }
    }

    /// Respell column names of the verified table (plain columns and those under
    /// `main_alias`) where `respell` gives a catalog spelling.
    pub fn respell_columns(&mut self, main_alias: &str, respell: &dyn Fn(&str) -> Option<String>) {
        match self {
            Expr::Column(c) => {
                if let Some(n) = respell(c) {
                    *c = n;
                }
            }
            Expr::AliasColumn(a, c) if a == main_alias => {
                if let Some(n) = respell(c) {
                    *c = n;
                }
            }
            Expr::Exists(s) => s.respell_columns(main_alias, respell),
            other => {
                for e in other.children_mut() {
                    e.respell_columns(main_alias, respell);
                }
            }
        }
    }

    /// Does user-written SQL (`Raw`) appear anywhere in this expression, subqueries
    /// included?
    pub fn holds_user_sql(&self) -> bool {
        match self {
            Expr::Raw(_) => true,
            Expr::Exists(s) => s.holds_user_sql(),
            other => other.children().into_iter().any(Expr::holds_user_sql),
        }
    }

    /// Names of the verified table's columns this expression reads.
    pub fn columns(&self, out: &mut Vec<String>) {
        match self {
            Expr::Column(c) => out.push(c.clone()),
            other => other.children().into_iter().for_each(|e| e.columns(out)),
        }
    }

    /// Drop exact-text comparison where it cannot matter: around values that read no
    /// text column (an integer has no collation, and casting it costs time).
    pub fn drop_needless_exact(&mut self, is_text: &dyn Fn(&str) -> bool) {
        if let Expr::ExactText(inner) = self {
            let mut cols = Vec::new();
            inner.columns(&mut cols);
            if !cols.is_empty() && !cols.iter().any(|c| is_text(c)) {
                *self = std::mem::replace(inner.as_mut(), Expr::Null);
                return self.drop_needless_exact(is_text);
            }
        }
        for e in self.children_mut() {
            e.drop_needless_exact(is_text);
        }
    }

    pub fn or(mut parts: Vec<Expr>) -> Expr {
        if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Expr::Or(parts)
        }
    }
}

/// Where rows come from: a table (catalog path, each part quoted by the dialect).
#[derive(Debug, Clone, PartialEq)]
pub struct TableRef {
    pub parts: Vec<String>,
    pub alias: Option<String>,
}

impl TableRef {
    pub fn new(parts: Vec<String>) -> TableRef {
        TableRef { parts, alias: None }
    }

    pub fn aliased(&self, alias: &str) -> TableRef {
        TableRef {
            parts: self.parts.clone(),
            alias: Some(alias.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        self.parts.last().map(String::as_str).unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    pub expr: Expr,
    pub alias: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub items: Vec<SelectItem>,
    pub from: TableRef,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
    /// (expression, descending)
    pub order_by: Vec<(Expr, bool)>,
    pub limit: Option<u64>,
}

impl Select {
    /// `SELECT items FROM from [WHERE filter]`; the other clauses are set where needed.
    pub fn new(items: Vec<SelectItem>, from: TableRef, filter: Option<Expr>) -> Select {
        Select {
            items,
            from,
            filter,
            group_by: Vec::new(),
            having: None,
            order_by: Vec::new(),
            limit: None,
        }
    }

    /// Does user-written SQL appear anywhere in the query? Without it, the query is text
    /// assay printed from names and values the dialect quoted.
    pub fn holds_user_sql(&self) -> bool {
        self.items.iter().any(|i| i.expr.holds_user_sql())
            || self.filter.iter().any(Expr::holds_user_sql)
            || self.group_by.iter().any(Expr::holds_user_sql)
            || self.having.iter().any(Expr::holds_user_sql)
            || self.order_by.iter().any(|(e, _)| e.holds_user_sql())
    }

    pub fn respell_columns(&mut self, main_alias: &str, respell: &dyn Fn(&str) -> Option<String>) {
        for item in &mut self.items {
            item.expr.respell_columns(main_alias, respell);
        }
        if let Some(f) = &mut self.filter {
            f.respell_columns(main_alias, respell);
        }
    }
}

/// `CREATE TABLE IF NOT EXISTS table (name type, ...)`: a store's table.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    pub table: TableRef,
    /// (name, the engine's type)
    pub columns: Vec<(String, String)>,
}

/// `INSERT INTO table (columns) VALUES (...), ...`: rows into a store.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    pub table: TableRef,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Param>>,
}

/// How a store's timestamp columns are written and compared: UTC, microseconds, no zone.
pub const STORE_TIME: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// A value assay writes (a store's row, a sink's record): always bound as a parameter,
/// never spliced into the SQL text, so no server setting (PostgreSQL's
/// `standard_conforming_strings`, MySQL's `NO_BACKSLASH_ESCAPES`) can turn a value into
/// SQL. Timestamps, decimals and JSON go as text the server parses for the column.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Param {
    pub fn text(s: &str) -> Param {
        Param::Text(s.to_string())
    }

    pub fn opt_text(s: Option<&str>) -> Param {
        s.map_or(Param::Null, Param::text)
    }

    /// A moment as the stores keep it: UTC, to the microsecond, without a zone (the
    /// timestamp columns of every store engine read this text).
    pub fn time(t: chrono::DateTime<chrono::Utc>) -> Param {
        Param::Text(t.format(STORE_TIME).to_string())
    }

    /// A finite number, else NULL (the stores keep no infinities).
    pub fn number(v: Option<f64>) -> Param {
        v.filter(|v| v.is_finite())
            .map_or(Param::Null, Param::Float)
    }

    /// The value as the text a server parses for any column type (PostgreSQL's text
    /// format); None for NULL. Floats in exponent form keep every bit.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Param::Null => None,
            Param::Text(s) => Some(s.clone()),
            Param::Int(i) => Some(i.to_string()),
            Param::Float(v) => Some(format!("{v:e}")),
            Param::Bool(b) => Some(b.to_string()),
        }
    }
}

/// A writing statement and the values bound to its placeholders (none for DDL).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

impl From<String> for Statement {
    fn from(sql: String) -> Statement {
        Statement {
            sql,
            params: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_text_stays_only_around_text_columns() {
        let exact = |e: Expr| Expr::ExactText(Box::new(e));
        let mut e = Expr::And(vec![
            Expr::InList(Box::new(exact(Expr::col("status"))), vec![]),
            Expr::CountDistinct(Box::new(exact(Expr::col("id")))),
        ]);
        e.drop_needless_exact(&|c| c == "status");
        assert_eq!(
            e,
            Expr::And(vec![
                Expr::InList(Box::new(exact(Expr::col("status"))), vec![]),
                Expr::CountDistinct(Box::new(Expr::col("id"))),
            ])
        );
    }

    #[test]
    fn user_sql_is_found_wherever_it_hides() {
        let raw = || Expr::Raw("x > 1".into());
        let table = TableRef::new(vec!["t".into()]);
        let item = |expr| SelectItem { expr, alias: None };
        let plain = Select::new(
            vec![item(Expr::count_where(Expr::IsNull(Box::new(Expr::col(
                "x",
            )))))],
            table.clone(),
            None,
        );
        assert!(!plain.holds_user_sql());
        // in a filter, deep in a CASE, inside an EXISTS subquery's filter
        let filtered = Select::new(plain.items.clone(), table.clone(), Some(raw()));
        assert!(filtered.holds_user_sql());
        let deep = Select::new(
            vec![item(Expr::count_where(Expr::Or(vec![
                Expr::IsNull(Box::new(Expr::col("x"))),
                Expr::negate(raw()),
            ])))],
            table.clone(),
            None,
        );
        assert!(deep.holds_user_sql());
        let sub = Select::new(vec![item(Expr::Int(1))], table.clone(), Some(raw()));
        let exists = Select::new(
            vec![item(Expr::count_where(Expr::Exists(Box::new(sub))))],
            table,
            None,
        );
        assert!(exists.holds_user_sql());
    }
}

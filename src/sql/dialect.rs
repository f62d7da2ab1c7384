//! How each engine spells the query tree.
//!
//! A trait of capability methods with defaults (standard SQL); an engine overrides only
//! what it spells differently. Printing walks the tree once and asks the dialect at each
//! engine-specific node, so no `if engine == X` appears anywhere else.

use super::ast::{AggFn, CmpOp, CreateTable, Expr, Insert, Literal, Select, Statement, TableRef};
use super::lexer::Lexicon;

pub trait Dialect: Send + Sync {
    /// Engine name for messages and plan output.
    fn name(&self) -> &'static str;

    /// The sqlparser dialect that validates user-written SQL for this engine.
    fn parser_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect>;

    /// How the engine's own scanner splits text into strings, names and comments. No
    /// default: user SQL is only as safe as these rules are the engine's.
    fn lexicon(&self) -> Lexicon;

    /// Functions user SQL may not call on this engine: they write, read files, reach the
    /// network, signal other sessions, take locks or sleep, which a read-only transaction
    /// does not stop. Lower case; `name*` is a prefix, `*name` a suffix.
    fn refused_functions(&self) -> &'static [&'static str] {
        &[]
    }

    /// Why user SQL may not read this table (its name's parts, unquoted), or None. On
    /// Spark a name can be a file (``csv.`/etc/passwd` ``), which a contract's own SQL
    /// must never read.
    fn refused_relation(&self, _parts: &[String]) -> Option<String> {
        None
    }

    /// The placeholder of the `n`th bound value (from 1) in a writing statement.
    fn placeholder(&self, _n: usize) -> String {
        "?".to_string()
    }

    fn quote_ident(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    /// A field of a struct value, for ODCS properties nested in an object column; None
    /// where the engine has no struct columns.
    fn struct_field(&self, _expr: &str, _field: &str) -> Option<String> {
        None
    }

    /// True for a row whose array holds an element `var` for which `predicate` holds
    /// (false for an empty or NULL array); None where the engine has no arrays.
    fn any_element(&self, _array: &str, _var: &str, _predicate: &str) -> Option<String> {
        None
    }

    /// True for a row whose array repeats a value, as the engine's own distinct of an
    /// array sees it; None where the engine has no arrays.
    fn array_repeats(&self, _array: &str) -> Option<String> {
        None
    }

    fn string_literal(&self, s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    /// true when the pattern is found anywhere in the value
    fn regex_match(&self, text_expr: &str, pattern: &str) -> String;

    /// number of characters (not bytes) of a text expression
    fn char_length(&self, text_expr: &str) -> String {
        format!("CHAR_LENGTH({text_expr})")
    }

    fn cast_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS VARCHAR)")
    }

    /// COUNT of distinct tuples where NULL counts as a value
    fn count_distinct_tuple(&self, exprs: &[String]) -> String;

    /// Does a column of this catalog type hold text (and so have a collation)?
    fn is_text_type(&self, data_type: &str) -> bool {
        let b = base_type(data_type);
        b.contains("char") || b.contains("text") || b == "enum" || b == "set" || b == "string"
    }

    /// Whether a column of this base type (`base_type`'s form) holds instants: a
    /// timestamp with a time zone.
    fn zoned_timestamp(&self, base: &str) -> bool {
        base == "timestamptz" || base.contains("with time zone")
    }

    /// The lower-case hex MD5 of a text expression's UTF-8 bytes (reconciliation's row
    /// hashes: the one hash every engine has).
    fn md5(&self, text_expr: &str) -> String {
        format!("md5({text_expr})")
    }

    /// An integer from 15 hex digits (60 bits, so a sum of them fits every engine's
    /// exact sum).
    fn hex_to_int(&self, hex_expr: &str) -> String;

    /// Texts joined, none of them NULL.
    fn concat(&self, parts: &[String]) -> String {
        format!("CONCAT({})", parts.join(", "))
    }

    /// A text with every trailing `ch` removed.
    fn trim_trailing(&self, text_expr: &str, ch: char) -> String {
        format!("rtrim({text_expr}, '{ch}')")
    }

    /// A date as YYYY-MM-DD.
    fn format_date(&self, expr: &str) -> String;

    /// A timestamp (a zoned one in UTC: sessions run in UTC) as
    /// YYYY-MM-DD HH:MM:SS.ffffff, to the microsecond.
    fn format_timestamp(&self, expr: &str) -> String;

    /// A time of day as HH:MM:SS.ffffff.
    fn format_time(&self, expr: &str) -> String;

    /// Bytes as lower-case hex.
    fn hex_bytes(&self, expr: &str) -> String {
        format!("lower(hex({expr}))")
    }

    /// The numeric type a float is rounded into for comparison: DECIMAL(38,6).
    fn decimal_38_6(&self) -> &'static str {
        "DECIMAL(38,6)"
    }

    /// A query taking the named lock for the connection without waiting, answering 1 or
    /// true when it got it; None where the engine has no such lock (DuckDB: one writer
    /// per file is its own rule).
    fn try_lock_query(&self, _name: &str) -> Option<String> {
        None
    }

    /// An estimate of the distinct values of `expr`. Engines without an estimator count
    /// exactly.
    fn approx_count_distinct(&self, expr: &str) -> String {
        format!("COUNT(DISTINCT {expr})")
    }

    /// Rows of an aggregate query where `expr` is NULL. `COUNT(*) - COUNT(x)` reads only
    /// the column's null flags: on DuckDB a quarter of the time of counting a CASE, on
    /// MariaDB 20% less (scripts/bench, "counting forms").
    fn count_nulls(&self, expr: &str) -> String {
        format!("(COUNT(*) - COUNT({expr}))")
    }

    /// A text value compared case- and accent-sensitively, whatever the column's collation.
    fn exact_text(&self, expr: &str) -> String {
        expr.to_string()
    }

    /// Are two identifiers the same name for this engine's catalog?
    fn same_ident(&self, a: &str, b: &str) -> bool {
        a == b
    }

    /// SQL listing the columns of `tables` from the catalog in one statement, one row per
    /// column: the table's index in `tables`, name, data type, character maximum length,
    /// numeric precision, numeric scale, datetime precision, nullable (a boolean or
    /// 'YES'/'NO'); by table, then in column order (DuckDB's rows are its executor's own
    /// shape, see there). A run reads its whole catalog with one such statement. None
    /// where the catalog is read another way (Spark's client asks for a table's schema,
    /// which runs nothing).
    fn columns_query(&self, tables: &[TableRef]) -> Option<String>;

    /// The tables and views a scan discovers, as rows of (first path part, table name,
    /// 'table' or 'view'): schema/table, or database/table on MySQL. Catalogs of the
    /// engine itself are left out.
    fn tables_query(&self) -> String;

    /// Canonical spelling of a column type, so aliases compare equal.
    fn normalize_type(&self, data_type: &str) -> String;

    fn table(&self, t: &TableRef) -> String {
        let name = t
            .parts
            .iter()
            .map(|p| self.quote_ident(p))
            .collect::<Vec<_>>()
            .join(".");
        match &t.alias {
            Some(a) => format!("{name} AS {}", self.quote_ident(a)),
            None => name,
        }
    }

    fn literal(&self, l: &Literal) -> String {
        match l {
            Literal::Str(s) => self.string_literal(s),
            Literal::Number(n) => n.clone(),
            Literal::Bool(true) => "TRUE".to_string(),
            Literal::Bool(false) => "FALSE".to_string(),
        }
    }

    /// Keep at most `n` rows (the clause that ends a SELECT).
    fn limit(&self, n: u64) -> String {
        format!("LIMIT {n}")
    }

    /// At most `n` rows of a user's query.
    fn limit_rows_of(&self, query: &str, n: u64) -> String {
        format!("SELECT * FROM {}\n{}", rows_of(query), self.limit(n))
    }

    /// Count the rows a query returns.
    fn count_rows_of(&self, query: &str) -> String {
        format!("SELECT COUNT(*) FROM {}", rows_of(query))
    }
}

/// A user's query as a derived table.
fn rows_of(query: &str) -> String {
    format!("(\n{}\n) AS assay_rows", query.trim().trim_end_matches(';'))
}

/// Print a whole SELECT.
pub fn print_select(d: &dyn Dialect, s: &Select) -> String {
    let items = s
        .items
        .iter()
        .map(|item| match &item.alias {
            Some(a) => format!("  {} AS {}", print_expr(d, &item.expr), d.quote_ident(a)),
            None => format!("  {}", print_expr(d, &item.expr)),
        })
        .collect::<Vec<_>>()
        .join(",\n");
    let mut sql = format!("SELECT\n{items}\nFROM {}", d.table(&s.from));
    if let Some(f) = &s.filter {
        sql.push_str("\nWHERE ");
        sql.push_str(&print_expr(d, f));
    }
    if !s.group_by.is_empty() {
        let keys: Vec<String> = s.group_by.iter().map(|e| print_expr(d, e)).collect();
        sql.push_str(&format!("\nGROUP BY {}", keys.join(", ")));
    }
    if let Some(h) = &s.having {
        sql.push_str(&format!("\nHAVING {}", print_expr(d, h)));
    }
    if !s.order_by.is_empty() {
        let keys: Vec<String> = s
            .order_by
            .iter()
            .map(|(e, desc)| format!("{}{}", print_expr(d, e), if *desc { " DESC" } else { "" }))
            .collect();
        sql.push_str(&format!("\nORDER BY {}", keys.join(", ")));
    }
    if let Some(n) = s.limit {
        sql.push('\n');
        sql.push_str(&d.limit(n));
    }
    sql
}

/// Print a store table's DDL.
pub fn print_create_table(d: &dyn Dialect, t: &CreateTable) -> String {
    let columns: Vec<String> = t
        .columns
        .iter()
        .map(|(name, ty)| format!("{} {ty}", d.quote_ident(name)))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        d.table(&t.table),
        columns.join(", ")
    )
}

/// Print an INSERT of several rows.
/// An INSERT whose values are all placeholders, the values bound beside it.
pub fn print_insert(d: &dyn Dialect, i: &Insert) -> Statement {
    let columns: Vec<String> = i.columns.iter().map(|c| d.quote_ident(c)).collect();
    let mut params = Vec::with_capacity(i.rows.len() * i.columns.len());
    let rows: Vec<String> = i
        .rows
        .iter()
        .map(|row| {
            let values: Vec<String> = row
                .iter()
                .map(|value| {
                    params.push(value.clone());
                    d.placeholder(params.len())
                })
                .collect();
            format!("({})", values.join(", "))
        })
        .collect();
    Statement {
        sql: format!(
            "INSERT INTO {} ({}) VALUES\n{}",
            d.table(&i.table),
            columns.join(", "),
            rows.join(",\n")
        ),
        params,
    }
}

/// Rows per INSERT for a table of `columns` columns: as many as 500, within every
/// engine's limit on placeholders in one statement (65,535).
pub fn insert_batch(columns: usize) -> usize {
    (60_000 / columns.max(1)).clamp(1, 500)
}

pub fn print_expr(d: &dyn Dialect, e: &Expr) -> String {
    let p = |e: &Expr| print_expr(d, e);
    match e {
        Expr::Column(c) => d.quote_ident(c),
        Expr::AliasColumn(t, c) => format!("{}.{}", d.quote_ident(t), d.quote_ident(c)),
        Expr::Raw(sql) => format!("({})", sql.trim()),
        Expr::Lit(l) => d.literal(l),
        Expr::CountAll => "COUNT(*)".to_string(),
        Expr::Agg(AggFn::Count, inner) if null_test(inner).is_some() => {
            d.count_nulls(&p(null_test(inner).expect("matched")))
        }
        Expr::Agg(f, inner) => {
            let name = match f {
                AggFn::Count => "COUNT",
                AggFn::Sum => "SUM",
                AggFn::Min => "MIN",
                AggFn::Max => "MAX",
            };
            format!("{name}({})", p(inner))
        }
        Expr::CountDistinct(inner) => format!("COUNT(DISTINCT {})", p(inner)),
        Expr::ApproxCountDistinct(inner) => d.approx_count_distinct(&p(inner)),
        Expr::CountDistinctTuple(items) => {
            let printed: Vec<String> = items.iter().map(p).collect();
            d.count_distinct_tuple(&printed)
        }
        Expr::Case(..) => {
            // a CASE in the ELSE of another is printed as further WHENs of the one: the
            // same answer (conditions are tried in order), and DuckDB evaluates one flat
            // CASE 11% faster than nested ones (scripts/bench, "counting forms")
            let mut sql = String::from("CASE");
            let mut case = e;
            while let Expr::Case(cond, then, otherwise) = case {
                sql.push_str(&format!(" WHEN {} THEN {}", p(cond), p(then)));
                match otherwise.as_deref() {
                    Some(o @ Expr::Case(..)) => case = o,
                    Some(o) => {
                        sql.push_str(&format!(" ELSE {}", p(o)));
                        break;
                    }
                    None => break,
                }
            }
            sql.push_str(" END");
            sql
        }
        Expr::IsNull(inner) => format!("{} IS NULL", p(inner)),
        Expr::Not(inner) => format!("NOT ({})", p(inner)),
        Expr::And(parts) => join_parts(d, parts, " AND "),
        Expr::Or(parts) => join_parts(d, parts, " OR "),
        // an empty list holds nothing (and `IN ()` is not SQL)
        Expr::InList(_, list) if list.is_empty() => "(1 = 0)".to_string(),
        Expr::InList(inner, list) => {
            let items: Vec<String> = list.iter().map(|l| d.literal(l)).collect();
            format!("{} IN ({})", p(inner), items.join(", "))
        }
        Expr::Cmp(l, op, r) => {
            let op = match op {
                CmpOp::Eq => "=",
                CmpOp::Lt => "<",
                CmpOp::LtEq => "<=",
                CmpOp::Gt => ">",
                CmpOp::GtEq => ">=",
            };
            format!("{} {op} {}", p(l), p(r))
        }
        Expr::RegexMatch(inner, pattern) => {
            d.regex_match(&d.cast_text(&p(inner)), &d.string_literal(pattern))
        }
        Expr::CharLength(inner) => d.char_length(&d.cast_text(&p(inner))),
        Expr::ExactText(inner) => d.exact_text(&p(inner)),
        Expr::Exists(select) => {
            let items: Vec<String> = select.items.iter().map(|i| p(&i.expr)).collect();
            let mut inner = format!("SELECT {} FROM {}", items.join(", "), d.table(&select.from));
            if let Some(f) = &select.filter {
                inner.push_str(&format!(" WHERE {}", p(f)));
            }
            format!("EXISTS ({inner})")
        }
        Expr::Int(i) => i.to_string(),
        Expr::Null => "NULL".to_string(),
        Expr::AllColumns => "*".to_string(),
    }
}

/// `x` of `CASE WHEN x IS NULL THEN 1 END`, the form `Expr::count_where` gives a null
/// count, which dialects count their cheapest way (`Dialect::count_nulls`).
fn null_test(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Case(cond, then, None) if matches!(then.as_ref(), Expr::Int(1)) => {
            match cond.as_ref() {
                Expr::IsNull(x) => Some(x),
                _ => None,
            }
        }
        _ => None,
    }
}

fn join_parts(d: &dyn Dialect, parts: &[Expr], sep: &str) -> String {
    parts
        .iter()
        .map(|part| match part {
            // keep precedence explicit: every operand of AND/OR that is itself compound
            // gets parentheses
            Expr::And(_) | Expr::Or(_) => format!("({})", print_expr(d, part)),
            _ => print_expr(d, part),
        })
        .collect::<Vec<_>>()
        .join(sep)
}

/// Strip `(p,s)` from a type and collapse whitespace and case: "DECIMAL(18, 3)" -> "decimal".
pub fn base_type(data_type: &str) -> String {
    let lower = data_type.trim().to_ascii_lowercase();
    let base = match lower.find('(') {
        Some(i) => {
            let close = lower[i..]
                .find(')')
                .map(|c| i + c + 1)
                .unwrap_or(lower.len());
            format!("{}{}", &lower[..i], &lower[close..])
        }
        None => lower,
    };
    base.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Numbers inside `(..)` of a type: "varchar(20)" -> [20], "decimal(10,2)" -> [10, 2].
pub fn type_params(data_type: &str) -> Vec<u64> {
    let Some(open) = data_type.find('(') else {
        return Vec::new();
    };
    let Some(close) = data_type[open..].find(')') else {
        return Vec::new();
    };
    data_type[open + 1..open + close]
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect()
}

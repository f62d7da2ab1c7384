//! Validation of SQL the user wrote in a contract (filters, expressions, queries).
//!
//! Three walls, each on its own enough to stop a write:
//! 1. the engine's own lexical rules (`lexer`): no statement separator, no MySQL
//!    executable comment, no call of a function on the engine's refused list, no `INTO`;
//!    comments are removed exactly as the engine would read them, so what sqlparser
//!    validates below and what the engine runs are the same text;
//! 2. sqlparser in the data source's dialect: exactly one expression, or exactly one
//!    read-only SELECT (no DDL or DML anywhere inside, no `SELECT ... INTO`, no row locks);
//! 3. the engine itself: one statement per call (DuckDB's parser counts them, PostgreSQL's
//!    extended protocol and MySQL's prepared statements take only one), read-only
//!    transactions, and DuckDB sessions without external access.

use std::ops::ControlFlow;

use sqlparser::ast::{ObjectName, Query, Select, SetExpr, Statement, Visit, Visitor};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::dialect::Dialect;
use super::lexer::{self, TokenKind};

/// Why SQL a user wrote is refused. The text follows the SQL's name in the contract
/// ("filter of check 3 must be read-only, but ...").
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SqlRefusal {
    #[error("is not valid SQL: {0}")]
    NotSql(String),
    #[error("is not a valid SQL expression: {0}")]
    NotAnExpression(String),
    /// text meant as one expression that is something else (`what` says what)
    #[error("must be a single SQL expression, {what}")]
    NotOneExpression { what: String },
    #[error("is empty: expected one SELECT query")]
    EmptyQuery,
    #[error("must be a read-only SELECT query, found {0}")]
    NotSelect(String),
    #[error("must be a single SELECT query, found {0} statements")]
    Statements(usize),
    #[error("has an executable comment ('/*!' or '/*M!'), which {engine} runs as code")]
    ExecutableComment { engine: &'static str },
    #[error(
        "calls {function}(), which {engine} runs with effects beyond reading the data (files, locks, other sessions or servers, settings, or SQL from a string)"
    )]
    RefusedFunction {
        function: String,
        engine: &'static str,
    },
    /// the SQL would change something (`how` says how)
    #[error("must be read-only, but {how}")]
    Writes { how: String },
    #[error(
        "has a comment whose removal changes how the text around it reads; put spaces around the comment"
    )]
    CommentShifts,
    #[error("is empty once its comments are removed")]
    EmptyWithoutComments,
    /// the engine's lexical rules refuse the text (an unclosed quote, say)
    #[error("{0}")]
    Lexical(String),
    /// a relation the engine reads beyond the data (a file, say), as the dialect says
    #[error("{0}")]
    Relation(String),
}

fn not_one_expression(what: impl Into<String>) -> SqlRefusal {
    SqlRefusal::NotOneExpression { what: what.into() }
}

fn writes(how: impl Into<String>) -> SqlRefusal {
    SqlRefusal::Writes { how: how.into() }
}

/// One SQL expression (a filter, a failed-rows predicate, a metric aggregate). Returns the
/// expression as it will run: comments removed.
pub fn check_expression(dialect: &dyn Dialect, sql: &str) -> Result<String, SqlRefusal> {
    let sql = engine_view(dialect, sql, false)?;
    let pd = dialect.parser_dialect();
    let mut parser = Parser::new(pd.as_ref())
        .try_with_sql(&sql)
        .map_err(|e| SqlRefusal::NotSql(e.to_string()))?;
    let expr = match parser.parse_expr() {
        Ok(e) => e,
        Err(e) => {
            return Err(statement_instead(dialect, &sql)
                .unwrap_or_else(|| SqlRefusal::NotAnExpression(e.to_string())))
        }
    };
    let next = parser.peek_token();
    if next.token != Token::EOF {
        let what = if next.token == Token::SemiColon {
            "a second statement".to_string()
        } else {
            format!("'{}'", next.token)
        };
        return Err(statement_instead(dialect, &sql)
            .unwrap_or_else(|| not_one_expression(format!("but {what} follows it"))));
    }
    read_only(dialect, &expr)?;
    Ok(sql)
}

/// One read-only SELECT (a metric query or a failed-rows query). Returns the query as it
/// will run: comments and a trailing `;` removed.
pub fn check_query(dialect: &dyn Dialect, sql: &str) -> Result<String, SqlRefusal> {
    let sql = engine_view(dialect, sql, true)?;
    let pd = dialect.parser_dialect();
    let statements =
        Parser::parse_sql(pd.as_ref(), &sql).map_err(|e| SqlRefusal::NotSql(e.to_string()))?;
    match statements.as_slice() {
        [] => Err(SqlRefusal::EmptyQuery),
        [one] => {
            if !matches!(one, Statement::Query(_)) {
                return Err(SqlRefusal::NotSelect(statement_kind(one)));
            }
            read_only(dialect, one)?;
            Ok(sql)
        }
        many => Err(SqlRefusal::Statements(many.len())),
    }
}

/// The text as the engine reads it, checked with the engine's own lexical rules: no
/// second statement, no executable comment, no refused function, no INTO. Comments are
/// removed (and a query's one trailing `;`), so nothing is left for sqlparser and the
/// engine to read differently.
fn engine_view(dialect: &dyn Dialect, sql: &str, query: bool) -> Result<String, SqlRefusal> {
    let tokens = lexer::tokenize(&dialect.lexicon(), sql, false)
        .map_err(|e| SqlRefusal::Lexical(e.message))?;
    if tokens
        .iter()
        .any(|t| t.kind == (TokenKind::Comment { executable: true }))
    {
        return Err(SqlRefusal::ExecutableComment {
            engine: dialect.name(),
        });
    }
    let significant: Vec<&lexer::Token> = lexer::significant(&tokens).map(|(_, t)| t).collect();
    let mut keep = tokens.len();
    if let Some(i) = significant
        .iter()
        .position(|t| t.kind == TokenKind::Semicolon)
    {
        let last = i + 1 == significant.len();
        if !query {
            return Err(not_one_expression(if last {
                "without a ';'"
            } else {
                "but ';' and a second statement follow it"
            }));
        }
        if !last {
            // statements as the engine would count them: pieces between separators
            let mut count = 0;
            let mut open = false;
            for t in &significant {
                if t.kind == TokenKind::Semicolon {
                    count += usize::from(open);
                    open = false;
                } else {
                    open = true;
                }
            }
            count += usize::from(open);
            return Err(SqlRefusal::Statements(count.max(2)));
        }
        keep = tokens
            .iter()
            .position(|t| t.start == significant[i].start)
            .unwrap_or(tokens.len());
    }
    let refused = dialect.refused_functions();
    for (name, _) in lexer::function_calls(&tokens[..keep]) {
        if is_refused(refused, &name) {
            return Err(SqlRefusal::RefusedFunction {
                function: name,
                engine: dialect.name(),
            });
        }
    }
    if significant
        .iter()
        .any(|t| matches!(&t.kind, TokenKind::Word { name, quoted: false } if name.eq_ignore_ascii_case("into")))
    {
        return Err(writes(
            "uses INTO (it writes a table, a file or variables)",
        ));
    }
    let text = lexer::without_comments(sql, &tokens[..keep]);
    // the text must read the same without its comments: on MySQL, `--#x` is two minus
    // signs and a comment, but `-- ` with the comment gone is a comment of its own
    let words = |tokens: &[lexer::Token], text: &str| -> Vec<String> {
        lexer::significant(tokens)
            .map(|(_, t)| text[t.start..t.end].to_string())
            .collect()
    };
    let cleaned = lexer::tokenize(&dialect.lexicon(), &text, false)
        .map_err(|e| SqlRefusal::Lexical(e.message))?;
    if words(&cleaned, &text) != words(&tokens[..keep], sql) {
        return Err(SqlRefusal::CommentShifts);
    }
    if text.trim().is_empty() {
        return Err(SqlRefusal::EmptyWithoutComments);
    }
    Ok(text.trim().to_string())
}

/// Does `name` match one of the patterns (`name`, `prefix*`, `*suffix`), ignoring case?
pub fn is_refused(patterns: &[&str], name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    patterns.iter().any(|p| {
        if let Some(prefix) = p.strip_suffix('*') {
            name.starts_with(prefix)
        } else if let Some(suffix) = p.strip_prefix('*') {
            name.ends_with(suffix)
        } else {
            name == *p
        }
    })
}

/// When text meant as an expression is really a statement (`DROP TABLE t`), say so.
fn statement_instead(dialect: &dyn Dialect, sql: &str) -> Option<SqlRefusal> {
    let pd = dialect.parser_dialect();
    let statements = Parser::parse_sql(pd.as_ref(), sql).ok()?;
    let first = statements.first()?;
    Some(not_one_expression(match (statements.len(), first) {
        (1, Statement::Query(_)) => "not a query".to_string(),
        (1, other) => format!("not {}", statement_kind(other)),
        (n, _) => format!("not {n} statements"),
    }))
}

fn read_only<V: Visit>(dialect: &dyn Dialect, node: &V) -> Result<(), SqlRefusal> {
    let mut guard = ReadOnlyGuard { dialect };
    match node.visit(&mut guard) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(why) => Err(why),
    }
}

struct ReadOnlyGuard<'d> {
    dialect: &'d dyn Dialect,
}

impl ReadOnlyGuard<'_> {
    fn relation(&self, parts: Vec<String>) -> ControlFlow<SqlRefusal> {
        match self.dialect.refused_relation(&parts) {
            Some(why) => ControlFlow::Break(SqlRefusal::Relation(why)),
            None => ControlFlow::Continue(()),
        }
    }

    /// `TABLE name` queries, alone or in a set operation, name a table without a FROM.
    fn table_queries(&self, body: &SetExpr) -> ControlFlow<SqlRefusal> {
        match body {
            SetExpr::Table(t) => self.relation(
                [&t.schema_name, &t.table_name]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect(),
            ),
            SetExpr::SetOperation { left, right, .. } => {
                self.table_queries(left)?;
                self.table_queries(right)
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

impl Visitor for ReadOnlyGuard<'_> {
    type Break = SqlRefusal;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<SqlRefusal> {
        match statement {
            Statement::Query(_) => ControlFlow::Continue(()),
            other => ControlFlow::Break(writes(format!("contains {}", statement_kind(other)))),
        }
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<SqlRefusal> {
        if !query.locks.is_empty() {
            return ControlFlow::Break(writes("locks rows (FOR UPDATE/SHARE)"));
        }
        if let SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) =
            query.body.as_ref()
        {
            return ControlFlow::Break(writes("modifies data"));
        }
        self.table_queries(&query.body)
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<SqlRefusal> {
        self.relation(
            relation
                .0
                .iter()
                .map(|part| match part.as_ident() {
                    Some(ident) => ident.value.clone(),
                    None => part.to_string(),
                })
                .collect(),
        )
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<SqlRefusal> {
        if select.into.is_some() {
            return ControlFlow::Break(writes("SELECT ... INTO creates a table"));
        }
        ControlFlow::Continue(())
    }
}

/// The first keywords of a statement, for messages: "a DROP TABLE statement".
fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    let first = words.first().copied().unwrap_or("").to_ascii_uppercase();
    let kind = match first.as_str() {
        "CREATE" | "DROP" | "ALTER" | "TRUNCATE" => words.join(" ").to_ascii_uppercase(),
        _ => first,
    };
    format!("{} {kind} statement", crate::words::article(&kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::duckdb::DuckDbDialect;

    #[test]
    fn expressions_must_be_single_and_read_only() {
        let d = DuckDbDialect;
        assert!(check_expression(&d, "amount > 0 AND status = 'open'").is_ok());
        assert!(check_expression(&d, "avg(amount)").is_ok());
        let e = check_expression(&d, "1 = 1; DROP TABLE orders")
            .unwrap_err()
            .to_string();
        assert!(e.contains("second statement"), "{e}");
        assert!(check_expression(&d, "amount >").is_err());
        assert!(check_expression(&d, "DROP TABLE orders").is_err());
    }

    /// Found by the fuzzer: on MySQL `--#x` is two minus signs and a comment; with the
    /// comment replaced by a space it would read as a `-- ` comment.
    #[test]
    fn comment_removal_never_changes_the_reading() {
        let my = crate::sql::mysql::MySqlDialect;
        let e = check_expression(&my, "1 --#x\n 2 = 3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("removal"), "{e}");
        let e = check_expression(&my, "a --/* x */b = 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("removal"), "{e}");
        // with spaces it is fine, and means the same on both sides
        assert_eq!(check_expression(&my, "1 - - 2 = 3").unwrap(), "1 - - 2 = 3");
        let pg = DuckDbDialect;
        assert_eq!(
            check_expression(&pg, "a -/* x */- 1 = 2").unwrap(),
            "a - - 1 = 2"
        );
    }

    #[test]
    fn queries_must_be_one_select() {
        let d = DuckDbDialect;
        assert!(check_query(&d, "SELECT * FROM orders WHERE amount < 0").is_ok());
        assert!(check_query(&d, "WITH x AS (SELECT 1 AS a) SELECT a FROM x").is_ok());
        let e = check_query(&d, "DELETE FROM orders")
            .unwrap_err()
            .to_string();
        assert!(e.contains("DELETE"), "{e}");
        let e = check_query(&d, "SELECT 1; SELECT 2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 statements"), "{e}");
        let e = check_query(&d, "CREATE TABLE t AS SELECT 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("CREATE TABLE"), "{e}");
        assert!(check_query(&d, "SELECT * INTO t2 FROM orders").is_err());
    }
}

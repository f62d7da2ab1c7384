//! DuckDB's spelling of SQL (also used for the `files` data source).

use super::ast::TableRef;
use super::dialect::{base_type, Dialect};
use super::lexer::Lexicon;

pub struct DuckDbDialect;

impl Dialect for DuckDbDialect {
    fn hex_to_int(&self, hex_expr: &str) -> String {
        format!("CAST('0x' || {hex_expr} AS BIGINT)")
    }

    fn format_date(&self, expr: &str) -> String {
        format!("strftime(CAST({expr} AS DATE), '%Y-%m-%d')")
    }

    fn format_timestamp(&self, expr: &str) -> String {
        // a zoned or nanosecond timestamp cast to TIMESTAMP is its UTC time in micros
        format!("strftime(CAST({expr} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%f')")
    }

    fn format_time(&self, expr: &str) -> String {
        format!("strftime(CAST('1970-01-01' AS DATE) + CAST({expr} AS TIME), '%H:%M:%S.%f')")
    }

    /// a correlated unnest: DuckDB's arrow lambdas are deprecated, and its new ones are
    /// not SQL the user-SQL walls read
    fn any_element(&self, array: &str, var: &str, predicate: &str) -> Option<String> {
        Some(format!(
            "(SELECT count(*) FROM unnest({array}) AS u({var}) WHERE {predicate}) > 0"
        ))
    }

    /// values only: NULL items repeat nothing (as datacontract-cli counts them)
    fn array_repeats(&self, array: &str) -> Option<String> {
        Some(format!(
            "(SELECT count(x) - count(DISTINCT x) FROM unnest({array}) AS u(x)) > 0"
        ))
    }

    /// struct_extract, not `a.b`, which DuckDB may read as column b of a table a
    fn struct_field(&self, expr: &str, field: &str) -> Option<String> {
        Some(format!(
            "struct_extract({expr}, {})",
            self.string_literal(field)
        ))
    }

    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn parser_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::DuckDbDialect {})
    }

    fn lexicon(&self) -> Lexicon {
        Lexicon::DUCKDB
    }

    fn refused_functions(&self) -> &'static [&'static str] {
        &[
            // files: a `files` data source already has each file as a view
            "read_*",
            "parquet_*",
            "sniff_csv",
            "glob",
            "*_scan",
            "*_attach",
            // other databases and servers
            "sqlite_*",
            "postgres_*",
            "mysql_*",
            "iceberg_*",
            "delta_*",
            "*_query",
            "*_execute",
            "http_*",
            // SQL run from a string, out of sight of validation
            "query",
            "query_table",
            "json_execute_serialized_sql",
            "json_deserialize_sql",
            "json_serialize_sql",
            "json_serialize_plan",
            // the process and its settings (paths of the machine, the home folder)
            "getenv",
            "duckdb_settings",
            "current_setting",
            "duckdb_extensions",
            "duckdb_databases",
            "duckdb_temporary_files",
            "duckdb_memory",
            "pragma_*",
            "duckdb_secrets",
            "which_secret",
            "enable_logging",
            "disable_logging",
            "truncate_duckdb_logs",
            "checkpoint",
            "force_checkpoint",
            "load_extension",
            "install_extension",
        ]
    }

    fn regex_match(&self, text_expr: &str, pattern: &str) -> String {
        // regexp_matches is a partial (find-anywhere) match, like Postgres `~`
        format!("regexp_matches({text_expr}, {pattern})")
    }

    fn char_length(&self, text_expr: &str) -> String {
        // length() counts characters; strlen() would count bytes
        format!("length({text_expr})")
    }

    fn count_distinct_tuple(&self, exprs: &[String]) -> String {
        // A ROW value is never NULL even when its fields are, so tuples holding NULLs are
        // counted, and DISTINCT treats NULL fields as equal: NULL counts as a value.
        format!("COUNT(DISTINCT ROW({}))", exprs.join(", "))
    }

    fn columns_query(&self, tables: &[TableRef]) -> Option<String> {
        // pragma_table_info looks up the one table it names (DuckDB resolves the name
        // case-insensitively, as in a query). information_schema.columns and
        // duckdb_columns() bind every view of the system catalog first: ~20 ms on a
        // fresh database, against ~1.5. Rows are (table index, position, name, type,
        // not null): the executor orders them and derives precision and scale from the
        // type's name, since sorting and casting in SQL cost more than the lookup.
        let each: Vec<String> = tables
            .iter()
            .enumerate()
            .map(|(i, table)| {
                let name = self.table(&TableRef::new(table.parts.clone()));
                format!(
                    "SELECT {i} AS i, cid, name, type, \"notnull\" FROM pragma_table_info({})",
                    self.string_literal(&name)
                )
            })
            .collect();
        Some(each.join("\nUNION ALL "))
    }

    fn approx_count_distinct(&self, expr: &str) -> String {
        // HyperLogLog: a few percent off, in constant memory
        format!("approx_count_distinct({expr})")
    }

    fn tables_query(&self) -> String {
        // the database's own catalog only: attached databases are other data sources
        "SELECT table_schema, table_name,\n\
         \x20 CASE WHEN table_type = 'VIEW' THEN 'view' ELSE 'table' END\n\
         FROM information_schema.tables\n\
         WHERE table_catalog = current_database()\n\
         \x20 AND table_schema NOT IN ('information_schema', 'pg_catalog')\n\
         ORDER BY table_schema, table_name"
            .to_string()
    }

    fn same_ident(&self, a: &str, b: &str) -> bool {
        // DuckDB resolves identifiers case-insensitively, quoted or not
        a.eq_ignore_ascii_case(b)
    }

    fn normalize_type(&self, data_type: &str) -> String {
        let base = base_type(data_type);
        let canonical = match base.as_str() {
            "int" | "int4" | "integer" | "signed" => "integer",
            "int8" | "bigint" | "long" => "bigint",
            "int2" | "smallint" | "short" => "smallint",
            "int1" | "tinyint" => "tinyint",
            "int128" | "hugeint" => "hugeint",
            "float4" | "float" | "real" => "real",
            "float8" | "double" | "double precision" => "double",
            "numeric" | "decimal" => "decimal",
            "varchar" | "character varying" | "text" | "string" | "char" | "bpchar"
            | "character" | "nvarchar" => "varchar",
            "bool" | "boolean" | "logical" => "boolean",
            "timestamp" | "datetime" | "timestamp without time zone" => "timestamp",
            "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
            "bytea" | "blob" | "binary" | "varbinary" => "blob",
            other => other,
        };
        canonical.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::ast::{CmpOp, Expr};
    use crate::sql::dialect::print_expr;

    #[test]
    fn aliases_normalise_to_one_name() {
        let d = DuckDbDialect;
        assert_eq!(d.normalize_type("INT4"), d.normalize_type("integer"));
        assert_eq!(d.normalize_type("character varying(20)"), "varchar");
        assert_eq!(
            d.normalize_type("TIMESTAMP WITH TIME ZONE"),
            d.normalize_type("timestamptz")
        );
        assert_eq!(d.normalize_type("DECIMAL(18,3)"), "decimal");
    }

    #[test]
    fn identifiers_with_quotes_are_escaped() {
        let d = DuckDbDialect;
        assert_eq!(d.quote_ident("we\"ird name"), "\"we\"\"ird name\"");
        assert_eq!(d.string_literal("it's"), "'it''s'");
    }

    #[test]
    fn null_counts_read_the_null_flags_and_other_counts_a_case() {
        let d = DuckDbDialect;
        let nulls = Expr::count_where(Expr::IsNull(Box::new(Expr::col("a b"))));
        assert_eq!(print_expr(&d, &nulls), r#"(COUNT(*) - COUNT("a b"))"#);
        let other = Expr::count_where(Expr::Or(vec![
            Expr::IsNull(Box::new(Expr::col("x"))),
            Expr::Cmp(Box::new(Expr::col("x")), CmpOp::Lt, Box::new(Expr::Int(0))),
        ]));
        assert_eq!(
            print_expr(&d, &other),
            r#"COUNT(CASE WHEN "x" IS NULL OR "x" < 0 THEN 1 END)"#
        );
        assert_eq!(
            print_expr(&crate::sql::postgres::PostgresDialect, &nulls),
            r#"COUNT(*) FILTER (WHERE "a b" IS NULL)"#
        );
        // a CASE in another's ELSE prints as further WHENs of one CASE
        let x = || Box::new(Expr::col("x"));
        let cascade = Expr::Case(
            Box::new(Expr::IsNull(x())),
            Box::new(Expr::Null),
            Some(Box::new(Expr::Case(
                Box::new(Expr::Cmp(x(), CmpOp::GtEq, Box::new(Expr::Int(0)))),
                Box::new(Expr::Null),
                Some(Box::new(Expr::Int(1))),
            ))),
        );
        assert_eq!(
            print_expr(&d, &cascade),
            r#"CASE WHEN "x" IS NULL THEN NULL WHEN "x" >= 0 THEN NULL ELSE 1 END"#
        );
    }
}

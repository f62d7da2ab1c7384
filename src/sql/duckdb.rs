//! DuckDB's spelling of SQL (also used for the `files` data source).

use super::ast::TableRef;
use super::dialect::{base_type, Dialect};
use super::lexer::Lexicon;

pub struct DuckDbDialect;

impl Dialect for DuckDbDialect {
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

    fn columns_query(&self, table: &TableRef) -> String {
        let lit = |s: &str| self.string_literal(s);
        let (catalog, schema, name) = match table.parts.as_slice() {
            [c, s, t] => (Some(c.as_str()), s.as_str(), t.as_str()),
            [s, t] => (None, s.as_str(), t.as_str()),
            [t] => (None, "main", t.as_str()),
            _ => (None, "main", table.name()),
        };
        // DuckDB resolves names case-insensitively, so the catalog lookup does too. Its
        // catalog has no datetime precision: the timestamp types carry it in their names.
        let mut sql = format!(
            "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale,\n\
             \x20 COALESCE(datetime_precision, CASE data_type WHEN 'TIMESTAMP_S' THEN 0 \
             WHEN 'TIMESTAMP_MS' THEN 3 WHEN 'TIMESTAMP_NS' THEN 9 \
             WHEN 'TIMESTAMP' THEN 6 WHEN 'TIMESTAMP WITH TIME ZONE' THEN 6 \
             WHEN 'TIME' THEN 6 END),\n\
             \x20 is_nullable\n\
             FROM information_schema.columns\n\
             WHERE lower(table_schema) = lower({}) AND lower(table_name) = lower({})",
            lit(schema),
            lit(name)
        );
        if let Some(c) = catalog {
            sql.push_str(&format!(" AND lower(table_catalog) = lower({})", lit(c)));
        }
        sql.push_str("\nORDER BY ordinal_position");
        sql
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
}

//! MySQL's and MariaDB's spelling of SQL.
//!
//! Their default collations compare text case-insensitively ('Open' = 'open'), which
//! contract semantics do not allow: values compared with a contract's lists and patterns
//! are converted to utf8mb4 and compared under the binary collation.

use super::ast::TableRef;
use super::dialect::{base_type, Dialect};
use super::lexer::Lexicon;

pub struct MySqlDialect;

impl Dialect for MySqlDialect {
    fn md5(&self, text_expr: &str) -> String {
        format!("MD5(CONVERT({text_expr} USING utf8mb4))")
    }

    fn hex_to_int(&self, hex_expr: &str) -> String {
        format!("CAST(CONV({hex_expr}, 16, 10) AS UNSIGNED)")
    }

    fn trim_trailing(&self, text_expr: &str, ch: char) -> String {
        format!("TRIM(TRAILING '{ch}' FROM {text_expr})")
    }

    fn format_date(&self, expr: &str) -> String {
        format!("DATE_FORMAT({expr}, '%Y-%m-%d')")
    }

    fn format_timestamp(&self, expr: &str) -> String {
        format!("DATE_FORMAT({expr}, '%Y-%m-%d %H:%i:%s.%f')")
    }

    fn format_time(&self, expr: &str) -> String {
        format!("TIME_FORMAT({expr}, '%H:%i:%s.%f')")
    }

    fn name(&self) -> &'static str {
        "mysql"
    }

    fn parser_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::MySqlDialect {})
    }

    fn lexicon(&self) -> Lexicon {
        Lexicon::MYSQL
    }

    fn refused_functions(&self) -> &'static [&'static str] {
        &[
            "load_file",
            "sleep",
            "benchmark",
            "get_lock",
            "release_lock",
            "release_all_locks",
            "is_free_lock",
            "is_used_lock",
            "master_pos_wait",
            "source_pos_wait",
            "master_gtid_wait",
            "wait_for_executed_gtid_set",
            "wait_until_sql_thread_after_gtids",
            "nextval",
            "setval",
            "sys_exec",
            "sys_eval",
        ]
    }

    fn quote_ident(&self, ident: &str) -> String {
        format!("`{}`", ident.replace('`', "``"))
    }

    fn string_literal(&self, s: &str) -> String {
        // backslash is an escape character in MySQL string literals (unless the server
        // runs with NO_BACKSLASH_ESCAPES), so a literal backslash is doubled
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
    }

    fn regex_match(&self, text_expr: &str, pattern: &str) -> String {
        // text_expr is already cast to CHAR (utf8mb4): the binary collation makes REGEXP
        // case-sensitive
        format!("({text_expr} COLLATE utf8mb4_bin REGEXP {pattern})")
    }

    fn cast_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS CHAR)")
    }

    fn exact_text(&self, expr: &str) -> String {
        // CAST AS CHAR gives the connection's character set (utf8mb4, set per session),
        // whatever the column's, so the binary collation of utf8mb4 always applies
        format!("CAST({expr} AS CHAR) COLLATE utf8mb4_bin")
    }

    fn count_distinct_tuple(&self, exprs: &[String]) -> String {
        // MySQL's COUNT(DISTINCT a, b) skips every tuple holding a NULL. Each column goes
        // in as two never-NULL parts, "is it NULL" and its exact text, so NULL counts as
        // a value and 'A' is not 'a'.
        let parts: Vec<String> = exprs
            .iter()
            .map(|e| format!("{e} IS NULL, COALESCE({}, '')", self.exact_text(e)))
            .collect();
        format!("COUNT(DISTINCT {})", parts.join(", "))
    }

    fn columns_query(&self, tables: &[TableRef]) -> Option<String> {
        let lit = |s: &str| self.string_literal(s);
        let wanted: Vec<String> = tables
            .iter()
            .map(|table| {
                let schema = match table.parts.as_slice() {
                    [db, _] => lit(db),
                    _ => "DATABASE()".to_string(),
                };
                format!(
                    "TABLE_SCHEMA = {schema} AND TABLE_NAME = {}",
                    lit(table.name())
                )
            })
            .collect();
        let index: Vec<String> = wanted
            .iter()
            .enumerate()
            .map(|(i, w)| format!("WHEN {w} THEN {i}"))
            .collect();
        // equalities on the schema and table name, which the server answers from those
        // tables alone rather than opening every table's definition
        Some(format!(
            "SELECT CASE {} END AS i, COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH,\n\
             \x20 NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, IS_NULLABLE\n\
             FROM information_schema.COLUMNS\n\
             WHERE ({})\n\
             ORDER BY i, ORDINAL_POSITION",
            index.join(" "),
            wanted.join(")\n   OR (")
        ))
    }

    fn try_lock_query(&self, name: &str) -> Option<String> {
        // a named lock of the connection, released when it closes
        Some(format!("SELECT GET_LOCK({}, 0)", self.string_literal(name)))
    }

    fn tables_query(&self) -> String {
        // every database the role can see but the server's own, as dataset paths
        // (database/table) can name any of them
        "SELECT TABLE_SCHEMA, TABLE_NAME,\n\
         \x20 CASE WHEN TABLE_TYPE = 'VIEW' THEN 'view' ELSE 'table' END\n\
         FROM information_schema.TABLES\n\
         WHERE TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')\n\
         ORDER BY TABLE_SCHEMA, TABLE_NAME"
            .to_string()
    }

    fn same_ident(&self, a: &str, b: &str) -> bool {
        // column names are case-insensitive in MySQL
        a.eq_ignore_ascii_case(b)
    }

    fn zoned_timestamp(&self, base: &str) -> bool {
        // TIMESTAMP is stored as an instant and shown in the session's zone
        matches!(
            base,
            "timestamp" | "timestamptz" | "timestamp with time zone"
        )
    }

    fn normalize_type(&self, data_type: &str) -> String {
        let base = base_type(data_type);
        let base = base
            .trim_end_matches(" unsigned")
            .trim_end_matches(" zerofill");
        let canonical = match base {
            "int" | "integer" | "int4" => "integer",
            "int8" | "bigint" => "bigint",
            "int2" | "smallint" => "smallint",
            "int1" | "tinyint" | "bool" | "boolean" => "tinyint",
            "numeric" | "decimal" | "dec" | "fixed" => "decimal",
            "double" | "double precision" | "real" | "float8" => "double",
            "float" | "float4" => "float",
            "varchar" | "character varying" => "varchar",
            "char" | "character" => "char",
            // MySQL's DATETIME has no zone; its TIMESTAMP is stored in UTC and converted
            // to the session's zone, the nearest thing to a zoned timestamp
            "datetime" | "timestamp without time zone" => "datetime",
            "timestamp" | "timestamptz" | "timestamp with time zone" => "timestamp",
            other => other,
        };
        canonical.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_and_backslashes_are_escaped() {
        let d = MySqlDialect;
        assert_eq!(d.quote_ident("we`ird name"), "`we``ird name`");
        assert_eq!(d.string_literal("it's \\d"), "'it''s \\\\d'");
    }

    #[test]
    fn portable_type_names_map_to_mysql_types() {
        let d = MySqlDialect;
        assert_eq!(d.normalize_type("int(11)"), "integer");
        assert_eq!(d.normalize_type("timestamp without time zone"), "datetime");
        assert_eq!(d.normalize_type("timestamptz"), "timestamp");
        assert_eq!(
            d.normalize_type("DECIMAL(10,2)"),
            d.normalize_type("numeric")
        );
        assert_eq!(d.normalize_type("bigint unsigned"), "bigint");
    }
}

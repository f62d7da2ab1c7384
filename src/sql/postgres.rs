//! PostgreSQL's spelling of SQL.

use super::ast::TableRef;
use super::dialect::{base_type, Dialect};
use super::lexer::Lexicon;

pub struct PostgresDialect;

impl Dialect for PostgresDialect {
    fn hex_to_int(&self, hex_expr: &str) -> String {
        format!("CAST(CAST('x' || {hex_expr} AS BIT(60)) AS BIGINT)")
    }

    fn format_date(&self, expr: &str) -> String {
        format!("to_char({expr}, 'YYYY-MM-DD')")
    }

    fn format_timestamp(&self, expr: &str) -> String {
        format!("to_char({expr}, 'YYYY-MM-DD HH24:MI:SS.US')")
    }

    fn format_time(&self, expr: &str) -> String {
        format!("to_char({expr}, 'HH24:MI:SS.US')")
    }

    fn hex_bytes(&self, expr: &str) -> String {
        format!("encode({expr}, 'hex')")
    }

    fn decimal_38_6(&self) -> &'static str {
        "NUMERIC(38,6)"
    }

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn parser_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::PostgreSqlDialect {})
    }

    fn lexicon(&self) -> Lexicon {
        Lexicon::POSTGRES
    }

    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    fn refused_functions(&self) -> &'static [&'static str] {
        &[
            // files and large objects (lo_export writes a file on the server)
            "pg_read_*",
            "pg_stat_file",
            "pg_ls_*",
            "pg_file_*",
            "pg_logdir_ls",
            "lo_*",
            "loread",
            "lowrite",
            // other sessions and the server
            "pg_terminate_backend",
            "pg_cancel_backend",
            "pg_signal_*",
            "pg_reload_conf",
            "pg_rotate_logfile",
            "pg_log_backend_memory_contexts",
            "pg_promote",
            "pg_switch_wal",
            "pg_backup_*",
            "pg_start_backup",
            "pg_stop_backup",
            "pg_wal_replay_*",
            "pg_create_*",
            "pg_drop_*",
            "pg_copy_*",
            "pg_replication_*",
            "pg_logical_*",
            "pg_sync_replication_slots",
            "pg_log_standby_snapshot",
            "pg_export_snapshot",
            "pg_import_system_collations",
            "pg_stat_reset*",
            "pg_stat_statements_reset",
            "pg_prewarm",
            "pg_truncate_visibility_map",
            "brin_summarize_*",
            "brin_desummarize_range",
            "gin_clean_pending_list",
            "binary_upgrade_*",
            // locks, waits, notifications, settings, sequences
            "pg_advisory*",
            "pg_try_advisory*",
            "pg_sleep*",
            "pg_notify",
            "set_config",
            "nextval",
            "setval",
            // other servers
            "dblink*",
            // SQL run from a string, out of sight of validation
            "query_to_xml*",
            "cursor_to_xml*",
        ]
    }

    fn regex_match(&self, text_expr: &str, pattern: &str) -> String {
        // `~` finds the pattern anywhere, case-sensitively
        format!("({text_expr} ~ {pattern})")
    }

    fn count_nulls(&self, expr: &str) -> String {
        // Postgres evaluates a filter before the aggregate's call, where COUNT(*) -
        // COUNT(x) calls count twice per row: 12% slower at 10M rows (scripts/bench)
        format!("COUNT(*) FILTER (WHERE {expr} IS NULL)")
    }

    fn cast_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS TEXT)")
    }

    fn count_distinct_tuple(&self, exprs: &[String]) -> String {
        // a ROW value is never NULL itself, and DISTINCT compares its fields with NULLs
        // equal, so tuples holding NULLs count once each
        format!("COUNT(DISTINCT ROW({}))", exprs.join(", "))
    }

    fn columns_query(&self, tables: &[TableRef]) -> Option<String> {
        let lit = |s: &str| self.string_literal(s);
        let wanted: Vec<String> = tables
            .iter()
            .enumerate()
            .map(|(i, table)| {
                let (schema, name) = match table.parts.as_slice() {
                    [.., s, t] => (s.as_str(), t.as_str()),
                    _ => ("public", table.name()),
                };
                format!("({i}, {}::name, {}::name)", lit(schema), lit(name))
            })
            .collect();
        // pg_catalog rather than information_schema: the latter hides tables the user may
        // not read, which would turn "permission denied" into "not found". Length,
        // precision and scale come from the functions information_schema itself uses.
        Some(format!(
            "SELECT w.i, a.attname, format_type(a.atttypid, NULL),\n\
             \x20 information_schema._pg_char_max_length(a.atttypid, a.atttypmod),\n\
             \x20 information_schema._pg_numeric_precision(a.atttypid, a.atttypmod),\n\
             \x20 information_schema._pg_numeric_scale(a.atttypid, a.atttypmod),\n\
             \x20 information_schema._pg_datetime_precision(a.atttypid, a.atttypmod),\n\
             \x20 NOT a.attnotnull\n\
             FROM (VALUES {}) AS w(i, nspname, relname)\n\
             JOIN pg_catalog.pg_namespace n ON n.nspname = w.nspname\n\
             JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.relname\n\
             \x20 AND c.relkind IN ('r', 'v', 'm', 'f', 'p')\n\
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid\n\
             \x20 AND a.attnum > 0 AND NOT a.attisdropped\n\
             ORDER BY w.i, a.attnum",
            wanted.join(", ")
        ))
    }

    fn try_lock_query(&self, name: &str) -> Option<String> {
        // a session-level advisory lock: held until released or the connection closes
        Some(format!(
            "SELECT pg_try_advisory_lock(hashtext({}))",
            self.string_literal(name)
        ))
    }

    fn tables_query(&self) -> String {
        // pg_catalog, as for columns: information_schema hides what the role may not read
        "SELECT n.nspname, c.relname,\n\
         \x20 CASE WHEN c.relkind IN ('v', 'm') THEN 'view' ELSE 'table' END\n\
         FROM pg_catalog.pg_class c\n\
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n\
         WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p')\n\
         \x20 AND n.nspname NOT IN ('pg_catalog', 'information_schema')\n\
         \x20 AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'\n\
         \x20 AND NOT c.relispartition\n\
         ORDER BY n.nspname, c.relname"
            .to_string()
    }

    fn same_ident(&self, a: &str, b: &str) -> bool {
        // Postgres folds unquoted names to lower case: a contract's `Amount` means the
        // column `amount` when that is how it was created
        a == b || a.to_lowercase() == b || b.to_lowercase() == a
    }

    fn normalize_type(&self, data_type: &str) -> String {
        let base = base_type(data_type);
        let canonical = match base.as_str() {
            "int" | "int4" | "integer" | "serial" | "serial4" => "integer",
            "int8" | "bigint" | "bigserial" | "serial8" => "bigint",
            "int2" | "smallint" | "smallserial" | "serial2" => "smallint",
            "float4" | "real" => "real",
            "float8" | "double" | "double precision" | "float" => "double precision",
            "numeric" | "decimal" => "numeric",
            "varchar" | "character varying" => "character varying",
            "char" | "character" | "bpchar" => "character",
            "bool" | "boolean" => "boolean",
            "timestamp" | "timestamp without time zone" => "timestamp without time zone",
            "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
            "time" | "time without time zone" => "time without time zone",
            "timetz" | "time with time zone" => "time with time zone",
            other => other,
        };
        canonical.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_normalise_and_text_stays_its_own_type() {
        let d = PostgresDialect;
        assert_eq!(d.normalize_type("int4"), d.normalize_type("integer"));
        assert_eq!(d.normalize_type("varchar(20)"), "character varying");
        assert_ne!(d.normalize_type("text"), d.normalize_type("varchar"));
        assert_eq!(d.normalize_type("timestamptz"), "timestamp with time zone");
        assert_eq!(
            d.normalize_type("NUMERIC(10,2)"),
            d.normalize_type("decimal")
        );
    }

    #[test]
    fn unquoted_names_fold_to_lower_case() {
        let d = PostgresDialect;
        assert!(d.same_ident("Amount", "amount"));
        assert!(!d.same_ident("Amount", "AMOUNT"));
        assert!(d.same_ident("Mixed Case", "Mixed Case"));
    }
}

//! Spark SQL's spelling of SQL (Spark 3.4+ and 4.x, through Spark Connect).

use super::ast::TableRef;
use super::dialect::{base_type, Dialect};
use super::lexer::Lexicon;

pub struct SparkDialect;

/// Spark's data source names that read files or other systems, as `name.`path`` reads
/// them in SQL.
const FILE_SOURCES: &[&str] = &[
    "parquet",
    "csv",
    "json",
    "orc",
    "text",
    "avro",
    "binaryfile",
    "xml",
    "delta",
    "iceberg",
    "hudi",
    "libsvm",
    "image",
    "jdbc",
    "kafka",
    "hive",
    "noop",
];

impl Dialect for SparkDialect {
    fn hex_to_int(&self, hex_expr: &str) -> String {
        // a sum of BIGINTs wraps on Spark: DECIMAL(38,0) sums exactly
        format!("CAST(conv({hex_expr}, 16, 10) AS DECIMAL(38,0))")
    }

    fn trim_trailing(&self, text_expr: &str, ch: char) -> String {
        format!("TRIM(TRAILING '{ch}' FROM {text_expr})")
    }

    fn format_date(&self, expr: &str) -> String {
        format!("date_format({expr}, 'yyyy-MM-dd')")
    }

    fn format_timestamp(&self, expr: &str) -> String {
        format!("date_format({expr}, 'yyyy-MM-dd HH:mm:ss.SSSSSS')")
    }

    fn format_time(&self, expr: &str) -> String {
        format!("date_format({expr}, 'HH:mm:ss.SSSSSS')")
    }

    fn any_element(&self, array: &str, var: &str, predicate: &str) -> Option<String> {
        Some(format!("exists({array}, {var} -> {predicate})"))
    }

    /// values only: NULL items repeat nothing
    fn array_repeats(&self, array: &str) -> Option<String> {
        let values = format!("filter({array}, x -> x IS NOT NULL)");
        Some(format!("size(array_distinct({values})) < size({values})"))
    }

    fn struct_field(&self, expr: &str, field: &str) -> Option<String> {
        Some(format!("{expr}.{}", self.quote_ident(field)))
    }

    fn name(&self) -> &'static str {
        "spark"
    }

    fn parser_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::DatabricksDialect {})
    }

    fn lexicon(&self) -> Lexicon {
        Lexicon::SPARK
    }

    fn refused_functions(&self) -> &'static [&'static str] {
        &[
            // any Java method by name: a way out of SQL into the JVM
            "reflect",
            "java_method",
            "try_reflect",
            // reading files the contract names, beside the tables it verifies
            "read_files",
            "input_file_name",
            "input_file_block_*",
            // time: a query that waits holds cluster slots
            "sleep",
            // a table name from a string, seen by no check of names
            "identifier",
            // XML parsers, and their external entities
            "xpath*",
            "from_xml",
            "schema_of_xml",
        ]
    }

    fn refused_relation(&self, parts: &[String]) -> Option<String> {
        // Spark reads `format.`path`` as the file at path (any data source name or class
        // as the format); a contract names tables, never files
        let (last, qualifiers) = parts.split_last()?;
        let format = qualifiers
            .iter()
            .find(|q| q.contains('.') || FILE_SOURCES.contains(&q.to_ascii_lowercase().as_str()));
        if format.is_some() || last.contains(['/', ':', '\\']) {
            return Some(format!(
                "reads {} as a file: user SQL on spark names tables only",
                parts.join(".")
            ));
        }
        None
    }

    fn same_ident(&self, a: &str, b: &str) -> bool {
        // Spark resolves column names case-insensitively (spark.sql.caseSensitive=false,
        // its default)
        a.eq_ignore_ascii_case(b)
    }

    fn quote_ident(&self, ident: &str) -> String {
        format!("`{}`", ident.replace('`', "``"))
    }

    fn string_literal(&self, s: &str) -> String {
        // a backslash escapes in Spark's string literals: each is doubled, and the
        // quote is escaped with one
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }

    fn regex_match(&self, text_expr: &str, pattern: &str) -> String {
        // RLIKE finds a Java regex anywhere in the value, case-sensitively
        format!("({text_expr} RLIKE {pattern})")
    }

    fn cast_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS STRING)")
    }

    fn count_distinct_tuple(&self, exprs: &[String]) -> String {
        // COUNT(DISTINCT a, b) skips tuples holding a NULL; a struct is never NULL itself
        // and DISTINCT compares its fields with NULLs equal
        let fields: Vec<String> = exprs
            .iter()
            .enumerate()
            .map(|(i, e)| format!("'c{i}', {e}"))
            .collect();
        format!("COUNT(DISTINCT named_struct({}))", fields.join(", "))
    }

    fn approx_count_distinct(&self, expr: &str) -> String {
        format!("approx_count_distinct({expr})")
    }

    fn columns_query(&self, _tables: &[TableRef]) -> Option<String> {
        // Spark has no information_schema; its client asks for the tables' schema
        None
    }

    fn tables_query(&self) -> String {
        // (namespace, tableName, isTemporary) of the current namespace; the executor
        // asks each namespace in turn
        "SHOW TABLES".to_string()
    }

    fn zoned_timestamp(&self, base: &str) -> bool {
        // TIMESTAMP is TIMESTAMP_LTZ unless the session says otherwise
        matches!(
            base,
            "timestamp" | "timestamp_ltz" | "timestamptz" | "timestamp with time zone"
        )
    }

    fn normalize_type(&self, data_type: &str) -> String {
        let base = base_type(data_type);
        let canonical = match base.as_str() {
            "string" | "varchar" | "char" | "text" | "character varying" => "string",
            "int" | "integer" | "int4" => "integer",
            "bigint" | "long" | "int8" => "bigint",
            "smallint" | "short" | "int2" => "smallint",
            "tinyint" | "byte" => "tinyint",
            "boolean" | "bool" => "boolean",
            "double" | "double precision" | "float8" => "double",
            "float" | "real" | "float4" => "float",
            "decimal" | "numeric" | "dec" => "decimal",
            // Spark's TIMESTAMP is an instant (shown in the session's zone, UTC here);
            // TIMESTAMP_NTZ has no zone
            "timestamp" | "timestamp_ltz" | "timestamptz" | "timestamp with time zone" => {
                "timestamp"
            }
            "timestamp_ntz" | "timestamp without time zone" | "datetime" => "timestamp_ntz",
            other => return other.to_string(),
        };
        canonical.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{tokenize, TokenKind};

    #[test]
    fn names_and_strings_are_escaped_as_spark_reads_them() {
        let d = SparkDialect;
        assert_eq!(d.quote_ident("we`ird name"), "`we``ird name`");
        assert_eq!(d.string_literal("it's \\d"), "'it\\'s \\\\d'");
        assert_eq!(
            d.count_distinct_tuple(&["a".into(), "b".into()]),
            "COUNT(DISTINCT named_struct('c0', a, 'c1', b))"
        );
    }

    #[test]
    fn type_aliases_compare_equal() {
        let d = SparkDialect;
        assert_eq!(d.normalize_type("VARCHAR(20)"), d.normalize_type("string"));
        assert_eq!(d.normalize_type("decimal(10,2)"), "decimal");
        assert_eq!(d.normalize_type("long"), "bigint");
        assert_eq!(d.normalize_type("timestamp_ntz"), "timestamp_ntz");
        assert_ne!(
            d.normalize_type("timestamp"),
            d.normalize_type("timestamp_ntz")
        );
    }

    #[test]
    fn raw_strings_end_at_their_quote_whatever_backslashes_they_hold() {
        let lex = SparkDialect.lexicon();
        // r'\' is one backslash; what follows is code, and must be seen as code
        let text = r"SELECT r'\' ; DROP TABLE t --'";
        let tokens = tokenize(&lex, text, false).unwrap();
        assert!(
            tokens.iter().any(|t| t.kind == TokenKind::Semicolon),
            "the semicolon after a raw string is code: {tokens:?}"
        );
        // an ordinary string: the backslash escapes the quote, so the string goes on
        let text = r"SELECT '\' ; DROP TABLE t --'";
        let tokens = tokenize(&lex, text, false).unwrap();
        assert!(
            !tokens.iter().any(|t| t.kind == TokenKind::Semicolon),
            "{tokens:?}"
        );
        // `r` inside a word is no raw string
        let tokens = tokenize(&lex, "SELECT bar'x'", false).unwrap();
        assert!(tokens
            .iter()
            .any(|t| matches!(&t.kind, TokenKind::Word { name, .. } if name == "bar")));
        // nested block comments, double-quoted strings, backtick names
        let tokens = tokenize(&lex, "/* a /* b */ c */ SELECT \"s\", `n`", false).unwrap();
        assert!(matches!(tokens[0].kind, TokenKind::Comment { .. }));
        assert_eq!(tokens[0].end, 17);
        assert!(tokens
            .iter()
            .any(|t| matches!(&t.kind, TokenKind::Word { name, quoted: true } if name == "n")));
        assert!(tokenize(&lex, "SELECT r'never closed", false).is_err());
    }

    #[test]
    fn user_sql_is_one_read_only_select_on_spark_too() {
        use crate::sql::user_sql::check_query;
        let d = SparkDialect;
        if let Err(e) = check_query(&d, "SELECT id FROM t WHERE name RLIKE '^a'") {
            panic!("{e}");
        }
        // the SQL parser of the second wall reads no raw strings: refused, the safe way
        assert!(check_query(&d, r"SELECT id FROM t WHERE note = r'\'").is_err());
        for bad in [
            r"SELECT r'\' ; DROP TABLE t",
            "DROP TABLE t",
            "INSERT INTO t SELECT 1",
            "SELECT reflect('java.lang.Runtime', 'getRuntime')",
            "SELECT java_method('java.lang.System', 'exit', 0)",
            "SELECT * FROM read_files('/etc/passwd')",
            "SELECT 1; SELECT 2",
        ] {
            assert!(check_query(&d, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_sql_names_tables_never_files() {
        use crate::sql::user_sql::{check_expression, check_query};
        let d = SparkDialect;
        for ok in [
            "SELECT count(*) FROM sales.orders",
            "SELECT count(*) FROM spark_catalog.sales.orders o JOIN sales.items i ON o.id = i.id",
        ] {
            if let Err(e) = check_query(&d, ok) {
                panic!("{ok}: {e}");
            }
        }
        for bad in [
            "SELECT * FROM csv.`/etc/passwd`",
            "SELECT * FROM `parquet`.`s3a://other-bucket/x`",
            "SELECT * FROM TEXT.`passwd`",
            "SELECT * FROM `org.apache.spark.sql.execution.datasources.v2.csv.CSVDataSourceV2`.`x`",
            "SELECT * FROM sales.orders WHERE id IN (SELECT id FROM json.`/tmp/x.json`)",
            "SELECT 1 FROM sales.orders UNION ALL SELECT 1 FROM orc.`/data`",
            "WITH f AS (SELECT * FROM binaryFile.`/etc`) SELECT count(*) FROM f",
            "SELECT * FROM IDENTIFIER('csv.`/etc/passwd`')",
            "SELECT xpath_string('<a/>', 'a')",
        ] {
            let err = check_query(&d, bad).expect_err(bad).to_string();
            assert!(
                err.contains("file") || err.contains("calls"),
                "{bad}: {err}"
            );
        }
        // `TABLE x` is refused whatever it names (the parser reads no such query)
        for bad in [
            "TABLE csv.`/etc/passwd`",
            "SELECT 1 UNION TABLE text.`/etc/passwd`",
        ] {
            assert!(check_query(&d, bad).is_err(), "{bad}");
        }
        for bad in [
            "id IN (SELECT id FROM csv.`/etc/passwd`)",
            "EXISTS (SELECT 1 FROM hive.`/warehouse/t`)",
        ] {
            assert!(check_expression(&d, bad).is_err(), "{bad}");
        }
    }
}

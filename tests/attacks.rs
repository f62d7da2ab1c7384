//! Contracts are untrusted input: anyone who can open a pull request can write one, and it
//! runs inside production databases. Each attack here is tried on every engine it applies
//! to, and must end one of two ways: refused before anything runs (exit 2, a message
//! naming the file and position), or run with nothing changed (rows, files, large objects,
//! other sessions) and nothing leaked (outputs, logs, results).

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::engines::{admin, admin_number, sql_engines, Engine, Sandbox};
use common::Run;

/// Where in a contract a piece of SQL goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    DatasetFilter,
    CheckFilter,
    FailedRowsExpression,
    MetricExpression,
    MetricQuery,
    FailedRowsQuery,
    ColumnExpression,
    CheckColumnExpression,
    RowsTestedQuery,
    KeysQuery,
    /// a reconciliation's source filter: user SQL the source's engine runs
    SourceFilter,
    /// a reconciliation check's filter, which both sides run
    ReconCheckFilter,
    /// a metric_diff's source_expression and source_query
    SourceExpression,
    SourceQuery,
}

const EXPRESSION_PLACES: [Place; 9] = [
    Place::DatasetFilter,
    Place::CheckFilter,
    Place::FailedRowsExpression,
    Place::MetricExpression,
    Place::ColumnExpression,
    Place::CheckColumnExpression,
    Place::SourceFilter,
    Place::ReconCheckFilter,
    Place::SourceExpression,
];
const QUERY_PLACES: [Place; 5] = [
    Place::MetricQuery,
    Place::FailedRowsQuery,
    Place::RowsTestedQuery,
    Place::KeysQuery,
    Place::SourceQuery,
];

pub(crate) fn yaml_string(s: &str) -> String {
    // a JSON string is a YAML double-quoted scalar
    serde_json::to_string(s).unwrap()
}

fn contract(sb: &Sandbox, place: Place, sql: &str) -> String {
    let dataset = format!("dataset: {}/victim\n", sb.dataset_prefix());
    // a reconciliation's source: the same table, read as another dataset would be
    let source = format!("{}/victim", sb.dataset_prefix());
    let sql = yaml_string(sql);
    match place {
        Place::DatasetFilter => format!("{dataset}filter: {sql}\nchecks:\n  - row_count:\n"),
        Place::CheckFilter => format!("{dataset}checks:\n  - row_count: {{filter: {sql}}}\n"),
        Place::FailedRowsExpression => {
            format!("{dataset}checks:\n  - failed_rows: {{expression: {sql}}}\n")
        }
        Place::MetricExpression => format!(
            "{dataset}checks:\n  - metric: {{expression: {sql}, threshold: {{must_be_greater_than: -1}}}}\n"
        ),
        Place::MetricQuery => format!(
            "{dataset}checks:\n  - metric: {{query: {sql}, threshold: {{must_be_greater_than: -1}}}}\n"
        ),
        Place::FailedRowsQuery => format!("{dataset}checks:\n  - failed_rows: {{query: {sql}}}\n"),
        Place::ColumnExpression => format!(
            "{dataset}columns:\n  - name: id\n    column_expression: {sql}\n    checks:\n      - missing:\n"
        ),
        Place::CheckColumnExpression => format!(
            "{dataset}columns:\n  - name: id\n    checks:\n      - duplicate: {{column_expression: {sql}}}\n"
        ),
        Place::RowsTestedQuery => format!(
            "{dataset}checks:\n  - failed_rows: {{query: 'SELECT 1', rows_tested_query: {sql}}}\n"
        ),
        Place::KeysQuery => format!("{dataset}checks:\n  - failed_rows: {{keys_query: {sql}}}\n"),
        Place::SourceFilter => format!(
            "{dataset}reconciliation:\n  source: {{dataset: {source}, filter: {sql}}}\n  checks:\n    - row_count_diff:\n"
        ),
        Place::ReconCheckFilter => format!(
            "{dataset}reconciliation:\n  source: {{dataset: {source}}}\n  checks:\n    - row_count_diff: {{filter: {sql}}}\n"
        ),
        Place::SourceExpression => format!(
            "{dataset}reconciliation:\n  source: {{dataset: {source}}}\n  checks:\n    - metric_diff: {{source_expression: {sql}, target_expression: COUNT(*)}}\n"
        ),
        Place::SourceQuery => format!(
            "{dataset}reconciliation:\n  source: {{dataset: {source}}}\n  checks:\n    - metric_diff: {{source_query: {sql}, target_expression: COUNT(*)}}\n"
        ),
    }
}

/// What must not change, whatever a contract does.
#[derive(Debug, PartialEq, Eq)]
struct State {
    victim_rows: i64,
    other_db_rows: i64,
    files: BTreeSet<String>,
    large_objects: i64,
}

fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in walk(dir) {
        let rel = entry
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // what assay itself keeps (the default diagnostics store) and what the test writes
        if rel.starts_with(".assay") || rel == "contract.yml" || rel.ends_with(".wal") {
            continue;
        }
        out.insert(rel);
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

fn duckdb_count(path: &Path, table: &str) -> i64 {
    let conn = duckdb::Connection::open(path).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn state(sb: &Sandbox) -> State {
    let dir = sb.project.path();
    let victim = format!("SELECT count(*) FROM {}", sb.qualified("victim"));
    let victim_rows = match sb.engine {
        Engine::DuckDb => duckdb_count(&dir.join("db.duckdb"), "victim"),
        e => admin_number(e, &victim),
    };
    State {
        victim_rows,
        other_db_rows: duckdb_count(&dir.join("other.duckdb"), "t"),
        files: files_under(dir),
        large_objects: match sb.engine {
            Engine::Postgres => admin_number(
                Engine::Postgres,
                "SELECT count(*)::bigint FROM pg_largeobject_metadata",
            ),
            _ => 0,
        },
    }
}

const SECRET_FILE_TEXT: &str = "Top-Secret-File-Content-6617";

fn sandbox(engine: Engine) -> Sandbox {
    let sb = Sandbox::new(engine);
    sb.run(&[
        format!(
            "CREATE TABLE {} (id INTEGER, note VARCHAR(100))",
            sb.qualified("victim")
        ),
        format!(
            "INSERT INTO {} VALUES (1, 'a'), (2, 'b'), (3, 'c')",
            sb.qualified("victim")
        ),
    ]);
    {
        let other = duckdb::Connection::open(sb.project.path().join("other.duckdb")).unwrap();
        other
            .execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2);")
            .unwrap();
    }
    sb.project.write("secret.txt", SECRET_FILE_TEXT);
    sb.project
        .write("secret.csv", &format!("x\n{SECRET_FILE_TEXT}\n"));
    sb
}

fn run_contract(sb: &Sandbox, text: &str, extra: &[&str]) -> Run {
    sb.project.write("contract.yml", text);
    let mut args = vec!["verify", "contract.yml", "-o", "json", "-vv"];
    args.extend_from_slice(extra);
    sb.project.assay(&args)
}

/// An attack refused before anything ran: exit 2, at a position in the contract, saying why.
fn assert_refused(run: &Run, why: &[&str], what: &str) {
    assert_eq!(
        run.code, 2,
        "not refused: {what}\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("contract.yml:"),
        "no position for {what}:\n{}",
        run.stderr
    );
    assert!(
        why.iter().any(|w| run.stderr.contains(w)),
        "refused without saying why ({why:?}) for {what}:\n{}",
        run.stderr
    );
}

fn assert_nothing_leaked(run: &Run, what: &str) {
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains(SECRET_FILE_TEXT),
            "file content leaked by {what}:\n{text}"
        );
        assert!(!text.contains("root:x:0:0"), "/etc/passwd leaked by {what}");
    }
}

/// Why an attack is refused, as the message says it.
const SECOND_STATEMENT: &[&str] = &["statement", "';'"];
const REFUSED_FUNCTION: &[&str] = &["calls"];
const EXECUTABLE_COMMENT: &[&str] = &["executable comment"];
const NOT_READ_ONLY: &[&str] = &["read-only", "INTO", "SELECT", "not valid SQL", "statement"];

/// SQL meant as an expression that tries to run a second statement, for every engine.
const SMUGGLED_EXPRESSIONS: &[&str] = &[
    "1 = 1 /* /* */ -- */ ; ATTACH 'other.duckdb' AS w; DELETE FROM w.main.t; SELECT 1",
    "1 = 1; DELETE FROM victim",
    "1 = 1 -- \n; DROP TABLE victim",
    "1 = 1 /* */ ; COPY victim TO 'out.csv'",
    "1 = 1 /**/;/**/ CREATE TABLE made_by_attack(a INTEGER)",
    "1 = 1 ;",
    "(SELECT 1) = 1; DROP TABLE victim",
    "id > 0 /* a /* nested */ comment */ ; DELETE FROM victim",
    "id > 0 ;; DELETE FROM victim",
    "id > 0\n;\nTRUNCATE victim",
];

/// Whole statements where a query goes, for every engine.
const SMUGGLED_QUERIES: &[&str] = &[
    "SELECT 1; DELETE FROM victim",
    "SELECT 1 /* /* */ -- */ ; DELETE FROM victim; SELECT 1",
    "SELECT count(*) FROM victim; DROP TABLE victim;",
    "DELETE FROM victim",
    "UPDATE victim SET note = 'x'",
    "INSERT INTO victim VALUES (9, 'x')",
    "DROP TABLE victim",
    "TRUNCATE TABLE victim",
    "CREATE TABLE made_by_attack AS SELECT * FROM victim",
    "SELECT * INTO made_by_attack FROM victim",
    "ALTER TABLE victim ADD COLUMN x INTEGER",
    "GRANT SELECT ON victim TO PUBLIC",
    "WITH d AS (DELETE FROM victim RETURNING *) SELECT count(*) FROM d",
    "SELECT * FROM victim FOR UPDATE",
];

/// DuckDB's own statements that reach outside the database.
const DUCKDB_STATEMENTS: &[&str] = &[
    "ATTACH 'other.duckdb' AS w",
    "COPY victim TO 'copied.csv'",
    "COPY (SELECT 1) TO 'copied.csv'",
    "EXPORT DATABASE 'exported'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "PRAGMA enable_profiling",
    "CALL enable_logging()",
    "DETACH db",
    "CHECKPOINT",
    "SELECT 1 /* /* */ -- */ ; ATTACH '.assay/diagnostics.duckdb' AS d; SELECT 1",
];

/// DuckDB functions that read files, reach servers or run SQL from a string.
const DUCKDB_FUNCTIONS: &[&str] = &[
    "length(read_text('secret.txt')) > 0",
    "(SELECT count(*) FROM read_text('/etc/passwd')) > 0",
    "(SELECT count(*) FROM read_blob('secret.txt')) > 0",
    "(SELECT count(*) FROM read_csv('secret.csv')) > 0",
    "(SELECT count(*) FROM read_csv_auto('secret.csv')) > 0",
    "(SELECT count(*) FROM read_parquet('x.parquet')) > 0",
    "(SELECT count(*) FROM parquet_scan('x.parquet')) > 0",
    "(SELECT count(*) FROM read_json_auto('x.json')) > 0",
    "(SELECT count(*) FROM glob('*')) > 0",
    "(SELECT count(*) FROM query('DELETE FROM victim')) > 0",
    "(SELECT count(*) FROM query_table('victim')) > 0",
    "getenv('HOME') IS NOT NULL",
    "(SELECT count(*) FROM sqlite_scan('x.db', 't')) > 0",
    "(SELECT count(*) FROM postgres_scan('', 'public', 't')) > 0",
    "\"read_text\"('secret.txt') IS NOT NULL",
    "READ_TEXT ('secret.txt') IS NOT NULL",
    "read_text /* hidden */ ('secret.txt') IS NOT NULL",
    "(SELECT count(*) FROM sniff_csv('secret.csv')) > 0",
];

/// PostgreSQL functions a read-only transaction does not stop.
const POSTGRES_FUNCTIONS: &[&str] = &[
    "length(pg_read_file('/etc/passwd')) > 0",
    "length(pg_read_binary_file('/etc/passwd')) > 0",
    "(SELECT count(*) FROM pg_ls_dir('.')) > 0",
    "(pg_stat_file('postgresql.conf')).size > 0",
    "lo_from_bytea(0, 'x') > 0",
    "lo_import('/etc/passwd') > 0",
    "lo_export(1, '/tmp/assay_attack') > 0",
    "lo_create(0) > 0",
    "lowrite(0, 'x') > 0",
    "pg_terminate_backend(pg_backend_pid())",
    "pg_cancel_backend(1)",
    "pg_reload_conf()",
    "pg_rotate_logfile()",
    "pg_stat_reset() IS NULL",
    "pg_stat_reset_shared('bgwriter') IS NULL",
    "pg_advisory_lock(1) IS NULL",
    "pg_try_advisory_lock(1)",
    "pg_advisory_xact_lock(1) IS NULL",
    "pg_sleep(30) IS NULL",
    "pg_sleep_for('30 seconds') IS NULL",
    "set_config('statement_timeout', '0', false) IS NOT NULL",
    "nextval('victim_seq') > 0",
    "setval('victim_seq', 1) > 0",
    "pg_notify('c', 'x') IS NULL",
    "(SELECT count(*) FROM dblink('dbname=test', 'DELETE FROM victim') AS t(x text)) > 0",
    "dblink_exec('dbname=test', 'DELETE FROM victim') IS NOT NULL",
    "query_to_xml('DELETE FROM victim', true, false, '') IS NOT NULL",
    "pg_catalog.pg_read_file('/etc/passwd') IS NOT NULL",
    "\"pg_read_file\"('/etc/passwd') IS NOT NULL",
    "PG_READ_FILE ('/etc/passwd') IS NOT NULL",
    "pg_read_file /* hidden */ ('/etc/passwd') IS NOT NULL",
    "pg_create_restore_point('x') IS NOT NULL",
    "pg_switch_wal() IS NOT NULL",
    "pg_logical_emit_message(true, 'a', 'b') IS NOT NULL",
    "pg_export_snapshot() IS NOT NULL",
];

/// MySQL/MariaDB functions that sleep, lock or read files.
const MYSQL_FUNCTIONS: &[&str] = &[
    "SLEEP(30) = 0",
    "sleep (30) = 0",
    "BENCHMARK(1000000000, MD5('a')) = 0",
    "GET_LOCK('assay', 10) = 1",
    "RELEASE_LOCK('assay') = 1",
    "IS_FREE_LOCK('assay') = 1",
    "LENGTH(LOAD_FILE('/etc/passwd')) > 0",
    "LENGTH(`load_file`('/etc/passwd')) > 0",
    "MASTER_POS_WAIT('x', 1) = 0",
    "NEXTVAL(victim_seq) > 0",
    "SETVAL(victim_seq, 1) > 0",
    "sys_exec('id') = 0",
];

/// MariaDB runs executable comments as code.
const MYSQL_EXECUTABLE_COMMENTS: &[&str] = &[
    "SELECT 'owned' /*M! INTO DUMPFILE 'owned.txt' */",
    "SELECT 'owned' /*! INTO OUTFILE 'owned.txt' */",
    "SELECT 1 /*!50000 , LOAD_FILE('/etc/passwd') */",
    "SELECT 1 /*M!100000 ; DELETE FROM victim */",
    "SELECT count(*) FROM victim /*!99999 WHERE SLEEP(30) = 0 */",
];

/// MySQL's own ways of writing out of a SELECT.
const MYSQL_INTO: &[&str] = &[
    "SELECT 'owned' INTO DUMPFILE 'owned.txt'",
    "SELECT note FROM victim INTO OUTFILE 'owned.csv'",
    "SELECT 1 INTO @x",
    "SELECT 1 # ; DELETE FROM victim\n; DELETE FROM victim",
];

/// Spark functions that reach the JVM, read files, parse XML or take a name from a string.
#[cfg(feature = "spark")]
const SPARK_FUNCTIONS: &[&str] = &[
    "reflect('java.lang.Runtime', 'getRuntime') IS NOT NULL",
    "java_method('java.lang.System', 'getProperty', 'user.home') IS NOT NULL",
    "try_reflect('java.lang.Thread', 'sleep', 30000L) IS NULL",
    "`reflect`('java.lang.Runtime', 'getRuntime') IS NOT NULL",
    "REFLECT ('java.lang.Runtime', 'getRuntime') IS NOT NULL",
    "reflect /* hidden */ ('java.lang.Runtime', 'getRuntime') IS NOT NULL",
    "(SELECT count(*) FROM read_files('secret.csv')) > 0",
    "input_file_name() <> ''",
    "input_file_block_start() >= 0",
    "(SELECT count(*) FROM IDENTIFIER('csv.`secret.csv`')) > 0",
    "xpath_string('<!DOCTYPE a [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><a>&e;</a>', 'a') <> ''",
    "from_xml('<a/>', 'a STRING') IS NOT NULL",
];

/// Spark reads a file named where a table goes: `format.`path``.
#[cfg(feature = "spark")]
const SPARK_FILE_READS: &[&str] = &[
    "SELECT count(*) FROM csv.`secret.csv`",
    "SELECT count(*) FROM text.`/etc/passwd`",
    "SELECT count(*) FROM `json`.`secret.csv`",
    "SELECT count(*) FROM binaryFile.`/etc`",
    "SELECT count(*) FROM `org.apache.spark.sql.execution.datasources.csv.CSVFileFormat`.`/etc/passwd`",
    "SELECT 1 FROM victim WHERE id IN (SELECT 1 FROM csv.`/etc/passwd`)",
    "SELECT count(*) FROM victim UNION ALL SELECT count(*) FROM parquet.`/tmp`",
];

/// Spark's own statements.
#[cfg(feature = "spark")]
const SPARK_STATEMENTS: &[&str] = &[
    "SET spark.sql.ansi.enabled = false",
    "ADD JAR '/tmp/x.jar'",
    "CACHE TABLE victim",
    "INSERT OVERWRITE DIRECTORY '/tmp/x' SELECT * FROM victim",
    "CREATE TEMPORARY VIEW v AS SELECT * FROM csv.`/etc/passwd`",
    "LOAD DATA LOCAL INPATH '/etc/passwd' INTO TABLE victim",
    "MSCK REPAIR TABLE victim",
    "REFRESH TABLE victim",
    "EXECUTE IMMEDIATE 'DROP TABLE victim'",
    "DECLARE VARIABLE x INT",
    "USE other",
    "TABLE text.`/etc/passwd`",
];

#[test]
fn contract_sql_that_escapes_is_refused_on_every_engine() {
    let mut distinct: BTreeSet<String> = BTreeSet::new();
    for engine in sql_engines() {
        let sb = sandbox(engine);
        let before = state(&sb);
        let mut cases: Vec<(Place, &str, &[&str])> = Vec::new();
        for sql in SMUGGLED_EXPRESSIONS {
            for place in EXPRESSION_PLACES {
                cases.push((place, sql, SECOND_STATEMENT));
            }
        }
        for sql in SMUGGLED_QUERIES {
            for place in QUERY_PLACES {
                cases.push((place, sql, NOT_READ_ONLY));
            }
        }
        let functions: &[&str] = match engine {
            Engine::DuckDb => DUCKDB_FUNCTIONS,
            Engine::Postgres => POSTGRES_FUNCTIONS,
            Engine::MySql => MYSQL_FUNCTIONS,
            #[cfg(feature = "spark")]
            Engine::Spark => SPARK_FUNCTIONS,
        };
        for sql in functions {
            cases.push((Place::FailedRowsExpression, sql, REFUSED_FUNCTION));
            cases.push((Place::DatasetFilter, sql, REFUSED_FUNCTION));
            cases.push((Place::SourceFilter, sql, REFUSED_FUNCTION));
        }
        match engine {
            Engine::DuckDb => {
                for sql in DUCKDB_STATEMENTS {
                    cases.push((Place::MetricQuery, sql, NOT_READ_ONLY));
                }
            }
            Engine::MySql => {
                for sql in MYSQL_EXECUTABLE_COMMENTS {
                    cases.push((Place::MetricQuery, sql, EXECUTABLE_COMMENT));
                    cases.push((Place::FailedRowsQuery, sql, EXECUTABLE_COMMENT));
                }
                for sql in MYSQL_INTO {
                    cases.push((Place::MetricQuery, sql, NOT_READ_ONLY));
                }
            }
            Engine::Postgres => {}
            #[cfg(feature = "spark")]
            Engine::Spark => {
                for sql in SPARK_FILE_READS {
                    for place in [Place::MetricQuery, Place::FailedRowsQuery, Place::KeysQuery] {
                        cases.push((place, sql, &["file"]));
                    }
                    if sql.starts_with("SELECT") {
                        let expression = format!("EXISTS ({sql})");
                        let expression: &'static str = Box::leak(expression.into_boxed_str());
                        cases.push((Place::DatasetFilter, expression, &["file"]));
                        cases.push((Place::CheckFilter, expression, &["file"]));
                    }
                }
                for sql in SPARK_STATEMENTS {
                    cases.push((Place::MetricQuery, sql, NOT_READ_ONLY));
                }
            }
        }
        for (place, sql, why) in &cases {
            let text = contract(&sb, *place, sql);
            let run = run_contract(&sb, &text, &[]);
            let what = format!("{} {place:?}: {sql}", engine.name());
            if engine == Engine::MySql && sql.contains("/* /* */ -- */") {
                // MySQL does not nest comments: `/* /* */` ends one and `-- ` comments out
                // the rest of the line, attack included, so it runs as plain `1 = 1`
                assert_ne!(run.code, 2, "{what}: {}", run.stderr);
                assert_eq!(state(&sb), before, "{what} changed something");
            } else {
                assert_refused(&run, why, &what);
            }
            assert_nothing_leaked(&run, &what);
            distinct.insert(format!("{}|{text}", engine.name()));
        }
        assert_eq!(state(&sb), before, "{} changed", engine.name());
    }
    eprintln!("{} distinct attacking contracts refused", distinct.len());
    assert!(distinct.len() >= 100, "{}", distinct.len());
}

/// A `--set` value goes into SQL as what it is: inside quotes it stays text, outside
/// quotes only a number, a word or a quoted string is taken.
#[test]
fn set_values_stay_values_on_every_engine() {
    let in_quotes = [
        "x' OR '1' = '1",
        "x'; DELETE FROM victim; --",
        "x\\'; DELETE FROM victim; -- ",
        "x\\' OR 1=1 -- ",
        "x'/* ",
        "a'' OR ''1''=''1",
        "*/ OR 1=1 /*",
    ];
    let outside = [
        "0; DELETE FROM victim",
        "0 OR 1=1",
        "0 /*",
        "0 -- ",
        "(SELECT 1)",
        "1) OR (1=1",
        "pg_sleep(30)",
        "'a' OR 'b'",
    ];
    for engine in sql_engines() {
        let sb = sandbox(engine);
        let before = state(&sb);
        let prefix = sb.dataset_prefix();
        for value in in_quotes {
            // the filter matches no row whatever the value: the row count must be 0
            let text = format!(
                "dataset: {prefix}/victim\nfilter: \"note = '${{var.S}}'\"\nchecks:\n  - row_count: {{threshold: {{must_be: 0}}}}\n"
            );
            let set = format!("S={value}");
            let run = run_contract(&sb, &text, &["--set", &set]);
            assert_eq!(
                run.code,
                0,
                "{} value {value:?} changed the filter:\n{}\n{}",
                engine.name(),
                run.stdout,
                run.stderr
            );
            // and a comment placeholder can close nothing
            let text = format!(
                "dataset: {prefix}/victim\nfilter: \"id < 0 /* ${{var.S}} */\"\nchecks:\n  - row_count: {{threshold: {{must_be: 0}}}}\n"
            );
            let run = run_contract(&sb, &text, &["--set", &set]);
            assert_eq!(
                run.code,
                0,
                "{} {value:?} in a comment: {}",
                engine.name(),
                run.stderr
            );
        }
        for value in outside {
            let text = format!(
                "dataset: {prefix}/victim\nfilter: \"id > ${{var.N}}\"\nchecks:\n  - row_count:\n"
            );
            let set = format!("N={value}");
            let run = run_contract(&sb, &text, &["--set", &set]);
            assert_refused(&run, &["outside quotes"], &format!("--set {set}"));
        }
        // what is allowed outside quotes still works
        for (value, rows) in [("1", 2), ("-5", 3), ("2.5", 1)] {
            let text = format!(
                "dataset: {prefix}/victim\nfilter: \"id > ${{var.N}}\"\nchecks:\n  - row_count: {{threshold: {{must_be: {rows}}}}}\n"
            );
            let run = run_contract(&sb, &text, &["--set", &format!("N={value}")]);
            assert_eq!(run.code, 0, "N={value}: {}\n{}", run.stdout, run.stderr);
        }
        // a quoted name stays one name
        let text = format!(
            "dataset: {prefix}/victim\nchecks:\n  - failed_rows: {{expression: \"{} IS NULL\"}}\n",
            match engine {
                Engine::MySql => "`${var.C}`",
                // Spark reads "..." as a string: backticks quote its names
                #[cfg(feature = "spark")]
                Engine::Spark => "`${var.C}`",
                _ => "\\\"${var.C}\\\"",
            }
        );
        let run = run_contract(&sb, &text, &["--set", "C=note\" IS NULL OR 1=1 OR \"x"]);
        assert_eq!(run.code, 3, "{}: {}", engine.name(), run.stdout);
        assert!(run.json()["datasets"][0]["checks"][0]["error"].is_string());
        assert_eq!(state(&sb), before, "{} changed", engine.name());
    }
}

/// An environment value is a secret, which a contract cannot read at all (refused, and
/// shown nowhere); one declared public follows the rule of `--set` values in SQL.
#[test]
fn environment_values_in_sql_are_values_and_secrets() {
    let sb = sandbox(Engine::DuckDb);
    let text = "dataset: db/main/victim\nfilter: \"note <> '${env.ASSAY_ATTACK_SECRET}'\"\nchecks:\n  - row_count:\n      name: \"rows other than ${env.ASSAY_ATTACK_SECRET}\"\n      attributes: {owner: \"${env.ASSAY_ATTACK_SECRET}\"}\n";
    sb.project.write("contract.yml", text);
    for args in [
        vec!["verify", "contract.yml", "-o", "json", "-vv"],
        vec![
            "verify",
            "contract.yml",
            "-o",
            "table",
            "-o",
            "markdown=r.md",
            "-o",
            "junit=r.xml",
        ],
        vec!["verify", "contract.yml", "--plan"],
    ] {
        let out = assert_cmd::Command::cargo_bin("assay")
            .unwrap()
            .current_dir(sb.project.path())
            .env("ASSAY_ATTACK_SECRET", "Env-Secret-Value-3391")
            .args(&args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        assert!(all.contains("public_env"), "{args:?}: {all}");
        assert!(
            !all.contains("Env-Secret-Value-3391"),
            "{args:?} leaked:\n{all}"
        );
    }
    for f in ["r.md", "r.xml"] {
        assert!(!sb.project.path().join(f).exists(), "{f} was written");
    }
    // declared public, a value in code position must be one token only
    let config = std::fs::read_to_string(sb.project.path().join("assay.yml")).unwrap();
    sb.project.write(
        "assay.yml",
        &format!("public_env: [ASSAY_ATTACK_SECRET]\n{config}"),
    );
    let text = "dataset: db/main/victim\nfilter: \"id > ${env.ASSAY_ATTACK_SECRET}\"\nchecks:\n  - row_count:\n";
    sb.project.write("contract.yml", text);
    let out = assert_cmd::Command::cargo_bin("assay")
        .unwrap()
        .current_dir(sb.project.path())
        .env("ASSAY_ATTACK_SECRET", "0; DELETE FROM victim")
        .args(["verify", "contract.yml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("DELETE FROM victim"));
}

/// The engine is a wall of its own: DuckDB verifies with external access off, so a
/// table read from a file path (which no function call shows) finds nothing to read.
#[test]
fn duckdb_reads_no_file_a_contract_names() {
    let sb = sandbox(Engine::DuckDb);
    let before = state(&sb);
    for sql in [
        "SELECT count(*) FROM 'secret.csv'",
        "SELECT count(*) FROM 'secret.txt'",
        "SELECT count(*) FROM '/etc/passwd'",
        "SELECT count(*) FROM 'other.duckdb'",
        "SELECT count(*) FROM other.t",
    ] {
        let text = contract(&sb, Place::MetricQuery, sql);
        let run = run_contract(&sb, &text, &[]);
        assert_eq!(run.code, 3, "{sql}:\n{}\n{}", run.stdout, run.stderr);
        assert_eq!(
            run.json()["datasets"][0]["checks"][0]["outcome"],
            "not_evaluated",
            "{sql}"
        );
        assert_nothing_leaked(&run, sql);
    }
    assert_eq!(state(&sb), before);
}

/// A files data source reads the files its contracts name, and nothing beside or above.
#[test]
fn files_datasets_stay_under_their_root() {
    let p = common::Project::empty();
    p.write("data/orders.csv", "id\n1\n2\n");
    p.write("outside.csv", &format!("x\n{SECRET_FILE_TEXT}\n"));
    p.write(
        "assay.yml",
        "data_sources:\n  - name: files\n    type: files\n    connection: {root: data}\n",
    );
    for dataset in [
        "files/../outside.csv",
        "files/./orders.csv",
        "files//etc/passwd.csv",
        "files/sub/../../outside.csv",
        "files/..\\outside.csv",
    ] {
        p.write(
            "contract.yml",
            &format!("dataset: {dataset}\nchecks:\n  - row_count:\n"),
        );
        let run = p.assay(&["verify", "contract.yml"]);
        // refused as a path outside the root, or as no dataset path at all
        assert_refused(&run, &["relative path", "must be written"], dataset);
        assert_nothing_leaked(&run, dataset);
    }
    // the file of the dataset is readable; another file under the same root is not
    p.write("data/other.csv", &format!("x\n{SECRET_FILE_TEXT}\n"));
    p.write(
        "contract.yml",
        "dataset: files/orders.csv\nchecks:\n  - row_count: {threshold: {must_be: 2}}\n  - metric: {query: \"SELECT count(*) FROM 'data/other.csv'\", threshold: {must_be: 1}}\n",
    );
    let run = p.assay(&["verify", "contract.yml", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    let results = run.json();
    assert_eq!(common::outcome(&results, "checks/row_count"), "pass");
    assert_eq!(common::outcome(&results, "checks/metric"), "not_evaluated");
    assert_nothing_leaked(&run, "a second file");
}

#[test]
fn yaml_that_would_exhaust_memory_is_refused_at_its_position() {
    let p = common::Project::empty();
    // 363 bytes once asked for 5.9 GB: each level doubles the one before
    let mut bomb = String::from("dataset: db/main/t\nvariables:\n  a0: &a0 [x, x, x, x]\n");
    for i in 1..24 {
        bomb.push_str(&format!(
            "  a{i}: &a{i} [*a{0}, *a{0}, *a{0}, *a{0}]\n",
            i - 1
        ));
    }
    bomb.push_str("checks:\n  - row_count:\n");
    let deep = format!(
        "dataset: db/main/t\nchecks:\n  - row_count: {{attributes: {{x: {}{}}}}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let wide_map = format!(
        "dataset: db/main/t\nchecks:\n  - row_count: {{attributes: {{x: {}{}}}}}\n",
        "{a: ".repeat(50_000),
        "}".repeat(50_000)
    );
    for (name, text, why) in [
        ("alias bomb", &bomb, "aliases"),
        ("deep lists", &deep, "nested"),
        ("deep mappings", &wide_map, "nested"),
    ] {
        p.write("contract.yml", text);
        let run = p.assay(&["verify", "contract.yml"]);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(why), "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains("contract.yml:"),
            "{name}: {}",
            run.stderr
        );
    }
    // the same bomb in the config
    p.write(
        "assay.yml",
        &bomb
            .replace("dataset: db/main/t\nvariables:", "x:")
            .replace("checks:\n  - row_count:\n", ""),
    );
    p.write(
        "contract.yml",
        "dataset: db/main/t\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("aliases"), "{}", run.stderr);
    assert!(run.stderr.contains("assay.yml:"), "{}", run.stderr);
}

#[test]
fn inputs_that_crashed_assay_get_clear_errors() {
    let p = common::Project::duckdb("CREATE TABLE t(id INTEGER); INSERT INTO t VALUES (1);");
    let long = "x".repeat(70_000);
    let cases: Vec<(String, &str)> = vec![
        // an error past column 65,535 once made the renderer panic
        (
            format!("dataset: db/main/t\nchecks:\n  - row_count: {{name: {long}, nope: 1}}\n"),
            "nope",
        ),
        (
            format!("dataset: db/main/t\nchecks:\n  - failed_rows: {{expression: \"{long} >\"}}\n"),
            "expression",
        ),
        (
            "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be_less_than: 1e400}}\n"
                .to_string(),
            "finite",
        ),
        (
            "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be: .nan}}\n".to_string(),
            "finite",
        ),
        (
            "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be_greater_than: -.inf}}\n"
                .to_string(),
            "finite",
        ),
        (
            "dataset: db/main/t\ncolumns:\n  - name: ''\n    checks:\n      - missing:\n".to_string(),
            "empty",
        ),
        (
            "dataset: db/main/t\nchecks:\n  - freshness: {column: '', threshold: {must_be_less_than: 1}}\n"
                .to_string(),
            "empty",
        ),
        (
            "dataset: db/main/t\nchecks:\n  - duplicate: {columns: [id, '']}\n".to_string(),
            "empty",
        ),
        (
            "dataset: db/main/t\nchecks:\n  - failed_rows: {expression: \"id > 'open\"}\n".to_string(),
            "never closed",
        ),
        (
            "dataset: db/main/t\nchecks:\n  - failed_rows: {expression: \"id > 0 /* open\"}\n"
                .to_string(),
            "never closed",
        ),
    ];
    for (text, why) in &cases {
        p.write("contract.yml", text);
        let run = p.assay(&["verify", "contract.yml"]);
        assert_eq!(
            run.code,
            2,
            "{why}: {}",
            &run.stderr[..run.stderr.len().min(2000)]
        );
        assert!(
            run.stderr.contains(why),
            "{why}: {}",
            &run.stderr[..run.stderr.len().min(2000)]
        );
    }
}

#[test]
fn small_holes_are_closed() {
    let p = common::Project::duckdb(
        "CREATE TABLE t(id INTEGER, note VARCHAR); INSERT INTO t VALUES (1, 'a'), (2, 'b');",
    );
    // a UTF-8 byte order mark is not content
    p.write(
        "contract.yml",
        "\u{feff}dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be: 2}}\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    // a filter ending in a line comment means what it says
    p.write(
        "contract.yml",
        "dataset: db/main/t\nfilter: \"id > 1 -- only the newer ones\"\nchecks:\n  - row_count: {threshold: {must_be: 1}}\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    // a metric query must return one row with one value
    for (sql, shape) in [
        ("SELECT id FROM main.t", "more than one row"),
        ("SELECT 1, 2", "2 columns"),
        ("SELECT id FROM main.t WHERE id > 5", "no rows"),
    ] {
        p.write(
            "contract.yml",
            &format!("dataset: db/main/t\nchecks:\n  - metric: {{query: \"{sql}\", threshold: {{must_be: 1}}}}\n"),
        );
        let run = p.assay(&["verify", "contract.yml", "-o", "json"]);
        assert_eq!(run.code, 3, "{sql}: {}", run.stdout);
        let error = common::check(&run.json(), "checks/metric")["error"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(error.contains(shape), "{sql}: {error}");
    }

    // escape sequences in names reach no terminal or Markdown
    p.write(
        "contract.yml",
        "dataset: db/main/t\nchecks:\n  - row_count: {name: \"rows \\e]0;owned\\a \\e[2J\\u202e cleared\"}\n",
    );
    let run = p.assay(&[
        "verify",
        "contract.yml",
        "-o",
        "table",
        "-o",
        "markdown=r.md",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let md = std::fs::read_to_string(p.path().join("r.md")).unwrap();
    for text in [&run.stdout, &md] {
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(!text.contains('\u{7}'), "{text:?}");
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(text.contains("cleared"), "{text}");
    }

    // an unset token is needed only to push
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &format!("{config}cloud:\n  endpoint: http://127.0.0.1:9\n  token: ${{env.ASSAY_SURELY_UNSET_TOKEN}}\n"),
    );
    p.write(
        "contract.yml",
        "dataset: db/main/t\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = p.assay(&["verify", "contract.yml", "--push"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("ASSAY_SURELY_UNSET_TOKEN"),
        "{}",
        run.stderr
    );
    let run = p.assay(&["push"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// Nothing a contract says can make a PostgreSQL session outlive its statement limits or
/// hold a lock: advisory locks and sleeps are refused, so another session never waits.
#[test]
fn postgres_sessions_are_left_alone() {
    let sb = sandbox(Engine::Postgres);
    admin(
        Engine::Postgres,
        &[format!("CREATE SEQUENCE {}", sb.qualified("victim_seq"))],
    )
    .unwrap();
    let before = admin_number(
        Engine::Postgres,
        "SELECT count(*)::bigint FROM pg_locks WHERE locktype = 'advisory'",
    );
    for sql in [
        "pg_advisory_lock(42) IS NULL",
        "nextval('victim_seq') > 0",
        "pg_terminate_backend(pg_backend_pid())",
    ] {
        let text = contract(&sb, Place::FailedRowsExpression, sql);
        let run = run_contract(&sb, &text, &[]);
        assert_refused(&run, REFUSED_FUNCTION, sql);
    }
    let seq = admin_number(
        Engine::Postgres,
        &format!("SELECT last_value FROM {}", sb.qualified("victim_seq")),
    );
    assert_eq!(seq, 1);
    let after = admin_number(
        Engine::Postgres,
        "SELECT count(*)::bigint FROM pg_locks WHERE locktype = 'advisory'",
    );
    assert_eq!(before, after);
}

/// ODCS contracts are contracts: the queries of `sql` rules and soda `custom` rules pass
/// the same walls, and names that end up in the SQL assay writes for ODCS rules
/// (`physicalName`, property names) are quoted names, never SQL.
#[test]
fn odcs_rules_are_untrusted_sql_too_on_every_engine() {
    let why: Vec<&str> = NOT_READ_ONLY
        .iter()
        .chain(SECOND_STATEMENT)
        .copied()
        .collect();
    for engine in sql_engines() {
        let sb = sandbox(engine);
        let before = state(&sb);
        let head = format!(
            "apiVersion: v3.2.0\nkind: DataContract\nid: attack\nversion: 1.0.0\nservers:\n  - {{server: db, type: {}, schema: {}}}\nschema:\n  - name: victim\n",
            engine.name(),
            sb.schema
        );
        for q in SMUGGLED_QUERIES {
            let q = yaml_string(q);
            for body in [
                format!("    quality:\n      - {{type: sql, query: {q}, mustBe: 0}}\n"),
                format!("    properties:\n      - name: id\n        quality:\n          - {{type: sql, query: {q}, mustBeGreaterThan: -1}}\n"),
                format!("    quality:\n      - {{type: custom, engine: soda, implementation: {{failed_rows: {{query: {q}}}}}}}\n"),
            ] {
                let run = run_contract(&sb, &format!("{head}{body}"), &[]);
                let what = format!("{engine:?} ODCS {body}");
                if engine == Engine::MySql && q.contains("/* /* */ -- */") {
                    // MySQL does not nest comments: the rest of the line is a comment
                    assert_ne!(run.code, 2, "{what}: {}", run.stderr);
                } else {
                    assert_refused(&run, &why, &what);
                }
                assert_nothing_leaked(&run, &what);
                assert_eq!(state(&sb), before, "{engine:?}: {body}");
            }
        }
        // names are identifiers, quoted for the engine, whatever quotes they hold
        for evil in [
            "victim\"; DELETE FROM victim; --",
            "victim`; DELETE FROM victim; --",
            "victim'); DELETE FROM victim; --",
        ] {
            let name = yaml_string(evil);
            for body in [
                format!("    physicalName: {name}\n    properties:\n      - {{name: id, unique: true, required: true}}\n"),
                format!("    properties:\n      - {{name: {name}, unique: true}}\n      - {{name: id, primaryKey: true}}\n      - {{name: note, primaryKey: true}}\n    quality:\n      - {{type: sql, query: 'SELECT COUNT(*) FROM {{object}}', mustBe: 3}}\n"),
                format!("    properties:\n      - name: id\n        quality:\n          - {{type: sql, query: 'SELECT COUNT({{property}}) FROM {{object}}', mustBe: 3}}\n      - {{name: {name}, logicalTypeOptions: {{multipleOf: 2}}}}\n"),
                // names and values inside nested fields and array items
                format!("    properties:\n      - name: note\n        properties:\n          - {{name: {name}, required: true, enum: [{{value: {name}}}]}}\n      - name: id\n        logicalType: array\n        items:\n          enum: [{{value: {name}}}]\n          logicalTypeOptions: {{pattern: {name}}}\n          properties:\n            - {{name: {name}, required: true}}\n"),
            ] {
                let run = run_contract(&sb, &format!("{head}{body}"), &["--no-failed-rows"]);
                assert!(
                    [1, 2, 3].contains(&run.code),
                    "{engine:?} {body}: exit {}\n{}",
                    run.code,
                    run.stderr
                );
                assert_eq!(state(&sb), before, "{engine:?}: {body}");
                assert_nothing_leaked(&run, body.as_str());
            }
        }
    }
}

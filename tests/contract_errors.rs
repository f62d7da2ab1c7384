//! Malformed contracts and configs: each exits 2 before anything runs, with a message
//! naming file, line and column, and none panics.

use crate::common;

use common::Project;

const TABLE: &str = "CREATE TABLE t(id INTEGER, name VARCHAR);";

/// (what, contract, message fragment, "line:col" of the offending place)
const CASES: &[(&str, &str, &str, &str)] = &[
    ("bad yaml", "dataset: db/main/t\ncolumns: [\n", "invalid YAML", "3:1"),
    ("tab indentation", "dataset: db/main/t\nchecks:\n\t- row_count:\n", "invalid YAML", "3:2"),
    ("unknown top-level key", "dataset: db/main/t\ncheks:\n  - row_count:\n", "unknown key 'cheks'", "2:1"),
    ("unknown check type", "dataset: db/main/t\nchecks:\n  - row_cnt:\n", "unknown check type 'row_cnt'", "3:5"),
    ("unknown check key", "dataset: db/main/t\nchecks:\n  - row_count:\n      treshold: {must_be: 1}\n", "unknown key 'treshold'", "4:7"),
    ("unknown threshold key", "dataset: db/main/t\nchecks:\n  - row_count:\n      threshold: {must_be_more_than: 1}\n", "unknown key 'must_be_more_than'", "4:19"),
    ("two comparisons", "dataset: db/main/t\nchecks:\n  - row_count:\n      threshold:\n        must_be_greater_than: 1\n        must_be_less_than: 5\n", "exactly one comparison", "6:9"),
    ("threshold not a number", "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be: lots}}\n", "must be a number", "3:38"),
    ("bad metric", "dataset: db/main/t\ncolumns:\n  - name: id\n    checks:\n      - missing: {threshold: {metric: ratio, must_be: 0}}\n", "metric must be", "5:39"),
    ("percent on row_count", "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {metric: percent, must_be: 1}}\n", "no percent metric", "3:37"),
    ("bad level", "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be: 1, level: error}}\n", "level must be", "3:48"),
    ("between missing bound", "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be_between: {greater_than: 1}}}\n", "needs 'less_than' or 'less_than_or_equal'", "3:47"),
    ("between empty range", "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be_between: {greater_than: 5, less_than: 1}}}\n", "empty range", "3:47"),
    ("not between low above high", "dataset: db/main/t\nchecks:\n  - row_count:\n      threshold:\n        must_be_not_between: {less_than: 10, greater_than: 1}\n", "LOW <= HIGH", "5:31"),
    ("missing dataset", "checks:\n  - row_count:\n", "missing the required key 'dataset'", "1:1"),
    ("dataset without table", "dataset: db\nchecks:\n  - row_count:\n", "must be written data_source/", "1:10"),
    ("unknown data source", "dataset: dbb/main/t\nchecks:\n  - row_count:\n", "unknown data source 'dbb'", "1:10"),
    ("duckdb path too long", "dataset: db/a/b/c/t\nchecks:\n  - row_count:\n", "[catalog/]schema/table", "1:10"),
    ("no checks or columns", "dataset: db/main/t\n", "neither `columns:` nor `checks:`", "1:1"),
    ("column without name", "dataset: db/main/t\ncolumns:\n  - data_type: integer\n", "required key 'name'", "3:5"),
    ("column listed twice", "dataset: db/main/t\ncolumns:\n  - name: id\n  - name: id\n", "listed twice", "4:11"),
    ("column check at dataset level", "dataset: db/main/t\nchecks:\n  - missing:\n", "cannot go in the dataset's", "3:5"),
    ("dataset check under a column", "dataset: db/main/t\ncolumns:\n  - name: id\n    checks:\n      - row_count:\n", "cannot go in a column's", "5:9"),
    ("two checks in one item", "dataset: db/main/t\nchecks:\n  - row_count:\n    schema:\n", "one list item holds one check", "4:5"),
    ("same identity twice", "dataset: db/main/t\nchecks:\n  - row_count:\n  - row_count:\n", "same identity 'checks/row_count'", "4:5"),
    ("invalid without rule", "dataset: db/main/t\ncolumns:\n  - name: id\n    checks:\n      - invalid:\n", "needs a validity rule", "5:9"),
    ("bad regex", "dataset: db/main/t\ncolumns:\n  - name: name\n    checks:\n      - invalid: {valid_format: {regex: '[a-z'}}\n", "invalid regex", "5:41"),
    ("metric without threshold", "dataset: db/main/t\nchecks:\n  - metric: {expression: 'avg(id)'}\n", "needs a threshold", "3:5"),
    ("metric with both sources", "dataset: db/main/t\nchecks:\n  - metric: {expression: 'avg(id)', query: 'SELECT 1', threshold: {must_be: 1}}\n", "not both", "3:44"),
    ("freshness without column", "dataset: db/main/t\nchecks:\n  - freshness: {threshold: {must_be_less_than: 1}}\n", "needs `column:`", "3:17"),
    ("bad freshness unit", "dataset: db/main/t\nchecks:\n  - freshness: {column: id, threshold: {unit: week, must_be_less_than: 1}}\n", "unit must be", "3:47"),
    ("bad aggregate function", "dataset: db/main/t\ncolumns:\n  - name: id\n    checks:\n      - aggregate: {function: median, threshold: {must_be: 1}}\n", "unknown aggregate function 'median'", "5:31"),
    ("filter with two statements", "dataset: db/main/t\nfilter: \"id > 0; DROP TABLE t\"\nchecks:\n  - row_count:\n", "second statement", "2:9"),
    ("DDL in a filter", "dataset: db/main/t\nfilter: DROP TABLE t\nchecks:\n  - row_count:\n", "not a DROP TABLE statement", "2:9"),
    ("DML in a query", "dataset: db/main/t\nchecks:\n  - failed_rows: {query: 'DELETE FROM t'}\n", "must be a read-only SELECT", "3:26"),
    ("two queries", "dataset: db/main/t\nchecks:\n  - metric: {query: 'SELECT 1; SELECT 2', threshold: {must_be: 1}}\n", "2 statements", "3:21"),
    ("broken expression", "dataset: db/main/t\nchecks:\n  - failed_rows: {expression: 'id >'}\n", "not a valid SQL expression", "3:31"),
    ("unknown variable", "dataset: db/main/t\nfilter: id > ${var.MIN}\nchecks:\n  - row_count:\n", "variable 'MIN' has no value", "2:9"),
    ("unknown env var", "dataset: db/main/t\nfilter: id > ${env.ASSAY_TEST_SURELY_UNSET}\nchecks:\n  - row_count:\n", "environment variable 'ASSAY_TEST_SURELY_UNSET' is not set", "2:9"),
    ("malformed placeholder", "dataset: db/main/t\nfilter: id > ${foo.BAR}\nchecks:\n  - row_count:\n", "malformed placeholder", "2:9"),
    ("schema threshold with a bad level", "dataset: db/main/t\nchecks:\n  - schema: {threshold: {level: severe}}\n", "level must be 'fail' or 'warn'", "3:33"),
    ("null where a value must be", "dataset: db/main/t\ncolumns:\n  - name: id\n    checks:\n      - invalid: {valid_min: null}\n", "valid_min", "5:30"),
    ("query with a filter", "dataset: db/main/t\nchecks:\n  - failed_rows: {query: 'SELECT * FROM t', filter: 'id > 1'}\n", "cannot have a `filter`", "3:53"),
    ("duplicate key", "dataset: db/main/t\ndataset: db/main/u\nchecks:\n  - row_count:\n", "duplicate key 'dataset'", "2:1"),
    ("dataset duplicate without columns", "dataset: db/main/t\nchecks:\n  - duplicate:\n", "needs `columns: [...]`", "3:5"),
    ("valid_min above valid_max", "dataset: db/main/t\ncolumns:\n  - name: id\n    valid_min: 10\n    valid_max: 1\n    checks:\n      - invalid:\n", "greater than valid_max", "4:16"),
    ("reference data in another source", "dataset: db/main/t\ncolumns:\n  - name: id\n    checks:\n      - invalid: {valid_reference_data: {dataset: other/main/r, column: id}}\n", "same data source", "5:42"),
    ("variables not a mapping", "dataset: db/main/t\nvariables: [A]\nchecks:\n  - row_count:\n", "variables must be a mapping", "2:12"),
    ("variable defaults in a cycle", "dataset: db/main/t\nvariables:\n  A: {default: \"${var.B}\"}\n  B: {default: \"x${var.A}\"}\nchecks:\n  - row_count:\n", "cycle: A -> B -> A", "3:16"),
    ("a default naming an unknown variable", "dataset: db/main/t\nvariables:\n  END: {default: \"${var.START} + 1\"}\nchecks:\n  - row_count:\n", "the default of 'END': variable 'START' has no value", "3:18"),
    ("an unknown soda variable", "dataset: db/main/t\nfilter: id > ${soda.TODAY}\nchecks:\n  - row_count:\n", "unknown variable 'soda.TODAY'", "2:9"),
    ("percent of a query without rows tested", "dataset: db/main/t\nchecks:\n  - failed_rows: {query: 'SELECT * FROM t', threshold: {metric: percent, must_be: 0}}\n", "needs `rows_tested_query:`", "3:65"),
    ("two failed_rows sources", "dataset: db/main/t\nchecks:\n  - failed_rows: {query: 'SELECT * FROM t', keys_query: 'SELECT id FROM t'}\n", "both `query` and `keys_query`", "3:57"),
    ("key_column_mapping not a mapping", "dataset: db/main/t\nchecks:\n  - failed_rows: {keys_query: 'SELECT id FROM t', key_column_mapping: [id]}\n", "key_column_mapping must be a mapping", "3:71"),
    ("a bad rows_tested_query", "dataset: db/main/t\nchecks:\n  - failed_rows: {query: 'SELECT * FROM t', rows_tested_query: 'DELETE FROM t'}\n", "the rows_tested_query of checks/failed_rows must be a read-only SELECT", "3:64"),
    ("a required variable without a value", "dataset: db/main/t\nvariables:\n  START: {required: true}\nchecks:\n  - row_count:\n", "variable 'START' is required and has no value", "3:3"),
    ("a timestamp variable that is not one", "dataset: db/main/t\nvariables:\n  START: {type: timestamp, default: yesterday}\nchecks:\n  - row_count:\n", "is a timestamp, but its value 'yesterday' is not one", "3:3"),
    ("two freshness units", "dataset: db/main/t\nchecks:\n  - freshness: {column: id, unit: day, threshold: {unit: hour, must_be_less_than: 1}}\n", "unit and its threshold's unit differ", "3:35"),
    ("a bad freshness unit on the check", "dataset: db/main/t\nchecks:\n  - freshness: {column: id, unit: week, threshold: {must_be_less_than: 1}}\n", "unit must be", "3:35"),
    ("metric on the check and in the threshold", "dataset: db/main/t\ncolumns:\n  - name: id\n    checks:\n      - missing: {metric: percent, threshold: {metric: count}}\n", "given on the check and in its threshold", "5:27"),
    ("percent on the check of a type without it", "dataset: db/main/t\nchecks:\n  - row_count: {metric: percent}\n", "no percent metric", "3:25"),
    ("check_attributes not a mapping", "dataset: db/main/t\ncheck_attributes: [a]\nchecks:\n  - row_count:\n", "check_attributes must be a mapping", "2:19"),
    ("check list not a list", "dataset: db/main/t\nchecks:\n  row_count:\n", "checks must be a list", "3:3"),
];

#[test]
fn malformed_contracts_exit_2_with_the_place_named() {
    let p = Project::duckdb(TABLE);
    let mut failures = Vec::new();
    for (what, contract, fragment, place) in CASES {
        p.write("contract.yml", contract);
        let run = p.assay(&["verify", "contract.yml"]);
        let location = format!("contract.yml:{place}");
        let ok = run.code == 2
            && run.stderr.contains(fragment)
            && run.stderr.contains(&location)
            && !run.stderr.contains("panicked")
            && run.stdout.is_empty();
        if !ok {
            failures.push(format!(
                "{what}: exit {} (want 2), want '{fragment}' at {location}\n{}",
                run.code, run.stderr
            ));
        }
    }
    assert!(CASES.len() >= 30);
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}

#[test]
fn what_soda_accepts_with_a_warning_runs_with_a_warning() {
    let p =
        Project::duckdb("CREATE TABLE t(id INTEGER, name VARCHAR); INSERT INTO t VALUES (1, 'a');");
    p.write(
        "contract.yml",
        "dataset: db/main/t
checks:
  - failed_rows:
      expression: id < 0
      rows_tested_query: SELECT COUNT(*) FROM t
  - failed_rows:
      qualifier: mapped
      query: SELECT id FROM t WHERE id < 0
      key_column_mapping: {order: id}
  - schema: {threshold: {must_be: 0, level: warn}}
",
    );
    let run = p.assay(&["verify", "contract.yml", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("contract.yml:5:26")
            && run.stderr.contains("rows_tested_query is only used with"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("contract.yml:9:28")
            && run
                .stderr
                .contains("key_column_mapping is only used with `keys_query:`"),
        "{}",
        run.stderr
    );
    // Soda reads only `level` from a schema threshold: the rest is ignored, said so
    assert!(
        run.stderr.contains("contract.yml:10:26")
            && run
                .stderr
                .contains("a schema check ignores `must_be` in its threshold"),
        "{}",
        run.stderr
    );
    // -q keeps stderr for errors only
    let quiet = p.assay(&["verify", "contract.yml", "-q"]);
    assert_eq!(quiet.code, 0);
    assert!(!quiet.stderr.contains("only used with"), "{}", quiet.stderr);
}

#[test]
fn all_errors_of_a_contract_are_reported_together() {
    let p = Project::duckdb(TABLE);
    p.write(
        "contract.yml",
        "dataset: db/main/t\nchecks:\n  - row_cnt:\n  - row_count: {threshold: {must_be: x}}\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("2 problems"), "{}", run.stderr);
    assert!(run.stderr.contains("contract.yml:3:5"), "{}", run.stderr);
    assert!(run.stderr.contains("contract.yml:4:38"), "{}", run.stderr);
}

#[test]
fn hints_suggest_the_closest_name() {
    let p = Project::duckdb(TABLE);
    p.write(
        "contract.yml",
        "dataset: db/main/t\nchecks:\n  - row_count:\n      treshold: {must_be: 1}\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert!(
        run.stderr.contains("did you mean 'threshold'?"),
        "{}",
        run.stderr
    );
    p.write(
        "contract.yml",
        "dataset: db/main/t\nchecks:\n  - freshnes: {column: id}\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert!(
        run.stderr.contains("did you mean 'freshness'?"),
        "{}",
        run.stderr
    );
}

/// (what, assay.yml, fragment, line:col)
const CONFIG_CASES: &[(&str, &str, &str, &str)] = &[
    ("unknown notify event", "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\nnotify: {slack: {webhook: 'https://h.example/x', on: [failed]}}\n", "did you mean 'fail'?", "3:55"),
    ("notify webhook not http", "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\nnotify: {webhook: {url: 'ftp://h.example/x'}}\n", "is not an http(s) URL", "3:25"),
    ("unknown notify key", "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\nnotify: {slak: {webhook: 'https://h.example/x'}}\n", "did you mean 'slack'?", "3:10"),
    ("unknown scan key", "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\nscan: {includes: ['db/*']}\n", "did you mean 'include'?", "3:8"),
    ("bad scan glob", "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\nscan: {include: ['db/[a-z]*']}\n", "is not a dataset glob", "3:18"),
    ("unknown profile metric", "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\nscan: {profile: {metrics: [distinc]}}\n", "did you mean 'distinct'?", "3:28"),
    ("bad schema change level", "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\nscan: {schema_changes: {column_removed: severe}}\n", "must be 'warn' or 'fail'", "3:41"),
    ("history in a files source", "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\n  - {name: f, type: files, connection: {root: .}}\nhistory: {data_source: f}\n", "cannot hold the history", "4:24"),
    ("history in an unknown source", "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\nhistory: {data_source: dbb}\n", "did you mean 'db'?", "3:24"),
    ("bad history retention", "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\nhistory: {keep: forever}\n", "is not a duration", "3:17"),
    ("unknown top-level key", "data_source:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\n", "did you mean 'data_sources'?", "1:1"),
    ("unknown type", "data_sources:\n  - {name: db, type: duckdbb, connection: {database: db.duckdb}}\n", "did you mean 'duckdb'?", "2:22"),
    ("unknown connection key", "data_sources:\n  - name: db\n    type: duckdb\n    connection: {databse: db.duckdb}\n", "unknown key 'databse'", "4:18"),
    ("missing connection", "data_sources:\n  - name: db\n    type: files\n", "required key 'connection'", "2:5"),
    ("name twice", "data_sources:\n  - {name: db, type: files, connection: {root: .}}\n  - {name: db, type: files, connection: {root: .}}\n", "defined twice", "3:6"),
    ("unset env var", "data_sources:\n  - {name: db, type: duckdb, connection: {database: '${env.ASSAY_TEST_UNSET_DB}'}}\n", "ASSAY_TEST_UNSET_DB", "2:53"),
    ("unknown sslmode", "data_sources:\n  - name: db\n    type: postgres\n    connection: {host: h, database: d, user: u, sslmode: verify-ful}\n", "did you mean 'verify-full'?", "4:58"),
    ("unknown server key", "data_sources:\n  - name: db\n    type: mysql\n    connection: {host: h, passwd: x}\n", "did you mean 'password'?", "4:27"),
    ("password twice", "data_sources:\n  - name: db\n    type: postgres\n    connection: {database: d, password: x, password_file: pw.txt}\n", "either `password` or `password_file`", "4:59"),
    ("missing password file", "data_sources:\n  - name: db\n    type: mysql\n    connection: {password_file: no-such-pw.txt}\n", "cannot read password_file", "4:33"),
    ("port out of range", "data_sources:\n  - name: db\n    type: postgres\n    connection: {database: d, port: 70000}\n", "port must be between 1 and 65535", "4:37"),
    ("bad connection string", "data_sources:\n  - name: db\n    type: postgres\n    connection: {url: 'postgres://u@h:notaport/db'}\n", "connection string is not valid", "4:23"),
    ("postgres without database", "data_sources:\n  - name: db\n    type: postgres\n    connection: {host: h, user: u}\n", "needs `database:`", "4:18"),
    ("bad connect_timeout", "data_sources:\n  - name: db\n    type: mysql\n    connection: {connect_timeout: soon}\n", "is not a duration", "4:35"),
];

#[test]
fn malformed_configs_exit_2_with_the_place_named() {
    let p = Project::duckdb(TABLE);
    p.write(
        "contract.yml",
        "dataset: db/main/t\nchecks:\n  - row_count:\n",
    );
    let mut failures = Vec::new();
    for (what, config, fragment, place) in CONFIG_CASES {
        p.write("assay.yml", config);
        let run = p.assay(&["verify", "contract.yml"]);
        let location = format!("assay.yml:{place}");
        if !(run.code == 2 && run.stderr.contains(fragment) && run.stderr.contains(&location)) {
            failures.push(format!(
                "{what}: exit {}, want '{fragment}' at {location}\n{}",
                run.code, run.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn bad_arguments_exit_2() {
    let p = Project::duckdb(TABLE);
    p.write(
        "contract.yml",
        "dataset: db/main/t\nchecks:\n  - row_count:\n",
    );
    for (args, fragment) in [
        (
            vec!["verify", "contract.yml", "-o", "xml"],
            "unknown output format 'xml'",
        ),
        (
            vec!["verify", "contract.yml", "--now", "yesterday"],
            "is not a timestamp",
        ),
        (
            vec!["verify", "contract.yml", "--timeout", "soon"],
            "is not a duration",
        ),
        (
            vec!["verify", "contract.yml", "--set", "NOVALUE"],
            "is not NAME=VALUE",
        ),
        (
            vec!["verify", "nothere.yml"],
            "'nothere.yml' does not exist",
        ),
        (
            vec!["verify", "contract.yml", "-d", "dbx"],
            "did you mean 'db'?",
        ),
        (
            vec!["verify", "contract.yml", "--fail-on", "maybe"],
            "invalid value 'maybe'",
        ),
        (
            vec!["verify", "contract.yml", "-c", "missing.yml"],
            "config file 'missing.yml' does not exist",
        ),
        (vec!["verify", "--bogus"], "unexpected argument"),
    ] {
        let run = p.assay(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(fragment), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_password_written_in_the_config_is_masked_in_error_snippets() {
    let p = Project::duckdb(TABLE);
    p.write(
        "contract.yml",
        "dataset: db/main/t\nchecks:\n  - row_count:\n",
    );
    p.write(
        "assay.yml",
        "data_sources:\n  - name: db\n    type: postgres\n    connection: {database: d, password: Sup3r-Secret-9, sslmode: sometimes}\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown sslmode 'sometimes'"),
        "{}",
        run.stderr
    );
    // the snippet shows the line, with the password masked
    assert!(
        run.stderr.contains("password: **************"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Sup3r-Secret-9"), "{}", run.stderr);
}

#[test]
fn dataset_paths_follow_each_engines_form() {
    let p = Project::duckdb(TABLE);
    for (kind, dataset, fragment) in [
        (
            "mysql",
            "db/shop/public/t",
            "a mysql dataset is written db/database/table",
        ),
        (
            "postgres",
            "db/t",
            "a postgres dataset is written db/schema/table or db/database/schema/table",
        ),
        (
            "postgres",
            "db/other/public/t",
            "connects to database 'shop'",
        ),
    ] {
        p.write(
            "assay.yml",
            &format!("data_sources:\n  - {{name: db, type: {kind}, connection: {{database: shop, user: u}}}}\n"),
        );
        p.write(
            "contract.yml",
            &format!("dataset: {dataset}\nchecks:\n  - row_count:\n"),
        );
        let run = p.assay(&["verify", "contract.yml", "--plan"]);
        assert_eq!(run.code, 2, "{kind} {dataset}: {}", run.stderr);
        assert!(run.stderr.contains(fragment), "{}", run.stderr);
        assert!(run.stderr.contains("contract.yml:1:10"), "{}", run.stderr);
    }
}

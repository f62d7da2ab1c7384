//! Check semantics on real data in embedded DuckDB, through the real binary.

use crate::common;

use common::{check, diag, outcome, Project};
use serde_json::json;

const PEOPLE: &str = "CREATE TABLE people(id VARCHAR, age INTEGER);
INSERT INTO people VALUES ('1', 1), (NULL, -1), ('3', NULL), ('X', 2);";

#[test]
fn worked_examples_from_the_spec() {
    let p = Project::duckdb(PEOPLE);
    let (code, r) = p.verify_json(
        "dataset: db/main/people
columns:
  - name: id
    checks:
      - missing:
      - missing:
          qualifier: xy
          missing_values: ['X', 'Y']
          threshold: {must_be: 2}
      - invalid:
          valid_values: ['1', '2', '3']
  - name: age
    checks:
      - invalid: {valid_min: 1, valid_max: 2}
",
        &[],
    );
    assert_eq!(code, 1);
    let id = "columns/id/missing";
    assert_eq!(outcome(&r, id), "fail");
    assert_eq!(diag(&r, id, "missing_count"), json!(1));
    assert_eq!(diag(&r, id, "missing_percent"), json!(25.0));
    assert_eq!(diag(&r, id, "check_rows_tested"), json!(4));
    assert_eq!(check(&r, id)["value"], json!(1.0));

    assert_eq!(outcome(&r, "columns/id/missing/xy"), "pass");
    assert_eq!(diag(&r, "columns/id/missing/xy", "missing_count"), json!(2));

    let inv = "columns/id/invalid";
    assert_eq!(outcome(&r, inv), "fail");
    assert_eq!(diag(&r, inv, "invalid_count"), json!(1));
    assert_eq!(diag(&r, inv, "missing_count"), json!(1));
    assert_eq!(diag(&r, inv, "invalid_percent"), json!(25.0));

    let age = "columns/age/invalid";
    assert_eq!(diag(&r, age, "invalid_count"), json!(1));
    assert_eq!(diag(&r, age, "missing_count"), json!(1));
    assert_eq!(r["datasets"][0]["dataset_rows_tested"], json!(4));
}

#[test]
fn duplicates_count_extra_rows_of_non_missing_values() {
    let p = Project::duckdb(
        "CREATE TABLE t(v INTEGER); INSERT INTO t VALUES (1),(2),(2),(3),(3),(3),(3),(4),(4),(NULL);",
    );
    let (code, r) = p.verify_json(
        "dataset: db/main/t
columns:
  - name: v
    checks:
      - duplicate:
      - duplicate:
          qualifier: pct
          threshold: {metric: percent, must_be_less_than: 60}
",
        &[],
    );
    assert_eq!(code, 1);
    let id = "columns/v/duplicate";
    assert_eq!(diag(&r, id, "duplicate_count"), json!(5));
    assert_eq!(diag(&r, id, "duplicate_percent"), json!(500.0 / 9.0));
    assert_eq!(outcome(&r, id), "fail");
    assert_eq!(
        check(&r, "columns/v/duplicate/pct")["value"],
        json!(500.0 / 9.0)
    );
    assert_eq!(outcome(&r, "columns/v/duplicate/pct"), "pass");
}

#[test]
fn multi_column_duplicates_count_null_as_a_value() {
    let p = Project::duckdb(
        "CREATE TABLE t(a INTEGER, b VARCHAR);
         INSERT INTO t VALUES (1,NULL),(1,NULL),(1,'2'),(NULL,NULL),(NULL,NULL),(2,'2');",
    );
    let (_, r) = p.verify_json(
        "dataset: db/main/t
checks:
  - duplicate: {columns: [a, b]}
",
        &[],
    );
    let id = "checks/duplicate";
    assert_eq!(diag(&r, id, "duplicate_count"), json!(2));
    assert_eq!(diag(&r, id, "duplicate_percent"), json!(200.0 / 6.0));
    assert_eq!(outcome(&r, id), "fail");
}

#[test]
fn an_empty_table_passes_counts_and_fails_row_count() {
    let p = Project::duckdb("CREATE TABLE t(v VARCHAR, ts TIMESTAMP);");
    let (code, r) = p.verify_json(
        "dataset: db/main/t
columns:
  - name: v
    checks:
      - missing:
      - invalid: {valid_values: [a]}
      - duplicate:
      - missing:
          qualifier: pct
          threshold: {metric: percent, must_be: 0}
checks:
  - row_count:
  - freshness: {column: ts, threshold: {must_be_less_than: 1}}
",
        &["--now", "2025-01-01T00:00:00Z"],
    );
    assert_eq!(code, 1);
    for id in [
        "columns/v/missing",
        "columns/v/invalid",
        "columns/v/duplicate",
        "columns/v/missing/pct",
    ] {
        assert_eq!(outcome(&r, id), "pass", "{id}");
    }
    assert_eq!(diag(&r, "columns/v/missing", "missing_percent"), json!(0.0));
    assert_eq!(diag(&r, "columns/v/duplicate", "duplicate_count"), json!(0));
    assert_eq!(outcome(&r, "checks/row_count"), "fail");
    assert_eq!(check(&r, "checks/row_count")["value"], json!(0.0));
    // no rows means no fresh data
    assert_eq!(outcome(&r, "checks/freshness"), "fail");
    assert_eq!(diag(&r, "checks/freshness", "max_timestamp"), json!(null));
}

#[test]
fn a_filter_that_leaves_no_rows() {
    let p = Project::duckdb(PEOPLE);
    let (_, r) = p.verify_json(
        "dataset: db/main/people
filter: age > 100
columns:
  - name: id
    checks:
      - missing:
checks:
  - row_count:
",
        &[],
    );
    assert_eq!(outcome(&r, "columns/id/missing"), "pass");
    assert_eq!(
        diag(&r, "columns/id/missing", "check_rows_tested"),
        json!(0)
    );
    assert_eq!(outcome(&r, "checks/row_count"), "fail");
    assert_eq!(r["datasets"][0]["dataset_rows_tested"], json!(0));
}

#[test]
fn check_filters_and_dataset_filters_combine() {
    let p = Project::duckdb(PEOPLE);
    let (_, r) = p.verify_json(
        "dataset: db/main/people
filter: \"id IS NULL OR id <> 'X'\"
columns:
  - name: age
    checks:
      - missing:
          filter: age IS NULL OR age > 0
checks:
  - row_count:
      threshold: {must_be: 3}
  - row_count:
      qualifier: adults
      filter: age >= 1
      threshold: {must_be: 1}
",
        &[],
    );
    assert_eq!(outcome(&r, "checks/row_count"), "pass");
    assert_eq!(outcome(&r, "checks/row_count/adults"), "pass");
    // rows ('1',1) and ('3',NULL) pass both filters; one of them is missing
    assert_eq!(
        diag(&r, "columns/age/missing", "check_rows_tested"),
        json!(2)
    );
    assert_eq!(diag(&r, "columns/age/missing", "missing_count"), json!(1));
}

#[test]
fn freshness_in_each_unit_for_naive_and_zoned_timestamps() {
    let p = Project::duckdb(
        "CREATE TABLE naive(ts TIMESTAMP); INSERT INTO naive VALUES ('2025-01-01 08:00:00'), ('2025-01-01 09:00:00'), (NULL);
         CREATE TABLE zoned(ts TIMESTAMPTZ); INSERT INTO zoned VALUES ('2025-01-01 09:00:00+02');
         CREATE TABLE days(d DATE); INSERT INTO days VALUES ('2024-12-30');",
    );
    p.write(
        "naive.yml",
        "dataset: db/main/naive
checks:
  - freshness: {column: ts, threshold: {must_be_less_than: 2}}
  - freshness: {column: ts, qualifier: m, threshold: {unit: minute, must_be: 60}}
  - freshness: {column: ts, qualifier: d, threshold: {unit: day, must_be_less_than: 1}}
",
    );
    p.write(
        "zoned.yml",
        "dataset: db/main/zoned
checks:
  - freshness: {column: ts, threshold: {unit: hour, must_be_less_than: 2}}
",
    );
    p.write(
        "days.yml",
        "dataset: db/main/days
checks:
  - freshness: {column: d, threshold: {unit: day, must_be: 2.5}}
",
    );
    let run = p.assay(&[
        "verify",
        "naive.yml",
        "zoned.yml",
        "days.yml",
        "-o",
        "json",
        "--now",
        "2025-01-01T10:00:00Z",
    ]);
    let r = run.json();
    let naive = &r["datasets"][0];
    assert_eq!(
        naive["checks"][0]["diagnostics"]["freshness_in_hours"],
        json!(1.0)
    );
    assert_eq!(
        naive["checks"][0]["diagnostics"]["max_timestamp"],
        json!("2025-01-01T09:00:00Z")
    );
    assert_eq!(
        naive["checks"][0]["diagnostics"]["now"],
        json!("2025-01-01T10:00:00Z")
    );
    assert_eq!(naive["checks"][0]["outcome"], "pass");
    assert_eq!(
        naive["checks"][1]["diagnostics"]["freshness_in_minutes"],
        json!(60.0)
    );
    assert_eq!(naive["checks"][1]["outcome"], "pass");
    let days = naive["checks"][2]["diagnostics"]["freshness_in_days"]
        .as_f64()
        .unwrap();
    assert!((days - 1.0 / 24.0).abs() < 1e-9, "{days}");
    // 09:00 at +02 is 07:00Z: three hours old
    let zoned = &r["datasets"][1]["checks"][0];
    assert_eq!(zoned["diagnostics"]["freshness_in_hours"], json!(3.0));
    assert_eq!(zoned["outcome"], "fail");
    // a date is midnight UTC
    assert_eq!(
        r["datasets"][2]["checks"][0]["diagnostics"]["freshness_in_days"],
        json!(2.4166666666666665)
    );
    assert_eq!(r["datasets"][2]["checks"][0]["outcome"], "fail");
}

#[test]
fn freshness_now_variable_replaces_the_run_now() {
    let p = Project::duckdb(
        "CREATE TABLE t(ts TIMESTAMP); INSERT INTO t VALUES ('2025-01-01 09:00:00');",
    );
    let contract = "dataset: db/main/t
variables:
  AS_OF: {default: '2025-01-01T12:00:00Z'}
checks:
  - freshness: {column: ts, now_variable: AS_OF, threshold: {must_be: 3}}
";
    let (_, r) = p.verify_json(contract, &["--now", "2030-01-01T00:00:00Z"]);
    assert_eq!(outcome(&r, "checks/freshness"), "pass");
    let (_, r) = p.verify_json(contract, &["--set", "AS_OF=2025-01-01T10:00:00Z"]);
    assert_eq!(check(&r, "checks/freshness")["value"], json!(1.0));
}

#[test]
fn aggregates_skip_missing_values_and_count_characters() {
    let p = Project::duckdb(
        "CREATE TABLE t(n INTEGER, s VARCHAR, d DECIMAL(10,2));
         INSERT INTO t VALUES (1, 'héllo', 1.10), (2, 'ab', 2.20), (3, NULL, NULL), (-1, 'n/a', 0.35);",
    );
    let (code, r) = p.verify_json(
        "dataset: db/main/t
columns:
  - name: n
    missing_values: [-1]
    checks:
      - aggregate: {function: avg, threshold: {must_be: 2}}
      - aggregate: {function: sum, qualifier: sum, threshold: {must_be: 6}}
      - aggregate: {function: min, qualifier: min, threshold: {must_be: 1}}
      - aggregate: {function: max, qualifier: max, threshold: {must_be: 3}}
  - name: s
    missing_values: ['n/a']
    checks:
      - aggregate: {function: avg_length, threshold: {must_be: 3.5}}
      - aggregate: {function: min_length, qualifier: min, threshold: {must_be: 2}}
      - aggregate: {function: max_length, qualifier: max, threshold: {must_be: 5}}
  - name: d
    checks:
      - aggregate: {function: sum, threshold: {must_be: 3.65}}
      - aggregate: {function: avg, qualifier: avg, threshold: {must_be_between: {greater_than: 1.2166, less_than: 1.2167}}}
",
        &[],
    );
    for c in r["datasets"][0]["checks"].as_array().unwrap() {
        assert_eq!(c["outcome"], "pass", "{c:#}");
    }
    assert_eq!(code, 0);
    assert_eq!(diag(&r, "columns/n/aggregate", "avg"), json!(2.0));
}

#[test]
fn an_aggregate_with_no_values_is_not_evaluated() {
    let p = Project::duckdb("CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (NULL);");
    let (code, r) = p.verify_json(
        "dataset: db/main/t
columns:
  - name: n
    checks:
      - aggregate: {function: avg, threshold: {must_be: 1}}
",
        &[],
    );
    assert_eq!(code, 3);
    assert_eq!(outcome(&r, "columns/n/aggregate"), "not_evaluated");
    assert!(check(&r, "columns/n/aggregate")["error"]
        .as_str()
        .unwrap()
        .contains("no non-missing values"));
}

#[test]
fn every_threshold_form() {
    let p =
        Project::duckdb("CREATE TABLE t(v INTEGER); INSERT INTO t SELECT range FROM range(10);");
    // row_count is 10 throughout; (form, expected outcome)
    let cases = [
        ("must_be: 10", "pass"),
        ("must_be: 9", "fail"),
        ("must_not_be: 10", "fail"),
        ("must_not_be: 9", "pass"),
        ("must_be_greater_than: 10", "fail"),
        ("must_be_greater_than_or_equal: 10", "pass"),
        ("must_be_less_than: 10", "fail"),
        ("must_be_less_than_or_equal: 10", "pass"),
        ("must_be_between: {greater_than: 9, less_than: 11}", "pass"),
        ("must_be_between: {greater_than: 10, less_than: 11}", "fail"),
        (
            "must_be_between: {greater_than_or_equal: 10, less_than_or_equal: 10}",
            "pass",
        ),
        (
            "must_be_not_between: {less_than: 5, greater_than: 9}",
            "pass",
        ),
        (
            "must_be_not_between: {less_than: 5, greater_than: 10}",
            "fail",
        ),
        (
            "must_be_not_between: {less_than_or_equal: 5, greater_than_or_equal: 10}",
            "pass",
        ),
        ("must_be: 9, level: warn", "warn"),
    ];
    let mut contract = String::from("dataset: db/main/t\nchecks:\n");
    for (i, (form, _)) in cases.iter().enumerate() {
        contract.push_str(&format!(
            "  - row_count: {{qualifier: q{i}, threshold: {{{form}}}}}\n"
        ));
    }
    let (_, r) = p.verify_json(&contract, &[]);
    for (i, (form, want)) in cases.iter().enumerate() {
        assert_eq!(
            outcome(&r, &format!("checks/row_count/q{i}")),
            *want,
            "{form}"
        );
    }
    assert_eq!(check(&r, "checks/row_count/q14")["level"], "warn");
}

#[test]
fn warnings_pass_unless_fail_on_warn() {
    let p = Project::duckdb("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES (1);");
    let contract =
        "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be: 2, level: warn}}\n";
    let (code, r) = p.verify_json(contract, &[]);
    assert_eq!(code, 0);
    assert_eq!(r["outcome"], "warn");
    let (code, _) = p.verify_json(contract, &["--fail-on", "warn"]);
    assert_eq!(code, 1);
}

#[test]
fn percent_thresholds_compare_percentages() {
    let p = Project::duckdb(PEOPLE);
    let (_, r) = p.verify_json(
        "dataset: db/main/people
columns:
  - name: id
    checks:
      - missing: {threshold: {metric: percent, must_be_less_than: 30}}
      - missing: {qualifier: strict, threshold: {metric: percent, must_be_less_than: 25}}
      # where early Soda v4 contracts write the metric
      - missing: {qualifier: on_check, metric: percent, threshold: {must_be: 25}}
",
        &[],
    );
    assert_eq!(outcome(&r, "columns/id/missing"), "pass");
    assert_eq!(check(&r, "columns/id/missing")["value"], json!(25.0));
    assert_eq!(outcome(&r, "columns/id/missing/strict"), "fail");
    assert_eq!(outcome(&r, "columns/id/missing/on_check"), "pass");
    assert_eq!(
        check(&r, "columns/id/missing/on_check")["threshold"]["metric"],
        "percent"
    );
}

#[test]
fn validity_rules_of_every_kind() {
    let p = Project::duckdb(
        "CREATE TABLE t(code VARCHAR, n INTEGER);
         INSERT INTO t VALUES ('AB-1', 5), ('ab-2', 50), ('ABC-3', NULL), ('zz', 7), (NULL, 8);
         CREATE TABLE ref(code VARCHAR); INSERT INTO ref VALUES ('AB-1'), ('zz'), (NULL);",
    );
    let (_, r) = p.verify_json(
        "dataset: db/main/t
columns:
  - name: code
    checks:
      - invalid: {qualifier: fmt, valid_format: {regex: '^[A-Z]+-[0-9]$', name: code}}
      - invalid: {qualifier: notfmt, invalid_format: {regex: '^z'}}
      - invalid: {qualifier: bad, invalid_values: ['zz', 'yy']}
      - invalid: {qualifier: len, valid_length: 4}
      - invalid: {qualifier: minlen, valid_min_length: 3}
      - invalid: {qualifier: maxlen, valid_max_length: 4}
      - invalid: {qualifier: ref, valid_reference_data: {dataset: db/main/ref, column: code}}
      - invalid: {qualifier: both, valid_values: ['AB-1', 'ab-2', 'zz'], valid_max_length: 2}
  - name: n
    checks:
      - invalid: {valid_min: 6, valid_max: 10}
",
        &[],
    );
    let count = |q: &str| diag(&r, &format!("columns/code/invalid/{q}"), "invalid_count");
    assert_eq!(count("fmt"), json!(2)); // ab-2 (case), zz
    assert_eq!(count("notfmt"), json!(1)); // zz
    assert_eq!(count("bad"), json!(1));
    assert_eq!(count("len"), json!(2)); // ABC-3, zz
    assert_eq!(count("minlen"), json!(1)); // zz
    assert_eq!(count("maxlen"), json!(1)); // ABC-3
    assert_eq!(count("ref"), json!(2)); // ab-2, ABC-3: the NULL in ref matches nothing
    assert_eq!(count("both"), json!(3)); // AB-1, ab-2 too long; ABC-3 not listed
    assert_eq!(
        diag(&r, "columns/code/invalid/ref", "missing_count"),
        json!(1)
    );
    assert_eq!(diag(&r, "columns/n/invalid", "invalid_count"), json!(2)); // 5, 50
}

#[test]
fn column_defaults_are_replaced_not_merged() {
    let p = Project::duckdb(
        "CREATE TABLE t(v VARCHAR); INSERT INTO t VALUES ('X'), ('Y'), (NULL), ('ok'), ('bad');",
    );
    let (_, r) = p.verify_json(
        "dataset: db/main/t
columns:
  - name: v
    missing_values: ['X']
    valid_values: ['ok', 'Y']
    checks:
      - missing:
      - missing:
          qualifier: own
          missing_values: ['Y']
      - invalid:
      - invalid:
          qualifier: own
          valid_values: ['ok']
",
        &[],
    );
    assert_eq!(diag(&r, "columns/v/missing", "missing_count"), json!(2)); // X, NULL
    assert_eq!(diag(&r, "columns/v/missing/own", "missing_count"), json!(2)); // Y, NULL
    assert_eq!(diag(&r, "columns/v/invalid", "invalid_count"), json!(1)); // bad
                                                                          // own validity replaces the column's; the column's missing_values still apply
    assert_eq!(diag(&r, "columns/v/invalid/own", "invalid_count"), json!(2)); // Y, bad
}

#[test]
fn metric_and_failed_rows_expressions_and_queries() {
    let p = Project::duckdb(
        "CREATE TABLE orders(amount DECIMAL(10,2), status VARCHAR);
         INSERT INTO orders VALUES (10.50, 'open'), (-2.00, 'open'), (30.00, 'closed'), (-1.00, 'closed');",
    );
    let (_, r) = p.verify_json(
        "dataset: db/main/orders
checks:
  - metric: {expression: 'sum(amount)', threshold: {must_be: 37.5}}
  - metric:
      qualifier: q
      query: SELECT max(amount) FROM orders WHERE status = 'open'
      threshold: {must_be: 10.5}
  - failed_rows: {expression: amount < 0}
  - failed_rows:
      qualifier: pct
      expression: amount < 0
      filter: status = 'open'
      threshold: {metric: percent, must_be_less_than: 60}
  - failed_rows:
      qualifier: q
      query: SELECT * FROM orders WHERE amount < 0 AND status = 'closed'
      threshold: {must_be: 1}
",
        &[],
    );
    assert_eq!(outcome(&r, "checks/metric"), "pass");
    assert_eq!(outcome(&r, "checks/metric/q"), "pass");
    assert_eq!(outcome(&r, "checks/failed_rows"), "fail");
    assert_eq!(
        diag(&r, "checks/failed_rows", "failed_rows_count"),
        json!(2)
    );
    assert_eq!(
        diag(&r, "checks/failed_rows", "failed_rows_percent"),
        json!(50.0)
    );
    assert_eq!(
        diag(&r, "checks/failed_rows/pct", "failed_rows_percent"),
        json!(50.0)
    );
    assert_eq!(outcome(&r, "checks/failed_rows/pct"), "pass");
    assert_eq!(outcome(&r, "checks/failed_rows/q"), "pass");
}

#[test]
fn schema_compares_names_types_sizes_and_order() {
    let p = Project::duckdb(
        "CREATE TABLE t(id INTEGER, name VARCHAR, price DECIMAL(10,2), extra BOOLEAN);",
    );
    let (_, r) = p.verify_json(
        "dataset: db/main/t
columns:
  - name: id
    data_type: int4
  - name: price
    data_type: numeric
    numeric_precision: 10
    numeric_scale: 2
  - name: name
    data_type: text
checks:
  - schema: {allow_extra_columns: true, allow_other_column_order: true}
  - schema: {qualifier: strict}
",
        &[],
    );
    assert_eq!(
        outcome(&r, "checks/schema"),
        "pass",
        "{:#}",
        check(&r, "checks/schema")
    );
    assert_eq!(outcome(&r, "checks/schema/strict"), "fail");
    let diffs = diag(&r, "checks/schema/strict", "differences");
    let diffs: Vec<&str> = diffs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(diffs.len(), 2, "{diffs:?}");
    assert!(diffs
        .iter()
        .any(|d| d.contains("'extra' is not in the contract")));
    assert!(diffs.iter().any(|d| d.contains("different order")));

    let (_, r) = p.verify_json(
        "dataset: db/main/t
columns:
  - name: id
    data_type: varchar
  - name: gone
  - name: price
    data_type: decimal(12,2)
checks:
  - schema: {allow_extra_columns: true}
",
        &[],
    );
    let diffs = diag(&r, "checks/schema", "differences").to_string();
    assert!(
        diffs.contains("'id' has data type 'INTEGER', expected 'varchar'"),
        "{diffs}"
    );
    assert!(diffs.contains("'gone' is missing"), "{diffs}");
    assert!(
        diffs.contains("numeric_precision 10, expected 12"),
        "{diffs}"
    );
}

#[test]
fn awkward_identifiers_work() {
    let p = Project::duckdb(
        r#"CREATE SCHEMA "My Schema";
           CREATE TABLE "My Schema"."Order Items"("select" INTEGER, "we""ird" VARCHAR, "Mixed Case" VARCHAR, "group" INTEGER);
           INSERT INTO "My Schema"."Order Items" VALUES (1, 'a', 'A', 1), (1, NULL, 'B', 2), (2, 'c', NULL, 2);"#,
    );
    let (code, r) = p.verify_json(
        r#"dataset: db/My Schema/Order Items
columns:
  - name: select
    checks:
      - duplicate:
  - name: we"ird
    checks:
      - missing:
  - name: Mixed Case
    valid_values: [A, B]
    checks:
      - invalid:
      - missing:
  - name: group
    checks:
      - aggregate: {function: sum, threshold: {must_be: 5}}
checks:
  - duplicate: {columns: [select, group]}
  - schema:
"#,
        &[],
    );
    assert_eq!(
        diag(&r, "columns/select/duplicate", "duplicate_count"),
        json!(1)
    );
    assert_eq!(
        diag(&r, "columns/we\"ird/missing", "missing_count"),
        json!(1)
    );
    assert_eq!(
        diag(&r, "columns/Mixed Case/invalid", "invalid_count"),
        json!(0)
    );
    assert_eq!(
        diag(&r, "columns/Mixed Case/missing", "missing_count"),
        json!(1)
    );
    assert_eq!(outcome(&r, "columns/group/aggregate"), "pass");
    assert_eq!(diag(&r, "checks/duplicate", "duplicate_count"), json!(0));
    assert_eq!(outcome(&r, "checks/schema"), "pass");
    assert_eq!(code, 1);
}

#[test]
fn a_failed_query_only_affects_its_own_checks() {
    let p = Project::duckdb(PEOPLE);
    let (code, r) = p.verify_json(
        "dataset: db/main/people
columns:
  - name: id
    checks:
      - missing:
  - name: nope
    checks:
      - missing:
checks:
  - metric: {expression: 'sum(no_such_column)', threshold: {must_be: 1}}
  - row_count:
",
        &[],
    );
    assert_eq!(code, 3);
    assert_eq!(outcome(&r, "checks/metric"), "not_evaluated");
    assert!(check(&r, "checks/metric")["error"]
        .as_str()
        .unwrap()
        .contains("no_such_column"));
    assert_eq!(outcome(&r, "columns/nope/missing"), "not_evaluated");
    assert!(check(&r, "columns/nope/missing")["error"]
        .as_str()
        .unwrap()
        .contains("'nope' not found"));
    assert_eq!(outcome(&r, "columns/id/missing"), "fail");
    assert_eq!(outcome(&r, "checks/row_count"), "pass");
}

#[test]
fn a_missing_table_is_a_runtime_error_and_other_datasets_still_run() {
    let p = Project::duckdb(PEOPLE);
    p.write(
        "a.yml",
        "dataset: db/main/nothere\nchecks:\n  - row_count:\n",
    );
    p.write(
        "b.yml",
        "dataset: db/main/people\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "a.yml", "b.yml", "-o", "json"]);
    assert_eq!(run.code, 3);
    let r = run.json();
    assert!(r["datasets"][0]["error"]
        .as_str()
        .unwrap()
        .contains("not found"));
    assert_eq!(r["datasets"][0]["checks"][0]["outcome"], "not_evaluated");
    assert_eq!(r["datasets"][1]["checks"][0]["outcome"], "pass");
}

#[test]
fn variables_come_from_set_then_defaults() {
    let p = Project::duckdb(PEOPLE);
    let contract = "dataset: db/main/people
filter: age >= ${var.MIN_AGE}
variables:
  MIN_AGE: {default: 2}
checks:
  - row_count: {threshold: {must_be: 1}}
";
    let (code, _) = p.verify_json(contract, &[]);
    assert_eq!(code, 0);
    let (code, r) = p.verify_json(contract, &["--set", "MIN_AGE=1"]);
    assert_eq!(code, 1);
    assert_eq!(check(&r, "checks/row_count")["value"], json!(2.0));
}

#[test]
fn variable_defaults_refer_to_variables_and_soda_now_is_the_runs_now() {
    let p = Project::duckdb(PEOPLE);
    // MIN is a default made of another variable, which --set can replace
    let contract = "dataset: db/main/people
variables:
  MIN: {default: \"${var.BASE} + 1\"}
  BASE: {default: 1}
filter: age >= ${var.MIN}
check_attributes: {at: \"${soda.NOW}\", base: \"${var.MIN}\"}
checks:
  - row_count: {threshold: {must_be: 1}}
";
    let (code, r) = p.verify_json(contract, &["--now", "2025-01-03T00:00:00Z"]);
    assert_eq!(code, 0, "{r}");
    let attributes = &check(&r, "checks/row_count")["attributes"];
    assert_eq!(attributes["at"], "2025-01-03T00:00:00Z");
    assert_eq!(attributes["base"], "1 + 1");
    let (code, r) = p.verify_json(contract, &["--set", "BASE=0"]);
    assert_eq!(code, 1);
    assert_eq!(check(&r, "checks/row_count")["value"], json!(2.0));
    // Soda's declarations: required, typed, and checks_filter for filter
    let soda = "dataset: db/main/people
variables:
  MIN: {required: true, type: string}
  AS_OF: {type: timestamp, default: \"2025-01-01T00:00:00Z\"}
checks_filter: age >= ${var.MIN}
checks:
  - row_count: {threshold: {must_be: 2}}
";
    let (code, r) = p.verify_json(soda, &["--set", "MIN=1"]);
    assert_eq!(code, 0, "{r}");
}

#[test]
fn check_attributes_apply_to_every_check_and_a_checks_own_win() {
    let p = Project::duckdb(PEOPLE);
    let (_, r) = p.verify_json(
        "dataset: db/main/people
variables:
  TEAM: {default: data}
check_attributes: {owner: \"${var.TEAM}\", tier: 1}
columns:
  - name: id
    checks:
      - missing: {attributes: {tier: 2, pager: true}}
checks:
  - row_count:
",
        &[],
    );
    assert_eq!(
        check(&r, "columns/id/missing")["attributes"],
        json!({"owner": "data", "tier": 2, "pager": true})
    );
    assert_eq!(
        check(&r, "checks/row_count")["attributes"],
        json!({"owner": "data", "tier": 1})
    );
}

#[test]
fn files_data_source_reads_csv_parquet_and_json() {
    let p = Project::files("f");
    p.write("data/a.csv", "id,name\n1,x\n2,\n2,z\n");
    p.write("data/sub/b.json", "[{\"id\": 1}, {\"id\": null}]");
    {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let path = p.path().join("data/c.parquet");
        conn.execute_batch(&format!(
            "COPY (SELECT range AS id FROM range(5)) TO '{}' (FORMAT parquet)",
            path.display()
        ))
        .unwrap();
    }
    p.write("a.yml", "dataset: f/a.csv\ncolumns:\n  - name: id\n    checks:\n      - duplicate:\n  - name: name\n    checks:\n      - missing:\n");
    p.write(
        "b.yml",
        "dataset: f/sub/b.json\ncolumns:\n  - name: id\n    checks:\n      - missing:\n",
    );
    p.write("c.yml", "dataset: f/c.parquet\nchecks:\n  - row_count: {threshold: {must_be: 5}}\n  - failed_rows: {query: 'SELECT * FROM c WHERE id > 3'}\n");
    let run = p.assay(&["verify", "a.yml", "b.yml", "c.yml", "-o", "json"]);
    let r = run.json();
    assert_eq!(
        diag(&r, "columns/id/duplicate", "duplicate_count"),
        json!(1)
    );
    assert_eq!(diag(&r, "columns/name/missing", "missing_count"), json!(1));
    assert_eq!(
        r["datasets"][1]["checks"][0]["diagnostics"]["missing_count"],
        json!(1)
    );
    assert_eq!(r["datasets"][2]["checks"][0]["outcome"], "pass");
    assert_eq!(
        r["datasets"][2]["checks"][1]["diagnostics"]["failed_rows_count"],
        json!(1)
    );
    assert_eq!(run.code, 1);

    // a dataset whose file is not there names the file it looked for
    p.write("d.yml", "dataset: f/nothere.csv\nchecks:\n  - row_count:\n");
    let run = p.assay(&["verify", "d.yml", "-o", "json"]);
    assert_eq!(run.code, 3);
    let error = run.json()["datasets"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("nothere.csv' does not exist"), "{error}");
}

#[test]
fn csv_files_read_as_duckdb_sniffs_them_whatever_their_name_and_shape() {
    // a CSV file is sniffed once when the data source opens (delimiter, header, types,
    // date formats) and read with what was found: the same reading read_csv_auto gives
    let p = Project::files("f");
    p.write(
        "data/o'brien;x.csv",
        "id;when\n1;27/05/2025\n2;28/05/2025\n3;\n",
    );
    p.write("data/empty.csv", "id,name\n");
    p.write(
        "a.yml",
        "dataset: \"f/o'brien;x.csv\"\ncolumns:\n  - name: id\n    data_type: bigint\n  - name: when\n    data_type: date\n    checks:\n      - missing:\n      - invalid:\n          valid_min: '2025-05-28'\nchecks:\n  - schema:\n  - row_count: {threshold: {must_be: 3}}\n",
    );
    p.write(
        "b.yml",
        "dataset: f/empty.csv\nchecks:\n  - row_count: {threshold: {must_be: 0}}\n",
    );
    let run = p.assay(&["verify", "a.yml", "b.yml", "-o", "json"]);
    let r = run.json();
    assert_eq!(run.code, 1, "{r}");
    assert_eq!(
        r["datasets"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "schema")
            .unwrap()["outcome"],
        "pass",
        "{r}"
    );
    assert_eq!(check(&r, "checks/row_count")["outcome"], "pass", "{r}");
    assert_eq!(diag(&r, "columns/when/missing", "missing_count"), json!(1));
    // 27/05/2025 is a date before the 28th: read as a date, not as text
    assert_eq!(diag(&r, "columns/when/invalid", "invalid_count"), json!(1));
    assert_eq!(r["datasets"][1]["checks"][0]["outcome"], "pass", "{r}");
}

#[test]
fn results_carry_attributes_names_and_settings() {
    let p = Project::duckdb(PEOPLE);
    let (_, r) = p.verify_json(
        "dataset: db/main/people
columns:
  - name: id
    checks:
      - invalid:
          name: ids are digits
          valid_format: {regex: '^[0-9]+$', name: digits}
          attributes: {owner: data-team, priority: 1}
",
        &[],
    );
    let c = check(&r, "columns/id/invalid");
    assert_eq!(c["name"], "ids are digits");
    assert_eq!(
        c["attributes"],
        json!({"owner": "data-team", "priority": 1})
    );
    assert_eq!(
        c["settings"]["valid_format"],
        json!({"regex": "^[0-9]+$", "name": "digits"})
    );
    assert_eq!(
        c["threshold"],
        json!({"metric": "count", "must_be": 0, "level": "fail"})
    );
    assert_eq!(r["schema_version"], "1.0");
    assert_eq!(r["tool"]["name"], "assay");
    assert!(uuid_like(r["scan_id"].as_str().unwrap()));
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

/// A run reads every dataset's columns with one catalog statement per data source, and a
/// dataset that is not there still gets its own answer (not found, with the name it
/// likely meant) without taking the others down.
#[test]
fn a_run_reads_its_catalog_in_one_statement_on_every_engine() {
    use common::engines::{sql_engines, Cell, Sandbox};
    for engine in sql_engines() {
        let sb = Sandbox::new(engine);
        let columns = [
            ("id".to_string(), "integer".to_string()),
            ("amount".to_string(), "decimal(10,2)".to_string()),
        ];
        let rows = [vec![Cell::Number("1".into()), Cell::Number("2.50".into())]];
        let mut args = vec!["verify".to_string()];
        for table in ["alpha", "beta", "gamma_2"] {
            sb.create_table(table, &columns, &rows);
            let contract = format!("{table}.yml");
            sb.project.write(
                &contract,
                &format!(
                    "dataset: {}/{table}\ncolumns:\n  - name: id\n  - name: amount\nchecks:\n  - schema:\n  - row_count: {{threshold: {{must_be: 1}}}}\n",
                    sb.dataset_prefix()
                ),
            );
            args.push(contract);
        }
        sb.project.write(
            "missing.yml",
            &format!(
                "dataset: {}/alphx\nchecks:\n  - row_count:\n",
                sb.dataset_prefix()
            ),
        );
        args.extend(["missing.yml", "-o", "json", "-vv"].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = sb.project.assay(&args);
        let catalog_reads: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.contains("columns of "))
            .collect();
        assert_eq!(
            catalog_reads.len(),
            1,
            "{}: {catalog_reads:?}\n{}",
            engine.name(),
            run.stderr
        );
        assert!(
            catalog_reads[0].contains("columns of 4 dataset(s)"),
            "{}: {}",
            engine.name(),
            catalog_reads[0]
        );
        assert_eq!(run.code, 3, "{}: {}", engine.name(), run.stderr);
        let r = run.json();
        let datasets = r["datasets"].as_array().unwrap();
        assert_eq!(datasets.len(), 4);
        for d in &datasets[..3] {
            assert_eq!(d["outcome"], "pass", "{}: {d}", engine.name());
        }
        let error = datasets[3]["error"].as_str().unwrap();
        assert!(
            error.contains("not found") && error.contains("alpha'?"),
            "{}: {error}",
            engine.name()
        );
    }
}

//! Reconciliation: a target dataset against a source dataset in another (or the same)
//! engine, on real servers. Every pair of engines the conformance suite has runs every
//! metric-level check on tables that differ in known ways.

use crate::common;

use common::engines::{sql_engines, Cell, Engine, Sandbox};
use common::Project;
use serde_json::Value;

const COLUMNS: [(&str, &str); 4] = [
    ("id", "integer"),
    ("amount", "decimal(10,2)"),
    ("note", "varchar(20)"),
    ("updated", "timestamp"),
];

fn row(id: i64, amount: &str, note: Option<&str>, updated: &str) -> Vec<Cell> {
    vec![
        Cell::Number(id.to_string()),
        Cell::Number(amount.into()),
        note.map_or(Cell::Null, |n| Cell::Text(n.into())),
        Cell::Text(updated.into()),
    ]
}

/// The source's rows.
fn source_rows() -> Vec<Vec<Cell>> {
    vec![
        row(1, "10.50", Some("a"), "2025-01-01 10:00:00"),
        row(2, "20.00", Some("b"), "2025-01-02 10:00:00"),
        row(3, "30.25", None, "2025-01-03 10:00:00"),
        row(4, "40.00", Some("d"), "2025-01-04 10:00:00"),
    ]
}

/// The target's: row 2's amount changed, row 3 duplicated, row 4 deleted, row 5 (newer,
/// its note missing) inserted.
fn target_rows() -> Vec<Vec<Cell>> {
    vec![
        row(1, "10.50", Some("a"), "2025-01-01 10:00:00"),
        row(2, "25.00", Some("b"), "2025-01-02 10:00:00"),
        row(3, "30.25", None, "2025-01-03 10:00:00"),
        row(3, "30.25", None, "2025-01-03 10:00:00"),
        row(5, "50.00", None, "2025-01-05 12:00:00"),
    ]
}

fn columns() -> Vec<(String, String)> {
    COLUMNS
        .iter()
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect()
}

/// One sandbox per engine holding both tables (`recon_source`, `recon_target`).
fn sandboxes() -> Vec<Sandbox> {
    sql_engines()
        .into_iter()
        .map(|e| {
            let s = Sandbox::new(e);
            s.create_table("recon_source", &columns(), &source_rows());
            s.create_table("recon_target", &columns(), &target_rows());
            s
        })
        .collect()
}

/// A project whose data sources `src` and `tgt` are the two sandboxes.
fn pair(source: &Sandbox, target: &Sandbox) -> Project {
    let p = Project::empty();
    p.write(
        "assay.yml",
        &format!(
            "data_sources:\n{}{}",
            source.data_source_entry("src"),
            target.data_source_entry("tgt")
        ),
    );
    p
}

fn dataset(side: &str, sandbox: &Sandbox, table: &str) -> String {
    format!(
        "{side}/{}/{}",
        sandbox.schema,
        sandbox.engine.table_name(table)
    )
}

fn every_check_contract(source: &Sandbox, target: &Sandbox) -> String {
    format!(
        "dataset: {}
reconciliation:
  source:
    dataset: {}
  checks:
    - row_count_diff:
    - row_count_diff:
        qualifier: early
        filter: id < 3
    - row_count_diff:
        qualifier: lenient
        threshold: {{must_be_less_than: 2}}
    - aggregate_diff: {{function: sum, column: amount}}
    - aggregate_diff: {{function: avg, column: amount, qualifier: pct, threshold: {{metric: percent, must_be_less_than: 50}}}}
    - duplicate_diff: {{columns: [id]}}
    - duplicate_diff: {{columns: [id], qualifier: pct, threshold: {{metric: percent, must_be_less_than: 25}}}}
    - missing_diff: {{column: note}}
    - missing_diff: {{column: note, qualifier: pct, threshold: {{metric: percent, must_be_less_than: 40}}}}
    - freshness_diff: {{column: updated, threshold: {{unit: hour, must_be_less_than: 24}}}}
    - metric_diff:
        source_expression: SUM(id)
        target_expression: SUM(id)
        threshold: {{metric: percent, must_be_less_than: 50}}
    - rows_diff: {{source_key_columns: [id], target_key_columns: [id]}}
    - schema_diff:
",
        dataset("tgt", target, "recon_target"),
        dataset("src", source, "recon_source"),
    )
}

fn value(results: &Value, id: &str) -> f64 {
    common::check(results, id)["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("{id} has no value: {:#}", common::check(results, id)))
}

#[test]
fn every_metric_check_on_every_pair_of_engines() {
    let sandboxes = sandboxes();
    for source in &sandboxes {
        for target in &sandboxes {
            let pair_name = format!("{} -> {}", source.engine.name(), target.engine.name());
            let p = pair(source, target);
            let (code, results) = p.verify_json(&every_check_contract(source, target), &[]);
            assert_eq!(code, 1, "{pair_name}: {results:#}");
            let expect: &[(&str, &str, f64)] = &[
                ("reconciliation/row_count_diff", "fail", 1.0),
                ("reconciliation/row_count_diff/early", "pass", 0.0),
                ("reconciliation/row_count_diff/lenient", "pass", 1.0),
                ("reconciliation/aggregate_diff", "fail", 45.25),
                // avg: 25.1875 in the source, 29.2 in the target
                (
                    "reconciliation/aggregate_diff/pct",
                    "pass",
                    15.930521091811414,
                ),
                ("reconciliation/duplicate_diff", "fail", 1.0),
                // 0% of the source's rows repeat an id, 20% of the target's
                ("reconciliation/duplicate_diff/pct", "pass", 20.0),
                // 1 of the source's 4 notes missing, 3 of the target's 5
                ("reconciliation/missing_diff", "fail", 2.0),
                ("reconciliation/missing_diff/pct", "pass", 35.0),
                ("reconciliation/freshness_diff", "fail", 26.0),
                ("reconciliation/metric_diff", "pass", 40.0),
                ("reconciliation/schema_diff", "pass", 0.0),
                // 4 only in the source; the second 3 and 5 only in the target; 2 differs
                ("reconciliation/rows_diff", "fail", 4.0),
            ];
            for (id, outcome, v) in expect {
                assert_eq!(
                    common::outcome(&results, id),
                    *outcome,
                    "{pair_name} {id}: {:#}",
                    common::check(&results, id)
                );
                let got = value(&results, id);
                assert!(
                    (got - v).abs() < 1e-9,
                    "{pair_name} {id}: {got} != {v}: {:#}",
                    common::check(&results, id)
                );
            }
            let agg = common::check(&results, "reconciliation/aggregate_diff");
            assert_eq!(agg["diagnostics"]["source_value"].as_f64(), Some(100.75));
            assert_eq!(agg["diagnostics"]["target_value"].as_f64(), Some(146.0));
            assert_eq!(
                agg["settings"]["source_dataset"],
                dataset("src", source, "recon_source").as_str()
            );
        }
    }
}

#[test]
fn named_sources_in_two_engines_each_check_choosing_one() {
    let pg = Sandbox::new(Engine::Postgres);
    pg.create_table("recon_source", &columns(), &source_rows());
    let my = Sandbox::new(Engine::MySql);
    my.create_table("recon_source", &columns(), &target_rows());
    let duck = Sandbox::new(Engine::DuckDb);
    duck.create_table("recon_target", &columns(), &target_rows());
    let p = Project::empty();
    p.write(
        "assay.yml",
        &format!(
            "data_sources:\n{}{}{}",
            pg.data_source_entry("pg"),
            my.data_source_entry("my"),
            duck.data_source_entry("tgt")
        ),
    );
    let contract = format!(
        "dataset: {}
reconciliation:
  sources:
    - name: legacy
      dataset: pg/{}/recon_source
      filter: id <> 4
    - name: replica
      dataset: my/{}/recon_source
  checks:
    - row_count_diff: {{source: legacy}}
    - row_count_diff: {{source: replica}}
    - aggregate_diff: {{source: replica, function: max, column: amount}}
",
        dataset("tgt", &duck, "recon_target"),
        pg.schema,
        my.schema
    );
    let (code, results) = p.verify_json(&contract, &[]);
    assert_eq!(code, 1, "{results:#}");
    // the legacy source without its row 4 has 3 rows; the target 5
    assert_eq!(value(&results, "reconciliation/row_count_diff/legacy"), 2.0);
    assert_eq!(
        common::outcome(&results, "reconciliation/row_count_diff/replica"),
        "pass"
    );
    assert_eq!(
        common::outcome(&results, "reconciliation/aggregate_diff/replica"),
        "pass"
    );
}

#[test]
fn a_source_filter_applies_to_the_source_and_a_check_filter_to_both() {
    let duck = Sandbox::new(Engine::DuckDb);
    duck.create_table("recon_source", &columns(), &source_rows());
    duck.create_table("recon_target", &columns(), &target_rows());
    let p = pair(&duck, &duck);
    let contract = format!(
        "dataset: {}
filter: id <> 5
reconciliation:
  source:
    dataset: {}
    filter: id <> 4
  checks:
    - row_count_diff:
    - row_count_diff: {{qualifier: below3, filter: id < 3}}
",
        dataset("tgt", &duck, "recon_target"),
        dataset("src", &duck, "recon_source"),
    );
    let (_, results) = p.verify_json(&contract, &[]);
    // source: ids 1,2,3; target without 5: ids 1,2,3,3
    assert_eq!(value(&results, "reconciliation/row_count_diff"), 1.0);
    let c = common::check(&results, "reconciliation/row_count_diff");
    assert_eq!(c["diagnostics"]["source_value"].as_f64(), Some(3.0));
    assert_eq!(c["diagnostics"]["target_value"].as_f64(), Some(4.0));
    assert_eq!(value(&results, "reconciliation/row_count_diff/below3"), 0.0);
}

#[test]
fn contract_errors_in_reconciliation_name_the_line_and_exit_2() {
    let duck = Sandbox::new(Engine::DuckDb);
    duck.create_table("recon_source", &columns(), &source_rows());
    let p = pair(&duck, &duck);
    let t = dataset("tgt", &duck, "recon_source");
    let s = dataset("src", &duck, "recon_source");
    let cases: Vec<(String, &str)> = vec![
        (
            format!("dataset: {t}\nreconciliation:\n  source: {{dataset: {s}}}\n  checks:\n    - row_count_diff: {{colum: id}}\n"),
            "colum",
        ),
        (
            format!("dataset: {t}\nreconciliation:\n  source: {{dataset: {s}}}\n  sources: [{{name: a, dataset: {s}}}]\n  checks:\n    - row_count_diff:\n"),
            "not both",
        ),
        (
            format!("dataset: {t}\nreconciliation:\n  sources:\n    - {{name: a, dataset: {s}}}\n    - {{name: b, dataset: {s}}}\n  checks:\n    - row_count_diff:\n"),
            "does not say which source",
        ),
        (
            format!("dataset: {t}\nreconciliation:\n  sources:\n    - {{name: a, dataset: {s}}}\n  checks:\n    - row_count_diff: {{source: z}}\n"),
            "no reconciliation source is named 'z'",
        ),
        (
            format!("dataset: {t}\nreconciliation:\n  source: {{dataset: nowhere/main/x}}\n  checks:\n    - row_count_diff:\n"),
            "unknown data source 'nowhere'",
        ),
        (
            format!("dataset: {t}\nchecks:\n  - row_count_diff:\n"),
            "reconciliation",
        ),
        (
            format!("dataset: {t}\nreconciliation:\n  source: {{dataset: {s}}}\n  checks:\n    - schema_diff: {{threshold: {{metric: percent, must_be: 0}}}}\n"),
            "metric: percent",
        ),
        (
            format!("dataset: {t}\nreconciliation:\n  source: {{dataset: {s}}}\n  checks:\n    - metric_diff: {{source_expression: SUM(id)}}\n"),
            "target_expression",
        ),
        (
            format!("dataset: {t}\nreconciliation:\n  source: {{dataset: {s}}}\n  checks:\n    - aggregate_diff: {{column: amount, function: median}}\n"),
            "unknown aggregate function 'median'",
        ),
        (
            format!("dataset: {t}\nreconciliation:\n  source: {{dataset: {s}}}\n  checks:\n    - freshness_diff: {{column: updated, unit: week}}\n"),
            "unit must be",
        ),
    ];
    for (contract, expected) in cases {
        p.write("contract.yml", &contract);
        let run = p.assay(&["verify", "contract.yml"]);
        assert_eq!(run.code, 2, "{contract}\n{}", run.stderr);
        assert!(
            run.stderr.contains(expected),
            "expected '{expected}' in:\n{}\nfor\n{contract}",
            run.stderr
        );
        assert!(run.stderr.contains("contract.yml:"), "{}", run.stderr);
    }
}

#[test]
fn a_source_that_cannot_be_read_leaves_its_checks_not_evaluated_and_says_why() {
    let duck = Sandbox::new(Engine::DuckDb);
    duck.create_table("recon_target", &columns(), &target_rows());
    let p = pair(&duck, &duck);
    let contract = format!(
        "dataset: {}
checks:
  - row_count:
reconciliation:
  source:
    dataset: src/main/no_such_table
  checks:
    - row_count_diff:
",
        dataset("tgt", &duck, "recon_target"),
    );
    let (code, results) = p.verify_json(&contract, &[]);
    assert_eq!(code, 3, "{results:#}");
    assert_eq!(common::outcome(&results, "checks/row_count"), "pass");
    let c = common::check(&results, "reconciliation/row_count_diff");
    assert_eq!(c["outcome"], "not_evaluated");
    assert!(
        c["error"]
            .as_str()
            .unwrap()
            .contains("source dataset src/main/no_such_table not found"),
        "{c:#}"
    );
}

#[test]
fn plan_shows_the_queries_of_both_sides() {
    let pg = Sandbox::new(Engine::Postgres);
    pg.create_table("recon_source", &columns(), &source_rows());
    let duck = Sandbox::new(Engine::DuckDb);
    duck.create_table("recon_target", &columns(), &target_rows());
    let p = pair(&pg, &duck);
    p.write("contract.yml", &every_check_contract(&pg, &duck));
    let run = p.assay(&["verify", "contract.yml", "--plan"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("-- source dataset src/"),
        "{}",
        run.stdout
    );
    // the source's aggregates are in the source's one metrics query, quoted as Postgres
    // quotes, and the target's in its own
    let source_part = &run.stdout[run.stdout.find("-- source dataset").unwrap()..];
    assert!(source_part.contains("SUM(\"amount\")"), "{source_part}");
    assert!(source_part.contains("SUM(id)"), "{source_part}");
    assert_eq!(
        source_part.matches("-- metrics\n").count(),
        1,
        "{source_part}"
    );
}

/// The canonical form's cases: the same values written by each engine in other types
/// (`canon_b`: integers as decimals, decimals at another scale, doubles as reals, text
/// as TEXT, dates as timestamps, naive timestamps as zoned ones) and the same types with
/// values changed in known ways (`canon_c`).
mod canonical {
    use super::*;

    fn num(n: &str) -> Cell {
        Cell::Number(n.into())
    }
    fn text(t: &str) -> Cell {
        Cell::Text(t.into())
    }

    const A: [(&str, &str); 9] = [
        ("id", "integer"),
        ("n_int", "bigint"),
        ("n_dec", "decimal(12,3)"),
        ("n_flt", "double"),
        ("txt", "varchar(20)"),
        ("flag", "boolean"),
        ("day", "date"),
        ("at", "timestamp"),
        ("atz", "timestamptz"),
    ];
    /// canon_a's values in other types, under other names
    const B: [(&str, &str); 9] = [
        ("b_id", "integer"),
        ("b_int", "decimal(18,2)"),
        ("b_dec", "decimal(15,4)"),
        ("b_flt", "real"),
        ("b_txt", "text"),
        ("b_flag", "boolean"),
        ("b_day", "timestamp"),
        ("b_at", "timestamptz"),
        ("b_atz", "timestamptz"),
    ];

    fn rows_a() -> Vec<Vec<Cell>> {
        vec![
            vec![
                num("1"),
                num("42"),
                num("1.500"),
                num("0.1"),
                text("aé"),
                num("true"),
                text("2025-01-02"),
                text("2025-01-02 03:04:05.123456"),
                text("2025-01-02T03:04:05.123456Z"),
            ],
            vec![
                num("2"),
                num("-7"),
                num("0.000"),
                num("-2.5"),
                text(""),
                num("false"),
                text("1999-12-31"),
                text("2000-01-01 00:00:00"),
                text("1999-12-31T22:00:00Z"),
            ],
            vec![
                num("3"),
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
            ],
            vec![
                num("4"),
                num("123456789"),
                num("123456789.125"),
                num("10000000000"),
                text("x  "),
                num("true"),
                text("2024-02-29"),
                text("2024-02-29 23:59:59.999999"),
                text("2024-02-29T23:59:59.999999Z"),
            ],
        ]
    }

    fn rows_b() -> Vec<Vec<Cell>> {
        vec![
            vec![
                num("1"),
                num("42"),
                num("1.5"),
                num("0.1"),
                text("aé"),
                num("true"),
                text("2025-01-02 00:00:00"),
                text("2025-01-02T03:04:05.123456Z"),
                text("2025-01-02T03:04:05.123456Z"),
            ],
            vec![
                num("2"),
                num("-7"),
                num("0"),
                num("-2.5"),
                text(""),
                num("false"),
                text("1999-12-31 00:00:00"),
                text("2000-01-01T00:00:00Z"),
                text("1999-12-31T22:00:00Z"),
            ],
            vec![
                num("3"),
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
            ],
            vec![
                num("4"),
                num("123456789.00"),
                num("123456789.1250"),
                num("10000000000"),
                text("x  "),
                num("true"),
                text("2024-02-29 00:00:00"),
                text("2024-02-29T23:59:59.999999Z"),
                text("2024-02-29T23:59:59.999999Z"),
            ],
        ]
    }

    /// canon_a changed, a value of each type: 1's decimal and boolean; 2's integer, its
    /// empty text made NULL and its instant an hour later (a time zone shift); 3 deleted;
    /// 4's trailing spaces dropped, its double changed past the sixth decimal place, its
    /// date a day later and its timestamp a microsecond earlier; 5 inserted twice.
    fn rows_c() -> Vec<Vec<Cell>> {
        let mut rows = rows_a();
        rows[0][2] = num("1.501");
        rows[0][5] = num("false");
        rows[1][1] = num("-8");
        rows[1][4] = Cell::Null;
        rows[1][8] = text("1999-12-31T23:00:00Z");
        rows[3][3] = num("10000000000.001");
        rows[3][4] = text("x");
        rows[3][6] = text("2024-03-01");
        rows[3][7] = text("2024-02-29 23:59:59.999998");
        rows.remove(2);
        for _ in 0..2 {
            rows.push(vec![
                num("5"),
                num("5"),
                num("5"),
                num("5"),
                text("new"),
                num("false"),
                text("2025-05-05"),
                text("2025-05-05 05:05:05"),
                text("2025-05-05T05:05:05Z"),
            ]);
        }
        rows
    }

    fn table_columns(spec: &[(&str, &str)]) -> Vec<(String, String)> {
        spec.iter()
            .map(|(c, t)| (c.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn every_rule_gives_one_hash_on_every_engine_and_every_change_is_found() {
        let sandboxes: Vec<Sandbox> = sql_engines()
            .into_iter()
            .map(|e| {
                let s = Sandbox::new(e);
                s.create_table("canon_a", &table_columns(&A), &rows_a());
                s.create_table("canon_b", &table_columns(&B), &rows_b());
                s.create_table("canon_c", &table_columns(&A), &rows_c());
                s
            })
            .collect();
        let names = |spec: &[(&str, &str)]| {
            spec[1..]
                .iter()
                .map(|(c, _)| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for source in &sandboxes {
            for target in &sandboxes {
                let pair_name = format!("{} -> {}", source.engine.name(), target.engine.name());
                let p = pair(source, target);
                let src = dataset("src", source, "canon_a");
                p.write(
                    "same.yml",
                    &format!(
                        "dataset: {}\nreconciliation:\n  source: {{dataset: {src}}}\n  checks:\n    - rows_diff:\n        source_key_columns: [id]\n        target_key_columns: [b_id]\n        source_columns: [{}]\n        target_columns: [{}]\n",
                        dataset("tgt", target, "canon_b"),
                        names(&A),
                        names(&B)
                    ),
                );
                p.write(
                    "changed.yml",
                    &format!(
                        "dataset: {}\nreconciliation:\n  source: {{dataset: {src}}}\n  checks:\n    - rows_diff:\n        source_key_columns: [id]\n        target_key_columns: [id]\n    - rows_diff:\n        qualifier: whole_rows\n",
                        dataset("tgt", target, "canon_c"),
                    ),
                );
                let run = p.assay(&["verify", "same.yml", "changed.yml", "-o", "json"]);
                let results = run.json();
                assert_eq!(run.code, 1, "{pair_name}: {}", run.stderr);
                let same = &results["datasets"][0]["checks"][0];
                assert_eq!(same["outcome"], "pass", "{pair_name}: {same:#}");
                assert_eq!(same["value"].as_f64(), Some(0.0), "{pair_name}: {same:#}");
                let changed = &results["datasets"][1]["checks"][0];
                let d = &changed["diagnostics"];
                assert_eq!(changed["outcome"], "fail", "{pair_name}: {changed:#}");
                assert_eq!(
                    (
                        d["only_in_source"].as_u64(),
                        d["only_in_target"].as_u64(),
                        d["differing"].as_u64()
                    ),
                    (Some(1), Some(2), Some(3)),
                    "{pair_name}: {changed:#}"
                );
                let cols = &d["column_differences"];
                for (column, n) in [
                    ("n_int", 1),
                    ("n_dec", 1),
                    ("n_flt", 1),
                    ("txt", 2),
                    ("flag", 1),
                    ("day", 1),
                    ("at", 1),
                    ("atz", 1),
                ] {
                    assert_eq!(
                        cols[column].as_u64(),
                        Some(n),
                        "{pair_name} {column}: {changed:#}"
                    );
                }
                assert_eq!(d["target_duplicate_keys"].as_u64(), Some(2), "{pair_name}");
                assert_eq!(changed["value"].as_f64(), Some(6.0), "{pair_name}");
                // 6 of the source's 4 rows
                assert_eq!(d["source_rows"].as_u64(), Some(4));
                let whole = &results["datasets"][1]["checks"][1];
                assert_eq!(
                    (
                        whole["diagnostics"]["only_in_source"].as_u64(),
                        whole["diagnostics"]["only_in_target"].as_u64()
                    ),
                    (Some(4), Some(5)),
                    "{pair_name}: {whole:#}"
                );
            }
        }
    }
}

#[test]
fn rows_diff_samples_go_to_the_diagnostics_store_and_nowhere_else() {
    let pg = Sandbox::new(Engine::Postgres);
    pg.create_table("recon_source", &columns(), &source_rows());
    let duck = Sandbox::new(Engine::DuckDb);
    // a value to look for: only the store may hold it
    let mut rows = target_rows();
    rows[1][2] = Cell::Text("secret-ish note".into());
    duck.create_table("recon_target", &columns(), &rows);
    let p = pair(&pg, &duck);
    let contract = format!(
        "dataset: {}\nreconciliation:\n  source: {{dataset: {}}}\n  checks:\n    - rows_diff: {{source_key_columns: [id], target_key_columns: [id]}}\n",
        dataset("tgt", &duck, "recon_target"),
        dataset("src", &pg, "recon_source"),
    );
    p.write("contract.yml", &contract);
    let run = p.assay(&["verify", "contract.yml", "-o", "json", "-vv"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!run.stdout.contains("secret-ish"), "{}", run.stdout);
    assert!(!run.stderr.contains("secret-ish"), "{}", run.stderr);
    let check = common::check(&run.json(), "reconciliation/rows_diff").clone();
    assert_eq!(
        check["failed_rows"]["captured"].as_u64(),
        Some(4),
        "{check:#}"
    );
    let rows = p.assay(&["rows", "reconciliation/rows_diff", "-o", "json"]);
    assert_eq!(rows.code, 0, "{}", rows.stderr);
    let stored = rows.json();
    let stored = stored.as_array().unwrap();
    assert_eq!(stored.len(), 4, "{stored:#?}");
    let differs = stored
        .iter()
        .find(|r| r["row"]["difference"] == "differs")
        .unwrap_or_else(|| panic!("{stored:#?}"));
    assert_eq!(differs["row"]["key"]["id"], "2");
    assert_eq!(differs["row"]["columns"]["amount"]["source"], "20");
    assert_eq!(differs["row"]["columns"]["amount"]["target"], "25");
    assert_eq!(
        differs["row"]["columns"]["note"]["target"], "secret-ish note",
        "{differs:#}"
    );
    assert_eq!(
        stored
            .iter()
            .filter(|r| r["row"]["difference"] == "only_in_target")
            .count(),
        2
    );
}

/// The example of Soda's contract language reference for reconciliation, as an outsider
/// would adapt it from the page alone: a dataset-level filter on the target, a source
/// filter in the same SQL, the checks in the page's order with its keys. PostgreSQL is
/// the "on premises" source, DuckDB the "cloud" target.
#[test]
fn the_reference_example_of_sodas_documentation_runs_as_written() {
    let pg = Sandbox::new(Engine::Postgres);
    let duck = Sandbox::new(Engine::DuckDb);
    // 110 employees created today, 10 created three days ago (outside both filters)
    let now = chrono::Utc::now();
    let today = now.format("%Y-%m-%d %H:%M:%S");
    let old = (now - chrono::Duration::days(3)).format("%Y-%m-%d %H:%M:%S");
    let create = |s: &Sandbox, missing: i64, renamed: i64| {
        let t = s.qualified("dim_employee");
        let series = match s.engine {
            Engine::Postgres => "generate_series(1, 120) AS g(k)",
            _ => "range(1, 121) AS g(k)",
        };
        s.run(&[
            format!("CREATE TABLE {t} (employee_key INTEGER, parent_employee_key INTEGER, first_name VARCHAR(40), hire_date DATE, created_at TIMESTAMP)"),
            format!(
                "INSERT INTO {t} SELECT k, CAST(FLOOR(k / 10.0) AS INTEGER), CASE WHEN k = {renamed} THEN 'Renamed' ELSE 'Name ' || k END, \
                 DATE '2020-01-01' + CAST(k AS INTEGER), \
                 CASE WHEN k > 110 THEN TIMESTAMP '{old}' ELSE TIMESTAMP '{today}' END \
                 FROM {series} WHERE k <> {missing}"
            ),
        ]);
    };
    create(&pg, 0, 0);
    // the target lost employee 7 and renamed employee 5
    create(&duck, 7, 5);
    let p = pair(&pg, &duck);
    let contract = format!(
        "dataset: {target}
filter: created_at >= CURRENT_DATE - INTERVAL '1 day'

reconciliation:
  source:
    dataset: {source}
    filter: created_at >= CURRENT_DATE - INTERVAL '1 day'
  checks:
    - row_count_diff:
        threshold:
          must_be_less_than: 1
    - aggregate_diff:
        function: avg
        column: employee_key
        filter: employee_key < 100
    - duplicate_diff:
        columns: [employee_key]
        threshold:
          must_be_less_than: 1
          metric: percent
    - freshness_diff:
        column: hire_date
        threshold:
          must_be: 0
          unit: hour
    - metric_diff:
        source_expression: SUM(employee_key + parent_employee_key)
        target_expression: SUM(employee_key + parent_employee_key)
        threshold:
          must_be: 0
    - rows_diff:
        source_key_columns: [employee_key]
        target_key_columns: [employee_key]
        source_columns: [first_name, hire_date]
        target_columns: [first_name, hire_date]
    - schema_diff:
",
        target = dataset("tgt", &duck, "dim_employee"),
        source = dataset("src", &pg, "dim_employee"),
    );
    let (code, results) = p.verify_json(&contract, &[]);
    assert_eq!(code, 1, "{results:#}");
    // employee 7 (parent 0) is the only one missing; 5 differs in its name only
    let avg_source = (1..100).sum::<i64>() as f64 / 99.0;
    let avg_target = ((1..100).sum::<i64>() - 7) as f64 / 98.0;
    let expect: &[(&str, &str, f64)] = &[
        ("reconciliation/row_count_diff", "fail", 1.0),
        (
            "reconciliation/aggregate_diff",
            "fail",
            avg_target - avg_source,
        ),
        ("reconciliation/duplicate_diff", "pass", 0.0),
        ("reconciliation/freshness_diff", "pass", 0.0),
        ("reconciliation/metric_diff", "fail", 7.0),
        ("reconciliation/rows_diff", "fail", 2.0),
        ("reconciliation/schema_diff", "pass", 0.0),
    ];
    for (id, outcome, v) in expect {
        let c = common::check(&results, id);
        assert_eq!(common::outcome(&results, id), *outcome, "{id}: {c:#}");
        let got = value(&results, id);
        assert!((got - v).abs() < 1e-9, "{id}: {got} != {v}: {c:#}");
    }
    let rows = common::check(&results, "reconciliation/rows_diff");
    assert_eq!(
        rows["diagnostics"]["only_in_source"].as_f64(),
        Some(1.0),
        "{rows:#}"
    );
    assert_eq!(
        rows["diagnostics"]["differing"].as_f64(),
        Some(1.0),
        "{rows:#}"
    );
    assert_eq!(
        rows["diagnostics"]["only_in_target"].as_f64(),
        Some(0.0),
        "{rows:#}"
    );
}

/// The source's server ends its sessions while rows_diff runs (every backend that runs a
/// query of the source's schema is terminated until assay exits): the run ends, the
/// rows_diff is not evaluated and says which side failed, the target's own checks stand.
#[test]
fn a_source_server_that_drops_its_sessions_mid_diff_leaves_rows_diff_not_evaluated() {
    let pg = Sandbox::new(Engine::Postgres);
    let duck = Sandbox::new(Engine::DuckDb);
    let src = pg.qualified("big");
    pg.run(&[format!(
        "CREATE TABLE {src} AS SELECT k AS id, md5(k::text) AS v FROM generate_series(1, 300000) AS g(k)"
    )]);
    let tgt = duck.qualified("big");
    duck.run(&[format!(
        "CREATE TABLE {tgt} AS SELECT k AS id, CASE WHEN k = 5 THEN 'x' ELSE md5(CAST(k AS VARCHAR)) END AS v FROM range(1, 300001) AS g(k)"
    )]);
    let p = pair(&pg, &duck);
    p.write(
        "contract.yml",
        &format!(
            "dataset: {}\nchecks:\n  - row_count:\nreconciliation:\n  source: {{dataset: {}}}\n  checks:\n    - rows_diff: {{source_key_columns: [id], target_key_columns: [id]}}\n",
            dataset("tgt", &duck, "big"),
            dataset("src", &pg, "big"),
        ),
    );
    let child = p.spawn_assay(&["verify", "contract.yml", "-o", "json"]);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let done = done.clone();
        let schema = pg.schema.clone();
        std::thread::spawn(move || {
            let mut killed = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                killed += common::engines::admin_number(
                    Engine::Postgres,
                    &format!(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                         WHERE pid <> pg_backend_pid() AND query LIKE '%{schema}%' AND query ILIKE '%md5(%'"
                    ),
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            killed
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let killed = killer.join().unwrap();
    assert!(killed >= 1, "no source query was caught running");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        common::outcome(&results, "checks/row_count"),
        "pass",
        "{results:#}"
    );
    let c = common::check(&results, "reconciliation/rows_diff");
    assert_eq!(c["outcome"], "not_evaluated", "{c:#}");
    let error = c["error"].as_str().unwrap();
    assert!(error.contains("source"), "{error}");
    assert!(error.contains("terminat"), "{error}");
}

/// Many differences (the rows of the segments that differ are too many to read with
/// their values): the samples' values come with the rows of the first segments that
/// differ, in the same query, so no pass is spent on them; every sample shows both
/// sides' values.
#[test]
fn dense_differences_show_their_samples_without_a_pass_of_their_own() {
    let pg = Sandbox::new(Engine::Postgres);
    let duck = Sandbox::new(Engine::DuckDb);
    pg.run(&[format!(
        "CREATE TABLE {} AS SELECT k AS id, 'v' || k AS v FROM generate_series(1, 50000) AS g(k)",
        pg.qualified("wide")
    )]);
    // every 8th row differs: 6,250 differences spread over nearly every segment
    duck.run(&[format!(
        "CREATE TABLE {} AS SELECT k AS id, CASE WHEN k % 8 = 0 THEN 'w' ELSE 'v' END || k AS v FROM range(1, 50001) AS g(k)",
        duck.qualified("wide")
    )]);
    let p = pair(&pg, &duck);
    let contract = format!(
        "dataset: {}\nreconciliation:\n  source: {{dataset: {}}}\n  checks:\n    - rows_diff: {{source_key_columns: [id], target_key_columns: [id]}}\n",
        dataset("tgt", &duck, "wide"),
        dataset("src", &pg, "wide"),
    );
    let (code, results) = p.verify_json(&contract, &[]);
    assert_eq!(code, 1, "{results:#}");
    let c = common::check(&results, "reconciliation/rows_diff");
    assert_eq!(value(&results, "reconciliation/rows_diff"), 6250.0, "{c:#}");
    assert_eq!(
        c["diagnostics"]["differing"].as_f64(),
        Some(6250.0),
        "{c:#}"
    );
    // one level of segments, then the rows: two queries a side, none for the samples
    assert_eq!(
        c["diagnostics"]["queries_per_side"].as_f64(),
        Some(2.0),
        "{c:#}"
    );
    let rows = p.assay(&["rows", "reconciliation/rows_diff", "-o", "json"]);
    assert_eq!(rows.code, 0, "{}", rows.stderr);
    let stored = rows.json();
    let stored = stored.as_array().unwrap();
    assert_eq!(stored.len(), 100, "max_rows_per_check samples");
    for s in stored {
        let row = &s["row"];
        assert_eq!(row["difference"], "differs", "{row:#}");
        let id: i64 = row["key"]["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(id % 8, 0, "{row:#}");
        assert_eq!(row["columns"]["v"]["source"], format!("v{id}"), "{row:#}");
        assert_eq!(row["columns"]["v"]["target"], format!("w{id}"), "{row:#}");
    }
}

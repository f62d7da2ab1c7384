//! ODCS v3 contracts, differentially: assay's outcome of every rule of the fixtures in
//! tests/odcs/ against what datacontract-cli answered on the same data
//! (tests/odcs/reference.json, recorded by scripts/odcs-reference on DuckDB and
//! PostgreSQL). MySQL and files take DuckDB's recorded answers, which PostgreSQL's equal.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common::engines::{Cell, Engine, Sandbox, ENGINES};
use crate::common::Project;

const FIXTURES: &str = "tests/odcs";

fn reference() -> Value {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".odcs.yaml"))
        .collect();
    names.sort();
    names
}

/// (table, [(column, portable type)]) from tests/odcs/data/types.csv
fn tables() -> Vec<(String, Vec<(String, String)>)> {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("data/types.csv")).unwrap();
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines().skip(1) {
        let mut parts = line.splitn(3, ',');
        let (table, column, ty) = (
            parts.next().unwrap().to_string(),
            parts.next().unwrap().to_string(),
            parts.next().unwrap().trim_matches('"').to_string(),
        );
        match out.iter_mut().find(|(t, _)| *t == table) {
            Some((_, cols)) => cols.push((column, ty)),
            None => out.push((table, vec![(column, ty)])),
        }
    }
    out
}

/// A table's rows from its CSV: an empty field is NULL.
fn rows(table: &str, columns: &[(String, String)]) -> Vec<Vec<Cell>> {
    let text =
        std::fs::read_to_string(Path::new(FIXTURES).join(format!("data/{table}.csv"))).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            line.split(',')
                .zip(columns)
                .map(|(field, (_, ty))| match (field, ty.as_str()) {
                    ("", _) => Cell::Null,
                    (v, "text" | "timestamp") => Cell::Text(v.to_string()),
                    (v, _) => Cell::Number(v.to_string()),
                })
                .collect()
        })
        .collect()
}

/// The struct column of the nested-* fixtures, which DuckDB holds (and PostgreSQL and
/// MySQL do not, so those fixtures run on DuckDB only).
fn load_nested(sandbox: &Sandbox) {
    let sql = std::fs::read_to_string(Path::new(FIXTURES).join("data/nested.sql")).unwrap();
    sandbox.run(&[sql]);
}

fn nested(fixture: &str) -> bool {
    fixture.starts_with("nested")
}

/// The fixture with its servers replaced by one entry for the test's data source.
fn with_server(fixture: &str, server: &str) -> String {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join(fixture)).unwrap();
    let head = &text[..text
        .find("\nservers:")
        .expect("fixtures end with their servers")];
    format!("{head}\nservers:\n{server}")
}

/// Each rule's outcome as `object/property/rule`, the way scripts/odcs-reference
/// names datacontract-cli's: a rule by its id (or `quality-N`), a constraint by its
/// ODCS key, the schema check as `schema`; several checks of one rule by the worst.
fn outcomes(results: &Value) -> BTreeMap<String, String> {
    let rank = |o: &str| {
        ["pass", "warn", "fail", "error"]
            .iter()
            .position(|x| *x == o)
    };
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for dataset in results["datasets"].as_array().unwrap() {
        let path = dataset["dataset"].as_str().unwrap();
        let table = path.rsplit('/').next().unwrap();
        let object = table.strip_suffix(".csv").unwrap_or(table);
        for check in dataset["checks"].as_array().unwrap() {
            let what = match check["type"].as_str().unwrap() {
                "schema" => "schema".to_string(),
                "odcs_logical_types" => "logicalType".to_string(),
                _ => check["qualifier"].as_str().unwrap().to_string(),
            };
            // a nested field's check is on its column, its qualifier led by its path
            let (column, what) = match (check["column"].as_str(), what.rsplit_once('/')) {
                (Some(c), Some((path, w))) if path.starts_with('[') => {
                    (format!("{c}{path}"), w.to_string())
                }
                (Some(c), Some((path, w))) => (format!("{c}.{path}"), w.to_string()),
                (c, _) => (c.unwrap_or("").to_string(), what),
            };
            let outcome = match check["outcome"].as_str().unwrap() {
                "not_evaluated" => "error",
                o => o,
            };
            let key = format!("{object}/{column}/{what}");
            if out.get(&key).is_none_or(|o| rank(outcome) > rank(o)) {
                out.insert(key, outcome.to_string());
            }
        }
    }
    out
}

fn compare(label: &str, fixture: &str, ours: &BTreeMap<String, String>, theirs: &Value) {
    let theirs: BTreeMap<String, String> = theirs
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let mut differences = Vec::new();
    for (key, expected) in &theirs {
        match ours.get(key) {
            Some(o) if o == expected => {}
            Some(o) => differences.push(format!("{key}: assay {o}, datacontract-cli {expected}")),
            None => differences.push(format!(
                "{key}: assay has no check, datacontract-cli {expected}"
            )),
        }
    }
    for key in ours.keys().filter(|k| !theirs.contains_key(*k)) {
        differences.push(format!("{key}: assay has a check datacontract-cli has not"));
    }
    assert!(
        differences.is_empty(),
        "{fixture} on {label} differs from datacontract-cli:\n{}",
        differences.join("\n")
    );
}

fn verify(project: &Project, contract: &str) -> Value {
    let run = project.assay(&["verify", contract, "-o", "json", "--no-failed-rows"]);
    assert!(
        run.code == 0 || run.code == 1,
        "exit {}: {}\n{}",
        run.code,
        run.stderr,
        run.stdout
    );
    run.json()
}

#[test]
fn odcs_rules_answer_as_datacontract_cli_does_on_every_engine() {
    let reference = reference();
    for engine in ENGINES {
        let sandbox = Sandbox::new(engine);
        for (table, columns) in tables() {
            sandbox.create_table(&table, &columns, &rows(&table, &columns));
        }
        let recorded = if engine == Engine::Postgres {
            "pg"
        } else {
            "local"
        };
        let place = match engine {
            Engine::MySql => "database",
            _ => "schema",
        };
        let server = format!(
            "  - server: db\n    type: {}\n    {place}: {}\n",
            engine.name(),
            sandbox.schema
        );
        if engine == Engine::DuckDb {
            load_nested(&sandbox);
        }
        for fixture in fixtures() {
            if nested(&fixture) && engine != Engine::DuckDb {
                continue;
            }
            sandbox
                .project
                .write(&fixture, &with_server(&fixture, &server));
            let results = verify(&sandbox.project, &fixture);
            compare(
                engine.name(),
                &fixture,
                &outcomes(&results),
                &reference["runs"][&fixture][recorded],
            );
        }
    }
}

/// Files: the CSVs themselves, read in place; the fixtures that name no `{schema}` (a
/// folder of files has none).
#[test]
fn odcs_rules_answer_as_datacontract_cli_does_on_files() {
    let reference = reference();
    let project = Project::files("db");
    for (table, _) in tables() {
        let csv =
            std::fs::read_to_string(Path::new(FIXTURES).join(format!("data/{table}.csv"))).unwrap();
        project.write(&format!("data/{table}.csv"), &csv);
    }
    let server = "  - server: db\n    type: local\n    format: csv\n";
    for fixture in fixtures() {
        let text = with_server(&fixture, server);
        if text.contains("{schema}") || nested(&fixture) {
            continue;
        }
        project.write(&fixture, &text);
        let results = verify(&project, &fixture);
        compare(
            "files",
            &fixture,
            &outcomes(&results),
            &reference["runs"][&fixture]["local"],
        );
    }
}

/// Outcomes of a run by dataset and column, each list sorted: what two contracts that
/// mean the same must agree on, whatever their checks are called.
fn outcomes_by_column(results: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for dataset in results["datasets"].as_array().unwrap() {
        for check in dataset["checks"].as_array().unwrap() {
            let key = format!(
                "{}/{}",
                dataset["dataset"].as_str().unwrap(),
                check["column"].as_str().unwrap_or("")
            );
            out.entry(key)
                .or_default()
                .push(check["outcome"].as_str().unwrap().to_string());
        }
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

/// Outcomes by dataset and check id.
fn outcomes_by_id(results: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for dataset in results["datasets"].as_array().unwrap() {
        for check in dataset["checks"].as_array().unwrap() {
            out.insert(
                format!(
                    "{} {}",
                    dataset["dataset"].as_str().unwrap(),
                    check["id"].as_str().unwrap()
                ),
                check["outcome"].as_str().unwrap().to_string(),
            );
        }
    }
    out
}

#[test]
fn converted_contracts_verify_as_their_originals_do() {
    let sandbox = Sandbox::new(Engine::DuckDb);
    for (table, columns) in tables() {
        sandbox.create_table(&table, &columns, &rows(&table, &columns));
    }
    load_nested(&sandbox);
    let project = &sandbox.project;
    let server = "  - server: db\n    type: duckdb\n    schema: main\n";
    for fixture in fixtures() {
        project.write(&fixture, &with_server(&fixture, server));
        let original = verify(project, &fixture);
        let stem = fixture.trim_end_matches(".odcs.yaml");

        // ODCS -> Soda: the same checks, by the same ids, with the same outcomes
        let soda_dir = format!("soda-{stem}/");
        let run = project.assay(&[
            "contract", "convert", &fixture, "--to", "soda", "-o", &soda_dir,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for line in run.stderr.lines() {
            assert!(
                line.contains("(information, not checks)")
                    || line.contains("logicalType (a Soda contract compares physical types only)")
                    || line.contains("are not compared with the catalog; their values are checked"),
                "{fixture}: only information may be left behind, not: {line}"
            );
        }
        let soda = verify(project, &soda_dir);
        let mut expected = outcomes_by_id(&original);
        // logical types, which Soda has no key for, were listed as not carried
        expected.retain(|id, _| !id.ends_with("checks/odcs_logical_types/logicalType"));
        assert_eq!(outcomes_by_id(&soda), expected, "{fixture} as Soda");

        // and each Soda contract back to ODCS: the same outcomes, column by column (a
        // nested field's checks read it through a column_expression, which ODCS has no key
        // for, so those stay Soda)
        if nested(&fixture) {
            continue;
        }
        for entry in std::fs::read_dir(project.path().join(&soda_dir)).unwrap() {
            let soda_file = entry.unwrap().path();
            let name = soda_file.file_stem().unwrap().to_str().unwrap().to_string();
            let back = format!("{stem}-{name}.back.odcs.yaml");
            let soda_path = soda_file.to_str().unwrap();
            let run = project.assay(&[
                "contract", "convert", soda_path, "--to", "odcs", "-o", &back,
            ]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert!(
                run.stderr.is_empty(),
                "{soda_path} lost something on its way to ODCS: {}",
                run.stderr
            );
            let text = std::fs::read_to_string(project.path().join(&back)).unwrap();
            assert!(
                text.starts_with("apiVersion: v3.2.0\nkind: DataContract\n"),
                "{text}"
            );
            let again = verify(project, &back);
            assert_eq!(
                outcomes_by_column(&again),
                outcomes_by_column(&verify(project, soda_path)),
                "{soda_path} as ODCS:\n{text}"
            );
        }
    }
}

#[test]
fn converting_says_what_the_other_language_cannot_hold_and_refuses_what_it_cannot_read() {
    let project =
        Project::duckdb("CREATE TABLE t (a INTEGER, b VARCHAR); INSERT INTO t VALUES (1, 'x');");
    project.write(
        "t.yml",
        "dataset: db/main/t\nfilter: a > 0\ncolumns:\n  - name: a\n    checks:\n      - invalid: {valid_min: 0, valid_max: 9}\n      - duplicate: {threshold: {must_be_less_than: 3}}\n  - name: b\n    checks:\n      - missing: {filter: \"a = 1\"}\nchecks:\n  - row_count: {threshold: {must_be_between: {greater_than: 0, less_than: 5}}}\n  - schema: {}\n",
    );
    let run = project.assay(&["contract", "convert", "t.yml", "--to", "odcs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for expected in [
        "`filter`: ODCS has no filter for a whole contract",
        "column a: the invalid check: no ODCS constraint",
        "column a: the duplicate check: no ODCS constraint",
        "column b: the missing check: its `filter`",
        "the dataset's row_count check: a range with an open end",
        "the dataset's schema check: ODCS checks that each property is present",
    ] {
        assert!(
            run.stderr.contains(expected),
            "missing '{expected}' in:\n{}",
            run.stderr
        );
    }
    assert!(run.stdout.contains("name: t"), "{}", run.stdout);
    // a data source -d names that is not configured is an error, not another's tables
    project.write(
        "t.odcs.yaml",
        "apiVersion: v3.2.0\nkind: DataContract\nid: t\nversion: 1.0.0\nschema:\n  - name: t\n",
    );
    let run = project.assay(&[
        "contract",
        "convert",
        "t.odcs.yaml",
        "--to",
        "soda",
        "-d",
        "nosuch",
    ]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("-d nosuch: no such data source"),
        "{}",
        run.stderr
    );
    // the wrong direction, and a broken contract, are input errors
    let run = project.assay(&["contract", "convert", "t.yml", "--to", "soda"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("is a Soda contract already"),
        "{}",
        run.stderr
    );
    project.write(
        "bad.yml",
        "dataset: db/main/t\ncolumns:\n  - name: a\n    checks:\n      - missng: {}\n",
    );
    let run = project.assay(&["contract", "convert", "bad.yml", "--to", "odcs"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown check type 'missng'"),
        "{}",
        run.stderr
    );
}

/// Every report names an ODCS rule by its name and id: the table, JSON (and so push),
/// JUnit, Markdown, GitHub annotations and the HTML page.
#[test]
fn reports_name_odcs_rules_by_name_and_id() {
    let sandbox = Sandbox::new(Engine::DuckDb);
    for (table, columns) in tables() {
        sandbox.create_table(&table, &columns, &rows(&table, &columns));
    }
    let project = &sandbox.project;
    let fixture = "shop-v3.2.odcs.yaml";
    project.write(
        fixture,
        &with_server(fixture, "  - {server: db, type: duckdb}\n"),
    );
    let results = verify(project, fixture);
    let check = crate::common::check(&results, "columns/amount/metric/max_amount");
    assert_eq!(check["name"], "the largest order is below 100 (max_amount)");
    assert_eq!(check["qualifier"], "max_amount");
    assert_eq!(check["outcome"], "fail");
    for format in ["table", "junit", "markdown", "github"] {
        let run = project.assay(&["verify", fixture, "-o", format, "--no-failed-rows"]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        // Markdown escapes the underscore
        let shown = match format {
            "markdown" => r"the largest order is below 100 (max\_amount)",
            _ => "the largest order is below 100 (max_amount)",
        };
        assert!(run.stdout.contains(shown), "{format}:\n{}", run.stdout);
    }
    let run = project.assay(&[
        "verify",
        fixture,
        "-o",
        "html=page.html",
        "-q",
        "--no-failed-rows",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let page = std::fs::read_to_string(project.path().join("page.html")).unwrap();
    assert!(
        page.contains("the largest order is below 100 (max_amount)"),
        "the page names the rule"
    );
}

/// Nested properties on Spark's struct columns: the nested fixture, with the same rows
/// as DuckDB's, answers as datacontract-cli did on DuckDB.
#[cfg(feature = "spark")]
#[test]
fn nested_properties_answer_the_same_on_spark() {
    let sandbox = Sandbox::new(Engine::Spark);
    let t = sandbox.qualified("people");
    sandbox.run(&[
        format!("CREATE TABLE {t} (id INT, address STRUCT<street: STRING, zip: INT, geo: STRUCT<lat: DOUBLE, lon: DOUBLE>>) USING parquet"),
        format!("INSERT INTO {t} VALUES \
            (1, named_struct('street', 'Main St', 'zip', 10115, 'geo', named_struct('lat', 52.5D, 'lon', 13.4D))), \
            (2, named_struct('street', CAST(NULL AS STRING), 'zip', 99999, 'geo', named_struct('lat', 91.0D, 'lon', 0.0D))), \
            (3, NULL), \
            (4, named_struct('street', 'x', 'zip', 10115, 'geo', CAST(NULL AS STRUCT<lat: DOUBLE, lon: DOUBLE>)))"),
    ]);
    let b = sandbox.qualified("baskets");
    let line = |sku: &str, qty: i32| format!("named_struct('sku', {sku}, 'qty', {qty})");
    sandbox.run(&[
        format!("CREATE TABLE {b} (id INT, tags ARRAY<STRING>, lines ARRAY<STRUCT<sku: STRING, qty: INT>>) USING parquet"),
        format!(
            "INSERT INTO {b} VALUES \
            (1, array('a', 'b'), array({})), \
            (2, array('a', 'a'), array({}, {})), \
            (3, array(CAST(NULL AS STRING), 'c'), CAST(array() AS ARRAY<STRUCT<sku: STRING, qty: INT>>)), \
            (4, NULL, NULL), \
            (5, array('toolongvalue'), array({}, NULL))",
            line("'A1'", 1),
            line("'bad'", 0),
            line("'B2'", 5),
            line("CAST(NULL AS STRING)", 3)
        ),
    ]);
    let fixture = "nested-v3.2.odcs.yaml";
    let server = format!(
        "  - server: db\n    type: spark\n    schema: {}\n",
        sandbox.schema
    );
    sandbox
        .project
        .write(fixture, &with_server(fixture, &server));
    let results = verify(&sandbox.project, fixture);
    compare(
        "spark",
        fixture,
        &outcomes(&results),
        &reference()["runs"][fixture]["local"],
    );
}

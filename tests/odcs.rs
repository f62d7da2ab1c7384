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
                _ => check["qualifier"].as_str().unwrap().to_string(),
            };
            let column = check["column"].as_str().unwrap_or("");
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
        for fixture in fixtures() {
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
        if text.contains("{schema}") {
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

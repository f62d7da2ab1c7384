//! One set of cases (tests/conformance/cases.yml) loaded into DuckDB, PostgreSQL,
//! MySQL/MariaDB and (with the cargo feature `spark`) Spark: every engine must give the expected outcome and value of every check,
//! and all engines must agree on outcomes, values and diagnostics.

use crate::common;

use std::collections::BTreeMap;

use common::engines::{sql_engines, Cell, Engine, Sandbox};
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

struct Table {
    name: String,
    columns: Vec<(String, String)>,
    rows: Vec<Vec<Cell>>,
}

struct Case {
    name: String,
    table: String,
    contract: String,
    /// check id -> (outcome, value)
    expect: BTreeMap<String, (String, Option<f64>)>,
}

fn text(y: &Yaml) -> String {
    match y {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        other => panic!("expected text, found {other:?}"),
    }
}

fn load() -> (Vec<Table>, Vec<Case>) {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/cases.yml"
    ))
    .unwrap();
    let doc = &YamlLoader::load_from_str(&source).unwrap()[0];
    let tables = doc["tables"]
        .as_hash()
        .unwrap()
        .iter()
        .map(|(name, t)| Table {
            name: text(name),
            columns: t["columns"]
                .as_vec()
                .unwrap()
                .iter()
                .map(|c| (text(&c[0]), text(&c[1])))
                .collect(),
            rows: t["rows"]
                .as_vec()
                .unwrap()
                .iter()
                .map(|r| {
                    r.as_vec()
                        .unwrap()
                        .iter()
                        .map(|v| match v {
                            Yaml::Null => Cell::Null,
                            Yaml::Integer(i) => Cell::Number(i.to_string()),
                            Yaml::Real(r) => Cell::Number(r.clone()),
                            other => Cell::Text(text(other)),
                        })
                        .collect()
                })
                .collect(),
        })
        .collect();
    let cases = doc["cases"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: text(&c["name"]),
            table: text(&c["table"]),
            contract: text(&c["contract"]),
            expect: c["expect"]
                .as_hash()
                .unwrap()
                .iter()
                .map(|(id, e)| {
                    let value = match &e[1] {
                        Yaml::Null => None,
                        Yaml::Integer(i) => Some(*i as f64),
                        Yaml::Real(r) => Some(r.parse().unwrap()),
                        other => panic!("bad expected value {other:?}"),
                    };
                    (text(id), (text(&e[0]), value))
                })
                .collect(),
        })
        .collect();
    (tables, cases)
}

/// Results of every case on one engine: case name -> its dataset's checks by id.
type EngineResults = BTreeMap<String, BTreeMap<String, Value>>;

fn run_engine(engine: Engine, tables: &[Table], cases: &[Case]) -> EngineResults {
    let sandbox = Sandbox::new(engine);
    let name = |table: &str| engine.table_name(table);
    for t in tables {
        sandbox.create_table(&name(&t.name), &t.columns, &t.rows);
    }
    let mut files = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut contract = case.contract.replace("{{ds}}", &sandbox.dataset_prefix());
        for t in tables {
            contract = contract.replace(
                &format!("{{{{table:{}}}}}", t.name),
                &sandbox.qualified(&name(&t.name)),
            );
        }
        let text = format!(
            "dataset: \"{}/{}\"\n{contract}",
            sandbox.dataset_prefix(),
            name(&case.table)
        );
        let name = format!("case{i}.yml");
        sandbox.project.write(&name, &text);
        files.push(name);
    }
    let mut args = vec!["verify", "-o", "json", "--now", "2025-01-03T00:00:00Z"];
    args.extend(files.iter().map(String::as_str));
    let run = sandbox.project.assay(&args);
    assert!(
        run.code == 0 || run.code == 1 || run.code == 3,
        "{}: exit {}\n{}",
        engine.name(),
        run.code,
        run.stderr
    );
    let results = run.json();
    let datasets = results["datasets"].as_array().unwrap();
    assert_eq!(
        datasets.len(),
        cases.len(),
        "{}: {results:#}",
        engine.name()
    );
    cases
        .iter()
        .zip(datasets)
        .map(|(case, d)| {
            assert!(
                d["error"].is_null(),
                "{} / {}: dataset error {}",
                engine.name(),
                case.name,
                d["error"]
            );
            let checks = d["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c["id"].as_str().unwrap().to_string(), c.clone()))
                .collect();
            (case.name.clone(), checks)
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn every_engine_gives_the_expected_and_the_same_answers() {
    let (tables, cases) = load();
    let by_engine: Vec<(Engine, EngineResults)> = sql_engines()
        .into_iter()
        .map(|e| (e, run_engine(e, &tables, &cases)))
        .collect();
    let mut problems = Vec::new();
    for case in &cases {
        for (engine, results) in &by_engine {
            let checks = &results[&case.name];
            for id in checks.keys() {
                if !case.expect.contains_key(id) {
                    problems.push(format!(
                        "{} / {}: check {id} has no expectation",
                        engine.name(),
                        case.name
                    ));
                }
            }
            for (id, (outcome, value)) in &case.expect {
                let Some(c) = checks.get(id) else {
                    problems.push(format!("{} / {}: no check {id}", engine.name(), case.name));
                    continue;
                };
                let got_outcome = c["outcome"].as_str().unwrap_or("");
                let got_value = c["value"].as_f64();
                let value_ok = match (value, got_value) {
                    (Some(v), Some(g)) => close(g, *v),
                    (None, None) => true,
                    _ => false,
                };
                if got_outcome != outcome || !value_ok {
                    problems.push(format!(
                        "{} / {} / {id}: expected {outcome} {value:?}, got {got_outcome} {got_value:?} (error: {}, diagnostics: {})",
                        engine.name(),
                        case.name,
                        c["error"],
                        c["diagnostics"]
                    ));
                }
            }
        }
        // all engines agree exactly, diagnostics included (a schema check's diagnostics
        // name each engine's own types, so only its outcome and value are compared)
        let (first_engine, first) = &by_engine[0];
        for (engine, results) in &by_engine[1..] {
            for (id, reference) in &first[&case.name] {
                let Some(other) = results[&case.name].get(id) else {
                    continue;
                };
                let mut keys = vec!["outcome", "value"];
                if reference["type"] != "schema" {
                    keys.push("diagnostics");
                }
                for key in keys {
                    if reference[key] != other[key] {
                        problems.push(format!(
                            "{} / {id}: {key} differs: {} {} vs {} {}",
                            case.name,
                            first_engine.name(),
                            reference[key],
                            engine.name(),
                            other[key]
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

//! `assay scan` on every engine, with real ALTER TABLEs between scans run at increasing
//! `--now`: discovery, profiles, contracts verified, schema changes judged by their
//! level, history recorded.

use crate::common;

use common::engines::{Engine, Sandbox, ENGINES};
use serde_json::Value;

fn scanned<'a>(r: &'a Value, dataset: &str) -> &'a Value {
    r["scan"]["data_sources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["datasets"].as_array().unwrap())
        .find(|d| d["dataset"] == dataset)
        .unwrap_or_else(|| panic!("{dataset} not scanned: {r}"))
}

fn events(d: &Value) -> Vec<(String, String)> {
    d["monitors"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["column"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn scans_record_history_and_judge_schema_changes_on_every_engine() {
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let t = s.qualified("orders");
        let prefix = s.dataset_prefix();
        s.run(&[
            format!("CREATE TABLE {t} (id INTEGER NOT NULL, name VARCHAR(20))"),
            format!("INSERT INTO {t} VALUES (1, 'a'), (2, 'b'), (3, NULL)"),
        ]);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!(
                "{config}scan:\n  include: ['{prefix}/orders']\n  schema_changes: {{column_removed: fail}}\n"
            ),
        );
        s.project.write(
            "contracts/orders.yml",
            &format!("dataset: \"{prefix}/orders\"\nchecks:\n  - row_count: {{threshold: {{must_be: 3}}}}\n"),
        );
        let scan = |day: u32| {
            let now = format!("2025-01-{day:02}T00:00:00Z");
            let run = s.project.assay(&["scan", "--now", &now, "-o", "json"]);
            (run.code, run.json(), run.stderr)
        };
        let dataset = format!("{prefix}/orders");

        // the first scan: profiled, verified, no change reported
        let (code, r, err) = scan(1);
        assert_eq!(code, 0, "{}: {err}\n{r}", engine.name());
        assert_eq!(r["schema_version"], "1.1");
        let d = scanned(&r, &dataset);
        assert_eq!(d["monitors"][0]["outcome"], "pass", "{d}");
        let rows = d["profile"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["metric"] == "row_count")
            .unwrap();
        assert_eq!(rows["value"], 3.0, "{d}");
        assert_eq!(common::check(&r, "checks/row_count")["outcome"], "pass");

        // a column added: a warning, the scan passes
        s.run(&[format!("ALTER TABLE {t} ADD COLUMN price INTEGER")]);
        let (code, r, err) = scan(2);
        assert_eq!(code, 0, "{}: {err}", engine.name());
        let d = scanned(&r, &dataset);
        assert_eq!(d["monitors"][0]["outcome"], "warn", "{d}");
        assert_eq!(
            events(d),
            [("column_added".to_string(), "price".to_string())]
        );

        // a column removed, which the config makes a failure: exit 1
        s.run(&[format!("ALTER TABLE {t} DROP COLUMN name")]);
        let (code, r, err) = scan(3);
        assert_eq!(code, 1, "{}: {err}", engine.name());
        let d = scanned(&r, &dataset);
        assert_eq!(d["monitors"][0]["outcome"], "fail", "{d}");
        assert_eq!(
            events(d),
            [("column_removed".to_string(), "name".to_string())]
        );

        // three complete scans in the history, with the check's value beside the profile
        let config = assay::config::load(
            Some(&s.project.path().join("assay.yml")),
            &[],
            &Default::default(),
        )
        .unwrap();
        let history = assay::scan::history::HistoryStore::from_config(&config);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let points = runtime
            .block_on(history.points(Some(&dataset), Some("row_count")))
            .unwrap();
        let days: Vec<&str> = points.iter().map(|p| &p.measured_at[..10]).collect();
        assert_eq!(
            days,
            ["2025-01-01", "2025-01-02", "2025-01-03"],
            "{}",
            engine.name()
        );
        let checks = runtime
            .block_on(history.points(Some(&dataset), Some("check:checks/row_count")))
            .unwrap();
        assert_eq!(checks.len(), 3, "{checks:?}");
        assert!(checks.iter().all(|p| p.value == Some(3.0)));
        // snapshots keep the columns in order, with their nullability
        let snapshots = runtime.block_on(history.snapshots(&dataset)).unwrap();
        let first: Vec<(&str, Option<bool>)> = snapshots[0]
            .1
            .iter()
            .map(|c| (c.name.as_str(), c.nullable))
            .collect();
        assert_eq!(
            first,
            [("id", Some(false)), ("name", Some(true))],
            "{}",
            engine.name()
        );
        if engine == Engine::DuckDb {
            assert!(s.project.path().join(".assay/history.duckdb").exists());
        }

        // `assay history`: the series with its sparkline, the changes marked
        let run = s
            .project
            .assay(&["history", &dataset, "--metric", "row_count"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout.contains("row_count  ▄▄▄  (3 points)"),
            "{}",
            run.stdout
        );
        assert!(run.stdout.contains("column added price"), "{}", run.stdout);
        assert!(run.stdout.contains("column removed name"), "{}", run.stdout);
        let run = s
            .project
            .assay(&["history", &dataset, "--column", "id", "-o", "json"]);
        let rows: Value = serde_json::from_str(&run.stdout).unwrap();
        assert!(rows.as_array().unwrap().iter().all(|r| r["column"] == "id"));
        assert!(rows
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["metric"] == "distinct_count"));
        let run = s.project.assay(&["history", "schema", &dataset]);
        assert_eq!(
            run.stdout
                .lines()
                .filter(|l| l.starts_with("2025-01-0"))
                .count(),
            3,
            "{}",
            run.stdout
        );
    }
}

#[test]
fn an_unreachable_source_fails_alone_and_the_others_are_scanned() {
    let s = Sandbox::new(Engine::DuckDb);
    s.run(&["CREATE TABLE t (id INTEGER)".into()]);
    let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
    s.project.write(
        "assay.yml",
        &format!(
            "{config}  - name: gone\n    type: postgres\n    connection: {{host: 127.0.0.1, port: 1, database: x, user: x, connect_timeout: 2s}}\n"
        ),
    );
    let run = s.project.assay(&["scan", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let r = run.json();
    let sources = r["scan"]["data_sources"].as_array().unwrap();
    let gone = sources.iter().find(|s| s["data_source"] == "gone").unwrap();
    assert!(
        gone["error"]
            .as_str()
            .is_some_and(|e| e.contains("could not connect")),
        "{gone}"
    );
    let db = sources.iter().find(|s| s["data_source"] == "db").unwrap();
    assert!(db["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["dataset"] == "db/main/t"));
    // and the history still has the scan of what could be scanned
    assert!(s.project.path().join(".assay/history.duckdb").exists());
    // the table report says what was scanned and what could not be
    let run = s.project.assay(&["scan"]);
    assert!(
        run.stdout
            .contains("datasets scanned, 0 with schema changes"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("gone: could not be scanned"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("db/main/t: 0 rows, 1 columns profiled"),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_scan_arguments_exit_2() {
    let s = Sandbox::new(Engine::DuckDb);
    let run = s.project.assay(&["scan", "nosuch"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no data source named 'nosuch'"),
        "{}",
        run.stderr
    );
    let run = s.project.assay(&["scan", "--lock-timeout", "soon"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// docs/results.schema.json describes a scan's document too: every member of the scan
/// section is in the schema, and every required one is written.
#[test]
fn the_documented_schema_matches_a_scans_document() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/results.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let s = Sandbox::new(Engine::DuckDb);
    s.run(&["CREATE TABLE t (id INTEGER, a INTEGER, b VARCHAR)".into()]);
    let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
    s.project.write(
        "assay.yml",
        &format!("{config}scan: {{profile: {{max_columns: 2}}}}\n"),
    );
    assert_eq!(
        s.project
            .assay(&["scan", "--now", "2025-01-01T00:00:00Z"])
            .code,
        0
    );
    s.run(&["ALTER TABLE t ADD COLUMN c INTEGER".into()]);
    let run = s
        .project
        .assay(&["scan", "--now", "2025-01-02T00:00:00Z", "-o", "json"]);
    let doc = run.json();
    let check_object = |value: &Value, def: &Value, what: &str| {
        let props = def["properties"].as_object().unwrap();
        for key in value.as_object().unwrap().keys() {
            assert!(
                props.contains_key(key),
                "{what}: '{key}' is not in the schema"
            );
        }
        for key in def["required"].as_array().unwrap() {
            assert!(
                value.get(key.as_str().unwrap()).is_some(),
                "{what}: '{key}' missing"
            );
        }
    };
    let defs = &schema["$defs"];
    check_object(&doc, &schema, "document");
    assert_eq!(doc["schema_version"], "1.1");
    check_object(&doc["scan"], &schema["properties"]["scan"], "scan");
    let mut datasets = 0;
    for source in doc["scan"]["data_sources"].as_array().unwrap() {
        check_object(source, &defs["scanned_source"], "source");
        for d in source["datasets"].as_array().unwrap() {
            check_object(d, &defs["scanned_dataset"], "dataset");
            if d["dataset"] != "db/main/t" {
                continue;
            }
            datasets += 1;
            assert_eq!(d["skipped_columns"], serde_json::json!(["b", "c"]), "{d}");
            for p in d["profile"].as_array().unwrap() {
                check_object(
                    p,
                    &defs["scanned_dataset"]["properties"]["profile"]["items"],
                    "point",
                );
            }
            for m in d["monitors"].as_array().unwrap() {
                check_object(m, &defs["monitor"], "monitor");
                for e in m["events"].as_array().unwrap() {
                    check_object(
                        e,
                        &defs["monitor"]["properties"]["events"]["items"],
                        "event",
                    );
                }
                match m["type"].as_str() {
                    Some("schema_change") => {
                        assert_eq!(m["events"][0]["kind"], "column_added", "{m}")
                    }
                    // one point of history: the monitor learns, it does not guess
                    Some("anomaly") => {
                        assert_eq!(m["outcome"], "learning", "{m}");
                        assert!(m["expected"].is_null() && m["upper"].is_null(), "{m}");
                        assert!(m["reason"].as_str().unwrap().contains("1 of 7"), "{m}");
                    }
                    other => panic!("a monitor of type {other:?}"),
                }
            }
        }
    }
    assert_eq!(datasets, 1);
}

#[test]
fn a_history_that_cannot_be_written_is_exit_3_and_the_results_still_print() {
    let s = Sandbox::new(Engine::DuckDb);
    s.run(&["CREATE TABLE t (id INTEGER)".into()]);
    // `.assay` is a file: neither the lock nor the history can be made there
    s.project.write(".assay", "not a folder");
    let run = s.project.assay(&["scan", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let r = run.json();
    let error = r["scan"]["history_error"].as_str().unwrap_or_default();
    assert!(!error.is_empty(), "{r}");
    // what was observed is in the results all the same
    assert!(
        r["scan"]["data_sources"][0]["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["dataset"] == "db/main/t"),
        "{r}"
    );
    assert!(
        run.stderr.contains("scanning without the history lock"),
        "{}",
        run.stderr
    );
}

/// A history held on a server: scans from anywhere take turns on the server's own lock.
/// One held (here by the test, as another machine's scan would) makes a scan wait, then
/// give up with exit 3; once let go, the scan runs.
#[test]
fn a_server_history_lock_makes_scans_take_turns() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for engine in [Engine::Postgres, Engine::MySql] {
        let s = Sandbox::new(engine);
        s.run(&[format!("CREATE TABLE {} (id INTEGER)", s.qualified("t"))]);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!(
                "{config}scan: {{include: ['{}/*']}}\nhistory: {{data_source: db, schema: {}}}\n",
                s.dataset_prefix(),
                s.schema
            ),
        );
        // the history's tables exist once a scan wrote them
        assert_eq!(
            s.project.assay(&["scan", "-q"]).code,
            0,
            "{}",
            engine.name()
        );
        let config = assay::config::load(
            Some(&s.project.path().join("assay.yml")),
            &[],
            &Default::default(),
        )
        .unwrap();
        let history = assay::scan::history::HistoryStore::from_config(&config);
        let held = runtime
            .block_on(history.server_lock("the test's own scan", std::time::Duration::from_secs(5)))
            .unwrap()
            .expect("a server-held history has a lock");
        let run = s.project.assay(&["scan", "--lock-timeout", "1s"]);
        assert_eq!(run.code, 3, "{}: {}", engine.name(), run.stderr);
        assert!(
            run.stderr.contains("another scan holds the history lock"),
            "{}",
            run.stderr
        );
        // and says who: the holder noted itself
        assert!(run.stderr.contains("the test's own scan"), "{}", run.stderr);
        runtime.block_on(held.release());
        let run = s.project.assay(&["scan", "--lock-timeout", "5s", "-q"]);
        assert_eq!(run.code, 0, "{}: {}", engine.name(), run.stderr);
    }
}

/// A files source is scanned like the others: its files discovered, profiled and their
/// schema followed from scan to scan.
#[test]
fn a_files_source_is_scanned_and_its_schema_followed() {
    let p = common::Project::empty();
    p.write("data/orders.csv", "id,name\n1,a\n2,b\n3,\n");
    p.write("data/notes.txt", "not data");
    p.write(
        "assay.yml",
        "data_sources:\n  - {name: f, type: files, connection: {root: data}}\nscan:\n  schema_changes: {column_removed: fail}\n",
    );
    let run = p.assay(&["scan", "--now", "2025-01-01T00:00:00Z", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.json();
    let d = scanned(&r, "f/orders.csv");
    let rows = d["profile"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["metric"] == "row_count")
        .unwrap();
    assert_eq!(rows["value"], 3.0);
    let missing = d["profile"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["column"] == "name" && p["metric"] == "missing_count")
        .unwrap();
    assert_eq!(missing["value"], 1.0, "{d}");
    assert_eq!(
        r["scan"]["data_sources"][0]["datasets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // the file loses a column: a failure, as the config says
    p.write("data/orders.csv", "id\n1\n2\n");
    let run = p.assay(&["scan", "--now", "2025-01-02T00:00:00Z", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    assert_eq!(
        events(scanned(&r, "f/orders.csv")),
        [("column_removed".to_string(), "name".to_string())]
    );
}

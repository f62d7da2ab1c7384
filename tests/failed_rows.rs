//! Failed rows capture into the diagnostics store, on real engines: what is captured,
//! limits and exclusions, where it goes (the default DuckDB file, a Postgres store), that
//! passing checks run no capture query, that no row value reaches results or logs, and
//! that a store that cannot be written changes nothing of the verdict.

use crate::common;

use common::engines::{admin_number, postgres_url, sql_engines, Engine, Sandbox, ENGINES};
use common::Project;
use serde_json::Value;

/// Values that exist only in the data rows.
const SECRET_VALUES: [&str; 3] = [
    "Qx-Row-Value-1187",
    "Jm-Row-Value-2243",
    "Vb-Row-Value-3391",
];

fn rows_sql(table: &str, literal: impl Fn(&str) -> String) -> Vec<String> {
    let v = |i: usize| literal(SECRET_VALUES[i]);
    vec![
        format!("CREATE TABLE {table} (id INTEGER, name VARCHAR(40), email VARCHAR(60), amount INTEGER)"),
        format!(
            "INSERT INTO {table} VALUES (1, {}, 'a@x.org', 10), (2, {}, NULL, -5), (2, {}, 'bad', -7), (3, NULL, 'c@x.org', 20), (4, 'ok', NULL, 30)",
            v(0),
            v(1),
            v(2)
        ),
    ]
}

/// Failing: missing name (1), missing email (2), invalid email (1), duplicate id (key 2),
/// duplicate (id, amount > 0 filter) none, failed_rows amount < 0 (2), failed_rows query
/// (2). Passing: row_count, missing id, duplicate name.
fn contract(prefix: &str, qualified: &str) -> String {
    format!(
        "dataset: \"{prefix}/t\"
diagnostics:
  exclude_columns: [amount]
columns:
  - name: id
    checks:
      - missing:
      - duplicate:
  - name: name
    checks:
      - missing:
      - duplicate:
  - name: email
    checks:
      - missing: {{threshold: {{must_be_less_than: 2, level: warn}}, qualifier: lenient}}
      - missing:
      - invalid: {{valid_format: {{name: email, regex: '@'}}}}
checks:
  - row_count:
  - duplicate: {{columns: [id, email]}}
  - failed_rows: {{expression: amount < 0}}
  - failed_rows:
      qualifier: q
      query: 'SELECT id, name FROM {qualified} WHERE amount < 0'
"
    )
}

/// Capturing checks that fail (or warn) and how many rows each captures.
const EXPECTED: [(&str, i64); 7] = [
    ("columns/id/duplicate", 1),
    ("columns/name/missing", 1),
    ("columns/email/missing/lenient", 2),
    ("columns/email/missing", 2),
    ("columns/email/invalid", 1),
    ("checks/failed_rows", 2),
    ("checks/failed_rows/q", 2),
];

fn duckdb_store(p: &Project) -> duckdb::Connection {
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .unwrap();
    duckdb::Connection::open_with_flags(p.path().join(".assay/diagnostics.duckdb"), config).unwrap()
}

fn store_counts(conn: &duckdb::Connection, scan_id: &str) -> Vec<(String, i64)> {
    let mut stmt = conn
        .prepare("SELECT check_id, COUNT(*) FROM assay_failed_rows WHERE scan_id = ? GROUP BY check_id ORDER BY check_id")
        .unwrap();
    stmt.query_map([scan_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn sorted(mut v: Vec<(String, i64)>) -> Vec<(String, i64)> {
    v.sort();
    v
}

fn expected() -> Vec<(String, i64)> {
    sorted(EXPECTED.iter().map(|(c, n)| (c.to_string(), *n)).collect())
}

fn assert_no_row_values(texts: &[&str]) {
    for t in texts {
        for v in SECRET_VALUES {
            assert!(!t.contains(v), "row value {v} leaked into:\n{t}");
        }
    }
}

#[test]
fn failing_rows_from_every_engine_land_in_the_default_store() {
    for engine in sql_engines() {
        let s = Sandbox::new(engine);
        s.run(&rows_sql(&s.qualified("t"), |v| engine.literal(v)));
        s.project
            .write("c.yml", &contract(&s.dataset_prefix(), &s.qualified("t")));
        let run = s.project.assay(&["verify", "c.yml", "-o", "json", "-vv"]);
        assert_eq!(run.code, 1, "{}: {}", engine.name(), run.stderr);
        let r = run.json();
        let scan_id = r["scan_id"].as_str().unwrap();
        let conn = duckdb_store(&s.project);
        assert_eq!(
            store_counts(&conn, scan_id),
            expected(),
            "{}",
            engine.name()
        );

        // rows keep their column names; the excluded column is not there
        let row: String = conn
            .query_row(
                "SELECT CAST(row_data AS VARCHAR) FROM assay_failed_rows WHERE check_id = 'columns/email/invalid'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let row: Value = serde_json::from_str(&row).unwrap();
        assert_eq!(row["id"], 2, "{}: {row}", engine.name());
        assert_eq!(row["email"], "bad");
        assert_eq!(row["name"], SECRET_VALUES[2]);
        assert!(row.get("amount").is_none(), "excluded column stored: {row}");
        // duplicates: the repeated key with its count
        let dup: String = conn
            .query_row(
                "SELECT CAST(row_data AS VARCHAR) FROM assay_failed_rows WHERE check_id = 'columns/id/duplicate'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let dup: Value = serde_json::from_str(&dup).unwrap();
        assert_eq!(dup["id"].to_string().trim_matches('"'), "2", "{dup}");
        assert_eq!(dup["duplicate_count"], 2, "{dup}");

        // results say how many and where; passing checks say nothing
        for (id, n) in EXPECTED {
            let info = &common::check(&r, id)["failed_rows"];
            assert_eq!(info["captured"], n, "{}: {id}: {info}", engine.name());
            assert_eq!(info["table"], "\"assay_failed_rows\"");
            assert!(
                info["store"]
                    .as_str()
                    .unwrap()
                    .contains("diagnostics.duckdb"),
                "{info}"
            );
        }
        for id in [
            "checks/row_count",
            "columns/id/missing",
            "columns/name/duplicate",
            "checks/duplicate",
        ] {
            assert!(common::check(&r, id)["failed_rows"].is_null(), "{id}");
        }
        // passing checks run no capture query: one per capturing failing check
        let captures = run
            .stderr
            .lines()
            .filter(|l| l.contains(": capture "))
            .count();
        assert_eq!(
            captures,
            EXPECTED.len(),
            "{}:\n{}",
            engine.name(),
            run.stderr
        );
        assert_no_row_values(&[&run.stdout, &run.stderr]);
        // the table report says where the rows went, without them (our reader of the
        // store goes first: DuckDB lets one process write a file nobody else has open)
        drop(conn);
        let table = s.project.assay(&["verify", "c.yml"]);
        // the details column wraps: read it without the table's borders and breaks
        let flat: String = table
            .stdout
            .lines()
            .filter_map(|l| l.split('│').nth(5))
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            flat.contains("2 failed rows captured in duckdb"),
            "{}",
            table.stdout
        );
        assert!(
            table.stdout.contains("failed rows: 11 rows of 7 checks in duckdb .assay/diagnostics.duckdb table \"assay_failed_rows\" (scan_id "),
            "{}",
            table.stdout
        );
        assert_no_row_values(&[&table.stdout, &table.stderr]);
    }
}

#[test]
fn limits_and_exclusions_hold() {
    let p = Project::duckdb(
        "CREATE TABLE t AS SELECT range AS id, 'secret-' || range AS email, range % 3 AS grp FROM range(50);",
    );
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &format!("{config}diagnostics:\n  max_rows_per_check: 3\n  exclude_columns: [EMAIL]\n"),
    );
    p.write(
        "c.yml",
        "dataset: db/main/t
columns:
  - name: grp
    checks:
      - duplicate:
checks:
  - failed_rows: {expression: id >= 0}
  - failed_rows: {qualifier: q, query: 'SELECT id, email FROM main.t'}
",
    );
    let run = p.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    let scan_id = r["scan_id"].as_str().unwrap();
    let conn = duckdb_store(&p);
    assert_eq!(
        store_counts(&conn, scan_id),
        vec![
            ("checks/failed_rows".to_string(), 3),
            ("checks/failed_rows/q".to_string(), 3),
            ("columns/grp/duplicate".to_string(), 3),
        ]
    );
    let leaked: i64 = conn
        .query_row("SELECT COUNT(*) FROM assay_failed_rows WHERE CAST(row_data AS VARCHAR) LIKE '%secret-%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(leaked, 0, "an excluded column reached the store");
    // largest groups first: 50 ids in 3 groups of 17, 17, 16
    let first: String = conn
        .query_row(
            "SELECT CAST(row_data AS VARCHAR) FROM assay_failed_rows WHERE check_id = 'columns/grp/duplicate' ORDER BY row_index LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(first.contains("\"duplicate_count\":17"), "{first}");
    let last: String = conn
        .query_row(
            "SELECT CAST(row_data AS VARCHAR) FROM assay_failed_rows WHERE check_id = 'columns/grp/duplicate' ORDER BY row_index DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(last.contains("\"duplicate_count\":16"), "{last}");

    // --no-failed-rows: nothing captured, nothing new in the store
    drop(conn);
    let run = p.assay(&["verify", "c.yml", "-o", "json", "--no-failed-rows", "-vv"]);
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains(": capture "), "{}", run.stderr);
    let scan_id = run.json()["scan_id"].as_str().unwrap().to_string();
    assert!(store_counts(&duckdb_store(&p), &scan_id).is_empty());
}

#[test]
fn a_postgres_store_takes_rows_from_every_engine() {
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        s.run(&rows_sql(&s.qualified("t"), |v| engine.literal(v)));
        // the store: a schema of its own in the test Postgres
        let store_schema = format!("{}_store", s.schema.replace("main", "duck"));
        let store_schema = if engine == Engine::DuckDb {
            format!("assay_store_{}", std::process::id())
        } else {
            store_schema
        };
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!(
                "{config}  - name: store\n    type: postgres\n    connection: {{url: '{}'}}\ndiagnostics:\n  data_source: store\n  schema: {store_schema}\n",
                postgres_url()
            ),
        );
        s.project
            .write("c.yml", &contract(&s.dataset_prefix(), &s.qualified("t")));
        let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
        assert_eq!(run.code, 1, "{}: {}", engine.name(), run.stderr);
        let r = run.json();
        let scan_id = r["scan_id"].as_str().unwrap();
        for (id, n) in EXPECTED {
            let stored = admin_number(
                Engine::Postgres,
                &format!("SELECT COUNT(*) FROM \"{store_schema}\".assay_failed_rows WHERE scan_id = '{scan_id}' AND check_id = '{id}'"),
            );
            assert_eq!(stored, n, "{}: {id}", engine.name());
            assert!(common::check(&r, id)["failed_rows"]["store"]
                .as_str()
                .unwrap()
                .contains("postgres data source 'store'"));
        }
        let named = admin_number(
            Engine::Postgres,
            &format!("SELECT COUNT(*) FROM \"{store_schema}\".assay_failed_rows WHERE scan_id = '{scan_id}' AND row_data ->> 'email' = 'bad'"),
        );
        assert_eq!(named, 2, "{}: JSONB rows keep column names", engine.name());
        assert!(!s.project.path().join(".assay/diagnostics.duckdb").exists());
        common::engines::admin(
            Engine::Postgres,
            &[format!("DROP SCHEMA \"{store_schema}\" CASCADE")],
        )
        .unwrap();
    }
}

#[test]
fn a_store_that_cannot_be_written_leaves_the_verdict_alone() {
    let p = Project::duckdb(&rows_sql("t", |v| format!("'{v}'")).join(";\n"));
    p.write("c.yml", &contract("db/main", "main.t"));
    let baseline = p.assay(&["verify", "c.yml", "-o", "json", "--no-failed-rows"]);
    // `.assay` is a file: the default store cannot be created
    p.write(".assay", "not a folder");
    let run = p.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, baseline.code, "{}", run.stderr);
    assert_eq!(run.code, 1);
    // a warning on stderr, through the log (so `-q` silences it)
    assert!(
        run.stderr.contains("WARN")
            && run.stderr.contains(
                "11 failed rows of db/main/t could not be written to the diagnostics store"
            ),
        "{}",
        run.stderr
    );
    let r = run.json();
    let info = &common::check(&r, "columns/email/invalid")["failed_rows"];
    assert_eq!(info["captured"], 0, "{info}");
    assert!(
        info["error"]
            .as_str()
            .unwrap()
            .contains("could not be written"),
        "{info}"
    );
    assert_eq!(r["summary"], baseline.json()["summary"]);
    assert_no_row_values(&[&run.stdout, &run.stderr]);

    // a store on a server that is not there: the same
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::remove_file(p.path().join(".assay")).unwrap();
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &format!("{config}  - name: store\n    type: postgres\n    connection: {{host: 127.0.0.1, port: {port}, database: x, user: x}}\ndiagnostics: {{data_source: store}}\n"),
    );
    let run = p.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("could not be written"),
        "{}",
        run.stderr
    );
}

#[test]
fn diagnostics_settings_are_checked() {
    let p = Project::duckdb("CREATE TABLE t(id INTEGER);");
    p.write("c.yml", "dataset: db/main/t\nchecks:\n  - row_count:\n");
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    for (extra, fragment) in [
        (
            "diagnostics: {data_source: nowhere}\n",
            "no data source named 'nowhere'",
        ),
        ("diagnostics: {max_rows_per_check: -1}\n", "whole number"),
        (
            "diagnostics: {exclude_column: [a]}\n",
            "did you mean 'exclude_columns'?",
        ),
    ] {
        p.write("assay.yml", &format!("{config}{extra}"));
        let run = p.assay(&["verify", "c.yml"]);
        assert_eq!(run.code, 2, "{extra}: {}", run.stderr);
        assert!(run.stderr.contains(fragment), "{extra}: {}", run.stderr);
    }
    p.write("assay.yml", &config);
    p.write(
        "c.yml",
        "dataset: db/main/t\ndiagnostics: {exclude: [a]}\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "c.yml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("did you mean 'exclude_columns'?"),
        "{}",
        run.stderr
    );
}

/// Big values are cut, and a check's rows stop at its byte limit, on every engine: 100
/// rows of 5 MB each once took 6.4 GB to capture.
#[test]
fn captured_values_and_bytes_are_limited_on_every_engine() {
    for engine in sql_engines() {
        let sb = Sandbox::new(engine);
        let t = sb.qualified("big");
        let (text_type, big) = match engine {
            Engine::DuckDb => ("VARCHAR", "repeat('x', 200000)"),
            Engine::Postgres => ("TEXT", "repeat('x', 200000)"),
            Engine::MySql => ("LONGTEXT", "REPEAT('x', 200000)"),
            #[cfg(feature = "spark")]
            Engine::Spark => ("STRING", "repeat('x', 200000)"),
        };
        let mut statements = vec![format!(
            "CREATE TABLE {t} (id INTEGER, payload {text_type})"
        )];
        #[cfg(feature = "spark")]
        if engine == Engine::Spark {
            // one job rather than forty
            statements.push(format!(
                "INSERT INTO {t} SELECT CAST(id AS INT), {big} FROM range(1, 41)"
            ));
        }
        if statements.len() == 1 {
            for id in 1..=40 {
                statements.push(format!("INSERT INTO {t} VALUES ({id}, {big})"));
            }
        }
        sb.run(&statements);
        let config = std::fs::read_to_string(sb.project.path().join("assay.yml")).unwrap();
        sb.project.write(
            "assay.yml",
            &format!(
                "{config}diagnostics:\n  max_value_bytes: 1000\n  max_bytes_per_check: 10000\n"
            ),
        );
        sb.project.write(
            "c.yml",
            &format!(
                "dataset: \"{}/big\"\nchecks:\n  - failed_rows: {{expression: id > 0}}\n",
                sb.dataset_prefix()
            ),
        );
        let run = sb.project.assay(&["verify", "c.yml", "-o", "json"]);
        assert_eq!(run.code, 1, "{}: {}", engine.name(), run.stderr);
        let r = run.json();
        let captured = common::check(&r, "checks/failed_rows")["failed_rows"]["captured"]
            .as_u64()
            .unwrap();
        // each value is cut to 1,000 bytes (plus its marker): 10 rows fill 10,000 bytes
        assert_eq!(captured, 10, "{}: {r:#}", engine.name());
        let conn = duckdb_store(&sb.project);
        let scan_id = r["scan_id"].as_str().unwrap();
        let longest: i64 = conn
            .query_row(
                "SELECT max(length(CAST(row_data AS VARCHAR))) FROM assay_failed_rows WHERE scan_id = ?",
                [scan_id],
                |row| row.get(0),
            )
            .unwrap();
        assert!(
            longest < 1200,
            "{}: a row of {longest} bytes",
            engine.name()
        );
        let marked: i64 = conn
            .query_row(
                "SELECT count(*) FROM assay_failed_rows WHERE scan_id = ? AND CAST(row_data AS VARCHAR) LIKE '%199000 more bytes not kept%'",
                [scan_id],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(marked, 10, "{}", engine.name());
    }
}

/// A store file that is not a DuckDB database (a full disk left it empty) is moved aside
/// and a new one made, once, with a warning; the next run finds a working store.
#[test]
fn a_broken_default_store_is_moved_aside_and_made_anew() {
    let p = Project::duckdb("CREATE TABLE t(id INTEGER); INSERT INTO t VALUES (1), (1);");
    p.write(".assay/diagnostics.duckdb", "");
    p.write(
        "c.yml",
        "dataset: db/main/t\ncolumns:\n  - name: id\n    checks:\n      - duplicate:\n",
    );
    let run = p.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("moved to"), "{}", run.stderr);
    let r = run.json();
    let info = &common::check(&r, "columns/id/duplicate")["failed_rows"];
    assert_eq!(info["captured"], 1, "{info:#}");
    assert!(info.get("error").is_none(), "{info:#}");
    let aside: Vec<String> = std::fs::read_dir(p.path().join(".assay"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("diagnostics.duckdb.broken-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    // no temporary file is left behind, and the next run warns no more
    let run = p.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let leftovers = std::fs::read_dir(p.path().join(".assay"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .count();
    assert_eq!(leftovers, 0);
    let scan_id = run.json()["scan_id"].as_str().unwrap().to_string();
    assert_eq!(
        store_counts(&duckdb_store(&p), &scan_id),
        vec![("columns/id/duplicate".to_string(), 1)]
    );
}

#[test]
fn a_keys_query_stores_keys_named_by_its_mapping_on_every_engine() {
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let t = s.qualified("t");
        s.run(&rows_sql(&t, |v| engine.literal(v)));
        s.project.write(
            "c.yml",
            &format!(
                "dataset: \"{}/t\"
checks:
  - failed_rows:
      keys_query: 'SELECT id AS order_id, name FROM {t} WHERE amount < 0 ORDER BY name'
      key_column_mapping: {{order: order_id}}
  - failed_rows:
      qualifier: unmapped
      keys_query: 'SELECT id FROM {t} WHERE amount < 0'
  - failed_rows:
      qualifier: wrong
      keys_query: 'SELECT id FROM {t} WHERE amount < 0'
      key_column_mapping: {{order: nope}}
",
                s.dataset_prefix()
            ),
        );
        let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
        assert_eq!(run.code, 1, "{}: {}", engine.name(), run.stderr);
        let r = run.json();
        let conn = duckdb_store(&s.project);
        let stored = |check: &str| -> Vec<Value> {
            let mut stmt = conn
                .prepare("SELECT CAST(row_data AS VARCHAR) FROM assay_failed_rows WHERE check_id = ? ORDER BY row_index")
                .unwrap();
            stmt.query_map([check], |r| r.get::<_, String>(0))
                .unwrap()
                .map(|s| serde_json::from_str(&s.unwrap()).unwrap())
                .collect()
        };
        // only the mapped key, under its store name: not the row's other columns
        let keys = stored("checks/failed_rows");
        assert_eq!(keys.len(), 2, "{}: {keys:?}", engine.name());
        for k in &keys {
            assert_eq!(k.as_object().unwrap().len(), 1, "{k}");
            assert_eq!(k["order"].to_string().trim_matches('"'), "2", "{k}");
        }
        assert_no_row_values(&[&run.stdout, &run.stderr]);
        assert_eq!(stored("checks/failed_rows/unmapped").len(), 2);
        // a mapping to a column the query does not return: an error beside the count,
        // and the check's verdict stands
        let wrong = common::check(&r, "checks/failed_rows/wrong");
        assert_eq!(wrong["outcome"], "fail");
        assert!(
            wrong["failed_rows"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("'nope'")),
            "{}: {wrong}",
            engine.name()
        );
        assert!(stored("checks/failed_rows/wrong").is_empty());
    }
}

#[test]
fn a_column_expression_is_captured_beside_the_row_and_shown_in_the_plan() {
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let t = s.qualified("t");
        s.run(&rows_sql(&t, |v| engine.literal(v)));
        s.project.write(
            "c.yml",
            &format!(
                "dataset: \"{}/t\"
columns:
  - name: email
    column_expression: UPPER(email)
    checks:
      - invalid: {{valid_values: [A@X.ORG, C@X.ORG]}}
      - duplicate:
          column_expression: \"CASE WHEN email IS NULL THEN NULL ELSE 'same' END\"
",
                s.dataset_prefix()
            ),
        );
        let plan = s.project.assay(&["verify", "c.yml", "--plan"]);
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        assert!(
            plan.stdout.contains("(UPPER(email))"),
            "{}: {}",
            engine.name(),
            plan.stdout
        );
        let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
        assert_eq!(run.code, 1, "{}: {}", engine.name(), run.stderr);
        let r = run.json();
        assert_eq!(common::check(&r, "columns/email/invalid")["value"], 1.0);
        assert_eq!(
            common::check(&r, "columns/email/invalid")["settings"]["column_expression"],
            "UPPER(email)"
        );
        let conn = duckdb_store(&s.project);
        let row: String = conn
            .query_row(
                "SELECT CAST(row_data AS VARCHAR) FROM assay_failed_rows WHERE check_id = 'columns/email/invalid'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let row: Value = serde_json::from_str(&row).unwrap();
        assert_eq!(row["email"], "bad", "{}: {row}", engine.name());
        assert_eq!(row["column_expression"], "BAD", "{}: {row}", engine.name());
        // a duplicate over the expression stores the repeated value under its key
        let dup: String = conn
            .query_row(
                "SELECT CAST(row_data AS VARCHAR) FROM assay_failed_rows WHERE check_id = 'columns/email/duplicate'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let dup: Value = serde_json::from_str(&dup).unwrap();
        assert_eq!(dup["column_expression"], "same", "{}: {dup}", engine.name());
        assert_eq!(dup["duplicate_count"], 3, "{}: {dup}", engine.name());
    }
}

/// `assay rows` reads the failing rows back from the store on every engine: by check, by
/// dataset, by run; as a table, CSV or JSON; a typo gets the closest name.
#[test]
fn assay_rows_reads_failing_rows_back_from_every_store() {
    for engine in sql_engines() {
        let s = Sandbox::new(engine);
        s.run(&rows_sql(&s.qualified("t"), |v| engine.literal(v)));
        if matches!(engine, Engine::Postgres | Engine::MySql) {
            // the store in the sandbox's own schema (database) of the server
            let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
            s.project.write(
                "assay.yml",
                &format!(
                    "{config}diagnostics: {{data_source: db, schema: {}}}\n",
                    s.schema
                ),
            );
        }
        let p = &s.project;
        let run = p.assay(&["rows"]);
        assert_eq!(run.code, 0, "{}: {}", engine.name(), run.stderr);
        assert!(
            run.stderr.contains("no failed rows stored yet"),
            "{}",
            run.stderr
        );

        p.write("c.yml", &contract(&s.dataset_prefix(), &s.qualified("t")));
        let first = p.assay(&["verify", "c.yml", "-o", "json"]);
        assert_eq!(first.code, 1, "{}: {}", engine.name(), first.stderr);
        let first_id = first.json()["scan_id"].as_str().unwrap().to_string();

        let run = p.assay(&["rows", "columns/email/invalid", "-o", "json"]);
        assert_eq!(run.code, 0, "{}: {}", engine.name(), run.stderr);
        let rows = run.json();
        assert_eq!(
            rows.as_array().unwrap().len(),
            1,
            "{}: {rows}",
            engine.name()
        );
        assert_eq!(rows[0]["row"]["email"], "bad", "{}: {rows}", engine.name());
        assert_eq!(rows[0]["row"]["name"], SECRET_VALUES[2]);
        assert_eq!(rows[0]["row_index"], 1);
        assert_eq!(rows[0]["scan_id"], first_id.as_str());
        assert!(rows[0]["row"].get("amount").is_none(), "excluded column");

        // a dataset by its last part: every check's rows, as CSV
        let run = p.assay(&["rows", "t", "-o", "csv"]);
        assert_eq!(run.code, 0, "{}: {}", engine.name(), run.stderr);
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert!(
            lines[0].starts_with("scan_id,data_source,dataset,check_id,row_index,"),
            "{}",
            lines[0]
        );
        let total: i64 = EXPECTED.iter().map(|(_, n)| n).sum();
        assert_eq!(
            lines.len() as i64,
            total + 1,
            "{}: {}",
            engine.name(),
            run.stdout
        );

        // the table shows NULL as NULL and the row's values
        let run = p.assay(&["rows", "columns/name/missing"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout.contains("c@x.org") && run.stdout.contains("NULL"),
            "{}",
            run.stdout
        );
        assert!(run.stdout.contains("1 failing row"), "{}", run.stdout);

        let run = p.assay(&["rows", "columns/emial/invalid"]);
        assert_eq!(run.code, 2);
        assert!(
            run.stderr.contains("did you mean 'columns/email/invalid'"),
            "{}",
            run.stderr
        );

        // a second run: the latest by default, the first by --scan, both in --list
        let second = p.assay(&["verify", "c.yml", "-o", "json"]);
        let second_id = second.json()["scan_id"].as_str().unwrap().to_string();
        let run = p.assay(&["rows", "columns/id/duplicate", "-o", "json"]);
        assert_eq!(
            run.json()[0]["scan_id"],
            second_id.as_str(),
            "{}",
            engine.name()
        );
        let run = p.assay(&[
            "rows",
            "columns/id/duplicate",
            "--scan",
            &first_id,
            "-o",
            "json",
        ]);
        assert_eq!(
            run.json()[0]["scan_id"],
            first_id.as_str(),
            "{}",
            engine.name()
        );
        let run = p.assay(&["rows", "--list", "-o", "json"]);
        let listed = run.json();
        assert_eq!(
            listed.as_array().unwrap().len(),
            2 * EXPECTED.len(),
            "{listed}"
        );
        assert_eq!(listed[0]["scan_id"], second_id.as_str(), "newest first");
        let run = p.assay(&["rows", "--scan", "nope"]);
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains(&second_id), "{}", run.stderr);
    }
}

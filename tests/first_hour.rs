//! What a newcomer meets in the first hour (issue 25): right answers on files.

use serde_json::Value;

use crate::common::Project;

fn files_project() -> Project {
    let p = Project::files("local");
    p.write("data/events.csv", "id,kind\n1,a\n2,b\n3,c\n");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT range + 10 AS id, 'x' AS kind FROM range(5)) TO '{}' (FORMAT parquet)",
        p.path().join("data/events.parquet").display()
    ))
    .unwrap();
    p
}

fn rows_of(doc: &Value, dataset: &str) -> Value {
    doc["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dataset"] == dataset)
        .unwrap_or_else(|| panic!("{dataset}: {doc}"))["checks"][0]["value"]
        .clone()
}

/// `events.csv` and `events.parquet` are two datasets: each is verified, scanned and
/// profiled as itself, never as the other.
#[test]
fn files_of_one_name_and_two_formats_are_two_datasets() {
    let p = files_project();
    p.write(
        "contracts/csv.yml",
        "dataset: local/events.csv\nchecks:\n  - row_count:\n",
    );
    p.write(
        "contracts/parquet.yml",
        "dataset: local/events.parquet\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "contracts", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(rows_of(&doc, "local/events.csv"), 3.0, "{doc}");
    assert_eq!(rows_of(&doc, "local/events.parquet"), 5.0, "{doc}");

    // a scan profiles each file as itself
    let run = p.assay(&["scan", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    for (dataset, rows) in [("local/events.csv", 3.0), ("local/events.parquet", 5.0)] {
        let d = doc["scan"]["data_sources"][0]["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["dataset"] == dataset)
            .unwrap_or_else(|| panic!("{dataset} not scanned: {doc}"));
        let count = d["profile"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["metric"] == "row_count" && m["column"].is_null())
            .unwrap_or_else(|| panic!("{d}"));
        assert_eq!(count["value"], rows, "{dataset}: {d}");
    }
}

/// A query written by hand names a file by its whole name, or by its stem while no other
/// file of the run shares it; a shared stem is refused by DuckDB, never guessed.
#[test]
fn a_query_names_a_file_by_its_name_or_its_unshared_stem() {
    let p = files_project();
    let contract = |from: &str| {
        format!(
            "dataset: local/events.csv\nchecks:\n  - failed_rows:\n      query: \"SELECT * FROM {from} WHERE id > 1\"\n"
        )
    };
    let (code, doc) = p.verify_json(&contract("\\\"events.csv\\\""), &[]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["datasets"][0]["checks"][0]["value"], 2.0, "{doc}");
    let (code, doc) = p.verify_json(&contract("events"), &[]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(
        doc["datasets"][0]["checks"][0]["value"], 2.0,
        "the CSV's rows: {doc}"
    );
    // with the Parquet file in the same run, `events` names neither
    p.write(
        "contracts/parquet.yml",
        "dataset: local/events.parquet\nchecks:\n  - row_count:\n",
    );
    p.write("contracts/stem.yml", &contract("events"));
    let run = p.assay(&[
        "verify",
        "contracts/stem.yml",
        "contracts/parquet.yml",
        "-o",
        "json",
    ]);
    let doc = run.json();
    let check = &doc["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dataset"] == "local/events.csv")
        .unwrap()["checks"][0];
    assert_eq!(check["outcome"], "not_evaluated", "{doc}");
}

/// A scan measures ages to its own now (`--now`, for a backfill), as the contracts'
/// freshness checks do, not to the wall clock.
#[test]
fn a_scan_measures_the_age_of_its_data_to_its_now() {
    let p = Project::files("local");
    p.write(
        "data/events.csv",
        "id,at\n1,2026-01-08 00:00:00\n2,2026-01-09 00:00:00\n",
    );
    for (now, age) in [
        ("2026-01-10T00:00:00Z", 86_400.0),
        ("2026-01-09T06:00:00Z", 21_600.0),
    ] {
        let run = p.assay(&["scan", "--now", now, "-o", "json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let doc = run.json();
        let freshness = doc["scan"]["data_sources"][0]["datasets"][0]["profile"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["metric"] == "freshness_seconds" && m["column"] == "at")
            .unwrap_or_else(|| panic!("{doc}"))
            .clone();
        assert_eq!(freshness["value"], age, "{now}: {freshness}");
    }
}

/// A run with a failed check and a check not evaluated says both in its headline; the
/// exit code stays the not-evaluated one (3).
#[test]
fn a_failure_beside_a_check_not_evaluated_is_in_the_headline() {
    let p = files_project();
    p.write(
        "contract.yml",
        "dataset: local/events.csv\nchecks:\n  - row_count: {threshold: {must_be: 99}}\n  - failed_rows:\n      query: \"SELECT * FROM no_such_table\"\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let last = run
        .stdout
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(
        last.starts_with("NOT EVALUATED + FAIL 2 checks"),
        "{last}\n{}",
        run.stdout
    );
    let run = p.assay(&["verify", "contract.yml", "-o", "markdown"]);
    assert!(
        run.stdout
            .starts_with("## assay verification: ⛔ not evaluated + ❌ fail"),
        "{}",
        run.stdout
    );
    // one outcome alone is headlined as before
    p.write(
        "contract.yml",
        "dataset: local/events.csv\nchecks:\n  - row_count: {threshold: {must_be: 99}}\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("\nFAIL 1 check"), "{}", run.stdout);
}

/// Timestamps from the future pass a freshness threshold, yet warn and say why.
#[test]
fn freshness_from_the_future_warns_and_says_why() {
    let p = Project::files("local");
    p.write("data/events.csv", "id,at\n1,2026-01-11 03:00:00\n");
    p.write(
        "contract.yml",
        "dataset: local/events.csv\nchecks:\n  - freshness:\n      column: at\n      threshold: {must_be_less_than: 48}\n",
    );
    let run = p.assay(&[
        "verify",
        "contract.yml",
        "--now",
        "2026-01-10T00:00:00Z",
        "-o",
        "json",
    ]);
    assert_eq!(
        run.code, 0,
        "a warning does not fail the run: {}",
        run.stderr
    );
    let doc = run.json();
    let check = &doc["datasets"][0]["checks"][0];
    assert_eq!(check["outcome"], "warn", "{check}");
    assert_eq!(check["value"], -27.0, "{check}");
    let warning = check["diagnostics"]["warning"].as_str().unwrap();
    assert!(warning.contains("1day 3h after now"), "{warning}");
    // in the past, the same threshold passes quietly
    let run = p.assay(&[
        "verify",
        "contract.yml",
        "--now",
        "2026-01-12T00:00:00Z",
        "-o",
        "json",
    ]);
    let check = &run.json()["datasets"][0]["checks"][0];
    assert_eq!(check["outcome"], "pass", "{check}");
    assert!(check["diagnostics"]["warning"].is_null(), "{check}");
}

/// `-q` quiets what was not asked for: a report asked for on stdout still comes.
#[test]
fn quiet_keeps_the_report_asked_for_on_stdout() {
    let p = files_project();
    p.write(
        "contract.yml",
        "dataset: local/events.csv\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "contract.yml", "-q", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["datasets"][0]["checks"][0]["value"], 3.0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let run = p.assay(&["scan", "-q", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.json()["scan"].is_object(), "{}", run.stdout);
    // alone, -q prints nothing
    let run = p.assay(&["verify", "contract.yml", "-q"]);
    assert!(run.stdout.is_empty() && run.stderr.is_empty());
}

/// Messages read as English: "1 row tested", "an aggregate check".
#[test]
fn messages_count_and_article_as_english_does() {
    let p = files_project();
    p.write("data/one.csv", "id\n7\n");
    p.write(
        "contract.yml",
        "dataset: local/one.csv\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("1 row tested)"), "{}", run.stdout);
    let run = p.assay(&["verify", "contract.yml", "-o", "markdown"]);
    assert!(run.stdout.contains("1 row tested"), "{}", run.stdout);
    p.write(
        "contract.yml",
        "dataset: local/one.csv\ncolumns:\n  - name: id\n    checks:\n      - aggregate: {function: avg, threshold: {metric: percent, must_be: 0}}\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("an aggregate check has no percent metric"),
        "{}",
        run.stderr
    );
}

/// A `--set` variable no contract uses is a warning with the closest name, not silence.
#[test]
fn a_set_variable_no_contract_uses_is_told() {
    let p = files_project();
    p.write(
        "contract.yml",
        "dataset: local/events.csv\nvariables:\n  MIN_ID: {default: '0'}\nchecks:\n  - row_count:\n      filter: \"id > ${var.MIN_ID}\"\n",
    );
    let run = p.assay(&["verify", "contract.yml", "--set", "MIN_IDS=2", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "--set MIN_IDS: no contract of this run uses ${var.MIN_IDS}; did you mean 'MIN_ID'?"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.json()["datasets"][0]["checks"][0]["value"],
        3.0,
        "the default held"
    );
    // a variable in use is not mentioned
    let run = p.assay(&["verify", "contract.yml", "--set", "MIN_ID=2", "-o", "json"]);
    assert!(!run.stderr.contains("--set"), "{}", run.stderr);
    assert_eq!(run.json()["datasets"][0]["checks"][0]["value"], 1.0);
}

/// Channel credentials are read by the commands that use them: a plain verify does not
/// need a channel's password variable; verify --channel and a failed-rows sink do, and
/// say where it is missing (exit 2).
#[test]
fn channel_credentials_are_needed_only_where_they_are_used() {
    let p = files_project();
    p.write(
        "assay.yml",
        "data_sources:\n  - {name: local, type: files, connection: {root: data}}\nenvironments:\n  default: {channels: [orders]}\nchannels:\n  orders: {user: ci, password: \"${env.ASSAY_T_UNSET_CHANNEL_PW}\"}\n",
    );
    p.write(
        "contract.yml",
        "dataset: local/events.csv\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    p.write(
        "stream.yml",
        "dataset: stream/main/events\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "stream.yml", "--channel", "orders"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("assay.yml:6:") && run.stderr.contains("ASSAY_T_UNSET_CHANNEL_PW"),
        "{}",
        run.stderr
    );
    // failed rows going to that channel need it too, unless --no-failed-rows
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &format!("{config}diagnostics: {{channel: orders}}\n"),
    );
    let run = p.assay(&["verify", "contract.yml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("ASSAY_T_UNSET_CHANNEL_PW"),
        "{}",
        run.stderr
    );
    let run = p.assay(&["verify", "contract.yml", "--no-failed-rows"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// `history schema` shows a dataset's removal, though no columns were recorded then.
#[test]
fn history_schema_shows_a_removed_dataset() {
    let p = files_project();
    let run = p.assay(&["scan", "--now", "2026-01-10T00:00:00Z"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::remove_file(p.path().join("data/events.csv")).unwrap();
    let run = p.assay(&["scan", "--now", "2026-01-11T00:00:00Z"]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let run = p.assay(&["history", "schema", "local/events.csv"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("2026-01-10") && lines[0].contains("id "),
        "{}",
        run.stdout
    );
    let removed = lines
        .iter()
        .position(|l| l.starts_with("2026-01-11"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        lines[removed + 1..]
            .iter()
            .any(|l| l.contains("dataset removed")),
        "{}",
        run.stdout
    );
}

/// A DuckDB project whose contract fails on two checks written on known lines.
fn gate_project(ids: &str) -> Project {
    let p = Project::duckdb(&format!(
        "CREATE TABLE orders (id INTEGER, status VARCHAR); INSERT INTO orders VALUES {ids}"
    ));
    p.write(
        "contracts/orders.yml",
        "dataset: db/main/orders
columns:
  - name: id
    checks:
      - missing:
      - duplicate:
  - name: status
    checks:
      - invalid:
          valid_values: [new, paid]
          threshold: {must_be_less_than: 1, level: warn}
checks:
  - row_count:
",
    );
    p
}

/// `-o github`: an annotation per failing or warning check at its contract's line, texts
/// escaped; the Markdown report appended to $GITHUB_STEP_SUMMARY when it is set.
#[test]
fn github_output_annotates_the_contract_lines_and_fills_the_job_summary() {
    let p = gate_project("(1, 'new'), (NULL, 'paid'), (3, 'lost')");
    let summary = p.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let run = p.assay_with(
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
        &["verify", "-o", "github"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let missing = lines
        .iter()
        .find(|l| l.starts_with("::error file=contracts/orders.yml,line=5,"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(missing.contains("missing"), "{missing}");
    let invalid = lines
        .iter()
        .find(|l| l.starts_with("::warning file=contracts/orders.yml,line=9,"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(invalid.contains("must be < 1"), "{invalid}");
    // passing checks (duplicate, row_count) say nothing
    assert_eq!(lines.iter().filter(|l| l.starts_with("::")).count(), 2);
    assert!(
        lines.last().unwrap().contains("4 checks on 1 dataset"),
        "{}",
        run.stdout
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step\n## assay verification"),
        "{md}"
    );
    assert!(md.contains("| ❌ fail |"), "{md}");

    // a check's name cannot end its annotation and start a command of its own
    p.write(
        "contracts/orders.yml",
        "dataset: db/main/orders\ncolumns:\n  - name: id\n    checks:\n      - missing:\n          name: \"x%0A::add-mask::y, z: w\"\n",
    );
    let run = p.assay(&["verify", "-o", "github"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let commands: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 1, "{}", run.stdout);
    assert!(
        commands[0].contains("title=assay%3A x%250A%3A%3Aadd-mask%3A%3Ay%2C z%3A w::"),
        "{}",
        commands[0]
    );

    // a scan's monitors are annotations of the run: a schema change between two scans
    let run = p.assay(&["scan", "--no-failed-rows", "-q"]);
    assert!(run.code < 2, "{}", run.stderr);
    let conn = duckdb::Connection::open(p.path().join("db.duckdb")).unwrap();
    conn.execute_batch("ALTER TABLE orders ADD COLUMN note VARCHAR")
        .unwrap();
    drop(conn);
    let run = p.assay(&["scan", "--no-failed-rows", "-o", "github"]);
    assert!(run.code < 2, "{}", run.stderr);
    assert!(
        run.stdout.lines().any(|l| l
            .starts_with("::warning title=assay%3A schema change db/main/orders::db/main/orders: column added note")),
        "{}",
        run.stdout
    );
}

/// `--baseline`: each check against the same check of earlier results; `--fail-on new`
/// gates only on what the change broke.
#[test]
fn a_baseline_tells_new_failures_from_old_ones_and_gates_on_the_new() {
    // main: a missing id; the change fixes it and duplicates an id instead
    let main = gate_project("(1, 'new'), (NULL, 'paid'), (3, 'new')");
    let run = main.assay(&["verify", "-o", "json=main.json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let baseline = main.path().join("main.json");
    let baseline = baseline.to_str().unwrap();

    let change = gate_project("(1, 'new'), (1, 'paid'), (3, 'new'), (4, 'new')");
    let run = change.assay(&[
        "verify",
        "--baseline",
        baseline,
        "-o",
        "json=now.json",
        "-o",
        "markdown",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(change.path().join("now.json")).unwrap())
            .unwrap();
    let mark = |id: &str| crate::common::check(&doc, id)["baseline"].clone();
    assert_eq!(mark("columns/id/missing")["change"], "fixed", "{doc}");
    assert_eq!(mark("columns/id/missing")["outcome"], "fail");
    assert_eq!(mark("columns/id/duplicate")["change"], "new_failure");
    assert_eq!(mark("columns/id/duplicate")["delta"], 1.0);
    assert_eq!(mark("checks/row_count")["change"], "unchanged");
    assert_eq!(mark("checks/row_count")["delta"], 1.0);
    assert_eq!(doc["baseline"]["new_failures"], 1);
    assert_eq!(doc["baseline"]["fixed"], 1);
    assert!(
        run.stdout
            .contains("❌ fail | new failure (was pass) | duplicate"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("fixed (was fail)"), "{}", run.stdout);
    assert!(run.stdout.contains("<details><summary>"), "{}", run.stdout);

    // the change broke the duplicate check: --fail-on new fails
    let args = ["verify", "--baseline", baseline, "--fail-on", "new"];
    assert_eq!(change.assay(&args).code, 1);
    // against its own results the failure is old: --fail-on new passes, fail does not
    let own = change.path().join("now.json");
    let own = own.to_str().unwrap();
    let run = change.assay(&["verify", "--baseline", own, "--fail-on", "new"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("still failing"), "{}", run.stdout);
    assert_eq!(change.assay(&["verify", "--baseline", own]).code, 1);

    // --fail-on new without a baseline, and a baseline that is not results: exit 2
    let run = change.assay(&["verify", "--fail-on", "new"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--fail-on new needs --baseline"),
        "{}",
        run.stderr
    );
    change.write("bad.json", "{\"datasets\": 3}");
    let run = change.assay(&["verify", "--baseline", "bad.json"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("'bad.json' is not an assay results document"),
        "{}",
        run.stderr
    );
    let run = change.assay(&["scan", "--fail-on", "new"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// A long run's Markdown fits a pull-request comment (GitHub takes 65,536 characters).
#[test]
fn markdown_fits_a_pull_request_comment() {
    let p = Project::duckdb(
        "CREATE TABLE wide AS SELECT range AS id FROM range(3); ALTER TABLE wide ADD COLUMN c VARCHAR",
    );
    let mut contract = String::from("dataset: db/main/wide\ncolumns:\n  - name: c\n    checks:\n");
    for i in 0..1500 {
        contract.push_str(&format!(
            "      - missing:\n          qualifier: q{i}\n          name: \"{}\"\n",
            "a long name of a check ".repeat(4)
        ));
    }
    p.write("c.yml", &contract);
    let run = p.assay(&["verify", "c.yml", "-o", "markdown"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.chars().count() < 65_536, "{}", run.stdout.len());
    assert!(
        run.stdout.contains("more not shown here"),
        "{}",
        &run.stdout[run.stdout.len() - 300..]
    );
}

/// `assay init` writes a contract per dataset from one profiling query; every suggestion
/// passes on the data as it is, and the contract catches a change; on every engine.
#[test]
fn init_writes_contracts_the_data_passes_on_every_engine() {
    use crate::common::engines::{sql_engines, Cell, Sandbox};
    let now = "2026-03-01T12:00:00Z";
    for engine in sql_engines() {
        let s = Sandbox::new(engine);
        let columns: Vec<(String, String)> = [
            ("id", "integer"),
            ("status", "varchar(20)"),
            ("amount", "decimal(10,2)"),
            ("note", "varchar(40)"),
            ("created_at", "timestamp"),
        ]
        .iter()
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect();
        let statuses = ["new", "new", "paid", "paid", "PAID", "PAID", "new", "paid"];
        let rows: Vec<Vec<Cell>> = (1..=8)
            .map(|i| {
                vec![
                    Cell::Number(i.to_string()),
                    Cell::Text(statuses[i - 1].into()),
                    Cell::Number(format!("{}.{}", i * 11, i * 3 % 100)),
                    if i % 4 == 2 {
                        Cell::Null
                    } else {
                        Cell::Text(format!("note {i}"))
                    },
                    Cell::Text(format!("2026-03-01 0{}:00:00", i + 1)),
                ]
            })
            .collect();
        let table = engine.table_name("orders");
        s.create_table(&table, &columns, &rows);
        let p = &s.project;
        // the sandbox's own schema: a shared server holds other tests' tables too
        let glob = format!("db/{}/{table}*", s.schema);
        let run = p.assay(&["init", "db", &glob, "--now", now]);
        assert_eq!(
            run.code,
            0,
            "{}: {}{}",
            engine.name(),
            run.stdout,
            run.stderr
        );
        let file = format!("contracts/db/{}/{table}.yml", s.schema);
        let text = std::fs::read_to_string(p.path().join(&file)).unwrap();
        assert!(
            run.stdout
                .contains(&format!("wrote {file}: 11 checks from 8 rows")),
            "{}: {}\n{text}",
            engine.name(),
            run.stdout
        );
        let has = |needle: &str| {
            assert!(
                text.contains(needle),
                "{}: no {needle:?} in\n{text}",
                engine.name()
            )
        };
        has(&format!("dataset: db/{}/{table}\n", s.schema));
        has("  - name: id\n");
        has("      - missing:     # 0 NULLs in 8 rows\n      - duplicate:   # 8 distinct values in 8 rows\n");
        has("          valid_min: 0\n          valid_max: 9\n");
        has("valid_values: [PAID, new, paid]");
        has("  - name: note    # not required: 2 NULLs in 8 rows\n");
        has("  - row_count:     # 8 rows today");
        has("threshold: {must_be_greater_than_or_equal: 4}");
        has("# the newest created_at is 3 hours old");
        has("threshold: {unit: hour, must_be_less_than: 6}");

        // every suggestion passes on the data it came from
        let run = p.assay(&["verify", "contracts", "--now", now, "-o", "json"]);
        assert_eq!(run.code, 0, "{}: {}\n{text}", engine.name(), run.stdout);
        let doc = run.json();
        assert_eq!(doc["summary"]["checks"], 11, "{}", engine.name());
        assert_eq!(doc["summary"]["pass"], 11, "{}", engine.name());

        // a second init keeps the file as it is
        std::fs::write(p.path().join(&file), format!("{text}# edited\n")).unwrap();
        let run = p.assay(&["init", "db", &glob, "--now", now]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout.contains(&format!("kept {file}")),
            "{}",
            run.stdout
        );
        assert!(std::fs::read_to_string(p.path().join(&file))
            .unwrap()
            .ends_with("# edited\n"));

        // and the contract catches what changes
        s.run(&[format!(
            "INSERT INTO {} VALUES (9, 'lost', NULL, 'x', {})",
            s.qualified(&table),
            match engine {
                #[cfg(feature = "spark")]
                crate::common::engines::Engine::Spark => {
                    "CAST('2026-03-01 10:00:00' AS TIMESTAMP_NTZ)".to_string()
                }
                _ => "'2026-03-01 10:00:00'".to_string(),
            }
        )]);
        let run = p.assay(&["verify", "contracts", "--now", now, "-o", "json"]);
        assert_eq!(run.code, 1, "{}: {}", engine.name(), run.stderr);
        let doc = run.json();
        assert_eq!(
            crate::common::outcome(&doc, "columns/status/invalid"),
            "fail"
        );
        assert_eq!(
            crate::common::outcome(&doc, "columns/amount/missing"),
            "fail"
        );

        // a glob that selects nothing is told, with the closest name
        let run = p.assay(&["init", "db", "ordrs"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("no dataset matches 'ordrs'"),
            "{}",
            run.stderr
        );
    }
}

/// `assay init` on files, and on names and values that YAML or a placeholder would
/// misread: quoted, or left out and said why; the contract still passes.
#[test]
fn init_quotes_what_yaml_would_misread_and_leaves_out_placeholders() {
    let p = files_project();
    let run = p.assay(&["init", "local", "events.csv"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("wrote contracts/local/events.csv.yml"),
        "{}",
        run.stdout
    );
    assert!(!p.path().join("contracts/local/events.parquet.yml").exists());

    let p = Project::duckdb(
        r#"CREATE TABLE "odd: table" ("a: b" VARCHAR, "${env.HOME}" INTEGER, "yes" VARCHAR, k VARCHAR);
           INSERT INTO "odd: table" VALUES ('x #1', 1, 'on', '${var.X}'), ('x #1', 2, 'on', '${var.X}'),
             ('"q"', 3, 'off', 'k'), ('"q"', 4, 'off', 'k')"#,
    );
    let run = p.assay(&["init"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let file = p.path().join("contracts/db/main/odd__table.yml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("dataset: \"db/main/odd: table\""), "{text}");
    assert!(text.contains("  - name: \"a: b\""), "{text}");
    assert!(
        text.contains("valid_values: [\"\\\"q\\\"\", \"x #1\"]"),
        "{text}"
    );
    assert!(text.contains("  - name: \"yes\""), "{text}");
    assert!(text.contains("valid_values: [\"off\", \"on\"]"), "{text}");
    assert!(!text.contains("${env.HOME}"), "{text}");
    assert!(text.contains("allow_extra_columns: true"), "{text}");
    assert!(!text.contains("${var.X}"), "{text}");
    let run = p.assay(&["verify", "-o", "json"]);
    assert_eq!(run.code, 0, "{}\n{text}", run.stdout);
}

/// A typo in a column, a dataset or a channel name gets the closest real one.
#[test]
fn typos_in_columns_datasets_and_channels_get_the_closest_name() {
    let p = Project::duckdb(
        "CREATE TABLE orders (id INTEGER, amount INTEGER); INSERT INTO orders VALUES (1, 2)",
    );
    p.write(
        "contract.yml",
        "dataset: db/main/orders\ncolumns:\n  - name: amont\n    checks:\n      - missing:\n",
    );
    let run = p.assay(&["verify", "contract.yml", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let error = crate::common::check(&run.json(), "columns/amont/missing")["error"].clone();
    assert!(
        error
            .as_str()
            .unwrap()
            .contains("'amont' (did you mean 'amount'?)"),
        "{error}"
    );

    p.write(
        "contract.yml",
        "dataset: db/main/order\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "contract.yml", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let error = run.json()["datasets"][0]["error"].clone();
    assert!(
        error
            .as_str()
            .unwrap()
            .contains("(did you mean 'db/main/orders'?)"),
        "{error}"
    );

    p.write(
        "assay.yml",
        "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\nchannels:\n  orders: {user: ci, password: \"${env.ASSAY_T_CHANNEL_PW}\"}\n",
    );
    p.write(
        "stream.yml",
        "dataset: stream/main/events\nchecks:\n  - row_count:\n",
    );
    let run = p.assay_with(
        &[("ASSAY_T_CHANNEL_PW", "pw")],
        &[
            "verify",
            "stream.yml",
            "--channel",
            "ordrs",
            "--timeout",
            "5s",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean 'orders'?"),
        "{}",
        run.stderr
    );
    // approved but not running: the closest running or configured one
    p.write(
        "assay.yml",
        "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\nenvironments:\n  default: {channels: [orders, ordrs]}\nchannels:\n  orders: {user: ci, password: \"${env.ASSAY_T_CHANNEL_PW}\"}\n",
    );
    let run = p.assay_with(
        &[("ASSAY_T_CHANNEL_PW", "pw")],
        &[
            "verify",
            "stream.yml",
            "--channel",
            "ordrs",
            "--timeout",
            "5s",
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean 'orders'?"),
        "{}",
        run.stderr
    );
}

/// The README's commands (`cargo run --release`, `cargo install --locked --path .`, and
/// the test command's `cargo test --release --features spark`) share one compile of
/// DuckDB's C++: the build of libduckdb-sys and everything it depends on is the same unit
/// in each. (Host crates of its build script once got other features with spark.)
#[test]
fn one_duckdb_compile_serves_run_install_and_the_tests() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let closure = |args: &[&str]| -> Vec<String> {
        let out = std::process::Command::new(&cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            // the unit graph is an unstable cargo flag: read it, build nothing
            .env("RUSTC_BOOTSTRAP", "1")
            .args(args)
            .args([
                "--release",
                "--locked",
                "--offline",
                "--unit-graph",
                "-Z",
                "unstable-options",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let graph: Value = serde_json::from_slice(&out.stdout).unwrap();
        let units = graph["units"].as_array().unwrap();
        let mut todo: Vec<usize> = units
            .iter()
            .enumerate()
            .filter(|(_, u)| u["pkg_id"].as_str().unwrap().contains("libduckdb-sys"))
            .map(|(i, _)| i)
            .collect();
        assert!(!todo.is_empty(), "no libduckdb-sys in {args:?}");
        let mut seen = std::collections::BTreeSet::new();
        while let Some(i) = todo.pop() {
            let u = &units[i];
            let text = format!(
                "{} {} {} {} {}",
                u["pkg_id"], u["mode"], u["target"]["kind"], u["features"], u["profile"]
            );
            if seen.insert(text) {
                todo.extend(
                    u["dependencies"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d["index"].as_u64().unwrap() as usize),
                );
            }
        }
        seen.into_iter().collect()
    };
    let run = closure(&["build"]);
    let tests = closure(&["test", "--features", "spark", "--no-run"]);
    let spark = closure(&["build", "--features", "spark"]);
    let differ = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter()
            .filter(|x| !b.contains(x))
            .chain(b.iter().filter(|x| !a.contains(x)))
            .cloned()
            .collect()
    };
    assert!(
        differ(&run, &tests).is_empty(),
        "{:#?}",
        differ(&run, &tests)
    );
    assert!(
        differ(&run, &spark).is_empty(),
        "{:#?}",
        differ(&run, &spark)
    );
}

/// Words of a command line, with '...' and "..." quoting as a shell reads them.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The README's "The first hour", command by command, as written, in a fresh copy of the
/// project: each exits as its comment says (0 unless it says `exit N`).
#[test]
fn the_readme_first_hour_runs_as_written() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("\n## The first hour\n").expect("the section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut commands = Vec::new();
    let mut in_block = false;
    for line in section.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if in_block && !line.trim().is_empty() {
            commands.push(line.to_string());
        }
    }
    assert!(commands.len() >= 12, "{commands:?}");

    let p = Project::empty();
    std::fs::copy(root.join("assay.yml"), p.path().join("assay.yml")).unwrap();
    copy_tree(&root.join("contracts"), &p.path().join("contracts"));
    copy_tree(&root.join("examples"), &p.path().join("examples"));
    let mut env: Vec<(String, String)> = Vec::new();
    let mut background: Vec<std::process::Child> = Vec::new();
    for line in &commands {
        let (command, comment) = match line.find("  #") {
            Some(i) => (line[..i].trim(), &line[i..]),
            None => (line.trim(), ""),
        };
        let expected: i32 = comment
            .split("exit ")
            .nth(1)
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if let Some(assignment) = command.strip_prefix("export ") {
            let (k, v) = assignment.split_once('=').unwrap();
            env.push((k.to_string(), v.to_string()));
            continue;
        }
        let (command, in_background) = match command.strip_suffix('&') {
            Some(c) => (c.trim(), true),
            None => (command, false),
        };
        let words = shell_words(command);
        assert_eq!(words[0], "assay", "{line}");
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if in_background {
            let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("assay"))
                .current_dir(p.path())
                .envs(vars.iter().copied())
                .env_remove("ASSAY_CHANNEL_REGISTRY")
                .args(&args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            background.push(child);
            // up when the registry lists it
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !p
                .assay(&["channel", "list", "-o", "json"])
                .stdout
                .contains("\"orders\"")
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{line}: did not start"
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            continue;
        }
        let run = p.assay_with(&vars, &args);
        assert_eq!(
            run.code, expected,
            "`{line}` exited {}:\n{}\n{}",
            run.code, run.stdout, run.stderr
        );
    }
    for mut child in background {
        let _ = child.kill();
        let _ = child.wait();
    }
    for made in [
        ".assay/.gitignore",
        ".assay/report.html",
        ".assay/diagnostics.duckdb",
        "contracts/new/shop/customers.csv.yml",
        "main.json",
        "comment.md",
    ] {
        assert!(p.path().join(made).exists(), "{made}");
    }
    assert!(shell_words("a 'b c' \"d\" ''") == ["a", "b c", "d", ""]);
}

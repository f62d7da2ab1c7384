//! What a newcomer meets in the first hour (issue 25): right answers on files.

use serde_json::Value;

use crate::common::Project;

fn files_project() -> Project {
    let p = Project::empty();
    p.write(
        "assay.yml",
        "data_sources:\n  - {name: local, type: files, connection: {root: data}}\n",
    );
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
    let p = Project::empty();
    p.write(
        "assay.yml",
        "data_sources:\n  - {name: local, type: files, connection: {root: data}}\n",
    );
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
    let p = Project::empty();
    p.write(
        "assay.yml",
        "data_sources:\n  - {name: local, type: files, connection: {root: data}}\n",
    );
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

//! The real binary: exit codes, output formats, --plan, --timeout, the shipped examples.

use crate::common;

use common::Project;
use std::path::Path;

const TABLE: &str = "CREATE TABLE t(id INTEGER, name VARCHAR);
INSERT INTO t VALUES (1, 'a'), (2, 'b'), (2, NULL);";

const PASSING: &str = "dataset: db/main/t\nchecks:\n  - row_count:\n";
/// A metric check whose query runs for minutes: something for --timeout and Ctrl-C to stop.
const SLOW_METRIC: &str = "  - metric:
      query: SELECT count(*) FROM range(200000) a, range(200000) b WHERE a.range + b.range = 7
      threshold: {must_be: 8}
";

const FAILING: &str =
    "dataset: db/main/t\ncolumns:\n  - name: id\n    checks:\n      - duplicate:\n";

#[test]
fn exit_0_when_every_check_passes() {
    let p = Project::duckdb(TABLE);
    p.write("contracts/t.yml", PASSING);
    let run = p.assay(&["verify"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("PASS"), "{}", run.stdout);
    assert!(
        run.stdout.contains("1 check on 1 dataset: 1 passed"),
        "{}",
        run.stdout
    );
}

#[test]
fn exit_1_when_a_check_fails() {
    let p = Project::duckdb(TABLE);
    p.write("contracts/t.yml", FAILING);
    let run = p.assay(&["verify"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("FAIL"));
    assert!(run.stdout.contains("duplicate_count=1"), "{}", run.stdout);
}

#[test]
fn exit_2_on_bad_input_and_nothing_runs() {
    let p = Project::duckdb(TABLE);
    p.write(
        "contracts/t.yml",
        "dataset: db/main/t\nchecks:\n  - row_cont:\n",
    );
    let run = p.assay(&["verify"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
}

#[test]
fn exit_3_when_a_data_source_cannot_be_opened() {
    let p = Project::empty();
    p.write(
        "assay.yml",
        "data_sources:\n  - {name: db, type: duckdb, connection: {database: missing.duckdb}}\n",
    );
    p.write("contracts/t.yml", PASSING);
    let run = p.assay(&["verify", "-o", "json"]);
    assert_eq!(run.code, 3);
    let r = run.json();
    let error = r["datasets"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("data source 'db'") && error.contains("does not exist"),
        "{error}"
    );
    assert_eq!(r["outcome"], "not_evaluated");
}

#[test]
fn failures_win_over_warnings_and_runtime_errors_win_over_failures() {
    let p = Project::duckdb(TABLE);
    p.write("fail.yml", FAILING);
    p.write(
        "broken.yml",
        "dataset: db/main/nope\nchecks:\n  - row_count:\n",
    );
    assert_eq!(p.assay(&["verify", "fail.yml", "broken.yml"]).code, 3);
}

#[test]
fn json_output_is_the_results_document_without_row_values() {
    let p = Project::duckdb(
        "CREATE TABLE t(secret VARCHAR); INSERT INTO t VALUES ('tell-no-one-1'), ('tell-no-one-1'), (NULL);",
    );
    p.write(
        "contract.yml",
        "dataset: db/main/t\ncolumns:\n  - name: secret\n    checks:\n      - duplicate:\n      - missing:\n      - invalid: {valid_values: [x]}\n      - aggregate: {function: max_length, threshold: {must_be: 13}}\n",
    );
    let run = p.assay(&["verify", "contract.yml", "-o", "json", "-vv"]);
    assert_eq!(run.code, 1);
    let r = run.json();
    for key in [
        "schema_version",
        "scan_id",
        "tool",
        "started_at",
        "ended_at",
        "now",
        "outcome",
        "summary",
        "datasets",
    ] {
        assert!(r.get(key).is_some(), "missing {key}");
    }
    assert_eq!(r["summary"]["checks"], 4);
    assert_eq!(r["summary"]["fail"], 3);
    assert!(
        !run.stdout.contains("tell-no-one"),
        "row values leaked into results"
    );
    assert!(
        !run.stderr.contains("tell-no-one"),
        "row values leaked into logs"
    );
    // -vv logs every statement with its duration
    assert!(
        run.stderr.contains("COUNT(*)") && run.stderr.contains(" ms)"),
        "{}",
        run.stderr
    );
}

#[test]
fn several_outputs_at_once_to_files_and_stdout() {
    let p = Project::duckdb(TABLE);
    p.write("contract.yml", FAILING);
    let run = p.assay(&[
        "verify",
        "contract.yml",
        "-o",
        "junit=out/report.xml",
        "-o",
        "json=out/results.json",
        "-o",
        "markdown=out/summary.md",
    ]);
    assert_eq!(run.code, 1);
    // the table still goes to stdout when every report goes to a file
    assert!(run.stdout.contains("FAIL"), "{}", run.stdout);
    let junit = std::fs::read_to_string(p.path().join("out/report.xml")).unwrap();
    assert!(junit.starts_with("<?xml"));
    assert!(
        junit.contains("<testsuites name=\"assay\" tests=\"1\" failures=\"1\""),
        "{junit}"
    );
    assert!(junit.contains("<failure message="), "{junit}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path().join("out/results.json")).unwrap())
            .unwrap();
    assert_eq!(json["summary"]["fail"], 1);
    let md = std::fs::read_to_string(p.path().join("out/summary.md")).unwrap();
    assert!(
        md.contains("| outcome | check | value | threshold | details |"),
        "{md}"
    );
    assert!(md.contains("❌ fail"), "{md}");
}

#[test]
fn markdown_and_junit_to_stdout_and_quiet_prints_nothing() {
    let p = Project::duckdb(TABLE);
    p.write("contract.yml", PASSING);
    let md = p.assay(&["verify", "contract.yml", "-o", "markdown"]);
    assert!(
        md.stdout.starts_with("## assay verification: ✅ pass"),
        "{}",
        md.stdout
    );
    let junit = p.assay(&["verify", "contract.yml", "-o", "junit"]);
    assert!(
        junit
            .stdout
            .contains("<testcase name=\"row count [checks/row_count]\""),
        "{}",
        junit.stdout
    );
    let quiet = p.assay(&["verify", "contract.yml", "-q"]);
    assert_eq!(quiet.code, 0);
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty());
}

#[test]
fn plan_prints_sql_and_connects_to_nothing() {
    let p = Project::empty();
    // the database does not exist: --plan must not need it
    p.write(
        "assay.yml",
        "data_sources:\n  - {name: db, type: duckdb, connection: {database: nowhere.duckdb}}\n",
    );
    p.write("contract.yml", include_str!("fixtures/every_check.yml"));
    let run = p.assay(&[
        "verify",
        "contract.yml",
        "--plan",
        "--now",
        "2025-01-01T00:00:00Z",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!p.path().join("nowhere.duckdb").exists());
    insta::assert_snapshot!("plan_duckdb_every_check", run.stdout);
}

#[test]
fn timeout_interrupts_running_queries() {
    let p = Project::duckdb(TABLE);
    p.write(
        "contract.yml",
        &format!("dataset: db/main/t\nchecks:\n{SLOW_METRIC}  - row_count:\n"),
    );
    let run = p.assay(&["verify", "contract.yml", "--timeout", "1s", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let r = run.json();
    let metric = &r["datasets"][0]["checks"][0];
    assert_eq!(metric["outcome"], "not_evaluated");
    assert!(
        metric["error"].as_str().unwrap().contains("--timeout 1s"),
        "{metric}"
    );
}

#[test]
fn data_source_files_and_name_selection() {
    let p = Project::duckdb(TABLE);
    std::fs::rename(p.path().join("assay.yml"), p.path().join("warehouse.yml")).unwrap();
    // a standalone data source file is one mapping, not a list
    p.write(
        "warehouse.yml",
        "name: db\ntype: duckdb\nconnection: {database: db.duckdb}\n",
    );
    p.write("contract.yml", PASSING);
    let run = p.assay(&["verify", "contract.yml", "-d", "warehouse.yml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    p.write(
        "assay.yml",
        "data_sources:\n  - {name: db, type: duckdb, connection: {database: db.duckdb}}\n  - {name: other, type: files, connection: {root: .}}\n",
    );
    p.write("contracts/a.yml", PASSING);
    p.write(
        "contracts/b.yml",
        "dataset: other/x.csv\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "-d", "db", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["datasets"].as_array().unwrap().len(), 1);
}

#[test]
fn version_and_help() {
    let p = Project::empty();
    let v = p.assay(&["--version"]);
    assert_eq!(
        v.stdout.trim(),
        format!("assay {}", env!("CARGO_PKG_VERSION"))
    );
    let h = p.assay(&["verify", "--help"]);
    for needle in [
        "--plan",
        "--fail-on",
        "--timeout",
        "--jobs",
        "--now",
        "--set",
        "Examples:",
        "Exit codes",
    ] {
        assert!(h.stdout.contains(needle), "help lacks {needle}");
    }
}

#[test]
fn the_shipped_examples_pass_and_the_failing_one_fails() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("assay")
            .unwrap()
            .current_dir(root)
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap()
    };
    let ok = run(&["verify"]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout.contains("passed, 0 warned, 0 failed, 0 not evaluated")
            || stdout.contains("warned, 0 failed, 0 not evaluated"),
        "{stdout}"
    );
    let bad = run(&["verify", "examples/failing/orders_strict.yml"]);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&bad.stdout)
    );
}

#[test]
fn ctrl_c_interrupts_running_queries_and_still_reports() {
    let p = Project::duckdb(TABLE);
    p.write(
        "contract.yml",
        &format!("dataset: db/main/t\nchecks:\n  - row_count:\n{SLOW_METRIC}"),
    );
    let child = p.spawn_assay(&["verify", "contract.yml", "-o", "json"]);
    // wait until the long query runs, then interrupt as a terminal would
    std::thread::sleep(std::time::Duration::from_millis(1500));
    common::interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["datasets"][0]["checks"][0]["outcome"], "pass", "{r:#}");
    let metric = &r["datasets"][0]["checks"][1];
    assert_eq!(metric["outcome"], "not_evaluated");
    assert!(
        metric["error"]
            .as_str()
            .unwrap()
            .contains("interrupted (Ctrl-C)"),
        "{metric}"
    );
}

#[test]
fn datasets_run_concurrently_and_report_in_contract_order() {
    let p = Project::duckdb(
        "CREATE TABLE a AS SELECT range AS v FROM range(10);
         CREATE TABLE b AS SELECT range AS v FROM range(20);
         CREATE TABLE c AS SELECT range AS v FROM range(30);",
    );
    for (name, rows) in [("a", 10), ("b", 20), ("c", 30)] {
        p.write(
            &format!("contracts/{name}.yml"),
            &format!("dataset: db/main/{name}\nchecks:\n  - row_count: {{threshold: {{must_be: {rows}}}}}\n"),
        );
    }
    for jobs in ["1", "3"] {
        let run = p.assay(&["verify", "-j", jobs, "-o", "json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let r = run.json();
        let order: Vec<&str> = r["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["dataset"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["db/main/a", "db/main/b", "db/main/c"]);
    }
}

/// Sub-commands are clap's own (issue 26): each shows its own options, a typo is caught
/// with the closest name, and the shared options go before or after the sub-command.
#[test]
fn sub_commands_show_their_own_options_and_catch_typos() {
    let p = crate::common::Project::empty();
    let run = p.assay(&["history", "backtest", "--help"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("--sensitivity"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("--at ") && !run.stdout.contains("--metric"),
        "{}",
        run.stdout
    );
    let run = p.assay(&["history", "accept", "--help"]);
    assert!(run.stdout.contains("--at <TIME>") && !run.stdout.contains("--sensitivity"));
    let run = p.assay(&["channel", "run", "--help"]);
    assert!(run.stdout.contains("--every") && !run.stdout.contains("--environment"));

    let run = p.assay(&["history", "bakctest", "x.csv"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = p.assay(&["history", "bakctest"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("did you mean the sub-command 'backtest'"),
        "{}",
        run.stderr
    );
    let run = p.assay(&["channel", "lst"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("'list'"), "{}", run.stderr);
    let run = p.assay(&["channel", "run", "c.yml", "--environment", "dev"]);
    assert_eq!(run.code, 2, "{}", run.stderr);

    // the shared options after the sub-command, and before it
    for args in [
        &["history", "schema", "db/main/t", "-c", "nope.yml"][..],
        &["history", "-c", "nope.yml", "schema", "db/main/t"][..],
        &["channel", "list", "-c", "nope.yml"][..],
    ] {
        let run = p.assay(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("'nope.yml' does not exist"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

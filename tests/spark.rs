//! Spark through Spark Connect, on the loopback cluster scripts/test starts (a master,
//! two workers with one core each, a Connect server): assay's metrics query runs as tasks
//! on both workers; `--timeout` and Ctrl-C stop its job on the cluster; errors carry
//! Spark's error class and SQL state; a token never shows; files are datasets only inside
//! the data source's `file_paths`. The conformance suite, the attacks on user SQL and the
//! failed-rows capture run on Spark in their own modules.

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::engines::{spark_url, Engine, Sandbox};
use serde_json::Value;

fn driver_ui() -> String {
    std::env::var("ASSAY_TEST_SPARK_DRIVER_UI")
        .expect("ASSAY_TEST_SPARK_DRIVER_UI is not set: scripts/test starts the Spark cluster")
}

/// GET a path of the Connect server's (the Spark application's) REST API.
fn rest(path: &str) -> Value {
    let url = format!("{}/api/v1{path}", driver_ui());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let text = reqwest::get(&url)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"))
                .text()
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"))
        })
}

fn application() -> String {
    rest("/applications")[0]["id"].as_str().unwrap().to_string()
}

/// The Spark jobs of one assay run: assay tags each with `assay-<scan_id>`.
fn jobs_of(scan_id: &str) -> Vec<Value> {
    let tag = format!("assay-{scan_id}");
    rest(&format!("/applications/{}/jobs", application()))
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| {
            j["jobTags"].as_array().is_some_and(|tags| {
                tags.iter()
                    .any(|t| t.as_str().unwrap_or("").ends_with(&tag))
            })
        })
        .cloned()
        .collect()
}

/// The executors that ran tasks of these jobs.
fn executors_of(jobs: &[Value]) -> BTreeSet<String> {
    let app = application();
    let mut out = BTreeSet::new();
    for job in jobs {
        for stage in job["stageIds"].as_array().unwrap() {
            let attempts = rest(&format!("/applications/{app}/stages/{stage}"));
            for attempt in attempts.as_array().into_iter().flatten() {
                // a stage skipped (its result reused) has no attempt with tasks
                let Some(n) = attempt["attemptId"].as_u64() else {
                    continue;
                };
                let tasks = rest(&format!(
                    "/applications/{app}/stages/{stage}/{n}/taskList?length=10000"
                ));
                for t in tasks.as_array().into_iter().flatten() {
                    out.insert(t["executorId"].as_str().unwrap().to_string());
                }
            }
        }
    }
    out
}

/// A Spark sandbox with `big`: 400,000 rows in eight Parquet files.
fn big_table() -> Sandbox {
    let s = Sandbox::new(Engine::Spark);
    s.run(&[format!(
        "CREATE TABLE {} USING parquet AS SELECT id, CAST(id % 1000 AS INT) AS grp, \
         IF(id % 97 = 0, NULL, concat('name-', id)) AS name FROM range(0, 400000, 1, 8)",
        s.qualified("big")
    )]);
    s
}

#[test]
fn spark_runs_the_metrics_query_on_both_workers() {
    let s = big_table();
    s.project.write(
        "c.yml",
        &format!(
            "dataset: {}/big\ncolumns:\n  - name: id\n    checks:\n      - duplicate:\n  - name: name\n    checks:\n      - missing: {{threshold: {{must_be: 4124}}}}\nchecks:\n  - row_count: {{threshold: {{must_be: 400000}}}}\n",
            s.dataset_prefix()
        ),
    );
    let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let r = run.json();
    assert_eq!(common::check(&r, "columns/name/missing")["value"], 4124.0);
    let scan_id = r["scan_id"].as_str().unwrap().to_string();
    // the REST API learns of finished tasks through the listener bus: a moment's delay
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jobs = jobs_of(&scan_id);
        let executors = executors_of(&jobs);
        let workers: BTreeSet<&String> = executors.iter().filter(|e| *e != "driver").collect();
        if workers.len() >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "assay's jobs ran on {executors:?}, not on both workers: {jobs:#?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A query that keeps both workers busy for minutes: hashing is never folded away.
const SLOW: &str = "SELECT sum(hash(id)) FROM range(0, 50000000000, 1, 4)";

#[test]
fn spark_timeout_and_ctrl_c_stop_the_job_on_the_cluster() {
    let s = Sandbox::new(Engine::Spark);
    s.run(&[format!(
        "CREATE TABLE {} (id INT) USING parquet",
        s.qualified("t")
    )]);
    s.project.write(
        "c.yml",
        &format!(
            "dataset: {}/t\nchecks:\n  - metric:\n      query: \"{SLOW}\"\n      threshold: {{must_be: 0}}\n",
            s.dataset_prefix()
        ),
    );
    for how in ["timeout", "ctrl-c"] {
        let mut args = vec!["verify", "c.yml", "-o", "json"];
        if how == "timeout" {
            args.extend(["--timeout", "8s"]);
        }
        let started = Instant::now();
        let child = s.project.spawn_assay(&args);
        if how == "ctrl-c" {
            std::thread::sleep(Duration::from_secs(8));
            common::interrupt(&child);
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{how}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{how}: assay did not stop"
        );
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let metric = &r["datasets"][0]["checks"][0];
        assert_eq!(metric["outcome"], "not_evaluated", "{metric}");
        let reason = if how == "timeout" {
            "--timeout"
        } else {
            "Ctrl-C"
        };
        assert!(
            metric["error"].as_str().unwrap_or("").contains(reason),
            "{how}: {metric}"
        );
        // the job was started, and the cluster stopped it: none of the run's jobs runs on
        let scan_id = r["scan_id"].as_str().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let jobs = jobs_of(scan_id);
            assert!(!jobs.is_empty(), "{how}: no job of the run reached Spark");
            let running: Vec<&Value> = jobs.iter().filter(|j| j["status"] == "RUNNING").collect();
            if running.is_empty() {
                assert!(
                    jobs.iter().any(|j| j["status"] == "FAILED"),
                    "{how}: the job was not stopped: {jobs:#?}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{how}: the job still runs on the cluster: {running:#?}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

#[test]
fn spark_errors_carry_their_class_and_sql_state() {
    let s = Sandbox::new(Engine::Spark);
    s.create_table(
        "t",
        &[("note".into(), "varchar(20)".into())],
        &[vec![common::engines::Cell::Text("not a number".into())]],
    );
    s.project.write(
        "c.yml",
        &format!(
            "dataset: {}/t\nchecks:\n  - metric:\n      query: \"SELECT SUM(CAST(note AS INT)) FROM {}\"\n      threshold: {{must_be: 0}}\n",
            s.dataset_prefix(),
            s.qualified("t")
        ),
    );
    let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let error = run.json()["datasets"][0]["checks"][0]["error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        error.contains("[CAST_INVALID_INPUT]") && error.contains("SQLSTATE 22018"),
        "{error}"
    );
    // a dataset that is not there is named as missing, not as a crash
    s.project.write(
        "c.yml",
        &format!(
            "dataset: {}/nowhere\nchecks:\n  - row_count:\n",
            s.dataset_prefix()
        ),
    );
    let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let error = run.json()["datasets"][0]["error"].to_string();
    assert!(error.contains("nowhere"), "{error}");
}

/// A token or header never shows, when the server answers and when it does not; and a
/// server that does not answer is given up on after connect_timeout, though the client
/// would retry for minutes.
#[test]
fn spark_token_and_headers_never_show() {
    const TOKEN: &str = "sparkTokenXy7q42Secret";
    const HEADER: &str = "headerValueKq9z11Secret";
    let s = Sandbox::new(Engine::Spark);
    s.run(&[format!(
        "CREATE TABLE {} USING parquet AS SELECT id FROM range(0, 3)",
        s.qualified("small")
    )]);
    let (host_port, _) = spark_url()
        .trim_start_matches("sc://")
        .split_once('/')
        .map(|(h, r)| (h.to_string(), r.to_string()))
        .unwrap_or((
            spark_url().trim_start_matches("sc://").to_string(),
            String::new(),
        ));
    // the cluster, and a port where nothing answers
    for (name, url) in [
        ("up", format!("sc://{host_port}")),
        ("down", "sc://127.0.0.1:9".to_string()),
    ] {
        s.project.write(
            "assay.yml",
            &format!(
                "data_sources:\n  - name: db\n    type: spark\n    connection:\n      url: {url}\n      token: ${{env.ASSAY_SPARK_TOKEN}}\n      headers: {{x-secret-header: \"${{env.ASSAY_SPARK_HEADER}}\"}}\n      connect_timeout: 5s\n"
            ),
        );
        s.project.write(
            "c.yml",
            &format!(
                "dataset: {}/small\nchecks:\n  - row_count: {{threshold: {{must_be: 3}}}}\n",
                s.dataset_prefix()
            ),
        );
        let started = Instant::now();
        let out = assert_cmd::Command::cargo_bin("assay")
            .unwrap()
            .current_dir(s.project.path())
            .env("NO_COLOR", "1")
            .env("ASSAY_SPARK_TOKEN", TOKEN)
            .env("ASSAY_SPARK_HEADER", HEADER)
            .args(["verify", "c.yml", "-o", "json", "-vv", "-o", "junit=r.xml"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let junit = std::fs::read_to_string(s.project.path().join("r.xml")).unwrap_or_default();
        for text in [&stdout, &stderr, &std::borrow::Cow::from(junit.as_str())] {
            assert!(!text.contains(TOKEN), "{name}: the token shows:\n{text}");
            assert!(!text.contains(HEADER), "{name}: a header shows:\n{text}");
        }
        if name == "up" {
            // a loopback server takes the token without TLS (and ignores it)
            assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
            continue;
        }
        // nothing answers: the client would retry for minutes, assay gives up after the
        // 5 s connect_timeout, and the process ends
        assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "took {:?}",
            started.elapsed()
        );
        let r: Value = serde_json::from_str(&stdout).unwrap();
        let error = r["datasets"][0]["error"].as_str().unwrap_or("").to_string();
        assert!(error.contains("'db'") || error.contains("db"), "{error}");
    }
}

#[test]
fn spark_reads_files_as_datasets_only_inside_file_paths() {
    let s = Sandbox::new(Engine::Spark);
    let lake = s.project.path().join("lake");
    let events = lake.join("events");
    let outside = s.project.path().join("private");
    for dir in [&events, &outside] {
        s.run(&[format!(
            "INSERT OVERWRITE DIRECTORY '{}' USING parquet \
             SELECT id, IF(id % 10 = 0, NULL, id * 2) AS amount FROM range(0, 1000, 1, 2)",
            dir.display()
        )]);
    }
    s.project.write(
        "assay.yml",
        &format!(
            "data_sources:\n  - name: db\n    type: spark\n    connection:\n      url: '{}'\n      file_paths: ['{}/']\n",
            spark_url(),
            lake.display()
        ),
    );
    let contract = |path: &str| {
        format!(
            "dataset: \"db/parquet.`{path}`\"\ncolumns:\n  - name: amount\n    checks:\n      - missing: {{threshold: {{must_be: 100}}}}\n      - invalid: {{valid_max: 1000}}\nchecks:\n  - row_count: {{threshold: {{must_be: 1000}}}}\n"
        )
    };
    s.project
        .write("c.yml", &contract(&events.display().to_string()));
    let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let r = run.json();
    assert_eq!(common::outcome(&r, "checks/row_count"), "pass");
    assert_eq!(common::outcome(&r, "columns/amount/missing"), "pass");
    // 501..999 doubled is above 1000: ids 501 to 999 less the tens among them
    assert_eq!(common::check(&r, "columns/amount/invalid")["value"], 450.0);

    // outside the allowed folder, by name or by climbing out of it
    for path in [
        outside.display().to_string(),
        format!("{}/../private", events.display()),
        "/etc/passwd".to_string(),
        format!("{}/{{..,x}}", lake.display()),
    ] {
        s.project.write("c.yml", &contract(&path));
        let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
        assert_eq!(run.code, 2, "{path}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("c.yml:") && run.stderr.contains("file_paths"),
            "{path}: {}",
            run.stderr
        );
    }
}

//! Anomaly monitors on arrival: pushed scans are judged by the server against its own
//! history (every runner's points), the verdicts kept, and an incident announced once.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::Project;
use crate::serve::{get_json, rt, token, Served};

/// Daily scans of a table of about a thousand rows, pushed by a client written from
/// docs/ingestion-api.md; then two days of a hundred times as many: the server flags the
/// first, records its verdict, and its webhook hears of the incident once.
#[test]
fn a_pushed_scan_s_anomaly_is_judged_by_the_server_and_told_once() {
    let hook = crate::push::Server::start(
        0,
        Vec::new(),
        crate::push::Reply::Status(200, &[]),
        Duration::ZERO,
    );
    let server = Project::empty();
    server.write(
        "assay.yml",
        &format!(
            "notify:\n  webhook: {{url: '{}/hook', on: [anomaly]}}\n",
            hook.url()
        ),
    );
    let push = token(server.path(), "ci", "push", &[]);
    let read = token(server.path(), "dash", "read", &[]);
    let served = Served::start(server.path(), &["--listen", "127.0.0.1:0"]);
    // one scan of a runner: the document every later one is made from
    let runner = Project::duckdb("CREATE TABLE t AS SELECT range AS id FROM range(1000);");
    let scanned = runner.assay(&["scan", "--now", "2026-01-01T06:00:00Z", "-o", "json"]);
    assert!(scanned.code == 0, "{}", scanned.stderr);
    let template = scanned.json();
    let rows = |day: usize| -> f64 {
        if day >= 11 {
            100_000.0
        } else {
            1000.0 + ((day * 37) % 23) as f64
        }
    };
    rt().block_on(async {
        for day in 1..=12 {
            let mut doc = template.clone();
            let id = uuid::Uuid::new_v4().to_string();
            let at = format!("2026-01-{day:02}T06:00:00Z");
            doc["scan_id"] = json!(id);
            for key in ["now", "started_at", "ended_at"] {
                doc[key] = json!(at);
            }
            let profile = doc["scan"]["data_sources"][0]["datasets"][0]["profile"]
                .as_array_mut()
                .unwrap();
            let row_count = profile
                .iter_mut()
                .find(|p| p["metric"] == "row_count" && p.get("column").is_none_or(Value::is_null))
                .expect("a row_count point");
            row_count["value"] = json!(rows(day));
            let answer = reqwest::Client::new()
                .post(format!("{}/api/v1/results", served.url))
                .bearer_auth(&push)
                .header("Idempotency-Key", &id)
                .header("content-type", "application/json")
                .body(doc.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(
                answer.status().as_u16(),
                201,
                "day {day}: {}",
                answer.text().await.unwrap()
            );
        }
        let (_, series) = get_json(
            served.url.clone(),
            "/api/v1/series?dataset=db/main/t&metric=row_count&since=3650d".into(),
            read.clone(),
        )
        .await;
        let points = series["points"].as_array().unwrap();
        assert_eq!(points.len(), 12, "{series:#}");
        assert_eq!(points[10]["outcome"], "anomaly", "{series:#}");
        assert_eq!(points[10]["kind"], "spike", "{series:#}");
        assert!(
            points[..10].iter().all(|p| p["outcome"] != "anomaly"),
            "{series:#}"
        );
    });
    let started = Instant::now();
    while hook.requests().is_empty() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(700));
    let requests = hook.requests();
    assert_eq!(requests.len(), 1, "one message per incident: {requests:?}");
    assert!(
        requests[0].body.contains("row_count"),
        "{}",
        requests[0].body
    );
    assert!(
        requests[0].body.contains("db/main/t"),
        "{}",
        requests[0].body
    );
}

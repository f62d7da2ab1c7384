//! `assay serve` as a process on a loopback port, with `assay verify --push` and `assay
//! push` as its clients (and a client written from docs/ingestion-api.md alone, with
//! reqwest), on an embedded DuckDB store and on PostgreSQL.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::engines::{admin, admin_number, postgres_url, unique, Engine};
use common::Project;
use serde_json::{json, Value};

/// Row values of the runner's table: they must never reach the server.
const ROW_VALUES: [&str; 2] = ["zanzibar-row-value", "quetzal-row-value"];
const CLOUD_SECRET_ENV: &str = "ASSAY_TEST_SERVE_TOKEN";

/// A running `assay serve`, killed when dropped.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) url: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Served {
    /// Start it in `dir` with `args`; its URL from the line it prints first.
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Served {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("assay"))
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .args(["serve", "-v"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .unwrap_or_else(|| panic!("no URL in '{line}'"))
            .to_string();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(l + "\n"));
            }
        });
        Served { child, url, stderr }
    }

    pub(crate) fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, and its exit code once it has drained.
    pub(crate) fn stop(mut self) -> Option<i32> {
        common::interrupt_term(&self.child);
        let code = self.child.wait().unwrap().code();
        std::mem::forget(self);
        code
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token for the server project in `dir`.
pub(crate) fn token(dir: &Path, name: &str, scopes: &str, extra: &[&str]) -> String {
    let out = Command::new(assert_cmd::cargo::cargo_bin("assay"))
        .current_dir(dir)
        .args(["serve", "token", "create", name, "--scope", scopes])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A runner: a DuckDB table with distinctive values, a contract that fails on them, and
/// `cloud:` naming the server.
fn runner(url: &str) -> Project {
    let p = Project::duckdb(&format!(
        "CREATE TABLE t(id INTEGER, name VARCHAR);
         INSERT INTO t VALUES (1, '{}'), (2, '{}'), (2, NULL);",
        ROW_VALUES[0], ROW_VALUES[1]
    ));
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &format!(
            "{config}cloud:\n  endpoint: {url}\n  token: ${{env.{CLOUD_SECRET_ENV}}}\n  max_attempts: 2\n  backoff: 100ms\n"
        ),
    );
    p.write(
        "contract.yml",
        "dataset: db/main/t
columns:
  - name: id
    checks:
      - duplicate:
  - name: name
    checks:
      - missing:
checks:
  - row_count:
",
    );
    p
}

/// Every value of every table of a DuckDB file, as text.
pub(crate) fn duckdb_text(path: &Path) -> String {
    let conn = duckdb::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT table_name FROM information_schema.tables")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = String::new();
    for t in tables {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT CAST(to_json(x) AS VARCHAR) FROM \"{t}\" x"
            ))
            .unwrap();
        for row in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
            out.push_str(&row.unwrap());
            out.push('\n');
        }
    }
    out
}

fn count(path: &Path, sql: &str) -> i64 {
    let conn = duckdb::Connection::open(path).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A results document of the runner, as `verify -o json` writes it.
fn document(runner: &Project) -> Value {
    let run = runner.assay(&["verify", "contract.yml", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    run.json()
}

async fn post(
    url: &str,
    token: Option<&str>,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/api/v1/results"))
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// `verify --push` and `assay push` deliver to the server; the scan is recorded once
/// however often it comes; `assay report` on the server's store shows it; no row value
/// and no token is in the store or the server's logs.
#[test]
fn runners_push_to_the_server_once_and_its_history_shows_them() {
    let server = Project::empty();
    let push_token = token(server.path(), "ci", "push", &[]);
    let served = Served::start(server.path(), &["--listen", "127.0.0.1:0"]);
    let r = runner(&served.url);
    let run = r.assay_with(
        &[(CLOUD_SECRET_ENV, &push_token)],
        &[
            "verify",
            "contract.yml",
            "--push",
            "-o",
            "json=results.json",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("pushed results"), "{}", run.stderr);
    // the same results again, as an outbox re-delivery would send them: delivered, once
    let again = r.assay_with(
        &[(CLOUD_SECRET_ENV, &push_token)],
        &["push", "results.json"],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    let logs = served.logs();
    assert_eq!(served.stop(), Some(0), "{logs}");
    let store = server.path().join(".assay/history.duckdb");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(r.path().join("results.json")).unwrap())
            .unwrap();
    let scan_id = doc["scan_id"].as_str().unwrap();
    assert_eq!(
        count(
            &store,
            &format!("SELECT count(*) FROM assay_scans WHERE scan_id = '{scan_id}'")
        ),
        1
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM assay_check_results"),
        3,
        "one row per check of the one scan"
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM assay_check_results WHERE outcome = 'fail' AND check_type IN ('duplicate', 'missing')"
        ),
        2
    );
    let text = duckdb_text(&store);
    for secret in ROW_VALUES.iter().copied().chain([push_token.as_str()]) {
        assert!(!text.contains(secret), "'{secret}' is in the store");
        assert!(!logs.contains(secret), "'{secret}' is in the logs:\n{logs}");
    }
    assert!(logs.contains("recorded scan"), "{logs}");
    // the server's history is a history like any other
    let report = server.assay(&["report", "-o", "page.html"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let page = std::fs::read_to_string(server.path().join("page.html")).unwrap();
    assert!(
        page.contains("db/main/t"),
        "the report shows the pushed dataset"
    );
}

/// Who may push: a token with the push scope, not revoked, not expired; anything else is
/// refused before the body is read, and the refusal says why.
#[test]
fn tokens_are_checked_for_scope_revocation_and_expiry() {
    let server = Project::empty();
    let push = token(server.path(), "ci", "push", &[]);
    let read = token(server.path(), "dashboards", "read", &[]);
    let short = token(server.path(), "short", "push", &["--expires", "1s"]);
    let gone = token(server.path(), "gone", "push", &[]);
    let revoke = server.assay(&["serve", "token", "revoke", "gone"]);
    assert_eq!(revoke.code, 0, "{}", revoke.stderr);
    let listed = server.assay(&["serve", "token", "list"]);
    assert!(listed.stdout.contains("revoked"), "{}", listed.stdout);
    assert!(
        !listed.stdout.contains(&gone[10..]),
        "a token is never shown again"
    );
    let served = Served::start(server.path(), &["--listen", "127.0.0.1:0"]);
    let r = runner(&served.url);
    let doc = document(&r);
    let body = serde_json::to_vec(&doc).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    rt().block_on(async {
        let url = &served.url;
        // the last character changed (to one it is not)
        let last = if push.ends_with('A') { 'B' } else { 'A' };
        let forged = format!("{}{last}", &push[..push.len() - 1]);
        for (token, status) in [
            (None, 401),
            (Some(forged.as_str()), 401),
            (Some("Bearer nonsense"), 401),
            (Some(read.as_str()), 403),
            (Some(gone.as_str()), 401),
            (Some(short.as_str()), 401),
            (Some(push.as_str()), 201),
        ] {
            let (got, answer) = post(url, token, body.clone(), &[]).await;
            assert_eq!(got, status, "{token:?}: {answer}");
        }
        // unknown routes and methods: nothing there, for anybody
        let other = reqwest::Client::new()
            .get(format!("{url}/api/v1/results"))
            .bearer_auth(&push)
            .send()
            .await
            .unwrap();
        assert_eq!(other.status().as_u16(), 405);
        let none = reqwest::Client::new()
            .get(format!("{url}/admin"))
            .send()
            .await
            .unwrap();
        assert_eq!(none.status().as_u16(), 404);
    });
}

/// Bodies that are not a results document are refused with the reason and leave nothing
/// in the store: too large (plain and unpacked from gzip), not JSON, a row smuggled in,
/// a scan id that is not a UUID, an Idempotency-Key of another scan, an encoding it does
/// not speak.
#[test]
fn bodies_that_are_not_results_are_refused_and_leave_nothing() {
    let server = Project::empty();
    let push = token(server.path(), "ci", "push", &[]);
    let served = Served::start(
        server.path(),
        &["--listen", "127.0.0.1:0", "--max-body", "64KiB"],
    );
    let r = runner(&served.url);
    let doc = document(&r);
    let gzip = |bytes: &[u8]| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    rt().block_on(async {
        let url = &served.url;
        let t = Some(push.as_str());
        let big = vec![b' '; 100 << 10];
        assert_eq!(post(url, t, big.clone(), &[]).await.0, 413);
        let (status, answer) = post(url, t, gzip(&big), &[("Content-Encoding", "gzip")]).await;
        assert_eq!(status, 413, "{answer}");
        let (status, answer) = post(url, t, b"{not json".to_vec(), &[]).await;
        assert_eq!(status, 400, "{answer}");
        let mut smuggled = doc.clone();
        smuggled["datasets"][0]["checks"][0]["rows"] = json!([{"id": 1, "name": ROW_VALUES[0]}]);
        let (status, answer) = post(url, t, serde_json::to_vec(&smuggled).unwrap(), &[]).await;
        assert_eq!(status, 422, "{answer}");
        assert!(answer.to_string().contains("'rows'"), "{answer}");
        let mut bad_id = doc.clone();
        bad_id["scan_id"] = json!("1; DROP TABLE assay_scans");
        let (status, answer) = post(url, t, serde_json::to_vec(&bad_id).unwrap(), &[]).await;
        assert_eq!(status, 422, "{answer}");
        let body = serde_json::to_vec(&doc).unwrap();
        let other = "0b6f6f3e-8d1c-4c39-9a57-2f1d1f0c2a11";
        let (status, answer) = post(url, t, body.clone(), &[("Idempotency-Key", other)]).await;
        assert_eq!(status, 422, "{answer}");
        let (status, _) = post(url, t, body.clone(), &[("Content-Encoding", "br")]).await;
        assert_eq!(status, 415);
        // and the document itself, gzip'd as assay sends large ones: taken
        let key = doc["scan_id"].as_str().unwrap().to_string();
        let (status, answer) = post(
            url,
            t,
            gzip(&body),
            &[("Content-Encoding", "gzip"), ("Idempotency-Key", &key)],
        )
        .await;
        assert_eq!(status, 201, "{answer}");
    });
    let logs = served.logs();
    assert_eq!(served.stop(), Some(0));
    let store = server.path().join(".assay/history.duckdb");
    assert_eq!(count(&store, "SELECT count(*) FROM assay_scans"), 1);
    let text = duckdb_text(&store);
    assert!(
        !text.contains(ROW_VALUES[0]),
        "the smuggled row is not stored"
    );
    assert!(!logs.contains(ROW_VALUES[0]), "{logs}");
}

/// A PostgreSQL store, many documents pushed at once, the server killed with SIGKILL in
/// the middle and started again: every document acknowledged is stored, none twice.
#[test]
fn kill_9_mid_stream_loses_no_acknowledged_result_and_duplicates_none() {
    let schema = unique("assay_serve");
    let server = Project::empty();
    server.write(
        "assay.yml",
        &format!(
            "data_sources:\n  - name: hub\n    type: postgres\n    connection: {{connection_string: '{}'}}\nhistory: {{data_source: hub, schema: {schema}}}\n",
            postgres_url()
        ),
    );
    let push = token(server.path(), "ci", "push", &[]);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let served = Served::start(server.path(), &["--listen", &listen]);
    let url = served.url.clone();
    let r = runner(&url);
    let template = document(&r);
    const DOCS: usize = 60;
    let docs: Vec<Value> = (0..DOCS)
        .map(|_| {
            let mut d = template.clone();
            d["scan_id"] = json!(uuid_v4());
            d
        })
        .collect();
    let ids: Vec<String> = docs
        .iter()
        .map(|d| d["scan_id"].as_str().unwrap().to_string())
        .collect();
    // clients as the docs describe them: retry on no answer and on 5xx, until 2xx or 409
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let workers: Vec<_> = docs
        .chunks(DOCS / 6)
        .map(|chunk| {
            let chunk = chunk.to_vec();
            let url = url.clone();
            let push = push.clone();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                rt().block_on(async {
                    for d in chunk {
                        let body = serde_json::to_vec(&d).unwrap();
                        let started = Instant::now();
                        loop {
                            let sent = reqwest::Client::new()
                                .post(format!("{url}/api/v1/results"))
                                .bearer_auth(&push)
                                .timeout(Duration::from_secs(10))
                                .body(body.clone())
                                .send()
                                .await;
                            match sent.map(|r| r.status().as_u16()) {
                                Ok(201 | 409) => break,
                                _ if started.elapsed() > Duration::from_secs(60) => {
                                    panic!("never delivered")
                                }
                                _ => tokio::time::sleep(Duration::from_millis(100)).await,
                            }
                        }
                        acknowledged
                            .lock()
                            .unwrap()
                            .push(d["scan_id"].as_str().unwrap().to_string());
                    }
                })
            })
        })
        .collect();
    // kill -9 once some are in, then start again on the same port
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < DOCS / 4
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut served = served;
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    drop(served);
    std::thread::sleep(Duration::from_millis(300));
    let served = Served::start(server.path(), &["--listen", &listen]);
    for w in workers {
        w.join().unwrap();
    }
    let logs = served.logs();
    assert_eq!(served.stop(), Some(0), "{logs}");
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), DOCS);
    let table = format!("\"{schema}\".assay_scans");
    for id in &ids {
        let n = admin_number(
            Engine::Postgres,
            &format!("SELECT count(*) FROM {table} WHERE scan_id = '{id}'"),
        );
        assert_eq!(n, 1, "scan {id} stored {n} times");
    }
    let checks = admin_number(
        Engine::Postgres,
        &format!("SELECT count(*) FROM \"{schema}\".assay_check_results"),
    );
    assert_eq!(checks, 3 * DOCS as i64, "every scan's checks, once");
    admin(
        Engine::Postgres,
        &[format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")],
    )
    .unwrap();
}

/// A store that cannot be written answers 503 with Retry-After: the runner keeps its
/// results in the outbox (exit 4) and delivers them once the store is back.
#[test]
fn a_store_that_is_down_is_503_and_the_runner_keeps_its_results() {
    let schema = unique("assay_serve");
    let server = Project::empty();
    let config = |url: &str| {
        format!(
            "data_sources:\n  - name: hub\n    type: postgres\n    connection: {{connection_string: '{url}'}}\nhistory: {{data_source: hub, schema: {schema}}}\n"
        )
    };
    server.write("assay.yml", &config("postgres://postgres@127.0.0.1:1/test"));
    let push = token(server.path(), "ci", "push", &[]);
    let served = Served::start(server.path(), &["--listen", "127.0.0.1:0"]);
    let r = runner(&served.url);
    let run = r.assay_with(
        &[(CLOUD_SECRET_ENV, &push)],
        &["verify", "contract.yml", "--push"],
    );
    assert_eq!(
        run.code, 1,
        "a failing check outranks not pushed: {}",
        run.stderr
    );
    assert!(run.stderr.contains("503"), "{}", run.stderr);
    assert_eq!(waiting(r.path()), 1, "the results wait in the outbox");
    drop(served);
    // the store is back: the outbox is delivered and emptied
    server.write("assay.yml", &config(&postgres_url()));
    let served = Served::start(server.path(), &["--listen", "127.0.0.1:0"]);
    let config_text = std::fs::read_to_string(r.path().join("assay.yml")).unwrap();
    let old_url = config_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("endpoint: "))
        .unwrap()
        .to_string();
    r.write("assay.yml", &config_text.replace(&old_url, &served.url));
    let pushed = r.assay_with(&[(CLOUD_SECRET_ENV, &push)], &["push"]);
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    assert_eq!(waiting(r.path()), 0, "delivered: the outbox is empty");
    assert_eq!(
        admin_number(
            Engine::Postgres,
            &format!("SELECT count(*) FROM \"{schema}\".assay_scans")
        ),
        1
    );
    drop(served);
    admin(
        Engine::Postgres,
        &[format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")],
    )
    .unwrap();
}

/// With a certificate and key it speaks only HTTPS, to clients that trust its CA.
#[test]
fn with_tls_the_server_speaks_https_to_clients_that_trust_its_ca() {
    let server = Project::empty();
    let certs = server.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    crate::channels::certificates(&certs);
    let push = token(server.path(), "ci", "push", &[]);
    let served = Served::start(
        server.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-certificate",
            "certs/leaf.pem",
            "--tls-key",
            "certs/leaf.key",
        ],
    );
    assert!(served.url.starts_with("https://"), "{}", served.url);
    let r = runner(&served.url);
    let body = serde_json::to_vec(&document(&r)).unwrap();
    let ca = std::fs::read(certs.join("ca.pem")).unwrap();
    rt().block_on(async {
        let plain = reqwest::Client::new()
            .post(format!("{}/api/v1/results", served.url))
            .bearer_auth(&push)
            .body(body.clone())
            .send()
            .await;
        assert!(
            plain.is_err(),
            "a client that does not trust the CA is not served"
        );
        let trusting = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        let answer = trusting
            .post(format!("{}/api/v1/results", served.url))
            .bearer_auth(&push)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 201);
    });
}

/// docs/server-openapi.json, and a validator of answers against its schemas.
pub(crate) fn openapi() -> (Value, assay::serve::schema::Validator) {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/server-openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    (doc.clone(), assay::serve::schema::Validator::of(doc))
}

fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The reading API answers as docs/server-openapi.json describes, for a client written
/// from docs/server-api.md: datasets, series, checks, incidents, schema changes; read
/// scope only; every answer valid against its schema in the description.
#[test]
fn the_read_api_answers_as_its_openapi_description_says() {
    let server = Project::empty();
    let push = token(server.path(), "ci", "push", &[]);
    let read = token(server.path(), "dashboards", "read", &[]);
    let served = Served::start(server.path(), &["--listen", "127.0.0.1:0"]);
    let r = runner(&served.url);
    let run = r.assay_with(
        &[(CLOUD_SECRET_ENV, &push)],
        &["verify", "contract.yml", "--push"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let (openapi, validator) = openapi();
    rt().block_on(async {
        let url = served.url.clone();
        let get = |path: String, token: String| get_json(url.clone(), path, token);
        for (path, schema) in [
            ("/api/v1/datasets", "Datasets"),
            ("/api/v1/checks?dataset=db/main/t&since=30d", "Checks"),
            (
                "/api/v1/series?dataset=db/main/t&metric=row_count",
                "Series",
            ),
            ("/api/v1/incidents", "Incidents"),
            ("/api/v1/schema_changes", "SchemaChanges"),
        ] {
            let (status, body) = get(path.to_string(), read.clone()).await;
            assert_eq!(status, 200, "{path}: {body}");
            let problems =
                validator.problems_against(&format!("#/components/schemas/{schema}"), &body);
            assert!(problems.is_empty(), "{path}: {problems:?}\n{body:#}");
            // documented in the description
            let bare = path.split('?').next().unwrap();
            assert!(openapi["paths"][bare]["get"].is_object(), "{bare}");
            // a push token may not read
            assert_eq!(get(path.to_string(), push.clone()).await.0, 403, "{path}");
        }
        let (_, datasets) = get("/api/v1/datasets".into(), read.clone()).await;
        let d = &datasets["datasets"][0];
        assert_eq!(d["dataset"], "db/main/t", "{datasets:#}");
        assert_eq!(d["checks"]["fail"], 2, "{datasets:#}");
        assert_eq!(d["checks"]["pass"], 1, "{datasets:#}");
        let (_, checks) = get("/api/v1/checks".into(), read.clone()).await;
        assert_eq!(checks["checks"].as_array().unwrap().len(), 3);
        let (_, incidents) = get("/api/v1/incidents".into(), read.clone()).await;
        let failed: Vec<&Value> = incidents["incidents"].as_array().unwrap().iter().collect();
        assert_eq!(failed.len(), 2, "{incidents:#}");
        for i in failed {
            assert_eq!(i["kind"], "check_failed");
            let mut check = i.clone();
            check.as_object_mut().unwrap().remove("kind");
            let problems = validator.problems_against("#/components/schemas/Check", &check);
            assert!(problems.is_empty(), "{problems:?}");
        }
        let (status, _) = get("/api/v1/series?dataset=db/main/t".into(), read.clone()).await;
        assert_eq!(status, 400, "metric is required");
        let (status, described) = get("/api/v1/openapi.json".into(), read.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(described, openapi);
    });
}

/// The served page in a real browser: the token from the address becomes a cookie, the
/// page shows what was pushed, and names written in contracts are escaped.
#[test]
fn a_headless_chromium_loads_the_served_page() {
    let server = Project::empty();
    let push = token(server.path(), "ci", "push", &[]);
    let read = token(server.path(), "dashboards", "read", &[]);
    let served = Served::start(server.path(), &["--listen", "127.0.0.1:0"]);
    let r = runner(&served.url);
    // a check name with markup: the page must show it as text
    r.write(
        "contract.yml",
        "dataset: db/main/t\nchecks:\n  - row_count:\n      name: \"<img src=x onerror=alert(1)>rows\"\n",
    );
    let run = r.assay_with(
        &[(CLOUD_SECRET_ENV, &push)],
        &["verify", "contract.yml", "--push"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    rt().block_on(async {
        let mut b = crate::report::browser::Browser::start().await;
        b.open(&format!("{}/?token={read}", served.url)).await;
        let text = b.eval("document.body.textContent").await;
        let text = text.as_str().unwrap();
        assert!(text.contains("db/main/t"), "{text}");
        assert!(
            text.contains("<img src=x onerror=alert(1)>rows"),
            "shown as text: {text}"
        );
        assert_eq!(b.eval("document.querySelectorAll('img').length").await, 0);
        // the token went into a cookie and out of the address bar
        assert_eq!(b.eval("location.pathname + location.search").await, "/");
        assert_eq!(
            b.eval("document.cookie").await,
            "",
            "HttpOnly: no script reads it"
        );
        assert!(b.errors.is_empty(), "{:?}", b.errors);
        // a page of the same server without the cookie's token: refused
        let mut other = crate::report::browser::Browser::start().await;
        other.open(&format!("{}/", served.url)).await;
        let refused = other.eval("document.body.textContent").await;
        assert!(
            !refused.as_str().unwrap().contains("db/main/t"),
            "{refused}"
        );
    });
}

pub(crate) async fn get_json(url: String, path: String, token: String) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Results waiting in a runner's outbox.
fn waiting(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(".assay/outbox"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".json")
        })
        .count()
}

/// A pushed result that fails notifies the server's `notify:` targets once: a
/// re-delivery of the same scan is not news, and a passing one says nothing.
#[test]
fn a_failing_pushed_result_notifies_once() {
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
            "notify:\n  webhook: {{url: '{}/hook', on: [fail]}}\n",
            hook.url()
        ),
    );
    let push = token(server.path(), "ci", "push", &[]);
    let served = Served::start(server.path(), &["--listen", "127.0.0.1:0"]);
    let r = runner(&served.url);
    let run = r.assay_with(
        &[(CLOUD_SECRET_ENV, &push)],
        &[
            "verify",
            "contract.yml",
            "--push",
            "-o",
            "json=results.json",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let again = r.assay_with(&[(CLOUD_SECRET_ENV, &push)], &["push", "results.json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    // a passing run of another contract: nothing to say
    r.write(
        "passing.yml",
        "dataset: db/main/t\nchecks:\n  - row_count:\n",
    );
    let quiet = r.assay_with(
        &[(CLOUD_SECRET_ENV, &push)],
        &["verify", "passing.yml", "--push"],
    );
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    let started = Instant::now();
    while hook.requests().is_empty() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let requests = hook.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let body = &requests[0].body;
    assert!(body.contains("db/main/t"), "{body}");
    for secret in ROW_VALUES.iter().copied().chain([push.as_str()]) {
        assert!(
            !body.contains(secret),
            "'{secret}' in the notification: {body}"
        );
    }
}

/// SIGTERM while requests are in flight: the server stops taking connections, finishes
/// what it was given (answers that come after the signal are acknowledgements of
/// stored documents), and exits 0; the store holds exactly what was acknowledged.
#[test]
fn sigterm_drains_the_requests_in_flight() {
    let server = Project::empty();
    let push = token(server.path(), "ci", "push", &[]);
    let served = Served::start(server.path(), &["--listen", "127.0.0.1:0"]);
    let r = runner(&served.url);
    let template = document(&r);
    let url = served.url.clone();
    let pid = served.child.id();
    let answers = rt().block_on(async {
        let client = reqwest::Client::new();
        let sends: Vec<_> = (0..24)
            .map(|_| {
                let mut d = template.clone();
                d["scan_id"] = json!(uuid_v4());
                let request = client
                    .post(format!("{url}/api/v1/results"))
                    .bearer_auth(&push)
                    .body(serde_json::to_vec(&d).unwrap())
                    .send();
                tokio::spawn(async move {
                    let answer = request.await.map(|r| r.status().as_u16()).ok();
                    (answer, Instant::now())
                })
            })
            .collect();
        // the signal while they are in flight, queued on the store (one file: one at a time)
        tokio::time::sleep(Duration::from_millis(30)).await;
        let signalled = Instant::now();
        // SAFETY: signalling our own child process
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        let mut out = Vec::new();
        for s in sends {
            out.push(s.await.unwrap());
        }
        (out, signalled)
    });
    let (answers, signalled) = answers;
    let code = {
        let mut served = served;
        let status = served.child.wait().unwrap();
        std::mem::forget(served);
        status.code()
    };
    assert_eq!(code, Some(0));
    let acknowledged = answers.iter().filter(|(a, _)| *a == Some(201)).count();
    assert!(
        answers.iter().all(|(a, _)| matches!(a, Some(201) | None)),
        "only acknowledgements or no answer: {answers:?}"
    );
    assert!(
        answers
            .iter()
            .any(|(a, at)| *a == Some(201) && *at > signalled),
        "some requests in flight at the signal were finished: {answers:?}"
    );
    let store = server.path().join(".assay/history.duckdb");
    assert_eq!(
        count(&store, "SELECT count(*) FROM assay_scans") as usize,
        acknowledged
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM assay_check_results") as usize,
        3 * acknowledged
    );
}

//! `assay verify --push` and `assay push` against a real HTTP server on loopback (in this
//! process, scripted per request), and a real Prometheus Pushgateway.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Project;
use serde_json::Value;

/// What the server does with one request.
#[derive(Clone)]
pub(crate) enum Reply {
    Status(u16, &'static [(&'static str, &'static str)]),
    /// close the connection without answering
    Reset,
    /// answer nothing for this long, then close
    Hang(Duration),
}

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    /// decompressed when sent gzip'd
    pub(crate) body: String,
    raw_len: usize,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) struct Server {
    pub(crate) port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    /// Serve on `port` (0: any free one): the scripted replies in turn, then `then`.
    pub(crate) fn start(port: u16, script: Vec<Reply>, then: Reply, delay: Duration) -> Server {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let seen = seen.clone();
                let script = script.clone();
                let then = then.clone();
                std::thread::spawn(move || serve(stream, &seen, &script, then, delay));
            }
        });
        Server { port, requests }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(
    mut stream: TcpStream,
    seen: &Mutex<Vec<Request>>,
    script: &Mutex<std::vec::IntoIter<Reply>>,
    then: Reply,
    delay: Duration,
) {
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    let (head_end, content_length) = loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..i]).to_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap_or(0));
            break (i + 4, len);
        }
    };
    while data.len() < head_end + content_length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let raw = &data[head_end..head_end + content_length];
    let gzip = headers
        .iter()
        .any(|(n, v)| n == "content-encoding" && v == "gzip");
    let body = if gzip {
        let mut text = String::new();
        flate2::read::GzDecoder::new(raw)
            .read_to_string(&mut text)
            .unwrap();
        text
    } else {
        String::from_utf8_lossy(raw).to_string()
    };
    seen.lock().unwrap().push(Request {
        method,
        path,
        headers,
        body,
        raw_len: raw.len(),
    });
    let reply = script.lock().unwrap().next().unwrap_or(then);
    std::thread::sleep(delay);
    match reply {
        Reply::Reset => drop(stream),
        Reply::Hang(d) => std::thread::sleep(d),
        Reply::Status(code, extra) => {
            let mut response =
                format!("HTTP/1.1 {code} Scripted\r\nContent-Length: 0\r\nConnection: close\r\n");
            for (n, v) in extra {
                response.push_str(&format!("{n}: {v}\r\n"));
            }
            response.push_str("\r\n");
            let _ = stream.write_all(response.as_bytes());
        }
    }
}

/// Values that exist only in the data: none may leave in a payload or the outbox.
const DISTINCTIVE: [&str; 3] = [
    "Zq-Unique-Row-Value-7781",
    "Xv-Secret-Customer-4410",
    "Wk-Row-Only-9932",
];
const TOKEN: &str = "tok-Very-Secret-5521";

fn project(cloud: &str) -> Project {
    let p = Project::duckdb(&format!(
        "CREATE TABLE t(id INTEGER, name VARCHAR);
         INSERT INTO t VALUES (1, '{}'), (2, '{}'), (3, '{}'), (3, NULL);",
        DISTINCTIVE[0], DISTINCTIVE[1], DISTINCTIVE[2]
    ));
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write("assay.yml", &format!("{config}cloud:\n{cloud}"));
    p.write(
        "contract.yml",
        "dataset: db/main/t
columns:
  - name: id
    checks:
      - duplicate: {threshold: {must_be_less_than: 5}}
  - name: name
    valid_values: [a, b]
    checks:
      - missing: {threshold: {must_be_less_than: 5}}
      - invalid: {threshold: {must_be_less_than: 5}}
      - aggregate: {function: max_length, threshold: {must_be_greater_than: 0}}
checks:
  - row_count:
",
    );
    p
}

fn endpoint_cloud(url: &str, extra: &str) -> String {
    format!("  endpoint: {url}\n  token: ${{env.ASSAY_TEST_TOKEN}}\n  backoff: 10ms\n  timeout: 2s\n{extra}")
}

fn verify_push(p: &Project) -> common::Run {
    run_with_token(p, &["verify", "contract.yml", "--push", "-o", "json"])
}

fn run_with_token(p: &Project, args: &[&str]) -> common::Run {
    let out = assert_cmd::Command::cargo_bin("assay")
        .unwrap()
        .current_dir(p.path())
        .env("ASSAY_TEST_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn outbox_files(p: &Project) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(p.path().join(".assay/outbox"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}

/// Nothing from the data rows, and no token, in what left or was kept.
fn assert_no_row_values(texts: &[String]) {
    for text in texts {
        for v in DISTINCTIVE.iter().chain([&TOKEN]) {
            assert!(!text.contains(v), "'{v}' leaked into:\n{text}");
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_successful_push_sends_the_document_with_its_headers() {
    let server = Server::start(0, vec![], Reply::Status(201, &[]), Duration::ZERO);
    let p = project(&endpoint_cloud(&server.url(), ""));
    let run = verify_push(&p);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let scan_id = run.json()["scan_id"].as_str().unwrap().to_string();
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/api/v1/results")
    );
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(r.header("idempotency-key"), Some(scan_id.as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("user-agent"),
        Some(concat!("assay/", env!("CARGO_PKG_VERSION")))
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["scan_id"], scan_id.as_str());
    assert_eq!(body["datasets"][0]["checks"].as_array().unwrap().len(), 5);
    assert!(run.stderr.contains("pushed results"), "{}", run.stderr);
    assert!(outbox_files(&p).is_empty());
    assert_no_row_values(&[r.body.clone(), run.stdout.clone(), run.stderr.clone()]);
}

#[test]
fn server_errors_and_broken_connections_are_retried_and_delivered_once() {
    let cases: Vec<(&str, Vec<Reply>)> = vec![
        (
            "503 twice",
            vec![
                Reply::Status(503, &[]),
                Reply::Status(503, &[("Retry-After", "0")]),
            ],
        ),
        (
            "429 with Retry-After",
            vec![Reply::Status(429, &[("Retry-After", "1")])],
        ),
        ("a reset connection", vec![Reply::Reset]),
        ("a timeout", vec![Reply::Hang(Duration::from_secs(3))]),
    ];
    for (what, script) in cases {
        let tries = script.len() + 1;
        let server = Server::start(0, script, Reply::Status(200, &[]), Duration::ZERO);
        let p = project(
            &endpoint_cloud(&server.url(), "  timeout: 1s\n").replace("  timeout: 2s\n", ""),
        );
        let started = std::time::Instant::now();
        let run = verify_push(&p);
        assert_eq!(run.code, 0, "{what}: {}", run.stderr);
        let requests = server.requests();
        assert_eq!(requests.len(), tries, "{what}");
        let keys: Vec<_> = requests
            .iter()
            .map(|r| r.header("idempotency-key").unwrap().to_string())
            .collect();
        assert!(
            keys.iter().all(|k| *k == keys[0]),
            "{what}: one scan, one key: {keys:?}"
        );
        assert!(outbox_files(&p).is_empty(), "{what}");
        if what.starts_with("429") {
            assert!(
                started.elapsed() >= Duration::from_secs(1),
                "Retry-After was not honoured"
            );
        }
    }
}

#[test]
fn a_refused_token_is_permanent_and_explained() {
    let server = Server::start(0, vec![], Reply::Status(401, &[]), Duration::ZERO);
    let p = project(&endpoint_cloud(&server.url(), ""));
    let run = verify_push(&p);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(server.requests().len(), 1, "a 401 is not retried");
    assert!(
        run.stderr
            .contains("check the token in cloud.token of assay.yml"),
        "{}",
        run.stderr
    );
    let files = outbox_files(&p);
    assert_eq!(files.len(), 1);
    let kept = std::fs::read_to_string(&files[0]).unwrap();
    let entry: Value = serde_json::from_str(&kept).unwrap();
    assert!(
        entry["outbox"]["last_error"]
            .as_str()
            .unwrap()
            .contains("401"),
        "{entry:#}"
    );
    assert_no_row_values(&[kept, run.stdout, run.stderr]);
}

#[test]
fn conflict_means_already_delivered() {
    let server = Server::start(0, vec![], Reply::Status(409, &[]), Duration::ZERO);
    let p = project(&endpoint_cloud(&server.url(), ""));
    let run = verify_push(&p);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(server.requests().len(), 1);
    assert!(outbox_files(&p).is_empty());
}

#[test]
fn a_server_that_is_down_leaves_the_result_in_the_outbox_until_push() {
    let port = free_port();
    let p = project(&endpoint_cloud(
        &format!("http://127.0.0.1:{port}"),
        "  max_attempts: 3\n",
    ));
    let run = verify_push(&p);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let scan_id = run.json()["scan_id"].as_str().unwrap().to_string();
    let files = outbox_files(&p);
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with(format!("{scan_id}.json")));
    let entry: Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(entry["outbox"]["attempts"], 3);
    assert!(
        entry["outbox"]["last_error"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{entry:#}"
    );
    assert!(run.stderr.contains("assay push"), "{}", run.stderr);

    // a failing check outranks the failed push: exit 1
    p.write(
        "failing.yml",
        "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be: 99}}\n",
    );
    let run = run_with_token(&p, &["verify", "failing.yml", "--push"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(outbox_files(&p).len(), 2);

    // the server is back: `assay push` delivers both and empties the outbox
    let server = Server::start(port, vec![], Reply::Status(200, &[]), Duration::ZERO);
    let run = run_with_token(&p, &["push"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("push: 2 delivered, 0 still waiting"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("delivered {scan_id}")),
        "{}",
        run.stdout
    );
    assert_eq!(server.requests().len(), 2);
    assert!(outbox_files(&p).is_empty());
    // nothing left to do
    let run = run_with_token(&p, &["push"]);
    assert_eq!(run.code, 0);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn push_reports_what_still_waits_and_why() {
    let port = free_port();
    let p = project(&endpoint_cloud(
        &format!("http://127.0.0.1:{port}"),
        "  max_attempts: 1\n",
    ));
    assert_eq!(verify_push(&p).code, 4);
    let run = run_with_token(&p, &["push"]);
    assert_eq!(run.code, 4, "{}", run.stdout);
    assert!(
        run.stdout.contains("push: 0 delivered, 1 still waiting"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("could not connect"), "{}", run.stdout);
    assert_eq!(outbox_files(&p).len(), 1);
    // a results file given by name (-o json) is uploaded as it is
    let server = Server::start(port, vec![], Reply::Status(200, &[]), Duration::ZERO);
    let run = run_with_token(
        &p,
        &["verify", "contract.yml", "-o", "json=out/results.json"],
    );
    assert_eq!(run.code, 0);
    let run = run_with_token(&p, &["push", "out/results.json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("push: 1 delivered"), "{}", run.stdout);
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        outbox_files(&p).len(),
        1,
        "the outbox entry was not asked for"
    );
}

#[test]
fn two_push_processes_never_deliver_a_scan_twice() {
    let port = free_port();
    let p = project(&endpoint_cloud(
        &format!("http://127.0.0.1:{port}"),
        "  max_attempts: 1\n",
    ));
    for _ in 0..3 {
        assert_eq!(verify_push(&p).code, 4);
    }
    assert_eq!(outbox_files(&p).len(), 3);
    // slow answers, so the two processes overlap
    let server = Server::start(
        port,
        vec![],
        Reply::Status(200, &[]),
        Duration::from_millis(300),
    );
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("assay"))
            .current_dir(p.path())
            .env("ASSAY_TEST_TOKEN", TOKEN)
            .arg("push")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    let mut keys: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3, "a scan was delivered twice");
    assert!(outbox_files(&p).is_empty());
}

#[test]
fn large_results_are_sent_gzip_compressed() {
    let server = Server::start(0, vec![], Reply::Status(200, &[]), Duration::ZERO);
    let p = project(&endpoint_cloud(&server.url(), ""));
    let mut contract = String::from("dataset: db/main/t\nchecks:\n");
    for i in 0..400 {
        contract.push_str(&format!("  - row_count: {{qualifier: q{i}, attributes: {{team: data-quality, note: check number {i}}}}}\n"));
    }
    p.write("contract.yml", &contract);
    let run = verify_push(&p);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = &server.requests()[0];
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(
        r.body.len() > 32 * 1024 && r.raw_len < r.body.len() / 4,
        "{} -> {}",
        r.body.len(),
        r.raw_len
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["summary"]["checks"], 400);
}

#[test]
fn cloud_settings_are_checked_before_anything_runs() {
    for (cloud, fragment) in [
        (
            "  endpoint: https://dq.example.com\n",
            "cloud.endpoint needs cloud.token",
        ),
        (
            "  endpoint: ftp://x\n  token: tok-1234\n",
            "is not an http(s) URL",
        ),
        (
            "  pushgateway: http://127.0.0.1:1\n  max_attempts: 0\n",
            "at least 1",
        ),
        (
            "  endpoint: https://dq.example.com\n  token: t\n  timeout: soon\n",
            "is not a duration",
        ),
        ("  tokn: t\n", "did you mean 'token'?"),
    ] {
        let p = project(cloud);
        let run = verify_push(&p);
        assert_eq!(run.code, 2, "{cloud}: {}", run.stderr);
        assert!(run.stderr.contains(fragment), "{cloud}: {}", run.stderr);
        assert!(run.stderr.contains("assay.yml:"), "{}", run.stderr);
    }
    let p = Project::duckdb("CREATE TABLE t(id INTEGER);");
    p.write(
        "contract.yml",
        "dataset: db/main/t\nchecks:\n  - row_count:\n",
    );
    let run = p.assay(&["verify", "contract.yml", "--push"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no `cloud:` section"), "{}", run.stderr);
}

/// A real Prometheus Pushgateway on a free loopback port, stopped when dropped.
struct Pushgateway {
    child: std::process::Child,
    port: u16,
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pushgateway() -> Pushgateway {
    pushgateway_on(free_port())
}

fn pushgateway_on(port: u16) -> Pushgateway {
    let child = std::process::Command::new("prometheus-pushgateway")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus-pushgateway is not installed (Debian package prometheus-pushgateway; scripts/test installs it under CI=true)");
    // stopped by Drop, whether it starts or not
    let gateway = Pushgateway { child, port };
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return gateway;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("prometheus-pushgateway did not start on port {port}");
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // HTTP/1.0: the answer comes whole, not in chunks that could split a line
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn a_real_pushgateway_shows_the_check_gauges() {
    let gw = pushgateway();
    let p = project(&format!(
        "  pushgateway: http://127.0.0.1:{}\n  job: assay_test\n",
        gw.port
    ));
    let run = verify_push(&p);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let metrics = http_get(gw.port, "/metrics");
    let line = |prefix: &str, labels: &[&str]| {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix) && labels.iter().all(|x| l.contains(x)))
            .unwrap_or_else(|| panic!("no {prefix} with {labels:?} in\n{metrics}"))
            .to_string()
    };
    let common = [
        "job=\"assay_test\"",
        "data_source=\"db\"",
        "dataset=\"db/main/t\"",
    ];
    let outcome = line(
        "assay_check_outcome{",
        &[&common[..], &["check=\"checks/row_count\""]].concat(),
    );
    assert!(outcome.ends_with(" 0"), "{outcome}");
    let value = line(
        "assay_check_value{",
        &[&common[..], &["check=\"columns/id/duplicate\""]].concat(),
    );
    assert!(value.ends_with(" 1"), "{value}");
    let rows = line("assay_dataset_rows_tested{", &common);
    assert!(rows.ends_with(" 4"), "{rows}");
    line("assay_dataset_duration_seconds{", &common);
    line(
        "assay_last_success_timestamp_seconds{",
        &["job=\"assay_test\"", "scope=\"last_success\""],
    );
    assert_no_row_values(&[metrics]);
}

/// docs/results.schema.json describes the document assay really writes: every member it
/// writes is in the schema, and every member the schema requires is written.
#[test]
fn the_documented_schema_matches_the_document() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/results.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let p = project("  pushgateway: http://127.0.0.1:1\n");
    p.write(
        "broken.yml",
        "dataset: db/main/nope\nchecks:\n  - row_count:\n",
    );
    // a failing check with captured rows, so failed_rows is in the document too
    p.write(
        "failing.yml",
        "dataset: db/main/t\ncolumns:\n  - name: name\n    checks:\n      - missing:\n",
    );
    let run = p.assay(&[
        "verify",
        "contract.yml",
        "broken.yml",
        "failing.yml",
        "-o",
        "json",
    ]);
    let doc = run.json();
    let check_object = |value: &Value, def: &Value, what: &str| {
        let props = def["properties"].as_object().unwrap();
        for key in value.as_object().unwrap().keys() {
            assert!(
                props.contains_key(key),
                "{what}: '{key}' is not in docs/results.schema.json"
            );
        }
        for key in def["required"].as_array().unwrap() {
            assert!(
                value.get(key.as_str().unwrap()).is_some(),
                "{what}: required '{key}' missing"
            );
        }
    };
    check_object(&doc, &schema, "document");
    for d in doc["datasets"].as_array().unwrap() {
        check_object(d, &schema["$defs"]["dataset"], "dataset");
        for c in d["checks"].as_array().unwrap() {
            check_object(c, &schema["$defs"]["check"], "check");
            let types = schema["$defs"]["check"]["properties"]["type"]["enum"]
                .as_array()
                .unwrap();
            assert!(types.contains(&c["type"]), "{}", c["type"]);
        }
    }
    assert!(
        doc["datasets"][1]["error"].is_string(),
        "the broken dataset has its error"
    );
    let failed_rows = &doc["datasets"][2]["checks"][0]["failed_rows"];
    check_object(
        failed_rows,
        &schema["$defs"]["check"]["properties"]["failed_rows"],
        "failed_rows",
    );
}

#[test]
fn a_pushgateway_that_is_down_gets_the_results_from_the_outbox() {
    let port = free_port();
    let p = project(&format!(
        "  pushgateway: http://127.0.0.1:{port}\n  job: assay_test\n  max_attempts: 2\n  backoff: 10ms\n"
    ));
    let run = verify_push(&p);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let files = outbox_files(&p);
    assert_eq!(files.len(), 1);
    let entry: Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(
        entry["outbox"]["pending"],
        serde_json::json!(["pushgateway"])
    );
    let gw = pushgateway_on(port);
    let run = run_with_token(&p, &["push"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(outbox_files(&p).is_empty());
    let metrics = http_get(gw.port, "/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("assay_check_outcome{")
                && l.contains("check=\"checks/row_count\"")),
        "{metrics}"
    );
}

#[test]
fn a_password_in_a_target_url_stays_secret() {
    let port = free_port();
    let p = project(&format!(
        "  pushgateway: http://gw:Gw-Secret-Pass-77@127.0.0.1:{port}\n  max_attempts: 1\n"
    ));
    let run = verify_push(&p);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let kept = std::fs::read_to_string(&outbox_files(&p)[0]).unwrap();
    for text in [&run.stdout, &run.stderr, &kept] {
        assert!(!text.contains("Gw-Secret-Pass-77"), "{text}");
    }
    // delivered: the message names the gateway, still without the password
    let gw = pushgateway_on(port);
    let run = run_with_token(&p, &["push"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("127.0.0.1:{}", gw.port)),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("Gw-Secret-Pass-77"), "{}", run.stdout);
}

/// Start `assay verify --push` against a server that takes the request and never answers,
/// and wait until the request has arrived.
fn push_in_flight(p: &Project, server: &Server) -> std::process::Child {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("assay"))
        .current_dir(p.path())
        .env("ASSAY_TEST_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .args(["verify", "contract.yml", "--push", "-q"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while server.requests().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no request arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn signal(child: &std::process::Child, signal: libc::c_int) {
    // SAFETY: signalling our own child process
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
}

#[test]
fn results_survive_a_run_killed_during_the_push() {
    let slow = Server::start(
        0,
        vec![],
        Reply::Hang(Duration::from_secs(60)),
        Duration::ZERO,
    );
    let p = project(&endpoint_cloud(&slow.url(), "").replace("timeout: 2s", "timeout: 60s"));
    let mut child = push_in_flight(&p, &slow);
    signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    // the entry was written before the first attempt
    let files = outbox_files(&p);
    assert_eq!(files.len(), 1, "nothing kept");
    let kept = std::fs::read_to_string(&files[0]).unwrap();
    assert_no_row_values(std::slice::from_ref(&kept));
    // and `assay push` delivers it later, to the same scan id
    let entry: Value = serde_json::from_str(&kept).unwrap();
    let scan_id = entry["scan_id"].as_str().unwrap().to_string();
    let good = Server::start(0, vec![], Reply::Status(200, &[]), Duration::ZERO);
    p.write(
        "assay.yml",
        &std::fs::read_to_string(p.path().join("assay.yml"))
            .unwrap()
            .replace(&slow.url(), &good.url()),
    );
    let run = run_with_token(&p, &["push"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let requests = good.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("idempotency-key"),
        Some(scan_id.as_str())
    );
    assert!(outbox_files(&p).is_empty());
}

#[test]
fn interrupting_a_push_keeps_the_results_and_exits_4() {
    for (sig, said) in [(libc::SIGINT, "interrupted"), (libc::SIGTERM, "SIGTERM")] {
        let slow = Server::start(
            0,
            vec![],
            Reply::Hang(Duration::from_secs(60)),
            Duration::ZERO,
        );
        let p = project(&endpoint_cloud(&slow.url(), "").replace("timeout: 2s", "timeout: 60s"));
        let child = push_in_flight(&p, &slow);
        let started = std::time::Instant::now();
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{stderr}");
        assert!(stderr.contains(said), "{stderr}");
        // it stopped at once instead of waiting out the request
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(outbox_files(&p).len(), 1);
        // one attempt only: the retries stopped
        assert_eq!(slow.requests().len(), 1);
    }
}

#[test]
fn a_delivered_push_leaves_no_outbox_entry() {
    let server = Server::start(0, vec![], Reply::Status(200, &[]), Duration::ZERO);
    let p = project(&endpoint_cloud(&server.url(), ""));
    let run = verify_push(&p);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(outbox_files(&p).is_empty());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn an_endpoint_with_a_query_string_gets_the_path_before_it_and_keeps_it_secret() {
    let server = Server::start(0, vec![], Reply::Status(500, &[]), Duration::ZERO);
    let url = format!("{}/base/?key=Query-Secret-8812", server.url());
    let p = project(&endpoint_cloud(&url, "  max_attempts: 1\n"));
    let run = verify_push(&p);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let requests = server.requests();
    assert_eq!(
        requests[0].path,
        "/base/api/v1/results?key=Query-Secret-8812"
    );
    let kept: Vec<String> = outbox_files(&p)
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for text in kept.iter().chain([&run.stdout, &run.stderr]) {
        assert!(!text.contains("Query-Secret-8812"), "{text}");
    }
}

/// A contract that reads a secret from the environment is refused before anything runs:
/// nothing is pushed, nothing shown.
#[test]
fn environment_secrets_in_contracts_are_refused_and_never_pushed() {
    let server = Server::start(0, vec![], Reply::Status(200, &[]), Duration::ZERO);
    let p = project(&endpoint_cloud(&server.url(), ""));
    p.write(
        "env.yml",
        "dataset: db/main/t\nfilter: \"name <> '${env.ASSAY_TEST_OTHER_SECRET}'\"\nchecks:\n  - row_count:\n      name: \"rows for ${env.ASSAY_TEST_OTHER_SECRET}\"\n      attributes: {owner: \"${env.ASSAY_TEST_OTHER_SECRET}\"}\n",
    );
    let out = assert_cmd::Command::cargo_bin("assay")
        .unwrap()
        .current_dir(p.path())
        .env("ASSAY_TEST_TOKEN", TOKEN)
        .env("ASSAY_TEST_OTHER_SECRET", "Other-Env-Secret-4471")
        .args(["verify", "env.yml", "--push", "-vv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("public_env"));
    assert!(server.requests().is_empty());
    for text in [
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ] {
        assert!(!text.contains("Other-Env-Secret-4471"), "{text}");
    }
}

/// `assay scan --push`: the Pushgateway gets the profile as gauges too, never row values.
#[test]
fn a_scan_pushes_its_profile_as_gauges() {
    let gw = pushgateway();
    let p = project(&format!(
        "  pushgateway: http://127.0.0.1:{}\n  job: assay_test\n",
        gw.port
    ));
    let run = p.assay(&["scan", "--push", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let metrics = http_get(gw.port, "/metrics");
    let line = |labels: &[&str]| {
        metrics
            .lines()
            .find(|l| labels.iter().all(|x| l.contains(x)))
            .unwrap_or_else(|| panic!("no line with {labels:?} in\n{metrics}"))
            .to_string()
    };
    let common = [
        "job=\"assay_test\"",
        "data_source=\"db\"",
        "scope=\"profile\"",
        "dataset=\"db/main/t\"",
    ];
    let rows = line(
        &[
            &common[..],
            &["assay_profile_value{", "metric=\"row_count\""],
        ]
        .concat(),
    );
    assert!(rows.ends_with(" 4"), "{rows}");
    let missing = line(
        &[
            &common[..],
            &[
                "assay_profile_value{",
                "column=\"name\"",
                "metric=\"missing_count\"",
            ],
        ]
        .concat(),
    );
    assert!(missing.ends_with(" 1"), "{missing}");
    let monitor = line(
        &[
            &common[..],
            &["assay_monitor_outcome{", "monitor=\"schema_change\""],
        ]
        .concat(),
    );
    assert!(monitor.ends_with(" 0"), "{monitor}");
    assert_no_row_values(&[metrics]);
}

/// A project whose scan finds a failing check and, on its second scan, a new column.
fn notify_project(notify: &str) -> Project {
    let p = Project::duckdb(&format!(
        "CREATE TABLE t(id INTEGER, name VARCHAR);
         INSERT INTO t VALUES (1, '{}'), (2, '{}');",
        DISTINCTIVE[0], DISTINCTIVE[1]
    ));
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write("assay.yml", &format!("{config}notify:\n{notify}"));
    p.write(
        "contracts/t.yml",
        "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be: 99}}\n",
    );
    p
}

/// `notify:`: one message per scan to Slack and to a JSON webhook, saying what failed
/// and what changed, never a row value.
#[test]
fn a_scan_notifies_slack_and_a_webhook() {
    let server = Server::start(0, vec![], Reply::Status(200, &[]), Duration::ZERO);
    let p = notify_project(&format!(
        "  slack: {{webhook: '{url}/slack/T0/B0/secretpart', on: [fail, schema_change]}}\n  webhook: {{url: '{url}/hook', on: [schema_change]}}\n",
        url = server.url()
    ));
    let run = p.assay(&["scan", "--now", "2025-01-01T00:00:00Z"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // the first scan: a failure for Slack, no schema change for the webhook
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, "/slack/T0/B0/secretpart");
    let slack: Value = serde_json::from_str(&requests[0].body).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.contains("db/main/t: fail row count: 2 (threshold = 99)"),
        "{text}"
    );
    // a column added: both hear of it
    let conn = duckdb::Connection::open(p.path().join("db.duckdb")).unwrap();
    conn.execute_batch("ALTER TABLE t ADD COLUMN price INTEGER")
        .unwrap();
    drop(conn);
    let run = p.assay(&["scan", "--now", "2025-01-02T00:00:00Z"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    let hook = requests.iter().find(|r| r.path == "/hook").unwrap();
    let body: Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(body["items"][0]["on"], "schema_change");
    assert_eq!(body["items"][0]["text"], "column added price (integer)");
    let bodies: Vec<String> = requests.iter().map(|r| r.body.clone()).collect();
    assert_no_row_values(&bodies);
    // the webhook URL is a secret: not in any output
    assert!(!run.stderr.contains("secretpart") && !run.stdout.contains("secretpart"));
}

/// A notification that cannot be delivered is a warning; it waits in the outbox until
/// `assay push` delivers it.
#[test]
fn an_undelivered_notification_waits_for_assay_push() {
    let down = Server::start(0, vec![], Reply::Status(503, &[]), Duration::ZERO);
    let port = down.port;
    let p = notify_project(&format!(
        "  slack: {{webhook: 'http://127.0.0.1:{port}/slack/x'}}\n  max_attempts: 2\n  backoff: 10ms\n"
    ));
    let run = p.assay(&["scan"]);
    assert_eq!(
        run.code, 1,
        "the check's failure decides the exit: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("notification was not delivered"),
        "{}",
        run.stderr
    );
    assert_eq!(down.requests().len(), 2, "retried");
    let waiting: Vec<_> = std::fs::read_dir(p.path().join(".assay/outbox/notify"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(waiting.len(), 1);
    let kept = std::fs::read_to_string(waiting[0].path()).unwrap();
    assert!(
        !kept.contains(&format!("127.0.0.1:{port}")),
        "no URL kept: {kept}"
    );
    // the target answers again (here: at a new address, which the config now names; the
    // URL is taken from the config when the notification is sent): `assay push` delivers
    let up = Server::start(0, vec![], Reply::Status(200, &[]), Duration::ZERO);
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &config.replace(
            &format!("127.0.0.1:{port}"),
            &format!("127.0.0.1:{}", up.port),
        ),
    );
    let run = p.assay(&["push"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(up.requests().len(), 1);
    assert!(up.requests()[0].body.contains("row count"));
    assert_eq!(
        std::fs::read_dir(p.path().join(".assay/outbox/notify"))
            .unwrap()
            .count(),
        0
    );
}

/// Anomalies notify too: `on: [anomaly]` hears of a drop to zero, with the expected
/// range and the reason, and nothing while the monitor learns or passes; the default
/// `on` of a Slack target includes anomalies.
#[test]
fn a_scan_notifies_anomalies_with_their_range() {
    let server = Server::start(0, vec![], Reply::Status(200, &[]), Duration::ZERO);
    let p = Project::duckdb("CREATE TABLE t(id INTEGER);");
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &format!(
            "{config}scan:\n  monitors:\n    anomalies: {{min_history: 5}}\nnotify:\n  webhook: {{url: '{url}/hook', on: [anomaly]}}\n  slack: {{webhook: '{url}/slack/T0/B0/x'}}\n",
            url = server.url()
        ),
    );
    let scan = |day: u32, rows: usize| {
        let conn = duckdb::Connection::open(p.path().join("db.duckdb")).unwrap();
        conn.execute_batch(&format!(
            "DELETE FROM t; INSERT INTO t SELECT range FROM range({rows});"
        ))
        .unwrap();
        drop(conn);
        let run = p.assay(&["scan", "--now", &format!("2025-01-{day:02}T00:00:00Z")]);
        assert_eq!(run.code, 0, "day {day}: {}", run.stderr);
    };
    for (day, rows) in [(1, 500), (2, 510), (3, 495), (4, 505), (5, 498), (6, 502)] {
        scan(day, rows);
    }
    // learning, then passing: nothing to tell anyone (the first scan tells Slack nothing
    // either: a dataset seen for the first time is no schema change)
    let early = server.requests();
    assert!(early.is_empty(), "nothing to look at yet: {early:?}");
    scan(7, 0);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let hook = requests.iter().find(|r| r.path == "/hook").unwrap();
    let body: Value = serde_json::from_str(&hook.body).unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!(items[0]["on"], "anomaly");
    assert_eq!(items[0]["dataset"], "db/main/t");
    let text = items[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("anomaly (zero) row_count: 0, expected "),
        "{text}"
    );
    assert!(text.contains("a drop to zero"), "{text}");
    let slack = requests
        .iter()
        .find(|r| r.path.starts_with("/slack"))
        .unwrap();
    assert!(
        slack.body.contains("anomaly (zero) row_count"),
        "{}",
        slack.body
    );

    // one alert per incident: the next scan still finds the table empty, which goes on
    // from the incident already told (its result says so) and is not notified again
    let conn = duckdb::Connection::open(p.path().join("db.duckdb")).unwrap();
    conn.execute_batch("DELETE FROM t;").unwrap();
    drop(conn);
    let again = p.assay(&["scan", "--now", "2025-01-08T00:00:00Z", "-o", "json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    fn incident(v: &Value) -> Option<Value> {
        match v {
            Value::Object(m) if m.get("type") == Some(&Value::from("anomaly")) => {
                m.get("incident").cloned()
            }
            Value::Object(m) => m.values().find_map(incident),
            Value::Array(a) => a.iter().find_map(incident),
            _ => None,
        }
    }
    let told = incident(&again.json()).expect("the anomaly names its incident");
    assert_eq!(told["start"], "2025-01-07T00:00:00Z", "{told}");
    assert_eq!(told["new"], false, "{told}");
    assert_eq!(
        server.requests().len(),
        2,
        "no second alert for the same incident"
    );
    // back to normal, then empty again: a new incident, told
    scan(9, 500);
    scan(10, 0);
    let requests = server.requests();
    assert_eq!(requests.len(), 4, "{requests:?}");
}

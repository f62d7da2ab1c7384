//! Data channels, end to end: `assay channel run` as a real service on loopback, driven by
//! a client written here from docs/channels.md alone (reqwest for HTTP, a WebSocket of
//! tokio-tungstenite), never by assay's own client code.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::common::engines::{Engine, Sandbox, ENGINES};
use crate::common::Project;

pub(crate) const PW: &str = "Ch4nnel-Secret-7731";

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) fn assay(p: &std::path::Path) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("assay"));
    c.current_dir(p)
        .env("NO_COLOR", "1")
        .env("CH_PW", PW)
        .env_remove("ASSAY_CHANNEL_REGISTRY")
        .env_remove("ASSAY_ENVIRONMENT");
    c
}

pub(crate) fn run(p: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = assay(p).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running channel: its process, its URL (from its first line), and what it printed.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) url: String,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Running {
    pub(crate) fn start(p: &std::path::Path, args: &[&str]) -> Running {
        Running::start_with(p, args, |_| {})
    }

    /// Started with something more set on its command (a resource limit).
    pub(crate) fn start_with(
        p: &std::path::Path,
        args: &[&str],
        configure: impl FnOnce(&mut Command),
    ) -> Running {
        let mut command = assay(p);
        configure(&mut command);
        let mut child = command
            .args(["channel", "run"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let Ok(first) = lines.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the channel did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        };
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .unwrap_or_else(|| panic!("no URL in {first}"))
            .trim_end_matches(',')
            .to_string();
        Running { child, url, lines }
    }

    /// SIGTERM, and what it printed on its way out.
    pub(crate) fn stop(mut self) -> (i32, String, String) {
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "the channel did not stop");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        use std::io::Read;
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let stdout: Vec<String> = self.lines.try_iter().collect();
        (status.code().unwrap_or(-1), stdout.join("\n"), stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) async fn login(url: &str, user: &str, password: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{url}/login"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

pub(crate) async fn token(url: &str) -> String {
    let (status, body) = login(url, "pipeline", PW).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["token_type"], "Bearer");
    v["token"].as_str().unwrap().to_string()
}

/// `/streaming` with a bearer token; Err(status) when refused.
pub(crate) async fn stream(url: &str, token: Option<&str>) -> Result<Ws, u16> {
    let ws_url = format!("{}/streaming", url.replacen("http", "ws", 1));
    let mut req = ws_url.into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

pub(crate) async fn next(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("a frame within 20 s")
            .expect("the stream is open")
            .expect("a good frame");
        match m {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Close(_) => return json!({"type": "websocket_close"}),
            _ => {}
        }
    }
}

/// The next whole result set: its id and records.
pub(crate) async fn result_set(ws: &mut Ws) -> (String, Vec<Value>) {
    let mut current: Option<(String, Vec<Value>)> = None;
    loop {
        let f = next(ws).await;
        match f["type"].as_str().unwrap() {
            "result_set_start" => current = Some((f["id"].as_str().unwrap().into(), vec![])),
            "records" => {
                if let Some((id, got)) = current.as_mut() {
                    if f["result_set"] == id.as_str() {
                        got.extend(f["records"].as_array().unwrap().iter().cloned());
                    }
                }
            }
            "result_set_end" => {
                if let Some((id, got)) = current.take() {
                    assert_eq!(f["id"], id.as_str());
                    assert_eq!(f["records"], got.len(), "the end counts what was sent");
                    return (id, got);
                }
            }
            other => panic!("unexpected {other}: {f}"),
        }
    }
}

pub(crate) const FORMAT: &str = "format:
  name: order_v1
  fields:
    - {name: id, type: long}
    - {name: customer, type: string, nullable: true}
    - {name: amount, type: decimal, precision: 10, scale: 2}
    - {name: created_at, type: timestamp}
users:
  - {name: pipeline, password: \"${env.CH_PW}\"}
";

pub(crate) fn source_project() -> Project {
    let p = Project::empty();
    p.write(
        "data/orders.csv",
        "id,customer,amount,created_at\n1,alice,12.50,2026-01-01 10:00:00\n2,bob,3.10,2026-01-02 11:00:00\n3,,7,2026-01-03 12:00:00\n",
    );
    p.write(
        "channels/orders.yml",
        &format!("name: orders\nkind: source\ntype: file\npath: ../data/orders.csv\n{FORMAT}"),
    );
    p.write(
        "assay.yml",
        "environments:\n  default: {channels: [orders]}\n  production: {channels: [orders]}\nchannels:\n  orders: {user: pipeline, password: \"${env.CH_PW}\"}\n",
    );
    p
}

#[test]
fn a_source_streams_result_sets_to_every_consumer_and_logout_ends_a_session() {
    let p = source_project();
    let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "300ms"]);
    let (code, listed, _) = run(p.path(), &["channel", "list", "-o", "json"]);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let entry = &listed["channels"][0];
    assert_eq!(
        (
            &entry["name"],
            &entry["kind"],
            &entry["type"],
            &entry["url"]
        ),
        (
            &json!("orders"),
            &json!("source"),
            &json!("file"),
            &json!(ch.url)
        )
    );
    assert_eq!(entry["format"]["name"], "order_v1");
    let expected = json!([
        {"id": 1, "customer": "alice", "amount": "12.50", "created_at": "2026-01-01T10:00:00Z"},
        {"id": 2, "customer": "bob", "amount": "3.10", "created_at": "2026-01-02T11:00:00Z"},
        {"id": 3, "customer": null, "amount": "7.00", "created_at": "2026-01-03T12:00:00Z"},
    ]);
    rt().block_on(async {
        // wrong credentials: 401 and nothing more
        for (user, pw) in [("pipeline", "wrong-password"), ("nobody", PW), ("", "")] {
            let (status, body) = login(&ch.url, user, pw).await;
            assert_eq!((status, body.as_str()), (401, ""), "{user}");
        }
        assert_eq!(stream(&ch.url, None).await.err(), Some(401));
        assert_eq!(stream(&ch.url, Some("forged-token")).await.err(), Some(401));

        let (t1, t2) = (token(&ch.url).await, token(&ch.url).await);
        assert_ne!(t1, t2);
        let mut a = stream(&ch.url, Some(&t1)).await.unwrap();
        let mut b = stream(&ch.url, Some(&t2)).await.unwrap();
        for ws in [&mut a, &mut b] {
            let hello = next(ws).await;
            assert_eq!(hello["type"], "hello");
            assert_eq!(hello["channel"], "orders");
            assert_eq!(hello["kind"], "source");
            assert_eq!(hello["format"]["fields"][2]["type"], "decimal");
            let (_, records) = result_set(ws).await;
            assert_eq!(Value::Array(records), expected);
        }
        // a source takes no frames
        a.send(Message::text("{\"type\": \"flush\"}"))
            .await
            .unwrap();
        loop {
            let f = next(&mut a).await;
            if f["type"] == "error" {
                assert!(f["message"].as_str().unwrap().contains("source"), "{f}");
                break;
            }
        }
        // logout: the token stops working and its connection closes; the other goes on
        let out = reqwest::Client::new()
            .post(format!("{}/logout", ch.url))
            .bearer_auth(&t1)
            .send()
            .await
            .unwrap();
        assert_eq!(out.status().as_u16(), 204);
        loop {
            let f = next(&mut a).await;
            if f["type"] == "closing" {
                assert_eq!(f["reason"], "the session ended");
                break;
            }
        }
        assert_eq!(stream(&ch.url, Some(&t1)).await.err(), Some(401));
        let again = reqwest::Client::new()
            .post(format!("{}/logout", ch.url))
            .bearer_auth(&t1)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 401);
        let (_, records) = result_set(&mut b).await;
        assert_eq!(records.len(), 3);
    });
    let registry = std::fs::read_dir(p.path().join(".assay/channels"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let (code, stdout, stderr) = ch.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("channel orders: stopped (SIGTERM);"),
        "{stdout}"
    );
    assert!(stdout.contains("records sent"), "{stdout}");
    for text in [&stdout, &stderr, &registry] {
        assert!(!text.contains(PW), "the password shows: {text}");
    }
    // its entry goes; its (empty, unlocked) lock file may stay
    assert_eq!(
        std::fs::read_dir(p.path().join(".assay/channels"))
            .unwrap()
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().ends_with(".json"))
            .count(),
        0,
        "a stopped channel leaves the registry"
    );
}

#[test]
fn verify_takes_one_result_set_from_a_source_and_judges_it_like_a_table() {
    let p = source_project();
    p.write(
        "contracts/orders.yml",
        "dataset: stream/main/orders
columns:
  - name: id
    checks:
      - duplicate:
  - name: amount
    checks:
      - aggregate: {function: sum, threshold: {must_be: 22.6}}
checks:
  - row_count: {threshold: {must_be: 3}}
",
    );
    p.write(
        "contracts/strict.yml",
        "dataset: stream/main/orders
columns:
  - name: customer
    checks:
      - missing:
",
    );
    p.write(
        "contracts/other.yml",
        "dataset: stream/main/orders\ncolumns:\n  - name: sku\n",
    );
    let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "300ms"]);
    let (code, out, err) = run(
        p.path(),
        &[
            "verify",
            "contracts/orders.yml",
            "--channel",
            "orders",
            "--timeout",
            "20s",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["datasets"][0]["checks"].as_array().unwrap().len(), 3);
    let (code, out, _) = run(
        p.path(),
        &[
            "verify",
            "contracts/strict.yml",
            "--channel",
            "orders",
            "--timeout",
            "20s",
        ],
    );
    assert_eq!(code, 1, "a missing customer fails: {out}");
    // the contract's columns must be in the channel's format
    let (code, _, err) = run(
        p.path(),
        &["verify", "contracts/other.yml", "--channel", "orders"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lacks sku"), "{err}");
    // an environment the channel is not in does not see it
    let (code, _, err) = run(
        p.path(),
        &[
            "verify",
            "contracts/orders.yml",
            "--channel",
            "orders",
            "--environment",
            "production",
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("no source channel 'orders' runs in environment production"),
        "{err}"
    );
    // a wrong password is refused, and not shown
    let wrong = std::fs::read_to_string(p.path().join("assay.yml"))
        .unwrap()
        .replace("${env.CH_PW}", "${env.CH_WRONG}");
    p.write("assay.yml", &wrong);
    let out = assay(p.path())
        .env("CH_WRONG", "Not-The-Password-99")
        .args(["verify", "contracts/orders.yml", "--channel", "orders"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    // the channel's entry proves it knows the real password, which is not this one:
    // nothing is sent
    assert!(err.contains("does not prove"), "{err}");
    assert!(!err.contains("Not-The-Password-99"), "{err}");
    drop(ch);

    // a source that sends nothing (its files are not there yet): --timeout ends the wait
    p.write(
        "assay.yml",
        &wrong.replace("${env.CH_WRONG}", "${env.CH_PW}"),
    );
    p.write(
        "channels/later.yml",
        &format!("name: orders\nkind: source\ntype: file\npath: ../data/later_*.csv\n{FORMAT}"),
    );
    let once = Running::start(p.path(), &["channels/later.yml", "--every", "1h"]);
    let started = Instant::now();
    let (code, _, err) = run(
        p.path(),
        &[
            "verify",
            "contracts/orders.yml",
            "--channel",
            "orders",
            "--timeout",
            "1s",
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
    // a contract whose dataset cannot name the records' table is refused before any wait
    p.write(
        "contracts/flat.yml",
        "dataset: stream/orders\nchecks:\n  - row_count:\n",
    );
    let started = Instant::now();
    let (code, _, err) = run(
        p.path(),
        &[
            "verify",
            "contracts/flat.yml",
            "--channel",
            "orders",
            "--timeout",
            "60s",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot name a table"), "{err}");
    assert!(
        err.contains("stream/main/orders"),
        "the form is shown: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused without waiting"
    );
    drop(once);
}

/// A sink's table dropped while the channel runs is made again for the next batch, on
/// every engine, and that batch is stored whole.
#[test]
fn a_sink_table_dropped_while_the_channel_runs_is_made_again() {
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!("{config}environments:\n  default: {{channels: [kept]}}\n"),
        );
        s.project.write(
            "channels/kept.yml",
            &format!(
                "name: kept\nkind: sink\ntype: {}\ndata_source: db\ntable: {}/kept\n{FORMAT}",
                engine.name(),
                s.schema
            ),
        );
        let ch = Running::start(s.project.path(), &["channels/kept.yml"]);
        let record =
            |id: i64| json!([{"id": id, "amount": "1.50", "created_at": "2026-01-01T00:00:00Z"}]);
        let count = || match engine {
            Engine::DuckDb => {
                let conn = duckdb::Connection::open(s.project.path().join("db.duckdb")).unwrap();
                conn.query_row("SELECT count(*) FROM main.kept", [], |r| r.get::<_, i64>(0))
                    .unwrap()
            }
            e => crate::common::engines::admin_number(
                e,
                &format!("SELECT count(*) FROM {}", s.qualified("kept")),
            ),
        };
        let first = crate::hardening::send_to_sink(&ch.url, record(1));
        assert_eq!(first["stored"], 1, "{}: {first}", engine.name());
        assert_eq!(count(), 1);
        s.run(&[format!("DROP TABLE {}", s.qualified("kept"))]);
        let second = crate::hardening::send_to_sink(&ch.url, record(2));
        assert_eq!(second["stored"], 1, "{}: {second}", engine.name());
        assert_eq!(second["discarded"], 0, "{}: {second}", engine.name());
        assert_eq!(
            count(),
            1,
            "{}: the table is there again, with the new batch",
            engine.name()
        );
        let (code, _, err) = ch.stop();
        assert_eq!(code, 0, "{err}");
    }
}

#[test]
fn sinks_store_what_fits_the_format_and_discard_the_rest_on_every_engine() {
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let table = format!("{}/failed_orders", s.schema);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!("{config}environments:\n  default: {{channels: [failed, failed_file]}}\n"),
        );
        s.project.write(
            "channels/failed.yml",
            &format!(
                "name: failed\nkind: sink\ntype: {}\ndata_source: db\ntable: {table}\n{FORMAT}",
                engine.name()
            ),
        );
        s.project.write(
            "channels/failed_file.yml",
            &format!(
                "name: failed_file\nkind: sink\ntype: file\npath: ../out/failed.csv\n{FORMAT}"
            ),
        );
        let tab = Running::start(s.project.path(), &["channels/failed.yml"]);
        let file = Running::start(s.project.path(), &["channels/failed_file.yml"]);
        let batch = json!({"type": "records", "records": [
            {"id": 1, "customer": "a, \"quoted\"", "amount": "12.50", "created_at": "2026-01-01T10:00:00Z"},
            {"id": 2, "customer": "O'Brien'); DROP TABLE failed_orders; --", "amount": 3.1, "created_at": "2026-01-02 11:00:00"},
            {"id": "three", "amount": "1", "created_at": "2026-01-03T00:00:00Z"},
            {"id": 4, "amount": "99999999.99", "created_at": "2026-01-04T00:00:00Z"},
            {"id": 5, "amount": "1.234", "created_at": "2026-01-05T00:00:00Z"},
            {"id": 6, "amount": "1", "created_at": "2026-01-06T00:00:00Z", "evil": "x'); DROP TABLE t; --"}
        ]});
        rt().block_on(async {
            for url in [&tab.url, &file.url] {
                let t = token(url).await;
                let mut ws = stream(url, Some(&t)).await.unwrap();
                let hello = next(&mut ws).await;
                assert_eq!(hello["kind"], "sink");
                ws.send(Message::text(batch.to_string())).await.unwrap();
                let err = next(&mut ws).await;
                assert_eq!(err["type"], "error", "{engine:?}: {err}");
                assert_eq!(err["discarded"], 3, "{err}");
                assert!(
                    err["message"]
                        .as_str()
                        .unwrap()
                        .contains("field 'id' is a long"),
                    "{err}"
                );
                ws.send(Message::text("{\"type\": \"flush\"}"))
                    .await
                    .unwrap();
                let flushed = next(&mut ws).await;
                assert_eq!(
                    flushed,
                    json!({"type": "flushed", "stored": 3, "discarded": 3}),
                    "{engine:?}"
                );
                // not a frame at all: told, and the connection goes on
                ws.send(Message::text("not json")).await.unwrap();
                assert_eq!(next(&mut ws).await["type"], "error");
            }
        });
        let (code, _, err) = tab.stop();
        assert_eq!(code, 0, "{err}");
        let (code, out, err) = file.stop();
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("3 stored, 3 discarded"), "{out}");
        let csv = std::fs::read_to_string(s.project.path().join("out/failed.csv")).unwrap();
        assert_eq!(
            csv,
            "id,customer,amount,created_at\n1,\"a, \"\"quoted\"\"\",12.50,2026-01-01T10:00:00Z\n2,O'Brien'); DROP TABLE failed_orders; --,3.1,2026-01-02T11:00:00Z\n4,,99999999.99,2026-01-04T00:00:00Z\n"
        );
        let q = format!(
            "SELECT COUNT(*) FROM {} WHERE amount IN (12.5, 3.1, 99999999.99) AND (customer IS NULL OR customer = {})",
            s.qualified("failed_orders"),
            engine.literal("O'Brien'); DROP TABLE failed_orders; --")
        );
        let count = match engine {
            Engine::DuckDb => {
                let conn = duckdb::Connection::open(s.project.path().join("db.duckdb")).unwrap();
                conn.query_row(&q, [], |r| r.get::<_, i64>(0)).unwrap()
            }
            _ => crate::common::engines::admin_number(engine, &q),
        };
        assert_eq!(count, 2, "{engine:?}: the rows are in the table, exact");
    }
}

#[test]
fn a_slow_consumer_misses_records_and_is_told_while_the_others_go_on() {
    let p = Project::empty();
    let mut csv = String::from("id,customer,amount,created_at\n");
    let pad = "x".repeat(300);
    for i in 0..20_000 {
        csv.push_str(&format!("{i},{pad},1.00,2026-01-01 00:00:00\n"));
    }
    p.write("data/orders.csv", &csv);
    p.write(
        "channels/orders.yml",
        &format!(
            "name: orders\nkind: source\ntype: file\npath: ../data/orders.csv\nbuffer: 30000\nbatch_size: 200\n{FORMAT}"
        ),
    );
    p.write(
        "assay.yml",
        "environments:\n  default: {channels: [orders]}\n",
    );
    let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "200ms"]);
    rt().block_on(async {
        let mut slow = stream(&ch.url, Some(&token(&ch.url).await)).await.unwrap();
        let mut fast = stream(&ch.url, Some(&token(&ch.url).await)).await.unwrap();
        assert_eq!(next(&mut slow).await["type"], "hello");
        assert_eq!(next(&mut fast).await["type"], "hello");
        // the fast consumer gets whole result sets while the slow one reads nothing
        for _ in 0..3 {
            let (_, records) = result_set(&mut fast).await;
            assert_eq!(records.len(), 20_000);
        }
        // the slow one, reading at last, learns what it missed
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "no dropped frame");
            let f = next(&mut slow).await;
            if f["type"] == "dropped" {
                assert!(f["records"].as_u64().unwrap() > 0, "{f}");
                break;
            }
        }
    });
    // the registry's heartbeat carries the counters
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, listed, _) = run(p.path(), &["channel", "list", "-o", "json"]);
        let listed: Value = serde_json::from_str(&listed).unwrap();
        let c = &listed["channels"][0]["counters"];
        if c["dropped"].as_u64().unwrap_or(0) > 0 && c["sent"].as_u64().unwrap_or(0) >= 60_000 {
            assert_eq!(c["connections_total"], 2, "{c}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no counters in the registry: {c}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, out, _) = ch.stop();
    assert_eq!(code, 0);
    let dropped: u64 = out
        .split(", ")
        .find_map(|part| part.strip_suffix(" dropped"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(dropped > 0, "{out}");
}

#[test]
fn channel_files_approvals_and_arguments_are_checked_before_anything_runs() {
    let p = source_project();
    let cases: &[(&str, &str, &str)] = &[
        (
            "name: orders\nkind: source\ntype: file\npath: ../data/orders.csv\nbatch: 5\n",
            "unknown key 'batch'",
            "orders.yml:5:1",
        ),
        (
            "name: orders\nkind: stream\ntype: file\npath: a.csv\n",
            "unknown channel kind 'stream'",
            "orders.yml:2:7",
        ),
        (
            "name: orders\nkind: source\ntype: kafka\npath: a.csv\n",
            "unknown channel type 'kafka'",
            "orders.yml:3:7",
        ),
        (
            "name: orders\nkind: source\ntype: file\npath: a.txt\n",
            "not known from its extension",
            "orders.yml:4:7",
        ),
        (
            "name: orders\nkind: source\ntype: postgres\ndata_source: nope\nquery: SELECT 1\n",
            "no data source 'nope'",
            "orders.yml:4:14",
        ),
        (
            "name: o/rders\nkind: source\ntype: file\npath: a.csv\n",
            "has characters a name cannot have",
            "orders.yml:1:7",
        ),
        (
            "name: orders\nkind: source\ntype: file\npath: ../data/orders.csv\nbatch_size: 5000\nbuffer: 1000\n",
            "batch_size 5000 is more than buffer 1000",
            "orders.yml:5:13",
        ),
    ];
    for (head, says, at) in cases {
        let body = if head.contains("format:") {
            String::new()
        } else {
            FORMAT.to_string()
        };
        p.write("channels/orders.yml", &format!("{head}{body}"));
        let (code, _, err) = run(p.path(), &["channel", "run", "channels/orders.yml"]);
        assert_eq!(code, 2, "{head}: {err}");
        assert!(err.contains(says), "{head}: {err}");
        assert!(err.contains(at), "{head}: no {at} in {err}");
    }
    // a password in clear, a bad field type, a query that writes
    for (text, says) in [
        (
            FORMAT.replace("\"${env.CH_PW}\"", "hunter2-hunter2"),
            "never written in clear",
        ),
        (
            FORMAT.replace("type: long", "type: int"),
            "unknown field type 'int'",
        ),
    ] {
        p.write(
            "channels/orders.yml",
            &format!("name: orders\nkind: source\ntype: file\npath: ../data/orders.csv\n{text}"),
        );
        let (code, _, err) = run(p.path(), &["channel", "run", "channels/orders.yml"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(says), "{err}");
        assert!(
            !err.contains("hunter2-hunter2") || says.contains("clear"),
            "{err}"
        );
    }
    // not approved where it is deployed, or where it is exposed
    p.write(
        "channels/orders.yml",
        &format!("name: orders\nkind: source\ntype: file\npath: ../data/orders.csv\nenvironment: dev\nexpose_to: [prod]\n{FORMAT}"),
    );
    let (code, _, err) = run(p.path(), &["channel", "run", "channels/orders.yml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not approved in environment dev"), "{err}");
    assert!(err.contains("not approved in environment prod"), "{err}");
    assert!(err.contains("environments:"), "the approval to add: {err}");
    // --every is for sources; durations and times are checked
    p.write(
        "channels/sink.yml",
        &format!("name: orders\nkind: sink\ntype: file\npath: ../out/x.jsonl\n{FORMAT}"),
    );
    let (code, _, err) = run(
        p.path(),
        &["channel", "run", "channels/sink.yml", "--every", "1s"],
    );
    assert_eq!(code, 2, "{err}");
    for args in [["--every", "often"], ["--for", "-1s"], ["--at", "tomorrow"]] {
        let (code, _, err) = run(
            p.path(),
            &[&["channel", "run", "channels/orders.yml"][..], &args[..]].concat(),
        );
        assert_eq!(code, 2, "{args:?}: {err}");
    }
}

#[test]
fn failed_rows_go_to_a_sink_channel_as_records() {
    let p = Project::duckdb(
        "CREATE TABLE t(id INTEGER, email VARCHAR);
         INSERT INTO t VALUES (1, 'a@x.org'), (2, NULL), (3, 'c@x.org'), (4, NULL);",
    );
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &format!(
            "{config}diagnostics: {{channel: failed}}\nenvironments:\n  default: {{channels: [failed]}}\nchannels:\n  failed: {{user: pipeline, password: \"${{env.CH_PW}}\"}}\n"
        ),
    );
    p.write(
        "channels/failed.yml",
        "name: failed
kind: sink
type: file
path: ../out/failed.jsonl
format:
  name: failed_row_v1
  fields:
    - {name: check_id, type: string}
    - {name: dataset, type: string}
    - {name: row_index, type: long}
    - {name: id, type: long, nullable: true}
    - {name: email, type: string, nullable: true}
users:
  - {name: pipeline, password: \"${env.CH_PW}\"}
",
    );
    p.write(
        "contract.yml",
        "dataset: db/main/t\ncolumns:\n  - name: email\n    checks:\n      - missing:\n",
    );
    // the sink is not running: a warning, the verdict stands
    let (code, out, err) = run(p.path(), &["verify", "contract.yml", "-o", "json"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no sink channel 'failed' runs"), "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let info = &doc["datasets"][0]["checks"][0]["failed_rows"];
    assert_eq!(info["captured"], 0, "{info}");

    let sink = Running::start(p.path(), &["channels/failed.yml"]);
    let (code, out, err) = run(p.path(), &["verify", "contract.yml", "-o", "json"]);
    assert_eq!(code, 1, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let info = &doc["datasets"][0]["checks"][0]["failed_rows"];
    assert_eq!(info["captured"], 2, "{info}");
    assert_eq!(info["store"], "channel failed");
    assert!(info["error"].is_null(), "{info}");
    let (code, stopped, _) = sink.stop();
    assert_eq!(code, 0);
    assert!(stopped.contains("2 stored, 0 discarded"), "{stopped}");
    let lines: Vec<Value> = std::fs::read_to_string(p.path().join("out/failed.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let check_id = doc["datasets"][0]["checks"][0]["id"].clone();
    assert_eq!(
        lines,
        vec![
            json!({"check_id": check_id, "dataset": doc["datasets"][0]["dataset"], "row_index": 1, "id": 2, "email": null}),
            json!({"check_id": check_id, "dataset": doc["datasets"][0]["dataset"], "row_index": 2, "id": 4, "email": null}),
        ]
    );
}

#[test]
fn sources_read_queries_on_every_engine_and_refuse_queries_that_write() {
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let t = s.qualified("orders");
        s.run(&[
            format!(
                "CREATE TABLE {t} (id INTEGER, customer VARCHAR(50), amount DECIMAL(10,2), created_at {})",
                engine.column_type("timestamp")
            ),
            format!(
                "INSERT INTO {t} VALUES (1, {}, 12.50, '2026-01-01 10:00:00'), (2, NULL, 7.00, '2026-01-02 00:00:00')",
                engine.literal("O'Brien \"x\"; --")
            ),
        ]);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!("{config}environments:\n  default: {{channels: [orders]}}\n"),
        );
        let channel = |query: &str| {
            format!(
                "name: orders\nkind: source\ntype: {}\ndata_source: db\nquery: {}\n{FORMAT}",
                engine.name(),
                serde_json::to_string(query).unwrap()
            )
        };
        s.project.write(
            "channels/orders.yml",
            &channel(&format!(
                "SELECT id, customer, amount, created_at FROM {t} ORDER BY id"
            )),
        );
        let ch = Running::start(
            s.project.path(),
            &["channels/orders.yml", "--every", "300ms"],
        );
        let records = rt().block_on(async {
            let mut ws = stream(&ch.url, Some(&token(&ch.url).await)).await.unwrap();
            assert_eq!(next(&mut ws).await["type"], "hello");
            result_set(&mut ws).await.1
        });
        assert_eq!(
            Value::Array(records),
            json!([
                {"id": 1, "customer": "O'Brien \"x\"; --", "amount": "12.50", "created_at": "2026-01-01T10:00:00Z"},
                {"id": 2, "customer": null, "amount": "7.00", "created_at": "2026-01-02T00:00:00Z"},
            ]),
            "{engine:?}"
        );
        drop(ch);
        for bad in [
            format!("DELETE FROM {t}"),
            format!("SELECT 1; DROP TABLE {t}"),
            format!("INSERT INTO {t} VALUES (3, 'x', 1, '2026-01-01 00:00:00')"),
            format!(
                "CREATE TABLE {}_copy AS SELECT * FROM {t}",
                s.qualified("x")
            ),
            format!("WITH d AS (DELETE FROM {t} RETURNING *) SELECT * FROM d"),
        ] {
            s.project.write("channels/orders.yml", &channel(&bad));
            let (code, _, err) = run(s.project.path(), &["channel", "run", "channels/orders.yml"]);
            assert_eq!(code, 2, "{engine:?} {bad}: {err}");
            assert!(err.contains("read-only SELECT"), "{engine:?} {bad}: {err}");
        }
        let kept = match engine {
            Engine::DuckDb => {
                let conn = duckdb::Connection::open(s.project.path().join("db.duckdb")).unwrap();
                conn.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
            }
            _ => crate::common::engines::admin_number(engine, &format!("SELECT COUNT(*) FROM {t}")),
        };
        assert_eq!(kept, 2, "{engine:?}: nothing written");
    }
}

/// A private CA and a certificate it signed for 127.0.0.1, made with the openssl tool.
pub(crate) fn certificates(dir: &std::path::Path) {
    let sh = |args: &[&str]| {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("the openssl tool (Debian package openssl) makes the test certificates");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=assay test CA",
    ]);
    sh(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    sh(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
}

#[test]
fn a_channel_with_tls_serves_https_and_wss_to_clients_that_trust_its_ca() {
    let p = source_project();
    let certs = p.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    certificates(&certs);
    p.write(
        "channels/orders.yml",
        &format!(
            "name: orders\nkind: source\ntype: file\npath: ../data/orders.csv\ntls: {{certificate: ../certs/leaf.pem, key: ../certs/leaf.key}}\n{FORMAT}"
        ),
    );
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &config.replace(
            "password: \"${env.CH_PW}\"}",
            "password: \"${env.CH_PW}\", ca_certificate: certs/ca.pem}",
        ),
    );
    let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "300ms"]);
    assert!(ch.url.starts_with("https://127.0.0.1:"), "{}", ch.url);
    let ca = std::fs::read(certs.join("ca.pem")).unwrap();
    rt().block_on(async {
        // a client that does not trust the CA cannot even log in
        let untrusting = reqwest::Client::new()
            .post(format!("{}/login", ch.url))
            .basic_auth("pipeline", Some(PW))
            .send()
            .await;
        assert!(untrusting.is_err(), "an unknown CA is refused");
        // plain HTTP to the TLS port gets nowhere
        let plain = reqwest::Client::new()
            .post(format!("{}/login", ch.url.replacen("https", "http", 1)))
            .basic_auth("pipeline", Some(PW))
            .send()
            .await;
        assert!(plain.map_or(true, |r| !r.status().is_success()));
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        let r = client
            .post(format!("{}/login", ch.url))
            .basic_auth("pipeline", Some(PW))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        let token = body["token"].as_str().unwrap().to_string();
        // wss: TLS by hand under the WebSocket, trusting the CA
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::pem::PemObject::pem_slice_iter(&ca) {
            roots.add(c.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let port: u16 = ch.url.rsplit(':').next().unwrap().parse().unwrap();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(
                rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap(),
                tcp,
            )
            .await
            .unwrap();
        let mut req = format!("wss://127.0.0.1:{port}/streaming")
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::client_async(req, tls).await.unwrap();
        let hello = loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await {
                break serde_json::from_str::<Value>(t.as_str()).unwrap();
            }
        };
        assert_eq!(hello["channel"], "orders");
    });
    // assay itself, trusting the CA named in assay.yml
    p.write(
        "contract.yml",
        "dataset: stream/main/orders\nchecks:\n  - row_count: {threshold: {must_be: 3}}\n",
    );
    let (code, out, err) = run(
        p.path(),
        &[
            "verify",
            "contract.yml",
            "--channel",
            "orders",
            "--timeout",
            "20s",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn channels_run_at_a_time_for_a_while_in_their_environments_and_close_cleanly() {
    let p = source_project();
    p.write(
        "channels/orders.yml",
        &format!(
            "name: orders\nkind: source\ntype: file\npath: ../data/orders.csv\nenvironment: data-channels\nexpose_to: [development]\n{FORMAT}"
        ),
    );
    p.write(
        "assay.yml",
        "environments:\n  data-channels: {channels: [orders]}\n  development: {channels: [orders]}\n",
    );
    let ch = Running::start(
        p.path(),
        &["channels/orders.yml", "--for", "4s", "--every", "1h"],
    );
    // visible where deployed and where exposed, nowhere else
    for (env, seen) in [
        ("data-channels", true),
        ("development", true),
        ("production", false),
    ] {
        let (code, out, _) = run(p.path(), &["channel", "list", "--environment", env]);
        assert_eq!(code, 0);
        assert_eq!(out.contains(&ch.url), seen, "{env}: {out}");
        if !seen {
            assert_eq!(out, "no channel is running\n");
        }
    }
    let (_, table, _) = run(p.path(), &["channel", "list"]);
    assert!(table.starts_with("name    kind    type  format"), "{table}");
    assert!(table.contains("data-channels  development"), "{table}");
    // one channel per signature
    let (code, _, err) = run(p.path(), &["channel", "run", "channels/orders.yml"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("already runs"), "{err}");
    // a consumer connected when the channel stops is told, and the socket closes
    rt().block_on(async {
        let mut ws = stream(&ch.url, Some(&token(&ch.url).await)).await.unwrap();
        loop {
            let f = next(&mut ws).await;
            if f["type"] == "closing" {
                assert_eq!(f["reason"], "the channel stops");
                break;
            }
        }
        assert_eq!(next(&mut ws).await["type"], "websocket_close");
    });
    let (code, out, err) = ch.stop();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("its --for time elapsed"), "{out}");

    // --at: nothing listens before its time
    let at_time = chrono::Utc::now() + chrono::Duration::seconds(3);
    let at = at_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // the channel cannot end before its start time (whole seconds) and its --for
    let at_whole = chrono::DateTime::parse_from_rfc3339(&at).unwrap();
    let earliest = (at_whole.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default()
        + Duration::from_secs(1);
    let started = Instant::now();
    let out = assay(p.path())
        .args([
            "channel",
            "run",
            "channels/orders.yml",
            "--at",
            &at,
            "--for",
            "1s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!("channel orders starts at {at}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("listening on http://127.0.0.1:"),
        "{stdout}"
    );
    assert!(started.elapsed() >= earliest, "{stdout}");
}

/// What a hostile client can send a sink: frames too big, nested too deep, binary, in
/// bulk. Each is refused or discarded, and the channel goes on serving the others.
#[test]
fn hostile_frames_are_refused_and_the_channel_goes_on() {
    let p = Project::empty();
    p.write(
        "assay.yml",
        "environments:\n  default: {channels: [failed]}\n",
    );
    p.write(
        "channels/failed.yml",
        &format!("name: failed\nkind: sink\ntype: file\npath: ../out/failed.jsonl\n{FORMAT}"),
    );
    let ch = Running::start(p.path(), &["channels/failed.yml"]);
    rt().block_on(async {
        let t = token(&ch.url).await;
        let mut ws = stream(&ch.url, Some(&t)).await.unwrap();
        assert_eq!(next(&mut ws).await["type"], "hello");
        // nested beyond any parser's patience
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        ws.send(Message::text(deep)).await.unwrap();
        assert_eq!(next(&mut ws).await["type"], "error");
        ws.send(Message::binary(vec![0u8; 1024])).await.unwrap();
        assert_eq!(next(&mut ws).await["type"], "error");
        // a record of the wrong shape in every way at once
        let odd = json!({"type": "records", "records": [null, 7, "x", [1], {"id": {"$gt": 0}}]});
        ws.send(Message::text(odd.to_string())).await.unwrap();
        let e = next(&mut ws).await;
        assert_eq!((&e["type"], &e["discarded"]), (&json!("error"), &json!(5)), "{e}");
        // more than 16 MiB in one message: an error frame says why, then the connection
        // is closed
        let huge = "x".repeat(17 << 20);
        let _ = ws.send(Message::text(huge)).await;
        let closed = tokio::time::timeout(Duration::from_secs(20), async {
            let mut said = None;
            loop {
                match ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break said,
                    Some(Ok(Message::Text(t))) => said = Some(t.to_string()),
                    _ => {}
                }
            }
        })
        .await;
        let said = closed.expect("an oversized message closes the connection");
        let said = said.expect("an error frame before the close");
        assert!(said.contains("\"error\"") && said.contains("at most"), "{said}");
        // the channel still serves a new connection, and stores what fits
        let mut again = stream(&ch.url, Some(&t)).await.unwrap();
        assert_eq!(next(&mut again).await["type"], "hello");
        let good = json!({"type": "records", "records": [{"id": 1, "amount": "1", "created_at": "2026-01-01T00:00:00Z"}]});
        again.send(Message::text(good.to_string())).await.unwrap();
        again.send(Message::text("{\"type\": \"flush\"}")).await.unwrap();
        assert_eq!(
            next(&mut again).await,
            json!({"type": "flushed", "stored": 1, "discarded": 0})
        );
    });
    let (code, _, err) = ch.stop();
    assert_eq!(code, 0, "{err}");
    let stored = std::fs::read_to_string(p.path().join("out/failed.jsonl")).unwrap();
    assert_eq!(stored.lines().count(), 1, "{stored}");
}

#[test]
fn sources_read_jsonl_and_parquet_and_a_parquet_sink_is_written_whole() {
    let p = source_project();
    p.write(
        "data/a.jsonl",
        "{\"id\": 1, \"customer\": \"alice\", \"amount\": 12.5, \"created_at\": \"2026-01-01 10:00:00\"}\n{\"id\": 2, \"customer\": null, \"amount\": 7, \"created_at\": \"2026-01-02T00:00:00Z\"}\n",
    );
    {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let path = p.path().join("data/b.parquet");
        conn.execute_batch(&format!(
            "COPY (SELECT 3 AS id, 'carol' AS customer, 1.25::DECIMAL(10,2) AS amount, TIMESTAMP '2026-01-03 00:00:00' AS created_at) TO '{}' (FORMAT parquet)",
            path.display()
        ))
        .unwrap();
    }
    let expected = [
        json!([
            {"id": 1, "customer": "alice", "amount": "12.50", "created_at": "2026-01-01T10:00:00Z"},
            {"id": 2, "customer": null, "amount": "7.00", "created_at": "2026-01-02T00:00:00Z"},
        ]),
        json!([{"id": 3, "customer": "carol", "amount": "1.25", "created_at": "2026-01-03T00:00:00Z"}]),
    ];
    for (file, expected) in ["a.jsonl", "b.parquet"].iter().zip(expected) {
        p.write(
            "channels/orders.yml",
            &format!("name: orders\nkind: source\ntype: file\npath: ../data/{file}\n{FORMAT}"),
        );
        let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "300ms"]);
        let records = rt().block_on(async {
            let mut ws = stream(&ch.url, Some(&token(&ch.url).await)).await.unwrap();
            assert_eq!(next(&mut ws).await["type"], "hello");
            result_set(&mut ws).await.1
        });
        assert_eq!(Value::Array(records), expected, "{file}");
    }
    // a Parquet sink: written when a client flushes and when the channel stops
    p.write(
        "assay.yml",
        "environments:\n  default: {channels: [orders, kept]}\n",
    );
    p.write(
        "channels/kept.yml",
        &format!("name: kept\nkind: sink\ntype: file\npath: ../out/kept.parquet\n{FORMAT}"),
    );
    let sink = Running::start(p.path(), &["channels/kept.yml"]);
    rt().block_on(async {
        let mut ws = stream(&sink.url, Some(&token(&sink.url).await)).await.unwrap();
        assert_eq!(next(&mut ws).await["type"], "hello");
        let batch = json!({"type": "records", "records": [
            {"id": 1, "amount": "12.50", "created_at": "2026-01-01T10:00:00Z"},
            {"id": 2, "customer": "b", "amount": "99999999.99", "created_at": "2026-01-02T00:00:00Z"}
        ]});
        ws.send(Message::text(batch.to_string())).await.unwrap();
        ws.send(Message::text("{\"type\": \"flush\"}")).await.unwrap();
        assert_eq!(next(&mut ws).await["stored"], 2);
    });
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sum: String = conn
        .query_row(
            &format!(
                "SELECT CAST(SUM(amount) AS VARCHAR) || ' ' || COUNT(*) FROM read_parquet('{}')",
                p.path().join("out/kept.parquet").display()
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sum, "100000012.49 2", "exact decimals in the file");
    let (code, _, err) = sink.stop();
    assert_eq!(code, 0, "{err}");
}

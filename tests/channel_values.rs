//! What a data channel does to the values it moves: each one arrives exact or is refused,
//! per type and per store; a sink's file holds each batch whole or not at all, under a
//! real file size limit; a Parquet sink keeps its file; a paused channel keeps its place
//! in the registry. Driven like tests/channels.rs, by a client written from
//! docs/channels.md (JSON frames, and Arrow IPC frames read with the arrow crates).

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use duckdb::arrow::array::{Array, Decimal128Array, Int64Array, TimestampMicrosecondArray};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::channels::{next, result_set, rt, run, source_project, token, Running, Ws, FORMAT};
use crate::common::engines::{Engine, Sandbox, ENGINES};
use crate::common::Project;

/// `/streaming` with a query (`?encoding=arrow`); Err(status) when refused.
async fn stream_query(url: &str, query: &str) -> Result<Ws, (u16, String)> {
    let t = token(url).await;
    let mut req = format!("{}/streaming{query}", url.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {t}").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err((
            r.status().as_u16(),
            String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).into_owned(),
        )),
        Err(e) => panic!("{e}"),
    }
}

/// The next whole result set sent as Arrow IPC frames: its record batches.
async fn arrow_result_set(ws: &mut Ws) -> Vec<duckdb::arrow::record_batch::RecordBatch> {
    let mut current: Option<(String, Vec<_>)> = None;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("a frame within 20 s")
            .unwrap()
            .unwrap();
        match m {
            Message::Text(t) => {
                let f: Value = serde_json::from_str(t.as_str()).unwrap();
                match f["type"].as_str().unwrap() {
                    "result_set_start" => {
                        current = Some((f["id"].as_str().unwrap().to_string(), vec![]))
                    }
                    "result_set_end" if current.is_some() => {
                        let (id, batches) = current.take().unwrap();
                        assert_eq!(f["id"], id.as_str());
                        let rows: usize = batches
                            .iter()
                            .map(|b: &duckdb::arrow::record_batch::RecordBatch| b.num_rows())
                            .sum();
                        assert_eq!(f["records"], rows, "the end counts what was sent");
                        return batches;
                    }
                    "result_set_end" => {}
                    other => panic!("unexpected {other}: {f}"),
                }
            }
            Message::Binary(b) => {
                let reader = arrow_ipc::reader::StreamReader::try_new(
                    std::io::Cursor::new(b.to_vec()),
                    None,
                )
                .unwrap();
                let set = reader.schema().metadata.get("assay.result_set").cloned();
                if let Some((id, batches)) = current.as_mut() {
                    assert_eq!(set.as_deref(), Some(id.as_str()));
                    for batch in reader {
                        batches.push(batch.unwrap());
                    }
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Whether a result set begins within `wait`.
async fn a_set_begins(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = Instant::now() + wait;
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline.into(), ws.next()).await {
        if let Message::Text(t) = m {
            let f: Value = serde_json::from_str(t.as_str()).unwrap();
            if f["type"] == "result_set_start" {
                return Some(f);
            }
        }
    }
    None
}

#[test]
fn a_csv_source_applies_each_timestamp_offset_in_json_and_in_arrow() {
    let p = source_project();
    p.write(
        "data/orders.csv",
        "id,customer,amount,created_at\n1,a,1.50,2026-01-03 12:00:00+02:00\n2,b,2.50,2026-01-03 12:00:00-05:00\n3,c,3.50,2026-01-03T12:00:00.25Z\n4,d,4.50,2026-01-03 12:00:00\n",
    );
    let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "300ms"]);
    let (records, batches) = rt().block_on(async {
        let mut ws = stream_query(&ch.url, "").await.unwrap();
        assert_eq!(next(&mut ws).await["encoding"], "json");
        let records = result_set(&mut ws).await.1;
        let mut ws = stream_query(&ch.url, "?encoding=arrow").await.unwrap();
        assert_eq!(next(&mut ws).await["encoding"], "arrow");
        (records, arrow_result_set(&mut ws).await)
    });
    let at: Vec<&str> = records
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        at,
        [
            "2026-01-03T10:00:00Z",
            "2026-01-03T17:00:00Z",
            "2026-01-03T12:00:00.250Z",
            "2026-01-03T12:00:00Z"
        ]
    );
    // the same instants in Arrow: microseconds since the epoch, UTC
    let base = 1_767_398_400_000_000i64; // 2026-01-03T00:00:00Z
    let hour = 3_600_000_000i64;
    let mut micros = Vec::new();
    let mut amounts = Vec::new();
    for b in &batches {
        let ts = b
            .column_by_name("created_at")
            .unwrap()
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        micros.extend((0..ts.len()).map(|i| ts.value(i)));
        let d = b
            .column_by_name("amount")
            .unwrap()
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        amounts.extend((0..d.len()).map(|i| d.value_as_string(i)));
        let ids = b
            .column_by_name("id")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ids.null_count(), 0);
    }
    assert_eq!(
        micros,
        [
            base + 10 * hour,
            base + 17 * hour,
            base + 12 * hour + 250_000,
            base + 12 * hour
        ]
    );
    assert_eq!(amounts, ["1.50", "2.50", "3.50", "4.50"]);
    let (code, _, err) = ch.stop();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn streaming_takes_only_the_encodings_it_knows() {
    let p = source_project();
    let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "1s"]);
    rt().block_on(async {
        for query in ["?encoding=xml", "?format=arrow", "?encoding=arrow&x=1"] {
            let (status, body) = stream_query(&ch.url, query).await.map(|_| ()).unwrap_err();
            assert_eq!(status, 400, "{query}");
            assert!(body.contains("encoding"), "{query}: {body}");
        }
    });
    drop(ch);
    // a sink takes JSON records only
    p.write(
        "assay.yml",
        "environments:\n  default: {channels: [kept]}\n",
    );
    p.write(
        "channels/kept.yml",
        &format!("name: kept\nkind: sink\ntype: file\npath: ../out/kept.jsonl\n{FORMAT}"),
    );
    let sink = Running::start(p.path(), &["channels/kept.yml"]);
    rt().block_on(async {
        let (status, body) = stream_query(&sink.url, "?encoding=arrow")
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(status, 400);
        assert!(body.contains("a sink takes JSON"), "{body}");
    });
}

/// A decimal beyond its field's scale is refused by a source, never rounded: a CSV
/// file, and a query on every engine.
#[test]
fn a_source_refuses_decimals_beyond_their_scale_on_every_store() {
    let p = source_project();
    p.write(
        "data/orders.csv",
        "id,customer,amount,created_at\n1,a,1.25,2026-01-03 12:00:00\n2,b,1.239,2026-01-03 12:00:00\n",
    );
    let mut sandboxes = Vec::new();
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!("{config}environments:\n  default: {{channels: [orders]}}\n"),
        );
        s.project.write(
            "channels/orders.yml",
            &format!(
                "name: orders\nkind: source\ntype: {}\ndata_source: db\nquery: SELECT 1 AS id, 'a' AS customer, CAST(0.005 AS DECIMAL(10,3)) AS amount, TIMESTAMP '2026-01-01 00:00:00' AS created_at\n{FORMAT}",
                engine.name()
            ),
        );
        sandboxes.push(s);
    }
    let mut stores = vec![("a CSV file".to_string(), p.path())];
    for s in &sandboxes {
        stores.push((s.engine.name().to_string(), s.project.path()));
    }
    for (what, path) in &stores {
        let ch = Running::start(path, &["channels/orders.yml", "--every", "300ms"]);
        let begun = rt().block_on(async {
            let mut ws = stream_query(&ch.url, "").await.unwrap();
            a_set_begins(&mut ws, Duration::from_secs(2)).await
        });
        assert!(
            begun.is_none(),
            "{what}: a set with a rounded decimal was sent: {begun:?}"
        );
        let (code, _, err) = ch.stop();
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("amount") && err.contains("decimal(10,2)"),
            "{what}: the log says why nothing was sent: {err}"
        );
    }
}

const WIDE: &str = "12345678901234567890.1234567890123456789";

/// A decimal field without precision: every sink stores it with every digit, or
/// refuses it where the column cannot hold it, and counts what it did.
#[test]
fn decimals_without_precision_are_stored_whole_or_refused_by_every_sink() {
    let wide_format = "format:\n  name: wide_v1\n  fields:\n    - {name: id, type: long}\n    - {name: amount, type: decimal}\nusers:\n  - {name: pipeline, password: \"${env.CH_PW}\"}\n";
    let records = json!([{"id": 1, "amount": WIDE}, {"id": 2, "amount": "1.5"}]);
    // files: JSONL keeps the text; Parquet holds DuckDB's DECIMAL(38,10), which cannot
    let p = Project::empty();
    p.write(
        "assay.yml",
        "environments:\n  default: {channels: [lines, columns]}\n",
    );
    p.write(
        "channels/lines.yml",
        &format!("name: lines\nkind: sink\ntype: file\npath: ../out/w.jsonl\n{wide_format}"),
    );
    p.write(
        "channels/columns.yml",
        &format!("name: columns\nkind: sink\ntype: file\npath: ../out/w.parquet\n{wide_format}"),
    );
    let lines = Running::start(p.path(), &["channels/lines.yml"]);
    let flushed = crate::hardening::send_to_sink(&lines.url, records.clone());
    assert_eq!(counts(&flushed), (2, 0));
    drop(lines);
    let text = std::fs::read_to_string(p.path().join("out/w.jsonl")).unwrap();
    assert!(text.contains(&format!("\"amount\":\"{WIDE}\"")), "{text}");
    let columns = Running::start(p.path(), &["channels/columns.yml"]);
    let flushed = crate::hardening::send_to_sink(&columns.url, records.clone());
    assert_eq!(counts(&flushed), (1, 1), "{flushed}");
    let (code, _, err) = columns.stop();
    assert_eq!(code, 0, "{err}");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let held: String = conn
        .query_row(
            &format!(
                "SELECT string_agg(CAST(amount AS VARCHAR), ' ' ORDER BY id) FROM read_parquet('{}')",
                p.path().join("out/w.parquet").display()
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        held, "1.5000000000",
        "only the value the column holds exactly"
    );
    // tables: PostgreSQL's NUMERIC and MySQL's DECIMAL(65,20) hold it, DuckDB's cannot
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!("{config}environments:\n  default: {{channels: [wide]}}\n"),
        );
        s.project.write(
            "channels/wide.yml",
            &format!(
                "name: wide\nkind: sink\ntype: {}\ndata_source: db\ntable: {}/wide\n{wide_format}",
                engine.name(),
                s.schema
            ),
        );
        let ch = Running::start(s.project.path(), &["channels/wide.yml"]);
        let flushed = crate::hardening::send_to_sink(&ch.url, records.clone());
        let (code, _, err) = ch.stop();
        assert_eq!(code, 0, "{err}");
        let exact = format!(
            "SELECT COUNT(*) FROM {} WHERE amount = {WIDE}",
            s.qualified("wide")
        );
        let all = format!("SELECT COUNT(*) FROM {}", s.qualified("wide"));
        let (exact, all) = match engine {
            Engine::DuckDb => {
                let conn = duckdb::Connection::open(s.project.path().join("db.duckdb")).unwrap();
                let n = |q: &str| conn.query_row(q, [], |r| r.get::<_, i64>(0)).unwrap();
                (n(&exact), n(&all))
            }
            e => (
                crate::common::engines::admin_number(e, &exact),
                crate::common::engines::admin_number(e, &all),
            ),
        };
        match engine {
            Engine::DuckDb => {
                assert_eq!(flushed["stored"], 1, "{flushed}");
                assert_eq!(flushed["discarded"], 1, "{flushed}");
                assert_eq!((exact, all), (0, 1), "nothing rounded was stored");
            }
            _ => {
                assert_eq!(flushed["stored"], 2, "{}: {flushed}", engine.name());
                assert_eq!((exact, all), (1, 2), "{}: every digit", engine.name());
            }
        }
    }
}

/// A limit on the size of files the channel may write (ulimit -f), in bytes.
fn file_size_limit(bytes: u64) -> impl FnOnce(&mut std::process::Command) {
    move |c| {
        // SAFETY: only setrlimit between fork and exec
        unsafe {
            c.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// Records `from..from + n`, each customer `customer_len` hex digits that do not
/// compress (a file's size is what the test is about).
fn orders(from: i64, n: i64, customer_len: usize) -> Value {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ from as u64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    Value::Array(
        (from..from + n)
            .map(|i| {
                let mut customer = String::new();
                while customer.len() < customer_len {
                    customer.push_str(&format!("{:016x}", noise()));
                }
                customer.truncate(customer_len);
                json!({"id": i, "customer": customer,
                       "amount": "1.50", "created_at": "2026-01-01T00:00:00Z"})
            })
            .collect(),
    )
}

/// A `flushed` frame's counts: stored, discarded.
fn counts(flushed: &Value) -> (u64, u64) {
    (
        flushed["stored"].as_u64().unwrap(),
        flushed["discarded"].as_u64().unwrap(),
    )
}

/// Records and a flush on one connection: the frames that came back.
fn send_batches(url: &str, batches: &[Value]) -> Vec<Value> {
    rt().block_on(async {
        let t = token(url).await;
        let mut ws = crate::channels::stream(url, Some(&t)).await.unwrap();
        assert_eq!(next(&mut ws).await["type"], "hello");
        let mut got = Vec::new();
        for records in batches {
            let frame = json!({"type": "records", "records": records});
            ws.send(Message::text(frame.to_string())).await.unwrap();
            ws.send(Message::text(r#"{"type":"flush"}"#)).await.unwrap();
            loop {
                let f = next(&mut ws).await;
                let done = f["type"] == "flushed";
                got.push(f);
                if done {
                    break;
                }
            }
        }
        got
    })
}

#[test]
fn a_file_sink_under_a_size_limit_stores_each_batch_whole_or_not_at_all() {
    for ext in ["jsonl", "csv"] {
        let p = Project::empty();
        p.write(
            "assay.yml",
            "environments:\n  default: {channels: [kept]}\n",
        );
        p.write(
            "channels/kept.yml",
            &format!("name: kept\nkind: sink\ntype: file\npath: ../out/kept.{ext}\n{FORMAT}"),
        );
        let sink = Running::start_with(p.path(), &["channels/kept.yml"], file_size_limit(64 << 10));
        let frames = send_batches(
            &sink.url,
            &[
                orders(1, 10, 8),
                orders(100, 1000, 120),
                orders(2000, 10, 8),
            ],
        );
        let (code, out, err) = sink.stop();
        assert_eq!(code, 0, "{ext}: {err}");
        let flushed: Vec<&Value> = frames.iter().filter(|f| f["type"] == "flushed").collect();
        assert_eq!(flushed[0]["stored"], 10, "{ext}: {frames:?}");
        assert_eq!(
            counts(flushed[1]),
            (10, 1000),
            "{ext}: the batch past the limit is discarded whole: {frames:?}"
        );
        assert!(
            frames
                .iter()
                .any(|f| f["type"] == "error" && f["discarded"] == 1000),
            "{ext}: {frames:?}"
        );
        assert_eq!(flushed[2]["stored"], 20, "{ext}: the sink goes on");
        assert!(out.contains("20 stored, 1000 discarded"), "{ext}: {out}");
        // the file holds exactly the stored records, each on a whole line
        let text = std::fs::read_to_string(p.path().join(format!("out/kept.{ext}"))).unwrap();
        assert!(text.ends_with('\n'), "{ext}");
        let mut lines: Vec<&str> = text.lines().collect();
        if ext == "csv" {
            assert_eq!(lines.remove(0), "id,customer,amount,created_at");
        }
        assert_eq!(lines.len(), 20, "{ext}: {} lines", lines.len());
        let ids: Vec<i64> = lines
            .iter()
            .map(|l| match ext {
                "jsonl" => serde_json::from_str::<Value>(l).unwrap()["id"]
                    .as_i64()
                    .unwrap(),
                _ => l.split(',').next().unwrap().parse().unwrap(),
            })
            .collect();
        let expected: Vec<i64> = (1..=10).chain(2000..2010).collect();
        assert_eq!(ids, expected, "{ext}");
    }
}

fn parquet_rows(path: &std::path::Path) -> i64 {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.query_row(
        &format!("SELECT COUNT(*) FROM read_parquet('{}')", path.display()),
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn a_parquet_sink_tells_of_a_failed_write_and_keeps_its_file_when_restarted() {
    let p = Project::empty();
    p.write(
        "assay.yml",
        "environments:\n  default: {channels: [kept]}\n",
    );
    p.write(
        "channels/kept.yml",
        &format!("name: kept\nkind: sink\ntype: file\npath: ../out/kept.parquet\n{FORMAT}"),
    );
    let file = p.path().join("out/kept.parquet");
    // a write past the file size limit fails: told, counted discarded, the file unharmed
    let sink = Running::start_with(p.path(), &["channels/kept.yml"], file_size_limit(64 << 10));
    let frames = send_batches(&sink.url, &[orders(1, 5, 8), orders(100, 4000, 64)]);
    let flushed: Vec<&Value> = frames.iter().filter(|f| f["type"] == "flushed").collect();
    assert_eq!(flushed[0]["stored"], 5, "{frames:?}");
    assert_eq!(counts(flushed[1]), (5, 4000), "{frames:?}");
    let error = frames
        .iter()
        .find(|f| f["type"] == "error")
        .unwrap_or_else(|| panic!("an error frame: {frames:?}"));
    assert_eq!(error["discarded"], 4000, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("kept.parquet"),
        "{error}"
    );
    assert_eq!(parquet_rows(&file), 5);
    let (code, out, err) = sink.stop();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("5 stored, 4000 discarded"), "{out}");
    assert_eq!(parquet_rows(&file), 5);
    // restarted, it keeps what the file holds, whether it gets records or not
    let sink = Running::start(p.path(), &["channels/kept.yml"]);
    let (code, _, err) = sink.stop();
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        parquet_rows(&file),
        5,
        "a restart with nothing sent keeps the file"
    );
    let sink = Running::start(p.path(), &["channels/kept.yml"]);
    let flushed = crate::hardening::send_to_sink(&sink.url, orders(50, 2, 8));
    assert_eq!(flushed["stored"], 2);
    assert_eq!(parquet_rows(&file), 7);
    drop(sink);
    // a file of other columns is not this sink's: refused, not overwritten
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT 1 AS other) TO '{}' (FORMAT parquet)",
        file.display()
    ))
    .unwrap();
    let (code, _, err) = run(
        p.path(),
        &["channel", "run", "channels/kept.yml", "--for", "1s"],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("not the format's"), "{err}");
    assert_eq!(parquet_rows(&file), 1);
}

/// A channel paused longer than the registry's heartbeat timeout (SIGSTOP, as a long
/// pause or a suspended machine would) still holds its lock: no second copy starts, and
/// once it goes on it still serves, its entry its own.
#[test]
fn a_paused_channel_is_never_replaced_while_it_lives() {
    let p = source_project();
    let first = Running::start(p.path(), &["channels/orders.yml", "--every", "1s"]);
    let pid = first.child.id() as libc::pid_t;
    // SAFETY: signalling our own child
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_secs(17));
    let (code, _, err) = run(
        p.path(),
        &["channel", "run", "channels/orders.yml", "--for", "2s"],
    );
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert_ne!(code, 0, "a second copy started beside a paused one: {err}");
    assert!(err.contains("already runs"), "{err}");
    std::thread::sleep(Duration::from_secs(3));
    let entries = std::fs::read_dir(p.path().join(".assay/channels"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry: Value = serde_json::from_str(&entries[0]).unwrap();
    assert_eq!(entry["pid"], pid as i64);
    let records = rt().block_on(async {
        let mut ws = stream_query(&first.url, "").await.unwrap();
        assert_eq!(next(&mut ws).await["type"], "hello");
        result_set(&mut ws).await.1
    });
    assert_eq!(records.len(), 3);
    // a channel that died leaves a stale entry: the next one starts
    drop(first);
    let (code, out, err) = run(
        p.path(),
        &["channel", "run", "channels/orders.yml", "--for", "1s"],
    );
    assert_eq!(code, 0, "{out}{err}");
}

/// verify --channel holds each value exactly, in a private file it removes: a decimal
/// its table cannot hold ends the run with the reason, it is never rounded into a pass.
#[test]
fn verify_on_a_channel_holds_values_exactly_and_leaves_no_file_behind() {
    let p = source_project();
    let tmp = p.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    p.write(
        "data/orders.csv",
        &format!("id,customer,amount,created_at\n1,a,{WIDE},2026-01-03 12:00:00+02:00\n2,b,0.0000000001,2026-01-03 12:00:00\n"),
    );
    p.write(
        "channels/orders.yml",
        "name: orders\nkind: source\ntype: file\npath: ../data/orders.csv\nformat:\n  name: order_v1\n  fields:\n    - {name: id, type: long}\n    - {name: customer, type: string}\n    - {name: amount, type: decimal}\n    - {name: created_at, type: timestamp}\nusers:\n  - {name: pipeline, password: \"${env.CH_PW}\"}\n",
    );
    p.write(
        "contracts/orders.yml",
        "dataset: stream/main/orders\nchecks:\n  - row_count: {threshold: {must_be: 2}}\n",
    );
    p.write(
        "contracts/early.yml",
        "dataset: stream/main/orders\nchecks:\n  - row_count:\n      filter: \"created_at < TIMESTAMP '2026-01-03 11:00:00'\"\n      threshold: {must_be: 1}\n",
    );
    let verify = |contract: &str| {
        let out = crate::channels::assay(p.path())
            .env("TMPDIR", &tmp)
            .args([
                "verify",
                contract,
                "--channel",
                "orders",
                "--timeout",
                "20s",
            ])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "300ms"]);
    let (code, err) = verify("contracts/orders.yml");
    assert_eq!(
        code, 3,
        "a value DuckDB cannot hold is not rounded into a pass: {err}"
    );
    assert!(err.contains("decimal(38,10)"), "{err}");
    drop(ch);
    // with a value it can hold, the set is verified; its offset was applied (10:00 UTC)
    p.write(
        "data/orders.csv",
        "id,customer,amount,created_at\n1,a,1234567890123456789012345678.1234567891,2026-01-03 12:00:00+02:00\n2,b,0.0000000001,2026-01-03 12:00:00\n",
    );
    let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "300ms"]);
    let (code, err) = verify("contracts/early.yml");
    assert_eq!(code, 0, "{err}");
    let (code, err) = verify("contracts/orders.yml");
    assert_eq!(code, 0, "{err}");
    drop(ch);
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(
        left.is_empty(),
        "the received set's files are removed: {left:?}"
    );
}

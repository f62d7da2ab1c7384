//! `assay report`: the page made from a history with a known series and a known schema
//! change holds every dataset, the series' points, the change and the checks, and
//! nothing it would fetch from the network.

use crate::common;

use common::engines::{Engine, Sandbox};

/// Ten daily scans of two tables: `orders` grows by 3 rows a day and drops to 5 rows
/// on day 8, which its row count's monitor (judging from five points on) flags; `items`
/// gains a column on day 6.
fn history() -> Sandbox {
    let s = Sandbox::new(Engine::DuckDb);
    let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
    s.project.write(
        "assay.yml",
        &format!(
            "{config}scan:\n  include: ['db/main/orders', 'db/main/items']\n  \
             monitors: {{anomalies: {{min_history: 5}}}}\n"
        ),
    );
    s.project.write(
        "contracts/orders.yml",
        "dataset: db/main/orders\nchecks:\n  - row_count: {threshold: {must_be_greater_than: 50}}\n",
    );
    for day in 1..=10u32 {
        let rows = if day == 8 { 5 } else { 100 + day * 3 };
        let mut sql = vec![
            format!("CREATE OR REPLACE TABLE orders AS SELECT range AS id, TIMESTAMP '2025-01-01' + INTERVAL (range) MINUTE AS created_at FROM range({rows})"),
            "CREATE OR REPLACE TABLE items AS SELECT range AS id FROM range(4)".to_string(),
        ];
        if day >= 6 {
            sql.push("ALTER TABLE items ADD COLUMN \"it's <b>\" INTEGER".into());
        }
        s.run(&sql);
        let now = format!("2025-01-{day:02}T06:00:00Z");
        let run = s.project.assay(&["scan", "--now", &now, "-q"]);
        assert!(run.code == 0 || run.code == 1, "day {day}: {}", run.stderr);
    }
    s
}

#[test]
fn the_report_holds_every_dataset_its_series_and_changes_and_nothing_external() {
    let s = history();
    let run = s
        .project
        .assay(&["report", "--since", "100000d", "-o", "out/page.html"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("2 datasets"), "{}", run.stdout);
    let html = std::fs::read_to_string(s.project.path().join("out/page.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for name in ["db/main/orders", "db/main/items"] {
        assert!(
            html.contains(&format!(">{name}</a>")),
            "{name} not in the overview"
        );
        assert!(
            html.contains(&format!(">{name}</h2>")),
            "{name} has no section"
        );
    }
    // the row count chart of orders: one point per scan, with each value in its tooltip
    let orders = &html[html.find(">db/main/orders</h2>").unwrap()..];
    // (the profile's row count, not the check's chart named "check: row count")
    let chart = &orders[orders.find(">row count</figcaption>").unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    let points = chart.matches("<circle class='pt").count();
    assert_eq!(points, 10, "{chart}");
    for day in 1..=10u32 {
        let rows = if day == 8 { 5 } else { 100 + day * 3 };
        // the value, then the tooltip's end or what the monitor expected
        let tip = format!("2025-01-{day:02} 06:00 UTC: {rows}");
        assert!(
            [format!("{tip}<"), format!("{tip} (")]
                .iter()
                .any(|t| chart.contains(t.as_str())),
            "day {day} ({rows} rows) is not in the chart"
        );
    }
    // day 8 is an anomaly, marked with its reason; judged days carry the expected value
    // and range in their tooltips, and the range is drawn as a band
    let day8 = &chart[chart.find("2025-01-08 06:00 UTC: 5").unwrap()..];
    let day8 = &day8[..day8.find("</title>").unwrap()];
    assert!(day8.contains(" — anomaly: drop"), "{day8}");
    assert!(
        chart.contains("<circle class='pt anomaly'"),
        "no anomaly mark: {chart}"
    );
    assert!(chart.contains("<path class='band'"), "no band: {chart}");
    let day10 = &chart[chart.find("2025-01-10 06:00 UTC: 130").unwrap()..];
    let day10 = &day10[..day10.find("</title>").unwrap()];
    assert!(
        day10.contains("(expected ") && day10.contains(", range "),
        "{day10}"
    );
    // the check failed on day 8: the strip shows it, the latest outcome is pass
    let row = &html[html.find(">db/main/orders</a>").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("2025-01-08 06:00 UTC: fail"),
        "no failing scan in the strip: {row}"
    );
    assert!(row.contains("2025-01-07 06:00 UTC: pass"), "{row}");
    assert!(
        row.contains("</svg> pass</td>"),
        "the latest outcome is not pass: {row}"
    );
    // the schema change, as an event with the column's name escaped
    assert!(
        html.contains("column added it&#39;s &lt;b&gt;"),
        "no schema change"
    );
    assert!(!html.contains("it's <b>"));
    // a time column's latest value is drawn as a time, not as seconds since 1970
    let times = &orders[orders.find("max of created_at</figcaption>").unwrap()..];
    let times = &times[..times.find("</svg>").unwrap()];
    assert!(times.contains("06:00 UTC: 2025-01-01 0"), "{times}");
    // nothing from the network
    for external in ["http://", "https://", "src=", "@import", "url(", "<link"] {
        assert!(!html.contains(external), "the page refers to {external}");
    }
}

#[test]
fn report_arguments_are_checked() {
    let s = Sandbox::new(Engine::DuckDb);
    let run = s.project.assay(&["report", "--since", "soon"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--since"), "{}", run.stderr);
    let run = s.project.assay(&["report", "db/[x]"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    // no history yet: a page that says so
    let run = s.project.assay(&["report"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // the page's default place is assay's own folder, which git ignores
    let html = std::fs::read_to_string(s.project.path().join(".assay/report.html")).unwrap();
    assert!(html.contains("no scans recorded yet"));
    assert!(
        run.stdout.starts_with("wrote .assay/report.html"),
        "{}",
        run.stdout
    );
    let ignore = std::fs::read_to_string(s.project.path().join(".assay/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
    assert!(!s.project.path().join("report.html").exists());
}

/// Headless Chromium, driven over the DevTools protocol on a loopback WebSocket.
pub(crate) mod browser {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use serde_json::{json, Value};
    use tokio_tungstenite::tungstenite::Message;

    type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    pub struct Browser {
        child: Child,
        _profile: tempfile::TempDir,
        ws: Ws,
        next_id: u64,
        /// errors the page raised: exceptions, console errors, log errors
        pub errors: Vec<String>,
        /// requests for anything but the page's own file
        pub requests: Vec<String>,
    }

    impl Drop for Browser {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Browser {
        pub async fn start() -> Browser {
            let profile = tempfile::tempdir().unwrap();
            let binary = std::env::var("ASSAY_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into());
            let mut child = Command::new(&binary)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .arg("about:blank")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("{binary} does not start ({e}): scripts/test installs Debian's chromium")
                });
            // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
            let stderr = child.stderr.take().unwrap();
            let port = std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                        return rest.split('/').next().map(str::to_string);
                    }
                }
                None
            })
            .join()
            .unwrap()
            .expect("Chromium did not say where DevTools listen");
            let list: Value = serde_json::from_str(
                &reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap(),
            )
            .unwrap();
            let page = list
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["type"] == "page")
                .expect("a page target");
            let (ws, _) =
                tokio_tungstenite::connect_async(page["webSocketDebuggerUrl"].as_str().unwrap())
                    .await
                    .unwrap();
            let mut b = Browser {
                child,
                _profile: profile,
                ws,
                next_id: 0,
                errors: Vec::new(),
                requests: Vec::new(),
            };
            for domain in ["Runtime", "Log", "Page", "Network"] {
                b.call(&format!("{domain}.enable"), json!({})).await;
            }
            b
        }

        fn note(&mut self, event: &Value) {
            let p = &event["params"];
            match event["method"].as_str().unwrap_or("") {
                "Runtime.exceptionThrown" => self.errors.push(p["exceptionDetails"].to_string()),
                "Runtime.consoleAPICalled" if p["type"] == "error" => {
                    self.errors.push(p["args"].to_string())
                }
                "Log.entryAdded" if p["entry"]["level"] == "error" => {
                    self.errors.push(p["entry"].to_string())
                }
                "Network.requestWillBeSent" => {
                    let url = p["request"]["url"].as_str().unwrap_or("").to_string();
                    if !url.starts_with("file:")
                        && !url.starts_with("data:")
                        && url != "about:blank"
                    {
                        self.requests.push(url);
                    }
                }
                _ => {}
            }
        }

        async fn read(&mut self) -> Value {
            let m = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .expect("Chromium answers within 30 s")
                .expect("the DevTools socket is open")
                .unwrap();
            match m {
                Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
                _ => Value::Null,
            }
        }

        /// Send a command and wait for its answer, noting the events on the way.
        pub async fn call(&mut self, method: &str, params: Value) -> Value {
            self.next_id += 1;
            let id = self.next_id;
            self.ws
                .send(Message::Text(
                    json!({"id": id, "method": method, "params": params})
                        .to_string()
                        .into(),
                ))
                .await
                .unwrap();
            loop {
                let v = self.read().await;
                if v["id"] == id {
                    assert!(v["error"].is_null(), "{method}: {v}");
                    return v["result"].clone();
                }
                self.note(&v);
            }
        }

        /// Load a page and wait for its load event.
        pub async fn open(&mut self, url: &str) {
            self.call("Page.navigate", json!({"url": url})).await;
            loop {
                let v = self.read().await;
                if v["method"] == "Page.loadEventFired" {
                    return;
                }
                self.note(&v);
            }
        }

        pub async fn eval(&mut self, expression: &str) -> Value {
            let r = self
                .call(
                    "Runtime.evaluate",
                    json!({"expression": expression, "returnByValue": true}),
                )
                .await;
            assert!(r["exceptionDetails"].is_null(), "{expression}: {r}");
            r["result"]["value"].clone()
        }

        pub async fn size(&mut self, width: u32, height: u32, mobile: bool) {
            self.call(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
            )
            .await;
        }

        pub async fn scheme(&mut self, value: &str) {
            self.call(
                "Emulation.setEmulatedMedia",
                json!({"features": [{"name": "prefers-color-scheme", "value": value}]}),
            )
            .await;
        }

        pub async fn key(&mut self, key: &str, code: u32) {
            for kind in ["keyDown", "keyUp"] {
                self.call(
                    "Input.dispatchKeyEvent",
                    json!({"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code}),
                )
                .await;
            }
        }

        pub async fn screenshot(&mut self) -> Vec<u8> {
            use base64::Engine as _;
            let r = self
                .call("Page.captureScreenshot", json!({"format": "png"}))
                .await;
            base64::engine::general_purpose::STANDARD
                .decode(r["data"].as_str().unwrap())
                .unwrap()
        }
    }
}

/// The page in a real browser: it loads from disk with no console error and no request
/// beyond its own file, sorts by a header, is reachable by keyboard, fits a phone's
/// width, turns dark with the system, and looks as the README's screenshot shows
/// (`ASSAY_WRITE_SCREENSHOT=1` writes docs/report.png from this test).
#[test]
fn the_report_works_in_headless_chromium() {
    let s = history();
    let run = s.project.assay(&["report", "--since", "100000d"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let page = s.project.path().join(".assay/report.html");
    let url = format!("file://{}", page.display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut b = browser::Browser::start().await;
            b.size(1280, 1400, false).await;
            b.open(&url).await;
            // every series is there: as a chart, or as text when one value throughout
            let charts = b.eval("document.querySelectorAll('svg.chart').length").await;
            let flat = b
                .eval("(document.body.textContent.match(/ throughout/g) || []).length")
                .await;
            assert!(charts.as_u64().unwrap() >= 5, "{charts}");
            assert!(charts.as_u64().unwrap() + flat.as_u64().unwrap() >= 10, "{charts} {flat}");
            // every chart has a title and a text alternative
            let untitled = b
                .eval("Array.from(document.querySelectorAll('svg.chart')).filter(s => !s.querySelector('title') || !s.querySelector('desc')).length")
                .await;
            assert_eq!(untitled, 0);
            // failing first; sorting by the dataset header puts the names in order
            let first = b.eval("document.querySelector('tbody tr td').textContent").await;
            assert_eq!(first, "db/main/orders", "failing first? the latest outcome of orders is pass, items has no checks");
            b.eval("document.querySelector('th button').click()").await;
            let names = b
                .eval("Array.from(document.querySelectorAll('table.sortable tbody tr')).map(r => r.cells[0].textContent).join(',')")
                .await;
            assert_eq!(names, "db/main/items,db/main/orders");
            // the keyboard reaches the first link, then the sort buttons
            b.eval("document.activeElement.blur()").await;
            b.key("Tab", 9).await;
            let focused = b.eval("document.activeElement.tagName + ':' + document.activeElement.textContent").await;
            assert!(
                focused.as_str().unwrap().starts_with("BUTTON:") || focused.as_str().unwrap().starts_with("A:"),
                "{focused}"
            );
            let light = b.screenshot().await;
            assert_eq!(&light[..8], b"\x89PNG\r\n\x1a\n");
            assert!(light.len() > 20_000, "a blank screenshot? {} bytes", light.len());
            let background = b.eval("getComputedStyle(document.body).backgroundColor").await;
            assert_eq!(background, "rgb(255, 255, 255)");
            b.scheme("dark").await;
            let background = b.eval("getComputedStyle(document.body).backgroundColor").await;
            assert_eq!(background, "rgb(15, 19, 25)");
            let dark = b.screenshot().await;
            // a phone: nothing wider than the screen but the tables' own scrolling boxes
            b.scheme("light").await;
            b.size(390, 844, true).await;
            b.open(&url).await;
            let overflow = b
                .eval("document.documentElement.scrollWidth - document.documentElement.clientWidth")
                .await;
            assert_eq!(overflow, 0, "the page is wider than a phone");
            let phone = b.screenshot().await;
            b.scheme("dark").await;
            let phone_dark = b.screenshot().await;
            assert!(b.errors.is_empty(), "the page raised errors: {:?}", b.errors);
            assert!(b.requests.is_empty(), "the page asked for {:?}", b.requests);
            // the listener hears errors: a control
            b.eval("console.error('assay-control')").await;
            b.eval("1").await;
            assert!(
                b.errors.iter().any(|e| e.contains("assay-control")),
                "the error listener heard nothing"
            );
            let out = s.project.path();
            std::fs::write(out.join("light.png"), &light).unwrap();
            std::fs::write(out.join("dark.png"), &dark).unwrap();
            std::fs::write(out.join("phone.png"), &phone).unwrap();
            if std::env::var_os("ASSAY_WRITE_SCREENSHOT").is_some() {
                let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
                std::fs::write(docs.join("report.png"), &light).unwrap();
                std::fs::write(docs.join("report-phone-dark.png"), &phone_dark).unwrap();
            }
        });
}

/// `-o html=PATH` of verify and scan: the run's page, with the history around it.
#[test]
fn verify_and_scan_write_the_page_of_their_run() {
    let s = history();
    // verify: the run's checks are the latest; the history's series are there too
    s.project.write(
        "contracts/orders.yml",
        "dataset: db/main/orders\nchecks:\n  - row_count: {threshold: {must_be_greater_than: 1000}}\n",
    );
    let run = s.project.assay(&[
        "verify",
        "contracts/orders.yml",
        "--now",
        "2025-01-10T12:00:00Z",
        "-q",
        "-o",
        "html=verify.html",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let html = std::fs::read_to_string(s.project.path().join("verify.html")).unwrap();
    let row = &html[html.find(">db/main/orders</a>").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("</svg> fail</td>"),
        "the run's failure is not the latest: {row}"
    );
    assert!(
        html.contains("&gt; 1000"),
        "the run's threshold is not shown"
    );
    assert!(
        html.contains(">row count</figcaption>"),
        "the history's series are missing"
    );
    // scan: recorded and drawn at once
    let run = s.project.assay(&[
        "scan",
        "--now",
        "2025-01-11T06:00:00Z",
        "-q",
        "-o",
        "html=scan.html",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let html = std::fs::read_to_string(s.project.path().join("scan.html")).unwrap();
    assert!(
        html.contains("2025-01-11 06:00 UTC: fail"),
        "the scan is not in the strip"
    );
    assert_eq!(
        html.matches("2025-01-11 06:00 UTC: fail").count(),
        1,
        "the scan is there twice"
    );
    // without a history, the run alone, on stdout
    let fresh = Sandbox::new(Engine::DuckDb);
    fresh.run(&["CREATE TABLE t AS SELECT 1 AS id".into()]);
    fresh.project.write(
        "c.yml",
        "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be: 1}}\n",
    );
    let run = fresh.project.assay(&["verify", "c.yml", "-o", "html"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("<!DOCTYPE html>"));
    assert!(run.stdout.contains(">db/main/t</a>"));
}

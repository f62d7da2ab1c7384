//! `assay serve` handing runs to agents: the project (uploaded or watched, never with a
//! literal secret), runs asked for with `assay run --server` and on schedules, claims
//! with leases renewed by heartbeats and requeued when they lapse, completions recorded
//! once per attempt. The agents here are clients written from docs/agent-api.md alone,
//! over real sockets, against the server as a process on DuckDB, PostgreSQL and MySQL
//! stores.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::engines::{admin, admin_number, mysql_url, postgres_url, unique, Engine};
use crate::common::Project;
use crate::serve::{duckdb_text, get_json, openapi, rt, token, Served};

const SECRET: &str = "hunter2-literal-secret";

const CONFIG: &str = "data_sources:
  - name: warehouse
    type: postgres
    connection:
      host: db.internal
      user: ${env.PG_USER}
      password: ${env.PG_PASSWORD}
diagnostics:
  data_source: warehouse
";

const CONTRACT: &str = "dataset: warehouse/public/orders\nchecks:\n  - row_count:\n";

/// An agent as docs/agent-api.md describes it.
#[derive(Clone)]
struct Agent {
    url: String,
    token: String,
    id: String,
}

impl Agent {
    fn new(url: &str, token: &str, id: &str) -> Agent {
        Agent {
            url: url.to_string(),
            token: token.to_string(),
            id: id.to_string(),
        }
    }

    fn me(&self) -> Value {
        json!({"id": self.id, "version": "test-1", "host": "loopback"})
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send(
            reqwest::Method::POST,
            format!("{}{path}", self.url),
            &self.token,
            body,
        )
        .await
    }

    async fn claim(&self, max: usize, wait: u64) -> Vec<Value> {
        let (status, body) = self
            .post(
                "/api/v1/agent/claim",
                json!({"agent": self.me(), "max": max, "wait_seconds": wait}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["instructions"].as_array().unwrap().clone()
    }

    async fn heartbeat(&self, jobs: &[(&str, i64, &str)]) -> Vec<Value> {
        let jobs: Vec<Value> = jobs
            .iter()
            .map(|(id, attempt, state)| json!({"id": id, "attempt": attempt, "state": state}))
            .collect();
        let (status, body) = self
            .post(
                "/api/v1/agent/heartbeat",
                json!({"agent": self.me(), "jobs": jobs}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["jobs"].as_array().unwrap().clone()
    }

    async fn complete(&self, id: &str, attempt: i64, exit_code: i64) -> (u16, Value) {
        self.post(
            "/api/v1/agent/complete",
            json!({"agent": self.me(), "id": id, "attempt": attempt, "state": "done",
                   "exit_code": exit_code, "verdict": if exit_code == 0 { "pass" } else { "fail" },
                   "summary": {"checks": 1, "pass": 1 - exit_code.min(1), "warn": 0,
                               "fail": exit_code.min(1), "not_evaluated": 0},
                   "output": "1 check"}),
        )
        .await
    }
}

fn project_files(config: &str) -> Value {
    json!({"files": {"assay.yml": config, "contracts/orders.yml": CONTRACT,
                     "contracts/customers.yml": "dataset: warehouse/public/customers\n"}})
}

/// A JSON request with a token, as docs/server-api.md describes them: the status and
/// the answer's JSON (null when it is none).
pub(crate) async fn send(
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn put(url: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    send(reqwest::Method::PUT, format!("{url}{path}"), token, body).await
}

async fn post_run(url: &str, token: &str, body: Value) -> (u16, Value) {
    send(
        reqwest::Method::POST,
        format!("{url}/api/v1/runs"),
        token,
        body,
    )
    .await
}

fn valid(validator: &assay::serve::schema::Validator, schema: &str, body: &Value) {
    let problems = validator.problems_against(&format!("#/components/schemas/{schema}"), body);
    assert!(problems.is_empty(), "{schema}: {problems:?}\n{body:#}");
}

/// `assay run --server` with the run token from the environment.
fn assay_run(dir: &Path, token: &str, args: &[&str]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("assay"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("ASSAY_SERVER_TOKEN", token)
        .arg("run")
        .args(args);
    c
}

/// The project's assay.yml may hold secrets only as `${env.X}`: a literal one is refused
/// with its place (never its value) whether uploaded or in a watched folder, and the
/// last good project stays in service.
#[test]
fn a_project_with_a_literal_secret_is_refused_when_loaded() {
    let server = Project::empty();
    let admin_token = token(server.path(), "ops", "admin", &[]);
    let read = token(server.path(), "dash", "read", &[]);
    let run = token(server.path(), "ci", "run", &[]);
    let served = Served::start(server.path(), &["--listen", "127.0.0.1:0"]);
    let url = served.url.clone();
    let (_, validator) = openapi();
    rt().block_on(async {
        let (status, none) = get_json(url.clone(), "/api/v1/project".into(), read.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(none["revision"], Value::Null);
        let (status, body) =
            post_run(&url, &run, json!({"contracts": ["contracts/orders.yml"]})).await;
        assert_eq!(status, 409, "no project yet: {body}");
        // good, then refused variants: the good one stays
        let (status, loaded) =
            put(&url, "/api/v1/project", &admin_token, project_files(CONFIG)).await;
        assert_eq!(status, 200, "{loaded}");
        let revision = loaded["revision"].as_str().unwrap().to_string();
        for bad in [
            CONFIG.replace("${env.PG_PASSWORD}", SECRET),
            CONFIG.replace(
                "host: db.internal",
                &format!("url: postgres://u:{SECRET}@db/x"),
            ),
            format!("{CONFIG}cloud:\n  endpoint: https://x\n  token: {SECRET}\n"),
            format!("{CONFIG}notify:\n  slack:\n    webhook: https://hooks.example/{SECRET}\n"),
        ] {
            let (status, refused) =
                put(&url, "/api/v1/project", &admin_token, project_files(&bad)).await;
            assert_eq!(status, 422, "{bad}: {refused}");
            let text = refused.to_string();
            assert!(text.contains("assay.yml:"), "{text}");
            assert!(text.contains("${env.NAME}"), "the hint: {text}");
            assert!(!text.contains(SECRET), "{text}");
        }
        let (_, project) = get_json(url.clone(), "/api/v1/project".into(), read.clone()).await;
        assert_eq!(project["revision"], revision.as_str(), "{project}");
        assert_eq!(project["placeholders"], json!(["PG_PASSWORD", "PG_USER"]));
        valid(&validator, "Project", &project);
        // a path outside the project, and scopes
        let escape = json!({"files": {"../outside.yml": "a: 1"}});
        assert_eq!(
            put(&url, "/api/v1/project", &admin_token, escape).await.0,
            422
        );
        assert_eq!(
            put(&url, "/api/v1/project", &read, project_files(CONFIG))
                .await
                .0,
            403
        );
        assert_eq!(
            put(&url, "/api/v1/project", &run, project_files(CONFIG))
                .await
                .0,
            403
        );
    });
    let logs = served.logs();
    assert!(!logs.contains(SECRET), "{logs}");
    drop(served);
    assert!(
        !std::fs::read_to_string(server.path().join(".assay/server/project.json"))
            .unwrap()
            .contains(SECRET)
    );

    // a watched folder: refused as loaded, then served once fixed
    let checkout = Project::empty();
    checkout.write("assay.yml", &CONFIG.replace("${env.PG_PASSWORD}", SECRET));
    checkout.write("contracts/orders.yml", CONTRACT);
    // the server's own folder is not the checkout: its assay.yml names its store
    let server = Project::empty();
    let read = token(server.path(), "dash", "read", &[]);
    let dir = checkout.path().to_str().unwrap().to_string();
    let served = Served::start(
        server.path(),
        &["--listen", "127.0.0.1:0", "--project", &dir],
    );
    rt().block_on(async {
        let (_, project) =
            get_json(served.url.clone(), "/api/v1/project".into(), read.clone()).await;
        assert_eq!(project["revision"], Value::Null, "{project}");
        assert_eq!(project["source"], "watched");
        let refused = project["refused"].to_string();
        assert!(
            refused.contains("assay.yml:7:17") && refused.contains("password"),
            "{refused}"
        );
        assert!(!refused.contains(SECRET));
        checkout.write("assay.yml", CONFIG);
        let (_, project) =
            get_json(served.url.clone(), "/api/v1/project".into(), read.clone()).await;
        assert!(project["revision"].is_string(), "{project}");
        assert_eq!(
            project["files"],
            json!(["assay.yml", "contracts/orders.yml"])
        );
    });
    assert!(!served.logs().contains(SECRET));
}

/// A run asked for with `assay run --server` goes to one agent with a lease; heartbeats
/// renew it; when they stop, the run goes back to the queue and another agent takes it
/// as attempt 2; the first agent's late completion is refused; the second's is recorded
/// once. `assay run --wait` exits as the job did. Queued runs survive kill -9.
#[test]
fn runs_are_handed_out_once_with_leases_that_heartbeats_renew() {
    let server = Project::empty();
    let admin_token = token(server.path(), "ops", "admin", &[]);
    let read = token(server.path(), "dash", "read", &[]);
    let run = token(server.path(), "ci", "run", &[]);
    let agent_token = token(server.path(), "agents", "agent", &[]);
    let served = Served::start(server.path(), &["--listen", "127.0.0.1:0", "--lease", "5s"]);
    let url = served.url.clone();
    let (_, validator) = openapi();
    rt().block_on(async {
        assert_eq!(
            put(&url, "/api/v1/project", &admin_token, project_files(CONFIG))
                .await
                .0,
            200
        );
    });
    let out = assay_run(
        server.path(),
        &run,
        &[
            "--server",
            &url,
            "contracts/orders.yml",
            "--set",
            "region=eu",
            "--timeout",
            "5m",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(id.len(), 36, "{id}");
    // a contract the project lacks is bad input
    let missing = assay_run(
        server.path(),
        &run,
        &["--server", &url, "contracts/nope.yml"],
    )
    .output()
    .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("contracts/nope.yml"));
    let a = Agent::new(&url, &agent_token, "agent-a");
    let b = Agent::new(&url, &agent_token, "agent-b");
    rt().block_on(async {
        let got = a.claim(4, 5).await;
        assert_eq!(got.len(), 1, "{got:?}");
        let i = &got[0];
        assert_eq!(i["id"], id.as_str());
        assert_eq!(i["attempt"], 1);
        assert_eq!(i["lease_seconds"], 5);
        assert_eq!(i["timeout_seconds"], 300);
        assert_eq!(i["variables"], json!({"region": "eu"}));
        assert_eq!(
            i["contracts"],
            json!([{"path": "contracts/orders.yml", "text": CONTRACT}])
        );
        assert_eq!(i["config"]["text"], CONFIG);
        assert_eq!(i["placeholders"], json!(["PG_PASSWORD", "PG_USER"]));
        assert!(i["now"].is_string());
        // nobody else gets it
        assert!(b.claim(4, 1).await.is_empty());
        let kept = a.heartbeat(&[(&id, 1, "running")]).await;
        assert_eq!(kept[0]["keep"], true, "{kept:?}");
        let (_, agents) = get_json(url.clone(), "/api/v1/agents".into(), read.clone()).await;
        valid(&validator, "Agents", &agents);
        let mine = agents["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == "agent-a")
            .unwrap();
        assert_eq!(mine["running_jobs"][0]["id"], id.as_str(), "{agents:#}");
        assert_eq!(mine["running_jobs"][0]["state"], "running");
        assert_eq!(mine["host"], "loopback");
        // a's heartbeats stop: the lease lapses and the run goes back to the queue
        let started = Instant::now();
        let got = loop {
            let got = b.claim(1, 5).await;
            if !got.is_empty() || started.elapsed() > Duration::from_secs(30) {
                break got;
            }
        };
        assert_eq!(got.len(), 1, "requeued within the lease and a tick");
        assert_eq!(got[0]["attempt"], 2);
        assert!(started.elapsed() < Duration::from_secs(15));
        let lost = a.heartbeat(&[(&id, 1, "running")]).await;
        assert_eq!(lost[0]["keep"], false);
        assert_eq!(
            a.complete(&id, 1, 0).await.0,
            409,
            "a lapsed attempt's result"
        );
        let (status, body) = b.complete(&id, 2, 1).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("recorded")),
            "{body}"
        );
        let (status, body) = b.complete(&id, 2, 1).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("already recorded"))
        );
        let (_, detail) = get_json(url.clone(), format!("/api/v1/runs/{id}"), run.clone()).await;
        valid(&validator, "RunDetail", &detail);
        assert_eq!(detail["state"], "done");
        assert_eq!(detail["agent_id"], "agent-b");
        assert_eq!(detail["outcome"]["exit_code"], 1);
        let phases: Vec<(i64, String, String)> = detail["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["attempt"].as_i64().unwrap(),
                    e["phase"].as_str().unwrap().into(),
                    e["state"].as_str().unwrap().into(),
                )
            })
            .collect();
        let expected: Vec<(i64, String, String)> = [
            (1, "claim", "claimed"),
            (1, "end", "expired"),
            (2, "claim", "claimed"),
            (2, "end", "done"),
        ]
        .iter()
        .map(|(a, p, s)| (*a, p.to_string(), s.to_string()))
        .collect();
        assert_eq!(phases, expected);
        let (_, runs) = get_json(url.clone(), "/api/v1/runs?state=done".into(), read.clone()).await;
        valid(&validator, "Runs", &runs);
        assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
        // scopes: each token does its part only
        assert_eq!(
            post_run(
                &url,
                &agent_token,
                json!({"contracts": ["contracts/orders.yml"]})
            )
            .await
            .0,
            403
        );
        assert_eq!(
            post_run(&url, &read, json!({"contracts": ["contracts/orders.yml"]}))
                .await
                .0,
            403
        );
        let as_run = Agent::new(&url, &run, "x");
        assert_eq!(
            as_run
                .post("/api/v1/agent/claim", json!({"agent": as_run.me()}))
                .await
                .0,
            403
        );
        assert_eq!(
            get_json(url.clone(), "/api/v1/agents".into(), agent_token.clone())
                .await
                .0,
            403
        );
    });
    // --wait follows a run to its end and exits as the job did
    let waiting = assay_run(
        server.path(),
        &run,
        &["--server", &url, "contracts/customers.yml", "--wait"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    rt().block_on(async {
        let got = b.claim(1, 20).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["contracts"][0]["path"], "contracts/customers.yml");
        let id = got[0]["id"].as_str().unwrap();
        assert_eq!(b.complete(id, 1, 1).await.0, 200);
    });
    let waited = waiting.wait_with_output().unwrap();
    assert_eq!(
        waited.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    // a queued run survives kill -9 of the server
    let (status, queued) = rt().block_on(post_run(
        &url,
        &run,
        json!({"contracts": ["contracts/orders.yml"]}),
    ));
    assert_eq!(status, 201, "{queued}");
    let listen = url.trim_start_matches("http://").to_string();
    let mut served = served;
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    drop(served);
    let served = Served::start(server.path(), &["--listen", &listen, "--lease", "5s"]);
    rt().block_on(async {
        let got = a.claim(4, 5).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["id"], queued["id"]);
    });
    // the agents' page escapes what agents call themselves
    let marked = Agent::new(&served.url, &agent_token, "<b>agent</b>");
    rt().block_on(async {
        marked.heartbeat(&[]).await;
        let page = reqwest::Client::new()
            .get(format!("{}/runs", served.url))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("&lt;b&gt;agent&lt;/b&gt;"), "{page}");
        assert!(!page.contains("<b>agent</b>"));
        assert!(page.contains(queued["id"].as_str().unwrap()));
    });
    drop(served);
    let store = duckdb_text(&server.path().join(".assay/history.duckdb"));
    assert!(!store.contains(&agent_token) && !store.contains(&run));
}

/// A schedule due every minute queues one run per minute, with the minute as its now,
/// and a server killed and started again neither repeats nor skips the minute.
#[test]
fn a_schedule_queues_one_run_each_time_it_is_due_across_a_restart() {
    let checkout = Project::empty();
    checkout.write(
        "assay.yml",
        &format!("{CONFIG}schedules:\n  - name: every-minute\n    cron: '* * * * *'\n    contracts: [contracts/orders.yml]\n    timeout: 2m\n"),
    );
    checkout.write("contracts/orders.yml", CONTRACT);
    let server = Project::empty();
    let read = token(server.path(), "dash", "read", &[]);
    let agent_token = token(server.path(), "agents", "agent", &[]);
    let dir = checkout.path().to_str().unwrap().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let args = ["--listen", listen.as_str(), "--project", dir.as_str()];
    let served = Served::start(server.path(), &args);
    let url = served.url.clone();
    let started = Instant::now();
    let first = loop {
        let (_, runs) = rt().block_on(get_json(url.clone(), "/api/v1/runs".into(), read.clone()));
        let list = runs["runs"].as_array().cloned().unwrap_or_default();
        if !list.is_empty() {
            break list;
        }
        assert!(
            started.elapsed() < Duration::from_secs(75),
            "no run in 75 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["origin"], "schedule:every-minute");
    let mut served = served;
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    drop(served);
    let served = Served::start(server.path(), &args);
    std::thread::sleep(Duration::from_secs(3));
    let agent = Agent::new(&url, &agent_token, "agent-s");
    let claimed = rt().block_on(agent.claim(64, 1));
    drop(served);
    let elapsed_minutes = started.elapsed().as_secs() / 60 + 1;
    let nows: Vec<&str> = claimed.iter().map(|i| i["now"].as_str().unwrap()).collect();
    let distinct: std::collections::BTreeSet<&str> = nows.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        nows.len(),
        "a minute queued twice: {nows:?}"
    );
    assert!(
        !nows.is_empty() && nows.len() as u64 <= elapsed_minutes,
        "{nows:?}"
    );
    for now in &nows {
        assert!(now.ends_with(":00.000Z"), "{now}");
    }
    assert_eq!(claimed[0]["timeout_seconds"], 120);
}

/// Four agents drain 100 runs on a PostgreSQL and on a MySQL store: each completed
/// once, each claimed once (the store's own count of claims and ends).
#[test]
fn four_agents_drain_runs_exactly_once_on_server_stores() {
    for (engine, url_of) in [
        (Engine::Postgres, postgres_url()),
        (Engine::MySql, mysql_url()),
    ] {
        let schema = unique("assay_runs");
        let server = Project::empty();
        let kind = if engine == Engine::Postgres {
            "postgres"
        } else {
            "mysql"
        };
        server.write(
            "assay.yml",
            &format!(
                "data_sources:\n  - name: hub\n    type: {kind}\n    connection: {{connection_string: '{url_of}'}}\nhistory: {{data_source: hub, schema: {schema}}}\n"
            ),
        );
        let admin_token = token(server.path(), "ops", "admin", &[]);
        let agent_token = token(server.path(), "agents", "agent", &[]);
        let served = Served::start(server.path(), &["--listen", "127.0.0.1:0"]);
        let url = served.url.clone();
        const RUNS: usize = 100;
        let ids: Vec<String> = rt().block_on(async {
            let started = Instant::now();
            while put(&url, "/api/v1/project", &admin_token, project_files(CONFIG))
                .await
                .0
                != 200
            {
                assert!(started.elapsed() < Duration::from_secs(20));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let mut ids = Vec::new();
            for _ in 0..RUNS {
                let (status, body) = post_run(
                    &url,
                    &admin_token,
                    json!({"contracts": ["contracts/orders.yml"]}),
                )
                .await;
                assert_eq!(status, 201, "{body}");
                ids.push(body["id"].as_str().unwrap().to_string());
            }
            ids
        });
        let done = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<String, usize>::new()));
        let workers: Vec<_> = (0..4)
            .map(|n| {
                let agent = Agent::new(&url, &agent_token, &format!("agent-{n}"));
                let done = done.clone();
                std::thread::spawn(move || {
                    rt().block_on(async {
                        loop {
                            let got = agent.claim(4, 1).await;
                            if got.is_empty() {
                                break;
                            }
                            for i in got {
                                let id = i["id"].as_str().unwrap().to_string();
                                let attempt = i["attempt"].as_i64().unwrap();
                                let (status, _) = agent.complete(&id, attempt, 0).await;
                                assert_eq!(status, 200);
                                *done.lock().unwrap().entry(id).or_default() += 1;
                            }
                        }
                    })
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let done = done.lock().unwrap().clone();
        assert_eq!(done.len(), RUNS, "{kind}");
        assert!(done.values().all(|n| *n == 1), "{kind}: {done:?}");
        let expected: BTreeMap<&String, usize> = ids.iter().map(|i| (i, 1)).collect();
        let got: BTreeMap<&String, usize> = done.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(got, expected);
        let q = |t: &str| {
            if engine == Engine::Postgres {
                format!("\"{schema}\".{t}")
            } else {
                format!("`{schema}`.{t}")
            }
        };
        let claims = admin_number(
            engine,
            &format!(
                "SELECT count(*) FROM {} WHERE phase = 'claim'",
                q("assay_instruction_events")
            ),
        );
        let ends = admin_number(
            engine,
            &format!(
                "SELECT count(*) FROM {} WHERE phase = 'end' AND state = 'done'",
                q("assay_instruction_events")
            ),
        );
        assert_eq!((claims, ends), (RUNS as i64, RUNS as i64), "{kind}");
        drop(served);
        let drop_sql = if engine == Engine::Postgres {
            format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")
        } else {
            format!("DROP DATABASE IF EXISTS `{schema}`")
        };
        admin(engine, &[drop_sql]).unwrap();
    }
}

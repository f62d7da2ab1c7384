//! `assay agent` against `assay serve` (both as processes on loopback, a PostgreSQL
//! store), with PostgreSQL and MySQL data sources: runs done once each by two agents,
//! an agent killed mid-job, a server restarted mid-run, refused instructions from a
//! hostile server, limits, and secrets and rows kept out of the server.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::engines::{
    admin, admin_number, mysql_url, postgres_url, unique, Engine, Sandbox,
};
use crate::common::Project;
use crate::serve::{get_json, rt, token, Served};
use crate::serve_runs::send;

/// The password the agents give PostgreSQL jobs (the server trusts loopback, so any
/// password logs in): it must never reach the server, its store or a log.
const PG_SECRET: &str = "pg-secret-zanzibar-9";
const ROW_VALUE: &str = "row-value-quokka-17";

/// A running `assay agent`, killed when dropped.
struct AgentProc {
    child: Child,
    logs: Arc<Mutex<String>>,
}

impl AgentProc {
    fn start(
        dir: &Path,
        url: &str,
        token: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> AgentProc {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("assay"))
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env("ASSAY_AGENT_TOKEN", token)
            .envs(env.iter().copied())
            .args(["agent", "-v", "--server", url])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.starts_with("agent "), "{first}");
        let logs = Arc::new(Mutex::new(String::new()));
        let sink = logs.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(l + "\n"));
            }
        });
        AgentProc { child, logs }
    }

    fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PostgreSQL's URL with the agents' password in it.
fn pg_url_with_secret() -> String {
    let url = postgres_url();
    match url.split_once("://") {
        Some((scheme, rest))
            if !rest.split('@').next().unwrap_or("").contains(':') && rest.contains('@') =>
        {
            let (user, host) = rest.split_once('@').unwrap();
            format!("{scheme}://{user}:{PG_SECRET}@{host}")
        }
        _ => url,
    }
}

/// The project the server hands out: two data sources whose URLs are placeholders, the
/// failing rows kept in the PostgreSQL sandbox (inside the network).
fn project(pg: &Sandbox, contracts: &[(&str, &str)]) -> Value {
    let config = format!(
        "data_sources:\n  - name: pg\n    type: postgres\n    connection:\n      connection_string: ${{env.PG_URL}}\n  - name: my\n    type: mysql\n    connection:\n      connection_string: ${{env.MY_URL}}\ndiagnostics:\n  data_source: pg\n  schema: {}\n",
        pg.schema
    );
    let mut files = serde_json::Map::new();
    files.insert("assay.yml".into(), json!(config));
    for (path, text) in contracts {
        files.insert(path.to_string(), json!(text));
    }
    json!({"files": files})
}

fn table(s: &Sandbox) {
    s.run(&[
        format!(
            "CREATE TABLE {} (id INTEGER, name VARCHAR(100))",
            s.qualified("t")
        ),
        format!(
            "INSERT INTO {} VALUES (1, '{ROW_VALUE}'), (2, NULL), (3, 'x')",
            s.qualified("t")
        ),
    ]);
}

fn contract(data_source: &str, schema: &str, table: &str) -> String {
    format!("dataset: {data_source}/{schema}/{table}\ncolumns:\n  - name: name\n    checks:\n      - missing:\nchecks:\n  - row_count:\n")
}

/// A server on a PostgreSQL store in a folder of its own; its tokens.
struct Hub {
    dir: Project,
    schema: String,
    admin: String,
    agent: String,
    read: String,
}

impl Hub {
    fn new() -> Hub {
        let schema = unique("assay_agents");
        let dir = Project::empty();
        dir.write(
            "assay.yml",
            &format!(
                "data_sources:\n  - name: hub\n    type: postgres\n    connection: {{connection_string: '{}'}}\nhistory: {{data_source: hub, schema: {schema}}}\n",
                postgres_url()
            ),
        );
        Hub {
            admin: token(dir.path(), "ops", "admin", &[]),
            agent: token(dir.path(), "agents", "agent,push", &[]),
            read: token(dir.path(), "dash", "read", &[]),
            dir,
            schema,
        }
    }

    /// The project the server hands out, uploaded.
    fn upload(&self, url: &str, files: Value) {
        let (status, body) = rt().block_on(send(
            reqwest::Method::PUT,
            format!("{url}/api/v1/project"),
            &self.admin,
            files,
        ));
        assert_eq!(status, 200, "{body}");
    }

    fn count(&self, sql: &str) -> i64 {
        admin_number(
            Engine::Postgres,
            &sql.replace("$S", &format!("\"{}\"", self.schema)),
        )
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = admin(
            Engine::Postgres,
            &[format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema)],
        );
    }
}

fn agent_env() -> Vec<(&'static str, String)> {
    vec![("PG_URL", pg_url_with_secret()), ("MY_URL", mysql_url())]
}

const ALLOW: [&str; 4] = ["--allow-data-source", "*", "--allow-env", "*_URL"];

/// Runs in a state, polled until there are `n` or the time is up.
fn wait_for_runs(url: &str, token: &str, state: &str, n: usize, within: Duration) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let (_, runs) = rt().block_on(get_json(
            url.to_string(),
            format!("/api/v1/runs?state={state}&limit=10000"),
            token.to_string(),
        ));
        let list = runs["runs"].as_array().cloned().unwrap_or_default();
        if list.len() >= n || started.elapsed() > within {
            return list;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn queue(url: &str, token: &str, contract: &str, n: usize) -> Vec<String> {
    rt().block_on(async {
        let mut ids = Vec::new();
        for _ in 0..n {
            let (status, body) = send(
                reqwest::Method::POST,
                format!("{url}/api/v1/runs"),
                token,
                json!({"contracts": [contract], "timeout": "60s"}),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            ids.push(body["id"].as_str().unwrap().to_string());
        }
        ids
    })
}

/// Two agents, 200 runs on PostgreSQL and MySQL: each done once, its results pushed
/// once, its failing rows in the PostgreSQL diagnostics store; the password the agents
/// hold and the row values nowhere on the server.
#[test]
fn two_agents_run_200_runs_once_each_on_postgres_and_mysql() {
    let (pg, my) = (Sandbox::new(Engine::Postgres), Sandbox::new(Engine::MySql));
    table(&pg);
    table(&my);
    let hub = Hub::new();
    let served = Served::start(hub.dir.path(), &["--listen", "127.0.0.1:0"]);
    let url = served.url.clone();
    let files = project(
        &pg,
        &[
            ("contracts/pg.yml", &contract("pg", &pg.schema, "t")),
            ("contracts/my.yml", &contract("my", &my.schema, "t")),
        ],
    );
    hub.upload(&url, files);
    let mut ids = queue(&url, &hub.admin, "contracts/pg.yml", 100);
    ids.extend(queue(&url, &hub.admin, "contracts/my.yml", 100));
    let env = agent_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let agent_dir = Project::empty();
    let mut args = ALLOW.to_vec();
    args.extend(["--jobs", "4"]);
    let a = AgentProc::start(agent_dir.path(), &url, &hub.agent, &args, &env);
    let b = AgentProc::start(agent_dir.path(), &url, &hub.agent, &args, &env);
    let done = wait_for_runs(&url, &hub.read, "done", 200, Duration::from_secs(300));
    assert_eq!(
        done.len(),
        200,
        "server: {}\nagent a: {}",
        served.logs(),
        a.logs()
    );
    for r in &done {
        assert_eq!(r["attempt"], 1, "{r}");
        assert_eq!(r["outcome"]["exit_code"], 1, "{r}");
        assert_eq!(r["outcome"]["verdict"], "fail", "{r}");
        assert!(ids.contains(&r["id"].as_str().unwrap().to_string()));
    }
    let agents: std::collections::BTreeSet<&str> = done
        .iter()
        .map(|r| r["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(agents.len(), 2, "both agents worked: {agents:?}");
    assert_eq!(hub.count("SELECT count(*) FROM $S.assay_pushed_scans"), 200);
    assert_eq!(
        hub.count("SELECT count(DISTINCT scan_id) FROM $S.assay_pushed_scans"),
        200
    );
    assert_eq!(
        hub.count("SELECT count(*) FROM $S.assay_instruction_events WHERE phase = 'claim'"),
        200
    );
    // failing rows stayed in the network's store
    let captured = admin_number(
        Engine::Postgres,
        &format!("SELECT count(*) FROM \"{}\".assay_failed_rows", pg.schema),
    );
    assert!(captured >= 200, "{captured}");
    // nothing secret or of a row on the server
    for text in [PG_SECRET, ROW_VALUE] {
        for table in [
            "assay_instructions",
            "assay_instruction_events",
            "assay_check_results",
            "assay_pushed_scans",
        ] {
            let n = hub.count(&format!("SELECT count(*) FROM $S.{table} x WHERE CAST(row_to_json(x) AS text) LIKE '%{text}%'"));
            assert_eq!(n, 0, "'{text}' in {table}");
        }
        assert!(
            !served.logs().contains(text),
            "'{text}' in the server's log"
        );
        assert!(
            !a.logs().contains(text) && !b.logs().contains(text),
            "'{text}' in an agent's log"
        );
    }
    for agent in [a, b] {
        common_stop(agent);
    }
}

/// SIGTERM with nothing running: the agent exits 0 at once.
fn common_stop(agent: AgentProc) {
    crate::common::interrupt_term(&agent.child);
    let started = Instant::now();
    let mut agent = agent;
    loop {
        if let Some(status) = agent.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "{}", agent.logs());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the agent did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An agent killed with SIGKILL mid-job: its job dies with it (no query left on the
/// server), the lease lapses and the other agent runs it as attempt 2. Then the server
/// is killed mid-run and started again: the agent that holds a run gets its lease back,
/// finishes, and the result is recorded once.
#[test]
fn a_killed_agent_s_run_goes_to_the_other_and_a_restarted_server_loses_nothing() {
    let pg = Sandbox::new(Engine::Postgres);
    pg.run(&[format!(
        "CREATE VIEW {} AS SELECT 1 AS id, 'x' AS name FROM pg_sleep(6)",
        pg.qualified("slow")
    )]);
    let hub = Hub::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let served = Served::start(hub.dir.path(), &["--listen", &listen, "--lease", "6s"]);
    let url = served.url.clone();
    let files = project(
        &pg,
        &[("contracts/slow.yml", &contract("pg", &pg.schema, "slow"))],
    );
    hub.upload(&url, files);
    let env = agent_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let agent_dir = Project::empty();
    let mut args = ALLOW.to_vec();
    args.extend(["--jobs", "1", "--id", "doomed"]);
    let doomed = AgentProc::start(agent_dir.path(), &url, &hub.agent, &args, &env);
    let id = queue(&url, &hub.admin, "contracts/slow.yml", 1).remove(0);
    let running = wait_for_runs(
        &url,
        &hub.read,
        "claimed,running",
        1,
        Duration::from_secs(20),
    );
    assert_eq!(running[0]["agent_id"], "doomed", "{running:?}");
    std::thread::sleep(Duration::from_secs(1));
    let mut doomed = doomed;
    doomed.child.kill().unwrap();
    doomed.child.wait().unwrap();
    let mut args = ALLOW.to_vec();
    args.extend(["--jobs", "1", "--id", "survivor"]);
    let survivor = AgentProc::start(agent_dir.path(), &url, &hub.agent, &args, &env);
    let done = wait_for_runs(&url, &hub.read, "done", 1, Duration::from_secs(60));
    assert_eq!(done.len(), 1, "{}", survivor.logs());
    assert_eq!(done[0]["id"], id.as_str());
    assert_eq!(done[0]["attempt"], 2);
    assert_eq!(done[0]["agent_id"], "survivor");
    // the killed agent's job did not outlive it: its query is gone from the server
    let sleeping = admin_number(Engine::Postgres, "SELECT count(*)::bigint FROM pg_stat_activity WHERE query LIKE '%slow%' AND query NOT LIKE '%pg_stat_activity%' AND state = 'active'");
    assert_eq!(sleeping, 0);
    // the server killed while the survivor runs another
    let second = queue(&url, &hub.admin, "contracts/slow.yml", 1).remove(0);
    let running = wait_for_runs(&url, &hub.read, "running", 1, Duration::from_secs(20));
    assert_eq!(running[0]["id"], second.as_str());
    let mut served = served;
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    drop(served);
    std::thread::sleep(Duration::from_secs(3));
    let served = Served::start(hub.dir.path(), &["--listen", &listen, "--lease", "6s"]);
    let done = wait_for_runs(&served.url, &hub.read, "done", 2, Duration::from_secs(60));
    assert_eq!(done.len(), 2, "{}\n{}", served.logs(), survivor.logs());
    let again = done.iter().find(|r| r["id"] == second.as_str()).unwrap();
    assert_eq!(again["attempt"], 1, "{again}");
    assert_eq!(hub.count("SELECT count(*) FROM $S.assay_pushed_scans"), 2);
    common_stop(survivor);
}

/// A server that hands out hostile instructions: a literal secret, a path out of the
/// job's folder, a data source the agent does not allow, a placeholder outside
/// --allow-env. Each is refused without running, and the completion says why.
#[test]
fn hostile_instructions_are_refused_without_running() {
    let completions = Arc::new(Mutex::new(Vec::<Value>::new()));
    let pushed = Arc::new(Mutex::new(0usize));
    let config = |ds: &str, url: &str| {
        format!("data_sources:\n  - name: {ds}\n    type: postgres\n    connection:\n      connection_string: {url}\n")
    };
    let contract = "dataset: pg/public/t\nchecks:\n  - row_count:\n";
    let instruction = |n: usize, config: String, path: &str| {
        json!({
            "api_version": 1, "id": format!("hostile-{n}"), "attempt": 1, "lease_seconds": 60,
            "timeout_seconds": 30, "now": "2026-12-01T00:00:00Z",
            "config": {"path": "assay.yml", "text": config},
            "contracts": [{"path": path, "text": contract}], "variables": {}, "placeholders": []
        })
    };
    let hostile = vec![
        instruction(
            1,
            config("pg", "postgres://u:literal-pass-77@127.0.0.1/test"),
            "contracts/a.yml",
        ),
        instruction(2, config("pg", "${env.PG_URL}"), "../../escaped.yml"),
        instruction(3, config("forbidden", "${env.PG_URL}"), "contracts/a.yml"),
        instruction(4, config("pg", "${env.HOME_SECRET}"), "contracts/a.yml"),
    ];
    let handed = Arc::new(Mutex::new(false));
    let app = {
        let (completions, pushed, handed) = (completions.clone(), pushed.clone(), handed.clone());
        axum::Router::new()
            .route(
                "/api/v1/agent/claim",
                axum::routing::post(move || {
                    let handed = handed.clone();
                    let hostile = hostile.clone();
                    async move {
                        let first = !std::mem::replace(&mut *handed.lock().unwrap(), true);
                        axum::Json(
                            json!({"instructions": if first { hostile } else { Vec::new() }}),
                        )
                    }
                }),
            )
            .route(
                "/api/v1/agent/heartbeat",
                axum::routing::post(|| async { axum::Json(json!({"jobs": []})) }),
            )
            .route(
                "/api/v1/agent/complete",
                axum::routing::post(move |body: String| {
                    let completions = completions.clone();
                    async move {
                        completions
                            .lock()
                            .unwrap()
                            .push(serde_json::from_str(&body).unwrap());
                        axum::Json(json!({"status": "recorded"}))
                    }
                }),
            )
            .route(
                "/api/v1/results",
                axum::routing::post(move || {
                    let pushed = pushed.clone();
                    async move {
                        *pushed.lock().unwrap() += 1;
                        axum::http::StatusCode::CREATED
                    }
                }),
            )
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = Project::empty();
    let agent = AgentProc::start(
        dir.path(),
        &url,
        "assay_000000000000_x",
        &["--allow-data-source", "pg", "--allow-env", "PG_*"],
        &[("PG_URL", &postgres_url()), ("HOME_SECRET", "not-for-jobs")],
    );
    let started = Instant::now();
    while completions.lock().unwrap().len() < 4 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let got = completions.lock().unwrap().clone();
    assert_eq!(got.len(), 4, "{got:?}\n{}", agent.logs());
    let of = |n: usize| {
        got.iter()
            .find(|c| c["id"] == format!("hostile-{n}"))
            .unwrap()
            .clone()
    };
    for (n, says) in [
        (1, "literal"),
        (2, "escaped.yml"),
        (3, "--allow-data-source"),
        (4, "--allow-env"),
    ] {
        let c = of(n);
        assert_eq!(c["state"], "failed", "{c}");
        let error = c["error"].as_str().unwrap();
        assert!(error.starts_with("refused"), "{error}");
        assert!(error.contains(says), "{n}: {error}");
        assert!(!error.contains("literal-pass-77"), "{error}");
        assert_eq!(c["agent"]["version"], env!("CARGO_PKG_VERSION"));
    }
    assert_eq!(
        *pushed.lock().unwrap(),
        0,
        "nothing ran, nothing was pushed"
    );
    assert!(!agent.logs().contains("literal-pass-77"));
    drop(agent);
    drop(runtime);
}

/// Limits: a job over its time limit is stopped and its query cancelled on the server;
/// a job over its memory limit ends with that reason. SIGTERM past --grace reports the
/// job interrupted and its run goes back to the queue.
#[test]
fn a_job_over_its_limits_ends_with_the_reason_and_no_query_left_running() {
    let pg = Sandbox::new(Engine::Postgres);
    pg.run(&[format!(
        "CREATE VIEW {} AS SELECT 1 AS id, 'x' AS name FROM pg_sleep(120)",
        pg.qualified("endless")
    )]);
    let hub = Hub::new();
    let served = Served::start(hub.dir.path(), &["--listen", "127.0.0.1:0"]);
    let url = served.url.clone();
    let big = "dataset: pg/public/none\nchecks:\n  - row_count:\n";
    let files = project(
        &pg,
        &[
            (
                "contracts/endless.yml",
                &contract("pg", &pg.schema, "endless"),
            ),
            ("contracts/none.yml", big),
        ],
    );
    hub.upload(&url, files);
    let env = agent_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let agent_dir = Project::empty();
    let mut args = ALLOW.to_vec();
    args.extend(["--jobs", "1", "--grace", "1s"]);
    let agent = AgentProc::start(agent_dir.path(), &url, &hub.agent, &args, &env);
    // over time: --timeout 3s of the run
    let (status, body) = rt().block_on(send(
        reqwest::Method::POST,
        format!("{url}/api/v1/runs"),
        &hub.admin,
        json!({"contracts": ["contracts/endless.yml"], "timeout": "3s"}),
    ));
    assert_eq!(status, 201, "{body}");
    let ended = wait_for_runs(&url, &hub.read, "done,failed", 1, Duration::from_secs(60));
    assert_eq!(ended.len(), 1, "{}", agent.logs());
    let outcome = &ended[0]["outcome"];
    assert_eq!(outcome["exit_code"], 3, "{outcome}");
    assert!(
        outcome["output"]
            .as_str()
            .unwrap_or("")
            .contains("--timeout 3s")
            || outcome["error"].as_str().unwrap_or("").contains("time"),
        "{outcome}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let sleeping = admin_number(Engine::Postgres, "SELECT count(*)::bigint FROM pg_stat_activity WHERE query LIKE '%endless%' AND query NOT LIKE '%pg_stat_activity%' AND state = 'active'");
    assert_eq!(sleeping, 0, "the query was cancelled on the server");
    drop(agent);
    // over memory: a job limited to 64 MiB of address space cannot even start DuckDB
    let mut args = ALLOW.to_vec();
    args.extend(["--jobs", "1", "--memory-limit", "64MiB"]);
    let small = AgentProc::start(agent_dir.path(), &url, &hub.agent, &args, &env);
    queue(&url, &hub.admin, "contracts/none.yml", 1);
    let ended = wait_for_runs(&url, &hub.read, "done,failed", 2, Duration::from_secs(60));
    let last = ended
        .iter()
        .find(|r| {
            r["outcome"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("memory"))
        })
        .cloned();
    assert!(last.is_some(), "{ended:?}\n{}", small.logs());
    drop(small);
    // SIGTERM past --grace: interrupted, back to the queue
    let mut args = ALLOW.to_vec();
    args.extend(["--jobs", "1", "--grace", "1s"]);
    let stopping = AgentProc::start(agent_dir.path(), &url, &hub.agent, &args, &env);
    let id = queue(&url, &hub.admin, "contracts/endless.yml", 1).remove(0);
    let running = wait_for_runs(&url, &hub.read, "running", 1, Duration::from_secs(20));
    assert_eq!(running[0]["id"], id.as_str());
    common_stop(stopping);
    let (_, run) = rt().block_on(get_json(
        url.clone(),
        format!("/api/v1/runs/{id}"),
        hub.read.clone(),
    ));
    assert_eq!(run["state"], "queued", "{run}");
    let states: Vec<&str> = run["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["claimed", "interrupted"], "{run}");
    std::thread::sleep(Duration::from_secs(1));
    let sleeping = admin_number(Engine::Postgres, "SELECT count(*)::bigint FROM pg_stat_activity WHERE query LIKE '%endless%' AND query NOT LIKE '%pg_stat_activity%' AND state = 'active'");
    assert_eq!(sleeping, 0);
}

/// Over TLS with a private CA: an agent that does not trust it takes nothing (and says
/// why); one given the CA with --ca-certificate runs the run, on an embedded store.
#[test]
fn agents_speak_tls_to_a_server_with_a_private_ca() {
    let server = Project::empty();
    let certs = server.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    crate::channels::certificates(&certs);
    let admin_token = token(server.path(), "ops", "admin", &[]);
    let agent_token = token(server.path(), "agents", "agent,push", &[]);
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
    assert!(served.url.starts_with("https://"));
    let data = Project::duckdb("CREATE TABLE t AS SELECT range AS id FROM range(5);");
    let config = format!(
        "data_sources:\n  - name: db\n    type: duckdb\n    connection:\n      database: '{}'\n",
        data.path().join("db.duckdb").display()
    );
    let ca = std::fs::read(certs.join("ca.pem")).unwrap();
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let call = |method: reqwest::Method, path: &str, body: Value| {
        let request = trusting
            .request(method, format!("{}{path}", served.url))
            .bearer_auth(&admin_token)
            .header("content-type", "application/json")
            .body(body.to_string());
        rt().block_on(async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            (
                status,
                serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap_or(Value::Null),
            )
        })
    };
    let files = json!({"files": {"assay.yml": config, "contracts/t.yml": "dataset: db/main/t\nchecks:\n  - row_count:\n"}});
    assert_eq!(call(reqwest::Method::PUT, "/api/v1/project", files).0, 200);
    let (status, queued) = call(
        reqwest::Method::POST,
        "/api/v1/runs",
        json!({"contracts": ["contracts/t.yml"]}),
    );
    assert_eq!(status, 201, "{queued}");
    let agent_dir = Project::empty();
    let untrusting = AgentProc::start(
        agent_dir.path(),
        &served.url,
        &agent_token,
        &["--allow-data-source", "db"],
        &[],
    );
    std::thread::sleep(Duration::from_secs(3));
    let id = queued["id"].as_str().unwrap();
    let (_, run) = call(
        reqwest::Method::GET,
        &format!("/api/v1/runs/{id}"),
        Value::Null,
    );
    assert_eq!(run["state"], "queued", "{run}");
    assert!(
        untrusting.logs().contains("does not answer"),
        "{}",
        untrusting.logs()
    );
    drop(untrusting);
    let ca_path = certs.join("ca.pem");
    let trusting_agent = AgentProc::start(
        agent_dir.path(),
        &served.url,
        &agent_token,
        &[
            "--allow-data-source",
            "db",
            "--ca-certificate",
            ca_path.to_str().unwrap(),
        ],
        &[],
    );
    let started = Instant::now();
    let run = loop {
        let (_, run) = call(
            reqwest::Method::GET,
            &format!("/api/v1/runs/{id}"),
            Value::Null,
        );
        if run["state"] == "done" || started.elapsed() > Duration::from_secs(30) {
            break run;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(run["state"], "done", "{run}\n{}", trusting_agent.logs());
    assert_eq!(run["outcome"]["exit_code"], 0, "{run}");
}

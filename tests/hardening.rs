//! The second round of attacks, on what landed after the first: the stores assay writes,
//! data channels (their files, registry, service and client), secrets on their way out,
//! scans and the files assay keeps. Each attack is tried in several variants on every
//! engine it applies to, and ends one of two ways: refused (exit 2 with a message that
//! says why and where), or run with nothing changed and nothing leaked.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::channels::{self, Running, PW};
use crate::common::engines::{
    admin, admin_number, mysql_url, postgres_url, sql_engines, unique, Engine, Sandbox, ENGINES,
};
use crate::common::Project;
use crate::push::{Reply, Server};

/// Payloads that end a string literal under one setting or another and then write.
const INJECTIONS: [&str; 4] = [
    "x\\', NULL, NULL, NULL); DROP TABLE victim; --",
    "x\\'); DROP TABLE victim; --",
    "\\\\'; DROP TABLE victim; --",
    "a\\\", \"b\"); DROP TABLE victim; -- ` \\ '' x",
];

use crate::attacks::yaml_string as yaml;

/// `work` with a client of the PostgreSQL database at `url`.
fn with_pg<T>(url: &str, work: impl AsyncFnOnce(&tokio_postgres::Client) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        work(&client).await
    })
}

fn pg_exec(url: &str, statements: &[String]) {
    with_pg(url, async |client| {
        for s in statements {
            client
                .batch_execute(s)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e:?}"));
        }
    })
}

fn pg_texts(url: &str, sql: &str) -> Vec<String> {
    with_pg(url, async |client| {
        client
            .query(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect()
    })
}

fn mysql_texts(sql: &str) -> Vec<String> {
    use mysql_async::prelude::Queryable;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&mysql_url()).unwrap())
            .await
            .unwrap();
        let rows: Vec<String> = conn.query(sql).await.unwrap();
        conn.disconnect().await.unwrap();
        rows
    })
}

/// A database of PostgreSQL whose sessions default to `standard_conforming_strings = off`
/// (a backslash escapes in '...'), dropped when this is.
struct HostilePg {
    name: String,
    url: String,
}

impl HostilePg {
    fn new() -> HostilePg {
        let name = unique("assay_hostile");
        admin(
            Engine::Postgres,
            &[
                format!("CREATE DATABASE {name}"),
                format!("ALTER DATABASE {name} SET standard_conforming_strings = off"),
                format!("ALTER DATABASE {name} SET escape_string_warning = off"),
            ],
        )
        .unwrap();
        let base = postgres_url();
        let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
        pg_exec(
            &url,
            &[
                "CREATE TABLE victim(id INTEGER)".into(),
                "INSERT INTO victim VALUES (1), (2)".into(),
                "CREATE TABLE t(id INTEGER, email TEXT)".into(),
                "INSERT INTO t VALUES (1, NULL), (2, 'b@x.org')".into(),
            ],
        );
        // the setting holds in a new session of this database
        assert_eq!(
            pg_texts(
                &url,
                "SELECT current_setting('standard_conforming_strings')"
            ),
            ["off"]
        );
        HostilePg { name, url }
    }
}

impl Drop for HostilePg {
    fn drop(&mut self) {
        let _ = admin(
            Engine::Postgres,
            &[format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )],
        );
    }
}

/// A MySQL/MariaDB user whose sessions start with a hostile `sql_mode` (through
/// `init_connect`, which the server runs for users without SUPER), and a database of its
/// own with a victim table.
struct HostileMy {
    database: String,
    user: String,
    url: String,
}

const HOSTILE_MODE: &str = "NO_BACKSLASH_ESCAPES,ANSI_QUOTES,PIPES_AS_CONCAT";

impl HostileMy {
    fn new() -> HostileMy {
        let database = unique("assay_hostile");
        let user = unique("hostile");
        admin(
            Engine::MySql,
            &[
                format!("CREATE DATABASE `{database}` DEFAULT CHARACTER SET utf8mb4"),
                format!("CREATE TABLE `{database}`.victim(id INTEGER)"),
                format!("INSERT INTO `{database}`.victim VALUES (1), (2)"),
                format!("CREATE TABLE `{database}`.t(id INTEGER, email VARCHAR(50))"),
                format!("INSERT INTO `{database}`.t VALUES (1, NULL), (2, 'b@x.org')"),
                format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'Hostile-Pw-1'"),
                format!("GRANT ALL ON `{database}`.* TO '{user}'@'%'"),
                format!("SET GLOBAL init_connect = 'SET SESSION sql_mode = ''{HOSTILE_MODE}'''"),
            ],
        )
        .unwrap();
        let base = mysql_url();
        let host = base[base.find('@').unwrap() + 1..]
            .split('/')
            .next()
            .unwrap();
        let url = format!("mysql://{user}:Hostile-Pw-1@{host}/{database}");
        HostileMy {
            database,
            user,
            url,
        }
    }

    fn victims(&self) -> i64 {
        admin_number(
            Engine::MySql,
            &format!("SELECT count(*) FROM `{}`.victim", self.database),
        )
    }
}

impl Drop for HostileMy {
    fn drop(&mut self) {
        let _ = admin(
            Engine::MySql,
            &[
                "SET GLOBAL init_connect = ''".into(),
                format!("DROP USER IF EXISTS '{}'@'%'", self.user),
                format!("DROP DATABASE IF EXISTS `{}`", self.database),
            ],
        );
    }
}

/// A contract whose check names and qualifiers are the payloads, each with one failing
/// row to capture.
fn injecting_contract(dataset: &str) -> String {
    let mut out = format!("dataset: {dataset}\nchecks:\n");
    for (i, p) in INJECTIONS.iter().enumerate() {
        out.push_str(&format!(
            "  - failed_rows:\n      name: {}\n      qualifier: {}\n      expression: \"email IS NULL AND {i} = {i}\"\n",
            yaml(&format!("n{i} {p}")),
            yaml(&format!("q{i}{p}")),
        ));
    }
    out
}

#[test]
fn store_writes_bind_every_value_whatever_the_servers_string_settings() {
    // PostgreSQL with standard_conforming_strings = off: the failed rows store, the
    // history store and a table sink, all in that database
    let pg = HostilePg::new();
    let p = Project::empty();
    p.write(
        "assay.yml",
        &format!(
            "data_sources:\n  - name: pg\n    type: postgres\n    connection: {{connection_string: '{}'}}\ndiagnostics: {{data_source: pg}}\nhistory: {{data_source: pg}}\nscan:\n  include: ['pg/public/t']\n",
            pg.url
        ),
    );
    p.write("contracts/t.yml", &injecting_contract("pg/public/t"));
    let run = p.assay(&["verify", "contracts/t.yml", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let run = p.assay(&["scan", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        pg_texts(&pg.url, "SELECT count(*)::text FROM victim"),
        ["2"]
    );
    // every value came back exactly as written
    let ids = pg_texts(
        &pg.url,
        "SELECT DISTINCT check_id FROM assay_failed_rows ORDER BY 1",
    );
    let names = pg_texts(
        &pg.url,
        "SELECT DISTINCT check_name FROM assay_check_results ORDER BY 1",
    );
    for (i, payload) in INJECTIONS.iter().enumerate() {
        let q = format!("q{i}{payload}");
        assert!(ids.iter().any(|id| id.ends_with(&q)), "{q} in {ids:?}");
        let n = format!("n{i} {payload}");
        assert!(names.contains(&n), "{n} in {names:?}");
    }

    // MySQL/MariaDB with NO_BACKSLASH_ESCAPES and ANSI_QUOTES for the session
    let my = HostileMy::new();
    let p = Project::empty();
    p.write(
        "assay.yml",
        &format!(
            "data_sources:\n  - name: my\n    type: mysql\n    connection: {{connection_string: '{}'}}\ndiagnostics: {{data_source: my}}\nhistory: {{data_source: my}}\nscan:\n  include: ['my/{}/t']\n",
            my.url, my.database
        ),
    );
    p.write(
        "contracts/t.yml",
        &injecting_contract(&format!("my/{}/t", my.database)),
    );
    let run = p.assay(&["verify", "contracts/t.yml", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let run = p.assay(&["scan", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(my.victims(), 2);
    let names = mysql_texts(&format!(
        "SELECT DISTINCT check_name FROM `{}`.assay_check_results",
        my.database
    ));
    let ids = mysql_texts(&format!(
        "SELECT DISTINCT check_id FROM `{}`.assay_failed_rows",
        my.database
    ));
    for (i, payload) in INJECTIONS.iter().enumerate() {
        let q = format!("q{i}{payload}");
        assert!(ids.iter().any(|id| id.ends_with(&q)), "{q} in {ids:?}");
        let n = format!("n{i} {payload}");
        assert!(names.contains(&n), "{n:?} in {names:?}");
    }

    // DuckDB, the default stores
    let p = Project::duckdb(
        "CREATE TABLE victim(id INTEGER); INSERT INTO victim VALUES (1), (2);
         CREATE TABLE t(id INTEGER, email VARCHAR); INSERT INTO t VALUES (1, NULL), (2, 'b');",
    );
    p.write("contracts/t.yml", &injecting_contract("db/main/t"));
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &format!("{config}scan:\n  include: ['db/main/t']\n"),
    );
    assert_eq!(p.assay(&["verify", "contracts/t.yml"]).code, 1);
    assert_eq!(p.assay(&["scan"]).code, 1);
    let conn = duckdb::Connection::open(p.path().join(".assay/history.duckdb")).unwrap();
    let mut stmt = conn
        .prepare("SELECT DISTINCT check_name FROM assay_check_results")
        .unwrap();
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (i, payload) in INJECTIONS.iter().enumerate() {
        let n = format!("n{i} {payload}");
        assert!(names.contains(&n), "{n:?} in {names:?}");
    }
    let db = duckdb::Connection::open(p.path().join("db.duckdb")).unwrap();
    let victims: i64 = db
        .query_row("SELECT count(*) FROM victim", [], |r| r.get(0))
        .unwrap();
    assert_eq!(victims, 2);
}

/// Log in to a sink at `url`, send `records` in one frame and flush: the `flushed` frame.
pub(crate) fn send_to_sink(url: &str, records: Value) -> Value {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    channels::rt().block_on(async {
        let token = channels::token(url).await;
        let mut ws = channels::stream(url, Some(&token)).await.unwrap();
        let _hello = channels::next(&mut ws).await;
        let frame = serde_json::json!({"type": "records", "records": records});
        ws.send(Message::text(frame.to_string())).await.unwrap();
        ws.send(Message::text(r#"{"type":"flush"}"#)).await.unwrap();
        loop {
            let f = channels::next(&mut ws).await;
            if f["type"] == "flushed" {
                return f;
            }
        }
    })
}

/// A sink channel writing to a table of each engine (PostgreSQL and MySQL with hostile
/// string settings): records whose text ends strings under those settings are stored
/// exactly, and nothing else happens.
#[test]
fn a_table_sink_stores_hostile_records_exactly_on_every_engine() {
    let pg = HostilePg::new();
    let my = HostileMy::new();
    let duck =
        Project::duckdb("CREATE TABLE victim(id INTEGER); INSERT INTO victim VALUES (1), (2);");
    let targets = [
        (
            Engine::Postgres,
            format!(
                "    type: postgres\n    connection: {{connection_string: '{}'}}\n",
                pg.url
            ),
            "public".to_string(),
        ),
        (
            Engine::MySql,
            format!(
                "    type: mysql\n    connection: {{connection_string: '{}'}}\n",
                my.url
            ),
            my.database.clone(),
        ),
        (
            Engine::DuckDb,
            format!(
                "    type: duckdb\n    connection: {{database: '{}'}}\n",
                duck.path().join("db.duckdb").display()
            ),
            "main".to_string(),
        ),
    ];
    let records = serde_json::json!([
        {"a": "\\", "b": ", NULL); DROP TABLE victim; --"},
        {"a": "x\\'", "b": "'); DROP TABLE victim; --"},
        {"a": "\"); DROP TABLE victim; --", "b": "` \\\\ ''"},
    ]);
    for (engine, data_source, schema) in targets {
        let p = Project::empty();
        p.write(
            "assay.yml",
            &format!(
                "data_sources:\n  - name: wh\n{data_source}environments:\n  default: {{channels: [out]}}\n"
            ),
        );
        p.write(
            "channels/out.yml",
            &format!(
                "name: out\nkind: sink\ntype: {}\ndata_source: wh\ntable: {schema}/stored\nformat:\n  name: pair\n  fields:\n    - {{name: a, type: string}}\n    - {{name: b, type: string}}\nusers:\n  - {{name: pipeline, password: \"${{env.CH_PW}}\"}}\n",
                engine.name()
            ),
        );
        let ch = Running::start(p.path(), &["channels/out.yml"]);
        let flushed = send_to_sink(&ch.url, records.clone());
        assert_eq!(flushed["stored"], 3, "{}: {flushed}", engine.name());
        let (code, _, err) = ch.stop();
        assert_eq!(code, 0, "{err}");
        let mut stored: Vec<(String, String)> = match engine {
            Engine::Postgres => pg_texts(&pg.url, "SELECT a || '|' || b FROM stored ORDER BY a")
                .into_iter()
                .map(|t| {
                    let (a, b) = t.split_once('|').unwrap();
                    (a.to_string(), b.to_string())
                })
                .collect(),
            Engine::MySql => mysql_texts(&format!(
                "SELECT CONCAT(a, '|', b) FROM `{}`.stored ORDER BY a",
                my.database
            ))
            .into_iter()
            .map(|t| {
                let (a, b) = t.split_once('|').unwrap();
                (a.to_string(), b.to_string())
            })
            .collect(),
            _ => {
                let conn = duckdb::Connection::open(duck.path().join("db.duckdb")).unwrap();
                let mut stmt = conn.prepare("SELECT a, b FROM stored ORDER BY a").unwrap();
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
        };
        stored.sort();
        let mut expected: Vec<(String, String)> = records
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["a"].as_str().unwrap().to_string(),
                    r["b"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        expected.sort();
        assert_eq!(stored, expected, "{}", engine.name());
    }
    assert_eq!(
        pg_texts(&pg.url, "SELECT count(*)::text FROM victim"),
        ["2"]
    );
    assert_eq!(my.victims(), 2);
    let conn = duckdb::Connection::open(duck.path().join("db.duckdb")).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM victim", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

const SECRET: &str = "Env-Secret-Value-4417";

/// `${env.X}` of a variable not declared public, anywhere in a contract: refused before
/// anything runs (exit 2), naming public_env, the value nowhere; declared public, it runs.
#[test]
fn contracts_cannot_read_secrets_from_the_environment_on_any_engine() {
    let places = [
        "filter: \"email <> '${env.ASSAY_T_SECRET}'\"\nchecks:\n  - row_count:\n",
        "checks:\n  - metric: {expression: \"CAST(reverse('${env.ASSAY_T_SECRET}') AS INTEGER)\", threshold: {must_be_greater_than: 0}}\n",
        "checks:\n  - metric: {query: \"SELECT ascii(substr('${env.ASSAY_T_SECRET}', 1, 1))\", threshold: {must_be_greater_than: 0}}\n",
        "checks:\n  - failed_rows: {query: \"SELECT '${env.ASSAY_T_SECRET}' AS leak\"}\n",
        "checks:\n  - row_count: {name: \"count ${env.ASSAY_T_SECRET}\"}\n",
        "checks:\n  - row_count: {attributes: {owner: \"${env.ASSAY_T_SECRET}\"}}\n",
        "variables:\n  V: {default: \"${env.ASSAY_T_SECRET}\"}\nchecks:\n  - row_count: {filter: \"email <> '${var.V}'\"}\n",
        "columns:\n  - name: email\n    checks:\n      - invalid: {valid_values: [\"${env.ASSAY_T_SECRET}\"]}\n",
    ];
    for engine in sql_engines() {
        let s = Sandbox::new(engine);
        s.run(&[format!(
            "CREATE TABLE {} (id INTEGER, email VARCHAR(40))",
            s.qualified("t")
        )]);
        s.run(&[format!("INSERT INTO {} VALUES (1, 'a')", s.qualified("t"))]);
        for (i, place) in places.iter().enumerate() {
            let contract = format!("dataset: {}/t\n{place}", s.dataset_prefix());
            s.project.write("contract.yml", &contract);
            let run = s.project.assay_with(
                &[("ASSAY_T_SECRET", SECRET)],
                &["verify", "contract.yml", "-o", "json", "-vv"],
            );
            let (stdout, stderr) = (&run.stdout, &run.stderr);
            assert_eq!(run.code, 2, "{} {i}: {stderr}", engine.name());
            assert!(
                stderr.contains("public_env"),
                "{} {i}: {stderr}",
                engine.name()
            );
            assert!(stderr.contains("contract.yml:"), "a position: {stderr}");
            assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
        }
        // declared public, the same variable may be read (and shown)
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!("public_env: [ASSAY_T_SECRET]\n{config}"),
        );
        s.project.write(
            "contract.yml",
            &format!(
                "dataset: {}/t\nfilter: \"email <> '${{env.ASSAY_T_SECRET}}'\"\nchecks:\n  - row_count:\n",
                s.dataset_prefix()
            ),
        );
        let run = s
            .project
            .assay_with(&[("ASSAY_T_SECRET", SECRET)], &["verify", "contract.yml"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
}

/// Channel files are untrusted too: a query source, a format name or a path may not read
/// a secret; a user's password may.
#[test]
fn channel_files_cannot_read_secrets_but_passwords() {
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        s.run(&[format!("CREATE TABLE {} (id INTEGER)", s.qualified("t"))]);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!("{config}environments:\n  default: {{channels: [leak]}}\n"),
        );
        let users = "users:\n  - {name: pipeline, password: \"${env.CH_PW}\"}\n";
        let fields = "  fields:\n    - {name: id, type: long}\n";
        let variants = [
            format!("name: leak\nkind: source\ntype: {}\ndata_source: db\nquery: {}\nformat:\n  name: f\n{fields}{users}", engine.name(), yaml(&format!("SELECT id, '${{env.ASSAY_T_SECRET}}' AS s FROM {}", s.qualified("t")))),
            format!("name: leak\nkind: source\ntype: {}\ndata_source: db\nquery: {}\nformat:\n  name: \"f${{env.ASSAY_T_SECRET}}\"\n{fields}{users}", engine.name(), yaml(&format!("SELECT id FROM {}", s.qualified("t")))),
            format!("name: leak\nkind: sink\ntype: file\npath: \"out/${{env.ASSAY_T_SECRET}}.jsonl\"\nformat:\n  name: f\n{fields}{users}"),
        ];
        for (i, channel) in variants.iter().enumerate() {
            s.project.write("channels/leak.yml", channel);
            let out = channels::assay(s.project.path())
                .env("ASSAY_T_SECRET", SECRET)
                .args(["channel", "run", "channels/leak.yml", "--for", "1s"])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{} {i}: {err}", engine.name());
            assert!(err.contains("public_env"), "{err}");
            assert!(!err.contains(SECRET));
        }
    }
}

/// Paths in a channel file stay inside the project: no absolute path, no `..` above it,
/// no symbolic link out of it, for a sink's file, a source's file or glob, TLS files and
/// password files.
#[test]
fn channel_files_reach_no_file_outside_their_project() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("bashrc");
    std::fs::write(&target, "echo hello\n").unwrap();
    let p = Project::empty();
    p.write("assay.yml", "environments:\n  default: {channels: [c]}\n");
    std::os::unix::fs::symlink(outside.path(), p.path().join("channels_out")).unwrap();
    let users = "users:\n  - {name: pipeline, password: \"${env.CH_PW}\"}\n";
    let format = "format:\n  name: f\n  fields:\n    - {name: id, type: long}\n";
    let target_text = target.display().to_string();
    let bad = [
        format!("name: c\nkind: sink\ntype: file\npath: {target_text}.jsonl\n{format}{users}"),
        format!("name: c\nkind: sink\ntype: file\npath: ../../../../../../../../{}.jsonl\n{format}{users}", target_text.trim_start_matches('/')),
        format!("name: c\nkind: sink\ntype: file\npath: ../channels_out/bashrc.jsonl\n{format}{users}"),
        format!("name: c\nkind: source\ntype: file\npath: /etc/passwd\nfile_format: csv\n{format}{users}"),
        format!("name: c\nkind: source\ntype: file\npath: ../channels_out/*.csv\n{format}{users}"),
        format!("name: c\nkind: source\ntype: file\npath: data.csv\ntls: {{certificate: /etc/ssl/certs/ca-certificates.crt, key: /etc/ssl/private/x.pem}}\n{format}{users}"),
        format!("name: c\nkind: source\ntype: file\npath: data.csv\n{format}users:\n  - {{name: pipeline, password_file: ../../../../../../etc/hostname}}\n"),
    ];
    for (i, channel) in bad.iter().enumerate() {
        p.write("channels/c.yml", channel);
        let (code, _, err) = channels::run(
            p.path(),
            &["channel", "run", "channels/c.yml", "--for", "1s"],
        );
        assert_eq!(code, 2, "{i}: {err}");
        assert!(
            err.contains("absolute path")
                || err.contains("climbs out")
                || err.contains("symbolic link"),
            "{i}: {err}"
        );
        assert!(err.contains("channels/c.yml:"), "a position: {err}");
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "echo hello\n");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);

    // a glob inside the project whose match is a link to a file outside it: not read
    p.write("data/a.csv", "id\n1\n");
    std::fs::write(outside.path().join("secret.csv"), "id\n424242\n").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.csv"),
        p.path().join("data/b.csv"),
    )
    .unwrap();
    p.write(
        "channels/c.yml",
        &format!("name: c\nkind: source\ntype: file\npath: ../data/*.csv\n{format}{users}"),
    );
    let ch = Running::start(p.path(), &["channels/c.yml", "--every", "300ms"]);
    let rt = channels::rt();
    let url = ch.url.clone();
    let frames = rt.block_on(async {
        let token = channels::token(&url).await;
        let mut ws = channels::stream(&url, Some(&token)).await.unwrap();
        let mut seen = Vec::new();
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            if let Ok(Some(Ok(m))) = tokio::time::timeout(
                Duration::from_millis(500),
                futures_util::StreamExt::next(&mut ws),
            )
            .await
            {
                seen.push(m.to_string());
            }
        }
        seen
    });
    let (_, _, err) = ch.stop();
    assert!(frames.iter().all(|f| !f.contains("424242")), "{frames:?}");
    assert!(err.contains("symbolic link"), "{err}");
}

/// A change that makes a real registry entry a planted one.
type Plant = dyn Fn(&mut Value);

fn entry_file(p: &Project) -> std::path::PathBuf {
    p.path().join(".assay/channels/orders@order_v1.json")
}

/// A planted registry entry (a live pid without the lock, `pid: 1`, a heartbeat in the
/// future, another host with copied or no proofs) gets no credentials and blocks no
/// channel; `verify --channel` needs its own project's approval and holds a bounded set.
#[test]
fn registry_entries_prove_themselves_before_credentials_are_sent() {
    let p = channels::source_project();
    p.write(
        "contracts/orders.yml",
        "dataset: stream/main/orders\ncolumns:\n  - name: id\n    checks:\n      - missing:\n",
    );
    let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "300ms"]);
    let real: Value =
        serde_json::from_str(&std::fs::read_to_string(entry_file(&p)).unwrap()).unwrap();
    assert!(real["proofs"]["pipeline"].is_string(), "{real}");
    drop(ch);
    let _ = std::fs::remove_file(entry_file(&p));

    let fake = Server::start(0, vec![], Reply::Status(200, &[]), Duration::ZERO);
    let now = chrono::Utc::now();
    let planted = |f: &dyn Fn(&mut Value)| {
        let mut e = real.clone();
        e["url"] = Value::String(fake.url());
        e["heartbeat_at"] = Value::String(now.to_rfc3339());
        f(&mut e);
        std::fs::create_dir_all(p.path().join(".assay/channels")).unwrap();
        std::fs::write(entry_file(&p), e.to_string()).unwrap();
    };
    let verify = || {
        channels::run(
            p.path(),
            &[
                "verify",
                "contracts/orders.yml",
                "--channel",
                "orders",
                "--timeout",
                "20s",
            ],
        )
    };
    let me = std::process::id();
    let future = (now + chrono::Duration::days(365)).to_rfc3339();
    let variants: Vec<Box<Plant>> = vec![
        Box::new(|e| e["pid"] = 1.into()),
        Box::new(move |e| e["pid"] = me.into()),
        Box::new(move |e| {
            e["pid"] = me.into();
            e["heartbeat_at"] = Value::String(future.clone());
        }),
        Box::new(|e| e["host"] = "another-machine".into()),
        Box::new(|e| {
            e["host"] = "another-machine".into();
            e["proofs"] = serde_json::json!({});
            e["nonce"] = "".into();
        }),
    ];
    for (i, variant) in variants.iter().enumerate() {
        planted(variant.as_ref());
        let (code, _, err) = verify();
        assert_eq!(code, 3, "{i}: {err}");
        assert!(
            err.contains("no source channel 'orders' runs") || err.contains("does not prove"),
            "{i}: {err}"
        );
        assert!(
            fake.requests().is_empty(),
            "{i}: credentials went to a planted entry"
        );
        assert!(!err.contains(PW));
        if i < 3 {
            // a local planted entry holds no lock: the real channel starts all the same
            let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "300ms"]);
            let (code, out, err) = verify();
            assert_eq!(code, 0, "{i}: {out}\n{err}");
            drop(ch);
        }
        let _ = std::fs::remove_file(entry_file(&p));
    }

    // this project's approval is needed, whatever the channel's entry says
    let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "300ms"]);
    let other = Project::empty();
    other.write(
        "assay.yml",
        "channels:\n  orders: {user: pipeline, password: \"${env.CH_PW}\"}\n",
    );
    other.write(
        "orders.yml",
        "dataset: stream/main/orders\ncolumns:\n  - name: id\n",
    );
    let out = channels::assay(other.path())
        .env("ASSAY_CHANNEL_REGISTRY", p.path().join(".assay/channels"))
        .args(["verify", "orders.yml", "--channel", "orders"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not approved"), "{err}");

    // a result set larger than this run holds is refused, not held
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    for (limit, says) in [
        ("max_records: 2", "more than 2 records"),
        ("max_bytes: 100B", "larger than 100 bytes"),
    ] {
        p.write(
            "assay.yml",
            &config.replace(
                "password: \"${env.CH_PW}\"}",
                &format!("password: \"${{env.CH_PW}}\", {limit}}}"),
            ),
        );
        let (code, _, err) = verify();
        assert_eq!(code, 3, "{limit}: {err}");
        assert!(err.contains(says), "{limit}: {err}");
    }
    p.write(
        "assay.yml",
        &config.replace(
            "password: \"${env.CH_PW}\"}",
            "password: \"${env.CH_PW}\", max_bytes: lots}",
        ),
    );
    let (code, _, err) = verify();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("max_bytes 'lots' is not a size"), "{err}");
    drop(ch);
}

async fn raw_login(url: &str, from: &str, user: &str, password: &str) -> u16 {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    client
        .post(format!("{url}/login"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// One client cannot deny a channel to the others: half-sent requests are closed after
/// their deadline, connections are capped per address, failed logins are limited per
/// address and per user, sessions per user.
#[test]
fn one_client_cannot_deny_a_channel_to_the_others() {
    let p = channels::source_project();
    let channel = std::fs::read_to_string(p.path().join("channels/orders.yml")).unwrap();
    p.write(
        "channels/orders.yml",
        &channel.replace(
            "users:\n",
            "users:\n  - {name: other, password: \"${env.CH_PW}\"}\n",
        ),
    );
    let ch = Running::start(p.path(), &["channels/orders.yml", "--every", "1h"]);
    let addr: SocketAddr = ch.url.trim_start_matches("http://").parse().unwrap();

    // half-sent requests: held only until their deadline
    let mut held: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"POST /login HTTP/1.1\r\nHost: x\r\n").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    for s in &mut held {
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "closed, not answered");
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    // one address's connections are capped; another address still gets in
    let hogs: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let closed = hogs
        .iter()
        .filter(|s| {
            let mut s = *s;
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            matches!(s.read(&mut [0u8; 1]), Ok(0))
        })
        .count();
    assert!(closed >= 8, "connections past the cap are closed: {closed}");
    let rt = channels::rt();
    rt.block_on(async {
        assert_eq!(raw_login(&ch.url, "127.0.0.2", "pipeline", PW).await, 200);
    });
    drop(hogs);

    rt.block_on(async {
        // guessing from one address: limited, for every user, after ten failures
        let mut codes = Vec::new();
        for i in 0..12 {
            codes.push(raw_login(&ch.url, "127.0.0.3", "pipeline", &format!("guess-{i}")).await);
        }
        assert!(codes[..10].iter().all(|c| *c == 401), "{codes:?}");
        assert_eq!(codes[11], 429, "{codes:?}");
        assert_eq!(raw_login(&ch.url, "127.0.0.3", "other", PW).await, 429);
        // from elsewhere, the right password still works
        assert_eq!(raw_login(&ch.url, "127.0.0.4", "other", PW).await, 200);
        // one user's sessions are capped; the other user is not affected
        let mut last = 0;
        for _ in 0..101 {
            last = raw_login(&ch.url, "127.0.0.5", "pipeline", PW).await;
        }
        assert_eq!(last, 429);
        assert_eq!(raw_login(&ch.url, "127.0.0.6", "other", PW).await, 200);
    });
    let (code, _, err) = ch.stop();
    assert_eq!(code, 0, "{err}");
}

/// `scan --timeout` bounds discovery and profiling: a view that sleeps is stopped on the
/// server when the time is up, and nothing of it stays running.
#[test]
fn scan_timeout_bounds_profiling_on_the_server() {
    for engine in [Engine::Postgres, Engine::MySql] {
        let s = Sandbox::new(engine);
        let view = s.qualified("slow");
        s.run(&[match engine {
            Engine::Postgres => format!("CREATE VIEW {view} AS SELECT 1 AS id FROM pg_sleep(60)"),
            _ => format!("CREATE VIEW {view} AS SELECT 1 AS id, SLEEP(60) AS slept"),
        }]);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!(
                "{config}scan:\n  include: ['{}/slow']\n",
                s.dataset_prefix()
            ),
        );
        let started = Instant::now();
        let run = s.project.assay(&["scan", "--timeout", "3s", "-o", "json"]);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(20),
            "{}: {took:?}",
            engine.name()
        );
        assert_ne!(run.code, 0, "{}: {}", engine.name(), run.stderr);
        assert!(
            run.stdout.contains("timeout") || run.stderr.contains("timeout"),
            "{}: {}\n{}",
            engine.name(),
            run.stdout,
            run.stderr
        );
        std::thread::sleep(Duration::from_secs(1));
        let running = match engine {
            Engine::Postgres => admin_number(
                engine,
                "SELECT count(*)::bigint FROM pg_stat_activity WHERE query LIKE '%slow%' AND query NOT LIKE '%pg_stat_activity%' AND state = 'active'",
            ),
            _ => admin_number(
                engine,
                "SELECT count(*) FROM information_schema.processlist WHERE info LIKE '%slow%' AND info NOT LIKE '%processlist%'",
            ),
        };
        assert_eq!(
            running,
            0,
            "{}: the query was left on the server",
            engine.name()
        );
    }
}

/// assay's own state is never reached through a symbolic link, and a files dataset that
/// is a link out of its root is not read.
#[test]
fn state_files_and_datasets_behind_symbolic_links_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "keep me\n").unwrap();
    let p = Project::duckdb("CREATE TABLE t(id INTEGER); INSERT INTO t VALUES (1);");
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &format!("{config}scan:\n  include: ['db/main/t']\n"),
    );
    std::fs::create_dir_all(p.path().join(".assay")).unwrap();
    std::os::unix::fs::symlink(&victim, p.path().join(".assay/history.lock")).unwrap();
    // the lock is not taken through the link (a warning, as for any lock that cannot be
    // had), and what the link points at is untouched
    let run = p.assay(&["scan"]);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
    std::fs::remove_file(p.path().join(".assay/history.lock")).unwrap();

    // the outbox: results are not written through a linked folder
    std::os::unix::fs::symlink(outside.path(), p.path().join(".assay/outbox")).unwrap();
    p.write(
        "assay.yml",
        &format!("{config}cloud:\n  endpoint: http://127.0.0.1:9/x\n  token: ${{env.ASSAY_T_TOKEN}}\n  max_attempts: 1\n"),
    );
    p.write("c.yml", "dataset: db/main/t\nchecks:\n  - row_count:\n");
    let run = p.assay_with(
        &[("ASSAY_T_TOKEN", "token-for-the-test-1")],
        &["verify", "c.yml", "--push"],
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    std::fs::remove_file(p.path().join(".assay/outbox")).unwrap();

    // the channel registry
    std::os::unix::fs::symlink(outside.path(), p.path().join(".assay/channels")).unwrap();
    p.write(
        "assay.yml",
        &format!("{config}environments:\n  default: {{channels: [orders]}}\n"),
    );
    p.write("data.csv", "id\n1\n");
    p.write(
        "channels/orders.yml",
        &format!(
            "name: orders\nkind: source\ntype: file\npath: ../data.csv\n{}",
            channels::FORMAT
        ),
    );
    let (code, _, err) = channels::run(
        p.path(),
        &["channel", "run", "channels/orders.yml", "--for", "1s"],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);

    // a files dataset that is a link to a file outside the root
    let f = Project::empty();
    std::fs::create_dir_all(f.path().join("data")).unwrap();
    std::fs::write(outside.path().join("passwd.csv"), "user\nroot-secret-77\n").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("passwd.csv"),
        f.path().join("data/users.csv"),
    )
    .unwrap();
    f.write(
        "assay.yml",
        "data_sources:\n  - name: local\n    type: files\n    connection: {root: data}\n",
    );
    f.write(
        "c.yml",
        "dataset: local/users.csv\nchecks:\n  - row_count: {threshold: {must_be: 1}}\n  - failed_rows: {query: \"SELECT * FROM users\"}\n",
    );
    let run = f.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stdout.contains("symbolic link"), "{}", run.stdout);
    assert!(!run.stdout.contains("root-secret-77") && !run.stderr.contains("root-secret-77"));
}

fn no_raw_controls(text: &str) {
    assert!(
        !text
            .chars()
            .any(|c| c == '\u{1b}' || c == '\u{7}' || c == '\u{9b}'),
        "{text:?}"
    );
}

/// Names from databases, files and contracts reach terminals, Markdown pages and Slack as
/// text: no escape sequence acts, no markup renders, no one is mentioned.
#[test]
fn names_reach_terminals_markdown_and_slack_as_text() {
    let slack = Server::start(0, vec![], Reply::Status(200, &[]), Duration::ZERO);
    let p = Project::duckdb(
        "CREATE TABLE \"<!channel> t\"(\"col\u{1b}]0;owned\u{7}\u{1b}[2J\" INTEGER);
         INSERT INTO \"<!channel> t\" VALUES (1), (2);",
    );
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &format!(
            "{config}scan:\n  include: ['db/main/*']\nnotify:\n  slack: {{webhook: '{}/slack/x', on: [fail]}}\n",
            slack.url()
        ),
    );
    p.write(
        "contracts/t.yml",
        "dataset: \"db/main/<!channel> t\"\nchecks:\n  - row_count: {threshold: {must_be: 99}, name: \"@here ![x](http://127.0.0.1:9/p.png) \u{1b}[31mred\"}\n",
    );
    let run = p.assay(&["scan", "--now", "2025-01-01T00:00:00Z"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    no_raw_controls(&run.stdout);
    no_raw_controls(&run.stderr);
    let body: Value = serde_json::from_str(&slack.requests()[0].body).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(!text.contains("<!channel>"), "{text}");
    assert!(text.contains("&lt;!channel&gt;"), "{text}");

    let md = p.assay(&["verify", "contracts/t.yml", "-o", "markdown"]);
    assert_eq!(md.code, 1, "{}", md.stderr);
    assert!(!md.stdout.contains("![x]"), "{}", md.stdout);
    assert!(md.stdout.contains("\\!\\[x\\]"), "{}", md.stdout);
    assert!(!md.stdout.contains(" @here"), "{}", md.stdout);
    no_raw_controls(&md.stdout);

    // a contract error echoes what it read as text
    p.write(
        "bad.yml",
        "dataset: db/main/t\nchecks:\n  - \"row_count\u{1b}[2J\u{7}\":\n",
    );
    let run = p.assay(&["verify", "bad.yml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    no_raw_controls(&run.stderr);

    // a file named like Markdown is a name
    let f = Project::empty();
    f.write("data/![pixel](pixel.png).csv", "id\n1\n");
    f.write(
        "assay.yml",
        "data_sources:\n  - name: local\n    type: files\n    connection: {root: data}\n",
    );
    f.write(
        "c.yml",
        "dataset: \"local/![pixel](pixel.png).csv\"\nchecks:\n  - row_count: {threshold: {must_be: 2}}\n",
    );
    let md = f.assay(&["verify", "c.yml", "-o", "markdown"]);
    assert_eq!(md.code, 1, "{}", md.stderr);
    assert!(!md.stdout.contains("![pixel]"), "{}", md.stdout);
}

/// A CSV sink neutralises text a spreadsheet would run as a formula; numbers stay.
#[test]
fn csv_sinks_write_no_formula() {
    let p = Project::empty();
    p.write("assay.yml", "environments:\n  default: {channels: [out]}\n");
    p.write(
        "channels/out.yml",
        "name: out\nkind: sink\ntype: file\npath: ../out/rows.csv\nformat:\n  name: f\n  fields:\n    - {name: note, type: string}\n    - {name: n, type: long}\nusers:\n  - {name: pipeline, password: \"${env.CH_PW}\"}\n",
    );
    let ch = Running::start(p.path(), &["channels/out.yml"]);
    let flushed = send_to_sink(
        &ch.url,
        serde_json::json!([
            {"note": "=HYPERLINK(\"http://127.0.0.1:9/?\"&A1)", "n": -5},
            {"note": "+cmd|' /C calc'!A0", "n": 1},
            {"note": "-2+3", "n": 2},
            {"note": "@SUM(1)", "n": 3},
            {"note": "-12.5", "n": 4},
            {"note": "plain", "n": 5},
        ]),
    );
    assert_eq!(flushed["stored"], 6, "{flushed}");
    let (code, _, err) = ch.stop();
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(p.path().join("out/rows.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "note,n");
    assert!(lines[1].starts_with("\"'=HYPERLINK("), "{text}");
    assert!(lines[1].ends_with(",-5"), "{text}");
    assert_eq!(lines[2], "'+cmd|' /C calc'!A0,1");
    assert_eq!(lines[3], "'-2+3,2");
    assert_eq!(lines[4], "'@SUM(1),3");
    assert_eq!(lines[5], "-12.5,4");
    assert_eq!(lines[6], "plain,5");
}

/// No input makes assay panic: durations past any date are "everything".
#[test]
fn durations_past_any_date_are_no_crash() {
    let p = Project::duckdb("CREATE TABLE t(id INTEGER); INSERT INTO t VALUES (1);");
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &format!("{config}scan:\n  include: ['db/main/t']\n"),
    );
    assert_eq!(p.assay(&["scan"]).code, 0);
    for args in [
        vec!["report", "--since", "999999999999d", "-o", "r.html"],
        vec!["history", "--since", "999999999999d"],
        vec!["history", "--since", "584554049253y"],
        vec!["report", "--since", "18446744073709551615s", "-o", "r.html"],
    ] {
        let run = p.assay(&args);
        assert!(
            run.code == 0 || run.code == 2,
            "{args:?}: {} {}",
            run.code,
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }
}

/// DuckDB: SQL from a string and the process's settings are refused, and one expression
/// cannot take more memory than the data source's limit.
#[test]
fn duckdb_runs_no_sql_from_strings_and_keeps_to_its_memory_limit() {
    let p = Project::duckdb("CREATE TABLE t(id INTEGER); INSERT INTO t VALUES (1);");
    for sql in [
        "json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
        "(SELECT value FROM duckdb_settings() WHERE name = 'home_directory')",
        "current_setting('temp_directory')",
        "(SELECT count(*) FROM pragma_database_list())",
        "(SELECT path FROM duckdb_databases() LIMIT 1)",
    ] {
        p.write(
            "c.yml",
            &format!(
                "dataset: db/main/t\nchecks:\n  - metric: {{expression: {}, threshold: {{must_be_greater_than: 0}}}}\n",
                yaml(sql)
            ),
        );
        let run = p.assay(&["verify", "c.yml"]);
        assert_eq!(run.code, 2, "{sql}: {}", run.stderr);
        assert!(run.stderr.contains("c.yml:"), "{}", run.stderr);
    }
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "assay.yml",
        &config.replace(
            "{database: db.duckdb}",
            "{database: db.duckdb, memory_limit: 64MB}",
        ),
    );
    p.write(
        "c.yml",
        "dataset: db/main/t\nchecks:\n  - metric: {query: \"SELECT length(string_agg(repeat('x', 100000), ',')) FROM range(100000)\", threshold: {must_be_greater_than: 0}}\n",
    );
    let started = Instant::now();
    let run = p.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.to_lowercase().contains("memory"),
        "{}",
        run.stdout
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    p.write(
        "assay.yml",
        &config.replace(
            "{database: db.duckdb}",
            "{database: db.duckdb, memory_limit: lots}",
        ),
    );
    let run = p.assay(&["verify", "c.yml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("memory_limit 'lots' is not a size"),
        "{}",
        run.stderr
    );
}

/// Two tables whose names would make one dataset path are not scanned into one series.
#[test]
fn tables_that_would_share_a_dataset_path_are_left_out() {
    for engine in [Engine::Postgres, Engine::MySql] {
        let s = Sandbox::new(engine);
        let slashed = format!("{}/x", s.schema);
        let q = |ident: &str| engine.quote(ident);
        s.run(&[
            format!("CREATE TABLE {}.{} (id INTEGER)", q(&s.schema), q("x/t")),
            format!("CREATE TABLE {}.{} (id INTEGER)", q(&s.schema), q("plain")),
        ]);
        match engine {
            Engine::Postgres => s.run(&[format!("CREATE SCHEMA {}", q(&slashed))]),
            _ => s.run(&[format!("CREATE DATABASE {}", q(&slashed))]),
        }
        s.run(&[format!(
            "CREATE TABLE {}.{} (id INTEGER)",
            q(&slashed),
            q("t")
        )]);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!("{config}scan:\n  include: ['db/{}/**']\n", s.schema),
        );
        let run = s.project.assay(&["scan", "-o", "json"]);
        let drop_other = match engine {
            Engine::Postgres => format!("DROP SCHEMA {} CASCADE", q(&slashed)),
            _ => format!("DROP DATABASE {}", q(&slashed)),
        };
        s.run(&[drop_other]);
        assert_eq!(run.code, 0, "{}: {}", engine.name(), run.stderr);
        let doc = run.json();
        let datasets: Vec<String> = doc["scan"]["data_sources"][0]["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["dataset"].as_str().unwrap().to_string())
            .collect();
        assert!(
            datasets.iter().any(|d| d.ends_with("/plain")),
            "{datasets:?}"
        );
        assert!(
            !datasets.iter().any(|d| d.ends_with("/x/t")),
            "{}: {datasets:?}",
            engine.name()
        );
        assert!(run.stderr.contains("ambiguous"), "{}", run.stderr);
    }
}

/// A webhook URL written oddly is still a secret in every form, and a redirect is not
/// followed with the body.
#[test]
fn webhook_urls_stay_secret_and_redirects_are_not_followed() {
    let elsewhere = Server::start(0, vec![], Reply::Status(200, &[]), Duration::ZERO);
    let location = format!("{}/stolen", elsewhere.url());
    let location: &'static str = Box::leak(location.into_boxed_str());
    let hook = Server::start(
        0,
        vec![],
        Reply::Status(307, Box::leak(Box::new([("Location", location)]))),
        Duration::ZERO,
    );
    for written in [
        format!("HTTP://127.0.0.1:{}/a/../hook/Sekret-Hook-4471", hook.port),
        format!("http://127.0.0.1:{}/hook/./Sekret-Hook-4471 ", hook.port),
        format!("http://LOCALHOST:{}/hook?key=Sekret-Hook-4471", hook.port),
    ] {
        let p = Project::duckdb("CREATE TABLE t(id INTEGER); INSERT INTO t VALUES (1);");
        let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
        p.write(
            "assay.yml",
            &format!(
                "{config}scan:\n  include: ['db/main/t']\nnotify:\n  webhook: {{url: {}, on: [fail]}}\n  max_attempts: 1\n",
                yaml(&written)
            ),
        );
        p.write(
            "contracts/t.yml",
            "dataset: db/main/t\nchecks:\n  - row_count: {threshold: {must_be: 99}}\n",
        );
        let run = p.assay(&["scan", "-vv"]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains("redirect"), "{written}: {}", run.stderr);
        let mut kept = String::new();
        for f in std::fs::read_dir(p.path().join(".assay/outbox/notify"))
            .into_iter()
            .flatten()
            .flatten()
        {
            kept.push_str(&std::fs::read_to_string(f.path()).unwrap_or_default());
        }
        for text in [&run.stdout, &run.stderr, &kept] {
            assert!(!text.contains("Sekret-Hook-4471"), "{written}: {text}");
        }
    }
    assert!(hook.requests().len() >= 3);
    assert!(
        elsewhere.requests().is_empty(),
        "the body went to the redirect"
    );
}

/// A secret with quotes and backslashes leaks in no escaped or encoded form.
#[test]
fn a_quoted_secret_shows_in_no_form() {
    let secret = "O'Br\\ien \"q\" Pw-77";
    let p = Project::empty();
    p.write(
        "assay.yml",
        "data_sources:\n  - name: pg\n    type: postgres\n    connection: {host: 127.0.0.1, port: 9, database: \"${env.ASSAY_T_DB}\", user: u, password: \"${env.ASSAY_T_DB}\", connect_timeout: 2s}\n",
    );
    p.write("c.yml", "dataset: pg/public/t\nchecks:\n  - row_count:\n");
    for args in [
        vec!["verify", "c.yml", "-o", "json", "-vv"],
        vec!["verify", "c.yml", "--plan"],
    ] {
        let run = p.assay_with(&[("ASSAY_T_DB", secret)], &args);
        let text = format!("{}{}", run.stdout, run.stderr);
        for form in [
            secret.to_string(),
            secret.replace('\'', "''"),
            serde_json::to_string(secret)
                .unwrap()
                .trim_matches('"')
                .to_string(),
            "O%27Br%5Cien%20%22q%22%20Pw-77".to_string(),
        ] {
            assert!(!text.contains(&form), "{args:?}: {form} in {text}");
        }
        assert!(!text.contains("Pw-77"), "{args:?}: {text}");
    }
}

/// A small fixed generator: the same inputs every run.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `seed` with a few pieces replaced, inserted or cut.
    fn mutate(&mut self, seed: &str) -> Vec<u8> {
        const PIECES: [&str; 14] = [
            "..",
            "../",
            "/",
            "/etc/passwd",
            "${env.HOME}",
            "${env.ASSAY_T_SECRET}",
            "*",
            "\n",
            ": ",
            "{",
            "[",
            "\"",
            "\\",
            "\u{1b}",
        ];
        let mut bytes = seed.as_bytes().to_vec();
        for _ in 0..1 + self.next() % 4 {
            let at = (self.next() as usize) % (bytes.len() + 1);
            match self.next() % 3 {
                0 => {
                    let piece = PIECES[(self.next() as usize) % PIECES.len()];
                    bytes.splice(at..at, piece.bytes());
                }
                1 if at < bytes.len() => {
                    let end = (at + 1 + (self.next() as usize) % 8).min(bytes.len());
                    bytes.drain(at..end);
                }
                _ if at < bytes.len() => bytes[at] = (self.next() % 256) as u8,
                _ => {}
            }
        }
        bytes
    }
}

/// The text with `.` and `..` taken out, no link followed.
fn lexical(path: &std::path::Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for c in std::path::absolute(path).unwrap().components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Mutated assay.yml and channel files (what the fuzz targets config_file and
/// channel_file do at length): each is read or refused with a position, nothing panics,
/// and a channel file that is read names no file outside its project.
#[test]
fn mutated_configs_and_channel_files_are_read_or_refused() {
    let p = Project::empty();
    std::fs::create_dir_all(p.path().join("channels")).unwrap();
    let config_text = "data_sources:\n  - name: db\n    type: duckdb\n    connection: {database: db.duckdb, memory_limit: 1GB}\npublic_env: [HOME]\nenvironments:\n  default: {channels: [c]}\nchannels:\n  c: {user: pipeline, password: \"${env.PATH}\", max_records: 10, max_bytes: 1MB}\n";
    std::fs::write(p.path().join("assay.yml"), config_text).unwrap();
    let config = assay::config::load(Some(&p.path().join("assay.yml")), &[], &Default::default())
        .expect("the seed config reads");
    let root = lexical(p.path());
    let secret_path = std::env::var("PATH").unwrap();
    let seeds = [
        "name: c\nkind: sink\ntype: file\npath: ../out/c.jsonl\nformat:\n  name: f\n  fields:\n    - {name: id, type: long}\nusers:\n  - {name: pipeline, password: \"${env.PATH}\"}\n",
        "name: c\nkind: source\ntype: file\npath: ../data/*.csv\nformat:\n  name: f\n  fields:\n    - {name: id, type: long}\nusers:\n  - {name: pipeline, password_file: ../pw.txt}\n",
        "name: c\nkind: source\ntype: duckdb\ndata_source: db\nquery: SELECT 1 AS id\nformat:\n  name: f\n  fields:\n    - {name: id, type: long}\nusers:\n  - {name: pipeline, password: \"${env.PATH}\"}\n",
    ];
    std::fs::write(p.path().join("pw.txt"), "a-password-1\n").unwrap();
    let mut m = Mutator(0x9e37_79b9_7f4a_7c15);
    let (mut read, mut refused) = (0, 0);
    for i in 0..1500 {
        let bytes = m.mutate(seeds[i % seeds.len()]);
        let file = p.path().join("channels/c.yml");
        std::fs::write(&file, &bytes).unwrap();
        match assay::channel::spec::load(&file, &config, &Default::default()) {
            Ok(spec) => {
                read += 1;
                if let assay::channel::spec::Store::File { path, .. } = &spec.store {
                    assert!(
                        lexical(path).starts_with(&root),
                        "{} left the project: {:?}",
                        path.display(),
                        String::from_utf8_lossy(&bytes)
                    );
                }
            }
            Err(_) => refused += 1,
        }
    }
    assert!(read > 0 && refused > 0, "{read} read, {refused} refused");
    let (mut read, mut refused) = (0, 0);
    for _ in 0..1500 {
        let bytes = m.mutate(config_text);
        let file = p.path().join("assay.yml");
        std::fs::write(&file, &bytes).unwrap();
        match assay::config::load(Some(&file), &[], &Default::default()) {
            Ok(_) => read += 1,
            Err(mut diags) => {
                refused += 1;
                diags.mask_secrets();
                let shown = format!("{:?}", miette::Report::new(diags));
                // PATH is a secret here (not public): never shown
                assert!(!shown.contains(&secret_path), "{shown}");
            }
        }
    }
    assert!(read > 0 && refused > 0, "{read} read, {refused} refused");
}

/// Failed rows go to a sink channel only from a project that approves it, whatever the
/// registry says: the entry is visible, yet an unapproved project sends no row.
#[test]
fn failed_rows_go_only_to_a_sink_channel_the_project_approves() {
    let sink = Project::empty();
    sink.write(
        "assay.yml",
        "environments:\n  default: {channels: [failed]}\n",
    );
    sink.write(
        "channels/failed.yml",
        "name: failed\nkind: sink\ntype: file\npath: ../out/failed.jsonl\nformat:\n  name: f\n  fields:\n    - {name: check_id, type: string}\n    - {name: id, type: long, nullable: true}\nusers:\n  - {name: pipeline, password: \"${env.CH_PW}\"}\n",
    );
    let ch = Running::start(sink.path(), &["channels/failed.yml"]);
    let p = Project::duckdb(
        "CREATE TABLE t(id INTEGER, email VARCHAR); INSERT INTO t VALUES (1, NULL), (2, NULL);",
    );
    let config = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    p.write(
        "contract.yml",
        "dataset: db/main/t\ncolumns:\n  - name: email\n    checks:\n      - missing:\n",
    );
    for (approval, captured) in [
        ("", 0),
        ("environments:\n  default: {channels: [failed]}\n", 2),
    ] {
        p.write(
            "assay.yml",
            &format!("{config}diagnostics: {{channel: failed}}\n{approval}channels:\n  failed: {{user: pipeline, password: \"${{env.CH_PW}}\"}}\n"),
        );
        let out = channels::assay(p.path())
            .env(
                "ASSAY_CHANNEL_REGISTRY",
                sink.path().join(".assay/channels"),
            )
            .args(["verify", "contract.yml", "-o", "json"])
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let doc: Value = serde_json::from_str(&stdout).unwrap();
        let info = &doc["datasets"][0]["checks"][0]["failed_rows"];
        assert_eq!(info["captured"], captured, "{approval:?}: {info}\n{stderr}");
        if captured == 0 {
            assert!(stderr.contains("not approved"), "{stderr}");
        }
    }
    let (code, stopped, err) = ch.stop();
    assert_eq!(code, 0, "{err}");
    assert!(stopped.contains("2 stored, 0 discarded"), "{stopped}");
}

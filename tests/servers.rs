//! PostgreSQL and MySQL/MariaDB as data sources: connection settings and errors, secrets,
//! read-only sessions, server-side cancellation, `--plan` and `-vv` per engine. The check
//! semantics themselves are in tests/conformance.rs.

use crate::common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::engines::{admin, admin_number, mysql_url, postgres_url, Engine, Sandbox, ENGINES};
use common::Project;

const SERVERS: [Engine; 2] = [Engine::Postgres, Engine::MySql];

/// A loopback port where nothing listens.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn with_table(engine: Engine) -> Sandbox {
    let s = Sandbox::new(engine);
    s.run(&[
        format!(
            "CREATE TABLE {} (id INTEGER, name VARCHAR(20))",
            s.qualified("t")
        ),
        format!(
            "INSERT INTO {} VALUES (1, 'a'), (2, 'b'), (2, NULL)",
            s.qualified("t")
        ),
    ]);
    s
}

fn row_count_contract(s: &Sandbox, table: &str) -> String {
    format!(
        "dataset: \"{}/{table}\"\nchecks:\n  - row_count:\n",
        s.dataset_prefix()
    )
}

/// A second data source `bad` with these connection settings, and a contract on it next
/// to a working one; returns the run.
fn run_with_bad_source(s: &Sandbox, kind: &str, connection: &str, dataset: &str) -> common::Run {
    let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
    s.project.write(
        "assay.yml",
        &format!("{config}  - name: bad\n    type: {kind}\n    connection: {connection}\n"),
    );
    s.project.write("good.yml", &row_count_contract(s, "t"));
    s.project.write(
        "bad.yml",
        &format!("dataset: \"bad/{dataset}\"\nchecks:\n  - row_count:\n"),
    );
    s.project
        .assay(&["verify", "good.yml", "bad.yml", "-o", "json"])
}

fn assert_bad_source(run: &common::Run, expected: &[&str], secret: Option<&str>) {
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let r = run.json();
    assert_eq!(
        r["datasets"][0]["outcome"], "pass",
        "the good dataset is still verified: {r:#}"
    );
    let error = r["datasets"][1]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("data source 'bad'"), "{error}");
    for e in expected {
        assert!(
            error.to_lowercase().contains(&e.to_lowercase()),
            "expected '{e}' in: {error}"
        );
    }
    if let Some(secret) = secret {
        assert!(
            !run.stdout.contains(secret),
            "secret in stdout: {}",
            run.stdout
        );
        assert!(
            !run.stderr.contains(secret),
            "secret in stderr: {}",
            run.stderr
        );
    }
}

#[test]
fn refused_connection_names_the_data_source_and_hides_the_password() {
    for engine in SERVERS {
        let s = with_table(engine);
        let port = closed_port();
        let (kind, url) = match engine {
            Engine::Postgres => (
                "postgres",
                format!("postgres://postgres:Refused-S3cret@127.0.0.1:{port}/test"),
            ),
            _ => (
                "mysql",
                format!("mysql://root:Refused-S3cret@127.0.0.1:{port}/test"),
            ),
        };
        let dataset = if engine == Engine::Postgres {
            "public/t"
        } else {
            "test/t"
        };
        let run = run_with_bad_source(&s, kind, &format!("{{url: '{url}'}}"), dataset);
        assert_bad_source(
            &run,
            &["refused", &format!("127.0.0.1:{port}")],
            Some("Refused-S3cret"),
        );
    }
}

#[test]
fn a_server_that_never_answers_times_out_on_connect() {
    // accepts TCP connections and then says nothing, like a host behind a dead link
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for engine in SERVERS {
        let s = with_table(engine);
        let kind = if engine == Engine::Postgres {
            "postgres"
        } else {
            "mysql"
        };
        let started = Instant::now();
        let run = run_with_bad_source(
            &s,
            kind,
            &format!("{{host: 127.0.0.1, port: {port}, database: test, user: someone, connect_timeout: 1s}}"),
            if engine == Engine::Postgres { "public/t" } else { "test/t" },
        );
        assert_bad_source(&run, &["connect_timeout"], None);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "took {:?}",
            started.elapsed()
        );
    }
    drop(listener);
}

#[test]
fn unknown_database_and_wrong_login_are_explained() {
    // Postgres: the test server trusts loopback logins, so the login error is an unknown role
    let s = with_table(Engine::Postgres);
    let url = postgres_url().replacen("postgres@", "assay_no_such_role:Wrong-Pw-123@", 1);
    let run = run_with_bad_source(&s, "postgres", &format!("{{url: '{url}'}}"), "public/t");
    assert_bad_source(
        &run,
        &["assay_no_such_role", "password"],
        Some("Wrong-Pw-123"),
    );
    let url = postgres_url().rsplit_once('/').unwrap().0.to_string() + "/no_such_db_assay";
    let s = with_table(Engine::Postgres);
    let run = run_with_bad_source(&s, "postgres", &format!("{{url: '{url}'}}"), "public/t");
    assert_bad_source(&run, &["no_such_db_assay", "database"], None);

    // MySQL: a real user with a password, logged in with the wrong one
    let user = format!("assay_pw_{}", std::process::id());
    admin(
        Engine::MySql,
        &[
            format!("DROP USER IF EXISTS '{user}'@'%'"),
            format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'Right-Pw-456'"),
        ],
    )
    .unwrap();
    let s = with_table(Engine::MySql);
    let url = mysql_url().replacen("root@", &format!("{user}:Wrong-Pw-789@"), 1);
    let run = run_with_bad_source(&s, "mysql", &format!("{{url: '{url}'}}"), "test/t");
    assert_bad_source(&run, &[&user, "password"], Some("Wrong-Pw-789"));
    let url = mysql_url().rsplit_once('/').unwrap().0.to_string() + "/no_such_db_assay";
    let s = with_table(Engine::MySql);
    let run = run_with_bad_source(&s, "mysql", &format!("{{url: '{url}'}}"), "test/t");
    assert_bad_source(&run, &["no_such_db_assay"], None);
    admin(
        Engine::MySql,
        &[format!("DROP USER IF EXISTS '{user}'@'%'")],
    )
    .unwrap();
}

#[test]
fn missing_table_and_missing_column_leave_the_rest_running() {
    for engine in SERVERS {
        let s = with_table(engine);
        s.project.write(
            "missing_table.yml",
            &row_count_contract(&s, "no_such_table"),
        );
        s.project.write(
            "missing_column.yml",
            &format!(
                "dataset: \"{}/t\"\ncolumns:\n  - name: nope\n    checks:\n      - missing:\n  - name: id\n    checks:\n      - duplicate: {{threshold: {{must_be: 1}}}}\n",
                s.dataset_prefix()
            ),
        );
        let run = s.project.assay(&[
            "verify",
            "missing_table.yml",
            "missing_column.yml",
            "-o",
            "json",
        ]);
        assert_eq!(run.code, 3, "{}: {}", engine.name(), run.stderr);
        let r = run.json();
        let table_error = r["datasets"][0]["error"].as_str().unwrap();
        assert!(
            table_error.contains("not found"),
            "{}: {table_error}",
            engine.name()
        );
        let checks = &r["datasets"][1]["checks"];
        assert_eq!(checks[0]["outcome"], "not_evaluated");
        assert!(
            checks[0]["error"]
                .as_str()
                .unwrap()
                .contains("column 'nope' not found"),
            "{checks}"
        );
        assert_eq!(checks[1]["outcome"], "pass", "{}: {checks}", engine.name());
    }
}

/// The dataset's error, or else its first check's (the catalog may be readable where the
/// table is not, so the refusal comes with the first query on the table).
fn first_error(results: &serde_json::Value) -> String {
    let d = &results["datasets"][0];
    d["error"]
        .as_str()
        .or_else(|| d["checks"][0]["error"].as_str())
        .unwrap_or_else(|| panic!("no error in {results:#}"))
        .to_string()
}

#[test]
fn permission_denied_is_reported_as_such() {
    let role = format!("assay_noperm_{}", std::process::id());
    // Postgres: a role that may log in but not use the sandbox's schema
    let s = with_table(Engine::Postgres);
    admin(
        Engine::Postgres,
        &[
            format!("DROP ROLE IF EXISTS {role}"),
            format!("CREATE ROLE {role} LOGIN"),
        ],
    )
    .unwrap();
    let url = postgres_url().replacen("postgres@", &format!("{role}@"), 1);
    s.project.write(
        "assay.yml",
        &format!(
            "data_sources:\n  - name: db\n    type: postgres\n    connection: {{url: '{url}'}}\n"
        ),
    );
    s.project.write("c.yml", &row_count_contract(&s, "t"));
    let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let error = first_error(&run.json());
    assert!(error.contains("permission denied"), "{error}");
    drop(s);
    admin(Engine::Postgres, &[format!("DROP ROLE IF EXISTS {role}")]).unwrap();

    // MySQL: a user with no grants on the sandbox database
    let s = with_table(Engine::MySql);
    admin(
        Engine::MySql,
        &[
            format!("DROP USER IF EXISTS '{role}'@'%'"),
            format!("CREATE USER '{role}'@'%'"),
        ],
    )
    .unwrap();
    let url = mysql_url().replacen("root@", &format!("{role}@"), 1);
    let url = url.rsplit_once('/').unwrap().0.to_string();
    s.project.write(
        "assay.yml",
        &format!(
            "data_sources:\n  - name: db\n    type: mysql\n    connection: {{url: '{url}'}}\n"
        ),
    );
    s.project.write("c.yml", &row_count_contract(&s, "t"));
    let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let error = first_error(&run.json());
    assert!(error.contains("denied"), "{error}");
    admin(
        Engine::MySql,
        &[format!("DROP USER IF EXISTS '{role}'@'%'")],
    )
    .unwrap();
}

#[test]
fn sessions_are_read_only() {
    let s = with_table(Engine::Postgres);
    // a function of the database's own that writes (no list of refused functions can know
    // it): the read-only transaction refuses it
    s.run(&[format!(
        "CREATE FUNCTION {}.bump() RETURNS INTEGER LANGUAGE sql AS 'INSERT INTO {} VALUES (9, ''z''); SELECT 1'",
        s.engine.quote(&s.schema),
        s.qualified("t")
    )]);
    s.project.write(
        "c.yml",
        &format!(
            "dataset: \"{}/t\"\nchecks:\n  - metric:\n      query: \"SELECT {}.bump()\"\n      threshold: {{must_be: 1}}\n",
            s.dataset_prefix(),
            s.schema
        ),
    );
    let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    let check = &run.json()["datasets"][0]["checks"][0];
    assert!(
        check["error"]
            .as_str()
            .unwrap()
            .contains("read-only transaction"),
        "{check}"
    );

    // MySQL: a stored function that inserts, called from a SELECT
    let s = with_table(Engine::MySql);
    s.run(&[format!(
        "CREATE FUNCTION {}.bump() RETURNS INTEGER MODIFIES SQL DATA BEGIN INSERT INTO {} VALUES (9, 'z'); RETURN 1; END",
        s.engine.quote(&s.schema),
        s.qualified("t")
    )]);
    s.project.write(
        "c.yml",
        &format!(
            "dataset: \"{}/t\"\nchecks:\n  - metric:\n      query: \"SELECT {}.bump()\"\n      threshold: {{must_be: 1}}\n",
            s.dataset_prefix(),
            s.engine.quote(&s.schema)
        ),
    );
    let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    let check = &run.json()["datasets"][0]["checks"][0];
    assert!(
        check["error"].as_str().unwrap().contains("READ ONLY"),
        "{check}"
    );
    let rows = admin_number(
        Engine::MySql,
        &format!("SELECT COUNT(*) FROM {}", s.qualified("t")),
    );
    assert_eq!(rows, 3, "nothing was written");
}

/// A query that runs for minutes on each engine, tagged so the test can find it.
fn slow_query(engine: Engine, marker: &str) -> String {
    match engine {
        Engine::Postgres => format!("SELECT COUNT(*) AS {marker} FROM generate_series(1, 2000000) a, generate_series(1, 2000000) b WHERE a + b = 7"),
        _ => format!("SELECT COUNT(*) AS {marker} FROM information_schema.COLUMNS a, information_schema.COLUMNS b, information_schema.COLUMNS c, information_schema.COLUMNS d"),
    }
}

fn running_with(engine: Engine, marker: &str) -> i64 {
    match engine {
        Engine::Postgres => admin_number(
            engine,
            &format!("SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE '%AS {marker} %' AND pid <> pg_backend_pid()"),
        ),
        _ => admin_number(
            engine,
            &format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%AS {marker} %' AND ID <> CONNECTION_ID()"),
        ),
    }
}

#[test]
fn timeout_and_ctrl_c_cancel_the_query_on_the_server() {
    for engine in SERVERS {
        for how in ["timeout", "ctrl-c"] {
            let s = with_table(engine);
            let marker = format!(
                "assay_slow_{}_{}",
                how.replace('-', "_"),
                std::process::id()
            );
            s.project.write(
                "c.yml",
                &format!(
                    "dataset: \"{}/t\"\nchecks:\n  - row_count:\n  - metric:\n      query: \"{}\"\n      threshold: {{must_be: 0}}\n",
                    s.dataset_prefix(),
                    slow_query(engine, &marker)
                ),
            );
            let mut args = vec!["verify", "c.yml", "-o", "json"];
            if how == "timeout" {
                args.extend(["--timeout", "2s"]);
            }
            let child = s.project.spawn_assay(&args);
            std::thread::sleep(Duration::from_millis(1500));
            assert_eq!(
                running_with(engine, &marker),
                1,
                "{}: the slow query should be running",
                engine.name()
            );
            if how == "ctrl-c" {
                common::interrupt(&child);
            }
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(3),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(r["datasets"][0]["checks"][0]["outcome"], "pass");
            let metric = &r["datasets"][0]["checks"][1];
            assert_eq!(metric["outcome"], "not_evaluated", "{metric}");
            let reason = if how == "timeout" {
                "--timeout"
            } else {
                "Ctrl-C"
            };
            assert!(
                metric["error"].as_str().unwrap().contains(reason),
                "{metric}"
            );
            // the server stopped the query: it is not left running after assay exits
            let deadline = Instant::now() + Duration::from_secs(5);
            while running_with(engine, &marker) > 0 {
                assert!(
                    Instant::now() < deadline,
                    "{} {how}: the query still runs on the server",
                    engine.name()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[test]
fn very_verbose_logs_every_statement_with_its_duration() {
    for engine in SERVERS {
        let s = with_table(engine);
        s.project.write(
            "c.yml",
            &format!(
                "dataset: \"{}/t\"\ncolumns:\n  - name: id\n    checks:\n      - duplicate: {{threshold: {{must_be: 1}}}}\nchecks:\n  - row_count:\n",
                s.dataset_prefix()
            ),
        );
        let run = s.project.assay(&["verify", "c.yml", "-vv"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for label in [
            "columns of",
            ": metrics (",
            "COUNT(DISTINCT",
            "session statement (",
            "READ ONLY",
            "COMMIT",
        ] {
            assert!(
                run.stderr.contains(label),
                "{}: no '{label}' in\n{}",
                engine.name(),
                run.stderr
            );
        }
        assert!(run.stderr.contains(" ms)"), "{}", run.stderr);
    }
}

#[test]
fn plan_prints_each_engines_sql() {
    for (kind, dataset) in [
        ("postgres", "db/main/Order Items"),
        ("mysql", "db/main/Order Items"),
    ] {
        let p = Project::empty();
        p.write(
            "assay.yml",
            &format!(
                "data_sources:\n  - {{name: db, type: {kind}, connection: {{host: 127.0.0.1, port: {}, database: main, user: nobody}}}}\n",
                closed_port()
            ),
        );
        let contract = include_str!("fixtures/every_check.yml");
        assert!(contract.starts_with(&format!("dataset: {dataset}\n")));
        let contract = if kind == "mysql" {
            contract
                .replace("main.customers", "main.`customers`")
                .replace("main.\\\"Order Items\\\"", "main.`Order Items`")
        } else {
            contract.to_string()
        };
        p.write("contract.yml", &contract);
        let run = p.assay(&[
            "verify",
            "contract.yml",
            "--plan",
            "--now",
            "2025-01-01T00:00:00Z",
        ]);
        assert_eq!(run.code, 0, "{kind}: {}", run.stderr);
        insta::assert_snapshot!(format!("plan_{kind}_every_check"), run.stdout);
    }
}

#[test]
fn pooled_connections_serve_many_datasets() {
    for engine in SERVERS {
        let s = with_table(engine);
        for i in 0..6 {
            s.project
                .write(&format!("contracts/c{i}.yml"), &row_count_contract(&s, "t"));
        }
        let run = s
            .project
            .assay(&["verify", "contracts", "-j", "3", "-o", "json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let r = run.json();
        assert_eq!(r["datasets"].as_array().unwrap().len(), 6);
        assert_eq!(r["summary"]["pass"], 6, "{r:#}");
    }
}

/// The test URL's parts, to write connection settings key by key.
fn url_parts(url: &str) -> (String, String, String, String) {
    let rest = url.split_once("://").unwrap().1;
    let (user, rest) = rest.split_once('@').unwrap();
    let (host_port, database) = rest.split_once('/').unwrap();
    let (host, port) = host_port.split_once(':').unwrap();
    (
        user.to_string(),
        host.to_string(),
        port.to_string(),
        database.to_string(),
    )
}

fn verify_with_connection(s: &Sandbox, kind: &str, connection: &str) -> common::Run {
    s.project.write(
        "assay.yml",
        &format!("data_sources:\n  - name: db\n    type: {kind}\n    connection: {connection}\n"),
    );
    s.project.write("c.yml", &row_count_contract(s, "t"));
    s.project.assay(&["verify", "c.yml", "-o", "json"])
}

#[test]
fn sslmode_is_honoured() {
    // Postgres: with TLS on, require encrypts without checking the certificate and
    // verify-full refuses a certificate no public root signed (Debian's self-signed one);
    // with TLS off (a throwaway test server), require fails and says so
    let s = with_table(Engine::Postgres);
    let (user, host, port, database) = url_parts(&postgres_url());
    let base = format!("host: {host}, port: {port}, database: {database}, user: {user}");
    let tls_on = admin_number(
        Engine::Postgres,
        "SELECT CASE WHEN current_setting('ssl') = 'on' THEN 1 ELSE 0 END::bigint",
    ) == 1;
    let require = verify_with_connection(&s, "postgres", &format!("{{{base}, sslmode: require}}"));
    if tls_on {
        assert_eq!(require.code, 0, "{}", require.stdout);
        let full =
            verify_with_connection(&s, "postgres", &format!("{{{base}, sslmode: verify-full}}"));
        assert_eq!(full.code, 3, "{}", full.stdout);
        assert!(
            first_error(&full.json()).contains("could not be verified"),
            "{}",
            full.stdout
        );
    } else {
        assert_eq!(require.code, 3, "{}", require.stdout);
    }
    for mode in ["disable", "prefer"] {
        let run = verify_with_connection(&s, "postgres", &format!("{{{base}, sslmode: {mode}}}"));
        assert_eq!(run.code, 0, "sslmode {mode}: {}", run.stdout);
    }

    // MySQL/MariaDB: the test server offers no TLS: prefer falls back, require refuses
    let s = with_table(Engine::MySql);
    let (user, host, port, _) = url_parts(&mysql_url());
    let base = format!("host: {host}, port: {port}, user: {user}");
    let tls_on = admin_number(Engine::MySql, "SELECT IF(@@have_ssl = 'YES', 1, 0)") == 1;
    for mode in ["disable", "prefer"] {
        let run = verify_with_connection(&s, "mysql", &format!("{{{base}, sslmode: {mode}}}"));
        assert_eq!(run.code, 0, "sslmode {mode}: {}", run.stdout);
    }
    let require = verify_with_connection(&s, "mysql", &format!("{{{base}, sslmode: require}}"));
    if tls_on {
        assert_eq!(require.code, 0, "{}", require.stdout);
    } else {
        assert_eq!(require.code, 3, "{}", require.stdout);
        assert!(
            first_error(&require.json()).contains("offers no TLS"),
            "{}",
            require.stdout
        );
    }
}

#[test]
fn password_file_logs_in_and_stays_secret() {
    let user = format!("assay_pwf_{}", std::process::id());
    admin(
        Engine::MySql,
        &[
            format!("DROP USER IF EXISTS '{user}'@'%'"),
            format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'File-Pw-321'"),
        ],
    )
    .unwrap();
    let s = with_table(Engine::MySql);
    admin(
        Engine::MySql,
        &[format!("GRANT SELECT ON `{}`.* TO '{user}'@'%'", s.schema)],
    )
    .unwrap();
    s.project.write("secrets/pw.txt", "File-Pw-321\n");
    let (_, host, port, _) = url_parts(&mysql_url());
    let run = verify_with_connection(
        &s,
        "mysql",
        &format!("{{host: {host}, port: {port}, user: {user}, password_file: secrets/pw.txt}}"),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // a wrong password from the file: refused, and neither password is shown
    s.project.write("secrets/pw.txt", "Wrong-File-Pw-654\n");
    let run = s.project.assay(&["verify", "c.yml", "-o", "json", "-vv"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        first_error(&run.json()).contains("password_file"),
        "{}",
        run.stdout
    );
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains("Wrong-File-Pw-654") && !text.contains("File-Pw-321"),
            "{text}"
        );
    }
    admin(
        Engine::MySql,
        &[format!("DROP USER IF EXISTS '{user}'@'%'")],
    )
    .unwrap();
}

#[test]
fn postgres_paths_names_and_lengths() {
    let s = Sandbox::new(Engine::Postgres);
    s.run(&[
        // created unquoted: Postgres folds the names to lower case
        format!(
            "CREATE TABLE {}.items (ID INTEGER, Label VARCHAR(20), price NUMERIC(8, 3))",
            s.engine.quote(&s.schema)
        ),
        format!(
            "INSERT INTO {}.items VALUES (1, 'a', 1.5), (2, 'b', 2.25)",
            s.engine.quote(&s.schema)
        ),
    ]);
    let (_, _, _, database) = url_parts(&postgres_url());
    // the contract writes the names as they were typed: ID, Label
    s.project.write(
        "c.yml",
        &format!(
            "dataset: \"db/{database}/{}/items\"
columns:
  - name: ID
    data_type: int4
    checks:
      - duplicate:
  - name: Label
    data_type: varchar(20)
    checks:
      - aggregate: {{function: max_length, threshold: {{must_be: 1}}}}
  - name: price
    data_type: numeric(8,3)
checks:
  - schema:
  - row_count: {{threshold: {{must_be: 2}}}}
",
            s.schema
        ),
    );
    let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let r = run.json();
    assert_eq!(common::check(&r, "checks/schema")["value"], 0.0);
    // the same lengths written wrong fail, on Postgres and on MySQL
    for engine in SERVERS {
        let s = Sandbox::new(engine);
        s.run(&[format!(
            "CREATE TABLE {} (label VARCHAR(20), price DECIMAL(8, 3))",
            s.qualified("t")
        )]);
        s.project.write(
            "c.yml",
            &format!(
                "dataset: \"{}/t\"\ncolumns:\n  - name: label\n    data_type: varchar\n    character_maximum_length: 30\n  - name: price\n    data_type: decimal(8,2)\nchecks:\n  - schema:\n",
                s.dataset_prefix()
            ),
        );
        let run = s.project.assay(&["verify", "c.yml", "-o", "json"]);
        assert_eq!(run.code, 1, "{}: {}", engine.name(), run.stdout);
        let schema = common::check(&run.json(), "checks/schema").clone();
        assert_eq!(schema["value"], 2.0, "{}: {schema:#}", engine.name());
        let text = schema["diagnostics"].to_string();
        assert!(
            text.contains("character_maximum_length 20, expected 30"),
            "{text}"
        );
        assert!(text.contains("numeric_scale 3, expected 2"), "{text}");
    }
}

#[test]
fn timeout_sets_the_servers_own_statement_limit() {
    for engine in SERVERS {
        let s = with_table(engine);
        // the session's limit in ms
        let query = match engine {
            Engine::Postgres => {
                "SELECT CAST(setting AS INTEGER) FROM pg_settings WHERE name = 'statement_timeout'"
            }
            // the test servers are MariaDB (MySQL's own variable is max_execution_time)
            _ => "SELECT @@max_statement_time * 1000",
        };
        let contract = |threshold: &str| {
            format!(
                "dataset: \"{}/t\"\nchecks:\n  - metric:\n      query: \"{query}\"\n      threshold: {threshold}\n",
                s.dataset_prefix()
            )
        };
        // with --timeout 60s: a limit of at most 60 s, minus what the run used before
        s.project.write(
            "with.yml",
            &contract("{must_be_between: {greater_than: 50000, less_than_or_equal: 60000}}"),
        );
        let run = s
            .project
            .assay(&["verify", "with.yml", "-o", "json", "--timeout", "60s"]);
        assert_eq!(run.code, 0, "{}: {}", engine.name(), run.stdout);
        // without: no limit
        s.project.write("without.yml", &contract("{must_be: 0}"));
        let run = s.project.assay(&["verify", "without.yml", "-o", "json"]);
        assert_eq!(run.code, 0, "{}: {}", engine.name(), run.stdout);
    }
}

#[test]
fn schema_compares_datetime_precision_on_every_engine() {
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let (ms, whole) = match engine {
            Engine::MySql => ("DATETIME(3)", "DATETIME"),
            _ => ("TIMESTAMP(3)", "TIMESTAMP(0)"),
        };
        let t = s.qualified("t");
        s.run(&[format!("CREATE TABLE {t} (a {ms}, b {whole})")]);
        let contract = |a: u64, b: u64| {
            format!(
                "dataset: \"{}/t\"
columns:
  - name: a
    datetime_precision: {a}
  - name: b
    datetime_precision: {b}
checks:
  - schema:
",
                s.dataset_prefix()
            )
        };
        let run = |text: String| {
            s.project.write("c.yml", &text);
            s.project.assay(&["verify", "c.yml", "-o", "json"])
        };
        let r = run(contract(3, 0));
        let schema = common::check(&r.json(), "checks/schema").clone();
        assert_eq!(r.code, 0, "{}: {schema}", engine.name());
        let r = run(contract(6, 0));
        assert_eq!(r.code, 1, "{}", engine.name());
        let differences =
            common::check(&r.json(), "checks/schema")["diagnostics"]["differences"].to_string();
        assert!(
            differences.contains("column 'a' has datetime_precision 3, expected 6"),
            "{}: {differences}",
            engine.name()
        );
    }
}

/// Discovery, the first step of a scan: tables and views of every engine, by the path a
/// contract would name them with.
#[test]
fn every_engine_discovers_its_tables_and_views() {
    use assay::engine::Discovered;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let (t, v) = (s.qualified("orders"), s.qualified("open_orders"));
        s.run(&[
            format!("CREATE TABLE {t} (id INTEGER, status VARCHAR(10))"),
            format!("CREATE VIEW {v} AS SELECT * FROM {t} WHERE status = 'open'"),
        ]);
        let config = assay::config::load(
            Some(&s.project.path().join("assay.yml")),
            &[],
            &Default::default(),
        )
        .unwrap();
        let ds = config.data_source("db").unwrap();
        let found = runtime
            .block_on(ds.engine.discover(ds, &assay::exec::RunControl::new()))
            .unwrap_or_else(|e| panic!("{}: {e}", engine.name()));
        let mine: Vec<&Discovered> = found.iter().filter(|d| d.path[0] == s.schema).collect();
        let names: Vec<(&str, bool)> = mine
            .iter()
            .map(|d| (d.path[1].as_str(), d.view))
            .filter(|(n, _)| *n != "assay_keep")
            .collect();
        assert_eq!(
            names,
            [("open_orders", true), ("orders", false)],
            "{}: {found:?}",
            engine.name()
        );
        // the paths are the ones a contract uses
        assert!(mine.iter().all(|d| ds.table_ref(&d.path).is_ok()));
        // nothing of the engine's own catalogs
        assert!(
            !found
                .iter()
                .any(|d| ["information_schema", "pg_catalog", "mysql", "sys"]
                    .contains(&d.path[0].as_str())),
            "{}: {found:?}",
            engine.name()
        );
    }
}

#[test]
fn a_files_source_discovers_its_data_files() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let p = Project::files("files");
    p.write("data/orders.csv", "id\n1\n");
    p.write("data/sub/items.parquet", "not read here");
    p.write("data/sub/notes.txt", "not data");
    p.write("data/EVENTS.JSONL", "{}\n");
    let config =
        assay::config::load(Some(&p.path().join("assay.yml")), &[], &Default::default()).unwrap();
    let ds = config.data_source("files").unwrap();
    let found = runtime
        .block_on(ds.engine.discover(ds, &assay::exec::RunControl::new()))
        .unwrap();
    let paths: Vec<String> = found.iter().map(|d| d.path.join("/")).collect();
    assert_eq!(paths, ["EVENTS.JSONL", "orders.csv", "sub/items.parquet"]);
    assert!(found
        .iter()
        .all(|d| !d.view && ds.table_ref(&d.path).is_ok()));
}

/// A scan's profile: one query per dataset, the same numbers on every engine.
#[test]
fn profiles_measure_the_same_on_every_engine() {
    use assay::config::ProfileConfig;
    use assay::exec::{Limits, RunControl};
    use assay::scan::profile;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut answers = Vec::new();
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let t = s.qualified("p");
        let ts = if engine == Engine::MySql {
            "DATETIME"
        } else {
            "TIMESTAMP"
        };
        s.run(&[
            format!("CREATE TABLE {t} (id INTEGER, name VARCHAR(20), seen {ts})"),
            format!(
                "INSERT INTO {t} VALUES (1, 'ab', '2025-01-01 00:00:00'), (2, 'Ab', '2025-01-02 00:00:00'), (2, NULL, NULL)"
            ),
        ]);
        let config = assay::config::load(
            Some(&s.project.path().join("assay.yml")),
            &[],
            &Default::default(),
        )
        .unwrap();
        let ds = config.data_source("db").unwrap();
        let table = ds.table_ref(&[s.schema.clone(), "p".into()]).unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2025-01-03T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let points = runtime.block_on(async {
            let exec = ds.engine.open(ds, 1, Vec::new()).await.unwrap();
            let control = RunControl::new();
            let mut session = exec.session(&control).await.unwrap();
            let columns = session.columns(&table).await.unwrap().unwrap();
            let plan = profile::plan(ds.dialect(), &table, &columns, &ProfileConfig::default());
            let sql = assay::sql::dialect::print_select(ds.dialect(), &plan.select);
            let rows = session.rows(&sql, Limits::rows(2)).await.unwrap();
            session.finish().await;
            assert_eq!(rows.rows.len(), 1, "{}: one row", engine.name());
            plan.points(&rows.rows[0], now)
        });
        let shown: Vec<String> = points
            .iter()
            .map(|p| format!("{:?}/{}={:?}", p.column, p.metric, p.value))
            .collect();
        let get = |c: Option<&str>, m: &str| {
            points
                .iter()
                .find(|p| p.column.as_deref() == c && p.metric == m)
                .and_then(|p| p.value)
        };
        let what = format!("{}: {shown:?}", engine.name());
        assert_eq!(get(None, "row_count"), Some(3.0), "{what}");
        assert_eq!(get(Some("id"), "distinct_count"), Some(2.0), "{what}");
        assert_eq!(get(Some("id"), "avg"), Some(5.0 / 3.0), "{what}");
        // 'ab' and 'Ab' are two values, whatever the collation
        assert_eq!(get(Some("name"), "distinct_count"), Some(2.0), "{what}");
        assert_eq!(get(Some("name"), "missing_count"), Some(1.0), "{what}");
        assert_eq!(get(Some("name"), "avg_length"), Some(2.0), "{what}");
        assert_eq!(
            get(Some("seen"), "freshness_seconds"),
            Some(86_400.0),
            "{what}"
        );
        answers.push(shown);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
}

/// The history store on every engine that can hold one: scans are recorded whole, read
/// back in order, the latest schema snapshot is found, and old points are removed.
#[test]
fn history_is_recorded_whole_and_read_back_on_every_engine() {
    use assay::anomaly::{AnomalyKind, Judgement, Verdict};
    use assay::model::threshold::Level;
    use assay::scan::history::{CheckRecord, DatasetRecord, HistoryStore, ScanRecord};
    use assay::scan::profile::Point;
    use assay::scan::schema_change::{Event, SnapshotColumn};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        // the default store is the embedded DuckDB file; the servers hold it in a schema
        if engine != Engine::DuckDb {
            let text = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
            s.project.write(
                "assay.yml",
                &format!(
                    "{text}history: {{data_source: db, schema: {}, keep: 30d}}\n",
                    s.schema
                ),
            );
        } else {
            let text = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
            s.project
                .write("assay.yml", &format!("{text}history: {{keep: 30d}}\n"));
        }
        let config = assay::config::load(
            Some(&s.project.path().join("assay.yml")),
            &[],
            &Default::default(),
        )
        .unwrap();
        let store = HistoryStore::from_config(&config);
        let day = |d: i64| {
            chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc)
                + chrono::Duration::days(d)
        };
        let col = |n: &str, t: &str| SnapshotColumn {
            name: n.into(),
            data_type: t.into(),
            nullable: Some(true),
        };
        let scan = |id: &str, d: i64, rows: f64, cols: Vec<SnapshotColumn>| ScanRecord {
            scan_id: id.into(),
            measured_at: day(d),
            ended_at: day(d),
            data_sources: vec!["db".into()],
            datasets: vec![DatasetRecord {
                data_source: "db".into(),
                dataset: "main/orders".into(),
                snapshot: Some(cols),
                points: vec![
                    Point {
                        column: None,
                        metric: "row_count".into(),
                        value: Some(rows),
                    },
                    Point {
                        column: Some("id".into()),
                        metric: "min".into(),
                        value: None,
                    },
                ],
                events: vec![(
                    Event {
                        kind: "column_added".into(),
                        column: Some("it's".into()),
                        old: None,
                        new: Some("integer".into()),
                    },
                    Level::Warn,
                )],
                // the big day is a spike to the row count's monitor
                verdicts: if rows > 100.0 {
                    [(
                        (None, "row_count".to_string()),
                        Verdict {
                            judgement: Judgement::Anomaly(AnomalyKind::Spike),
                            expected: Some(11.0),
                            lower: Some(5.0),
                            upper: Some(20.0),
                            reason: "far above 20".into(),
                            reset_from: None,
                            incident: None,
                        },
                    )]
                    .into()
                } else {
                    Default::default()
                },
                checks: vec![CheckRecord {
                    check_id: "columns/it's/missing".into(),
                    check_type: "missing".into(),
                    name: "it's \"missing\"; DROP TABLE x --".into(),
                    column: Some("it's".into()),
                    outcome: if rows > 100.0 {
                        assay::results::Outcome::Fail
                    } else {
                        assay::results::Outcome::Pass
                    },
                    value: Some(rows / 10.0),
                    threshold: r#"{"must_be":0}"#.into(),
                    failed_rows: (rows > 100.0).then(|| {
                        (
                            "duckdb .assay/diagnostics.duckdb".to_string(),
                            "\"assay_failed_rows\"".to_string(),
                            100,
                        )
                    }),
                }],
            }],
        };
        runtime.block_on(async {
            let (seen, snapshots) = store.last_snapshots("db").await.unwrap();
            assert!(
                !seen && snapshots.is_empty(),
                "{}: empty at first",
                engine.name()
            );
            store
                .record(&scan("s1", 0, 10.0, vec![col("id", "integer")]))
                .await
                .unwrap();
            store
                .record(&scan(
                    "s2",
                    40,
                    12.5,
                    vec![col("id", "integer"), col("it's", "text")],
                ))
                .await
                .unwrap();
            store
                .record(&scan("s3", 41, 1e9, vec![col("id", "bigint")]))
                .await
                .unwrap();
            let points = store
                .points(Some("db/main/orders"), Some("row_count"))
                .await
                .unwrap();
            let values: Vec<Option<f64>> = points.iter().map(|p| p.value).collect();
            // s1 is older than 30 days before s3: removed with its points
            assert_eq!(
                values,
                [Some(12.5), Some(1e9)],
                "{}: {points:?}",
                engine.name()
            );
            assert!(
                points[0].measured_at.starts_with("2025-02-10"),
                "{points:?}"
            );
            // the report's read: every series, times as seconds, numbers and anomalies
            let report = store.report(day(-1000), None, 30).await.unwrap();
            let seen_series = &report.series;
            let names: Vec<&str> = seen_series.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["db/main/orders"], "{}", engine.name());
            let series: Vec<(Option<&str>, &str)> = seen_series[0]
                .1
                .iter()
                .map(|s| (s.column.as_deref(), s.metric.as_str()))
                .collect();
            assert_eq!(series, [(None, "row_count"), (Some("id"), "min")]);
            let rows = &seen_series[0].1[0];
            type Seen<'a> = (i64, Option<f64>, Option<f64>, Option<f64>, Option<&'a str>);
            let values: Vec<Seen> = rows
                .points
                .iter()
                .map(|p| (p.at, p.value, p.expected, p.upper, p.anomaly.as_deref()))
                .collect();
            assert_eq!(
                values,
                [
                    (day(40).timestamp(), Some(12.5), None, None, None),
                    (
                        day(41).timestamp(),
                        Some(1e9),
                        Some(11.0),
                        Some(20.0),
                        Some("spike: far above 20")
                    )
                ],
                "{}",
                engine.name()
            );
            // a value never measured is a point without a value, not a missing point
            let min: Vec<(i64, Option<f64>)> = seen_series[0].1[1]
                .points
                .iter()
                .map(|p| (p.at, p.value))
                .collect();
            assert_eq!(
                min,
                [(day(40).timestamp(), None), (day(41).timestamp(), None)]
            );
            // since a day: the older point is left out; a dataset not asked for is not read
            let since = store.report(day(41), None, 30).await.unwrap().series;
            assert_eq!(since[0].1[0].points.len(), 1, "{}", engine.name());
            let names = |r: assay::scan::history::ReportHistory| -> Vec<String> {
                r.series.into_iter().map(|(name, _)| name).collect()
            };
            let all = store
                .report(day(-1000), Some(&|n: &str| n.starts_with("db/")), 30)
                .await
                .unwrap();
            assert_eq!(names(all), ["db/main/orders"], "{}", engine.name());
            let other = store
                .report(day(-1000), Some(&|n: &str| n == "db/main/other"), 30)
                .await
                .unwrap();
            assert!(names(other).is_empty(), "{}", engine.name());
            // the report's checks: each dataset's last scans only; its events since then
            let last: Vec<String> = store
                .report(day(-1000), None, 1)
                .await
                .unwrap()
                .checks
                .into_iter()
                .map(|c| c.scan_id)
                .collect();
            assert_eq!(last, ["s3"], "{}", engine.name());
            assert_eq!(report.events.len(), 2, "{}", engine.name());
            // check outcomes: the older scan's went with it; names stay data
            let checks = store.checks(Some("db/main/orders"), None).await.unwrap();
            let seen_checks: Vec<(&str, &str, Option<f64>)> = checks
                .iter()
                .map(|c| (c.scan_id.as_str(), c.check.outcome.as_str(), c.check.value))
                .collect();
            assert_eq!(
                seen_checks,
                [("s2", "pass", Some(1.25)), ("s3", "fail", Some(1e8))],
                "{}",
                engine.name()
            );
            assert_eq!(checks[1].check.name, "it's \"missing\"; DROP TABLE x --");
            assert_eq!(checks[1].check.threshold, r#"{"must_be":0}"#);
            assert_eq!(
                checks[1].check.failed_rows,
                Some((
                    "duckdb .assay/diagnostics.duckdb".to_string(),
                    "\"assay_failed_rows\"".to_string(),
                    100
                ))
            );
            assert_eq!(checks[0].check.failed_rows, None);
            let last_day: Vec<String> = store
                .checks(None, Some(day(41)))
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.scan_id)
                .collect();
            assert_eq!(last_day, ["s3"], "{}", engine.name());
            let events: Vec<String> = store
                .events(None, Some(day(40)))
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.measured_at[..10].to_string())
                .collect();
            assert_eq!(events, ["2025-02-10", "2025-02-11"], "{}", engine.name());
            let (seen, snapshots) = store.last_snapshots("db").await.unwrap();
            assert!(seen);
            assert_eq!(
                snapshots["main/orders"],
                [col("id", "bigint")],
                "{}",
                engine.name()
            );
            // a scan id longer than MySQL's VARCHAR(255): there its INSERTs fail inside the
            // transaction and the scan leaves nothing, not even the rows written before the
            // failure; the other engines' text columns take it, and the scan is there whole
            let mut long = scan("s4", 42, 7.0, vec![col("id", "bigint")]);
            long.scan_id = "s".repeat(600);
            let written = store.record(&long).await;
            let after = store
                .points(Some("db/main/orders"), Some("row_count"))
                .await
                .unwrap();
            match engine {
                Engine::MySql => {
                    assert!(written.is_err());
                    assert_eq!(after.len(), 2, "{}: {after:?}", engine.name());
                }
                _ => {
                    assert!(written.is_ok(), "{}: {written:?}", engine.name());
                    assert_eq!(after.len(), 3, "{}: {after:?}", engine.name());
                }
            }
        });
    }
}

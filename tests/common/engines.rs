//! Real PostgreSQL and MySQL/MariaDB servers for tests (and DuckDB files beside them):
//! each sandbox is a schema or database of its own with a unique name, dropped when the
//! sandbox is.
//!
//! Servers come from ASSAY_TEST_POSTGRES_URL / ASSAY_TEST_MYSQL_URL, or the local
//! defaults; `scripts/test` makes sure they answer before the tests run. With the cargo
//! feature `spark`, a Spark cluster answers at ASSAY_TEST_SPARK_URL (scripts/test starts
//! one); its sandboxes are databases of their own.

use std::sync::atomic::{AtomicUsize, Ordering};

use mysql_async::prelude::Queryable;

use super::Project;

pub fn postgres_url() -> String {
    std::env::var("ASSAY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn mysql_url() -> String {
    std::env::var("ASSAY_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

#[cfg(feature = "spark")]
pub fn spark_url() -> String {
    std::env::var("ASSAY_TEST_SPARK_URL").expect(
        "ASSAY_TEST_SPARK_URL is not set: scripts/test starts a Spark cluster (scripts/spark-cluster)",
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    DuckDb,
    Postgres,
    MySql,
    #[cfg(feature = "spark")]
    Spark,
}

/// The engines with a store of their own (history, failed rows): every feature's tests.
pub const ENGINES: [Engine; 3] = [Engine::DuckDb, Engine::Postgres, Engine::MySql];

/// Every engine assay verifies on: the conformance suite and the attacks on user SQL.
pub fn sql_engines() -> Vec<Engine> {
    #[allow(unused_mut)]
    let mut engines = ENGINES.to_vec();
    #[cfg(feature = "spark")]
    engines.push(Engine::Spark);
    engines
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::DuckDb => "duckdb",
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
            #[cfg(feature = "spark")]
            Engine::Spark => "spark",
        }
    }

    pub fn quote(self, ident: &str) -> String {
        match self {
            Engine::MySql => format!("`{}`", ident.replace('`', "``")),
            #[cfg(feature = "spark")]
            Engine::Spark => format!("`{}`", ident.replace('`', "``")),
            _ => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }

    pub fn literal(self, s: &str) -> String {
        match self {
            Engine::MySql => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
            #[cfg(feature = "spark")]
            Engine::Spark => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            _ => format!("'{}'", s.replace('\'', "''")),
        }
    }

    /// A table's name as this engine can hold it: Spark's session catalog takes letters,
    /// digits and `_` only (and folds case), so `Odd Table` is `odd_table` there.
    pub fn table_name(self, name: &str) -> String {
        match self {
            #[cfg(feature = "spark")]
            Engine::Spark => name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect(),
            _ => name.to_string(),
        }
    }

    /// A portable column type (see tests/conformance/cases.yml) in this engine.
    pub fn column_type(self, portable: &str) -> String {
        match (self, portable) {
            (Engine::MySql, "timestamp") => "DATETIME(6)".into(),
            (Engine::MySql, "timestamptz") => "TIMESTAMP(6) NULL".into(),
            (Engine::Postgres, "double") => "DOUBLE PRECISION".into(),
            // Spark's TIMESTAMP is an instant; TIMESTAMP_NTZ a wall-clock time
            #[cfg(feature = "spark")]
            (Engine::Spark, "timestamp") => "TIMESTAMP_NTZ".into(),
            #[cfg(feature = "spark")]
            (Engine::Spark, "timestamptz") => "TIMESTAMP".into(),
            #[cfg(feature = "spark")]
            (Engine::Spark, "text") => "STRING".into(),
            (_, "timestamptz") => "TIMESTAMPTZ".into(),
            (_, other) => other.to_uppercase(),
        }
    }
}

pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        nanos % 100_000
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn pg_admin() -> Result<tokio_postgres::Client, String> {
    let (client, conn) = tokio_postgres::connect(&postgres_url(), tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("PostgreSQL at {} does not answer: {e}", postgres_url()))?;
    tokio::spawn(conn);
    Ok(client)
}

async fn mysql_admin() -> Result<mysql_async::Conn, String> {
    let opts = mysql_async::Opts::from_url(&mysql_url()).map_err(|e| e.to_string())?;
    mysql_async::Conn::new(opts)
        .await
        .map_err(|e| format!("MySQL at {} does not answer: {e}", mysql_url()))
}

/// Run statements on a server as its administrator (the test URL's user).
pub fn admin(engine: Engine, statements: &[String]) -> Result<(), String> {
    runtime().block_on(async {
        match engine {
            Engine::Postgres => {
                let client = pg_admin().await?;
                for s in statements {
                    client
                        .batch_execute(s)
                        .await
                        .map_err(|e| format!("{s}: {e:?}"))?;
                }
            }
            Engine::MySql => {
                let mut conn = mysql_admin().await?;
                for s in statements {
                    conn.query_drop(s).await.map_err(|e| format!("{s}: {e}"))?;
                }
                conn.disconnect().await.map_err(|e| e.to_string())?;
            }
            #[cfg(feature = "spark")]
            Engine::Spark => {
                spark_batches(statements)?;
            }
            Engine::DuckDb => unreachable!("DuckDB sandboxes run their SQL directly"),
        }
        Ok(())
    })
}

/// Run statements on the Spark cluster, the last one's result as Arrow batches. The
/// client blocks on a runtime of its own: a thread of its own here.
#[cfg(feature = "spark")]
pub fn spark_batches(
    statements: &[String],
) -> Result<Vec<arrow::record_batch::RecordBatch>, String> {
    let statements = statements.to_vec();
    std::thread::spawn(move || {
        let session = spark_connect::SparkSessionBuilder::new()
            .remote(&spark_url())
            .get_or_create()
            .map_err(|e| format!("Spark at {} does not answer: {e}", spark_url()))?;
        let mut last = Vec::new();
        for s in &statements {
            let df = session.sql(s).map_err(|e| format!("{s}: {e}"))?;
            last = df
                .collect_record_batches()
                .map_err(|e| format!("{s}: {e}"))?;
        }
        Ok(last)
    })
    .join()
    .unwrap()
}

/// Ask a server for one number.
pub fn admin_number(engine: Engine, sql: &str) -> i64 {
    runtime().block_on(async {
        match engine {
            Engine::Postgres => {
                let row = pg_admin().await.unwrap().query_one(sql, &[]).await.unwrap();
                row.get::<_, i64>(0)
            }
            Engine::MySql => {
                let mut conn = mysql_admin().await.unwrap();
                let n: Option<i64> = conn.query_first(sql).await.unwrap();
                conn.disconnect().await.unwrap();
                n.unwrap()
            }
            #[cfg(feature = "spark")]
            Engine::Spark => {
                use arrow::array::AsArray;
                let batches = spark_batches(&[format!("SELECT CAST(({sql}) AS BIGINT)")]).unwrap();
                batches[0]
                    .column(0)
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .value(0)
            }
            Engine::DuckDb => unreachable!(),
        }
    })
}

/// A value of a test table row.
#[derive(Debug, Clone)]
pub enum Cell {
    Null,
    Number(String),
    Text(String),
}

/// A project whose data source `db` is one engine, with a schema (Postgres), database
/// (MySQL) or file (DuckDB) of its own.
pub struct Sandbox {
    pub engine: Engine,
    pub project: Project,
    /// Postgres schema, MySQL database, DuckDB "main"
    pub schema: String,
}

impl Sandbox {
    pub fn new(engine: Engine) -> Sandbox {
        let project = Project::empty();
        let schema = match engine {
            Engine::DuckDb => "main".to_string(),
            _ => unique("assay_t"),
        };
        let connection = match engine {
            Engine::DuckDb => "{database: db.duckdb}".to_string(),
            Engine::Postgres => format!("{{connection_string: '{}'}}", postgres_url()),
            Engine::MySql => format!("{{connection_string: '{}'}}", mysql_url()),
            #[cfg(feature = "spark")]
            Engine::Spark => format!("{{url: '{}'}}", spark_url()),
        };
        project.write(
            "assay.yml",
            &format!(
                "data_sources:\n  - name: db\n    type: {}\n    connection: {connection}\n",
                engine.name()
            ),
        );
        let sandbox = Sandbox {
            engine,
            project,
            schema,
        };
        match engine {
            Engine::DuckDb => {
                sandbox.run(&["CREATE TABLE IF NOT EXISTS assay_keep(x INTEGER)".into()])
            }
            Engine::Postgres => {
                sandbox.run(&[format!("CREATE SCHEMA {}", engine.quote(&sandbox.schema))])
            }
            Engine::MySql => sandbox.run(&[format!(
                "CREATE DATABASE {} DEFAULT CHARACTER SET utf8mb4",
                engine.quote(&sandbox.schema)
            )]),
            #[cfg(feature = "spark")]
            Engine::Spark => {
                sandbox.run(&[format!("CREATE DATABASE {}", engine.quote(&sandbox.schema))])
            }
        }
        sandbox
    }

    /// This sandbox as an entry of another project's `data_sources:`, named `name` (a
    /// DuckDB sandbox's file by its full path).
    pub fn data_source_entry(&self, name: &str) -> String {
        let connection = match self.engine {
            Engine::DuckDb => format!(
                "{{database: '{}'}}",
                self.project.path().join("db.duckdb").display()
            ),
            Engine::Postgres => format!("{{connection_string: '{}'}}", postgres_url()),
            Engine::MySql => format!("{{connection_string: '{}'}}", mysql_url()),
            #[cfg(feature = "spark")]
            Engine::Spark => format!("{{url: '{}'}}", spark_url()),
        };
        format!(
            "  - {{name: {name}, type: {}, connection: {connection}}}\n",
            self.engine.name()
        )
    }

    /// Run statements in the sandbox (DuckDB: in its file, closed again afterwards so the
    /// verification can open it).
    pub fn run(&self, statements: &[String]) {
        match self.engine {
            Engine::DuckDb => {
                let conn = duckdb::Connection::open(self.project.path().join("db.duckdb")).unwrap();
                for s in statements {
                    conn.execute_batch(s).unwrap_or_else(|e| panic!("{s}: {e}"));
                }
            }
            engine => admin(engine, statements).unwrap_or_else(|e| panic!("{e}")),
        }
    }

    /// `db/<schema>` (Postgres), `db/<database>` (MySQL), `db/main` (DuckDB)
    pub fn dataset_prefix(&self) -> String {
        format!("db/{}", self.schema)
    }

    /// The table's name qualified for SQL in this engine.
    pub fn qualified(&self, table: &str) -> String {
        format!(
            "{}.{}",
            self.engine.quote(&self.schema),
            self.engine.quote(table)
        )
    }

    pub fn create_table(&self, name: &str, columns: &[(String, String)], rows: &[Vec<Cell>]) {
        let e = self.engine;
        let defs: Vec<String> = columns
            .iter()
            .map(|(c, t)| format!("{} {}", e.quote(c), e.column_type(t)))
            .collect();
        let mut statements = vec![format!(
            "CREATE TABLE {} ({})",
            self.qualified(name),
            defs.join(", ")
        )];
        for row in rows {
            let values: Vec<String> = row
                .iter()
                .zip(columns)
                .map(|(cell, (_, ty))| match cell {
                    Cell::Null => "NULL".to_string(),
                    Cell::Number(n) => n.clone(),
                    // MySQL's TIMESTAMP takes no zone offset: load it as UTC (sessions run in UTC)
                    Cell::Text(t) if e == Engine::MySql && ty == "timestamptz" => e.literal(
                        &chrono::DateTime::parse_from_rfc3339(t)
                            .unwrap()
                            .with_timezone(&chrono::Utc)
                            .format("%Y-%m-%d %H:%M:%S%.6f")
                            .to_string(),
                    ),
                    // Spark writes text to a typed column only when told to
                    #[cfg(feature = "spark")]
                    Cell::Text(t) if e == Engine::Spark => {
                        format!("CAST({} AS {})", e.literal(t), e.column_type(ty))
                    }
                    Cell::Text(t) => e.literal(t),
                })
                .collect();
            statements.push(format!(
                "INSERT INTO {} VALUES ({})",
                self.qualified(name),
                values.join(", ")
            ));
        }
        #[cfg(feature = "spark")]
        if e == Engine::Spark && statements.len() > 2 {
            // one INSERT of every row: each statement is a job on the cluster
            let rows: Vec<String> = statements
                .drain(1..)
                .map(|s| s[s.find(" VALUES ").unwrap() + 8..].to_string())
                .collect();
            statements.push(format!(
                "INSERT INTO {} VALUES {}",
                self.qualified(name),
                rows.join(", ")
            ));
        }
        if e == Engine::MySql {
            // loaded in UTC, like the sessions that read it (one connection runs them all)
            statements.insert(0, "SET time_zone = '+00:00'".into());
        }
        self.run(&statements);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let q = self.engine.quote(&self.schema);
        let result = match self.engine {
            Engine::DuckDb => Ok(()),
            Engine::Postgres => admin(self.engine, &[format!("DROP SCHEMA IF EXISTS {q} CASCADE")]),
            Engine::MySql => admin(self.engine, &[format!("DROP DATABASE IF EXISTS {q}")]),
            #[cfg(feature = "spark")]
            Engine::Spark => admin(
                self.engine,
                &[format!("DROP DATABASE IF EXISTS {q} CASCADE")],
            ),
        };
        if let Err(e) = result {
            eprintln!("could not drop test schema {}: {e}", self.schema);
        }
    }
}

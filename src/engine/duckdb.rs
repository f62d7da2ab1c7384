//! DuckDB database files (or `:memory:`), opened read-only; also the default store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use super::{
    config_path, settings_of, Discovered, Engine, Files, Settings, StoreEngine, StoreTypes,
};
use super::{DataSourceConfig, DatasetPathError, Place};
use crate::decode::Reader;
use crate::error::StoreError;
use crate::exec::duckdb::DuckDbExecutor;
use crate::exec::{ExecError, Executor, RunControl};
use crate::sql::ast::{Statement, TableRef};
use crate::sql::dialect::Dialect;
use crate::sql::duckdb::DuckDbDialect;
use crate::yaml::Node;

pub struct DuckDb;
pub static DUCKDB: DuckDb = DuckDb;

#[derive(Debug, Clone)]
pub struct DuckDbSettings {
    /// the file, or ":memory:"
    pub database: String,
    /// assay's own file (the default store): a broken one may be moved aside
    pub owned_by_assay: bool,
    /// DuckDB's memory_limit for verification sessions
    pub memory_limit: String,
    /// a database already open and loaded (verify --channel's records), used instead of
    /// `database`
    pub loaded: Option<Arc<crate::exec::duckdb_ingest::Loaded>>,
}

impl Settings for DuckDbSettings {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[async_trait]
impl Engine for DuckDb {
    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn dialect(&self) -> &'static dyn Dialect {
        &DuckDbDialect
    }

    fn read_connection(
        &self,
        r: &mut Reader,
        conn: &Node,
        base: &Path,
    ) -> Option<Arc<dyn Settings>> {
        if !r.keys(conn, &["database", "memory_limit"], "a duckdb connection") {
            return None;
        }
        let db = r.required(conn, "database", "a duckdb connection")?;
        let database = r.string(db, "database")?;
        let memory_limit = super::memory_limit(r, conn)?;
        let database = if database == ":memory:" {
            database
        } else {
            config_path(base, &database).to_string_lossy().into_owned()
        };
        Some(Arc::new(DuckDbSettings {
            database,
            owned_by_assay: false,
            memory_limit,
            loaded: None,
        }))
    }

    fn odcs_path(&self, _ds: &DataSourceConfig, place: &Place, table: &str) -> Vec<String> {
        let schema = place.schema.clone().unwrap_or_else(|| "main".into());
        vec![schema, table.to_string()]
    }

    fn table_ref(
        &self,
        ds: &DataSourceConfig,
        parts: &[String],
    ) -> Result<TableRef, DatasetPathError> {
        match parts.len() {
            2 | 3 => Ok(TableRef::new(parts.to_vec())),
            _ => Err(DatasetPathError::Written {
                engine: self.name(),
                form: format!("{}/[catalog/]schema/table", ds.name),
            }),
        }
    }

    async fn open(
        &self,
        ds: &DataSourceConfig,
        _connections: usize,
        _files: Files,
    ) -> Result<Arc<dyn Executor>, ExecError> {
        let name = ds.name.clone();
        let settings = settings_of::<DuckDbSettings>(ds.settings.as_ref(), self.name()).clone();
        if let Some(loaded) = settings.loaded {
            return open_blocking(move || {
                DuckDbExecutor::open_loaded(&name, loaded, &settings.memory_limit)
            })
            .await;
        }
        open_blocking(move || {
            DuckDbExecutor::open_database(&name, &settings.database, &settings.memory_limit)
        })
        .await
    }

    fn store(&self) -> Option<&dyn StoreEngine> {
        Some(self)
    }

    async fn discover(
        &self,
        ds: &DataSourceConfig,
        control: &RunControl,
    ) -> Result<Vec<Discovered>, ExecError> {
        super::discover_by_catalog(self, ds, control).await
    }
}

/// Open a DuckDB executor on the blocking pool: DuckDB reads files as it opens.
pub(super) async fn open_blocking(
    open: impl FnOnce() -> Result<DuckDbExecutor, ExecError> + Send + 'static,
) -> Result<Arc<dyn Executor>, ExecError> {
    tokio::task::spawn_blocking(move || open().map(|e| Arc::new(e) as Arc<dyn Executor>))
        .await
        .unwrap_or_else(|e| {
            Err(ExecError::Query(format!(
                "opening the data source failed: {e}"
            )))
        })
}

#[async_trait]
impl StoreEngine for DuckDb {
    fn types(&self) -> StoreTypes {
        StoreTypes {
            text: "VARCHAR",
            long_text: "VARCHAR",
            json: "JSON",
            timestamp: "TIMESTAMP",
            number: "DOUBLE",
            integer: "BIGINT",
            boolean: "BOOLEAN",
            date: "DATE",
            decimal: "DECIMAL(38,10)",
        }
    }

    async fn write(
        &self,
        _name: &str,
        settings: &dyn Settings,
        statements: Vec<Statement>,
    ) -> Result<(), StoreError> {
        let s = settings_of::<DuckDbSettings>(settings, self.name()).clone();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            let conn = open_store(Path::new(&s.database), s.owned_by_assay)?;
            Ok(crate::exec::duckdb::execute_writes(&conn, &statements)?)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// Open the DuckDB store file, making it if needed. A new file is made whole beside its
/// place and renamed into it, so a crash or a full disk never leaves half a store. A file
/// that is not a DuckDB database (left empty by a full disk, say) is moved aside, with a
/// warning, and a new store made, so one bad moment does not break every later run.
fn open_store(path: &Path, owned: bool) -> Result<duckdb::Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if owned {
            crate::paths::state_dir(dir)
        } else {
            std::fs::create_dir_all(dir)
        }
        .map_err(|e| StoreError::file("create", dir, e))?;
    }
    if owned {
        crate::paths::no_links(path).map_err(|e| StoreError::file("open", path, e))?;
        let wal = wal_of(path);
        crate::paths::no_links(&wal).map_err(|e| StoreError::file("open", &wal, e))?;
    }
    if owned && path.exists() && !is_duckdb_file(path) {
        let aside = path.with_file_name(format!(
            "{}.broken-{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        std::fs::rename(path, &aside).map_err(|e| StoreError::NotMovedAside {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let wal = wal_of(path);
        if wal.exists() {
            let _ = std::fs::rename(&wal, wal_of(&aside));
        }
        tracing::warn!(
            "the diagnostics store '{}' was not a DuckDB database; it was moved to '{}' and a new store made",
            path.display(),
            aside.display()
        );
    }
    if !path.exists() {
        let tmp = path.with_file_name(format!(
            ".{}.tmp-{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        let made = (|| -> Result<(), Box<dyn std::error::Error>> {
            let conn = duckdb::Connection::open(&tmp)?;
            conn.execute_batch("CHECKPOINT")?;
            drop(conn);
            std::fs::File::open(&tmp).and_then(|f| f.sync_all())?;
            Ok(std::fs::rename(&tmp, path)?)
        })();
        if let Err(e) = made {
            let _ = std::fs::remove_file(&tmp);
            let _ = std::fs::remove_file(wal_of(&tmp));
            return Err(StoreError::file("create", path, e));
        }
    }
    duckdb::Connection::open(path).map_err(|e| StoreError::file("open", path, e))
}

/// DuckDB files carry "DUCK" after an 8-byte checksum.
fn is_duckdb_file(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 12];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|_| &head[8..12] == b"DUCK")
}

fn wal_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".wal");
    PathBuf::from(name)
}

//! The engines assay verifies in, each one module exporting one value that implements
//! [`Engine`]: its name, how its `connection:` is read, how a dataset path names a table,
//! its SQL dialect, how its executor opens, and (when it can hold one) how a store is
//! written. `ENGINES` is the one list of them.
//!
//! Adding an engine: a module here, one line in `ENGINES`, its dialect in `sql/` and its
//! executor in `exec/`. Nothing else matches on engines.

mod dataset_path;
mod duckdb;
mod files;
mod mysql;
mod postgres;
pub mod server_settings;
#[cfg(feature = "spark")]
mod spark;

use std::any::Any;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use crate::decode::Reader;
use crate::error::StoreError;
use crate::exec::{ExecError, Executor, Limits, RunControl, Value};
use crate::sql::ast::{Statement, TableRef};
use crate::sql::dialect::Dialect;
use crate::yaml::Node;

pub use self::dataset_path::{DatasetPathError, FileRefusal};
pub use self::duckdb::DuckDbSettings;

/// Every engine, by its `type:` name in a config.
pub static ENGINES: &[&dyn Engine] = &[
    &duckdb::DUCKDB,
    &files::FILES,
    &postgres::POSTGRES,
    &mysql::MYSQL,
    #[cfg(feature = "spark")]
    &spark::SPARK,
];

pub fn by_name(name: &str) -> Option<&'static dyn Engine> {
    ENGINES.iter().copied().find(|e| e.name() == name)
}

pub fn names() -> Vec<&'static str> {
    ENGINES.iter().map(|e| e.name()).collect()
}

/// Where an ODCS server entry puts its tables: `database`, `schema` and, for files,
/// `format`, as the contract's `servers[]` entry writes them.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub database: Option<String>,
    pub schema: Option<String>,
    pub format: Option<String>,
}

/// A configured data source: its engine, and that engine's own connection settings.
#[derive(Clone)]
pub struct DataSourceConfig {
    pub name: String,
    pub engine: &'static dyn Engine,
    pub settings: Arc<dyn Settings>,
}

impl fmt::Debug for DataSourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataSourceConfig")
            .field("name", &self.name)
            .field("engine", &self.engine.name())
            .field("settings", &self.settings)
            .finish()
    }
}

impl DataSourceConfig {
    pub fn type_name(&self) -> &'static str {
        self.engine.name()
    }

    pub fn dialect(&self) -> &'static dyn Dialect {
        self.engine.dialect()
    }

    /// The table a dataset path (after the data source name) refers to.
    pub fn table_ref(&self, parts: &[String]) -> Result<TableRef, DatasetPathError> {
        self.engine.table_ref(self, parts)
    }

    /// files data source: the file a dataset path names.
    pub fn file_path(&self, parts: &[String]) -> Option<PathBuf> {
        self.engine.file_path(self.settings.as_ref(), parts)
    }
}

/// An engine's own connection settings, read from `connection:`.
pub trait Settings: fmt::Debug + Send + Sync + Any {
    fn as_any(&self) -> &dyn Any;
}

/// The files of a `files` data source its contracts name: (view, file).
pub type Files = Vec<(String, PathBuf)>;

#[async_trait]
pub trait Engine: Send + Sync {
    /// `type:` in a config, and the engine's name in messages and `--plan`
    fn name(&self) -> &'static str;

    fn dialect(&self) -> &'static dyn Dialect;

    /// `connection:` of a data source, errors at their positions; relative paths are
    /// relative to `base`
    fn read_connection(
        &self,
        r: &mut Reader,
        conn: &Node,
        base: &Path,
    ) -> Option<Arc<dyn Settings>>;

    /// The table a dataset path (after the data source's name) refers to.
    fn table_ref(
        &self,
        ds: &DataSourceConfig,
        parts: &[String],
    ) -> Result<TableRef, DatasetPathError>;

    /// The dataset path (after the data source's name) of a table an ODCS contract
    /// names: `table` in the place its server entry gives, or where this engine looks
    /// when it gives none.
    fn odcs_path(&self, ds: &DataSourceConfig, place: &Place, table: &str) -> Vec<String>;

    /// The file a dataset path names, for engines that read files.
    fn file_path(&self, _settings: &dyn Settings, _parts: &[String]) -> Option<PathBuf> {
        None
    }

    /// An executor with at most `connections` sessions (and, for files, views of `files`).
    async fn open(
        &self,
        ds: &DataSourceConfig,
        connections: usize,
        files: Files,
    ) -> Result<Arc<dyn Executor>, ExecError>;

    /// How a store (failed rows now, history next) is kept here; None: it cannot be.
    fn store(&self) -> Option<&dyn StoreEngine>;

    /// The datasets a scan finds here: tables and views, or files under the root.
    async fn discover(
        &self,
        ds: &DataSourceConfig,
        control: &RunControl,
    ) -> Result<Vec<Discovered>, ExecError>;
}

/// A dataset a scan found: its path after the data source's name, as contracts write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub path: Vec<String>,
    pub view: bool,
}

/// Discovery through the dialect's catalog query, in one session of the engine's own.
pub(crate) async fn discover_by_catalog(
    engine: &dyn Engine,
    ds: &DataSourceConfig,
    control: &RunControl,
) -> Result<Vec<Discovered>, ExecError> {
    let exec = engine.open(ds, 1, Files::new()).await?;
    let mut session = exec.session(control).await?;
    let rows = session
        .rows(&engine.dialect().tables_query(), Limits::rows(usize::MAX))
        .await;
    session.finish().await;
    // catalog names and types are never NULL
    let text = |v: &Value| v.to_text().unwrap_or_default();
    Ok(rows?
        .rows
        .iter()
        .filter(|r| r.len() == 3)
        .map(|r| Discovered {
            path: vec![text(&r[0]), text(&r[1])],
            view: text(&r[2]) == "view",
        })
        .collect())
}

/// Column types of a store's tables, in the engine's spelling.
pub struct StoreTypes {
    pub text: &'static str,
    pub long_text: &'static str,
    pub json: &'static str,
    pub timestamp: &'static str,
    /// a floating-point number (metric values)
    pub number: &'static str,
    /// a 64-bit integer
    pub integer: &'static str,
    pub boolean: &'static str,
    pub date: &'static str,
    /// an exact decimal when no precision is given: as wide as the engine allows
    pub decimal: &'static str,
}

#[async_trait]
pub trait StoreEngine: Send + Sync {
    fn types(&self) -> StoreTypes;

    /// The statement that makes the store's schema (a database on MySQL).
    fn create_schema(&self, quoted: &str) -> String {
        format!("CREATE SCHEMA IF NOT EXISTS {quoted}")
    }

    /// Run `statements` in one transaction, their values bound as parameters.
    async fn write(
        &self,
        name: &str,
        settings: &dyn Settings,
        statements: Vec<Statement>,
    ) -> Result<(), StoreError>;
}

/// The settings of this engine, or a message saying whose they are.
pub(crate) fn settings_of<'a, T: 'static>(settings: &'a dyn Settings, engine: &str) -> &'a T {
    settings
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("{engine} got another engine's settings"))
}

/// A path from a config, relative to the config's folder.
pub(crate) fn config_path(base: &Path, p: &str) -> PathBuf {
    let path = PathBuf::from(p);
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

/// `memory_limit:` of an embedded DuckDB connection (duckdb, files): a size DuckDB takes,
/// or the default. None when it is written wrong (reported).
pub(crate) fn memory_limit(r: &mut Reader, conn: &Node) -> Option<String> {
    let Some(n) = conn.get("memory_limit").filter(|n| !n.is_null()) else {
        return Some(crate::exec::duckdb::DEFAULT_MEMORY_LIMIT.to_string());
    };
    let text = r.string(n, "memory_limit")?;
    if !crate::exec::duckdb::valid_memory_limit(&text) {
        r.error(
            n.span,
            format!("memory_limit '{text}' is not a size"),
            Some(format!(
                "write it like 512MB or 8GB (the default is {})",
                crate::exec::duckdb::DEFAULT_MEMORY_LIMIT
            )),
        );
        return None;
    }
    Some(text.trim().to_string())
}

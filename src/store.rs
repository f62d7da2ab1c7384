//! Where assay keeps what it writes: a table set in a data source of the user's (a
//! duckdb, postgres or mysql one), or by default an embedded DuckDB file under `.assay/`.
//! The diagnostics store (failed rows) and the history store (scans) are both kept so.
//! DuckDB is named here because the default store is an embedded DuckDB file: the one
//! engine that needs no server.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::engine::{
    self, DataSourceConfig, DuckDbSettings, Engine, Settings, StoreEngine, StoreTypes,
};
use crate::error::RunError;
use crate::sql::ast::{CreateTable, Insert, Param, Statement, TableRef};
use crate::sql::dialect::{insert_batch, print_create_table, print_insert, Dialect};

pub struct StoreLocation {
    engine: &'static dyn Engine,
    store: &'static dyn StoreEngine,
    dialect: &'static dyn Dialect,
    settings: Arc<dyn Settings>,
    name: String,
    schema: Option<String>,
    /// "duckdb .assay/diagnostics.duckdb" or "postgres data source 'x'"
    pub label: String,
}

impl StoreLocation {
    /// The configured data source (a store-capable one: the config refused others), or
    /// the default DuckDB file `.assay/<file>` in the project folder.
    pub fn resolve(
        config: &Config,
        data_source: Option<&str>,
        schema: Option<String>,
        file: &str,
    ) -> StoreLocation {
        let configured = data_source.and_then(|n| config.data_source(n));
        if let Some((ds, store)) = configured.and_then(|ds| ds.engine.store().map(|s| (ds, s))) {
            return StoreLocation {
                engine: ds.engine,
                store,
                dialect: ds.dialect(),
                settings: ds.settings.clone(),
                name: ds.name.clone(),
                schema,
                label: format!("{} data source '{}'", ds.type_name(), ds.name),
            };
        }
        let path = if config.project_dir == Path::new(".") {
            PathBuf::from(".assay").join(file)
        } else {
            config.project_dir.join(".assay").join(file)
        };
        let duckdb = engine::by_name("duckdb").expect("duckdb is an engine");
        StoreLocation {
            engine: duckdb,
            store: duckdb.store().expect("duckdb holds stores"),
            dialect: duckdb.dialect(),
            label: format!("duckdb {}", path.display()),
            settings: Arc::new(DuckDbSettings {
                database: path.to_string_lossy().into_owned(),
                owned_by_assay: true,
                loaded: None,
                memory_limit: crate::exec::duckdb::DEFAULT_MEMORY_LIMIT.to_string(),
            }),
            name: file.trim_end_matches(".duckdb").to_string(),
            schema,
        }
    }

    /// A data source of the user's as a store (a channel's sink table): None for an
    /// engine that cannot hold one.
    pub fn of_data_source(ds: &DataSourceConfig, schema: Option<String>) -> Option<StoreLocation> {
        let store = ds.engine.store()?;
        Some(StoreLocation {
            engine: ds.engine,
            store,
            dialect: ds.dialect(),
            settings: ds.settings.clone(),
            name: ds.name.clone(),
            schema,
            label: format!("{} data source '{}'", ds.type_name(), ds.name),
        })
    }

    pub fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }

    /// An embedded DuckDB file (the default or a configured duckdb data source): one
    /// connection at a time may open it.
    pub fn is_embedded(&self) -> bool {
        self.settings
            .as_any()
            .downcast_ref::<DuckDbSettings>()
            .is_some()
    }

    /// The store as a data source, to read it back through the engine's read-only
    /// sessions; None for an embedded file not made yet (nothing to read).
    pub fn reader(&self) -> Option<DataSourceConfig> {
        let owned_file = self
            .settings
            .as_any()
            .downcast_ref::<DuckDbSettings>()
            .filter(|s| s.owned_by_assay);
        if owned_file.is_some_and(|s| !Path::new(&s.database).exists()) {
            return None;
        }
        Some(DataSourceConfig {
            name: self.name.clone(),
            engine: self.engine,
            settings: self.settings.clone(),
        })
    }

    pub fn types(&self) -> StoreTypes {
        self.store.types()
    }

    /// A table of the store, in its schema when it has one.
    pub fn table_ref(&self, table: &str) -> TableRef {
        match &self.schema {
            Some(s) => TableRef::new(vec![s.clone(), table.to_string()]),
            None => TableRef::new(vec![table.to_string()]),
        }
    }

    /// The table, qualified and quoted for the store's engine.
    pub fn table(&self, table: &str) -> String {
        self.dialect.table(&self.table_ref(table))
    }

    /// The statements that make the store's schema and these tables when missing.
    pub fn create_statements(&self, tables: &[(&str, Vec<(&str, &str)>)]) -> Vec<Statement> {
        let mut out = Vec::new();
        if let Some(s) = &self.schema {
            out.push(
                self.store
                    .create_schema(&self.dialect.quote_ident(s))
                    .into(),
            );
        }
        for (table, columns) in tables {
            out.push(
                print_create_table(
                    self.dialect,
                    &CreateTable {
                        table: self.table_ref(table),
                        columns: columns
                            .iter()
                            .map(|(c, t)| (c.to_string(), t.to_string()))
                            .collect(),
                    },
                )
                .into(),
            );
        }
        out
    }

    /// INSERTs of `rows` into a table, a batch of rows per statement, every value bound.
    pub fn inserts(&self, table: &str, columns: &[&str], rows: Vec<Vec<Param>>) -> Vec<Statement> {
        let batch = insert_batch(columns.len());
        let mut rows = rows.into_iter().peekable();
        let mut out = Vec::new();
        while rows.peek().is_some() {
            out.push(print_insert(
                self.dialect,
                &Insert {
                    table: self.table_ref(table),
                    columns: columns.iter().map(|c| c.to_string()).collect(),
                    rows: rows.by_ref().take(batch).collect(),
                },
            ));
        }
        out
    }

    /// Run the statements in one transaction: all of them are written, or none. Two runs
    /// that make the same table at once (`CREATE ... IF NOT EXISTS` is not atomic on
    /// PostgreSQL: the loser fails on a catalog key) are both written: the loser's
    /// transaction, rolled back whole, is run once more and finds the table there.
    pub async fn execute(&self, statements: Vec<Statement>) -> Result<(), RunError> {
        let again = statements.clone();
        match self
            .store
            .write(&self.name, self.settings.as_ref(), statements)
            .await
        {
            Err(e) if e.to_string().contains("violates unique constraint \"pg_") => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                self.store
                    .write(&self.name, self.settings.as_ref(), again)
                    .await
            }
            written => written,
        }
        .map_err(RunError::Store)
    }
}

/// A read-only session on a data source (with its executor, which must outlive it): how
/// assay reads back what it stored.
pub(crate) async fn open_session(
    ds: &DataSourceConfig,
) -> Result<
    (
        Arc<dyn crate::exec::Executor>,
        Box<dyn crate::exec::Session>,
    ),
    RunError,
> {
    let store_error = |e: crate::exec::ExecError| RunError::Store(e.into());
    let exec = ds
        .engine
        .open(ds, 1, Vec::new())
        .await
        .map_err(store_error)?;
    let session = exec
        .session(&crate::exec::RunControl::new())
        .await
        .map_err(store_error)?;
    Ok((exec, session))
}

//! PostgreSQL servers.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::DataSourceConfig;
use super::{settings_of, Discovered, Engine, Files, Settings, StoreEngine, StoreTypes};
use crate::decode::Reader;
use crate::exec::postgres::PostgresExecutor;
use crate::exec::server::ServerConfig;
use crate::exec::{ExecError, Executor, RunControl};
use crate::sql::ast::{Statement, TableRef};
use crate::sql::dialect::Dialect;
use crate::sql::postgres::PostgresDialect;
use crate::yaml::Node;

pub struct Postgres;
pub static POSTGRES: Postgres = Postgres;

impl Settings for ServerConfig {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[async_trait]
impl Engine for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn dialect(&self) -> &'static dyn Dialect {
        &PostgresDialect
    }

    fn read_connection(
        &self,
        r: &mut Reader,
        conn: &Node,
        base: &Path,
    ) -> Option<Arc<dyn Settings>> {
        super::server::read(r, conn, "a postgres connection", base, true)
            .map(|s| Arc::new(s) as Arc<dyn Settings>)
    }

    fn table_ref(&self, ds: &DataSourceConfig, parts: &[String]) -> Result<TableRef, String> {
        let server = settings_of::<ServerConfig>(ds.settings.as_ref(), self.name());
        match parts {
            [schema, table] => Ok(TableRef::new(vec![schema.clone(), table.clone()])),
            // a Postgres session sees one database: the path's must be the connected one
            [database, schema, table] => match &server.effective_database {
                Some(db) if db == database => {
                    Ok(TableRef::new(vec![schema.clone(), table.clone()]))
                }
                Some(db) => Err(format!(
                    "the path names database '{database}', but data source '{}' connects to database '{db}' (a Postgres connection reads one database; add a data source for '{database}')",
                    ds.name
                )),
                None => Err(format!(
                    "the path names database '{database}', but data source '{}' names no database",
                    ds.name
                )),
            },
            _ => Err(format!(
                "a postgres dataset is written {0}/schema/table or {0}/database/schema/table",
                ds.name
            )),
        }
    }

    async fn open(
        &self,
        ds: &DataSourceConfig,
        connections: usize,
        _files: Files,
    ) -> Result<Arc<dyn Executor>, ExecError> {
        let server = settings_of::<ServerConfig>(ds.settings.as_ref(), self.name());
        PostgresExecutor::new(&ds.name, server, connections)
            .map(|e| Arc::new(e) as Arc<dyn Executor>)
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

#[async_trait]
impl StoreEngine for Postgres {
    fn types(&self) -> StoreTypes {
        StoreTypes {
            text: "TEXT",
            long_text: "TEXT",
            json: "JSONB",
            timestamp: "TIMESTAMP",
            number: "DOUBLE PRECISION",
            integer: "BIGINT",
            boolean: "BOOLEAN",
            date: "DATE",
            decimal: "NUMERIC",
        }
    }

    async fn write(
        &self,
        name: &str,
        settings: &dyn Settings,
        statements: Vec<Statement>,
    ) -> Result<(), String> {
        let server = settings_of::<ServerConfig>(settings, self.name());
        PostgresExecutor::new(name, server, 1)
            .map_err(|e| e.to_string())?
            .execute_writes(&statements)
            .await
            .map_err(|e| e.to_string())
    }
}

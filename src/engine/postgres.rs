//! PostgreSQL servers.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::{settings_of, Discovered, Engine, Files, Settings, StoreEngine, StoreTypes};
use super::{DataSourceConfig, DatasetPathError, Place};
use crate::decode::Reader;
use crate::error::StoreError;
use crate::exec::postgres::PostgresExecutor;
use crate::exec::server_config::ServerConfig;
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
        super::server_settings::read(r, conn, "a postgres connection", base, true)
            .map(|s| Arc::new(s) as Arc<dyn Settings>)
    }

    fn odcs_path(&self, _ds: &DataSourceConfig, place: &Place, table: &str) -> Vec<String> {
        let schema = place.schema.clone().unwrap_or_else(|| "public".into());
        vec![schema, table.to_string()]
    }

    fn table_ref(
        &self,
        ds: &DataSourceConfig,
        parts: &[String],
    ) -> Result<TableRef, DatasetPathError> {
        let server = settings_of::<ServerConfig>(ds.settings.as_ref(), self.name());
        match parts {
            [schema, table] => Ok(TableRef::new(vec![schema.clone(), table.clone()])),
            // a Postgres session sees one database: the path's must be the connected one
            [database, schema, table] => match &server.effective_database {
                Some(db) if db == database => {
                    Ok(TableRef::new(vec![schema.clone(), table.clone()]))
                }
                Some(db) => Err(DatasetPathError::OtherDatabase {
                    database: database.clone(),
                    data_source: ds.name.clone(),
                    connected: db.clone(),
                }),
                None => Err(DatasetPathError::NoDatabase {
                    database: database.clone(),
                    data_source: ds.name.clone(),
                }),
            },
            _ => Err(DatasetPathError::Written {
                engine: self.name(),
                form: format!("{0}/schema/table or {0}/database/schema/table", ds.name),
            }),
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
    ) -> Result<(), StoreError> {
        let server = settings_of::<ServerConfig>(settings, self.name());
        Ok(PostgresExecutor::new(name, server, 1)?
            .execute_writes(&statements)
            .await?)
    }
}

//! MySQL and MariaDB servers.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::{settings_of, Discovered, Engine, Files, Settings, StoreEngine, StoreTypes};
use super::{DataSourceConfig, DatasetPathError, Place};
use crate::decode::Reader;
use crate::error::StoreError;
use crate::exec::mysql::MySqlExecutor;
use crate::exec::server_config::ServerConfig;
use crate::exec::{ExecError, Executor, RunControl};
use crate::sql::ast::{Statement, TableRef};
use crate::sql::dialect::Dialect;
use crate::sql::mysql::MySqlDialect;
use crate::yaml::Node;

pub struct MySql;
pub static MYSQL: MySql = MySql;

#[async_trait]
impl Engine for MySql {
    fn name(&self) -> &'static str {
        "mysql"
    }

    fn dialect(&self) -> &'static dyn Dialect {
        &MySqlDialect
    }

    fn read_connection(
        &self,
        r: &mut Reader,
        conn: &Node,
        base: &Path,
    ) -> Option<Arc<dyn Settings>> {
        super::server_settings::read(r, conn, "a mysql connection", base, false)
            .map(|s| Arc::new(s) as Arc<dyn Settings>)
    }

    /// A MySQL schema is its database: the server entry's `database` (or `schema`),
    /// else the one the data source connects to.
    fn odcs_path(&self, ds: &DataSourceConfig, place: &Place, table: &str) -> Vec<String> {
        let server = settings_of::<ServerConfig>(ds.settings.as_ref(), self.name());
        let database = place
            .database
            .clone()
            .or_else(|| place.schema.clone())
            .or_else(|| server.effective_database.clone())
            .unwrap_or_default();
        vec![database, table.to_string()]
    }

    fn table_ref(
        &self,
        ds: &DataSourceConfig,
        parts: &[String],
    ) -> Result<TableRef, DatasetPathError> {
        match parts {
            [database, table] => Ok(TableRef::new(vec![database.clone(), table.clone()])),
            _ => Err(DatasetPathError::Written {
                engine: self.name(),
                form: format!("{}/database/table", ds.name),
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
        MySqlExecutor::new(&ds.name, server, connections).map(|e| Arc::new(e) as Arc<dyn Executor>)
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
impl StoreEngine for MySql {
    fn types(&self) -> StoreTypes {
        StoreTypes {
            text: "VARCHAR(255)",
            long_text: "VARCHAR(2048)",
            json: "JSON",
            timestamp: "DATETIME(6)",
            number: "DOUBLE",
            integer: "BIGINT",
            boolean: "BOOLEAN",
            date: "DATE",
            decimal: "DECIMAL(65,20)",
        }
    }

    fn create_schema(&self, quoted: &str) -> String {
        format!("CREATE DATABASE IF NOT EXISTS {quoted}")
    }

    async fn write(
        &self,
        name: &str,
        settings: &dyn Settings,
        statements: Vec<Statement>,
    ) -> Result<(), StoreError> {
        let server = settings_of::<ServerConfig>(settings, self.name());
        Ok(MySqlExecutor::new(name, server, 1)?
            .execute_writes(&statements)
            .await?)
    }
}

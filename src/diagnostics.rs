//! The diagnostics store (SPEC section 6): failing rows go to a table in a data source
//! of the user's (by default the embedded DuckDB file `.assay/diagnostics.duckdb`), one
//! row per failing row: scan_id, data source, dataset, check id, capture time, its
//! position and the row as JSON. Tables are created when missing. This is the only place
//! assay writes, and never to the data source being verified (unless it is named here).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::config::Config;
use crate::engine::{self, DuckDbSettings, Settings, StoreEngine};
use crate::error::RunError;
use crate::results::{DatasetResult, FailedRowsInfo};
use crate::sql::ast::{CreateTable, Expr, Insert, Literal, TableRef};
use crate::sql::dialect::{print_create_table, print_insert, Dialect};

pub const TABLE: &str = "assay_failed_rows";
/// the table's columns, in order
const COLUMNS: [&str; 7] = [
    "scan_id",
    "data_source",
    "dataset",
    "check_id",
    "captured_at",
    "row_index",
    "row_data",
];
/// rows per INSERT statement
const BATCH: usize = 500;

pub struct Store {
    store: &'static dyn StoreEngine,
    dialect: &'static dyn Dialect,
    settings: Arc<dyn Settings>,
    name: String,
    schema: Option<String>,
    /// "duckdb .assay/diagnostics.duckdb" or "postgres data source 'x'"
    pub label: String,
}

impl Store {
    /// The configured store, or the default DuckDB file in the project folder.
    pub fn from_config(config: &Config) -> Store {
        let d = &config.diagnostics;
        let configured = d.data_source.as_ref().and_then(|n| config.data_source(n));
        // a configured data source that cannot hold a store was refused with the config
        if let Some((ds, store)) = configured.and_then(|ds| ds.engine.store().map(|s| (ds, s))) {
            return Store {
                store,
                dialect: ds.dialect(),
                settings: ds.settings.clone(),
                name: ds.name.clone(),
                schema: d.schema.clone(),
                label: format!("{} data source '{}'", ds.type_name(), ds.name),
            };
        }
        let path = if config.project_dir == Path::new(".") {
            PathBuf::from(".assay").join("diagnostics.duckdb")
        } else {
            config.project_dir.join(".assay").join("diagnostics.duckdb")
        };
        let duckdb = engine::by_name("duckdb").expect("duckdb is an engine");
        Store {
            store: duckdb.store().expect("duckdb holds stores"),
            dialect: duckdb.dialect(),
            label: format!("duckdb {}", path.display()),
            settings: Arc::new(DuckDbSettings {
                database: path.to_string_lossy().into_owned(),
                owned_by_assay: true,
            }),
            name: "diagnostics".to_string(),
            schema: d.schema.clone(),
        }
    }

    fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }

    /// The store's table, in its schema when it has one.
    fn table_ref(&self) -> TableRef {
        match &self.schema {
            Some(s) => TableRef::new(vec![s.clone(), TABLE.to_string()]),
            None => TableRef::new(vec![TABLE.to_string()]),
        }
    }

    /// The table, qualified and quoted for the store's engine.
    pub fn table(&self) -> String {
        self.dialect().table(&self.table_ref())
    }

    /// Create what is missing and insert every captured row, in one transaction.
    fn statements(&self, scan_id: &str, dataset: &DatasetResult, at: DateTime<Utc>) -> Vec<String> {
        let d = self.dialect();
        let mut out = Vec::new();
        let t = self.store.types();
        if let Some(s) = &self.schema {
            out.push(self.store.create_schema(&d.quote_ident(s)));
        }
        let types = [
            t.text,
            t.text,
            t.long_text,
            t.long_text,
            t.timestamp,
            "INTEGER",
            t.json,
        ];
        out.push(print_create_table(
            d,
            &CreateTable {
                table: self.table_ref(),
                columns: COLUMNS
                    .iter()
                    .zip(types)
                    .map(|(c, t)| (c.to_string(), t.to_string()))
                    .collect(),
            },
        ));
        let text = |s: &str| Expr::Lit(Literal::Str(s.to_string()));
        let at = text(&at.format("%Y-%m-%d %H:%M:%S%.6f").to_string());
        let mut rows = Vec::new();
        for captured in &dataset.captured {
            for (i, row) in captured.rows.iter().enumerate() {
                rows.push(vec![
                    text(scan_id),
                    text(&dataset.data_source),
                    text(&dataset.dataset),
                    text(&captured.check_id),
                    at.clone(),
                    Expr::Int(i as i64 + 1),
                    text(&Json::to_string(row)),
                ]);
            }
        }
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            out.push(print_insert(
                d,
                &Insert {
                    table: self.table_ref(),
                    columns: COLUMNS.iter().map(|c| c.to_string()).collect(),
                    rows: rows.by_ref().take(BATCH).collect(),
                },
            ));
        }
        out
    }

    async fn execute(&self, statements: Vec<String>) -> Result<(), RunError> {
        self.store
            .write(&self.name, self.settings.as_ref(), statements)
            .await
            .map_err(RunError::Store)
    }
}

/// Write one dataset's captured rows as soon as its verification ends, say per check how
/// many went where, and let the rows go: a run holds the rows of the datasets still being
/// verified, never all of them. A store that cannot be written is a warning on stderr and
/// an error beside the count; the verdict does not change.
pub async fn store_captured(store: &Store, scan_id: &str, dataset: &mut DatasetResult) {
    if dataset.captured.is_empty() {
        return;
    }
    let captured: usize = dataset.captured.iter().map(|c| c.rows.len()).sum();
    let written = if captured == 0 {
        Ok(())
    } else {
        store
            .execute(store.statements(scan_id, dataset, Utc::now()))
            .await
    };
    // added after the dataset was masked for output: masked here
    let written = written.map_err(|e| crate::secrets::mask(&e.to_string()));
    if let Err(e) = &written {
        tracing::warn!(
            "{captured} failed rows of {} could not be written to the diagnostics store ({}): {e}",
            dataset.dataset,
            store.label
        );
    }
    let table = store.table();
    for captured in std::mem::take(&mut dataset.captured) {
        let Some(check) = dataset
            .checks
            .iter_mut()
            .find(|c| c.id == captured.check_id)
        else {
            continue;
        };
        let error = captured
            .error
            .map(|e| format!("the capture query failed: {e}"))
            .or_else(|| {
                written
                    .as_ref()
                    .err()
                    .map(|e| format!("the store could not be written: {e}"))
            });
        check.failed_rows = Some(FailedRowsInfo {
            captured: if error.is_some() {
                0
            } else {
                captured.rows.len()
            },
            store: store.label.clone(),
            table: table.clone(),
            error,
        });
    }
}

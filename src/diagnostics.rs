//! The diagnostics store (SPEC section 6): failing rows go to a table in a data source
//! of the user's (by default the embedded DuckDB file `.assay/diagnostics.duckdb`), one
//! row per failing row: scan_id, data source, dataset, check id, capture time, its
//! position and the row as JSON. Tables are created when missing. With the history store
//! (`scan::history`) this is where assay writes, and never to the data source being
//! verified (unless it is named here).

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::config::Config;
use crate::error::RunError;
use crate::results::{DatasetResult, FailedRowsInfo};
use crate::sql::ast::{Expr, Literal};
use crate::store::StoreLocation;

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

pub struct Store {
    location: StoreLocation,
    /// "duckdb .assay/diagnostics.duckdb" or "postgres data source 'x'"
    pub label: String,
}

impl Store {
    /// The configured store, or the default DuckDB file in the project folder.
    pub fn from_config(config: &Config) -> Store {
        let d = &config.diagnostics;
        let location = StoreLocation::resolve(
            config,
            d.data_source.as_deref(),
            d.schema.clone(),
            "diagnostics.duckdb",
        );
        Store {
            label: location.label.clone(),
            location,
        }
    }

    /// The table, qualified and quoted for the store's engine.
    pub fn table(&self) -> String {
        self.location.table(TABLE)
    }

    /// Create what is missing and insert every captured row, in one transaction.
    fn statements(&self, scan_id: &str, dataset: &DatasetResult, at: DateTime<Utc>) -> Vec<String> {
        let t = self.location.types();
        let types = [
            t.text,
            t.text,
            t.long_text,
            t.long_text,
            t.timestamp,
            "INTEGER",
            t.json,
        ];
        let mut out = self
            .location
            .create_statements(&[(TABLE, COLUMNS.iter().copied().zip(types).collect())]);
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
        out.extend(self.location.inserts(TABLE, &COLUMNS, rows));
        out
    }

    async fn execute(&self, statements: Vec<String>) -> Result<(), RunError> {
        self.location.execute(statements).await
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

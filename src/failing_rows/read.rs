//! Reading failed rows back (`assay rows`): which scans, datasets and checks have rows in
//! the store, and the rows of one of them, through a read-only session of the store's
//! engine (DuckDB file, PostgreSQL or MySQL alike).

use serde_json::Value as Json;

use super::{FailedRowsStore, TABLE};
use crate::error::{RunError, StoreError};
use crate::exec::{Limits, Value};

/// The rows one check of one scan left in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub scan_id: String,
    pub data_source: String,
    pub dataset: String,
    pub check_id: String,
    /// when they were written, as the store's engine prints a timestamp
    pub captured_at: String,
    pub rows: u64,
}

/// One failing row as captured: its place among the check's rows and its values.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub row_index: i64,
    /// the row as captured: column name -> value
    pub row: Json,
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::to_text).unwrap_or_default()
}

impl FailedRowsStore {
    fn channel_refusal(&self) -> Result<(), RunError> {
        match &self.channel {
            Some(c) => Err(RunError::Store(StoreError::InChannel {
                channel: c.name.clone(),
            })),
            None => Ok(()),
        }
    }

    async fn query(&self, sql: &str, limit: usize) -> Result<Option<Vec<Vec<Value>>>, RunError> {
        self.channel_refusal()?;
        let Some(ds) = self.location.reader() else {
            return Ok(None);
        };
        let (_exec, mut session) = crate::store::open_session(&ds).await?;
        let table = self.location.table_ref(TABLE);
        let exists = session.columns(&table).await;
        let rows = match exists {
            Ok(Some(_)) => session.rows(sql, Limits::rows(limit)).await.map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        session.finish().await;
        rows.map(|r| r.map(|r| r.rows))
            .map_err(|e| RunError::Store(e.into()))
    }

    /// Every scan's checks with rows, newest first; None when nothing was ever stored.
    pub async fn groups(&self) -> Result<Option<Vec<Group>>, RunError> {
        let d = self.location.dialect();
        let q = |c: &str| d.quote_ident(c);
        let sql = format!(
            "SELECT {scan}, {ds}, {dataset}, {check}, {at}, COUNT(*) FROM {t} \
             GROUP BY {scan}, {ds}, {dataset}, {check} ORDER BY MAX({captured}) DESC, {dataset}, {check}",
            scan = q("scan_id"),
            ds = q("data_source"),
            dataset = q("dataset"),
            check = q("check_id"),
            captured = q("captured_at"),
            at = d.cast_text(&format!("MAX({})", q("captured_at"))),
            t = self.location.table(TABLE),
        );
        let Some(rows) = self.query(&sql, usize::MAX).await? else {
            return Ok(None);
        };
        Ok(Some(
            rows.iter()
                .map(|r| Group {
                    scan_id: text(r.first()),
                    data_source: text(r.get(1)),
                    dataset: text(r.get(2)),
                    check_id: text(r.get(3)),
                    captured_at: text(r.get(4)),
                    rows: r.get(5).and_then(Value::as_f64).unwrap_or(0.0) as u64,
                })
                .collect(),
        ))
    }

    /// The rows of one group, in their captured order, at most `limit`.
    pub async fn rows_of(&self, g: &Group, limit: usize) -> Result<Vec<StoredRow>, RunError> {
        let d = self.location.dialect();
        let q = |c: &str| d.quote_ident(c);
        let lit = |s: &str| d.string_literal(s);
        let sql = format!(
            "SELECT {index}, {data} FROM {t} WHERE {scan} = {scan_id} AND {ds} = {data_source} \
             AND {dataset} = {dataset_name} AND {check} = {check_id} ORDER BY {index}",
            index = q("row_index"),
            data = d.cast_text(&q("row_data")),
            t = self.location.table(TABLE),
            scan = q("scan_id"),
            scan_id = lit(&g.scan_id),
            ds = q("data_source"),
            data_source = lit(&g.data_source),
            dataset = q("dataset"),
            dataset_name = lit(&g.dataset),
            check = q("check_id"),
            check_id = lit(&g.check_id),
        );
        let rows = self.query(&sql, limit).await?.unwrap_or_default();
        rows.iter()
            .map(|r| {
                let row_index = r.first().and_then(Value::as_f64).unwrap_or(0.0) as i64;
                let data = text(r.get(1));
                let row = serde_json::from_str(&data).map_err(|e| {
                    RunError::Store(StoreError::unreadable(
                        format!("row {row_index} of {} in {}", g.check_id, self.label),
                        e,
                    ))
                })?;
                Ok(StoredRow { row_index, row })
            })
            .collect()
    }
}

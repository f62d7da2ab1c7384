//! The history store's tables: their columns, the DDL that makes them, and the upgrade
//! that brings a store an older assay wrote up to this version's columns.

use super::*;

pub(super) type TableColumns = Vec<(&'static str, Vec<(&'static str, &'static str)>)>;

/// What an older store lacks: columns (table, column, type), and whether tables do.
#[derive(Default)]
pub(super) struct Lacking {
    pub(super) columns: Vec<(&'static str, &'static str, &'static str)>,
    pub(super) tables: bool,
}

impl HistoryStore {
    pub(super) fn create(&self) -> Vec<Statement> {
        self.location.create_statements(&self.tables())
    }

    /// A store an older assay wrote lacks the columns added since (the anomaly verdicts
    /// of points, the accepted changes): add them, NULL for what was recorded before,
    /// before the store is read or written. Nothing recorded is lost or rewritten.
    pub(super) async fn upgrade(&self) -> Result<(), RunError> {
        use std::sync::atomic::Ordering;
        if self.upgraded.load(Ordering::Acquire) {
            return Ok(());
        }
        let Some(ds) = self.location.reader() else {
            // nothing written yet: the first write makes every table whole
            return Ok(());
        };
        let (_exec, mut session) = crate::store::open_session(&ds).await?;
        let lacking = if self.whole(&mut *session).await {
            Ok(Lacking::default())
        } else {
            self.lacking(&mut *session).await
        };
        session.finish().await;
        self.make_whole(lacking?).await
    }

    /// Whether the store has every table and column: one statement that reads none of
    /// their rows (asking the catalog table by table costs far more, every read).
    pub(super) async fn whole(&self, session: &mut dyn crate::exec::Session) -> bool {
        let d = self.location.dialect();
        let each: Vec<String> = self
            .tables()
            .iter()
            .enumerate()
            .map(|(i, (table, columns))| {
                let columns: Vec<String> = columns.iter().map(|(c, _)| d.quote_ident(c)).collect();
                format!(
                    "(SELECT {} FROM {} WHERE 1 = 0) t{i}",
                    columns.join(", "),
                    self.location.table(table)
                )
            })
            .collect();
        let sql = format!("SELECT 1 FROM {}", each.join(", "));
        session.rows(&sql, Limits::rows(1)).await.is_ok()
    }

    /// What the store lacks, as `session` sees it: columns (table, column, type) added
    /// since an older assay wrote it, and whether some tables are missing.
    pub(super) async fn lacking(
        &self,
        session: &mut dyn crate::exec::Session,
    ) -> Result<Lacking, RunError> {
        let mut missing = Vec::new();
        let mut seen = 0;
        for (table, columns) in self.tables() {
            let found = session
                .columns(&self.location.table_ref(table))
                .await
                .map_err(|e| RunError::Store(e.into()))?;
            if let Some(found) = found {
                seen += 1;
                let has = |c: &str| found.iter().any(|f| f.name.eq_ignore_ascii_case(c));
                missing.extend(
                    columns
                        .into_iter()
                        .filter(|(c, _)| !has(c))
                        .map(|(c, ty)| (table, c, ty)),
                );
            }
        }
        Ok(Lacking {
            columns: missing,
            tables: seen > 0 && seen < self.tables().len(),
        })
    }

    /// Add what the store lacks (if anything); the store is whole from then on.
    pub(super) async fn make_whole(&self, lacking: Lacking) -> Result<(), RunError> {
        if !lacking.columns.is_empty() || lacking.tables {
            let d = self.location.dialect();
            let mut statements = self.create();
            statements.extend(lacking.columns.iter().map(|(table, column, ty)| {
                format!(
                    "ALTER TABLE {} ADD COLUMN {} {ty}",
                    self.location.table(table),
                    d.quote_ident(column)
                )
                .into()
            }));
            tracing::info!(
                "history {}: written by an older assay; adding its {} missing column(s) and tables",
                self.label(),
                lacking.columns.len()
            );
            self.location.execute(statements).await?;
        }
        self.upgraded
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    pub(super) fn tables(&self) -> TableColumns {
        let t = self.location.types();
        let at = ("measured_at", t.timestamp);
        let ds = ("data_source", t.text);
        let dataset = ("dataset", t.long_text);
        let scan = ("scan_id", t.text);
        vec![
            (
                SCANS,
                vec![
                    scan,
                    at,
                    ("ended_at", t.timestamp),
                    ("data_sources", t.long_text),
                ],
            ),
            (
                POINTS,
                vec![
                    scan,
                    at,
                    ds,
                    dataset,
                    ("column_name", t.text),
                    ("metric", t.text),
                    ("value", t.number),
                    ("outcome", t.text),
                    ("expected", t.number),
                    ("lower_bound", t.number),
                    ("upper_bound", t.number),
                    ("anomaly_kind", t.text),
                    ("reason", t.long_text),
                    ("reset_from", t.timestamp),
                ],
            ),
            (
                ACCEPTED,
                vec![
                    at,
                    ds,
                    dataset,
                    ("column_name", t.text),
                    ("metric", t.text),
                    ("from_at", t.timestamp),
                ],
            ),
            (SNAPSHOTS, vec![scan, at, ds, dataset, ("columns", t.json)]),
            (
                CHECKS,
                vec![
                    scan,
                    at,
                    ds,
                    dataset,
                    ("check_id", t.long_text),
                    ("check_type", t.text),
                    ("check_name", t.long_text),
                    ("column_name", t.text),
                    ("outcome", t.text),
                    ("value", t.number),
                    ("threshold", t.long_text),
                    ("failed_rows_store", t.long_text),
                    ("failed_rows_table", t.text),
                    ("failed_rows_captured", t.number),
                ],
            ),
            (
                EVENTS,
                vec![
                    scan,
                    at,
                    ds,
                    dataset,
                    ("kind", t.text),
                    ("column_name", t.text),
                    ("old_value", t.long_text),
                    ("new_value", t.long_text),
                    ("level", t.text),
                ],
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    /// A store an older assay wrote (a column fewer) is found lacking exactly that
    /// column, and made whole without losing what it holds.
    #[test]
    fn a_store_an_older_assay_wrote_gets_the_columns_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::store(dir.path());
        testing::block_on(async {
            store.location.execute(store.create()).await.unwrap();
            let drop_column = format!(
                "ALTER TABLE {} DROP COLUMN reason",
                store.location.table(POINTS)
            );
            store
                .location
                .execute(vec![drop_column.into()])
                .await
                .unwrap();
            let ds = store.location.reader().unwrap();
            let (exec, mut session) = crate::store::open_session(&ds).await.unwrap();
            assert!(!store.whole(&mut *session).await);
            let lacking = store.lacking(&mut *session).await.unwrap();
            session.finish().await;
            drop((session, exec));
            let named: Vec<(&str, &str)> = lacking.columns.iter().map(|c| (c.0, c.1)).collect();
            assert_eq!(named, [(POINTS, "reason")]);
            assert!(!lacking.tables);
            store.make_whole(lacking).await.unwrap();
            let (_exec, mut session) = crate::store::open_session(&ds).await.unwrap();
            assert!(store.whole(&mut *session).await);
            session.finish().await;
        });
    }
}

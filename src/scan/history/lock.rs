//! Overlapping scans on a history kept on a server take turns on the server's own
//! lock, and say who holds it.

use super::read::text;
use super::*;

/// A lock on a server-held history: its own connection, closed on release (which lets
/// the lock go).
pub struct ServerLock {
    _exec: std::sync::Arc<dyn crate::exec::Executor>,
    session: Box<dyn crate::exec::Session>,
}

impl ServerLock {
    pub async fn release(mut self) {
        self.session.finish().await;
        // dropping the executor closes its connection, and with it the lock
    }
}

impl HistoryStore {
    /// On a server, overlapping scans from any machine take turns on a lock of the
    /// server's own (an advisory lock, a named lock), held by a connection of its own
    /// until `ServerLock::release`; None where the store is a file (the lock file and
    /// DuckDB's one writer per file do it there).
    pub async fn server_lock(
        &self,
        holder: &str,
        timeout: Duration,
    ) -> Result<Option<ServerLock>, RunError> {
        let Some(ds) = self.location.reader() else {
            return Ok(None);
        };
        let name = format!("assay_history {}", self.location.table(SCANS));
        let Some(query) = ds.dialect().try_lock_query(&name) else {
            return Ok(None);
        };
        // a store that cannot be reached takes no lock: its writing fails later and says
        // why, with the scan's results printed
        let unreachable = |e: crate::exec::ExecError| {
            tracing::warn!("the history lock could not be taken ({e}); scanning without it");
        };
        let exec = match ds.engine.open(&ds, 1, Vec::new()).await {
            Ok(e) => e,
            Err(e) => {
                unreachable(e);
                return Ok(None);
            }
        };
        let control = RunControl::new();
        let mut session = match exec.session(&control).await {
            Ok(s) => s,
            Err(e) => {
                unreachable(e);
                return Ok(None);
            }
        };
        let started = std::time::Instant::now();
        loop {
            let rows = match session.rows(&query, Limits::rows(1)).await {
                Ok(r) => r,
                Err(e) => {
                    unreachable(e);
                    return Ok(None);
                }
            };
            let got = rows
                .rows
                .first()
                .and_then(|r| r.first())
                .is_some_and(|v| matches!(v, Value::Bool(true)) || v.as_f64() == Some(1.0));
            if got {
                self.note_holder(holder).await;
                return Ok(Some(ServerLock {
                    _exec: exec,
                    session,
                }));
            }
            if started.elapsed() >= timeout {
                session.finish().await;
                let held_by = self.holder().await.unwrap_or_default();
                return Err(RunError::Store(StoreError::Locked {
                    place: format!("history lock in {}", self.location.label),
                    within: timeout,
                    held_by,
                }));
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Say who holds the lock, for a scan that has to give up (best effort: the lock
    /// holds whether or not this is written).
    pub(super) async fn note_holder(&self, holder: &str) {
        let t = self.location.types();
        let mut statements = self
            .location
            .create_statements(&[(HOLDER, vec![("holder", t.long_text)])]);
        statements.push(format!("DELETE FROM {}", self.location.table(HOLDER)).into());
        statements.extend(self.location.inserts(
            HOLDER,
            &["holder"],
            vec![vec![Param::text(holder)]],
        ));
        if let Err(e) = self.location.execute(statements).await {
            tracing::debug!("the history lock's holder could not be noted: {e}");
        }
    }

    /// Who noted holding the lock last.
    pub(super) async fn holder(&self) -> Option<String> {
        let sql = format!("SELECT holder FROM {}", self.location.table(HOLDER));
        let rows = self.rows(&sql).await.ok()?;
        text(rows.first()?.first())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;

    /// A history in a local DuckDB file takes turns through the file lock of `scan`,
    /// not a server's: asking for the server lock there gives none, at once.
    #[test]
    fn a_local_store_has_no_server_lock() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::store(dir.path());
        let lock = testing::block_on(store.server_lock("test", std::time::Duration::from_secs(1)))
            .unwrap();
        assert!(lock.is_none());
    }
}

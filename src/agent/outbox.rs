//! What a job leaves for the server: its results (metric summaries, through the push
//! path) and its completion, written whole to a file before either is sent, and
//! removed only once the server has both. An agent killed, or a server down, loses
//! neither: the next flush (every few seconds, and when the agent starts) sends them.
//! Both are idempotent on the server (the scan id, the instruction and attempt), so a
//! second sending changes nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::api::{ApiError, ServerApi};
use crate::results::Results;
use crate::serve::queue::Completion;

#[derive(Debug, Serialize, Deserialize)]
struct OutboxEntry {
    #[serde(default)]
    results: Option<Results>,
    completion: Completion,
}

/// The agent's outbox: a folder of entries, one per job attempt.
pub struct AgentOutbox {
    dir: PathBuf,
    /// one sender at a time: a flush and a job's own delivery do not race
    turn: tokio::sync::Mutex<()>,
}

impl AgentOutbox {
    pub fn new(dir: PathBuf) -> AgentOutbox {
        AgentOutbox {
            dir,
            turn: tokio::sync::Mutex::new(()),
        }
    }

    fn path(&self, c: &Completion) -> PathBuf {
        let safe: String =
            c.id.chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() || ch == '-' {
                        ch
                    } else {
                        '_'
                    }
                })
                .collect();
        self.dir.join(format!("{safe}-{}.json", c.attempt))
    }

    /// Keep the job's results and completion, then send them.
    pub async fn deliver(&self, api: &ServerApi, results: Option<Results>, completion: Completion) {
        let path = self.path(&completion);
        let entry = OutboxEntry {
            results,
            completion,
        };
        if let Err(e) = write(&path, &entry) {
            tracing::error!(
                "the outbox cannot keep {}: {e}; sending it without a copy",
                path.display()
            );
        }
        let _turn = self.turn.lock().await;
        send(api, &path, entry).await;
    }

    /// Send every entry that waits.
    pub async fn flush(&self, api: &ServerApi) {
        let _turn = self.turn.lock().await;
        let Ok(list) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = list
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            match std::fs::read(&path).map(|b| serde_json::from_slice::<OutboxEntry>(&b)) {
                Ok(Ok(entry)) => send(api, &path, entry).await,
                Ok(Err(e)) => tracing::error!("{} is not an outbox entry: {e}", path.display()),
                Err(e) => tracing::error!("{}: {e}", path.display()),
            }
        }
    }

    /// Entries waiting.
    pub fn waiting(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|l| {
                l.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .count()
            })
            .unwrap_or(0)
    }
}

fn write(path: &Path, entry: &OutboxEntry) -> std::io::Result<()> {
    let text = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    crate::paths::write_whole(
        path,
        crate::secrets::mask(&String::from_utf8_lossy(&text)).as_bytes(),
    )
}

/// Results first (the completion says they are there), then the completion; the entry
/// goes once both are the server's.
async fn send(api: &ServerApi, path: &Path, mut entry: OutboxEntry) {
    if let Some(results) = &entry.results {
        match api.push_results(results).await {
            Ok(()) => {
                entry.results = None;
                let _ = write(path, &entry);
            }
            Err(e) if e.transient() => {
                tracing::warn!("results of {} wait in the outbox: {e}", entry.completion.id);
                return;
            }
            Err(e) => {
                // the server will never take them as they are: said, and not sent again
                tracing::error!(
                    "results of {} refused by the server: {e}",
                    entry.completion.id
                );
                entry.results = None;
                let _ = write(path, &entry);
            }
        }
    }
    match api.complete(&entry.completion).await {
        Ok(recorded) => {
            if !recorded {
                tracing::warn!(
                    "instruction {} attempt {}: the server gave it to another agent; this completion is not recorded",
                    entry.completion.id,
                    entry.completion.attempt
                );
            }
            let _ = std::fs::remove_file(path);
        }
        Err(ApiError::Answer {
            status, message, ..
        }) if !(status >= 500 || status == 429) => {
            tracing::error!(
                "the completion of {} was refused ({status}): {message}",
                entry.completion.id
            );
            let _ = std::fs::remove_file(path);
        }
        Err(e) => tracing::warn!(
            "the completion of {} waits in the outbox: {e}",
            entry.completion.id
        ),
    }
}

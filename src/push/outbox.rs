//! The outbox: results not yet delivered, one file per scan, `.assay/outbox/<scan_id>.json`
//! in the project folder. A file is written whole or not at all (temporary file, fsync,
//! rename, fsync of the folder), removed only after delivery, and `assay push` holds a
//! lock while it works, so two of them never deliver the same scan twice.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Target;
use crate::error::RunError;
use crate::results::Results;

/// A waiting result: the results document plus why and where it still waits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    #[serde(flatten)]
    pub results: Results,
    pub outbox: Waiting,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Waiting {
    /// targets that have not taken the result yet
    pub pending: Vec<Target>,
    pub last_error: String,
    /// delivery attempts so far, over every run
    pub attempts: u32,
    pub queued_at: String,
}

pub struct Outbox {
    pub dir: PathBuf,
}

impl Outbox {
    pub fn in_project(project_dir: &Path) -> Outbox {
        Outbox {
            dir: project_dir.join(".assay").join("outbox"),
        }
    }

    /// The file of a scan. Scan ids come from files a user may hand us: only the
    /// characters of a UUID are kept, so no id can name a path outside the outbox.
    pub fn path(&self, scan_id: &str) -> PathBuf {
        let safe: String = scan_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        self.dir.join(format!("{safe}.json"))
    }

    /// Write an entry atomically; the text is masked of secrets once more.
    pub fn put(&self, entry: &Delivery) -> Result<PathBuf, RunError> {
        let path = self.path(&entry.results.scan_id);
        write_atomic(&self.dir, &path, entry)
    }

    /// The folder of notifications that wait.
    pub fn notify_dir(&self) -> PathBuf {
        self.dir.join("notify")
    }

    /// Keep a notification that could not be delivered, for `assay push`.
    pub fn put_notification(&self, n: &Notification) -> Result<PathBuf, RunError> {
        let safe: String = format!("{}-{}", n.scan_id, n.target)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let dir = self.notify_dir();
        write_atomic(&dir, &dir.join(format!("{safe}.json")), n)
    }

    /// Waiting notifications, in name order.
    pub fn notifications(&self) -> Vec<PathBuf> {
        let mut files = waiting_files(&self.notify_dir());
        files.sort();
        files
    }
}

/// A notification waiting for delivery: its target's name (its URL comes from the
/// config when it is sent, so no secret is kept on disk) and its payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notification {
    pub target: String,
    pub scan_id: String,
    pub payload: String,
    pub last_error: String,
}

/// The entries of an outbox folder: its JSON files, not the ones being written.
fn waiting_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect()
}

/// Write `value` as JSON to `path` atomically (masked of secrets once more).
fn write_atomic(dir: &Path, path: &Path, value: &impl Serialize) -> Result<PathBuf, RunError> {
    crate::paths::state_dir(dir).map_err(|e| RunError::io("create the outbox", dir, e))?;
    let path = path.to_path_buf();
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| RunError::io("encode the outbox entry", &path, e))?;
    let text = crate::secrets::mask(&text);
    crate::paths::write_whole(&path, text.as_bytes())
        .map_err(|e| RunError::io("write the outbox entry", &path, e))?;
    Ok(path)
}

impl Outbox {
    /// Waiting entries, oldest scan file first.
    pub fn list(&self) -> Vec<PathBuf> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = waiting_files(&self.dir)
            .into_iter()
            .map(|p| {
                let t = p
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (t, p)
            })
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| p).collect()
    }

    /// Hold the outbox for this process until the returned file is dropped (waits for
    /// another `assay push` to finish).
    pub fn lock(&self) -> Result<File, RunError> {
        crate::paths::state_dir(&self.dir)
            .map_err(|e| RunError::io("create the outbox", &self.dir, e))?;
        let path = self.dir.join(".lock");
        let file =
            crate::paths::no_follow(File::options().create(true).truncate(false).write(true))
                .open(&path)
                .map_err(|e| RunError::io("open", &path, e))?;
        file.lock().map_err(|e| RunError::io("lock", &path, e))?;
        Ok(file)
    }
}

/// A file given to `assay push`: an outbox entry, or a plain results document (`-o json`).
pub fn read(path: &Path) -> Result<(Results, Option<Waiting>), RunError> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::io("read", path, e))?;
    let content = |message: String| RunError::Content {
        path: path.to_path_buf(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| content(format!("is not JSON: {e}")))?;
    let not_results =
        |e: serde_json::Error| content(format!("is not an assay results document: {e}"));
    if value.get("outbox").is_some() {
        let entry: Delivery = serde_json::from_value(value).map_err(not_results)?;
        Ok((entry.results, Some(entry.outbox)))
    } else {
        let results: Results = serde_json::from_value(value).map_err(not_results)?;
        Ok((results, None))
    }
}

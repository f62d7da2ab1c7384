//! Two scans at once (overlapping cron runs) take turns on the history: a lock file
//! beside it. The second waits up to `--lock-timeout`, then gives up naming the scan
//! that holds the lock.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{RunError, StoreError};

/// Held until dropped.
#[derive(Debug)]
pub struct HistoryLock {
    _file: File,
}

/// How often a waiting scan tries again.
const RETRY: Duration = Duration::from_millis(200);

impl HistoryLock {
    /// Take the lock at `path`, waiting up to `timeout`; `holder` says who holds it, for
    /// the one that has to give up (with the process id and since when).
    pub fn acquire(path: &Path, holder: &str, timeout: Duration) -> Result<HistoryLock, RunError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::paths::state_dir(dir).map_err(|e| RunError::io("create folder", dir, e))?;
        }
        crate::paths::no_links(path).map_err(|e| RunError::io("open", path, e))?;
        let mut file = crate::paths::no_follow(
            File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
        )
        .open(path)
        .map_err(|e| RunError::io("open", path, e))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if started.elapsed() < timeout => {
                    std::thread::sleep(RETRY.min(timeout.saturating_sub(started.elapsed())));
                }
                Err(TryLockError::WouldBlock) => {
                    let mut held_by = String::new();
                    let _ = file.read_to_string(&mut held_by);
                    return Err(RunError::Store(StoreError::Locked {
                        place: format!("history ({})", path.display()),
                        within: timeout,
                        held_by: held_by.trim().to_string(),
                    }));
                }
                Err(TryLockError::Error(e)) => return Err(RunError::io("lock", path, e)),
            }
        }
        // say who holds it, for a scan that waits
        let note = format!(
            "{holder} (pid {}, since {})",
            std::process::id(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let written = file
            .set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(note.as_bytes()))
            .and_then(|_| file.flush());
        written.map_err(|e| RunError::io("write", path, e))?;
        Ok(HistoryLock { _file: file })
    }

    /// The lock file of a project's history.
    pub fn path(project_dir: &Path) -> PathBuf {
        project_dir.join(".assay").join("history.lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_scan_waits_then_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = HistoryLock::path(dir.path());
        let first = HistoryLock::acquire(&path, "scan-one", Duration::from_secs(1)).unwrap();
        let started = Instant::now();
        let second = HistoryLock::acquire(&path, "scan-two", Duration::from_millis(500));
        let waited = started.elapsed();
        let message = second.unwrap_err().to_string();
        assert!(message.contains("scan-one (pid"), "{message}");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(waited >= Duration::from_millis(500), "{waited:?}");
        drop(first);
        // once let go, the next scan takes it at once
        let third = HistoryLock::acquire(&path, "scan-three", Duration::from_millis(500));
        assert!(third.is_ok());
    }
}

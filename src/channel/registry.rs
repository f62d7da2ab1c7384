//! The channel registry: a directory (`.assay/channels/` in the project, or
//! `ASSAY_CHANNEL_REGISTRY`) with one JSON file per running channel, named by its
//! signature (name and format). A running channel writes its entry when it starts,
//! refreshes its heartbeat and counters while it runs, and removes it when it stops;
//! entries of processes that died, or whose heartbeat went stale, are removed by
//! whoever reads them. Every write is a rename of a complete file, so a reader never
//! sees half an entry.
//!
//! An entry is trusted only as far as it proves itself, since anyone who can write the
//! folder (or commit to it) can plant one:
//! - on this machine a channel is alive while it holds an OS lock on a file beside its
//!   entry (released by the OS when the process ends, however it ends): a planted entry
//!   (`pid: 1`, a heartbeat in the future) holds no lock, is removed, and blocks nothing;
//! - before sending credentials, a client checks the entry's proof for its user: PBKDF2
//!   of that user's password over the entry's nonce and URL, which only a channel that
//!   knows the password can write. A planted entry cannot, and gets no credentials.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::ChannelError;
use super::format::Format;
use super::protocol::Kind;

/// How often a running channel refreshes its entry.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// An entry not refreshed for this long belongs to a channel that no longer runs.
pub const STALE_AFTER: Duration = Duration::from_secs(15);

pub const ENV_VAR: &str = "ASSAY_CHANNEL_REGISTRY";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// records a source sent (counted once per consumer it reached)
    pub sent: u64,
    /// records a sink received
    pub received: u64,
    pub stored: u64,
    pub discarded: u64,
    /// records a slow consumer missed
    pub dropped: u64,
    /// connections open now
    pub connections: u64,
    /// connections since the channel started
    pub connections_total: u64,
    pub result_sets: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    #[serde(rename = "type")]
    pub store_type: String,
    pub format: Format,
    pub result_sets: bool,
    /// `http://127.0.0.1:40123` or `https://...`
    pub url: String,
    pub environment: String,
    pub expose_to: Vec<String>,
    pub pid: u32,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub counters: Counters,
    /// random per start: what the proofs are made over, with the URL
    #[serde(default)]
    pub nonce: String,
    /// per user of the channel: the proof that it knows the user's password (hex)
    #[serde(default)]
    pub proofs: std::collections::BTreeMap<String, String>,
}

/// PBKDF2 rounds of a proof: slow enough that a proof read from the registry is no
/// shortcut to the password, fast enough for a start and a client (~50 ms each).
const PROOF_ROUNDS: u32 = 100_000;

/// The proof that whoever wrote an entry at `url` with `nonce` knows `password`.
pub fn proof(password: &str, nonce: &str, url: &str) -> String {
    let mut out = [0u8; 32];
    let salt = format!("assay channel registry\n{nonce}\n{url}");
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(PROOF_ROUNDS).expect("not zero"),
        salt.as_bytes(),
        password.as_bytes(),
        &mut out,
    );
    out.iter().map(|b| format!("{b:02x}")).collect()
}

impl Entry {
    /// Whether the entry proves it was written by a channel that knows `user`'s
    /// `password`: only then may a client send them to its URL.
    pub fn proves(&self, user: &str, password: &str) -> bool {
        !self.nonce.is_empty()
            && self.proofs.get(user).is_some_and(|p| {
                super::hub::same_secret(p, &proof(password, &self.nonce, &self.url))
            })
    }
}

impl Entry {
    /// Deployed in `environment`, or exposed to it.
    pub fn visible_in(&self, environment: &str) -> bool {
        self.environment == environment || self.expose_to.iter().any(|e| e == environment)
    }

    fn file_name(&self) -> String {
        format!("{}@{}.json", self.name, self.format.name)
    }

    /// The file whose OS lock the running channel holds.
    fn lock_name(&self) -> String {
        format!(".{}@{}.lock", self.name, self.format.name)
    }
}

/// A channel's hold on its signature: the OS lock on its lock file, released when this
/// is dropped or the process ends.
#[derive(Debug)]
pub struct Registration {
    _lock: std::fs::File,
}

fn open_lock(dir: &Path, entry: &Entry, create: bool) -> std::io::Result<std::fs::File> {
    crate::paths::no_follow(
        std::fs::File::options()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false),
    )
    .open(dir.join(entry.lock_name()))
}

/// Whether a channel of this machine holds the entry's lock. No lock file: none does. A
/// lock file that cannot be opened is taken as held, so nothing live is removed by
/// mistake.
fn lock_held(dir: &Path, entry: &Entry) -> bool {
    match open_lock(dir, entry, false) {
        Ok(f) => matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(_) => true,
    }
}

/// The registry directory: `ASSAY_CHANNEL_REGISTRY`, else `.assay/channels` in the project.
pub fn dir(project_dir: &Path) -> PathBuf {
    match std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => project_dir.join(".assay").join("channels"),
    }
}

/// This machine's name, to tell its processes from those of others sharing a registry.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

fn alive(dir: &Path, entry: &Entry, now: DateTime<Utc>) -> bool {
    let age = now.signed_duration_since(entry.heartbeat_at);
    // a heartbeat from the future is no heartbeat (a planted entry that never goes stale)
    let fresh =
        age >= -chrono::Duration::seconds(5) && age.to_std().map_or(true, |age| age < STALE_AFTER);
    if !fresh {
        return false;
    }
    if entry.host != host() {
        // another machine's process: only its heartbeat tells
        return true;
    }
    process_alive(entry.pid) && lock_held(dir, entry)
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // signal 0: is there such a process (EPERM: there is, someone else's)
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// Write (or refresh) an entry: all of it, or nothing.
fn registry_error(dir: &Path, action: &'static str, e: impl std::fmt::Display) -> ChannelError {
    ChannelError::Registry {
        dir: dir.to_path_buf(),
        action,
        message: e.to_string(),
    }
}

pub fn write(dir: &Path, entry: &Entry) -> Result<(), ChannelError> {
    crate::paths::state_dir(dir).map_err(|e| registry_error(dir, "made", e))?;
    let file = dir.join(entry.file_name());
    let tmp = dir.join(format!(".{}.{}.tmp", entry.file_name(), std::process::id()));
    let text = serde_json::to_string_pretty(entry).expect("entries serialize");
    crate::paths::no_follow(
        std::fs::File::options()
            .write(true)
            .create(true)
            .truncate(true),
    )
    .open(&tmp)
    .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
    .and_then(|_| std::fs::rename(&tmp, &file))
    .map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        registry_error(dir, "written", e)
    })
}

/// Register a starting channel, holding its signature until the registration is dropped;
/// refused while a live channel holds the same signature (its lock, or, on another
/// machine, a fresh heartbeat).
pub fn register(dir: &Path, entry: &Entry) -> Result<Registration, ChannelError> {
    let other_running = |other: &Entry| ChannelError::AlreadyRuns {
        channel: other.name.clone(),
        format: other.format.name.clone(),
        place: format!(
            ": process {} on {}, at {}",
            other.pid, other.host, other.url
        ),
    };
    if let Some(other) = list(dir).into_iter().find(|e| {
        e.name == entry.name && e.format.name == entry.format.name && e.host != entry.host
    }) {
        return Err(other_running(&other));
    }
    crate::paths::state_dir(dir).map_err(|e| registry_error(dir, "made", e))?;
    let lock = open_lock(dir, entry, true).map_err(|e| registry_error(dir, "written", e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let file = dir.join(entry.file_name());
            return Err(match read_entry(&file) {
                Some(other) => other_running(&other),
                None => ChannelError::AlreadyRuns {
                    channel: entry.name.clone(),
                    format: entry.format.name.clone(),
                    place: " on this machine".into(),
                },
            });
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(ChannelError::RegistryLock(e.to_string()))
        }
    }
    write(dir, entry)?;
    Ok(Registration { _lock: lock })
}

/// Remove this process's entry.
pub fn remove(dir: &Path, entry: &Entry) {
    let file = dir.join(entry.file_name());
    if read_entry(&file).is_some_and(|e| e.pid == entry.pid && e.host == entry.host) {
        let _ = std::fs::remove_file(file);
    }
}

fn read_entry(file: &Path) -> Option<Entry> {
    serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()
}

/// The live entries, by name then format; dead or stale ones are removed on the way.
pub fn list(dir: &Path) -> Vec<Entry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let now = Utc::now();
    let mut out = Vec::new();
    for item in read.flatten() {
        let path = item.path();
        let is_entry = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".json") && !n.starts_with('.'));
        if !is_entry {
            continue;
        }
        match read_entry(&path) {
            Some(e) if alive(dir, &e, now) => out.push(e),
            Some(e) => {
                tracing::info!(
                    "channel registry: removing {} (process {} no longer runs or its heartbeat is stale)",
                    e.name,
                    e.pid
                );
                let _ = std::fs::remove_file(&path);
            }
            // a file that is not an entry is not ours to remove
            None => tracing::warn!("channel registry: {} is not an entry", path.display()),
        }
    }
    out.sort_by(|a, b| (&a.name, &a.format.name).cmp(&(&b.name, &b.format.name)));
    out
}

/// The running channels a pipeline in `environment` can use by `name`, of `kind` (one
/// per format it runs with).
pub fn find(dir: &Path, name: &str, kind: Kind, environment: &str) -> Vec<Entry> {
    list(dir)
        .into_iter()
        .filter(|e| e.name == name && e.kind == kind && e.visible_in(environment))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::format::{Field, FieldType};

    fn entry(name: &str, pid: u32, heartbeat: DateTime<Utc>) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::Source,
            store_type: "file".into(),
            format: Format {
                name: "f1".into(),
                fields: vec![Field {
                    name: "id".into(),
                    field_type: FieldType::Long,
                    nullable: false,
                    precision: None,
                    scale: None,
                }],
            },
            result_sets: true,
            url: "http://127.0.0.1:1".into(),
            environment: "dev".into(),
            expose_to: vec!["prod".into()],
            pid,
            host: host(),
            started_at: heartbeat,
            heartbeat_at: heartbeat,
            counters: Counters::default(),
            nonce: String::new(),
            proofs: Default::default(),
        }
    }

    #[test]
    fn live_entries_are_listed_and_dead_or_stale_ones_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let now = Utc::now();
        let held = register(dir.path(), &entry("live", me, now)).unwrap();
        // a pid that cannot be running (beyond any pid_max)
        write(dir.path(), &entry("dead", 999_999_999, now)).unwrap();
        write(
            dir.path(),
            &entry("stale", me, now - chrono::Duration::seconds(60)),
        )
        .unwrap();
        let mut other = entry("elsewhere", 999_999_999, now);
        other.host = "another-machine".into();
        write(dir.path(), &other).unwrap();
        let names: Vec<String> = list(dir.path()).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["elsewhere", "live"]);
        let entries = || {
            std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .filter(|f| f.file_name().to_string_lossy().ends_with(".json"))
                .count()
        };
        assert_eq!(entries(), 2, "dead and stale entries removed");
        // the same signature is refused while its lock is held, whatever pid it names
        let mut twin = entry("live", me, now);
        twin.pid = 1;
        let e = register(dir.path(), &twin).unwrap_err();
        assert!(e.to_string().contains("already runs"), "{e}");
        assert!(list(dir.path())[1].visible_in("prod"));
        assert!(!list(dir.path())[1].visible_in("staging"));
        drop(held);
        // planted entries: a live pid without the lock, pid 1, a heartbeat a year ahead
        write(dir.path(), &entry("planted", me, now)).unwrap();
        write(dir.path(), &entry("init", 1, now)).unwrap();
        write(
            dir.path(),
            &entry("future", me, now + chrono::Duration::days(365)),
        )
        .unwrap();
        let names: Vec<String> = list(dir.path()).into_iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            ["elsewhere"],
            "a released lock and planted entries are not alive"
        );
        // and none of them blocks the real channel from starting
        let _again = register(dir.path(), &entry("future", me, now)).unwrap();
        let _init = register(dir.path(), &entry("init", me, now)).unwrap();
        assert_eq!(list(dir.path()).len(), 3);
        remove(dir.path(), &entry("init", me, now));
        assert_eq!(list(dir.path()).len(), 2);
    }

    #[test]
    fn only_a_channel_that_knows_the_password_proves_it() {
        let mut e = entry("orders", 1, Utc::now());
        assert!(
            !e.proves("pipeline", "s3cret-pass"),
            "no proof, no credentials"
        );
        e.nonce = "n-1".into();
        e.proofs
            .insert("pipeline".into(), proof("s3cret-pass", "n-1", &e.url));
        assert!(e.proves("pipeline", "s3cret-pass"));
        assert!(!e.proves("pipeline", "another-pass"));
        assert!(!e.proves("other", "s3cret-pass"));
        // a proof copied to an entry at another URL proves nothing there
        e.url = "http://127.0.0.1:2".into();
        assert!(!e.proves("pipeline", "s3cret-pass"));
    }
}

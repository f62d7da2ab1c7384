//! The server's clients: a token each, with scopes, kept hashed in a file of the
//! project's `.assay/` folder (`assay serve token create|list|revoke`). The file is read
//! again whenever it changes, so a token revoked while the server runs is refused from
//! its next request on.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// deliver results (`assay push`, `verify --push`)
    Push,
    /// the report and the read API, the runs and the agents included
    Read,
    /// ask for runs of the project's contracts (`POST /api/v1/runs`, `assay run
    /// --server`) and follow them
    Run,
    /// claim instructions, renew their leases, report their completion (`assay agent`)
    Agent,
    /// every endpoint, the project's upload included
    Admin,
}

impl TokenScope {
    pub const ALL: [TokenScope; 5] = [
        TokenScope::Push,
        TokenScope::Read,
        TokenScope::Run,
        TokenScope::Agent,
        TokenScope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Push => "push",
            TokenScope::Read => "read",
            TokenScope::Run => "run",
            TokenScope::Agent => "agent",
            TokenScope::Admin => "admin",
        }
    }

    pub fn named(name: &str) -> Option<TokenScope> {
        TokenScope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// A token as the file keeps it: never the token itself, its SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredToken {
    /// public: the first part of the token, how list and revoke name it
    pub id: String,
    pub name: String,
    pub scopes: Vec<TokenScope>,
    pub sha256: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl StoredToken {
    pub fn allows(&self, scope: TokenScope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&TokenScope::Admin)
    }

    /// Revoked, expired, or good at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        let expired = self
            .expires_at
            .as_deref()
            .and_then(crate::timestamp::parse_timestamp)
            .is_some_and(|at| at <= now);
        if self.revoked_at.is_some() {
            "revoked"
        } else if expired {
            "expired"
        } else {
            "active"
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenList {
    tokens: Vec<StoredToken>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{action} {path}: {error}")]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not a token file: {error}")]
    Corrupt { path: PathBuf, error: String },
    #[error("no token is named or numbered '{0}'")]
    Unknown(String),
    #[error("a token named '{0}' exists already (revoke it first, or choose another name)")]
    Exists(String),
    #[error("the system's random numbers failed")]
    Random,
}

/// Why a request's token does not let it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// no token, an unknown, revoked or expired one: 401
    Unauthorized,
    /// a good token without the scope: 403
    Forbidden,
}

/// The token file of a project: `.assay/server/tokens.json`.
pub fn token_file(project_dir: &Path) -> PathBuf {
    project_dir
        .join(".assay")
        .join("server")
        .join("tokens.json")
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> TokenError + 'a {
    move |error| TokenError::Io {
        action,
        path: path.to_path_buf(),
        error,
    }
}

fn read_list(path: &Path) -> Result<TokenList, TokenError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| TokenError::Corrupt {
            path: path.to_path_buf(),
            error: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenList::default()),
        Err(e) => Err(io("read", path)(e)),
    }
}

/// Change the file under its lock: read, change, write whole (a temporary file, synced,
/// renamed over it), so two `token create` at once both land and a reader never sees
/// half a file.
fn update<T>(
    path: &Path,
    change: impl FnOnce(&mut TokenList) -> Result<T, TokenError>,
) -> Result<T, TokenError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::paths::state_dir(dir).map_err(io("create folder", dir))?;
    let lock_path = path.with_extension("lock");
    let lock = crate::paths::no_follow(File::options().write(true).create(true).truncate(false))
        .open(&lock_path)
        .map_err(io("open", &lock_path))?;
    lock.lock().map_err(io("lock", &lock_path))?;
    let mut list = read_list(path)?;
    let out = change(&mut list)?;
    let text = serde_json::to_vec_pretty(&list).map_err(|e| TokenError::Corrupt {
        path: path.to_path_buf(),
        error: e.to_string(),
    })?;
    crate::paths::write_whole(path, &text).map_err(io("write", path))?;
    drop(lock);
    Ok(out)
}

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_text(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Make a token: `assay_<id>_<secret>`, 12 hex digits of id and 256 random bits. The
/// token is returned once; the file keeps its hash.
pub fn create(
    path: &Path,
    name: &str,
    scopes: &[TokenScope],
    expires_in: Option<Duration>,
) -> Result<(String, StoredToken), TokenError> {
    let rng = ring::rand::SystemRandom::new();
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    ring::rand::SecureRandom::fill(&rng, &mut id).map_err(|_| TokenError::Random)?;
    ring::rand::SecureRandom::fill(&rng, &mut secret).map_err(|_| TokenError::Random)?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let token = format!(
        "assay_{id}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let now = Utc::now();
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let stored = StoredToken {
        id,
        name: name.to_string(),
        scopes,
        sha256: sha256_hex(&token),
        created_at: now_text(now),
        expires_at: expires_in
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .and_then(|d| now.checked_add_signed(d))
            .map(now_text),
        revoked_at: None,
    };
    update(path, |list| {
        if list
            .tokens
            .iter()
            .any(|t| t.name == name && t.state(now) == "active")
        {
            return Err(TokenError::Exists(name.to_string()));
        }
        list.tokens.push(stored.clone());
        Ok(())
    })?;
    Ok((token, stored))
}

pub fn list(path: &Path) -> Result<Vec<StoredToken>, TokenError> {
    Ok(read_list(path)?.tokens)
}

/// Revoke by id, or by name (its active tokens). Revoked tokens stay listed.
pub fn revoke(path: &Path, which: &str) -> Result<Vec<StoredToken>, TokenError> {
    let now = Utc::now();
    update(path, |list| {
        let mut revoked = Vec::new();
        for t in list.tokens.iter_mut() {
            if (t.id == which || t.name == which) && t.revoked_at.is_none() {
                t.revoked_at = Some(now_text(now));
                revoked.push(t.clone());
            }
        }
        if revoked.is_empty() {
            return Err(TokenError::Unknown(which.to_string()));
        }
        Ok(revoked)
    })
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// When the token file was last changed, and its length.
type FileStamp = (SystemTime, u64);

/// The server's view of the token file: read again when it changes on disk.
pub struct Tokens {
    path: PathBuf,
    cached: Mutex<(Option<FileStamp>, Vec<StoredToken>)>,
}

impl Tokens {
    pub fn new(path: PathBuf) -> Tokens {
        Tokens {
            path,
            cached: Mutex::new((None, Vec::new())),
        }
    }

    /// The tokens as the file holds them now; on a file that cannot be read, none (a
    /// server that cannot tell who is who lets nobody in).
    fn current(&self) -> Vec<StoredToken> {
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if stamp.is_none() || cached.0 != stamp {
            cached.1 = match read_list(&self.path) {
                Ok(list) => list.tokens,
                Err(e) => {
                    tracing::error!("tokens: {e}; every request is refused until it is fixed");
                    Vec::new()
                }
            };
            cached.0 = stamp;
        }
        cached.1.clone()
    }

    /// The client a presented token is, when it may do `scope` now.
    pub fn check(&self, presented: Option<&str>, scope: TokenScope) -> Result<StoredToken, Denied> {
        self.check_any(presented, &[scope])
    }

    /// The client a presented token is, when it may do one of `scopes` now.
    pub fn check_any(
        &self,
        presented: Option<&str>,
        scopes: &[TokenScope],
    ) -> Result<StoredToken, Denied> {
        let presented = presented.ok_or(Denied::Unauthorized)?;
        let id = presented
            .strip_prefix("assay_")
            .and_then(|rest| rest.split_once('_'))
            .map(|(id, _)| id)
            .ok_or(Denied::Unauthorized)?;
        let hash = sha256_hex(presented);
        let now = Utc::now();
        let token = self
            .current()
            .into_iter()
            .find(|t| t.id == id && same(t.sha256.as_bytes(), hash.as_bytes()))
            .ok_or(Denied::Unauthorized)?;
        if token.state(now) != "active" {
            return Err(Denied::Unauthorized);
        }
        if !scopes.iter().any(|s| token.allows(*s)) {
            return Err(Denied::Forbidden);
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token lets in what its scopes allow until it is revoked; the file holds its
    /// hash only.
    #[test]
    fn tokens_are_checked_by_hash_scope_and_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = token_file(dir.path());
        let (token, stored) = create(&path, "ci", &[TokenScope::Push], None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token[10..]), "{text}");
        assert!(text.contains(&stored.sha256));
        let tokens = Tokens::new(path.clone());
        assert_eq!(
            tokens.check(Some(&token), TokenScope::Push).unwrap().name,
            "ci"
        );
        assert_eq!(
            tokens.check(Some(&token), TokenScope::Read).unwrap_err(),
            Denied::Forbidden
        );
        let last = if token.ends_with('x') { 'y' } else { 'x' };
        let forged = format!("{}{last}", &token[..token.len() - 1]);
        assert_eq!(
            tokens.check(Some(&forged), TokenScope::Push).unwrap_err(),
            Denied::Unauthorized
        );
        assert_eq!(
            tokens.check(None, TokenScope::Push).unwrap_err(),
            Denied::Unauthorized
        );
        assert!(matches!(
            create(&path, "ci", &[TokenScope::Read], None),
            Err(TokenError::Exists(_))
        ));
        // revoked by name: refused from the next request on
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(revoke(&path, "ci").unwrap().len(), 1);
        assert_eq!(
            tokens.check(Some(&token), TokenScope::Push).unwrap_err(),
            Denied::Unauthorized
        );
        assert!(matches!(
            revoke(&path, "nobody"),
            Err(TokenError::Unknown(_))
        ));
    }

    #[test]
    fn an_expired_token_is_refused_and_admin_may_do_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = token_file(dir.path());
        let (old, _) = create(&path, "old", &[TokenScope::Push], Some(Duration::ZERO)).unwrap();
        let (admin, _) = create(&path, "root", &[TokenScope::Admin], None).unwrap();
        let tokens = Tokens::new(path);
        assert_eq!(
            tokens.check(Some(&old), TokenScope::Push).unwrap_err(),
            Denied::Unauthorized
        );
        for scope in TokenScope::ALL {
            assert!(tokens.check(Some(&admin), scope).is_ok());
        }
    }
}

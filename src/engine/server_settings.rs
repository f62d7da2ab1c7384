//! The connection settings of database servers (PostgreSQL, MySQL/MariaDB): read from a
//! data source's `connection:` with positions and hints; passwords and URLs are secrets
//! from the moment they are read.

use std::path::Path;
use std::time::Duration;

use crate::decode::Reader;
use crate::diag::unknown_word_help;
use crate::exec::server_config::{ServerConfig, SslMode};
use crate::source::Span;
use crate::yaml::Node;

const SERVER_KEYS: &[&str] = &[
    "host",
    "port",
    "database",
    "user",
    "password",
    "password_file",
    "connection_string",
    "url",
    "sslmode",
    "connect_timeout",
];

const SSL_MODES: &[&str] = &["disable", "prefer", "require", "verify-full"];

/// Read a server's `connection:`. `postgres` picks the URL syntax and requires a
/// database.
pub(crate) fn read(
    r: &mut Reader,
    conn: &Node,
    what: &str,
    base: &Path,
    postgres: bool,
) -> Option<ServerConfig> {
    if !r.keys(conn, SERVER_KEYS, what) {
        return None;
    }
    let mut ok = true;
    let mut text = |r: &mut Reader, key: &str| -> Option<(String, Span)> {
        let node = conn.get(key).filter(|n| !n.is_null())?;
        let s = r.string(node, key);
        ok &= s.is_some();
        Some((s?, node.span))
    };
    let url = match (text(r, "connection_string"), text(r, "url")) {
        (Some(_), Some((_, span))) => {
            r.error(
                span,
                "give either `connection_string` or `url`, not both",
                None,
            );
            return None;
        }
        (a, b) => a.or(b),
    };
    let host = text(r, "host").map(|t| t.0);
    let database = text(r, "database").map(|t| t.0);
    let user = text(r, "user").map(|t| t.0);
    let password = text(r, "password");
    let password_file = text(r, "password_file");
    let sslmode = text(r, "sslmode");
    let connect_timeout = text(r, "connect_timeout");
    let port = port(r, conn)?;
    for (secret, _) in password.iter().chain(&url) {
        crate::secrets::register(secret);
    }
    if !ok {
        return None;
    }
    let password = password_of(r, password, password_file, base)?;
    let sslmode = match sslmode {
        None => None,
        Some((mode, span)) => Some(ssl_mode(r, &mode, span)?),
    };
    let connect_timeout = match connect_timeout {
        None => Duration::from_secs(10),
        Some((t, span)) => timeout(r, &t, span)?,
    };
    let url_database = match &url {
        None => None,
        Some((u, span)) => url_database_of(r, u, *span, postgres)?,
    };
    if url.is_none() && postgres && database.is_none() {
        r.error(
            conn.span,
            "a postgres connection needs `database:` (or a connection_string naming one)",
            None,
        );
        return None;
    }
    Some(ServerConfig {
        url: url.map(|u| u.0),
        host,
        port,
        effective_database: database.clone().or(url_database),
        database,
        user,
        password,
        sslmode,
        connect_timeout,
    })
}

/// `port:`, Ok(None) when absent; None when reported.
fn port(r: &mut Reader, conn: &Node) -> Option<Option<u16>> {
    let Some(node) = conn.get("port").filter(|n| !n.is_null()) else {
        return Some(None);
    };
    match r.count(node, "port")? {
        p @ 1..=65535 => Some(Some(p as u16)),
        _ => {
            r.error(node.span, "port must be between 1 and 65535", None);
            None
        }
    }
}

/// `password` or the first line of `password_file` (as psql's and mysql's password
/// files are usually written); Some(None) when neither is given.
fn password_of(
    r: &mut Reader,
    password: Option<(String, Span)>,
    password_file: Option<(String, Span)>,
    base: &Path,
) -> Option<Option<String>> {
    match (password, password_file) {
        (Some(_), Some((_, span))) => {
            r.error(
                span,
                "give either `password` or `password_file`, not both",
                None,
            );
            None
        }
        (Some((pw, _)), None) => Some(Some(pw)),
        (None, Some((file, span))) => {
            let path = base.join(&file);
            match std::fs::read_to_string(&path) {
                Ok(content) => {
                    let pw = content.lines().next().unwrap_or("").to_string();
                    crate::secrets::register(&pw);
                    Some(Some(pw))
                }
                Err(e) => {
                    r.error(
                        span,
                        format!("cannot read password_file '{}': {e}", path.display()),
                        Some("the path is relative to this config file's folder".into()),
                    );
                    None
                }
            }
        }
        (None, None) => Some(None),
    }
}

fn ssl_mode(r: &mut Reader, mode: &str, span: Span) -> Option<SslMode> {
    match mode {
        "disable" => Some(SslMode::Disable),
        "prefer" => Some(SslMode::Prefer),
        "require" => Some(SslMode::Require),
        "verify-full" => Some(SslMode::VerifyFull),
        other => {
            let help = unknown_word_help(other, SSL_MODES, "one of");
            r.error(span, format!("unknown sslmode '{other}'"), Some(help));
            None
        }
    }
}

/// A `connect_timeout` value: a duration above zero.
pub(crate) fn timeout(r: &mut Reader, t: &str, span: Span) -> Option<Duration> {
    match humantime::parse_duration(t) {
        Ok(d) if !d.is_zero() => Some(d),
        _ => {
            r.error(
                span,
                format!("connect_timeout '{t}' is not a duration"),
                Some("write it like 5s or 1m".into()),
            );
            None
        }
    }
}

/// The database a connection URL names; None when the URL is not valid (reported,
/// masked).
fn url_database_of(
    r: &mut Reader,
    url: &str,
    span: Span,
    postgres: bool,
) -> Option<Option<String>> {
    match url_database(url, postgres) {
        Ok(db) => Some(db),
        Err(e) => {
            r.error(
                span,
                format!(
                    "the connection string is not valid: {}",
                    crate::secrets::mask(&e.to_string())
                ),
                Some(if postgres {
                    "write it as postgres://user:password@host:5432/database?sslmode=prefer, or use the separate keys".into()
                } else {
                    "write it as mysql://user:password@host:3306/database, or use the separate keys".into()
                }),
            );
            None
        }
    }
}

/// Validate a connection URL and read the database it names.
fn url_database(url: &str, postgres: bool) -> Result<Option<String>, UrlError> {
    if postgres {
        let config: tokio_postgres::Config = url.parse()?;
        Ok(config.get_dbname().map(str::to_string))
    } else {
        let opts = mysql_async::Opts::from_url(url)?;
        Ok(opts.db_name().map(str::to_string))
    }
}

/// A connection URL its driver cannot read (the driver's own words).
#[derive(Debug, thiserror::Error)]
enum UrlError {
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error(transparent)]
    MySql(#[from] mysql_async::UrlError),
}

//! Data channels in assay.yml: `environments:` approves channels per environment, and
//! `channels:` gives the credentials assay logs in to a channel with.
//!
//! ```yaml
//! environments:
//!   data-channels: {channels: [orders, failed_rows]}
//!   development: {channels: [orders]}
//! channels:
//!   orders: {user: ci, password: "${env.ORDERS_PASSWORD}"}
//!   failed_rows: {user: ci, password: "${env.FAILED_ROWS_PASSWORD}", ca_certificate: certs/ca.pem}
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use crate::decode::Reader;
use crate::yaml::Node;

/// How assay logs in to a channel: the credentials of assay.yml.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    /// a secret; or why it could not be read (an unset variable), said only by the
    /// commands that use the channel: the others do not need it
    password: Result<String, PasswordUnset>,
    /// a PEM file with the CA that signed the channel's certificate (a private CA)
    pub ca_certificate: Option<std::path::PathBuf>,
    /// the most `verify --channel` holds of one result set: records, and bytes of frames
    pub max_records: u64,
    pub max_bytes: u64,
}

/// What `verify --channel` holds of one result set unless `channels:` says: a source
/// that never ends its set cannot take the machine's memory.
pub const DEFAULT_MAX_RECORDS: u64 = 5_000_000;
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

impl Credentials {
    /// The password, or where and why it could not be read.
    pub fn password(&self) -> Result<&str, PasswordUnset> {
        self.password.as_deref().map_err(Clone::clone)
    }
}

/// Why a channel's password has no value: where it is written and what it is missing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{col}: the password of channel {channel}: {message} ({help})")]
pub struct PasswordUnset {
    file: String,
    line: usize,
    col: usize,
    channel: String,
    message: String,
    help: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .field("ca_certificate", &self.ca_certificate)
            .finish()
    }
}

/// A name usable in the registry and in messages: letters, digits, `_`, `-`, `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Channels approved per environment.
pub type Environments = BTreeMap<String, Vec<String>>;

pub(super) fn environments(r: &mut Reader, node: &Node) -> Option<Environments> {
    let entries = match node.as_map() {
        Some(e) => e,
        None => {
            r.error(
                node.span,
                format!("environments must be a mapping, found {}", node.kind_name()),
                Some("environments: {development: {channels: [orders]}}".into()),
            );
            return None;
        }
    };
    let mut out = Environments::new();
    for (key, value) in entries {
        if !valid_name(&key.name) {
            r.error(
                key.span,
                format!("'{}' is not an environment name", key.name),
                Some("use letters, digits, _, - and .".into()),
            );
            return None;
        }
        if !r.keys(value, &["channels"], &format!("environment {}", key.name)) {
            return None;
        }
        let mut channels = Vec::new();
        if let Some(list) = value.get("channels").filter(|n| !n.is_null()) {
            for item in r.list(list, "channels")? {
                let name = r.string(item, "a channel's name")?;
                if !valid_name(&name) {
                    r.error(item.span, format!("'{name}' is not a channel name"), None);
                    return None;
                }
                channels.push(name);
            }
        }
        out.insert(key.name.clone(), channels);
    }
    Some(out)
}

pub(super) fn channels(
    r: &mut Reader,
    node: &Node,
    base: &Path,
) -> Option<BTreeMap<String, Credentials>> {
    let Some(entries) = node.as_map() else {
        r.error(
            node.span,
            format!("channels must be a mapping, found {}", node.kind_name()),
            Some("channels: {orders: {user: ci, password: \"${env.ORDERS_PASSWORD}\"}}".into()),
        );
        return None;
    };
    let mut out = BTreeMap::new();
    for (key, value) in entries {
        out.insert(key.name.clone(), credentials(r, &key.name, value, base)?);
    }
    Some(out)
}

/// One channel's credentials; a password with a placeholder that has no value is kept as
/// why, for the commands that log in to this channel.
fn credentials(r: &mut Reader, channel: &str, value: &Node, base: &Path) -> Option<Credentials> {
    let what = format!("channel {channel}");
    if !r.keys(
        value,
        &[
            "user",
            "password",
            "ca_certificate",
            "max_records",
            "max_bytes",
        ],
        &what,
    ) {
        return None;
    }
    let user_node = r.required(value, "user", &what)?;
    let user = r.string(user_node, "user")?;
    let pw_node = r.required(value, "password", &what)?;
    if !pw_node.scalar_text().is_some_and(|t| t.contains("${")) {
        r.error(
            pw_node.span,
            "a channel password is never written in clear in assay.yml",
            Some("password: \"${env.ORDERS_PASSWORD}\"".into()),
        );
        return None;
    }
    let password = password(r, channel, pw_node)?;
    let ca_certificate = match value.get("ca_certificate").filter(|n| !n.is_null()) {
        Some(n) => {
            let text = r.string(n, "ca_certificate")?;
            let p = base.join(&text);
            if !p.is_file() {
                r.error(
                    n.span,
                    format!("ca_certificate '{text}' is not a readable file"),
                    Some("a PEM file, relative to assay.yml".into()),
                );
                return None;
            }
            Some(p)
        }
        None => None,
    };
    let (max_records, max_bytes) = limits(r, value)?;
    Some(Credentials {
        user,
        password,
        ca_certificate,
        max_records,
        max_bytes,
    })
}

/// The password's placeholders filled in (the value registered as a secret), or why not.
fn password(
    r: &mut Reader,
    channel: &str,
    pw_node: &Node,
) -> Option<Result<String, PasswordUnset>> {
    let raw = r.raw_text(pw_node, "password")?;
    // an unset variable is an error for the commands that log in to this channel,
    // not for every command that reads assay.yml
    Some(match crate::interp::interpolate(&raw, r.vars) {
        Ok(p) => {
            crate::secrets::register(&p);
            Ok(p)
        }
        Err(e) => {
            let (line, col) = r.source.line_col(pw_node.span.offset);
            Err(PasswordUnset {
                file: r.source.name.clone(),
                line,
                col,
                channel: channel.to_string(),
                message: e.message(),
                help: e.help(),
            })
        }
    })
}

/// `max_records:` and `max_bytes:`, what verify --channel holds of one result set.
fn limits(r: &mut Reader, value: &Node) -> Option<(u64, u64)> {
    let max_records = match value.get("max_records").filter(|n| !n.is_null()) {
        Some(n) => match r.count(n, "max_records")? {
            0 => {
                r.error(n.span, "max_records must be at least 1", None);
                return None;
            }
            v => v,
        },
        None => DEFAULT_MAX_RECORDS,
    };
    let max_bytes = match value.get("max_bytes").filter(|n| !n.is_null()) {
        Some(n) => {
            let text = r.string(n, "max_bytes")?;
            match crate::exec::parse_size(&text) {
                Some(b) => b,
                None => {
                    r.error(
                        n.span,
                        format!("max_bytes '{text}' is not a size"),
                        Some("write it like 256MiB or 2GB".into()),
                    );
                    return None;
                }
            }
        }
        None => DEFAULT_MAX_BYTES,
    };
    Some((max_records, max_bytes))
}

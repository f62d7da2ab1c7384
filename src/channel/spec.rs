//! Reading a channel file: validated like contracts, every error at its file:line:col.
//!
//! ```yaml
//! name: orders
//! kind: source                 # or sink
//! type: file                   # file, duckdb, postgres, mysql
//! format:
//!   name: order_v1
//!   fields:
//!     - {name: id, type: long}
//!     - {name: amount, type: decimal, precision: 12, scale: 2}
//!     - {name: status, type: string, nullable: true}
//! path: data/orders_*.csv      # file: CSV, JSONL or Parquet, a glob for a source
//! result_sets: true
//! batch_size: 500
//! users:
//!   - {name: pipeline, password: "${env.ORDERS_PASSWORD}"}
//! environment: data-channels
//! expose_to: [development]
//! ```

use std::path::{Path, PathBuf};

use super::format::{Field, FieldType, Format};
use super::protocol::Kind;
use crate::config::Config;
use crate::decode::Reader;
use crate::diag::{unknown_word_help, Diag, Diags};
use crate::engine::DataSourceConfig;
use crate::interp::Vars;
use crate::model::SqlText;
use crate::source::{Source, Span};
use crate::yaml::{self, Node};

/// A channel's `type:`: `file`, or an engine that holds stores (a table a sink creates
/// and writes, a query a source reads), as `engine::ENGINES` says: no second list.
pub fn types() -> Vec<&'static str> {
    std::iter::once("file")
        .chain(
            crate::engine::ENGINES
                .iter()
                .filter(|e| e.store().is_some())
                .map(|e| e.name()),
        )
        .collect()
}

const KEYS: &[&str] = &[
    "name",
    "kind",
    "type",
    "format",
    "path",
    "file_format",
    "data_source",
    "query",
    "table",
    "result_sets",
    "batch_size",
    "buffer",
    "listen",
    "tls",
    "users",
    "environment",
    "expose_to",
];

/// The environment of a channel that names none.
pub const DEFAULT_ENVIRONMENT: &str = "default";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Jsonl,
    Parquet,
}

impl FileFormat {
    const NAMES: &'static [&'static str] = &["csv", "jsonl", "parquet"];

    fn named(name: &str) -> Option<FileFormat> {
        match name {
            "csv" => Some(FileFormat::Csv),
            "jsonl" | "ndjson" => Some(FileFormat::Jsonl),
            "parquet" => Some(FileFormat::Parquet),
            _ => None,
        }
    }

    /// From a path's extension (a glob's too).
    pub fn of_path(path: &str) -> Option<FileFormat> {
        let ext = Path::new(path).extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" => Some(FileFormat::Csv),
            "jsonl" | "ndjson" | "json" => Some(FileFormat::Jsonl),
            "parquet" => Some(FileFormat::Parquet),
            _ => None,
        }
    }
}

/// Where a channel's records come from or go to.
#[derive(Debug, Clone)]
pub enum Store {
    /// a file (a glob for a source), relative to the channel file
    File { path: PathBuf, format: FileFormat },
    /// a source: a query on a data source
    Query {
        data_source: DataSourceConfig,
        sql: SqlText,
    },
    /// a sink: a table on a data source, created when missing
    Table {
        data_source: DataSourceConfig,
        path: Vec<String>,
    },
}

#[derive(Clone)]
pub struct User {
    pub name: String,
    /// a secret: registered for masking when read
    pub password: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"<hidden>")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Tls {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ChannelSpec {
    pub file: PathBuf,
    /// the project's folder: every file the channel reads or writes is inside it
    pub root: PathBuf,
    pub name: String,
    pub kind: Kind,
    /// `file`, `duckdb`, `postgres`, `mysql`
    pub store_type: String,
    pub store: Store,
    pub format: Format,
    pub result_sets: bool,
    /// records per `records` frame
    pub batch_size: usize,
    /// records a connection may fall behind before the ones after are dropped for it
    pub buffer: usize,
    pub listen: String,
    pub tls: Option<Tls>,
    pub users: Vec<User>,
    pub environment: String,
    pub expose_to: Vec<String>,
}

pub use crate::config::channels::valid_name;

pub fn load(path: &Path, config: &Config, vars: &Vars) -> Result<ChannelSpec, Diags> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diags::from(
            Diag::plain(format!(
                "cannot read channel file '{}': {e}",
                path.display()
            ))
            .with_help("give the path of a channel's YAML file"),
        )
    })?;
    let source = Source::new(path, text);
    let node = yaml::parse(&source)?;
    // a channel file is untrusted text, like a contract: only a user's password may
    // come from a secret (read apart, below), and a password is never sent or shown
    let untrusted = Vars {
        untrusted: true,
        ..vars.clone()
    };
    let mut r = Reader::new(&source, Some(&untrusted));
    let base = path.parent().unwrap_or(Path::new("."));
    let spec = read(&mut r, &node, path, base, config);
    if !r.diags.is_empty() {
        return Err(r.diags);
    }
    spec.ok_or_else(|| Diags::from(Diag::plain("the channel file is not valid")))
}

fn read(
    r: &mut Reader,
    node: &Node,
    file: &Path,
    base: &Path,
    config: &Config,
) -> Option<ChannelSpec> {
    if !r.keys(node, KEYS, "a channel") {
        return None;
    }
    let name = name_at(r, node, "name", "the channel's name")?;
    let kind = kind(r, node)?;
    let type_node = r.required(node, "type", "a channel")?;
    let store_type = r.string(type_node, "type")?;
    let types = types();
    if !types.contains(&store_type.as_str()) {
        r.error(
            type_node.span,
            format!("unknown channel type '{store_type}'"),
            Some(unknown_word_help(&store_type, &types, "the types are")),
        );
        return None;
    }
    let format_node = r.required(node, "format", "a channel")?;
    let format = format(r, format_node)?;
    let store = store(r, node, kind, &store_type, base, config, type_node.span)?;
    let result_sets = result_sets(r, node, kind)?;
    let (batch_size, buffer) = sizes(r, node)?;
    let listen = listen(r, node)?;
    let tls = match node.get("tls").filter(|n| !n.is_null()) {
        Some(n) => Some(tls(r, n, &config.project_dir, base)?),
        None => None,
    };
    let users_node = r.required(node, "users", "a channel")?;
    let users = users(r, users_node, &config.project_dir, base)?;
    let environment = match node.get("environment").filter(|n| !n.is_null()) {
        Some(_) => name_at(r, node, "environment", "the environment")?,
        None => DEFAULT_ENVIRONMENT.to_string(),
    };
    let expose_to = expose_to(r, node)?;
    Some(ChannelSpec {
        file: file.to_path_buf(),
        root: config.project_dir.clone(),
        name,
        kind,
        store_type,
        store,
        format,
        result_sets,
        batch_size,
        buffer,
        listen,
        tls,
        users,
        environment,
        expose_to,
    })
}

/// `kind:`: source or sink.
fn kind(r: &mut Reader, node: &Node) -> Option<Kind> {
    let kind_node = r.required(node, "kind", "a channel")?;
    let kind_text = r.string(kind_node, "kind")?;
    match kind_text.as_str() {
        "source" => Some(Kind::Source),
        "sink" => Some(Kind::Sink),
        other => {
            r.error(
                kind_node.span,
                format!("unknown channel kind '{other}'"),
                Some(unknown_word_help(
                    other,
                    &["source", "sink"],
                    "a channel is a",
                )),
            );
            None
        }
    }
}

/// `result_sets:` (a source's, on by default).
fn result_sets(r: &mut Reader, node: &Node, kind: Kind) -> Option<bool> {
    Some(match node.get("result_sets").filter(|n| !n.is_null()) {
        Some(n) => {
            let b = r.bool(n, "result_sets")?;
            if b && kind == Kind::Sink {
                r.error(
                    n.span,
                    "result_sets is for a source",
                    Some("a sink stores each record it gets".into()),
                );
                return None;
            }
            b
        }
        None => kind == Kind::Source,
    })
}

/// `batch_size:` and `buffer:`: a frame must fit a consumer's buffer.
fn sizes(r: &mut Reader, node: &Node) -> Option<(usize, usize)> {
    let batch_size = positive(r, node, "batch_size", 500, 100_000)?;
    let buffer = positive(r, node, "buffer", 100_000, 10_000_000)?;
    if batch_size > buffer {
        // a frame larger than a consumer's buffer could never be queued for anyone
        let at = node
            .get("batch_size")
            .or_else(|| node.get("buffer"))
            .map_or(node.span, |n| n.span);
        r.error(
            at,
            format!(
                "batch_size {batch_size} is more than buffer {buffer}: every frame would be \
                 dropped for every consumer"
            ),
            Some(
                "make buffer at least batch_size (buffer: records a consumer may fall behind)"
                    .into(),
            ),
        );
        return None;
    }
    Some((batch_size, buffer))
}

/// `listen:`, an address and port (loopback and any free port by default).
fn listen(r: &mut Reader, node: &Node) -> Option<String> {
    Some(match node.get("listen").filter(|n| !n.is_null()) {
        Some(n) => {
            let text = r.string(n, "listen")?;
            if text.parse::<std::net::SocketAddr>().is_err() {
                r.error(
                    n.span,
                    format!("listen '{text}' is not an address and port"),
                    Some("write it like 127.0.0.1:0 (any free port) or 0.0.0.0:8443".into()),
                );
                return None;
            }
            text
        }
        None => "127.0.0.1:0".to_string(),
    })
}

/// `expose_to:`, environments other than the channel's own that may use it.
fn expose_to(r: &mut Reader, node: &Node) -> Option<Vec<String>> {
    let mut expose_to = Vec::new();
    if let Some(list) = node.get("expose_to").filter(|n| !n.is_null()) {
        for item in r.list(list, "expose_to")? {
            let env = r.string(item, "an environment")?;
            if !valid_name(&env) {
                r.error(
                    item.span,
                    format!("'{env}' is not an environment name"),
                    None,
                );
                return None;
            }
            expose_to.push(env);
        }
    }
    Some(expose_to)
}

fn name_at(r: &mut Reader, node: &Node, key: &str, what: &str) -> Option<String> {
    let n = r.required(node, key, "a channel")?;
    let name = r.string(n, what)?;
    if !valid_name(&name) {
        r.error(
            n.span,
            format!("{what} '{name}' has characters a name cannot have"),
            Some("use letters, digits, _, - and . (like orders_v1)".into()),
        );
        return None;
    }
    Some(name)
}

fn positive(r: &mut Reader, node: &Node, key: &str, default: usize, max: usize) -> Option<usize> {
    let Some(n) = node.get(key).filter(|n| !n.is_null()) else {
        return Some(default);
    };
    match r.count(n, key)? as usize {
        0 => {
            r.error(n.span, format!("{key} must be at least 1"), None);
            None
        }
        v if v > max => {
            r.error(n.span, format!("{key} {v} is more than {max}"), None);
            None
        }
        v => Some(v),
    }
}

fn format(r: &mut Reader, node: &Node) -> Option<Format> {
    if !r.keys(node, &["name", "fields"], "the format") {
        return None;
    }
    let name_node = r.required(node, "name", "the format")?;
    let name = r.string(name_node, "the format's name")?;
    if !valid_name(&name) {
        r.error(
            name_node.span,
            format!("format name '{name}' has characters a name cannot have"),
            Some("use letters, digits, _, - and . (like order_v1)".into()),
        );
        return None;
    }
    let list = r.required(node, "fields", "the format")?;
    let items = r.list(list, "fields")?;
    if items.is_empty() {
        r.error(list.span, "a format needs at least one field", None);
        return None;
    }
    let mut fields: Vec<Field> = Vec::new();
    for item in items {
        let f = field(r, item)?;
        if fields.iter().any(|o| o.name.eq_ignore_ascii_case(&f.name)) {
            r.error(
                item.span,
                format!("field '{}' is named twice", f.name),
                None,
            );
            return None;
        }
        fields.push(f);
    }
    Some(Format { name, fields })
}

fn field(r: &mut Reader, node: &Node) -> Option<Field> {
    if !r.keys(
        node,
        &["name", "type", "nullable", "precision", "scale"],
        "a field",
    ) {
        return None;
    }
    let name_node = r.required(node, "name", "a field")?;
    let name = r.name(name_node, "a field's name")?;
    let type_node = r.required(node, "type", "a field")?;
    let type_text = r.string(type_node, "a field's type")?;
    let Some(field_type) = FieldType::named(&type_text) else {
        r.error(
            type_node.span,
            format!("unknown field type '{type_text}'"),
            Some(unknown_word_help(
                &type_text,
                FieldType::NAMES,
                "the types are",
            )),
        );
        return None;
    };
    let nullable = match node.get("nullable").filter(|n| !n.is_null()) {
        Some(n) => r.bool(n, "nullable")?,
        None => false,
    };
    let mut digits = |key: &str| -> Option<Option<u32>> {
        let Some(n) = node.get(key).filter(|n| !n.is_null()) else {
            return Some(None);
        };
        if field_type != FieldType::Decimal {
            r.error(n.span, format!("{key} is for a decimal field"), None);
            return None;
        }
        match r.count(n, key)? {
            v @ 0..=38 => Some(Some(v as u32)),
            v => {
                r.error(n.span, format!("{key} {v} is more than 38"), None);
                None
            }
        }
    };
    let precision = digits("precision")?;
    let scale = digits("scale")?;
    if let (Some(p), Some(s)) = (precision, scale) {
        if s > p || p == 0 {
            r.error(
                node.span,
                format!("decimal({p},{s}): the scale must be at most the precision, which is at least 1"),
                None,
            );
            return None;
        }
    }
    Some(Field {
        name,
        field_type,
        nullable,
        precision,
        scale,
    })
}

#[allow(clippy::too_many_arguments)]
fn store(
    r: &mut Reader,
    node: &Node,
    kind: Kind,
    store_type: &str,
    base: &Path,
    config: &Config,
    type_span: Span,
) -> Option<Store> {
    if store_type == "file" {
        return file_store(r, node, kind, base, config);
    }
    if refuse(r, node, "path", "a data source channel")
        | refuse(r, node, "file_format", "a data source channel")
    {
        return None;
    }
    let ds_node = r.required(node, "data_source", "a data source channel")?;
    let ds_name = r.string(ds_node, "data_source")?;
    let Some(ds) = config.data_sources.iter().find(|d| d.name == ds_name) else {
        let names: Vec<&str> = config
            .data_sources
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        r.error(
            ds_node.span,
            format!("no data source '{ds_name}' in assay.yml"),
            Some(unknown_word_help(&ds_name, &names, "the data sources are")),
        );
        return None;
    };
    if ds.engine.name() != store_type {
        r.error(
            type_span,
            format!(
                "type {store_type}, but data source '{ds_name}' is {}",
                ds.engine.name()
            ),
            Some(format!("write type: {}", ds.engine.name())),
        );
        return None;
    }
    match kind {
        Kind::Source => query_store(r, node, ds),
        Kind::Sink => table_store(r, node, ds),
    }
}

/// A key that has no place in this kind of channel, reported: whether it was there.
fn refuse(r: &mut Reader, node: &Node, key: &str, why: &str) -> bool {
    if let Some(n) = node.get(key).filter(|n| !n.is_null()) {
        r.error(n.span, format!("{key} is not for {why}"), None);
        return true;
    }
    false
}

/// A file channel's store: its path (inside the project), its format from `file_format`
/// or the path's extension; a sink's path is one file, not a glob.
fn file_store(
    r: &mut Reader,
    node: &Node,
    kind: Kind,
    base: &Path,
    config: &Config,
) -> Option<Store> {
    if refuse(r, node, "data_source", "a file channel")
        | refuse(r, node, "query", "a file channel")
        | refuse(r, node, "table", "a file channel")
    {
        return None;
    }
    let n = r.required(node, "path", "a file channel")?;
    let text = r.string(n, "path")?;
    let given = match node.get("file_format").filter(|n| !n.is_null()) {
        Some(f) => {
            let word = r.string(f, "file_format")?;
            match FileFormat::named(&word) {
                Some(ff) => Some(ff),
                None => {
                    r.error(
                        f.span,
                        format!("unknown file format '{word}'"),
                        Some(unknown_word_help(
                            &word,
                            FileFormat::NAMES,
                            "the formats are",
                        )),
                    );
                    return None;
                }
            }
        }
        None => None,
    };
    let Some(format) = given.or_else(|| FileFormat::of_path(&text)) else {
        r.error(
            n.span,
            format!("the file format of '{text}' is not known from its extension"),
            Some("name files .csv, .jsonl or .parquet, or add file_format: csv".into()),
        );
        return None;
    };
    if kind == Kind::Sink && text.contains(['*', '?', '[']) {
        r.error(
            n.span,
            "a sink writes one file: its path is not a glob",
            None,
        );
        return None;
    }
    let path = confined(r, &config.project_dir, base, n, "path", &text)?;
    Some(Store::File { path, format })
}

/// A source's query: one read-only SELECT, as contracts' queries are.
fn query_store(r: &mut Reader, node: &Node, ds: &DataSourceConfig) -> Option<Store> {
    if refuse(r, node, "table", "a source (it reads a query)") {
        return None;
    }
    let q = r.required(node, "query", "a data source channel that is a source")?;
    let sql = r.sql(q, "query")?;
    if let Err(e) = crate::sql::user_sql::check_query(ds.engine.dialect(), &sql.sql) {
        r.error(
            q.span,
            format!("query is not a single read-only SELECT: {e}"),
            Some("a source reads: one SELECT (or WITH ... SELECT), no commands".into()),
        );
        return None;
    }
    Some(Store::Query {
        data_source: ds.clone(),
        sql,
    })
}

/// A sink's table: a table path of its data source.
fn table_store(r: &mut Reader, node: &Node, ds: &DataSourceConfig) -> Option<Store> {
    if refuse(r, node, "query", "a sink (it writes a table)") {
        return None;
    }
    let t = r.required(node, "table", "a data source channel that is a sink")?;
    let text = r.string(t, "table")?;
    let path: Vec<String> = text.split('/').map(str::to_string).collect();
    let refused = match ds.table_ref(&path) {
        _ if path.iter().any(|p| p.is_empty()) => Some(String::new()),
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    };
    if let Some(e) = refused {
        r.error(
            t.span,
            format!("table '{text}' is not a table path of {}: {e}", ds.name),
            Some("write it like main/failed_orders (schema/table)".into()),
        );
        return None;
    }
    Some(Store::Table {
        data_source: ds.clone(),
        path,
    })
}

/// A path written at `node` (under `key`) as a path inside the project's folder `root`,
/// or None, reported: a channel file reaches no file outside its project.
fn confined(
    r: &mut Reader,
    root: &Path,
    base: &Path,
    node: &Node,
    key: &str,
    text: &str,
) -> Option<PathBuf> {
    match crate::paths::confined(root, base, text) {
        Ok(p) => Some(p),
        Err(why) => {
            r.error(
                node.span,
                format!("{key} '{text}' {why}"),
                Some(
                    "a channel file reaches only files inside its project's folder: write a \
                     path relative to the channel file that stays there (../data/orders.jsonl)"
                        .into(),
                ),
            );
            None
        }
    }
}

fn tls(r: &mut Reader, node: &Node, root: &Path, base: &Path) -> Option<Tls> {
    if !r.keys(node, &["certificate", "key"], "tls") {
        return None;
    }
    let mut file = |key: &str| -> Option<PathBuf> {
        let n = r.required(node, key, "tls")?;
        let text = r.string(n, key)?;
        let p = confined(r, root, base, n, &format!("tls.{key}"), &text)?;
        if !p.is_file() {
            r.error(
                n.span,
                format!("tls.{key} '{text}' is not a readable file"),
                Some("a PEM file, relative to the channel file".into()),
            );
            return None;
        }
        Some(p)
    };
    let certificate = file("certificate")?;
    let key = file("key")?;
    Some(Tls { certificate, key })
}

fn users(r: &mut Reader, node: &Node, root: &Path, base: &Path) -> Option<Vec<User>> {
    let items = r.list(node, "users")?;
    if items.is_empty() {
        r.error(
            node.span,
            "a channel needs at least one user",
            Some("users: [{name: pipeline, password: \"${env.CHANNEL_PASSWORD}\"}]".into()),
        );
        return None;
    }
    let mut out: Vec<User> = Vec::new();
    for item in items {
        if !r.keys(item, &["name", "password", "password_file"], "a user") {
            return None;
        }
        let name_node = r.required(item, "name", "a user")?;
        let name = r.string(name_node, "a user's name")?;
        if name.is_empty() || name.contains(':') {
            r.error(
                name_node.span,
                "a user's name is not empty and has no ':'",
                None,
            );
            return None;
        }
        if out.iter().any(|u| u.name == name) {
            r.error(
                name_node.span,
                format!("user '{name}' is named twice"),
                None,
            );
            return None;
        }
        let password = match (item.get("password"), item.get("password_file")) {
            (Some(p), None) => {
                if !p.scalar_text().is_some_and(|t| t.contains("${")) {
                    r.error(
                        p.span,
                        "a password is never written in clear in a channel file",
                        Some(
                            "password: \"${env.CHANNEL_PASSWORD}\", or password_file: secrets/pipeline.txt"
                                .into(),
                        ),
                    );
                    return None;
                }
                let trusted = r.vars.map(|v| Vars {
                    untrusted: false,
                    ..v.clone()
                });
                let raw = r.raw_text(p, "password")?;
                match crate::interp::interpolate(&raw, trusted.as_ref()) {
                    Ok(password) => password,
                    Err(e) => {
                        r.error(p.span, e.message(), Some(e.help()));
                        return None;
                    }
                }
            }
            (None, Some(f)) => {
                let text = r.string(f, "password_file")?;
                let file = confined(r, root, base, f, "password_file", &text)?;
                match std::fs::read_to_string(file) {
                    Ok(p) => p.trim_end_matches(['\n', '\r']).to_string(),
                    Err(e) => {
                        r.error(
                            f.span,
                            format!("password_file '{text}' cannot be read: {e}"),
                            None,
                        );
                        return None;
                    }
                }
            }
            _ => {
                r.error(
                    item.span,
                    "a user has a password or a password_file (one of them)",
                    None,
                );
                return None;
            }
        };
        if password.len() < 8 {
            r.error(
                item.span,
                format!("user '{name}''s password is shorter than 8 characters"),
                None,
            );
            return None;
        }
        crate::secrets::register(&password);
        out.push(User { name, password });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_types_are_file_and_the_engines_that_hold_stores() {
        assert_eq!(types(), ["file", "duckdb", "postgres", "mysql"]);
    }
}

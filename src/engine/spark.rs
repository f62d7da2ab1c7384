//! Apache Spark through Spark Connect: a self-hosted Spark Connect server or a
//! Databricks cluster. Built with the cargo feature `spark` (its client's build needs
//! protoc).
//!
//! ```yaml
//! - name: lake
//!   type: spark
//!   connection:
//!     url: sc://spark.example.com:15002
//!     token: ${env.SPARK_TOKEN}          # sent only over TLS
//!     use_ssl: true
//!     headers: {x-databricks-cluster-id: 0123-456789-abcdef}
//!     file_paths: [s3a://lake/events/]    # where file datasets may be read
//! ```
//!
//! A dataset is `schema/table`, `catalog/schema/table`, or a file path Spark reads
//! in place: ``lake/parquet.`s3a://lake/events/2025/` ``. Contracts are untrusted, so a
//! file path must lie under one of the data source's `file_paths`, and user SQL may not
//! name files at all (see `SparkDialect::refused_relation`).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::{settings_of, Discovered, Engine, Files, Settings, StoreEngine};
use super::{DataSourceConfig, DatasetPathError, FileRefusal, Place};
use crate::decode::Reader;
use crate::exec::spark::SparkExecutor;
use crate::exec::{ExecError, Executor, Limits, RunControl, Value};
use crate::sql::ast::TableRef;
use crate::sql::dialect::Dialect;
use crate::sql::spark::SparkDialect;
use crate::yaml::Node;

pub struct Spark;
pub static SPARK: Spark = Spark;

/// The Spark Connect connection string (`sc://host:port/;use_ssl=true;token=...`).
pub struct SparkSettings {
    /// a secret when it holds a token: registered for masking
    pub url: String,
    /// folders (prefixes) under which contracts may name files as datasets
    pub file_paths: Vec<String>,
    /// how long connecting may take: the client retries an unavailable server for
    /// minutes on its own
    pub connect_timeout: std::time::Duration,
}

// by hand: the URL may hold the token
impl std::fmt::Debug for SparkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparkSettings")
            .field("url", &"<hidden>")
            .field("file_paths", &self.file_paths)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl Settings for SparkSettings {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The formats a file dataset may name: Spark's built-in file sources.
const FILE_FORMATS: &[&str] = &["parquet", "csv", "json", "orc"];

/// A file dataset (``parquet.`path` ``) as (format, path), or None when `text` is not one.
fn file_dataset(text: &str) -> Option<(&str, &str)> {
    let (format, rest) = text.split_once('.')?;
    let path = rest.strip_prefix('`')?.strip_suffix('`')?;
    Some((format, path))
}

/// The parameters a Spark Connect URL carries (`;key=value`): use_ssl, token, user_id
/// and headers, each checked to be carried as it is. Tokens and header values are secrets.
fn url_params(r: &mut Reader, conn: &Node) -> Option<Vec<(String, String)>> {
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(n) = conn.get("use_ssl").filter(|n| !n.is_null()) {
        if r.bool(n, "use_ssl")? {
            params.push(("use_ssl".into(), "true".into()));
        }
    }
    if let Some(n) = conn.get("token").filter(|n| !n.is_null()) {
        let token = r.string(n, "token")?;
        crate::secrets::register(&token);
        if !plain_param(&token) {
            r.error(
                n.span,
                "the token holds characters a connection string cannot carry",
                None,
            );
            return None;
        }
        params.push(("token".into(), token));
    }
    if let Some(n) = conn.get("user_id").filter(|n| !n.is_null()) {
        let user = r.string(n, "user_id")?;
        params.push(("user_id".into(), user));
    }
    if let Some(h) = conn.get("headers").filter(|n| !n.is_null()) {
        let Some(entries) = h.as_map() else {
            r.error(
                h.span,
                "headers is a mapping of header names to values",
                None,
            );
            return None;
        };
        for (k, v) in entries {
            let value = r.string(v, "a header's value")?;
            crate::secrets::register(&value);
            let name = k.name.to_ascii_lowercase();
            if !plain_param(&name) || !plain_param(&value) {
                r.error(
                    k.span,
                    format!(
                        "header '{}' cannot be carried in a connection string",
                        k.name
                    ),
                    None,
                );
                return None;
            }
            params.push((name, value));
        }
    }
    Some(params)
}

/// `file_paths:`, the folders file datasets may name; none by default.
fn file_paths(r: &mut Reader, conn: &Node) -> Option<Vec<String>> {
    Some(match conn.get("file_paths").filter(|n| !n.is_null()) {
        Some(n) => {
            let paths = r.string_list(n, "file_paths")?;
            if let Some(bad) = paths
                .iter()
                .find(|p| p.trim_end_matches('/').is_empty() || p.split('/').any(|s| s == ".."))
            {
                r.error(
                    n.span,
                    format!("file path '{bad}' is not a folder assay can confine datasets to"),
                    Some("name folders, like s3a://lake/events/ or /data/lake/".into()),
                );
                return None;
            }
            paths
        }
        None => Vec::new(),
    })
}

/// Is `path` inside one of the allowed folders? Paths are compared as text, segment by
/// segment: no `..`, no glob alternatives or character classes that could reach outside,
/// no backslashes.
fn path_allowed(allowed: &[String], path: &str) -> Result<(), FileRefusal> {
    if path.is_empty() {
        return Err(FileRefusal::Empty);
    }
    if let Some(c) = path.chars().find(|c| "`{}[]\\\0\n\r".contains(*c)) {
        return Err(FileRefusal::Character(c));
    }
    if path.split('/').any(|segment| segment == "..") {
        return Err(FileRefusal::ParentSegment);
    }
    let inside = allowed.iter().any(|folder| {
        let folder = folder.trim_end_matches('/');
        path == folder
            || path
                .strip_prefix(folder)
                .is_some_and(|r| r.starts_with('/'))
    });
    if inside {
        Ok(())
    } else if allowed.is_empty() {
        Err(FileRefusal::NoFolders)
    } else {
        Err(FileRefusal::Outside {
            path: path.to_string(),
            allowed: allowed.to_vec(),
        })
    }
}

/// A header name or value as the connection string carries it: no `;` or `=`, which
/// separate its parameters.
fn plain_param(s: &str) -> bool {
    !s.is_empty() && !s.contains([';', '=', '/']) && !s.chars().any(char::is_whitespace)
}

#[async_trait]
impl Engine for Spark {
    fn name(&self) -> &'static str {
        "spark"
    }

    fn dialect(&self) -> &'static dyn Dialect {
        &SparkDialect
    }

    fn read_connection(
        &self,
        r: &mut Reader,
        conn: &Node,
        _base: &Path,
    ) -> Option<Arc<dyn Settings>> {
        if !r.keys(
            conn,
            &[
                "url",
                "token",
                "use_ssl",
                "headers",
                "user_id",
                "file_paths",
                "connect_timeout",
            ],
            "a spark connection",
        ) {
            return None;
        }
        let url_node = r.required(conn, "url", "a spark connection")?;
        let url = r.string(url_node, "url")?;
        let Some(rest) = url.strip_prefix("sc://") else {
            r.error(
                url_node.span,
                format!("'{url}' is not a Spark Connect URL"),
                Some("write it like sc://spark.example.com:15002".into()),
            );
            return None;
        };
        let hostport = rest.split(['/', ';']).next().unwrap_or_default();
        if hostport.is_empty() || rest[hostport.len()..].trim_start_matches('/').contains('=') {
            r.error(
                url_node.span,
                "the url is sc://host:port; give token, use_ssl and headers as keys of their own",
                Some("url: sc://spark.example.com:15002".into()),
            );
            return None;
        }
        let params = url_params(r, conn)?;
        let file_paths = file_paths(r, conn)?;
        let connect_timeout = match conn.get("connect_timeout").filter(|n| !n.is_null()) {
            Some(n) => {
                let text = r.string(n, "connect_timeout")?;
                super::server_settings::timeout(r, &text, n.span)?
            }
            // a Spark Connect server answers at once; a stopped Databricks cluster takes
            // minutes to start, and wants a longer one
            None => std::time::Duration::from_secs(30),
        };
        let mut full = format!("sc://{hostport}/");
        for (k, v) in &params {
            full.push_str(&format!(";{k}={v}"));
        }
        if params.iter().any(|(k, _)| k == "token") {
            crate::secrets::register(&full);
        }
        Some(Arc::new(SparkSettings {
            url: full,
            file_paths,
            connect_timeout,
        }))
    }

    fn odcs_path(&self, _ds: &DataSourceConfig, place: &Place, table: &str) -> Vec<String> {
        let schema = place.schema.clone().unwrap_or_else(|| "default".into());
        match &place.database {
            Some(catalog) => vec![catalog.clone(), schema, table.to_string()],
            None => vec![schema, table.to_string()],
        }
    }

    fn table_ref(
        &self,
        ds: &DataSourceConfig,
        parts: &[String],
    ) -> Result<TableRef, DatasetPathError> {
        if let [one] = parts {
            if let Some((format, path)) = file_dataset(one) {
                let format = format.to_ascii_lowercase();
                if !FILE_FORMATS.contains(&format.as_str()) {
                    return Err(DatasetPathError::FileFormat {
                        format,
                        formats: FILE_FORMATS,
                    });
                }
                let allowed =
                    &settings_of::<SparkSettings>(ds.settings.as_ref(), self.name()).file_paths;
                path_allowed(allowed, path).map_err(|refusal| {
                    DatasetPathError::FileNotAllowed {
                        refusal,
                        data_source: ds.name.clone(),
                    }
                })?;
                return Ok(TableRef::new(vec![format, path.to_string()]));
            }
        }
        match parts {
            [_, _] | [_, _, _] if parts.iter().all(|p| !p.is_empty()) => {
                Ok(TableRef::new(parts.to_vec()))
            }
            _ => Err(DatasetPathError::Written {
                engine: self.name(),
                form: "schema/table, catalog/schema/table or a file, like parquet.`s3a://lake/events/`".into(),
            }),
        }
    }

    async fn open(
        &self,
        ds: &DataSourceConfig,
        _connections: usize,
        _files: Files,
    ) -> Result<Arc<dyn Executor>, ExecError> {
        let s = settings_of::<SparkSettings>(ds.settings.as_ref(), self.name());
        Ok(Arc::new(
            SparkExecutor::open(&ds.name, &s.url, s.connect_timeout).await?,
        ))
    }

    fn store(&self) -> Option<&dyn StoreEngine> {
        None
    }

    async fn discover(
        &self,
        ds: &DataSourceConfig,
        control: &RunControl,
    ) -> Result<Vec<Discovered>, ExecError> {
        // namespaces, then each one's tables (views among them)
        let exec = self.open(ds, 1, Files::new()).await?;
        let mut session = exec.session(control).await?;
        // catalog names and types are never NULL
        let text = |v: &Value| v.to_text().unwrap_or_default();
        let result = async {
            let namespaces = session
                .rows("SHOW NAMESPACES", Limits::rows(usize::MAX))
                .await?;
            let mut out = Vec::new();
            for ns in namespaces.rows.iter().filter_map(|r| r.first()).map(text) {
                let q = format!("SHOW TABLES IN {}", SparkDialect.quote_ident(&ns));
                let views = format!("SHOW VIEWS IN {}", SparkDialect.quote_ident(&ns));
                let view_names: Vec<String> = session
                    .rows(&views, Limits::rows(usize::MAX))
                    .await?
                    .rows
                    .iter()
                    .filter_map(|r| r.get(1))
                    .map(text)
                    .collect();
                for row in session.rows(&q, Limits::rows(usize::MAX)).await?.rows {
                    // (namespace, tableName, isTemporary): temporary views are no dataset
                    if row.get(2).is_some_and(|t| matches!(t, Value::Bool(true))) {
                        continue;
                    }
                    let Some(name) = row.get(1).map(text) else {
                        continue;
                    };
                    out.push(Discovered {
                        view: view_names.contains(&name),
                        path: vec![ns.clone(), name],
                    });
                }
            }
            Ok(out)
        }
        .await;
        session.finish().await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_datasets_stay_inside_the_allowed_folders() {
        let allowed = vec!["/data/lake/".to_string(), "s3a://bucket/events".to_string()];
        for ok in [
            "/data/lake/orders",
            "/data/lake/2025/*.parquet",
            "s3a://bucket/events/day=1/",
            "s3a://bucket/events",
        ] {
            if let Err(e) = path_allowed(&allowed, ok) {
                panic!("{ok}: {e}");
            }
        }
        for bad in [
            "/data/lakehouse/x",
            "/data/lake/../../etc/passwd",
            "/data/lake/{..,x}/passwd",
            "/data/lake/[a-z]",
            "/data/lake/x`.y",
            "/data/lake\\..\\x",
            "/etc/passwd",
            "file:/data/lake/x",
            "s3a://bucket/eventsother/x",
            "",
        ] {
            assert!(path_allowed(&allowed, bad).is_err(), "{bad}");
        }
        assert_eq!(
            path_allowed(&[], "/data/lake/x").unwrap_err(),
            FileRefusal::NoFolders
        );
    }

    #[test]
    fn a_file_dataset_is_a_format_and_a_quoted_path() {
        assert_eq!(
            file_dataset("parquet.`s3a://b/x/`"),
            Some(("parquet", "s3a://b/x/"))
        );
        assert_eq!(file_dataset("sales.orders"), None);
        assert_eq!(file_dataset("parquet.`x"), None);
    }
}

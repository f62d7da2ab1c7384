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
//! ```

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::DataSourceConfig;
use super::{settings_of, Discovered, Engine, Files, Settings, StoreEngine};
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
}

// by hand: the URL may hold the token
impl std::fmt::Debug for SparkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SparkSettings { url: <hidden> }")
    }
}

impl Settings for SparkSettings {
    fn as_any(&self) -> &dyn std::any::Any {
        self
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
            &["url", "token", "use_ssl", "headers", "user_id"],
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
        let mut full = format!("sc://{hostport}/");
        for (k, v) in &params {
            full.push_str(&format!(";{k}={v}"));
        }
        if params.iter().any(|(k, _)| k == "token") {
            crate::secrets::register(&full);
        }
        Some(Arc::new(SparkSettings { url: full }))
    }

    fn table_ref(&self, _ds: &DataSourceConfig, parts: &[String]) -> Result<TableRef, String> {
        match parts {
            [_, _] | [_, _, _] if parts.iter().all(|p| !p.is_empty()) => {
                Ok(TableRef::new(parts.to_vec()))
            }
            _ => Err("a spark dataset is schema/table or catalog/schema/table".into()),
        }
    }

    async fn open(
        &self,
        ds: &DataSourceConfig,
        _connections: usize,
        _files: Files,
    ) -> Result<Arc<dyn Executor>, ExecError> {
        let s = settings_of::<SparkSettings>(ds.settings.as_ref(), self.name());
        Ok(Arc::new(SparkExecutor::open(&ds.name, &s.url).await?))
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
        let text = |v: &Value| match v {
            Value::Text(t) => t.clone(),
            other => other.to_string(),
        };
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

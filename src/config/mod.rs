//! `assay.yml` and standalone data source files.
//!
//! Relative paths in a config file are relative to that file's folder, so
//! `assay -c project/assay.yml` works from anywhere.

mod anomalies;
pub mod channels;
mod notify;
mod scan;
mod schedules;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::decode::Reader;
use crate::diag::{unknown_word_help, Diag, Diags};
use crate::engine::{self, DataSourceConfig};
use crate::interp::Vars;
use crate::source::{Source, Span};
use crate::yaml::{self, Node};

pub use anomalies::{AnomalyConfig, FRESHNESS_METRIC};
pub use notify::{NotifyConfig, NotifyOn, NotifyTarget};
pub use scan::{ChangeKind, Glob, HistoryConfig, ProfileConfig, ProfileMetric, ScanConfig};
pub use schedules::{project_relative, ScheduleConfig, DEFAULT_RUN_TIMEOUT};

#[derive(Debug, Default)]
pub struct Config {
    pub data_sources: Vec<DataSourceConfig>,
    pub cloud: Option<CloudConfig>,
    /// the config file's folder (the current one without a config file): where
    /// `.assay/outbox/` lives
    pub project_dir: PathBuf,
    /// the config file, for messages ("check the token in assay.yml")
    pub config_file: Option<PathBuf>,
    pub diagnostics: DiagnosticsConfig,
    pub scan: ScanConfig,
    pub history: HistoryConfig,
    pub notify: Option<NotifyConfig>,
    /// channels approved per environment
    pub environments: channels::Environments,
    /// how assay logs in to channels, by name
    pub channels: std::collections::BTreeMap<String, channels::Credentials>,
    /// runs `assay serve` queues for its agents
    pub schedules: Vec<ScheduleConfig>,
}

/// Where failing rows go (SPEC section 6).
#[derive(Debug, Clone)]
pub struct DiagnosticsConfig {
    /// a configured data source; None: the embedded DuckDB file .assay/diagnostics.duckdb
    pub data_source: Option<String>,
    /// schema (Postgres, DuckDB) or database (MySQL) of the store's table
    pub schema: Option<String>,
    pub max_rows_per_check: u64,
    /// a check's captured values stop at this many bytes (no more rows are read)
    pub max_bytes_per_check: u64,
    /// a longer text value is cut, with a marker saying how much was left out
    pub max_value_bytes: u64,
    /// columns kept out of the store in every dataset
    pub exclude_columns: Vec<String>,
    /// a sink channel that takes failing rows as records, instead of a table
    pub channel: Option<String>,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        DiagnosticsConfig {
            data_source: None,
            schema: None,
            max_rows_per_check: 100,
            max_bytes_per_check: 1024 * 1024,
            max_value_bytes: 4096,
            exclude_columns: Vec::new(),
            channel: None,
        }
    }
}

const DIAGNOSTICS_KEYS: &[&str] = &[
    "data_source",
    "channel",
    "schema",
    "max_rows_per_check",
    "max_bytes_per_check",
    "max_value_bytes",
    "exclude_columns",
];

/// Where results are pushed (SPEC section 5).
#[derive(Clone)]
pub struct CloudConfig {
    /// results endpoint and its bearer token (a secret)
    pub endpoint: Option<(String, String)>,
    /// per request
    pub timeout: Duration,
    /// tries per target before a result goes to the outbox
    pub max_attempts: u32,
    /// the first retry's delay; doubled each retry, with jitter
    pub backoff: Duration,
    /// Prometheus Pushgateway URL and job name
    pub pushgateway: Option<(String, String)>,
    /// a setting needed only to push that could not be read (the token's environment
    /// variable is not set): an error for `--push` and `assay push`, nothing otherwise
    pub unresolved: Option<crate::diag::Diag>,
}

impl fmt::Debug for CloudConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudConfig")
            .field("endpoint", &self.endpoint.as_ref().map(|e| &e.0))
            .field("pushgateway", &self.pushgateway)
            .finish()
    }
}

const CLOUD_KEYS: &[&str] = &[
    "endpoint",
    "token",
    "timeout",
    "max_attempts",
    "backoff",
    "pushgateway",
    "job",
];

impl Config {
    /// Whether `environments:` approves channel `name` in `environment`: needed to run
    /// it there, and to use it from there (verify --channel, failed rows to a sink).
    pub fn approves(&self, environment: &str, name: &str) -> bool {
        self.environments
            .get(environment)
            .is_some_and(|channels| channels.iter().any(|c| c == name))
    }

    /// The error when channel `name` is not approved in `environment` (`refused` says
    /// what it may not do there), with the lines of this config that approve it.
    pub fn unapproved(&self, environment: &str, name: &str, refused: &str) -> Option<Diag> {
        (!self.approves(environment, name)).then(|| {
            // a typo of a channel this config knows (approves somewhere, or logs in to)
            let known: Vec<&str> = self
                .environments
                .values()
                .flatten()
                .chain(self.channels.keys())
                .map(String::as_str)
                .filter(|c| *c != name)
                .collect();
            let closest = crate::diag::did_you_mean(name, known)
                .map(|c| format!("did you mean '{c}'? Else "))
                .unwrap_or_default();
            Diag::plain(format!(
                "channel {name} is not approved in environment {environment}: {refused}"
            ))
            .with_help(format!(
                "{closest}approve it in {}:\nenvironments:\n  {environment}:\n    channels: [{name}]",
                self.file_name()
            ))
        })
    }

    pub fn data_source(&self, name: &str) -> Option<&DataSourceConfig> {
        self.data_sources.iter().find(|d| d.name == name)
    }

    /// The config file as messages name it ("check the token in ... of assay.yml").
    pub fn file_name(&self) -> String {
        self.config_file
            .as_ref()
            .map_or_else(|| "assay.yml".to_string(), |p| p.display().to_string())
    }

    pub fn names(&self) -> Vec<&str> {
        self.data_sources.iter().map(|d| d.name.as_str()).collect()
    }

    /// The help for a data source name that is not configured.
    pub fn unknown_name_help(&self, name: &str) -> String {
        if self.data_sources.is_empty() {
            return "no data sources are configured: create assay.yml with `data_sources:`, or pass -d FILE"
                .into();
        }
        crate::diag::unknown_word_help(name, &self.names(), "configured data sources:")
    }
}

fn read_source(path: &Path, what: &str) -> Result<Source, Diag> {
    std::fs::read_to_string(path)
        .map(|text| Source::new(path, text))
        .map_err(|e| Diag::plain(format!("cannot read {what} '{}': {e}", path.display())))
}

/// Load the project file (if any) and the `-d FILE` data source files.
pub fn load(
    config_path: Option<&Path>,
    data_source_files: &[PathBuf],
    vars: &Vars,
) -> Result<Config, Diags> {
    let mut config = Config {
        project_dir: PathBuf::from("."),
        ..Config::default()
    };
    let mut diags = Diags::default();
    if let Some(path) = config_path {
        config.project_dir = base_dir(path).to_path_buf();
        if config.project_dir.as_os_str().is_empty() {
            config.project_dir = PathBuf::from(".");
        }
        config.config_file = Some(path.to_path_buf());
        let source = read_source(path, "config file")?;
        let node = yaml::parse(&source)?;
        let mut r = Reader::new(&source, Some(vars));
        if node.is_null() {
            // an empty assay.yml configures nothing, which is fine
        } else if r.keys(
            &node,
            &[
                "data_sources",
                "cloud",
                "diagnostics",
                "public_env",
                "scan",
                "history",
                "notify",
                "environments",
                "channels",
                "schedules",
            ],
            "the config file",
        ) {
            read_sections(&mut r, &node, path, &mut config);
        }
        diags.extend(r.diags);
    }
    for path in data_source_files {
        let source = match read_source(path, "data source file") {
            Ok(s) => s,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let node = match yaml::parse(&source) {
            Ok(n) => n,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let mut r = Reader::new(&source, Some(vars));
        if let Some(ds) = data_source(&mut r, &node, base_dir(path)) {
            push_unique(&mut r, &mut config, ds, node.span);
        }
        diags.extend(r.diags);
    }
    if diags.is_empty() {
        Ok(config)
    } else {
        Err(diags)
    }
}

/// The sections of assay.yml, into `config`; what is wrong goes to `r`'s diagnostics.
fn read_sections(r: &mut Reader, node: &Node, path: &Path, config: &mut Config) {
    // first: it decides which `${env.X}` values below may be shown
    if let Some(list) = node.get("public_env").filter(|n| !n.is_null()) {
        for name in r.string_list(list, "public_env").unwrap_or_default() {
            crate::secrets::declare_public_env(&name);
        }
    }
    if let Some(list) = node.get("data_sources") {
        if let Some(items) = r.list(list, "data_sources") {
            for item in items {
                if let Some(ds) = data_source(r, item, base_dir(path)) {
                    push_unique(r, config, ds, item.span);
                }
            }
        }
    }
    if let Some(cloud_node) = node.get("cloud") {
        config.cloud = cloud(r, cloud_node);
    }
    if let Some(d) = node.get("diagnostics").filter(|n| !n.is_null()) {
        if let Some(diagnostics) = diagnostics(r, d, config) {
            config.diagnostics = diagnostics;
        }
    }
    if let Some(s) = node.get("scan").filter(|n| !n.is_null()) {
        if let Some(s) = scan::scan(r, s) {
            config.scan = s;
        }
    }
    if let Some(n) = node.get("notify").filter(|n| !n.is_null()) {
        config.notify = notify::notify(r, n);
    }
    if let Some(n) = node.get("environments").filter(|n| !n.is_null()) {
        config.environments = channels::environments(r, n).unwrap_or_default();
    }
    if let Some(n) = node.get("channels").filter(|n| !n.is_null()) {
        config.channels = channels::channels(r, n, base_dir(path)).unwrap_or_default();
    }
    if let Some(n) = node.get("schedules").filter(|n| !n.is_null()) {
        config.schedules = schedules::schedules(r, n).unwrap_or_default();
    }
    if let Some(h) = node.get("history").filter(|n| !n.is_null()) {
        if let Some(h) = scan::history(r, h, &config.data_sources) {
            config.history = h;
        }
    }
}

/// Only `schedules:` of a config file's text (`assay serve` reads its project's so,
/// without the environment the placeholders elsewhere in it name).
pub fn read_schedules(source: &Source) -> Result<Vec<ScheduleConfig>, Diags> {
    let node = yaml::parse(source)?;
    let mut r = Reader::new(source, None);
    let out = match node.get("schedules").filter(|n| !n.is_null()) {
        Some(n) => schedules::schedules(&mut r, n).unwrap_or_default(),
        None => Vec::new(),
    };
    if r.diags.is_empty() {
        Ok(out)
    } else {
        Err(r.diags)
    }
}

fn base_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

fn push_unique(r: &mut Reader, config: &mut Config, ds: DataSourceConfig, span: Span) {
    if config.data_source(&ds.name).is_some() {
        r.error(
            span,
            format!("data source '{}' is defined twice", ds.name),
            Some("give each data source its own name".into()),
        );
    } else {
        config.data_sources.push(ds);
    }
}

fn data_source(r: &mut Reader, node: &Node, base: &Path) -> Option<DataSourceConfig> {
    if !r.keys(node, &["name", "type", "connection"], "a data source") {
        return None;
    }
    let name = r
        .required(node, "name", "a data source")
        .and_then(|n| r.string(n, "name"));
    let type_node = r.required(node, "type", "a data source")?;
    let type_name = r.string(type_node, "type")?;
    let name = name?;
    if name.is_empty() || name.contains('/') {
        r.error(
            node.get("name").map_or(node.span, |n| n.span),
            format!("data source name '{name}' must be non-empty and contain no '/'"),
            None,
        );
        return None;
    }
    let Some(engine) = engine::by_name(&type_name) else {
        let help = unknown_word_help(&type_name, &engine::names(), "supported types:");
        r.error(
            type_node.span,
            format!("unknown data source type '{type_name}'"),
            Some(help),
        );
        return None;
    };
    let conn = r.required(node, "connection", &format!("data source '{name}'"))?;
    let settings = engine.read_connection(r, conn, base)?;
    Some(DataSourceConfig {
        name,
        engine,
        settings,
    })
}

fn diagnostics(r: &mut Reader, node: &Node, config: &Config) -> Option<DiagnosticsConfig> {
    if !r.keys(node, DIAGNOSTICS_KEYS, "diagnostics") {
        return None;
    }
    let mut out = DiagnosticsConfig::default();
    if let Some(n) = node.get("data_source").filter(|n| !n.is_null()) {
        let name = r.string(n, "data_source")?;
        match config.data_source(&name) {
            Some(ds) if ds.engine.store().is_none() => {
                r.error(
                    n.span,
                    format!("data source '{name}' is a files data source, which cannot store failed rows"),
                    Some("use a duckdb, postgres or mysql data source, or leave data_source out for .assay/diagnostics.duckdb".into()),
                );
                return None;
            }
            Some(_) => out.data_source = Some(name),
            None => {
                let help = config.unknown_name_help(&name);
                r.error(n.span, format!("no data source named '{name}'"), Some(help));
                return None;
            }
        }
    }
    if let Some(n) = node.get("schema").filter(|n| !n.is_null()) {
        out.schema = Some(r.string(n, "schema")?);
    }
    if let Some(n) = node.get("channel").filter(|n| !n.is_null()) {
        let name = r.string(n, "channel")?;
        if !channels::valid_name(&name) {
            r.error(n.span, format!("'{name}' is not a channel name"), None);
            return None;
        }
        if out.data_source.is_some() || out.schema.is_some() {
            r.error(
                n.span,
                "failed rows go to a channel or to a data source, not both",
                Some("keep channel, or data_source and schema".into()),
            );
            return None;
        }
        out.channel = Some(name);
    }
    if let Some(n) = node.get("max_rows_per_check").filter(|n| !n.is_null()) {
        out.max_rows_per_check = r.count(n, "max_rows_per_check")?;
    }
    for (key, field) in [
        ("max_bytes_per_check", &mut out.max_bytes_per_check),
        ("max_value_bytes", &mut out.max_value_bytes),
    ] {
        if let Some(n) = node.get(key).filter(|n| !n.is_null()) {
            match r.count(n, key)? {
                0 => {
                    r.error(n.span, format!("{key} must be at least 1"), None);
                    return None;
                }
                bytes => *field = bytes,
            }
        }
    }
    if let Some(n) = node.get("exclude_columns").filter(|n| !n.is_null()) {
        out.exclude_columns = r.string_list(n, "exclude_columns")?;
    }
    Some(out)
}

fn cloud(r: &mut Reader, node: &Node) -> Option<CloudConfig> {
    if !r.keys(node, CLOUD_KEYS, "cloud") {
        return None;
    }
    let mut text = |key: &str| -> Option<(String, Span)> {
        let n = node.get(key).filter(|n| !n.is_null())?;
        r.string(n, key).map(|s| (s, n.span))
    };
    let endpoint = text("endpoint");
    let pushgateway = text("pushgateway");
    let job = text("job");
    let timeout = text("timeout");
    let backoff = text("backoff");
    let (token, unresolved) = cloud_token(r, node);
    let timeout = cloud_duration(r, timeout, "timeout", Duration::from_secs(30))?;
    let backoff = cloud_duration(r, backoff, "backoff", Duration::from_secs(1))?;
    let max_attempts = match node.get("max_attempts").filter(|n| !n.is_null()) {
        None => 5,
        Some(n) => match r.count(n, "cloud.max_attempts")? {
            0 => {
                r.error(n.span, "cloud.max_attempts must be at least 1", None);
                return None;
            }
            a => a.min(100) as u32,
        },
    };
    let endpoint = match (endpoint, token) {
        (Some(e), Some((t, _))) => {
            http_url(r, &e, "endpoint").then(|| (e.0.trim_end_matches('/').to_string(), t))
        }
        (Some((_, span)), None) => {
            r.error(
                span,
                "cloud.endpoint needs cloud.token",
                Some("token: ${env.ASSAY_CLOUD_TOKEN}".into()),
            );
            return None;
        }
        (None, Some((_, span))) => {
            r.error(span, "cloud.token without cloud.endpoint", None);
            return None;
        }
        (None, None) => None,
    };
    let pushgateway = match pushgateway {
        Some(p) => http_url(r, &p, "pushgateway").then(|| {
            (
                p.0.trim_end_matches('/').to_string(),
                job.map_or_else(|| "assay".to_string(), |j| j.0),
            )
        }),
        None => {
            if let Some((_, span)) = job {
                r.error(span, "cloud.job without cloud.pushgateway", None);
                return None;
            }
            None
        }
    };
    if endpoint.is_none() && pushgateway.is_none() {
        r.error(
            node.span,
            "cloud needs an endpoint (with a token) or a pushgateway",
            Some(
                "cloud: {endpoint: https://dq.example.com, token: ${env.ASSAY_CLOUD_TOKEN}}".into(),
            ),
        );
        return None;
    }
    Some(CloudConfig {
        endpoint,
        timeout,
        max_attempts,
        backoff,
        pushgateway,
        unresolved,
    })
}

/// `cloud.token`, a secret. It is needed only to push: an unset variable is kept as an
/// error for then, not reported now.
fn cloud_token(r: &mut Reader, node: &Node) -> (Option<(String, Span)>, Option<Diag>) {
    let Some(n) = node.get("token").filter(|n| !n.is_null()) else {
        return (None, None);
    };
    let Some(raw) = r.raw_text(n, "token") else {
        return (None, None);
    };
    match crate::interp::interpolate(&raw, r.vars) {
        Ok(t) => {
            crate::secrets::register(&t);
            (Some((t, n.span)), None)
        }
        Err(e) => {
            let unresolved = Diag::at(
                r.source,
                n.span,
                format!("cloud.token: {}", e.message()),
                "here",
            )
            .with_help(e.help());
            (Some((String::new(), n.span)), Some(unresolved))
        }
    }
}

/// An http(s) URL, or false (reported). A password in the URL (basic auth for a gateway)
/// is a secret like the token, and so is a query string (`?key=...`).
fn http_url(r: &mut Reader, (url, span): &(String, Span), key: &str) -> bool {
    let parsed = reqwest::Url::parse(url);
    if let Ok(u) = &parsed {
        if let Some(pw) = u.password() {
            crate::secrets::register(pw);
        }
        if let Some(query) = u.query() {
            crate::secrets::register(query);
            for (_, value) in u.query_pairs() {
                crate::secrets::register(&value);
            }
        }
    }
    let ok = parsed
        .map(|u| matches!(u.scheme(), "http" | "https"))
        .unwrap_or(false);
    if !ok {
        r.error(
            *span,
            format!("cloud.{key} '{url}' is not an http(s) URL"),
            Some("write it like https://dq.example.com".into()),
        );
    }
    ok
}

fn cloud_duration(
    r: &mut Reader,
    value: Option<(String, Span)>,
    key: &str,
    default: Duration,
) -> Option<Duration> {
    let Some((t, span)) = value else {
        return Some(default);
    };
    match humantime::parse_duration(&t) {
        Ok(d) if !d.is_zero() => Some(d),
        _ => {
            r.error(
                span,
                format!("cloud.{key} '{t}' is not a duration"),
                Some("write it like 30s or 500ms".into()),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data source as a config file would give it.
    fn ds(text: &str) -> DataSourceConfig {
        let source = Source::new(Path::new("assay.yml"), text.to_string());
        let node = yaml::parse(&source).unwrap();
        let mut r = Reader::new(&source, None);
        data_source(&mut r, &node, Path::new("")).unwrap_or_else(|| panic!("{:?}", r.diags))
    }

    #[test]
    fn dataset_paths_map_to_tables() {
        let duck = ds("{name: x, type: duckdb, connection: {database: a.duckdb}}");
        let parts = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            duck.table_ref(&parts("main/orders")).unwrap().parts,
            ["main", "orders"]
        );
        assert!(duck.table_ref(&parts("orders")).is_err());
        let files = ds("{name: x, type: files, connection: {root: data}}");
        // the whole path names the view: sub/orders.parquet would be another one
        assert_eq!(
            files.table_ref(&parts("sub/orders.csv")).unwrap().parts,
            ["sub/orders.csv"]
        );
        assert!(files.table_ref(&parts("orders.xlsx")).is_err());
        assert_eq!(
            files.file_path(&parts("sub/orders.csv")).unwrap(),
            PathBuf::from("data/sub/orders.csv")
        );
    }

    #[cfg(feature = "spark")]
    #[test]
    fn spark_file_datasets_need_an_allowed_folder() {
        let spark = ds(
            "{name: lake, type: spark, connection: {url: 'sc://127.0.0.1:15002', file_paths: [/data/lake/]}}",
        );
        let parts = |s: &str| crate::contract::dataset_parts(&format!("lake/{s}"))[1..].to_vec();
        assert_eq!(
            spark
                .table_ref(&parts("parquet.`/data/lake/orders/`"))
                .unwrap()
                .parts,
            ["parquet", "/data/lake/orders/"]
        );
        let err = spark.table_ref(&parts("csv.`/etc/passwd`")).unwrap_err();
        assert!(err.to_string().contains("file_paths"), "{err}");
        assert!(spark.table_ref(&parts("xlsx.`/data/lake/x`")).is_err());
        assert_eq!(
            spark.table_ref(&parts("sales/orders")).unwrap().parts,
            ["sales", "orders"]
        );
        let none = ds("{name: lake, type: spark, connection: {url: 'sc://127.0.0.1:15002'}}");
        assert!(none
            .table_ref(&parts("parquet.`/data/lake/orders/`"))
            .unwrap_err()
            .to_string()
            .contains("no file datasets"));
    }
}

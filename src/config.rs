//! `assay.yml` and standalone data source files.
//!
//! Relative paths in a config file are relative to that file's folder, so
//! `assay -c project/assay.yml` works from anywhere.

use std::path::{Path, PathBuf};

use crate::decode::Reader;
use crate::diag::{did_you_mean, Diag, Diags};
use crate::interp::Vars;
use crate::sql::ast::TableRef;
use crate::sql::dialect::Dialect;
use crate::sql::duckdb::DuckDbDialect;
use crate::yaml::{self, Node, Source, Span};

pub const DATA_SOURCE_TYPES: &[&str] = &["duckdb", "files"];
const FILE_EXTENSIONS: &[&str] = &[
    ".csv", ".tsv", ".csv.gz", ".parquet", ".json", ".jsonl", ".ndjson",
];

#[derive(Debug, Clone)]
pub enum DataSourceKind {
    /// a DuckDB database file (or ":memory:"), opened read-only
    DuckDb { database: String },
    /// data files under a root folder, read through embedded DuckDB
    Files { root: PathBuf },
}

#[derive(Debug, Clone)]
pub struct DataSourceConfig {
    pub name: String,
    pub kind: DataSourceKind,
}

impl DataSourceConfig {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            DataSourceKind::DuckDb { .. } => "duckdb",
            DataSourceKind::Files { .. } => "files",
        }
    }

    pub fn dialect(&self) -> &'static dyn Dialect {
        &DuckDbDialect
    }

    /// The table a dataset path (after the data source name) refers to.
    pub fn table_ref(&self, parts: &[String]) -> Result<TableRef, String> {
        match &self.kind {
            DataSourceKind::DuckDb { .. } => match parts.len() {
                2 | 3 => Ok(TableRef::new(parts.to_vec())),
                _ => Err(format!(
                    "a duckdb dataset is written {}/[catalog/]schema/table",
                    self.name
                )),
            },
            DataSourceKind::Files { .. } => {
                let rel = parts.join("/");
                let lower = rel.to_ascii_lowercase();
                match FILE_EXTENSIONS.iter().find(|ext| lower.ends_with(*ext)) {
                    Some(ext) => Ok(TableRef::new(vec![rel[..rel.len() - ext.len()].to_string()])),
                    None => Err(format!(
                        "a files dataset is a path under the data source's root ending in one of {}",
                        FILE_EXTENSIONS.join(", ")
                    )),
                }
            }
        }
    }

    /// files data source: the file a dataset path names.
    pub fn file_path(&self, parts: &[String]) -> Option<PathBuf> {
        match &self.kind {
            DataSourceKind::Files { root } => {
                Some(parts.iter().fold(root.clone(), |p, part| p.join(part)))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
pub struct Config {
    pub data_sources: Vec<DataSourceConfig>,
}

impl Config {
    pub fn data_source(&self, name: &str) -> Option<&DataSourceConfig> {
        self.data_sources.iter().find(|d| d.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.data_sources.iter().map(|d| d.name.as_str()).collect()
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
    let mut config = Config::default();
    let mut diags = Diags::default();
    if let Some(path) = config_path {
        let source = read_source(path, "config file")?;
        let node = yaml::parse(&source)?;
        let mut r = Reader::new(&source, Some(vars));
        if node.is_null() {
            // an empty assay.yml configures nothing, which is fine
        } else if r.keys(&node, &["data_sources"], "the config file") {
            if let Some(list) = node.get("data_sources") {
                if let Some(items) = r.list(list, "data_sources") {
                    for item in items {
                        if let Some(ds) = data_source(&mut r, item, base_dir(path)) {
                            push_unique(&mut r, &mut config, ds, item.span);
                        }
                    }
                }
            }
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
    if !DATA_SOURCE_TYPES.contains(&type_name.as_str()) {
        let help = match did_you_mean(&type_name, DATA_SOURCE_TYPES.iter().copied()) {
            Some(s) => format!("did you mean '{s}'?"),
            None => format!("supported types: {}", DATA_SOURCE_TYPES.join(", ")),
        };
        r.error(
            type_node.span,
            format!("unknown data source type '{type_name}'"),
            Some(help),
        );
        return None;
    }
    let conn = r.required(node, "connection", &format!("data source '{name}'"))?;
    let resolve = |p: String| -> PathBuf {
        let path = PathBuf::from(&p);
        if path.is_absolute() {
            path
        } else {
            base.join(path)
        }
    };
    let kind = match type_name.as_str() {
        "duckdb" => {
            if !r.keys(conn, &["database"], "a duckdb connection") {
                return None;
            }
            let db = r.required(conn, "database", "a duckdb connection")?;
            let database = r.string(db, "database")?;
            let database = if database == ":memory:" {
                database
            } else {
                resolve(database).to_string_lossy().into_owned()
            };
            DataSourceKind::DuckDb { database }
        }
        "files" => {
            if !r.keys(conn, &["root"], "a files connection") {
                return None;
            }
            let root = r.required(conn, "root", "a files connection")?;
            let root = r.string(root, "root")?;
            DataSourceKind::Files {
                root: resolve(root),
            }
        }
        _ => unreachable!("type was checked against DATA_SOURCE_TYPES"),
    };
    Some(DataSourceConfig { name, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(kind: DataSourceKind) -> DataSourceConfig {
        DataSourceConfig {
            name: "x".into(),
            kind,
        }
    }

    #[test]
    fn dataset_paths_map_to_tables() {
        let duck = ds(DataSourceKind::DuckDb {
            database: "a.duckdb".into(),
        });
        let parts = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            duck.table_ref(&parts("main/orders")).unwrap().parts,
            ["main", "orders"]
        );
        assert!(duck.table_ref(&parts("orders")).is_err());
        let files = ds(DataSourceKind::Files {
            root: "data".into(),
        });
        assert_eq!(
            files.table_ref(&parts("sub/orders.csv")).unwrap().parts,
            ["sub/orders"]
        );
        assert!(files.table_ref(&parts("orders.xlsx")).is_err());
        assert_eq!(
            files.file_path(&parts("sub/orders.csv")).unwrap(),
            PathBuf::from("data/sub/orders.csv")
        );
    }
}

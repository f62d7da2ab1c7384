//! CSV, Parquet and JSON files under a root folder, read in place through embedded
//! DuckDB: each file a contract names is a view.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use super::{config_path, settings_of, Discovered, Engine, Files, Settings, StoreEngine};
use super::{DataSourceConfig, DatasetPathError, Place};
use crate::decode::Reader;
use crate::exec::duckdb::DuckDbExecutor;
use crate::exec::{ExecError, Executor, RunControl};
use crate::sql::ast::TableRef;
use crate::sql::dialect::Dialect;
use crate::sql::duckdb::DuckDbDialect;
use crate::yaml::Node;

pub struct FilesEngine;
pub static FILES: FilesEngine = FilesEngine;

use crate::exec::duckdb::{stem_of, FILE_EXTENSIONS};

#[derive(Debug, Clone)]
pub struct FilesSettings {
    pub root: PathBuf,
    /// DuckDB's memory_limit for verification sessions
    pub memory_limit: String,
}

impl Settings for FilesSettings {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[async_trait]
impl Engine for FilesEngine {
    fn name(&self) -> &'static str {
        "files"
    }

    fn dialect(&self) -> &'static dyn Dialect {
        &DuckDbDialect
    }

    fn read_connection(
        &self,
        r: &mut Reader,
        conn: &Node,
        base: &Path,
    ) -> Option<Arc<dyn Settings>> {
        if !r.keys(conn, &["root", "memory_limit"], "a files connection") {
            return None;
        }
        let root = r.required(conn, "root", "a files connection")?;
        let root = r.string(root, "root")?;
        let memory_limit = super::memory_limit(r, conn)?;
        Some(Arc::new(FilesSettings {
            root: config_path(base, &root),
            memory_limit,
        }))
    }

    /// A table is a file under the root: its name, with the server's `format` as its
    /// extension when the name has none.
    fn odcs_path(&self, _ds: &DataSourceConfig, place: &Place, table: &str) -> Vec<String> {
        let file = match (&place.format, stem_of(table)) {
            (Some(format), None) => format!("{table}.{format}"),
            _ => table.to_string(),
        };
        file.split('/').map(str::to_string).collect()
    }

    fn table_ref(
        &self,
        _ds: &DataSourceConfig,
        parts: &[String],
    ) -> Result<TableRef, DatasetPathError> {
        // a dataset names a file under the root, never one beside or above it
        if let Some(bad) = parts
            .iter()
            .find(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\\'))
        {
            return Err(DatasetPathError::FilePart { part: bad.clone() });
        }
        if parts.first().is_some_and(|p| p.contains(':')) {
            return Err(DatasetPathError::NotRelative);
        }
        let rel = parts.join("/");
        // the view is named by the whole path: events.csv and events.parquet are two
        // datasets, always (a query may also name a file by its stem, see stem_of)
        match stem_of(&rel) {
            Some(_) => Ok(TableRef::new(vec![rel])),
            None => Err(DatasetPathError::FileExtension {
                extensions: FILE_EXTENSIONS,
            }),
        }
    }

    fn file_path(&self, settings: &dyn Settings, parts: &[String]) -> Option<PathBuf> {
        let root = &settings_of::<FilesSettings>(settings, self.name()).root;
        Some(parts.iter().fold(root.clone(), |p, part| p.join(part)))
    }

    async fn open(
        &self,
        ds: &DataSourceConfig,
        _connections: usize,
        files: Files,
    ) -> Result<Arc<dyn Executor>, ExecError> {
        let name = ds.name.clone();
        let settings = settings_of::<FilesSettings>(ds.settings.as_ref(), self.name()).clone();
        super::duckdb::open_blocking(move || {
            DuckDbExecutor::open_files(&name, &settings.root, &files, &settings.memory_limit)
        })
        .await
    }

    /// Files are read, never written: failed rows need a database.
    fn store(&self) -> Option<&dyn StoreEngine> {
        None
    }

    /// The data files under the root, in path order. Symbolic links are not followed:
    /// a scan stays inside the root.
    async fn discover(
        &self,
        ds: &DataSourceConfig,
        control: &RunControl,
    ) -> Result<Vec<Discovered>, ExecError> {
        control.check()?;
        let root = settings_of::<FilesSettings>(ds.settings.as_ref(), self.name())
            .root
            .clone();
        let name = ds.name.clone();
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            walk(&root, &root, &mut found).map_err(|e| ExecError::Connect {
                data_source: name,
                message: format!("cannot list '{}': {e}", root.display()),
            })?;
            found.sort();
            Ok(found
                .into_iter()
                .map(|path| Discovered { path, view: false })
                .collect())
        })
        .await
        .map_err(|e| ExecError::Query(format!("the file listing failed: {e}")))?
    }
}

/// Files with a data extension under `dir`, as path parts relative to `root`.
fn walk(root: &Path, dir: &Path, found: &mut Vec<Vec<String>>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            walk(root, &path, found)?;
        } else if kind.is_file() {
            let lower = path.to_string_lossy().to_ascii_lowercase();
            if FILE_EXTENSIONS.iter().any(|ext| lower.ends_with(ext)) {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                found.push(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect(),
                );
            }
        }
    }
    Ok(())
}

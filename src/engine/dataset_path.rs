//! Why a dataset path does not name a table of its data source. The contract reader puts
//! the text at the dataset's line and column; a scan keeps it as the dataset's error.

use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error, Diagnostic)]
pub enum DatasetPathError {
    /// a path with the wrong number of parts; `form` is how the engine's paths read
    #[error("a {engine} dataset is written {form}")]
    Written { engine: &'static str, form: String },
    #[error(
        "a files dataset is a relative path under the data source's root, without '{part}' as a part"
    )]
    FilePart { part: String },
    #[error("a files dataset is a relative path under the data source's root")]
    NotRelative,
    #[error(
        "a files dataset is a path under the data source's root ending in one of {}",
        extensions.join(", ")
    )]
    FileExtension { extensions: &'static [&'static str] },
    #[error(
        "the path names database '{database}', but data source '{data_source}' connects to database '{connected}' (a Postgres connection reads one database; add a data source for '{database}')"
    )]
    OtherDatabase {
        database: String,
        data_source: String,
        connected: String,
    },
    #[error(
        "the path names database '{database}', but data source '{data_source}' names no database"
    )]
    NoDatabase {
        database: String,
        data_source: String,
    },
    #[error("'{format}' is not a file format assay reads: use one of {}", formats.join(", "))]
    FileFormat {
        format: String,
        formats: &'static [&'static str],
    },
    #[error(
        "{refusal}; list the folder under file_paths in the connection of data source '{data_source}'"
    )]
    FileNotAllowed {
        refusal: FileRefusal,
        data_source: String,
    },
    /// a path that is fine for the engine but not where the caller looks (a channel's
    /// records live in one catalog)
    #[error("its catalog is {catalog}; the channel's records are in the catalog {expected}")]
    OtherCatalog {
        catalog: String,
        expected: &'static str,
    },
}

/// Why a file a dataset names is outside what its data source may read.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FileRefusal {
    #[error("the file path is empty")]
    Empty,
    #[error("the file path holds '{}', which assay does not accept in a file dataset", .0.escape_default())]
    Character(char),
    #[error("the file path holds a '..' segment")]
    ParentSegment,
    #[error("this data source allows no file datasets")]
    NoFolders,
    #[error("'{path}' is not under the data source's file_paths ({})", allowed.join(", "))]
    Outside { path: String, allowed: Vec<String> },
}

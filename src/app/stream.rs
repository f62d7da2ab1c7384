//! `assay verify CONTRACT --channel NAME`: one result set of a source channel, received
//! into an in-memory DuckDB table that stands for the contract's dataset; the contract
//! is then verified on it exactly as on a table.

use std::sync::Arc;
use std::time::Duration;

use super::AppError;
use crate::channel::client::Client;
use crate::channel::format::Format;
use crate::channel::protocol::Kind;
use crate::channel::registry::{self, Entry};
use crate::channel::sink::column_type;
use crate::config::Config;
use crate::contract::Contract;
use crate::diag::Diag;
use crate::engine::{self, DataSourceConfig, DuckDbSettings, Preload};
use crate::error::RunError;
use crate::sql::ast::{CreateTable, TableRef};
use crate::sql::dialect::{print_create_table, Dialect};
use crate::sql::duckdb::DuckDbDialect;

/// The running source channels named `name` visible in `environment`, and the one whose
/// format has every column the contract names.
fn find(
    config: &Config,
    name: &str,
    environment: &str,
    contract: &Contract,
) -> Result<Entry, AppError> {
    let dir = registry::dir(&config.project_dir);
    let entries = registry::find(&dir, name, Kind::Source, environment);
    if entries.is_empty() {
        return Err(AppError::Runtime(RunError::Channel(format!(
            "no source channel '{name}' runs in environment {environment} (registry {}); start it with assay channel run",
            dir.display()
        ))));
    }
    let missing = |f: &Format| -> Vec<String> {
        contract
            .columns
            .iter()
            .filter(|c| {
                f.fields
                    .iter()
                    .all(|x| !x.name.eq_ignore_ascii_case(&c.name))
            })
            .map(|c| c.name.clone())
            .collect()
    };
    let fitting: Vec<&Entry> = entries
        .iter()
        .filter(|e| missing(&e.format).is_empty())
        .collect();
    match fitting.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let why: Vec<String> = entries
                .iter()
                .map(|e| {
                    format!(
                        "format {} lacks {}",
                        e.format.name,
                        missing(&e.format).join(", ")
                    )
                })
                .collect();
            Err(Diag::plain(format!(
                "channel '{name}' sends no format with the contract's columns: {}",
                why.join("; ")
            ))
            .with_help("the contract's columns must be fields of the channel's format")
            .into())
        }
        several => {
            let names: Vec<&str> = several.iter().map(|e| e.format.name.as_str()).collect();
            Err(Diag::plain(format!(
                "channel '{name}' runs with several formats that fit the contract: {}",
                names.join(", ")
            ))
            .with_help("name the columns in the contract, so one format fits")
            .into())
        }
    }
}

/// What makes the contract's table from the records: they are checked against the format
/// and written to a private temporary file, which DuckDB's JSON reader loads (far faster
/// than SQL literals) and which is removed once loaded.
fn preload(
    table: &TableRef,
    format: &Format,
    records: &[serde_json::Value],
) -> Result<Preload, String> {
    let d = DuckDbDialect;
    let types = engine::by_name("duckdb")
        .and_then(|e| e.store())
        .expect("duckdb holds stores")
        .types();
    let mut out = Vec::new();
    if table.parts.len() >= 2 {
        out.push(format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            d.quote_ident(&table.parts[table.parts.len() - 2])
        ));
    }
    out.push(print_create_table(
        &d,
        &CreateTable {
            table: table.clone(),
            columns: format
                .fields
                .iter()
                .map(|f| (f.name.clone(), column_type(&types, f)))
                .collect(),
        },
    ));
    let file = std::env::temp_dir().join(format!(
        "assay-channel-{}.jsonl",
        uuid::Uuid::new_v4().simple()
    ));
    let mut text = String::new();
    for (i, r) in records.iter().enumerate() {
        let checked = format
            .check(r)
            .map_err(|e| format!("record {}: {e}", i + 1))?;
        text.push_str(&serde_json::Value::Object(checked).to_string());
        text.push('\n');
    }
    write_private(&file, &text).map_err(|e| format!("{}: {e}", file.display()))?;
    let columns: Vec<String> = format
        .fields
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                d.string_literal(&f.name),
                d.string_literal(&column_type(&types, f))
            )
        })
        .collect();
    out.push(format!(
        "INSERT INTO {} SELECT * FROM read_json({}, format = 'newline_delimited', columns = {{{}}})",
        d.table(table),
        d.string_literal(&file.to_string_lossy()),
        columns.join(", ")
    ));
    Ok(Preload {
        statements: out,
        then_remove: vec![file],
    })
}

/// A file only this user can read: the records are the user's data.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// Receive one result set and make the contract's data source an in-memory DuckDB
/// holding it. `timeout` bounds the wait (exit 3 when it passes).
pub(super) fn substitute(
    config: &mut Config,
    contract: &Contract,
    name: &str,
    environment: &str,
    timeout: Option<Duration>,
) -> Result<(), AppError> {
    // this project's own approvals, whatever the channel's entry says of itself
    if let Some(refused) = config.unapproved(environment, name, "this project may not use it there")
    {
        return Err(refused.into());
    }
    let ds_name = contract.dataset.data_source.clone();
    let probe = DataSourceConfig {
        name: ds_name.clone(),
        engine: engine::by_name("duckdb").expect("duckdb is an engine"),
        settings: Arc::new(DuckDbSettings {
            database: ":memory:".into(),
            owned_by_assay: false,
            preload: None,
            memory_limit: crate::exec::duckdb::DEFAULT_MEMORY_LIMIT.to_string(),
        }),
    };
    // checked before any wait: a contract that cannot take the records is refused now
    let table = probe.table_ref(&contract.dataset.path).map_err(|e| {
        Diag::plain(format!(
            "dataset {} cannot name a table for the channel's records: {e}",
            contract.dataset.text
        ))
        .with_help(
            "a contract verified on a channel names its dataset NAME/schema/table, like \
             stream/main/orders (NAME need not be a data source of assay.yml)",
        )
    })?;
    let entry = find(config, name, environment, contract)?;
    let Some(who) = config.channels.get(name).cloned() else {
        return Err(
            Diag::plain(format!("no credentials for channel '{name}' in assay.yml"))
                .with_help(format!(
                "channels:\n  {name}: {{user: pipeline, password: \"${{env.CHANNEL_PASSWORD}}\"}}"
            ))
                .into(),
        );
    };
    let runtime = super::runtime()?;
    let received = runtime.block_on(async {
        let receive = async {
            let mut client =
                Client::connect_registered(&entry, &who, Duration::from_secs(30)).await?;
            if !client.hello.3 {
                return Err(format!(
                    "channel '{name}' does not frame result sets: there is no end to wait for"
                ));
            }
            let got = client.result_set(who.max_records, who.max_bytes).await;
            client.logout().await;
            got
        };
        let stop = super::push::stop_signal();
        tokio::select! {
            got = receive => got.map_err(|e| RunError::Channel(crate::secrets::mask(&e))),
            reason = stop => Err(RunError::Cancelled { reason: format!("{reason} while waiting for channel '{name}'") }),
            _ = async {
                match timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => std::future::pending().await,
                }
            } => Err(RunError::Cancelled {
                reason: format!(
                    "--timeout passed before channel '{name}' sent a whole result set"
                ),
            }),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    let (id, records) = received.map_err(AppError::Runtime)?;
    tracing::info!(
        "channel {name}: result set {id} of {} records received",
        records.len()
    );
    let preload = preload(&table, &entry.format, &records)
        .map_err(|e| AppError::Runtime(RunError::Channel(format!("channel '{name}': {e}"))))?;
    let ds = DataSourceConfig {
        settings: Arc::new(DuckDbSettings {
            database: ":memory:".into(),
            owned_by_assay: false,
            preload: Some(Arc::new(preload)),
            memory_limit: crate::exec::duckdb::DEFAULT_MEMORY_LIMIT.to_string(),
        }),
        ..probe
    };
    config.data_sources.retain(|d| d.name != ds_name);
    config.data_sources.push(ds);
    Ok(())
}

//! `assay verify CONTRACT --channel NAME`: one result set of a source channel, received
//! as Arrow record batches and appended as they arrive to a table, in a private DuckDB
//! file, that stands for the contract's dataset; the contract is then verified on it
//! exactly as on a table. Neither the set nor its frames are held in memory whole.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use duckdb::arrow::record_batch::RecordBatch;

use super::AppError;
use crate::channel::client::Client;
use crate::channel::format::Format;
use crate::channel::protocol::{Encoding, Kind};
use crate::channel::registry::{self, Entry};
use crate::channel::sink::column_type;
use crate::config::Config;
use crate::contract::Contract;
use crate::diag::Diag;
use crate::engine::{self, DataSourceConfig, DuckDbSettings};
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

/// The memory DuckDB may use while a result set is loaded and verified: the set is held
/// in a database file, not in memory, so a larger set costs disk, not memory (DuckDB
/// spills what does not fit).
const STREAM_MEMORY_LIMIT: &str = "128MB";

/// A received result set: a private folder holding the DuckDB file the contract is
/// verified on, removed when the run is over.
pub(super) struct Received {
    dir: PathBuf,
}

impl Drop for Received {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A folder only this user can enter: the records are the user's data.
fn private_dir() -> Result<Received, String> {
    let dir = std::env::temp_dir().join(format!("assay-channel-{}", uuid::Uuid::new_v4().simple()));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(Received { dir })
}

/// The loader: a thread that makes the contract's table in `database` and appends each
/// batch it is given, as it comes; the records it appended.
fn loader(
    database: PathBuf,
    table: TableRef,
    format: Format,
    batches: std::sync::mpsc::Receiver<RecordBatch>,
) -> std::thread::JoinHandle<Result<u64, String>> {
    std::thread::spawn(move || {
        let conn =
            crate::exec::duckdb::DuckDbExecutor::create_for_loading(&database, STREAM_MEMORY_LIMIT)
                .map_err(|e| e.to_string())?;
        let d = DuckDbDialect;
        let types = engine::by_name("duckdb")
            .and_then(|e| e.store())
            .expect("duckdb holds stores")
            .types();
        let (schema, name) = match table.parts.as_slice() {
            [.., schema, name] => (schema.clone(), name.clone()),
            _ => unreachable!("a DuckDB table has a schema"),
        };
        conn.execute_batch(&format!(
            "CREATE SCHEMA IF NOT EXISTS {}; {}",
            d.quote_ident(&schema),
            print_create_table(
                &d,
                &CreateTable {
                    table: TableRef::new(vec![schema.clone(), name.clone()]),
                    columns: format
                        .fields
                        .iter()
                        .map(|f| (f.name.clone(), column_type(&types, f)))
                        .collect(),
                },
            )
        ))
        .map_err(|e| e.to_string())?;
        let mut appender = conn
            .appender_to_db(&name, &schema)
            .map_err(|e| e.to_string())?;
        let mut appended = 0u64;
        // a failure ends the loop: the sender learns it when its next send fails
        for batch in batches {
            appended += batch.num_rows() as u64;
            appender
                .append_record_batch(batch)
                .map_err(|e| format!("loading the records: {e}"))?;
        }
        appender
            .flush()
            .map_err(|e| format!("loading the records: {e}"))?;
        drop(appender);
        conn.execute_batch("CHECKPOINT")
            .map_err(|e| e.to_string())?;
        Ok(appended)
    })
}

/// Receive one result set and make the contract's data source a DuckDB file holding it,
/// each batch appended as it arrives. `timeout` bounds the wait (exit 3 when it passes).
/// The file lives as long as what is returned.
pub(super) fn substitute(
    config: &mut Config,
    contract: &Contract,
    name: &str,
    environment: &str,
    timeout: Option<Duration>,
) -> Result<Received, AppError> {
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
            memory_limit: STREAM_MEMORY_LIMIT.to_string(),
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
    let received = private_dir().map_err(|e| AppError::Runtime(RunError::Channel(e)))?;
    // a three-part dataset names the database: the file is named so
    let file = match table.parts.as_slice() {
        [catalog, _, _]
            if catalog
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            format!("{catalog}.duckdb")
        }
        [_, _, _] => {
            return Err(Diag::plain(format!(
                "dataset {}: a channel's records go into a database named by letters, digits and _",
                contract.dataset.text
            ))
            .with_help("name the dataset NAME/schema/table, like stream/main/orders")
            .into())
        }
        _ => "stream.duckdb".to_string(),
    };
    let database = received.dir.join(file);
    let (send, batches) = std::sync::mpsc::sync_channel::<RecordBatch>(8);
    let loading = loader(
        database.clone(),
        table.clone(),
        entry.format.clone(),
        batches,
    );
    let runtime = super::runtime()?;
    let got = runtime.block_on(async {
        let receive = async {
            let mut client = Client::connect_registered(
                &entry,
                &who,
                Duration::from_secs(30),
                Encoding::Arrow,
            )
            .await?;
            if !client.hello.result_sets {
                return Err(format!(
                    "channel '{name}' does not frame result sets: there is no end to wait for"
                ));
            }
            let mut take = |batch: RecordBatch| {
                send.send(batch)
                    .map_err(|_| "the records could not be loaded".to_string())
            };
            let got = client
                .receive_set(who.max_records, who.max_bytes, &mut take)
                .await;
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
    drop(send);
    let loaded = loading
        .join()
        .unwrap_or_else(|_| Err("the loading thread failed".into()));
    let (id, records) = match (got, loaded) {
        (Ok((id, records)), Ok(n)) if n == records => (id, records),
        (Ok((id, records)), Ok(n)) => {
            return Err(AppError::Runtime(RunError::Channel(format!(
                "channel '{name}': result set {id} has {records} records, and {n} were loaded"
            ))))
        }
        // the loader's own failure says more than the receiver's "could not be loaded"
        (Ok(_) | Err(RunError::Channel(_)), Err(e)) => {
            return Err(AppError::Runtime(RunError::Channel(format!(
                "channel '{name}': {}",
                crate::secrets::mask(&e)
            ))))
        }
        (Err(e), _) => return Err(AppError::Runtime(e)),
    };
    tracing::info!("channel {name}: result set {id} of {records} records received");
    let ds = DataSourceConfig {
        settings: Arc::new(DuckDbSettings {
            database: database.to_string_lossy().into_owned(),
            owned_by_assay: false,
            memory_limit: STREAM_MEMORY_LIMIT.to_string(),
        }),
        ..probe
    };
    config.data_sources.retain(|d| d.name != ds_name);
    config.data_sources.push(ds);
    Ok(received)
}

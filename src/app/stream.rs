//! `assay verify CONTRACT --channel NAME`: one result set of a source channel, received
//! as Arrow record batches and inserted as they arrive into a table of an in-memory
//! DuckDB database (bounded memory, spilling to a private folder) that stands for the
//! contract's dataset; the contract is then verified on it exactly as on a table.
//! Neither the set nor its frames are held in memory whole.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use duckdb::arrow::record_batch::RecordBatch;

use super::AppError;
use crate::channel::client::{Client, Credentials};
use crate::channel::error::ChannelError;
use crate::channel::format::Format;
use crate::channel::protocol::{Encoding, Kind};
use crate::channel::registry::{self, Entry};
use crate::channel::sink::column_type;
use crate::config::Config;
use crate::contract::Contract;
use crate::diag::Diag;
use crate::engine::{self, DataSourceConfig, DatasetPathError, DuckDbSettings};
use crate::error::RunError;
use crate::exec::duckdb_ingest::Loaded;
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
        // a typo of a channel that does run, or of one assay.yml has credentials for
        let running: Vec<String> = registry::list(&dir)
            .into_iter()
            .filter(|e| e.kind == Kind::Source && e.visible_in(environment))
            .map(|e| e.name)
            .chain(config.channels.keys().cloned())
            .filter(|c| c != name)
            .collect();
        let closest = crate::diag::did_you_mean(name, running.iter().map(String::as_str))
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        return Err(AppError::Runtime(RunError::channel(
            ChannelError::NotRunning {
                kind: "source",
                channel: name.to_string(),
                environment: environment.to_string(),
                detail: format!(
                    " (registry {}){closest}; start it with assay channel run",
                    dir.display()
                ),
            },
        )));
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

/// The memory DuckDB may use while a result set is loaded and verified: what does not
/// fit is spilled to a private folder, so a larger set costs disk, not memory.
const STREAM_MEMORY_LIMIT: &str = "64MB";

/// A received result set: the DuckDB database the contract is verified on, and the
/// private folder it spills to, both gone when the run is over.
pub(super) struct Received {
    loaded: Option<Arc<Loaded>>,
    dir: PathBuf,
}

impl Drop for Received {
    fn drop(&mut self) {
        // the database first: it may still have files in the folder
        self.loaded.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Why records streamed from a channel did not become the contract's table.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("channel '{channel}' does not frame result sets: there is no end to wait for")]
    NoResultSets { channel: String },
    #[error("loading the records: {0}")]
    Load(crate::exec::ExecError),
    #[error("the loading thread failed")]
    LoaderStopped,
    #[error("result set {id} has {records} records, and {loaded} were loaded")]
    Short {
        id: String,
        records: u64,
        loaded: u64,
    },
    #[error("channel '{channel}': {error}")]
    Of {
        channel: String,
        error: Box<StreamError>,
    },
}

/// A folder only this user can enter: the records are the user's data.
fn private_dir() -> Result<Received, RunError> {
    let dir = std::env::temp_dir().join(format!("assay-channel-{}", uuid::Uuid::new_v4().simple()));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .map_err(|e| RunError::io("create", &dir, e))?;
    Ok(Received { loaded: None, dir })
}

/// Streams of batches inserted at once, one thread each: DuckDB converts a stream on one
/// thread, and the machine has more.
const LOADING_STREAMS: usize = 2;

/// Rows DuckDB is handed at a time: a channel's frames are small (`batch_size`), and each
/// batch crossing into DuckDB has a cost of its own.
const COALESCED_ROWS: usize = 64 * 1024;

/// Batches joined into batches of at least `rows` rows (the last one may be smaller).
struct Coalesced<I> {
    batches: I,
    schema: duckdb::arrow::datatypes::SchemaRef,
    rows: usize,
}

impl<I: Iterator<Item = RecordBatch>> Iterator for Coalesced<I> {
    type Item = Result<RecordBatch, duckdb::arrow::error::ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut held = Vec::new();
        let mut rows = 0;
        for b in self.batches.by_ref() {
            rows += b.num_rows();
            held.push(b);
            if rows >= self.rows {
                break;
            }
        }
        match held.len() {
            0 => None,
            1 => held.pop().map(Ok),
            _ => Some(duckdb::arrow::compute::concat_batches(&self.schema, &held)),
        }
    }
}

/// The loader: a thread that makes the contract's table in a new in-memory database
/// (spilling to `spill`) and inserts the batches it is given as they come (DuckDB's Arrow
/// scan pulls them); the database and the records it inserted.
fn loader(
    spill: PathBuf,
    table: TableRef,
    format: Format,
    streams: Vec<std::sync::mpsc::Receiver<RecordBatch>>,
) -> std::thread::JoinHandle<Result<(Loaded, u64), StreamError>> {
    std::thread::spawn(move || {
        let d = DuckDbDialect;
        let types = engine::by_name("duckdb")
            .and_then(|e| e.store())
            .expect("duckdb holds stores")
            .types();
        let schema = &table.parts[table.parts.len() - 2];
        let setup = format!(
            "CREATE SCHEMA IF NOT EXISTS {}; {}",
            d.quote_ident(schema),
            print_create_table(
                &d,
                &CreateTable {
                    table: table.clone(),
                    columns: format
                        .fields
                        .iter()
                        .map(|f| (f.name.clone(), column_type(&types, f)))
                        .collect(),
                },
            )
        );
        let spill = spill.to_string_lossy().into_owned();
        let arrow_schema = Arc::new(crate::channel::columnar::schema(&format));
        let readers = streams
            .into_iter()
            .map(|batches| {
                Box::new(duckdb::arrow::record_batch::RecordBatchIterator::new(
                    Coalesced {
                        batches: batches.into_iter(),
                        schema: arrow_schema.clone(),
                        rows: COALESCED_ROWS,
                    },
                    arrow_schema.clone(),
                )) as Box<dyn duckdb::arrow::record_batch::RecordBatchReader + Send>
            })
            .collect();
        let mut settings = vec![
            ("memory_limit", STREAM_MEMORY_LIMIT),
            ("temp_directory", spill.as_str()),
        ];
        settings.extend_from_slice(crate::exec::duckdb::EXTENSIONS_OFF);
        crate::exec::duckdb_ingest::ingest_arrow(&settings, &setup, &d.table(&table), readers)
            .map_err(StreamError::Load)
    })
}

/// The table the channel's records become: the contract's dataset, in DuckDB's in-memory
/// database (named memory).
fn records_table(probe: &DataSourceConfig, contract: &Contract) -> Result<TableRef, Diag> {
    probe
        .table_ref(&contract.dataset.path)
        .and_then(|t| match t.parts.as_slice() {
            [catalog, _, _] if catalog != "memory" => Err(DatasetPathError::OtherCatalog {
                catalog: catalog.clone(),
                expected: "memory",
            }),
            _ => Ok(t),
        })
        .map_err(|e| {
            Diag::plain(format!(
                "dataset {} cannot name a table for the channel's records: {e}",
                contract.dataset.text
            ))
            .with_help(
                "a contract verified on a channel names its dataset NAME/schema/table, like \
             stream/main/orders (NAME need not be a data source of assay.yml)",
            )
        })
}

/// The channel's registry entry and the credentials assay.yml gives for it; a password
/// that cannot be read is an input error before anything waits.
fn credentials(
    config: &Config,
    name: &str,
    environment: &str,
    contract: &Contract,
) -> Result<(Entry, Credentials), AppError> {
    if let Some(Err(e)) = config.channels.get(name).map(|who| who.password()) {
        return Err(Diag::plain(e.to_string())
            .with_help("export the variable the password names before verifying on the channel")
            .into());
    }
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
    Ok((entry, who))
}

/// Wait for one whole result set of the channel, its batches sent round the loading
/// streams as they arrive; its id and record count. Ctrl-C and `timeout` stop the wait.
fn receive(
    entry: &Entry,
    who: &Credentials,
    name: &str,
    sends: &[std::sync::mpsc::SyncSender<RecordBatch>],
    timeout: Option<Duration>,
) -> Result<Result<(String, u64), RunError>, AppError> {
    let runtime = super::runtime()?;
    let got = runtime.block_on(async {
        let receive = async {
            let mut client = Client::connect_registered(
                entry,
                who,
                Duration::from_secs(30),
                Encoding::Arrow,
            )
            .await?;
            if !client.hello.result_sets {
                return Err(StreamError::NoResultSets {
                    channel: name.to_string(),
                });
            }
            let mut next = 0;
            let mut take = |batch: RecordBatch| {
                next = (next + 1) % sends.len();
                sends[next]
                    .send(batch)
                    .map_err(|_| ChannelError::NotLoaded)
            };
            let got = client
                .receive_set(who.max_records, who.max_bytes, &mut take)
                .await;
            client.logout().await;
            Ok(got?)
        };
        let stop = super::push::stop_signal();
        tokio::select! {
            got = receive => got.map_err(RunError::channel),
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
    Ok(got)
}

/// Receive one result set and make the contract's data source an in-memory DuckDB
/// database holding it, each batch inserted as it arrives. `timeout` bounds the wait
/// (exit 3 when it passes). The database lives as long as what is returned.
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
            loaded: None,
        }),
    };
    // checked before any wait: a contract that cannot take the records is refused now
    let table = records_table(&probe, contract)?;
    let (entry, who) = credentials(config, name, environment, contract)?;
    let mut received = private_dir().map_err(AppError::Runtime)?;
    // batches go round the streams, each inserted by a thread of its own
    let (sends, streams): (Vec<_>, Vec<_>) = (0..LOADING_STREAMS)
        .map(|_| std::sync::mpsc::sync_channel::<RecordBatch>(8))
        .unzip();
    let loading = loader(
        received.dir.join("spill"),
        table.clone(),
        entry.format.clone(),
        streams,
    );
    let got = receive(&entry, &who, name, &sends, timeout)?;
    drop(sends);
    let loaded = loading
        .join()
        .unwrap_or_else(|_| Err(StreamError::LoaderStopped));
    let in_channel = |error: StreamError| {
        AppError::Runtime(RunError::channel(StreamError::Of {
            channel: name.to_string(),
            error: Box::new(error),
        }))
    };
    let (id, records) = match (got, loaded) {
        (Ok((id, records)), Ok((loaded, n))) if n == records => {
            received.loaded = Some(Arc::new(loaded));
            (id, records)
        }
        (Ok((id, records)), Ok((_, n))) => {
            return Err(in_channel(StreamError::Short {
                id,
                records,
                loaded: n,
            }))
        }
        // the loader's own failure says more than the receiver's "could not be loaded"
        (Ok(_) | Err(RunError::Channel(_)), Err(e)) => return Err(in_channel(e)),
        (Err(e), _) => return Err(AppError::Runtime(e)),
    };
    tracing::info!("channel {name}: result set {id} of {records} records received");
    let ds = DataSourceConfig {
        settings: Arc::new(DuckDbSettings {
            database: ":memory:".into(),
            owned_by_assay: false,
            memory_limit: STREAM_MEMORY_LIMIT.to_string(),
            loaded: received.loaded.clone(),
        }),
        ..probe
    };
    config.data_sources.retain(|d| d.name != ds_name);
    config.data_sources.push(ds);
    Ok(received)
}

//! The diagnostics store (SPEC section 6): failing rows go to a table in a data source
//! of the user's (by default the embedded DuckDB file `.assay/diagnostics.duckdb`), one
//! row per failing row: scan_id, data source, dataset, check id, capture time, its
//! position and the row as JSON. Tables are created when missing. With the history store
//! (`scan::history`) this is where assay writes, and never to the data source being
//! verified (unless it is named here).

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::channel::error::ChannelError;
use crate::config::Config;
use crate::error::RunError;
use crate::results::{DatasetResult, FailedRowsInfo};
use crate::sql::ast::{Param, Statement};
use crate::store::StoreLocation;

mod read;
pub use read::{Group, StoredRow};

pub const TABLE: &str = "assay_failed_rows";
/// the table's columns, in order
const COLUMNS: [&str; 7] = [
    "scan_id",
    "data_source",
    "dataset",
    "check_id",
    "captured_at",
    "row_index",
    "row_data",
];

pub struct FailedRowsStore {
    location: StoreLocation,
    /// "duckdb .assay/diagnostics.duckdb" or "postgres data source 'x'"
    pub label: String,
    /// failing rows go to this sink channel instead (`diagnostics: {channel: NAME}`)
    channel: Option<SinkChannel>,
}

/// A sink channel for failing rows: found in the registry when rows are sent.
struct SinkChannel {
    name: String,
    who: Option<crate::config::channels::Credentials>,
    registry: std::path::PathBuf,
    environment: String,
    /// the environments this project approves the channel in
    approved_in: Vec<String>,
}

impl FailedRowsStore {
    /// The configured store, or the default DuckDB file in the project folder.
    pub fn from_config(config: &Config) -> FailedRowsStore {
        let d = &config.diagnostics;
        let location = StoreLocation::resolve(
            config,
            d.data_source.as_deref(),
            d.schema.clone(),
            "diagnostics.duckdb",
        );
        let channel = d.channel.as_ref().map(|name| SinkChannel {
            name: name.clone(),
            who: config.channels.get(name).cloned(),
            registry: crate::channel::registry::dir(&config.project_dir),
            environment: crate::channel::spec::DEFAULT_ENVIRONMENT.to_string(),
            approved_in: config
                .environments
                .keys()
                .filter(|env| config.approves(env, name))
                .cloned()
                .collect(),
        });
        FailedRowsStore {
            label: match &channel {
                Some(c) => format!("channel {}", c.name),
                None => location.label.clone(),
            },
            location,
            channel,
        }
    }

    /// Pipelines of this environment see the sink channel (verify --environment).
    pub fn in_environment(mut self, environment: &str) -> FailedRowsStore {
        if let Some(c) = self.channel.as_mut() {
            c.environment = environment.to_string();
        }
        self
    }

    /// The sink channel named for failed rows that has no credentials in assay.yml.
    pub fn channel_without_credentials(&self) -> Option<&str> {
        self.channel
            .as_ref()
            .filter(|c| c.who.is_none())
            .map(|c| c.name.as_str())
    }

    /// The table, qualified and quoted for the store's engine (a channel's format).
    pub fn table(&self) -> String {
        match &self.channel {
            Some(c) => format!("records of channel {}", c.name),
            None => self.location.table(TABLE),
        }
    }

    /// Create what is missing and insert every captured row, in one transaction.
    fn statements(
        &self,
        scan_id: &str,
        dataset: &DatasetResult,
        at: DateTime<Utc>,
    ) -> Vec<Statement> {
        let t = self.location.types();
        let types = [
            t.text,
            t.text,
            t.long_text,
            t.long_text,
            t.timestamp,
            "INTEGER",
            t.json,
        ];
        let mut out = self
            .location
            .create_statements(&[(TABLE, COLUMNS.iter().copied().zip(types).collect())]);
        let text = Param::text;
        let at = Param::time(at);
        let mut rows = Vec::new();
        for captured in &dataset.captured {
            for (i, row) in captured.rows.iter().enumerate() {
                rows.push(vec![
                    text(scan_id),
                    text(&dataset.data_source),
                    text(&dataset.dataset),
                    text(&captured.check_id),
                    at.clone(),
                    Param::Int(i as i64 + 1),
                    text(&Json::to_string(row)),
                ]);
            }
        }
        out.extend(self.location.inserts(TABLE, &COLUMNS, rows));
        out
    }

    async fn execute(&self, statements: Vec<Statement>) -> Result<(), RunError> {
        self.location.execute(statements).await
    }
}

/// Write one dataset's captured rows as soon as its verification ends, say per check how
/// many went where, and let the rows go: a run holds the rows of the datasets still being
/// verified, never all of them. A store that cannot be written is a warning on stderr and
/// an error beside the count; the verdict does not change.
pub async fn store_captured(store: &FailedRowsStore, scan_id: &str, dataset: &mut DatasetResult) {
    if dataset.captured.is_empty() {
        return;
    }
    let captured: usize = dataset.captured.iter().map(|c| c.rows.len()).sum();
    let mut kept: Option<std::collections::HashMap<String, usize>> = None;
    let written = if captured == 0 {
        Ok(())
    } else if let Some(channel) = &store.channel {
        match to_channel(channel, scan_id, dataset, Utc::now()).await {
            Ok(k) => {
                kept = Some(k);
                Ok(())
            }
            Err(e) => Err(RunError::channel(e)),
        }
    } else {
        store
            .execute(store.statements(scan_id, dataset, Utc::now()))
            .await
    };
    // added after the dataset was masked for output: masked here
    let written = written.map_err(|e| crate::secrets::mask(&e.to_string()));
    if let Err(e) = &written {
        tracing::warn!(
            "{captured} failed rows of {} could not be written to the diagnostics store ({}): {e}",
            dataset.dataset,
            store.label
        );
    }
    let table = store.table();
    for captured in std::mem::take(&mut dataset.captured) {
        let Some(check) = dataset
            .checks
            .iter_mut()
            .find(|c| c.id == captured.check_id)
        else {
            continue;
        };
        let error = captured
            .error
            .map(|e| format!("the capture query failed: {e}"))
            .or_else(|| {
                written
                    .as_ref()
                    .err()
                    .map(|e| format!("the store could not be written: {e}"))
            });
        let stored = match &kept {
            Some(k) => k.get(&captured.check_id).copied().unwrap_or(0),
            None => captured.rows.len(),
        };
        let error = error.or_else(|| {
            (stored < captured.rows.len()).then(|| {
                format!(
                    "the sink channel discarded {} of {} rows (they do not fit its format)",
                    captured.rows.len() - stored,
                    captured.rows.len()
                )
            })
        });
        check.failed_rows = Some(FailedRowsInfo {
            captured: if error.is_some() && kept.is_none() {
                0
            } else {
                stored
            },
            store: store.label.clone(),
            table: table.clone(),
            error,
        });
    }
}

/// A failing row as a record of the sink's format: fields named `scan_id`,
/// `data_source`, `dataset`, `check_id`, `captured_at`, `row_index` and `row_data` (the
/// row as JSON text) say where it comes from; the others take the row's column of that
/// name (a field no column fills is null).
fn record_of(
    format: &crate::channel::format::Format,
    scan_id: &str,
    dataset: &DatasetResult,
    check_id: &str,
    at: &str,
    index: usize,
    row: &Json,
) -> Json {
    let mut out = serde_json::Map::new();
    for f in &format.fields {
        let v = match f.name.as_str() {
            "scan_id" => Json::from(scan_id),
            "data_source" => Json::from(dataset.data_source.as_str()),
            "dataset" => Json::from(dataset.dataset.as_str()),
            "check_id" => Json::from(check_id),
            "captured_at" => Json::from(at),
            "row_index" => Json::from(index as u64 + 1),
            "row_data" => Json::from(row.to_string()),
            name => row
                .as_object()
                .and_then(|o| {
                    o.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.clone())
                })
                .unwrap_or(Json::Null),
        };
        out.insert(f.name.clone(), v);
    }
    Json::Object(out)
}

/// Send a dataset's failing rows to the sink channel, one check at a time (a flush after
/// each says how many it kept); how many rows of each check were stored.
async fn to_channel(
    channel: &SinkChannel,
    scan_id: &str,
    dataset: &DatasetResult,
    at: DateTime<Utc>,
) -> Result<std::collections::HashMap<String, usize>, ChannelError> {
    use crate::channel::protocol::Kind;
    let Some(who) = &channel.who else {
        return Err(ChannelError::NoCredentials {
            channel: channel.name.clone(),
        });
    };
    // this project's own approval, whatever the channel's entry says of itself
    if !channel.approved_in.contains(&channel.environment) {
        return Err(ChannelError::Unapproved {
            channel: channel.name.clone(),
            environment: channel.environment.clone(),
        });
    }
    let entry = crate::channel::registry::find(
        &channel.registry,
        &channel.name,
        Kind::Sink,
        &channel.environment,
    )
    .into_iter()
    .next()
    .ok_or_else(|| ChannelError::NotRunning {
        kind: "sink",
        channel: channel.name.clone(),
        environment: channel.environment.clone(),
        detail: String::new(),
    })?;
    let mut client = crate::channel::client::Client::connect_registered(
        &entry,
        who,
        std::time::Duration::from_secs(30),
        crate::channel::protocol::Encoding::Json,
    )
    .await?;
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut kept = std::collections::HashMap::new();
    let mut result = Ok(());
    // a flush counts what the connection sent so far: each check's share is the growth
    let mut stored_before = 0u64;
    for captured in &dataset.captured {
        let records: Vec<Json> = captured
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                record_of(
                    &entry.format,
                    scan_id,
                    dataset,
                    &captured.check_id,
                    &at,
                    i,
                    row,
                )
            })
            .collect();
        match client.send(records, 500).await {
            Ok((stored_so_far, _, why)) => {
                let stored = stored_so_far - stored_before.min(stored_so_far);
                stored_before = stored_so_far;
                let discarded = captured.rows.len() as u64 - stored.min(captured.rows.len() as u64);
                if discarded > 0 {
                    tracing::warn!(
                        "the sink channel {} discarded {discarded} failing rows of {}: {}",
                        channel.name,
                        captured.check_id,
                        why.unwrap_or_default()
                    );
                }
                kept.insert(captured.check_id.clone(), stored as usize);
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    client.logout().await;
    result.map(|()| kept)
}
